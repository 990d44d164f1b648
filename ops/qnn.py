"""Quantized (int8) network operators, exactly as TFLite's reference kernels compute them.

``quantize_multiplier(real)``
    TFLite's QuantizeMultiplier: a real multiplier as a Q31 integer ``m`` in [2**30, 2**31) (or 0) and
    a power-of-two exponent ``shift`` with ``real ~= m * 2**(shift - 31)``.

``qdense``
    TFLite's int8 FULLY_CONNECTED: ``acc[i, j] = Bias[j] + sum_k (X[i, k] - x_zero_point) * W[j, k]``
    in int32, then ``clamp(q_multiply_shift(acc, Mult[j], Shift[j]) + out_zero_point, qmin, qmax)``
    (per-channel multipliers; per-tensor is the same value in every channel). Weights have zero point
    0 (TFLite requires it for int8). With ``x_zero_point = 0`` the reduction is a plain int8 dot
    product, which is what the model compiler gives it: it folds ``-x_zero_point * sum_k W[j, k]`` into
    the constant bias offline (exact, int32 arithmetic wraps the same either way).
"""

from __future__ import annotations

import math

import numpy as np

import tir

from .common import positive, wrap
from .errors import OpError
from .registry import Attr, Op, Workload, register


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier of ``real`` -> ``(multiplier, shift)``.

    ``frexp`` splits ``real = q * 2**shift`` with ``0.5 <= |q| < 1``; ``multiplier`` is ``q * 2**31``
    rounded half away from zero (``2**31`` after rounding becomes ``2**30`` with ``shift + 1``); a
    shift below -31 flushes to ``(0, 0)``. ``real == 0`` gives ``(0, 0)``.
    """
    real = float(real)
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = int(math.copysign(math.floor(abs(q) * (1 << 31) + 0.5), q))
    if m == 1 << 31:
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise OpError(f"quantize_multiplier: real multiplier {real} is too large (shift {shift} > 30)")
    return m, shift


def fold_x_zero_point(w: np.ndarray, bias: np.ndarray, x_zero_point: int) -> np.ndarray:
    """``Bias[j] - x_zero_point * sum_k W[j, k]`` in int32 (wrapping) for weights ``w`` [N, K]: with it
    the reduction over ``x - x_zero_point`` becomes a plain product of ``x`` (exact in int32)."""
    sums = np.asarray(w).astype(np.int64).sum(axis=1)
    return wrap(np.asarray(bias).astype(np.int64) - x_zero_point * sums, "int32")


def check_int8_attrs(op: str, a: dict, *names: str) -> None:
    """OpError naming ``op`` and the attribute when one of ``names`` does not fit int8."""
    for k in names:
        if not -128 <= a[k] <= 127:
            raise OpError(f"operator {op!r}: attribute {k!r} = {a[k]} does not fit int8")


def check_clamp(op: str, a: dict) -> None:
    """``qmin`` / ``qmax`` fit int8 and ``qmin <= qmax``."""
    check_int8_attrs(op, a, "qmin", "qmax")
    if a["qmin"] > a["qmax"]:
        raise OpError(f"operator {op!r}: qmin = {a['qmin']} is above qmax = {a['qmax']}")


def _i32(v: int):
    return tir.const(int(v), "int32")


def _qdense_te(M, N, K, x_zero_point, out_zero_point, qmin, qmax):
    X = tir.placeholder((M, K), "int8", name="X")
    W = tir.placeholder((N, K), "int8", name="W")
    Bias = tir.placeholder((N,), "int32", name="Bias")
    Mult = tir.placeholder((N,), "int32", name="Mult")
    Shift = tir.placeholder((N,), "int32", name="Shift")
    k = tir.reduce_axis((0, K), name="k")

    def xv(i, kk):
        x = X[i, kk].astype("int32")
        return x - _i32(x_zero_point) if x_zero_point else x

    D = tir.compute((M, N), lambda i, j: tir.sum(xv(i, k) * W[j, k].astype("int32"), axis=k), name="dense")
    # the biased accumulator is a stage of its own so that a requantizing unit reads it as one load
    B = tir.compute((M, N), lambda i, j: D[i, j] + Bias[j], name="biased")
    Y = tir.compute((M, N), lambda i, j: tir.requantize(B[i, j], Mult[j], Shift[j], out_zero_point,
                                                        qmin, qmax, "int8"), name="Y")
    return Workload("qdense", [X, W, Bias, Mult, Shift], Y, None, {"dense": D, "biased": B})


def requantize_channels_np(acc: np.ndarray, mult: np.ndarray, shift: np.ndarray, zero_point: int,
                           qmin: int, qmax: int) -> np.ndarray:
    """``tir.requantize`` in numpy with a multiplier and shift per channel (the last axis), int8 out.

    Any int32 multiplier and shift are defined (shift amounts limit at 31, as the pure op's C does).
    """
    q = tir.quant.Q_MULTIPLY_SHIFT.numpy(np.asarray(acc), np.asarray(mult), np.asarray(shift))
    v = wrap(q.astype(np.int64) + zero_point, "int32")
    return np.minimum(np.maximum(v, qmin), qmax).astype(np.int8)


def _qdense_ref(x, w, bias, mult, shift, *, M, N, K, x_zero_point, out_zero_point, qmin, qmax):
    acc = (x.astype(np.int64) - x_zero_point) @ w.astype(np.int64).T + bias.astype(np.int64)
    return requantize_channels_np(wrap(acc, "int32"), mult, shift, out_zero_point, qmin, qmax)


def _qdense_norm(a):
    positive("qdense", a, "M", "N", "K")
    check_int8_attrs("qdense", a, "x_zero_point", "out_zero_point")
    check_clamp("qdense", a)
    return a


QDENSE = register(Op(
    "qdense", "Y[M, N] int8 = requantize(Bias[N] + (X[M, K] - x_zero_point) · W[N, K]ᵀ, Mult[N], Shift[N]) "
    "(TFLite int8 FULLY_CONNECTED, exact)",
    (Attr("M", int, doc="rows (batch)"), Attr("N", int, doc="output features"), Attr("K", int, doc="input features"),
     Attr("x_zero_point", int, 0, "input zero point (0 when the caller folded it into Bias)"),
     Attr("out_zero_point", int, 0, "output zero point"),
     Attr("qmin", int, -128, "activation clamp low"), Attr("qmax", int, 127, "activation clamp high")),
    _qdense_te, _qdense_ref, lambda M, N, K, **_: M * N * K, family="dense", normalize=_qdense_norm,
    cli_default=dict(M=1, N=16, K=16),
    examples=(dict(M=1, N=16, K=16), dict(M=3, N=5, K=7, x_zero_point=-128, out_zero_point=5),
              dict(M=2, N=4, K=9, x_zero_point=3, out_zero_point=-128, qmin=-128, qmax=60))))


# --- qrequantize: an 8-bit tensor to new quantization parameters ----------------------------------

_8BIT = ("int8", "uint8")


def requantize_params(in_scale: float, out_scale: float) -> dict:
    """``qrequantize``'s multiplier and shift for ``in_scale / out_scale``, as TFLM's QUANTIZE Prepare
    computes them (the float32 scales divided in double, QuantizeMultiplier)."""
    si, so = float(np.float32(in_scale)), float(np.float32(out_scale))
    if not (si > 0 and math.isfinite(si)) or not (so > 0 and math.isfinite(so)):
        raise OpError(f"operator 'qrequantize': scales {si!r} -> {so!r} must be positive and finite")
    m, shift = quantize_multiplier(si / so)
    return {"multiplier": m, "shift": shift}


def _qrequant_te(shape, in_zero_point, out_zero_point, multiplier, shift, dtype_in, out_dtype):
    X = tir.placeholder(shape, dtype_in, name="X")
    info = np.iinfo(out_dtype)

    def body(*i):
        v = X[i].astype("int32")
        v = v - _i32(in_zero_point) if in_zero_point else v
        return tir.requantize(v, multiplier, shift, out_zero_point, int(info.min), int(info.max), out_dtype)

    return Workload("qrequantize", [X], tir.compute(shape, body, name="qrequantize"), None)


def _qrequant_ref(x, *, shape, in_zero_point, out_zero_point, multiplier, shift, dtype_in, out_dtype):
    q = tir.quant.Q_MULTIPLY_SHIFT.numpy(np.asarray(x).astype(np.int64) - in_zero_point, multiplier, shift)
    info = np.iinfo(out_dtype)
    return np.clip(q.astype(np.int64) + out_zero_point, info.min, info.max).astype(out_dtype)


def _qrequant_norm(a):
    op = "qrequantize"
    if not a["shape"] or any(n < 1 for n in a["shape"]):
        raise OpError(f"operator {op!r}: attribute 'shape' must be a non-empty shape, got {a['shape']}")
    for k, dt in (("in_zero_point", a["dtype_in"]), ("out_zero_point", a["out_dtype"])):
        if not tir.dtype.fits(a[k], dt):
            raise OpError(f"operator {op!r}: attribute {k!r} = {a[k]} does not fit {dt}")
    if not 0 <= a["multiplier"] < 1 << 31:
        raise OpError(f"operator {op!r}: attribute 'multiplier' = {a['multiplier']} is outside [0, 2**31)")
    if not -31 <= a["shift"] <= 30:
        raise OpError(f"operator {op!r}: attribute 'shift' = {a['shift']} is outside [-31, 30]")
    return a


QREQUANTIZE = register(Op(
    "qrequantize",
    "8-bit -> 8-bit requantization (TFLite QUANTIZE of an int8 tensor, exact): Y = clamp(q_multiply_shift(X - "
    "in_zero_point, multiplier, shift) + out_zero_point) to out_dtype",
    (Attr("shape", tuple), Attr("in_zero_point", int, 0), Attr("out_zero_point", int, 0),
     Attr("multiplier", int, 1 << 30, "Q31, from requantize_params(in_scale, out_scale)"),
     Attr("shift", int, 1, "from requantize_params (the default pair is a multiplier of one)"),
     Attr("dtype_in", str, "int8", choices=_8BIT), Attr("out_dtype", str, "int8", choices=_8BIT)),
    _qrequant_te, _qrequant_ref, lambda **_: 0, family="quant", normalize=_qrequant_norm,
    cli_default=dict(shape=(16,)),
    examples=(dict(shape=(4, 8)), dict(shape=(3, 5), in_zero_point=-7, out_zero_point=12,
                                      **requantize_params(0.05, 0.02)),
              dict(shape=(1, 2, 2, 6), in_zero_point=-128, out_zero_point=3, **requantize_params(0.1, 0.37)),
              dict(shape=(9,), in_zero_point=5, out_zero_point=128, out_dtype="uint8",
                   **requantize_params(0.02, 0.02)))))


__all__ = ["QDENSE", "QREQUANTIZE", "check_clamp", "check_int8_attrs", "fold_x_zero_point", "quantize_multiplier",
           "requantize_channels_np", "requantize_params"]
