"""Candidate instructions: one generator from a parameter set to a full extension.

A :class:`CandidateSpec` names a family and its parameters (hashable, JSON-friendly); the family's
builder turns it into an :class:`~isa_ext.extension.Extension` with everything an extension has
(reference semantics, C model, Verilog, encodings) and its tensor intrinsics attached. The
instruction search (a package above the simulator) enumerates specs, from the parametric families
registered here and from the dataflow of kernels, builds each one with :func:`build_candidate`,
verifies it in Verilator, synthesizes it, and tunes the workload's kernels with it.

    isa_ext.candidates.family_names()              -> registered families
    isa_ext.candidates.enumerate_family("dot")     -> the family's parameter grid, as specs
    isa_ext.candidates.enumerate_candidates()      -> every family's grid
    isa_ext.candidates.build_candidate(spec)       -> Extension (intrinsics attached), cached per spec

Encoding convention: a candidate owns funct3 values 0-4, 6 and 7 only. funct3 = 5 stays free for
``requant_i8``, so that every candidate can share one CFU with the built-in requantizer (a workload
with requantize stages measures candidate + requant_i8).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension

REQUANT_FUNCT3 = 5  # left to requant_i8 by every candidate


@dataclass(frozen=True)
class CandidateSpec:
    """One candidate instruction set: ``family`` plus sorted ``(name, value)`` parameters.

    ``source`` says where it came from (``"family"``: a parametric grid; ``"dataflow"``: a subgraph
    of a kernel's loop body); ``evidence`` is free text from the generator (e.g. which kernels' loop
    bodies hold the pattern and the estimated gain), not part of the identity.
    """

    family: str
    params: tuple[tuple[str, object], ...] = ()
    source: str = "family"
    evidence: str = field(default="", compare=False, hash=False)

    @staticmethod
    def of(family: str, source: str = "family", evidence: str = "", **params) -> CandidateSpec:
        return CandidateSpec(family, tuple(sorted(params.items())), source, evidence)

    @property
    def p(self) -> dict:
        return dict(self.params)

    @property
    def key(self) -> str:
        """A stable text key, e.g. ``dot(dtype=int8,lanes=4)``: records and reports use it."""
        return f"{self.family}(" + ",".join(f"{k}={_fmt(v)}" for k, v in self.params) + ")"

    @property
    def ext_name(self) -> str:
        """The extension's name: a lower-case C identifier derived from the key."""
        body = "_".join(_fmt(v) for _, v in self.params)
        return _ident(f"c_{self.family}_{body}" if body else f"c_{self.family}")

    def describe(self) -> str:
        """What one instruction computes, in one line (from the family)."""
        return _family(self.family).describe(self)

    def to_json(self) -> dict:
        return {"family": self.family, "params": [[k, v] for k, v in self.params], "source": self.source,
                "evidence": self.evidence}

    @staticmethod
    def from_json(d: dict) -> CandidateSpec:
        return CandidateSpec(d["family"], tuple((k, _tuplify(v)) for k, v in d["params"]), d.get("source", "family"),
                             d.get("evidence", ""))


def _tuplify(v):
    return tuple(_tuplify(x) for x in v) if isinstance(v, list) else v


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return "x".join(_fmt(x) for x in v)
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _ident(s: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "_", s.lower()).strip("_")
    return re.sub(r"_+", "_", s)


@dataclass(frozen=True)
class Family:
    """A parametric family: ``grid()`` -> specs, ``build(spec)`` -> Extension, ``describe(spec)`` -> str."""

    name: str
    doc: str
    grid: Callable[[], list[CandidateSpec]]
    build: Callable[[CandidateSpec], Extension]
    describe: Callable[[CandidateSpec], str]


_FAMILIES: dict[str, Family] = {}
_BUILT: dict[CandidateSpec, Extension] = {}
_LOADED = False


def register_family(family: Family, *, replace: bool = False) -> Family:
    """Add a family (by name). Returns it."""
    if family.name in _FAMILIES and not replace:
        raise ExtensionError(f"a candidate family named {family.name!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import isa_ext.families  # noqa: F401  (registers the parametric families)


def _family(name: str) -> Family:
    _ensure_loaded()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ExtensionError(f"unknown candidate family {name!r}; known: {sorted(_FAMILIES)}") from None


def family_names() -> list[str]:
    _ensure_loaded()
    return sorted(_FAMILIES)


def enumerate_family(name: str) -> list[CandidateSpec]:
    """The parameter grid of one family."""
    return list(_family(name).grid())


def enumerate_candidates(families: Iterable[str] | None = None) -> list[CandidateSpec]:
    """Every registered family's grid (or only ``families``'), in family-name order."""
    return [s for f in (family_names() if families is None else families) for s in enumerate_family(f)]


def build_candidate(spec: CandidateSpec) -> Extension:
    """The full extension of ``spec`` (semantics, C model, Verilog, encodings, tensor intrinsics).

    Built once per spec; the extension is named ``spec.ext_name`` and is not registered (the caller
    registers it when a schedule needs ``isa_ext.get``). Raises ExtensionError naming the spec when
    the family's builder rejects its parameters.
    """
    if spec in _BUILT:
        return _BUILT[spec]
    fam = _family(spec.family)
    try:
        ext = fam.build(spec)
    except ExtensionError as e:
        raise ExtensionError(f"candidate {spec.key}: {e}") from e
    if not isinstance(ext, Extension):
        raise ExtensionError(f"candidate {spec.key}: family {fam.name!r} built {type(ext).__name__}, not an Extension")
    used = {op.funct3 for op in ext.ops}
    if REQUANT_FUNCT3 in used and spec.family != "requant":
        raise ExtensionError(f"candidate {spec.key}: uses funct3 {REQUANT_FUNCT3}, which candidates leave to "
                             "requant_i8")
    _BUILT[spec] = ext
    return ext


__all__ = [
    "REQUANT_FUNCT3", "CandidateSpec", "Family", "build_candidate", "enumerate_candidates", "enumerate_family",
    "family_names", "register_family",
]
