"""Speed of the SoC model: simulated VexRiscv cycles per second of CPU time.

    .venv/bin/python benchmarks/soc_speed.py

Runs a few kernels on the cycle-accurate SoC twice; the second run finds the ELF and the verilated
model in the cache, so the CPU time of its child processes is the simulator's alone. The cycles
counted are every cycle the model simulated (program start to exit, both kernel calls).
"""

from __future__ import annotations

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


def main() -> None:
    wl = ops.get("matmul_nt")(64, 64, 64)
    rng = np.random.default_rng(0)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    print(f"{'kernel':<24}{'cycles simulated':>18}{'CPU s':>8}{'M cycles/s':>12}")
    for title, sched in CASES:
        s, args = hand.SCHEDULES[sched](wl)
        func = tir.lower(s, args, "kernel")
        src = codegen_c.emit(func, "vexriscv")
        cfu = cfu_verilog(func.extensions)
        arrays = [*ins, np.zeros(wl.output.shape, np.int32)]
        run_kernel(src, "kernel", arrays, cfu_verilog=cfu)  # builds and caches
        t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = run_kernel(src, "kernel", arrays, cfu_verilog=cfu)
        t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime)
        print(f"{title:<24}{r.total_cycles:>18,}{cpu:>8.2f}{r.total_cycles / cpu / 1e6:>12.2f}")


if __name__ == "__main__":
    main()
