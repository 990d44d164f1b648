"""The autotuning part of the demo: XGBoost-guided tuning on the simulated VexRiscv, with and
without the custom instructions, and the tuning-curve PNG."""

from __future__ import annotations

import sys
from pathlib import Path

from isaforge.plotting import curves_from_records, plot_curves
from schedules import autotune
from schedules.autotune.templates import EXTS, template_macs
from simulator.measure import make_measure

TRIALS = 32
OUT = Path("out") / "demo"
# (title, template, args); the MACs come from each template's registry operator
TASKS = (("int8 matmul 64x64x64", "matmul_i8", (64, 64, 64)),
         ("int8 conv2d NHWC 10x10x16 -> 16, 3x3", "conv2d_nhwc_i8", (1, 10, 10, 16, 16, 3, 3, 1, 0)))
# the hand schedules of the same operators: a speedup compares the best without extensions with the
# best with them, whichever found it (the tuner or the hand schedule)
HAND_WORKLOAD = {"matmul_i8": "matmul_nt", "conv2d_nhwc_i8": "conv2d_nhwc_ohwi"}
HAND = {"no extension": ("scalar",), "dot4_i8 / mac4_i8": ("dot4", "dot4_asm", "mac4")}


def hand_best(name: str, args: tuple, label: str) -> tuple[int, str]:
    """(cycles, schedule) of the fastest hand schedule of ``label`` for the template's operator."""
    import numpy as np

    import ops
    import simulator
    import tir
    from schedules import hand

    best = None
    op, fixed = ops.lookup(HAND_WORKLOAD[name])
    for sched in HAND[label]:
        wl = op(*args, **fixed)
        s, targs = hand.SCHEDULES[sched](wl)
        rng = np.random.default_rng(0)
        ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
        out = np.zeros(wl.output.shape, np.int32)
        cycles = simulator.run(tir.lower(s, targs), [*ins, out], "vexriscv").cycles
        if not np.array_equal(out, wl.ref(*ins)):
            raise SystemExit(f"hand schedule {sched} of {HAND_WORKLOAD[name]} disagrees with numpy")
        if best is None or cycles < best[0]:
            best = (cycles, sched)
    return best


def main(trials: int = TRIALS) -> int:
    print()
    print("=" * 78)
    print(f"Autotuning on the simulated VexRiscv: XGBTuner, {trials} trials per task, every kernel "
          "checked against numpy")
    print("=" * 78)
    OUT.mkdir(parents=True, exist_ok=True)
    paths = []
    with make_measure("vexriscv") as measure:
        for title, name, args in TASKS:
            macs = template_macs(name, args)
            best = {}
            for label, exts in (("no extension", ""), ("dot4_i8 / mac4_i8", EXTS)):
                task = autotune.create_task(name, (*args, exts), "vexriscv")
                path = OUT / f"{name}_{'ext' if exts else 'noext'}.jsonl"
                res = autotune.XGBTuner(task, seed=0).tune(trials, measure, records=path)
                paths.append(path)
                if res.best_config is None:
                    print(f"{title}: {label}: no valid config", file=sys.stderr)
                    return 1
                resumed = f", {res.n_resumed} resumed from {path}" if res.n_resumed else ""
                print(f"{title:<38}{label:<19}{int(res.best_cost):>10,} cycles {macs / res.best_cost:6.3f} "
                      f"MAC/cycle  ({len(task.config_space)} configs{resumed})")
                print(f"{'':<38}best: {res.best_config}")
                h_cycles, h_sched = hand_best(name, args, label)
                print(f"{'':<38}hand schedule {h_sched!r}: {h_cycles:,} cycles {macs / h_cycles:6.3f} MAC/cycle")
                best[label] = min((res.best_cost, "tuned"), (h_cycles, f"hand {h_sched}"))
            (lo, lo_by), (hi, hi_by) = best["no extension"], best["dot4_i8 / mac4_i8"]
            print(f"{'':<38}speedup from the extensions: {lo / hi:.2f}x (best without: {lo_by}, "
                  f"best with: {hi_by})")
    png = OUT / "tuning_curve.png"
    curves = {}
    for path in paths:
        for label, costs in curves_from_records([path]).items():
            curves[f"{path.stem} ({label})"] = costs
    plot_curves(curves, png, title="XGBTuner on the simulated VexRiscv", ylabel="best cycles so far")
    print(f"\ntuning curves: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
