"""decl_tensor_intrin: descriptions of any shape, matched structurally; a user-declared intrinsic over a
built-in op; the saturating intrinsic of examples/custom_extension.py and its range proof."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import load_example

import codegen_c
import isa_ext
import schedules
import tir
from isa_ext.intrin import intrin_op
from tir.errors import ScheduleError
from tir.expr import BinOp, Cast
from tir.intrin import IntrinImpl, call, decl_tensor_intrin

ROOT = Path(__file__).resolve().parent.parent


def two_row_dot():
    """out[r] = sum_k w[r, k] * a[k] for 2 rows of 4 int8 lanes: two dot4_i8 ops per call."""
    ext = isa_ext.get("dot4_i8")
    op = intrin_op(ext, "dot")
    a = tir.placeholder((4,), "int8", name="a")
    w = tir.placeholder((2, 4), "int8", name="w")
    k = tir.reduce_axis((0, 4), name="k")
    # the operands in the other order than the stages below: + and * match commutatively
    desc = tir.compute((2,), lambda r: tir.sum(w[r, k].astype("int32") * a[k].astype("int32"), axis=k), name="rows2")

    def impl(m):
        va, vw = (m.views[n] for n in ("a", "w"))
        out = m.output
        upd = [out.store(BinOp("+", out.load(r), Cast("int32", call(op, (vw.word(r, 0), va.word(0)))), "int32"), r)
               for r in range(2)]
        init = [out.store(tir.const(0, "int32"), r) for r in range(2)]
        return IntrinImpl(reduce_init=tir.stmt.seq(init), reduce_update=tir.stmt.seq(upd))

    return decl_tensor_intrin(desc, impl, ops={"dot": op}, extension=ext)


def _mm(M, N, K, bt_of=None):
    A = tir.placeholder((M, K), "int8", name="A")
    Bt = tir.placeholder((N, K), "int8", name="Bt")
    r = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, r].astype("int32") * Bt[j, r].astype("int32"), axis=r),
                    name="C")
    return A, Bt, C


def _check_matmul_nt(func, M, N, K, rng):
    """Run ``func`` (C = A Bt^T, int8 -> int32) on the host; C starts as garbage, so every element is written."""
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    bt = rng.integers(-128, 128, (N, K), dtype=np.int8)
    c = np.full((M, N), 7, np.int32)
    codegen_c.build(func, "host")(a, bt, c)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)


def test_user_intrinsic_over_two_output_rows_matches_numpy(rng):
    A, Bt, C = _mm(6, 8, 16)
    s = schedules.create_schedule(C)
    i, j = C.op.axis
    jo, ji = s[C].split(j, 2)
    ko, ki = s[C].split(C.op.reduce_axis[0], 4)
    s[C].reorder(i, jo, ko, ji, ki)
    s[C].tensorize(ji, two_row_dot())
    func = tir.lower(s, [A, Bt, C])
    assert len(func.intrinsic_calls) == 2
    _check_matmul_nt(func, 6, 8, 16, rng)


def test_operand_varying_along_an_axis_the_description_does_not_is_refused():
    """Both operands vary along the row axis: no way of binding them fits desc (w varies, a does not)."""
    A = tir.placeholder((8, 16), "int8", name="A")
    B = tir.placeholder((8, 16), "int8", name="B")
    r = tir.reduce_axis((0, 16), name="k")
    C = tir.compute((8,), lambda i: tir.sum(A[i, r].astype("int32") * B[i, r].astype("int32"), axis=r), name="C")
    s = schedules.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], 2)
    ko, ki = s[C].split(C.op.reduce_axis[0], 4)
    s[C].reorder(io, ko, ii, ki)
    s[C].tensorize(ii, two_row_dot())
    with pytest.raises(ScheduleError, match=r"stage 'C' axis 'i.inner'.* varies along 'i.inner', but a of rows2"):
        tir.lower(s, [A, B, C])


def test_rows_of_either_operand_match(rng):
    """The row axis of desc's w may be bound to rows of A as well (w = A rows, a = a row of Bt)."""
    A, Bt, C = _mm(8, 6, 16)
    s = schedules.create_schedule(C)
    i, j = C.op.axis
    io, ii = s[C].split(i, 2)
    ko, ki = s[C].split(C.op.reduce_axis[0], 4)
    s[C].reorder(j, io, ko, ii, ki)
    s[C].tensorize(ii, two_row_dot())
    _check_matmul_nt(tir.lower(s, [A, Bt, C]), 8, 6, 16, rng)


def test_desc_index_must_be_an_axis():
    a = tir.placeholder((8,), "int8", name="a")
    k = tir.reduce_axis((0, 4), name="k")
    desc = tir.compute((1,), lambda i: tir.sum(a[k * 2].astype("int32"), axis=k), name="strided")
    with pytest.raises(ScheduleError, match="index k \\* 2 of a must be one of its axes"):
        decl_tensor_intrin(desc, lambda m: IntrinImpl())


# ------------------------------------------------------------------------------------------------
# sat_mac2_i16 (examples/custom_extension.py): tensorized only where no partial sum can saturate


@pytest.fixture(scope="module")
def custom():
    return load_example("custom_extension")


def test_sat_mac2_widened_int8_matmul_matches_numpy(custom, rng):
    func = custom.widened_matmul(5, 3, 64)
    assert func.extensions == [custom.EXT]
    a = rng.integers(-128, 128, (5, 64), dtype=np.int8)
    bt = rng.integers(-128, 128, (3, 64), dtype=np.int8)
    c = np.zeros((5, 3), np.int32)
    codegen_c.build(func, "host")(a, bt, c)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)


def test_sat_mac2_refuses_full_range_int16(custom):
    A = tir.placeholder((4, 8), "int16", name="A")
    Bt = tir.placeholder((4, 8), "int16", name="Bt")
    k = tir.reduce_axis((0, 8), name="k")
    C = tir.compute((4, 4), lambda i, j: tir.sum(A[i, k].astype("int32") * Bt[j, k].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(k, 2)
    s[C].tensorize(ko, custom.EXT)
    with pytest.raises(ScheduleError, match=r"cannot prove that no partial sum saturates: A in \[-32768, 32767\]"):
        tir.lower(s, [A, Bt, C])


def test_no_compiler_module_names_an_intrinsic_kind():
    """tir/, schedules/ and codegen_c/ ask an intrinsic for its facts; none compares a kind or an
    extension's name (the string constants of the built-in intrinsics' shapes and units)."""
    import ast

    banned = {"dot", "mac_tile", "mac", "dot4_i8", "dot4_u8", "dot2_i16", "mac4_i8", "requant_i8"}
    found = []
    for pkg in ("tir", "schedules", "codegen_c"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text())
            docs = {id(n.body[0].value) for n in ast.walk(tree)
                    if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                    and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            # a built-in extension as a public function's default argument is configuration, not a branch
            defaults = {id(d) for n in ast.walk(tree) if isinstance(n, ast.arguments)
                        for d in n.defaults + n.kw_defaults if d is not None}
            for n in ast.walk(tree):
                if isinstance(n, ast.Constant) and n.value in banned and id(n) not in docs | defaults:
                    found.append(f"{path.relative_to(ROOT)}:{n.lineno}: {n.value!r}")
    assert not found, found
