"""The flagship demo (``make demo``): schedule, lower, emit and check kernels, then measure them on
the cycle-accurate VexRiscv SoC with and without custom instructions."""

from __future__ import annotations

import sys

import numpy as np

import codegen_c
import schedules
import tir
from schedules import workloads as W


def _section(title: str) -> None:
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def tiled_matmul(M=64, N=64, K=64):
    """An int8 matmul with a 4x4 register-blocked accumulator tile (cache_write + compute_at)."""
    wl = W.matmul(M, N, K)
    C = wl.output
    s = schedules.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 4)
    s[CL].compute_at(s[C], jo)
    ic, jc = CL.op.axis
    ko, ki = s[CL].split(CL.op.reduce_axis[0], 8)
    s[CL].reorder(ko, ki, ic, jc)
    s[CL].unroll(ic)
    s[CL].unroll(jc)
    return s, wl.args


def padded_conv2d(C=8, H=16, W=16, F=8, R=3):
    """An int8 NCHW conv2d with zero padding (if_then_else, inlined) and an output-channel tile."""
    X = tir.placeholder((1, C, H, W), "int8", name="X")
    Wt = tir.placeholder((F, C, R, R), "int8", name="W")
    P = tir.compute((1, C, H + 2, W + 2), lambda b, c, y, x: tir.if_then_else(
        tir.all(y >= 1, y < H + 1, x >= 1, x < W + 1), X[b, c, y - 1, x - 1], tir.const(0, "int8")), name="pad")
    rc, ry, rx = tir.reduce_axis((0, C), "rc"), tir.reduce_axis((0, R), "ry"), tir.reduce_axis((0, R), "rx")
    Y = tir.compute((1, F, H, W), lambda b, f, y, x: tir.sum(
        P[b, rc, y + ry, x + rx].astype("int32") * Wt[f, rc, ry, rx].astype("int32"), axis=[rc, ry, rx]), name="Y")
    s = schedules.create_schedule(Y)
    s[P].compute_inline()
    b, f, y, x = Y.op.axis
    fo, fi = s[Y].split(f, 4)
    rc, ry, rx = Y.op.reduce_axis
    s[Y].reorder(b, fo, y, x, rc, ry, rx, fi)
    s[Y].unroll(fi)
    return s, [X, Wt, Y]


def host_check(title: str, s, args, ref_fn, show_c_lines: int = 40) -> None:
    _section(title)
    func = tir.lower(s, args)
    print(func)
    src = codegen_c.emit(func, "host")
    lines = src.splitlines()
    print(f"\n--- C ({len(lines)} lines, first {show_c_lines}) ---")
    print("\n".join(lines[:show_c_lines]))
    rng = np.random.default_rng(0)
    arrays = [rng.integers(-128, 128, t.shape, dtype=np.int8) for t in args[:-1]]
    out = np.zeros(args[-1].shape, np.int32)
    codegen_c.build(func)(*arrays, out)
    ok = np.array_equal(out, ref_fn(*arrays))
    print(f"\nnumpy check: {'OK' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


def conv_ref(x, w):
    xp = np.pad(x.astype(np.int32), ((0, 0), (0, 0), (1, 1), (1, 1)))
    F, C, R, _ = w.shape
    H, W = x.shape[2], x.shape[3]
    out = np.zeros((1, F, H, W), np.int32)
    for dy in range(R):
        for dx in range(R):
            out += np.einsum("nchw,fc->nfhw", xp[:, :, dy:dy + H, dx:dx + W], w[:, :, dy, dx].astype(np.int32))
    return out


def main() -> int:
    s, args = tiled_matmul()
    host_check("int8 matmul 64x64x64, 4x4 register tile (host)", s, args,
               lambda a, b: a.astype(np.int32) @ b.astype(np.int32))
    s, args = padded_conv2d()
    host_check("int8 conv2d 8x16x16 -> 8, 3x3, pad 1 (host)", s, args, conv_ref)
    from isaforge import demo_tune, demo_vexriscv

    return demo_vexriscv.main() or demo_tune.main()


if __name__ == "__main__":
    sys.exit(main())
