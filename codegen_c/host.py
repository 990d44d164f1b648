"""The host-side targets: C compiled into a shared library of this machine and called through ctypes.

:class:`HostTarget` (``"host"``) runs each intrinsic's C model; :class:`VerilatorTarget`
(``"verilator"``) links the verilated RTL of the kernel's extensions and routes every intrinsic call
into it. Both have threads (a ``parallel`` loop is an OpenMP loop).
"""

from __future__ import annotations

import os
from pathlib import Path

from tir.printer import iter_stmts
from tir.stmt import For, PrimFunc

from .build import HOST_CFLAGS, Module, compile_shared_flags
from .emit import emit
from .target import Target, register_target


class HostTarget(Target):
    """This machine, with the C models of the intrinsics. A subclass may change ``cflags``."""

    name = "host"
    word_bits = 64
    has_threads = True
    intrinsic_abi = "host"
    runs_on_host = True
    #: the host compiler's flags (the build adds -fopenmp for parallel loops)
    cflags: tuple[str, ...] = HOST_CFLAGS

    def build_options(self, func: PrimFunc) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(compiler flags, link arguments) of ``func``'s shared library."""
        flags = self.cflags
        if any(isinstance(s, For) and s.kind == "parallel" for s in iter_stmts(func.body)):
            flags += ("-fopenmp",)
        return flags, ()

    def compile(self, source: str, flags: tuple[str, ...], link: tuple[str, ...]) -> Path:
        """The shared library of ``source`` (cached by the hash of source, flags and link arguments)."""
        return compile_shared_flags(source, flags, link)

    def build(self, func: PrimFunc) -> Module:
        source = emit(func, self)
        flags, link = self.build_options(func)
        return Module(func, source, self.compile(source, flags, link), self)


class VerilatorTarget(HostTarget):
    """The host, with every intrinsic call executed by the verilated RTL of the kernel's extensions."""

    name = "verilator"
    intrinsic_abi = "verilator"

    def build_options(self, func: PrimFunc) -> tuple[tuple[str, ...], tuple[str, ...]]:
        flags, link = super().build_options(func)
        if func.extensions:
            exts = list(func.extensions)
            lib = exts[0].cosim_library(exts)  # a cached build of the verilated RTL
            link += (str(lib), f"-Wl,-rpath,{os.path.dirname(str(lib))}")
        return flags, link


HOST = register_target(HostTarget())
VERILATOR = register_target(VerilatorTarget())

__all__ = ["HOST", "HostTarget", "VERILATOR", "VerilatorTarget"]
