"""Models the tests, benchmarks and examples build themselves (nothing is downloaded).

``sine_float_path()``  TFLM's hello_world float model, shipped in the ``tflite-micro`` wheel.
``xor_onnx(directory)`` emlearn's xor example: scikit-learn's MLPClassifier (2-8-1, relu) trained on
                       the four corners of {0, 255}^2 (scaled to [0, 1]) with noise, converted with
                       skl2onnx, cut at the logit (the binary head is not int8 material) and quantized
                       by onnxruntime's static quantization (QDQ, per-channel int8); returns the path
                       of the int8 .onnx and the classifier.
``kws_float(seed)``    the keyword-spotting DS-CNN of the instruction-search workload (input 49x10x1:
                       conv 10x4 stride 2 to 64 channels, four depthwise-separable blocks of 3x3
                       depthwise SAME + 1x1 pointwise, all relu; global average pool; dense 64 -> 12),
                       float32 with random weights, as a Graph (quantize it with ``frontend.quantize``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from frontend.graph import Graph, Node, Value


def sine_float_path() -> Path:
    import tflite_micro

    return Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "sine_float.tflite"


XOR_CORNERS = ((0, 0), (255, 0), (0, 255), (255, 255))


def xor_onnx(directory: str | Path):
    """(path of the int8 QDQ xor model, the trained sklearn classifier); see the module docstring."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    corners = np.array(XOR_CORNERS, np.float64)
    raw = np.repeat(corners, 50, axis=0) + rng.normal(0, 8, (200, 2))
    x = (np.clip(raw, 0, 255) / 255).astype(np.float32)
    y = np.repeat([0, 1, 1, 0], 50)
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="relu", random_state=3, max_iter=3000).fit(x, y)
    m = to_onnx(clf, initial_types=[("x", FloatTensorType([None, 2]))], options={id(clf): {"zipmap": False}},
                target_opset=13)
    onnx.save(m, d / "xor_float.onnx")
    logit = [n for n in m.graph.node if n.op_type == "Sigmoid"][0].input[0]
    onnx.utils.extract_model(str(d / "xor_float.onnx"), str(d / "xor_logit.onnx"), ["x"], [logit])
    quant_pre_process(str(d / "xor_logit.onnx"), str(d / "xor_pre.onnx"))
    calib = [(corners[i % 4] / 255 + rng.normal(0, 0.03, 2)).astype(np.float32)[None] for i in range(100)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{"x": s} for s in calib])

        def get_next(self):
            return next(self._it, None)

    out = d / "xor_int8.onnx"
    # per-channel Gemm quantizes only with the int32-bias weight adjustment off (onnxruntime)
    quantize_static(str(d / "xor_pre.onnx"), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"QDQDisableWeightAdjustForInt32Bias": True})
    return out, clf


def kws_float(seed: int = 0, blocks: int = 4, channels: int = 64) -> Graph:
    rng = np.random.default_rng(seed)
    c = channels
    vals: dict[str, Value] = {}
    nodes: list[Node] = []

    def act(name, shape):
        vals[name] = Value(name, shape, "float32")
        return name

    def const(name, shape, fan_in):
        data = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        vals[name] = Value(name, shape, "float32", None, data)
        return name

    def node(op, ins, out, **attrs):
        i = len(nodes)
        nodes.append(Node(op, tuple(ins), (out,), attrs, i, f"kws node {i} ({op})"))

    conv = {"stride": (1, 1), "dilation": (1, 1), "padding": (0, 0, 0, 0), "activation": "relu"}
    x = act("input", (1, 49, 10, 1))
    h = act("conv0", (1, 20, 4, c))
    node("conv2d", [x, const("conv0_w", (c, 10, 4, 1), 40), const("conv0_b", (c,), 40)], h,
         **{**conv, "stride": (2, 2)})
    for b in range(blocks):
        d = act(f"dw{b}", (1, 20, 4, c))
        node("depthwise_conv2d", [h, const(f"dw{b}_w", (1, 3, 3, c), 9), const(f"dw{b}_b", (c,), 9)], d,
             **{**conv, "padding": (1, 1, 1, 1)}, depth_multiplier=1)
        p = act(f"pw{b}", (1, 20, 4, c))
        node("conv2d", [d, const(f"pw{b}_w", (c, 1, 1, c), c), const(f"pw{b}_b", (c,), c)], p, **conv)
        h = p
    pool = act("pool", (1, 1, 1, c))
    node("avg_pool2d", [h], pool, filter=(20, 4), stride=(1, 1), padding=(0, 0, 0, 0), activation="none")
    flat = act("flat", (1, c))
    node("reshape", [pool], flat, shape=(1, c))
    logits = act("logits", (1, 12))
    node("fully_connected", [flat, const("fc_w", (12, c), c), const("fc_b", (12,), c)], logits, activation="none")
    return Graph("kws", vals, nodes, [x], [logits])


def kws_calibration(n: int = 16, seed: int = 1) -> np.ndarray:
    """Random float samples (MFCC-like ranges) to calibrate ``kws_float``."""
    return np.random.default_rng(seed).uniform(-2, 2, (n, 1, 49, 10, 1)).astype(np.float32)


__all__ = ["XOR_CORNERS", "kws_calibration", "kws_float", "sine_float_path", "xor_onnx"]
