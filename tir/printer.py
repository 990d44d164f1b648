"""Readable text for expressions and the loop IR (one statement per line, like TVMScript)."""

from __future__ import annotations

from .expr import BinOp, Call, Cmp, Expr
from .stmt import PrimFunc, Stmt
from .visit import ExprVisitor, StmtVisitor, walk

# Python's precedences: the bitwise operators bind looser than + - and tighter than comparisons
_PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "|": 4.2, "^": 4.4,
         "&": 4.6, "<<": 4.8, ">>": 4.8, "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6}


def _prec(e: Expr) -> int:
    if isinstance(e, (BinOp, Cmp)) and e.op in _PREC:
        return _PREC[e.op]
    return 9


class _ExprPrinter(ExprVisitor):
    """Each ``visit_<Node>`` returns the node's text."""

    def visit_default(self, e) -> str:
        return f"<{type(e).__name__}>"

    def visit_Const(self, e) -> str:
        if e.dtype == "bool":
            return "True" if e.value else "False"
        if e.dtype == "int32":
            return str(e.value)
        return f"{e.dtype}({e.value})"

    def visit_Var(self, e) -> str:
        return e.name

    def visit_BinOp(self, e) -> str:
        if e.op in ("min", "max"):
            return f"{e.op}({self.visit(e.a)}, {self.visit(e.b)})"
        p = _PREC[e.op]
        a, b = self.visit(e.a), self.visit(e.b)
        if _prec(e.a) < p:
            a = f"({a})"
        if _prec(e.b) <= p:
            b = f"({b})"
        return f"{a} {e.op} {b}"

    visit_Cmp = visit_BinOp

    def visit_Not(self, e) -> str:
        return f"not ({self.visit(e.a)})"

    def visit_Cast(self, e) -> str:
        return f"{e.dtype}({self.visit(e.value)})"

    def visit_Select(self, e) -> str:
        return f"if_then_else({self.visit(e.cond)}, {self.visit(e.t)}, {self.visit(e.f)})"

    def _index(self, e) -> str:
        return ", ".join(self.visit(i) for i in e.indices)

    def visit_TensorLoad(self, e) -> str:
        return f"{e.tensor.name}[{self._index(e)}]"

    def visit_BufferLoad(self, e) -> str:
        return f"{e.buffer.name}[{self._index(e)}]"

    def visit_Ramp(self, e) -> str:
        return f"{e.buffer.name}[{self._index(e)} : +{e.lanes}]"

    def visit_Call(self, e) -> str:
        args = [str(i) for i in e.imm] + [self.visit(a) for a in e.args]
        return f"{e.op.c_name}({', '.join(args)})"

    def visit_Reduce(self, e) -> str:
        axes = ", ".join(a.name for a in e.axis)
        w = "" if e.condition is None else f", where={self.visit(e.condition)}"
        return f"{e.combiner}({self.visit(e.source)}, axis=[{axes}]{w})"


_EXPR = _ExprPrinter()


def expr_str(e: Expr) -> str:
    return _EXPR.visit(e)


class _StmtPrinter(StmtVisitor):
    """Appends one line per statement to ``out``, indented two spaces per nesting level."""

    def __init__(self, ind: int, out: list[str]):
        self.ind, self.out = ind, out

    def line(self, text: str) -> None:
        self.out.append("  " * self.ind + text)

    def nested(self, s: Stmt) -> None:
        self.ind += 1
        self.visit(s)
        self.ind -= 1

    def visit_default(self, s) -> None:
        self.line(f"<{type(s).__name__}>")

    def visit_For(self, s) -> None:
        lo = expr_str(s.min)
        rng = f"{s.extent}" if lo == "0" else f"{lo}, {lo} + {s.extent}"
        kind = "range" if s.kind == "serial" else s.kind
        for k, v in s.pragmas:
            self.line(f"# pragma {k}={v}")
        self.line(f"for {s.var.name} in {kind}({rng}):")
        self.nested(s.body)

    def visit_Store(self, s) -> None:
        idx = ", ".join(expr_str(i) for i in s.indices)
        word = f" (word of {s.lanes})" if s.lanes > 1 else ""
        self.line(f"{s.buffer.name}[{idx}]{word} = {expr_str(s.value)}")

    def visit_IfThen(self, s) -> None:
        self.line(f"if {expr_str(s.cond)}:")
        self.nested(s.then)
        if s.otherwise is not None:
            self.line("else:")
            self.nested(s.otherwise)

    def visit_Allocate(self, s) -> None:
        b = s.buffer
        self.line(f"{b.name} = alloc_buffer({list(b.shape)}, {b.dtype}, scope={b.scope!r})")
        self.visit(s.body)

    def visit_Evaluate(self, s) -> None:
        self.line(expr_str(s.value))


def _lines(s: Stmt, ind: int, out: list[str]) -> None:
    _StmtPrinter(ind, out).visit(s)


def stmt_str(s: Stmt) -> str:
    out: list[str] = []
    _lines(s, 0, out)
    return "\n".join(out)


def func_str(f: PrimFunc) -> str:
    params = ", ".join(f"{b.name}: {b.dtype}[{', '.join(map(str, b.shape))}]" for b in f.args)
    out = [f"def {f.name}({params}):"]
    _lines(f.body, 1, out)
    return "\n".join(out)


class _Statements(StmtVisitor):
    """Every statement, in pre-order, into ``out``; ``exprs`` also collects each one's expressions."""

    def __init__(self, exprs: bool = False):
        self.out: list[Stmt] = []
        self.exprs: list[Expr] | None = [] if exprs else None

    def visit(self, s):
        self.out.append(s)
        return super().visit(s)

    def visit_expr(self, e: Expr) -> None:
        if self.exprs is not None:
            self.exprs.append(e)

    def visit_For(self, s) -> None:
        self.visit(s.body)  # the loop start holds no call

    def visit_Store(self, s) -> None:
        self.visit_expr(s.value)  # the value first: the order the calls are reported in
        for i in s.indices:
            self.visit_expr(i)

    def visit_IfThen(self, s) -> None:
        self.visit(s.then)  # a guard holds no call
        if s.otherwise is not None:
            self.visit(s.otherwise)


def iter_stmts(s: Stmt):
    """Every statement of ``s`` in pre-order (``s`` first)."""
    v = _Statements()
    v.visit(s)
    return iter(v.out)


def iter_calls(s: Stmt):
    """Every intrinsic Call of ``s``, in program order (a store's value before its indices)."""
    v = _Statements(exprs=True)
    v.visit(s)
    for e in v.exprs:
        for n in walk(e):
            if isinstance(n, Call):
                yield n
