"""The VexRiscv part of the demo: hand schedules measured on the cycle-accurate SoC."""

from __future__ import annotations

import numpy as np

import ops
import simulator
import tir
from schedules import hand

VARIANTS = (("naive C", "naive"), ("hand, no extension", "scalar"), ("dot4_i8", "dot4"),
            ("dot4_i8, cfu_asm", "dot4_asm"), ("mac4_i8", "mac4"))


def measure(wl, variant: str, macs: int, toolchain: simulator.Toolchain) -> tuple[int, float]:
    s, args = hand.SCHEDULES[variant](wl)
    func = tir.lower(s, args)
    rng = np.random.default_rng(0)
    ins = [rng.integers(-128, 128, t.shape, dtype=np.int8) for t in wl.inputs]
    out = np.zeros(wl.output.shape, tir.dtype.numpy_dtype(wl.output.dtype))
    r = simulator.run(func, [*ins, out], "vexriscv", toolchain=toolchain)
    if not np.array_equal(out, wl.ref(*ins)):
        raise SystemExit(f"{wl.name} {variant}: result differs from numpy")
    return r.cycles, macs / r.cycles


def main() -> int:
    print()
    print("=" * 78)
    print("On the simulated VexRiscv (litex full+cfu, Verilator), warm kernel cycles")
    print("=" * 78)
    kernels = [("matmul 64x64x64 int8", ops.get("matmul")(64, 64, 64)),
               ("conv2d NHWC 16x16x16->16 3x3", ops.get("conv2d_nhwc")(1, 16, 16, 16, 16, 3, pad=1))]
    tc = simulator.Toolchain()
    print(f"{'kernel':<30}{'schedule':<20}{'cycles':>12}{'MAC/cycle':>11}{'speedup':>9}")
    for title, wl in kernels:
        macs = wl.op.macs(**wl.params)
        base = None
        for label, variant in VARIANTS:
            cycles, rate = measure(wl, variant, macs, tc)
            base = base or cycles
            print(f"{title:<30}{label:<20}{cycles:>12,}{rate:>11.3f}{base / cycles:>8.2f}x", flush=True)
            title = ""
    print("\n(every result checked against numpy; zig -O2; details: benchmarks/vexriscv_kernels.py)")
    return 0
