"""Tuned int8 kernels on shapes that no register tile or lane word divides, with and without extensions.

    .venv/bin/python benchmarks/odd_shapes.py [--trials 32] [--seed 0] [--target vexriscv] [--json F]

For each shape the XGB tuner searches the template's space twice: without extensions (exts "") and
with the built-in dot4_i8 and mac4_i8. Those spaces have partial register tiles (the last tile of an
axis cut short, partitioned by lowering) and, when K is no whole number of 4-lane words, operands
copied into zero-padded word rows; before both existed such a shape had only its scalar space (K % 4)
or only its dividing tiles. Every measured kernel is checked against numpy by the measure function.
Prints MAC/cycle (cycles of the simulated SoC are deterministic) and the speedup the extensions buy.
The space with extensions holds every scalar config too, so a speedup below 1 is the tuner's sampling
of a larger space in the same trials (batch-1 dense: padding its weights costs more than dot4 saves).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schedules.autotune import create_task  # noqa: E402
from schedules.autotune.templates import template_macs  # noqa: E402
from schedules.autotune.xgb_tuner import XGBTuner  # noqa: E402
from simulator.measure import make_measure  # noqa: E402

#: (title, template, args without exts, the extents of the two tiled axes)
SHAPES = [
    ("matmul 33x33x33", "matmul_i8", (33, 33, 33)),
    ("matmul 30x50x70", "matmul_i8", (30, 50, 70)),
    ("dense 1x150 -> 70", "dense_i8", (1, 70, 150)),
    ("conv2d NHWC 1x15x15x20 -> 20, 3x3 pad 1", "conv2d_nhwc_i8", (1, 15, 15, 20, 20, 3, 3, 1, 1)),
]
EXTS = "dot4_i8,mac4_i8"


def tune(template: str, args: tuple, exts: str, trials: int, seed: int, target: str, m, records: Path) -> dict:
    task = create_task(template, (*args, exts), target)
    res = XGBTuner(task, seed=seed).tune(trials, m, records=records / f"{task.key.replace('/', '_')}.jsonl")
    if res.best_config is None:
        raise SystemExit(f"{task.key}: no valid config in {trials} trials")
    return {"space": len(task.config_space), "cycles": res.best_cost, "config": res.best_config.to_json()["knobs"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", default="vexriscv")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, make_measure(a.target, n_parallel=1, seed=a.seed) as m:
        for title, template, args in SHAPES:
            t0 = time.time()
            macs = template_macs(template, args)
            row = {"shape": title, "template": template, "args": list(args), "macs": macs, "trials": a.trials,
                   "seed": a.seed, "target": a.target}
            for key, exts in (("scalar", ""), ("ext", EXTS)):
                row[key] = tune(template, args, exts, a.trials, a.seed, a.target, m, Path(tmp))
            rows.append(row)
            print(f"  {title}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    print(f"\nXGB, {a.trials} trials (seed {a.seed}) on {a.target}; MAC/cycle of the best found")
    print(f"{'shape':42s} {'space':>8s} {'no ext':>8s} {'space':>8s} {'dot4/mac4':>10s} {'speedup':>8s}  best config")
    for r in rows:
        s, e = r["scalar"], r["ext"]
        c = e["config"]
        best = f"{c.get('tensorize')} tiles {c['tile_a'][1]}x{c['tile_b'][1]}"
        print(f"{r['shape']:42s} {s['space']:8d} {r['macs'] / s['cycles']:8.3f} {e['space']:8d} "
              f"{r['macs'] / e['cycles']:10.3f} {s['cycles'] / e['cycles']:7.2f}x  {best}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
