"""Scalar expressions shared by tensor expressions and the lowered loop IR.

Nodes are small immutable objects. ``==`` on expressions builds a comparison node, as in TVM;
use ``same(a, b)`` for structural equality.
"""

from __future__ import annotations

import builtins
import itertools
import math
from typing import Any

import numpy as np

from . import dtype as dt
from .errors import DTypeError, TirError

_ARITH = {"+", "-", "*", "/", "//", "%", "min", "max"}
_LOGIC = {"&&", "||"}
# bitwise and shift operators of integer operands (see shift_amount for the shift amount's rule)
BITWISE_OPS = frozenset({"&", "|", "^", "<<", ">>"})
_CMP = {"<", "<=", ">", ">=", "==", "!="}


# Per-node caches (filled lazily, never part of a node's value): the structural key of ``key``, the strict
# key of ``strict_key``, the variables of ``tir.simplify`` memos and the node kinds found inside
# (``tir.visit.contains_call`` / ``contains_ramp``). Nodes are immutable, so a cache
# filled once stays right; the keys hold ids, so they are dropped when a node is pickled or copied.
_CACHE_SLOTS = ("_k", "_sk", "_fv", "_m")
# this module defines max / min / sum / all / any (TVM's names): the builtins, for saturate_cast
builtins_max, builtins_min = builtins.max, builtins.min


class Expr:
    """Base class of every scalar expression; carries a dtype."""

    __slots__ = ("dtype", *_CACHE_SLOTS)
    dtype: str

    def __getstate__(self):
        # the caches hold id()s of this process's objects: a copy or an unpickled node recomputes them
        state = {}
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if name not in _CACHE_SLOTS and hasattr(self, name):
                    state[name] = getattr(self, name)
        return (None, state)

    # arithmetic -------------------------------------------------------------------------------
    def __add__(self, other): return binop("+", self, other)
    def __radd__(self, other): return binop("+", other, self)
    def __sub__(self, other): return binop("-", self, other)
    def __rsub__(self, other): return binop("-", other, self)
    def __mul__(self, other): return binop("*", self, other)
    def __rmul__(self, other): return binop("*", other, self)
    def __truediv__(self, other): return binop("/", self, other)
    def __rtruediv__(self, other): return binop("/", other, self)
    def __floordiv__(self, other): return binop("//", self, other)
    def __rfloordiv__(self, other): return binop("//", other, self)
    def __mod__(self, other): return binop("%", self, other)
    def __rmod__(self, other): return binop("%", other, self)
    def __neg__(self): return binop("-", Const(0, self.dtype), self)

    # bitwise and shifts (integers only; see shift_amount) ---------------------------------------
    def __and__(self, other): return binop("&", self, other)
    def __rand__(self, other): return binop("&", other, self)
    def __or__(self, other): return binop("|", self, other)
    def __ror__(self, other): return binop("|", other, self)
    def __xor__(self, other): return binop("^", self, other)
    def __rxor__(self, other): return binop("^", other, self)
    def __lshift__(self, other): return binop("<<", self, other)
    def __rlshift__(self, other): return binop("<<", other, self)
    def __rshift__(self, other): return binop(">>", self, other)
    def __rrshift__(self, other): return binop(">>", other, self)

    def __invert__(self):
        """``~x``: every bit flipped, built as ``x ^ all-ones`` (so no node kind of its own)."""
        if not dt.is_int(self.dtype):
            raise DTypeError(f"bitwise '~' on {self.dtype} operand {self}; it is defined on integers only")
        ones = -1 if dt.is_signed(self.dtype) else dt.max_value(self.dtype)
        return BinOp("^", self, Const(ones, self.dtype), self.dtype)

    # comparisons ------------------------------------------------------------------------------
    def __lt__(self, other): return cmp("<", self, other)
    def __le__(self, other): return cmp("<=", self, other)
    def __gt__(self, other): return cmp(">", self, other)
    def __ge__(self, other): return cmp(">=", self, other)
    def __eq__(self, other): return cmp("==", self, other)  # type: ignore[override]
    def __ne__(self, other): return cmp("!=", self, other)  # type: ignore[override]
    __hash__ = object.__hash__

    def __bool__(self):
        raise TirError(f"cannot use the symbolic expression {self} as a Python bool; "
                       "use tir.if_then_else, tir.all or tir.any")

    def astype(self, dtype: str, saturate: bool = False) -> Expr:
        """Cast to another dtype (a no-op when already of that dtype).

        A constant is converted here, as tir.evaluate defines casts: integers wrap to the target
        dtype (explicit casts are where wrap-around is asked for), floats truncate toward zero and
        saturate (NaN gives 0). ``saturate=True``: :func:`saturate_cast` (integers clamp too).
        """
        if saturate:
            return saturate_cast(self, dtype)
        dtype = dt.check(dtype)
        if dtype == self.dtype:
            return self
        if isinstance(self, Const):
            return Const(cast_value(self.value, self.dtype, dtype), dtype)
        return Cast(dtype, self)

    def __repr__(self) -> str:
        from .printer import expr_str

        return expr_str(self)

    __str__ = __repr__


class Const(Expr):
    __slots__ = ("value",)

    def __init__(self, value, dtype: str):
        self.dtype = dtype
        self.value = value
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Var(Expr):
    """A scalar variable: a loop variable, an axis variable or a scalar parameter."""

    __slots__ = ("name",)

    def __init__(self, name: str, dtype: str = "int32"):
        self.name = name
        self.dtype = dt.check(dtype)
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class BinOp(Expr):
    __slots__ = ("op", "a", "b")

    def __init__(self, op: str, a: Expr, b: Expr, dtype: str):
        self.op, self.a, self.b, self.dtype = op, a, b, dtype
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Cmp(Expr):
    __slots__ = ("op", "a", "b")

    def __init__(self, op: str, a: Expr, b: Expr):
        self.op, self.a, self.b, self.dtype = op, a, b, "bool"
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)

    def __bool__(self):
        # Lets `x in list_of_exprs` and `a == b` in plain Python code mean identity, as in TVM.
        if self.op == "==":
            return self.a is self.b
        if self.op == "!=":
            return self.a is not self.b
        return Expr.__bool__(self)


class Not(Expr):
    __slots__ = ("a",)

    def __init__(self, a: Expr):
        self.a, self.dtype = a, "bool"
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Cast(Expr):
    __slots__ = ("value",)

    def __init__(self, dtype: str, value: Expr):
        self.dtype, self.value = dtype, value
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Select(Expr):
    """if_then_else(cond, t, f): only the taken branch is evaluated (a guarded load is safe)."""

    __slots__ = ("cond", "t", "f")

    def __init__(self, cond: Expr, t: Expr, f: Expr):
        self.cond, self.t, self.f, self.dtype = cond, t, f, t.dtype
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class TensorLoad(Expr):
    """A read of a tensor element inside a tensor expression: ``A[i, j]``."""

    __slots__ = ("tensor", "indices")

    def __init__(self, tensor, indices: tuple[Expr, ...]):
        self.tensor, self.indices, self.dtype = tensor, indices, tensor.dtype
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Reduce(Expr):
    """A commutative reduction (sum, max or min) of ``source`` over reduce axes."""

    __slots__ = ("combiner", "source", "axis", "condition")

    def __init__(self, combiner: str, source: Expr, axis: tuple, condition: Expr | None):
        self.combiner, self.source, self.axis, self.condition = combiner, source, axis, condition
        self.dtype = source.dtype
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)

    def identity(self) -> Const:
        if self.combiner == "sum":
            return Const(0.0 if dt.is_float(self.dtype) else 0, self.dtype)
        if dt.is_float(self.dtype):  # like numpy: a max over only -inf is -inf, not -FLT_MAX
            return Const(float("-inf") if self.combiner == "max" else float("inf"), self.dtype)
        if self.combiner == "max":
            return Const(dt.min_value(self.dtype), self.dtype)
        return Const(dt.max_value(self.dtype), self.dtype)

    def combine(self, acc: Expr, value: Expr) -> Expr:
        if self.combiner == "sum":
            return BinOp("+", acc, value, self.dtype)
        return BinOp(self.combiner, acc, value, self.dtype)


class BufferLoad(Expr):
    """A read of a buffer element in the lowered IR."""

    __slots__ = ("buffer", "indices")

    def __init__(self, buffer, indices: tuple[Expr, ...]):
        self.buffer, self.indices, self.dtype = buffer, tuple(indices), buffer.dtype
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Call(Expr):
    """A call of an intrinsic (an ISA-extension op or a pure helper) in the lowered IR.

    ``op`` is an object with a ``c_name`` attribute; ``imm`` holds compile-time immediates.
    """

    __slots__ = ("op", "args", "imm")

    def __init__(self, op, args: tuple[Expr, ...], dtype: str, imm: tuple[int, ...] = ()):
        self.op, self.args, self.dtype, self.imm = op, tuple(args), dtype, tuple(imm)
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


class Ramp(Expr):
    """Address of ``count`` contiguous elements of a buffer starting at ``index``, read as one word.

    Emitted as a 32-bit load of packed lanes (used by tensorized intrinsics).
    """

    __slots__ = ("buffer", "indices", "lanes")

    def __init__(self, buffer, indices: tuple[Expr, ...], lanes: int):
        self.buffer, self.indices, self.lanes, self.dtype = buffer, tuple(indices), lanes, "uint32"
        self._k = self._sk = None  # the caches of key / strict_key (see _CACHE_SLOTS)


# constructors ---------------------------------------------------------------------------------

def _scalar(value):
    """A Python scalar for ``value`` (numpy scalars become bool / int / float), else ``value`` unchanged."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def const(value, dtype: str | None = None) -> Const:
    """A constant; integers default to int32, floats to float32.

    The value must be representable in the dtype: an integer outside the dtype's range (300 or -1
    for uint8), a non-integral float for an integer dtype, or a finite float whose float32 rounding
    overflows (1e39) is a DTypeError naming the value and dtype. ``float("inf")`` and ``float("nan")``
    are float32 values and allowed; a float32 constant too small for float32's smallest denormal is
    its float32 value, zero.
    Nothing wraps silently; for C's wrap-around conversion use ``const(v).astype(dtype)``, an
    explicit cast.
    """
    value = _scalar(value)
    if dtype is None:
        if isinstance(value, bool):
            dtype = "bool"
        elif isinstance(value, int):
            dtype = "int32"
        elif isinstance(value, float):
            dtype = "float32"
        else:
            raise DTypeError(f"cannot make a constant of {value!r}")
    dtype = dt.check(dtype)
    if not isinstance(value, (bool, int, float)):
        raise DTypeError(f"cannot make a {dtype} constant of {value!r}")
    if dt.is_float(dtype):
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            return Const(v, dtype)  # inf and nan are float32 values (the emitter spells them with builtins)
        r = dt.float32_round(v)
        if math.isinf(r):
            raise DTypeError(f"constant {value!r} overflows {dtype} (largest finite value {dt.max_value(dtype)!r})")
        if r == 0.0:
            # below half the smallest float32 denormal: the float32 value is (signed) zero, and a C literal
            # like 1e-50f would be "truncated to zero" (a -Woverflow warning)
            v = math.copysign(0.0, v)
        return Const(v, dtype)
    if isinstance(value, float):
        if not value.is_integer():
            raise DTypeError(f"constant {value} is not an integer but dtype is {dtype}")
        value = int(value)
    if dtype == "bool":
        if value not in (0, 1):
            raise DTypeError(f"constant {value!r} is not a bool (True/False/0/1)")
        return Const(bool(value), dtype)
    value = int(value)
    if not dt.fits(value, dtype):
        raise DTypeError(f"constant {value} does not fit {dtype} (range {dt.min_value(dtype)}.."
                         f"{dt.max_value(dtype)}); use a wider dtype, or const({value}).astype({dtype!r}) "
                         "for a wrap-around cast")
    return Const(value, dtype)


def cast_value(value, src: str, dst: str):
    """The value of the cast ``dst(value)`` of a constant of dtype ``src``, as tir.evaluate defines it:
    integers wrap, anything to bool is ``!= 0`` (NaN is true), float to integer truncates toward zero
    and saturates (NaN gives 0, values beyond the range give its min / max)."""
    if dst == "bool":
        return bool(value != 0)
    if dt.is_float(dst):
        return dt.float32_round(float(value))
    if dt.is_float(src):
        if math.isnan(value):
            return 0
        lo, hi = dt.min_value(dst), dt.max_value(dst)
        if value <= lo:
            return lo
        if value >= hi:
            return hi
        return math.trunc(value)
    return dt.wrap(int(value), dst)


def var(name: str, dtype: str = "int32") -> Var:
    """A scalar variable (a symbolic value), int32 by default."""
    return Var(name, dtype)


def convert(value: Any, like: str | None = None, other: Expr | None = None) -> Expr:
    """Turn a Python scalar or IterVar into an Expr; scalars take the dtype ``like`` when given.

    A scalar that does not fit ``like`` is a DTypeError naming the scalar, the dtype and (when
    given) the operand ``other`` whose dtype it takes: there is no silent wrap-around.
    """
    if isinstance(value, Expr):
        return value
    iv = getattr(value, "var", None)
    if isinstance(iv, Var):
        return iv
    value = _scalar(value)
    if isinstance(value, bool):
        return const(value, "bool")
    if isinstance(value, int):
        if like is None or like == "bool":
            return const(value, "int32")
        if dt.is_int(like) and not dt.fits(value, like):
            what = f" (the dtype of {other})" if other is not None else ""
            raise DTypeError(f"constant {value} does not fit {like}{what}, range {dt.min_value(like)}.."
                             f"{dt.max_value(like)}; cast the operand to a wider dtype with .astype()")
        return const(value, like)
    if isinstance(value, float):
        if like is not None and not dt.is_float(like):
            raise DTypeError(f"float constant {value} mixed with a {like} expression; cast explicitly")
        return const(value, "float32")
    raise DTypeError(f"cannot convert {value!r} to an expression")


def _operands(a, b) -> tuple[Expr, Expr]:
    # an IterVar has a Var in .var (numpy scalars have a .var() method, so check what it is)
    a_is = isinstance(a, Expr) or isinstance(getattr(a, "var", None), Var)
    b_is = isinstance(b, Expr) or isinstance(getattr(b, "var", None), Var)
    if a_is and not b_is:
        a = convert(a)
        return a, convert(b, a.dtype, a)
    if b_is and not a_is:
        b = convert(b)
        return convert(a, b.dtype, b), b
    return convert(a), convert(b)


def _mismatch(op: str, a: Expr, b: Expr) -> DTypeError:
    return DTypeError(f"operands of '{op}' disagree in dtype: {a} is {a.dtype}, {b} is {b.dtype}; "
                      "add an explicit .astype()")


def binop(op: str, a, b) -> Expr:
    a, b = _operands(a, b)
    if a.dtype != b.dtype:
        raise _mismatch(op, a, b)
    if op in _LOGIC:
        if a.dtype != "bool":
            raise DTypeError(f"operands of '{op}' must be bool, got {a.dtype}")
    elif a.dtype == "bool":
        raise DTypeError(f"arithmetic '{op}' on bool operands {a} and {b}")
    if op == "/" and not dt.is_float(a.dtype):
        raise DTypeError(f"'/' on integer operands {a} and {b}: use // (floor division)")
    if op in ("//", "%") and dt.is_float(a.dtype):
        raise DTypeError(f"'{op}' on float operands {a} and {b}")
    if op in BITWISE_OPS and dt.is_float(a.dtype):
        raise DTypeError(f"bitwise '{op}' on float operands {a} and {b}; it is defined on integers only")
    if op in ("//", "%") and isinstance(b, Const) and b.value == 0:
        # a divisor that is zero at run time gives 0 (as numpy); a literal zero is a mistake
        raise DTypeError(f"'{op}' by the constant zero in ({a} {op} {b})")
    if op in ("//", "%") and dt.bits(a.dtype) == 64 and not _pow2_const(b):
        # rv32 has no 64-bit divide: it would be a libgcc call (__divdi3 ...), and kernels are
        # freestanding; a power-of-two divisor is a shift / mask
        raise DTypeError(f"'{op}' on {a.dtype} operands ({a} {op} {b}): a 64-bit division needs a runtime "
                         "library call; only a constant power-of-two divisor is supported (a shift / mask)")
    return BinOp(op, a, b, a.dtype)


def _pow2_const(b: Expr) -> bool:
    return isinstance(b, Const) and not isinstance(b.value, bool) and b.value > 0 and b.value & (b.value - 1) == 0


def shift_amount(amount: int, dtype: str) -> int:
    """The shift ``x << s`` / ``x >> s`` of a ``dtype`` value really does: by ``s`` modulo the bit width.

    C leaves a shift by a negative amount or by the width or more undefined; the tensor language
    defines it as RISC-V's shift instructions do: only the low log2(width) bits of the amount count
    (``x << 33`` is ``x << 1`` for 32-bit x; ``x >> -1`` is ``x >> 31``; int8 ``x << 9`` is ``x << 1``).
    ``<<`` wraps to the dtype; ``>>`` is arithmetic (floor) for signed dtypes, logical for unsigned.
    tir.evaluate, tir.simplify and the C emitter all follow this rule.
    """
    return int(amount) & (dt.bits(dtype) - 1)


def bitwise_value(op: str, x: int, y: int, dtype: str) -> int:
    """``x op y`` for integer constants of ``dtype`` (op one of & | ^ << >>), by the rule of shift_amount."""
    if op == "&":
        v = x & y
    elif op == "|":
        v = x | y
    elif op == "^":
        v = x ^ y
    elif op == "<<":
        v = x << shift_amount(y, dtype)
    elif op == ">>":
        v = x >> shift_amount(y, dtype)  # Python's >> floors: arithmetic on signed, logical on x >= 0
    else:
        raise TirError(f"unknown bitwise operator {op!r}")
    return dt.wrap(v, dtype)


def saturate_cast(x, dtype: str) -> Expr:
    """Convert ``x`` to ``dtype``, clamping to the target range first instead of wrapping.

    Integer to integer: values below / above the target's range give its min / max (int32 300 to
    int8 gives 127, -1 to uint32 gives 0). Float32 to an integer: truncate toward zero as C does, then
    clamp; NaN gives 0 (the rule every float-to-int cast already has). To float32: the ordinary
    cast (rounds to nearest). To bool: a DTypeError (use ``x != 0``).
    Built from min / max and an ordinary cast, so every layer (evaluate, simplify, C) agrees.
    """
    x = convert(x)
    dtype = dt.check(dtype)
    if dtype == "bool":
        raise DTypeError(f"saturate_cast of {x} to bool: use x != 0")
    src = x.dtype
    if src == dtype or dt.is_float(src) or dt.is_float(dtype) or src == "bool":
        return x.astype(dtype)
    lo = builtins_max(dt.min_value(dtype), dt.min_value(src))
    hi = builtins_min(dt.max_value(dtype), dt.max_value(src))
    y = x
    if hi < dt.max_value(src):
        y = binop("min", y, Const(hi, src))
    if lo > dt.min_value(src):
        y = binop("max", y, Const(lo, src))
    return y.astype(dtype)


def cmp(op: str, a, b) -> Cmp:
    a, b = _operands(a, b)
    if a.dtype != b.dtype:
        raise _mismatch(op, a, b)
    return Cmp(op, a, b)


def if_then_else(cond, t, f) -> Expr:
    """``cond ? t : f``; only the chosen branch is evaluated."""
    cond = convert(cond)
    if cond.dtype != "bool":
        raise DTypeError(f"if_then_else condition {cond} must be bool, got {cond.dtype}")
    t, f = _operands(t, f)
    if t.dtype != f.dtype:
        raise _mismatch("if_then_else", t, f)
    return Select(cond, t, f)


def all(*conds) -> Expr:  # noqa: A001 - TVM's name
    """Logical and of conditions."""
    conds = [convert(c) for c in conds]
    if not conds:
        return const(True)
    out = conds[0]
    for c in conds[1:]:
        out = binop("&&", out, c)
    return out


def any(*conds) -> Expr:  # noqa: A001 - TVM's name
    """Logical or of conditions."""
    conds = [convert(c) for c in conds]
    if not conds:
        return const(False)
    out = conds[0]
    for c in conds[1:]:
        out = binop("||", out, c)
    return out


def logical_not(cond) -> Expr:
    cond = convert(cond)
    if cond.dtype != "bool":
        raise DTypeError(f"logical_not of non-bool {cond}")
    return Not(cond)


def _axes(axis) -> tuple:
    if isinstance(axis, (list, tuple)):
        axes = tuple(axis)
    else:
        axes = (axis,)
    for a in axes:
        if getattr(a, "kind", None) != "reduce":
            raise TirError(f"reduction axis {a} is not a reduce_axis")
    return axes


def _reduce(combiner: str, expr, axis, where) -> Reduce:
    expr = convert(expr)
    cond = None if where is None else convert(where)
    return Reduce(combiner, expr, _axes(axis), cond)


def sum(expr, axis, where=None) -> Reduce:  # noqa: A001 - TVM's name
    """Sum of ``expr`` over the reduce axes ``axis`` (optionally where a condition holds)."""
    return _reduce("sum", expr, axis, where)


def max(a, b=None, axis=None, where=None) -> Expr:  # noqa: A001 - TVM's name
    """``max(expr, axis=k)`` reduces; ``max(a, b)`` is elementwise."""
    if axis is not None:
        return _reduce("max", a, axis, where)
    return binop("max", a, b)


def min(a, b=None, axis=None, where=None) -> Expr:  # noqa: A001 - TVM's name
    """``min(expr, axis=k)`` reduces; ``min(a, b)`` is elementwise."""
    if axis is not None:
        return _reduce("min", a, axis, where)
    return binop("min", a, b)


def same(a: Expr, b: Expr) -> bool:
    """Structural equality of two expressions."""
    return key(a) == key(b)


def key(e) -> tuple:
    """A hashable structural key of an expression (vars and buffers by identity)."""
    k = getattr(e, "_k", None)
    if k is None:
        k = _key(e)
        e._k = k  # cached: nodes are immutable
    return k


def _key(e) -> tuple:
    # the common node types by exact type first, then the general chain (subclasses)
    t = type(e)
    if t is BinOp or t is Cmp:
        return (e.op, key(e.a), key(e.b), e.dtype)
    if t is Const:
        return ("c", e.value, e.dtype)
    if t is Var:
        return ("v", id(e))
    if t is BufferLoad:
        return ("bl", id(e.buffer), tuple([key(i) for i in e.indices]))
    if t is Cast:
        return ("cast", e.dtype, key(e.value))
    return _key_any(e)


def _key_any(e) -> tuple:
    if isinstance(e, Const):
        return ("c", e.value, e.dtype)
    if isinstance(e, Var):
        return ("v", id(e))
    if isinstance(e, (BinOp, Cmp)):
        return (e.op, key(e.a), key(e.b), e.dtype)
    if isinstance(e, Not):
        return ("!", key(e.a))
    if isinstance(e, Cast):
        return ("cast", e.dtype, key(e.value))
    if isinstance(e, Select):
        return ("sel", key(e.cond), key(e.t), key(e.f))
    if isinstance(e, TensorLoad):
        return ("tl", id(e.tensor.op), e.tensor.value_index, tuple(key(i) for i in e.indices))
    if isinstance(e, BufferLoad):
        return ("bl", id(e.buffer), tuple(key(i) for i in e.indices))
    if isinstance(e, Ramp):
        return ("ramp", id(e.buffer), tuple(key(i) for i in e.indices), e.lanes)
    if isinstance(e, Call):
        return ("call", id(e.op), tuple(key(a) for a in e.args), e.imm)
    if isinstance(e, Reduce):
        return ("red", e.combiner, key(e.source), tuple(id(a) for a in e.axis),
                None if e.condition is None else key(e.condition))
    raise TirError(f"unknown expression node {type(e).__name__}")


# strict keys are small ints: a tree's key is interned from its node's fields and its children's keys
# (so a memo lookup hashes a flat tuple, not the whole tree). The numbers only ever grow: emptying the
# table when it is full can make the same tree get a second number (a memo miss), never give two
# different trees one number. A variable gets a fresh number of its own (no id() that could be reused).
_INTERN: dict = {}
_INTERN_LIMIT = 1 << 16
_next_key = itertools.count(1).__next__


def strict_key(e) -> int:
    """A key equal for two expressions exactly when they are the same tree: like :func:`key`, but
    constants compare by type and spelling (``0.0`` and ``-0.0``, ``1`` and ``True`` differ) and
    calls by dtype. Two expressions with equal strict keys give the same results everywhere, so it
    keys the memos of tir.simplify. Cached on the node; only meaningful within one process."""
    k = getattr(e, "_sk", None)
    if k is None:
        _info(e)
        k = e._sk
    return k


def free_var_ids(e: Expr) -> tuple[int, ...]:
    """The ids of the variables in ``e``, each once, in first-seen order (cached on the node)."""
    if getattr(e, "_sk", None) is None:
        _info(e)
    return e._fv


def kinds(e: Expr) -> int:
    """Bit mask of the node kinds that occur in ``e`` (KIND_CALL | KIND_RAMP | ...), cached on the node."""
    if getattr(e, "_sk", None) is None:
        _info(e)
    return e._m


KIND_CALL, KIND_RAMP, KIND_LOAD, KIND_TLOAD = 1, 2, 4, 8


def _merge(fa: tuple, fb: tuple) -> tuple:
    if not fb or fa == fb:
        return fa
    if not fa:
        return fb
    return fa + tuple(v for v in fb if v not in fa)


def _intern(fields: tuple) -> int:
    k = _INTERN.get(fields)
    if k is None:
        if len(_INTERN) >= _INTERN_LIMIT:
            _INTERN.clear()
        k = _INTERN[fields] = _next_key()
    return k


def _info(e) -> None:
    """Fill the strict key, variables and kinds of ``e`` (and of its children that lack them)."""
    t = type(e)
    if t is BinOp or t is Cmp:
        a, b = e.a, e.b
        if getattr(a, "_sk", None) is None:
            _info(a)
        if getattr(b, "_sk", None) is None:
            _info(b)
        e._sk = _intern((e.op, a._sk, b._sk, e.dtype))
        e._fv = _merge(a._fv, b._fv)
        e._m = a._m | b._m
        return
    if t is Const:
        e._sk = _intern(("c", type(e.value), repr(e.value), e.dtype))
        e._fv, e._m = (), 0
        return
    if t is Var:
        e._sk = _next_key()  # a number of its own: no id() that a later variable could reuse
        e._fv, e._m = (id(e),), 0
        return
    if t is Cast:
        v = e.value
        if getattr(v, "_sk", None) is None:
            _info(v)
        e._sk, e._fv, e._m = _intern(("cast", e.dtype, v._sk)), v._fv, v._m
        return
    if t is BufferLoad and len(e.indices) == 1:
        i = e.indices[0]
        if getattr(i, "_sk", None) is None:
            _info(i)
        e._sk, e._fv, e._m = _intern(("bl", id(e.buffer), i._sk)), i._fv, i._m | KIND_LOAD
        return
    kids = children(e)
    for c in kids:
        if getattr(c, "_sk", None) is None:
            _info(c)
    fv: tuple = ()
    m = 0
    for c in kids:
        fv = _merge(fv, c._fv)
        m |= c._m
    if t is Cast:
        fields = ("cast", e.dtype, e.value._sk)
    elif t is BufferLoad:
        fields = ("bl", id(e.buffer), *[i._sk for i in e.indices])
        m |= KIND_LOAD
    elif t is Not:
        fields = ("!", e.a._sk)
    elif t is Select:
        fields = ("sel", e.cond._sk, e.t._sk, e.f._sk)
    elif t is TensorLoad:
        fields = ("tl", id(e.tensor.op), e.tensor.value_index, *[i._sk for i in e.indices])
        m |= KIND_TLOAD
    elif t is Ramp:
        fields = ("ramp", id(e.buffer), e.lanes, *[i._sk for i in e.indices])
        m |= KIND_RAMP
    elif t is Call:
        fields = ("call", id(e.op), e.imm, e.dtype, *[a._sk for a in e.args])
        m |= KIND_CALL
    elif t is Reduce:
        fields = ("red", e.combiner, tuple(id(a) for a in e.axis), e.dtype, e.source._sk,
                  None if e.condition is None else e.condition._sk)
    else:
        # a subclass of a node type: its own number (never shared through a memo)
        fields = ("id", id(e))
        for cls, bit in ((BufferLoad, KIND_LOAD), (TensorLoad, KIND_TLOAD), (Ramp, KIND_RAMP), (Call, KIND_CALL)):
            if isinstance(e, cls):
                m |= bit
        if isinstance(e, Var):
            fv = _merge((id(e),), fv)
    e._sk, e._fv, e._m = _intern(fields), fv, m


def children(e) -> tuple:
    """The child expressions of ``e`` (tir.visit re-exports it)."""
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
