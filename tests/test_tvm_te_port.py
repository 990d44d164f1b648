"""TVM's tensor-expression tests (schedule primitives, bound inference, tensors, schedule ops),
re-expressed in isaforge's API.

Each case names the TVM test it corresponds to in a one-line comment. Shapes are concrete and small
(isaforge has no symbolic shapes); every kernel that computes something is built for the host and
compared with numpy. Bound-inference cases assert what isaforge infers: the shape of the buffer it
allocates for an intermediate and how many elements it computes (stores executed), read off the
lowered PrimFunc. Where TVM's expectation depends on GPU thread binding (which isaforge does not
have), the case asserts the region of the equivalent serial loop nest instead and says so.

Cases TVM accepts that isaforge refuses on purpose assert the clear ScheduleError / TirError.
Known bugs are written with the right expectation and marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_host

import codegen_c
import schedules
import tir
from schedules.schedule import Fuse, Split
from tir import ScheduleError, TirError
from tir.expr import BinOp, Cmp, Const, Not, TensorLoad, Var
from tir.printer import iter_stmts
from tir.stmt import Allocate, For, IfThen, Seq, Store
from tir.tensor import PlaceholderOp

# --- helpers --------------------------------------------------------------------------------------


def ints(rng, shape, lo=-20, hi=20) -> np.ndarray:
    return rng.integers(lo, hi, shape, endpoint=True).astype(np.int32)


def floats(rng, shape) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def garbage(shape, dtype=np.int32) -> np.ndarray:
    """An output array pre-filled with a value no kernel here produces, so a skipped element shows."""
    return np.full(shape, -12345, dtype)


def alloc_shapes(func, name: str) -> list[tuple[int, ...]]:
    """Shapes of every buffer named ``name`` the lowered function allocates."""
    return [s.buffer.shape for s in iter_stmts(func.body) if isinstance(s, Allocate) and s.buffer.name == name]


class _Opaque(Exception):
    """An expression the store counter cannot evaluate (it reads a buffer)."""


_ARITH = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "//": lambda a, b: a // b, "%": lambda a, b: a % b, "min": min, "max": max,
          "&&": lambda a, b: a and b, "||": lambda a, b: a or b,
          "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
          ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _value(e, env: dict):
    """The value of an index or guard expression for concrete loop variables (floor // and %)."""
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Var):
        if id(e) not in env:
            raise _Opaque(e.name)
        return env[id(e)]
    if isinstance(e, (BinOp, Cmp)) and e.op in _ARITH:
        return _ARITH[e.op](_value(e.a, env), _value(e.b, env))
    if isinstance(e, Not):
        return not _value(e.a, env)
    raise _Opaque(type(e).__name__)


def store_count(func, name: str) -> int:
    """How many stores into buffer ``name`` the kernel executes: loops iterated, guards evaluated for
    concrete loop variables (a guard that reads a buffer is counted as taken)."""

    def count(s, env: dict) -> int:
        if isinstance(s, Store):
            return 1 if s.buffer.name == name else 0
        if isinstance(s, Seq):
            return sum(count(c, env) for c in s.stmts)
        if isinstance(s, Allocate):
            return count(s.body, env)
        if isinstance(s, For):
            if not any(isinstance(x, Store) and x.buffer.name == name for x in iter_stmts(s.body)):
                return 0
            lo = _value(s.min, env)
            return sum(count(s.body, {**env, id(s.var): lo + v}) for v in range(s.extent))
        if isinstance(s, IfThen):
            try:
                taken = [s.then] if _value(s.cond, env) else [s.otherwise]
            except _Opaque:
                taken = [s.then, s.otherwise]
            return sum(count(b, env) for b in taken if b is not None)
        return 0

    return count(func.body, {})


def loop_extents(func) -> dict[str, int]:
    """Loop variable name -> extent, for every loop of the lowered function."""
    return {s.var.name: s.extent for s in iter_stmts(func.body) if isinstance(s, For)}


def has_guard(func) -> bool:
    return any(isinstance(s, IfThen) for s in iter_stmts(func.body))


def assert_names(exc, *parts) -> None:
    msg = str(exc.value)
    for p in parts:
        assert p in msg, f"{p!r} not in error message {msg!r}"


def copy_chain(shape, dtype="int32"):
    """A -> A1 (copy) -> A2 (A1 + 3): the two-stage pipeline of TVM's bound tests."""
    A = tir.placeholder(shape, dtype, "A")
    A1 = tir.compute(shape, lambda *i: A[i], name="A1")
    A2 = tir.compute(shape, lambda *i: A1[i] + 3, name="A2")
    return A, A1, A2


def run_copy_chain(s, A, A2, rng):
    a = ints(rng, A.shape)
    out = garbage(A.shape)
    func = run_host(s, [A, A2], [a, out])
    np.testing.assert_array_equal(out, a + 3, err_msg=str(func))
    return func


# =================================================================================================
# tests/python/te/test_te_schedule.py
# =================================================================================================

# TVM: test_schedule_create
def test_create_schedule_split_attach_then_split_producer(rng):
    m, n, l = 20, 3, 4
    A = tir.placeholder((m, l), "int32", "A")
    B = tir.placeholder((n, l), "int32", "B")
    AA = tir.compute((m, l), lambda i, j: A[i, j], name="AA")
    T = tir.compute((m, n, l), lambda i, j, k: AA[i, k] * B[j, k], name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    xi1, xi2 = s[T].split(xi, factor=2)
    s[AA].compute_at(s[T], xi1)
    s[AA].split(AA.op.axis[0], factor=10)  # the producer's own axis: larger than its region, clamped
    s[T].reorder(xi2, xi1)
    assert T.op.axis[1] in s[T].leaf_iter_vars
    assert [v.name for v in s[T].leaf_iter_vars] == ["i.outer", "i.inner.inner", "i.inner.outer", "j", "k"]
    a, b = ints(rng, (m, l)), ints(rng, (n, l))
    t = garbage((m, n, l))
    func = run_host(s, [A, B, T], [a, b, t])
    np.testing.assert_array_equal(t, a[:, None, :] * b[None, :, :], err_msg=str(func))
    # at i.inner.outer (i.inner.inner outside it) one row of AA is live
    assert alloc_shapes(func, "AA") == [(1, l)], str(func)


# TVM: test_reorder
def test_reorder_three_leaves_and_duplicate_rejected(rng):
    m = 40
    A = tir.placeholder((m + 1,), "int32", "A")
    T = tir.compute((m,), lambda i: A[i + 1], name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    xi1, xi2 = s[T].split(xi, factor=2)
    order = (xi2, xi1, xo)
    assert tuple(s[T].leaf_iter_vars) != order
    s[T].reorder(*order)
    assert tuple(s[T].leaf_iter_vars) == order
    with pytest.raises(ScheduleError) as e:
        s[T].reorder(xi2, xi1, xi2)
    assert_names(e, "'T'", "'i.inner.inner'", "twice")
    a = ints(rng, (m + 1,))
    t = garbage((m,))
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, a[1:], err_msg=str(func))
    assert [x.var.name for x in iter_stmts(func.body) if isinstance(x, For)] == \
        ["i.inner.inner", "i.inner.outer", "i.outer"]


# TVM: test_split
def test_split_leaves(rng):
    m = 25
    A = tir.placeholder((m,), "int32", "A")
    T = tir.compute((m,), lambda i: A[i], name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    assert tuple(s[T].leaf_iter_vars) == (xo, xi)
    assert any(isinstance(r, Split) for r in s[T].relations)
    a = ints(rng, (m,))
    t = garbage((m,))
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, a, err_msg=str(func))
    assert loop_extents(func) == {"i.outer": 3, "i.inner": 10}
    assert has_guard(func), str(func)  # 25 is not a multiple of 10


# TVM: test_tile
def test_tile_leaves(rng):
    m, n = 20, 10
    A = tir.placeholder((m, n), "int32", "A")
    T = tir.compute((m, n), lambda i, j: A[i, j] * 2, name="T")
    s = schedules.create_schedule(T)
    xo, yo, xi, yi = s[T].tile(T.op.axis[0], T.op.axis[1], x_factor=10, y_factor=5)
    assert tuple(s[T].leaf_iter_vars) == (xo, yo, xi, yi)
    a = ints(rng, (m, n))
    t = garbage((m, n))
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, 2 * a, err_msg=str(func))
    assert loop_extents(func) == {"i.outer": 2, "j.outer": 2, "i.inner": 10, "j.inner": 5}


# TVM: test_fuse
def test_fuse_outer_tiles(rng):
    m, n = 20, 15
    A = tir.placeholder((m, n), "int32", "A")
    T = tir.compute((m, n), lambda i, j: A[i, j] - 1, name="T")
    s = schedules.create_schedule(T)
    xo, yo, xi, yi = s[T].tile(T.op.axis[0], T.op.axis[1], x_factor=10, y_factor=5)
    fused = s[T].fuse(xo, yo)
    assert any(isinstance(r, Fuse) for r in s[T].relations)
    assert tuple(s[T].leaf_iter_vars) == (fused, xi, yi)
    a = ints(rng, (m, n))
    t = garbage((m, n))
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, a - 1, err_msg=str(func))
    assert loop_extents(func)[fused.name] == 2 * 3


# TVM: test_fuse_with_split
def test_fuse_split_inner_with_next_axis(rng):
    m, n = 20, 3
    A = tir.placeholder((m, n), "int32", "A")
    T = tir.compute((m, n), lambda i, j: A[i, j], name="T")
    s = schedules.create_schedule(T)
    y = T.op.axis[1]
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    fused = s[T].fuse(xi, y)
    assert any(isinstance(r, Fuse) for r in s[T].relations)
    assert tuple(s[T].leaf_iter_vars) == (xo, fused)
    a = ints(rng, (m, n))
    t = garbage((m, n))
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, a, err_msg=str(func))


# TVM: test_fuse_with_out_of_order_axis
def test_fuse_non_adjacent_axes_rejected():
    A = tir.placeholder((20, 3), "int32", "A")
    T = tir.compute((20, 3), lambda i, j: A[i, j], name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    with pytest.raises(ScheduleError) as e:
        s[T].fuse(xo, T.op.axis[1])
    assert_names(e, "'T'", "'i.outer'", "'j'", "not adjacent")


# TVM: test_fuse_with_out_of_order_axis_with_reorder
def test_fuse_after_reorder_adjacent_ok_non_adjacent_rejected(rng):
    m, n = 20, 3
    A = tir.placeholder((m, n), "int32", "A")
    T = tir.compute((m, n), lambda i, j: A[i, j] + 7, name="T")
    s = schedules.create_schedule(T)
    y = T.op.axis[1]
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    s[T].reorder(y, xo, xi)
    fused = s[T].fuse(y, xo)
    assert tuple(s[T].leaf_iter_vars) == (fused, xi)
    a = ints(rng, (m, n))
    t = garbage((m, n))
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, a + 7, err_msg=str(func))

    s = schedules.create_schedule(T)
    y = T.op.axis[1]
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    s[T].reorder(y, xo, xi)
    with pytest.raises(ScheduleError) as e:
        s[T].fuse(y, xi)
    assert_names(e, "'T'", "'j'", "'i.inner'", "not adjacent")


# TVM: test_singleton (a 0-d compute; TVM's fuse() of no axes makes a singleton loop)
def test_rank_zero_compute_and_fuse_of_no_axes_refused():
    A = tir.placeholder((), "int32", "A")
    T = tir.compute((), lambda: A[()] + 1, name="T")
    s = schedules.create_schedule(T)
    assert s[T].leaf_iter_vars == []
    a = np.array(41, np.int32)
    t = garbage(())
    func = run_host(s, [A, T], [a, t])
    assert int(t) == 42, str(func)
    # kept as it is: isaforge refuses fuse() of zero axes (TVM returns a singleton axis)
    with pytest.raises(ScheduleError) as e:
        s[T].fuse()
    assert_names(e, "'T'", "fuse", "at least one axis")


# TVM: test_vectorize
def test_vectorize_and_unroll_annotations(rng):
    m, n = 20, 10
    A = tir.placeholder((m, n), "float32", "A")
    T = tir.compute((m, n), lambda i, j: A[i, j] * 2.0, name="T")
    s = schedules.create_schedule(T)
    xo, yo, xi, yi = s[T].tile(T.op.axis[0], T.op.axis[1], x_factor=10, y_factor=5)
    s[T].vectorize(yi)
    s[T].unroll(xi)
    assert s[T].iter_var_attrs[xi].kind == "unroll"
    assert s[T].iter_var_attrs[yi].kind == "vectorize"
    a = floats(rng, (m, n))
    t = garbage((m, n), np.float32)
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_allclose(t, 2 * a, rtol=1e-6, err_msg=str(func))
    kinds = {x.var.name: x.kind for x in iter_stmts(func.body) if isinstance(x, For)}
    assert "i.inner" not in kinds  # unrolled away
    assert kinds["j.inner"] == "vectorize"


# TVM: test_vectorize_commreduce
def test_vectorize_reduce_axis_rejected():
    V = tir.placeholder((128,), "float32", "V")
    ax = tir.reduce_axis((0, 128), name="ax")
    O = tir.compute((1,), lambda _: tir.sum(V[ax], axis=[ax]), name="O")
    s = schedules.create_schedule(O)
    with pytest.raises(ScheduleError) as e:
        s[O].vectorize(ax)
    assert_names(e, "'O'", "'ax'", "vectorize", "reduction")


# TVM: test_pragma (the pragma keys are recorded, printed and compiled; TVM's free-form "pragma1" is a
# "user." key here, since an unknown key is a ScheduleError)
def test_pragma_keys_recorded(rng):
    m = 100
    A = tir.placeholder((m,), "float32", "A")
    T = tir.compute((m,), lambda i: A[i], name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    s[T].pragma(xo, "user.pragma1")
    s[T].pragma(xo, "auto_unroll_max_step", 16)
    assert [k for k, _ in s[T].iter_var_attrs[xo].pragmas] == ["user.pragma1", "auto_unroll_max_step"]
    a = floats(rng, (m,))
    t = garbage((m,), np.float32)
    func = run_host(s, [A, T], [a, t])
    np.testing.assert_array_equal(t, a, err_msg=str(func))
    assert "pragma user.pragma1" in str(func)
    assert "auto_unroll_max_step=16" in codegen_c.emit(func, "host")


# TVM: test_pragma (pragma(axis, "vectorize") is the vectorize primitive in TVM)
def test_pragma_vectorize_acts_as_vectorize():
    A = tir.placeholder((100,), "float32", "A")
    T = tir.compute((100,), lambda i: A[i], name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    s[T].pragma(xi, "vectorize")
    s[T].pragma(xo, "unroll")
    assert s[T].iter_var_attrs[xi].kind == "vectorize"
    assert s[T].iter_var_attrs[xo].kind == "unroll"


# TVM: test_tensor_intrin (tensorize onto an ISA-extension intrinsic instead of a packed call)
def test_tensorize_inner_axis_with_intrinsic(rng):
    import isa_ext

    M, N, K = 4, 3, 16
    A = tir.placeholder((M, K), "int8", "A")
    B = tir.placeholder((N, K), "int8", "B")
    k = tir.reduce_axis((0, K), "k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * B[j, k].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(k, 4)
    intrin = isa_ext.get("dot4_i8")
    s[C].tensorize(ki, intrin)
    assert s[C].iter_var_attrs[ki].tensorize is not None
    a = rng.integers(-128, 128, (M, K)).astype(np.int8)
    b = rng.integers(-128, 128, (N, K)).astype(np.int8)
    c = garbage((M, N))
    func = run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32).T, err_msg=str(func))
    assert len(func.intrinsic_calls) == 1, str(func)  # one call per ko step, inside the loop nest
    assert store_count(func, "C") == M * N * (1 + K // 4)


# TVM: test_legalize_invalid_attach, case 1 (kept as it is: isaforge refuses at lowering)
def test_split_of_compute_at_target_refused():
    A = tir.compute((10, 10), lambda i, j: tir.const(1.0), name="A")
    B = tir.compute((10, 10), lambda i, j: A[i, j], name="B")
    s = schedules.create_schedule(B)
    s[A].compute_at(s[B], B.op.axis[1])
    s[B].split(B.op.axis[1], 2)
    with pytest.raises(ScheduleError) as e:
        tir.lower(s, [B])
    assert_names(e, "'A'", "'B'", "'j'", "no longer a leaf")


# TVM: test_legalize_invalid_attach, case 2 (fuse of the attach axis: refused likewise)
def test_fuse_of_compute_at_target_refused():
    A = tir.compute((10, 10), lambda i, j: tir.const(1.0), name="A")
    B = tir.compute((10, 10), lambda i, j: A[i, j], name="B")
    s = schedules.create_schedule(B)
    s[A].compute_at(s[B], B.op.axis[1])
    s[B].fuse(B.op.axis[0], B.op.axis[1])
    with pytest.raises(ScheduleError) as e:
        tir.lower(s, [B])
    assert_names(e, "'A'", "'B'", "'j'", "no longer a leaf")


# TVM: test_legalize_invalid_attach, the legal order (attach after the split) for comparison
def test_compute_at_split_target_after_split(rng):
    A = tir.placeholder((10, 10), "float32", "A")
    P = tir.compute((10, 10), lambda i, j: A[i, j] + 1.0, name="P")
    B = tir.compute((10, 10), lambda i, j: P[i, j] * 2.0, name="B")
    s = schedules.create_schedule(B)
    jo, ji = s[B].split(B.op.axis[1], 2)
    s[P].compute_at(s[B], ji)
    a = floats(rng, (10, 10))
    b = garbage((10, 10), np.float32)
    func = run_host(s, [A, B], [a, b])
    np.testing.assert_allclose(b, (a + 1) * 2, rtol=1e-6, err_msg=str(func))
    assert alloc_shapes(func, "P") == [(1, 1)], str(func)


def _add_pipeline():
    A = tir.compute((16, 16), lambda i, j: tir.const(1.0), name="A")
    B = tir.compute((16, 16), lambda i, j: tir.const(2.0), name="B")
    C = tir.compute((16, 16), lambda i, j: A[i, j] + B[i, j], name="C")
    return A, B, C


# TVM: test_compute_at (invalid_compute_at_self)
def test_compute_at_self_rejected():
    A, B, C = _add_pipeline()
    s = schedules.create_schedule(C)
    with pytest.raises(ScheduleError) as e:
        s[C].compute_at(s[C], C.op.axis[0])
    assert_names(e, "'C'", "'i'", "itself")


# TVM: test_compute_at (invalid_compute_at_loop)
def test_compute_at_cycle_rejected():
    A, B, C = _add_pipeline()
    s = schedules.create_schedule(C)
    s[A].compute_at(s[C], C.op.axis[0])
    with pytest.raises(ScheduleError) as e:
        s[C].compute_at(s[A], A.op.axis[0])
    assert_names(e, "'C'", "'A'", "cycle")


# TVM: test_compute_at (the valid schedule of the same pipeline)
def test_compute_at_constant_producers():
    A, B, C = _add_pipeline()
    s = schedules.create_schedule(C)
    s[A].compute_at(s[C], C.op.axis[1])
    s[B].compute_at(s[C], C.op.axis[0])
    c = garbage((16, 16), np.float32)
    func = run_host(s, [C], [c])
    np.testing.assert_array_equal(c, np.full((16, 16), 3.0, np.float32), err_msg=str(func))
    assert alloc_shapes(func, "A") == [(1, 1)]
    assert alloc_shapes(func, "B") == [(1, 16)]


# TVM: test_split_disable_predicate (a non-divisible split is guarded, a divisible one is not)
@pytest.mark.parametrize("n, guarded", [(43, True), (44, False)])
def test_split_predicate(n, guarded, rng):
    A = tir.placeholder((n,), "int32", "A")
    B = tir.compute((n,), lambda i: A[i] + 2, name="B")
    s = schedules.create_schedule(B)
    s[B].split(B.op.axis[0], factor=4)
    a = ints(rng, (n,))
    b = garbage((n,))
    func = run_host(s, [A, B], [a, b])
    np.testing.assert_array_equal(b, a + 2, err_msg=str(func))
    assert has_guard(func) == guarded, str(func)
    assert store_count(func, "B") == n  # the guard keeps the last, partial chunk to the 3 real elements


# =================================================================================================
# tests/python/te/test_te_schedule_bound_inference.py
# =================================================================================================

# TVM: test_bound1
def test_bound_compute_at_split_outer(rng):
    m, l = 16, 5
    A, A1, A2 = copy_chain((m, l))
    s = schedules.create_schedule(A2)
    xo, xi = s[A2].split(A2.op.axis[0], 8)
    s[A1].compute_at(s[A2], xo)
    func = run_copy_chain(s, A, A2, rng)
    assert alloc_shapes(func, "A1") == [(8, l)], str(func)
    assert store_count(func, "A1") == m * l


# TVM: test_bound2
def test_bound_compute_at_tile_outer(rng):
    m, l = 16, 24
    A, A1, A2 = copy_chain((m, l))
    s = schedules.create_schedule(A2)
    xo, yo, xi, yi = s[A2].tile(A2.op.axis[0], A2.op.axis[1], 8, 8)
    s[A1].compute_at(s[A2], yo)
    func = run_copy_chain(s, A, A2, rng)
    assert alloc_shapes(func, "A1") == [(8, 8)], str(func)
    assert store_count(func, "A1") == m * l


# TVM: test_bound3 (TVM infers 32 rows because xi.outer is bound to threadIdx.x and A1 is shared; in a
# serial nest xi.outer is outside the attach point, so one tile needs 2 rows x 16 columns)
def test_bound_compute_at_nested_splits_reordered(rng):
    m, l = 64, 32
    A, A1, A2 = copy_chain((m, l))
    s = schedules.create_schedule(A2)
    xo, xi = s[A2].split(A2.op.axis[0], 32)
    xi0, xi1 = s[A2].split(xi, nparts=16)
    yo, yi = s[A2].split(A2.op.axis[1], 16)
    s[A2].reorder(xo, xi0, yo, xi1, yi)
    s[A1].compute_at(s[A2], yo)
    func = run_copy_chain(s, A, A2, rng)
    assert alloc_shapes(func, "A1") == [(2, 16)], str(func)
    assert store_count(func, "A1") == m * l


def _split_beyond_extent(rng, m: int, **split):
    """E = (I * 2) * 2 over m elements, E's axis split by ``split`` (a factor or nparts larger than m),
    EF computed at the outer loop; checked against numpy. Returns (schedule, E, (xo, xi), func)."""
    I = tir.placeholder((m,), "int32", "I")
    EF = tir.compute((m,), lambda i: I[i] * 2, name="EF")
    E = tir.compute((m,), lambda i: EF[i] * 2, name="E")
    s = schedules.create_schedule(E)
    xo, xi = s[E].split(E.op.axis[0], **split)
    s[EF].compute_at(s[E], xo)
    x = ints(rng, (m,))
    e = garbage((m,))
    func = run_host(s, [I, E], [x, e])
    np.testing.assert_array_equal(e, 4 * x, err_msg=str(func))
    assert store_count(func, "E") == m and not has_guard(func), str(func)
    return s, E, (xo, xi), func


# TVM: test_bound_split_ext_less_than_factor
def test_bound_split_factor_larger_than_extent(rng):
    s, E, (_, xi), func = _split_beyond_extent(rng, 8, factor=32)
    assert s[E]._extent(xi) == 8
    assert alloc_shapes(func, "EF") == [(8,)], str(func)


# TVM: test_bound_split_ext_less_than_naprts
def test_bound_split_nparts_larger_than_extent(rng):
    s, E, (xo, _), func = _split_beyond_extent(rng, 8, nparts=32)
    assert s[E]._extent(xo) == 8
    assert alloc_shapes(func, "EF") == [(1,)], str(func)


# TVM: test_bound_split_divisible
def test_bound_split_divisible_has_no_guard(rng):
    m, l = 3, 5
    A = tir.placeholder((8 * m, l), "int32", "A")
    B = tir.compute((8 * m, l), lambda i, j: A[i, j], name="B")
    s = schedules.create_schedule(B)
    xo, xi = s[B].split(B.op.axis[0], 8)
    a = ints(rng, (8 * m, l))
    b = garbage((8 * m, l))
    func = run_host(s, [A, B], [a, b])
    np.testing.assert_array_equal(b, a, err_msg=str(func))
    assert loop_extents(func) == {"i.outer": m, "i.inner": 8, "j": l}
    assert not has_guard(func), str(func)


# TVM: test_bound_tile_divisible
def test_bound_tile_divisible_has_no_guard(rng):
    m, l = 2, 2
    shape = (8 * m, 32 * l)
    A = tir.placeholder(shape, "int32", "A")
    B = tir.compute(shape, lambda i, j: A[i, j], name="B")
    s = schedules.create_schedule(B)
    s[B].tile(B.op.axis[0], B.op.axis[1], 8, 32)
    a = ints(rng, shape)
    b = garbage(shape)
    func = run_host(s, [A, B], [a, b])
    np.testing.assert_array_equal(b, a, err_msg=str(func))
    assert loop_extents(func) == {"i.outer": m, "j.outer": l, "i.inner": 8, "j.inner": 32}
    assert not has_guard(func), str(func)


def _fuse_split_attach(m, l, factor):
    A, A1, A2 = copy_chain((m, l))
    s = schedules.create_schedule(A2)
    fused = s[A2].fuse(A2.op.axis[0], A2.op.axis[1])
    xo, xi = s[A2].split(fused, factor)
    s[A1].compute_at(s[A2], xo)
    return s, A, A2


# TVM: test_bound_fusesplit1 / test_bound_fusesplit2 (the values: correct whatever the region)
@pytest.mark.parametrize("m, l, factor", [(4, 6, 3), (4, 5, 3), (3, 4, 5)])
def test_bound_fuse_split_compute_at_values(m, l, factor, rng):
    s, A, A2 = _fuse_split_attach(m, l, factor)
    run_copy_chain(s, A, A2, rng)


# TVM: test_bound_fusesplit2 (l = 6, split 3: each chunk of the fused axis lies in one row)
def test_bound_fuse_split_region_is_one_row_chunk(rng):
    m, l, factor = 4, 6, 3
    s, A, A2 = _fuse_split_attach(m, l, factor)
    func = run_copy_chain(s, A, A2, rng)
    assert alloc_shapes(func, "A1") == [(1, factor)], str(func)
    assert store_count(func, "A1") == m * l, str(func)


# TVM: test_bound_fusesplit1 (a chunk of 3 of a row of 5 spans at most 2 rows)
def test_bound_fuse_split_region_spans_at_most_two_rows(rng):
    m, l, factor = 4, 5, 3
    s, A, A2 = _fuse_split_attach(m, l, factor)
    func = run_copy_chain(s, A, A2, rng)
    (shape,) = alloc_shapes(func, "A1")
    assert shape[0] <= 2 and shape[1] <= l, str(func)
    n_chunks = -(-m * l // factor)
    assert store_count(func, "A1") <= n_chunks * 2 * l, str(func)


# TVM: test_bound_simplification_failure's premise: a root intermediate is computed over what is read
def test_bound_root_intermediate_covers_only_what_is_read(rng):
    A = tir.placeholder((4,), "int32", "A")
    P = tir.compute((4,), lambda i: A[i] * 2, name="P")
    C = tir.compute((3,), lambda i: P[i + 1], name="C")
    s = schedules.create_schedule(C)
    a = ints(rng, (4,))
    c = garbage((3,))
    func = run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, 2 * a[1:], err_msg=str(func))
    assert store_count(func, "P") == 3, str(func)


# TVM: test_bound_warp (serial: A1 attached at the innermost axis of A2 is one element; A1 then splits
# its own, extent-1 region axis by 16)
def test_bound_attach_innermost_then_split_producer(rng):
    m, l = 64, 3
    A, A1, A2 = copy_chain((m, l))
    s = schedules.create_schedule(A2)
    xo, xi = s[A2].split(A2.op.axis[0], 32)
    xi0, xi1 = s[A2].split(xi, factor=16)
    s[A1].compute_at(s[A2], A2.op.axis[1])
    s[A1].split(A1.op.axis[0], factor=16)
    func = run_copy_chain(s, A, A2, rng)
    assert alloc_shapes(func, "A1") == [(1, 1)], str(func)
    assert store_count(func, "A1") == m * l, str(func)


# TVM: test_bound_scan (its cache_read part, without the scan: a local cache of X at the outer split)
def test_bound_cache_read_at_split_outer(rng):
    m, n = 3, 8
    X = tir.placeholder((m, n), "float32", "X")
    U = tir.compute((m, n), lambda t, i: X[t, i] + 1.0, name="U")
    s = schedules.create_schedule(U)
    XX = s.cache_read(X, "local", [U])
    xo, xi = s[U].split(U.op.axis[1], factor=4)
    s[XX].compute_at(s[U], xo)
    x = floats(rng, (m, n))
    u = garbage((m, n), np.float32)
    func = run_host(s, [X, U], [x, u])
    np.testing.assert_allclose(u, x + 1, rtol=1e-6, err_msg=str(func))
    assert alloc_shapes(func, "X.local") == [(1, 4)], str(func)


# TVM: test_bound_conv1d
def test_bound_conv1d_halo(rng):
    n = 10
    X = tir.placeholder((n + 2,), "int32", "X")
    A = tir.compute((n + 2,), lambda i: X[i] * 3, name="A")

    def window(ii):
        i = ii + 1
        return A[i - 1] + A[i] + A[i + 1]

    B = tir.compute((n,), window, name="B")
    s = schedules.create_schedule(B)
    s[A].compute_at(s[B], B.op.axis[0])
    x = ints(rng, (n + 2,))
    b = garbage((n,))
    func = run_host(s, [X, B], [x, b])
    a = 3 * x
    np.testing.assert_array_equal(b, a[:-2] + a[1:-1] + a[2:], err_msg=str(func))
    assert alloc_shapes(func, "A") == [(3,)], str(func)


# TVM: test_bound_blur
def test_bound_blur_cross_halo(rng):
    n = 12
    X = tir.placeholder((n, n), "int32", "X")
    A = tir.compute((n, n), lambda i, j: X[i, j] + 1, name="A")

    def cross(ii, jj):
        i, j = ii + 1, jj + 1
        return A[i, j] + A[i - 1, j] + A[i + 1, j] + A[i, j + 1] + A[i, j - 1]

    B = tir.compute((n - 2, n - 2), cross, name="B")
    s = schedules.create_schedule(B)
    s[A].compute_at(s[B], B.op.axis[1])
    x = ints(rng, (n, n))
    b = garbage((n - 2, n - 2))
    func = run_host(s, [X, B], [x, b])
    a = x + 1
    expect = a[1:-1, 1:-1] + a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, 2:] + a[1:-1, :-2]
    np.testing.assert_array_equal(b, expect, err_msg=str(func))
    assert alloc_shapes(func, "A") == [(3, 3)], str(func)


# TVM: test_bound_group_schedule (no groups in isaforge: x at x1's outer axis, x1 at x2's outer axis)
def test_bound_chained_compute_at_rows(rng):
    m, n = 4, 5
    X = tir.placeholder((m, n), "float32", "X")
    x = tir.compute((m, n), lambda i, j: X[i, j] * 2.0, name="x")
    x1 = tir.compute((m, n), lambda i, j: x[i, j] + 1.0, name="x1")
    x2 = tir.compute((m, n), lambda i, j: x1[i, j] + 2.0, name="x2")
    s = schedules.create_schedule(x2)
    s[x1].compute_at(s[x2], x2.op.axis[0])
    s[x].compute_at(s[x1], x1.op.axis[0])
    xv = floats(rng, (m, n))
    out = garbage((m, n), np.float32)
    func = run_host(s, [X, x2], [xv, out])
    np.testing.assert_allclose(out, xv * 2 + 3, rtol=1e-6, err_msg=str(func))
    assert alloc_shapes(func, "x") == [(1, n)], str(func)
    assert alloc_shapes(func, "x1") == [(1, n)], str(func)


# TVM: test_bound_nest_group (x at x1's inner axis, x1 at x2's outer axis)
def test_bound_chained_compute_at_nested(rng):
    m, n = 4, 5
    X = tir.placeholder((m, n), "float32", "X")
    x = tir.compute((m, n), lambda i, j: X[i, j] * 2.0, name="x")
    x1 = tir.compute((m, n), lambda i, j: x[i, j] + 1.0, name="x1")
    x2 = tir.compute((m, n), lambda i, j: x1[i, j] + 2.0, name="x2")
    s = schedules.create_schedule(x2)
    s[x1].compute_at(s[x2], x2.op.axis[0])
    s[x].compute_at(s[x1], x1.op.axis[1])
    xv = floats(rng, (m, n))
    out = garbage((m, n), np.float32)
    func = run_host(s, [X, x2], [xv, out])
    np.testing.assert_allclose(out, xv * 2 + 3, rtol=1e-6, err_msg=str(func))
    assert alloc_shapes(func, "x") == [(1, 1)], str(func)
    assert alloc_shapes(func, "x1") == [(1, n)], str(func)
    assert store_count(func, "x") == m * n


# TVM: test_bound_nest_thread (serial: both producers attached inside the inner split axis are one element;
# TVM's 32 for A2 comes from its threadIdx binding). TVM attaches A1 at A3's loop although only A2 (itself
# attached there) reads A1; isaforge refuses that with a clear error (kept as it is), so A1 is attached at
# A2's own axis, which is the same loop position.
def test_bound_two_producers_at_inner_split(rng):
    m = 64
    A = tir.placeholder((m,), "int32", "A")
    A1 = tir.compute((m,), lambda i: A[i], name="A1")
    A2 = tir.compute((m,), lambda i: A1[i] + 2, name="A2")
    A3 = tir.compute((m,), lambda i: A2[i] + 3, name="A3")
    s = schedules.create_schedule(A3)
    bx, tx = s[A3].split(A3.op.axis[0], factor=32)
    s[A2].compute_at(s[A3], tx)
    _, xi = s[A2].split(A2.op.axis[0], nparts=1)
    with pytest.raises(ScheduleError) as e:
        s[A1].compute_at(s[A3], tx)
    assert_names(e, "'A1'", "'A3'", "'i.inner'", "does not consume")
    s[A1].compute_at(s[A2], xi)
    a = ints(rng, (m,))
    out = garbage((m,))
    func = run_host(s, [A, A3], [a, out])
    np.testing.assert_array_equal(out, a + 5, err_msg=str(func))
    assert alloc_shapes(func, "A1") == [(1,)], str(func)
    assert alloc_shapes(func, "A2") == [(1,)], str(func)
    assert loop_extents(func)["i.outer"] == 2
    assert store_count(func, "A1") == m


# TVM: test_gemm_bound (no thread binding: the register tile of CC is yi x xi = 8 x 8, the caches at
# CC's k loop are one column of the tile, 8 x 1; TVM's 64 for the shared caches is the whole block)
def test_gemm_cache_write_cache_read_bounds(rng):
    n = 32
    A = tir.placeholder((n, n), "int32", "A")
    B = tir.placeholder((n, n), "int32", "B")
    k = tir.reduce_axis((0, n), "k")
    C = tir.compute((n, n), lambda ii, jj: tir.sum(A[ii, k] * B[jj, k], axis=k), name="CC")
    s = schedules.create_schedule(C)
    block, nthread = 16, 2
    CC = s.cache_write(C, "local")
    AA = s.cache_read(A, "shared", [CC])
    BB = s.cache_read(B, "shared", [CC])
    by, yi = s[C].split(C.op.axis[0], factor=block)
    bx, xi = s[C].split(C.op.axis[1], factor=block)
    s[C].reorder(by, bx, yi, xi)
    ty, yi = s[C].split(yi, nparts=nthread)
    tx, xi = s[C].split(xi, nparts=nthread)
    s[C].reorder(ty, tx, yi, xi)
    yo, xo = CC.op.axis
    kc = CC.op.reduce_axis[0]
    s[CC].reorder(kc, yo, xo)
    s[CC].compute_at(s[C], tx)
    s[AA].compute_at(s[CC], kc)
    s[BB].compute_at(s[CC], kc)
    s[AA].split(s[AA].op.axis[0], nparts=nthread)
    s[BB].split(s[BB].op.axis[0], nparts=nthread)
    a, b = ints(rng, (n, n)), ints(rng, (n, n))
    c = garbage((n, n))
    func = run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, a @ b.T, err_msg=str(func))
    assert alloc_shapes(func, "CC.local") == [(8, 8)], str(func)
    assert alloc_shapes(func, "A.shared") == [(8, 1)], str(func)
    assert alloc_shapes(func, "B.shared") == [(8, 1)], str(func)


# TVM: test_bound_simplification_failure (indices that are constant or in {0, 1} after simplification)
@pytest.mark.parametrize("case", ["min+min", "min+max", "div-min", "i-i"])
def test_bound_index_simplification(case, rng):
    A = tir.compute((2,), lambda j: j * 5 + 1, name="A")
    index = {
        "min+min": (lambda i: tir.min(3 * i, 4 * i) + tir.min(-3 * i, -2 * i), lambda i: 0 * i),
        "min+max": (lambda i: tir.min(3 * i, 4 * i) + tir.max(-3 * i, -4 * i), lambda i: 0 * i),
        "div-min": (lambda i: -2 * (i // 2) - tir.min(i, 0 - i), lambda i: i % 2),
        "i-i": (lambda i: i + (0 - i), lambda i: 0 * i),
    }[case]
    B = tir.compute((10,), lambda i: A[index[0](i)], name="B")
    s = schedules.create_schedule(B)
    b = garbage((10,))
    func = run_host(s, [B], [b])
    np.testing.assert_array_equal(b, index[1](np.arange(10)) * 5 + 1, err_msg=str(func))
    (shape,) = alloc_shapes(func, "A")
    assert shape[0] <= 2, str(func)


# =================================================================================================
# tests/python/te/test_te_tensor.py
# =================================================================================================

# TVM: test_tensor
def test_tensor_properties_and_outer_product(rng):
    m, n, l = 3, 4, 5
    A = tir.placeholder((m, l), "int32", "A")
    B = tir.placeholder((n, l), "int32", "B")
    T = tir.compute((m, n, l), lambda i, j, k: A[i, k] * B[j, k], name="T")
    assert T.shape == (m, n, l)
    assert isinstance(A.op, PlaceholderOp)
    assert A == A and not (A == B)
    assert T.op.output(0) == T
    assert hash(T.op.output(0)) == hash(T)
    assert {T.op.output(0): 1}[T] == 1
    load = T[0, 0, 0]
    assert isinstance(load, TensorLoad) and load.tensor == T
    assert all(isinstance(i, Const) and i.value == 0 for i in load.indices)
    assert load.dtype == T.dtype == "int32"
    assert load.astype("float32").dtype == "float32"
    s = schedules.create_schedule(T)
    a, b = ints(rng, (m, l)), ints(rng, (n, l))
    t = garbage((m, n, l))
    func = run_host(s, [A, B, T], [a, b, t])
    np.testing.assert_array_equal(t, a[:, None, :] * b[None, :, :], err_msg=str(func))


# TVM: test_rank_zero
def test_rank_zero_reduction_with_scalar_input(rng):
    m = 7
    A = tir.placeholder((m,), "int32", "A")
    scale = tir.placeholder((), "int32", "s")
    k = tir.reduce_axis((0, m), name="k")
    T = tir.compute((), lambda: tir.sum(A[k] * scale[()], axis=k), name="T")
    assert T.shape == ()
    s = schedules.create_schedule(T)
    a = ints(rng, (m,))
    sc = np.array(-3, np.int32)
    t = garbage(())
    func = run_host(s, [A, scale, T], [a, sc, t])
    assert int(t) == int((a * -3).sum()), str(func)


# TVM: test_conv1d
def test_conv1d_window_with_integer_shape(rng):
    n = 9
    A = tir.placeholder((n + 2,), "int32", "A")

    def window(ii):
        i = ii + 1
        return A[i - 1] + A[i] + A[i + 1]

    B = tir.compute(n, window, name="B")
    assert B.shape == (n,)
    s = schedules.create_schedule(B)
    a = ints(rng, (n + 2,))
    b = garbage((n,))
    func = run_host(s, [A, B], [a, b])
    np.testing.assert_array_equal(b, a[:-2] + a[1:-1] + a[2:], err_msg=str(func))


# TVM: test_tensor_slice (TVM's A[0][i] is A[0, i] here)
def test_constant_compute_read_twice():
    n = 6
    A = tir.compute((n, n), lambda i, j: tir.const(1), name="A")
    B = tir.compute((n,), lambda i: A[0, i] + A[0, i], name="B")
    s = schedules.create_schedule(B)
    b = garbage((n,))
    func = run_host(s, [B], [b])
    np.testing.assert_array_equal(b, np.full(n, 2, np.int32), err_msg=str(func))


# TVM: test_tensor_reduce_multi_axis
@pytest.mark.parametrize("as_tuple", [True, False])
def test_reduce_over_two_axes(as_tuple, rng):
    m, n = 4, 6
    A = tir.placeholder((m, n), "int32", "A")
    k1 = tir.reduce_axis((0, m), "k1")
    k2 = tir.reduce_axis((0, n), "k2")
    axes = (k1, k2) if as_tuple else [k1, k2]
    C = tir.compute((1,), lambda _: tir.sum(A[k1, k2], axis=axes), name="C")
    assert C.op.reduce_axis == [k1, k2]
    s = schedules.create_schedule(C)
    a = ints(rng, (m, n))
    c = garbage((1,))
    func = run_host(s, [A, C], [a, c])
    assert int(c[0]) == int(a.sum()), str(func)


# TVM: test_tensor_reduce (TVM's T(i, j, rv + 1) with rv over the whole row reads past the end; here rv
# stops one short so the shifted read stays in bounds)
def test_reduce_of_intermediate_at_shifted_index(rng):
    m, n, l = 3, 4, 5
    A = tir.placeholder((m, l), "int32", "A")
    B = tir.placeholder((n, l), "int32", "B")
    T = tir.compute((m, n, l), lambda i, j, k: A[i, k] * B[j, k], name="T")
    rv = tir.reduce_axis((0, A.shape[1] - 1), "k")
    C = tir.compute((m, n), lambda i, j: tir.sum(T[i, j, rv + 1], axis=rv), name="C")
    s = schedules.create_schedule(C)
    a, b = ints(rng, (m, l)), ints(rng, (n, l))
    c = garbage((m, n))
    func = run_host(s, [A, B, C], [a, b, c])
    t = a[:, None, :] * b[None, :, :]
    np.testing.assert_array_equal(c, t[:, :, 1:].sum(2), err_msg=str(func))


# TVM: test_tensor_reduce_multiout_with_cond (the where= condition; isaforge reducers have one output)
def test_reduce_with_where_on_reduce_var(rng):
    m, n = 3, 7
    val = tir.placeholder((m, n), "int32", "val")
    k = tir.reduce_axis((0, n), "k")
    T = tir.compute((m,), lambda i: tir.sum(val[i, k], axis=k, where=(k.var % 2 == 0)), name="T")
    s = schedules.create_schedule(T)
    v = ints(rng, (m, n))
    t = garbage((m,))
    func = run_host(s, [val, T], [v, t])
    np.testing.assert_array_equal(t, v[:, ::2].sum(1), err_msg=str(func))


# TVM: test_tuple_inputs / test_tuple_with_different_deps (kept as it is: one output per compute)
def test_multi_output_compute_refused():
    A0 = tir.placeholder((3, 4), "int32", "A0")
    A1 = tir.placeholder((3, 4), "int32", "A1")
    with pytest.raises(TirError) as e:
        tir.compute((3, 4), lambda i, j: (A0[i, j] * 2, A1[i, j] * 3), name="T")
    assert_names(e, "'T'", "multiple outputs")


# TVM: test_tensor_inputs
def test_input_tensors_are_deduplicated(rng):
    x = tir.placeholder((1,), "int32", "x")
    y = tir.compute(x.shape, lambda i: x[i] + x[i], name="y")
    assert y.op.input_tensors == [x]
    s = schedules.create_schedule(y)
    xv = np.array([21], np.int32)
    yv = garbage((1,))
    run_host(s, [x, y], [xv, yv])
    assert int(yv[0]) == 42


# =================================================================================================
# tests/python/te/test_te_schedule_ops.py
# =================================================================================================

# TVM: test_const
def test_const_dtype():
    x = tir.const(1, "int32")
    assert x.dtype == "int32"
    assert isinstance(x, Const) and x.value == 1
    assert tir.const(1).dtype == "int32" and tir.const(1.0).dtype == "float32"


# TVM: test_schedule0
def test_lower_default_schedule(rng):
    m, l = 5, 6
    A = tir.placeholder((m, l), "int32", "A")
    A1 = tir.compute((m, l), lambda i, j: A[i, j], name="A1")
    s = schedules.create_schedule(A1)
    a = ints(rng, (m, l))
    out = garbage((m, l))
    func = run_host(s, [A, A1], [a, out])
    assert isinstance(func, tir.PrimFunc)
    assert [b.name for b in func.args] == ["A", "A1"]
    np.testing.assert_array_equal(out, a)


# TVM: test_schedule1
def test_lower_split_with_pragma(rng):
    m, l = 20, 3
    A = tir.placeholder((m, l), "int32", "A")
    A1 = tir.compute((m, l), lambda i, j: A[i, j], name="A1")
    s = schedules.create_schedule(A1)
    xo, xi = s[A1].split(A1.op.axis[0], 8)
    s[A1].pragma(xo, "auto_unroll_max_step", 10)
    a = ints(rng, (m, l))
    out = garbage((m, l))
    func = run_host(s, [A, A1], [a, out])
    np.testing.assert_array_equal(out, a, err_msg=str(func))
    assert "auto_unroll_max_step=10" in str(func)


# TVM: test_schedule2
def test_lower_compute_at(rng):
    m, l = 20, 3
    A, A1, A2 = copy_chain((m, l))
    s = schedules.create_schedule(A2)
    xo, xi = s[A2].split(A2.op.axis[0], 8)
    s[A1].compute_at(s[A2], xo)
    func = run_copy_chain(s, A, A2, rng)
    assert alloc_shapes(func, "A1") == [(8, l)], str(func)
    assert store_count(func, "A1") == m * l  # the rows of the edge tile past the end are guarded off


# TVM: test_inline_multi_reduce (isaforge has no argmax reducer: an inlined stage feeding a max reduction)
def test_inline_into_reduction(rng):
    m, n = 4, 6
    val = tir.placeholder((m, n), "float32", "val")
    val1 = tir.compute((m, n), lambda i, j: val[i, j] + 1.0, name="val1")
    val2 = tir.compute((m, n), lambda i, j: val1[i, j] * val1[i, j], name="val2")
    k = tir.reduce_axis((0, n), "k")
    T = tir.compute((m,), lambda i: tir.max(val2[i, k], axis=k), name="T")
    s = schedules.create_schedule(T)
    s[val1].compute_inline()
    v = floats(rng, (m, n))
    t = garbage((m,), np.float32)
    func = run_host(s, [val, T], [v, t])
    np.testing.assert_allclose(t, ((v + 1) ** 2).max(1), rtol=1e-6, err_msg=str(func))
    assert alloc_shapes(func, "val1") == [] and alloc_shapes(func, "val2") == [(m, n)], str(func)


def _elemwise():
    A = tir.placeholder((3, 4), "int32", "A")
    B = tir.placeholder((3, 4), "int32", "B")
    C = tir.placeholder((3, 4), "int32", "C")
    T1 = tir.compute((3, 4), lambda i, j: A[i, j] * B[i, j], name="T1")
    T2 = tir.compute((3, 4), lambda i, j: T1[i, j] + C[i, j], name="T2")
    return [A, B, C], T1, T2, lambda a, b, c: a * b + c


def _broadcast():
    A = tir.placeholder((1,), "int32", "A")
    B = tir.placeholder((3, 4), "int32", "B")
    C = tir.placeholder((3, 4), "int32", "C")
    T1 = tir.compute((3, 4), lambda i, j: A[0] * B[i, j], name="T1", tag="broadcast")
    T2 = tir.compute((3, 4), lambda i, j: T1[i, j] + C[i, j], name="T2")
    return [A, B, C], T1, T2, lambda a, b, c: a[0] * b + c


def _injective():
    A = tir.placeholder((3,), "int32", "A")
    B = tir.placeholder((3, 4), "int32", "B")
    C = tir.placeholder((3, 4), "int32", "C")
    T1 = tir.compute((3, 4), lambda i, j: A[i] * B[i, j], name="T1")
    T2 = tir.compute((3, 4), lambda i, j: T1[i, j] + C[i, j], name="T2")
    return [A, B, C], T1, T2, lambda a, b, c: a[:, None] * b + c


# TVM: test_auto_inline (isaforge has no auto-inline pass: the same three pipelines inlined by hand)
@pytest.mark.parametrize("pipeline", [_elemwise, _broadcast, _injective], ids=["elemwise", "broadcast", "injective"])
def test_inline_elemwise_broadcast_injective(pipeline, rng):
    ins, T1, T2, ref = pipeline()
    s = schedules.create_schedule(T2)
    assert s[T1].attach_type == "root"
    s[T1].compute_inline()
    assert s[T1].attach_type == "inline"
    arrays = [ints(rng, t.shape) for t in ins]
    out = garbage((3, 4))
    func = run_host(s, ins + [T2], arrays + [out])
    np.testing.assert_array_equal(out, ref(*arrays), err_msg=str(func))
    assert alloc_shapes(func, "T1") == [], str(func)


# TVM: test_schedule_const_bound
def test_split_constant_bound(rng):
    n = 128
    A = tir.placeholder((n,), "float32", "A")
    A1 = tir.compute((n,), lambda i: A[i] + 1.0, name="A1")
    s = schedules.create_schedule(A1)
    s[A1].split(A1.op.axis[0], 8)
    a = floats(rng, (n,))
    out = garbage((n,), np.float32)
    func = run_host(s, [A, A1], [a, out])
    np.testing.assert_allclose(out, a + 1, rtol=1e-6, err_msg=str(func))
    assert loop_extents(func) == {"i.outer": 16, "i.inner": 8} and not has_guard(func)


# TVM: test_inline_mixed
def test_inline_and_compute_at_mixed(rng):
    n = 20
    A = tir.placeholder((n,), "int32", "A")
    A1 = tir.compute(A.shape, lambda *i: A[i] + 1, name="A1")
    A2 = tir.compute(A.shape, lambda *i: A1[i] + 2, name="A2")
    C = tir.compute((n,), lambda i: A2[i] + A1[i], name="C")
    s = schedules.create_schedule(C)
    xo, xi = s[C].split(C.op.axis[0], factor=8)
    s[A1].compute_at(s[C], xo)
    s[A2].compute_inline()
    a = ints(rng, (n,))
    c = garbage((n,))
    func = run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, 2 * a + 4, err_msg=str(func))
    assert "A2" not in str(func)
    assert alloc_shapes(func, "A1") == [(8,)], str(func)


# TVM: test_schedule_cache
def test_cache_read_attached_to_cache_write(rng):
    m, n = 4, 5
    A = tir.placeholder((m, n), "int32", "A")
    B = tir.placeholder((m, n), "int32", "B")
    C = tir.compute((m, n), lambda i, j: A[i, j] * B[i, j], name="C")
    s = schedules.create_schedule(C)
    AA = s.cache_read(A, "shared", [C])
    CC = s.cache_write(C, "shared")
    s[AA].compute_at(s[CC], CC.op.axis[0])
    a, b = ints(rng, (m, n)), ints(rng, (m, n))
    c = garbage((m, n))
    func = run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, a * b, err_msg=str(func))
    assert alloc_shapes(func, "A.shared") == [(1, n)], str(func)


# TVM: test_schedule_middle_cache
def test_caches_around_a_middle_stage(rng):
    m, n = 4, 5
    A = tir.placeholder((m, n), "int32", "A")
    B = tir.placeholder((m, n), "int32", "B")
    C = tir.compute((m, n), lambda i, j: A[i, j] * B[i, j], name="C")
    D = tir.compute((m, n), lambda i, j: C[i, j] + 1, name="D")
    s = schedules.create_schedule(D)
    s.cache_read(A, "local", [C])
    s.cache_read(B, "local", [C])
    s.cache_read(C, "local", [D])
    s.cache_write(D, "local")
    a, b = ints(rng, (m, n)), ints(rng, (m, n))
    d = garbage((m, n))
    func = run_host(s, [A, B, D], [a, b, d])
    np.testing.assert_array_equal(d, a * b + 1, err_msg=str(func))
    for name in ("A.local", "B.local", "C.local", "D.local", "C"):
        assert alloc_shapes(func, name) == [(m, n)], (name, str(func))


# TVM: test_schedule_cache_relayout1 (reorder, then cache_write: TVM re-lays the cache out; isaforge
# refuses cache_write after loop transforms, and must not silently drop the reorder)
def test_cache_write_after_reorder_refused():
    A = tir.placeholder((4, 5), "int32", "A")
    C = tir.compute((4, 5), lambda i, j: A[i, j] * 2, name="C")
    s = schedules.create_schedule(C)
    s[C].reorder(C.op.axis[1], C.op.axis[0])
    with pytest.raises(ScheduleError) as e:
        s.cache_write(C, "global")
    assert_names(e, "'C'", "cache_write")


# TVM: test_schedule_cache_relayout2 (kept as it is: cache_write after split + reorder is refused)
def test_cache_write_after_split_and_reorder_refused():
    A = tir.placeholder((8, 5), "int32", "A")
    B = tir.placeholder((8, 5), "int32", "B")
    C = tir.compute((8, 5), lambda i, j: A[i, j] * B[i, j], name="C")
    s = schedules.create_schedule(C)
    x, y = C.op.axis
    xo, xi = s[C].split(x, factor=4)
    s[C].reorder(xo, y, xi)
    with pytest.raises(ScheduleError) as e:
        s.cache_write(C, "global")
    assert_names(e, "'C'", "cache_write", "before other schedule primitives")


# TVM: test_schedule_cache_relayout3 (kept as it is: a reduction split before cache_write is refused)
def test_cache_write_of_split_reduction_refused(rng):
    A = tir.placeholder((8, 5), "int32", "A")
    B = tir.placeholder((8, 5), "int32", "B")
    k = tir.reduce_axis((0, 5), "k")
    C = tir.compute((8,), lambda i: tir.sum(A[i, k] * B[i, k], axis=k), name="C")
    s = schedules.create_schedule(C)
    s[C].split(C.op.axis[0], factor=4)
    with pytest.raises(ScheduleError) as e:
        s.cache_write(C, "global")
    assert_names(e, "'C'", "cache_write", "before other schedule primitives")
    # the supported order: cache_write first, then split the copy-out stage
    s = schedules.create_schedule(C)
    CC = s.cache_write(C, "global")
    xo, xi = s[C].split(C.op.axis[0], factor=4)
    s[CC].compute_at(s[C], xo)
    a, b = ints(rng, (8, 5)), ints(rng, (8, 5))
    c = garbage((8,))
    func = run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, (a * b).sum(1), err_msg=str(func))
    assert alloc_shapes(func, "C.global") == [(4,)], str(func)


# TVM: test_schedule_tensor_compute3 (a producer computed at a loop of a tensorized consumer: the
# intrinsic reads its operand words from the producer's local buffer)
@pytest.mark.parametrize("at, shape", [("i", (3, 16)), ("j", (1, 16)), ("k.outer", (1, 4))])
def test_compute_at_into_tensorized_consumer(at, shape, rng):
    import isa_ext

    M, N, K = 4, 3, 16
    A = tir.placeholder((M, K), "int8", "A")
    B = tir.placeholder((N, K), "int8", "B")
    Bi = tir.compute((N, K), lambda j, k: B[j, k] // tir.const(2, "int8"), name="Bi")
    k = tir.reduce_axis((0, K), "k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * Bi[j, k].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(k, 4)
    s[C].tensorize(ki, isa_ext.get("dot4_i8"))
    axis = {v.name: v for v in s[C].leaf_iter_vars}[at]
    s[Bi].compute_at(s[C], axis)
    a = rng.integers(-128, 128, (M, K)).astype(np.int8)
    b = rng.integers(-128, 128, (N, K)).astype(np.int8)
    c = garbage((M, N))
    func = run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, a.astype(np.int32) @ (b // 2).astype(np.int32).T, err_msg=str(func))
    assert alloc_shapes(func, "Bi") == [shape], str(func)
    assert len(func.intrinsic_calls) == 1, str(func)

def _loop_dependent_sum(X):
    def body(n):
        rv = tir.reduce_axis((0, n), "rv")
        return tir.sum(X[rv], axis=rv)

    return body


# TVM: test_loop_dep_reduce (a reduce_axis whose extent is a loop variable: not supported, must be a
# TirError naming the axis)
def test_loop_dependent_reduce_extent_is_tir_error():
    X = tir.placeholder((10,), "float32", "x")
    with pytest.raises(TirError) as e:
        tir.compute(X.shape, _loop_dependent_sum(X), name="y")
    assert_names(e, "'rv'")


# TVM: test_loop_dep_reduce_cache_write (the same reduction, scheduled with cache_write)
def test_loop_dependent_reduce_extent_with_cache_write_is_tir_error():
    X = tir.placeholder((10,), "float32", "x")
    with pytest.raises(TirError):
        Y = tir.compute(X.shape, _loop_dependent_sum(X), name="y")
        s = schedules.create_schedule(Y)
        s.cache_write(Y, "local")
        tir.lower(s, [X, Y])


# TVM: test_reduction_and_dummy_fuse_split, part 1 (a 0-d sum; fuse() of no axes is refused, kept as it is)
def test_rank_zero_sum_and_fuse_of_no_axes_refused():
    n = 10
    X = tir.placeholder((n,), "int32", "X")
    k = tir.reduce_axis((0, n), "k")
    Y = tir.compute((), lambda: tir.sum(X[k], k), name="Y")
    s = schedules.create_schedule(Y)
    with pytest.raises(ScheduleError) as e:
        s[Y].fuse(*Y.op.axis)
    assert_names(e, "'Y'", "fuse", "at least one axis")
    ko, ki = s[Y].split(k, nparts=20)  # more parts than iterations: clamped to 10
    assert s[Y]._extent(ko) == n
    y = garbage(())
    func = run_host(s, [Y, X], [y, np.ones(n, np.int32)])
    assert int(y) == n, str(func)


# TVM: test_reduction_and_dummy_fuse_split, part 2 (fusing data and reduce axes is refused, kept as it is)
def test_fuse_data_axis_with_reduce_axis_refused(rng):
    n = 10
    X = tir.placeholder((n,), "int32", "X")
    k = tir.reduce_axis((0, n), "k")
    Y = tir.compute((n,), lambda i: tir.sum(X[k], k), name="Y")
    s = schedules.create_schedule(Y)
    with pytest.raises(ScheduleError) as e:
        s[Y].fuse(*(list(Y.op.axis) + list(Y.op.reduce_axis)))
    assert_names(e, "'Y'", "'i'", "'k'", "reduce")
    y = garbage((n,))
    func = run_host(s, [Y, X], [y, np.ones(n, np.int32)])
    np.testing.assert_array_equal(y, np.full(n, n, np.int32), err_msg=str(func))


# TVM: test_schedule_compute_inline (single-output variant: caches around a stage that is then inlined)
def test_inline_stage_after_cache_write(rng):
    shape = (4, 16)
    A = tir.placeholder(shape, "int32", "A")
    B = tir.placeholder(shape, "int32", "B")
    C = tir.compute(shape, lambda *i: A[i] + B[i], name="C")
    F = tir.compute(shape, lambda *i: C[i] * B[i], name="F")
    s = schedules.create_schedule(F)
    s.cache_read(A, "local", [C])
    s.cache_read(B, "local", [C, F])
    s.cache_write(C, "local")
    s.cache_write(F, "local")
    s[C].compute_inline()
    a, b = ints(rng, shape), ints(rng, shape)
    f = garbage(shape)
    func = run_host(s, [A, B, F], [a, b, f])
    np.testing.assert_array_equal(f, (a + b) * b, err_msg=str(func))
    assert alloc_shapes(func, "C") == [], str(func)


# TVM: test_local_stage_predicate (no thread binding: splitting the attached producer by its full extent
# needs no guard)
def test_attached_producer_split_by_full_extent_has_no_guard(rng):
    m, n, p = 1, 3, 2
    A = tir.placeholder((m, n, p), "int32", "A")
    B = tir.compute((m, n, p), lambda bi, bj, bk: A[bi, bj, bk], name="B")
    C = tir.compute((m, n, p), lambda ci, cj, ck: B[ci, cj, ck], name="C")
    s = schedules.create_schedule(C)
    s[B].compute_at(s[C], C.op.axis[0])
    s[B].split(B.op.axis[1], n)
    a = ints(rng, (m, n, p))
    c = garbage((m, n, p))
    func = run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, a, err_msg=str(func))
    assert not has_guard(func), str(func)
    assert alloc_shapes(func, "B") == [(1, n, p)], str(func)


# TVM: test_local_stage_predicate2 (no thread binding). TVM attaches the cache of A at C's outermost split
# although only B (attached inside that loop) reads it; isaforge refuses that with a clear error (kept as
# it is), so the cache goes to B's outer split: one 32-element chunk, B one 64-element half, no guard.
def test_cache_read_compute_root_then_compute_at(rng):
    A = tir.placeholder((128,), "int32", "A")
    B = tir.compute((128,), lambda bi: A[bi] + 1, name="B")
    C = tir.compute((128,), lambda ci: B[ci] + 2, name="C")
    s = schedules.create_schedule(C)
    AA = s.cache_read(A, "local", [B])
    oc, ic = s[C].split(s[C].op.axis[0], factor=64)
    ooc, ioc = s[C].split(oc, factor=2)
    oic, iic = s[C].split(ic, factor=32)
    s[B].compute_at(s[C], ioc)
    ob, ib = s[B].split(s[B].op.axis[0], factor=32)
    s[AA].compute_root()
    with pytest.raises(ScheduleError) as e:
        s[AA].compute_at(s[C], ooc)
    assert_names(e, "'A.local'", "'C'", "'ci.outer.outer'", "does not consume")
    s[AA].compute_at(s[B], ob)
    s[AA].split(s[AA].op.axis[0], factor=32)
    a = ints(rng, (128,))
    c = garbage((128,))
    func = run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, a + 3, err_msg=str(func))
    assert not has_guard(func), str(func)
    assert alloc_shapes(func, "A.local") == [(32,)], str(func)
    assert alloc_shapes(func, "B") == [(64,)], str(func)
    assert store_count(func, "A.local") == 128 and store_count(func, "B") == 128



# TVM: test_schedule_bound_condition (a padded copy reading a local cache of its input: at the root the
# cache is the whole input; attached at a tile of the pad it is 8 elements from tile start - 1, guarded
# to the input's domain, each input element copied once)
@pytest.mark.parametrize("variant", ["root", "attach", "attach_unrolled"])
def test_pad_reading_a_cache_read(variant, rng):
    A = tir.placeholder((64,), "float32", "A")
    Apad = tir.compute((66,), lambda i: tir.if_then_else(tir.all(i > 0, i < 65), A[i - 1], tir.const(0.0)),
                       name="Apad")
    Apad2 = tir.compute((66,), lambda i: Apad[i] * 2.0, name="Apad2")
    s = schedules.create_schedule(Apad2)
    AL = s.cache_read(A, "local", [Apad])
    if variant != "root":
        io, ii = s[Apad].split(Apad.op.axis[0], 8)
        s[AL].compute_at(s[Apad], io)
        if variant == "attach_unrolled":
            s[Apad].unroll(ii)
            s[AL].unroll(AL.op.axis[0])
    a = floats(rng, (64,))
    out = garbage((66,), np.float32)
    func = run_host(s, [A, Apad2], [a, out])
    np.testing.assert_array_equal(out, np.pad(a, 1) * 2, err_msg=str(func))
    assert alloc_shapes(func, "A.local") == [(64,) if variant == "root" else (8,)], str(func)
    assert store_count(func, "A.local") == 64, str(func)
    assert store_count(func, "Apad") == 66, str(func)

# =================================================================================================
# Found while porting: refusals and bugs next to the TVM cases
# =================================================================================================

# TVM: the shared -> local cache hierarchy of its GEMM schedules (cache_read of a cache_read). TVM attaches
# the shared cache at an outer loop of the consumer although only the local cache reads it; isaforge
# refuses that with a clear error (the consumer does not read the shared cache directly).
def test_two_level_cache_outer_attach_refused(rng):
    A = tir.placeholder((8,), "int32", "A")
    C = tir.compute((8,), lambda i: A[i] * 2, name="C")
    s = schedules.create_schedule(C)
    AS = s.cache_read(A, "shared", [C])
    AL = s.cache_read(AS, "local", [C])
    io, ii = s[C].split(C.op.axis[0], 4)
    with pytest.raises(ScheduleError) as e:
        s[AS].compute_at(s[C], io)
    assert_names(e, "'A.shared'", "'C'", "'i.outer'", "does not consume")
    # what isaforge does accept: the shared cache at the root, the local one inside the tile
    s[AL].compute_at(s[C], ii)
    a = ints(rng, (8,))
    c = garbage((8,))
    func = run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, 2 * a, err_msg=str(func))
    assert alloc_shapes(func, "A.shared.local") == [(1,)], str(func)


# TVM: test_tensor_intrin_scalar_params' premise (a free scalar variable in a compute): isaforge kernels
# take tensors only, so a scalar variable is an error naming it
def test_free_scalar_variable_is_tir_error(rng):
    A = tir.placeholder((4,), "int32", "A")
    n = tir.var("n")
    C = tir.compute((4,), lambda i: A[i] + n, name="C")
    s = schedules.create_schedule(C)
    with pytest.raises(TirError) as e:
        codegen_c.build(tir.lower(s, [A, C]))
    assert_names(e, "'n'")


_BOOL_ARGUMENT = """
import numpy as np, tir, schedules, codegen_c
A = tir.placeholder((8,), "int32", "A")
if {output!r}:
    M = tir.compute((8,), lambda i: A[i] > 0, name="M")
    args = [A, M]
else:
    Mk = tir.placeholder((8,), "bool", "Mk")
    M = tir.compute((8,), lambda i: tir.if_then_else(Mk[i], A[i], tir.const(0)), name="M")
    args = [A, Mk, M]
s = schedules.create_schedule(M)
a = np.arange(-4, 4).astype(np.int32)
arrays = [a, np.zeros(8, bool)] if {output!r} else [a, a > 0, np.zeros(8, np.int32)]
try:
    codegen_c.build(tir.lower(s, args))(*arrays)
except tir.TirError:
    print("refused")
else:
    print("correct" if np.array_equal(arrays[-1], np.where(a > 0, a if not {output!r} else True, 0)) else "wrong")
"""


# (beyond the TE tests; TVM's codegen tests pass bool tensors) a bool tensor as a kernel argument: the C
# signature once used int32_t * while the argument check accepted 1-byte numpy bool arrays, so the kernel
# read (input) or wrote (output) 4x past the array. Run in a subprocess: such a write corrupts the heap.
@pytest.mark.parametrize("output", [False, True], ids=["input", "output"])
def test_bool_tensor_argument_refused_or_correct(output):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _BOOL_ARGUMENT.format(output=output)], capture_output=True,
                       text=True, env=env, cwd=root, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.strip() in ("refused", "correct"), r.stdout


# (beyond the TE tests) comparisons that the operand's dtype decides (an unsigned value >= 0, an int8 value
# <= 127) are legal expressions; the simplifier folds them so the emitted C does not trip -Wtype-limits
@pytest.mark.parametrize("dtype, cond", [("uint8", "ge0"), ("uint32", "ge0"), ("int8", "le127")])
def test_comparison_decided_by_dtype_builds(dtype, cond, rng):
    A = tir.placeholder((6,), dtype, "A")

    def body(i):
        c = A[i] >= 0 if cond == "ge0" else A[i] <= 127
        return tir.if_then_else(c, A[i], A[i] // tir.const(2, dtype))

    C = tir.compute((6,), body, name="C")
    s = schedules.create_schedule(C)
    a = np.array([0, 1, 2, 3, 100, 127], dtype)
    c = np.full((6,), 90, dtype)
    func = run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, a, err_msg=str(func))


# TVM: test_tensor_reduce reads T(i, j, rv + 1) one past the end; isaforge lowers a provably out-of-bounds
# read of a kernel argument without complaint and the C reads past the caller's array
def test_out_of_bounds_read_refused():
    A = tir.placeholder((3, 5), "int32", "A")
    rv = tir.reduce_axis((0, 5), "k")
    C = tir.compute((3,), lambda i: tir.sum(A[i, rv + 1], axis=rv), name="C")
    s = schedules.create_schedule(C)
    with pytest.raises(TirError) as e:
        tir.lower(s, [A, C])
    assert_names(e, "'A'")
