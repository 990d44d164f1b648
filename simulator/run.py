"""``simulator.run``: execute a lowered kernel on a target and measure it.

How a target runs is a :class:`Runner`, registered per Target class (:func:`register_runner`; a
subclass of a target class uses its runner unless it registers one of its own):

* :class:`SocRunner` for :class:`codegen_c.VexRiscvTarget` (``"vexriscv"`` / ``"rv32im"``):
  cross-compiles the kernel for rv32im with the target's toolchain, attaches the RTL of exactly the
  extensions the kernel uses to the CPU's CFU port, and simulates the SoC cycle-accurately (cost: cycles);
* :class:`LitexSimRunner` for :class:`codegen_c.rv32.LitexSimTarget` (``"litex_sim"``,
  ``"litex_sim_sdram"``): the same kernel program on LiteX's own SoC (``simulator.litex_sim``; cost: cycles);
* :class:`HostRunner` for :class:`codegen_c.HostTarget` (``"host"``, and ``"verilator"``, whose library
  executes every intrinsic in the verilated RTL): builds a host shared library and times it (cost: seconds).

A runner also has the two halves of the autotuner's measurement (``simulator.measure``): ``prepare``
(in the tuning process: the C and everything a worker needs, as plain data) and ``run_prepared``
(in a worker, from that data only).
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass

import codegen_c
from codegen_c.build import compile_shared_flags
from codegen_c.emit import c_function_name
from codegen_c.host import HostTarget
from codegen_c.rv32 import LitexSimTarget, VexRiscvTarget
from codegen_c.target import Target, get_target
from isa_ext.cfu import combine_cfu
from tir.errors import ArgumentError, CodegenError
from tir.stmt import PrimFunc

from .placement import DEFAULT_PLACEMENT, Placement, access_trace
from .toolchain import Toolchain
from .vexriscv import SPLIT_ENV, run_kernel

# the built-in targets a runner is registered for
SIM_TARGETS = ("vexriscv", "host", "verilator", "litex_sim", "litex_sim_sdram")


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


class Runner:
    """How kernels of one family of targets are run (:meth:`run`) and measured for the autotuner
    (:meth:`prepare`, then :meth:`run_prepared` in a worker). Stateless: one instance is registered."""

    #: what ``RunResult.cost`` counts for this runner
    unit = "seconds"

    def run(self, func: PrimFunc, arrays: list, target: Target, *, toolchain: Toolchain | None, ram_kib: int,
            wait_states: int, max_cycles: int, repeat: int) -> RunResult:
        raise NotImplementedError

    def prepare(self, func: PrimFunc, target: Target, *, toolchain: Toolchain | None, max_cycles: int) -> dict:
        """The fields of a ``simulator.measure.Job`` for ``func`` (plain, picklable data)."""
        raise NotImplementedError

    def run_prepared(self, job) -> RunResult:
        """Run a ``simulator.measure.Job`` that :meth:`prepare` filled (``job.arrays`` written in place)."""
        raise NotImplementedError


def _best_seconds(fn, arrays: list, outputs: list[int], repeat: int) -> float:
    """The shortest of ``repeat`` timed calls of ``fn`` on ``arrays``, the outputs restored before each."""
    saved = [arrays[i].copy() for i in outputs]
    best = float("inf")
    for _ in range(max(1, repeat)):
        for i, s in zip(outputs, saved):
            arrays[i][...] = s
        t0 = time.perf_counter()
        fn(*arrays)
        best = min(best, time.perf_counter() - t0)
    return best


class HostRunner(Runner):
    """Host-side targets (:class:`codegen_c.HostTarget` and subclasses): build a shared library, time it."""

    unit = "seconds"
    repeat = 3  # measurement: the best of this many timed calls

    def run(self, func, arrays, target, *, toolchain=None, ram_kib=256, wait_states=None, max_cycles=0, repeat=3):
        mod = target.build(func)
        return RunResult(target.name, seconds=_best_seconds(mod, arrays, output_indices(func), repeat))

    def prepare(self, func, target, *, toolchain=None, max_cycles=0) -> dict:
        flags, link = target.build_options(func)
        return {"source": codegen_c.emit(func, target), "cflags": flags, "link": link}

    def run_prepared(self, job) -> RunResult:
        path = compile_shared_flags(job.source, job.cflags, job.link)
        fn = getattr(ctypes.CDLL(str(path)), job.kernel_name)
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p] * len(job.arrays)

        def call(*arrays):
            fn(*[a.ctypes.data for a in arrays])

        return RunResult(job.target, seconds=_best_seconds(call, job.arrays, job.outputs, self.repeat))


class SocRunner(Runner):
    """rv32 targets on the simulated VexRiscv SoC (:class:`codegen_c.VexRiscvTarget` and subclasses).

    ``split``: the SoC build (``simulator.vexriscv.build_soc``'s argument: True links the cached CPU to
    each CFU's own model, False verilates the whole SoC, None follows ``simulator.vexriscv.SPLIT_DEFAULT``);
    the cycles are the same either way."""

    unit = "cycles"

    def __init__(self, split: bool | None = None):
        self.split = split

    def run(self, func, arrays, target, *, toolchain=None, ram_kib=256, wait_states=None, max_cycles=50_000_000,
            repeat=3, placement=None):
        access = access_trace(func) if (placement or DEFAULT_PLACEMENT) is Placement.TRACE else None
        res = run_kernel(codegen_c.emit(func, target), c_function_name(func), arrays, outputs=output_indices(func),
                         cfu_verilog=cfu_verilog(func.extensions), toolchain=toolchain or target.toolchain(),
                         ram_kib=ram_kib, wait_states=target.wait_states if wait_states is None else wait_states,
                         max_cycles=max_cycles,
                         stack_bytes=stack_need(func), split=self.split, l2=target.l2, access=access)
        return RunResult(target.name, res.cycles, res.instret, res.cold_cycles, res.cold_instret, None, res.console,
                         res.stack_bytes)

    def prepare(self, func, target, *, toolchain=None, max_cycles=50_000_000) -> dict:
        # the build of the preparing process (its SPLIT_ENV, e.g. set by the instruction search) travels
        # with the job, so that a remote worker builds the same way whatever its own environment says
        env = os.environ.get(SPLIT_ENV, "")
        split = self.split if self.split is not None else {"1": True, "0": False}.get(env)
        return {"source": codegen_c.emit(func, target), "cfu_verilog": cfu_verilog(func.extensions),
                "toolchain": toolchain or target.toolchain(), "max_cycles": int(max_cycles),
                "stack_bytes": stack_need(func), "wait_states": target.wait_states, "l2": target.l2,
                "split": split,
                # the kernel's reads travel with the job: the worker places its buffers by them
                "access": access_trace(func) if DEFAULT_PLACEMENT is Placement.TRACE else None}

    def run_prepared(self, job) -> RunResult:
        r = run_kernel(job.source, job.kernel_name, job.arrays, outputs=job.outputs, cfu_verilog=job.cfu_verilog,
                       toolchain=job.toolchain or Toolchain(), max_cycles=job.max_cycles, stack_bytes=job.stack_bytes,
                       split=self.split if job.split is None else job.split, wait_states=job.wait_states, l2=job.l2,
                       access=job.access)
        return RunResult(job.target, r.cycles, r.instret)


class LitexSimRunner(Runner):
    """rv32 targets on LiteX's own SoC in simulation (:class:`codegen_c.rv32.LitexSimTarget`,
    ``"litex_sim"`` / ``"litex_sim_sdram"``): the kernel with the driver of :class:`SocRunner`, built for
    litex_sim's runtime and run there (``simulator.litex_sim.run_kernel_litex``); the SoC (one build per
    CFU, cached) is the target's ``memory`` and ``main_ram_kib``. ``ram_kib`` does not apply (the
    target's RAM is LiteX's); ``wait_states`` must be 0 (LiteX's bus sets the timing). ``prepare`` /
    ``run_prepared`` measure for the autotuner like :class:`SocRunner` (each config's CFU is a build)."""

    unit = "cycles"

    def run(self, func, arrays, target, *, toolchain=None, ram_kib=256, wait_states=None, max_cycles=50_000_000,
            repeat=3):
        from .litex_sim import run_kernel_litex

        if wait_states:
            raise CodegenError(f"target {target.name!r}: wait_states={wait_states} does not apply (LiteX's bus and "
                               f"main RAM set the memory timing; the vexriscv target models it)")
        res = run_kernel_litex(codegen_c.emit(func, target), c_function_name(func), arrays,
                               outputs=output_indices(func), cfu_verilog=cfu_verilog(func.extensions),
                               memory=target.memory, main_ram_kib=target.main_ram_kib,
                               toolchain=toolchain or target.toolchain(), max_cycles=max_cycles or None,
                               stack_bytes=stack_need(func))
        return RunResult(target.name, res.cycles, res.instret, res.cold_cycles, res.cold_instret, None, res.console)

    def prepare(self, func, target, *, toolchain=None, max_cycles=50_000_000) -> dict:
        return {"source": codegen_c.emit(func, target), "cfu_verilog": cfu_verilog(func.extensions),
                "toolchain": toolchain or target.toolchain(), "max_cycles": int(max_cycles),
                "stack_bytes": stack_need(func)}

    def run_prepared(self, job) -> RunResult:
        from .litex_sim import run_kernel_litex

        t = get_target(job.target)
        r = run_kernel_litex(job.source, job.kernel_name, job.arrays, outputs=job.outputs, cfu_verilog=job.cfu_verilog,
                             memory=t.memory, main_ram_kib=t.main_ram_kib, toolchain=job.toolchain or Toolchain(),
                             max_cycles=job.max_cycles or None, stack_bytes=job.stack_bytes)
        return RunResult(job.target, r.cycles, r.instret)


_RUNNERS: dict[type, Runner] = {}


def register_runner(target_cls: type, runner: Runner) -> None:
    """Run (and measure) the targets of ``target_cls`` and its subclasses with ``runner``."""
    if not (isinstance(target_cls, type) and issubclass(target_cls, Target)):
        raise CodegenError(f"register_runner expects a codegen_c.Target subclass, got {target_cls!r}")
    if not isinstance(runner, Runner):
        raise CodegenError(f"register_runner expects a simulator.run.Runner, got {type(runner).__name__}")
    _RUNNERS[target_cls] = runner


def runner_for(target: Target | str) -> Runner:
    """The runner of a target (name or object): the one registered for the nearest class in its MRO."""
    t = get_target(target)
    for cls in type(t).__mro__:
        r = _RUNNERS.get(cls)
        if r is not None:
            return r
    raise CodegenError(f"target {t.describe()} ({type(t).__name__}) has no runner: simulator runs "
                       f"{', '.join(c.__name__ for c in _RUNNERS)} and their subclasses "
                       f"(simulator.run.register_runner adds one)")


register_runner(HostTarget, HostRunner())
register_runner(VexRiscvTarget, SocRunner())
register_runner(LitexSimTarget, LitexSimRunner())


def run(func: PrimFunc, arrays, target: Target | str = "vexriscv", *, toolchain: Toolchain | None = None,
        ram_kib: int = 256, wait_states: int | None = None, max_cycles: int = 50_000_000,
        repeat: int = 3, placement: Placement | None = None) -> RunResult:
    """Run ``func`` on ``arrays`` (outputs written in place, as ``codegen_c.build(...)(*arrays)``).

    ``target``: a name or a Target. ``toolchain`` (rv32 targets): instead of the target's own;
    ``ram_kib``, ``wait_states``, ``max_cycles``: the SoC's (``wait_states`` None: the target's own,
    e.g. 1 on ``vexriscv``, calibrated to LiteX's SRAM, 0 on ``vexriscv_ideal``; ``vexriscv_sdram``
    also times each access through LiteX's L2 and SDRAM, its ``l2``); ``repeat``: host
    targets time the best of this many calls. ``placement`` (the SoC targets of isaforge's model):
    ``Placement.TRACE`` also places the hot inputs by the kernel's own simulated D-cache misses
    (``simulator.placement``), ``Placement.RULE`` by the offset rule alone; None:
    ``simulator.placement.DEFAULT_PLACEMENT`` (TRACE; the tuner's measurements use it too)."""
    t = get_target(target)
    runner = runner_for(t)
    arrays = list(arrays)
    codegen_c.check_arrays(func, arrays)
    extra = {}
    if placement is not None:
        if not isinstance(placement, Placement):
            raise ArgumentError(f"placement must be a simulator.Placement, got {placement!r}")
        if isinstance(runner, SocRunner):
            extra["placement"] = placement
        elif placement is not Placement.RULE:
            raise ArgumentError(f"target {t.name!r}: placement={placement} needs isaforge's SoC model "
                                f"(a vexriscv target); its runner places buffers its own way")
    return runner.run(func, arrays, t, toolchain=toolchain, ram_kib=ram_kib, wait_states=wait_states,
                      max_cycles=max_cycles, repeat=repeat, **extra)


__all__ = ["HostRunner", "LitexSimRunner", "RunResult", "Runner", "SIM_TARGETS", "SocRunner", "cfu_verilog",
           "output_indices", "register_runner", "run", "runner_for", "stack_need"]
