"""Errors: every illegal schedule raises ScheduleError naming the stage, the axis (or tensor) and the
reason; dtype errors name both operands; built modules check their arguments before running any C;
integer // and % are floor operations; library code prints nothing."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import check_workload, run_host

import codegen_c
import schedules
import tir
from schedules import workloads as W
from tir import ArgumentError, DTypeError, ScheduleError, TirError


def _mm(M=8, N=8, K=8, name="C"):
    wl = W.matmul(M, N, K, name=name)
    s = schedules.create_schedule(wl.output)
    return wl, s, s[wl.output]


def assert_names(exc, *parts):
    msg = str(exc.value)
    for p in parts:
        assert p in msg, f"{p!r} not in error message {msg!r}"


# --- split ------------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [0, -1, -8])
def test_split_factor_below_one(factor):
    _, _, st = _mm()
    i, _ = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.split(i, factor)
    assert_names(e, "'C'", "'i'", "factor", str(factor), ">= 1")


@pytest.mark.parametrize("nparts", [0, -2])
def test_split_nparts_below_one(nparts):
    _, _, st = _mm()
    _, j = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.split(j, nparts=nparts)
    assert_names(e, "'C'", "'j'", "nparts", str(nparts), ">= 1")


@pytest.mark.parametrize("factor", [2.0, True, "4", None])
def test_split_factor_not_an_int(factor):
    _, _, st = _mm()
    i, _ = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.split(i, factor)
    assert_names(e, "'C'", "'i'")


def test_split_needs_exactly_one_of_factor_and_nparts():
    _, _, st = _mm()
    i, _ = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.split(i, factor=2, nparts=2)
    assert_names(e, "'C'", "'i'", "factor", "nparts")


def test_tile_factor_below_one():
    _, _, st = _mm()
    i, j = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.tile(i, j, 4, 0)
    assert_names(e, "'C'", "'j'", "factor 0")


def test_split_errors_leave_stage_unchanged():
    """A rejected split must not half-apply: the stage still lowers and computes correctly."""
    wl, s, st = _mm(5, 6, 7)
    i, j = st.op.axis
    with pytest.raises(ScheduleError):
        st.split(i, 0)
    assert [a.name for a in st.leaf_iter_vars] == ["i", "j", "k"]
    check_workload(wl, s)


# --- axes that are not leaves of the stage ------------------------------------------------------

def test_split_axis_of_another_stage():
    _, _, st = _mm(name="C")
    wl2, _, _ = _mm(name="D")
    other = wl2.output.op.axis[0]
    with pytest.raises(ScheduleError) as e:
        st.split(other, 2)
    assert_names(e, "'C'", "'i'", "not a leaf axis")


def test_split_axis_already_split():
    _, _, st = _mm()
    i, _ = st.op.axis
    st.split(i, 2)
    with pytest.raises(ScheduleError) as e:
        st.split(i, 2)
    assert_names(e, "'C'", "'i'", "not a leaf axis", "i.outer", "i.inner")


def test_fuse_axis_already_fused():
    _, _, st = _mm()
    i, j = st.op.axis
    st.fuse(i, j)
    with pytest.raises(ScheduleError) as e:
        st.unroll(j)
    assert_names(e, "'C'", "'j'", "unroll", "not a leaf axis", "i.j.fused")


@pytest.mark.parametrize("prim", ["unroll", "vectorize", "parallel", "pragma"])
def test_annotation_on_foreign_axis(prim):
    _, _, st = _mm(name="C")
    wl2, _, _ = _mm(name="D")
    other = wl2.output.op.axis[1]
    with pytest.raises(ScheduleError) as e:
        if prim == "pragma":
            st.pragma(other, "unroll_explicit", 1)
        else:
            getattr(st, prim)(other)
    assert_names(e, "'C'", "'j'", prim)


def test_non_axis_argument():
    _, _, st = _mm()
    with pytest.raises(ScheduleError) as e:
        st.unroll(3)
    assert_names(e, "'C'", "unroll", "IterVar")


def test_primitive_on_placeholder():
    wl, s, st = _mm()
    with pytest.raises(ScheduleError) as e:
        s[wl.inputs[0]].split(st.op.axis[0], 2)
    assert_names(e, "'A'", "placeholder")


# --- reorder ----------------------------------------------------------------------------------

def test_reorder_duplicated_axis():
    _, _, st = _mm()
    i, j = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.reorder(j, i, j)
    assert_names(e, "'C'", "'j'", "reorder", "twice")


def test_reorder_foreign_axis():
    _, _, st = _mm(name="C")
    wl2, _, _ = _mm(name="D")
    i, _ = st.op.axis
    k2 = wl2.output.op.reduce_axis[0]
    with pytest.raises(ScheduleError) as e:
        st.reorder(k2, i)
    assert_names(e, "'C'", "'k'", "reorder", "not a leaf axis")


def test_reorder_split_parent():
    _, _, st = _mm()
    i, j = st.op.axis
    st.split(i, 4)
    with pytest.raises(ScheduleError) as e:
        st.reorder(j, i)
    assert_names(e, "'C'", "'i'", "reorder", "not a leaf axis")


# --- fuse -------------------------------------------------------------------------------------

def test_fuse_non_adjacent():
    _, _, st = _mm()
    i, j = st.op.axis
    io, ii = st.split(i, 2)
    with pytest.raises(ScheduleError) as e:
        st.fuse(io, j)
    assert_names(e, "'C'", "'i.outer'", "'j'", "not adjacent")


def test_fuse_wrong_order():
    _, _, st = _mm()
    i, j = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.fuse(j, i)
    assert_names(e, "'C'", "'i'", "'j'", "not adjacent")


def test_fuse_data_with_reduce_axis():
    _, _, st = _mm()
    _, j = st.op.axis
    k = st.op.reduce_axis[0]
    with pytest.raises(ScheduleError) as e:
        st.fuse(j, k)
    assert_names(e, "'C'", "'k'", "reduce")


# --- compute_at -------------------------------------------------------------------------------

def test_compute_at_itself():
    _, _, st = _mm()
    i, _ = st.op.axis
    with pytest.raises(ScheduleError) as e:
        st.compute_at(st, i)
    assert_names(e, "'C'", "'i'", "itself")


def test_compute_at_cycle():
    """s[P].compute_at(s[O], ...) then s[O].compute_at(s[P], ...): O would be inside P inside O."""
    wl = W.stencil1d(16)
    s = schedules.create_schedule(wl.output)
    P, O = s[wl["P"]], s[wl.output]
    P.compute_at(O, O.op.axis[0])
    with pytest.raises(ScheduleError) as e:
        O.compute_at(P, P.op.axis[0])
    assert_names(e, "'blur'", "'P'", "cycle")


def test_compute_at_longer_cycle():
    A = tir.placeholder((8,), "int32", "A")
    X = tir.compute((8,), lambda i: A[i] + 1, name="X")
    Y = tir.compute((8,), lambda i: X[i] * 2, name="Y")
    Z = tir.compute((8,), lambda i: Y[i] - 3, name="Z")
    s = schedules.create_schedule(Z)
    s[X].compute_at(s[Y], s[Y].op.axis[0])
    s[Y].compute_at(s[Z], s[Z].op.axis[0])
    with pytest.raises(ScheduleError) as e:
        s[Z].compute_at(s[X], s[X].op.axis[0])
    assert_names(e, "'Z'", "'X'", "cycle")


def test_compute_at_non_consumer():
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    R = s[wl.output]
    # relu reads bias, not dense (bias is not inlined)
    with pytest.raises(ScheduleError) as e:
        s[wl["dense"]].compute_at(R, R.op.axis[1])
    assert_names(e, "'dense'", "'relu'", "'j'", "does not consume")


def test_compute_at_through_inlined_stage_is_legal(rng):
    wl = W.dense_bias_relu(4, 5, 6)
    s = schedules.create_schedule(wl.output)
    s[wl["bias"]].compute_inline()
    s[wl["dense"]].compute_at(s[wl.output], s[wl.output].op.axis[0])
    check_workload(wl, s, rng)


def test_compute_at_axis_of_another_stage():
    """The message must name the stage being attached ('dense') as well as the target and the axis."""
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    R = s[wl.output]
    R.split(R.op.axis[1], 2)
    with pytest.raises(ScheduleError) as e:
        s[wl["dense"]].compute_at(s[wl["bias"]], R.leaf_iter_vars[1])
    assert_names(e, "'dense'", "'bias'", "'j.outer'")


def test_compute_at_axis_split_afterwards():
    wl = W.stencil1d(16)
    s = schedules.create_schedule(wl.output)
    O = s[wl.output]
    s[wl["P"]].compute_at(O, O.op.axis[0])
    O.split(O.op.axis[0], 4)
    with pytest.raises(ScheduleError) as e:
        tir.lower(s, wl.args)
    assert_names(e, "'P'", "'blur'", "'i'", "no longer a leaf")


def test_compute_at_with_a_second_reader():
    A = tir.placeholder((8,), "int32", "A")
    P = tir.compute((8,), lambda i: A[i] + 1, name="P")
    C1 = tir.compute((8,), lambda i: P[i] * 2, name="C1")
    C2 = tir.compute((8,), lambda i: P[i] + C1[i], name="C2")
    s = schedules.create_schedule(C2)
    s[P].compute_at(s[C1], s[C1].op.axis[0])
    with pytest.raises(ScheduleError) as e:
        tir.lower(s, [A, C2])
    assert_names(e, "'P'", "'C1'", "'C2'")


def test_compute_at_of_inlined_stage():
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    s[wl["bias"]].compute_inline()
    with pytest.raises(ScheduleError) as e:
        s[wl["bias"]].compute_at(s[wl.output], s[wl.output].op.axis[0])
    assert_names(e, "'bias'", "inline")


def test_compute_at_not_a_stage():
    wl, s, st = _mm()
    AL = s.cache_read(wl.inputs[0], "local", [wl.output])
    with pytest.raises(ScheduleError) as e:
        s[AL].compute_at(wl.output, st.op.axis[0])
    assert_names(e, "'A.local'", "Stage")


# --- compute_inline, vectorize, parallel --------------------------------------------------------

def test_compute_inline_of_reduction():
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    with pytest.raises(ScheduleError) as e:
        s[wl["dense"]].compute_inline()
    assert_names(e, "'dense'", "reduction")


def test_compute_inline_of_output():
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    with pytest.raises(ScheduleError) as e:
        s[wl.output].compute_inline()
    assert_names(e, "'relu'", "output")


def test_vectorize_reduction_axis():
    _, _, st = _mm()
    k = st.op.reduce_axis[0]
    ko, ki = st.split(k, 4)
    with pytest.raises(ScheduleError) as e:
        st.vectorize(ki)
    assert_names(e, "'C'", "'k.inner'", "vectorize", "reduction")


def test_parallel_reduction_axis():
    _, _, st = _mm()
    with pytest.raises(ScheduleError) as e:
        st.parallel(st.op.reduce_axis[0])
    assert_names(e, "'C'", "'k'", "parallel", "reduction")


@pytest.mark.parametrize("target", ["rv32im", "vexriscv"])
def test_parallel_on_target_without_threads(target):
    wl, s, st = _mm()
    i, j = st.op.axis
    io, ii = st.split(i, 2)
    st.parallel(io)
    func = tir.lower(s, wl.args, "mm")
    with pytest.raises(ScheduleError) as e:
        codegen_c.emit(func, target=target)
    assert_names(e, "'i.outer'", "parallel", "rv32im", "threads")
    # the host has threads: the same function emits and runs
    assert "omp parallel for" in codegen_c.emit(func, target="host")


# --- cache_read / cache_write misuse ------------------------------------------------------------

def test_cache_write_after_split():
    wl, s, st = _mm()
    st.split(st.op.axis[0], 2)
    with pytest.raises(ScheduleError) as e:
        s.cache_write(wl.output, "local")
    assert_names(e, "'C'", "cache_write")


def test_cache_write_of_placeholder():
    wl, s, _ = _mm()
    with pytest.raises(ScheduleError) as e:
        s.cache_write(wl.inputs[1], "local")
    assert_names(e, "'B'", "placeholder")


def test_cache_read_by_stage_that_does_not_read():
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    with pytest.raises(ScheduleError) as e:
        s.cache_read(wl.inputs[0], "shared", [wl.output])
    assert_names(e, "'X'", "'relu'", "does not read")


def test_tensor_not_in_schedule():
    _, s, _ = _mm(name="C")
    wl2, _, _ = _mm(name="Other")
    with pytest.raises(ScheduleError) as e:
        s[wl2.output]
    assert_names(e, "'Other'", "not part of this schedule")


# --- dtypes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["+", "-", "*", "max", "<", "if_then_else"])
def test_mixed_dtype_arithmetic_names_both_dtypes(op):
    A = tir.placeholder((4,), "int8", "A")
    B = tir.placeholder((4,), "int32", "B")
    fns = {
        "+": lambda i: A[i] + B[i],
        "-": lambda i: A[i] - B[i],
        "*": lambda i: A[i] * B[i],
        "max": lambda i: tir.max(A[i], B[i]),
        "<": lambda i: tir.if_then_else(A[i] < B[i], B[i], B[i]),
        "if_then_else": lambda i: tir.if_then_else(i < 2, A[i], B[i]),
    }
    with pytest.raises(DTypeError) as e:
        tir.compute((4,), fns[op], name="bad")
    assert_names(e, "int8", "int32", "A[i]", "B[i]", f"'{op}'")


def test_mixed_float_int_names_both_dtypes():
    A = tir.placeholder((4,), "float32", "A")
    B = tir.placeholder((4,), "int16", "B")
    with pytest.raises(DTypeError) as e:
        tir.compute((4,), lambda i: A[i] * B[i])
    assert_names(e, "float32", "int16")


def test_integer_true_division_and_float_mod_rejected():
    A = tir.placeholder((4,), "int32", "A")
    with pytest.raises(DTypeError) as e:
        tir.compute((4,), lambda i: A[i] / 2)
    assert_names(e, "'/'", "//")
    with pytest.raises(DTypeError):
        tir.compute((4,), lambda i: A[i].astype("float32") % 2.0)


def test_unknown_dtype():
    with pytest.raises(DTypeError) as e:
        tir.placeholder((4,), "int128", "A")
    assert_names(e, "int128")


def test_explicit_cast_makes_mixed_dtypes_legal(rng):
    A = tir.placeholder((6,), "int8", "A")
    B = tir.placeholder((6,), "int32", "B")
    C = tir.compute((6,), lambda i: A[i].astype("int32") + B[i], name="C")
    s = schedules.create_schedule(C)
    a = rng.integers(-128, 128, 6).astype(np.int8)
    b = rng.integers(-1000, 1000, 6).astype(np.int32)
    c = np.zeros(6, np.int32)
    run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, a.astype(np.int32) + b)


# --- floor semantics of // and % -----------------------------------------------------------------

def _elementwise(fn, a, b=None, out_dtype=None):
    dtype = tir.dtype.check(a.dtype)
    A = tir.placeholder(a.shape, dtype, "A")
    ins, arrays = [A], [a]
    if b is not None:
        B = tir.placeholder(b.shape, dtype, "B")
        ins.append(B)
        arrays.append(b)
        C = tir.compute(a.shape, lambda i: fn(i, A, B), name="C")
    else:
        C = tir.compute(a.shape, lambda i: fn(i, A), name="C")
    s = schedules.create_schedule(C)
    c = np.full(a.shape, 99, tir.dtype.numpy_dtype(C.dtype))
    func = run_host(s, ins + [C], arrays + [c])
    return c, func


@pytest.mark.parametrize("dtype", ["int32", "int16", "int8"])
def test_floordiv_floormod_tensor_by_tensor(dtype, rng):
    n = 64
    a = rng.integers(-100, 100, n).astype(dtype)
    b = rng.integers(-9, 10, n).astype(dtype)
    b[b == 0] = -7
    c, func = _elementwise(lambda i, A, B: A[i] // B[i], a, b)
    np.testing.assert_array_equal(c, np.floor_divide(a, b), err_msg=str(func))
    c, func = _elementwise(lambda i, A, B: A[i] % B[i], a, b)
    np.testing.assert_array_equal(c, np.mod(a, b), err_msg=str(func))


@pytest.mark.parametrize("divisor", [-3, -1, 3, 4, -8])
def test_floordiv_floormod_by_constant(divisor, rng):
    a = rng.integers(-50, 50, 40).astype(np.int32)
    c, func = _elementwise(lambda i, A: A[i] // divisor, a)
    np.testing.assert_array_equal(c, np.floor_divide(a, divisor), err_msg=str(func))
    c, func = _elementwise(lambda i, A: A[i] % divisor, a)
    np.testing.assert_array_equal(c, np.mod(a, divisor), err_msg=str(func))


@pytest.mark.parametrize("divisor", [-5, -2, 3, 4])
def test_floordiv_floormod_of_loop_expressions(divisor):
    """Affine index expressions that go negative: the simplifier's folding must keep floor semantics."""
    a = np.zeros(24, np.int32)
    iv = np.arange(24)
    cases = {
        "(i-7)//d": (lambda i, A: (i - 7) // divisor + A[i], np.floor_divide(iv - 7, divisor)),
        "(i-7)%d": (lambda i, A: (i - 7) % divisor + A[i], np.mod(iv - 7, divisor)),
        "(-3i)//d": (lambda i, A: (i * -3) // divisor + A[i], np.floor_divide(-3 * iv, divisor)),
        "(2i-9)%d": (lambda i, A: (2 * i - 9) % divisor + A[i], np.mod(2 * iv - 9, divisor)),
        "id": (lambda i, A: ((i - 11) // divisor) * divisor + (i - 11) % divisor + A[i], iv - 11),
    }
    for label, (fn, expect) in cases.items():
        c, func = _elementwise(fn, a)
        np.testing.assert_array_equal(c, expect, err_msg=f"{label}\n{func}")


def test_floordiv_constant_folding():
    a = np.zeros(4, np.int32)
    c, _ = _elementwise(lambda i, A: A[i] + tir.const(-7) // tir.const(2) * 100 + tir.const(7) % tir.const(-2), a)
    np.testing.assert_array_equal(c, np.full(4, (-7 // 2) * 100 + (7 % -2)))


def test_floordiv_by_negative_loop_dependent_divisor(rng):
    a = rng.integers(-100, 100, 16).astype(np.int32)
    iv = np.arange(16)
    c, func = _elementwise(lambda i, A: A[i] // (-1 - i), a)
    np.testing.assert_array_equal(c, np.floor_divide(a, -1 - iv), err_msg=str(func))
    c, func = _elementwise(lambda i, A: A[i] % (-1 - i), a)
    np.testing.assert_array_equal(c, np.mod(a, -1 - iv), err_msg=str(func))


# --- argument checking of built modules -----------------------------------------------------------

@pytest.fixture(scope="module")
def mm_module():
    wl, s, _ = _mm(4, 5, 6)
    return codegen_c.build(tir.lower(s, wl.args, "mm"))


def _mm_arrays():
    return [np.zeros((4, 6), np.int8), np.zeros((6, 5), np.int8), np.full((4, 5), 7, np.int32)]


@pytest.mark.parametrize("case", ["too_few", "too_many", "shape", "transposed", "dtype_in", "dtype_out",
                                  "not_array", "non_contiguous", "read_only"])
def test_module_argument_errors(mm_module, case):
    a, b, c = _mm_arrays()
    args = [a, b, c]
    expect = []
    if case == "too_few":
        args = [a, b]
        expect = ["3", "2"]
    elif case == "too_many":
        args = [a, b, c, c]
        expect = ["3", "4"]
    elif case == "shape":
        args = [a, np.zeros((6, 4), np.int8), c]
        expect = ["'B'", "(6, 4)", "(6, 5)"]
    elif case == "transposed":
        args = [a, b, np.zeros((5, 4), np.int32)]
        expect = ["'C'", "(5, 4)", "(4, 5)"]
    elif case == "dtype_in":
        args = [a.astype(np.uint8), b, c]
        expect = ["'A'", "uint8", "int8"]
    elif case == "dtype_out":
        args = [a, b, c.astype(np.int64)]
        expect = ["'C'", "int64", "int32"]
    elif case == "not_array":
        args = [a, b.tolist(), c]
        expect = ["'B'"]
    elif case == "non_contiguous":
        args = [a, b, np.zeros((4, 10), np.int32)[:, ::2]]
        expect = ["'C'", "contiguous"]
    elif case == "read_only":
        c.flags.writeable = False
        expect = ["'C'", "writeable"]
    with pytest.raises(ArgumentError) as e:
        mm_module(*args)
    assert_names(e, *expect)
    # nothing ran: the output still holds its fill value
    if case not in ("too_few", "transposed", "dtype_out", "non_contiguous"):
        assert (c == 7).all()


def test_argument_error_raised_before_any_c_runs():
    """A wrong shape must be rejected even when the C would write out of bounds of the given array."""
    wl, s, _ = _mm(16, 16, 16)
    mod = codegen_c.build(tir.lower(s, wl.args, "mm16"))
    a = np.ones((16, 16), np.int8)
    b = np.ones((16, 16), np.int8)
    small = np.full((2, 2), 3, np.int32)
    with pytest.raises(ArgumentError):
        mod(a, b, small)
    assert (small == 3).all()


# --- the error hierarchy -------------------------------------------------------------------------

def test_every_error_subclasses_tir_error():
    import tir.errors as E

    for cls in (E.ScheduleError, E.DTypeError, E.LoweringError, E.CodegenError, E.ArgumentError):
        assert issubclass(cls, TirError)
    assert schedules.ScheduleError is ScheduleError
    assert tir.ScheduleError is ScheduleError


@pytest.mark.parametrize("case", ["schedule", "dtype", "lowering_missing_arg", "codegen_target", "argument",
                                  "bad_shape", "empty_reduce", "python_bool"])
def test_errors_are_tir_errors(case):
    wl, s, st = _mm(4, 4, 4)
    with pytest.raises(TirError):
        if case == "schedule":
            st.split(st.op.axis[0], 0)
        elif case == "dtype":
            tir.compute((2,), lambda i: wl.inputs[0][i, 0] + wl.output[i, 0])
        elif case == "lowering_missing_arg":
            tir.lower(s, [wl.output])
        elif case == "codegen_target":
            codegen_c.emit(tir.lower(s, wl.args), target="x86_64")
        elif case == "argument":
            codegen_c.build(tir.lower(s, wl.args))(np.zeros(3))
        elif case == "bad_shape":
            tir.placeholder((0, 3), "int8")
        elif case == "empty_reduce":
            tir.reduce_axis((4, 4))
        elif case == "python_bool":
            A = wl.inputs[0]
            tir.compute((4,), lambda i: A[i, 0] if A[i, 0] > 0 else A[i, 1])


# --- TVM compatibility of lower's args -----------------------------------------------------------

def test_lower_accepts_an_unused_placeholder_argument(rng):
    """TVM's lower binds every tensor in args, used or not; ported scripts pass such arguments."""
    A = tir.placeholder((8,), "int32", "A")
    Unused = tir.placeholder((8,), "int32", "Unused")
    C = tir.compute((8,), lambda i: A[i] + 1, name="C")
    s = schedules.create_schedule(C)
    a = rng.integers(-5, 5, 8).astype(np.int32)
    c = np.zeros(8, np.int32)
    run_host(s, [A, Unused, C], [a, np.zeros(8, np.int32), c])
    np.testing.assert_array_equal(c, a + 1)


# --- quiet library ---------------------------------------------------------------------------

def test_library_prints_nothing(capfd):
    wl = W.conv2d_nchw(1, 2, 5, 5, 2, 3, stride=1, pad=1)
    s = schedules.create_schedule(wl.output)
    s[wl["pad"]].compute_at(s[wl.output], s[wl.output].op.axis[2])
    check_workload(wl, s)
    func = tir.lower(s, wl.args, "conv")
    codegen_c.emit(func, target="rv32im")
    with pytest.raises(ScheduleError):
        s[wl.output].split(s[wl.output].op.axis[0], 0)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_import_prints_nothing():
    code = "import tir, schedules, codegen_c"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout == "" and r.stderr == ""
