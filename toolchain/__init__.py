"""The tool layer below every other package except tir: the content-hash build cache, the host C
compiler, the RV32 cross compilers (zig / gcc) and the Verilator model builder."""

from .cache import cache_dir, cached_build, content_hash
from .errors import HostCompileError, ToolchainBuildError, ToolchainError, VerilatorBuildError
from .host import compile_shared_with, host_cc
from .rv32 import Toolchain, available_toolchains, compile_rv32
from .verilator import build_verilated, verilator_bin, verilator_version
from .yosys import AreaReport, SynthesisError, synthesize

__all__ = [
    "AreaReport", "HostCompileError", "SynthesisError", "Toolchain", "ToolchainBuildError", "ToolchainError",
    "VerilatorBuildError",
    "available_toolchains", "build_verilated", "cache_dir", "cached_build", "compile_rv32", "compile_shared_with",
    "content_hash", "host_cc", "synthesize", "verilator_bin", "verilator_version",
]
