"""Tuning processes at the edges: tuners sharing one records file, kill -9 of a tuner, resuming after it.

The end-to-end tests run ``python -m isaforge tune`` as real processes measuring real configs on the
VexRiscv simulation (a 16x16x16 int8 matmul, a few trials).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schedules import autotune
from schedules.autotune.records import (
    RecordWriter,
    SharedRecords,
    lease_live,
    load_records,
    make_record,
    pid_alive,
    pid_start,
)

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (16, 16, 16)
TASK_KEY = "matmul_i8[16,16,16]@vexriscv"
SUMMARY = re.compile(r"\((\d+) measured, (\d+) resumed, (\d+) shared, (\d+) errors\)")


@pytest.fixture(scope="module")
def task():
    return autotune.create_task("matmul_i8", SHAPE, "vexriscv")


def _record(task, index, cost=1000.0, message=""):
    return make_record(task, task.config_space.get(index), autotune.MeasureResult(index, cost, message=message), "t")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _lease(task, index, pid, owner="someone", **kw):
    now = time.time()
    d = {"task": task.key, "config_index": index, "owner": owner, "pid": pid, "host": os.uname().nodename,
         "pid_start": pid_start(pid), "time": now, "expires": now + 3600}
    d.update(kw)
    return d


# --- leases and locked appends (no measurement) ------------------------------------------------------

def test_leases_are_exclusive_and_end_with_the_record(task, tmp_path):
    path = tmp_path / "r.jsonl"
    a, b = SharedRecords(path, task), SharedRecords(path, task)
    assert a.claim([1, 2, 3]) == [1, 2, 3]
    assert b.claim([2, 3, 4, 4]) == [4]  # 2 and 3 are a's; a repeat is claimed once
    assert b.foreign_leases() == {1, 2, 3} and a.foreign_leases() == set()
    a.write(_record(task, 1))
    b.refresh()
    recs, problems = b.take_new()
    assert [r.config_index for r in recs] == [1] and not problems
    assert b.foreign_leases() == {2, 3}
    assert b.claim([1]) == []  # measured by a: never again
    a.close()  # a's unfulfilled leases (2, 3) go
    b.refresh()
    assert b.foreign_leases() == set() and b.claim([2]) == [2]
    c = SharedRecords(path, task)
    assert c.claim([2, 4, 5]) == [5]
    b.close()
    leases = path.with_name("r.jsonl.leases")
    assert [json.loads(line)["config_index"] for line in leases.read_text().splitlines()] == [5]
    c.close()
    assert not leases.exists()
    recs, problems = load_records(path)
    assert [r.config_index for r in recs] == [1] and not problems  # the records file holds records only


def test_stale_leases_are_ignored(task, tmp_path):
    me = os.getpid()
    assert pid_alive(me, pid_start(me)) and lease_live(_lease(task, 1, me))
    assert not lease_live(_lease(task, 1, _dead_pid()))  # a killed tuner
    assert not lease_live(_lease(task, 1, me, pid_start=pid_start(me) + 1))  # the pid was reused
    assert not lease_live(_lease(task, 1, me, expires=time.time() - 1))  # expired
    assert lease_live(_lease(task, 1, 1, host="another-machine"))  # unknown pid: only the expiry tells
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while not open(f"/proc/{zombie.pid}/stat").read().split(") ")[1].startswith("Z"):
        time.sleep(0.05)  # exited, not yet reaped
    try:
        assert not pid_alive(zombie.pid)
    finally:
        zombie.wait()

    path = tmp_path / "r.jsonl"
    leases = [_lease(task, 1, _dead_pid()), _lease(task, 2, me, owner="other-tuner-in-this-process"),
              _lease(task, 3, me, expires=0.0)]
    path.with_name("r.jsonl.leases").write_text("".join(json.dumps(le) + "\n" for le in leases) + "{torn")
    s = SharedRecords(path, task)
    assert s.foreign_leases() == {2}
    assert s.claim([1, 2, 3]) == [1, 3]
    s.close()
    left = [json.loads(line) for line in path.with_name("r.jsonl.leases").read_text().splitlines()]
    assert [le["config_index"] for le in left] == [2]  # dead and expired leases are dropped, live ones kept


def test_old_files_and_torn_lines(task, tmp_path):
    """A file of an older version (no lease file, a duplicate record, a torn last line) still loads."""
    path = tmp_path / "old.jsonl"
    lines = [json.dumps(_record(task, i).to_json()) for i in (4, 5, 4)]
    path.write_text("\n".join(lines) + "\n" + lines[0][:50])
    s = SharedRecords(path, task)
    recs, problems = s.take_new()
    assert [r.line_no for r in recs] == [1, 2, 3]
    assert [p.line_no for p in problems] == [4] and "truncated" in problems[0].reason
    s.write(_record(task, 6))
    other = SharedRecords(path, task)
    recs, problems = other.take_new()
    assert [(r.line_no, r.config_index) for r in recs] == [(1, 4), (2, 5), (3, 4), (5, 6)]
    assert [p.line_no for p in problems] == [4]
    s.write(_record(task, 7))
    other.refresh()
    recs, problems = other.take_new()
    assert [(r.line_no, r.config_index) for r in recs] == [(6, 7)] and not problems
    s.close()
    other.close()
    assert [r.line_no for r in load_records(path, warn=False)[0]] == [1, 2, 3, 5, 6]

    fake = []  # resuming counts config 4 once: 3 records, 2 configs, 3 more to measure for 5 trials

    def measure(t, configs):
        fake.extend(c.index for c in configs)
        return [autotune.MeasureResult(c.index, 2000.0) for c in configs]

    path.write_text("\n".join(lines) + "\n")
    res = autotune.RandomTuner(task, seed=0).tune(5, measure, records=path)
    assert res.n_resumed == 2 and res.n_measured == 3 == len(fake) and not {4, 5} & set(fake)
    assert len(res.history) == 5 and len({i for _, i, _ in res.history}) == 5


_APPENDER = """
import sys
from schedules import autotune
from schedules.autotune.records import RecordWriter, SharedRecords, make_record
task = autotune.create_task("matmul_i8", (16, 16, 16), "vexriscv")
who, path = int(sys.argv[1]), sys.argv[2]
w = SharedRecords(path, task) if who % 2 else RecordWriter(path)
for k in range(40):
    i = who * 100 + k
    w.write(make_record(task, task.config_space.get(i), autotune.MeasureResult(i, 1.0, message=str(who) * 9000)))
w.close()
"""


def test_concurrent_appends_never_interleave(task, tmp_path):
    """Four processes append 9 KB records at once (more than a pipe buffer): every line is whole."""
    path = tmp_path / "a.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(w), str(path)], env=env, cwd=ROOT)
             for w in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    recs, problems = load_records(path)
    assert not problems and len(recs) == 160
    assert sorted(r.config_index for r in recs) == sorted(w * 100 + k for w in range(4) for k in range(40))
    assert all(r.result.message == str(r.config_index // 100) * 9000 for r in recs)
    with RecordWriter(path) as w:  # the plain writer still appends after them
        w.write(_record(task, 999))
    assert len(load_records(path)[0]) == 161


# --- a tuner and the configs other tuners have in flight ------------------------------------------

class CountingMeasure:
    """The real measure function, remembering which configs it was asked to measure."""

    def __init__(self, inner):
        self.inner = inner
        self.n_parallel = 1
        self.calls: list[int] = []

    def __call__(self, task, configs):
        self.calls += [c.index for c in configs]
        return self.inner(task, configs)


_OTHER_TUNER = """
import sys
import time
from schedules import autotune
from schedules.autotune.records import SharedRecords, make_record
from simulator.measure import measure_one
task = autotune.create_task("matmul_i8", (16, 16, 16), "vexriscv")
s = SharedRecords(sys.argv[1], task)
assert s.claim([0, 1, 2]) == [0, 1, 2]
s.write(make_record(task, task.config_space.get(0), measure_one(task, 0, "vexriscv", 10**7, 0), "other"))
print("ready", flush=True)
if sys.argv[2] == "hang":
    time.sleep(600)  # dies here, by SIGKILL, holding leases on configs 1 and 2
def started():  # the tuner under test has leased (or already measured) config 3
    leases = s.lease_path.read_text() if s.lease_path.exists() else ""
    return '"config_index":3,' in leases or '"config":{"index":3,' in s.path.read_text()
while not started():
    time.sleep(0.02)
for i in (1, 2):
    s.write(make_record(task, task.config_space.get(i), measure_one(task, i, "vexriscv", 10**7, 0), "other"))
s.close()
"""


def _other_tuner(path, mode):
    p = subprocess.Popen([sys.executable, "-c", _OTHER_TUNER, str(path), mode], stdout=subprocess.PIPE, text=True,
                         env=_env(), cwd=ROOT)
    assert p.stdout.readline().strip() == "ready"
    return p


@pytest.mark.parametrize("mode", ["finish", "hang"])
def test_a_tuner_shares_configs_in_flight_elsewhere(task, tmp_path, mode):
    """Another tuner leased configs 0-2 and measured 0; then it finishes 1, 2 or is killed holding them."""
    from simulator.measure import make_measure

    path = tmp_path / "f.jsonl"
    other = _other_tuner(path, mode)
    try:
        with make_measure("vexriscv", n_parallel=1) as m:
            counting = CountingMeasure(m)

            def kill_other(tuner, configs, results):
                if mode == "hang" and other.poll() is None and 5 in tuner.visited:
                    other.kill()  # while this tuner waits for its configs 1 and 2

            res = autotune.GridSearchTuner(task).tune(6, counting, records=path, batch_size=3, poll=0.05,
                                                      callbacks=[kill_other])
    finally:
        if other.poll() is None:
            other.kill()
        other.wait()
    assert sorted(i for _, i, _ in res.history) == list(range(6))
    assert res.n_resumed == 1 and res.n_measured == len(counting.calls)
    if mode == "finish":  # 1 and 2 were taken from the other tuner's records
        assert sorted(counting.calls) == [3, 4, 5] and res.n_shared == 2
    else:  # the other tuner died with 1 and 2 in flight: this one measured them itself
        assert sorted(counting.calls) == [1, 2, 3, 4, 5] and res.n_shared == 0
    idx = _indices(path)
    assert sorted(idx) == list(range(6))
    recs, _ = load_records(path)
    assert {r.config_index for r in recs if r.tuner == "other"} == ({0, 1, 2} if mode == "finish" else {0})


# --- tuners as real processes ----------------------------------------------------------------------

def _tune_cmd(records, trials, tuner="random", parallel=1, seed=0):
    return [sys.executable, "-m", "isaforge", "tune", "matmul_nt", "--shape", "16,16,16", "--trials", str(trials),
            "--tuner", tuner, "--records", str(records), "--parallel", str(parallel), "--seed", str(seed),
            "--no-progress"]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _summary(stdout: str) -> dict:
    m = SUMMARY.search(stdout)
    assert m, stdout
    return dict(zip(("measured", "resumed", "shared", "errors"), map(int, m.groups())))


def _indices(path) -> list[int]:
    recs, problems = load_records(path)
    assert not problems
    assert {r.task for r in recs} <= {TASK_KEY}
    return [r.config_index for r in recs]


def test_two_tuners_on_one_file_measure_no_config_twice(tmp_path):
    """Same task, same seed, started together: they propose the same configs and split them."""
    path = tmp_path / "shared.jsonl"
    trials = 12
    procs = [subprocess.Popen(_tune_cmd(path, trials), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(), cwd=ROOT) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    idx = _indices(path)
    assert len(idx) == len(set(idx)) == trials  # before: 24 lines, every config measured by both
    a, b = (_summary(o) for o, _ in outs)
    assert a["measured"] + b["measured"] == len(idx)
    for s in (a, b):  # each tuner's result accounts for every config, measured by either
        assert s["measured"] + s["resumed"] + s["shared"] == len(idx)
    assert a["shared"] + a["resumed"] + b["shared"] + b["resumed"] > 0  # they did meet
    assert not path.with_name("shared.jsonl.leases").exists()  # both ended cleanly: no lease left


def _children(pid: int) -> list[int]:
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # the process exited since its parent listed it
        return out
    for t in tasks:
        try:
            out += [int(x) for x in open(f"/proc/{pid}/task/{t}/children").read().split()]
        except OSError:
            pass
    return out


def _descendants(pid: int) -> dict[int, tuple[int | None, str]]:
    """Every live descendant of ``pid``: pid -> (start time, command line)."""
    found: dict[int, tuple[int | None, str]] = {}
    todo = [pid]
    while todo:
        for c in _children(todo.pop()):
            try:
                cmd = open(f"/proc/{c}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found[c] = (pid_start(c), cmd)
            todo.append(c)
    return found


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A grid-search tuner with 2 pool workers, killed by SIGKILL once its first records are written."""
    path = tmp_path_factory.mktemp("killed") / "k.jsonl"
    p = subprocess.Popen(_tune_cmd(path, 200, tuner="grid", parallel=2), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=_env(), cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        procs: dict = {}
        while time.monotonic() < deadline and p.poll() is None:
            procs = _descendants(p.pid)
            workers = [c for c, (_, cmd) in procs.items() if "spawn_main" in cmd]
            if len(workers) >= 2 and path.exists() and path.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.05)
        assert p.poll() is None, p.communicate()[1]
        procs = _descendants(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return path, procs


def test_kill_9_of_a_tuner_leaves_no_process(killed_run):
    _, procs = killed_run
    cmds = [cmd for _, cmd in procs.values()]
    assert sum("spawn_main" in c for c in cmds) >= 2 and any("resource_tracker" in c for c in cmds), cmds
    deadline = time.monotonic() + 30  # a bound for liveness only: they exit at once on the closed pipe
    alive = dict(procs)
    while alive and time.monotonic() < deadline:
        alive = {c: v for c, v in alive.items() if pid_alive(c, v[0])}
        time.sleep(0.1)
    assert not alive, f"still running after the tuner's SIGKILL: {alive}"


def test_a_killed_job_resumes_without_remeasuring(killed_run):
    path, _ = killed_run
    done = _indices(path)
    assert done and len(done) == len(set(done))
    leases = path.with_name(path.name + ".leases")
    assert leases.exists()  # the dead tuner's leases on the configs it had in flight are still there
    stale = {json.loads(line)["config_index"] for line in leases.read_text().splitlines()} - set(done)
    # grid search proposes configs in index order, in batches of 8: the resumed job's first configs
    # are the ones the dead tuner had leased; it must take them over, not wait for a dead process
    trials = (max(done) // 8 + 1) * 8
    assert stale and stale <= set(range(trials))
    p = subprocess.run(_tune_cmd(path, trials, tuner="grid", parallel=2), capture_output=True, text=True,
                       env=_env(), cwd=ROOT, timeout=600)
    assert p.returncode in (0, 1), p.stderr
    s = _summary(p.stdout if p.returncode == 0 else p.stderr)
    assert s["resumed"] == len(done) and s["measured"] == trials - len(done) and s["shared"] == 0
    after = _indices(path)
    assert after[:len(done)] == done  # the old records untouched
    assert sorted(after) == list(range(trials))  # each config once: nothing measured again
    assert stale <= set(after[len(done):])
    assert not leases.exists()
