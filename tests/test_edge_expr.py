"""Correctness at the edges of expressions: constants that do not fit, zero divisors, wrap-around in
the simplifier, comparisons the C compiler would flag, float32 overflow, bad shapes and bounds.

The simplifier is checked against a brute-force numpy evaluation (numpy's wrap-around is the
reference semantics), and kernels are built on the host (with -Werror) and compared with numpy.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codegen_c
import schedules
import tir
from tir import dtype as dt
from tir.expr import BinOp, Cast, Cmp, Const, Not, Select, Var
from tir.simplify import bound, simplify

INT_DTYPES = ("int8", "int16", "int32", "uint8", "uint32")


# a brute-force evaluator: numpy arrays, one element per sample of the variables ---------------

def _np_eval(e, env: dict, n: int):
    """Evaluate ``e`` with numpy's semantics (wrap-around, floor division, x // 0 == x % 0 == 0)."""
    if isinstance(e, Const):
        return np.full(n, e.value, dtype=dt.numpy_dtype(e.dtype))
    if isinstance(e, Var):
        return env[id(e)]
    if isinstance(e, BinOp):
        a, b = _np_eval(e.a, env, n), _np_eval(e.b, env, n)
        with np.errstate(all="ignore"):
            if e.op == "&&":
                return a & b
            if e.op == "||":
                return a | b
            if e.op in ("//", "%"):
                safe = np.where(b == 0, np.ones_like(b), b)
                q = np.floor_divide(a, safe) if e.op == "//" else np.remainder(a, safe)
                return np.where(b == 0, np.zeros_like(q), q).astype(a.dtype)
            f = {"+": np.add, "-": np.subtract, "*": np.multiply, "min": np.minimum, "max": np.maximum}[e.op]
            return f(a, b).astype(a.dtype)
    if isinstance(e, Cmp):
        a, b = _np_eval(e.a, env, n), _np_eval(e.b, env, n)
        return {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}[e.op](a, b)
    if isinstance(e, Not):
        return ~_np_eval(e.a, env, n)
    if isinstance(e, Cast):
        v = _np_eval(e.value, env, n)
        if e.dtype == "bool":
            return v != 0
        return v.astype(dt.numpy_dtype(e.dtype))
    if isinstance(e, Select):
        c = _np_eval(e.cond, env, n)
        return np.where(c, _np_eval(e.t, env, n), _np_eval(e.f, env, n))
    raise AssertionError(f"unexpected node {e!r}")


def _interesting(dtype: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """n values of dtype: the extremes, small values and uniform random ones."""
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    edge = [v for v in (lo, lo + 1, -2, -1, 0, 1, 2, 3, 127, 128, 255, 256, hi - 1, hi) if lo <= v <= hi]
    vals = rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)
    vals[: len(edge)] = edge
    small = rng.integers(max(lo, -8), min(hi, 8), size=n // 4, endpoint=True)
    vals[len(edge): len(edge) + len(small)] = small
    return vals.astype(dt.numpy_dtype(dtype))


@st.composite
def _const(draw, dtype):
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    v = draw(st.one_of(st.sampled_from([v for v in (-1, 0, 1, 2, 3, 4, 8, 16, 255, 256, 65536, lo, hi)
                                        if lo <= v <= hi]),
                       st.integers(lo, hi)))
    return Const(v, dtype)


@st.composite
def _expr(draw, dtype, leaves, depth):
    """A random expression of ``dtype`` over the variables ``leaves`` (dtype -> list of Var)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if leaves.get(dtype) and draw(st.booleans()):
            return draw(st.sampled_from(leaves[dtype]))
        return draw(_const(dtype))
    kind = draw(st.sampled_from(["arith", "arith", "arith", "cast", "select"]))
    if kind == "cast":
        src = draw(st.sampled_from(INT_DTYPES))
        return Cast(dtype, draw(_expr(src, leaves, depth - 1)))
    if kind == "select":
        cdt = draw(st.sampled_from(INT_DTYPES))
        cond = Cmp(draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="])),
                   draw(_expr(cdt, leaves, depth - 1)), draw(_expr(cdt, leaves, depth - 1)))
        return Select(cond, draw(_expr(dtype, leaves, depth - 1)), draw(_expr(dtype, leaves, depth - 1)))
    op = draw(st.sampled_from(["+", "-", "*", "*", "//", "//", "%", "%", "min", "max"]))
    a = draw(_expr(dtype, leaves, depth - 1))
    b = draw(_expr(dtype, leaves, depth - 1))
    return BinOp(op, a, b, dtype)


def _leaves():
    """Variables per dtype: unbounded 'loads' of each dtype and small loop variables of int32."""
    out = {d: [Var(f"v_{d}", d)] for d in INT_DTYPES}
    i, j = Var("i"), Var("j")
    out["int32"] += [i, j]
    return out, {id(i): (0, 15), id(j): (-3, 40)}


@settings(max_examples=int(os.environ.get("EDGE_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_simplify_agrees_with_numpy_wraparound(data):
    """simplify(e) evaluates to e for random expressions, in every integer dtype, under wrap-around."""
    leaves, ranges = _leaves()
    dtype = data.draw(st.sampled_from(INT_DTYPES), label="dtype")
    e = data.draw(_expr(dtype, leaves, 4), label="expr")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    n = 64
    env = {}
    for vs in leaves.values():
        for v in vs:
            lo, hi = ranges.get(id(v), (None, None))
            env[id(v)] = (rng.integers(lo, hi, size=n, endpoint=True).astype(np.int32) if lo is not None
                          else _interesting(v.dtype, rng, n))
    s = simplify(e, ranges)
    assert s.dtype == e.dtype
    want, got = _np_eval(e, env, n), _np_eval(s, env, n)
    bad = np.nonzero(want != got)[0]
    assert bad.size == 0, (f"{e}  ->  {s}: first mismatch at sample {bad[:1]}: "
                           f"{ {v.name: env[id(v)][bad[0]] for vs in leaves.values() for v in vs} } "
                           f"want {want[bad[0]]} got {got[bad[0]]}")
    lo, hi = bound(e, ranges)
    assert np.all(want.astype(np.int64) >= lo) and np.all(want.astype(np.int64) <= hi), (str(e), lo, hi)


@st.composite
def _index_expr(draw, leaves, depth):
    """A random int32 index-like expression: linear terms, // and % by constants, min/max."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        if draw(st.integers(0, 2)):
            return draw(st.sampled_from(leaves))
        return Const(draw(st.sampled_from([0, 1, 2, 3, 4, 7, 8, 16, 255, 65536, 2 ** 31 - 1, -(2 ** 31), -1, -5])),
                     "int32")
    op = draw(st.sampled_from(["+", "-", "*", "//", "%", "min", "max"]))
    a = draw(_index_expr(leaves, depth - 1))
    if op in ("*", "//", "%"):
        c = draw(st.sampled_from([1, 2, 3, 4, 8, 16, 65536, 2 ** 30, -1, -4, 0]))
        b = Const(c, "int32")
    else:
        b = draw(_index_expr(leaves, depth - 1))
    return BinOp(op, a, b, "int32")


@settings(max_examples=int(os.environ.get("EDGE_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_simplify_index_arithmetic_and_comparisons_agree_with_numpy(data):
    """Index arithmetic (split/fuse shapes, overflowing coefficients) and comparisons of it simplify exactly."""
    i, j, k, v = Var("i"), Var("j"), Var("k"), Var("v")
    ranges = {id(i): (0, 15), id(j): (0, 3), id(k): (-8, 70000)}
    leaves = [i, j, k, v]
    e = data.draw(_index_expr(leaves, 5), label="expr")
    if data.draw(st.booleans(), label="compare"):
        e = Cmp(data.draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="])), e,
                data.draw(_index_expr(leaves, 3), label="rhs"))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    n = 64
    env = {id(x): rng.integers(*ranges[id(x)], size=n, endpoint=True).astype(np.int32) for x in (i, j, k)}
    env[id(v)] = _interesting("int32", rng, n)
    s = simplify(e, ranges)
    want, got = _np_eval(e, env, n), _np_eval(s, env, n)
    bad = np.nonzero(want != got)[0]
    assert bad.size == 0, (f"{e}  ->  {s}: i={env[id(i)][bad[0]]} j={env[id(j)][bad[0]]} k={env[id(k)][bad[0]]} "
                           f"v={env[id(v)][bad[0]]}: want {want[bad[0]]} got {got[bad[0]]}")


# item 5: folding must be exact under the dtype's wrap-around -----------------------------------

def test_mul_overflow_then_div_is_not_folded_away():
    x = Var("x")
    # x * 2**32 is 0 in int32, so the whole thing is 0 (numpy agrees)
    assert str(simplify(x * 65536 * 65536 // 65536)) == "0"
    # x * 65536 wraps for unbounded x: (x * 65536) // 65536 is not x
    s = simplify((x * 65536) // 65536)
    assert s is not x
    v = np.array([70000, -70000, 1, 40000], dtype=np.int32)
    assert np.array_equal(_np_eval(s, {id(x): v}, 4), (v * np.int32(65536)) // np.int32(65536))
    # when the bounds prove no wrap, the split/fuse folding still happens
    assert simplify((x * 65536) // 65536, {id(x): (0, 100)}) is x


def test_narrow_dtype_constant_folding_wraps():
    a, b = Const(100, "int8"), Const(100, "int8")
    assert simplify(BinOp("+", a, b, "int8")).value == -56
    assert simplify(BinOp("//", Const(-128, "int8"), Const(-1, "int8"), "int8")).value == -128
    assert simplify(BinOp("//", Const(-(2 ** 31), "int32"), Const(-1, "int32"), "int32")).value == -(2 ** 31)
    assert simplify(BinOp("%", Const(7, "uint32"), Const(0, "uint32"), "uint32")).value == 0
    assert simplify(BinOp("//", Const(7, "int32"), Const(0, "int32"), "int32")).value == 0


def test_bound_of_wide_loads_and_wrapping_ops():
    w = Var("w", "uint32")
    assert bound(w, {}) == (0, 2 ** 32 - 1)
    u = Var("u", "uint8")
    assert bound(u.astype("int32") * 4, {}) == (0, 1020)
    x = Var("x", "int8")
    # x + 100 may wrap in int8: the bound is the whole int8 range, not [-28, 227]
    assert bound(BinOp("+", x, Const(100, "int8"), "int8"), {}) == (-128, 127)
    i = Var("i")
    # i * 2**16 * 2**16 may leave int32 step by step: the bound is sound (the whole range) ...
    assert bound(i * 65536 * 65536, {id(i): (0, 3)}) == (-(2 ** 31), 2 ** 31 - 1)
    # ... and the linear form knows it is 0 (mod 2**32)
    assert bound(simplify(i * 65536 * 65536), {id(i): (0, 3)}) == (0, 0)


# item 7: comparisons decidable before emission ---------------------------------------------------

def test_self_comparisons_fold_for_ints_not_for_float_equalities():
    x = Var("x")
    assert simplify(x < x).value is False
    assert simplify(x <= x).value is True
    b = Var("b", "int8")
    assert simplify(BinOp("+", b, Const(1, "int8"), "int8") != BinOp("+", b, Const(1, "int8"), "int8")).value is False
    f = Var("f", "float32")
    assert simplify(f < f).value is False and simplify(f > f).value is False
    # NaN: f <= f and f == f are false, so they must stay
    assert isinstance(simplify(f <= f), Cmp) and isinstance(simplify(f == f), Cmp)


def test_comparisons_decided_by_dtype_range():
    u = Var("u", "uint8")
    assert simplify(u.astype("int32") < 300).value is True
    assert simplify(u >= 0).value is True
    assert simplify(u <= 255).value is True
    w = Var("w", "uint32")
    assert simplify(w >= 0).value is True
    i = Var("i")
    assert simplify(i <= 2 ** 31 - 1).value is True
    # x + 1 > x is not always true in int32 (x = INT_MAX wraps)
    assert isinstance(simplify(i + 1 > i), Cmp)


# item 3: constant zero divisor ------------------------------------------------------------------

@pytest.mark.parametrize("op", ["//", "%"])
def test_constant_zero_divisor_is_an_error(op):
    A = tir.placeholder((4,), "int32", name="A")
    with pytest.raises(tir.DTypeError, match=r"constant zero in \(A\[i\] (//|%) 0\)"):
        tir.compute((4,), lambda i: A[i] // 0 if op == "//" else A[i] % 0, name="C")
    with pytest.raises(tir.DTypeError, match="constant zero"):
        tir.compute((4,), lambda i: A[i] // tir.const(0) if op == "//" else A[i] % tir.const(0), name="C")


# item 4: constants that do not fit ----------------------------------------------------------------

def test_constant_that_does_not_fit_the_operand_dtype_is_an_error():
    A = tir.placeholder((4,), "int8", name="A")
    with pytest.raises(tir.DTypeError, match=r"constant 300 does not fit int8 \(the dtype of A\[i\]\)"):
        tir.compute((4,), lambda i: A[i] * 300, name="C")
    U = tir.placeholder((4,), "uint8", name="U")
    with pytest.raises(tir.DTypeError, match="constant -1 does not fit uint8"):
        tir.compute((4,), lambda i: U[i] + -1, name="C")
    with pytest.raises(tir.DTypeError, match="constant 300 does not fit int8"):
        tir.const(300, "int8")
    with pytest.raises(tir.DTypeError, match="constant -1 does not fit uint8"):
        tir.const(-1, "uint8")
    with pytest.raises(tir.DTypeError, match="constant 4294967296 does not fit uint32"):
        tir.const(2 ** 32, "uint32")
    with pytest.raises(tir.DTypeError, match="not a bool"):
        tir.const(2, "bool")
    # the edges of each range fit
    assert tir.const(-128, "int8").value == -128 and tir.const(2 ** 32 - 1, "uint32").value == 2 ** 32 - 1
    # an explicit cast wraps like C and numpy
    assert tir.const(300).astype("int8").value == 44
    assert tir.const(-1).astype("uint8").value == 255
    assert tir.const(2.9).astype("int32").value == 2 and tir.const(-2.9).astype("int32").value == -2
    # float to int saturates, NaN gives 0 (tir.evaluate's rule; C leaves it undefined)
    assert tir.const(300.0).astype("uint8").value == 255 and tir.const(-1e30).astype("int32").value == -(2 ** 31)
    assert tir.const(float("nan")).astype("int8").value == 0 and tir.const(float("nan")).astype("bool").value


def test_float32_constants_must_be_finite_and_fit():
    with pytest.raises(tir.DTypeError, match="overflows float32"):
        tir.const(1e39)
    with pytest.raises(tir.DTypeError, match="overflows float32"):
        tir.const(-1e39, "float32")
    # inf and nan are float32 values (the emitter prints them with __builtin_inff / __builtin_nanf)
    assert tir.const(float("-inf")).value == float("-inf") and np.isnan(tir.const(float("nan")).value)
    A = tir.placeholder((4,), "float32", name="A")
    with pytest.raises(tir.DTypeError, match="overflows float32"):
        tir.compute((4,), lambda i: A[i] * 1e39, name="C")
    # FLT_MAX itself and a value that rounds down to it are fine
    tir.const(float(np.finfo(np.float32).max))
    tir.const(3.4028235e38)
    # a value that rounds to zero in float32 is zero (a C literal 1e-50f would be a -Woverflow warning)
    assert tir.const(1e-50).value == 0.0 and tir.const(1e-45).value == 1e-45


def test_host_float_constant_edges_build_with_werror():
    n = 4
    A = tir.placeholder((n,), "float32", name="A")
    C = tir.compute((n,), lambda i: A[i] * 3.4028235e38 + 1e-50 + 1e-45, name="C")
    a = np.array([0.0, 0.5, -0.25, 1.0], dtype=np.float32)
    out = np.zeros(n, np.float32)
    _run(schedules.create_schedule(C), [A, C], [a, out])
    with np.errstate(over="ignore"):
        ref = a * np.float32(3.4028235e38) + np.float32(1e-50) + np.float32(1e-45)
    np.testing.assert_array_equal(out, ref)


def test_numpy_scalars_are_accepted_as_constants():
    A = tir.placeholder((4,), "int8", name="A")
    e = A[0] * np.int64(3)
    assert e.b.value == 3 and e.b.dtype == "int8"
    with pytest.raises(tir.DTypeError, match="constant 300 does not fit int8"):
        A[0] * np.int32(300)


# items 14 and 17: shapes and reduction bounds ----------------------------------------------------

@pytest.mark.parametrize("shape, what", [((2.5,), "float 2.5"), ((4, True), "bool True"),
                                         ((4, -1), "is -1"), ((0,), "is 0")])
def test_bad_placeholder_shape(shape, what):
    with pytest.raises(tir.TirError, match=rf"placeholder 'A': dimension {len(shape) - 1} .*{what}"):
        tir.placeholder(shape, "int32", name="A")


def test_bad_compute_shape():
    with pytest.raises(tir.TirError, match=r"compute 'C': dimension 1 .*float 3.0"):
        tir.compute((2, 3.0), lambda i, j: i + j, name="C")
    with pytest.raises(tir.TirError, match=r"compute 'C': dimension 0 .*symbolic"):
        tir.compute((tir.var("n"),), lambda i: i, name="C")
    assert tir.placeholder((np.int64(3), 2), name="A").shape == (3, 2)


def test_reduce_axis_needs_constant_int_bounds():
    A = tir.placeholder((8, 8), "int32", name="A")
    with pytest.raises(tir.TirError, match=r"reduce_axis 'k': upper bound is the symbolic value i; only constant"):
        tir.compute((8,), lambda i: tir.sum(A[i, tir.reduce_axis((0, i), "k")],
                                            axis=tir.reduce_axis((0, i), "k")), name="C")
    with pytest.raises(tir.TirError, match="reduce_axis 'k': upper bound is the float 2.5"):
        tir.reduce_axis((0, 2.5), "k")
    with pytest.raises(tir.TirError, match="reduce_axis 'k': lower bound is the bool"):
        tir.reduce_axis((False, 2), "k")
    with pytest.raises(tir.TirError, match="empty range"):
        tir.reduce_axis((3, 3), "k")
    assert tir.reduce_axis((np.int32(1), 5), "k").dom == tir.Range(1, 4)


# host builds (-Werror) compared with numpy ---------------------------------------------------------

def _run(s, args, arrays):
    func = tir.lower(s, args)
    codegen_c.build(func)(*arrays)
    return func


def _mul_div_case(f):
    n = 8
    A = tir.placeholder((n,), "int32", name="A")
    C = tir.compute((n,), lambda i: f(A[i], 65536), name="C")
    a = np.array([1, -1, 70000, -70000, 2 ** 31 - 1, -(2 ** 31), 40000, 3], dtype=np.int32)
    out = np.zeros(n, np.int32)
    _run(schedules.create_schedule(C), [A, C], [a, out])
    np.testing.assert_array_equal(out, f(a, np.int32(65536)))


def test_host_mul_overflow_div_matches_numpy():
    # the simplifier folds x * 2**32 to 0 (exact mod 2**32), so no overflowing C is left
    _mul_div_case(lambda x, c: x * c * c // c)


def test_host_mul_overflow_then_div_matches_numpy():
    # the IR keeps the division (the product may wrap); the emitted C must wrap like numpy too
    _mul_div_case(lambda x, c: x * c // c)


def test_host_int8_wraparound_matches_numpy():
    n = 16
    A = tir.placeholder((n,), "int8", name="A")
    C = tir.compute((n,), lambda i: (A[i] * 3 + 100) // 3 % 7, name="C")
    a = np.arange(-128, 128, 16, dtype=np.int8)
    out = np.zeros(n, np.int8)
    _run(schedules.create_schedule(C), [A, C], [a, out])
    np.testing.assert_array_equal(out, (a * np.int8(3) + np.int8(100)) // np.int8(3) % np.int8(7))


def test_host_inlined_self_comparison_builds_with_werror():
    """Inlining turns T[i] < T[i] into A[i] < A[i] (gcc: -Werror=tautological-compare) unless folded."""
    n = 8
    A = tir.placeholder((n,), "int8", name="A")
    W = tir.placeholder((n,), "uint32", name="W")
    T = tir.compute((n,), lambda i: A[i], name="T")
    V = tir.compute((n,), lambda i: W[i], name="V")
    C = tir.compute((n,), lambda i: tir.if_then_else(T[i] < T[i], tir.const(1), tir.const(0))
                    + tir.if_then_else(T[i] <= T[i], tir.const(2), tir.const(0))
                    + tir.if_then_else(V[i] != V[i], tir.const(4), tir.const(0))
                    + tir.if_then_else(V[i] >= V[i], tir.const(8), tir.const(0)), name="C")
    s = schedules.create_schedule(C)
    s[T].compute_inline()
    s[V].compute_inline()
    a = np.arange(n, dtype=np.int8)
    w = np.arange(n, dtype=np.uint32) * 1000
    out = np.full(n, -5, np.int32)
    _run(s, [A, W, C], [a, w, out])
    np.testing.assert_array_equal(out, np.full(n, 10, np.int32))


def test_host_range_decided_comparisons_build_with_werror():
    n = 8
    U = tir.placeholder((n,), "uint8", name="U")
    W = tir.placeholder((n,), "uint32", name="W")
    C = tir.compute((n,), lambda i: tir.if_then_else(U[i].astype("int32") < 300, tir.const(1), tir.const(0))
                    + tir.if_then_else(U[i] >= 0, tir.const(2), tir.const(0))
                    + tir.if_then_else(W[i] >= 0, tir.const(4), tir.const(0))
                    + tir.if_then_else(U[i].astype("int16") < 200, tir.const(8), tir.const(0)), name="C")
    u = np.array([0, 1, 199, 200, 254, 255, 7, 100], dtype=np.uint8)
    w = np.array([0, 1, 2 ** 32 - 1, 2 ** 31, 5, 6, 7, 8], dtype=np.uint32)
    out = np.zeros(n, np.int32)
    _run(schedules.create_schedule(C), [U, W, C], [u, w, out])
    np.testing.assert_array_equal(out, 1 + 2 + 4 + 8 * (u.astype(np.int16) < 200))


def test_host_uint32_division_matches_numpy():
    n = 8
    W = tir.placeholder((n,), "uint32", name="W")
    C = tir.compute((n,), lambda i: (W[i] * 3) // 3 + W[i] % 5, name="C")
    w = np.array([0, 1, 2 ** 32 - 1, 2 ** 31, 1431655766, 6, 7, 8], dtype=np.uint32)
    out = np.zeros(n, np.uint32)
    _run(schedules.create_schedule(C), [W, C], [w, out])
    np.testing.assert_array_equal(out, (w * np.uint32(3)) // np.uint32(3) + w % np.uint32(5))


def test_host_divisor_that_simplifies_to_zero_gives_zero():
    """A divisor that is zero only after simplification follows the run-time rule (0), in C too."""
    n = 8
    A = tir.placeholder((n,), "int8", name="A")
    B = tir.placeholder((n,), "int32", name="B")
    z8 = tir.const(5, "int32").astype("int8") - tir.const(5, "int8")
    C = tir.compute((n,), lambda i: (A[i] // z8).astype("int32") + (A[i] % z8).astype("int32")
                    + B[i] // (i - i) + B[i] % (i * 2 - i - i), name="C")
    a = np.arange(n, dtype=np.int8) - 3
    b = np.arange(n, dtype=np.int32) * 7
    out = np.full(n, -1, np.int32)
    func = _run(schedules.create_schedule(C), [A, B, C], [a, b, out])
    assert "/" not in codegen_c.emit(func).split("void main_", 1)[1]
    np.testing.assert_array_equal(out, np.zeros(n, np.int32))


def test_host_decided_select_inside_arithmetic_folds_with_werror():
    """A select whose condition folds becomes a constant of the linear form, not an atom: C would otherwise
    see 65536 * -1228401855 (-Werror=overflow)."""
    n = 8
    W = tir.placeholder((n,), "uint32", name="W")
    A = tir.placeholder((n,), "int32", name="A")
    C = tir.compute((n,), lambda i: tir.max(tir.if_then_else(W[i] != W[i], 0, 65536) * -1228401855, 2) + A[i],
                    name="C")
    w = np.arange(n, dtype=np.uint32)
    a = np.arange(n, dtype=np.int32) - 4
    out = np.zeros(n, np.int32)
    func = _run(schedules.create_schedule(C), [W, A, C], [w, a, out])
    assert "1228401855" not in codegen_c.emit(func)
    with np.errstate(over="ignore"):
        ref = np.maximum(np.int32(65536) * np.int32(-1228401855), np.int32(2)) + a
    np.testing.assert_array_equal(out, ref)


def test_host_narrow_identities_fold_with_werror():
    """x - x, a select with equal branches and 0 // x fold in narrow dtypes too (gcc: -Werror=type-limits
    on (uint8_t)(x - x) > y, -Werror=tautological-compare on a select of x compared with x)."""
    n = 8
    U = tir.placeholder((n,), "uint8", name="U")
    B = tir.placeholder((n,), "int8", name="B")
    d = tir.if_then_else(U[0] <= tir.const(0, "uint8"), tir.const(1, "uint8"), U[0])
    C = tir.compute((n,), lambda i: tir.if_then_else(
        tir.if_then_else(B[i] < B[i], U[i], U[i]) > U[i], 65536,
        tir.if_then_else(U[i] - U[i] > U[i] % d - tir.const(0, "uint8") // d, 7, 256)), name="C")
    u = np.array([0, 1, 2, 100, 200, 254, 255, 3], dtype=np.uint8)
    b = np.arange(n, dtype=np.int8)
    out = np.zeros(n, np.int32)
    _run(schedules.create_schedule(C), [U, B, C], [u, b, out])
    np.testing.assert_array_equal(out, np.full(n, 256, np.int32))
