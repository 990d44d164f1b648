"""Export the best schedule of tuning records (``isaforge tune ... --records R``) as a LiteX project folder.

``kernel_from_records(records, task=None) -> RecordKernel``
    The best valid record of one task of a records file (``task``: its key, e.g.
    ``matmul_i8[8,8,16]@vexriscv``; needed when the file holds several), re-created as the tuner
    measured it: the template's task (``schedules.autotune.create_task`` of the record's template, args
    and target), the record's config in that task's space, the lowered kernel, the cross compiler of
    its ``compiler`` knob (``simulator.measure.toolchain_of``: the Makefile's KERNEL_CC then builds
    with what was measured) and the template's numpy reference. Every template the tuner knows
    works: the built-in ones (their tensorize, ``cfu_emit="asm"`` dot4 tiles included) and the qnn
    templates of ``isaforge tune MODEL`` (their inputs: the template's own ``make_inputs``, as the tuner
    measured them). A records file that cannot give a kernel raises :class:`isaforge.errors.ExportError`
    naming what is wrong (no file, no readable record, several tasks, an unknown template or target,
    a config that no longer fits the template's space, no valid result, only records measured under
    another timing of the target). Records measured under another timing of their target
    (``schedules.autotune.records.TimingProblem``) are never the best: their cycles are not today's;
    when the task has others, a ``RecordWarning`` names the ones left out.

``export_litex_records(records, out_dir, task=None, board="digilent_arty", title=None, simulate=False,
                       measure=None) -> ExportedFolder``
    :func:`isaforge.export_litex.export_litex` of that kernel, checked against numpy; ``simulate`` runs
    it in isaforge's SoC model (target ``vexriscv``, the record's compiler) first and quotes those
    cycles, ``measure="litex_sim"`` measures the exported build in litex_sim.

``simulate_kernel(func, arrays, ref, toolchain=None) -> int``
    The warm cycles of ``func`` on ``arrays`` in isaforge's SoC model (calibrated to LiteX's integrated
    SRAM), its output checked against ``ref`` (ExportError when it differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ExportError


@dataclass(frozen=True)
class RecordKernel:
    """The best record of a task, re-created: ``task``, ``config``, ``record``, the lowered ``func``, the
    ``toolchain`` it was measured with and the ``inputs`` to export it with (None: main.c's LCG)."""

    task: object  # schedules.autotune.Task
    config: object  # schedules.autotune.ConfigEntity
    record: object  # schedules.autotune.Record
    func: object  # tir PrimFunc
    toolchain: object  # toolchain.rv32.Toolchain
    inputs: list | None

    def ref(self, *inputs) -> np.ndarray:
        """The template's numpy reference of the (single) output."""
        return self.task.reference(list(inputs))[0]

    @property
    def title(self) -> str:
        import json

        knobs = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                          for k, v in self.config.to_json()["knobs"].items())
        return (f"{self.task.key} config {self.config.index} ({knobs}), "
                f"tuned cost {self.record.result.cost:g}")


def _name(task) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_]+", "_", task.name).strip("_") or "kernel"


def kernel_from_records(records, task: str | None = None) -> RecordKernel:
    """The best valid record of ``task`` (or of the only task) in ``records``, re-created; see the module
    docstring."""
    from codegen_c.rv32 import RV32Target
    from codegen_c.target import get_target
    from schedules.autotune import AutotuneError, create_task, load_records
    from schedules.autotune.records import TimingProblem, warn_problems
    from simulator.measure import toolchain_of
    from tir.errors import TirError

    path = Path(records)
    if not path.is_file():
        raise ExportError(f"export-litex --records: {str(path)!r} does not exist or is not a file")
    recs, problems = load_records(path, warn=False)
    # records measured under another timing of their target are left out: their cycles are not today's
    stale = [p for p in problems if isinstance(p, TimingProblem)]
    unreadable = [p for p in problems if not isinstance(p, TimingProblem)]
    if not recs:
        why = [f"{len(unreadable)} unreadable line(s), first {unreadable[0]}"] if unreadable else []
        if stale:
            why.append(f"{len(stale)} record(s) {_stale_why(stale)}")
        why = "; " + "; ".join(why) if why else " (the file is empty)"
        raise ExportError(f"export-litex --records: {path} holds no readable tuning record{why}")
    keys = sorted({r.task for r in recs})
    if task is None:
        if len(keys) > 1:
            raise ExportError(f"export-litex --records: {path} holds {len(keys)} tasks; name one with --task: "
                              + ", ".join(keys))
        task = keys[0]
    mine = [r for r in recs if r.task == task]
    stale = [p for p in stale if p.task == task]
    if not mine:
        if stale:
            raise ExportError(f"export-litex --records: task {task!r} has {len(stale)} record(s) in {path}, all "
                              f"{_stale_why(stale)}")
        raise ExportError(f"export-litex --records: {path} has no record of task {task!r}; its tasks: "
                          + ", ".join(keys))
    if stale:
        warn_problems(path, stale, stacklevel=2)
    valid = [r for r in mine if r.result.valid]
    if not valid:
        kinds = sorted({str(r.result.error) for r in mine})
        raise ExportError(f"export-litex --records: task {task!r} has {len(mine)} record(s) in {path} and no valid "
                          f"result (errors: {', '.join(kinds)})")
    best = min(valid, key=lambda r: r.result.cost)  # ties: the earliest (min keeps the first)
    where = f"{path} line {best.line_no}"
    try:
        target = get_target(best.target)
    except TirError as exc:
        raise ExportError(f"export-litex --records: {where}: unknown target {best.target!r} ({exc}); a --templates "
                          "file may register it") from exc
    if not isinstance(target, RV32Target) or not target.has_cfu:
        raise ExportError(f"export-litex --records: {where}: the task was tuned for target {best.target!r}, not an "
                          "rv32 target with the CFU (vexriscv, vexriscv_ideal, litex_sim, litex_sim_sdram): its "
                          "schedule was not measured on a VexRiscv")
    try:
        t = create_task(best.template, best.args, target)
    except (AutotuneError, TypeError, ValueError) as exc:
        raise ExportError(f"export-litex --records: {where}: template {best.template!r} at args {list(best.args)} "
                          f"cannot be re-created: {exc} (a user template needs --templates)") from exc
    if t.key != best.task:
        raise ExportError(f"export-litex --records: {where}: the record names task {best.task!r} but its template, "
                          f"args and target make {t.key!r}")
    try:
        cfg = t.config_space.from_json(best.config, reindex=True)
    except (AutotuneError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise ExportError(f"export-litex --records: {where}: config {best.config.get('index')} no longer fits "
                          f"the space of template {best.template!r}: {exc}") from exc
    # (the record's knobs are the config: a stored index from before the space gained choices, e.g. a
    # tile knob's partial tiles, names the same schedule under its old number)
    if len(t.output_indices) != 1:
        raise ExportError(f"export-litex --records: task {t.key}: the kernel writes {len(t.output_indices)} "
                          "outputs; export-litex checks exactly one")
    func = t.lower(cfg, _name(t))
    inputs = None
    if t.template.make_inputs is not None:  # inputs with constraints (e.g. requantization): the tuner's own
        inputs = t.input_arrays(t.make_inputs(0))
    return RecordKernel(t, cfg, best, func, toolchain_of(cfg, target), inputs)


def _stale_why(stale: list) -> str:
    """Why records of ``stale`` (TimingProblems) are not exported, and what to do."""
    first = stale[0]
    return (f"measured under another timing of target {first.target!r} (first: line {first.line_no}, timing "
            f"{first.timing or 'none'}, now {first.current or 'none'}): tune the task again (isaforge tune ... "
            f"--records measures those configs again)")


def simulate_kernel(func, arrays: list, ref, toolchain=None) -> int:
    """Warm cycles of ``func`` on (copies of) ``arrays`` in isaforge's SoC model (target ``vexriscv``:
    calibrated to LiteX's integrated SRAM) built with ``toolchain``; the output checked against ``ref``."""
    import simulator
    from simulator.run import output_indices

    arrays = [np.array(a, copy=True) for a in arrays]
    r = simulator.run(func, arrays, "vexriscv", toolchain=toolchain)
    o = output_indices(func)[0]
    want = np.asarray(ref(*[a for i, a in enumerate(arrays) if i != o]))
    if not np.array_equal(arrays[o], want.astype(arrays[o].dtype)):
        n = int(np.count_nonzero(arrays[o] != want))
        raise ExportError(f"export-litex: the kernel in isaforge's SoC model differs from numpy in {n} of "
                          f"{want.size} elements")
    return int(r.cycles)


def export_litex_records(records, out_dir, task: str | None = None, board: str = "digilent_arty",
                         title: str | None = None, simulate: bool = False, measure: str | None = None):
    """Export the best record's kernel (:func:`kernel_from_records`) with
    :func:`isaforge.export_litex.export_litex`; returns its ExportedFolder (``.kernel``: the RecordKernel)."""
    from .export_litex import export_litex, kernel_arrays

    rk = kernel_from_records(records, task)
    cycles = None
    if simulate:
        cycles = simulate_kernel(rk.func, kernel_arrays(rk.func, rk.inputs), rk.ref, rk.toolchain)
    paths = export_litex(rk.func, out_dir, board=board, ref=rk.ref, title=title or rk.title, sim_cycles=cycles,
                         toolchain=rk.toolchain, target=rk.task.target_object, inputs=rk.inputs, measure=measure)
    paths.kernel = rk
    return paths


__all__ = ["RecordKernel", "export_litex_records", "kernel_from_records", "simulate_kernel"]
