"""TVM-style schedules: ``s = create_schedule(C)``; ``s[C].split(...)``; ``s.cache_write(...)``."""

from .errors import ScheduleError
from .schedule import Schedule, Stage, TailStrategy, create_schedule

__all__ = ["Schedule", "ScheduleError", "Stage", "TailStrategy", "create_schedule"]
