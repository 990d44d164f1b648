"""What :func:`tir.lower.lower` needs from a schedule, declared as structural interfaces.

tir sits below the schedules package and never imports it; ``schedules.Schedule`` and
``schedules.Stage`` satisfy these protocols, and any other object with the same members can be
lowered too. Only the members listed here are read by the lowerer, and it never mutates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .tensor import IterVar, Operation


@runtime_checkable
class IterVarAttrLike(Protocol):
    """Per-axis loop annotations of a stage."""

    kind: str  # "serial" | "unroll" | "vectorize" | "parallel"
    pragmas: Sequence[Any]  # (key, value) pairs emitted as ``#pragma`` lines
    tensorize: Any  # a tir.intrin.TensorIntrin replacing the loops from this axis inward, or None
    # optional (read with getattr, default False): refuse any guard in the tensorized nest
    # tensorize_strict: bool


@runtime_checkable
class StageLike(Protocol):
    """One stage of a schedule: an operation plus its loop transforms and attach point."""

    op: Operation
    attach_type: str  # "root" | "inline" | "scope"
    attach_stage: StageLike | None  # the consumer stage it is computed at ("scope" only)
    attach_ivar: IterVar | None  # the consumer's axis it is computed at ("scope" only)
    is_output: bool
    scope: str  # "global" or a cache scope such as "local"
    leaf_iter_vars: Sequence[IterVar]  # the loop axes, outermost first
    # split relations (parent, outer, inner, factor, nparts, and optionally tail: a
    # tir.partition.TailStrategy, AUTO if absent) and fuse relations (outer, inner, fused), in the
    # order they were applied
    relations: Sequence[Any]
    iter_var_attrs: Mapping[IterVar, IterVarAttrLike]

    @property
    def name(self) -> str: ...


@runtime_checkable
class ScheduleLike(Protocol):
    """A schedule as tir.lower reads it."""

    stages: Sequence[StageLike]  # every stage, producers before consumers
    stage_map: Mapping[int, StageLike]  # ``id(operation)`` -> its stage

    def consumes(self, consumer: StageLike, producer: StageLike) -> bool:
        """Whether ``consumer`` reads ``producer`` directly or through inlined stages."""
        ...
