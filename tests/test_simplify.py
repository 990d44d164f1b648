"""The affine simplifier removes the index arithmetic that split and fuse introduce."""

import codegen_c
import schedules
import tir
from tir.expr import Var
from tir.simplify import bound, simplify


def test_split_index_folds_back():
    io, ii = Var("io"), Var("ii")
    ranges = {id(io): (0, 15), id(ii): (0, 3)}
    e = simplify((io * 4 + ii) // 4, ranges)
    assert e is io
    assert str(simplify((io * 4 + ii) % 4, ranges)) == "ii"


def test_fuse_index_folds_back():
    f = Var("f")
    e = simplify((f // 8) * 8 + f % 8, {id(f): (0, 63)})
    assert e is f


def test_bounds_decide_guards():
    i = Var("i")
    assert str(simplify(i * 4 + 3 < 64, {id(i): (0, 15)})) == "True"
    assert str(simplify(i * 3 + 2 < 10, {id(i): (0, 3)})) != "True"
    assert bound(i * 2 - 1, {id(i): (0, 5)}) == (-1, 9)


def test_fused_elementwise_c_has_no_div_or_mod():
    A = tir.placeholder((8, 8), "int32", name="A")
    C = tir.compute((8, 8), lambda i, j: A[i, j] + 1, name="C")
    s = schedules.create_schedule(C)
    s[C].fuse(*C.op.axis)
    body = codegen_c.emit(tir.lower(s, [A, C])).split("void main_", 1)[1]
    assert "/" not in body.replace("/*", "").replace("*/", "") and "%" not in body
