"""Integer quantization arithmetic of the tensor language, exactly as TFLite defines it.

``q_multiply_shift(x, multiplier, shift)`` is TFLite's MultiplyByQuantizedMultiplier (TVM calls
its counterpart ``q_multiply_shift``): ``x`` shifted left by ``max(shift, 0)`` (wrapping in int32),
SaturatingRoundingDoublingHighMul with the Q31 ``multiplier`` (``floor((x * m + 2**30) / 2**31)``,
the one overflow ``INT32_MIN * INT32_MIN`` saturating to ``INT32_MAX``), then RoundingDivideByPOT by
``max(-shift, 0)`` (round half away from zero); both shift amounts are limited to 31.

It is a *pure op*: a :class:`PureOp` call in the expression tree, with a numpy definition
(``tir.evaluate``) and a freestanding C helper (the code generator emits its definition; on rv32 the
64-bit product compiles to ``mul`` / ``mulh``, no library call). ``requantize`` builds the int8 output
stage of a quantized kernel from it: ``clamp(q_multiply_shift(x, m, s) + zero_point, qmin, qmax)``
(the addition wraps like int32 C code) cast to the output dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DTypeError
from .expr import BinOp, Call, Cast, Expr, convert

__all__ = ["PureOp", "Q_MULTIPLY_SHIFT", "q_multiply_shift", "requantize"]


@dataclass(frozen=True, eq=False)
class PureOp:
    """A pure scalar function of the tensor language: numpy semantics and a C helper definition.

    ``c_source`` defines ``c_name`` as a ``static inline`` function over stdint types only;
    ``numpy(*arrays)`` computes it elementwise exactly.
    """

    name: str
    c_name: str
    arg_dtypes: tuple
    dtype: str
    c_source: str
    numpy: Callable
    pure: bool = True  # not an extension op: code generators never place it as a CFU instruction
    stateful: bool = False
    latency: int = 0
    issue_interval: int = 1
    insn: str = ""


def _np_q_multiply_shift(x, m, shift):
    x = np.asarray(x).astype(np.int64)
    m = np.asarray(m).astype(np.int64)
    shift = np.asarray(shift).astype(np.int64)
    left = np.clip(shift, 0, 31)
    right = np.clip(-shift, 0, 31)
    xs = ((x << left) & 0xFFFFFFFF)
    xs = np.where(xs >= 1 << 31, xs - (1 << 32), xs)
    hi = (xs * m + (1 << 30)) >> 31  # numpy's >> on int64 is an arithmetic shift: floor
    hi = np.where((xs == -(1 << 31)) & (m == -(1 << 31)), (1 << 31) - 1, hi)
    mask = (np.int64(1) << right) - 1
    rem = hi & mask
    thr = (mask >> 1) + (hi < 0)
    return ((hi >> right) + (rem > thr)).astype(np.int32)


_Q_C = """static inline int32_t isaforge_q_multiply_shift(int32_t x, int32_t m, int32_t shift) {
    uint32_t left = shift > 0 ? (shift > 31 ? 31u : (uint32_t)shift) : 0u;
    uint32_t right = shift < 0 ? (shift < -31 ? 31u : (uint32_t)(-shift)) : 0u;
    int32_t xs = (int32_t)((uint32_t)x << left);
    int32_t hi;
    if (xs == INT32_MIN && m == INT32_MIN) {
        hi = INT32_MAX;
    } else {
        /* floor((xs * m + 2^30) / 2^31): the sum is below 2^62 in magnitude; shift its bits as unsigned */
        uint64_t t = (uint64_t)((int64_t)xs * (int64_t)m) + ((uint64_t)1 << 30);
        uint32_t q = (uint32_t)(t >> 31);
        hi = (int32_t)q;
    }
    int32_t mask = (int32_t)((1u << right) - 1u);
    int32_t rem = hi & mask;
    int32_t thr = (mask >> 1) + (hi < 0 ? 1 : 0);
    int32_t res = (hi >> right) + (rem > thr ? 1 : 0);
    return res;
}
"""

Q_MULTIPLY_SHIFT = PureOp("q_multiply_shift", "isaforge_q_multiply_shift", ("int32", "int32", "int32"), "int32",
                          _Q_C, _np_q_multiply_shift)


def _int32(v, what: str) -> Expr:
    e = convert(v, "int32")
    if e.dtype != "int32":
        raise DTypeError(f"q_multiply_shift: {what} must be int32, got {e.dtype} ({e})")
    return e


def q_multiply_shift(x, multiplier, shift) -> Expr:
    """TFLite's MultiplyByQuantizedMultiplier of int32 ``x`` (see the module docstring)."""
    args = (_int32(x, "x"), _int32(multiplier, "the multiplier"), _int32(shift, "the shift"))
    return Call(Q_MULTIPLY_SHIFT, args, "int32")


def requantize(x, multiplier, shift, zero_point=0, qmin: int = -128, qmax: int = 127, dtype: str = "int8") -> Expr:
    """The int8 output stage: ``clamp(q_multiply_shift(x, m, s) + zero_point, qmin, qmax)`` as ``dtype``.

    The clamp is ``min(max(v, qmin), qmax)`` (an inverted range gives ``qmax``), as TFLite's kernels
    and the ``requant_i8`` unit do.
    """
    v = BinOp("+", q_multiply_shift(x, multiplier, shift), _int32(zero_point, "the zero point"), "int32")
    v = BinOp("max", v, _int32(qmin, "qmin"), "int32")
    v = BinOp("min", v, _int32(qmax, "qmax"), "int32")
    return v if dtype == "int32" else Cast(dtype, v)
