"""Lowering + C emission throughput (schedules per second) for a 3-level tiled matmul and a tiled conv2d.

Run: .venv/bin/python benchmarks/compile_speed.py [--seconds 5] [--calls]

Only ``tir.lower`` + ``codegen_c.emit`` are timed, as CPU time of this process (``time.process_time``;
building the schedule is not counted): the best and the median of the per-schedule times, as
schedules/s. CPU time still varies with the machine's load (caches, shared cores), so ``--calls`` also
counts the Python function calls of one lowering + emission (cProfile), a number that does not.
Autotuning lowers thousands of candidates (spaces of up to 1e5 configs); the goal is at least 200
schedules/s for the 3-level tiled matmul.
"""

import argparse
import cProfile
import pstats
import statistics
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


def lower_emit_times(make, seconds: float) -> list[float]:
    """CPU seconds of ``lower`` + ``emit`` for fresh schedules from ``make``, for about ``seconds``."""
    for _ in range(3):  # warm up (imports, first-use caches)
        s, args = make()
        codegen_c.emit(tir.lower(s, args), "rv32im")
    out: list[float] = []
    while sum(out) < seconds or len(out) < 5:
        s, args = make()
        t0 = time.process_time()
        codegen_c.emit(tir.lower(s, args), "rv32im")
        out.append(time.process_time() - t0)
    return out


def calls_per_schedule(make) -> int:
    """Python function calls (cProfile's count) of one ``lower`` + ``emit``, after a warm-up."""
    s, args = make()
    codegen_c.emit(tir.lower(s, args), "rv32im")
    s, args = make()
    prof = cProfile.Profile()
    prof.enable()
    codegen_c.emit(tir.lower(s, args), "rv32im")
    prof.disable()
    return pstats.Stats(prof).total_calls


def throughput(make, seconds: float) -> float:
    """Schedules per second of ``lower`` + ``emit`` (median CPU time)."""
    return 1.0 / statistics.median(lower_emit_times(make, seconds))


WORKLOADS = (("matmul 256^3, 3-level tiled", matmul_3level), ("conv2d 16x32x32 -> 32, tiled", conv2d_tiled))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--calls", action="store_true", help="also count Python calls per lowering + emission")
    a = ap.parse_args()
    head = f"{'workload':<30}{'best/s':>9}{'median/s':>10}"
    print(head + (f"{'calls':>9}" if a.calls else ""))
    for name, make in WORKLOADS:
        ts = lower_emit_times(make, a.seconds)
        row = f"{name:<30}{1 / min(ts):>9.1f}{1 / statistics.median(ts):>10.1f}"
        if a.calls:
            row += f"{calls_per_schedule(make):>9d}"
        print(row)


if __name__ == "__main__":
    main()
