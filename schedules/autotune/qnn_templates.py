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

* ``dot_unit``      tensorize the reduction's lanes with the stateless dot extension (when there is one
                    and the lanes divide the reduction) or not;
* ``requant_unit``  requantize with the requantizing unit (when there is one) or in scalar code;
* ``unroll``        output channels per iteration with the requantizing unit (divisors of the channels);
* ``k_unroll``      (qdense) reduction steps per iteration, unrolled: ``"hand"`` (the hand schedule's
                    rule), 1, 2, 4, 8 or ``"all"`` (lane steps with the dot unit, scalar steps without);
* ``tile``          (qdense) a (rows, channels) register tile of sums computed together (DENSE_TILES
                    that divide M and N; ``unroll`` has no effect on a tile other than (1, 1));
* ``unroll_taps``   (convolutions) window axes unrolled: 0, 1 (columns) or 2 (rows and columns).

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
K_UNROLL = ("hand", 1, 2, 4, 8, "all")
UNROLL_CHANNELS = (1, 2, 4, 8, 16)
# (rows, channels) register tiles of qdense; (1, 1) is the hand schedule (one output at a time)
DENSE_TILES = ((1, 1), (1, 2), (1, 4), (1, 8), (2, 1), (2, 2), (2, 4), (4, 1), (4, 2), (4, 4))


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
    """Whether ``ext`` has a stateless int8 lane dot whose lanes divide ``lanes_extent`` (what
    ``hand.qdense`` / ``hand.qconv`` tensorize)."""
    return any(not t.accumulators and t.facts is not None and t.facts.pattern == "lane_reduce"
               and t.in_dtype == "int8" and t.lanes > 1 and lanes_extent % t.lanes == 0
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


def _fit(n: int, want: int) -> int:
    return max(d for d in range(1, min(n, want) + 1) if n % d == 0)


def _channel_choices(n: int) -> list[int]:
    return [u for u in UNROLL_CHANNELS if u <= n and n % u == 0]


def schedule_qdense(wl, exts: list):
    """``hand.qdense`` of ``wl`` with the knobs of the current config (see the module docstring)."""
    cfg = get_config()
    p = wl.params
    cfg.define_knob("dot_unit", [True, False] if any(_has_dot(e, p["K"]) for e in exts) else [False])
    cfg.define_knob("requant_unit", [True, False] if any(_has_requant(e) for e in exts) else [False])
    default = _fit(p["N"], max(1, hand.UNROLL_ROW_BYTES // p["K"]))  # hand.qdense's choice
    cfg.define_knob("unroll", [default] + [u for u in _channel_choices(p["N"]) if u != default])
    cfg.define_knob("k_unroll", list(K_UNROLL))
    cfg.define_knob("tile", [list(t) for t in DENSE_TILES if p["M"] % t[0] == 0 and p["N"] % t[1] == 0])
    k = cfg["k_unroll"].val
    k_unroll = None if k == "hand" else (1 << 30) if k == "all" else int(k)
    return hand.qdense(wl, _chosen(exts, cfg), unroll=cfg["unroll"].val, k_unroll=k_unroll,
                       tile=tuple(cfg["tile"].val))


def schedule_qconv(wl, exts: list):
    """``hand.qconv`` of ``wl`` with the knobs of the current config (see the module docstring)."""
    cfg = get_config()
    p = wl.params
    conv = "F" in p
    cfg.define_knob("dot_unit", [True, False] if conv and any(_has_dot(e, p["C"]) for e in exts) else [False])
    cfg.define_knob("requant_unit", [True, False] if any(_has_requant(e) for e in exts) else [False])
    channels = int(wl.output.shape[-1])
    cfg.define_knob("unroll", _channel_choices(channels))
    cfg.define_knob("unroll_taps", [0, 1, 2])
    return hand.qconv(wl, _chosen(exts, cfg), unroll=cfg["unroll"].val,
                      unroll_taps=cfg["unroll_taps"].val)


SCHEDULERS = {"qdense": schedule_qdense, "qconv2d_nhwc": schedule_qconv, "qdepthwise_conv2d_nhwc": schedule_qconv}


def _instantiate(op_name: str, args):
    attrs, exts = _split_args(op_name, args)
    wl = ops.get(op_name)(**attrs)
    s, _ = SCHEDULERS[op_name](wl, exts)
    return s, list(wl.args)


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


def schedule_workload(task, config, wl):
    """``(schedule, args)`` of the real workload ``wl`` (same operator and shape signature as ``task``,
    any weights, zero points and clamp) under ``config`` of ``task`` (an index, ConfigEntity or JSON)."""
    if task.name not in SCHEDULERS:
        raise AutotuneError(f"task {task.key}: not a quantized-kernel template ({', '.join(QNN_TEMPLATES)})")
    op = ops.of(wl)
    if op is None or op.name != task.name:
        raise AutotuneError(f"task {task.key}: workload {wl.name!r} is not a {task.name}")
    if task_args(task.name, wl.params, task.args[-1]) != tuple(task.args):
        raise AutotuneError(f"task {task.key}: workload {wl.name!r} has another shape signature "
                            f"{task_args(task.name, wl.params, task.args[-1])}")
    cfg = task.config(config)
    exts = [isa_ext.get(e) for e in str(task.args[-1]).split(",") if e]
    with _config_context(cfg):
        s, _ = SCHEDULERS[task.name](wl, exts)
    return s, list(wl.args)


__all__ = ["QNN_TEMPLATES", "SCHEDULERS", "SHAPE_ATTRS", "ext_names", "qconv2d_nhwc", "qdense",
           "qdepthwise_conv2d_nhwc", "schedule_qconv", "schedule_qdense", "schedule_workload", "synthetic_attrs",
           "task_args"]
