"""Arguments at the edges: every kind of bad argument is an ArgumentError naming the parameter, raised
before any C runs, on host, verilator and vexriscv; aliasing a written argument is refused; read-only
inputs are accepted; element sizes follow the emitted C types; a kernel's stack need is checked
before a vexriscv run and a stack that overflowed during one is an error, not wrong numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import schedules
import simulator
import tir
from schedules import hand
from simulator.run import stack_need
from simulator.vexriscv import StackOverflowError, run_kernel
from tir.errors import ArgumentError

TARGETS = ["host", "verilator", "vexriscv"]
M, N, K = 8, 8, 16


@pytest.fixture(scope="module")
def dot4_func() -> tir.PrimFunc:
    """C[M, N] = A[M, K] x B[N, K]^T tensorized onto dot4_i8 (so "verilator" runs the RTL)."""
    wl = hand.matmul_nt(M, N, K)
    return tir.lower(*hand.SCHEDULES["dot4"](wl))


def _good(rng):
    a = rng.integers(-128, 128, (M, K)).astype(np.int8)
    b = rng.integers(-128, 128, (N, K)).astype(np.int8)
    c = np.full((M, N), 0x5A5A5A5A, np.int32)
    return a, b, c


def _ref(a, b):
    return a.astype(np.int32) @ b.astype(np.int32).T


def _call(func, target, arrays):
    """Run ``func`` on ``arrays`` the way a user of ``target`` does."""
    if target == "vexriscv":
        simulator.run(func, list(arrays), "vexriscv")
    else:
        codegen_c.build(func, target)(*arrays)


def _bad_cases(rng):
    """(kind, arrays, the index of the parameter the error must name, a phrase the message must contain)."""
    a, b, c = _good(rng)
    ro_c = c.copy()
    ro_c.flags.writeable = False
    shared = np.zeros(M * N * 4, np.uint8)  # C's bytes, and A placed on the first half of them
    a_in_c = shared[: M * K].view(np.int8).reshape(M, K)
    c_on_a = shared.view(np.int32).reshape(M, N)
    return [
        ("wrong dtype", (a.astype(np.int16), b, c), 0, "dtype"),
        ("wrong shape", (a, b[:, :8].copy(), c), 1, "shape"),
        ("non-contiguous", (np.asfortranarray(a), b, c), 0, "C-contiguous"),
        ("non-contiguous output", (a, b, np.zeros((N, M), np.int32).T), 2, "C-contiguous"),
        ("read-only output", (a, b, ro_c), 2, "read-only"),
        ("aliased in/out", (a_in_c, b, c_on_a), 2, "share memory"),
        ("non-array", (a.tolist(), b, c), 0, "numpy array"),
        ("too few", (a, b), 2, "takes 3 arrays"),
        ("too many", (a, b, c, c.copy()), 2, "got 4"),
        ("0-size", (np.zeros((0, K), np.int8), b, c), 0, "shape"),
    ]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", [k for k, *_ in _bad_cases(np.random.default_rng(0))])
def test_bad_argument_is_refused_before_c_runs(dot4_func, target, kind):
    case = {k: rest for k, *rest in _bad_cases(np.random.default_rng(0))}[kind]
    arrays, param, phrase = case
    before = [x.copy() if isinstance(x, np.ndarray) else x for x in arrays]
    with pytest.raises(ArgumentError) as e:
        _call(dot4_func, target, arrays)
    msg = str(e.value)
    assert repr(dot4_func.args[param].name) in msg, msg
    assert phrase in msg, msg
    for x, y in zip(arrays, before):  # nothing ran: every array is as it was
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)


def test_aliasing_names_both_parameters(dot4_func):
    a, b, _ = _good(np.random.default_rng(1))
    shared = np.zeros(M * N * 4, np.uint8)
    with pytest.raises(ArgumentError, match=r"'A' and 'C' share memory.*writes 'C'"):  # B is named Bt
        codegen_c.check_arrays(dot4_func, [shared[: M * K].view(np.int8).reshape(M, K), b,
                                           shared.view(np.int32).reshape(M, N)])


@pytest.mark.parametrize("target", TARGETS)
def test_read_only_and_aliased_inputs_are_accepted(dot4_func, target):
    """Inputs are never written: read-only ones are fine, and two inputs may be the same array."""
    a, _, c = _good(np.random.default_rng(2))
    a.flags.writeable = False
    _call(dot4_func, target, (a, a, c))  # B = A: two read-only views of one array
    np.testing.assert_array_equal(c, _ref(a, a))


def _transpose() -> tir.PrimFunc:
    A = tir.placeholder((16, 16), "int32", name="A")
    B = tir.compute((16, 16), lambda i, j: A[j, i], name="B")
    return tir.lower(schedules.create_schedule(B), [A, B], "transpose")


@pytest.mark.parametrize("target", ["host", "vexriscv"])
def test_in_place_transpose_is_refused(target):
    """``mod(x, x)`` once returned a half-transposed matrix: the parameters are restrict."""
    func = _transpose()
    x = np.arange(256, dtype=np.int32).reshape(16, 16)
    keep = x.copy()
    with pytest.raises(ArgumentError, match=r"'A' and 'B' share memory"):
        _call(func, target, (x, x))
    with pytest.raises(ArgumentError, match=r"'A' and 'B' share memory"):
        _call(func, target, (x, x.reshape(-1)[:].reshape(16, 16)))  # another view of the same bytes
    np.testing.assert_array_equal(x, keep)
    y = np.zeros_like(x)
    _call(func, target, (x, y))
    np.testing.assert_array_equal(y, x.T)


def test_output_indices_in_tir_and_the_simulator_wrapper(dot4_func):
    assert dot4_func.output_indices() == [2]
    assert simulator.output_indices(dot4_func) == [2]
    assert _transpose().output_indices() == [1]


def _bool_func() -> tir.PrimFunc:
    A = tir.placeholder((8,), "int32", name="A")
    P = tir.compute((8,), lambda i: A[i] > 0, name="P")
    assert P.dtype == "bool"
    return tir.lower(schedules.create_schedule(P), [A, P], "positive")


@pytest.mark.parametrize("target", ["host", "vexriscv"])
def test_bool_output_never_writes_past_the_array(target):
    """numpy's bool is 1 byte: a kernel whose C type for bool is wider must be refused, one whose C
    type is 1 byte must write exactly the array (the bytes after it are checked)."""
    func = _bool_func()
    a = np.arange(-4, 4, dtype=np.int32)
    backing = np.full(64, 0x77, np.uint8)
    p = backing[:8].view(np.bool_)
    p[...] = False
    width = codegen_c.c_elem_bytes("bool")
    if width != 1:
        with pytest.raises(ArgumentError, match=r"'P'.*1 bytes.*past the array"):
            _call(func, target, (a, p))
        assert not p.any()
    else:
        _call(func, target, (a, p))
        np.testing.assert_array_equal(p, a > 0)
    assert (backing[8:] == 0x77).all()


def test_element_size_table_covers_every_dtype():
    for d in tir.dtype.DTYPES:
        w = codegen_c.c_elem_bytes(d)
        if d != "bool":  # numpy agrees with C on every other dtype
            assert w == tir.dtype.numpy_dtype(d).itemsize, d


# --------------------------------------------------------------------------------------------
# the vexriscv stack

LOCAL_N = 11264  # int32: a 44 KiB local buffer


def _local_producer(rows: int) -> tuple[tir.PrimFunc, tuple]:
    """C[i] = sum_k (3 A[i, k] + 1), the producer computed at i: a [1, 11264] int32 local buffer."""
    A = tir.placeholder((rows, LOCAL_N), "int32", name="A")
    B = tir.compute((rows, LOCAL_N), lambda i, j: A[i, j] * 3 + 1, name="B")
    k = tir.reduce_axis((0, LOCAL_N), name="k")
    C = tir.compute((rows,), lambda i: tir.sum(B[i, k], axis=k), name="C")
    s = schedules.create_schedule(C)
    s[B].compute_at(s[C], C.op.axis[0])
    return tir.lower(s, [A, C], "local44k"), (A, C)


def test_stack_need_of_a_local_producer():
    func, _ = _local_producer(2)
    assert stack_need(func) == LOCAL_N * 4
    assert _transpose().local_stack_bytes(codegen_c.c_elem_bytes) == 0


def test_44k_local_producer_runs_correctly_on_vexriscv():
    func, _ = _local_producer(4)
    rng = np.random.default_rng(3)
    a = rng.integers(-100, 100, (4, LOCAL_N)).astype(np.int32)
    c = np.full(4, 0x5A5A5A5A, np.int32)
    r = simulator.run(func, [a, c], "vexriscv")
    np.testing.assert_array_equal(c, (a * 3 + 1).sum(axis=1).astype(np.int32))
    assert 0 < r.stack_bytes


@pytest.mark.parametrize("rows,ram_kib", [(5, 256), (1, 64)])
def test_44k_local_producer_that_does_not_fit_is_refused(rows, ram_kib):
    """Both configurations once ran to the end with wrong numbers: the stack grew into the arrays."""
    func, _ = _local_producer(rows)
    a = np.ones((rows, LOCAL_N), np.int32)
    c = np.zeros(rows, np.int32)
    with pytest.raises(StackOverflowError, match=r"needs \d+ bytes of stack \(45056 bytes of local arrays"):
        simulator.run(func, [a, c], "vexriscv", ram_kib=ram_kib)
    assert not c.any()


DEEP_C = """
#include <stdint.h>
/* 32 KiB of stack the driver is not told about */
void deep(int32_t *restrict a, int32_t *restrict out) {
    volatile int32_t t[8192];
    for (int32_t i = 0; i < 8192; ++i) t[i] = a[i & 1023] + i;
    int32_t s = 0;
    for (int32_t i = 0; i < 8192; ++i) s += t[i];
    out[0] = s;
}
"""


def _deep_ref(a):
    return np.int32(sum(int(a[i & 1023]) + i for i in range(8192)) & 0xFFFFFFFF)


def test_stack_overflow_at_run_time_is_an_error():
    a = np.arange(6144, dtype=np.int32)  # 24 KiB: in 48 KiB of RAM the 32 KiB frame reaches it
    out = np.zeros(1, np.int32)
    with pytest.raises(StackOverflowError, match=r"stack overflow in kernel 'deep'"):
        run_kernel(DEEP_C, "deep", [a, out], outputs=[1], ram_kib=48)
    assert out[0] == 0  # the outputs of a run that overflowed are not written back


def test_stack_declared_too_big_is_refused_before_running():
    a = np.arange(6144, dtype=np.int32)
    with pytest.raises(StackOverflowError, match=r"kernel 'deep' needs \d+ bytes of stack"):
        run_kernel(DEEP_C, "deep", [a, np.zeros(1, np.int32)], outputs=[1], ram_kib=48, stack_bytes=32768)


def test_deep_stack_runs_when_it_fits_and_its_depth_is_measured():
    a = np.arange(6144, dtype=np.int32)
    out = np.zeros(1, np.int32)
    res = run_kernel(DEEP_C, "deep", [a, out], outputs=[1], ram_kib=128, stack_bytes=32768)
    assert out[0] == _deep_ref(a)
    assert 32768 <= res.stack_bytes < 32768 + 2048
