"""Whole int8 models on the simulated VexRiscv: cycles per inference and footprint per extension set.

    .venv/bin/python benchmarks/models.py [--models sine,kws,xor] [--json FILE]

Models: sine is isaforge's post-training quantization of TFLM's hello_world float model; kws the
same of frontend.zoo's DS-CNN (random weights); xor examples/xor.py's MLP, quantized by onnxruntime
and imported with from_onnx. Each is compiled into one C unit per extension set and run on the SoC;
each output is checked against the numpy reference, which equals TFLM's interpreter bit for bit (see
tests/test_model_e2e.py). The float peer on the same SoC (emlearn's generated C for the same xor and
sine MLPs): benchmarks/peers_emlearn.py. Footprint: the model unit's .text / .rodata / .bss (its
kernels, weights and arena; no runtime, no interpreter) read from the ELF. For scale: TFLM's
interpreter alone is tens of KB of .text, ExecuTorch quotes a 50 KB base footprint.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend import quantize  # noqa: E402
from frontend.reference import quantize_np  # noqa: E402
from frontend.run import run_model  # noqa: E402
from frontend.tflite import from_tflite  # noqa: E402
from frontend.zoo import kws_calibration, kws_float, sine_float_path  # noqa: E402

VARIANTS = ((), ("dot4_i8", "requant_i8"), ("mac4_i8", "requant_i8"))


def sine():
    g = quantize(from_tflite(sine_float_path()), np.linspace(0, 2 * np.pi, 500, dtype=np.float32))
    q = g.values[g.inputs[0]].quant
    return g, np.stack([quantize_np(np.array([[x]], np.float32), q) for x in (0.5, 1.5, 3.0)])


def kws():
    g = quantize(kws_float(), kws_calibration())
    return g, np.random.default_rng(5).integers(-128, 128, (1, 1, 49, 10, 1)).astype(np.int8)


def xor():
    from frontend.compile import int8_core

    mod = runpy.run_path(str(ROOT / "examples" / "xor.py"))
    g = mod["int8_xor"]()
    return int8_core(g), mod["demo_inputs"](g)


MODELS = {"sine": sine, "xor": xor, "kws": kws}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="sine,xor,kws")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = []
    print(f"{'model':<6}{'extensions':<22}{'used':<22}{'cycles':>11}{'cold':>11}{'speedup':>8}"
          f"{'.text':>7}{'.rodata':>8}{'.bss':>7}{'arena':>7}")
    for name in args.models.split(","):
        g, x = MODELS[name]()
        want = np.stack([g.evaluate(xi)[0] for xi in x])
        base = None
        for exts in VARIANTS:
            compiled = g.compile("vexriscv", extensions=exts)
            r = run_model(compiled, x, max_cycles=400_000_000)
            if not np.array_equal(r.outputs, want):
                raise SystemExit(f"{name} {exts}: output differs from the reference")
            base = base or r.cycles
            fp = r.footprint
            used = ", ".join(e.name for e in compiled.used_extensions) or "none"
            print(f"{name:<6}{', '.join(exts) or 'none':<22}{used:<22}{r.cycles:>11,}{r.cold_cycles:>11,}"
                  f"{base / r.cycles:>7.2f}x{fp.text:>7}{fp.rodata:>8}{fp.bss:>7}{fp.arena:>7}", flush=True)
            rows.append({"model": name, "extensions": list(exts), "used": used, "cycles": r.cycles,
                         "cold_cycles": r.cold_cycles, "instret": r.instret, "text": fp.text, "rodata": fp.rodata,
                         "bss": fp.bss, "arena": fp.arena, "kernels": fp.kernels})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
