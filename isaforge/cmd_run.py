"""``isaforge run MODEL``: import a .tflite / .onnx model, compile it into one C unit, run it on the
simulated VexRiscv (isaforge's SoC model, or LiteX's own litex_sim SoC) and print the outputs, cycles
per inference and the footprint."""

from __future__ import annotations

from pathlib import Path


def read_npy(path: str, what: str):
    """The array of a .npy file; a FrontendError naming the file (and what it is for) if unreadable."""
    import numpy as np

    from frontend.errors import FrontendError

    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise FrontendError(f"cannot read the {what} file {path!r}: {exc}") from exc


def load_graph(model: str, calibration: str | None = None):
    """The int8 Graph of a .tflite / .onnx file: a float model is quantized with the samples of the
    ``calibration`` .npy (frontend.load.prepare). Shared by ``isaforge run`` and ``export-litex``."""
    from frontend.load import load_model, prepare

    return prepare(load_model(model), read_npy(calibration, "calibration") if calibration else None)


def read_inputs(path: str, compiled):
    """The inputs of a .npy for ``compiled``: real (float) values are quantized with the model's input
    quantization, integer ones are taken as they are."""
    from frontend.reference import quantize_np

    x = read_npy(path, "inputs")
    if x.dtype.kind == "f" and compiled.input_dtype != "float32" and compiled.input_quant is not None:
        x = quantize_np(x, compiled.input_quant, compiled.input_dtype)  # real inputs: quantize them
    return x


def run(args) -> int:
    import numpy as np

    from frontend.reference import dequantize_np
    from frontend.run import run_model

    graph = load_graph(args.model, args.calibration)
    compiled = graph.compile(args.target, extensions=args.extensions,  # names, comma-separated
                             records=args.records,  # tuned schedules (isaforge tune MODEL)
                             profile=args.profile)
    if args.emit:
        Path(args.emit).write_text(compiled.source)
    if args.inputs:
        x = read_inputs(args.inputs, compiled)
    else:
        x = np.zeros((1, *compiled.input_shape), compiled.input_dtype)
    r = run_model(compiled, x)
    qout = compiled.output_quant
    for b, y in enumerate(r.outputs):
        deq = "" if qout is None else \
            f"  (real {np.array2string(dequantize_np(y, qout).reshape(-1), precision=6)})"
        print(f"output {b}: {y.reshape(-1).tolist()}{deq}")
    fp = r.footprint
    print(f"model {graph.name!r}, target {args.target}, extensions: {', '.join(compiled.extensions) or 'none'} "
          f"(used: {', '.join(e.name for e in compiled.used_extensions) or 'none'})")
    if args.records:
        n = compiled.schedules.count("record")
        print(f"schedules: {n} of {len(compiled.schedules)} kernels from records {args.records}, the others hand")
    print(f"cycles per inference: {r.cycles} warm, {r.cold_cycles} cold; instructions {r.instret} warm")
    print(f"footprint: .text {fp.text} B  .rodata {fp.rodata} B  .data {fp.data} B  .bss {fp.bss} B  "
          f"(arena {fp.arena} B)  total {fp.total} B")
    for name, size in fp.kernels.items():
        cycles = f"  {r.kernel_cycles[name]:>12,} cycles" if name in r.kernel_cycles else ""
        print(f"  {name:<40} .text {size:>6} B{cycles}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="compile a .tflite / .onnx model and run it on the simulated VexRiscv",
                       description=__doc__.splitlines()[0])
    p.add_argument("model", help="model file (.tflite or .onnx; a float model needs --calibration)")
    p.add_argument("--target", default="vexriscv",
                   choices=["vexriscv", "vexriscv_ideal", "vexriscv_sdram", "litex_sim", "litex_sim_sdram"],
                   help="the simulated SoC: isaforge's VexRiscv model calibrated to LiteX's integrated SRAM "
                   "(vexriscv), to LiteX's SDRAM behind its L2 cache (vexriscv_sdram) or with an ideal RAM "
                   "(vexriscv_ideal); "
                   "or LiteX's own litex_sim (integrated SRAM or SDRAM main RAM; one build per CFU, cached)")
    p.add_argument("--extensions", default="", help="comma-separated extensions, e.g. dot4_i8,requant_i8")
    p.add_argument("--inputs", default=None, help=".npy of inputs (leading axis: one per inference); "
                   "default one all-zero input")
    p.add_argument("--calibration", default=None, help=".npy of float samples to quantize a float model")
    p.add_argument("--emit", default=None, help="also write the model's C unit to this file")
    p.add_argument("--profile", action="store_true", help="time every kernel of the warm inference (mcycle)")
    p.add_argument("--records", default=None, help="tuning records (isaforge tune MODEL): each kernel with a "
                   "record of its task gets the best one's schedule, the others the hand schedule")
    p.set_defaults(func=run)
