"""Passes over the loop IR: unrolling, simplification with loop bounds, guard removal."""

from __future__ import annotations

from .errors import LoweringError
from .expr import BufferLoad, Const, Expr, Not, Ramp
from .simplify import Ranges, bound, fits, simplify
from .stmt import Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store, seq
from .visit import StmtMutator, mutate, substitute


def _simp(e: Expr, ranges: Ranges) -> Expr:
    def pre(n):
        if isinstance(n, BufferLoad):
            return BufferLoad(n.buffer, tuple(simplify(i, ranges) for i in n.indices))
        if isinstance(n, Ramp):
            return Ramp(n.buffer, tuple(simplify(i, ranges) for i in n.indices), n.lanes)
        return None

    return simplify(mutate(e, pre), ranges)


class _Simplify(StmtMutator):
    """Substitute ``vmap``, simplify every expression with loop bounds, unroll 'unroll' loops and
    drop guards that the bounds prove; a statement that does nothing becomes None."""

    def __init__(self, ranges: Ranges, vmap: dict):
        self.ranges, self.vmap = ranges, vmap

    def visit_expr(self, e: Expr) -> Expr:
        return _simp(substitute(e, self.vmap), self.ranges)

    def visit_default(self, s):
        raise LoweringError(f"simplify: unknown statement node {type(s).__name__}")

    def visit_Seq(self, s: Seq) -> Stmt | None:
        out = [c for c in (self.visit(c) for c in s.stmts) if c is not None]
        return seq(out) if out else None

    def visit_For(self, s: For) -> Stmt | None:
        lo = self.visit_expr(s.min)
        if s.extent <= 0:
            return None
        if s.kind == "unroll" or s.extent == 1:
            return self.unroll(s, lo)
        ranges = self.ranges
        if isinstance(lo, Const):
            ranges[id(s.var)] = (lo.value, lo.value + s.extent - 1)
        else:
            # a symbolic start: the variable ranges over [min of lo, max of lo + extent - 1]
            blo, bhi = bound(lo, ranges)
            if fits((blo, bhi + s.extent - 1)):
                ranges[id(s.var)] = (int(blo), int(bhi) + s.extent - 1)
        body = self.visit(s.body)
        if body is None:
            return None
        return For(s.var, lo, s.extent, s.kind, body, s.pragmas)

    def unroll(self, s: For, lo: Expr) -> Stmt | None:
        """One copy of the body per iteration (a symbolic start stays symbolic in the offsets)."""
        vmap, parts = self.vmap, []
        for i in range(s.extent):
            v = Const(i, "int32") if isinstance(lo, Const) and lo.value == 0 else _simp(lo + i, self.ranges)
            self.vmap = {**vmap, s.var: v}
            parts.append(self.visit(s.body))
        self.vmap = vmap
        parts = [p for p in parts if p is not None]
        if parts and s.pragmas:
            # a pragma scopes the statements of its loop: keep one iteration of a loop around them
            return For(s.var, Const(0, "int32"), 1, "serial", seq(parts), s.pragmas)
        return seq(parts) if parts else None

    def visit_Store(self, s: Store) -> Stmt:
        return Store(s.buffer, tuple(self.visit_expr(i) for i in s.indices), self.visit_expr(s.value))

    def visit_IfThen(self, s: IfThen) -> Stmt | None:
        c = self.visit_expr(s.cond)
        if isinstance(c, Const):  # guard removal: the bounds decide it
            branch = s.then if c.value else s.otherwise
            return None if branch is None else self.visit(branch)
        then = self.visit(s.then)
        other = None if s.otherwise is None else self.visit(s.otherwise)
        if then is None and other is None:
            return None
        if then is None:
            return IfThen(Not(c), other)
        return IfThen(c, then, other)

    def visit_Evaluate(self, s: Evaluate) -> Stmt:
        return Evaluate(self.visit_expr(s.value))


def simplify_stmt(s: Stmt, ranges: Ranges, vmap: dict | None = None) -> Stmt | None:
    """Substitute ``vmap``, simplify every expression with loop bounds, unroll 'unroll' loops and
    drop guards that the bounds prove. Returns None for a statement that does nothing."""
    return _Simplify(ranges, vmap or {}).visit(s)


def finalize(func: PrimFunc) -> PrimFunc:
    body = simplify_stmt(func.body, {})
    if body is None:
        body = Seq([])
    return PrimFunc(func.name, func.args, body, func.extensions, func.attrs)
