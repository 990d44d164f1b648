"""``isaforge export-litex MODEL``: the exported model folder (model.c, main.c, cfu.v, ...) built by the
project's rv32 cross compiler against stub LiteX headers and run on the simulated VexRiscv SoC prints the
outputs the numpy reference computes; the CLI; and the placement of the kernel export's buffers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_export_litex import PRINTF_C, STUBS

import tir
from frontend import from_tflite, quantize
from frontend.compile import int8_core
from frontend.reference import dequantize_np
from frontend.zoo import sine_float_path
from isaforge.export_litex import (
    PLACED_BEGIN,
    PLACED_END,
    buffer_plan,
    export_litex,
    export_litex_model,
    model_console,
    model_inputs,
)
from schedules import hand
from schedules import workloads as W
from simulator.elf import read_elf
from simulator.placement import CACHE_BYTES
from simulator.toolchain import Toolchain, compile_rv32, link_script_text, runtime_sources
from simulator.vexriscv import run_elf

CALIBRATION = np.linspace(0, 2 * np.pi, 500, dtype=np.float32)
EXTS = ("dot4_i8", "requant_i8")


@pytest.fixture(scope="module")
def sine():
    """The quantized sine model, its int8 core (what the device runs) and its compile with dot4 + requant."""
    g = quantize(from_tflite(sine_float_path()), CALIBRATION)
    return g, int8_core(g), g.compile("vexriscv", extensions=EXTS)


def _build_and_run(tmp_path, folder, unit: str, link_script: str | None = None):
    """main.c and the unit of an exported folder, cross compiled against the stub headers and the isaforge
    runtime, run on the SoC with the folder's cfu.v: ``(elf, SimRun)``."""
    inc = tmp_path / "stub_include"
    for name, text in STUBS.items():
        (inc / name).parent.mkdir(parents=True, exist_ok=True)
        (inc / name).write_text(text)
    sources = runtime_sources()
    for name in ("main.c", f"{unit}.c", f"{unit}.h"):
        sources[name] = (folder / name).read_text()
    sources["printf_stub.c"] = PRINTF_C
    tc = Toolchain(extra_flags=(f"-I{inc}", "-DISAFORGE_APP_RETURNS"))
    elf = compile_rv32(sources, None, tc, link_script or link_script_text(256, 8))
    run = run_elf(elf, cfu_verilog=(folder / "cfu.v").read_text(), max_cycles=20_000_000)
    assert run.exit_code == 0, run.console
    return elf, run


def _printed(console: str, what: str) -> dict[int, list[str]]:
    return {int(m[1]): m[2].split() for m in re.finditer(rf"^isaforge: {what} (\d+): (.*)$", console, re.M)}


def test_exported_model_runs_in_soc_simulation_and_prints_the_reference(tmp_path, sine):
    g, core, compiled = sine
    xs = np.array([-128, -77, -1, 0, 40, 127], np.int8).reshape(-1, 1, 1)
    out = tmp_path / "sine"
    export_litex_model(compiled, out, inputs=xs, expected=lambda x: core.evaluate(x)[0])
    _, run = _build_and_run(tmp_path, out, "model")
    want = np.stack([core.evaluate(x)[0] for x in xs]).reshape(len(xs), -1)
    codes = _printed(run.console, "output")
    assert sorted(codes) == list(range(len(xs))), run.console
    assert [[int(v) for v in codes[b]] for b in range(len(xs))] == want.tolist()
    reals = _printed(run.console, "real")
    deq = dequantize_np(want.astype(np.int8), compiled.output_quant)
    np.testing.assert_allclose([[float(v) for v in reals[b]] for b in range(len(xs))], deq, atol=5e-7)
    assert "isaforge: outputs OK (equal to the numpy reference)" in run.console, run.console
    m = re.search(r"cycles per inference (\d+) warm, (\d+) cold", run.console)
    assert m and 0 < int(m[1]) < int(m[2]), run.console
    # the README's expected lines are the ones the device printed
    readme = (out / "README.md").read_text()
    assert all(line in readme and line in run.console for line in model_console(compiled, want))


def test_exported_model_reports_a_mismatch(tmp_path, sine):
    """main.c's comparison can fail: a reference off by one in one value is reported."""
    _, core, compiled = sine
    xs = model_inputs(compiled)  # the deterministic input
    wrong = np.stack([core.evaluate(x)[0] for x in xs]).astype(np.int16)
    wrong[0, 0, 0] += 1 if wrong[0, 0, 0] < 127 else -1
    out = tmp_path / "wrong"
    export_litex_model(compiled, out, expected=wrong)
    _, run = _build_and_run(tmp_path, out, "model")
    assert "isaforge: outputs MISMATCH (1 values differ from the numpy reference)" in run.console, run.console


def test_model_folder_files(tmp_path, sine):
    _, core, compiled = sine
    out = tmp_path / "files"
    paths = export_litex_model(compiled, out, board="digilent_arty")
    assert set(paths) == {"cfu.v", "model.c", "model.h", "main.c", "linker.ld", "Makefile", "README.md"}
    assert (out / "model.c").read_text() == compiled.source
    assert "void model(const int8_t *in, int8_t *out);" in (out / "model.h").read_text()
    cfu = (out / "cfu.v").read_text()
    assert "module Cfu" in cfu and all(f"isaforge_{e}_cfu" in cfu for e in EXTS)
    main = (out / "main.c").read_text()
    assert "csrs 0xBC0" in main and main.index("irq_setmask(0)") < main.index("cfu_enable();")
    assert "expected" not in main  # no reference given: nothing to compare
    mk = (out / "Makefile").read_text()
    assert "crt0.o model.o main.o" in mk and "model.o: model.c" in mk and "main.o: main.c model.h" in mk
    readme = (out / "README.md").read_text()
    assert ("python -m litex_boards.targets.digilent_arty --cpu-type vexriscv --cpu-variant full+cfu "
            "--cpu-cfu cfu.v --build --load") in readme and "make BUILD_DIR=build/digilent_arty" in readme
    assert "litex_term /dev/ttyUSB1 --kernel isaforge_app.bin" in readme
    # without extensions: a null CFU
    plain = export_litex_model(quantize(from_tflite(sine_float_path()), CALIBRATION).compile("vexriscv"),
                               tmp_path / "plain")
    assert "none (a null CFU)" in plain["README.md"].read_text()


def test_model_export_rejects_bad_inputs(tmp_path, sine):
    from isaforge.errors import ExportError

    _, _, compiled = sine
    with pytest.raises(ExportError, match="do not fit its input dtype int8"):
        export_litex_model(compiled, tmp_path / "a", inputs=np.array([0.5], np.float32))
    with pytest.raises(ExportError, match="expected outputs of shape"):
        export_litex_model(compiled, tmp_path / "b", inputs=np.zeros((2, 1, 1), np.int8),
                           expected=np.zeros(3, np.int8))
    with pytest.raises(ExportError, match="CompiledModel"):
        export_litex_model(object(), tmp_path / "c")


def test_cli_export_litex_model(tmp_path, sine):
    """``isaforge export-litex MODEL.tflite --extensions ... --calibration ... --inputs ... --simulate``:
    float inputs are quantized, the expected outputs are the reference's, the simulation agrees."""
    from frontend.reference import quantize_np
    from isaforge.cli import main

    _, core, compiled = sine
    np.save(tmp_path / "calib.npy", CALIBRATION)
    xs = np.array([0.0, 1.0, 3.0, 5.5], np.float32).reshape(-1, 1, 1)
    np.save(tmp_path / "x.npy", xs)
    out = tmp_path / "cli"
    assert main(["export-litex", str(sine_float_path()), "--extensions", ",".join(EXTS), "--calibration",
                 str(tmp_path / "calib.npy"), "--inputs", str(tmp_path / "x.npy"), "--simulate", "-o", str(out)]) == 0
    q = quantize_np(xs, compiled.input_quant, "int8")
    want = np.stack([core.evaluate(x)[0] for x in q])
    main_c = (out / "main.c").read_text()
    assert all(f"    {{{int(v)}}}," in main_c for v in q.reshape(-1))
    readme = (out / "README.md").read_text()
    assert all(line in readme for line in model_console(compiled, want))
    assert re.search(r"Cycles: [\d,]+ for a warm inference .* in isaforge.s SoC model", readme)
    # a float model without calibration data: a clear error (exit code 2)
    assert main(["export-litex", str(sine_float_path()), "-o", str(tmp_path / "x")]) == 2
    # kernel options do not go with a model
    assert main(["export-litex", str(sine_float_path()), "--schedule", "dot4", "-o", str(tmp_path / "y")]) == 2


def _placed_link_script(folder) -> str:
    """The project's link script with the exported linker.ld's planned buffers (its RAM region is RAM)."""
    ld = (folder / "linker.ld").read_text()
    block = ld[ld.index(PLACED_BEGIN) + len(PLACED_BEGIN):ld.index(PLACED_END)].rstrip()
    assert block.endswith("> main_ram")
    return link_script_text(256, 8, block[: -len("main_ram")] + "RAM")


def test_kernel_export_places_its_buffers_apart_in_the_d_cache(tmp_path):
    """matmul 64^3 int8: A and B are 4 KiB each, packed they start at the same address modulo 4 KiB; the
    exported linker.ld places main.c's buffers (and the kernel's statics) as simulator.placement plans."""
    wl = W.matmul(64, 64, 64)
    s, args = hand.SCHEDULES["dot4"](wl)
    func = tir.lower(s, args, "matmul_dot4")
    out = tmp_path / "mm64"
    export_litex(func, out, ref=wl.ref)
    _, plan = buffer_plan(func)
    sources = {"main.c": (out / "main.c").read_text(), "kernel.c": (out / "kernel.c").read_text(),
               "kernel.h": (out / "kernel.h").read_text()}
    inc = tmp_path / "inc"
    for name, text in STUBS.items():
        (inc / name).parent.mkdir(parents=True, exist_ok=True)
        (inc / name).write_text(text)
    sources.update(runtime_sources())
    sources["printf_stub.c"] = PRINTF_C
    elf = compile_rv32(sources, None, Toolchain(extra_flags=(f"-I{inc}", "-DISAFORGE_APP_RETURNS")),
                       _placed_link_script(out))
    info = read_elf(elf)
    offsets = plan.offsets()
    addr = {i: info.symbol(f"buf{i}").address for i in range(3)}
    for i, a in addr.items():
        assert a % CACHE_BYTES == offsets[f".isaforge_buf.arg{i}"], (i, hex(a))
    assert addr[0] % CACHE_BYTES != addr[1] % CACHE_BYTES  # A and B no longer share their cache sets


def test_exported_kernel_demo_with_planned_buffers_runs(tmp_path):
    """A kernel with a kernel-level static (conv2d_nchw, dot4: its padded input) run from the exported
    main.c with the exported placement: the checksum still matches numpy."""
    wl = W.conv2d_nchw(1, 8, 6, 6, 4, 3, pad=1)
    s, args = hand.SCHEDULES["dot4"](wl)
    func = tir.lower(s, args, "conv_dot4")
    out = tmp_path / "conv"
    export_litex(func, out, ref=wl.ref, title="conv dot4")
    kernel_c, plan = buffer_plan(func)
    assert any(b.section.startswith(".isaforge_tmp.") for b in plan.buffers)  # the static is planned too
    assert "__attribute__((section(\".isaforge_tmp.0\")))" in (out / "kernel.c").read_text()
    _, run = _build_and_run(tmp_path, out, "kernel", _placed_link_script(out))
    assert "isaforge: checksum OK" in run.console, run.console
