"""The XGBoost tuner: IR features, cost model, simulated annealing, tuning for real, transfer learning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from schedules.autotune.cost_model import XGBoostCostModel, rank_correlation
from schedules.autotune.features import extract_features, feature_length, feature_names
from schedules.autotune.measure import MeasureResult
from schedules.autotune.random_tuner import RandomTuner
from schedules.autotune.records import RecordWriter, make_record
from schedules.autotune.sa_optimizer import SimulatedAnnealingOptimizer
from schedules.autotune.space import AutotuneError, ConfigSpace
from schedules.autotune.task import create_task
from schedules.autotune.xgb_tuner import ESTIMATE_WHOLE_SPACE, XGBTuner

ROOT = Path(__file__).resolve().parent.parent
EXHAUSTIVE = ROOT / "benchmarks" / "results" / "exhaustive_matmul32_dot4.json"


def _task(n=32):
    return create_task("matmul_i8", (n, n, n), "vexriscv")


def _with_knob(space, index, knob, value):
    choices = space.decompose(index)
    pos = list(space.knobs).index(knob)
    choices[pos] = space.knobs[knob].choices.index(value)
    return space.compose(choices)


def _feature(vec, name):
    return float(vec[feature_names().index(name)])


def _synthetic_cost(space, seed=5):
    """A deterministic cost over a space's knobs with an interaction term (for tests without a simulator)."""
    rng = np.random.default_rng(seed)
    w = [rng.random(len(k)) for k in space.knobs.values()]

    def cost(i):
        d = space.decompose(i)
        return float(1000 * np.exp(sum(wk[c] for wk, c in zip(w, d)) + 0.5 * w[0][d[0]] * w[1][d[1]]))

    return cost


def _fake_measure(cost):
    def measure(task, configs):
        return [MeasureResult(c.index, cost(c.index)) for c in configs]

    return measure


# features --------------------------------------------------------------------------------------------

def test_features_deterministic_and_show_the_intrinsic():
    task = _task()
    space = task.config_space
    base = space.compose([1, 1, 3, 0, 0, 0, 2])
    plain = _with_knob(space, base, "tensorize", None)
    tens = _with_knob(space, base, "tensorize", "dot4_i8")
    f_plain = extract_features(task.lower(plain), space.get(plain), space)
    f_plain2 = extract_features(task.lower(plain), space.get(plain), space)
    f_tens = extract_features(task.lower(tens), space.get(tens), space)
    assert f_plain.shape == f_tens.shape == (feature_length(),)
    assert f_plain.dtype == np.float32
    np.testing.assert_array_equal(f_plain, f_plain2)
    assert np.all(np.isfinite(f_tens))
    # the CFU work is visible: 32*32*32 / 4 dot4 calls, none without tensorize
    assert _feature(f_plain, "g.log_intrin_calls") == 0
    assert _feature(f_tens, "g.log_intrin_calls") == pytest.approx(np.log2(1 + 32 ** 3 / 4), rel=1e-5)
    assert _feature(f_tens, "g.log_word_loads") > 0 and _feature(f_plain, "g.log_word_loads") == 0
    assert _feature(f_tens, "g.log_mul") < _feature(f_plain, "g.log_mul")
    # the knob part differs too, but the IR part alone already differs
    n_ir = feature_length() - 32
    assert not np.array_equal(f_plain[:n_ir], f_tens[:n_ir])


def test_features_see_the_cfu_asm_annotation():
    task = _task()
    space = task.config_space
    base = space.index_of({"tile_a": [8, 4], "tile_b": [8, 4], "unroll": ["unroll", "unroll"],
                           "tensorize": "dot4_i8", "k_steps": 8, "cfu_emit": "c", "compiler": "zig:-O2"})
    asm = _with_knob(space, base, "cfu_emit", "asm")
    f_c = extract_features(task.lower(base))
    f_asm = extract_features(task.lower(asm))
    assert _feature(f_c, "g.log_asm_calls") == 0
    assert _feature(f_asm, "g.log_asm_calls") == pytest.approx(np.log2(1 + 32 ** 3 / 4), rel=1e-5)
    # without a dot tensorize the knob changes nothing, and the features say so
    plain = _with_knob(space, asm, "tensorize", None)
    assert _feature(extract_features(task.lower(plain)), "g.log_asm_calls") == 0


def test_features_see_unrolling_and_tiles():
    task = _task()
    space = task.config_space
    base = space.compose([2, 2, 0, 1, 0, 0, 0])
    rolled = extract_features(task.lower(base))
    unrolled_idx = _with_knob(space, base, "unroll", ("unroll", "unroll"))
    unrolled = extract_features(task.lower(unrolled_idx))
    assert _feature(unrolled, "g.log_code_size") > _feature(rolled, "g.log_code_size")
    # without a config the knob part is zero; with one it holds the normalized choice indices
    assert not rolled[-32:].any()
    with_cfg = extract_features(task.lower(base), space.get(base), space)
    assert with_cfg[-32:].any()


# cost model -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["rank", "reg"])
def test_cost_model_ranks_a_monotone_dataset(loss):
    rng = np.random.default_rng(0)
    x = rng.random((240, 12)).astype(np.float32)
    cost = np.exp(3 * x[:, 0] + x[:, 1])  # monotone in the first two features
    ys = list(cost[:160])
    ys[:6] = [None] * 6  # failed measurements: kept as the poorest
    model = XGBoostCostModel(loss, seed=0)
    model.fit(x[:160], ys)
    pred = model.predict(x[160:])
    assert rank_correlation(pred, cost[160:]) > 0.85
    # the best of the held-out set is among the top predictions
    best = int(np.argmin(cost[160:]))
    assert best in np.argsort(-pred)[:8]


def test_cost_model_transfer_groups():
    rng = np.random.default_rng(1)
    x = rng.random((200, 8)).astype(np.float32)
    cost = np.exp(2 * x[:, 0] + x[:, 2])
    model = XGBoostCostModel("rank", seed=0)
    # a few samples of this task, many of an earlier task whose costs are on another scale
    model.fit_with_history(x[:10], list(cost[:10]), prior=[(x[10:150], list(50 * cost[10:150]))])
    assert rank_correlation(model.predict(x[150:]), cost[150:]) > 0.8


# simulated annealing ----------------------------------------------------------------------------------

def _big_space():
    space = ConfigSpace()
    for k in range(6):
        space.define_knob(f"k{k}", list(range(10)))
    return space  # 10**6 configs


def test_sa_returns_distinct_unvisited_top_points():
    space = _big_space()
    target = np.array([3, 7, 1, 9, 0, 5])

    def model(indices):
        pts = np.array([space.decompose(int(i)) for i in indices])
        return -np.abs(pts - target).sum(axis=1).astype(float)

    best = space.compose(target.tolist())
    exclusive = {best, space.compose([3, 7, 1, 9, 0, 4])}
    sa = SimulatedAnnealingOptimizer(space, n_iter=200, parallel_size=64, early_stop=None, seed=0, exhaustive_limit=0)
    out = sa.find_maximums(model, 10, exclusive)
    assert len(out) == 10 and len(set(out)) == 10
    assert not set(out) & exclusive
    assert all(0 <= i < len(space) for i in out)
    # the chains found points next to the optimum (score -1 is the best left)
    scores = model(out)
    assert scores.max() == -1
    # persistent chains resume; the vectorized codec matches the space's own decompose/compose
    assert sa.points is not None and len(sa.points) == 64
    idx = np.array([0, 1, 12345, 999999])
    np.testing.assert_array_equal(sa.codec.decompose(idx), np.array([space.decompose(int(i)) for i in idx]))
    np.testing.assert_array_equal(sa.codec.compose(sa.codec.decompose(idx)), idx)


def test_sa_small_space_is_scored_exhaustively():
    task = _task()
    space = task.config_space
    sa = SimulatedAnnealingOptimizer(space, parallel_size=64)
    out = sa.find_maximums(lambda idx: -np.asarray(idx, dtype=float), 5, {0, 2})
    assert out == [1, 3, 4, 5, 6]


# the tuner ---------------------------------------------------------------------------------------------

def test_xgb_tuner_synthetic_beats_random_and_never_repeats():
    task = _task()
    cost = _synthetic_cost(task.config_space)
    best = min(cost(i) for i in range(len(task.config_space)))
    tuner = XGBTuner(task, plan_size=16, seed=0, diversity_filter_ratio=2, initial="random")
    res = tuner.tune(96, _fake_measure(cost), batch_size=8)
    idx = [i for _, i, _ in res.history]
    assert len(idx) == 96 == len(set(idx))
    # 2 of the 3240 configs are within 5% of the best; 96 random picks typically end 30% above it
    assert res.best_cost <= 1.05 * best
    rand = RandomTuner(task, seed=0).tune(96, _fake_measure(cost), batch_size=8)
    assert res.best_cost < rand.best_cost
    assert tuner.n_fits >= 3


def _lowers(task, index) -> bool:
    try:
        task.lower(index)
        return True
    except Exception:  # noqa: BLE001
        return False


def _exhaustive():
    if not EXHAUSTIVE.exists():
        pytest.skip(f"{EXHAUSTIVE} missing: run benchmarks/exhaustive_matmul.py")
    return json.loads(EXHAUSTIVE.read_text())


def test_xgb_tuner_finds_the_exhaustive_best_region_for_real(tmp_path):
    """64 real measurements (VexRiscv simulation) reach within 10% of the best of all 432 configs."""
    ex = _exhaustive()
    from simulator.measure import make_measure

    task = _task()
    assert ex["space_size"] == len(task.config_space)
    assert ex["task"] == task.key
    measure = make_measure(target="vexriscv", n_parallel=2)
    tuner = XGBTuner(task, plan_size=16, seed=0, initial="random")
    res = tuner.tune(64, measure, records=tmp_path / "xgb.jsonl", batch_size=8)
    assert res.best_cost is not None
    assert res.best_cost <= 1.10 * ex["best_cost"], (res.best_cost, ex["best_cost"], str(res.best_config))
    close = getattr(measure, "close", None)
    if close is not None:
        close()


def test_transfer_learning_from_another_shape(tmp_path):
    """Records of matmul_i8 at 16^3 train the model before the first 32^3 measurement."""
    small = _task(16)
    cost16 = _synthetic_cost(small.config_space)
    path = tmp_path / "prior.jsonl"
    rng = np.random.default_rng(0)
    with RecordWriter(path) as w:
        for i in rng.choice(len(small.config_space), 48, replace=False):
            cfg = small.config_space.get(int(i))
            w.write(make_record(small, cfg, MeasureResult(cfg.index, cost16(cfg.index)), "random"))
        bad = small.config_space.get(0)
        w.write(make_record(small, bad, MeasureResult(bad.index, None, "build", "boom"), "random"))

    task = _task(32)
    cost32 = _synthetic_cost(task.config_space)
    tuner = XGBTuner(task, plan_size=8, seed=0, transfer=str(path), initial="random")
    # configs that do not lower (a mac4 tile larger than the accumulator bank) have no features
    unlowerable = any(not _lowers(small, i) for i in range(len(small.config_space)))  # stops at the first
    assert 40 <= tuner.n_transfer_records <= 49 and unlowerable
    assert tuner.model.trained and len(tuner.plan) == 8  # the first batch already comes from the prior model
    res = tuner.tune(24, _fake_measure(cost32), batch_size=8)
    assert len({i for _, i, _ in res.history}) == 24
    # records of the task itself are ignored (resume handles those) and a list of records works too
    from schedules.autotune.records import load_records

    recs, _ = load_records(path)
    again = XGBTuner(small, plan_size=8, seed=0, transfer=recs, initial="random")
    assert again.n_transfer_records == 0


def test_prescreen_skips_unlowerable_and_duplicate_configs():
    """No trial is spent on a config that does not lower or that measures the same as an earlier one."""
    task = _task()
    cost = _synthetic_cost(task.config_space)
    tuner = XGBTuner(task, plan_size=8, seed=3, initial="estimate")
    res = tuner.tune(96, _fake_measure(cost), batch_size=8)
    idx = [i for _, i, _ in res.history]
    sigs = [tuner.features.signature(i) for i in idx]
    assert None not in sigs  # 48 configs of the space (mac4 tiles > 16 accumulators) do not lower
    assert len(set(sigs)) == len(sigs)
    # the first batch follows the static estimate (but for the epsilon-random picks): all tensorized
    first = [task.config_space.get(i)["tensorize"].name for i in idx[:8] if tuner.pick_source[i] != "random"]
    assert len(first) >= 6 and all(name is not None for name in first)


def test_the_estimate_plans_one_config_per_ir():
    """The static estimate sees the IR, not the compiler: its plan does not spend trials on compiler
    ties of one schedule; once a model is fitted, compiler variants of a good IR are fair game."""
    task = _task()
    tuner = XGBTuner(task, plan_size=16, seed=0, epsilon=0.0, initial="estimate")
    first = tuner.next_batch(16)
    irs = [tuner.features.ir_signature(c.index) for c in first]
    assert None not in irs and len(set(irs)) == 16
    assert tuner.features.ir_signature(first[0].index) == tuner.features.ir_signature(
        _with_knob(task.config_space, first[0].index, "compiler", "gcc:-O2"))
    cost = _synthetic_cost(task.config_space)
    tuner.update(first, _fake_measure(cost)(task, first))
    assert tuner.model.trained
    later = [tuner.features.ir_signature(c.index) for c in tuner.next_batch(16)]
    assert None not in later


def test_xgb_tunes_int8_matmul_64_with_dot4_to_1_2_mac_per_cycle(tmp_path):
    """Issue 5's goal, by tuning: XGBTuner on the dot4_i8-only space, 16 real measurements."""
    from simulator.measure import make_measure

    task = create_task("matmul_i8", (64, 64, 64, "dot4_i8"), "vexriscv")
    with make_measure("vexriscv", n_parallel=2) as measure:
        res = XGBTuner(task, seed=0, initial="estimate").tune(16, measure, records=tmp_path / "mm64.jsonl",
                                                              batch_size=8)
    assert 64 ** 3 / res.best_cost >= 1.2, (res.best_cost, str(res.best_config))
    assert res.best_config["tensorize"].name == "dot4_i8"


def test_feature_cache_lowers_each_ir_once_and_keeps_every_configs_features():
    """Configs that differ only in the compiler knob share one lowering; their features still differ
    exactly in the knob part, as if each had been lowered on its own."""
    from schedules.autotune.features import FeatureCache

    task = create_task("matmul_i8", (16, 16, 16), "vexriscv")
    sp = task.config_space
    n_comp = len(sp.knobs["compiler"].choices)
    fc = FeatureCache(task)
    siblings = [i for i in range(len(sp)) if sp.decompose(i)[:-1] == sp.decompose(0)[:-1]]
    assert list(sp.knobs)[-1] == "compiler" and len(siblings) == n_comp
    for i in siblings:
        cfg = sp.get(i)
        assert np.array_equal(fc.get(i), extract_features(task.lower(cfg), cfg, sp))
    assert fc.n_lowered == 1
    assert len({fc.signature(i) for i in siblings}) == n_comp and len({fc.ir_signature(i) for i in siblings}) == 1


# random start, the static prior, lazy lowering, bounded SA, resume -----------------------------------

def test_random_start_then_the_model_plans():
    """AutoTVM's start: the first plan_size picks are random; the first fit makes the model plan."""
    task = _task()
    cost = _synthetic_cost(task.config_space)
    tuner = XGBTuner(task, plan_size=16, seed=1, initial="random")
    assert tuner.initial == "random" and not tuner._guided
    first = tuner.next_batch(16)
    assert {tuner.pick_source[c.index] for c in first} == {"random"}
    assert tuner.features.n_lowered <= 16 * 2  # random picks are lowered one at a time (prescreen), no plan
    tuner.update(first, _fake_measure(cost)(task, first))
    assert tuner.model.trained and tuner.knob_model.trained and tuner.n_fits == 1
    later = tuner.next_batch(16)
    srcs = [tuner.pick_source[c.index] for c in later]
    assert sum(s != "random" for s in srcs) >= 12
    assert not {c.index for c in later} & {c.index for c in first}
    rep = tuner.report()
    assert rep["initial"] == "random" and rep["picks"]["random"] == 16 and len(rep["plans"]) == 1
    with pytest.raises(AutotuneError, match="needs prior=True"):
        XGBTuner(task, prior=False, initial="estimate")


@pytest.mark.parametrize("prior", [True, False])
def test_prior_on_off_and_its_share_is_reported(prior, tmp_path):
    """prior=False: the estimate is neither a feature the model sees nor blended in; prior=True: its
    weight alpha comes from its rank correlation with the measured costs, and the records say which
    source proposed each config."""
    from schedules.autotune.features import PRIOR_FEATURES
    from schedules.autotune.records import load_records

    task = _task()
    cost = _synthetic_cost(task.config_space)
    tuner = XGBTuner(task, plan_size=16, seed=0, prior=prior, initial="random")
    res = tuner.tune(64, _fake_measure(cost), records=tmp_path / "r.jsonl", batch_size=8)
    rep = res.report
    assert rep["prior"] is prior and rep["n_fits"] >= 3
    assert sum(rep["picks"].values()) == 64
    assert rep["share_prior"] + rep["share_model"] + rep["share_blend"] + rep["share_random"] == pytest.approx(1.0)
    col = feature_names().index(PRIOR_FEATURES[0])
    x = tuner._x(tuner.features.matrix(tuner.measured[:4])[0])
    if prior:
        assert (x[:, col] > 0).all()
        assert 0.0 <= rep["alpha"] <= 1.0
        assert all("rho_prior" in p for p in rep["plans"])
    else:
        assert (x[:, col] == 0).all()
        assert rep["alpha"] == 0.0 and rep["picks"]["prior"] == rep["picks"]["both"] == 0
    recs, _ = load_records(tmp_path / "r.jsonl")
    picks = [r.result.extra.get("tuner_pick", {}).get("source") for r in recs]
    assert len(recs) == 64 and set(picks) <= {"random", "prior", "model", "both", "blend"}
    assert picks.count("random") >= 16


def test_plans_lower_lazily_never_the_space():
    """A plan lowers at most (candidate_ratio + 1/2) * plan_size configs (cached by IR), not the space:
    the 64^3 space has 3,240 configs and 576 distinct IRs."""
    task = _task(64)
    cost = _synthetic_cost(task.config_space)
    tuner = XGBTuner(task, plan_size=16, seed=0, initial="random")
    res = tuner.tune(48, _fake_measure(cost), batch_size=8)
    n_plans = len(res.report["plans"])
    assert n_plans >= 2
    bound = n_plans * (tuner.candidate_ratio + 1) * tuner.plan_size + 48 * 2  # plans + random picks
    assert tuner.features.n_lowered <= bound < 576
    assert len(tuner.features._cache) < len(task.config_space) // 4


def test_sa_on_a_space_of_1e8_configs_has_bounded_cost():
    """Asked for more candidates than its chains visit, SA still anneals (never enumerates the space)
    and scores at most parallel_size * (n_iter + 1) points."""
    space = ConfigSpace()
    for k in range(8):
        space.define_knob(f"k{k}", list(range(10)))
    assert len(space) == 10 ** 8
    target = np.array([3, 7, 1, 9, 0, 5, 2, 8])
    calls = []

    def model(indices):
        calls.append(len(indices))
        pts = np.stack([(np.asarray(indices) // 10 ** k) % 10 for k in range(8)], axis=1)
        return -np.abs(pts - target).sum(axis=1).astype(float)

    sa = SimulatedAnnealingOptimizer(space, n_iter=60, parallel_size=64, early_stop=None, seed=0)
    exclusive = set(range(1000))
    out = sa.find_maximums(model, 2000, exclusive)
    assert len(out) == len(set(out)) == 2000 and not set(out) & exclusive
    assert sa.n_evaluated == sum(calls) <= 64 * 61
    assert max(model(out[:10])) >= -8  # the chains climbed towards the optimum (random points: about -26)


class _Killed(Exception):
    pass


def test_resume_from_records_after_a_kill(tmp_path):
    """A tuning job that dies halfway resumes from its records: nothing measured twice, the model is
    refitted from the records and plans at once."""
    task = _task()
    cost = _synthetic_cost(task.config_space)
    path = tmp_path / "r.jsonl"
    seen: list[int] = []

    def dying(task_, configs):
        if len(seen) >= 24:
            raise _Killed()
        seen.extend(c.index for c in configs)
        return _fake_measure(cost)(task_, configs)

    with pytest.raises(_Killed):
        XGBTuner(task, plan_size=16, seed=0, initial="random").tune(64, dying, records=path, batch_size=8)
    assert len(seen) == 24

    again: list[int] = []

    def counting(task_, configs):
        again.extend(c.index for c in configs)
        return _fake_measure(cost)(task_, configs)

    tuner = XGBTuner(task, plan_size=16, seed=1, initial="random")
    res = tuner.tune(64, counting, records=path, batch_size=8)
    assert res.n_resumed == 24 and res.n_measured == 40 == len(again)
    assert not set(again) & set(seen)
    assert tuner.n_fits >= 3 and tuner.model.trained
    assert len({i for _, i, _ in res.history}) == 64


def test_estimate_start_ranks_a_small_space_whole():
    """A space of at most ESTIMATE_WHOLE_SPACE configs (here the no-extension 32^3 matmul) is ranked
    whole by the estimate start: every distinct IR lowered once, the first plan the estimate's best
    IRs (a sample missed the best no-extension 64^3 tile, 873,506 cycles instead of 814,248)."""
    task = create_task("matmul_i8", (32, 32, 32, ""), "vexriscv")
    n = len(task.config_space)
    assert n <= ESTIMATE_WHOLE_SPACE
    tuner = XGBTuner(task, plan_size=16, seed=0)  # XGBTuner's default start: the estimate
    first = tuner.next_batch(16)
    lowered = tuner.features.n_lowered
    planned = [c for c in first if tuner.pick_source[c.index] == "prior"]  # the rest: epsilon-random
    assert len(planned) >= 12
    est = tuner.predict_indices(list(range(n)))
    best_per_ir: dict = {}
    for i in range(n):
        ir = tuner.features.ir_signature(i)
        best_per_ir[ir] = max(best_per_ir.get(ir, -np.inf), float(est[i]))
    assert len(best_per_ir) <= lowered < n  # every IR (the cache keys lowerings finer than the IR)
    top = sorted(best_per_ir.values(), reverse=True)[:len(planned)]
    assert sorted((float(est[c.index]) for c in planned), reverse=True) == top


def test_neighbors_put_the_best_configs_1_knob_neighbours_into_the_plan():
    """neighbors=k: after a fit, every 1-knob neighbour of the k fastest measured configs is a plan
    candidate (ranked by the model like the rest); with neighbors=0 (the default) none need be."""
    task = _task()
    space = task.config_space
    cost = _synthetic_cost(space)
    tuner = XGBTuner(task, plan_size=16, seed=3, prior=False, initial="random", neighbors=2)
    first = tuner.next_batch(16)
    results = _fake_measure(cost)(task, first)
    best = sorted((r.cost, c.index) for c, r in zip(first, results))[:2]
    want = set()
    for _, b in best:
        ch = space.decompose(b)
        for d, n in enumerate(space.radix):
            want |= {space.compose(ch[:d] + [v] + ch[d + 1:]) for v in range(n) if v != ch[d]}
    assert set(tuner._neighbours_of_best(2)) == set()  # nothing measured yet
    tuner.update(first, results)
    assert set(tuner._neighbours_of_best(2)) == want
    taken = tuner._taken()
    cands = set(tuner._candidates(taken, 16))
    assert want - taken <= cands
    # the local search can only help a model that is already near the best: on the synthetic cost
    # (separable plus one interaction) its plan after the first fit holds a config better than all 16
    later = tuner.next_batch(16)
    assert min(cost(c.index) for c in later) < min(r.cost for r in results)
    assert XGBTuner(task, seed=3, prior=False).neighbors == 0
