"""Kernels without a tuned template: a fixed default schedule of an ``ops`` registry operator.

Stages such as requantize, average pool or max pool have no register-blocked template. The search
still measures them on the SoC (and checks them against numpy) through one generic template,
``isa_search.stage``, whose args are the operator name and its attributes as JSON text: the
schedule is ``schedules.create_schedule`` of the operator's output (every stage at its default
place), and the space holds only the compiler knob and, for elementwise operators such as
``requantize``, an ``unroll`` knob (1, 4 or 8 elements per iteration of the innermost loop, those
dividing it) and a ``tensorize`` knob over the extensions in ``exts`` whose intrinsic declares the
``"elementwise"`` pattern (``requant_i8``), tensorizing the innermost output axis.
"""

from __future__ import annotations

import json

import isa_ext
import ops
import schedules
from schedules.autotune import get_config, template

STAGE_TEMPLATE = "isa_search.stage"
# operators whose output stage an elementwise intrinsic (pattern "elementwise") may tensorize
ELEMENTWISE_OPS = ("requantize",)
ELEMENTWISE_UNROLL = (4, 8)  # the ``unroll`` knob of an elementwise stage (besides 1), dividing its inner axis


def stage_args(op_name: str, **attrs) -> tuple[str, str]:
    """The template args of operator ``op_name`` at ``attrs`` (a stable JSON text of the attributes)."""
    ops.get(op_name)  # raises OpError naming the operator when it is unknown
    norm = {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}
    return op_name, json.dumps(norm, sort_keys=True, separators=(",", ":"))


def _attrs(attrs_json: str) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(attrs_json).items()}


def _elementwise_exts(exts: str) -> list:
    out = []
    for name in (x.strip() for x in exts.split(",")):
        if not name:
            continue
        ext = isa_ext.get(name)
        if any(getattr(t, "facts", None) is not None and t.facts.pattern == "elementwise" for t in ext.intrinsics):
            out.append(ext)
    return out


def _stage_reference(*arrays, args):
    op_name, attrs_json = args[0], args[1]
    return ops.get(op_name).reference(*arrays, **_attrs(attrs_json))


@template(STAGE_TEMPLATE, reference=_stage_reference)
def stage(op_name, attrs_json, exts=""):
    """The operator's default schedule; knobs: ``tensorize`` (elementwise operators) and ``compiler``."""
    wl = ops.get(op_name)(**_attrs(attrs_json))
    out = wl.output
    s = schedules.create_schedule(out)
    cfg = get_config()
    if op_name in ELEMENTWISE_OPS:
        inner = out.op.axis[-1]
        n = int(getattr(inner.dom.extent, "value", inner.dom.extent))
        # elements per iteration of the innermost loop (unrolled): the loop's add and branch, and the
        # load-use stall of each element's CFU op, are shared by several elements
        cfg.define_knob("unroll", [1] + [u for u in ELEMENTWISE_UNROLL if u < n and n % u == 0])
        cfg.define_tensorize("tensorize", inner, _elementwise_exts(exts))
        u = cfg["unroll"].val
        at = inner
        if u > 1:
            at, ui = s[out].split(inner, factor=u)
            s[out].unroll(ui)
        tens = cfg["tensorize"]
        if tens.name is not None:
            tens.apply(s, s[out], at)  # the unit's nest: the rolled loop around the unrolled elements
    cfg.define_knob("compiler", list(cfg.compilers))
    return s, list(wl.args)


__all__ = ["ELEMENTWISE_OPS", "ELEMENTWISE_UNROLL", "STAGE_TEMPLATE", "stage", "stage_args"]
