"""Tunable templates of the int8 model kernels: the hand schedules of ``schedules.hand`` with their
parameters as knobs.

A model's kernel (``qdense``, ``qconv2d_nhwc``, ``qdepthwise_conv2d_nhwc`` of the ops registry, as
``frontend.lowering.node_op`` maps a node) becomes a task whose args are a *shape signature*
(:func:`task_args`): the operator's shape attributes, whether the output is clamped by an activation,
and the extensions (one comma-separated string of sorted names). Weights, biases, multipliers, shifts
and zero points are not part of it: they change what a kernel computes, not how fast a schedule runs
it, so the layers of a model that differ only in them share one task (and one record).

Measuring a config instantiates the operator at that shape with deterministic synthetic quantization
parameters (:func:`synthetic_attrs`, and inputs from :func:`_make_inputs`: realistic multipliers and
shifts from ``quantize_multiplier`` of scales in [1e-3, 1e-2]), and every measurement is checked against
the operator's numpy reference. A model compile applies a record's config to the *real* workload with
:func:`schedule_workload` (the same knobs, the real attributes).

Knobs (the first choice of each is the hand schedule, so config 0 is ``hand.qdense`` / ``hand.qconv``):

* ``dot_unit``      use the dot unit of the extensions (a stateless lane dot such as dot4_i8, or an
                    accumulator bank such as mac4_i8) when there is one, or not (scalar code);
* ``requant_unit``  requantize with the requantizing unit (when there is one) or in scalar code;
* ``tile``          the register tile: ``"hand"`` (the hand schedule's rule) or (rows, channels) of
                    qdense (DENSE_TILES dividing M and N; it takes the tiled schedule at any M), (output
                    pixels, channels) of the convolutions' row and tiled schedules (CONV_TILES);
* ``chunk``         (qdense, tiled) lane steps per iteration, unrolled: ``"hand"``, 1, 2, 4, 8, 16;
* ``asm``           (qdense, tiled with a stateless dot) the rv32 emitter places the tile's CFU
                    instructions (pragma cfu_asm) or the C compiler does.

No ``compiler`` knob: a model is one C unit built with one compiler (the target's default, which the
measurement uses too).
"""

from __future__ import annotations

import numpy as np

import isa_ext
import ops
from ops.qnn import quantize_multiplier
from schedules import hand

from .space import AutotuneError, _config_context, get_config, template

QNN_TEMPLATES = ("qdense", "qconv2d_nhwc", "qdepthwise_conv2d_nhwc")

# the shape attributes of each operator, in task-args order (then "clamp", then the extensions)
SHAPE_ATTRS = {
    "qdense": ("M", "N", "K"),
    "qconv2d_nhwc": ("N", "H", "W", "C", "F", "KH", "KW", "stride_h", "stride_w", "dilation_h", "dilation_w",
                     "pad_top", "pad_bottom", "pad_left", "pad_right"),
    "qdepthwise_conv2d_nhwc": ("N", "H", "W", "C", "depth_multiplier", "KH", "KW", "stride_h", "stride_w",
                               "dilation_h", "dilation_w", "pad_top", "pad_bottom", "pad_left", "pad_right"),
}

# the synthetic quantization of a measured kernel (deterministic; what a kernel computes depends on them,
# its speed does not)
X_ZERO_POINT = -3  # a convolution's padding value (the compiler folds the offset into the bias)
OUT_ZERO_POINT = -5
# (rows, channels) register tiles of qdense and (output pixels, channels) of the convolutions
DENSE_TILES = ((1, 2), (1, 4), (1, 8), (2, 2), (2, 4), (4, 1), (4, 2), (4, 4), (2, 8), (8, 2))
CONV_TILES = ((1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2), (1, 4), (2, 4), (4, 4))
CHUNKS = ("hand", 1, 2, 4, 8, 16)


def ext_names(exts) -> str:
    """The extensions argument of a task: sorted, comma-separated names ("" for none)."""
    if isinstance(exts, str):
        exts = [e for e in exts.replace(",", " ").split() if e]
    return ",".join(sorted({e if isinstance(e, str) else e.name for e in exts}))


def task_args(op_name: str, attrs: dict, exts=()) -> tuple | None:
    """The task args of a kernel (operator ``op_name`` with attributes ``attrs``), or None when the
    operator has no template here."""
    if op_name not in SHAPE_ATTRS:
        return None
    a = ops.get(op_name).resolve(**attrs)
    clamp = bool(a.get("qmin", -128) > -128 or a.get("qmax", 127) < 127)
    return (*[int(a[k]) for k in SHAPE_ATTRS[op_name]], clamp, ext_names(exts))


def synthetic_attrs(op_name: str, args) -> dict:
    """The operator attributes a task measures at: its shape, the synthetic zero points, the clamp."""
    if op_name not in SHAPE_ATTRS:
        raise AutotuneError(f"no quantized-kernel template for operator {op_name!r}")
    fields = SHAPE_ATTRS[op_name]
    if len(args) != len(fields) + 2:
        raise AutotuneError(f"template {op_name!r} takes {len(fields) + 2} args ({', '.join(fields)}, clamp, exts), "
                            f"got {len(args)}")
    a = dict(zip(fields, (int(v) for v in args[:len(fields)])))
    clamp = bool(args[len(fields)])
    a.update(out_zero_point=OUT_ZERO_POINT, qmin=OUT_ZERO_POINT if clamp else -128, qmax=127)
    if op_name == "qdense":
        a["x_zero_point"] = 0  # the compiler folds the input offset into the bias
    else:
        a.update(x_zero_point=X_ZERO_POINT, fold_x_zero_point=True)
    return a


def _split_args(op_name: str, args) -> tuple[dict, list]:
    exts = args[-1]
    return synthetic_attrs(op_name, args), [isa_ext.get(e) for e in str(exts).split(",") if e]


def _make_inputs(op_name: str):
    def make_inputs(args, rng):
        wl = ops.get(op_name)(**synthetic_attrs(op_name, args))
        X, W, Bias, Mult, Shift = wl.inputs
        channels = int(Bias.shape[0])
        scales = rng.uniform(1e-3, 1e-2, channels)
        pairs = [quantize_multiplier(float(s)) for s in scales]
        return [rng.integers(-128, 128, tuple(X.shape)).astype(np.int8),
                rng.integers(-127, 128, tuple(W.shape)).astype(np.int8),
                rng.integers(-(1 << 14), 1 << 14, channels).astype(np.int32),
                np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)]

    make_inputs.__qualname__ = f"make_inputs[{op_name}]"
    return make_inputs


def _reference(op_name: str):
    """The operator's numpy reference at the task's synthetic attributes."""
    op = ops.get(op_name)

    def reference(*arrays, args):
        return op.reference(*arrays, **synthetic_attrs(op_name, args))

    reference.__qualname__ = f"reference[{op_name}]"
    return reference


def _has_dot(ext, lanes_extent: int) -> bool:
    """Whether ``ext`` has a dot unit the hand schedules use: a stateless int8 lane dot or an int8
    accumulator-bank tile, its lanes dividing ``lanes_extent``."""
    return any(t.facts is not None and t.in_dtype == "int8" and t.lanes > 1 and lanes_extent % t.lanes == 0
               and ((not t.accumulators and t.facts.pattern == "lane_reduce")
                    or (t.accumulators and t.facts.pattern == "tile"))
               for t in getattr(ext, "intrinsics", []))


def _has_requant(ext) -> bool:
    """Whether ``ext`` is a requantizing unit (an "elementwise" intrinsic with a ``requant`` op)."""
    return any(t.facts is not None and t.facts.pattern == "elementwise" and "requant" in t.ops
               for t in getattr(ext, "intrinsics", []))


def _chosen(exts: list, cfg) -> list:
    """The extensions a config uses: ``exts`` without those of the units its knobs turn off (an
    extension that is both a dot and a requantizing unit goes when either is off)."""
    return [e for e in exts if not (_has_dot(e, 1 << 30) and not cfg["dot_unit"].val)
            and not (_has_requant(e) and not cfg["requant_unit"].val)]


def _tiles(choices, rows: int, cols: int) -> list:
    return ["hand"] + [list(t) for t in choices if rows % t[0] == 0 and cols % t[1] == 0]


def _tile(cfg):
    t = cfg["tile"].val
    return None if t == "hand" else tuple(t)


def schedule_qdense(wl, exts: list, packed_weights: bool = False):
    """``hand.qdense`` of ``wl`` with the knobs of the current config (see the module docstring);
    ``packed_weights`` has no effect (the dense schedules read their weights as given)."""
    cfg = get_config()
    p = wl.params
    cfg.define_knob("dot_unit", [True, False] if any(_has_dot(e, p["K"]) for e in exts) else [False])
    cfg.define_knob("requant_unit", [True, False] if any(_has_requant(e) for e in exts) else [False])
    cfg.define_knob("tile", _tiles(DENSE_TILES, p["M"], p["N"]))
    cfg.define_knob("chunk", [c for c in CHUNKS if c == "hand" or c <= max(1, p["K"] // 4)])
    cfg.define_knob("asm", [True, False])
    chunk = cfg["chunk"].val
    return hand.qdense(wl, _chosen(exts, cfg), tile=_tile(cfg), chunk=None if chunk == "hand" else int(chunk),
                       asm=cfg["asm"].val)


def schedule_qconv(wl, exts: list, packed_weights: bool = False):
    """``hand.qconv`` of ``wl`` with the knobs of the current config (see the module docstring);
    ``packed_weights``: as ``hand.qconv``'s (the row schedules read their weights pre-packed)."""
    cfg = get_config()
    # any lanes: the row schedules pack window rows to whole words, the in-place one checks C itself
    cfg.define_knob("dot_unit", [True, False] if any(_has_dot(e, 1 << 30) for e in exts) else [False])
    cfg.define_knob("requant_unit", [True, False] if any(_has_requant(e) for e in exts) else [False])
    _, _, ow, channels = (int(d) for d in wl.output.shape)
    cfg.define_knob("tile", _tiles(CONV_TILES, ow, channels))
    return hand.qconv(wl, _chosen(exts, cfg), tile=_tile(cfg), packed_weights=packed_weights)


SCHEDULERS = {"qdense": schedule_qdense, "qconv2d_nhwc": schedule_qconv, "qdepthwise_conv2d_nhwc": schedule_qconv}


def _instantiate(op_name: str, args):
    attrs, exts = _split_args(op_name, args)
    wl = ops.get(op_name)(**attrs)
    s, tensors = SCHEDULERS[op_name](wl, exts)  # a packed schedule has an output tensor of its own
    return s, list(tensors)


@template("qdense", reference=_reference("qdense"), make_inputs=_make_inputs("qdense"))
def qdense(*args):
    return _instantiate("qdense", args)


@template("qconv2d_nhwc", reference=_reference("qconv2d_nhwc"), make_inputs=_make_inputs("qconv2d_nhwc"))
def qconv2d_nhwc(*args):
    return _instantiate("qconv2d_nhwc", args)


@template("qdepthwise_conv2d_nhwc", reference=_reference("qdepthwise_conv2d_nhwc"),
          make_inputs=_make_inputs("qdepthwise_conv2d_nhwc"))
def qdepthwise_conv2d_nhwc(*args):
    return _instantiate("qdepthwise_conv2d_nhwc", args)


def _config_of(task, config, wl):
    """``(config entity, extensions)`` of ``config`` of ``task``, checked to fit the real workload ``wl``."""
    if task.name not in SCHEDULERS:
        raise AutotuneError(f"task {task.key}: not a quantized-kernel template ({', '.join(QNN_TEMPLATES)})")
    op = ops.of(wl)
    if op is None or op.name != task.name:
        raise AutotuneError(f"task {task.key}: workload {wl.name!r} is not a {task.name}")
    if task_args(task.name, wl.params, task.args[-1]) != tuple(task.args):
        raise AutotuneError(f"task {task.key}: workload {wl.name!r} has another shape signature "
                            f"{task_args(task.name, wl.params, task.args[-1])}")
    return task.config(config), [isa_ext.get(e) for e in str(task.args[-1]).split(",") if e]


def schedule_workload(task, config, wl, packed_weights: bool = False):
    """``(schedule, args)`` of the real workload ``wl`` (same operator and shape signature as ``task``,
    any weights, zero points and clamp) under ``config`` of ``task`` (an index, ConfigEntity or JSON).
    ``packed_weights``: the schedule reads the inputs :func:`workload_packers` names pre-packed (for
    constant weights: the model compiler packs them once, in numpy)."""
    cfg, exts = _config_of(task, config, wl)
    with _config_context(cfg):
        s, tensors = SCHEDULERS[task.name](wl, exts, packed_weights=packed_weights)
    return s, list(tensors)


def workload_packers(task, config, wl) -> dict:
    """The inputs ``schedule_workload(task, config, wl, packed_weights=True)`` reads pre-packed: input
    index -> the numpy function from that input's array to the packed one (``hand.prepacked_weights``
    of the extensions the config uses; empty for the dense schedules)."""
    cfg, exts = _config_of(task, config, wl)
    return {} if task.name == "qdense" else hand.prepacked_weights(wl, _chosen(exts, cfg))


__all__ = ["QNN_TEMPLATES", "SCHEDULERS", "SHAPE_ATTRS", "ext_names", "qconv2d_nhwc", "qdense",
           "qdepthwise_conv2d_nhwc", "schedule_qconv", "schedule_qdense", "schedule_workload", "synthetic_attrs",
           "task_args", "workload_packers"]
