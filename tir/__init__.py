"""Tensor expressions (placeholder / compute / reduce_axis), the loop IR and lowering."""

from . import dtype
from .errors import ArgumentError, CodegenError, DTypeError, LoweringError, ScheduleError, TirError
from .evaluate import evaluate
from .expr import (
    Expr,
    Var,
    all,
    any,
    const,
    if_then_else,
    logical_not,
    max,
    min,
    same,
    saturate_cast,
    shift_amount,
    sum,
    var,
)
from .lower import lower, lower_passes
from .quant import q_multiply_shift, requantize
from .simplify import simplify
from .stmt import Buffer, PrimFunc
from .tensor import ComputeOp, IterVar, PlaceholderOp, Range, Tensor, compute, placeholder, reduce_axis

__all__ = [
    "ArgumentError", "Buffer", "CodegenError", "ComputeOp", "DTypeError", "Expr", "IterVar", "LoweringError",
    "PlaceholderOp", "PrimFunc", "Range", "ScheduleError", "Tensor", "TirError", "Var", "all", "any",
    "compute", "const", "dtype", "evaluate", "if_then_else", "logical_not", "lower", "lower_passes", "max", "min",
    "placeholder", "q_multiply_shift", "reduce_axis", "requantize", "same", "saturate_cast", "shift_amount",
    "simplify", "sum",
    "var",
]
