"""Tensorize with tails on the VexRiscv SoC: cycles of shapes that do not divide the tiles / lanes.

    .venv/bin/python benchmarks/tails_soc.py

Each kernel is checked against numpy; the scalar reference is ``schedules.hand.scalar_best`` of the
same workload. The tensorized schedules are those of tests/test_tails.py (operands packed K-major
with rows padded to whole words; the reduction runs over the real K), with the default tail
strategy (AUTO: only the guards that would fall inside the tensorized nest are partitioned) and
with PARTITION on every split.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_tails import conv_ref, schedule_conv, schedule_matmul  # noqa: E402

import simulator  # noqa: E402
import tir  # noqa: E402
from schedules import TailStrategy, hand  # noqa: E402
from schedules import workloads as W  # noqa: E402


def _cycles(func, ins, expect) -> int:
    out = np.full(expect.shape, 0x5A, np.int32)
    r = simulator.run(func, [*ins, out], "vexriscv")
    np.testing.assert_array_equal(out, expect, err_msg=str(func))
    return r.cycles


def main() -> None:
    rng = np.random.default_rng(3)
    print(f"{'kernel':<44}{'cycles':>10}{'scalar_best':>13}{'speedup':>9}")
    for M, N, K in ((10, 13, 11), (30, 30, 30), (17, 9, 21)):
        a = rng.integers(-128, 128, (M, K)).astype(np.int8)
        b = rng.integers(-128, 128, (K, N)).astype(np.int8)
        expect = a.astype(np.int32) @ b.astype(np.int32)
        base = _cycles(tir.lower(*hand.scalar_best(W.matmul(M, N, K))), [a, b], expect)
        for ext in ("dot4_i8", "mac4_i8"):
            for tail in (TailStrategy.AUTO, TailStrategy.PARTITION):
                c = _cycles(tir.lower(*schedule_matmul(M, N, K, ext, "tile", tail=tail)), [a, b], expect)
                print(f"{f'matmul {M}x{N}x{K} {ext} tail={tail.name}':<44}{c:>10}{base:>13}{base / c:>9.2f}")
    for H, Wd, C, F, ext in ((5, 7, 6, 5, "dot4_i8"), (5, 7, 8, 6, "mac4_i8"), (9, 9, 12, 10, "mac4_i8")):
        x = rng.integers(-128, 128, (1, H, Wd, C)).astype(np.int8)
        wt = rng.integers(-128, 128, (F, 3, 3, C)).astype(np.int8)
        expect = conv_ref(x, wt, 1)
        base = _cycles(tir.lower(*hand.scalar_best(hand.conv2d_nhwc_ohwi(1, H, Wd, C, F, 3, pad=1))), [x, wt], expect)
        c = _cycles(tir.lower(*schedule_conv(H, Wd, C, F, ext)), [x, wt], expect)
        print(f"{f'conv nhwc {H}x{Wd}x{C} -> {F}, 3x3 {ext}':<44}{c:>10}{base:>13}{base / c:>9.2f}")
    wl = W.dense_bias_relu(6, 10, 12)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8 if t.dtype == "int8" else np.int32) for t in wl.inputs]
    expect = wl.ref(*ins)
    base = _cycles(tir.lower(*hand.scalar_best(wl)), ins, expect)
    c = _cycles(tir.lower(*hand.mac4(wl)), ins, expect)
    print(f"{'dense+bias+relu 6x10x12 hand.mac4':<44}{c:>10}{base:>13}{base / c:>9.2f}")


if __name__ == "__main__":
    main()
