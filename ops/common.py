"""Small helpers shared by the operator definitions."""

from __future__ import annotations

import numpy as np

import tir

from .errors import OpError
from .registry import Attr


def np_dtype(dtype: str) -> np.dtype:
    return tir.dtype.numpy_dtype(dtype)


def cast(x, dtype_in: str, dtype_acc: str):
    """``x`` in ``dtype_acc`` (no cast when the dtypes agree)."""
    return x if dtype_in == dtype_acc else x.astype(dtype_acc)


def out_size(n: int, k: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Output extent of a window of ``k`` taps (``dilation`` apart) over ``n`` + 2 * ``pad``."""
    return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def wrap(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a`` (any integer array) wrapped to ``dtype`` as the IR's integer arithmetic does."""
    return np.asarray(a).astype(np.int64).astype(np_dtype(dtype))


def windows_nhwc(xp: np.ndarray, kh: int, kw: int, stride=(1, 1), dilation=(1, 1)) -> np.ndarray:
    """The sliding windows of an (already padded) NHWC array: [N, H, W, C] -> [N, OH, OW, KH, KW, C]
    with ``out[n, y, x, ry, rx, c] = xp[n, y*sh + ry*dh, x*sw + rx*dw, c]``."""
    (sh, sw), (dh, dw) = stride, dilation
    n, h, w, c = xp.shape
    oh = (h - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w - ((kw - 1) * dw + 1)) // sw + 1
    win = np.empty((n, oh, ow, kh, kw, c), xp.dtype)
    for ry in range(kh):
        for rx in range(kw):
            y0, x0 = ry * dh, rx * dw
            win[:, :, :, ry, rx, :] = xp[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :]
    return win


def positive(op: str, attrs: dict, *names: str) -> None:
    for n in names:
        if attrs[n] < 1:
            raise OpError(f"operator {op!r}: attribute {n!r} must be >= 1, got {attrs[n]}")


def dtype_attr(name: str, default: str, doc: str = "") -> Attr:
    return Attr(name, str, default, doc, tuple(d for d in tir.dtype.DTYPES if d != "bool"), "dtype")


__all__ = ["cast", "dtype_attr", "np_dtype", "out_size", "positive", "windows_nhwc", "wrap"]
