"""isa_ext.candidates: specs are stable keys, round-trip through JSON, build full extensions that
verify in Verilator, and keep funct3 5 free for requant_i8."""

import pytest

import isa_ext
from isa_ext.candidates import CandidateSpec, build_candidate, enumerate_candidates, enumerate_family, family_names


def test_families_registered():
    assert {"dot", "mac_bank", "requant"} <= set(family_names())


def test_spec_key_name_and_json_roundtrip():
    s = CandidateSpec.of("dot", lanes=4, dtype="int8")
    assert s.key == "dot(dtype=int8,lanes=4)"
    assert s.ext_name == "c_dot_int8_4"
    assert CandidateSpec.from_json(s.to_json()) == s
    t = CandidateSpec.of("dot", dtype="int8", lanes=4, evidence="seen in matmul")
    assert t == s and hash(t) == hash(s)


def test_every_spec_builds_with_an_intrinsic_and_leaves_funct3_5():
    specs = enumerate_candidates()
    assert len({s.key for s in specs}) == len(specs)
    for s in specs:
        ext = build_candidate(s)
        assert ext.name == s.ext_name
        assert ext.intrinsics, s.key
        assert s.describe()
        if s.family != "requant":
            assert all(op.funct3 != 5 for op in ext.ops), s.key
        # every candidate can share one CFU with the built-in requantizer
        if s.family != "requant":
            isa_ext.ExtensionSet([ext, isa_ext.get("requant_i8")])


def test_bad_parameters_name_the_candidate():
    with pytest.raises(isa_ext.ExtensionError, match=r"candidate dot\(dtype=int8,lanes=8\)"):
        build_candidate(CandidateSpec.of("dot", lanes=8, dtype="int8"))
    with pytest.raises(isa_ext.ExtensionError, match="unknown candidate family"):
        enumerate_family("nope")


def test_a_candidate_verifies_in_verilator():
    ext = build_candidate(CandidateSpec.of("dot", lanes=2, dtype="int8"))
    rep = isa_ext.verify(ext, n=500)
    assert rep.n_ops >= 500


def test_builtin_intrinsics_declare_their_pattern_and_lanes():
    from tir.intrin import PATTERNS, HardwareFacts

    seen = {}
    for name in ("dot4_i8", "dot2_i16", "mac4_i8", "requant_i8"):
        for t in isa_ext.get(name).intrinsics:
            assert t.facts.pattern in PATTERNS and t.facts.pattern
            seen[name] = (t.facts.pattern, t.facts.lanes)
    assert seen == {"dot4_i8": ("lane_reduce", 4), "dot2_i16": ("lane_reduce", 2), "mac4_i8": ("tile", 4),
                    "requant_i8": ("elementwise", 1)}
    with pytest.raises(Exception, match="pattern 'diagonal' is not one of"):
        HardwareFacts(pattern="diagonal")


# --- re-encoding -------------------------------------------------------------------------------------

def _st(cols: int, k: int = 32) -> CandidateSpec:
    return CandidateSpec.of("stationary", cols=cols, k=k, dtype="int8")


def test_reencode_spec_key_and_errors():
    from isa_ext.candidates import encoding_slots, reencode

    s = _st(4)
    assert encoding_slots(s) == (6, 7)
    r = reencode(s, (3, 4))
    assert r.key == "stationary(cols=4,dtype=int8,funct3=3x4,k=32)" and r.ext_name != s.ext_name
    assert CandidateSpec.from_json(r.to_json()) == r
    assert reencode(r, (6, 7)) == s  # the default values: the base spec
    ext = build_candidate(r)
    assert {op.name: op.funct3 for op in ext.ops} == {"load": 3, "mac": 4, "read": 4}
    assert ext.intrinsics and ext.intrinsics[0].extension is ext
    for bad in ((3,), (3, 3), (5, 4), (3, 9)):
        with pytest.raises(isa_ext.ExtensionError):
            reencode(s, bad)


def test_fit_encoding_avoids_taken_function_ids():
    from isa_ext.candidates import fit_encoding

    a = build_candidate(_st(2))
    rq = isa_ext.get("requant_i8")
    taken = a.function_ids | rq.function_ids
    fit = fit_encoding(_st(4), taken)
    assert fit is not None and "funct3" in fit.p
    assert not build_candidate(fit).function_ids & taken
    assert fit_encoding(_st(4), rq.function_ids) == _st(4)  # no collision: as it is
    # dot4 beside an 8-lane lane_mac (both at function_id 0 by default)
    lm = build_candidate(CandidateSpec.of("lane_mac", accumulators=64, lanes=8))
    d = fit_encoding(CandidateSpec.of("dot", lanes=4, dtype="int8"), lm.function_ids | rq.function_ids)
    assert d is not None and not build_candidate(d).function_ids & lm.function_ids
    # nothing left: every funct7 of every funct3 taken
    assert fit_encoding(_st(2), set(range(1024))) is None


def test_two_stationary_units_share_one_cfu_verified_and_bit_exact_on_vexriscv():
    """Two units of one family (default encodings collide), one re-encoded: the CFU of both plus
    requant_i8 passes verify_set in Verilator (routing, interleaved state), and kernels on the
    simulated VexRiscv with that CFU, each using one of the two units, match numpy."""
    from isa_ext.candidates import fit_encoding
    from schedules.autotune import stationary
    from schedules.autotune.task import create_task
    from simulator.measure import DEFAULT_TIMEOUT_CYCLES, measure_one

    a = isa_ext.register(build_candidate(_st(2)), replace=True)
    rq = isa_ext.get("requant_i8")
    with pytest.raises(isa_ext.ExtensionError):
        isa_ext.ExtensionSet([a, build_candidate(_st(4)), rq])
    b = isa_ext.register(build_candidate(fit_encoding(_st(4), a.function_ids | rq.function_ids)), replace=True)
    rep = isa_ext.verify_set([b, a, rq], n=400, seed=1)
    assert "agree" in str(rep)
    exts = f"{b.name},{a.name}"
    # the first rows unit that suits: the 4-column one for 6 columns, the 2-column one for 3
    assert stationary.plan(exts, 32, 6).ext is b and stationary.plan(exts, 32, 3).ext is a
    for tmpl, args, unit in (("matmul_i8", (4, 6, 32), b), ("dense_i8", (2, 3, 32), a)):
        task = create_task(tmpl, (*args, exts), "vexriscv")
        assert unit in task.lower(0).extensions
        r = measure_one(task, 0, "vexriscv", DEFAULT_TIMEOUT_CYCLES, 3)
        assert r.valid, r.message  # every output checked against numpy
