"""Measure EVERY config of a small tuning space on the simulated VexRiscv and record the optimum.

Default: ``matmul_i8`` (schedules/autotune/templates.py) at 32 x 32 x 32, int8 in / int32 out,
whose ``tensorize`` knob offers None, dot4_i8 and mac4_i8: 432 configs. Each config is lowered,
cross-compiled, simulated cycle-accurately and checked against numpy (simulator.measure). The
result file (benchmarks/results/exhaustive_matmul32_dot4.json, checked in) holds the best cost,
its config, the space size, the cost of every config and the exact command that produced it;
tests/test_xgb_tuner.py compares the XGBTuner against that best.

    python benchmarks/exhaustive_matmul.py [--template matmul_i8] [--shape 32 32 32] [--n-parallel N]
        [--where KNOB=VALUE ...]

``--where`` measures only the configs whose knob has that value (repeatable; the others stay
unmeasured, ``null`` in ``costs``), e.g. the dot4_i8 cfu_asm configs of the 64^3 space:
``--shape 64 64 64 --where tensorize=dot4_i8 --where cfu_emit=asm`` (540 of 3,240).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "exhaustive_matmul32_dot4.json"


def _best_by_knob(space, costs, knob: str) -> dict:
    """The best cost (and its index) for each value of one knob."""
    if knob not in space.knobs:
        return {}
    pos = list(space.knobs).index(knob)
    out: dict = {}
    for i, c in enumerate(costs):
        if c is None:
            continue
        value = str(space.knobs[knob].choices[space.decompose(i)[pos]])
        if value not in out or c < out[value]["cost"]:
            out[value] = {"cost": c, "index": i}
    return out


def _matching(space, where: list[str], ap) -> list[int]:
    """Indices of the configs whose knobs have the ``KNOB=VALUE`` values (all of them without any)."""
    want = []
    for w in where:
        knob, sep, value = w.partition("=")
        if not sep or knob not in space.knobs:
            ap.error(f"--where {w!r}: expected KNOB=VALUE with a knob of {', '.join(space.knobs)}")
        want.append((list(space.knobs).index(knob), knob, value))
    return [i for i in range(len(space))
            if all(str(space.knobs[k].choices[space.decompose(i)[pos]]) == v for pos, k, v in want)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", default="matmul_i8")
    ap.add_argument("--shape", type=int, nargs="+", default=[32, 32, 32])
    ap.add_argument("--target", default="vexriscv")
    ap.add_argument("--n-parallel", type=int, default=None, help="worker processes (default: CPU count)")
    ap.add_argument("--chunk", type=int, default=32, help="configs per measure call (progress granularity)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--where", action="append", default=[], metavar="KNOB=VALUE",
                    help="only configs whose knob has this value (repeatable)")
    args = ap.parse_args(argv)

    from schedules.autotune.task import create_task
    from simulator.measure import make_measure

    task = create_task(args.template, tuple(args.shape), args.target)
    space = task.config_space
    n = len(space)
    chosen = _matching(space, args.where, ap)
    print(f"{task.key}: {n} configs ({space}); measuring {len(chosen)}", flush=True)
    t0 = time.time()
    costs: list[float | None] = [None] * n
    errors: dict[str, int] = {}
    with make_measure(target=args.target, n_parallel=args.n_parallel) as measure:
        for start in range(0, len(chosen), args.chunk):
            batch = [space.get(i) for i in chosen[start:start + args.chunk]]
            for cfg, res in zip(batch, measure(task, batch)):
                if res.valid:
                    costs[cfg.index] = res.cost
                else:
                    errors[res.error] = errors.get(res.error, 0) + 1
            done = min(len(chosen), start + args.chunk)
            valid = [c for c in costs if c is not None]
            best = min(valid) if valid else None
            print(f"  {done}/{len(chosen)} measured, best {best}, errors {errors}, {time.time() - t0:.0f}s", flush=True)
    elapsed = time.time() - t0
    valid = [(c, i) for i, c in enumerate(costs) if c is not None]
    if not valid:
        print("no valid config", file=sys.stderr)
        return 1
    best_cost, best_index = min(valid)
    best_cfg = space.get(best_index)
    from schedules.autotune.templates import template_macs

    macs = template_macs(args.template, args.shape)  # from the template's registry operator
    out = {
        "task": task.key,
        "template": task.name,
        "args": list(task.args),
        "target": task.target,
        "space_size": n,
        "where": args.where,
        "n_measured": len(chosen),
        "knobs": {name: len(k) for name, k in space.knobs.items()},
        "n_valid": len(valid),
        "errors": errors,
        "best_cost": best_cost,
        "best_index": best_index,
        "best_config": best_cfg.to_json(),
        "best_config_str": str(best_cfg),
        "macs": macs,
        "best_mac_per_cycle": None if macs is None else round(macs / best_cost, 4),
        "best_by_tensorize": _best_by_knob(space, costs, "tensorize"),
        "median_cost": statistics.median(c for c, _ in valid),
        "worst_cost": max(c for c, _ in valid),
        "n_within_10pct": sum(1 for c, _ in valid if c <= 1.10 * best_cost),
        "n_within_5pct": sum(1 for c, _ in valid if c <= 1.05 * best_cost),
        "elapsed_s": round(elapsed, 1),
        "command": "python " + " ".join(shlex.quote(a) for a in [
            "benchmarks/exhaustive_matmul.py", *(argv if argv is not None else sys.argv[1:])]),
        "costs": costs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"best {best_cost:.0f} cycles at config {best_index} ({best_cfg}); "
          f"{out['n_within_10pct']} configs within 10%; wrote {args.out} in {elapsed:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
