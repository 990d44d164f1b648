"""TVM-style schedules: ``s = create_schedule(C)``; ``s[C].split(...)``; ``s.cache_write(...)``."""

from .errors import ScheduleError
from .schedule import Schedule, Stage, create_schedule

__all__ = ["Schedule", "ScheduleError", "Stage", "create_schedule"]
