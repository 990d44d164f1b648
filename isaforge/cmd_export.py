"""``isaforge export-litex``: schedule a workload, lower it and write a LiteX project folder."""

from __future__ import annotations

import argparse

WORKLOADS = {
    # name: (constructor in schedules.workloads / schedules.hand, shape fields, default shape)
    "matmul": ("matmul", "M,N,K", (64, 64, 64)),
    "matmul_nt": ("matmul_nt", "M,N,K", (64, 64, 64)),
    "conv2d": ("conv2d_nchw", "N,C,H,W,F,K", (1, 16, 16, 16, 16, 3)),
    "conv2d_nhwc": ("conv2d_nhwc", "N,H,W,C,F,K", (1, 16, 16, 16, 16, 3)),
    "depthwise": ("depthwise_conv2d_nchw", "N,C,H,W,K", (1, 16, 16, 16, 3)),
    "dense": ("dense_bias_relu", "M,N,K", (16, 64, 64)),
}


def make_workload(name: str, shape, stride: int = 1, pad: int = 0):
    from schedules import workloads

    ctor, fields, default = WORKLOADS[name]
    shape = tuple(default if shape is None else shape)
    if len(shape) != len(default):
        raise SystemExit(f"isaforge export-litex: --shape for {name} is {fields} ({len(default)} numbers)")
    fn = getattr(workloads, ctor)
    if name in ("conv2d", "conv2d_nhwc", "depthwise"):
        return fn(*shape, stride=stride, pad=pad)
    return fn(*shape)


def _shape(text: str):
    try:
        return tuple(int(x) for x in text.replace("x", ",").split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: give comma-separated integers") from None


def run(args) -> int:
    import tir
    from schedules import hand

    from .export_litex import export_litex

    wl = make_workload(args.workload, args.shape, args.stride, args.pad)
    sched = hand.SCHEDULES[args.schedule]
    s, tensors = sched(wl, args.ext) if args.ext and args.schedule in ("dot4", "mac4") else sched(wl)
    name = f"{args.workload}_{args.schedule}"
    func = tir.lower(s, tensors, name)
    cycles = None
    if args.simulate:
        import numpy as np

        import simulator

        from .export_litex import fill_inputs

        arrays = fill_inputs(func)
        cycles = simulator.run(func, arrays, "vexriscv").cycles
        ins = arrays[:-1]
        if not np.array_equal(arrays[-1], wl.ref(*ins)):
            print("isaforge export-litex: the simulated kernel does not match numpy", flush=True)
            return 1
    shape = ",".join(str(x) for x in (args.shape or WORKLOADS[args.workload][2]))
    title = f"{args.workload} [{shape}] schedule {args.schedule}"
    paths = export_litex(func, args.output, board=args.board, ref=wl.ref, title=title, sim_cycles=cycles)
    exts = ", ".join(e.name for e in func.extensions) or "none"
    print(f"wrote {args.output}/ ({', '.join(sorted(paths))}); kernel {name}, extensions: {exts}"
          + (f", {cycles} cycles in the SoC simulation" if cycles is not None else ""))
    print(f"next: see {args.output}/README.md")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("export-litex", help="write a LiteX project (cfu.v, kernel, demo app) for a kernel",
                       description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="matmul")
    p.add_argument("--schedule", choices=["naive", "scalar", "dot4", "mac4"], default="dot4")
    p.add_argument("--shape", type=_shape, default=None,
                   help="; ".join(f"{k}: {v[1]} (default {','.join(map(str, v[2]))})" for k, v in WORKLOADS.items()))
    p.add_argument("--stride", type=int, default=1, help="convolutions")
    p.add_argument("--pad", type=int, default=0, help="convolutions")
    p.add_argument("--ext", default=None, help="the extension for dot4/mac4 (default dot4_i8 / mac4_i8)")
    p.add_argument("--board", default="digilent_arty", help="litex_boards target name (for the README)")
    p.add_argument("--simulate", action="store_true", help="also run it in the SoC simulation and record cycles")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=run)
