"""int8 softmax with TFLite's reference-kernel arithmetic (TFLM's SOFTMAX, int8 in and out), bit for bit.

TFLite's int8 softmax works on the differences ``d = x - max(row)`` (in [-255, 0]) and gemmlowp's
fixed-point formats (``Qm`` = a signed int32 with ``m`` integer bits, ``31 - m`` fractional bits):

* Prepare (:func:`softmax_params`): ``input_multiplier`` / ``input_left_shift`` quantize
  ``beta * input_scale * 2**26`` (at most ``2**31 - 1``) as a multiplier greater than one, so that a
  difference becomes a Q5 value; ``diff_min`` is minus the largest difference whose rescaled value
  still fits Q5: ``floor(31 * 2**26 / 2**input_left_shift)``.
* Per row: each difference ``d >= diff_min`` is rescaled (``q_multiply_shift(d, multiplier,
  left_shift)``, no rounding shift), ``exp`` is gemmlowp's exp of a non-positive Q5 value (a Taylor
  polynomial around -1/8 on [-1/4, 0) and a barrel of constant factors exp(-2**k) for the remaining
  bits) giving a Q0 value; the row sum accumulates ``exp`` rescaled to Q12 (a rounding shift by 12);
  differences below ``diff_min`` contribute nothing and give the output -128.
* The reciprocal of the sum is taken once per row: with ``h`` the sum's leading zero count,
  ``sum * 2**h`` lies in [1, 2) (as Q0, minus one); ``1 / (1 + x)`` on [0, 1) is three Newton-Raphson
  steps in Q2 from the initial guess 48/17 - 32/17 * (1 + x) / 2; the output is
  ``RoundingDivideByPOT(SRDHM(reciprocal, exp), 35 - h) - 128`` clamped to int8.

``SRDHM`` is SaturatingRoundingDoublingHighMul (``tir.q_multiply_shift(a, b, 0)``) and
``RoundingDivideByPOT`` rounds half away from zero; the saturating power-of-two multiplications are
gemmlowp's. TFLM refuses (TFLITE_CHECK) a row whose final shift exceeds 31 (a sum of at least
``2**28``: 512 or more equal maxima); here such elements round to 0, i.e. -128.

The kernel: the exp of a difference depends on the difference alone, so it is a constant table of
the operator's attributes, computed offline by the numpy reference (:func:`exp_table`, trailing zeros
trimmed) and placed in the C unit as a ``static const`` array read by a pure op of the tensor language
(:func:`exp_op`); the reciprocal and the final shift of a row are pure ops of its sum (freestanding C,
the 64-bit products compile to ``mul`` / ``mulh`` on rv32). The TE stages: the row maximum, the table
exps, the row sum, reciprocal and shift, and the requantized output.
"""

from __future__ import annotations

import math

import numpy as np

import tir
from tir.quant import PureOp

from .common import positive
from .errors import OpError
from .qnn import quantize_multiplier
from .registry import Attr, Op, Workload, register

SCALED_DIFF_INTEGER_BITS = 5   # the rescaled differences are Q5
ACCUMULATION_INTEGER_BITS = 12  # the row sum of exps is Q12
MAX_DEPTH = 4095  # a row sum is at most depth * 2**19: it fits int32 up to 4095 elements
OUTPUT_SCALE = 1.0 / 256.0
OUTPUT_ZERO_POINT = -128

_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1


# --- gemmlowp's fixed-point primitives in numpy (int64 arrays holding int32 values) ---------------

def _wrap32(v):
    v = np.asarray(v, np.int64)
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _srdhm(a, b):
    """SaturatingRoundingDoublingHighMul: ``round(a * b / 2**31)`` (ties up), ``MIN * MIN`` -> MAX."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    r = (a * b + (1 << 30)) >> 31
    return np.where((a == _I32_MIN) & (b == _I32_MIN), _I32_MAX, r)


def _rdbpot(x, exponent):
    """RoundingDivideByPOT: ``x / 2**exponent`` rounded half away from zero (any exponent >= 0)."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << e) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + ((x & mask) > threshold)


def _sat_shl(x, exponent: int):
    """SaturatingRoundingMultiplyByPOT with a positive exponent: ``x * 2**exponent`` saturated."""
    x = np.asarray(x, np.int64)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, _I32_MAX, np.where(x < -threshold, _I32_MIN, x << exponent))


def _clz32(u):
    """Leading zeros of uint32 values (32 for 0)."""
    u = np.asarray(u, np.int64) & 0xFFFFFFFF
    n = np.full(u.shape, 32, np.int64)
    for k in range(32):  # the highest set bit k leaves 31 - k leading zeros
        n = np.where(u >> k & 1 == 1, 31 - k, n)
    return n


_EXP_MINUS_ONE_EIGHTH = 1895147668   # exp(-1/8) in Q0
_ONE_THIRD = 715827883               # 1/3 in Q0
# exp(-2**k) in Q0 for the bits 2**k (k = -2 .. 4) of a Q5 value above its part in [-1/4, 0)
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def _exp_quarter(a):
    """exp(a) in Q0 for a Q0 value a in [-1/4, 0): a degree-4 Taylor polynomial around -1/8."""
    x = _wrap32(a + (1 << 28))
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = _rdbpot(x4, 2)
    poly = _rdbpot(_wrap32(_srdhm(_wrap32(x4_over_4 + x3), _ONE_THIRD) + x2), 1)
    return _wrap32(_EXP_MINUS_ONE_EIGHTH + _srdhm(_EXP_MINUS_ONE_EIGHTH, _wrap32(x + poly)))


def exp_on_negative_q5(a):
    """gemmlowp's exp of non-positive Q5 values ``a`` -> Q0 (``exp(0)`` is ``2**31 - 1``)."""
    a = np.asarray(a, np.int64)
    frac = SCALED_DIFF_INTEGER_BITS
    fbits = 31 - frac                  # 26 fractional bits
    quarter = 1 << (fbits - 2)
    mod = _wrap32((a & (quarter - 1)) - quarter)             # in [-1/4, 0)
    result = _exp_quarter(_sat_shl(mod, frac))                # Q5 -> Q0: times 2**5
    remainder = _wrap32(mod - a)
    for k, mult in _EXP_BARREL:
        if frac > k:
            result = np.where(remainder >> (fbits + k) & 1 == 1, _srdhm(result, mult), result)
    return np.where(a == 0, _I32_MAX, result)


def _one_over_one_plus_x(a):
    """gemmlowp's 1 / (1 + a) for a Q0 value a in [0, 1), in Q0: Newton-Raphson in Q2."""
    a = np.asarray(a, np.int64)
    s = a + _I32_MAX
    half = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))  # RoundingHalfSum(a, one): C's truncation
    x = _wrap32(1515870810 + _srdhm(half, -1010580540))         # 48/17 - 32/17 * half, Q2
    for _ in range(3):
        one_minus = _wrap32((1 << 29) - _srdhm(half, x))
        x = _wrap32(x + _sat_shl(_srdhm(x, one_minus), 2))
    return _sat_shl(x, 1)                                       # x / 2, Q2 -> Q0


def reciprocal_np(row_sum):
    """TFLite's GetReciprocal of a Q12 row sum: the Q0 scale ``1 / (sum * 2**h)`` (``h`` its leading
    zeros; a zero sum is taken as ``2**31``, i.e. shifted out)."""
    u = np.asarray(row_sum, np.int64) & 0xFFFFFFFF
    h = _clz32(u)
    shifted = np.where(h >= 32, 0, (u << np.minimum(h, 31)) & 0xFFFFFFFF)
    return _one_over_one_plus_x(_wrap32(shifted - (1 << 31)))


def out_shift_np(row_sum):
    """The kernel's per-row shift ``min(34 - h, 31)`` (``h`` the sum's leading zeros): one less than
    TFLite's exponent ``num_bits_over_unit + 31 - 8``, limited to 31."""
    return np.minimum(34 - _clz32(row_sum), 31)


# --- Prepare ---------------------------------------------------------------------------------------

def diff_min_of(input_left_shift: int) -> int:
    """TFLite's ``-CalculateInputRadius(5, input_left_shift)``: the smallest difference that counts."""
    ib = SCALED_DIFF_INTEGER_BITS
    return -math.floor(((1 << ib) - 1) * (1 << (31 - ib)) / (1 << input_left_shift))


def softmax_params(input_scale: float, beta: float = 1.0) -> dict:
    """``qsoftmax``'s ``input_multiplier`` / ``input_left_shift`` from the input scale and beta, as
    TFLM's Prepare computes them (PreprocessSoftmaxScaling with 5 integer bits, double rounding).

    Both are taken as float32 (as a .tflite stores them) and multiplied in double; TFLite requires the
    real multiplier ``beta * scale * 2**26`` (capped at ``2**31 - 1``) to be above one (OpError)."""
    s, b = float(np.float32(input_scale)), float(np.float32(beta))
    if not (s > 0 and math.isfinite(s)) or not (b > 0 and math.isfinite(b)):
        raise OpError(f"operator 'qsoftmax': input scale {s!r} and beta {b!r} must be positive and finite")
    real = min(b * s * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    if not real > 1.0:
        raise OpError(f"operator 'qsoftmax': beta {b!r} * input scale {s!r} * 2**26 = {real!r} is not above one; "
                      "TFLite requires it (QuantizeMultiplierGreaterThanOne)")
    # QuantizeMultiplier allows a shift of 31 here; halving first is exact and keeps the helper's range
    m, shift = quantize_multiplier(real / 2)
    return {"input_multiplier": m, "input_left_shift": shift + 1}


def exp_table(input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """int32 ``exp`` (Q0) of the differences ``-d`` for d = 0, 1, ...: 0 where ``-d < diff_min``; the
    trailing zeros are dropped (at least one entry: ``exp(0)``)."""
    d = np.arange(256, dtype=np.int64)
    scaled = tir.quant.Q_MULTIPLY_SHIFT.numpy(-d, input_multiplier, input_left_shift).astype(np.int64)
    e = np.where(-d >= diff_min_of(input_left_shift), exp_on_negative_q5(scaled), 0)
    n = int(np.flatnonzero(e)[-1]) + 1
    return e[:n].astype(np.int32)


def qsoftmax_np(x, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """TFLite's int8 softmax over the last axis of int8 ``x`` (output scale 1/256, zero point -128)."""
    x = np.asarray(x).astype(np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    valid = diff >= diff_min_of(input_left_shift)
    scaled = tir.quant.Q_MULTIPLY_SHIFT.numpy(diff, input_multiplier, input_left_shift).astype(np.int64)
    e = np.where(valid, exp_on_negative_q5(scaled), 0)
    total = _wrap32(np.where(valid, _rdbpot(e, ACCUMULATION_INTEGER_BITS), 0).sum(axis=-1, keepdims=True))
    scale = reciprocal_np(total)
    exponent = (ACCUMULATION_INTEGER_BITS - _clz32(total)) + 31 - 8
    out = _rdbpot(_srdhm(scale, e), exponent) + OUTPUT_ZERO_POINT
    out = np.where(valid, np.clip(out, -128, 127), -128)
    return out.astype(np.int8)


# --- pure ops of the kernel ------------------------------------------------------------------------

def _c_int(v: int) -> str:
    return "(-2147483647 - 1)" if v == _I32_MIN else str(int(v))


_EXP_OPS: dict[tuple[int, int], PureOp] = {}


def exp_op(input_multiplier: int, input_left_shift: int) -> PureOp:
    """The pure op ``exp(-d)`` (Q0) of a difference ``d = max - x``: a lookup in the constant
    :func:`exp_table` of these attributes (0 past its end); one object per attribute pair."""
    key = (int(input_multiplier), int(input_left_shift))
    if key not in _EXP_OPS:
        table = exp_table(*key)
        n = len(table)
        name = f"isaforge_softmax_exp_m{key[0]}_s{key[1]}"
        rows = ",\n".join("    " + ", ".join(_c_int(v) for v in table[i:i + 8]) for i in range(0, n, 8))
        src = (f"static const int32_t {name}_table[{n}] = {{\n{rows}\n}};\n"
               f"static inline int32_t {name}(int32_t d) {{\n"
               f"    return (uint32_t)d < {n}u ? {name}_table[d] : 0;\n}}\n")

        def lookup(d, table=table):
            d = np.asarray(d, np.int64)
            inside = (d >= 0) & (d < len(table))
            return np.where(inside, table[np.clip(d, 0, len(table) - 1)], 0).astype(np.int32)

        _EXP_OPS[key] = PureOp(f"softmax_exp_m{key[0]}_s{key[1]}", name, ("int32",), "int32", src, lookup)
    return _EXP_OPS[key]


_RECIPROCAL_C = """static inline int32_t isaforge_softmax_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    /* floor((a * b + 2^30) / 2^31); the bits of the 64-bit sum shifted as unsigned */
    uint64_t t = (uint64_t)((int64_t)a * (int64_t)b) + ((uint64_t)1 << 30);
    return (int32_t)(uint32_t)(t >> 31);
}
static inline int32_t isaforge_softmax_sat_shl(int32_t x, uint32_t e) {
    int32_t threshold = (int32_t)((1u << (31u - e)) - 1u);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << e);
}
static inline int32_t isaforge_softmax_reciprocal(int32_t sum) {
    uint32_t u = (uint32_t)sum;
    while (u != 0u && !(u & 0x80000000u)) u <<= 1;  /* sum * 2^leading zeros: in [1, 2) as Q0 + 1 */
    int32_t a = (int32_t)(u - 0x80000000u);
    int64_t s = (int64_t)a + INT32_MAX;             /* (a + 1) / 2, rounded half away from zero */
    int32_t half = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
    int32_t x = (int32_t)(1515870810u + (uint32_t)isaforge_softmax_srdhm(half, -1010580540));
    for (int i = 0; i < 3; ++i) {
        int32_t one_minus = (int32_t)((1u << 29) - (uint32_t)isaforge_softmax_srdhm(half, x));
        x = (int32_t)((uint32_t)x + (uint32_t)isaforge_softmax_sat_shl(isaforge_softmax_srdhm(x, one_minus), 2u));
    }
    return isaforge_softmax_sat_shl(x, 1u);
}
"""

_SHIFT_C = """static inline int32_t isaforge_softmax_out_shift(int32_t sum) {
    uint32_t u = (uint32_t)sum;
    int32_t h = 0;
    if (u == 0u) h = 32;
    while (u != 0u && !(u & 0x80000000u)) { u <<= 1; ++h; }
    return 34 - h < 31 ? 34 - h : 31;
}
"""

SOFTMAX_RECIPROCAL = PureOp("softmax_reciprocal", "isaforge_softmax_reciprocal", ("int32",), "int32",
                            _RECIPROCAL_C, lambda s: reciprocal_np(s).astype(np.int32))
SOFTMAX_OUT_SHIFT = PureOp("softmax_out_shift", "isaforge_softmax_out_shift", ("int32",), "int32", _SHIFT_C,
                           lambda s: out_shift_np(s).astype(np.int32))


# --- the operator ---------------------------------------------------------------------------------

def _i32(v: int):
    return tir.const(int(v), "int32")


def _qsoftmax_te(M, N, input_multiplier, input_left_shift):
    X = tir.placeholder((M, N), "int8", name="X")
    k = tir.reduce_axis((0, N), name="k")
    Mx = tir.compute((M,), lambda i: tir.max(X[i, k], axis=k), name="row_max")
    exp = exp_op(input_multiplier, input_left_shift)
    E = tir.compute((M, N), lambda i, j: tir.expr.Call(exp, (Mx[i].astype("int32") - X[i, j].astype("int32"),),
                                                        "int32"), name="row_exp")
    k2 = tir.reduce_axis((0, N), name="k2")
    pot = 1 << ACCUMULATION_INTEGER_BITS

    def rescaled(e):  # RoundingDivideByPOT(e, 12): the floor (an arithmetic shift) plus one from half up (e >= 0)
        return (e >> _i32(ACCUMULATION_INTEGER_BITS)) + ((e & _i32(pot - 1)) >= _i32(pot // 2)).astype("int32")

    S = tir.compute((M,), lambda i: tir.sum(rescaled(E[i, k2]), axis=k2), name="row_sum")
    R = tir.compute((M,), lambda i: tir.expr.Call(SOFTMAX_RECIPROCAL, (S[i],), "int32"), name="reciprocal")
    Sh = tir.compute((M,), lambda i: tir.expr.Call(SOFTMAX_OUT_SHIFT, (S[i],), "int32"), name="out_shift")

    def out(i, j):
        # RoundingDivideByPOT(q, e) of q >= 0 is floor((q / 2**(e - 1) + 1) / 2); e - 1 is limited to 31,
        # where q < 2**31 gives 0 either way
        q = tir.q_multiply_shift(R[i], E[i, j], 0)
        v = (((q >> Sh[i]) + _i32(1)) >> _i32(1)) + _i32(OUTPUT_ZERO_POINT)
        return tir.min(tir.max(v, _i32(-128)), _i32(127)).astype("int8")

    Y = tir.compute((M, N), out, name="qsoftmax")
    return Workload("qsoftmax", [X], Y, None, {"row_max": Mx, "row_exp": E, "row_sum": S, "reciprocal": R,
                                                 "out_shift": Sh})


def _qsoftmax_ref(x, *, M, N, input_multiplier, input_left_shift):
    return qsoftmax_np(np.asarray(x).reshape(M, N), input_multiplier, input_left_shift)


def _qsoftmax_norm(a):
    op = "qsoftmax"
    positive(op, a, "M", "N")
    if a["N"] > MAX_DEPTH:
        raise OpError(f"operator {op!r}: attribute 'N' = {a['N']} is above {MAX_DEPTH} (the int32 row sum of "
                      "exps would overflow)")
    if not 1 << 30 <= a["input_multiplier"] < 1 << 31:
        raise OpError(f"operator {op!r}: attribute 'input_multiplier' = {a['input_multiplier']} is outside "
                      "[2**30, 2**31) (a Q31 multiplier greater than one: softmax_params)")
    if not 0 <= a["input_left_shift"] <= 31:
        raise OpError(f"operator {op!r}: attribute 'input_left_shift' = {a['input_left_shift']} is outside [0, 31]")
    return a


_DEFAULT = softmax_params(1 / 16)

QSOFTMAX = register(Op(
    "qsoftmax",
    "int8 softmax over the rows of X[M, N] (TFLite SOFTMAX int8, exact): output scale 1/256, zero point -128; "
    "multiplier and shift from softmax_params(input_scale, beta)",
    (Attr("M", int, doc="rows"), Attr("N", int, doc="classes (the softmax axis)"),
     Attr("input_multiplier", int, _DEFAULT["input_multiplier"], "Q31, from softmax_params"),
     Attr("input_left_shift", int, _DEFAULT["input_left_shift"], "from softmax_params")),
    _qsoftmax_te, _qsoftmax_ref, lambda **_: 0, family="qsoftmax", normalize=_qsoftmax_norm,
    cli_default=dict(M=1, N=12),
    examples=(dict(M=1, N=12), dict(M=3, N=10, **softmax_params(0.2, 1.0)),
              dict(M=2, N=300, **softmax_params(0.01, 0.5)), dict(M=4, N=1),
              dict(M=2, N=7, **softmax_params(3.0, 2.0)))))


__all__ = ["QSOFTMAX", "SOFTMAX_OUT_SHIFT", "SOFTMAX_RECIPROCAL", "diff_min_of", "exp_on_negative_q5", "exp_op",
           "exp_table", "qsoftmax_np", "reciprocal_np", "softmax_params"]
