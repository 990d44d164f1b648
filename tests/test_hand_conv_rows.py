"""The hand schedules of issue 11's memory-table rows: conv2d tiles for the cfu_asm emitter reduced by
window rows (``hand.dot4(..., asm=True)`` on a convolution), the cheap prologue copies of an NHWC
convolution (padded input copied a pixel at a time, HWIO -> OHWI weights in 4 x 4 blocks), and the
batch-1 dense on an operand-stationary unit (``hand.stationary``): each checked against numpy on the
host and on the simulated VexRiscv, small shapes only (seconds)."""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
import simulator
import tir
from isa_ext import candidates
from schedules import hand
from schedules import workloads as W
from tir.errors import ScheduleError

DOT = '".insn r 0x0B, 0, 0, %0, %1, %2"'  # dot4_i8 in the cfu_asm emitter's asm statements


def _kernel_body(src: str) -> str:
    """The kernel function of emitted C (after the extensions' helpers)."""
    return src[src.rindex("\nvoid "):]


def _inputs(wl, rng):
    out = []
    for t in wl.inputs:
        if t.dtype == "int8":
            out.append(rng.integers(-128, 128, t.shape).astype(np.int8))
        else:
            out.append(rng.integers(-5000, 5000, t.shape).astype(np.int32))
    return out


def _check(func, wl, rng, target):
    ins = _inputs(wl, rng)
    out = np.full(wl.output.shape, 0x5A, np.int32)
    if target == "host":
        codegen_c.build(func, "host")(*ins, out)
    else:
        r = simulator.run(func, ins + [out], "vexriscv")
        assert r.cycles > 0
    np.testing.assert_array_equal(out, wl.ref(*ins), err_msg=f"{wl.name} on {target}")


CONVS = {
    "nhwc_3x3_pad1": lambda: W.conv2d_nhwc(1, 6, 6, 8, 8, 3, stride=1, pad=1),
    "nhwc_1x1": lambda: W.conv2d_nhwc(1, 4, 8, 16, 8, 1),
    "nhwc_3x3_s2": lambda: W.conv2d_nhwc(1, 7, 7, 8, 4, 3, stride=2, pad=1),
    "nchw_3x3_pad1": lambda: W.conv2d_nchw(1, 8, 6, 6, 4, 3, pad=1),
    "ohwi_3x3": lambda: hand.conv2d_nhwc_ohwi(1, 5, 5, 8, 4, 3, pad=1),
    # weights beyond the 4 KiB D-cache (32 x 3 x 3 x 16 = 4,608 bytes): mac4's direct unit tile
    "nhwc_big_weights": lambda: W.conv2d_nhwc(1, 4, 4, 16, 32, 3, stride=1, pad=1),
    # output channels not a multiple of 4: the weight transpose reads Wt in order a byte at a time
    "nhwc_1x1_f6": lambda: W.conv2d_nhwc(1, 4, 4, 8, 6, 1),
}


@pytest.mark.parametrize("target", ["host", "vexriscv"])
@pytest.mark.parametrize("name", list(CONVS))
def test_conv_dot4_asm_rows_equal_numpy(name, target, rng):
    wl = CONVS[name]()
    s, args = hand.dot4(wl, "dot4_i8", asm=True)
    func = tir.lower(s, args)
    assert func.intrinsic_calls
    _check(func, wl, rng, target)


@pytest.mark.parametrize("target", ["host", "vexriscv"])
@pytest.mark.parametrize("name", ["nhwc_1x1", "nhwc_big_weights", "nhwc_3x3_pad1", "nhwc_1x1_f6"])
def test_conv_mac4_with_prologue_equals_numpy(name, target, rng):
    wl = CONVS[name]()
    s, args = hand.mac4(wl)
    func = tir.lower(s, args)
    assert [e.name for e in func.extensions] == ["mac4_i8"]
    _check(func, wl, rng, target)


def test_window_row_is_straight_line_in_the_asm_block():
    """3x3 over 32 channels: a window row is 3 x 8 = 24 lane steps (<= STRAIGHT_LANE_STEPS), emitted as
    one block of 24 x 16 dot4 ops for a 4 x 4 tile; the ry loop stays rolled (72 steps would overflow
    the 4 KiB I-cache)."""
    wl = W.conv2d_nhwc(1, 16, 16, 32, 32, 3, stride=1, pad=1)
    src = _kernel_body(codegen_c.emit(tir.lower(*hand.dot4(wl, "dot4_i8", asm=True)), "vexriscv"))
    assert src.count(DOT) == 24 * 16
    assert "for (int32_t ry = 0; ry < 3; ++ry)" in src
    # a 1x1 window of 32 channels: the whole reduction (8 lane steps) in one block
    wl1 = W.conv2d_nhwc(1, 16, 16, 32, 32, 1)
    src1 = _kernel_body(codegen_c.emit(tir.lower(*hand.dot4(wl1, "dot4_i8", asm=True)), "vexriscv"))
    assert src1.count(DOT) == 8 * 16


def test_prologue_pad_copy_tests_each_pixel_once_and_weights_in_blocks():
    wl = W.conv2d_nhwc(1, 4, 4, 16, 32, 3, stride=1, pad=1)
    s, args = hand.mac4(wl)
    src = codegen_c.emit(tir.lower(s, args), "vexriscv")
    # the padded copy: a pixel's 16 channels unrolled (the C compiler then tests the pixel once)
    pad_lines = [ln for ln in src.splitlines() if ln.strip().startswith("pad[")]
    assert len(pad_lines) == 16
    # the weight transpose: 4 x 4 blocks of (input, output) channels unrolled
    assert sum(ln.strip().startswith("Wp[") for ln in src.splitlines()) == 16


def _stationary(cols=16, k=64):
    ext = candidates.build_candidate(candidates.CandidateSpec.of("stationary", cols=cols, k=k, dtype="int8"))
    return isa_ext.register(ext, replace=True)


@pytest.mark.parametrize("target", ["host", "vexriscv"])
@pytest.mark.parametrize("shape,stream", [((1, 32, 128), None), ((1, 32, 128), False), ((2, 16, 96), None),
                                          ((2, 16, 192), True)])
def test_stationary_dense_equals_numpy(shape, stream, target, rng):
    ext = _stationary(16, 64)
    wl = W.dense_bias_relu(*shape)
    s, args = hand.stationary(wl, ext, stream=stream)
    func = tir.lower(s, args)
    assert [e.name for e in func.extensions] == [ext.name]
    assert f"pragma cfu_words={hand.STATIONARY_WORDS}" in str(func)
    # batch 1 with K beyond the unit's 64 steps streams the whole K through the unit (one read per
    # column); otherwise every reduction block reads and adds its partial sums
    streamed = stream if stream is not None else shape[0] == 1
    assert ("dense_kblock" in str(func)) == streamed  # the rolled block loop inside the unit's nest
    _check(func, wl, rng, target)


def test_stream_intrinsic_refuses_bad_blocks():
    from isa_ext.errors import ExtensionError
    from isa_ext.fam_stationary import stream_intrinsic

    ext = _stationary(16, 64)
    with pytest.raises(ExtensionError, match="multiple of 8"):
        stream_intrinsic(ext, 12, 2)
    with pytest.raises(ExtensionError, match="at least one block"):
        stream_intrinsic(ext, 64, 0)
    with pytest.raises(ExtensionError, match="not a unit of the stationary family"):
        stream_intrinsic(isa_ext.get("mac4_i8"), 64, 2)


def test_stationary_refuses_what_it_cannot_schedule():
    ext = _stationary(16, 64)
    with pytest.raises(ScheduleError, match="not an operand-stationary unit"):
        hand.stationary(W.dense_bias_relu(1, 32, 64), "mac4_i8")
    with pytest.raises(ScheduleError, match="dense"):
        hand.stationary(W.matmul(8, 16, 16), ext)
    with pytest.raises(ScheduleError, match="columns"):
        hand.stationary(W.dense_bias_relu(1, 24, 64), ext)
    with pytest.raises(ScheduleError, match="does not divide"):
        hand.stationary(W.dense_bias_relu(1, 32, 96), ext, k_block=64)
