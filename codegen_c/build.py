"""Compile emitted C into a host shared library and call it with numpy arrays."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tir import dtype as dt
from tir.cache import cache_dir, content_hash
from tir.errors import ArgumentError, CodegenError
from tir.stmt import PrimFunc

from .emit import c_function_name, canonical_target, emit

HOST_CFLAGS = ("-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror", "-ffreestanding")


def host_cc() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise CodegenError("no host C compiler found (set CC or install cc)")
    return cc


def compile_shared(source: str, extra_flags: tuple[str, ...] = (), link: tuple[str, ...] = (),
                   kind: str = "host-modules") -> Path:
    """Compile C source into a shared library cached by the hash of source, flags and libraries."""
    cc = host_cc()
    flags = HOST_CFLAGS + tuple(extra_flags)
    key = content_hash(source, cc, " ".join(flags), *[str(x) for x in link])
    out = cache_dir(kind) / f"{key}.so"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        src = Path(tmp) / "kernel.c"
        src.write_text(source)
        tmp_out = Path(tmp) / "kernel.so"
        cmd = [cc, *flags, str(src), "-o", str(tmp_out), *link]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise CodegenError(f"C compilation failed ({' '.join(cmd[:2])} ...):\n{r.stderr[-4000:]}")
        os.replace(tmp_out, out)
    return out


class Module:
    """A compiled kernel: ``mod(*arrays)`` runs it, writing outputs into the arrays in place."""

    def __init__(self, func: PrimFunc, source: str, lib_path: Path, target: str):
        self.func, self.source, self.lib_path, self.target = func, source, lib_path, target
        self._lib = ctypes.CDLL(str(lib_path))
        self._fn = getattr(self._lib, c_function_name(func))
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p] * len(func.args)

    def check_args(self, arrays) -> None:
        check_arrays(self.func, arrays)

    def __call__(self, *arrays: np.ndarray) -> None:
        self.check_args(arrays)
        self._fn(*[a.ctypes.data for a in arrays])

    def get_source(self) -> str:
        return self.source


def check_arrays(func: PrimFunc, arrays) -> None:
    """Raise ArgumentError unless ``arrays`` match the kernel's buffers in count, shape and dtype."""
    if len(arrays) != len(func.args):
        raise ArgumentError(f"kernel {func.name!r} takes {len(func.args)} arrays "
                            f"({', '.join(b.name for b in func.args)}), got {len(arrays)}")
    for b, a in zip(func.args, arrays):
        if not isinstance(a, np.ndarray):
            raise ArgumentError(f"argument {b.name!r}: expected a numpy array, got {type(a).__name__}")
        want = dt.numpy_dtype(b.dtype)
        if a.dtype != want:
            raise ArgumentError(f"argument {b.name!r}: dtype {a.dtype} but the kernel expects {want}")
        if tuple(a.shape) != tuple(b.shape):
            raise ArgumentError(f"argument {b.name!r}: shape {tuple(a.shape)} but the kernel expects "
                                f"{tuple(b.shape)}")
        if not a.flags.c_contiguous:
            raise ArgumentError(f"argument {b.name!r}: array must be C-contiguous")
        if not a.flags.writeable:
            raise ArgumentError(f"argument {b.name!r}: array must be writeable")


def build(func: PrimFunc, target: str = "host") -> Module:
    """Emit and compile ``func`` for a host-side target (``host`` or ``verilator``).

    For ``vexriscv`` use ``simulator.run``, which cross-compiles and simulates the SoC.
    """
    t = canonical_target(target)
    if t == "rv32im":
        raise CodegenError(f"target {target!r} does not run on the host; use simulator.run(func, arrays)")
    source = emit(func, t)
    extra: tuple[str, ...] = ()
    link: tuple[str, ...] = ()
    if any(st == "parallel" for st in _loop_kinds(func)):
        extra += ("-fopenmp",)
    if t == "verilator":
        libs = _cosim_libraries(func)
        link = tuple(str(p) for p in libs) + tuple(f"-Wl,-rpath,{Path(p).parent}" for p in libs)
    path = compile_shared(source, extra, link)
    return Module(func, source, path, t)


def _loop_kinds(func: PrimFunc):
    from tir.printer import iter_stmts
    from tir.stmt import For

    for s in iter_stmts(func.body):
        if isinstance(s, For):
            yield s.kind


def _cosim_libraries(func: PrimFunc) -> list[Path]:
    """The verilated-RTL library the 'verilator' target links against (from the extensions)."""
    if not func.extensions:
        return []
    exts = list(func.extensions)
    return [exts[0].cosim_library(exts)]
