"""Loop IR -> freestanding C99 for the host and rv32 targets; host build with ctypes.

A target is a :class:`Target` object (codegen_c.target); the built-in ones are registered here under
the names "host", "verilator" and "vexriscv" (alias "rv32im")."""

from .build import C_TYPE_BYTES, Module, build, c_elem_bytes, check_arrays, compile_shared
from .emit import TARGETS, CEmitter, emit, sanitize
from .errors import ArgumentError, CodegenError
from .host import HostTarget, VerilatorTarget
from .rv32 import RV32Target, VexRiscvTarget
from .target import Target, UnknownTargetError, get_target, known_targets, register_target, unregister_target

__all__ = [
    "C_TYPE_BYTES", "TARGETS", "ArgumentError", "CEmitter", "CodegenError", "HostTarget", "Module", "RV32Target",
    "Target", "UnknownTargetError", "VerilatorTarget", "VexRiscvTarget", "build", "c_elem_bytes", "check_arrays",
    "compile_shared", "emit", "get_target", "known_targets", "register_target", "sanitize", "unregister_target",
]
