"""XGBTuner: a tuner guided by a learned cost model (xgboost) over features of the lowered IR.

How it proposes configs:

1. the first ``plan_size`` trials come from a static cycle estimate of the lowered IR (memory
   accesses, operations, intrinsic busy cycles, loop overhead; ``initial="estimate"``, the
   default) or are random (``initial="random"``, AutoTVM's way). The estimate cannot tell
   configs with the same IR apart (they differ in the compiler knob only), so it plans one
   config per distinct IR; compilers are ranked once a model has results to learn them from;
2. each time ``plan_size`` new results have arrived, an xgboost model is fitted on every result so
   far (features from ``features.extract_features`` of each lowered config: loop nest, buffer
   access strides and reuse, guards, and the intrinsic calls with their latency and issue
   interval, so the CFU work of a tensorized config is visible to the model; failed builds and
   wrong results are kept as the poorest examples);
3. simulated annealing over the knobs (``sa_optimizer``) finds the configs the model scores
   highest, excluding those already measured; with ``diversity_filter_ratio`` it first collects
   ``ratio * plan_size`` candidates and picks ``plan_size`` of them greedily, trading predicted
   score against knob values not yet covered by the picks;
4. the next batches are taken from that plan, each pick replaced by a random unvisited config
   with probability ``epsilon``.

Pre-screening (``prescreen=True``, with IR features): a config that does not lower (e.g. a tile
larger than the CFU's accumulator bank) is a build error known without measuring, and a config
whose lowered IR and compiler equal those of a measured or already picked config (e.g. an unroll
knob that a tensorized nest ignores) would measure the same; both are skipped as long as other
configs remain, in the random picks and in the plan alike.

Transfer learning: ``transfer`` names records (a path, a list of paths, or a list of record
dicts) of earlier tasks; those of the same template (other shapes) become extra training groups,
down-weighted (``transfer_weight``), so even the first model fit has a good prior, and with
enough prior data the first batch already comes from the model.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from .cost_model import XGBoostCostModel
from .features import FeatureCache, feature_names
from .sa_optimizer import SimulatedAnnealingOptimizer
from .tuner import Tuner

log = logging.getLogger(__name__)


class XGBTuner(Tuner):
    """Model-guided tuner; see the module docstring."""

    name = "xgb"

    def __init__(self, task, plan_size: int = 16, feature_type: str = "itervar", loss_type: str = "rank",
                 optimizer="sa", diversity_filter_ratio: float | None = None, epsilon: float = 0.05,
                 seed: int = 0, transfer=None, transfer_weight: float = 0.3, num_threads: int = 1,
                 sa_params: dict | None = None, prescreen: bool = True, initial: str = "estimate"):
        super().__init__(task, seed=seed)
        self.space = task.config_space
        self.n_space = len(self.space)
        self.plan_size = int(plan_size)
        self.epsilon = float(epsilon)
        self.diversity_filter_ratio = diversity_filter_ratio
        self.xrng = np.random.default_rng(seed)
        self.features = FeatureCache(task, feature_type)
        self.model = XGBoostCostModel(loss_type, num_threads=num_threads, seed=seed)
        if optimizer == "sa":
            params = dict(n_iter=120, parallel_size=64, early_stop=30, persistent=True, seed=seed)
            params.update(sa_params or {})
            self.optimizer = SimulatedAnnealingOptimizer(self.space, **params)
        elif hasattr(optimizer, "find_maximums"):
            self.optimizer = optimizer
        else:
            raise ValueError(f"optimizer must be 'sa' or a ModelOptimizer, got {optimizer!r}")
        self.transfer_weight = float(transfer_weight)
        self.prior: list[tuple[np.ndarray, list]] = []
        self.measured: list[int] = []
        self.costs: list[float | None] = []
        self.proposed: set[int] = set()
        self.plan: list[int] = []
        self.prescreen = bool(prescreen) and feature_type == "itervar"
        if initial not in ("estimate", "random"):
            raise ValueError(f"initial must be 'estimate' or 'random', got {initial!r}")
        self.initial = initial
        self._est_col = feature_names().index("g.log_est_cycles")
        self.measured_sigs: set = set()
        self.skipped: set[int] = set()
        self.plan_pos = 0
        self.since_fit = 0
        self.n_fits = 0
        self.n_transfer_records = 0
        if transfer is not None:
            self.load_transfer(transfer)

    # the model as a function of config indices --------------------------------------------------
    def predict_indices(self, indices) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        x, ok = self.features.matrix(indices.tolist())
        out = np.full(len(indices), -np.inf)
        if ok.any():
            if self.model.trained:
                out[ok] = self.model.predict(x)
            else:  # the analytic prior: fewer estimated cycles is better
                out[ok] = -x[:, self._est_col]
        return out

    @property
    def _guided(self) -> bool:
        """Whether picks come from a plan: a trained model, or the static estimate before one exists."""
        return self.model.trained or (self.initial == "estimate" and self.features.feature_type == "itervar")

    # Tuner interface ------------------------------------------------------------------------------
    def _taken(self) -> set[int]:
        return self.proposed | set(getattr(self, "visited", ()) or ())

    def has_next(self) -> bool:
        return len(self._taken()) < self.n_space

    def _useful(self, idx: int, batch_sigs: set) -> bool:
        """Worth measuring: it lowers, and nothing with the same IR and compiler is measured or planned."""
        if not self.prescreen:
            return True
        sig = self.features.signature(idx)
        if sig is None:
            self.skipped.add(idx)  # a build error known without measuring
            return False
        if sig in self.measured_sigs or sig in batch_sigs:
            self.skipped.add(idx)
            return False
        return True

    def _random_unvisited(self, taken: set[int], batch_sigs: set, tries: int = 64) -> int | None:
        if len(taken) >= self.n_space:
            return None
        fallback = None
        for _ in range(tries):
            i = int(self.xrng.integers(0, self.n_space))
            if i in taken:
                continue
            if fallback is None:
                fallback = i
            if i not in self.skipped and self._useful(i, batch_sigs):
                return i
        if fallback is not None:
            return fallback
        rest = [i for i in range(self.n_space) if i not in taken]
        return int(rest[self.xrng.integers(0, len(rest))]) if rest else None

    def next_batch(self, n: int) -> list:
        if self._guided and self.plan_pos >= len(self.plan):
            self._plan()  # the plan ran out before plan_size new results: plan again with the same model
        taken = self._taken()
        out: list[int] = []
        batch_sigs: set = set()
        while len(out) < n:
            idx = None
            use_model = self._guided and self.xrng.random() >= self.epsilon
            while use_model and self.plan_pos < len(self.plan):
                cand = self.plan[self.plan_pos]
                self.plan_pos += 1
                if cand not in taken and self._useful(cand, batch_sigs):
                    idx = cand
                    break
            if idx is None:
                idx = self._random_unvisited(taken, batch_sigs)
            if idx is None:
                break
            taken.add(idx)
            out.append(idx)
            if self.prescreen:
                batch_sigs.add(self.features.signature(idx))
        self.proposed.update(out)
        return [self.space.get(i) for i in out]

    def update(self, configs, results) -> None:
        for cfg, res in zip(configs, results):
            idx = int(cfg.index)
            self.proposed.add(idx)
            self.measured.append(idx)
            valid = bool(getattr(res, "valid", res.cost is not None)) and res.cost is not None
            self.costs.append(float(res.cost) if valid else None)
            if self.prescreen:
                self.measured_sigs.add(self.features.signature(idx))
        self.since_fit += len(configs)
        if self.since_fit >= self.plan_size and any(c is not None for c in self.costs):
            self.since_fit = 0
            self._refit_and_plan()

    # model fit and planning -----------------------------------------------------------------------
    def _refit_and_plan(self) -> None:
        x, ok = self.features.matrix(self.measured)
        ys = [c for c, k in zip(self.costs, ok) if k]
        if len(ys) < 2:
            return
        self.model.fit_with_history(x, ys, self.prior, prior_weight=self.transfer_weight)
        self.n_fits += 1
        self._plan()

    def _plan(self) -> None:
        taken = self._taken() | self.skipped
        ratio = self.diversity_filter_ratio
        want = self.plan_size if not ratio else int(self.plan_size * ratio)
        # the static estimate sees the IR only: configs that differ in nothing but the compiler (or
        # in knobs the IR ignores) tie, so its plan takes one config per IR; a model ranks compilers
        # once it has results
        per_ir = not self.model.trained and self.prescreen
        # extra candidates: duplicates of measured or of better-ranked candidates are dropped
        n = want * (4 if self.prescreen else 1)
        while True:
            cands = self.optimizer.find_maximums(self, n, taken)
            if not self.prescreen:
                break
            sigs, irs, kept = set(self.measured_sigs), set(), []
            for c in cands:
                sig = self.features.signature(c)
                if sig is None or sig in sigs:
                    self.skipped.add(c)
                    continue
                if per_ir:
                    ir = self.features.ir_signature(c)
                    if ir in irs:
                        continue  # not skipped: a later plan may take it
                    irs.add(ir)
                sigs.add(sig)
                kept.append(c)
            if len(kept) >= want or len(cands) < n or n >= 64 * want:
                cands = kept[:want]
                break
            n *= 4
        if ratio and len(cands) > self.plan_size:
            cands = self._diversity_pick(cands, self.plan_size)
        self.plan = list(cands)
        self.plan_pos = 0

    def _diversity_pick(self, cands: list[int], k: int, weight: float = 1.0) -> list[int]:
        """Greedy submodular pick: predicted rank score plus the share of knob values not yet covered."""
        scores = self.predict_indices(cands)
        order = np.argsort(-scores, kind="stable")
        rank_score = np.empty(len(cands))
        rank_score[order] = 1.0 - np.arange(len(cands)) / max(1, len(cands))
        pts = [list(self.space.decompose(int(c))) for c in cands]
        n_knobs = max(1, len(pts[0]) if pts else 1)
        covered: list[set] = [set() for _ in range(n_knobs)]
        chosen: list[int] = []
        left = list(range(len(cands)))
        while left and len(chosen) < k:
            best, best_gain = None, -np.inf
            for j in left:
                new = sum(1 for d, v in enumerate(pts[j]) if v not in covered[d])
                gain = rank_score[j] + weight * new / n_knobs
                if gain > best_gain:
                    best, best_gain = j, gain
            chosen.append(best)
            left.remove(best)
            for d, v in enumerate(pts[best]):
                covered[d].add(v)
        return [int(cands[j]) for j in chosen]

    # transfer learning ----------------------------------------------------------------------------
    def load_transfer(self, transfer, min_records: int = 8) -> int:
        """Use records of earlier tasks of the same template as down-weighted training groups.

        ``transfer``: a records path, a list of paths, or a list of ``records.Record`` objects (or their
        JSON dicts). Records of this very task are skipped (``tune(records=...)`` resumes those).
        Returns the number of records used.
        """
        from .task import create_task

        groups: dict[str, list] = {}
        for rec in _collect_records(transfer):
            if rec.task == self.task.key or rec.template != self.task.name:
                continue
            groups.setdefault(rec.task, []).append(rec)
        used = 0
        for key, recs in sorted(groups.items()):
            r0 = recs[0]
            try:
                task = create_task(r0.template, tuple(r0.args), r0.target)
            except Exception as e:  # noqa: BLE001 - a task that cannot be re-created: skip its records
                log.info("transfer: cannot re-create task %s: %s", key, e)
                continue
            feats = FeatureCache(task, self.features.feature_type)
            xs, ys = [], []
            for rec in recs:
                try:
                    idx = task.config_space.from_json(rec.config).index
                except Exception:  # noqa: BLE001 - the template's space changed
                    continue
                f = feats.get(idx)
                if f is None:
                    continue
                xs.append(f)
                ys.append(rec.result.cost if rec.result.valid else None)
            if len(xs) >= 2 and any(c is not None for c in ys):
                self.prior.append((np.vstack(xs), ys))
                used += len(xs)
        self.n_transfer_records += used
        if used >= min_records:
            # a prior model: the first batch already comes from it
            width = self.prior[0][0].shape[1]
            self.model.fit_with_history(np.zeros((0, width), np.float32), [], self.prior,
                                        prior_weight=self.transfer_weight)
            if self.model.trained:
                self.n_fits += 1
                self._plan()
        return used


def _collect_records(transfer) -> list:
    from .records import Record, load_records, parse_record

    if isinstance(transfer, (str, os.PathLike)):
        transfer = [transfer]
    out: list = []
    for item in transfer:
        if isinstance(item, Record):
            out.append(item)
        elif isinstance(item, dict):
            out.append(parse_record(json.dumps(item)))
        else:
            recs, _problems = load_records(item)
            out.extend(recs)
    return out


__all__ = ["XGBTuner"]
