"""Running kernels: host runner, Verilator co-simulation, VexRiscv SoC simulation, toolchains."""

from .errors import (
    BusError,
    SimTimeout,
    SimulationError,
    StackOverflowError,
    ToolchainError,
    TrapError,
    VerilatorBuildError,
)
from .run import RunResult, cfu_verilog, output_indices, run
from .toolchain import Toolchain, available_toolchains
from .vexriscv import KernelResult, run_kernel

__all__ = [
    "BusError", "KernelResult", "RunResult", "SimTimeout", "SimulationError", "StackOverflowError", "Toolchain",
    "ToolchainError", "TrapError", "VerilatorBuildError", "available_toolchains", "cfu_verilog", "output_indices",
    "run", "run_kernel",
]
