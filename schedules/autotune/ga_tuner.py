"""Genetic search over the knob choices: genes = ``space.decompose(index)``.

Each generation keeps the ``elite_num`` fittest measured configs, breeds children from parents
drawn with probability proportional to fitness (1 / cost; failed configs have fitness 0) by
uniform crossover, and mutates each gene with ``mutation_prob``. Children already measured are
redrawn; when breeding finds nothing new, unvisited configs are sampled at random.
"""

from __future__ import annotations

import numpy as np

from .tuner import Tuner


class GATuner(Tuner):
    name = "ga"

    def __init__(self, task, pop_size: int = 16, elite_num: int = 3, mutation_prob: float = 0.1, seed: int = 0):
        super().__init__(task, seed)
        self.pop_size = max(2, min(pop_size, len(self.space)))
        self.elite_num = max(0, min(elite_num, self.pop_size))
        self.mutation_prob = mutation_prob
        self.radix = self.space.radix
        self.fitness: dict[int, float] = {}
        self.pending: list[int] = []
        self.generation = 0

    def update(self, configs, results):
        for c, r in zip(configs, results):
            self.fitness[c.index] = 1.0 / r.cost if r.valid and r.cost > 0 else 0.0

    def _breed(self) -> list[int]:
        measured = sorted(self.fitness.items(), key=lambda kv: -kv[1])
        if len(measured) < self.pop_size or all(f == 0.0 for _, f in measured[:self.pop_size]):
            return self.space.sample(self.rng, self.pop_size, exclude=self.visited)
        pop = measured[:self.pop_size]
        genes = [self.space.decompose(i) for i, _ in pop]
        w = np.asarray([f for _, f in pop], dtype=np.float64)
        p = w / w.sum()
        children: list[int] = []
        taken = set(self.visited)
        tries = 0
        while len(children) < self.pop_size and tries < self.pop_size * 20:
            tries += 1
            a, b = self.rng.choice(len(pop), size=2, p=p)
            mask = self.rng.random(len(self.radix)) < 0.5
            child = [ga if m else gb for ga, gb, m in zip(genes[a], genes[b], mask)]
            for k, n in enumerate(self.radix):
                if n > 1 and self.rng.random() < self.mutation_prob:
                    child[k] = int(self.rng.integers(0, n))
            idx = self.space.compose(child)
            if idx not in taken:
                taken.add(idx)
                children.append(idx)
        if len(children) < self.pop_size:
            children += self.space.sample(self.rng, self.pop_size - len(children), exclude=taken)
        return children

    def next_batch(self, n: int):
        out: list[int] = []
        while len(out) < n:
            self.pending = [i for i in self.pending if i not in self.visited and i not in out]
            if not self.pending:
                self.pending = [i for i in self._breed() if i not in out]
                self.generation += 1
                if not self.pending:
                    break
            take = self.pending[:n - len(out)]
            self.pending = self.pending[len(take):]
            out += take
        return [self.space.get(i) for i in out]


__all__ = ["GATuner"]
