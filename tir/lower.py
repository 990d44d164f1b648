"""Lowering: a schedule (stages with their loop transforms and attach points) to the loop IR.

For every stage the lowerer builds a loop nest over its leaf axes, expresses the root axes in
terms of the leaves (split: ``outer * factor + inner``; fuse: ``fused // n`` and ``fused % n``),
guards non-divisible splits, and places the stages attached with compute_at inside the consumer's
loop at the attach axis, computing only the region the consumer reads there (bound inference).
Reductions get an init nest just before their outermost reduction loop.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from .errors import LoweringError, ScheduleError
from .expr import BinOp, BufferLoad, Cmp, Const, Expr, Reduce, TensorLoad
from .passes import finalize
from .simplify import Lin, bound, linear, simplify
from .stmt import Allocate, Buffer, For, IfThen, PrimFunc, Store, seq
from .tensor import PlaceholderOp, Tensor, split_extents
from .visit import collect_vars, mutate, substitute, walk


def lower(sch, args, name: str = "main") -> PrimFunc:
    """Lower schedule ``sch`` to a PrimFunc whose buffer arguments follow ``args`` in order."""
    return _Lowerer(sch).run(list(args), name)


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


class _Lowerer:
    def __init__(self, sch):
        self.sch = sch
        self.ranges: dict[int, tuple[int, int]] = {}
        self.buffers: dict[int, Buffer] = {}
        self.offsets: dict[int, list[Expr] | None] = {}
        self.children: dict[tuple[int, int], list] = defaultdict(list)
        self.extensions: list = []
        self.prologue: dict[int, list] = {}

    def add_prologue(self, owner, stmts) -> None:
        """Statements run once at kernel entry (e.g. clearing an accumulator bank), once per owner."""
        cur = self.prologue.setdefault(id(owner), [])
        if len(stmts) > len(cur):
            cur[:] = stmts

    # setup ---------------------------------------------------------------------------------------
    def stage(self, op):
        st = self.sch.stage_map.get(id(op))
        if st is None:
            raise LoweringError(f"tensor {op.name!r} is not part of the schedule")
        return st

    def run(self, args: list, name: str) -> PrimFunc:
        sch = self.sch
        arg_bufs = []
        for t in args:
            if not isinstance(t, Tensor):
                raise LoweringError(f"lower args must be tensors, got {t!r}")
            if id(t.op) not in self.sch.stage_map and isinstance(t.op, PlaceholderOp):
                # an input the kernel does not read: still a parameter, as in TVM
                b = Buffer(t.name, t.shape, t.dtype, "global", is_arg=True)
                arg_bufs.append(b)
                continue
            st = self.stage(t.op)
            if st.attach_type == "inline":
                raise LoweringError(f"tensor {t.name!r} is an argument but its stage is inlined")
            if id(st) in self.buffers:
                raise LoweringError(f"tensor {t.name!r} appears twice in args")
            b = Buffer(t.name, t.shape, t.dtype, "global", is_arg=True)
            self.buffers[id(st)] = b
            self.offsets[id(st)] = None
            arg_bufs.append(b)
        live = [s for s in sch.stages if s.attach_type != "inline"]
        for st in live:
            if st.is_output and id(st) not in self.buffers:
                raise LoweringError(f"output tensor {st.name!r} is missing from the lower args")
        for st in live:
            if isinstance(st.op, PlaceholderOp):
                continue
            for t in self._reads(st.op.body):
                rs = self.stage(t.op)
                if isinstance(rs.op, PlaceholderOp) and id(rs) not in self.buffers:
                    raise LoweringError(f"stage {st.name!r} reads placeholder {rs.name!r}, which is not "
                                        "in the lower args")
        for st in live:
            if st.attach_type == "scope":
                self._check_attach(st, live)
                self.children[(id(st.attach_stage), id(st.attach_ivar))].append(st)
        roots = [s for s in live if s.attach_type == "root" and not isinstance(s.op, PlaceholderOp)]
        for st in roots:
            if id(st) not in self.buffers:
                # kernel-level intermediates are "global" whatever their cache scope: full size
                self.buffers[id(st)] = Buffer(st.name, st.op.shape, st.op.dtype, "global")
                self.offsets[id(st)] = None
        body = seq([self.stage_nest(st, None) for st in roots])
        body = seq([s for stmts in self.prologue.values() for s in stmts] + [body])
        allocs = [self.buffers[id(st)] for st in roots if not self.buffers[id(st)].is_arg]
        for b in reversed(allocs):
            body = Allocate(b, body)
        func = PrimFunc(name, arg_bufs, body, list(self.extensions))
        return finalize(func)

    def _check_attach(self, st, live) -> None:
        parent, iv = st.attach_stage, st.attach_ivar
        if parent.attach_type == "inline":
            raise ScheduleError(f"stage {st.name!r}: computed at stage {parent.name!r}, which is inlined")
        if not any(iv is lv for lv in parent.leaf_iter_vars):
            raise ScheduleError(f"stage {st.name!r}: compute_at axis {iv.name!r} is no longer a leaf axis of "
                                f"stage {parent.name!r} (it was split or fused after compute_at)")
        if not self.sch._consumes(parent, st):
            raise ScheduleError(f"stage {st.name!r}: computed at stage {parent.name!r}, which does not "
                                "consume it")
        for other in live:
            if other is parent or other is st or isinstance(other.op, PlaceholderOp):
                continue
            if any(self.stage(t.op) is st for t in self._reads(other.op.body)):
                raise ScheduleError(f"stage {st.name!r} is computed at {parent.name!r} but stage "
                                    f"{other.name!r} reads it too; compute it at the root or cache it")

    def _reads(self, e: Expr) -> list[Tensor]:
        """Tensors read by an expression after expanding inlined stages."""
        out = []
        for n in walk(self.inline(e)):
            if isinstance(n, TensorLoad):
                out.append(n.tensor)
        return out

    def inline(self, e: Expr) -> Expr:
        """Expand reads of inlined stages into their expressions (TE level)."""

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
        inexact = []  # split parents whose outer * inner overshoots: each needs a guard
        for rel in st.relations:
            if _is_split(rel):
                e = ext[rel.parent]
                ext[rel.outer], ext[rel.inner] = split_extents(e, rel.factor, rel.nparts)
                if ext[rel.outer] * ext[rel.inner] != e:
                    inexact.append(rel.parent)
            else:
                ext[rel.fused] = ext[rel.outer] * ext[rel.inner]
        leaves = list(st.leaf_iter_vars)
        for lv in leaves:
            self.ranges[id(lv.var)] = (0, ext[lv] - 1)
        val: dict = {lv: lv.var for lv in leaves}
        for rel in reversed(st.relations):
            if _is_split(rel):
                val[rel.parent] = BinOp("+", BinOp("*", val[rel.outer], Const(ext[rel.inner], "int32"), "int32"),
                                        val[rel.inner], "int32")
            else:
                n = Const(ext[rel.inner], "int32")
                val[rel.outer] = BinOp("//", val[rel.fused], n, "int32")
                val[rel.inner] = BinOp("%", val[rel.fused], n, "int32")
        for iv in data + red:
            val[iv] = simplify(val[iv], self.ranges)
        root_val = {iv: simplify(BinOp("+", root_min[iv], val[iv], "int32"), self.ranges) for iv in data + red}
        vmap = {iv.var: root_val[iv] for iv in data + red}

        # guards: (condition, position of the innermost leaf it depends on)
        pos_of = {id(lv.var): p for p, lv in enumerate(leaves)}
        guards = []

        def add_guard(cond: Expr, is_reduce: bool) -> None:
            c = simplify(cond, self.ranges)
            if isinstance(c, Const):
                if c.value:
                    return
            vs = [pos_of[v] for v in collect_vars(c) if v in pos_of]
            guards.append((c, max(vs) if vs else -1, is_reduce))

        for iv in inexact:
            add_guard(Cmp("<", simplify(val[iv], self.ranges), Const(ext[iv], "int32")), iv.kind == "reduce")
        if region is not None:
            for iv in data:
                add_guard(Cmp(">=", root_val[iv], Const(0, "int32")), False)
                add_guard(Cmp("<", root_val[iv], Const(iv.dom.extent, "int32")), False)

        # children attached at our leaves: infer regions, allocate
        child_stmts: dict[int, list] = defaultdict(list)
        child_allocs: dict[int, list] = defaultdict(list)
        te_body = self.inline(op.body)
        for p, lv in enumerate(leaves):
            for ch in self.children.get((id(st), id(lv)), []):
                inner_ids = {id(leaves[q].var) for q in range(p + 1, len(leaves))}
                reg = self.infer_region(ch, te_body, vmap, inner_ids)
                cbuf = self.buffers.get(id(ch))
                if cbuf is None:
                    cbuf = Buffer(ch.name, tuple(e for _, e in reg), ch.op.dtype,
                                  ch.scope if ch.scope != "global" else "local")
                    self.buffers[id(ch)] = cbuf
                    self.offsets[id(ch)] = [m for m, _ in reg]
                    child_allocs[p].append(cbuf)
                child_stmts[p].append(self.stage_nest(ch, reg))

        # the statements
        buf = self.buffers[id(st)]
        off = self.offsets.get(id(st))
        idx = [root_val[iv] if off is None else val[iv] for iv in data]
        tens = self._tensorize_pos(st, leaves)
        body = op.body
        init_stmt = None
        if tens is not None:
            tpos, intrin = tens
            ctx = BlockContext(self, st, buf, idx, leaves, tpos, vmap, val, ext, guards)
            inner, needs_init = intrin.lower_block(ctx)
            self.extensions.extend(x for x in intrin.extensions() if x not in self.extensions)
            positions = list(range(tpos))
            if needs_init and isinstance(body, Reduce):
                init_stmt = Store(buf, idx, body.identity())
        else:
            positions = list(range(len(leaves)))
            if isinstance(body, Reduce):
                src = self.lower_expr(body.source, vmap)
                cur = BufferLoad(buf, idx)
                inner = Store(buf, idx, body.combine(cur, src))
                if body.condition is not None:
                    inner = IfThen(self.lower_expr(body.condition, vmap), inner)
                init_stmt = Store(buf, idx, body.identity())
            else:
                inner = Store(buf, idx, self.lower_expr(body, vmap))

        def wrap(stmt, ps, only_data_guards=False, with_children=True):
            for p in reversed(ps):
                lv = leaves[p]
                parts = []
                if with_children:
                    parts.extend(child_stmts.get(p, []))
                gs = [g for g, gp, isr in guards if gp == p and not (only_data_guards and isr)]
                inner_s = stmt
                for g in reversed(gs):
                    inner_s = IfThen(g, inner_s)
                s = seq(parts + [inner_s])
                if with_children:
                    for b in reversed(child_allocs.get(p, [])):
                        s = Allocate(b, s)
                attr = st.iter_var_attrs.get(lv)
                kind = attr.kind if attr else "serial"
                pragmas = attr.pragmas if attr else ()
                stmt = For(lv.var, Const(0, "int32"), ext[lv], kind, s, pragmas)
            return stmt

        red_pos = [p for p in positions if leaves[p].kind == "reduce"]
        if init_stmt is not None and red_pos:
            first = red_pos[0]
            upd = wrap(inner, [p for p in positions if p >= first])
            init_ps = [p for p in positions if p > first and leaves[p].kind == "data"]
            for _g, gp, isr in guards:
                if not isr and gp > first and leaves[gp].kind == "reduce":
                    raise LoweringError(f"stage {st.name!r}: guard on a data axis below a reduction loop")
            ini = wrap(init_stmt, init_ps, only_data_guards=True, with_children=False)
            stmt = wrap(seq([ini, upd]), [p for p in positions if p < first])
        elif init_stmt is not None:
            stmt = wrap(seq([init_stmt, inner]), positions)
        else:
            stmt = wrap(inner, positions)
        for g, gp, _isr in guards:
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
        loads = [n for n in walk(te_body) if isinstance(n, TensorLoad) and self.stage(n.tensor.op) is ch]
        shape = ch.op.shape
        idxs = [[simplify(substitute(i, vmap), self.ranges) for i in ld.indices] for ld in loads]
        region = []
        for d in range(len(shape)):
            sym = None
            lo, hi = math.inf, -math.inf
            ok = bool(idxs)
            for idx in idxs:
                lin = linear(idx[d], self.ranges)
                outer, inner = Lin(), Lin({}, lin.c)
                for k, (e, co) in lin.terms.items():
                    vs = collect_vars(e)
                    if vs & inner_ids:
                        if vs - inner_ids:
                            ok = False
                        inner.terms[k] = [e, co]
                    else:
                        outer.terms[k] = [e, co]
                skey = frozenset((k, co) for k, (_, co) in outer.terms.items())
                if sym is None:
                    sym = (skey, outer)
                elif sym[0] != skey:
                    ok = False
                b = inner.bound(self.ranges)
                lo, hi = min(lo, b[0]), max(hi, b[1])
            if ok and lo != -math.inf and hi != math.inf and hi - lo + 1 <= shape[d]:
                m = simplify(sym[1].add(Lin({}, int(lo))).to_expr(), self.ranges)
                region.append((m, int(hi - lo + 1)))
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


__all__ = ["BlockContext", "lower"]
