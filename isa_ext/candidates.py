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

Re-encoding: every family's units can be built with other funct3 values, so that two units whose
default encodings collide (two stationary units, or dot4 and lane_mac, both at function_id 0) share
one CFU. A spec with the parameter ``funct3`` (a tuple: the new value of each of the unit's default
funct3 values, in ascending order of those) is the same unit re-encoded; its key and extension name
say so. :func:`fit_encoding` finds such a re-encoding beside the function ids already taken.

    isa_ext.candidates.encoding_slots(spec)              -> the unit's default funct3 values, ascending
    isa_ext.candidates.reencode(spec, (3, 4))            -> the spec re-encoded (6 -> 3, 7 -> 4)
    isa_ext.candidates.fit_encoding(spec, taken_fids)    -> spec (as is or re-encoded) that fits, or None
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension, funct3_remapped, function_id

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
    remap = _remap_of(spec)
    try:
        if remap:
            with funct3_remapped(remap):
                ext = fam.build(spec)
        else:
            ext = fam.build(spec)
    except ExtensionError as e:
        raise ExtensionError(f"candidate {spec.key}: {e}") from e
    if not isinstance(ext, Extension):
        raise ExtensionError(f"candidate {spec.key}: family {fam.name!r} built {type(ext).__name__}, not an Extension")
    if remap and {op.funct3 for op in ext.ops} != set(remap.values()):
        raise ExtensionError(f"candidate {spec.key}: family {fam.name!r} did not take the re-encoding {remap} "
                             f"(its ops use funct3 {sorted({op.funct3 for op in ext.ops})})")
    used = {op.funct3 for op in ext.ops}
    if REQUANT_FUNCT3 in used and spec.family != "requant":
        raise ExtensionError(f"candidate {spec.key}: uses funct3 {REQUANT_FUNCT3}, which candidates leave to "
                             "requant_i8")
    _BUILT[spec] = ext
    return ext


ENCODING_PARAM = "funct3"  # the spec parameter of a re-encoded unit


def base_spec(spec: CandidateSpec) -> CandidateSpec:
    """``spec`` with its default encodings (without the ``funct3`` parameter)."""
    if ENCODING_PARAM not in spec.p:
        return spec
    return CandidateSpec(spec.family, tuple((k, v) for k, v in spec.params if k != ENCODING_PARAM), spec.source,
                         spec.evidence)


def encoding_slots(spec: CandidateSpec) -> tuple[int, ...]:
    """The funct3 values the unit of ``spec`` uses with its default encodings, ascending."""
    return tuple(sorted({op.funct3 for op in build_candidate(base_spec(spec)).ops}))


def _remap_of(spec: CandidateSpec) -> dict[int, int] | None:
    new = spec.p.get(ENCODING_PARAM)
    if new is None:
        return None
    new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
    slots = encoding_slots(spec)
    if len(new) != len(slots) or len(set(new)) != len(new) or any(not (0 <= int(v) <= 7) for v in new):
        raise ExtensionError(f"candidate {spec.key}: {ENCODING_PARAM} must be {len(slots)} distinct values in "
                             f"[0, 7] (new values of its funct3 {slots}), got {new}")
    if REQUANT_FUNCT3 in new and spec.family != "requant":
        raise ExtensionError(f"candidate {spec.key}: funct3 {REQUANT_FUNCT3} stays requant_i8's")
    return dict(zip(slots, (int(v) for v in new)))


def reencode(spec: CandidateSpec, funct3s: Sequence[int]) -> CandidateSpec:
    """The unit of ``spec`` with the funct3 values ``funct3s`` in place of its default ones
    (:func:`encoding_slots`, in that order); the default values themselves give the base spec."""
    base = base_spec(spec)
    new = tuple(int(v) for v in funct3s)
    if new == encoding_slots(base):
        return base
    out = CandidateSpec(base.family, tuple(sorted((*base.params, (ENCODING_PARAM, new)))), base.source,
                        base.evidence)
    _remap_of(out)  # checks the values
    return out


def _slot_funct7s(ext: Extension) -> dict[int, set[int]]:
    """funct3 -> the funct7 values the unit's ops use at it."""
    out: dict[int, set[int]] = {}
    for op in ext.ops:
        out.setdefault(op.funct3, set()).update({fid >> 3 for fid in op.function_ids})
    return out


def fit_encoding(spec: CandidateSpec, taken: Iterable[int]) -> CandidateSpec | None:
    """``spec`` as is when its function ids avoid ``taken`` (function ids of the units already in the
    CFU), else the first re-encoding of it (:func:`reencode`; funct3 5 stays requant_i8's) whose
    function ids avoid them; None when there is none. Units share a funct3 value when their funct7
    values there differ (the CFU routes by function id)."""
    taken = set(taken)
    base = build_candidate(base_spec(spec))
    per_slot = _slot_funct7s(base)
    slots = tuple(sorted(per_slot))
    values = [v for v in range(8) if v != REQUANT_FUNCT3 or spec.family == "requant"]
    cur = spec.p.get(ENCODING_PARAM)
    current = slots if cur is None else tuple(cur) if isinstance(cur, (tuple, list)) else (cur,)
    for new in itertools.chain([current, slots], itertools.permutations(values, len(slots))):
        if all(function_id(f7, n) not in taken for s, n in zip(slots, new) for f7 in per_slot[s]):
            return reencode(spec, new)
    return None


__all__ = [
    "ENCODING_PARAM", "REQUANT_FUNCT3", "CandidateSpec", "Family", "base_spec", "build_candidate",
    "encoding_slots", "enumerate_candidates", "enumerate_family", "family_names", "fit_encoding", "reencode",
    "register_family",
]
