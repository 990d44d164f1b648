"""Whole int8 models on the simulated VexRiscv: cycles per inference and footprint per extension set.

    .venv/bin/python benchmarks/models.py [--models sine,kws,xor] [--json FILE] [--no-peers]

Models: sine is isaforge's post-training quantization of TFLM's hello_world float model; kws the
same of frontend.zoo's DS-CNN (random weights); xor examples/xor.py's MLP, quantized by onnxruntime
and imported with from_onnx. Each is compiled into one C unit per extension set and run on the SoC;
each output is checked against the numpy reference, which equals TFLM's interpreter bit for bit (see
tests/test_model_e2e.py). The float peer on the same SoC, measured in the same run ("(emlearn float)"
rows; speedup against isaforge without extensions): emlearn's generated C for the same xor and sine
MLPs (benchmarks/peers_emlearn.py, whose table adds soft float and libm sizes). Footprint: the model
unit's .text / .rodata / .bss (its kernels, weights and arena; no runtime, no interpreter) read from
the ELF. For scale: TFLM's
interpreter alone is tens of KB of .text, ExecuTorch quotes a 50 KB base footprint.

Besides the whole-model compile, "sine (per-layer ops)" is the baseline a user wrote by hand before
the frontend existed (:func:`per_layer_sine`): each layer of the same int8 sine MLP as separate
kernels of the generic operator library (``dense`` with bias to int32, then the library's
``requantize`` int32 -> int8 stage), each with a simple schedule (the default one; with the
extensions the dense reduction tensorized by dot4_i8 where K is a multiple of 4, the requantize
stage by requant_i8), lowered and emitted one kernel at a time and called in sequence from a
hand-written main with static int32 / int8 buffers between the kernels (unfused). The library's
``requantize`` takes one multiplier and shift, and sine's hidden layers are quantized per channel,
so a layer's output stage is one requantize kernel per run of channels sharing (multiplier, shift)
(every channel here). The input zero point is folded into the bias offline (ops.qnn.fold_x_zero_point,
what the model compiler does too), so no zero-point kernels are needed. Built with the same cross
compiler, run on the same SoC, checked bit for bit against the model's reference; its .text counts
every function of the kernels' C units.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend import quantize  # noqa: E402
from frontend.reference import quantize_np  # noqa: E402
from frontend.run import measuring_main, run_model  # noqa: E402
from frontend.tflite import from_tflite  # noqa: E402
from frontend.zoo import kws_calibration, kws_float, sine_float_path  # noqa: E402

VARIANTS = ((), ("dot4_i8", "requant_i8"), ("mac4_i8", "requant_i8"))
#: extension sets of the per-layer baseline (none, and the stateless dot with the requantizing unit)
PER_LAYER_VARIANTS = ((), ("dot4_i8", "requant_i8"))
PER_LAYER_NAME = "sine (per-layer ops)"
MODEL_COLUMN = len(PER_LAYER_NAME) + 1  # the table's model column fits the per-layer rows' name


def sine():
    g = quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    q = g.values[g.inputs[0]].quant
    return g, np.stack([quantize_np(np.array([[x]], np.float32), q) for x in (0.5, 1.5, 3.0)])


def kws():
    g = quantize(kws_float(), kws_calibration())
    return g, np.random.default_rng(5).integers(-128, 128, (1, 1, 49, 10, 1)).astype(np.int8)


def xor():
    from frontend.compile import int8_core

    mod = runpy.run_path(str(ROOT / "examples" / "xor.py"))
    g = mod["int8_xor"]()
    return int8_core(g), mod["demo_inputs"](g)


MODELS = {"sine": sine, "xor": xor, "kws": kws}


# --- the per-layer baseline: library kernels one at a time, called from a hand-written main ---------

@dataclass
class PerLayerRun:
    """One simulation of the per-layer sine program (see the module docstring)."""

    outputs: np.ndarray  # [inputs, 1, 1] int8, read back from the device
    reference: np.ndarray  # g.evaluate of every input
    cycles: int  # warm inference (the first input, second run)
    cold_cycles: int
    instret: int
    used: tuple[str, ...]  # extensions some kernel was tensorized with
    text: int  # .text of every function of the kernels' C units
    rodata: int  # the weights, biases and the kernels' constants
    bss: int  # the buffers between kernels and the kernels' own scratch
    kernels: dict[str, int] = field(default_factory=dict)  # kernel function -> .text bytes
    calls: int = 0  # kernel calls per inference

    @property
    def ok(self) -> bool:
        return np.array_equal(self.outputs, self.reference)


#: the per-layer program's arrays are word-aligned: the dot4_i8 kernels load their rows as words
_ALIGNED = "__attribute__((aligned(4)))"


def _c_array(ctype: str, name: str, a: np.ndarray) -> str:
    """A static const C array of ``a``'s elements, word-aligned."""
    from frontend.compile import c_literals

    return f"static const {ctype} {name}[{a.size}] {_ALIGNED} = {{{', '.join(c_literals(np.asarray(a)))}}};"


def _channel_runs(mults: np.ndarray, shifts: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(first channel, count, multiplier, shift) of each run of channels with the same pair."""
    runs: list[list[int]] = []
    for c, (m, sh) in enumerate(zip(mults.tolist(), shifts.tolist())):
        if runs and runs[-1][2:] == [m, sh]:
            runs[-1][1] += 1
        else:
            runs.append([c, 1, m, sh])
    return [tuple(r) for r in runs]


def per_layer_sine(exts=(), *, max_cycles: int = 20_000_000) -> PerLayerRun:
    """Build the int8 sine MLP as separate library kernels (one ``dense`` with bias per layer, then
    ``requantize`` kernels), call them from a hand-written main with static buffers in between, run it
    on the simulated SoC and read the outputs and mcycle counts back (see the module docstring).

    ``exts``: () or a set holding dot4_i8 (the dense reduction's lanes, where K is a multiple of 4)
    and / or requant_i8 (the requantize stage)."""
    import codegen_c
    import isa_ext
    import ops
    import tir
    from codegen_c.emit import c_function_name
    from frontend.lowering import node_op
    from schedules.schedule import create_schedule
    from simulator.elf import read_elf
    from simulator.run import cfu_verilog
    from simulator.toolchain import compile_rv32, runtime_sources
    from simulator.vexriscv import run_elf
    from toolchain.rv32 import Toolchain

    exts = tuple(exts)
    unknown = set(exts) - {"dot4_i8", "requant_i8"}
    if unknown:
        raise ValueError(f"per_layer_sine: extensions {sorted(unknown)} are not used by the per-layer baseline "
                         "(it takes dot4_i8 and / or requant_i8)")
    g, x = sine()
    want = np.stack([g.evaluate(xi)[0] for xi in x])
    dot = isa_ext.get("dot4_i8") if "dot4_i8" in exts else None
    rq = isa_ext.get("requant_i8") if "requant_i8" in exts else None
    used: list[str] = []

    kernel_src: dict[str, str] = {}  # C file -> one emitted kernel
    names: list[str] = []  # the kernel functions
    protos: list[str] = []
    data: list[str] = []
    calls: list[str] = []

    def kernel(s, args, fname: str, params: str) -> str:
        """Lower and emit one library kernel into its own C file; its C name."""
        func = tir.lower(s, args, name=fname)
        kernel_src[f"{fname}.c"] = codegen_c.emit(func, "vexriscv")
        cname = c_function_name(func)
        names.append(cname)
        protos.append(f"void {cname}({params});")
        return cname

    fc = [n for n in g.nodes if n.op == "fully_connected"]
    act = "in"  # the C expression of the current layer's int8 input
    for li, node in enumerate(fc):
        call = node_op(g, node)  # the same multipliers, shifts, clamp and folded bias as the reference
        a = call.attrs
        _, w, bias, mults, shifts = call.inputs
        n, k = w.shape
        # dense + bias -> int32 in memory
        wl = ops.get("dense")(M=a["M"], N=n, K=k, bias=True)
        s = create_schedule(wl.output)
        if dot is not None and k % 4 == 0:
            d = s[wl.stages["dense"]]
            ko, ki = d.split(d.op.reduce_axis[0], 4)
            d.tensorize(ki, dot)
            used.append("dot4_i8")
        cname = kernel(s, wl.args, f"layer{li}_dense", "int8_t *X, int8_t *W, int32_t *Bias, int32_t *Y")
        data += [_c_array("int8_t", f"pl_w{li}", w), _c_array("int32_t", f"pl_b{li}", bias),
                 f"static int32_t pl_acc{li}[{a['M'] * n}] {_ALIGNED};"]
        calls.append(f"    {cname}((int8_t *){act}, (int8_t *)pl_w{li}, "
                     f"(int32_t *)pl_b{li}, pl_acc{li});")
        last = li == len(fc) - 1
        out = "out" if last else f"pl_act{li}"
        if not last:
            data.append(f"static int8_t pl_act{li}[{a['M'] * n}] {_ALIGNED};")
        # requantize: one library kernel per run of channels sharing (multiplier, shift)
        for ri, (c0, cnt, m, sh) in enumerate(_channel_runs(np.asarray(mults), np.asarray(shifts))):
            if a["M"] != 1:
                raise SystemExit("per_layer_sine: the per-channel requantize kernels assume one row")
            wl = ops.get("requantize")(shape=(cnt,), multiplier=int(m), shift=int(sh),
                                       zero_point=a["out_zero_point"], qmin=a["qmin"], qmax=a["qmax"])
            s = create_schedule(wl.output)
            if rq is not None:
                s[wl.output].tensorize(s[wl.output].op.axis[0], rq)
                used.append("requant_i8")
            cname = kernel(s, wl.args, f"layer{li}_requant{ri}", "int32_t *Acc, int8_t *Out")
            calls.append(f"    {cname}(pl_acc{li} + {c0}, {out} + {c0});")
        act = out
    nb = len(x)
    main = measuring_main("pl_infer", x.reshape(nb, -1), "int8_t", "int8_t", 1,
                          [*protos, *data, "static void pl_infer(const int8_t *in, int8_t *out) {", *calls, "}"],
                          attributes=_ALIGNED)
    sources = runtime_sources(print_float=True)
    sources.update(kernel_src)
    sources["main.c"] = main
    elf = compile_rv32(sources, toolchain=Toolchain())
    info = read_elf(elf)
    dumps = {"isaforge_outputs": nb, "isaforge_counts": 4 * (4 + 2 * nb)}
    used_t = tuple(e for e in exts if e in used)
    run = run_elf(elf, cfu_verilog=cfu_verilog([isa_ext.get(e) for e in used_t]), max_cycles=max_cycles,
                  dump={k: (info.symbol(k).address, v) for k, v in dumps.items()})
    if run.exit_code != 0:
        raise SystemExit(f"per-layer sine {exts}: the program exited with code {run.exit_code}\n{run.console}")
    c = np.frombuffer(run.dumps["isaforge_counts"], "<u4").astype(int)
    outs = np.frombuffer(run.dumps["isaforge_outputs"], np.int8).reshape(want.shape).copy()
    sizes, kernels = _unit_sizes(elf, set(kernel_src), set(names))
    return PerLayerRun(outputs=outs, reference=want, cycles=int(c[2]), cold_cycles=int(c[0]), instret=int(c[3]),
                       used=used_t, text=sizes["text"], rodata=sizes["rodata"], bss=sizes["bss"] + sizes["data"],
                       kernels=kernels, calls=len(calls))


def _unit_sizes(elf, kernel_files: set[str], kernel_names: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes by section kind of every symbol of the kernels' C units (their local symbols, found by
    file, and the kernel functions, found by name: global symbols follow every file's locals) plus
    main.c's ``pl_`` data (the weights and the buffers between kernels), and each kernel's .text."""
    from simulator.symbols import sized_symbols

    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    kernels: dict[str, int] = {}
    for sym in sized_symbols(elf):
        in_kernel = (sym.local and sym.file in kernel_files) or (not sym.local and sym.name in kernel_names)
        if not (in_kernel or (sym.local and sym.file == "main.c" and sym.name.startswith("pl_"))):
            continue
        sizes[sym.kind] += sym.size
        if sym.type == "STT_FUNC" and in_kernel:
            kernels[sym.name] = sym.size
    if set(kernels) < kernel_names:
        raise SystemExit(f"{elf}: kernels {sorted(kernel_names - set(kernels))} are not in the symbol table")
    return sizes, kernels


def _row(model: str, exts, used: str, cycles: int, cold: int, speedup: float, text: int, rodata: int, bss: int,
         arena: int, note: str = "") -> None:
    print(f"{model:<{MODEL_COLUMN}}{', '.join(exts) or 'none':<22}{used:<22}{cycles:>11,}{cold:>11,}"
          f"{speedup:>7.2f}x{text:>7}{rodata:>8}{bss:>7}{arena:>7}{note}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="sine,xor,kws")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-peers", action="store_true", help="leave out emlearn's float C rows (sine, xor)")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'model':<{MODEL_COLUMN}}{'extensions':<22}{'used':<22}{'cycles':>11}{'cold':>11}{'speedup':>8}"
          f"{'.text':>7}{'.rodata':>8}{'.bss':>7}{'arena':>7}")
    for name in args.models.split(","):
        g, x = MODELS[name]()
        want = np.stack([g.evaluate(xi)[0] for xi in x])
        base = None
        for exts in VARIANTS:
            compiled = g.compile("vexriscv", extensions=exts)
            r = run_model(compiled, x, max_cycles=400_000_000)
            if not np.array_equal(r.outputs, want):
                raise SystemExit(f"{name} {exts}: output differs from the reference")
            base = base or r.cycles
            fp = r.footprint
            used = ", ".join(e.name for e in compiled.used_extensions) or "none"
            _row(name, exts, used, r.cycles, r.cold_cycles, base / r.cycles, fp.text, fp.rodata, fp.bss, fp.arena)
            rows.append({"model": name, "extensions": list(exts), "used": used, "cycles": r.cycles,
                         "cold_cycles": r.cold_cycles, "instret": r.instret, "text": fp.text, "rodata": fp.rodata,
                         "bss": fp.bss, "arena": fp.arena, "kernels": fp.kernels})
        if name == "sine":
            rows += _per_layer_rows()
        if name in ("sine", "xor") and not args.no_peers:
            rows.append(_emlearn_row(name, base))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def _emlearn_row(name: str, base: int) -> dict:
    """emlearn's float C of the same MLP (benchmarks/peers_emlearn.py), in the same run: its unit's
    .text / .rodata / .data+.bss (soft float and libm not counted; see that script's table)."""
    import importlib.util

    peers = sys.modules.get("peers_emlearn")
    if peers is None:
        spec = importlib.util.spec_from_file_location("peers_emlearn", ROOT / "benchmarks" / "peers_emlearn.py")
        peers = importlib.util.module_from_spec(spec)
        sys.modules["peers_emlearn"] = peers  # its dataclasses look their module up there
        spec.loader.exec_module(peers)
    r = peers.run_peer(peers.MODELS[name]())
    if not r.ok:
        raise SystemExit(f"emlearn {name}: the device output differs from its numpy forward pass")
    em = r.sizes["emlearn"]
    label = f"{name} (emlearn float)"
    _row(label, (), "none", r.cycles, r.cold_cycles, base / r.cycles, em["text"], em["rodata"],
         em["data"] + em["bss"], 0)
    return {"model": label, "extensions": [], "used": "none", "cycles": r.cycles, "cold_cycles": r.cold_cycles,
            "instret": r.instret, "text": em["text"], "rodata": em["rodata"], "bss": em["data"] + em["bss"],
            "arena": 0, "kernels": {}, "peer": "emlearn"}


def _per_layer_rows() -> list[dict]:
    """Print and return the per-layer baseline's rows (speedup over its own run without extensions)."""
    rows, base = [], None
    for exts in PER_LAYER_VARIANTS:
        r = per_layer_sine(exts)
        if not r.ok:
            raise SystemExit(f"{PER_LAYER_NAME} {exts}: output differs from the reference")
        base = base or r.cycles
        used = ", ".join(r.used) or "none"
        _row(PER_LAYER_NAME, exts, used, r.cycles, r.cold_cycles, base / r.cycles, r.text, r.rodata, r.bss, 0,
             f"  ({r.calls} kernel calls)")
        rows.append({"model": PER_LAYER_NAME, "extensions": list(exts), "used": used, "cycles": r.cycles,
                     "cold_cycles": r.cold_cycles, "instret": r.instret, "text": r.text, "rodata": r.rodata,
                     "bss": r.bss, "arena": 0, "kernels": r.kernels, "per_layer": True})
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
