"""Speed of the SoC model: simulated VexRiscv cycles per second of CPU time.

    .venv/bin/python benchmarks/soc_speed.py [--rounds N]

Runs a few kernels on the cycle-accurate SoC, first once to build and cache the ELF and the verilated
models, then ``--rounds`` times (default 3) on the harness as built (its fast paths: the model's
evaluation called directly, the falling edge skipped for a rising-edge-only design) interleaved with the
reference harness (Verilator's eval() on both edges, ``plain_eval``), and reports the least CPU time of
the child processes of each: interleaving and the minimum keep a loaded machine's noise out of the
ratio. Every run must simulate exactly the same cycles (asserted). The cycles counted are every cycle the
model simulated (program start to exit, both kernel calls).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codegen_c  # noqa: E402
import ops  # noqa: E402
import tir  # noqa: E402
from schedules import hand  # noqa: E402
from simulator.run import cfu_verilog  # noqa: E402
from simulator.vexriscv import run_kernel  # noqa: E402

CASES = (("matmul 64^3 naive C", "naive"), ("matmul 64^3 scalar", "scalar"), ("matmul 64^3 mac4_i8", "mac4"))


def _timed(*args, **kw):
    """run_kernel(*args, **kw) and the CPU time of its child processes (the simulator)."""
    t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = run_kernel(*args, **kw)
    t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r, (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="measured runs of each harness (the least CPU time counts)")
    args = ap.parse_args(argv)
    wl = ops.get("matmul_nt")(64, 64, 64)
    rng = np.random.default_rng(0)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    print(f"{'kernel':<24}{'cycles simulated':>18}{'CPU s':>8}{'M cycles/s':>12}{'plain eval':>12}{'speedup':>9}")
    tot_cycles = tot_fast = tot_plain = 0.0
    for title, sched in CASES:
        s, sargs = hand.SCHEDULES[sched](wl)
        func = tir.lower(s, sargs, "kernel")
        src = codegen_c.emit(func, "vexriscv")
        cfu = cfu_verilog(func.extensions)
        arrays = [*ins, np.zeros(wl.output.shape, np.int32)]
        cycles = {run_kernel(src, "kernel", arrays, cfu_verilog=cfu, plain_eval=p).total_cycles
                  for p in (False, True)}  # builds and caches both models
        best = {False: float("inf"), True: float("inf")}
        for _ in range(args.rounds):
            for plain in (False, True):
                r, cpu = _timed(src, "kernel", arrays, cfu_verilog=cfu, plain_eval=plain)
                cycles.add(r.total_cycles)
                best[plain] = min(best[plain], cpu)
        if len(cycles) != 1:
            raise SystemExit(f"{title}: the harnesses simulated different cycle counts: {sorted(cycles)}")
        (n,) = cycles
        tot_cycles += n
        tot_fast += best[False]
        tot_plain += best[True]
        print(f"{title:<24}{n:>18,}{best[False]:>8.2f}{n / best[False] / 1e6:>12.2f}"
              f"{n / best[True] / 1e6:>12.2f}{best[True] / best[False]:>8.2f}x")
    print(f"{'all':<24}{int(tot_cycles):>18,}{tot_fast:>8.2f}{tot_cycles / tot_fast / 1e6:>12.2f}"
          f"{tot_cycles / tot_plain / 1e6:>12.2f}{tot_plain / tot_fast:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
