"""Post-training int8 quantization of a float Graph (as TFLite's converter / ai-edge-quantizer do).

`quantize(graph, calibration)` runs the float graph in numpy on every calibration sample, records the
global min/max of every activation tensor and rewrites the graph to int8:

- activations: per-tensor asymmetric int8; the range is widened to include 0, scale = (max-min)/255,
  zero_point = rint(-128 - min/scale) (ai-edge-quantizer's `tensor_zp_scale_from_min_max`, float32
  arithmetic, round half to even). A fused activation's output range is the post-activation range.
  reshape / max_pool2d / avg_pool2d outputs share their input's parameters and softmax's output is
  fixed at scale 1/256, zero point -128, because the TFLite int8 kernels require it.
- weights: symmetric int8, narrow range [-127, 127], scale = max|w| / 127, zero point 0; per channel
  along the output channel (axis 0 for fully_connected [N,K] and conv2d OHWI, axis 3 for
  depthwise_conv2d [1,KH,KW,C*M]) or per tensor.
- bias: int32 = rint(b / (x_scale * w_scale[c])), zero point 0.

The calibration run's float32 rounding decides scales to the last bit; by default it imitates the
FMA, bias-first accumulation of XNNPACK (LiteRT's CPU path, which ai-edge-quantizer calibrates with),
see `Accumulation`.

The graph input and output become int8 tensors; the input Value keeps the float input's parameters
so a caller quantizes x itself (q = clip(rint(x / scale) + zero_point, -128, 127)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from frontend.errors import FrontendError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, Value
from ops import windows_nhwc

#: Operators the float evaluator (and so `quantize`) supports.
FLOAT_OPS = (
    "fully_connected", "conv2d", "depthwise_conv2d", "avg_pool2d", "max_pool2d", "add", "reshape",
    "softmax", "relu", "relu6",
)

#: Weight tensors' quantized (output-channel) axis per operator.
WEIGHT_AXIS = {"fully_connected": 0, "conv2d": 0, "depthwise_conv2d": 3}

# Outputs that must reuse the input's quantization parameters (TFLite int8 kernels assume it).
_SAME_AS_INPUT = ("reshape", "max_pool2d", "avg_pool2d")

_F32 = np.float32
_QMIN, _QMAX = -128, 127
_MIN_BOUND = _F32(1e-9)  # ai-edge-quantizer's floor of a range, avoids a zero scale


def _unsupported(node: Node, why: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(
        f"{node.origin or f'node {node.index}'} ({node.op}, outputs {list(node.outputs)}): {why}; "
        f"the float evaluator supports: {', '.join(FLOAT_OPS)}")


# --------------------------------------------------------------------------------------------------
# float evaluator (float32 arithmetic, rounded as one real kernel does: see Accumulation)
# --------------------------------------------------------------------------------------------------

def _activate(y: np.ndarray, activation: str, node: Node) -> np.ndarray:
    if activation in ("none", None):
        return y
    if activation == "relu":
        return np.maximum(y, _F32(0))
    if activation == "relu6":
        return np.minimum(np.maximum(y, _F32(0)), _F32(6))
    raise _unsupported(node, f"fused activation {activation!r}")


class Accumulation(Enum):
    """How the float evaluator accumulates the dot products of fully_connected / conv2d / depthwise_conv2d.

    The float32 rounding of the activations decides the calibrated ranges to the last bit, so the
    evaluator follows one real kernel exactly:
    - FMA_BIAS_FIRST: the accumulator starts at the bias and every tap is one fused multiply-add
      (rounded once), in (filter_y, filter_x, in_channel) order -- XNNPACK's f32 GEMM / IGEMM /
      DWCONV micro-kernels, the default CPU path of the TFLite (LiteRT) interpreter that
      ai-edge-quantizer and the TFLite converter calibrate with.
    - BIAS_FIRST: the accumulator starts at the bias, products and sums each rounded to float32 --
      XNNPACK's micro-kernels on CPUs without fused multiply-add (plain SSE2).
    - REFERENCE: TFLite's reference kernels: products and sums each rounded to float32, bias added
      after the sum.
    Pools, add and softmax have no such choice (avg_pool2d divides the sum by the count of
    non-padding taps, as the reference kernel does).
    """

    FMA_BIAS_FIRST = "fma_bias_first"
    BIAS_FIRST = "bias_first"
    REFERENCE = "reference"


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 fused multiply-add a*b + c with a single rounding (elementwise, broadcasting).

    The float64 product of two float32 is exact; the float64 sum s is the nearest double of the exact
    value, and rounding s to float32 is the correctly rounded result unless s lies exactly on a float32
    midpoint, where the sign of the float64 rounding error (TwoSum) breaks the tie.
    """
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    c64 = np.asarray(c, np.float64)
    s = p + c64
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)  # TwoSum: exact error of s = p + c
    r = s.astype(_F32)
    r64 = r.astype(np.float64)
    other = np.nextafter(r, np.where(s > r64, np.inf, -np.inf).astype(_F32))
    tie = (r64 != s) & ((r64 + other.astype(np.float64)) * 0.5 == s) & (err != 0)
    if np.any(tie):
        up = err > 0
        hi, lo = np.maximum(r, other), np.minimum(r, other)
        r = np.where(tie, np.where(up, hi, lo), r)
    return r.astype(_F32)


def _dot(patches: np.ndarray, w: np.ndarray, bias: np.ndarray | None, acc_mode: Accumulation) -> np.ndarray:
    """bias + sum_j patches[..., j] * w[:, j] in float32, accumulated in j order.

    patches [..., J], w [N, J], bias [N] -> [..., N], rounded as `acc_mode` says.
    """
    shape = patches.shape[:-1] + (w.shape[0],)
    if acc_mode is not Accumulation.REFERENCE:
        acc = np.broadcast_to(bias.astype(_F32) if bias is not None else _F32(0), shape).astype(_F32)
        for j in range(patches.shape[-1]):
            if acc_mode is Accumulation.FMA_BIAS_FIRST:
                acc = _fma32(patches[..., j, None], w[:, j], acc)
            else:
                acc = acc + patches[..., j, None] * w[:, j]
        return acc
    acc = np.zeros(shape, dtype=_F32)
    for j in range(patches.shape[-1]):
        acc += patches[..., j, None] * w[:, j]
    return acc + bias.astype(_F32) if bias is not None else acc


def _pad_nhwc(x: np.ndarray, padding: Sequence[int], value: float) -> np.ndarray:
    pt, pb, pl, pr = padding
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def _const_or_env(graph: Graph, env: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    if not name:
        return None
    if name in env:
        return env[name]
    v = graph.values[name]
    if v.data is None:
        raise FrontendError(f"{graph.name}: value {name!r} is read before it is computed")
    return np.asarray(v.data)


def _eval_node(graph: Graph, node: Node, env: dict[str, np.ndarray], acc_mode: Accumulation) -> np.ndarray:
    get = lambda k: _const_or_env(graph, env, node.inputs[k]) if k < len(node.inputs) else None  # noqa: E731
    x = get(0)
    if x is None:
        raise _unsupported(node, "missing first input")
    if x.dtype != _F32:
        raise _unsupported(node, f"input {node.inputs[0]!r} is {x.dtype}, the float evaluator needs float32")
    op = node.op
    act = node.attrs.get("activation", "none")
    if op == "fully_connected":
        w, b = get(1), get(2)
        k = w.shape[1]
        return _activate(_dot(x.reshape(-1, k), w.astype(_F32), b, acc_mode), act, node)
    if op in ("conv2d", "depthwise_conv2d"):
        w, b = get(1), get(2)
        w = w.astype(_F32)
        _, kh, kw, _ = w.shape
        win = windows_nhwc(_pad_nhwc(x, node.attrs["padding"], 0.0), kh, kw, node.attrs["stride"],
                           node.attrs.get("dilation", (1, 1)))
        if op == "conv2d":
            # order: filter_y, filter_x, in_channel
            y = _dot(win.reshape(win.shape[:3] + (-1,)), w.reshape(w.shape[0], -1), b, acc_mode)
        else:
            m = int(node.attrs.get("depth_multiplier", 1))
            # output channel oc = ic * m + mi reads input channel ic
            win = np.repeat(win, m, axis=5) if m > 1 else win
            cm = win.shape[5]
            bias_first = acc_mode is not Accumulation.REFERENCE
            y = np.zeros(win.shape[:3] + (cm,), dtype=_F32)
            if bias_first and b is not None:
                y = np.broadcast_to(b.astype(_F32), y.shape).astype(_F32)
            for i in range(kh):
                for j in range(kw):
                    if acc_mode is Accumulation.FMA_BIAS_FIRST:
                        y = _fma32(win[:, :, :, i, j, :], w[0, i, j, :], y)
                    else:
                        y = y + win[:, :, :, i, j, :] * w[0, i, j, :]
            if not bias_first and b is not None:
                y = y + b.astype(_F32)
        return _activate(y, act, node)
    if op in ("avg_pool2d", "max_pool2d"):
        kh, kw = node.attrs["filter"]
        stride, pad = node.attrs["stride"], node.attrs["padding"]
        if op == "max_pool2d":
            win = windows_nhwc(_pad_nhwc(x, pad, -np.inf), kh, kw, stride, (1, 1))
            y = win.max(axis=(3, 4))
        else:
            win = windows_nhwc(_pad_nhwc(x, pad, 0.0), kh, kw, stride, (1, 1))
            ones = windows_nhwc(_pad_nhwc(np.ones_like(x[:1, :, :, :1]), pad, 0.0), kh, kw, stride, (1, 1))
            count = ones.sum(axis=(3, 4)).astype(_F32)  # padding is excluded from the average
            total = np.zeros(win.shape[:3] + (win.shape[5],), dtype=_F32)
            for i in range(kh):
                for j in range(kw):
                    total += win[:, :, :, i, j, :]
            y = total / count
        return _activate(y.astype(_F32), act, node)
    if op == "add":
        return _activate(x + get(1).astype(_F32), act, node)
    if op == "reshape":
        return x.reshape(graph.values[node.outputs[0]].shape)
    if op == "softmax":
        beta = _F32(node.attrs.get("beta", 1.0))
        e = np.exp((x - x.max(axis=-1, keepdims=True)) * beta).astype(_F32)
        return (e / e.sum(axis=-1, keepdims=True, dtype=_F32)).astype(_F32)
    if op == "relu":
        return _activate(x, "relu", node)
    if op == "relu6":
        return _activate(x, "relu6", node)
    raise _unsupported(node, "operator not supported by the float evaluator")


def check_float_graph(graph: Graph) -> None:
    """Raise UnsupportedOperatorError naming the first node the float evaluator cannot run."""
    for node in graph.nodes:
        if node.op not in FLOAT_OPS:
            raise _unsupported(node, "operator not supported by the float evaluator")
        act = node.attrs.get("activation", "none")
        if act not in ("none", "relu", "relu6"):
            raise _unsupported(node, f"fused activation {act!r}")


def evaluate_float(graph: Graph, *arrays: np.ndarray, keep: bool = False,
                   accumulation: Accumulation = Accumulation.FMA_BIAS_FIRST):
    """Run a float32 graph in numpy; returns the outputs (or, with keep, every computed value by name)."""
    check_float_graph(graph)
    from frontend.reference import bind_inputs

    env = bind_inputs(graph, arrays, "float32")
    for node in graph.nodes:
        y = _eval_node(graph, node, env, accumulation)
        out = node.outputs[0]
        shape = graph.values[out].shape
        env[out] = y.reshape(shape) if shape and y.size == int(np.prod(shape, dtype=np.int64)) else y
    if keep:
        return env
    return [env[o] for o in graph.outputs]


# --------------------------------------------------------------------------------------------------
# calibration and quantization parameters
# --------------------------------------------------------------------------------------------------

@dataclass
class Range:
    """Global float32 min/max of one activation tensor over the calibration set."""

    min: np.float32
    max: np.float32


def _samples(graph: Graph, calibration) -> list[tuple[np.ndarray, ...]]:
    n_in = len(graph.inputs)
    if isinstance(calibration, np.ndarray):
        in_shape = graph.values[graph.inputs[0]].shape
        if n_in == 1 and calibration.shape == tuple(in_shape):
            items = [calibration]
        else:
            items = list(calibration)  # the leading axis enumerates samples
    else:
        items = list(calibration)
    out = []
    for s in items:
        if n_in == 1 and not isinstance(s, (tuple, list)):
            s = (s,)
        s = tuple(np.asarray(a) for a in s)
        if len(s) != n_in:
            raise FrontendError(f"{graph.name}: a calibration sample has {len(s)} arrays, the graph has "
                                f"{n_in} inputs {graph.inputs}")
        out.append(s)
    if not out:
        raise FrontendError(f"{graph.name}: empty calibration set; quantization needs at least one sample")
    return out


def calibrate(graph: Graph, calibration: Iterable[np.ndarray] | np.ndarray,
              accumulation: Accumulation = Accumulation.FMA_BIAS_FIRST) -> dict[str, Range]:
    """Global min/max of every non-constant value (inputs and node outputs) over the calibration set."""
    check_float_graph(graph)
    ranges: dict[str, Range] = {}
    for sample in _samples(graph, calibration):
        env = evaluate_float(graph, *sample, keep=True, accumulation=accumulation)
        for name, a in env.items():
            lo, hi = _F32(np.min(a)), _F32(np.max(a))
            r = ranges.get(name)
            if r is None:
                ranges[name] = Range(lo, hi)
            else:
                r.min, r.max = min(r.min, lo), max(r.max, hi)
    return ranges


def activation_params(lo: float, hi: float) -> QuantParams:
    """Asymmetric per-tensor int8 parameters of the range [lo, hi] (widened to include 0)."""
    bmax = np.maximum(_F32(hi), _F32(0))
    bmin = np.minimum(_F32(lo), _F32(0))
    bound = np.maximum(_F32(bmax - bmin), _MIN_BOUND)
    scale = _F32(bound / _F32(_QMAX - _QMIN))
    zp = int(np.rint(_F32(_F32(_QMIN) - _F32(bmin / scale))))
    return QuantParams((float(scale),), (int(np.clip(zp, _QMIN, _QMAX)),), None)


def weight_params(w: np.ndarray, axis: int | None) -> QuantParams:
    """Symmetric int8 parameters (zero point 0, scale = max|w| / 127) per channel along `axis` or per tensor."""
    w = np.asarray(w, dtype=_F32)
    if axis is None:
        bound = np.max(np.abs(w)).reshape(1)
    else:
        red = tuple(d for d in range(w.ndim) if d != axis)
        bound = np.maximum(np.abs(np.min(w, axis=red)), np.abs(np.max(w, axis=red)))
    bound = np.maximum(bound.astype(_F32), _MIN_BOUND)
    scale = (bound / _F32(127)).astype(_F32)
    # one channel is per-tensor (the importer reads a length-1 scale as axis None too)
    ax = axis if scale.size > 1 else None
    return QuantParams(tuple(float(s) for s in scale), (0,) * scale.size, ax)


def quantize_array(a: np.ndarray, q: QuantParams, dtype: str, narrow: bool = False) -> np.ndarray:
    """rint(a / scale + zero_point) clipped to the dtype's range (float32 division, as ai-edge-quantizer)."""
    a = np.asarray(a, dtype=_F32)
    scale = np.asarray(q.scale, dtype=_F32)
    zp = np.asarray(q.zero_point, dtype=np.int64)
    if q.axis is not None and scale.size > 1:
        bshape = [1] * a.ndim
        bshape[q.axis] = scale.size
        scale, zp = scale.reshape(bshape), zp.reshape(bshape)
    info = np.iinfo(dtype)
    lo, hi = int(info.min) + (1 if narrow else 0), int(info.max)
    r = np.rint(np.divide(a, scale).astype(_F32) + zp.astype(_F32))
    # clip in float64: float32 cannot hold 2^31 - 1, and a saturating int32 bias must not wrap
    return np.clip(r.astype(np.float64), lo, hi).astype(dtype)


def quantize_bias(b: np.ndarray, x_scale: float, wq: QuantParams) -> tuple[np.ndarray, QuantParams]:
    """int32 bias with scale x_scale * w_scale[c] (float32 product), zero point 0."""
    # per-tensor weights give a per-tensor bias scale (one entry, as ai-edge-quantizer writes it)
    scale = (_F32(x_scale) * np.asarray(wq.scale, dtype=_F32)).astype(_F32)
    q = QuantParams(tuple(float(s) for s in scale), (0,) * scale.size, 0 if scale.size > 1 else None)
    # ai-edge-quantizer's bias is symmetric: narrow int32 range
    return quantize_array(b, q, "int32", narrow=True), q


# --------------------------------------------------------------------------------------------------
# the rewrite
# --------------------------------------------------------------------------------------------------

def quantize(graph: Graph, calibration: Iterable[np.ndarray] | np.ndarray, *, per_channel: bool = True,
             accumulation: Accumulation = Accumulation.FMA_BIAS_FIRST) -> Graph:
    """Post-training static int8 quantization of a float32 graph with global min/max calibration.

    `calibration` is an iterable of input samples (arrays, or tuples of arrays for several inputs) or
    one ndarray whose leading axis enumerates the samples. Returns a new Graph with int8 activations,
    int8 weights (per channel when `per_channel`), int32 biases; nodes and attributes are unchanged.
    `accumulation` picks the float kernels the calibration run imitates (see Accumulation).
    """
    check_float_graph(graph)
    for name in graph.inputs:
        if graph.values[name].dtype != "float32":
            raise FrontendError(f"{graph.name}: input {name!r} is {graph.values[name].dtype}; quantize needs "
                                "a float32 graph")
    ranges = calibrate(graph, calibration, accumulation)
    values: dict[str, Value] = {}
    act_q: dict[str, QuantParams] = {}

    def activation(name: str) -> QuantParams:
        if name not in act_q:
            v = graph.values[name]
            if v.is_constant:  # a constant operand of add: asymmetric from its data
                r = Range(_F32(np.min(v.data)), _F32(np.max(v.data)))
            elif name in ranges:
                r = ranges[name]
            else:
                raise FrontendError(f"{graph.name}: no calibration range for value {name!r}")
            act_q[name] = activation_params(r.min, r.max)
        return act_q[name]

    def put(v: Value) -> None:
        old = values.get(v.name)
        if old is not None and (old.quant != v.quant or old.dtype != v.dtype):
            raise FrontendError(f"{graph.name}: value {v.name!r} is shared by operators that need different "
                                f"quantization ({old.quant} vs {v.quant})")
        values[v.name] = v

    for name in graph.inputs:
        q = activation(name)
        v = graph.values[name]
        put(Value(name, v.shape, "int8", q, None))
    for node in graph.nodes:
        x_name = node.inputs[0]
        xq = activation(x_name)
        if graph.values[x_name].is_constant:
            xv = graph.values[x_name]
            put(Value(x_name, xv.shape, "int8", xq, quantize_array(xv.data, xq, "int8")))
        out = node.outputs[0]
        if node.op in _SAME_AS_INPUT:
            act_q[out] = xq
        elif node.op == "softmax":
            act_q[out] = QuantParams((1.0 / 256.0,), (-128,), None)
        oq = activation(out)
        if node.op in WEIGHT_AXIS:
            w_name = node.inputs[1]
            wv = graph.values[w_name]
            if wv.data is None:
                raise _unsupported(node, f"weights {w_name!r} are not a constant")
            wq = weight_params(wv.data, WEIGHT_AXIS[node.op] if per_channel else None)
            put(Value(w_name, wv.shape, "int8", wq, quantize_array(wv.data, wq, "int8", narrow=True)))
            if len(node.inputs) > 2 and node.inputs[2]:
                b_name = node.inputs[2]
                bv = graph.values[b_name]
                if bv.data is None:
                    raise _unsupported(node, f"bias {b_name!r} is not a constant")
                bdata, bq = quantize_bias(bv.data, xq.scale[0], wq)
                put(Value(b_name, bv.shape, "int32", bq, bdata.reshape(bv.shape)))
        elif node.op == "add":
            b_name = node.inputs[1]
            bq = activation(b_name)
            bv = graph.values[b_name]
            data = None if bv.data is None else quantize_array(bv.data, bq, "int8")
            put(Value(b_name, bv.shape, "int8", bq, data))
        ov = graph.values[out]
        put(Value(out, ov.shape, "int8", oq, None))
    # anything else (e.g. an unused constant) is copied unchanged
    for name, v in graph.values.items():
        if name not in values:
            values[name] = Value(v.name, v.shape, v.dtype, v.quant, None if v.data is None else v.data.copy())
    ordered = {name: values[name] for name in graph.values}
    nodes = [Node(n.op, n.inputs, n.outputs, dict(n.attrs), n.index, n.origin) for n in graph.nodes]
    return Graph(f"{graph.name}_int8" if not graph.name.endswith("int8") else graph.name, ordered, nodes,
                 list(graph.inputs), list(graph.outputs))
