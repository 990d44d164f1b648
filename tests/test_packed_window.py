"""conv2d_nhwc_i8 on packed window rows (channels not word-aligned, e.g. C = 1 of a first layer), the
unrolled requantize stage and the pool stages of the search: every output checked against numpy, on
the host and on the simulated VexRiscv (real Verilator)."""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
from codegen_c.emit import emit
from isa_ext import candidates
from isa_search.stages import STAGE_TEMPLATE, stage_args
from isa_search.workloads import REQUANT
from schedules.autotune import stationary
from schedules.autotune.task import create_task
from simulator.measure import DEFAULT_TIMEOUT_CYCLES, measure_one


def _unit(cols: int, k: int):
    ext = candidates.build_candidate(candidates.CandidateSpec.of("stationary", cols=cols, k=k, dtype="int8"))
    return isa_ext.register(ext, replace=True)


def _host_ok(task, i) -> None:
    f = task.lower(i)
    arrays = task.make_inputs(3)
    codegen_c.build(f, "host")(*arrays)
    for j, ref in zip(task.output_indices, task.reference(arrays)):
        np.testing.assert_array_equal(arrays[j], ref)


# C = 1 at stride 2 (kws's first layer, smaller), a window that is not a multiple of 8 (zero-filled
# lanes), padding, and C = 3
SHAPES = [(1, 13, 10, 1, 8, 5, 4, 2, 0), (1, 7, 7, 1, 6, 3, 3, 1, 1), (1, 6, 5, 3, 5, 2, 2, 1, 0)]


def test_packed_window_length():
    assert stationary.packed_window_k(1, 10, 4) == 40
    assert stationary.packed_window_k(1, 3, 3) == 16
    assert stationary.packed_window_k(3, 2, 2) == 16


@pytest.mark.parametrize("args", SHAPES, ids=str)
def test_stationary_unit_on_packed_rows_matches_numpy_on_host(args):
    ext = _unit(4, 32)
    task = create_task("conv2d_nhwc_i8", (*args, ext.name), "host")
    assert "k_block" in task.config_space.knobs  # the unit's rows space, along the packed window
    for i in range(len(task.config_space)):
        assert any(e is ext for e in task.lower(i).extensions)
        _host_ok(task, i)


@pytest.mark.parametrize("unit", ["dot4_i8", "mac4_i8"])
@pytest.mark.parametrize("args", SHAPES, ids=str)
def test_lane_units_on_packed_rows_match_numpy_on_host(unit, args):
    task = create_task("conv2d_nhwc_i8", (*args, unit), "host")
    choices = task.config_space.knobs["tensorize"].choices
    assert unit in choices
    used = [i for i in range(len(task.config_space)) if task.config_space.get(i).to_json()["knobs"]["tensorize"]]
    for i in used[:: max(1, len(used) // 4)]:
        assert task.lower(i).extensions
        _host_ok(task, i)


def test_rv32im_space_of_a_c1_conv_is_unchanged():
    """No unit: the scalar space along the channels, as before (rv32im baselines stay comparable)."""
    task = create_task("conv2d_nhwc_i8", (*SHAPES[0], ""), "host")
    assert "k_block" not in task.config_space.knobs
    assert task.config_space.knobs["tensorize"].choices == [None]
    assert "Col[" not in emit(task.lower(0), "host")


def test_kws_first_layer_on_vexriscv():
    """kws's conv 10x4 stride 2, C = 1 -> 64: a stationary unit and dot4_i8 on the packed rows, both
    checked against numpy by the measurement; both below the scalar code's cycles (untuned configs)."""
    args = (1, 49, 10, 1, 64, 10, 4, 2, 0)
    ext = _unit(4, 32)
    st = create_task("conv2d_nhwc_i8", (*args, ext.name), "vexriscv")
    r_st = measure_one(st, 0, "vexriscv", DEFAULT_TIMEOUT_CYCLES, 3)
    assert r_st.valid, r_st.message
    dot = create_task("conv2d_nhwc_i8", (*args, "dot4_i8"), "vexriscv")
    sp = dot.config_space
    i = sp.index_of({**sp.get(0).to_json()["knobs"], "tensorize": "dot4_i8", "k_steps": 10, "cfu_emit": "asm"})
    r_dot = measure_one(dot, i, "vexriscv", DEFAULT_TIMEOUT_CYCLES, 3)
    assert r_dot.valid, r_dot.message
    scalar = create_task("conv2d_nhwc_i8", (*args, ""), "vexriscv")
    r_sc = measure_one(scalar, 0, "vexriscv", DEFAULT_TIMEOUT_CYCLES, 3)
    assert r_sc.valid, r_sc.message
    # measured (one wait state, the calibrated default): 243,388 / 401,846 / 676,120 cycles
    assert r_st.cost < 0.4 * r_sc.cost and r_dot.cost < 0.75 * r_sc.cost, (r_st.cost, r_dot.cost, r_sc.cost)


def _rq_task(exts: str, target: str, shape=(1, 4, 2, 16)):
    return create_task(STAGE_TEMPLATE, (*stage_args("requantize", shape=shape, **REQUANT), exts), target)


def test_requantize_stage_unroll_knob_on_host():
    task = _rq_task("requant_i8", "host")
    assert task.config_space.knobs["unroll"].choices == [1, 4, 8]
    assert _rq_task("requant_i8", "host", (1, 12)).config_space.knobs["unroll"].choices == [1, 4]
    assert _rq_task("", "host", (1, 5, 1)).config_space.knobs["unroll"].choices == [1]
    for i in range(len(task.config_space)):
        _host_ok(task, i)


def test_unrolled_requantize_is_faster_on_vexriscv():
    task = _rq_task("requant_i8", "vexriscv", (1, 4, 4, 64))
    sp = task.config_space
    cost = {}
    for u in (1, 8):
        i = sp.index_of({**sp.get(0).to_json()["knobs"], "unroll": u, "tensorize": "requant_i8"})
        r = measure_one(task, i, "vexriscv", DEFAULT_TIMEOUT_CYCLES, 3)
        assert r.valid, r.message
        cost[u] = r.cost
    assert cost[8] < 0.8 * cost[1], cost


# --- the pool stages of the search's workloads --------------------------------------------------

KWS_POOL = dict(N=1, C=64, H=20, W=4, kh=20, kw=4, stride=1, dtype="int8")  # kws's global average pool


def _pool_task(op: str, target: str, **attrs):
    return create_task(STAGE_TEMPLATE, (*stage_args(op, **attrs), ""), target)


@pytest.mark.parametrize("op,attrs", [
    ("avg_pool2d", KWS_POOL),
    ("avg_pool2d", dict(N=1, C=3, H=6, W=5, kh=3, kw=2, stride=2, dtype="int8")),
    ("avg_pool2d", dict(N=1, C=4, H=8, W=8, k=4, stride=4, dtype="int8")),  # the square k / stride call
    ("max_pool2d", dict(N=1, C=16, H=16, W=16, k=2, stride=2, dtype="int8")),
], ids=str)
def test_pool_stage_matches_numpy_on_host(op, attrs):
    task = _pool_task(op, "host", **attrs)
    for i in range(len(task.config_space)):
        _host_ok(task, i)


def test_kws_pool_is_global_and_matches_numpy():
    """kws's pool: 20x4x64 -> 1x1x64 (the mean of every channel's 80 values, floored), then the
    requantize of those 64 values; the numpy reference is checked against a plain mean too."""
    from isa_search.workloads import kws

    wl = kws()
    pool = next(k for k in wl.kernels if k.op == "avg_pool2d")
    assert pool.task_args("") == (*stage_args("avg_pool2d", **KWS_POOL), "")
    rq = wl.kernels[wl.kernels.index(pool) + 1]
    assert rq.op == "requantize" and '"shape":[1,64,1,1]' in rq.args[1]
    task = _pool_task("avg_pool2d", "host", **KWS_POOL)
    a = task.make_inputs(3)
    (ref,) = task.reference(a)
    assert ref.shape == (1, 64, 1, 1)
    np.testing.assert_array_equal(ref[..., 0, 0], np.floor(a[0].astype(np.int64).sum(axis=(2, 3)) / 80))


def test_kws_pool_on_vexriscv():
    """The global pool and the square max pool on the simulated SoC, outputs checked against numpy."""
    for op, attrs in (("avg_pool2d", KWS_POOL), ("max_pool2d", dict(N=1, C=16, H=16, W=16, k=2, stride=2,
                                                                   dtype="int8"))):
        task = _pool_task(op, "vexriscv", **attrs)
        r = measure_one(task, 0, "vexriscv", DEFAULT_TIMEOUT_CYCLES, 3)
        assert r.valid, (op, r.message)
