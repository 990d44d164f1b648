"""Lane-parallel candidate families: one op works on adjacent elements of a data axis (pattern "lanes").

* ``lane_mac``  a channel-parallel multiply-accumulate for NHWC depthwise convolution: ``lanes``
                adjacent int8 channels per op, ``accumulators`` int32 accumulators inside the unit,
                organised as ``accumulators // lanes`` pixel slots of ``lanes`` channels each.

                - 4 lanes: ``mac`` k: acc[k*4 + i] += a_i * w_i (rs1 = 4 activations, rs2 = 4 weights);
                - 8 lanes: ``set_w`` keeps 8 weights in the unit (rs1 = channels 0-3, rs2 = 4-7),
                  ``mac`` k: acc[k*8 + i] += a_i * w_i (rs1 / rs2 = 8 activations);
                - ``read`` j / ``read_clear`` j: accumulator j (flat index); ``clear_all``.

* ``simd_max``  a stateless 4-lane int8 max: rd lane i = max(rs1 lane i, rs2 lane i) (max pooling).

Every op keeps funct3 off 5 (requant_i8's). The three implementations (Python semantics, C model,
Verilog) are written here independently of each other; :func:`isa_ext.verify` checks them against each
other. Each extension carries one tensor intrinsic with ``HardwareFacts.pattern == "lanes"``.
"""

from __future__ import annotations

import itertools

import numpy as np

import tir
from isa_ext.bits import s32
from isa_ext.candidates import CandidateSpec, Family, register_family
from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension, Op
from isa_ext.intrin import intrin_op
from isa_ext.library import EDGE_WORDS, edge_or_random
from isa_ext.verify import LaneSweep
from tir.expr import BinOp, BufferLoad, Cast, Const
from tir.intrin import HardwareFacts, IntrinImpl, TensorIntrin, TensorizeMatch, call, decl_tensor_intrin, param
from tir.stmt import Allocate, Buffer, Evaluate, IfThen, Store, seq
from tir.visit import collect_vars, substitute

LANE_MAC_GRID = ((4, 16), (4, 32), (8, 32), (8, 64))  # (lanes, accumulators)


def _byte(x: int, i: int) -> int:
    """Signed byte i of a 32-bit word."""
    b = (x >> (8 * i)) & 0xFF
    return b - 256 if b & 0x80 else b


def _c_s8(var: str, i: int) -> str:
    """C: signed byte i of the uint32_t ``var`` as int32_t."""
    return f"(int32_t)(int8_t)(uint8_t)({var} >> {8 * i})" if i else f"(int32_t)(int8_t)(uint8_t){var}"


def _v_s8(var: str, i: int) -> str:
    """Verilog: signed byte i of ``var``, sign-extended to 32 bits."""
    hi, lo = 8 * i + 7, 8 * i
    return f"{{{{24{{{var}[{hi}]}}}}, {var}[{hi}:{lo}]}}"


# --- lane_mac ------------------------------------------------------------------------------------------

def lane_mac_extension(name: str, lanes: int = 4, accumulators: int = 32) -> Extension:
    """The channel-parallel MAC unit (see the module docstring). ``accumulators`` must be a multiple of
    ``lanes`` and at most 128 (funct7 addresses one accumulator)."""
    if lanes not in (4, 8):
        raise ExtensionError(f"lane_mac: lanes must be 4 or 8, got {lanes}")
    if accumulators % lanes or not (lanes <= accumulators <= 128):
        raise ExtensionError(f"lane_mac: accumulators ({accumulators}) must be a multiple of lanes ({lanes}) "
                             "in [lanes, 128]")
    slots = accumulators // lanes
    stationary = lanes == 8  # the weights of 8 lanes do not fit beside 8 activations: kept in the unit
    ops = [Op("mac", 0, None, range(slots), True,
              f"acc[k*{lanes} + i] += a_i * w_i for the {lanes} int8 lanes i; returns 0")]
    if stationary:
        ops.append(Op("set_w", 1, 0, None, True, "w[0:4] = int8 lanes of rs1, w[4:8] = int8 lanes of rs2"))
    ops += [Op("read", 2, None, range(accumulators), True, "returns acc[j]"),
            Op("read_clear", 3, None, range(accumulators), True, "returns acc[j], then acc[j] = 0"),
            Op("clear_all", 4, 0, None, True, "every accumulator = 0")]

    # Python semantics
    def mac(a, b, k, st):
        acc = st["acc"]
        for i in range(lanes):
            if stationary:
                x = _byte(a, i) if i < 4 else _byte(b, i - 4)
                w = int(st["w"][i])
            else:
                x, w = _byte(a, i), _byte(b, i)
            acc[k * lanes + i] = s32(int(acc[k * lanes + i]) + x * w)
        return 0

    def set_w(a, b, imm, st):
        for i in range(8):
            st["w"][i] = _byte(a, i) if i < 4 else _byte(b, i - 4)
        return 0

    def read(a, b, j, st):
        return int(st["acc"][j])

    def read_clear(a, b, j, st):
        v = int(st["acc"][j])
        st["acc"][j] = 0
        return v

    def clear_all(a, b, imm, st):
        st["acc"][...] = 0
        return 0

    sem = {"mac": mac, "read": read, "read_clear": read_clear, "clear_all": clear_all}
    if stationary:
        sem["set_w"] = set_w

    # C model
    lines = [f"uint32_t base = imm * {lanes}u;"]
    for i in range(lanes):
        if stationary:
            x = _c_s8("rs1", i) if i < 4 else _c_s8("rs2", i - 4)
            w = f"(int32_t)$w[{i}]"
        else:
            x, w = _c_s8("rs1", i), _c_s8("rs2", i)
        lines.append(f"$acc[base + {i}u] = (int32_t)((uint32_t)$acc[base + {i}u] + (uint32_t)({x} * {w}));")
    c_ops = {
        "mac": "\n".join(lines + ["return 0u;"]),
        "read": "return (uint32_t)$acc[imm];",
        "read_clear": "uint32_t v = (uint32_t)$acc[imm];\n$acc[imm] = 0;\nreturn v;",
        "clear_all": f"for (int i = 0; i < {accumulators}; i++) $acc[i] = 0;\nreturn 0u;",
    }
    if stationary:
        c_ops["set_w"] = "\n".join(
            [f"$w[{i}] = (int8_t)(uint8_t)({'rs1' if i < 4 else 'rs2'} >> {8 * (i % 4)});" for i in range(8)]
            + ["return 0u;"])

    # Verilog
    kb = max(1, (slots - 1).bit_length())
    jb = max(1, (accumulators - 1).bit_length())
    lb = lanes.bit_length() - 1
    comb = [f"    wire [{kb - 1}:0] lm_k = funct7[{kb - 1}:0];",
            f"    wire [{jb - 1}:0] lm_j = funct7[{jb - 1}:0];"]
    for i in range(lanes):
        x = _v_s8("rs1", i) if (i < 4) else _v_s8("rs2", i - 4)
        w = f"{{{{24{{w[{i}][7]}}}}, w[{i}]}}" if stationary else _v_s8("rs2", i)
        idx = f"{{lm_k, {lb}'d{i}}}" if slots > 1 else f"{lb}'d{i}"
        comb.append(f"    wire [{jb - 1}:0] lm_i{i} = {idx};")
        comb.append(f"    wire [31:0] lm_x{i} = {x};")
        comb.append(f"    wire [31:0] lm_w{i} = {w};")
        comb.append(f"    wire [31:0] lm_s{i} = acc[lm_i{i}] + lm_x{i} * lm_w{i};")
    comb.append("    always @* begin\n        rd = 32'd0;\n        if (op_read | op_read_clear) rd = acc[lm_j];\n"
                "    end")
    seq_v = ["if (op_mac) begin"] + [f"    acc[lm_i{i}] <= lm_s{i};" for i in range(lanes)] + ["end"]
    seq_v += ["if (op_read_clear) acc[lm_j] <= 32'd0;",
              f"if (op_clear_all) for (isaforge_i = 0; isaforge_i < {accumulators}; isaforge_i = isaforge_i + 1) "
              "acc[isaforge_i] <= 32'd0;"]
    if stationary:
        seq_v += ["if (op_set_w) begin"] + [
            f"    w[{i}] <= {'rs1' if i < 4 else 'rs2'}[{8 * (i % 4) + 7}:{8 * (i % 4)}];" for i in range(8)] + ["end"]

    state = {"acc": ("int32", (accumulators,))}
    if stationary:
        state["w"] = ("int8", (8,))

    def stimulus(rg: np.random.Generator, n: int):
        out = []
        while len(out) < n:
            mode = rg.random()
            if mode < 0.6:  # one tile: clear, taps of (set_w,) macs over some slots, read_clear every lane
                ks = [int(k) for k in rg.choice(slots, size=int(rg.integers(1, slots + 1)), replace=False)]
                out.append(("clear_all", None, edge_or_random(rg), edge_or_random(rg)))
                for _ in range(int(rg.integers(1, 12))):
                    if stationary:
                        out.append(("set_w", None, edge_or_random(rg), edge_or_random(rg)))
                    for k in ks:
                        out.append(("mac", k, edge_or_random(rg), edge_or_random(rg)))
                for k in ks:
                    for i in range(lanes):
                        out.append((("read_clear", "read")[int(rg.integers(0, 2))], k * lanes + i, 0, 0))
            else:  # random ops with random immediates
                names = [op.name for op in ops]
                for _ in range(int(rg.integers(1, 40))):
                    op = names[int(rg.integers(0, len(names)))]
                    imm = None
                    if op == "mac":
                        imm = int(rg.integers(0, slots))
                    elif op in ("read", "read_clear"):
                        imm = int(rg.integers(0, accumulators))
                    out.append((op, imm, edge_or_random(rg), edge_or_random(rg)))
        return out[:n]

    edge = [("clear_all", None, 0, 0)]
    if stationary:
        edge.append(("set_w", None, 0x80808080, 0x7F807F80))
    # every lane at its extreme products, on the first and the last slot, then read back
    for k in sorted({0, slots - 1}):
        edge += [("mac", k, w1, w2) for w1 in EDGE_WORDS[:6] for w2 in EDGE_WORDS[:6]]
    edge += [("read", j, 0, 0) for j in range(accumulators)]
    edge += [("read_clear", j, 0, 0) for j in range(accumulators)] + [("read", accumulators - 1, 0, 0)]
    sweeps = ()
    if not stationary:  # every int8 pair through every lane of slot 0, each product alone in the accumulators
        sweeps = (LaneSweep("mac", 8, 4, imms=(0,), before=(("clear_all", None, 0, 0),),
                            after=tuple(("read", i, 0, 0) for i in range(4))),)
    ext = Extension(
        name=name, ops=tuple(ops), latency=0, issue_interval=1, state=state, semantics=sem, c_ops=c_ops,
        verilog_comb="\n".join(comb), verilog_seq="\n".join(seq_v),
        doc=f"{name}: {lanes}-lane int8 channel-parallel MAC into {accumulators} int32 accumulators "
            f"({slots} pixel slots x {lanes} channels){'; weights held in the unit' if stationary else ''}.",
        stimulus=stimulus, edge_cases=tuple(edge), lane_sweeps=sweeps)
    ext.intrinsics.append(lane_mac_intrinsic(ext, lanes, accumulators))
    return ext


def _lanes_desc(name: str, lanes: int, combiner: str, padded: bool = False) -> tir.Tensor:
    """``out[i] = combiner over r (extent 1) of f(a[i], b[i])`` for i in ``lanes``: the lane axis is a data
    axis (adjacent channels); the stage's own reduction axes (the window taps) stay in the nest.
    ``padded``: ``a[i]`` is read through zero padding inlined into the load, ``cond ? a[i] : 0`` with the
    condition matched to whatever the stage has there (see :func:`lane_mac_intrinsic`)."""
    a = tir.placeholder((lanes,), "int8", name="a")
    r = tir.reduce_axis((0, 1), name="r")
    if combiner == "sum":
        b = tir.placeholder((lanes,), "int8", name="b")

        def src(i):
            return tir.if_then_else(param("pad_cond", "bool"), a[i], tir.const(0, "int8")) if padded else a[i]

        return tir.compute((lanes,), lambda i: tir.sum(src(i).astype("int32") * b[i].astype("int32"), axis=r),
                           name=name)
    return tir.compute((lanes,), lambda i: tir.max(a[i], axis=r), name=name)


def _no_reduce_outside(m: TensorizeMatch, what: str) -> None:
    if m.reduce_outside:
        raise m.error(f"reduction axes {m.reduce_outside} lie outside the tensorized nest; {m.intrin.name} {what}, "
                      "so tensorize at the outermost reduction axis")


def _data_and_reduce(m: TensorizeMatch):
    data = [lp for lp in m.loops if not lp.is_reduce]
    red = [lp for lp in m.loops if lp.is_reduce]
    return data, red


def lane_mac_intrinsic(ext, lanes: int, accumulators: int, padded: bool = False) -> TensorIntrin:
    """A tile of pixels x ``lanes`` adjacent channels of a depthwise convolution, accumulated in the unit.

    Tensorize the outermost reduction axis of a nest whose innermost loop is a data axis of ``lanes``
    channels (contiguous in the input, the weights and the output): the other data loops of the nest are
    unrolled into pixel slots (at most ``accumulators // lanes``), the reduction loops (window taps) stay
    loops, and each slot's accumulators are read out (and cleared) at the end.

    ``padded``: the variant for zero padding inlined into the input's loads (``cond ? A[...] : 0``, the
    condition the same for every lane): a tap whose input lies in the padding adds nothing, so its mac is
    skipped (``if cond: mac``) and the padded input is never materialized. The plain intrinsic carries
    this variant as ``.padded``.
    """
    slots = accumulators // lanes
    stationary = lanes == 8
    names = ("mac", "read_clear", "clear_all") + (("set_w",) if stationary else ())
    ops = {k: intrin_op(ext, k) for k in names}
    name = f"{ext.name}_lanes" + ("_pad" if padded else "")

    def tile(m: TensorizeMatch) -> int | None:
        n = 1
        for lp in _data_and_reduce(m)[0]:
            if lp.extent is None:
                return None
            n *= lp.extent
        return n

    def check(m: TensorizeMatch) -> None:
        _no_reduce_outside(m, "keeps the partial sums in the unit")
        n = tile(m)
        if n is not None and n > slots:
            raise m.error(f"the tile has {n} pixels of {lanes} channels but the unit has {slots} pixel slots")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        a, w = m.inputs
        out = m.output
        data, red = _data_and_reduce(m)
        zero = Const(0, "uint32")
        pts = list(itertools.product(*[range(lp.extent) for lp in data]))
        body = []
        cond = m.params.get("pad_cond") if padded else None
        if cond is not None and collect_vars(cond) & {id(lv.var) for lv in m.inner}:
            raise m.error(f"the padding condition {cond} varies along the lane axis; the lanes of one word must "
                          "all be inside or all be padding")

        def guarded(stmt, at):
            if cond is None:
                return stmt
            return IfThen(substitute(cond, {lp.var: Const(v, "int32") for lp, v in at.items()}), stmt)
        if stationary:
            # the weights are loaded into the unit once per tap and distinct weight word (they vary along
            # the channel-group loops, not along the pixels): the tile's points grouped by their weights
            groups: dict = {}
            for k, vals in enumerate(pts):
                at = dict(zip(data, vals))
                groups.setdefault(tuple(str(i) for i in w.index(0, at=at)), []).append((k, at))
            for members in groups.values():
                at = members[0][1]
                body.append(Evaluate(call(ops["set_w"], (w.word(0, at=at), w.word(4, at=at)))))
                for k, at in members:
                    body.append(guarded(Evaluate(call(ops["mac"], (a.word(0, at=at), a.word(4, at=at)), (k,))), at))
        else:
            for k, vals in enumerate(pts):
                at = dict(zip(data, vals))
                body.append(guarded(Evaluate(call(ops["mac"], (a.word(0, at=at), w.word(0, at=at)), (k,))), at))
        loop = seq(body)
        for lp in reversed(red):
            loop = lp.loop(loop)
        post = []
        for k, vals in enumerate(pts):
            at = dict(zip(data, vals))
            for i in range(lanes):
                post.append(out.store(Cast("int32", call(ops["read_clear"], (zero, zero), (k * lanes + i,))), i,
                                      at=at))
        # read_clear leaves every accumulator it read at zero: one clear at kernel entry suffices
        return IntrinImpl(body=seq([loop] + post), setup=[Evaluate(call(ops["clear_all"], (zero, zero)))])

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, accumulators, lanes, lanes, "lanes")
    intr = decl_tensor_intrin(_lanes_desc(name, lanes, "sum", padded), impl, name=name, ops=ops, extension=ext,
                              facts=facts, check=check)
    if not padded:
        intr.padded = lane_mac_intrinsic(ext, lanes, accumulators, padded=True)
    return intr


# --- simd_max ------------------------------------------------------------------------------------------

def simd_max_extension(name: str, lanes: int = 4) -> Extension:
    """Stateless lane-wise int8 max of two packed words (funct3 0, funct7 0)."""
    if lanes != 4:
        raise ExtensionError(f"simd_max: only 4 int8 lanes per word, got {lanes}")

    def vmax(a, b, imm, st):
        r = 0
        for i in range(4):
            r |= (max(_byte(a, i), _byte(b, i)) & 0xFF) << (8 * i)
        return r

    c = ["uint32_t r = 0u;"]
    for i in range(4):
        c.append(f"{{ int32_t x = {_c_s8('rs1', i)}, y = {_c_s8('rs2', i)}; "
                 f"r |= ((uint32_t)(x > y ? x : y) & 0xFFu) << {8 * i}; }}")
    c.append("return r;")
    v = []
    for i in range(4):
        hi, lo = 8 * i + 7, 8 * i
        v.append(f"    wire [7:0] mx_{i} = ($signed(rs1[{hi}:{lo}]) > $signed(rs2[{hi}:{lo}])) ? rs1[{hi}:{lo}] : "
                 f"rs2[{hi}:{lo}];")
    v.append("    always @* begin\n        rd = op_vmax ? {mx_3, mx_2, mx_1, mx_0} : 32'd0;\n    end")
    ext = Extension(
        name=name, ops=(Op("vmax", 0, 0, None, False, "rd lane i = max(rs1 lane i, rs2 lane i), 4 int8 lanes"),),
        latency=0, issue_interval=1, semantics={"vmax": vmax}, c_ops={"vmax": "\n".join(c)},
        verilog_comb="\n".join(v), doc=f"{name}: lane-wise max of 4 signed int8 lanes.",
        lane_sweeps=(LaneSweep("vmax", 8, 4),))
    ext.intrinsics.append(simd_max_intrinsic(ext))
    return ext


def simd_max_intrinsic(ext) -> TensorIntrin:
    """A max-pool window over 4 adjacent int8 channels: one ``vmax`` per window tap after the first.

    Tensorize the outermost reduction axis of a nest whose innermost loop is a data axis of 4 channels
    (contiguous in input and output): the reduction loops (window taps) are unrolled, the other data
    loops of the nest stay loops; the 4 results are stored as one word (byte by byte where the
    output's 4 channels are not one aligned word).
    """
    op = intrin_op(ext, "vmax")
    name = f"{ext.name}_lanes"

    def check(m: TensorizeMatch) -> None:
        _no_reduce_outside(m, "reduces a whole window per call")
        for lp in m.loops:
            if lp.is_reduce and lp.extent is not None and lp.extent > 64:
                raise m.error(f"the window loop {lp.name!r} has {lp.extent} taps; {m.intrin.name} unrolls the "
                              "window (at most 64 taps per loop)")

    def impl(m: TensorizeMatch) -> IntrinImpl:
        (a,), out = m.inputs, m.output
        data, red = _data_and_reduce(m)
        tmp = Buffer(f"{ext.name}_v", (1,), "uint32", "local")
        cur = BufferLoad(tmp, (Const(0, "int32"),))
        stmts = []
        for n, vals in enumerate(itertools.product(*[range(lp.extent) for lp in red])):
            word = a.word(0, at=dict(zip(red, vals)))
            stmts.append(Store(tmp, [Const(0, "int32")], word if n == 0 else call(op, (cur, word))))
        try:
            stmts.append(out.store_word(cur, 0))  # the 4 results as one word
        except tir.ScheduleError:  # an output whose 4 channels are not one aligned word: byte by byte
            for i in range(4):
                lane = cur if i == 0 else BinOp("//", cur, Const(1 << (8 * i), "uint32"), "uint32")
                stmts.append(out.store(Cast("int8", lane), i))
        body = Allocate(tmp, seq(stmts))
        for lp in reversed(data):
            body = lp.loop(body)
        return IntrinImpl(body=body)

    facts = HardwareFacts(ext.latency, ext.issue_interval, 2, 1, 0, 0, 4, "lanes")
    return decl_tensor_intrin(_lanes_desc(name, 4, "max"), impl, name=name, ops={"vmax": op}, extension=ext,
                              facts=facts, check=check)


# --- the families --------------------------------------------------------------------------------------

def _lm_grid() -> list[CandidateSpec]:
    return [CandidateSpec.of("lane_mac", lanes=n, accumulators=a) for n, a in LANE_MAC_GRID]


def _lm_build(spec: CandidateSpec) -> Extension:
    return lane_mac_extension(spec.ext_name, int(spec.p["lanes"]), int(spec.p["accumulators"]))


def _lm_describe(spec: CandidateSpec) -> str:
    n, a = spec.p["lanes"], spec.p["accumulators"]
    w = "weights held in the unit, " if n == 8 else ""
    return f"acc[pixel k, channel i] += a_i * w_i over {n} int8 channels ({w}{a} int32 accumulators)"


def _mx_grid() -> list[CandidateSpec]:
    return [CandidateSpec.of("simd_max", lanes=4, dtype="int8")]


def _mx_build(spec: CandidateSpec) -> Extension:
    if spec.p.get("dtype", "int8") != "int8":
        raise ExtensionError(f"simd_max: dtype {spec.p['dtype']!r} (only int8)")
    return simd_max_extension(spec.ext_name, int(spec.p.get("lanes", 4)))


def _mx_describe(spec: CandidateSpec) -> str:
    return "rd lane i = max(rs1 lane i, rs2 lane i) over 4 int8 lanes"


register_family(Family("lane_mac", "channel-parallel int8 MAC with accumulators in the unit (depthwise NHWC)",
                       _lm_grid, _lm_build, _lm_describe))
register_family(Family("simd_max", "stateless lane-wise int8 max (max pooling)", _mx_grid, _mx_build,
                       _mx_describe))

__all__ = ["LANE_MAC_GRID", "lane_mac_extension", "lane_mac_intrinsic", "simd_max_extension", "simd_max_intrinsic"]
