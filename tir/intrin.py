"""Tensor intrinsics: loop nests that the instructions of an ISA extension compute.

A :class:`TensorIntrin` is declared (:func:`decl_tensor_intrin`, as in TVM) by

* ``desc``: what it computes, a TE ``compute`` over placeholder operands of any shape (a dot over
  packed lanes, a row of outputs against a stationary operand, an elementwise conversion);
* ``impl``: how, a function that receives a :class:`TensorizeMatch` (the matched operands as
  :class:`BufferView` s with buffer, indices, strides and alignment checks, plus the loops of the
  tensorized nest that ``desc`` does not cover) and returns an :class:`IntrinImpl`: loop IR for
  ``body`` / ``reduce_init`` / ``reduce_update`` made of calls of the extension's ops, and
  ``setup`` statements run once at kernel entry (clear an accumulator bank, set a multiplier);
* ``facts``: the hardware facts the tuner and the emitter need (:class:`HardwareFacts`).

``Stage.tensorize(axis, intrin)`` replaces the nest under ``axis``. Its innermost loops must be
``desc``'s axes (data axes first, then reduction axes, axes of extent 1 left out), with the same
extents; the loops above them are handed to ``impl`` as :attr:`TensorizeMatch.loops`. The stage's
body must equal ``desc``'s up to the order of the operands of ``+`` and ``*``; each operand's index
must be affine in the matched loops. A guard inside the nest (a split that does not divide) is
refused unless the split's tail is partitioned (:mod:`tir.partition`): then the full tiles are
tensorized and the remainder runs the stage's scalar code; ``tensorize(..., strict=True)`` refuses
any guard. Nothing is accepted on faith: each mismatch is a ScheduleError naming the stage, the axis,
the intrinsic and what differs.

Which result ``impl`` must give: when reduction loops lie outside the tensorized nest the stage
accumulates across calls, so ``reduce_update`` is used (with ``reduce_init``, or the stage's own
identity store when it gives none); otherwise ``body`` (or, without one, init + update).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from . import dtype as dt
from .errors import ScheduleError
from .expr import BinOp, BufferLoad, Call, Cast, Const, Expr, Ramp, Reduce, Select, TensorLoad, Var
from .partition import TailInNest
from .simplify import bound, linear, simplify
from .stmt import For, Stmt, Store, seq
from .tensor import PlaceholderOp, Tensor
from .visit import collect_tensor_loads, collect_vars, substitute, walk


@dataclass(frozen=True, eq=False)
class IntrinOp:
    """A callable op in the loop IR: emitted as ``c_name(imm..., args...)``."""

    c_name: str
    stateful: bool = False
    latency: int = 0
    issue_interval: int = 1
    # assembler text of the one instruction a stateless op is, without its registers (e.g.
    # ".insn r 0x0B, 0, 0"); empty when the op can only be called as a C function. Code generators
    # that place instructions themselves (the rv32 "cfu_asm" pragma) append "rd, rs1, rs2".
    insn: str = ""


PATTERNS = ("", "lane_reduce", "tile", "rows", "lanes", "elementwise")


@dataclass(frozen=True)
class HardwareFacts:
    """What the tuner's estimate and the emitter need to know of the unit behind an intrinsic.

    ``latency``: cycles from issue to result; ``issue_interval``: cycles between two ops of the unit;
    ``words_in`` / ``words_out``: 32-bit register operands and results per op; ``accumulators``:
    partial results the unit keeps between ops (0: stateless); ``macs_per_op``: multiply-adds one
    op of the main loop does; ``lanes``: elements of the input dtype per register operand (0:
    unknown); ``pattern``: how a schedule uses the intrinsic, one of PATTERNS (templates offer an
    extension only where its pattern fits the kernel):

    * ``"lane_reduce"``  a stateless reduction over ``lanes`` packed lanes (tensorize the lane axis);
    * ``"tile"``         an output tile accumulated inside the unit's bank (tensorize the outer reduction);
    * ``"rows"``         an operand-stationary unit: rows of outputs against a tile held in the unit
                         (tensorize a data axis of rows);
    * ``"lanes"``        lane-parallel over a data axis (e.g. channels of a depthwise convolution or a pool);
    * ``"elementwise"``  one op per output element (e.g. requantize);
    * ``""``             not declared (a user intrinsic; schedules written by hand use it).
    """

    latency: int = 0
    issue_interval: int = 1
    words_in: int = 2
    words_out: int = 1
    accumulators: int = 0
    macs_per_op: int = 0
    lanes: int = 0
    pattern: str = ""

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise ScheduleError(f"HardwareFacts: pattern {self.pattern!r} is not one of {PATTERNS}")


@dataclass
class IntrinImpl:
    """An intrinsic's loop IR for one matched nest (TVM's body / reduce_init / reduce_update)."""

    body: Stmt | None = None
    reduce_init: Stmt | None = None
    reduce_update: Stmt | None = None
    setup: list = field(default_factory=list)  # once at kernel entry; the longest list per intrinsic wins


@dataclass(eq=False)
class MatchedLoop:
    """A loop of the tensorized nest that ``desc`` does not cover (outermost first)."""

    iter_var: object
    extent: int | None
    is_reduce: bool
    kind: str = "serial"  # the schedule's annotation: serial | unroll | vectorize | parallel
    pragmas: tuple = ()

    @property
    def var(self) -> Var:
        return self.iter_var.var

    @property
    def name(self) -> str:
        return self.iter_var.name

    def loop(self, body: Stmt, kind: str | None = None) -> For:
        """``body`` inside this loop, with the schedule's annotation (or ``kind``)."""
        k = kind or (self.kind if self.kind == "unroll" else "serial")
        return For(self.var, Const(0, "int32"), self.extent, k, body, self.pragmas)


class BufferView:
    """The region of a buffer that one ``desc`` tensor covers in a matched nest.

    ``indices`` is the buffer index of the view's element (0, ..., 0); it may use the variables of
    :attr:`TensorizeMatch.loops` and of the loops around the nest. ``matrix[b][j]`` is how far the
    buffer index of dimension ``b`` moves per step along view dimension ``j``; ``strides[j]`` the
    same in elements of the flattened buffer.
    """

    def __init__(self, name: str, buffer, indices: tuple, matrix: list, shape: tuple, axes: list, err, ranges):
        self.name, self.buffer, self.indices, self.matrix = name, buffer, tuple(indices), matrix
        self.shape, self.axes, self._err, self._ranges = tuple(shape), axes, err, ranges
        bstr, s = [], 1
        for n in reversed(buffer.shape):
            bstr.insert(0, s)
            s *= n
        self.buffer_strides = tuple(bstr)
        self.strides = tuple(sum(matrix[b][j] * bstr[b] for b in range(len(bstr))) for j in range(len(shape)))

    @property
    def dtype(self) -> str:
        return self.buffer.dtype

    def __repr__(self) -> str:
        return f"BufferView({self.name} -> {self.buffer.name}{list(self.indices)}, strides {self.strides})"

    def index(self, *p, at: dict | None = None) -> tuple:
        """Buffer index of view element ``p`` (constants or expressions), loop variables replaced by ``at``."""
        if len(p) != len(self.shape):
            raise self._err(f"view {self.name} has {len(self.shape)} dimensions, indexed with {len(p)}")
        idx = list(self.indices)
        if at:
            sub = {(k.var if isinstance(k, MatchedLoop) else k): _as_expr(v) for k, v in at.items()}
            idx = [substitute(i, sub) for i in idx]
        for b in range(len(idx)):
            extra = [(self.matrix[b][j], _as_expr(x)) for j, x in enumerate(p)
                     if self.matrix[b][j] and not (isinstance(x, int) and x == 0)]
            if extra:
                e = idx[b]
                for co, x in extra:
                    e = BinOp("+", e, BinOp("*", x, Const(co, "int32"), "int32"), "int32")
                idx[b] = simplify(e, self._ranges)
        return tuple(idx)

    def load(self, *p, at: dict | None = None) -> BufferLoad:
        return BufferLoad(self.buffer, self.index(*p, at=at))

    def store(self, value: Expr, *p, at: dict | None = None) -> Store:
        return Store(self.buffer, list(self.index(*p, at=at)), value)

    def word(self, *p, at: dict | None = None) -> Ramp:
        """The packed 32-bit word of the elements from ``p`` on along the last view dimension.

        Checks that they are contiguous (stride 1) and that the word is 4-byte aligned for every
        value of the surrounding loops; a ScheduleError says what to change otherwise.
        """
        idx, lanes = self._word_index(p, at)
        return Ramp(self.buffer, idx, lanes)

    def store_word(self, value: Expr, *p, at: dict | None = None) -> Store:
        """One 32-bit store of ``value`` (uint32, lane i in bits [i * w, (i + 1) * w)) to the elements from
        ``p`` on along the last view dimension, with the checks of :meth:`word`."""
        idx, lanes = self._word_index(p, at)
        return Store(self.buffer, list(idx), value, lanes)

    def _word_index(self, p, at) -> tuple[tuple, int]:
        bits = dt.bits(self.dtype)
        lanes = 32 // bits
        axis = self.axes[-1] if self.axes else "?"
        bname = self.buffer.name
        st = self.strides[-1]
        if st == 0:
            raise self._err(f"{bname} does not vary along the lane axis {axis!r}; the intrinsic needs {lanes} "
                            f"distinct contiguous elements")
        if st != 1:
            raise self._err(f"stride of {bname} along {axis!r} is {st} elements; the intrinsic needs {lanes} "
                            f"contiguous {self.dtype} (stride 1): add a packing stage (a compute that lays {bname} "
                            f"out with the reduction axis innermost, e.g. {bname}_packed[j, k] = {bname}[k, j]) or "
                            f"cache_read it into such a layout")
        idx = self.index(*p, at=at)
        flat: Expr = Const(0, "int32")
        for i, s in zip(idx, self.buffer_strides):
            flat = BinOp("+", flat, BinOp("*", i, Const(s, "int32"), "int32"), "int32")
        lin = linear(simplify(flat, self._ranges), self._ranges)
        # a term whose value is always 0 (a loop of extent 1) does not move the word
        bad = [(e, co) for _k, (e, co) in lin.terms.items() if co % lanes != 0 and bound(e, self._ranges) != (0, 0)]
        if lin.c % lanes != 0 or bad:
            what = ", ".join(f"{co} * {e}" for e, co in bad) or f"the offset {lin.c}"
            raise self._err(f"alignment: the word of {bname} starts at a multiple of 4 bytes only if every "
                            f"term of its index is a multiple of {lanes} elements, but {what} is not (pad the "
                            f"row length to a multiple of {lanes} or add a packing stage)")
        return idx, lanes


@dataclass
class TensorizeMatch:
    """What ``impl`` (and ``check``) see of the nest a tensor intrinsic replaces.

    ``inputs`` holds one :class:`BufferView` per placeholder of ``desc`` in ``desc``'s input order
    (also by name in ``views``), ``output`` the view of the stage's output; both are None in the
    static check at ``tensorize()`` time, where loop extents may also be None (a stage computed at
    a consumer's loop learns its extents when lowered).
    """

    intrin: TensorIntrin
    stage_name: str
    axis_name: str
    loops: list
    reduce_outside: list  # names of the reduction loops outside the nest
    inputs: list | None = None
    output: BufferView | None = None
    loads: dict = field(default_factory=dict)  # desc placeholder name -> the stage's TensorLoad
    lowered_params: dict = field(default_factory=dict)
    inner: list = field(default_factory=list)  # the nest's leaves that desc's axes cover, in order

    @property
    def params(self) -> dict:
        """desc parameter name (see :func:`param`) -> the stage's expression, in the nest's variables."""
        return {k[len(_PARAM):]: v for k, v in self.lowered_params.items()}

    @property
    def views(self) -> dict:
        return {v.name: v for v in self.inputs or []}

    def error(self, reason: str) -> ScheduleError:
        return ScheduleError(f"stage {self.stage_name!r} axis {self.axis_name!r}: tensorize {self.intrin.name}: "
                             f"{reason}")

    def value_range(self, name: str) -> tuple[int, int]:
        """Bounds of the values the operand ``name`` of ``desc`` can take in this stage (from its producers)."""
        return value_range(self.loads[name])


@dataclass(eq=False)
class TensorIntrin:
    """A tensor intrinsic of an extension; see the module docstring."""

    name: str
    desc: Tensor
    impl: Callable[[TensorizeMatch], IntrinImpl]
    ops: dict = field(default_factory=dict)
    extension: object = None
    facts: HardwareFacts = field(default_factory=HardwareFacts)
    check_nest: Callable[[TensorizeMatch], None] | None = None
    # keys of ``ops`` whose two operands are packed lanes of the inputs' dtype (isa_ext.verify
    # sweeps them exhaustively)
    lane_ops: tuple = ()

    def __post_init__(self):
        op = self.desc.op
        err = f"tensor intrinsic {self.name!r}: desc"
        if isinstance(op, PlaceholderOp):
            raise ScheduleError(f"{err} must be a compute, got the placeholder {op.name!r}")
        self.inputs = _placeholders(op.body)
        if not self.inputs:
            raise ScheduleError(f"{err} reads no placeholder")
        axes = {id(a.var): a for a in list(op.axis) + list(op.reduce_axis)}
        for t in collect_tensor_loads(op.body):
            for i in t.indices:
                if not (isinstance(i, Const) or (isinstance(i, Var) and id(i) in axes)):
                    raise ScheduleError(f"{err}: index {i} of {t.tensor.name} must be one of its axes or a constant")
        self.axes = [a for a in op.axis if _ext(a) > 1] + [a for a in op.reduce_axis if _ext(a) > 1]

    # properties the schedules use ----------------------------------------------------------------
    @property
    def in_dtype(self) -> str:
        return self.inputs[0].dtype

    @property
    def acc_dtype(self) -> str:
        return self.desc.dtype

    @property
    def lanes(self) -> int:
        """Extent of the innermost reduction axis of ``desc`` (1 when it has none)."""
        red = self.desc.op.reduce_axis
        return _ext(red[-1]) if red else 1

    @property
    def accumulators(self) -> int:
        return self.facts.accumulators

    n_acc = accumulators

    def extensions(self) -> list:
        return [] if self.extension is None else [self.extension]

    def __repr__(self) -> str:
        shape = " x ".join(str(_ext(a)) for a in self.axes) or "1"
        return f"TensorIntrin({self.name}, {shape}, {self.in_dtype} -> {self.acc_dtype})"

    # tensorize() time ----------------------------------------------------------------------------
    def check(self, stage, pos: int) -> None:
        """Check what the schedule already fixes: body, dtypes, the innermost loops' extents."""
        # a stage computed at a consumer's loop learns its data extents (its region) only when lowered
        root = stage.attach_type == "root"
        m = self._new_match(stage, pos)
        m.loads = _match_body(stage.op.body, self, m)[0]
        self._match_nest(m, stage, stage.leaf_iter_vars[pos:],
                         lambda v: stage._extent(v) if root or v.kind == "reduce" else None)
        if self.check_nest is not None:
            self.check_nest(m)

    def _new_match(self, stage, pos) -> TensorizeMatch:
        before = [v.name for v in stage.leaf_iter_vars[:pos] if v.kind == "reduce"]
        return TensorizeMatch(self, stage.name, stage.leaf_iter_vars[pos].name, [], before)

    def _match_nest(self, m: TensorizeMatch, stage, block, extent) -> None:
        n = len(self.axes)
        if len(block) < n:
            raise m.error(f"the nest under the axis has {len(block)} loops, {self.name} covers {n} "
                          f"({', '.join(a.name for a in self.axes)})")
        inner = block[len(block) - n:]
        for k, (lv, da) in enumerate(zip(inner, self.axes)):
            last = k == n - 1
            want = "reduction (lane)" if da.kind == "reduce" and last else ("reduction" if da.kind == "reduce"
                                                                             else "data")
            if lv.kind != da.kind:
                where = "innermost axis" if last else f"axis {k + 1} of the {n} innermost"
                raise m.error(f"the {where} {lv.name!r} must be the {want} axis")
            e = extent(lv)
            if e is not None and e != _ext(da):
                what = f"{_ext(da)} lanes" if da.kind == "reduce" and last else f"{_ext(da)} along {da.name!r}"
                raise m.error(f"extent of {lv.name!r} is {e}, the intrinsic takes {what}")
        attrs = stage.iter_var_attrs
        for lv in block[:len(block) - n]:
            a = attrs.get(lv)
            m.loops.append(MatchedLoop(lv, extent(lv), lv.kind == "reduce", a.kind if a else "serial",
                                       tuple(a.pragmas) if a else ()))
        m.inner = inner

    # lowering ------------------------------------------------------------------------------------
    def lower_block(self, ctx) -> tuple[Stmt, object]:
        """The nest's loop IR, and the init: True (the stage's identity store), a Stmt, or False."""
        st = ctx.stage
        m = self._new_match(st, ctx.tpos)
        candidates = _match_body(ctx.lowerer.inline(st.op.body), self, m)
        self._match_nest(m, st, ctx.leaves[ctx.tpos:], lambda v: ctx.ext[v])
        for g, gp, is_red in ctx.guards:
            if gp >= ctx.tpos:
                why = ("the lanes must form whole words" if is_red else
                       "every element of the replaced nest must exist (the tile cannot be partial)")
                attr = st.iter_var_attrs.get(ctx.leaves[ctx.tpos])
                if getattr(attr, "tensorize_strict", False):
                    raise m.error(f"the nest needs a guard ({g}) because a split does not divide its axis, and "
                                  f"tensorize is strict; choose factors that divide the extents ({why})")
                raise TailInNest(str(m.error(
                    f"the nest needs a guard ({g}) because a split does not divide its axis; choose factors that "
                    f"divide the extents ({why}), or split with tail=TailStrategy.PARTITION / AUTO so that the "
                    "full tiles are tensorized and the remainder runs scalar code (a guard from the edge of a "
                    "region computed at a consumer's loop is partitioned by the consumer's split)")), st)
        for lp in m.loops:  # loops the impl unrolls into constants keep exact ranges
            ctx.ranges[id(lp.var)] = (0, lp.extent - 1)
        if self.check_nest is not None:
            self.check_nest(m)
        # the first way of matching whose operand indices fit desc's (operands of + and * may swap)
        first = None
        for loads in candidates:
            try:
                m.inputs = [self._view(ctx, m, t.op.name, ctx.lowerer.lower_expr(loads[t.op.name], ctx.vmap), t)
                            for t in self.inputs]
                m.loads = loads
                m.lowered_params = {k: ctx.lowerer.lower_expr(v, ctx.vmap) for k, v in loads.items()
                                    if k.startswith(_PARAM)}
                break
            except ScheduleError as e:
                first = first or e
        else:
            raise first
        out_load = BufferLoad(ctx.buffer, tuple(ctx.out_index))
        m.output = self._view(ctx, m, self.desc.op.name, out_load, None)
        r = self.impl(m)
        if r.setup:
            ctx.lowerer.add_prologue(self, list(r.setup))
        if m.reduce_outside:
            if r.reduce_update is None:
                raise m.error(f"reduction axes {m.reduce_outside} lie outside the tensorized nest; {self.name} "
                              "keeps the partial sums in the unit (it has no reduce_update), so tensorize at the "
                              "outermost reduction axis")
            if r.reduce_init is not None:
                return r.reduce_update, r.reduce_init
            self._check_default_init(m)
            return r.reduce_update, True
        if r.body is not None:
            return r.body, False
        if r.reduce_update is None:
            raise m.error("its implementation returned neither a body nor a reduce_update")
        if r.reduce_init is not None:
            return seq([r.reduce_init, r.reduce_update]), False
        self._check_default_init(m)
        return r.reduce_update, True

    def _check_default_init(self, m: TensorizeMatch) -> None:
        """The stage's own init stores one element outside the nest: the nest must write one element."""
        inside = {id(lp.var) for lp in m.loops}
        if inside and set().union(*(collect_vars(i) for i in m.output.indices)) & inside:
            raise m.error(f"the nest writes one output per value of {[lp.name for lp in m.loops]}, so the stage's "
                          "init cannot be placed outside it: the implementation must give a reduce_init")

    def _view(self, ctx, m: TensorizeMatch, name: str, bl, desc_t) -> BufferView:
        """The view of ``bl`` (the stage's access, in leaf variables) that ``desc`` tensor ``name`` covers."""
        if not isinstance(bl, BufferLoad):
            raise m.error(f"operand {name} is not a plain load after inlining ({bl})")
        inner = m.inner
        if desc_t is None:
            didx = [a.var for a in self.desc.op.axis]
            shape = self.desc.op.shape
        else:
            didx = next(t.indices for t in collect_tensor_loads(self.desc.op.body) if t.tensor.op is desc_t.op)
            shape = desc_t.shape
        zero = {lv.var: Const(0, "int32") for lv in inner}
        inner_ids = {id(lv.var) for lv in inner}
        ranges = ctx.ranges
        matrix = [[0] * len(shape) for _ in bl.indices]
        axes = [""] * len(shape)
        for b, ix in enumerate(bl.indices):
            lin = linear(simplify(ix, ranges), ranges)
            coef = {}
            for _k, (e, co) in lin.terms.items():
                if isinstance(e, Var) and id(e) in inner_ids:
                    coef[id(e)] = co
                elif collect_vars(e) & inner_ids:
                    raise m.error(f"the index of {bl.buffer.name} depends non-linearly on the loops of the nest "
                                  f"({ix})")
            for lv, da in zip(inner, self.axes):
                dims = [j for j, i in enumerate(didx) if isinstance(i, Var) and i is da.var]
                co = coef.get(id(lv.var), 0)
                if not dims:
                    if co:
                        raise m.error(f"{bl.buffer.name} varies along {lv.name!r}, but {name} of {self.name} does "
                                      f"not vary along {da.name!r}")
                    continue
                matrix[b][dims[0]] = co
                for j in dims:
                    axes[j] = lv.name
        base = tuple(substitute(i, zero) for i in bl.indices)
        return BufferView(name, bl.buffer, base, matrix, shape, axes, m.error, ranges)


def decl_tensor_intrin(desc: Tensor, impl: Callable[[TensorizeMatch], IntrinImpl], *, name: str | None = None,
                       ops: dict | None = None, extension=None, facts: HardwareFacts | None = None,
                       check: Callable[[TensorizeMatch], None] | None = None, lane_ops: tuple = ()) -> TensorIntrin:
    """Declare a tensor intrinsic: ``desc`` says what, ``impl`` how (see the module docstring).

    args:
        desc:   a TE compute over placeholders (the unit of work one call covers).
        impl:   ``impl(match) -> IntrinImpl``: loop IR of calls of ``ops`` for a matched nest.
        ops:    name -> IntrinOp, the ops ``impl`` calls (for the emitter's and the tuner's benefit).
        facts:  HardwareFacts of the unit.
        check:  optional ``check(match)`` run at ``tensorize()`` time and again when lowered.
    """
    return TensorIntrin(name or desc.op.name, desc, impl, dict(ops or {}), extension, facts or HardwareFacts(),
                        check, tuple(lane_ops))


# ---------------------------------------------------------------------------------------------
# structural matching of a stage body against desc


def _ext(iv) -> int:
    e = iv.dom.extent
    return int(e.value if isinstance(e, Const) else e)


def _as_expr(x) -> Expr:
    return Const(int(x), "int32") if isinstance(x, int) else x


def _placeholders(body: Expr) -> list:
    out = []
    for t in collect_tensor_loads(body):
        if isinstance(t.tensor.op, PlaceholderOp) and all(t.tensor.op is not o.op for o in out):
            out.append(t.tensor)
    return out


def _describe(want: Expr) -> str:
    if isinstance(want, Reduce):
        src = want.source
        what = "products" if isinstance(src, BinOp) and src.op == "*" else "terms"
        return f"{want.combiner} of {what} like {want}"
    return str(want)


def _match_body(body: Expr, intrin: TensorIntrin, m: TensorizeMatch) -> list[dict]:
    """Every way ``body`` matches ``desc``'s body (operands of + and * in either order): a list of
    desc placeholder name -> the stage's load; a ScheduleError (the first difference) if none."""
    comm = [n for n in walk(intrin.desc.op.body) if isinstance(n, BinOp) and n.op in _COMMUTATIVE]
    out, first = [], None
    for mask in itertools.product((False, True), repeat=len(comm)):
        swap = {id(n) for n, f in zip(comm, mask) if f}
        try:
            b = _match_once(body, intrin, m, swap)
        except ScheduleError as e:
            first = first or e
            continue
        sig = sorted((k, id(v)) for k, v in b.items())
        if all(sig != sorted((k, id(v)) for k, v in o.items()) for o in out):
            out.append(b)
    if not out:
        raise first
    return out


_COMMUTATIVE = ("+", "*", "min", "max")


def _match_once(body: Expr, intrin: TensorIntrin, m: TensorizeMatch, swap: set) -> dict:
    want = intrin.desc.op.body
    binds: dict = {}
    if isinstance(want, Reduce):
        if not isinstance(body, Reduce) or body.combiner != want.combiner:
            raise m.error(f"the stage computes {body}, not a {_describe(want)}")
        if body.condition is not None and want.condition is None:
            raise m.error(f"the reduction has a condition ({body.condition}); {intrin.name} has none")
        if body.dtype != want.dtype:
            raise m.error(f"the accumulator dtype is {body.dtype}, {intrin.name} accumulates in {want.dtype}")
        _match(want.source, body.source, intrin, m, binds, swap)
    else:
        if isinstance(body, Reduce):
            raise m.error(f"the stage computes a reduction {body}, {intrin.name} computes {want}")
        _match(want, body, intrin, m, binds, swap)
    return binds


def _match(want: Expr, got: Expr, intrin, m, binds: dict, swap: set) -> None:
    if isinstance(want, TensorLoad):
        if isinstance(got, Cast) and isinstance(got.value, TensorLoad):
            raise m.error(f"operand {got} is cast to {got.dtype}, {intrin.name} reads {want.dtype} here")
        if not isinstance(got, TensorLoad):
            raise m.error(f"operand {got} is not a load of a tensor (padding or arithmetic in the operand: "
                          "materialize it in a packing stage first)")
        if got.dtype != want.dtype:
            raise m.error(f"dtype of {got.tensor.name} is {got.dtype}, {intrin.name} takes {want.dtype} lanes")
        name = want.tensor.op.name
        prev = binds.get(name)
        if prev is not None and prev.tensor is not got.tensor:
            raise m.error(f"{name} of {intrin.name} is read from both {prev.tensor.name} and {got.tensor.name}")
        binds[name] = got
        return
    if isinstance(want, Cast):
        if isinstance(got, Cast):
            if got.dtype != want.dtype:
                raise m.error(f"operand {got} is cast to {got.dtype}, {intrin.name} widens to {want.dtype}")
            _match(want.value, got.value, intrin, m, binds, swap)
            return
        if isinstance(got, TensorLoad) and got.dtype == want.dtype:
            raise m.error(f"operand {got} is not widened to {want.dtype} from {want.value.dtype}")
        raise m.error(f"operand {got} is not a {want.dtype} cast of a load like {want}")
    if isinstance(want, BinOp):
        if not (isinstance(got, BinOp) and got.op == want.op):
            what = "a product of two operands" if want.op == "*" else f"a {want.op} of two operands"
            raise m.error(f"{'the summand ' if want.op == '*' else ''}{got} is not {what} like {want}")
        if got.dtype != want.dtype:
            raise m.error(f"{got} computes in {got.dtype}, {intrin.name} in {want.dtype}")
        ga, gb = (got.b, got.a) if id(want) in swap else (got.a, got.b)
        _match(want.a, ga, intrin, m, binds, swap)
        _match(want.b, gb, intrin, m, binds, swap)
        return
    if isinstance(want, Var) and want.name.startswith(_PARAM):
        # a parameter of desc (a multiplier, a zero point): whatever the stage has there, same dtype
        if got.dtype != want.dtype:
            raise m.error(f"{got} is {got.dtype}, the parameter {want.name[len(_PARAM):]} of {intrin.name} is "
                          f"{want.dtype}")
        binds[want.name] = got
        return
    if isinstance(want, Call):
        if not (isinstance(got, Call) and got.op is want.op and len(got.args) == len(want.args)):
            raise m.error(f"{got} is not a call of {getattr(want.op, 'name', want.op.c_name)} like {want}")
        for a, b in zip(want.args, got.args):
            _match(a, b, intrin, m, binds, swap)
        return
    if isinstance(want, Const):
        if not (isinstance(got, Const) and got.dtype == want.dtype and got.value == want.value):
            raise m.error(f"{got} is not the constant {want}")
        return
    if isinstance(want, Select):
        if not isinstance(got, Select):
            raise m.error(f"{got} is not a select like {want}")
        for a, b in ((want.cond, got.cond), (want.t, got.t), (want.f, got.f)):
            _match(a, b, intrin, m, binds, swap)
        return
    if type(want) is not type(got) or str(want) != str(got):
        raise m.error(f"{got} does not match {want}")


_PARAM = "param:"


def param(name: str, dtype: str = "int32") -> Var:
    """A parameter of a tensor intrinsic's description: matches any expression of ``dtype`` in the
    stage (e.g. a requantization multiplier); ``TensorizeMatch.params[name]`` is that expression."""
    return Var(_PARAM + name, dtype)


def value_range(load: TensorLoad) -> tuple[int, int]:
    """Bounds of the values of a TE load, looking through the computes that produce it."""
    return _vrange(load, 0)


def _vrange(e: Expr, depth: int) -> tuple[int, int]:
    lo, hi = (dt.min_value(e.dtype), dt.max_value(e.dtype)) if dt.is_int(e.dtype) else (float("-inf"), float("inf"))
    if depth > 32:
        return lo, hi
    r = None
    if isinstance(e, Const):
        r = (e.value, e.value)
    elif isinstance(e, TensorLoad) and not isinstance(e.tensor.op, PlaceholderOp):
        b = e.tensor.op.body
        if not isinstance(b, Reduce):
            r = _vrange(b, depth + 1)
    elif isinstance(e, Cast):
        r = _vrange(e.value, depth + 1)
    elif isinstance(e, BinOp) and e.op in ("+", "-", "*", "min", "max"):
        a, b = _vrange(e.a, depth + 1), _vrange(e.b, depth + 1)
        if e.op == "+":
            r = (a[0] + b[0], a[1] + b[1])
        elif e.op == "-":
            r = (a[0] - b[1], a[1] - b[0])
        elif e.op == "*":
            ps = [x * y for x in a for y in b]
            r = (min(ps), max(ps))
        elif e.op == "min":
            r = (min(a[0], b[0]), min(a[1], b[1]))
        else:
            r = (max(a[0], b[0]), max(a[1], b[1]))
    elif isinstance(e, Select):
        t, f = _vrange(e.t, depth + 1), _vrange(e.f, depth + 1)
        r = (min(t[0], f[0]), max(t[1], f[1]))
    if r is None or r[0] < lo or r[1] > hi:  # unknown, or the dtype wraps: only the dtype's range holds
        return lo, hi
    return r


def call(op: IntrinOp, args=(), imm=(), dtype: str = "uint32") -> Call:
    """A call of an intrinsic op with 32-bit operands (Ramps, or expressions cast to uint32)."""
    return Call(op, tuple(args), dtype, tuple(imm))


__all__ = ["BufferView", "HardwareFacts", "IntrinImpl", "IntrinOp", "MatchedLoop", "TensorIntrin", "TensorizeMatch",
           "call", "decl_tensor_intrin", "param", "value_range"]
