"""Hand-written schedules of the int8 workloads: the baselines and the tensorized versions.

Every function takes a ``Workload`` (see ``schedules.workloads``) and returns ``(schedule, args)``,
ready for ``tir.lower(schedule, args)``. ``args`` always has the workload's argument order and
layouts, so ``wl.ref`` checks the result: when a schedule needs another layout (the reduction axis
contiguous for a packed-lane instruction) it adds a packing stage in front of the compute instead of
asking the caller for other arrays.

* ``naive(wl)``        the default schedule (loops in axis order, every stage at the root);
* ``scalar_best(wl)``  a good schedule without any extension: a register-blocked output tile
  (cache_write + compute_at, or compute_at of the reduction stage), the tile loops unrolled and the
  reduction split so the compiler keeps the accumulators in registers;
* ``dot4(wl, ext)``    the same tile with the lane loop tensorized by a stateless dot intrinsic
  (dot4_i8, dot4_u8, dot2_i16, or any extension with a ``dot`` intrinsic);
* ``mac4(wl, ext)``    the output tile kept in the accumulator bank of mac4_i8 (at most 16 outputs).

Supported operators (the workload's ``ops`` registry entry, see ``HAND_KINDS``): ``matmul``
(A[M, K] x B[K, N], B is packed to [N, K]), ``matmul_nt`` (A[M, K] x Bt[N, K], already K-major),
``conv2d_nhwc`` (weights HWIO, or OHWI with :func:`conv2d_nhwc_ohwi`), ``conv2d_nchw`` (data packed
to padded NHWC, weights to OHWI), ``depthwise_conv2d_nchw`` (the window rows packed im2col-style to
4-byte words for the tensorized versions) and ``dense`` with bias and relu; convolutions at dilation 1.

Memory hierarchy (VexRiscv_FullCfu: 4 KiB direct-mapped D-cache, 32-byte lines, ~12 cycles a refill),
only for shapes whose stationary operand does not fit the cache (so the C of smaller shapes is
unchanged):

* matmul: cache blocks of output columns (``block``: columns per block, 0 for none; default: as many
  rows of Bt as fill CACHE_BYTES for the tensorized tiles, BLOCK_BYTES for scalar code) with the block
  loop outermost, and, with ``pack=True``, the block's rows
  of B copied into a contiguous local buffer at the block loop (mac4 then writes the output tile from
  the unit directly, no cache_write). Packing is off by default: with the harness's cache-aware buffer
  placement (simulator.placement) blocking alone is faster at every shape measured (int8 matmul_nt
  128x64x128 mac4: 786,656 cycles blocked, 841,498 unblocked, 902,438 blocked and packed);
  ``dot4(asm=True)`` splits a reduction longer than STRAIGHT_LANE_STEPS (25) lane steps into straight-line chunks
  (``k_chunk`` lane steps) of a rolled loop;
* conv2d NHWC with mac4: filter-tile blocks outermost, the unit's tile written directly, a window
  row and a chunk of channels straight-line (also for 1x1 windows); the padded input copied a
  pixel's channels at a time and the HWIO weights transposed in 4 x 4 blocks (``_conv_prologue``);
* conv2d with dot4 and ``asm=True``: the 4x4 register tile's reduction straight-line by window rows
  (``_conv_dot_rows``: KW x C / 4 lane steps per block, the whole window when it has at most
  STRAIGHT_LANE_STEPS), the NHWC prologue copies as for mac4, weights beyond the D-cache in
  filter-tile blocks. Measured 1x16x16x32 -> 32 (zig): 3x3 pad 1 1.283 MAC/cycle (mac4 1.309), 1x1
  1.270 (mac4 1.152);
* depthwise (stride 1): phase-shifted copies of the source rows instead of im2col (4 bytes copied
  per source byte instead of KH * 4 per output), so the tensorized versions beat the scalar one;
* dense at batch 1: a 1 x 8 tile with several lane steps per iteration (mac4, dot4 with asm);
  ``stationary(wl, ext)`` runs dense+bias+relu on an operand-stationary unit (isa_ext.fam_stationary),
  at batch 1 the whole K streamed through it (``stream_intrinsic``): 1x256 -> 64 on a 16 x 64 unit
  16,356 cycles, 1.002 MAC/cycle (mac4 0.762).

The model compiler's quantized kernels (``qdense(wl, exts)``, ``qconv(wl, exts)``) pick the units of
``exts`` themselves: register (or accumulator-bank) tiles with the requantizing unit set once per
channel of a tile; window rows that are not word-aligned in NHWC (a C = 1 convolution, a depthwise
window) are packed to aligned words first. Measured on kws (frontend.zoo, cycles per inference):
no extensions 12.04M, dot4_i8+requant_i8 2.28M, mac4_i8+requant_i8 2.26M (benchmarks/models.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import isa_ext
import ops
import tir
from tir.errors import ScheduleError
from tir.intrin import TensorIntrin

from .schedule import create_schedule
from .workloads import conv2d_nhwc_ohwi, matmul_nt  # noqa: F401 (re-exported)


def _cast(x, dtype_in: str, dtype_acc: str):
    return x if dtype_in == dtype_acc else x.astype(dtype_acc)


# ---------------------------------------------------------------------------------------------
# helpers


def _intrin(ext, in_unit: bool) -> TensorIntrin:
    """The tensor intrinsic of an extension (name or object) that keeps the output tile in the unit
    (``in_unit``: an accumulator bank) or accumulates in registers (a stateless op)."""
    e = isa_ext.get(ext) if isinstance(ext, str) else ext
    if isinstance(e, TensorIntrin):
        return e
    for t in getattr(e, "intrinsics", []):
        if bool(t.accumulators) == in_unit:
            return t
    what = "an accumulator-bank" if in_unit else "a stateless"
    raise ScheduleError(f"extension {getattr(e, 'name', e)!r} has no {what} tensor intrinsic")


def _check_lanes(wl, what: str, extent: int, lanes: int) -> None:
    if extent % lanes:
        raise ScheduleError(f"{wl.name}: {what} = {extent} is not a multiple of the {lanes} lanes of the "
                            "intrinsic (pad it, or use scalar_best)")


def _fit(n: int, want: int) -> int:
    """The largest divisor of ``n`` that is at most ``want`` (a tile without a guard)."""
    for d in range(min(n, want), 0, -1):
        if n % d == 0:
            return d
    return 1


def naive(wl):
    """The default schedule."""
    return create_schedule(wl.output), wl.args


# ---------------------------------------------------------------------------------------------
# matmul


def _matmul_te(wl, pack: bool):
    """(A, B-input, Bt-tensor, C) with C reading a K-major Bt (a packing stage when ``pack``)."""
    p = wl.params
    dt_in, dt_acc = p.get("dtype_in", "int8"), p.get("dtype_acc", "int32")
    A, B = wl.inputs
    if _is_nt(wl) or not pack:
        if _is_nt(wl):
            return A, B, B, wl.output
        return A, B, None, wl.output
    N, K = p["N"], p["K"]
    Bt = tir.compute((N, K), lambda j, k: B[k, j], name="Bt")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((p["M"], N), lambda i, j: tir.sum(_cast(A[i, k], dt_in, dt_acc) * _cast(Bt[j, k], dt_in, dt_acc),
                                                      axis=k), name=wl.output.op.name)
    return A, B, Bt, C


def _register_tile(s, C, tm: int, tn: int):
    """cache_write C into a tm x tn local tile computed at the output tile; returns the cache."""
    CL = s.cache_write(C, "local")
    i, j = s[C].op.axis
    io, jo, ii, ji = s[C].tile(i, j, tm, tn)
    s[CL].compute_at(s[C], jo)
    return CL


#: the D-cache (VexRiscv_FullCfu: 4 KiB, direct-mapped, 32-byte lines); BLOCK_BYTES: what a cache block
#: of the stationary operand may fill in scalar matmuls and dot4 convolutions (tensorized matmuls fill
#: CACHE_BYTES, see _matmul_tensorized)
CACHE_BYTES = 4096
BLOCK_BYTES = 2048
#: lane steps of a 4x4 cfu_asm tile emitted straight-line as one block; beyond it, chunks of a rolled
#: loop (measured, matmul_nt: 25 steps at 100^3 1.366 MAC/cycle vs 1.280 in chunks of 5; 32 steps at
#: 128^3 0.893 vs 1.312 in chunks of 16: the straight-line code no longer fits the 4 KiB I-cache)
STRAIGHT_LANE_STEPS = 25


def _cache_block(wl, tile, lanes: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Columns of C per cache block (0: no blocking): as many rows of Bt (K bytes each) as fill
    BLOCK_BYTES, a multiple of the tile's columns dividing N; 0 when the whole Bt fits the cache."""
    p = wl.params
    N, K = p["N"], p["K"]
    esize = 2 if p.get("dtype_in", "int8") in ("int16", "uint16") else 1
    if N * K * esize <= CACHE_BYTES:
        return 0
    tn = tile[1]
    if N % tn:
        return 0
    rows = max(1, block_bytes // (K * esize) // tn)
    nb = _fit(N // tn, rows) * tn
    return 0 if nb >= N else nb


def _register_tile_blocked(s, C, tm: int, tn: int, block: int):
    """The register tile of _register_tile inside cache blocks of ``block`` columns of C (rows of the
    K-major Bt): ``for jb: for io: for jo: tile``, so one block of Bt stays in the D-cache while every
    row tile of A streams past it. Returns (the cache, jb)."""
    CL = s.cache_write(C, "local")
    i, j = s[C].op.axis
    io, jo, ii, ji = s[C].tile(i, j, tm, tn)
    jb, jo = s[C].split(jo, block // tn)
    s[C].reorder(jb, io, jo, ii, ji)
    s[CL].compute_at(s[C], jo)
    return CL, jb


def _matmul_unit_blocked(wl, intrin: TensorIntrin, tile, block: int, k_steps: int = 2):
    """An accumulator-bank tile in cache blocks, the block of B packed: ``for jb: pack the block's
    rows of B K-major into a contiguous buffer; for io: for jo: the tile in the unit``.

    No cache_write: the unit's nest writes the output tile itself, so the packing stage is computed
    at a loop of the output stage (the stage that reads it)."""
    A, B = wl.inputs
    C = wl.output
    lanes = intrin.lanes
    K = wl.params["K"]
    s = create_schedule(C)
    BP = s.cache_read(B, "local", [C], layout=None if _is_nt(wl) else (1, 0))
    tm, tn = tile
    i, j = s[C].op.axis
    io, jo, ii, ji = s[C].tile(i, j, tm, tn)
    jb, jo = s[C].split(jo, block // tn)
    k = s[C].op.reduce_axis[0]
    if k_steps > 1 and K % (k_steps * lanes) == 0:
        ko, kr = s[C].split(k, k_steps * lanes)
        kio, ki = s[C].split(kr, lanes)
        s[C].reorder(jb, io, jo, ko, kio, ii, ji, ki)
        s[C].unroll(kio)
    else:
        ko, ki = s[C].split(k, lanes)
        s[C].reorder(jb, io, jo, ko, ii, ji, ki)
    s[BP].compute_at(s[C], jb)
    s[C].tensorize(ko, intrin)
    return s, [A, B, C]


def _pack_block(s, B, Bt, CL, out_stage, jb) -> None:
    """Copy the rows of the K-major B that one cache block reads into a contiguous local buffer, at
    the block loop ``jb`` (computed there although the register tile ``CL`` is what reads it: CL is
    computed inside ``jb``). An in-kernel transpose stage (``Bt is not B``) is itself computed per block."""
    if Bt is not B:
        s[Bt].compute_at(out_stage, jb, through=s[CL])
    else:
        BP = s.cache_read(B, "local", [CL])
        s[BP].compute_at(out_stage, jb, through=s[CL])


def _matmul_scalar(wl, tile=(2, 4), kfactor=2, block: int | None = None, pack: bool | None = None):
    A, B, Bt, C = _matmul_te(wl, pack=False)
    s = create_schedule(C)
    if pack is None:
        pack = False  # measured: blocking alone beats blocking + copy (module docstring)
    if block is None:
        block = _cache_block(wl, tile, 1)
    if block:
        CL, jb = _register_tile_blocked(s, C, *tile, block)
        if pack and _is_nt(wl):
            _pack_block(s, B, B, CL, s[C], jb)
    else:
        CL = _register_tile(s, C, *tile)
    ic, jc = s[CL].op.axis
    ko, ki = s[CL].split(s[CL].op.reduce_axis[0], kfactor)
    s[CL].reorder(ko, ki, ic, jc)
    s[CL].unroll(ki)
    s[CL].unroll(ic)
    s[CL].unroll(jc)
    return s, [A, B, C]


def _matmul_tensorized(wl, intrin: TensorIntrin, tile, asm: bool = False, block: int | None = None,
                       k_chunk: int | None = None, pack: bool | None = None):
    A, B, Bt, C = _matmul_te(wl, pack=True)
    _check_lanes(wl, "K", wl.params["K"], intrin.lanes)
    K = wl.params["K"]
    s = create_schedule(C)
    if Bt is not B:  # the transpose in 4 x 4 blocks: word-sized runs of both layouts per block
        j, k = s[Bt].op.axis
        jo, ji = s[Bt].split(j, 4)
        ko, ki = s[Bt].split(k, 4)
        s[Bt].reorder(jo, ko, ji, ki)
        s[Bt].unroll(ji)
        s[Bt].unroll(ki)
    if intrin.accumulators:
        tile = (_fit(C.shape[0], tile[0]), _fit(C.shape[1], tile[1]))
    if pack is None:  # measured: blocking alone beats blocking + copy (module docstring)
        pack = False
    if block is None:
        # a block of Bt as large as the D-cache: measured (zig, calibrated vexriscv and vexriscv_ideal,
        # either placement) faster than half of it at every memory shape, for dot4 and mac4 alike (dot4
        # cfu_asm 256x64x256 1.175 -> 1.209 MAC/cycle, 128^3 1.237 -> 1.263, 48x80x96 1.152 -> 1.169; mac4
        # 256x64x256 1.188 -> 1.218; 100^3 the same block either way): the streamed rows of A conflict
        # with some of the block's lines wherever it ends, so a smaller block only adds passes over A
        block = _cache_block(wl, tile, intrin.lanes, CACHE_BYTES)
    if block and intrin.accumulators and pack:
        return _matmul_unit_blocked(wl, intrin, tile, block)
    if block:
        CL, jb = _register_tile_blocked(s, C, *tile, block)
        if pack:
            _pack_block(s, B, Bt, CL, s[C], jb)
    else:
        CL = _register_tile(s, C, *tile)
    ic, jc = s[CL].op.axis
    steps = K // intrin.lanes
    if k_chunk is None and asm and not intrin.accumulators and steps > STRAIGHT_LANE_STEPS:
        k_chunk = _fit(steps, 16)
    if asm and not intrin.accumulators and (steps <= STRAIGHT_LANE_STEPS or k_chunk):
        # the whole reduction (or k_chunk lane steps of it) straight-line: the emitter orders every
        # load, op and add of the tile
        whole = steps <= STRAIGHT_LANE_STEPS and not k_chunk
        ko, kr = s[CL].split(s[CL].op.reduce_axis[0], K if whole else k_chunk * intrin.lanes)
        kio, ki = s[CL].split(kr, intrin.lanes)
        s[CL].reorder(ko, kio, ic, jc, ki)
        s[CL].unroll(kio)
    elif intrin.accumulators and K % (2 * intrin.lanes) == 0:
        # two lane steps per iteration: half the loop overhead, and a longer run of CFU ops
        ko, kr = s[CL].split(s[CL].op.reduce_axis[0], 2 * intrin.lanes)
        kio, ki = s[CL].split(kr, intrin.lanes)
        s[CL].reorder(ko, kio, ic, jc, ki)
        s[CL].unroll(kio)
    else:
        ko, ki = s[CL].split(s[CL].op.reduce_axis[0], intrin.lanes)
        s[CL].reorder(ko, ic, jc, ki)
    if not intrin.accumulators:
        s[CL].unroll(ic)
        s[CL].unroll(jc)
        s[CL].tensorize(ki, intrin)
    else:
        s[CL].tensorize(ko, intrin)
    return s, [A, B, C]


# ---------------------------------------------------------------------------------------------
# conv2d (NHWC / NCHW): a channel-innermost pipeline  P[b, y, x, c] (padded), Wp[f, ry, rx, c]


def _conv_packed_te(wl):
    """(inputs, Out) where Out reads a padded NHWC source and OHWI weights, packing when needed."""
    p = wl.params
    N, C, H, W, F, KH, KW = p["N"], p["C"], p["H"], p["W"], p["F"], p["KH"], p["KW"]
    stride, pad = p["stride"], p["pad"]
    A, Wt = wl.inputs
    zero = tir.const(0, "int8")
    if _is_nhwc(wl):
        src = wl.stages.get("pad", A)
        if p.get("weight_layout") == "OHWI":
            Wp = Wt
        else:  # HWIO -> OHWI
            Wp = tir.compute((F, KH, KW, C), lambda f, y, x, c: Wt[y, x, c, f], name="Wp")
    else:  # NCHW: one packing stage does the padding and the layout transform
        src = tir.compute((N, H + 2 * pad, W + 2 * pad, C), lambda b, y, x, c: tir.if_then_else(
            tir.all(y >= pad, y < H + pad, x >= pad, x < W + pad), A[b, c, y - pad, x - pad], zero),
            name="Ap") if pad else tir.compute((N, H, W, C), lambda b, y, x, c: A[b, c, y, x], name="Ap")
        Wp = tir.compute((F, KH, KW, C), lambda f, y, x, c: Wt[f, c, y, x], name="Wp")
    OH, OW = (H + 2 * pad - KH) // stride + 1, (W + 2 * pad - KW) // stride + 1
    ry, rx, rc = tir.reduce_axis((0, KH), "ry"), tir.reduce_axis((0, KW), "rx"), tir.reduce_axis((0, C), "rc")

    def body(b, y, x, f):
        return tir.sum(src[b, y * stride + ry, x * stride + rx, rc].astype("int32") *
                       Wp[f, ry, rx, rc].astype("int32"), axis=[ry, rx, rc])

    if _is_nhwc(wl):
        Out = tir.compute((N, OH, OW, F), body, name="conv")
    else:
        Out = tir.compute((N, F, OH, OW), lambda b, f, y, x: body(b, y, x, f), name="conv")
    return Out


def _conv_axes(wl, st):
    """(b, y, x, f) data axes of a conv stage in either output layout."""
    ax = st.op.axis
    if _is_nhwc(wl):
        return ax[0], ax[1], ax[2], ax[3]
    return ax[0], ax[2], ax[3], ax[1]


def _conv_tile(wl, s, Out, tx: int, tf: int):
    """Register tile of tx output pixels x tf output channels: returns (cache stage tensor, xc, fc)."""
    CL = s.cache_write(Out, "local")
    b, y, x, f = _conv_axes(wl, s[Out])
    xo, xi = s[Out].split(x, tx)
    fo, fi = s[Out].split(f, tf)
    if _is_nhwc(wl):
        s[Out].reorder(b, y, xo, fo, xi, fi)
        at = fo
    else:
        s[Out].reorder(b, fo, y, xo, fi, xi)
        at = xo
    s[CL].compute_at(s[Out], at)
    _, _, xc, fc = _conv_axes(wl, s[CL])
    return CL, xc, fc


def _conv_scalar(wl, tile=(4, 4)):
    Out = wl.output
    s = create_schedule(Out)
    if "pad" in wl.stages:
        s[wl.stages["pad"]].compute_root()
    tx, tf = tile
    CL, xc, fc = _conv_tile(wl, s, Out, tx, tf)
    ry_rc = s[CL].op.reduce_axis
    if _is_nhwc(wl):
        ry, rx, rc = ry_rc
        s[CL].reorder(ry, rx, rc, xc, fc)
    else:
        rc, ry, rx = ry_rc
        s[CL].reorder(rc, ry, rx, xc, fc)
    s[CL].unroll(xc)
    s[CL].unroll(fc)
    return s, wl.args


def _conv_weight_stage(Out):
    """The in-kernel HWIO -> OHWI weight stage ``Wp`` that ``Out`` reads (None when the weights are
    read in place: OHWI weights, or an NCHW pipeline, whose own packing stage is left as it is)."""
    for t in Out.op.input_tensors:
        if t.op.name == "Wp" and isinstance(t.op, tir.ComputeOp):
            return t
    return None


def _conv_prologue(wl, s, Out) -> None:
    """The copies of an NHWC convolution ahead of its tiles, cheap when the operands are large:

    * the padded input at the root with PAD_UNROLL channels per pixel test (:func:`_pad_copy`;
      by default each byte tests its pixel);
    * the HWIO -> OHWI weight transpose in 4 x 4 blocks of (input, output) channels, each block's
      four reads of four output channels one word of Wt apart: the source is read in order (by
      default every byte read of the output-channel-outer order is a line miss once the weights
      exceed the D-cache, since consecutive bytes of one Wp row lie F bytes apart in Wt).

    Measured (zig, mac4_i8, 1x16x16x32 -> 32, 3x3 pad 1): 2,063,802 cycles as before, 1,964,490
    with the pad copy, 1,802,565 with both; 1x1: 232,721 -> 227,633."""
    if not _is_nhwc(wl):
        return
    if "pad" in wl.stages:
        _pad_copy(s, wl.stages["pad"])
    Wp = _conv_weight_stage(Out)
    if Wp is None:
        return
    f, y, x, c = s[Wp].op.axis
    if Wp.shape[0] % 4 or Wp.shape[3] % 4:
        s[Wp].reorder(y, x, c, f)  # the source in order, one byte at a time
        return
    co, ci = s[Wp].split(c, 4)
    fo, fi = s[Wp].split(f, 4)
    s[Wp].reorder(y, x, co, fo, ci, fi)
    s[Wp].unroll(ci)
    s[Wp].unroll(fi)


def _conv_unit_direct(wl, intrin: TensorIntrin, tile, f_block: int, k_steps: int):
    """NHWC, an accumulator-bank tile written by the unit itself (no cache_write), for weights beyond
    the D-cache (or 1x1 windows): ``for fb: for b, y, xo: for fo: for ry: for rco: rx, rck unrolled``.

    ``f_block`` output channels per cache block (a multiple of the tile's): the block loop goes
    outermost, so the block's weights stay in the D-cache while the input streams past them;
    ``k_steps`` lane steps of the channel loop per iteration, unrolled with the whole rx loop (a
    straight-line run of CFU ops per window row)."""
    p = wl.params
    Out = _conv_packed_te(wl)
    s = create_schedule(Out)
    _conv_prologue(wl, s, Out)
    tx, tf = _fit(Out.shape[2], tile[0]), _fit(Out.shape[3], tile[1])
    b, y, x, f = Out.op.axis
    xo, xi = s[Out].split(x, tx)
    fo, fi = s[Out].split(f, tf)
    ry, rx, rc = s[Out].op.reduce_axis
    rco, rci = s[Out].split(rc, intrin.lanes)
    rco, rck = s[Out].split(rco, _fit(p["C"] // intrin.lanes, k_steps))
    lead = []
    if f_block and f_block % tf == 0 and (p["F"] // tf) % (f_block // tf) == 0 and f_block < p["F"]:
        fb, fo = s[Out].split(fo, f_block // tf)
        lead = [fb]
    s[Out].reorder(*lead, b, y, xo, fo, ry, rco, rx, rck, xi, fi, rci)
    s[Out].unroll(rck)
    s[Out].unroll(rx)
    s[Out].tensorize(ry, intrin)
    return s, list(wl.inputs) + [Out]


def _conv_dot_rows(wl, intrin: TensorIntrin, tile):
    """A stateless-dot register tile of ``tile`` (output pixels, output channels) for the cfu_asm
    emitter, the reduction straight-line by window rows: the channel lane steps unrolled, with the
    whole window row (KW x C / lanes lane steps) when it has at most STRAIGHT_LANE_STEPS of them, and
    the whole window when that has; the cheap prologue copies of :func:`_conv_prologue`; NHWC
    weights beyond the D-cache in blocks of filter tiles (as many as fill BLOCK_BYTES) outermost.

    rewrite: ``for ry, rx, rco: tile`` (one lane step per iteration, the emitter ordering 16 ops)
    -> ``for ry: [rx, rco unrolled: tile]`` (24 lane steps in one block at 3x3 x 32 channels).

    Measured (zig, dot4_i8 cfu_asm, 4x4 tile; 1x16x16x32 -> 32): 3x3 pad 1 3,107,864 -> 2,006,294
    cycles (1.176 MAC/cycle; 2,067,398 with rx rolled), blocked by one filter tile (1,152 bytes of
    weights) 1,838,391 (1.283; two tiles 1,890,508, three 1,861,826); 1x1 269,321 -> 206,488 (1.270;
    2x8 and 8x2 tiles 0.905 / 0.978: a 4x4 tile's 16 accumulators and 8 words are what the registers
    hold)."""
    p = wl.params
    Out = _conv_packed_te(wl)
    s = create_schedule(Out)
    _conv_prologue(wl, s, Out)
    tx, tf = tile
    window = p["KH"] * p["KW"] * p["C"]
    blocks = _fit(p["F"] // tf, max(1, BLOCK_BYTES // (window * tf))) if p["F"] % tf == 0 else 0
    if _is_nhwc(wl) and p["F"] * window > CACHE_BYTES and blocks and blocks * tf < p["F"]:
        # weights beyond the D-cache: blocks of filter tiles outermost, so that one block's weights
        # stay in the cache while every pixel tile streams past them (unblocked, every pixel tile
        # sweeps all of them again)
        CL = s.cache_write(Out, "local")
        b, y, x, f = s[Out].op.axis
        xo, xi = s[Out].split(x, tx)
        fo, fi = s[Out].split(f, tf)
        fb, fo = s[Out].split(fo, blocks)
        s[Out].reorder(fb, b, y, xo, fo, xi, fi)
        s[CL].compute_at(s[Out], fo)
        _, _, xc, fc = s[CL].op.axis
    else:
        CL, xc, fc = _conv_tile(wl, s, Out, tx, tf)
    ry, rx, rc = s[CL].op.reduce_axis
    rco, rci = s[CL].split(rc, intrin.lanes)
    s[CL].reorder(ry, rx, rco, xc, fc, rci)
    row = p["KW"] * p["C"] // intrin.lanes
    if row <= STRAIGHT_LANE_STEPS:
        s[CL].unroll(rx)
        if p["KH"] * row <= STRAIGHT_LANE_STEPS:
            s[CL].unroll(ry)
    s[CL].unroll(rco)
    s[CL].unroll(xc)
    s[CL].unroll(fc)
    s[CL].tensorize(rci, intrin)
    return s, list(wl.inputs) + [Out]


def _conv_tensorized(wl, intrin: TensorIntrin, tile, asm: bool = False):
    _check_lanes(wl, "C (input channels)", wl.params["C"], intrin.lanes)
    p = wl.params
    if asm and not intrin.accumulators:
        return _conv_dot_rows(wl, intrin, tile)
    if intrin.accumulators and _is_nhwc(wl) and (p["F"] * p["KH"] * p["KW"] * p["C"] > CACHE_BYTES
                                                 or p["KH"] * p["KW"] == 1):
        # measured (zig), 1x16x16x32 -> 32: 3x3 pad 1 0.980 -> 1.144 MAC/cycle (one 4-channel tile of
        # weights per block); 1x1 1.116 -> 1.127 (no block, the whole channel loop unrolled); with the
        # prologue copies of _conv_prologue 1.309 and 1.152
        if p["KH"] * p["KW"] == 1:
            return _conv_unit_direct(wl, intrin, tile, 0, 8)
        return _conv_unit_direct(wl, intrin, tile, tile[1], 8)
    Out = _conv_packed_te(wl)
    s = create_schedule(Out)
    tx, tf = tile
    if intrin.accumulators:  # the bank holds whole tiles: no guard inside the tensorized nest
        OW, F = (Out.shape[2], Out.shape[3]) if _is_nhwc(wl) else (Out.shape[3], Out.shape[1])
        tx, tf = _fit(OW, tx), _fit(F, tf)
    CL, xc, fc = _conv_tile(wl, s, Out, tx, tf)
    ry, rx, rc = s[CL].op.reduce_axis
    rco, rci = s[CL].split(rc, intrin.lanes)
    s[CL].reorder(ry, rx, rco, xc, fc, rci)
    if not intrin.accumulators:
        s[CL].unroll(xc)
        s[CL].unroll(fc)
        s[CL].tensorize(rci, intrin)
    else:
        s[CL].tensorize(ry, intrin)
    return s, list(wl.inputs) + [Out]


# ---------------------------------------------------------------------------------------------
# depthwise conv2d (NCHW): the tensorized form reduces over (ry, kx) with kx padded to a word


def _dw_packed_te(wl, lanes: int):
    p = wl.params
    N, C, H, W, KH, KW, stride, pad = (p[k] for k in ("N", "C", "H", "W", "KH", "KW", "stride", "pad"))
    A, Wt = wl.inputs
    src = wl.stages.get("pad", A)
    OH, OW = wl.output.shape[2], wl.output.shape[3]
    KX = -(-KW // lanes) * lanes
    z8 = tir.const(0, "int8")
    # im2col of the window rows: Col[b, c, y, x, ry, kx] = src[b, c, y*s + ry, x*s + kx] (0 for kx >= KW)
    Col = tir.compute((N, C, OH, OW, KH, KX), lambda b, c, y, x, r, kx: tir.if_then_else(
        kx < KW, src[b, c, y * stride + r, x * stride + tir.min(kx, KW - 1)], z8), name="Col")
    Wp = tir.compute((C, KH, KX), lambda c, r, kx: tir.if_then_else(kx < KW, Wt[c, 0, r, tir.min(kx, KW - 1)], z8),
                     name="Wp")
    ry, kx = tir.reduce_axis((0, KH), "ry"), tir.reduce_axis((0, KX), "kx")
    Out = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.sum(
        Col[b, c, y, x, ry, kx].astype("int32") * Wp[c, ry, kx].astype("int32"), axis=[ry, kx]), name="dwconv")
    return Col, Out


def _dw_phase_te(wl, lanes: int):
    """Depthwise without im2col (stride 1, output tiles of ``lanes`` pixels): ``lanes`` copies of each
    source row, copy ``q`` shifted left by ``q`` bytes, Ph[b, c, r, q, j] = src[b, c, r, j + q]. The
    window row of output x then starts at the aligned word ``j = x - x % lanes`` of copy ``x % lanes``:
    4 bytes copied per source byte instead of KH * 4 per output (im2col).

    Lanes kx >= KW read a clamped neighbour whose weight is zero, so the clamp never changes a sum."""
    p = wl.params
    N, C, KH, KW = (p[k] for k in ("N", "C", "KH", "KW"))
    A, Wt = wl.inputs
    src = wl.stages.get("pad", A)
    OH, OW = wl.output.shape[2], wl.output.shape[3]
    KX = -(-KW // lanes) * lanes
    WS = src.shape[3]
    XW = -(-(OW + KX - lanes) // lanes) * lanes
    z8 = tir.const(0, "int8")
    Ph = tir.compute((N, C, src.shape[2], lanes, XW),
                     lambda b, c, r, q, j: src[b, c, r, tir.min(j + q, WS - 1)], name="Ph")
    Wp = tir.compute((C, KH, KX), lambda c, r, kx: tir.if_then_else(kx < KW, Wt[c, 0, r, tir.min(kx, KW - 1)], z8),
                     name="Wp")
    ry, kx = tir.reduce_axis((0, KH), "ry"), tir.reduce_axis((0, KX), "kx")
    Out = tir.compute((N, C, OH, OW), lambda b, c, y, x: tir.sum(
        Ph[b, c, y + ry, x % lanes, x - x % lanes + kx].astype("int32") * Wp[c, ry, kx].astype("int32"),
        axis=[ry, kx]), name="dwconv")
    return Out


def _dw_scalar(wl, tile=4):
    Out = wl.output
    s = create_schedule(Out)
    if "pad" in wl.stages:
        s[wl.stages["pad"]].compute_root()
    CL = s.cache_write(Out, "local")
    b, c, y, x = s[Out].op.axis
    xo, xi = s[Out].split(x, tile)
    s[CL].compute_at(s[Out], xo)
    xc = s[CL].op.axis[3]
    ry, rx = s[CL].op.reduce_axis
    s[CL].reorder(ry, rx, xc)
    s[CL].unroll(rx)
    s[CL].unroll(xc)
    return s, wl.args


def _dw_tensorized(wl, intrin: TensorIntrin, tile=4):
    if intrin.accumulators:
        tile = _fit(wl.output.shape[3], min(tile, intrin.accumulators))
    phase = wl.params["stride"] == 1 and tile == intrin.lanes and wl.output.shape[3] % tile == 0
    if phase:
        # measured 16x16x16 3x3 pad 1 (zig): im2col 0.137 MAC/cycle (dot4), phase copies 0.201; scalar 0.168
        Out = _dw_phase_te(wl, intrin.lanes)
        s = create_schedule(Out)
        if "pad" in wl.stages:
            s[wl.stages["pad"]].compute_root()
    else:
        Col, Out = _dw_packed_te(wl, intrin.lanes)
        s = create_schedule(Out)
    CL = s.cache_write(Out, "local")
    b, c, y, x = s[Out].op.axis
    xo, xi = s[Out].split(x, tile)
    s[CL].compute_at(s[Out], xo)
    xc = s[CL].op.axis[3]
    ry, kx = s[CL].op.reduce_axis
    kxo, kxi = s[CL].split(kx, intrin.lanes)
    s[CL].reorder(ry, kxo, xc, kxi)
    if not intrin.accumulators:
        s[CL].unroll(xc)
        if phase:
            s[CL].unroll(ry)  # the window's rows straight-line: one CFU block per output tile
        s[CL].tensorize(kxi, intrin)
    else:
        s[CL].tensorize(ry, intrin)
    return s, list(wl.inputs) + [Out]


# ---------------------------------------------------------------------------------------------
# dense + bias + relu: the dense tile is computed at the relu tile, bias inlined


def _dense(wl, intrin: TensorIntrin | None, tile=(4, 4), kfactor=4, k_steps: int = 1):
    R = wl.output
    D, DB = wl.stages["dense"], wl.stages["bias"]
    s = create_schedule(R)
    s[DB].compute_inline()
    i, j = s[R].op.axis
    io, jo, ii, ji = s[R].tile(i, j, *tile)
    s[D].compute_at(s[R], jo)
    ic, jc = s[D].op.axis
    if intrin is not None:
        _check_lanes(wl, "K", wl.params["K"], intrin.lanes)
        kfactor = intrin.lanes
    ko, ki = s[D].split(s[D].op.reduce_axis[0], kfactor)
    if intrin is None:
        s[D].reorder(ko, ki, ic, jc)
        s[D].unroll(ki)
        s[D].unroll(ic)
        s[D].unroll(jc)
    elif not intrin.accumulators and k_steps > 1 and (wl.params["K"] // intrin.lanes) % k_steps == 0:
        ko, kio = s[D].split(ko, k_steps)  # k_steps lane steps straight-line per iteration
        s[D].reorder(ko, kio, ic, jc, ki)
        s[D].unroll(kio)
        s[D].unroll(ic)
        s[D].unroll(jc)
        s[D].tensorize(ki, intrin)
    elif not intrin.accumulators:
        s[D].reorder(ko, ic, jc, ki)
        s[D].unroll(ic)
        s[D].unroll(jc)
        s[D].tensorize(ki, intrin)
    elif k_steps > 1 and wl.params["K"] % (k_steps * intrin.lanes) == 0:
        # k_steps lane steps per iteration (unrolled): a batch-1 dense streams its weights once, the
        # loop overhead is what is left to remove
        ko, kio = s[D].split(ko, k_steps)
        s[D].reorder(ko, kio, ic, jc, ki)
        s[D].unroll(kio)
        s[D].tensorize(ko, intrin)
    else:
        s[D].reorder(ko, ic, jc, ki)
        s[D].tensorize(ko, intrin)
    return s, wl.args


def _resolve(ext):
    """An extension (or intrinsic) given by name or object."""
    return isa_ext.get(ext) if isinstance(ext, str) else ext


def _stateless_dot(exts, in_dtype: str = "int8") -> TensorIntrin | None:
    """The first stateless dot intrinsic over ``in_dtype`` lanes among the extensions ``exts``."""
    for ext in exts:
        for t in getattr(_resolve(ext), "intrinsics", []):
            if not t.accumulators and t.facts is not None and t.facts.pattern == "lane_reduce" and \
                    t.in_dtype == in_dtype and t.lanes > 1:
                return t
    return None


def _requant_unit(exts) -> TensorIntrin | None:
    """A requantizing unit's intrinsic (pattern "elementwise") among ``exts``, taking per-channel
    shifts from a tensor."""
    from isa_ext.intrin import requant_intrinsic

    for ext in exts:
        e = _resolve(ext)
        if any(t.facts is not None and t.facts.pattern == "elementwise" and "requant" in t.ops
               for t in getattr(e, "intrinsics", [])):
            # a fresh intrinsic object per kernel, used by its one requantizing stage: clamp set once
            return requant_intrinsic(e, runtime_shift=True, clamp_once=True)
    return None


def _requantized_output(s, wl, exts, unroll: int = 1):
    """The output stage of a quantized kernel (stages ``sum`` -> ``biased`` -> requantized output):
    each output's sum computed where it is requantized. With a requantizing unit in ``exts`` the
    innermost output axis is one ``requant`` op per element (``unroll`` channels per iteration);
    without, the bias add is inlined. Returns the sum stage (the reduction)."""
    Y, B = wl.output, wl.stages["biased"]
    A = next(t for t in B.op.input_tensors if isinstance(t.op, tir.ComputeOp))  # the reduction B adds to
    f = s[Y].op.axis[-1]
    rq = _requant_unit(exts)
    if rq is None:
        s[B].compute_inline()
        s[A].compute_at(s[Y], f)
        return s[A]
    if unroll > 1:
        f, fu = s[Y].split(f, unroll)
        fo, fi = s[Y].split(fu, 1)
        s[Y].unroll(fo)
    else:
        fo, fi = s[Y].split(f, 1)
    s[B].compute_at(s[Y], fo)
    s[A].compute_at(s[B], s[B].op.axis[-1])
    s[Y].tensorize(fi, rq)
    return s[A]


UNROLL_ROW_BYTES = 64  # a requantized dense layer unrolls channels while rows x channels <= this
#: a dot-tensorized qdense with at least this many rows gets a register tile of rows x channels
QDENSE_TILE_ROWS = 2
#: a batch-1 qdense keeps its row of outputs in an accumulator bank from this many MACs on
MAC_ROW_MACS = 16
#: lane steps per iteration of an accumulator-bank tile (unrolled) in _qdense_tiled / _qconv_rows
MAC_LANE_STEPS = 16


def _mac_unit(exts, in_dtype: str = "int8") -> TensorIntrin | None:
    """The first accumulator-bank tile intrinsic over ``in_dtype`` lanes among ``exts`` (mac4_i8)."""
    for ext in exts:
        for t in getattr(_resolve(ext), "intrinsics", []):
            if t.accumulators and t.facts is not None and t.facts.pattern == "tile" and t.in_dtype == in_dtype:
                return t
    return None


def _tile_unit(exts) -> TensorIntrin | None:
    """The intrinsic the tiled quantized kernels use: a stateless int8 dot, else an int8
    accumulator bank."""
    return _stateless_dot(exts) or _mac_unit(exts)


def _qdense_tiled(wl, exts, dot: TensorIntrin, tile=(4, 4), chunk: int | None = None, asm: bool = True):
    """``qdense`` as a register tile of ``tile`` rows x channels with a stateless dot: per lane step
    the tile loads tm + tn words for tm * tn dots (one output at a time loads 2 per dot), the whole
    reduction straight-line (up to STRAIGHT_LANE_STEPS lane steps, else chunks of a rolled loop) and
    placed by the rv32 emitter (pragma "cfu_asm"). With an accumulator-bank intrinsic (mac4_i8) the
    tile (at most its accumulators) is kept in the unit instead, MAC_LANE_STEPS lane steps per
    iteration, and read out at the end of the reduction. The biased tile is computed at the tile; with a
    requantizing unit each channel's multiplier and shift are set once per tile, then its rows
    requantized (one ``requant`` op each). ``chunk`` (lane steps per iteration, unrolled) and ``asm``
    (the cfu_asm pragma) override those defaults (qnn_templates' knobs)."""
    p = wl.params
    M, N, K = p["M"], p["N"], p["K"]
    Y, D, B = wl.output, wl.stages["dense"], wl.stages["biased"]
    s = create_schedule(Y)
    tm, tn = _fit(M, tile[0]), _fit(N, tile[1])
    i, j = s[Y].op.axis
    io, jo, ii, ji = s[Y].tile(i, j, tm, tn)
    if _requant_unit(exts) is not None:
        s[Y].reorder(io, jo, ji, ii)  # each channel's rows innermost: its multiplier and shift set once
    _requantized_tile(s, Y, D, B, exts, jo, ji, ii)
    ic, jc = s[D].op.axis
    (k,) = s[D].op.reduce_axis
    steps = K // dot.lanes
    if chunk is not None:
        chunk = _fit(steps, chunk)
    elif dot.accumulators:
        chunk = _fit(steps, MAC_LANE_STEPS)
    else:
        chunk = steps if steps <= STRAIGHT_LANE_STEPS else _fit(steps, 16)
    ko, kr = s[D].split(k, chunk * dot.lanes)
    kio, ki = s[D].split(kr, dot.lanes)
    s[D].reorder(ko, kio, ic, jc, ki)
    s[D].unroll(kio)
    if dot.accumulators:  # the tile in the unit's bank, read out once its reduction is done
        s[D].tensorize(ko, dot)
        return s, wl.args
    s[D].unroll(ic)
    s[D].unroll(jc)
    s[D].tensorize(ki, dot)
    if asm:
        s[Y].pragma(s[Y].leaf_iter_vars[0], "cfu_asm", 1)
    return s, wl.args


def qdense(wl, exts=(), tile: tuple[int, int] | None = None, chunk: int | None = None, asm: bool = True):
    """``qdense`` (int8 FULLY_CONNECTED).

    With a stateless int8 dot (dot4_i8) or an int8 accumulator bank (mac4_i8) in ``exts``, K a
    multiple of its lanes and at least QDENSE_TILE_ROWS rows: a 4x4 tile of rows x channels
    (:func:`_qdense_tiled`); a batch-1 layer with a bank and at least MAC_ROW_MACS MACs: its row of
    outputs in the bank. Otherwise one output at a time, its reduction computed at the output (one
    accumulator in a register) and unrolled, its lane loop tensorized with a stateless dot (a K that
    is not a multiple of the lanes gets a scalar tail). With a requantizing unit (requant_i8) the
    output stage is one ``requant`` op per element after loading that channel's multiplier and shift
    (once per channel of a tile).

    The tunable parameters (``schedules.autotune.qnn_templates``; the defaults are the rules above):
    ``tile`` (rows, channels) takes the tiled schedule with that tile whenever the unit's lanes divide
    K (any M), ``chunk`` / ``asm`` are :func:`_qdense_tiled`'s.
    """
    if _op_name(wl) != "qdense":
        raise ScheduleError(f"qdense schedule: workload {wl.name!r} is not a qdense")
    K = wl.params["K"]
    unit = _tile_unit(exts)
    if tile is not None and unit is not None and K % unit.lanes == 0:
        return _qdense_tiled(wl, exts, unit, tuple(tile), chunk, asm)
    if unit is not None and K % unit.lanes == 0 and wl.params["M"] >= QDENSE_TILE_ROWS:
        return _qdense_tiled(wl, exts, unit, (4, 4), chunk, asm)
    if unit is not None and unit.accumulators and K % unit.lanes == 0 and wl.params["N"] * K >= MAC_ROW_MACS:
        # a row of outputs in the bank (the one-output schedule has no use for it); measured sine
        # (16 -> 16 and 16 -> 1 layers) 2,700 -> 809 cycles; xor's 8 -> 1 layer slower in the bank
        # (180 -> 193)
        return _qdense_tiled(wl, exts, unit, (1, unit.accumulators), chunk, asm)
    s = create_schedule(wl.output)
    # channels per iteration with a requantizing unit, so that their loads and CFU ops interleave, for
    # short rows only (the copies cost I-cache): measured sine 1,061 -> 812 cycles (4 at K = 16, all 16
    # at K = 1); kws's K = 64 layers slow down unrolled (whole model 6.89M -> 8.26M cycles)
    D = _requantized_output(s, wl, exts, _fit(wl.params["N"], max(1, UNROLL_ROW_BYTES // K)))
    (k,) = D.op.reduce_axis
    dot = _stateless_dot(exts)
    if dot is not None and K % dot.lanes == 0:  # word loads of X and W rows need K a multiple of the lanes
        ko, ki = D.split(k, dot.lanes)
        D.tensorize(ki, dot)
        if K // dot.lanes <= 16:
            D.unroll(ko)
    elif K <= 16:
        D.unroll(k)
    else:
        ko, ki = D.split(k, 4)
        D.unroll(ki)
    return s, wl.args


def pack_rows_weights_np(w: np.ndarray, lanes: int) -> np.ndarray:
    """The packed weight rows ``Wp[f, ry, l]`` of :func:`_qconv_rows_te` computed in numpy from the
    OHWI weights ``w`` ([F, KH, KW, C]): each window row's KW * C bytes, zero-filled to a multiple
    of ``lanes`` (the model compiler passes them as a constant instead of packing per inference)."""
    F, KH, KW, C = w.shape
    L = KW * C
    KX = -(-L // lanes) * lanes
    out = np.zeros((F, KH, KX), dtype=w.dtype)
    out[:, :, :L] = w.reshape(F, KH, L)
    return out


def _qconv_rows_te(wl, lanes: int, packed_weights: bool = False):
    """``qconv2d_nhwc`` over window rows packed to words (for channels that are not a multiple of
    the lanes, e.g. C = 1): the KW * C bytes of one window row are contiguous in NHWC but unaligned
    (a stride of 2 at C = 1 starts them at even bytes; rv32 has no misaligned word loads), so an
    im2col stage copies them to ``Col[b, y, x, ry, l]`` (l < KX, KX = KW * C rounded up to the lanes,
    zero beyond KW * C), a word-aligned row per window row and output pixel. The weights are packed
    the same way to ``Wp[f, ry, l]`` (zero beyond KW * C, so a padding lane adds 0; at C = 1 and KW a
    multiple of the lanes a plain copy of the OHWI rows, which the access checks cannot read as
    words in place: the lanes run along the KW axis of a [F, KH, KW, 1] tensor).

    With ``packed_weights`` ``Wp`` is a placeholder (an input the caller packs offline with
    :func:`pack_rows_weights_np`) instead of a stage reading the weights.

    Returns (Col, Wp, Acc, B, Y): the same requantized output as ``wl.output`` (the sum, the
    biased sum as a stage of its own, the requantize)."""
    p = wl.params
    N, C, F, KH, KW = p["N"], p["C"], p["F"], p["KH"], p["KW"]
    sh, sw = p["stride_h"], p["stride_w"]
    X, Wt, Bias, Mult, Shift = wl.inputs
    src = wl.stages.get("pad", X)
    Y0 = wl.output
    OH, OW = Y0.shape[1], Y0.shape[2]
    L = KW * C
    KX = -(-L // lanes) * lanes
    z8 = tir.const(0, "int8")

    def row(l):  # (rx, c) of the row's byte l
        return (l, 0) if C == 1 else (l // C, l % C)

    def at(b, yy, xx, l):
        rx, c = row(tir.min(l, L - 1) if KX != L else l)
        return src[b, yy, xx + rx, c]

    Col = tir.compute((N, OH, OW, KH, KX), lambda b, y, x, r, l: at(b, y * sh + r, x * sw, l) if KX == L else
                      tir.if_then_else(l < L, at(b, y * sh + r, x * sw, l), z8), name="Col")
    def wrow(f, r, l):
        rx, c = row(tir.min(l, L - 1) if KX != L else l)
        return Wt[f, r, rx, c]

    if packed_weights:
        Wp = tir.placeholder((F, KH, KX), Wt.dtype, name="Wp")
    else:
        Wp = tir.compute((F, KH, KX), lambda f, r, l: wrow(f, r, l) if KX == L else
                         tir.if_then_else(l < L, wrow(f, r, l), z8), name="Wp")
    ry, rl = tir.reduce_axis((0, KH), "ry"), tir.reduce_axis((0, KX), "rl")
    Acc = tir.compute((N, OH, OW, F), lambda b, y, x, f: tir.sum(
        Col[b, y, x, ry, rl].astype("int32") * Wp[f, ry, rl].astype("int32"), axis=[ry, rl]), name="acc")
    B = tir.compute(Acc.shape, lambda b, y, x, f: Acc[b, y, x, f] + Bias[f], name="biased")
    Y = tir.compute(Acc.shape, lambda b, y, x, f: tir.requantize(
        B[b, y, x, f], Mult[f], Shift[f], p["out_zero_point"], p["qmin"], p["qmax"], "int8"), name=Y0.op.name)
    return Col, Wp, Acc, B, Y


def _pixel_tile(s, Y, Acc, B, exts, tile) -> None:
    """The output stage of an NHWC convolution as a register tile of ``tile`` output pixels (along x)
    x channels, the tile's sums ``Acc`` computed at it; with a requantizing unit in ``exts`` each
    channel's multiplier and shift set once per tile (the bias stage ``B`` at the channel), then its
    pixels requantized by the unit; without one the bias inlined and the tile unrolled.

    rewrite:
      ``for x, f: Y = rq(B(Acc))  ->  for xo, fo: Acc tile; for fi: set(fi); for xi: Y = requant(Acc)``
    """
    OW, F = Y.shape[2], Y.shape[3]
    tx, tf = _fit(OW, tile[0]), _fit(F, tile[1])
    b, y, x, f = s[Y].op.axis
    xo, xi = s[Y].split(x, tx)
    fo, fi = s[Y].split(f, tf)
    s[Y].reorder(b, y, xo, fo, fi, xi)
    _requantized_tile(s, Y, Acc, B, exts, fo, fi, xi)


def _requantized_tile(s, Y, Acc, B, exts, at, chan, pix) -> None:
    """The output tile of ``Y`` at axis ``at``, its sums ``Acc`` computed there: with a requantizing
    unit in ``exts`` the bias stage ``B`` at the tile (unrolled), each channel ``chan`` (unrolled) then
    requantizing its ``pix`` outputs with the unit; without one the bias inlined and the tile unrolled.
    Shared by the tiled qdense (rows x channels) and the convolutions' pixel tiles."""
    rq = _requant_unit(exts)
    if rq is not None:
        s[B].compute_at(s[Y], at)
        for ax in s[B].op.axis:
            s[B].unroll(ax)
        s[Acc].compute_at(s[Y], at, through=s[B])
        s[Y].unroll(chan)
        s[Y].tensorize(pix, rq)
    else:
        s[B].compute_inline()
        s[Acc].compute_at(s[Y], at)
        s[Y].unroll(chan)
        s[Y].unroll(pix)


def _reduce_tile_on(s, Y, Acc, unit: TensorIntrin, window, xc, fc, lanes) -> None:
    """The tile's reduction onto ``unit``: an accumulator bank (mac4_i8) takes the whole tile at the
    ``window`` axis (read out once its window is done); a stateless dot takes each ``lanes`` step, the
    tile's pixels ``xc`` and channels ``fc`` unrolled and emitted in cfu_asm order."""
    if unit.accumulators:
        s[Acc].tensorize(window, unit)
        return
    s[Acc].unroll(xc)
    s[Acc].unroll(fc)
    s[Acc].tensorize(lanes, unit)
    s[Y].pragma(s[Y].leaf_iter_vars[0], "cfu_asm", 1)


#: most lane steps of a window (KH x KX / lanes) _qconv_rows emits straight-line per output tile
ROWS_STRAIGHT_STEPS = 16


def _qconv_rows(wl, exts, dot: TensorIntrin, tile=(4, 4), packed_weights: bool = False):
    """``qconv2d_nhwc`` with packed window rows (:func:`_qconv_rows_te`) as a register tile of
    ``tile`` output pixels x output channels: per lane step tx + tf words loaded for tx * tf dots,
    the window's lane steps straight-line (cfu_asm) when there are at most ROWS_STRAIGHT_STEPS of
    them (else one window row per iteration); with an accumulator-bank intrinsic (mac4_i8) the tile
    (at most its accumulators) is kept in the unit. The im2col rows are packed once at the root (OH * OW *
    KH * KX bytes, each row reused by every output channel). With a requantizing unit
    each channel's multiplier and shift are set once per tile, then its pixels requantized. With
    ``packed_weights`` the packed weight rows are the kernel's second argument in place of the
    weights (packed offline, :func:`pack_rows_weights_np`), not copied per call."""
    Col, Wp, Acc, B, Y = _qconv_rows_te(wl, dot.lanes, packed_weights)
    s = create_schedule(Y)
    if "pad" in wl.stages:
        _pad_copy(s, wl.stages["pad"])
    _pixel_tile(s, Y, Acc, B, exts, tile)
    s[Col].compute_root()
    if not packed_weights:
        s[Wp].compute_root()
    _, _, xc, fc = s[Acc].op.axis
    ry, rl = s[Acc].op.reduce_axis
    lo, li = s[Acc].split(rl, dot.lanes)
    s[Acc].reorder(ry, lo, xc, fc, li)
    if wl.params["KH"] * (Col.shape[4] // dot.lanes) <= (MAC_LANE_STEPS if dot.accumulators else ROWS_STRAIGHT_STEPS):
        s[Acc].unroll(ry)
    s[Acc].unroll(lo)
    _reduce_tile_on(s, Y, Acc, dot, ry, xc, fc, li)
    return s, _weights_arg(wl, Wp, packed_weights) + [Y]


def _weights_arg(wl, Wp, packed_weights: bool) -> list:
    """The kernel's inputs: ``wl.inputs`` with the weights (input 1) replaced by the packed
    placeholder ``Wp`` when they are packed offline."""
    args = list(wl.inputs)
    if packed_weights:
        args[1] = Wp
    return args


#: channels of the padded copy of an NHWC input copied per iteration (unrolled)
PAD_UNROLL = 64


def _pad_copy(s, P) -> None:
    """The padded copy of an NHWC input at the root, PAD_UNROLL channels per iteration: the pixel's
    in-image test is evaluated once for all of them (the C compiler does not unswitch it)."""
    s[P].compute_root()
    ch = s[P].op.axis[-1]
    u = _fit(P.shape[-1], PAD_UNROLL)
    if u > 1:
        _, ci = s[P].split(ch, u)
        s[P].unroll(ci)


def pack_dw_rows_weights_np(w: np.ndarray, lanes: int) -> np.ndarray:
    """The packed weight rows ``Wp[oc, ry, kx]`` of :func:`_qdw_rows_te` computed in numpy from the
    depthwise weights ``w`` ([1, KH, KW, C * M]): each output channel's window row, zero-filled from
    KW to a multiple of ``lanes``."""
    _, KH, KW, OC = w.shape
    KX = -(-KW // lanes) * lanes
    out = np.zeros((OC, KH, KX), dtype=w.dtype)
    out[:, :, :KW] = np.transpose(w[0], (2, 0, 1))
    return out


def _qdw_rows_te(wl, lanes: int, packed_weights: bool = False):
    """``qdepthwise_conv2d_nhwc`` over window rows packed to words: the KW taps of one window row of
    one channel lie C bytes apart in NHWC, so a packing stage gathers them, with the padding, into
    ``Ph[b, r, c, x, kx]`` = the padded input at row ``r``, column ``x * stride_w + kx``, channel ``c``
    (0 for kx >= KW; KX = KW rounded up to the lanes): one aligned word per window row, output
    column and channel, shared by the KH output rows that read padded row ``r`` (N * Hp * C * OW * KX
    bytes). It reads the padded copy of the input (a static array: the C compiler loads from it
    without a branch per byte; the in-image test of a gather from the input itself is evaluated per
    byte, measured 2.5x slower). The weights are packed to ``Wp[oc, ry, kx]`` (0 beyond KW, so a
    packing lane adds 0; with ``packed_weights`` a placeholder packed offline by
    :func:`pack_dw_rows_weights_np`). Returns (Ph, Wp, Acc, B, Y)."""
    p = wl.params
    N, C, M, KH, KW = (p[k] for k in ("N", "C", "depth_multiplier", "KH", "KW"))
    sh, sw = p["stride_h"], p["stride_w"]
    X, Wt, Bias, Mult, Shift = wl.inputs
    Y0 = wl.output
    OH, OW = Y0.shape[1], Y0.shape[2]
    KX = -(-KW // lanes) * lanes
    src = wl.stages.get("pad", X)
    Hp = src.shape[1]
    z8 = tir.const(0, "int8")

    def ph(b, r, c, x, kx):
        if KX == KW:
            return src[b, r, x * sw + kx, c]
        return tir.if_then_else(kx < KW, src[b, r, x * sw + tir.min(kx, KW - 1), c], z8)

    Ph = tir.compute((N, Hp, C, OW, KX), ph, name="Ph")
    if packed_weights:
        Wp = tir.placeholder((C * M, KH, KX), Wt.dtype, name="Wp")
    else:
        Wp = tir.compute((C * M, KH, KX), lambda oc, r, kx: Wt[0, r, kx, oc] if KX == KW else tir.if_then_else(
            kx < KW, Wt[0, r, tir.min(kx, KW - 1), oc], z8), name="Wp")
    ry, kx = tir.reduce_axis((0, KH), "ry"), tir.reduce_axis((0, KX), "kx")

    def channel(oc):
        return oc if M == 1 else oc // M

    Acc = tir.compute((N, OH, OW, C * M), lambda b, y, x, oc: tir.sum(
        Ph[b, y * sh + ry, channel(oc), x, kx].astype("int32") * Wp[oc, ry, kx].astype("int32"), axis=[ry, kx]),
        name="acc")
    B = tir.compute(Acc.shape, lambda b, y, x, f: Acc[b, y, x, f] + Bias[f], name="biased")
    Y = tir.compute(Acc.shape, lambda b, y, x, f: tir.requantize(
        B[b, y, x, f], Mult[f], Shift[f], p["out_zero_point"], p["qmin"], p["qmax"], "int8"), name=Y0.op.name)
    return Ph, Wp, Acc, B, Y


#: most bytes of the packed window rows of :func:`_qdw_rows` (a static array of the kernel)
DW_ROWS_BYTES = 24576


def _dw_rows_fit(wl, unit: TensorIntrin | None) -> bool:
    """Whether ``qconv`` takes :func:`_qdw_rows`: a depthwise layer at dilation 1 whose reduction is
    a plain product (no input offset left), its packed rows at most DW_ROWS_BYTES."""
    if unit is None or _op_name(wl) != "qdepthwise_conv2d_nhwc":
        return False
    p = wl.params
    Hp = p["H"] + p["pad_top"] + p["pad_bottom"]
    ph = p["N"] * Hp * p["C"] * wl.output.shape[2] * -(-p["KW"] // unit.lanes) * unit.lanes
    return (p["dilation_h"] == 1 and p["dilation_w"] == 1 and (p["fold_x_zero_point"] or p["x_zero_point"] == 0)
            and ph <= DW_ROWS_BYTES)


#: most bytes of one channel's packed row (OW * KX) :func:`_qdw_rows` packs straight-line
PH_UNROLL = 64


def _qdw_rows(wl, exts, unit: TensorIntrin, tile=(4, 1), packed_weights: bool = False):
    """``qdepthwise_conv2d_nhwc`` with packed window rows (:func:`_qdw_rows_te`): one dot per window
    row, a register tile of ``tile`` output pixels x channels (each channel's weight words loaded once
    per tile), the window straight-line (cfu_asm); with an accumulator-bank intrinsic (mac4_i8) the
    tile is kept in the unit. The rows are packed at the root, PAD_UNROLL channels per iteration;
    with a requantizing unit each channel's multiplier and shift are set once per tile, then its
    pixels requantized. Measured on kws's 20x4x64 3x3 layers (dot4_i8+requant_i8): 201k cycles
    (4x1), 200k (4x2), 234k (4x4), 255k (2x1); the scalar tile of :func:`_qdw_tiled` 298k; one
    channel's packed row straight-line (PH_UNROLL) 196k (4x1), gathering from the input itself
    with the in-image test instead of the padded copy 262k. With ``packed_weights`` the packed
    weight rows are the kernel's second argument (packed offline, :func:`pack_dw_rows_weights_np`)."""
    Ph, Wp, Acc, B, Y = _qdw_rows_te(wl, unit.lanes, packed_weights)
    s = create_schedule(Y)
    if "pad" in wl.stages:
        _pad_copy(s, wl.stages["pad"])
    s[Ph].compute_root()
    b, r, c, x, kx = s[Ph].op.axis
    if Ph.shape[3] * Ph.shape[4] <= PH_UNROLL:
        s[Ph].unroll(x)  # one channel's words of a row straight-line: each source byte loaded once
        s[Ph].unroll(kx)
    else:
        s[Ph].reorder(b, r, x, kx, c)
        u = _fit(Ph.shape[2], PAD_UNROLL)
        if u > 1:
            _, ci = s[Ph].split(c, u)
            s[Ph].unroll(ci)
    if not packed_weights:
        s[Wp].compute_root()
    _pixel_tile(s, Y, Acc, B, exts, tile)
    _, _, xc, fc = s[Acc].op.axis
    ry, kx = s[Acc].op.reduce_axis
    ko, ki = s[Acc].split(kx, unit.lanes)
    s[Acc].reorder(ry, ko, xc, fc, ki)
    s[Acc].unroll(ry)
    s[Acc].unroll(ko)
    _reduce_tile_on(s, Y, Acc, unit, ry, xc, fc, ki)
    return s, _weights_arg(wl, Wp, packed_weights) + [Y]


def _qdw_tiled(wl, exts, tile=(2, 1)):
    """``qdepthwise_conv2d_nhwc`` as a register tile of ``tile`` output pixels (along x) x channels,
    the whole window unrolled: neighbouring pixels share input columns, so the C compiler loads each
    input byte of a window row once per tile instead of once per tap (tx = 2, 3x3: 4 loads of a row
    for 6 taps), and each channel's weights once per tile. Measured on kws's 20x4x64 3x3 layers
    (cycles, none / dot4_i8+requant_i8): 1x1 714,921 / 475,827; 2x1 632,245 / 371,193; 4x1
    632,307 / 500,407; 2x2 - / 526,213; 1x4 - / 628,208 (larger tiles: zig hoists every product
    ahead of the adds and spills them). The padded copy of the input is kept
    (a folded input offset makes a padded tap add ``x_zero_point * w``, which the bias cancels). With a
    requantizing unit each channel's multiplier and shift are set once per tile, then its pixels
    requantized."""
    Y, Acc, B = wl.output, wl.stages["acc"], wl.stages["biased"]
    s = create_schedule(Y)
    if "pad" in wl.stages:
        _pad_copy(s, wl.stages["pad"])
    _pixel_tile(s, Y, Acc, B, exts, tile)
    _, _, xc, fc = s[Acc].op.axis
    ry, rx = s[Acc].op.reduce_axis
    s[Acc].reorder(ry, rx, xc, fc)
    for ax in (ry, rx, xc, fc):
        s[Acc].unroll(ax)
    return s, wl.args


def _rows_fit(wl, dot: TensorIntrin | None) -> bool:
    """Whether ``qconv`` takes :func:`_qconv_rows`: a ``qconv2d_nhwc`` at dilation 1 whose channels
    are not a multiple of the dot's lanes (else the channel loop is tensorized in place) and whose
    reduction is a plain product (no input offset left: folded into the bias, or zero point 0), its
    im2col buffer at most ROWS_COL_BYTES."""
    if dot is None or _op_name(wl) != "qconv2d_nhwc":
        return False
    p = wl.params
    _, OH, OW, _ = wl.output.shape
    col = p["N"] * OH * OW * p["KH"] * -(-p["KW"] * p["C"] // dot.lanes) * dot.lanes
    return (p["C"] % dot.lanes != 0 and p["dilation_h"] == 1 and p["dilation_w"] == 1
            and (p["fold_x_zero_point"] or p["x_zero_point"] == 0) and col <= ROWS_COL_BYTES)


#: most bytes of the im2col buffer of :func:`_qconv_rows` (a static array of the kernel)
ROWS_COL_BYTES = 16384


def _dw_tile_fits(wl) -> bool:
    """Whether ``qconv`` takes :func:`_qdw_tiled`: a window of at most DW_TILE_TAPS taps."""
    return wl.params["KH"] * wl.params["KW"] <= DW_TILE_TAPS


#: most taps of a depthwise window :func:`_qdw_tiled` unrolls (times the tile's outputs)
DW_TILE_TAPS = 25


def qconv(wl, exts=(), tile: tuple[int, int] | None = None, packed_weights: bool = False):
    """``qconv2d_nhwc`` / ``qdepthwise_conv2d_nhwc``: each output's window sum computed where it is
    requantized (no int32 intermediate tensor), the padded int8 copy of the input kept.

    With a stateless int8 dot (dot4_i8) or an int8 accumulator bank (mac4_i8) in ``exts``: a
    convolution whose channels are not a multiple of the lanes (kws's C = 1 first layer) over
    im2col window rows packed to words (:func:`_qconv_rows`), a depthwise layer over window rows
    gathered per channel (:func:`_qdw_rows`), both as 4-pixel register (or bank) tiles. A stateless dot
    tensorizes a convolution's channel loop in place when the channels are a multiple of its lanes.
    Without such a unit a depthwise layer is a 2x1 scalar tile (:func:`_qdw_tiled`). With a
    requantizing unit (requant_i8) the output stage is one ``requant`` op per element after loading
    that channel's multiplier and shift (once per channel of a tile).

    ``tile`` (output pixels, channels; ``schedules.autotune.qnn_templates``' knob) replaces the
    default tile of the row and tiled schedules (no effect on the plain one).

    ``packed_weights``: the row schedules take their weights pre-packed (the kernel's second
    argument is then the packed placeholder, whose numpy packing :func:`prepacked_weights` gives;
    for constant weights, e.g. the model compiler's); by default they pack them per call.
    """
    if _op_name(wl) not in ("qconv2d_nhwc", "qdepthwise_conv2d_nhwc"):
        raise ScheduleError(f"qconv schedule: workload {wl.name!r} is not a quantized convolution")
    dot = _stateless_dot(exts)
    unit = _tile_unit(exts)
    if _rows_fit(wl, unit):
        return _qconv_rows(wl, exts, unit, tuple(tile) if tile else (4, 4), packed_weights)
    if _dw_rows_fit(wl, unit) and _dw_tile_fits(wl):
        return _qdw_rows(wl, exts, unit, tuple(tile) if tile else (4, 1), packed_weights)
    if _op_name(wl) == "qdepthwise_conv2d_nhwc" and _dw_tile_fits(wl):
        return _qdw_tiled(wl, exts, *([tuple(tile)] if tile else []))
    s = create_schedule(wl.output)
    A = _requantized_output(s, wl, exts)  # (channels unrolled by 2 or 4 measured slower in the kws model)
    if _op_name(wl) == "qconv2d_nhwc" and dot is not None and wl.params["C"] % dot.lanes == 0:
        rco, rci = A.split(A.op.reduce_axis[-1], dot.lanes)
        A.tensorize(rci, dot)
    return s, wl.args


def prepacked_weights(wl, exts=()) -> dict[int, Callable[[np.ndarray], np.ndarray]]:
    """The inputs ``qconv(wl, exts, packed_weights=True)`` takes pre-packed: input index -> the numpy
    function from that input's array to the packed array the kernel reads in its place (empty when
    the schedule reads every input as given)."""
    if _op_name(wl) not in ("qconv2d_nhwc", "qdepthwise_conv2d_nhwc"):
        return {}
    unit = _tile_unit(exts)
    if _rows_fit(wl, unit):
        return {1: lambda w: pack_rows_weights_np(np.asarray(w).reshape(wl.inputs[1].shape), unit.lanes)}
    if _dw_rows_fit(wl, unit) and _dw_tile_fits(wl):
        return {1: lambda w: pack_dw_rows_weights_np(np.asarray(w).reshape(wl.inputs[1].shape), unit.lanes)}
    return {}


# ---------------------------------------------------------------------------------------------
# entry points


# the hand schedule family of each ops registry entry
HAND_KINDS = {"matmul": "matmul", "matmul_nt": "matmul", "conv2d_nhwc": "conv2d", "conv2d_nchw": "conv2d",
              "depthwise_conv2d_nchw": "depthwise", "dense": "dense"}


def _op_name(wl) -> str | None:
    """The registry name of the workload's operator (None when it is not a registry operator)."""
    op = ops.of(wl)
    return None if op is None else op.name


def _is_nt(wl) -> bool:
    return _op_name(wl) == "matmul_nt"


def _is_nhwc(wl) -> bool:
    return _op_name(wl) == "conv2d_nhwc"


def _kind(wl) -> str:
    """The hand schedule family of a workload, from its registry entry and attributes."""
    name = _op_name(wl)
    kind = HAND_KINDS.get(name)
    p = wl.params
    if kind == "dense" and not (p.get("bias") and p.get("relu")):
        raise ScheduleError(f"{wl.name}: the hand dense schedules need bias=True and relu=True "
                            f"(got bias={p.get('bias')}, relu={p.get('relu')})")
    if kind in ("conv2d", "depthwise") and p.get("dilation", 1) != 1:
        raise ScheduleError(f"{wl.name}: the hand convolution schedules need dilation 1, got {p['dilation']}")
    if kind == "depthwise" and p.get("weight_layout", "C1HW") != "C1HW":
        raise ScheduleError(f"{wl.name}: the hand depthwise schedules read weights [C, 1, KH, KW] (weight_layout "
                            f"C1HW), got {p['weight_layout']}")
    if kind is None:
        raise ScheduleError(f"no hand schedule for workload {wl.name!r} (operator {name!r}); hand schedules "
                            f"cover {', '.join(sorted(HAND_KINDS))}")
    return kind


def scalar_best(wl, tile=None, block: int | None = None, pack: bool | None = None):
    """A register-blocked schedule without extensions."""
    k = _kind(wl)
    if k == "matmul":
        return _matmul_scalar(wl, tile or (2, 4), block=block, pack=pack)
    if k == "conv2d":  # (output pixels, output channels), measured on the SoC
        return _conv_scalar(wl, tile or ((2, 4) if _is_nhwc(wl) else (4, 2)))
    if k == "depthwise":
        return _dw_scalar(wl, tile or 2)
    return _dense(wl, None, tile or (2, 2), kfactor=4)


def dot4(wl, ext="dot4_i8", tile=None, asm: bool = False, block: int | None = None, k_chunk: int | None = None,
         pack: bool | None = None):
    """The register tile with its lane loop tensorized by ``ext``'s stateless dot intrinsic.

    ``asm``: the rv32 emitter places the tile's loads, CFU ops and adds itself (pragma "cfu_asm" on
    the outermost loop); matmuls then also unroll the whole reduction (up to STRAIGHT_LANE_STEPS lane
    steps, else ``k_chunk`` steps of a rolled loop) of a 4x4 tile.
    """
    intrin = _intrin(ext, False)
    k = _kind(wl)
    if k == "matmul":
        # 4x2: measured best with zig at 32^3 and 64^3 in C order; 4x4 once the emitter orders the tile
        s, args = _matmul_tensorized(wl, intrin, tile or ((4, 4) if asm else (4, 2)), asm=asm, block=block,
                                     k_chunk=k_chunk, pack=pack)
    elif k == "conv2d":
        s, args = _conv_tensorized(wl, intrin, tile or (4, 4), asm=asm)
    elif k == "depthwise":
        s, args = _dw_tensorized(wl, intrin, tile or 4)
    elif wl.params["M"] == 1 and tile is None and asm:
        # batch 1 (measured 1x256 -> 64, cfu_asm: 0.479 MAC/cycle with 4x4 and one lane step per
        # iteration, 0.582 with 1x8 and 16; in C order 1x8 is slower than 4x4: 0.365 vs 0.479)
        s, args = _dense(wl, intrin, (1, _fit(wl.params["N"], 8)), k_steps=_fit(wl.params["K"] // intrin.lanes, 16))
    else:
        s, args = _dense(wl, intrin, tile or (4, 4))
    if asm:
        out = s[args[-1]]
        out.pragma(out.leaf_iter_vars[0], "cfu_asm", 1)
    return s, args


def dot4_asm(wl, ext="dot4_i8", tile=None):
    """``dot4`` with the emitter placing the CFU instructions (``asm=True``)."""
    return dot4(wl, ext, tile, asm=True)


def mac4(wl, ext="mac4_i8", tile=None, block: int | None = None, pack: bool | None = None):
    """The output tile (at most the unit's accumulators) kept in ``ext``'s accumulator bank."""
    intrin = _intrin(ext, True)
    k = _kind(wl)
    if k == "matmul":
        return _matmul_tensorized(wl, intrin, tile or (4, 4), block=block, pack=pack)
    if k == "conv2d":
        return _conv_tensorized(wl, intrin, tile or (4, 4))
    if k == "depthwise":
        return _dw_tensorized(wl, intrin, tile or 4)
    if wl.params["M"] == 1 and tile is None:
        # batch 1: one row of outputs, the weights streamed once (measured 1x256 -> 64: 0.584 MAC/cycle
        # with 4x4 and one lane step per iteration, 0.609 with 1x8 and four)
        return _dense(wl, intrin, (1, _fit(wl.params["N"], 8)), k_steps=4)
    return _dense(wl, intrin, tile or (4, 4))


#: operand words a CFU block of the stationary dense loads ahead (pragma cfu_words): measured on
#: 1x256 -> 64 with a 16 x 64 unit (zig, streamed): 12 / 16 / 18 / 20 / 22 / 26 words 16,548 /
#: 16,436 / 16,388 / 16,356 / 16,374 / 16,458 cycles (the load ops take two words each; longer runs
#: of lw then CFU ops cost less per op, until the block's words no longer fit the registers)
STATIONARY_WORDS = 20


def stationary(wl, ext, k_block: int | None = None, words: int = STATIONARY_WORDS, stream: bool | None = None):
    """dense+bias+relu on an operand-stationary unit (``isa_ext.fam_stationary``, a ``"rows"``
    intrinsic): ``for jo (columns / cols): for ko (K / k_block): [load the cols x k_block weight
    tile; per row k_block/8 macs, cols reads added into the product]``, then bias and relu per
    output. ``k_block``: the reduction block (default: the unit's k, or the largest multiple of 8
    dividing K below it); ``words``: operand words per CFU block (pragma cfu_words; the load ops
    take two words each); ``stream`` (default: batch 1 with K longer than a block): the whole K in
    the unit's nest (``stream_intrinsic``: the blocks a rolled loop inside it, the accumulators
    summing across them, one read per column) instead of the block loop outside the unit, whose
    every block reads and adds its partial sums.

    The weights stream through the unit once (each weight byte is used once at batch 1), so the
    kernel is bound by moving them: two lw and one 2-cycle CFU op per 8 weight bytes plus the
    D-cache refill of every line of W (benchmarks/vexriscv_kernels.py --memory, dense row)."""
    from isa_ext.fam_stationary import rows_intrinsic, stationary_params, stream_intrinsic

    e = isa_ext.get(ext) if isinstance(ext, str) else ext
    params = stationary_params(e)
    if params is None:
        raise ScheduleError(f"extension {getattr(e, 'name', e)!r} is not an operand-stationary unit "
                            "(isa_ext.fam_stationary)")
    if _kind(wl) != "dense":
        raise ScheduleError(f"{wl.name}: the hand stationary schedule covers dense+bias+relu only")
    cols, kmax = params
    p = wl.params
    N, K = p["N"], p["K"]
    if K % 8 or N % cols:
        raise ScheduleError(f"{wl.name}: K = {K} must be a multiple of 8 and N = {N} of the unit's {cols} "
                            "columns")
    if k_block is None:
        k_block = max(b for b in range(8, min(kmax, K) + 1, 8) if K % b == 0)
    if K % k_block:
        raise ScheduleError(f"{wl.name}: k_block {k_block} does not divide K = {K}")
    R = wl.output
    D, DB = wl.stages["dense"], wl.stages["bias"]
    s = create_schedule(R)
    s[DB].compute_inline()
    if stream is None:
        stream = p["M"] == 1 and K > k_block
    if stream:
        # the product of one column block computed at the output's column block: bias and relu take
        # the unit's reads from registers (measured 1x256 -> 64, 16 words: 16,436 cycles, 17,159 with
        # the product stored to a buffer and read back by a loop of its own)
        s[D].compute_at(s[R], _stationary_out_block(s, R, cols, words))
        i, j = s[D].op.axis
        s[D].reorder(i, j, s[D].op.reduce_axis[0])
        s[D].tensorize(i, stream_intrinsic(e, k_block, K // k_block))
        return s, wl.args
    i, j = s[D].op.axis
    jo, ji = s[D].split(j, cols)
    ko, ki = s[D].split(s[D].op.reduce_axis[0], k_block)
    s[D].reorder(jo, ko, i, ji, ki)
    s[D].tensorize(i, rows_intrinsic(e, k_block))
    if words:
        s[D].pragma(jo, "cfu_words", words)
    return s, wl.args


def _stationary_out_block(s, R, cols: int, words: int):
    """Split the output stage's column axis into blocks of the unit's ``cols`` columns (the inner
    loop unrolled, the pragma cfu_words on the block loop); returns the block loop."""
    _, rj = s[R].op.axis
    rjo, rji = s[R].split(rj, cols)
    s[R].unroll(rji)
    if words:
        s[R].pragma(rjo, "cfu_words", words)
    return rjo


SCHEDULES = {"naive": naive, "scalar": scalar_best, "dot4": dot4, "dot4_asm": dot4_asm, "mac4": mac4}


__all__ = ["HAND_KINDS", "SCHEDULES", "conv2d_nhwc_ohwi", "dot4", "dot4_asm", "mac4", "matmul_nt", "naive",
           "qconv", "qdense", "scalar_best", "stationary"]
