"""The lowered loop IR: buffers, statements and PrimFunc."""

from __future__ import annotations

from dataclasses import dataclass, field

from .expr import Expr, Var


class Buffer:
    """A flat row-major array: a kernel argument (scope "global", is_arg) or an intermediate.

    Intermediates live at the statement that allocates them: scope "global" ones at kernel
    level, "local" ones inside the loop nest as small arrays a C compiler can keep in registers.
    """

    __slots__ = ("name", "shape", "dtype", "scope", "is_arg")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: str, scope: str = "global",
                 is_arg: bool = False):
        self.name, self.shape, self.dtype, self.scope, self.is_arg = name, tuple(shape), dtype, scope, is_arg

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"Buffer({self.name}, {self.shape}, {self.dtype}, {self.scope})"


class Stmt:
    __slots__ = ()

    def __repr__(self) -> str:
        from .printer import stmt_str

        return stmt_str(self)


class For(Stmt):
    """``for var in range(min, min + extent)``; kind is serial, unroll, vectorize or parallel."""

    __slots__ = ("var", "min", "extent", "kind", "body", "pragmas")

    def __init__(self, var: Var, min: Expr, extent: int, kind: str, body: Stmt, pragmas=()):
        self.var, self.min, self.extent, self.kind, self.body = var, min, extent, kind, body
        self.pragmas = tuple(pragmas)


class Seq(Stmt):
    __slots__ = ("stmts",)

    def __init__(self, stmts):
        self.stmts = tuple(stmts)


class Store(Stmt):
    """``buffer[indices] = value``; with ``lanes`` > 1 a packed word: ``value`` (uint32) holds the ``lanes``
    contiguous elements from ``indices`` on (lane i in bits [i * w, (i + 1) * w) for elements of w bits),
    written as one 32-bit store (the store side of :class:`tir.expr.Ramp`)."""

    __slots__ = ("buffer", "indices", "value", "lanes")

    def __init__(self, buffer: Buffer, indices, value: Expr, lanes: int = 1):
        self.buffer, self.indices, self.value, self.lanes = buffer, tuple(indices), value, int(lanes)


class IfThen(Stmt):
    __slots__ = ("cond", "then", "otherwise")

    def __init__(self, cond: Expr, then: Stmt, otherwise: Stmt | None = None):
        self.cond, self.then, self.otherwise = cond, then, otherwise


class Allocate(Stmt):
    """Declares ``buffer`` for the extent of ``body``."""

    __slots__ = ("buffer", "body")

    def __init__(self, buffer: Buffer, body: Stmt):
        self.buffer, self.body = buffer, body


class Evaluate(Stmt):
    """Evaluates an expression for its side effect (an intrinsic call)."""

    __slots__ = ("value",)

    def __init__(self, value: Expr):
        self.value = value


@dataclass
class PrimFunc:
    """A lowered kernel: its name, its buffer arguments in order, and its body."""

    name: str
    args: list[Buffer]
    body: Stmt
    extensions: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        from .printer import func_str

        return func_str(self)

    __repr__ = __str__

    @property
    def intrinsic_calls(self) -> list:
        """Every Call node of the body, in program order."""
        from .printer import iter_calls

        return list(iter_calls(self.body))

    def output_indices(self) -> list[int]:
        """Indices (into ``args``) of the arguments the kernel writes; the others are only read."""
        written = written_buffer_ids(self.body)
        return [i for i, b in enumerate(self.args) if id(b) in written]

    def local_stack_bytes(self, elem_bytes) -> int:
        """Bytes of the deepest nest of ``local`` allocations (see :func:`local_stack_bytes`)."""
        return local_stack_bytes(self.body, elem_bytes)


def written_buffer_ids(body: Stmt) -> set[int]:
    """``id()`` of every buffer some Store in ``body`` writes (intrinsic calls take only scalars:
    a kernel writes memory through Stores alone)."""
    from .printer import iter_stmts

    return {id(s.buffer) for s in iter_stmts(body) if isinstance(s, Store)}


def local_stack_bytes(body: Stmt, elem_bytes) -> int:
    """The most bytes of ``local`` buffers live at once: the sum of the nested local Allocates along
    the deepest path of ``body``, each rounded up to 16 bytes (the rv32 stack alignment).

    Local buffers are block-scoped C arrays, i.e. stack memory; siblings are live one at a time.
    ``elem_bytes(dtype)`` is the size of one element as the emitted C type stores it. A C compiler
    may keep small tiles in registers, so this is an upper bound of the arrays' share of the frame
    (the frame's spills and saved registers come on top).
    """
    def need(s: Stmt | None) -> int:
        if s is None or isinstance(s, (Store, Evaluate)):
            return 0
        if isinstance(s, Seq):
            return max((need(c) for c in s.stmts), default=0)
        if isinstance(s, For):
            return need(s.body)
        if isinstance(s, IfThen):
            return max(need(s.then), need(s.otherwise))
        if isinstance(s, Allocate):
            own = 0
            if s.buffer.scope == "local":
                own = (s.buffer.size * int(elem_bytes(s.buffer.dtype)) + 15) // 16 * 16
            return own + need(s.body)
        return 0

    return need(body)


def seq(stmts) -> Stmt:
    out = []
    for s in stmts:
        if s is None:
            continue
        if isinstance(s, Seq):
            out.extend(s.stmts)
        else:
            out.append(s)
    if len(out) == 1:
        return out[0]
    return Seq(out)
