"""The templates on shapes their tiles and lanes do not divide: partial register tiles (the tail
partitioned by lowering) and a reduction padded to whole lane words, so that any shape can use an
extension in a tuned schedule; a record indexed in the smaller space of before still resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_templates_lanes import _run_host

import schedules
from schedules import autotune
from schedules.autotune.templates import _tile_candidates
from simulator.measure import make_measure


def test_tile_candidates_dividing_first_then_partial():
    assert _tile_candidates(64) == [[32, 2], [16, 4], [8, 8]]  # as before: every extent divides
    assert _tile_candidates(10) == [[5, 2], [3, 4], [2, 8]]  # 10 = 2 tiles of 4 + 2, 1 of 8 + 2
    assert _tile_candidates(5) == [[5, 1], [3, 2], [2, 4]]  # no divisor: 1 first, as before
    assert _tile_candidates(1) == [[1, 1]]
    assert _tile_candidates(8) == [[4, 2], [2, 4], [1, 8]]


def _tensorize_choices(task) -> list:
    return list(task.config_space.knobs["tensorize"].choices)


def test_a_reduction_of_no_whole_words_is_padded_and_offers_the_extensions():
    task = autotune.create_task("matmul_i8", (9, 10, 30), "vexriscv")
    assert _tensorize_choices(task) == [None, "dot4_i8", "mac4_i8"]
    # a tensorized config copies the operands into rows of 32 bytes; a scalar one keeps the real K, as
    # the space of no extension does
    dot = str(task.lower(task.config(_knobs(task, tensorize="dot4_i8"))))
    assert "A_pad" in dot and "Bt_pad" in dot and "A_pad" not in str(task.lower(0))
    bare = autotune.create_task("matmul_i8", (9, 10, 30, ""), "vexriscv")
    assert _tensorize_choices(bare) == [None] and str(bare.lower(0)) == str(task.lower(0))
    # a K of whole words is not padded
    whole = autotune.create_task("matmul_i8", (9, 10, 32), "vexriscv")
    assert "A_pad" not in str(whole.lower(whole.config(_knobs(whole, tensorize="dot4_i8"))))


def _partial(cfg, extents) -> bool:
    return any(e % cfg[k].size[1] for k, e in zip(("tile_a", "tile_b"), extents))


@pytest.mark.parametrize("name, args, extents", [
    ("matmul_i8", (9, 10, 30), (9, 10)),
    ("matmul_kn_i8", (6, 5, 7), (6, 5)),
    ("dense_i8", (3, 10, 30), (3, 10)),
    ("conv2d_nhwc_i8", (1, 5, 6, 8, 6, 3, 3, 1, 1), (6, 6)),
    # the memory knobs too (Bt beyond the D-cache): cache blocks over partial tiles
    ("matmul_i8", (20, 70, 70), (20, 70)),
])
def test_partial_tiles_and_padded_reductions_equal_numpy_on_host(name, args, extents):
    task = autotune.create_task(name, args, "vexriscv")
    sp = task.config_space
    rng = np.random.default_rng(7)
    picked: dict = {}
    for i in rng.permutation(len(sp)):
        cfg = sp.get(int(i))
        tens = cfg["tensorize"].name
        if _partial(cfg, extents) and len(picked.setdefault(tens, [])) < 4:
            picked[tens].append(int(i))
    assert set(picked) == {None, "dot4_i8", "mac4_i8"}
    ran = 0
    for idxs in picked.values():
        for i in idxs:
            try:
                _run_host(task, i)
            except autotune.AutotuneError:
                raise
            except Exception as e:  # only the documented build error: a mac4 tile beyond its 16 accumulators
                assert "accumulators" in str(e), f"{task.key} {sp.get(i)}: {e}"
                continue
            ran += 1
    assert ran >= 8


def _knobs(task, **want) -> dict:
    sp = task.config_space
    out = {n: k.choices[0] for n, k in sp.knobs.items()}
    out.update(want)
    return out


def test_an_odd_shape_gets_the_extensions_speed_on_the_soc():
    """matmul 9x10x30: no register tile and no lane word divides it. Its dot4 cfu_asm and mac4 configs
    (partial 4x4 tiles, K padded to 32) equal numpy on the simulated VexRiscv (the measure checks every
    output) and beat the scalar config of the same tile."""
    task = autotune.create_task("matmul_i8", (9, 10, 30), "vexriscv")
    tiles = dict(tile_a=[3, 4], tile_b=[3, 4], unroll=["unroll", "unroll"])
    configs = [task.config(_knobs(task, **tiles, k_steps=2)),
               task.config(_knobs(task, **tiles, tensorize="dot4_i8", k_steps=8, cfu_emit="asm")),
               task.config(_knobs(task, **tiles, tensorize="mac4_i8"))]
    with make_measure("vexriscv", n_parallel=1) as m:
        scalar, dot4, mac4 = m(task, configs)
    for r in (scalar, dot4, mac4):
        assert r.valid, (r.error, r.message[:300])
    assert dot4.cost < 0.7 * scalar.cost and mac4.cost < 0.7 * scalar.cost, (scalar.cost, dot4.cost, mac4.cost)


def test_a_record_indexed_in_the_space_before_partial_tiles_resumes(tmp_path):
    """matmul_i8 at M = 10 had tile_a [[5, 2]] only; its records' indices are of that smaller space. The
    knob values are the config, so such a record resumes as the same schedule under its new index."""
    task = autotune.create_task("matmul_i8", (10, 8, 8), "vexriscv")
    sp = task.config_space
    cfg = sp.get(sp.index_of(_knobs(task, tile_a=[5, 2], tile_b=[2, 4], tensorize="dot4_i8")))
    stale = cfg.to_json()
    stale["index"] = cfg.index // len(sp.knobs["tile_a"])  # (what the space without partial tiles numbered)
    assert stale["index"] != cfg.index and sp.from_json(stale, reindex=True).index == cfg.index
    with pytest.raises(autotune.AutotuneError, match="does not match"):
        sp.from_json(stale)  # (without reindex, as a config given by hand: the index must agree)
    rec = {"task": task.key, "template": task.name, "args": list(task.args), "target": task.target,
           "config": stale, "result": autotune.MeasureResult(stale["index"], 1000.0).to_json(),
           "timestamp": 0.0, "versions": {}}
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    tuner = autotune.RandomTuner(task, seed=0)
    problems: list = []
    recs, _ = autotune.load_records(path)
    assert tuner.load_history(recs, problems) == 1 and not problems
    assert tuner.best_config.index == cfg.index and tuner.best_cost == 1000.0
    bad = dict(stale, knobs=dict(stale["knobs"], tile_a=[4, 3]))  # a value the space does not offer
    with pytest.raises(autotune.AutotuneError, match="tile_a"):
        sp.from_json(bad, reindex=True)


# --- property: any shape, any config of the register-blocked templates computes what numpy does -------

TEMPLATES = ("matmul_i8", "matmul_kn_i8", "dense_i8")


@settings(max_examples=150, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(TEMPLATES), st.integers(1, 12), st.integers(1, 12), st.integers(1, 22), st.data())
def test_any_shape_any_config_of_a_template_equals_numpy(name, M, N, K, data):
    """A schedule changes how, never what: a config drawn from the space of a template at a shape drawn
    at random (tiles and lanes dividing it or not; K padded or not), tensorized configs drawn as often
    as scalar ones, built for the host and compared with the numpy reference."""
    task = autotune.create_task(name, (M, N, K), "vexriscv")
    sp = task.config_space
    tens = data.draw(st.sampled_from(list(sp.knobs["tensorize"].choices)), label="tensorize")
    values = {n: data.draw(st.sampled_from(list(k.choices)), label=n) for n, k in sp.knobs.items()}
    cfg = task.config(dict(values, tensorize=tens))
    try:
        task.lower(cfg)
    except schedules.ScheduleError as e:  # the documented build error: a mac4 tile beyond its bank
        assert "accumulators" in str(e), f"{task.key} {cfg}: {e}"
        return
    _run_host(task, cfg.index)
