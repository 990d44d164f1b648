"""The ratio column of benchmarks/tuner_efficiency.py: a median that hit the budget makes it a bound."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "tuner_efficiency.py"


def _module():
    spec = importlib.util.spec_from_file_location("benchmarks_tuner_efficiency", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _t(median, reached):
    return {"median": median, "median_reached": reached}


def test_ratio_cell_is_exact_only_when_both_medians_reached_95_percent():
    cell = _module().ratio_cell
    assert cell(_t(100, True), _t(400, True)) == "0.25"
    assert cell(_t(100, True), _t(384, False)) == "<=0.26"  # random's true median is above its budget
    assert cell(_t(512, False), _t(256, True)) == ">=2.00"  # the learned tuner's is above its budget
    assert cell(_t(512, False), _t(1056, False)) == "?"
