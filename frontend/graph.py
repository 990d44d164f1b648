"""The frontend's graph IR: values (tensors), nodes (operators) and the graph.

Activations are NHWC and weights keep TFLite's layouts (fully_connected w[N,K], conv2d OHWI,
depthwise_conv2d [1,KH,KW,C*M]), so an imported model needs no transposes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

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

    def compile(self, target: str = "vexriscv", records=None, extensions=()):
        """Whole-model compile to one C translation unit (frontend.compile.compile_graph)."""
        from frontend.compile import compile_graph

        return compile_graph(self, target, records=records, extensions=extensions)
