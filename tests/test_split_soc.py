"""The split-build SoC (simulator.soc_split: the CPU verilated once, each CFU verilated on its own and linked
to it) simulates exactly the monolithic SoC's cycles and gives the same outputs, and a second CFU reuses
the cached CPU build.

Real Verilator models throughout; each kernel runs on the monolithic model, the split one (its fast
evaluation) and the split one's reference evaluation (eval() on both edges, the CFU port iterated until
stable), all compared field by field.
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
import schedules
import tir
from codegen_c.emit import c_function_name
from schedules import hand
from schedules import workloads as W
from simulator.run import cfu_verilog, output_indices, stack_need
from simulator.soc_split import SPLIT_STATS, build_split_soc, cpu_build
from simulator.vexriscv import HARNESS_DIR, build_soc, run_kernel
from tir.errors import ArgumentError

pytestmark = pytest.mark.usefixtures("monolithic_soc")  # the default (monolithic) SoC build

MODES = {"monolithic": {"split": False}, "split": {"split": True}, "split_plain": {"split": True, "plain_eval": True}}


def _inputs(wl, seed=11):
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == "int8"
            else rng.integers(-5000, 5000, t.shape).astype(np.int32) for t in wl.inputs]


def _compare(func, arrays, ref):
    """Run ``func`` in every mode; assert identical counters and outputs (and the outputs equal ``ref``)."""
    src = codegen_c.emit(func, "vexriscv")
    cfu = cfu_verilog(func.extensions)
    outs = output_indices(func)
    seen = {}
    for mode, kw in MODES.items():
        args = [a.copy() for a in arrays]
        r = run_kernel(src, c_function_name(func), args, outputs=outs, cfu_verilog=cfu,
                       stack_bytes=stack_need(func), **kw)
        np.testing.assert_array_equal(args[outs[-1]], ref, err_msg=f"{mode}: wrong output")
        seen[mode] = ((r.cycles, r.cold_cycles, r.instret, r.cold_instret, r.total_cycles, r.stack_bytes),
                      [args[o].tobytes() for o in outs])
    base = seen["monolithic"]
    for mode, got in seen.items():
        assert got[0] == base[0], f"{mode} counters {got[0]} != monolithic {base[0]}"
        assert got[1] == base[1], f"{mode}: outputs differ from the monolithic build's"
    return base[0]


@pytest.mark.parametrize("sched", ["scalar", "dot4", "dot4_asm", "mac4"])
def test_matmul_cycles_identical(sched):
    wl = W.matmul(16, 16, 32)
    s, args = hand.SCHEDULES[sched](wl)
    func = tir.lower(s, args)
    if sched == "scalar":
        assert not func.extensions
    else:
        assert [e.name for e in func.extensions] == [f"{sched[:4]}_i8"]
    ins = _inputs(wl)
    counters = _compare(func, ins + [np.zeros(wl.output.shape, np.int32)], wl.ref(*ins))
    assert counters[0] > 0


def test_conv_with_mac4_cycles_identical():
    wl = W.conv2d_nchw(1, 8, 6, 6, 8, 3, stride=1, pad=1)
    s, args = hand.SCHEDULES["mac4"](wl)
    func = tir.lower(s, args)
    assert [e.name for e in func.extensions] == ["mac4_i8"]
    ins = _inputs(wl, 3)
    _compare(func, ins + [np.zeros(wl.output.shape, np.int32)], wl.ref(*ins))


def test_requant_unit_cycles_identical():
    """requant_i8 registers its answer (latency 1) and keeps set-up state."""
    from isa_ext.library import requantize

    p = (1518500250, -9, 12, -128, 127)
    rng = np.random.default_rng(5)
    x = rng.integers(-(2 ** 31), 2 ** 31, 64).astype(np.int32)
    X = tir.placeholder((len(x),), "int32", name="X")
    Q = tir.compute((len(x),), lambda i: tir.requantize(X[i], *p, dtype="int8"), name="Q")
    s = schedules.create_schedule(Q)
    s[Q].tensorize(Q.op.axis[0], isa_ext.get("requant_i8"))
    func = tir.lower(s, [X, Q])
    assert [e.name for e in func.extensions] == ["requant_i8"]
    ref = np.array([requantize(int(v), *p) for v in x], np.int8)
    _compare(func, [x, np.zeros(len(x), np.int8)], ref)


def test_second_cfu_reuses_the_cached_cpu_build():
    cpu_dir, _ = cpu_build()
    manifest = cpu_dir / "objects.txt"
    stamp = manifest.stat().st_mtime_ns
    before = SPLIT_STATS.cpu_builds
    hits = SPLIT_STATS.cpu_hits
    units = [(HARNESS_DIR / "null_cfu.v").read_text(), cfu_verilog([isa_ext.get("dot4_i8")]),
             cfu_verilog([isa_ext.get("mac4_i8"), isa_ext.get("requant_i8")])]
    builds = [build_split_soc(u) for u in units]
    assert SPLIT_STATS.cpu_builds == before, "a new CFU rebuilt the CPU"
    assert SPLIT_STATS.cpu_hits == hits + len(units)
    assert all(b.cpu_dir == cpu_dir and not b.cpu_built for b in builds)
    assert manifest.stat().st_mtime_ns == stamp
    assert len({b.exe for b in builds}) == len(units)  # one executable per unit
    for b in builds:
        assert (b.exe.parent / "cpu.txt").read_text().strip() == str(cpu_dir)
    assert build_soc(units[1], split=True) == builds[1].exe


def test_split_argument_is_checked():
    with pytest.raises(ArgumentError, match="split must be True, False or None"):
        build_soc(None, split="yes")


# Hand-written units on the dot4 matmul of test_sim_vexriscv (function 0: signed 4-lane int8 dot product):
# a zero-latency one whose rsp_valid is cmd_valid itself (a combinational path across the port each way
# the CPU allows), and one that registers its answer on the falling edge (the split harness then
# evaluates the unit, and only the unit, when the clock falls).
_DOT = """
    wire signed [7:0] a0 = cmd_payload_inputs_0[7:0],   b0 = cmd_payload_inputs_1[7:0];
    wire signed [7:0] a1 = cmd_payload_inputs_0[15:8],  b1 = cmd_payload_inputs_1[15:8];
    wire signed [7:0] a2 = cmd_payload_inputs_0[23:16], b2 = cmd_payload_inputs_1[23:16];
    wire signed [7:0] a3 = cmd_payload_inputs_0[31:24], b3 = cmd_payload_inputs_1[31:24];
    wire signed [31:0] dot = a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
"""
_PORTS = """module Cfu (input clk, input reset, input cmd_valid, output cmd_ready, input [9:0] cmd_payload_function_id,
            input [31:0] cmd_payload_inputs_0, input [31:0] cmd_payload_inputs_1, output rsp_valid,
            input rsp_ready, output [31:0] rsp_payload_outputs_0);"""
COMB_CFU = _PORTS + _DOT + """
    assign cmd_ready = rsp_ready;
    assign rsp_valid = cmd_valid;
    assign rsp_payload_outputs_0 = dot;
endmodule
"""
NEGEDGE_CFU = _PORTS + _DOT + """
    reg v;
    reg [31:0] r;
    assign cmd_ready = rsp_ready;  // rsp_ready is a CPU register: the same at both edges
    assign rsp_valid = v;
    assign rsp_payload_outputs_0 = r;
    always @(negedge clk) begin
        if (reset) v <= 1'b0;
        else begin v <= cmd_valid; r <= dot; end
    end
endmodule
"""


@pytest.mark.parametrize("cfu", [COMB_CFU, NEGEDGE_CFU], ids=["zero_latency", "negedge"])
def test_hand_written_units_cycles_identical(cfu):
    from test_sim_vexriscv import MATMUL_CFU, N, _operands

    a, b, ref = _operands(4)
    seen = set()
    for kw in MODES.values():
        c = np.zeros((N, N), np.int32)
        r = run_kernel(MATMUL_CFU, "matmul_cfu", [a, np.ascontiguousarray(b.T), c], cfu_verilog=cfu, **kw)
        np.testing.assert_array_equal(c, ref)
        seen.add((r.cycles, r.cold_cycles, r.instret, r.total_cycles))
    assert len(seen) == 1, seen


def test_split_default_governs_split_none(monkeypatch):
    import simulator.vexriscv as vx

    monkeypatch.setattr(vx, "SPLIT_DEFAULT", True)
    assert build_soc(None) == build_split_soc((HARNESS_DIR / "null_cfu.v").read_text()).exe
    monkeypatch.setattr(vx, "SPLIT_DEFAULT", False)
    assert build_soc(None) == build_soc(None, split=False) != build_soc(None, split=True)


def test_a_unit_that_ignores_back_pressure_hangs_every_build_alike():
    """A unit that drops responses (it ignores rsp_ready) stalls the CPU for good: every build must stall
    at the same place (a divergence anywhere before shows up in the stalled pipeline's PC)."""
    from test_sim_vexriscv import MATMUL_CFU, N, _operands

    from simulator.errors import SimTimeout

    broken = NEGEDGE_CFU.replace("assign cmd_ready = rsp_ready;", "assign cmd_ready = 1'b1;")
    assert broken != NEGEDGE_CFU
    a, b, _ = _operands(4)
    seen = set()
    for kw in MODES.values():
        with pytest.raises(SimTimeout) as info:
            run_kernel(MATMUL_CFU, "matmul_cfu", [a, np.ascontiguousarray(b.T), np.zeros((N, N), np.int32)],
                       cfu_verilog=broken, max_cycles=20_000, **kw)
        seen.add((info.value.cycles, info.value.pc))
    assert len(seen) == 1, seen


def test_split_env_variable_selects_the_build(monkeypatch):
    """ISAFORGE_SOC_SPLIT (what the instruction search sets for its measurement workers) decides split=None."""
    from simulator import vexriscv

    monkeypatch.setenv(vexriscv.SPLIT_ENV, "1")
    assert vexriscv._use_split(None) is True and vexriscv._use_split(False) is False
    monkeypatch.setenv(vexriscv.SPLIT_ENV, "0")
    assert vexriscv._use_split(None) is False
    monkeypatch.setenv(vexriscv.SPLIT_ENV, "yes")
    with pytest.raises(Exception, match="ISAFORGE_SOC_SPLIT must be 0 or 1"):
        vexriscv._use_split(None)


def test_a_job_carries_the_preparing_process_s_build_to_its_worker(monkeypatch):
    """The build choice of the process that prepares a measurement (the search sets ISAFORGE_SOC_SPLIT)
    travels in the Job: a worker (a Dask one, with its own environment) builds the SoC the same way."""
    from schedules.autotune.task import create_task
    from simulator import vexriscv
    from simulator.measure import prepare, run_job

    task = create_task("matmul_i8", (8, 8, 8, "dot4_i8"), "vexriscv")
    i = next(i for i in range(len(task.config_space)) if task.lower(i).extensions)
    monkeypatch.setenv(vexriscv.SPLIT_ENV, "1")
    job = prepare(task, i, "vexriscv")
    assert job.split is True
    monkeypatch.setenv(vexriscv.SPLIT_ENV, "0")  # the worker's own environment says monolithic
    assert prepare(task, i, "vexriscv").split is False
    monkeypatch.delenv(vexriscv.SPLIT_ENV)
    assert prepare(task, i, "vexriscv").split is None  # none given: the worker's default
    monkeypatch.setenv(vexriscv.SPLIT_ENV, "0")
    before = SPLIT_STATS.cfu_builds + SPLIT_STATS.cfu_hits
    res = run_job(job)
    assert res.valid, res.message
    assert SPLIT_STATS.cfu_builds + SPLIT_STATS.cfu_hits == before + 1  # the split build ran


def _candidate(family: str, **p):
    from isa_ext import candidates

    ext = candidates.build_candidate(candidates.CandidateSpec.of(family, **p))
    return isa_ext.register(ext, replace=True)


@pytest.mark.parametrize("family,params,template,args", [
    # the search's highest-ranked families: a weight tile held in the unit (16 MACs per instruction) and
    # a channel-parallel MAC bank whose weights are loaded into the unit per tap
    ("stationary", dict(cols=4, k=32, dtype="int8"), "matmul_i8", (8, 8, 32)),
    ("lane_mac", dict(lanes=4, accumulators=16), "depthwise_conv2d_nhwc_i8", (1, 5, 5, 16, 3, 3, 1, 1)),
], ids=["stationary", "lane_mac"])
def test_stateful_candidate_units_cycles_identical(family, params, template, args):
    """The stateful units the instruction search generates run with the same cycles on every build."""
    from schedules.autotune.task import create_task

    ext = _candidate(family, **params)
    task = create_task(template, (*args, ext.name), "vexriscv")
    # the first config (in space order) whose kernel runs on the unit
    func = next(f for f in (task.lower(i) for i in range(min(64, len(task.config_space)))) if ext in f.extensions)
    arrays = task.make_inputs(5)
    (ref,) = task.reference([a.copy() for a in arrays])
    counters = _compare(func, arrays, ref)
    assert counters[0] > 0
