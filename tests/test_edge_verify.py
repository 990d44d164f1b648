"""isa_ext.verify at the edges: model exceptions become VerifyErrors; lane pairs are covered exhaustively.

Real tools throughout (cc for the C models, Verilator for the RTL). The planted bugs sit on exactly one
(a, b) byte pair in one lane: a random stream of 10,000 ops reaches such a pair with probability ~0.15,
the exhaustive lane-pair sweep always does.
"""

import dataclasses

import numpy as np
import pytest

import isa_ext
from isa_ext import Extension, ExtensionError, LaneSweep, Op, VerifyError
from isa_ext.bits import s8, s16
from isa_ext.intrin import dot_intrinsic
from isa_ext.verify import build_stream, lane_pairs, lane_sweeps
from simulator.cfu import CfuError

BUILTINS = ["dot2_i16", "dot4_i8", "dot4_u8", "mac4_i8", "requant_i8"]
EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF, 0xFE)


# ---------------------------------------------------------------- small extensions written for these tests
def _lanes(word: int, n: int, bits: int, signed: bool) -> list[int]:
    mask = (1 << bits) - 1
    vals = [(word >> (bits * i)) & mask for i in range(n)]
    return [s8(v) if bits == 8 else s16(v) for v in vals] if signed else vals


def _dot4_c(bug_lane: int | None) -> str:
    bug = "" if bug_lane is None else f"""
    if (i == {bug_lane} && x == 0x5Au && y == 0xA5u) r += 1u;  /* the planted bug */"""
    return f"""
uint32_t r = 0u;
for (int i = 0; i < 4; ++i) {{
    uint32_t x = (rs1 >> (8 * i)) & 0xFFu, y = (rs2 >> (8 * i)) & 0xFFu;
    r += ((x ^ 0x80u) - 0x80u) * ((y ^ 0x80u) - 0x80u);{bug}
}}
return r;"""


def _dot4_verilog(bug_lane: int | None) -> str:
    v = []
    for i in range(4):
        lo, hi = 8 * i, 8 * i + 7
        v.append(f"    wire signed [15:0] t_p{i} = $signed(rs1[{hi}:{lo}]) * $signed(rs2[{hi}:{lo}]);")
        v.append(f"    wire [31:0] t_w{i} = {{{{16{{t_p{i}[15]}}}}, t_p{i}}};")
    if bug_lane is None:
        v.append("    wire [31:0] t_bug = 32'd0;")
    else:
        lo, hi = 8 * bug_lane, 8 * bug_lane + 7
        v.append(f"    wire [31:0] t_bug = (rs1[{hi}:{lo}] == 8'h5a && rs2[{hi}:{lo}] == 8'ha5) ? 32'd1 : 32'd0;")
    v.append("    always @* begin")
    v.append("        rd = op_dot ? (t_w0 + t_w1 + t_w2 + t_w3 + t_bug) : 32'd0;")
    v.append("    end")
    return "\n".join(v)


def dot4_ext(name: str, c_bug: int | None = None, v_bug: int | None = None, declare: bool = False) -> Extension:
    """A 4-lane int8 dot product; ``c_bug`` / ``v_bug``: the lane whose (0x5A, 0xA5) product the C model /
    the Verilog gets off by one. Lanes come from a dot intrinsic, or (``declare``) from a LaneSweep."""
    ext = Extension(
        name=name,
        ops=(Op("dot", 6, 0, doc="rd = sum of 4 int8 lane products"),),
        semantics={"dot": lambda a, b, imm, st: sum(x * y for x, y in zip(_lanes(a, 4, 8, True),
                                                                           _lanes(b, 4, 8, True)))},
        c_ops={"dot": _dot4_c(c_bug)},
        verilog_comb=_dot4_verilog(v_bug),
        lane_sweeps=(LaneSweep("dot", 8),) if declare else (),
    )
    if not declare:
        ext.intrinsics.append(dot_intrinsic(ext, 4, "int8"))
    return ext


# ---------------------------------------------------------------- (a) reference exceptions -> VerifyError
# These swap only the Python reference, so the RTL is one already built (cached by content hash).
def test_reference_zero_division_becomes_verify_error():
    ext = dataclasses.replace(dot4_ext("edge_dot4"), semantics={"dot": lambda a, b, imm, st: a // (b & 0xFF)})
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(ext, n=100)
    err = info.value
    msg = str(err)
    assert err.extension == "edge_dot4" and err.op == "dot"
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert "edge_dot4.dot" in msg and "ZeroDivisionError" in msg and "lane-pair sweep of dot #0" in msg
    assert err.rs2 & 0xFF == 0 and err.index == 0
    assert f"rs1=0x{err.rs1:08x}" in msg and f"rs2=0x{err.rs2:08x}" in msg


def test_reference_type_error_names_op_operands_and_state():
    base = isa_ext.get("mac4_i8")
    real_mac = base.semantics["mac"]

    def mac(a, b, k, st):
        v = real_mac(a, b, k, st)
        return None if a == 0xFFFFFFFF else v  # int(None) inside verify: TypeError

    ext = dataclasses.replace(
        base, semantics={**base.semantics, "mac": mac},
        edge_cases=[("set", 3, 5, 0), ("mac", 3, 0x01010101, 0x02020202), ("mac", 3, 0xFFFFFFFF, 0x1234)],
    )
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(ext, n=50)
    err = info.value
    msg = str(err)
    assert err.extension == "mac4_i8" and err.op == "mac" and err.imm == 3 and err.index == 2
    assert isinstance(err.__cause__, TypeError) and "TypeError" in msg
    assert "edge case #2" in msg and "op mac imm=3" in msg and "rs1=0xffffffff" in msg and "rs2=0x00001234" in msg
    assert int(err.state_before["acc"][3]) == 13 and "acc=[0, 0, 0, 13, 0" in msg


def test_verify_set_reference_exception_becomes_verify_error():
    base = isa_ext.get("mac4_i8")

    def read(a, b, k, st):
        raise ZeroDivisionError("read broke")

    broken = dataclasses.replace(base, semantics={**base.semantics, "read": read})
    # same combined RTL as the five built-ins (cached)
    es = isa_ext.ExtensionSet(["dot4_i8", "dot4_u8", "dot2_i16", broken, "requant_i8"])
    with pytest.raises(VerifyError, match=r"verify_set: the reference semantics of mac4_i8\.read raised") as info:
        isa_ext.verify_set(es, n=3000)
    err = info.value
    assert err.extension == "mac4_i8" and err.op == "read" and isinstance(err.__cause__, ZeroDivisionError)
    assert "state before {acc=[" in str(err) and f"rs1=0x{err.rs1:08x}" in str(err)


def test_stimulus_errors_become_verify_errors():
    base = isa_ext.get("dot4_i8")

    def bad_hook(rng, n):
        raise TypeError("hook broke")

    with pytest.raises(VerifyError, match=r"stimulus hook of extension 'dot4_i8'.*hook broke") as info:
        isa_ext.verify(dataclasses.replace(base, stimulus=bad_hook), n=10)
    assert isinstance(info.value.__cause__, TypeError) and info.value.extension == "dot4_i8"
    unknown = dataclasses.replace(base, stimulus=lambda rng, n: [("dot", None, 1, 2), ("nope", None, 0, 0)])
    with pytest.raises(VerifyError, match=r"random op #1 .*'nope'") as info:
        isa_ext.verify(unknown, n=2)
    assert isinstance(info.value.__cause__, ExtensionError)


def test_hung_rtl_is_a_verify_error_and_a_cfu_error_naming_the_op():
    base = isa_ext.get("dot4_i8")

    class Dead(Extension):
        def verilog(self):
            return super().verilog().replace("assign rsp_valid = cmd_valid;", "assign rsp_valid = 1'b0;")

    dead = Dead(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(dead, n=10)
    err = info.value
    assert isinstance(err, CfuError) and "no response" in str(err)
    assert err.extension == "dot4_i8" and err.op == "dot" and err.index == 0
    assert "isaforge_dot4_i8_dot" in str(err) and isinstance(err.__cause__, CfuError)


def test_bad_lane_sweep_declarations_are_rejected():
    ok = isa_ext.get("dot4_i8")
    for sweep, what in ((LaneSweep("nope", 8), "no op 'nope'"), (LaneSweep("dot", 12), "8 or 16"),
                        (LaneSweep("dot", 8, lanes=5), "do not fit"), (LaneSweep("dot", 8, imms=(1,)), "funct7"),
                        (LaneSweep("dot", 8, before=(("dot", None, 1),)), "bad op item")):
        with pytest.raises(ExtensionError, match=what):
            lane_sweeps(dataclasses.replace(ok, lane_sweeps=(sweep,)))
    with pytest.raises(ExtensionError, match="LaneSweep objects"):
        lane_sweeps(dataclasses.replace(ok, lane_sweeps=(("dot", 8),)))


# ---------------------------------------------------------------- (b) one wrong byte pair in one lane is caught
def _assert_caught_at_planted_pair(err: VerifyError, lane: int, culprit: str) -> None:
    msg = str(err)
    assert err.extension == "edge_dot4" and err.op == "dot"
    assert (err.rs1 >> (8 * lane)) & 0xFF == 0x5A and (err.rs2 >> (8 * lane)) & 0xFF == 0xA5
    assert "lane-pair sweep of dot" in msg and f"{lane}:0x5a/0xa5" in msg
    good, bad = (err.c_model, err.rtl) if culprit == "RTL" else (err.rtl, err.c_model)
    assert good == err.reference and bad == (err.reference + 1) & 0xFFFFFFFF
    assert msg.startswith(f"verify({err.extension}): {culprit} disagree")


@pytest.mark.parametrize("lane", [2, 3])
def test_c_model_bug_on_one_byte_pair_is_caught(lane):
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(dot4_ext("edge_dot4", c_bug=lane), n=10000)
    _assert_caught_at_planted_pair(info.value, lane, "C model")


def test_rtl_bug_on_one_byte_pair_is_caught():
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(dot4_ext("edge_dot4", v_bug=2, declare=True), n=10000)
    _assert_caught_at_planted_pair(info.value, 2, "RTL")


def test_correct_dot4_verifies_clean():
    report = isa_ext.verify(dot4_ext("edge_dot4"), n=1000)
    assert report.exhaustive_ops == ["dot"] and report.n_exhaustive == 65536
    assert "every 8-bit pair (65536) in each of 4 8-bit lane(s)" in report.coverage["dot"]
    # a LaneSweep declaration gives the same sweep as the dot intrinsic
    declared, found = lane_sweeps(dot4_ext("edge_dot4", declare=True)), lane_sweeps(dot4_ext("edge_dot4"))
    assert [(s.op, s.lane_bits, s.n_lanes) for s in declared] == [(s.op, s.lane_bits, s.n_lanes) for s in found]


def test_16_bit_lane_bug_on_a_structured_pair_is_caught():
    """dot2_i16 with a C model off by one when lane 1 has high bytes 0x5A (a) and 0xA5 (b)."""
    c = """
uint32_t r = 0u;
for (int i = 0; i < 2; ++i) {
    uint32_t x = (rs1 >> (16 * i)) & 0xFFFFu, y = (rs2 >> (16 * i)) & 0xFFFFu;
    r += ((x ^ 0x8000u) - 0x8000u) * ((y ^ 0x8000u) - 0x8000u);
    if (i == 1 && (x >> 8) == 0x5Au && (y >> 8) == 0xA5u) r += 1u;  /* the planted bug */
}
return r;"""
    ext = dataclasses.replace(isa_ext.get("dot2_i16"), c_ops={"dot": c})
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(ext, n=10000)
    err = info.value
    assert err.op == "dot" and err.c_model == (err.reference + 1) & 0xFFFFFFFF and err.rtl == err.reference
    assert err.rs1 >> 24 == 0x5A and err.rs2 >> 24 == 0xA5 and "lane-pair sweep of dot" in str(err)


def test_stateful_sweep_with_ops_around_every_pair():
    """mac4_i8 swept as clear(k), mac(k), read(k) -- the way an accumulator that saturates would have to
    be (saturation could otherwise hide a wrong product); imm None in before/after means the swept k."""
    base = isa_ext.get("mac4_i8")
    sweep = LaneSweep("mac", 8, before=(("clear", None, 0, 0),), after=(("read", None, 0, 0),))
    report = isa_ext.verify(dataclasses.replace(base, lane_sweeps=(sweep,)), n=500)
    assert report.n_exhaustive == 3 * 65536 and "['clear', 'mac', 'read']" in report.coverage["mac"]
    # the same sweep, with a C model whose lane-1 product of (0x5A, 0xA5) is off by one
    old = "$acc[imm] = (int32_t)v;"
    planted = "if (((rs1 >> 8) & 0xFFu) == 0x5Au && ((rs2 >> 8) & 0xFFu) == 0xA5u) v += 1u;\n" + old
    assert old in base.c_ops["mac"]
    bug = base.c_ops["mac"].replace(old, planted)
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(dataclasses.replace(base, lane_sweeps=(sweep,), c_ops={**base.c_ops, "mac": bug}), n=500)
    err = info.value
    assert err.op == "mac" and (err.rs1 >> 8) & 0xFF == 0x5A and (err.rs2 >> 8) & 0xFF == 0xA5
    assert int(err.state_before["acc"][err.imm]) == 0  # cleared just before
    assert err.rtl == err.reference != err.c_model


def test_setup_op_sweep_of_requant_clamp_bytes():
    """requant_i8's set_clamp takes a byte pair (qmin, qmax): swept through set-up ops (identity scale) and
    requant probes after every pair that show the clamp."""
    base = isa_ext.get("requant_i8")
    sweep = LaneSweep(
        "set_clamp", 8, lanes=1,
        setup=(("set_mult", None, 0x7FFFFFFF, 0), ("set_shift_zp", None, 0, 0)),
        after=(("requant", None, 0x80000000, 0), ("requant", None, 0, 0), ("requant", None, 0x7FFFFFFF, 0),
               ("requant", None, 0xFFFFFF85, 0)),
    )
    report = isa_ext.verify(dataclasses.replace(base, lane_sweeps=(sweep,)), n=1000)
    assert report.n_exhaustive == 2 + 5 * 65536
    assert report.coverage["set_clamp"].startswith("exhaustive: every 8-bit pair (65536) in each of 1 8-bit lane")
    assert report.coverage["requant"] == "random only"


# ---------------------------------------------------------------- (c) the built-ins and their sweep streams
def test_builtin_lane_structure():
    got = {n: [(s.op, s.lane_bits, s.n_lanes) for s in lane_sweeps(isa_ext.get(n))] for n in BUILTINS}
    assert got == {"dot2_i16": [("dot", 16, 2)], "dot4_i8": [("dot", 8, 4)], "dot4_u8": [("dot", 8, 4)],
                   "mac4_i8": [("mac", 8, 4)], "requant_i8": []}


def _lane_pair_sets(stream, bits: int, lanes: int) -> list[set]:
    (start, stop), = [(s0, s1) for s0, s1, _, sw, kind in stream.segments if kind == "sweep"]
    fids, a, b = stream.arrays()
    a, b = a[start:stop].astype(np.int64), b[start:stop].astype(np.int64)
    mask = (1 << bits) - 1
    out = []
    for lane in range(lanes):
        x, y = (a >> (bits * lane)) & mask, (b >> (bits * lane)) & mask
        out.append(set((x << 16 | y).tolist()))
    return out


def test_8_bit_sweep_puts_every_pair_in_every_lane_and_every_accumulator():
    for name in ("dot4_i8", "mac4_i8"):
        stream = build_stream(isa_ext.get(name), 0, 0)
        for pairs in _lane_pair_sets(stream, 8, 4):
            assert len(pairs) == 65536
    stream = build_stream(isa_ext.get("mac4_i8"), 0, 0)
    swept = [imm for op, imm in stream.ops[stream.count("edge"):]]
    assert len(swept) == 65536 and sorted(set(swept)) == list(range(16))
    # at one op the lanes hold different a and different b values (a lane mix-up cannot hide)
    fids, a, b = stream.arrays()
    for i in range(stream.count("edge"), len(a), 997):
        for word in (int(a[i]), int(b[i])):
            assert len({(word >> (8 * k)) & 0xFF for k in range(4)}) == 4


def test_16_bit_sweep_covers_the_structured_set_in_both_lanes():
    pa, pb, what = lane_pairs(16)
    assert len(pa) == 4 * 65536 + 49 * 49 and "structured" in what
    want = set(((pa << 16) | pb).tolist())
    stream = build_stream(isa_ext.get("dot2_i16"), 0, 0)
    lane_sets = _lane_pair_sets(stream, 16, 2)
    assert all(s == want for s in lane_sets)
    # every byte pair at each byte-position combination, the other bytes edge bytes...
    edge = np.array(EDGE_BYTES, dtype=np.uint64)
    for c, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        sa, sb = pa[c * 65536:(c + 1) * 65536], pb[c * 65536:(c + 1) * 65536]
        xs, ys = (sa >> np.uint64(8 * i)) & np.uint64(0xFF), (sb >> np.uint64(8 * j)) & np.uint64(0xFF)
        assert len(set(((xs << np.uint64(8)) | ys).tolist())) == 65536
        assert np.isin((sa >> np.uint64(8 * (1 - i))) & np.uint64(0xFF), edge).all()
        assert np.isin((sb >> np.uint64(8 * (1 - j))) & np.uint64(0xFF), edge).all()
    # ...and every value with one byte free and the other an edge byte, in a and in b
    one_free = {(x << (8 * k)) | (e << (8 * (1 - k))) for x in range(256) for e in EDGE_BYTES for k in (0, 1)}
    assert one_free <= set(pa.tolist()) and one_free <= set(pb.tolist())


@pytest.mark.parametrize("name", BUILTINS)
def test_builtins_verify_clean_and_state_their_coverage(name):
    report = isa_ext.verify(name, n=500)
    ext = isa_ext.get(name)
    swept = {"dot2_i16": ["dot"], "dot4_i8": ["dot"], "dot4_u8": ["dot"], "mac4_i8": ["mac"], "requant_i8": []}
    assert report.exhaustive_ops == swept[name]
    assert set(report.coverage) == {op.name for op in ext.ops}
    assert report.n_exhaustive == {8: 65536, 16: 264545, None: 0}[
        lane_sweeps(ext)[0].lane_bits if swept[name] else None]
    assert report.n_ops == report.n_edge + report.n_exhaustive + 500
    assert "coverage:" in str(report)
