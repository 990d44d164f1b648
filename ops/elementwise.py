"""Elementwise operators with numpy broadcasting (add, sub, mul, relu, clamp), and small reductions
and stencils (sum_two_axes, stencil1d, blur2d)."""

from __future__ import annotations

import numpy as np

import tir

from .common import cast, dtype_attr, np_dtype, positive, wrap
from .errors import OpError
from .registry import Attr, Op, Workload, register


def _shape_norm(name, *keys):
    def normalize(a):
        for k in keys:
            if not a[k] or any(n < 1 for n in a[k]):
                raise OpError(f"operator {name!r}: attribute {k!r} must be a non-empty shape of positive "
                              f"extents, got {a[k]}")
        return a
    return normalize


# --- binary, with broadcasting -------------------------------------------------------------------

_BINARY = {"add": (lambda x, y: x + y, np.add), "sub": (lambda x, y: x - y, np.subtract),
           "mul": (lambda x, y: x * y, np.multiply)}


def _broadcast_index(shape, ivs):
    """Index of an operand of ``shape`` at output indices ``ivs`` (size-1 axes read at 0; missing leading
    axes dropped, as numpy broadcasts)."""
    ivs = ivs[len(ivs) - len(shape):]
    return tuple(0 if n == 1 else v for n, v in zip(shape, ivs))


def _binary(kind):
    te_fn, np_fn = _BINARY[kind]

    def build(shape_a, shape_b, dtype):
        out_shape = tuple(np.broadcast_shapes(shape_a, shape_b))
        A = tir.placeholder(shape_a, dtype, name="A")
        B = tir.placeholder(shape_b, dtype, name="B")
        C = tir.compute(out_shape, lambda *ivs: te_fn(A[_broadcast_index(shape_a, ivs)],
                                                      B[_broadcast_index(shape_b, ivs)]), name="C")
        return Workload(kind, [A, B], C, None)

    def ref(a, b, *, shape_a, shape_b, dtype):
        if tir.dtype.is_float(dtype):
            return np_fn(a, b).astype(np.float32)
        return wrap(np_fn(a.astype(np.int64), b.astype(np.int64)), dtype)

    def normalize(a):
        _shape_norm(kind, "shape_a", "shape_b")(a)
        try:
            np.broadcast_shapes(a["shape_a"], a["shape_b"])
        except ValueError:
            raise OpError(f"operator {kind!r}: shapes {a['shape_a']} and {a['shape_b']} do not broadcast") from None
        return a

    return build, ref, normalize


for _kind, _doc in (("add", "C = A + B"), ("sub", "C = A - B"), ("mul", "C = A * B")):
    _b, _r, _n = _binary(_kind)
    register(Op(
        _kind, f"{_doc} with numpy broadcasting (size-1 or missing leading axes); integers wrap",
        (Attr("shape_a", tuple), Attr("shape_b", tuple), dtype_attr("dtype", "int32")), _b, _r,
        lambda **_: 0, family="elementwise", normalize=_n, aliases=("broadcast_add",) if _kind == "add" else (),
        examples=(dict(shape_a=(3, 4), shape_b=(3, 4)), dict(shape_a=(2, 1, 5), shape_b=(1, 4, 5), dtype="int8"),
                  dict(shape_a=(4, 6), shape_b=(6,), dtype="int16"),
                  dict(shape_a=(3, 1), shape_b=(1, 5), dtype="float32"))))


# --- unary: relu, clamp --------------------------------------------------------------------------

def _relu_te(shape, dtype):
    A = tir.placeholder(shape, dtype, name="A")
    zero = tir.const(0.0 if tir.dtype.is_float(dtype) else 0, dtype)
    return Workload("relu", [A], tir.compute(shape, lambda *i: tir.max(A[i], zero), name="relu"), None)


def _relu_ref(a, *, shape, dtype):
    return np.maximum(a, np_dtype(dtype).type(0))


register(Op("relu", "Out = max(A, 0)", (Attr("shape", tuple), dtype_attr("dtype", "int32")), _relu_te, _relu_ref,
            lambda **_: 0, family="elementwise", normalize=_shape_norm("relu", "shape"),
            examples=(dict(shape=(3, 5)), dict(shape=(2, 3, 4), dtype="int8"), dict(shape=(7,), dtype="float32"))))


def _clamp_te(shape, lo, hi, dtype):
    A = tir.placeholder(shape, dtype, name="A")
    f = float if tir.dtype.is_float(dtype) else int
    Out = tir.compute(shape, lambda *i: tir.min(tir.max(A[i], tir.const(f(lo), dtype)), tir.const(f(hi), dtype)),
                      name="clamp")
    return Workload("clamp", [A], Out, None)


def _clamp_ref(a, *, shape, lo, hi, dtype):
    t = np_dtype(dtype).type
    return np.minimum(np.maximum(a, t(lo)), t(hi))


def _clamp_norm(a):
    _shape_norm("clamp", "shape")(a)
    if a["lo"] > a["hi"]:
        raise OpError(f"operator 'clamp': lo = {a['lo']} is above hi = {a['hi']}")
    for k in ("lo", "hi"):
        if not tir.dtype.is_float(a["dtype"]) and not tir.dtype.fits(a[k], a["dtype"]):
            raise OpError(f"operator 'clamp': attribute {k!r} = {a[k]} does not fit {a['dtype']}")
    return a


register(Op("clamp", "Out = min(max(A, lo), hi)",
            (Attr("shape", tuple), Attr("lo", int, -128), Attr("hi", int, 127), dtype_attr("dtype", "int32")),
            _clamp_te, _clamp_ref, lambda **_: 0, family="elementwise", normalize=_clamp_norm,
            examples=(dict(shape=(4, 5)), dict(shape=(3, 3), lo=-5, hi=6, dtype="int8"),
                      dict(shape=(6,), lo=0, hi=255, dtype="int16"), dict(shape=(5,), lo=-1, hi=1, dtype="float32"))))


# --- reductions and stencils ---------------------------------------------------------------------

def _sum2_te(N, C, H, W, dtype_in, dtype_acc):
    A = tir.placeholder((N, C, H, W), dtype_in, name="A")
    rh = tir.reduce_axis((0, H), "rh")
    rw = tir.reduce_axis((0, W), "rw")
    Out = tir.compute((N, C), lambda n, c: tir.sum(cast(A[n, c, rh, rw], dtype_in, dtype_acc), axis=[rh, rw]),
                      name="S")
    return Workload("sum_two_axes", [A], Out, None)


def _sum2_ref(a, *, N, C, H, W, dtype_in, dtype_acc):
    return a.astype(np_dtype(dtype_acc)).sum(axis=(2, 3), dtype=np_dtype(dtype_acc))


def _nchw_norm(name):
    def normalize(a):
        positive(name, a, "N", "C", "H", "W")
        return a
    return normalize


register(Op("sum_two_axes", "Out[N, C] = sum over H, W of A[N, C, H, W] (global sum pooling)",
            (Attr("N", int), Attr("C", int), Attr("H", int), Attr("W", int), dtype_attr("dtype_in", "int8"),
             dtype_attr("dtype_acc", "int32")),
            _sum2_te, _sum2_ref, lambda **_: 0, family="reduction", normalize=_nchw_norm("sum_two_axes"),
            examples=(dict(N=2, C=3, H=4, W=5), dict(N=1, C=2, H=3, W=3, dtype_in="int16"))))


def _stencil_te(N, dtype):
    A = tir.placeholder((N + 2,), dtype, name="A")
    P = tir.compute((N + 2,), lambda i: A[i] * 2, name="P")
    Out = tir.compute((N,), lambda i: P[i] + P[i + 1] + P[i + 2], name="blur")
    return Workload("stencil1d", [A], Out, None, {"P": P})


def _stencil_ref(a, *, N, dtype):
    p = a * 2
    return (p[:-2] + p[1:-1] + p[2:]).astype(np_dtype(dtype))


def _n_norm(a):
    positive("stencil1d", a, "N")
    return a


register(Op("stencil1d", "P[i] = 2 A[i] (N + 2 elements), Out[i] = P[i] + P[i+1] + P[i+2]",
            (Attr("N", int), dtype_attr("dtype", "int32")), _stencil_te, _stencil_ref, lambda **_: 0,
            family="stencil", normalize=_n_norm, examples=(dict(N=9), dict(N=5, dtype="int16"))))


def _blur_te(H, W, dtype):
    A = tir.placeholder((H + 2, W + 2), dtype, name="A")
    Bx = tir.compute((H + 2, W), lambda y, x: A[y, x] + A[y, x + 1] + A[y, x + 2], name="Bx")
    By = tir.compute((H, W), lambda y, x: Bx[y, x] + Bx[y + 1, x] + Bx[y + 2, x], name="By")
    return Workload("blur2d", [A], By, None, {"Bx": Bx})


def _blur_ref(a, *, H, W, dtype):
    bx = a[:, :-2] + a[:, 1:-1] + a[:, 2:]
    return (bx[:-2] + bx[1:-1] + bx[2:]).astype(np_dtype(dtype))


def _hw_norm(a):
    positive("blur2d", a, "H", "W")
    return a


register(Op("blur2d", "separable 3x3 box sum: Bx = 3-tap rows of A[H+2, W+2] (stage 'Bx'), then 3-tap columns",
            (Attr("H", int), Attr("W", int), dtype_attr("dtype", "int32")), _blur_te, _blur_ref, lambda **_: 0,
            family="stencil", normalize=_hw_norm, examples=(dict(H=5, W=6), dict(H=3, W=4, dtype="float32"))))


__all__: list[str] = []
