"""The split-build SoC: the CPU verilated and compiled once, each CFU verilated on its own and linked to it.

The monolithic SoC (:func:`simulator.vexriscv.build_soc` with ``split=False``) verilates VexRiscv_FullCfu,
the CFU and the harness as one model, so every new unit pays the whole C++ compile of the CPU. Here the
CPU (``harness/isaforge_cpu_top.v``: VexRiscv_FullCfu with its CFU port as top-level ports) is verilated
with the prefix ``Visaforge_cpu_top`` and compiled, with the SoC harness (``harness/soc_main.cpp``, the
same file as the monolithic build's) and the port glue (``harness/split/soc_split.cpp``), into objects that
are cached by the content hash of everything that goes into them. A unit is verilated as top ``Cfu``
with the prefix ``Visaforge_cfu`` (so both models link into one binary), compiled with its small glue
(``harness/split/cfu_glue.cpp``) and linked against those objects. How the two models are evaluated so
that every cycle is the monolithic model's: ``harness/split/soc_split.cpp``.

API
---
``build_split_soc(cfu_verilog_text, *, plain_eval=False) -> SplitSoc``
    The cached executable for this CFU text (same command line and output as the monolithic one).
    ``plain_eval``: the reference evaluation (Verilator's eval() on both edges, the port iterated until
    stable before and after each edge); a separate CPU build.

``cpu_build(*, plain_eval=False) -> tuple[Path, bool]``
    The cached CPU objects' folder, and whether this call built it.

``SPLIT_STATS``: :class:`SplitBuildStats`, counts of CPU and unit builds and cache hits in this process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import SimulationError
from toolchain.cache import cached_build, content_hash
from toolchain.errors import VerilatorBuildError
from toolchain.verilator import BASE_FLAGS, child_env, global_objects, verilator_bin, verilator_version

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
SPLIT_DIR = HARNESS_DIR / "split"
CPU_TOP = "isaforge_cpu_top"
CPU_PREFIX = "Visaforge_cpu_top"
CFU_TOP = "Cfu"
CFU_PREFIX = "Visaforge_cfu"
EXE_NAME = "Visaforge_soc_top"
CPU_KIND = "vexriscv_cpu"  # cache folder of the CPU objects
SPLIT_KIND = "vexriscv_split"  # cache folder of the linked executables
_MANIFEST = "objects.txt"  # the CPU objects in link order (its presence marks a finished CPU build)
# the split side's C++ (part of both cache keys): the facade the harness sees, and the port's pins
_SPLIT_HEADERS = ("Visaforge_soc_top.h", "Visaforge_soc_top___024root.h", "isaforge_split.h")


@dataclass
class SplitBuildStats:
    """What the split builder did in this process (cache hits are builds it did not have to do)."""

    cpu_builds: int = 0
    cpu_hits: int = 0
    cfu_builds: int = 0
    cfu_hits: int = 0


SPLIT_STATS = SplitBuildStats()


@dataclass(frozen=True)
class SplitSoc:
    """A linked split-build SoC: the executable, the CPU objects it was linked from, and what was built."""

    exe: Path
    cpu_dir: Path
    cpu_built: bool  # this call compiled the CPU (else: the cached objects were reused)
    cfu_built: bool  # this call verilated, compiled and linked the unit (else: the executable was cached)


def _flags(extra: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The Verilator arguments (without ``--build``: make is run here, for chosen targets only) and the
    make variables (the ``-MAKEFLAGS`` items, the last of each name winning as on make's command line)."""
    args = list(BASE_FLAGS) + list(extra)
    vflags: list[str] = []
    make: dict[str, str] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-MAKEFLAGS":
            name, _, value = args[i + 1].partition("=")
            make[name] = value
            i += 2
            continue
        if a != "--build":
            vflags.append(a)
        i += 1
    return vflags, make


def _run(cmd: list[str], cwd: Path, log: list[str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.append("$ " + " ".join(cmd) + "\n" + proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise VerilatorBuildError(f"split SoC build: {what} failed (exit {proc.returncode}):\n{tail}")


def _verilate_and_make(tmp: Path, top: str, prefix: str, vsrc: dict[str, str], cpp: dict[str, str],
                       headers: dict[str, str], extra: tuple[str, ...], steps, log: list[str]) -> Path:
    """Verilate ``vsrc`` (top ``top``, class prefix ``prefix``) with the C++ files ``cpp``, then run make
    once per list of targets ``steps(obj_dir)`` returns, in the object folder, which is returned."""
    src = tmp / "src"
    src.mkdir()
    for name, text in {**vsrc, **cpp, **headers}.items():
        (src / name).write_text(text)
    obj = tmp / "obj_dir"
    vflags, make = _flags(extra)
    _run([str(verilator_bin()), *vflags, "--top-module", top, "--prefix", prefix, "--Mdir", str(obj),
          "-CFLAGS", f"-I{src}", *[str(src / n) for n in vsrc], *[str(src / n) for n in cpp]], tmp, log,
         f"verilating {top}")
    jobs = str(max(1, os.cpu_count() or 1))
    for targets in steps(obj):
        _run(["make", "-j", jobs, "-C", str(obj), "-f", f"{prefix}.mk", *[f"{k}={v}" for k, v in make.items()],
              *targets], tmp, log, f"compiling {top}")
    return obj


def _src_dir(obj: Path) -> Path:
    """The sources' folder next to a build's object folder."""
    return obj.parent / "src"


def _mode_flags(plain_eval: bool) -> tuple[str, ...]:
    from simulator.vexriscv import SOC_CXX_FLAGS

    return SOC_CXX_FLAGS + ("-CFLAGS", "-DISAFORGE_PLAIN_EVAL" if plain_eval else "-DISAFORGE_POSEDGE_ONLY")


def _split_headers() -> dict[str, str]:
    return {n: (SPLIT_DIR / n).read_text() for n in _SPLIT_HEADERS}


def _cpu_inputs(plain_eval: bool):
    from simulator.vexriscv import _cpu_verilog, posedge_only

    vsrc = {"VexRiscv_FullCfu.v": _cpu_verilog(),
            "isaforge_cpu_top.v": (HARNESS_DIR / "isaforge_cpu_top.v").read_text()}
    if not posedge_only(vsrc.values()):  # the CPU side always skips its falling edge (soc_split.cpp)
        raise SimulationError("the split-build SoC needs a CPU with rising-edge logic only")
    cpp = {"soc_main.cpp": (HARNESS_DIR / "soc_main.cpp").read_text(),
           "soc_split.cpp": (SPLIT_DIR / "soc_split.cpp").read_text()}
    flags = _mode_flags(plain_eval)
    key = content_hash("split-cpu", CPU_TOP, CPU_PREFIX, verilator_version(), "\0".join(BASE_FLAGS + flags),
                       *[x for kv in sorted({**vsrc, **cpp, **_split_headers()}.items()) for x in kv])
    return vsrc, cpp, flags, key


def cpu_build(*, plain_eval: bool = False) -> tuple[Path, bool]:
    """The folder of the cached CPU objects (built now if missing) and whether this call built it."""
    vsrc, cpp, flags, key = _cpu_inputs(plain_eval)

    def build(tmp: Path) -> None:
        log: list[str] = []
        try:
            obj = _verilate_and_make(
                tmp, CPU_TOP, CPU_PREFIX, vsrc, cpp, _split_headers(), ("--exe", *flags),
                lambda o: [[f"{CPU_PREFIX}__ALL.a", "soc_main.o", "soc_split.o", *global_objects(o, CPU_PREFIX)]],
                log)
        finally:
            (tmp / "build.log").write_text("\n".join(log))
        objects = ["soc_main.o", "soc_split.o", f"{CPU_PREFIX}__ALL.a", *global_objects(obj, CPU_PREFIX)]
        for name in objects:
            shutil.move(str(obj / name), str(tmp / name))
        shutil.rmtree(obj, ignore_errors=True)
        (tmp / _MANIFEST).write_text("\n".join(objects) + "\n")

    manifest, built = cached_build(CPU_KIND, key, _MANIFEST, build)
    if built:
        SPLIT_STATS.cpu_builds += 1
    else:
        SPLIT_STATS.cpu_hits += 1
    return manifest.parent, built


def build_split_soc(cfu_verilog_text: str, *, plain_eval: bool = False) -> SplitSoc:
    """The split-build SoC executable for this CFU (Verilog text defining ``module Cfu``); see the module
    docstring."""
    from simulator.vexriscv import posedge_only

    cpu_dir, cpu_built = cpu_build(plain_eval=plain_eval)
    flags = _mode_flags(plain_eval)
    if posedge_only([cfu_verilog_text]):
        flags += ("-CFLAGS", "-DISAFORGE_CFU_POSEDGE_ONLY")
    glue = (SPLIT_DIR / "cfu_glue.cpp").read_text()
    key = content_hash("split-soc-1tu", cpu_dir.name, CFU_PREFIX, verilator_version(), "\0".join(BASE_FLAGS + flags),
                       cfu_verilog_text, glue, *[x for kv in sorted(_split_headers().items()) for x in kv])
    cpu_objects = [str(cpu_dir / n) for n in (cpu_dir / _MANIFEST).read_text().split()]

    unit_objects: list[str] = []

    def steps(obj: Path) -> list[list[str]]:
        # A small model is one translation unit (Verilator's __ALL.cpp): the glue includes it, so the unit
        # is one compile (one parse of verilated.h) instead of two; a model split into several files is
        # archived as usual and the glue compiled on its own.
        one = f"{CFU_PREFIX}__ALL.cpp"
        if "VM_PARALLEL_BUILDS = 0" in (obj / f"{CFU_PREFIX}.mk").read_text():
            (_src_dir(obj) / "cfu_unit.cpp").write_text(f'#include "{one}"\n#include "cfu_glue.cpp"\n')
            unit_objects[:] = [str(obj / "cfu_unit.o")]
            return [[one], ["cfu_unit.o"]]
        (_src_dir(obj) / "cfu_unit.cpp").write_text('#include "cfu_glue.cpp"\n')
        unit_objects[:] = [str(obj / "cfu_unit.o"), str(obj / f"{CFU_PREFIX}__ALL.a")]
        return [[f"{CFU_PREFIX}__ALL.a", "cfu_unit.o"]]

    def build(tmp: Path) -> None:
        log: list[str] = []
        try:
            obj = _verilate_and_make(tmp, CFU_TOP, CFU_PREFIX, {"isaforge_cfu.v": cfu_verilog_text},
                                     {"cfu_unit.cpp": ""}, {**_split_headers(), "cfu_glue.cpp": glue},
                                     ("--exe", *flags), steps, log)
            # the harness's objects first, then the unit's, then the CPU model and the run-time
            objs = cpu_objects[:2] + unit_objects + cpu_objects[2:]
            _run([os.environ.get("CXX", "c++"), *objs, "-o", str(tmp / EXE_NAME)], tmp, log, "linking the SoC")
        finally:
            (tmp / "build.log").write_text("\n".join(log))
        shutil.rmtree(obj, ignore_errors=True)
        (tmp / "cpu.txt").write_text(str(cpu_dir) + "\n")

    exe, built = cached_build(SPLIT_KIND, key, EXE_NAME, build)
    if built:
        SPLIT_STATS.cfu_builds += 1
    else:
        SPLIT_STATS.cfu_hits += 1
    return SplitSoc(exe, cpu_dir, cpu_built, built)


__all__ = ["CPU_KIND", "SPLIT_KIND", "SPLIT_STATS", "SplitBuildStats", "SplitSoc", "build_split_soc", "cpu_build"]
