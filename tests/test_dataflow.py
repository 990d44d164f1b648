"""isa_ext.dataflow (candidates from the loop bodies of lowered kernels) and the ``fused`` family.

The enumeration is checked against a brute force over every subset of small random DAGs; the
recognizer on int8 matmul (scalar and unrolled), max pool and requantize; a fused candidate found in
a kernel is built, verified in Verilator and tensorized, checked against numpy on the host and on
the simulated SoC.
"""

from __future__ import annotations

import itertools
import json
import random

import networkx as nx
import numpy as np
import pytest

import codegen_c
import isa_ext
import ops
import schedules
import simulator
import tir
from isa_ext.candidates import CandidateSpec, build_candidate, enumerate_family
from isa_ext.dataflow import (
    CycleModel,
    dataflow_candidates,
    dataflow_graph,
    enumerate_subgraphs,
    innermost_bodies,
    input_cost,
    input_nodes,
    is_valid,
    pattern_text,
)
from isa_ext.fam_fused import evaluate, fused_spec, parse

MAC_FAMILIES = {"dot", "mac_bank", "stationary", "lane_mac"}


def _matmul(M=64, N=64, K=64, unroll=False):
    wl = ops.get("matmul_nt")(M=M, N=N, K=K, dtype_in="int8")
    C = wl.output
    s = schedules.create_schedule(C)
    if unroll:  # the README's 4x4 accumulator tile, reduction split by 4, everything inside unrolled
        CL = s.cache_write(C, "local")
        _io, jo, _ii, _ji = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 4)
        s[CL].compute_at(s[C], jo)
        ic, jc = CL.op.axis
        ko, ki = s[CL].split(CL.op.reduce_axis[0], 4)
        s[CL].reorder(ko, ic, jc, ki)
        for ax in (ic, jc, ki):
            s[CL].unroll(ax)
    return tir.lower(s, wl.args)


def _lower(wl):
    return tir.lower(schedules.create_schedule(wl.output), wl.args)


def _relu_add(n, name="R"):
    A = tir.placeholder((n,), "int32", name="A")
    B = tir.placeholder((n,), "int32", name="B")
    R = tir.compute((n,), lambda i: tir.max(A[i] + B[i], tir.const(0)), name=name)
    return A, B, R


# --------------------------------------------------------------------------------- loop bodies
def test_innermost_bodies_count_executions():
    f = _matmul(16, 8, 32)
    (body,) = innermost_bodies(f)
    assert body.executions == 16 * 8 * 32
    g = dataflow_graph(body.stmt, body)
    kinds = sorted(g.nodes[n]["kind"] for n in g)
    assert kinds == ["add", "load", "load", "load", "mul", "store"]
    acc = [n for n in g if g.nodes[n]["kind"] == "load" and g.nodes[n]["carried"]]
    assert len(acc) == 1 and g.nodes[acc[0]]["buffer"] == "C"
    strides = sorted(g.nodes[n]["stride"] for n in g if g.nodes[n]["kind"] == "load" and not g.nodes[n]["carried"])
    assert strides == [1, 1]


def test_unrolled_body_forwards_stores():
    f = _matmul(unroll=True)
    bodies = [b for b in innermost_bodies(f) if b.loop_var.name == "k.outer"]
    (body,) = bodies
    assert body.executions == 16 * 16 * 16
    g = dataflow_graph(body.stmt, body)
    kinds = [g.nodes[n]["kind"] for n in g]
    # 16 chains of 4 MACs, one live store per accumulator, 4 + 4 words of A / Bt shared by the chains
    assert kinds.count("mul") == 64 and kinds.count("add") == 64 and kinds.count("store") == 16
    assert kinds.count("load") == 16 + 16 + 16


# --------------------------------------------------------------------------------- enumeration
def _random_dag(rng: random.Random, n_ops: int) -> nx.DiGraph:
    g = nx.DiGraph()
    loads = []
    for k in range(rng.randint(3, 7)):  # byte loads of one row at nearby offsets pack into words
        buf = rng.choice("PQ")
        g.add_node(("l", k), kind="load", dtype="int32", elem=rng.choice(["int8", "int8", "int32"]), buffer=buf,
                   sym=(("i", 1),), offset=rng.randint(0, 7), stride=0, carried=rng.random() < 0.2, label="ld")
        loads.append(("l", k))
    g.add_node("c", kind="const", dtype="int32", value=3, label="3")
    ops_ = []
    for k in range(n_ops):
        node = ("o", k)
        g.add_node(node, kind=rng.choice(["add", "mul", "max", "sub"]), dtype="int32", label="op")
        srcs = []
        while len(srcs) < 2:  # mostly earlier ops (deep chains, shared values), else loads or the constant
            pool = ops_ if ops_ and rng.random() < 0.6 else loads + ["c"]
            src = rng.choice(pool)
            if src not in srcs:
                srcs.append(src)
        for pos, src in enumerate(srcs):
            g.add_edge(src, node, pos=pos)
        ops_.append(node)
    for k, o in enumerate(ops_):
        if rng.random() < 0.3 or not list(g.successors(o)):
            g.add_node(("s", k), kind="store", dtype="int32", label="st")
            g.add_edge(o, ("s", k), pos=0)
    return g


def _brute(g, **kw):
    op_nodes = [n for n in g if g.nodes[n]["kind"] not in ("load", "const", "store")]
    out = set()
    for r in range(1, len(op_nodes) + 1):
        for s in itertools.combinations(op_nodes, r):
            if is_valid(g, s, **kw):
                out.add(frozenset(s))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_enumeration_equals_brute_force(seed):
    rng = random.Random(seed)
    g = _random_dag(rng, rng.randint(3, 11))
    for kw in (dict(max_inputs=2, max_outputs=1), dict(max_inputs=2, max_outputs=1, stateful=True),
               dict(max_inputs=3, max_outputs=2, pack=False), dict(max_inputs=2, max_outputs=2, stateful=True),
               dict(max_inputs=1, max_outputs=1, max_nodes=3)):
        kw.setdefault("max_nodes", 12)
        got = set(enumerate_subgraphs(g, **kw))
        assert got == _brute(g, **kw), (seed, kw)
        for s in got:  # the limits hold for every candidate
            assert input_cost(g, input_nodes(g, s), stateful=kw.get("stateful", False),
                              pack=kw.get("pack", True)) <= kw["max_inputs"]


def test_state_lifts_the_input_limit():
    """acc + a * b has three register inputs, two when the accumulator stays in the unit."""
    (body,) = innermost_bodies(_matmul(8, 8, 8))
    g = dataflow_graph(body.stmt, body)
    mac = frozenset(n for n in g if g.nodes[n]["kind"] in ("add", "mul"))
    assert mac not in enumerate_subgraphs(g, 2, 1)
    assert mac in enumerate_subgraphs(g, 2, 1, stateful=True)
    assert mac in enumerate_subgraphs(g, 3, 1)


def test_unrolled_bodies_enumerate_within_bounds():
    (body,) = [b for b in innermost_bodies(_matmul(unroll=True)) if b.loop_var.name == "k.outer"]
    g = dataflow_graph(body.stmt, body)
    subs = enumerate_subgraphs(g, 2, 1, max_nodes=8, stateful=True, limit=300)
    assert 0 < len(subs) <= 300 and all(len(s) <= 8 for s in subs)
    # a whole 4-MAC chain with packed operands is one candidate: two words in, the accumulator inside
    chain = [s for s in subs if sum(g.nodes[n]["kind"] == "mul" for n in s) == 4 and len(s) == 8]
    assert chain


# --------------------------------------------------------------------------------- recognizer
@pytest.mark.parametrize("unroll", [False, True])
def test_matmul_proposes_dot_like_units(unroll):
    cands = dataflow_candidates({"matmul_i8_64": _matmul(unroll=unroll)}, top=5)
    fams = [c.spec.family for c in cands[:3]]
    assert "dot" in fams and "mac_bank" in fams
    assert CandidateSpec.of("stationary", cols=4, k=64, dtype="int8").key in [c.spec.key for c in cands]
    assert all(c.spec.source == "dataflow" for c in cands)
    dot = next(c for c in cands if c.spec.family == "dot")
    assert dot.spec.key == CandidateSpec.of("dot", lanes=4, dtype="int8").key
    assert dot.gain > 0 and dot.kernels == ("matmul_i8_64",) and "products of int8" in dot.pattern
    build_candidate(dot.spec)  # a real family spec
    d = json.loads(json.dumps(dot.to_json()))
    assert CandidateSpec.from_json(d["spec"]) == dot.spec and d["kernels"] == ["matmul_i8_64"]


def test_max_pool_proposes_no_mac_unit():
    cands = dataflow_candidates({"pool": _lower(ops.get("max_pool2d")(N=1, C=8, H=16, W=16))}, top=None)
    assert not MAC_FAMILIES & {c.spec.family for c in cands}
    simd = [c for c in cands if c.spec.family == "simd_max"]
    assert simd and simd[0].spec.p == {"lanes": 4, "dtype": "int8"} and simd[0].gain > 0


def test_depthwise_nhwc_proposes_a_lane_parallel_mac():
    """Channels are adjacent in NHWC: the products move by one byte along the channel loop, not along
    the reduction, so the unit is lane-parallel (no dot product)."""
    H, W, C = 10, 10, 16
    A = tir.placeholder((H, W, C), "int8", name="A")
    Wt = tir.placeholder((3, 3, C), "int8", name="Wt")
    ry = tir.reduce_axis((0, 3), "ry")
    rx = tir.reduce_axis((0, 3), "rx")
    Out = tir.compute((H - 2, W - 2, C), lambda y, x, c: tir.sum(
        A[y + ry, x + rx, c].astype("int32") * Wt[ry, rx, c].astype("int32"), axis=[ry, rx]), name="dw")
    cands = dataflow_candidates({"dw": tir.lower(schedules.create_schedule(Out), [A, Wt, Out])}, top=None)
    fams = [c.spec.family for c in cands]
    assert fams[0] == "lane_mac" and not {"dot", "mac_bank", "stationary"} & set(fams)
    assert cands[0].gain == pytest.approx(8 * 8 * C * 9 * 3.0)  # 4 cycles per MAC in software, 1 in the unit


def test_requantize_proposes_requant_or_fused():
    wl = ops.get("requantize")(shape=(16, 16), multiplier=1518500250, shift=-7, zero_point=-3)
    cands = dataflow_candidates({"rq": _lower(wl)}, top=None)
    assert cands[0].spec.key == CandidateSpec.of("requant", latency=1).key
    assert cands[0].gain == pytest.approx(256 * (CycleModel().call + 5 - CycleModel().cfu))
    assert not MAC_FAMILIES & {c.spec.family for c in cands}
    fused = [c for c in cands if c.spec.family == "fused"]
    assert fused and all(c.gain < cands[0].gain for c in fused)
    assert not any(c.elementwise for c in fused)  # they read the q_multiply_shift result, not a tensor


def test_isomorphic_patterns_merge_across_kernels():
    A, B, R = _relu_add(64)
    X = tir.placeholder((8, 12), "int32", name="X")
    Y = tir.placeholder((8, 12), "int32", name="Y")
    Z = tir.compute((8, 12), lambda i, j: tir.max(tir.const(0), Y[i, j] + X[i, j]), name="Z")  # operands swapped
    funcs = {"k1": tir.lower(schedules.create_schedule(R), [A, B, R]),
             "k2": tir.lower(schedules.create_schedule(Z), [X, Y, Z])}
    cands = [c for c in dataflow_candidates(funcs, top=None) if c.spec.family == "fused"]
    assert len(cands) == 1
    (c,) = cands
    assert c.kernels == ("k1", "k2") and c.occurrences == 64 + 96
    assert c.gain == pytest.approx((64 + 96) * (CycleModel().minmax + CycleModel().add - CycleModel().cfu))
    # the pattern text is the canonical form of both bodies
    texts, graphs = set(), []
    for f in funcs.values():
        (b,) = innermost_bodies(f)
        g = dataflow_graph(b.stmt, b)
        texts.add(pattern_text(g, {n for n in g if g.nodes[n]["kind"] in ("add", "max")}))
        graphs.append(g)
    assert texts == {c.pattern}
    # the canonical text agrees with networkx isomorphism (operation kinds and dtypes matched)
    same = lambda x, y: (x["kind"], x["dtype"]) == (y["kind"], y["dtype"])  # noqa: E731
    assert nx.is_isomorphic(graphs[0], graphs[1], node_match=same)
    # and two kernels with the same matmul merge into one dot candidate naming both
    mm = dataflow_candidates({"a": _matmul(16, 16, 16), "b": _matmul(8, 8, 32)}, top=None)
    dot = [c for c in mm if c.spec.family == "dot"]
    assert len(dot) == 1 and dot[0].kernels == ("a", "b")


# --------------------------------------------------------------------------------- the fused family
def test_fused_dag_semantics_and_errors():
    root = parse("a int32:256 div.int32 int32:m128 max.int32 int32:127 min.int32 cast.int8", "int32", "")
    for x in (0, 255, 256, -1, -257, 1 << 20, -(1 << 20), 0x7FFFFFFF):
        assert evaluate(root, x & 0xFFFFFFFF, 0) == int(np.clip(x // 256, -128, 127))
    root = parse("a b add.int8", "int8", "int8")
    assert evaluate(root, 0x7F, 0x01) == -128  # int8 wraps
    with pytest.raises(isa_ext.ExtensionError, match="power-of-two"):
        parse("a int32:3 div.int32", "int32", "")
    with pytest.raises(isa_ext.ExtensionError, match="takes int32 operands"):
        parse("a b add.int32", "int8", "int32")
    with pytest.raises(isa_ext.ExtensionError, match="leaves 2 values"):
        parse("a b", "int32", "int32")
    for spec in enumerate_family("fused"):
        ext = build_candidate(spec)
        assert [op.funct3 for op in ext.ops] == [0] and ext.latency == 0
        (intrin,) = ext.intrinsics
        assert intrin.facts.pattern == "elementwise" and spec.describe().startswith(("rd = ", "rd lane i = "))
        isa_ext.ExtensionSet([ext, isa_ext.get("requant_i8")])


def test_fused_grid_clamp_shift_verifies_in_verilator():
    spec = next(s for s in enumerate_family("fused") if "div" in s.p["expr"] and not s.p["b"])
    rep = isa_ext.verify(build_candidate(spec), n=1500)
    assert rep.n_ops >= 1500


def test_fused_candidate_from_dataflow_verifies_and_tensorizes(rng):
    A, B, R = _relu_add(48)
    f = tir.lower(schedules.create_schedule(R), [A, B, R])
    (cand,) = [c for c in dataflow_candidates({"relu_add": f}, top=None) if c.spec.family == "fused"]
    assert cand.spec.key == fused_spec("int32:0 a b add.int32 max.int32", "int32", "int32").key
    assert cand.elementwise
    ext = build_candidate(cand.spec)
    rep = isa_ext.verify(ext, n=2000)
    assert rep.n_ops >= 2000
    isa_ext.register(ext, replace=True)
    s = schedules.create_schedule(R)
    s[R].tensorize(R.op.axis[0], isa_ext.get(ext.name))
    func = tir.lower(s, [A, B, R])
    assert func.extensions and len(func.intrinsic_calls) == 1
    a = rng.integers(-(1 << 31), 1 << 31, 48, dtype=np.int64).astype(np.int32)
    b = rng.integers(-(1 << 31), 1 << 31, 48, dtype=np.int64).astype(np.int32)
    a[:4] = [2**31 - 1, -(2**31), 0, -1]
    b[:4] = [1, -1, 0, 1]
    ref = np.maximum((a.astype(np.int64) + b).astype(np.int32), 0)  # int32 wraps, as in the IR
    out = np.zeros(48, np.int32)
    codegen_c.build(func, "host")(a, b, out)
    np.testing.assert_array_equal(out, ref)
    out[:] = 0
    simulator.run(func, [a, b, out], "vexriscv")
    np.testing.assert_array_equal(out, ref)


def test_fused_int8_stage_tensorizes_on_host(rng):
    """A grid op with int8 inputs and output (saturating add) on a 2-D elementwise stage."""
    spec = next(s for s in enumerate_family("fused") if s.p["a"] == "int8")
    X = tir.placeholder((6, 10), "int8", name="X")
    Y = tir.placeholder((6, 10), "int8", name="Y")
    Z = tir.compute((6, 10), lambda i, j: tir.min(tir.max(X[i, j].astype("int32") + Y[i, j].astype("int32"),
                                                          tir.const(-128)), tir.const(127)).astype("int8"), name="Z")
    ext = build_candidate(spec)
    isa_ext.register(ext, replace=True)
    s = schedules.create_schedule(Z)
    s[Z].tensorize(Z.op.axis[0], isa_ext.get(ext.name))
    func = tir.lower(s, [X, Y, Z])
    x = rng.integers(-128, 128, (6, 10), dtype=np.int64).astype(np.int8)
    y = rng.integers(-128, 128, (6, 10), dtype=np.int64).astype(np.int8)
    z = np.zeros((6, 10), np.int8)
    codegen_c.build(func, "host")(x, y, z)
    np.testing.assert_array_equal(z, np.clip(x.astype(np.int32) + y, -128, 127).astype(np.int8))


def test_every_operator_example_runs_and_only_mac_kernels_get_mac_units():
    """The generator takes any lowered kernel of the library; MAC units only where there are MACs."""
    seen_mac = 0
    for name in ops.names():
        op = ops.get(name)
        for k, ex in enumerate(op.examples):
            wl = op(**ex)
            cands = dataflow_candidates({f"{name}#{k}": _lower(wl)}, top=None)
            fams = {c.spec.family for c in cands}
            assert all(c.gain > 0 for c in cands)
            if op.macs(**ex) == 0:
                assert not MAC_FAMILIES & fams, (name, ex)
            seen_mac += bool(MAC_FAMILIES & fams)
    assert seen_mac >= 5


_DTS = ("int32", "int16", "uint16", "int8", "uint8")


def _random_expr(rng: random.Random) -> tuple[str, str, str]:
    """A random well-typed postfix DAG over a and b."""
    da, db = rng.choice(_DTS), rng.choice(_DTS)
    pool = [(["a"], da), (["b"], db)]
    for _ in range(rng.randint(1, 5)):
        x = rng.choice(pool)
        if rng.random() < 0.25:
            t = rng.choice(_DTS)
            pool.append((x[0] + [f"cast.{t}"], t))
            continue
        op = rng.choice(["add", "sub", "mul", "min", "max", "div", "mod"])
        d = x[1]
        if op in ("div", "mod"):
            c = 1 << rng.randint(0, 6)
            if c > tir.dtype.max_value(d):
                continue
            pool.append((x[0] + [f"{d}:{c}", f"{op}.{d}"], d))
            continue
        y = rng.choice(pool)
        ytoks = y[0] if y[1] == d else y[0] + [f"cast.{d}"]
        if rng.random() < 0.3:
            lo, hi = tir.dtype.min_value(d), tir.dtype.max_value(d)
            v = rng.randint(max(lo, -300), min(hi, 300))
            ytoks = [f"{d}:{'m' if v < 0 else ''}{abs(v)}"]
        pool.append((x[0] + ytoks + [f"{op}.{d}"], d))
    toks = pool[-1][0]
    return " ".join(toks), da, db


def test_fused_c_model_matches_the_python_semantics_on_random_dags():
    from isa_ext.verify import HostModel, build_host_model

    rng = random.Random(7)
    nrng = np.random.default_rng(7)
    words = np.array([0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF],
                     dtype=np.uint32)
    for _ in range(12):
        expr, a, b = _random_expr(rng)
        spec = fused_spec(expr, a, b)
        ext = build_candidate(spec)
        model = HostModel(build_host_model(ext))
        x = np.concatenate([np.repeat(words, len(words)), nrng.integers(0, 1 << 32, 500, dtype=np.uint64)
                            .astype(np.uint32)])
        y = np.concatenate([np.tile(words, len(words)), nrng.integers(0, 1 << 32, 500, dtype=np.uint64)
                            .astype(np.uint32)])
        got = model.call_batch(np.zeros(len(x), np.uint32), x, y)
        want = [ext.reference("fused", int(p), int(q))[0] for p, q in zip(x, y)]
        assert got.tolist() == want, spec.key


def test_fused_mixed_dtypes_verify_in_verilator():
    spec = fused_spec("a cast.int16 b cast.int16 sub.int16 int16:8 div.int16 cast.int32 a cast.int32 mul.int32 "
                      "int32:64 mod.int32 int32:m7 max.int32", "uint8", "int16")
    rep = isa_ext.verify(build_candidate(spec), n=3000)
    assert rep.n_ops >= 3000


def test_conv_hwio_weights_propose_only_an_operand_stationary_unit():
    """NHWC activations are adjacent along the channel reduction, HWIO weights are not: a stateless
    dot would need a packing stage, a unit that holds the weights does not."""
    wl = ops.get("conv2d_nhwc")(N=1, H=8, W=8, C=16, F=16, KH=3)
    cands = dataflow_candidates({"conv": _lower(wl)}, top=None)
    assert [c.spec.key for c in cands] == [CandidateSpec.of("stationary", cols=4, k=64, dtype="int8").key]
    assert "A adjacent" in cands[0].pattern
