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
from .placement import Placement
from .run import HostRunner, Runner, RunResult, SocRunner, cfu_verilog, output_indices, register_runner, run, runner_for
from .toolchain import Toolchain, available_toolchains
from .vexriscv import KernelResult, run_kernel

__all__ = [
    "BusError", "HostRunner", "KernelResult", "Placement", "RunResult", "Runner", "SimTimeout", "SimulationError",
    "SocRunner",
    "StackOverflowError", "Toolchain", "ToolchainError", "TrapError", "VerilatorBuildError", "available_toolchains",
    "cfu_verilog", "output_indices", "register_runner", "run", "run_kernel", "runner_for",
]
