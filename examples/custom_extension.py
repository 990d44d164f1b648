"""Define a new ISA extension in a few lines, register it, print its C and Verilog, verify it.

The extension: ``sat_mac2_i16``, a saturating multiply-accumulate of two int16 lanes into one int32
accumulator held inside the CFU:

    mac         acc = saturate32(acc + rs1.lo * rs2.lo + rs1.hi * rs2.hi); returns the new acc
    read_clear  returns acc, then acc = 0
    set         acc = rs1; returns rs1

The three descriptions of the semantics (Python reference, C model, Verilog datapath) are written
independently on purpose: ``isa_ext.verify`` runs all three on the same random op stream and
requires them to agree bit for bit. Everything else (encodings, C wrappers for host / rv32im /
Verilator, CFU ports, decode, state registers, reset, handshake, routing) is generated.

``sat_mac2_intrinsic`` gives it a tensor intrinsic that proves, from the operands' value ranges, that
no partial sum can saturate, and a matmul of int8 data widened to int16 runs on it.

A second extension, ``dot2_u16`` (a 2-lane uint16 dot product), is written with the Extension
constructor directly, gets a tensor intrinsic, and tensorizes a uint16 matmul that runs with every
instruction executed by the verilated RTL.

Run:  .venv/bin/python examples/custom_extension.py
"""

import numpy as np

import codegen_c
import isa_ext
import schedules
import tir
from isa_ext import INT32_MAX, INT32_MIN, Extension, Op, clamp, lanes, s32
from isa_ext.intrin import dot_desc, dot_intrinsic, intrin_op
from tir.expr import Cast, Const
from tir.intrin import HardwareFacts, IntrinImpl, TensorIntrin, TensorizeMatch, call, decl_tensor_intrin
from tir.stmt import Evaluate, seq

FUNCT3 = 6  # free in the built-in library


def sat_mac2_i16(name: str = "sat_mac2_i16", funct3: int = FUNCT3) -> Extension:
    def mac(rs1, rs2, imm, st):
        a, b = lanes(rs1, 2, 16, True), lanes(rs2, 2, 16, True)
        acc = clamp(int(st["acc"]) + a[0] * b[0] + a[1] * b[1], INT32_MIN, INT32_MAX)
        st["acc"][...] = acc
        return acc

    def read_clear(rs1, rs2, imm, st):
        v = int(st["acc"])
        st["acc"][...] = 0
        return v

    def set_(rs1, rs2, imm, st):
        st["acc"][...] = s32(rs1)
        return rs1

    return Extension(
        name=name,
        ops=(
            Op("mac", funct3, 0, stateful=True, doc="acc = sat32(acc + lo*lo + hi*hi); returns acc"),
            Op("read_clear", funct3, 1, stateful=True, doc="returns acc, then acc = 0"),
            Op("set", funct3, 2, stateful=True, doc="acc = rs1"),
        ),
        latency=0,
        state={"acc": ("int32", ())},
        semantics={"mac": mac, "read_clear": read_clear, "set": set_},
        c_ops={
            "mac": """
                int64_t lo = (int64_t)(int16_t)(rs1 & 0xFFFFu) * (int16_t)(rs2 & 0xFFFFu);
                int64_t hi = (int64_t)(int16_t)(rs1 >> 16) * (int16_t)(rs2 >> 16);
                int64_t v = (int64_t)$acc + lo + hi;
                if (v > INT32_MAX) v = INT32_MAX;
                if (v < INT32_MIN) v = INT32_MIN;
                $acc = (int32_t)v;
                return (uint32_t)$acc;""",
            "read_clear": "uint32_t v = (uint32_t)$acc;\n$acc = 0;\nreturn v;",
            "set": "$acc = (int32_t)rs1;\nreturn rs1;",
        },
        verilog_comb="""
    wire signed [63:0] sm_lo  = $signed(rs1[15:0]) * $signed(rs2[15:0]);
    wire signed [63:0] sm_hi  = $signed(rs1[31:16]) * $signed(rs2[31:16]);
    wire signed [63:0] sm_sum = $signed({{32{acc[31]}}, acc}) + sm_lo + sm_hi;
    wire [31:0] sm_sat = (sm_sum > 64'sd2147483647) ? 32'h7fffffff
                       : (sm_sum < -64'sd2147483648) ? 32'h80000000 : sm_sum[31:0];
    always @* begin
        rd = 32'd0;
        if (op_mac) rd = sm_sat;
        if (op_read_clear) rd = acc;
        if (op_set) rd = rs1;
    end""",
        verilog_seq="""
        if (op_mac) acc <= sm_sat;
        if (op_read_clear) acc <= 32'd0;
        if (op_set) acc <= rs1;""",
        # Saturation needs a preset near the limits: the random stream alone rarely gets there.
        edge_cases=[
            ("set", None, 0x7FFF0000, 0), ("mac", None, 0x7FFF7FFF, 0x7FFF7FFF), ("read_clear", None, 0, 0),
            ("set", None, 0x80000010, 0), ("mac", None, 0x80007FFF, 0x7FFF8000), ("read_clear", None, 0, 0),
            ("mac", None, 0x80008000, 0x80008000), ("mac", None, 0x80008000, 0x80008000),
            ("read_clear", None, 0, 0),
        ],
        doc=f"{name}: saturating 2-lane int16 multiply-accumulate into one int32 accumulator.",
    )


def sat_mac2_intrinsic(ext: Extension) -> TensorIntrin:
    """``c = sum(a[k] * b[k])`` over a whole reduction in the unit's one accumulator, 2 int16 lanes per op.

    A saturating accumulate equals the stage's wrapping int32 sum only if no partial sum ever leaves
    int32, so the implementation proves that from the operands' value ranges (looking through the
    stages that produce them) and refuses the nest otherwise. Tensorize at the outermost reduction
    axis of a nest with no data loop (one output per pass).
    """
    ops = {k: intrin_op(ext, k) for k in ("mac", "read_clear", "set")}
    name = f"{ext.name}_acc"
    zero = Const(0, "uint32")

    def check(m: TensorizeMatch) -> None:
        if m.reduce_outside:
            raise m.error(f"reduction axes {m.reduce_outside} lie outside the nest; the accumulator saturates, so "
                          "the whole reduction must run in the unit")
        if any(not lp.is_reduce for lp in m.loops):
            raise m.error("the unit has one accumulator: the nest must hold reduction loops only")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, b = m.inputs
        n = 2
        for lp in m.loops:
            n *= lp.extent
        (alo, ahi), (blo, bhi) = m.value_range("a"), m.value_range("b")
        prods = [x * y for x in (alo, ahi) for y in (blo, bhi)]
        lo, hi = n * min(0, *prods), n * max(0, *prods)
        if lo < INT32_MIN or hi > INT32_MAX:
            raise m.error(f"cannot prove that no partial sum saturates: {a.buffer.name} in [{alo}, {ahi}], "
                          f"{b.buffer.name} in [{blo}, {bhi}], {n} products give sums in [{lo}, {hi}]; the unit "
                          "saturates where the stage wraps (narrow the operands, e.g. int8 values in int16 buffers)")
        loop = Evaluate(call(ops["mac"], (a.word(0), b.word(0))))
        for lp in reversed(m.loops):
            loop = lp.loop(loop)
        read = m.output.store(Cast("int32", call(ops["read_clear"], (zero, zero))), 0)
        # read_clear leaves the accumulator at 0; clear it once at entry (the unit outlives a kernel)
        return IntrinImpl(body=seq([loop, read]), setup=[Evaluate(call(ops["set"], (zero, zero)))])

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, 1, 2)
    return decl_tensor_intrin(dot_desc(name, 2, "int16"), impl, name=name, ops=ops, extension=ext, facts=facts,
                              check=check, lane_ops=("mac",))


EXT = isa_ext.register(sat_mac2_i16(), replace=True)
EXT.intrinsics.append(sat_mac2_intrinsic(EXT))


def main() -> None:
    for target in isa_ext.TARGETS:
        print(f"----- C, target {target}")
        print(EXT.c_source(target))
    print("----- Verilog")
    print(EXT.verilog())
    print("----- verification")
    print(isa_ext.verify(EXT, n=10000))
    # It shares one CFU with the built-ins (funct3 6 is free): check the combined, routed unit.
    print(isa_ext.verify_set(isa_ext.ExtensionSet(["dot4_i8", "mac4_i8", "requant_i8", EXT]), n=4000))
    # A saturating accumulate is a sum only while no partial sum saturates: its intrinsic proves that
    # from the operands' value ranges (here int8 data widened into int16 buffers).
    sat_demo()
    tensorize_demo()


def widened_matmul(M: int = 6, N: int = 4, K: int = 32):
    """C = A16 x B16^T where A16, B16 are int8 inputs widened to int16 (a zero-point-free stand-in for
    TFLite's (q - zp) operands), reduced in sat_mac2_i16's accumulator."""
    A = tir.placeholder((M, K), "int8", name="A")
    Bt = tir.placeholder((N, K), "int8", name="Bt")
    A16 = tir.compute((M, K), lambda i, k: A[i, k].astype("int16"), name="A16")
    B16 = tir.compute((N, K), lambda j, k: Bt[j, k].astype("int16"), name="B16")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A16[i, k].astype("int32") * B16[j, k].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(k, 2)
    s[C].tensorize(ko, EXT)
    return tir.lower(s, [A, Bt, C], "widened_matmul")


def sat_demo() -> None:
    func = widened_matmul()
    assert func.extensions == [EXT], "tensorize did not produce sat_mac2_i16 calls"
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (6, 32), dtype=np.int8)
    bt = rng.integers(-128, 128, (4, 32), dtype=np.int8)
    for target in ("host", "verilator"):
        c = np.zeros((6, 4), np.int32)
        codegen_c.build(func, target)(a, bt, c)
        ok = np.array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)
        print(f"sat_mac2_i16 widened matmul on {target}: {'OK' if ok else 'MISMATCH'}")
        if not ok:
            raise SystemExit(1)


# ---------------------------------------------------------------------------------------------
# A second extension, written with the Extension constructor (no family function), plus a tensor
# intrinsic, used by tensorize on a uint16 matmul.

DOT2_FUNCT3, DOT2_FUNCT7 = 0, 3  # funct3 0 with funct7 >= 3 is free in the built-in library


def dot2_u16(name: str = "dot2_u16") -> Extension:
    def dot(rs1, rs2, imm, st):
        return (rs1 & 0xFFFF) * (rs2 & 0xFFFF) + (rs1 >> 16) * (rs2 >> 16)

    ext = Extension(
        name=name,
        ops=(Op("dot", DOT2_FUNCT3, DOT2_FUNCT7, doc="rd = lo*lo + hi*hi of unsigned 16-bit lanes, mod 2^32"),),
        latency=0,
        semantics={"dot": dot},
        c_ops={"dot": "return (rs1 & 0xFFFFu) * (rs2 & 0xFFFFu) + (rs1 >> 16) * (rs2 >> 16);"},
        verilog_comb="""
    wire [31:0] du_lo = rs1[15:0] * rs2[15:0];
    wire [31:0] du_hi = rs1[31:16] * rs2[31:16];
    always @* begin
        rd = op_dot ? du_lo + du_hi : 32'd0;
    end""",
        doc=f"{name}: 2-lane unsigned 16-bit dot product (wrapping).",
    )
    # the tensorize side: c += a[k] * b[k] over the two packed uint16 lanes of one word
    ext.intrinsics.append(dot_intrinsic(ext, 2, "uint16"))
    return ext


DOT2 = isa_ext.register(dot2_u16(), replace=True)


def u16_matmul(M: int = 8, N: int = 8, K: int = 16):
    """C[i, j] = sum_k A[i, k] * Bt[j, k] in uint16 -> int32, a 2 x 4 register tile, the lane loop
    tensorized with dot2_u16."""
    A = tir.placeholder((M, K), "uint16", name="A")
    Bt = tir.placeholder((N, K), "uint16", name="Bt")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * Bt[j, k].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], 2, 4)
    s[CL].compute_at(s[C], jo)
    ic, jc = CL.op.axis
    ko, ki = s[CL].split(CL.op.reduce_axis[0], 2)
    s[CL].reorder(ko, ic, jc, ki)
    s[CL].unroll(ic)
    s[CL].unroll(jc)
    s[CL].tensorize(ki, DOT2)
    return tir.lower(s, [A, Bt, C], "u16_matmul")


def tensorize_demo() -> None:
    print("----- dot2_u16: verification")
    print(isa_ext.verify(DOT2, n=10000))
    # no function_id collision with the built-ins or with sat_mac2_i16: all of them share one CFU
    print(isa_ext.ExtensionSet(["dot4_i8", "dot4_u8", "dot2_i16", "mac4_i8", "requant_i8", EXT, DOT2]))
    func = u16_matmul()
    assert func.intrinsic_calls and func.extensions == [DOT2], "tensorize did not produce dot2_u16 calls"
    print(func)
    for target in codegen_c.TARGETS:
        src = codegen_c.emit(func, target)
        assert "isaforge_dot2_u16_dot(" in src
        print(f"----- u16_matmul C, target {target}: {len(src.splitlines())} lines")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 1 << 12, (8, 16)).astype(np.uint16)  # sums stay below 2**31
    bt = rng.integers(0, 1 << 12, (8, 16)).astype(np.uint16)
    c = np.zeros((8, 8), np.int32)
    codegen_c.build(func, "verilator")(a, bt, c)  # every dot2_u16 executed by the verilated RTL
    ok = np.array_equal(c, (a.astype(np.int64) @ bt.astype(np.int64).T).astype(np.int32))
    print(f"dot2_u16 matmul on verilator: {'OK' if ok else 'MISMATCH'}")
    if not ok:
        raise SystemExit(1)

if __name__ == "__main__":
    main()
