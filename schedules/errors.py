"""Errors raised by the schedules package: tir's ScheduleError (an invalid schedule primitive, named
with its stage and axis) and DTypeError.

They are defined in tir.errors, the root of the one hierarchy (every error is a tir.TirError), because
tir.lower reports schedule mistakes with the same class; ``schedules.ScheduleError`` is this one.
The autotuner's errors live in schedules.autotune (AutotuneError).
"""

from tir.errors import DTypeError, ScheduleError

__all__ = ["DTypeError", "ScheduleError"]
