"""The TFLM peer: TensorFlow Lite Micro's interpreter and reference kernels on the same simulated
VexRiscv SoC and cross compiler, running the same int8 sine model isaforge measures.

    .venv/bin/python benchmarks/peers_tflm.py [--mirror DIR] [--ram-kib 256] [--out FILE]

The model is isaforge's post-training quantization of TFLM's hello_world float model, written back
as a .tflite flatbuffer: ``to_tflite(quantize(from_tflite(sine_float_path()), linspace(0, 2 pi, 500)))``
(three int8 FULLY_CONNECTED, int8 in and out: no QUANTIZE / DEQUANTIZE). It is embedded in the
program as a byte array; the inputs are benchmarks/models.py's (0.5, 1.5, 3.0, quantized).

Sources (not on PyPI, never vendored into the repository): TFLM and the headers it builds with, at
the commits TFLM's own download scripts pin (flatbuffers v25.9.23, gemmlowp and ruy at the commits
of tensorflow/lite/micro/tools/make/third_party_downloads.inc):

- each tree is extracted once into ``cache_dir("tflm_src")/<name>-<commit>/`` (only the folders the
  build reads: tensorflow/lite, flatbuffers' include, gemmlowp's fixedpoint and internal, ruy's
  profiler);
- from a local git mirror when ``--mirror DIR`` holds ``DIR/<owner>+<name>/repo`` (a bare clone;
  ``git --git-dir ... archive <commit>``), otherwise by ``git fetch --depth 1 https://github.com/
  <owner>/<name> <commit>`` into a scratch repository (needs network once). A user without either
  can place the trees by hand, e.g. ``git clone https://github.com/tensorflow/tflite-micro`` then
  ``git -C tflite-micro archive <commit> tensorflow/lite | tar -x -C <cache>/tflm_src/tflite-micro-<commit>``.

Build (kept under ``cache_dir("tflm_build")``, keyed by a content hash of the compiler, the flags,
the commits and the stub sources): TFLM's C++ is compiled with the project's zig (``zig c++ -O2
-mcpu=generic_rv32+m``, the same optimisation level and ISA as isaforge's kernels) for the target
``riscv32-linux-musl``, only for its C++ and C library *headers* (the freestanding target has no
libc++); nothing of musl or libc++ is linked. Flags: ``-std=c++17 -fno-exceptions -fno-rtti
-fno-threadsafe-statics -ffunction-sections -fdata-sections -fno-pic -DTF_LITE_STATIC_MEMORY
-DTF_LITE_STRIP_ERROR_STRINGS -DNDEBUG``. The sources are TFLM's core (interpreter, allocator,
arena and memory planners, flatbuffer bridge, tensorflow/lite/{core,kernels/internal} helpers, the
schema utilities) and the micro kernels the model needs: fully_connected (+ its common part and
kernel_util). The program is linked as isaforge's are: zig ``-target riscv32-freestanding-none``
with the SoC's crt0 / isaforge_rt.c / linker script, ``--gc-sections``, zig's compiler_rt (TFLM's
Prepare computes its multipliers in double: soft float). ``tflm_libc.cc`` supplies the few C/C++
runtime pieces TFLM refers to beyond the SoC runtime's memcpy / memmove / memset / memcmp: strlen,
strcmp, strncmp, round, roundf, frexp (on the IEEE bits), abort, __cxa_pure_virtual, __cxa_atexit,
operator delete; DebugLog and DebugVsnprintf as no-ops (error strings are stripped). TFLM allocates
from the arena only (no heap); the flatbuffers headers get TFLM's own flatbuffers.patch, as its
download script applies it.

The main program (``main.cc``) builds a ``MicroMutableOpResolver<1>`` with FULLY_CONNECTED, a
``MicroInterpreter`` over a static arena, times ``AllocateTensors()`` (setup), then ``Invoke()`` on
the first input twice (cold: the first inference after setup; warm), then every input once,
``mcycle`` / ``minstret`` around each call, and prints each output. Check: every output equals
isaforge's reference ``g.evaluate(x)`` (TFLM = isaforge bit for bit is tested in
tests/test_model_e2e.py with TFLM's Python interpreter).

Footprint (zig's linker writes no map): every sized symbol of the ELF is given to the object that
defines it; ``tflm`` = the image's .text / .rodata / .data+.bss minus the other parts' symbols (so
TFLM's unnamed constants, e.g. jump tables, and its padding count as TFLM's; it includes the op
resolver template main.cc instantiates), ``model`` = the embedded flatbuffer, ``arena`` =
``arena_used_bytes()`` after setup (the static arena is 8 KiB), ``libc`` = tflm_libc.cc, ``rt`` =
zig's compiler_rt. The check also runs every int8 input (-128..127) and compares them all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.toolchain import link_script_text, runtime_sources  # noqa: E402
from simulator.vexriscv import run_elf  # noqa: E402
from toolchain.cache import cache_dir, content_hash, publish_dir  # noqa: E402
from toolchain.errors import ToolchainError  # noqa: E402
from toolchain.rv32 import Toolchain  # noqa: E402


@dataclass(frozen=True)
class SourceTree:
    """One repository at a pinned commit, and the folders of it the build reads."""

    name: str  # folder name in the cache
    repo: str  # owner/name on GitHub
    commit: str
    paths: tuple[str, ...]
    patch: str | None = None  # a patch file in the tflite-micro tree TFLM's download script applies


TFLM = SourceTree("tflite-micro", "tensorflow/tflite-micro", "90b983c2b3f1480642e040bbd2ddb37b998f3424",
                  ("tensorflow/lite", "tensorflow/compiler", "signal"))
# the versions TFLM's tools/make download scripts pin (flatbuffers_download.sh: v25.9.23, which the
# generated schema static_asserts; third_party_downloads.inc: gemmlowp, ruy)
FLATBUFFERS = SourceTree("flatbuffers", "google/flatbuffers", "edbe17738352418245d7228e7fd9f12c3ddc34c4",
                         ("include",), "tensorflow/lite/micro/tools/make/flatbuffers.patch")
GEMMLOWP = SourceTree("gemmlowp", "google/gemmlowp", "719139ce755a0f31cbf1c37f7f98adcc7fc9f425",
                      ("fixedpoint", "internal"))
RUY = SourceTree("ruy", "google/ruy", "d37128311b445e758136b8602d1bbd2a755e115d", ("ruy/profiler",))
TREES = (TFLM, FLATBUFFERS, GEMMLOWP, RUY)

# TFLM's sources for this model (relative to the tflite-micro tree); the linker drops what is unused
TFLM_SOURCES = (
    "tensorflow/lite/core/c/common.cc",
    "tensorflow/lite/core/api/flatbuffer_conversions.cc",
    "tensorflow/lite/core/api/tensor_utils.cc",
    "tensorflow/lite/kernels/kernel_util.cc",
    "tensorflow/lite/kernels/internal/common.cc",
    "tensorflow/lite/kernels/internal/quantization_util.cc",
    "tensorflow/lite/kernels/internal/portable_tensor_utils.cc",
    "tensorflow/lite/kernels/internal/runtime_shape.cc",
    "tensorflow/lite/kernels/internal/tensor_ctypes.cc",
    "tensorflow/lite/micro/flatbuffer_utils.cc",
    "tensorflow/lite/micro/memory_helpers.cc",
    "tensorflow/lite/micro/micro_allocation_info.cc",
    "tensorflow/lite/micro/micro_allocator.cc",
    "tensorflow/lite/micro/micro_context.cc",
    "tensorflow/lite/micro/micro_interpreter.cc",
    "tensorflow/lite/micro/micro_interpreter_context.cc",
    "tensorflow/lite/micro/micro_interpreter_graph.cc",
    "tensorflow/lite/micro/micro_log.cc",
    "tensorflow/lite/micro/micro_op_resolver.cc",
    "tensorflow/lite/micro/micro_profiler.cc",
    "tensorflow/lite/micro/micro_resource_variable.cc",
    "tensorflow/lite/micro/micro_utils.cc",
    "tensorflow/lite/micro/arena_allocator/non_persistent_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/arena_allocator/persistent_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/arena_allocator/single_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc",
    "tensorflow/lite/micro/memory_planner/linear_memory_planner.cc",
    "tensorflow/lite/micro/memory_planner/non_persistent_buffer_planner_shim.cc",
    "tensorflow/lite/micro/tflite_bridge/flatbuffer_conversions_bridge.cc",
    "tensorflow/lite/micro/tflite_bridge/micro_error_reporter.cc",
    "tensorflow/compiler/mlir/lite/schema/schema_utils.cc",
    "tensorflow/compiler/mlir/lite/core/api/error_reporter.cc",
    "tensorflow/lite/micro/kernels/fully_connected.cc",
    "tensorflow/lite/micro/kernels/fully_connected_common.cc",
    "tensorflow/lite/micro/kernels/kernel_util.cc",
)

OPT = "-O2"
# TFLM's C++ is compiled against the linux-musl target's libc++ / libc headers (zig's freestanding
# target has none); only headers: the objects are linked freestanding, nothing of musl/libc++ comes in
CXX_TARGET = ("-target", "riscv32-linux-musl", "-mcpu=generic_rv32+m")
CXX_FLAGS = (
    OPT, "-fomit-frame-pointer", "-std=c++17", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics",
    "-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-ffunction-sections", "-fdata-sections",
    "-fno-pic", "-fno-pie", "-fno-stack-protector",
    "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_STRIP_ERROR_STRINGS", "-DNDEBUG",
)
LIBC_FILE = "tflm_libc.cc"
MAIN_FILE = "main.cc"
MODEL_SYMBOL = "tflm_model_data"
ARENA_BYTES = 8 * 1024

# The C / C++ runtime pieces TFLM's objects refer to (the SoC has no libc). Compiled -ffreestanding
# (-fno-builtin: the loops below stay loops, not calls to themselves).
LIBC_CC = r"""// Minimal C/C++ runtime for TFLM on the freestanding VexRiscv SoC.
typedef __SIZE_TYPE__ size_t;
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __UINTPTR_TYPE__ uintptr_t;
typedef __builtin_va_list va_list;

extern "C" {
/* memcpy, memmove, memset and memcmp come from the SoC runtime (isaforge_rt.c) */
size_t strlen(const char *s) { size_t n = 0; while (s[n]) ++n; return n; }
int strncmp(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y) return x < y ? -1 : 1;
        if (!x) return 0;
    }
    return 0;
}
int strcmp(const char *a, const char *b) { return strncmp(a, b, (size_t)-1); }

static double d_from(uint64_t u) { union { uint64_t u; double d; } b; b.u = u; return b.d; }
static uint64_t d_bits(double d) { union { uint64_t u; double d; } b; b.d = d; return b.u; }
static float f_from(uint32_t u) { union { uint32_t u; float f; } b; b.u = u; return b.f; }
static uint32_t f_bits(float f) { union { uint32_t u; float f; } b; b.f = f; return b.u; }

/* round half away from zero, on the bits: add half an ulp of the integer part, clear the fraction */
double round(double x) {
    uint64_t u = d_bits(x), sign = u & 0x8000000000000000ull;
    int e = (int)((u >> 52) & 0x7ff) - 1023;
    if (e >= 52) return x;                                        /* integral, inf or nan */
    if (e < -1) return d_from(sign);                              /* |x| < 0.5 */
    if (e == -1) return d_from(sign | 0x3ff0000000000000ull);     /* 0.5 <= |x| < 1 */
    uint64_t frac = 0x000fffffffffffffull >> e;
    if ((u & frac) == 0) return x;
    u += 0x0008000000000000ull >> e;
    return d_from(u & ~frac);
}
float roundf(float x) {
    uint32_t u = f_bits(x), sign = u & 0x80000000u;
    int e = (int)((u >> 23) & 0xff) - 127;
    if (e >= 23) return x;
    if (e < -1) return f_from(sign);
    if (e == -1) return f_from(sign | 0x3f800000u);
    uint32_t frac = 0x007fffffu >> e;
    if ((u & frac) == 0) return x;
    u += 0x00400000u >> e;
    return f_from(u & ~frac);
}
/* x = m 2^e, 0.5 <= |m| < 1 */
double frexp(double x, int *e) {
    uint64_t u = d_bits(x);
    int ex = (int)((u >> 52) & 0x7ff);
    if (ex == 0) {
        if ((u << 1) == 0) { *e = 0; return x; }                  /* +-0 */
        x *= d_from(0x4350000000000000ull);                       /* subnormal: scale by 2^54 */
        double m = frexp(x, e);
        *e -= 54;
        return m;
    }
    if (ex == 0x7ff) { *e = 0; return x; }                        /* inf, nan */
    *e = ex - 1022;
    return d_from((u & 0x800fffffffffffffull) | 0x3fe0000000000000ull);
}

__attribute__((noreturn)) void abort(void) {
    *(volatile uint32_t *)0xF0000004u = 134u;                     /* the SoC's exit register */
    for (;;) {}
}
void __cxa_pure_virtual(void) { abort(); }
int __cxa_atexit(void (*)(void *), void *, void *) { return 0; }  /* nothing runs after main */
void *__dso_handle = 0;
void DebugLog(const char *, va_list) {}
int DebugVsnprintf(char *buffer, size_t n, const char *, va_list) { if (n) buffer[0] = 0; return 0; }
}

// TFLM never allocates (arena only), but virtual destructors refer to operator delete
void operator delete(void *) noexcept { abort(); }
void operator delete(void *, size_t) noexcept { abort(); }
"""


def ensure_tree(tree: SourceTree, mirror: Path | None, tflm: Path | None = None) -> Path:
    """The extracted tree of ``tree`` under the cache (see the module docstring for where it comes from)."""
    root = cache_dir("tflm_src")
    final = root / f"{tree.name}-{tree.commit}-{content_hash(*tree.paths, tree.patch or '')[:8]}"
    marker = final / ".complete"
    if marker.exists():
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{tree.name}-", dir=root))
    try:
        git_dir = mirror / tree.repo.replace("/", "+") / "repo" if mirror is not None else None
        if git_dir is None or not git_dir.exists():
            git_dir = tmp / ".scratch.git"
            _git(["init", "--bare", "-q", str(git_dir)])
            _git(["--git-dir", str(git_dir), "fetch", "-q", "--depth", "1",
                  f"https://github.com/{tree.repo}", tree.commit])
        archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "--format=tar", tree.commit,
                                  *tree.paths], capture_output=True)
        if archive.returncode != 0:
            raise ToolchainError(f"git archive {tree.repo}@{tree.commit} failed:\n{archive.stderr.decode()}")
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        shutil.rmtree(tmp / ".scratch.git", ignore_errors=True)
        if tree.patch is not None:
            proc = subprocess.run(["git", "apply", "-p1", str(tflm / tree.patch)], cwd=tmp, capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                raise ToolchainError(f"applying {tree.patch} to {tree.repo} failed:\n{proc.stderr.strip()}")
        (tmp / ".complete").write_text(tree.commit + "\n")
        publish_dir(tmp, final, marker)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _git(args: list[str]) -> None:
    proc = subprocess.run(["git", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"git {' '.join(args)} failed:\n{proc.stderr.strip()}")


def _zig() -> list[str]:
    return [sys.executable, "-m", "ziglang"]


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout).strip()}")


def build_library(trees: dict[str, Path], jobs: int = 2) -> Path:
    """Compile TFLM's sources (and tflm_libc.cc) to objects; return their folder (cached)."""
    tflm = trees[TFLM.name]
    includes = ["-I", str(tflm), "-I", str(trees[FLATBUFFERS.name] / "include"),
                "-I", str(trees[GEMMLOWP.name]), "-I", str(trees[RUY.name])]
    # the trees' folder names carry their commits, extracted paths and patch
    key = content_hash(Toolchain().key, *CXX_TARGET, *CXX_FLAGS, *(trees[t.name].name for t in TREES),
                       *TFLM_SOURCES, LIBC_CC)
    root = cache_dir("tflm_build")
    final = root / key
    done = final / ".complete"
    if done.exists():
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        (tmp / LIBC_FILE).write_text(LIBC_CC)
        jobs_list = [
            ([*_zig(), "c++", *CXX_TARGET, *CXX_FLAGS, *includes, "-c", str(tflm / src),
              "-o", str(tmp / (src.replace("/", "__") + ".o"))], f"zig c++ {src}")
            for src in TFLM_SOURCES
        ]
        jobs_list.append(([*_zig(), "c++", "-target", "riscv32-freestanding-none", "-mcpu=generic_rv32+m", OPT,
                           "-ffreestanding", "-fno-exceptions", "-fno-rtti", "-ffunction-sections",
                           "-fdata-sections", "-c", str(tmp / LIBC_FILE), "-o", str(tmp / "tflm_libc.o")],
                          f"zig c++ {LIBC_FILE}"))
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            for f in [ex.submit(_run, cmd, what) for cmd, what in jobs_list]:
                f.result()
        done_tmp = tmp / ".complete"
        done_tmp.write_text(key + "\n")
        publish_dir(tmp, final, done)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def model_bytes() -> tuple[bytes, object]:
    """The int8 sine model isaforge measures, as a .tflite flatbuffer, and its isaforge graph."""
    from frontend import from_tflite, quantize, to_tflite
    from frontend.zoo import sine_float_path

    g = quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    return to_tflite(g), g


def sine_inputs(g) -> np.ndarray:
    """benchmarks/models.py's sine inputs: 0.5, 1.5, 3.0 quantized with the model's input parameters."""
    from frontend.reference import quantize_np

    q = g.values[g.inputs[0]].quant
    return np.stack([quantize_np(np.array([[x]], np.float32), q) for x in (0.5, 1.5, 3.0)]).astype(np.int8)


def main_program(model: bytes, inputs: np.ndarray, arena_bytes: int = ARENA_BYTES) -> str:
    """main.cc: set up TFLM's interpreter, time AllocateTensors and every Invoke, print the outputs."""
    body = ",".join(str(b) for b in model)
    xs = ", ".join(str(int(v)) for v in inputs.reshape(-1))
    return "\n".join([
        "#include <cstdint>",
        '#include "tensorflow/lite/micro/micro_interpreter.h"',
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        '#include "tensorflow/lite/schema/schema_generated.h"',
        'extern "C" {',
        '#include "isaforge_rt.h"',
        "}",
        f'extern "C" const unsigned char {MODEL_SYMBOL}[{len(model)}];  // external: its name stays in the ELF',
        f"alignas(16) const unsigned char {MODEL_SYMBOL}[{len(model)}] = {{{body}}};",
        f"alignas(16) static uint8_t tflm_arena[{arena_bytes}];",
        f"static const int8_t inputs[{inputs.size}] = {{{xs}}};",
        "static void line(const char *tag, uint32_t a, uint32_t b) {",
        "    isaforge_puts(tag); isaforge_putchar(' '); isaforge_print_uint(a); isaforge_putchar(' ');",
        "    isaforge_print_uint(b); isaforge_putchar('\\n');",
        "}",
        "static int8_t once(tflite::MicroInterpreter &interp, int8_t x, const char *tag) {",
        "    interp.input(0)->data.int8[0] = x;",
        "    uint32_t c0 = isaforge_mcycle(), i0 = isaforge_minstret();",
        "    TfLiteStatus s = interp.Invoke();",
        "    uint32_t i1 = isaforge_minstret(), c1 = isaforge_mcycle();",
        "    if (s != kTfLiteOk) isaforge_exit(3);",
        "    line(tag, c1 - c0, i1 - i0);",
        "    return interp.output(0)->data.int8[0];",
        "}",
        "int main() {",
        f"    const tflite::Model *model = tflite::GetModel({MODEL_SYMBOL});",
        "    if (model->version() != TFLITE_SCHEMA_VERSION) return 2;",
        "    tflite::MicroMutableOpResolver<1> resolver;",
        "    if (resolver.AddFullyConnected() != kTfLiteOk) return 4;",
        f"    tflite::MicroInterpreter interp(model, resolver, tflm_arena, {arena_bytes});",
        "    uint32_t c0 = isaforge_mcycle(), i0 = isaforge_minstret();",
        "    TfLiteStatus s = interp.AllocateTensors();",
        "    uint32_t i1 = isaforge_minstret(), c1 = isaforge_mcycle();",
        "    if (s != kTfLiteOk) return 5;",
        "    line(\"setup\", c1 - c0, i1 - i0);",
        "    line(\"arena\", (uint32_t)interp.arena_used_bytes(), 0);",
        "    once(interp, inputs[0], \"cold\");",
        "    once(interp, inputs[0], \"warm\");",
        f"    for (int b = 0; b < {inputs.size}; ++b) {{",
        "        int8_t y = once(interp, inputs[b], \"input\");",
        "        line(\"out\", (uint32_t)(int32_t)y, 0);",
        "    }",
        "    for (int x = -128; x < 128; ++x) {  // every int8 input, for the check",
        "        interp.input(0)->data.int8[0] = (int8_t)x;",
        "        if (interp.Invoke() != kTfLiteOk) return 6;",
        "        line(\"all\", (uint32_t)x, (uint32_t)(int32_t)interp.output(0)->data.int8[0]);",
        "    }",
        "    return 0;",
        "}",
        "",
    ])


def link_program(lib: Path, trees: dict[str, Path], main_cc: str, ram_kib: int) -> Path:
    """Compile main.cc, link it with TFLM's objects and the SoC runtime; return the ELF (cached)."""
    tflm = trees[TFLM.name]
    rt = runtime_sources()
    script = link_script_text(ram_kib=ram_kib)
    key = content_hash(lib.name, main_cc, script, *(f"{n}\0{t}" for n, t in sorted(rt.items())))
    root = cache_dir("tflm_elf")
    final = root / key
    elf = final / "prog.elf"
    if elf.exists():
        return elf
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        for name, text in rt.items():
            (tmp / name).write_text(text)
        (tmp / MAIN_FILE).write_text(main_cc)
        (tmp / "link.ld").write_text(script)
        includes = ["-I", str(tmp), "-I", str(tflm), "-I", str(trees[FLATBUFFERS.name] / "include"),
                    "-I", str(trees[GEMMLOWP.name]), "-I", str(trees[RUY.name])]
        _run([*_zig(), "c++", *CXX_TARGET, *CXX_FLAGS, *includes, "-c", str(tmp / MAIN_FILE),
              "-o", str(tmp / "main.o")], f"zig c++ {MAIN_FILE}")
        objs = sorted(str(p) for p in lib.glob("*.o"))
        cmd = [*Toolchain().command(), "-I", str(tmp), "-T", str(tmp / "link.ld"), "-Wl,--gc-sections",
               "-o", str(tmp / "prog.elf"),
               str(tmp / "crt0.S"), str(tmp / "isaforge_rt.c"), str(tmp / "main.o"), *objs]
        _run(cmd, "link")
        publish_dir(tmp, final, elf)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return elf


# main.cc's own symbols (everything else main.o defines is TFLM's header code instantiated there)
MAIN_OWN = ("main", "tflm_arena", "inputs", "line", "once")


def _defined(obj: Path) -> set[str]:
    """Names of the global / weak symbols an object defines."""
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name for s in symtab.iter_symbols() if s["st_info"]["bind"] != "STB_LOCAL"
                and s["st_shndx"] != "SHN_UNDEF" and s.name}


def footprint(elf: Path, lib: Path) -> dict[str, dict[str, int]]:
    """Bytes by part (tflm, model, main, libc, rt, runtime) and kind (text, rodata, data, bss).

    zig's linker writes no map, so: every sized symbol of the ELF is given to the object that defines
    it (globals by name against each object's symbol table, locals by the STT_FILE before them);
    ``tflm`` is then the image's allocated sections minus all other parts, so that TFLM's unnamed
    data (jump tables, constants) and the alignment padding between its functions count as TFLM's.
    """
    from simulator.symbols import allocated_bytes, sized_symbols

    kinds = ("text", "rodata", "data", "bss")
    parts = {p: dict.fromkeys(kinds, 0) for p in ("tflm", "model", "main", "libc", "rt", "runtime")}
    libc = _defined(lib / "tflm_libc.o")
    tflm_names = set()
    for obj in lib.glob("tensorflow__*.o"):
        tflm_names |= _defined(obj)
    total = allocated_bytes(elf)
    seen = set()
    for sym in sized_symbols(elf):
        if (sym.shndx, sym.address) in seen:  # aliases (compiler_rt names one routine twice)
            continue
        seen.add((sym.shndx, sym.address))
        name, current = sym.name, sym.file
        if name == MODEL_SYMBOL:
            part = "model"
        elif sym.local:
            if current in ("crt0.S", "isaforge_rt.c"):
                part = "runtime"
            elif current == MAIN_FILE:
                part = "main" if any(name == n or name.startswith(f"_ZL{len(n)}{n}") for n in MAIN_OWN) \
                    else "tflm"
            elif current == LIBC_FILE:
                part = "libc"
            elif current is not None and current.endswith(".cc"):
                part = "tflm"
            else:
                part = "rt"
        elif name in libc:
            part = "libc"
        elif name == "main":
            part = "main"
        elif name.startswith("isaforge_"):
            part = "runtime"
        elif name in tflm_names or name.startswith("_Z"):  # incl. TFLM templates only main.o instantiates
            part = "tflm"
        else:
            part = "rt"
        if part != "tflm":
            parts[part][sym.kind] += sym.size
    for k in kinds:
        parts["tflm"][k] = total[k] - sum(parts[p][k] for p in parts if p != "tflm")
    return parts


@dataclass
class TflmRun:
    cycles: int
    cold_cycles: int
    instret: int
    setup_cycles: int
    arena: int
    input_cycles: list[int]
    outputs: np.ndarray
    reference: np.ndarray
    inputs: np.ndarray
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)
    mismatches: int = 0  # of the 256 int8 inputs, how many outputs differ from isaforge's reference

    @property
    def ok(self) -> bool:
        return np.array_equal(self.outputs, self.reference) and self.mismatches == 0


def run_peer(mirror: Path | None, ram_kib: int, jobs: int) -> TflmRun:
    """Fetch/locate the sources, build, run on the SoC and check against isaforge's reference."""
    trees: dict[str, Path] = {}
    for t in TREES:  # TFLM first: it holds the flatbuffers patch
        trees[t.name] = ensure_tree(t, mirror, trees.get(TFLM.name))
    lib = build_library(trees, jobs)
    model, g = model_bytes()
    xs = sine_inputs(g)
    elf = link_program(lib, trees, main_program(model, xs), ram_kib)
    run = run_elf(elf, ram_kib=ram_kib)
    if run.exit_code != 0:
        raise RuntimeError(f"TFLM program: exit code {run.exit_code}; console:\n{run.console}")
    counts, per_input, outs, every = {}, [], [], {}
    for ln in run.console.splitlines():
        tag, a, b = ln.split()
        if tag == "all":
            every[np.array([int(a)], np.uint32).astype(np.int32).astype(np.int8)[0]] = \
                np.array([int(b)], np.uint32).astype(np.int32).astype(np.int8)[0]
        elif tag == "input":
            per_input.append(int(a))
        elif tag == "out":
            outs.append(np.array([int(a)], np.uint32).astype(np.int32).astype(np.int8)[0])
        else:
            counts[tag] = (int(a), int(b))
    if len(outs) != len(xs) or len(every) != 256 or set(counts) != {"setup", "arena", "cold", "warm"}:
        raise RuntimeError(f"unexpected console output:\n{run.console}")
    ref = np.stack([np.asarray(g.evaluate(x)[0]).reshape(-1) for x in xs]).astype(np.int8)
    all_x = np.arange(-128, 128, dtype=np.int8)
    all_ref = np.array([np.asarray(g.evaluate(np.array([[x]], np.int8))[0]).reshape(-1)[0] for x in all_x], np.int8)
    mismatches = int(np.sum(np.array([every[x] for x in all_x], np.int8) != all_ref))
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        secs = [s.name for s in ELFFile(f).iter_sections() if s["sh_flags"] & 2 and s["sh_size"]]
    if any(n.startswith((".init_array", ".ctors")) for n in secs):
        # the SoC's crt0 runs no static constructors: such a program would not be what TFLM means
        raise RuntimeError(f"the TFLM program has static constructors ({secs}); crt0 does not run them")
    return TflmRun(cycles=counts["warm"][0], cold_cycles=counts["cold"][0], instret=counts["warm"][1],
                   setup_cycles=counts["setup"][0], arena=counts["arena"][0], input_cycles=per_input,
                   outputs=np.array(outs, np.int8).reshape(-1, 1), reference=ref.reshape(-1, 1), inputs=xs,
                   sizes=footprint(elf, lib), sections=secs, mismatches=mismatches)


def table(r: TflmRun) -> str:
    s = r.sizes
    head = (f"{'model':5} {'cycles':>8} {'cold':>8} {'instret':>8} {'setup':>8} {'.text':>6} {'.rodata':>7} "
            f"{'.data':>6} {'model':>6} {'arena':>6} {'main':>5} {'libc':>5} {'rt':>6}  check")
    t = s["tflm"]
    check = (f"= isaforge g.evaluate on all 256 int8 inputs ({r.mismatches} differ) "
             + ("ok" if r.ok else "FAIL"))
    row = (f"{'sine':5} {r.cycles:>8,} {r.cold_cycles:>8,} {r.instret:>8,} {r.setup_cycles:>8,} {t['text']:>6} "
           f"{t['rodata']:>7} {t['data'] + t['bss']:>6} {sum(s['model'].values()):>6} {r.arena:>6} "
           f"{s['main']['text']:>5} {s['libc']['text'] + s['libc']['rodata']:>5} "
           f"{s['rt']['text'] + s['rt']['rodata']:>6}  {check}")
    return "\n".join([
        head, row, "",
        "cycles / instret: warm Invoke() (the first input, second call); cold: the first Invoke() after",
        "  AllocateTensors(); setup: AllocateTensors(); per input: " + ", ".join(f"{c:,}" for c in r.input_cycles),
        "  .text / .rodata / .data(+bss): TFLM after --gc-sections (interpreter, allocator, planners,",
        "  flatbuffer parsing, FULLY_CONNECTED reference kernel, the op resolver main.cc instantiates):",
        "  the image minus the other parts' symbols (so TFLM's unnamed constants and padding count);",
        "  model: the embedded .tflite flatbuffer; arena: arena_used_bytes(); main: main.cc's own .text",
        "  (the interpreter's and resolver's inline constructors it inlines count there); libc: tflm_libc.cc",
        "  (.text+.rodata); rt: zig compiler_rt (soft double for Prepare's multipliers, .text+.rodata).",
        "",
        "isaforge on the same model and SoC (benchmarks/results/models.txt): 3,217 cycles without",
        "  extensions, 814 with dot4_i8 + requant_i8; model unit 1,804 B .text + 512 B .rodata.",
        "",
        f"inputs (int8) {r.inputs.ravel().tolist()}",
        f"  tflm     {r.outputs.ravel().tolist()}",
        f"  isaforge {r.reference.ravel().tolist()}",
    ])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=None,
                    help="folder of bare git mirrors <owner>+<name>/repo (default: fetch from GitHub)")
    ap.add_argument("--ram-kib", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)
    r = run_peer(args.mirror, args.ram_kib, args.jobs)
    mirror = f" --mirror {args.mirror}" if args.mirror else ""
    text = (f"TFLM {TFLM.commit[:12]} reference kernels, zig c++ {OPT} rv32im, simulated VexRiscv SoC "
            f"({args.ram_kib} KiB)\ncommand: .venv/bin/python benchmarks/peers_tflm.py{mirror}\n\n" + table(r))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if r.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
