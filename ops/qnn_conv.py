"""int8 quantized convolution-family operators with TFLite's reference-kernel arithmetic, bit for bit:
``qconv2d_nhwc``, ``qdepthwise_conv2d_nhwc``, ``qavg_pool2d_nhwc``, ``qmax_pool2d_nhwc`` and ``qadd``.

Activations are NHWC int8, filters OHWI (``[F, KH, KW, C]``; depthwise ``[1, KH, KW, C*M]``) as TFLite
stores them. The convolutions accumulate ``(x - x_zero_point) * w`` in int32 over the taps inside the
image (padding is a stage filled with ``x_zero_point``, so a padded tap contributes exactly 0, as
TFLite's ``is_point_inside_image`` skip does), add the int32 bias, and requantize per output channel:
``clamp(q_multiply_shift(acc, mult[f], shift[f]) + out_zero_point, qmin, qmax)`` (``tir.requantize``,
TFLite's MultiplyByQuantizedMultiplier). The int32 sums wrap modulo 2**32 like the C code, so the order
of the taps does not matter.

``fold_x_zero_point=True`` is the same operator with the input offset moved into the bias (what a model
compiler does so the reduction is a plain int8 product for dot-product units): the reduction is
``sum pad(X) * w`` with the padding still filled with ``x_zero_point``, and ``Bias`` must be
``folded_bias(W, Bias, x_zero_point)`` = ``Bias[f] - x_zero_point * sum W[f]`` (wrapping in int32).
Exact, padding included: a padded tap adds ``x_zero_point * w``, which the folded bias cancels; folding
with a zero-filled padding would not be.

Per-channel multipliers and shifts are int32 *inputs* (constants of a model), not attributes: in range
they are TFLite's (``0 <= mult < 2**31``, ``-31 <= shift <= 31``); outside it the operators compute what
``tir.q_multiply_shift`` defines (shift amounts limited to 31), in the TE and in the numpy reference.

``qadd_params`` derives ``qadd``'s multipliers from the three scales as TFLite's ADD Prepare does.
"""

from __future__ import annotations

import math

import numpy as np

import tir

from .common import positive, windows_nhwc, wrap
from .conv import _tap, pad_nhwc
from .errors import OpError
from .qnn import check_clamp, check_int8_attrs, fold_x_zero_point, quantize_multiplier, requantize_channels_np
from .registry import Attr, Op, Workload, register

# --- shared arithmetic ---------------------------------------------------------------------------

def _out_extent(n: int, k: int, stride: int, pad_lo: int, pad_hi: int, dilation: int = 1) -> int:
    return (n + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def _pads(a: dict) -> tuple[int, int, int, int]:
    return a["pad_top"], a["pad_bottom"], a["pad_left"], a["pad_right"]


_PAD_ATTRS = (Attr("pad_top", int, 0), Attr("pad_bottom", int, 0), Attr("pad_left", int, 0),
              Attr("pad_right", int, 0))
_CLAMP_ATTRS = (Attr("qmin", int, -128, "activation clamp low (TFLite's quantized_activation_min)"),
                Attr("qmax", int, 127, "activation clamp high"))


def _check_window(op: str, a: dict, kh: str, kw: str) -> None:
    """Non-negative padding and an output extent >= 1 on both spatial axes."""
    for k in ("pad_top", "pad_bottom", "pad_left", "pad_right"):
        if a[k] < 0:
            raise OpError(f"operator {op!r}: attribute {k!r} must be >= 0, got {a[k]}")
    for ext, k, s, d, p0, p1, axis in (
            ("H", kh, "stride_h", "dilation_h", "pad_top", "pad_bottom", "height"),
            ("W", kw, "stride_w", "dilation_w", "pad_left", "pad_right", "width")):
        dil = a.get(d, 1)
        if _out_extent(a[ext], a[k], a[s], a[p0], a[p1], dil) < 1:
            raise OpError(f"operator {op!r}: the window ({k} = {a[k]} taps, dilation {dil}) does not fit "
                          f"{ext} = {a[ext]} with {p0} = {a[p0]}, {p1} = {a[p1]}: output {axis} < 1")


# --- qconv2d_nhwc --------------------------------------------------------------------------------

_CONV_ATTRS = (Attr("F", int, doc="output channels"), Attr("KH", int, doc="kernel height"),
               Attr("KW", int, None, "kernel width (default KH)"), Attr("stride_h", int, 1),
               Attr("stride_w", int, 1), Attr("dilation_h", int, 1), Attr("dilation_w", int, 1), *_PAD_ATTRS,
               Attr("x_zero_point", int, 0, "input zero point (TFLite's -input_offset)"),
               Attr("out_zero_point", int, 0, "output zero point"), *_CLAMP_ATTRS,
               Attr("fold_x_zero_point", bool, False, "Bias holds folded_bias(...): reduce pad(X) * W, no offset"))


def _qconv_norm(name: str):
    def normalize(a):
        if a["KW"] is None:
            a["KW"] = a["KH"]
        positive(name, a, *[k for k in ("N", "H", "W", "C", "F", "KH", "KW", "depth_multiplier", "stride_h",
                                        "stride_w", "dilation_h", "dilation_w") if k in a])
        _check_window(name, a, "KH", "KW")
        check_int8_attrs(name, a, "x_zero_point", "out_zero_point")
        check_clamp(name, a)
        return a
    return normalize


def _conv_out_hw(a: dict) -> tuple[int, int]:
    return (_out_extent(a["H"], a["KH"], a["stride_h"], a["pad_top"], a["pad_bottom"], a["dilation_h"]),
            _out_extent(a["W"], a["KW"], a["stride_w"], a["pad_left"], a["pad_right"], a["dilation_w"]))


def _shifted(v, zero_point: int):
    """``int32(v) - zero_point`` (no subtraction for zero point 0, so the plain product pattern stays)."""
    v = v.astype("int32")
    return v if zero_point == 0 else v - tir.const(zero_point, "int32")


def _qconv_placeholders(N, H, W, C, wshape, n_out):
    X = tir.placeholder((N, H, W, C), "int8", name="X")
    Wt = tir.placeholder(wshape, "int8", name="Wt")
    Bias = tir.placeholder((n_out,), "int32", name="Bias")
    Mult = tir.placeholder((n_out,), "int32", name="Mult")
    Shift = tir.placeholder((n_out,), "int32", name="Shift")
    return X, Wt, Bias, Mult, Shift


def _requant_stage(Acc, Bias, Mult, Shift, out_zero_point, qmin, qmax, name):
    # the biased sum is a stage of its own so that a requantizing unit reads it as one load
    B = tir.compute(Acc.shape, lambda b, y, x, f: Acc[b, y, x, f] + Bias[f], name="biased")
    return tir.compute(Acc.shape, lambda b, y, x, f: tir.requantize(
        B[b, y, x, f], Mult[f], Shift[f], out_zero_point, qmin, qmax, "int8"), name=name), B


def _qconv_te(N, H, W, C, F, KH, KW, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_bottom, pad_left,
              pad_right, x_zero_point, out_zero_point, qmin, qmax, fold_x_zero_point):
    X, Wt, Bias, Mult, Shift = _qconv_placeholders(N, H, W, C, (F, KH, KW, C), F)
    offset = 0 if fold_x_zero_point else x_zero_point
    pads = (pad_top, pad_bottom, pad_left, pad_right)
    P = pad_nhwc(X, pads, x_zero_point)
    src = X if P is None else P
    a = dict(H=H, W=W, KH=KH, KW=KW, stride_h=stride_h, stride_w=stride_w, dilation_h=dilation_h,
             dilation_w=dilation_w, pad_top=pad_top, pad_bottom=pad_bottom, pad_left=pad_left, pad_right=pad_right)
    OH, OW = _conv_out_hw(a)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    rc = tir.reduce_axis((0, C), "rc")
    Acc = tir.compute((N, OH, OW, F), lambda b, y, x, f: tir.sum(
        _shifted(src[b, _tap(y, stride_h, ry, dilation_h), _tap(x, stride_w, rx, dilation_w), rc], offset) *
        Wt[f, ry, rx, rc].astype("int32"), axis=[ry, rx, rc]), name="acc")
    Out, B = _requant_stage(Acc, Bias, Mult, Shift, out_zero_point, qmin, qmax, "qconv")
    stages = {"acc": Acc, "biased": B} if P is None else {"pad": P, "acc": Acc, "biased": B}
    return Workload("qconv2d_nhwc", [X, Wt, Bias, Mult, Shift], Out, None, stages)


def _offset_padded_np(x, a: dict):
    """int64 ``x - x_zero_point`` padded with zeros (a padded tap contributes 0); folded: ``x`` padded
    with ``x_zero_point``."""
    t, b, l, r = _pads(a)
    widths = ((0, 0), (t, b), (l, r), (0, 0))
    if a["fold_x_zero_point"]:
        return np.pad(x.astype(np.int64), widths, constant_values=a["x_zero_point"])
    return np.pad(x.astype(np.int64) - a["x_zero_point"], widths)


def folded_bias(w: np.ndarray, bias: np.ndarray, x_zero_point: int, depthwise: bool = False) -> np.ndarray:
    """``Bias[f] - x_zero_point * sum W[f]`` in int32 (wrapping): the bias of ``fold_x_zero_point=True``.

    ``w`` is OHWI ``[F, KH, KW, C]`` (conv) or ``[1, KH, KW, C*M]`` (``depthwise=True``)."""
    w = np.asarray(w)
    rows = w.reshape(-1, w.shape[3]).T if depthwise else w.reshape(w.shape[0], -1)  # [channels, taps]
    return fold_x_zero_point(rows, bias, x_zero_point)


def _qconv_ref(x, w, bias, mult, shift, **a):
    xp = _offset_padded_np(x, a)
    win = windows_nhwc(xp, a["KH"], a["KW"], (a["stride_h"], a["stride_w"]), (a["dilation_h"], a["dilation_w"]))
    acc = np.einsum("nyxijc,fijc->nyxf", win, w.astype(np.int64)) + bias.astype(np.int64)
    return requantize_channels_np(wrap(acc, "int32"), mult, shift, a["out_zero_point"], a["qmin"], a["qmax"])


def _qconv_macs(N, F, KH, KW, C, **a):
    oh, ow = _conv_out_hw(dict(a, KH=KH, KW=KW))
    return N * oh * ow * F * KH * KW * C


QCONV2D_NHWC = register(Op(
    "qconv2d_nhwc",
    "int8 conv (TFLite ConvPerChannel): Y[N, OH, OW, F] = clamp(q_multiply_shift(Bias[f] + sum over in-image "
    "taps of (X - x_zero_point) * Wt[F, KH, KW, C], Mult[f], Shift[f]) + out_zero_point, qmin, qmax)",
    (Attr("N", int, doc="batch"), Attr("H", int), Attr("W", int), Attr("C", int, doc="input channels"),
     *_CONV_ATTRS),
    _qconv_te, _qconv_ref, _qconv_macs, family="qconv2d", normalize=_qconv_norm("qconv2d_nhwc"),
    cli_default=dict(N=1, H=16, W=16, C=16, F=16, KH=3),
    examples=(dict(N=1, H=8, W=8, C=4, F=6, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1,
                   x_zero_point=-3, out_zero_point=5),
              dict(N=1, H=9, W=7, C=3, F=4, KH=3, KW=2, stride_h=2, stride_w=2, x_zero_point=12),
              dict(N=1, H=7, W=8, C=2, F=3, KH=3, stride_h=2, stride_w=1, dilation_h=2, pad_top=1, pad_bottom=2,
                   pad_left=0, pad_right=2, x_zero_point=-128, out_zero_point=-20, qmin=-20, qmax=127),
              dict(N=2, H=4, W=5, C=5, F=3, KH=1, x_zero_point=0, out_zero_point=-1),
              dict(N=1, H=6, W=6, C=4, F=3, KH=3, stride_h=2, stride_w=2, pad_top=0, pad_bottom=1, pad_left=0,
                   pad_right=1, x_zero_point=-11, fold_x_zero_point=True))))


# --- qdepthwise_conv2d_nhwc ----------------------------------------------------------------------

def _qdw_te(N, H, W, C, depth_multiplier, KH, KW, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_bottom,
            pad_left, pad_right, x_zero_point, out_zero_point, qmin, qmax, fold_x_zero_point):
    M = depth_multiplier
    offset = 0 if fold_x_zero_point else x_zero_point
    X, Wt, Bias, Mult, Shift = _qconv_placeholders(N, H, W, C, (1, KH, KW, C * M), C * M)
    P = pad_nhwc(X, (pad_top, pad_bottom, pad_left, pad_right), x_zero_point)
    src = X if P is None else P
    a = dict(H=H, W=W, KH=KH, KW=KW, stride_h=stride_h, stride_w=stride_w, dilation_h=dilation_h,
             dilation_w=dilation_w, pad_top=pad_top, pad_bottom=pad_bottom, pad_left=pad_left, pad_right=pad_right)
    OH, OW = _conv_out_hw(a)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")

    def channel(oc):  # output channel oc = c * M + m reads input channel c
        return oc if M == 1 else oc // M

    Acc = tir.compute((N, OH, OW, C * M), lambda b, y, x, oc: tir.sum(
        _shifted(src[b, _tap(y, stride_h, ry, dilation_h), _tap(x, stride_w, rx, dilation_w), channel(oc)],
                 offset) * Wt[0, ry, rx, oc].astype("int32"), axis=[ry, rx]), name="acc")
    Out, B = _requant_stage(Acc, Bias, Mult, Shift, out_zero_point, qmin, qmax, "qdwconv")
    stages = {"acc": Acc, "biased": B} if P is None else {"pad": P, "acc": Acc, "biased": B}
    return Workload("qdepthwise_conv2d_nhwc", [X, Wt, Bias, Mult, Shift], Out, None, stages)


def _qdw_ref(x, w, bias, mult, shift, **a):
    M = a["depth_multiplier"]
    xp = _offset_padded_np(x, a)
    xp = np.repeat(xp, M, axis=3)  # channel c * M + m is input channel c
    win = windows_nhwc(xp, a["KH"], a["KW"], (a["stride_h"], a["stride_w"]), (a["dilation_h"], a["dilation_w"]))
    acc = np.einsum("nyxijc,ijc->nyxc", win, w[0].astype(np.int64)) + bias.astype(np.int64)
    return requantize_channels_np(wrap(acc, "int32"), mult, shift, a["out_zero_point"], a["qmin"], a["qmax"])


def _qdw_macs(N, C, depth_multiplier, KH, KW, **a):
    oh, ow = _conv_out_hw(dict(a, KH=KH, KW=KW))
    return N * oh * ow * C * depth_multiplier * KH * KW


QDEPTHWISE_CONV2D_NHWC = register(Op(
    "qdepthwise_conv2d_nhwc",
    "int8 depthwise conv (TFLite DepthwisePerChannel): Y[N, OH, OW, c*M+m] = clamp(q_multiply_shift(Bias + sum "
    "over in-image taps of (X[.., c] - x_zero_point) * Wt[0, KH, KW, c*M+m], Mult, Shift) + out_zero_point, "
    "qmin, qmax)",
    (Attr("N", int, doc="batch"), Attr("H", int), Attr("W", int), Attr("C", int, doc="input channels"),
     *_CONV_ATTRS[1:3], Attr("depth_multiplier", int, 1, "M: output channels per input channel"),
     *_CONV_ATTRS[3:]),
    _qdw_te, _qdw_ref, _qdw_macs, family="qdepthwise_conv2d",
    normalize=_qconv_norm("qdepthwise_conv2d_nhwc"), cli_default=dict(N=1, H=16, W=16, C=32, KH=3),
    examples=(dict(N=1, H=6, W=6, C=3, depth_multiplier=2, KH=3, pad_top=1, pad_bottom=1, pad_left=1,
                   pad_right=1, x_zero_point=7, out_zero_point=-4),
              dict(N=2, H=7, W=8, C=4, KH=3, KW=2, stride_h=2, stride_w=2, pad_top=0, pad_bottom=1, pad_left=0,
                   pad_right=1, x_zero_point=-128),
              dict(N=1, H=9, W=9, C=2, depth_multiplier=3, KH=3, dilation_h=2, dilation_w=2, pad_top=2,
                   pad_bottom=2, pad_left=1, pad_right=1, out_zero_point=-128, qmin=-128, qmax=0),
              dict(N=1, H=5, W=5, C=4, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, x_zero_point=25,
                   fold_x_zero_point=True))))


# --- pooling -------------------------------------------------------------------------------------

_POOL_ATTRS = (Attr("N", int), Attr("H", int), Attr("W", int), Attr("C", int),
               Attr("filter_h", int, 2), Attr("filter_w", int, 2), Attr("stride_h", int, 2),
               Attr("stride_w", int, 2), *_PAD_ATTRS, *_CLAMP_ATTRS)


def _pool_out_hw(a: dict) -> tuple[int, int]:
    return (_out_extent(a["H"], a["filter_h"], a["stride_h"], a["pad_top"], a["pad_bottom"]),
            _out_extent(a["W"], a["filter_w"], a["stride_w"], a["pad_left"], a["pad_right"]))


def _qpool_norm(name: str):
    def normalize(a):
        positive(name, a, "N", "H", "W", "C", "filter_h", "filter_w", "stride_h", "stride_w")
        _check_window(name, a, "filter_h", "filter_w")
        # every window must hold an in-image tap (TFLite's average has no value for an empty one)
        oh, ow = _pool_out_hw(a)
        for ext, k, s, p0, o in (("H", "filter_h", "stride_h", "pad_top", oh), ("W", "filter_w", "stride_w",
                                                                              "pad_left", ow)):
            if a[p0] >= a[k] or (o - 1) * a[s] - a[p0] >= a[ext]:
                raise OpError(f"operator {name!r}: attribute {p0!r} = {a[p0]} (with {k} = {a[k]}, {s} = {a[s]}) "
                              f"leaves a window with no tap inside {ext} = {a[ext]}")
        check_clamp(name, a)
        return a
    return normalize


def _pool_index(o, stride: int, r):
    return o * stride + r


def _qmax_pool_te(N, H, W, C, filter_h, filter_w, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right,
                  qmin, qmax):
    X = tir.placeholder((N, H, W, C), "int8", name="X")
    # -128 is below or equal to every tap, so the max over the padded window is the max over its
    # in-image taps (every window has one: normalize)
    P = pad_nhwc(X, (pad_top, pad_bottom, pad_left, pad_right), -128)
    src = X if P is None else P
    OH, OW = _pool_out_hw(dict(H=H, W=W, filter_h=filter_h, filter_w=filter_w, stride_h=stride_h,
                               stride_w=stride_w, pad_top=pad_top, pad_bottom=pad_bottom, pad_left=pad_left,
                               pad_right=pad_right))
    ry = tir.reduce_axis((0, filter_h), "ry")
    rx = tir.reduce_axis((0, filter_w), "rx")
    Mx = tir.compute((N, OH, OW, C), lambda b, y, x, c: tir.max(
        src[b, _pool_index(y, stride_h, ry), _pool_index(x, stride_w, rx), c], axis=[ry, rx]), name="max")
    lo, hi = tir.const(qmin, "int8"), tir.const(qmax, "int8")
    Out = tir.compute(Mx.shape, lambda b, y, x, c: tir.min(tir.max(Mx[b, y, x, c], lo), hi), name="qmaxpool")
    stages = {"max": Mx} if P is None else {"pad": P, "max": Mx}
    return Workload("qmax_pool2d_nhwc", [X], Out, None, stages)


def _pool_windows_np(x, a: dict, fill: int):
    t, b, l, r = _pads(a)
    xp = np.pad(x.astype(np.int64), ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    return windows_nhwc(xp, a["filter_h"], a["filter_w"], (a["stride_h"], a["stride_w"]))


def _qmax_pool_ref(x, **a):
    m = _pool_windows_np(x, a, -128).max(axis=(3, 4))
    return np.minimum(np.maximum(m, a["qmin"]), a["qmax"]).astype(np.int8)


QMAX_POOL2D_NHWC = register(Op(
    "qmax_pool2d_nhwc",
    "int8 max pool (TFLite MaxPool): Y[N, OH, OW, C] = clamp(max over the in-image taps of X, qmin, qmax); "
    "input and output share scale and zero point",
    _POOL_ATTRS, _qmax_pool_te, _qmax_pool_ref, lambda **_: 0, family="qpool",
    normalize=_qpool_norm("qmax_pool2d_nhwc"), cli_default=dict(N=1, H=16, W=16, C=32),
    examples=(dict(N=1, H=6, W=6, C=4),
              dict(N=2, H=5, W=5, C=3, filter_h=3, filter_w=3, stride_h=1, stride_w=1, pad_top=1, pad_bottom=1,
                   pad_left=1, pad_right=1),
              dict(N=1, H=7, W=6, C=2, filter_h=3, filter_w=2, stride_h=2, stride_w=2, pad_top=1, pad_bottom=1,
                   pad_left=0, pad_right=0, qmin=-30, qmax=90))))


def _tap_count(o, stride: int, pad_lo: int, k: int, n: int):
    """Taps of a window of ``k`` starting at ``o * stride - pad_lo`` inside [0, n) (TFLite's
    filter_*_end - filter_*_start)."""
    start = o * stride - tir.const(pad_lo, "int32")
    return tir.min(tir.const(k, "int32"), tir.const(n, "int32") - start) - tir.max(tir.const(0, "int32"), 0 - start)


def _qavg_pool_te(N, H, W, C, filter_h, filter_w, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right,
                  qmin, qmax):
    X = tir.placeholder((N, H, W, C), "int8", name="X")
    pads = (pad_top, pad_bottom, pad_left, pad_right)
    P = pad_nhwc(X, pads, 0)
    src = X if P is None else P
    OH, OW = _pool_out_hw(dict(H=H, W=W, filter_h=filter_h, filter_w=filter_w, stride_h=stride_h,
                               stride_w=stride_w, pad_top=pad_top, pad_bottom=pad_bottom, pad_left=pad_left,
                               pad_right=pad_right))
    ry = tir.reduce_axis((0, filter_h), "ry")
    rx = tir.reduce_axis((0, filter_w), "rx")
    S = tir.compute((N, OH, OW, C), lambda b, y, x, c: tir.sum(
        src[b, _pool_index(y, stride_h, ry), _pool_index(x, stride_w, rx), c].astype("int32"), axis=[ry, rx]),
        name="sum")

    def count(y, x):
        if P is None:  # every window is inside the image
            return tir.const(filter_h * filter_w, "int32")
        return _tap_count(y, stride_h, pad_top, filter_h, H) * _tap_count(x, stride_w, pad_left, filter_w, W)

    def average(b, y, x, c):
        # TFLite: sum > 0 ? (sum + n/2) / n : (sum - n/2) / n, '/' truncating toward zero; both
        # branches are written as floor divisions of non-negative numerators
        s, n = S[b, y, x, c], count(y, x)
        half = n // 2
        v = tir.if_then_else(s > 0, (s + half) // n, 0 - (half - s) // n)
        v = tir.min(tir.max(v, tir.const(qmin, "int32")), tir.const(qmax, "int32"))
        return v.astype("int8")

    Out = tir.compute(S.shape, average, name="qavgpool")
    stages = {"sum": S} if P is None else {"pad": P, "sum": S}
    return Workload("qavg_pool2d_nhwc", [X], Out, None, stages)


def _qavg_pool_ref(x, **a):
    s = _pool_windows_np(x, a, 0).sum(axis=(3, 4))
    n = _pool_windows_np(np.ones_like(x), a, 0).sum(axis=(3, 4))  # in-image taps (padding excluded)
    half = n // 2
    # C's truncating division of the rounded numerator
    v = np.where(s > 0, (s + half) // n, -((half - s) // n))
    return np.minimum(np.maximum(v, a["qmin"]), a["qmax"]).astype(np.int8)


QAVG_POOL2D_NHWC = register(Op(
    "qavg_pool2d_nhwc",
    "int8 average pool (TFLite AveragePool): Y = clamp(round_half_away(sum of the in-image taps / their count), "
    "qmin, qmax); padding is excluded from the count; input and output share scale and zero point",
    _POOL_ATTRS, _qavg_pool_te, _qavg_pool_ref, lambda **_: 0, family="qpool",
    normalize=_qpool_norm("qavg_pool2d_nhwc"), cli_default=dict(N=1, H=16, W=16, C=32),
    examples=(dict(N=1, H=6, W=6, C=4),
              dict(N=1, H=5, W=5, C=3, filter_h=3, filter_w=3, stride_h=1, stride_w=1, pad_top=1, pad_bottom=1,
                   pad_left=1, pad_right=1),
              dict(N=2, H=7, W=6, C=2, filter_h=3, filter_w=2, stride_h=2, stride_w=2, pad_top=1, pad_bottom=1,
                   pad_left=0, pad_right=0, qmin=-30, qmax=90),
              dict(N=1, H=5, W=8, C=3, filter_h=5, filter_w=8, stride_h=1, stride_w=1))))


# --- qadd ----------------------------------------------------------------------------------------

def qadd_params(a_scale: float, b_scale: float, out_scale: float, left_shift: int = 20) -> dict:
    """``qadd``'s multiplier / shift attributes from the three scales, as TFLite's int8 ADD Prepare.

    The scales are taken as float32 (as TFLite stores them) and computed with in double:
    twice_max = 2 * max(a, b); a / twice_max and b / twice_max; twice_max / (2**left_shift * out);
    each through QuantizeMultiplier, which must give a shift <= 0 (a real multiplier below one, TFLite's
    QuantizeMultiplierSmallerThanOneExp); otherwise OpError."""
    sa, sb, so = (float(np.float32(s)) for s in (a_scale, b_scale, out_scale))
    for what, s in (("a_scale", sa), ("b_scale", sb), ("out_scale", so)):
        if not s > 0 or not math.isfinite(s):
            raise OpError(f"operator 'qadd': {what} must be a positive finite scale, got {s!r}")
    twice_max = 2 * max(sa, sb)
    out = {"left_shift": left_shift}
    for key, real in (("a", sa / twice_max), ("b", sb / twice_max),
                      ("out", twice_max / ((1 << left_shift) * so))):
        m, s = quantize_multiplier(real)
        if s > 0:
            raise OpError(f"operator 'qadd': the {key} multiplier {real!r} (scales a {sa!r}, b {sb!r}, out {so!r}, "
                          f"left_shift {left_shift}) is not below one; TFLite requires that")
        out[f"{key}_multiplier"], out[f"{key}_shift"] = m, s
    return out


def _broadcast_index(shape: tuple, in_shape: tuple, i: tuple) -> tuple:
    """The element of an input of ``in_shape`` that output element ``i`` (of ``shape``) reads under
    numpy broadcasting: axes aligned at the right, an extent-1 axis read at 0."""
    lead = len(shape) - len(in_shape)
    return tuple(tir.const(0, "int32") if n == 1 and shape[lead + d] != 1 else i[lead + d]
                 for d, n in enumerate(in_shape))


def _qadd_te(shape, a_zero_point, b_zero_point, out_zero_point, left_shift, a_multiplier, a_shift, b_multiplier,
             b_shift, out_multiplier, out_shift, qmin, qmax, a_shape=None, b_shape=None):
    a_shape, b_shape = a_shape or shape, b_shape or shape
    A = tir.placeholder(a_shape, "int8", name="A")
    B = tir.placeholder(b_shape, "int8", name="B")

    def scaled(v, zp, m, s):
        v = _shifted(v, zp)
        if left_shift:
            v = v << tir.const(left_shift, "int32")
        return tir.q_multiply_shift(v, m, s)

    Out = tir.compute(shape, lambda *i: tir.requantize(
        scaled(A[_broadcast_index(shape, a_shape, i)], a_zero_point, a_multiplier, a_shift)
        + scaled(B[_broadcast_index(shape, b_shape, i)], b_zero_point, b_multiplier, b_shift),
        out_multiplier, out_shift, out_zero_point, qmin, qmax, "int8"), name="qadd")
    return Workload("qadd", [A, B], Out, None)


def _qadd_ref(a, b, *, shape, a_zero_point, b_zero_point, out_zero_point, left_shift, a_multiplier, a_shift,
              b_multiplier, b_shift, out_multiplier, out_shift, qmin, qmax, a_shape=None, b_shape=None):
    qms = tir.quant.Q_MULTIPLY_SHIFT.numpy
    a = np.broadcast_to(a.reshape(a_shape or shape), shape)
    b = np.broadcast_to(b.reshape(b_shape or shape), shape)
    sa = qms((a.astype(np.int64) - a_zero_point) << left_shift, a_multiplier, a_shift).astype(np.int64)
    sb = qms((b.astype(np.int64) - b_zero_point) << left_shift, b_multiplier, b_shift).astype(np.int64)
    return requantize_channels_np(wrap(sa + sb, "int32"), out_multiplier, out_shift, out_zero_point, qmin, qmax)


def _qadd_norm(a):
    op = "qadd"
    if not a["shape"] or any(n < 1 for n in a["shape"]):
        raise OpError(f"operator {op!r}: attribute 'shape' must be a non-empty shape, got {a['shape']}")
    check_int8_attrs(op, a, "a_zero_point", "b_zero_point", "out_zero_point")
    if not 0 <= a["left_shift"] <= 23:  # |x - zp| <= 255 shifted must fit int32
        raise OpError(f"operator {op!r}: attribute 'left_shift' = {a['left_shift']} is outside [0, 23]")
    for k in ("a", "b", "out"):
        m, s = a[f"{k}_multiplier"], a[f"{k}_shift"]
        if not 0 <= m < 1 << 31:
            raise OpError(f"operator {op!r}: attribute '{k}_multiplier' = {m} is outside [0, 2**31)")
        if not -31 <= s <= 0:
            raise OpError(f"operator {op!r}: attribute '{k}_shift' = {s} is outside [-31, 0] (TFLite's ADD "
                          "multipliers are below one)")
    check_clamp(op, a)
    for k in ("a_shape", "b_shape"):
        t = a[k]
        if t is None:
            continue
        lead = len(a["shape"]) - len(t)
        if lead < 0 or any(n != 1 and n != a["shape"][lead + d] for d, n in enumerate(t)):
            raise OpError(f"operator {op!r}: attribute {k!r} = {t} does not broadcast to the output shape "
                          f"{a['shape']} (numpy rules: axes aligned at the right, each equal or 1)")
    return a


# equal scales: a and b each scaled by 1/2 after the shift, the sum by 2 / 2**20
_EQUAL = qadd_params(1.0, 1.0, 1.0)

QADD = register(Op(
    "qadd",
    "int8 add (TFLite ADD): Y = clamp(q_multiply_shift(q_multiply_shift((A - a_zp) << left_shift, a_mult, a_shift) "
    "+ q_multiply_shift((B - b_zp) << left_shift, b_mult, b_shift), out_mult, out_shift) + out_zp, qmin, qmax)",
    (Attr("shape", tuple), Attr("a_zero_point", int, 0), Attr("b_zero_point", int, 0),
     Attr("out_zero_point", int, 0), Attr("left_shift", int, 20, "TFLite's int8 ADD uses 20"),
     Attr("a_multiplier", int, _EQUAL["a_multiplier"], "Q31, see qadd_params"),
     Attr("a_shift", int, _EQUAL["a_shift"], "<= 0"),
     Attr("b_multiplier", int, _EQUAL["b_multiplier"]), Attr("b_shift", int, _EQUAL["b_shift"]),
     Attr("out_multiplier", int, _EQUAL["out_multiplier"]), Attr("out_shift", int, _EQUAL["out_shift"]),
     *_CLAMP_ATTRS,
     Attr("a_shape", tuple, None, "A's shape when it broadcasts to shape (numpy rules; None: shape)"),
     Attr("b_shape", tuple, None, "B's shape when it broadcasts to shape (numpy rules; None: shape)")),
    _qadd_te, _qadd_ref, lambda **_: 0, family="qadd", normalize=_qadd_norm, cli_default=dict(shape=(16, 16)),
    examples=(dict(shape=(2, 5)),
              dict(shape=(3, 7), a_zero_point=-5, b_zero_point=17, out_zero_point=-9,
                   **qadd_params(0.05, 0.02, 0.06)),
              dict(shape=(1, 4, 4, 3), a_zero_point=-128, b_zero_point=3, out_zero_point=-128, qmin=-128, qmax=127,
                   **qadd_params(0.0039, 0.11, 0.12)),
              dict(shape=(1, 3, 4, 5), b_shape=(5,), a_zero_point=2, b_zero_point=-7, **qadd_params(0.05, 0.02, 0.06)),
              dict(shape=(2, 3, 4), a_shape=(2, 1, 4), b_shape=(3, 1), **qadd_params(0.03, 0.04, 0.05)))))


__all__ = ["QADD", "QAVG_POOL2D_NHWC", "QCONV2D_NHWC", "QDEPTHWISE_CONV2D_NHWC", "QMAX_POOL2D_NHWC", "folded_bias",
           "qadd_params"]
