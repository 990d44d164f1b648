"""Whole int8 models end to end: import / quantize -> numpy reference -> one C unit -> host and the
simulated VexRiscv, every step bit for bit with TFLM's interpreter on the same int8 model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_quantize import CNN_CALIBRATION, _cnn_graph, _tflm
from test_quantize import _run as _tflm_run

from frontend import FrontendError, UnsupportedOperatorError, from_tflite, quantize, to_tflite
from frontend.compile import run_host
from frontend.graph import QuantParams
from frontend.reference import dequantize_np, quantize_np
from frontend.run import run_model
from frontend.zoo import sine_float_path

ROOT = Path(__file__).resolve().parent.parent
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


@pytest.fixture(scope="module")
def sine():
    g = quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    return g, _tflm(to_tflite(g))


@pytest.fixture(scope="module")
def cnn():
    """The test CNN of test_quantize without its softmax head (conv, depthwise, add, pools, reshape, dense)."""
    g = _cnn_graph()
    g.nodes = g.nodes[:-1]
    g.outputs = [g.nodes[-1].outputs[0]]
    del g.values["prob"]
    q = quantize(g, CNN_CALIBRATION)
    return q, _tflm(to_tflite(q))


def test_sine_reference_and_host_c_equal_tflm_for_every_int8_input(sine):
    g, interp = sine
    compiled = g.compile("host")
    for q in ALL_INT8:
        x = np.array([[q]], np.int8)
        want = _tflm_run(interp, x)
        assert np.array_equal(g.evaluate(x)[0], want), q
        assert np.array_equal(run_host(compiled, x), want), q


def test_cnn_reference_and_host_c_equal_tflm(cnn):
    g, interp = cnn
    compiled = g.compile("host")
    assert [k.op for k in compiled.kernel_info] == ["qconv2d_nhwc", "qdepthwise_conv2d_nhwc", "qconv2d_nhwc",
                                                    "qadd", "qmax_pool2d_nhwc", "qavg_pool2d_nhwc", "qdense"]
    rng = np.random.default_rng(3)
    for _ in range(6):
        x = rng.integers(-128, 128, (1, 8, 8, 2)).astype(np.int8)
        want = _tflm_run(interp, x)
        assert np.array_equal(g.evaluate(x)[0], want)
        assert np.array_equal(run_host(compiled, x), want)


def test_sine_on_the_simulated_vexriscv(sine):
    g, interp = sine
    compiled = g.compile("vexriscv")
    xs = ALL_INT8[::9].reshape(-1, 1, 1)
    r = run_model(compiled, xs)
    assert np.array_equal(r.outputs, np.stack([_tflm_run(interp, x) for x in xs]))
    assert 0 < r.cycles < r.cold_cycles and 0 < r.instret <= r.cycles
    assert all(abs(c - r.cycles) < 0.05 * r.cycles for c in r.input_cycles)
    fp = r.footprint
    assert sorted(fp.kernels) == sorted(compiled.kernels) and all(v > 0 for v in fp.kernels.values())
    assert fp.arena == compiled.arena_bytes and fp.text >= sum(fp.kernels.values())
    # the weights are .rodata (the compiler may fold a one-element constant into the code)
    assert fp.rodata >= sum(v.data.nbytes for v in g.values.values() if v.is_constant and v.dtype == "int8")


def test_cnn_on_the_simulated_vexriscv(cnn):
    g, interp = cnn
    xs = np.random.default_rng(4).integers(-128, 128, (2, 1, 8, 8, 2)).astype(np.int8)
    r = run_model(g.compile("vexriscv"), xs)
    assert np.array_equal(r.outputs, np.stack([_tflm_run(interp, x) for x in xs]))
    assert r.kernel_cycles == {}


def test_profile_times_every_kernel_of_the_warm_inference(cnn):
    g, interp = cnn
    xs = np.random.default_rng(4).integers(-128, 128, (2, 1, 8, 8, 2)).astype(np.int8)
    compiled = g.compile("vexriscv", profile=True)
    assert "isaforge_profile" in compiled.source and "#include <stdio.h>" not in compiled.source
    r = run_model(compiled, xs)
    assert np.array_equal(r.outputs, np.stack([_tflm_run(interp, x) for x in xs]))
    assert list(r.kernel_cycles) == compiled.kernels
    assert all(c > 0 for c in r.kernel_cycles.values())
    # the kernels are nearly all of the inference: only the calls and the timer reads are outside
    assert 0.9 * r.cycles < sum(r.kernel_cycles.values()) < r.cycles
    with pytest.raises(FrontendError, match="mcycle"):
        g.compile("host", profile=True)


def test_sine_example_prints_what_tflm_computes(sine):
    g, interp = sine
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "sine.py")], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("x_value")]
    qi, qo = g.values[g.inputs[0]].quant, g.values[g.outputs[0]].quant
    want = []
    for i in range(10):
        x = np.float32(np.float32(i) / np.float32(20)) * np.float32(2 * 3.14159265359)
        y = dequantize_np(_tflm_run(interp, quantize_np(np.array([[x]], np.float32), qi)), qo)
        want.append(f"x_value: {float(x):.6f}, y_value: {float(y[0, 0]):.6f}")
    assert lines == want
    assert lines[1] == "x_value: 0.314159, y_value: 0.294289"  # 0.314159 -> int8 -115 -> 37
    assert "cycles per inference" in out.stdout


def test_unsupported_node_is_named_at_compile(cnn):
    g = _cnn_graph()  # float: the compiler takes int8 graphs
    with pytest.raises(UnsupportedOperatorError) as e:
        g.compile("host")
    assert "conv2d" in str(e.value) or "int8" in str(e.value)
    q = quantize(_cnn_graph(), CNN_CALIBRATION[:4])  # with its softmax head, its output scale not TFLite's
    q.values["prob"].quant = QuantParams((1 / 128,), (-128,))
    with pytest.raises(UnsupportedOperatorError) as e:
        q.compile("host")
    assert "softmax" in str(e.value) and "TFLite operator 8" in str(e.value)


def test_run_model_rejects_wrong_inputs(sine):
    compiled = sine[0].compile("vexriscv")
    with pytest.raises(FrontendError, match="int8"):
        run_model(compiled, np.array([1000]))


@pytest.mark.parametrize("exts", [("dot4_i8", "requant_i8"), ("requant_i8",), ("dot4_i8",)])
def test_sine_with_extensions_on_the_simulated_vexriscv(sine, exts):
    g, interp = sine
    compiled = g.compile("vexriscv", extensions=exts)
    assert {e.name for e in compiled.used_extensions} == set(exts)
    xs = ALL_INT8[::5].reshape(-1, 1, 1)
    r = run_model(compiled, xs)
    assert np.array_equal(r.outputs, np.stack([_tflm_run(interp, x) for x in xs]))
    plain = run_model(g.compile("vexriscv"), xs[:1])
    assert r.cycles < plain.cycles
    if len(exts) == 2:  # the goals: under 900 cycles, under 2 KB of .text + .rodata (measured 812, 1,732)
        assert r.cycles < 900 and r.footprint.text + r.footprint.rodata < 2048


@pytest.mark.parametrize("mnk", [(1, 16, 1), (2, 5, 10), (3, 8, 12), (1, 1, 16), (8, 12, 32), (6, 10, 112)])
@pytest.mark.parametrize("exts", [(), ("dot4_i8",), ("requant_i8",), ("dot4_i8", "requant_i8"), ("mac4_i8",),
                                  ("mac4_i8", "requant_i8")])
def test_qdense_hand_schedule_is_exact_on_host(mnk, exts):
    import codegen_c
    import ops
    import tir
    from schedules.hand import qdense

    m, n, k = mnk
    wl = ops.get("qdense")(M=m, N=n, K=k, x_zero_point=0, out_zero_point=-7, qmin=-100, qmax=120)
    s, args = qdense(wl, exts)
    func = tir.lower(s, args)
    rng = np.random.default_rng(k)
    ins = [rng.integers(-128, 128, (m, k)).astype(np.int8), rng.integers(-127, 128, (n, k)).astype(np.int8),
           rng.integers(-2**20, 2**20, n).astype(np.int32), rng.integers(1 << 30, 1 << 31, n).astype(np.int32),
           rng.integers(-20, 3, n).astype(np.int32)]
    out = np.zeros((m, n), np.int8)
    codegen_c.build(func, "host")(*ins, out)
    assert np.array_equal(out, wl.ref(*ins))


def test_kws_ds_cnn_reference_and_host_c_equal_tflm():
    from frontend.zoo import kws_calibration, kws_float

    q = quantize(kws_float(), kws_calibration())
    interp = _tflm(to_tflite(q))
    compiled = q.compile("host")
    for x in np.random.default_rng(6).integers(-128, 128, (2, 1, 49, 10, 1)).astype(np.int8):
        want = _tflm_run(interp, x)
        assert np.array_equal(q.evaluate(x)[0], want)
        assert np.array_equal(run_host(compiled, x), want)


@pytest.mark.parametrize("exts", [(), ("dot4_i8", "requant_i8"), ("mac4_i8", "requant_i8")])
def test_small_ds_cnn_on_the_simulated_vexriscv(exts):
    from frontend.zoo import kws_calibration, kws_float

    q = quantize(kws_float(seed=2, blocks=1, channels=8), kws_calibration(4))
    interp = _tflm(to_tflite(q))
    x = np.random.default_rng(7).integers(-128, 128, (1, 1, 49, 10, 1)).astype(np.int8)
    compiled = q.compile("vexriscv", extensions=exts)
    r = run_model(compiled, x)
    assert np.array_equal(r.outputs[0], _tflm_run(interp, x[0]))
    assert r.footprint.bss >= r.footprint.arena + compiled.scratch_bytes
    # the kernels' own buffers (the padded copies at least) are slices of the one shared scratch area
    assert compiled.scratch_bytes > 0 and "isaforge_scratch + " in compiled.source
    from frontend.compile import SCRATCH_MIN_BYTES

    sizes = {"int8_t": 1, "int16_t": 2, "int32_t": 4}
    left = [(t, int(n)) for t, n in re.findall(r"^[ \t]+static (\w+) \w+\[(\d+)\]", compiled.source, re.M)]
    assert left == [] or all(n * sizes[t] < SCRATCH_MIN_BYTES for t, n in left)


def test_cli_run_model(sine, tmp_path, capsys):
    from isaforge.cli import main

    g, interp = sine
    path = tmp_path / "sine_int8.tflite"
    path.write_bytes(to_tflite(g))
    np.save(tmp_path / "x.npy", np.array([[[-115]], [[0]]], np.int8))
    assert main(["run", str(path), "--extensions", "dot4_i8,requant_i8", "--inputs", str(tmp_path / "x.npy"),
                 "--emit", str(tmp_path / "model.c"), "--profile"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"isaforge_k0_qdense +\.text +\d+ B +[\d,]+ cycles", out), out
    want = [_tflm_run(interp, np.array([[q]], np.int8))[0, 0] for q in (-115, 0)]
    assert f"output 0: [{want[0]}]" in out and f"output 1: [{want[1]}]" in out
    assert "cycles per inference:" in out and "isaforge_k1_qdense" in out
    assert "void model(const int8_t *in, int8_t *out)" in (tmp_path / "model.c").read_text()
    # a float model needs calibration: a clear error, exit code 2
    assert main(["run", str(sine_float_path())]) == 2
    assert "calibration" in capsys.readouterr().err


@pytest.mark.parametrize("exts", [(), ("requant_i8",), ("dot4_i8", "requant_i8"), ("dot4_i8",), ("mac4_i8",),
                                  ("mac4_i8", "requant_i8")])
@pytest.mark.parametrize("op,attrs", [
    ("qconv2d_nhwc", dict(N=1, H=6, W=5, C=8, F=6, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1,
                          x_zero_point=-3, out_zero_point=4, fold_x_zero_point=True)),
    ("qconv2d_nhwc", dict(N=1, H=9, W=7, C=1, F=5, KH=4, KW=2, stride_h=2, stride_w=2, x_zero_point=9)),
    # packed window rows (channels not a multiple of the lanes): kws's first layer, an odd KW with
    # padding and unequal strides, C = 3 (rows of KW * C bytes), a folded offset
    ("qconv2d_nhwc", dict(N=1, H=49, W=10, C=1, F=8, KH=10, KW=4, stride_h=2, stride_w=2, out_zero_point=-128,
                          fold_x_zero_point=True)),
    ("qconv2d_nhwc", dict(N=1, H=9, W=7, C=1, F=6, KH=3, KW=3, stride_h=2, stride_w=1, pad_top=1, pad_bottom=1,
                          pad_left=0, pad_right=2, x_zero_point=-5, out_zero_point=3, fold_x_zero_point=True)),
    ("qconv2d_nhwc", dict(N=2, H=7, W=6, C=3, F=5, KH=2, KW=3, stride_h=1, stride_w=2, pad_top=1, pad_bottom=0,
                          pad_left=1, pad_right=1, out_zero_point=-2, qmin=-50, qmax=100)),
    ("qconv2d_nhwc", dict(N=1, H=12, W=9, C=2, F=4, KH=5, KW=5, x_zero_point=17, fold_x_zero_point=True)),
    ("qconv2d_nhwc", dict(N=1, H=7, W=20, C=1, F=4, KH=5, KW=16, stride_w=3, out_zero_point=1)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=5, W=4, C=8, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1,
                                    x_zero_point=11, out_zero_point=-128, fold_x_zero_point=True)),
    # register tiles of pixels x channels: a stride, a depth multiplier, an odd width, a window too
    # large to unroll (the one-output schedule), channels the padded copy unrolls in parts
    ("qdepthwise_conv2d_nhwc", dict(N=2, H=7, W=8, C=6, depth_multiplier=2, KH=3, KW=2, stride_h=2, stride_w=2,
                                    pad_top=0, pad_bottom=1, pad_left=1, pad_right=0, x_zero_point=-128)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=6, W=5, C=3, KH=2, KW=3, stride_w=1, pad_left=2, pad_right=1,
                                    out_zero_point=7, qmin=-60, qmax=90)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=8, W=8, C=4, KH=6, KW=5, x_zero_point=3, fold_x_zero_point=True)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=9, W=8, C=4, depth_multiplier=2, KH=3, stride_h=2, stride_w=2,
                                    pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, x_zero_point=-7,
                                    fold_x_zero_point=True)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=6, W=7, C=8, KH=2, KW=5, pad_left=2, pad_right=2, out_zero_point=-3)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=4, W=4, C=96, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1,
                                    x_zero_point=-128, out_zero_point=-128, fold_x_zero_point=True)),
])
def test_qconv_hand_schedule_is_exact_on_host(op, attrs, exts):
    import codegen_c
    import ops
    import tir
    from schedules.hand import qconv

    wl = ops.get(op)(**attrs)
    func = tir.lower(*qconv(wl, exts))
    rng = np.random.default_rng(len(attrs))
    n = wl.inputs[2].shape[0]
    ins = [rng.integers(-128, 128, wl.inputs[0].shape).astype(np.int8),
           rng.integers(-127, 128, wl.inputs[1].shape).astype(np.int8),
           rng.integers(-2**20, 2**20, n).astype(np.int32), rng.integers(1 << 30, 1 << 31, n).astype(np.int32),
           rng.integers(-20, 3, n).astype(np.int32)]
    out = np.zeros(wl.output.shape, np.int8)
    codegen_c.build(func, "host")(*ins, out)
    assert np.array_equal(out, wl.ref(*ins))


def test_xor_example_prints_emlearns_lines_and_matches_the_reference(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "xor.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("xor(")]
    assert lines == ["xor(0,0) = 0", "xor(255,0) = 1", "xor(0,255) = 1", "xor(255,255) = 0"]
    # the same int8 model on the SoC equals the numpy reference (TFLite arithmetic) on every input pair
    from frontend import from_onnx
    from frontend.compile import int8_core

    g = int8_core(from_onnx(tmp_path / "xor_int8.onnx"))
    xs = np.stack(np.meshgrid(np.arange(-128, 128, 15), np.arange(-128, 128, 15)), -1).reshape(-1, 1, 2)
    r = run_model(g.compile("vexriscv", extensions=("dot4_i8", "requant_i8")), xs.astype(np.int8))
    assert np.array_equal(r.outputs, np.stack([g.evaluate(x.astype(np.int8))[0] for x in xs]))


def test_broadcasting_add_equals_tflm_on_host_and_soc():
    """TFLite's ADD broadcasts (a per-channel constant here, and an add of two activations of different
    shapes): reference, host C and the SoC equal TFLM."""
    from frontend.graph import Graph, Node, QuantParams, Value

    rng = np.random.default_rng(11)
    q = lambda s, z: QuantParams((s,), (z,))  # noqa: E731
    vals = {"x": Value("x", (1, 4, 4, 3), "int8", q(0.05, -3)),
            "c": Value("c", (3,), "int8", q(0.02, 4), rng.integers(-128, 128, 3).astype(np.int8)),
            "s": Value("s", (1, 4, 4, 3), "int8", q(0.06, -1)),
            "p": Value("p", (1, 1, 1, 3), "int8", q(0.06, -1)),
            "y": Value("y", (1, 4, 4, 3), "int8", q(0.1, 2))}
    nodes = [Node("add", ("x", "c"), ("s",), {"activation": "none"}, 0, "TFLite operator 0 (ADD)"),
             Node("max_pool2d", ("s",), ("p",), {"filter": (4, 4), "stride": (4, 4), "padding": (0, 0, 0, 0),
                                                 "activation": "none"}, 1, "TFLite operator 1 (MAX_POOL_2D)"),
             Node("add", ("s", "p"), ("y",), {"activation": "relu"}, 2, "TFLite operator 2 (ADD)")]
    g = Graph("badd", vals, nodes, ["x"], ["y"])
    interp = _tflm(to_tflite(g))
    xs = rng.integers(-128, 128, (3, 1, 4, 4, 3)).astype(np.int8)
    want = np.stack([_tflm_run(interp, x) for x in xs])
    assert np.array_equal(np.stack([g.evaluate(x)[0] for x in xs]), want)
    assert np.array_equal(run_host(g.compile("host"), xs[0]), want[0])
    assert np.array_equal(run_model(g.compile("vexriscv"), xs).outputs, want)

