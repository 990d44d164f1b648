"""Post-training quantization (frontend.quantize) and the TFLite writer (frontend.tflite_write).

The reference is ai-edge-quantizer's static int8 recipe calibrated with global min/max over the same
samples, and TFLM's interpreter running the models.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from frontend.errors import FrontendError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, Value
from frontend.quantize import (
    Accumulation,
    _fma32,
    activation_params,
    evaluate_float,
    quantize,
    weight_params,
)
from frontend.tflite import from_tflite
from frontend.tflite_write import TFLITE_OPERATOR, to_tflite
from frontend.zoo import sine_float_path

SINE_CALIBRATION = np.linspace(0, 2 * np.pi, 500, dtype=np.float32)


@pytest.fixture(scope="module")
def aeq_sine_int8() -> bytes:
    """ai-edge-quantizer's int8 sine model: static_wi8_ai8, calibrated with global min/max (not its default
    moving average) over 500 points of [0, 2pi]."""
    return _aeq_quantize(sine_float_path(), [{"dense_input": np.array([[x]], np.float32)} for x in SINE_CALIBRATION])


@pytest.fixture(scope="module")
def sine_float() -> Graph:
    return from_tflite(sine_float_path())


@pytest.fixture(scope="module")
def sine_int8(sine_float) -> Graph:
    return quantize(sine_float, [np.array([[x]], np.float32) for x in SINE_CALIBRATION])


def _scales32(q: QuantParams | None):
    return None if q is None else (np.asarray(q.scale, np.float32).tobytes(), q.zero_point, q.axis)


def _assert_same_value(mv: Value, rv: Value, name: str) -> None:
    """Same dtype, shape, quantization (scales as float32) and constant data (bit for bit)."""
    assert (mv.dtype, mv.shape) == (rv.dtype, rv.shape), name
    assert _scales32(mv.quant) == _scales32(rv.quant), name
    assert (mv.data is None) == (rv.data is None), name
    if rv.data is not None:
        assert mv.data.dtype == rv.data.dtype and np.array_equal(mv.data, rv.data), name


def test_sine_matches_ai_edge_quantizer_bit_for_bit(sine_int8, aeq_sine_int8):
    ref = from_tflite(aeq_sine_int8)
    assert set(ref.values) == set(sine_int8.values)
    assert sine_int8.inputs == ref.inputs and sine_int8.outputs == ref.outputs
    for name, rv in ref.values.items():
        _assert_same_value(sine_int8.values[name], rv, name)
    assert [(n.op, n.inputs, n.outputs, n.attrs) for n in sine_int8.nodes] == \
        [(n.op, n.inputs, n.outputs, n.attrs) for n in ref.nodes]
    # the input is int8 and keeps the float input's parameters: [0, 2pi] -> zero point -128
    x = sine_int8.values[sine_int8.inputs[0]]
    assert x.dtype == "int8" and x.quant.zero_point == (-128,)
    assert np.float32(x.quant.scale[0]) == np.float32(np.float32(2 * np.pi) / np.float32(255))


def test_calibration_accepts_one_array_of_samples(sine_float, sine_int8):
    # an ndarray's leading axis enumerates samples; each is reshaped to the input's shape
    q = quantize(sine_float, SINE_CALIBRATION)
    for name, v in sine_int8.values.items():
        assert q.values[name].quant == v.quant
        assert (v.data is None) == (q.values[name].data is None)
        if v.data is not None:
            assert np.array_equal(q.values[name].data, v.data)


def test_per_tensor_weights(sine_float):
    q = quantize(sine_float, SINE_CALIBRATION[::10], per_channel=False)
    w = q.values["sequential/dense_1/MatMul"]
    assert w.quant.axis is None and len(w.quant.scale) == 1 and w.quant.zero_point == (0,)
    assert int(np.abs(w.data).max()) == 127 and int(w.data.min()) >= -127
    b = q.values["sequential/dense_1/BiasAdd/ReadVariableOp"]
    xs = q.values["sequential/dense/MatMul;sequential/dense/Relu;sequential/dense/BiasAdd"].quant.scale[0]
    assert np.float32(b.quant.scale[0]) == np.float32(xs) * np.float32(w.quant.scale[0])


def test_float_evaluator_against_float64_sine(sine_float):
    xs = np.linspace(0, 2 * np.pi, 64, dtype=np.float32)
    v = sine_float.values
    for x in xs:
        (y,) = evaluate_float(sine_float, np.array([[x]], np.float32))
        h = np.array([x], np.float64)
        for i, (w, b) in enumerate([("sequential/dense/MatMul", "sequential/dense/BiasAdd/ReadVariableOp"),
                                    ("sequential/dense_1/MatMul", "sequential/dense_1/BiasAdd/ReadVariableOp"),
                                    ("sequential/dense_2/MatMul", "sequential/dense_2/BiasAdd/ReadVariableOp")]):
            h = v[w].data.astype(np.float64) @ h + v[b].data
            if i < 2:
                h = np.maximum(h, 0)
        assert y.dtype == np.float32 and y.shape == (1, 1)
        assert abs(float(y[0, 0]) - h[0]) < 1e-5
    # the accumulation orders agree to float32 rounding
    for x in xs[:8]:
        a = evaluate_float(sine_float, np.array([[x]], np.float32))[0]
        for mode in (Accumulation.REFERENCE, Accumulation.BIAS_FIRST):
            r = evaluate_float(sine_float, np.array([[x]], np.float32), accumulation=mode)[0]
            assert abs(float(a[0, 0]) - float(r[0, 0])) < 1e-5


def test_fma32_rounds_once():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(2000).astype(np.float32)
    b = rng.standard_normal(2000).astype(np.float32)
    c = rng.standard_normal(2000).astype(np.float32)
    # a*b = 2^-24 - 2^-70: the float64 sum with c = 1 + 2^-23 lands exactly on a float32 midpoint, where
    # rounding twice (to even) would go up; rounding once goes down
    u, d = 2.0**-12 * (1 + 2.0**-23), 2.0**-12 * (1 - 2.0**-23)
    a = np.concatenate([a, np.float32([u, -u, u, u])])
    b = np.concatenate([b, np.float32([d, d, d, 1.0])])
    c = np.concatenate([c, np.float32([1 + 2.0**-23, -(1 + 2.0**-23), 1.0, 1.0])])
    double_rounded = (a.astype(np.float64) * b + c).astype(np.float32)
    assert np.any(double_rounded != _fma32(a, b, c))  # the test does exercise the tie fix
    got = _fma32(a, b, c)
    for ai, bi, ci, g in zip(a, b, c, got):
        exact = Fraction(float(ai)) * Fraction(float(bi)) + Fraction(float(ci))
        lo = np.float32(float(exact))
        cands = [lo, np.nextafter(lo, np.float32(np.inf)), np.nextafter(lo, np.float32(-np.inf))]
        best = min(cands, key=lambda v: (abs(Fraction(float(v)) - exact), int(np.float32(v).view(np.uint32)) & 1))
        assert g == best, (ai, bi, ci)


def test_activation_and_weight_params_match_ai_edge_quantizer_formulas():
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer.algorithms.uniform_quantize.uniform_quantize_tensor import tensor_zp_scale_from_min_max

    rng = np.random.default_rng(2)
    ranges = [(0.0, 6.0), (0.5, 2.0), (-1.0, -0.5), (-1.0, 1.0), (0.0, 0.0), (-3.0, 0.0)]
    ranges += [tuple(sorted(rng.standard_normal(2) * 10.0 ** rng.integers(-4, 3))) for _ in range(300)]
    for lo, hi in ranges:
        lo32, hi32 = np.float32(lo).reshape(1, 1), np.float32(hi).reshape(1, 1)
        zp, scale = tensor_zp_scale_from_min_max(lo32, hi32, 8, False, qtyping.QuantGranularity.TENSORWISE)
        q = activation_params(lo32[0, 0], hi32[0, 0])
        assert q.zero_point == (int(zp[0, 0]),) and np.float32(q.scale[0]) == scale[0, 0], (lo, hi)
        assert -128 <= q.zero_point[0] <= 127
    assert activation_params(0.5, 2.0).zero_point == (-128,)  # the range is widened to include 0
    assert activation_params(-1.0, -0.5).zero_point == (127,)
    for shape, axis in [((5, 7), 0), ((4, 3, 3, 2), 0), ((1, 3, 3, 6), 3), ((6, 2), None)]:
        w = (rng.standard_normal(shape) * 0.3).astype(np.float32)
        w[0] = 0  # an all-zero channel gets the 1e-9 floor, not a zero scale
        red = tuple(d for d in range(w.ndim) if d != axis) if axis is not None else None
        gran = qtyping.QuantGranularity.CHANNELWISE if axis is not None else qtyping.QuantGranularity.TENSORWISE
        zp, scale = tensor_zp_scale_from_min_max(np.min(w, axis=red, keepdims=True),
                                                 np.max(w, axis=red, keepdims=True), 8, True, gran)
        q = weight_params(w, axis)
        assert np.asarray(q.scale, np.float32).tobytes() == scale.astype(np.float32).ravel().tobytes()
        assert q.zero_point == (0,) * scale.size and q.axis == (axis if scale.size > 1 else None)


def test_saturating_bias_does_not_wrap():
    from frontend.quantize import quantize_bias

    b = np.array([1.0, -1.0, 1e-3], np.float32)
    q, qp = quantize_bias(b, 1e-6, QuantParams((1e-6,), (0,), None))  # 1 / 1e-12 is far beyond int32
    s32 = np.float32(1e-6) * np.float32(1e-6)
    assert q.dtype == np.int32 and q.tolist() == [2**31 - 1, -(2**31 - 1), int(np.rint(np.float32(1e-3) / s32))]
    assert qp.zero_point == (0,) and np.float32(qp.scale[0]) == np.float32(1e-6) * np.float32(1e-6)


def _tiny_graph(op: str = "fully_connected") -> Graph:
    vals = {
        "x": Value("x", (1, 4), "float32"),
        "w": Value("w", (3, 4), "float32", data=np.arange(12, dtype=np.float32).reshape(3, 4) / 10 - 0.5),
        "b": Value("b", (3,), "float32", data=np.array([0.1, -0.2, 0.3], np.float32)),
        "y": Value("y", (1, 3), "float32"),
    }
    node = Node(op, ("x", "w", "b"), ("y",), {"activation": "none"}, 0, f"TFLite operator 0 ({op.upper()})")
    return Graph("tiny", vals, [node], ["x"], ["y"])


def test_unsupported_operator_names_the_node():
    g = _tiny_graph("batch_matmul")
    with pytest.raises(UnsupportedOperatorError, match=r"TFLite operator 0 \(BATCH_MATMUL\).*batch_matmul"):
        quantize(g, [np.zeros((1, 4), np.float32)])
    g = _tiny_graph("quantize")
    with pytest.raises(UnsupportedOperatorError, match="QUANTIZE"):
        quantize(g, [np.zeros((1, 4), np.float32)])


def test_empty_calibration_raises():
    g = _tiny_graph()
    with pytest.raises(FrontendError, match="empty calibration"):
        quantize(g, [])
    with pytest.raises(FrontendError, match="empty calibration"):
        quantize(g, iter(()))
    with pytest.raises(FrontendError, match="inputs"):
        quantize(g, [(np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32))])


def test_quantizing_an_int8_graph_raises(sine_int8):
    with pytest.raises(FrontendError, match="needs a float32 graph"):
        quantize(sine_int8, SINE_CALIBRATION)


def test_quantized_tiny_graph_dequantizes_close_to_float():
    g = _tiny_graph()
    rng = np.random.default_rng(0)
    cal = rng.uniform(-1, 1, (50, 1, 4)).astype(np.float32)
    q = quantize(g, cal)
    w, b = q.values["w"], q.values["b"]
    wf = (w.data.astype(np.float64)) * np.asarray(w.quant.scale)[:, None]
    assert np.max(np.abs(wf - g.values["w"].data)) <= max(w.quant.scale) / 2 + 1e-9
    bf = b.data * np.asarray(b.quant.scale)
    assert np.max(np.abs(bf - g.values["b"].data)) <= max(b.quant.scale) / 2 + 1e-9
    y = q.values["y"].quant
    lo = min(float(evaluate_float(g, c)[0].min()) for c in cal)
    hi = max(float(evaluate_float(g, c)[0].max()) for c in cal)
    # the range [lo, hi] (widened to 0) maps onto [-128, 127]
    assert abs((-128 - y.zero_point[0]) * y.scale[0] - min(lo, 0)) <= y.scale[0]
    assert abs((127 - y.zero_point[0]) * y.scale[0] - max(hi, 0)) <= y.scale[0]


# --------------------------------------------------------------------------------------------------
# to_tflite: TFLM runs what it writes; from_tflite reads it back unchanged
# --------------------------------------------------------------------------------------------------

def _tflm(buf: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(buf))


def _run(interp, x: np.ndarray) -> np.ndarray:
    interp.set_input(x, 0)
    interp.invoke()
    return interp.get_output(0).copy()


def _quantize_input(x: np.ndarray, q: QuantParams) -> np.ndarray:
    return np.clip(np.rint(x / np.float32(q.scale[0])) + q.zero_point[0], -128, 127).astype(np.int8)


def test_written_int8_sine_runs_in_tflm_like_ai_edge_quantizer(sine_int8, aeq_sine_int8, sine_float):
    mine, ref = _tflm(to_tflite(sine_int8)), _tflm(aeq_sine_int8)
    xq, yq = sine_int8.values[sine_int8.inputs[0]].quant, sine_int8.values[sine_int8.outputs[0]].quant
    ys, errs = [], []
    for x in np.linspace(0, 2 * np.pi, 64, dtype=np.float32):
        xi = _quantize_input(np.array([[x]], np.float32), xq)
        a, r = _run(mine, xi), _run(ref, xi)
        assert a.dtype == np.int8 and a.shape == (1, 1)
        assert a[0, 0] == r[0, 0], x
        # and the int8 model tracks the float one at the dequantized input
        xd = np.float32((int(xi[0, 0]) - xq.zero_point[0]) * xq.scale[0])
        (yf,) = evaluate_float(sine_float, np.array([[xd]], np.float32))
        errs.append(abs((int(a[0, 0]) - yq.zero_point[0]) * yq.scale[0] - float(yf[0, 0])))
        ys.append(int(a[0, 0]))
    assert len(set(ys)) > 32  # the outputs do vary over the period
    for xi in range(-128, 128):  # and every int8 input
        x = np.array([[xi]], np.int8)
        assert _run(mine, x)[0, 0] == _run(ref, x)[0, 0], xi
    # the hidden activations' steps (0.015, 0.011) pass through 16-wide layers: up to ~6% of the amplitude
    assert max(errs) < 0.1 and np.mean(errs) < 0.03


def test_written_float_sine_runs_in_tflm(sine_float):
    interp = _tflm(to_tflite(sine_float))
    for x in np.linspace(0, 2 * np.pi, 16, dtype=np.float32):
        y = _run(interp, np.array([[x]], np.float32))
        (yr,) = evaluate_float(sine_float, np.array([[x]], np.float32), accumulation=Accumulation.REFERENCE)
        assert y.dtype == np.float32 and abs(float(y[0, 0]) - float(yr[0, 0])) <= 1e-6


def _assert_same_graph(a: Graph, b: Graph) -> None:
    assert list(a.values) == list(b.values)
    for name, va in a.values.items():
        _assert_same_value(va, b.values[name], name)
    assert [(n.op, n.inputs, n.outputs, n.attrs, n.index, n.origin) for n in a.nodes] == \
        [(n.op, n.inputs, n.outputs, n.attrs, n.index, n.origin) for n in b.nodes]
    assert (a.inputs, a.outputs) == (b.inputs, b.outputs)


def test_round_trip_through_from_tflite(sine_float, sine_int8):
    for g in (sine_float, sine_int8):
        buf = to_tflite(g)
        assert isinstance(buf, bytes) and buf[4:8] == b"TFL3"
        _assert_same_graph(g, from_tflite(buf))
    # the original file and its rewrite read the same
    _assert_same_graph(sine_float, from_tflite(to_tflite(from_tflite(sine_float_path()))))


def test_fully_connected_without_bias_and_relu6():
    g = _tiny_graph()
    g.nodes[0].inputs = ("x", "w", "")
    g.nodes[0].attrs["activation"] = "relu6"
    del g.values["b"]
    cal = np.random.default_rng(3).uniform(-4, 4, (30, 1, 4)).astype(np.float32)
    q = quantize(g, cal)
    assert q.values["y"].quant.zero_point == (-128,)  # relu6: the range starts at 0
    for graph in (g, q):
        buf = to_tflite(graph)
        _assert_same_graph(graph, from_tflite(buf))
        interp = _tflm(buf)
        for x in cal[:5]:
            if graph is g:
                ref = evaluate_float(g, x, accumulation=Accumulation.REFERENCE)[0]
                assert np.max(np.abs(_run(interp, x) - ref)) < 1e-6
            else:
                xi = _quantize_input(x, q.values["x"].quant)
                y = _run(interp, xi)
                yq = q.values["y"].quant
                yf = evaluate_float(g, x)[0]
                assert np.max(np.abs((y.astype(np.float64) - yq.zero_point[0]) * yq.scale[0] - yf)) < 0.1


def test_writer_rejects_what_tflite_cannot_express():
    g = _tiny_graph("batch_matmul")
    with pytest.raises(UnsupportedOperatorError, match=r"TFLite operator 0 \(BATCH_MATMUL\)"):
        to_tflite(g)
    vals = {"x": Value("x", (1, 5, 5, 1), "float32"), "y": Value("y", (1, 2, 2, 1), "float32")}
    node = Node("max_pool2d", ("x",), ("y",), {"filter": (2, 2), "stride": (2, 2), "padding": (1, 0, 0, 0),
                                               "activation": "none"}, 0, "pool")
    with pytest.raises(UnsupportedOperatorError, match=r"pool.*padding \(1, 0, 0, 0\)"):
        to_tflite(Graph("p", vals, [node], ["x"], ["y"]))


# --------------------------------------------------------------------------------------------------
# a small CNN: conv2d (SAME, relu), depthwise_conv2d (VALID, multiplier 2, relu6), add, max/avg pool,
# reshape, fully_connected, softmax -- written by to_tflite, quantized by both quantizers
# --------------------------------------------------------------------------------------------------

def _cnn_graph() -> Graph:
    rng = np.random.default_rng(7)

    def weights(*shape, gain=0.4):
        return (rng.standard_normal(shape) * gain).astype(np.float32)

    vals = {}
    for name, shape in [("x", (1, 8, 8, 2)), ("c1", (1, 8, 8, 4)), ("dw", (1, 6, 6, 8)), ("c2", (1, 6, 6, 8)),
                        ("sum", (1, 6, 6, 8)), ("mp", (1, 3, 3, 8)), ("ap", (1, 3, 3, 8)), ("flat", (1, 72)),
                        ("logits", (1, 5)), ("prob", (1, 5))]:
        vals[name] = Value(name, shape, "float32")
    for name, data in [("c1w", weights(4, 3, 3, 2)), ("c1b", weights(4)), ("dww", weights(1, 3, 3, 8)),
                       ("dwb", weights(8)), ("c2w", weights(8, 3, 3, 4)), ("c2b", weights(8)),
                       ("fcw", weights(5, 72, gain=0.12)), ("fcb", weights(5))]:
        vals[name] = Value(name, data.shape, "float32", None, data)

    def conv(pad, act):
        return {"stride": (1, 1), "dilation": (1, 1), "padding": pad, "activation": act}

    def pool(k, s, pad):
        return {"filter": (k, k), "stride": (s, s), "padding": pad, "activation": "none"}

    nodes = [
        Node("conv2d", ("x", "c1w", "c1b"), ("c1",), conv((1, 1, 1, 1), "relu")),
        Node("depthwise_conv2d", ("c1", "dww", "dwb"), ("dw",), {**conv((0, 0, 0, 0), "relu6"), "depth_multiplier": 2}),
        Node("conv2d", ("c1", "c2w", "c2b"), ("c2",), conv((0, 0, 0, 0), "none")),
        Node("add", ("dw", "c2"), ("sum",), {"activation": "none"}),
        Node("max_pool2d", ("sum",), ("mp",), pool(2, 2, (0, 0, 0, 0))),
        Node("avg_pool2d", ("mp",), ("ap",), pool(3, 1, (1, 1, 1, 1))),
        Node("reshape", ("ap",), ("flat",), {"shape": (1, 72)}),
        Node("fully_connected", ("flat", "fcw", "fcb"), ("logits",), {"activation": "none"}),
        Node("softmax", ("logits",), ("prob",), {"beta": 1.0}),
    ]
    for i, n in enumerate(nodes):
        n.index, n.origin = i, f"TFLite operator {i} ({TFLITE_OPERATOR[n.op]})"
    return Graph("cnn", vals, nodes, ["x"], ["prob"])


CNN_CALIBRATION = np.random.default_rng(0).uniform(-1, 1, (40, 1, 8, 8, 2)).astype(np.float32)


def _aeq_quantize(path: Path, samples: list[dict], per_channel: bool = True) -> bytes:
    """ai-edge-quantizer's static int8 model of a float .tflite, calibrated with global min/max."""
    from ai_edge_quantizer import calibrator, quantizer, recipe
    from ai_edge_quantizer.utils import qsv_utils

    q = quantizer.Quantizer(str(path))
    rec = recipe.static_wi8_ai8()
    if not per_channel:
        for entry in rec:
            entry["op_config"]["weight_tensor_config"]["granularity"] = "TENSORWISE"
    q.load_quantization_recipe(rec)
    cal = calibrator.Calibrator(q._float_model_buffer, num_threads=1, qsv_update_func=qsv_utils.min_max_update)
    cal.calibrate({"serving_default": samples}, q._recipe_manager)
    return bytes(q.quantize(cal.get_model_qsvs()).quantized_model)


@pytest.fixture(scope="module")
def cnn_models(tmp_path_factory):
    """{per_channel: (float graph, my int8 graph, ai-edge-quantizer's int8 model bytes)} for the CNN."""
    g = _cnn_graph()
    path = tmp_path_factory.mktemp("cnn") / "cnn_float.tflite"
    path.write_bytes(to_tflite(g))
    samples = [{"x": x} for x in CNN_CALIBRATION]
    return {pc: (g, quantize(g, CNN_CALIBRATION, per_channel=pc), _aeq_quantize(path, samples, pc))
            for pc in (True, False)}


@pytest.mark.parametrize("per_channel", [True, False])
def test_cnn_matches_ai_edge_quantizer_bit_for_bit(cnn_models, per_channel):
    g, mine, aeq = cnn_models[per_channel]
    ref = from_tflite(aeq)
    assert [n.op for n in ref.nodes] == [n.op for n in g.nodes]
    for name, rv in ref.values.items():
        _assert_same_value(mine.values[name], rv, name)
    v = mine.values
    assert v["mp"].quant == v["sum"].quant and v["ap"].quant == v["mp"].quant and v["flat"].quant == v["ap"].quant
    assert v["prob"].quant == QuantParams((1 / 256,), (-128,), None)
    if per_channel:
        assert v["dww"].quant.axis == 3 and len(v["dww"].quant.scale) == 8
        assert v["c1w"].quant.axis == 0 and len(v["c1w"].quant.scale) == 4
    else:
        assert all(v[w].quant.axis is None and len(v[w].quant.scale) == 1 for w in ("c1w", "dww", "c2w", "fcw"))


@pytest.mark.parametrize("per_channel", [True, False])
def test_cnn_in_tflm(cnn_models, per_channel):
    g, mine, aeq = cnn_models[per_channel]
    f, m, r = _tflm(to_tflite(g)), _tflm(to_tflite(mine)), _tflm(aeq)
    xq = mine.values["x"].quant
    rng = np.random.default_rng(5)
    for _ in range(8):
        x = rng.uniform(-1, 1, (1, 8, 8, 2)).astype(np.float32)
        yf = _run(f, x)
        (yr,) = evaluate_float(g, x, accumulation=Accumulation.REFERENCE)
        assert np.max(np.abs(yf - yr)) < 1e-6
        xi = _quantize_input(x, xq)
        ym, ya = _run(m, xi), _run(r, xi)
        assert ym.dtype == np.int8 and np.array_equal(ym, ya)
        # probabilities in steps of 1/256
        assert np.max(np.abs((ym.astype(np.int32) + 128) / 256 - yf)) < 0.05


def test_cnn_round_trip(cnn_models):
    g, mine, _ = cnn_models[True]
    for graph in (g, mine, cnn_models[False][1]):
        _assert_same_graph(graph, from_tflite(to_tflite(graph)))
