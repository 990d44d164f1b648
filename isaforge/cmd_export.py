"""``isaforge export-litex``: schedule a workload, lower it and write a LiteX project folder.

The workloads are the ``ops`` registry's operators (names, aliases and variants; ``isaforge ops``
lists them with their attributes); ``--shape`` gives an operator's required attributes in order and
``--attr NAME=VALUE`` any attribute.
"""

from __future__ import annotations

import argparse

# spellings export-litex accepted before the registry names, and the registry name each means
LEGACY_NAMES = {"dense": "dense_bias_relu"}


def workload_names() -> list[str]:
    """Every name ``--workload`` accepts: the registry's operators, aliases and variants, and the legacy ones."""
    import ops

    return sorted(set(ops.all_names()) | set(LEGACY_NAMES))


def parse_attr(op, text: str) -> tuple[str, object]:
    """``NAME=VALUE`` as the attribute's own type (ints, bools, strings, comma-separated tuples)."""
    from ops import OpError

    name, sep, value = text.partition("=")
    attr = {a.name: a for a in op.attrs}.get(name.strip())
    if not sep or attr is None:
        raise OpError(f"--attr {text!r}: expected NAME=VALUE with NAME one of {', '.join(a.name for a in op.attrs)} "
                      f"(operator {op.name!r})")
    value = value.strip()
    try:
        if attr.kind is tuple:
            return attr.name, tuple(int(x) for x in value.replace("x", ",").split(",") if x.strip())
        if attr.kind is int:
            return attr.name, int(value)
        if attr.kind is bool:
            if value.lower() not in ("0", "1", "true", "false"):
                raise ValueError(value)
            return attr.name, value.lower() in ("1", "true")
    except ValueError:
        raise OpError(f"--attr {text!r}: {value!r} is not a {attr.kind.__name__} (operator {op.name!r})") from None
    return attr.name, value


def make_workload(name: str, shape, stride: int | None = None, pad: int | None = None, attrs=None):
    """The registry workload ``name`` (operator, alias, variant or legacy spelling) at ``shape`` (its
    required attributes in order; default: the operator's typical ones) with ``stride`` / ``pad`` where
    the operator has them and the other attributes in ``attrs``."""
    import ops

    op, fixed = ops.lookup(LEGACY_NAMES.get(name, name))
    fields = [f for f in op.shape_attrs if f not in fixed]
    given = dict(fixed)
    if shape is None:
        given.update({k: v for k, v in op.default_attrs.items() if k not in fixed})
    else:
        shape = tuple(shape)
        tuple_fields = [f for f in fields if {a.name: a for a in op.attrs}[f].kind is tuple]
        if tuple_fields and len(tuple_fields) == len(fields):  # elementwise: --shape is the (every) operand shape
            given.update({f: shape for f in fields})
        elif len(shape) != len(fields):
            raise ops.OpError(f"--shape for {name} is {','.join(fields)} ({len(fields)} numbers), got {len(shape)}")
        else:
            given.update(zip(fields, shape))
    names = {a.name for a in op.attrs}
    for key, value in (("stride", stride), ("pad", pad)):
        if value is not None:
            if key not in names:
                raise ops.OpError(f"--{key}: operator {op.name!r} has no attribute {key!r}")
            given[key] = value
    given.update(attrs or {})
    return op(**given)


def _shape(text: str):
    try:
        return tuple(int(x) for x in text.replace("x", ",").split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: give comma-separated integers") from None


def run(args) -> int:
    import ops
    import tir
    from schedules import hand

    from .export_litex import export_litex

    op, _ = ops.lookup(LEGACY_NAMES.get(args.workload, args.workload))
    attrs = dict(parse_attr(op, t) for t in args.attr)
    wl = make_workload(args.workload, args.shape, args.stride, args.pad, attrs)
    sched = hand.SCHEDULES[args.schedule]
    s, tensors = sched(wl, args.ext) if args.ext and args.schedule in ("dot4", "dot4_asm", "mac4") else sched(wl)
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
    shape = ",".join(str(wl.params[f]) for f in op.shape_attrs)
    title = f"{args.workload} [{shape}] schedule {args.schedule}"
    paths = export_litex(func, args.output, board=args.board, ref=wl.ref, title=title, sim_cycles=cycles)
    exts = ", ".join(e.name for e in func.extensions) or "none"
    print(f"wrote {args.output}/ ({', '.join(sorted(paths))}); kernel {name}, extensions: {exts}"
          + (f", {cycles} cycles in the SoC simulation" if cycles is not None else ""))
    print(f"next: see {args.output}/README.md")
    return 0


def _shape_help() -> str:
    import ops

    parts = []
    for n in ("matmul", "matmul_nt", "conv2d_nchw", "conv2d_nhwc", "depthwise_conv2d_nchw", "dense"):
        op = ops.get(n)
        parts.append(f"{n}: {','.join(op.shape_attrs)} (default {','.join(map(str, op.default_attrs.values()))})")
    return "the operator's required attributes in order; " + "; ".join(parts) + "; every operator: isaforge ops"


def add_parser(sub) -> None:
    p = sub.add_parser("export-litex", help="write a LiteX project (cfu.v, kernel, demo app) for a kernel",
                       description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=workload_names(), default="matmul", metavar="OP",
                   help="an operator of the registry (isaforge ops lists them), e.g. matmul (A·B), matmul_nt "
                        "(A·Btᵀ), conv2d_nchw, conv2d_nhwc, depthwise_conv2d_nchw, dense_bias_relu; legacy: "
                        + ", ".join(f"{k} = {v}" for k, v in LEGACY_NAMES.items()))
    p.add_argument("--schedule", choices=["naive", "scalar", "dot4", "dot4_asm", "mac4"], default="dot4")
    p.add_argument("--shape", type=_shape, default=None, help=_shape_help())
    p.add_argument("--stride", type=int, default=None, help="convolutions and pooling")
    p.add_argument("--pad", type=int, default=None, help="convolutions and pooling")
    p.add_argument("--attr", action="append", default=[], metavar="NAME=VALUE",
                   help="any other attribute of the operator, e.g. dilation=2 or weight_layout=OHWI; repeatable")
    p.add_argument("--ext", default=None, help="the extension for dot4/mac4 (default dot4_i8 / mac4_i8)")
    p.add_argument("--board", default="digilent_arty", help="litex_boards target name (for the README)")
    p.add_argument("--simulate", action="store_true", help="also run it in the SoC simulation and record cycles")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=run)
