"""Property tests of the memory-hierarchy schedules: cache tiling and packing never change results.

Each example draws a matmul shape (A[M, K] x B, B either [K, N] or K-major [N, K]), a register tile,
a cache block of output columns, a loop order and a packing choice (``cache_read`` with or without a
``layout`` permutation, computed at the block loop, at the row-tile loop or at the root), builds the
kernel for the host and compares it with numpy. A second property draws configs of the autotune
templates at shapes whose stationary operand exceeds the D-cache (so the memory knobs exist).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codegen_c
import ops
import tir
from schedules import ScheduleError, autotune, create_schedule, hand

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _arrays(wl, seed):
    rng = np.random.default_rng(seed)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    return ins, wl.ref(*ins)


@st.composite
def memory_case(draw):
    nt = draw(st.booleans(), label="K-major B")
    M, N, K = (draw(st.integers(1, 12), label=n) for n in "MNK")
    tm, tn = draw(st.integers(1, 4), label="tm"), draw(st.integers(1, 4), label="tn")
    blk = draw(st.integers(1, 4), label="tiles per block")
    order = draw(st.sampled_from(["block_b", "block_a", "none"]), label="loop order")
    pack_b = draw(st.sampled_from(["no", "root", "block", "tile"]), label="pack B")
    pack_a = draw(st.sampled_from(["no", "root", "tile"]), label="pack A")
    transpose = draw(st.booleans(), label="pack B K-major (layout)")
    cached = draw(st.booleans(), label="register tile (cache_write) reads the packed operands")
    return nt, (M, N, K), (tm, tn), blk, order, pack_b, pack_a, transpose, cached


def _schedule(case):
    nt, (M, N, K), (tm, tn), blk, order, pack_b, pack_a, transpose, cached = case
    wl = ops.get("matmul_nt" if nt else "matmul")(M, N, K)
    A, B = wl.inputs
    C = wl.output
    s = create_schedule(C)
    # cached: a register tile CL computed at the tile loop reads the packed buffers, which are
    # computed at a loop of C above it (lowering infers their region through CL)
    CL = s.cache_write(C, "local") if cached else None
    reader = CL if cached else C
    # packing stages first: cache_read rewrites the reader's body
    layout = (1, 0) if transpose else None
    BP = s.cache_read(B, "local", [reader], layout=layout) if pack_b != "no" else None
    AP = s.cache_read(A, "local", [reader]) if pack_a != "no" else None
    i, j = s[C].op.axis
    io, jo, ii, ji = s[C].tile(i, j, tm, tn)
    (k,) = s[CL if cached else C].op.reduce_axis
    if cached:
        k = ()
    else:
        k = (k,)
    if order == "block_b":
        jb, jo = s[C].split(jo, blk)
        s[C].reorder(jb, io, jo, ii, ji, *k)
        at = {"block": jb, "tile": jo}
    elif order == "block_a":
        ib, io = s[C].split(io, blk)
        s[C].reorder(ib, jo, io, ii, ji, *k)
        at = {"block": ib, "tile": io}
    else:
        at = {"block": io, "tile": jo}
    if cached:
        s[CL].compute_at(s[C], at["tile"])
    via = s[CL] if cached else None
    if BP is not None and pack_b != "root":
        s[BP].compute_at(s[C], at[pack_b], through=via)
    if AP is not None and pack_a == "tile":
        s[AP].compute_at(s[C], at["tile"], through=via)
    return wl, s, [A, B, C]


@SETTINGS
@given(memory_case(), st.integers(0, 2 ** 16))
def test_cache_tiling_and_packing_equal_numpy(case, seed):
    wl, s, args = _schedule(case)
    func = tir.lower(s, args)
    ins, want = _arrays(wl, seed)
    out = np.full(wl.output.shape, 0x5A5A, np.int32)
    codegen_c.build(func, "host")(*ins, out)
    np.testing.assert_array_equal(out, want, err_msg=f"{case}\n{func}")


@st.composite
def hand_case(draw):
    nt = draw(st.booleans(), label="K-major B")
    tm, tn = draw(st.sampled_from([1, 2, 4]), label="tm"), draw(st.sampled_from([2, 4]), label="tn")
    M = tm * draw(st.integers(1, 6), label="row tiles")
    N = tn * draw(st.integers(2, 8), label="column tiles")
    K = 4 * draw(st.integers(1, 24), label="lane steps")
    nblk = draw(st.sampled_from([d for d in range(1, N // tn) if (N // tn) % d == 0] or [1]), label="block")
    kind = draw(st.sampled_from(["mac4", "mac4_nopack", "dot4", "dot4_asm"]), label="kind")
    chunk = draw(st.sampled_from([None, 1, 2, 4]), label="k_chunk")
    return nt, (M, N, K), (tm, tn), nblk * tn, kind, chunk


@SETTINGS
@given(hand_case(), st.integers(0, 2 ** 16))
def test_hand_cache_blocks_equal_numpy(case, seed):
    nt, shape, tile, block, kind, chunk = case
    wl = ops.get("matmul_nt" if nt else "matmul")(*shape)
    steps = shape[2] // 4
    if chunk is not None and steps % chunk:
        chunk = None
    if kind.startswith("mac4"):
        s, args = hand.mac4(wl, tile=tile, block=block, pack=kind == "mac4")
    else:
        s, args = hand.dot4(wl, tile=tile, asm=kind == "dot4_asm", block=block, k_chunk=chunk)
    func = tir.lower(s, args)
    ins, want = _arrays(wl, seed)
    out = np.zeros(wl.output.shape, np.int32)
    codegen_c.build(func, "host")(*ins, out)
    np.testing.assert_array_equal(out, want, err_msg=f"{case}\n{func}")


_BIG = [("matmul_i8", (8, 48, 96)), ("matmul_kn_i8", (8, 64, 80)), ("dense_i8", (1, 32, 160)),
        ("conv2d_nhwc_i8", (1, 4, 4, 16, 32, 3, 3, 1, 1))]


def _lower(task, cfg):
    """The config's PrimFunc, or None for a mac4 tile beyond the unit's 16 accumulators (a build error)."""
    try:
        return task.lower(cfg)
    except ScheduleError as e:
        assert "accumulators" in str(e)
        return None


@settings(max_examples=24, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_BIG), st.integers(0, 2 ** 30))
def test_template_memory_knobs_equal_numpy(task_args, draw_index):
    name, args = task_args
    task = autotune.create_task(name, args, "host")
    sp = task.config_space
    assert {"cache_block", "cache_axis", "cfu_words"} <= set(sp.knobs)
    cfg = sp.get(draw_index % len(sp))
    func = _lower(task, cfg)
    if func is None:
        return
    arrays = task.make_inputs(1)
    codegen_c.build(func, "host")(*arrays)
    outs = [a for a, spec in zip(arrays, task.arg_specs) if spec[2]]
    for o, w in zip(outs, task.reference(arrays)):
        np.testing.assert_array_equal(o, w, err_msg=str(cfg))


_CONV = [(1, 4, 4, 16, 32, 3, 3, 1, 1), (1, 5, 5, 8, 6, 3, 3, 1, 1), (1, 5, 7, 8, 4, 3, 3, 2, 1),
         (1, 3, 5, 8, 12, 1, 1, 1, 0)]


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_CONV), st.integers(0, 2 ** 30), st.data())
def test_conv_template_window_knobs_equal_numpy(args, draw_index, data):
    """conv2d_nhwc_i8 configs with its window knobs (window rows unrolled, rolled write-back, filter
    tiles outermost, the padded copy per pixel) drawn on top of a random config of the rest of the
    space, including shapes whose tiles are not 4 (5 pixels, 6 or 12 filters) and the D-cache blocks."""
    task = autotune.create_task("conv2d_nhwc_i8", args, "host")
    sp = task.config_space
    knobs = sp.get(draw_index % len(sp)).to_json()["knobs"]
    for name in sorted(sp.added_knobs):
        knobs[name] = data.draw(st.sampled_from(sp.knobs[name].choices), label=name)
    cfg = task.config(knobs)
    func = _lower(task, cfg)
    if func is None:
        return
    arrays = task.make_inputs(3)
    codegen_c.build(func, "host")(*arrays)
    np.testing.assert_array_equal(arrays[-1], task.reference(arrays)[0], err_msg=str(cfg))


def test_memory_knobs_only_beyond_the_cache_and_space_sizes():
    """Shapes whose stationary operand fits the D-cache keep their space exactly; matmul 128^3 and
    the 3x3 conv of 1x16x16x32 -> 32 have at least 1e5 configs."""
    small = autotune.create_task("matmul_i8", (64, 64, 64), "vexriscv").config_space
    assert list(small.knobs) == ["tile_a", "tile_b", "unroll", "tensorize", "k_steps", "cfu_emit", "compiler"]
    mm = autotune.create_task("matmul_i8", (128, 128, 128), "vexriscv").config_space
    conv = autotune.create_task("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 3, 3, 1, 1), "vexriscv").config_space
    assert len(mm) >= 100_000 and len(conv) >= 100_000, (len(mm), len(conv))
    assert list(mm.knobs)[-1] == "compiler" and "pack" in mm.knobs
    assert mm.knobs["k_steps"].choices == [1, 2, 4, 8, 16]  # chunks of the 32 lane steps


def test_cache_read_layout_rejects_non_permutations():
    wl = ops.get("matmul")(4, 4, 4)
    s = create_schedule(wl.output)
    for bad in [(0, 0), (1,), (0, 1, 2), (1.0, 0), "ab", 3]:
        with pytest.raises(ScheduleError, match="layout"):
            s.cache_read(wl.inputs[1], "local", [wl.output], layout=bad)


def test_cache_read_layout_transposes_the_copy():
    wl = ops.get("matmul")(3, 5, 7)
    s = create_schedule(wl.output)
    BP = s.cache_read(wl.inputs[1], "local", [wl.output], layout=(1, 0))
    assert tuple(BP.shape) == (5, 7)
    func = tir.lower(s, list(wl.inputs) + [wl.output])
    ins, want = _arrays(wl, 3)
    out = np.zeros(wl.output.shape, np.int32)
    codegen_c.build(func, "host")(*ins, out)
    np.testing.assert_array_equal(out, want)


def test_compute_at_through_needs_the_reader_inside_the_loop():
    """through= names the stage between; lowering refuses it when that stage is not computed at the
    loop or inside it (the region would not be one block), and compute_at refuses a wrong stage."""
    wl = ops.get("matmul_nt")(8, 8, 8)
    A, B = wl.inputs
    C = wl.output
    s = create_schedule(C)
    CL = s.cache_write(C, "local")
    BP = s.cache_read(B, "local", [CL])
    i, j = s[C].op.axis
    io, jo, ii, ji = s[C].tile(i, j, 4, 4)
    with pytest.raises(ScheduleError, match="does not consume"):
        s[BP].compute_at(s[C], io)
    with pytest.raises(ScheduleError, match="must read"):
        s[BP].compute_at(s[C], io, through=s[A])
    s[BP].compute_at(s[C], jo, through=s[CL])  # CL still at the root: refused when lowering
    with pytest.raises(ScheduleError, match="through"):
        tir.lower(s, [A, B, C])
    s[CL].compute_at(s[C], jo)
    func = tir.lower(s, [A, B, C])
    ins, want = _arrays(wl, 5)
    out = np.zeros(wl.output.shape, np.int32)
    codegen_c.build(func, "host")(*ins, out)
    np.testing.assert_array_equal(out, want)
