"""The flagship demo (``make demo``): schedule, lower, emit and check kernels, then measure them on
the cycle-accurate VexRiscv SoC with and without custom instructions."""

from __future__ import annotations

import sys

import numpy as np

import codegen_c
import ops
import schedules
import tir


def _section(title: str) -> None:
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def tiled_matmul(M=64, N=64, K=64):
    """An int8 matmul with a 4x4 register-blocked accumulator tile (cache_write + compute_at)."""
    wl = ops.get("matmul")(M, N, K)
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
    return s, wl


def padded_conv2d(C=8, H=16, W=16, F=8, R=3):
    """An int8 NCHW conv2d with zero padding (if_then_else, inlined) and an output-channel tile."""
    wl = ops.get("conv2d_nchw")(1, C, H, W, F, R, pad=1)
    Y = wl.output
    s = schedules.create_schedule(Y)
    s[wl["pad"]].compute_inline()
    b, f, y, x = Y.op.axis
    fo, fi = s[Y].split(f, 4)
    rc, ry, rx = Y.op.reduce_axis
    s[Y].reorder(b, fo, y, x, rc, ry, rx, fi)
    s[Y].unroll(fi)
    return s, wl


def host_check(title: str, s, wl, show_c_lines: int = 40) -> None:
    _section(title)
    func = tir.lower(s, wl.args)
    print(func)
    src = codegen_c.emit(func, "host")
    lines = src.splitlines()
    print(f"\n--- C ({len(lines)} lines, first {show_c_lines}) ---")
    print("\n".join(lines[:show_c_lines]))
    rng = np.random.default_rng(0)
    arrays = [rng.integers(-128, 128, t.shape, dtype=np.int8) for t in wl.inputs]
    out = np.zeros(wl.output.shape, np.int32)
    codegen_c.build(func)(*arrays, out)
    ok = np.array_equal(out, wl.ref(*arrays))
    print(f"\nnumpy check: {'OK' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


def main() -> int:
    s, wl = tiled_matmul()
    host_check("int8 matmul 64x64x64, 4x4 register tile (host)", s, wl)
    s, wl = padded_conv2d()
    host_check("int8 conv2d 8x16x16 -> 8, 3x3, pad 1 (host)", s, wl)
    from isaforge import demo_models, demo_search, demo_tune, demo_vexriscv

    return demo_vexriscv.main() or demo_models.main() or demo_tune.main() or demo_search.main()


if __name__ == "__main__":
    sys.exit(main())
