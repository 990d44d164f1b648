"""Speed of the SoC model: simulated VexRiscv cycles per second of CPU time.

    .venv/bin/python benchmarks/soc_speed.py [--rounds N] [--build-time]

Runs a few kernels on the cycle-accurate SoC, first once to build and cache the ELF and the verilated
models, then ``--rounds`` times (default 3) on each model, interleaved: the fast model as built by default
(flattened and, with ``PGO_DEFAULT``, profile-guided), the same without the profile (``pgo=False``) and the
reference (Verilator's eval() on both edges, no flattening, no profile: ``plain_eval``). It reports the
least CPU time of the simulator child processes of each: interleaving and the minimum keep a loaded
machine's noise out of the ratios. Every run must simulate exactly the same cycles (asserted). The cycles
counted are every cycle the model simulated (program start to exit, both kernel calls).

``--build-time``: also builds the no-CFU model with and without the profile in an empty cache (a
temporary ``ISAFORGE_CACHE``) and reports the CPU time of each build (all child processes: Verilator,
the C++ compiles, the training program's cross compile and run).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codegen_c  # noqa: E402
import ops  # noqa: E402
import tir  # noqa: E402
from schedules import hand  # noqa: E402
from simulator import vexriscv  # noqa: E402
from simulator.run import cfu_verilog  # noqa: E402
from simulator.vexriscv import build_soc, run_kernel  # noqa: E402

CASES = (("matmul 64^3 naive C", "naive"), ("matmul 64^3 scalar", "scalar"), ("matmul 64^3 mac4_i8", "mac4"))
MODES = {"default": {}, "no pgo": {"pgo": False}, "plain eval": {"plain_eval": True}}


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(fn, *args, **kw):
    """fn(*args, **kw) and the CPU time of its child processes (the simulator, the compilers)."""
    t0 = _child_cpu()
    r = fn(*args, **kw)
    return r, _child_cpu() - t0


def build_times() -> dict[str, float]:
    """CPU seconds of building the no-CFU SoC model from an empty cache, with and without the profile."""
    out = {}
    old = os.environ.get("ISAFORGE_CACHE")
    try:
        for name, pgo in (("no pgo", False), ("pgo", True)):
            with tempfile.TemporaryDirectory(prefix="isaforge-build-time-") as tmp:
                os.environ["ISAFORGE_CACHE"] = tmp
                _, out[name] = _timed(build_soc, None, pgo=pgo, split=False)
    finally:
        if old is None:
            os.environ.pop("ISAFORGE_CACHE", None)
        else:
            os.environ["ISAFORGE_CACHE"] = old
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="measured runs of each model (the least CPU time counts)")
    ap.add_argument("--build-time", action="store_true", help="also time the model's build from an empty cache")
    args = ap.parse_args(argv)
    wl = ops.get("matmul_nt")(64, 64, 64)
    rng = np.random.default_rng(0)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    print(f"PGO_DEFAULT={vexriscv.PGO_DEFAULT} ({vexriscv.PGO_ENV}={os.environ.get(vexriscv.PGO_ENV, '')!r}); "
          f"M simulated cycles per CPU second:")
    print(f"{'kernel':<24}{'cycles simulated':>18}{'CPU s':>8}" + "".join(f"{m:>12}" for m in MODES)
          + f"{'vs no pgo':>11}{'vs plain':>10}")
    tot_cycles = 0
    tot = dict.fromkeys(MODES, 0.0)
    for title, sched in CASES:
        s, sargs = hand.SCHEDULES[sched](wl)
        func = tir.lower(s, sargs, "kernel")
        src = codegen_c.emit(func, "vexriscv")
        cfu = cfu_verilog(func.extensions)
        arrays = [*ins, np.zeros(wl.output.shape, np.int32)]
        cycles = {run_kernel(src, "kernel", arrays, cfu_verilog=cfu, split=False, **kw).total_cycles
                  for kw in MODES.values()}  # builds and caches every model
        best = dict.fromkeys(MODES, float("inf"))
        for _ in range(args.rounds):
            for mode, kw in MODES.items():
                r, cpu = _timed(run_kernel, src, "kernel", arrays, cfu_verilog=cfu, split=False, **kw)
                cycles.add(r.total_cycles)
                best[mode] = min(best[mode], cpu)
        if len(cycles) != 1:
            raise SystemExit(f"{title}: the models simulated different cycle counts: {sorted(cycles)}")
        (n,) = cycles
        tot_cycles += n
        for mode in MODES:
            tot[mode] += best[mode]
        _row(title, n, best)
    _row("all", tot_cycles, tot)
    if args.build_time:
        times = build_times()
        print("build of the no-CFU SoC model from an empty cache, CPU s: "
              + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    return 0


def _row(title: str, n: int, best: dict[str, float]) -> None:
    print(f"{title:<24}{n:>18,}{best['default']:>8.2f}" + "".join(f"{n / t / 1e6:>12.2f}" for t in best.values())
          + f"{best['no pgo'] / best['default']:>10.2f}x{best['plain eval'] / best['default']:>9.2f}x")


if __name__ == "__main__":
    sys.exit(main())
