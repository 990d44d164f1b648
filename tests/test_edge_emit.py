"""The emitted C at the edges of its dtypes, checked against numpy on the host and the simulated VexRiscv.

bool buffers are one byte holding 0 or 1; integer division and modulo follow numpy (x // 0 == 0,
INT_MIN // -1 wraps, floor rounding) on every target; integer + - * wrap around by the C standard
(no signed overflow the optimizer may exploit) under gcc and zig at -O2 and -O3; float max / min
propagate NaN and the float max / min identities are -inf / inf; float32 constants are exact; names
that are C keywords, header names or runtime symbols still build and run.
"""

import numpy as np
import pytest

import codegen_c
import schedules
import simulator
import tir
from codegen_c.build import Module, compile_shared
from simulator import Toolchain

I32_MIN, I32_MAX = -(2 ** 31), 2 ** 31 - 1
INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]


def _func(outputs, args, name="k"):
    s = schedules.create_schedule(outputs)
    return tir.lower(s, args, name=name)


def _host(func, arrays, flags=()):
    """Compile ``func`` for the host with extra compiler flags (a later -O3 overrides -O2) and run it."""
    src = codegen_c.emit(func, "host")
    Module(func, src, compile_shared(src, tuple(flags)), "host")(*arrays)


def _i32(x):
    return tir.const(x, "int32")


# --- item 1: bool is one byte -------------------------------------------------------------------

def test_bool_output_is_one_byte_per_element_holding_0_or_1():
    n = 16
    A = tir.placeholder((n,), "int32", "A")
    B = tir.placeholder((n,), "int32", "B")
    L = tir.compute((n,), lambda i: A[i] < B[i], name="L")
    Both = tir.compute((n,), lambda i: tir.all(A[i] > 0, B[i] > 0), name="Both")
    NZ = tir.compute((n,), lambda i: A[i].astype("bool"), name="NZ")
    func = _func([L, Both, NZ], [A, B, L, Both, NZ])
    src = codegen_c.emit(func)
    assert "uint8_t *restrict L" in src and "int32_t *restrict L" not in src
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, n).astype(np.int32)
    b = rng.integers(-3, 4, n).astype(np.int32)
    # each output is the head of a larger array: a write past its 16 bytes would show in the tail
    bigs = [np.full(n + 64, True) for _ in range(3)]
    outs = [big[:n] for big in bigs]
    for o in outs:
        o[...] = False
    codegen_c.build(func)(a, b, *outs)
    for o, want in zip(outs, [a < b, (a > 0) & (b > 0), a != 0]):
        np.testing.assert_array_equal(o, want)
        assert set(np.unique(o.view(np.uint8))) <= {0, 1}
    for big in bigs:
        assert big[n:].all()


# --- items 3 and 10: integer division and modulo like numpy ------------------------------------

def _div_inputs(dtype):
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    a = [7, -7, 7, -7, 0, 5, -5, lo, lo, hi, lo, hi, 1, -1, 6, 3]
    b = [2, 2, -2, -2, 3, 0, 0, -1, 1, -1, 0, 0, lo, lo, 3, -4]
    if lo == 0:  # unsigned: the negatives become large values
        a = [x % (hi + 1) for x in a]
        b = [x % (hi + 1) for x in b]
    return np.array(a, dtype=dtype), np.array(b, dtype=dtype)


def _divmod_func(dtype, n=16, name="k"):
    A = tir.placeholder((n,), dtype, "A")
    B = tir.placeholder((n,), dtype, "B")
    Q = tir.compute((n,), lambda i: A[i] // B[i], name="Q")
    R = tir.compute((n,), lambda i: A[i] % B[i], name="R")
    return _func([Q, R], [A, B, Q, R], name)


def _numpy_divmod(a, b):
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return a // b, a % b


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_division_and_modulo_match_numpy_on_host(dtype):
    a, b = _div_inputs(dtype)
    q, r = np.zeros_like(a), np.zeros_like(a)
    codegen_c.build(_divmod_func(dtype))(a, b, q, r)  # no SIGFPE for x // 0 or INT_MIN // -1
    wq, wr = _numpy_divmod(a, b)
    np.testing.assert_array_equal(q, wq)
    np.testing.assert_array_equal(r, wr)


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint32"])
def test_division_and_modulo_match_numpy_on_vexriscv(dtype):
    a, b = _div_inputs(dtype)
    q, r = np.zeros_like(a), np.zeros_like(a)
    simulator.run(_divmod_func(dtype), [a, b, q, r], "vexriscv")
    wq, wr = _numpy_divmod(a, b)
    np.testing.assert_array_equal(q, wq)
    np.testing.assert_array_equal(r, wr)


def test_division_by_the_issue_example_on_vexriscv():
    a = np.array([7, -7, 5, -7], np.int32)
    b = np.array([2, 0, 0, -2], np.int32)
    q, r = np.zeros(4, np.int32), np.zeros(4, np.int32)
    simulator.run(_divmod_func("int32", 4), [a, b, q, r], "vexriscv")
    np.testing.assert_array_equal(q, [3, 0, 0, 3])
    np.testing.assert_array_equal(r, [1, 0, 0, -1])


def test_division_by_a_proven_positive_divisor_stays_plain():
    n = 16
    A = tir.placeholder((n,), "int32", "A")
    Q = tir.compute((n,), lambda i: (i + 16) // (i + 1) + (i + 16) % (i + 1), name="Q")
    R = tir.compute((n,), lambda i: A[i] // (i + 1), name="R")
    func = _func([Q, R], [A, Q, R])
    src = codegen_c.emit(func)
    assert "(i + 16) / (i + 1) + (i + 16) % (i + 1)" in src
    assert "isaforge_floordiv(A[" in src  # the dividend may be negative: floor, not C's truncation
    assert "isaforge_floormod" not in src
    a = np.arange(-8, 8, dtype=np.int32) * 5
    q, r = np.zeros(n, np.int32), np.zeros(n, np.int32)
    codegen_c.build(func)(a, q, r)
    i = np.arange(n)
    np.testing.assert_array_equal(q, (i + 16) // (i + 1) + (i + 16) % (i + 1))
    np.testing.assert_array_equal(r, a // (i + 1))


# --- item 6: wrap-around integer arithmetic ------------------------------------------------------

def _overflow_func(n=8, name="k"):
    """Products and sums of large int32 values, a sum reduction of products, and (A * B) // B, which a C
    compiler folds to A when A * B is signed C arithmetic (overflow is undefined, so it may assume none)."""
    A = tir.placeholder((n,), "int32", "A")
    B = tir.placeholder((n,), "int32", "B")
    P = tir.compute((n,), lambda i: A[i] * B[i] + A[i] - B[i] * 3, name="P")
    k = tir.reduce_axis((0, n), "k")
    S = tir.compute((1,), lambda _: tir.sum(A[k] * B[k] + A[k], axis=k), name="S")
    Q = tir.compute((n,), lambda i: (A[i] * B[i]) // B[i], name="Q")
    return _func([P, S, Q], [A, B, P, S, Q], name)


def _overflow_data(n=8):
    a = np.array([I32_MAX, I32_MIN, 123456789, -987654321, 65536, 46341, I32_MAX - 5, 3][:n], np.int32)
    b = np.array([2, 3, 1000, -77, 65536, 46341, 7, I32_MAX][:n], np.int32)
    with np.errstate(over="ignore"):
        p = a * b + a - b * np.int32(3)
        s = np.array([np.sum(a * b + a, dtype=np.int32)], np.int32)
        q = (a * b) // b
    assert not np.array_equal(q, a)  # the data does overflow
    return a, b, (p, s, q)


def _check_overflow(run):
    a, b, want = _overflow_data()
    outs = [np.zeros_like(w) for w in want]
    run([a, b, *outs])
    for o, w in zip(outs, want):
        np.testing.assert_array_equal(o, w)


def test_overflowing_int32_arithmetic_is_unsigned_c():
    src = codegen_c.emit(_overflow_func())
    assert "(int32_t)((uint32_t)A[i] * (uint32_t)B[i]" in src
    # index arithmetic and loop bounds are proven in range: plain signed C
    assert "for (int32_t i = 0; i < 8; ++i)" in src


@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_overflow_wraps_like_numpy_on_host_gcc(opt):
    func = _overflow_func()
    _check_overflow(lambda arrays: _host(func, arrays, (opt,)))


@pytest.mark.parametrize("compiler", ["zig", "gcc"])
@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_overflow_wraps_like_numpy_on_vexriscv(compiler, opt):
    func = _overflow_func()
    tc = Toolchain(compiler, opt=opt)
    _check_overflow(lambda arrays: simulator.run(func, arrays, "vexriscv", toolchain=tc))


def _mul_add_func(dtype, n):
    A = tir.placeholder((n,), dtype, "A")
    B = tir.placeholder((n,), dtype, "B")
    P = tir.compute((n,), lambda i: A[i] * B[i] + A[i], name="P")
    return _func(P, [A, B, P])


def test_narrow_products_wrap_without_int_overflow():
    """uint16 * uint16 is int * int in C: 65535 * 65535 overflows int unless computed unsigned."""
    n = 4
    for dtype in ("uint16", "int16", "int8", "uint8"):
        func = _mul_add_func(dtype, n)
        info = np.iinfo(dtype)
        a = np.array([info.max, info.min, info.max, 3], dtype)
        b = np.array([info.max, info.min, info.min, info.max], dtype)
        p = np.zeros(n, dtype)
        _host(func, [a, b, p], ("-O3",))
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(p, a * b + a, err_msg=dtype)


def test_cfu_block_accumulates_wrap_safe():
    from conftest import tiled_matmul_nt

    func, _ = tiled_matmul_nt("dot4_i8", 2, M=8, N=8, K=32)
    src = codegen_c.emit(func, "rv32im")
    assert "const uint32_t isaforge_d0 = " in src  # the scheduled CFU block path
    assert "+= (int32_t)" not in src
    assert "= (int32_t)((uint32_t)" in src


# --- item 8: float NaN, infinities and constants ------------------------------------------------

def test_float_max_min_propagate_nan_and_identities_are_infinite():
    n = 4
    X = tir.placeholder((n,), "float32", "X")
    Relu = tir.compute((n,), lambda i: tir.max(X[i], tir.const(0.0, "float32")), name="Relu")
    Lo = tir.compute((n,), lambda i: tir.min(tir.const(0.0, "float32"), X[i]), name="Lo")
    k = tir.reduce_axis((0, n), "k")
    Mx = tir.compute((1,), lambda _: tir.max(X[k], axis=k), name="Mx")
    k2 = tir.reduce_axis((0, n), "k2")
    Mn = tir.compute((1,), lambda _: tir.min(X[k2], axis=k2), name="Mn")
    func = _func([Relu, Lo, Mx, Mn], [X, Relu, Lo, Mx, Mn])
    mod = codegen_c.build(func)
    for x in ([np.nan, -1.0, 2.0, np.inf], [-1.0, 2.0, np.inf, np.nan], [-np.inf] * 4, [np.inf] * 4,
              [-np.inf, np.nan, np.inf, 1.0]):
        x = np.array(x, np.float32)
        outs = [np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(1, np.float32),
                np.zeros(1, np.float32)]
        mod(x, *outs)
        wants = [np.maximum(x, 0), np.minimum(0, x), np.array([np.max(x)]), np.array([np.min(x)])]
        for o, w in zip(outs, wants):
            np.testing.assert_array_equal(o, w.astype(np.float32), err_msg=str(x))


def test_float_nan_and_infinities_on_vexriscv():
    """The same C on the soft-float rv32 target: __builtin_inff() and the NaN test of the helpers."""
    n = 4
    X = tir.placeholder((n,), "float32", "X")
    Relu = tir.compute((n,), lambda i: tir.max(X[i], tir.const(0.0, "float32")), name="Relu")
    k = tir.reduce_axis((0, n), "k")
    Mx = tir.compute((1,), lambda _: tir.max(X[k], axis=k), name="Mx")
    k2 = tir.reduce_axis((0, n), "k2")
    Mn = tir.compute((1,), lambda _: tir.min(X[k2], axis=k2), name="Mn")
    func = _func([Relu, Mx, Mn], [X, Relu, Mx, Mn])
    for x in ([np.nan, -1.0, 2.0, np.inf], [-np.inf] * 4):
        x = np.array(x, np.float32)
        outs = [np.zeros(n, np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32)]
        simulator.run(func, [x, *outs], "vexriscv")
        wants = [np.maximum(x, 0), np.array([np.max(x)]), np.array([np.min(x)])]
        for o, w in zip(outs, wants):
            np.testing.assert_array_equal(o, w.astype(np.float32), err_msg=str(x))


def test_float32_constants_round_trip_exactly():
    consts = [0.1, 1 / 3, 16777217.0, 3.4028234663852886e38, 1e-45, 1.1754943508222875e-38, -2.5e-7,
              123456.789, -0.0, 7.0, 1e16, 9.999999e-5]
    n = len(consts)

    def body(i):
        e = tir.const(0.0, "float32")
        for j, c in reversed(list(enumerate(consts))):
            e = tir.if_then_else(i == j, tir.const(c, "float32"), e)
        return e

    O = tir.compute((n,), body, name="O")
    func = _func(O, [O])
    src = codegen_c.emit(func)
    assert "0.1f" in src and "0.33333334f" in src
    o = np.full(n, np.nan, np.float32)
    codegen_c.build(func)(o)
    want = np.array(consts, np.float32)
    np.testing.assert_array_equal(o.view(np.uint32), want.view(np.uint32))


def test_float_constant_scales_like_numpy_float32():
    n = 8
    X = tir.placeholder((n,), "float32", "X")
    Y = tir.compute((n,), lambda i: X[i] * tir.const(0.1, "float32") + tir.const(1 / 3, "float32"), name="Y")
    func = _func(Y, [X, Y])
    x = np.linspace(-3, 3, n).astype(np.float32)
    y = np.zeros(n, np.float32)
    _host(func, [x, y], ("-ffp-contract=off",))
    np.testing.assert_array_equal(y, x * np.float32(0.1) + np.float32(1 / 3))


# --- item 12: names -------------------------------------------------------------------------------

NAMES = ["NULL", "INT32_MAX", "size_t", "memset", "memcpy", "memmove", "_start", "main", "offsetof",
         "int8_t", "ptrdiff_t", "UINT8_C", "bool", "true", "linux", "c0", "oi", "isaforge_arg0",
         "isaforge_result", "ISAFORGE_MMIO_BASE", "__STDC__", "_Bool", "__bss_start", "int"]


def _names_func(tensor_names, kernel_name):
    n = 4
    ins = [tir.placeholder((n,), "int32", nm) for nm in tensor_names[:-1]]

    def body(i):
        e = ins[0][i]
        for j, t in enumerate(ins[1:]):
            e = e + t[i] * (j + 2)
        return e

    out = tir.compute((n,), body, name=tensor_names[-1])
    return _func(out, [*ins, out], kernel_name), len(ins)


def _names_data(k, n=4):
    ins = [np.arange(n, dtype=np.int32) + 10 * j for j in range(k)]
    want = ins[0].copy()
    for j, x in enumerate(ins[1:]):
        want += x * (j + 2)
    return ins, want


def test_sanitized_names_are_distinct_and_not_reserved():
    from codegen_c.emit import _C_RESERVED, sanitize

    out = [sanitize(nm) for nm in NAMES]
    assert all(s not in _C_RESERVED and not s.startswith("_") and not s.lower().startswith("isaforge_")
               for s in out)
    assert sanitize("c0") == "c0" and sanitize("c0", kernel=True) == "c0_"
    func, _ = _names_func(["a.b", "a-b", "a_b"], "k")
    assert "void k(int32_t *restrict a_b, int32_t *restrict a_b_1, int32_t *restrict a_b_2)" in \
        codegen_c.emit(func)


def test_reserved_names_as_tensors_and_kernels_on_host():
    func, k = _names_func(NAMES, "k")
    ins, want = _names_data(k)
    out = np.zeros(4, np.int32)
    codegen_c.build(func)(*ins, out)
    np.testing.assert_array_equal(out, want)
    for nm in NAMES:
        func, k = _names_func(["x", "y"], nm)
        ins, want = _names_data(k)
        out = np.zeros(4, np.int32)
        codegen_c.build(func)(*ins, out)
        np.testing.assert_array_equal(out, want, err_msg=nm)


VEX_KERNEL_NAMES = ["_start", "main", "memset", "memcpy", "c0", "NULL", "isaforge_result", "size_t"]


def test_reserved_names_as_tensors_on_vexriscv():
    func, k = _names_func(NAMES, "kernel")
    ins, want = _names_data(k)
    out = np.zeros(4, np.int32)
    simulator.run(func, [*ins, out], "vexriscv")
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("name", VEX_KERNEL_NAMES)
def test_reserved_names_as_kernels_on_vexriscv(name):
    func, k = _names_func(["x", "y", "NULL"], name)
    ins, want = _names_data(k)
    out = np.zeros(4, np.int32)
    simulator.run(func, [*ins, out], "vexriscv")
    np.testing.assert_array_equal(out, want)


def test_narrow_unsigned_complement_comparison_builds_with_werror():
    # gcc reads (uint8_t)(255 - x) as a promoted ~x and flagged the comparison (-Wsign-compare) though
    # the IR compares two uint8 values (found by fuzzing host kernels)
    U = tir.placeholder((8,), "uint8", name="U")
    W = tir.placeholder((8,), "uint32", name="W")
    u8, u32 = (lambda v: tir.const(v, "uint8")), (lambda v: tir.const(v, "uint32"))
    C = tir.compute((8,), lambda i: tir.if_then_else(tir.max(U[i], u8(148)) == u8(255) - U[i], W[i],
                                                     u32(255) + W[i]) % u32(7) - W[i], name="C")
    func = tir.lower(schedules.create_schedule(C), [U, W, C])
    u = np.array([0, 37, 74, 107, 148, 185, 222, 255], np.uint8)
    w = np.arange(8, dtype=np.uint32)
    c = np.zeros(8, np.uint32)
    codegen_c.build(func)(u, w, c)
    np.testing.assert_array_equal(c, tir.evaluate(C, {U: u, W: w}))
