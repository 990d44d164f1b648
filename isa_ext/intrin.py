"""Tensor intrinsics of the built-in extension families (the tensorize side of an Extension).

Each is declared with :func:`tir.intrin.decl_tensor_intrin`: a TE description, an implementation
that turns a matched nest into calls of the extension's ops, and the unit's hardware facts.
"""

from __future__ import annotations

import itertools

import tir
from tir.expr import BinOp, Cast, Const
from tir.intrin import (
    HardwareFacts,
    IntrinImpl,
    IntrinOp,
    TensorIntrin,
    TensorizeMatch,
    call,
    decl_tensor_intrin,
    param,
)
from tir.stmt import Evaluate, seq
from tir.visit import collect_vars, substitute


def intrin_op(ext, name: str) -> IntrinOp:
    """The loop-IR op of extension op ``name`` (its C name, state, timing and, if stateless, its insn)."""
    op = ext.op(name)
    insn = "" if op.stateful or op.has_imm else op.insn()
    return IntrinOp(ext.c_name(name), op.stateful, ext.latency, ext.issue_interval, insn)


def dot_desc(name: str, lanes: int, in_dtype: str, acc_dtype: str = "int32") -> tir.Tensor:
    """``c[0] = sum(acc(a[k]) * acc(b[k]) for k in lanes)``: one packed word pair."""
    a = tir.placeholder((lanes,), in_dtype, name="a")
    b = tir.placeholder((lanes,), in_dtype, name="b")
    k = tir.reduce_axis((0, lanes), name="k")
    return tir.compute((1,), lambda i: tir.sum(a[k].astype(acc_dtype) * b[k].astype(acc_dtype), axis=k), name=name)


def _no_outer_loops(m: TensorizeMatch) -> None:
    if m.loops:
        names = ", ".join(lp.name for lp in m.loops)
        raise m.error(f"the nest under the axis has {len(m.loops) + 1} loops ({names}, ...); {m.intrin.name} "
                      "replaces exactly the lane loop")


def dot_intrinsic(ext, lanes: int, in_dtype: str, op_name: str = "dot") -> TensorIntrin:
    """``c += sum(a[k] * b[k])`` over ``lanes`` packed lanes: one stateless instruction per word pair."""
    op = intrin_op(ext, op_name)
    acc = "int32"

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, b = m.inputs
        out = m.output
        dot = Cast(acc, call(op, (a.word(0), b.word(0))))
        return IntrinImpl(reduce_update=out.store(BinOp("+", out.load(0), dot, acc), 0))

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, 0, lanes, lanes, "lane_reduce")
    return decl_tensor_intrin(dot_desc(ext.name, lanes, in_dtype, acc), impl, name=ext.name, ops={"dot": op},
                              extension=ext, facts=facts, check=_no_outer_loops, lane_ops=("dot",))


def mac_tile_intrinsic(ext, lanes: int, in_dtype: str, n_acc: int) -> TensorIntrin:
    """An output tile of up to ``n_acc`` elements accumulated inside the unit's accumulator bank.

    Tensorize at the outermost reduction axis of a nest whose innermost loop is the lane axis: the
    data loops of the nest are unrolled into accumulator indices, its reduction loops stay loops
    (with the schedule's unrolling), and the tile is read out (and the bank cleared) at the end.
    """
    ops = {k: intrin_op(ext, k) for k in ("mac", "clear", "read_clear")}
    name = f"{ext.name}_tile"
    acc = "int32"

    def tile_size(m: TensorizeMatch) -> int | None:
        n = 1
        for lp in m.loops:
            if not lp.is_reduce:
                if lp.extent is None:
                    return None
                n *= lp.extent
        return n

    def check(m: TensorizeMatch) -> None:
        if m.reduce_outside:
            raise m.error(f"reduction axes {m.reduce_outside} lie outside the tensorized nest; {name} keeps the "
                          "partial sums in the unit, so tensorize at the outermost reduction axis")
        n = tile_size(m)
        if n is not None and n > n_acc:
            raise m.error(f"the tile has {n} outputs but the unit has {n_acc} accumulators")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, b = m.inputs
        out = m.output
        data = [lp for lp in m.loops if not lp.is_reduce]
        red = [lp for lp in m.loops if lp.is_reduce]
        zero = Const(0, "uint32")
        pre, macs, post = [], [], []
        for k, vals in enumerate(itertools.product(*[range(lp.extent) for lp in data])):
            at = {lp: x for lp, x in zip(data, vals)}
            pre.append(Evaluate(call(ops["clear"], (zero, zero), (k,))))
            macs.append(Evaluate(call(ops["mac"], (a.word(0, at=at), b.word(0, at=at)), (k,))))
            post.append(out.store(Cast(acc, call(ops["read_clear"], (zero, zero), (k,))), 0, at=at))
        loop = seq(macs)
        for lp in reversed(red):
            loop = lp.loop(loop)
        # read_clear leaves every accumulator at zero, so clearing once at kernel entry suffices
        return IntrinImpl(body=seq([loop] + post), setup=pre)

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, n_acc, lanes, lanes, "tile")
    return decl_tensor_intrin(dot_desc(name, lanes, in_dtype, acc), impl, name=name, ops=ops, extension=ext,
                              facts=facts, check=check, lane_ops=("mac",))


def requant_desc(name: str, out_dtype: str = "int8", lanes: int = 1) -> tir.Tensor:
    """``out[i] = requantize(x[i], mult, shift, zp, qmin, qmax)`` (tir.requantize) for ``lanes`` elements,
    with the five parameters matched to whatever the stage has there."""
    x = tir.placeholder((lanes,), "int32", name="x")
    p = {n: param(n) for n in ("mult", "shift", "zp", "qmin", "qmax")}
    return tir.compute((lanes,), lambda i: tir.requantize(x[i], p["mult"], p["shift"], p["zp"], p["qmin"], p["qmax"],
                                                      out_dtype), name=name)


def requant_intrinsic(ext, *, runtime_shift: bool = False, clamp_once: bool = False, pack: int = 1) -> TensorIntrin:
    """The int8 output stage of a quantized kernel, one element per ``requant`` op; with ``pack=4`` four
    adjacent elements per ``requant_lo`` + ``requant_hi`` pair and one word store (an innermost data
    axis of 4 elements, the output contiguous and word-aligned along it).

    Tensorize at any data axis of an elementwise ``tir.requantize`` stage: the nest's loops stay
    loops around one op per element, after three ops that load the parameters into the unit. The
    unit holds shift, qmin and qmax as int8, so they must be constants in int8's range; multiplier
    and zero point may be any int32 expression that does not change inside the nest (per channel
    from a tensor, with the channel loop outside). ``runtime_shift=True`` also lets the shift be such
    an expression (per-channel shifts read from a tensor): the caller then guarantees its values are in
    [-31, 31], as the model compiler does for the shifts it computes offline. ``clamp_once=True`` sets
    the clamp once at kernel entry instead of before every nest: only for a kernel whose one
    requantizing stage is the only user of this intrinsic object.
    """
    ops = {k: intrin_op(ext, k) for k in ("set_mult", "set_shift_zp", "set_clamp", "requant")
           + (("requant_lo", "requant_hi") if pack == 4 else ())}
    zero = Const(0, "uint32")

    def u32(e):
        return e if e.dtype == "uint32" else Cast("uint32", e)

    def check(m: TensorizeMatch) -> None:
        if any(lp.is_reduce for lp in m.loops):
            raise m.error("requantization is elementwise: the nest must hold data loops only")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        (x,), out, p = m.inputs, m.output, m.params
        # a loop of one iteration is its index 0: the parameters may use it (they are set before the nest)
        one = {lp.var: Const(0, lp.var.dtype) for lp in m.loops if lp.extent == 1}
        p = {k: substitute(v, one) for k, v in p.items()}
        inside = {id(lp.var) for lp in m.loops if lp.extent != 1}
        for k, v in p.items():
            if collect_vars(v) & inside:
                raise m.error(f"the {k} ({v}) changes inside the nest; the unit holds one value per pass")
        for k in ("qmin", "qmax") if runtime_shift else ("shift", "qmin", "qmax"):
            v = p[k]
            if not (isinstance(v, Const) and -128 <= v.value <= 127):
                raise m.error(f"the {k} must be a constant in [-128, 127] (the unit keeps it as int8), got {v}")
        setup = [Evaluate(call(ops["set_mult"], (u32(p["mult"]), zero))),
                 Evaluate(call(ops["set_shift_zp"], (u32(p["shift"]), u32(p["zp"]))))]
        clamp = [Evaluate(call(ops["set_clamp"], (u32(p["qmin"]), u32(p["qmax"]))))]
        if pack == 4:
            body = seq([Evaluate(call(ops["requant_lo"], (u32(x.load(0)), u32(x.load(1))))),
                        out.store_word(call(ops["requant_hi"], (u32(x.load(2)), u32(x.load(3)))), 0)])
        else:
            body = out.store(Cast(out.dtype, call(ops["requant"], (u32(x.load(0)), zero))), 0)
        for lp in reversed(m.loops):
            body = lp.loop(body)
        if clamp_once:
            return IntrinImpl(body=seq(setup + [body]), setup=clamp)
        return IntrinImpl(body=seq(setup + clamp + [body]))

    facts = HardwareFacts(ext.latency, ext.issue_interval, 1 if pack == 1 else 2, 1, 0, 0, pack, "elementwise")
    name = ext.name if pack == 1 else f"{ext.name}_x{pack}"
    return decl_tensor_intrin(requant_desc(ext.name, lanes=pack), impl, name=name, ops=ops, extension=ext,
                              facts=facts, check=check)


__all__ = ["dot_desc", "dot_intrinsic", "intrin_op", "mac_tile_intrinsic", "requant_desc", "requant_intrinsic"]
