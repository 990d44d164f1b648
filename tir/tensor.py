"""Tensors and operations: placeholder, compute, reduce_axis (TVM's TE vocabulary)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from . import dtype as dt
from .errors import DTypeError, TirError
from .expr import Const, Expr, Reduce, TensorLoad, Var, const, convert


@dataclass(frozen=True)
class Range:
    """The half-open interval [min, min + extent)."""

    min: int
    extent: int


class IterVar:
    """An iteration axis: a loop variable with a domain and a kind ("data" or "reduce").

    Arithmetic on an IterVar acts on its variable, so ``A[i * 2, k]`` works.
    """

    __slots__ = ("var", "dom", "kind")

    def __init__(self, name: str, dom: Range | None, kind: str = "data"):
        self.var = Var(name)
        self.dom = dom
        self.kind = kind

    @property
    def name(self) -> str:
        return self.var.name

    def __repr__(self) -> str:
        d = f"{self.dom.min}:{self.dom.min + self.dom.extent}" if self.dom else "?"
        return f"IterVar({self.name}, {d}, {self.kind})"

    # arithmetic delegates to the variable
    def __add__(self, o): return self.var + o
    def __radd__(self, o): return o + self.var
    def __sub__(self, o): return self.var - o
    def __rsub__(self, o): return o - self.var
    def __mul__(self, o): return self.var * o
    def __rmul__(self, o): return o * self.var
    def __floordiv__(self, o): return self.var // o
    def __mod__(self, o): return self.var % o
    def __neg__(self): return -self.var
    def __lt__(self, o): return self.var < o
    def __le__(self, o): return self.var <= o
    def __gt__(self, o): return self.var > o
    def __ge__(self, o): return self.var >= o
    def __and__(self, o): return self.var & o
    def __rand__(self, o): return o & self.var
    def __or__(self, o): return self.var | o
    def __ror__(self, o): return o | self.var
    def __xor__(self, o): return self.var ^ o
    def __rxor__(self, o): return o ^ self.var
    def __lshift__(self, o): return self.var << o
    def __rlshift__(self, o): return o << self.var
    def __rshift__(self, o): return self.var >> o
    def __rrshift__(self, o): return o >> self.var
    def __invert__(self): return ~self.var

    def astype(self, dtype: str, saturate: bool = False) -> Expr:
        return self.var.astype(dtype, saturate=saturate)


def split_extents(extent: int, factor: int | None, nparts: int | None) -> tuple[int, int]:
    """(outer, inner) extents of a split by ``factor`` (inner) or ``nparts`` (outer), clamped to the extent."""
    if factor is not None:
        f = min(factor, extent)
        return -(-extent // f), f
    n = min(nparts, extent)
    return n, -(-extent // n)


def _const_int(v, what: str) -> int:
    """``v`` as a Python int when it is a constant integer (a numpy integer too), else a TirError
    naming ``what``: bools, floats and symbolic values are refused, not truncated."""
    if isinstance(v, (bool, np.bool_)):
        raise TirError(f"{what} is the bool {v!r}; expected a constant integer")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, Const) and dt.is_int(v.dtype):
        return int(v.value)
    if isinstance(v, (Expr, IterVar)):
        raise TirError(f"{what} is the symbolic value {v}; only constant integer bounds are supported "
                       "(use the largest extent and a where= condition or if_then_else for a variable bound)")
    if isinstance(v, (float, np.floating)):
        raise TirError(f"{what} is the float {v!r}; expected a constant integer")
    raise TirError(f"{what} is {v!r} of type {type(v).__name__}; expected a constant integer")


def reduce_axis(dom, name: str = "k") -> IterVar:
    """A reduction axis over ``dom`` = (lo, hi) (or just hi), as in TVM; the bounds are constant ints."""
    if isinstance(dom, Range):
        lo, hi = dom.min, dom.min + dom.extent
    elif isinstance(dom, (list, tuple)):
        if len(dom) != 2:
            raise TirError(f"reduce_axis {name!r}: dom {dom!r} must be (lo, hi) or hi")
        lo, hi = dom
    else:
        lo, hi = 0, dom
    lo = _const_int(lo, f"reduce_axis {name!r}: lower bound")
    hi = _const_int(hi, f"reduce_axis {name!r}: upper bound")
    if hi <= lo:
        raise TirError(f"reduce_axis {name!r}: empty range ({lo}, {hi})")
    return IterVar(name, Range(lo, hi - lo), "reduce")


class Operation:
    name: str
    tag: str = ""

    @property
    def input_tensors(self) -> list[Tensor]:
        return []

    def output(self, i: int = 0) -> Tensor:
        return self.outputs[i]


class PlaceholderOp(Operation):
    def __init__(self, name: str, shape: tuple[int, ...], dtype: str):
        self.name, self.shape, self.dtype = name, shape, dtype
        self.axis: list[IterVar] = []
        self.reduce_axis: list[IterVar] = []
        self.outputs = [Tensor(self, 0)]


class ComputeOp(Operation):
    """``name[axis...] = body``; body may be a top-level Reduce over ``reduce_axis``."""

    def __init__(self, name: str, tag: str, axis: list[IterVar], body: Expr, attrs: dict | None = None):
        self.name, self.tag, self.axis, self.body = name, tag, list(axis), body
        self.reduce_axis = list(body.axis) if isinstance(body, Reduce) else []
        self.shape = tuple(iv.dom.extent for iv in self.axis)
        self.dtype = body.dtype
        self.attrs = attrs or {}
        self.outputs = [Tensor(self, 0)]

    @property
    def input_tensors(self) -> list[Tensor]:
        from .visit import collect_tensor_loads

        seen, out = set(), []
        for load in collect_tensor_loads(self.body):
            t = load.tensor
            if id(t.op) not in seen:
                seen.add(id(t.op))
                out.append(t)
        return out


class Tensor:
    """The output of an operation; ``A[i, j]`` reads one element."""

    __slots__ = ("op", "value_index")

    def __init__(self, op: Operation, value_index: int = 0):
        self.op, self.value_index = op, value_index

    @property
    def shape(self) -> tuple[int, ...]:
        return self.op.shape

    @property
    def dtype(self) -> str:
        return self.op.dtype

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def ndim(self) -> int:
        return len(self.op.shape)

    def __getitem__(self, indices) -> TensorLoad:
        if not isinstance(indices, tuple):
            indices = (indices,)
        if len(indices) != len(self.shape):
            raise TirError(f"tensor {self.name} has {len(self.shape)} dimensions, indexed with {len(indices)}")
        idx = []
        for i in indices:
            e = convert(i, "int32")
            if not dt.is_int(e.dtype):
                raise DTypeError(f"index {e} of tensor {self.name} must be an integer, got {e.dtype}")
            if e.dtype != "int32":
                e = e.astype("int32")
            idx.append(e)
        return TensorLoad(self, tuple(idx))

    def __repr__(self) -> str:
        return f"Tensor({self.name}, shape={self.shape}, dtype={self.dtype})"

    # a 0-d style convenience: tensors are hashable by identity of their op
    def __hash__(self):
        return hash((id(self.op), self.value_index))

    def __eq__(self, other):
        return isinstance(other, Tensor) and other.op is self.op and other.value_index == self.value_index


def _shape(shape, what: str) -> tuple[int, ...]:
    """Check a shape: every extent a positive constant int (or numpy integer); ``what`` names the tensor.

    Zero-size tensors are refused: a loop of extent 0 would silently compute nothing.
    """
    if isinstance(shape, (int, np.integer, float, np.floating, Expr, IterVar)):
        shape = (shape,)
    if not isinstance(shape, (list, tuple)):
        raise TirError(f"{what}: shape {shape!r} must be a tuple of positive integers")
    out = []
    for d, s in enumerate(shape):
        if isinstance(s, (Expr, IterVar)) and not isinstance(s, Const):
            raise TirError(f"{what}: dimension {d} of shape {tuple(shape)} is the symbolic {s}; "
                           "shapes are constant integers")
        s = _const_int(s, f"{what}: dimension {d} of shape {tuple(shape)}")
        if s <= 0:
            raise TirError(f"{what}: dimension {d} of shape {tuple(shape)} is {s}; extents must be positive "
                           "(zero-size tensors are not supported)")
        out.append(s)
    return tuple(out)


def placeholder(shape, dtype: str = "float32", name: str = "placeholder") -> Tensor:
    """An input tensor of the given shape and dtype."""
    return PlaceholderOp(name, _shape(shape, f"placeholder {name!r}"), dt.check(dtype)).output(0)


def compute(shape, fcompute, name: str = "compute", tag: str = "", attrs: dict | None = None) -> Tensor:
    """A tensor whose element at each index of ``shape`` is ``fcompute(*indices)``."""
    shape = _shape(shape, f"compute {name!r}")
    try:
        params = list(inspect.signature(fcompute).parameters.values())
    except (TypeError, ValueError):
        params = []
    if params and params[0].kind == inspect.Parameter.VAR_POSITIONAL:
        names = [f"i{d}" for d in range(len(shape))]
    else:
        names = [p.name for p in params]
        if len(names) != len(shape):
            raise TirError(f"compute {name!r}: fcompute takes {len(names)} indices but shape has "
                           f"{len(shape)} dimensions")
    axis = [IterVar(n, Range(0, s), "data") for n, s in zip(names, shape)]
    body = fcompute(*[iv.var for iv in axis])
    if isinstance(body, (list, tuple)):
        raise TirError(f"compute {name!r}: multiple outputs are not supported")
    body = convert(body) if not isinstance(body, (int, float, bool)) else const(body)
    from .visit import check_reduce_top_level

    check_reduce_top_level(body, name)
    return ComputeOp(name, tag, axis, body, attrs).output(0)
