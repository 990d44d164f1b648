"""The candidate family ``fused``: one stateless instruction that computes a small expression DAG.

A spec holds the DAG as postfix text over two 32-bit register inputs ``a`` (rs1) and ``b`` (rs2),
plus the dtype each input holds (``""``: unused). Tokens, space separated:

* ``a``, ``b``                      the inputs, taken from the low bits of rs1 / rs2 per their dtype;
* ``<dtype>:<value>``               a constant, ``m`` for a minus sign (``int32:m128`` is -128);
* ``add.<dt> sub.<dt> mul.<dt> min.<dt> max.<dt>``  binary ops of dtype ``dt`` (wrap-around, signed);
* ``div.<dt>`` / ``mod.<dt>``       floor division / floor modulo by a power-of-two constant;
* ``cast.<dt>``                     conversion (wrap to ``dt``'s width, sign- or zero-extended).

Every value is kept as a 32-bit word holding its dtype's value (narrow dtypes sign- or
zero-extended), so ``rd`` is the result's value as the word a ``lb``/``lh`` of it would give. From
the one DAG come three independent renderings: Python semantics (Python ints), the C model
(uint32_t arithmetic, no undefined behaviour) and combinational Verilog (latency 0). The op uses
funct3 0 (never 5, requant_i8's). Its tensor intrinsic has the pattern ``"elementwise"``:
``out[i] = f(a[i], b[i])`` for a stage whose body is the same expression as the DAG's TIR form
(operands of ``+ * min max`` in either order).

Lane-parallel ops (spec parameter ``lanes`` = 4, a SIMD add / relu): a DAG whose inputs and result
are 8-bit runs on each of the four byte lanes of rs1 / rs2 at once (lane i of rd from lane i of the
inputs; four copies of the DAG in the Verilog), and its intrinsic covers 4 adjacent elements of an
innermost data axis: one word load per operand, one op, one word store. ``isa_ext.verify`` sweeps
every byte pair in every lane position.

The dataflow generator (:mod:`isa_ext.dataflow`) turns convex subgraphs of kernels' loop bodies
into such specs; :func:`fused_spec` builds one by hand.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import tir
from isa_ext.bits import MASK32
from isa_ext.candidates import CandidateSpec, Family, register_family
from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension, Op
from isa_ext.intrin import intrin_op
from isa_ext.verify import LaneSweep
from tir.expr import BinOp, Cast, Const
from tir.intrin import HardwareFacts, IntrinImpl, TensorizeMatch, call, decl_tensor_intrin
from tir.stmt import seq

FUNCT3 = 0
INPUT_DTYPES = ("int32", "int16", "uint16", "int8", "uint8")
_WIDTH = {"int32": (32, True), "int16": (16, True), "uint16": (16, False), "int8": (8, True), "uint8": (8, False)}
BINARY = ("add", "sub", "mul", "min", "max", "div", "mod")
_TIR_OP = {"add": "+", "sub": "-", "mul": "*", "min": "min", "max": "max", "div": "//", "mod": "%"}
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "//", "mod": "%"}
MAX_TOKENS = 24
LANES = 4  # byte lanes of a lane-parallel op (spec parameter ``lanes``)


@dataclass(frozen=True)
class Node:
    """One node of a parsed DAG: ``kind`` is ``in`` / ``const`` / a binary op / ``cast``."""

    kind: str
    dtype: str
    args: tuple = ()
    value: int = 0  # constant value, or the input's name for kind "in" (0: a, 1: b)


def _norm(v: int, dtype: str) -> int:
    """``v`` wrapped to ``dtype``, as a Python int (signed or unsigned value)."""
    bits, signed = _WIDTH[dtype]
    v &= (1 << bits) - 1
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def const_token(value: int, dtype: str = "int32") -> str:
    return f"{dtype}:{'m' if value < 0 else ''}{abs(int(value))}"


def parse(expr: str, a: str, b: str) -> Node:
    """The DAG of postfix ``expr`` (its root); an ExtensionError names the first bad token."""
    toks = expr.split()
    if not toks:
        raise ExtensionError("fused: empty expression")
    if len(toks) > MAX_TOKENS:
        raise ExtensionError(f"fused: {len(toks)} tokens, at most {MAX_TOKENS}")
    ins = {"a": a, "b": b}
    stack: list[Node] = []
    for t in toks:
        if t in ins:
            if ins[t] not in INPUT_DTYPES:
                raise ExtensionError(f"fused: input {t!r} is used but its dtype is {ins[t]!r} (one of {INPUT_DTYPES})")
            stack.append(Node("in", ins[t], (), 0 if t == "a" else 1))
        elif ":" in t:
            dt, v = t.split(":", 1)
            if dt not in _WIDTH:
                raise ExtensionError(f"fused: constant {t!r}: dtype {dt!r} not in {sorted(_WIDTH)}")
            neg = v.startswith("m")
            try:
                val = -int(v[1:]) if neg else int(v)
            except ValueError:
                raise ExtensionError(f"fused: bad constant {t!r}") from None
            if _norm(val, dt) != val:
                raise ExtensionError(f"fused: constant {t!r} does not fit {dt}")
            stack.append(Node("const", dt, (), val))
        elif "." in t:
            op, dt = t.split(".", 1)
            if dt not in _WIDTH:
                raise ExtensionError(f"fused: op {t!r}: dtype {dt!r} not in {sorted(_WIDTH)}")
            if op == "cast":
                if not stack:
                    raise ExtensionError(f"fused: {t!r} has no operand")
                stack.append(Node("cast", dt, (stack.pop(),)))
                continue
            if op not in BINARY:
                raise ExtensionError(f"fused: unknown op {op!r} in {t!r} (ops: {BINARY + ('cast',)})")
            if len(stack) < 2:
                raise ExtensionError(f"fused: {t!r} needs two operands")
            y, x = stack.pop(), stack.pop()
            for side in (x, y):
                if side.dtype != dt:
                    raise ExtensionError(f"fused: {t!r} takes {dt} operands, got {side.dtype} (add a cast)")
            if op in ("div", "mod"):
                if y.kind != "const" or y.value <= 0 or y.value & (y.value - 1):
                    raise ExtensionError(f"fused: {t!r} divides by a power-of-two constant only")
            stack.append(Node(op, dt, (x, y)))
        else:
            raise ExtensionError(f"fused: unknown token {t!r}")
    if len(stack) != 1:
        raise ExtensionError(f"fused: expression {expr!r} leaves {len(stack)} values, not one")
    return stack[0]


def _nodes(root: Node) -> list[Node]:
    """The distinct nodes, operands first."""
    out: list[Node] = []
    seen: set[int] = set()

    def go(n: Node):
        if id(n) in seen:
            return
        for c in n.args:
            go(c)
        seen.add(id(n))
        out.append(n)

    go(root)
    return out


def inputs_used(root: Node) -> tuple[bool, bool]:
    kinds = [n.value for n in _nodes(root) if n.kind == "in"]
    return 0 in kinds, 1 in kinds


# ------------------------------------------------------------------ rendering 1: Python semantics
_PY_OPS = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y, "min": min, "max": max,
           "div": lambda x, y: x // y, "mod": lambda x, y: x % y}


def evaluate(root: Node, rs1: int, rs2: int) -> int:
    """The DAG's result value (of the root's dtype) for register words rs1, rs2."""
    val: dict[int, int] = {}
    for n in _nodes(root):
        if n.kind == "in":
            v = _norm(rs1 if n.value == 0 else rs2, n.dtype)
        elif n.kind == "const":
            v = n.value
        elif n.kind == "cast":
            v = _norm(val[id(n.args[0])], n.dtype)
        else:
            x, y = val[id(n.args[0])], val[id(n.args[1])]
            v = _norm(_PY_OPS[n.kind](x, y), n.dtype)
        val[id(n)] = v
    return val[id(root)]


# ------------------------------------------------------------------ rendering 2: C
def _c_norm(x: str, dtype: str) -> str:
    bits, signed = _WIDTH[dtype]
    if bits == 32:
        return x
    mask = (1 << bits) - 1
    if signed:
        sign = 1 << (bits - 1)
        return f"((({x}) & 0x{mask:X}u) ^ 0x{sign:X}u) - 0x{sign:X}u"
    return f"(({x}) & 0x{mask:X}u)"


def _c_less(x: str, y: str, dtype: str) -> str:
    # values are normalized words: signed dtypes compare with the sign bit flipped, unsigned as they are
    if _WIDTH[dtype][1]:
        return f"(({x} ^ 0x80000000u) < ({y} ^ 0x80000000u))"
    return f"({x} < {y})"


def _c_lines(root: Node, x1: str = "rs1", x2: str = "rs2", prefix: str = "t") -> tuple[list[str], str]:
    """C statements computing the DAG over the uint32_t words ``x1`` / ``x2`` and the name of the result."""
    lines, name = [], {}
    for k, n in enumerate(_nodes(root)):
        v = f"{prefix}{k}"
        name[id(n)] = v
        if n.kind == "in":
            e = _c_norm(x1 if n.value == 0 else x2, n.dtype)
        elif n.kind == "const":  # a literal, not a variable (a divisor's would go unused)
            name[id(n)] = f"0x{n.value & MASK32:08X}u"
            continue
        elif n.kind == "cast":
            e = _c_norm(name[id(n.args[0])], n.dtype)
        else:
            x, y = name[id(n.args[0])], name[id(n.args[1])]
            if n.kind in ("add", "sub", "mul"):
                e = _c_norm(f"{x} {_INFIX[n.kind]} {y}", n.dtype)
            elif n.kind in ("min", "max"):
                lt = _c_less(x, y, n.dtype)
                e = f"{lt} ? {x if n.kind == 'min' else y} : {y if n.kind == 'min' else x}"
            elif n.kind == "div":
                k2 = n.args[1].value.bit_length() - 1
                if _WIDTH[n.dtype][1]:  # floor division of a signed value: arithmetic shift
                    s = f"0x{(0x80000000 >> k2):08X}u"
                    e = f"(({x} >> {k2}) ^ {s}) - {s}"
                else:
                    e = f"{x} >> {k2}"
            else:  # floor modulo by 2**k: the low bits, for signed values too
                e = f"{x} & 0x{n.args[1].value - 1:X}u"
        lines.append(f"uint32_t {v} = {e};")
    return lines, name[id(root)]


def c_body(root: Node, lanes: int = 1) -> str:
    """The C model's body: the DAG over rs1 / rs2, or with ``lanes`` 4 over each byte lane of them."""
    if lanes == 1:
        lines, res = _c_lines(root)
        return "\n".join([*lines, f"return {res};"])
    out = ["uint32_t r = 0u;"]
    for i in range(lanes):
        lines, res = _c_lines(root, f"(rs1 >> {8 * i})", f"(rs2 >> {8 * i})", f"l{i}_t")
        out += [*lines, f"r |= ({res} & 0xFFu) << {8 * i};"]
    out.append("return r;")
    return "\n".join(out)


# ------------------------------------------------------------------ rendering 3: Verilog
def _v_norm(x: str, dtype: str) -> str:
    bits, signed = _WIDTH[dtype]
    if bits == 32:
        return x
    fill = f"{{{32 - bits}{{{x}[{bits - 1}]}}}}" if signed else f"{32 - bits}'d0"
    return f"{{{fill}, {x}[{bits - 1}:0]}}"


def _v_lines(root: Node, x1: str = "rs1", x2: str = "rs2", prefix: str = "fu_t") -> tuple[list[str], str]:
    """Verilog wires computing the DAG over the 32-bit signals ``x1`` / ``x2`` and the result's name."""
    lines, name = [], {}
    for k, n in enumerate(_nodes(root)):
        v = f"{prefix}{k}"
        name[id(n)] = v
        if n.kind == "in":
            e = _v_norm(x1 if n.value == 0 else x2, n.dtype)
        elif n.kind == "const":
            name[id(n)] = f"32'h{n.value & MASK32:08x}"
            continue
        elif n.kind == "cast":
            src = name[id(n.args[0])]
            e = _v_norm(src, n.dtype)
        else:
            x, y = name[id(n.args[0])], name[id(n.args[1])]
            if n.kind in ("add", "sub", "mul"):
                lines.append(f"    wire [31:0] {v}_r = {x} {_INFIX[n.kind]} {y};")
                e = _v_norm(f"{v}_r", n.dtype)
            elif n.kind in ("min", "max"):
                lt = f"($signed({x}) < $signed({y}))" if _WIDTH[n.dtype][1] else f"({x} < {y})"
                e = f"{lt} ? {x if n.kind == 'min' else y} : {y if n.kind == 'min' else x}"
            elif n.kind == "div":
                k2 = n.args[1].value.bit_length() - 1
                if k2 == 0:
                    e = x
                else:
                    fill = f"{{{k2}{{{x}[31]}}}}" if _WIDTH[n.dtype][1] else f"{k2}'d0"
                    e = f"{{{fill}, {x}[31:{k2}]}}"
            else:
                e = f"{x} & 32'h{n.args[1].value - 1:08x}"
        lines.append(f"    wire [31:0] {v} = {e};")
    return lines, name[id(root)]


def verilog_comb(root: Node, op_name: str, lanes: int = 1) -> str:
    """Combinational Verilog of the op: the DAG over rs1 / rs2, or with ``lanes`` 4 one copy per byte lane
    (lane i's inputs are bits [8i+7:8i] of rs1 / rs2, its result's low byte goes to the same bits of rd)."""
    if lanes == 1:
        lines, res = _v_lines(root)
    else:
        lines, parts = [], []
        for i in range(lanes):
            hi, lo = 8 * i + 7, 8 * i
            lines += [f"    wire [31:0] fu_l{i}_a = {{24'd0, rs1[{hi}:{lo}]}};",
                      f"    wire [31:0] fu_l{i}_b = {{24'd0, rs2[{hi}:{lo}]}};"]
            ls, r = _v_lines(root, f"fu_l{i}_a", f"fu_l{i}_b", f"fu_l{i}_t")
            lines += ls
            parts.insert(0, f"{r}[7:0]")
        lines.append(f"    wire [31:0] fu_lanes = {{{', '.join(parts)}}};")
        res = "fu_lanes"
    lines += ["    always @* begin", f"        rd = op_{op_name} ? {res} : 32'd0;", "    end"]
    return "\n".join(lines)


# ------------------------------------------------------------------ infix text and the TIR form
def infix(root: Node) -> str:
    def go(n: Node) -> str:
        if n.kind == "in":
            return "ab"[n.value]
        if n.kind == "const":
            return str(n.value)
        if n.kind == "cast":
            return f"{n.dtype}({go(n.args[0])})"
        x, y = go(n.args[0]), go(n.args[1])
        if n.kind in ("min", "max"):
            return f"{n.kind}({x}, {y})"
        return f"({x} {_INFIX[n.kind]} {y})"

    s = go(root)
    return s[1:-1] if s.startswith("(") and s.endswith(")") else s


def to_tir(root: Node, a, b):
    """The DAG as a TIR expression over ``a`` / ``b`` (expressions, e.g. loads of placeholders)."""
    memo: dict[int, object] = {}

    def go(n: Node):
        if id(n) in memo:
            return memo[id(n)]
        if n.kind == "in":
            r = a if n.value == 0 else b
        elif n.kind == "const":
            r = Const(n.value, n.dtype)
        elif n.kind == "cast":
            r = Cast(n.dtype, go(n.args[0]))
        else:
            r = BinOp(_TIR_OP[n.kind], go(n.args[0]), go(n.args[1]), n.dtype)
        memo[id(n)] = r
        return r

    return go(root)


# ------------------------------------------------------------------ the family
def fused_spec(expr: str, a: str = "int32", b: str = "", source: str = "family", evidence: str = "",
               lanes: int = 1) -> CandidateSpec:
    """A ``fused`` spec (checked by parsing); ``lanes`` 4: the DAG on each of 4 byte lanes (8-bit inputs
    and result only)."""
    _check_lanes(parse(expr, a, b), lanes, a, b)
    extra = {"lanes": int(lanes)} if lanes != 1 else {}  # (a scalar spec keeps the key it had before lanes)
    return CandidateSpec.of("fused", source=source, evidence=evidence, expr=expr, a=a, b=b, **extra)


def lanes_fit(root: Node, a: str, b: str) -> bool:
    """Whether the DAG can run on byte lanes: every input it reads and its result are 8-bit."""
    ua, ub = inputs_used(root)
    ins = [d for d, u in ((a, ua), (b, ub)) if u]
    return bool(ins) and all(_WIDTH[d][0] == 8 for d in ins) and _WIDTH[root.dtype][0] == 8


def _check_lanes(root: Node, lanes: int, a: str, b: str) -> None:
    if lanes == 1:
        return
    if lanes != LANES:
        raise ExtensionError(f"fused: lanes must be 1 or {LANES}, got {lanes}")
    if not lanes_fit(root, a, b):
        raise ExtensionError(f"fused: {LANES} lanes need 8-bit inputs and an 8-bit result, got a: {a or '-'}, "
                             f"b: {b or '-'}, result {root.dtype}")


def _spec_parts(spec: CandidateSpec) -> tuple[Node, str, str]:
    p = spec.p
    a, b = str(p.get("a", "int32")), str(p.get("b", ""))
    root = parse(str(p["expr"]), a, b)
    ua, ub = inputs_used(root)
    if not ua and not ub:
        raise ExtensionError("fused: the expression reads neither a nor b")
    _check_lanes(root, int(p.get("lanes", 1)), a, b)
    return root, a if ua else "", b if ub else ""


def evaluate_lanes(root: Node, rs1: int, rs2: int, lanes: int = LANES) -> int:
    """The op's 32-bit result with the DAG applied to each byte lane of rs1 / rs2."""
    r = 0
    for i in range(lanes):
        r |= (evaluate(root, (rs1 >> (8 * i)) & 0xFF, (rs2 >> (8 * i)) & 0xFF) & 0xFF) << (8 * i)
    return r


def _edge_values(root: Node) -> list[int]:
    vals = {0, 1, 2, MASK32, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFF80,
            0xFFFF8000}
    for n in _nodes(root):
        if n.kind == "const":
            for d in (-1, 0, 1):
                vals.add((n.value + d) & MASK32)
                vals.add((n.value * 2 + d) & MASK32)
    return sorted(vals)


def build_fused(spec: CandidateSpec) -> Extension:
    root, a, b = _spec_parts(spec)
    lanes = int(spec.p.get("lanes", 1))
    name = spec.ext_name
    doc = f"rd = {infix(root)}" + "".join(f"; {n}: {d}" for n, d in (("a", a), ("b", b)) if d)
    op_name = "fused"
    if lanes == 1:
        edges = _edge_values(root)
        sem = lambda r1, r2, imm, st: evaluate(root, r1, r2) & MASK32  # noqa: E731
        sweeps = ()
    else:
        doc = f"rd lane i = {infix(root)} of rs1 / rs2 lane i, {lanes} byte lanes" + doc[len(f"rd = {infix(root)}"):]
        # lane words of edge bytes (0, 1, 0x7F, 0x80, 0xFF, ...); every byte pair comes from the lane sweep
        eb = sorted({v & 0xFF for v in _edge_values(root)})
        edges = sorted({sum(eb[(j + 3 * i) % len(eb)] << (8 * i) for i in range(lanes)) for j in range(len(eb))})
        sem = lambda r1, r2, imm, st: evaluate_lanes(root, r1, r2, lanes)  # noqa: E731
        sweeps = (LaneSweep(op_name, 8, lanes),)
    pairs = [(op_name, None, x, y) for x, y in itertools.product(edges if a else [0], edges if b else [0])]
    ext = Extension(
        name=name,
        ops=(Op(op_name, FUNCT3, 0, None, False, doc),),
        latency=0,
        semantics={op_name: sem},
        c_ops={op_name: c_body(root, lanes)},
        verilog_comb=verilog_comb(root, op_name, lanes),
        doc=f"{name}: {doc} (one combinational op, generated from a fused DAG).",
        edge_cases=pairs[:400],
        lane_sweeps=sweeps,
    )
    ext.intrinsics.append(fused_intrinsic(ext, root, a, b, lanes))
    return ext


def fused_intrinsic(ext: Extension, root: Node, a: str, b: str, lanes: int = 1):
    """``out[i] = f(a[i], b[i])``: an elementwise stage (pattern "elementwise"), one op per element, or
    with ``lanes`` 4 one op per 4 adjacent elements.

    The lane form tensorizes an innermost data axis of extent 4 along which the operands and the output
    are contiguous and word-aligned: each operand is one word load, the op's result one word store; the
    nest's other loops stay loops."""
    op = intrin_op(ext, "fused")
    pa = tir.placeholder((lanes,), a, name="a") if a else None
    pb = tir.placeholder((lanes,), b, name="b") if b else None
    desc = tir.compute((lanes,), lambda i: to_tir(root, pa[i] if pa is not None else None,
                                                  pb[i] if pb is not None else None), name=ext.name)
    zero = Const(0, "uint32")

    def u32(e):
        return e if e.dtype == "uint32" else Cast("uint32", e)

    def check(m: TensorizeMatch) -> None:
        if any(lp.is_reduce for lp in m.loops):
            raise m.error("a fused op is elementwise: the nest must hold data loops only")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        views, out = m.views, m.output
        if lanes == 1:
            args = [u32(views["a"].load(0)) if "a" in views else zero,
                    u32(views["b"].load(0)) if "b" in views else zero]
            body = out.store(Cast(out.dtype, call(op, tuple(args))), 0)
        else:
            args = [views[k].word(0) if k in views else zero for k in ("a", "b")]
            body = out.store_word(call(op, tuple(args)), 0)
        for lp in reversed(m.loops):
            body = lp.loop(body)
        return IntrinImpl(body=seq([body]))

    facts = HardwareFacts(ext.latency, ext.issue_interval, int(bool(a)) + int(bool(b)), 1, 0, 0, lanes, "elementwise")
    name = ext.name if lanes == 1 else f"{ext.name}_lanes"
    return decl_tensor_intrin(desc, impl, name=name, ops={"fused": op}, extension=ext, facts=facts, check=check)


def _describe(spec: CandidateSpec) -> str:
    root, a, b = _spec_parts(spec)
    ins = ", ".join(f"{n}: {d}" for n, d in (("a", a), ("b", b)) if d)
    lanes = int(spec.p.get("lanes", 1))
    if lanes > 1:
        return f"rd lane i = {infix(root)} over {lanes} byte lanes ({ins})"
    return f"rd = {infix(root)} ({ins})"


GRID_EXPRS = (
    # residual add + relu
    ("a b add.int32 int32:0 max.int32", "int32", "int32"),
    # saturating int8 add (a residual in int8)
    ("a cast.int32 b cast.int32 add.int32 int32:m128 max.int32 int32:127 min.int32 cast.int8", "int8", "int8"),
    # clamp-shift: an int32 accumulator to int8 by a right shift
    ("a int32:256 div.int32 int32:m128 max.int32 int32:127 min.int32 cast.int8", "int32", ""),
    # mul-shift-add: a + (b * 181) >> 7 (a fixed-point scale-and-accumulate)
    ("a b int32:181 mul.int32 int32:128 div.int32 add.int32", "int32", "int32"),
)


# lane-parallel ops (4 byte lanes per op): SIMD add and relu for int8 activations
GRID_LANES = (
    # saturating int8 add
    ("a cast.int32 b cast.int32 add.int32 int32:m128 max.int32 int32:127 min.int32 cast.int8", "int8", "int8"),
    # int8 relu
    ("int8:0 a max.int8", "int8", ""),  # (the dataflow generator's canonical operand order)
)


def _grid() -> list[CandidateSpec]:
    return [fused_spec(e, a, b) for e, a, b in GRID_EXPRS] + [fused_spec(e, a, b, lanes=LANES)
                                                              for e, a, b in GRID_LANES]


register_family(Family("fused", "one stateless op computing a small expression DAG of two register inputs", _grid,
                       build_fused, _describe))

__all__ = ["GRID_EXPRS", "GRID_LANES", "LANES", "Node", "build_fused", "c_body", "const_token", "evaluate",
           "evaluate_lanes", "fused_intrinsic", "fused_spec", "infix", "inputs_used", "lanes_fit", "parse", "to_tir",
           "verilog_comb"]
