"""conv2d_nhwc_i8's window knobs (``window_unroll``, ``wb_unroll``, ``loop_order``, ``pad_copy``).

The knobs the hand conv's speed comes from (schedules.hand: ``_conv_prologue``'s padded copy a pixel
at a time, ``_conv_dot_rows``' straight-line reduction per window row, filter tiles outermost), added
to the template after its records existed: old configs keep their index and meaning, every new
config is checked against numpy on the host and on the simulated VexRiscv, and the space holds the
hand schedule itself (the same cycles).
"""

import json

import numpy as np
import pytest

import codegen_c
import simulator
import tir
from schedules import autotune, hand
from schedules.autotune import templates
from schedules.autotune.measure import MeasureResult
from schedules.autotune.records import apply_history_best, make_record
from schedules.workloads import conv2d_nhwc_ohwi
from simulator.measure import make_measure

NEW = ["window_unroll", "wb_unroll", "loop_order", "pad_copy"]
# the knobs of the 1x16x16x32 -> 32 3x3 pad 1 space before the window knobs (116,640 configs)
OLD_KNOBS = ["tile_a", "tile_b", "cache_block", "cache_axis", "unroll", "tensorize", "k_steps", "cfu_emit",
             "cfu_words", "compiler"]
# the hand conv's dot4 cfu_asm schedule (schedules.hand._conv_dot_rows) as a config of the template
HAND_DOT_ROWS = {"tile_a": [4, 4], "tile_b": [8, 4], "unroll": ["unroll", "unroll"], "tensorize": "dot4_i8",
                 "k_steps": 8, "cfu_emit": "asm", "compiler": "zig:-O2", "wb_unroll": "none",
                 "loop_order": "b_outer", "window_unroll": "rx", "pad_copy": "pixel"}
# small shapes: a padded 3x3 whose pixel / filter tiles are not 4 (OW 5: one 5-pixel tile; F 6: 2 or
# 3 channels), one with weights beyond the D-cache (the memory knobs too), a strided one and a 1x1
SHAPES = [(1, 5, 5, 8, 6, 3, 3, 1, 1), (1, 4, 6, 8, 4, 3, 3, 1, 1), (1, 4, 4, 16, 32, 3, 3, 1, 1),
          (1, 7, 7, 8, 4, 3, 3, 2, 1), (1, 4, 6, 8, 8, 1, 1, 1, 0)]


def _config(task, **knobs):
    """The config of ``knobs`` (the others at their first choice); a value the shape does not offer
    (a tile, a lane step count), or a knob the shape does not have, is left at its first choice."""
    sp = task.config_space
    values = {n: k.choices[0] for n, k in sp.knobs.items()}
    for k, v in knobs.items():
        if k in sp.knobs:
            try:
                sp.knobs[k].index_of(v)
            except autotune.AutotuneError:
                continue
            values[k] = v
    return task.config(values)


def _host_check(task, cfg):
    func = task.lower(cfg)
    arrays = task.make_inputs(2)
    codegen_c.build(func, "host")(*arrays)
    np.testing.assert_array_equal(arrays[-1], task.reference(arrays)[0], err_msg=str(cfg))
    return func


def test_space_grows_past_1e5_and_old_indices_keep_their_knobs(tmp_path):
    task = autotune.create_task("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 3, 3, 1, 1), "vexriscv")
    sp = task.config_space
    assert list(sp.knobs) == OLD_KNOBS + NEW
    assert len(sp) >= 100_000 and len(sp) == 116_640 * 3 * 2 * 2 * 2
    for name in NEW:  # the first choice of each is the old schedule
        assert sp.knobs[name].choices[0] == {"window_unroll": "none", "wb_unroll": "same", "loop_order": "default",
                                             "pad_copy": "byte"}[name]
    # a record written before the knobs existed: the same index, the new knobs at their first choice
    rec = make_record(task, sp.get(98_765), MeasureResult(98_765, cost=1000.0)).to_json()
    rec["config"]["knobs"] = knobs = {k: v for k, v in rec["config"]["knobs"].items() if k not in NEW}
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    with apply_history_best(path) as hb:
        cfg, cost = hb.best(task)
    assert cost == 1000.0 and cfg.index == 98_765 and all(cfg.value(n) == sp.knobs[n].choices[0] for n in NEW)
    assert str(task.lower(cfg)) == str(task.lower(sp.get(98_765)))
    # only the added knobs may be missing
    with pytest.raises(autotune.AutotuneError, match="lacks"):
        sp.from_json({"knobs": {k: v for k, v in knobs.items() if k != "k_steps"}})
    # a 1x1 window has no window loops to unroll, and no padding to copy
    one = autotune.create_task("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 1, 1, 1, 0), "vexriscv").config_space
    assert "window_unroll" not in one.knobs and "pad_copy" not in one.knobs and "loop_order" in one.knobs


def test_window_knobs_shape_the_loops():
    task = autotune.create_task("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 3, 3, 1, 1), "host")
    base = dict(HAND_DOT_ROWS)
    fast = str(task.lower(_config(task, **base)))
    # filter tiles outermost, the pad copy in steps of 32 channels, rx unrolled (no rx loop), ry rolled
    first = [ln.strip() for ln in fast.splitlines() if ln.strip().startswith("for ")]
    assert "for ch.inner" not in fast and "for rx" not in fast and "for ry" in fast
    assert first[0].startswith("for y") and "f.outer" in first[2], first[:4]  # (the pad copy's loops first)
    slow = str(task.lower(_config(task, **dict(base, window_unroll="none", loop_order="default",
                                                pad_copy="byte"))))
    assert "for rx" in slow and "for ch in range(32)" in slow


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("combo", [
    dict(tensorize="dot4_i8", cfu_emit="asm", window_unroll="rx", wb_unroll="none", loop_order="b_outer",
         pad_copy="pixel"),
    dict(tensorize="dot4_i8", cfu_emit="c", window_unroll="all", loop_order="b_outer", k_steps=2),
    dict(tensorize="mac4_i8", window_unroll="rx", loop_order="b_outer", pad_copy="pixel", k_steps=2),
    dict(tensorize="mac4_i8", window_unroll="all", wb_unroll="none"),
    dict(tensorize=None, window_unroll="rx", wb_unroll="none", loop_order="b_outer", pad_copy="pixel"),
    dict(tensorize=None, window_unroll="all", unroll=["unroll", "none"], cache_block=2, loop_order="b_outer"),
])
def test_window_knobs_equal_numpy_on_host(shape, combo):
    task = autotune.create_task("conv2d_nhwc_i8", shape, "host")
    cfg = _config(task, tile_a=task.config_space.knobs["tile_a"].choices[-1], **combo)
    if combo.get("tensorize") == "mac4_i8" and np.prod(cfg["tile_a"].size[1:]) * cfg["tile_b"].size[1] > 16:
        pytest.skip("a tile beyond mac4's 16 accumulators is a build error of the default extensions")
    _host_check(task, cfg)


def test_window_knobs_equal_numpy_on_vexriscv():
    """A few configs with the new knobs on the simulated SoC (dot4 cfu_asm, C order, mac4, scalar),
    at a shape whose tiles are not 4x4 and one whose weights exceed the D-cache."""
    jobs = []
    for shape in (SHAPES[0], SHAPES[2]):
        task = autotune.create_task("conv2d_nhwc_i8", shape, "vexriscv")
        last = task.config_space.knobs["tile_a"].choices[-1]
        configs = [_config(task, **HAND_DOT_ROWS),
                   _config(task, **dict(HAND_DOT_ROWS, cfu_emit="c", window_unroll="all", tile_a=last)),
                   _config(task, tensorize="mac4_i8", window_unroll="rx", loop_order="b_outer", pad_copy="pixel",
                           k_steps=2, tile_b=task.config_space.knobs["tile_b"].choices[0]),
                   _config(task, window_unroll="rx", wb_unroll="none", loop_order="b_outer", pad_copy="pixel")]
        jobs.append((task, configs))
    with make_measure("vexriscv", n_parallel=1) as measure:
        for task, configs in jobs:
            results = measure(task, configs)
            bad = [(str(c), r.error, r.message[:300]) for c, r in zip(configs, results) if r.error is not None]
            assert not bad, bad


def test_the_space_holds_the_hand_dot_rows_schedule():
    """The template config of the hand conv's dot4 cfu_asm schedule (OHWI weights, 1x1 and a padded
    3x3 of 8 channels) emits the same kernel, so it takes the same simulated cycles."""
    # (weights within the D-cache: the hand schedule keeps the filter tiles inside; a 3x3 window of 8
    # channels is 18 lane steps, straight-line whole)
    tiles = dict(tile_a=[2, 4], tile_b=[4, 4], loop_order="default")
    for shape, knobs in [((1, 8, 8, 16, 16, 1, 1, 1, 0), dict(tiles, k_steps=4)),
                         ((1, 8, 8, 8, 16, 3, 3, 1, 1), dict(tiles, window_unroll="all", k_steps=2))]:
        task = autotune.create_task("conv2d_nhwc_i8", shape, "vexriscv")
        func = task.lower(_config(task, **dict(HAND_DOT_ROWS, **knobs)))
        arrays = task.make_inputs(0)
        mine = simulator.run(func, arrays, "vexriscv")
        np.testing.assert_array_equal(arrays[-1], task.reference(arrays)[0])
        wl = conv2d_nhwc_ohwi(*shape[:6], KW=shape[6], stride=shape[7], pad=shape[8])
        s, args = hand.dot4(wl, asm=True)
        ins = arrays[:2]
        out = np.zeros(wl.output.shape, np.int32)
        theirs = simulator.run(tir.lower(s, args), ins + [out], "vexriscv")
        np.testing.assert_array_equal(out, wl.ref(*ins))
        assert mine.cycles == theirs.cycles, (shape, mine.cycles, theirs.cycles)


def test_pad_unroll_matches_the_hand_conv():
    assert templates.PAD_UNROLL == hand.PAD_UNROLL


def test_static_estimate_sees_the_icache_and_the_dcache():
    """The estimate (the tuner's prior) charges a window unrolled beyond the 4 KiB I-cache (3x3 x 32
    channels: 72 lane steps of a 4x4 tile straight-line, measured 3,981,073 cycles against 1,812,268
    for a window row) and the weight misses of filter tiles inside the pixel loops."""
    from schedules.autotune.features import extract_features, feature_names

    task = autotune.create_task("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 3, 3, 1, 1, "dot4_i8"), "vexriscv")
    pos = feature_names().index("g.log_est_cycles")

    def est(**kw):
        cfg = _config(task, **dict(HAND_DOT_ROWS, **kw))
        return 2 ** float(extract_features(task.lower(cfg), cfg, task.config_space)[pos]) - 1

    row = est()
    assert est(window_unroll="all") > 1.8 * row
    assert est(loop_order="default") > 1.05 * row
    assert est(window_unroll="none") > row


def test_tune_extensions_fill_the_template_defaults():
    from isaforge.cmd_tune import with_extensions

    assert with_extensions("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 3), "dot4_i8") == (
        1, 16, 16, 32, 32, 3, None, 1, 0, "dot4_i8")
    assert with_extensions("matmul_i8", (8, 8, 8), "") == (8, 8, 8)
    with pytest.raises(autotune.AutotuneError, match="exts"):
        with_extensions("matmul_i8", (8, 8, 8, "dot4_i8"), "mac4_i8")
