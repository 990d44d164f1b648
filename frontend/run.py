"""Run a compiled model as a whole program on the simulated VexRiscv SoC and measure it.

``run_model(compiled, inputs, ...) -> ModelRun``
    Builds the model's C unit with a small main program (the inputs as constant arrays), cross
    compiles it for rv32 and simulates it on the VexRiscv RTL. The first input runs twice: cold (the
    caches empty, as after reset) and warm; every input's output is read back. Returns the outputs,
    cycles and retired instructions per inference (cold, warm, each input) and the footprint; for a
    unit compiled with ``profile=True`` also each kernel's cycles in the warm inference.

``footprint(elf) -> Footprint``
    What the model unit takes in the linked ELF, read with pyelftools: .text, .rodata, .data and .bss
    of the model's own symbols (its kernels, helpers, constants and arena; the main program and the
    runtime are not counted), the arena, and the .text of every kernel.

``model_program(compiled, inputs, main=None) -> dict[str, str]``
    The program's sources (model.c, main.c, the runtime), for callers that run it themselves (a
    custom ``main`` may print, as the examples do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tir
from frontend.compile import MODEL_FUNCTION, PROFILE_SYMBOL, CompiledModel, c_literals
from frontend.errors import FrontendError

MODEL_FILE = "model.c"
MAIN_FILE = "main.c"



@dataclass
class Footprint:
    """Bytes of the model unit in the linked program, by kind of section."""

    text: int
    rodata: int
    data: int
    bss: int
    arena: int
    kernels: dict[str, int] = field(default_factory=dict)  # kernel -> .text bytes

    @property
    def total(self) -> int:
        return self.text + self.rodata + self.data + self.bss

    def describe(self) -> str:
        """One line: the sections, the arena and each kernel's .text."""
        return (f".text {self.text} B, .rodata {self.rodata} B, .bss {self.bss} B (arena {self.arena} B); "
                f"kernels {', '.join(f'{k} {v} B' for k, v in self.kernels.items())}")


@dataclass
class ModelRun:
    """One simulation of a model program."""

    outputs: np.ndarray  # [number of inputs, *output shape]
    cycles: int  # warm inference (the first input, second run)
    cold_cycles: int  # the first inference after reset
    instret: int
    cold_instret: int
    input_cycles: list[int]  # every input's inference, in order (after the cold and warm runs)
    footprint: Footprint
    console: str = ""
    total_cycles: int = 0
    kernel_cycles: dict[str, int] = field(default_factory=dict)  # kernel -> warm cycles (profile=True units)


def c_float(v: float) -> str:
    """``v`` rounded to float32, as a C float literal."""
    return repr(float(np.float32(v))) + "f"


def quantize_function_c(quant, name: str = "isaforge_quantize") -> str:
    """C of ``static int8_t name(float v)``: TFLite's QUANTIZE of a real value with ``quant`` (the
    division in float32, rounding half away from zero, clamped), for device programs that feed a model
    real-valued inputs (as frontend.reference.quantize_np computes it on the host)."""
    return "\n".join([
        f"static int8_t {name}(float v) {{",
        f"    float q = v / {c_float(quant.scale[0])};",
        "    int32_t r = (int32_t)(q < 0.0f ? q - 0.5f : q + 0.5f);  /* round half away from zero */",
        f"    r += {int(quant.zero_point[0])};",
        "    return (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);",
        "}",
    ])


def _as_batch(compiled: CompiledModel, inputs) -> np.ndarray:
    x = np.asarray(inputs)
    per = int(np.prod(compiled.input_shape, dtype=np.int64))
    if x.size == 0 or x.size % per:
        raise FrontendError(f"model {compiled.name!r}: inputs of shape {x.shape} are not a whole number of "
                            f"inputs of shape {compiled.input_shape}")
    if x.dtype != np.dtype(compiled.input_dtype):
        cast = x.astype(compiled.input_dtype)
        if not np.array_equal(cast, x):
            raise FrontendError(f"model {compiled.name!r}: inputs are {x.dtype}, the model takes "
                                f"{compiled.input_dtype} and they do not fit it")
        x = cast
    return x.reshape(-1, per)


def measuring_main(infer: str, batch: np.ndarray, in_ctype: str, out_ctype: str, n_out: int,
                   declarations=(), after_warm=(), attributes: str = "") -> str:
    """A measuring main program around ``infer(in, out)`` (a C function the other sources or
    ``declarations`` define): the first input cold and warm, then every input, each timed with
    mcycle / minstret into ``isaforge_counts`` and its output kept in ``isaforge_outputs``.
    ``after_warm``: statements run right after the warm inference; ``attributes``: of the input and
    output arrays (e.g. an alignment)."""
    nb, n_in = batch.shape
    attr = f" {attributes}" if attributes else ""
    return "\n".join([
        "#include <stdint.h>",
        '#include "isaforge_rt.h"',
        *declarations,
        f"static const {in_ctype} isaforge_inputs[{nb}][{n_in}]{attr} = {{",
        *[f"    {{{', '.join(c_literals(row))}}}," for row in batch],
        "};",
        f"{out_ctype} isaforge_outputs[{nb}][{n_out}]{attr};",
        f"uint32_t isaforge_counts[{4 + 2 * nb}];",
        f"static void isaforge_once(const {in_ctype} *in, {out_ctype} *out, uint32_t *c) {{",
        "    uint32_t c0 = isaforge_mcycle(), i0 = isaforge_minstret();",
        f"    {infer}(in, out);",
        "    uint32_t i1 = isaforge_minstret(), c1 = isaforge_mcycle();",
        "    c[0] = c1 - c0;",
        "    c[1] = i1 - i0;",
        "}",
        "int main(void) {",
        "    isaforge_once(isaforge_inputs[0], isaforge_outputs[0], isaforge_counts);",
        "    isaforge_once(isaforge_inputs[0], isaforge_outputs[0], isaforge_counts + 2);",
        *after_warm,
        f"    for (int b = 0; b < {nb}; ++b)",
        "        isaforge_once(isaforge_inputs[b], isaforge_outputs[b], isaforge_counts + 4 + 2 * b);",
        "    return 0;",
        "}",
        "",
    ])


def default_main(compiled: CompiledModel, batch: np.ndarray) -> str:
    """The measuring main program of a compiled model (:func:`measuring_main` around ``model``)."""
    it, ot = tir.dtype.c_type(compiled.input_dtype), tir.dtype.c_type(compiled.output_dtype)
    n_out = int(np.prod(compiled.output_shape, dtype=np.int64))
    nk = len(compiled.kernels)
    # a profiled unit's per-kernel cycles of the warm run, kept before the other inputs overwrite them
    keep = [f"extern uint32_t {PROFILE_SYMBOL}[{nk}];", f"uint32_t isaforge_kernel_cycles[{nk}];"] \
        if compiled.profile else []
    copy = [f"    for (int k = 0; k < {nk}; ++k) isaforge_kernel_cycles[k] = {PROFILE_SYMBOL}[k];"] \
        if compiled.profile else []
    return measuring_main(MODEL_FUNCTION, batch, it, ot, n_out,
                          [f"void {MODEL_FUNCTION}(const {it} *in, {ot} *out);", *keep], copy)


def model_program(compiled: CompiledModel, inputs=None, main: str | None = None) -> dict[str, str]:
    """Sources of the whole program: the model unit, ``main`` (default: :func:`default_main` over
    ``inputs``) and the runtime."""
    from simulator.toolchain import runtime_sources

    if main is None:
        if inputs is None:
            raise FrontendError("model_program: give inputs (for the default main) or a main program")
        main = default_main(compiled, _as_batch(compiled, inputs))
    sources = runtime_sources(print_float=True)
    sources[MODEL_FILE] = compiled.source
    sources[MAIN_FILE] = main
    return sources


def footprint(elf: str | Path) -> Footprint:
    """The model unit's bytes in a linked program (see the module docstring)."""
    from simulator.elf import ElfError
    from simulator.symbols import sized_symbols

    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    kernels: dict[str, int] = {}
    arena = 0
    try:
        symbols = sized_symbols(elf)
    except ElfError as exc:
        raise FrontendError(str(exc)) from exc
    for sym in symbols:
        ours = (sym.local and sym.file == MODEL_FILE) or (not sym.local and sym.name == MODEL_FUNCTION)
        if not ours:
            continue
        sizes[sym.kind] += sym.size
        if sym.type == "STT_FUNC" and sym.name.startswith("isaforge_k"):
            kernels[sym.name] = sym.size
        if sym.name == "isaforge_arena":
            arena = sym.size
    return Footprint(sizes["text"], sizes["rodata"], sizes["data"], sizes["bss"], arena, kernels)


def _cfu(compiled: CompiledModel) -> str | None:
    """The CFU the model's kernels need (their extensions behind one router), None without any."""
    from simulator.run import cfu_verilog

    return cfu_verilog(list(compiled.used_extensions))


def _simulate(compiled: CompiledModel, sources: dict, toolchain, cfu_verilog, ram_kib: int, max_cycles: int,
              dump_symbols: dict[str, int] | None = None, target: str | None = None):
    """Build the program and run it on the SoC: ``(elf, SimRun)``; ``dump_symbols`` (symbol -> bytes)
    are read back after the run; a nonzero exit is an error. ``target`` (default: the one ``compiled``
    was compiled for): a ``codegen_c.rv32.LitexSimTarget`` runs it on LiteX's litex_sim (``ram_kib``
    does not apply: the target's RAM), any other on isaforge's SoC model with the target's RAM timing
    (``wait_states``, ``l2``)."""
    import codegen_c
    from codegen_c.rv32 import LitexSimTarget

    t = codegen_c.get_target(target or compiled.target)
    if isinstance(t, LitexSimTarget):
        from simulator.litex_sim import build_litex_sim, run_isaforge_program
        from toolchain.rv32 import Toolchain

        sim = build_litex_sim(cfu_verilog or _cfu(compiled), t.memory, main_ram_kib=t.main_ram_kib)
        elf, run = run_isaforge_program(sources, sim, dump_symbols=dump_symbols, toolchain=toolchain or Toolchain(),
                                        max_cycles=max_cycles or None)
    else:
        from simulator.elf import read_elf
        from simulator.toolchain import compile_rv32
        from simulator.vexriscv import run_elf
        from toolchain.rv32 import Toolchain

        elf = compile_rv32(sources, toolchain=toolchain or Toolchain())
        dump = None
        if dump_symbols:
            info = read_elf(elf)
            dump = {name: (info.symbol(name).address, n) for name, n in dump_symbols.items()}
        run = run_elf(elf, cfu_verilog=cfu_verilog or _cfu(compiled), ram_kib=ram_kib, max_cycles=max_cycles,
                      dump=dump, wait_states=t.wait_states, l2=getattr(t, "l2", None))
    if run.exit_code != 0:
        raise FrontendError(f"model {compiled.name!r}: the program exited with code {run.exit_code} on "
                            f"{t.name}; console:\n{run.console}")
    return elf, run


def run_model(compiled: CompiledModel, inputs, *, toolchain=None, cfu_verilog: str | Path | None = None,
              ram_kib: int = 256, max_cycles: int = 50_000_000, target: str | None = None) -> ModelRun:
    """Run ``compiled`` on the simulated SoC for every input of ``inputs``; see the module docstring.
    ``target``: where (default ``compiled.target``; ``"litex_sim"`` is LiteX's own SoC, whose
    ``total_cycles`` are those of ``main``)."""
    batch = _as_batch(compiled, inputs)
    nb = batch.shape[0]
    n_out = int(np.prod(compiled.output_shape, dtype=np.int64))
    out_dt = np.dtype(compiled.output_dtype)
    dumps = {"isaforge_outputs": nb * n_out * out_dt.itemsize, "isaforge_counts": 4 * (4 + 2 * nb)}
    if compiled.profile:
        dumps["isaforge_kernel_cycles"] = 4 * len(compiled.kernels)
    elf, run = _simulate(compiled, model_program(compiled, main=default_main(compiled, batch)), toolchain,
                         cfu_verilog, ram_kib, max_cycles, dumps, target)
    c = np.frombuffer(run.dumps["isaforge_counts"], "<u4").astype(int)
    per_kernel = {}
    if compiled.profile:
        kc = np.frombuffer(run.dumps["isaforge_kernel_cycles"], "<u4").astype(int)
        per_kernel = dict(zip(compiled.kernels, (int(v) for v in kc)))
    outs = np.frombuffer(run.dumps["isaforge_outputs"], out_dt).reshape(nb, *compiled.output_shape).copy()
    return ModelRun(outputs=outs, cycles=int(c[2]), cold_cycles=int(c[0]), instret=int(c[3]),
                    cold_instret=int(c[1]), input_cycles=[int(v) for v in c[4::2]], footprint=footprint(elf),
                    console=run.console, total_cycles=run.cycles, kernel_cycles=per_kernel)


def run_main(compiled: CompiledModel, main: str, *, toolchain=None, cfu_verilog: str | Path | None = None,
             ram_kib: int = 256, max_cycles: int = 50_000_000):
    """Link ``compiled`` with a main program of the caller's (``main.c`` source; it calls
    ``model(in, out)`` and may print with the runtime's ``isaforge_puts`` / ``isaforge_print_float``),
    run it on the simulated SoC and return ``(SimRun, Footprint)``; a nonzero exit is an error."""
    elf, run = _simulate(compiled, model_program(compiled, main=main), toolchain, cfu_verilog, ram_kib, max_cycles)
    return run, footprint(elf)


__all__ = ["Footprint", "ModelRun", "c_float", "default_main", "footprint", "measuring_main", "model_program",
           "quantize_function_c", "run_main", "run_model"]
