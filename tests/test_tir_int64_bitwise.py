"""int64 / uint64, the bitwise and shift operators and saturate_cast (issue 13, tensor language part).

Every operation is checked three ways against a reference written here with Python integers:
tir.evaluate (numpy), the simplifier's constant folding, and the generated C on the host; int64
arithmetic also on the simulated VexRiscv (rv32: 64-bit multiply is mul / mulhu, no libgcc call).
"""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codegen_c
import schedules
import simulator
import tir
from tir import dtype as dt
from tir.errors import CodegenError, DTypeError
from tir.expr import BinOp, Const, bitwise_value, shift_amount

INTS = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
N = 64


def wrap(v: int, dtype: str) -> int:
    b = dt.bits(dtype)
    v &= (1 << b) - 1
    if dt.is_signed(dtype) and v >= 1 << (b - 1):
        v -= 1 << b
    return v


def ref(op: str, x: int, y: int, dtype: str) -> int:
    """The documented semantics, independently: shift amounts modulo the width (floor modulo)."""
    w = dt.bits(dtype)
    if op == "&":
        return wrap(x & y, dtype)
    if op == "|":
        return wrap(x | y, dtype)
    if op == "^":
        return wrap(x ^ y, dtype)
    if op == "<<":
        return wrap(x * 2 ** (y % w), dtype)
    if op == ">>":
        return wrap(math.floor(x / 2 ** (y % w)) if abs(x) < 2 ** 52 else x >> (y % w), dtype)
    if op == "+":
        return wrap(x + y, dtype)
    if op == "-":
        return wrap(x - y, dtype)
    if op == "*":
        return wrap(x * y, dtype)
    if op == "//":
        return wrap(x // y, dtype)
    if op == "%":
        return wrap(x % y, dtype)
    raise AssertionError(op)


def edge_values(dtype: str) -> list[int]:
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    w = dt.bits(dtype)
    vals = [lo, hi, 0, 1, 2, lo + 1, hi - 1, 7, w - 1, w, w + 1, 31, 32, 33, 63, 64, 65]
    if dt.is_signed(dtype):
        vals += [-1, -2, -w, -w - 1, -31, -32, -63, -64]
    return [v for v in vals if lo <= v <= hi]


def inputs(dtype: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of edge values first, random values for the rest."""
    e = edge_values(dtype)
    pairs = [(x, y) for x in e for y in e]
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    npd = dt.numpy_dtype(dtype)
    n = len(pairs) + N
    a = np.empty(n, npd)
    b = np.empty(n, npd)
    a[:len(pairs)] = [p[0] for p in pairs]
    b[:len(pairs)] = [p[1] for p in pairs]
    a[len(pairs):] = rng.integers(lo, hi, N, dtype=npd, endpoint=True)
    b[len(pairs):] = rng.integers(lo, hi, N, dtype=npd, endpoint=True)
    return a, b


def build_binary(dtype: str, n: int, fn, name: str):
    A = tir.placeholder((n,), dtype, name="A")
    B = tir.placeholder((n,), dtype, name="B")
    C = tir.compute((n,), lambda i: fn(A[i], B[i]), name="C")
    func = tir.lower(schedules.create_schedule(C), [A, B, C], name)
    return C, func


BITOPS = {
    "&": lambda x, y: x & y,
    "|": lambda x, y: x | y,
    "^": lambda x, y: x ^ y,
    "<<": lambda x, y: x << y,
    ">>": lambda x, y: x >> y,
}


# --- host C vs numpy vs the reference ---------------------------------------------------------

@pytest.mark.parametrize("dtype", INTS)
def test_bitwise_and_shifts_host_c_numpy_reference(dtype):
    rng = np.random.default_rng(13)
    a, b = inputs(dtype, rng)
    n = a.size
    for op, fn in BITOPS.items():
        C, func = build_binary(dtype, n, fn, f"bit_{dtype}")
        want = np.array([ref(op, int(x), int(y), dtype) for x, y in zip(a, b)], dt.numpy_dtype(dtype))
        got_np = tir.evaluate(C, [a, b])
        np.testing.assert_array_equal(got_np, want, err_msg=f"evaluate {dtype} {op}")
        out = np.zeros(n, dt.numpy_dtype(dtype))
        codegen_c.build(func, "host")(a, b, out)
        np.testing.assert_array_equal(out, want, err_msg=f"host C {dtype} {op}")


@pytest.mark.parametrize("dtype", INTS)
def test_invert_and_constant_shifts(dtype):
    rng = np.random.default_rng(7)
    a, _ = inputs(dtype, rng)
    n = a.size
    w = dt.bits(dtype)
    amounts = [0, 1, w - 1, w, w + 1] + ([-1, -w] if dt.is_signed(dtype) else [])
    amounts = [s for s in amounts if dt.fits(s, dtype)]
    A = tir.placeholder((n,), dtype, name="A")
    outs = [tir.compute((n,), lambda i: ~A[i], name="inv")]
    def shl(s):
        return lambda i: A[i] << s

    def shr(s):
        return lambda i: A[i] >> s

    for k, s in enumerate(amounts):
        outs.append(tir.compute((n,), shl(s), name=f"shl{k}"))
        outs.append(tir.compute((n,), shr(s), name=f"shr{k}"))
    func = tir.lower(schedules.create_schedule(outs), [A, *outs], f"cs_{dtype}")
    bufs = [np.zeros(n, dt.numpy_dtype(dtype)) for _ in outs]
    codegen_c.build(func, "host")(a, *bufs)
    ev = tir.evaluate(outs, [a])
    npd = dt.numpy_dtype(dtype)
    wants = [np.array([wrap(~int(x), dtype) for x in a], npd)]
    for s in amounts:
        wants.append(np.array([ref("<<", int(x), s, dtype) for x in a], npd))
        wants.append(np.array([ref(">>", int(x), s, dtype) for x in a], npd))
    for t, got, e, want in zip(outs, bufs, ev, wants):
        np.testing.assert_array_equal(e, want, err_msg=f"evaluate {t.name}")
        np.testing.assert_array_equal(got, want, err_msg=f"host C {t.name}")


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_int64_arithmetic_host(dtype):
    rng = np.random.default_rng(64)
    a, b = inputs(dtype, rng)
    n = a.size
    fns = {
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
    }
    for op, fn in fns.items():
        C, func = build_binary(dtype, n, fn, f"ar_{dtype}")
        want = np.array([ref(op, int(x), int(y), dtype) for x, y in zip(a, b)], dt.numpy_dtype(dtype))
        np.testing.assert_array_equal(tir.evaluate(C, [a, b]), want, err_msg=f"evaluate {op}")
        out = np.zeros(n, dt.numpy_dtype(dtype))
        codegen_c.build(func, "host")(a, b, out)
        np.testing.assert_array_equal(out, want, err_msg=f"host C {op}")
    def divmod_by(op, d):
        return lambda x, y: x // d if op == "//" else x % d

    for d in (1, 2, 8, 1 << 20, 1 << 40, 1 << 62):
        for op in ("//", "%"):
            C, func = build_binary(dtype, n, divmod_by(op, d), f"dv_{dtype}")
            want = np.array([ref(op, int(x), d, dtype) for x in a], dt.numpy_dtype(dtype))
            np.testing.assert_array_equal(tir.evaluate(C, [a]), want, err_msg=f"evaluate {op} {d}")
            out = np.zeros(n, dt.numpy_dtype(dtype))
            codegen_c.build(func, "host")(a, b, out)
            np.testing.assert_array_equal(out, want, err_msg=f"host C {op} {d}")


def test_int64_division_by_non_power_of_two_is_an_error():
    x = tir.var("x", "int64")
    y = tir.var("y", "int64")
    for bad in (lambda: x // 3, lambda: x % 10, lambda: x // y, lambda: x % y, lambda: x // -4):
        with pytest.raises(DTypeError, match="64-bit division"):
            bad()
    u = tir.var("u", "uint64")
    with pytest.raises(DTypeError, match="uint64"):
        u // 5
    # a node built directly (past the constructor) is refused by the emitter, naming the expression
    A = tir.placeholder((4,), "int64", name="A")
    C = tir.compute((4,), lambda i: BinOp("//", A[i], Const(3, "int64"), "int64"), name="C")
    func = tir.lower(schedules.create_schedule(C), [A, C], "bad_div")
    with pytest.raises(CodegenError, match=r"A\[i\] // int64\(3\)"):
        codegen_c.emit(func, "host")


# --- dtype errors and the printer -------------------------------------------------------------

def test_mixed_dtype_and_float_errors():
    A = tir.placeholder((4,), "int8", name="A")
    F = tir.placeholder((4,), "float32", name="F")
    i = tir.var("i")
    assert str(A[i] >> 3) == "A[i] >> int8(3)"  # no bare TypeError: the int constant takes A's dtype
    for op in ("<<", ">>", "&", "|", "^"):
        with pytest.raises(DTypeError, match=r"A\[i\] is int8, F\[i\] is float32"):
            BITOPS[op](A[i], F[i])
        with pytest.raises(DTypeError, match="float"):
            BITOPS[op](F[i], F[i])
    with pytest.raises(DTypeError, match="int8"):
        A[i] << A[i].astype("int32")
    with pytest.raises(DTypeError, match="float32"):
        ~F[i]
    with pytest.raises(DTypeError, match="does not fit int8"):
        A[i] << 200
    with pytest.raises(DTypeError, match="bool"):
        (A[i] > 0) & (A[i] < 3)  # bitwise on bool: use tir.all
    # reflected forms
    assert str(3 << A[i]) == "int8(3) << A[i]"
    assert str(1 | A[i] ^ 2 & A[i]) == "int8(1) | A[i] ^ int8(2) & A[i]"
    assert str((A[i] + 1) << 2) == "A[i] + int8(1) << int8(2)"
    assert str(A[i] + (1 << A[i])) == "A[i] + (int8(1) << A[i])"


def test_int64_constants_and_dtype():
    assert dt.c_type("int64") == "int64_t" and dt.c_type("uint64") == "uint64_t"
    assert tir.const(-(2 ** 63), "int64").value == -(2 ** 63)
    with pytest.raises(DTypeError):
        tir.const(2 ** 63, "int64")
    A = tir.placeholder((2,), "int64", name="A")
    C = tir.compute((2,), lambda i: A[i] + tir.const(-(2 ** 63), "int64") - (2 ** 62), name="C")
    func = tir.lower(schedules.create_schedule(C), [A, C], "k64")
    src = codegen_c.emit(func, "host")
    assert "(-INT64_C(9223372036854775807) - 1)" in src
    a = np.array([0, -5], np.int64)
    out = np.zeros(2, np.int64)
    codegen_c.build(func, "host")(a, out)
    np.testing.assert_array_equal(out, tir.evaluate(C, [a]))
    np.testing.assert_array_equal(out, [wrap(x - 2 ** 63 - 2 ** 62, "int64") for x in (0, -5)])


# --- the simplifier folds exactly as evaluate computes ----------------------------------------

@pytest.mark.parametrize("dtype", INTS)
def test_simplify_folds_like_the_reference(dtype):
    e = edge_values(dtype)
    for op in BITOPS:
        for x in e:
            for y in e:
                folded = tir.simplify(BinOp(op, Const(x, dtype), Const(y, dtype), dtype))
                assert isinstance(folded, Const) and folded.value == ref(op, x, y, dtype), (op, x, y)
                assert bitwise_value(op, x, y, dtype) == ref(op, x, y, dtype)
    v = tir.var("v", dtype)
    w = dt.bits(dtype)
    if dt.fits(w, dtype):
        assert tir.same(tir.simplify(v << w), v)  # a shift by the width is by 0
    assert not isinstance(tir.simplify(v >> 1), Const)
    assert shift_amount(-1, dtype) == w - 1


def test_simplify_bounds_of_and_and_shift():
    i = tir.var("i")
    # (i & 7) is in [0, 7], (i >> 4) with i in [0, 255] is in [0, 15]: comparisons decide
    r = {id(i): (0, 255)}
    assert tir.simplify((i & 7) < 8, r).value is True
    assert tir.simplify((i >> 4) <= 15, r).value is True
    assert not isinstance(tir.simplify((i >> 4) <= 14, r), Const)
    assert not isinstance(tir.simplify((i & -8) < 300, {}), Const)  # -8 is negative: no bound from it


# --- saturating casts ------------------------------------------------------------------------

SAT = [("int32", "int8"), ("int32", "uint8"), ("int64", "int32"), ("int32", "uint32"), ("uint32", "int32"),
       ("uint64", "int64"), ("int64", "uint64"), ("int8", "int64"), ("uint16", "int8"), ("int16", "uint16")]


@pytest.mark.parametrize("src,dst", SAT)
def test_saturate_cast_int(src, dst):
    rng = np.random.default_rng(3)
    a, _ = inputs(src, rng)
    n = a.size
    A = tir.placeholder((n,), src, name="A")
    C = tir.compute((n,), lambda i: tir.saturate_cast(A[i], dst), name="C")
    D = tir.compute((n,), lambda i: A[i].astype(dst, saturate=True), name="D")
    func = tir.lower(schedules.create_schedule([C, D]), [A, C, D], "sat")
    lo, hi = dt.min_value(dst), dt.max_value(dst)
    want = np.array([min(max(int(x), lo), hi) for x in a], dt.numpy_dtype(dst))
    c, d = (np.zeros(n, dt.numpy_dtype(dst)) for _ in range(2))
    codegen_c.build(func, "host")(a, c, d)
    ev = tir.evaluate([C, D], [a])
    for got in (c, d, *ev):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dst", ["int8", "uint8", "int32", "uint32", "int64", "uint64"])
def test_saturate_cast_float(dst):
    f = np.float32
    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.9, -0.9, 1.5, -1.5, 127.9, 128.0, -128.9, -129.0,
                     255.5, 256.0, 2.0 ** 31, -2.0 ** 31, 2.0 ** 32, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 1e30,
                     -1e30, 3.4e38], f)
    n = vals.size
    A = tir.placeholder((n,), "float32", name="A")
    C = tir.compute((n,), lambda i: tir.saturate_cast(A[i], dst), name="C")
    func = tir.lower(schedules.create_schedule(C), [A, C], "satf")
    lo, hi = dt.min_value(dst), dt.max_value(dst)
    want = np.array([0 if math.isnan(x) else min(max(math.trunc(x), lo), hi) if math.isfinite(x)
                     else (hi if x > 0 else lo) for x in vals.tolist()], dt.numpy_dtype(dst))
    out = np.zeros(n, dt.numpy_dtype(dst))
    codegen_c.build(func, "host")(vals, out)
    np.testing.assert_array_equal(tir.evaluate(C, [vals]), want)
    np.testing.assert_array_equal(out, want)
    for x, w in zip(vals.tolist(), want.tolist()):  # constant folding agrees
        if math.isfinite(x):
            assert tir.saturate_cast(tir.const(x), dst).value == w
    with pytest.raises(DTypeError, match="bool"):
        tir.saturate_cast(A[0], "bool")


# --- rv32: 64-bit multiply on the simulated VexRiscv, no libgcc ------------------------------

RV_GCC = shutil.which("riscv64-unknown-elf-gcc")
RV_NM = shutil.which("riscv64-unknown-elf-nm")


def _int64_kernel():
    n = 24
    A = tir.placeholder((n,), "int64", name="A")
    B = tir.placeholder((n,), "int64", name="B")
    U = tir.placeholder((n,), "uint64", name="U")
    C = tir.compute((n,), lambda i: A[i] * B[i] + (A[i] >> 7) - A[i] // 16 + (A[i] & B[i]) * 3, name="C")
    D = tir.compute((n,), lambda i: (U[i] * U[i]) ^ (U[i] >> 3) | (U[i] % 64), name="D")
    E = tir.compute((n,), lambda i: (A[i] << B[i]) + (A[i] >> B[i]), name="E")
    func = tir.lower(schedules.create_schedule([C, D, E]), [A, B, U, C, D, E], "mul64")
    return (A, B, U), (C, D, E), func


@pytest.mark.skipif(RV_GCC is None or RV_NM is None, reason="no riscv64-unknown-elf-gcc")
def test_int64_rv32_needs_no_library_call(tmp_path):
    _, _, func = _int64_kernel()
    src = codegen_c.emit(func, "rv32im")
    c = tmp_path / "k.c"
    c.write_text(src)
    for opt in ("-O0", "-O2", "-Os"):
        o = tmp_path / f"k{opt}.o"
        subprocess.run([RV_GCC, "-march=rv32im", "-mabi=ilp32", opt, "-std=c99", "-Wall", "-Wextra", "-Werror",
                        "-ffreestanding", "-c", str(c), "-o", str(o)], check=True, capture_output=True)
        undef = subprocess.run([RV_NM, "-u", str(o)], check=True, capture_output=True, text=True).stdout.split()
        assert [s for s in undef if s != "U"] == [], f"{opt}: the kernel needs {undef}"


def test_int64_on_vexriscv():
    (A, B, U), outs, func = _int64_kernel()
    rng = np.random.default_rng(5)
    n = A.shape[0]
    a = rng.integers(-2 ** 63, 2 ** 63 - 1, n, dtype=np.int64, endpoint=True)
    b = rng.integers(-2 ** 63, 2 ** 63 - 1, n, dtype=np.int64, endpoint=True)
    u = rng.integers(0, 2 ** 64 - 1, n, dtype=np.uint64, endpoint=True)
    a[:6] = [-2 ** 63, 2 ** 63 - 1, -1, 0, 1, -(2 ** 32)]
    b[:8] = [-1, 2 ** 63 - 1, 0, 31, 32, 63, -64, 2 ** 32 + 1]
    u[:2] = [2 ** 64 - 1, 2 ** 32]
    bufs = [np.zeros(n, np.int64), np.zeros(n, np.uint64), np.zeros(n, np.int64)]
    r = simulator.run(func, [a, b, u, *bufs], "vexriscv")
    assert r.cycles > 0
    for t, got, want in zip(outs, bufs, tir.evaluate(list(outs), [a, b, u])):
        np.testing.assert_array_equal(got, want, err_msg=t.name)
    want_c = [wrap(int(x) * int(y) + (int(x) >> 7) - int(x) // 16 + (int(x) & int(y)) * 3, "int64")
              for x, y in zip(a, b)]
    np.testing.assert_array_equal(bufs[0], np.array(want_c, np.int64))


# --- a property test: random shift / bitwise trees, evaluate vs folding vs the reference ------

def _tree(draw, dtype, depth):
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    if depth == 0 or draw(st.booleans()):
        return draw(st.integers(lo, hi))
    op = draw(st.sampled_from(["&", "|", "^", "<<", ">>", "+", "-", "*", "~"]))
    if op == "~":
        return ("~", _tree(draw, dtype, depth - 1))
    return (op, _tree(draw, dtype, depth - 1), _tree(draw, dtype, depth - 1))


@st.composite
def trees(draw):
    dtype = draw(st.sampled_from(INTS))
    return dtype, _tree(draw, dtype, 4)


def _value(t, dtype):
    if isinstance(t, int):
        return t
    if t[0] == "~":
        return wrap(~_value(t[1], dtype), dtype)
    return ref(t[0], _value(t[1], dtype), _value(t[2], dtype), dtype)


def _expr(t, dtype, leaf):
    """The tree as an Expr; integer leaves read the placeholder at index ``leaf[k]``."""
    if isinstance(t, int):
        k = len(leaf[1])
        leaf[1].append(t)
        return leaf[0][k]
    if t[0] == "~":
        return ~_expr(t[1], dtype, leaf)
    return BinOp(t[0], _expr(t[1], dtype, leaf), _expr(t[2], dtype, leaf), dtype) if t[0] in BITOPS \
        else tir.expr.binop(t[0], _expr(t[1], dtype, leaf), _expr(t[2], dtype, leaf))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(trees())
def test_property_bitwise_trees(case):
    dtype, t = case
    want = _value(t, dtype)
    # constant folding
    consts = _expr_const(t, dtype)
    folded = tir.simplify(consts)
    assert isinstance(folded, Const) and folded.value == want
    # evaluate with the leaves read from a tensor (no folding possible)
    leaves: list[int] = []
    X = tir.placeholder((64,), dtype, name="X")
    body = _expr(t, dtype, (X, leaves))
    C = tir.compute((1,), lambda i: body, name="C")
    x = np.zeros(64, dt.numpy_dtype(dtype))
    x[:len(leaves)] = leaves
    assert int(tir.evaluate(C, [x])[0]) == want


def _expr_const(t, dtype):
    if isinstance(t, int):
        return Const(t, dtype)
    if t[0] == "~":
        return ~_expr_const(t[1], dtype)
    return BinOp(t[0], _expr_const(t[1], dtype), _expr_const(t[2], dtype), dtype)


def _returns(body):
    return lambda i: body


@st.composite
def tree_batches(draw):
    dtype = draw(st.sampled_from(INTS))
    return dtype, [_tree(draw, dtype, 4) for _ in range(12)]


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(tree_batches())
def test_property_bitwise_trees_host_c(case):
    """Random trees of & | ^ << >> ~ + - * over one integer dtype: host C == evaluate == the reference."""
    dtype, ts = case
    npd = dt.numpy_dtype(dtype)
    X = tir.placeholder((256,), dtype, name="X")
    leaves: list[int] = []
    outs = []
    for k, t in enumerate(ts):
        body = _expr(t, dtype, (X, leaves))
        outs.append(tir.compute((1,), _returns(body), name=f"T{k}"))
    func = tir.lower(schedules.create_schedule(outs), [X, *outs], "prop_bits")
    x = np.zeros(256, npd)
    x[:len(leaves)] = leaves
    bufs = [np.zeros(1, npd) for _ in outs]
    codegen_c.build(func, "host")(x, *bufs)
    ev = tir.evaluate(outs, [x])
    for t, got, e in zip(ts, bufs, ev):
        want = _value(t, dtype)
        assert int(e[0]) == want, t
        assert int(got[0]) == want, (t, codegen_c.emit(func, "host"))


def test_itervar_bitwise_index():
    """Shifts and masks of axis variables work in indices (IterVar delegates to its variable)."""
    A = tir.placeholder((32,), "int32", name="A")
    C = tir.compute((8, 4), lambda i, j: A[(i << 2) | (j & 3)] + (A[i] >> (j + 30)), name="C")
    func = tir.lower(schedules.create_schedule(C), [A, C], "idx_bits")
    a = np.arange(-16, 16, dtype=np.int32) * 100003
    out = np.zeros((8, 4), np.int32)
    codegen_c.build(func, "host")(a, out)
    want = np.array([[wrap(int(a[i * 4 + j]) + (int(a[i]) >> ((j + 30) % 32)), "int32") for j in range(4)]
                     for i in range(8)], np.int32)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(tir.evaluate(C, [a]), want)


def test_simplify_bounds_of_or_xor_shl():
    i = tir.var("i")
    r = {id(i): (0, 100)}
    assert tir.simplify((i | 3) < 128, r).value is True
    assert not isinstance(tir.simplify((i | 3) < 127, r), Const)
    assert tir.simplify((i ^ 5) <= 127, r).value is True
    assert tir.simplify((i << 3) <= 800, r).value is True
    assert not isinstance(tir.simplify((i << 3) <= 799, r), Const)
    # a shift that may wrap has no bound tighter than the dtype
    big = {id(i): (0, 2 ** 30)}
    assert not isinstance(tir.simplify((i << 2) >= 0, big), Const)
