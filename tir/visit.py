"""Generic traversal of expressions: mutate, substitute, collect."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .errors import TirError
from .expr import (
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
)


def mutate(e: Expr, pre: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild ``e`` bottom-up; ``pre(node)`` may return a replacement (not visited further)."""
    r = pre(e)
    if r is not None:
        return r
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
    """Replace variables (keys compared by identity) by expressions."""
    if not vmap:
        return e
    ids = {id(k): v for k, v in vmap.items()}

    def pre(n):
        if isinstance(n, Var):
            return ids.get(id(n), n)
        return None

    return mutate(e, pre)


def children(e: Expr) -> tuple:
    if isinstance(e, (BinOp, Cmp)):
        return (e.a, e.b)
    if isinstance(e, Not):
        return (e.a,)
    if isinstance(e, Cast):
        return (e.value,)
    if isinstance(e, Select):
        return (e.cond, e.t, e.f)
    if isinstance(e, (TensorLoad, BufferLoad, Ramp)):
        return e.indices
    if isinstance(e, Call):
        return e.args
    if isinstance(e, Reduce):
        return (e.source,) if e.condition is None else (e.source, e.condition)
    return ()


def walk(e: Expr) -> Iterator[Expr]:
    """Pre-order iteration over every node."""
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def collect_tensor_loads(e: Expr) -> list[TensorLoad]:
    return [n for n in walk(e) if isinstance(n, TensorLoad)]


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
