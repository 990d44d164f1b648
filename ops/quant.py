"""int8 quantization operators: requantize (int32 -> int8 with an integer multiplier and shift, zero
point, clamp), and zero-point subtraction / addition.

``requantize`` is TFLite's int8 output stage (MultiplyByQuantizedMultiplier, + zero point, clamp),
bit-exact: one compute of ``tir.requantize`` (the pure op ``tir.q_multiply_shift``, whose C helper
uses a 64-bit product), so the ``requant_i8`` extension can tensorize it. Ranges (checked):
``0 <= multiplier < 2**31`` (TFLite's are in [2**30, 2**31) or 0), ``-31 <= shift <= 31``.

``doubling_high_mul_te`` / ``rounding_divide_by_pot_te`` build the same two steps from int32 (and
one uint32) operations only, for code that must avoid the pure op:

* SaturatingRoundingDoublingHighMul ``floor((x * m + 2**30) / 2**31)`` is assembled from 16-bit halves
  ``x = xh * 2**16 + xl``, ``m = mh * 2**16 + ml``: every product of halves fits int32 (``xl * ml`` is
  taken in uint32), only exact values are divided, and the partial sums may wrap because the result
  fits int32 (sums and products modulo 2**32 are exact there);
* RoundingDivideByPOT (``shift < 0``, ties away from zero) is a floor division by ``2**-shift`` plus one
  where the floor remainder is above TFLite's threshold ``(2**e - 1) // 2 + (x < 0)``.
"""

from __future__ import annotations

import numpy as np

import tir

from .common import np_dtype, wrap
from .errors import OpError
from .registry import Attr, Op, Workload, register

_OUT_DTYPES = ("int8", "uint8", "int16")


def _i32(v: int):
    return tir.const(v, "int32")


def doubling_high_mul_te(x, multiplier: int):
    """``floor((x * multiplier + 2**30) / 2**31)`` for an int32 expression ``x`` and a constant
    0 <= multiplier < 2**31, exact with int32 / uint32 pieces (see the module docstring)."""
    mh, ml = multiplier >> 16, multiplier & 0xFFFF
    xh = x // 65536                      # floor: [-2**15, 2**15)
    xl = x % 65536                       # [0, 2**16)
    a = xh * _i32(ml)                    # |a| < 2**31: exact
    b = xl * _i32(mh)                    # [0, 2**31): exact
    lo = ((xl.astype("uint32") * tir.const(ml, "uint32")) // tir.const(65536, "uint32")).astype("int32")
    carry = (a % 32768 + b % 32768 + lo + _i32(1 << 14)) // 32768
    return xh * _i32(2 * mh) + a // 32768 + b // 32768 + carry


def rounding_divide_by_pot_te(q, exponent: int):
    """``q / 2**exponent`` rounded to nearest, ties away from zero (TFLite's RoundingDivideByPOT)."""
    if exponent == 0:
        return q
    pot = 1 << exponent
    threshold = _i32((pot - 1) >> 1) + (q < _i32(0)).astype("int32")
    return q // pot + (q % pot > threshold).astype("int32")


def requantize_np(acc: np.ndarray, multiplier: int, shift: int, zero_point: int, qmin: int, qmax: int,
                  out_dtype: str = "int8") -> np.ndarray:
    """The numpy reference of ``requantize`` (int64 arithmetic, wrapped where the int32 C code wraps)."""
    left, right = max(shift, 0), max(-shift, 0)
    x = wrap(acc.astype(np.int64) << left, "int32").astype(np.int64)
    q = (x * multiplier + (1 << 30)) >> 31
    if right:
        mask = (1 << right) - 1
        q = (q >> right) + ((q & mask) > ((mask >> 1) + (q < 0))).astype(np.int64)
    v = wrap(q + zero_point, "int32")
    return np.clip(v, qmin, qmax).astype(np_dtype(out_dtype))


def _requant_te(shape, multiplier, shift, zero_point, qmin, qmax, out_dtype):
    A = tir.placeholder(shape, "int32", name="Acc")
    out = tir.compute(shape, lambda *i: tir.requantize(A[i], multiplier, shift, zero_point, qmin, qmax, out_dtype),
                      name="requant")
    return Workload("requantize", [A], out, None, {})


def _requant_ref(acc, *, shape, multiplier, shift, zero_point, qmin, qmax, out_dtype):
    return requantize_np(acc, multiplier, shift, zero_point, qmin, qmax, out_dtype)


def _requant_norm(a):
    op = "requantize"
    if not a["shape"] or any(n < 1 for n in a["shape"]):
        raise OpError(f"operator {op!r}: attribute 'shape' must be a non-empty shape, got {a['shape']}")
    if not 0 <= a["multiplier"] < 1 << 31:
        raise OpError(f"operator {op!r}: attribute 'multiplier' = {a['multiplier']} is outside [0, 2**31)")
    if not -31 <= a["shift"] <= 31:
        raise OpError(f"operator {op!r}: attribute 'shift' = {a['shift']} is outside [-31, 31]")
    if not tir.dtype.fits(a["zero_point"], "int32"):
        raise OpError(f"operator {op!r}: attribute 'zero_point' = {a['zero_point']} does not fit int32")
    dt = a["out_dtype"]
    for k in ("qmin", "qmax"):
        if not tir.dtype.fits(a[k], dt):
            raise OpError(f"operator {op!r}: attribute {k!r} = {a[k]} does not fit out_dtype {dt}")
    if a["qmin"] > a["qmax"]:
        raise OpError(f"operator {op!r}: qmin = {a['qmin']} is above qmax = {a['qmax']}")
    return a


REQUANTIZE = register(Op(
    "requantize", "int32 -> int8: clamp(RoundingDivideByPOT(SRDHM(acc << shift+, multiplier), shift-) + "
    "zero_point, qmin, qmax) (TFLite, exact)",
    (Attr("shape", tuple), Attr("multiplier", int, 1 << 30, "Q31 multiplier, 0 <= m < 2**31"),
     Attr("shift", int, 0, ">0: left shift before the multiply, <0: rounding right shift after; |shift| <= 31"),
     Attr("zero_point", int, 0, "output zero point"), Attr("qmin", int, -128), Attr("qmax", int, 127),
     Attr("out_dtype", str, "int8", choices=_OUT_DTYPES)),
    _requant_te, _requant_ref, lambda **_: 0, family="quant", normalize=_requant_norm,
    examples=(dict(shape=(4, 8)), dict(shape=(3, 5), multiplier=1518500250, shift=-7, zero_point=-3),
              dict(shape=(16,), multiplier=2147483647, shift=-30, zero_point=5, qmin=-100, qmax=100),
              dict(shape=(2, 9), multiplier=1073741824 + 12345, shift=3, zero_point=0),
              dict(shape=(6,), multiplier=0, shift=0, zero_point=128, qmin=0, qmax=255, out_dtype="uint8"),
              dict(shape=(3, 4), multiplier=1234567890, shift=-1, zero_point=-20000, qmin=-32768, qmax=32767,
                   out_dtype="int16"))))


# --- zero points ---------------------------------------------------------------------------------

def _sub_zp_te(shape, zero_point, dtype_in):
    A = tir.placeholder(shape, dtype_in, name="A")
    Out = tir.compute(shape, lambda *i: A[i].astype("int32") - _i32(zero_point), name="sub_zp")
    return Workload("sub_zero_point", [A], Out, None)


def _sub_zp_ref(a, *, shape, zero_point, dtype_in):
    return wrap(a.astype(np.int64) - zero_point, "int32")


def _add_zp_te(shape, zero_point):
    A = tir.placeholder(shape, "int32", name="A")
    return Workload("add_zero_point", [A], tir.compute(shape, lambda *i: A[i] + _i32(zero_point), name="add_zp"),
                    None)


def _add_zp_ref(a, *, shape, zero_point):
    return wrap(a.astype(np.int64) + zero_point, "int32")


def _zp_norm(name):
    def normalize(a):
        if not a["shape"] or any(n < 1 for n in a["shape"]):
            raise OpError(f"operator {name!r}: attribute 'shape' must be a non-empty shape, got {a['shape']}")
        if not tir.dtype.fits(a["zero_point"], "int32"):
            raise OpError(f"operator {name!r}: attribute 'zero_point' = {a['zero_point']} does not fit int32")
        return a
    return normalize


register(Op("sub_zero_point", "Out[int32] = A - zero_point (an int8/uint8 input's offset removed)",
            (Attr("shape", tuple), Attr("zero_point", int, 0),
             Attr("dtype_in", str, "int8", choices=("int8", "uint8", "int16"))),
            _sub_zp_te, _sub_zp_ref, lambda **_: 0, family="quant", normalize=_zp_norm("sub_zero_point"),
            examples=(dict(shape=(4, 5), zero_point=-128), dict(shape=(7,), zero_point=128, dtype_in="uint8"))))

register(Op("add_zero_point", "Out[int32] = A[int32] + zero_point (wraps)",
            (Attr("shape", tuple), Attr("zero_point", int, 0)),
            _add_zp_te, _add_zp_ref, lambda **_: 0, family="quant", normalize=_zp_norm("add_zero_point"),
            examples=(dict(shape=(4, 5), zero_point=7), dict(shape=(3,), zero_point=-2147483648))))


__all__ = ["REQUANTIZE", "doubling_high_mul_te", "requantize_np", "rounding_divide_by_pot_te"]
