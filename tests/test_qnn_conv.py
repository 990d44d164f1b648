"""The int8 convolution-family operators (ops/qnn_conv.py): TFLite's reference-kernel arithmetic.

Three definitions must agree bit for bit: the numpy reference (vectorized, int64), the TE run through
the default schedule on the host C compiler, and a direct loop transcription of TFLite's reference
kernels written here (pure Python ints, C's truncating division, the nudged SRDHM and the
mask / threshold RoundingDivideByPOT), independent of both.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import codegen_c
import ops
import schedules
import tir
from ops import OpError
from ops.qnn import quantize_multiplier
from ops.qnn_conv import folded_bias, qadd_params

# --- TFLite's reference arithmetic, transcribed (Python ints) ------------------------------------

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def _c_div(a: int, b: int) -> int:
    """C's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul as gemmlowp writes it."""
    if a == b == I32_MIN:
        return I32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _c_div(ab + nudge, 1 << 31)


def _rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: round half away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _mbqm(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier."""
    left, right = (shift, 0) if shift > 0 else (0, -shift)
    return _rdbpot(_srdhm(_i32(x * (1 << left)), m), right)


def _direct_conv(x, w, bias, mult, shift, a, depthwise=False):
    n_, h_, w_, c_ = x.shape
    oh, ow = ops.get("qconv2d_nhwc" if not depthwise else "qdepthwise_conv2d_nhwc")(**a).output.shape[1:3]
    n_out = w.shape[3] if depthwise else w.shape[0]
    y = np.zeros((n_, oh, ow, n_out), np.int8)
    for b in range(n_):
        for oy in range(oh):
            for ox in range(ow):
                for oc in range(n_out):
                    acc = 0
                    for ky in range(a["KH"]):
                        for kx in range(a["KW"]):
                            iy = oy * a["stride_h"] - a["pad_top"] + ky * a["dilation_h"]
                            ix = ox * a["stride_w"] - a["pad_left"] + kx * a["dilation_w"]
                            if not (0 <= iy < h_ and 0 <= ix < w_):
                                continue
                            if depthwise:
                                ic = oc // a["depth_multiplier"]
                                acc += (int(x[b, iy, ix, ic]) - a["x_zero_point"]) * int(w[0, ky, kx, oc])
                            else:
                                for ic in range(c_):
                                    acc += (int(x[b, iy, ix, ic]) - a["x_zero_point"]) * int(w[oc, ky, kx, ic])
                    acc = _i32(acc + int(bias[oc]))
                    v = _mbqm(acc, int(mult[oc]), int(shift[oc])) + a["out_zero_point"]
                    y[b, oy, ox, oc] = min(max(v, a["qmin"]), a["qmax"])
    return y


def _direct_pool(x, a, kind):
    n_, h_, w_, c_ = x.shape
    oh, ow = ops.get(f"q{kind}_pool2d_nhwc")(**a).output.shape[1:3]
    y = np.zeros((n_, oh, ow, c_), np.int8)
    for b in range(n_):
        for oy in range(oh):
            for ox in range(ow):
                for c in range(c_):
                    y0, x0 = oy * a["stride_h"] - a["pad_top"], ox * a["stride_w"] - a["pad_left"]
                    taps = [int(x[b, iy, ix, c]) for iy in range(max(0, y0), min(h_, y0 + a["filter_h"]))
                            for ix in range(max(0, x0), min(w_, x0 + a["filter_w"]))]
                    if kind == "max":
                        v = max(taps)
                    else:
                        s, n = sum(taps), len(taps)
                        v = _c_div(s + n // 2, n) if s > 0 else _c_div(s - n // 2, n)
                    y[b, oy, ox, c] = min(max(v, a["qmin"]), a["qmax"])
    return y


def _direct_add(xa, xb, p):
    shape = tuple(p["shape"])
    xa, xb = np.broadcast_to(xa, shape), np.broadcast_to(xb, shape)
    out = np.zeros(shape, np.int8)
    for i in np.ndindex(shape):
        sa = _mbqm((int(xa[i]) - p["a_zero_point"]) * (1 << p["left_shift"]), p["a_multiplier"], p["a_shift"])
        sb = _mbqm((int(xb[i]) - p["b_zero_point"]) * (1 << p["left_shift"]), p["b_multiplier"], p["b_shift"])
        v = _mbqm(_i32(sa + sb), p["out_multiplier"], p["out_shift"]) + p["out_zero_point"]
        out[i] = min(max(v, p["qmin"]), p["qmax"])
    return out


# --- realistic data ------------------------------------------------------------------------------

def _i8(rng, shape):
    return rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)


def _conv_data(op_name, attrs, rng):
    """Random int8 data, int32 bias and per-channel multipliers from per-channel scales (through
    QuantizeMultiplier), chosen so the outputs spread over the int8 range."""
    wl = ops.get(op_name)(**attrs)
    x = _i8(rng, wl.inputs[0].shape)
    w = _i8(rng, wl.inputs[1].shape)
    n_out = wl.inputs[2].shape[0]
    bias = rng.integers(-4000, 4000, n_out, dtype=np.int64).astype(np.int32)
    zero = np.zeros(n_out, np.int32)
    x_scale, w_scales = 0.02, rng.uniform(0.002, 0.02, n_out)
    taps = int(np.prod(wl.inputs[1].shape)) // n_out  # products per output: |acc| ~ 70 * 70 * sqrt(taps)
    out_scale = x_scale * float(w_scales.mean()) * 70 * 70 * math.sqrt(taps) / 127 * 2.5
    mult, shift = zero.copy(), zero.copy()
    for f in range(n_out):
        mult[f], shift[f] = quantize_multiplier(x_scale * float(w_scales[f]) / out_scale)
    return [x, w, bias, mult, shift]


def _host(wl, ins):
    func = tir.lower(schedules.create_schedule(wl.output), wl.args)
    out = np.full(wl.output.shape, 0x5A, np.int8)
    codegen_c.build(func, "host")(*ins, out)
    return out


CONVS = [
    ("qconv2d_nhwc", dict(N=1, H=8, W=8, C=4, F=6, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1,
                          x_zero_point=-3, out_zero_point=5)),
    ("qconv2d_nhwc", dict(N=1, H=9, W=9, C=3, F=5, KH=3, stride_h=2, stride_w=2, x_zero_point=-128)),
    ("qconv2d_nhwc", dict(N=2, H=7, W=6, C=2, F=3, KH=2, KW=3, stride_h=1, stride_w=2, dilation_w=2, pad_top=0,
                          pad_bottom=1, pad_left=2, pad_right=1, x_zero_point=9, out_zero_point=-128, qmin=-128,
                          qmax=127)),
    ("qconv2d_nhwc", dict(N=1, H=5, W=5, C=8, F=4, KH=1, out_zero_point=-10, qmin=-10, qmax=127)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=6, W=6, C=3, depth_multiplier=2, KH=3, pad_top=1, pad_bottom=1,
                                    pad_left=1, pad_right=1, x_zero_point=7, out_zero_point=-4)),
    ("qdepthwise_conv2d_nhwc", dict(N=2, H=7, W=8, C=4, KH=3, KW=2, stride_h=2, stride_w=2, pad_top=0,
                                    pad_bottom=1, pad_left=0, pad_right=1, x_zero_point=-128)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=9, W=8, C=2, depth_multiplier=3, KH=3, dilation_h=2, pad_top=2,
                                    pad_bottom=2, pad_left=1, pad_right=1, out_zero_point=3, qmin=3, qmax=100)),
]
POOLS = [
    dict(N=1, H=6, W=6, C=4),
    dict(N=1, H=5, W=5, C=3, filter_h=3, filter_w=3, stride_h=1, stride_w=1, pad_top=1, pad_bottom=1, pad_left=1,
         pad_right=1),
    dict(N=2, H=7, W=6, C=2, filter_h=3, filter_w=2, stride_h=2, stride_w=2, pad_top=1, pad_bottom=1, pad_left=0,
         pad_right=1, qmin=-30, qmax=90),
    dict(N=1, H=4, W=7, C=5, filter_h=4, filter_w=3, stride_h=1, stride_w=2, pad_top=2, pad_bottom=1, pad_left=1,
         pad_right=2),
]


@pytest.mark.parametrize("name,attrs", CONVS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONVS)])
def test_conv_host_kernel_reference_and_direct_loops_agree(name, attrs):
    rng = np.random.default_rng(len(str(attrs)))
    wl = ops.get(name)(**attrs)
    ins = _conv_data(name, attrs, rng)
    want = wl.ref(*ins)
    assert want.dtype == np.int8 and want.shape == wl.output.shape
    # realistic scales reach both ends of the clamp and the middle
    assert len(np.unique(want)) > 20, np.unique(want)
    np.testing.assert_array_equal(_direct_conv(*ins, wl.params, depthwise=name.startswith("qdepthwise")), want)
    np.testing.assert_array_equal(_host(wl, ins), want)


@pytest.mark.parametrize("name,attrs", CONVS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONVS)])
def test_folding_the_input_offset_into_the_bias_is_exact(name, attrs):
    """fold_x_zero_point with folded_bias equals the unfolded operator at the image borders too (the
    padding holds the zero point); any int32 bias, wrapping included."""
    rng = np.random.default_rng(23)
    wl = ops.get(name)(**attrs)
    ins = _conv_data(name, attrs, rng)
    ins[2][:2] = [I32_MIN, I32_MAX]
    want = wl.ref(*ins)
    folded = ops.get(name)(**attrs, fold_x_zero_point=True)
    fins = [ins[0], ins[1], folded_bias(ins[1], ins[2], attrs.get("x_zero_point", 0), name.startswith("qdepth")),
            *ins[3:]]
    np.testing.assert_array_equal(folded.ref(*fins), want)
    np.testing.assert_array_equal(_host(folded, fins), want)
    if attrs.get("x_zero_point", 0) and any(attrs.get(k, 0) for k in ("pad_top", "pad_left")):
        # folding is not a rewrite of the unfolded workload: the reduction changed, and with the
        # original bias the result differs
        assert not np.array_equal(folded.ref(*ins), want)


@pytest.mark.parametrize("name,attrs", CONVS[:2] + CONVS[4:6], ids=["conv-0", "conv-1", "dw-0", "dw-1"])
def test_conv_host_kernel_at_full_range_parameters(name, attrs):
    """Multipliers, shifts and biases anywhere in int32 (wrapping sums, saturating SRDHM, shifts beyond 31
    limited): the C kernel still computes what the reference defines."""
    rng = np.random.default_rng(11)
    wl = ops.get(name)(**attrs)
    n_out = wl.inputs[2].shape[0]
    edges = np.array([I32_MIN, I32_MAX, -1, 0, 1, 1 << 30, -(1 << 30)], np.int64)

    def full(n):
        v = rng.integers(I32_MIN, I32_MAX, n, endpoint=True, dtype=np.int64)
        v[:min(n, len(edges))] = edges[:n]
        return v.astype(np.int32)

    ins = [_i8(rng, wl.inputs[0].shape), _i8(rng, wl.inputs[1].shape), full(n_out), full(n_out),
           rng.integers(-40, 40, n_out, dtype=np.int64).astype(np.int32)]
    np.testing.assert_array_equal(_host(wl, ins), wl.ref(*ins))
    np.testing.assert_array_equal(tir.evaluate(wl.output, dict(zip(wl.inputs, ins))), wl.ref(*ins))


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("attrs", POOLS, ids=[f"pool-{i}" for i in range(len(POOLS))])
def test_pool_host_kernel_reference_and_direct_loops_agree(kind, attrs):
    rng = np.random.default_rng(len(str(attrs)))
    wl = ops.get(f"q{kind}_pool2d_nhwc")(**attrs)
    x = _i8(rng, wl.inputs[0].shape)
    x.reshape(-1)[:4] = [-128, 127, -128, 127]
    want = wl.ref(x)
    np.testing.assert_array_equal(_direct_pool(x, wl.params, kind), want)
    np.testing.assert_array_equal(_host(wl, [x]), want)


def test_avg_pool_rounds_half_away_from_zero_and_excludes_padding():
    avg = ops.get("qavg_pool2d_nhwc")
    # 2x2 windows: sums 2 and -2 over 4 taps (+-0.5), 6 and -6 (+-1.5), 1 and -1 (+-0.25)
    x = np.array([[1, 1, -1, -1, 3, 3, -3, -3, 1, 0, -1, 0],
                  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.int8).reshape(1, 2, 12, 1)
    np.testing.assert_array_equal(avg(N=1, H=2, W=12, C=1).ref(x).reshape(-1), [1, -1, 2, -2, 0, 0])
    # a corner window of a 3x3 pad 1 pool holds 4 in-image taps: 4 * 100 / 4 = 100 (not 400 / 9)
    wl = avg(N=1, H=2, W=2, C=1, filter_h=3, filter_w=3, stride_h=1, stride_w=1, pad_top=1, pad_bottom=1,
             pad_left=1, pad_right=1)
    x = np.full((1, 2, 2, 1), 100, np.int8)
    np.testing.assert_array_equal(wl.ref(x), x)
    np.testing.assert_array_equal(_host(wl, [x]), x)


ADDS = [
    dict(shape=(4, 9), a_zero_point=-5, b_zero_point=17, out_zero_point=-9, **qadd_params(0.05, 0.02, 0.06)),
    dict(shape=(2, 3, 3, 4), a_zero_point=-128, b_zero_point=3, out_zero_point=-128, **qadd_params(0.0039, 0.11, 0.12)),
    dict(shape=(37,), a_zero_point=0, b_zero_point=0, out_zero_point=2, qmin=2, qmax=127,
         **qadd_params(0.5, 0.5, 0.5)),
    dict(shape=(5, 5), a_zero_point=100, b_zero_point=-100, out_zero_point=0, **qadd_params(0.1, 0.1, 0.05)),
    # broadcasting (numpy's rules, as TFLite's ADD): a per-channel constant, both sides, a scalar
    dict(shape=(1, 3, 4, 5), b_shape=(5,), a_zero_point=2, b_zero_point=-7, **qadd_params(0.05, 0.02, 0.06)),
    dict(shape=(2, 3, 4), a_shape=(2, 1, 4), b_shape=(3, 1), a_zero_point=-1, **qadd_params(0.03, 0.04, 0.05)),
    dict(shape=(3, 6), a_shape=(1,), b_zero_point=5, out_zero_point=-3, **qadd_params(0.2, 0.01, 0.2)),
]


@pytest.mark.parametrize("attrs", ADDS, ids=[f"add-{i}" for i in range(len(ADDS))])
def test_add_host_kernel_reference_and_direct_loops_agree(attrs):
    rng = np.random.default_rng(len(str(attrs)))
    wl = ops.get("qadd")(**attrs)
    a = _i8(rng, attrs.get("a_shape", attrs["shape"]))
    b = _i8(rng, attrs.get("b_shape", attrs["shape"]))
    want = wl.ref(a, b)
    assert want.shape == attrs["shape"]
    np.testing.assert_array_equal(_direct_add(a, b, wl.params), want)
    np.testing.assert_array_equal(_host(wl, [a, b]), want)


def test_add_shapes_that_do_not_broadcast_are_refused():
    with pytest.raises(OpError, match="'b_shape' = \\(4,\\) does not broadcast to the output shape"):
        ops.get("qadd")(shape=(2, 3), b_shape=(4,))
    with pytest.raises(OpError, match="'a_shape'"):
        ops.get("qadd")(shape=(3,), a_shape=(2, 3))


def test_add_is_the_real_sum_within_rounding():
    """Dequantized, qadd's output is the sum of the dequantized inputs to within one output step."""
    sa, sb, so = 0.05, 0.02, 0.06
    p = dict(shape=(2000,), a_zero_point=-5, b_zero_point=17, out_zero_point=-9, **qadd_params(sa, sb, so))
    rng = np.random.default_rng(3)
    a, b = _i8(rng, p["shape"]), _i8(rng, p["shape"])
    y = ops.get("qadd")(**p).ref(a, b).astype(np.float64)
    real = (a.astype(np.float64) + 5) * sa + (b.astype(np.float64) - 17) * sb
    inside = np.abs(real / so) < 110
    assert np.all(np.abs((y[inside] + 9) * so - real[inside]) <= so * 0.51)


# --- QuantizeMultiplier and qadd_params ----------------------------------------------------------

def test_quantize_multiplier_is_tflites():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.75) == (3 << 29, 0)
    assert quantize_multiplier(2.0 ** -20) == (1 << 30, -19)
    # the mantissa rounds up to 2**31: folded back to 2**30, exponent one up
    assert quantize_multiplier(1 - 2.0 ** -40) == (1 << 30, 1)
    # a tie of the rounding (mantissa * 2**31 = 2**30 + 1/2) goes away from zero
    assert quantize_multiplier(0.5 + 2.0 ** -32) == ((1 << 30) + 1, 0)
    assert quantize_multiplier(-(0.5 + 2.0 ** -32)) == (-(1 << 30) - 1, 0)
    # below 2**-32 the shift would be under -31: flushed to zero
    assert quantize_multiplier(2.0 ** -33) == (0, 0)
    assert quantize_multiplier(2.0 ** -32) == (1 << 30, -31)
    for real in np.random.default_rng(0).uniform(1e-6, 1.0, 200):
        m, s = quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31) and abs(m * 2.0 ** (s - 31) - real) <= 2.0 ** (s - 32)


def test_qadd_params_follow_tflite_prepare():
    p = qadd_params(0.05, 0.02, 0.06)
    sa, sb, so = (float(np.float32(s)) for s in (0.05, 0.02, 0.06))
    twice = 2 * max(sa, sb)
    assert (p["a_multiplier"], p["a_shift"]) == quantize_multiplier(sa / twice) == (1 << 30, 0)
    assert (p["b_multiplier"], p["b_shift"]) == quantize_multiplier(sb / twice)
    assert (p["out_multiplier"], p["out_shift"]) == quantize_multiplier(twice / ((1 << 20) * so))
    assert p["left_shift"] == 20
    assert qadd_params(1.0, 1.0, 1.0) == {"left_shift": 20, "a_multiplier": 1 << 30, "a_shift": 0,
                                          "b_multiplier": 1 << 30, "b_shift": 0, "out_multiplier": 1 << 30,
                                          "out_shift": -18}
    with pytest.raises(OpError, match="'qadd': the out multiplier .* is not below one"):
        qadd_params(1.0, 1.0, 1e-7)
    with pytest.raises(OpError, match="b_scale must be a positive"):
        qadd_params(1.0, 0.0, 1.0)


# --- attributes, MACs ----------------------------------------------------------------------------

def test_bad_attributes_name_operator_and_attribute():
    conv, dw = ops.get("qconv2d_nhwc"), ops.get("qdepthwise_conv2d_nhwc")
    with pytest.raises(OpError, match="'qconv2d_nhwc'.*KH = 5 taps.*does not fit H = 4.*output height < 1"):
        conv(N=1, H=4, W=8, C=2, F=2, KH=5, KW=3)
    with pytest.raises(OpError, match="'qconv2d_nhwc'.*KW = 3 taps, dilation 4.*W = 8"):
        conv(N=1, H=8, W=8, C=2, F=2, KH=3, dilation_w=4)
    with pytest.raises(OpError, match="'qconv2d_nhwc': qmin = 10 is above qmax = 5"):
        conv(N=1, H=4, W=4, C=2, F=2, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, qmin=10, qmax=5)
    with pytest.raises(OpError, match="'qconv2d_nhwc': attribute 'x_zero_point' = 128 does not fit int8"):
        conv(N=1, H=4, W=4, C=2, F=2, KH=1, x_zero_point=128)
    with pytest.raises(OpError, match="'qconv2d_nhwc': attribute 'pad_left' must be >= 0"):
        conv(N=1, H=4, W=4, C=2, F=2, KH=1, pad_left=-1)
    with pytest.raises(OpError, match="'qdepthwise_conv2d_nhwc': attribute 'depth_multiplier' must be >= 1"):
        dw(N=1, H=4, W=4, C=2, KH=3, depth_multiplier=0)
    with pytest.raises(OpError, match="'qdepthwise_conv2d_nhwc': attribute 'qmax' = 200 does not fit int8"):
        dw(N=1, H=4, W=4, C=2, KH=3, qmax=200)
    with pytest.raises(OpError, match="'qavg_pool2d_nhwc': attribute 'pad_top' = 2 .* no tap inside H"):
        ops.get("qavg_pool2d_nhwc")(N=1, H=4, W=4, C=1, filter_h=2, filter_w=2, pad_top=2)
    with pytest.raises(OpError, match="'qmax_pool2d_nhwc': attribute 'stride_w' must be >= 1"):
        ops.get("qmax_pool2d_nhwc")(N=1, H=4, W=4, C=1, stride_w=0)
    with pytest.raises(OpError, match="'qmax_pool2d_nhwc'.*filter_h = 5 taps.*H = 4"):
        ops.get("qmax_pool2d_nhwc")(N=1, H=4, W=4, C=1, filter_h=5)
    qadd = ops.get("qadd")
    with pytest.raises(OpError, match="'qadd': attribute 'out_shift' = 1 is outside \\[-31, 0\\]"):
        qadd(shape=(4,), out_shift=1)
    with pytest.raises(OpError, match="'qadd': attribute 'a_multiplier' = -1 is outside"):
        qadd(shape=(4,), a_multiplier=-1)
    with pytest.raises(OpError, match="'qadd': attribute 'left_shift' = 24"):
        qadd(shape=(4,), left_shift=24)
    with pytest.raises(OpError, match="'qadd': attribute 'shape' must be a non-empty shape"):
        qadd(shape=())


def test_input_order_and_mac_counts():
    from test_ops import _reduction_macs

    wl = ops.get("qconv2d_nhwc")(N=1, H=8, W=8, C=4, F=6, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    assert [t.shape for t in wl.inputs] == [(1, 8, 8, 4), (6, 3, 3, 4), (6,), (6,), (6,)]
    assert [t.dtype for t in wl.inputs] == ["int8", "int8", "int32", "int32", "int32"]
    assert wl.output.shape == (1, 8, 8, 6) and wl.output.dtype == "int8" and set(wl.stages) == {"pad", "acc", "biased"}
    assert ops.get("qconv2d_nhwc").macs(**wl.params) == 8 * 8 * 6 * 9 * 4
    # folded: a plain int8 product over the input padded with the zero point
    folded = ops.get("qconv2d_nhwc")(**dict(wl.params, x_zero_point=-3, fold_x_zero_point=True))
    assert "-" not in str(folded["acc"].op.body) and "int8(-3)" in str(folded["pad"].op.body)
    assert "- -3" in str(ops.get("qconv2d_nhwc")(**dict(wl.params, x_zero_point=-3))["acc"].op.body)
    dw = ops.get("qdepthwise_conv2d_nhwc")(N=1, H=6, W=6, C=3, depth_multiplier=2, KH=3)
    assert [t.shape for t in dw.inputs] == [(1, 6, 6, 3), (1, 3, 3, 6), (6,), (6,), (6,)]
    assert ops.get("qdepthwise_conv2d_nhwc").macs(**dw.params) == 4 * 4 * 6 * 9
    for name in ("qconv2d_nhwc", "qdepthwise_conv2d_nhwc"):
        op = ops.get(name)
        for ex in op.examples:
            assert op.macs(**ex) == _reduction_macs(op(**ex)) > 0, (name, ex)
    for name in ("qavg_pool2d_nhwc", "qmax_pool2d_nhwc", "qadd"):
        assert all(ops.get(name).macs(**ex) == 0 for ex in ops.get(name).examples)


# --- against TFLite Micro's interpreter ----------------------------------------------------------
# One-operator int8 .tflite models are assembled here with the flatbuffer schema's generated builders
# (package tflite) and run by TFLM's own kernels: the ground truth the operators must equal.

_INT8, _INT32 = 9, 2
_SAME, _VALID = 0, 1
_NONE, _RELU, _RELU6 = 0, 1, 3


def _table(b, module: str, fields: dict):
    import importlib

    mod = importlib.import_module(f"tflite.{module}")
    getattr(mod, f"{module}Start")(b)
    for k, v in fields.items():
        getattr(mod, f"{module}Add{k}")(b, v)
    return getattr(mod, f"{module}End")(b)


def _offsets(b, offs):
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _tflm(opcode: int, options_kind: str, options: dict, tensors: list[dict], op_in: list[int], op_out: list[int],
          feeds: list[np.ndarray]) -> np.ndarray:
    """Run one builtin operator over ``tensors`` (dicts: shape, dtype, scale, zp, qdim, data) in TFLM."""
    import flatbuffers
    import tflite
    from tflite_micro.python.tflite_micro import runtime

    b = flatbuffers.Builder(4096)
    buffers = [_table(b, "Buffer", {})]
    t_offs = []
    for i, t in enumerate(tensors):
        buf = 0
        if t.get("data") is not None:
            data = b.CreateNumpyVector(np.frombuffer(np.ascontiguousarray(t["data"]).tobytes(), np.uint8))
            buffers.append(_table(b, "Buffer", {"Data": data}))
            buf = len(buffers) - 1
        q = _table(b, "QuantizationParameters", {
            "Scale": b.CreateNumpyVector(np.asarray(t["scale"], np.float32)),
            "ZeroPoint": b.CreateNumpyVector(np.asarray(t["zp"], np.int64)),
            "QuantizedDimension": t.get("qdim", 0)})
        name, shape = b.CreateString(f"t{i}"), b.CreateNumpyVector(np.asarray(t["shape"], np.int32))
        t_offs.append(_table(b, "Tensor", {"Shape": shape, "Type": t["dtype"], "Buffer": buf, "Name": name,
                                           "Quantization": q}))
    opts = _table(b, options_kind, options)
    op = _table(b, "Operator", {"OpcodeIndex": 0, "Inputs": b.CreateNumpyVector(np.asarray(op_in, np.int32)),
                                "Outputs": b.CreateNumpyVector(np.asarray(op_out, np.int32)),
                                "BuiltinOptionsType": getattr(tflite.BuiltinOptions, options_kind),
                                "BuiltinOptions": opts})
    graph_in = [i for i in op_in if i >= 0 and tensors[i].get("data") is None]
    sg = _table(b, "SubGraph", {"Tensors": _offsets(b, t_offs),
                                "Inputs": b.CreateNumpyVector(np.asarray(graph_in, np.int32)),
                                "Outputs": b.CreateNumpyVector(np.asarray(op_out, np.int32)),
                                "Operators": _offsets(b, [op]), "Name": b.CreateString("main")})
    code = _table(b, "OperatorCode", {"DeprecatedBuiltinCode": opcode, "BuiltinCode": opcode, "Version": 1})
    desc = b.CreateString("isaforge test")
    model = _table(b, "Model", {"Version": 3, "OperatorCodes": _offsets(b, [code]), "Subgraphs": _offsets(b, [sg]),
                                "Description": desc, "Buffers": _offsets(b, buffers)})
    b.Finish(model, file_identifier=b"TFL3")
    interp = runtime.Interpreter.from_bytes(bytes(b.Output()), arena_size=1 << 20)
    for i, a in enumerate(feeds):
        interp.set_input(a, i)
    interp.invoke()
    return interp.get_output(0)


def _f32(s) -> float:
    return float(np.float32(s))


def _same_pads(n: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite's SAME padding (before, after) of one axis."""
    out = -(-n // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def _act_range(act: int, scale: float, zp: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8."""
    if act == _RELU:
        return max(-128, zp), 127
    if act == _RELU6:
        return max(-128, zp), min(127, zp + round(6.0 / _f32(scale)))
    return -128, 127


def _window_attrs(H, W, kh, kw, sh, sw, dh, dw, padding):
    if padding == _SAME:
        (pt, pb), (pl, pr) = _same_pads(H, kh, sh, dh), _same_pads(W, kw, sw, dw)
    else:
        pt = pb = pl = pr = 0
    return dict(stride_h=sh, stride_w=sw, pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr)


TFLM_CONVS = [  # (depthwise M or 0, N, H, W, C, F or None, KH, KW, stride, dilation, padding, activation)
    (0, 1, 8, 8, 4, 6, 3, 3, 1, 1, _SAME, _NONE),
    (0, 1, 8, 8, 3, 5, 3, 3, 2, 1, _SAME, _RELU),       # asymmetric: top 0, bottom 1
    (0, 2, 9, 7, 2, 3, 3, 2, 1, 2, _VALID, _RELU6),
    (0, 1, 5, 6, 8, 4, 1, 1, 1, 1, _VALID, _NONE),
    (2, 1, 6, 6, 3, None, 3, 3, 1, 1, _SAME, _NONE),
    (1, 1, 8, 7, 4, None, 3, 3, 2, 1, _SAME, _RELU),
    (3, 1, 9, 9, 2, None, 3, 3, 1, 2, _SAME, _RELU6),
]


@pytest.mark.parametrize("case", TFLM_CONVS, ids=[f"{'dw' if c[0] else 'conv'}-{i}" for i, c in enumerate(TFLM_CONVS)])
def test_conv_equals_tflite_micro(case):
    mdw, n, h, w, c, f, kh, kw, stride, dil, padding, act = case
    rng = np.random.default_rng(sum(v or 0 for v in case))
    n_out = c * mdw if mdw else f
    si, so, xzp, ozp = 0.031, 0.21 if mdw else 0.47, int(rng.integers(-20, 20)), int(rng.integers(-10, 10))
    sw = rng.uniform(0.004, 0.02, n_out).astype(np.float32)
    x = _i8(rng, (n, h, w, c))
    wt = _i8(rng, (1, kh, kw, n_out) if mdw else (n_out, kh, kw, c))
    wt.reshape(-1)[:2] = [-127, 127]
    bias = rng.integers(-3000, 3000, n_out, dtype=np.int64).astype(np.int32)
    oh_ow = _window_attrs(h, w, kh, kw, stride, stride, dil, dil, padding)
    qmin, qmax = _act_range(act, so, ozp)
    attrs = dict(N=n, H=h, W=w, C=c, KH=kh, KW=kw, dilation_h=dil, dilation_w=dil, x_zero_point=xzp,
                 out_zero_point=ozp, qmin=qmin, qmax=qmax, **oh_ow)
    attrs.update(depth_multiplier=mdw) if mdw else attrs.update(F=f)
    wl = ops.get("qdepthwise_conv2d_nhwc" if mdw else "qconv2d_nhwc")(**attrs)
    mult = np.zeros(n_out, np.int32)
    shift = np.zeros(n_out, np.int32)
    for i in range(n_out):
        mult[i], shift[i] = quantize_multiplier(_f32(si) * float(sw[i]) / _f32(so))
    tensors = [dict(shape=x.shape, dtype=_INT8, scale=[si], zp=[xzp]),
               dict(shape=wt.shape, dtype=_INT8, scale=sw, zp=[0] * n_out, qdim=3 if mdw else 0, data=wt),
               dict(shape=(n_out,), dtype=_INT32, scale=np.float32(si) * sw, zp=[0] * n_out, data=bias),
               dict(shape=wl.output.shape, dtype=_INT8, scale=[so], zp=[ozp])]
    opts = dict(Padding=padding, StrideW=stride, StrideH=stride, FusedActivationFunction=act, DilationWFactor=dil,
                DilationHFactor=dil)
    if mdw:
        opts["DepthMultiplier"] = mdw
    want = _tflm(4 if mdw else 3, "DepthwiseConv2DOptions" if mdw else "Conv2DOptions", opts, tensors, [0, 1, 2],
                 [3], [x])
    ins = [x, wt, bias, mult, shift]
    got = wl.ref(*ins)
    assert len(np.unique(want)) > 10
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(_host(wl, ins), want)
    # the input offset folded into the bias (padding filled with the zero point) is the same operator
    folded = ops.get(wl.op.name)(**attrs, fold_x_zero_point=True)
    ins[2] = folded_bias(wt, bias, xzp, depthwise=bool(mdw))
    np.testing.assert_array_equal(folded.ref(*ins), want)
    np.testing.assert_array_equal(_host(folded, ins), want)


TFLM_POOLS = [  # (H, W, C, filter, stride, padding, activation)
    (6, 6, 4, 2, 2, _VALID, _NONE), (5, 5, 3, 3, 1, _SAME, _NONE), (7, 7, 2, 3, 2, _SAME, _RELU),
    (6, 8, 3, 3, 2, _SAME, _RELU6), (4, 4, 5, 4, 1, _VALID, _NONE),
]


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("case", TFLM_POOLS, ids=[f"pool-{i}" for i in range(len(TFLM_POOLS))])
def test_pool_equals_tflite_micro(kind, case):
    h, w, c, k, stride, padding, act = case
    rng = np.random.default_rng(h * w + k)
    scale, zp = 0.05, -7
    x = _i8(rng, (1, h, w, c))
    qmin, qmax = _act_range(act, scale, zp)
    wl = ops.get(f"q{kind}_pool2d_nhwc")(N=1, H=h, W=w, C=c, filter_h=k, filter_w=k, qmin=qmin, qmax=qmax,
                                         **_window_attrs(h, w, k, k, stride, stride, 1, 1, padding))
    tensors = [dict(shape=x.shape, dtype=_INT8, scale=[scale], zp=[zp]),
               dict(shape=wl.output.shape, dtype=_INT8, scale=[scale], zp=[zp])]
    opts = dict(Padding=padding, StrideW=stride, StrideH=stride, FilterWidth=k, FilterHeight=k,
                FusedActivationFunction=act)
    want = _tflm(1 if kind == "avg" else 17, "Pool2DOptions", opts, tensors, [0], [1], [x])
    assert want.shape == wl.output.shape and len(np.unique(want)) >= min(4, want.size)
    np.testing.assert_array_equal(wl.ref(x), want)
    np.testing.assert_array_equal(_host(wl, [x]), want)


@pytest.mark.parametrize("scales,zps,act", [((0.05, 0.02, 0.06), (-5, 17, -9), _NONE),
                                            ((0.0039, 0.11, 0.12), (-128, 3, -128), _RELU),
                                            ((0.1, 0.1, 0.05), (100, -100, 0), _RELU6),
                                            ((0.5, 0.25, 0.5), (0, 0, 2), _NONE)])
def test_add_equals_tflite_micro(scales, zps, act):
    rng = np.random.default_rng(int(scales[0] * 1000))
    shape = (1, 5, 6, 3)
    a, b = _i8(rng, shape), _i8(rng, shape)
    qmin, qmax = _act_range(act, scales[2], zps[2])
    wl = ops.get("qadd")(shape=shape, a_zero_point=zps[0], b_zero_point=zps[1], out_zero_point=zps[2], qmin=qmin,
                         qmax=qmax, **qadd_params(*scales))
    tensors = [dict(shape=shape, dtype=_INT8, scale=[s], zp=[z]) for s, z in zip(scales, zps)]
    want = _tflm(0, "AddOptions", dict(FusedActivationFunction=act), tensors, [0, 1], [2], [a, b])
    assert len(np.unique(want)) > 10
    np.testing.assert_array_equal(wl.ref(a, b), want)
    np.testing.assert_array_equal(_host(wl, [a, b]), want)


# --- on the simulated VexRiscv (rv32 cross compiler, the SoC's RTL) ------------------------------

SOC = [CONVS[0], CONVS[4], ("qavg_pool2d_nhwc", POOLS[1]), ("qavg_pool2d_nhwc", POOLS[3]),
       ("qmax_pool2d_nhwc", POOLS[2]), ("qadd", ADDS[1])]


@pytest.mark.parametrize("name,attrs", SOC, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SOC)])
def test_default_schedule_on_the_simulated_vexriscv(name, attrs):
    """The freestanding rv32 kernels (the q_multiply_shift helper's 64-bit product, the average's
    division by a per-window count) equal the reference; cycle counts are deterministic."""
    import simulator

    wl = ops.get(name)(**attrs)
    rng = np.random.default_rng(5)
    if name.startswith(("qconv", "qdepthwise")):
        ins = _conv_data(name, attrs, rng)
    else:
        ins = [_i8(rng, t.shape) for t in wl.inputs]
    func = tir.lower(schedules.create_schedule(wl.output), wl.args)
    runs = []
    for _ in range(2):
        out = np.full(wl.output.shape, 0x5A, np.int8)
        runs.append(simulator.run(func, ins + [out], "vexriscv").cycles)
        np.testing.assert_array_equal(out, wl.ref(*ins))
    assert runs[0] == runs[1] > 0
