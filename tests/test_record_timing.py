"""Records and the timing of their target: a cost measured under another timing of the target (say
``vexriscv`` before its calibration to one wait state) is reported and measured again, never resumed
or applied as one of today's; a record from before the field existed loads as before. No SoC runs:
fake measure functions, as the tuner-logic tests elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import codegen_c
from codegen_c.rv32 import VEXRISCV_IDEAL, VexRiscvIdealTarget, VexRiscvTarget
from codegen_c.target import get_target
from isaforge.errors import ExportError
from isaforge.export_records import kernel_from_records
from schedules import autotune
from schedules.autotune.records import (
    RecordWarning,
    RecordWriter,
    SharedRecords,
    TimingProblem,
    best_records,
    load_records,
    make_record,
    parse_record,
)
from schedules.autotune.xgb_tuner import XGBTuner

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("host", "verilator", "vexriscv", "rv32im", "vexriscv_ideal", "vexriscv_sdram", "litex_sim",
           "litex_sim_sdram")
OLD = VEXRISCV_IDEAL.timing_key()  # vexriscv's timing before its calibration: an ideal RAM


@pytest.fixture(scope="module")
def task():
    return autotune.create_task("matmul_i8", (16, 16, 16), "vexriscv")


class CountingMeasure:
    """A fake measure (cost from the index) that remembers every config it was asked to measure."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, task, configs):
        self.calls += [c.index for c in configs]
        return [autotune.MeasureResult(c.index, 2000.0 + c.index) for c in configs]


def _record(task, index: int, cost: float, timing="now"):
    """A record of ``index``; ``timing``: "now" (today's), "old" (the ideal RAM's), None (a line from
    before the field existed)."""
    rec = make_record(task, task.config_space.get(index), autotune.MeasureResult(index, cost), "t")
    if timing == "old":
        rec.timing = OLD
    elif timing is None:
        rec.timing = None
    return rec


def _write(path: Path, recs) -> Path:
    with RecordWriter(path) as w:
        for r in recs:
            w.write(r)
    return path


def _steer(tuner, order):
    """Make ``tuner`` propose the configs of ``order`` first (then the rest of the space)."""
    sp = tuner.space
    tuner.next_batch = lambda n: [sp.get(i) for i in [*order, *range(len(sp))] if i not in tuner.visited][:n]
    return tuner


# --- the fingerprint --------------------------------------------------------------------------------------

def test_timing_key_follows_what_sets_the_cycles():
    vex, ideal, sdram = (get_target(n).timing_key() for n in ("vexriscv", "vexriscv_ideal", "vexriscv_sdram"))
    assert len({vex, ideal, sdram}) == 3 and all(len(k) == 12 for k in (vex, ideal, sdram))  # 1 / 0 wait states, L2
    assert get_target("rv32im").timing_key() == vex == VexRiscvTarget().timing_key()  # alias, another instance
    assert VexRiscvIdealTarget().timing_key() == ideal
    assert get_target("host").timing_key() == "" == get_target("verilator").timing_key()  # no cycle model
    assert get_target("litex_sim").timing_key() != get_target("litex_sim_sdram").timing_key()
    assert "wait_states=0" in VEXRISCV_IDEAL.describe_timing()

    class Slower(VexRiscvTarget):
        wait_states = 3

    assert Slower().timing_key() not in (vex, ideal)
    code = ("import codegen_c, json; from codegen_c.target import get_target; "
            f"print(json.dumps({{n: get_target(n).timing_key() for n in {list(TARGETS)!r}}}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123", "PATH": ""})
    assert json.loads(out.stdout) == {n: codegen_c.get_target(n).timing_key() for n in TARGETS}


def test_records_store_the_timing_and_old_lines_load(task, tmp_path):
    rec = _record(task, 3, 100.0)
    assert rec.timing == get_target("vexriscv").timing_key() and rec.to_json()["timing"] == rec.timing
    assert parse_record(json.dumps(rec.to_json())).timing == rec.timing
    old = rec.to_json()
    del old["timing"]  # a line written before records had the field
    assert parse_record(json.dumps(old)).timing is None
    with pytest.raises(ValueError, match="timing must be a string"):
        parse_record(json.dumps(dict(old, timing=1)))
    host = autotune.create_task("matmul_i8", (16, 16, 16), "host")
    assert make_record(host, host.config(0), autotune.MeasureResult(0, 1.0)).timing == ""
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(old) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all for an old file
        recs, problems = load_records(path)
    assert [r.config_index for r in recs] == [3] and not problems


# --- resume, apply, best ------------------------------------------------------------------------------------

def test_a_record_of_another_timing_is_measured_again(task, tmp_path):
    path = _write(tmp_path / "r.jsonl", [_record(task, 5, 100.0), _record(task, 6, 50.0, "old"),
                                         _record(task, 7, 70.0, None)])
    fake = CountingMeasure()
    with pytest.warns(RecordWarning, match=r"line 2: measured under another timing of target 'vexriscv' .*"
                                           r"wait_states=1.*: measured again"):
        res = _steer(autotune.RandomTuner(task), [6, 5, 7, 8]).tune(4, fake, records=path)
    assert res.n_resumed == 2 and fake.calls == [6, 8]  # 5 (today's timing) and 7 (no field) resumed
    assert [(type(p), p.line_no, p.timing) for p in res.problems] == [(TimingProblem, 2, OLD)]
    assert res.best_cost == 70.0 and dict((i, r.cost) for _, i, r in res.history)[6] == 2006.0
    recs, problems = load_records(path, warn=False)
    assert [r.config_index for r in recs] == [5, 7, 6, 8] and [p.line_no for p in problems] == [2]

    again = CountingMeasure()  # the config is measured now: a resume takes today's record of it
    with pytest.warns(RecordWarning, match="line 2: measured under another timing"):
        res = autotune.RandomTuner(task).tune(4, again, records=path)
    assert again.calls == [] and res.n_resumed == 4


def test_many_stale_records_are_one_warning(task, tmp_path):
    path = _write(tmp_path / "r.jsonl", [_record(task, i, 10.0 + i, "old") for i in range(20)])
    with pytest.warns(RecordWarning) as w:
        recs, problems = load_records(path)
    assert not recs and len(problems) == 20 and all(isinstance(p, TimingProblem) for p in problems)
    assert len(w) == 1 and "20 records (lines 1, 2, 3, 4, 5, 6, 7, 8, ...)" in str(w[0].message)
    assert load_records(path, check_timing=False)[0][0].timing == OLD  # kept on request (transfer learning)


def test_load_history_and_leases_skip_another_timing(task, tmp_path):
    tuner = autotune.RandomTuner(task)
    problems: list = []
    with pytest.warns(RecordWarning, match="another timing"):
        n = tuner.load_history([_record(task, 1, 10.0), _record(task, 2, 5.0, "old")], problems)
    assert n == 1 and tuner.visited == {1} and tuner.best_cost == 10.0 and [p.timing for p in problems] == [OLD]
    path = _write(tmp_path / "r.jsonl", [_record(task, 1, 10.0), _record(task, 2, 5.0, "old")])
    with SharedRecords(path, task) as shared:
        assert shared.claim([1, 2]) == [2]  # a stale record does not block its config
        recs, probs = shared.take_new()
        assert [r.config_index for r in recs] == [1] and [p.line_no for p in probs] == [2]


def test_apply_history_best_ignores_another_timing(task, tmp_path):
    path = _write(tmp_path / "r.jsonl", [_record(task, 5, 100.0), _record(task, 6, 50.0, "old"),
                                         _record(task, 7, 70.0, None)])
    with pytest.warns(RecordWarning, match="line 2: measured under another timing of target 'vexriscv'"):
        hb = autotune.apply_history_best(path)
    assert hb.best(task) == (task.config(7), 70.0)  # not the stale 50
    assert [(p.line_no, type(p)) for _, p in hb.problems] == [(2, TimingProblem)]
    assert best_records(path, warn=False)[task.key].config_index == 7
    only = _write(tmp_path / "only.jsonl", [_record(task, 6, 50.0, "old")])
    with pytest.warns(RecordWarning):
        hb = autotune.apply_history_best(only)
    assert task not in hb and hb.best(task) == (None, None)
    with pytest.raises(autotune.AutotuneError, match="no valid record"):
        hb.schedule(task)


def test_export_litex_records_ignores_another_timing(tmp_path):
    task = autotune.create_task("matmul_i8", (8, 8, 16, "dot4_i8"), "vexriscv")
    only = _write(tmp_path / "only.jsonl", [_record(task, 3, 50.0, "old")])
    with pytest.raises(ExportError, match="1 record.*measured under another timing of target 'vexriscv'.*tune"):
        kernel_from_records(only)
    mixed = _write(tmp_path / "mixed.jsonl", [_record(task, 3, 50.0, "old"), _record(task, 5, 90.0)])
    with pytest.raises(ExportError, match=r"all measured under another timing"):
        kernel_from_records(_write(tmp_path / "two.jsonl", [_record(task, 3, 5.0, "old"),
                                                            _record(autotune.create_task(
                                                                "dense_i8", (2, 8, 16, "dot4_i8"), "vexriscv"),
                                                                0, 9.0)]), task=task.key)
    with pytest.warns(RecordWarning, match="line 1: measured under another timing"):
        rk = kernel_from_records(mixed)
    assert rk.config.index == 5 and rk.record.line_no == 2


# --- transfer learning --------------------------------------------------------------------------------------

def test_xgb_transfer_learns_from_another_timing(task):
    """Stale records (this task's own, under the ideal RAM) are a prior; today's are not transfer data."""
    sp = task.config_space
    rng = np.random.default_rng(0)
    picks = [int(i) for i in rng.choice(len(sp), 24, replace=False)]
    stale = [_record(task, i, 1000.0 + i, "old") for i in picks]
    tuner = XGBTuner(task, plan_size=8, seed=0, initial="random", transfer=stale)
    assert tuner.n_transfer_records == tuner.n_transfer_stale > 0 and len(tuner.prior) == 1
    today = XGBTuner(task, plan_size=8, seed=0, initial="random", transfer=[_record(task, i, 1.0) for i in picks])
    assert today.n_transfer_records == 0
