"""frontend.onnx_import: int8 ONNX models (onnxruntime's QDQ and QOperator forms) -> canonical Graph.

Every model is built here (sklearn + skl2onnx, or onnx.helper) and quantized with onnxruntime's
quantize_static; the imported graph is checked against the ONNX initializers and, through
Graph.evaluate (TFLite fixed-point arithmetic), against onnxruntime's own run of the quantized model
(off by at most one output step: onnxruntime requantizes in float, TFLite in fixed point).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort  # noqa: F401 (onnxruntime is a dependency of the tests)
import pytest
from onnx import TensorProto
from onnx import helper as oh
from onnx import numpy_helper as nh
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from frontend import ModelFormatError, QuantParams, UnsupportedOperatorError, from_onnx


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, samples: list[np.ndarray]):
        self._it = iter([{name: s} for s in samples])

    def get_next(self):
        return next(self._it, None)


def _quantize(src, dst, name, samples, fmt, per_channel=True, **extra):
    quantize_static(str(src), str(dst), _Reader(name, samples), quant_format=fmt, per_channel=per_channel,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, extra_options=extra)
    return onnx.load(str(dst))


def _inits(model) -> dict[str, np.ndarray]:
    return {t.name: nh.to_array(t) for t in model.graph.initializer}


def _max_step_diff(graph, onnx_path, inputs, nchw=False) -> float:
    """Largest |Graph.evaluate - onnxruntime| over the inputs, in units of the output scale."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    deq = graph.nodes[-1]
    assert deq.op == "dequantize"
    step = graph.values[deq.inputs[0]].quant.scale[0]
    worst = 0.0
    for x in inputs:
        ref = sess.run(None, {in_name: x})[0]
        got = graph.evaluate(x.transpose(0, 2, 3, 1) if nchw else x)[0]
        if nchw and got.ndim == 4:  # the graph's 4-D output is NHWC too
            got = got.transpose(0, 3, 1, 2)
        assert got.shape == ref.shape
        worst = max(worst, float(np.abs(got - ref).max()) / step)
    return worst


def _max_node_step_diff(graph, model, inputs, nchw=False) -> dict[str, float]:
    """Each int8 node run alone (a one-node Graph) on onnxruntime's own int8 input tensors, compared
    with onnxruntime's int8 output: the largest difference per node, in output steps (quantized units).

    The canonical values carry the ONNX QuantizeLinear / QLinear output names, so onnxruntime is asked
    for them as extra graph outputs."""
    from frontend.graph import Graph

    m = onnx.ModelProto()
    m.CopyFrom(model)
    onnx_names = {t for n in m.graph.node for t in n.output} | {i.name for i in m.graph.input}
    # nodes between two ONNX tensors (not the halves of a pool + requantize pair)
    want = [n for n in graph.nodes if n.op not in ("dequantize", "reshape")
            and n.inputs[0] in onnx_names | {graph.inputs[0]} and n.outputs[0] in onnx_names]
    names = {t for t, v in graph.values.items() if v.dtype == "int8" and not v.is_constant and t in onnx_names}
    have = {o.name for o in m.graph.output}
    for t in sorted(names - have):
        m.graph.output.append(oh.make_tensor_value_info(t, TensorProto.INT8, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    producer = {n.outputs[0]: n for n in graph.nodes}
    worst: dict[str, float] = {}
    for x in inputs:
        got = dict(zip(outs, sess.run(None, {sess.get_inputs()[0].name: x})))

        def ours(t, x=x, got=got):  # onnxruntime's tensor t in the graph's layout
            p = producer.get(t)
            if p is not None and p.op == "reshape":
                return ours(p.inputs[0]).reshape(graph.values[t].shape)
            a = x if t == graph.inputs[0] else got[t]
            return a.transpose(0, 2, 3, 1) if nchw and a.ndim == 4 else a

        for n in want:
            sub = Graph("one", graph.values, [n], [n.inputs[0]], [n.outputs[0]])
            y = sub.evaluate(ours(n.inputs[0]))[0].astype(np.int64)
            d = float(np.abs(y - ours(n.outputs[0]).astype(np.int64)).max())
            worst[n.origin] = max(worst.get(n.origin, 0.0), d)
    return worst


# ---------------------------------------------------------------------------- xor MLP (sklearn)


@pytest.fixture(scope="module")
def xor_models(tmp_path_factory):
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    d = tmp_path_factory.mktemp("xor")
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0], [0, 255], [255, 0], [255, 255]], np.float64)
    raw = np.repeat(corners, 50, axis=0) + rng.normal(0, 8, (200, 2))
    x = (np.clip(raw, 0, 255) / 255).astype(np.float32)
    y = np.repeat([0, 1, 1, 0], 50)
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="relu", random_state=3, max_iter=3000).fit(x, y)
    assert clf.score(x, y) == 1.0
    m = to_onnx(clf, initial_types=[("x", FloatTensorType([None, 2]))],
                options={id(clf): {"zipmap": False}}, target_opset=13)
    onnx.save(m, d / "xor.onnx")
    # the binary head (Sigmoid, 1-p, Concat, ArgMax, label lookup) is not int8 material: keep the logit
    logit = [n for n in m.graph.node if n.op_type == "Sigmoid"][0].input[0]
    onnx.utils.extract_model(str(d / "xor.onnx"), str(d / "logit.onnx"), ["x"], [logit])
    # ORT's pre-processing fuses MatMul + Add into Gemm (int32 bias); per-channel Gemm needs the
    # weight-scale adjustment for the int32 bias turned off (it fails on a vector of scales)
    quant_pre_process(str(d / "logit.onnx"), str(d / "pre.onnx"))
    calib = [(corners[i % 4] / 255 + rng.normal(0, 0.03, 2)).astype(np.float32)[None] for i in range(100)]
    q = _quantize(d / "pre.onnx", d / "xor_qdq.onnx", "x", calib, QuantFormat.QDQ,
                  QDQDisableWeightAdjustForInt32Bias=True)
    # without the pre-processing: MatMul and Add stay apart (QLinearMatMul + QLinearAdd in QOperator)
    for fmt, name in ((QuantFormat.QDQ, "raw_qdq.onnx"), (QuantFormat.QOperator, "raw_qop.onnx")):
        _quantize(d / "logit.onnx", d / name, "x", calib, fmt)
    return clf, q, d / "xor_qdq.onnx", corners / 255


def test_xor_mlp_qdq_graph(xor_models):
    clf, q, path, _ = xor_models
    g = from_onnx(path)
    assert [n.op for n in g.nodes] == ["quantize", "fully_connected", "fully_connected", "dequantize"]
    inits = _inits(q)
    x_in = g.values[g.inputs[0]]
    assert (x_in.shape, x_in.dtype) == ((1, 2), "float32")
    qin = g.values[g.nodes[0].outputs[0]]
    qn = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"][0]
    assert qin.dtype == "int8"
    assert qin.quant.scale == (float(inits[qn.input[1]]),)
    assert qin.quant.zero_point == (int(inits[qn.input[2]]),)

    gemms = [n for n in q.graph.node if n.op_type == "Gemm"]
    dq = {n.output[0]: n for n in q.graph.node if n.op_type == "DequantizeLinear"}
    for node, gemm, (n_out, k) in zip(g.nodes[1:3], gemms, [(8, 2), (1, 8)]):
        w, b = g.values[node.inputs[1]], g.values[node.inputs[2]]
        wdq, bdq = dq[gemm.input[1]], dq[gemm.input[2]]
        w_onnx = inits[wdq.input[0]]
        assert gemm.attribute and oh.get_attribute_value([a for a in gemm.attribute if a.name == "transB"][0]) == 0
        assert (w.shape, w.dtype, b.shape, b.dtype) == ((n_out, k), "int8", (n_out,), "int32")
        np.testing.assert_array_equal(w.data, w_onnx.T)  # [K, N] -> [N, K]
        np.testing.assert_array_equal(b.data, inits[bdq.input[0]].reshape(-1))
        ws = inits[wdq.input[1]].reshape(-1)
        assert w.quant.scale == tuple(float(s) for s in ws) and set(w.quant.zero_point) == {0}
        assert w.quant.axis == (0 if len(ws) > 1 else None)
        x_scale = g.values[node.inputs[0]].quant.scale[0]
        np.testing.assert_allclose(b.quant.scale, x_scale * ws, rtol=1e-6)
        out = g.values[node.outputs[0]]
        assert out.shape == (1, n_out) and out.dtype == "int8"
        qo = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == gemm.output[0]][0]
        assert out.quant.scale == (float(inits[qo.input[1]]),)
        assert out.quant.zero_point == (int(inits[qo.input[2]]),)
        assert node.attrs["activation"] == "none"  # ORT drops the Relu: the output zero point -128 clamps
    assert len(g.values[g.nodes[1].inputs[1]].quant.scale) == 8  # per-channel over the hidden units
    assert g.outputs == [q.graph.output[0].name]
    assert g.values[g.outputs[0]].dtype == "float32"


def test_xor_mlp_evaluate_matches_onnxruntime_and_sklearn(xor_models):
    clf, _, path, corners = xor_models
    g = from_onnx(path.read_bytes())
    rng = np.random.default_rng(7)
    xs = [rng.uniform(0, 1, (1, 2)).astype(np.float32) for _ in range(60)]
    xs += [c.astype(np.float32)[None] for c in corners]
    per_node = _max_node_step_diff(g, onnx.load(str(path)), xs)
    assert len(per_node) == 3 and max(per_node.values()) <= 1, per_node
    worst = _max_step_diff(g, path, xs)
    assert worst <= 2.0 + 1e-6, worst
    logits = np.array([g.evaluate(c.astype(np.float32)[None])[0].item() for c in corners])
    np.testing.assert_array_equal((logits > 0).astype(int), clf.predict(corners.astype(np.float32)))


def test_xor_mlp_int8_io_compiles_and_matches_evaluate(xor_models):
    from frontend.compile import compile_graph, run_host

    _, _, path, _ = xor_models
    full = from_onnx(path)
    g = from_onnx(path, int8_io=True)
    assert [n.op for n in g.nodes] == ["fully_connected", "fully_connected"]
    assert g.inputs == [full.nodes[0].outputs[0]] and g.outputs == [full.nodes[-1].inputs[0]]
    assert g.values[g.inputs[0]].dtype == "int8" and g.values[g.inputs[0]].quant is not None
    cm = compile_graph(g)
    rng = np.random.default_rng(3)
    for _ in range(20):
        xq = rng.integers(-128, 128, (1, 2)).astype(np.int8)
        want = g.evaluate(xq)[0]
        np.testing.assert_array_equal(np.asarray(run_host(cm, xq)).reshape(want.shape), want)


@pytest.mark.parametrize("form", ["raw_qdq", "raw_qop"])
def test_xor_mlp_matmul_add_forms(xor_models, form):
    path = xor_models[2].parent / f"{form}.onnx"
    m = onnx.load(str(path))
    if form == "raw_qop":
        assert {n.op_type for n in m.graph.node} >= {"QLinearMatMul", "QLinearAdd", "Cast"}
    g = from_onnx(m)
    # the float Cast (float -> float) skl2onnx puts first is dropped; the bias Add stays an int8 add
    # of a constant [1, N] (onnxruntime quantizes it as an activation, int8 with its own scale)
    assert [n.op for n in g.nodes] == ["quantize", "fully_connected", "add", "fully_connected", "add",
                                       "dequantize"]
    assert g.nodes[0].inputs == ("x",)
    inits = _inits(m)
    fc, add = g.nodes[1], g.nodes[2]
    assert len(fc.inputs) == 2  # no bias
    w = g.values[fc.inputs[1]]
    np.testing.assert_array_equal(w.data, inits["coefficient_quantized"].T)
    assert w.quant.axis == 0 and w.quant.scale == tuple(float(s) for s in inits["coefficient_scale"])
    c = g.values[add.inputs[1]]
    assert c.is_constant and c.dtype == "int8" and c.shape == (1, 8)
    np.testing.assert_array_equal(c.data, inits["intercepts_quantized"])
    assert g.values[add.outputs[0]].shape == (1, 8)


def test_three_class_mlp_softmax(tmp_path):
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(5)
    centers = np.array([[0.2, 0.2], [0.8, 0.3], [0.5, 0.9]], np.float32)
    x = (np.repeat(centers, 40, axis=0) + rng.normal(0, 0.05, (120, 2))).astype(np.float32)
    y = np.repeat([0, 1, 2], 40)
    clf = MLPClassifier(hidden_layer_sizes=(6,), activation="relu", random_state=0, solver="lbfgs",
                        max_iter=2000).fit(x, y)
    m = to_onnx(clf, initial_types=[("x", FloatTensorType([None, 2]))],
                options={id(clf): {"zipmap": False}}, target_opset=13)
    onnx.save(m, tmp_path / "mlp.onnx")
    probs = [n for n in m.graph.node if n.op_type == "Softmax"][0].output[0]
    onnx.utils.extract_model(str(tmp_path / "mlp.onnx"), str(tmp_path / "p.onnx"), ["x"], [probs])
    quant_pre_process(str(tmp_path / "p.onnx"), str(tmp_path / "pre.onnx"))
    _quantize(tmp_path / "pre.onnx", tmp_path / "q.onnx", "x", [r[None] for r in x[::2]], QuantFormat.QDQ,
              per_channel=False)
    q = onnx.load(str(tmp_path / "q.onnx"))
    g = from_onnx(q)
    assert [n.op for n in g.nodes] == ["quantize", "fully_connected", "fully_connected", "softmax", "dequantize"]
    sm = g.nodes[3]
    assert sm.attrs == {"beta": 1.0}
    assert g.values[sm.outputs[0]].shape == (1, 3)
    qn = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.output[0] == sm.outputs[0]][0]
    inits = _inits(q)
    assert g.values[sm.outputs[0]].quant == QuantParams((float(inits[qn.input[1]]),), (int(inits[qn.input[2]]),))


# ---------------------------------------------------------------------------- small conv net


def _conv_net(path, rng):
    c, mult = 4, 2
    inits = [nh.from_array(rng.normal(0, 0.3, (c, 3, 3, 3)).astype(np.float32), "w1"),
             nh.from_array(rng.normal(0, 0.1, (c,)).astype(np.float32), "b1"),
             nh.from_array(rng.normal(0, 0.3, (c * mult, 1, 3, 3)).astype(np.float32), "w2"),
             nh.from_array(rng.normal(0, 0.1, (c * mult,)).astype(np.float32), "b2"),
             nh.from_array(rng.normal(0, 0.2, (5, c * mult * 4 * 4)).astype(np.float32), "w3"),
             nh.from_array(rng.normal(0, 0.1, (5,)).astype(np.float32), "b3")]
    nodes = [oh.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
             oh.make_node("Relu", ["c1"], ["r1"], name="relu"),
             oh.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=c,
                          name="depthwise"),
             oh.make_node("AveragePool", ["c2"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             oh.make_node("Flatten", ["p"], ["f"], axis=1, name="flatten"),
             oh.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="fc")]
    graph = oh.make_graph(nodes, "convnet", [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    m = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


@pytest.fixture(scope="module")
def conv_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("conv")
    rng = np.random.default_rng(1)
    _conv_net(d / "conv.onnx", rng)
    calib = [rng.uniform(0, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(40)]
    qdq = _quantize(d / "conv.onnx", d / "qdq.onnx", "x", calib, QuantFormat.QDQ)
    qop = _quantize(d / "conv.onnx", d / "qop.onnx", "x", calib, QuantFormat.QOperator)
    return d, qdq, qop


def _kinds(g) -> list[str]:
    # QLinearAveragePool may change the scale, which TFLite's pooling cannot: the importer then adds a
    # requantizing `quantize` (int8 -> int8) after the pool
    return [n.op for n in g.nodes if not (n.op == "quantize" and g.values[n.inputs[0]].dtype == "int8")]


def test_conv_net_qdq_and_qoperator_give_the_same_graph(conv_models):
    d, qdq, qop = conv_models
    assert {n.op_type for n in qop.graph.node} >= {"QLinearConv", "QGemm", "QLinearAveragePool"}
    g1, g2 = from_onnx(d / "qdq.onnx"), from_onnx(qop)
    want = ["quantize", "conv2d", "depthwise_conv2d", "avg_pool2d", "reshape", "fully_connected", "dequantize"]
    assert _kinds(g1) == want and _kinds(g2) == want
    inits = _inits(qdq)
    for g in (g1, g2):
        assert g.values[g.inputs[0]].shape == (1, 8, 8, 3)  # NHWC: the caller transposes
        conv, dw, pool, flat, fc = [n for n in g.nodes if n.op in want[1:6]]
        assert conv.attrs == {"stride": (1, 1), "dilation": (1, 1), "padding": (1, 1, 1, 1), "activation": "none"}
        assert dw.attrs["depth_multiplier"] == 2 and dw.attrs["padding"] == (1, 1, 1, 1)
        assert pool.attrs["filter"] == (2, 2) and pool.attrs["stride"] == (2, 2)
        assert g.values[conv.outputs[0]].shape == (1, 8, 8, 4)
        assert g.values[dw.outputs[0]].shape == (1, 8, 8, 8)
        assert g.values[pool.outputs[0]].shape == (1, 4, 4, 8)
        assert g.values[flat.outputs[0]].shape == (1, 128) and flat.attrs["shape"] == (1, 128)
        w1, w2, w3 = (g.values[n.inputs[1]] for n in (conv, dw, fc))
        np.testing.assert_array_equal(w1.data, inits["w1_quantized"].transpose(0, 2, 3, 1))  # OIHW -> OHWI
        np.testing.assert_array_equal(w2.data, inits["w2_quantized"].transpose(1, 2, 3, 0))  # -> [1,KH,KW,C*M]
        # Flatten of NCHW (c, h, w) vs the graph's NHWC (h, w, c): the columns are permuted offline
        perm = np.arange(128).reshape(8, 4, 4).transpose(1, 2, 0).reshape(-1)
        np.testing.assert_array_equal(w3.data, inits["w3_quantized"][:, perm])
        assert (w1.quant.axis, w2.quant.axis, w3.quant.axis) == (0, 3, 0)
        assert w2.quant.scale == tuple(float(s) for s in inits["w2_scale"])
        for n in (conv, dw, fc):
            b = g.values[n.inputs[2]]
            assert b.dtype == "int32" and b.shape == (g.values[n.outputs[0]].shape[-1],)
    for n1, n2 in zip([n for n in g1.nodes if n.op in want[1:6]], [n for n in g2.nodes if n.op in want[1:6]]):
        assert n1.attrs == n2.attrs
        if len(n1.inputs) > 1:
            np.testing.assert_array_equal(g1.values[n1.inputs[1]].data, g2.values[n2.inputs[1]].data)


def test_conv_net_qoperator_nodes_match_onnxruntime(conv_models):
    d, _, qop = conv_models
    g = from_onnx(qop)
    rng = np.random.default_rng(12)
    xs = [rng.uniform(0, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(10)]
    per_node = _max_node_step_diff(g, qop, xs, nchw=True)
    assert sorted(per_node) == sorted(["ONNX node 0 (QuantizeLinear 'x_QuantizeLinear')",
                                       "ONNX node 1 (QLinearConv 'conv_quant')",
                                       "ONNX node 2 (QLinearConv 'depthwise_quant')",
                                       "ONNX node 5 (QGemm 'fc_quant')"]), per_node
    assert max(per_node.values()) <= 1, per_node


def test_conv_net_qdq_evaluate_matches_onnxruntime(conv_models):
    d, _, _ = conv_models
    g = from_onnx(d / "qdq.onnx")
    rng = np.random.default_rng(11)
    xs = [rng.uniform(0, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(20)]
    per_node = _max_node_step_diff(g, onnx.load(str(d / "qdq.onnx")), xs, nchw=True)
    assert len(per_node) == 5 and max(per_node.values()) <= 1, per_node
    # end to end the off-by-ones of the early layers compound (measured: 3 output steps)
    worst = _max_step_diff(g, d / "qdq.onnx", xs, nchw=True)
    assert worst <= 4.0, worst


def test_conv_net_int8_io_compiles_and_matches_evaluate(conv_models):
    from frontend.compile import compile_graph, run_host

    d, _, _ = conv_models
    g = from_onnx(d / "qdq.onnx", int8_io=True)
    assert [n.op for n in g.nodes] == ["conv2d", "depthwise_conv2d", "avg_pool2d", "reshape", "fully_connected"]
    cm = compile_graph(g)
    rng = np.random.default_rng(3)
    for _ in range(4):
        xq = rng.integers(-128, 128, (1, 8, 8, 3)).astype(np.int8)  # NHWC
        want = g.evaluate(xq)[0]
        np.testing.assert_array_equal(np.asarray(run_host(cm, xq)).reshape(want.shape), want)


@pytest.mark.parametrize("fmt", [QuantFormat.QDQ, QuantFormat.QOperator], ids=["qdq", "qoperator"])
def test_uint8_activations_import_as_the_same_int8_graph(conv_models, tmp_path, fmt):
    """onnxruntime's U8 activations (its classic default) import as int8 tensors of the same real
    values: codes and zero points minus 128. Calibrated alike, the U8 model's graph equals the S8
    one's (scales equal, zero points 128 apart), so their outputs are equal bit for bit."""
    d, _, _ = conv_models
    rng = np.random.default_rng(1)
    calib = [rng.uniform(0, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(40)]
    s8 = from_onnx(_quantize(d / "conv.onnx", tmp_path / "s8.onnx", "x", calib, fmt))
    quantize_static(str(d / "conv.onnx"), str(tmp_path / "u8.onnx"), _Reader("x", calib), quant_format=fmt,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    u8_model = onnx.load(str(tmp_path / "u8.onnx"))
    assert any(nh.to_array(t).dtype == np.uint8 for t in u8_model.graph.initializer)
    u8 = from_onnx(u8_model)
    assert all(v.dtype != "uint8" for v in u8.values.values())
    assert [n.op for n in u8.nodes] == [n.op for n in s8.nodes]
    xs = [rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32) for _ in range(6)]
    for x in xs:
        np.testing.assert_array_equal(u8.evaluate(x)[0], s8.evaluate(x)[0])
    assert _max_step_diff(u8, tmp_path / "u8.onnx", [x.transpose(0, 3, 1, 2) for x in xs], nchw=True) <= 4.0


def test_uint8_graph_input_and_output_convert_at_the_boundary():
    """A graph whose own input and output are uint8 keeps them: exact requantizing ``quantize`` nodes
    convert to int8 and back (a max pool of uint8 codes is the max of the codes)."""
    from frontend.compile import run_host
    from frontend.graph import Graph, Node, Value, uint8_as_int8

    q = QuantParams((0.1,), (130,))
    vals = {"x": Value("x", (1, 4, 4, 2), "uint8", q), "y": Value("y", (1, 2, 2, 2), "uint8", q)}
    g = uint8_as_int8(Graph("u8pool", vals, [Node("max_pool2d", ("x",), ("y",), {
        "filter": (2, 2), "stride": (2, 2), "padding": (0, 0, 0, 0), "activation": "none"}, 0, "pool")],
        ["x"], ["y"]))
    assert [n.op for n in g.nodes] == ["quantize", "max_pool2d", "quantize"]
    assert g.values["x"].dtype == g.values["y"].dtype == "uint8" and g.values["x_int8"].quant.zero_point == (2,)
    x = np.random.default_rng(2).integers(0, 256, (1, 4, 4, 2)).astype(np.uint8)
    want = x.reshape(1, 2, 2, 2, 2, 2).max(axis=(2, 4))
    np.testing.assert_array_equal(g.evaluate(x)[0], want)
    np.testing.assert_array_equal(np.asarray(run_host(g.compile("host"), x)).reshape(want.shape), want)


def test_maxpool_global_average_pool_net(tmp_path):
    rng = np.random.default_rng(8)
    inits = [nh.from_array(rng.normal(0, 0.3, (6, 2, 3, 3)).astype(np.float32), "w1"),
             nh.from_array(rng.normal(0, 0.1, (6,)).astype(np.float32), "b1"),
             nh.from_array(rng.normal(0, 0.3, (3, 6)).astype(np.float32), "w2"),
             nh.from_array(rng.normal(0, 0.1, (3,)).astype(np.float32), "b2")]
    nodes = [oh.make_node("Conv", ["x", "w1", "b1"], ["c"], kernel_shape=[3, 3], strides=[2, 2], name="conv"),
             oh.make_node("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1],
                          name="max"),
             oh.make_node("GlobalAveragePool", ["m"], ["p"], name="gap"),
             oh.make_node("Flatten", ["p"], ["f"], name="flatten"),
             oh.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1, name="fc")]
    graph = oh.make_graph(nodes, "pools", [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 11, 9])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    m = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "f.onnx")
    calib = [rng.uniform(-1, 1, (1, 2, 11, 9)).astype(np.float32) for _ in range(30)]
    q = _quantize(tmp_path / "f.onnx", tmp_path / "q.onnx", "x", calib, QuantFormat.QDQ)
    g = from_onnx(q)
    assert _kinds(g) == ["quantize", "conv2d", "max_pool2d", "avg_pool2d", "reshape", "fully_connected",
                         "dequantize"]
    conv, mx, gap, fc = (next(n for n in g.nodes if n.op == k)
                         for k in ("conv2d", "max_pool2d", "avg_pool2d", "fully_connected"))
    assert g.values[conv.outputs[0]].shape == (1, 5, 4, 6)
    assert mx.attrs["padding"] == (0, 1, 0, 1) and g.values[mx.outputs[0]].shape == (1, 5, 4, 6)
    assert gap.attrs["filter"] == (5, 4) and g.values[gap.outputs[0]].shape == (1, 1, 1, 6)
    np.testing.assert_array_equal(g.values[fc.inputs[1]].data, _inits(q)["w2_quantized"])  # 1x1: no reorder
    xs = [rng.uniform(-1, 1, (1, 2, 11, 9)).astype(np.float32) for _ in range(10)]
    per_node = _max_node_step_diff(g, q, xs, nchw=True)
    assert max(per_node.values()) <= 1, per_node


# ---------------------------------------------------------------------------- hand-written QDQ: fusion


def _qdq_fused_model(path, rng, clip=False, cin=2, group=1):
    """x -Q-DQ- Conv -Relu|Clip(0,6)- Q -DQ- y, written by hand (onnxruntime drops such Relus itself)."""
    w = rng.integers(-127, 128, (4, cin // group, 3, 3)).astype(np.int8)
    ws = (rng.uniform(0.005, 0.02, 4)).astype(np.float32)
    xs, ys = np.float32(1 / 255), np.float32(6 / 255)
    b = rng.integers(-500, 500, 4).astype(np.int32)
    inits = [nh.from_array(w, "w_q"), nh.from_array(ws, "w_s"), nh.from_array(np.zeros(4, np.int8), "w_z"),
             nh.from_array(b, "b_q"), nh.from_array((xs * ws).astype(np.float32), "b_s"),
             nh.from_array(np.zeros(4, np.int32), "b_z"),
             nh.from_array(np.array(xs), "x_s"), nh.from_array(np.array(-128, np.int8), "x_z"),
             nh.from_array(np.array(ys), "y_s"), nh.from_array(np.array(-128, np.int8), "y_z"),
             nh.from_array(np.array(0, np.float32), "lo"), nh.from_array(np.array(6, np.float32), "hi")]
    act = (oh.make_node("Clip", ["c", "lo", "hi"], ["r"], name="act") if clip
           else oh.make_node("Relu", ["c"], ["r"], name="act"))
    nodes = [oh.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=0),
             oh.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b"], axis=0),
             oh.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"]),
             oh.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"]),
             oh.make_node("Conv", ["xd", "w", "b"], ["c"], kernel_shape=[3, 3], strides=[2, 2],
                          auto_pad="SAME_UPPER", group=group, name="conv"),
             act,
             oh.make_node("QuantizeLinear", ["r", "y_s", "y_z"], ["yq"]),
             oh.make_node("DequantizeLinear", ["yq", "y_s", "y_z"], ["y"])]
    graph = oh.make_graph(nodes, "fused", [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 7, 7])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])], inits)
    m = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m


@pytest.mark.parametrize("clip", [False, True])
def test_relu_and_clip_fuse_into_the_conv(tmp_path, clip):
    rng = np.random.default_rng(2)
    _qdq_fused_model(tmp_path / "m.onnx", rng, clip=clip)
    g = from_onnx(tmp_path / "m.onnx")
    assert [n.op for n in g.nodes] == ["quantize", "conv2d", "dequantize"]
    conv = g.nodes[1]
    assert conv.attrs["activation"] == ("relu6" if clip else "relu")
    assert conv.attrs["stride"] == (2, 2) and conv.attrs["padding"] == (1, 1, 1, 1)  # SAME_UPPER 7 -> 4
    assert g.values[conv.outputs[0]].shape == (1, 4, 4, 4)
    assert g.values[conv.inputs[2]].quant.axis == 0
    xs = [rng.uniform(-0.2, 1, (1, 2, 7, 7)).astype(np.float32) for _ in range(10)]
    worst = _max_step_diff(g, tmp_path / "m.onnx", xs, nchw=True)
    assert worst <= 1.0 + 1e-6, worst


# ---------------------------------------------------------------------------- errors


def _float_model(op_nodes, in_shape, out_shape, inits=()):
    graph = oh.make_graph(op_nodes, "bad", [oh.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], list(inits))
    m = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def test_unsupported_operator_names_the_node():
    m = _float_model([oh.make_node("Sin", ["x"], ["y"], name="wave")], [1, 4], [1, 4])
    with pytest.raises(UnsupportedOperatorError) as e:
        from_onnx(m)
    msg = str(e.value)
    assert "ONNX node 0 (Sin 'wave')" in msg and "['x']" in msg and "['y']" in msg
    assert "QLinearConv" in msg and "Gemm" in msg  # the supported list


def test_unsupported_lstm_in_a_qdq_model_names_the_node(tmp_path):
    # x -Q-DQ- LSTM: the quantized input is fine, the recurrent operator is not
    inits = [nh.from_array(np.array(np.float32(0.01)), "s"), nh.from_array(np.array(0, np.int8), "z"),
             nh.from_array(np.zeros((1, 8, 3), np.float32), "W"), nh.from_array(np.zeros((1, 8, 2), np.float32), "R")]
    nodes = [oh.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             oh.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             oh.make_node("LSTM", ["xd", "W", "R"], ["y"], hidden_size=2, name="rnn")]
    m = _float_model(nodes, [5, 1, 3], [5, 1, 1, 2], inits)
    with pytest.raises(UnsupportedOperatorError, match=r"ONNX node 2 \(LSTM 'rnn'\).*\['xd', 'W', 'R'\]"):
        from_onnx(m.SerializeToString())


def test_float_operator_without_quantization_is_refused():
    w = nh.from_array(np.ones((4, 3), np.float32), "w")
    m = _float_model([oh.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [1, 4], [1, 3], [w])
    with pytest.raises(UnsupportedOperatorError, match=r"ONNX node 0 \(MatMul 'mm'\).*not quantized"):
        from_onnx(m)


def test_grouped_convolution_is_refused(tmp_path):
    m = _qdq_fused_model(tmp_path / "m.onnx", np.random.default_rng(4), cin=4, group=2)
    with pytest.raises(UnsupportedOperatorError, match=r"ONNX node 4 \(Conv 'conv'\).*grouped convolution \(group=2"):
        from_onnx(m)


def test_truncated_and_corrupt_bytes_raise_model_format_error(conv_models):
    d, _, _ = conv_models
    buf = (d / "qop.onnx").read_bytes()
    cuts = sorted({1, 7, 16, 100, len(buf) // 4, len(buf) // 2, 3 * len(buf) // 4, len(buf) - 40, len(buf) - 1})
    for cut in cuts:
        with pytest.raises(ModelFormatError):
            from_onnx(buf[:cut])
    with pytest.raises(ModelFormatError):
        from_onnx(b"\xff" * 64)
    with pytest.raises(ModelFormatError):
        from_onnx(b"")
    # a valid header followed by garbage
    with pytest.raises(ModelFormatError):
        from_onnx(buf[:200] + bytes(range(256)) * 4)
    from_onnx(buf)  # the whole file imports
