"""isa_ext.fam_simd: the lane-parallel families (lane_mac, simd_max) build full extensions whose Python
semantics, C model and Verilog agree in Verilator, leave funct3 5 free and declare pattern "lanes"."""

import dataclasses

import numpy as np
import pytest

import isa_ext
from isa_ext.candidates import CandidateSpec, build_candidate, enumerate_family, family_names
from isa_ext.fam_simd import lane_mac_extension, simd_max_extension

SPECS = enumerate_family("lane_mac") + enumerate_family("simd_max")


def _word(vals) -> int:
    return sum((int(v) & 0xFF) << (8 * i) for i, v in enumerate(vals))


def test_families_registered_and_described_in_one_line():
    assert {"lane_mac", "simd_max"} <= set(family_names())
    assert len(SPECS) >= 5
    for s in SPECS:
        ext = build_candidate(s)
        d = s.describe()
        assert d and "\n" not in d
        assert all(op.funct3 != 5 for op in ext.ops), s.key
        (intr,) = ext.intrinsics
        assert intr.facts.pattern == "lanes" and intr.facts.lanes in (4, 8), s.key
        isa_ext.ExtensionSet([ext, isa_ext.get("requant_i8")])  # shares one CFU with the requantizer


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.key)
def test_every_member_verifies_in_verilator(spec):
    ext = build_candidate(spec)
    # the exhaustive lane-pair sweep on the smallest unit of each kind (it is the same datapath per lane)
    full = spec.key in ("lane_mac(accumulators=16,lanes=4)", "simd_max(dtype=int8,lanes=4)")
    rep = isa_ext.verify(ext, n=400, exhaustive=full)
    assert rep.n_ops >= 400


def _run(ext, items):
    """(op, imm, rs1, rs2) items through the reference: the rd values (as int32) and the final state."""
    st, out = ext.initial_state(), []
    for op, imm, a, b in items:
        rd, st = ext.reference(op, a, b, st, imm=imm)
        out.append(rd - (1 << 32) if rd >> 31 else rd)
    return out, st


def test_lane_mac_semantics_by_hand():
    ext = lane_mac_extension("t_lm4", 4, 8)
    a, w = _word([-128, 127, 3, -1]), _word([-128, -128, 5, 7])
    rds, st = _run(ext, [("mac", 1, a, w), ("mac", 1, a, w)] + [("read", 4 + i, 0, 0) for i in range(4)]
                   + [("read_clear", 6, 0, 0), ("read", 6, 0, 0)])
    assert rds[2:] == [2 * 16384, 2 * -16256, 30, -14, 30, 0]
    assert not st["acc"][:4].any()  # slot 0 untouched
    ext8 = lane_mac_extension("t_lm8", 8, 16)
    _, st = _run(ext8, [("set_w", None, _word([1, 2, 3, 4]), _word([-1, -2, -3, -4])),
                        ("mac", 1, _word([10, 10, 10, 10]), _word([1, 1, 1, 1]))])
    assert [int(v) for v in st["acc"][8:16]] == [10, 20, 30, 40, -1, -2, -3, -4]
    rds, st = _run(ext8, [("mac", 0, 0x7F7F7F7F, 0x7F7F7F7F), ("clear_all", None, 0, 0)])
    assert not st["acc"].any()


def test_simd_max_semantics_by_hand():
    ext = simd_max_extension("t_mx")
    got, _ = ext.reference("vmax", _word([-128, 5, 127, -1]), _word([-127, -5, -128, -2]))
    assert got == _word([-127, 5, 127, -1])


def test_bad_parameters_name_the_candidate():
    with pytest.raises(isa_ext.ExtensionError, match=r"candidate lane_mac\(accumulators=12,lanes=8\)"):
        build_candidate(CandidateSpec.of("lane_mac", lanes=8, accumulators=12))
    with pytest.raises(isa_ext.ExtensionError, match="lanes must be 4 or 8"):
        lane_mac_extension("t_bad", 2, 8)


def test_verify_catches_a_wrong_c_model():
    """The three implementations are independent: a C model that drops lane 3 fails verification."""
    ext = lane_mac_extension("t_lm_bad", 4, 8)
    body = ext.c_ops["mac"].replace("+ (uint32_t)((int32_t)(int8_t)(uint8_t)(rs1 >> 24)", "+ (uint32_t)((0")
    assert body != ext.c_ops["mac"]
    bad = dataclasses.replace(ext, c_ops={**ext.c_ops, "mac": body}, intrinsics=[])
    with pytest.raises(isa_ext.VerifyError):
        isa_ext.verify(bad, n=200, exhaustive=False)


def test_word_helper_is_little_endian():
    assert _word([1, 2, 3, 4]) == 0x04030201 and _word(np.array([-1, 0, 0, 0])) == 0xFF
