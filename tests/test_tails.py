"""Tensorize with tails: splits that do not divide their axis (TailStrategy, tir.partition).

The full tiles are tensorized and the remainder runs the stage's scalar code; every kernel is
checked against numpy on the host, a few on the VexRiscv SoC (cycle counts vs the scalar
schedule). Operands are K-major with rows padded to whole words by a packing stage (a word load
must be 4-byte aligned), the reduction runs over the unpadded K, so a K tail is real work.
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
import schedules
import tir
from schedules import TailStrategy, hand
from schedules import workloads as W
from tir.errors import ScheduleError

EXT_DTYPE = {"dot4_i8": "int8", "dot4_u8": "uint8", "dot2_i16": "int16", "mac4_i8": "int8"}


def _rand(shape, dtype, rng):
    npd = tir.dtype.numpy_dtype(dtype)
    info = np.iinfo(npd)
    lo, hi = max(int(info.min), -3000), min(int(info.max), 3000)
    return rng.integers(lo, hi, shape, endpoint=True).astype(npd)


def _word_elems(dtype: str) -> int:
    return 32 // tir.dtype.bits(dtype)


def matmul_padded(M: int, N: int, K: int, dtype: str = "int8"):
    """C[M, N] = A[M, K] x B[K, N] through K-major packing stages with rows padded to whole words.

    Returns (A, B, Ap, Bt, C)."""
    e = _word_elems(dtype)
    Kp = -(-K // e) * e
    A = tir.placeholder((M, K), dtype, name="A")
    B = tir.placeholder((K, N), dtype, name="B")
    z = tir.const(0, dtype)
    Ap = tir.compute((M, Kp), lambda i, k: tir.if_then_else(k < K, A[i, tir.min(k, K - 1)], z), name="Ap")
    Bt = tir.compute((N, Kp), lambda j, k: tir.if_then_else(k < K, B[tir.min(k, K - 1), j], z), name="Bt")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(Ap[i, k].astype("int32") * Bt[j, k].astype("int32"), axis=k),
                    name="C")
    return A, B, Ap, Bt, C


def schedule_matmul(M, N, K, ext: str, style: str = "tile", tile=(4, 4), k_steps: int = 1,
                    tail: TailStrategy = TailStrategy.AUTO, strict: bool = False):
    """A tensorized matmul of any shape. ``style``: "tile" (cache_write register tile computed at the
    output tile; a stateless dot on the lane loop with the tile unrolled, mac4 on the whole tile) or
    "root" (the stage itself tiled, no cache). ``k_steps`` lane steps per reduction iteration."""
    intrin = isa_ext.get(ext)
    lanes = 2 if ext == "dot2_i16" else 4
    mac = ext == "mac4_i8"
    A, B, Ap, Bt, C = matmul_padded(M, N, K, EXT_DTYPE[ext])
    s = schedules.create_schedule(C)
    if style == "tile":
        CL = s.cache_write(C, "local")
        s[C].tile(C.op.axis[0], C.op.axis[1], *tile, tail=tail)
        s[CL].compute_at(s[C], s[C].leaf_iter_vars[1])
        st, (ic, jc) = s[CL], CL.op.axis
    else:
        st = s[C]
        io, jo, ic, jc = st.tile(C.op.axis[0], C.op.axis[1], *tile, tail=tail)
    kax = st.op.reduce_axis[0]
    if k_steps > 1:
        ko, kr = st.split(kax, lanes * k_steps, tail=tail)
        kio, ki = st.split(kr, lanes, tail=tail)
        st.reorder(ko, kio, ic, jc, ki)
        st.unroll(kio)
    else:
        ko, ki = st.split(kax, lanes, tail=tail)
        st.reorder(ko, ic, jc, ki)
    if mac:
        st.tensorize(ko, intrin, strict=strict)
    else:
        st.unroll(ic)
        st.unroll(jc)
        st.tensorize(ki, intrin, strict=strict)
    return s, [A, B, C]


def _check_matmul(func, M, N, K, dtype, rng):
    a, b = _rand((M, K), dtype, rng), _rand((K, N), dtype, rng)
    c = np.full((M, N), 0x5A, np.int32)
    codegen_c.build(func, "host")(a, b, c)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32), err_msg=str(func))
    return a, b, c


def _n_calls(func, ext: str) -> int:
    return sum(1 for c in func.intrinsic_calls if c.op.c_name.startswith(f"isaforge_{ext}_"))


# ------------------------------------------------------------------------------------------------
# host: every intrinsic family, tails along K, M and N


SHAPES = [(10, 13, 11), (7, 5, 9), (5, 9, 6), (4, 4, 10)]


@pytest.mark.parametrize("ext", list(EXT_DTYPE))
@pytest.mark.parametrize("style", ["tile", "root"])
@pytest.mark.parametrize("shape", SHAPES)
def test_matmul_with_tails_equals_numpy(ext, style, shape, rng):
    M, N, K = shape
    s, args = schedule_matmul(M, N, K, ext, style)
    func = tir.lower(s, args)
    assert func.intrinsic_calls and ext in [e.name for e in func.extensions], str(func)
    _check_matmul(func, M, N, K, EXT_DTYPE[ext], rng)


@pytest.mark.parametrize("ext", ["dot4_i8", "mac4_i8"])
def test_two_lane_steps_per_iteration_with_tails(ext, rng):
    """k split by 8 then by 4 (the unrolled two-step loop): K = 13 leaves one 8-chunk and a tail of 5."""
    M, N, K = 6, 7, 13
    s, args = schedule_matmul(M, N, K, ext, "tile", k_steps=2)
    func = tir.lower(s, args)
    assert func.intrinsic_calls
    _check_matmul(func, M, N, K, "int8", rng)


def test_remainder_of_a_two_step_chunk_keeps_its_full_word(rng):
    """K = 13 in chunks of 8 (2 unrolled lane steps): 1 chunk, then a remainder of 5 lanes that is
    partitioned in turn: 1 more dot4 word and 1 scalar MAC (not 5 scalar MACs)."""
    s, args = schedule_matmul(4, 4, 13, "dot4_i8", "tile", tile=(1, 1), k_steps=2)
    func = tir.lower(s, args)
    assert _n_calls(func, "dot4_i8") == 3, str(func)
    assert str(func).count("int32(Ap[") == 1, str(func)
    _check_matmul(func, 4, 4, 13, "int8", rng)


def test_k_tail_is_two_dot4_steps_and_two_scalar_macs(rng):
    """K = 10 under a 4-lane dot: per output 2 dot4 words, then 2 scalar multiply-adds."""
    A, B, Ap, Bt, C = matmul_padded(3, 2, 10)
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], 4)
    s[C].tensorize(ki, isa_ext.get("dot4_i8"))
    func = tir.lower(s, [A, B, C])
    text = str(func)
    # the main loop over the two full words has no guard; the remainder is 2 straight-line MACs
    main, rest = text.split("C[i, j] = 0")[1].split("isaforge_dot4_i8_dot(")[0], text.split("_dot(")[-1]
    assert "for k.outer in range(2):" in main and "if " not in text.split("C[i, j] = 0")[1], text
    assert "int32(Ap[i, 8]) * int32(Bt[j, 8])" in rest and "int32(Ap[i, 9]) * int32(Bt[j, 9])" in rest, text
    assert "Ap[i, 10]" not in rest and "k.inner" not in rest, text
    assert _n_calls(func, "dot4_i8") == 1, text
    _check_matmul(func, 3, 2, 10, "int8", rng)


def test_k_shorter_than_lanes_is_refused():
    """K = 3 < 4 lanes: a split clamps its factor to the extent, so there is no tail but a 3-lane
    loop, which the intrinsic refuses (no silent scalar fallback)."""
    with pytest.raises(ScheduleError, match="extent of 'k.inner' is 3, the intrinsic takes 4 lanes"):
        schedule_matmul(5, 6, 3, "dot4_i8", "root")


def test_mac4_tails_use_smaller_tiles(rng):
    """M = 10, N = 6 under a 4x4 accumulator tile: the consumer's splits are partitioned, so the
    remainders are 2x4, 4x2 and 2x2 tiles in the bank, not scalar code."""
    s, args = schedule_matmul(10, 6, 8, "mac4_i8", "tile")
    func = tir.lower(s, args)
    reads = [c for c in func.intrinsic_calls if c.op.c_name.endswith("read_clear")]
    # 2 x 1 full tiles (16 outputs each) + 2 x 1 tiles of 4 x 2, 1 tile of 2 x 4, 1 of 2 x 2
    assert len(reads) == 16 + 8 + 8 + 4, str(func)
    _check_matmul(func, 10, 6, 8, "int8", rng)


def test_explicit_partition_without_tensorize(rng):
    """PARTITION on a plain stage: a main loop without a guard, then the remainder; same result."""
    A, B, Ap, Bt, C = matmul_padded(10, 7, 9)
    s = schedules.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], 4, tail=TailStrategy.PARTITION)
    ko, ki = s[C].split(C.op.reduce_axis[0], 4, tail=TailStrategy.PARTITION)
    func = tir.lower(s, [A, B, C])
    body = str(func).split("def ")[1]
    assert "if (i.outer" not in body and "< 10" not in body and "< 9" not in body, body
    _check_matmul(func, 10, 7, 9, "int8", rng)


def test_guard_strategy_keeps_the_guard(rng):
    A, B, Ap, Bt, C = matmul_padded(10, 7, 9)
    s = schedules.create_schedule(C)
    s[C].split(C.op.axis[0], 4, tail=TailStrategy.GUARD)
    func = tir.lower(s, [A, B, C])
    assert "i.outer * 4 + i.inner < 10" in str(func)
    _check_matmul(func, 10, 7, 9, "int8", rng)


def test_nparts_split_tail(rng):
    """nparts: K = 10 in 3 parts of 4 (the last holds 2): one remainder iteration, 2 lanes."""
    A, B, Ap, Bt, C = matmul_padded(3, 3, 10)
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], nparts=3)
    s[C].tensorize(ki, isa_ext.get("dot4_i8"))
    func = tir.lower(s, [A, B, C])
    assert func.intrinsic_calls
    _check_matmul(func, 3, 3, 10, "int8", rng)


# ------------------------------------------------------------------------------------------------
# convolution: channel tail (dot4) and output pixel / channel tails (mac4)


def conv_nhwc_padded(H, Wd, C, F, R, pad):
    """NHWC conv with OHWI weights, both packed to a channel count padded to a word; reduces over the
    real C. Returns (X, Wt, Out)."""
    Cp = -(-C // 4) * 4
    X = tir.placeholder((1, H, Wd, C), "int8", name="X")
    Wt = tir.placeholder((F, R, R, C), "int8", name="Wt")
    z = tir.const(0, "int8")
    P = tir.compute((1, H + 2 * pad, Wd + 2 * pad, Cp), lambda b, y, x, c: tir.if_then_else(
        tir.all(y >= pad, y < H + pad, x >= pad, x < Wd + pad, c < C),
        X[b, tir.min(tir.max(y - pad, 0), H - 1), tir.min(tir.max(x - pad, 0), Wd - 1), tir.min(c, C - 1)], z),
        name="P")
    Wp = tir.compute((F, R, R, Cp), lambda f, y, x, c: tir.if_then_else(c < C, Wt[f, y, x, tir.min(c, C - 1)], z),
                     name="Wp")
    OH, OW = H + 2 * pad - R + 1, Wd + 2 * pad - R + 1
    ry, rx, rc = tir.reduce_axis((0, R), "ry"), tir.reduce_axis((0, R), "rx"), tir.reduce_axis((0, C), "rc")
    Out = tir.compute((1, OH, OW, F), lambda b, y, x, f: tir.sum(
        P[b, y + ry, x + rx, rc].astype("int32") * Wp[f, ry, rx, rc].astype("int32"), axis=[ry, rx, rc]),
        name="conv")
    return X, Wt, Out


def conv_ref(x, wt, pad):
    _, H, Wd, C = x.shape
    F, R = wt.shape[0], wt.shape[1]
    xp = np.pad(x.astype(np.int32), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    OH, OW = H + 2 * pad - R + 1, Wd + 2 * pad - R + 1
    out = np.zeros((1, OH, OW, F), np.int32)
    for y in range(OH):
        for xx in range(OW):
            out[0, y, xx] = np.einsum("ijc,fijc->f", xp[0, y:y + R, xx:xx + R], wt.astype(np.int32))
    return out


def schedule_conv(H, Wd, C, F, ext, tile=(4, 4), R=3, pad=1):
    X, Wt, Out = conv_nhwc_padded(H, Wd, C, F, R, pad)
    s = schedules.create_schedule(Out)
    CL = s.cache_write(Out, "local")
    b, y, x, f = s[Out].op.axis
    xo, xi = s[Out].split(x, tile[0])
    fo, fi = s[Out].split(f, tile[1])
    s[Out].reorder(b, y, xo, fo, xi, fi)
    s[CL].compute_at(s[Out], fo)
    _, _, xc, fc = CL.op.axis
    ry, rx, rc = CL.op.reduce_axis
    rco, rci = s[CL].split(rc, 4)
    s[CL].reorder(ry, rx, rco, xc, fc, rci)
    if ext == "mac4_i8":
        s[CL].tensorize(ry, isa_ext.get(ext))
    else:
        s[CL].unroll(xc)
        s[CL].unroll(fc)
        s[CL].tensorize(rci, isa_ext.get(ext))
    return s, [X, Wt, Out]


@pytest.mark.parametrize("ext,shape", [
    ("dot4_i8", (5, 7, 6, 5)),   # C = 6: one word + 2 scalar channels; OW = 7, F = 5 tails
    ("mac4_i8", (5, 7, 8, 6)),   # OW = 7, F = 6 under a 4x4 bank tile
    ("mac4_i8", (4, 6, 6, 5)),   # and a channel tail
])
def test_conv_with_tails_equals_numpy(ext, shape, rng):
    H, Wd, C, F = shape
    s, args = schedule_conv(H, Wd, C, F, ext)
    func = tir.lower(s, args)
    assert func.intrinsic_calls, str(func)
    x, wt = _rand((1, H, Wd, C), "int8", rng), _rand((F, 3, 3, C), "int8", rng)
    out = np.full(args[-1].shape, 0x5A, np.int32)
    codegen_c.build(func, "host")(x, wt, out)
    np.testing.assert_array_equal(out, conv_ref(x, wt, 1), err_msg=str(func))


def test_hand_dense_mac4_with_row_tail(rng):
    """hand.mac4 of dense 6x10x12 (a 4x4 tile, no _fit there): M = 6 and N = 10 tails now lower."""
    from conftest import check_workload

    wl = W.dense_bias_relu(6, 10, 12)
    s, _ = hand.mac4(wl)
    func = check_workload(wl, s, rng)
    assert func.intrinsic_calls


# ------------------------------------------------------------------------------------------------
# what stays an error


def test_strict_refuses_the_tail():
    s, args = schedule_matmul(8, 8, 10, "dot4_i8", "root", strict=True)
    with pytest.raises(ScheduleError) as ei:
        tir.lower(s, args)
    msg = str(ei.value)
    assert "stage 'C'" in msg and "'k.inner'" in msg and "strict" in msg and "guard" in msg, msg


def test_strict_wins_over_an_explicit_partition():
    s, args = schedule_matmul(8, 8, 10, "dot4_i8", "root", strict=True, tail=TailStrategy.PARTITION)
    with pytest.raises(ScheduleError, match="strict"):
        tir.lower(s, args)


def test_strict_mac4_refuses_a_consumer_tail():
    """strict on the cache stage: the consumer's M tail would need a guard in the bank tile."""
    s, args = schedule_matmul(10, 8, 8, "mac4_i8", "tile", strict=True)
    with pytest.raises(ScheduleError) as ei:
        tir.lower(s, args)
    assert "stage 'C.local'" in str(ei.value) and "strict" in str(ei.value)


def test_guard_tail_under_tensorize_names_the_options():
    s, args = schedule_matmul(8, 8, 10, "dot4_i8", "root", tail=TailStrategy.GUARD)
    with pytest.raises(ScheduleError) as ei:
        tir.lower(s, args)
    assert "'k.inner'" in str(ei.value) and "TailStrategy.PARTITION" in str(ei.value)


def test_outer_split_again_cannot_partition():
    """The tail of k needs its outer loop; k.outer split again cannot be partitioned: a clear error."""
    A, B, Ap, Bt, C = matmul_padded(4, 4, 10)
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], 4)
    s[C].split(ko, 2)
    s[C].tensorize(ki, isa_ext.get("dot4_i8"))
    with pytest.raises(ScheduleError) as ei:
        tir.lower(s, [A, B, C])
    msg = str(ei.value)
    assert "stage 'C' axis 'k'" in msg and "k.outer" in msg and "partition" in msg, msg


def test_tail_must_be_a_tail_strategy():
    A, B, Ap, Bt, C = matmul_padded(4, 4, 8)
    s = schedules.create_schedule(C)
    with pytest.raises(ScheduleError, match="TailStrategy"):
        s[C].split(C.op.axis[0], 3, tail="partition")
    with pytest.raises(ScheduleError, match="strict"):
        s[C].tensorize(C.op.axis[1], isa_ext.get("dot4_i8"), strict="yes")


def test_divisible_schedules_lower_as_before():
    """Exact splits: AUTO, GUARD and PARTITION give the same IR (nothing to partition)."""
    texts = set()
    for t in TailStrategy:
        s, args = schedule_matmul(8, 8, 16, "dot4_i8", "tile", tail=t)
        texts.add(str(tir.lower(s, args)))
    assert len(texts) == 1


# ------------------------------------------------------------------------------------------------
# the VexRiscv SoC: correct and faster than the scalar schedule


def _soc(func, arrays):
    import simulator

    return simulator.run(func, arrays, "vexriscv")


SOC_CASES = [
    ("matmul", (10, 13, 11), "dot4_i8", TailStrategy.AUTO),
    ("matmul", (17, 9, 21), "dot4_i8", TailStrategy.PARTITION),
    ("matmul", (10, 13, 11), "mac4_i8", TailStrategy.AUTO),
    ("conv", (5, 7, 6, 5), "dot4_i8", TailStrategy.AUTO),
    ("conv", (5, 7, 8, 6), "mac4_i8", TailStrategy.AUTO),
]

@pytest.mark.parametrize("kind,shape,ext,tail", SOC_CASES)
def test_tails_on_the_soc(kind, shape, ext, tail):
    rng = np.random.default_rng(3)
    if kind == "matmul":
        M, N, K = shape
        s, args = schedule_matmul(M, N, K, ext, "tile", tail=tail)
        a, b = _rand((M, K), "int8", rng), _rand((K, N), "int8", rng)
        ins, expect = [a, b], a.astype(np.int32) @ b.astype(np.int32)
        ss, sargs = hand.scalar_best(W.matmul(M, N, K))
    else:
        H, Wd, C, F = shape
        s, args = schedule_conv(H, Wd, C, F, ext)
        x, wt = _rand((1, H, Wd, C), "int8", rng), _rand((F, 3, 3, C), "int8", rng)
        ins, expect = [x, wt], conv_ref(x, wt, 1)
        ss, sargs = hand.scalar_best(hand.conv2d_nhwc_ohwi(1, H, Wd, C, F, 3, pad=1))
    func = tir.lower(s, args)
    assert func.intrinsic_calls
    out = np.full(expect.shape, 0x5A, np.int32)
    r = _soc(func, ins + [out])
    np.testing.assert_array_equal(out, expect, err_msg=str(func))
    sfunc = tir.lower(ss, sargs)
    sout = np.full(expect.shape, 0x5A, np.int32)
    rs = _soc(sfunc, ins + [sout])
    np.testing.assert_array_equal(sout, expect)
    assert r.cycles < rs.cycles, (r.cycles, rs.cycles)


def test_guard_consumer_tail_under_mac4_is_refused():
    """The consumer's tile asks for guards (GUARD): the bank tile would be partial, refused by name."""
    A, B, Ap, Bt, C = matmul_padded(10, 8, 8)
    s = schedules.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 4, tail=TailStrategy.GUARD)
    s[CL].compute_at(s[C], jo)
    ko, ki = s[CL].split(CL.op.reduce_axis[0], 4)
    s[CL].reorder(ko, *CL.op.axis, ki)
    s[CL].tensorize(ko, isa_ext.get("mac4_i8"))
    with pytest.raises(ScheduleError) as ei:
        tir.lower(s, [A, B, C])
    msg = str(ei.value)
    assert "stage 'C.local' axis 'k.outer'" in msg and "guard" in msg and "i.outer * 4" in msg, msg
