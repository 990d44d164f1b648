"""``isaforge export-litex``: write a LiteX project folder for a kernel or a whole model.

A kernel: ``--workload`` names an operator of the ``ops`` registry (names, aliases and variants;
``isaforge ops`` lists them with their attributes), ``--shape`` gives its required attributes in order
and ``--attr NAME=VALUE`` any attribute; it is scheduled, lowered and exported (export_litex).

A model: ``isaforge export-litex MODEL.tflite|MODEL.onnx [--extensions dot4_i8,requant_i8]
[--calibration c.npy] [--inputs x.npy] -o DIR`` loads it as ``isaforge run`` does (a float model is
quantized with the calibration samples), compiles it for the VexRiscv and exports the C unit with a
demo main.c that runs it on the inputs (real inputs are quantized; default one deterministic input)
and checks the outputs against the numpy reference (export_litex_model); ``--records R`` compiles it
with the tuned schedules of ``isaforge tune MODEL --records R``.

Tuned records: ``isaforge export-litex --records R [--task KEY] -o DIR`` exports the best schedule of
the records ``isaforge tune WORKLOAD --records R`` wrote (export_records: any template, its compiler
knob becoming the Makefile's KERNEL_CC).

Cycles: ``--simulate`` runs the kernel or model in isaforge's SoC model (calibrated to LiteX's
integrated SRAM) and quotes its cycles, labelled so; ``--measure litex_sim`` builds the exported folder
with LiteX's software flow against the cached litex_sim build of its CFU, runs it there and quotes
those cycles (export_litex.measure_litex_sim).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import ExportError

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


# the kernel options and their defaults (a model takes none of them)
KERNEL_DEFAULTS = {"workload": "matmul", "schedule": "dot4", "shape": None, "stride": None, "pad": None,
                   "attr": (), "ext": None}


def run(args) -> int:
    if args.templates:
        from .cmd_tune import load_templates

        load_templates(args.templates)
    if args.task is not None and args.records is None:
        raise ExportError("export-litex: --task names a task of --records R")
    if args.model is not None:
        return run_model_export(args)
    if args.records is not None:
        return run_records_export(args)
    for key, value in KERNEL_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("extensions", "calibration", "inputs"):
        if getattr(args, key) is not None:
            raise ExportError(f"export-litex: --{key} is for a model file (isaforge export-litex MODEL -o DIR); "
                              "a kernel takes --ext")
    return run_kernel_export(args)


def run_model_export(args) -> int:
    """Load, compile and export a model file (see the module docstring)."""
    import numpy as np

    from frontend.compile import int8_core

    from .cmd_run import load_graph, read_inputs
    from .export_litex import export_litex_model, model_inputs

    given = [f"--{k}" for k, v in KERNEL_DEFAULTS.items() if getattr(args, k) is not None]
    if given:
        raise ExportError(f"export-litex: {', '.join(given)} are for a kernel (--workload); a model file takes "
                          "--extensions, --calibration and --inputs")
    if args.task is not None:
        raise ExportError("export-litex: --task is for a kernel's records; a model takes every task of --records")
    graph = load_graph(args.model, args.calibration)
    # names, comma-separated; records: each kernel with a record of its task takes the tuned schedule
    compiled = graph.compile("vexriscv", extensions=args.extensions or "", records=args.records)
    batch = model_inputs(compiled, read_inputs(args.inputs, compiled) if args.inputs else None)
    core = int8_core(graph)  # what the unit computes: int8 in and out
    expected = np.stack([np.asarray(core.evaluate(x)[0]) for x in batch])
    cycles = None
    if args.simulate:
        from frontend.run import run_model

        r = run_model(compiled, batch)
        if not np.array_equal(r.outputs.reshape(expected.shape), expected):
            print("isaforge export-litex: the simulated model does not match the numpy reference", flush=True)
            return 1
        cycles = r.cycles
    paths = export_litex_model(compiled, args.output, inputs=batch, expected=expected, board=args.board,
                               title=f"model {graph.name} ({Path(args.model).name})", sim_cycles=cycles,
                               measure=args.measure)
    used = ", ".join(e.name for e in compiled.used_extensions) or "none"
    tuned = ""
    if args.records:
        n = compiled.schedules.count("record")
        tuned = f", {n} of {len(compiled.schedules)} kernels from records"
    print(f"wrote {args.output}/ ({', '.join(sorted(paths))}); model {graph.name!r}, {len(batch)} input(s), "
          f"extensions used: {used}{tuned}")
    _print_cycles(paths, "cycles per inference")
    print(f"next: see {args.output}/README.md")
    return 0


def _print_cycles(paths, what: str) -> None:
    if paths.model_cycles is not None:
        print(f"{what}: {paths.model_cycles} in isaforge's SoC model (calibrated to LiteX's integrated SRAM)")
    if paths.litex_cycles is not None:
        print(f"{what}: {paths.litex_cycles} measured in litex_sim on the exported build "
              f"({paths.measurement.build_dir})")


def run_records_export(args) -> int:
    """Export the best schedule of tuning records (export_records)."""
    from .export_records import export_litex_records

    given = [f"--{k}" for k, v in KERNEL_DEFAULTS.items() if getattr(args, k) is not None]
    given += [f"--{k}" for k in ("extensions", "calibration", "inputs") if getattr(args, k) is not None]
    if given:
        raise ExportError(f"export-litex --records: {', '.join(given)} do not apply; the records name the "
                          "workload, its shape and its schedule")
    paths = export_litex_records(args.records, args.output, task=args.task, board=args.board,
                                 simulate=args.simulate, measure=args.measure)
    rk = paths.kernel
    exts = ", ".join(e.name for e in rk.func.extensions) or "none"
    print(f"wrote {args.output}/ ({', '.join(sorted(paths))}); {rk.task.key} config {rk.config.index} "
          f"(line {rk.record.line_no} of {args.records}, tuned cost {rk.record.result.cost:g}), extensions: {exts}, "
          f"compiler: {rk.config.compiler or rk.task.target_object.default_compiler}")
    _print_cycles(paths, "kernel cycles")
    print(f"next: see {args.output}/README.md")
    return 0


def run_kernel_export(args) -> int:
    """Schedule, lower and export one registry workload."""
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
    paths = export_litex(func, args.output, board=args.board, ref=wl.ref, title=title, sim_cycles=cycles,
                         measure=args.measure)
    exts = ", ".join(e.name for e in func.extensions) or "none"
    print(f"wrote {args.output}/ ({', '.join(sorted(paths))}); kernel {name}, extensions: {exts}"
          + (f", {cycles} cycles in the SoC simulation" if cycles is not None else ""))
    _print_cycles(paths, "kernel cycles")
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
    p = sub.add_parser("export-litex", help="write a LiteX project (cfu.v, C, demo app) for a kernel or a model",
                       description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", default=None,
                   help="a model file (.tflite or .onnx; a float model needs --calibration) to export instead of "
                        "a --workload kernel")
    k = p.add_argument_group("a kernel (without MODEL)")
    k.add_argument("--workload", choices=workload_names(), default=None, metavar="OP",
                   help="an operator of the registry (isaforge ops lists them), e.g. matmul (A·B; the default), "
                        "matmul_nt (A·Btᵀ), conv2d_nchw, conv2d_nhwc, depthwise_conv2d_nchw, dense_bias_relu; "
                        "legacy: " + ", ".join(f"{k} = {v}" for k, v in LEGACY_NAMES.items()))
    k.add_argument("--schedule", choices=["naive", "scalar", "dot4", "dot4_asm", "mac4"], default=None,
                   help="default dot4")
    k.add_argument("--shape", type=_shape, default=None, help=_shape_help())
    k.add_argument("--stride", type=int, default=None, help="convolutions and pooling")
    k.add_argument("--pad", type=int, default=None, help="convolutions and pooling")
    k.add_argument("--attr", action="append", default=None, metavar="NAME=VALUE",
                   help="any other attribute of the operator, e.g. dilation=2 or weight_layout=OHWI; repeatable")
    k.add_argument("--ext", default=None, help="the extension for dot4/mac4 (default dot4_i8 / mac4_i8)")
    m = p.add_argument_group("a model (MODEL)")
    m.add_argument("--extensions", default=None, help="comma-separated extensions, e.g. dot4_i8,requant_i8")
    m.add_argument("--calibration", default=None, help=".npy of float samples to quantize a float model")
    m.add_argument("--inputs", default=None, help=".npy of inputs (leading axis: one per inference; real values "
                   "are quantized); default one deterministic input")
    r = p.add_argument_group("tuned records (without MODEL: the best kernel; with MODEL: its tuned schedules)")
    r.add_argument("--records", default=None, metavar="R", help="records of isaforge tune (JSON Lines)")
    r.add_argument("--task", default=None, metavar="KEY", help="the task of R to export, e.g. "
                   "matmul_i8[8,8,16]@vexriscv (needed when R holds several; isaforge best R lists them)")
    r.add_argument("--templates", action="append", default=[], metavar="FILE_OR_MODULE",
                   help="a .py file or module defining the records' user templates (as for isaforge tune)")
    p.add_argument("--board", default="digilent_arty", help="litex_boards target name (for the README)")
    p.add_argument("--simulate", action="store_true", help="also run it in isaforge's SoC model (calibrated to "
                   "LiteX's integrated SRAM), check it against numpy and quote those cycles")
    p.add_argument("--measure", choices=["litex_sim"], default=None,
                   help="build the exported folder with LiteX's software flow, run it in litex_sim (the cached "
                        "build of its CFU; a first build takes minutes) and quote those cycles")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=run)
