"""Schedules for operand-stationary units (intrinsic pattern ``"rows"``): the space of matmul_i8,
dense_i8 and conv2d_nhwc_i8 when their ``exts`` hold such a unit.

A stationary unit holds a tile of ``cols`` weight columns over a block of ``kb`` reduction steps and
runs every row of the other operand past it (see isa_ext.fam_stationary). The schedule is

    for jo in N / cols:                    # a block of columns (weights loaded once per row block)
      for ko in K / kb:                    # a block of the reduction (partial sums added into C)
        for i in rows:                     # tensorized: load W[jo, ko]; per row k/8 macs, cols reads
          C[i, jo*cols : +cols] (+)= A[i, ko*kb : +kb] . W[jo*cols : +cols, ko*kb : +kb]

with the knobs

* ``k_block``  the reduction block ``kb`` (a multiple of 8 up to the unit's k): the largest that fits
               (a scalar tail when it does not divide K) or the largest that divides K (no tail);
* ``rows``     rows per row block (all of them, or a divisor of the row count): the row-block loop
               goes outermost, so that block of A stays in the D-cache across the column blocks;
* ``order``    ``"nk"`` column blocks outside reduction blocks, ``"kn"`` the other way round;
* ``unroll``   rows per iteration of the row loop (1, or 2 unrolled when the row count is even);
* ``compiler`` the cross compiler and flags of the target.

Tails: N not a multiple of ``cols`` and K not a multiple of ``kb`` are partitioned by the splits'
AUTO tail strategy (docs/tails.md): full tiles on the unit, the remainders in scalar code. Shapes the
unit cannot take (K under 8 steps, rows of A not word-aligned: K % 4 != 0, fewer than ``cols``
columns) are refused by
:func:`plan`, and the template then offers nothing of the unit (its scalar space only).

For a convolution (NHWC, weights OHWI) the rows are the output pixels (n, y, x), the columns the
filters and the reduction the channels; the kernel window's taps (ry, rx) are reduction loops
outside the unit, each a pass whose reads are added into the output.

A convolution whose channels are not word-aligned (C % 4 != 0, e.g. C = 1 of a first layer) has no
such form; :func:`conv2d_nhwc_i8_packed` runs it on packed window rows instead
(:func:`window_rows_te`, an im2col: the KH x KW x C bytes of each output pixel's window copied to one
word-aligned row, zero-filled to a multiple of 8), so the unit's reduction is the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass

import isa_ext
import ops
import schedules
import tir

from .space import get_config

K_STEP = 8  # int8 elements of the other operand per op of a stationary unit (two words)
ROW_BLOCKS = (8, 16, 32)  # row-block sizes offered besides "all rows" (divisors of the row count only)


@dataclass(frozen=True)
class RowsPlan:
    """What :func:`plan` decided: ``ext`` the stationary unit to schedule for (None: none offered),
    ``rest`` the exts string without any rows-pattern extension (what the template offers otherwise),
    ``why`` why a rows unit named in exts is not offered (empty when it is, or none was named)."""

    ext: object
    rest: str
    why: str = ""


def _ext(axis) -> int:
    e = axis.dom.extent
    return int(getattr(e, "value", e))


def _is_rows(ext) -> bool:
    return any(getattr(t, "facts", None) is not None and t.facts.pattern == "rows" for t in ext.intrinsics)


def unit_shape(ext) -> tuple[int, int]:
    """(cols, k) of a rows-pattern extension: from the stationary family's record, else from its
    (first) rows intrinsic's description (columns x reduction extent)."""
    from isa_ext.fam_stationary import stationary_params

    p = stationary_params(ext)
    if p is not None:
        return p
    t = next(t for t in ext.intrinsics if t.facts.pattern == "rows")
    (cols,) = [int(d) for d in t.desc.shape]
    k = _ext(t.desc.op.reduce_axis[0])
    return cols, k


def rows_intrinsic(ext, kb: int):
    """The rows intrinsic of ``ext`` for a reduction block of ``kb`` steps."""
    from isa_ext.fam_stationary import rows_intrinsic as family_intrinsic
    from isa_ext.fam_stationary import stationary_params

    if stationary_params(ext) is not None:
        return family_intrinsic(ext, kb)
    t = next(t for t in ext.intrinsics if t.facts.pattern == "rows")
    _, k = unit_shape(ext)
    if kb != k:
        raise schedules.ScheduleError(f"extension {ext.name!r}: its rows intrinsic takes a reduction of {k} "
                                      f"steps, not {kb}")
    return t


def k_blocks(ext, K: int) -> list[int]:
    """The ``k_block`` choices for a reduction of K steps (empty: the unit cannot take it)."""
    from isa_ext.fam_stationary import stationary_params

    _, k = unit_shape(ext)
    if stationary_params(ext) is None:  # a foreign rows unit: its one reduction length
        return [k] if K >= k else []
    fit = min(k, K) // K_STEP * K_STEP
    if fit < K_STEP:
        return []
    out = [fit]
    exact = [b for b in range(fit, K_STEP - 1, -K_STEP) if K % b == 0]
    if exact and exact[0] != fit:
        out.append(exact[0])
    return out


def plan(exts: str, K: int, N: int) -> RowsPlan:
    """The first rows unit of ``exts`` (a registered extension whose intrinsic pattern is "rows") that
    a reduction of K steps over N columns suits, and the exts without rows units."""
    names = [x.strip() for x in (exts or "").split(",") if x.strip()]
    rows = [n for n in names if n in isa_ext.names() and _is_rows(isa_ext.get(n))]  # (an unknown name stays
    # in rest: the template's own error for it is unchanged)
    rest = ",".join(n for n in names if n not in rows)
    if not rows:
        return RowsPlan(None, rest)
    if K % 4:
        return RowsPlan(None, rest, f"axis K = {K}: the rows of the operands are not word-aligned (K % 4 != 0)")
    # the first rows unit that suits the shape (a CFU may hold several, e.g. a wide one for the big
    # layers and a narrow one for a layer of few columns)
    why = ""
    for name in rows:
        ext = isa_ext.get(name)
        cols, _ = unit_shape(ext)
        if not k_blocks(ext, K):
            why = why or f"axis K = {K}: shorter than the unit's reduction block"
        elif N < cols:
            why = why or f"axis N = {N}: fewer columns than the unit's {cols}"
        else:
            return RowsPlan(ext, rest)
    return RowsPlan(None, rest, why)


def _divisor_blocks(n: int) -> list[int]:
    return [n] + [b for b in ROW_BLOCKS if b < n and n % b == 0]


def _schedule_rows(cfg, s, out, ext, rows: list, col, red, outer_reduce=()):
    """The stationary schedule of stage ``out`` (see the module docstring): ``rows`` its data axes of
    rows (outermost first), ``col`` its column axis, ``red`` the reduction axis the unit runs along,
    ``outer_reduce`` other reduction axes (run outside the unit)."""
    cols, _ = unit_shape(ext)
    st = s[out]
    K = _ext(red)
    cfg.define_knob("k_block", k_blocks(ext, K))
    # a row block splits the innermost row axis only (the other row axes stay in the nest)
    inner_rows = _ext(rows[-1])
    cfg.define_knob("rows", _divisor_blocks(inner_rows))
    cfg.define_knob("order", ["nk", "kn"])
    kb, rb, order = cfg["k_block"].val, cfg["rows"].val, cfg["order"].val
    jo, ji = st.split(col, factor=cols)
    if kb < K:
        ko, ki = st.split(red, factor=kb)
        kos = [ko]
    else:
        ki, kos = red, []
    row_axes = list(rows)
    blocks = []
    if rb < inner_rows:
        ro, ri = st.split(rows[-1], factor=rb)
        blocks = [*row_axes[:-1], ro]
        row_axes = [ri]
    # rows per iteration of the row loop (unrolled): the compiler overlaps one row's loads of A with
    # the other's CFU ops
    last = rb if rb < inner_rows else inner_rows
    cfg.define_knob("unroll", [1, 2] if last % 2 == 0 else [1])
    unroll_inner = None
    if cfg["unroll"].val > 1:
        rio, unroll_inner = st.split(row_axes[-1], factor=cfg["unroll"].val)
        row_axes = [*row_axes[:-1], rio, unroll_inner]
    blocked = [jo, *outer_reduce, *kos] if order == "nk" else [*outer_reduce, *kos, jo]
    st.reorder(*blocks, *blocked, *row_axes, ji, ki)
    if unroll_inner is not None:
        st.unroll(unroll_inner)
    st.tensorize(row_axes[0], rows_intrinsic(ext, kb))
    cfg.define_knob("compiler", list(cfg.compilers))


def matmul_i8(ext, M: int, N: int, K: int):
    """matmul_i8's stationary space: C[M, N] = A[M, K] x Bt[N, K]^T, rows = M, columns = N."""
    wl = ops.get("matmul_nt")(M, N, K)
    (A, Bt), C = wl.inputs, wl.output
    s = schedules.create_schedule(C)
    i, j = C.op.axis
    _schedule_rows(get_config(), s, C, ext, [i], j, C.op.reduce_axis[0])
    return s, [A, Bt, C]


def dense_i8(ext, M: int, N: int, K: int):
    """dense_i8's stationary space: the product into a local block of ``cols`` columns per column block
    of Y (computed there), then Y = block + bias."""
    wl = ops.get("dense")(M, N, K, bias=True)
    (X, W, Bias), D, Y = wl.inputs, wl["dense"], wl.output
    s = schedules.create_schedule(Y)
    cfg = get_config()
    # the bias add is elementwise; the product stage D is the unit's (materialized, not inlined)
    i, j = D.op.axis
    _schedule_rows(cfg, s, D, ext, [i], j, D.op.reduce_axis[0])
    return s, [X, W, Bias, Y]


def conv2d_nhwc_i8(ext, N, H, W, C, F, KH, KW=None, stride=1, pad=0):
    """conv2d_nhwc_i8's stationary space (weights OHWI): rows = output pixels (n, y, x), columns =
    filters, the unit along the channels; the window taps run outside the unit."""
    wl = ops.get("conv2d_nhwc")(N, H, W, C, F, KH, KW, stride, pad, weight_layout="OHWI")
    (A, Wt), Out = wl.inputs, wl.output
    s = schedules.create_schedule(Out)
    n, y, x, f = Out.op.axis
    ry, rx, rc = Out.op.reduce_axis
    _schedule_rows(get_config(), s, Out, ext, [n, y, x], f, rc, outer_reduce=(ry, rx))
    return s, [A, Wt, Out]


def packed_window_k(C: int, KH: int, KW: int, block: int = K_STEP) -> int:
    """The reduction length of packed window rows: KH * KW * C rounded up to the unit's 8-byte step,
    and, when that is longer than ``block`` (a unit's reduction), up to a multiple of ``block`` (zero
    lanes are cheaper than a scalar tail or passes of short blocks)."""
    k = -(-(KH * KW * C) // K_STEP) * K_STEP
    return k if k <= block else -(-k // block) * block


def window_rows_te(N, H, W, C, F, KH, KW=None, stride=1, pad=0, k_total: int | None = None):
    """``conv2d_nhwc`` (weights OHWI) over packed window rows: ``Col[n, y, x, k]`` the window of output
    pixel (y, x) flattened in (ry, rx, c) order (OHWI's order), zero for k >= KH * KW * C, and
    ``Wp[f, k]`` the weights flattened the same way; ``Out[n, y, x, f] = sum_k Col * Wp`` equals the
    registry operator's output (the padding lanes add 0).

    Why: the rv32 core has no misaligned word loads, and the bytes of a window row at C = 1 and an even
    stride start at any even byte, so the lanes of a unit cannot read them in place; a copy per
    output pixel (KH * KW * C bytes, each reused by every filter) makes them aligned words.

    ``k_total``: the packed length (default :func:`packed_window_k`; at least KH * KW * C, a multiple of 4).
    Returns (A, Wt, Col, Wp, Out, P) with ``P`` the padding stage (None without padding)."""
    KW = KW or KH
    wl = ops.get("conv2d_nhwc")(N, H, W, C, F, KH, KW, stride, pad, weight_layout="OHWI")
    (A, Wt), ref = wl.inputs, wl.output
    P = wl.stages.get("pad")
    src = A if P is None else P
    OH, OW = int(ref.shape[1]), int(ref.shape[2])
    L = KH * KW * C
    Kp = packed_window_k(C, KH, KW) if k_total is None else int(k_total)
    if Kp < L or Kp % 4:
        raise schedules.ScheduleError(f"packed window rows of {Kp} bytes: need a multiple of 4 of at least {L}")
    z8 = tir.const(0, "int8")

    def tap(k):  # (ry, rx, c) of byte k of a window row, clamped into the window for the padding lanes
        k = tir.min(k, L - 1) if Kp != L else k
        return (k // (KW * C), (k // C) % KW, k % C) if C > 1 else (k // KW, k % KW, 0)

    def col(b, y, x, k):
        ry, rx, c = tap(k)
        v = src[b, y * stride + ry, x * stride + rx, c]
        return v if Kp == L else tir.if_then_else(k < L, v, z8)

    def wrow(f, k):
        ry, rx, c = tap(k)
        v = Wt[f, ry, rx, c]
        return v if Kp == L else tir.if_then_else(k < L, v, z8)

    Col = tir.compute((N, OH, OW, Kp), col, name="Col")
    Wp = tir.compute((F, Kp), wrow, name="Wp")
    rk = tir.reduce_axis((0, Kp), name="rk")
    Out = tir.compute((N, OH, OW, F), lambda b, y, x, f: tir.sum(
        Col[b, y, x, rk].astype("int32") * Wp[f, rk].astype("int32"), axis=rk), name=ref.op.name)
    return A, Wt, Col, Wp, Out, P


PACK_UNROLL = 64  # a packed window row of at most this many bytes is copied straight-line


def schedule_packing(s, Col, Wp, P=None) -> None:
    """The packing stages of :func:`window_rows_te` at the root, each row's copy straight-line when it
    is short (constant offsets: no index arithmetic per byte)."""
    if P is not None:
        s[P].compute_root()
    for t in (Col, Wp):
        s[t].compute_root()
        k = s[t].op.axis[-1]
        if _ext(k) <= PACK_UNROLL:
            s[t].unroll(k)


def conv2d_nhwc_i8_packed(ext, N, H, W, C, F, KH, KW=None, stride=1, pad=0):
    """conv2d_nhwc_i8's stationary space on packed window rows (:func:`window_rows_te`): rows = output
    pixels, columns = filters, the unit along the whole window (KH * KW * C, padded to 8)."""
    KW = KW or KH
    A, Wt, Col, Wp, Out, P = window_rows_te(N, H, W, C, F, KH, KW, stride, pad,
                                            packed_window_k(C, KH, KW, unit_shape(ext)[1]))
    s = schedules.create_schedule(Out)
    schedule_packing(s, Col, Wp, P)
    n, y, x, f = Out.op.axis
    _schedule_rows(get_config(), s, Out, ext, [n, y, x], f, Out.op.reduce_axis[0])
    return s, [A, Wt, Out]


__all__ = ["PACK_UNROLL", "ROW_BLOCKS", "RowsPlan", "conv2d_nhwc_i8", "conv2d_nhwc_i8_packed", "dense_i8", "k_blocks",
           "matmul_i8", "packed_window_k", "plan", "rows_intrinsic", "schedule_packing", "unit_shape",
           "window_rows_te"]
