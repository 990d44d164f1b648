"""Passes over the loop IR, the last three of tir.lower: unroll, simplify with loop bounds, guard removal.

Each is a :class:`tir.visit.StmtMutator` with one job, in this order: ``unroll`` copies the body of
every 'unroll' loop (and of every loop of extent 1) once per iteration with the loop variable
substituted; ``simplify_bounds`` simplifies every expression with the bounds of the loops around it,
which turns a guard the bounds decide into a constant condition; ``remove_guards`` drops those
guards (keeping the branch that runs) and every statement left without work.
"""

from __future__ import annotations

from .errors import LoweringError
from .expr import BufferLoad, Const, Expr, Ramp
from .simplify import Ranges, bound, fits, simplify
from .stmt import Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store, seq
from .visit import StmtMutator, contains_buffer_access, mutate, substitute


def _simp(e: Expr, ranges: Ranges) -> Expr:
    if not contains_buffer_access(e):
        return simplify(e, ranges)  # what the mutate below would give, without rebuilding e

    def pre(n):
        if isinstance(n, BufferLoad):
            idx = [simplify(i, ranges) for i in n.indices]
            for a, b in zip(idx, n.indices):
                if a is not b:
                    return BufferLoad(n.buffer, tuple(idx))
            return n  # (the same load: its parents need no rebuild)
        if isinstance(n, Ramp):
            return Ramp(n.buffer, tuple(simplify(i, ranges) for i in n.indices), n.lanes)
        return None

    return simplify(mutate(e, pre), ranges)


class _Unroll(StmtMutator):
    """Replace every 'unroll' loop (and every loop of extent 1) by one copy of its body per
    iteration, the loop variable substituted by its value; loops of extent <= 0 disappear."""

    def __init__(self, vmap: dict):
        self.vmap = vmap

    def visit_expr(self, e: Expr) -> Expr:
        return substitute(e, self.vmap)

    def visit_For(self, s: For) -> Stmt | None:
        if s.extent <= 0:
            return None
        lo = self.visit_expr(s.min)
        if s.kind != "unroll" and s.extent != 1:
            body = self.visit(s.body)
            if body is None:
                return None
            return s if (lo is s.min and body is s.body) else For(s.var, lo, s.extent, s.kind, body, s.pragmas)
        vmap, parts = self.vmap, []
        for i in range(s.extent):
            # a symbolic start stays symbolic in the offsets (simplified by the next pass)
            v = Const(int(lo.value) + i, "int32") if isinstance(lo, Const) else lo + i
            self.vmap = {**vmap, s.var: v}
            parts.append(self.visit(s.body))
        self.vmap = vmap
        parts = [p for p in parts if p is not None]
        if parts and s.pragmas:
            # a pragma scopes the statements of its loop: keep one iteration of a loop around them
            return For(s.var, Const(0, "int32"), 1, "serial", seq(parts), s.pragmas)
        return seq(parts) if parts else None


class _Simplify(StmtMutator):
    """Simplify every expression with the bounds of the loops around it (a guard the bounds decide
    becomes a constant condition; its dead branch is left alone for guard removal to drop)."""

    def __init__(self, ranges: Ranges):
        self.ranges = ranges

    def visit_expr(self, e: Expr) -> Expr:
        return _simp(e, self.ranges)

    def visit_default(self, s):
        raise LoweringError(f"simplify: unknown statement node {type(s).__name__}")

    def visit_Seq(self, s: Seq) -> Stmt:
        return seq([self.visit(c) for c in s.stmts])

    def visit_For(self, s: For) -> Stmt:
        lo, ranges = self.visit_expr(s.min), self.ranges
        if isinstance(lo, Const):
            ranges[id(s.var)] = (lo.value, lo.value + s.extent - 1)
        else:
            # a symbolic start: the variable ranges over [min of lo, max of lo + extent - 1]
            blo, bhi = bound(lo, ranges)
            if fits((blo, bhi + s.extent - 1)):
                ranges[id(s.var)] = (int(blo), int(bhi) + s.extent - 1)
        return For(s.var, lo, s.extent, s.kind, self.visit(s.body), s.pragmas)

    def visit_Store(self, s: Store) -> Stmt:
        return Store(s.buffer, tuple(self.visit_expr(i) for i in s.indices), self.visit_expr(s.value), s.lanes)

    def visit_IfThen(self, s: IfThen) -> Stmt:
        c = self.visit_expr(s.cond)
        if isinstance(c, Const):
            if c.value:
                return IfThen(c, self.visit(s.then), s.otherwise)
            return IfThen(c, s.then, None if s.otherwise is None else self.visit(s.otherwise))
        return IfThen(c, self.visit(s.then), None if s.otherwise is None else self.visit(s.otherwise))

    def visit_Evaluate(self, s: Evaluate) -> Stmt:
        return Evaluate(self.visit_expr(s.value))


class _RemoveGuards(StmtMutator):
    """Drop the guards with a constant condition (keeping the branch that runs) and every
    statement left without work: empty loops, allocations and ifs."""

    def visit_Seq(self, s: Seq) -> Stmt | None:
        out = [c for c in (self.visit(c) for c in s.stmts) if c is not None]
        return seq(out) if out else None

    def visit_IfThen(self, s: IfThen) -> Stmt | None:
        if isinstance(s.cond, Const):
            branch = s.then if s.cond.value else s.otherwise
            return None if branch is None else self.visit(branch)
        return super().visit_IfThen(s)

    def visit_Store(self, s: Store) -> Stmt:
        return s

    def visit_Evaluate(self, s: Evaluate) -> Stmt:
        return s


def unroll(s: Stmt, vmap: dict | None = None) -> Stmt | None:
    """Unroll 'unroll' loops and loops of extent 1 (substituting ``vmap`` too); None if nothing is left."""
    return _Unroll(vmap or {}).visit(s)


def simplify_bounds(s: Stmt, ranges: Ranges) -> Stmt:
    """Simplify every expression with loop bounds (``ranges`` gains the bounds of the loops of ``s``)."""
    return _Simplify(ranges).visit(s)


def remove_guards(s: Stmt) -> Stmt | None:
    """Drop guards with constant conditions and the statements left empty; None if nothing is left."""
    return _RemoveGuards().visit(s)


def simplify_stmt(s: Stmt, ranges: Ranges, vmap: dict | None = None) -> Stmt | None:
    """Substitute ``vmap``, unroll, simplify with loop bounds, drop the guards the bounds prove.
    Returns None for a statement that does nothing."""
    s = unroll(s, vmap)
    return None if s is None else remove_guards(simplify_bounds(s, ranges))


def _on_body(func: PrimFunc, f) -> PrimFunc:
    body = f(func.body)
    return PrimFunc(func.name, func.args, Seq([]) if body is None else body, func.extensions, func.attrs)


def unroll_func(func: PrimFunc) -> PrimFunc:
    """:func:`unroll` on a kernel's body."""
    return _on_body(func, unroll)


def simplify_func(func: PrimFunc) -> PrimFunc:
    """:func:`simplify_bounds` on a kernel's body, starting without bounds."""
    return _on_body(func, lambda b: simplify_bounds(b, {}))


def remove_guards_func(func: PrimFunc) -> PrimFunc:
    """:func:`remove_guards` on a kernel's body."""
    return _on_body(func, remove_guards)


def finalize(func: PrimFunc) -> PrimFunc:
    """Unroll, simplify and remove guards (the last three passes of tir.lower, in one call)."""
    return remove_guards_func(simplify_func(unroll_func(func)))
