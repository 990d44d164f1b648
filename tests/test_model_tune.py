"""Whole models tuned: extract_tasks (one task per distinct kernel), the quantized-kernel templates
measured on the simulated VexRiscv, records applied by compile_graph to the real kernels, bit for bit
with the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from test_quantize import CNN_CALIBRATION, _cnn_graph

from frontend import FrontendError, quantize, to_tflite
from frontend.run import run_model
from frontend.tasks import extract_tasks, kernel_task
from frontend.zoo import kws_calibration, kws_float, sine_float_path
from schedules import autotune
from schedules.autotune.qnn_templates import schedule_workload
from schedules.autotune.records import RecordWriter, make_record
from simulator.measure import make_measure

EXTS = ("dot4_i8", "requant_i8")


@pytest.fixture(scope="module")
def cnn():
    """test_quantize's CNN without its softmax head: conv (3x3 pad 1), depthwise (multiplier 2, relu6),
    conv, add, pools, dense."""
    g = _cnn_graph()
    g.nodes = g.nodes[:-1]
    g.outputs = [g.nodes[-1].outputs[0]]
    del g.values["prob"]
    return quantize(g, CNN_CALIBRATION)


@pytest.fixture(scope="module")
def measure():
    with make_measure("vexriscv", n_parallel=2) as m:
        yield m


def test_kws_tasks_collapse_repeated_layers():
    g = quantize(kws_float(), kws_calibration())
    tasks = extract_tasks(g, "vexriscv", EXTS)
    assert [(t.name, t.count) for t in tasks] == [("qconv2d_nhwc", 1), ("qdepthwise_conv2d_nhwc", 4),
                                                  ("qdense", 4), ("qdense", 1)]
    conv, dw, pw, fc = tasks
    assert conv.args[:7] == (1, 49, 10, 1, 64, 10, 4) and conv.args[7:9] == (2, 2)
    assert dw.args[:7] == (1, 20, 4, 64, 1, 3, 3) and dw.args[11:15] == (1, 1, 1, 1)
    assert pw.args[:3] == (80, 64, 64) and fc.args[:3] == (1, 12, 64)  # pointwise convs are dense layers
    assert all(t.args[-1] == "dot4_i8,requant_i8" and t.target == "vexriscv" for t in tasks)
    assert dw.kernels == [f"kws node {i} (depthwise_conv2d)" for i in (1, 3, 5, 7)]
    assert pw.weight == 4 * 80 * 64 * 64 and fc.weight == 12 * 64
    # the extensions are part of the task: without them, other tasks (and other spaces)
    plain = extract_tasks(g, "vexriscv")
    assert [t.count for t in plain] == [1, 4, 4, 1] and all(t.args[-1] == "" for t in plain)
    assert len(plain[2].config_space) < len(pw.config_space)
    # a JSON-able key of shapes only (no weights), the same as a kernel's lookup at compile
    assert len(pw.key) < 100 and kernel_task("qdense", {"M": 80, "N": 64, "K": 64}, "requant_i8,dot4_i8").key \
        == pw.key


def _compile_run(g, xs, **kw):
    compiled = g.compile("vexriscv", extensions=EXTS, **kw)
    r = run_model(compiled, xs)
    want = np.stack([g.evaluate(x)[0] for x in xs])
    assert np.array_equal(r.outputs, want)
    return compiled, r


def test_tuned_cnn_is_exact_on_the_simulated_vexriscv(cnn, measure, tmp_path):
    tasks = extract_tasks(cnn, "vexriscv", EXTS)
    assert [t.name for t in tasks] == ["qconv2d_nhwc", "qdepthwise_conv2d_nhwc", "qconv2d_nhwc", "qdense"]
    records = tmp_path / "cnn.jsonl"
    for i, t in enumerate(tasks):
        res = autotune.RandomTuner(t, seed=i).tune(3, measure, records=records)
        assert res.best_cost is not None and res.n_errors == 0
    xs = np.random.default_rng(4).integers(-128, 128, (2, 1, 8, 8, 2)).astype(np.int8)
    compiled, tuned = _compile_run(cnn, xs, records=records)
    assert compiled.schedules == ["record", "record", "record", "hand", "hand", "hand", "record"]
    best = autotune.apply_history_best(records)
    assert [k.task for k in compiled.kernel_info if k.schedule == "record"] == [t.key for t in tasks]
    assert all(k.task in best for k in compiled.kernel_info if k.schedule == "record")
    # resuming the records file measures nothing more
    again = autotune.RandomTuner(tasks[0], seed=0).tune(3, measure, records=records)
    assert again.n_measured == 0 and again.n_resumed == 3


def test_record_config_is_applied_and_absent_tasks_fall_back_to_hand(cnn, measure, tmp_path):
    tasks = extract_tasks(cnn, "vexriscv", EXTS)
    fc = tasks[-1]
    # one record only: the dense layer without the requantizing unit (a config the hand schedule never is)
    cfg = next(c for c in fc.config_space if not c["requant_unit"].val and c["dot_unit"].val)
    res = measure(fc, [cfg.index])[0]
    assert res.valid
    records = tmp_path / "fc.jsonl"
    with RecordWriter(records) as w:
        w.write(make_record(fc, cfg, res, tuner="test"))
    xs = np.random.default_rng(5).integers(-128, 128, (1, 1, 8, 8, 2)).astype(np.int8)
    compiled, _ = _compile_run(cnn, xs, records=records)
    assert compiled.schedules == ["hand"] * 6 + ["record"]
    hand = cnn.compile("vexriscv", extensions=EXTS)
    assert hand.schedules == ["hand"] * 7
    src = {k.name: k for k in compiled.kernel_info}
    fc_c = compiled.source.split(f"void {compiled.kernels[-1]}(")[1].split("\n}\n")[0]
    hand_c = hand.source.split(f"void {hand.kernels[-1]}(")[1].split("\n}\n")[0]
    assert "requant" in hand_c.lower() and "requant" not in fc_c.lower() and fc_c != hand_c, src
    # the record's config rebuilt on the real workload is the template's schedule of it
    import ops

    k = compiled.kernel_info[-1]
    wl = ops.get("qdense")(**k.attrs)
    s, args = schedule_workload(fc, cfg, wl)
    assert args == list(wl.args)
    with pytest.raises(autotune.AutotuneError, match="shape signature"):
        schedule_workload(fc, cfg, ops.get("qdense")(**{**k.attrs, "N": 6}))


def test_bad_records_are_named(cnn, tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(FrontendError, match="nowhere.jsonl"):
        cnn.compile("vexriscv", records=missing, extensions=EXTS)
    with pytest.raises(FrontendError, match="does not exist"):
        cnn.compile("vexriscv", records=str(tmp_path))  # a directory
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert cnn.compile("host", records=empty).schedules == ["hand"] * 7
    # a record of the dense task whose config is not in the template's space (a changed template)
    fc = extract_tasks(cnn, "vexriscv", EXTS)[-1]
    stale = tmp_path / "stale.jsonl"
    with RecordWriter(stale) as w:
        w.write(make_record(fc, fc.config(0), autotune.MeasureResult(0, 100.0), tuner="test"))
    stale.write_text(stale.read_text().replace('"tile":"hand"', '"tile":[3,5]'))
    assert '"tile":[3,5]' in stale.read_text()
    with pytest.raises(FrontendError, match="stale.jsonl.*no longer fits"):
        cnn.compile("vexriscv", records=stale, extensions=EXTS)


def test_tune_model_command_then_run_with_its_records(tmp_path, capsys):
    from isaforge.cli import main

    model = tmp_path / "sine.tflite"
    g = quantize(__import__("frontend").from_tflite(sine_float_path()),
                 np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    model.write_bytes(to_tflite(g))
    records = tmp_path / "sine.jsonl"
    assert main(["tune", str(model), "--records", str(records), "--extensions", "dot4_i8,requant_i8",
                 "--trials", "2", "--tuner", "random", "--parallel", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("qdense[")]
    assert len(rows) == 3 and all(ln.split()[1] == "1" for ln in rows)  # 3 tasks, one kernel each
    recs, _ = autotune.load_records(records)
    assert len(recs) == 6 and {r.config_index for r in recs if r.tuner == "hand"} == {0}
    assert main(["run", str(model), "--records", str(records), "--extensions", "dot4_i8,requant_i8"]) == 0
    assert "3 of 3 kernels from records" in capsys.readouterr().out


def test_one_record_schedules_every_layer_of_its_task_exactly(tmp_path):
    """kws's four pointwise layers (different weights, zero points, multipliers) share one record: on the
    host, the tiled config it holds computes each of them as the numpy reference does."""
    from frontend.compile import run_host

    g = quantize(kws_float(), kws_calibration())
    pw = extract_tasks(g, "host", EXTS)[2]
    cfg = next(c for c in pw.config_space if c["tile"].val == [2, 2] and c["chunk"].val == 4
               and not c["asm"].val and c["dot_unit"].val and c["requant_unit"].val)
    with make_measure("host", n_parallel=1) as m:
        res = m(pw, [cfg.index])[0]
    assert res.valid, res.message
    records = tmp_path / "pw.jsonl"
    with RecordWriter(records) as w:
        w.write(make_record(pw, cfg, res, tuner="test"))
    compiled = g.compile("host", records=records, extensions=EXTS)
    assert [k.node for k in compiled.kernel_info if k.schedule == "record"] == pw.kernels
    for x in np.random.default_rng(6).integers(-128, 128, (2, 1, 49, 10, 1)).astype(np.int8):
        assert np.array_equal(run_host(compiled, x), g.evaluate(x)[0])
