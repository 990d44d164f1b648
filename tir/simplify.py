"""A fast affine simplifier for index arithmetic, with interval bounds, exact under wrap-around.

Integer expressions are put in a linear form ``c0 + sum(ci * atom_i)`` where an atom is a variable
or a non-linear subterm (a floordiv, a floormod, a min...). Floor division and modulo by constants
are rewritten when the bounds of the variables prove it, which removes the arithmetic that split
and fuse introduce: ``(io * 4 + ii) // 4`` with ``ii`` in [0, 3] becomes ``io``.

Integer arithmetic wraps around like numpy's (two's complement in the expression's dtype), so
every rewrite must give the wrapped result:

* ``+ - *`` by constants are ring operations modulo 2**32, so the linear form of an int32
  expression is only ever congruent to the true value: coefficients are reduced mod 2**32, and
  terms that cancel are dropped (``x * 65536 * 65536`` is 0).
* ``// % min max`` and comparisons are not ring operations: they are rewritten only when the
  bounds prove the linear form did not wrap, i.e. its exact value lies in the dtype's range
  (then it *is* the true value). ``% c`` with ``c`` a power of two is the exception: it only
  depends on the value modulo 2**32.
* ``bound`` returns an interval that holds the true (wrapped) value: an operation whose exact
  result may leave the dtype's range gets the whole range of the dtype.
* A divisor that is zero at run time gives 0 for both ``//`` and ``%`` (numpy's result), and
  ``INT_MIN // -1`` wraps to ``INT_MIN``.
* ``& | ^ << >>`` are atoms of the linear form; they fold when both operands are constants, by
  exactly tir.expr.bitwise_value (the shift amount taken modulo the bit width), and a shift by an
  amount that is 0 modulo the width is its left operand.

``ranges`` maps ``id(var)`` to an inclusive (lo, hi) pair of ints.
"""

from __future__ import annotations

import math

from . import dtype as dt
from .expr import (
    BITWISE_OPS,
    BinOp,
    BufferLoad,
    Cast,
    Cmp,
    Const,
    Expr,
    Not,
    Select,
    Var,
    bitwise_value,
    cast_value,
    key,
    shift_amount,
    strict_key,
)
from .visit import contains_call, mutate

Ranges = dict[int, tuple[int, int]]
INF = math.inf
_I32 = (-(2 ** 31), 2 ** 31 - 1)
_ARITH = ("+", "-", "*", "//", "%", "min", "max")


# memos --------------------------------------------------------------------------------------------
#
# simplify() and the linear form are pure functions of the expression's tree (its strict key) and of
# the ranges of the variables in it, so they are memoized on exactly that: lowering and emission
# meet the same index arithmetic over and over (the copies of an unrolled body, every load of a
# tile, the flat index of each access). An entry keeps its expression alive, so the ids in its key
# stay unique. tir.lower empties the memos when it starts a kernel, and they are emptied when they
# grow past _MEMO_LIMIT entries: what they hold stays small (a large live set slows Python's
# garbage collector more than the memo saves).

_MEMO_LIMIT = 1 << 13
_SIMPLIFY_MEMO: dict = {}
_LIN_MEMO: dict = {}
_BOUND_MEMO: dict = {}


def _memo_key(e: Expr, ranges: Ranges) -> tuple:
    sk = getattr(e, "_sk", None)
    if sk is None:
        sk = strict_key(e)
    fv = e._fv
    if not fv:
        return (sk,)
    if len(fv) == 1:
        return (sk, ranges.get(fv[0]))
    get = ranges.get
    return (sk, *[get(v) for v in fv])


def _memoized(memo: dict, compute, e: Expr, ranges: Ranges):
    """``compute(e, ranges)`` through ``memo`` (keyed by _memo_key; the entry keeps ``e`` alive)."""
    k = _memo_key(e, ranges)
    try:
        hit = memo.get(k)
    except TypeError:  # a range that is not hashable (a list): no memo
        return compute(e, ranges)
    if hit is not None:
        return hit[1]
    out = compute(e, ranges)
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[k] = (e, out)
    return out


def clear_memos() -> None:
    """Empty the simplifier's memos (they are bounded; this only frees memory)."""
    _SIMPLIFY_MEMO.clear()
    _LIN_MEMO.clear()
    _BOUND_MEMO.clear()


# bounds ---------------------------------------------------------------------------------------

_DTYPE_RANGES: dict[str, tuple[float, float]] = {}


def dtype_range(dtype: str) -> tuple[float, float]:
    """Inclusive range of the values of an integer or bool dtype; (-inf, inf) for floats."""
    r = _DTYPE_RANGES.get(dtype)
    if r is None:
        r = (-INF, INF) if dt.is_float(dtype) else (dt.min_value(dtype), dt.max_value(dtype))
        _DTYPE_RANGES[dtype] = r
    return r


def fits(b: tuple[float, float], dtype: str = "int32") -> bool:
    """Whether the interval b lies inside the range of the integer dtype (so no value in it wrapped)."""
    lo, hi = dtype_range(dtype)
    return lo <= b[0] and b[1] <= hi


def _clamp(b: tuple[float, float], dtype: str) -> tuple[float, float]:
    """The exact interval b of an operation's result, or the dtype's whole range if it may wrap."""
    if dt.is_float(dtype):
        return (-INF, INF)
    return b if fits(b, dtype) else dtype_range(dtype)


def bound(e: Expr, ranges: Ranges) -> tuple[float, float]:
    """Inclusive (lo, hi) that holds the (wrapped) value of an integer or bool expression.

    Unknown integer values get their dtype's range; float expressions get (-inf, inf).
    """
    t = type(e)
    if t is BinOp or t is Select or t is Cast:
        # memoized like simplify (the access checks and the emitter ask for the same indices again)
        return _memoized(_BOUND_MEMO, _bound, e, ranges)
    if t is Var:
        r = ranges.get(id(e))
        return r if r is not None else dtype_range(e.dtype)
    return _bound(e, ranges)


def _bound(e: Expr, ranges: Ranges) -> tuple[float, float]:
    if isinstance(e, Const):
        if dt.is_float(e.dtype):
            return (-INF, INF)
        v = int(e.value)
        return (v, v)
    if isinstance(e, Var):
        return ranges.get(id(e), dtype_range(e.dtype))
    if dt.is_float(e.dtype):
        return (-INF, INF)
    if isinstance(e, (Cmp, Not)):
        return (0, 1)
    if isinstance(e, BinOp):
        if e.op in ("&&", "||"):
            return (0, 1)
        return _clamp(_binop_bound(e, ranges), e.dtype)
    if isinstance(e, Select):
        t, f = bound(e.t, ranges), bound(e.f, ranges)
        return (min(t[0], f[0]), max(t[1], f[1]))
    if isinstance(e, Cast):
        if e.dtype == "bool":
            return (0, 1)
        if dt.is_float(e.value.dtype):
            return dtype_range(e.dtype)
        return _clamp(bound(e.value, ranges), e.dtype)
    return dtype_range(e.dtype)


def _binop_bound(e: BinOp, ranges: Ranges) -> tuple[float, float]:
    """The exact (unwrapped) interval of an integer operation on the bounds of its operands."""
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
    if op == "//" and b[0] == b[1] and b[0] != 0:
        c = b[0]
        qs = (_fdiv(a[0], c), _fdiv(a[1], c))
        return (min(qs), max(qs))
    if op == "%" and b[0] == b[1] and b[0] > 0:
        c = b[0]
        if a[0] >= 0 and a[1] < c:
            return a
        return (0, c - 1)
    if op == "%" and b[0] == b[1] and b[0] < 0:
        return (b[0] + 1, 0)
    if op == "min":
        return (min(a[0], b[0]), min(a[1], b[1]))
    if op == "max":
        return (max(a[0], b[0]), max(a[1], b[1]))
    if op == "&" and (a[0] >= 0 or b[0] >= 0):
        # the result's bits are a subset of a nonnegative operand's: 0 <= x & y <= that operand
        return (0, min(hi for lo, hi in (a, b) if lo >= 0))
    if op in ("|", "^") and a[0] >= 0 and b[0] >= 0:
        # no bit above the higher operand's top bit gets set
        return (0, (1 << int(max(a[1], b[1])).bit_length()) - 1)
    if op == "<<" and b[0] == b[1] and a[0] > -INF and a[1] < INF:
        s = shift_amount(b[0], e.dtype)  # x * 2**s: exact when it fits the dtype (else _clamp widens)
        return (a[0] << s, a[1] << s)
    if op == ">>" and b[0] == b[1] and a[0] > -INF and a[1] < INF:
        s = shift_amount(b[0], e.dtype)  # floor(x / 2**s) is monotone in x (logical == arithmetic here:
        return (a[0] >> s, a[1] >> s)    # a is within the dtype, nonnegative for unsigned)
    return (-INF, INF)


def _mul(x, y):
    if x == 0 or y == 0:
        return 0
    return x * y


def _fdiv(x, c):
    if x in (INF, -INF):
        return x if c > 0 else -x
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
            if type(e) is Var:
                b = ranges.get(id(e))
                if b is None:
                    b = dtype_range(e.dtype)
            else:
                b = bound(e, ranges)
            if co > 0:
                lo, hi = lo + _mul(co, b[0]), hi + _mul(co, b[1])
            else:
                lo, hi = lo + _mul(co, b[1]), hi + _mul(co, b[0])
        return (lo, hi)

    def to_expr(self, dtype: str = "int32") -> Expr:
        """The expression of this form in ``dtype``; coefficients are reduced mod 2**bits, which keeps
        the wrapped value (``+ - *`` are ring operations)."""
        lo, hi = dt.min_value(dtype), dt.max_value(dtype)
        terms = [(e, co if lo <= co <= hi else dt.wrap(co, dtype)) for e, co in self.terms.values()]
        # a coefficient of INT_MIN has no negation in the dtype: keep it as a positive-side term
        pos = [(e, co) for e, co in terms if co > 0 or co == lo]
        neg = [(e, -co) for e, co in terms if co < 0 and co != lo]
        out: Expr | None = None
        for e, co in pos:
            t = e if co == 1 else BinOp("*", e, Const(co, dtype), dtype)
            out = t if out is None else BinOp("+", out, t, dtype)
        for e, co in neg:
            t = e if co == 1 else BinOp("*", e, Const(co, dtype), dtype)
            out = BinOp("-", Const(0, dtype), t, dtype) if out is None else BinOp("-", out, t, dtype)
        c = self.c if lo <= self.c <= hi else dt.wrap(self.c, dtype)
        if out is None:
            return Const(c, dtype)
        if c > 0 or c == lo:
            out = BinOp("+", out, Const(c, dtype), dtype)
        elif c < 0:
            out = BinOp("-", out, Const(-c, dtype), dtype)
        return out


def _wrap32(lin: Lin) -> Lin:
    """``lin`` with coefficients reduced mod 2**32 (signed), zero terms dropped: the same int32 value."""
    lo, hi = _I32
    if lo <= lin.c <= hi:
        for v in lin.terms.values():
            if not lo <= v[1] <= hi:
                break
        else:
            return lin  # the common case: nothing to reduce (terms that cancel are already dropped by add)
    terms = {}
    for k, (e, co) in lin.terms.items():
        co = dt.wrap(co, "int32")
        if co:
            terms[k] = [e, co]
    return Lin(terms, dt.wrap(lin.c, "int32"))


def _atom(op: str, a: Lin, b: Lin) -> Lin:
    return Lin.atom(BinOp(op, a.to_expr(), b.to_expr(), "int32"))


def _lin(e: Expr, ranges: Ranges) -> Lin:
    """The linear form of an int32 expression, congruent to its value mod 2**32 (memoized: the
    result is shared, never mutate it)."""
    t = type(e)
    if t is Const:
        return Lin({}, dt.wrap(int(e.value), "int32"))
    if t is Var:
        return Lin({key(e): [e, 1]}, 0)
    return _memoized(_LIN_MEMO, _lin_uncached, e, ranges)


def _lin_uncached(e: Expr, ranges: Ranges) -> Lin:
    if isinstance(e, Const):
        return Lin({}, dt.wrap(int(e.value), "int32"))
    if isinstance(e, Var):
        return Lin.atom(e)
    if isinstance(e, BinOp):
        op = e.op
        if op == "+":
            return _wrap32(_merge_divmod(_lin(e.a, ranges).add(_lin(e.b, ranges))))
        if op == "-":
            return _wrap32(_merge_divmod(_lin(e.a, ranges).add(_lin(e.b, ranges), -1)))
        if op == "*":
            a, b = _lin(e.a, ranges), _lin(e.b, ranges)
            if b.is_const():
                return _wrap32(a.scale(b.c))
            if a.is_const():
                return _wrap32(b.scale(a.c))
            return _atom("*", a, b)
        if op in ("//", "%"):
            a, b = _lin(e.a, ranges), _lin(e.b, ranges)
            if b.is_const():
                if b.c == 0:
                    return Lin({}, 0)  # a zero divisor gives 0 at run time
                if a.is_const():
                    return Lin({}, dt.wrap(_int_divmod(op, a.c, b.c), "int32"))
                if b.c > 0:
                    return _divmod(op, a, b.c, ranges)
            return _atom(op, a, b)
        if op in ("min", "max"):
            a, b = _lin(e.a, ranges), _lin(e.b, ranges)
            if a.is_const() and b.is_const():
                return Lin({}, min(a.c, b.c) if op == "min" else max(a.c, b.c))
            if fits(a.bound(ranges)) and fits(b.bound(ranges)):
                # both forms are the true values, so their exact difference decides
                lo, hi = a.add(b, -1).bound(ranges)
                if hi <= 0:
                    return a if op == "min" else b
                if lo >= 0:
                    return b if op == "min" else a
            return _atom(op, a, b)
    out = _simplify_other(e, ranges)
    if isinstance(out, Const):
        return Lin({}, dt.wrap(int(out.value), "int32"))  # e.g. a select with a decided condition
    if isinstance(out, BinOp) and out.op in _ARITH:
        return _lin(out, ranges)  # a chosen branch that is itself arithmetic
    return Lin.atom(out)


def _int_divmod(op: str, a: int, b: int) -> int:
    """Floor division / modulo of exact integers with numpy's zero-divisor result (0); not wrapped."""
    if b == 0:
        return 0
    return a // b if op == "//" else a % b


def _merge_divmod(lin: Lin) -> Lin:
    """Fold ``k*c * (e // c) + k * (e % c)`` back into ``k * e`` (the index arithmetic of a fuse).

    Exact for any e: ``c * (e // c) + e % c == e`` holds for floor division by a positive c.
    """
    divs = {}
    for k, (e, co) in lin.terms.items():
        if isinstance(e, BinOp) and e.op == "//" and isinstance(e.b, Const) and e.b.value > 0:
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
    """``a // c`` or ``a % c`` for a constant c > 0, rewritten only where exact under wrap-around."""
    if c == 1:
        return a if op == "//" else Lin({}, 0)
    exact = fits(a.bound(ranges))  # the form is the true value, not just congruent to it
    # x % 2**k only depends on x mod 2**32, so the congruent form is as good as the true value
    modular = op == "%" and c & (c - 1) == 0
    if not exact and not modular:
        return Lin.atom(BinOp(op, a.to_expr(), Const(c, "int32"), "int32"))
    q = Lin({}, a.c // c)
    r = Lin({}, a.c % c)
    for k, (e, co) in a.terms.items():
        if co % c == 0:
            q.terms[k] = [e, co // c]
        elif op == "%":
            r.terms[k] = [e, co % c]
        else:
            r.terms[k] = [e, co]
    # a == c * q + r exactly when ``exact``; a == c * q + r (mod c) in any case
    lo, hi = r.bound(ranges)
    if lo != -INF and hi != INF and _fdiv(lo, c) == _fdiv(hi, c):
        k0 = int(lo // c)
        if op == "//":
            return q.add(Lin({}, k0))
        return r.add(Lin({}, -k0 * c))
    # r evaluated in int32 is r itself when it fits, else only congruent mod 2**32
    r_ok = fits((lo, hi)) or modular
    if op == "//":
        # (x // a) // c == x // (a * c) for positive a, c (a * c must be an int32 constant)
        if len(r.terms) == 1 and r.c == 0:
            (e, co), = r.terms.values()
            if (co == 1 and isinstance(e, BinOp) and e.op == "//" and isinstance(e.b, Const)
                    and 0 < e.b.value and e.b.value * c <= _I32[1]):
                return q.add(Lin.atom(BinOp("//", e.a, Const(e.b.value * c, "int32"), "int32")))
        if not r_ok:
            return Lin.atom(BinOp("//", a.to_expr(), Const(c, "int32"), "int32"))
        return q.add(Lin.atom(BinOp("//", r.to_expr(), Const(c, "int32"), "int32")))
    if r.is_const():
        return Lin({}, r.c % c)
    if not r_ok:
        return Lin.atom(BinOp("%", a.to_expr(), Const(c, "int32"), "int32"))
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


def _has_call(e: Expr) -> bool:
    """Whether e calls an intrinsic (which may have effects, so must not be folded away)."""
    return contains_call(e)


def _decide_cmp(op: str, a: Expr, b: Expr, ranges: Ranges, lins: tuple | None = None) -> bool | None:
    """``a op b`` when the operands' dtype and bounds decide it, else None (``lins``: their linear forms)."""
    if key(a) == key(b):
        if dt.is_float(a.dtype):
            # x < x and x > x are false even for NaN; x <= x, x == x are not decided (NaN)
            return False if op in ("<", ">") else None
        return _fold_cmp(op, (0, 0))
    if dt.is_float(a.dtype):
        if isinstance(a, Const) and isinstance(b, Const):
            x, y = dt.float32_round(a.value), dt.float32_round(b.value)
            return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
        return None
    if a.dtype == "int32":
        la, lb = lins if lins is not None else (_lin(a, ranges), _lin(b, ranges))
        diff = la.add(lb, -1)
        if diff.is_const():
            # a - b is congruent to diff.c mod 2**32; both are int32, so they are equal iff diff.c wraps to 0
            if dt.wrap(diff.c, "int32") == 0:
                return _fold_cmp(op, (0, 0))
            if op in ("==", "!="):
                return op == "!="
        if not (fits(la.bound(ranges)) and fits(lb.bound(ranges))):
            return None
        return _fold_cmp(op, diff.bound(ranges))
    ba, bb = bound(a, ranges), bound(b, ranges)
    return _fold_cmp(op, (ba[0] - bb[1], ba[1] - bb[0]))


def _simplify_bitwise(e: BinOp, ranges: Ranges) -> Expr:
    a, b = simplify(e.a, ranges), simplify(e.b, ranges)
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(bitwise_value(e.op, int(a.value), int(b.value), e.dtype), e.dtype)
    if e.op in ("<<", ">>") and isinstance(b, Const) and shift_amount(b.value, e.dtype) == 0:
        return a
    return e if a is e.a and b is e.b else BinOp(e.op, a, b, e.dtype)


def _simplify_other(e: Expr, ranges: Ranges) -> Expr:
    if isinstance(e, BinOp) and e.op in BITWISE_OPS:
        return _simplify_bitwise(e, ranges)
    if type(e) is BufferLoad:
        # (what the mutate at the end does for a load; the load itself when no index changes)
        idx = [simplify(i, ranges) for i in e.indices]
        for a, b in zip(idx, e.indices):
            if a is not b:
                return BufferLoad(e.buffer, tuple(idx))
        return e
    if isinstance(e, Cmp):
        lins = None
        if e.a.dtype == "int32":
            # simplify(x) of an int32 x is the expression of its linear form: compute that once
            lins = (_lin(e.a, ranges), _lin(e.b, ranges))
            a, b = lins[0].to_expr(), lins[1].to_expr()
        else:
            a, b = simplify(e.a, ranges), simplify(e.b, ranges)
        r = _decide_cmp(e.op, a, b, ranges, lins)
        if r is not None and not (_has_call(a) or _has_call(b)):
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
        t, f = simplify(e.t, ranges), simplify(e.f, ranges)
        if key(t) == key(f) and not _has_call(c):
            return t
        return Select(c, t, f)
    if isinstance(e, Cast):
        v = simplify(e.value, ranges)
        if isinstance(v, Const):
            return Const(cast_value(v.value, v.dtype, e.dtype), e.dtype)
        return Cast(e.dtype, v)
    # loads, calls, non-int32 arithmetic: simplify the children
    return mutate(e, lambda n: None if n is e else simplify(n, ranges))


def _fold_const(op: str, a: Const, b: Const, dtype: str) -> Const:
    """``a op b`` for two integer constants, wrapped to dtype (numpy's result, 0 for a zero divisor)."""
    x, y = int(a.value), int(b.value)
    if op in ("//", "%"):
        v = _int_divmod(op, x, y)
    else:
        v = {"+": x + y, "-": x - y, "*": x * y, "min": min(x, y), "max": max(x, y)}[op]
    return Const(dt.wrap(v, dtype), dtype)


def simplify(e: Expr, ranges: Ranges | None = None) -> Expr:
    """Simplify an expression; int32 arithmetic goes through the linear form.

    The result has the value of ``e`` under numpy's wrap-around semantics for every assignment of
    the variables within ``ranges``.
    """
    t = type(e)
    if t is Const or t is Var:
        return e
    if ranges is None:
        ranges = {}
    return _memoized(_SIMPLIFY_MEMO, _simplify, e, ranges)


def _simplify(e: Expr, ranges: Ranges) -> Expr:
    if isinstance(e, (Const, Var)):
        return e
    if e.dtype == "int32" and isinstance(e, BinOp) and e.op in _ARITH:
        return _lin(e, ranges).to_expr()
    if isinstance(e, BinOp) and e.op in _ARITH and e.dtype != "bool":
        a, b = simplify(e.a, ranges), simplify(e.b, ranges)
        if dt.is_int(e.dtype):
            if isinstance(a, Const) and isinstance(b, Const):
                return _fold_const(e.op, a, b, e.dtype)
            if e.op in ("//", "%") and isinstance(b, Const) and b.value == 0 and not _has_call(a):
                return Const(0, e.dtype)  # a zero divisor gives 0 at run time (and C's x / 0 is undefined)
            zero = Const(0, e.dtype)
            if e.op == "-" and key(a) == key(b) and not _has_call(a):
                return zero
            if e.op in ("//", "%", "*") and isinstance(a, Const) and a.value == 0 and not _has_call(b):
                return zero  # 0 // x and 0 % x are 0 for every x, 0 included
            if e.op == "*" and isinstance(b, Const) and b.value == 0 and not _has_call(a):
                return zero
            if e.op in ("min", "max") and key(a) == key(b):
                return a
            # identities exact in every integer dtype (float x + 0 is not x for x = -0.0)
            if e.op in ("+", "-") and isinstance(b, Const) and b.value == 0:
                return a
            if e.op == "+" and isinstance(a, Const) and a.value == 0:
                return b
            if e.op in ("*", "//") and isinstance(b, Const) and b.value == 1:
                return a
            if e.op == "*" and isinstance(a, Const) and a.value == 1:
                return b
        elif e.op == "*" and isinstance(b, Const) and b.value == 1:
            return a
        return BinOp(e.op, a, b, e.dtype)
    return _simplify_other(e, ranges)


def flat_index(indices, shape, ranges: Ranges) -> Expr:
    """The simplified row-major flat index of ``indices`` into ``shape``: exactly
    ``simplify(0 + i_last * 1 + i_prev * n_last + ...)``, built from the linear forms of the
    indices without making that tree."""
    if not indices:
        return Const(0, "int32")
    lin = Lin({}, 0)
    stride = 1
    for i, n in zip(reversed(indices), reversed(shape)):
        # _lin of `lin + i * stride`: the "*" by a constant scales, the "+" adds and merges
        term = _wrap32(_lin(i, ranges).scale(dt.wrap(stride, "int32")))
        lin = _wrap32(_merge_divmod(lin.add(term)))
        stride *= n
    return lin.to_expr()


def linear(e: Expr, ranges: Ranges | None = None) -> Lin:
    """The linear form of an int32 expression (a fresh object: the caller may change it)."""
    lin = _lin(e, ranges or {})
    return Lin({k: [v[0], v[1]] for k, v in lin.terms.items()}, lin.c)


def prove(cond: Expr, ranges: Ranges) -> bool | None:
    """True/False when the bounds decide the condition, else None."""
    c = simplify(cond, ranges)
    if isinstance(c, Const):
        return bool(c.value)
    return None
