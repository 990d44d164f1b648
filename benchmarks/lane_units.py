"""Lane-parallel units (isa_ext.fam_simd) on the VexRiscv SoC: depthwise 3x3 NHWC 1x16x16x32 (pad 1) with
the best scalar config vs each ``lane_mac`` candidate, and max pool 2x2/2 NHWC 1x16x16x32 scalar vs
``simd_max``; the units' area from Yosys (synth_xilinx).

Run: .venv/bin/python benchmarks/lane_units.py [--compilers zig:-O2,gcc:-O2] [--no-area]

Each row is the best of the template's configs over the given compilers (every tile / channel-group /
pad / unroll choice of the scalar configs; every tile and pad choice of the tensorized ones, taps
unrolled). Cycle counts are simulated, so deterministic.
"""

from __future__ import annotations

import argparse


def _best(task, keep) -> tuple[float, str]:
    from simulator.measure import measure_one

    best = None
    sp = task.config_space
    for i in range(len(sp)):
        cfg = sp.get(i)
        if not keep(cfg):
            continue
        r = measure_one(task, i, "vexriscv", 10 ** 9, 0)
        if r.error is not None:
            raise RuntimeError(f"{task.key} config {cfg}: {r.error}: {r.message}")
        if best is None or r.cost < best[0]:
            best = (r.cost, str(cfg))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compilers", default="zig:-O2,gcc:-O2")
    ap.add_argument("--no-area", action="store_true")
    args = ap.parse_args()
    compilers = set(args.compilers.split(","))

    import isa_ext
    from isa_ext.candidates import build_candidate, enumerate_family
    from schedules.autotune import create_task
    from schedules.autotune.templates import template_macs

    dw = (1, 16, 16, 32, 3, 3, 1, 1)
    macs = template_macs("depthwise_conv2d_nhwc_i8", dw)
    rows = []
    scalar = _best(create_task("depthwise_conv2d_nhwc_i8", (*dw, ""), "vexriscv"),
                   lambda c: c["compiler"].val in compilers)
    rows.append(("depthwise 3x3 NHWC", "scalar", scalar[0], macs / scalar[0], 1.0, scalar[1], None))
    units = enumerate_family("lane_mac") + enumerate_family("simd_max")
    for spec in enumerate_family("lane_mac"):
        ext = build_candidate(spec)
        isa_ext.register(ext, replace=True)
        b = _best(create_task("depthwise_conv2d_nhwc_i8", (*dw, ext.name), "vexriscv"),
                  lambda c: c["compiler"].val in compilers and c["tensorize"].name is not None
                  and c["unroll_taps"].val)
        rows.append(("depthwise 3x3 NHWC", spec.key, b[0], macs / b[0], scalar[0] / b[0], b[1], ext))
    mp = (1, 16, 16, 32, 2, 2, 0)
    ps = _best(create_task("max_pool2d_nhwc_i8", (*mp, ""), "vexriscv"), lambda c: c["compiler"].val in compilers)
    rows.append(("max pool 2x2/2 NHWC", "scalar", ps[0], None, 1.0, ps[1], None))
    mx = build_candidate(enumerate_family("simd_max")[0])
    isa_ext.register(mx, replace=True)
    pm = _best(create_task("max_pool2d_nhwc_i8", (*mp, mx.name), "vexriscv"),
               lambda c: c["compiler"].val in compilers and c["tensorize"].name is not None)
    rows.append(("max pool 2x2/2 NHWC", units[-1].key, pm[0], None, ps[0] / pm[0], pm[1], mx))

    print(f"{'kernel':22} {'unit':36} {'cycles':>9} {'MAC/cyc':>8} {'speedup':>8} {'LUT':>5} {'FF':>5} {'DSP':>4}"
          "  best config")
    for kernel, unit, cyc, mpc, sp, cfg, ext in rows:
        area = None if ext is None or args.no_area else isa_ext.extension_area(ext)
        a = f"{area.lut:5d} {area.ff:5d} {area.dsp:4d}" if area else f"{'':5} {'':5} {'':4}"
        m = f"{mpc:8.3f}" if mpc is not None else f"{'':8}"
        print(f"{kernel:22} {unit:36} {int(cyc):9d} {m} {sp:7.2f}x {a}  {cfg}")


if __name__ == "__main__":
    main()
