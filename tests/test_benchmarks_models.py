"""The per-layer sine baseline of benchmarks/models.py (library kernels one at a time, called from a
hand-written main): built with the project's rv32 toolchain, run on the simulated SoC, its outputs
equal the whole-model reference bit for bit, and with dot4_i8 + requant_i8 it uses both units."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "models.py"
_NAME = "benchmarks_models"


def _models():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def runs():
    m = _models()
    return {exts: m.per_layer_sine(exts) for exts in m.PER_LAYER_VARIANTS}


def test_per_layer_sine_is_bit_exact_on_soc(runs):
    m = _models()
    g, x = m.sine()
    want = np.stack([g.evaluate(xi)[0] for xi in x])
    assert len(np.unique(want)) == len(x)  # three different outputs: a constant program would not pass
    for exts, r in runs.items():
        assert r.outputs.shape == want.shape and r.outputs.dtype == np.int8
        assert np.array_equal(r.outputs, want), exts
        assert np.array_equal(r.reference, want) and r.ok
        assert 0 < r.cycles <= r.cold_cycles and r.instret > 0
        # a dense and a requantize per channel run (sine's hidden layers are quantized per channel)
        assert r.calls == len(r.kernels) == 3 + 16 + 16 + 1
        assert r.text == sum(r.kernels.values()) and all(v > 0 for v in r.kernels.values())
        assert r.rodata >= 16 + 256 + 16 + 4 * (16 + 16 + 1)  # the weights and biases at least
        assert r.bss >= 4 * (16 + 16 + 1) + 16 + 16  # the buffers between the kernels


def test_per_layer_sine_uses_the_extensions(runs):
    plain, ext = runs[()], runs[("dot4_i8", "requant_i8")]
    assert plain.used == () and ext.used == ("dot4_i8", "requant_i8")
    assert ext.cycles < plain.cycles and ext.instret < plain.instret
    # the requant_i8 kernels are a few CFU ops instead of the 64-bit multiply and rounding
    assert ext.kernels["layer1_requant0"] < plain.kernels["layer1_requant0"]
    # the 16 -> 16 layer's reduction is 4 dot4_i8 words per output instead of 16 multiplies
    assert ext.kernels["layer1_dense"] < plain.kernels["layer1_dense"]


def test_per_layer_sine_refuses_other_extensions():
    with pytest.raises(ValueError, match="mac4_i8"):
        _models().per_layer_sine(("mac4_i8",))


def test_per_layer_rows_of_the_table(capsys):
    """The rows main() adds after the whole-model sine rows: the existing fields plus per_layer."""
    m = _models()
    rows = m._per_layer_rows()
    fields = {"model", "extensions", "used", "cycles", "cold_cycles", "instret", "text", "rodata", "bss", "arena",
              "kernels", "per_layer"}
    assert [r["extensions"] for r in rows] == [list(e) for e in m.PER_LAYER_VARIANTS]
    for r in rows:
        assert set(r) == fields and r["per_layer"] is True and r["model"] == m.PER_LAYER_NAME
        assert r["cycles"] > 0 and r["text"] == sum(r["kernels"].values())
        json.dumps(r)
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(m.PER_LAYER_NAME)]
    assert len(printed) == len(m.PER_LAYER_VARIANTS)


def test_emlearn_peer_row_in_the_same_table(capsys):
    """main() measures emlearn's float C of the same MLP in the same run and prints it as a row."""
    m = _models()
    row = m._emlearn_row("xor", 560)
    assert row["model"] == "xor (emlearn float)" and row["peer"] == "emlearn" and row["cycles"] > 560
    assert row["text"] > 0 and json.dumps(row)
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("xor (emlearn float)")]
    assert len(line) == 1 and f"{row['cycles']:,}" in line[0]
