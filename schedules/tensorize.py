"""Resolve and check the intrinsic given to ``Stage.tensorize``."""

from __future__ import annotations

from tir.errors import ScheduleError
from tir.intrin import TensorIntrin


def candidates(intrinsic) -> list[TensorIntrin]:
    """An Extension offers its ``intrinsics``; a TensorIntrin is itself the only candidate."""
    if isinstance(intrinsic, TensorIntrin):
        return [intrinsic]
    intrins = getattr(intrinsic, "intrinsics", None)
    name = getattr(intrinsic, "name", repr(intrinsic))
    if intrins is None:
        raise ScheduleError(f"tensorize: {name!r} is neither an extension nor a tensor intrinsic")
    if not intrins:
        raise ScheduleError(f"tensorize: extension {name!r} declares no tensor intrinsics")
    return list(intrins)


def check_tensorize(stage, axis, intrinsic) -> TensorIntrin:
    """The first candidate intrinsic whose semantics match the nest under ``axis``; else the first error."""
    pos = stage.leaf_iter_vars.index(axis)
    first_error = None
    for cand in candidates(intrinsic):
        try:
            cand.check(stage, pos)
            return cand
        except ScheduleError as e:
            first_error = first_error or e
    raise first_error
