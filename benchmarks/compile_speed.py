"""Lowering + C emission throughput (schedules per second) for a 3-level tiled matmul and a tiled conv2d.

Run: .venv/bin/python benchmarks/compile_speed.py [--seconds 5]
Autotuning lowers thousands of candidates; the goal is at least 100 schedules/s on 2 cores.
"""

import argparse
import time

import codegen_c
import ops
import schedules
import tir


def matmul_3level(M=256, N=256, K=256):
    wl = ops.get("matmul")(M, N, K)
    C = wl.output
    s = schedules.create_schedule(C)
    CL = s.cache_write(C, "local")
    i, j = C.op.axis
    io, jo, ii, ji = s[C].tile(i, j, 64, 64)
    iio, jio, iii, jii = s[C].tile(ii, ji, 4, 4)
    s[CL].compute_at(s[C], jio)
    ic, jc = CL.op.axis
    ko, ki = s[CL].split(CL.op.reduce_axis[0], 16)
    s[CL].reorder(ko, ki, ic, jc)
    s[CL].unroll(ic)
    s[CL].unroll(jc)
    return s, wl.args


def conv2d_tiled(N=1, C=16, H=32, W=32, F=32, R=3):
    wl = ops.get("conv2d_nchw")(N, C, H, W, F, R, pad=1)
    Y = wl.output
    s = schedules.create_schedule(Y)
    s[wl["pad"]].compute_inline()
    YL = s.cache_write(Y, "local")
    b, f, y, x = Y.op.axis
    fo, fi = s[Y].split(f, 4)
    xo, xi = s[Y].split(x, 4)
    s[Y].reorder(b, fo, y, xo, fi, xi)
    s[YL].compute_at(s[Y], xo)
    return s, wl.args


def throughput(make, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s, args = make()
        codegen_c.emit(tir.lower(s, args), "rv32im")
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    print(f"{'workload':<28}{'schedules/s':>12}")
    for name, make in (("matmul 256^3, 3-level tiled", matmul_3level), ("conv2d 16x32x32 -> 32, tiled", conv2d_tiled)):
        print(f"{name:<28}{throughput(make, a.seconds):>12.1f}")


if __name__ == "__main__":
    main()
