"""The profile-guided, flattened SoC model (simulator.vexriscv.build_soc(pgo=True), the default) simulates
exactly the cycles of the reference model (plain_eval: Verilator's eval() on both edges, no profile, no
flattening) and of the build without a profile: the same counters, cycles, memory and outputs.

Real Verilator models and real gcc profiles throughout (each model is trained once, then cached).
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import tir
from codegen_c.emit import c_function_name
from schedules import hand
from schedules import workloads as W
from simulator import vexriscv as vx
from simulator.run import cfu_verilog, output_indices, stack_need
from simulator.vexriscv import build_soc, run_kernel
from tir.errors import ArgumentError
from toolchain.errors import VerilatorBuildError
from toolchain.verilator import PgoTraining, build_verilated

pytestmark = pytest.mark.usefixtures("monolithic_soc")  # the default (monolithic) SoC build

MODES = {"pgo": {"pgo": True}, "no_pgo": {"pgo": False}, "reference": {"plain_eval": True}}


def _counters(func, arrays, ref, wait_states=0):
    src = codegen_c.emit(func, "vexriscv")
    cfu = cfu_verilog(func.extensions)
    outs = output_indices(func)
    seen = {}
    for mode, kw in MODES.items():
        args = [a.copy() for a in arrays]
        r = run_kernel(src, c_function_name(func), args, outputs=outs, cfu_verilog=cfu, wait_states=wait_states,
                       stack_bytes=stack_need(func), split=False, **kw)
        np.testing.assert_array_equal(args[outs[-1]], ref, err_msg=f"{mode}: wrong output")
        seen[mode] = ((r.cycles, r.cold_cycles, r.instret, r.cold_instret, r.total_cycles, r.stack_bytes),
                      [args[o].tobytes() for o in outs])
    for mode, got in seen.items():
        assert got == seen["reference"], f"{mode}: {got[0]} != reference {seen['reference'][0]}"
    return seen["pgo"][0]


@pytest.mark.parametrize(("sched", "wait_states"), [("scalar", 0), ("mac4", 0), ("dot4", 2)])
def test_pgo_model_gives_the_reference_cycles(sched, wait_states):
    wl = W.matmul(16, 16, 32)
    s, args = hand.SCHEDULES[sched](wl)
    func = tir.lower(s, args)
    rng = np.random.default_rng(7)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    counters = _counters(func, ins + [np.zeros(wl.output.shape, np.int32)], wl.ref(*ins), wait_states)
    assert counters[0] > 0 and counters[2] > 0


def test_pgo_build_is_profile_guided_and_separate():
    """The default fast model really was compiled twice around a training run (its log), and it is a
    different executable from the build without a profile and from the reference."""
    exe = build_soc(None, pgo=True)
    log = (exe.parent / "build.log").read_text()
    if vx.PGO_DEFAULT and "no profile-guided build" not in log:
        assert "== instrumented build" in log and "== training run" in log and "== profile-guided build" in log
    assert len({exe, build_soc(None, pgo=False), build_soc(None, plain_eval=True)}) == 3
    assert build_soc(None) == build_soc(None, pgo=vx._use_pgo(None))


def test_negedge_unit_cycles_identical_under_pgo():
    """A unit with falling-edge logic: the fast model evaluates both edges (no posedge-only path); still
    the reference's cycles."""
    from test_sim_vexriscv import MATMUL_CFU, N, _operands
    from test_split_soc import NEGEDGE_CFU

    a, b, ref = _operands(4)
    seen = set()
    for kw in MODES.values():
        c = np.zeros((N, N), np.int32)
        r = run_kernel(MATMUL_CFU, "matmul_cfu", [a, np.ascontiguousarray(b.T), c], cfu_verilog=NEGEDGE_CFU,
                       split=False, **kw)
        np.testing.assert_array_equal(c, ref)
        seen.add((r.cycles, r.cold_cycles, r.instret, r.total_cycles))
    assert len(seen) == 1, seen


def test_pgo_argument_and_environment(monkeypatch):
    with pytest.raises(ArgumentError, match="pgo must be True, False or None"):
        build_soc(None, pgo="yes")
    monkeypatch.setenv(vx.PGO_ENV, "0")
    assert vx._use_pgo(None) is False and vx._use_pgo(True) is True
    monkeypatch.setenv(vx.PGO_ENV, "1")
    assert vx._use_pgo(None) is True
    monkeypatch.setenv(vx.PGO_ENV, "on")
    with pytest.raises(ArgumentError, match="ISAFORGE_SOC_PGO must be 0 or 1"):
        vx._use_pgo(None)


def test_pgo_needs_an_executable_build():
    training = PgoTraining("k", lambda exe: None)
    with pytest.raises(VerilatorBuildError, match="pgo must be a PgoTraining of an executable build"):
        build_verilated("m", {"m.v": "module m; endmodule\n"}, [], kind="pgo_test", lib=True, pgo=training)


def test_training_program_runs_on_the_models_it_trains():
    """The training program ends normally (exit 0: _pgo_train raises otherwise) with and without a unit,
    on the models with and without the profile, and they evaluate only rising edges."""
    mac4 = tir.lower(*hand.SCHEDULES["mac4"](W.matmul(4, 4, 4))).extensions
    for cfu in (None, cfu_verilog(mac4)):
        for pgo in (False, True):
            run = vx._pgo_train(build_soc(cfu, pgo=pgo))
            assert run.exit_code == 0 and run.eval_mode == "rise"  # the fast path survives --flatten and PGO
            assert 100_000 < run.cycles < vx.PGO_TRAIN_MAX_CYCLES
