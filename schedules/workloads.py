"""TE workload constructors (with numpy references) shared by tests, benchmarks, the demo and the autotuner.

Every constructor returns a ``Workload``:

* ``inputs``   the placeholder tensors, in kernel-argument order;
* ``output``   the output tensor (the last kernel argument);
* ``stages``   named tensors of the pipeline a schedule may want to touch (``"pad"``, ``"bias"``, ...);
* ``ref``      a numpy reference: ``ref(*input_arrays) -> expected output array``.

``wl.args`` is ``inputs + [output]``, ready for ``tir.lower(s, wl.args)``. Shapes are small on
purpose: each host compile takes a fraction of a second.

Conventions: integer workloads read int8 and accumulate in int32 (``astype`` before the multiply);
padding is a separate stage built with ``tir.if_then_else`` so a schedule can inline it, keep it at
the root or compute it at a consumer loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import tir


@dataclass
class Workload:
    name: str
    inputs: list
    output: object
    ref: Callable
    stages: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def args(self) -> list:
        return list(self.inputs) + [self.output]

    def __getitem__(self, key):
        return self.stages[key]


def _np(dtype: str):
    return tir.dtype.numpy_dtype(dtype)


def _cast(x, dtype_in: str, dtype_acc: str):
    return x if dtype_in == dtype_acc else x.astype(dtype_acc)


def _out_size(n: int, k: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - k) // stride + 1


# --- dense linear algebra -----------------------------------------------------------------------

def matmul(M: int, N: int, K: int, dtype_in: str = "int8", dtype_acc: str = "int32", name: str = "C") -> Workload:
    """C[i, j] = sum_k A[i, k] * B[k, j], inputs cast to ``dtype_acc`` before the multiply."""
    A = tir.placeholder((M, K), dtype_in, name="A")
    B = tir.placeholder((K, N), dtype_in, name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(_cast(A[i, k], dtype_in, dtype_acc) *
                                                 _cast(B[k, j], dtype_in, dtype_acc), axis=k), name=name)

    def ref(a, b):
        return (a.astype(_np(dtype_acc)) @ b.astype(_np(dtype_acc))).astype(_np(dtype_acc))

    return Workload("matmul", [A, B], C, ref, params=dict(M=M, N=N, K=K, dtype_in=dtype_in, dtype_acc=dtype_acc))


def matmul_nt(M: int, N: int, K: int, dtype_in: str = "int8", dtype_acc: str = "int32"):
    """C[i, j] = sum_k A[i, k] * Bt[j, k]: both operands K-major (what a packed dot reads)."""
    A = tir.placeholder((M, K), dtype_in, name="A")
    Bt = tir.placeholder((N, K), dtype_in, name="Bt")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(_cast(A[i, k], dtype_in, dtype_acc) *
                                                 _cast(Bt[j, k], dtype_in, dtype_acc), axis=k), name="C")
    acc = _np(dtype_acc)

    def ref(a, bt):
        return (a.astype(acc) @ bt.astype(acc).T).astype(acc)

    return Workload("matmul_nt", [A, Bt], C, ref, params=dict(M=M, N=N, K=K, dtype_in=dtype_in,
                                                                    dtype_acc=dtype_acc))


def conv2d_nhwc_ohwi(N: int, H: int, W: int, C: int, F: int, KH: int, KW: int | None = None,
                     stride: int = 1, pad: int = 0):
    """NHWC int8 conv2d with weights laid out [F, KH, KW, C] (channel innermost in both operands)."""
    KW = KH if KW is None else KW
    base = conv2d_nhwc(N, H, W, C, F, KH, KW, stride, pad)
    A = base.inputs[0]
    Wt = tir.placeholder((F, KH, KW, C), "int8", name="Wt")
    src = base.stages.get("pad", A)
    OH, OW = base.output.shape[1], base.output.shape[2]
    ry, rx, rc = tir.reduce_axis((0, KH), "ry"), tir.reduce_axis((0, KW), "rx"), tir.reduce_axis((0, C), "rc")
    Out = tir.compute((N, OH, OW, F), lambda b, y, x, f: tir.sum(
        src[b, y * stride + ry, x * stride + rx, rc].astype("int32") * Wt[f, ry, rx, rc].astype("int32"),
        axis=[ry, rx, rc]), name="conv")

    def ref(a, w):
        return base.ref(a, np.ascontiguousarray(w.transpose(1, 2, 3, 0)))

    params = dict(base.params, weight_layout="OHWI")
    return Workload("conv2d_nhwc", [A, Wt], Out, ref, dict(base.stages), params=params)


def batch_matmul(Bt: int, M: int, N: int, K: int, dtype_in: str = "int8", dtype_acc: str = "int32") -> Workload:
    """C[b, i, j] = sum_k A[b, i, k] * B[b, k, j]."""
    A = tir.placeholder((Bt, M, K), dtype_in, name="A")
    B = tir.placeholder((Bt, K, N), dtype_in, name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((Bt, M, N), lambda b, i, j: tir.sum(_cast(A[b, i, k], dtype_in, dtype_acc) *
                                                        _cast(B[b, k, j], dtype_in, dtype_acc), axis=k), name="C")

    def ref(a, b):
        return np.matmul(a.astype(_np(dtype_acc)), b.astype(_np(dtype_acc))).astype(_np(dtype_acc))

    return Workload("batch_matmul", [A, B], C, ref, params=dict(Bt=Bt, M=M, N=N, K=K))


def dense_bias_relu(M: int, N: int, K: int) -> Workload:
    """TVM's dense (X[M, K] x W[N, K]^T), + bias[N], then relu; int8 in, int32 out.

    Stages: ``dense`` (the reduction), ``bias`` (elementwise add), the output is the relu.
    """
    X = tir.placeholder((M, K), "int8", name="X")
    W = tir.placeholder((N, K), "int8", name="W")
    Bias = tir.placeholder((N,), "int32", name="Bias")
    k = tir.reduce_axis((0, K), name="k")
    D = tir.compute((M, N), lambda i, j: tir.sum(X[i, k].astype("int32") * W[j, k].astype("int32"), axis=k),
                    name="dense")
    DB = tir.compute((M, N), lambda i, j: D[i, j] + Bias[j], name="bias")
    R = tir.compute((M, N), lambda i, j: tir.max(DB[i, j], tir.const(0, "int32")), name="relu")

    def ref(x, w, bias):
        return np.maximum(x.astype(np.int32) @ w.astype(np.int32).T + bias, 0).astype(np.int32)

    return Workload("dense_bias_relu", [X, W, Bias], R, ref, stages=dict(dense=D, bias=DB),
                    params=dict(M=M, N=N, K=K))


# --- convolutions -------------------------------------------------------------------------------

def pad_nchw(A, pad: int, value=0, name: str = "pad"):
    """Zero (or ``value``) padding of the two trailing axes, expressed with if_then_else."""
    n, c, h, w = A.shape
    if pad == 0:
        return None
    fill = tir.const(value, A.dtype)
    return tir.compute((n, c, h + 2 * pad, w + 2 * pad),
                       lambda b, ch, y, x: tir.if_then_else(
                           tir.all(y >= pad, y < h + pad, x >= pad, x < w + pad),
                           A[b, ch, y - pad, x - pad], fill), name=name)


def pad_nhwc(A, pad: int, value=0, name: str = "pad"):
    n, h, w, c = A.shape
    if pad == 0:
        return None
    fill = tir.const(value, A.dtype)
    return tir.compute((n, h + 2 * pad, w + 2 * pad, c),
                       lambda b, y, x, ch: tir.if_then_else(
                           tir.all(y >= pad, y < h + pad, x >= pad, x < w + pad),
                           A[b, y - pad, x - pad, ch], fill), name=name)


def conv2d_nchw_ref(x, wt, stride: int, pad: int):
    n, c, h, w = x.shape
    f, _, kh, kw = wt.shape
    xp = np.pad(x.astype(np.int32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    out = np.zeros((n, f, oh, ow), np.int32)
    w32 = wt.astype(np.int32)
    for y in range(oh):
        for xx in range(ow):
            patch = xp[:, :, y * stride:y * stride + kh, xx * stride:xx * stride + kw]
            out[:, :, y, xx] = np.einsum("ncij,fcij->nf", patch, w32)
    return out


def conv2d_nchw(N: int, C: int, H: int, W: int, F: int, KH: int, KW: int | None = None,
                stride: int = 1, pad: int = 0) -> Workload:
    """Out[n, f, y, x] = sum_{c, ry, rx} pad(A)[n, c, y*s + ry, x*s + rx] * Wt[f, c, ry, rx]; int8 -> int32."""
    KW = KH if KW is None else KW
    A = tir.placeholder((N, C, H, W), "int8", name="A")
    Wt = tir.placeholder((F, C, KH, KW), "int8", name="Wt")
    P = pad_nchw(A, pad)
    src = A if P is None else P
    OH, OW = _out_size(H, KH, stride, pad), _out_size(W, KW, stride, pad)
    rc = tir.reduce_axis((0, C), "rc")
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    Out = tir.compute((N, F, OH, OW), lambda b, f, y, x: tir.sum(
        src[b, rc, y * stride + ry, x * stride + rx].astype("int32") * Wt[f, rc, ry, rx].astype("int32"),
        axis=[rc, ry, rx]), name="conv")
    stages = {} if P is None else {"pad": P}
    return Workload("conv2d_nchw", [A, Wt], Out, lambda a, w: conv2d_nchw_ref(a, w, stride, pad), stages,
                    params=dict(N=N, C=C, H=H, W=W, F=F, KH=KH, KW=KW, stride=stride, pad=pad))


def conv2d_nhwc(N: int, H: int, W: int, C: int, F: int, KH: int, KW: int | None = None,
                stride: int = 1, pad: int = 0) -> Workload:
    """Out[n, y, x, f] = sum_{ry, rx, c} pad(A)[n, y*s + ry, x*s + rx, c] * Wt[ry, rx, c, f] (HWIO)."""
    KW = KH if KW is None else KW
    A = tir.placeholder((N, H, W, C), "int8", name="A")
    Wt = tir.placeholder((KH, KW, C, F), "int8", name="Wt")
    P = pad_nhwc(A, pad)
    src = A if P is None else P
    OH, OW = _out_size(H, KH, stride, pad), _out_size(W, KW, stride, pad)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    rc = tir.reduce_axis((0, C), "rc")
    Out = tir.compute((N, OH, OW, F), lambda b, y, x, f: tir.sum(
        src[b, y * stride + ry, x * stride + rx, rc].astype("int32") * Wt[ry, rx, rc, f].astype("int32"),
        axis=[ry, rx, rc]), name="conv")

    def ref(a, w):
        out = conv2d_nchw_ref(a.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), stride, pad)
        return np.ascontiguousarray(out.transpose(0, 2, 3, 1))

    stages = {} if P is None else {"pad": P}
    return Workload("conv2d_nhwc", [A, Wt], Out, ref, stages,
                    params=dict(N=N, H=H, W=W, C=C, F=F, KH=KH, KW=KW, stride=stride, pad=pad))


def depthwise_conv2d_nchw(N: int, C: int, H: int, W: int, KH: int, KW: int | None = None,
                          stride: int = 1, pad: int = 0) -> Workload:
    """Out[n, c, y, x] = sum_{ry, rx} pad(A)[n, c, y*s + ry, x*s + rx] * Wt[c, 0, ry, rx] (multiplier 1)."""
    KW = KH if KW is None else KW
    A = tir.placeholder((N, C, H, W), "int8", name="A")
    Wt = tir.placeholder((C, 1, KH, KW), "int8", name="Wt")
    P = pad_nchw(A, pad)
    src = A if P is None else P
    OH, OW = _out_size(H, KH, stride, pad), _out_size(W, KW, stride, pad)
    ry = tir.reduce_axis((0, KH), "ry")
    rx = tir.reduce_axis((0, KW), "rx")
    Out = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.sum(
        src[b, c, y * stride + ry, x * stride + rx].astype("int32") * Wt[c, 0, ry, rx].astype("int32"),
        axis=[ry, rx]), name="dwconv")

    def ref(a, w):
        xp = np.pad(a.astype(np.int32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((N, C, OH, OW), np.int32)
        for y in range(OH):
            for x in range(OW):
                patch = xp[:, :, y * stride:y * stride + KH, x * stride:x * stride + KW]
                out[:, :, y, x] = np.einsum("ncij,cij->nc", patch, w[:, 0].astype(np.int32))
        return out

    stages = {} if P is None else {"pad": P}
    return Workload("depthwise_conv2d_nchw", [A, Wt], Out, ref, stages,
                    params=dict(N=N, C=C, H=H, W=W, KH=KH, KW=KW, stride=stride, pad=pad))


# --- pooling ------------------------------------------------------------------------------------

def _pool_windows(a, k: int, stride: int, pad: int, fill):
    n, c, h, w = a.shape
    xp = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh, ow = _out_size(h, k, stride, pad), _out_size(w, k, stride, pad)
    win = np.empty((n, c, oh, ow, k, k), a.dtype)
    for y in range(oh):
        for x in range(ow):
            win[:, :, y, x] = xp[:, :, y * stride:y * stride + k, x * stride:x * stride + k]
    return win


def max_pool2d(N: int, C: int, H: int, W: int, k: int = 2, stride: int = 2, pad: int = 0,
               dtype: str = "int8") -> Workload:
    """Out[n, c, y, x] = max over a k x k window; padding uses the dtype's minimum."""
    A = tir.placeholder((N, C, H, W), dtype, name="A")
    lo = tir.dtype.min_value(dtype)
    P = pad_nchw(A, pad, value=lo)
    src = A if P is None else P
    OH, OW = _out_size(H, k, stride, pad), _out_size(W, k, stride, pad)
    ry = tir.reduce_axis((0, k), "ry")
    rx = tir.reduce_axis((0, k), "rx")
    Out = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.max(src[b, c, y * stride + ry, x * stride + rx],
                                                                  axis=[ry, rx]), name="maxpool")

    def ref(a):
        return _pool_windows(a, k, stride, pad, lo).max(axis=(4, 5))

    stages = {} if P is None else {"pad": P}
    return Workload("max_pool2d", [A], Out, ref, stages, params=dict(N=N, C=C, H=H, W=W, k=k, stride=stride, pad=pad))


def avg_pool2d(N: int, C: int, H: int, W: int, k: int = 2, stride: int = 2, dtype: str = "int8") -> Workload:
    """Average over k x k windows (no padding).

    Integer: an int32 window sum (stage ``sum``), then floor division by k*k (``//``, floor semantics,
    so negative sums round towards -inf like numpy's floor_divide). float32: sum / (k*k).
    """
    A = tir.placeholder((N, C, H, W), dtype, name="A")
    acc = "float32" if dtype == "float32" else "int32"
    OH, OW = _out_size(H, k, stride, 0), _out_size(W, k, stride, 0)
    ry = tir.reduce_axis((0, k), "ry")
    rx = tir.reduce_axis((0, k), "rx")
    S = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.sum(
        A[b, c, y * stride + ry, x * stride + rx].astype(acc), axis=[ry, rx]), name="sum")
    if acc == "float32":
        Out = tir.compute(S.shape, lambda b, c, y, x: S[b, c, y, x] / tir.const(float(k * k), "float32"),
                          name="avgpool")
    else:
        Out = tir.compute(S.shape, lambda b, c, y, x: S[b, c, y, x] // (k * k), name="avgpool")

    def ref(a):
        s = _pool_windows(a.astype(_np(acc)), k, stride, 0, 0).sum(axis=(4, 5), dtype=_np(acc))
        if acc == "float32":
            return (s / np.float32(k * k)).astype(np.float32)
        return np.floor_divide(s, k * k).astype(np.int32)

    return Workload("avg_pool2d", [A], Out, ref, {"sum": S}, params=dict(N=N, C=C, H=H, W=W, k=k, stride=stride))


# --- elementwise, reductions, layout ------------------------------------------------------------

def broadcast_add(shape_a, shape_b, dtype: str = "int32") -> Workload:
    """C = A + B with numpy broadcasting (size-1 axes are read at index 0); ranks must match."""
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    if len(shape_a) != len(shape_b):
        raise ValueError("broadcast_add: give both shapes with the same rank")
    out_shape = tuple(np.broadcast_shapes(shape_a, shape_b))
    A = tir.placeholder(shape_a, dtype, name="A")
    B = tir.placeholder(shape_b, dtype, name="B")

    def idx(shape, ivs):
        return tuple(0 if n == 1 else v for n, v in zip(shape, ivs))

    C = tir.compute(out_shape, lambda *ivs: A[idx(shape_a, ivs)] + B[idx(shape_b, ivs)], name="C")

    def ref(a, b):
        return (a + b).astype(_np(dtype))

    return Workload("broadcast_add", [A, B], C, ref, params=dict(shape_a=shape_a, shape_b=shape_b))


def sum_two_axes(N: int, C: int, H: int, W: int, dtype_in: str = "int8", dtype_acc: str = "int32") -> Workload:
    """Out[n, c] = sum_{h, w} A[n, c, h, w]: one reduction over two axes (global sum pooling)."""
    A = tir.placeholder((N, C, H, W), dtype_in, name="A")
    rh = tir.reduce_axis((0, H), "rh")
    rw = tir.reduce_axis((0, W), "rw")
    Out = tir.compute((N, C), lambda n, c: tir.sum(_cast(A[n, c, rh, rw], dtype_in, dtype_acc), axis=[rh, rw]),
                      name="S")

    def ref(a):
        return a.astype(_np(dtype_acc)).sum(axis=(2, 3), dtype=_np(dtype_acc))

    return Workload("sum_two_axes", [A], Out, ref, params=dict(N=N, C=C, H=H, W=W))


def pack_b_kmajor(K: int, N: int, lanes: int = 4, dtype: str = "int8") -> Workload:
    """Layout transform: Bp[n, ko, ki] = B[ko*lanes + ki, n], zero-padded when K % lanes != 0.

    Each output row n holds column n of B as contiguous ``lanes``-element K blocks (what a packed
    4 x int8 dot-product instruction reads as one 32-bit word).
    """
    B = tir.placeholder((K, N), dtype, name="B")
    KO = -(-K // lanes)
    zero = tir.const(0, dtype)
    Bp = tir.compute((N, KO, lanes), lambda n, ko, ki: tir.if_then_else(
        ko * lanes + ki < K, B[ko * lanes + ki, n], zero), name="Bp")

    def ref(b):
        padded = np.zeros((KO * lanes, N), b.dtype)
        padded[:K] = b
        return np.ascontiguousarray(padded.T.reshape(N, KO, lanes))

    return Workload("pack_b_kmajor", [B], Bp, ref, params=dict(K=K, N=N, lanes=lanes))


def stencil1d(N: int, dtype: str = "int32") -> Workload:
    """A 3-point blur with a producer stage: P[i] = A[i] * 2 (N + 2 elements), Out[i] = P[i] + P[i+1] + P[i+2]."""
    A = tir.placeholder((N + 2,), dtype, name="A")
    P = tir.compute((N + 2,), lambda i: A[i] * 2, name="P")
    Out = tir.compute((N,), lambda i: P[i] + P[i + 1] + P[i + 2], name="blur")

    def ref(a):
        p = a * 2
        return (p[:-2] + p[1:-1] + p[2:]).astype(_np(dtype))

    return Workload("stencil1d", [A], Out, ref, {"P": P}, params=dict(N=N))


def blur2d(H: int, W: int, dtype: str = "int32") -> Workload:
    """Separable 3x3 box sum: Bx[y, x] = A[y, x] + A[y, x+1] + A[y, x+2] (H + 2 rows), then
    By[y, x] = Bx[y, x] + Bx[y+1, x] + Bx[y+2, x]."""
    A = tir.placeholder((H + 2, W + 2), dtype, name="A")
    Bx = tir.compute((H + 2, W), lambda y, x: A[y, x] + A[y, x + 1] + A[y, x + 2], name="Bx")
    By = tir.compute((H, W), lambda y, x: Bx[y, x] + Bx[y + 1, x] + Bx[y + 2, x], name="By")

    def ref(a):
        bx = a[:, :-2] + a[:, 1:-1] + a[:, 2:]
        return (bx[:-2] + bx[1:-1] + bx[2:]).astype(_np(dtype))

    return Workload("blur2d", [A], By, ref, {"Bx": Bx}, params=dict(H=H, W=W))


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
