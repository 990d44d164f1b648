"""``isaforge search-isa``: find which custom instruction to add for a workload (isa_search)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``1.5h`` -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"bad budget {text!r}: expected e.g. 90s, 30m or 1h")
    return float(m.group(1)) * _UNITS[m.group(2)]


class SearchProgressBar:
    """The search's progress on ``stream`` (stderr): phase, step, candidate and elapsed time."""

    def __init__(self, stream=None, width: int = 20):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.t0 = time.time()

    def __call__(self, ev) -> None:
        frac = ev.done / ev.total if ev.total else 1.0
        bar = "#" * int(self.width * min(1.0, frac))
        what = f"{ev.candidate} {ev.message}".strip()[:60]
        self.stream.write(f"\r\033[K[{bar:<{self.width}}] {ev.phase:<8} {ev.done}/{ev.total} {what}  "
                          f"{ev.elapsed_s:.0f}s")
        if ev.phase == "done":
            self.stream.write("\n")
        self.stream.flush()


def export_unit(report, n: int, out_dir) -> dict:
    """Write, for the ``n``-th ranked unit (1-based), what ``export-litex`` writes, for the kernel of the
    workload where the unit saves the most cycles; ``cfu.v`` is the whole unit's CFU (with its
    requant_i8, where paired). Returns the paths."""
    import isa_ext
    from isaforge.errors import ExportError
    from isaforge.export_litex import export_litex
    from schedules import autotune
    from simulator.measure import toolchain_of

    ranked = report.ranked()
    if not 1 <= n <= len(ranked):
        raise ExportError(f"--export {n}: the search ranked {len(ranked)} unit(s)")
    cand = ranked[n - 1]
    base = {k.label: k for k in report.baseline}
    used = [k for k in cand.kernels if k.uses_unit]
    if not used:
        raise ExportError(f"--export {n}: unit {cand.name} serves no kernel")
    kr = max(used, key=lambda k: k.count * (base[k.label].cycles - k.cycles))
    rec = next(k for k in report.workload.kernels if k.label == kr.label)
    task = autotune.create_task(rec.template, tuple(_task_args(kr.task)), "vexriscv")
    cfg = task.config(kr.config)
    func = task.lower(cfg, f"{re.sub(r'[^a-z0-9_]+', '_', kr.label.lower()).strip('_')}")

    def ref(*ins):
        return task.reference(list(ins))[0]

    title = f"{report.workload.name}: {kr.label} with {cand.name} (isa_search rank {n})"
    # KERNEL_CC: the compiler of the config's knob, which the search measured kr.cycles with
    paths = export_litex(func, out_dir, ref=ref, title=title, sim_cycles=int(kr.cycles),
                         toolchain=toolchain_of(cfg, "vexriscv"))
    cfu = Path(out_dir) / "cfu.v"
    cfu.write_text(isa_ext.ExtensionSet([isa_ext.get(e) for e in cand.exts]).verilog())
    return paths


def _task_args(task_key: str) -> list:
    import json

    return json.loads(task_key[task_key.index("["):task_key.rindex("@")])


def add_parser(sub) -> None:
    p = sub.add_parser("search-isa", help="search the custom instruction to add for a workload (verified in RTL, "
                                          "measured on the simulated SoC, ranked by speedup per area)",
                       description=__doc__.splitlines()[0])
    p.add_argument("workload", help="a shipped workload (matmul_i8_64, kws, mlp, matmul_i8_16, max_pool), a .py "
                                    "file defining WORKLOAD, or a model file (.tflite or .onnx: its int8 "
                                    "kernels; a float model needs --calibration)")
    p.add_argument("--calibration", default=None, help=".npy of float samples to quantize a float model")
    p.add_argument("--budget", type=parse_budget, default=parse_budget("30m"), help="time budget, e.g. 30m")
    p.add_argument("--records", required=True, help="JSON Lines records; an existing file is resumed, with the "
                                                    "units' verify and area figures of the .checks.jsonl beside it")
    p.add_argument("-o", "--output", required=True, help="output folder (search.json, table.txt, front.png)")
    p.add_argument("--export", type=int, default=None, metavar="N",
                   help="write the N-th ranked unit's LiteX project (as export-litex) to OUTPUT/export")
    p.add_argument("--scheduler", default=None, help="Dask scheduler HOST:PORT for the measurements")
    p.add_argument("--trials", type=int, default=16, help="tuning trials per kernel and unit")
    p.add_argument("--families", default=None, help="comma-separated candidate families (default: all)")
    p.add_argument("--parallel", type=int, default=None, help="local measurement processes (default: CPU count)")
    p.add_argument("--audit", type=int, default=2, help="pruned candidates measured anyway to check the pruning")
    p.add_argument("--no-dataflow", action="store_true", help="skip the dataflow candidate generator")
    p.add_argument("--part", default="a7-35t", choices=["a7-35t", "a7-100t"],
                   help="the FPGA of the board whose capacity the table checks each unit (with the CPU) against, "
                        "the Arty A7-35T or A7-100T; when the best combination of units does not fit it, the search "
                        "also measures the best one that does")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from isa_search import format_table, search_isa
    from isaforge.cmd_run import read_npy

    calibration = read_npy(args.calibration, "calibration") if args.calibration else None
    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else None
    rep = search_isa(args.workload, budget_s=args.budget, records=args.records, out_dir=args.output,
                     families=families, trials_per_kernel=args.trials, scheduler=args.scheduler,
                     progress=None if args.no_progress else SearchProgressBar(), audit=args.audit,
                     dataflow=not args.no_dataflow, seed=args.seed, n_parallel=args.parallel,
                     part=args.part, calibration=calibration)
    print(format_table(rep, part=args.part))
    out = Path(args.output)
    print(f"wrote {out / 'search.json'}, {out / 'table.txt'}, {out / 'front.png'}")
    if args.export is not None:
        paths = export_unit(rep, args.export, out / "export")
        print(f"wrote {out / 'export'}/ ({', '.join(sorted(paths))})")
    return 0
