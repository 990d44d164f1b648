"""Grid search: configs in index order, skipping visited ones."""

from __future__ import annotations

from .tuner import Tuner


class GridSearchTuner(Tuner):
    name = "grid"

    def __init__(self, task, seed: int = 0):
        super().__init__(task, seed)
        self._next = 0

    def next_batch(self, n: int):
        out = []
        total = len(self.space)
        while len(out) < n and self._next < total:
            if self._next not in self.visited:
                out.append(self.space.get(self._next))
            self._next += 1
        return out

    def has_next(self) -> bool:
        return super().has_next() and any(i not in self.visited for i in range(self._next, len(self.space)))


__all__ = ["GridSearchTuner"]
