"""One mapping from int8 graph nodes to ops-library operators, used by the reference and the compiler."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from frontend.errors import UnsupportedOperatorError
from ops.qnn import quantize_multiplier
from frontend.graph import Graph, Node


@dataclass
class OpCall:
    """Which ops-library operator computes a node, with which attributes and inputs (names or constants)."""

    op_name: str
    attrs: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)


def activation_range(activation: str, scale: float, zero_point: int, qmin: int = -128, qmax: int = 127):
    """TFLite's CalculateActivationRangeQuantized."""
    def q(x: float) -> int:
        return zero_point + _round_away(x / scale)

    if activation == "relu":
        return max(qmin, q(0.0)), qmax
    if activation == "relu6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    return qmin, qmax


def _round_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _wrap32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.int64).astype(np.uint32).astype(np.int32)


def _check_quant(node: Node, x, w, y) -> None:
    for role, v in (("input", x), ("weights", w), ("output", y)):
        if v.quant is None:
            raise UnsupportedOperatorError(f"{node.origin}: the {role} tensor {v.name!r} has no quantization "
                                           "parameters (an int8 kernel needs scale and zero point)")
    if any(z != 0 for z in w.quant.zero_point):
        raise UnsupportedOperatorError(f"{node.origin}: weights {w.name!r} have a nonzero zero point "
                                       f"{w.quant.zero_point} (TFLite's int8 kernels require 0)")
    if x.quant.per_channel or y.quant.per_channel:
        raise UnsupportedOperatorError(f"{node.origin}: activations {x.name!r} / {y.name!r} must be quantized "
                                       "per tensor")


def _multipliers(x, w, y, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) of input scale * weight scale / output scale, as TFLite's
    PopulateConvolutionQuantizationParams computes them (in double from the float32 scales)."""
    ws = w.quant.scale if w.quant.per_channel else w.quant.scale * channels
    if len(ws) != channels:
        raise UnsupportedOperatorError(f"weights {w.name!r} have {len(ws)} scales for {channels} channels")
    pairs = [quantize_multiplier(float(x.quant.scale[0]) * float(s) / float(y.quant.scale[0])) for s in ws]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def node_op(graph: Graph, node: Node) -> OpCall:
    """The ops-library call of an int8 node (fully_connected today)."""
    v = graph.values
    if node.op == "fully_connected":
        x, w = v[node.inputs[0]], v[node.inputs[1]]
        y = v[node.outputs[0]]
        if x.dtype != "int8" or w.dtype != "int8" or y.dtype != "int8":
            raise UnsupportedOperatorError(f"{node.origin}: int8 lowering needs int8 x/w/y, got "
                                           f"{x.dtype}/{w.dtype}/{y.dtype}")
        n, k = w.shape
        m = int(np.prod(x.shape)) // k
        bias = (v[node.inputs[2]].data.astype(np.int32) if len(node.inputs) > 2 and node.inputs[2]
                else np.zeros(n, np.int32))
        _check_quant(node, x, w, y)
        mults, shifts = _multipliers(x, w, y, n)
        qmin, qmax = activation_range(node.attrs.get("activation", "none"), y.quant.scale[0],
                                      y.quant.zero_point[0])
        # (x - xzp) . w + b == x . w + (b - xzp * sum(w)) in wrapping int32: the kernel is a plain dot product
        xzp = int(x.quant.zero_point[0])
        folded = bias.astype(np.int64) - xzp * w.data.astype(np.int64).sum(axis=1)
        attrs = {"M": m, "N": n, "K": k, "x_zero_point": 0,
                 "out_zero_point": int(y.quant.zero_point[0]), "qmin": int(qmin), "qmax": int(qmax)}
        return OpCall("qdense", attrs, [node.inputs[0], w.data, _wrap32(folded), mults, shifts])
    raise UnsupportedOperatorError(f"{node.origin}: no int8 lowering for {node.op} yet "
                                   "(supported: fully_connected)")
