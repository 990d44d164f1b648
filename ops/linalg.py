"""Matrix products: matmul (A·B), matmul_nt (A·Btᵀ, K-major), batch_matmul, dense (+ bias, + relu),
and the K-major packing of B."""

from __future__ import annotations

import numpy as np

import tir

from .common import cast, dtype_attr, np_dtype, positive
from .registry import Attr, Op, Workload, register, register_variant

_MNK = (Attr("M", int, doc="rows of the output"), Attr("N", int, doc="columns of the output"),
        Attr("K", int, doc="reduction length"))
_DT = (dtype_attr("dtype_in", "int8", "operand dtype"),
       dtype_attr("dtype_acc", "int32", "accumulator / output dtype (operands are cast to it before the multiply)"))


def _mnk(name):
    def normalize(a):
        positive(name, a, "M", "N", "K")
        return a
    return normalize


# --- matmul: C[M, N] = A[M, K] · B[K, N] -----------------------------------------------------------

def _matmul_te(M, N, K, dtype_in, dtype_acc, name):
    A = tir.placeholder((M, K), dtype_in, name="A")
    B = tir.placeholder((K, N), dtype_in, name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(cast(A[i, k], dtype_in, dtype_acc) *
                                                 cast(B[k, j], dtype_in, dtype_acc), axis=k), name=name)
    return Workload("matmul", [A, B], C, None)


def _matmul_ref(a, b, *, M, N, K, dtype_in, dtype_acc, name):
    acc = np_dtype(dtype_acc)
    return (a.astype(acc) @ b.astype(acc)).astype(acc)


MATMUL = register(Op(
    "matmul", "C[M, N] = A[M, K] · B[K, N] (B row-major [K, N])",
    (*_MNK, *_DT, Attr("name", str, "C", "the output tensor's name")),
    _matmul_te, _matmul_ref, lambda M, N, K, **_: M * N * K, family="matmul", normalize=_mnk("matmul"),
    aliases=("matmul_kn",), cli_default=dict(M=64, N=64, K=64),
    examples=(dict(M=5, N=7, K=9), dict(M=4, N=4, K=8, dtype_in="int16"), dict(M=3, N=5, K=6, dtype_in="int32"),
              dict(M=3, N=4, K=5, dtype_in="float32", dtype_acc="float32"))))


# --- matmul_nt: C[M, N] = A[M, K] · Bt[N, K]ᵀ ------------------------------------------------------

def _matmul_nt_te(M, N, K, dtype_in, dtype_acc):
    A = tir.placeholder((M, K), dtype_in, name="A")
    Bt = tir.placeholder((N, K), dtype_in, name="Bt")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(cast(A[i, k], dtype_in, dtype_acc) *
                                                 cast(Bt[j, k], dtype_in, dtype_acc), axis=k), name="C")
    return Workload("matmul_nt", [A, Bt], C, None)


def _matmul_nt_ref(a, bt, *, M, N, K, dtype_in, dtype_acc):
    acc = np_dtype(dtype_acc)
    return (a.astype(acc) @ bt.astype(acc).T).astype(acc)


MATMUL_NT = register(Op(
    "matmul_nt", "C[M, N] = A[M, K] · Bt[N, K]ᵀ (both operands K-major: what a packed dot reads)",
    (*_MNK, *_DT), _matmul_nt_te, _matmul_nt_ref, lambda M, N, K, **_: M * N * K, family="matmul",
    normalize=_mnk("matmul_nt"), cli_default=dict(M=64, N=64, K=64),
    examples=(dict(M=5, N=7, K=8), dict(M=4, N=6, K=8, dtype_in="int16"), dict(M=2, N=3, K=4, dtype_in="uint8"))))


# --- batch_matmul ----------------------------------------------------------------------------------

def _bmm_te(batch, M, N, K, dtype_in, dtype_acc):
    A = tir.placeholder((batch, M, K), dtype_in, name="A")
    B = tir.placeholder((batch, K, N), dtype_in, name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((batch, M, N), lambda b, i, j: tir.sum(cast(A[b, i, k], dtype_in, dtype_acc) *
                                                           cast(B[b, k, j], dtype_in, dtype_acc), axis=k), name="C")
    return Workload("batch_matmul", [A, B], C, None)


def _bmm_ref(a, b, *, batch, M, N, K, dtype_in, dtype_acc):
    acc = np_dtype(dtype_acc)
    return np.matmul(a.astype(acc), b.astype(acc)).astype(acc)


def _bmm_norm(a):
    positive("batch_matmul", a, "batch", "M", "N", "K")
    return a


BATCH_MATMUL = register(Op(
    "batch_matmul", "C[b, M, N] = A[b, M, K] · B[b, K, N]",
    (Attr("batch", int, doc="batch size"), *_MNK, *_DT), _bmm_te, _bmm_ref,
    lambda batch, M, N, K, **_: batch * M * N * K, family="batch_matmul", normalize=_bmm_norm,
    examples=(dict(batch=3, M=4, N=5, K=6), dict(batch=2, M=3, N=3, K=8, dtype_in="int16"))))


# --- dense (+ bias, + relu) ------------------------------------------------------------------------

def _dense_name(bias, relu):
    return "dense" + ("_bias" if bias else "") + ("_relu" if relu else "")


def _dense_te(M, N, K, bias, relu, dtype_in, dtype_acc):
    X = tir.placeholder((M, K), dtype_in, name="X")
    W = tir.placeholder((N, K), dtype_in, name="W")
    k = tir.reduce_axis((0, K), name="k")
    D = tir.compute((M, N), lambda i, j: tir.sum(cast(X[i, k], dtype_in, dtype_acc) *
                                                 cast(W[j, k], dtype_in, dtype_acc), axis=k), name="dense")
    inputs, stages, out = [X, W], {}, D
    if bias:
        Bias = tir.placeholder((N,), dtype_acc, name="Bias")
        inputs.append(Bias)
        stages["dense"] = D
        # an intermediate stage "bias" before the relu; as the output "Y" (the C parameter next to "Bias")
        out = tir.compute((M, N), lambda i, j: D[i, j] + Bias[j], name="bias" if relu else "Y")
    if relu:
        prev = out
        if bias:
            stages["bias"] = prev
        else:
            stages["dense"] = prev
        out = tir.compute((M, N), lambda i, j: tir.max(prev[i, j], tir.const(0, dtype_acc)), name="relu")
    return Workload(_dense_name(bias, relu), inputs, out, None, stages)


def _dense_ref(x, w, *bias_arr, M, N, K, bias, relu, dtype_in, dtype_acc):
    acc = np_dtype(dtype_acc)
    y = x.astype(acc) @ w.astype(acc).T
    if bias:
        y = y + bias_arr[0].astype(acc)
    if relu:
        y = np.maximum(y, acc.type(0))
    return y.astype(acc)


def _dense_norm(a):
    positive("dense", a, "M", "N", "K")
    return a


DENSE = register(Op(
    "dense", "Y[M, N] = X[M, K] · W[N, K]ᵀ (TVM's dense), optionally + Bias[N], then optionally relu",
    (*_MNK, Attr("bias", bool, False, "add Bias[N] (dtype_acc); stage 'dense' is the product"),
     Attr("relu", bool, False, "max(., 0) last; stage 'bias' (or 'dense') is its input"), *_DT),
    _dense_te, _dense_ref, lambda M, N, K, **_: M * N * K, family="dense", normalize=_dense_norm,
    cli_default=dict(M=16, N=64, K=64),
    examples=(dict(M=5, N=6, K=7), dict(M=4, N=8, K=8, bias=True), dict(M=3, N=5, K=9, bias=True, relu=True),
              dict(M=3, N=4, K=5, relu=True), dict(M=3, N=4, K=5, bias=True, relu=True, dtype_in="float32",
                                                   dtype_acc="float32"))))


register_variant("dense_bias", "dense", bias=True)
register_variant("dense_bias_relu", "dense", bias=True, relu=True)


# --- K-major packing of B --------------------------------------------------------------------------

def _pack_te(K, N, lanes, dtype):
    B = tir.placeholder((K, N), dtype, name="B")
    KO = -(-K // lanes)
    zero = tir.const(0, dtype)
    Bp = tir.compute((N, KO, lanes), lambda n, ko, ki: tir.if_then_else(
        ko * lanes + ki < K, B[ko * lanes + ki, n], zero), name="Bp")
    return Workload("pack_b_kmajor", [B], Bp, None)


def _pack_ref(b, *, K, N, lanes, dtype):
    KO = -(-K // lanes)
    padded = np.zeros((KO * lanes, N), b.dtype)
    padded[:K] = b
    return np.ascontiguousarray(padded.T.reshape(N, KO, lanes))


def _pack_norm(a):
    positive("pack_b_kmajor", a, "K", "N", "lanes")
    return a


PACK_B_KMAJOR = register(Op(
    "pack_b_kmajor", "Bp[N, ceil(K/lanes), lanes] = B[K, N] by columns, K zero-padded to whole lane words",
    (Attr("K", int), Attr("N", int), Attr("lanes", int, 4, "elements per packed word"), dtype_attr("dtype", "int8")),
    _pack_te, _pack_ref, lambda **_: 0, family="layout", normalize=_pack_norm,
    examples=(dict(K=6, N=3), dict(K=8, N=5, lanes=2, dtype="int16"))))


__all__ = ["BATCH_MATMUL", "DENSE", "MATMUL", "MATMUL_NT", "PACK_B_KMAJOR"]
