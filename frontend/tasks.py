"""The tuning tasks of a model: one per distinct kernel (as AutoTVM's ``extract_from_program``).

``extract_tasks(graph, target="vexriscv", extensions=()) -> list[autotune.Task]``
    Every node is mapped to its operator call (:func:`frontend.lowering.node_op`, what the compiler
    and the numpy reference use); each kernel with a template (``qdense``, ``qconv2d_nhwc``,
    ``qdepthwise_conv2d_nhwc``: ``schedules.autotune.qnn_templates``) gives the task of its shape
    signature. Kernels with the same signature share one task (kws: the four depthwise layers are one
    task, the four pointwise ones another). Each task gets ``count`` (the kernels using it),
    ``kernels`` (their nodes), ``macs`` (of one kernel) and ``weight`` (``count * macs``: a share of a
    tuning budget). Order: first use in the graph.

``kernel_task(op_name, attrs, extensions, target) -> Task | None``
    The task of one kernel (None for an operator without a template); what ``compile_graph`` looks
    records up with.
"""

from __future__ import annotations

import ops
from frontend.compile import ALIAS_OPS, _extensions, _where
from frontend.errors import FrontendError
from frontend.graph import Graph, int8_core
from schedules import autotune
from schedules.autotune import qnn_templates


def kernel_task(op_name: str, attrs: dict, extensions=(), target: str = "vexriscv"):
    """The (cached) task of a kernel, or None when its operator has no template."""
    args = qnn_templates.task_args(op_name, attrs, _extensions(extensions))
    if args is None:
        return None
    return autotune.create_task(op_name, args, target)


def extract_tasks(graph: Graph, target: str = "vexriscv", extensions=()) -> list:
    """The distinct tasks of ``graph``'s kernels; see the module docstring."""
    from frontend.lowering import node_op

    exts = _extensions(extensions)
    core = int8_core(graph)
    tasks: dict[str, autotune.Task] = {}
    for node in core.nodes:
        if node.op in ALIAS_OPS:
            continue
        call = node_op(core, node)
        try:
            args = qnn_templates.task_args(call.op_name, call.attrs, exts)
        except ops.OpError as exc:
            raise FrontendError(f"{_where(node)}: operator {call.op_name!r}: {exc}") from exc
        if args is None:
            continue
        key = autotune.task.task_key(call.op_name, args, target)
        t = tasks.get(key)
        if t is None:
            # a Task of its own (not the process-wide cached one), so that its counts are this model's
            t = tasks[key] = autotune.Task(call.op_name, args, target)
            t.count, t.kernels = 0, []
            t.macs = int(ops.get(call.op_name).macs(**call.attrs))
        t.count += 1
        t.kernels.append(_where(node))
    out = list(tasks.values())
    for t in out:
        t.weight = t.count * t.macs
    return out


__all__ = ["extract_tasks", "kernel_task"]
