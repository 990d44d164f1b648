"""The frontend's graph IR: values (tensors), nodes (operators) and the graph.

Activations are NHWC and weights keep TFLite's layouts (fully_connected w[N,K], conv2d OHWI,
depthwise_conv2d [1,KH,KW,C*M]), so an imported model needs no transposes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from frontend.errors import FrontendError

#: Canonical operator kinds of Node.op.
OP_KINDS = (
    "fully_connected",
    "conv2d",
    "depthwise_conv2d",
    "avg_pool2d",
    "max_pool2d",
    "add",
    "reshape",
    "softmax",
    "quantize",
    "dequantize",
    "relu",
    "relu6",
)

DTYPES = ("float32", "int8", "uint8", "int16", "int32", "int64")


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point); per-tensor has len 1 and axis None."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Value:
    """A tensor of the graph; `data` set means a constant (weights, bias, shape)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None = None
    data: np.ndarray | None = None

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclass
class Node:
    """One operator: canonical kind, input/output value names, attributes, and where it came from."""

    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    origin: str = ""


@dataclass
class Graph:
    """A model: values by name, nodes in execution order, graph input and output names."""

    name: str
    values: dict[str, Value]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]

    def evaluate(self, *arrays: np.ndarray, keep: bool = False):
        """Numpy reference of the whole graph (frontend.reference.evaluate)."""
        from frontend.reference import evaluate

        return evaluate(self, *arrays, keep=keep)

    def compile(self, target: str = "vexriscv", records=None, extensions=(), profile: bool = False):
        """Whole-model compile to one C translation unit (frontend.compile.compile_graph)."""
        from frontend.compile import compile_graph

        return compile_graph(self, target, records=records, extensions=extensions, profile=profile)


def same_padding(size: int, k: int, stride: int, dilation: int = 1, upper: bool = True) -> tuple[int, int]:
    """SAME padding (before, after) of one spatial axis: TFLite's ComputePaddingHeightWidth and ONNX's
    SAME_UPPER (``upper``; SAME_LOWER puts the odd extra before): total = max((out - 1) * stride +
    effective window - size, 0) with out = ceil(size / stride)."""
    eff = (k - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + eff - size, 0)
    small, big = total // 2, total - total // 2
    return (small, big) if upper else (big, small)


def uint8_as_int8(graph: Graph) -> Graph:
    """``graph`` with its uint8 tensors as int8 ones of the same real values: codes and zero points
    minus 128 (ONNX's default U8 activations, and U8 weights with a per-tensor zero point). TFLite's
    fixed-point kernels only ever use ``q - zero_point`` and add the output zero point before clamping
    to the type's range, so every int8 result is the uint8 one minus 128, bit for bit. A uint8 graph
    input or output keeps its dtype: a ``quantize`` node (an exact requantize of the same scale)
    converts it at the boundary. A graph without uint8 tensors is returned as it is."""
    u8 = [k for k, v in graph.values.items() if v.dtype == "uint8"]
    if not u8:
        return graph

    def shifted(v: Value, name: str) -> Value:
        q = v.quant
        if q is None:
            raise FrontendError(f"model {graph.name!r}: uint8 tensor {v.name!r} has no quantization")
        quant = QuantParams(q.scale, tuple(int(z) - 128 for z in q.zero_point), q.axis)
        data = None if v.data is None else (v.data.astype(np.int16) - 128).astype(np.int8)
        return Value(name, v.shape, "int8", quant, data)

    values = dict(graph.values)
    rename: dict[str, str] = {}
    nodes: list[Node] = []
    boundary = set(graph.inputs) | set(graph.outputs)
    for k in u8:
        v = graph.values[k]
        if k in boundary:
            rename[k] = f"{k}_int8"
            values[rename[k]] = shifted(v, rename[k])
        else:
            values[k] = shifted(v, k)
    for k in graph.inputs:
        if k in rename:  # the caller's uint8 codes, converted first
            nodes.append(Node("quantize", (k,), (rename[k],), {}, -1, f"uint8 input {k!r} as int8"))
    for n in graph.nodes:
        ins = tuple(rename.get(t, t) for t in n.inputs)
        outs = tuple(rename.get(t, t) for t in n.outputs)
        nodes.append(Node(n.op, ins, outs, n.attrs, n.index, n.origin))
    for k in graph.outputs:
        if k in rename:
            nodes.append(Node("quantize", (rename[k],), (k,), {}, -1, f"uint8 output {k!r} from int8"))
    return Graph(graph.name, values, nodes, list(graph.inputs), list(graph.outputs))


def int8_core(graph: Graph) -> Graph:
    """``graph`` without the ``quantize`` of a float graph input (its only reader) and the
    ``dequantize`` producing a graph output (nothing else reads it): the int8 part a device runs, which
    takes and returns the int8 tensors with their QuantParams (the caller quantizes and dequantizes, as
    TFLM's examples do). Values no remaining node uses are dropped; a graph without such a boundary is
    returned as it is."""
    readers: dict[str, int] = {}
    for n in graph.nodes:
        for t in n.inputs:
            readers[t] = readers.get(t, 0) + 1
    drop = set()
    inputs, outputs = list(graph.inputs), list(graph.outputs)
    for i, name in enumerate(graph.inputs):
        q = [n for n in graph.nodes if n.op == "quantize" and n.inputs == (name,)]
        if len(q) == 1 and readers.get(name) == 1 and graph.values[name].dtype == "float32":
            drop.add(id(q[0]))
            inputs[i] = q[0].outputs[0]
    for i, name in enumerate(graph.outputs):
        d = [n for n in graph.nodes if n.op == "dequantize" and n.outputs == (name,)]
        if len(d) == 1 and readers.get(name, 0) == 0:
            drop.add(id(d[0]))
            outputs[i] = d[0].inputs[0]
    if not drop:
        return graph
    nodes = [n for n in graph.nodes if id(n) not in drop]
    used = {t for n in nodes for t in (*n.inputs, *n.outputs)} | set(inputs) | set(outputs)
    return Graph(graph.name, {k: v for k, v in graph.values.items() if k in used}, nodes, inputs, outputs)

