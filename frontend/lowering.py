"""One mapping from int8 graph nodes to ops-library operators, used by the reference and the compiler."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from frontend.errors import UnsupportedOperatorError
from frontend.graph import Graph, Node
from ops.errors import OpError
from ops.qnn import fold_x_zero_point, quantize_multiplier, requantize_params
from ops.qnn_conv import folded_bias, qadd_params
from ops.qnn_softmax import OUTPUT_SCALE, OUTPUT_ZERO_POINT, softmax_params


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
    """The ops-library call of an int8 node (see INT8_OPS)."""
    if node.op == "fully_connected":
        return _dense_op(graph, node)
    if node.op in ("conv2d", "depthwise_conv2d"):
        return _conv_op(graph, node)
    if node.op in ("avg_pool2d", "max_pool2d"):
        return _pool_op(graph, node)
    if node.op == "add":
        return _add_op(graph, node)
    if node.op == "softmax":
        return _softmax_op(graph, node)
    if node.op == "quantize":
        return _requantize_op(graph, node)
    raise UnsupportedOperatorError(f"{node.origin}: no int8 lowering for {node.op!r} "
                                   f"(supported: {', '.join(INT8_OPS)}, plus reshape / dequantize)")


INT8_OPS = ("fully_connected", "conv2d", "depthwise_conv2d", "avg_pool2d", "max_pool2d", "add", "softmax", "quantize")


def _int8_values(node: Node, *vals) -> None:
    for v in vals:
        if v.dtype != "int8":
            raise UnsupportedOperatorError(f"{node.origin}: int8 lowering needs int8 tensors, {v.name!r} is "
                                           f"{v.dtype}")


def _bias(graph: Graph, node: Node, channels: int) -> np.ndarray:
    """The node's int32 bias (its third input), zeros when it has none."""
    if len(node.inputs) > 2 and node.inputs[2]:
        return graph.values[node.inputs[2]].data.astype(np.int32)
    return np.zeros(channels, np.int32)


def _clamp(node: Node, y) -> tuple[int, int]:
    """The output clamp of the node's fused activation."""
    qmin, qmax = activation_range(node.attrs.get("activation", "none"), y.quant.scale[0], y.quant.zero_point[0])
    return int(qmin), int(qmax)


def _qdense_call(x_name: str, rows: np.ndarray, bias: np.ndarray, x, y, node: Node, m: int, mults, shifts) -> OpCall:
    """``qdense`` of ``m`` rows of ``x`` against weights ``rows`` [N, K]. The input zero point goes into
    the bias: (x - xzp) . w + b == x . w + (b - xzp * sum(w)) in wrapping int32, so the kernel is a
    plain dot product."""
    n, k = rows.shape
    qmin, qmax = _clamp(node, y)
    attrs = {"M": m, "N": n, "K": k, "x_zero_point": 0, "out_zero_point": int(y.quant.zero_point[0]),
             "qmin": qmin, "qmax": qmax}
    folded = fold_x_zero_point(rows, bias, int(x.quant.zero_point[0]))
    return OpCall("qdense", attrs, [x_name, rows, folded, mults, shifts])


def _dense_op(graph: Graph, node: Node) -> OpCall:
    v = graph.values
    x, w, y = v[node.inputs[0]], v[node.inputs[1]], v[node.outputs[0]]
    _int8_values(node, x, w, y)
    _check_quant(node, x, w, y)
    n, k = w.shape
    mults, shifts = _multipliers(x, w, y, n)
    return _qdense_call(node.inputs[0], w.data, _bias(graph, node, n), x, y, node, int(np.prod(x.shape)) // k,
                        mults, shifts)


def _nhwc(node: Node, v) -> tuple[int, int, int, int]:
    if len(v.shape) != 4:
        raise UnsupportedOperatorError(f"{node.origin}: tensor {v.name!r} must be 4-D NHWC, has shape {v.shape}")
    return tuple(int(d) for d in v.shape)


def _conv_op(graph: Graph, node: Node) -> OpCall:
    v = graph.values
    x, w, y = v[node.inputs[0]], v[node.inputs[1]], v[node.outputs[0]]
    _int8_values(node, x, w, y)
    _check_quant(node, x, w, y)
    dw = node.op == "depthwise_conv2d"
    n, h, wd, c = _nhwc(node, x)
    f = int(w.shape[3] if dw else w.shape[0])
    bias = _bias(graph, node, f)
    mults, shifts = _multipliers(x, w, y, f)
    (sh, sw), (dh, dwd) = node.attrs.get("stride", (1, 1)), node.attrs.get("dilation", (1, 1))
    pt, pb, pl, pr = node.attrs.get("padding", (0, 0, 0, 0))
    xzp = int(x.quant.zero_point[0])
    if not dw and w.shape[1] == w.shape[2] == 1 and (sh, sw) == (1, 1) and (pt, pb, pl, pr) == (0, 0, 0, 0):
        # a pointwise conv is a dense layer over the pixels: NHWC rows of C against OHWI [F, C] weights
        return _qdense_call(node.inputs[0], w.data.reshape(f, c), bias, x, y, node, n * h * wd, mults, shifts)
    qmin, qmax = _clamp(node, y)
    attrs = {"N": n, "H": h, "W": wd, "C": c, "KH": int(w.shape[1]), "KW": int(w.shape[2]),
             "stride_h": int(sh), "stride_w": int(sw), "dilation_h": int(dh), "dilation_w": int(dwd),
             "pad_top": int(pt), "pad_bottom": int(pb), "pad_left": int(pl), "pad_right": int(pr),
             "x_zero_point": xzp, "out_zero_point": int(y.quant.zero_point[0]), "qmin": qmin, "qmax": qmax,
             "fold_x_zero_point": True}
    if dw:
        attrs["depth_multiplier"] = int(node.attrs.get("depth_multiplier", f // c))
    else:
        attrs["F"] = f
    return OpCall("qdepthwise_conv2d_nhwc" if dw else "qconv2d_nhwc", attrs,
                  [node.inputs[0], w.data, folded_bias(w.data, bias, xzp, depthwise=dw), mults, shifts])


def _pool_op(graph: Graph, node: Node) -> OpCall:
    v = graph.values
    x, y = v[node.inputs[0]], v[node.outputs[0]]
    _int8_values(node, x, y)
    if x.quant is None or y.quant is None or x.quant != y.quant:
        raise UnsupportedOperatorError(f"{node.origin}: TFLite's int8 pooling needs the input {x.name!r} and output "
                                       f"{y.name!r} quantized alike, got {x.quant} and {y.quant}")
    n, h, wd, c = _nhwc(node, x)
    (kh, kw), (sh, sw) = node.attrs["filter"], node.attrs.get("stride", (1, 1))
    pt, pb, pl, pr = node.attrs.get("padding", (0, 0, 0, 0))
    qmin, qmax = _clamp(node, y)
    attrs = {"N": n, "H": h, "W": wd, "C": c, "filter_h": int(kh), "filter_w": int(kw), "stride_h": int(sh),
             "stride_w": int(sw), "pad_top": int(pt), "pad_bottom": int(pb), "pad_left": int(pl),
             "pad_right": int(pr), "qmin": qmin, "qmax": qmax}
    return OpCall("qavg_pool2d_nhwc" if node.op == "avg_pool2d" else "qmax_pool2d_nhwc", attrs, [node.inputs[0]])


def _add_op(graph: Graph, node: Node) -> OpCall:
    v = graph.values
    a, b, y = v[node.inputs[0]], v[node.inputs[1]], v[node.outputs[0]]
    _int8_values(node, a, b, y)
    try:
        out_shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise UnsupportedOperatorError(f"{node.origin}: add of shapes {a.shape} and {b.shape}, which do not "
                                       "broadcast") from None
    if tuple(out_shape) != tuple(y.shape):
        raise UnsupportedOperatorError(f"{node.origin}: add of shapes {a.shape} and {b.shape} gives "
                                       f"{tuple(out_shape)}, but its output {y.name!r} is {y.shape}")
    for t in (a, b, y):
        if t.quant is None or t.quant.per_channel:
            raise UnsupportedOperatorError(f"{node.origin}: tensor {t.name!r} needs per-tensor quantization")
    qmin, qmax = _clamp(node, y)
    shapes = {k: tuple(int(d) for d in t.shape) for k, t in (("a_shape", a), ("b_shape", b))
              if tuple(t.shape) != tuple(y.shape)}
    attrs = {"shape": tuple(int(d) for d in y.shape), **shapes, "a_zero_point": int(a.quant.zero_point[0]),
             "b_zero_point": int(b.quant.zero_point[0]), "out_zero_point": int(y.quant.zero_point[0]),
             **qadd_params(a.quant.scale[0], b.quant.scale[0], y.quant.scale[0]), "qmin": qmin, "qmax": qmax}
    ins = [a.data if a.is_constant else a.name, b.data if b.is_constant else b.name]
    return OpCall("qadd", attrs, ins)


def _softmax_op(graph: Graph, node: Node) -> OpCall:
    """TFLite's int8 SOFTMAX over the last axis: ``qsoftmax`` of the rows, its multiplier and shift from
    the input scale and beta (TFLM's Prepare). TFLite requires the output quantized with scale 1/256
    (exactly, as float32) and zero point -128."""
    v = graph.values
    x, y = v[node.inputs[0]], v[node.outputs[0]]
    _int8_values(node, x, y)
    if x.quant is None or x.quant.per_channel:
        raise UnsupportedOperatorError(f"{node.origin}: softmax input {x.name!r} needs per-tensor quantization, "
                                       f"got {x.quant}")
    yq = y.quant
    if (yq is None or yq.per_channel or np.float32(yq.scale[0]) != np.float32(OUTPUT_SCALE)
            or int(yq.zero_point[0]) != OUTPUT_ZERO_POINT):
        raise UnsupportedOperatorError(f"{node.origin}: int8 softmax output {y.name!r} must be quantized with scale "
                                       f"1/256 and zero point {OUTPUT_ZERO_POINT} (TFLite's), got {yq}")
    if not x.shape or tuple(x.shape) != tuple(y.shape):
        raise UnsupportedOperatorError(f"{node.origin}: softmax input {x.name!r} {x.shape} and output {y.name!r} "
                                       f"{y.shape} must have one shape of rank >= 1")
    depth = int(x.shape[-1])
    rows = int(np.prod(x.shape, dtype=np.int64)) // depth
    try:
        params = softmax_params(x.quant.scale[0], node.attrs.get("beta", 1.0))
    except OpError as exc:
        raise UnsupportedOperatorError(f"{node.origin}: {exc}") from exc
    return OpCall("qsoftmax", {"M": rows, "N": depth, **params}, [node.inputs[0]])


def _requantize_op(graph: Graph, node: Node) -> OpCall:
    """TFLite's QUANTIZE of an 8-bit tensor (a requantization to the output's scale and zero point, as
    ONNX QOperator pools and TFLite int8 -> int8 QUANTIZE have it): ``qrequantize``. A float input's
    QUANTIZE is the caller's (the model boundary, frontend.graph.int8_core; the reference evaluates it)."""
    v = graph.values
    x, y = v[node.inputs[0]], v[node.outputs[0]]
    for t in (x, y):
        if t.dtype not in ("int8", "uint8"):
            raise UnsupportedOperatorError(f"{node.origin}: quantize of {x.name!r} ({x.dtype}) to {y.name!r} "
                                           f"({y.dtype}): only 8-bit to 8-bit requantization is compiled")
        if t.quant is None or t.quant.per_channel:
            raise UnsupportedOperatorError(f"{node.origin}: tensor {t.name!r} needs per-tensor quantization, "
                                           f"got {t.quant}")
    if tuple(x.shape) != tuple(y.shape):
        raise UnsupportedOperatorError(f"{node.origin}: quantize changes the shape {x.shape} -> {y.shape}")
    try:
        params = requantize_params(x.quant.scale[0], y.quant.scale[0])
    except OpError as exc:
        raise UnsupportedOperatorError(f"{node.origin}: {exc}") from exc
    attrs = {"shape": tuple(int(d) for d in x.shape), "in_zero_point": int(x.quant.zero_point[0]),
             "out_zero_point": int(y.quant.zero_point[0]), **params, "dtype_in": x.dtype, "out_dtype": y.dtype}
    return OpCall("qrequantize", attrs, [x.data if x.is_constant else x.name])
