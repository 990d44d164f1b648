"""Kernels without a tuned template: a fixed default schedule of an ``ops`` registry operator.

Stages such as requantize, average pool or max pool have no register-blocked template. The search
still measures them on the SoC (and checks them against numpy) through one generic template,
``isa_search.stage``, whose args are the operator name and its attributes as JSON text: the
schedule is ``schedules.create_schedule`` of the operator's output (every stage at its default
place), and the space holds only the compiler knob and, for elementwise operators
(``ELEMENTWISE_OPS``: ``requantize``, ``add``, ``sub``, ``mul``, ``relu``, ``clamp``), an ``unroll``
knob (1, 4 or 8 elements per iteration of the innermost loop, those dividing it) and a ``tensorize``
knob over the extensions in ``exts`` whose intrinsic declares the ``"elementwise"`` pattern
(``requant_i8``, the ``fused`` family's ops), tensorizing the innermost output axis: a one-element
unit at the loop around the unrolled elements, a unit of 4 byte lanes (a SIMD add or relu) at an
inner axis of 4 elements split off it. :func:`elementwise_fits` says whether a unit computes a stage.

An int8 average pool (``avg_pool2d``, NCHW: the window's rows run along W) also gets a ``tensorize``
knob (after ``compiler``, so older records load as its first choice, None) over the extensions whose
stateless lane-reduce intrinsic (a dot product such as ``dot4_i8``) fits the window rows: lanes dividing
kw, and every row's words aligned (W a multiple of the lanes; one output column, or a stride of whole
words). A tensorized config sums each window row's words with the unit against a word of ones (stage
``ones``): one instruction adds ``lanes`` inputs, a SIMD add for pooling with no unit of its own. Its
``window_acc`` knob (also added) keeps one output's sum in memory (the default schedule) or in a
register with the window unrolled, for scalar and tensorized configs alike (kws's global 20x4 pool
over 64 channels: 18,357 / 15,681 cycles scalar, 8,147 with dot4_i8 and a register sum).
"""

from __future__ import annotations

import json

import isa_ext
import ops
import schedules
import tir
from schedules.autotune import get_config, template
from schedules.autotune.space import ConfigEntity

STAGE_TEMPLATE = "isa_search.stage"
# operators whose output stage an elementwise intrinsic (pattern "elementwise") may tensorize
ELEMENTWISE_OPS = ("requantize", "add", "sub", "mul", "relu", "clamp")
ELEMENTWISE_UNROLL = (4, 8)  # the ``unroll`` knob of an elementwise stage (besides 1), dividing its inner axis
# operators whose window sum a lane-reduce intrinsic may tensorize (its second operand a word of ones)
WINDOW_SUM_OPS = ("avg_pool2d",)
# the window_acc knob of a window sum: the default schedule's sum in memory, or one output's sum in a
# register with the window unrolled (first choice: the schedule before the knob existed)
WINDOW_ACCS = ("memory", "register")
WINDOW_UNROLL_ROWS = 32  # window rows unrolled at most ("register")


def stage_args(op_name: str, **attrs) -> tuple[str, str]:
    """The template args of operator ``op_name`` at ``attrs`` (a stable JSON text of the attributes)."""
    ops.get(op_name)  # raises OpError naming the operator when it is unknown
    norm = {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}
    return op_name, json.dumps(norm, sort_keys=True, separators=(",", ":"))


def _attrs(attrs_json: str) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(attrs_json).items()}


def _elementwise_lanes(ext) -> list[int]:
    """The lanes (elements per call) of the Extension ``ext``'s elementwise intrinsics (pattern
    "elementwise")."""
    return [max(1, t.facts.lanes) for t in ext.intrinsics
            if getattr(t, "facts", None) is not None and t.facts.pattern == "elementwise"]


def _lanes_of(ext, n: int) -> int:
    """The most elements per call among ``ext``'s elementwise intrinsics that divide ``n`` (0: none)."""
    return max((k for k in _elementwise_lanes(ext) if n % k == 0), default=0)


def _elementwise_exts(exts: str, n: int) -> list:
    """The extensions of ``exts`` (names) with an elementwise intrinsic whose lanes divide ``n`` (the
    stage's innermost extent)."""
    out = []
    for name in (x.strip() for x in exts.split(",")):
        if not name:
            continue
        ext = isa_ext.get(name)
        if _lanes_of(ext, n):
            out.append(ext)
    return out


def _elementwise_schedule(s, out, u: int, ext) -> None:
    """The stage ``out``'s innermost axis ``u`` elements per iteration (unrolled), tensorized with ``ext``
    (None: not): a one-element unit at the rolled loop around the unrolled elements; a unit of L lanes
    on an inner axis of L elements split off (the L-element groups of an iteration unrolled), tensorized
    at the rolled loop too, so that a unit's parameters are set once before it."""
    inner = out.op.axis[-1]
    n = int(getattr(inner.dom.extent, "value", inner.dom.extent))
    lanes = _lanes_of(ext, n) if ext is not None else 1
    at = inner
    if lanes > 1:
        at, _ = s[out].split(inner, factor=lanes)
        if u > lanes:
            at, gi = s[out].split(at, factor=u // lanes)
            s[out].unroll(gi)
    elif u > 1:
        at, ui = s[out].split(inner, factor=u)
        s[out].unroll(ui)
    if ext is not None:
        s[out].tensorize(at, ext)  # the unit's nest: the rolled loop around the unrolled elements


def elementwise_fits(op_name: str, attrs_json: str, ext) -> bool:
    """Whether the Extension ``ext`` can compute the elementwise stage kernel of ``op_name`` at
    ``attrs_json`` (:func:`stage_args`): the stage's default schedule tensorized with it lowers."""
    if op_name not in ELEMENTWISE_OPS or not _elementwise_lanes(ext):
        return False
    wl = ops.get(op_name)(**_attrs(attrs_json))
    inner = wl.output.op.axis[-1]
    if not _lanes_of(ext, int(getattr(inner.dom.extent, "value", inner.dom.extent))):
        return False
    s = schedules.create_schedule(wl.output)
    try:
        _elementwise_schedule(s, wl.output, 1, ext)
        tir.lower(s, list(wl.args))
    except (tir.TirError, isa_ext.ExtensionError):
        return False
    return True


def _stage_reference(*arrays, args):
    op_name, attrs_json = args[0], args[1]
    return ops.get(op_name).reference(*arrays, **_attrs(attrs_json))


def _window_sum_intrinsic(attrs: dict, ext):
    """The lane-reduce intrinsic of the Extension ``ext`` that fits the window rows of the average pool
    of ``attrs`` (module docstring), or None."""
    from schedules.autotune.templates import lane_reduce_intrinsic

    if attrs["dtype"] != "int8":
        return None
    W, kw, stride = attrs["W"], attrs["kw"], attrs["stride"]
    t = lane_reduce_intrinsic(ext, kw)
    if t is None:
        return None
    nl = t.facts.lanes or t.lanes
    # every window row's words aligned: rows of whole words, windows a whole number of words apart
    return t if W % nl == 0 and ((W - kw) // stride + 1 == 1 or stride % nl == 0) else None


def _window_sum_intrinsics(attrs: dict, exts: str) -> list:
    """The intrinsics of the extensions ``exts`` (names) that fit an average pool's window rows."""
    found = (_window_sum_intrinsic(attrs, isa_ext.get(n.strip())) for n in exts.split(",") if n.strip())
    return [t for t in found if t is not None]


def sums_windows_with(op_name: str, attrs_json: str, ext) -> bool:
    """Whether the stage kernel of ``op_name`` at ``attrs_json`` (:func:`stage_args`) can sum its windows
    with the Extension ``ext`` (an average pool whose rows fit a lane-reduce intrinsic of it)."""
    if op_name not in WINDOW_SUM_OPS:
        return False
    return _window_sum_intrinsic(ops.get(op_name).resolve(**_attrs(attrs_json)), ext) is not None


def _window_sum_te(attrs: dict, A):
    """The average pool of ``attrs`` over input ``A`` with its window sum written as a dot product of
    each window row with a row of ones (stage ``ones``): the same values, a lane-reduce nest."""
    kh, kw, stride = attrs["kh"], attrs["kw"], attrs["stride"]
    N, C, H, W = A.shape
    ones = tir.compute((kw,), lambda x: tir.const(1, A.dtype), name="ones")
    ry, rx = tir.reduce_axis((0, kh), "ry"), tir.reduce_axis((0, kw), "rx")
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    S = tir.compute((N, C, oh, ow), lambda b, c, y, x: tir.sum(
        A[b, c, y * stride + ry, x * stride + rx].astype("int32") * ones[rx].astype("int32"), axis=[ry, rx]),
        name="sum")
    return S, tir.compute(S.shape, lambda b, c, y, x: S[b, c, y, x] // (kh * kw), name="avgpool")


@template(STAGE_TEMPLATE, reference=_stage_reference)
def stage(op_name, attrs_json, exts=""):
    """The operator's default schedule; knobs: ``tensorize`` (elementwise operators, average pools) and
    ``compiler``."""
    op = ops.get(op_name)
    attrs = op.resolve(**_attrs(attrs_json))
    wl = op(**_attrs(attrs_json))
    out = wl.output
    cfg = get_config()
    window = _window_sum_intrinsics(attrs, exts) if op_name in WINDOW_SUM_OPS else []
    tens_at = None
    if window and isinstance(cfg, ConfigEntity) and cfg["tensorize"].name is not None:
        S, out = _window_sum_te(attrs, wl.inputs[0])
        nl = next(t.facts.lanes or t.lanes for t in window if t.extension.name == cfg["tensorize"].name)
        tens_at = (S, nl)
    s = schedules.create_schedule(out)
    if op_name in ELEMENTWISE_OPS:
        inner = out.op.axis[-1]
        n = int(getattr(inner.dom.extent, "value", inner.dom.extent))
        # elements per iteration of the innermost loop (unrolled): the loop's add and branch, and the
        # load-use stall of each element's CFU op, are shared by several elements
        cfg.define_knob("unroll", [1] + [u for u in ELEMENTWISE_UNROLL if u < n and n % u == 0])
        cfg.define_tensorize("tensorize", inner, _elementwise_exts(exts, n))
        _elementwise_schedule(s, out, cfg["unroll"].val, cfg["tensorize"].extension)
    cfg.define_knob("compiler", list(cfg.compilers))
    if op_name in WINDOW_SUM_OPS:  # (added after the records of the compiler-only space)
        cfg.define_tensorize("tensorize", None, [t.extension.name for t in window], added=True)
        cfg.define_knob("window_acc", list(WINDOW_ACCS), added=True)
        _window_sum_schedule(s, cfg, out, *(tens_at or (wl.stages["sum"], 0)))
        return s, [*wl.inputs, out]
    return s, list(wl.args)


def _window_sum_schedule(s, cfg, out, S, lanes: int) -> None:
    """An average pool's window sum ``S`` (read by ``out``): with ``lanes`` (a tensorized config) the
    window rows' words summed by the chosen intrinsic; with ``window_acc`` "register" the sum of one
    output accumulated in a local (cache_write computed at the output's innermost axis, so the C
    compiler keeps it in a register instead of loading and storing it per step) and the window loops
    unrolled (a row always, the rows up to WINDOW_UNROLL_ROWS)."""
    acc = S
    if cfg["window_acc"].val == "register":
        acc = s.cache_write(S, "local")
        s[S].compute_inline()
        s[acc].compute_at(s[out], out.op.axis[-1])
    ry, rx = acc.op.reduce_axis
    if lanes:
        ro, ri = s[acc].split(rx, factor=lanes)
        cfg["tensorize"].apply(s, s[acc], ri)
        rx = ro
    if acc is not S:
        s[acc].unroll(rx)
        if int(getattr(ry.dom.extent, "value", ry.dom.extent)) <= WINDOW_UNROLL_ROWS:
            s[acc].unroll(ry)


__all__ = ["ELEMENTWISE_OPS", "ELEMENTWISE_UNROLL", "STAGE_TEMPLATE", "elementwise_fits", "stage", "stage_args"]
