"""Loop partitioning: what lowering does with the tail of a split that does not divide its axis.

A split of an axis of extent ``N`` by an inner extent ``f`` that does not divide ``N`` has
``E = ceil(N / f)`` outer iterations of which only ``q = N // f`` are full tiles. Each split
carries a :class:`TailStrategy` (``Stage.split(..., tail=...)``):

* ``GUARD``: the body is guarded, ``if outer * f + inner < N`` (one nest, every iteration tests);
* ``PARTITION``: the loop of ``outer`` is partitioned into a main part ``outer in [0, q)`` whose
  guard the loop bounds prove (so it disappears) and the remainder ``outer = q``, ``inner`` in
  ``[0, N - q * f)`` (every later outer iteration lies past the extent): a shortened loop when
  ``inner`` is a loop, partitioned in turn when ``inner`` is split again (k by 8, then by 4: a
  remainder of 5 is one full 4-lane tile and 1 lane), guarded otherwise;
* ``AUTO`` (the default): ``GUARD``, except where the guard would fall inside a tensorized nest
  (the stage's own, or one of a stage computed at this stage's loops): there ``PARTITION``. A
  schedule that lowered before this option existed lowers to the same IR (the guard inside a
  tensorized nest used to be an error).

With several partitioned splits the stage's nest is lowered once per combination of (main,
remainder) choices, main parts first: the all-main combination is the tensorized nest; in a
remainder a tensorized nest that would need a guard, or whose covered loops were shortened, runs
the stage's scalar code instead (its own compute body). Reductions stay exact: for each box of
output elements (the data choices) only the first region that computes it runs the reduction's
init (the stage's identity store, or the intrinsic's ``reduce_init`` / ``body``); every later region
of the same box (a reduction remainder, e.g. the 2 leftover lanes of K = 10 under a 4-lane dot)
accumulates into the same output with scalar code, or with an intrinsic whose update accumulates
into the output buffer. A region with no iterations (``q = 0``) is left out.

What cannot be partitioned keeps a ScheduleError naming the stage and axis: a split whose outer
axis was split or fused again, a guard that comes from a region edge the stage cannot see (unless a
consumer partitions it away), and ``tensorize(..., strict=True)``, which refuses any guard in the
nest as before.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

from .errors import ScheduleError
from .expr import BinOp, Cmp, Const
from .simplify import simplify
from .stmt import Stmt, seq
from .visit import collect_vars


class TailStrategy(enum.Enum):
    """What lowering does with the partial last tile of a split that does not divide its axis."""

    AUTO = "auto"  # GUARD, or PARTITION where the guard would fall inside a tensorized nest
    GUARD = "guard"  # one nest, the body guarded by ``outer * factor + inner < extent``
    PARTITION = "partition"  # a main nest over the full tiles without a guard, then the remainder


class TailInNest(ScheduleError):
    """A tensorized nest needs a guard this stage cannot partition away (a consumer may)."""

    def __init__(self, message: str, stage):
        super().__init__(message)
        self.stage = stage


@dataclass
class Region:
    """One partition of a stage's loop nest: loop ranges of some leaves and how to lower it."""

    lo: dict = field(default_factory=dict)  # leaf IterVar -> the first value of its loop (0 if absent)
    ext: dict = field(default_factory=dict)  # leaf IterVar -> its loop extent (the split's if absent)
    tail: bool = False  # a remainder: a tensorized nest that needs a guard runs scalar code
    init: bool = True  # the first region of its output elements: runs the reduction's init
    scalar: bool = False  # the tensorized nest's covered loops are shortened: scalar code
    unroll: set = field(default_factory=set)  # ids of leaves unrolled here (a shortened lane loop)

    def values(self) -> dict:
        """Leaf IterVar -> its value ``var + first`` for the leaves whose loop does not start at 0."""
        return {lv: BinOp("+", lv.var, Const(lo, "int32"), "int32") for lv, lo in self.lo.items() if lo}


def tail_of(rel) -> TailStrategy:
    """The tail strategy of a split relation (AUTO for one that does not say)."""
    t = getattr(rel, "tail", None)
    return TailStrategy.AUTO if t is None else t


@dataclass
class _Part:
    """A split to partition. ``choices[0]`` is the main part (outer in [0, q)), the others the
    pieces of the remainder; each is a list of (leaf, first value, extent, shortened) loop ranges."""

    rel: object
    choices: list

    @property
    def is_reduce(self) -> bool:
        return self.rel.parent.kind == "reduce"


def _is_split(rel) -> bool:
    return hasattr(rel, "parent")


def _strict(st, tens) -> bool:
    a = st.iter_var_attrs.get(st.leaf_iter_vars[tens[0]])
    return bool(getattr(a, "tensorize_strict", False))


def _guard_positions(lw, st, n) -> dict:
    """Split parent -> the leaf position of its guard, for the guards the loop bounds do not prove."""
    from .lower import _always  # lower imports this module

    pos_of = {id(lv.var): p for p, lv in enumerate(n.leaves)}
    out = {}
    for iv in n.inexact:
        c = simplify(Cmp("<", simplify(n.val[iv], lw.ranges), Const(n.ext[iv], "int32")), lw.ranges)
        if (isinstance(c, Const) and c.value) or _always(c, lw.ranges):
            continue
        vs = [pos_of[v] for v in collect_vars(c) if v in pos_of]
        out[iv] = max(vs) if vs else -1
    return out


def _part(st, n, rel, needed: bool) -> _Part | None:
    """The partition of split ``rel`` in nest ``n``; None (or, when ``needed``, a ScheduleError) if
    its outer axis is not a loop of the nest."""
    leaves = n.leaves
    if not any(rel.outer is lv for lv in leaves):
        if not needed:
            return None
        raise ScheduleError(f"stage {st.name!r} axis {rel.parent.name!r}: the split does not divide the extent "
                            f"{n.ext[rel.parent]} and its tail cannot be partitioned: the outer axis "
                            f"{rel.outer.name!r} was split or fused again (partitioning needs it as a loop); choose "
                            f"a factor that divides {n.ext[rel.parent]} or split {rel.outer.name!r} no further")
    big, f = n.ext[rel.parent], n.ext[rel.inner]
    q = big // f
    return _Part(rel, [[(rel.outer, 0, q, False)]] + _remainder(n, rel, q, big - q * f))


def _remainder(n, rel, q: int, r: int) -> list:
    """The pieces of split ``rel``'s remainder: ``outer = q`` with ``inner`` in [0, r) (every later
    outer iteration lies past the extent). A shortened inner loop needs no guard; an inner axis split
    again (exactly, its outer a loop) is partitioned in turn, so its full tiles stay full tiles."""
    if r == 0:
        return []
    base = (rel.outer, q, 1, False)
    leaves = n.leaves
    if any(rel.inner is lv for lv in leaves):
        return [[base, (rel.inner, 0, r, True)]]
    sub = next((x for x in n.st.relations if _is_split(x) and x.parent is rel.inner), None)
    if (sub is None or not any(sub.outer is lv for lv in leaves)
            or n.ext[sub.outer] * n.ext[sub.inner] != n.ext[sub.parent]):
        return [[base]]  # the remainder keeps its guard
    f2 = n.ext[sub.inner]
    q2 = r // f2
    out = [[base, (sub.outer, 0, q2, False)]] if q2 else []
    return out + [[base] + piece for piece in _remainder(n, sub, q2, r - q2 * f2)]


def _plan(lw, st, region) -> tuple[list, list]:
    """(splits this stage partitions, AUTO splits a consumer-side failure may partition too)."""
    n = lw.nest_extents(st, region)
    if not n.inexact:
        return [], []
    lw.nest_values(n)  # scratch: the real build sets the same ranges again
    tens = lw._tensorize_pos(st, n.leaves)
    strict = tens is not None and _strict(st, tens)
    gpos = _guard_positions(lw, st, n)
    rels = {id(r.parent): r for r in st.relations if _is_split(r)}
    parts, spare = [], []
    for iv in n.inexact:
        rel = rels[id(iv)]
        t = tail_of(rel)
        if t is TailStrategy.GUARD:
            continue
        inside = tens is not None and gpos.get(iv, -1) >= tens[0]
        if inside and strict:
            continue  # strict: the guard stays, and lowering the nest refuses it by name
        if t is TailStrategy.PARTITION or inside:
            parts.append(_part(st, n, rel, True))
        elif iv in gpos:
            p = _part(st, n, rel, False)
            if p is not None:
                spare.append(p)
    return parts, spare


def _regions(parts: list, leaves: list, tens) -> list[Region]:
    """The regions of the partitioned nest in lowering order (see the module docstring)."""
    parts = sorted(parts, key=lambda p: p.is_reduce)  # data choices first: each box's regions are adjacent
    covered = set()
    if tens is not None:
        covered = {id(lv) for lv in leaves[len(leaves) - len(tens[1].axes):]}
    out, seen = [], set()
    for combo in itertools.product(*[range(len(p.choices)) for p in parts]):
        r = Region(tail=any(combo))
        empty = False
        for p, c in zip(parts, combo):
            for lv, lo, ext, short in p.choices[c]:
                r.lo[lv], r.ext[lv] = lo, ext
                empty = empty or ext == 0
                if short and id(lv) in covered:
                    # the leftover lanes of the intrinsic: fewer than it takes, straight-line code
                    r.scalar = True
                    r.unroll.add(id(lv))
        if empty:
            continue
        box = tuple(c for p, c in zip(parts, combo) if not p.is_reduce)
        r.init = box not in seen
        seen.add(box)
        out.append(r)
    return out


def _forget_children(lw, st) -> None:
    """Drop the buffers of the stages computed inside ``st``: the next region allocates its own."""
    for lv in st.leaf_iter_vars:
        for ch in lw.children.get((id(st), id(lv)), []):
            b = lw.buffers.get(id(ch))
            if b is not None and not b.is_arg:
                del lw.buffers[id(ch)]
                lw.offsets.pop(id(ch), None)
            _forget_children(lw, ch)


def _has_children(lw, st) -> bool:
    return any(lw.children.get((id(st), id(lv))) for lv in st.leaf_iter_vars)


def _build(lw, st, region, parts: list) -> Stmt:
    if not parts:
        return lw.stage_nest_region(st, region, None)
    leaves = list(st.leaf_iter_vars)
    regions = _regions(parts, leaves, lw._tensorize_pos(st, leaves))
    saved, stmts = lw.in_tail, []
    for k, r in enumerate(regions):
        if k:
            _forget_children(lw, st)
        lw.in_tail = saved or r.tail
        try:
            stmts.append(lw.stage_nest_region(st, region, r))
        finally:
            lw.in_tail = saved
    return seq(stmts)


def _snapshot(lw) -> tuple:
    return (dict(lw.ranges), dict(lw.buffers), dict(lw.offsets), {k: list(v) for k, v in lw.prologue.items()},
            list(lw.extensions))


def _restore(lw, snap: tuple) -> None:
    ranges, buffers, offsets, prologue, extensions = snap
    for d, saved in ((lw.ranges, ranges), (lw.buffers, buffers), (lw.offsets, offsets), (lw.prologue, prologue)):
        d.clear()
        d.update(saved)
    lw.extensions[:] = extensions


def stage_nest(lw, st, region) -> Stmt:
    """The loop nest of stage ``st`` over ``region``, its splits' tails partitioned as they ask.

    With AUTO splits and stages computed inside it, a tensorized child whose nest needs a guard
    because of one of them (TailInNest) makes this stage partition those splits and lower again.
    """
    parts, spare = _plan(lw, st, region)
    if not spare or not _has_children(lw, st):
        return _build(lw, st, region, parts)
    snap = _snapshot(lw)
    try:
        return _build(lw, st, region, parts)
    except TailInNest as e:
        if e.stage is st:
            raise
        _restore(lw, snap)
        return _build(lw, st, region, parts + spare)


def tensorized_block(lw, n, intrin, ctx):
    """``intrin.lower_block(ctx)`` for nest ``n``, or None where a remainder runs scalar code instead."""
    part = n.part
    fallback = lw.in_tail or (part is not None and part.tail)
    try:
        inner, init = intrin.lower_block(ctx)
    except TailInNest:
        if fallback:
            return None
        raise
    if part is not None and not part.init:
        # a later region of the same outputs: only an update that accumulates into the output buffer
        # (its init is the stage's identity store) may run here, without that init
        if init is not True:
            return None
        init = False
    return inner, init


__all__ = ["Region", "TailInNest", "TailStrategy", "stage_nest", "tail_of", "tensorized_block"]
