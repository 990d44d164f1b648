"""TE workload constructors (with numpy references): the historical names of the operators of ``ops``.

Every operator is defined once, in the ``ops`` registry (its TE, attributes, numpy reference, MAC
count); the functions here keep the positional signatures the tests, benchmarks and schedules have
always called and return the registry's ``Workload`` (``wl.op`` is the entry, ``wl.params`` its
attributes). ``wl.args`` is ``inputs + [output]``, ready for ``tir.lower(s, wl.args)``.
"""

from __future__ import annotations

import ops
from ops import Workload, conv2d_nchw_ref, pad_nchw, pad_nhwc

# --- dense linear algebra -----------------------------------------------------------------------


def matmul(M: int, N: int, K: int, dtype_in: str = "int8", dtype_acc: str = "int32", name: str = "C") -> Workload:
    """C[i, j] = sum_k A[i, k] * B[k, j], inputs cast to ``dtype_acc`` before the multiply."""
    return ops.get("matmul")(M, N, K, dtype_in=dtype_in, dtype_acc=dtype_acc, name=name)


def matmul_nt(M: int, N: int, K: int, dtype_in: str = "int8", dtype_acc: str = "int32") -> Workload:
    """C[i, j] = sum_k A[i, k] * Bt[j, k]: both operands K-major (what a packed dot reads)."""
    return ops.get("matmul_nt")(M, N, K, dtype_in=dtype_in, dtype_acc=dtype_acc)


def batch_matmul(Bt: int, M: int, N: int, K: int, dtype_in: str = "int8", dtype_acc: str = "int32") -> Workload:
    """C[b, i, j] = sum_k A[b, i, k] * B[b, k, j] (``Bt`` is the batch size)."""
    return ops.get("batch_matmul")(Bt, M, N, K, dtype_in=dtype_in, dtype_acc=dtype_acc)


def dense(M: int, N: int, K: int, bias: bool = False, relu: bool = False) -> Workload:
    """TVM's dense X[M, K] x W[N, K]^T, optionally + bias[N] and relu; int8 in, int32 out."""
    return ops.get("dense")(M, N, K, bias=bias, relu=relu)


def dense_bias_relu(M: int, N: int, K: int) -> Workload:
    """TVM's dense (X[M, K] x W[N, K]^T), + bias[N], then relu; int8 in, int32 out.

    Stages: ``dense`` (the reduction), ``bias`` (elementwise add), the output is the relu.
    """
    return ops.get("dense")(M, N, K, bias=True, relu=True)


# --- convolutions -------------------------------------------------------------------------------


def conv2d_nchw(N: int, C: int, H: int, W: int, F: int, KH: int, KW: int | None = None,
                stride: int = 1, pad: int = 0, dilation: int = 1) -> Workload:
    """Out[n, f, y, x] = sum_{c, ry, rx} pad(A)[n, c, y*s + ry*d, x*s + rx*d] * Wt[f, c, ry, rx]; int8 -> int32."""
    return ops.get("conv2d_nchw")(N, C, H, W, F, KH, KW, stride=stride, pad=pad, dilation=dilation)


def conv2d_nhwc(N: int, H: int, W: int, C: int, F: int, KH: int, KW: int | None = None,
                stride: int = 1, pad: int = 0, dilation: int = 1) -> Workload:
    """Out[n, y, x, f] = sum_{ry, rx, c} pad(A)[n, y*s + ry*d, x*s + rx*d, c] * Wt[ry, rx, c, f] (HWIO)."""
    return ops.get("conv2d_nhwc")(N, H, W, C, F, KH, KW, stride=stride, pad=pad, dilation=dilation)


def conv2d_nhwc_ohwi(N: int, H: int, W: int, C: int, F: int, KH: int, KW: int | None = None,
                     stride: int = 1, pad: int = 0, dilation: int = 1) -> Workload:
    """NHWC int8 conv2d with weights laid out [F, KH, KW, C] (channel innermost in both operands)."""
    return ops.get("conv2d_nhwc")(N, H, W, C, F, KH, KW, stride=stride, pad=pad, dilation=dilation,
                                  weight_layout="OHWI")


def depthwise_conv2d_nchw(N: int, C: int, H: int, W: int, KH: int, KW: int | None = None,
                          stride: int = 1, pad: int = 0, dilation: int = 1) -> Workload:
    """Out[n, c, y, x] = sum_{ry, rx} pad(A)[n, c, y*s + ry*d, x*s + rx*d] * Wt[c, 0, ry, rx] (multiplier 1)."""
    return ops.get("depthwise_conv2d_nchw")(N, C, H, W, KH, KW, stride=stride, pad=pad, dilation=dilation)


# --- pooling ------------------------------------------------------------------------------------


def max_pool2d(N: int, C: int, H: int, W: int, k: int = 2, stride: int = 2, pad: int = 0,
               dtype: str = "int8") -> Workload:
    """Out[n, c, y, x] = max over a k x k window; padding uses the dtype's minimum."""
    return ops.get("max_pool2d")(N, C, H, W, k, stride, pad=pad, dtype=dtype)


def avg_pool2d(N: int, C: int, H: int, W: int, k: int = 2, stride: int = 2, dtype: str = "int8",
               kh: int | None = None, kw: int | None = None) -> Workload:
    """Average over kh x kw windows (default k x k; no padding): an int32 window sum (stage ``sum``), then
    floor division by kh*kw (float32: sum / (kh*kw))."""
    return ops.get("avg_pool2d")(N, C, H, W, k, stride, dtype=dtype, kh=kh, kw=kw)


# --- elementwise, reductions, layout ------------------------------------------------------------


def broadcast_add(shape_a, shape_b, dtype: str = "int32") -> Workload:
    """C = A + B with numpy broadcasting (size-1 axes are read at index 0); ranks must match."""
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    if len(shape_a) != len(shape_b):
        raise ValueError("broadcast_add: give both shapes with the same rank")
    return ops.get("add")(shape_a, shape_b, dtype=dtype)


def sum_two_axes(N: int, C: int, H: int, W: int, dtype_in: str = "int8", dtype_acc: str = "int32") -> Workload:
    """Out[n, c] = sum_{h, w} A[n, c, h, w]: one reduction over two axes (global sum pooling)."""
    return ops.get("sum_two_axes")(N, C, H, W, dtype_in=dtype_in, dtype_acc=dtype_acc)


def pack_b_kmajor(K: int, N: int, lanes: int = 4, dtype: str = "int8") -> Workload:
    """Layout transform: Bp[n, ko, ki] = B[ko*lanes + ki, n], zero-padded when K % lanes != 0."""
    return ops.get("pack_b_kmajor")(K, N, lanes=lanes, dtype=dtype)


def stencil1d(N: int, dtype: str = "int32") -> Workload:
    """A 3-point blur with a producer stage: P[i] = A[i] * 2 (N + 2 elements), Out[i] = P[i] + P[i+1] + P[i+2]."""
    return ops.get("stencil1d")(N, dtype=dtype)


def blur2d(H: int, W: int, dtype: str = "int32") -> Workload:
    """Separable 3x3 box sum: Bx (H + 2 rows of 3-tap row sums), then By (3-tap column sums)."""
    return ops.get("blur2d")(H, W, dtype=dtype)


ALL = {
    "matmul": matmul,
    "batch_matmul": batch_matmul,
    "dense_bias_relu": dense_bias_relu,
    "conv2d_nchw": conv2d_nchw,
    "conv2d_nhwc": conv2d_nhwc,
    "depthwise_conv2d_nchw": depthwise_conv2d_nchw,
    "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d,
    "broadcast_add": broadcast_add,
    "sum_two_axes": sum_two_axes,
    "pack_b_kmajor": pack_b_kmajor,
    "stencil1d": stencil1d,
    "blur2d": blur2d,
}
"""The historical constructors by name (every registry operator is ``ops.get(name)``)."""

__all__ = ["ALL", "Workload", "avg_pool2d", "batch_matmul", "blur2d", "broadcast_add", "conv2d_nchw",
           "conv2d_nchw_ref", "conv2d_nhwc", "conv2d_nhwc_ohwi", "dense", "dense_bias_relu", "depthwise_conv2d_nchw",
           "matmul", "matmul_nt", "max_pool2d", "pack_b_kmajor", "pad_nchw", "pad_nhwc", "stencil1d", "sum_two_axes"]
