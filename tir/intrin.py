"""Tensor intrinsics: loop nests that an ISA-extension instruction computes in one go.

A TensorIntrin declares its semantics as a tensor expression (``desc``) and knows how to replace
a matching loop nest by calls of the extension's ops. Two shapes cover the dot-product family:

* ``dot``: ``c += sum(a[k] * b[k] for k in lanes)`` over packed lanes of one 32-bit word each,
  a stateless op (dot4_i8, dot4_u8, dot2_i16). Tensorize at the innermost reduction axis, whose
  extent is the lane count.
* ``mac_tile``: an m x n output tile whose partial sums stay in an accumulator bank inside the
  unit (mac4_i8): tensorize at the outermost reduction axis of a stage whose remaining axes are
  the tile and the reduction; the innermost axis is the lane axis.

Nothing is accepted on faith: the body must match ``desc`` node for node, the lane axis must have
stride 1 in both operands (a 32-bit load of contiguous elements), and every word must be 4-byte
aligned for every value of the outer loops. Otherwise a ScheduleError names what differs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from . import dtype as dt
from .errors import ScheduleError
from .expr import BinOp, BufferLoad, Call, Cast, Const, Expr, Ramp, Reduce, TensorLoad
from .simplify import linear, simplify
from .stmt import Evaluate, For, Stmt, Store, seq
from .tensor import compute, placeholder, reduce_axis
from .visit import collect_vars, substitute


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


@dataclass(eq=False)
class TensorIntrin:
    """A tensor intrinsic of an extension; see the module docstring for the two kinds."""

    name: str
    kind: str  # "dot" | "mac_tile"
    lanes: int
    in_dtype: str
    ops: dict[str, IntrinOp]
    extension: object = None
    acc_dtype: str = "int32"
    n_acc: int = 0
    desc: object = field(init=False)

    def __post_init__(self):
        a = placeholder((self.lanes,), self.in_dtype, name="a")
        b = placeholder((self.lanes,), self.in_dtype, name="b")
        k = reduce_axis((0, self.lanes), name="k")
        acc = self.acc_dtype
        self.desc = compute((1,), lambda i: _sum_products(a, b, k, acc), name=self.name)

    def extensions(self) -> list:
        return [] if self.extension is None else [self.extension]

    def __repr__(self) -> str:
        return f"TensorIntrin({self.name}, {self.kind}, {self.lanes} x {self.in_dtype})"

    # static checks at tensorize() time -----------------------------------------------------------
    def check(self, stage, pos: int) -> None:
        """Check what the schedule already fixes: body pattern, dtypes, extents."""
        err = _Err(stage.name, stage.leaf_iter_vars[pos].name, self.name)
        _match(stage.op.body, self, err, lambda t: t.name)
        leaves = stage.leaf_iter_vars[pos:]
        lane = leaves[-1]
        if lane.kind != "reduce":
            raise err(f"the innermost axis {lane.name!r} must be the reduction (lane) axis")
        e = stage._extent(lane)
        if e is not None and e != self.lanes:
            raise err(f"extent of {lane.name!r} is {e}, the intrinsic takes {self.lanes} lanes")
        if self.kind == "dot":
            if len(leaves) != 1:
                raise err(f"the nest under the axis has {len(leaves)} loops "
                          f"({', '.join(v.name for v in leaves)}); {self.name} replaces exactly the lane loop")
        else:
            before = [v.name for v in stage.leaf_iter_vars[:pos] if v.kind == "reduce"]
            if before:
                raise err(f"reduction axes {before} lie outside the tensorized nest; {self.name} keeps the "
                          "partial sums in the unit, so tensorize at the outermost reduction axis")
            # a stage computed at a consumer's tile is checked again with its region when lowered
            tile = 1 if stage.attach_type == "root" else 0
            for v in leaves:
                if v.kind == "data":
                    tile *= stage._extent(v) or 1
            if tile > self.n_acc:
                raise err(f"the tile has {tile} outputs but the unit has {self.n_acc} accumulators")

    # lowering ------------------------------------------------------------------------------------
    def lower_block(self, ctx) -> tuple[Stmt, bool]:
        err = _Err(ctx.stage.name, ctx.leaves[ctx.tpos].name, self.name)
        L = ctx.lowerer
        body = L.inline(ctx.stage.op.body)
        la, lb = _match(body, self, err, lambda t: t.name)
        block = ctx.leaves[ctx.tpos:]
        lane = block[-1]
        if lane.kind != "reduce" or ctx.ext[lane] != self.lanes:
            raise err(f"the innermost axis {lane.name!r} (extent {ctx.ext[lane]}) must be the {self.lanes}-lane "
                      "reduction axis")
        # every lane group must lie inside the reduction domain: no guard may touch the lane axis
        for g, gp, is_red in ctx.guards:
            if gp >= ctx.tpos:
                why = (f"the lanes must form whole {self.lanes}-element words" if is_red else
                       "every element of the replaced nest must exist (the tile cannot be partial)")
                raise err(f"the nest needs a guard ({g}) because a split does not divide its axis; choose "
                          f"factors that divide the extents ({why})")
        lane0 = {lane.var: Const(0, "int32")}
        if self.kind == "dot":
            if len(block) != 1:
                raise err(f"{self.name} replaces exactly the lane loop, the nest has {len(block)} loops")
            ra = self._word(ctx, la, lane, err)
            rb = self._word(ctx, lb, lane, err)
            op = self.ops["dot"]
            out = [substitute(i, lane0) for i in ctx.out_index]
            value = BinOp("+", BufferLoad(ctx.buffer, out), Cast(self.acc_dtype, Call(op, (ra, rb), "uint32")),
                          self.acc_dtype)
            return Store(ctx.buffer, out, value), True
        return self._mac_tile(ctx, la, lb, block, lane, err), False

    def _word(self, ctx, load: TensorLoad, lane, err) -> Ramp:
        """The packed 32-bit word of ``load`` at lane 0, after checking stride and alignment."""
        L = ctx.lowerer
        bl = L.lower_expr(load, ctx.vmap)
        if not isinstance(bl, BufferLoad):
            raise err(f"operand {load} is not a plain load after inlining ({bl})")
        buf = bl.buffer
        flat: Expr = Const(0, "int32")
        stride = 1
        for i, n in zip(reversed(bl.indices), reversed(buf.shape)):
            flat = BinOp("+", flat, BinOp("*", i, Const(stride, "int32"), "int32"), "int32")
            stride *= n
        lin = linear(simplify(flat, ctx.ranges), ctx.ranges)
        lane_key = None
        for k, (e, co) in lin.terms.items():
            if e is lane.var:
                lane_key = k
                if co != 1:
                    raise err(f"stride of {buf.name} along {lane.name!r} is {co} elements; {self.name} needs "
                              f"{self.lanes} contiguous {self.in_dtype} (stride 1): add a packing stage (a compute "
                              f"that lays {buf.name} out with the reduction axis innermost, e.g. "
                              f"{buf.name}_packed[j, k] = {buf.name}[k, j]) or cache_read it into such a layout")
            elif id(lane.var) in collect_vars(e):
                raise err(f"the index of {buf.name} depends on {lane.name!r} non-linearly ({e})")
        if lane_key is None:
            raise err(f"{buf.name} does not vary along the lane axis {lane.name!r}; {self.name} needs "
                      f"{self.lanes} distinct contiguous elements")
        word = 32 // dt.bits(self.in_dtype)
        bad = [(e, co) for k, (e, co) in lin.terms.items() if k != lane_key and co % word != 0]
        if lin.c % word != 0 or bad:
            what = ", ".join(f"{co} * {e}" for e, co in bad) or f"the offset {lin.c}"
            raise err(f"alignment: the word of {buf.name} starts at a multiple of 4 bytes only if every "
                      f"term of its index is a multiple of {word} elements, but {what} is not (pad the "
                      f"row length to a multiple of {word} or add a packing stage)")
        idx = tuple(substitute(i, {lane.var: Const(0, "int32")}) for i in bl.indices)
        return Ramp(buf, idx, self.lanes)

    def _mac_tile(self, ctx, la, lb, block, lane, err) -> Stmt:
        data = [v for v in block if v.kind == "data"]
        red = [v for v in block[:-1] if v.kind == "reduce"]
        tile = [ctx.ext[v] for v in data]
        n = 1
        for e in tile:
            n *= e
        if n > self.n_acc:
            raise err(f"the tile has {n} outputs but the unit has {self.n_acc} accumulators")
        before = [v.name for v in ctx.leaves[:ctx.tpos] if v.kind == "reduce"]
        if before:
            raise err(f"reduction axes {before} lie outside the tensorized nest; tensorize at the outermost "
                      "reduction axis so the partial sums can stay in the unit")
        ra0 = self._word(ctx, la, lane, err)
        rb0 = self._word(ctx, lb, lane, err)
        clear, mac, read = self.ops["clear"], self.ops["mac"], self.ops["read_clear"]
        zero = Const(0, "uint32")
        combos = list(itertools.product(*[range(e) for e in tile]))
        pre, macs, post = [], [], []
        for acc, vals in enumerate(combos):
            sub = {v.var: Const(x, "int32") for v, x in zip(data, vals)}
            pre.append(Evaluate(Call(clear, (zero, zero), "uint32", (acc,))))  # once, at kernel entry
            ra = Ramp(ra0.buffer, tuple(substitute(i, sub) for i in ra0.indices), self.lanes)
            rb = Ramp(rb0.buffer, tuple(substitute(i, sub) for i in rb0.indices), self.lanes)
            macs.append(Evaluate(Call(mac, (ra, rb), "uint32", (acc,))))
            out = [substitute(i, {**sub, lane.var: Const(0, "int32")}) for i in ctx.out_index]
            post.append(Store(ctx.buffer, out, Cast(self.acc_dtype, Call(read, (zero, zero), "uint32", (acc,)))))
        loop: Stmt = seq(macs)
        for v in reversed(red):
            attr = ctx.stage.iter_var_attrs.get(v)
            kind = attr.kind if attr is not None and attr.kind == "unroll" else "serial"
            loop = For(v.var, Const(0, "int32"), ctx.ext[v], kind, loop, attr.pragmas if attr else ())
        # the data axes of the tile are unrolled into accumulator indices; keep their ranges exact
        for v, e in zip(data, tile):
            ctx.ranges[id(v.var)] = (0, e - 1)
        # read_clear leaves every accumulator at zero, so clearing once at kernel entry suffices
        ctx.lowerer.add_prologue(self, pre)
        return seq([loop] + post)


def _sum_products(a, b, k, acc):
    from .expr import sum as te_sum

    return te_sum(a[k].astype(acc) * b[k].astype(acc), axis=k)


class _Err:
    def __init__(self, stage: str, axis: str, intrin: str):
        self.prefix = f"stage {stage!r} axis {axis!r}: tensorize {intrin}: "

    def __call__(self, reason: str) -> ScheduleError:
        return ScheduleError(self.prefix + reason)


def _match(body: Expr, intrin: TensorIntrin, err, name) -> tuple[TensorLoad, TensorLoad]:
    """Match a stage body against ``sum(acc(a[k]) * acc(b[k]))``; return the two loads."""
    want = intrin.desc.op.body
    if not isinstance(body, Reduce) or body.combiner != "sum":
        raise err(f"the stage computes {body}, not a sum of products like {want}")
    if body.condition is not None:
        raise err(f"the reduction has a condition ({body.condition}); {intrin.name} has none")
    if body.dtype != intrin.acc_dtype:
        raise err(f"the accumulator dtype is {body.dtype}, {intrin.name} accumulates in {intrin.acc_dtype}")
    src = body.source
    if not (isinstance(src, BinOp) and src.op == "*"):
        raise err(f"the summand {src} is not a product of two operands like {want.source}")
    loads = []
    for side in (src.a, src.b):
        e = side
        if isinstance(e, Cast):
            if e.dtype != intrin.acc_dtype:
                raise err(f"operand {side} is cast to {e.dtype}, {intrin.name} widens to {intrin.acc_dtype}")
            e = e.value
        if not isinstance(e, TensorLoad):
            raise err(f"operand {side} is not a load of a tensor (padding or arithmetic in the operand: "
                      "materialize it in a packing stage first)")
        if e.dtype != intrin.in_dtype:
            raise err(f"dtype of {e.tensor.name} is {e.dtype}, {intrin.name} takes {intrin.in_dtype} lanes")
        if e is side and intrin.in_dtype != intrin.acc_dtype:
            raise err(f"operand {side} is not widened to {intrin.acc_dtype}")
        loads.append(e)
    return loads[0], loads[1]


__all__ = ["IntrinOp", "TensorIntrin"]
