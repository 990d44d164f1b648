"""The custom-instruction search on the shipped workloads: candidates generated / verified / pruned /
measured, search wall time, and the top 5 units with whole-workload cycles, speedup and area.

Run: .venv/bin/python benchmarks/isa_search.py [--workloads matmul_i8_64,kws] [--trials 16] [--budget 30m]
     [--families dot,mac_bank] [--out out/bench_isa] [--fresh-records] [--json benchmarks/results/isa_search.json]
     [--n-parallel 1]

Records go to OUT/<workload>.jsonl and the units' verify and area figures to OUT/<workload>.checks.jsonl:
a second run resumes them (nothing measured, verified or synthesized again) unless ``--fresh-records``.
The wall time of a run includes verilating every new unit's SoC (cached by content hash under
~/.cache/isaforge, shared between runs), so a warm run is much faster than a cold one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# run as a script, this file's folder comes first on sys.path and its name would hide the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="matmul_i8_64,kws")
    ap.add_argument("--trials", type=int, default=16, help="tuning trials per kernel and unit")
    ap.add_argument("--budget", default="30m")
    ap.add_argument("--families", default=None)
    ap.add_argument("--out", type=Path, default=Path("out") / "bench_isa")
    ap.add_argument("--fresh-records", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--n-parallel", type=int, default=None,
                    help="local measurement processes (default: the CPU count)")
    args = ap.parse_args()

    from isa_search import format_table, search_isa
    from isa_search.checks import checks_path
    from isaforge.cmd_search import SearchProgressBar, parse_budget

    families = args.families.split(",") if args.families else None
    summary = {}
    for name in args.workloads.split(","):
        records = args.out / f"{name}.jsonl"
        if args.fresh_records:  # the measurements and the units' verify / area figures beside them
            for f in (records, checks_path(records)):
                f.unlink(missing_ok=True)
        t0 = time.monotonic()
        rep = search_isa(name, budget_s=parse_budget(args.budget), records=records, out_dir=args.out / name,
                         families=families, trials_per_kernel=args.trials, progress=SearchProgressBar(),
                         n_parallel=args.n_parallel)
        wall = time.monotonic() - t0
        c = rep.counts
        macs = rep.workload.macs()
        print(f"\n=== {name}: {c['generated']} candidates generated, {c['verified']} verified, {c['pruned']} pruned "
              f"({c['audited']} audited, winners pruned: {rep.prune_audit()['winners_pruned'] or 'none'}), "
              f"{c['measured']} measured, {c['ranked']} ranked; {rep.n_measured} configs measured, "
              f"{rep.n_resumed} resumed; search wall time {wall:.0f} s")
        print(f"rv32im: {rep.baseline_cycles:,.0f} cycles" + (f" ({macs / rep.baseline_cycles:.3f} MAC/cycle)"
                                                               if macs else ""))
        top = []
        for i, u in enumerate(rep.ranked()[:5]):
            a = u.area
            mpc = f"  {macs / u.cycles:.3f} MAC/cycle" if macs else ""
            print(f"  {i + 1}. {u.name:<34} {u.cycles:>12,.0f} cycles  {u.speedup:5.2f}x{mpc}  LUT {a['lut']:>5} "
                  f"FF {a['ff']:>5} DSP {a['dsp']:>3} BRAM {a['bram']:g} depth {a['logic_depth']}")
            top.append({"unit": u.name, "cycles": u.cycles, "speedup": u.speedup, "area": a})
        ref = rep.reference
        if ref is not None and ref.cycles is not None:
            print(f"  reference {ref.name}: {ref.cycles:,.0f} cycles, {ref.speedup:.2f}x")
        print()
        print(format_table(rep))
        summary[name] = {"counts": c, "wall_s": wall, "baseline_cycles": rep.baseline_cycles, "top5": top,
                         "reference": None if ref is None else {"cycles": ref.cycles, "speedup": ref.speedup},
                         "n_measured": rep.n_measured, "n_resumed": rep.n_resumed, "trials": args.trials}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
