"""Search workloads: the kernels of a model, each with how many times it runs per inference.

A :class:`Workload` is a name and a list of :class:`Kernel` (a label, a schedule template of
``schedules.autotune`` or the generic fixed-schedule stage of :mod:`isa_search.stages`, its args
without ``exts``, and ``count``). Identical layers are one kernel counted N times: it is measured
once per candidate. The search's whole-workload cycles are ``sum(count * best cycles)``.

Shipped (``WORKLOADS``):

* ``matmul_i8_64``: int8 64x64x64 (``matmul_i8``).
* ``kws``: a small keyword-spotting DS-CNN in int8, input 49x10x1: conv 10x4 stride 2 (no padding:
  20x4) to 64 channels; four depthwise-separable blocks (3x3 depthwise pad 1 + 1x1 pointwise, 64
  channels, identical: one kernel each, counted 4 times); average pool; dense 64 -> 12; each layer
  followed by a requantize (TFLite's int8 output stage). The average pool is global, as in the
  DS-CNN and the frontend's ``kws_float``: one 20x4 window over the 20x4x64 map (``avg_pool2d`` with
  ``kh=20, kw=4``) to 1x1x64, then its requantize of 64 values.
  The depthwise layer uses ``depthwise_conv2d_nhwc_i8`` when that template exists, else the NCHW
  ``depthwise_conv2d_i8`` at the same shape (:func:`depthwise_template`).
* ``mlp``: the 1-16-16-1 int8 sine MLP and the 2-8-1 xor MLP: dense layers + requantize.
* ``matmul_i8_16``: int8 16x16x16, a tiny workload for tests; ``max_pool``: one int8 max pool
  (no multiply-accumulate at all); ``act_i8``: an int8 elementwise add and relu over an 8x8x32 map
  (the lane-parallel SIMD add / relu of the ``fused`` family).

``load_workload(name_or_path, calibration=None)`` takes a shipped name, a Python file that defines
``WORKLOAD`` (a Workload, or a list of Kernel / (label, template, args, count) tuples), or a model file
(``.tflite`` / ``.onnx``; a float one quantized with ``calibration``): its kernels as
:func:`isa_search.model.model_workload` maps them.
"""

from __future__ import annotations

import inspect
import runpy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from schedules.autotune import AutotuneError, get_template

from .stages import STAGE_TEMPLATE, stage_args


class WorkloadError(AutotuneError):
    """A workload that cannot be loaded or is malformed (names the workload and the kernel)."""


@dataclass(frozen=True)
class Kernel:
    """One kernel of a workload: ``template`` at ``args`` (without the trailing ``exts``), run ``count`` times."""

    label: str
    template: str
    args: tuple
    count: int = 1

    @property
    def is_stage(self) -> bool:
        """A fixed-schedule stage (:mod:`isa_search.stages`), not a tuned template."""
        return self.template == STAGE_TEMPLATE

    @property
    def op(self) -> str:
        """The registry operator of a stage ('' for a template kernel)."""
        return self.args[0] if self.is_stage else ""

    def task_args(self, exts: str) -> tuple:
        return (*self.args, exts)

    def to_json(self) -> dict:
        return {"label": self.label, "template": self.template, "args": list(self.args), "count": self.count}


@dataclass(frozen=True)
class Workload:
    name: str
    kernels: tuple[Kernel, ...]
    doc: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_requantize(self) -> bool:
        return any(k.is_stage and k.op == "requantize" for k in self.kernels)

    def macs(self) -> int | None:
        """Multiply-accumulates per inference (None if a kernel's template does not say)."""
        from schedules.autotune.templates import template_macs

        total = 0
        for k in self.kernels:
            if k.is_stage:
                continue
            m = template_macs(k.template, k.args)
            if m is None:
                return None
            total += k.count * m
        return total

    def to_json(self) -> dict:
        return {"name": self.name, "doc": self.doc, "kernels": [k.to_json() for k in self.kernels]}


def _has_template(name: str) -> bool:
    try:
        get_template(name)
    except AutotuneError:
        return False
    return True


def _template_args(name: str, **values) -> tuple:
    """The args of template ``name`` in its own parameter order, from ``values`` by parameter name
    (parameters with defaults may be left out)."""
    func = get_template(name).func
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name == "exts":
            break
        if p.name in values:
            out.append(values[p.name])
        elif p.default is inspect.Parameter.empty:
            raise WorkloadError(f"template {name!r}: no value for its parameter {p.name!r}")
        else:
            out.append(p.default)
    return tuple(out)


def depthwise_template() -> str:
    """The depthwise template: ``depthwise_conv2d_nhwc_i8`` when registered, else the NCHW one."""
    return "depthwise_conv2d_nhwc_i8" if _has_template("depthwise_conv2d_nhwc_i8") else "depthwise_conv2d_i8"


def depthwise_kernel(label: str, N, H, W, C, KH, KW, stride, pad, count=1) -> Kernel:
    t = depthwise_template()
    return Kernel(label, t, _template_args(t, N=N, H=H, W=W, C=C, KH=KH, KW=KW, stride=stride, pad=pad), count)


REQUANT = dict(multiplier=1518500250, shift=-7, zero_point=-3)  # a TFLite-like per-tensor scale


def requant_kernel(label: str, shape: tuple, count: int = 1) -> Kernel:
    return Kernel(label, STAGE_TEMPLATE, stage_args("requantize", shape=tuple(shape), **REQUANT), count)


def matmul_workload(n: int) -> Workload:
    return Workload(f"matmul_i8_{n}", (Kernel(f"matmul {n}x{n}x{n}", "matmul_i8", (n, n, n)),),
                    f"int8 matmul {n}x{n}x{n} (C = A x Bt^T)")


def kws() -> Workload:
    H, W, C = 20, 4, 64
    ks = [
        Kernel("conv 10x4 s2 1->64", "conv2d_nhwc_i8", (1, 49, 10, 1, C, 10, 4, 2, 0)),
        depthwise_kernel("dw 3x3 64", 1, H, W, C, 3, 3, 1, 1, count=4),
        Kernel("pw 1x1 64->64", "conv2d_nhwc_i8", (1, H, W, C, C, 1, 1, 1, 0), count=4),
        requant_kernel("requant 20x4x64", (1, H, W, C), count=9),
        # global: one H x W window, as the DS-CNN's (and frontend.zoo's kws_float) average pool
        Kernel(f"avg pool {H}x{W} global", STAGE_TEMPLATE, stage_args("avg_pool2d", N=1, C=C, H=H, W=W, kh=H, kw=W,
                                                                        stride=1, dtype="int8")),
        requant_kernel("requant pool", (1, C, 1, 1)),
        Kernel("dense 64->12", "dense_i8", (1, 12, 64)),
        requant_kernel("requant 12", (1, 12)),
    ]
    return Workload("kws", tuple(ks), "keyword-spotting DS-CNN, int8, input 49x10x1 (see isa_search.workloads)")


def mlp() -> Workload:
    ks = [
        Kernel("sine dense 1->16", "dense_i8", (1, 16, 1)),
        Kernel("sine dense 16->16", "dense_i8", (1, 16, 16)),
        Kernel("sine dense 16->1", "dense_i8", (1, 1, 16)),
        requant_kernel("sine requant 16", (1, 16), count=2),
        requant_kernel("requant 1", (1, 1), count=2),  # sine's and xor's output layers
        Kernel("xor dense 2->8", "dense_i8", (1, 8, 2)),
        Kernel("xor dense 8->1", "dense_i8", (1, 1, 8)),
        requant_kernel("xor requant 8", (1, 8)),
    ]
    return Workload("mlp", tuple(ks), "the 1-16-16-1 int8 sine MLP and the 2-8-1 xor MLP")


def act_i8(shape=(1, 8, 8, 32)) -> Workload:
    """int8 activations with no multiply-accumulate: an elementwise add (a residual, wrapping as the
    ``add`` operator does) and a relu over one NHWC map."""
    shape = tuple(shape)
    dims = "x".join(map(str, shape[1:]))
    return Workload("act_i8", (
        Kernel(f"add {dims}", STAGE_TEMPLATE, stage_args("add", shape_a=shape, shape_b=shape, dtype="int8")),
        Kernel(f"relu {dims}", STAGE_TEMPLATE, stage_args("relu", shape=shape, dtype="int8")),
    ), f"int8 elementwise add and relu over a {dims} map (no multiply-accumulate)")


def max_pool() -> Workload:
    return Workload("max_pool", (Kernel("max pool 2x2 16x16x16", STAGE_TEMPLATE,
                                        stage_args("max_pool2d", N=1, C=16, H=16, W=16, k=2, stride=2,
                                                   dtype="int8")),),
                    "one int8 max pool (no multiply-accumulate)")


WORKLOADS = {"matmul_i8_64": lambda: matmul_workload(64), "matmul_i8_16": lambda: matmul_workload(16),
             "kws": kws, "mlp": mlp, "max_pool": max_pool, "act_i8": act_i8}


def _as_kernel(k, where: str) -> Kernel:
    if isinstance(k, Kernel):
        return k
    try:
        label, template, args, *rest = k
    except (TypeError, ValueError):
        raise WorkloadError(f"{where}: a kernel must be a Kernel or (label, template, args[, count]), got {k!r}") \
            from None
    return Kernel(str(label), str(template), tuple(args), int(rest[0]) if rest else 1)


def check_workload(wl: Workload) -> Workload:
    """Raise WorkloadError unless every kernel names a registered template with a positive count."""
    if not wl.kernels:
        raise WorkloadError(f"workload {wl.name!r} has no kernels")
    for k in wl.kernels:
        if k.count < 1:
            raise WorkloadError(f"workload {wl.name!r}, kernel {k.label!r}: count must be >= 1, got {k.count}")
        if not _has_template(k.template):
            raise WorkloadError(f"workload {wl.name!r}, kernel {k.label!r}: no template named {k.template!r}")
    return wl


def load_workload(spec: str | Path | Workload | Sequence, calibration=None) -> Workload:
    """A shipped workload by name, a Python file defining ``WORKLOAD``, a model file (``calibration``:
    float samples to quantize a float model), or a Workload / kernel list."""
    from .model import MODEL_SUFFIXES, model_workload

    if isinstance(spec, str | Path) and Path(spec).suffix in MODEL_SUFFIXES:
        return model_workload(spec, calibration)
    if calibration is not None:
        raise WorkloadError(f"workload {spec!r}: calibration data is only for a model file "
                            f"({', '.join(MODEL_SUFFIXES)})")
    if isinstance(spec, Workload):
        return check_workload(spec)
    if isinstance(spec, Path):
        spec = str(spec)
    if not isinstance(spec, str):
        return check_workload(Workload("custom", tuple(_as_kernel(k, "workload") for k in spec)))
    if spec in WORKLOADS:
        return check_workload(WORKLOADS[spec]())
    path = Path(spec)
    if path.suffix == ".py" and path.exists():
        ns = runpy.run_path(str(path), run_name="isa_search_user_workload")
        if "WORKLOAD" not in ns:
            raise WorkloadError(f"workload file {path}: defines no WORKLOAD")
        w = ns["WORKLOAD"]
        if isinstance(w, Workload):
            return check_workload(w)
        return check_workload(Workload(path.stem, tuple(_as_kernel(k, str(path)) for k in w)))
    raise WorkloadError(f"unknown workload {spec!r}: expected one of {', '.join(WORKLOADS)}, a .py file "
                        "defining WORKLOAD or a model file (.tflite, .onnx)")


__all__ = ["REQUANT", "WORKLOADS", "Kernel", "Workload", "WorkloadError", "act_i8", "check_workload",
           "depthwise_kernel", "depthwise_template", "kws", "load_workload", "matmul_workload", "max_pool", "mlp",
           "requant_kernel"]
