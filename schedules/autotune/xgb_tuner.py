"""Model-based tuners: ``ModelBasedTuner`` (a cost model, a model optimizer, plans) and ``XGBTuner``.

How they propose configs (AutoTVM's scheme, kept cheap on spaces of 1e5-1e8 configs):

1. the first ``plan_size`` trials are random (``initial="random"``, ModelBasedTuner's default, as
   AutoTVM starts), or come from the static cycle estimate of the lowered IR (``initial="estimate"``,
   needs ``prior=True``: memory accesses, operations, intrinsic busy cycles, loop overhead; it
   ranks a random sample of ``2 * candidate_ratio * plan_size`` configs and, two steps of hill
   climbing on it, the 1-knob neighbours of its best, taking one config per distinct IR, since it
   cannot tell compiler variants apart);
2. each time ``plan_size`` new results have arrived, the cost model is fitted on every result so
   far, twice: on the full features of ``features.extract_features`` (loop nest, per-buffer bytes,
   reuse distance against the 4 KiB D-cache and estimated misses, register pressure, intrinsic
   counts, latencies and issue intervals, knob values) and on the knob features alone, which
   need no lowering (failed builds and wrong results are kept as the poorest examples);
3. the model optimizer (simulated annealing over the knobs, ``sa_optimizer``) searches the whole
   space with the knob model, at a cost bounded by its iterations and chains whatever the size
   of the space, and returns ``candidate_ratio * plan_size`` candidates; with ``plan_size / 2``
   random configs added (exploration; ``plan_size`` with the prior, which ranks them without any
   result) they are lowered (lazily, cached by IR: ``FeatureCache``) and ranked by the full model.
   So a plan lowers at most ``(candidate_ratio + 1) * plan_size`` (plus the neighbours below)
   configs, never the space (before a model exists, the estimate ranks a random sample of
   ``2 * candidate_ratio * plan_size``, or the whole space when it has at most
   ``ESTIMATE_WHOLE_SPACE`` configs: a few hundred IRs, a few seconds of lowering, and the sample
   misses the best no-extension matmul 64^3 tile: 873,506 cycles instead of 814,248);
4. with ``prior=True`` the static estimate is blended into that ranking: score = (1 - alpha) *
   model rank + alpha * estimate rank, alpha = rho_prior / (rho_prior + rho_model) from the rank
   correlation with the measured costs of the estimate and of the model's 3-fold cross-validated
   predictions (so the prior fades as the model learns). With ``prior=False`` the estimate is
   neither blended in nor a feature (``features.PRIOR_FEATURES`` are blanked): the model learns
   from raw features only;
   With ``neighbors=k`` the candidates also hold every 1-knob neighbour (compiler variants included)
   of the ``k`` best configs measured so far, ranked by the full model like the rest: a local search
   around what already ran fast (opt-in; ``benchmarks/tuner_efficiency.py``'s ``xgb_local``);
5. with ``diversity_filter_ratio`` the ranking keeps ``ratio * plan_size`` candidates and picks
   ``plan_size`` of them greedily, trading score against knob values not yet covered; the next
   batches are taken from the plan, each pick replaced by a random unvisited config with
   probability ``epsilon``.

What drove each pick is kept: ``pick_source[index]`` is ``"random"``, ``"prior"`` (initial plan
of the estimate, or a pick the estimate's top ranks have and the model's do not), ``"model"``
(among the model's own top ``plan_size``), ``"both"`` or ``"blend"`` (only the blend ranks it
that high); records get it as ``result.extra["tuner_pick"]`` and ``report()`` (also
``TuneResult.report``) sums it up with alpha and the correlations of every plan.

Pre-screening (``prescreen=True``, with IR features): a config that does not lower (e.g. a tile
larger than the CFU's accumulator bank) is a build error known without measuring, and a config
whose lowered IR and compiler equal those of a measured or already picked config (e.g. an unroll
knob that a tensorized nest ignores) would measure the same; both are skipped as long as other
configs remain, in the random picks and in the plan alike.

Transfer learning: ``transfer`` names records (a path, a list of paths, or a list of record
dicts) of earlier tasks; those of the same template (other shapes) become extra training groups,
down-weighted (``transfer_weight``), so even the first model fit has a good prior, and with
enough prior data the first batch already comes from the model. Records measured under another
timing of their target (``records.TimingProblem``; this task's own included, which its resume
measures again) are transfer data too: cycles under 0 or 1 wait state rank configs alike, and only
the ranking within a group is learnt; each timing is a group of its own, so costs of two timings are
never compared.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os

import numpy as np

from .cost_model import CostModel, XGBoostCostModel, rank_correlation
from .features import MAX_KNOB_FEATS, PRIOR_FEATURES, FeatureCache, feature_names
from .sa_optimizer import ModelOptimizer, SimulatedAnnealingOptimizer
from .space import COMPILER_KNOB, AutotuneError
from .tuner import Tuner

log = logging.getLogger(__name__)

INITIAL_CHOICES = ("random", "estimate")
#: spaces up to this many configs are ranked whole by the estimate start (module docstring, 1.)
ESTIMATE_WHOLE_SPACE = 2048
PICK_SOURCES = ("random", "prior", "model", "both", "blend")


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Normalized ranks in [0, 1], 1 = best (highest score); ties share the lower rank."""
    n = len(scores)
    if n <= 1:
        return np.ones(n)
    order = np.argsort(np.argsort(scores, kind="stable"), kind="stable")
    return order / (n - 1)


def _spawn(model: CostModel) -> CostModel:
    """An untrained model of the same kind and parameters."""
    spawn = getattr(model, "spawn", None)
    if spawn is not None:
        return spawn()
    m = copy.deepcopy(model)
    if hasattr(m, "booster"):
        m.booster = None
    return m


class ModelBasedTuner(Tuner):
    """A tuner guided by a cost model over features of the configs; see the module docstring.

    ``cost_model``: a ``cost_model.CostModel`` (trained on this task's results as they arrive);
    ``model_optimizer``: ``"sa"`` or a ``sa_optimizer.ModelOptimizer`` (searches the space with the
    knob-feature model); ``plan_size``: configs per plan (and results between fits);
    ``diversity_filter_ratio``: see the module docstring.
    """

    name = "model"

    def __init__(self, task, cost_model: CostModel, model_optimizer="sa", plan_size: int = 64,
                 diversity_filter_ratio: float | None = None, *, feature_type: str = "itervar",
                 epsilon: float = 0.05, seed: int = 0, prior: bool = True, initial: str = "random",
                 prescreen: bool = True, candidate_ratio: int = 2, sa_params: dict | None = None,
                 transfer=None, transfer_weight: float = 0.3, neighbors: int = 0):
        super().__init__(task, seed=seed)
        if initial not in INITIAL_CHOICES:
            raise AutotuneError(f"initial must be one of {INITIAL_CHOICES}, got {initial!r}")
        if initial == "estimate" and not prior:
            raise AutotuneError("initial='estimate' starts from the static estimate: it needs prior=True")
        self.space = task.config_space
        self.n_space = len(self.space)
        self.plan_size = max(1, int(plan_size))
        self.epsilon = float(epsilon)
        self.diversity_filter_ratio = diversity_filter_ratio
        self.candidate_ratio = max(1, int(candidate_ratio))
        self.neighbors = max(0, int(neighbors))
        self.xrng = np.random.default_rng(seed)
        self.features = FeatureCache(task, feature_type)
        self.model = cost_model
        self.knob_model = _spawn(cost_model) if feature_type == "itervar" else cost_model
        if model_optimizer == "sa":
            params = dict(n_iter=120, parallel_size=64, early_stop=30, persistent=True, seed=seed)
            params.update(sa_params or {})
            self.optimizer = SimulatedAnnealingOptimizer(self.space, **params)
        elif isinstance(model_optimizer, ModelOptimizer) or hasattr(model_optimizer, "find_maximums"):
            self.optimizer = model_optimizer
        else:
            raise ValueError(f"model_optimizer must be 'sa' or a ModelOptimizer, got {model_optimizer!r}")
        self.use_prior = bool(prior) and feature_type == "itervar"
        self.initial = initial
        self.prescreen = bool(prescreen) and feature_type == "itervar"
        names = feature_names()
        self._est_col = names.index("g.log_est_cycles")
        self._prior_cols = [names.index(n) for n in PRIOR_FEATURES]
        self.transfer_weight = float(transfer_weight)
        self.prior: list[tuple[np.ndarray, list]] = []  # transfer-learning groups (not the static prior)
        self.measured: list[int] = []
        self.costs: list[float | None] = []
        self.proposed: set[int] = set()
        self.plan: list[int] = []
        self.plan_pos = 0
        self.measured_sigs: set = set()
        self.skipped: set[int] = set()
        self.since_fit = 0
        self.n_fits = 0
        self.n_transfer_records = 0
        self.n_transfer_stale = 0  # of those, measured under another timing of their target
        self.alpha = 0.5 if self.use_prior else 0.0  # weight of the static estimate in the ranking
        self.plan_log: list[dict] = []
        self.pick_source: dict[int, str] = {}
        self._plan_source: dict[int, str] = {}
        self._fit_stats: dict = {}
        if transfer is not None:
            self.load_transfer(transfer)

    # features as the models see them ------------------------------------------------------------
    def _x(self, x: np.ndarray) -> np.ndarray:
        """Full features with the static estimate blanked when the prior is off."""
        if not self.use_prior and self.features.feature_type == "itervar" and len(x):
            x = x.copy()
            x[:, self._prior_cols] = 0.0
        return x

    def _knob_x(self, x: np.ndarray) -> np.ndarray:
        return x[:, -MAX_KNOB_FEATS:] if self.features.feature_type == "itervar" else x

    def knob_scores(self, indices) -> np.ndarray:
        """Scores of the knob model (no lowering): what the optimizer searches the space with."""
        indices = np.asarray(indices, dtype=np.int64)
        if not self.knob_model.trained:
            return np.zeros(len(indices))
        return np.asarray(self.knob_model.predict(self.features.knob_matrix(indices)), dtype=np.float64)

    def predict_indices(self, indices) -> np.ndarray:
        """Scores of the full model (lowering what is not cached; -inf: does not lower); before a fit,
        the static estimate (fewer estimated cycles is better) or zeros without the prior."""
        indices = np.asarray(indices, dtype=np.int64)
        x, ok = self.features.matrix(indices.tolist())
        out = np.full(len(indices), -np.inf)
        if ok.any():
            if self.model.trained:
                out[ok] = self.model.predict(self._x(x))
            elif self.use_prior and self.features.feature_type == "itervar":
                out[ok] = -x[:, self._est_col]
            else:
                out[ok] = 0.0
        return out

    @property
    def _guided(self) -> bool:
        """Whether picks come from a plan: a trained model, or the static estimate before one exists."""
        return self.model.trained or (self.initial == "estimate" and self.use_prior)

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
        if self.n_space > 1 << 22:  # a huge space that random draws keep missing: nothing left worth a scan
            return None
        rest = np.setdiff1d(np.arange(self.n_space, dtype=np.int64), np.fromiter(taken, np.int64, len(taken)))
        return int(rest[self.xrng.integers(0, len(rest))]) if len(rest) else None

    def next_batch(self, n: int) -> list:
        if self._guided and self.plan_pos >= len(self.plan):
            self._plan()  # the plan ran out before plan_size new results: plan again with the same model
        taken = self._taken()
        out: list[int] = []
        batch_sigs: set = set()
        while len(out) < n:
            idx, source = None, "random"
            use_model = self._guided and self.xrng.random() >= self.epsilon
            while use_model and self.plan_pos < len(self.plan):
                cand = self.plan[self.plan_pos]
                self.plan_pos += 1
                if cand not in taken and self._useful(cand, batch_sigs):
                    idx, source = cand, self._plan_source.get(cand, "model")
                    break
            if idx is None:
                idx = self._random_unvisited(taken, batch_sigs)
            if idx is None:
                break
            taken.add(idx)
            out.append(idx)
            self.pick_source[idx] = source
            if self.prescreen:
                batch_sigs.add(self.features.signature(idx))
        self.proposed.update(out)
        return [self.space.get(i) for i in out]

    def pick_info(self, config) -> dict:
        src = self.pick_source.get(int(config.index))
        if src is None:
            return {}
        return {"source": src, "alpha": round(float(self.alpha), 4), "n_fits": self.n_fits}

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
        x = self._x(x)
        self.model.fit_with_history(x, ys, self.prior, prior_weight=self.transfer_weight)
        if self.knob_model is not self.model:
            # the knob model sees every measured config, also those that do not lower (as the poorest)
            kx = self.features.knob_matrix(self.measured)
            kprior = [(self._knob_x(px), py) for px, py in self.prior]
            self.knob_model.fit_with_history(kx, list(self.costs), kprior, prior_weight=self.transfer_weight)
        self.n_fits += 1
        self._fit_stats = self._weigh_prior(x, ys)
        self._plan()

    def _weigh_prior(self, x: np.ndarray, ys: list) -> dict:
        """alpha from how well the estimate and the model (3-fold cross-validated) rank the measured costs."""
        costs = np.asarray([np.inf if c is None else c for c in ys], dtype=np.float64)
        valid = np.isfinite(costs)
        stats: dict = {"n_train": int(len(ys))}
        rho_m = math.nan
        if valid.sum() >= 9:
            folds = self.xrng.permutation(len(ys)) % 3
            pred = np.zeros(len(ys))
            for f in range(3):
                tr, te = folds != f, folds == f
                m = _spawn(self.model)
                m.fit(x[tr], [ys[i] for i in np.nonzero(tr)[0]])
                if m.trained:
                    pred[te] = m.predict(x[te])
            rho_m = rank_correlation(pred, ys)
        stats["rho_model_cv"] = None if math.isnan(rho_m) else round(float(rho_m), 4)
        if self.use_prior:
            rho_p = rank_correlation(-x[:, self._est_col], ys)
            stats["rho_prior"] = None if math.isnan(rho_p) else round(float(rho_p), 4)
            a = max(0.0, 0.0 if math.isnan(rho_p) else rho_p)
            b = max(0.0, 0.0 if math.isnan(rho_m) else rho_m)
            self.alpha = a / (a + b) if a + b > 0 else 0.5
        else:
            self.alpha = 0.0
        stats["alpha"] = round(float(self.alpha), 4)
        return stats

    def _candidates(self, taken: set[int], want: int) -> list[int]:
        """Candidates of a plan: the optimizer's best under the knob model plus random exploration,
        or (no model yet) a random sample; never more than ``2 * candidate_ratio * want``."""
        if self.model.trained:  # exploration; the prior, when on, ranks these well without any result
            n_rand = want if self.use_prior else max(1, want // 2)
        elif self._whole_estimate():
            return [i for i in range(self.n_space) if i not in taken]
        else:
            n_rand = 2 * self.candidate_ratio * want
        out: list[int] = []
        if self.model.trained:
            n_opt = self.candidate_ratio * want
            scorer = self.knob_scores if self.knob_model.trained else self.predict_indices
            out = [int(i) for i in self.optimizer.find_maximums(scorer, n_opt, taken)]
        if self.model.trained and self.neighbors:
            have = set(out)
            out += [i for i in self._neighbours_of_best(self.neighbors) if i not in taken and i not in have]
        seen = set(out) | taken
        out += self.space.sample(self.xrng, n_rand, exclude=seen) if len(seen) < self.n_space else []
        return out

    def _neighbours_of_best(self, k: int) -> list[int]:
        """Every 1-knob neighbour of the ``k`` fastest configs measured so far (module docstring, 3.)."""
        done = sorted((c, i) for i, c in zip(self.measured, self.costs) if c is not None)
        out: dict[int, None] = {}
        for _, best in done[:k]:
            out.update(dict.fromkeys(i for *_, i in self.space.neighbours(best)))
        return list(out)

    def _plan(self) -> None:
        taken = self._taken() | self.skipped
        ratio = self.diversity_filter_ratio
        want = self.plan_size if not ratio else int(self.plan_size * ratio)
        cands = self._candidates(taken, want)
        if not self.model.trained and self.use_prior and not self._whole_estimate():
            cands = self._climb_prior(cands, taken, want)
        # the static estimate sees the IR only: configs that differ in nothing but the compiler (or
        # in knobs the IR ignores) tie, so its plan takes one config per IR; a model ranks compilers
        # once it has results
        per_ir = not self.model.trained and self.prescreen
        if self.prescreen:
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
            cands = kept
        if not cands:
            self.plan, self.plan_pos = [], 0
            return
        scores, r_model, r_prior = self._rank(cands)
        order = np.argsort(-scores, kind="stable")
        ranked = [int(cands[i]) for i in order[:want]]
        if ratio and len(ranked) > self.plan_size:
            ranked = self._diversity_pick(ranked, self.plan_size, scores={int(cands[i]): scores[i] for i in order})
        k = min(self.plan_size, len(cands))
        top_m = {int(cands[i]) for i in np.argsort(-r_model, kind="stable")[:k]} if r_model is not None else set()
        top_p = {int(cands[i]) for i in np.argsort(-r_prior, kind="stable")[:k]} if r_prior is not None else set()
        source = {}
        for c in ranked:
            if not self.model.trained:
                source[c] = "prior"
            elif c in top_m and c in top_p:
                source[c] = "both"
            elif c in top_m:
                source[c] = "model"
            elif c in top_p:
                source[c] = "prior"
            else:
                source[c] = "blend"
        self._plan_source.update(source)
        self.plan = ranked
        self.plan_pos = 0
        entry = {"fit": self.n_fits, "n_candidates": len(cands), "n_lowered": self.features.n_lowered,
                 "alpha": round(float(self.alpha), 4) if self.model.trained else (1.0 if self.use_prior else 0.0)}
        entry.update({k2: v for k2, v in self._fit_stats.items() if k2 != "alpha"})
        entry["picks"] = {s: sum(1 for v in source.values() if v == s) for s in PICK_SOURCES if s != "random"}
        self.plan_log.append(entry)

    def _whole_estimate(self) -> bool:
        """Whether the estimate start ranks the whole (small) space instead of a sample."""
        return self.initial == "estimate" and self.use_prior and self.n_space <= ESTIMATE_WHOLE_SPACE

    def _climb_prior(self, cands: list[int], taken: set[int], want: int, rounds: int = 2) -> list[int]:
        """Before any result: improve the random sample by the static estimate, by ``rounds`` steps of
        hill climbing: the 1-knob neighbours of the best ``want // 2`` (compiler variants aside: the
        estimate cannot tell them apart) join the candidates. At most ``rounds * want / 2 * sum(radix
        - 1)`` more lowerings, whatever the size of the space."""
        knobs = list(self.space.knobs)
        skip = {knobs.index(COMPILER_KNOB)} if COMPILER_KNOB in knobs else set()
        pool = list(dict.fromkeys(int(c) for c in cands))
        expanded: set[int] = set()
        for _ in range(rounds):
            est = self.predict_indices(pool)
            top = [pool[i] for i in np.argsort(-est, kind="stable")[: max(1, want // 2)] if np.isfinite(est[i])]
            new = []
            seen = set(pool) | taken
            for c in top:
                if c in expanded:
                    continue
                expanded.add(c)
                for *_, nb in self.space.neighbours(c, skip):
                    if nb not in seen:
                        seen.add(nb)
                        new.append(nb)
            if not new:
                break
            pool += new
        return pool

    def _rank(self, cands: list[int]):
        """(blended scores, model ranks or None, prior ranks or None) of lowered candidates."""
        x, ok = self.features.matrix(cands)
        r_model = r_prior = None
        if self.features.feature_type == "itervar":
            if not ok.all():  # candidates that do not lower (prescreen off): last
                full = np.full((len(cands), x.shape[1]), np.nan, dtype=np.float32)
                full[ok] = x
                x = full
            est = -np.nan_to_num(x[:, self._est_col], nan=np.inf) if self.use_prior else None
        else:
            est = None
        if self.model.trained:
            pred = np.full(len(cands), -np.inf)
            if ok.any():
                xs = x[ok] if self.features.feature_type == "itervar" else x
                pred[ok] = self.model.predict(self._x(xs))
            r_model = _ranks(np.where(np.isfinite(pred), pred, -1e30))
        if est is not None:
            r_prior = _ranks(np.where(np.isfinite(est), est, -1e30))
        if r_model is None and r_prior is None:
            scores = np.zeros(len(cands))
        elif r_model is None:
            scores = r_prior
        elif r_prior is None:
            scores = r_model
        else:
            scores = (1.0 - self.alpha) * r_model + self.alpha * r_prior
        if not ok.all():
            scores = np.where(ok, scores, -1.0)
        return scores, r_model, r_prior

    def _diversity_pick(self, cands: list[int], k: int, weight: float = 1.0, scores: dict | None = None) -> list[int]:
        """Greedy submodular pick: predicted rank score plus the share of knob values not yet covered."""
        sc = np.asarray([scores[c] for c in cands]) if scores is not None else self.predict_indices(cands)
        order = np.argsort(-sc, kind="stable")
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

    # what drove the search ------------------------------------------------------------------------
    def report(self) -> dict:
        """How the picks were made: per source (random / prior / model / both / blend) the configs
        measured, the prior's weight alpha and the correlations of every plan, lowerings so far."""
        picks = dict.fromkeys(PICK_SOURCES, 0)
        for i in self.measured:
            src = self.pick_source.get(i)
            if src is not None:
                picks[src] += 1
        n = sum(picks.values())
        from_prior = picks["prior"] + 0.5 * picks["both"]
        from_model = picks["model"] + 0.5 * picks["both"]
        return {
            "prior": self.use_prior, "initial": self.initial, "n_fits": self.n_fits,
            "picks": picks, "share_prior": from_prior / n if n else 0.0, "share_model": from_model / n if n else 0.0,
            "share_blend": picks["blend"] / n if n else 0.0, "share_random": picks["random"] / n if n else 0.0,
            "alpha": round(float(self.alpha), 4), "n_lowered": self.features.n_lowered, "plans": list(self.plan_log),
        }

    # transfer learning ----------------------------------------------------------------------------
    def load_transfer(self, transfer, min_records: int = 8) -> int:
        """Use records of earlier tasks of the same template as down-weighted training groups.

        ``transfer``: a records path, a list of paths, or a list of ``records.Record`` objects (or their
        JSON dicts). Records of this very task are skipped (``tune(records=...)`` resumes those), but
        for those measured under another timing of its target (see the module docstring;
        ``n_transfer_stale`` counts the used records of other timings). Returns the number of records used.
        """
        from .records import timing_problem
        from .task import create_task

        groups: dict[tuple[str, str], list] = {}
        stale_used = 0
        for rec in _collect_records(transfer):
            if rec.template != self.task.name:
                continue
            stale = timing_problem(rec) is not None
            if rec.task == self.task.key and not stale:
                continue
            # one group per task and timing: a group's costs are ranked against each other only
            groups.setdefault((rec.task, rec.timing if stale else ""), []).append(rec)
        used = 0
        for (key, timing), recs in sorted(groups.items()):
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
                    idx = task.config_space.from_json(rec.config, reindex=True).index
                except Exception:  # noqa: BLE001 - the template's space changed
                    continue
                f = feats.get(idx)
                if f is None:
                    continue
                xs.append(f)
                ys.append(rec.result.cost if rec.result.valid else None)
            if len(xs) >= 2 and any(c is not None for c in ys):
                self.prior.append((self._x(np.vstack(xs)), ys))
                used += len(xs)
                stale_used += len(xs) if timing else 0
        self.n_transfer_records += used
        self.n_transfer_stale += stale_used
        if used >= min_records:
            # a prior model: the first batch already comes from it
            width = self.prior[0][0].shape[1]
            self.model.fit_with_history(np.zeros((0, width), np.float32), [], self.prior,
                                        prior_weight=self.transfer_weight)
            if self.knob_model is not self.model:
                kprior = [(self._knob_x(px), py) for px, py in self.prior]
                self.knob_model.fit_with_history(np.zeros((0, MAX_KNOB_FEATS), np.float32), [], kprior,
                                                 prior_weight=self.transfer_weight)
            if self.model.trained:
                self.n_fits += 1
                self._plan()
        return used


class XGBTuner(ModelBasedTuner):
    """A ModelBasedTuner with an xgboost cost model (``loss_type`` "rank" or "reg") and simulated
    annealing; see the module docstring.

    ``initial`` defaults to ``"estimate"`` with the prior and ``"random"`` without it; pass
    ``initial="random"`` for AutoTVM's random start with the prior kept in the ranking."""

    name = "xgb"

    def __init__(self, task, plan_size: int = 16, feature_type: str = "itervar", loss_type: str = "rank",
                 optimizer="sa", diversity_filter_ratio: float | None = None, epsilon: float = 0.05,
                 seed: int = 0, transfer=None, transfer_weight: float = 0.3, num_threads: int = 1,
                 sa_params: dict | None = None, prescreen: bool = True, initial: str | None = None,
                 prior: bool = True, candidate_ratio: int = 2, neighbors: int = 0):
        # XGBTuner keeps its earlier behaviour by default: with the prior it starts from the static
        # estimate (fewest trials to a good config); ModelBasedTuner and initial="random" start as AutoTVM.
        if initial is None:
            initial = "estimate" if prior else "random"
        model = XGBoostCostModel(loss_type, num_threads=num_threads, seed=seed)
        super().__init__(task, model, optimizer, plan_size, diversity_filter_ratio, feature_type=feature_type,
                         epsilon=epsilon, seed=seed, prior=prior, initial=initial, prescreen=prescreen,
                         candidate_ratio=candidate_ratio, sa_params=sa_params, transfer=transfer,
                         transfer_weight=transfer_weight, neighbors=neighbors)


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
            # other timings too (a prior, see the module docstring): no warning about those here
            recs, _problems = load_records(item, check_timing=False)
            out.extend(recs)
    return out


__all__ = ["INITIAL_CHOICES", "ModelBasedTuner", "PICK_SOURCES", "XGBTuner"]
