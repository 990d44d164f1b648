"""Built-in tunable templates (int8 in, int32 accumulate), all register-blocked.

Each template computes the reduction into a ``local`` accumulator tile (``cache_write`` +
``compute_at`` at the output tile) and has these knobs:

* ``tile_*``     splits of two output axes (outer, inner): the inner extents form the register tile
                 (2, 4, 8: the dividing ones first, then partial tiles whose tail lowering partitions);
* ``unroll``     each of the two register-tile axes unrolled or not (in the accumulation and in the
                 write-back of the tile);
* ``tensorize``  None, ``dot4_i8`` (innermost 4 reduction lanes) or ``mac4_i8`` (the whole tile
                 in the unit's 16-accumulator bank), where the layout allows: the lane axis must be
                 contiguous in both operands and its words aligned, so NCHW convolutions only offer
                 None (unless KW % 4 == 0 with a single output column). A mac4 tile of more than 16
                 accumulators fails at tensorize time, a fast "build" error; any other extension whose
                 intrinsic fits (pattern "lane_reduce" or "tile", the operands' dtype, lanes dividing
                 the lane axis, a bank holding the smallest tile) is offered too, with its own lane
                 count, and a candidate bank's tile is reduced to fit its accumulators;
* ``k_steps``    reduction work per iteration of the k loop (unrolled): with a tensorize, lane steps
                 (1, 2, or all of them up to FULL_K_STEPS, so that the whole reduction of a tile is
                 straight-line code); without one, that many reduction steps, outside the tile loops
                 (the hand scalar schedule's order: the tile's accumulators stay in registers);
* ``cfu_emit``   ``c`` leaves the order of a dot4 tile's loads, CFU ops and adds to the C compiler;
                 ``asm`` emits them one volatile asm statement each in an order made for VexRiscv
                 (pragma ``cfu_asm``; see codegen_c.emit). No effect without a dot4 tensorize;
* ``compiler``   the cross compiler and flags of the vexriscv target.

Shapes whose stationary operand (Bt of a matmul, the weights of a dense layer or an NHWC convolution)
exceeds the 4 KiB D-cache (CACHE_BYTES) also get the memory knobs, before ``compiler`` (smaller shapes
keep exactly the space above):

* ``pack``         (matmuls, the first knob) copy the blocked axis's operand per cache block into a
                   contiguous local buffer (cache_read computed at the block loop; with mac4 the
                   unit's tile writes the output directly, otherwise the register tile reads the
                   packed buffer, ``compute_at(..., through=)``);
* ``cache_block``  tiles of the blocked axis per cache block (0: none): the block loop outermost;
* ``cache_axis``   which tile axis is blocked (``"b"``: the stationary operand's, ``"a"``: the other);
* ``k_steps``      also straight-line chunks of 4, 8 or 16 lane steps of a reduction too long to
                   unroll whole;
* ``cfu_words``    operand words per C-order CFU block (pragma ``cfu_words``: 8, 4, 0 = the C
                   compiler's order).

conv2d_nhwc_i8 (its register-blocked space) also has the window knobs, the hand conv's
(schedules.hand ``_conv_prologue`` / ``_conv_dot_rows``), defined after ``compiler`` with
``define_knob(..., added=True)``: each first choice is the schedule from before the knob, so a record
written before it loads with the same index and the same schedule:

* ``window_unroll`` (windows larger than 1x1) ``none``, ``rx`` (a window row unrolled around the lane
                   steps: with a whole-channel k_steps, one straight-line run of CFU ops per row) or
                   ``all`` (the whole window; inside an accumulator unit's nest only the row);
* ``wb_unroll``    the tile's write-back unrolled as ``unroll`` says (``same``) or rolled (``none``: zig's
                   cfu_asm 4x4 tile keeps fewer spills, 1x1 conv 268,318 -> 204,168 cycles);
* ``loop_order``   ``default`` or ``b_outer``: the filter-tile loop outermost (inside a cache block
                   loop), so one tile's weights stay in the D-cache while the input streams past;
* ``pad_copy``     (padded shapes) the padded copy with a test per byte or per pixel (PAD_UNROLL
                   channels unrolled per test).

Space sizes (vexriscv): matmul_i8 128^3 388,800 configs; conv2d_nhwc_i8 1x16x16x32 -> 32 3x3 pad 1
2,799,360 (116,640 before the window knobs; 1,866,240 with exts dot4_i8), 1x1 12,960 (8,640 with
dot4_i8); dense_i8 1x256 -> 64 64,800; matmul_i8 64^3 3,240 (unchanged).

A matmul or dense reduction of no whole number of LANES-lane words copies its operands into zero-padded
word rows when an extension is listed (:func:`_k_padded`), so that its lanes can run along them.

``matmul_i8(M, N, K)``: C[M, N] = A[M, K] x Bt[N, K]^T (B transposed, so both operands run along K).
``matmul_kn_i8(M, N, K)``: B given as [K, N]; a packing stage copies it to [N, K] first.
``dense_i8(M, N, K)``: Y = X[M, K] x W[N, K]^T + bias[N].
``conv2d_nhwc_i8(N, H, W, C, F, KH, KW, stride, pad)``: weights OHWI ([F, KH, KW, C], TFLite's).
``conv2d_nchw_i8(N, C, H, W, F, KH, KW, stride, pad)``: weights OIHW.
``depthwise_conv2d_i8(N, C, H, W, KH, KW, stride, pad)``: NCHW, weights [C, KH, KW].
``depthwise_conv2d_nhwc_i8(N, H, W, C, KH, KW, stride, pad)``: NHWC, weights [KH, KW, C] (channels innermost).
``max_pool2d_nhwc_i8(N, H, W, C, k, stride, pad)``: int8 NHWC max pooling.

The two NHWC lane kernels (:func:`_lane_kernel`) have their own knobs: ``tile_x`` (output pixels per
tile), ``c_groups`` (lane groups of adjacent channels per tile), ``tensorize`` (None, or an intrinsic
of pattern "lanes" from ``exts`` with the kernel's reduction, int8 lanes and a lane count dividing C),
``pad`` (scalar configs of a padded kernel: padding inlined into the loads or materialized),
``unroll_taps`` and ``compiler``. Their scalar configs are always there; a tile larger than a unit's
pixel slots is reduced to fit.

Each template's TE and numpy reference are its ``ops`` registry operator's (``TEMPLATE_OPS``); the
CLI names in ``WORKLOADS`` are the registry's.
"""

from __future__ import annotations

import isa_ext
import ops
import schedules
import tir

from . import stationary
from .space import ConfigEntity, TensorizeEntity, get_config, template

TILE_INNER = (2, 4, 8)  # register tile extents offered per axis
# the extensions a template may tensorize to (a comma-separated template argument; "" for none)
EXTS = "dot4_i8,mac4_i8"
LANES = 4  # the lanes of the knobs' definitions when they divide the lane axis (the built-ins' 4)
FULL_K_STEPS = 16  # the k_steps knob offers a fully unrolled reduction up to this many lane steps
# the default extensions keep their documented spaces: a bank tile larger than the bank stays a build
# error there (existing records and tests hold those configs as errors); every other accumulator bank
# (e.g. a search candidate) gets its tile reduced to fit, so none of its configs fails for a shape reason
TILE_ERROR_EXTS = frozenset(EXTS.split(","))
CACHE_BYTES = 4096  # VexRiscv_FullCfu's D-cache: 4 KiB, direct-mapped, 32-byte lines
# tiles per cache block the cache_block knob offers (0, no blocking, first), when the stationary
# operand exceeds the D-cache
CACHE_BLOCKS = [2, 3, 4, 8, 16]
K_CHUNKS = (4, 8, 16)  # lane steps per straight-line chunk of a reduction too long to unroll whole
CFU_WORDS = (8, 4, 0)  # the cfu_words knob: operand words per C-order CFU block (8 is the emitter's default)
# conv2d_nhwc_i8's window knobs (added after its records existed: each first choice is the old schedule)
WINDOW_UNROLLS = ("none", "rx", "all")  # window loops unrolled around the lane steps
WB_UNROLLS = ("same", "none")  # the tile's write-back unrolled as the unroll knob says, or rolled
LOOP_ORDERS = ("default", "b_outer")  # the filter-tile loop where it was, or outermost
PAD_COPIES = ("byte", "pixel")  # the padded input: one in-image test per byte, or per pixel
PAD_UNROLL = 64  # channels of the padded copy per unrolled step ("pixel"; the hand conv's PAD_UNROLL)


def _tile_candidates(extent: int, inner=TILE_INNER) -> list[list[int]]:
    """The (outer, inner) splits a tile knob offers along an axis of ``extent``: the register tile
    extents of ``inner`` that divide it (or 1 when none does), then the ones that don't, as partial
    tiles (ceil(extent / f) tiles, the last one cut short: lowering partitions the tail, see
    tir.partition), so that an axis of any length gets register tiles. The dividing ones come first,
    in the order the space had before partial tiles existed."""
    whole = [[extent // f, f] for f in inner if f <= extent and extent % f == 0] or [[extent, 1]]
    partial = [[-(-extent // f), f] for f in inner if f < extent and extent % f]
    return whole + partial


def _i32(x):
    return x.astype("int32")


def _k_padded(K: int, exts: str, M: int, N: int) -> int:
    """The reduction length a matmul-like template's tensorized configs run: ``K``, or, when K is not a
    whole number of LANES-lane words and a listed extension fits the next multiple of LANES, that
    multiple (their operands are copied into rows of that many bytes, zero-filled past K, so that every
    row starts at a word and the lane words are whole; the zero lanes add nothing). Scalar configs run
    the real K (:func:`_padded`), and the space of ``exts`` "" is unchanged."""
    if not K % LANES or not exts:
        return K
    kp = -(-K // LANES) * LANES
    tiles = min(c[1] for c in _tile_candidates(M)) * min(c[1] for c in _tile_candidates(N))
    return kp if _block_intrinsics(exts, kp, True, "int8", tiles) else K


def _padded(cfg, K: int, kp: int) -> bool:
    """Whether this config runs the reduction padded to ``kp``: a tensorized one (a scalar config keeps
    the real K and the operands where they are, as in the space without extensions)."""
    return kp != K and _peek(cfg, "tensorize", None) is not None


def _pad_rows(X, K: int, kp: int, name: str):
    """``X[rows, K]`` copied into ``[rows, kp]``, zero past column K (a compute stage at the root; see
    :func:`_copy_then_zero` for its schedule)."""
    zero = tir.const(0, X.dtype)
    return tir.compute((X.shape[0], kp), lambda r, c: tir.if_then_else(c < K, X[r, tir.min(c, K - 1)], zero),
                       name=name)


def _copy_then_zero(s, stages, K: int) -> None:
    """Each zero-padded copy (:func:`_pad_rows`, a padded Bpack) as a plain copy of K columns, then the
    zeros: its column axis split at K with the tail partitioned, whose bounds prove the in-row test
    away (one test per byte measured 19k of matmul 33^3's 58k cycles)."""
    for st in stages:
        if _ext(st.op.axis[1]) > K:
            s[st].split(st.op.axis[1], factor=K, tail=schedules.TailStrategy.PARTITION)


def _register_block(cfg, s, out, acc, ax_a, ax_b, lane_axis, outer_reduce=(), lanes_ok=True, mac_ok=True,
                    exts=EXTS, stationary_bytes=0, packable=None, in_dtype="int8", window_knobs=False,
                    lane_extent=None):
    """The shared schedule: tile (ax_a, ax_b) of ``out``, accumulate the tile in ``acc`` (local).

    ``lane_axis`` is the reduction axis of ``acc`` split into LANES-wide lanes; ``outer_reduce``
    the other reduction axes of ``acc`` (run outside the tile). Returns nothing: ``s`` is scheduled.

    ``stationary_bytes``: the bytes of the operand the tile loops sweep again for every row of tiles
    (Bt of a matmul, the weights of a convolution). Above the D-cache's CACHE_BYTES the space also has
    the memory knobs (see :func:`_memory_knobs`). ``acc is out`` is the direct form (no cache_write:
    only an accumulator-bank tensorize, which writes the output tile itself); ``packable`` maps
    "a" / "b" to the operand read along ax_a / ax_b that a "pack" knob copies per cache block
    (the template has already made that cache_read, see :func:`_pack_choice`).

    ``lane_extent``: the lane axis's extent in a tensorized config when it differs from this TE's (a
    reduction padded to whole words for the extensions only, see :func:`_k_padded`): the knobs are
    defined by it, so that every config of the space has the same knobs.

    ``window_knobs`` (conv2d_nhwc_i8): the window knobs too (``window_unroll``, ``wb_unroll``,
    ``loop_order``; the module docstring), defined after
    ``compiler`` (knobs added later, first choice the old schedule: older configs keep their index).
    """
    cfg.define_split("tile_a", ax_a, num_outputs=2, policy="candidate",
                     candidate=_tile_candidates(_ext(ax_a)))
    cfg.define_split("tile_b", ax_b, num_outputs=2, policy="candidate",
                     candidate=_tile_candidates(_ext(ax_b)))
    lext = lane_extent or (_ext(lane_axis) if lane_axis is not None else 0)
    offered = {}
    if lanes_ok and lane_axis is not None:
        min_tile = min(c[1] for c in _tile_candidates(_ext(ax_a))) * min(c[1] for c in _tile_candidates(_ext(ax_b)))
        offered = _block_intrinsics(exts, lext, mac_ok, in_dtype, min_tile)
    intrins = list(offered)
    # the lanes of the knobs' definitions: the built-ins' 4 whenever they divide the lane axis (their
    # spaces stay as they were), else the fewest lanes of an offered intrinsic
    base = LANES if lane_axis is not None and lext % LANES == 0 else \
        min((t.facts.lanes or t.lanes for t in offered.values()), default=LANES)
    direct = acc is out
    chosen = offered.get(_peek(cfg, "tensorize", None))
    fa, fb = cfg["tile_a"].size[1], cfg["tile_b"].size[1]
    if chosen is not None and chosen.facts.accumulators and chosen.extension.name not in TILE_ERROR_EXTS:
        # the unit keeps the whole tile: a tile larger than its bank is reduced (halving the larger
        # factor), so no offered config fails for a shape reason
        while fa * fb > chosen.facts.accumulators and max(fa, fb) > 1:
            if fa >= fb:
                fa //= 2
            else:
                fb //= 2
    st0 = s[out]
    ao, ai = st0.split(ax_a, factor=fa)
    bo, bi = st0.split(ax_b, factor=fb)
    st = s[out]
    leaf = list(st.leaf_iter_vars)
    # keep the other data axes outside, then (ao, bo, ai, bi)
    others = [a for a in leaf if a not in (ao, bo, ai, bi) and a.kind != "reduce"]
    reduce_leaves = [a for a in leaf if a.kind == "reduce"]
    # an accumulator unit's nest holds the tile loops, so a partial tile (the last one of an axis the tile
    # does not divide) must be partitioned off, which a tile loop split again into cache blocks cannot be
    unit_tile = chosen is not None and _in_unit(chosen.extension.name)
    unblockable = {ax for ax, e, f in (("a", _ext(ax_a), fa), ("b", _ext(ax_b), fb)) if unit_tile and e % f}
    mem = _memory_plan(cfg, stationary_bytes, unblockable)
    # (the window knobs are defined after "compiler", see the end; their values are read here)
    b_outer = window_knobs and _peek(cfg, "loop_order", LOOP_ORDERS[0]) == "b_outer"
    block_at = None
    if mem is not None and mem[0]:
        nblk, which = mem
        if which == "b":
            blk, bo = st.split(bo, factor=nblk)
        else:
            blk, ao = st.split(ao, factor=nblk)
        # the block loop outermost: one block of the stationary operand stays in the D-cache while
        # every other tile streams past it
        if b_outer:
            st.reorder(blk, bo, *others, ao, ai, bi, *reduce_leaves)
        else:
            st.reorder(blk, *others, ao, bo, ai, bi, *reduce_leaves)
        block_at = (blk, which)
    elif b_outer:
        # one tile of the stationary operand's axis (a filter tile) outermost: its weights stay in the
        # D-cache while the whole input streams past them (the hand conv's blocks of one filter tile)
        st.reorder(bo, *others, ao, ai, bi, *reduce_leaves)
    else:
        st.reorder(*others, ao, bo, ai, bi, *reduce_leaves)
    tile_loop = ao if b_outer else bo  # the innermost tile loop: the register tile is computed there
    if packable and block_at is not None and block_at[1] in packable:
        # the register tile (computed inside the block loop) reads the packed buffer, or, in the
        # direct form, the output stage itself
        s[packable[block_at[1]]].compute_at(st, block_at[0], through=None if direct else s[acc])
    if direct:
        sa = st
        ca, cb = ai, bi
        rest = []
    else:
        s[acc].compute_at(st, tile_loop)
        sa = s[acc]
        # the accumulator's data axes matching ax_a / ax_b have the tile extents; others are 1
        data = list(acc.op.axis)
        pos_a = list(out.op.axis).index(ax_a)
        pos_b = list(out.op.axis).index(ax_b)
        ca, cb = data[pos_a], data[pos_b]
        rest = [a for i, a in enumerate(data) if i not in (pos_a, pos_b)]
    cfg.define_annotate("unroll", [ca, cb], policy="try_unroll")
    cfg.define_tensorize("tensorize", lane_axis, intrins)
    lanes_def = lane_axis is not None and lext % base == 0
    # lane steps per iteration of the k loop (unrolled): fewer loop overheads, longer CFU runs
    steps = [1, 2] if lanes_def and lext % (2 * base) == 0 else [1]
    if lanes_def and 2 < lext // base <= FULL_K_STEPS:
        steps.append(lext // base)  # the whole reduction straight-line
    elif lanes_def and stationary_bytes > CACHE_BYTES:
        # a reduction too long to unroll whole: chunks of it straight-line (a rolled loop of chunks)
        n = lext // base
        steps += [c for c in K_CHUNKS if c > 2 and n % c == 0 and c < n]
    cfg.define_knob("k_steps", steps)
    # (a scalar config of a padded space runs the real reduction: no whole lane words, no lane steps)
    lanes = lane_axis is not None and _ext(lane_axis) % base == 0
    tens = cfg["tensorize"]
    # the chosen intrinsic's lanes (the scalar configs keep the knobs' lanes)
    nl = (offered[tens.name].facts.lanes or offered[tens.name].lanes) if tens.name in offered else base
    k_steps = cfg["k_steps"].val
    if lanes and tens.name is not None:
        # a lane step count the chosen lanes do not divide into whole words: the largest one that does
        k_steps = max(d for d in range(1, k_steps + 1) if (_ext(lane_axis) // nl) % d == 0)
    # scalar code keeps the reduction steps outside the tile (unrolled), so the tile's accumulators stay
    # in registers across the products of one step, as the hand scalar schedule does
    scalar = tens.name is None
    if lanes and scalar:
        # without a lane loop, k_steps is the number of reduction steps per iteration (unrolled): zig
        # spills a 2x4 tile's accumulators from 4 steps on (measured 0.97M / 0.86M / 1.64M cycles at
        # matmul 64^3 for 1 / 2 / 4 steps)
        kio = None
        ko, ki = sa.split(lane_axis, factor=k_steps)
        order = [*rest, *outer_reduce, ko, ki, ca, cb]
    elif lanes:
        kio = None
        if k_steps > 1:
            ko, kr = sa.split(lane_axis, factor=nl * k_steps)
            kio, ki = sa.split(kr, factor=nl)
            order = [*rest, *outer_reduce, ko, kio, ca, cb, ki]
        else:
            ko, ki = sa.split(lane_axis, factor=nl)
            order = [*rest, *outer_reduce, ko, ca, cb, ki]
    else:
        ko = ki = kio = None
        order = [*rest, *outer_reduce, *( [lane_axis] if lane_axis is not None else []), ca, cb]
    sa.reorder(*order)
    if kio is not None:
        sa.unroll(kio)
    if scalar and ki is not None:
        sa.unroll(ki)
    if direct and not (tens.name is not None and _in_unit(tens.name)):
        raise schedules.ScheduleError(f"stage {out.op.name!r}: the packed direct form needs an accumulator-bank "
                                      f"tensorize, got {tens.name}")
    window = _peek(cfg, "window_unroll", WINDOW_UNROLLS[0]) if window_knobs and _has_window(outer_reduce) \
        else WINDOW_UNROLLS[0]
    if window != "none" and outer_reduce:
        # the window loops unrolled around the lane steps: with a whole-channel k_steps, a window row
        # ("rx") or the whole window ("all") is one straight-line run of CFU ops (the hand conv's
        # per-row reduction); inside an accumulator unit's nest (tensorized at the outer window loop)
        # only the inner window loop can be unrolled
        sa.unroll(outer_reduce[-1])
        if window == "all" and len(outer_reduce) > 1 and not (tens.name is not None and _in_unit(tens.name)):
            for r in outer_reduce[:-1]:
                sa.unroll(r)
    if tens.name is not None and _in_unit(tens.name):
        # the tile, the lanes and every reduction loop are inside the unit's nest: nothing to unroll
        tens.apply(s, sa, outer_reduce[0] if outer_reduce else ko)
    elif direct:
        pass
    else:
        cfg["unroll"].apply(s, sa, [ca, cb])
        # the tile's write-back too: an accumulator array indexed by loop variables stays in memory
        # under gcc -O2 (which does not unroll it), so every add of the tile would load and store;
        # zig's cfu_asm tiles are faster with it rolled (1x1 conv 268,318 -> 204,168 cycles), so the
        # window knobs' "wb_unroll" can keep it rolled
        if not window_knobs or _peek(cfg, "wb_unroll", WB_UNROLLS[0]) == "same":
            cfg["unroll"].apply(s, st, [ai, bi])
        if tens.name is not None:
            tens.apply(s, sa, ki)
    # how the rv32 C places the CFU instructions of a stateless-dot tile: left to the C compiler, or
    # one volatile asm statement per instruction in an order made for the in-order core (cfu_asm)
    cfg.define_knob("cfu_emit", ["c", "asm"])
    if cfg["cfu_emit"].val == "asm" and tens.name is not None and not _in_unit(tens.name):
        st.pragma(tile_loop, "cfu_asm", 1)
    if stationary_bytes > CACHE_BYTES:
        # operand words a C-order CFU block loads ahead (pragma cfu_words; 0: the C compiler's order)
        cfg.define_knob("cfu_words", list(CFU_WORDS))
        if cfg["cfu_words"].val != CFU_WORDS[0] and tens.name is not None and not _in_unit(tens.name):
            st.pragma(tile_loop, "cfu_words", cfg["cfu_words"].val)
    cfg.define_knob("compiler", list(cfg.compilers))  # the task's target's compilers
    if window_knobs:  # (added after the records of the older space: first choices = the old schedule)
        if _has_window(outer_reduce):
            cfg.define_knob("window_unroll", list(WINDOW_UNROLLS), added=True)
        cfg.define_knob("wb_unroll", list(WB_UNROLLS), added=True)
        cfg.define_knob("loop_order", list(LOOP_ORDERS), added=True)


def _has_window(outer_reduce) -> bool:
    """Whether the reduction loops outside the lane axis run more than once (a window, not 1x1)."""
    n = 1
    for r in outer_reduce:
        n *= _ext(r)
    return n > 1


def _block_intrinsics(exts: str, lane_extent: int, mac_ok: bool, in_dtype: str, min_tile: int) -> dict:
    """ext name -> the tensor intrinsic of each listed extension that fits a register-blocked reduction:
    pattern "lane_reduce" (a stateless reduction over packed lanes) or, where ``mac_ok``, "tile" (the
    tile in an accumulator bank, only when the smallest register tile, ``min_tile`` outputs, fits its
    bank); input dtype ``in_dtype``; lanes dividing the lane axis (``lane_extent``). An intrinsic that
    declares no pattern counts as "tile" when it has accumulators, else as "lane_reduce"; other patterns
    ("rows", "lanes", "elementwise") are not offered here."""
    out: dict = {}
    for n in (x.strip() for x in exts.split(",") if x.strip()):
        t = _block_intrinsic(isa_ext.get(n), lane_extent, mac_ok, in_dtype, min_tile)
        if t is not None:
            out[n] = t
    return out


def _block_intrinsic(ext, lane_extent: int, mac_ok: bool, in_dtype: str, min_tile: int):
    """The first tensor intrinsic of the Extension ``ext`` that fits (see :func:`_block_intrinsics`), or None."""
    for t in ext.intrinsics:
        pattern = t.facts.pattern or ("tile" if t.facts.accumulators else "lane_reduce")
        nl = t.facts.lanes or t.lanes
        if pattern not in ("lane_reduce", "tile") or (pattern == "tile" and not mac_ok):
            continue
        # the lanes of one operand must fill a 32-bit word: the lane loads are aligned 32-bit words
        # (tir Ramp), so e.g. a 2-lane int8 dot, whose word would start at every other halfword, is
        # not offered
        if t.in_dtype != in_dtype or nl < 1 or lane_extent % nl or nl * tir.dtype.bits(in_dtype) != 32:
            continue
        if pattern == "tile" and t.facts.accumulators < min_tile:
            continue
        if getattr(t.desc.op.body, "combiner", None) != "sum":
            continue
        return t
    return None


def lane_reduce_intrinsic(ext, lane_extent: int, in_dtype: str = "int8"):
    """The stateless lane-reduce intrinsic (a sum of lane products into one value) of the Extension
    ``ext`` whose lanes divide ``lane_extent`` and fill one 32-bit word of ``in_dtype`` (None if it has
    none): what a register-blocked template offers without an accumulator bank."""
    return _block_intrinsic(ext, lane_extent, False, in_dtype, 1)


def _peek(cfg, name: str, default):
    """A knob's value before the template defines it: the config's choice when instantiating, the
    first choice (``default``) while the space is being defined."""
    if isinstance(cfg, ConfigEntity) and name in cfg:
        e = cfg[name]
        return e.name if isinstance(e, TensorizeEntity) else e.val
    return default


def _divisors_upto(n: int, cap: int) -> list[int]:
    return [d for d in range(2, min(n, cap) + 1) if n % d == 0]


def _memory_plan(cfg, stationary_bytes: int, unblockable=frozenset()):
    """The memory knobs of a shape whose stationary operand exceeds the D-cache (None otherwise):

    * ``cache_block`` tiles of the blocked axis per cache block (0: no cache blocking): the block loop
      goes outermost, so one block of the operand read along that axis stays in the 4 KiB D-cache
      while the tiles of the other axis stream past it;
    * ``cache_axis`` which output axis is blocked: ``"b"`` (the stationary operand's rows, e.g. Bt) or
      ``"a"`` (the other operand's rows): the loop order of the two tile loops.

    ``unblockable``: the axes ("a", "b") a cache block may not split (a config that blocks one gets no
    blocking). Returns (tiles per block, axis).
    """
    if stationary_bytes <= CACHE_BYTES:
        return None
    n_a, n_b = cfg["tile_a"].size[0], cfg["tile_b"].size[0]
    cfg.define_knob("cache_block", [0] + CACHE_BLOCKS)
    cfg.define_knob("cache_axis", ["b", "a"])
    nblk, which = cfg["cache_block"].val, cfg["cache_axis"].val
    n = n_b if which == "b" else n_a
    if nblk and (nblk >= n or n % nblk or which in unblockable):
        nblk = 0  # a block as large as the axis (or not dividing it) is no blocking
    return nblk, which


def _pack_choice(cfg, stationary_bytes: int, exts: str) -> str | None:
    """The ``pack`` knob of a matmul-like template (only when the stationary operand exceeds the
    D-cache): copy the operand of the blocked axis per cache block into a contiguous local buffer
    (cache_read, computed at the block loop). Returns None (no packing: the knob is off, or there is
    no cache block), ``"direct"`` (a mac tensorize: the unit's tile writes the output itself, no
    cache_write, the packed operand read by the output stage) or ``"cached"`` (the packed operand read
    by the register tile, which is computed inside the block loop)."""
    if stationary_bytes <= CACHE_BYTES:
        return None
    cfg.define_knob("pack", [False, True])
    if not (cfg["pack"].val and _peek(cfg, "cache_block", 0)):
        return None
    tens = _peek(cfg, "tensorize", None)
    return "direct" if tens is not None and tens in exts and _in_unit(tens) else "cached"


def _packed(cfg, s, reader, operands: dict, stages: dict = ()) -> dict:
    """"a" / "b" -> the packing stage of the blocked axis's operand, read by ``reader``: a compute stage
    of the template (``stages``) when it already is a packing stage, else a new cache_read."""
    which = _peek(cfg, "cache_axis", "b")
    if which in dict(stages):
        return {which: dict(stages)[which]}
    return {which: s.cache_read(operands[which], "local", [reader])}


def _in_unit(ext_name: str) -> bool:
    """Whether the extension's tensor intrinsic keeps the whole output tile in the unit (an accumulator
    bank): then the tile, the lanes and every reduction loop are inside the tensorized nest."""
    return any(t.accumulators for t in isa_ext.get(ext_name).intrinsics)


def _ext(axis) -> int:
    return int(axis.dom.extent.value if hasattr(axis.dom.extent, "value") else axis.dom.extent)


# --- the operators: TE and numpy references from the ops registry ------------------------------------

def _op_reference(op_name: str, fields: tuple[str, ...], **fixed):
    """A template ``reference`` (it receives the template's args) from the registry operator
    ``op_name``: the leading template args are the attributes ``fields``, ``fixed`` the others."""
    op = ops.get(op_name)

    def reference(*arrays, args):
        return op.reference(*arrays, **dict(zip(fields, args)), **fixed)

    reference.__qualname__ = f"reference[{op_name}]"
    return reference


_MNK = ("M", "N", "K")
_CONV_ARGS = ("KH", "KW", "stride", "pad")


# --- matmul ------------------------------------------------------------------------------------------

_matmul_ref = _op_reference("matmul_nt", _MNK)


@template("matmul_i8", reference=_matmul_ref)
def matmul_i8(M, N, K, exts=EXTS):
    rows = stationary.plan(exts, K, N)  # an operand-stationary unit: its own space (schedules/autotune/stationary.py)
    if rows.ext is not None:
        return stationary.matmul_i8(rows.ext, M, N, K)
    exts = rows.rest
    wl = ops.get("matmul_nt")(M, N, K)
    (A, Bt), C = wl.inputs, wl.output
    cfg = get_config()
    kp = _k_padded(K, exts, M, N)
    stages = {}
    if _padded(cfg, K, kp):  # the operands in word-aligned rows, zero past K (see _k_padded)
        stages = {"a": _pad_rows(A, K, kp, "A_pad"), "b": _pad_rows(Bt, K, kp, "Bt_pad")}
        k = tir.reduce_axis((0, kp), name="k")
        C = tir.compute((M, N), lambda i, j: tir.sum(_i32(stages["a"][i, k]) * _i32(stages["b"][j, k]), axis=k),
                        name="C")
    s = schedules.create_schedule(C)
    _copy_then_zero(s, stages.values(), K)
    big = N * kp  # int8 bytes of Bt, swept again for every row of tiles
    mode = _pack_choice(cfg, big, exts)
    if mode == "direct":  # the unit's tile writes C itself; the packed operand read per block
        packed = _packed(cfg, s, C, {"a": A, "b": Bt}, stages)
        _register_block(cfg, s, C, C, C.op.axis[0], C.op.axis[1], s[C].op.reduce_axis[0], exts=exts,
                        stationary_bytes=big, packable=packed, lane_extent=kp)
        return s, [A, Bt, C]
    CL = s.cache_write(C, "local")
    packed = _packed(cfg, s, CL, {"a": A, "b": Bt}, stages) if mode else None
    _register_block(cfg, s, C, CL, C.op.axis[0], C.op.axis[1], CL.op.reduce_axis[0], exts=exts,
                    stationary_bytes=big, packable=packed, lane_extent=kp)
    return s, [A, Bt, C]


_matmul_kn_ref = _op_reference("matmul", _MNK)


@template("matmul_kn_i8", reference=_matmul_kn_ref)
def matmul_kn_i8(M, N, K, exts=EXTS):
    A, B = ops.get("matmul")(M, N, K).inputs
    cfg = get_config()
    kp = _k_padded(K, exts, M, N)
    kb = kp if _padded(cfg, K, kp) else K
    # the template's layout choice: B copied to K-major [N, K] so the lanes run along K in both operands
    # (a tensorized config's rows of kp bytes, zero past K, as A's copy: see _k_padded)
    zero = tir.const(0, B.dtype)
    Bp = tir.compute((N, kb), lambda j, kk: B[kk, j] if kb == K else
                     tir.if_then_else(kk < K, B[tir.min(kk, K - 1), j], zero), name="Bpack")
    stages = {"b": Bp}
    Ak = A
    if kb != K:
        Ak = stages["a"] = _pad_rows(A, K, kb, "A_pad")
    k = tir.reduce_axis((0, kb), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(_i32(Ak[i, k]) * _i32(Bp[j, k]), axis=k), name="C")
    s = schedules.create_schedule(C)
    _copy_then_zero(s, stages.values(), K)
    big = N * kp
    mode = _pack_choice(cfg, big, exts)
    if mode == "direct":  # (the packing stage Bpack itself is computed per block: no second copy)
        packed = _packed(cfg, s, C, {"a": A}, stages)
        _register_block(cfg, s, C, C, C.op.axis[0], C.op.axis[1], s[C].op.reduce_axis[0], exts=exts,
                        stationary_bytes=big, packable=packed, lane_extent=kp)
        return s, [A, B, C]
    CL = s.cache_write(C, "local")
    packed = _packed(cfg, s, CL, {"a": A}, stages) if mode else None
    _register_block(cfg, s, C, CL, C.op.axis[0], C.op.axis[1], CL.op.reduce_axis[0], exts=exts,
                    stationary_bytes=big, packable=packed, lane_extent=kp)
    return s, [A, B, C]


_dense_ref = _op_reference("dense", _MNK, bias=True)


@template("dense_i8", reference=_dense_ref)
def dense_i8(M, N, K, exts=EXTS):
    rows = stationary.plan(exts, K, N)
    if rows.ext is not None:
        return stationary.dense_i8(rows.ext, M, N, K)
    exts = rows.rest
    wl = ops.get("dense")(M, N, K, bias=True)
    (X, W, Bias), D, Y = wl.inputs, wl["dense"], wl.output
    cfg = get_config()
    kp = _k_padded(K, exts, M, N)
    if _padded(cfg, K, kp):  # X and W in word-aligned rows, zero past K (see _k_padded)
        Xp, Wp = _pad_rows(X, K, kp, "X_pad"), _pad_rows(W, K, kp, "W_pad")
        k = tir.reduce_axis((0, kp), name="k")
        D = tir.compute((M, N), lambda i, j: tir.sum(_i32(Xp[i, k]) * _i32(Wp[j, k]), axis=k), name="dense")
        Y = tir.compute((M, N), lambda i, j: D[i, j] + Bias[j], name="Y")
    s = schedules.create_schedule(Y)
    if _padded(cfg, K, kp):
        _copy_then_zero(s, (Xp, Wp), K)
    DL = s.cache_write(D, "local")
    s[D].compute_inline()
    _register_block(cfg, s, Y, DL, Y.op.axis[0], Y.op.axis[1], DL.op.reduce_axis[0], exts=exts,
                    stationary_bytes=N * kp, lane_extent=kp)
    return s, [X, W, Bias, Y]


# --- convolutions --------------------------------------------------------------------------------------

_conv_nhwc_ref = _op_reference("conv2d_nhwc", ("N", "H", "W", "C", "F", *_CONV_ARGS), weight_layout="OHWI")


@template("conv2d_nhwc_i8", reference=_conv_nhwc_ref)
def conv2d_nhwc_i8(N, H, W, C, F, KH, KW=None, stride=1, pad=0, exts=EXTS):
    rows = stationary.plan(exts, C, F)
    if rows.ext is not None:
        return stationary.conv2d_nhwc_i8(rows.ext, N, H, W, C, F, KH, KW, stride, pad)
    if C % LANES and exts:
        # channels that are not word-aligned (e.g. C = 1): no unit can run along them, so a unit that
        # suits the packed window rows gets that space (an rv32im space, exts "", is unchanged)
        packed = _conv_nhwc_packed(N, H, W, C, F, KH, KW, stride, pad, exts)
        if packed is not None:
            return packed
    exts = rows.rest
    wl = ops.get("conv2d_nhwc")(N, H, W, C, F, KH, KW, stride, pad, weight_layout="OHWI")
    (A, Wt), Out = wl.inputs, wl.output
    s = schedules.create_schedule(Out)
    OL = s.cache_write(Out, "local")
    cfg = get_config()
    ry_, rx_, rc_ = OL.op.reduce_axis
    _register_block(cfg, s, Out, OL, Out.op.axis[2], Out.op.axis[3], rc_, outer_reduce=(ry_, rx_), exts=exts,
                    stationary_bytes=F * KH * (KW or KH) * C, window_knobs=True)
    pad_stage = wl.stages.get("pad")
    if pad_stage is not None:
        cfg.define_knob("pad_copy", list(PAD_COPIES), added=True)
        if cfg["pad_copy"].val == "pixel":
            _pad_per_pixel(s, pad_stage)
    return s, [A, Wt, Out]


def _pad_per_pixel(s, pad_stage) -> None:
    """The padded NHWC copy at the root with up to PAD_UNROLL channels per unrolled step: the pixel's
    in-image test once for all of them (the C compiler does not unswitch it out of the channel loop)."""
    sp = s[pad_stage]
    sp.compute_root()
    c = _ext(sp.op.axis[-1])
    u = max(d for d in range(1, min(c, PAD_UNROLL) + 1) if c % d == 0)
    if u > 1:
        _, ci = sp.split(sp.op.axis[-1], factor=u)
        sp.unroll(ci)


def _conv_nhwc_packed(N, H, W, C, F, KH, KW, stride, pad, exts):
    """conv2d_nhwc_i8 on packed window rows (``stationary.window_rows_te``: an im2col to aligned rows
    of KH * KW * C bytes, zero-filled to a multiple of 8), when a unit of ``exts`` suits them: a
    stationary unit gets its rows space, a dot product or accumulator bank the register-blocked space
    with its lanes along the packed window (as the hand schedules' ``_qconv_rows`` does). None when no
    unit of ``exts`` fits the packed rows either."""
    KW = KW or KH
    Kp = stationary.packed_window_k(C, KH, KW)
    rows = stationary.plan(exts, Kp, F)
    if rows.ext is not None:  # (its rows padded to its reduction block when longer than it)
        return stationary.conv2d_nhwc_i8_packed(rows.ext, N, H, W, C, F, KH, KW, stride, pad)
    exts = rows.rest
    OW = ops.common.out_size(W, KW, stride, pad)
    min_tile = min(c[1] for c in _tile_candidates(OW)) * min(c[1] for c in _tile_candidates(F))
    if not _block_intrinsics(exts, Kp, True, "int8", min_tile):
        return None
    A, Wt, Col, Wp, Out, P = stationary.window_rows_te(N, H, W, C, F, KH, KW, stride, pad)
    s = schedules.create_schedule(Out)
    stationary.schedule_packing(s, Col, Wp, P)
    OL = s.cache_write(Out, "local")
    _register_block(get_config(), s, Out, OL, Out.op.axis[2], Out.op.axis[3], OL.op.reduce_axis[0], exts=exts,
                    stationary_bytes=F * Kp)
    return s, [A, Wt, Out]


_conv_nchw_ref = _op_reference("conv2d_nchw", ("N", "C", "H", "W", "F", *_CONV_ARGS))


@template("conv2d_nchw_i8", reference=_conv_nchw_ref)
def conv2d_nchw_i8(N, C, H, W, F, KH, KW=None, stride=1, pad=0, exts=EXTS):
    wl = ops.get("conv2d_nchw")(N, C, H, W, F, KH, KW, stride, pad)
    (A, Wt), Out = wl.inputs, wl.output
    s = schedules.create_schedule(Out)
    OL = s.cache_write(Out, "local")
    cfg = get_config()
    rc_, ry_, rx_ = OL.op.reduce_axis
    # the lanes run along rx (contiguous in both operands only at stride 1); a word of A at x + rx is
    # 4-byte aligned for every x only when there is one output column (x steps by one element)
    _register_block(cfg, s, Out, OL, Out.op.axis[1], Out.op.axis[3], rx_, outer_reduce=(rc_, ry_),
                    lanes_ok=stride == 1 and _ext(Out.op.axis[3]) == 1, mac_ok=False, exts=exts)
    return s, [A, Wt, Out]


_dw_ref = _op_reference("depthwise_conv2d_nchw", ("N", "C", "H", "W", *_CONV_ARGS), weight_layout="CHW")


@template("depthwise_conv2d_i8", reference=_dw_ref)
def depthwise_conv2d_i8(N, C, H, W, KH, KW=None, stride=1, pad=0, exts=EXTS):
    wl = ops.get("depthwise_conv2d_nchw")(N, C, H, W, KH, KW, stride, pad, weight_layout="CHW")
    (A, Wt), Out = wl.inputs, wl.output
    s = schedules.create_schedule(Out)
    OL = s.cache_write(Out, "local")
    cfg = get_config()
    ry_, rx_ = OL.op.reduce_axis
    # (the lanes along rx: whole aligned words only at stride 1 with one output column, as in NCHW conv2d)
    _register_block(cfg, s, Out, OL, Out.op.axis[2], Out.op.axis[3], rx_, outer_reduce=(ry_,),
                    lanes_ok=stride == 1 and _ext(Out.op.axis[3]) == 1, mac_ok=False, exts=exts)
    return s, [A, Wt, Out]


# --- lane-parallel kernels: NHWC depthwise convolution and max pooling ---------------------------------

PIXEL_TILES = (1, 2, 4, 8)  # output pixels (along OW) per register / unit tile
CHANNEL_GROUPS = (1, 2, 4)  # lane groups of adjacent channels per tile


def _lane_intrinsics(exts: str, combiner: str, channels: int, in_dtype: str = "int8") -> list:
    """The intrinsics of the listed extensions that fit a lane-parallel kernel: pattern "lanes", the same
    reduction (``"sum"`` of products or ``"max"``), input dtype ``in_dtype`` and a lane count dividing the
    channel axis (the lane words must be whole and aligned)."""
    out = []
    for n in (x.strip() for x in exts.split(",") if x.strip()):
        for t in isa_ext.get(n).intrinsics:
            body = t.desc.op.body
            if (t.facts.pattern == "lanes" and t.facts.lanes > 0 and channels % t.facts.lanes == 0
                    and t.in_dtype == in_dtype and getattr(body, "combiner", None) == combiner):
                out.append(t)
                break
    return out


def _intrin_of(cfg, intrins: list):
    name = cfg["tensorize"].name
    return next((t for t in intrins if t.name == name), None)


def _lane_tile(cfg, intr, channels: int, ow: int) -> tuple[int, int, int]:
    """(pixels per tile, lane groups per tile, lanes) of a config: the knobs' values reduced until the
    tile fits the channel axis and (for a unit with accumulators) the unit's pixel slots, so that no
    config fails to build for a shape reason."""
    lanes = intr.facts.lanes if intr is not None else (4 if channels % 4 == 0 else 1)
    px, g = cfg["tile_x"].val, cfg["c_groups"].val
    while g > 1 and channels % (g * lanes):
        g //= 2
    if intr is not None and intr.facts.accumulators:
        slots = intr.facts.accumulators // lanes
        while px * g > slots and g > 1:
            g //= 2
        while px * g > slots and px > 1:
            px //= 2  # a power of two dividing OW: its halves divide OW too
    return px, g, lanes


def _lane_kernel(cfg, s, out, pad_stage, exts: str, combiner: str, padded: bool = False):
    """The schedule of an NHWC lane-parallel kernel (``out[b, y, x, c]`` reduced over the window taps).

    Knobs: ``tile_x`` output pixels per tile, ``c_groups`` lane groups (of 4 channels, or of the unit's
    lanes) per tile, ``tensorize`` None or a "lanes" intrinsic of ``exts`` that fits, ``pad`` (a padded
    kernel's scalar configs) inline the zero padding into the loads or materialize it, ``unroll_taps``
    the window loops of the scalar tile unrolled, ``compiler``. Scalar configs accumulate a pixels x
    channels tile in registers (cache_write) with the taps outside the tile; a tensorized config writes
    the output directly from the unit (materialized padding: the lanes are plain word loads), or, with
    ``padded`` (the template built ``out`` with its zero padding inside the loads, for a unit that has
    the padded variant of its intrinsic and a config with pad "inline"), skips the padded taps.
    """
    b, y, x, c = out.op.axis
    ry, rx = out.op.reduce_axis
    channels, ow = _ext(c), _ext(x)
    intrins = _lane_intrinsics(exts, combiner, channels)
    cfg.define_knob("tile_x", [p for p in PIXEL_TILES if p <= ow and ow % p == 0])
    cfg.define_knob("c_groups", list(CHANNEL_GROUPS))
    cfg.define_tensorize("tensorize", c, intrins)
    if pad_stage is not None or padded:
        cfg.define_knob("pad", ["inline", "root"])
    cfg.define_knob("unroll_taps", [True, False])
    cfg.define_knob("compiler", list(cfg.compilers))
    intr = _intrin_of(cfg, intrins)
    px, g, lanes = _lane_tile(cfg, intr, channels, ow)
    ol = s.cache_write(out, "local") if intr is None else None
    st = s[out]
    # a unit with a variant for padding inlined into its loads skips the padded taps instead of reading a
    # materialized copy (the "pad" knob chooses, as for the scalar configs)
    use = intr.padded if padded else intr
    inline = pad_stage is not None and intr is None and cfg["pad"].val == "inline"
    if pad_stage is not None:
        if inline:
            s[pad_stage].compute_inline()
        else:  # the copy of the padded input: up to 32 channels per unrolled step (one border test each)
            sp = s[pad_stage]
            f = next((f for f in (32, 16, 8, 4) if channels % f == 0), None)
            if f is not None:
                _, pci = sp.split(sp.op.axis[3], factor=f)
                sp.unroll(pci)
    xo, xi = st.split(x, factor=px)
    co, cr = st.split(c, factor=g * lanes)
    if intr is not None:
        cg, ci = st.split(cr, factor=lanes)
        if intr.facts.accumulators:  # the taps inside the unit's tile: tensorize at the outer tap
            st.reorder(b, y, xo, co, ry, rx, xi, cg, ci)
            if cfg["unroll_taps"].val:  # the tap loops inside the unit's nest straight-line
                st.unroll(ry)
                st.unroll(rx)
        else:  # a stateless unit: one window per call, the tile's loops outside (unrolled)
            st.reorder(b, y, xo, co, xi, cg, ry, rx, ci)
            st.unroll(xi)
            st.unroll(cg)
        st.tensorize(ry, use)
        return
    st.reorder(b, y, xo, co, xi, cr)
    s[ol].compute_at(st, co)
    sa = s[ol]
    ob, oy, ox, oc = sa.op.axis
    lry, lrx = sa.op.reduce_axis
    sa.reorder(ob, oy, lry, lrx, ox, oc)
    sa.unroll(ox)
    sa.unroll(oc)
    if cfg["unroll_taps"].val:
        sa.unroll(lrx)
        sa.unroll(lry)
    st.unroll(xi)
    st.unroll(cr)


_dw_nhwc_ref = _op_reference("depthwise_conv2d_nhwc", ("N", "H", "W", "C", *_CONV_ARGS))


@template("depthwise_conv2d_nhwc_i8", reference=_dw_nhwc_ref)
def depthwise_conv2d_nhwc_i8(N, H, W, C, KH, KW=None, stride=1, pad=0, exts=EXTS):
    wl = ops.get("depthwise_conv2d_nhwc")(N, H, W, C, KH, KW, stride, pad)
    (A, Wt), Out = wl.inputs, wl.output
    cfg = get_config()
    pad_stage = wl.stages.get("pad")
    chosen = _peek(cfg, "tensorize", None)
    intr = next((t for t in _lane_intrinsics(exts, "sum", C) if t.name == chosen), None)
    padded = (pad_stage is not None and intr is not None and getattr(intr, "padded", None) is not None
              and _peek(cfg, "pad", "inline") == "inline")
    if padded:
        # the same convolution with the zero padding inside the loads (no padded copy): the unit skips
        # the taps that fall into the padding
        kw = KW or KH
        OH, OW = Out.shape[1], Out.shape[2]
        ry = tir.reduce_axis((0, KH), "ry")
        rx = tir.reduce_axis((0, kw), "rx")
        zero = tir.const(0, "int8")

        def tap(b, y, x, c):
            yy, xx = y * stride + ry, x * stride + rx
            return tir.if_then_else(tir.all(yy >= pad, yy < H + pad, xx >= pad, xx < W + pad),
                                    A[b, yy - pad, xx - pad, c], zero)

        Out = tir.compute((N, OH, OW, C), lambda b, y, x, c: tir.sum(
            tap(b, y, x, c).astype("int32") * Wt[ry, rx, c].astype("int32"), axis=[ry, rx]), name="dwconv")
        pad_stage = None
    s = schedules.create_schedule(Out)
    _lane_kernel(cfg, s, Out, pad_stage, exts, "sum", padded=padded)
    return s, [A, Wt, Out]


_max_pool_nhwc_ref = _op_reference("max_pool2d_nhwc", ("N", "H", "W", "C", "k", "stride", "pad"), dtype="int8")


@template("max_pool2d_nhwc_i8", reference=_max_pool_nhwc_ref)
def max_pool2d_nhwc_i8(N, H, W, C, k=2, stride=2, pad=0, exts=EXTS):
    wl = ops.get("max_pool2d_nhwc")(N, H, W, C, k, stride, pad, dtype="int8")
    (A,), Out = wl.inputs, wl.output
    s = schedules.create_schedule(Out)
    _lane_kernel(get_config(), s, Out, wl.stages.get("pad"), exts, "max")
    return s, [A, Out]


# template -> (its ops registry operator, the attributes the template fixes); its args are the
# operator's shape attributes in order (then ``exts``)
TEMPLATE_OPS = {
    "matmul_i8": ("matmul_nt", {}),
    "matmul_kn_i8": ("matmul", {}),
    "dense_i8": ("dense", {"bias": True}),
    "conv2d_nhwc_i8": ("conv2d_nhwc", {"weight_layout": "OHWI"}),
    "conv2d_nchw_i8": ("conv2d_nchw", {}),
    "depthwise_conv2d_i8": ("depthwise_conv2d_nchw", {"weight_layout": "CHW"}),
    "depthwise_conv2d_nhwc_i8": ("depthwise_conv2d_nhwc", {}),
    "max_pool2d_nhwc_i8": ("max_pool2d_nhwc", {"dtype": "int8"}),
}

def template_macs(name: str, args) -> int | None:
    """Multiply-accumulates of a built-in template's kernel at ``args`` (its operator's leading
    attributes, then ``exts``), from the registry; None for a template not in TEMPLATE_OPS."""
    if name not in TEMPLATE_OPS:
        return None
    op_name, fixed = TEMPLATE_OPS[name]
    op = ops.get(op_name)
    fields = [a.name for a in op.attrs if a.name not in fixed]
    return op.macs(**dict(zip(fields, [a for a in args if not isinstance(a, str)])), **fixed)


_DEFAULT_ARGS = {
    "matmul_i8": (32, 32, 32), "matmul_kn_i8": (32, 32, 32), "dense_i8": (8, 32, 64),
    "conv2d_nhwc_i8": (1, 8, 8, 16, 16, 3), "conv2d_nchw_i8": (1, 8, 10, 10, 8, 3),
    "depthwise_conv2d_i8": (1, 8, 10, 10, 3),
    "depthwise_conv2d_nhwc_i8": (1, 16, 16, 32, 3, 3, 1, 1), "max_pool2d_nhwc_i8": (1, 16, 16, 32),
}


# spellings ``isaforge tune`` accepted before the registry names, kept working
LEGACY_NAMES = {"matmul_kn": "matmul_kn_i8", "dense": "dense_i8", "conv2d_nhwc": "conv2d_nhwc_i8",
                "depthwise_conv2d": "depthwise_conv2d_i8"}


def _cli_names() -> dict[str, str]:
    """CLI name -> template: every registry name (operator, alias or variant) whose operator and fixed
    attributes are exactly a template's, each template's own name, and the legacy spellings."""
    names = {t: t for t in TEMPLATE_OPS}
    for n in ops.all_names():
        op, fixed = ops.lookup(n)
        for t, (op_name, t_fixed) in TEMPLATE_OPS.items():
            if op.name == op_name and fixed == t_fixed:
                names[n] = t
    for n, t in LEGACY_NAMES.items():
        names.setdefault(n, t)
    return names


# name -> (template, default shape) for the CLI. The registry names mean what they mean everywhere:
# ``matmul`` is A[M, K]·B[K, N] (matmul_kn_i8), ``matmul_nt`` is A·Bt[N, K]ᵀ (matmul_i8).
WORKLOADS = {name: (t, _DEFAULT_ARGS[t]) for name, t in sorted(_cli_names().items())}

__all__ = ["LEGACY_NAMES", "TEMPLATE_OPS", "WORKLOADS", "template_macs", "conv2d_nchw_i8", "conv2d_nhwc_i8", "dense_i8",
           "depthwise_conv2d_i8", "depthwise_conv2d_nhwc_i8", "matmul_i8", "matmul_kn_i8", "max_pool2d_nhwc_i8"]
