"""Tuning records: JSON Lines, one measurement per line, appended and flushed as results arrive.

Each line::

    {"task": key, "template": name, "args": [...], "target": "vexriscv", "tuner": "ga",
     "config": {"index": 17, "knobs": {...}}, "result": {MeasureResult fields},
     "timestamp": ..., "versions": {"isaforge": ..., "python": ..., "xgboost": ...}}

``load_records`` never fails on a bad line: a corrupt or truncated line is skipped, reported as a
``RecordProblem(line_no, reason)`` and with a ``warnings.warn``.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .measure import MeasureResult
from .space import AutotuneError


@dataclass
class RecordProblem:
    line_no: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}"


@dataclass
class Record:
    task: str
    template: str
    args: tuple
    target: str
    config: dict
    result: MeasureResult
    timestamp: float
    versions: dict
    tuner: str | None = None
    line_no: int = 0

    @property
    def config_index(self) -> int:
        return int(self.config.get("index", self.result.config_index))

    def to_json(self) -> dict:
        return {"task": self.task, "template": self.template, "args": list(self.args), "target": self.target,
                "tuner": self.tuner, "config": self.config, "result": self.result.to_json(),
                "timestamp": self.timestamp, "versions": self.versions}


class RecordWarning(UserWarning):
    """A line of a records file could not be read (it is skipped)."""


@cache
def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def v(*names):
        for n in names:
            try:
                return version(n)
            except PackageNotFoundError:
                continue
        return None

    return {"isaforge": v("isaforge"), "python": platform.python_version(), "xgboost": v("xgboost", "xgboost-cpu")}


def make_record(task, config, result: MeasureResult, tuner: str | None = None) -> Record:
    return Record(task.key, task.name, tuple(task.args), task.target, config.to_json(), result,
                  time.time(), versions(), tuner)


_REQUIRED = ("task", "template", "args", "target", "config", "result")


def parse_record(line: str, line_no: int = 0) -> Record:
    """One record from a line (raises ValueError with the reason)."""
    try:
        d = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(d, dict):
        raise ValueError(f"expected a JSON object, got {type(d).__name__}")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    try:
        res = MeasureResult.from_json(d["result"])
        cfg = d["config"]
        if not isinstance(cfg, dict) or "knobs" not in cfg:
            raise ValueError("config lacks 'knobs'")
        return Record(str(d["task"]), str(d["template"]), tuple(d["args"]), str(d["target"]), cfg, res,
                      float(d.get("timestamp", 0.0)), dict(d.get("versions") or {}), d.get("tuner"), line_no)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed record: {e}") from None


def load_records(path, task=None, warn: bool = True) -> tuple[list[Record], list[RecordProblem]]:
    """All readable records of a file (of ``task`` only, if given) and the problems of the others."""
    records: list[Record] = []
    problems: list[RecordProblem] = []
    p = Path(path)
    if not p.exists():
        return records, problems
    data = p.read_bytes()
    lines = data.split(b"\n")
    for no, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last_unterminated = no == len(lines) and not data.endswith(b"\n")
        try:
            rec = parse_record(raw.decode("utf-8"), no)
        except UnicodeDecodeError:
            problems.append(RecordProblem(no, "not UTF-8 text"))
            continue
        except ValueError as e:
            reason = str(e)
            if last_unterminated:
                reason = f"truncated last line (no newline; an interrupted write?): {reason}"
            problems.append(RecordProblem(no, reason))
            continue
        if task is None or rec.task == task.key:
            records.append(rec)
    if warn:
        for pr in problems:
            warnings.warn(f"{p}: skipping {pr}", RecordWarning, stacklevel=2)
    return records, problems


class RecordWriter:
    """Appends records to a JSON Lines file, one flushed line per result."""

    def __init__(self, path, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        self._f = open(self.path, "a", encoding="utf-8")
        if needs_newline:  # a truncated last line must not swallow the next record
            self._f.write("\n")
            self._f.flush()

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def write(self, record: Record) -> None:
        self._f.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def best_records(path, warn: bool = True) -> dict[str, Record]:
    """The best valid record of each task in a file (lowest cost; ties: earliest)."""
    recs, _ = load_records(path, warn=warn)
    best: dict[str, Record] = {}
    for r in recs:
        if not r.result.valid:
            continue
        b = best.get(r.task)
        if b is None or r.result.cost < b.result.cost:
            best[r.task] = r
    return best


class ApplyHistoryBest:
    """The best measured config per task from records files (``with apply_history_best(f) as hb``)."""

    def __init__(self, paths):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [Path(p) for p in paths]
        self._best: dict[str, Record] = {}
        self.problems: list[tuple[Path, RecordProblem]] = []
        for p in self.paths:
            recs, probs = load_records(p)
            self.problems += [(p, pr) for pr in probs]
            for r in recs:
                if r.result.valid and (r.task not in self._best or r.result.cost < self._best[r.task].result.cost):
                    self._best[r.task] = r

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __contains__(self, task) -> bool:
        return (task.key if hasattr(task, "key") else str(task)) in self._best

    def record(self, task) -> Record | None:
        return self._best.get(task.key if hasattr(task, "key") else str(task))

    def best(self, task):
        """``(config, cost)`` of the best valid record of ``task``; ``(None, None)`` if there is none."""
        r = self.record(task)
        if r is None:
            return None, None
        try:
            cfg = task.config_space.from_json(r.config)
        except AutotuneError as e:
            raise AutotuneError(f"{task.key}: the best record (line {r.line_no}) no longer fits the template's "
                                f"space: {e}") from e
        return cfg, r.result.cost

    def schedule(self, task):
        """``(schedule, args)`` of the best config of ``task``."""
        cfg, _ = self.best(task)
        if cfg is None:
            raise AutotuneError(f"no valid record of task {task.key} in {', '.join(map(str, self.paths))}")
        return task.instantiate(cfg)


def apply_history_best(path) -> ApplyHistoryBest:
    return ApplyHistoryBest(path)


__all__ = ["ApplyHistoryBest", "Record", "RecordProblem", "RecordWarning", "RecordWriter", "apply_history_best",
           "best_records", "load_records", "make_record", "parse_record", "versions"]
