"""Cache blocking and packing on the simulated VexRiscv (4 KiB direct-mapped D-cache): every kernel
equals numpy, and the blocked schedules take fewer (deterministic) cycles than the unblocked ones at
shapes whose B does not fit the cache."""

import numpy as np
import pytest

import ops
import simulator
import tir
from schedules import autotune, hand


def _run(wl, s, args, seed=0):
    rng = np.random.default_rng(seed)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == "int8"
           else rng.integers(-5000, 5000, t.shape).astype(np.int32) for t in wl.inputs]
    out = np.full(wl.output.shape, 0x5A, np.int32)
    r = simulator.run(tir.lower(s, args), ins + [out], "vexriscv", ram_kib=512)
    np.testing.assert_array_equal(out, wl.ref(*ins))
    return r.cycles


@pytest.mark.parametrize("op", ["matmul_nt", "matmul"])
def test_mac4_cache_blocks_beat_unblocked_and_packing_stays_exact(op):
    wl = ops.get(op)(128, 64, 128)  # B: 8 KiB
    blocked = _run(wl, *hand.mac4(wl))  # default: cache blocks of columns, no copy
    plain = _run(wl, *hand.mac4(wl, block=0))
    packed = _run(wl, *hand.mac4(wl, pack=True))  # B's block copied per block: still exact
    assert blocked < plain and blocked < packed, (blocked, plain, packed)


def test_mac4_cache_blocks_without_packing_beat_unblocked():
    wl = ops.get("matmul_nt")(48, 80, 96)
    blocked = _run(wl, *hand.mac4(wl, pack=False))
    plain = _run(wl, *hand.mac4(wl, block=0))
    assert blocked < plain, (blocked, plain)


def test_dot4_asm_chunked_reduction_beats_rolled_lane_loop():
    """K = 128: 32 lane steps, more than the straight-line cap; chunks of 16 straight-line lane
    steps in a rolled loop (the default) beat one lane step per iteration (k_chunk=1)."""
    wl = ops.get("matmul_nt")(32, 64, 128)
    chunked = _run(wl, *hand.dot4(wl, asm=True))
    rolled = _run(wl, *hand.dot4(wl, asm=True, k_chunk=1, block=0))
    assert chunked < rolled, (chunked, rolled)


def test_batch1_dense_mac4_equals_numpy():
    wl = ops.get("dense")(1, 32, 128, bias=True, relu=True)
    assert _run(wl, *hand.mac4(wl)) > 0


@pytest.mark.parametrize("knobs", [
    {"pack": True, "cache_block": 4, "cache_axis": "b", "tensorize": "mac4_i8"},
    {"pack": False, "cache_block": 2, "cache_axis": "a", "tensorize": "dot4_i8", "cfu_emit": "asm", "k_steps": 4},
    {"pack": False, "cache_block": 3, "cache_axis": "b", "tensorize": "dot4_i8", "cfu_words": 4},
])
def test_template_memory_configs_on_the_soc(knobs):
    task = autotune.create_task("matmul_i8", (16, 48, 96), "vexriscv")
    sp = task.config_space
    base = {n: sp.knobs[n].choices[0] for n in sp.knobs}
    base.update({"tile_a": [4, 4], "tile_b": [12, 4]}, **knobs)
    cfg = sp.get(sp.index_of(base))
    arrays = task.make_inputs(2)
    func = task.lower(cfg)
    simulator.run(func, arrays, "vexriscv")
    outs = [a for a, spec in zip(arrays, task.arg_specs) if spec[2]]
    for o, w in zip(outs, task.reference(arrays)):
        np.testing.assert_array_equal(o, w)


@pytest.mark.parametrize("sched", ["dot4", "dot4_asm", "mac4"])
def test_depthwise_phase_copies_beat_scalar(sched):
    """Depthwise 3x3 stride 1: the tensorized schedules read phase-shifted row copies (no im2col) and
    take fewer cycles than the best scalar schedule."""
    wl = ops.get("depthwise_conv2d_nchw")(1, 16, 16, 16, 3, pad=1)
    fast = _run(wl, *hand.SCHEDULES[sched](wl))
    scalar = _run(wl, *hand.scalar_best(wl))
    assert fast < scalar, (fast, scalar)


@pytest.mark.parametrize("shape,kw", [((2, 3, 9, 12, 5), dict(pad=2)), ((1, 4, 7, 10, 3), {}),
                                      ((1, 4, 10, 10, 3), dict(stride=2, pad=1))])
@pytest.mark.parametrize("sched", ["dot4", "dot4_asm", "mac4"])
def test_depthwise_shapes_equal_numpy(shape, kw, sched):
    wl = ops.get("depthwise_conv2d_nchw")(*shape, **kw)
    assert _run(wl, *hand.SCHEDULES[sched](wl), seed=3) > 0


@pytest.mark.parametrize("shape,kw", [((1, 8, 8, 20, 24, 3), dict(pad=1, weight_layout="OHWI")),
                                      ((1, 7, 7, 16, 12, 1), {}), ((1, 9, 9, 8, 40, 3), dict(stride=2, pad=1))])
def test_conv_nhwc_unit_direct_equals_numpy(shape, kw):
    """The mac4 NHWC convolutions whose weights exceed the D-cache (or 1x1): the unit's tile written
    directly, filter-tile blocks outermost."""
    wl = ops.get("conv2d_nhwc")(*shape, **kw)
    assert _run(wl, *hand.mac4(wl), seed=4) > 0
