"""Lowering: a schedule (stages with their loop transforms and attach points) to the loop IR.

``lower`` runs :data:`PASSES`, a list of named passes, in order over one :class:`_Lowerer` (the
state they share). Print the pipeline with one line::

    print(" -> ".join(p.name for p in tir.lower_passes()))

and watch the IR grow with ``tir.lower(s, args, trace=callback)``: ``callback(pass_name, text)``
is called after every pass with the statement built so far (empty before the loop nests exist).

For every stage the "loop nests" pass builds a loop nest over its leaf axes, expresses the root
axes in terms of the leaves (split: ``outer * factor + inner``; fuse: ``fused // n`` and
``fused % n``), guards non-divisible splits, and places the stages attached with compute_at inside
the consumer's loop at the attach axis, computing only the region the consumer reads there (bound
inference). Reductions get an init nest just before their outermost reduction loop.

Bound inference follows fused and split axes: at one iteration of the loops outside the attach
point, an index is ``base + [lo, hi]`` with ``base`` in the fixed variables, and floor division /
modulo of such a range use the residues ``base`` can have (a 3-wide tile of a fused (m, 6) axis
touches one row). A kernel-level intermediate is computed only over the box its consumers read;
its buffer keeps the full shape, so its layout (row strides, the word alignment that tensorize
checks, cache-line placement) does not depend on who reads it.

Checks (LoweringError): a read of a tensor outside its shape at a point of the compute domain
where the guarding conditions (if_then_else, &&/||, a reduction's ``where``) hold; loop extents,
buffer element counts and byte sizes, flattened indices that do not fit the emitter's int32_t; and,
on the lowered IR, any store or load outside its buffer on a path that executes (a lowering bug).
An access is rejected only with a witness point, found by evaluating the index and the conditions
exactly on the grid of the variables involved, so a legal program is never rejected.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import dtype as dt
from . import partition
from .errors import LoweringError, ScheduleError
from .expr import BinOp, BufferLoad, Cast, Cmp, Const, Expr, Not, Ramp, Reduce, Select, TensorLoad, Var
from .passes import remove_guards_func, simplify_func, unroll_func
from .schedule_api import ScheduleLike
from .simplify import Lin, bound, clear_memos, linear, simplify
from .stmt import Allocate, Buffer, For, IfThen, PrimFunc, Stmt, Store, seq
from .tensor import ComputeOp, PlaceholderOp, Tensor, split_extents
from .visit import (
    ExprVisitor,
    StmtVisitor,
    collect_tensor_loads,
    collect_vars,
    contains_access,
    mutate,
    substitute,
    walk,
)


def lower(sch: ScheduleLike, args, name: str = "main",
          trace: Callable[[str, str], None] | None = None) -> PrimFunc:
    """Lower schedule ``sch`` to a PrimFunc whose buffer arguments follow ``args`` in order.

    ``sch`` is read only through the members :class:`tir.schedule_api.ScheduleLike` declares.
    ``trace(pass_name, ir_text)``, if given, is called after each of :data:`PASSES` (debugging).
    """
    clear_memos()  # the simplifier's memos serve one kernel (its lowering and emission), then go
    lw = _Lowerer(sch, list(args), name)
    for p in PASSES:
        p.run(lw)
        if trace is not None:
            trace(p.name, lw.ir_text())
    return lw.func


@dataclass(frozen=True)
class Pass:
    """One named step of :func:`lower`: ``run(lowerer)`` updates the shared state in place."""

    name: str
    run: Callable[[_Lowerer], None]

    @property
    def doc(self) -> str:
        """The first line of the pass function's docstring: what the pass does."""
        return (self.run.__doc__ or "").strip().splitlines()[0]


@dataclass
class BlockContext:
    """What a tensor intrinsic sees of the loop nest it replaces (leaves[tpos:] of a stage)."""

    lowerer: _Lowerer
    stage: object
    buffer: Buffer
    out_index: list  # indices of the stage's output element, in leaf variables
    leaves: list
    tpos: int
    vmap: dict  # root variable -> its value in leaf variables
    val: dict  # IterVar -> its value relative to the region start
    ext: dict  # IterVar -> constant extent
    guards: list  # (condition, innermost leaf position, is_reduce)

    @property
    def ranges(self):
        return self.lowerer.ranges

    def error(self, intrin_name: str, reason: str) -> ScheduleError:
        axis = self.leaves[self.tpos].name
        return ScheduleError(f"stage {self.stage.name!r} axis {axis!r}: tensorize {intrin_name}: {reason}")


def _is_split(rel) -> bool:
    return hasattr(rel, "parent")


# the passes, in order ----------------------------------------------------------------------------

def arg_buffers(lw: _Lowerer) -> None:
    """One global buffer per kernel argument, in the order of ``args``."""
    for t in lw.args:
        if not isinstance(t, Tensor):
            raise LoweringError(f"lower args must be tensors, got {t!r}")
        if id(t.op) not in lw.sch.stage_map and isinstance(t.op, PlaceholderOp):
            # an input the kernel does not read: still a parameter, as in TVM
            lw.arg_bufs.append(Buffer(t.name, t.shape, t.dtype, "global", is_arg=True))
            continue
        st = lw.stage(t.op)
        if st.attach_type == "inline":
            raise LoweringError(f"tensor {t.name!r} is an argument but its stage is inlined")
        if id(st) in lw.buffers:
            raise LoweringError(f"tensor {t.name!r} appears twice in args")
        b = Buffer(t.name, t.shape, t.dtype, "global", is_arg=True)
        lw.buffers[id(st)] = b
        lw.offsets[id(st)] = None
        lw.arg_bufs.append(b)
    lw.live = [s for s in lw.sch.stages if s.attach_type != "inline"]


def schedule_checks(lw: _Lowerer) -> None:
    """Every output and every placeholder read is an argument; compute_at targets are valid."""
    for st in lw.live:
        if st.is_output and id(st) not in lw.buffers:
            raise LoweringError(f"output tensor {st.name!r} is missing from the lower args")
    for st in lw.live:
        if isinstance(st.op, PlaceholderOp):
            continue
        for t in lw._reads(st.op.body):
            rs = lw.stage(t.op)
            if isinstance(rs.op, PlaceholderOp) and id(rs) not in lw.buffers:
                raise LoweringError(f"stage {st.name!r} reads placeholder {rs.name!r}, which is not "
                                    "in the lower args")
    for st in lw.live:
        if st.attach_type == "scope":
            lw._check_attach(st, lw.live)
            lw.children[(id(st.attach_stage), id(st.attach_ivar))].append(st)


def kernel_buffers(lw: _Lowerer) -> None:
    """Size-check the arguments; a full-shape global buffer for each intermediate at the root."""
    for b in lw.arg_bufs:
        check_buffer(b)
    lw.roots = [s for s in lw.live if s.attach_type == "root" and not isinstance(s.op, PlaceholderOp)]
    for st in lw.roots:
        if id(st) not in lw.buffers:
            # kernel-level intermediates are "global" whatever their cache scope: full size
            lw.buffers[id(st)] = Buffer(st.name, st.op.shape, st.op.dtype, "global")
            lw.offsets[id(st)] = None
            check_buffer(lw.buffers[id(st)])


def bound_inference(lw: _Lowerer) -> None:
    """The region of each kernel-level intermediate its consumers read (compute only that)."""
    for st in reversed(lw.roots):  # consumers come after their producers
        if not lw.buffers[id(st)].is_arg:
            lw.regions[id(st)] = lw.root_region(st, lw.live, lw.regions)


def read_checks(lw: _Lowerer) -> None:
    """Out-of-bounds reads of the tensor expressions, with a witness point (see check_reads)."""
    lw.explain = lw.check_reads(lw.live, lw.regions)


def loop_nests(lw: _Lowerer) -> None:
    """One loop nest per root stage: guards, compute_at children, tensorize, init placement."""
    lw.body = seq([lw.stage_nest(st, lw.regions.get(id(st))) for st in lw.roots])


def prologue(lw: _Lowerer) -> None:
    """Statements the intrinsics run once at kernel entry (clearing an accumulator bank) go first."""
    lw.body = seq([s for stmts in lw.prologue.values() for s in stmts] + [lw.body])


def allocation(lw: _Lowerer) -> None:
    """Allocate the kernel-level intermediates around the body; the PrimFunc takes shape."""
    body = lw.body
    allocs = [lw.buffers[id(st)] for st in lw.roots if not lw.buffers[id(st)].is_arg]
    for b in reversed(allocs):
        body = Allocate(b, body)
    lw.func = PrimFunc(lw.name, lw.arg_bufs, body, list(lw.extensions))


def unroll(lw: _Lowerer) -> None:
    """Replace 'unroll' loops (and loops of extent 1) by copies of their body (tir.passes.unroll)."""
    lw.func = unroll_func(lw.func)


def simplify_with_bounds(lw: _Lowerer) -> None:
    """Simplify every expression with the bounds of its loops (tir.passes.simplify_bounds)."""
    lw.func = simplify_func(lw.func)


def guard_removal(lw: _Lowerer) -> None:
    """Drop the guards the bounds prove, and the statements left empty (tir.passes.remove_guards)."""
    lw.func = remove_guards_func(lw.func)


def access_checks(lw: _Lowerer) -> None:
    """No store or load of the lowered IR leaves its buffer on a path that executes (check_func)."""
    check_func(lw.func, lw.explain)


#: The lowering pipeline, in order.
PASSES: list[Pass] = [
    Pass("argument buffers", arg_buffers),
    Pass("schedule checks", schedule_checks),
    Pass("kernel buffers", kernel_buffers),
    Pass("bound inference", bound_inference),
    Pass("read checks", read_checks),
    Pass("loop nests", loop_nests),
    Pass("prologue", prologue),
    Pass("allocation", allocation),
    Pass("unroll", unroll),
    Pass("simplify", simplify_with_bounds),
    Pass("guard removal", guard_removal),
    Pass("access checks", access_checks),
]


def lower_passes() -> list[Pass]:
    """The passes :func:`lower` runs, in order (a copy: editing it does not change lowering)."""
    return list(PASSES)


# one stage's loop nest, in steps -------------------------------------------------------------------

@dataclass
class _Nest:
    """What the steps of one stage's loop nest share."""

    st: object
    region: list | None
    data: list
    red: list
    ext: dict  # IterVar -> constant extent
    root_min: dict  # root IterVar -> the start of its region
    inexact: list  # split parents whose outer * inner overshoots: each needs a guard
    leaves: list = None
    val: dict = None  # IterVar -> value in leaf variables, relative to the region start
    root_val: dict = None  # root IterVar -> its absolute value
    vmap: dict = None  # root Var -> root_val
    guards: list = None  # (condition, innermost leaf position, is_reduce)
    child_stmts: dict = None  # leaf position -> nests of the stages attached there
    child_allocs: dict = None  # leaf position -> their buffers
    part: partition.Region | None = None  # the loop ranges of one region of a partitioned nest

    def loop_extent(self, lv) -> int:
        """The extent of leaf ``lv``'s loop (a partition region may shorten it; splits keep ``ext``)."""
        return self.ext[lv] if self.part is None else self.part.ext.get(lv, self.ext[lv])


class _Lowerer:
    """The state the passes share, and the per-stage steps of the "loop nests" pass."""

    def __init__(self, sch: ScheduleLike, args: list | None = None, name: str = "main"):
        self.sch = sch
        self.args = args or []
        self.name = name
        self.ranges: dict[int, tuple[int, int]] = {}
        self.buffers: dict[int, Buffer] = {}
        self.offsets: dict[int, list[Expr] | None] = {}
        self.children: dict[tuple[int, int], list] = defaultdict(list)
        self.extensions: list = []
        self.prologue: dict[int, list] = {}
        self.arg_bufs: list[Buffer] = []
        self.live: list = []
        self.roots: list = []
        self.regions: dict = {}
        self.explain: dict = {}
        self.body = None
        self.func: PrimFunc | None = None
        self.in_tail = False  # lowering a remainder region (tir.partition)
        self._inline_memo: dict[int, tuple] = {}  # id(TE expression) -> (it, inlined)

    def add_prologue(self, owner, stmts) -> None:
        """Statements run once at kernel entry (e.g. clearing an accumulator bank), once per owner."""
        cur = self.prologue.setdefault(id(owner), [])
        if len(stmts) > len(cur):
            cur[:] = stmts

    def ir_text(self) -> str:
        """The IR built so far (for ``lower(trace=...)``)."""
        if self.func is not None:
            return str(self.func)
        return "" if self.body is None else str(self.body)

    # setup ---------------------------------------------------------------------------------------
    def stage(self, op):
        st = self.sch.stage_map.get(id(op))
        if st is None:
            raise LoweringError(f"tensor {op.name!r} is not part of the schedule")
        return st
    def check_reads(self, live, regions: dict) -> dict:
        """Out-of-bounds reads in the tensor expressions, over what each stage computes.

        A stage at the root computes every point of its domain (or of its region): a witness there
        is an error now. A stage attached with compute_at computes only what its consumer reads, so
        its TE-level witness only explains an out-of-bounds access the lowered IR confirms. Inlined
        stages are checked inside their readers, where the readers' guards protect them.
        """
        explain = {}
        for st in live:
            if not isinstance(st.op, ComputeOp):
                continue
            op = st.op
            reg = regions.get(id(st))
            ranges = {}
            for d, iv in enumerate(op.axis):
                m, e = (int(reg[d][0].value), reg[d][1]) if reg is not None else (0, iv.dom.extent)
                ranges[id(iv.var)] = (m, m + e - 1)
            for iv in op.reduce_axis:
                ranges[id(iv.var)] = (iv.dom.min, iv.dom.min + iv.dom.extent - 1)
            errs = te_read_errors(st.name, self.inline(op.body), ranges)
            if errs and st.attach_type == "root":
                raise errs[0][1]
            for tname, err in errs:
                explain.setdefault(tname, err)
        return explain

    def root_region(self, st, live, regions: dict):
        """The part of a kernel-level intermediate its consumers read, or None for all of it.

        A consumer at the root ranges over its own (possibly reduced) region, one attached with
        compute_at over its whole domain. The buffer keeps its full shape (so the layout that
        tensorize's stride and alignment checks see does not depend on who reads it); only the
        computation shrinks.
        """
        if any(a.tensorize is not None for a in st.iter_var_attrs.values()):
            return None
        shape = st.op.shape
        lo, hi = [math.inf] * len(shape), [-math.inf] * len(shape)
        for other in live:
            if other is st or isinstance(other.op, PlaceholderOp):
                continue
            paths: list = []
            _access_paths(self.inline(other.op.body), [], paths)
            loads = [(ld, cs) for ld, cs in paths if isinstance(ld, TensorLoad) and self.stage(ld.tensor.op) is st]
            if not loads:
                continue
            reg = regions.get(id(other))
            ranges = {}
            for d, iv in enumerate(other.op.axis):
                if reg is not None:
                    m = int(reg[d][0].value)
                    ranges[id(iv.var)] = (m, m + reg[d][1] - 1)
                else:
                    ranges[id(iv.var)] = (0, iv.dom.extent - 1)
            for iv in other.op.reduce_axis:
                ranges[id(iv.var)] = (iv.dom.min, iv.dom.min + iv.dom.extent - 1)
            for ld, cs in loads:
                nr, lins = _constraints(cs, ranges)
                for d, i in enumerate(ld.indices):
                    b = _narrow_bound(i, nr, lins)
                    lo[d], hi[d] = min(lo[d], b[0]), max(hi[d], b[1])
        if any(x == math.inf for x in lo):
            return None  # nothing reads it (cannot happen in a schedule built from its outputs)
        out = []
        for d, n in enumerate(shape):
            a = 0 if lo[d] == -math.inf else max(0, min(n - 1, int(lo[d])))
            b = n - 1 if hi[d] == math.inf else min(n - 1, int(hi[d]))
            b = max(a, b)
            out.append((Const(a, "int32"), b - a + 1))
        if all(int(m.value) == 0 and e == n for (m, e), n in zip(out, shape)):
            return None
        return out

    def _check_attach(self, st, live) -> None:
        parent, iv = st.attach_stage, st.attach_ivar
        if parent.attach_type == "inline":
            raise ScheduleError(f"stage {st.name!r}: computed at stage {parent.name!r}, which is inlined")
        if not any(iv is lv for lv in parent.leaf_iter_vars):
            raise ScheduleError(f"stage {st.name!r}: compute_at axis {iv.name!r} is no longer a leaf axis of "
                                f"stage {parent.name!r} (it was split or fused after compute_at)")
        via = None
        if not self.sch.consumes(parent, st):
            via = self._attached_reader(st, live)
            if via is None or getattr(st, "attach_through", None) is not via:
                raise ScheduleError(f"stage {st.name!r}: computed at stage {parent.name!r}, which does not "
                                    "consume it (compute_at(..., through=R) needs R, its one reader, "
                                    "computed at that loop or inside it)")
        for other in live:
            if other is parent or other is st or other is via or isinstance(other.op, PlaceholderOp):
                continue
            if any(self.stage(t.op) is st for t in self._reads(other.op.body)):
                raise ScheduleError(f"stage {st.name!r} is computed at {parent.name!r} but stage "
                                    f"{other.name!r} reads it too; compute it at the root or cache it")

    def _attached_reader(self, st, live):
        """The one stage reading ``st`` when it is computed at ``st``'s attach stage, at ``st``'s loop
        or inside it (a packing stage hoisted above the cache stage that reads it), else None."""
        parent, iv = st.attach_stage, st.attach_ivar
        readers = [o for o in live if o is not st and not isinstance(o.op, PlaceholderOp)
                   and any(self.stage(t.op) is st for t in self._reads(o.op.body))]
        if len(readers) != 1:
            return None
        r = readers[0]
        leaves = list(parent.leaf_iter_vars)
        if r.attach_type != "scope" or r.attach_stage is not parent or not any(iv is lv for lv in leaves):
            return None
        pos = {id(lv): q for q, lv in enumerate(leaves)}
        return r if pos.get(id(r.attach_ivar), -1) >= pos[id(iv)] else None

    def _reads(self, e: Expr) -> list[Tensor]:
        """Tensors read by an expression after expanding inlined stages."""
        return [n.tensor for n in collect_tensor_loads(self.inline(e))]

    def inline(self, e: Expr) -> Expr:
        """Expand reads of inlined stages into their expressions (TE level)."""
        # memoized per expression: every pass asks for the same stage bodies (the attach types it
        # depends on are fixed while lowering)
        hit = self._inline_memo.get(id(e))
        if hit is None or hit[0] is not e:
            hit = self._inline_memo[id(e)] = (e, self._inline(e))
        return hit[1]

    def _inline(self, e: Expr) -> Expr:
        def pre(n):
            if isinstance(n, TensorLoad):
                st = self.stage(n.tensor.op)
                idx = tuple(mutate(i, pre) for i in n.indices)
                if st.attach_type == "inline":
                    op = st.op
                    body = substitute(op.body, {iv.var: i for iv, i in zip(op.axis, idx)})
                    return mutate(body, pre)
                return TensorLoad(n.tensor, idx)
            return None

        return mutate(e, pre)

    def lower_expr(self, e: Expr, vmap: dict) -> Expr:
        """Inline, substitute root variables and turn tensor reads into buffer loads."""
        e = substitute(self.inline(e), vmap)

        def pre(n):
            if isinstance(n, TensorLoad):
                st = self.stage(n.tensor.op)
                buf = self.buffers.get(id(st))
                if buf is None:
                    raise LoweringError(f"stage {st.name!r} is read before it is computed")
                idx = [mutate(i, pre) for i in n.indices]
                off = self.offsets.get(id(st))
                if off is not None:
                    idx = [BinOp("-", i, o, "int32") for i, o in zip(idx, off)]
                return BufferLoad(buf, tuple(idx))
            return None

        return mutate(e, pre)

    # one stage -----------------------------------------------------------------------------------
    def stage_nest(self, st, region):
        """The loop nest of stage ``st`` over ``region`` (None: its whole domain), the tails of its
        splits partitioned as their TailStrategy says (tir.partition)."""
        return partition.stage_nest(self, st, region)

    def stage_nest_region(self, st, region, part):
        """The nest of ``st`` over ``region``, restricted to partition region ``part`` (None: all)."""
        n = self.nest_extents(st, region)
        n.part = part
        self.nest_values(n)
        self.nest_guards(n)
        self.nest_children(n)
        inner, init_stmt, positions = self.nest_block(n)
        return self.nest_place_init(n, inner, init_stmt, positions)

    def nest_extents(self, st, region) -> _Nest:
        """Constant extents of every axis (root: its region; split/fuse results), int32-checked."""
        op = st.op
        data, red = list(op.axis), list(op.reduce_axis)
        ext, root_min = {}, {}
        for d, iv in enumerate(data):
            if region is None:
                root_min[iv], ext[iv] = Const(0, "int32"), iv.dom.extent
            else:
                root_min[iv], ext[iv] = region[d]
        for iv in red:
            root_min[iv], ext[iv] = Const(iv.dom.min, "int32"), iv.dom.extent
        inexact = []
        for rel in st.relations:
            if _is_split(rel):
                e = ext[rel.parent]
                ext[rel.outer], ext[rel.inner] = split_extents(e, rel.factor, rel.nparts)
                if ext[rel.outer] * ext[rel.inner] != e:
                    inexact.append(rel.parent)
            else:
                ext[rel.fused] = ext[rel.outer] * ext[rel.inner]
        for iv, e in ext.items():  # the emitter's loop variables and indices are int32_t
            _check_int32(f"stage {st.name!r} axis {iv.name!r}: extent", e)
        for iv in data + red:
            _check_int32(f"stage {st.name!r} axis {iv.name!r}: last index", iv.dom.min + iv.dom.extent - 1)
        return _Nest(st, region, data, red, ext, root_min, inexact)

    def nest_values(self, n: _Nest) -> None:
        """Every root axis as an expression of the leaf variables (split: o * f + i; fuse: //, %)."""
        ext = n.ext
        n.leaves = leaves = list(n.st.leaf_iter_vars)
        for lv in leaves:
            self.ranges[id(lv.var)] = (0, n.loop_extent(lv) - 1)
        val: dict = {lv: lv.var for lv in leaves}
        if n.part is not None:
            val.update(n.part.values())
        for rel in reversed(n.st.relations):
            if _is_split(rel):
                val[rel.parent] = BinOp("+", BinOp("*", val[rel.outer], Const(ext[rel.inner], "int32"), "int32"),
                                        val[rel.inner], "int32")
            else:
                c = Const(ext[rel.inner], "int32")
                val[rel.outer] = BinOp("//", val[rel.fused], c, "int32")
                val[rel.inner] = BinOp("%", val[rel.fused], c, "int32")
        roots = n.data + n.red
        for iv in roots:
            val[iv] = simplify(val[iv], self.ranges)
        n.val = val
        n.root_val = {iv: simplify(BinOp("+", n.root_min[iv], val[iv], "int32"), self.ranges) for iv in roots}
        n.vmap = {iv.var: n.root_val[iv] for iv in roots}

    def nest_guards(self, n: _Nest) -> None:
        """Guards of non-divisible splits and of a region's edges, each at its innermost leaf."""
        pos_of = {id(lv.var): p for p, lv in enumerate(n.leaves)}
        n.guards = guards = []

        def add_guard(cond: Expr, is_reduce: bool) -> None:
            c = simplify(cond, self.ranges)
            if isinstance(c, Const):
                if c.value:
                    return
            if _always(c, self.ranges):
                return
            vs = [pos_of[v] for v in collect_vars(c) if v in pos_of]
            guards.append((c, max(vs) if vs else -1, is_reduce))

        for iv in n.inexact:
            add_guard(Cmp("<", simplify(n.val[iv], self.ranges), Const(n.ext[iv], "int32")), iv.kind == "reduce")
        if n.region is not None:
            for iv in n.data:
                add_guard(Cmp(">=", n.root_val[iv], Const(0, "int32")), False)
                add_guard(Cmp("<", n.root_val[iv], Const(iv.dom.extent, "int32")), False)

    def nest_children(self, n: _Nest) -> None:
        """The stages attached at our leaves (compute_at): infer their regions, allocate, nest them."""
        st, leaves = n.st, n.leaves
        n.child_stmts, n.child_allocs = defaultdict(list), defaultdict(list)
        te_body = self.inline(st.op.body)
        for p, lv in enumerate(leaves):
            for ch in self.children.get((id(st), id(lv)), []):
                inner_ids = {id(leaves[q].var) for q in range(p + 1, len(leaves))}
                if any(isinstance(t, TensorLoad) and self.stage(t.tensor.op) is ch for t in walk(te_body)):
                    reg = self.infer_region(ch, te_body, n.vmap, inner_ids)
                else:  # read by a stage computed at this loop or inside it
                    reg = self.infer_region(*self._through_reader(ch, n, p, te_body, inner_ids))
                cbuf = self.buffers.get(id(ch))
                if cbuf is None:
                    cbuf = Buffer(ch.name, tuple(e for _, e in reg), ch.op.dtype,
                                  ch.scope if ch.scope != "global" else "local")
                    self.buffers[id(ch)] = cbuf
                    self.offsets[id(ch)] = [m for m, _ in reg]
                    n.child_allocs[p].append(cbuf)
                n.child_stmts[p].append(self.stage_nest(ch, reg))

    def _through_reader(self, ch, n: _Nest, p: int, te_body: Expr, inner_ids: set):
        """(ch, body, vmap, inner ids) for infer_region of ``ch`` read by the stage R attached at leaf
        ``q >= p`` of ``n``: R's body with each data axis d of R at (its region's min + t_d), t_d a
        fresh variable over R's extent, and R's reduction variables ranging: every element R reads
        during one iteration of leaf ``p``."""
        leaves = n.leaves
        for q in range(p, len(leaves)):
            for r in self.children.get((id(n.st), id(leaves[q])), []):
                r_body = self.inline(r.op.body)
                if not any(isinstance(t, TensorLoad) and self.stage(t.tensor.op) is ch for t in walk(r_body)):
                    continue
                r_inner = {id(leaves[x].var) for x in range(q + 1, len(leaves))}
                sub, ids = {}, set(inner_ids)
                for iv, (m, e) in zip(r.op.axis, self.infer_region(r, te_body, n.vmap, r_inner)):
                    t = Var(f"{iv.name}.t")
                    self.ranges[id(t)] = (0, e - 1)
                    sub[iv.var] = BinOp("+", m, t, "int32")
                    ids.add(id(t))
                for iv in r.op.reduce_axis:
                    self.ranges[id(iv.var)] = (iv.dom.min, iv.dom.min + iv.dom.extent - 1)
                    ids.add(id(iv.var))
                return ch, substitute(r_body, sub), n.vmap, ids
        raise LoweringError(f"stage {ch.name!r}: no stage computed inside {n.st.name!r} reads it")

    def nest_block(self, n: _Nest):
        """The innermost statement (a store, or the tensor intrinsic's block), the reduction's init
        store, and the leaf positions still to become loops."""
        st, leaves = n.st, n.leaves
        buf = self.buffers[id(st)]
        off = self.offsets.get(id(st))
        idx = [n.root_val[iv] if off is None else n.val[iv] for iv in n.data]
        tens = self._tensorize_pos(st, leaves)
        body = st.op.body
        init_stmt = None
        block = None
        if tens is not None and not (n.part is not None and n.part.scalar):
            tpos, intrin = tens
            ext = n.ext if n.part is None else {**n.ext, **n.part.ext}
            ctx = BlockContext(self, st, buf, idx, leaves, tpos, n.vmap, n.val, ext, n.guards)
            block = partition.tensorized_block(self, n, intrin, ctx)  # None: a remainder runs scalar code
        if block is not None:
            inner, init = block  # init: True (the identity store), a Stmt, or False
            self.extensions.extend(x for x in intrin.extensions() if x not in self.extensions)
            positions = list(range(tpos))
            if isinstance(init, Stmt):
                init_stmt = init
            elif init and isinstance(body, Reduce):
                init_stmt = Store(buf, idx, body.identity())
        else:
            positions = list(range(len(leaves)))
            if isinstance(body, Reduce):
                src = self.lower_expr(body.source, n.vmap)
                cur = BufferLoad(buf, idx)
                inner = Store(buf, idx, body.combine(cur, src))
                if body.condition is not None:
                    inner = IfThen(self.lower_expr(body.condition, n.vmap), inner)
                init_stmt = Store(buf, idx, body.identity()) if n.part is None or n.part.init else None
            else:
                inner = Store(buf, idx, self.lower_expr(body, n.vmap))
        return inner, init_stmt, positions

    def nest_wrap(self, n: _Nest, stmt, ps, only_data_guards=False, with_children=True):
        """Wrap ``stmt`` in the loops of leaf positions ``ps`` (innermost last), with their guards,
        attached children and allocations."""
        for p in reversed(ps):
            lv = n.leaves[p]
            parts = []
            if with_children:
                parts.extend(n.child_stmts.get(p, []))
            gs = [g for g, gp, isr in n.guards if gp == p and not (only_data_guards and isr)]
            inner_s = stmt
            for g in reversed(gs):
                inner_s = IfThen(g, inner_s)
            s = seq(parts + [inner_s])
            if with_children:
                for b in reversed(n.child_allocs.get(p, [])):
                    s = Allocate(b, s)
            attr = n.st.iter_var_attrs.get(lv)
            kind = attr.kind if attr else "serial"
            if n.part is not None and id(lv) in n.part.unroll:
                kind = "unroll"
            pragmas = attr.pragmas if attr else ()
            stmt = For(lv.var, Const(0, "int32"), n.loop_extent(lv), kind, s, pragmas)
        return stmt

    def nest_place_init(self, n: _Nest, inner, init_stmt, positions):
        """Init placement: a reduction's init nest goes just before its outermost reduction loop."""
        leaves, wrap = n.leaves, self.nest_wrap
        red_pos = [p for p in positions if leaves[p].kind == "reduce"]
        if init_stmt is not None and red_pos:
            first = red_pos[0]
            upd = wrap(n, inner, [p for p in positions if p >= first])
            init_ps = [p for p in positions if p > first and leaves[p].kind == "data"]
            for _g, gp, isr in n.guards:
                if not isr and gp > first and leaves[gp].kind == "reduce":
                    raise LoweringError(f"stage {n.st.name!r}: guard on a data axis below a reduction loop")
            ini = wrap(n, init_stmt, init_ps, only_data_guards=True, with_children=False)
            stmt = wrap(n, seq([ini, upd]), [p for p in positions if p < first])
        elif init_stmt is not None:
            stmt = wrap(n, seq([init_stmt, inner]), positions)
        else:
            stmt = wrap(n, inner, positions)
        for g, gp, _isr in n.guards:
            if gp == -1:
                stmt = IfThen(g, stmt)
        return stmt

    def _tensorize_pos(self, st, leaves):
        for p, lv in enumerate(leaves):
            a = st.iter_var_attrs.get(lv)
            if a is not None and a.tensorize is not None:
                return p, a.tensorize
        return None

    # bound inference -----------------------------------------------------------------------------
    def infer_region(self, ch, te_body: Expr, vmap: dict, inner_ids: set) -> list[tuple[Expr, int]]:
        """The region of child stage ``ch`` that ``te_body`` reads, with inner loops ranging."""
        loads = [n for n in collect_tensor_loads(te_body) if self.stage(n.tensor.op) is ch]
        shape = ch.op.shape
        idxs = [[simplify(substitute(i, vmap), self.ranges) for i in ld.indices] for ld in loads]
        region = []
        for d in range(len(shape)):
            rs = [_sym_range(idx[d], inner_ids, self.ranges) for idx in idxs]
            if len({_skey(r[0]) for r in rs}) > 1:
                rs = [_concrete(*r, self.ranges) for r in rs]
            if rs:
                base = rs[0][0]
                lo, hi = min(r[1] for r in rs), max(r[2] for r in rs)
                if not base.terms:
                    lo, hi = max(lo, 0), min(hi, shape[d] - 1)
                if lo != -math.inf and hi != math.inf and hi - lo + 1 <= shape[d]:
                    m = simplify(base.add(Lin({}, int(lo))).to_expr(), self.ranges)
                    region.append((m, max(1, int(hi - lo + 1))))
                    continue
            # conservative: a constant region from the bounds over every variable, clipped
            lo, hi = math.inf, -math.inf
            for idx in idxs:
                b = bound(idx[d], self.ranges)
                lo, hi = min(lo, b[0]), max(hi, b[1])
            lo = 0 if lo == -math.inf else max(0, int(lo))
            hi = shape[d] - 1 if hi == math.inf else min(shape[d] - 1, int(hi))
            if hi < lo:
                hi = lo
            region.append((Const(lo, "int32"), hi - lo + 1))
        return region


# index analysis shared by bound inference and the access checks ---------------------------------

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
_GRID_LIMIT = 1 << 18  # points a witness search enumerates exhaustively
_INF = math.inf


def _skey(lin: Lin) -> frozenset:
    return frozenset((k, co) for k, (_, co) in lin.terms.items())


def _concrete(base: Lin, lo, hi, ranges) -> tuple[Lin, float, float]:
    b = base.bound(ranges)
    return Lin(), lo + b[0], hi + b[1]


def _sym_range(e: Expr, inner: set, ranges) -> tuple[Lin, float, float]:
    """Range of ``e`` while the variables in ``inner`` range and every other variable is fixed.

    The answer is ``[base + lo, base + hi]`` with ``base`` a linear form over expressions of the
    fixed variables only (its constant is 0) and ``lo``/``hi`` numbers: the region a consumer reads
    at one iteration of the loops outside its attach point. Sound: every value ``e`` takes lies in
    it (floor division and modulo of a range are handled through the residues ``base`` can have).
    """
    if isinstance(e, Const):
        v = int(e.value)
        return Lin(), v, v
    if not (collect_vars(e) & inner):
        lin = linear(e, ranges)
        return Lin(lin.terms, 0), lin.c, lin.c
    if isinstance(e, Var):
        lo, hi = ranges.get(id(e), (-_INF, _INF))
        return Lin(), lo, hi
    if isinstance(e, Cast) and e.dtype == "int32" and e.value.dtype == "int32":
        return _sym_range(e.value, inner, ranges)
    if isinstance(e, BinOp) and e.dtype == "int32":
        op = e.op
        if op in ("+", "-"):
            ba, la, ha = _sym_range(e.a, inner, ranges)
            bb, lb, hb = _sym_range(e.b, inner, ranges)
            if op == "+":
                return ba.add(bb), la + lb, ha + hb
            return ba.add(bb, -1), la - hb, ha - lb
        if op == "*":
            ra, rb = _sym_range(e.a, inner, ranges), _sym_range(e.b, inner, ranges)
            for (b1, l1, h1), (b2, l2, h2) in ((ra, rb), (rb, ra)):
                if not b2.terms and l2 == h2 and l2 not in (_INF, -_INF):
                    k = int(l2)
                    return b1.scale(k), min(l1 * k, h1 * k) if k else 0, max(l1 * k, h1 * k) if k else 0
            lo, hi = bound(e, ranges)
            return Lin(), lo, hi
        if op in ("//", "%") and isinstance(e.b, Const) and int(e.b.value) > 0:
            base, lo, hi = _sym_range(e.a, inner, ranges)
            if lo in (_INF, -_INF) or hi in (_INF, -_INF):
                lo, hi = bound(e, ranges)
                return Lin(), lo, hi
            return _sym_divmod(op, base, int(lo), int(hi), int(e.b.value))
        if op in ("min", "max"):
            ra, rb = _sym_range(e.a, inner, ranges), _sym_range(e.b, inner, ranges)
            if _skey(ra[0]) != _skey(rb[0]):
                ra, rb = _concrete(*ra, ranges), _concrete(*rb, ranges)
            f = min if op == "min" else max
            return ra[0], f(ra[1], rb[1]), f(ra[2], rb[2])
    if isinstance(e, Select):
        rt, rf = _sym_range(e.t, inner, ranges), _sym_range(e.f, inner, ranges)
        if _skey(rt[0]) != _skey(rf[0]):
            rt, rf = _concrete(*rt, ranges), _concrete(*rf, ranges)
        return rt[0], min(rt[1], rf[1]), max(rt[2], rf[2])
    lo, hi = bound(e, ranges)
    return Lin(), lo, hi


def _sym_divmod(op: str, base: Lin, lo: int, hi: int, c: int) -> tuple[Lin, float, float]:
    """``[base + lo, base + hi] // c`` or ``% c`` as a symbolic range."""
    q, rb = Lin(), Lin()
    for k, (e, co) in base.terms.items():
        if co % c == 0:
            q.terms[k] = [e, co // c]
        else:
            rb.terms[k] = [e, co]
    if not rb.terms:
        if op == "//":
            return q, lo // c, hi // c
        if lo // c == hi // c:
            return Lin(), lo % c, hi % c
        return Lin(), 0, c - 1
    # rb can only be congruent to a multiple of g modulo c: the quotient steps at most `spread` times
    g = math.gcd(c, *[co % c for _, co in rb.terms.values()])
    if c // g <= 4096:
        spread = max((r + hi) // c - (r + lo) // c for r in range(0, c, g))
    else:
        spread = -(-(hi - lo) // c)
    start = rb.add(Lin({}, lo)).to_expr()
    if op == "//":
        return q.add(Lin.atom(BinOp("//", start, Const(c, "int32"), "int32"))), 0, spread
    if spread == 0:
        return Lin.atom(BinOp("%", start, Const(c, "int32"), "int32")), 0, hi - lo
    return Lin(), 0, c - 1


def _residue_bound(e: Expr, ranges) -> tuple[float, float]:
    """Bound of an int32 expression whose ``x % c`` atoms are bounded through their residues.

    ``(3 * xo) % 6`` is 0 or 3, not anything in [0, 5]: every coefficient of ``x`` is a multiple of
    g = gcd(c, coefficients), so ``x % c`` is congruent to ``x``'s constant modulo g. That proves the
    region guards of a tile of a fused axis (``(3 * xo) % 6 + j < 6`` with j < 3).
    """
    lin = linear(e, ranges)
    lo = hi = lin.c
    for a, co in lin.terms.values():
        b = bound(a, ranges)
        if isinstance(a, BinOp) and a.op == "%" and isinstance(a.b, Const) and int(a.b.value) > 0:
            c = int(a.b.value)
            x = linear(a.a, ranges)
            g = math.gcd(c, *[k for _, k in x.terms.values()])
            r = x.c % g
            b = (max(b[0], r), min(b[1], c - g + r))
        if co > 0:
            lo, hi = lo + co * b[0], hi + co * b[1]
        else:
            lo, hi = lo + co * b[1], hi + co * b[0]
    return lo, hi


def _always(c: Expr, ranges) -> bool:
    """Is the comparison ``c`` true for every value of its variables (residue-aware bounds)?"""
    if not isinstance(c, Cmp) or c.a.dtype != "int32" or c.op not in ("<", "<=", ">", ">="):
        return False
    lo, hi = _residue_bound(BinOp("-", c.a, c.b, "int32"), ranges)
    return {"<": hi < 0, "<=": hi <= 0, ">": lo > 0, ">=": lo >= 0}[c.op]


def _constraints(conds: list, ranges) -> tuple[dict, list]:
    """Narrow variable ranges by the simple conditions among ``conds`` (all hold on the path).

    Returns the narrowed ranges and the linear constraints ``(lin, lo, hi)``: lo <= lin <= hi.
    Conditions of other forms are ignored here (a looser bound, never a wrong one).
    """
    atoms = []
    todo = list(conds)
    while todo:
        c = todo.pop()
        if isinstance(c, BinOp) and c.op == "&&":
            todo += [c.a, c.b]
        elif isinstance(c, Not) and isinstance(c.a, BinOp) and c.a.op == "||":
            todo += [Not(c.a.a), Not(c.a.b)]
        elif isinstance(c, Not) and isinstance(c.a, Not):
            todo.append(c.a.a)
        elif isinstance(c, Not) and isinstance(c.a, Cmp):
            flip = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}[c.a.op]
            atoms.append(Cmp(flip, c.a.a, c.a.b))
        elif isinstance(c, Cmp):
            atoms.append(c)
    out = dict(ranges)
    lins = []
    for c in atoms:
        if c.a.dtype != "int32" or c.op == "!=":
            continue
        d = linear(c.a, ranges).add(linear(c.b, ranges), -1)  # d op 0
        lo, hi = {"<": (-_INF, -1), "<=": (-_INF, 0), ">": (1, _INF), ">=": (0, _INF), "==": (0, 0)}[c.op]
        lo, hi = lo - d.c, hi - d.c  # lo <= d - d.c <= hi
        g = Lin(d.terms, 0)
        lins.append((g, lo, hi))
        if len(g.terms) == 1:
            (v, co), = g.terms.values()
            if isinstance(v, Var):
                vlo, vhi = (lo / co, hi / co) if co > 0 else (hi / co, lo / co)
                cur = out.get(id(v), (-_INF, _INF))
                nlo = cur[0] if vlo == -_INF else max(cur[0], math.ceil(vlo))
                nhi = cur[1] if vhi == _INF else min(cur[1], math.floor(vhi))
                out[id(v)] = (nlo, nhi)
    return out, lins


def _narrow_bound(e: Expr, ranges, lins) -> tuple[float, float]:
    """Bound of ``e`` under the ranges and the linear constraints (e = g + (e - g) for each g)."""
    lo, hi = bound(e, ranges)
    lin = linear(e, ranges)
    for g, glo, ghi in lins:
        d = lin.add(g, -1).bound(ranges)
        lo, hi = max(lo, glo + d[0]), min(hi, ghi + d[1])
    return lo, hi


class _Unknown(Exception):
    """An expression the witness search cannot evaluate (a load, a call, an unbounded variable)."""


class _GridEval(ExprVisitor):
    """Each ``visit_<Node>`` returns the node's values on the grid ``env`` (numpy broadcasting)."""

    def __init__(self, env: dict):
        self.env = env

    def visit_default(self, e):
        raise _Unknown(type(e).__name__)

    def visit_Const(self, e: Const):
        return np.int64(int(e.value)) if not isinstance(e.value, bool) else np.bool_(e.value)

    def visit_Var(self, e: Var):
        if id(e) not in self.env:
            raise _Unknown(e.name)
        return self.env[id(e)]

    def visit_Cast(self, e: Cast):
        v = self.visit(e.value)
        if e.dtype == "bool":
            return v != 0
        if e.dtype in ("int32", "int64") or dt.is_int(e.dtype):
            return np.asarray(v).astype(np.int64)
        raise _Unknown(e.dtype)

    def visit_Not(self, e: Not):
        return np.logical_not(self.visit(e.a))

    def visit_Select(self, e: Select):
        return np.where(self.visit(e.cond), self.visit(e.t), self.visit(e.f))

    def visit_Cmp(self, e: Cmp):
        return _CMP[e.op](self.visit(e.a), self.visit(e.b))

    def visit_BinOp(self, e: BinOp):
        a, b = self.visit(e.a), self.visit(e.b)
        if e.op == "&&":
            return np.logical_and(a, b)
        if e.op == "||":
            return np.logical_or(a, b)
        if e.dtype == "bool" or dt.is_float(e.dtype):
            raise _Unknown(e.op)
        if e.op in ("//", "%"):
            if np.any(np.asarray(b) == 0):
                raise _Unknown("division by zero")
            return np.floor_divide(a, b) if e.op == "//" else np.mod(a, b)
        f = _ARITH.get(e.op)
        if f is None:
            raise _Unknown(e.op)
        return f(a, b)

    # loads, calls, ramps, reductions: not evaluable here
    visit_TensorLoad = visit_BufferLoad = visit_Ramp = visit_Call = visit_Reduce = visit_default


_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
        "!=": np.not_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "min": np.minimum, "max": np.maximum}


def _eval(e: Expr, env: dict):
    """Evaluate an integer/bool expression on a grid (numpy broadcasting over the variables)."""
    return _GridEval(env).visit(e)


def _witness(indices: list, shape: tuple, conds: list, ranges, fixed: set = frozenset()):
    """A point (var name -> value) where ``conds`` hold and some index lies outside ``shape``, or None.

    Only such a point proves an access out of bounds: every variable ranges over a box (loop
    variables / compute axes), so each point of the grid is executed when the conditions hold.
    ``fixed`` are variables whose values depend on others (a loop with a variable start): a
    search involving them proves nothing.
    """
    vs = {}
    for e in list(indices) + list(conds):
        for n in walk(e):
            if isinstance(n, Var):
                vs[id(n)] = n
    if set(vs) & set(fixed):
        return None
    rs = {}
    for k in vs:
        lo, hi = ranges.get(k, (-_INF, _INF))
        if lo in (_INF, -_INF) or hi in (_INF, -_INF) or hi < lo:
            return None
        rs[k] = (int(lo), int(hi))
    size = 1
    for lo, hi in rs.values():
        size *= hi - lo + 1
    if size <= _GRID_LIMIT:
        values = {k: np.arange(lo, hi + 1, dtype=np.int64) for k, (lo, hi) in rs.items()}
    else:
        # too many points: only the box's corners and their neighbours
        values = {k: np.unique(np.array([lo, min(lo + 1, hi), max(hi - 1, lo), hi], dtype=np.int64))
                  for k, (lo, hi) in rs.items()}
        n = 1
        for a in values.values():
            n *= len(a)
        if n > _GRID_LIMIT:
            values = {k: np.unique(np.array([lo, hi], dtype=np.int64)) for k, (lo, hi) in rs.items()}
            n = 1 << len(values)
            if n > _GRID_LIMIT:
                return None
    keys = list(values)
    env = {}
    for d, k in enumerate(keys):
        shp = [1] * len(keys)
        shp[d] = len(values[k])
        env[k] = values[k].reshape(shp)
    try:
        mask = np.bool_(True)
        for c in conds:
            mask = np.logical_and(mask, _eval(c, env))
        bad = np.bool_(False)
        for e, n in zip(indices, shape):
            v = _eval(e, env)
            bad = np.logical_or(bad, np.logical_or(v < 0, v >= n))
        hit = np.logical_and(mask, bad)
    except _Unknown:
        return None
    full = np.broadcast_to(hit, tuple(len(values[k]) for k in keys) or ())
    if not full.any():
        return None
    pos = np.argwhere(full)[0] if keys else ()
    return {k: (vs[k], int(values[k][p])) for k, p in zip(keys, pos)}


class _AccessPaths(ExprVisitor):
    """Collects (access, conditions on its path) into ``out``; ``conds`` grows under a guard."""

    def __init__(self, conds: list, out: list):
        self.conds, self.out = conds, out

    def under(self, e: Expr, conds: list) -> None:
        saved, self.conds = self.conds, conds
        self.visit(e)
        self.conds = saved

    def visit_Select(self, e: Select) -> None:
        conds = self.conds
        self.visit(e.cond)
        self.under(e.t, conds + [e.cond])
        self.under(e.f, conds + [Not(e.cond)])

    def visit_BinOp(self, e: BinOp) -> None:
        if e.op in ("&&", "||"):
            self.visit(e.a)
            self.under(e.b, self.conds + [e.a if e.op == "&&" else Not(e.a)])
        else:
            self.visit(e.a)
            self.visit(e.b)

    def visit_Reduce(self, e: Reduce) -> None:
        if e.condition is not None:
            self.visit(e.condition)
            self.under(e.source, self.conds + [e.condition])
        else:
            self.visit(e.source)

    def _access(self, e) -> None:
        self.out.append((e, self.conds))
        for i in e.indices:
            if contains_access(i):  # an index without accesses adds nothing
                self.visit(i)

    visit_TensorLoad = visit_BufferLoad = visit_Ramp = _access


def _access_paths(e: Expr, conds: list, out: list) -> None:
    """Every tensor/buffer access in ``e`` with the conditions that guard it (if_then_else, &&, ||)."""
    _AccessPaths(conds, out).visit(e)


def _fmt_point(p: dict) -> str:
    return ", ".join(f"{v.name} = {x}" for v, x in p.values()) or "every point"


def _check_int32(what: str, value) -> None:
    if value > INT32_MAX or value < INT32_MIN:
        raise LoweringError(f"{what} is {value}, which does not fit int32 (the generated C uses int32_t loop "
                            f"variables and indices; the limit is {INT32_MAX})")


def check_buffer(buf: Buffer) -> None:
    """A buffer's element count and byte size must fit int32 (its flat indices are int32_t)."""
    _check_int32(f"tensor {buf.name!r}: element count of shape {buf.shape}", buf.size)
    _check_int32(f"tensor {buf.name!r}: byte size ({buf.size} x {dt.bits(buf.dtype) // 8}-byte {buf.dtype})",
                 buf.size * max(1, dt.bits(buf.dtype) // 8))


def te_read_errors(name: str, body: Expr, ranges: dict) -> list[tuple[str, LoweringError]]:
    """Reads of ``body`` outside their tensor's shape, each shown by a witness point.

    ``ranges`` are the compute domain (axes and reduction axes); an if_then_else / &&, || / a
    reduction's ``where`` condition that protects a read narrows the ranges, and a read counts only
    with a witness point where every condition on its path holds. Returns (tensor name, error).
    """
    paths: list = []
    _access_paths(body, [], paths)
    out = []
    for load, conds in paths:
        t = load.tensor
        nr, lins = _constraints(conds, ranges)
        dims = [_narrow_bound(i, nr, lins) for i in load.indices]
        if all(lo >= 0 and hi < n for (lo, hi), n in zip(dims, t.shape)):
            continue
        p = _witness(list(load.indices), t.shape, conds, nr)
        if p is None:
            continue
        env = {k: np.int64(x) for k, (_, x) in p.items()}
        for d, (i, (lo, hi), n) in enumerate(zip(load.indices, dims, t.shape)):
            try:
                v = int(_eval(i, env))
            except _Unknown:
                continue
            if 0 <= v < n:
                continue
            guard = f" under {' and '.join(str(c) for c in conds)}" if conds else ""
            out.append((t.name, LoweringError(
                f"stage {name!r} reads tensor {t.name!r} out of bounds: index {d} ({i}) ranges over "
                f"[{lo}, {hi}]{guard} but {t.name!r} has extent {n} there (shape {t.shape}); at "
                f"{_fmt_point(p)} it reads {t.name}[{', '.join(str(x) for x in load.indices)}] with "
                f"index {d} = {v}")))
            break
    return out


class _AccessChecker(StmtVisitor):
    """check_func's walk: statements with the conditions that guard them (``conds``) and the loop
    ranges; ``access(buf, indices, lanes, conds, kind)`` and ``expr(e, conds)`` check the accesses."""

    def __init__(self, access, expr, ranges: dict, fixed: set):
        self.access, self.expr, self.ranges, self.fixed = access, expr, ranges, fixed
        self.conds: list = []

    def visit_For(self, s):
        _check_int32(f"loop {s.var.name!r}: extent", s.extent)
        if isinstance(s.min, Const):
            lo = int(s.min.value)
        else:
            lo = bound(s.min, self.ranges)[0]
            self.fixed.add(id(s.var))
        b = bound(s.min, self.ranges)
        self.ranges[id(s.var)] = (lo, b[1] + s.extent - 1)
        self.visit(s.body)

    def visit_IfThen(self, s):
        conds = self.conds
        self.expr(s.cond, conds)
        self.conds = conds + [s.cond]
        self.visit(s.then)
        if s.otherwise is not None:
            self.conds = conds + [Not(s.cond)]
            self.visit(s.otherwise)
        self.conds = conds

    def visit_Store(self, s):
        for i in s.indices:
            self.expr(i, self.conds)
        self.expr(s.value, self.conds)
        self.access(s.buffer, s.indices, s.lanes, self.conds, "store")

    def visit_Allocate(self, s):
        check_buffer(s.buffer)
        self.visit(s.body)

    def visit_Evaluate(self, s):
        self.expr(s.value, self.conds)

    def visit_default(self, s):
        return None


def check_func(func: PrimFunc, explain: dict | None = None) -> None:
    """Check every access and loop of the lowered function.

    Loop extents and flattened indices must fit int32; a store or load outside its buffer on a path
    that executes (shown by a witness point) is an error: ``explain`` maps a buffer name to the
    TE-level error that describes it in the user's terms; without one the lowering itself went wrong.
    """
    explain = explain or {}
    ranges: dict = {}
    fixed: set = set()

    def access(buf, indices, lanes, conds, kind):
        idx = list(indices)
        # the common case first: in bounds over the loop ranges alone (then the flat index fits too)
        plain = [bound(i, ranges) for i in idx]
        if lanes > 1 and plain:
            plain[-1] = (plain[-1][0], plain[-1][1] + lanes - 1)
        if all(lo >= 0 and hi < n for (lo, hi), n in zip(plain, buf.shape)):
            return
        nr, lins = _constraints(conds, ranges)
        dims = [_narrow_bound(i, nr, lins) for i in idx]
        if lanes > 1 and dims:
            dims[-1] = (dims[-1][0], dims[-1][1] + lanes - 1)
        flat_lo, flat_hi, stride = 0, 0, 1
        for (lo, hi), n in zip(reversed(dims), reversed(buf.shape)):
            flat_lo, flat_hi = flat_lo + lo * stride, flat_hi + hi * stride
            stride *= n
        if flat_hi > INT32_MAX or flat_lo < INT32_MIN:
            raise LoweringError(f"tensor {buf.name!r}: the flattened index of {kind} {buf.name}"
                                f"[{', '.join(str(i) for i in idx)}] ranges over [{flat_lo}, {flat_hi}], which "
                                "does not fit int32")
        if all(lo >= 0 and hi < n for (lo, hi), n in zip(dims, buf.shape)):
            return
        if lanes > 1:
            idx = idx[:-1] + [BinOp("+", idx[-1], Const(lanes - 1, "int32"), "int32")]
        p = _witness(idx, buf.shape, conds, nr, fixed)
        if p is None:
            return
        if kind == "load" and buf.name in explain:
            raise explain[buf.name]
        what = "argument" if buf.is_arg else "intermediate buffer"
        raise LoweringError(f"lowering produced a {kind} of {what} {buf.name!r} (shape {buf.shape}) outside it: "
                            f"{buf.name}[{', '.join(str(i) for i in idx)}] at {_fmt_point(p)}; index ranges "
                            f"{[(lo, hi) for lo, hi in dims]}")

    def expr(e, conds):
        if not contains_access(e):
            return
        paths: list = []
        _access_paths(e, conds, paths)
        for n, cs in paths:
            if isinstance(n, Ramp):
                access(n.buffer, n.indices, n.lanes, cs, "load")
            elif isinstance(n, BufferLoad):
                access(n.buffer, n.indices, 1, cs, "load")

    for b in func.args:
        check_buffer(b)
    _AccessChecker(access, expr, ranges, fixed).visit(func.body)


__all__ = ["PASSES", "BlockContext", "Pass", "lower", "lower_passes"]
