"""Loop IR -> freestanding C99 for the host and rv32 targets; host build with ctypes."""

from .build import C_TYPE_BYTES, Module, build, c_elem_bytes, check_arrays, compile_shared
from .emit import TARGETS, emit, sanitize
from .errors import ArgumentError, CodegenError

__all__ = [
    "C_TYPE_BYTES", "TARGETS", "ArgumentError", "CodegenError", "Module", "build", "c_elem_bytes", "check_arrays",
    "compile_shared", "emit", "sanitize",
]
