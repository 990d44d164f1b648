"""Generic traversal of expressions and statements.

Functions for the common expression jobs (``mutate``, ``substitute``, ``walk``, ``children``) and
four classes with per-node-type dispatch for the rest: :class:`ExprVisitor`, :class:`ExprMutator`,
:class:`StmtVisitor` and :class:`StmtMutator`. A subclass defines ``visit_<NodeType>`` for the
nodes it cares about (``visit_For``, ``visit_Store``, ``visit_BinOp``...); the others get the
default, which visits (or rebuilds) the children. Dispatch is one dict lookup keyed by the node's
exact type, built once per class, so a visitor costs no more than an isinstance chain on the hot
paths (printing, simplification, feature extraction, emission).

    class CountStores(StmtVisitor):
        def __init__(self):
            self.n = 0

        def visit_Store(self, s):
            self.n += 1
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .errors import TirError
from .expr import (  # children: defined beside the node caches that need it
    KIND_CALL,
    KIND_LOAD,
    KIND_RAMP,
    KIND_TLOAD,
    BinOp,
    BufferLoad,
    Call,
    Cast,
    Cmp,
    Const,
    Expr,
    Not,
    Ramp,
    Reduce,
    Select,
    TensorLoad,
    Var,
    children,
    free_var_ids,
    kinds,
)
from .stmt import Allocate, Evaluate, For, IfThen, Seq, Stmt, Store, seq


def mutate(e: Expr, pre: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild ``e`` bottom-up; ``pre(node)`` may return a replacement (not visited further)."""
    r = pre(e)
    if r is not None:
        return r
    # the common node types by exact type first (one test each), then the general chain
    t = type(e)
    if t is BinOp:
        a, b = mutate(e.a, pre), mutate(e.b, pre)
        return e if a is e.a and b is e.b else BinOp(e.op, a, b, e.dtype)
    if t is Const or t is Var:
        return e
    if t is BufferLoad:
        return BufferLoad(e.buffer, tuple([mutate(i, pre) for i in e.indices]))
    if t is Cast:
        v = mutate(e.value, pre)
        return e if v is e.value else Cast(e.dtype, v)
    return _mutate_any(e, pre)


def _mutate_any(e: Expr, pre: Callable[[Expr], Expr | None]) -> Expr:
    if isinstance(e, (Const, Var)):
        return e
    if isinstance(e, BinOp):
        a, b = mutate(e.a, pre), mutate(e.b, pre)
        return e if a is e.a and b is e.b else BinOp(e.op, a, b, e.dtype)
    if isinstance(e, Cmp):
        a, b = mutate(e.a, pre), mutate(e.b, pre)
        return e if a is e.a and b is e.b else Cmp(e.op, a, b)
    if isinstance(e, Not):
        a = mutate(e.a, pre)
        return e if a is e.a else Not(a)
    if isinstance(e, Cast):
        v = mutate(e.value, pre)
        return e if v is e.value else Cast(e.dtype, v)
    if isinstance(e, Select):
        c, t, f = mutate(e.cond, pre), mutate(e.t, pre), mutate(e.f, pre)
        return e if (c is e.cond and t is e.t and f is e.f) else Select(c, t, f)
    if isinstance(e, TensorLoad):
        idx = tuple(mutate(i, pre) for i in e.indices)
        return TensorLoad(e.tensor, idx)
    if isinstance(e, BufferLoad):
        return BufferLoad(e.buffer, tuple(mutate(i, pre) for i in e.indices))
    if isinstance(e, Ramp):
        return Ramp(e.buffer, tuple(mutate(i, pre) for i in e.indices), e.lanes)
    if isinstance(e, Call):
        return Call(e.op, tuple(mutate(a, pre) for a in e.args), e.dtype, e.imm)
    if isinstance(e, Reduce):
        src = mutate(e.source, pre)
        cond = None if e.condition is None else mutate(e.condition, pre)
        return Reduce(e.combiner, src, e.axis, cond)
    raise TirError(f"cannot traverse expression node {type(e).__name__}")


def substitute(e: Expr, vmap: dict[Var, Expr]) -> Expr:
    """Replace variables (keys compared by identity) by expressions.

    A subtree without any of the variables is kept as it is (the same object), so the copies of an
    unrolled body share what does not depend on the unrolled variable.
    """
    if not vmap:
        return e
    return _subst(e, {id(k): v for k, v in vmap.items()})


def _subst(e: Expr, ids: dict) -> Expr:
    # (the variables are filled together with the strict key)
    for v in (e._fv if getattr(e, "_sk", None) is not None else free_var_ids(e)):
        if v in ids:
            break
    else:
        return e
    t = type(e)
    if t is Var:
        return ids[id(e)]
    if t is BinOp:
        a, b = _subst(e.a, ids), _subst(e.b, ids)
        return e if a is e.a and b is e.b else BinOp(e.op, a, b, e.dtype)
    if t is Cmp:
        a, b = _subst(e.a, ids), _subst(e.b, ids)
        return e if a is e.a and b is e.b else Cmp(e.op, a, b)
    if t is Cast:
        v = _subst(e.value, ids)
        return e if v is e.value else Cast(e.dtype, v)
    if t is BufferLoad:
        return BufferLoad(e.buffer, tuple(_subst(i, ids) for i in e.indices))
    if t is Not:
        a = _subst(e.a, ids)
        return e if a is e.a else Not(a)
    if t is Select:
        c, tt, f = _subst(e.cond, ids), _subst(e.t, ids), _subst(e.f, ids)
        return e if (c is e.cond and tt is e.t and f is e.f) else Select(c, tt, f)
    if t is TensorLoad:
        return TensorLoad(e.tensor, tuple(_subst(i, ids) for i in e.indices))
    if t is Ramp:
        return Ramp(e.buffer, tuple(_subst(i, ids) for i in e.indices), e.lanes)
    if t is Call:
        return Call(e.op, tuple(_subst(a, ids) for a in e.args), e.dtype, e.imm)
    if t is Reduce:
        src = _subst(e.source, ids)
        cond = None if e.condition is None else _subst(e.condition, ids)
        return Reduce(e.combiner, src, e.axis, cond)

    def pre(n):
        if isinstance(n, Var):
            return ids.get(id(n), n)
        return None

    return mutate(e, pre)


def walk(e: Expr) -> Iterator[Expr]:
    """Pre-order iteration over every node."""
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


_CALL, _RAMP, _LOAD, _TLOAD = KIND_CALL, KIND_RAMP, KIND_LOAD, KIND_TLOAD
_kinds = kinds


def contains_call(e: Expr) -> bool:
    """Whether a Call node occurs in ``e``."""
    return bool(_kinds(e) & _CALL)


def contains_ramp(e: Expr) -> bool:
    """Whether a Ramp node occurs in ``e``."""
    return bool(_kinds(e) & _RAMP)


def contains_buffer_access(e: Expr) -> bool:
    """Whether a BufferLoad or Ramp node occurs in ``e``."""
    return bool(_kinds(e) & (_LOAD | _RAMP))


def contains_access(e: Expr) -> bool:
    """Whether a BufferLoad, Ramp or TensorLoad node occurs in ``e``."""
    return bool(_kinds(e) & (_LOAD | _RAMP | _TLOAD))


def collect_tensor_loads(e: Expr) -> list[TensorLoad]:
    """The TensorLoad nodes of ``e`` in pre-order (as ``walk``; subtrees without one are skipped)."""
    out: list[TensorLoad] = []
    _tensor_loads(e, out)
    return out


def _tensor_loads(e: Expr, out: list) -> None:
    if kinds(e) & KIND_TLOAD:
        if isinstance(e, TensorLoad):
            out.append(e)
        for c in children(e):
            _tensor_loads(c, out)


def collect_vars(e: Expr) -> set[int]:
    return {id(n) for n in walk(e) if isinstance(n, Var)}


def check_reduce_top_level(body: Expr, name: str) -> None:
    """A Reduce may only be the whole body of a compute (as in TVM)."""
    nested = body.source if isinstance(body, Reduce) else body
    for n in walk(nested):
        if isinstance(n, Reduce):
            raise TirError(f"compute {name!r}: a reduction must be the whole body, "
                           f"found one nested inside {body}")
    if isinstance(body, Reduce) and body.condition is not None:
        for n in walk(body.condition):
            if isinstance(n, Reduce):
                raise TirError(f"compute {name!r}: reduction inside a reduction condition")


# visitor classes -------------------------------------------------------------------------------------

EXPR_TYPES: tuple[type, ...] = (Const, Var, BinOp, Cmp, Not, Cast, Select, TensorLoad, BufferLoad, Ramp, Call,
                                Reduce)
STMT_TYPES: tuple[type, ...] = (For, Seq, Store, IfThen, Allocate, Evaluate)


class _Dispatch:
    """``visit(node)`` calls ``visit_<type(node).__name__>``; unknown types go to ``visit_default``."""

    _types: tuple[type, ...] = ()
    _table: dict = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._table = {t: getattr(cls, "visit_" + t.__name__) for t in cls._types}

    def visit(self, node):
        f = self._table.get(type(node))
        if f is None:
            return self.visit_default(node)
        return f(self, node)

    def visit_default(self, node):
        raise TirError(f"{type(self).__name__}: cannot traverse node {type(node).__name__}")


class ExprVisitor(_Dispatch):
    """Visits an expression tree; each default ``visit_<Node>`` visits the node's children."""

    _types = EXPR_TYPES

    def visit_Const(self, e: Const):
        return None

    def visit_Var(self, e: Var):
        return None

    def _children(self, e):
        for c in children(e):
            self.visit(c)

    visit_BinOp = visit_Cmp = visit_Not = visit_Cast = visit_Select = _children
    visit_TensorLoad = visit_BufferLoad = visit_Ramp = visit_Call = visit_Reduce = _children


class ExprMutator(_Dispatch):
    """Rebuilds an expression bottom-up; a node whose children did not change is returned as is."""

    _types = EXPR_TYPES

    def visit_Const(self, e: Const) -> Expr:
        return e

    def visit_Var(self, e: Var) -> Expr:
        return e

    def visit_BinOp(self, e: BinOp) -> Expr:
        a, b = self.visit(e.a), self.visit(e.b)
        return e if a is e.a and b is e.b else BinOp(e.op, a, b, e.dtype)

    def visit_Cmp(self, e: Cmp) -> Expr:
        a, b = self.visit(e.a), self.visit(e.b)
        return e if a is e.a and b is e.b else Cmp(e.op, a, b)

    def visit_Not(self, e: Not) -> Expr:
        a = self.visit(e.a)
        return e if a is e.a else Not(a)

    def visit_Cast(self, e: Cast) -> Expr:
        v = self.visit(e.value)
        return e if v is e.value else Cast(e.dtype, v)

    def visit_Select(self, e: Select) -> Expr:
        c, t, f = self.visit(e.cond), self.visit(e.t), self.visit(e.f)
        return e if (c is e.cond and t is e.t and f is e.f) else Select(c, t, f)

    def _indices(self, idx: tuple) -> tuple:
        new = tuple(self.visit(i) for i in idx)
        return idx if all(a is b for a, b in zip(new, idx)) else new

    def visit_TensorLoad(self, e: TensorLoad) -> Expr:
        idx = self._indices(e.indices)
        return e if idx is e.indices else TensorLoad(e.tensor, idx)

    def visit_BufferLoad(self, e: BufferLoad) -> Expr:
        idx = self._indices(e.indices)
        return e if idx is e.indices else BufferLoad(e.buffer, idx)

    def visit_Ramp(self, e: Ramp) -> Expr:
        idx = self._indices(e.indices)
        return e if idx is e.indices else Ramp(e.buffer, idx, e.lanes)

    def visit_Call(self, e: Call) -> Expr:
        args = self._indices(e.args)
        return e if args is e.args else Call(e.op, args, e.dtype, e.imm)

    def visit_Reduce(self, e: Reduce) -> Expr:
        src = self.visit(e.source)
        cond = None if e.condition is None else self.visit(e.condition)
        if src is e.source and cond is e.condition:
            return e
        return Reduce(e.combiner, src, e.axis, cond)


class StmtVisitor(_Dispatch):
    """Visits a statement tree; the defaults visit every sub-statement and hand every expression
    (loop starts, indices, values, conditions) to ``visit_expr``, which does nothing by default."""

    _types = STMT_TYPES

    def visit_expr(self, e: Expr) -> None:
        return None

    def visit_Seq(self, s: Seq):
        for c in s.stmts:
            self.visit(c)

    def visit_For(self, s: For):
        self.visit_expr(s.min)
        self.visit(s.body)

    def visit_Store(self, s: Store):
        for i in s.indices:
            self.visit_expr(i)
        self.visit_expr(s.value)

    def visit_IfThen(self, s: IfThen):
        self.visit_expr(s.cond)
        self.visit(s.then)
        if s.otherwise is not None:
            self.visit(s.otherwise)

    def visit_Allocate(self, s: Allocate):
        self.visit(s.body)

    def visit_Evaluate(self, s: Evaluate):
        self.visit_expr(s.value)


class StmtMutator(_Dispatch):
    """Rebuilds a statement tree; ``visit_expr`` maps every expression (identity by default).

    A visit may return None for "nothing left": a Seq drops it, a loop or allocation around it
    disappears, an if without branches too.
    """

    _types = STMT_TYPES

    def visit_expr(self, e: Expr) -> Expr:
        return e

    def visit_Seq(self, s: Seq) -> Stmt | None:
        out = [c for c in (self.visit(c) for c in s.stmts) if c is not None]
        if len(out) == len(s.stmts) and all(a is b for a, b in zip(out, s.stmts)):
            return s
        return seq(out) if out else None

    def visit_For(self, s: For) -> Stmt | None:
        lo, body = self.visit_expr(s.min), self.visit(s.body)
        if body is None:
            return None
        if lo is s.min and body is s.body:
            return s
        return For(s.var, lo, s.extent, s.kind, body, s.pragmas)

    def visit_Store(self, s: Store) -> Stmt | None:
        idx = tuple(self.visit_expr(i) for i in s.indices)
        v = self.visit_expr(s.value)
        if v is s.value and all(a is b for a, b in zip(idx, s.indices)):
            return s
        return Store(s.buffer, idx, v, s.lanes)

    def visit_IfThen(self, s: IfThen) -> Stmt | None:
        c = self.visit_expr(s.cond)
        then = self.visit(s.then)
        other = None if s.otherwise is None else self.visit(s.otherwise)
        if then is None and other is None:
            return None
        if then is None:
            return IfThen(Not(c), other)
        if c is s.cond and then is s.then and other is s.otherwise:
            return s
        return IfThen(c, then, other)

    def visit_Allocate(self, s: Allocate) -> Stmt | None:
        body = self.visit(s.body)
        if body is None:
            return None
        return s if body is s.body else Allocate(s.buffer, body)

    def visit_Evaluate(self, s: Evaluate) -> Stmt | None:
        v = self.visit_expr(s.value)
        return s if v is s.value else Evaluate(v)
