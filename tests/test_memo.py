"""The caches behind fast lowering: strict keys, the simplifier's memos, flat indices, substitute.

A memo may only ever return what the uncached computation gives; these tests compare the two on
the inputs where a sloppy key would mix things up (0.0 / -0.0, 1 / True, variables with the same
name, different ranges), and check that the caches never leak through pickling.
"""

import pickle

import numpy as np

import tir
from tir.expr import KIND_LOAD, BinOp, BufferLoad, Const, Var, free_var_ids, key, kinds, strict_key
from tir.printer import expr_str
from tir.simplify import _simplify, clear_memos, flat_index, linear, simplify
from tir.stmt import Buffer
from tir.visit import substitute


def test_strict_key_tells_apart_what_key_does_not():
    assert key(Const(0.0, "float32")) == key(Const(-0.0, "float32"))  # same(): unchanged semantics
    assert strict_key(Const(0.0, "float32")) != strict_key(Const(-0.0, "float32"))
    assert strict_key(Const(1, "int32")) != strict_key(Const(True, "int32"))
    assert strict_key(Const(3, "int32")) == strict_key(Const(3, "int32"))
    a, b = Var("x"), Var("x")
    assert strict_key(a) != strict_key(b)  # variables by identity, not name
    assert strict_key(a + 1) == strict_key(a + 1)
    assert strict_key(a + 1) != strict_key(b + 1)


def test_memoized_simplify_keeps_the_sign_of_zero():
    x = tir.var("x", "float32")
    pos, neg = simplify(x * tir.const(0.0)), simplify(x * tir.const(-0.0))
    assert expr_str(pos) != expr_str(neg)
    assert expr_str(neg) == expr_str(_simplify(x * tir.const(-0.0), {}))


def test_memo_depends_on_the_ranges_of_the_variables():
    clear_memos()
    i = tir.var("i")
    e = (i * 4 + 3) // 4
    assert expr_str(simplify(e, {id(i): (0, 7)})) == "i"
    # same tree, other ranges (i may be negative): the memo must not answer with the first result
    wide = simplify(e, {id(i): (-(2 ** 31), 2 ** 31 - 1)})
    assert expr_str(wide) == expr_str(_simplify(e, {id(i): (-(2 ** 31), 2 ** 31 - 1)}))
    assert expr_str(simplify(e, {id(i): (0, 7)})) == "i"


def test_memo_equals_uncached_on_random_index_arithmetic():
    rng = np.random.default_rng(7)
    vs = [tir.var(n) for n in "abcd"]
    for _ in range(300):
        e = vs[rng.integers(4)]
        for _ in range(rng.integers(1, 6)):
            op = rng.choice(["+", "-", "*", "//", "%", "min", "max"])
            other = vs[rng.integers(4)] if rng.random() < 0.5 else tir.const(int(rng.integers(1, 9)))
            e = BinOp(str(op), e, other, "int32") if rng.random() < 0.5 else BinOp(str(op), other, e, "int32")
        ranges = {id(v): (0, int(rng.integers(0, 20))) for v in vs if rng.random() < 0.8}
        want = expr_str(_simplify(e, ranges))
        assert expr_str(simplify(e, ranges)) == want
        assert expr_str(simplify(e, ranges)) == want  # the memo hit
        lin = linear(e, ranges)
        before = expr_str(lin.to_expr())
        lin.terms.clear()  # the caller's copy: the memo keeps its own
        assert expr_str(linear(e, ranges).to_expr()) == before


def test_flat_index_is_simplify_of_the_row_major_sum():
    i, j, k = tir.var("i"), tir.var("j"), tir.var("k")
    ranges = {id(i): (0, 3), id(j): (0, 5), id(k): (0, 1)}
    for idx, shape in [((i, j), (4, 6)), ((i * 2 + k, (j + 1) % 6, j // 3), (8, 6, 2)), ((), ()),
                       ((Const(2, "int32"), i), (3, 4))]:
        e = Const(0, "int32")
        stride = 1
        for x, n in zip(reversed(idx), reversed(shape)):
            e = BinOp("+", e, BinOp("*", x, Const(stride, "int32"), "int32"), "int32")
            stride *= n
        assert expr_str(flat_index(idx, shape, ranges)) == expr_str(_simplify(e, ranges))


def test_substitute_shares_what_it_does_not_change():
    i, j = tir.var("i"), tir.var("j")
    buf = Buffer("A", (8, 8), "int32", "global")
    untouched = j * 8 + 1
    e = BufferLoad(buf, (i + 1, untouched))
    out = substitute(e, {i: Const(2, "int32")})
    assert out.indices[1] is untouched
    assert expr_str(out) == "A[2 + 1, j * 8 + 1]"
    assert substitute(untouched, {i: Const(2, "int32")}) is untouched


def test_cached_fields_are_not_pickled():
    i = tir.var("i")
    e = BufferLoad(Buffer("A", (8,), "int32", "global"), (i + 1,))
    assert kinds(e) & KIND_LOAD and free_var_ids(e) == (id(i),)
    copy = pickle.loads(pickle.dumps(e))
    assert getattr(copy, "_sk", None) is None and getattr(copy, "_fv", None) is None
    assert free_var_ids(copy) == (id(copy.indices[0].a),)
