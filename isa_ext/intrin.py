"""Tensor intrinsics of the built-in extension families (the tensorize side of an Extension)."""

from __future__ import annotations

from tir.intrin import IntrinOp, TensorIntrin


def _op(ext, name: str) -> IntrinOp:
    op = ext.op(name)
    insn = "" if op.stateful or op.has_imm else op.insn()
    return IntrinOp(ext.c_name(name), op.stateful, ext.latency, ext.issue_interval, insn)


def dot_intrinsic(ext, lanes: int, in_dtype: str, op_name: str = "dot") -> TensorIntrin:
    """``c += sum(a[k] * b[k])`` over ``lanes`` packed lanes: one stateless instruction per word pair."""
    return TensorIntrin(ext.name, "dot", lanes, in_dtype, {"dot": _op(ext, op_name)}, extension=ext)


def mac_tile_intrinsic(ext, lanes: int, in_dtype: str, n_acc: int) -> TensorIntrin:
    """An output tile of up to ``n_acc`` elements accumulated inside the unit's accumulator bank."""
    ops = {k: _op(ext, k) for k in ("mac", "clear", "read_clear")}
    return TensorIntrin(f"{ext.name}_tile", "mac_tile", lanes, in_dtype, ops, extension=ext, n_acc=n_acc)
