"""A model file as a search workload: the kernels of a quantized TFLite / ONNX model.

``model_workload(model, calibration=None, name=None) -> Workload``
    ``model`` is a path (``.tflite`` or ``.onnx``, read with ``frontend.load.load_model``) or a
    ``frontend`` Graph. A float model is quantized to int8 with ``calibration`` (samples along the
    leading axis, as ``isaforge run MODEL --calibration``). Every node of the int8 part the device
    runs (``frontend.graph.int8_core``) becomes the search's kernels, the way the shipped ``kws``
    workload writes them by hand:

    =====================  =========================================================================
    node                   kernels
    =====================  =========================================================================
    conv2d                 ``conv2d_nhwc_i8`` (N, H, W, C, F, KH, KW, stride, pad), then a requantize
                           of its NHWC output
    depthwise_conv2d       ``depthwise_kernel`` (the NHWC depthwise template), then a requantize
    fully_connected        ``dense_i8`` (M, N, K), then a requantize of its (M, N) output
    avg_pool2d             the ``avg_pool2d`` stage (NCHW, int8: its window rows tensorize with a dot
                           unit), then a requantize of its (N, C, OH, OW) output
    max_pool2d             the ``max_pool2d`` stage
    quantize (int8->int8)  a requantize
    add, softmax           the ``qadd`` / ``qsoftmax`` stage at the node's own attributes
    reshape                nothing (its output is its input's bytes)
    =====================  =========================================================================

    The requantizes use :data:`isa_search.workloads.REQUANT`'s synthetic scale (a kernel's speed does
    not depend on it). A convolution, depthwise layer or pool whose geometry the template does not take
    (padding that differs between sides, unequal strides, dilation, a depth multiplier, a non-square max
    window) is measured as the stage of its model operator (``qconv2d_nhwc``, ...: the operator's
    default schedule, untuned) and listed in ``Workload.extra["notes"]``. Identical kernels are one
    kernel counted N times (kws: the four depthwise blocks, the nine requantizes of 20x4x64).
    ``Workload.extra`` also holds ``"model"`` (the path or the graph's name) and ``"nodes"`` (per kernel
    label, the origins of the nodes it stands for).

Errors (an operator with no int8 lowering, a float model without calibration, a tensor without
quantization) are :class:`isa_search.workloads.WorkloadError`\\ s that name the model and the node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .stages import STAGE_TEMPLATE, stage_args
from .workloads import Kernel, Workload, WorkloadError, check_workload, depthwise_kernel, requant_kernel

#: Suffixes of the model files ``load_workload`` reads as a model (frontend.load.FORMATS).
MODEL_SUFFIXES = (".tflite", ".onnx")


def _json_attrs(attrs: dict) -> dict:
    """A model operator's attributes as JSON-able plain values (numpy scalars to int / float)."""
    def plain(v):
        if isinstance(v, np.integer | bool):
            return int(v) if not isinstance(v, bool) else v
        if isinstance(v, np.floating):
            return float(v)
        if isinstance(v, tuple | list):
            return tuple(plain(x) for x in v)
        if isinstance(v, np.ndarray):
            raise WorkloadError(f"operator attribute of array value {v.shape}: not a shape attribute")
        return v

    return {k: plain(v) for k, v in attrs.items()}


def _shape(graph, name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in graph.values[name].shape)


def _fmt(shape) -> str:
    return "x".join(str(d) for d in shape)


class _Builder:
    """Collects the kernels of one model, merging identical ones (same template and args)."""

    def __init__(self, model: str):
        self.model = model
        self.kernels: dict[tuple, list] = {}  # (template, args) -> [label, count, origins]
        self.notes: list[str] = []

    def add(self, label: str, template: str, args: tuple, origin: str) -> None:
        key = (template, tuple(args))
        entry = self.kernels.get(key)
        if entry is None:
            used = {e[0] for e in self.kernels.values()}
            base, n = label, 2
            while label in used:  # two kernels of one label (shapes alike but for what the label leaves out)
                label, n = f"{base} #{n}", n + 1
            self.kernels[key] = [label, 1, [origin]]
        else:
            entry[1] += 1
            entry[2].append(origin)

    def add_kernel(self, k: Kernel, origin: str) -> None:
        self.add(k.label, k.template, k.args, origin)

    def requant(self, shape: tuple, origin: str) -> None:
        self.add_kernel(requant_kernel(f"requant {_fmt(shape)}", shape), origin)

    def stage(self, label: str, call, origin: str, why: str | None = None) -> None:
        self.add(label, STAGE_TEMPLATE, stage_args(call.op_name, **_json_attrs(call.attrs)), origin)
        if why:
            self.notes.append(f"{origin}: {why}; measured as the {call.op_name} stage (its default schedule, "
                              "untuned)")

    def workload(self, name: str, doc: str) -> Workload:
        ks = tuple(Kernel(label, t, args, count) for (t, args), (label, count, _) in self.kernels.items())
        nodes = {label: origins for label, _, origins in self.kernels.values()}
        return Workload(name, ks, doc, {"model": self.model, "nodes": nodes, "notes": list(self.notes)})


def _one(pair) -> int | None:
    """The value of an (a, b) attribute when both are equal, else None."""
    a, b = (int(x) for x in pair)
    return a if a == b else None


def _uniform_pad(padding) -> int | None:
    pads = {int(p) for p in padding}
    return pads.pop() if len(pads) == 1 else None


def _conv(b: _Builder, core, node, call) -> None:
    x, w = core.values[node.inputs[0]], core.values[node.inputs[1]]
    n, h, wd, c = (int(d) for d in x.shape)
    dw = node.op == "depthwise_conv2d"
    kh, kw = int(w.shape[1]), int(w.shape[2])
    f = int(w.shape[3] if dw else w.shape[0])
    stride = _one(node.attrs.get("stride", (1, 1)))
    dil = _one(node.attrs.get("dilation", (1, 1)))
    pad = _uniform_pad(node.attrs.get("padding", (0, 0, 0, 0)))
    why = None
    if stride is None:
        why = f"strides {tuple(node.attrs['stride'])} differ"
    elif dil != 1:
        why = f"dilation {tuple(node.attrs['dilation'])}"
    elif pad is None:
        why = f"padding {tuple(node.attrs['padding'])} differs between sides"
    elif dw and f != c:
        why = f"depth multiplier {f // c}"
    out = _shape(core, node.outputs[0])
    if why is not None:
        kind = "depthwise" if dw else "conv"
        b.stage(f"{kind} {kh}x{kw} {_fmt((h, wd, c))}->{f} ({call.op_name})", call, node.origin, why)
        return
    if dw:
        b.add_kernel(depthwise_kernel(f"dw {kh}x{kw} s{stride} {_fmt((h, wd))}x{c}", n, h, wd, c, kh, kw, stride,
                                      pad), node.origin)
    else:
        b.add(f"conv {kh}x{kw} s{stride} {_fmt((h, wd))}x{c}->{f}", "conv2d_nhwc_i8",
              (n, h, wd, c, f, kh, kw, stride, pad), node.origin)
    b.requant(out, node.origin)


def _dense(b: _Builder, core, node, call) -> None:
    m, n, k = (int(call.attrs[a]) for a in ("M", "N", "K"))
    b.add(f"dense {m}x{k}->{n}" if m > 1 else f"dense {k}->{n}", "dense_i8", (m, n, k), node.origin)
    b.requant((m, n), node.origin)


def _pool(b: _Builder, core, node, call) -> None:
    a = call.attrs
    n, h, wd, c = (int(a[k]) for k in ("N", "H", "W", "C"))
    kh, kw = int(a["filter_h"]), int(a["filter_w"])
    stride = _one((a["stride_h"], a["stride_w"]))
    pads = (a["pad_top"], a["pad_bottom"], a["pad_left"], a["pad_right"])
    avg = node.op == "avg_pool2d"
    why = None
    if stride is None:
        why = f"strides {(a['stride_h'], a['stride_w'])} differ"
    elif any(int(p) for p in pads):
        why = f"padding {tuple(int(p) for p in pads)}"
    elif not avg and kh != kw:
        why = f"max window {kh}x{kw} is not square"
    elif a.get("qmin", -128) > -128 or a.get("qmax", 127) < 127:
        why = f"fused activation clamps to [{a['qmin']}, {a['qmax']}]"
    kind = "avg pool" if avg else "max pool"
    if why is not None:
        b.stage(f"{kind} {kh}x{kw} {_fmt((h, wd, c))} ({call.op_name})", call, node.origin, why)
        return
    if avg:
        attrs = dict(N=n, C=c, H=h, W=wd, kh=kh, kw=kw, stride=stride, dtype="int8")
        b.add(f"avg pool {kh}x{kw} s{stride} {_fmt((h, wd, c))}", STAGE_TEMPLATE, stage_args("avg_pool2d", **attrs),
              node.origin)
        b.requant((n, c, (h - kh) // stride + 1, (wd - kw) // stride + 1), node.origin)
    else:
        attrs = dict(N=n, C=c, H=h, W=wd, k=kh, stride=stride, dtype="int8")
        b.add(f"max pool {kh}x{kw} s{stride} {_fmt((h, wd, c))}", STAGE_TEMPLATE, stage_args("max_pool2d", **attrs),
              node.origin)


def _load(model, calibration):
    """(the int8 graph the device runs, its description)."""
    from frontend.errors import FrontendError
    from frontend.graph import Graph, int8_core
    from frontend.load import is_float, load_model, prepare

    if isinstance(model, Graph):
        graph, where = model, f"model {model.name!r}"
    else:
        where = f"model file {str(model)!r}"
        try:
            graph = load_model(model)
        except FrontendError as exc:
            raise WorkloadError(f"{where}: {exc}") from exc
    if is_float(graph) and calibration is None:
        raise WorkloadError(f"{where} is float: give calibration samples to quantize it to int8 "
                            "(search_isa(MODEL, calibration=samples), isaforge search-isa MODEL --calibration "
                            "samples.npy)")
    try:
        graph = prepare(graph, calibration)
    except FrontendError as exc:
        raise WorkloadError(f"{where}: {exc}") from exc
    return int8_core(graph), where


def model_workload(model, calibration: np.ndarray | None = None, name: str | None = None) -> Workload:
    """The search workload of a model file or Graph; see the module docstring."""
    from frontend.compile import ALIAS_OPS
    from frontend.errors import FrontendError
    from frontend.lowering import node_op

    core, where = _load(model, calibration)
    b = _Builder(str(model) if isinstance(model, str | Path) else core.name)
    for node in core.nodes:
        if node.op in ALIAS_OPS:
            continue
        try:
            call = node_op(core, node)  # the frontend's checks: int8 tensors, quantization, supported operator
        except FrontendError as exc:
            raise WorkloadError(f"{where}: {exc}") from exc
        if node.op in ("conv2d", "depthwise_conv2d"):
            _conv(b, core, node, call)
        elif node.op == "fully_connected":
            _dense(b, core, node, call)
        elif node.op in ("avg_pool2d", "max_pool2d"):
            _pool(b, core, node, call)
        elif node.op == "quantize":
            b.requant(tuple(int(d) for d in call.attrs["shape"]), node.origin)
        else:
            b.stage(f"{node.op} {_fmt(_shape(core, node.outputs[0]))}", call, node.origin)
    if not b.kernels:
        ops_ = sorted({n.op for n in core.nodes})
        raise WorkloadError(f"{where}: no kernel to search (its int8 part has only {ops_})")
    label = name or (Path(model).stem if isinstance(model, str | Path) else core.name)
    n_nodes = sum(n.op not in ALIAS_OPS for n in core.nodes)
    return check_workload(b.workload(label, f"{where}: {n_nodes} int8 nodes as {len(b.kernels)} distinct kernels"))


__all__ = ["MODEL_SUFFIXES", "model_workload"]
