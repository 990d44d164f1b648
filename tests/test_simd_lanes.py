"""Lane-parallel ``fused`` ops (a SIMD add / relu: the DAG on 4 byte lanes per op) and word stores.

The three renderings agree lane by lane (semantics against numpy here, RTL and C model against the
semantics in Verilator over every byte pair in every lane); the intrinsic tensorizes an int8 stage
with one word load per operand and one word store (``tir.Store(..., lanes=4)``), checked against
numpy on the host and on the simulated SoC, where it takes under half the scalar stage's cycles;
misaligned or non-contiguous words are refused naming the buffer; the dataflow generator proposes the
4-lane op for plain and unrolled int8 elementwise bodies; the search's stage kernels offer a unit only
where it computes the stage (``isa_search.stages.elementwise_fits``).
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
import ops
import schedules
import simulator
import tir
from isa_ext.candidates import build_candidate
from isa_ext.dataflow import dataflow_candidates
from isa_ext.fam_fused import GRID_LANES, evaluate_lanes, fused_spec, parse
from isa_search.stages import elementwise_fits, stage_args
from isa_search.workloads import REQUANT
from schedules import autotune
from tir.printer import func_str

SAT_ADD = GRID_LANES[0]
RELU = GRID_LANES[1]
SHAPE = (1, 8, 8, 32)


def _ext(expr, a, b, lanes=4):
    ext = build_candidate(fused_spec(expr, a, b, lanes=lanes))
    isa_ext.register(ext, replace=True)
    return ext


def _words(x: np.ndarray) -> np.ndarray:
    lane = 1 << (8 * np.arange(4, dtype=np.uint32))
    return x.astype(np.int8).view(np.uint8).reshape(-1, 4).astype(np.uint32) @ lane


def test_lane_semantics_are_the_dag_on_each_byte(rng):
    a = rng.integers(-128, 128, 4 * 256, dtype=np.int64).astype(np.int8)
    b = rng.integers(-128, 128, 4 * 256, dtype=np.int64).astype(np.int8)
    a[:8] = [127, -128, 0, -1, 127, -128, 1, 100]
    b[:8] = [1, -1, 0, -1, 127, -128, -1, 100]
    sat = parse(*SAT_ADD)
    relu = parse(*RELU)
    got_sat = [evaluate_lanes(sat, int(x), int(y)) for x, y in zip(_words(a), _words(b))]
    got_relu = [evaluate_lanes(relu, int(x), 0) for x in _words(a)]
    np.testing.assert_array_equal(np.array(got_sat, np.uint32), _words(np.clip(a.astype(np.int32) + b, -128, 127)))
    np.testing.assert_array_equal(np.array(got_relu, np.uint32), _words(np.maximum(a, 0)))
    ext = _ext(*SAT_ADD)
    # four copies of the DAG: one per lane in the C model and in the Verilog
    assert ext.c_ops["fused"].count("return") == 1 and all(f"l{i}_t" in ext.c_ops["fused"] for i in range(4))
    assert all(f"fu_l{i}_a" in ext.verilog_comb for i in range(4))
    (t,) = ext.intrinsics
    assert t.facts.pattern == "elementwise" and t.facts.lanes == 4


def test_lanes_need_8_bit_inputs_and_result():
    with pytest.raises(isa_ext.ExtensionError, match="8-bit inputs and an 8-bit result"):
        fused_spec("a b add.int32", "int32", "int32", lanes=4)
    with pytest.raises(isa_ext.ExtensionError, match="8-bit inputs and an 8-bit result"):
        fused_spec("a cast.int32 b cast.int32 add.int32", "int8", "int8", lanes=4)  # an int32 result
    with pytest.raises(isa_ext.ExtensionError, match="lanes must be 1 or 4"):
        fused_spec("a b add.int8", "int8", "int8", lanes=2)
    # a scalar spec keeps its key (no lanes parameter); the lane one says it
    assert "lanes" not in fused_spec("a b add.int8", "int8", "int8").key
    assert "lanes=4" in fused_spec("a b add.int8", "int8", "int8", lanes=4).key


def test_lane_ops_verify_every_byte_pair_in_verilator():
    rep = isa_ext.verify(_ext(*SAT_ADD), n=300)
    assert rep.n_exhaustive == 65536 and "exhaustive" in rep.coverage["fused"]


def _sat_add_stage(shape):
    X = tir.placeholder(shape, "int8", name="X")
    Y = tir.placeholder(shape, "int8", name="Y")
    Z = tir.compute(shape, lambda *i: tir.min(tir.max(X[i].astype("int32") + Y[i].astype("int32"), tir.const(-128)),
                                              tir.const(127)).astype("int8"), name="Z")
    return X, Y, Z


def _lowered(ext, shape):
    X, Y, Z = _sat_add_stage(shape)
    s = schedules.create_schedule(Z)
    if ext is not None:
        _, li = s[Z].split(Z.op.axis[-1], factor=4)
        s[Z].tensorize(li, ext)
    return tir.lower(s, [X, Y, Z])


def test_a_simd_add_tensorizes_with_word_loads_and_stores(rng):
    ext = _ext(*SAT_ADD)
    shape = (6, 32)
    func = _lowered(ext, shape)
    src = codegen_c.emit(func, "vexriscv")
    # one word load per operand and one word store per 4 elements: no byte of Z stored alone
    assert "isaforge_store32(&Z[" in src and "isaforge_load32(&X[" in src
    assert "Z[" not in src.replace("isaforge_store32(&Z[", "")
    assert "(word of 4)" in func_str(func)
    x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
    y = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
    x[0, :4], y[0, :4] = [127, -128, 100, -100], [1, -1, 100, -100]
    want = np.clip(x.astype(np.int32) + y, -128, 127).astype(np.int8)
    z = np.zeros(shape, np.int8)
    codegen_c.build(func, "host")(x, y, z)
    np.testing.assert_array_equal(z, want)
    z[:] = 0
    unit = simulator.run(func, [x, y, z], "vexriscv")
    np.testing.assert_array_equal(z, want)
    z[:] = 0
    scalar = simulator.run(_lowered(None, shape), [x, y, z], "vexriscv")
    np.testing.assert_array_equal(z, want)
    assert unit.cycles * 2 < scalar.cycles, (unit.cycles, scalar.cycles)


def test_word_accesses_that_are_not_aligned_words_are_refused():
    ext = _ext(*SAT_ADD)
    X = tir.placeholder((6, 17), "int8", name="X")  # read from column 1 on: no word starts at a 4-byte boundary
    Y = tir.placeholder((6, 16), "int8", name="Y")
    Z = tir.compute((6, 16), lambda i, j: tir.min(tir.max(X[i, j + 1].astype("int32") + Y[i, j].astype("int32"),
                                                          tir.const(-128)), tir.const(127)).astype("int8"), name="Z")
    s = schedules.create_schedule(Z)
    _, li = s[Z].split(Z.op.axis[1], factor=4)
    s[Z].tensorize(li, ext)
    with pytest.raises(tir.ScheduleError, match="alignment: the word of X"):
        tir.lower(s, [X, Y, Z])
    X, Y, Z = _sat_add_stage((8, 8))
    s = schedules.create_schedule(Z)
    s[Z].reorder(Z.op.axis[1], Z.op.axis[0])
    _, li = s[Z].split(Z.op.axis[0], factor=4)  # the lanes along the rows: stride 8 elements
    s[Z].tensorize(li, ext)
    with pytest.raises(tir.ScheduleError, match="stride of X"):
        tir.lower(s, [X, Y, Z])


def test_word_store_in_the_ir():
    buf = tir.stmt.Buffer("Z", (8,), "int8", "global")
    st = tir.stmt.Store(buf, [tir.const(4)], tir.const(7, "uint32"), lanes=4)
    assert st.lanes == 4 and tir.stmt.Store(buf, [tir.const(0)], tir.const(1, "int8")).lanes == 1
    # a mutator keeps the lanes
    from tir.visit import StmtMutator

    assert StmtMutator().visit(tir.stmt.Store(buf, [tir.const(4) + 0], st.value, lanes=4)).lanes == 4


@pytest.mark.parametrize("unroll", [1, 8])
def test_dataflow_proposes_the_lane_op_for_int8_elementwise_bodies(unroll):
    for op, attrs, expr in (("add", dict(shape_a=SHAPE, shape_b=SHAPE, dtype="int8"), "a b add.int8"),
                            ("relu", dict(shape=SHAPE, dtype="int8"), RELU[0])):
        task = autotune.create_task("isa_search.stage", (*stage_args(op, **attrs), ""), "vexriscv")
        i = next(j for j in range(len(task.config_space)) if task.config_space.get(j)["unroll"].val == unroll)
        cands = dataflow_candidates({op: task.lower(i)}, top=None)
        lanes = [c for c in cands if c.spec.family == "fused" and c.spec.p.get("lanes") == 4]
        assert [c.spec.p["expr"] for c in lanes] == [expr], [c.spec.key for c in cands]
        assert lanes[0].gain > 0 and lanes[0].elementwise
        assert not [c for c in cands if c.spec.family in ("dot", "mac_bank", "stationary", "lane_mac")]


def test_a_stage_is_offered_only_the_units_that_compute_it():
    relu = _ext(*RELU)
    sat = _ext(*SAT_ADD)
    wrap = _ext("a b add.int8", "int8", "int8")
    add_args = stage_args("add", shape_a=SHAPE, shape_b=SHAPE, dtype="int8")
    relu_args = stage_args("relu", shape=SHAPE, dtype="int8")
    assert elementwise_fits(*relu_args, relu) and not elementwise_fits(*add_args, relu)
    assert elementwise_fits(*add_args, wrap) and not elementwise_fits(*add_args, sat)  # the add wraps
    assert not elementwise_fits(*stage_args("relu", shape=(1, 3, 5), dtype="int8"), relu)  # 5 elements a row
    assert not elementwise_fits(*relu_args, isa_ext.get("dot4_i8"))  # no elementwise intrinsic
    rq = stage_args("requantize", shape=(1, 64), **REQUANT)
    assert elementwise_fits(*rq, isa_ext.get("requant_i8")) and not elementwise_fits(*rq, relu)
    # the relu stage's numpy reference agrees with the op library's
    a = np.arange(-128, 128, dtype=np.int8).reshape(1, 8, 8, 4)
    np.testing.assert_array_equal(ops.get("relu").reference(a, shape=a.shape, dtype="int8"), np.maximum(a, 0))


# --------------------------------------------------------------------------------- packed requantize
def _packed_requant():
    from isa_ext.candidates import CandidateSpec

    ext = build_candidate(CandidateSpec.of("requant", latency=1, pack=4))
    isa_ext.register(ext, replace=True)
    return ext


def test_packed_requant_packs_four_results_per_word_and_verifies():
    ext = _packed_requant()
    assert [op.name for op in ext.ops][-2:] == ["requant_lo", "requant_hi"]
    assert [t.facts.lanes for t in ext.intrinsics] == [4, 1]  # four per word first, one where that does not fit
    st, sem = ext.initial_state(), ext.semantics
    sem["set_mult"](REQUANT["multiplier"], 0, 0, st)
    sem["set_shift_zp"](REQUANT["shift"] & 0xFFFFFFFF, REQUANT["zero_point"] & 0xFFFFFFFF, 0, st)
    accs = np.array([1000, -1000, 1 << 20, -(1 << 20)], np.int32)
    sem["requant_lo"](int(accs[0]) & 0xFFFFFFFF, int(accs[1]) & 0xFFFFFFFF, 0, st)
    word = sem["requant_hi"](int(accs[2]) & 0xFFFFFFFF, int(accs[3]) & 0xFFFFFFFF, 0, st)
    want = ops.get("requantize").reference(accs.reshape(1, 4), shape=(1, 4), **REQUANT)
    assert word == int(_words(want)[0])
    rep = isa_ext.verify(ext, n=3000)
    assert rep.n_ops >= 3000 and set(rep.coverage) >= {"requant_lo", "requant_hi"}


@pytest.mark.parametrize("shape", [(1, 4, 4, 64), (1, 64, 1, 1)])
def test_packed_requant_stage_is_exact_on_the_soc_and_faster(rng, shape):
    """The search's requantize stage with the packed unit (4 per word where the rows allow, else one
    at a time) against numpy on the host and the SoC; on rows of 64 it beats requant_i8's one per op."""
    from isa_search.stages import _elementwise_schedule

    ext = _packed_requant()
    wl = ops.get("requantize")(shape=shape, **REQUANT)
    x = rng.integers(-(1 << 20), 1 << 20, shape, dtype=np.int64).astype(np.int32)
    x.flat[:4] = [-(1 << 31), (1 << 31) - 1, 0, -1]
    want = ops.get("requantize").reference(x, shape=shape, **REQUANT)
    assert elementwise_fits(*stage_args("requantize", shape=shape, **REQUANT), ext)
    cycles = {}
    for unit in (ext, isa_ext.get("requant_i8")):
        s = schedules.create_schedule(wl.output)
        _elementwise_schedule(s, wl.output, 8 if shape[-1] % 8 == 0 else 1, unit)
        func = tir.lower(s, list(wl.args))
        src = codegen_c.emit(func, "vexriscv")
        y = np.zeros_like(want)
        codegen_c.build(func, "host")(x, y)
        np.testing.assert_array_equal(y, want)
        y[:] = 0
        cycles[unit.name] = simulator.run(func, [x, y], "vexriscv").cycles
        np.testing.assert_array_equal(y, want)
        if unit is ext:
            assert ("requant_hi" in src and "isaforge_store32" in src) == (shape[-1] % 4 == 0)
    if shape[-1] % 4 == 0:
        assert cycles[ext.name] < cycles["requant_i8"] * 0.85, cycles
