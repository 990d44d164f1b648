"""Loop IR -> freestanding C99 for the host and rv32 targets; host build with ctypes."""

from .build import Module, build, check_arrays, compile_shared
from .emit import TARGETS, emit, sanitize

__all__ = ["Module", "TARGETS", "build", "check_arrays", "compile_shared", "emit", "sanitize"]
