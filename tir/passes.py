"""Passes over the loop IR: unrolling, simplification with loop bounds, guard removal."""

from __future__ import annotations

from .errors import LoweringError
from .expr import BufferLoad, Const, Expr, Ramp
from .simplify import Ranges, bound, fits, simplify
from .stmt import Allocate, Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store, seq
from .visit import mutate, substitute


def _simp(e: Expr, ranges: Ranges) -> Expr:
    def pre(n):
        if isinstance(n, BufferLoad):
            return BufferLoad(n.buffer, tuple(simplify(i, ranges) for i in n.indices))
        if isinstance(n, Ramp):
            return Ramp(n.buffer, tuple(simplify(i, ranges) for i in n.indices), n.lanes)
        return None

    return simplify(mutate(e, pre), ranges)


def simplify_stmt(s: Stmt, ranges: Ranges, vmap: dict | None = None) -> Stmt | None:
    """Substitute ``vmap``, simplify every expression with loop bounds, unroll 'unroll' loops and
    drop guards that the bounds prove. Returns None for a statement that does nothing."""
    vmap = vmap or {}

    def ex(e: Expr) -> Expr:
        return _simp(substitute(e, vmap), ranges)

    if isinstance(s, Seq):
        out = [simplify_stmt(c, ranges, vmap) for c in s.stmts]
        out = [c for c in out if c is not None]
        return seq(out) if out else None
    if isinstance(s, For):
        lo = ex(s.min)
        if s.extent <= 0:
            return None
        if s.kind == "unroll" or s.extent == 1:
            if not isinstance(lo, Const) and s.extent > 1:
                # a symbolic start: unroll with the offset kept symbolic
                pass
            parts = []
            for i in range(s.extent):
                v = Const(i, "int32") if isinstance(lo, Const) and lo.value == 0 else _simp(lo + i, ranges)
                parts.append(simplify_stmt(s.body, ranges, {**vmap, s.var: v}))
            parts = [p for p in parts if p is not None]
            if parts and s.pragmas:
                # a pragma scopes the statements of its loop: keep one iteration of a loop around them
                return For(s.var, Const(0, "int32"), 1, "serial", seq(parts), s.pragmas)
            return seq(parts) if parts else None
        if isinstance(lo, Const):
            ranges[id(s.var)] = (lo.value, lo.value + s.extent - 1)
        else:
            # a symbolic start: the variable ranges over [min of lo, max of lo + extent - 1]
            blo, bhi = bound(lo, ranges)
            if fits((blo, bhi + s.extent - 1)):
                ranges[id(s.var)] = (int(blo), int(bhi) + s.extent - 1)
        body = simplify_stmt(s.body, ranges, vmap)
        if body is None:
            return None
        return For(s.var, lo, s.extent, s.kind, body, s.pragmas)
    if isinstance(s, Store):
        return Store(s.buffer, tuple(ex(i) for i in s.indices), ex(s.value))
    if isinstance(s, IfThen):
        c = ex(s.cond)
        if isinstance(c, Const):
            branch = s.then if c.value else s.otherwise
            return None if branch is None else simplify_stmt(branch, ranges, vmap)
        then = simplify_stmt(s.then, ranges, vmap)
        other = None if s.otherwise is None else simplify_stmt(s.otherwise, ranges, vmap)
        if then is None and other is None:
            return None
        if then is None:
            from .expr import Not

            return IfThen(Not(c), other)
        return IfThen(c, then, other)
    if isinstance(s, Allocate):
        body = simplify_stmt(s.body, ranges, vmap)
        return None if body is None else Allocate(s.buffer, body)
    if isinstance(s, Evaluate):
        return Evaluate(ex(s.value))
    raise LoweringError(f"simplify: unknown statement node {type(s).__name__}")


def finalize(func: PrimFunc) -> PrimFunc:
    body = simplify_stmt(func.body, {})
    if body is None:
        body = Seq([])
    return PrimFunc(func.name, func.args, body, func.extensions, func.attrs)
