"""Parametric families of extensions and the built-in library.

Families (each returns an :class:`~isa_ext.extension.Extension`):

* :func:`dot_product_extension` -- stateless packed dot product, rd = sum_i a_i * b_i mod 2**32.
* :func:`mac_bank_extension` -- a bank of int32 accumulators indexed by the funct7 immediate.
* :func:`requant_extension` -- TFLite-style int32 -> int8 requantization with its parameters in state.

Built-ins (all share one CFU without collisions):

================  ======  ===========================================================
extension         funct3  funct7
================  ======  ===========================================================
dot4_i8 ``dot``   0       0
dot4_u8 ``dot``   0       1
dot2_i16 ``dot``  0       2
mac4_i8           1..4,7  accumulator index 0..15 (mac, read, clear, read_clear, set)
requant_i8        5       0 set_mult, 1 set_shift_zp, 2 set_clamp, 3 requant
================  ======  ===========================================================

funct3 = 0 with funct7 >= 3 and funct3 = 5 with funct7 >= 4 and funct3 = 6 are free for user
extensions (examples/custom_extension.py uses funct3 = 6).
"""

from __future__ import annotations

import numpy as np

from isa_ext.bits import INT32_MAX, INT32_MIN, clamp, lanes, s8, s32, sext
from isa_ext.extension import Extension, Op
from isa_ext.intrin import dot_intrinsic, mac_tile_intrinsic, requant_intrinsic

EDGE_WORDS = (
    0x00000000, 0xFFFFFFFF, 0x80808080, 0x7F7F7F7F, 0x80000000, 0x7FFFFFFF, 0x00000001,
    0x01010101, 0x7FFF8000, 0x80007FFF, 0x80008000, 0x7FFF7FFF, 0xFF00FF00, 0x00FF00FF,
)
EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF, 0xFE)


_POOLS: dict[int, list] = {}


def _operand_block(rng: np.random.Generator, n: int = 4096) -> list[int]:
    """n operands, drawn vectorized: 45% random words, 30% words of edge bytes, 25% EDGE_WORDS."""
    kind = rng.random(n)
    rand = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    eb = np.array(EDGE_BYTES, dtype=np.uint64)[rng.integers(0, len(EDGE_BYTES), (n, 4))]
    bytes_words = eb[:, 0] | (eb[:, 1] << 8) | (eb[:, 2] << 16) | (eb[:, 3] << 24)
    edge = np.array(EDGE_WORDS, dtype=np.uint64)[rng.integers(0, len(EDGE_WORDS), n)]
    out = np.where(kind < 0.45, rand, np.where(kind < 0.75, bytes_words, edge))
    return out.tolist()[::-1]  # popped from the end


def edge_or_random(rng: np.random.Generator) -> int:
    """An operand: a random word, a word of edge bytes, or one of EDGE_WORDS (drawn in blocks)."""
    entry = _POOLS.get(id(rng))
    if entry is None or entry[0] is not rng:
        if len(_POOLS) > 16:
            _POOLS.clear()
        entry = _POOLS[id(rng)] = [rng, []]
    pool = entry[1]
    if not pool:
        pool.extend(_operand_block(rng))
    return pool.pop()


# ---------------------------------------------------------------- dot-product building blocks
def _check_lanes(lanes_: int, lane_bits: int) -> None:
    from isa_ext.errors import ExtensionError

    if lane_bits not in (8, 16, 32) or lanes_ < 1 or lanes_ * lane_bits > 32:
        raise ExtensionError(f"dot product: {lanes_} lanes of {lane_bits} bits do not fit a 32-bit register")


def _c_lane(var: str, i: int, bits: int, signed: bool) -> str:
    """C expression: lane i of a uint32_t, sign/zero-extended, as uint32_t (two's complement bits)."""
    mask = (1 << bits) - 1
    sh = f"({var} >> {i * bits})" if i else var
    if bits == 32:
        return var
    if signed:
        sign = 1 << (bits - 1)
        return f"((({sh} & 0x{mask:X}u) ^ 0x{sign:X}u) - 0x{sign:X}u)"
    return f"({sh} & 0x{mask:X}u)"


def _c_dot(lanes_: int, bits: int, signed: bool, a: str = "rs1", b: str = "rs2") -> str:
    """C expression (uint32_t): sum of lane products mod 2**32 (unsigned arithmetic, no UB)."""
    terms = [f"{_c_lane(a, i, bits, signed)} * {_c_lane(b, i, bits, signed)}" for i in range(lanes_)]
    return "(" + "\n        + ".join(f"(uint32_t)({t})" for t in terms) + ")"


def _v_lane(var: str, i: int, bits: int, signed: bool) -> str:
    lo, hi = i * bits, i * bits + bits - 1
    if bits == 32:
        return var
    fill = f"{{{32 - bits}{{{var}[{hi}]}}}}" if signed else f"{32 - bits}'d0"
    return f"{{{fill}, {var}[{hi}:{lo}]}}"


def _v_dot_wires(tag: str, lanes_: int, bits: int, signed: bool) -> str:
    """Verilog wires computing ``<tag>_dot`` = sum of lane products of rs1, rs2 (mod 2**32)."""
    lines = []
    for i in range(lanes_):
        lines.append(f"    wire [31:0] {tag}_a{i} = {_v_lane('rs1', i, bits, signed)};")
        lines.append(f"    wire [31:0] {tag}_b{i} = {_v_lane('rs2', i, bits, signed)};")
        lines.append(f"    wire [31:0] {tag}_p{i} = {tag}_a{i} * {tag}_b{i};")
    lines.append(f"    wire [31:0] {tag}_dot = " + " + ".join(f"{tag}_p{i}" for i in range(lanes_)) + ";")
    return "\n".join(lines)


def _py_dot(rs1: int, rs2: int, lanes_: int, bits: int, signed: bool) -> int:
    a = np.array(lanes(rs1, lanes_, bits, signed), dtype=np.int64)
    b = np.array(lanes(rs2, lanes_, bits, signed), dtype=np.int64)
    return int(np.dot(a, b))  # |sum| < 2**63 for every legal lane shape


# ---------------------------------------------------------------- families
def dot_product_extension(
    name: str,
    lanes: int = 4,
    lane_bits: int = 8,
    signed: bool = True,
    funct3: int = 0,
    funct7: int = 0,
    op_name: str = "dot",
) -> Extension:
    """Stateless packed dot product: rd = sum_i lane_i(rs1) * lane_i(rs2) mod 2**32.

    Lane 0 is the least significant lane, so a little-endian word load of contiguous elements
    packs element i into lane i. The RTL is combinational (latency 0): the answer is given in the
    cycle of the command.
    """
    _check_lanes(lanes, lane_bits)
    kind = "signed" if signed else "unsigned"
    doc = f"rd = sum of {lanes} {kind} {lane_bits}-bit lane products of rs1 and rs2, mod 2^32"
    ext = Extension(
        name=name,
        ops=(Op(op_name, funct3, funct7, None, False, doc),),
        latency=0,
        issue_interval=1,
        semantics={op_name: lambda a, b, imm, st: _py_dot(a, b, lanes, lane_bits, signed)},
        c_ops={op_name: f"return {_c_dot(lanes, lane_bits, signed)};"},
        verilog_comb=_v_dot_wires("dp", lanes, lane_bits, signed)
        + f"\n    always @* begin\n        rd = op_{op_name} ? dp_dot : 32'd0;\n    end",
        doc=f"{name}: {doc}.",
    )
    # the tensorize side: c += sum(a[k] * b[k]) over the packed lanes
    ext.intrinsics.append(dot_intrinsic(ext, lanes, f"{'int' if signed else 'uint'}{lane_bits}", op_name))
    return ext


def mac_bank_extension(
    name: str,
    n_acc: int = 16,
    lanes: int = 4,
    lane_bits: int = 8,
    signed: bool = True,
    funct3: dict[str, int] | None = None,
) -> Extension:
    """A bank of ``n_acc`` int32 accumulators; funct7 (an immediate) selects the accumulator.

    Ops (``k`` = funct7 immediate):

    * ``mac``: acc[k] += dot(rs1, rs2) (wrapping mod 2**32); returns the new acc[k].
    * ``read``: returns acc[k].
    * ``clear``: acc[k] = 0 (this accumulator only); returns 0.
    * ``read_clear``: returns acc[k] and sets it to 0 (drain after a k loop).
    * ``set``: acc[k] = rs1 (e.g. a bias); returns rs1.

    Latency 0: the result is combinational, the accumulator is written on the accepting edge.
    """
    _check_lanes(lanes, lane_bits)
    f3 = {"mac": 1, "read": 2, "clear": 3, "read_clear": 4, "set": 7}
    f3.update(funct3 or {})
    rng = range(0, n_acc)
    kind = "signed" if signed else "unsigned"
    ops = (
        Op("mac", f3["mac"], None, rng, True,
           f"acc[k] += dot{lanes}({kind} {lane_bits}-bit lanes); returns new acc[k]"),
        Op("read", f3["read"], None, rng, True, "returns acc[k]"),
        Op("clear", f3["clear"], None, rng, True, "acc[k] = 0; returns 0"),
        Op("read_clear", f3["read_clear"], None, rng, True, "returns acc[k], then acc[k] = 0"),
        Op("set", f3["set"], None, rng, True, "acc[k] = rs1; returns rs1"),
    )

    def mac(a, b, k, st):
        v = s32(int(st["acc"][k]) + _py_dot(a, b, lanes, lane_bits, signed))
        st["acc"][k] = v
        return v

    def read(a, b, k, st):
        return int(st["acc"][k])

    def clear(a, b, k, st):
        st["acc"][k] = 0
        return 0

    def read_clear(a, b, k, st):
        v = int(st["acc"][k])
        st["acc"][k] = 0
        return v

    def set_(a, b, k, st):
        st["acc"][k] = s32(a)
        return a

    idx_bits = max(1, (n_acc - 1).bit_length())
    c_ops = {
        "mac": f"""
            uint32_t v = (uint32_t)$acc[imm] + {_c_dot(lanes, lane_bits, signed)};
            $acc[imm] = (int32_t)v;
            return v;""",
        "read": "return (uint32_t)$acc[imm];",
        "clear": "$acc[imm] = 0;\nreturn 0u;",
        "read_clear": "uint32_t v = (uint32_t)$acc[imm];\n$acc[imm] = 0;\nreturn v;",
        "set": "$acc[imm] = (int32_t)rs1;\nreturn rs1;",
    }
    comb = (
        _v_dot_wires("mb", lanes, lane_bits, signed)
        + f"""
    wire [{idx_bits - 1}:0] mb_k = funct7[{idx_bits - 1}:0];
    wire [31:0] mb_cur = acc[mb_k];
    wire [31:0] mb_sum = mb_cur + mb_dot;
    always @* begin
        rd = 32'd0;
        if (op_mac) rd = mb_sum;
        if (op_read | op_read_clear) rd = mb_cur;
        if (op_set) rd = rs1;
    end"""
    )
    seq = """
        if (op_mac) acc[mb_k] <= mb_sum;
        if (op_clear | op_read_clear) acc[mb_k] <= 32'd0;
        if (op_set) acc[mb_k] <= rs1;"""

    def stimulus(rg: np.random.Generator, n: int):
        out = []
        while len(out) < n:
            mode = rg.random()
            if mode < 0.5:  # a register-blocked tile: clear, k macs each, read_clear
                ks = [int(k) for k in rg.choice(n_acc, size=int(rg.integers(1, n_acc + 1)), replace=False)]
                for k in ks:
                    out.append(("clear", k, edge_or_random(rg), edge_or_random(rg)))
                for _ in range(int(rg.integers(1, 40))):
                    for k in ks:
                        out.append(("mac", k, edge_or_random(rg), edge_or_random(rg)))
                for k in ks:
                    out.append((("read_clear", "read")[int(rg.integers(0, 2))], k, 0, 0))
            elif mode < 0.7:  # wrap past 2**31 from a preset value
                k = int(rg.integers(0, n_acc))
                start = int(rg.choice([0x7FFF0000, 0x7FFFFFF0, 0x80000010, 0xFFFFFFF0]))
                out.append(("set", k, start, edge_or_random(rg)))
                for _ in range(int(rg.integers(1, 8))):
                    out.append(("mac", k, 0x80808080, 0x80808080))
                    out.append(("mac", k, 0x7F7F7F7F, 0x81818181))
                out.append(("read", k, 0, 0))
            else:  # random ops
                for _ in range(int(rg.integers(1, 50))):
                    op = ops[int(rg.choice(5, p=[0.5, 0.2, 0.1, 0.1, 0.1]))].name
                    out.append((op, int(rg.integers(0, n_acc)), edge_or_random(rg), edge_or_random(rg)))
        return out[:n]

    # All-(-128) lanes: +65536 per mac; 32768 of them would wrap from 0, a preset gets there fast.
    edge = [("set", 0, 0x7FFFFFFF, 0), ("mac", 0, 0x80808080, 0x80808080), ("read", 0, 0, 0)]
    edge += [("clear", 1, 0, 0)] + [("mac", 1, 0x80808080, 0x80808080)] * 40 + [("read_clear", 1, 0, 0)]
    edge += [("mac", n_acc - 1, w1, w2) for w1 in EDGE_WORDS for w2 in EDGE_WORDS] + [("read", n_acc - 1, 0, 0)]
    ext = Extension(
        name=name,
        ops=ops,
        latency=0,
        issue_interval=1,
        state={"acc": ("int32", (n_acc,))},
        semantics={"mac": mac, "read": read, "clear": clear, "read_clear": read_clear, "set": set_},
        c_ops=c_ops,
        verilog_comb=comb,
        verilog_seq=seq,
        doc=f"{name}: {n_acc} int32 accumulators, funct7 = accumulator index; mac adds a {lanes}-lane "
        f"{kind} {lane_bits}-bit dot product (wrapping).",
        stimulus=stimulus,
        edge_cases=tuple(edge),
    )
    # the tensorize side: an output tile of up to n_acc elements kept in the bank
    ext.intrinsics.append(mac_tile_intrinsic(ext, lanes, f"{'int' if signed else 'uint'}{lane_bits}", n_acc))
    return ext


# ---------------------------------------------------------------- requantization (TFLite int8)
def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """round(a * b / 2**31) with ties toward +infinity; the single overflow case saturates.

    This is gemmlowp/TFLite's SaturatingRoundingDoublingHighMul expressed as exact integer math:
    its "add a nudge, divide truncating toward zero" equals floor((a*b + 2**30) / 2**31).
    """
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    return (a * b + (1 << 30)) >> 31


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """x / 2**exponent rounded to nearest, ties away from zero (TFLite's RoundingDivideByPOT)."""
    q, r = divmod(abs(x), 1 << exponent)
    if 2 * r >= (1 << exponent) and exponent > 0:
        q += 1
    return q if x >= 0 else -q


def requantize(acc: int, multiplier: int, shift: int, zero_point: int, qmin: int, qmax: int) -> int:
    """TFLite int8 output stage: MultiplyByQuantizedMultiplier, + zero point, clamp.

    shift > 0 shifts left before the multiply, shift < 0 right after it (both limited to 31); the
    left shift and the zero-point addition wrap modulo 2**32 like the int32 C code does.
    """
    left = min(max(shift, 0), 31)
    right = min(max(-shift, 0), 31)
    x = s32(acc << left)
    hi = saturating_rounding_doubling_high_mul(x, s32(multiplier))
    v = s32(rounding_divide_by_pot(hi, right) + zero_point)
    return clamp(v, qmin, qmax)


_RQ_DATAPATH = """    wire [31:0] {p}_x = {src} << rq_l;
    // saturating rounding doubling high multiply: floor((x*m + 2^30) / 2^31)
    wire signed [63:0] {p}_ab  = $signed({p}_x) * $signed(mult);
    wire signed [63:0] {p}_sum = {p}_ab + 64'sd1073741824;
    wire        {p}_sat = ({p}_x == 32'h80000000) && (mult == 32'h80000000);
    wire [31:0] {p}_hi  = {p}_sat ? 32'h7fffffff : {p}_sum[62:31];
    // rounding divide by 2^right, ties away from zero
    wire [31:0] {p}_mask = (32'd1 << rq_r) - 32'd1;
    wire [31:0] {p}_rem  = {p}_hi & {p}_mask;
    wire [31:0] {p}_thr  = ({p}_mask >> 1) + {31'd0, {p}_hi[31]};
    wire signed [31:0] {p}_q = $signed({p}_hi) >>> rq_r;
    wire [31:0] {p}_v    = {p}_q + {31'd0, ({p}_rem > {p}_thr)} + zp;
    wire [31:0] {p}_min  = {{24{qmin[7]}}, qmin};
    wire [31:0] {p}_max  = {{24{qmax[7]}}, qmax};
    wire [31:0] {p}_c1   = ($signed({p}_v) < $signed({p}_min)) ? {p}_min : {p}_v;
    wire [31:0] {p}_out  = ($signed({p}_c1) > $signed({p}_max)) ? {p}_max : {p}_c1;
"""


def _rq_datapath(p: str, src: str) -> str:
    """Verilog of one requantize datapath on ``src`` (wires prefixed ``p``; the shift amounts rq_l / rq_r
    shared): ``{p}_out`` is the clamped int8 result sign-extended."""
    return _RQ_DATAPATH.replace("{p}", p).replace("{src}", src)


def requant_extension(name: str = "requant_i8", funct3: int = 5, latency: int = 1, pack: int = 1) -> Extension:
    """int32 -> int8 requantization as TFLite Micro's int8 kernels do it.

    ``pack=4`` adds two ops that requantize two values each (a second datapath) and pack four results
    into one word (a 16-bit ``held`` register keeps the first pair), so that an int8 output takes one
    word store per four elements:

    * 4 ``requant_lo``: held = {q(rs2), q(rs1)} (two int8 results), returns 0.
    * 5 ``requant_hi``: rd = {q(rs2), q(rs1), held}: byte i of rd is element i of the four.

    State: ``mult`` (int32 Q31 multiplier), ``shift`` (int8, >0 = left), ``zp`` (int32 output zero
    point), ``qmin``/``qmax`` (int8 activation clamp; reset to -128/127). Ops (funct7):

    * 0 ``set_mult``: mult = rs1.
    * 1 ``set_shift_zp``: shift = int8(rs1[7:0]), zp = rs2.
    * 2 ``set_clamp``: qmin = int8(rs1[7:0]), qmax = int8(rs2[7:0]).
    * 3 ``requant``: rd = clamp(RDBPOT(SRDHM(rs1 << left, mult), right) + zp, qmin, qmax), an int8
      sign-extended to 32 bits. Config ops return 0.

    The RTL registers its result (latency 1, issue interval 2): the 64-bit product is the long path.
    """
    ops = (
        Op("set_mult", funct3, 0, None, True, "mult = rs1 (Q31 multiplier)"),
        Op("set_shift_zp", funct3, 1, None, True, "shift = int8(rs1), zp = rs2"),
        Op("set_clamp", funct3, 2, None, True, "qmin = int8(rs1), qmax = int8(rs2)"),
        Op("requant", funct3, 3, None, True, "rd = int8 requantization of the int32 rs1"),
    )
    if pack not in (1, 4):
        from isa_ext.errors import ExtensionError

        raise ExtensionError(f"requant: pack must be 1 or 4, got {pack}")
    if pack == 4:
        ops += (Op("requant_lo", funct3, 4, None, True, "held = {q(rs2), q(rs1)}: two int8 results kept"),
                Op("requant_hi", funct3, 5, None, True, "rd = {q(rs2), q(rs1), held}: four int8 results"))

    def set_mult(a, b, imm, st):
        st["mult"][...] = s32(a)
        return 0

    def set_shift_zp(a, b, imm, st):
        st["shift"][...] = s8(a)
        st["zp"][...] = s32(b)
        return 0

    def set_clamp(a, b, imm, st):
        st["qmin"][...] = s8(a)
        st["qmax"][...] = s8(b)
        return 0

    def requant(a, b, imm, st):
        return requantize(
            s32(a), int(st["mult"]), int(st["shift"]), int(st["zp"]), int(st["qmin"]), int(st["qmax"])
        )

    def pair(a, b, st) -> int:
        return (requant(a, 0, 0, st) & 0xFF) | (requant(b, 0, 0, st) & 0xFF) << 8

    def requant_lo(a, b, imm, st):
        st["held"][...] = pair(a, b, st)
        return 0

    def requant_hi(a, b, imm, st):
        return (pair(a, b, st) << 16) | (int(st["held"]) & 0xFFFF)

    c_ops = {
        "set_mult": "$mult = (int32_t)rs1;\nreturn 0u;",
        "set_shift_zp": "$shift = (int8_t)(int32_t)(((rs1 & 0xFFu) ^ 0x80u) - 0x80u);\n"
        "$zp = (int32_t)rs2;\nreturn 0u;",
        "set_clamp": "$qmin = (int8_t)(int32_t)(((rs1 & 0xFFu) ^ 0x80u) - 0x80u);\n"
        "$qmax = (int8_t)(int32_t)(((rs2 & 0xFFu) ^ 0x80u) - 0x80u);\nreturn 0u;",
        "requant": """
            int32_t sh = $shift;
            uint32_t left = sh > 0 ? (sh > 31 ? 31u : (uint32_t)sh) : 0u;
            uint32_t right = sh < 0 ? (sh < -31 ? 31u : (uint32_t)(-sh)) : 0u;
            int32_t x = (int32_t)(rs1 << left);
            int32_t m = $mult;
            int32_t hi;
            if (x == INT32_MIN && m == INT32_MIN) {
                hi = INT32_MAX;
            } else {
                int64_t ab = (int64_t)x * (int64_t)m;
                int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
                hi = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
            }
            int32_t mask = (int32_t)((1u << right) - 1u);
            int32_t rem = hi & mask;
            int32_t thr = (mask >> 1) + (hi < 0 ? 1 : 0);
            int32_t res = (hi >> right) + (rem > thr ? 1 : 0);
            int32_t v = (int32_t)((uint32_t)res + (uint32_t)$zp);
            if (v < $qmin) v = $qmin;
            if (v > $qmax) v = $qmax;
            return (uint32_t)v;""",
    }
    if pack == 4:
        def c_q(src: str, dst: str) -> str:  # the requant body on ``src``, its result's low byte in ``dst``
            body = c_ops["requant"].replace("rs1 << left", f"{src} << left")
            return "{" + body.replace("return (uint32_t)v;", f"{dst} = (uint32_t)v & 0xFFu;") + "\n}"

        two = "uint32_t q1, q2;\n" + c_q("rs1", "q1") + "\n" + c_q("rs2", "q2") + "\n"
        c_ops["requant_lo"] = two + "$held = (int32_t)(q1 | (q2 << 8));\nreturn 0u;"
        c_ops["requant_hi"] = two + "return ((uint32_t)$held & 0xFFFFu) | (q1 << 16) | (q2 << 24);"
    comb = """
    // shift amounts: left = clamp(shift, 0, 31), right = clamp(-shift, 0, 31)
    wire [7:0]  rq_neg = 8'd0 - shift;
    wire [4:0]  rq_l = shift[7] ? 5'd0 : ((shift[6:5] != 2'b00) ? 5'd31 : shift[4:0]);
    wire [4:0]  rq_r = shift[7] ? ((rq_neg > 8'd31) ? 5'd31 : rq_neg[4:0]) : 5'd0;
""" + _rq_datapath("rq", "rs1")
    if pack == 4:
        comb += _rq_datapath("rq2", "rs2") + """    always @* begin
        rd = op_requant ? rq_out : op_requant_hi ? {rq2_out[7:0], rq_out[7:0], held[15:0]} : 32'd0;
    end"""
    else:
        comb += """    always @* begin
        rd = op_requant ? rq_out : 32'd0;
    end"""
    seq = """
        if (op_set_mult) mult <= rs1;
        if (op_set_shift_zp) begin
            shift <= rs1[7:0];
            zp <= rs2;
        end
        if (op_set_clamp) begin
            qmin <= rs1[7:0];
            qmax <= rs2[7:0];
        end"""
    if pack == 4:
        seq += """
        if (op_requant_lo) held <= {16'd0, rq2_out[7:0], rq_out[7:0]};"""

    def stimulus(rg: np.random.Generator, n: int):
        out = []
        while len(out) < n:
            r = rg.random()
            if r < 0.6:
                mult = int(rg.integers(1 << 30, 1 << 31))
            elif r < 0.8:
                mult = int(rg.choice([0, 1 << 30, INT32_MAX, INT32_MIN & 0xFFFFFFFF, 1, 0xFFFFFFFF]))
            else:
                mult = int(rg.integers(0, 1 << 32))
            shift = int(rg.integers(-31, 31)) if rg.random() < 0.85 else int(rg.integers(0, 256))
            zp = int(rg.integers(-128, 128)) if rg.random() < 0.85 else int(rg.integers(0, 1 << 32))
            lo, hi = (-128, 127) if rg.random() < 0.7 else sorted(int(v) for v in rg.integers(-128, 128, 2))
            if rg.random() < 0.05:
                lo, hi = hi, lo  # inverted clamp: qmax wins
            out.append(("set_mult", None, mult, 0))
            out.append(("set_shift_zp", None, shift & 0xFFFFFFFF, zp & 0xFFFFFFFF))
            out.append(("set_clamp", None, lo & 0xFFFFFFFF, hi & 0xFFFFFFFF))
            for _ in range(int(rg.integers(1, 40))):
                q = rg.random()
                if q < 0.4:
                    acc = int(rg.integers(-(1 << 31), 1 << 31))
                elif q < 0.7:
                    acc = int(rg.integers(-(1 << 16), 1 << 16))
                elif q < 0.85:
                    acc = int(rg.integers(-64, 64))
                else:
                    acc = int(rg.choice([INT32_MIN, INT32_MAX, -1, 0, 1, 1 << 30, -(1 << 30)]))
                if pack == 4 and rg.random() < 0.5:  # a packed pair: both operands requantized
                    acc2 = int(rg.integers(-(1 << 31), 1 << 31)) if rg.random() < 0.5 else int(rg.integers(-64, 64))
                    out.append((("requant_lo", "requant_hi")[int(rg.integers(0, 2))], None, acc & 0xFFFFFFFF,
                                acc2 & 0xFFFFFFFF))
                else:
                    out.append(("requant", None, acc & 0xFFFFFFFF, edge_or_random(rg)))
        return out[:n]

    edge: list = []

    def cfg(mult, shift, zp=0, lo=-128, hi=127):
        edge.extend([
            ("set_mult", None, mult & 0xFFFFFFFF, 0),
            ("set_shift_zp", None, shift & 0xFFFFFFFF, zp & 0xFFFFFFFF),
            ("set_clamp", None, lo & 0xFFFFFFFF, hi & 0xFFFFFFFF),
        ])

    def rq(*accs):
        edge.extend(("requant", None, a & 0xFFFFFFFF, 0) for a in accs)

    rq(0, 1, -1, INT32_MAX, INT32_MIN)  # reset state: mult 0 -> zp clamp
    cfg(1 << 30, 0)  # x * 0.5: SRDHM ties for odd x (round half up: -0.5 -> 0, 0.5 -> 1)
    rq(*range(-9, 10), 255, 257, -255, -257)
    cfg(1 << 30, -1)  # then /2: RDBPOT ties away from zero
    rq(*range(-12, 13), 6, -6, 10, -10)
    cfg(1 << 30, -3, 5)
    rq(*range(-40, 41, 3))
    cfg(INT32_MIN, 0, 0, -128, 127)  # the single SRDHM overflow
    rq(INT32_MIN, INT32_MAX, -1, 1)
    cfg(INT32_MIN, 0, 0, INT32_MIN, INT32_MAX)  # clamp bytes are int8: -0x80000000 -> 0, 0x7fffffff -> -1
    rq(INT32_MIN, 12345)
    cfg(INT32_MAX, 31, -128, -100, 100)  # left 31 wraps; saturation at both clamps
    rq(1, 2, 3, -1, -2, 1 << 20, -(1 << 20))
    cfg(0x5A5A5A5A, -31, 127)
    rq(INT32_MAX, INT32_MIN, 1 << 30, -(1 << 30))
    cfg(0x40000001, 0x80, 0x7FFFFFFF)  # shift -128 -> right 31; zp wraps
    rq(INT32_MAX, INT32_MIN, 0, -1)
    cfg(0x40000001, 0x7F, INT32_MIN)  # shift 127 -> left 31
    rq(1, 3, -1)
    cfg(1 << 30, 0, 0, 5, -5)  # inverted clamp -> always qmax
    rq(-100, 0, 100)
    if pack == 4:  # the packed ops: each lane's datapath at the edges, the held pair kept between them
        for m, sh, zp in ((1 << 30, -1, 0), (INT32_MIN, 0, 0), (INT32_MAX, 31, -128), (0x5A5A5A5A, -31, 127)):
            cfg(m, sh, zp)
            vals = [INT32_MIN, INT32_MAX, -1, 0, 1, 255, -255, 1 << 30, -(1 << 30), 7, -7]
            for a, b in zip(vals, vals[3:] + vals[:3]):
                edge.extend([("requant_lo", None, a & 0xFFFFFFFF, b & 0xFFFFFFFF),
                             ("requant_hi", None, b & 0xFFFFFFFF, a & 0xFFFFFFFF),
                             ("requant_hi", None, a & 0xFFFFFFFF, a & 0xFFFFFFFF)])
    ext = Extension(
        name=name,
        ops=ops,
        latency=latency,
        issue_interval=latency + 1 if latency else 1,
        state={
            "mult": ("int32", ()),
            "shift": ("int8", ()),
            "zp": ("int32", ()),
            "qmin": ("int8", ()),
            "qmax": ("int8", ()),
            **({"held": ("int32", ())} if pack == 4 else {}),
        },
        state_init={"qmin": -128, "qmax": 127},
        semantics={
            "set_mult": set_mult, "set_shift_zp": set_shift_zp, "set_clamp": set_clamp, "requant": requant,
            **({"requant_lo": requant_lo, "requant_hi": requant_hi} if pack == 4 else {}),
        },
        c_ops=c_ops,
        verilog_comb=comb,
        verilog_seq=seq,
        doc=f"{name}: int32 -> int8 requantization (TFLite MultiplyByQuantizedMultiplier, "
        "zero point, clamp) with parameters in state.",
        stimulus=stimulus,
        edge_cases=tuple(edge),
    )
    # the tensorize side: an elementwise tir.requantize stage, one requant op per element (and first, where
    # it fits, four elements per word store)
    if pack == 4:
        ext.intrinsics.append(requant_intrinsic(ext, pack=4))
    ext.intrinsics.append(requant_intrinsic(ext))
    return ext


def builtin_extensions() -> list[Extension]:
    return [
        dot_product_extension("dot4_i8", 4, 8, True, funct3=0, funct7=0),
        dot_product_extension("dot4_u8", 4, 8, False, funct3=0, funct7=1),
        dot_product_extension("dot2_i16", 2, 16, True, funct3=0, funct7=2),
        mac_bank_extension("mac4_i8", 16, 4, 8, True),
        requant_extension("requant_i8", 5),
    ]


__all__ = [
    "builtin_extensions", "dot_product_extension", "mac_bank_extension", "requant_extension",
    "requantize", "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot", "edge_or_random",
    "sext",
]
