"""``load_model(path)``: a model file by its suffix (.tflite, .onnx) -> Graph; ``prepare(graph,
calibration)``: an int8 graph ready to compile (a float graph is quantized with the calibration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from frontend.errors import FrontendError
from frontend.graph import Graph

FORMATS = (".tflite", ".onnx")


def load_model(path: str | Path) -> Graph:
    """Import a .tflite (``from_tflite``) or .onnx (``from_onnx``) model file."""
    p = Path(path)
    if not p.exists():
        raise FrontendError(f"model file {str(p)!r} does not exist")
    if p.suffix == ".tflite":
        from frontend.tflite import from_tflite

        return from_tflite(p)
    if p.suffix == ".onnx":
        from frontend.onnx_import import from_onnx

        return from_onnx(p)
    raise FrontendError(f"{p}: unknown model format {p.suffix!r} (supported: {', '.join(FORMATS)})")


def is_float(graph: Graph) -> bool:
    """Whether the graph computes in float32 (its compute nodes read float activations)."""
    return any(graph.values[n.inputs[0]].dtype == "float32" for n in graph.nodes
               if n.op not in ("quantize", "dequantize"))


def prepare(graph: Graph, calibration: np.ndarray | None = None) -> Graph:
    """The int8 graph to compile: ``graph`` itself when it is int8, else its post-training
    quantization with ``calibration`` (samples along the leading axis)."""
    if not is_float(graph):
        return graph
    if calibration is None:
        raise FrontendError(f"model {graph.name!r} is float: give calibration data to quantize it to int8 "
                            "(e.g. isaforge run MODEL --calibration samples.npy)")
    from frontend.quantize import quantize

    return quantize(graph, calibration)


__all__ = ["FORMATS", "is_float", "load_model", "prepare"]
