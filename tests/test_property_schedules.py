"""Property-based tests: random legal schedules never change what a kernel computes.

A schedule changes how, never what. Each example draws a random schedule (non-divisible splits,
their tails guarded or partitioned, reorders, fuses, unrolls, cache_write + compute_at, cache_read +
compute_at; tensorized nests whose splits leave tails), builds it for the host and compares with
numpy. Seeds that once found a miscompile live on as explicit examples.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codegen_c
import schedules
import tir

SETTINGS = settings(max_examples=200, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _extent(stage, axis):
    return stage._extent(axis)


def _random_loop_transforms(data, stage, allow_unroll=True):
    """Split, fuse, reorder and unroll the leaf axes of a stage at random (all legal)."""
    for _ in range(data.draw(st.integers(0, 3), label="n_splits")):
        leaves = stage.leaf_iter_vars
        ax = data.draw(st.sampled_from(leaves), label="split axis")
        tail = data.draw(st.sampled_from(list(schedules.TailStrategy)), label="tail")
        if data.draw(st.booleans(), label="factor or nparts"):
            stage.split(ax, factor=data.draw(st.integers(1, 9), label="factor"), tail=tail)
        else:
            stage.split(ax, nparts=data.draw(st.integers(1, 5), label="nparts"), tail=tail)
    if data.draw(st.booleans(), label="reorder"):
        leaves = list(stage.leaf_iter_vars)
        perm = data.draw(st.permutations(leaves), label="order")
        stage.reorder(*perm)
    if data.draw(st.booleans(), label="fuse") and len(stage.leaf_iter_vars) >= 2:
        leaves = stage.leaf_iter_vars
        pos = data.draw(st.integers(0, len(leaves) - 2), label="fuse pos")
        a, b = leaves[pos], leaves[pos + 1]
        if a.kind == b.kind:
            stage.fuse(a, b)
    if allow_unroll:
        for ax in list(stage.leaf_iter_vars):
            ext = _extent(stage, ax)
            if ext is not None and ext <= 4 and data.draw(st.booleans(), label=f"unroll {ax.name}"):
                stage.unroll(ax)


def _check(s, args, arrays, ref):
    try:
        func = tir.lower(s, args)
    except tir.ScheduleError as e:
        # PARTITION asked of a split whose outer axis was fused or split again: refused by name
        assert "its tail cannot be partitioned" in str(e), str(e)
        return
    mod = codegen_c.build(func)
    mod(*arrays)
    np.testing.assert_array_equal(arrays[-1], ref, err_msg=str(func))


@st.composite
def matmul_case(draw):
    return draw(st.integers(1, 11)), draw(st.integers(1, 11)), draw(st.integers(1, 11))


@SETTINGS
@given(matmul_case(), st.data())
def test_random_matmul_schedules(shape, data):
    M, N, K = shape
    A = tir.placeholder((M, K), "int8", name="A")
    B = tir.placeholder((K, N), "int8", name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * B[k, j].astype("int32"), axis=k),
                    name="C")
    s = schedules.create_schedule(C)
    mode = data.draw(st.sampled_from(["plain", "cache_write", "cache_read"]), label="mode")
    if mode == "cache_write":
        CL = s.cache_write(C, "local")
        _random_loop_transforms(data, s[C])
        at = data.draw(st.sampled_from(s[C].leaf_iter_vars), label="attach")
        s[CL].compute_at(s[C], at)
        _random_loop_transforms(data, s[CL])
    elif mode == "cache_read":
        AL = s.cache_read(A, "local", [C])
        _random_loop_transforms(data, s[C])
        at = data.draw(st.sampled_from(s[C].leaf_iter_vars), label="attach")
        s[AL].compute_at(s[C], at)
        _random_loop_transforms(data, s[AL])
    else:
        _random_loop_transforms(data, s[C])
    rng = np.random.default_rng(M * 131 + N * 7 + K)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    b = rng.integers(-128, 128, (K, N), dtype=np.int8)
    c = np.full((M, N), 12345, np.int32)
    _check(s, [A, B, C], [a, b, c], a.astype(np.int32) @ b.astype(np.int32))


@st.composite
def conv_case(draw):
    return dict(n=1, c=draw(st.integers(1, 3)), h=draw(st.integers(3, 8)), w=draw(st.integers(3, 8)),
                f=draw(st.integers(1, 3)), r=draw(st.sampled_from([1, 3])), pad=draw(st.integers(0, 1)),
                stride=draw(st.integers(1, 2)))


def conv_reference(x, wt, pad, stride):
    n, c, h, w = x.shape
    f, _, r, _ = wt.shape
    xp = np.pad(x.astype(np.int32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - r) // stride + 1, (w + 2 * pad - r) // stride + 1
    out = np.zeros((n, f, oh, ow), np.int32)
    for y in range(oh):
        for xx in range(ow):
            patch = xp[:, :, y * stride:y * stride + r, xx * stride:xx * stride + r]
            out[:, :, y, xx] = np.einsum("ncij,fcij->nf", patch, wt.astype(np.int32))
    return out


@SETTINGS
@given(conv_case(), st.data())
def test_random_conv2d_schedules(p, data):
    n, c, h, w, f, r, pad, stride = p["n"], p["c"], p["h"], p["w"], p["f"], p["r"], p["pad"], p["stride"]
    oh, ow = (h + 2 * pad - r) // stride + 1, (w + 2 * pad - r) // stride + 1
    X = tir.placeholder((n, c, h, w), "int8", name="X")
    W = tir.placeholder((f, c, r, r), "int8", name="W")
    P = tir.compute((n, c, h + 2 * pad, w + 2 * pad),
                    lambda b, ch, y, x: tir.if_then_else(
                        tir.all(y >= pad, y < h + pad, x >= pad, x < w + pad),
                        X[b, ch, y - pad, x - pad], tir.const(0, "int8")), name="pad")
    rc = tir.reduce_axis((0, c), "rc")
    ry = tir.reduce_axis((0, r), "ry")
    rx = tir.reduce_axis((0, r), "rx")
    Y = tir.compute((n, f, oh, ow), lambda b, o, y, x: tir.sum(
        P[b, rc, y * stride + ry, x * stride + rx].astype("int32") * W[o, rc, ry, rx].astype("int32"),
        axis=[rc, ry, rx]), name="Y")
    s = schedules.create_schedule(Y)
    pad_mode = data.draw(st.sampled_from(["inline", "root", "compute_at"]), label="pad mode")
    if pad_mode == "inline":
        s[P].compute_inline()
    mode = data.draw(st.sampled_from(["plain", "cache_write"]), label="mode")
    target = Y
    if mode == "cache_write":
        YL = s.cache_write(Y, "local")
        _random_loop_transforms(data, s[Y])
        s[YL].compute_at(s[Y], data.draw(st.sampled_from(s[Y].leaf_iter_vars), label="attach"))
        _random_loop_transforms(data, s[YL], allow_unroll=False)
        target = YL
    else:
        _random_loop_transforms(data, s[Y], allow_unroll=False)
    if pad_mode == "compute_at":
        s[P].compute_at(s[target], data.draw(st.sampled_from(s[target].leaf_iter_vars), label="pad at"))
    rng = np.random.default_rng(c * 1000 + h * 37 + w)
    x = rng.integers(-128, 128, (n, c, h, w), dtype=np.int8)
    wt = rng.integers(-128, 128, (f, c, r, r), dtype=np.int8)
    y = np.zeros((n, f, oh, ow), np.int32)
    _check(s, [X, W, Y], [x, wt, y], conv_reference(x, wt, pad, stride))


# Tensorized schedules with tails (tir.partition) --------------------------------------------------

TAIL_SETTINGS = settings(max_examples=40, deadline=None, derandomize=False,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@TAIL_SETTINGS
@given(st.data())
def test_random_tensorized_schedules_with_tails(data):
    """Random shapes and non-dividing tile / lane-step factors under every intrinsic family, tails
    partitioned (AUTO or PARTITION): the full tiles tensorized, the remainders scalar or smaller."""
    from test_tails import EXT_DTYPE, _rand, schedule_matmul

    ext = data.draw(st.sampled_from(sorted(EXT_DTYPE)), label="ext")
    lanes = 2 if ext == "dot2_i16" else 4
    M, N = data.draw(st.integers(1, 11), label="M"), data.draw(st.integers(1, 11), label="N")
    K = data.draw(st.integers(lanes, 14), label="K")
    big = 4 if ext == "mac4_i8" else 5  # the bank holds 16 outputs
    tile = (data.draw(st.integers(1, big), label="tm"), data.draw(st.integers(1, big), label="tn"))
    style = data.draw(st.sampled_from(["tile", "root"]), label="style")
    k_steps = data.draw(st.sampled_from([1, 2]), label="k_steps")
    tail = data.draw(st.sampled_from([schedules.TailStrategy.AUTO, schedules.TailStrategy.PARTITION]), label="tail")
    s, args = schedule_matmul(M, N, K, ext, style, tile=tile, k_steps=k_steps, tail=tail)
    func = tir.lower(s, args)
    if K >= lanes * k_steps or k_steps == 1:
        assert func.intrinsic_calls, str(func)
    dtype = EXT_DTYPE[ext]
    rng = np.random.default_rng(M * 131 + N * 7 + K)
    a, b = _rand((M, K), dtype, rng), _rand((K, N), dtype, rng)
    c = np.full((M, N), 12345, np.int32)
    codegen_c.build(func)(a, b, c)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32), err_msg=str(func))


# Seeds that found miscompiles, kept as regression tests -------------------------------------------

def _matmul(M, N, K):
    A = tir.placeholder((M, K), "int8", name="A")
    B = tir.placeholder((K, N), "int8", name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * B[k, j].astype("int32"), axis=k),
                    name="C")
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    b = rng.integers(-128, 128, (K, N), dtype=np.int8)
    return A, B, C, a, b


def test_regression_nested_nparts_split_guards_inner_parent():
    # k=5 nparts 2 -> inner extent 3; k.inner nparts 2 -> 2x2 overshoots 3: k.inner itself needs a guard,
    # otherwise k = 3 is summed twice.
    A, B, C, a, b = _matmul(1, 1, 5)
    s = schedules.create_schedule(C)
    _, ki = s[C].split(C.op.reduce_axis[0], nparts=2)
    s[C].split(ki, nparts=2)
    c = np.zeros((1, 1), np.int32)
    _check(s, [A, B, C], [a, b, c], a.astype(np.int32) @ b.astype(np.int32))


def test_regression_cache_tile_unused_after_unrolled_guard():
    # An unrolled iteration whose guard is always false leaves a local tile written but never read.
    A, B, C, a, b = _matmul(1, 3, 5)
    s = schedules.create_schedule(C)
    AL = s.cache_read(A, "local", [C])
    i, j = C.op.axis
    jo, ji = s[C].split(j, nparts=2)
    s[C].split(C.op.reduce_axis[0], nparts=2)
    jio, jii = s[C].split(ji, nparts=2)
    s[C].unroll(jo)
    s[C].unroll(jio)
    s[AL].compute_at(s[C], jio)
    c = np.zeros((1, 3), np.int32)
    _check(s, [A, B, C], [a, b, c], a.astype(np.int32) @ b.astype(np.int32))


def test_regression_guarded_producer_tile_compiles_without_uninitialized_warning():
    # pad computed at rx under a guarded (non-divisible) ry split: gcc -O2 -Werror saw a maybe-uninitialized
    # read of the 1-element pad tile, though a guarded consumer never reads an element the producer skips.
    h = w = 3
    X = tir.placeholder((1, 1, h, w), "int8", name="X")
    W = tir.placeholder((1, 1, 3, 3), "int8", name="W")
    P = tir.compute((1, 1, h + 2, w + 2), lambda b, c, y, x: tir.if_then_else(
        tir.all(y >= 1, y < h + 1, x >= 1, x < w + 1), X[b, c, y - 1, x - 1], tir.const(0, "int8")), name="pad")
    rc, ry, rx = tir.reduce_axis((0, 1), "rc"), tir.reduce_axis((0, 3), "ry"), tir.reduce_axis((0, 3), "rx")
    Y = tir.compute((1, 1, h, w), lambda b, o, y, x: tir.sum(
        P[b, rc, y + ry, x + rx].astype("int32") * W[o, rc, ry, rx].astype("int32"), axis=[rc, ry, rx]), name="Y")
    s = schedules.create_schedule(Y)
    s[Y].split(ry, nparts=2)
    s[P].compute_at(s[Y], rx)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (1, 1, h, w), dtype=np.int8)
    wt = rng.integers(-128, 128, (1, 1, 3, 3), dtype=np.int8)
    y = np.zeros((1, 1, h, w), np.int32)
    _check(s, [X, W, Y], [x, wt, y], conv_reference(x, wt, 1, 1))
