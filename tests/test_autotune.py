"""The autotuner core: spaces, tasks, measurement (real vexriscv simulation), tuners, records, CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import codegen_c
from schedules import autotune
from schedules.autotune.records import RecordWarning, load_records
from schedules.autotune.space import ConfigSpace, _config_context
from simulator import run as sim_run
from simulator.measure import make_measure, toolchain_of

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (16, 16, 16)


@pytest.fixture(scope="module")
def task():
    return autotune.create_task("matmul_i8", SHAPE, "vexriscv")


@pytest.fixture(scope="module")
def measure():
    with make_measure("vexriscv", n_parallel=2) as m:
        yield m


class CountingMeasure:
    """A real measure function that remembers every config it was asked to measure."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[int] = []

    def __call__(self, task, configs):
        self.calls += [c.index for c in configs]
        return self.inner(task, configs)


def _best_index(task) -> int:
    """The config that the templates' structure makes fastest: a 4x4 mac4 tile with zig -O2."""
    sp = task.config_space
    return sp.index_of({"tile_a": [4, 4], "tile_b": [4, 4], "unroll": ["none", "none"],
                        "tensorize": "mac4_i8", "k_steps": 1, "cfu_emit": "c", "compiler": "zig:-O2"})


# --- space -------------------------------------------------------------------------------------------

def test_space_size_index_sample(task):
    sp = task.config_space
    assert list(sp.knobs) == ["tile_a", "tile_b", "unroll", "tensorize", "k_steps", "cfu_emit", "compiler"]
    assert len(sp) == math.prod(len(k) for k in sp.knobs.values()) == 3 * 3 * 4 * 3 * 3 * 2 * 5
    assert sp.knobs["k_steps"].choices == [1, 2, SHAPE[2] // 4]  # 1, 2 or the whole reduction
    assert sp.knobs["cfu_emit"].choices == ["c", "asm"]
    assert sp.knobs["tensorize"].choices == [None, "dot4_i8", "mac4_i8"]
    assert sp.knobs["compiler"].choices == list(autotune.DEFAULT_COMPILERS)
    for i in range(len(sp)):
        d = sp.decompose(i)
        assert sp.compose(d) == i
        assert all(0 <= c < len(k) for c, k in zip(d, sp.knobs.values()))
    assert [c.index for c in sp] == list(range(len(sp)))
    rng = np.random.default_rng(0)
    excl = set(range(0, len(sp) - 32))
    s = sp.sample(rng, 50, exclude=excl)
    assert len(s) == len(set(s)) == 32 and not set(s) & excl  # only 32 left
    s = sp.sample(rng, 20)
    assert len(set(s)) == 20
    with pytest.raises(autotune.AutotuneError):
        sp.get(len(sp))


def test_config_json_roundtrip_and_str(task):
    sp = task.config_space
    for i in (0, 7, 211, len(sp) - 1):
        cfg = sp.get(i)
        js = json.loads(json.dumps(cfg.to_json()))
        assert sp.from_json(js).index == i
        assert autotune.ConfigEntity.from_json(js, sp) == cfg
    cfg = sp.get(_best_index(task))
    assert str(cfg) == ("tile_a=[4, 4], tile_b=[4, 4], unroll=[none, none], tensorize=mac4_i8, k_steps=1, "
                        "cfu_emit=c, compiler=zig:-O2")
    assert cfg["tile_a"].size == [4, 4] and cfg["compiler"].val == "zig:-O2"
    bad = cfg.to_json()
    bad["index"] += 1
    with pytest.raises(autotune.AutotuneError, match="does not match"):
        sp.from_json(bad)


def test_knob_policies():
    import tir

    x = tir.compute((24,), lambda i: tir.const(0, "int32"), name="x")
    sp = ConfigSpace()
    with _config_context(sp):
        cfg = autotune.get_config()
        cfg.define_split("f", x.op.axis[0], num_outputs=2)
        cfg.define_split("f3", x.op.axis[0], num_outputs=3)
        cfg.define_split("p2", 24, num_outputs=2, policy="power2")
        cfg.define_split("c", 24, policy="candidate", candidate=[[6, 4], [3, 8]])
        cfg.define_reorder("r", [1, 2, 3])
        cfg.define_annotate("a", [1, 2])
        cfg.define_knob("compiler", ["zig:-O2", "gcc:-O2:-fno-schedule-insns"])
    assert sp.knobs["f"].choices == [(1, 24), (2, 12), (3, 8), (4, 6), (6, 4), (8, 3), (12, 2), (24, 1)]
    assert all(math.prod(c) == 24 for c in sp.knobs["f3"].choices) and len(sp.knobs["f3"]) == 30
    assert sp.knobs["p2"].choices == [(24, 1), (12, 2), (6, 4), (3, 8), (2, 16)]
    assert len(sp.knobs["r"]) == 6 and len(sp.knobs["a"]) == 4 and len(sp.knobs["c"]) == 2
    assert autotune.parse_compiler("gcc:-O2:-fno-schedule-insns") == ("gcc", "-O2", ("-fno-schedule-insns",))
    assert toolchain_of(sp.get(len(sp) - 1)).extra_flags == ("-fno-schedule-insns",)


def test_same_config_same_c_text(task):
    sp = task.config_space
    for i in (0, _best_index(task), 123):
        a = codegen_c.emit(task.lower(sp.get(i)), "rv32im")
        b = codegen_c.emit(autotune.task.Task("matmul_i8", SHAPE, "vexriscv").lower(i), "rv32im")
        assert a == b
    assert task.key == "matmul_i8[16,16,16]@vexriscv"
    ins = task.make_inputs(3)
    assert [a.shape for a in ins] == [(16, 16), (16, 16), (16, 16)] and not ins[2].any()
    assert all(np.array_equal(a, b) for a, b in zip(ins, task.make_inputs(3)))


# --- tuners -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tuner_cls", [autotune.RandomTuner, autotune.GridSearchTuner, autotune.GATuner])
def test_tuners_find_valid_config(task, measure, tuner_cls, tmp_path):
    counting = CountingMeasure(measure)
    kw = {"pop_size": 4, "elite_num": 1} if tuner_cls is autotune.GATuner else {}
    tuner = tuner_cls(task, seed=1, **kw)
    res = tuner.tune(12, counting, batch_size=4)
    assert len(res.history) == 12 and len(set(counting.calls)) == 12 == len(counting.calls)
    assert res.best_config is not None and res.best_cost > 0
    valid = [r for _, _, r in res.history if r.valid]
    assert res.best_cost == min(r.cost for r in valid)
    assert tuner.best_config.index in tuner.visited and len(tuner.visited) == 12


def test_ga_improves_over_generations(task, measure):
    tuner = autotune.GATuner(task, pop_size=6, elite_num=2, mutation_prob=0.2, seed=3)
    res = tuner.tune(24, measure, batch_size=6)
    first = min((r.cost for _, _, r in res.history[:6] if r.valid), default=math.inf)
    assert res.best_cost <= first and tuner.generation >= 4


# --- records and resume -----------------------------------------------------------------------------------

class Killed(Exception):
    pass


def test_resume_never_remeasures(task, measure, tmp_path):
    path = tmp_path / "run.jsonl"
    first = CountingMeasure(measure)

    def kill_after_two_batches(tuner, configs, results):
        if len(tuner.history) >= 6:
            raise Killed

    with pytest.raises(Killed):
        autotune.RandomTuner(task, seed=0).tune(20, first, records=path, batch_size=3,
                                                callbacks=[kill_after_two_batches])
    assert len(first.calls) == 6
    recs, problems = load_records(path)
    assert len(recs) == 6 and not problems
    with open(path, "a") as f:  # the kill interrupted a write
        f.write('{"task": "matmul_i8[16,16,16]@vexri')

    second = CountingMeasure(measure)
    with pytest.warns(RecordWarning, match="line 7"):
        res = autotune.GATuner(task, pop_size=4, seed=5).tune(14, second, records=path, batch_size=4)
    assert res.n_resumed == 6 and res.n_measured == 8 == len(second.calls)
    assert not set(first.calls) & set(second.calls)
    assert [p.line_no for p in res.problems] == [7]
    recs, problems = load_records(path, warn=False)
    assert len(recs) == 14 and len({r.config_index for r in recs}) == 14
    assert [p.line_no for p in problems] == [7]  # reported, and it did not swallow the next record
    assert {r.tuner for r in recs} == {"random", "ga"}

    third = CountingMeasure(measure)  # already complete: nothing to do
    with pytest.warns(RecordWarning, match="line 7"):
        res = autotune.RandomTuner(task).tune(14, third, records=path)
    assert third.calls == [] and len(res.history) == 14


def test_xgb_resumes_after_a_kill_with_real_measurements(task, measure, tmp_path):
    """XGBTuner (random start, the prior on) killed after its first plan resumes from the records:
    nothing measured twice, the model refitted from the records, and every record says which source
    proposed its config."""
    path = tmp_path / "xgb.jsonl"
    first = CountingMeasure(measure)

    def kill_after_twelve(tuner, configs, results):
        if len(tuner.history) >= 12:
            raise Killed

    with pytest.raises(Killed):
        autotune.XGBTuner(task, plan_size=8, seed=0, initial="random").tune(
            20, first, records=path, batch_size=4, callbacks=[kill_after_twelve])
    assert len(first.calls) == 12
    second = CountingMeasure(measure)
    tuner = autotune.XGBTuner(task, plan_size=8, seed=0, initial="random")
    res = tuner.tune(20, second, records=path, batch_size=4)
    assert res.n_resumed == 12 and res.n_measured == 8 == len(second.calls)
    assert not set(first.calls) & set(second.calls)
    assert tuner.model.trained and res.report["picks"]["random"] <= 8
    recs, problems = load_records(path)
    assert len(recs) == 20 and not problems and len({r.config_index for r in recs}) == 20
    sources = [r.result.extra["tuner_pick"]["source"] for r in recs]
    assert sources[:8].count("random") >= 7 and set(sources[12:]) - {"random"}  # the model planned after the kill


def test_corrupt_records_are_reported(task, tmp_path):
    path = tmp_path / "bad.jsonl"
    cfg = task.config_space.get(5)
    good = {"task": task.key, "template": task.name, "args": list(task.args), "target": task.target,
            "config": cfg.to_json(), "result": autotune.MeasureResult(5, 1000.0).to_json(), "timestamp": 0.0,
            "versions": {}}
    lines = [json.dumps(good), "garbage {{{", json.dumps({"task": 1}), "", json.dumps(good), json.dumps(good)[:40]]
    path.write_text("\n".join(lines))
    with pytest.warns(RecordWarning) as w:
        recs, problems = load_records(path)
    assert [r.line_no for r in recs] == [1, 5]
    assert [p.line_no for p in problems] == [2, 3, 6]
    assert "not valid JSON" in problems[0].reason and "missing field" in problems[1].reason
    assert "truncated" in problems[2].reason
    assert len(w) == 3 and "line 2" in str(w[0].message)
    with pytest.warns(RecordWarning):
        hb = autotune.apply_history_best(path)
    assert hb.best(task) == (cfg, 1000.0) and [p.line_no for _, p in hb.problems] == [2, 3, 6]


def test_records_of_an_older_space_are_reported_not_resumed(task, tmp_path):
    """A template that gained a knob: its old records name no config of the new space."""
    path = tmp_path / "old.jsonl"
    cfg = task.config_space.get(5).to_json()
    old_knobs = {k: v for k, v in cfg["knobs"].items() if k != "cfu_emit"}
    rec = {"task": task.key, "template": task.name, "args": list(task.args), "target": task.target,
           "config": {"index": 5, "knobs": old_knobs}, "result": autotune.MeasureResult(5, 1000.0).to_json(),
           "timestamp": 0.0, "versions": {}}
    path.write_text(json.dumps(rec) + "\n")
    fake = CountingMeasure(lambda t, cs: [autotune.MeasureResult(c.index, 2000.0 + c.index) for c in cs])
    with pytest.warns(RecordWarning, match="no longer fits"):
        res = autotune.RandomTuner(task, seed=0).tune(3, fake, records=path)
    assert res.n_resumed == 0 and len(fake.calls) == 3
    assert [p.line_no for p in res.problems] == [1] and "cfu_emit" in res.problems[0].reason


# --- measurement checks ----------------------------------------------------------------------------------

BEST = {}


def corrupt_best(config_index, outputs):
    if config_index == BEST["index"]:
        outputs[0][3, 5] += 1


def test_wrong_kernel_is_caught(task):
    BEST["index"] = best = _best_index(task)
    sp = task.config_space
    others = [i for i in sp.sample(np.random.default_rng(0), 5, exclude={best})]
    with make_measure("vexriscv", n_parallel=1, corrupt=corrupt_best) as m:
        res = m(task, [sp.get(best)] + [sp.get(i) for i in others])
        assert res[0].error == "wrong_result" and res[0].cost is None and not res[0].valid
        assert "[3, 5]" in res[0].message
        tuner = autotune.GridSearchTuner(task)
        tuner.next_batch = lambda n: [sp.get(i) for i in [best, *others] if i not in tuner.visited][:n]
        out = tuner.tune(6, m)
    assert out.best_config.index != best and out.best_config.index in others
    with make_measure("vexriscv", n_parallel=1) as m:
        honest = m(task, [sp.get(best)])[0]
    assert honest.valid and honest.cost < out.best_cost  # the wrong kernel was really the fastest
    flip = make_measure("vexriscv", n_parallel=1, corrupt="flip_first")(task, [sp.get(others[0])])[0]
    assert flip.error == "wrong_result"


def test_error_classes(task):
    sp = task.config_space
    big_mac = sp.index_of({"tile_a": [2, 8], "tile_b": [2, 8], "unroll": ["none", "none"],
                           "tensorize": "mac4_i8", "k_steps": 1, "cfu_emit": "c", "compiler": "zig:-O2"})
    with make_measure("vexriscv", n_parallel=1, timeout_cycles=500) as m:
        build, timeout = m(task, [sp.get(big_mac), sp.get(_best_index(task))])
    assert build.error == "build" and "16 accumulators" in build.message
    assert timeout.error == "timeout"


def test_local_cluster_matches_local_pool(task, measure):
    distributed = pytest.importorskip("distributed")
    sp = task.config_space
    configs = [sp.get(i) for i in (0, _best_index(task), 17, 300)]
    local = measure(task, configs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with make_measure("vexriscv", scheduler=cluster.scheduler_address) as m:
            remote = m(task, configs)
    assert [(r.config_index, r.cost, r.error) for r in remote] == [(r.config_index, r.cost, r.error) for r in local]
    assert all(r.valid for r in remote)


def test_apply_history_best(task, measure, tmp_path):
    path = tmp_path / "h.jsonl"
    res = autotune.RandomTuner(task, seed=7).tune(8, measure, records=path)
    hb = autotune.apply_history_best(path)
    cfg, cost = hb.best(task)
    assert cfg == res.best_config and cost == res.best_cost
    s, args = hb.schedule(task)
    import tir

    func = tir.lower(s, args, "best")
    arrays = task.make_inputs(11)
    r = sim_run(func, arrays, "vexriscv", toolchain=toolchain_of(cfg))
    np.testing.assert_array_equal(arrays[2], task.reference(arrays)[0])
    assert r.cycles == cost  # the same kernel, the same cycle count (inputs do not change timing)


# --- CLI --------------------------------------------------------------------------------------------------

def test_cli_tune_best_plot(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    f = tmp_path / "f.jsonl"
    py = [sys.executable, "-m", "isaforge"]
    p = subprocess.run([*py, "tune", "matmul_nt", "--shape", "16,16,16", "--trials", "8", "--tuner", "random",
                        "--records", str(f), "--parallel", "2"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "8/8 best cycles" in p.stderr and "matmul_i8[16,16,16]@vexriscv" in p.stdout
    assert len(f.read_text().splitlines()) == 8
    p = subprocess.run([*py, "best", str(f)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("matmul_i8[16,16,16]@vexriscv\t") and "compiler=" in p.stdout
    png = tmp_path / "curve.png"
    p = subprocess.run([*py, "plot", str(f), "-o", str(png)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
