"""``simulator.run``: execute a lowered kernel on a target and measure it.

``vexriscv`` cross-compiles the kernel for rv32im, attaches the RTL of exactly the extensions the
kernel uses to the CPU's CFU port, and simulates the SoC cycle-accurately; ``host`` and
``verilator`` build a host shared library (the latter with every intrinsic executed by the
verilated RTL) and time it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import codegen_c
from codegen_c.emit import c_function_name
from isa_ext.cfu import combine_cfu
from tir.errors import CodegenError
from tir.stmt import PrimFunc

from .toolchain import Toolchain
from .vexriscv import run_kernel

SIM_TARGETS = ("vexriscv", "host", "verilator")


@dataclass
class RunResult:
    """What one run measured. Cycle figures are None on host targets, seconds None on vexriscv."""

    target: str
    cycles: int | None = None  # warm run of the kernel
    instret: int | None = None
    cold_cycles: int | None = None
    cold_instret: int | None = None
    seconds: float | None = None
    console: str = ""
    stack_bytes: int | None = None  # vexriscv: the deepest stack use seen during the run

    @property
    def cost(self) -> float:
        """Cycles on vexriscv, seconds elsewhere (the autotuner minimizes this)."""
        return float(self.cycles if self.cycles is not None else self.seconds)


def cfu_verilog(extensions) -> str | None:
    """The CFU Verilog of a list of extensions (their units behind one routing ``Cfu`` top)."""
    if not extensions:
        return None
    return combine_cfu([(e.module_name, e.verilog(), e.function_ids) for e in extensions])


def output_indices(func: PrimFunc) -> list[int]:
    """Indices of the arguments the kernel writes (``PrimFunc.output_indices``)."""
    return func.output_indices()


def stack_need(func: PrimFunc) -> int:
    """Bytes of stack the kernel's ``local`` buffers need at most (the deepest nest of them, as the
    emitted C types store them); the driver adds a margin for frames and spills."""
    return func.local_stack_bytes(codegen_c.c_elem_bytes)


def run(func: PrimFunc, arrays, target: str = "vexriscv", *, toolchain: Toolchain | None = None,
        ram_kib: int = 256, wait_states: int = 0, max_cycles: int = 50_000_000, repeat: int = 3) -> RunResult:
    """Run ``func`` on ``arrays`` (outputs written in place, as ``codegen_c.build(...)(*arrays)``)."""
    arrays = list(arrays)
    codegen_c.check_arrays(func, arrays)
    if target == "vexriscv":
        source = codegen_c.emit(func, "rv32im")
        res = run_kernel(source, c_function_name(func), arrays, outputs=output_indices(func),
                         cfu_verilog=cfu_verilog(func.extensions), toolchain=toolchain or Toolchain(),
                         ram_kib=ram_kib, wait_states=wait_states, max_cycles=max_cycles,
                         stack_bytes=stack_need(func))
        return RunResult(target, res.cycles, res.instret, res.cold_cycles, res.cold_instret, None, res.console,
                         res.stack_bytes)
    if target in ("host", "verilator"):
        mod = codegen_c.build(func, target)
        outs = output_indices(func)
        saved = [arrays[i].copy() for i in outs]
        best = float("inf")
        for _ in range(max(1, repeat)):
            for i, s in zip(outs, saved):
                arrays[i][...] = s
            t0 = time.perf_counter()
            mod(*arrays)
            best = min(best, time.perf_counter() - t0)
        return RunResult(target, seconds=best)
    raise CodegenError(f"unknown run target {target!r}; expected one of {', '.join(SIM_TARGETS)}")


__all__ = ["RunResult", "SIM_TARGETS", "cfu_verilog", "output_indices", "run", "stack_need"]
