"""The numpy reference of a whole int8 graph: TFLite's reference-kernel arithmetic, bit for bit.

``evaluate(graph, *arrays, keep=False)`` runs the nodes in order. Every int8 compute node goes through
:func:`frontend.lowering.node_op` -- the same mapping the compiler uses -- to an operator of the ops
library and that operator's numpy reference (``softmax`` is ``qsoftmax``, a ``quantize`` of an int8 tensor
is ``qrequantize``); ``reshape`` reinterprets, ``quantize`` of a float32 tensor / ``dequantize`` convert
between float32 and int8 as TFLite's QUANTIZE / DEQUANTIZE do.
"""

from __future__ import annotations

import numpy as np

import ops
from frontend.errors import FrontendError
from frontend.graph import Graph, Node, QuantParams


def quantize_np(x: np.ndarray, quant: QuantParams, dtype: str = "int8") -> np.ndarray:
    """TFLite's QUANTIZE (AffineQuantize): ``clamp(round(x / scale) + zero_point)``, the division in
    float32 and the rounding half away from zero."""
    q = np.float32(x) / np.float32(quant.scale[0])
    r = np.sign(q) * np.floor(np.abs(q) + np.float32(0.5))
    info = np.iinfo(np.dtype(dtype))
    return np.clip(r.astype(np.int64) + int(quant.zero_point[0]), info.min, info.max).astype(dtype)


def dequantize_np(q: np.ndarray, quant: QuantParams) -> np.ndarray:
    """TFLite's DEQUANTIZE: ``float32(scale * (q - zero_point))``."""
    return (np.float64(quant.scale[0]) * (np.asarray(q, np.int64) - int(quant.zero_point[0]))).astype(np.float32)


def _node_value(graph: Graph, node: Node, env: dict, name: str) -> np.ndarray:
    v = graph.values.get(name)
    if v is not None and v.is_constant:
        return v.data
    if name not in env:
        raise FrontendError(f"{node.origin}: input {name!r} has no value (not a graph input, constant or "
                            "earlier output)")
    return env[name]


def bind_inputs(graph: Graph, arrays, dtype: str | None = None) -> dict[str, np.ndarray]:
    """The graph inputs' names -> the arrays, checked for size and shaped as the inputs (as ``dtype``,
    default each input's own)."""
    if len(arrays) != len(graph.inputs):
        raise FrontendError(f"model {graph.name!r} takes {len(graph.inputs)} inputs, {len(arrays)} given")
    env: dict[str, np.ndarray] = {}
    for name, a in zip(graph.inputs, arrays):
        v = graph.values[name]
        a = np.asarray(a)
        if a.size != int(np.prod(v.shape, dtype=np.int64)):
            raise FrontendError(f"model {graph.name!r}: input {name!r} takes shape {v.shape}, got {a.shape}")
        env[name] = a.astype(dtype or v.dtype).reshape(v.shape)
    return env


def evaluate(graph: Graph, *arrays: np.ndarray, keep: bool = False):
    """The graph's outputs (a list, in ``graph.outputs`` order) for these inputs; with ``keep`` the
    dict of every value computed (inputs included)."""
    from frontend.lowering import node_op

    env = bind_inputs(graph, arrays)
    for node in graph.nodes:
        out = graph.values[node.outputs[0]]
        if node.op == "reshape":
            env[out.name] = _node_value(graph, node, env, node.inputs[0]).reshape(out.shape)
        elif node.op == "quantize" and graph.values[node.inputs[0]].dtype == "float32":
            env[out.name] = quantize_np(_node_value(graph, node, env, node.inputs[0]), out.quant, out.dtype)
        elif node.op == "dequantize":
            src = graph.values[node.inputs[0]]
            env[out.name] = dequantize_np(_node_value(graph, node, env, node.inputs[0]), src.quant)
        else:
            call = node_op(graph, node)
            ins = [a if isinstance(a, np.ndarray) else _node_value(graph, node, env, a) for a in call.inputs]
            op = ops.get(call.op_name)
            wl = op(**call.attrs)
            ins = [np.asarray(a).reshape(ph.shape).astype(ph.dtype) for a, ph in zip(ins, wl.inputs)]
            env[out.name] = np.asarray(wl.ref(*ins)).reshape(out.shape)
    return env if keep else [env[n] for n in graph.outputs]


__all__ = ["bind_inputs", "dequantize_np", "evaluate", "quantize_np"]
