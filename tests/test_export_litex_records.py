"""``isaforge export-litex --records R``: the best tuned schedule of every template kind exported (checked
against numpy in isaforge's SoC model), its compiler knob as the Makefile's KERNEL_CC, and the errors of
records that cannot give a kernel. (Built with LiteX's flow and run in litex_sim: tests/test_litex_sim.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from isaforge.errors import ExportError
from isaforge.export_litex import checksum, kernel_arrays, kernel_cc
from isaforge.export_records import export_litex_records, kernel_from_records
from schedules import autotune
from schedules.autotune import qnn_templates as Q
from schedules.autotune.records import RecordWriter, make_record
from simulator.measure import make_measure, toolchain_of

ROOT = Path(__file__).resolve().parent.parent
E = "dot4_i8"  # one extension: the SoC model's dot4_i8 build, as the rest of the suite
PADS = dict(pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
CASES = [
    ("matmul_i8", (8, 8, 16, E)), ("matmul_kn_i8", (8, 8, 16, E)), ("dense_i8", (2, 8, 16, E)),
    ("conv2d_nhwc_i8", (1, 4, 4, 8, 8, 3, 3, 1, 1, E)), ("conv2d_nchw_i8", (1, 4, 6, 6, 4, 3, 3, 1, 0, E)),
    ("depthwise_conv2d_i8", (1, 4, 6, 6, 3, 3, 1, 1, E)), ("depthwise_conv2d_nhwc_i8", (1, 6, 6, 8, 3, 3, 1, 1, E)),
    ("max_pool2d_nhwc_i8", (1, 4, 4, 8, 2, 2, 0, E)),
    ("qdense", Q.task_args("qdense", dict(M=1, N=8, K=16), [E])),
    ("qconv2d_nhwc", Q.task_args("qconv2d_nhwc", dict(N=1, H=4, W=4, C=8, F=8, KH=3, KW=3, **PADS), [E])),
    ("qdepthwise_conv2d_nhwc", Q.task_args("qdepthwise_conv2d_nhwc", dict(N=1, H=4, W=4, C=8, KH=3, KW=3, **PADS),
                                           [E])),
]


@pytest.fixture(scope="module")
def measure():
    with make_measure("vexriscv", n_parallel=1) as m:
        yield m


ASM = '__asm__ __volatile__(".insn r 0x0B'  # a CFU instruction placed by the emitter (pragma cfu_asm)


def _asm_index(task, tries: int = 60) -> int | None:
    """The first config (among the first ``tries`` with the knob) whose dot4 tiles the rv32 emitter
    places as asm (cfu_emit=asm / asm=True, on a tile where it applies), if any."""
    import codegen_c

    sp = task.config_space
    for i in range(len(sp)):
        k = sp.get(i).to_json()["knobs"]
        if (k.get("cfu_emit") == "asm" and k.get("tensorize") == E) or k.get("asm") is True:
            if ASM in codegen_c.emit(task.lower(i), "vexriscv"):
                return i
            tries -= 1
            if not tries:
                return None
    return None


def _tune(measure, task, indices, path: Path) -> list:
    """Measure ``indices`` of ``task`` (real measurements, as the tuner makes them) into records ``path``."""
    results = measure(task, list(indices))
    with RecordWriter(path) as w:
        for i, r in zip(indices, results):
            w.write(make_record(task, task.config(i), r, tuner="test"))
    return results


@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_every_template_kind_exports_from_records(tmp_path, measure, name, args):
    task = autotune.create_task(name, args, "vexriscv")
    asm = _asm_index(task)
    indices = [0] + ([asm] if asm not in (None, 0) else [])
    results = _tune(measure, task, indices, tmp_path / "r.jsonl")
    assert all(r.valid for r in results), results
    paths = export_litex_records(tmp_path / "r.jsonl", tmp_path / "out", simulate=True)
    rk = paths.kernel
    best = min(zip(indices, results), key=lambda p: p[1].cost)[0]
    assert rk.config.index == best and rk.task.key == task.key
    assert paths.model_cycles > 0 and paths.litex_cycles is None
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"cfu.v", "kernel.c", "main.c", "Makefile", "README.md", "linker.ld"} <= files
    mk = (tmp_path / "out" / "Makefile").read_text()
    assert f"KERNEL_CC ?= {kernel_cc(toolchain_of(rk.config, 'vexriscv'))}\n" in mk
    readme = (tmp_path / "out" / "README.md").read_text()
    assert f"Cycles: {paths.model_cycles:,} for the warm kernel run" in readme and "calibrated" in readme
    # main.c's expected checksum is numpy's on the inputs it embeds (the template's own, or the LCG's)
    arrays = kernel_arrays(rk.func, rk.inputs)
    o = task.output_indices[0]
    want = rk.ref(*[a for i, a in enumerate(arrays) if i != o]).astype(arrays[o].dtype)
    assert f"0x{checksum(want):08x}u" in (tmp_path / "out" / "main.c").read_text()
    if asm is not None:  # the asm (cfu_asm) schedule exports too, when it is not the best already
        if best != asm:
            _tune(measure, task, [asm], tmp_path / "asm.jsonl")
            paths = export_litex_records(tmp_path / "asm.jsonl", tmp_path / "out", simulate=True)
            assert paths.kernel.config.index == asm and paths.model_cycles > 0
        assert ASM in (tmp_path / "out" / "kernel.c").read_text()


def test_the_records_compiler_becomes_kernel_cc(tmp_path, measure):
    """A config tuned with gcc -fno-schedule-insns exports a Makefile that compiles kernel.c with exactly that."""
    task = autotune.create_task("matmul_i8", (8, 8, 16, E), "vexriscv")
    sp = task.config_space
    idx = next(i for i in range(len(sp)) if sp.get(i).compiler == "gcc:-O2:-fno-schedule-insns")
    _tune(measure, task, [idx], tmp_path / "r.jsonl")
    paths = export_litex_records(tmp_path / "r.jsonl", tmp_path / "out", simulate=True)
    assert paths.kernel.toolchain.compiler == "gcc" and paths.kernel.toolchain.extra_flags == ("-fno-schedule-insns",)
    cc = [x for x in (tmp_path / "out" / "Makefile").read_text().splitlines() if x.startswith("KERNEL_CC ?=")]
    assert cc == ["KERNEL_CC ?= riscv64-unknown-elf-gcc -march=rv32im_zicsr -mabi=ilp32 -O2 -ffreestanding "
                  "-nostartfiles -nostdlib -fomit-frame-pointer -fno-schedule-insns"]


def _record_line(task, index: int, cost: float | None = 100.0, error: str | None = None) -> dict:
    cfg = task.config(index)
    res = autotune.MeasureResult(index, cost, error, "" if error is None else "boom")
    return make_record(task, cfg, res, tuner="test").to_json()


def _write(path: Path, lines) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_bad_records_are_clear_errors(tmp_path):
    task = autotune.create_task("matmul_i8", (8, 8, 16, E), "vexriscv")
    other = autotune.create_task("dense_i8", (2, 8, 16, E), "vexriscv")
    good = _record_line(task, 3)

    def err(path, **kw) -> str:
        with pytest.raises(ExportError) as info:
            kernel_from_records(path, **kw)
        return str(info.value)

    assert "does not exist" in err(tmp_path / "none.jsonl")
    assert "empty" in err(_write(tmp_path / "empty.jsonl", []))
    assert "no readable tuning record" in err(_write(tmp_path / "junk.jsonl", ["{not json", '{"task": 1}']))
    two = _write(tmp_path / "two.jsonl", [good, _record_line(other, 0)])
    msg = err(two)
    assert "2 tasks" in msg and "--task" in msg and task.key in msg and other.key in msg
    assert kernel_from_records(two, task=other.key).task.key == other.key
    assert "no record of task 'nope'" in err(two, task="nope")
    assert "no valid result" in err(_write(tmp_path / "bad.jsonl", [_record_line(task, 3, None, "build")]))
    unknown = dict(good, template="no_such_template", task="no_such_template[8,8,16]@vexriscv")
    assert "no_such_template" in err(_write(tmp_path / "tmpl.jsonl", [unknown]))
    knobs = dict(good["config"]["knobs"], tile_a=[1, 999])
    assert "no longer fits" in err(_write(tmp_path / "space.jsonl", [dict(good, config={"index": 3, "knobs": knobs})]))
    renamed = dict(good, task="matmul_i8[9,9,9]@vexriscv")
    assert "make 'matmul_i8[8,8,16" in err(_write(tmp_path / "key.jsonl", [renamed]))
    host = autotune.create_task("matmul_i8", (8, 8, 16, E), "host")
    assert "not an rv32 target" in err(_write(tmp_path / "host.jsonl", [_record_line(host, 0)]))
    # the best valid record wins; an invalid one and a corrupt line around it do not matter
    mixed = _write(tmp_path / "mixed.jsonl", [_record_line(task, 5, 90.0), "garbage", _record_line(task, 7, 10.0),
                                               _record_line(task, 9, None, "timeout")])
    rk = kernel_from_records(mixed)
    assert rk.config.index == 7 and rk.record.line_no == 3


def test_cli_export_litex_records(tmp_path, measure):
    task = autotune.create_task("matmul_i8", (8, 8, 16, E), "vexriscv")
    _tune(measure, task, [0, _asm_index(task)], tmp_path / "r.jsonl")
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "isaforge", "export-litex", "--records", str(tmp_path / "r.jsonl"),
                        "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert task.key in r.stdout and "extensions: dot4_i8" in r.stdout and (out / "kernel.c").exists()
    assert "Cycles: not measured" in (out / "README.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "isaforge", "export-litex", "--records", str(tmp_path / "r.jsonl"),
                          "--workload", "matmul", "-o", str(tmp_path / "x")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert bad.returncode != 0 and "--workload" in bad.stderr and "do not apply" in bad.stderr
    assert not np.any([p.exists() for p in [tmp_path / "x" / "kernel.c"]])


def test_cli_export_litex_model_with_records(tmp_path):
    """isaforge tune MODEL --records R, then export-litex MODEL --records R: the model is compiled with the
    tuned schedules (every kernel from a record) and checked against numpy in the SoC model."""
    from frontend import from_tflite, quantize, to_tflite
    from frontend.zoo import sine_float_path

    g = quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    model = tmp_path / "sine_int8.tflite"
    model.write_bytes(to_tflite(g))
    records = tmp_path / "r.jsonl"
    tune = subprocess.run([sys.executable, "-m", "isaforge", "tune", str(model), "--records", str(records),
                           "--extensions", E, "--trials", "2", "--parallel", "1", "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert tune.returncode == 0, tune.stdout + tune.stderr
    out = tmp_path / "model"
    r = subprocess.run([sys.executable, "-m", "isaforge", "export-litex", str(model), "--records", str(records),
                        "--extensions", E, "--simulate", "-o", str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    n = len({json.loads(x)["task"] for x in records.read_text().splitlines()})
    assert f"{n} of {n} kernels from records" in r.stdout
    cycles = int(re.search(r"cycles per inference: (\d+) in isaforge's SoC model", r.stdout).group(1))
    assert f"Cycles: {cycles:,} for a warm inference" in (out / "README.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "isaforge", "export-litex", str(model), "--records", str(records),
                          "--task", "x", "-o", str(tmp_path / "y")], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert bad.returncode != 0 and "--task" in bad.stderr
