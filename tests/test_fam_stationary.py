"""The operand-stationary candidate family (isa_ext.fam_stationary) end to end: every grid member
verified in Verilator, the stationary schedules of matmul_i8 / dense_i8 / conv2d_nhwc_i8 bit-exact
against numpy on the host and on the simulated VexRiscv (with column and reduction tails), and the
issue's goal: a stationary unit past 4 MAC/cycle on int8 matmul 64^3 (a stateless dot4 cannot pass 2.0)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import codegen_c
import isa_ext
from isa_ext import candidates
from isa_ext.errors import VerifyError
from isa_ext.fam_stationary import stationary_params
from schedules.autotune import stationary
from schedules.autotune.task import create_task
from simulator.measure import DEFAULT_TIMEOUT_CYCLES, measure_one

GRID = candidates.enumerate_family("stationary")


def _unit(cols: int, k: int):
    ext = candidates.build_candidate(candidates.CandidateSpec.of("stationary", cols=cols, k=k, dtype="int8"))
    return isa_ext.register(ext, replace=True)


def test_grid_and_encodings():
    assert {(s.p["cols"], s.p["k"]) for s in GRID} == {(c, k) for c in (2, 4, 8, 16) for k in (32, 64)}
    for spec in GRID:
        ext = candidates.build_candidate(spec)
        cols = spec.p["cols"]
        assert stationary_params(ext) == (cols, spec.p["k"])
        assert {op.funct3 for op in ext.ops} <= {0, 1, 2, 3, 4, 6, 7}
        # shares one CFU with requant_i8 (funct3 5) without collisions
        isa_ext.ExtensionSet([ext, isa_ext.get("requant_i8")])
        (intr,) = ext.intrinsics
        f = intr.facts
        assert (f.pattern, f.lanes, f.macs_per_op, f.accumulators) == ("rows", 4, 8 * cols, cols)
        d = spec.describe()
        assert "\n" not in d and f"{8 * cols} MACs per op" in d


@pytest.mark.parametrize("spec", GRID, ids=lambda s: s.key)
def test_every_member_verifies_in_verilator(spec):
    rep = isa_ext.verify(candidates.build_candidate(spec), n=600)
    assert "agree" in str(rep)


def test_verify_catches_a_broken_datapath():
    """The three implementations are independent: an RTL adder tree that drops a product is caught."""
    ext = candidates.build_candidate(candidates.CandidateSpec.of("stationary", cols=2, k=32, dtype="int8"))
    broken = dataclasses.replace(ext, name="c_stationary_broken",
                                 verilog_comb=ext.verilog_comb.replace(" + {{16{ws_p1_13[15]}}, ws_p1_13}", ""))
    assert broken.verilog_comb != ext.verilog_comb
    with pytest.raises(VerifyError):
        isa_ext.verify(broken, n=600)


# template, args: column tails (N % cols), reduction blocks (K > k) and reduction tails (K % 8), a 3x3 conv
HOST_CASES = [
    ("matmul_i8", (8, 8, 64)), ("matmul_i8", (5, 13, 100)), ("matmul_i8", (4, 10, 20)), ("matmul_i8", (16, 9, 12)),
    ("dense_i8", (3, 10, 72)), ("conv2d_nhwc_i8", (1, 4, 4, 20, 6, 1, 1, 1, 0)),
    ("conv2d_nhwc_i8", (1, 6, 6, 24, 4, 1, 1, 2, 0)), ("conv2d_nhwc_i8", (1, 5, 5, 8, 5, 3, 3, 1, 1)),
]


def _check(task, config, target, unit=True):
    f = task.lower(config)
    assert any(e.name.startswith("c_stationary") for e in f.extensions) == unit
    arrays = task.make_inputs(3)
    if target == "host":
        codegen_c.build(f, "host")(*arrays)
        for i, ref in zip(task.output_indices, task.reference(arrays)):
            np.testing.assert_array_equal(arrays[i], ref)
    else:
        r = measure_one(task, task.config(config).index, target, DEFAULT_TIMEOUT_CYCLES, 3)
        assert r.valid, r.message  # measure_one checks every output against the numpy reference
        return r.cost


@pytest.mark.parametrize("cols,k", [(4, 32), (8, 64)])
@pytest.mark.parametrize("tmpl,args", HOST_CASES, ids=[f"{t}{a}" for t, a in HOST_CASES])
def test_every_config_matches_numpy_on_host(cols, k, tmpl, args):
    ext = _unit(cols, k)
    task = create_task(tmpl, (*args, ext.name), "host")
    K, N = (args[2], args[1]) if tmpl != "conv2d_nhwc_i8" else (args[3], args[4])
    unit = N >= cols  # fewer columns than the unit holds: the template offers only its scalar space
    assert (stationary.plan(ext.name, K, N).ext is not None) == unit
    space = task.config_space
    assert len(space) >= 2
    # the whole stationary space; of a scalar space, a sample
    for i in range(len(space)) if unit else range(0, len(space), max(1, len(space) // 6)):
        _check(task, i, "host", unit)


@pytest.mark.parametrize("tmpl,args", [("matmul_i8", (5, 13, 100)), ("dense_i8", (3, 10, 44)),
                                       ("conv2d_nhwc_i8", (1, 4, 4, 20, 6, 1, 1, 1, 0)),
                                       ("conv2d_nhwc_i8", (1, 5, 5, 8, 5, 3, 3, 1, 1))])
def test_tuned_configs_match_numpy_on_vexriscv(tmpl, args):
    ext = _unit(4, 32)
    task = create_task(tmpl, (*args, ext.name), "vexriscv")
    space = task.config_space
    # both loop orders, two compilers
    picks = {space.index_of({**space.get(0).to_json()["knobs"], "order": o, "compiler": c})
             for o in ("nk", "kn") for c in ("zig:-O2", "gcc:-O2")}
    costs = {i: _check(task, i, "vexriscv") for i in sorted(picks)}
    assert all(c > 0 for c in costs.values())


def test_unsuitable_shapes_offer_no_stationary_unit():
    """K % 4 != 0 (rows not word-aligned), K < 8 or N < cols: the template offers nothing of the unit."""
    ext = _unit(4, 32)
    p = stationary.plan(f"{ext.name},dot4_i8", 10, 8)
    assert p.ext is None and p.rest == "dot4_i8" and "axis K = 10" in p.why
    assert stationary.plan(ext.name, 4, 8).ext is None
    assert "axis N = 3" in stationary.plan(ext.name, 16, 3).why
    assert stationary.plan(ext.name, 16, 4).ext is ext
    for args in ((4, 4, 10), (4, 4, 4), (4, 3, 16)):
        task = create_task("matmul_i8", (*args, ext.name), "host")
        assert task.config_space.knobs["tensorize"].choices == [None]
        _check_scalar = task.lower(0)
        assert not _check_scalar.extensions


def test_matmul_64_cubed_reaches_4_mac_per_cycle_on_vexriscv():
    """The best unit of the family (8 columns x 64 steps, 64 MACs per op), its best config: deterministic
    simulated cycles, output checked against numpy."""
    ext = _unit(8, 64)
    task = create_task("matmul_i8", (64, 64, 64, ext.name), "vexriscv")
    cfg = task.config_space.index_of({"k_block": 64, "rows": 64, "order": "nk", "unroll": 2,
                                         "compiler": "zig:-O2"})
    cycles = _check(task, cfg, "vexriscv")
    assert 64 ** 3 / cycles >= 4.0, cycles


def test_xgb_tuning_with_a_stationary_unit_on_vexriscv(tmp_path):
    """The tuner path a search takes: XGB over the stationary space of a dense layer with column and
    reduction tails, every measured output checked in the measure function; the best config again on
    the host against numpy."""
    from schedules.autotune import XGBTuner
    from simulator.measure import make_measure

    ext = _unit(8, 32)
    task = create_task("dense_i8", (4, 12, 76, ext.name), "vexriscv")
    measure = make_measure("vexriscv", n_parallel=1)
    try:
        res = XGBTuner(task, seed=0).tune(8, measure, records=str(tmp_path / "st.jsonl"))
    finally:
        close = getattr(measure, "close", None)
        if close is not None:
            close()
    assert res.n_errors == 0 and res.best_config is not None
    host = create_task("dense_i8", (4, 12, 76, ext.name), "host")
    _check(host, {"knobs": {k: v for k, v in res.best_config.to_json()["knobs"].items()}}, "host")


def test_a_hand_written_rows_unit_gets_the_same_space():
    """Any extension whose intrinsic declares pattern "rows" (here examples/stationary_unit.py's, attached
    to a fresh copy of its extension) gets the stationary space, at its one reduction length."""
    from conftest import load_example

    ex = load_example("stationary_unit")
    ext = ex.wstat4_i8("wstat4_i8_rows_test")
    ext.intrinsics.append(ex.stationary_intrinsic(ext, 64))
    isa_ext.register(ext, replace=True)
    assert stationary.unit_shape(ext) == (4, 64) and stationary.k_blocks(ext, 100) == [64]
    assert stationary.plan(ext.name, 32, 8).ext is None  # shorter than its reduction
    task = create_task("matmul_i8", (6, 10, 100, ext.name), "host")
    assert "k_block" in task.config_space.knobs
    for i in range(0, len(task.config_space), 3):
        f = task.lower(i)
        assert [e.name for e in f.extensions] == [ext.name]
        arrays = task.make_inputs(5)
        codegen_c.build(f, "host")(*arrays)
        np.testing.assert_array_equal(arrays[2], task.reference(arrays)[0])
