"""Random search: distinct configs drawn uniformly from the unvisited part of the space."""

from __future__ import annotations

from .tuner import Tuner


class RandomTuner(Tuner):
    name = "random"

    def next_batch(self, n: int):
        return [self.space.get(i) for i in self.space.sample(self.rng, n, exclude=self.visited)]


__all__ = ["RandomTuner"]
