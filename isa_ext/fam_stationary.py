"""The ``stationary`` candidate family: operand-stationary units that hold a weight tile.

A unit of the family keeps ``cols`` columns of int8 weights over up to ``k`` reduction steps inside it
(``cols * k`` bytes of state) and ``cols`` int32 accumulators. Per row of the other operand one pass is

    mac  s   (x k/8)   acc[c] += sum_j A[8s + j] * W[c][8s + j]   for c < cols, j < 8
    read c   (x cols)  returns acc[c], then acc[c] = 0

after ``load`` has put the ``cols x k`` weight tile into the unit once per block of columns. One mac
takes two words of A and does ``8 * cols`` multiply-adds, so the kernel is no longer bound by the 2.0
MAC/cycle a stateless 4-lane dot reaches on this core (one CFU op per 2 issue cycles).

Encodings (funct3 6 and 7; 5 stays requant_i8's):

* ``load``  funct3 6, funct7 = slot ``c * (k/8) + s`` in [0, cols * k/8): W[c][8s .. 8s+7] = rs1, rs2;
* ``mac``   funct3 7, funct7 = step ``s`` in [0, k/8);
* ``read``  funct3 7, funct7 = 64 + c, c in [0, cols).

The generator writes the three implementations (Python reference, C model, Verilog) independently;
:func:`isa_ext.verify` checks them against each other. :func:`rows_intrinsic` is the tensor intrinsic
(pattern ``"rows"``): a nest of rows x ``cols`` columns x a reduction of ``kk`` (a multiple of 8 up to
``k``) steps; the extension carries the one for its full ``k``.

    isa_ext.candidates.enumerate_family("stationary")   -> cols 2, 4, 8, 16 x k 32, 64
    stationary_extension("u", cols=8, k=64)             -> Extension (intrinsic attached)
    stationary_params(ext)                              -> (cols, k) of a unit of this family, else None
    rows_intrinsic(ext, kk)                             -> the intrinsic for a reduction of kk steps
"""

from __future__ import annotations

import numpy as np

import tir
from isa_ext.bits import lanes, s32
from isa_ext.candidates import CandidateSpec, Family, register_family
from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension, Op
from isa_ext.intrin import intrin_op
from tir.expr import BinOp, Cast, Const, Var
from tir.intrin import HardwareFacts, IntrinImpl, TensorIntrin, TensorizeMatch, call, decl_tensor_intrin
from tir.stmt import Evaluate, For, seq
from tir.visit import collect_vars

K_STEP = 8  # int8 elements of A per mac: two words
LOAD_FUNCT3 = 6
MAC_FUNCT3 = 7  # mac and read
READ_BASE = 64  # funct7 of read column 0 (mac steps are below it)
COLS = (2, 4, 8, 16)
KS = (32, 64)

_PARAMS: dict = {}  # Extension (hashed by identity) -> (cols, k) of the units this module built
_INTRINSICS: dict = {}  # (Extension, kk) -> its rows intrinsic


def _log2(n: int) -> int:
    return n.bit_length() - 1


def _check(cols: int, k: int) -> None:
    if cols not in COLS:
        raise ExtensionError(f"stationary: cols {cols} not in {COLS}")
    if k not in KS:
        raise ExtensionError(f"stationary: k {k} not in {KS}")
    if cols * (k // K_STEP) > 128:
        raise ExtensionError(f"stationary: {cols} x {k // K_STEP} load slots exceed the 128 funct7 values")


def stationary_extension(name: str, cols: int = 4, k: int = 64) -> Extension:
    """A weight-stationary int8 unit: ``cols`` columns x ``k`` reduction steps held, ``8 * cols`` MACs
    per mac op; see the module docstring for the ops and encodings. The extension carries its
    :func:`rows_intrinsic` for the full ``k``."""
    _check(cols, k)
    nk = k // K_STEP
    n_words = cols * 2 * nk
    load_r = range(0, cols * nk)
    mac_r = range(0, nk)
    read_r = range(READ_BASE, READ_BASE + cols)

    # --- Python reference: state as numpy arrays, operands as Python ints
    def widx(col: int, s: int, half: int) -> int:
        return col * 2 * nk + 2 * s + half

    def load(rs1, rs2, imm, st):
        col, s = divmod(imm, nk)
        st["w"][widx(col, s, 0)] = rs1
        st["w"][widx(col, s, 1)] = rs2
        return 0

    def mac(rs1, rs2, imm, st):
        a = lanes(rs1, 4, 8, True) + lanes(rs2, 4, 8, True)
        for col in range(cols):
            w = lanes(int(st["w"][widx(col, imm, 0)]), 4, 8, True) + lanes(int(st["w"][widx(col, imm, 1)]), 4, 8,
                                                                              True)
            st["acc"][col] = s32(int(st["acc"][col]) + sum(x * y for x, y in zip(a, w)))
        return 0

    def read(rs1, rs2, imm, st):
        col = imm - READ_BASE
        v = int(st["acc"][col])
        st["acc"][col] = 0
        return v & 0xFFFFFFFF

    # --- C model (a different formulation: byte extraction by shifts, uint32 wrap-around sums)
    lane = f"{name.upper()}_SLANE"  # lane j of a word, sign-extended
    c_helpers = f"#define {lane}(v, j) ((int32_t)(int8_t)(uint8_t)((v) >> (8u * (j))))\n"
    c_ops = {
        "load": """
            $w[2u * imm] = rs1;
            $w[2u * imm + 1u] = rs2;
            return 0u;""",
        "mac": f"""
            for (uint32_t c = 0; c < {cols}u; c++) {{
                uint32_t s = (uint32_t)$acc[c];
                const uint32_t *wp = &$w[c * {2 * nk}u + 2u * imm];
                for (uint32_t j = 0; j < 4u; j++) {{
                    s += (uint32_t)({lane}(rs1, j) * {lane}(wp[0], j));
                    s += (uint32_t)({lane}(rs2, j) * {lane}(wp[1], j));
                }}
                $acc[c] = (int32_t)s;
            }}
            return 0u;""",
        "read": f"""
            uint32_t c = imm - {READ_BASE}u;
            uint32_t v = (uint32_t)$acc[c];
            $acc[c] = 0;
            return v;""",
    }

    # --- Verilog: 8 * cols 8x8 signed multipliers, one 8-input adder tree per column, one op per cycle
    cb, sb = _log2(cols), _log2(nk)
    v = [f"    wire [{sb - 1}:0] ws_s = funct7[{sb - 1}:0];"]
    for col in range(cols):
        terms = []
        for h in range(2):
            v.append(f"    wire [31:0] ws_w{col}_{h} = w[{{{cb}'d{col}, ws_s, 1'b{h}}}];")
            x = "rs1" if h == 0 else "rs2"
            for j in range(4):
                lo = 8 * j
                v.append(f"    wire signed [15:0] ws_p{col}_{h}{j} = $signed({x}[{lo + 7}:{lo}]) * "
                         f"$signed(ws_w{col}_{h}[{lo + 7}:{lo}]);")
                terms.append(f"{{{{16{{ws_p{col}_{h}{j}[15]}}}}, ws_p{col}_{h}{j}}}")
        v.append(f"    wire [31:0] ws_sum{col} = acc[{col}] + " + " + ".join(terms) + ";")
    v.append(f"    wire [{cb - 1}:0] ws_col = funct7[{cb - 1}:0];")
    v.append("    always @* begin\n        rd = 32'd0;\n        if (op_read) rd = acc[ws_col];\n    end")
    seq_v = [
        "        if (op_load) begin",
        f"            w[{{funct7[{cb + sb - 1}:0], 1'b0}}] <= rs1;",
        f"            w[{{funct7[{cb + sb - 1}:0], 1'b1}}] <= rs2;",
        "        end",
        "        if (op_mac) begin",
        *[f"            acc[{col}] <= ws_sum{col};" for col in range(cols)],
        "        end",
        "        if (op_read) acc[ws_col] <= 32'd0;",
    ]

    # --- stimulus: fill the tile, then macs and reads mixed with reloads, so that verify sees every
    # slot, step and column against random and extreme weights
    def stimulus(rng: np.random.Generator, n: int):
        from isa_ext.library import edge_or_random

        out = []
        while len(out) < n:
            for slot in load_r:
                out.append(("load", slot, edge_or_random(rng), edge_or_random(rng)))
            for _ in range(2 * nk):
                out.append(("mac", int(rng.integers(0, nk)), edge_or_random(rng), edge_or_random(rng)))
                if rng.random() < 0.2:
                    out.append(("load", int(rng.integers(0, len(load_r))), edge_or_random(rng),
                                edge_or_random(rng)))
            for c in range(cols):
                out.append(("read", READ_BASE + c, edge_or_random(rng), edge_or_random(rng)))
        return out[:n]

    extreme = [("load", s, 0x80808080, 0x80808080) for s in load_r] + [("mac", s, 0x80808080, 0x80808080)
                                                                        for s in mac_r] * 4
    extreme += [("read", c, 0, 0) for c in read_r]
    extreme += [("load", s, 0x7F7F7F7F, 0x80808080) for s in load_r] + [("mac", s, 0x80807F7F, 0x7F7F8080)
                                                                        for s in mac_r] * 4
    extreme += [("read", c, 0, 0) for c in read_r] + [("read", c, 0, 0) for c in read_r]  # a read clears
    name_doc = (f"{name}: a {cols} x {k} int8 weight tile held in the unit; each mac does {cols * K_STEP} MACs "
                f"of two words of A into {cols} int32 accumulators.")
    ext = Extension(
        name=name,
        ops=(
            Op("load", LOAD_FUNCT3, None, load_r, True, f"W[c][8s..8s+7] = rs1, rs2 for slot c*{nk} + s"),
            Op("mac", MAC_FUNCT3, None, mac_r, True, f"acc[c] += dot8(rs1:rs2, W[c][8s..8s+7]) for {cols} columns"),
            Op("read", MAC_FUNCT3, None, read_r, True, f"returns acc[funct7 - {READ_BASE}], then clears it"),
        ),
        latency=0,
        state={"w": ("uint32", (n_words,)), "acc": ("int32", (cols,))},
        semantics={"load": load, "mac": mac, "read": read},
        c_ops=c_ops,
        c_helpers=c_helpers,
        verilog_comb="\n".join(v),
        verilog_seq="\n".join(seq_v),
        stimulus=stimulus,
        edge_cases=extreme,
        doc=name_doc,
    )
    _PARAMS[ext] = (cols, k)
    ext.intrinsics.append(rows_intrinsic(ext, k))
    return ext


def stationary_params(ext) -> tuple[int, int] | None:
    """(cols, k) of a unit built by :func:`stationary_extension`, None for any other extension."""
    return _PARAMS.get(ext)


def stationary_desc(name: str, cols: int, kk: int) -> tir.Tensor:
    """out[n] = sum_k a[k] * w[n, k] (int8 in, int32 out) for n < cols, k < kk: one pass of the unit."""
    a = tir.placeholder((kk,), "int8", name="a")
    w = tir.placeholder((cols, kk), "int8", name="w")
    r = tir.reduce_axis((0, kk), name="k")
    return tir.compute((cols,), lambda n: tir.sum(a[r].astype("int32") * w[n, r].astype("int32"), axis=r),
                       name=name)


def _unit_params(ext) -> tuple[int, int]:
    """``(cols, kmax)`` of a unit of the family; anything else is refused."""
    params = stationary_params(ext)
    if params is None:
        raise ExtensionError(f"{ext.name}: not a unit of the stationary family")
    return params


def _rows_check(m: TensorizeMatch) -> None:
    """The rows intrinsics tensorize data loops only (the reduction is inside the unit)."""
    if any(lp.is_reduce for lp in m.loops):
        raise m.error("the rows of the nest must be data loops; put every reduction loop outside or inside")


def rows_intrinsic(ext, kk: int) -> TensorIntrin:
    """The unit on a nest of rows x cols columns x ``kk`` reduction steps (``kk`` a multiple of 8 up
    to the unit's k): tensorize at the outermost data loop of the rows (every loop of the nest above
    the column and reduction axes must be a data loop). The weight tile is loaded once before the
    rows; each row is k/8 macs then ``cols`` reads. With reduction loops outside the nest (a longer
    reduction in blocks, or the kernel window of a convolution) the reads are added to the output."""
    cols, kmax = _unit_params(ext)
    if kk % K_STEP or not (K_STEP <= kk <= kmax):
        raise ExtensionError(f"{ext.name}: the reduction of the nest must be a multiple of {K_STEP} up to "
                             f"{kmax}, got {kk}")
    key = (ext, kk)
    if key in _INTRINSICS:
        return _INTRINSICS[key]
    nk = kmax // K_STEP
    ops = {n: intrin_op(ext, n) for n in ("load", "mac", "read")}
    zero = Const(0, "uint32")
    name = f"{ext.name}_rows" if kk == kmax else f"{ext.name}_rows_k{kk}"

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, w = m.inputs
        out = m.output
        rows = m.loops
        row_vars = {id(lp.var) for lp in rows}
        if set().union(*(collect_vars(i) for i in w.indices)) & row_vars:
            raise m.error(f"{w.buffer.name} varies along the rows {[lp.name for lp in rows]}; the unit keeps it "
                          "stationary over them")
        steps = kk // K_STEP
        setup = [Evaluate(call(ops["load"], (w.word(col, K_STEP * s), w.word(col, K_STEP * s + 4)),
                               (col * nk + s,)))
                 for col in range(cols) for s in range(steps)]
        row = [Evaluate(call(ops["mac"], (a.word(K_STEP * s), a.word(K_STEP * s + 4)), (s,))) for s in range(steps)]
        reads = [Cast("int32", call(ops["read"], (zero, zero), (READ_BASE + col,))) for col in range(cols)]
        body = seq(row + [out.store(r, col) for col, r in enumerate(reads)])
        update = seq(row + [out.store(BinOp("+", out.load(col), r, "int32"), col) for col, r in enumerate(reads)])
        init = seq([out.store(Const(0, "int32"), col) for col in range(cols)])

        def nest(s):
            for lp in reversed(rows):
                s = lp.loop(s)
            return s

        return IntrinImpl(body=seq(setup + [nest(body)]), reduce_init=nest(init),
                          reduce_update=seq(setup + [nest(update)]))

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, cols, cols * K_STEP, 4, "rows")
    intr = decl_tensor_intrin(stationary_desc(name, cols, kk), impl, name=name, ops=ops, extension=ext,
                              facts=facts, check=_rows_check)
    _INTRINSICS[key] = intr
    return intr


def stream_intrinsic(ext, kk: int, blocks: int) -> TensorIntrin:
    """The unit on a nest of rows x cols columns x a reduction of ``blocks * kk`` steps, longer than
    the unit holds: per row a rolled loop over the ``blocks`` reduction blocks, each loading its
    cols x ``kk`` weight tile and doing its kk/8 macs, the accumulators summing across the blocks;
    then one read per column. For a single row (batch-1 dense), where every weight is used once: no
    reads and adds of partial sums per block, as :func:`rows_intrinsic` with the blocks outside the
    nest needs (the weights are reloaded for every row, so it does not pay for more rows)."""
    cols, kmax = _unit_params(ext)
    if kk % K_STEP or not (K_STEP <= kk <= kmax) or blocks < 1:
        raise ExtensionError(f"{ext.name}: a reduction block must be a multiple of {K_STEP} up to {kmax} "
                             f"(got {kk}) and there must be at least one block (got {blocks})")
    key = (ext, kk, blocks)
    if key in _INTRINSICS:
        return _INTRINSICS[key]
    nk = kmax // K_STEP
    ops = {n: intrin_op(ext, n) for n in ("load", "mac", "read")}
    zero = Const(0, "uint32")
    name = f"{ext.name}_stream_k{kk}x{blocks}"

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, w = m.inputs
        out = m.output
        rows = m.loops
        steps = kk // K_STEP
        b = Var(f"{m.stage_name}_kblock")
        base = BinOp("*", b, Const(kk, "int32"), "int32")

        def at(off):
            return BinOp("+", base, Const(off, "int32"), "int32")

        block = seq([Evaluate(call(ops["load"], (w.word(col, at(K_STEP * s)), w.word(col, at(K_STEP * s + 4))),
                                   (col * nk + s,)))
                     for col in range(cols) for s in range(steps)]
                    + [Evaluate(call(ops["mac"], (a.word(at(K_STEP * s)), a.word(at(K_STEP * s + 4))), (s,)))
                       for s in range(steps)])
        loop = For(b, Const(0, "int32"), blocks, "serial", block)
        reads = [Cast("int32", call(ops["read"], (zero, zero), (READ_BASE + col,))) for col in range(cols)]
        body = seq([loop] + [out.store(r, col) for col, r in enumerate(reads)])
        update = seq([loop] + [out.store(BinOp("+", out.load(col), r, "int32"), col) for col, r in enumerate(reads)])
        init = seq([out.store(Const(0, "int32"), col) for col in range(cols)])

        def nest(st):
            for lp in reversed(rows):
                st = lp.loop(st)
            return st

        return IntrinImpl(body=nest(body), reduce_init=nest(init), reduce_update=nest(update))

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, cols, cols * K_STEP, 4, "rows")
    intr = decl_tensor_intrin(stationary_desc(name, cols, kk * blocks), impl, name=name, ops=ops, extension=ext,
                              facts=facts, check=_rows_check)
    _INTRINSICS[key] = intr
    return intr


# --- the family ---------------------------------------------------------------------------------------
def _grid() -> list[CandidateSpec]:
    return [CandidateSpec.of("stationary", cols=c, k=k, dtype="int8") for c in COLS for k in KS
            if c * (k // K_STEP) <= 128]


def _build(spec: CandidateSpec) -> Extension:
    p = spec.p
    if p.get("dtype", "int8") != "int8":
        raise ExtensionError(f"dtype {p.get('dtype')!r}: the stationary family is int8 only")
    return stationary_extension(spec.ext_name, int(p["cols"]), int(p["k"]))


def _describe(spec: CandidateSpec) -> str:
    c, k = spec.p["cols"], spec.p["k"]
    return (f"mac: acc[c] += dot8(rs1:rs2, W[c][8s..8s+7]) for {c} int8 weight columns held in the unit "
            f"(k <= {k}): {8 * c} MACs per op")


register_family(Family("stationary", "operand-stationary int8 units holding a cols x k weight tile", _grid, _build,
                       _describe))

__all__ = ["COLS", "KS", "K_STEP", "rows_intrinsic", "stationary_desc", "stationary_extension", "stationary_params",
           "stream_intrinsic"]
