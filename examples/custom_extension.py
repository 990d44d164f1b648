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

Run:  .venv/bin/python examples/custom_extension.py
"""

import isa_ext
from isa_ext import INT32_MAX, INT32_MIN, Extension, Op, clamp, lanes, s32

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


EXT = isa_ext.register(sat_mac2_i16(), replace=True)


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
    # TODO(tensorize): the lead adds a tensorize intrinsic here (EXT.intrinsics) mapping a 2-wide int16
    # reduction onto isaforge_sat_mac2_i16_mac, and a small matmul scheduled to use it.


if __name__ == "__main__":
    main()
