"""Lowering at the edges: out-of-bounds reads, int32 limits, and tight bound inference.

Item 11: a read that is provably out of bounds on a path that executes is a LoweringError; reads
protected by if_then_else / && / a reduction's where, and the guards of non-divisible splits, are
legal. Item 13: loop extents, buffer sizes and flat indices must fit the emitter's int32_t.
Item 18: bound inference through fused and split axes computes only the region the consumer reads
(TVM's test_bound_fusesplit shapes), and a root intermediate read only partly is computed only there.

The region tests run the lowered PrimFunc in a small Python interpreter that counts Store
executions and fills every allocated buffer with a sentinel, so a region that is too small shows up
as a wrong result; a few are also built with the host C compiler and compared with numpy.
"""

import itertools

import numpy as np
import pytest

import codegen_c
import schedules
import tir
from schedules import workloads as W
from tir.expr import BinOp, BufferLoad, Cast, Cmp, Const, Not, Select, Var
from tir.lower import check_func
from tir.stmt import Allocate, Buffer, Evaluate, For, IfThen, PrimFunc, Seq, Store

SENTINEL = -77777


# a reference interpreter of the loop IR -----------------------------------------------------------

class Interp:
    """Runs a PrimFunc on numpy arrays; counts the stores into each buffer (by name)."""

    def __init__(self, func: PrimFunc, arrays):
        self.mem = {id(b): a for b, a in zip(func.args, arrays)}
        self.env: dict[int, int] = {}
        self.stores: dict[str, int] = {}
        self.shapes: dict[str, tuple] = {}
        self.stmt(func.body)

    def flat(self, buf, idx):
        vals = [self.expr(i) for i in idx]
        for v, n in zip(vals, buf.shape):
            assert 0 <= v < n, f"{buf.name}{vals} outside {buf.shape}"
        return tuple(vals)

    def expr(self, e):
        if isinstance(e, Const):
            return e.value
        if isinstance(e, Var):
            return self.env[id(e)]
        if isinstance(e, Cast):
            v = self.expr(e.value)
            return bool(v) if e.dtype == "bool" else int(v)
        if isinstance(e, Not):
            return not self.expr(e.a)
        if isinstance(e, Select):
            return self.expr(e.t) if self.expr(e.cond) else self.expr(e.f)
        if isinstance(e, Cmp):
            a, b = self.expr(e.a), self.expr(e.b)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.op]
        if isinstance(e, BinOp):
            if e.op == "&&":
                return self.expr(e.a) and self.expr(e.b)
            if e.op == "||":
                return self.expr(e.a) or self.expr(e.b)
            a, b = int(self.expr(e.a)), int(self.expr(e.b))
            return {"+": a + b, "-": a - b, "*": a * b, "//": a // b if b else 0, "%": a % b if b else 0,
                    "min": min(a, b), "max": max(a, b)}[e.op]
        if isinstance(e, BufferLoad):
            return int(self.mem[id(e.buffer)][self.flat(e.buffer, e.indices)])
        raise AssertionError(f"interpreter: unsupported {type(e).__name__}")

    def stmt(self, s):
        if isinstance(s, Seq):
            for c in s.stmts:
                self.stmt(c)
        elif isinstance(s, For):
            lo = self.expr(s.min)
            for v in range(lo, lo + s.extent):
                self.env[id(s.var)] = v
                self.stmt(s.body)
        elif isinstance(s, IfThen):
            if self.expr(s.cond):
                self.stmt(s.then)
            elif s.otherwise is not None:
                self.stmt(s.otherwise)
        elif isinstance(s, Allocate):
            self.mem[id(s.buffer)] = np.full(s.buffer.shape, SENTINEL, np.int64)
            self.shapes[s.buffer.name] = s.buffer.shape
            self.stmt(s.body)
        elif isinstance(s, Store):
            self.mem[id(s.buffer)][self.flat(s.buffer, s.indices)] = self.expr(s.value)
            self.stores[s.buffer.name] = self.stores.get(s.buffer.name, 0) + 1
        elif isinstance(s, Evaluate):
            raise AssertionError("interpreter: no intrinsics here")
        else:
            raise AssertionError(type(s).__name__)


def _run(func, arrays):
    return Interp(func, arrays)


# item 11: out-of-bounds reads ---------------------------------------------------------------------

def test_provably_out_of_bounds_read_is_a_lowering_error():
    A = tir.placeholder((16,), "int32", name="A")
    B = tir.compute((16,), lambda i: A[i + 4], name="B")
    with pytest.raises(tir.LoweringError) as e:
        tir.lower(schedules.create_schedule(B), [A, B])
    msg = str(e.value)
    assert "'A'" in msg and "i + 4" in msg and "[4, 19]" in msg and "'B'" in msg


def test_out_of_bounds_through_reduction_axis_and_negative_index():
    A = tir.placeholder((16,), "int32", name="A")
    k = tir.reduce_axis((0, 3), name="k")
    B = tir.compute((16,), lambda i: tir.sum(A[i + k], axis=k), name="B")  # a conv1d without padding
    with pytest.raises(tir.LoweringError, match=r"'A'.*i \+ k.*\[0, 17\]"):
        tir.lower(schedules.create_schedule(B), [A, B])
    C = tir.compute((16,), lambda i: A[i - 1], name="C")
    with pytest.raises(tir.LoweringError, match=r"i - 1.*\[-1, 14\]"):
        tir.lower(schedules.create_schedule(C), [A, C])


def test_wrong_guard_does_not_protect():
    A = tir.placeholder((16,), "int32", name="A")
    B = tir.compute((16,), lambda i: tir.if_then_else(i >= 1, A[i + 1], 0), name="B")
    with pytest.raises(tir.LoweringError, match="i = 15"):
        tir.lower(schedules.create_schedule(B), [A, B])
    # the other branch of the guard executes where the condition is false
    C = tir.compute((16,), lambda i: tir.if_then_else(i < 15, 0, A[i - 16]), name="C")
    with pytest.raises(tir.LoweringError, match="'A'"):
        tir.lower(schedules.create_schedule(C), [A, C])


def test_guarded_reads_lower_and_compute():
    A = tir.placeholder((16,), "int32", name="A")
    outs = {
        "pad": (lambda i: tir.if_then_else(i >= 1, A[i - 1], 0),
                lambda a: np.concatenate([[0], a[:-1]])),
        "both": (lambda i: tir.if_then_else(tir.all(i >= 1, i < 15), A[i + 1] + A[i - 1], 0),
                 lambda a: np.concatenate([[0], a[2:] + a[:-2], [0]])),
        "else": (lambda i: tir.if_then_else(i >= 12, 0, A[i + 4]),
                 lambda a: np.concatenate([a[4:], [0] * 4])),
        "and": (lambda i: tir.if_then_else(tir.all(i < 8, A[i * 2 + 1] > 0), 1, 0),
                lambda a: np.concatenate([(a[1::2] > 0).astype(np.int32), [0] * 8])),
    }
    a = np.arange(-5, 11, dtype=np.int32)
    for name, (fn, ref) in outs.items():
        B = tir.compute((16,), fn, name=name)
        func = tir.lower(schedules.create_schedule(B), [A, B])
        b = np.zeros(16, np.int32)
        codegen_c.build(func)(a, b)
        np.testing.assert_array_equal(b, ref(a), err_msg=name)
    k = tir.reduce_axis((0, 3), name="k")
    C = tir.compute((16,), lambda i: tir.sum(A[i + k - 1], axis=k, where=tir.all(i + k >= 1, i + k < 17)),
                    name="C")
    func = tir.lower(schedules.create_schedule(C), [A, C])
    c = np.zeros(16, np.int32)
    codegen_c.build(func)(a, c)
    ap = np.concatenate([[0], a, [0]])
    np.testing.assert_array_equal(c, ap[:-2] + ap[1:-1] + ap[2:])


def test_reads_checked_where_they_execute():
    """A tensor defined out of bounds at points nobody computes is legal; computed there, it is not."""
    A = tir.placeholder((8,), "int32", name="A")
    a = np.arange(8, dtype=np.int32) + 10

    def build(reader, how):
        shifted = tir.compute((8,), lambda i: A[i - 1] * 2, name="shifted")  # bad at i = 0
        C = tir.compute((7,), lambda i: reader(shifted, i), name="C")
        s = schedules.create_schedule(C)
        if how == "inline":
            s[shifted].compute_inline()
        elif how == "at":
            s[shifted].compute_at(s[C], C.op.axis[0])
        return tir.lower(s, [A, C])

    guarded = lambda t, i: tir.if_then_else(i >= 1, t[i], 0)  # noqa: E731
    skip_first = lambda t, i: t[i + 1]  # noqa: E731
    want = {guarded: np.concatenate([[0], a[:6] * 2]), skip_first: a[:7] * 2}
    # at the root the guard narrows what C reads, so shifted[0] is never computed either
    for reader, how in ((guarded, "inline"), (guarded, "root"), (skip_first, "inline"), (skip_first, "root"),
                        (skip_first, "at")):
        func = build(reader, how)
        c = np.zeros(7, np.int32)
        codegen_c.build(func)(a, c)
        np.testing.assert_array_equal(c, want[reader], err_msg=f"{how}\n{func}")
    # computed at i = 0 all the same: the guard in C does not protect the producer's own nest
    with pytest.raises(tir.LoweringError, match=r"stage 'shifted' reads tensor 'A' out of bounds.*i = 0"):
        build(guarded, "at")
    with pytest.raises(tir.LoweringError, match=r"stage 'shifted' reads tensor 'A' out of bounds.*i - 1"):
        build(lambda t, i: t[i], "root")
    with pytest.raises(tir.LoweringError, match=r"stage 'C' reads tensor 'A' out of bounds"):
        build(lambda t, i: t[i], "inline")


def test_padded_and_strided_workloads_lower():
    for wl in (W.conv2d_nchw(1, 3, 7, 7, 2, 3, stride=2, pad=1), W.conv2d_nhwc(1, 6, 6, 4, 2, 3, pad=1),
               W.depthwise_conv2d_nchw(1, 2, 5, 5, 3, pad=1), W.conv2d_nhwc_ohwi(1, 5, 5, 4, 2, 3, stride=2, pad=1)):
        s = schedules.create_schedule(wl.output)
        func = tir.lower(s, wl.args)
        rng = np.random.default_rng(0)
        ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
        out = np.zeros(wl.output.shape, np.int32)
        codegen_c.build(func)(*ins, out)
        np.testing.assert_array_equal(out, wl.ref(*ins), err_msg=wl.name)


def test_non_divisible_split_guard_is_legal():
    A = tir.placeholder((10,), "int32", name="A")
    B = tir.compute((10,), lambda i: A[i] + 1, name="B")
    C = tir.compute((10,), lambda i: B[i] * 2, name="C")
    s = schedules.create_schedule(C)
    xo, xi = s[C].split(C.op.axis[0], 4)
    s[B].compute_at(s[C], xo)
    func = tir.lower(s, [A, C])
    a = np.arange(10, dtype=np.int32)
    c = np.zeros(10, np.int32)
    codegen_c.build(func)(a, c)
    np.testing.assert_array_equal(c, (a + 1) * 2)


def test_lowered_store_outside_its_buffer_is_caught():
    """The check on the lowered IR: a producer that writes past its buffer is a lowering bug."""
    out = Buffer("out", (8,), "int32", is_arg=True)
    tmp = Buffer("tmp", (4,), "int32", "local")
    i = Var("i")
    body = Allocate(tmp, For(i, Const(0, "int32"), 8, "serial", Seq([
        Store(tmp, (i,), Const(1, "int32")),
        Store(out, (i,), BufferLoad(tmp, (i,)))])))
    with pytest.raises(tir.LoweringError, match=r"store of intermediate buffer 'tmp'.*i = 4"):
        check_func(PrimFunc("f", [out], body))
    guarded = Allocate(tmp, For(i, Const(0, "int32"), 8, "serial", IfThen(Cmp("<", i, Const(4, "int32")),
                                                                         Store(tmp, (i,), Const(1, "int32")))))
    check_func(PrimFunc("f", [out], guarded))


# item 13: int32 limits ----------------------------------------------------------------------------

def test_reduction_extent_beyond_int32():
    A = tir.placeholder((16,), "int32", name="A")
    k = tir.reduce_axis((0, 3_000_000_000), name="k")
    C = tir.compute((1,), lambda i: tir.sum(A[k % 16], axis=k), name="C")
    with pytest.raises(tir.LoweringError, match=r"'C' axis 'k'.*3000000000.*int32"):
        tir.lower(schedules.create_schedule(C), [A, C])


def test_fused_extent_beyond_int32():
    A = tir.placeholder((16,), "int32", name="A")
    k1 = tir.reduce_axis((0, 50_000), name="k1")
    k2 = tir.reduce_axis((0, 50_000), name="k2")
    C = tir.compute((1,), lambda i: tir.sum(A[(k1 + k2) % 16], axis=[k1, k2]), name="C")
    s = schedules.create_schedule(C)
    s[C].fuse(k1, k2)
    with pytest.raises(tir.LoweringError, match=r"axis 'k1.k2.fused'.*2500000000"):
        tir.lower(s, [A, C])


def test_buffer_elements_and_bytes_beyond_int32():
    Z = tir.placeholder((70_000, 70_000), "int8", name="Z")
    D = tir.compute((1,), lambda i: Z[0, 0], name="D")
    with pytest.raises(tir.LoweringError, match=r"'Z'.*element count.*4900000000"):
        tir.lower(schedules.create_schedule(D), [Z, D])
    Y = tir.placeholder((30_000, 30_000), "int32", name="Y")  # 9e8 elements fit, 3.6e9 bytes do not
    E = tir.compute((1,), lambda i: Y[0, 0], name="E")
    with pytest.raises(tir.LoweringError, match=r"'Y'.*byte size.*3600000000"):
        tir.lower(schedules.create_schedule(E), [Y, E])
    # an intermediate too
    A = tir.placeholder((4,), "int32", name="A")
    big = tir.compute((40_000, 40_000), lambda i, j: A[0], name="big")
    F = tir.compute((1,), lambda i: big[0, 0], name="F")
    s = schedules.create_schedule(F)
    with pytest.raises(tir.LoweringError, match=r"'big'.*1600000000 x 4|'big'.*element count"):
        tir.lower(s, [A, F])


# item 18: bound inference through fuse and split --------------------------------------------------

def _fusesplit(m, n, factor, stencil=False):
    A = tir.placeholder((m, n + (1 if stencil else 0)), "int32", name="A")
    A1 = tir.compute(A.shape, lambda i, j: A[i, j] * 2, name="A1")
    if stencil:
        A2 = tir.compute((m, n), lambda i, j: A1[i, j] + A1[i, j + 1] * 3, name="A2")
    else:
        A2 = tir.compute((m, n), lambda i, j: A1[i, j] + 3, name="A2")
    s = schedules.create_schedule(A2)
    fused = s[A2].fuse(A2.op.axis[0], A2.op.axis[1])
    xo, xi = s[A2].split(fused, factor)
    s[A1].compute_at(s[A2], xo)
    return s, A, A2


def _ref(a, stencil):
    a1 = a * 2
    return a1[:, :-1] + a1[:, 1:] * 3 if stencil else a1 + 3


def test_bound_fusesplit_row_aligned_tiles():
    """TVM's test_bound_fusesplit2: (m, 6) fused, split by 3: each tile is 1 x 3 of one row."""
    s, A, A2 = _fusesplit(4, 6, 3)
    func = tir.lower(s, [A, A2])
    a = np.arange(24, dtype=np.int32).reshape(4, 6)
    run = _run(func, [a.copy(), np.zeros((4, 6), np.int64)])
    assert run.shapes["A1"] == (1, 3)
    assert run.stores["A1"] == 8 * 3  # was 8 * 24: the whole intermediate on every outer iteration
    # the tile never leaves its row: the residues of xo * 3 modulo 6 prove the region guard away
    assert not any(line.strip().startswith("if ") for line in str(func).splitlines()), func
    c = np.zeros((4, 6), np.int32)
    codegen_c.build(func)(a, c)
    np.testing.assert_array_equal(c, a * 2 + 3)


def test_bound_fusesplit_tiles_crossing_rows():
    """TVM's test_bound_fusesplit1 with constants: (5, 7) split by 4 (tiles cross rows)."""
    s, A, A2 = _fusesplit(5, 7, 4)
    func = tir.lower(s, [A, A2])
    a = np.arange(35, dtype=np.int32).reshape(5, 7)
    run = _run(func, [a.copy(), np.zeros((5, 7), np.int64)])
    assert run.shapes["A1"][0] == 2  # at most two rows per tile, not all five
    assert run.stores["A1"] <= 9 * 2 * 7
    np.testing.assert_array_equal(run.mem[id(func.args[1])], a * 2 + 3)
    c = np.zeros((5, 7), np.int32)
    codegen_c.build(func)(a, c)
    np.testing.assert_array_equal(c, a * 2 + 3)


def test_bound_fusesplit_sweep_against_numpy():
    """Every (shape, factor, stencil, attach level) computes the right result with a small region."""
    for m, n, factor, stencil in itertools.product((1, 3, 4), (1, 4, 6, 5), (1, 2, 3, 4, 7, 24), (False, True)):
        s, A, A2 = _fusesplit(m, n, factor, stencil)
        func = tir.lower(s, [A, A2])
        a = np.random.default_rng(m * 100 + n * 10 + factor).integers(-50, 50, A.shape)
        out = np.zeros((m, n), np.int64)
        run = _run(func, [a, out])
        np.testing.assert_array_equal(out, _ref(a, stencil), err_msg=f"{m}x{n} / {factor} {stencil}\n{func}")
        rows = run.shapes["A1"][0]
        assert rows <= -(-factor // n) + 1, (m, n, factor, run.shapes)
        if n % factor == 0 and not stencil:
            assert run.shapes["A1"] == (1, factor)
            assert run.stores["A1"] == m * n


def test_fused_tile_with_second_split_and_inner_attach():
    A = tir.placeholder((6, 8), "int32", name="A")
    A1 = tir.compute((6, 8), lambda i, j: A[i, j] - 1, name="A1")
    A2 = tir.compute((6, 8), lambda i, j: A1[i, j] * 5, name="A2")
    s = schedules.create_schedule(A2)
    fused = s[A2].fuse(*A2.op.axis)
    xo, xi = s[A2].split(fused, 16)
    xio, xii = s[A2].split(xi, 4)
    s[A1].compute_at(s[A2], xio)
    func = tir.lower(s, [A, A2])
    a = np.arange(48).reshape(6, 8)
    out = np.zeros((6, 8), np.int64)
    run = _run(func, [a, out])
    assert run.shapes["A1"] == (1, 4) and run.stores["A1"] == 48
    np.testing.assert_array_equal(out, (a - 1) * 5)


def test_bound_conv1d_and_blur_neighbours():
    """TVM's test_bound_conv1d / test_bound_blur: a 3-wide stencil at the innermost axis needs 3 (x 3)."""
    n = 10
    A = tir.placeholder((n + 2,), "int32", name="A")
    A1 = tir.compute((n + 2,), lambda i: A[i] + 1, name="A1")
    B = tir.compute((n,), lambda i: A1[i] + A1[i + 1] + A1[i + 2], name="B")
    s = schedules.create_schedule(B)
    s[A1].compute_at(s[B], B.op.axis[0])
    func = tir.lower(s, [A, B])
    a = np.arange(n + 2)
    out = np.zeros(n, np.int64)
    run = _run(func, [a, out])
    assert run.shapes["A1"] == (3,)
    np.testing.assert_array_equal(out, (a[:-2] + a[1:-1] + a[2:]) + 3)
    X = tir.placeholder((12, 12), "int32", name="X")
    X1 = tir.compute((12, 12), lambda i, j: X[i, j] * 2, name="X1")
    Bl = tir.compute((10, 10), lambda i, j: X1[i + 1, j + 1] + X1[i, j + 1] + X1[i + 2, j + 1] + X1[i + 1, j]
                     + X1[i + 1, j + 2], name="blur")
    s = schedules.create_schedule(Bl)
    s[X1].compute_at(s[Bl], Bl.op.axis[1])
    func = tir.lower(s, [X, Bl])
    x = np.arange(144).reshape(12, 12)
    out = np.zeros((10, 10), np.int64)
    run = _run(func, [x, out])
    assert run.shapes["X1"] == (3, 3)
    x1 = x * 2
    ref = x1[1:-1, 1:-1] + x1[:-2, 1:-1] + x1[2:, 1:-1] + x1[1:-1, :-2] + x1[1:-1, 2:]
    np.testing.assert_array_equal(out, ref)


def test_root_intermediate_read_partly_is_computed_partly():
    A = tir.placeholder((4,), "int32", name="A")
    B = tir.compute((4,), lambda i: A[i] * 2, name="B")
    C = tir.compute((3,), lambda i: B[i + 1] + 1, name="C")
    func = tir.lower(schedules.create_schedule(C), [A, C])
    a = np.array([5, 6, 7, 8])
    out = np.zeros(3, np.int64)
    run = _run(func, [a, out])
    assert run.stores["B"] == 3  # the 3 positions C reads, not 4
    np.testing.assert_array_equal(out, a[1:] * 2 + 1)
    c = np.zeros(3, np.int32)
    codegen_c.build(func)(a.astype(np.int32), c)
    np.testing.assert_array_equal(c, a[1:] * 2 + 1)


def test_root_region_follows_a_chain_and_a_strided_reader():
    A = tir.placeholder((20,), "int32", name="A")
    B = tir.compute((20,), lambda i: A[i] + 1, name="B")
    C = tir.compute((10,), lambda i: B[i * 2 + 1] * 3, name="C")   # reads B[1..19]
    D = tir.compute((4,), lambda i: C[i + 2] - 1, name="D")         # reads C[2..5]
    func = tir.lower(schedules.create_schedule(D), [A, D])
    a = np.arange(20) * 7 - 30
    out = np.zeros(4, np.int64)
    run = _run(func, [a, out])
    assert run.stores["C"] == 4
    assert run.stores["B"] == 7  # B[5..11]: the part the computed C[2..5] reads (strided: 4 of them used)
    b = a + 1
    c = b[1::2] * 3
    np.testing.assert_array_equal(out, c[2:6] - 1)


def _random_transforms(rng, stage):
    for _ in range(rng.randint(0, 3)):
        ax = rng.choice(stage.leaf_iter_vars)
        if rng.random() < 0.6:
            stage.split(ax, factor=rng.randint(1, 7))
        else:
            stage.split(ax, nparts=rng.randint(1, 4))
    if rng.random() < 0.5:
        leaves = list(stage.leaf_iter_vars)
        rng.shuffle(leaves)
        stage.reorder(*leaves)
    for _ in range(rng.randint(0, 2)):
        leaves = stage.leaf_iter_vars
        if len(leaves) >= 2:
            p = rng.randrange(len(leaves) - 1)
            stage.fuse(leaves[p], leaves[p + 1])


def _stencil_pipeline(m, n, reader):
    A = tir.placeholder((m + 1, max(n + 2, 5)), "int32", name="A")
    P = tir.compute(A.shape, lambda i, j: A[i, j] * 2 + 1, name="P")
    C = tir.compute((m, n), lambda i, j: reader(P, i, j), name="C")
    return A, C, schedules.create_schedule(C)


def test_random_fuse_split_compute_at_regions_against_numpy():
    """Random splits / fuses / reorders of a stencil consumer, its producer attached at a random leaf."""
    import random

    rng = random.Random(20261201)
    readers = [
        (lambda P, i, j: P[i, j] + P[i, j + 2] * 3, lambda p, m, n: p[:m, :n] + p[:m, 2:n + 2] * 3),
        (lambda P, i, j: P[i + 1, j + 1] - P[i, j], lambda p, m, n: p[1:m + 1, 1:n + 1] - p[:m, :n]),
        (lambda P, i, j: P[i // 2, j * 2 % 5],
         lambda p, m, n: p[np.arange(m)[:, None] // 2, (np.arange(n) * 2 % 5)[None]]),
    ]
    for case in range(120):
        m, n = rng.randint(1, 5), rng.randint(1, 6)
        fn, ref = readers[case % len(readers)]
        A, C, s = _stencil_pipeline(m, n, fn)
        _random_transforms(rng, s[C])
        P = C.op.input_tensors[0]
        s[P].compute_at(s[C], rng.choice(s[C].leaf_iter_vars))
        _random_transforms(rng, s[P])
        func = tir.lower(s, [A, C])
        a = np.arange(A.shape[0] * A.shape[1]).reshape(A.shape) * 3 - 7
        out = np.zeros((m, n), np.int64)
        _run(func, [a, out])
        np.testing.assert_array_equal(out, ref(a * 2 + 1, m, n), err_msg=f"case {case}\n{func}")
