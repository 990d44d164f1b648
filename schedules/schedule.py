"""Schedule and Stage: TVM-style schedule primitives over tensor expressions.

A Schedule holds one Stage per operation. A Stage records how its loops are transformed (splits,
fuses, order, annotations) and where it is computed (at the root, inlined, or at a loop of a
consumer). ``tir.lower`` reads these records; nothing here generates code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tir.errors import ScheduleError
from tir.expr import Reduce, TensorLoad
from tir.partition import TailStrategy
from tir.tensor import ComputeOp, IterVar, Operation, PlaceholderOp, Range, Tensor, split_extents
from tir.visit import mutate, substitute


@dataclass(eq=False)
class Split:
    parent: IterVar
    outer: IterVar
    inner: IterVar
    factor: int | None
    nparts: int | None
    tail: TailStrategy = TailStrategy.AUTO  # what lowering does with a partial last tile


@dataclass(eq=False)
class Fuse:
    outer: IterVar
    inner: IterVar
    fused: IterVar


@dataclass(eq=False)
class IterAttr:
    kind: str = "serial"  # serial | unroll | vectorize | parallel
    pragmas: list = field(default_factory=list)
    tensorize: object = None
    tensorize_strict: bool = False  # refuse any guard in the tensorized nest (no partitioned tail)


@dataclass(frozen=True)
class PragmaKey:
    """One known pragma key: what its value must be and what it does."""

    name: str
    value: str  # the value type, as documentation: "ignored", "int >= 0", "0 or 1"
    doc: str
    check: object = None  # value -> bool; None: any value


def _int_at_least(lo: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _flag(v) -> bool:
    return isinstance(v, (int, bool)) and v in (0, 1)


#: The pragma keys ``Stage.pragma`` accepts. Keys starting with :data:`USER_PRAGMA_PREFIX` are
#: accepted too (any value, recorded and printed as a comment, no effect); any other key is a
#: ScheduleError that lists these.
PRAGMAS: dict[str, PragmaKey] = {p.name: p for p in (
    PragmaKey("unroll", "ignored", "the unroll primitive on the axis (TVM's pragma 'unroll')"),
    PragmaKey("vectorize", "ignored", "the vectorize primitive on the axis"),
    PragmaKey("parallel", "ignored", "the parallel primitive on the axis"),
    PragmaKey("cfu_words", "int >= 0", "operand words an rv32 CFU block under the loop loads ahead into "
              "registers (0: leave the order to the C compiler)", _int_at_least(0)),
    PragmaKey("cfu_asm", "0 or 1", "1: the rv32 emitter places a stateless CFU tile's loads, ops and adds "
              "under the loop as one volatile asm statement each", _flag),
    PragmaKey("auto_unroll_max_step", "int >= 0", "TVM's unroll hint: recorded, printed as a comment in the "
              "IR and the C, no effect (use the unroll primitive)", _int_at_least(0)),
    PragmaKey("unroll_explicit", "0 or 1", "TVM's unroll hint: recorded, printed as a comment, no effect",
              _flag),
)}

USER_PRAGMA_PREFIX = "user."


def check_pragma(key, value, where: str = "pragma") -> str:
    """``key`` if it is a known pragma key (or a user key) and ``value`` fits it, else a ScheduleError."""
    if not isinstance(key, str):
        raise ScheduleError(f"{where}: the key must be a string, got {key!r}")
    if key.startswith(USER_PRAGMA_PREFIX) and len(key) > len(USER_PRAGMA_PREFIX):
        return key
    p = PRAGMAS.get(key)
    if p is None:
        raise ScheduleError(f"{where}: unknown pragma key {key!r}; known keys: {', '.join(PRAGMAS)} "
                            f"(or {USER_PRAGMA_PREFIX}<name> for a key that is only recorded)")
    if p.check is not None and not p.check(value):
        raise ScheduleError(f"{where}: pragma {key!r} takes {p.value}, got {value!r}")
    return key


def _axis_list(axes) -> str:
    return ", ".join(a.name for a in axes)


class Stage:
    """The schedule of one operation (``s[C]``)."""

    def __init__(self, op: Operation, schedule: Schedule):
        self.op = op
        self.origin_op = op
        self.schedule = schedule
        self.relations: list = []
        self.iter_var_attrs: dict[IterVar, IterAttr] = {}
        self.attach_type = "root"  # root | inline | scope
        self.attach_stage: Stage | None = None
        self.attach_ivar: IterVar | None = None
        # compute_at(..., through=R): the stage between this one and attach_stage (R reads this
        # stage and is computed at attach_ivar or inside it); lowering reads it as an optional member
        self.attach_through: Stage | None = None
        self.is_output = False
        self.scope = "global"
        self._reset_axes()

    def _reset_axes(self) -> None:
        op = self.op
        self.all_iter_vars: list[IterVar] = list(op.axis) + list(op.reduce_axis)
        self.leaf_iter_vars: list[IterVar] = list(self.all_iter_vars)
        self.relations = []
        self.iter_var_attrs = {}

    @property
    def name(self) -> str:
        return self.op.name

    def __repr__(self) -> str:
        return f"Stage({self.name})"

    # helpers -------------------------------------------------------------------------------------
    def _err(self, axis, reason: str) -> ScheduleError:
        where = f" axis {axis.name!r}" if axis is not None else ""
        return ScheduleError(f"stage {self.name!r}{where}: {reason}")

    def _check_compute(self, primitive: str) -> None:
        if isinstance(self.op, PlaceholderOp):
            raise ScheduleError(f"stage {self.name!r}: {primitive} on a placeholder (an input) is not possible")

    def _check_leaf(self, axis, primitive: str) -> int:
        self._check_compute(primitive)
        if not isinstance(axis, IterVar):
            raise ScheduleError(f"stage {self.name!r}: {primitive} expects an axis (IterVar), got {axis!r}")
        for i, iv in enumerate(self.leaf_iter_vars):
            if iv is axis:
                return i
        owner = next((st.name for st in self.schedule.stages
                      if st is not self and any(axis is iv for iv in st.all_iter_vars)), None)
        why = "not a leaf axis of this stage"
        if owner:
            why += f" (it belongs to stage {owner!r})"
        elif any(axis is iv for iv in self.all_iter_vars):
            why += " (it was already split or fused; use the axes that replaced it)"
        raise self._err(axis, f"{primitive}: the axis is {why}; "
                              f"leaf axes of {self.name!r}: {_axis_list(self.leaf_iter_vars)}")

    def _attr(self, axis: IterVar) -> IterAttr:
        return self.iter_var_attrs.setdefault(axis, IterAttr())

    def _extent(self, axis: IterVar) -> int | None:
        """The constant extent of an axis over the stage's full domain (None if unknown)."""
        ext = {iv: iv.dom.extent for iv in self.all_iter_vars if iv.dom is not None}
        for rel in self.relations:
            if isinstance(rel, Split):
                ext[rel.outer], ext[rel.inner] = split_extents(ext[rel.parent], rel.factor, rel.nparts)
            else:
                ext[rel.fused] = ext[rel.outer] * ext[rel.inner]
        return ext.get(axis)

    # primitives ----------------------------------------------------------------------------------
    def split(self, parent: IterVar, factor: int | None = None, nparts: int | None = None, *,
              tail: TailStrategy = TailStrategy.AUTO):
        """Split ``parent`` into ``(outer, inner)``; returns them.

        args:
            parent:  a leaf axis of this stage.
            factor:  the extent of ``inner`` (an int >= 1), or
            nparts:  the extent of ``outer``; give exactly one of the two. A factor that does not
                     divide the extent is allowed; ``tail`` says what happens to the partial tile.
            tail:    a :class:`TailStrategy` (tir.partition): ``GUARD`` guards the body;
                     ``PARTITION`` lowers a main loop over the full tiles without a guard, then the
                     remainder; ``AUTO`` (default) guards, except where the guard would fall inside a
                     tensorized nest: there the full tiles are tensorized and the remainder runs the
                     stage's scalar code.

        rewrite (``split(i, factor=4)``, extent 10; ``tail=GUARD``, or ``AUTO`` outside a tensorized nest)::

            for i in range(10):        ->    for i.outer in range(3):
                s[i]                             for i.inner in range(4):
                                                     if i.outer * 4 + i.inner < 10:
                                                         s[i.outer * 4 + i.inner]

        rewrite (``split(i, factor=4, tail=PARTITION)``, extent 10)::

            for i in range(10):        ->    for i.outer in range(2):
                s[i]                             for i.inner in range(4):
                                                     s[i.outer * 4 + i.inner]
                                             for i.inner in range(2):
                                                 s[8 + i.inner]
        """
        pos = self._check_leaf(parent, "split")
        if not isinstance(tail, TailStrategy):
            raise self._err(parent, f"split tail must be a TailStrategy ({', '.join(t.name for t in TailStrategy)}), "
                                    f"got {tail!r}")
        if (factor is None) == (nparts is None):
            raise self._err(parent, "split needs exactly one of factor and nparts")
        val = factor if factor is not None else nparts
        what = "factor" if factor is not None else "nparts"
        if not isinstance(val, int) or isinstance(val, bool):
            raise self._err(parent, f"split {what} must be an int, got {val!r}")
        if val < 1:
            raise self._err(parent, f"split {what} {val} must be >= 1")
        outer = IterVar(f"{parent.name}.outer", None, parent.kind)
        inner = IterVar(f"{parent.name}.inner", None, parent.kind)
        self.relations.append(Split(parent, outer, inner, factor, nparts, tail))
        self.all_iter_vars += [outer, inner]
        self.leaf_iter_vars[pos:pos + 1] = [outer, inner]
        self._move_attr(parent, outer)
        return outer, inner

    def _move_attr(self, old: IterVar, new: IterVar) -> None:
        a = self.iter_var_attrs.pop(old, None)
        if a is not None and a.pragmas:
            self._attr(new).pragmas = a.pragmas

    def fuse(self, *axes: IterVar) -> IterVar:
        """Fuse adjacent leaf axes into one; returns the fused axis.

        args:
            axes: leaf axes of this stage, outermost first, adjacent in the loop order and all data
                  or all reduction axes (a list or tuple works too).

        rewrite (``fuse(i, j)``)::

            for i in range(4):         ->    for i.j.fused in range(32):
                for j in range(8):               s[i.j.fused // 8, i.j.fused % 8]
                    s[i, j]
        """
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        if not axes:
            raise ScheduleError(f"stage {self.name!r}: fuse needs at least one axis")
        pos = [self._check_leaf(a, "fuse") for a in axes]
        for a, b, pa, pb in zip(axes, axes[1:], pos, pos[1:]):
            if pb != pa + 1:
                raise self._err(b, f"fuse: axes {a.name!r} and {b.name!r} are not adjacent in the loop "
                                   f"order ({_axis_list(self.leaf_iter_vars)}")
            if a.kind != b.kind:
                raise self._err(b, f"fuse: cannot fuse data axis and reduce axis ({a.name!r}, {b.name!r})")
        fused = axes[0]
        for inner in axes[1:]:
            new = IterVar(f"{fused.name}.{inner.name}.fused", None, inner.kind)
            self.relations.append(Fuse(fused, inner, new))
            self.all_iter_vars.append(new)
            p = self.leaf_iter_vars.index(fused)
            self.leaf_iter_vars[p:p + 2] = [new]
            fused = new
        return fused

    def reorder(self, *axes: IterVar) -> None:
        """Put the given leaf axes in this order, in the loop positions they occupy now.

        args:
            axes: distinct leaf axes of this stage (a list or tuple works too); the other leaf axes
                  keep their positions.

        rewrite (``reorder(j, i)``)::

            for i in _:                ->    for j in _:
                for j in _:                      for i in _:
                    s                                s
        """
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        seen = set()
        for a in axes:
            if id(a) in seen:
                raise self._err(a, "reorder: the axis is given twice")
            seen.add(id(a))
        pos = sorted(self._check_leaf(a, "reorder") for a in axes)
        for p, a in zip(pos, axes):
            self.leaf_iter_vars[p] = a

    def tile(self, x_parent: IterVar, y_parent: IterVar, x_factor: int, y_factor: int, *,
             tail: TailStrategy = TailStrategy.AUTO):
        """Split two axes and order the result ``(x.outer, y.outer, x.inner, y.inner)``; returns them.

        args:
            x_parent, y_parent: leaf axes of this stage (x outside y).
            x_factor, y_factor: the extents of ``x.inner`` and ``y.inner`` (as ``split``'s factor).
            tail:               the TailStrategy of both splits (see ``split``).

        rewrite (``tile(i, j, 4, 8)``)::

            for i in range(M):         ->    for i.outer in range(M / 4):
                for j in range(N):               for j.outer in range(N / 8):
                    s[i, j]                          for i.inner in range(4):
                                                         for j.inner in range(8):
                                                             s[i.outer * 4 + i.inner, j.outer * 8 + j.inner]
        """
        xo, xi = self.split(x_parent, x_factor, tail=tail)
        yo, yi = self.split(y_parent, y_factor, tail=tail)
        self.reorder(xo, yo, xi, yi)
        return xo, yo, xi, yi

    def _annotate(self, axis: IterVar, kind: str) -> None:
        self._check_leaf(axis, kind)
        self._attr(axis).kind = kind

    def unroll(self, axis: IterVar) -> None:
        """Fully unroll the loop of ``axis``: the C gets one statement per iteration, not a pragma.

        args:
            axis: a leaf axis of this stage (its extent is the number of copies).

        rewrite (``unroll(j)``, extent 2)::

            for j in range(2):         ->    s[0]
                s[j]                         s[1]
        """
        self._annotate(axis, "unroll")

    def vectorize(self, axis: IterVar) -> None:
        """Mark a data axis for vectorization: a simple innermost loop the C compiler vectorizes.

        args:
            axis: a leaf data axis of this stage (a reduction axis is a ScheduleError).

        rewrite (``vectorize(j)``)::

            for j in range(8):         ->    for j in vectorize(8):
                s[j]                             s[j]
        """
        self._check_leaf(axis, "vectorize")
        if axis.kind == "reduce":
            raise self._err(axis, "vectorize: cannot vectorize a reduction axis")
        self._annotate(axis, "vectorize")

    def parallel(self, axis: IterVar) -> None:
        """Run the loop of ``axis`` in parallel (targets with threads only; checked when emitting).

        args:
            axis: a leaf data axis of this stage (a reduction axis is a ScheduleError).

        rewrite (``parallel(i)``)::

            for i in range(8):         ->    for i in parallel(8):     # "#pragma omp parallel for" in C
                s[i]                             s[i]
        """
        self._check_leaf(axis, "parallel")
        if axis.kind == "reduce":
            raise self._err(axis, "parallel: cannot parallelize a reduction axis")
        self._annotate(axis, "parallel")

    def pragma(self, axis: IterVar, key: str, value=None) -> None:
        """Attach the pragma ``key=value`` to the loop of ``axis``.

        args:
            axis:  a leaf axis of this stage.
            key:   one of :data:`PRAGMAS` (the table says what each does and which values it takes),
                   or a ``"user."`` key: recorded verbatim, printed as a comment, no effect.
            value: checked against the key's value type; an unknown key or a bad value is a
                   ScheduleError naming the key (and, for an unknown key, every known one).

        rewrite (``pragma(i, "cfu_asm", 1)``)::

            for i in _:          ->    # pragma cfu_asm=1
                s                      for i in _:
                                           s

        ``"unroll"``, ``"vectorize"`` and ``"parallel"`` are the primitives of the same name (as in
        TVM's ``Stage.pragma``): the loop's kind changes, nothing is recorded.
        """
        self._check_leaf(axis, "pragma")
        key = check_pragma(key, value, where=f"stage {self.name!r} axis {axis.name!r}: pragma")
        primitive = {"unroll": self.unroll, "vectorize": self.vectorize, "parallel": self.parallel}.get(key)
        if primitive is not None:
            primitive(axis)
            return
        self._attr(axis).pragmas.append((key, value))

    def compute_at(self, parent: Stage, axis: IterVar, through: Stage | None = None) -> None:
        """Compute this stage inside the loop ``axis`` of consumer stage ``parent``.

        Only the region the consumer reads at one iteration of that loop is computed (bound
        inference), into a buffer of that region's size.

        args:
            parent:  the Stage of a consumer of this stage (directly or through inlined stages), or,
                     with ``through``, of a consumer of ``through``.
            axis:    a leaf axis of ``parent``.
            through: None, or the one Stage that reads this stage and that ``parent`` reads, itself
                     computed at ``axis`` or inside it (checked when lowering): a packed tile hoisted
                     above the register tile that reads it. The region is what ``through`` reads
                     during one iteration of ``axis``.

        rewrite (``s[P].compute_at(s[C], i)``)::

            for i in range(8):         ->    for i in range(8):
                P[i] = A[i] * 2                  P[0] = A[i] * 2           # a 1-element buffer
            for i in range(8):                   C[i] = P[0] + 1
                C[i] = P[i] + 1

        rewrite (``s[BP].compute_at(s[C], jb, through=s[CL])``, CL computed at jo inside jb)::

            for jb, io, jo:            ->    for jb in _:
                CL[..] = A * BP[jo..]            BP[0:8, :] = B[jb*8 : +8, :]   # the block, packed
                C[..] = CL[..]                   for io, jo:
                                                     CL[..] = A * BP[jo..]; C[..] = CL[..]
        """
        self._check_compute("compute_at")
        if not isinstance(parent, Stage):
            raise ScheduleError(f"stage {self.name!r}: compute_at expects a Stage, got {parent!r}")
        if parent is self:
            raise self._err(axis, "compute_at: a stage cannot be computed at itself (cycle)")
        s = parent
        while s is not None and s.attach_type == "scope":
            s = s.attach_stage
            if s is self:
                raise self._err(axis, f"compute_at {parent.name!r} creates a cycle: {parent.name!r} is "
                                      f"computed inside {self.name!r}")
        try:
            parent._check_leaf(axis, "compute_at")
        except ScheduleError as e:
            raise self._err(axis, f"compute_at {parent.name!r}: {e}") from None
        if through is not None:
            if not isinstance(through, Stage) or through is self or through is parent:
                raise self._err(axis, f"compute_at {parent.name!r}: through= expects the Stage between them, "
                                      f"got {through!r}")
            if not (self.schedule.consumes(through, self) and self.schedule.consumes(parent, through)):
                raise self._err(axis, f"compute_at {parent.name!r} through {through.name!r}: {through.name!r} "
                                      f"must read {self.name!r} and be read by {parent.name!r}")
        elif not self.schedule.consumes(parent, self):
            raise self._err(axis, f"compute_at: stage {parent.name!r} does not consume {self.name!r}")
        if self.attach_type == "inline":
            raise ScheduleError(f"stage {self.name!r}: compute_at on an inlined stage")
        self.attach_type, self.attach_stage, self.attach_ivar = "scope", parent, axis
        self.attach_through = through

    def compute_inline(self) -> None:
        """Inline this stage into its consumers: its expression replaces every read of it.

        args: none. Not for a reduction or an output stage.

        rewrite (``s[P].compute_inline()``)::

            for i in range(8):         ->    for i in range(8):
                P[i] = A[i] * 2                  C[i] = A[i] * 2 + 1
            for i in range(8):
                C[i] = P[i] + 1
        """
        self._check_compute("compute_inline")
        if isinstance(self.op.body, Reduce):
            raise ScheduleError(f"stage {self.name!r}: compute_inline of a reduction is not possible")
        if self.is_output:
            raise ScheduleError(f"stage {self.name!r}: compute_inline of an output stage")
        self.attach_type, self.attach_stage, self.attach_ivar = "inline", None, None
        self.attach_through = None

    def compute_root(self) -> None:
        """Compute this stage at the top level, over its whole domain (undo compute_at / compute_inline).

        args: none.

        rewrite (``s[P].compute_root()`` after ``compute_at(s[C], i)``)::

            for i in range(8):         ->    for i in range(8):
                P[0] = A[i] * 2                  P[i] = A[i] * 2
                C[i] = P[0] + 1              for i in range(8):
                                                 C[i] = P[i] + 1
        """
        self._check_compute("compute_root")
        self.attach_type, self.attach_stage, self.attach_ivar = "root", None, None
        self.attach_through = None

    def tensorize(self, axis: IterVar, intrinsic, *, strict: bool = False) -> None:
        """Replace the loop nest under ``axis`` by calls of an ISA-extension intrinsic.

        The check that the nest computes exactly the intrinsic's semantics happens here, with a
        ScheduleError naming the differing extent, dtype, stride or alignment.

        A split that does not divide its axis and whose guard would fall inside the nest is
        partitioned (its ``tail``, AUTO or PARTITION): the full tiles are tensorized, the remainder
        runs the stage's scalar code (see ``split`` and tir.partition).

        args:
            axis:      a leaf axis of this stage; the loops from it inward are the intrinsic's block.
            intrinsic: an ``isa_ext`` extension (its tensor intrinsic) or a ``tir.intrin.TensorIntrin``.
            strict:    True: no remainder; any guard the nest would need is a ScheduleError when lowered.

        rewrite (``tensorize(k.inner, dot4_i8)``, k.inner of extent 4)::

            for k.outer in range(K / 4):          ->    for k.outer in range(K / 4):
                for k.inner in range(4):                    C[i, j] = C[i, j] + int32(dot4_i8(A[i, k.outer * 4 : +4],
                    C[i, j] += A[i, k] * B[j, k]                                              B[j, k.outer * 4 : +4]))

        rewrite (the same with K = 10: ``split(k, 4)`` does not divide, the tail is partitioned)::

            for k.outer in range(3):              ->    for k.outer in range(2):
                for k.inner in range(4):                    C[i, j] = C[i, j] + int32(dot4_i8(...))
                    if k.outer * 4 + k.inner < 10:      for k.inner in range(2):
                        C[i, j] += A[i, k] * B[j, k]        C[i, j] += A[i, 8 + k.inner] * B[j, 8 + k.inner]
        """
        self._check_leaf(axis, "tensorize")
        if not isinstance(strict, bool):
            raise self._err(axis, f"tensorize strict must be a bool, got {strict!r}")
        from .tensorize import check_tensorize

        intrin = check_tensorize(self, axis, intrinsic)
        a = self._attr(axis)
        a.tensorize = intrin
        a.tensorize_strict = strict


class Schedule:
    """One Stage per operation reachable from the outputs, producers first."""

    def __init__(self, outputs: list[Tensor]):
        self.outputs = [t.op for t in outputs]
        self.stages: list[Stage] = []
        self.stage_map: dict[int, Stage] = {}
        order: list[Operation] = []
        seen: set[int] = set()

        def visit(op: Operation) -> None:
            if id(op) in seen:
                return
            seen.add(id(op))
            for t in op.input_tensors:
                visit(t.op)
            order.append(op)

        for op in self.outputs:
            visit(op)
        for op in order:
            st = Stage(op, self)
            self.stages.append(st)
            self.stage_map[id(op)] = st
        for op in self.outputs:
            self.stage_map[id(op)].is_output = True

    def __getitem__(self, t) -> Stage:
        """The Stage of a tensor or operation (``s[C]``); a ScheduleError if it is not in this schedule.

        args:
            t: a Tensor or Operation of this schedule.

        rewrite: none (a lookup).
        """
        op = t.op if isinstance(t, Tensor) else t
        st = self.stage_map.get(id(op))
        if st is None:
            raise ScheduleError(f"tensor {getattr(op, 'name', op)!r} is not part of this schedule")
        return st

    def stage_of(self, op: Operation) -> Stage:
        """The Stage of an operation: the same as ``s[op]``.

        args:
            op: an Operation or Tensor of this schedule.

        rewrite: none (a lookup).
        """
        return self[op]

    def consumes(self, consumer: Stage, producer: Stage) -> bool:
        """Does ``consumer`` read ``producer`` directly or through inlined stages?

        Part of the interface tir.lower needs from a schedule (:class:`tir.schedule_api.ScheduleLike`).

        args:
            consumer, producer: Stages of this schedule.

        rewrite: none (a query).
        """
        for t in consumer.op.input_tensors:
            st = self.stage_map.get(id(t.op))
            if st is producer:
                return True
            if st is not None and st.attach_type == "inline" and self.consumes(st, producer):
                return True
        return False

    def _replace_reads(self, reader: Stage, old_op: Operation, new: Tensor, perm=None) -> None:
        op = reader.op
        if not isinstance(op, ComputeOp):
            return

        def pre(n):
            if isinstance(n, TensorLoad) and self.stage_map.get(id(n.tensor.op)) is self.stage_map[id(old_op)]:
                idx = tuple(mutate(i, pre) for i in n.indices)
                if perm is not None:  # the cache's dimension d is the source's dimension perm[d]
                    idx = tuple(idx[p] for p in perm)
                return TensorLoad(new, idx)
            return None

        body = mutate(op.body, pre)
        new_op = ComputeOp(op.name, op.tag, op.axis, body, op.attrs)
        reader.op = new_op
        self.stage_map[id(new_op)] = reader

    def _insert(self, stage: Stage, before: Stage) -> None:
        self.stages.insert(self.stages.index(before), stage)
        self.stage_map[id(stage.op)] = stage

    def cache_read(self, tensor: Tensor, scope: str, readers, layout=None) -> Tensor:
        """Copy ``tensor`` into a cache stage of ``scope`` that ``readers`` read instead; returns it.

        Combined with compute_at, the copy covers only the tile a loop level needs, in a buffer of
        that tile's size: a contiguous scratch buffer (packing). ``layout`` permutes the cache's
        dimensions, so the copy is also a layout change (e.g. ``(1, 0)`` makes a [K, N] operand
        K-major, [N, K]: its reduction lanes become word loads).

        args:
            tensor:  a tensor of this schedule (an input or an intermediate).
            scope:   the cache's storage scope, e.g. ``"local"`` (its name becomes ``<tensor>.<scope>``).
            readers: the stage(s) or tensor(s) that read the cache instead; each must read ``tensor``.
            layout:  None (the tensor's own dimension order) or a permutation of ``range(ndim)``:
                     dimension ``d`` of the cache is dimension ``layout[d]`` of ``tensor``. Anything
                     else is a ScheduleError naming the tensor.

        rewrite (``AA = s.cache_read(A, "local", [C])``)::

            for i in range(8):         ->    for ax0 in range(8):
                C[i] = A[i] + 1                  A.local[ax0] = A[ax0]
                                             for i in range(8):
                                                 C[i] = A.local[i] + 1

        rewrite (``BP = s.cache_read(B, "local", [C], layout=(1, 0))``, then
        ``s[BP].compute_at(s[C], jo)``: only the columns of one block, packed)::

            for jo in range(N / 8):                  ->    for jo in range(N / 8):
                for i, jj, k in _:                             for ax0, ax1 in range(8), range(K):
                    C[i, jo*8+jj] += A[i, k] * B[k, jo*8+jj]       B.local[ax0, ax1] = B[ax1, jo*8 + ax0]
                                                               for i, jj, k in _:
                                                                   C[i, jo*8+jj] += A[i, k] * B.local[jj, k]
        """
        src = self[tensor]
        if not isinstance(readers, (list, tuple)):
            readers = [readers]
        reader_stages = [self[r] if not isinstance(r, Stage) else r for r in readers]
        for rs in reader_stages:
            if not self.consumes(rs, src):
                raise ScheduleError(f"cache_read of {src.name!r}: stage {rs.name!r} does not read it")
        cur = src.op.outputs[0]
        shape = cur.shape
        perm = _check_layout(src.name, layout, len(shape))
        order = perm or tuple(range(len(shape)))
        axis = [IterVar(f"ax{d}", Range(0, shape[order[d]]), "data") for d in range(len(shape))]
        index = [None] * len(shape)
        for d, src_dim in enumerate(order):
            index[src_dim] = axis[d].var
        op = ComputeOp(f"{src.name}.{scope}", "cache_read", axis, cur[tuple(index)])
        st = Stage(op, self)
        st.scope = scope
        first = min(self.stages.index(r) for r in reader_stages)
        self._insert(st, self.stages[first])
        for rs in reader_stages:
            self._replace_reads(rs, src.op, op.outputs[0], perm)
        return op.outputs[0]

    def cache_write(self, tensor: Tensor, scope: str) -> Tensor:
        """Compute ``tensor`` into a cache stage of ``scope``; the original stage then copies it out.

        The register-blocking pattern: ``CL = s.cache_write(C, "local")``, then
        ``s[CL].compute_at(s[C], yo)``: a small accumulator tile per output tile. Must come before
        any other primitive on ``tensor``'s stage.

        args:
            tensor: the output of a compute stage of this schedule.
            scope:  the cache's storage scope, e.g. ``"local"`` (its name becomes ``<tensor>.<scope>``).

        rewrite (``CL = s.cache_write(C, "local")``)::

            for i in range(8):         ->    for i.c in range(8):
                C[i] = 0                         C.local[i.c] = 0
                for k in range(4):               for k in range(4):
                    C[i] += A[i, k]                  C.local[i.c] += A[i.c, k]
                                             for i in range(8):
                                                 C[i] = C.local[i]
        """
        st = self[tensor]
        st._check_compute("cache_write")
        reordered = any(a is not b for a, b in zip(st.leaf_iter_vars, st.all_iter_vars))
        if st.relations or reordered or any(a.kind != "serial" or a.pragmas for a in st.iter_var_attrs.values()):
            raise ScheduleError(f"stage {st.name!r}: cache_write must come before other schedule "
                                "primitives on the stage")
        op = st.op
        new_axis = [IterVar(iv.name + ".c", iv.dom, "data") for iv in op.axis]
        body = substitute(op.body, {iv.var: n.var for iv, n in zip(op.axis, new_axis)})
        cache_op = ComputeOp(f"{op.name}.{scope}", op.tag, new_axis, body, op.attrs)
        cache = cache_op.outputs[0]
        copy_op = ComputeOp(op.name, op.tag, op.axis, cache[tuple(iv.var for iv in op.axis)], op.attrs)
        cst = Stage(cache_op, self)
        cst.scope = scope
        self._insert(cst, st)
        st.op = copy_op
        st._reset_axes()
        self.stage_map[id(copy_op)] = st
        return cache


def _check_layout(name: str, layout, ndim: int) -> tuple[int, ...] | None:
    """A cache_read layout as a permutation tuple (None: the identity), or a ScheduleError."""
    if layout is None:
        return None
    try:
        perm = tuple(layout)
    except TypeError:
        perm = None
    if (perm is None or sorted(perm) != list(range(ndim))
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in perm)):
        raise ScheduleError(f"cache_read of {name!r}: layout {layout!r} is not a permutation of the "
                            f"tensor's {ndim} dimensions (0..{ndim - 1})")
    return None if perm == tuple(range(ndim)) else perm


def create_schedule(ops) -> Schedule:
    """A default schedule for the output tensor(s): every stage at the root, loops in axis order.

    args:
        ops: an output tensor or a list of them.

    rewrite: none yet; lowering the default schedule gives one loop nest per stage::

        for i in range(M):
            for j in range(N):
                C[i, j] = ...
    """
    if not isinstance(ops, (list, tuple)):
        ops = [ops]
    return Schedule(list(ops))
