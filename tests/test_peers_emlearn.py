"""The emlearn peer program of benchmarks/peers_emlearn.py: built with the project's rv32 toolchain, run on
the simulated SoC, its outputs checked (keeps the benchmark's numbers honest)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from simulator.toolchain import compile_rv32, runtime_sources
from simulator.vexriscv import run_elf

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "peers_emlearn.py"


def _peers():
    if "peers_emlearn" in sys.modules:
        return sys.modules["peers_emlearn"]
    spec = importlib.util.spec_from_file_location("peers_emlearn", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["peers_emlearn"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_xor_peer_predicts_the_four_corners_on_soc():
    peers = _peers()
    run = peers.run_peer(peers.xor_model())
    assert run.classes.tolist() == [0, 1, 1, 0]
    # the logistic outputs (through the freestanding expf) equal numpy's forward pass of the emitted weights
    assert np.max(np.abs(run.outputs - run.reference)) <= 1e-5
    assert run.ok
    assert 0 < run.cycles <= run.cold_cycles and run.instret > 0
    em = run.sizes["emlearn"]
    assert em["text"] > 0 and em["rodata"] >= 4 * (2 * 8 + 8 + 8 + 1)  # at least the weights and biases
    assert run.sizes["rt"]["text"] > 0 and run.delta > em["text"]


def test_sine_peer_matches_numpy_on_soc():
    """TFLM's float sine weights through emlearn's regressor path: the device equals numpy's forward pass."""
    peers = _peers()
    run = peers.run_peer(peers.sine_model())
    assert run.classes is None and run.outputs.shape == (3, 1)
    assert np.max(np.abs(run.outputs - run.reference)) <= 1e-5 and run.ok
    assert np.max(np.abs(run.outputs[:, 0] - np.sin(run.inputs[:, 0]))) < 0.1  # it is a sine model
    assert run.sizes["emlearn"]["rodata"] >= 4 * (16 + 16 + 256 + 16 + 16 + 1)


def test_libm_shim_matches_numpy_on_soc():
    """expf / logf / tanhf of the shim, on the device, within a few float ulps of numpy (float64, rounded)."""
    peers = _peers()
    x = np.concatenate([np.linspace(-20, 20, 41), [-103.5, -90.0, -1e-3, 1e-5, 0.0, 0.3466, 60.0, 88.5]])
    xl = np.concatenate([np.exp(np.linspace(-30, 30, 31)), [1e-40, 0.5, 1.0, 1.4142, 2.0]])
    with np.errstate(under="ignore"):  # 1e-40 is a float32 subnormal on purpose
        x, xl = x.astype(np.float32), xl.astype(np.float32)
    vals = ", ".join(f"0x{b:08x}u" for b in np.concatenate([x, xl]).view(np.uint32))
    main = "\n".join([
        "#include <stdint.h>", '#include "isaforge_rt.h"', '#include "math.h"',
        f"static const uint32_t vals[{len(x) + len(xl)}] = {{{vals}}};",
        "static float f(uint32_t u) { union { uint32_t u; float f; } b; b.u = u; return b.f; }",
        "static uint32_t u(float v) { union { uint32_t u; float f; } b; b.f = v; return b.u; }",
        "static void out(float v) { isaforge_print_uint(u(v)); isaforge_putchar('\\n'); }",
        "int main(void) {",
        f"  for (int i = 0; i < {len(x)}; i++) {{ out(expf(f(vals[i]))); out(tanhf(f(vals[i]))); }}",
        f"  for (int i = {len(x)}; i < {len(x) + len(xl)}; i++) out(logf(f(vals[i])));",
        "  return 0;", "}", "",
    ])
    sources = runtime_sources()
    sources.update(peers.SHIM_HEADERS)
    sources[peers.LIBM_FILE] = peers.LIBM_C
    sources["main.c"] = main
    run = run_elf(compile_rv32(sources))
    assert run.exit_code == 0
    got = np.array([int(v) for v in run.console.split()], np.uint32).view(np.float32).astype(np.float64)
    exp_t = np.stack([np.exp(x.astype(np.float64)), np.tanh(x.astype(np.float64))], 1).reshape(-1)
    with np.errstate(under="ignore"):  # exp(-103.5) is a subnormal float32
        want = np.concatenate([exp_t, np.log(xl.astype(np.float64))]).astype(np.float32).astype(np.float64)
    ulp = np.spacing(np.maximum(np.abs(want), np.finfo(np.float32).tiny).astype(np.float32)).astype(np.float64)
    err = np.abs(got - want) / ulp
    assert got.shape == want.shape
    assert np.max(err) <= 4, (np.argmax(err), got[np.argmax(err)], want[np.argmax(err)])
