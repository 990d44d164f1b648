"""Readable text for expressions and the loop IR (one statement per line, like TVMScript)."""

from __future__ import annotations

from .expr import BinOp, BufferLoad, Call, Cast, Cmp, Const, Expr, Not, Ramp, Reduce, Select, TensorLoad, Var
from .stmt import Allocate, Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store

_PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5,
         "*": 6, "/": 6, "//": 6, "%": 6}


def _prec(e: Expr) -> int:
    if isinstance(e, (BinOp, Cmp)) and e.op in _PREC:
        return _PREC[e.op]
    return 9


def expr_str(e: Expr) -> str:
    if isinstance(e, Const):
        if e.dtype == "bool":
            return "True" if e.value else "False"
        if e.dtype in ("int32",):
            return str(e.value)
        return f"{e.dtype}({e.value})"
    if isinstance(e, Var):
        return e.name
    if isinstance(e, (BinOp, Cmp)):
        if e.op in ("min", "max"):
            return f"{e.op}({expr_str(e.a)}, {expr_str(e.b)})"
        p = _PREC[e.op]
        a = expr_str(e.a)
        b = expr_str(e.b)
        if _prec(e.a) < p:
            a = f"({a})"
        if _prec(e.b) <= p:
            b = f"({b})"
        return f"{a} {e.op} {b}"
    if isinstance(e, Not):
        return f"not ({expr_str(e.a)})"
    if isinstance(e, Cast):
        return f"{e.dtype}({expr_str(e.value)})"
    if isinstance(e, Select):
        return f"if_then_else({expr_str(e.cond)}, {expr_str(e.t)}, {expr_str(e.f)})"
    if isinstance(e, TensorLoad):
        return f"{e.tensor.name}[{', '.join(expr_str(i) for i in e.indices)}]"
    if isinstance(e, BufferLoad):
        return f"{e.buffer.name}[{', '.join(expr_str(i) for i in e.indices)}]"
    if isinstance(e, Ramp):
        return f"{e.buffer.name}[{', '.join(expr_str(i) for i in e.indices)} : +{e.lanes}]"
    if isinstance(e, Call):
        args = [str(i) for i in e.imm] + [expr_str(a) for a in e.args]
        return f"{e.op.c_name}({', '.join(args)})"
    if isinstance(e, Reduce):
        axes = ", ".join(a.name for a in e.axis)
        w = "" if e.condition is None else f", where={expr_str(e.condition)}"
        return f"{e.combiner}({expr_str(e.source)}, axis=[{axes}]{w})"
    return f"<{type(e).__name__}>"


def _lines(s: Stmt, ind: int, out: list[str]) -> None:
    pad = "  " * ind
    if isinstance(s, Seq):
        for c in s.stmts:
            _lines(c, ind, out)
    elif isinstance(s, For):
        lo = expr_str(s.min)
        rng = f"{s.extent}" if lo == "0" else f"{lo}, {lo} + {s.extent}"
        kind = "range" if s.kind == "serial" else s.kind
        for k, v in s.pragmas:
            out.append(f"{pad}# pragma {k}={v}")
        out.append(f"{pad}for {s.var.name} in {kind}({rng}):")
        _lines(s.body, ind + 1, out)
    elif isinstance(s, Store):
        idx = ", ".join(expr_str(i) for i in s.indices)
        out.append(f"{pad}{s.buffer.name}[{idx}] = {expr_str(s.value)}")
    elif isinstance(s, IfThen):
        out.append(f"{pad}if {expr_str(s.cond)}:")
        _lines(s.then, ind + 1, out)
        if s.otherwise is not None:
            out.append(f"{pad}else:")
            _lines(s.otherwise, ind + 1, out)
    elif isinstance(s, Allocate):
        b = s.buffer
        out.append(f"{pad}{b.name} = alloc_buffer({list(b.shape)}, {b.dtype}, scope={b.scope!r})")
        _lines(s.body, ind, out)
    elif isinstance(s, Evaluate):
        out.append(f"{pad}{expr_str(s.value)}")
    else:
        out.append(f"{pad}<{type(s).__name__}>")


def stmt_str(s: Stmt) -> str:
    out: list[str] = []
    _lines(s, 0, out)
    return "\n".join(out)


def func_str(f: PrimFunc) -> str:
    params = ", ".join(f"{b.name}: {b.dtype}[{', '.join(map(str, b.shape))}]" for b in f.args)
    out = [f"def {f.name}({params}):"]
    _lines(f.body, 1, out)
    return "\n".join(out)


def iter_stmts(s: Stmt):
    yield s
    if isinstance(s, Seq):
        for c in s.stmts:
            yield from iter_stmts(c)
    elif isinstance(s, (For, Allocate)):
        yield from iter_stmts(s.body)
    elif isinstance(s, IfThen):
        yield from iter_stmts(s.then)
        if s.otherwise is not None:
            yield from iter_stmts(s.otherwise)


def iter_calls(s: Stmt):
    from .visit import walk

    for st in iter_stmts(s):
        exprs = []
        if isinstance(st, Store):
            exprs = [st.value, *st.indices]
        elif isinstance(st, Evaluate):
            exprs = [st.value]
        for e in exprs:
            for n in walk(e):
                if isinstance(n, Call):
                    yield n
