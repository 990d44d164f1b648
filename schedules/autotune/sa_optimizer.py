"""Search a config space for the points a cost model scores highest.

``SimulatedAnnealingOptimizer.find_maximums(model, num, exclusive)`` runs ``parallel_size``
annealing chains at once. A chain's state is the vector of per-knob choice indices
(``space.decompose``); all chains move together as rows of one numpy array: each step mutates one
random knob of every chain to another random choice, scores all new points in one call of the
model, and accepts a move with probability ``exp((new - old) / T)``, T falling linearly from
``temp[0]`` to ``temp[1]``. The best ``num`` points seen that are not in ``exclusive`` are kept
in a heap. With ``persistent=True`` the chains resume from where the previous call left them
(the model changes a little between calls, the good regions rarely do).

Spaces of at most ``exhaustive_limit`` points are simply scored in full; any other space, however
many candidates are asked for, is annealed: a call scores at most ``parallel_size * (n_iter + 1)``
points (or ``eval_budget``), so its cost does not grow with the space (1e5-1e8 configs work alike;
indices are int64 mixed-radix vectors). When the chains find fewer distinct points than asked,
the rest are random unvisited configs.

``model`` is a callable ``scores = model(indices)`` (a 1-d integer array in, a float array out,
-inf for points that cannot be built) or an object with a ``predict_indices`` method.
"""

from __future__ import annotations

import heapq

import numpy as np


class ModelOptimizer:
    """Base: find the config indices with the highest predicted score."""

    def find_maximums(self, model, num: int, exclusive) -> list[int]:
        raise NotImplementedError


def _scorer(model):
    if callable(model) and not hasattr(model, "predict_indices"):
        return model
    return model.predict_indices


class _Codec:
    """Vectorized decompose / compose of config indices (mixed radix checked against the space)."""

    def __init__(self, space):
        self.space = space
        self.radix = np.asarray([len(k.choices) for k in space.knobs.values()], dtype=np.int64)
        self.n = int(len(space))
        self.mode = self._detect()

    def _detect(self) -> str:
        r = self.radix
        if len(r) == 0:
            return "loop"
        rng = np.random.default_rng(1234)
        probes = sorted({0, self.n - 1, *rng.integers(0, self.n, 6).tolist()})
        for mode in ("last_fastest", "first_fastest"):
            try:
                if all(self._dec_one(i, mode) == list(self.space.decompose(i)) for i in probes):
                    return mode
            except Exception:  # noqa: BLE001
                break
        return "loop"

    def _dec_one(self, i: int, mode: str) -> list[int]:
        out = []
        order = range(len(self.radix) - 1, -1, -1) if mode == "last_fastest" else range(len(self.radix))
        for k in order:
            out.append(i % int(self.radix[k]))
            i //= int(self.radix[k])
        return out[::-1] if mode == "last_fastest" else out

    def decompose(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if self.mode == "loop":
            return np.asarray([self.space.decompose(int(i)) for i in idx], dtype=np.int64).reshape(len(idx), -1)
        out = np.empty((len(idx), len(self.radix)), dtype=np.int64)
        rest = idx.copy()
        order = range(len(self.radix) - 1, -1, -1) if self.mode == "last_fastest" else range(len(self.radix))
        for k in order:
            out[:, k] = rest % self.radix[k]
            rest //= self.radix[k]
        return out

    def compose(self, pts: np.ndarray) -> np.ndarray:
        if self.mode == "loop":
            return np.asarray([self.space.compose([int(v) for v in p]) for p in pts], dtype=np.int64)
        idx = np.zeros(len(pts), dtype=np.int64)
        order = range(len(self.radix)) if self.mode == "last_fastest" else range(len(self.radix) - 1, -1, -1)
        for k in order:
            idx = idx * self.radix[k] + pts[:, k]
        return idx


class SimulatedAnnealingOptimizer(ModelOptimizer):
    """Parallel simulated annealing over the knob choices of a config space."""

    def __init__(self, space, n_iter: int = 200, temp=(1.0, 0.0), parallel_size: int = 64,
                 persistent: bool = True, early_stop: int = 40, eval_budget: int | None = None, seed: int = 0,
                 exhaustive_limit: int = 1024):
        self.space = space
        self.codec = _Codec(space)
        self.n_iter = int(n_iter)
        self.temp = (float(temp[0]), float(temp[1]))
        self.parallel_size = int(min(parallel_size, max(1, len(space))))
        self.persistent = persistent
        self.early_stop = early_stop
        self.eval_budget = eval_budget
        self.rng = np.random.default_rng(seed)
        self.points: np.ndarray | None = None
        self.exhaustive_limit = int(exhaustive_limit)
        self.n_evaluated = 0

    def _random_points(self, n: int) -> np.ndarray:
        return self.rng.integers(0, self.codec.n, n, dtype=np.int64)

    def _mutate(self, idx: np.ndarray) -> np.ndarray:
        pts = self.codec.decompose(idx)
        radix = self.codec.radix
        movable = np.nonzero(radix > 1)[0]
        if len(movable) == 0:
            return idx.copy()
        k = movable[self.rng.integers(0, len(movable), len(idx))]
        r = radix[k]
        # another choice of knob k: old + 1 + uniform(0, r - 2), modulo r
        step = 1 + (self.rng.random(len(idx)) * (r - 1)).astype(np.int64)
        rows = np.arange(len(idx))
        pts[rows, k] = (pts[rows, k] + step) % r
        return self.codec.compose(pts)

    def find_maximums(self, model, num: int, exclusive) -> list[int]:
        score_fn = _scorer(model)
        exclusive = set(int(i) for i in exclusive)
        n_space = self.codec.n
        num = int(min(num, max(0, n_space - len(exclusive))))
        if num <= 0:
            return []
        # small spaces: scoring everything once beats annealing; larger ones never are (not even when
        # the candidates asked for would cover them): the cost of a call stays bounded
        if n_space <= self.exhaustive_limit:
            cand = np.asarray([i for i in range(n_space) if i not in exclusive], dtype=np.int64)
            scores = np.asarray(score_fn(cand), dtype=np.float64)
            self.n_evaluated += len(cand)
            order = np.lexsort((cand, -scores))
            return [int(cand[i]) for i in order[:num]]

        if self.points is None or not self.persistent or len(self.points) != self.parallel_size:
            points = self._random_points(self.parallel_size)
        else:
            points = self.points
        scores = np.asarray(score_fn(points), dtype=np.float64)
        self.n_evaluated += len(points)

        heap: list[tuple[float, int]] = []  # min-heap of (score, index) of the best num so far
        in_heap: set[int] = set()

        def offer(idx_arr, sc_arr):
            for i, s in zip(idx_arr.tolist(), sc_arr.tolist()):
                if i in exclusive or i in in_heap or not np.isfinite(s):
                    continue
                if len(heap) < num:
                    heapq.heappush(heap, (s, i))
                    in_heap.add(i)
                elif s > heap[0][0]:
                    _, old = heapq.heapreplace(heap, (s, i))
                    in_heap.discard(old)
                    in_heap.add(i)

        offer(points, scores)
        t0, t1 = self.temp
        n_iter = self.n_iter
        if self.eval_budget is not None:
            n_iter = max(1, min(n_iter, self.eval_budget // self.parallel_size - 1))
        stale, last_min = 0, None
        for it in range(n_iter):
            new = self._mutate(points)
            new_scores = np.asarray(score_fn(new), dtype=np.float64)
            self.n_evaluated += len(new)
            offer(new, new_scores)
            t = t0 - (t0 - t1) * (it + 1) / n_iter
            delta = np.where(np.isfinite(new_scores), new_scores, -1e30) - np.where(np.isfinite(scores), scores, -1e30)
            if t > 0:
                with np.errstate(over="ignore"):
                    accept = self.rng.random(len(points)) < np.exp(np.minimum(delta, 0) / t)
            else:
                accept = delta > 0
            accept |= delta > 0
            points = np.where(accept, new, points)
            scores = np.where(accept, new_scores, scores)
            cur_min = heap[0][0] if len(heap) == num else None
            if cur_min is not None and cur_min == last_min:
                stale += 1
                if self.early_stop and stale >= self.early_stop:
                    break
            else:
                stale, last_min = 0, cur_min
        self.points = points
        best = sorted(heap, key=lambda p: (-p[0], p[1]))
        out = [i for _, i in best]
        if len(out) < num:  # fill with random unvisited points (a bounded number of draws)
            seen = set(out) | exclusive
            tries = 0
            while len(out) < num and len(seen) < n_space and tries < 64 * num:
                tries += 1
                i = int(self.rng.integers(0, n_space))
                if i not in seen:
                    seen.add(i)
                    out.append(i)
        return out


__all__ = ["ModelOptimizer", "SimulatedAnnealingOptimizer"]
