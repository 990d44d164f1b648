"""The operator library: every operator defined once (TE compute, typed attributes with defaults,
numpy reference, MAC count) in one registry.

    import ops
    wl = ops.get("matmul")(64, 64, 64)          # a Workload: inputs, output, stages, params, ref
    ops.get("conv2d_nhwc").macs(N=1, H=8, W=8, C=16, F=16, KH=3)
    ops.table()                                  # (name, attributes, doc) of every operator

Hand schedules, autotune templates, the CLI, the demo and the benchmarks take operators from here;
adding an operator is one ``register(Op(...))`` in one module below and the CLI lists it by itself.
This package imports only ``tir`` (and numpy).
"""

from . import conv, elementwise, linalg, qnn, qnn_conv, qnn_softmax, quant  # noqa: F401 (each module registers its operators)
from .common import windows_nhwc
from .conv import conv2d_nchw_ref, pad_nchw, pad_nhwc
from .errors import OpError
from .qnn import quantize_multiplier, requantize_params
from .qnn_softmax import qsoftmax_np, softmax_params
from .quant import requantize_np
from .registry import (
    OPS,
    VARIANTS,
    Attr,
    Op,
    Workload,
    aliases,
    all_names,
    get,
    lookup,
    names,
    of,
    register,
    register_variant,
    table,
)

__all__ = ["OPS", "VARIANTS", "Attr", "Op", "OpError", "Workload", "aliases", "all_names", "conv2d_nchw_ref", "get",
           "lookup", "names", "of", "pad_nchw", "pad_nhwc",
           "qsoftmax_np", "quantize_multiplier", "register", "register_variant", "requantize_np", "requantize_params",
           "softmax_params", "table", "windows_nhwc"]
