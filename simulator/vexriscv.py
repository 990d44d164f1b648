"""Cycle-accurate simulation of kernels on a VexRiscv_FullCfu SoC (Verilator), with optional CFU.

API
---
``build_soc(cfu_verilog=None, *, ram_kib=256, wait_states=WAIT_STATES, plain_eval=False, split=None, pgo=None) -> Path``
    The cached Verilator model of ``isaforge_soc_top`` (VexRiscv_FullCfu + a module named ``Cfu``).
    ``cfu_verilog`` is Verilog text (or a path to a .v/.sv file) defining ``module Cfu`` with the
    CFU Playground ports; ``None`` uses a null CFU that answers every command with 0. One model is
    built per distinct CFU text; RAM size and wait states are run-time options of the model.
    ``split=True``: the split build (:mod:`simulator.soc_split`): the CPU verilated and compiled once,
    the CFU verilated on its own and linked to it; the same cycles, a fraction of the build per new CFU.
    ``split=None`` follows the module's ``SPLIT_DEFAULT``. run_elf and run_kernel take ``split`` too.
    ``pgo=True``: the monolithic fast model is a profile-guided build (toolchain.verilator's ``pgo``),
    trained on ``harness/pgo_train.c`` with this very CFU in the model; the same cycles, fewer host
    instructions per cycle, twice the compile of a cache miss. ``pgo=None`` follows ``PGO_DEFAULT`` (or
    the environment variable ``ISAFORGE_SOC_PGO=0|1``). The reference (``plain_eval``) and the split
    build are never profile-guided. run_elf and run_kernel take ``pgo`` too.

``run_elf(elf, *, cfu_verilog=None, ram_kib=256, wait_states=WAIT_STATES, max_cycles=50_000_000,
          dump={}, image_patches=(), plain_eval=False, split=None, pgo=None, l2=None) -> SimRun``
    Run an ELF linked for RAM at 0x40000000 (see simulator.toolchain.link_script_text).
    ``wait_states``: cycles the RAM waits before acknowledging each instruction or data bus access;
    ``WAIT_STATES`` (1, the ``vexriscv`` target's) is calibrated to LiteX's integrated SRAM, 0 is an
    ideal RAM (the ``vexriscv_ideal`` target). ``l2``: a ``codegen_c.rv32.L2Timing``, the RAM behind a
    cache and DRAM rows (LiteX's L2 and SDRAM: ``LITEX_SDRAM_L2``, the ``vexriscv_sdram`` target);
    hits take ``wait_states``, misses more (see L2Timing). ``dump``
    maps a name to ``(address, nbytes)``; the bytes are read after the program ends.
    ``image_patches`` is a list of ``(address, bytes)`` written into RAM before the run.
    Raises SimTimeout, BusError or TrapError when the program hangs, touches an unmapped address
    or traps; a nonzero exit code is returned, not raised. ``plain_eval``: run on the reference model
    of build_soc (Verilator's eval() on both edges; same cycles, slower).

``run_kernel(kernel_c, kernel_name, arrays, *, outputs=None, cfu_verilog=None,
             toolchain=Toolchain(), ram_kib=256, wait_states=WAIT_STATES, max_cycles=50_000_000,
             stack_bytes=0, plain_eval=False, split=None, pgo=None, l2=None) -> KernelResult``
    Compile ``kernel_c`` (a freestanding C99 unit defining ``void <kernel_name>(T0 *restrict a0,
    ...)``; pointer types follow the numpy dtypes) with a generated driver that calls it twice
    (cold, then warm, restoring the output buffers in between so accumulating kernels see the same
    inputs) and measures mcycle/minstret around each call (the measurement overhead is
    subtracted). The input arrays are written into the memory image (so the ELF is cached and
    reused for any data); the arrays listed in ``outputs`` (indices; default: the last array) are
    read back after the run and written into the numpy arrays in place.

    The stack: it starts at the top of RAM and may use all RAM above the program and its arrays.
    ``stack_bytes`` is what the kernel's own stack arrays need (``simulator.run`` computes it from
    the PrimFunc's local buffers); with a margin for frames and spills (at least ``STACK_KIB``) it
    must fit, or StackOverflowError is raised before anything runs. The free RAM is painted with a
    pattern before the run and read back after it: a stack that reached the lowest
    ``STACK_GUARD`` bytes (next to the arrays, which it may have overwritten) raises
    StackOverflowError instead of returning numbers. ``KernelResult.stack_bytes`` is the deepest
    stack use seen.

    Placement: the kernel's kernel-level ``static`` arrays (codegen_c's global intermediates), the
    argument arrays and the driver's saved copies of the outputs are placed by :mod:`simulator.placement`
    (statics, then inputs, then outputs, then the copies, each
    at a planned offset modulo the 4 KiB direct-mapped D-cache, away from the top of the stack), so
    that hot operands do not collide by accident; a RAM without room for the padding keeps them
    packed. The placed statics start zeroed, like .bss.

``kernel_program(kernel_c, kernel_name, arrays, *, outputs=None, toolchain=Toolchain(), ram_kib=256,
                 stack_bytes=0) -> KernelProgram``
    The linked program run_kernel runs (``.elf``), its ``.plan`` and each placed buffer's address.

Memory map: RAM at 0x40000000 (reset vector), MMIO at 0xF0000000 (see runtime/isaforge_rt.h).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from codegen_c.rv32 import L2Timing, VexRiscvTarget
from simulator.elf import read_elf
from simulator.errors import BusError, SimTimeout, SimulationError, StackOverflowError, TrapError
from simulator.placement import BufferPlan, PlannedBuffer, own_statics, plan
from simulator.toolchain import RAM_BASE, Toolchain, compile_rv32, link_script_text, runtime_sources
from tir.errors import ArgumentError
from toolchain.cache import content_hash
from toolchain.verilator import PgoTraining, build_verilated

#: the RAM's wait states per bus access when a call names none: the ``vexriscv`` target's, with which
#: the model's cycles agree with LiteX's own SoC on integrated SRAM (docs/litex_sim.md)
WAIT_STATES = VexRiscvTarget.wait_states

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
SOC_TOP = "isaforge_soc_top"
SOC_KIND = "vexriscv_soc"
STACK_KIB = 8  # the least stack reserved for any program (run_elf's link scripts reserve this much)
STACK_MARGIN = 2048  # on top of a kernel's stack arrays: its frame, spills, the driver's frame and calls
STACK_GUARD = 64  # the lowest bytes of free RAM: a stack that writes there has reached the arrays below
STACK_PAINT = 0x5AC3F00D  # the word free RAM is filled with before a run, to see how deep the stack went

C_TYPES = {
    np.dtype(np.bool_): "uint8_t",  # numpy's bool is one byte
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int64): "int64_t",
    np.dtype(np.uint64): "uint64_t",
    np.dtype(np.float32): "float",
}


@dataclass
class SimRun:
    """Outcome of one simulation that ended by the program writing the exit register."""

    exit_code: int
    cycles: int  # total cycles since reset
    console: str
    dumps: dict[str, bytes] = field(default_factory=dict)
    eval_mode: str = ""  # how the harness evaluated the model: "rise" (rising edges only), "direct" or "eval"


@dataclass
class KernelResult:
    cycles: int  # warm run of the kernel
    instret: int
    cold_cycles: int  # first run
    cold_instret: int
    console: str
    total_cycles: int  # whole simulation
    stack_bytes: int = 0  # deepest stack use seen (bytes below the top of RAM written during the run)


# --------------------------------------------------------------------------------------------
# model build


@lru_cache(maxsize=1)
def _cpu_verilog() -> str:
    import pythondata_cpu_vexriscv

    path = Path(pythondata_cpu_vexriscv.data_location) / "VexRiscv_FullCfu.v"
    if not path.exists():
        raise SimulationError(f"VexRiscv_FullCfu.v not found at {path}")
    return path.read_text()


def _cfu_text(cfu_verilog: str | Path | None) -> str:
    if cfu_verilog is None:
        return (HARNESS_DIR / "null_cfu.v").read_text()
    if isinstance(cfu_verilog, Path):
        return cfu_verilog.read_text()
    text = str(cfu_verilog)
    if "\n" not in text and text.endswith((".v", ".sv")) and Path(text).is_file():
        return Path(text).read_text()
    if "module" not in text:
        raise SimulationError("cfu_verilog must be Verilog text defining `module Cfu` (or a .v path)")
    return text


# The SoC model runs for millions of cycles per measurement: its C++ is built with -O3 (measured 1.74 ->
# 2.10 M simulated cycles/s on matmul 64^3 naive C; the cycles are the same). The co-simulation
# libraries of isa_ext.verify, which run briefly, keep the default -O2. The harness (harness/soc_main.cpp)
# evaluates the model directly and, for a design with rising-edge logic only (posedge_only), once per
# cycle: 12.5% fewer host instructions per simulated cycle, the same cycles (benchmarks/soc_speed.py).
SOC_CXX_FLAGS = ("-MAKEFLAGS", "OPT_FAST=-O3", "-MAKEFLAGS", "OPT_GLOBAL=-O3", "-CFLAGS", "-O3")
# The monolithic fast model only (not the reference, whose build stays as it was, nor the split build, whose
# CPU and unit are separate models): one flat module, so the CPU's state is the root's own members instead
# of a submodule reached through the symbol table (about 3-5% less CPU time per simulated cycle, with or
# without the profile). Measured and not kept, each within noise with the profile: -fno-pie/-no-pie,
# -fno-tree-slp-vectorize, -O2 instead of -O3 (--x-assign/--x-initial fast and Verilator's -O3 are in
# toolchain.verilator's BASE_FLAGS already; the harness's own per-cycle work is about 2% of the CPU time).
SOC_FAST_FLAGS = ("--flatten",)


# Whether the monolithic fast model is a profile-guided build when ``pgo`` is None (build_soc). On: about
# 12% more simulated cycles per CPU second on top of --flatten (benchmarks/soc_speed.py), for a cache miss
# that compiles the model twice and runs the training program once (about 5 -> 12 CPU s, Verilator's
# run-time library compiled once by toolchain.verilator; benchmarks/soc_build.py). The training
# program has no CFU instruction, yet a model trained on it runs CFU kernels as fast as one trained on the
# kernel itself (measured on mac4_i8): the hot code is the CPU's, and each model is trained with its own
# unit (a profile of one model would not fit another's code). ISAFORGE_SOC_PGO=0 turns it off.
PGO_DEFAULT = True
PGO_ENV = "ISAFORGE_SOC_PGO"
PGO_TRAIN_MAX_CYCLES = 5_000_000  # the training program takes about 1 M; a bound, should a unit misbehave


# Whether build_soc / run_elf / run_kernel use the split build (simulator.soc_split) when ``split`` is None.
# Off: the split build simulates the monolithic model's cycles exactly (tests/test_split_soc.py) and a new
# CFU costs its own small build and a link instead of the whole SoC's (about 2 vs 12 CPU s with the
# profile, 5 without; benchmarks/soc_build.py), but each
# simulated cycle evaluates the unit's model twice on its own, 12-18% more host instructions per cycle
# (benchmarks/soc_build.py): over the 10% a default may cost. Whoever builds many units (the instruction
# search) sets split=True (or this, per process), or the environment variable ISAFORGE_SOC_SPLIT=1,
# which measurement worker processes inherit.
SPLIT_DEFAULT = False
SPLIT_ENV = "ISAFORGE_SOC_SPLIT"


def _use_split(split: bool | None) -> bool:
    if split is None:
        env = os.environ.get(SPLIT_ENV, "")
        if env:
            if env not in ("0", "1"):
                raise ArgumentError(f"{SPLIT_ENV} must be 0 or 1, got {env!r}")
            return env == "1"
        return bool(SPLIT_DEFAULT)
    if not isinstance(split, bool):
        raise ArgumentError(f"split must be True, False or None (the module's SPLIT_DEFAULT), got {split!r}")
    return split


def _use_pgo(pgo: bool | None) -> bool:
    if pgo is None:
        env = os.environ.get(PGO_ENV, "")
        if env:
            if env not in ("0", "1"):
                raise ArgumentError(f"{PGO_ENV} must be 0 or 1, got {env!r}")
            return env == "1"
        return bool(PGO_DEFAULT)
    if not isinstance(pgo, bool):
        raise ArgumentError(f"pgo must be True, False or None (the module's PGO_DEFAULT), got {pgo!r}")
    return pgo


def _pgo_train(exe: Path) -> SimRun:
    """Run the model ``exe`` (the instrumented one, in a build) on the training program; it must exit with 0."""
    sources = runtime_sources()
    sources["main.c"] = (HARNESS_DIR / "pgo_train.c").read_text()
    elf = compile_rv32(sources, None, Toolchain(), link_script_text(256, STACK_KIB))
    info = read_elf(elf)
    try:
        run = _simulate(exe, info.entry, _image(info, 256 * 1024, ()), 256 * 1024, 0, PGO_TRAIN_MAX_CYCLES, {})
    except SimulationError as e:  # a model that cannot run a scalar program: say which run found it
        raise SimulationError(f"the SoC model's PGO training program (harness/pgo_train.c) failed: {e}") from e
    if run.exit_code != 0:
        raise SimulationError(f"the SoC model's PGO training program exited with {run.exit_code}")
    return run


def pgo_training() -> PgoTraining:
    """The profile-guided SoC build's training: ``harness/pgo_train.c`` run once on the instrumented model.

    Its key is the program's text (not the cross compiler's output: another RISC-V compiler would give a
    slightly different profile, which changes how fast the model runs, never what it computes)."""
    return PgoTraining(content_hash("soc-pgo-train", (HARNESS_DIR / "pgo_train.c").read_text(),
                                   str(PGO_TRAIN_MAX_CYCLES)), _pgo_train)


def build_soc(cfu_verilog: str | Path | None = None, *, ram_kib: int = 256, wait_states: int = WAIT_STATES,
              plain_eval: bool = False, split: bool | None = None, pgo: bool | None = None) -> Path:
    """Build (or fetch from the cache) the SoC model for this CFU; returns the executable.

    ``ram_kib`` and ``wait_states`` are accepted for symmetry with run_elf: they are run-time
    options of the model and do not change the build. ``plain_eval``: the harness calls Verilator's
    ``eval()`` on both clock edges, without its fast paths (the reference they are tested against; a
    separate model, same cycles). ``split``: link the CPU, verilated and compiled once, to this CFU's own
    model (:mod:`simulator.soc_split`; same command line, same cycles, a new CFU costs only its own small
    build and a link) instead of verilating the whole SoC; None: ``SPLIT_DEFAULT``. ``pgo``: the monolithic
    fast model is a profile-guided build (see the module docstring); None: ``PGO_DEFAULT``.
    """
    _check_geometry(ram_kib, wait_states)
    use_pgo = _use_pgo(pgo)
    if _use_split(split):
        from simulator.soc_split import build_split_soc

        return build_split_soc(_cfu_text(cfu_verilog), plain_eval=plain_eval).exe
    sources = {
        "VexRiscv_FullCfu.v": _cpu_verilog(),
        "isaforge_soc_top.v": (HARNESS_DIR / "isaforge_soc_top.v").read_text(),
        "isaforge_cfu.v": _cfu_text(cfu_verilog),
    }
    if plain_eval:
        flags = SOC_CXX_FLAGS + ("-CFLAGS", "-DISAFORGE_PLAIN_EVAL")
    elif posedge_only(sources.values()):
        flags = SOC_CXX_FLAGS + SOC_FAST_FLAGS + ("-CFLAGS", "-DISAFORGE_POSEDGE_ONLY")
    else:
        flags = SOC_CXX_FLAGS + SOC_FAST_FLAGS
    training = pgo_training() if use_pgo and not plain_eval else None
    return build_verilated(SOC_TOP, sources, [HARNESS_DIR / "soc_main.cpp"], kind=SOC_KIND, extra_flags=flags,
                           pgo=training)


# any mention of a falling edge or of a both-edges event (even in a comment: the test is conservative)
_OTHER_EDGE = re.compile(r"\bnegedge\b|\bedge\b|@\s*\(\s*\w+\s*\)")


def posedge_only(verilog_texts) -> bool:
    """Whether no logic of these Verilog texts can run on a falling clock edge (no ``negedge``, ``edge``
    or ``@(signal)`` event anywhere); the SoC harness then skips the falling-edge evaluation."""
    return not any(_OTHER_EDGE.search(text) for text in verilog_texts)


def _check_l2(l2) -> None:
    if l2 is not None and not isinstance(l2, L2Timing):
        raise ArgumentError(f"l2 must be a codegen_c.rv32.L2Timing or None, got {l2!r}")


def _check_geometry(ram_kib: int, wait_states: int) -> None:
    if not isinstance(ram_kib, int) or ram_kib <= 0 or ram_kib > 256 * 1024:
        raise ArgumentError(f"ram_kib must be a positive int (at most 256 MiB), got {ram_kib!r}")
    if not isinstance(wait_states, int) or not 0 <= wait_states <= 64:
        raise ArgumentError(f"wait_states must be an int in [0, 64], got {wait_states!r}")


# --------------------------------------------------------------------------------------------
# running an ELF


def _parse_summary(stdout: str) -> dict[str, str]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("ISAFORGE_SIM "):
            fields = {}
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                fields[key] = value
            return fields
    raise SimulationError(f"the simulator printed no summary; output tail:\n{stdout[-2000:]}")


def run_elf(
    elf: str | Path,
    *,
    cfu_verilog: str | Path | None = None,
    ram_kib: int = 256,
    wait_states: int = WAIT_STATES,
    max_cycles: int = 50_000_000,
    dump: dict[str, tuple[int, int]] | None = None,
    image_patches=(),
    plain_eval: bool = False,
    split: bool | None = None,
    pgo: bool | None = None,
    l2: L2Timing | None = None,
) -> SimRun:
    """Simulate an ELF on the SoC; see the module docstring."""
    _check_geometry(ram_kib, wait_states)
    _check_l2(l2)
    if not isinstance(max_cycles, int) or max_cycles <= 0:
        raise ArgumentError(f"max_cycles must be a positive int, got {max_cycles!r}")
    dump = dict(dump or {})
    ram_bytes = ram_kib * 1024
    ram_end = RAM_BASE + ram_bytes
    info = read_elf(elf)
    image = _image(info, ram_bytes, image_patches)
    for name, (addr, nbytes) in dump.items():
        if addr < RAM_BASE or addr + nbytes > ram_end or nbytes < 0:
            raise SimulationError(f"dump {name!r} [0x{addr:08x}, +{nbytes}) lies outside RAM")
    exe = build_soc(cfu_verilog, plain_eval=plain_eval, split=split, pgo=pgo)
    return _simulate(exe, info.entry, image, ram_bytes, wait_states, max_cycles, dump, l2)


def _image(info, ram_bytes: int, image_patches) -> bytes:
    """The RAM image: the ELF's segments, then the patches, checked to lie in RAM."""
    ram_end = RAM_BASE + ram_bytes
    image = bytearray()

    def place(addr: int, data: bytes, what: str) -> None:
        if addr < RAM_BASE or addr + len(data) > ram_end:
            raise SimulationError(
                f"{what} [0x{addr:08x}, 0x{addr + len(data):08x}) lies outside RAM "
                f"[0x{RAM_BASE:08x}, 0x{ram_end:08x})"
            )
        off = addr - RAM_BASE
        if len(image) < off + len(data):
            image.extend(bytes(off + len(data) - len(image)))
        image[off:off + len(data)] = data

    for seg in info.segments:
        if seg.memsz and (seg.vaddr < RAM_BASE or seg.vaddr + seg.memsz > ram_end):
            raise SimulationError(
                f"ELF segment at 0x{seg.vaddr:08x} (+{seg.memsz} bytes) does not fit in "
                f"{ram_bytes // 1024} KiB of RAM at 0x{RAM_BASE:08x}"
            )
        place(seg.vaddr, seg.data, "ELF segment")
    for addr, data in image_patches:
        place(int(addr), bytes(data), "input data")
    return bytes(image)


def _simulate(exe: Path, entry: int, image: bytes, ram_bytes: int, wait_states: int, max_cycles: int,
              dump: dict[str, tuple[int, int]], l2: L2Timing | None = None) -> SimRun:
    """Run the SoC model ``exe`` on a RAM image; raise what run_elf raises."""
    with tempfile.TemporaryDirectory(prefix="isaforge-sim-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "image.bin").write_bytes(image)
        cmd = [
            str(exe),
            "--ram-base", hex(RAM_BASE),
            "--ram-bytes", str(ram_bytes),
            "--image", str(tmpd / "image.bin"),
            "--image-base", hex(RAM_BASE),
            "--entry", hex(entry),
            "--max-cycles", str(max_cycles),
            "--wait-states", str(wait_states),
            "--console", str(tmpd / "console.txt"),
        ]
        if l2 is not None:
            cmd += ["--l2", l2.harness_arg()]
        names = list(dump)
        for i, name in enumerate(names):
            addr, nbytes = dump[name]
            cmd += ["--dump", f"{addr:#x}:{nbytes}:{tmpd / f'dump{i}.bin'}"]
        wall_limit = 120 + max_cycles / 200_000
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=wall_limit)
        except subprocess.TimeoutExpired as e:
            raise SimTimeout(max_cycles, 0, f"simulator process exceeded {wall_limit:.0f} s wall time") from e
        if proc.returncode != 0:
            fields = _parse_summary(proc.stdout) if "ISAFORGE_SIM" in proc.stdout else {}
            raise SimulationError(
                f"simulator failed (exit {proc.returncode}): {fields.get('msg', '')}\n{proc.stderr[-2000:]}"
            )
        f = _parse_summary(proc.stdout)
        console_path = tmpd / "console.txt"
        console = console_path.read_bytes().decode("utf-8", "replace") if console_path.exists() else ""
        reason = f.get("reason")
        cycles = int(f.get("cycles", "0"))
        pc = int(f.get("pc", "0"), 16)
        if reason == "timeout":
            raise SimTimeout(cycles, pc)
        if reason == "bus_error":
            addr = int(f["addr"], 16)
            write = f.get("write") == "1"
            if f.get("bus") == "i":
                raise BusError(
                    addr, False, pc, f"bus error: instruction fetch from unmapped address 0x{addr:08x}"
                )
            raise BusError(addr, write, pc)
        if reason == "trap":
            raise TrapError(int(f["mcause"], 16), int(f["mepc"], 16), int(f["mtval"], 16), int(f["insn"], 16))
        if reason != "exit":
            raise SimulationError(f"simulation ended unexpectedly: {f.get('msg', reason)}")
        dumps = {name: (tmpd / f"dump{i}.bin").read_bytes() for i, name in enumerate(names)}
    return SimRun(exit_code=int(f["exit_code"]), cycles=cycles, console=console, dumps=dumps,
                  eval_mode=f.get("eval", ""))


# --------------------------------------------------------------------------------------------
# running a kernel


def _validate_arrays(arrays, outputs) -> list[int]:
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise ArgumentError("arrays must be a non-empty list of numpy arrays")
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise ArgumentError(f"argument {i} is a {type(a).__name__}, not a numpy array")
        if a.dtype not in C_TYPES:
            raise ArgumentError(
                f"argument {i} has unsupported dtype {a.dtype} (supported: "
                f"{', '.join(str(d) for d in C_TYPES)})"
            )
        if not a.flags.c_contiguous:
            raise ArgumentError(f"argument {i} is not C-contiguous (use np.ascontiguousarray)")
    if outputs is None:
        outputs = [len(arrays) - 1]
    outputs = [int(o) for o in outputs]
    for o in outputs:
        if not 0 <= o < len(arrays):
            raise ArgumentError(f"output index {o} out of range for {len(arrays)} arrays")
        if not arrays[o].flags.writeable:
            raise ArgumentError(f"output array {o} is read-only")
    return sorted(set(outputs))


def _pad16(n: int) -> int:
    return max(16, (n + 15) // 16 * 16)


def driver_source(kernel_name: str, arrays, outputs: list[int]) -> str:
    """The generated main.c that calls the kernel cold, then warm, and records the counters."""
    lines = [
        "/* generated by simulator.vexriscv.run_kernel */",
        "#include <stdint.h>",
        '#include "isaforge_rt.h"',
        "",
    ]
    params = ", ".join(f"{C_TYPES[a.dtype]} *restrict a{i}" for i, a in enumerate(arrays))
    lines.append(f"void {kernel_name}({params});")
    lines.append("")
    for i, a in enumerate(arrays):
        n = max(1, a.size)
        lines.append(
            f"{C_TYPES[a.dtype]} isaforge_arg{i}[{n}] "
            f'__attribute__((section(".isaforge_buf.arg{i}"), aligned(16), used));'
        )
    for o in outputs:
        a = arrays[o]
        lines.append(f"uint32_t isaforge_save{o}[{_pad16(a.nbytes) // 4}] "
                     f'__attribute__((section(".isaforge_buf.save{o}"), aligned(16), used));')
    lines += [
        "",
        "struct isaforge_result { uint32_t cold_cycles, cold_instret, warm_cycles, warm_instret,",
        "                         overhead_cycles, overhead_instret, done, pad; };",
        "volatile struct isaforge_result isaforge_result __attribute__((aligned(16), used));",
        "",
        "int main(void) {",
        "    uint32_t c0, i0, c1, i1, oc, oi;",
        "    c0 = isaforge_mcycle(); i0 = isaforge_minstret();",
        "    c1 = isaforge_mcycle(); i1 = isaforge_minstret();",
        "    oc = c1 - c0; oi = i1 - i0;",
        "    isaforge_result.overhead_cycles = oc; isaforge_result.overhead_instret = oi;",
    ]
    call = f"{kernel_name}({', '.join(f'isaforge_arg{i}' for i in range(len(arrays)))});"
    for o in outputs:
        lines.append(f"    memcpy(isaforge_save{o}, isaforge_arg{o}, {_pad16(arrays[o].nbytes)});")
    lines += [
        "    c0 = isaforge_mcycle(); i0 = isaforge_minstret();",
        f"    {call}",
        "    c1 = isaforge_mcycle(); i1 = isaforge_minstret();",
        "    isaforge_result.cold_cycles = c1 - c0 - oc; isaforge_result.cold_instret = i1 - i0 - oi;",
    ]
    for o in outputs:
        lines.append(f"    memcpy(isaforge_arg{o}, isaforge_save{o}, {_pad16(arrays[o].nbytes)});")
    lines += [
        "    c0 = isaforge_mcycle(); i0 = isaforge_minstret();",
        f"    {call}",
        "    c1 = isaforge_mcycle(); i1 = isaforge_minstret();",
        "    isaforge_result.warm_cycles = c1 - c0 - oc; isaforge_result.warm_instret = i1 - i0 - oi;",
        "    isaforge_result.done = 1;",
        "    return 0;",
        "}",
        "",
    ]
    # memcpy is provided by isaforge_rt.c; declare it without <string.h> (freestanding)
    lines.insert(3, "void *memcpy(void *restrict, const void *restrict, __SIZE_TYPE__);")
    return "\n".join(lines)


def run_kernel(
    kernel_c: str,
    kernel_name: str,
    arrays: list[np.ndarray],
    *,
    outputs: list[int] | None = None,
    cfu_verilog: str | Path | None = None,
    toolchain: Toolchain = Toolchain(),  # noqa: B008 (frozen, immutable)
    ram_kib: int = 256,
    wait_states: int = WAIT_STATES,
    max_cycles: int = 50_000_000,
    stack_bytes: int = 0,
    plain_eval: bool = False,
    split: bool | None = None,
    pgo: bool | None = None,
    l2: L2Timing | None = None,
    access=None,
) -> KernelResult:
    """Compile, run and measure one kernel; see the module docstring. ``access``: the kernel's argument
    reads (``simulator.placement.access_trace``), to place its hot inputs by their misses too."""
    if not isinstance(kernel_name, str) or not kernel_name.isidentifier():
        raise ArgumentError(f"kernel_name must be a C identifier, got {kernel_name!r}")
    _check_geometry(ram_kib, wait_states)
    _check_l2(l2)
    if not isinstance(stack_bytes, int) or stack_bytes < 0:
        raise ArgumentError(f"stack_bytes must be a non-negative int, got {stack_bytes!r}")
    outs = _validate_arrays(arrays, outputs)
    need = sum(_pad16(a.nbytes) for a in arrays) + sum(_pad16(arrays[o].nbytes) for o in outs)
    budget = ram_kib * 1024 - STACK_KIB * 1024 - 8 * 1024  # stack + a minimum for code
    if need > budget:
        raise ArgumentError(
            f"the arrays need {need} bytes (outputs counted twice: they are saved between runs) but "
            f"only about {budget} bytes of the {ram_kib} KiB RAM are available; raise ram_kib"
        )
    reserve = stack_reserve(stack_bytes)
    if need + reserve + 8 * 1024 > ram_kib * 1024:
        raise StackOverflowError(_no_room(kernel_name, stack_bytes, reserve, ram_kib * 1024 - 8 * 1024 - need,
                                          f"about {need} bytes of arrays and at least 8 KiB of code", ram_kib))

    prog = _kernel_program(kernel_c, kernel_name, arrays, outs, toolchain, ram_kib, stack_bytes, need, reserve,
                           access)
    elf_path, info = prog.elf, read_elf(prog.elf)

    ram_end = RAM_BASE + ram_kib * 1024
    free_start = info.symbol("__heap_start").address
    free = ram_end - free_start
    if free < reserve:
        raise StackOverflowError(_no_room(kernel_name, stack_bytes, reserve, free,
                                          f"the program and its arrays (up to 0x{free_start:08x})", ram_kib))
    patches = []
    for i, a in enumerate(arrays):
        sym = info.symbol(f"isaforge_arg{i}")
        patches.append((sym.address, a.tobytes()))
    # the placed statics start zeroed (C's static storage) like .bss, which crt0 zeroes: they are not in it
    patches += [(addr, bytes(b.nbytes)) for b, addr in prog.addresses.items() if b.section.startswith(".isaforge_tmp.")]
    # paint the stack's RAM: nothing runs before main but crt0, which uses no stack
    patches.append((free_start, np.full(free // 4, STACK_PAINT, dtype="<u4").tobytes()))
    res_sym = info.symbol("isaforge_result")
    dump = {"result": (res_sym.address, 32), "stack": (free_start, free)}
    for o in outs:
        dump[f"arg{o}"] = (info.symbol(f"isaforge_arg{o}").address, arrays[o].nbytes)

    run = run_elf(
        elf_path, cfu_verilog=cfu_verilog, ram_kib=ram_kib, wait_states=wait_states,
        max_cycles=max_cycles, dump=dump, image_patches=patches, plain_eval=plain_eval, split=split,
        pgo=pgo, l2=l2,
    )
    used = _check_stack(kernel_name, run.dumps["stack"], free_start, ram_end, stack_bytes)
    if run.exit_code != 0:
        raise SimulationError(f"kernel driver exited with code {run.exit_code}; console:\n{run.console}")
    return kernel_result(run.dumps["result"], lambda o: run.dumps[f"arg{o}"], arrays, outs, run.console, run.cycles,
                         stack_bytes=used)


def kernel_result(counters: bytes, output, arrays: list, outs, console: str, total_cycles: int,
                  where: str = "", **extra) -> KernelResult:
    """A KernelResult from the driver's counters (its ``result`` words: cold / warm cycles and
    instret, a done flag) and each output's bytes (``output(index)``), copied into ``arrays`` in
    place. ``where`` prefixes the error of a driver that did not finish."""
    c = np.frombuffer(counters, dtype="<u4")
    if c[6] != 1:
        raise SimulationError(f"{where}kernel driver did not record its counters")
    for o in outs:
        a = arrays[o]
        a[...] = np.frombuffer(output(o), dtype=a.dtype).reshape(a.shape)
    return KernelResult(cycles=int(c[2]), instret=int(c[3]), cold_cycles=int(c[0]), cold_instret=int(c[1]),
                        console=console, total_cycles=total_cycles, **extra)


@dataclass(frozen=True)
class KernelProgram:
    """The linked driver + kernel of :func:`run_kernel`: the ELF and where the planned buffers are."""

    elf: Path
    plan: BufferPlan | None  # None: the RAM had no room for the placement's padding (buffers packed)
    addresses: dict[PlannedBuffer, int]  # every planned buffer's address (empty without a plan)


def kernel_program(
    kernel_c: str,
    kernel_name: str,
    arrays: list[np.ndarray],
    *,
    outputs: list[int] | None = None,
    toolchain: Toolchain = Toolchain(),  # noqa: B008 (frozen, immutable)
    ram_kib: int = 256,
    stack_bytes: int = 0,
) -> KernelProgram:
    """Compile and link the program :func:`run_kernel` runs (same arguments), without running it.

    The kernel's statics and the arrays are placed by :mod:`simulator.placement` when the RAM has room
    for the padding; ``addresses`` then names each buffer's address (checked against the ELF's symbols
    for the arrays).
    """
    outs = _validate_arrays(arrays, outputs)
    need = sum(_pad16(a.nbytes) for a in arrays) + sum(_pad16(arrays[o].nbytes) for o in outs)
    return _kernel_program(kernel_c, kernel_name, arrays, outs, toolchain, ram_kib, stack_bytes, need,
                           stack_reserve(stack_bytes))


def _kernel_program(kernel_c, kernel_name, arrays, outs, toolchain, ram_kib, stack_bytes, need, reserve,
                    access=None):
    sources = runtime_sources()
    sources["main.c"] = driver_source(kernel_name, arrays, outs)
    # the buffers' placement (simulator.placement); a RAM without room for its padding keeps them packed
    placed_c, statics = own_statics(kernel_c)
    placed: BufferPlan | None = _buffer_plan(arrays, outs, statics, ram_kib, stack_bytes, access)
    spare = ram_kib * 1024 - need - 8 * 1024 - reserve - sum(_pad16(b.nbytes) for b in statics)
    if placed.padding > spare:
        placed = None
    sources["kernel.c"] = kernel_c if placed is None else placed_c
    script = link_script_text(ram_kib, STACK_KIB, None if placed is None else placed.link_block)
    elf_path = compile_rv32(sources, None, toolchain, script)
    addresses: dict[PlannedBuffer, int] = {}
    if placed is not None:
        info = read_elf(elf_path)
        base = info.symbol("__isaforge_buf_start").address
        for b, pos in zip(placed.buffers, placed.positions):
            addresses[b] = base + pos
            if not b.section.startswith(".isaforge_tmp.") and info.symbol(b.name).address != base + pos:
                raise SimulationError(f"the linker put {b.name} at 0x{info.symbol(b.name).address:08x}, not at "
                                      f"the planned 0x{base + pos:08x} (simulator.placement)")
    return KernelProgram(elf_path, placed, addresses)


def _buffer_plan(arrays, outs, statics, ram_kib: int, stack_bytes: int, access=None) -> BufferPlan:
    """The placement of the kernel's statics, then its inputs, then its outputs, then the copies of the
    outputs the driver restores before the warm run (simulator.placement). Those copies are read just
    before the warm run, so their lines are what the D-cache holds when it starts: placed, they keep
    off the lines of the kernel's operands where there is room."""
    args = [PlannedBuffer(f"isaforge_arg{i}", f".isaforge_buf.arg{i}", max(1, a.nbytes), 1 if i in outs else 2)
            for i, a in enumerate(arrays)]
    saves = [PlannedBuffer(f"isaforge_save{o}", f".isaforge_buf.save{o}", _pad16(arrays[o].nbytes), 1) for o in outs]
    order = statics + [b for i, b in enumerate(args) if i not in outs] + [args[i] for i in outs] + saves
    arg_of = {order.index(b): i for i, b in enumerate(args)}
    # the hot top of the stack: the driver's and the kernel's frames and the kernel's stack arrays
    return plan(order, stack_top=RAM_BASE + ram_kib * 1024, stack_hot=256 + _pad16(stack_bytes), trace=access,
                arg_of=arg_of)


def stack_reserve(stack_bytes: int) -> int:
    """The stack a kernel whose own stack arrays take ``stack_bytes`` is given at least."""
    return max(STACK_KIB * 1024, _pad16(stack_bytes) + STACK_MARGIN)


def _no_room(kernel_name: str, stack_bytes: int, reserve: int, room: int, below: str, ram_kib: int) -> str:
    return (
        f"kernel {kernel_name!r} needs {reserve} bytes of stack ({stack_bytes} bytes of local arrays + "
        f"frames and spills, at least {STACK_KIB} KiB) but {ram_kib} KiB of RAM leave only {max(room, 0)} "
        f"bytes above {below}; raise ram_kib or make the local buffers smaller"
    )


def _check_stack(kernel_name: str, painted: bytes, free_start: int, ram_end: int, stack_bytes: int) -> int:
    """How deep the stack went (bytes below ``ram_end``); raise if it reached the guard bytes."""
    words = np.frombuffer(painted, dtype="<u4")
    touched = np.flatnonzero(words != STACK_PAINT)
    if touched.size == 0:
        return 0
    lowest = free_start + 4 * int(touched[0])
    used = ram_end - lowest
    if lowest < free_start + STACK_GUARD:
        raise StackOverflowError(
            f"stack overflow in kernel {kernel_name!r}: the stack grew down to 0x{lowest:08x}, the bottom of the "
            f"{ram_end - free_start} bytes of RAM above the program and its arrays, and may have overwritten "
            f"them (its local arrays take {stack_bytes} bytes); the results are discarded: raise ram_kib or "
            f"make the local buffers smaller"
        )
    return used

