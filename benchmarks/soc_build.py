"""Build cost of the SoC per CFU candidate, monolithic vs split (simulator.soc_split), and simulation speed.

    .venv/bin/python benchmarks/soc_build.py [--rounds N] [--units a,b,c] [--callgrind]

Everything is built in a fresh temporary cache (ISAFORGE_CACHE), so every figure is a cold build of that
artifact: the split CPU (VexRiscv_FullCfu + the harness, once), then for each unit the monolithic SoC (the
whole model again) and the split SoC (the unit's model, its glue and a link). The figures are the CPU time
(user + system) of the build's child processes (Verilator, make, the C++ compiler, the linker), one at a
time in this process. Then two kernels (matmul 64^3: naive C without a CFU, and mac4_i8) are simulated
``--rounds`` times on each model, interleaved, and the least CPU time of the simulator counts (simulated
cycles per CPU second); the two must simulate exactly the same cycles (asserted). ``--callgrind`` also
counts the simulator's host instructions per simulated cycle under valgrind (matmul 32^3: naive, dot4, mac4),
a figure a loaded machine does not disturb.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codegen_c  # noqa: E402
import isa_ext  # noqa: E402
import ops  # noqa: E402
import tir  # noqa: E402
from schedules import hand  # noqa: E402
from simulator.run import cfu_verilog  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(fn, *args, **kw):
    t0 = _cpu()
    out = fn(*args, **kw)
    return out, _cpu() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="simulation runs of each model (the least CPU time counts)")
    ap.add_argument("--units", default="dot4_i8,mac4_i8,requant_i8",
                    help="comma-separated registered extensions, one candidate CFU each")
    ap.add_argument("--callgrind", action="store_true",
                    help="also count host instructions per simulated cycle under valgrind (slow: minutes)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="isaforge-soc-build-") as cache:
        os.environ["ISAFORGE_CACHE"] = cache  # cold builds, and the shared cache is left alone
        from simulator.soc_split import SPLIT_STATS, build_split_soc, cpu_build
        from simulator.vexriscv import build_soc, run_kernel

        (_, built), cold_cpu = _timed(cpu_build)
        assert built
        print(f"cold split CPU build (VexRiscv_FullCfu + harness, once): {cold_cpu:7.2f} CPU s")
        print(f"{'candidate CFU':<28}{'monolithic s':>14}{'split s':>10}{'ratio':>8}")
        mono_tot = split_tot = 0.0
        names = [n for n in args.units.split(",") if n]
        for name in names:
            text = cfu_verilog([isa_ext.get(name)])
            _, mono = _timed(build_soc, text, split=False)
            res, split = _timed(build_split_soc, text)
            assert res.cfu_built and not res.cpu_built
            mono_tot += mono
            split_tot += split
            print(f"{name:<28}{mono:>14.2f}{split:>10.2f}{mono / split:>7.1f}x")
        n = len(names)
        print(f"{'mean per candidate':<28}{mono_tot / n:>14.2f}{split_tot / n:>10.2f}{mono_tot / split_tot:>7.1f}x")
        print(f"split builder: {SPLIT_STATS}")

        wl = ops.get("matmul_nt")(64, 64, 64)
        rng = np.random.default_rng(0)
        ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
        print(f"{'simulation (M cycles/s)':<28}{'cycles':>12}{'monolithic':>12}{'split':>8}{'split CPU time':>16}")
        for sched in ("naive", "mac4"):
            s, sargs = hand.SCHEDULES[sched](wl)
            func = tir.lower(s, sargs, "kernel")
            src = codegen_c.emit(func, "vexriscv")
            cfu = cfu_verilog(func.extensions)
            arrays = [*ins, np.zeros(wl.output.shape, np.int32)]
            cycles = {run_kernel(src, "kernel", arrays, cfu_verilog=cfu, split=sp).total_cycles for sp in (False, True)}
            best = {False: float("inf"), True: float("inf")}
            for _ in range(args.rounds):
                for sp in (False, True):
                    r, cpu = _timed(run_kernel, src, "kernel", arrays, cfu_verilog=cfu, split=sp)
                    cycles.add(r.total_cycles)
                    best[sp] = min(best[sp], cpu)
            if len(cycles) != 1:
                raise SystemExit(f"the two SoC builds simulated different cycle counts: {sorted(cycles)}")
            (c,) = cycles
            print(f"{'matmul 64^3 ' + sched:<28}{c:>12,}{c / best[False] / 1e6:>12.2f}{c / best[True] / 1e6:>8.2f}"
                  f"{best[True] / best[False]:>15.3f}x")
        if args.callgrind:
            _callgrind(run_kernel)
    return 0


def _callgrind(run_kernel) -> None:
    """Host instructions per simulated cycle of both SoC builds (valgrind's callgrind counts them)."""
    import simulator.vexriscv as vx

    if shutil.which("valgrind") is None:
        print("valgrind not installed: no instruction counts")
        return
    real = subprocess.run
    seen: dict[str, str] = {}

    def counted(cmd, **kw):
        if Path(str(cmd[0])).name != "Visaforge_soc_top":  # a compiler: not counted
            return real(cmd, **kw)
        kw["timeout"] = 3600
        proc = real(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--", *cmd], **kw)
        seen["stderr"] = proc.stderr
        return proc

    wl = ops.get("matmul_nt")(32, 32, 32)
    rng = np.random.default_rng(0)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    print(f"{'host instructions / cycle':<28}{'cycles':>12}{'monolithic':>12}{'split':>8}{'ratio':>8}")
    vx.subprocess.run = counted
    try:
        for sched in ("naive", "dot4", "mac4"):
            s, sargs = hand.SCHEDULES[sched](wl)
            func = tir.lower(s, sargs, "kernel")
            src = codegen_c.emit(func, "vexriscv")
            arrays = [*ins, np.zeros(wl.output.shape, np.int32)]
            got = {}
            for sp in (False, True):
                r = run_kernel(src, "kernel", arrays, cfu_verilog=cfu_verilog(func.extensions), split=sp)
                got[sp] = (r.total_cycles, int(re.search(r"Collected : (\d+)", seen["stderr"]).group(1)))
            if got[False][0] != got[True][0]:
                raise SystemExit(f"the two SoC builds simulated different cycle counts: {got}")
            c = got[False][0]
            print(f"{'matmul 32^3 ' + sched:<28}{c:>12,}{got[False][1] / c:>12.0f}{got[True][1] / c:>8.0f}"
                  f"{got[True][1] / got[False][1]:>7.3f}x")
    finally:
        vx.subprocess.run = real


if __name__ == "__main__":
    sys.exit(main())
