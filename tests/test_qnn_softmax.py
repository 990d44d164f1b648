"""int8 SOFTMAX (ops.qnn_softmax, frontend lowering): the numpy reference bit for bit with TFLM's
interpreter for several input scales and betas, the compiled kernel on the host and on the simulated
VexRiscv bit for bit with the reference, a quantized float model with a softmax head and the
keyword-spotting DS-CNN with one appended, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import ops
from frontend import FrontendError, UnsupportedOperatorError, quantize, to_tflite
from frontend.compile import run_host
from frontend.graph import Graph, Node, QuantParams, Value
from frontend.run import run_model
from ops import OpError
from ops.qnn_softmax import (
    SOFTMAX_OUT_SHIFT,
    SOFTMAX_RECIPROCAL,
    diff_min_of,
    exp_on_negative_q5,
    exp_table,
    qsoftmax_np,
    softmax_params,
)

TFLITE_OUT = QuantParams((1 / 256,), (-128,))  # what TFLite's int8 softmax requires
SCALES_BETAS = [(0.1, 1.0), (1 / 16, 1.0), (0.0039, 1.0), (0.5, 0.5), (0.02, 2.0), (3.0, 1.0), (0.001, 0.3),
                (0.25, 3.7), (2e-5, 1.0)]


def _tflm(buf: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(buf))


def _tflm_run(interp, x: np.ndarray) -> np.ndarray:
    interp.set_input(x, 0)
    interp.invoke()
    return interp.get_output(0).copy()


def _softmax_graph(shape, scale: float, beta: float = 1.0, zero_point: int = 3,
                   out_quant: QuantParams = TFLITE_OUT) -> Graph:
    """int8 x -> SOFTMAX -> int8 y, as TFLite's int8 softmax takes it."""
    vals = {"x": Value("x", shape, "int8", QuantParams((scale,), (zero_point,))),
            "y": Value("y", shape, "int8", out_quant)}
    return Graph("softmax", vals, [Node("softmax", ("x",), ("y",), {"beta": beta}, 0, "TFLite operator 0 (SOFTMAX)")],
                 ["x"], ["y"])


def _inputs(rng, shape, n: int) -> list[np.ndarray]:
    """Random rows, one constant input (every element the maximum) and one of a few levels (ties)."""
    xs = [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(n)]
    xs.append(np.full(shape, -7, np.int8))
    xs.append((rng.integers(-4, 4, shape) * 31).astype(np.int8))
    return xs


@pytest.mark.parametrize("scale,beta", SCALES_BETAS)
def test_reference_equals_tflm(scale, beta):
    g = _softmax_graph((8, 12), scale, beta)
    interp = _tflm(to_tflite(g))
    for x in _inputs(np.random.default_rng(int(scale * 1e6) % 1000), (8, 12), 6):
        want = _tflm_run(interp, x)
        assert np.array_equal(g.evaluate(x)[0], want), (scale, beta, x)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3, 5), (1, 300), (2, 1000)])
def test_reference_equals_tflm_for_other_shapes(shape):
    g = _softmax_graph(shape, 0.05)
    interp = _tflm(to_tflite(g))
    xs = _inputs(np.random.default_rng(len(shape)), shape, 3)
    if shape[-1] >= 512:
        xs.pop(-2)  # 512+ equal maxima: TFLM's final shift exceeds 31 and it aborts (TFLITE_CHECK)
    for x in xs:
        assert np.array_equal(g.evaluate(x)[0], _tflm_run(interp, x)), shape


def test_every_difference_and_the_exp_table():
    p = softmax_params(0.1)
    # TFLM's Prepare for scale 0.1 (as float32), beta 1: 0.1 * 2**26 = 0.8 * 2**23
    assert p == {"input_multiplier": round(float(np.float32(0.1)) * 8 * 2**31), "input_left_shift": 23}
    table = exp_table(**p)
    d = np.arange(len(table))
    # Q0 exp(-d * 0.1), non-increasing, within 1e-6 (gemmlowp's polynomial and barrel: 368 / 2**31 measured)
    assert table[0] == 2**31 - 1 and np.all(np.diff(table.astype(np.int64)) <= 0) and table[-1] > 0
    assert np.allclose(table / 2**31, np.exp(-float(np.float32(0.1)) * d), rtol=0, atol=1e-6)
    # two-element rows [0, -d]: the reference against TFLM for every difference
    g = _softmax_graph((256, 2), 0.1)
    x = np.stack([np.full(256, 127), 127 - np.arange(256)], axis=1).astype(np.int8)
    assert np.array_equal(g.evaluate(x)[0], _tflm_run(_tflm(to_tflite(g)), x))
    # a large shift (beta * scale large): only the maxima count
    big = softmax_params(40.0, 2.0)
    assert diff_min_of(big["input_left_shift"]) == 0 and len(exp_table(**big)) == 1
    assert np.array_equal(qsoftmax_np(np.array([[5, 5, 4, -128]], np.int8), **big), [[0, 0, -128, -128]])
    assert exp_on_negative_q5(np.array([0]))[0] == 2**31 - 1


@pytest.mark.parametrize("shape,scale,beta", [((3, 12), 0.1, 1.0), ((2, 300), 0.01, 0.5), ((1, 5, 7), 3.0, 2.0),
                                              ((2, 1000), 0.02, 1.0)])
def test_compiled_kernel_on_the_host_equals_the_reference(shape, scale, beta):
    g = _softmax_graph(shape, scale, beta)
    compiled = g.compile("host")
    assert [k.op for k in compiled.kernel_info] == ["qsoftmax"]
    for x in _inputs(np.random.default_rng(shape[-1]), shape, 4):
        assert np.array_equal(run_host(compiled, x), g.evaluate(x)[0]), (shape, x)


def test_pure_ops_numpy_equals_their_c():
    """The reciprocal and the final shift of a row sum: numpy (tir.evaluate's) against their C helpers,
    over sums a kernel meets and the edges of int32."""
    import codegen_c
    import tir
    from schedules import create_schedule

    sums = np.concatenate([np.array([0, 1, 2**19, 2**19 + 1, 2**28 - 1, 2**28, 2**31 - 1, -1, -(2**31)]),
                           np.random.default_rng(0).integers(2**19, 2**30, 200)]).astype(np.int32)
    S = tir.placeholder((len(sums),), "int32", name="S")
    def of_sum(op):
        return lambda i: tir.expr.Call(op, (S[i],), "int32")

    for op in (SOFTMAX_RECIPROCAL, SOFTMAX_OUT_SHIFT):
        out = tir.compute(S.shape, of_sum(op), name="out")
        func = tir.lower(create_schedule(out), [S, out])
        got = np.zeros(len(sums), np.int32)
        codegen_c.build(func, "host")(sums, got)
        assert np.array_equal(got, op.numpy(sums)), op.name


def test_kernel_on_the_simulated_vexriscv():
    g = _softmax_graph((1, 12), 0.1)
    xs = np.stack(_inputs(np.random.default_rng(5), (1, 12), 2))
    r = run_model(g.compile("vexriscv"), xs)
    assert np.array_equal(r.outputs, np.stack([g.evaluate(x)[0] for x in xs]))
    interp = _tflm(to_tflite(g))
    assert np.array_equal(r.outputs, np.stack([_tflm_run(interp, x) for x in xs]))
    assert 0 < r.cycles < 2000  # measured 1,036 (12 classes, scale 0.1)


def _with_softmax(g: Graph, beta: float = 1.0) -> Graph:
    """``g`` with a softmax appended to its (single) output."""
    out = g.outputs[0]
    v = g.values[out]
    g.values["prob"] = Value("prob", v.shape, "float32")
    g.nodes.append(Node("softmax", (out,), ("prob",), {"beta": beta}, len(g.nodes),
                        f"{g.name} node {len(g.nodes)} (softmax)"))
    g.outputs = ["prob"]
    return g


def test_float_model_with_a_softmax_head_quantized_equals_tflm():
    rng = np.random.default_rng(11)
    vals = {"x": Value("x", (1, 16), "float32"), "logits": Value("logits", (1, 10), "float32"),
            "w": Value("w", (10, 16), "float32", None, (rng.standard_normal((10, 16)) * 0.6).astype(np.float32)),
            "b": Value("b", (10,), "float32", None, rng.standard_normal(10).astype(np.float32))}
    g = _with_softmax(Graph("fc_softmax", vals, [Node("fully_connected", ("x", "w", "b"), ("logits",),
                                                      {"activation": "none"}, 0, "fc")], ["x"], ["logits"]), 0.7)
    q = quantize(g, rng.uniform(-2, 2, (32, 1, 16)).astype(np.float32))
    assert [n.op for n in q.nodes] == ["fully_connected", "softmax"]
    interp = _tflm(to_tflite(q))
    compiled = q.compile("host")
    assert [k.op for k in compiled.kernel_info] == ["qdense", "qsoftmax"]
    for x in rng.integers(-128, 128, (6, 1, 16)).astype(np.int8):
        want = _tflm_run(interp, x)
        assert np.array_equal(q.evaluate(x)[0], want)
        assert np.array_equal(run_host(compiled, x), want)


def test_kws_with_a_softmax_head_evaluates_and_compiles():
    """The small DS-CNN (frontend.zoo.kws_float(seed=2, blocks=1, channels=8)) with a softmax appended."""
    from frontend.zoo import kws_calibration, kws_float

    q = quantize(_with_softmax(kws_float(seed=2, blocks=1, channels=8)), kws_calibration(4))
    assert q.values["prob"].quant == QuantParams((1 / 256,), (-128,), None)
    interp = _tflm(to_tflite(q))
    compiled = q.compile("host")
    assert compiled.kernel_info[-1].op == "qsoftmax" and compiled.output_shape == (1, 12)
    xs = np.random.default_rng(8).integers(-128, 128, (2, 1, 49, 10, 1)).astype(np.int8)
    want = np.stack([_tflm_run(interp, x) for x in xs])
    for x, w in zip(xs, want):
        assert np.array_equal(q.evaluate(x)[0], w)
        assert np.array_equal(run_host(compiled, x), w)
    assert np.array_equal(run_model(q.compile("vexriscv"), xs[:1]).outputs, want[:1])


def test_wrong_output_quantization_is_a_frontend_error_naming_the_node():
    for out_q in (QuantParams((1 / 128,), (-128,)), QuantParams((1 / 256,), (0,))):
        g = _softmax_graph((1, 12), 0.1, out_quant=out_q)
        for run in (lambda g=g: g.evaluate(np.zeros((1, 12), np.int8)), lambda g=g: g.compile("host")):
            with pytest.raises(UnsupportedOperatorError, match=r"TFLite operator 0 \(SOFTMAX\).*1/256"):
                run()
    # beta * scale * 2**26 must be above one (TFLite's QuantizeMultiplierGreaterThanOne)
    with pytest.raises(FrontendError, match=r"TFLite operator 0 \(SOFTMAX\).*not above one"):
        _softmax_graph((1, 4), 1e-9).evaluate(np.zeros((1, 4), np.int8))
    with pytest.raises(OpError, match="'N'"):
        ops.get("qsoftmax")(M=1, N=5000)
    with pytest.raises(OpError, match="input_multiplier"):
        ops.get("qsoftmax")(M=1, N=4, input_multiplier=5)


# --- int8 -> int8 QUANTIZE (a requantization) ----------------------------------------------------

def _requantize_graph(shape, qi: QuantParams, qo: QuantParams, dtype_out: str = "int8") -> Graph:
    vals = {"x": Value("x", shape, "int8", qi), "y": Value("y", shape, dtype_out, qo)}
    return Graph("requantize", vals, [Node("quantize", ("x",), ("y",), {}, 0, "TFLite operator 0 (QUANTIZE)")],
                 ["x"], ["y"])


@pytest.mark.parametrize("qi,qo", [(((0.05,), (-7,)), ((0.02,), (12,))), (((0.1,), (-128,)), ((0.37,), (3,))),
                                   (((0.02,), (5,)), ((0.02,), (5,))), (((1 / 256,), (-128,)), ((0.0123,), (-128,))),
                                   (((3.1,), (0,)), ((0.001,), (0,)))])
def test_int8_quantize_requantizes_like_tflm(qi, qo):
    g = _requantize_graph((1, 256), QuantParams(*qi), QuantParams(*qo))
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)  # every int8 value
    want = _tflm_run(_tflm(to_tflite(g)), x)
    assert np.array_equal(g.evaluate(x)[0], want)
    compiled = g.compile("host")
    assert [k.op for k in compiled.kernel_info] == ["qrequantize"]
    assert np.array_equal(run_host(compiled, x), want)


def test_requantize_then_softmax_on_the_simulated_vexriscv():
    """A requantization feeding a softmax (an arena intermediate), on the SoC as in TFLM."""
    vals = {"x": Value("x", (2, 12), "int8", QuantParams((0.05,), (-7,))),
            "r": Value("r", (2, 12), "int8", QuantParams((0.11,), (3,))),
            "y": Value("y", (2, 12), "int8", TFLITE_OUT)}
    nodes = [Node("quantize", ("x",), ("r",), {}, 0, "TFLite operator 0 (QUANTIZE)"),
             Node("softmax", ("r",), ("y",), {"beta": 1.0}, 1, "TFLite operator 1 (SOFTMAX)")]
    g = Graph("requant_softmax", vals, nodes, ["x"], ["y"])
    interp = _tflm(to_tflite(g))
    xs = np.stack(_inputs(np.random.default_rng(9), (2, 12), 2))
    compiled = g.compile("vexriscv")
    assert [k.op for k in compiled.kernel_info] == ["qrequantize", "qsoftmax"] and compiled.arena_bytes > 0
    r = run_model(compiled, xs)
    want = np.stack([_tflm_run(interp, x) for x in xs])
    assert np.array_equal(np.stack([g.evaluate(x)[0] for x in xs]), want)
    assert np.array_equal(r.outputs, want)


def test_quantize_errors_name_the_node():
    g = _requantize_graph((1, 4), QuantParams((0.1,), (0,)), QuantParams((0.1,), (0,)), "int16")
    with pytest.raises(UnsupportedOperatorError, match=r"TFLite operator 0 \(QUANTIZE\).*8-bit"):
        g.compile("host")
    with pytest.raises(OpError, match="'in_zero_point'"):
        ops.get("qrequantize")(shape=(4,), in_zero_point=200)
