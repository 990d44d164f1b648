"""``tir.evaluate``: run a TE graph in numpy, exactly as the IR defines every operation.

This is the reference interpreter the generated C is checked against. It is vectorized over the
output index grid of each compute op (reduce axes are extra trailing dimensions) and defines:

* integers (int8 ... uint64): two's-complement wrap-around of every ``+ - *`` (computed in int64,
  or uint64 for uint64, then wrapped to the dtype); ``//`` and ``%`` are floor division and floor
  modulo with ``x // 0 == 0``, ``x % 0 == 0`` and ``INT_MIN // -1 == INT_MIN`` (wrapped),
  ``INT_MIN % -1 == 0``; ``& | ^`` bitwise on the two's-complement bits; ``x << s`` and ``x >> s``
  shift by ``s`` modulo the bit width (tir.expr.shift_amount), ``<<`` wraps, ``>>`` is arithmetic for
  signed and logical for unsigned dtypes;
* float32: every operation rounded to float32 (numpy float32 arithmetic, IEEE round-to-nearest,
  x / 0 gives inf or NaN); ``max``/``min`` propagate NaN (either operand NaN gives NaN), otherwise
  ``max(a, b) = a if a > b else b`` and ``min(a, b) = a if a < b else b`` (so on +0.0 / -0.0 ties
  the second operand wins);
* comparisons as IEEE (every comparison with NaN is false except ``!=``), ``&& || not`` on bool;
* casts: integer to integer wraps (numpy ``astype``); anything to bool is ``!= 0`` (NaN is true);
  bool to a number is 0 / 1; integer to float32 rounds to nearest even; float32 to an integer
  truncates toward zero and *saturates*: NaN gives 0, values beyond the dtype's range (inf included)
  give its min / max. (C leaves out-of-range float-to-int conversion undefined; this is the rule a
  code generator has to implement to agree.) ``tir.saturate_cast`` needs no rule of its own: it is
  built from ``min`` / ``max`` and this cast, so integers clamp to the target's range before converting.
* ``if_then_else(c, t, f)``: both branches are computed vectorized, but a tensor read only counts
  where its branch is taken: reads elsewhere may be out of bounds (padding) and are masked.
  Likewise the right operand of ``&&`` (``||``) only where the left one is true (false), and the
  source of a reduction only where its ``where`` condition holds. A read out of bounds where it
  does count raises a TirError naming the tensor.
* reductions start from ``Reduce.identity()`` (sum 0, max the dtype's minimum, min its maximum; for
  float32 that is -FLT_MAX / +FLT_MAX, not infinity) and combine in the accumulator's dtype with
  the rules above, skipping elements where ``where`` is false. Float reductions are folded one
  element at a time in the order of the reduce axes (first axis outermost), as the default loop
  nest does, so float sums are exact rather than numpy's pairwise sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import dtype as dt
from .errors import ArgumentError, TirError
from .expr import BITWISE_OPS, BinOp, Call, Cast, Cmp, Const, Expr, Not, Reduce, Select, TensorLoad, Var
from .tensor import ComputeOp, PlaceholderOp, Tensor

__all__ = ["evaluate", "placeholders"]

_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
        "==": np.equal, "!=": np.not_equal}


def _topo(tensors: Sequence[Tensor]) -> list:
    """Every operation the outputs depend on, producers first (depth-first post-order)."""
    order, seen = [], set()
    for root in tensors:
        stack = [(root.op, False)]
        while stack:
            op, done = stack.pop()
            if done:
                order.append(op)
                continue
            if id(op) in seen:
                continue
            seen.add(id(op))
            stack.append((op, True))
            for t in reversed(op.input_tensors):
                if id(t.op) not in seen:
                    stack.append((t.op, False))
    return order


def placeholders(tensors: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """The placeholders a graph reads, in the order ``evaluate`` expects a list of inputs in.

    That order is depth-first: outputs in the order given, each op's inputs in the order its body
    first reads them, a producer before its consumer.
    """
    outs = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    return [op.output(0) for op in _topo(outs) if isinstance(op, PlaceholderOp)]


def evaluate(tensors: Tensor | Sequence[Tensor],
             inputs: Mapping[Tensor, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Compute the output ``tensors`` of a TE graph from input arrays, in numpy.

    ``tensors``: one Tensor (then one array is returned) or a list / tuple of them (then a list of
    arrays in the same order). ``inputs``: a dict {placeholder Tensor: array}, or a list / tuple of
    arrays in the order of ``placeholders(tensors)``. Arrays must have the placeholder's shape and
    exactly its numpy dtype (bool for "bool"). The semantics are the module docstring's.
    """
    single = isinstance(tensors, Tensor)
    outs = [tensors] if single else list(tensors)
    for t in outs:
        if not isinstance(t, Tensor):
            raise ArgumentError(f"evaluate: outputs must be tensors, got {t!r}")
    ops = _topo(outs)
    phs = [op.output(0) for op in ops if isinstance(op, PlaceholderOp)]
    if isinstance(inputs, Mapping):
        given = {id(t.op): a for t, a in inputs.items()}
    else:
        inputs = list(inputs)
        if len(inputs) != len(phs):
            raise ArgumentError(f"evaluate: the graph reads {len(phs)} placeholders "
                                f"({', '.join(p.name for p in phs)}), got {len(inputs)} arrays")
        given = {id(p.op): a for p, a in zip(phs, inputs)}
    values: dict[int, np.ndarray] = {}
    for op in ops:
        if isinstance(op, PlaceholderOp):
            if id(op) not in given:
                raise ArgumentError(f"evaluate: no input array for placeholder {op.name!r}")
            values[id(op)] = _check_input(op, given[id(op)])
        elif isinstance(op, ComputeOp):
            values[id(op)] = _Interp(op, values).run()
        else:
            raise TirError(f"evaluate: unsupported operation {type(op).__name__} {op.name!r}")
    res = [values[id(t.op)] for t in outs]
    return res[0] if single else res


def _check_input(op: PlaceholderOp, a) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise ArgumentError(f"evaluate: input {op.name!r} must be a numpy array, got {type(a).__name__}")
    want = dt.numpy_dtype(op.dtype)
    if a.dtype != want:
        raise ArgumentError(f"evaluate: input {op.name!r} has dtype {a.dtype}, the placeholder is {want}")
    if tuple(a.shape) != tuple(op.shape):
        raise ArgumentError(f"evaluate: input {op.name!r} has shape {tuple(a.shape)}, the placeholder is "
                            f"{tuple(op.shape)}")
    return a


def _wrap(a: np.ndarray, dtype: str) -> np.ndarray:
    """int64 values to an integer dtype, modulo 2**bits (numpy's astype truncates)."""
    return np.asarray(a).astype(dt.numpy_dtype(dtype))


def _fmax(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r = np.where(a > b, a, b)
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, r))


def _fmin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r = np.where(a < b, a, b)
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, r))


def cast(a: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert an array of tir dtype ``src`` to ``dst`` by the rules of the module docstring."""
    a = np.asarray(a)
    if src == dst:
        return a
    npd = dt.numpy_dtype(dst)
    if dst == "bool":
        return a != 0
    if dt.is_float(dst):
        # through float64, exact for every integer dtype here: one rounding to float32
        return a.astype(np.float64).astype(npd)
    if dt.is_float(src):
        f = np.trunc(a.astype(np.float64))
        f = np.where(np.isnan(f), 0.0, f)
        if dt.bits(dst) == 64:
            # the 64-bit maxima are no float64: clip just below 2**bits, then saturate at / above it
            top = 2.0 ** (63 if dt.is_signed(dst) else 64)
            r = np.clip(f, float(dt.min_value(dst)), np.nextafter(top, 0.0)).astype(npd)
            return np.where(f >= top, npd.type(dt.max_value(dst)), r)
        f = np.clip(f, dt.min_value(dst), dt.max_value(dst))
        return f.astype(np.int64).astype(npd)
    return a.astype(npd)


class _Interp:
    """Evaluates the body of one compute op over its whole index grid."""

    def __init__(self, op: ComputeOp, values: dict[int, np.ndarray]):
        self.op, self.values = op, values
        self.env: dict[int, np.ndarray] = {}

    def err(self, node: Expr, why: str) -> TirError:
        return TirError(f"evaluate: compute {self.op.name!r}: {why} (node {type(node).__name__}: {node})")

    def run(self) -> np.ndarray:
        op, body = self.op, self.op.body
        shape = op.shape
        red = list(op.reduce_axis) if isinstance(body, Reduce) else []
        nd = len(shape) + len(red)
        for d, iv in enumerate(op.axis):
            self.env[id(iv.var)] = self._grid(iv.dom.min, iv.dom.extent, d, nd)
        for d, iv in enumerate(red):
            self.env[id(iv.var)] = self._grid(iv.dom.min, iv.dom.extent, len(shape) + d, nd)
        with np.errstate(all="ignore"):
            if isinstance(body, Reduce):
                out = self.reduce(body, shape, [iv.dom.extent for iv in red])
            else:
                out = self.ev(body, None)
        out = np.broadcast_to(out, shape).astype(dt.numpy_dtype(op.dtype), copy=True)
        return out

    @staticmethod
    def _grid(lo: int, extent: int, d: int, nd: int) -> np.ndarray:
        shp = [1] * nd
        shp[d] = extent
        return (lo + np.arange(extent, dtype=np.int64)).astype(np.int32).reshape(shp)

    def reduce(self, r: Reduce, shape: tuple[int, ...], rext: list[int]) -> np.ndarray:
        if r.combiner not in ("sum", "max", "min"):
            raise self.err(r, f"unknown reduction combiner {r.combiner!r}")
        if r.dtype == "bool":
            raise self.err(r, "reduction over bool values")
        full = tuple(shape) + tuple(rext)
        cond = None
        if r.condition is not None:
            cond = np.broadcast_to(self.ev(r.condition, None), full)
        src = np.broadcast_to(self.ev(r.source, cond), full)
        ident = np.asarray(r.identity().value, dt.numpy_dtype(r.dtype))
        if cond is not None:
            src = np.where(cond, src, ident)
        n = int(np.prod(rext))
        flat = src.reshape(tuple(shape) + (n,))
        if not dt.is_float(r.dtype):
            axis = len(shape)
            if r.combiner == "sum":
                return _wrap(flat.astype(np.int64).sum(axis=axis), r.dtype)
            fn = np.max if r.combiner == "max" else np.min
            return fn(flat, axis=axis, initial=ident[()])
        acc = np.broadcast_to(ident, shape)
        for j in range(n):
            x = flat[..., j]
            if r.combiner == "sum":
                acc = (acc + x).astype(np.float32)
            elif r.combiner == "max":
                acc = _fmax(acc, x)
            else:
                acc = _fmin(acc, x)
        return acc

    # expressions ------------------------------------------------------------------------------
    def ev(self, e: Expr, mask: np.ndarray | None) -> np.ndarray:
        """Value of ``e`` on the grid; ``mask``: where the value is actually used (None: everywhere)."""
        if isinstance(e, Const):
            return np.asarray(e.value, dt.numpy_dtype(e.dtype))
        if isinstance(e, Var):
            v = self.env.get(id(e))
            if v is None:
                raise self.err(e, f"variable {e.name!r} is not an axis of this compute")
            return v
        if isinstance(e, BinOp):
            return self.binop(e, mask)
        if isinstance(e, Cmp):
            a, b = self.ev(e.a, mask), self.ev(e.b, mask)
            if e.a.dtype != e.b.dtype:
                raise self.err(e, f"operands disagree in dtype ({e.a.dtype}, {e.b.dtype})")
            return _CMP[e.op](a, b)
        if isinstance(e, Not):
            return np.logical_not(self._bool(e.a, mask))
        if isinstance(e, Cast):
            return cast(self.ev(e.value, mask), e.value.dtype, e.dtype)
        if isinstance(e, Select):
            c = self._bool(e.cond, mask)
            t = self.ev(e.t, _and(mask, c))
            f = self.ev(e.f, _and(mask, np.logical_not(c)))
            return np.where(c, t, f).astype(dt.numpy_dtype(e.dtype), copy=False)
        if isinstance(e, TensorLoad):
            return self.load(e, mask)
        if isinstance(e, Call) and getattr(e.op, "pure", False):
            args = [self.ev(a, mask) for a in e.args]
            return np.asarray(e.op.numpy(*args)).astype(dt.numpy_dtype(e.dtype), copy=False)
        if isinstance(e, Reduce):
            raise self.err(e, "a reduction must be the whole body of a compute")
        raise self.err(e, "unsupported expression node")

    def _bool(self, e: Expr, mask) -> np.ndarray:
        if e.dtype != "bool":
            raise self.err(e, f"expected a bool operand, got {e.dtype}")
        return self.ev(e, mask)

    def binop(self, e: BinOp, mask) -> np.ndarray:
        op, t = e.op, e.dtype
        if op in ("&&", "||"):
            a = self._bool(e.a, mask)
            # C short-circuits: the right operand's reads only count where it is evaluated
            b = self._bool(e.b, _and(mask, a if op == "&&" else np.logical_not(a)))
            return np.logical_and(a, b) if op == "&&" else np.logical_or(a, b)
        a, b = self.ev(e.a, mask), self.ev(e.b, mask)
        if e.a.dtype != t or e.b.dtype != t:
            raise self.err(e, f"operand dtypes {e.a.dtype}, {e.b.dtype} differ from the result's {t}")
        if t == "bool":
            raise self.err(e, f"arithmetic {op!r} on bool")
        if dt.is_float(t):
            f32 = np.float32
            if op == "+":
                r = np.add(a, b, dtype=f32)
            elif op == "-":
                r = np.subtract(a, b, dtype=f32)
            elif op == "*":
                r = np.multiply(a, b, dtype=f32)
            elif op == "/":
                r = np.divide(a, b, dtype=f32)
            elif op == "max":
                r = _fmax(a, b)
            elif op == "min":
                r = _fmin(a, b)
            else:
                raise self.err(e, f"operator {op!r} is not defined on float32")
            return np.asarray(r, f32)
        if op in BITWISE_OPS:
            return self.bitwise(op, a, b, t)
        wide = np.uint64 if t == "uint64" else np.int64
        a64, b64 = np.asarray(a).astype(wide), np.asarray(b).astype(wide)
        if op == "+":
            r = a64 + b64
        elif op == "-":
            r = a64 - b64
        elif op == "*":
            r = a64 * b64  # int64 wraps mod 2**64, which keeps the low 32 bits exact
        elif op in ("//", "%"):
            zero = b64 == 0
            safe = np.where(zero, 1, b64)
            r = np.floor_divide(a64, safe) if op == "//" else np.remainder(a64, safe)
            r = np.where(zero, 0, r)
        elif op == "max":
            r = np.maximum(a64, b64)
        elif op == "min":
            r = np.minimum(a64, b64)
        else:
            raise self.err(e, f"operator {op!r} is not defined on integers (use //)")
        return _wrap(r, t)

    @staticmethod
    def bitwise(op: str, a, b, t: str) -> np.ndarray:
        """``a op b`` for ``op`` in & | ^ << >> on integer arrays of dtype ``t``."""
        npd = dt.numpy_dtype(t)
        a, b = np.asarray(a, npd), np.asarray(b, npd)
        if op == "&":
            return np.bitwise_and(a, b)
        if op == "|":
            return np.bitwise_or(a, b)
        if op == "^":
            return np.bitwise_xor(a, b)
        # the amount's low log2(width) bits (tir.expr.shift_amount): two's complement, so & works for
        # negative amounts too
        s = (b.astype(np.int64) & (dt.bits(t) - 1)).astype(np.uint64)
        if op == "<<":  # in uint64, where shifting out bits is defined, then wrapped to the dtype
            return (a.astype(np.uint64) << s).astype(npd)
        if dt.is_signed(t):  # numpy's >> of a signed array is arithmetic
            return (a.astype(np.int64) >> s.astype(np.int64)).astype(npd)
        return (a.astype(np.uint64) >> s).astype(npd)

    def load(self, e: TensorLoad, mask) -> np.ndarray:
        t = e.tensor
        src = self.values.get(id(t.op))
        if src is None:
            raise self.err(e, f"tensor {t.name!r} has not been computed (not part of the graph?)")
        idx = [np.asarray(self.ev(i, mask)).astype(np.int64) for i in e.indices]
        idx = np.broadcast_arrays(*idx) if idx else []
        clipped = []
        for d, (i, n) in enumerate(zip(idx, t.shape)):
            bad = (i < 0) | (i >= n)
            used = bad if mask is None else bad & mask
            if np.any(used):
                at = tuple(int(x[0]) for x in np.nonzero(used))
                val = int(np.broadcast_to(i, used.shape)[at])
                raise self.err(e, f"read of {t.name!r} out of bounds: index {val} of dimension {d} "
                                  f"(extent {n}) at grid point {at}")
            clipped.append(np.clip(i, 0, n - 1))
        return src[tuple(clipped)]


def _and(mask, c):
    return c if mask is None else np.logical_and(mask, c)
