"""LiteX's own SoC (litex_sim, litex_vexriscv full+cfu) runs isaforge programs: one build per CFU.

The whole suite makes at most two litex_sim builds (about a minute each; cached by content hash
afterwards): the dot4_i8 unit with 64 KiB of integrated main RAM, which every test here reuses, and
the same unit with SDRAM (tests/test_litex_sdram.py).
"""

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import isa_ext
import ops
import simulator
import tir
from schedules import hand
from simulator import litex_sim
from simulator.errors import SimTimeout, TrapError
from simulator.litex_sim import LitexMemory, LitexSimError, build_litex_sim, compile_litex_program, run_litex_sim
from simulator.run import cfu_verilog
from tir.errors import CodegenError

CFU = cfu_verilog([isa_ext.get("dot4_i8")])
EXT_H = isa_ext.ExtensionSet([isa_ext.get("dot4_i8")]).c_source("rv32im")


@pytest.fixture(scope="module")
def sim():
    return build_litex_sim(CFU, LitexMemory.SRAM, main_ram_kib=64)


def _c_array(name: str, values: np.ndarray, ctype: str) -> str:
    body = ", ".join(str(int(v)) for v in values.reshape(-1))
    return f"static const {ctype} {name}[{values.size}] __attribute__((aligned(4))) = {{{body}}};\n"


def _dot4_program(a: np.ndarray, b: np.ndarray) -> dict[str, str]:
    """C = A @ B.T (int8 x int8 -> int32), four lanes per CFU instruction; prints C row-major."""
    m, k = a.shape
    n = b.shape[0]
    assert k % 4 == 0
    main = (
        '#include "lx_rt.h"\n#include "dot4_i8.h"\n#include <stdint.h>\n'
        + _c_array("A", a, "int8_t") + _c_array("B", b, "int8_t")
        + f"static int32_t C[{m * n}];\n"
        + "int main(void) {\n"
        + "    lx_mark_begin();\n"
        + f"    for (int i = 0; i < {m}; i++)\n"
        + f"        for (int j = 0; j < {n}; j++) {{\n"
        + f"            const uint32_t *pa = (const uint32_t *)(A + i * {k});\n"
        + f"            const uint32_t *pb = (const uint32_t *)(B + j * {k});\n"
        + "            uint32_t acc = 0;\n"
        + f"            for (int q = 0; q < {k // 4}; q++) acc += isaforge_dot4_i8_dot(pa[q], pb[q]);\n"
        + f"            C[i * {n} + j] = (int32_t)acc;\n"
        + "        }\n"
        + "    lx_mark_end();\n"
        + f"    for (int t = 0; t < {m * n}; t++) {{ lx_put_i32(C[t]); lx_putc(' '); }}\n"
        + "    return 3;\n}\n"
    )
    return {"main.c": main, "dot4_i8.h": EXT_H}


def _check(sim, seed: int, m: int, n: int, k: int):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(m, k), dtype=np.int8)
    b = rng.integers(-128, 128, size=(n, k), dtype=np.int8)
    elf = compile_litex_program(_dot4_program(a, b), sim)
    run = run_litex_sim(elf, sim=sim, timeout_s=300)
    got = np.array([int(x) for x in run.console.split()], dtype=np.int64)
    want = (a.astype(np.int64) @ b.astype(np.int64).T).reshape(-1)
    np.testing.assert_array_equal(got, want)
    assert run.exit_code == 3
    assert run.instret > m * n * k // 4  # at least one instruction per CFU op was counted
    assert run.cycles >= run.instret
    assert "LiteX" in run.bios
    return run


def test_dot4_kernel_on_litex_sim_matches_numpy(sim):
    _check(sim, seed=0, m=4, n=5, k=16)


def test_second_program_reuses_the_build(sim):
    before = litex_sim.builds_done()
    again = build_litex_sim(CFU, "sram", main_ram_kib=64)
    assert again.root == sim.root and again.executable.stat().st_mtime_ns == sim.executable.stat().st_mtime_ns
    run = _check(again, seed=1, m=3, n=3, k=32)
    assert litex_sim.builds_done() == before
    # same program, same SoC: cycle counts are deterministic
    assert _check(again, seed=1, m=3, n=3, k=32).cycles == run.cycles


def test_trap_is_reported(sim):
    main = '#include "lx_rt.h"\nint main(void) { __asm__ volatile(".word 0"); return 0; }\n'
    with pytest.raises(TrapError) as info:
        run_litex_sim(compile_litex_program({"main.c": main}, sim), sim=sim, timeout_s=120)
    assert info.value.mcause == 2  # illegal instruction


def test_cycle_limit_ends_a_runaway_program(sim):
    main = '#include "lx_rt.h"\nint main(void) { for (;;) { __asm__ volatile(""); } return 0; }\n'
    with pytest.raises(SimTimeout) as info:
        run_litex_sim(compile_litex_program({"main.c": main}, sim), sim=sim, max_cycles=20_000, timeout_s=120)
    assert 19_000 < info.value.cycles <= 20_200  # the timer starts a few instructions before the count
    # a limit the program stays under changes nothing
    ok = '#include "lx_rt.h"\nint main(void) { lx_puts("ok"); return 5; }\n'
    run = run_litex_sim(compile_litex_program({"main.c": ok}, sim), sim=sim, max_cycles=1_000_000)
    assert (run.exit_code, run.console) == (5, "ok")
    # the same program as a raw main-RAM image (.bin) runs the same; a .bin cannot carry a cycle limit
    image = litex_sim._image(compile_litex_program({"main.c": ok}, sim), sim, None)
    again = run_litex_sim(image, sim=sim)
    assert (again.exit_code, again.console, again.cycles) == (5, "ok", run.cycles)
    with pytest.raises(LitexSimError, match="max_cycles"):
        run_litex_sim(image, sim=sim, max_cycles=1000)


def test_program_linked_elsewhere_is_refused(sim):
    moved = dataclasses.replace(sim, main_ram_base=sim.main_ram_base + 0x1000)
    elf = compile_litex_program({"main.c": "int main(void) { return 0; }\n"}, moved)
    with pytest.raises(LitexSimError, match="entry"):
        run_litex_sim(elf, sim=sim)


def test_bad_options_are_refused():
    with pytest.raises(LitexSimError, match="memory"):
        build_litex_sim(CFU, "ddr")
    with pytest.raises(LitexSimError, match="main_ram_kib"):
        build_litex_sim(CFU, main_ram_kib=48)


def test_sdram_image_split_matches_litedram():
    """The per-bank init files for SDRAM hold what LiteDRAM's own model would put in each bank."""
    from types import SimpleNamespace

    from litedram.phy.model import SDRAMPHYModel

    geom = litex_sim._sdram_geometry()
    nbanks, ncols, nrows = geom["nbanks"], geom["ncols"], geom["nrows"]
    fake = litex_sim.LitexSim(root=Path("/nonexistent"), memory=LitexMemory.SDRAM, main_ram_base=0x40000000,
                              main_ram_size=64 << 20, csr={}, sdram={**geom, "banks": [f"b{i}" for i in range(nbanks)]})
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=4 * ncols * nbanks * 2 + 4 * 100 + 2, dtype=np.uint8).tobytes()
    files = litex_sim._init_files(image, fake)
    padded = image + bytes(-len(image) % 4)
    words = [int.from_bytes(padded[i:i + 4], "little") for i in range(0, len(padded), 4)]
    model = SimpleNamespace(settings=SimpleNamespace(databits=32))
    want = SDRAMPHYModel._SDRAMPHYModel__prepare_bank_init_data(model, list(words), nbanks, nrows, ncols, 32,
                                                                 "ROW_BANK_COL")
    for b in range(nbanks):
        got = [int(x, 16) for x in files[f"b{b}"].split()]
        assert got == (want[b] or [0])


def _matmul16():
    wl = ops.get("matmul")(16, 16, 16)
    func = tir.lower(*hand.dot4(wl))
    rng = np.random.default_rng(4)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    return wl, func, ins


def test_kernel_on_the_litex_sim_target_equals_numpy_and_the_model_with_one_wait_state(sim):
    """simulator.run(target="litex_sim"): the kernel's outputs come back through the console; its warm
    cycles match isaforge's SoC model with wait_states=1 (same program layout modulo 4 KiB)."""
    wl, func, ins = _matmul16()
    assert cfu_verilog(func.extensions) == CFU  # the suite's one litex_sim build
    before = litex_sim.builds_done()
    out = np.full(wl.output.shape, 0x5A, np.int32)
    r = simulator.run(func, ins + [out], "litex_sim")
    np.testing.assert_array_equal(out, wl.ref(*ins))
    assert litex_sim.builds_done() == before
    model = simulator.run(func, ins + [np.zeros_like(out)], "vexriscv", wait_states=1)
    ideal = simulator.run(func, ins + [np.zeros_like(out)], "vexriscv_ideal")
    assert r.target == "litex_sim" and r.instret == model.instret
    assert abs(r.cycles - model.cycles) <= 0.002 * model.cycles, (r.cycles, model.cycles)
    assert ideal.cycles < r.cycles  # LiteX's RAM is slower than the ideal one: the comparison can fail
    assert r.cold_cycles >= r.cycles


def _calibration_kernels():
    """dot4_i8 kernels (the suite's one SRAM build) of several kinds: (name, workload, schedule)."""
    op = ops.get
    return [
        ("matmul 32^3 dot4", op("matmul")(32, 32, 32), lambda wl: hand.dot4(wl)),
        ("matmul_nt 32^3 dot4 cfu_asm", op("matmul_nt")(32, 32, 32), lambda wl: hand.dot4(wl, asm=True)),
        ("conv2d NHWC 8x8x16 -> 16 3x3", op("conv2d_nhwc")(1, 8, 8, 16, 16, 3, pad=1), lambda wl: hand.dot4(wl)),
        ("dense 4x128 -> 32", op("dense")(4, 32, 128, bias=True, relu=True), lambda wl: hand.dot4(wl)),
    ]


@pytest.mark.parametrize("case", _calibration_kernels(), ids=lambda c: c[0])
def test_the_default_model_is_calibrated_to_litex_sram(sim, case):
    """isaforge's SoC model by default (target ``vexriscv``: one wait state per bus access) takes the
    cycles LiteX's own SoC on integrated SRAM takes, within 1%, on several kernels (same compiler, same
    layout modulo 4 KiB); the ideal RAM (``vexriscv_ideal``) does not on every one."""
    _, wl, sched = case
    func = tir.lower(*sched(wl))
    assert cfu_verilog(func.extensions) == CFU
    rng = np.random.default_rng(5)
    ins = [rng.integers(-128, 128, t.shape).astype(t.dtype) for t in wl.inputs]
    out = np.zeros(wl.output.shape, np.int32)
    lx = simulator.run(func, ins + [out], "litex_sim")
    np.testing.assert_array_equal(out, wl.ref(*ins))
    model = simulator.run(func, ins + [np.zeros_like(out)], "vexriscv")
    assert abs(model.cycles - lx.cycles) <= 0.01 * lx.cycles, (model.cycles, lx.cycles)
    assert abs(model.cold_cycles - lx.cold_cycles) <= 0.01 * lx.cold_cycles, (model.cold_cycles, lx.cold_cycles)
    ideal = simulator.run(func, ins + [np.zeros_like(out)], "vexriscv_ideal")
    assert ideal.cold_cycles < model.cold_cycles  # the calibration is not a no-op


def test_litex_sim_target_refuses_wait_states():
    _, func, ins = _matmul16()
    with pytest.raises(CodegenError, match="wait_states"):
        simulator.run(func, ins + [np.zeros((16, 16), np.int32)], "litex_sim", wait_states=1)


@pytest.fixture(scope="module")
def sine():
    """The quantized sine model, compiled with dot4_i8 only: its CFU is the suite's one litex_sim build."""
    from frontend import from_tflite, quantize
    from frontend.zoo import sine_float_path

    return quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))


def test_model_runs_on_litex_sim_like_on_the_model(sim, sine):
    from frontend.run import run_model

    compiled = sine.compile("litex_sim", extensions="dot4_i8")
    assert [e.name for e in compiled.used_extensions] == ["dot4_i8"]
    assert cfu_verilog(list(compiled.used_extensions)) == CFU
    x = np.array([[-115], [0], [37], [127]], np.int8)
    before = litex_sim.builds_done()
    r = run_model(compiled, x)
    assert litex_sim.builds_done() == before
    want = np.stack([sine.evaluate(row.reshape(1, 1))[0] for row in x])
    np.testing.assert_array_equal(r.outputs.reshape(want.shape), want)
    ref = run_model(sine.compile("vexriscv", extensions="dot4_i8"), x)
    assert r.instret == ref.instret and r.cold_instret == ref.cold_instret
    # not laid out like the model's program (unlike simulator.run's kernels): a looser bound
    assert abs(r.cycles - ref.cycles) <= 0.02 * ref.cycles, (r.cycles, ref.cycles)
    assert r.cold_cycles > r.cycles and len(r.input_cycles) == 4
    assert r.footprint.kernels == ref.footprint.kernels


def test_isaforge_run_target_litex_sim(sim, sine, tmp_path, capsys):
    from frontend import to_tflite
    from isaforge.cli import main

    path = tmp_path / "sine_int8.tflite"
    path.write_bytes(to_tflite(sine))
    np.save(tmp_path / "x.npy", np.array([[[-115]], [[0]]], np.int8))
    assert main(["run", str(path), "--target", "litex_sim", "--extensions", "dot4_i8", "--inputs",
                 str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    want = [int(sine.evaluate(np.array([[q]], np.int8))[0].reshape(-1)[0]) for q in (-115, 0)]
    assert f"output 0: [{want[0]}]" in out and f"output 1: [{want[1]}]" in out, out
    assert "target litex_sim" in out and re.search(r"cycles per inference: \d+ warm", out)


def test_dumps_come_back_and_leave_the_console_alone(sim):
    main = ('#include "lx_rt.h"\n#include <stdint.h>\n'
            "uint32_t words[3] = {0x01020304u, 0xdeadbeefu, 7u};\nint8_t odd[3] = {-1, 2, -3};\n"
            'int main(void) { lx_puts("hi\\n"); words[2] += 1; return 0; }\n')
    elf = compile_litex_program({"main.c": main, "lx_dump.c": litex_sim.dump_source({"words": 12, "odd": 3})}, sim)
    run = run_litex_sim(elf, sim=sim)
    assert run.console == "hi\n" and run.exit_code == 0
    assert np.frombuffer(run.dumps["words"], "<u4").tolist() == [0x01020304, 0xDEADBEEF, 8]
    assert run.dumps["odd"] == bytes([0xFF, 2, 0xFD])
    with pytest.raises(LitexSimError, match="symbol"):
        litex_sim.dump_source({"not a name": 4})


def test_tuner_measures_a_config_on_litex_sim(sim):
    """simulator.measure's prepare / run_job (the autotuner's measurement) on the litex_sim target."""
    from schedules import autotune
    from simulator.measure import prepare, run_job

    task = autotune.create_task("matmul_i8", (16, 16, 16), "litex_sim")
    index = next(i for i in range(200)
                 if [e.name for e in task.lower(task.config(i)).extensions] == ["dot4_i8"])  # the suite's build
    before = litex_sim.builds_done()
    got = run_job(prepare(task, index, "litex_sim", 5_000_000))
    assert got.error is None, got.message
    assert litex_sim.builds_done() == before
    ref = run_job(prepare(task, index, "vexriscv", 5_000_000))
    assert got.extra["instret"] == ref.extra["instret"]
    assert got.cost > ref.cost  # the model's default (no wait state) is the faster memory


def _make(folder: Path, build_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", f"BUILD_DIR={build_dir}", f"PYTHON={sys.executable}"], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_exported_kernel_builds_with_litex_flow_and_runs(sim, tmp_path):
    """export-litex's folder, built by LiteX's own software flow (the build's generated headers,
    variables.mak, common.mak and libbase), runs in litex_sim and prints the numpy checksum."""
    from isaforge.export_litex import export_litex

    wl = ops.get("matmul")(M=8, N=8, K=16)
    s, tensors = hand.SCHEDULES["dot4"](wl)
    func = tir.lower(s, tensors, "matmul_dot4")
    export_litex(func, tmp_path / "app", ref=wl.ref)
    assert (sim.build_dir / "software" / "libbase" / "libbase.a").exists()
    made = _make(tmp_path / "app", sim.build_dir)
    assert made.returncode == 0, made.stdout + made.stderr
    run = run_litex_sim((tmp_path / "app" / "isaforge_app.bin").read_bytes(), sim=sim, timeout_s=120)
    assert "isaforge: checksum OK" in run.console
    printed = int(re.search(r"kernel cycles (\d+)", run.console).group(1))
    assert printed == run.cycles > 0

    # the same app against an SoC without main RAM: the link fails instead of making a broken binary
    bare = tmp_path / "bare"
    shutil.copytree(sim.build_dir / "software" / "include", bare / "software" / "include")
    for lib in (sim.build_dir / "software").iterdir():
        if lib.name != "include":
            (bare / "software" / lib.name).symlink_to(lib)
    regions = bare / "software" / "include" / "generated" / "regions.ld"
    regions.write_text("".join(x for x in regions.read_text().splitlines(True) if "main_ram" not in x))
    mak = bare / "software" / "include" / "generated" / "variables.mak"
    mak.write_text(mak.read_text().replace(str(sim.build_dir), str(bare)))
    for built in (tmp_path / "app").glob("*"):
        if built.suffix in (".o", ".d", ".elf", ".bin"):
            built.unlink()
    made = _make(tmp_path / "app", bare)
    assert made.returncode != 0 and "has no main_ram" in made.stdout + made.stderr


def test_exported_model_builds_with_litex_flow_and_runs(sim, tmp_path):
    """The sine model compiled with dot4_i8 only (the suite's litex_sim CFU), exported and built by
    LiteX's own software flow, prints the numpy reference's outputs in litex_sim."""
    from frontend import from_tflite, quantize
    from frontend.compile import int8_core
    from frontend.zoo import sine_float_path
    from isaforge.export_litex import export_litex_model

    g = quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    core, compiled = int8_core(g), g.compile("vexriscv", extensions="dot4_i8")
    assert [e.name for e in compiled.used_extensions] in ([], ["dot4_i8"])
    xs = np.array([-128, -1, 0, 127], np.int8).reshape(-1, 1, 1)
    export_litex_model(compiled, tmp_path / "model", inputs=xs, expected=lambda x: core.evaluate(x)[0])
    made = _make(tmp_path / "model", sim.build_dir)
    assert made.returncode == 0, made.stdout + made.stderr
    run = run_litex_sim((tmp_path / "model" / "isaforge_app.bin").read_bytes(), sim=sim, timeout_s=120)
    assert "isaforge: outputs OK (equal to the numpy reference)" in run.console, run.console
    want = np.stack([core.evaluate(x)[0] for x in xs]).reshape(len(xs), -1)
    for b, row in enumerate(want):
        assert f"isaforge: output {b}: " + " ".join(str(int(v)) for v in row) in run.console
    warm = int(re.search(r"cycles per inference (\d+) warm", run.console).group(1))
    assert warm == run.cycles > 0

    # --measure litex_sim: the README quotes the cycles of that very build (and the model's, labelled)
    from frontend.run import run_model

    model = run_model(compiled, xs[:1]).cycles
    before = litex_sim.builds_done()
    paths = export_litex_model(compiled, tmp_path / "measured", inputs=xs, expected=lambda x: core.evaluate(x)[0],
                               sim_cycles=model, measure="litex_sim")
    assert litex_sim.builds_done() == before and paths.litex_cycles == warm
    readme = (tmp_path / "measured" / "README.md").read_text()
    assert f"Cycles: **{warm:,}** for a warm inference" in readme and f"took {model:,}" in readme


def _tuned_records(path: Path, trials: int = 8) -> None:
    """A tiny tuning run (real measurements on isaforge's SoC model) of matmul 8x8x16 on dot4_i8 into ``path``."""
    from schedules import autotune
    from simulator.measure import make_measure

    task = autotune.create_task("matmul_i8", (8, 8, 16, "dot4_i8"), "vexriscv")
    with make_measure("vexriscv", n_parallel=1) as m:
        res = autotune.RandomTuner(task, seed=0).tune(trials, m, records=path)
    assert res.best_config is not None


def _asm_record(path: Path) -> int:
    """One measured record of a matmul 8x8x16 config whose dot4 tile the emitter places as asm (cfu_asm)."""
    import codegen_c
    from schedules import autotune
    from schedules.autotune.records import RecordWriter, make_record
    from simulator.measure import make_measure

    task = autotune.create_task("matmul_i8", (8, 8, 16, "dot4_i8"), "vexriscv")
    sp = task.config_space
    idx = next(i for i in range(len(sp)) if sp.get(i).value("cfu_emit") == "asm"
               and '__asm__ __volatile__(".insn r 0x0B' in codegen_c.emit(task.lower(i), "vexriscv"))
    with make_measure("vexriscv", n_parallel=1) as m:
        res = m(task, [idx])[0]
    with RecordWriter(path) as w:
        w.write(make_record(task, task.config(idx), res, tuner="test"))
    return idx


@pytest.mark.parametrize("kind", ["tuned", "asm"])
def test_exported_records_build_with_litex_flow_and_run(sim, tmp_path, kind):
    """export-litex --records: the best schedule of a tiny tuning run (and a dot4 asm one), built by
    LiteX's own software flow with the record's compiler, prints numpy's checksum in litex_sim; with
    --measure litex_sim its README quotes the cycles of that very build."""
    from isaforge.export_litex import checksum, kernel_arrays
    from isaforge.export_records import export_litex_records

    records = tmp_path / "r.jsonl"
    asm = _asm_record(records) if kind == "asm" else _tuned_records(records)
    before = litex_sim.builds_done()
    paths = export_litex_records(records, tmp_path / "app", simulate=True)
    rk = paths.kernel
    assert asm is None or rk.config.index == asm
    assert cfu_verilog(rk.func.extensions) == CFU  # the suite's one litex_sim build
    arrays = kernel_arrays(rk.func, rk.inputs)
    want = checksum(rk.ref(*arrays[:-1]).astype(arrays[-1].dtype))
    made = _make(tmp_path / "app", sim.build_dir)
    assert made.returncode == 0, made.stdout + made.stderr
    assert rk.toolchain.command()[-1] in made.stdout  # kernel.c compiled with the record's compiler and flags
    run = run_litex_sim((tmp_path / "app" / "isaforge_app.bin").read_bytes(), sim=sim, timeout_s=120)
    console = run.console.replace("\r", "")  # LiteX's console ends lines with "\n\r"
    assert f"isaforge: checksum 0x{want:08x}\nisaforge: checksum OK\n" in console, console
    printed = int(re.search(r"kernel cycles (\d+)", run.console).group(1))
    assert printed == run.cycles > 0

    measured = export_litex_records(records, tmp_path / "measured", simulate=True, measure="litex_sim")
    assert litex_sim.builds_done() == before
    assert measured.litex_cycles == printed and measured.model_cycles == paths.model_cycles
    readme = (tmp_path / "measured" / "README.md").read_text()
    assert f"Cycles: **{printed:,}** for the warm kernel run" in readme and "measured on this very build" in readme
    assert f"took {paths.model_cycles:,}" in readme
    assert not list((tmp_path / "measured").glob("*.o"))  # measured in a copy: the folder stays as exported


def test_readme_litex_sim_commands_are_the_builds_options(sim, tmp_path):
    """The README's litex_sim commands use litex_sim_options, the options build_litex_sim builds with
    (one place), and the suite's build has what they say: 64 KiB main RAM, sim_finish (--sim-debug)."""
    import shlex

    from isaforge.export_litex import export_litex

    wl = ops.get("matmul")(M=8, N=8, K=16)
    export_litex(tir.lower(*hand.SCHEDULES["dot4"](wl), "matmul_dot4"), tmp_path / "app", ref=wl.ref)
    readme = (tmp_path / "app" / "README.md").read_text()
    cmds = [shlex.split(c.split("#")[0].replace("\\\n", " "))
            for c in re.findall(r"^litex_sim .*?(?:\\\n.*?)*$", readme, re.M)]
    opts = litex_sim.litex_sim_options("cfu.v")
    assert len(cmds) == 2 and all(c[1:1 + len(opts)] == opts for c in cmds), cmds
    assert cmds[0][1 + len(opts):] == ["--output-dir", "build/sim", "--no-compile-gateware"]
    assert cmds[1][1 + len(opts):] == ["--output-dir", "build/sim", "--ram-init", "isaforge_app.bin",
                                       "--non-interactive"]
    assert f"export MAKEFLAGS={litex_sim.LITEX_SIM_MAKEFLAGS} " in readme
    assert litex_sim._tool_env()["MAKEFLAGS"] == litex_sim.LITEX_SIM_MAKEFLAGS
    built = litex_sim.build_command("x/cfu.v", "sram", litex_sim.DEFAULT_MAIN_RAM_KIB, "p.bin", 2, "out")
    assert built[3:3 + len(opts)] == litex_sim.litex_sim_options("x/cfu.v")
    ram = int(opts[opts.index("--integrated-main-ram-size") + 1], 16)
    assert sim.main_ram_size == ram and "sim_finish_finish" in sim.csr


def test_a_cached_build_made_by_another_environment_points_at_this_litex(tmp_path):
    """The cache key holds LiteX's versions, not where it is installed: a build made from a venv that
    is gone (the last clean clone's) must name this environment's LiteX sources in variables.mak, or
    LiteX's flow (`make BUILD_DIR=...`) cannot find common.mak."""
    import litex

    from simulator.litex_sim import _point_at_this_litex

    gen = tmp_path / "software" / "include" / "generated"
    gen.mkdir(parents=True)
    gone = "/tmp/gone/p/.venv/lib/python3.11/site-packages"
    (gen / "variables.mak").write_text(
        f"PACKAGE_DIRS={gone}/litex/soc/software/libc {gone}/litex/soc/software/libbase\n"
        f"SOC_DIRECTORY={gone}/litex/soc\nPICOLIBC_DIRECTORY={gone}/pythondata_software_picolibc/data\n"
        f"BUILDINC_DIRECTORY={tmp_path}/software/include\n")
    _point_at_this_litex(tmp_path)
    text = (gen / "variables.mak").read_text()
    site = Path(litex.__file__).parent.parent
    assert gone not in text and f"SOC_DIRECTORY={site}/litex/soc\n" in text
    assert (site / "litex" / "soc" / "software" / "common.mak").exists()
    assert f"PICOLIBC_DIRECTORY={site}/pythondata_software_picolibc/data" in text
    assert f"BUILDINC_DIRECTORY={tmp_path}/software/include" in text  # the build's own paths stay
