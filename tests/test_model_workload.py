"""A model file as a search workload (isa_search.model): a quantized model's int8 nodes become the
search's kernels as the shipped workloads write them by hand, and search-isa runs on a .tflite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from frontend.graph import Graph, Node, Value
from frontend.quantize import quantize
from frontend.tflite_write import to_tflite
from frontend.zoo import kws_calibration, kws_float, sine_float_path, xor_onnx
from isa_search import load_workload, model_workload
from isa_search.stages import STAGE_TEMPLATE
from isa_search.workloads import WorkloadError, kws, mlp

ROOT = Path(__file__).resolve().parent.parent
SINE_CALIBRATION = np.linspace(0, 2 * np.pi, 32, dtype=np.float32).reshape(32, 1, 1)


def _multiset(kernels) -> list:
    return sorted((k.template, k.args, k.count) for k in kernels)


@pytest.fixture(scope="module")
def kws_int8():
    return quantize(kws_float(), kws_calibration())


def test_the_quantized_kws_model_is_exactly_the_kws_workload(kws_int8):
    wl = model_workload(kws_int8)
    assert _multiset(wl.kernels) == _multiset(kws().kernels)
    assert wl.macs() == kws().macs() == 1_700_608
    assert wl.extra["notes"] == []
    # the nine layers of a 20x4x64 output share one requantize kernel, and each kernel names its nodes
    rq = next(k for k in wl.kernels if k.label == "requant 1x20x4x64")
    assert rq.count == 9 and len(wl.extra["nodes"][rq.label]) == 9
    dw = next(k for k in wl.kernels if k.label.startswith("dw "))
    assert wl.extra["nodes"][dw.label] == [f"kws node {i} (depthwise_conv2d)" for i in (1, 3, 5, 7)]


def test_a_tflite_file_and_an_onnx_file_load_as_workloads(kws_int8, tmp_path):
    path = tmp_path / "kws.tflite"
    path.write_bytes(to_tflite(kws_int8))
    for spec in (path, str(path)):
        wl = load_workload(spec)
        assert wl.name == "kws" and _multiset(wl.kernels) == _multiset(kws().kernels)
        assert wl.extra["model"] == str(path)
    onnx_path, _ = xor_onnx(tmp_path / "xor")
    xor = load_workload(str(onnx_path))
    assert [(k.template, k.args) for k in xor.kernels if not k.is_stage] == [("dense_i8", (1, 8, 2)),
                                                                            ("dense_i8", (1, 1, 8))]
    assert {k.op for k in xor.kernels if k.is_stage} == {"requantize"}


def test_a_float_model_is_quantized_with_its_calibration():
    with pytest.raises(WorkloadError, match=r"sine_float.tflite' is float: give calibration .*--calibration"):
        load_workload(str(sine_float_path()))
    wl = load_workload(str(sine_float_path()), calibration=SINE_CALIBRATION)
    sine = [k for k in mlp().kernels if k.label.startswith("sine") and not k.is_stage]
    assert [(k.template, k.args) for k in wl.kernels if not k.is_stage] == [(k.template, k.args) for k in sine]
    assert sum(k.count for k in wl.kernels if k.is_stage) == 3  # one requantize per dense layer
    with pytest.raises(WorkloadError, match="calibration data is only for a model file"):
        load_workload("kws", calibration=SINE_CALIBRATION)


def _graph(nodes_spec, vals) -> Graph:
    nodes = [Node(op, tuple(ins), (out,), attrs, i, f"test node {i} ({op})")
             for i, (op, ins, out, attrs) in enumerate(nodes_spec)]
    return Graph("odd", vals, nodes, [nodes[0].inputs[0]], [nodes[-1].outputs[0]])


def _float_graph():
    """conv 3x3 with SAME padding of an even input (pads 0/1: asymmetric), max pool 2x2, add, softmax."""
    rng = np.random.default_rng(0)
    vals = {}

    def v(name, shape, data=None):
        vals[name] = Value(name, shape, "float32", None, data)
        return name

    v("x", (1, 8, 8, 4))
    v("w", (8, 2, 2, 4), rng.standard_normal((8, 2, 2, 4)).astype(np.float32))
    v("b", (8,), np.zeros(8, np.float32))
    spec = [("conv2d", ["x", "w", "b"], v("c", (1, 8, 8, 8)),
             {"stride": (1, 1), "dilation": (1, 1), "padding": (0, 1, 0, 1), "activation": "relu"}),
            ("max_pool2d", ["c"], v("p", (1, 4, 4, 8)),
             {"filter": (2, 2), "stride": (2, 2), "padding": (0, 0, 0, 0), "activation": "none"}),
            ("add", ["p", "p"], v("a", (1, 4, 4, 8)), {"activation": "none"}),
            ("reshape", ["a"], v("r", (1, 128)), {"shape": (1, 128)}),
            ("softmax", ["r"], v("s", (1, 128)), {"beta": 1.0})]
    return _graph(spec, vals)


def test_geometry_the_templates_do_not_take_is_measured_as_the_operators_stage():
    g = quantize(_float_graph(), np.random.default_rng(1).uniform(-1, 1, (8, 1, 8, 8, 4)).astype(np.float32))
    wl = model_workload(g)
    by_op = {k.op: k for k in wl.kernels if k.is_stage}
    assert set(by_op) == {"qconv2d_nhwc", "max_pool2d", "qadd", "qsoftmax"}
    assert [k for k in wl.kernels if not k.is_stage] == []
    conv = json.loads(by_op["qconv2d_nhwc"].args[1])
    assert (conv["pad_top"], conv["pad_bottom"], conv["KH"], conv["F"]) == (0, 1, 2, 8)
    assert len(wl.extra["notes"]) == 1 and "test node 0 (conv2d): padding (0, 1, 0, 1) differs" in wl.extra["notes"][0]
    assert json.loads(by_op["max_pool2d"].args[1]) == {"C": 8, "H": 8, "N": 1, "W": 8, "dtype": "int8", "k": 2,
                                                       "stride": 2}
    assert all(k.template == STAGE_TEMPLATE for k in wl.kernels)


def test_an_operator_without_an_int8_lowering_names_the_node(kws_int8):
    nodes = list(kws_int8.nodes)
    i = next(i for i, n in enumerate(nodes) if n.op == "reshape")
    bad = nodes[i]
    nodes[i] = Node("tanh", bad.inputs, bad.outputs, {}, bad.index, "kws node 10 (tanh)")
    g = Graph(kws_int8.name, kws_int8.values, nodes, kws_int8.inputs, kws_int8.outputs)
    with pytest.raises(WorkloadError, match=r"model 'kws_int8': kws node 10 \(tanh\): no int8 lowering for 'tanh'"):
        model_workload(g)
    with pytest.raises(WorkloadError, match="does not exist"):
        load_workload("no_such_model.tflite")


def test_search_isa_cli_on_a_float_tflite_model(tmp_path):
    cal = tmp_path / "cal.npy"
    np.save(cal, SINE_CALIBRATION)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "isaforge", "search-isa", str(sine_float_path()), "--calibration", str(cal),
           "--budget", "20m", "--records", str(tmp_path / "isa.jsonl"), "-o", str(tmp_path / "out"), "--trials", "3",
           "--families", "dot", "--no-dataflow", "--audit", "0", "--parallel", "2", "--no-progress"]
    q = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert q.returncode == 0, q.stderr[-3000:]
    d = json.loads((tmp_path / "out" / "search.json").read_text())
    assert d["workload"]["name"] == "sine_float"
    assert [k["label"] for k in d["workload"]["kernels"]] == ["dense 1->16", "requant 1x16", "dense 16->16",
                                                              "dense 16->1", "requant 1x1"]
    assert "workload sine_float: 5 kernels" in q.stdout and "rv32im" in q.stdout
    # the 4-lane int8 dot product speeds up the model's 16-wide dense layer
    dot4 = next(c for c in d["candidates"] if c["key"] == "dot(dtype=int8,lanes=4)")
    assert dot4["cycles"] < d["baseline_cycles"]
