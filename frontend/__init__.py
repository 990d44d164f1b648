"""Model import and whole-model compilation: TFLite flatbuffers / int8 ONNX -> Graph of operator-library ops."""

from frontend.errors import FrontendError, ModelFormatError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, Value
from frontend.onnx_import import from_onnx
from frontend.quantize import quantize
from frontend.tasks import extract_tasks
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
    "extract_tasks",
    "from_onnx",
    "from_tflite",
    "quantize",
    "to_tflite",
]
