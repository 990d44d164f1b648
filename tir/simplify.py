"""A fast affine simplifier for index arithmetic, with interval bounds.

Integer expressions are put in a linear form ``c0 + sum(ci * atom_i)`` where an atom is a variable
or a non-linear subterm (a floordiv, a floormod, a min...). Floor division and modulo by constants
are rewritten when the bounds of the variables prove it, which removes the arithmetic that split
and fuse introduce: ``(io * 4 + ii) // 4`` with ``ii`` in [0, 3] becomes ``io``.

``ranges`` maps ``id(var)`` to an inclusive (lo, hi) pair of ints.
"""

from __future__ import annotations

import math

from .expr import BinOp, Cast, Cmp, Const, Expr, Not, Select, Var, key
from .visit import mutate

Ranges = dict[int, tuple[int, int]]
INF = math.inf


# bounds ---------------------------------------------------------------------------------------

def bound(e: Expr, ranges: Ranges) -> tuple[float, float]:
    """Inclusive (lo, hi) of an integer expression; +-inf where unknown."""
    if isinstance(e, Const):
        v = e.value
        if isinstance(v, bool):
            v = int(v)
        return (v, v)
    if isinstance(e, Var):
        return ranges.get(id(e), (-INF, INF))
    if isinstance(e, BinOp):
        a = bound(e.a, ranges)
        b = bound(e.b, ranges)
        op = e.op
        if op == "+":
            return (a[0] + b[0], a[1] + b[1])
        if op == "-":
            return (a[0] - b[1], a[1] - b[0])
        if op == "*":
            prods = [_mul(x, y) for x in a for y in b]
            return (min(prods), max(prods))
        if op == "//" and b[0] == b[1] and b[0] > 0:
            c = b[0]
            return (_fdiv(a[0], c), _fdiv(a[1], c))
        if op == "%" and b[0] == b[1] and b[0] > 0:
            c = b[0]
            if a[0] >= 0 and a[1] < c:
                return a
            return (0, c - 1)
        if op == "min":
            return (min(a[0], b[0]), min(a[1], b[1]))
        if op == "max":
            return (max(a[0], b[0]), max(a[1], b[1]))
        return (-INF, INF)
    if isinstance(e, Select):
        t, f = bound(e.t, ranges), bound(e.f, ranges)
        return (min(t[0], f[0]), max(t[1], f[1]))
    if isinstance(e, Cast) and e.dtype in ("int32",) and e.value.dtype in ("int8", "uint8", "int16",
                                                                        "uint16", "int32"):
        return bound(e.value, ranges)
    return (-INF, INF)


def _mul(x, y):
    if x == 0 or y == 0:
        return 0
    return x * y


def _fdiv(x, c):
    if x in (INF, -INF):
        return x
    return x // c


# linear forms ---------------------------------------------------------------------------------

class Lin:
    """c0 + sum(coeff * atom); atoms keyed structurally, kept in first-seen order."""

    __slots__ = ("terms", "c")

    def __init__(self, terms: dict | None = None, c: int = 0):
        self.terms: dict[tuple, list] = terms if terms is not None else {}
        self.c = c

    @staticmethod
    def atom(e: Expr) -> Lin:
        return Lin({key(e): [e, 1]}, 0)

    def add(self, other: Lin, sign: int = 1) -> Lin:
        terms = {k: [v[0], v[1]] for k, v in self.terms.items()}
        for k, (e, co) in other.terms.items():
            if k in terms:
                terms[k][1] += sign * co
                if terms[k][1] == 0:
                    del terms[k]
            else:
                terms[k] = [e, sign * co]
        return Lin(terms, self.c + sign * other.c)

    def scale(self, s: int) -> Lin:
        if s == 0:
            return Lin({}, 0)
        return Lin({k: [v[0], v[1] * s] for k, v in self.terms.items()}, self.c * s)

    def is_const(self) -> bool:
        return not self.terms

    def bound(self, ranges: Ranges) -> tuple[float, float]:
        lo = hi = self.c
        for e, co in self.terms.values():
            b = bound(e, ranges)
            if co > 0:
                lo, hi = lo + _mul(co, b[0]), hi + _mul(co, b[1])
            else:
                lo, hi = lo + _mul(co, b[1]), hi + _mul(co, b[0])
        return (lo, hi)

    def to_expr(self, dtype: str = "int32") -> Expr:
        pos = [(e, co) for e, co in self.terms.values() if co > 0]
        neg = [(e, -co) for e, co in self.terms.values() if co < 0]
        out: Expr | None = None
        for e, co in pos:
            t = e if co == 1 else BinOp("*", e, Const(co, dtype), dtype)
            out = t if out is None else BinOp("+", out, t, dtype)
        for e, co in neg:
            t = e if co == 1 else BinOp("*", e, Const(co, dtype), dtype)
            out = BinOp("-", Const(0, dtype), t, dtype) if out is None else BinOp("-", out, t, dtype)
        if out is None:
            return Const(self.c, dtype)
        if self.c > 0:
            out = BinOp("+", out, Const(self.c, dtype), dtype)
        elif self.c < 0:
            out = BinOp("-", out, Const(-self.c, dtype), dtype)
        return out


def _lin(e: Expr, ranges: Ranges) -> Lin:
    if isinstance(e, Const):
        return Lin({}, int(e.value))
    if isinstance(e, Var):
        return Lin.atom(e)
    if isinstance(e, BinOp):
        op = e.op
        if op == "+":
            return _merge_divmod(_lin(e.a, ranges).add(_lin(e.b, ranges)))
        if op == "-":
            return _merge_divmod(_lin(e.a, ranges).add(_lin(e.b, ranges), -1))
        if op == "*":
            a, b = _lin(e.a, ranges), _lin(e.b, ranges)
            if b.is_const():
                return a.scale(b.c)
            if a.is_const():
                return b.scale(a.c)
            return Lin.atom(BinOp("*", a.to_expr(), b.to_expr(), e.dtype))
        if op in ("//", "%"):
            a, b = _lin(e.a, ranges), _lin(e.b, ranges)
            if b.is_const() and b.c > 0:
                return _divmod(op, a, b.c, ranges)
            return Lin.atom(BinOp(op, a.to_expr(), b.to_expr(), e.dtype))
        if op in ("min", "max"):
            a, b = _lin(e.a, ranges), _lin(e.b, ranges)
            d = a.add(b, -1).bound(ranges)
            if op == "min":
                if d[1] <= 0:
                    return a
                if d[0] >= 0:
                    return b
            else:
                if d[0] >= 0:
                    return a
                if d[1] <= 0:
                    return b
            if a.is_const() and b.is_const():
                return Lin({}, min(a.c, b.c) if op == "min" else max(a.c, b.c))
            return Lin.atom(BinOp(op, a.to_expr(), b.to_expr(), e.dtype))
    return Lin.atom(_simplify_other(e, ranges))


def _merge_divmod(lin: Lin) -> Lin:
    """Fold ``k*c * (e // c) + k * (e % c)`` back into ``k * e`` (the index arithmetic of a fuse)."""
    divs = {}
    for k, (e, co) in lin.terms.items():
        if isinstance(e, BinOp) and e.op == "//" and isinstance(e.b, Const):
            divs[(key(e.a), e.b.value)] = (k, e, co)
    if not divs:
        return lin
    out = Lin({k: [v[0], v[1]] for k, v in lin.terms.items()}, lin.c)
    for k, (e, co) in lin.terms.items():
        if not (isinstance(e, BinOp) and e.op == "%" and isinstance(e.b, Const)):
            continue
        d = divs.get((key(e.a), e.b.value))
        if d is None or k not in out.terms or d[0] not in out.terms or d[2] != co * e.b.value:
            continue
        del out.terms[k]
        del out.terms[d[0]]
        out = out.add(_lin(e.a, {}).scale(co))
    return out


def _divmod(op: str, a: Lin, c: int, ranges: Ranges) -> Lin:
    if c == 1:
        return a if op == "//" else Lin({}, 0)
    q = Lin({}, a.c // c)
    r = Lin({}, a.c % c)
    for k, (e, co) in a.terms.items():
        if co % c == 0:
            q.terms[k] = [e, co // c]
        elif op == "%":
            r.terms[k] = [e, co % c]
        else:
            r.terms[k] = [e, co]
    lo, hi = r.bound(ranges)
    if lo != -INF and hi != INF and _fdiv(lo, c) == _fdiv(hi, c):
        k0 = int(lo // c)
        if op == "//":
            return q.add(Lin({}, k0))
        return r.add(Lin({}, -k0 * c))
    if op == "//":
        # (x // a) // c == x // (a * c) for positive a, c
        if len(r.terms) == 1 and r.c == 0:
            (e, co), = r.terms.values()
            if co == 1 and isinstance(e, BinOp) and e.op == "//" and isinstance(e.b, Const) and e.b.value > 0:
                return q.add(Lin.atom(BinOp("//", e.a, Const(e.b.value * c, "int32"), "int32")))
        return q.add(Lin.atom(BinOp("//", r.to_expr(), Const(c, "int32"), "int32")))
    if r.is_const():
        return Lin({}, r.c % c)
    return Lin.atom(BinOp("%", r.to_expr(), Const(c, "int32"), "int32"))


def _fold_cmp(op: str, d: tuple[float, float]) -> bool | None:
    """Decide ``a op b`` from the bounds d of a - b, or None."""
    lo, hi = d
    if op == "<":
        return True if hi < 0 else (False if lo >= 0 else None)
    if op == "<=":
        return True if hi <= 0 else (False if lo > 0 else None)
    if op == ">":
        return True if lo > 0 else (False if hi <= 0 else None)
    if op == ">=":
        return True if lo >= 0 else (False if hi < 0 else None)
    if op == "==":
        return True if lo == hi == 0 else (False if lo > 0 or hi < 0 else None)
    if op == "!=":
        return False if lo == hi == 0 else (True if lo > 0 or hi < 0 else None)
    return None


def _simplify_other(e: Expr, ranges: Ranges) -> Expr:
    if isinstance(e, Cmp):
        a, b = simplify(e.a, ranges), simplify(e.b, ranges)
        if a.dtype == "int32":
            d = _lin(a, ranges).add(_lin(b, ranges), -1).bound(ranges)
            r = _fold_cmp(e.op, d)
            if r is not None:
                return Const(r, "bool")
        elif isinstance(a, Const) and isinstance(b, Const):
            r = _fold_cmp(e.op, (a.value - b.value, a.value - b.value))
            return Const(r, "bool")
        return Cmp(e.op, a, b)
    if isinstance(e, BinOp) and e.op in ("&&", "||"):
        a, b = simplify(e.a, ranges), simplify(e.b, ranges)
        if e.op == "&&":
            if isinstance(a, Const):
                return b if a.value else a
            if isinstance(b, Const):
                return a if b.value else b
        else:
            if isinstance(a, Const):
                return a if a.value else b
            if isinstance(b, Const):
                return b if b.value else a
        return BinOp(e.op, a, b, "bool")
    if isinstance(e, Not):
        a = simplify(e.a, ranges)
        if isinstance(a, Const):
            return Const(not a.value, "bool")
        return Not(a)
    if isinstance(e, Select):
        c = simplify(e.cond, ranges)
        if isinstance(c, Const):
            return simplify(e.t if c.value else e.f, ranges)
        return Select(c, simplify(e.t, ranges), simplify(e.f, ranges))
    if isinstance(e, Cast):
        v = simplify(e.value, ranges)
        if isinstance(v, Const):
            from .expr import const

            return const(v.value, e.dtype)
        return Cast(e.dtype, v)
    # loads, calls, non-int32 arithmetic: simplify the children
    return mutate(e, lambda n: None if n is e else simplify(n, ranges))


def simplify(e: Expr, ranges: Ranges | None = None) -> Expr:
    """Simplify an expression; int32 arithmetic goes through the linear form."""
    ranges = ranges or {}
    if isinstance(e, (Const, Var)):
        return e
    if e.dtype == "int32" and isinstance(e, BinOp) and e.op in ("+", "-", "*", "//", "%", "min", "max"):
        return _lin(e, ranges).to_expr()
    if isinstance(e, BinOp) and e.op in ("+", "-", "*", "min", "max") and e.dtype != "bool":
        a, b = simplify(e.a, ranges), simplify(e.b, ranges)
        if isinstance(a, Const) and isinstance(b, Const) and e.dtype != "float32":
            from .dtype import wrap

            v = {"+": a.value + b.value, "-": a.value - b.value, "*": a.value * b.value,
                 "min": min(a.value, b.value), "max": max(a.value, b.value)}[e.op]
            return Const(wrap(v, e.dtype), e.dtype)
        if e.op == "+" and isinstance(b, Const) and b.value == 0:
            return a
        if e.op == "*" and isinstance(b, Const) and b.value == 1:
            return a
        return BinOp(e.op, a, b, e.dtype)
    return _simplify_other(e, ranges)


def linear(e: Expr, ranges: Ranges | None = None) -> Lin:
    """The linear form of an int32 expression."""
    return _lin(e, ranges or {})


def prove(cond: Expr, ranges: Ranges) -> bool | None:
    """True/False when the bounds decide the condition, else None."""
    c = simplify(cond, ranges)
    if isinstance(c, Const):
        return bool(c.value)
    return None
