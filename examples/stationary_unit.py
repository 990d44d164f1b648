"""A weight-stationary unit declared in one file, tensorized onto an int8 matmul, run on VexRiscv.

The unit ``wstat4_i8`` keeps a tile of the second operand inside it: 4 columns of int8 weights over
up to 64 reduction steps (64 words of state) and 4 int32 accumulators. Per row of A one pass is

    mac  k   (x 8)   acc[n] += sum_j A[i, 8k + j] * W[n][8k + j]   for n < 4, j < 8: 32 MACs per op
    read n   (x 4)   returns acc[n], then acc[n] = 0

after ``load`` has put the 4 x 64 weight tile into the unit once per block of 4 columns. Each op
takes two words of A and does 32 multiply-adds, so the stateless dot4's limit (4 MACs per CFU op,
2 cycles each on this core) no longer bounds the kernel.

Everything about the unit is here, written independently three times (Python reference, C model,
Verilog) and checked against each other by ``isa_ext.verify`` in Verilator, plus its tensor
intrinsic: nothing in tir/, schedules/, codegen_c/ or simulator/ knows this shape.

Run:  .venv/bin/python examples/stationary_unit.py
"""

from __future__ import annotations

import numpy as np

import isa_ext
import ops
import schedules
import simulator
import tir
from isa_ext import Extension, Op, lanes, s32
from isa_ext.intrin import intrin_op
from tir.expr import BinOp, Cast, Const
from tir.intrin import HardwareFacts, IntrinImpl, TensorizeMatch, call, decl_tensor_intrin
from tir.stmt import Evaluate, seq
from tir.visit import collect_vars

N_COLS = 4  # columns of the weight tile
K_MAX = 64  # reduction steps the unit holds
K_STEP = 8  # int8 elements of A per op: two words
N_K = K_MAX // K_STEP
FUNCT3 = 6  # free in the built-in library
LOAD, MAC, READ = range(0, N_COLS * N_K), range(32, 32 + N_K), range(40, 40 + N_COLS)


# ---------------------------------------------------------------------------------------------
# the extension: reference, C model, Verilog


def _word_index(col: int, k: int, half: int) -> int:
    return col * 2 * N_K + 2 * k + half


def wstat4_i8(name: str = "wstat4_i8", funct3: int = FUNCT3) -> Extension:
    def load(rs1, rs2, imm, st):  # slot = col * N_K + k holds W[col][8k .. 8k + 7]
        col, k = divmod(imm - LOAD.start, N_K)
        st["w"][_word_index(col, k, 0)] = rs1
        st["w"][_word_index(col, k, 1)] = rs2
        return 0

    def mac(rs1, rs2, imm, st):
        k = imm - MAC.start
        a = lanes(rs1, 4, 8, True) + lanes(rs2, 4, 8, True)
        for col in range(N_COLS):
            w = lanes(int(st["w"][_word_index(col, k, 0)]), 4, 8, True)
            w += lanes(int(st["w"][_word_index(col, k, 1)]), 4, 8, True)
            st["acc"][col] = s32(int(st["acc"][col]) + sum(x * y for x, y in zip(a, w)))
        return 0

    def read(rs1, rs2, imm, st):
        col = imm - READ.start
        v = int(st["acc"][col])
        st["acc"][col] = 0
        return v & 0xFFFFFFFF

    sx = "(int32_t)((((v) >> (8u * (j))) & 0xFFu) ^ 0x80u) - 0x80"  # lane j of v, sign-extended
    c_helpers = f"#define WSTAT_LANE(v, j) ({sx})\n"
    c_ops = {
        "load": f"""
            uint32_t slot = imm - {LOAD.start}u;
            $w[(slot / {N_K}u) * {2 * N_K}u + 2u * (slot % {N_K}u)] = rs1;
            $w[(slot / {N_K}u) * {2 * N_K}u + 2u * (slot % {N_K}u) + 1u] = rs2;
            return 0u;""",
        "mac": f"""
            uint32_t k = imm - {MAC.start}u;
            for (uint32_t col = 0; col < {N_COLS}u; col++) {{
                uint32_t s = (uint32_t)$acc[col];
                for (uint32_t h = 0; h < 2u; h++) {{
                    uint32_t x = h ? rs2 : rs1;
                    uint32_t wv = $w[col * {2 * N_K}u + 2u * k + h];
                    for (uint32_t j = 0; j < 4u; j++)
                        s += (uint32_t)(WSTAT_LANE(x, j) * WSTAT_LANE(wv, j));
                }}
                $acc[col] = (int32_t)s;
            }}
            return 0u;""",
        "read": f"""
            uint32_t col = imm - {READ.start}u;
            uint32_t v = (uint32_t)$acc[col];
            $acc[col] = 0;
            return v;""",
    }
    # Verilog: 32 8x8 multipliers and four 8-input adder trees, one op per cycle
    v = ["    wire [2:0] ws_k = funct7[2:0];"]
    for col in range(N_COLS):
        terms = []
        for h in range(2):
            v.append(f"    wire [31:0] ws_w{col}_{h} = w[{{2'd{col}, ws_k, 1'b{h}}}];")
            for j in range(4):
                lo = 8 * j
                x = f"$signed({'rs1' if h == 0 else 'rs2'}[{lo + 7}:{lo}])"
                y = f"$signed(ws_w{col}_{h}[{lo + 7}:{lo}])"
                v.append(f"    wire signed [31:0] ws_p{col}_{h}{j} = {x} * {y};")
                terms.append(f"ws_p{col}_{h}{j}")
        v.append(f"    wire [31:0] ws_sum{col} = acc[{col}] + " + " + ".join(terms) + ";")
    v.append("    wire [1:0] ws_col = funct7[1:0];")
    v.append("    always @* begin\n        rd = 32'd0;\n        if (op_read) rd = acc[ws_col];\n    end")
    seq_v = [
        "        if (op_load) begin",
        "            w[{funct7[4:0], 1'b0}] <= rs1;",
        "            w[{funct7[4:0], 1'b1}] <= rs2;",
        "        end",
        "        if (op_mac) begin",
        *[f"            acc[{col}] <= ws_sum{col};" for col in range(N_COLS)],
        "        end",
        "        if (op_read) acc[ws_col] <= 32'd0;",
    ]
    return Extension(
        name=name,
        ops=(
            Op("load", funct3, None, LOAD, True, "W[col][8k..8k+7] = rs1, rs2 for slot col*8 + k"),
            Op("mac", funct3, None, MAC, True, "acc[col] += dot8(rs1:rs2, W[col][8k..8k+7]) for 4 columns"),
            Op("read", funct3, None, READ, True, "returns acc[col], then acc[col] = 0"),
        ),
        latency=0,
        state={"w": ("uint32", (N_COLS * 2 * N_K,)), "acc": ("int32", (N_COLS,))},
        semantics={"load": load, "mac": mac, "read": read},
        c_ops=c_ops,
        c_helpers=c_helpers,
        verilog_comb="\n".join(v),
        verilog_seq="\n".join(seq_v),
        edge_cases=[("load", s, 0x80808080, 0x7F7F7F7F) for s in LOAD]
        + [("mac", k, 0x80808080, 0x80808080) for k in MAC] * 3 + [("read", c, 0, 0) for c in READ],
        doc=f"{name}: a {N_COLS} x {K_MAX} int8 weight tile held in the unit; each mac does "
        f"{N_COLS * K_STEP} MACs of two words of A into {N_COLS} int32 accumulators.",
    )


EXT = isa_ext.register(wstat4_i8(), replace=True)


# ---------------------------------------------------------------------------------------------
# the tensor intrinsic: one row of 4 outputs over the whole (<= 64) reduction, for every row of a block


def stationary_desc(k: int) -> tir.Tensor:
    """out[n] = sum_k a[k] * w[n, k] (int8 in, int32 out): what one pass of the unit computes."""
    a = tir.placeholder((k,), "int8", name="a")
    w = tir.placeholder((N_COLS, k), "int8", name="w")
    r = tir.reduce_axis((0, k), name="k")
    return tir.compute((N_COLS,), lambda n: tir.sum(a[r].astype("int32") * w[n, r].astype("int32"), axis=r),
                       name=f"wstat4_i8_k{k}")


def stationary_intrinsic(ext: Extension = EXT, k: int = K_MAX):
    """Tensorize at a data axis of rows: the nest is rows x 4 columns x ``k`` reduction steps."""
    if k % K_STEP or not (K_STEP <= k <= K_MAX):
        raise isa_ext.ExtensionError(f"{ext.name}: the reduction must be a multiple of {K_STEP} up to {K_MAX}")
    ops = {n: intrin_op(ext, n) for n in ("load", "mac", "read")}
    zero = Const(0, "uint32")

    def check(m: TensorizeMatch) -> None:
        if any(lp.is_reduce for lp in m.loops):
            raise m.error("the rows of the nest must be data loops; put every reduction loop outside or inside")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, w = m.inputs
        out = m.output
        rows = m.loops
        row_vars = {id(lp.var) for lp in rows}
        if set().union(*(collect_vars(i) for i in w.indices)) & row_vars:
            raise m.error(f"{w.buffer.name} varies along the rows {[lp.name for lp in rows]}; the unit keeps it "
                          "stationary over them")
        setup = [Evaluate(call(ops["load"], (w.word(col, K_STEP * s), w.word(col, K_STEP * s + 4)),
                               (LOAD.start + col * N_K + s,)))
                 for col in range(N_COLS) for s in range(k // K_STEP)]
        row = [Evaluate(call(ops["mac"], (a.word(K_STEP * s), a.word(K_STEP * s + 4)), (MAC.start + s,)))
               for s in range(k // K_STEP)]
        reads = [Cast("int32", call(ops["read"], (zero, zero), (READ.start + col,))) for col in range(N_COLS)]
        body = seq(row + [out.store(r, col) for col, r in enumerate(reads)])
        update = seq(row + [out.store(BinOp("+", out.load(col), r, "int32"), col) for col, r in enumerate(reads)])
        init = seq([out.store(Const(0, "int32"), col) for col in range(N_COLS)])

        def nest(s):
            for lp in reversed(rows):
                s = lp.loop(s)
            return s

        return IntrinImpl(body=seq(setup + [nest(body)]), reduce_init=nest(init),
                          reduce_update=seq(setup + [nest(update)]))

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, N_COLS, N_COLS * K_STEP, 4, "rows")
    return decl_tensor_intrin(stationary_desc(k), impl, name=f"{ext.name}_rows", ops=ops, extension=ext,
                              facts=facts, check=check)


def matmul_schedule(M: int, N: int, K: int):
    """C[M, N] = A[M, K] x Bt[N, K]^T with every block of 4 columns of C on the unit."""
    if N % N_COLS:
        raise ValueError(f"N = {N} must be a multiple of {N_COLS}")
    wl = ops.get("matmul_nt")(M, N, K)  # the library's K-major int8 matmul
    C = wl.output
    s = schedules.create_schedule(C)
    i, j = C.op.axis
    r = C.op.reduce_axis[0]
    jo, ji = s[C].split(j, N_COLS)
    kc = min(K, K_MAX)
    if K > K_MAX:  # blocks of K_MAX reduction steps, accumulated in C
        ko, ki = s[C].split(r, kc)
        s[C].reorder(jo, ko, i, ji, ki)
    else:
        s[C].reorder(jo, i, ji, r)
    s[C].tensorize(i, stationary_intrinsic(EXT, kc))
    return s, wl.args


def main(M: int = 64, N: int = 64, K: int = 64) -> None:
    print(isa_ext.verify(EXT, n=4000))
    s, args = matmul_schedule(M, N, K)
    func = tir.lower(s, args)
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    bt = rng.integers(-128, 128, (N, K), dtype=np.int8)
    c = np.zeros((M, N), np.int32)
    r = simulator.run(func, [a, bt, c], "vexriscv")
    np.testing.assert_array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)
    macs = M * N * K
    print(f"int8 matmul {M}x{N}x{K} on {EXT.name}: {r.cycles:,} cycles, {macs / r.cycles:.3f} MAC/cycle "
          "(bit-exact with numpy)")


if __name__ == "__main__":
    main()
