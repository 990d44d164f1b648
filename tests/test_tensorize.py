"""Tensorize on the host target: every built-in dot/mac intrinsic computes what numpy computes, and
every way a loop nest can fail to match an intrinsic is an error naming stage, axis and the difference.

No silent fallback: a tensorized schedule either lowers to intrinsic calls or raises.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import codegen_c
import isa_ext
import schedules
import tir
from schedules import hand
from schedules import workloads as W
from tir.errors import ScheduleError

ROOT = Path(__file__).resolve().parent.parent


def _rand(shape, dtype, rng):
    info = np.iinfo(tir.dtype.numpy_dtype(dtype))
    lo, hi = max(int(info.min), -3000), min(int(info.max), 3000)
    return rng.integers(lo, hi, shape, endpoint=True).astype(tir.dtype.numpy_dtype(dtype))


def _run_host(func, wl, rng):
    ins = [_rand(t.shape, t.dtype, rng) for t in wl.inputs]
    out = np.full(wl.output.shape, 0x5A, tir.dtype.numpy_dtype(wl.output.dtype))
    codegen_c.build(func, "host")(*ins, out)
    np.testing.assert_array_equal(out, wl.ref(*ins), err_msg=str(func))


def _assert_tensorized(func, ext_name: str):
    calls = func.intrinsic_calls
    assert calls, f"no intrinsic calls: tensorize fell back to scalar code\n{func}"
    assert any(c.op.c_name.startswith(f"isaforge_{ext_name}_") for c in calls)
    assert f"isaforge_{ext_name}_" in codegen_c.emit(func, "host")
    assert ext_name in [e.name for e in func.extensions]


# ------------------------------------------------------------------------------------------------
# correct results


@pytest.mark.parametrize("ext,dtype,kind", [
    ("dot4_i8", "int8", "dot"),
    ("dot4_u8", "uint8", "dot"),
    ("dot2_i16", "int16", "dot"),
    ("mac4_i8", "int8", "mac"),
])
@pytest.mark.parametrize("form", ["nt", "packed"])
def test_tensorized_matmul_equals_numpy(ext, dtype, kind, form, rng):
    wl = hand.matmul_nt(12, 8, 16, dtype) if form == "nt" else W.matmul(8, 12, 16, dtype)
    s, args = (hand.dot4(wl, ext) if kind == "dot" else hand.mac4(wl, ext))
    func = tir.lower(s, args)
    _assert_tensorized(func, ext)
    _run_host(func, wl, rng)


@pytest.mark.parametrize("style", ["dot", "mac"])
def test_tensorize_example_flow_both_styles(style, rng):
    """The README flow: a 4x4 register tile, dot4 on the lane loop or the mac bank at k.outer."""
    M = N = K = 8
    A = tir.placeholder((M, K), "int8", name="A")
    Bt = tir.placeholder((N, K), "int8", name="Bt")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * Bt[j, k].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 4)
    s[CL].compute_at(s[C], jo)
    ic, jc = CL.op.axis
    ko, ki = s[CL].split(CL.op.reduce_axis[0], 4)
    s[CL].reorder(ko, ic, jc, ki)
    if style == "mac":
        s[CL].tensorize(ko, isa_ext.get("mac4_i8"))
    else:
        s[CL].unroll(ic)
        s[CL].unroll(jc)
        s[CL].tensorize(ki, isa_ext.get("dot4_i8"))
    func = tir.lower(s, [A, Bt, C])
    _assert_tensorized(func, "mac4_i8" if style == "mac" else "dot4_i8")
    a, bt = _rand((M, K), "int8", rng), _rand((N, K), "int8", rng)
    c = np.zeros((M, N), np.int32)
    codegen_c.build(func, "host")(a, bt, c)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)


@pytest.mark.parametrize("make,sched", [
    (lambda: W.conv2d_nhwc(1, 6, 6, 8, 4, 3, stride=1, pad=1), "dot4"),
    (lambda: W.conv2d_nhwc(1, 7, 7, 4, 8, 3, stride=2, pad=1), "mac4"),
    (lambda: hand.conv2d_nhwc_ohwi(1, 5, 5, 8, 4, 3, pad=1), "dot4"),
    (lambda: W.conv2d_nchw(1, 8, 6, 6, 4, 3, stride=1, pad=1), "mac4"),
    (lambda: W.conv2d_nchw(1, 4, 7, 7, 4, 3, stride=2, pad=0), "dot4"),
    (lambda: W.depthwise_conv2d_nchw(1, 4, 6, 6, 3, pad=1), "dot4"),
    (lambda: W.depthwise_conv2d_nchw(1, 4, 6, 6, 3, pad=1), "mac4"),
    (lambda: W.dense_bias_relu(8, 8, 16), "dot4"),
    (lambda: W.dense_bias_relu(8, 8, 16), "mac4"),
])
def test_hand_tensorized_workloads_equal_numpy(make, sched, rng):
    wl = make()
    s, args = hand.SCHEDULES[sched](wl)
    func = tir.lower(s, args)
    _assert_tensorized(func, "dot4_i8" if sched == "dot4" else "mac4_i8")
    _run_host(func, wl, rng)


@pytest.mark.parametrize("sched", ["naive", "scalar"])
@pytest.mark.parametrize("make", [
    lambda: W.matmul(8, 12, 8), lambda: W.conv2d_nchw(1, 4, 6, 6, 4, 3, pad=1),
    lambda: W.conv2d_nhwc(1, 6, 6, 4, 4, 3, stride=2, pad=1), lambda: W.depthwise_conv2d_nchw(1, 4, 6, 6, 3, pad=1),
    lambda: W.dense_bias_relu(4, 8, 8),
])
def test_hand_scalar_schedules_equal_numpy(make, sched, rng):
    wl = make()
    s, args = hand.SCHEDULES[sched](wl)
    func = tir.lower(s, args)
    assert not func.intrinsic_calls and not func.extensions
    _run_host(func, wl, rng)


# ------------------------------------------------------------------------------------------------
# errors: each names the stage, the axis and what differs


def _mm(M=8, N=8, K=8, dtype="int8", a_shape=None, b_shape=None, kt=False, kdom=None, body=None):
    A = tir.placeholder(a_shape or (M, K), dtype, name="A")
    B = tir.placeholder(b_shape or ((K, N) if kt else (N, K)), dtype, name="B")
    k = tir.reduce_axis(kdom or (0, K), name="k")
    if body is None:
        def body(i, j):
            b = B[k, j] if kt else B[j, k]
            return tir.sum(A[i, k].astype("int32") * b.astype("int32"), axis=k)
    else:
        body = body(A, B, k)
    C = tir.compute((M, N), body, name="C")
    return A, B, C


def _tensorize_dot(A, B, C, factor=4, ext="dot4_i8", strict=False, tail=schedules.TailStrategy.AUTO):
    """Tensorize and lower; returns the PrimFunc or raises (whichever step finds the problem)."""
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor, tail=tail)
    s[C].tensorize(ki, isa_ext.get(ext), strict=strict)
    return tir.lower(s, [A, B, C])


def _expect(fn, *needles):
    with pytest.raises(ScheduleError) as ei:
        func = fn()
        # no silent fallback: if it did not raise it must have produced the intrinsic
        assert func.intrinsic_calls, "tensorize neither raised nor produced intrinsic calls"
    msg = str(ei.value)
    for n in needles:
        assert n in msg, f"{n!r} not in: {msg}"
    return msg


def test_error_wrong_extent():
    msg = _expect(lambda: _tensorize_dot(*_mm(K=16), factor=8), "stage 'C'", "'k.inner'", "extent", "8", "4 lanes")
    assert "dot4_i8" in msg


def test_error_wrong_dtype():
    _expect(lambda: _tensorize_dot(*_mm(dtype="int16")), "stage 'C'", "'k.inner'", "int16", "int8", "dtype")


def test_error_stride_suggests_packing_stage():
    msg = _expect(lambda: _tensorize_dot(*_mm(kt=True)), "stage 'C'", "'k.inner'", "stride", "packing stage", "B")
    assert "8 elements" in msg  # the stride of B[k, j] along k is N


def test_error_alignment_names_buffer():
    # rows of 6 int8: the word of row 1 starts at byte 6, not a multiple of 4
    A, B, C = _mm(K=6, a_shape=(8, 6), b_shape=(8, 8), kdom=(0, 4))
    msg = _expect(lambda: _tensorize_dot(A, B, C), "stage 'C'", "'k.inner'", "alignment", "A")
    assert "6" in msg and "B" not in msg.split("alignment")[1].split("(")[0]


def test_error_nondivisible_split_under_tensorized_axis_strict():
    """strict=True keeps the refusal of a guard in the tensorized nest (K = 10, rows padded to 12)."""
    mm = _mm(K=12, a_shape=(8, 12), b_shape=(8, 12), kdom=(0, 10))
    msg = _expect(lambda: _tensorize_dot(*mm, strict=True), "stage 'C'", "'k.inner'", "guard", "divide", "strict")
    assert "k.outer * 4 + k.inner < 10" in msg


def test_error_nondivisible_split_with_guard_tail():
    """tail=GUARD asks for the guard: tensorizing over it is refused, naming the tail options."""
    mm = _mm(K=12, a_shape=(8, 12), b_shape=(8, 12), kdom=(0, 10))
    _expect(lambda: _tensorize_dot(*mm, tail=schedules.TailStrategy.GUARD), "stage 'C'", "'k.inner'", "guard",
            "TailStrategy.PARTITION")


def test_nondivisible_split_under_tensorized_axis_partitions(rng):
    """The default tail (AUTO): 2 dot4 words per output, then 2 scalar MACs for k = 8, 9."""
    A, B, C = _mm(K=12, a_shape=(8, 12), b_shape=(8, 12), kdom=(0, 10))
    func = _tensorize_dot(A, B, C)
    _assert_tensorized(func, "dot4_i8")
    a, b = _rand((8, 12), "int8", rng), _rand((8, 12), "int8", rng)
    c = np.full((8, 8), 0x5A, np.int32)
    codegen_c.build(func, "host")(a, b, c)
    np.testing.assert_array_equal(c, a[:, :10].astype(np.int32) @ b[:, :10].astype(np.int32).T)


def test_error_mac_tile_too_many_outputs():
    wl = hand.matmul_nt(8, 8, 8)
    msg = _expect(lambda: tir.lower(*hand.mac4(wl, tile=(4, 8))), "stage 'C.local'", "'k.outer'", "32 outputs",
                  "16 accumulators")
    assert "mac4_i8" in msg


def test_error_mac_tile_too_many_outputs_root_stage():
    A, B, C = _mm(M=4, N=8)
    s = schedules.create_schedule(C)
    i, j = C.op.axis
    ko, ki = s[C].split(C.op.reduce_axis[0], 4)
    s[C].reorder(ko, i, j, ki)
    _expect(lambda: (s[C].tensorize(ko, isa_ext.get("mac4_i8")), tir.lower(s, [A, B, C]))[1],
            "stage 'C'", "'k.outer'", "32 outputs", "16 accumulators")


@pytest.mark.parametrize("body,needle", [
    (lambda A, B, k: (lambda i, j: tir.sum(A[i, k].astype("int32") + B[j, k].astype("int32"), axis=k)),
     "not a product"),
    (lambda A, B, k: (lambda i, j: tir.max(A[i, k].astype("int32") * B[j, k].astype("int32"), axis=k)),
     "not a sum of products"),
    (lambda A, B, k: (lambda i, j: A[i, 0].astype("int32") * B[j, 0].astype("int32")), "not a sum of products"),
])
def test_error_body_not_sum_of_products(body, needle):
    A, B, C = _mm(body=body)
    s = schedules.create_schedule(C)
    axis = C.op.reduce_axis[0] if C.op.reduce_axis else C.op.axis[1]
    if C.op.reduce_axis:
        _, axis = s[C].split(axis, 4)
    with pytest.raises(ScheduleError) as ei:
        s[C].tensorize(axis, isa_ext.get("dot4_i8"))
    msg = str(ei.value)
    assert "stage 'C'" in msg and f"'{axis.name}'" in msg and needle in msg, msg


def test_error_operand_not_a_load_padding_inlined():
    """Padding inlined into the operand: the message says to materialize it first."""
    wl = W.conv2d_nhwc(1, 4, 4, 4, 4, 3, pad=1)
    Out = wl.output
    s = schedules.create_schedule(Out)
    s[wl.stages["pad"]].compute_inline()
    ry, rx, rc = Out.op.reduce_axis
    _, rci = s[Out].split(rc, 4)
    s[Out].tensorize(rci, isa_ext.get("dot4_i8"))  # the stage body itself matches; the inlined one does not
    _expect(lambda: tir.lower(s, wl.args), "stage 'conv'", "'rc.inner'", "materialize it in a packing stage")


def test_never_silent_fallback_over_many_schedules():
    """Every tensorized variant either lowers to intrinsic calls or raises a ScheduleError."""
    outcomes = []
    for K in (4, 6, 8, 10, 12):
        for factor in (2, 4, 8):
            for ext in ("dot4_i8", "dot2_i16"):
                for dtype in ("int8", "int16"):
                    try:
                        func = _tensorize_dot(*_mm(K=K, dtype=dtype), factor=factor, ext=ext)
                    except ScheduleError:
                        outcomes.append("error")
                        continue
                    assert func.intrinsic_calls, str(func)
                    assert f"isaforge_{ext}_dot(" in codegen_c.emit(func, "host")
                    outcomes.append("ok")
    assert "ok" in outcomes and "error" in outcomes


# ------------------------------------------------------------------------------------------------
# the example script


def test_custom_extension_example_runs():
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_extension.py")], capture_output=True,
                       text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "dot2_u16 matmul on verilator: OK" in r.stdout
