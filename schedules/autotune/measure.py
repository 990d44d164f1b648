"""Measurement results and the measure-function protocol (no simulator import here).

A measure function is any callable ``measure(task, configs) -> list[MeasureResult]`` (one result
per config, in order), optionally with ``iter_results(task, configs)`` yielding ``(position,
result)`` as they finish. The tuners take one as an argument; this package never imports the
simulator. ``simulator.measure.make_measure`` builds the real one on top of it: lower and emit in
the tuning process, compile and simulate in workers, check the outputs against the task's
expected outputs (``Task.reference``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

ERROR_KINDS = ("build", "wrong_result", "timeout", "trap", "runtime")


@dataclass
class MeasureResult:
    """What measuring one config gave. ``cost`` (cycles / seconds) is set only when valid."""

    config_index: int
    cost: float | None = None
    error: str | None = None  # None | "build" | "wrong_result" | "timeout" | "trap" | "runtime"
    message: str = ""
    timestamp: float = 0.0
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)  # e.g. {"instret": ..., "compiler": ...}

    def __post_init__(self):
        if self.error is not None and self.error not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {self.error!r}; expected one of {ERROR_KINDS}")
        if self.error is not None:
            self.cost = None

    @property
    def valid(self) -> bool:
        return self.error is None and self.cost is not None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> MeasureResult:
        return cls(int(d["config_index"]), None if d.get("cost") is None else float(d["cost"]), d.get("error"),
                   str(d.get("message", "")), float(d.get("timestamp", 0.0)), float(d.get("elapsed", 0.0)),
                   dict(d.get("extra") or {}))


class MeasureFunction(Protocol):
    def __call__(self, task, configs: list) -> list[MeasureResult]: ...


__all__ = ["ERROR_KINDS", "MeasureFunction", "MeasureResult"]
