"""Errors raised by the simulator package (all subclasses of tir.errors.TirError).

``ToolchainError`` and ``VerilatorBuildError`` are re-exported from :mod:`toolchain.errors`; they are
not SimulationErrors (a failed build is not a failed simulation).
"""

from tir.errors import TirError
from toolchain.errors import ToolchainError, VerilatorBuildError  # noqa: F401 - re-exported

MCAUSE_NAMES = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store/AMO address misaligned",
    7: "store/AMO access fault",
    8: "environment call from U-mode",
    9: "environment call from S-mode",
    11: "environment call from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store/AMO page fault",
}


def describe_mcause(mcause: int) -> str:
    """Human-readable name of an mcause value (interrupts have bit 31 set)."""
    if mcause & 0x80000000:
        return f"interrupt {mcause & 0x7FFFFFFF}"
    return MCAUSE_NAMES.get(mcause, f"exception {mcause}")


class SimulationError(TirError):
    """A simulation could not be built, or the simulated program failed."""


class SimTimeout(SimulationError):
    """The simulated program hit the max-cycle guard."""

    def __init__(self, cycles: int, pc: int, message: str | None = None):
        self.cycles = cycles
        self.pc = pc
        super().__init__(message or f"simulation timed out after {cycles} cycles (last PC 0x{pc:08x})")


class BusError(SimulationError):
    """The simulated program accessed an address outside RAM and the MMIO block."""

    def __init__(self, address: int, write: bool, pc: int, message: str | None = None):
        self.address = address
        self.write = write
        self.pc = pc
        kind = "write to" if write else "read from"
        super().__init__(
            message or f"bus error: {kind} unmapped address 0x{address:08x} (PC 0x{pc:08x})"
        )


class TrapError(SimulationError):
    """The simulated program took an unexpected trap (exception or interrupt)."""

    def __init__(self, mcause: int, mepc: int, mtval: int, instruction: int, message: str | None = None):
        self.mcause = mcause
        self.mepc = mepc
        self.mtval = mtval
        self.instruction = instruction
        super().__init__(
            message
            or (
                f"trap: {describe_mcause(mcause)} (mcause {mcause}) at PC 0x{mepc:08x}, "
                f"instruction 0x{instruction:08x}, mtval 0x{mtval:08x}"
            )
        )


class StackOverflowError(SimulationError):
    """A kernel's stack does not fit in the RAM left above its program and arrays, or the run
    showed that the stack grew down into them (its results are then not trustworthy)."""
