"""Tuning records: JSON Lines, one measurement per line, appended and flushed as results arrive.

Each line::

    {"task": key, "template": name, "args": [...], "target": "vexriscv", "tuner": "ga",
     "config": {"index": 17, "knobs": {...}}, "result": {MeasureResult fields},
     "timestamp": ..., "versions": {"isaforge": ..., "python": ..., "xgboost": ...}}

``load_records`` never fails on a bad line: a corrupt or truncated line is skipped, reported as a
``RecordProblem(line_no, reason)`` and with a ``warnings.warn``.

Sharing one file between concurrent tuners (``SharedRecords``, used by ``Tuner.tune``): every read
and every append happens under an exclusive ``fcntl.flock`` on the records file, and each line is
written with one ``os.write`` on an ``O_APPEND`` descriptor, so a line is never interleaved with
another writer's or read half-written. Before measuring a config a tuner takes a *lease* on it: under
the same lock it reads the records appended since its last look and the leases, and claims only the
configs that have no record and no live lease of another tuner. Leases live beside the records, in
``<records>.leases`` (JSON Lines, one lease per line)::

    {"task": key, "config_index": 17, "owner": "<random hex>", "pid": 4242, "host": "...",
     "pid_start": <start time of pid in clock ticks, or null>, "time": ..., "expires": ...}

They are kept out of the records file so that its lines stay exactly one measurement each (old
readers, line numbers, ``wc -l``). A lease is live while it has not expired and, on this host, its
pid is alive and is still the same process (same start time; a zombie counts as dead): a tuner killed
by ``kill -9`` leaves stale leases that every other tuner ignores, so a resumed job measures those
configs again. A lease needs no release once its record is written; ``close`` drops the unfulfilled
ones. Files without a ``.leases`` file (all older files) load as before.

Timing: a cost in cycles holds for the timing of the target it was measured on, and a target's
timing can change under its name (``vexriscv`` was calibrated from an ideal RAM to one wait state).
So each record also stores ``"timing"``: the target's ``codegen_c.Target.timing_key()`` when it was
measured (``""`` for host targets, which have no cycle model). A record whose timing differs from its
target's timing today is no measurement of that target: ``load_records`` (and so ``best_records``,
``apply_history_best``, ``isaforge export-litex --records``) leaves it out, and a resumed tuner
(``SharedRecords``, ``Tuner.load_history``) measures its config again; either way it is reported as a
:class:`TimingProblem` and with one ``RecordWarning`` per read. The xgb tuner's transfer learning
still learns from such records (a down-weighted prior, kept apart from those of today's timing:
cycles under another timing still rank configs alike). A record *without* the field (every file
written before it existed) is taken as measured under today's timing, as before: old files resume
without measuring anything again.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import socket
import time
import uuid
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .measure import MeasureResult
from .space import AutotuneError


@dataclass
class RecordProblem:
    """A line of a records file that is not used: ``reason`` says why."""

    line_no: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}"


@dataclass
class TimingProblem(RecordProblem):
    """A readable record measured under another timing of its target (``timing``, the record's
    ``Target.timing_key()``; ``current``, the target's today): not used as a measurement of it."""

    task: str = ""
    target: str = ""
    timing: str = ""
    current: str = ""


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
    #: the target's ``timing_key()`` when measured; None: not recorded (a line from before the field)
    timing: str | None = None

    @property
    def config_index(self) -> int:
        return int(self.config.get("index", self.result.config_index))

    def to_json(self) -> dict:
        d = {"task": self.task, "template": self.template, "args": list(self.args), "target": self.target,
             "tuner": self.tuner, "config": self.config, "result": self.result.to_json(),
             "timestamp": self.timestamp, "versions": self.versions}
        if self.timing is not None:
            d["timing"] = self.timing
        return d


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
    """The record of ``result``, a measurement of ``config`` of ``task`` now (under its target's timing)."""
    return Record(task.key, task.name, tuple(task.args), task.target, config.to_json(), result,
                  time.time(), versions(), tuner, timing=current_timing(getattr(task, "target_object", task.target)))


def current_timing(target) -> str | None:
    """``timing_key()`` of a target (a name or a Target); None for a name no registered target has."""
    from codegen_c.target import UnknownTargetError, get_target

    try:
        return get_target(target).timing_key()
    except UnknownTargetError:
        return None


def timing_problem(record: Record, target=None, action: str = "not used") -> TimingProblem | None:
    """A :class:`TimingProblem` when ``record`` was measured under another timing of ``target`` (default:
    the record's own target) than the target's today, else None. A record without a timing (older
    lines) and one whose target is not registered here are taken as they are. ``action`` ends the
    reason: what becomes of the record."""
    if record.timing is None:
        return None
    target = record.target if target is None else target
    now = current_timing(target)
    if now is None or record.timing == now:
        return None
    from codegen_c.target import get_target

    t = get_target(target)
    reason = (f"measured under another timing of target {t.name!r} (timing {record.timing or 'none'}, "
              f"now {now or 'none'}: {t.describe_timing()}): {action}")
    return TimingProblem(record.line_no, reason, record.task, t.name, record.timing, now)


def warn_problems(where, problems, stacklevel: int = 2) -> None:
    """One ``RecordWarning`` per problem, but one for all the :class:`TimingProblem` of a target
    (a whole file of them is one event, not hundreds of lines)."""
    timing: dict[tuple, list[TimingProblem]] = {}
    for pr in problems:
        if isinstance(pr, TimingProblem):
            timing.setdefault((pr.target, pr.timing, pr.current), []).append(pr)
        else:
            warnings.warn(f"{where}: skipping {pr}", RecordWarning, stacklevel=stacklevel + 1)
    for group in timing.values():
        pr = group[0]
        lines = ", ".join(str(p.line_no) for p in group[:8]) + (", ..." if len(group) > 8 else "")
        head = f"line {pr.line_no}" if len(group) == 1 else f"{len(group)} records (lines {lines})"
        warnings.warn(f"{where}: {head}: {pr.reason}", RecordWarning, stacklevel=stacklevel + 1)


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
        timing = d.get("timing")
        if timing is not None and not isinstance(timing, str):
            raise ValueError(f"timing must be a string, got {type(timing).__name__}")
        return Record(str(d["task"]), str(d["template"]), tuple(d["args"]), str(d["target"]), cfg, res,
                      float(d.get("timestamp", 0.0)), dict(d.get("versions") or {}), d.get("tuner"), line_no,
                      timing)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed record: {e}") from None


def load_records(path, task=None, warn: bool = True,
                 check_timing: bool = True) -> tuple[list[Record], list[RecordProblem]]:
    """All readable records of a file (of ``task`` only, if given) and the problems of the others.

    ``check_timing``: a record measured under another timing of its target than today's is left out
    too, a :class:`TimingProblem` (see the module docstring); False keeps it (transfer learning)."""
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
            stale = timing_problem(rec) if check_timing else None
            if stale is not None:
                problems.append(stale)
                continue
            records.append(rec)
    if warn:
        warn_problems(p, problems, stacklevel=2)
    return records, problems


class RecordWriter:
    """Appends records to a JSON Lines file, one locked, unbuffered line per result."""

    def __init__(self, path, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # appends are locked (see SharedRecords) and a truncated last line is ended first
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def write(self, record: Record) -> None:
        _append_line(self._fd, _encode(record), self.fsync)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _encode(record: Record) -> bytes:
    return (json.dumps(record.to_json(), separators=(",", ":")) + "\n").encode("utf-8")


class _Flock:
    """An exclusive ``flock`` on an open descriptor, for a ``with`` block."""

    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _append_line(fd: int, line: bytes, fsync: bool = False) -> None:
    """Append one line under the file's lock; a torn last line (a killed writer) is ended first."""
    with _Flock(fd):
        size = os.fstat(fd).st_size
        if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a truncated last line must not swallow this record
        _write_all(fd, line)  # one write on an O_APPEND descriptor: never interleaved
        if fsync:
            os.fsync(fd)


DEFAULT_LEASE_TTL = 3600.0  # seconds; a backstop for leases of other hosts, whose pid cannot be checked
_HOST = socket.gethostname()


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a process from /proc, or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except FileNotFoundError:
        return ("X", 0) if os.path.isdir("/proc/self") else None
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def pid_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot), or None if unknown."""
    st = _proc_stat(pid)
    return None if st is None or st[0] == "X" else st[1]


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, given ``start``, is still the process that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    st = _proc_stat(pid)
    if st is None:
        return True
    state, started = st
    if state in ("Z", "X"):
        return False
    return start is None or started == start


def lease_live(lease: dict, now: float | None = None) -> bool:
    """Whether a lease still holds: not expired and, on this host, its process still alive."""
    now = time.time() if now is None else now
    try:
        if float(lease["expires"]) < now:
            return False
        if lease.get("host") != _HOST:
            return True  # another machine sharing the file: only the expiry tells
        return pid_alive(int(lease["pid"]), lease.get("pid_start"))
    except (KeyError, TypeError, ValueError):
        return False


class SharedRecords:
    """A records file that concurrent tuners share: locked appends, incremental reads, config leases.

    One instance per tuning run of ``task``. ``take_new()`` returns the readable records (of the
    task) and the problems found since the previous call (the first call: the whole file);
    ``claim(indices)`` leases the configs nobody measured or leases, ``write(record)`` appends a
    record (ending its lease), ``foreign_leases()`` are the configs other live tuners are measuring,
    ``close()`` drops this instance's unfulfilled leases. See the module docstring.
    """

    def __init__(self, path, task, lease_ttl: float = DEFAULT_LEASE_TTL, fsync: bool = False):
        self.path = Path(path)
        self.lease_path = self.path.with_name(self.path.name + ".leases")
        self.task = task
        self.lease_ttl = float(lease_ttl)
        self.fsync = fsync
        self.owner = uuid.uuid4().hex
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._offset = 0  # bytes of the records file read so far
        self._line_no = 0  # number of the last line started
        self._partial = False  # the last line read had no newline (a torn write): skip its rest
        self._new: list[Record] = []
        self._new_problems: list[RecordProblem] = []
        self.recorded: set[int] = set()  # config indices of the task with a record
        self.mine: dict[int, dict] = {}  # this instance's unfulfilled leases
        self._foreign: set[int] = set()
        self.refresh()

    # reading ---------------------------------------------------------------------------------------
    def _index(self, rec: Record) -> int | None:
        try:
            return self.task.config_space.from_json(rec.config, reindex=True).index
        except AutotuneError:
            return None  # a record of an older space: the tuner reports it, it blocks nothing

    def _read_records(self) -> None:
        """Parse the lines appended since the last read (the lock is held)."""
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        self._offset = size
        if self._partial:  # the rest of a torn line that a later writer ended with a newline
            nl = data.find(b"\n")
            if nl < 0:
                return
            data = data[nl + 1:]
            self._partial = False
        lines = data.split(b"\n")
        for k, raw in enumerate(lines):
            last = k == len(lines) - 1
            if last and not raw:
                break
            self._line_no += 1
            if last:
                self._partial = True  # under the lock, so no writer is mid-line: it is torn
            if not raw.strip():
                continue
            try:
                rec = parse_record(raw.decode("utf-8"), self._line_no)
            except UnicodeDecodeError:
                self._new_problems.append(RecordProblem(self._line_no, "not UTF-8 text"))
                continue
            except ValueError as e:
                reason = str(e)
                if last:
                    reason = f"truncated last line (no newline; an interrupted write?): {reason}"
                self._new_problems.append(RecordProblem(self._line_no, reason))
                continue
            if rec.task != self.task.key:
                continue
            stale = timing_problem(rec, self.task.target_object, "measured again")
            if stale is not None:  # no measurement of this target: its config is free to measure
                self._new_problems.append(stale)
                continue
            idx = self._index(rec)
            if idx is not None:
                self.recorded.add(idx)
                self.mine.pop(idx, None)
            self._new.append(rec)

    def _read_leases(self) -> list[dict]:
        try:
            data = self.lease_path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for raw in data.split(b"\n"):
            try:
                d = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # an empty line, or garbage: a lease file is replaced whole, never torn
            if isinstance(d, dict) and "config_index" in d and "owner" in d:
                out.append(d)
        return out

    def _live_leases(self) -> list[dict]:
        """The leases that still hold; the lock is held and the records are read first."""
        now = time.time()
        live = []
        for lease in self._read_leases():
            if lease.get("owner") == self.owner:
                if int(lease["config_index"]) in self.mine:
                    live.append(lease)
                continue
            if lease.get("task") == self.task.key and int(lease["config_index"]) in self.recorded:
                continue  # fulfilled
            if lease_live(lease, now):
                live.append(lease)
        return live

    def _note_foreign(self, live: list[dict]) -> None:
        self._foreign = {int(le["config_index"]) for le in live
                         if le.get("owner") != self.owner and le.get("task") == self.task.key}

    def _write_leases(self, leases: list[dict]) -> None:
        if not leases:
            try:
                self.lease_path.unlink()
            except FileNotFoundError:
                pass
            return
        tmp = self.lease_path.with_name(self.lease_path.name + ".tmp")  # one writer at a time: the lock
        tmp.write_bytes(b"".join(json.dumps(le, separators=(",", ":")).encode() + b"\n" for le in leases))
        os.replace(tmp, self.lease_path)  # readers see the old or the new file, never a mix

    def refresh(self) -> None:
        """Read the records and leases other tuners wrote since the last look."""
        with _Flock(self._fd):
            self._read_records()
            self._note_foreign(self._live_leases())

    def take_new(self) -> tuple[list[Record], list[RecordProblem]]:
        """The records (of the task) and problems read since the previous call, in file order."""
        recs, probs = self._new, self._new_problems
        self._new, self._new_problems = [], []
        return recs, probs

    def foreign_leases(self) -> set[int]:
        """Configs of the task that other live tuners lease and have not recorded (at the last look)."""
        return set(self._foreign)

    # writing ---------------------------------------------------------------------------------------
    def claim(self, indices) -> list[int]:
        """Lease those of ``indices`` that have no record and no live lease; returns them, in order.

        The records read on the way are returned by the next ``take_new``."""
        with _Flock(self._fd):
            self._read_records()
            live = self._live_leases()
            self._note_foreign(live)
            taken = self.recorded | self._foreign | set(self.mine)
            now = time.time()
            got = []
            for i in indices:
                i = int(i)
                if i in taken:
                    continue
                taken.add(i)
                lease = {"task": self.task.key, "config_index": i, "owner": self.owner, "pid": os.getpid(),
                         "host": _HOST, "pid_start": pid_start(os.getpid()), "time": now,
                         "expires": now + self.lease_ttl}
                self.mine[i] = lease
                live.append(lease)
                got.append(i)
            if got:
                self._write_leases(live)
        return got

    def write(self, record: Record) -> None:
        """Append one record (under the lock, after reading what others appended), ending its lease."""
        line = _encode(record)
        with _Flock(self._fd):
            self._read_records()  # up to date, so the line written next is this instance's own
            if self._offset > 0 and os.pread(self._fd, 1, self._offset - 1) != b"\n":
                line = b"\n" + line  # a torn last line must not swallow this record
                self._partial = False
            _write_all(self._fd, line)
            if self.fsync:
                os.fsync(self._fd)
            self._offset += len(line)
            self._line_no += 1
            idx = self._index(record)
            if idx is not None:
                self.recorded.add(idx)
                self.mine.pop(idx, None)

    def release(self, indices=None) -> None:
        """Drop this instance's unfulfilled leases (of ``indices`` only, if given; other tuners may take
        those configs at once) and the dead or fulfilled leases of the file (the lease file goes when
        none is left)."""
        if not self.mine and not self.lease_path.exists():
            return
        with _Flock(self._fd):
            self._read_records()
            if indices is None:
                self.mine.clear()
            else:
                for i in indices:
                    self.mine.pop(int(i), None)
            self._write_leases(self._live_leases())

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.release()
        finally:
            os.close(self._fd)
            self._fd = -1

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
            cfg = task.config_space.from_json(r.config, reindex=True)
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


__all__ = ["DEFAULT_LEASE_TTL", "ApplyHistoryBest", "Record", "RecordProblem", "RecordWarning", "RecordWriter",
           "SharedRecords", "TimingProblem", "apply_history_best", "best_records", "current_timing", "lease_live",
           "load_records", "make_record", "parse_record", "pid_alive", "pid_start", "timing_problem", "versions",
           "warn_problems"]
