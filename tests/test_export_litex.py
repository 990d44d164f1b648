"""``isaforge export-litex``: the folder's files, the exported kernel run in the SoC simulation (equal to
numpy), the exported demo main.c run in the SoC simulation against stub LiteX headers, and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tir
from isaforge.export_litex import checksum, export_litex, fill_inputs
from schedules import hand
from schedules import workloads as W
from simulator.toolchain import Toolchain, compile_rv32, link_script_text, runtime_sources
from simulator.vexriscv import run_elf, run_kernel

ROOT = Path(__file__).resolve().parent.parent

# Just enough of LiteX's software headers for main.c to build against the isaforge runtime.
STUBS = {
    "irq.h": ("static inline void irq_setmask(unsigned m) { (void)m; }\n"
              "static inline void irq_setie(unsigned e) { (void)e; }\n"),
    "libbase/uart.h": "static inline void uart_init(void) {}\n",
    "stdio.h": "int printf(const char *fmt, ...);\n",
}
PRINTF_C = r"""
#include <stdarg.h>
#include <stdint.h>
#include "isaforge_rt.h"
static void out_num(unsigned long v, unsigned base, int width, char pad, int neg) {
    char buf[12];
    int n = 0;
    do { buf[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    if (neg) buf[n++] = '-';
    for (int i = n; i < width; ++i) isaforge_putchar(pad);
    while (n) isaforge_putchar(buf[--n]);
}
int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; ++p) {
        if (*p != '%') { isaforge_putchar(*p); continue; }
        ++p;
        char pad = ' ';
        int width = 0;
        if (*p == '0') { pad = '0'; ++p; }
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        while (*p == 'l') ++p;
        if (*p == 's') { for (const char *s = va_arg(ap, const char *); *s; ++s) isaforge_putchar(*s); }
        else if (*p == 'd') {
            long v = va_arg(ap, long);
            out_num(v < 0 ? 0ul - (unsigned long)v : (unsigned long)v, 10, width, pad, v < 0);
        }
        else if (*p == 'u') out_num(va_arg(ap, unsigned long), 10, width, pad, 0);
        else if (*p == 'x') out_num(va_arg(ap, unsigned long), 16, width, pad, 0);
        else isaforge_putchar(*p);
    }
    va_end(ap);
    return 0;
}
"""


def _export(tmp_path, wl, sched):
    s, args = hand.SCHEDULES[sched](wl)
    func = tir.lower(s, args, f"{wl.name}_{sched}")
    out = tmp_path / f"{wl.name}_{sched}"
    export_litex(func, out, ref=wl.ref, title=f"{wl.name} {sched}")
    return func, out


@pytest.mark.parametrize("sched,ext", [("dot4", "dot4_i8"), ("mac4", "mac4_i8")])
def test_export_files(tmp_path, sched, ext):
    func, out = _export(tmp_path, W.matmul(16, 16, 16), sched)
    names = {p.name for p in out.iterdir()}
    assert {"cfu.v", "kernel.c", "kernel.h", "main.c", "Makefile", "README.md", "linker.ld"} <= names
    cfu = (out / "cfu.v").read_text()
    assert "module Cfu" in cfu and f"isaforge_{ext}_cfu" in cfu
    assert ".insn r 0x0B" in (out / "kernel.c").read_text()
    assert f"void matmul_{sched}(int8_t *restrict A, int8_t *restrict B, int32_t *restrict C);" in \
        (out / "kernel.h").read_text()
    main = (out / "main.c").read_text()
    assert "csrs 0xBC0" in main and "1u << 31" in main and "mcycle" in main and "printf" in main
    assert main.index("irq_setmask(0)") < main.index("cfu_enable();")
    mk = (out / "Makefile").read_text()
    assert "BUILD_DIR" in mk and "software/include/generated/variables.mak" in mk and "common.mak" in mk
    readme = (out / "README.md").read_text()
    assert ("python -m litex_boards.targets.digilent_arty --cpu-type vexriscv --cpu-variant full+cfu "
            "--cpu-cfu cfu.v --build --load") in readme
    assert "litex_term" in readme and "--kernel" in readme


@pytest.mark.parametrize("sched", ["dot4", "mac4"])
def test_exported_kernel_runs_in_soc_simulation(tmp_path, sched):
    wl = W.matmul(16, 16, 16)
    func, out = _export(tmp_path, wl, sched)
    arrays = fill_inputs(func)
    res = run_kernel((out / "kernel.c").read_text(), f"matmul_{sched}", arrays,
                     cfu_verilog=(out / "cfu.v").read_text())
    np.testing.assert_array_equal(arrays[-1], wl.ref(*arrays[:-1]))
    assert res.cycles > 0
    assert f"0x{checksum(arrays[-1]):08x}u" in (out / "main.c").read_text()


@pytest.mark.parametrize("make,sched", [
    (lambda: W.matmul(16, 16, 16), "mac4"),
    (lambda: W.conv2d_nchw(1, 8, 6, 6, 4, 3, pad=1), "dot4"),
])
def test_exported_demo_app_runs_in_soc_simulation(tmp_path, make, sched):
    """main.c itself (stub LiteX headers, the isaforge runtime): it enables the CFU, runs the kernel
    and prints the cycles and a checksum that matches numpy."""
    wl = make()
    _, out = _export(tmp_path, wl, sched)
    inc = tmp_path / "stub_include"
    for name, text in STUBS.items():
        (inc / name).parent.mkdir(parents=True, exist_ok=True)
        (inc / name).write_text(text)
    sources = runtime_sources()
    for name in ("main.c", "kernel.c", "kernel.h"):
        sources[name] = (out / name).read_text()
    sources["printf_stub.c"] = PRINTF_C
    tc = Toolchain(extra_flags=(f"-I{inc}", "-DISAFORGE_APP_RETURNS"))
    elf = compile_rv32(sources, None, tc, link_script_text(256, 8))
    run = run_elf(elf, cfu_verilog=(out / "cfu.v").read_text(), max_cycles=20_000_000)
    assert run.exit_code == 0, run.console
    assert "isaforge: kernel cycles" in run.console
    assert "isaforge: checksum OK" in run.console, run.console


def test_cli_export_litex(tmp_path):
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "isaforge", "export-litex", "--workload", "matmul", "--schedule",
                        "dot4", "--shape", "16,16,16", "-o", str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "extensions: dot4_i8" in r.stdout
    assert (out / "cfu.v").exists() and "isaforge_dot4_i8_dot(" in (out / "kernel.c").read_text()


def test_the_readme_s_digilent_arty_commands_build_the_soc_and_the_app(tmp_path):
    """The exported README's board commands, run as written (with ``--no-compile-gateware`` in place of
    ``--load``, as the README says, since there is no Vivado here): litex_boards writes the Arty's
    Verilog with the CFU instantiated and LiteX's software headers, and ``make`` links the app."""
    import os
    import re
    import shlex

    wl = W.matmul(8, 8, 16)
    s, tensors = hand.SCHEDULES["dot4"](wl)
    app = tmp_path / "app"
    export_litex(tir.lower(s, tensors, "matmul_dot4"), app, ref=wl.ref)
    readme = (app / "README.md").read_text()
    soc = next(line for line in readme.splitlines() if line.startswith("python -m litex_boards.targets.digilent_arty"))
    assert soc.endswith("--build --load") and "--build --no-compile-gateware" in readme
    make = next(line for line in readme.splitlines() if re.fullmatch(r"make BUILD_DIR=build/digilent_arty", line))
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    cmd = shlex.split(soc.replace("--build --load", "--build --no-compile-gateware"))
    built = subprocess.run([sys.executable, *cmd[1:]], cwd=app, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    verilog = (app / "build" / "digilent_arty" / "gateware" / "digilent_arty.v").read_text()
    assert re.search(r"^Cfu Cfu\b", verilog, re.M)
    made = subprocess.run([*shlex.split(make), f"PYTHON={sys.executable}"], cwd=app, env=env, capture_output=True,
                          text=True, timeout=300)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert (app / "isaforge_app.bin").stat().st_size > 0
