"""The models part of the demo: TFLM's hello_world sine model and emlearn's xor MLP as whole int8
programs on the simulated VexRiscv, printing what the reference examples print, with cycles per
inference and footprint with and without extensions."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VARIANTS = ((), ("dot4_i8", "requant_i8"))


def _section(title: str) -> None:
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def _table(graph, x) -> None:
    from frontend.run import run_model

    print(f"{'extensions':<24}{'cycles warm':>12}{'cold':>8}{'.text':>8}{'.rodata':>9}{'arena':>7}  exact")
    want = np.stack([graph.evaluate(xi)[0] for xi in x])
    for exts in VARIANTS:
        r = run_model(graph.compile("vexriscv", extensions=exts), x)
        fp = r.footprint
        ok = "yes" if np.array_equal(r.outputs, want) else "NO"
        print(f"{', '.join(exts) or 'none':<24}{r.cycles:>12,}{r.cold_cycles:>8,}{fp.text:>8}{fp.rodata:>9}"
              f"{fp.arena:>7}  {ok}")
        if ok != "yes":
            raise SystemExit("model output differs from the numpy reference")


def main() -> int:
    for name in ("sine", "xor"):
        mod = runpy.run_path(str(EXAMPLES / f"{name}.py"))
        _section(f"examples/{name}.py on the simulated VexRiscv (device output)")
        from frontend.compile import int8_core

        graph = int8_core(mod["demo"]())  # the int8 part the device runs
        _section(f"{name}: one C unit per model, no runtime; footprint in bytes")
        _table(graph, mod["demo_inputs"](graph))
    return 0
