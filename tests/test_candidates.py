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
