"""Tuning from any script: templates that are not importable (defined in a test function, in a
plain script without a main guard) or that have no numpy reference tune, measure and are checked.

The tuning process lowers and emits each config; pool workers get plain data (simulator.measure.Job)
and never import user code. The layering is checked too: schedules.autotune imports nothing from
simulator, and simulator.measure only public names of schedules.autotune.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import schedules
import tir
from schedules import autotune
from simulator import run as sim_run
from simulator.measure import make_measure, measure_one, prepare, run_job, toolchain_of

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "tune_script_no_main_guard.py"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _closure_template(name: str, offset: int, with_reference: bool):
    """Register a template local to this call (not importable by any worker): C = A @ (B + offset)."""

    def reference(a, b):
        return (a.astype(np.int64) @ (b.astype(np.int64) + offset)).astype(np.int32)

    @autotune.template(name, reference=reference if with_reference else None)
    def local_matmul(M, N, K):
        A = tir.placeholder((M, K), "int32", name="A")
        B = tir.placeholder((K, N), "int32", name="B")
        k = tir.reduce_axis((0, K), name="k")
        C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k] * (B[k, j] + offset), axis=k), name="C")
        s = schedules.create_schedule(C)
        cfg = autotune.get_config()
        cfg.define_split("ti", C.op.axis[0], num_outputs=2)
        cfg.define_split("tj", C.op.axis[1], num_outputs=2)
        cfg["ti"].apply(s, C, C.op.axis[0])
        cfg["tj"].apply(s, C, C.op.axis[1])
        return s, [A, B, C]

    return local_matmul


@pytest.mark.parametrize("target", ["host", "vexriscv"])
def test_template_defined_in_a_test_function_tunes_with_a_pool(target, tmp_path):
    offset = 7  # a closure variable: the template exists only in this process
    _closure_template(f"closure_matmul_{target}", offset, with_reference=True)
    task = autotune.create_task(f"closure_matmul_{target}", (4, 8, 4), target)
    with make_measure(target, n_parallel=2) as m:
        res = autotune.RandomTuner(task, seed=0).tune(4, m, records=tmp_path / "r.jsonl", batch_size=4)
    assert res.n_measured == 4 and len(res.history) == 4
    assert [r.error for _, _, r in res.history] == [None] * 4, [r.message for _, _, r in res.history]
    assert res.best_config is not None and res.best_cost > 0
    if target == "vexriscv":  # the pool's cycle count is simulator.run's for the same config
        arrays = task.make_inputs(0)
        want = task.reference(arrays)[0]
        run = sim_run(task.lower(res.best_config), arrays, "vexriscv", toolchain=toolchain_of(res.best_config))
        assert run.cycles == res.best_cost
        np.testing.assert_array_equal(arrays[2], want)


@pytest.mark.parametrize("how, target", [("file", "vexriscv"), ("stdin", "host")])
def test_a_script_without_main_guard_tunes_with_a_pool_and_runs_once(how, target, tmp_path):
    """``python script.py`` (spawn would re-run it as __mp_main__) and ``python - < script.py`` (a
    __main__ with no file, as in a notebook: no worker could import its template)."""
    marker, records = tmp_path / "marker.txt", tmp_path / "records.jsonl"
    args = [str(marker), str(records), target]
    cmd, stdin = ([sys.executable, str(SCRIPT), *args], None) if how == "file" else \
        ([sys.executable, "-", *args], SCRIPT.read_text())
    p = subprocess.run(cmd, input=stdin, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-4000:]
    assert marker.read_text().splitlines() == ["ran"]  # the workers never re-ran the script
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["n_measured"] == 4
    assert [e for _, _, e, _ in out["results"]] == [None] * 4, out["results"]
    assert all(c > 0 for _, c, _, _ in out["results"])
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    assert sorted(x["config"]["index"] for x in lines) == sorted(i for i, _, _, _ in out["results"])


def test_template_without_reference_is_checked_against_evaluate():
    _closure_template("closure_matmul_noref", 5, with_reference=False)
    task = autotune.create_task("closure_matmul_noref", (4, 8, 4), "host")
    arrays = task.make_inputs(0)
    a, b = task.input_arrays(arrays)
    (expected,) = task.reference(arrays)  # tir.evaluate of the tensor expression
    np.testing.assert_array_equal(expected, (a.astype(np.int64) @ (b.astype(np.int64) + 5)).astype(np.int32))
    res = measure_one(task, 3, "host", 10**7, 0)
    assert res.valid, res.message
    job = prepare(task, 3, "host")
    assert run_job(job).valid
    job = prepare(task, 3, "host")
    job.expected[0].flat[5] += 1  # the kernel is right, the expectation not: the check must say so
    bad = run_job(job)
    assert bad.error == "wrong_result" and bad.cost is None
    assert "output 'C': 1 of 32 elements differ; first at [0, 5]" in bad.message


def test_a_wrong_kernel_of_a_reference_free_template_is_caught():
    _closure_template("closure_matmul_noref_vex", 5, with_reference=False)
    task = autotune.create_task("closure_matmul_noref_vex", (4, 8, 4), "vexriscv")
    with make_measure("vexriscv", n_parallel=2, corrupt="flip_first") as m:
        results = m(task, [0, 1])
    assert [r.error for r in results] == ["wrong_result", "wrong_result"]
    assert all("output 'C'" in r.message for r in results)


# --- layering ------------------------------------------------------------------------------------

def _imports(path: Path):
    """Every import of a file (function-level ones too): (module, names) with relative ones resolved."""
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, ()
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([mod] if mod else []))
            yield mod, tuple(a.name for a in node.names)


def test_autotune_does_not_import_simulator():
    files = sorted((ROOT / "schedules" / "autotune").glob("*.py"))
    assert len(files) > 5
    bad = [(f.name, m) for f in files for m, _ in _imports(f) if m == "simulator" or m.startswith("simulator.")]
    assert bad == []


def test_measure_imports_only_public_autotune_names():
    found = []
    for mod, names in _imports(ROOT / "simulator" / "measure.py"):
        if mod == "schedules" and "autotune" in names:
            found.append(mod)
        elif mod.startswith("schedules.autotune"):
            assert mod == "schedules.autotune", f"simulator/measure.py imports the autotune submodule {mod}"
            for n in names:
                assert n in autotune.__all__ and not n.startswith("_"), f"private autotune name {n}"
            found += names
    assert "MeasureResult" in found  # the check sees the imports there are


_CLI_TEMPLATES = '''
import schedules
import tir
from schedules import autotune

with open(MARKER, "a") as f:  # one line per run of this file: the CLI process only, not its workers
    f.write("ran\\n")


@autotune.template("cli_user_double")  # no reference: checked against tir.evaluate
def cli_user_double(N):
    A = tir.placeholder((N,), "int32", name="A")
    B = tir.compute((N,), lambda i: A[i] * 2, name="B")
    s = schedules.create_schedule(B)
    cfg = autotune.get_config()
    cfg.define_split("t", B.op.axis[0], num_outputs=2)
    cfg["t"].apply(s, B, B.op.axis[0])
    return s, [A, B]
'''


def test_cli_tunes_a_template_from_a_file(tmp_path):
    src = tmp_path / "my_templates.py"
    src.write_text(_CLI_TEMPLATES.replace("MARKER", repr(str(tmp_path / "marker")), 1))
    rec = tmp_path / "r.jsonl"
    p = subprocess.run([sys.executable, "-m", "isaforge", "tune", "cli_user_double", "--templates", str(src),
                        "--shape", "16", "--trials", "3", "--tuner", "random", "--records", str(rec),
                        "--target", "vexriscv", "--parallel", "2", "--no-progress"],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-4000:]
    assert "cli_user_double[16]@vexriscv\tbest" in p.stdout and "0 errors" in p.stdout
    assert (tmp_path / "marker").read_text().splitlines() == ["ran"]
    assert len(rec.read_text().splitlines()) == 3
    bad = subprocess.run([sys.executable, "-m", "isaforge", "tune", "x", "--templates", str(tmp_path / "nope.py"),
                          "--records", str(rec)], cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert bad.returncode != 0 and "nope.py" in bad.stderr and "no such file" in bad.stderr
