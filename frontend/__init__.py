"""Model import and whole-model compilation: TFLite flatbuffers -> Graph of operator-library ops."""

from frontend.errors import FrontendError, ModelFormatError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, Value
from frontend.quantize import quantize
from frontend.tflite import from_tflite
from frontend.tflite_write import to_tflite

__all__ = [
    "FrontendError",
    "ModelFormatError",
    "UnsupportedOperatorError",
    "Graph",
    "Node",
    "QuantParams",
    "Value",
    "from_tflite",
    "quantize",
    "to_tflite",
]
