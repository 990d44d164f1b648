"""Tuner base class: the measure loop, records, resume, early stopping and progress callbacks.

A subclass implements ``next_batch(n)`` (configs not yet visited) and, if it learns, ``update``.
``tune`` does the bookkeeping itself (``visited``, ``best_config``/``best_cost``, history), so a
subclass's ``update`` need not call the base.

Resuming: ``tune(n_trial, measure, records=path)`` on an existing file first loads the task's
records (skipping, with a warning, lines it cannot read and records measured under another timing
of the task's target, whose configs it measures again), feeds them to ``update`` and marks them
visited; then it measures only ``n_trial`` minus the records already there. A config is never
measured twice (a file with duplicate records, from older versions, resumes each config once).

Concurrent tuners on one records file share the work (``records.SharedRecords``): before measuring
a batch a tuner leases its configs under the file's lock; configs that another live tuner has
measured or leased are skipped, counted as in flight, and their records, once written, join this
tuner's history (and ``update``) as if it had measured them: ``TuneResult.n_shared``. A tuner that has
reached ``n_trial`` (counting configs in flight elsewhere) waits for those in flight, so every tuner's
history accounts for every config of the task in the file. Leases of a dead process are ignored: a
job killed halfway resumes from its records and measures again only what was in flight.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from .measure import MeasureResult
from .records import (
    DEFAULT_LEASE_TTL,
    RecordProblem,
    RecordWarning,
    SharedRecords,
    make_record,
    timing_problem,
    warn_problems,
)
from .space import AutotuneError, ConfigEntity


@dataclass
class TuneResult:
    best_config: ConfigEntity | None
    best_cost: float | None
    history: list = field(default_factory=list)  # (trial, config index, MeasureResult), in order
    n_measured: int = 0  # measured by this call
    n_resumed: int = 0  # loaded from the records file
    problems: list = field(default_factory=list)  # RecordProblem of record lines not resumed (unreadable, stale timing)
    n_shared: int = 0  # measured meanwhile by concurrent tuners on the same records file
    report: dict = field(default_factory=dict)  # the tuner's own account of its search (Tuner.report)

    @property
    def n_errors(self) -> int:
        return sum(1 for _, _, r in self.history if not r.valid)


class Tuner:
    """Base tuner. ``best_config``, ``best_cost`` (inf until a valid result), ``visited`` (indices).

    During ``tune`` on a shared records file ``visited`` also holds the configs that concurrent
    tuners are measuring (``in_flight``), so that ``next_batch`` does not propose them."""

    name = "base"

    def __init__(self, task, seed: int = 0):
        self.task = task
        self.space = task.config_space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.visited: set[int] = set()
        self.best_config: ConfigEntity | None = None
        self.best_cost: float = math.inf
        self.best_trial: int | None = None
        self.history: list[tuple[int, int, MeasureResult]] = []
        self.in_flight: set[int] = set()  # leased by another tuner on the shared records file

    # to implement ----------------------------------------------------------------------------------
    def next_batch(self, n: int) -> list[ConfigEntity]:
        raise NotImplementedError

    def update(self, configs: list[ConfigEntity], results: list[MeasureResult]) -> None:
        """Learn from measured configs (base: nothing; bookkeeping is done by ``tune``)."""

    def has_next(self) -> bool:
        return len(self.visited) < len(self.space)

    def pick_info(self, config) -> dict:
        """Why this config was proposed (kept in its record as ``result.extra["tuner_pick"]``; base: nothing)."""
        return {}

    def report(self) -> dict:
        """The tuner's account of its search, returned as ``TuneResult.report`` (base: nothing)."""
        return {}

    def _record(self, cfg, res):
        info = self.pick_info(cfg)
        if info:
            res = replace(res, extra={**res.extra, "tuner_pick": info})
        return make_record(self.task, cfg, res, self.name)

    # bookkeeping -----------------------------------------------------------------------------------
    def _observe(self, configs, results) -> None:
        for cfg, res in zip(configs, results):
            self.visited.add(cfg.index)
            trial = len(self.history)
            self.history.append((trial, cfg.index, res))
            if res.valid and res.cost < self.best_cost:
                self.best_cost = res.cost
                self.best_config = cfg
                self.best_trial = trial

    def _unvisited(self, configs) -> list[ConfigEntity]:
        out, seen = [], set()
        for c in configs:
            if not isinstance(c, ConfigEntity):
                c = self.space.get(int(c))
            if c.index not in self.visited and c.index not in seen:
                seen.add(c.index)
                out.append(c)
        return out

    def load_history(self, records, problems: list | None = None) -> int:
        """Feed records (of this task) to the tuner as if measured; returns how many were new.

        A record whose config no longer fits the template's space (the template gained or changed a
        knob) is skipped with a RecordWarning and, given ``problems``, a RecordProblem appended to it;
        so is one measured under another timing of the task's target (a ``records.TimingProblem``: the
        tuner may measure its config again). A record of a config already in the history (a
        duplicate) is skipped."""
        configs, results = self._history_of(records, problems)
        if configs:
            self._observe(configs, results)
            self.update(configs, results)
        return len(configs)

    def _history_of(self, records, problems):
        in_flight = getattr(self, "in_flight", set())
        configs, results, seen = [], [], set()
        stale = []
        for r in records:
            pr = timing_problem(r, self.task.target_object, "measured again")
            if pr is not None:  # (SharedRecords leaves these out already; load_history may be given them)
                stale.append(pr)
                continue
            try:
                cfg = self.space.from_json(r.config, reindex=True)
            except AutotuneError as e:
                pr = RecordProblem(getattr(r, "line_no", 0), f"config no longer fits the template's space ({e})")
                warnings.warn(f"{self.task.key}: skipping record {pr}", RecordWarning, stacklevel=2)
                if problems is not None:
                    problems.append(pr)
                continue
            if cfg.index in seen or (cfg.index in self.visited and cfg.index not in in_flight):
                continue
            seen.add(cfg.index)
            in_flight.discard(cfg.index)
            res = r.result
            if res.config_index != cfg.index:
                res = MeasureResult(cfg.index, res.cost, res.error, res.message, res.timestamp, res.elapsed, res.extra)
            configs.append(cfg)
            results.append(res)
        if stale:
            warn_problems(self.task.key, stale, stacklevel=3)
            if problems is not None:
                problems += stale
        return configs, results

    def _sync(self, shared: SharedRecords, problems: list, callbacks, orphans: list, refresh: bool = True) -> int:
        """Take in the records and leases of concurrent tuners; returns how many records joined the history.

        A config another tuner leased but left without a record (it died) goes back to ``orphans``:
        this tuner skipped it, so it measures it itself."""
        if refresh:
            shared.refresh()
        recs, probs = shared.take_new()
        warn_problems(shared.path, probs, stacklevel=3)
        problems += probs
        configs, results = self._history_of(recs, problems)
        if configs:
            self._observe(configs, results)
            self.update(configs, results)
            for cb in callbacks:
                cb(self, configs, results)
        leased = shared.foreign_leases()
        for i in sorted(self.in_flight - leased):  # abandoned: no record, no live lease
            self.in_flight.discard(i)
            self.visited.discard(i)
            orphans.append(self.space.get(i))
        for i in leased - self.visited:
            self.in_flight.add(i)
            self.visited.add(i)
        return len(configs)

    # the loop --------------------------------------------------------------------------------------
    def tune(self, n_trial: int, measure, records=None, early_stopping: int | None = None, callbacks=(),
             batch_size: int | None = None, lease_ttl: float = DEFAULT_LEASE_TTL, poll: float = 0.2) -> TuneResult:
        """Measure up to ``n_trial`` configs in total (counting resumed records) and return the best.

        ``records``: a JSON Lines file, resumed and appended to, which concurrent tuners may share
        (``lease_ttl``: seconds a lease holds at most; ``poll``: seconds between looks while waiting
        for configs other tuners are measuring)."""
        if callable(callbacks):
            callbacks = (callbacks,)
        batch_size = batch_size or max(8, getattr(measure, "n_parallel", None) or 1)
        problems: list = []
        n_resumed = n_measured = n_shared = 0
        shared = None
        orphans: list[ConfigEntity] = []
        self.in_flight = set()
        if records is not None:
            shared = SharedRecords(records, self.task, lease_ttl=lease_ttl)
            n_resumed = self._sync(shared, problems, (), orphans, refresh=False)
        for cb in callbacks:
            if hasattr(cb, "start"):
                cb.start(self, n_trial)
        try:
            while len(self.history) < n_trial:
                want = min(batch_size, n_trial - len(self.history) - len(self.in_flight))
                batch = []
                if want > 0 and (orphans or self.has_next()):
                    take, orphans[:] = orphans[:want], orphans[want:]
                    more = self.next_batch(want - len(take)) if len(take) < want and self.has_next() else []
                    batch = self._unvisited(take + list(more))[:want]
                if shared is not None and batch:
                    got = set(shared.claim([c.index for c in batch]))
                    for c in batch:
                        if c.index not in got:  # another tuner has it: wait for its record
                            self.visited.add(c.index)
                            self.in_flight.add(c.index)
                    batch = [c for c in batch if c.index in got]
                    n_shared += self._sync(shared, problems, callbacks, orphans, refresh=False)
                    room = max(0, n_trial - len(self.history) - len(self.in_flight))
                    if len(batch) > room:  # others' records arrived meanwhile: give back what is not needed
                        shared.release([c.index for c in batch[room:]])
                        batch = batch[:room]
                if not batch:
                    if shared is None or not (self.in_flight or orphans):
                        break
                    time.sleep(poll)  # configs are in flight in other tuners (any orphan waits for room)
                    n_shared += self._sync(shared, problems, callbacks, orphans)
                    continue
                results = self._measure(measure, batch, shared)
                n_measured += len(batch)
                self._observe(batch, results)
                self.update(batch, results)
                for cb in callbacks:
                    cb(self, batch, results)
                if shared is not None:
                    n_shared += self._sync(shared, problems, callbacks, orphans)
                if early_stopping is not None and self.best_trial is not None \
                        and len(self.history) - 1 - self.best_trial >= early_stopping:
                    break
            while shared is not None and self.in_flight:  # done: wait for the configs still in flight
                time.sleep(poll)
                n_shared += self._sync(shared, problems, callbacks, orphans)
                orphans.clear()  # abandoned by a dead tuner after this one finished: not needed
        finally:
            if shared is not None:
                shared.close()
            self.visited -= self.in_flight  # interrupted while others measure these: not visited here
            self.in_flight = set()
            for cb in callbacks:
                if hasattr(cb, "finish"):
                    cb.finish(self)
        return TuneResult(self.best_config, None if math.isinf(self.best_cost) else self.best_cost,
                          list(self.history), n_measured, n_resumed, problems, n_shared, self.report())

    def _measure(self, measure, batch, writer) -> list[MeasureResult]:
        stream = getattr(measure, "iter_results", None)
        if stream is None:
            results = list(measure(self.task, batch))
            if len(results) != len(batch):
                raise AutotuneError(f"measure returned {len(results)} results for {len(batch)} configs")
            if writer is not None:
                for cfg, res in zip(batch, results):
                    writer.write(self._record(cfg, res))
            return results
        results: list[MeasureResult | None] = [None] * len(batch)
        for pos, res in stream(self.task, batch):  # as they complete: each is on disk at once
            results[pos] = res
            if writer is not None:
                writer.write(self._record(batch[pos], res))
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise AutotuneError(f"measure gave no result for {len(missing)} config(s)")
        return results


class ProgressBar:
    """A one-line progress display on ``stream`` (stderr): trials done, best cost, errors."""

    def __init__(self, total: int | None = None, stream=None, unit: str = "cost"):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.t0 = time.time()
        self.errors = 0

    def start(self, tuner, n_trial):
        if self.total is None:
            self.total = n_trial
        self.t0 = time.time()
        self.errors = sum(1 for _, _, r in tuner.history if not r.valid)
        self._draw(tuner)

    def __call__(self, tuner, configs, results):
        self.errors += sum(1 for r in results if not r.valid)
        self._draw(tuner)

    def _draw(self, tuner):
        done = len(tuner.history)
        best = "-" if math.isinf(tuner.best_cost) else f"{tuner.best_cost:.6g}"
        bar_w = 24
        frac = done / self.total if self.total else 0.0
        bar = "#" * int(bar_w * min(1.0, frac))
        self.stream.write(f"\r[{bar:<{bar_w}}] {done}/{self.total} best {self.unit} {best}  errors {self.errors}  "
                          f"{time.time() - self.t0:.0f}s")
        self.stream.flush()

    def finish(self, tuner):
        self._draw(tuner)
        self.stream.write("\n")
        self.stream.flush()


def progress_bar(total: int | None = None, stream=None, unit: str = "cost") -> ProgressBar:
    """A callback for ``Tuner.tune(callbacks=[...])`` showing the best cost so far (stderr)."""
    return ProgressBar(total, stream, unit)


__all__ = ["ProgressBar", "TuneResult", "Tuner", "progress_bar"]
