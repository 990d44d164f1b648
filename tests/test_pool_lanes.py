"""An average pool summed by a lane-reduce unit: each window row's words against a word of ones.

The kws workload's global 20x4 pool over 64 channels, through the search's stage template: the space
offers the dot product where the window rows fit its lanes (not otherwise), the tensorized configs
equal numpy on the simulated VexRiscv (the measure checks every output) and are faster than every
scalar config; records of the space before the knobs existed still load."""

from __future__ import annotations

import isa_search  # noqa: F401 - registers the stage template
from isa_ext.candidates import CandidateSpec, build_candidate
from isa_search.stages import STAGE_TEMPLATE, stage_args
from schedules.autotune import create_task
from simulator.measure import make_measure

KWS_POOL = dict(N=1, C=64, H=20, W=4, kh=20, kw=4, stride=1, dtype="int8")


def _task(exts: str, **attrs):
    return create_task(STAGE_TEMPLATE, (*stage_args("avg_pool2d", **attrs), exts), "vexriscv")


def test_the_pool_offers_a_dot_product_only_where_its_rows_fit_the_lanes():
    import isa_ext

    dot = build_candidate(CandidateSpec.of("dot", dtype="int8", lanes=4))
    isa_ext.register(dot, replace=True)
    assert list(_task(f"dot4_i8,mac4_i8,{dot.name}", **KWS_POOL).config_space.knobs["tensorize"].choices) == \
        [None, "dot4_i8", dot.name]  # (an accumulator bank is no lane reduction)
    for attrs in (dict(N=1, C=8, H=8, W=8, k=2, stride=2, dtype="int8"),  # a 2-wide window: half a word
                  dict(N=1, C=8, H=8, W=6, k=4, stride=1, dtype="int8"),  # rows of 6 bytes: unaligned words
                  dict(N=1, C=8, H=8, W=8, k=4, stride=2, dtype="int8")):  # a window every 2 bytes
        assert list(_task("dot4_i8", **attrs).config_space.knobs["tensorize"].choices) == [None], attrs
    assert list(_task("dot4_i8", **dict(KWS_POOL, dtype="int16")).config_space.knobs["tensorize"].choices) == [None]


def test_the_kws_pool_with_dot4_equals_numpy_and_beats_every_scalar_config_on_the_soc():
    task = _task("dot4_i8", **KWS_POOL)
    sp = task.config_space
    zig = "zig:-O2"
    configs = [task.config({"compiler": zig, "tensorize": t, "window_acc": w})
               for t in (None, "dot4_i8") for w in ("memory", "register")]
    with make_measure("vexriscv", n_parallel=1) as m:
        res = m(task, configs)
    assert all(r.valid for r in res), [(r.error, r.message[:200]) for r in res]
    scalar_mem, scalar_reg, dot_mem, dot_reg = (r.cost for r in res)
    # the cycles are deterministic: 18,357 / 15,681 scalar, 15,801 / 8,147 with dot4_i8 (the register
    # sum lets the unrolled window rows run back to back)
    assert dot_reg * 1.8 < min(scalar_mem, scalar_reg), (scalar_mem, scalar_reg, dot_mem, dot_reg)
    assert scalar_reg < scalar_mem and dot_reg < dot_mem
    assert len(sp) == 5 * 2 * 2


def test_a_record_of_the_compiler_only_pool_space_loads_as_its_old_schedule():
    task = _task("dot4_i8", **KWS_POOL)
    sp = task.config_space
    old = {"index": 2, "knobs": {"compiler": sp.knobs["compiler"].choices[2]}}
    cfg = sp.from_json(old)
    assert cfg.index == 2 and cfg["tensorize"].name is None and cfg["window_acc"].val == "memory"


def test_the_search_tunes_the_kws_pool_with_a_lane_reduce_unit_only():
    """The search passes a unit to the pool's stage kernel only where it sums the pool's rows, so the
    pool's task (and its measurements) stays the rv32im one for every other unit."""
    import isa_ext
    from isa_search.search import _kernel_exts
    from isa_search.workloads import kws

    pool = next(k for k in kws().kernels if k.op == "avg_pool2d")
    dot4, requant = isa_ext.get("dot4_i8"), isa_ext.get("requant_i8")
    stationary = build_candidate(CandidateSpec.of("stationary", cols=4, k=64, dtype="int8"))
    assert _kernel_exts(pool, [dot4, requant]) == "dot4_i8"
    assert _kernel_exts(pool, [stationary, requant]) == "" and _kernel_exts(pool, [isa_ext.get("mac4_i8")]) == ""
    requant_stage = next(k for k in kws().kernels if k.op == "requantize")
    assert _kernel_exts(requant_stage, [dot4, requant]) == "requant_i8"
