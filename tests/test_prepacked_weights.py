"""Weights packed offline: the row schedules of ``schedules.hand.qconv`` (``_qconv_rows`` for
convolutions whose channels are not a multiple of the lanes, ``_qdw_rows`` for depthwise layers)
read their packed weight rows ``Wp`` from an input when ``packed_weights=True``; the model compiler
passes them as ``static const`` arrays packed in numpy, so no kernel repacks constants per inference."""

from __future__ import annotations

import re

import numpy as np
import pytest

import codegen_c
import ops
import tir
from frontend import quantize
from frontend.compile import ALIAS_OPS, _c_array, run_host
from frontend.lowering import node_op
from frontend.run import run_model
from frontend.zoo import kws_calibration, kws_float
from schedules import hand

UNIT_EXTS = [("dot4_i8",), ("dot4_i8", "requant_i8"), ("mac4_i8",), ("mac4_i8", "requant_i8")]

# shapes that take the row schedules (channels not a multiple of the lanes; depthwise windows)
ROW_SHAPES = [
    ("qconv2d_nhwc", dict(N=1, H=49, W=10, C=1, F=8, KH=10, KW=4, stride_h=2, stride_w=2, out_zero_point=-128,
                          fold_x_zero_point=True)),
    ("qconv2d_nhwc", dict(N=1, H=9, W=7, C=1, F=6, KH=3, KW=3, stride_h=2, stride_w=1, pad_top=1, pad_bottom=1,
                          pad_left=0, pad_right=2, x_zero_point=-5, out_zero_point=3, fold_x_zero_point=True)),
    ("qconv2d_nhwc", dict(N=2, H=7, W=6, C=3, F=5, KH=2, KW=3, stride_h=1, stride_w=2, pad_top=1, pad_bottom=0,
                          pad_left=1, pad_right=1, out_zero_point=-2, qmin=-50, qmax=100)),
    ("qconv2d_nhwc", dict(N=1, H=7, W=20, C=1, F=4, KH=5, KW=16, stride_w=3, out_zero_point=1)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=5, W=4, C=8, KH=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1,
                                    x_zero_point=11, out_zero_point=-128, fold_x_zero_point=True)),
    ("qdepthwise_conv2d_nhwc", dict(N=2, H=7, W=8, C=6, depth_multiplier=2, KH=3, KW=2, stride_h=2, stride_w=2,
                                    pad_top=0, pad_bottom=1, pad_left=1, pad_right=0, x_zero_point=-128,
                                    fold_x_zero_point=True)),
    ("qdepthwise_conv2d_nhwc", dict(N=1, H=6, W=7, C=8, KH=2, KW=5, pad_left=2, pad_right=2, out_zero_point=-3)),
]

_WP_STORE = re.compile(r"\bWp\[[^\]]*\] =")


def _inputs(wl, rng):
    n = wl.inputs[2].shape[0]
    return [rng.integers(-128, 128, wl.inputs[0].shape).astype(np.int8),
            rng.integers(-127, 128, wl.inputs[1].shape).astype(np.int8),
            rng.integers(-2**20, 2**20, n).astype(np.int32), rng.integers(1 << 30, 1 << 31, n).astype(np.int32),
            rng.integers(-20, 3, n).astype(np.int32)]


@pytest.mark.parametrize("lanes", [4, 8])
@pytest.mark.parametrize("op,attrs", ROW_SHAPES)
def test_numpy_packing_equals_the_packing_stage(op, attrs, lanes):
    wl = ops.get(op)(**attrs)
    te = hand._qconv_rows_te if op == "qconv2d_nhwc" else hand._qdw_rows_te
    pack = hand.pack_rows_weights_np if op == "qconv2d_nhwc" else hand.pack_dw_rows_weights_np
    Wp = te(wl, lanes)[1]
    w = np.random.default_rng(lanes).integers(-128, 128, wl.inputs[1].shape).astype(np.int8)
    want = tir.evaluate(Wp, {wl.inputs[1]: w})
    got = pack(w, lanes)
    assert got.dtype == np.int8 and got.shape == tuple(Wp.shape)
    assert np.array_equal(got, want)
    # the placeholder variant has the packed shape
    assert tuple(te(wl, lanes, packed_weights=True)[1].shape) == got.shape


@pytest.mark.parametrize("exts", UNIT_EXTS)
@pytest.mark.parametrize("op,attrs", ROW_SHAPES)
def test_prepacked_kernel_is_exact_and_does_not_pack(op, attrs, exts):
    wl = ops.get(op)(**attrs)
    packers = hand.prepacked_weights(wl, exts)
    assert list(packers) == [1]
    s, args = hand.qconv(wl, exts, packed_weights=True)
    assert args[1] is not wl.inputs[1] and args[1].name == "Wp"
    func = tir.lower(s, args)
    assert not _WP_STORE.search(codegen_c.emit(func, "host"))
    ins = _inputs(wl, np.random.default_rng(len(attrs)))
    out = np.zeros(wl.output.shape, np.int8)
    codegen_c.build(func, "host")(ins[0], packers[1](ins[1]), *ins[2:], out)
    assert np.array_equal(out, wl.ref(*ins))
    # the default (weights as given) still packs them per call
    assert _WP_STORE.search(codegen_c.emit(tir.lower(*hand.qconv(wl, exts)), "host"))


def test_no_prepacking_without_a_row_schedule():
    wl = ops.get("qconv2d_nhwc")(N=1, H=6, W=5, C=8, F=6, KH=3)
    assert hand.prepacked_weights(wl, ("dot4_i8",)) == {}
    assert hand.prepacked_weights(ops.get(ROW_SHAPES[0][0])(**ROW_SHAPES[0][1]), ()) == {}
    s, args = hand.qconv(wl, ("dot4_i8",), packed_weights=True)
    assert list(args[:-1]) == list(wl.inputs)


@pytest.fixture(scope="module")
def small_ds_cnn():
    return quantize(kws_float(seed=2, blocks=1, channels=8), kws_calibration(4))


@pytest.mark.parametrize("exts", [("dot4_i8", "requant_i8"), ("mac4_i8", "requant_i8")])
def test_compiled_model_has_packed_constants_and_is_exact(small_ds_cnn, exts):
    q = small_ds_cnn
    compiled = q.compile("vexriscv", extensions=exts)
    src = compiled.source
    assert not _WP_STORE.search(src)  # no kernel packs weights at run time
    kernels = re.findall(r"void (isaforge_k\d+_\w+)\(([^)]*)\)", src)
    packed = [k for k, sig in kernels if "int8_t *restrict Wp" in sig]
    assert any("qconv2d" in k for k in packed) and any("qdepthwise" in k for k in packed)
    # each row kernel's packed weights are a word-aligned constant of the unit
    for node in q.nodes:
        if node.op in ALIAS_OPS:
            continue
        call = node_op(q, node)
        if call.op_name not in ("qconv2d_nhwc", "qdepthwise_conv2d_nhwc"):
            continue
        wl = ops.get(call.op_name)(**call.attrs)
        packers = hand.prepacked_weights(wl, exts)
        assert packers
        arr = packers[1](call.inputs[1]).astype(np.int8)
        body = _c_array("isaforge_cX", arr).split("isaforge_cX", 1)[1]
        assert "__attribute__((aligned(16)))" in body and body in src
    x = np.random.default_rng(7).integers(-128, 128, (1, 1, 49, 10, 1)).astype(np.int8)
    want = q.evaluate(x[0])[0]
    assert np.array_equal(run_host(q.compile("host", extensions=exts), x[0]), want)
    assert np.array_equal(run_model(compiled, x).outputs[0], want)


@pytest.mark.parametrize("exts", [("dot4_i8", "requant_i8"), ("mac4_i8",)])
def test_records_scheduled_kernels_take_their_weights_pre_packed(small_ds_cnn, exts, tmp_path):
    """compile(records=...) applies tuned configs with the constant weights packed offline as well: a
    non-default config of every conv / depthwise task (tile knob), recorded, gives kernels that read
    ``Wp`` and never write it; the model is exact on host and on the simulated VexRiscv."""
    from frontend.tasks import extract_tasks
    from schedules.autotune.qnn_templates import schedule_workload, synthetic_attrs, workload_packers
    from schedules.autotune.records import RecordWriter, make_record
    from simulator.measure import MeasureResult

    q = small_ds_cnn
    records = tmp_path / "r.jsonl"
    tasks = [t for t in extract_tasks(q, "vexriscv", ",".join(exts)) if t.name != "qdense"]
    assert tasks
    with RecordWriter(records) as w:
        for t in tasks:
            cfg = next(c for c in t.config_space if c["tile"].val != "hand" and c["dot_unit"].val)
            w.write(make_record(t, cfg, MeasureResult(cfg.index, 1000.0), tuner="test"))
            # the config's schedule reads packed weights and packs nothing itself
            wl = ops.get(t.name)(**synthetic_attrs(t.name, t.args))
            assert list(workload_packers(t, cfg, wl)) == [1]
            s, args = schedule_workload(t, cfg, wl, packed_weights=True)
            assert args[1].name == "Wp" and not _WP_STORE.search(codegen_c.emit(tir.lower(s, args), "host"))
    compiled = q.compile("vexriscv", records=records, extensions=exts)
    assert compiled.schedules.count("record") >= len(tasks)
    assert not _WP_STORE.search(compiled.source)
    x = np.random.default_rng(8).integers(-128, 128, (1, 1, 49, 10, 1)).astype(np.int8)
    want = q.evaluate(x[0])[0]
    assert np.array_equal(run_host(q.compile("host", records=records, extensions=exts), x[0]), want)
    assert np.array_equal(run_model(compiled, x).outputs[0], want)
