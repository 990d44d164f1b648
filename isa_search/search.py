"""The custom-instruction search: which unit to add to VexRiscv for a workload.

``search_isa(workload, budget_s=..., records=..., out_dir=...) -> SearchReport`` runs, in order:

1. **baseline**: every kernel of the workload tuned with no extension (``exts=""``, rv32im), with the
   XGB tuner on the simulated SoC (``baseline_trials``, default twice ``trials_per_kernel``: every
   speedup is measured against it), every output checked against numpy;
2. **candidates**: the specs of ``isa_ext.candidates.enumerate_candidates(families)`` (every
   registered family, so families merged later appear by themselves), plus those of
   ``isa_ext.dataflow.dataflow_candidates`` when that module exists, plus the hand-designed
   reference pair ``dot4_i8`` (+ ``requant_i8`` where the workload has requantize stages);
3. per candidate: ``build_candidate`` (a builder error is a generator bug: ``build_failed``),
   ``isa_ext.register``, ``isa_ext.verify`` in Verilator (a failure is a generator bug:
   ``verify_failed``, never ranked), Yosys area of the whole CFU the unit forms
   (``isa_ext.extension_area``: a failure is ``synthesis_failed``), also as a fraction of
   ``isa_ext.cpu_area()``;
4. **static pruning**: per kernel the unit serves, the best static cycle estimate (the tuner's
   ``features.extract_features`` estimate) over (a sample of) the configs of the candidate's space,
   scaled by the lowest measured / estimated ratio seen on that kernel so far (rv32im's and every
   measured unit's), gives the candidate's predicted whole-workload cycles (kernels it cannot serve
   count their rv32im best). Candidates are measured in order of prediction. The area is known before
   anything is measured, so a candidate is ``pruned`` only when it cannot reach the Pareto front of
   cycles vs LUTs: some measured unit (or rv32im, 0 LUTs) with at most its LUTs is faster than its
   prediction times ``PRUNE_MARGIN`` (so even ``1 / PRUNE_MARGIN`` times better than predicted it would
   be dominated). A small unit slower than a big one is still measured. As a check of the pruning,
   the ``audit`` pruned candidates nearest to winning are measured anyway and the report says whether
   any would have won (reached the front);
5. **measure**: every kernel the unit can serve (its template offers the unit's intrinsic) is tuned
   with it (``trials_per_kernel`` trials, transfer learning from the records of the same kernel with
   the other candidates), every output checked against numpy. A kernel whose best config does not
   use the unit, or that the unit cannot serve, keeps its rv32im best: whole-workload cycles =
   ``sum(count x best cycles)`` stay comparable. Requantize stages are tuned with ``requant_i8``
   (the unit and ``requant_i8`` share one CFU: candidates leave funct3 5 free);
6. **combine** (``combine``): one CFU of the fastest unit per kernel (see ``_combination``); when it
   does not fit the board's FPGA (``part``, a key of ``isa_ext.area.FPGA_PARTS``; None: no check) with
   the CPU, also the fastest combination of units that does;
7. **rank**: a measured unit whose speedup over rv32im is above 1 is ``ranked``; one that speeds
   nothing up is ``no_gain``. The Pareto front of cycles against LUTs is marked.

Everything measured goes to ``records`` (JSON Lines, one file for every task), and every unit's
verification and area figures (and the CPU's area) to the side file
``isa_search.checks.checks_path(records)``, keyed by the unit's content
(``isa_search.checks.unit_hash``), so a killed search resumes without measuring, verifying or
synthesizing anything again (``SearchReport.n_checks_resumed`` counts the units whose figures came
from that file); a unit whose generated code changed gets another key and is checked again. With
``scheduler="HOST:PORT"`` (or a Dask Client / LocalCluster) the measurements run on a Dask cluster
(``simulator.measure.make_measure``).
``progress(SearchProgress)`` is called as the search advances; the library never prints.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

import isa_ext
from isa_ext.area import DEFAULT_PART, over_capacity
from isa_ext.candidates import (
    ENCODING_PARAM,
    CandidateSpec,
    build_candidate,
    encoding_slots,
    enumerate_candidates,
    family_names,
    fit_encoding,
)
from schedules import autotune
from schedules.autotune.features import FeatureCache, feature_names
from schedules.autotune.records import load_records
from simulator.measure import make_measure
from simulator.vexriscv import SPLIT_ENV
from tir.errors import TirError

from .checks import KIND_CPU, KIND_UNIT, CheckStore, checks_path, cpu_hash, unit_hash
from .stages import elementwise_fits, sums_windows_with
from .workloads import Kernel, Workload, load_workload

TARGET = "vexriscv"
REQUANT_EXT = "requant_i8"
REFERENCE_EXT = "dot4_i8"  # the hand-designed unit, reported as the reference row
NO_USE = "no kernel of the workload can use it"  # the reason of a unit no template offers: never measured
CACHED_BUILD_S = 0.5  # a SoC "build" faster than this was a cache hit
PRUNE_MARGIN = 0.7  # prune when prediction x margin still loses to the best measured total
ESTIMATE_SAMPLE = 96  # configs per space whose static estimate is taken (the whole space if smaller)
MIN_SPEEDUP = 1.0  # a unit must beat rv32im by more than this to be proposed


class Status(StrEnum):
    """What became of a candidate."""

    RANKED = "ranked"
    NO_GAIN = "no_gain"
    PRUNED = "pruned"
    BUILD_FAILED = "build_failed"
    VERIFY_FAILED = "verify_failed"
    SYNTHESIS_FAILED = "synthesis_failed"
    BUDGET = "budget"  # not measured: the time budget ran out

    @property
    def generator_bug(self) -> bool:
        return self in (Status.BUILD_FAILED, Status.VERIFY_FAILED, Status.SYNTHESIS_FAILED)


@dataclass
class SearchProgress:
    """A progress event: ``phase`` (baseline / build / verify / estimate / measure / audit / done),
    ``done`` of ``total`` steps of that phase, the candidate concerned and a short message."""

    phase: str
    done: int
    total: int
    candidate: str = ""
    message: str = ""
    elapsed_s: float = 0.0


@dataclass
class KernelResult:
    """The best measured cycles of one kernel with one unit (or rv32im)."""

    label: str
    count: int
    task: str
    cycles: float
    config: dict | None = None
    uses_unit: bool = False
    fallback: bool = False  # the rv32im best is used (the unit cannot serve it or did not help)
    n_measured: int = 0
    n_resumed: int = 0
    n_errors: int = 0
    units: list[str] = field(default_factory=list)  # the extensions its best config uses


@dataclass
class CandidateResult:
    """One candidate unit: its instructions, verification, area, estimate, measurement and status."""

    key: str
    source: str  # family / dataflow / reference
    exts: list[str]  # the extensions of its CFU (the unit, plus requant_i8 where paired)
    description: str
    instructions: list[dict] = field(default_factory=list)  # {ext, op, function_ids, doc}
    status: Status = Status.BUDGET
    reason: str = ""
    verify: dict | None = None
    area: dict | None = None
    area_fraction: dict | None = None
    estimate: float | None = None
    cycles: float | None = None
    speedup: float | None = None
    kernels: list[KernelResult] = field(default_factory=list)
    pareto: bool = False
    audited: bool = False  # a pruned candidate measured anyway, to check the pruning
    would_have_won: bool | None = None
    spec: dict | None = None
    evidence: str = ""
    seconds: dict = field(default_factory=dict)
    # the SoC model of the unit built before its measurements: {"seconds": s, "cached": bool} (None:
    # not built by the search process, e.g. measured on a Dask cluster, whose workers build their own)
    soc_build: dict | None = None

    @property
    def name(self) -> str:
        return "+".join(self.exts)

    @property
    def lut(self) -> int | None:
        return None if self.area is None else int(self.area["lut"])

    @property
    def speedup_per_klut(self) -> float | None:
        if self.speedup is None or not self.lut:
            return None
        return self.speedup / (self.lut / 1000.0)

    def to_json(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        d["name"] = self.name
        d["speedup_per_klut"] = self.speedup_per_klut
        return d


@dataclass
class SearchReport:
    workload: Workload
    baseline_cycles: float
    baseline: list[KernelResult]
    candidates: list[CandidateResult]
    reference: CandidateResult | None
    cpu_area: dict | None
    wall_s: float
    records: str
    out_dir: str | None
    n_measured: int = 0
    n_resumed: int = 0
    notes: list[str] = field(default_factory=list)
    part: str | None = DEFAULT_PART  # the board's FPGA the search checked the units against
    n_checks_resumed: int = 0  # units (and combinations) whose verify / area figures came from the checks file

    # views -------------------------------------------------------------------------------------
    def ranked(self) -> list[CandidateResult]:
        """Ranked candidates, fastest first (the reference row excluded)."""
        return sorted((c for c in self.candidates if c.status == Status.RANKED), key=lambda c: (c.cycles, c.lut))

    def by_status(self, status: Status) -> list[CandidateResult]:
        return [c for c in self.candidates if c.status == status]

    @property
    def counts(self) -> dict[str, int]:
        cs = self.candidates
        return {
            "generated": len(cs),
            "built": sum(c.status != Status.BUILD_FAILED for c in cs),
            "verified": sum(c.verify is not None for c in cs),
            "synthesized": sum(c.area is not None for c in cs),
            "pruned": sum(c.status == Status.PRUNED for c in cs),
            "audited": sum(c.audited for c in cs),
            "measured": sum(c.cycles is not None and not c.audited and c.reason != NO_USE for c in cs),
            "ranked": sum(c.status == Status.RANKED for c in cs),
            "no_gain": sum(c.status == Status.NO_GAIN for c in cs),
            "failed": sum(c.status.generator_bug for c in cs),
            "budget": sum(c.status == Status.BUDGET for c in cs),
        }

    def front(self) -> list[CandidateResult]:
        """The ranked candidates (and the reference row) on the Pareto front of cycles vs LUTs."""
        return [c for c in self._front_pool() if c.pareto]

    def _front_pool(self) -> list[CandidateResult]:
        pool = list(self.ranked())
        if self.reference is not None and self.reference.status == Status.RANKED:
            pool.append(self.reference)
        return pool

    def build_stats(self) -> dict:
        """The SoC builds of the measured units: how many were built (``built``), found in the cache
        (``cached``), and the median and largest seconds of one build (``median_s``, ``max_s``)."""
        cs = [c.soc_build for c in [*self.candidates, *([self.reference] if self.reference else [])] if c.soc_build]
        built = sorted(b["seconds"] for b in cs if not b["cached"])
        return {"built": len(built), "cached": sum(b["cached"] for b in cs),
                "median_s": built[len(built) // 2] if built else None, "max_s": built[-1] if built else None,
                "split": bool(cs) and all(b.get("split") for b in cs)}

    def prune_audit(self) -> dict:
        aud = [c for c in self.candidates if c.audited]
        return {"pruned": len(self.by_status(Status.PRUNED)), "audited": len(aud),
                "winners_pruned": [c.key for c in aud if c.would_have_won]}

    def _capacity(self) -> dict:
        from isa_ext.area import FPGA_PARTS

        from .report import capacity

        return {part: capacity(self, part) for part in FPGA_PARTS}

    def to_json(self) -> dict:
        return {
            "workload": self.workload.to_json(),
            "macs": self.workload.macs(),
            "baseline_cycles": self.baseline_cycles,
            "baseline": [asdict(k) for k in self.baseline],
            "reference": None if self.reference is None else self.reference.to_json(),
            "candidates": [c.to_json() for c in self.candidates],
            "ranking": [c.key for c in self.ranked()],
            "pareto_front": [c.key for c in self.front()],
            "counts": self.counts,
            "prune_audit": self.prune_audit(),
            "soc_builds": self.build_stats(),
            "cpu_area": self.cpu_area,
            "capacity": self._capacity(),
            "wall_s": self.wall_s,
            "records": self.records,
            "n_measured": self.n_measured,
            "n_resumed": self.n_resumed,
            "n_checks_resumed": self.n_checks_resumed,
            "notes": self.notes,
        }


# --- helpers -------------------------------------------------------------------------------------

def _pattern_kinds(ext) -> set[str]:
    return {getattr(getattr(t, "facts", None), "pattern", "") for t in ext.intrinsics}


def _kernel_exts(kernel: Kernel, unit: Sequence) -> str:
    """The ``exts`` argument a kernel is tuned with for ``unit`` (a list of Extensions): elementwise
    units (requantize, fused and SIMD ops) for the elementwise stages they compute
    (``stages.elementwise_fits``), lane-reduce units for the average pools whose window rows they fit
    (``stages.sums_windows_with``), the others for template kernels only; so that the tasks of kernels
    a unit cannot change are the same for every unit (and measured once)."""
    names = []
    for ext in unit:
        elementwise = "elementwise" in _pattern_kinds(ext)
        if kernel.is_stage:
            if (elementwise and elementwise_fits(kernel.args[0], kernel.args[1], ext)) or \
                    (not elementwise and sums_windows_with(kernel.args[0], kernel.args[1], ext)):
                names.append(ext.name)
        elif not elementwise:
            names.append(ext.name)
    return ",".join(names)


def _choice_names(names: set[str]) -> dict[str, str]:
    """The tensorize-knob choices that stand for the extensions ``names`` (an extension's own name or
    the name of one of its tensor intrinsics: templates offer either), each mapped to its extension."""
    out = {n: n for n in names}
    for n in names:
        try:
            out.update({t.name: n for t in isa_ext.get(n).intrinsics})
        except isa_ext.ExtensionError:
            pass
    return out


OFFER_PROBES = 4  # configs lowered to see whether a space without a tensorize knob uses a unit


def _offered(task, names: set[str]) -> set[str]:
    """The extensions of ``names`` the task's space can use: those a tensorize knob offers, or (a space
    whose structure is the unit's, e.g. an operand-stationary one, has no such knob) those one of the
    first configs lowers to a kernel that calls."""
    choices = _choice_names(names)
    knobs = [k for k in task.config_space.knobs.values() if getattr(k, "kind", "") == "tensorize"]
    found = {choices[c] for k in knobs for c in k.choices if c in choices}
    if found:
        return found
    for i in range(min(OFFER_PROBES, len(task.config_space))):
        try:
            found |= names & {e.name for e in task.lower(i).extensions}
        except Exception:  # noqa: BLE001 - a config that does not lower uses nothing
            continue
        if found:  # a task's exts are all template units or all elementwise ones (_kernel_exts): one hit says it
            return found
    return found


def _offers(task, names: set[str]) -> bool:
    """Whether the task's space can use an extension of ``names`` (see :func:`_offered`)."""
    return bool(_offered(task, names))


_EST_COL = None


def _estimate(task, cache: dict, seed: int = 0) -> float | None:
    """The lowest static cycle estimate among (a sample of) the task's configs (None: none lowers)."""
    global _EST_COL
    if task.key in cache:
        return cache[task.key]
    if _EST_COL is None:
        _EST_COL = feature_names().index("g.log_est_cycles")
    n = len(task.config_space)
    if n <= ESTIMATE_SAMPLE:
        idxs = range(n)
    else:
        idxs = sorted(np.random.default_rng(seed).choice(n, ESTIMATE_SAMPLE, replace=False).tolist())
    fc = FeatureCache(task)
    best = None
    for i in idxs:
        f = fc.get(int(i))
        if f is None:
            continue
        est = 2.0 ** float(f[_EST_COL]) - 1.0
        best = est if best is None or est < best else best
    cache[task.key] = best
    return best


def _instructions(ext) -> list[dict]:
    return [{"ext": ext.name, "op": op.name, "function_ids": sorted(op.function_ids), "doc": op.doc}
            for op in ext.ops]


def _verify_figures(rep) -> dict:
    return {"extension": rep.extension, "n_ops": rep.n_ops, "n_edge": rep.n_edge, "n_exhaustive": rep.n_exhaustive,
            "rtl_cycles": rep.rtl_cycles, "checked": rep.checked, "seconds": round(rep.total_seconds, 3),
            "coverage": dict(rep.coverage)}


def _area_figures(rep) -> dict:
    return {"name": rep.name, "lut": rep.lut, "ff": rep.ff, "dsp": rep.dsp, "bram": rep.bram, "carry": rep.carry,
            "logic_depth": rep.logic_depth, "delay_ns": rep.delay_ns}


SEED_CONFIGS = 4  # other units' best configs of the same kernel measured first (their unit swapped in)


class SeededXGBTuner(autotune.XGBTuner):
    """The XGB tuner, measuring ``seeds`` (config indices) first: the best schedules other units found
    for the same kernel, with this unit in their place (a unit like another one mostly wants the same
    tile), then proposing as usual. Their picks are recorded with source ``"transfer"``."""

    def __init__(self, task, seeds=(), **kw):
        super().__init__(task, **kw)
        self._seeds = [int(i) for i in seeds]

    def next_batch(self, n: int) -> list:
        out = []
        while self._seeds and len(out) < n:
            i = self._seeds.pop(0)
            if i in self.visited or i in self.proposed:
                continue
            self.proposed.add(i)
            self.pick_source[i] = "transfer"
            out.append(self.space.get(i))
        if len(out) < n:
            out += list(super().next_batch(n - len(out)))
        return out

    def report(self) -> dict:
        # the base report counts its own pick sources only: the seeds are counted apart
        saved = dict(self.pick_source)
        self.pick_source = {k: v for k, v in saved.items() if v != "transfer"}
        try:
            rep = super().report()
        finally:
            self.pick_source = saved
        rep["transfer_seeds"] = sum(v == "transfer" for v in saved.values())
        return rep


def _seed_configs(task, transfer: Sequence, names: set[str], k: int = SEED_CONFIGS) -> list[int]:
    """Indices in ``task``'s space of the best valid config of each other unit's task in ``transfer``
    (records of the same kernel), best first, at most ``k``, with the unit replaced by the one of
    ``names`` the space offers (one per unit: the best of one unit are often alike)."""
    choices = _choice_names(names)
    offered = [c for knob in task.config_space.knobs.values() if getattr(knob, "kind", "") == "tensorize"
               for c in knob.choices if c in choices]
    best: dict[str, object] = {}
    for r in transfer:
        if r.result.valid and (r.task not in best or r.result.cost < best[r.task].result.cost):
            best[r.task] = r
    out: list[int] = []
    for r in sorted(best.values(), key=lambda r: (r.result.cost, r.task)):
        knobs = dict(r.config.get("knobs", {}))
        if knobs.get("tensorize") is not None:
            if not offered:
                continue
            knobs["tensorize"] = offered[0]
        try:
            idx = task.config_space.index_of(knobs)
        except Exception:  # noqa: BLE001 - another unit's space has other knobs: not a seed
            continue
        if idx not in out:
            out.append(idx)
        if len(out) >= k:
            break
    return out


class _Search:
    def __init__(self, wl: Workload, budget_s: float, records: Path, trials: int, measure, progress, seed: int,
                 verify_n: int, audit: int):
        self.wl = wl
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget_s
        self.records = records
        self.trials = trials
        self.measure = measure
        self.progress = progress
        self.seed = seed
        self.verify_n = verify_n
        self.audit = audit
        self.est_cache: dict = {}
        self.baseline_trials = 2 * trials
        self.cal: dict[str, float] = {}  # kernel label -> lowest measured / estimated cycles so far
        self.ests: dict[str, dict[str, float]] = {}  # candidate key -> kernel_estimates
        self.baseline: dict[str, KernelResult] = {}
        self.n_measured = 0
        self.n_resumed = 0
        self.n_checks_resumed = 0
        self.notes: list[str] = []
        self.checks = CheckStore(checks_path(records))
        self.prebuild = False  # build each unit's SoC model here before measuring it (local measurement)

    def emit(self, phase, done, total, candidate="", message=""):
        if self.progress is not None:
            self.progress(SearchProgress(phase, done, total, candidate, message, time.monotonic() - self.t0))

    def over_budget(self) -> bool:
        return time.monotonic() > self.deadline

    # tuning --------------------------------------------------------------------------------------
    def _transfer(self, kernel: Kernel, task) -> list:
        if not self.records.exists():
            return []
        recs, _ = load_records(self.records, warn=False)
        # other units' records of this kernel (not rv32im's: its space has no unit knob to learn from)
        return [r for r in recs if r.template == kernel.template and tuple(r.args[:-1]) == tuple(kernel.args)
                and r.task != task.key and r.args and r.args[-1]]

    def tune(self, kernel: Kernel, exts: str, unit_names: set[str], trials: int | None = None) -> KernelResult:
        task = autotune.create_task(kernel.template, kernel.task_args(exts), TARGET)
        n = len(task.config_space)
        trials = trials or self.trials
        trials = min(n, trials) if not kernel.is_stage else min(n, max(2, trials))
        transfer = self._transfer(kernel, task) if unit_names else []
        seeds = _seed_configs(task, transfer, unit_names) if transfer else []
        tuner = SeededXGBTuner(task, seeds=seeds, seed=self.seed, plan_size=max(4, min(16, trials)),
                               transfer=transfer or None)
        res = tuner.tune(trials, self.measure, records=self.records)
        self.n_measured += res.n_measured
        self.n_resumed += res.n_resumed
        if res.best_config is None:
            return KernelResult(kernel.label, kernel.count, task.key, math.inf, None, False, False, res.n_measured,
                                res.n_resumed, res.n_errors)
        used: list[str] = []
        if unit_names:
            func = task.lower(res.best_config)
            used = sorted(unit_names & {e.name for e in func.extensions})
        return KernelResult(kernel.label, kernel.count, task.key, float(res.best_cost), res.best_config.to_json(),
                            bool(used), False, res.n_measured, res.n_resumed, res.n_errors, used)

    def run_baseline(self) -> list[KernelResult]:
        out = []
        for i, k in enumerate(self.wl.kernels):
            self.emit("baseline", i, len(self.wl.kernels), "rv32im", k.label)
            kr = self.tune(k, "", set(), self.baseline_trials)
            if not math.isfinite(kr.cycles):
                raise autotune.AutotuneError(f"search: kernel {k.label!r} ({kr.task}) has no valid rv32im config")
            self.baseline[k.label] = kr
            self.calibrate(k.label, kr.cycles, _estimate(autotune.create_task(k.template, k.task_args(""), TARGET),
                                                         self.est_cache, self.seed))
            out.append(kr)
        self.emit("baseline", len(out), len(out), "rv32im")
        return out

    def total(self, kernels: Sequence[KernelResult]) -> float:
        return float(sum(k.count * k.cycles for k in kernels))

    # per candidate -------------------------------------------------------------------------------
    def kernel_estimates(self, unit: Sequence) -> tuple[dict[str, float], int]:
        """Per kernel the unit's space can use it in: the lowest static estimate of that space (label ->
        estimated cycles); and how many kernels the unit's own extension (not its requant_i8 partner) serves."""
        names = {e.name for e in unit}
        own = {unit[0].name}
        ests: dict[str, float] = {}
        served = 0
        for k in self.wl.kernels:
            exts = _kernel_exts(k, unit)
            if not exts:
                continue
            task = autotune.create_task(k.template, k.task_args(exts), TARGET)
            offered = _offered(task, names)
            if offered & own:
                served += 1
            if offered:
                e = _estimate(task, self.est_cache, self.seed)
                if e is not None and e > 0:
                    ests[k.label] = e
        return ests, served

    def calibrate(self, label: str, cycles: float, est: float | None) -> None:
        """Note measured / estimated cycles of a kernel's best config: the static estimate's scale there."""
        if est and math.isfinite(cycles):
            r = cycles / est
            self.cal[label] = min(self.cal.get(label, r), r)

    def predict(self, ests: dict[str, float]) -> float:
        """Predicted whole-workload cycles: per kernel the unit serves, its best static estimate times the
        lowest measured/estimated ratio seen on that kernel so far (rv32im's or another unit's: the
        estimate's most optimistic calibration, so that a poorly tuned baseline does not make every unit
        look slow), never above the rv32im best; the rv32im best for the other kernels."""
        total = 0.0
        for k in self.wl.kernels:
            base = self.baseline[k.label].cycles
            e = ests.get(k.label)
            total += k.count * (min(base, e * self.cal[k.label]) if e is not None and k.label in self.cal else base)
        return total

    def build_unit_soc(self, cand: CandidateResult, unit: Sequence) -> None:
        """Build the SoC model of each extension of ``unit`` (what a kernel tensorized with it runs on)
        before measuring, timed: the build cost per candidate, and the measurement workers then find the
        model in the cache. ``cached``: every model was there already."""
        from simulator.run import cfu_verilog
        from simulator.soc_split import SPLIT_STATS
        from simulator.vexriscv import build_soc

        t0 = time.monotonic()
        split = os.environ.get(SPLIT_ENV) == "1"
        builds = (SPLIT_STATS.cpu_builds, SPLIT_STATS.cfu_builds)
        try:
            for e in unit:
                build_soc(cfu_verilog([e]))
        except TirError as exc:  # (the project's errors' root) the measurements then report it per config
            cand.soc_build = {"seconds": round(time.monotonic() - t0, 2), "cached": False, "split": split,
                              "error": str(exc)[:300]}
            return
        if split:
            cached = builds == (SPLIT_STATS.cpu_builds, SPLIT_STATS.cfu_builds)
        else:  # the monolithic builder keeps no counts: a cache hit is a content hash and a lookup
            cached = time.monotonic() - t0 < CACHED_BUILD_S * len(unit)
        cand.soc_build = {"seconds": round(time.monotonic() - t0, 2), "cached": cached, "split": split}

    def measure_unit(self, cand: CandidateResult, unit: Sequence) -> None:
        if self.prebuild and cand.soc_build is None:
            self.emit("build", 0, 1, cand.key)
            self.build_unit_soc(cand, unit)
        names = {e.name for e in unit}
        kernels = []
        t0 = time.monotonic()
        for i, k in enumerate(self.wl.kernels):
            self.emit("measure", i, len(self.wl.kernels), cand.key, k.label)
            base = self.baseline[k.label]
            exts = _kernel_exts(k, unit)
            task = autotune.create_task(k.template, k.task_args(exts), TARGET) if exts else None
            if task is None or not _offers(task, names):
                kernels.append(KernelResult(k.label, k.count, base.task, base.cycles, base.config, False, True))
                continue
            kr = self.tune(k, exts, names)
            if not kr.uses_unit or kr.cycles >= base.cycles:
                kr = KernelResult(k.label, k.count, kr.task, base.cycles, base.config, False, True, kr.n_measured,
                                  kr.n_resumed, kr.n_errors)
            kernels.append(kr)
        cand.kernels = kernels
        cand.cycles = self.total(kernels)
        for kr in kernels:
            if kr.uses_unit:
                self.calibrate(kr.label, kr.cycles, self.ests.get(cand.key, {}).get(kr.label))
        cand.seconds["measure"] = round(time.monotonic() - t0, 2)


def check_unit(unit: Sequence, verify_n: int, seed: int) -> dict:
    """Verify the unit's own extension in Verilator, then synthesize its whole CFU with Yosys: a dict of
    ``verify`` / ``area`` figures (None when that step failed), ``error`` and ``seconds``. Runs in this
    process or on a Dask worker (the extensions travel pickled)."""
    return _checked(unit, lambda: isa_ext.verify(unit[0], n=verify_n, seed=seed))


def check_set(unit: Sequence, verify_n: int, seed: int) -> dict:
    """Like :func:`check_unit`, for a combination: every extension of ``unit`` verified together
    (``isa_ext.verify_set``: routing, interleaved state), then their CFU synthesized."""
    return _checked(unit, lambda: isa_ext.verify_set(list(unit), n=verify_n, seed=seed))


def _checked(unit: Sequence, verify) -> dict:
    """``verify()``, then the synthesis of ``unit``'s CFU: the dict of :func:`check_unit`."""
    out = {"verify": None, "area": None, "error": "", "seconds": {}}
    t0 = time.monotonic()
    try:
        out["verify"] = _verify_figures(verify())
    except Exception as e:  # noqa: BLE001 - VerifyError, or RTL that does not even build
        out["error"] = f"{type(e).__name__}: {e}"[:2000]
        return out
    out["seconds"]["verify"] = round(time.monotonic() - t0, 2)
    t0 = time.monotonic()
    try:
        out["area"] = _area_figures(isa_ext.extension_area(isa_ext.ExtensionSet(list(unit))))
    except Exception as e:  # noqa: BLE001 - SynthesisError
        out["error"] = f"{type(e).__name__}: {e}"[:2000]
        return out
    out["seconds"]["synthesis"] = round(time.monotonic() - t0, 2)
    return out


def _check_units(units: list, verify_n: int, seed: int, measure, emit, notes: list,
                 store: CheckStore | None = None) -> tuple[list[dict], int]:
    """``check_unit`` of every unit (on the measure's Dask cluster when it has one, all at once, else
    here), and how many of them ``store`` already held (those are not checked again; the others are
    added to it as they finish)."""
    keys = [unit_hash(u, verify_n, seed) for u in units] if store is not None else [None] * len(units)
    out: list[dict | None] = [store.get(KIND_UNIT, k) if store is not None else None for k in keys]
    todo = [i for i, chk in enumerate(out) if chk is None]
    resumed = len(units) - len(todo)

    def done(i: int, chk: dict) -> None:
        out[i] = chk
        if store is not None:
            store.put(KIND_UNIT, keys[i], chk, [e.name for e in units[i]])

    if measure is not None and todo:
        try:
            client = measure.dask_client()
            futs = [client.submit(check_unit, units[i], verify_n, seed, pure=False) for i in todo]
            for i, f in zip(todo, futs):
                emit(i)
                done(i, f.result())
            todo = []
        except Exception as e:  # noqa: BLE001 - e.g. an extension that does not pickle: check here instead
            notes.append(f"verification and synthesis ran locally, not on the Dask cluster: {type(e).__name__}: {e}")
            todo = [i for i in todo if out[i] is None]
    for i in todo:
        emit(i)
        done(i, check_unit(units[i], verify_n, seed))
    return out, resumed


def _cpu_figures(s: _Search) -> dict | None:
    """The CPU's area figures: from the checks file when it has them for this CPU and Yosys, else from
    ``isa_ext.cpu_area()`` (then kept there); None, with a note, when synthesis fails."""
    try:
        key = cpu_hash()
        cpu = s.checks.get(KIND_CPU, key)
        if cpu is None:
            cpu = _area_figures(isa_ext.cpu_area())
            s.checks.put(KIND_CPU, key, cpu, ["VexRiscv_FullCfu"])
        return cpu
    except Exception as e:  # noqa: BLE001
        s.notes.append(f"cpu area: {type(e).__name__}: {e}")
        return None


def _parse_specs(families, candidates) -> list[CandidateSpec]:
    if candidates is not None:
        return [c if isinstance(c, CandidateSpec) else CandidateSpec.from_json(c) for c in candidates]
    return enumerate_candidates(families)


def _dataflow_specs(search: _Search, notes: list[str], top: int) -> list[CandidateSpec]:
    """Specs of the optional dataflow generator (``isa_ext.dataflow``), when that module exists."""
    if importlib.util.find_spec("isa_ext.dataflow") is None:
        return []
    try:
        from isa_ext import dataflow

        funcs = {}
        for k in search.wl.kernels:
            base = search.baseline[k.label]
            task = autotune.create_task(k.template, k.task_args(""), TARGET)
            funcs[k.label] = task.lower(task.config(base.config)) if base.config else task.lower(0)
        found = dataflow.dataflow_candidates(funcs, top=top)
        known = set(family_names())
        orphans = sorted({c.spec.key for c in found if c.spec.family not in known})
        if orphans:  # a generator of this kind is not merged in: nothing to build them with
            notes.append(f"dataflow candidates of unregistered families left out: {', '.join(orphans)}")
        return [c.spec for c in found if c.spec.family in known]
    except Exception as e:  # noqa: BLE001 - a generator that fails is reported, the search goes on
        notes.append(f"dataflow candidates: {type(e).__name__}: {e}")
        return []


def _area_fraction(area: dict, cpu: dict) -> dict:
    """A unit's LUT / FF / DSP / BRAM as fractions of the CPU's."""
    return {k: (area[k] / cpu[k] if cpu[k] else None) for k in ("lut", "ff", "dsp", "bram")}


def _settle(cand: CandidateResult, own: set[str]) -> None:
    """Ranked when the workload got faster and one of the unit's ``own`` extensions (not a requant_i8
    partner alone) made some kernel faster; otherwise no gain, with the reason."""
    if cand.speedup > MIN_SPEEDUP and any(own & set(k.units) for k in cand.kernels):
        cand.status = Status.RANKED
        return
    partners = [e for e in cand.exts if e not in own]
    cand.status = Status.NO_GAIN
    cand.reason = "no kernel of the workload got faster with it" + (
        f" (only {', '.join(partners)} did: {cand.speedup:.2f}x)" if cand.speedup > MIN_SPEEDUP else "")


def _combination(s: _Search, results: list[CandidateResult], units: dict, rq, cpu,
                 base_total: float, part=None, skip: frozenset = frozenset()) -> CandidateResult | None:
    """One CFU holding, for every kernel, the measured unit that made it fastest (when that is
    more than one unit; a unit whose encodings collide with those picked is re-encoded to other funct3
    values when some fit, else the kernel's next fastest unit is tried): verified together in Verilator
    (``isa_ext.verify_set``: routing, interleaved state), synthesized as one CFU and measured like a
    single unit (every kernel tuned with all of them offered). None when there is nothing to combine
    (or when the pick is the set ``skip``).

    ``part`` (a key of ``isa_ext.area.FPGA_PARTS`` or an ``FpgaPart``): only units whose areas, summed with those picked
    and the CPU's, fit the part are picked (the sum counts each unit's routing and partner again, so it
    errs on the safe side); the combined CFU's own synthesis then says whether it fits."""
    # ranked units, and pruned ones the audit measured: a unit that serves one kernel well can lose
    # on the whole workload alone (so it is pruned) and still be the best part of a combination
    ranked = [c for c in results if c.status == Status.RANKED or (c.status == Status.PRUNED and c.audited)]
    by_key = {c.key: c for c in ranked}
    pick: list[str] = []
    chosen: dict[str, object] = {}  # key -> the extension the CFU holds for it (re-encoded when needed)

    def place(key: str):
        """The unit of ``key`` as it fits beside those picked: as measured, or re-encoded to other funct3
        values (``isa_ext.candidates.fit_encoding``); None when no encoding fits."""
        others = [chosen[p] for p in pick] + ([rq] if rq is not None else [])
        ext = units[key][0]
        try:
            isa_ext.ExtensionSet([*others, ext])
            return ext
        except isa_ext.ExtensionError:
            pass
        spec = by_key[key].spec
        if spec is None:
            return None
        try:
            fit = fit_encoding(CandidateSpec.from_json(spec), set().union(*(e.function_ids for e in others)))
            if fit is None:
                return None
            ext = build_candidate(fit)
            isa_ext.ExtensionSet([*others, ext])
        except isa_ext.ExtensionError:
            return None
        isa_ext.register(ext, replace=True)
        s.notes.append(f"combination: {key} re-encoded as {fit.key} (funct3 {list(encoding_slots(fit))} -> "
                       f"{list(fit.p[ENCODING_PARAM])}) to share the CFU")
        return ext

    def fits(keys: list[str]) -> bool:
        if part is None:
            return True
        areas = [by_key[key].area for key in keys]
        if any(a is None for a in areas):
            return False
        total = {k: sum(float(a[k]) for a in areas) for k in ("lut", "ff", "dsp", "bram")}
        return not over_capacity(total, part, cpu)

    shared = {rq.name} if rq is not None else set()

    def own_use(kr: KernelResult) -> bool:  # the kernel ran the candidate's own unit (not just requant_i8)
        return kr.uses_unit and bool(set(kr.units) - shared)

    def with_shared(label: str) -> float:
        """The fewest cycles of a kernel with requant_i8 alone (rv32im code without it)."""
        return min([s.baseline[label].cycles] + [kr.cycles for c in ranked for kr in c.kernels if kr.label == label
                                                 and kr.uses_unit and set(kr.units) <= shared])

    # the heaviest template kernels first, then the stage kernels (an elementwise unit, a pool's window
    # sum: they take encodings only after the template kernels' units have theirs); per kernel its fastest
    # unit whose encodings fit beside those picked (for a stage, only one faster than requant_i8 there)
    heavy = sorted(s.wl.kernels, key=lambda k: (k.is_stage, -k.count * s.baseline[k.label].cycles))
    for k in heavy:
        bar = with_shared(k.label) if k.is_stage else float("inf")
        opts = sorted((kr.cycles, c.key) for c in ranked for kr in c.kernels
                      if kr.label == k.label and own_use(kr) and kr.cycles < bar)
        left = []
        for _, key in opts:
            if key in pick:
                break
            if not fits([*pick, key]):
                continue
            ext = place(key)
            if ext is not None:
                chosen[key] = ext
                pick.append(key)
                break
            left.append(key)
        if left:
            s.notes.append(f"combination: for {k.label!r} faster units collide with {pick} in every encoding: "
                           f"{', '.join(left)}")
    if len(pick) < 2 or frozenset(pick) == skip:
        return None
    own = [chosen[key] for key in pick]
    unit = own + ([rq] if rq is not None else [])
    key = "combination: " + " + ".join(pick)
    if part is not None:
        key += f" (fits {getattr(part, 'name', part)})"
    cand = CandidateResult(key, "combination", [e.name for e in unit],
                           "; ".join(f"{e.name}: {e.doc.split(': ', 1)[-1].rstrip('.')}" for e in own))
    cand.instructions = [x for e in unit for x in _instructions(e)]
    s.emit("verify", 0, 1, key)
    chk_key = unit_hash(unit, s.verify_n, s.seed, kind="set")
    chk = s.checks.get(KIND_UNIT, chk_key)
    if chk is None:
        chk = check_set(unit, s.verify_n, s.seed)
        s.checks.put(KIND_UNIT, chk_key, chk, [e.name for e in unit])
    else:
        s.n_checks_resumed += 1
    cand.seconds.update(chk["seconds"])
    if chk["verify"] is None:
        cand.status, cand.reason = Status.VERIFY_FAILED, chk["error"]
        return cand
    cand.verify = chk["verify"]
    if chk["area"] is None:
        cand.status, cand.reason = Status.SYNTHESIS_FAILED, chk["error"]
        return cand
    cand.area = chk["area"]
    if cpu is not None:
        cand.area_fraction = _area_fraction(cand.area, cpu)
    s.measure_unit(cand, unit)
    cand.speedup = base_total / cand.cycles
    _settle(cand, {e.name for e in own})
    return cand


def search_isa(workload, *, budget_s: float, records, out_dir=None, families: Sequence[str] | None = None,
               trials_per_kernel: int = 16, scheduler=None, progress: Callable[[SearchProgress], None] | None = None,
               candidates: Sequence[CandidateSpec] | None = None, dataflow: bool = True, dataflow_top: int = 8,
               reference: bool = True, audit: int = 2, verify_n: int = 2000, seed: int = 0,
               n_parallel: int | None = None, baseline_trials: int | None = None,
               split_build: bool = True, combine: bool = True, part=DEFAULT_PART,
               calibration=None, prune_margin: float = PRUNE_MARGIN) -> SearchReport:
    """Search the instruction to add for ``workload`` (a name, a .py file, a model file or a Workload:
    :func:`isa_search.workloads.load_workload`, with ``calibration`` for a float model); see the
    module docstring. ``families`` restricts the parametric families, ``candidates`` gives the specs
    explicitly (then neither families nor the dataflow generator are asked). With ``out_dir`` the
    report's JSON, table and front PNG are written there (:func:`isa_search.report.write_report`).

    ``split_build``: measure on the split-build SoC (the CPU verilated once, each unit's model built
    on its own and linked: about 3 instead of 21 CPU s per new unit, cycles identical to the
    monolithic build, tests/test_split_soc.py). It is set for the search's local measurement
    processes through ``simulator.vexriscv.SPLIT_ENV``, and travels in each measurement's Job
    (``Job.split``), so the workers of a remote Dask cluster build the same way.

    ``prune_margin``: a candidate is pruned when its static estimate times this still loses to what was
    measured with at most its LUTs (:data:`PRUNE_MARGIN`; a larger margin prunes more).

    ``combine``: after the single units, one more candidate: a CFU holding, per kernel, the ranked unit
    that made it fastest (when those are several), verified together, synthesized and measured."""
    with _soc_split_env(split_build):
        return _search_isa(workload, budget_s=budget_s, records=records, out_dir=out_dir, families=families,
                           trials_per_kernel=trials_per_kernel, scheduler=scheduler, progress=progress,
                           candidates=candidates, dataflow=dataflow, dataflow_top=dataflow_top, reference=reference,
                           audit=audit, verify_n=verify_n, seed=seed, n_parallel=n_parallel,
                           baseline_trials=baseline_trials, combine=combine, part=part,
                           calibration=calibration, prune_margin=prune_margin)


@contextlib.contextmanager
def _soc_split_env(split: bool):
    """ISAFORGE_SOC_SPLIT set for the duration (spawned measurement workers inherit it), then restored."""
    old = os.environ.get(SPLIT_ENV)
    os.environ[SPLIT_ENV] = "1" if split else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(SPLIT_ENV, None)
        else:
            os.environ[SPLIT_ENV] = old


def _search_isa(workload, *, budget_s, records, out_dir, families, trials_per_kernel, scheduler, progress, candidates,
                dataflow, dataflow_top, reference, audit, verify_n, seed, n_parallel, baseline_trials,
                combine, part, calibration, prune_margin) -> SearchReport:
    wl = load_workload(workload, calibration)
    records = Path(records)
    records.parent.mkdir(parents=True, exist_ok=True)
    with make_measure(TARGET, n_parallel=n_parallel, scheduler=scheduler, seed=seed) as measure:
        s = _Search(wl, float(budget_s), records, int(trials_per_kernel), measure, progress, seed, verify_n, audit)
        s.prebuild = scheduler is None
        if baseline_trials:
            s.baseline_trials = int(baseline_trials)
        baseline = s.run_baseline()
        base_total = s.total(baseline)
        specs = _parse_specs(families, candidates)
        if candidates is None and dataflow:
            known = {sp.key for sp in specs}
            specs += [sp for sp in _dataflow_specs(s, s.notes, dataflow_top) if sp.key not in known]
        rq = isa_ext.get(REQUANT_EXT) if wl.has_requantize else None

        results: list[CandidateResult] = []
        units: dict[str, list] = {}
        for i, spec in enumerate(specs):
            s.emit("build", i, len(specs), spec.key)
            cand = CandidateResult(spec.key, spec.source, [spec.ext_name], "", spec=spec.to_json(),
                                   evidence=spec.evidence)
            results.append(cand)
            try:
                cand.description = spec.describe()
                ext = build_candidate(spec)
                isa_ext.register(ext, replace=True)
            except Exception as e:  # noqa: BLE001 - any builder failure is a generator bug
                cand.status, cand.reason = Status.BUILD_FAILED, f"{type(e).__name__}: {e}"
                continue
            unit = [ext] + ([rq] if rq is not None and "elementwise" not in _pattern_kinds(ext) else [])
            cand.exts = [e.name for e in unit]
            cand.instructions = [x for e in unit for x in _instructions(e)]
            units[cand.key] = unit
        ref = None
        if reference:
            unit = [isa_ext.get(REFERENCE_EXT)] + ([rq] if rq is not None else [])
            ref = CandidateResult("reference: " + "+".join(e.name for e in unit), "reference", [e.name for e in unit],
                                  "hand-designed: " + "; ".join(e.doc.split(": ", 1)[-1].rstrip(".") for e in unit))
            ref.instructions = [x for e in unit for x in _instructions(e)]
            units[ref.key] = unit

        cpu = _cpu_figures(s)
        todo = [c for c in results if c.key in units] + ([ref] if ref is not None else [])
        checks, resumed = _check_units([units[c.key] for c in todo], verify_n, seed,
                                       measure if scheduler is not None else None,
                                       lambda i: s.emit("verify", i, len(todo), todo[i].key if i < len(todo) else ""),
                                       s.notes, s.checks)
        s.n_checks_resumed += resumed
        for i, (cand, chk) in enumerate(zip(todo, checks)):
            unit = units[cand.key]
            cand.seconds.update(chk["seconds"])
            if chk["verify"] is None:
                cand.status, cand.reason = Status.VERIFY_FAILED, chk["error"]
                continue
            cand.verify = chk["verify"]
            if chk["area"] is None:
                cand.status, cand.reason = Status.SYNTHESIS_FAILED, chk["error"]
                continue
            cand.area = chk["area"]
            if cpu is not None:
                cand.area_fraction = _area_fraction(cand.area, cpu)
            s.emit("estimate", i, len(todo), cand.key)
            s.ests[cand.key], served = s.kernel_estimates(unit)
            cand.estimate = s.predict(s.ests[cand.key])
            if not served and cand is not ref:
                # no template of the workload offers the unit's intrinsic: nothing to measure
                cand.status, cand.reason = Status.NO_GAIN, NO_USE
                cand.cycles, cand.speedup = base_total, 1.0
                cand.kernels = [KernelResult(k.label, k.count, k.task, k.cycles, k.config, False, True)
                                for k in baseline]

        best = base_total
        front: list[tuple[float, float]] = [(0.0, base_total)]  # (LUTs, cycles) measured so far, rv32im first

        def beaten_by(lut: float | None) -> float:
            """The fewest cycles measured so far with at most ``lut`` LUTs."""
            return min(c for a, c in front if lut is None or a <= lut)

        if ref is not None and ref.area is not None:
            s.measure_unit(ref, units[ref.key])
            best = min(best, ref.cycles)
            front.append((float(ref.lut or 0), ref.cycles))
        ok = sorted((c for c in results if c.area is not None and c.status != Status.NO_GAIN),
                    key=lambda c: (c.estimate, c.key))
        pruned: list[CandidateResult] = []
        for i, cand in enumerate(ok):
            if s.over_budget():
                cand.status, cand.reason = Status.BUDGET, f"the {budget_s:g} s budget ran out before it was measured"
                continue
            cand.estimate = s.predict(s.ests[cand.key])  # with the calibration of what was measured so far
            rival = beaten_by(cand.lut)
            # a unit that only serves stage kernels (requantize, elementwise ops, a pool) cannot win alone
            # but can pay in the combination, and its stages are cheap to measure: never pruned
            stage_only = combine and bool(s.ests[cand.key]) and all(
                k.is_stage for k in s.wl.kernels if k.label in s.ests[cand.key])
            if cand.estimate * prune_margin > rival and not stage_only:
                cand.status = Status.PRUNED
                cand.reason = (f"static estimate {cand.estimate:,.0f} cycles: even {1 / prune_margin:.2f}x better it "
                               f"would lose to {rival:,.0f} measured with at most its {cand.lut} LUTs")
                pruned.append(cand)
                continue
            s.emit("measure", i, len(ok), cand.key)
            s.measure_unit(cand, units[cand.key])
            best = min(best, cand.cycles)
            front.append((float(cand.lut or 0), cand.cycles))
        # the pruning's check: measure the pruned candidates nearest to winning
        for j, cand in enumerate(sorted(pruned, key=lambda c: c.estimate)[:audit]):
            if s.over_budget():
                s.notes.append("prune audit skipped: the budget ran out")
                break
            s.emit("audit", j, min(audit, len(pruned)), cand.key)
            s.measure_unit(cand, units[cand.key])
            cand.audited = True
            cand.would_have_won = cand.cycles < beaten_by(cand.lut)  # it would have reached the front
        for cand in [*ok, *([ref] if ref is not None else [])]:
            if cand.cycles is None:
                continue
            cand.speedup = base_total / cand.cycles
            if cand.status == Status.PRUNED:
                continue  # an audited one stays pruned: its figures are in the report
            # the unit itself must make a kernel faster: a gain of its requant_i8 partner alone is no gain
            _settle(cand, {cand.exts[0]})
        if combine and not s.over_budget():
            combo = _combination(s, results, units, rq, cpu, base_total)
            if combo is not None:
                results.append(combo)
            # the best combination does not fit the board's FPGA: also the best one that does
            if (part is not None and combo is not None and combo.area is not None
                    and over_capacity(combo.area, part, cpu) and not s.over_budget()):
                picked = frozenset(combo.key.removeprefix("combination: ").split(" + "))
                small = _combination(s, results, units, rq, cpu, base_total, part=part, skip=picked)
                if small is not None:
                    results.append(small)
        report = SearchReport(wl, base_total, baseline, results, ref, cpu, time.monotonic() - s.t0, str(records),
                              None if out_dir is None else str(out_dir), s.n_measured, s.n_resumed, s.notes, part,
                              s.n_checks_resumed)
        from .report import mark_pareto, write_report

        mark_pareto(report._front_pool())
        if out_dir is not None:
            write_report(report, out_dir)
        s.emit("done", 1, 1, message=f"{report.counts['ranked']} ranked")
        return report


__all__ = ["CandidateResult", "KernelResult", "PRUNE_MARGIN", "SearchProgress", "SearchReport", "SeededXGBTuner",
           "Status", "check_set", "check_unit", "search_isa"]
