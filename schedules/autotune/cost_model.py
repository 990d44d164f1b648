"""Learned cost models: predict which configs of a task run fastest from their features.

Scores are "higher is better" whatever the loss: ``predict`` returns a score to maximize.

* ``loss="rank"``: xgboost ``rank:pairwise`` on relevance ``best_cost / cost`` (in (0, 1]); all
  configs of one task form one query group, so only the order inside a task is learned.
* ``loss="reg"``: xgboost ``reg:squarederror`` on ``-log(cost / best_cost)``.

Configs whose measurement failed (cost None, inf or nan) are kept as training data with the
poorest score of their group (relevance 0, or the worst valid log-cost minus one), so the model
learns to stay away from them.

Transfer learning: ``fit_with_history(xs, ys, prior)`` adds the measurements of earlier, similar
tasks (the same template at other shapes) as extra training data, each earlier task its own
group (its costs are normalized by its own best), down-weighted by ``prior_weight``.
"""

from __future__ import annotations

import math

import numpy as np


def _as_costs(ys) -> np.ndarray:
    out = np.empty(len(ys), dtype=np.float64)
    for i, y in enumerate(ys):
        out[i] = np.inf if y is None or not np.isfinite(float(y)) or float(y) <= 0 else float(y)
    return out


def relevance(costs, loss: str) -> np.ndarray:
    """Training targets of one group of costs (higher is better); invalid ones get the poorest."""
    c = _as_costs(costs)
    ok = np.isfinite(c)
    out = np.zeros(len(c), dtype=np.float64)
    if not ok.any():
        return out
    best = c[ok].min()
    if loss == "rank":
        out[ok] = best / c[ok]
        out[~ok] = 0.0
    else:
        out[ok] = -np.log(c[ok] / best)
        out[~ok] = out[ok].min() - 1.0
    return out


class CostModel:
    """Base: ``fit(xs, ys)`` on features and costs, ``predict(xs)`` scores (higher is better)."""

    def fit(self, xs: np.ndarray, ys) -> None:
        raise NotImplementedError

    def predict(self, xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_with_history(self, xs, ys, prior=(), prior_weight: float = 0.3) -> None:
        """Fit on this task's data plus ``prior``: a list of (xs, costs) groups of earlier tasks."""
        self.fit(xs, ys)

    @property
    def trained(self) -> bool:
        return False


class XGBoostCostModel(CostModel):
    """Gradient-boosted trees (xgboost) with a pairwise-rank or a regression objective."""

    def __init__(self, loss: str = "rank", num_threads: int | None = 1, num_boost_round: int = 120,
                 seed: int = 0, params: dict | None = None):
        if loss not in ("rank", "reg"):
            raise ValueError(f"loss must be 'rank' or 'reg', got {loss!r}")
        import xgboost  # noqa: F401 - fail early when missing

        self.loss = loss
        self.num_boost_round = num_boost_round
        self.params = {
            "max_depth": 6,
            "eta": 0.2,
            "gamma": 1e-4,
            "min_child_weight": 1,
            "subsample": 1.0,
            "lambda": 1.0,
            "alpha": 0.0,
            "tree_method": "hist",
            "max_bin": 64,
            "nthread": 1,
            "seed": seed,
            "verbosity": 0,
        }
        if num_threads:
            self.params["nthread"] = int(num_threads)
        if loss == "rank":
            self.params.update({"objective": "rank:pairwise", "lambdarank_pair_method": "mean",
                                "lambdarank_num_pair_per_sample": 8})
        else:
            self.params["objective"] = "reg:squarederror"
        if params:
            self.params.update(params)
        self.booster = None

    @property
    def trained(self) -> bool:
        return self.booster is not None

    def spawn(self) -> XGBoostCostModel:
        """An untrained model with the same loss and parameters (the tuner's knob model, CV folds)."""
        m = XGBoostCostModel.__new__(XGBoostCostModel)
        m.loss, m.num_boost_round, m.params, m.booster = self.loss, self.num_boost_round, dict(self.params), None
        return m

    def fit(self, xs, ys) -> None:
        self.fit_with_history(xs, ys, ())

    def fit_with_history(self, xs, ys, prior=(), prior_weight: float = 0.3) -> None:
        import xgboost as xgb

        groups = [(np.asarray(xs, dtype=np.float32), list(ys), 1.0)]
        for pxs, pys in prior:
            if len(pys):
                groups.append((np.asarray(pxs, dtype=np.float32), list(pys), float(prior_weight)))
        groups = [g for g in groups if len(g[1]) and np.isfinite(_as_costs(g[1])).any()]
        if not groups:
            return
        x = np.vstack([g[0] for g in groups])
        y = np.concatenate([relevance(g[1], self.loss) for g in groups])
        if self.loss == "rank":
            # xgboost ranking: weights are per group
            d = xgb.DMatrix(x, label=y)
            d.set_group([len(g[1]) for g in groups])
            d.set_weight(np.asarray([g[2] for g in groups], dtype=np.float32))
        else:
            w = np.concatenate([np.full(len(g[1]), g[2], dtype=np.float32) for g in groups])
            d = xgb.DMatrix(x, label=y, weight=w)
        n = len(y)
        rounds = max(20, min(self.num_boost_round, 8 * n))
        self.booster = xgb.train(self.params, d, num_boost_round=rounds)

    def predict(self, xs) -> np.ndarray:
        xs = np.asarray(xs, dtype=np.float32)
        if self.booster is None or len(xs) == 0:
            return np.zeros(len(xs), dtype=np.float64)
        # inplace_predict: no DMatrix (building one per call cost ~40 ms, most of an annealing step)
        return np.asarray(self.booster.inplace_predict(xs), dtype=np.float64).reshape(len(xs))


def rank_correlation(pred, costs) -> float:
    """Spearman correlation between predicted scores and -cost over the valid costs (for diagnostics)."""
    c = _as_costs(costs)
    ok = np.isfinite(c)
    if ok.sum() < 3:
        return math.nan
    a = np.argsort(np.argsort(np.asarray(pred)[ok]))
    b = np.argsort(np.argsort(-c[ok]))
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


__all__ = ["CostModel", "XGBoostCostModel", "rank_correlation", "relevance"]
