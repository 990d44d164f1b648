"""Property-based tests over random expressions: tir.evaluate (numpy, the IR's semantics) against the
generated C on the host and on the simulated VexRiscv SoC.

Each hypothesis example is one kernel: 1-D or 2-D inputs of a small shape, one placeholder per dtype
it uses, and ``PER_KERNEL`` random well-typed expressions (bool, int8..uint32, float32; casts; limit
constants; + - * // % / min max; comparisons; && || not; if_then_else with guarded out-of-bounds
reads; sometimes a sum/max/min reduction with a ``where``), each one compute output of the same
kernel. Inputs mix random values with the edge values (0, -1, min, max; NaN, inf, -0.0, denormals).
Integers must match exactly, float32 bit for bit (every op here is exactly rounded IEEE; NaN matches
any NaN). Batching keeps a SoC run (about a second) per ``PER_KERNEL`` expressions.

Float-to-int casts are only generated behind a guard that keeps the value in the target's range
(C leaves other conversions undefined; tir.evaluate saturates, see tests of ``cast`` below).

ISAFORGE_PROP_EXAMPLES=N runs N kernels per target instead of the default; ISAFORGE_PROP_SHRINK=1
lets hypothesis shrink a failure (slow: every step compiles a kernel); ISAFORGE_PROP_PER_KERNEL=1
checks one expression per kernel (with shrinking, this gives a minimal failing expression).
"""

from __future__ import annotations

import faulthandler
import mmap
import os
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import codegen_c
import schedules
import simulator
import tir
from tir import dtype as dt
from tir.evaluate import cast, placeholders
from tir.expr import BinOp, Cast, Const, binop, cmp

INTS = ("int8", "uint8", "int16", "uint16", "int32", "uint32")
DTYPES = ("bool",) + INTS + ("float32",)
F32 = np.float32
PER_KERNEL = int(os.environ.get("ISAFORGE_PROP_PER_KERNEL", "20"))
# >= 500 expressions per target and run by default
KERNELS = int(os.environ.get("ISAFORGE_PROP_EXAMPLES", str(-(-500 // PER_KERNEL))))
_PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("ISAFORGE_PROP_SHRINK") else [])
SETTINGS = settings(max_examples=KERNELS, deadline=None, derandomize=True, database=None, phases=_PHASES,
                    suppress_health_check=list(HealthCheck))


# ----------------------------------------------------------------------------------------------
# values

def limit_values(dtype: str) -> list:
    """Constants at the limits of a dtype that fit it exactly (no wrap, no rounding needed)."""
    if dtype == "bool":
        return [False, True]
    if dtype == "float32":
        f = np.finfo(F32)
        # max, -max, the smallest normal and subnormal, 2**24 (where adding 1 starts to round)
        return [0.0, -0.0, 1.0, -1.0, 0.5, float(f.max), float(-f.max), float(f.tiny), float(f.smallest_subnormal),
                16777216.0]
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    vals = [lo, hi, 0, 1] + ([-1] if dt.is_signed(dtype) else [])
    return vals


def edge_inputs(dtype: str) -> np.ndarray:
    if dtype == "float32":
        extra = [np.nan, np.inf, -np.inf, 2.0 ** 31, -2.0 ** 31, 2.0 ** 32, 255.5, -0.5, 3.0, -7.0, 16777215.0]
        return np.array(limit_values(dtype) + extra, F32)
    vals = limit_values(dtype)
    if dt.is_int(dtype):
        lo, hi = dt.min_value(dtype), dt.max_value(dtype)
        vals = vals + [lo + 1, hi - 1, 2, 7, -7 if dt.is_signed(dtype) else 9]
    return np.array(vals, dt.numpy_dtype(dtype))


def random_input(dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Half edge values, half random values over the whole range (floats: random bit patterns or
    moderate normals)."""
    n = int(np.prod(shape))
    npd = dt.numpy_dtype(dtype)
    if dtype == "bool":
        vals = rng.integers(0, 2, n).astype(bool)
    elif dtype == "float32":
        bits = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(F32)
        normal = (rng.standard_normal(n) * 100).astype(F32)
        vals = np.where(rng.integers(0, 2, n) == 1, bits, normal).astype(F32)
    else:
        vals = rng.integers(dt.min_value(dtype), dt.max_value(dtype), n, endpoint=True).astype(npd)
    edge = edge_inputs(dtype)
    pick = rng.integers(0, 2, n) == 1
    vals = np.where(pick, edge[rng.integers(0, len(edge), n)], vals).astype(npd)
    return vals.reshape(shape)


# ----------------------------------------------------------------------------------------------
# random expressions

# the largest float32 values that truncate into each integer dtype's range
_F2I_HI = {"int8": 127.0, "uint8": 255.0, "int16": 32767.0, "uint16": 65535.0,
           "int32": 2147483520.0, "uint32": 4294967040.0}


class Ctx:
    """What the expression builder of one output may use: placeholders (by dtype) and load indices."""

    def __init__(self, draw, pool: dict, dtypes: list[str], index: tuple, shape: tuple[int, ...]):
        self.draw, self.pool, self.dtypes, self.index, self.shape = draw, pool, dtypes, index, shape

    def placeholder(self, dtype: str):
        if dtype not in self.pool:
            self.pool[dtype] = tir.placeholder(self.shape, dtype, name=f"in_{dtype}")
        return self.pool[dtype]


def const_of(draw, dtype: str) -> Const:
    if draw(st.booleans()):
        v = draw(st.sampled_from(limit_values(dtype)))
    elif dtype == "bool":
        v = draw(st.booleans())
    elif dtype == "float32":
        v = float(F32(draw(st.floats(-1e6, 1e6, width=32))))
    else:
        v = draw(st.integers(dt.min_value(dtype), dt.max_value(dtype)))
    return tir.const(v, dtype)


def astype(e, dtype: str):
    """An explicit cast; a float source is first guarded into the target range when it is an integer."""
    if e.dtype == dtype:
        return e
    if dt.is_float(e.dtype) and dt.is_int(dtype):
        lo = tir.const(float(dt.min_value(dtype)), "float32")
        hi = tir.const(_F2I_HI[dtype], "float32")
        e = tir.if_then_else(tir.all(e >= lo, e <= hi), e, tir.const(0.0, "float32"))
    # a Cast node even of a constant: the simplifier and the emitter must fold / print it right
    return Cast(dtype, e)


def leaf(ctx: Ctx, dtype: str):
    draw = ctx.draw
    kind = draw(st.sampled_from(["const", "load", "load", "load", "shifted"]))
    if kind == "const":
        return const_of(draw, dtype)
    src = draw(st.sampled_from(ctx.dtypes))
    P = ctx.placeholder(src)
    if kind == "shifted" and len(ctx.index) and ctx.shape[0] > 1:
        # a padded read: P[i - 1] only where i >= 1 (the other branch must not touch memory)
        i0 = ctx.index[0]
        shift = draw(st.sampled_from([1, -1]))
        ok = i0 >= 1 if shift == 1 else i0 < ctx.shape[0] - 1
        val = P[(i0 - shift,) + tuple(ctx.index[1:])]
        return tir.if_then_else(ok, astype(val, dtype), const_of(draw, dtype))
    return astype(P[ctx.index], dtype)


def gen(ctx: Ctx, dtype: str, depth: int):
    draw = ctx.draw
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        return leaf(ctx, dtype)
    if dtype == "bool":
        kinds = ["cmp", "cmp", "logic", "not", "cast", "select"]
    else:
        kinds = ["arith", "arith", "arith", "cast", "select"]
    kind = draw(st.sampled_from(kinds))
    if kind == "arith" and dt.is_int(dtype) and draw(st.integers(0, 3)) == 0:
        # undo an operation with the same constant: (x * c) // c, (x + c) - c ... (folds that need wrap)
        c = const_of(draw, dtype)
        first, then = draw(st.sampled_from([("*", "//"), ("*", "%"), ("+", "-"), ("-", "+"), ("*", "*")]))
        if then in ("//", "%") and c.value == 0:
            c = tir.const(1 if not dt.is_signed(dtype) else -1, dtype)
        return binop(then, binop(first, gen(ctx, dtype, depth - 1), c), c)
    if kind == "cast":
        src = draw(st.sampled_from([d for d in DTYPES if d != dtype]))
        return astype(gen(ctx, src, depth - 1), dtype)
    if kind == "select":
        c = gen(ctx, "bool", depth - 1)
        return tir.if_then_else(c, gen(ctx, dtype, depth - 1), gen(ctx, dtype, depth - 1))
    if kind == "cmp":
        src = draw(st.sampled_from(DTYPES))
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        a = gen(ctx, src, depth - 1)
        if src != "bool" and draw(st.booleans()):
            # a against a function of itself: x + y > x is where wrap-around and UB-based folds differ
            b = binop(draw(st.sampled_from(["+", "-", "*"])), a, gen(ctx, src, depth - 1))
            return cmp(op, b, a) if draw(st.booleans()) else cmp(op, a, b)
        return cmp(op, a, gen(ctx, src, depth - 1))
    if kind == "logic":
        op = draw(st.sampled_from(["&&", "||"]))
        return binop(op, gen(ctx, "bool", depth - 1), gen(ctx, "bool", depth - 1))
    if kind == "not":
        return tir.logical_not(gen(ctx, "bool", depth - 1))
    ops = ["+", "-", "*", "min", "max"] + (["/"] if dtype == "float32" else ["//", "%", "//", "%"])
    op = draw(st.sampled_from(ops))
    a, b = gen(ctx, dtype, depth - 1), gen(ctx, dtype, depth - 1)
    if op in ("//", "%") and isinstance(b, Const) and b.value == 0:
        # a constant zero divisor is rejected by design; a zero from memory is what we test
        b = tir.const(draw(st.sampled_from([v for v in limit_values(dtype) if v != 0])), dtype)
    return binop(op, a, b)


@st.composite
def kernel_case(draw, per_kernel: int = PER_KERNEL):
    """(placeholders, outputs, inputs seed): ``per_kernel`` random expressions over one shape."""
    shape = draw(st.sampled_from([(7,), (3, 5), (4,), (2, 3)]))
    pool: dict = {}
    outs = []
    for n in range(per_kernel):
        dtypes = draw(st.lists(st.sampled_from(DTYPES), min_size=1, max_size=3, unique=True))
        depth = draw(st.integers(1, 4))
        if draw(st.integers(0, 5)) == 0:
            rdtype = draw(st.sampled_from(INTS + ("float32",)))
            combiner = draw(st.sampled_from(["sum", "max", "min"]))
            k = tir.reduce_axis((0, shape[-1]), name="k")
            out_shape = shape[:-1] or (1,)
            use_where = draw(st.booleans())

            def body(*idx, rdtype=rdtype, combiner=combiner, k=k, use_where=use_where, dtypes=dtypes,
                     depth=depth):
                ctx = Ctx(draw, pool, dtypes, (tuple(idx[:len(shape) - 1]) + (k.var,)), shape)
                src = gen(ctx, rdtype, depth)
                where = gen(ctx, "bool", 2) if use_where else None
                fn = {"sum": tir.sum, "max": tir.max, "min": tir.min}[combiner]
                return fn(src, axis=k, where=where)

            outs.append(tir.compute(out_shape, body, name=f"r{n}"))
        else:
            odtype = draw(st.sampled_from(DTYPES))

            def body(*idx, odtype=odtype, dtypes=dtypes, depth=depth):
                return gen(Ctx(draw, pool, dtypes, tuple(idx), shape), odtype, depth)

            outs.append(tir.compute(shape, body, name=f"e{n}"))
    ins = [pool[d] for d in DTYPES if d in pool]
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return ins, outs, seed


# ----------------------------------------------------------------------------------------------
# running and comparing

GUARD = 0xA5


def guarded(shape, dtype: str, fill: int = 0x5A) -> tuple[np.ndarray, np.ndarray]:
    """An array that is the head of a larger buffer: a kernel writing (or reading) past its end —
    e.g. bool elements as 4-byte int32_t — hits the guard bytes instead of the Python heap."""
    npd = dt.numpy_dtype(dtype)
    n = int(np.prod(shape))
    size = n * npd.itemsize * 4 + 64
    # shared memory: the host kernel runs in a forked child (a trap must not kill pytest)
    raw = np.frombuffer(mmap.mmap(-1, size), np.uint8)
    raw[:] = GUARD
    raw[:n * npd.itemsize] = fill
    arr = raw[:n * npd.itemsize].view(npd).reshape(shape)
    return arr, raw


def same_values(expect: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Elementwise agreement: integers exactly, float32 bit for bit with any NaN equal to any NaN."""
    if expect.dtype == F32:
        en, gn = np.isnan(expect), np.isnan(got)
        return (en & gn) | (~en & ~gn & (expect.view(np.uint32) == got.view(np.uint32)))
    return expect == got


def describe(out, ins, arrays, expect, got, bad) -> str:
    at = tuple(int(x[0]) for x in np.nonzero(bad))
    vals = ", ".join(f"{p.name}={a[at[:a.ndim]] if a.ndim == len(at) else a.ravel()!r}"
                     for p, a in zip(ins, arrays))
    return (f"{out.name} ({out.dtype}) = {out.op.body}\n    at {at}: expected {expect[at]!r}, got {got[at]!r}; "
            f"inputs there: {vals}")


def check_kernel(ins, outs, seed, target: str) -> None:
    s = schedules.create_schedule(outs)
    func = tir.lower(s, ins + outs, "prop")
    rng = np.random.default_rng(seed)
    in_arrays = [random_input(p.dtype, p.shape, rng) for p in ins]
    expects = tir.evaluate(outs, {p: a for p, a in zip(ins, in_arrays)})
    args, raws = [], []
    for p, a in zip(ins, in_arrays):
        g, raw = guarded(p.shape, p.dtype)
        g[...] = a
        args.append(g)
        raws.append(raw)
    outs_arr = []
    for t in outs:
        g, raw = guarded(t.shape, t.dtype)
        args.append(g)
        outs_arr.append(g)
        raws.append(raw)
    problems = []
    if target == "host":
        crash = run_forked(codegen_c.build(func, "host"), args)
        if crash:
            culprits = [t for t in outs if run_forked(_single(ins, t), [guarded(x.shape, x.dtype)[0]
                                                                        for x in ins + [t]], in_arrays)]
            raise AssertionError(f"the kernel died of {crash}; alone, these outputs do too:\n" +
                                 "\n".join(f"{t.name} ({t.dtype}) = {t.op.body}" for t in culprits))
    else:
        simulator.run(func, args, target)
    for t, exp, got in zip(outs, expects, outs_arr):
        bad = ~same_values(exp, got)
        if bad.any():
            problems.append(describe(t, ins, in_arrays, exp, got, bad))
    for t, raw, a in zip(ins + outs, raws, args):
        if (raw[a.nbytes:] != GUARD).any():
            problems.append(f"{t.name} ({t.dtype}): the kernel wrote past the end of the array")
    assert not problems, f"{len(problems)} of {len(outs)} outputs disagree with tir.evaluate:\n" + \
        "\n".join(problems)


def _single(ins, out):
    s = schedules.create_schedule(out)
    return codegen_c.build(tir.lower(s, ins + [out], "prop1"), "host")


def run_forked(mod, args, inputs=None) -> str | None:
    """Run a host module in a forked child; the name of the signal that killed it, or None.

    ``args`` live in shared memory (see ``guarded``) so the parent sees what the child wrote;
    ``inputs``: values copied into the first arrays in the child."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        faulthandler.disable()  # a trap is an expected result here, not a crash to dump
        try:
            if inputs is not None:
                for a, v in zip(args, inputs):
                    a[...] = v
            mod(*args)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return None


@SETTINGS
@given(kernel_case())
def test_random_expressions_host(case):
    check_kernel(*case, "host")


@SETTINGS
@given(kernel_case())
def test_random_expressions_vexriscv(case):
    check_kernel(*case, "vexriscv")


# ----------------------------------------------------------------------------------------------
# tir.evaluate itself, against hand-written numpy

def _elementwise(fn, *tensors):
    """An fcompute for a 1-D compute: fn of the tensors' elements at i."""
    return lambda i: fn(*[t[i] for t in tensors])


def test_evaluate_matmul():
    rng = np.random.default_rng(0)
    A = tir.placeholder((5, 7), "int8", name="A")
    B = tir.placeholder((7, 3), "int8", name="B")
    k = tir.reduce_axis((0, 7), name="k")
    C = tir.compute((5, 3), lambda i, j: tir.sum(A[i, k].astype("int32") * B[k, j].astype("int32"), axis=k),
                    name="C")
    a = rng.integers(-128, 128, (5, 7)).astype(np.int8)
    b = rng.integers(-128, 128, (7, 3)).astype(np.int8)
    c = tir.evaluate(C, {A: a, B: b})
    assert c.dtype == np.int32
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32))
    # a list of inputs follows placeholders(); a list of outputs gives a list
    assert placeholders(C) == [A, B]
    (c2,) = tir.evaluate([C], [a, b])
    np.testing.assert_array_equal(c2, c)


def test_evaluate_conv2d_with_padding():
    rng = np.random.default_rng(1)
    n, ch, h, w, f, r, pad = 1, 2, 5, 6, 3, 3, 1
    X = tir.placeholder((n, ch, h, w), "int8", name="X")
    W = tir.placeholder((f, ch, r, r), "int8", name="W")
    # the padding reads X out of bounds in the branch that is not taken
    P = tir.compute((n, ch, h + 2 * pad, w + 2 * pad),
                    lambda b, c, y, x: tir.if_then_else(tir.all(y >= pad, y < h + pad, x >= pad, x < w + pad),
                                                        X[b, c, y - pad, x - pad], tir.const(0, "int8")),
                    name="P")
    rc, ry, rx = tir.reduce_axis((0, ch), "rc"), tir.reduce_axis((0, r), "ry"), tir.reduce_axis((0, r), "rx")
    Y = tir.compute((n, f, h, w), lambda b, o, y, x: tir.sum(
        P[b, rc, y + ry, x + rx].astype("int32") * W[o, rc, ry, rx].astype("int32"), axis=[rc, ry, rx]), name="Y")
    x = rng.integers(-128, 128, (n, ch, h, w)).astype(np.int8)
    wt = rng.integers(-128, 128, (f, ch, r, r)).astype(np.int8)
    y = tir.evaluate(Y, {X: x, W: wt})
    xp = np.pad(x.astype(np.int32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ref = np.zeros((n, f, h, w), np.int32)
    for yy in range(h):
        for xx in range(w):
            ref[:, :, yy, xx] = np.einsum("ncij,fcij->nf", xp[:, :, yy:yy + r, xx:xx + r], wt.astype(np.int32))
    np.testing.assert_array_equal(y, ref)


def test_evaluate_reductions_with_where():
    rng = np.random.default_rng(2)
    A = tir.placeholder((4, 6), "int16", name="A")
    k = tir.reduce_axis((0, 6), name="k")
    even = tir.compute((4,), lambda i: tir.sum(A[i, k], axis=k, where=k % 2 == 0), name="even")
    mx = tir.compute((4,), lambda i: tir.max(A[i, k], axis=k, where=A[i, k] < 0), name="mx")
    mn = tir.compute((4,), lambda i: tir.min(A[i, k], axis=k, where=k >= 2), name="mn")
    a = rng.integers(-30000, 30000, (4, 6)).astype(np.int16)
    a[1] = np.abs(a[1])  # no negative element: the max is the identity
    e, m, n = tir.evaluate([even, mx, mn], {A: a})
    np.testing.assert_array_equal(e, a[:, ::2].astype(np.int64).sum(1).astype(np.int16))  # wraps in int16
    neg = np.where(a < 0, a, np.int16(-32768))
    np.testing.assert_array_equal(m, neg.max(1))
    assert m[1] == -32768
    np.testing.assert_array_equal(n, a[:, 2:].min(1))


def test_evaluate_float_sum_is_sequential_float32():
    vals = np.array([1e8, 1.0, 1.0, 1.0, 1.0, -1e8, 0.5], F32)
    A = tir.placeholder((7,), "float32", name="A")
    k = tir.reduce_axis((0, 7), name="k")
    S = tir.compute((1,), lambda i: tir.sum(A[k], axis=k), name="S")
    acc = F32(0)
    for v in vals:
        acc = F32(acc + v)
    got = tir.evaluate(S, [vals])
    assert got.dtype == F32 and got[0] == acc == F32(0.5)  # float64 or pairwise sums give 4.5


def test_evaluate_wraparound_and_floor_division():
    cases = [
        ("int8", [127, -128], "+", [1, -1], [-128, 127]),
        ("uint8", [0, 255], "-", [1, 255], [255, 0]),
        ("int16", [300, -32768], "*", [300, -1], [24464, -32768]),
        ("uint32", [4294967295, 65536], "*", [4294967295, 65536], [1, 0]),
        ("int32", [-7, 7, -7, 7, -2 ** 31, 5], "//", [2, -2, 0, 0, -1, -1], [-4, -4, 0, 0, -2 ** 31, -5]),
        ("int32", [-7, 7, -7, 7, -2 ** 31, 5], "%", [2, -2, 0, 0, -1, -1], [1, -1, 0, 0, 0, 0]),
        ("int8", [-128, -128, 100], "//", [-1, 0, -3], [-128, 0, -34]),
        ("uint16", [7, 65535], "%", [0, 10], [0, 5]),
    ]
    for dtype, a, op, b, want in cases:
        X = tir.placeholder((len(a),), dtype, name="X")
        Y = tir.placeholder((len(a),), dtype, name="Y")
        Z = tir.compute((len(a),), _elementwise(lambda x, y, op=op: binop(op, x, y), X, Y), name="Z")
        npd = dt.numpy_dtype(dtype)
        got = tir.evaluate(Z, [np.array(a, npd), np.array(b, npd)])
        assert got.dtype == npd
        np.testing.assert_array_equal(got, np.array(want, npd), err_msg=f"{dtype} {op}")


def test_evaluate_float32_rounds_every_op():
    X = tir.placeholder((1,), "float32", name="X")
    Z = tir.compute((1,), lambda i: (X[i] + tir.const(1.0)) - X[i], name="Z")
    assert tir.evaluate(Z, [np.array([1e8], F32)])[0] == 0.0  # float64 would give 1.0
    M = tir.compute((4,), lambda i: tir.max(X[0], tir.const(1.0)) + tir.min(tir.const(1.0), X[0]), name="M")
    assert np.isnan(tir.evaluate(M, [np.array([np.nan], F32)])).all()
    D = tir.compute((1,), lambda i: tir.const(1.0) / X[i], name="D")
    assert tir.evaluate(D, [np.array([-0.0], F32)])[0] == -np.inf


def test_evaluate_casts():
    F = tir.placeholder((9,), "float32", name="F")
    f = np.array([np.nan, np.inf, -np.inf, 300.7, -300.7, -0.9, 2.0 ** 31, 127.9, -129.0], F32)
    got = tir.evaluate([tir.compute((9,), _elementwise(lambda x, d=d: Cast(d, x), F), name=d)
                        for d in ("int8", "uint8", "int32", "uint32", "bool")], [f])
    # truncation toward zero, saturating; NaN -> 0
    np.testing.assert_array_equal(got[0], np.array([0, 127, -128, 127, -128, 0, 127, 127, -128], np.int8))
    np.testing.assert_array_equal(got[1], np.array([0, 255, 0, 255, 0, 0, 255, 127, 0], np.uint8))
    np.testing.assert_array_equal(got[2], np.array([0, 2 ** 31 - 1, -2 ** 31, 300, -300, 0, 2 ** 31 - 1, 127, -129],
                                                   np.int32))
    np.testing.assert_array_equal(got[3], np.array([0, 2 ** 32 - 1, 0, 300, 0, 0, 2 ** 31, 127, 0], np.uint32))
    np.testing.assert_array_equal(got[4], f != 0)
    I = tir.placeholder((4,), "int32", name="I")
    i = np.array([2 ** 24 + 1, -1, 256 + 7, 0], np.int32)
    f32, u8, b = tir.evaluate([tir.compute((4,), _elementwise(lambda x, d=d: Cast(d, x), I), name=d)
                               for d in ("float32", "uint8", "bool")], [i])
    np.testing.assert_array_equal(f32, np.array([2 ** 24, -1, 263, 0], F32))  # round to nearest even
    np.testing.assert_array_equal(u8, np.array([1, 255, 7, 0], np.uint8))
    np.testing.assert_array_equal(b, np.array([True, True, True, False]))
    assert cast(np.array([True, False]), "bool", "float32").tolist() == [1.0, 0.0]


def test_evaluate_guarded_reads_and_errors():
    A = tir.placeholder((4,), "int32", name="A")
    # && guards its right operand like if_then_else guards its branches
    G = tir.compute((4,), lambda i: tir.if_then_else(tir.all(i >= 1, A[i - 1] > 0), A[i - 1], A[i]), name="G")
    a = np.array([5, -1, 7, 2], np.int32)
    np.testing.assert_array_equal(tir.evaluate(G, [a]), [5, 5, 7, 7])
    Bad = tir.compute((4,), lambda i: A[i + 1], name="Bad")
    with pytest.raises(tir.TirError, match=r"'Bad'.*read of 'A' out of bounds: index 4"):
        tir.evaluate(Bad, [a])
    with pytest.raises(tir.ArgumentError, match="'A' has dtype int64"):
        tir.evaluate(G, [a.astype(np.int64)])
    with pytest.raises(tir.ArgumentError, match="no input array for placeholder 'A'"):
        tir.evaluate(G, {})
    Div = tir.compute((4,), lambda i: BinOp("/", A[i], A[i], "int32"), name="Div")
    with pytest.raises(tir.TirError, match=r"'Div'.*operator '/' is not defined on integers"):
        tir.evaluate(Div, [a])
    # a chain of computes
    H = tir.compute((4,), lambda i: G[3 - i] * 2, name="H")
    np.testing.assert_array_equal(tir.evaluate(H, {A: a}), [14, 14, 10, 10])


# ----------------------------------------------------------------------------------------------
# regression tests: one small fixed expression per bug class the random tests found

def check_small(ins_vals, fn, target: str) -> None:
    """Build ``out[i] = fn(x0[i], x1[i], ...)`` over 1-D inputs given as [(dtype, values)], run it on
    ``target`` and require exact agreement with tir.evaluate (and no write past an array)."""
    n = len(ins_vals[0][1])
    ins = [tir.placeholder((n,), d, name=f"x{k}") for k, (d, _) in enumerate(ins_vals)]
    out = tir.compute((n,), _elementwise(fn, *ins), name="out")
    check_graph(ins, [np.array(v, dt.numpy_dtype(d)) for d, v in ins_vals], out, target)


def check_graph(ins, arrays, out, target: str) -> None:
    """Run the default schedule of ``out`` on ``target``; exact agreement with tir.evaluate."""
    expect = tir.evaluate(out, dict(zip(ins, arrays)))
    s = schedules.create_schedule(out)
    func = tir.lower(s, ins + [out], "edge")
    args, raws = [], []
    for t in ins + [out]:
        g, raw = guarded(t.shape, t.dtype)
        args.append(g)
        raws.append(raw)
    for g, a in zip(args, arrays):
        g[...] = a
    if target == "host":
        crash = run_forked(codegen_c.build(func, "host"), args)
        assert crash is None, f"the kernel died of {crash}:\n{codegen_c.emit(func)}"
    else:
        simulator.run(func, args, target)
    got = args[-1]
    assert same_values(expect, got).all(), f"expected {expect!r}, got {got!r}\n{func}"
    for t, raw, a in zip(ins + [out], raws, args):
        assert (raw[a.nbytes:] == GUARD).all(), f"the kernel wrote past the end of {t.name} ({t.dtype})"


TARGETS = pytest.mark.parametrize("target", ["host", "vexriscv"])


I32_MAX, I32_MIN = 2 ** 31 - 1, -2 ** 31

# issue 9, once: signed int32 overflow is UB in C; the compilers fold (x + y > x) to (y > 0)


@TARGETS
def test_edge_int32_add_wraps_in_comparison(target):
    check_small([("int32", [I32_MAX, 5]), ("int32", [1, 1])], lambda x, y: Cast("int8", x + y > x), target)


# issue 9, once: the simplifier's linear forms ignore int32 wrap-around


@TARGETS
def test_edge_simplifier_mul_then_div_wraps(target):
    # (x * 2) // 2 is not x when x * 2 wraps
    check_small([("int32", [2 ** 30, 3, -2 ** 30 - 1])], lambda x: (x * 2) // 2, target)


@TARGETS
def test_edge_simplifier_comparison_with_large_constants_wraps(target):
    big = tir.const(I32_MAX)
    check_small([("int32", [0, 1, -5])], lambda x: Cast("int8", x + big + big > x), target)


# issue 9, once: integer // and % by zero trap (SIGFPE) on the host; IR: x // 0 == x % 0 == 0
# issue 9, once: integer // and % by zero give RISC-V's div results (-1, x); IR: x // 0 == x % 0 == 0


@TARGETS
@pytest.mark.parametrize("dtype,op", [("int32", "//"), ("int32", "%"), ("uint8", "//"), ("int16", "%"),
                                      ("uint32", "%")])
def test_edge_division_by_zero(dtype, op, target):
    check_small([(dtype, [7, 0, 1]), (dtype, [0, 0, 0])], lambda x, y: binop(op, x, y), target)


# issue 9, once: a divisor the simplifier folds to 0 is emitted as 'x / 0': -Werror=div-by-zero on the host
# issue 9, once: 'x / 0' in the emitted C is UB; clang drops the whole store


@TARGETS
def test_edge_division_by_constant_zero_after_folding(target):
    # the builder rejects a literal zero divisor; a cast of one only becomes 0 in the simplifier
    check_small([("uint8", [7, 0, 255])], lambda x: x // Cast("uint8", Const(256, "int32")), target)


# issue 9, once: INT_MIN // -1 and INT_MIN % -1 trap (SIGFPE) on x86; IR: wraps to INT_MIN, 0


@TARGETS
@pytest.mark.parametrize("op", ["//", "%"])
def test_edge_int_min_divided_by_minus_one(op, target):
    check_small([("int32", [I32_MIN, 5, -7]), ("int32", [-1, -1, -1])], lambda x, y: binop(op, x, y), target)


# issue 9, once: float max/min drop a NaN first operand (a > b ? a : b); IR: NaN propagates (numpy.maximum)


@TARGETS
@pytest.mark.parametrize("op", ["max", "min"])
def test_edge_nan_in_max_min(op, target):
    check_small([("float32", [np.nan, 1.0, np.nan, 2.0]), ("float32", [1.0, np.nan, np.nan, -3.0])],
                lambda x, y: binop(op, x, y), target)


@TARGETS
@pytest.mark.parametrize("combiner", ["max", "min"])
def test_edge_nan_in_max_min_reduction(combiner, target):
    A = tir.placeholder((2, 3), "float32", name="A")
    k = tir.reduce_axis((0, 3), name="k")
    fn = tir.max if combiner == "max" else tir.min
    R = tir.compute((2,), lambda i: fn(A[i, k], axis=k), name="R")
    a = np.array([[1.0, np.nan, 2.0], [np.nan, 5.0, -1.0]], F32)
    check_graph([A], [a], R, target)


# issue 9, once: bool buffers are int32_t in C but 1-byte numpy bools
# issue 9, once: simulator.run refuses bool arrays (and the C would use int32_t for them)


@TARGETS
def test_edge_bool_output(target):
    check_small([("int32", [1, -1, 0, 5])], lambda x: x > 0, target)


@TARGETS
def test_edge_bool_input(target):
    check_small([("bool", [True, False, True, False])], lambda x: Cast("int8", x), target)


# issue 9, once: the emitted C fails the host's -Wall -Wextra -Werror


@TARGETS
@pytest.mark.parametrize("case", ["type-limits", "type-limits-max", "self-compare", "and-in-or", "cmp-in-cmp",
                                  "not-in-cmp", "cast-bool-in-cmp"])
def test_edge_c_warnings(case, target):
    u8 = lambda v: tir.const(v, "uint8")  # noqa: E731
    fn = {
        "type-limits": lambda x, y: x >= u8(0),
        "type-limits-max": lambda x, y: x <= u8(255),
        "self-compare": lambda x, y: x < x,
        "and-in-or": lambda x, y: tir.any(tir.all(x > u8(0), y < x), x == u8(3)),
        "cmp-in-cmp": lambda x, y: (x > u8(0)) == (y < x),
        "not-in-cmp": lambda x, y: tir.logical_not(x > u8(0)) == (y < x),
        "cast-bool-in-cmp": lambda x, y: Cast("bool", x) == (y < x),
    }[case]
    check_small([("uint8", [0, 1, 3, 255]), ("uint8", [0, 2, 1, 255])], lambda x, y: Cast("int8", fn(x, y)),
                target)


# issue 9, once: the simplifier folds a float->int Cast of a constant through tir.const, which rejects 0.5


@TARGETS
def test_edge_simplifier_folds_float_to_int_cast(target):
    check_small([("int32", [0, 1])], lambda x: x + Cast("int32", Const(2.5, "float32")), target)


# issue 9, once: the simplifier folds an int->float32 Cast of a constant without rounding to float32


@TARGETS
def test_edge_simplifier_int_to_float_cast_rounds(target):
    # float32(16777217) == 16777216.0f in float32
    eq = Cast("float32", Const(16777217, "int32")) == tir.const(16777216.0)
    check_small([("int32", [0, 1])], lambda x: x + Cast("int32", eq), target)


# issue 9 (rule): float->int casts of out-of-range values are UB in C; tir.evaluate saturates (NaN -> 0) and the
# C / the simplifier's constant fold must do the same


@TARGETS
def test_edge_float_to_int_cast_saturates(target):
    check_small([("float32", [np.nan, 3e9, -3e9, np.inf, 300.0, -1.5])], lambda x: Cast("int32", x) +
                Cast("int32", Cast("uint8", x)), target)
