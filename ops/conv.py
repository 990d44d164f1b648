"""Convolutions (NCHW / NHWC, padding, stride, dilation), depthwise convolution and pooling; int8 data
accumulated in int32. Padding is a separate stage built with ``tir.if_then_else`` so a schedule can
inline it, keep it at the root or compute it at a consumer loop."""

from __future__ import annotations

import numpy as np

import tir

from .common import dtype_attr, np_dtype, out_size, positive
from .errors import OpError
from .registry import Attr, Op, Workload, register, register_variant


def pad_nchw(A, pad: int, value=0, name: str = "pad"):
    """Zero (or ``value``) padding of the two trailing axes (None when ``pad`` is 0)."""
    n, c, h, w = A.shape
    if pad == 0:
        return None
    fill = tir.const(value, A.dtype)
    return tir.compute((n, c, h + 2 * pad, w + 2 * pad),
                       lambda b, ch, y, x: tir.if_then_else(
                           tir.all(y >= pad, y < h + pad, x >= pad, x < w + pad),
                           A[b, ch, y - pad, x - pad], fill), name=name)


def pad_nhwc(A, pad: int | tuple[int, int, int, int], value=0, name: str = "pad"):
    """Zero (or ``value``) padding of the two middle axes by ``pad`` on every side, or by
    ``(top, bottom, left, right)``; None without padding."""
    top, bottom, left, right = (pad,) * 4 if isinstance(pad, int) else pad
    if not any((top, bottom, left, right)):
        return None
    n, h, w, c = A.shape
    fill = tir.const(value, A.dtype)
    return tir.compute((n, h + top + bottom, w + left + right, c),
                       lambda b, y, x, ch: tir.if_then_else(
                           tir.all(y >= top, y < h + top, x >= left, x < w + left),
                           A[b, y - top, x - left, ch], fill), name=name)


def _tap(o, stride: int, r, dilation: int):
    """The input index of output ``o`` at window tap ``r`` (``o * stride + r * dilation``); the
    dilation-1 form is the plain sum, so existing schedules see the same expressions."""
    return o * stride + (r if dilation == 1 else r * dilation)


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int, dilation: int, oh: int, ow: int):
    """xp[..., y*s + ry*d, x*s + rx*d] as an array [..., oh, ow, kh, kw] (the two trailing axes of xp)."""
    lead = xp.shape[:-2]
    win = np.empty((*lead, oh, ow, kh, kw), xp.dtype)
    for ry in range(kh):
        for rx in range(kw):
            y0, x0 = ry * dilation, rx * dilation
            win[..., ry, rx] = xp[..., y0:y0 + stride * (oh - 1) + 1:stride, x0:x0 + stride * (ow - 1) + 1:stride]
    return win


def conv2d_nchw_ref(x, wt, stride: int, pad: int, dilation: int = 1):
    """int32 NCHW convolution of int8 ``x`` [N, C, H, W] with ``wt`` [F, C, KH, KW] (numpy, exact)."""
    n, c, h, w = x.shape
    f, _, kh, kw = wt.shape
    xp = np.pad(x.astype(np.int32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = out_size(h, kh, stride, pad, dilation), out_size(w, kw, stride, pad, dilation)
    win = _windows(xp, kh, kw, stride, dilation, oh, ow)  # [n, c, oh, ow, kh, kw]
    return np.einsum("ncyxij,fcij->nfyx", win, wt.astype(np.int32)).astype(np.int32)


_CONV_COMMON = (Attr("F", int, doc="output channels"), Attr("KH", int, doc="kernel height"),
                Attr("KW", int, None, "kernel width (default KH)"), Attr("stride", int, 1),
                Attr("pad", int, 0, "zero padding on every side"), Attr("dilation", int, 1, "distance between taps"))


def _conv_norm(name, window_attrs=("KH", "KW")):
    def normalize(a):
        if a.get("KW") is None and "KW" in a:
            a["KW"] = a["KH"]
        positive(name, a, *[k for k in ("N", "C", "H", "W", "F", *window_attrs, "stride", "dilation") if k in a])
        if a.get("pad", 0) < 0:
            raise OpError(f"operator {name!r}: attribute 'pad' must be >= 0, got {a['pad']}")
        kh, kw = (a[k] for k in window_attrs) if len(window_attrs) == 2 else (a[window_attrs[0]],) * 2
        d = a.get("dilation", 1)
        for ext, k, axis in ((a["H"], kh, "H"), (a["W"], kw, "W")):
            if out_size(ext, k, a["stride"], a.get("pad", 0), d) < 1:
                raise OpError(f"operator {name!r}: the window ({k} taps, dilation {d}) does not fit {axis} = {ext} "
                              f"with pad {a.get('pad', 0)}")
        return a
    return normalize


def _conv_macs(N, F, C, H, W, KH, KW, stride, pad, dilation, **_):
    return N * F * out_size(H, KH, stride, pad, dilation) * out_size(W, KW, stride, pad, dilation) * C * KH * KW


# --- conv2d NCHW, weights OIHW -------------------------------------------------------------------

def _conv_nchw_te(N, C, H, W, F, KH, KW, stride, pad, dilation):
    A = tir.placeholder((N, C, H, W), "int8", name="A")
    Wt = tir.placeholder((F, C, KH, KW), "int8", name="Wt")
    P = pad_nchw(A, pad)
    src = A if P is None else P
    OH, OW = out_size(H, KH, stride, pad, dilation), out_size(W, KW, stride, pad, dilation)
    rc = tir.reduce_axis((0, C), "rc")
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    Out = tir.compute((N, F, OH, OW), lambda b, f, y, x: tir.sum(
        src[b, rc, _tap(y, stride, ry, dilation), _tap(x, stride, rx, dilation)].astype("int32") *
        Wt[f, rc, ry, rx].astype("int32"), axis=[rc, ry, rx]), name="conv")
    return Workload("conv2d_nchw", [A, Wt], Out, None, {} if P is None else {"pad": P})


def _conv_nchw_ref(a, w, *, N, C, H, W, F, KH, KW, stride, pad, dilation):
    return conv2d_nchw_ref(a, w, stride, pad, dilation)


CONV2D_NCHW = register(Op(
    "conv2d_nchw", "Out[N, F, OH, OW] = sum pad(A)[N, C, H, W] * Wt[F, C, KH, KW]; int8 -> int32",
    (Attr("N", int, doc="batch"), Attr("C", int, doc="input channels"), Attr("H", int), Attr("W", int),
     *_CONV_COMMON),
    _conv_nchw_te, _conv_nchw_ref, _conv_macs, family="conv2d", normalize=_conv_norm("conv2d_nchw"),
    aliases=("conv2d",), cli_default=dict(N=1, C=16, H=16, W=16, F=16, KH=3),
    examples=(dict(N=1, C=3, H=6, W=7, F=4, KH=3), dict(N=2, C=2, H=7, W=6, F=3, KH=3, KW=2, stride=2, pad=1),
              dict(N=1, C=2, H=9, W=9, F=2, KH=3, dilation=2, pad=2), dict(N=1, C=4, H=5, W=5, F=2, KH=1))))


# --- conv2d NHWC, weights HWIO or OHWI ----------------------------------------------------------

def _conv_nhwc_te(N, H, W, C, F, KH, KW, stride, pad, dilation, weight_layout):
    A = tir.placeholder((N, H, W, C), "int8", name="A")
    ohwi = weight_layout == "OHWI"
    Wt = tir.placeholder((F, KH, KW, C) if ohwi else (KH, KW, C, F), "int8", name="Wt")
    P = pad_nhwc(A, pad)
    src = A if P is None else P
    OH, OW = out_size(H, KH, stride, pad, dilation), out_size(W, KW, stride, pad, dilation)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    rc = tir.reduce_axis((0, C), "rc")

    def w(f):
        return Wt[f, ry, rx, rc] if ohwi else Wt[ry, rx, rc, f]

    Out = tir.compute((N, OH, OW, F), lambda b, y, x, f: tir.sum(
        src[b, _tap(y, stride, ry, dilation), _tap(x, stride, rx, dilation), rc].astype("int32") *
        w(f).astype("int32"), axis=[ry, rx, rc]), name="conv")
    return Workload("conv2d_nhwc", [A, Wt], Out, None, {} if P is None else {"pad": P})


def _conv_nhwc_ref(a, w, *, N, H, W, C, F, KH, KW, stride, pad, dilation, weight_layout):
    oihw = w.transpose(0, 3, 1, 2) if weight_layout == "OHWI" else w.transpose(3, 2, 0, 1)
    out = conv2d_nchw_ref(a.transpose(0, 3, 1, 2), oihw, stride, pad, dilation)
    return np.ascontiguousarray(out.transpose(0, 2, 3, 1))


CONV2D_NHWC = register(Op(
    "conv2d_nhwc", "Out[N, OH, OW, F] = sum pad(A)[N, H, W, C] * Wt (HWIO [KH, KW, C, F] or OHWI [F, KH, KW, C])",
    (Attr("N", int, doc="batch"), Attr("H", int), Attr("W", int), Attr("C", int, doc="input channels"),
     *_CONV_COMMON, Attr("weight_layout", str, "HWIO", "HWIO (TVM's) or OHWI (TFLite's, channel innermost)",
                         ("HWIO", "OHWI"))),
    _conv_nhwc_te, _conv_nhwc_ref, _conv_macs, family="conv2d", normalize=_conv_norm("conv2d_nhwc"),
    cli_default=dict(N=1, H=16, W=16, C=16, F=16, KH=3),
    examples=(dict(N=1, H=6, W=5, C=3, F=4, KH=3), dict(N=1, H=7, W=7, C=4, F=2, KH=3, stride=2, pad=1),
              dict(N=2, H=5, W=6, C=4, F=3, KH=3, KW=1, pad=1, weight_layout="OHWI"),
              dict(N=1, H=8, W=8, C=2, F=2, KH=2, dilation=3, stride=2))))


register_variant("conv2d_nhwc_ohwi", "conv2d_nhwc", weight_layout="OHWI")


# --- depthwise conv2d NCHW ----------------------------------------------------------------------

def _dw_te(N, C, H, W, KH, KW, stride, pad, dilation, weight_layout):
    A = tir.placeholder((N, C, H, W), "int8", name="A")
    c1 = weight_layout == "C1HW"
    Wt = tir.placeholder((C, 1, KH, KW) if c1 else (C, KH, KW), "int8", name="Wt")
    P = pad_nchw(A, pad)
    src = A if P is None else P
    OH, OW = out_size(H, KH, stride, pad, dilation), out_size(W, KW, stride, pad, dilation)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")

    def w(c):
        return Wt[c, 0, ry, rx] if c1 else Wt[c, ry, rx]

    Out = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.sum(
        src[b, c, _tap(y, stride, ry, dilation), _tap(x, stride, rx, dilation)].astype("int32") *
        w(c).astype("int32"), axis=[ry, rx]), name="dwconv")
    return Workload("depthwise_conv2d_nchw", [A, Wt], Out, None, {} if P is None else {"pad": P})


def _dw_ref(a, w, *, N, C, H, W, KH, KW, stride, pad, dilation, weight_layout):
    w3 = w[:, 0] if weight_layout == "C1HW" else w
    xp = np.pad(a.astype(np.int32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = out_size(H, KH, stride, pad, dilation), out_size(W, KW, stride, pad, dilation)
    win = _windows(xp, KH, KW, stride, dilation, oh, ow)
    return np.einsum("ncyxij,cij->ncyx", win, w3.astype(np.int32)).astype(np.int32)


def _dw_macs(N, C, H, W, KH, KW, stride, pad, dilation, **_):
    return N * C * out_size(H, KH, stride, pad, dilation) * out_size(W, KW, stride, pad, dilation) * KH * KW


DEPTHWISE_CONV2D_NCHW = register(Op(
    "depthwise_conv2d_nchw", "Out[N, C, OH, OW] = sum over the window of pad(A)[N, C, H, W] * Wt[C, (1,) KH, KW]",
    (Attr("N", int, doc="batch"), Attr("C", int, doc="channels"), Attr("H", int), Attr("W", int),
     Attr("KH", int, doc="kernel height"), Attr("KW", int, None, "kernel width (default KH)"),
     Attr("stride", int, 1), Attr("pad", int, 0), Attr("dilation", int, 1),
     Attr("weight_layout", str, "C1HW", "C1HW ([C, 1, KH, KW], multiplier 1) or CHW", ("C1HW", "CHW"))),
    _dw_te, _dw_ref, _dw_macs, family="depthwise_conv2d", normalize=_conv_norm("depthwise_conv2d_nchw"),
    aliases=("depthwise_conv2d", "depthwise"), cli_default=dict(N=1, C=16, H=16, W=16, KH=3),
    examples=(dict(N=1, C=3, H=6, W=6, KH=3), dict(N=2, C=2, H=7, W=8, KH=3, KW=2, stride=2, pad=1),
              dict(N=1, C=2, H=9, W=9, KH=3, dilation=2, pad=1, weight_layout="CHW"))))


# --- depthwise conv2d NHWC, weights [KH, KW, C] ------------------------------------------------

def _dw_nhwc_te(N, H, W, C, KH, KW, stride, pad, dilation):
    A = tir.placeholder((N, H, W, C), "int8", name="A")
    Wt = tir.placeholder((KH, KW, C), "int8", name="Wt")
    P = pad_nhwc(A, pad)
    src = A if P is None else P
    OH, OW = out_size(H, KH, stride, pad, dilation), out_size(W, KW, stride, pad, dilation)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    Out = tir.compute((N, OH, OW, C), lambda b, y, x, c: tir.sum(
        src[b, _tap(y, stride, ry, dilation), _tap(x, stride, rx, dilation), c].astype("int32") *
        Wt[ry, rx, c].astype("int32"), axis=[ry, rx]), name="dwconv")
    return Workload("depthwise_conv2d_nhwc", [A, Wt], Out, None, {} if P is None else {"pad": P})


def _dw_nhwc_ref(a, w, *, N, H, W, C, KH, KW, stride, pad, dilation):
    out = _dw_ref(a.transpose(0, 3, 1, 2), w.transpose(2, 0, 1), N=N, C=C, H=H, W=W, KH=KH, KW=KW, stride=stride,
                  pad=pad, dilation=dilation, weight_layout="CHW")
    return np.ascontiguousarray(out.transpose(0, 2, 3, 1))


DEPTHWISE_CONV2D_NHWC = register(Op(
    "depthwise_conv2d_nhwc", "Out[N, OH, OW, C] = sum over the window of pad(A)[N, H, W, C] * Wt[KH, KW, C]",
    (Attr("N", int, doc="batch"), Attr("H", int), Attr("W", int), Attr("C", int, doc="channels"),
     Attr("KH", int, doc="kernel height"), Attr("KW", int, None, "kernel width (default KH)"),
     Attr("stride", int, 1), Attr("pad", int, 0), Attr("dilation", int, 1)),
    _dw_nhwc_te, _dw_nhwc_ref, _dw_macs, family="depthwise_conv2d",
    normalize=_conv_norm("depthwise_conv2d_nhwc"), cli_default=dict(N=1, H=16, W=16, C=32, KH=3),
    examples=(dict(N=1, H=6, W=6, C=4, KH=3), dict(N=2, H=7, W=8, C=3, KH=3, KW=2, stride=2, pad=1),
              dict(N=1, H=9, W=9, C=8, KH=3, dilation=2, pad=1))))


# --- pooling -------------------------------------------------------------------------------------

def _pool_window(a) -> tuple[int, int]:
    """(height, width) of a pool's window: ``kh`` / ``kw`` where the operator has them and they are set,
    else the square ``k``."""
    kh, kw = a.get("kh"), a.get("kw")
    return (a["k"] if kh is None else kh), (a["k"] if kw is None else kw)


def _pool_norm(name):
    def normalize(a):
        if "kh" in a:  # a rectangular window: an unset side is k
            a["kh"], a["kw"] = _pool_window(a)
        positive(name, a, *[n for n in ("N", "C", "H", "W", "k", "kh", "kw", "stride") if n in a])
        pad = a.get("pad", 0)
        kh, kw = _pool_window(a)
        if pad < 0 or out_size(a["H"], kh, a["stride"], pad) < 1 or out_size(a["W"], kw, a["stride"], pad) < 1:
            raise OpError(f"operator {name!r}: a {kh}x{kw} window with pad {pad} does not fit "
                          f"{a['H']}x{a['W']}")
        return a
    return normalize


def _pool_windows(a, k: int, stride: int, pad: int, fill, kw: int | None = None):
    """The k x kw (default k x k) windows of NCHW ``a``: [n, c, oh, ow, k, kw]."""
    kw = k if kw is None else kw
    n, c, h, w = a.shape
    xp = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh, ow = out_size(h, k, stride, pad), out_size(w, kw, stride, pad)
    return _windows(xp, k, kw, stride, 1, oh, ow)


_POOL = (Attr("N", int), Attr("C", int), Attr("H", int), Attr("W", int), Attr("k", int, 2, "window size"),
         Attr("stride", int, 2))


def _max_pool_te(N, C, H, W, k, stride, pad, dtype):
    A = tir.placeholder((N, C, H, W), dtype, name="A")
    lo = tir.dtype.min_value(dtype)
    P = pad_nchw(A, pad, value=lo)
    src = A if P is None else P
    OH, OW = out_size(H, k, stride, pad), out_size(W, k, stride, pad)
    ry = tir.reduce_axis((0, k), "ry")
    rx = tir.reduce_axis((0, k), "rx")
    Out = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.max(src[b, c, y * stride + ry, x * stride + rx],
                                                                  axis=[ry, rx]), name="maxpool")
    return Workload("max_pool2d", [A], Out, None, {} if P is None else {"pad": P})


def _max_pool_ref(a, *, N, C, H, W, k, stride, pad, dtype):
    return _pool_windows(a, k, stride, pad, tir.dtype.min_value(dtype)).max(axis=(4, 5))


MAX_POOL2D = register(Op(
    "max_pool2d", "Out[N, C, OH, OW] = max over a k x k window; padding uses the dtype's minimum",
    (*_POOL, Attr("pad", int, 0), dtype_attr("dtype", "int8")), _max_pool_te, _max_pool_ref, lambda **_: 0,
    family="pool", normalize=_pool_norm("max_pool2d"),
    examples=(dict(N=1, C=2, H=6, W=6), dict(N=2, C=3, H=7, W=5, k=3, stride=2, pad=1),
              dict(N=1, C=2, H=5, W=5, k=2, stride=1, dtype="float32"))))


def _max_pool_nhwc_te(N, H, W, C, k, stride, pad, dtype):
    A = tir.placeholder((N, H, W, C), dtype, name="A")
    lo = tir.dtype.min_value(dtype)
    P = pad_nhwc(A, pad, value=lo)
    src = A if P is None else P
    OH, OW = out_size(H, k, stride, pad), out_size(W, k, stride, pad)
    ry = tir.reduce_axis((0, k), "ry")
    rx = tir.reduce_axis((0, k), "rx")
    Out = tir.compute((N, OH, OW, C), lambda b, y, x, c: tir.max(src[b, y * stride + ry, x * stride + rx, c],
                                                                  axis=[ry, rx]), name="maxpool")
    return Workload("max_pool2d_nhwc", [A], Out, None, {} if P is None else {"pad": P})


def _max_pool_nhwc_ref(a, *, N, H, W, C, k, stride, pad, dtype):
    out = _pool_windows(a.transpose(0, 3, 1, 2), k, stride, pad, tir.dtype.min_value(dtype)).max(axis=(4, 5))
    return np.ascontiguousarray(out.transpose(0, 2, 3, 1))


MAX_POOL2D_NHWC = register(Op(
    "max_pool2d_nhwc", "Out[N, OH, OW, C] = max over a k x k window of A[N, H, W, C]; padding uses the dtype's "
    "minimum",
    (Attr("N", int), Attr("H", int), Attr("W", int), Attr("C", int), Attr("k", int, 2, "window size"),
     Attr("stride", int, 2), Attr("pad", int, 0), dtype_attr("dtype", "int8")),
    _max_pool_nhwc_te, _max_pool_nhwc_ref, lambda **_: 0, family="pool", normalize=_pool_norm("max_pool2d_nhwc"),
    cli_default=dict(N=1, H=16, W=16, C=32),
    examples=(dict(N=1, H=6, W=6, C=4), dict(N=2, H=7, W=5, C=3, k=3, stride=2, pad=1),
              dict(N=1, H=5, W=5, C=2, k=2, stride=1, dtype="float32"))))


def _avg_pool_te(N, C, H, W, k, stride, dtype, kh=None, kw=None):
    kh, kw = _pool_window(dict(k=k, kh=kh, kw=kw))
    A = tir.placeholder((N, C, H, W), dtype, name="A")
    acc = "float32" if dtype == "float32" else "int32"
    OH, OW = out_size(H, kh, stride, 0), out_size(W, kw, stride, 0)
    ry = tir.reduce_axis((0, kh), "ry")
    rx = tir.reduce_axis((0, kw), "rx")
    S = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.sum(
        A[b, c, y * stride + ry, x * stride + rx].astype(acc), axis=[ry, rx]), name="sum")
    if acc == "float32":
        Out = tir.compute(S.shape, lambda b, c, y, x: S[b, c, y, x] / tir.const(float(kh * kw), "float32"),
                          name="avgpool")
    else:
        Out = tir.compute(S.shape, lambda b, c, y, x: S[b, c, y, x] // (kh * kw), name="avgpool")
    return Workload("avg_pool2d", [A], Out, None, {"sum": S})


def _avg_pool_ref(a, *, N, C, H, W, k, stride, dtype, kh=None, kw=None):
    kh, kw = _pool_window(dict(k=k, kh=kh, kw=kw))
    acc = np_dtype("float32" if dtype == "float32" else "int32")
    s = _pool_windows(a.astype(acc), kh, stride, 0, 0, kw).sum(axis=(4, 5), dtype=acc)
    if dtype == "float32":
        return (s / np.float32(kh * kw)).astype(np.float32)
    return np.floor_divide(s, kh * kw).astype(np.int32)


AVG_POOL2D = register(Op(
    "avg_pool2d", "Out[N, C, OH, OW] = window sum (stage 'sum') // (kh*kw) (floor; float32: / (kh*kw)) over a "
    "kh x kw window (default k x k); no padding",
    (*_POOL, dtype_attr("dtype", "int8"), Attr("kh", int, None, "window height (default k)"),
     Attr("kw", int, None, "window width (default k)")), _avg_pool_te, _avg_pool_ref, lambda **_: 0,
    family="pool", normalize=_pool_norm("avg_pool2d"),
    examples=(dict(N=1, C=2, H=6, W=6), dict(N=1, C=3, H=7, W=7, k=3, stride=2),
              dict(N=1, C=2, H=4, W=6, dtype="float32"), dict(N=1, C=1, H=4, W=4, dtype="int16"),
              dict(N=1, C=3, H=5, W=3, kh=5, kw=3, stride=1), dict(N=1, C=2, H=6, W=7, kh=2, kw=3, stride=2),
              dict(N=1, C=2, H=5, W=3, kh=5, kw=3, dtype="float32"))))


__all__ = ["AVG_POOL2D", "CONV2D_NCHW", "CONV2D_NHWC", "DEPTHWISE_CONV2D_NCHW", "DEPTHWISE_CONV2D_NHWC",
           "MAX_POOL2D", "MAX_POOL2D_NHWC", "conv2d_nchw_ref",
           "pad_nchw", "pad_nhwc"]
