"""Compile emitted C into a host shared library and call it with numpy arrays."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from tir import dtype as dt
from tir.errors import ArgumentError, CodegenError
from tir.stmt import PrimFunc
from toolchain import host as _host
from toolchain.errors import HostCompileError

from .emit import c_function_name
from .target import Target, get_target

# -Wno-sign-compare: the IR compares only operands of one dtype, so a mixed-sign C comparison comes
# from the integer promotion of narrow values, which the emitter wraps back to their dtype first; gcc
# still flags some of them (it reads `(uint8_t)(255 - x) == y` as a promoted `~x`, a false positive)
HOST_CFLAGS = ("-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror", "-Wno-sign-compare",
               "-ffreestanding")


def host_cc() -> str:
    """The host C compiler (:func:`toolchain.host.host_cc`); a missing one is a CodegenError."""
    try:
        return _host.host_cc()
    except HostCompileError as exc:
        raise CodegenError(str(exc)) from exc


def compile_shared(source: str, extra_flags: tuple[str, ...] = (), link: tuple[str, ...] = (),
                   kind: str = "host-modules") -> Path:
    """Compile C source into a shared library cached by the hash of source, flags and libraries.

    The flags are :data:`HOST_CFLAGS` plus ``extra_flags``; a failed compile is a CodegenError (the
    generated C did not build) whose cause is the toolchain's HostCompileError.
    """
    return compile_shared_flags(source, HOST_CFLAGS + tuple(extra_flags), link, kind)


def compile_shared_flags(source: str, flags: tuple[str, ...], link: tuple[str, ...] = (),
                         kind: str = "host-modules") -> Path:
    """:func:`compile_shared` with exactly ``flags`` (no :data:`HOST_CFLAGS` added)."""
    try:
        return _host.compile_shared_with(source, tuple(flags), tuple(link), kind)
    except HostCompileError as exc:
        raise CodegenError(str(exc)) from exc


class Module:
    """A compiled kernel: ``mod(*arrays)`` runs it, writing outputs into the arrays in place.
    ``target`` is the name of the target it was built for."""

    def __init__(self, func: PrimFunc, source: str, lib_path: Path, target: Target | str):
        self.func, self.source, self.lib_path = func, source, lib_path
        self.target = get_target(target).name
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


# Sizes of the C types tir.dtype.c_type spells, on every target isaforge emits for (ILP32 rv32 and
# LP64 hosts agree on all of them): what one element of a kernel's pointer argument occupies.
C_TYPE_BYTES = {
    "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
    "int64_t": 8, "uint64_t": 8, "float": 4, "double": 8, "_Bool": 1, "bool": 1,
}


def c_elem_bytes(dtype: str) -> int:
    """Bytes of one element of a ``dtype`` buffer as the emitted C declares it (``tir.dtype.c_type``)."""
    ctype = dt.c_type(dtype)
    if ctype not in C_TYPE_BYTES:
        raise CodegenError(f"no size known for the C type {ctype!r} of dtype {dtype!r}")
    return C_TYPE_BYTES[ctype]


def check_arrays(func: PrimFunc, arrays) -> None:
    """Raise ArgumentError unless ``arrays`` can be passed to the compiled kernel as they are.

    Checked, before any C runs: the count; each argument is a numpy array of the kernel's dtype and
    shape, C-contiguous, with elements exactly as wide as the C type the kernel's pointer has (so no
    access can run past the array); the arguments the kernel writes are writeable (read-only inputs
    are fine); and no written argument shares memory with any other argument (the C parameters are
    ``restrict``: an in-place call would read data the kernel already overwrote). Two inputs may
    alias, since neither is written.
    """
    names = ", ".join(repr(b.name) for b in func.args)
    if not isinstance(arrays, (list, tuple)):
        raise ArgumentError(f"kernel {func.name!r}: arrays must be a list or tuple of numpy arrays ({names}), "
                            f"got {type(arrays).__name__}")
    if len(arrays) != len(func.args):
        if len(arrays) < len(func.args):
            what = "missing " + ", ".join(repr(b.name) for b in func.args[len(arrays):])
        else:
            what = f"{len(arrays) - len(func.args)} more than its parameters"
        raise ArgumentError(f"kernel {func.name!r} takes {len(func.args)} arrays ({names}), got {len(arrays)}: "
                            f"{what}")
    written = set(func.output_indices())
    for i, (b, a) in enumerate(zip(func.args, arrays)):
        if not isinstance(a, np.ndarray):
            raise ArgumentError(f"argument {b.name!r}: expected a numpy array, got {type(a).__name__}")
        want = dt.numpy_dtype(b.dtype)
        if a.dtype != want:
            raise ArgumentError(f"argument {b.name!r}: dtype {a.dtype} but the kernel expects {want}")
        if tuple(a.shape) != tuple(b.shape):
            raise ArgumentError(f"argument {b.name!r}: shape {tuple(a.shape)} but the kernel expects "
                                f"{tuple(b.shape)}")
        if not a.flags.c_contiguous:
            raise ArgumentError(f"argument {b.name!r}: array must be C-contiguous (use np.ascontiguousarray)")
        ctype, width = dt.c_type(b.dtype), c_elem_bytes(b.dtype)
        if a.itemsize != width:
            raise ArgumentError(f"argument {b.name!r}: {a.dtype} elements are {a.itemsize} bytes but the kernel "
                                f"accesses them as {ctype} ({width} bytes); it would read or write past the array")
        if i in written and not a.flags.writeable:
            raise ArgumentError(f"argument {b.name!r}: the kernel writes it but the array is read-only (not writeable)")
    spans = [_byte_span(a) for a in arrays]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            if (i in written or j in written) and _overlap(spans[i], spans[j]):
                w = func.args[i if i in written else j].name
                raise ArgumentError(
                    f"arguments {func.args[i].name!r} and {func.args[j].name!r} share memory but the kernel "
                    f"writes {w!r} (its C parameters are restrict); pass a separate output array")


def _byte_span(a: np.ndarray) -> tuple[int, int]:
    """The bytes ``[start, end)`` a C-contiguous array occupies (exact: it has no gaps)."""
    start = a.__array_interface__["data"][0]
    return start, start + a.nbytes


def _overlap(x: tuple[int, int], y: tuple[int, int]) -> bool:
    return x[0] < y[1] and y[0] < x[1]


def build(func: PrimFunc, target: Target | str = "host") -> Module:
    """Emit and compile ``func`` for a host-side target (``host``, ``verilator`` or a Target whose
    ``runs_on_host`` is true): ``get_target(target).build(func)``.

    For ``vexriscv`` use ``simulator.run``, which cross-compiles and simulates the SoC.
    """
    return get_target(target).build(func)
