"""Errors raised by the toolchain package (all subclasses of tir.errors.TirError).

They sit directly under ``TirError`` (not under ``simulator.SimulationError``): the toolchain is below
every other package, so a failed compile is reported the same way whoever asked for it.
``simulator.ToolchainError`` and ``simulator.VerilatorBuildError`` are these same classes.
"""

from tir.errors import TirError


class ToolchainBuildError(TirError):
    """Root of the toolchain package's errors: an external tool could not build an artifact."""


class ToolchainError(ToolchainBuildError):
    """Cross-compiling or linking a RISC-V program failed; the message holds the compiler's stderr."""


class VerilatorBuildError(ToolchainBuildError):
    """Verilating or compiling a Verilator model failed; the message holds the tail of the log."""


class HostCompileError(ToolchainBuildError):
    """The host C compiler is missing or failed to build a shared library; the message holds its stderr."""
