"""Every workload of tests/workloads.py under several schedules, checked against numpy.

A schedule changes how a kernel computes, never what: each case builds for the host and compares
with the workload's numpy reference (exact for integers, allclose for float32).
"""

import re

import numpy as np
import pytest
from conftest import check_workload, empty_output, inputs_for, run_host

import schedules
import tir
from schedules import workloads as W

# --- schedule recipes ---------------------------------------------------------------------------
# Each takes (s, wl) and applies primitives in place.


def sch_default(s, wl):
    pass


def sch_tile_nondivisible(s, wl):
    """Tile the two innermost data axes with factors that do not divide them; split the first reduce axis."""
    st = s[wl.output]
    ax = st.op.axis
    st.tile(ax[-2], ax[-1], 3, 5) if len(ax) >= 2 else st.split(ax[0], 3)
    if st.op.reduce_axis:
        st.split(st.op.reduce_axis[0], 3)


def sch_reorder(s, wl):
    """Reverse the loop order of every leaf (reduction axes end up outermost)."""
    st = s[wl.output]
    st.reorder(*reversed(st.leaf_iter_vars))


def sch_fuse(s, wl):
    """Fuse all data axes into one loop, then split it by a non-divisor."""
    st = s[wl.output]
    data = [a for a in st.leaf_iter_vars if a.kind == "data"]
    f = st.fuse(*data) if len(data) > 1 else data[0]
    st.split(f, 7)


def sch_unroll_inner(s, wl):
    """Split the innermost data axis by 4 and unroll the inner part; unroll the last reduce axis too."""
    st = s[wl.output]
    _, inner = st.split(st.op.axis[-1], 4)
    red = st.op.reduce_axis
    if red:
        st.reorder(*[a for a in st.leaf_iter_vars if a is not inner], inner)
    st.unroll(inner)
    if red and st._extent(red[-1]) <= 4:
        st.unroll(red[-1])


def sch_vectorize(s, wl):
    """Split the innermost data axis, move it innermost and vectorize it."""
    st = s[wl.output]
    _, inner = st.split(st.op.axis[-1], 4)
    st.reorder(*[a for a in st.leaf_iter_vars if a is not inner], inner)
    st.vectorize(inner)


def sch_parallel(s, wl):
    st = s[wl.output]
    st.parallel(st.op.axis[0])


def sch_register_block(s, wl, tile=4, ksplit=4):
    """cache_write local + compute_at at the outer tile; k split; tile axes unrolled (register blocking)."""
    out = wl.output
    CL = s.cache_write(out, "local")
    st = s[out]
    ax = st.op.axis
    outer = list(ax[:-2])
    yo, xo, yi, xi = st.tile(ax[-2], ax[-1], tile, tile)
    st.unroll(yi)
    st.unroll(xi)
    s[CL].compute_at(s[out], xo)
    cl = s[CL]
    cax = cl.op.axis
    red = cl.op.reduce_axis
    ko, ki = cl.split(red[0], ksplit)
    cl.reorder(*cax[:-2], ko, ki, *red[1:], cax[-2], cax[-1])
    cl.unroll(cax[-2])
    cl.unroll(cax[-1])
    return outer, CL


def sch_cache_read_local(s, wl):
    """cache_read of the first input into "local", computed inside the k loop."""
    out = wl.output
    AL = s.cache_read(wl.inputs[0], "local", [out])
    st = s[out]
    ko, ki = st.split(st.op.reduce_axis[0], 2)
    s[AL].compute_at(st, ki)


def sch_cache_read_shared(s, wl):
    """cache_read of the second input into "shared", computed at the outer k loop of a tiled nest."""
    out = wl.output
    BS = s.cache_read(wl.inputs[1], "shared", [out])
    st = s[out]
    ax = st.op.axis
    yo, xo, yi, xi = st.tile(ax[-2], ax[-1], 4, 4)
    ko, ki = st.split(st.op.reduce_axis[0], 3)
    st.reorder(yo, xo, ko, yi, xi, ki)
    s[BS].compute_at(st, ko)


def sch_cache_read_both(s, wl):
    """Both inputs cached into local at the inner k loop of a register-blocked nest."""
    _, CL = sch_register_block(s, wl)
    AL = s.cache_read(wl.inputs[0], "local", [CL])
    BL = s.cache_read(wl.inputs[1], "local", [CL])
    ki = s[CL].leaf_iter_vars[-3]
    assert ki.name.startswith("k") and ki.name.endswith("inner")
    s[AL].compute_at(s[CL], ki)
    s[BL].compute_at(s[CL], ki)


MATMUL_SCHEDULES = {
    "default": sch_default,
    "tile_3x5_k3": sch_tile_nondivisible,
    "reorder": sch_reorder,
    "fuse": sch_fuse,
    "unroll_inner": sch_unroll_inner,
    "vectorize": sch_vectorize,
    "parallel": sch_parallel,
    "register_block": sch_register_block,
    "cache_read_local": sch_cache_read_local,
    "cache_read_shared": sch_cache_read_shared,
    "cache_read_both": sch_cache_read_both,
}


@pytest.mark.parametrize("dtypes", [("int8", "int32"), ("float32", "float32")], ids=["int8", "float32"])
@pytest.mark.parametrize("shape", [(8, 8, 8), (10, 7, 9)], ids=["8x8x8", "10x7x9"])
@pytest.mark.parametrize("sched", list(MATMUL_SCHEDULES), ids=list(MATMUL_SCHEDULES))
def test_matmul(sched, shape, dtypes, rng):
    M, N, K = shape
    wl = W.matmul(M, N, K, *dtypes)
    s = schedules.create_schedule(wl.output)
    MATMUL_SCHEDULES[sched](s, wl)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("sched", ["default", "tile_3x5_k3", "reorder", "fuse", "register_block",
                                   "cache_read_shared"])
def test_batch_matmul(sched, rng):
    wl = W.batch_matmul(2, 6, 5, 7)
    s = schedules.create_schedule(wl.output)
    MATMUL_SCHEDULES[sched](s, wl)
    check_workload(wl, s, rng)


def test_batch_matmul_float32_register_block(rng):
    wl = W.batch_matmul(3, 8, 8, 6, "float32", "float32")
    s = schedules.create_schedule(wl.output)
    outer, _ = sch_register_block(s, wl)
    s[wl.output].parallel(outer[0])
    check_workload(wl, s, rng)


# --- dense + bias + relu ------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["default", "inline_bias", "inline_bias_dense_at_tile",
                                     "inline_bias_cache_write", "dense_at_row_bias_root"])
def test_dense_bias_relu(variant, rng):
    wl = W.dense_bias_relu(6, 10, 12)
    s = schedules.create_schedule(wl.output)
    D, DB, R = wl["dense"], wl["bias"], wl.output
    if variant == "default":
        pass
    elif variant == "inline_bias":
        s[DB].compute_inline()
    elif variant == "inline_bias_dense_at_tile":
        s[DB].compute_inline()
        i, j = s[R].op.axis
        io, jo, ii, ji = s[R].tile(i, j, 4, 4)
        s[R].unroll(ji)
        s[D].compute_at(s[R], jo)
        k = s[D].op.reduce_axis[0]
        ko, ki = s[D].split(k, 4)
        di, dj = s[D].op.axis
        s[D].reorder(ko, ki, di, dj)
        s[D].unroll(di)
        s[D].unroll(dj)
    elif variant == "inline_bias_cache_write":
        # The relu output is the only root stage: bias + relu are inlined into the copy-out.
        s[DB].compute_inline()
        i, j = s[R].op.axis
        jo, ji = s[R].split(j, 3)
        s[D].compute_at(s[R], jo)
        s[R].vectorize(ji)
    elif variant == "dense_at_row_bias_root":
        i, _ = s[DB].op.axis
        s[D].compute_at(s[DB], i)
    check_workload(wl, s, rng)


def test_dense_bias_relu_all_inlined_text():
    """With bias inlined and dense computed at the relu loop, the IR has no 'bias' buffer."""
    wl = W.dense_bias_relu(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    s[wl["bias"]].compute_inline()
    s[wl["dense"]].compute_at(s[wl.output], s[wl.output].op.axis[1])
    func = check_workload(wl, s)
    text = str(func)
    assert "bias = alloc_buffer" not in text
    assert "dense = alloc_buffer([1, 1]" in text, text


# --- convolutions -------------------------------------------------------------------------------

def _conv_schedule(s, wl, variant):
    out = wl.output
    P = wl.stages.get("pad")
    st = s[out]
    ax = st.op.axis
    red = st.op.reduce_axis
    if variant == "pad_root":
        return
    if variant == "pad_inline":
        s[P].compute_inline()
        return
    if variant == "pad_inline_tiled":
        s[P].compute_inline()
        yo, xo, yi, xi = st.tile(ax[-2], ax[-1], 2, 3)
        st.unroll(xi)
        return
    if variant == "pad_at_row":
        # the padded input is computed per output row: a (C, KH, W+2p) window with the row halo
        s[P].compute_at(st, ax[-2])
        return
    if variant == "pad_at_tile":
        yo, xo, yi, xi = st.tile(ax[-2], ax[-1], 2, 2)
        s[P].compute_at(st, xo)
        return
    if variant == "cache_write_pad_at":
        CL = s.cache_write(out, "local")
        st = s[out]
        ax = st.op.axis
        yo, xo, yi, xi = st.tile(ax[-2], ax[-1], 2, 2)
        s[CL].compute_at(st, xo)
        cl = s[CL]
        cax, cred = cl.op.axis, cl.op.reduce_axis
        cl.reorder(*cax[:-2], *cred, cax[-2], cax[-1])
        cl.unroll(cax[-2])
        cl.unroll(cax[-1])
        s[P].compute_at(cl, cred[0])
        return
    if variant == "reduce_reorder_unroll":
        s[P].compute_inline()
        st.reorder(*ax[:-2], *red, ax[-2], ax[-1])
        st.unroll(red[-1])
        return
    raise AssertionError(variant)


CONV_VARIANTS = ["pad_root", "pad_inline", "pad_inline_tiled", "pad_at_row", "pad_at_tile", "cache_write_pad_at",
                 "reduce_reorder_unroll"]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("variant", CONV_VARIANTS)
def test_conv2d_nchw(variant, stride, rng):
    wl = W.conv2d_nchw(1, 3, 7, 6, 2, 3, stride=stride, pad=1)
    s = schedules.create_schedule(wl.output)
    _conv_schedule(s, wl, variant)
    check_workload(wl, s, rng)


def test_conv2d_nchw_no_pad_batch2_register_block(rng):
    wl = W.conv2d_nchw(2, 2, 6, 7, 3, 3, stride=1, pad=0)
    s = schedules.create_schedule(wl.output)
    sch_register_block(s, wl, tile=2, ksplit=2)
    check_workload(wl, s, rng)


def test_conv2d_nchw_1x1_stride2_fused(rng):
    wl = W.conv2d_nchw(1, 4, 6, 6, 3, 1, stride=2, pad=0)
    s = schedules.create_schedule(wl.output)
    sch_fuse(s, wl)
    check_workload(wl, s, rng)


def _conv_nhwc_schedule(s, wl, variant):
    out = wl.output
    P = wl.stages.get("pad")
    st = s[out]
    n, y, x, f = st.op.axis
    if variant == "pad_root":
        return
    if variant == "pad_inline_vectorize_f":
        s[P].compute_inline()
        fo, fi = st.split(f, 2)
        st.reorder(n, y, x, fo, *st.op.reduce_axis, fi)
        st.vectorize(fi)
        return
    if variant == "pad_at_x":
        s[P].compute_at(st, x)
        return
    if variant == "cache_write":
        s[P].compute_inline()
        CL = s.cache_write(out, "local")
        st = s[out]
        n, y, x, f = st.op.axis
        xo, xi = st.split(x, 2)
        s[CL].compute_at(st, xo)
        return
    raise AssertionError(variant)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("variant", ["pad_root", "pad_inline_vectorize_f", "pad_at_x", "cache_write"])
def test_conv2d_nhwc(variant, stride, rng):
    wl = W.conv2d_nhwc(1, 6, 7, 3, 4, 3, stride=stride, pad=1)
    s = schedules.create_schedule(wl.output)
    _conv_nhwc_schedule(s, wl, variant)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("variant", ["pad_root", "pad_inline", "pad_inline_tiled", "pad_at_row", "pad_at_tile"])
def test_depthwise_conv2d_nchw(variant, stride, rng):
    wl = W.depthwise_conv2d_nchw(1, 3, 7, 8, 3, stride=stride, pad=1)
    s = schedules.create_schedule(wl.output)
    _conv_schedule(s, wl, variant)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("variant", CONV_VARIANTS)
def test_conv2d_nchw_dilated(variant, stride, rng):
    """Dilation 2: the window spans 2 * (KH - 1) + 1 padded rows (bound inference of pad_at_row / pad_at_tile)."""
    wl = W.conv2d_nchw(1, 2, 9, 8, 3, 3, stride=stride, pad=2, dilation=2)
    s = schedules.create_schedule(wl.output)
    _conv_schedule(s, wl, variant)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("variant", ["pad_root", "pad_inline_vectorize_f", "pad_at_x", "cache_write"])
def test_conv2d_nhwc_ohwi_dilated(variant, rng):
    wl = W.conv2d_nhwc_ohwi(1, 8, 7, 3, 4, 2, 3, stride=1, pad=1, dilation=3)
    s = schedules.create_schedule(wl.output)
    _conv_nhwc_schedule(s, wl, variant)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("variant", ["pad_root", "pad_inline", "pad_at_row", "pad_at_tile"])
def test_depthwise_conv2d_nchw_dilated(variant, rng):
    wl = W.depthwise_conv2d_nchw(1, 3, 9, 9, 3, stride=2, pad=1, dilation=2)
    s = schedules.create_schedule(wl.output)
    _conv_schedule(s, wl, variant)
    check_workload(wl, s, rng)


# --- dense variants and quantization ops (from the ops registry) ---------------------------------

@pytest.mark.parametrize("bias,relu", [(False, False), (True, False), (False, True)])
def test_dense_variants_register_blocked(bias, relu, rng):
    import ops

    wl = ops.get("dense")(6, 8, 10, bias=bias, relu=relu)
    s = schedules.create_schedule(wl.output)
    if "dense" not in wl.stages:  # plain dense: the output is the reduction
        sch_register_block(s, wl, tile=2, ksplit=5)
    else:  # the reduction tile computed at the elementwise output's tile
        st = s[wl.output]
        io, jo, ii, ji = st.tile(*st.op.axis, 2, 4)
        s[wl["dense"]].compute_at(st, jo)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("variant", ["default", "split_unroll", "fuse", "requant_i8"])
def test_requantize_schedules(variant, rng):
    import isa_ext
    import ops

    wl = ops.get("requantize")(shape=(6, 20), multiplier=1518500250, shift=-9, zero_point=-7)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    if variant == "split_unroll":
        _, inner = st.split(st.op.axis[1], 4)
        st.unroll(inner)
    elif variant == "fuse":
        st.fuse(*st.op.axis)
    elif variant == "requant_i8":  # the unit computes the same function
        st.tensorize(st.op.axis[1], isa_ext.get("requant_i8"))
    check_workload(wl, s, rng)


# --- pooling ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["default", "pad_inline", "pad_at_row", "unroll_window", "fuse", "reorder"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_max_pool2d(variant, dtype, rng):
    wl = W.max_pool2d(1, 2, 7, 6, k=3, stride=2, pad=1, dtype=dtype)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    P = wl["pad"]
    if variant == "pad_inline":
        s[P].compute_inline()
    elif variant == "pad_at_row":
        s[P].compute_at(st, st.op.axis[2])
    elif variant == "unroll_window":
        s[P].compute_inline()
        for r in st.op.reduce_axis:
            st.unroll(r)
    elif variant == "fuse":
        s[P].compute_inline()
        sch_fuse(s, wl)
    elif variant == "reorder":
        sch_reorder(s, wl)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("variant", ["default", "sum_at_x", "sum_at_row_vectorized", "tiled"])
@pytest.mark.parametrize("dtype,k,stride", [("int8", 2, 2), ("int8", 3, 1), ("float32", 3, 2)])
def test_avg_pool2d(variant, dtype, k, stride, rng):
    wl = W.avg_pool2d(1, 2, 7, 8, k=k, stride=stride, dtype=dtype)
    s = schedules.create_schedule(wl.output)
    S = wl["sum"]
    st = s[wl.output]
    ax = st.op.axis
    if variant == "sum_at_x":
        s[S].compute_at(st, ax[3])
    elif variant == "sum_at_row_vectorized":
        s[S].compute_at(st, ax[2])
        st.vectorize(ax[3])
    elif variant == "tiled":
        yo, xo, yi, xi = st.tile(ax[2], ax[3], 2, 3)
        s[S].compute_at(st, xo)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("kh,kw,stride", [(7, 8, 1), (3, 2, 2), (1, 4, 1)])
def test_avg_pool2d_rectangular_window(kh, kw, stride, rng):
    """kh x kw windows (a global 7x8 one among them): default schedule and the sum computed per output."""
    wl = W.avg_pool2d(1, 2, 7, 8, stride=stride, kh=kh, kw=kw)
    assert wl.output.shape == (1, 2, (7 - kh) // stride + 1, (8 - kw) // stride + 1)
    check_workload(wl, schedules.create_schedule(wl.output), rng)
    wl = W.avg_pool2d(1, 2, 7, 8, stride=stride, kh=kh, kw=kw)
    s = schedules.create_schedule(wl.output)
    s[wl["sum"]].compute_at(s[wl.output], s[wl.output].op.axis[3])
    check_workload(wl, s, rng)


def test_avg_pool2d_int_rounds_towards_minus_infinity():
    """All-negative windows: the integer average is a floor, as numpy's floor_divide."""
    wl = W.avg_pool2d(1, 1, 2, 2, k=2, stride=2)
    s = schedules.create_schedule(wl.output)
    a = np.array([[[[-1, -2], [0, 0]]]], np.int8)  # sum -3, floor(-3 / 4) = -1 (C truncation gives 0)
    out = empty_output(wl.output)
    run_host(s, wl.args, [a, out])
    assert out.item() == -1


# --- elementwise, reductions, layout ------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((4, 1), (1, 5)), ((3, 5), (1, 5)), ((2, 3, 4), (2, 1, 4))],
                         ids=["outer", "row", "3d"])
@pytest.mark.parametrize("variant", ["default", "fuse", "vectorize", "split_nondiv_unroll", "parallel"])
def test_broadcast_add(variant, shapes, rng):
    wl = W.broadcast_add(*shapes)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    if variant == "fuse":
        sch_fuse(s, wl)
    elif variant == "vectorize":
        sch_vectorize(s, wl)
    elif variant == "split_nondiv_unroll":
        o, i = st.split(st.op.axis[0], 3)
        st.unroll(i)
    elif variant == "parallel":
        sch_parallel(s, wl)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("variant", ["default", "fuse_reduce", "reorder_reduce", "split_reduce_nondiv",
                                     "reduce_outermost", "cache_write", "unroll_rw"])
def test_sum_two_axes(variant, rng):
    wl = W.sum_two_axes(2, 3, 5, 6)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    n, c = st.op.axis
    rh, rw = st.op.reduce_axis
    if variant == "fuse_reduce":
        f = st.fuse(rh, rw)
        st.split(f, 4)
    elif variant == "reorder_reduce":
        st.reorder(rw, rh)
    elif variant == "split_reduce_nondiv":
        st.split(rh, 2)
        st.split(rw, 4)
    elif variant == "reduce_outermost":
        st.reorder(rh, rw, n, c)
    elif variant == "cache_write":
        SL = s.cache_write(wl.output, "local")
        st = s[wl.output]
        s[SL].compute_at(st, st.op.axis[0])
    elif variant == "unroll_rw":
        st.unroll(rw)
    check_workload(wl, s, rng)


def test_sum_two_axes_float32(rng):
    wl = W.sum_two_axes(1, 4, 3, 5, "float32", "float32")
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    st.fuse(*st.op.reduce_axis)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("K", [8, 10, 3])
@pytest.mark.parametrize("variant", ["default", "unroll_lanes", "vectorize_lanes", "fuse", "cache_read_at_n"])
def test_pack_b_kmajor(variant, K, rng):
    wl = W.pack_b_kmajor(K, 5)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    n, ko, ki = st.op.axis
    if variant == "unroll_lanes":
        st.unroll(ki)
    elif variant == "vectorize_lanes":
        st.vectorize(ki)
    elif variant == "fuse":
        st.fuse(ko, ki)
    elif variant == "cache_read_at_n":
        BL = s.cache_read(wl.inputs[0], "local", [wl.output])
        s[BL].compute_at(st, n)
    check_workload(wl, s, rng)


def test_pack_b_kmajor_padding_is_zero(rng):
    wl = W.pack_b_kmajor(5, 2)
    s = schedules.create_schedule(wl.output)
    b = np.full((5, 2), 7, np.int8)
    out = empty_output(wl.output)
    run_host(s, wl.args, [b, out])
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out[:, 0, :], 7)
    np.testing.assert_array_equal(out[:, 1, 0], 7)
    np.testing.assert_array_equal(out[:, 1, 1:], 0)


# --- stencils and bound inference ---------------------------------------------------------------

@pytest.mark.parametrize("N,factor", [(16, 8), (20, 8), (7, 3)])
@pytest.mark.parametrize("variant", ["root", "inline", "at_outer", "at_inner", "at_outer_unrolled"])
def test_stencil1d(variant, N, factor, rng):
    wl = W.stencil1d(N)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    P = wl["P"]
    io, ii = st.split(st.op.axis[0], factor)
    if variant == "inline":
        s[P].compute_inline()
    elif variant == "at_outer":
        s[P].compute_at(st, io)
    elif variant == "at_inner":
        s[P].compute_at(st, ii)
    elif variant == "at_outer_unrolled":
        s[P].compute_at(st, io)
        st.unroll(ii)
    check_workload(wl, s, rng)


@pytest.mark.parametrize("variant", ["root", "at_tile", "at_row", "at_tile_split_producer", "inline"])
def test_blur2d(variant, rng):
    wl = W.blur2d(7, 9)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    Bx = wl["Bx"]
    y, x = st.op.axis
    if variant == "at_tile":
        yo, xo, yi, xi = st.tile(y, x, 4, 4)
        s[Bx].compute_at(st, xo)
    elif variant == "at_row":
        s[Bx].compute_at(st, y)
    elif variant == "at_tile_split_producer":
        yo, xo, yi, xi = st.tile(y, x, 4, 4)
        s[Bx].compute_at(st, xo)
        by, bx = s[Bx].op.axis
        bxo, bxi = s[Bx].split(bx, 3)
        s[Bx].unroll(bxi)
    elif variant == "inline":
        s[Bx].compute_inline()
    check_workload(wl, s, rng)


def _alloc_shapes(func, name):
    return [eval(m) for m in re.findall(rf"^\s*{re.escape(name)} = alloc_buffer\((\[[0-9, ]*\])", str(func), re.M)]


def test_bound_inference_register_tile_is_4x4(rng):
    wl = W.matmul(8, 12, 16)
    s = schedules.create_schedule(wl.output)
    sch_register_block(s, wl)
    func = check_workload(wl, s, rng)
    assert _alloc_shapes(func, "C.local") == [[4, 4]], str(func)
    assert "scope='local'" in str(func)


def test_bound_inference_register_tile_of_non_divisible_matmul(rng):
    """A 10 x 6 output tiled by 4: the accumulator is still the [4, 4] tile (edge tiles guarded)."""
    wl = W.matmul(10, 6, 5)
    s = schedules.create_schedule(wl.output)
    sch_register_block(s, wl)
    func = check_workload(wl, s, rng)
    assert _alloc_shapes(func, "C.local") == [[4, 4]], str(func)


def test_bound_inference_stencil_halo_is_exact(rng):
    wl = W.stencil1d(32)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    io, ii = st.split(st.op.axis[0], 8)
    s[wl["P"]].compute_at(st, io)
    func = check_workload(wl, s, rng)
    assert _alloc_shapes(func, "P") == [[10]], str(func)
    # the producer loop runs exactly 10 times per tile, starting at the tile origin
    assert re.search(r"for i in range\(10\)", str(func)), str(func)


def test_bound_inference_blur2d_tile_halo(rng):
    wl = W.blur2d(8, 8)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    y, x = st.op.axis
    yo, xo, yi, xi = st.tile(y, x, 4, 4)
    s[wl["Bx"]].compute_at(st, xo)
    func = check_workload(wl, s, rng)
    # rows: 4 + 2 halo; columns: exactly the 4 the tile reads
    assert _alloc_shapes(func, "Bx") == [[6, 4]], str(func)


def test_bound_inference_cache_read_in_k_loop(rng):
    """cache_read of A at the inner k loop of a 4x4 tile: one A column slice of the tile, [4, 1]."""
    wl = W.matmul(8, 8, 8)
    s = schedules.create_schedule(wl.output)
    AL = s.cache_read(wl.inputs[0], "local", [wl.output])
    st = s[wl.output]
    i, j = st.op.axis
    io, jo, ii, ji = st.tile(i, j, 4, 4)
    k = st.op.reduce_axis[0]
    st.reorder(io, jo, k, ii, ji)
    s[AL].compute_at(st, k)
    func = check_workload(wl, s, rng)
    assert _alloc_shapes(func, "A.local") == [[4, 1]], str(func)


def test_bound_inference_pad_at_row_region(rng):
    """Pad computed at an output row of a 3x3 stride-1 conv: KH rows of the padded input, full width."""
    wl = W.conv2d_nchw(1, 2, 5, 6, 1, 3, stride=1, pad=1)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    s[wl["pad"]].compute_at(st, st.op.axis[2])
    func = check_workload(wl, s, rng)
    assert _alloc_shapes(func, "pad") == [[1, 2, 3, 8]], str(func)


def test_bound_inference_strided_pad_at_row(rng):
    """Stride 2: each output row still needs KH = 3 padded rows."""
    wl = W.conv2d_nchw(1, 1, 7, 7, 1, 3, stride=2, pad=1)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    s[wl["pad"]].compute_at(st, st.op.axis[2])
    func = check_workload(wl, s, rng)
    assert _alloc_shapes(func, "pad") == [[1, 1, 3, 9]], str(func)


def test_workload_module_lists_every_constructor():
    for name in ["matmul", "batch_matmul", "dense_bias_relu", "conv2d_nchw", "conv2d_nhwc", "depthwise_conv2d_nchw",
                 "max_pool2d", "avg_pool2d", "broadcast_add", "sum_two_axes", "pack_b_kmajor", "stencil1d", "blur2d"]:
        assert name in W.ALL


def test_reference_functions_are_sane(rng):
    """The numpy references agree with brute force on one tiny case each (guards the test oracle)."""
    wl = W.conv2d_nhwc(1, 4, 4, 2, 2, 3, stride=1, pad=1)
    a, w = inputs_for(wl, rng)
    ref = wl.ref(a, w)
    ap = np.pad(a.astype(np.int64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    brute = np.zeros_like(ref)
    for y in range(4):
        for x in range(4):
            for f in range(2):
                brute[0, y, x, f] = (ap[0, y:y + 3, x:x + 3, :] * w[:, :, :, f]).sum()
    np.testing.assert_array_equal(ref, brute)
    wl = W.pack_b_kmajor(6, 3)
    (b,) = inputs_for(wl, rng)
    p = wl.ref(b)
    for n in range(3):
        for k in range(8):
            assert p[n, k // 4, k % 4] == (b[k, n] if k < 6 else 0)


# --- more primitives and pipelines --------------------------------------------------------------

def test_reduction_with_where_and_offset_axis(rng):
    A = tir.placeholder((5, 9), "int8", "A")
    k = tir.reduce_axis((2, 7), "k")
    C = tir.compute((5,), lambda i: tir.sum(A[i, k].astype("int32"), axis=k, where=A[i, k] > tir.const(0, "int8")),
                    name="C")
    s = schedules.create_schedule(C)
    s[C].split(k, 2)
    a = rng.integers(-128, 128, (5, 9)).astype(np.int8)
    c = np.full(5, 77, np.int32)
    func = run_host(s, [A, C], [a, c])
    sub = a[:, 2:7].astype(np.int32)
    np.testing.assert_array_equal(c, np.where(sub > 0, sub, 0).sum(1), err_msg=str(func))


@pytest.mark.parametrize("combiner", ["min", "max"])
def test_min_max_reduction_split_unrolled(combiner, rng):
    A = tir.placeholder((4, 8), "int8", "A")
    k = tir.reduce_axis(8, "k")
    C = tir.compute((4,), lambda i: getattr(tir, combiner)(A[i, k], axis=k), name="C")
    s = schedules.create_schedule(C)
    ko, ki = s[C].split(k, 3)
    s[C].unroll(ki)
    a = rng.integers(-128, 128, (4, 8)).astype(np.int8)
    c = np.zeros(4, np.int8)
    run_host(s, [A, C], [a, c])
    np.testing.assert_array_equal(c, getattr(a, combiner)(axis=1))


def test_two_outputs(rng):
    A = tir.placeholder((6,), "int32", "A")
    C1 = tir.compute((6,), lambda i: A[i] * 2, name="C1")
    C2 = tir.compute((6,), lambda i: A[i] + 3, name="C2")
    s = schedules.create_schedule([C1, C2])
    a = rng.integers(-9, 9, 6).astype(np.int32)
    c1, c2 = np.zeros(6, np.int32), np.zeros(6, np.int32)
    run_host(s, [A, C1, C2], [a, c1, c2])
    np.testing.assert_array_equal(c1, a * 2)
    np.testing.assert_array_equal(c2, a + 3)


def test_cache_write_of_elementwise_output(rng):
    wl = W.dense_bias_relu(5, 6, 7)
    s = schedules.create_schedule(wl.output)
    RL = s.cache_write(wl.output, "local")
    R = s[wl.output]
    jo, ji = R.split(R.op.axis[1], 4)
    s[RL].compute_at(R, jo)
    check_workload(wl, s, rng)


def test_cache_read_shared_by_two_readers(rng):
    A = tir.placeholder((8,), "int32", "A")
    C1 = tir.compute((8,), lambda i: A[i] * 2, name="C1")
    C2 = tir.compute((8,), lambda i: A[i] + C1[i], name="C2")
    s = schedules.create_schedule(C2)
    s.cache_read(A, "local", [C1, C2])
    a = rng.integers(-9, 9, 8).astype(np.int32)
    c = np.zeros(8, np.int32)
    run_host(s, [A, C2], [a, c])
    np.testing.assert_array_equal(c, 3 * a)


def test_nparts_splits_unroll_and_vectorize(rng):
    wl = W.matmul(7, 9, 5)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    i, j = st.op.axis
    io, ii = st.split(i, nparts=3)
    jo, ji = st.split(j, nparts=4)
    st.reorder(io, jo, st.op.reduce_axis[0], ii, ji)
    st.unroll(ii)
    st.vectorize(ji)
    check_workload(wl, s, rng)


def test_narrow_unsigned_and_int16_wrap_like_numpy():
    A = tir.placeholder((6,), "uint8", "A")
    B = tir.placeholder((6,), "uint8", "B")
    C = tir.compute((6,), lambda i: (A[i] - B[i]) // tir.const(3, "uint8") + A[i] % B[i], name="C")
    s = schedules.create_schedule(C)
    a = np.array([0, 5, 200, 255, 3, 1], np.uint8)
    b = np.array([1, 7, 100, 2, 3, 255], np.uint8)
    c = np.zeros(6, np.uint8)
    run_host(s, [A, B, C], [a, b, c])
    np.testing.assert_array_equal(c, ((a - b) // np.uint8(3) + a % b).astype(np.uint8))
    X = tir.placeholder((6,), "int16", "X")
    Y = tir.compute((6,), lambda i: X[i] * X[i], name="Y")
    s = schedules.create_schedule(Y)
    x = np.array([300, -300, 181, 200, -32768, 7], np.int16)
    y = np.zeros(6, np.int16)
    run_host(s, [X, Y], [x, y])
    np.testing.assert_array_equal(y, x * x)
