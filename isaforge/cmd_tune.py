"""``isaforge tune | best | plot``: autotune a workload, show the best records, plot tuning curves."""

from __future__ import annotations

import argparse
import sys

TUNER_CHOICES = ("xgb", "ga", "random", "grid")


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.replace("x", ",").split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: expected comma-separated ints, e.g. 64,64,64") from None


def add_parser(sub) -> None:
    p = sub.add_parser("tune", help="autotune a workload's schedule template (records to a JSON Lines file)")
    from schedules.autotune.templates import WORKLOADS

    p.add_argument("workload", help=f"an operator with a template ({', '.join(WORKLOADS)}; `isaforge ops` "
                                    "describes them) or a registered template name")
    p.add_argument("--target", default="vexriscv",
                   help="a target name: vexriscv (alias rv32im: the simulated SoC, cost in cycles), host or "
                        "verilator (seconds), or one a --templates file registers (codegen_c.register_target)")
    p.add_argument("--trials", type=int, default=64, help="total measurements (resumed records count)")
    p.add_argument("--tuner", default="xgb", choices=TUNER_CHOICES)
    p.add_argument("--records", required=True, help="JSON Lines file; an existing one is resumed, and tuners "
                                                    "running at once on one file share the work")
    p.add_argument("--shape", type=_shape, default=None, help="template args, e.g. 64,64,64")
    p.add_argument("--templates", action="append", default=[], metavar="FILE_OR_MODULE",
                   help="a .py file or an importable module defining templates (@autotune.template) to load "
                        "first; repeatable. The file need not be importable by the measurement workers")
    p.add_argument("--scheduler", default=None, help="Dask scheduler HOST:PORT (default: a local process pool)")
    p.add_argument("--parallel", type=int, default=None, help="local worker processes (default: CPU count)")
    p.add_argument("--early-stopping", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_tune)

    b = sub.add_parser("best", help="best config and cost per task of records files")
    b.add_argument("records", nargs="+")
    b.set_defaults(func=run_best)

    pl = sub.add_parser("plot", help="best-so-far cost against trials, one line per tuner/file")
    pl.add_argument("records", nargs="+")
    pl.add_argument("-o", "--output", required=True, help="PNG file")
    pl.add_argument("--task", default=None, help="only this task key (default: every task)")
    pl.set_defaults(func=run_plot)


def load_templates(sources) -> None:
    """Run each ``.py`` file (as a module of its own, not ``__main__``) or import each module name,
    so that the templates they define are registered."""
    from isaforge.user_code import run_user_sources
    from schedules.autotune import AutotuneError

    run_user_sources(sources, "--templates", "isaforge_user_templates", AutotuneError)


def _resolve(workload: str, shape):
    from schedules import autotune
    from schedules.autotune.templates import WORKLOADS

    if workload in WORKLOADS:
        name, default = WORKLOADS[workload]
    else:
        autotune.get_template(workload)  # raises with the list of registered names
        name, default = workload, None
    args = shape if shape is not None else default
    if args is None:
        raise autotune.AutotuneError(f"template {workload!r} needs --shape")
    return name, tuple(args)


def run_tune(args) -> int:
    from codegen_c.target import get_target
    from schedules import autotune
    from simulator.measure import make_measure
    from simulator.run import runner_for

    load_templates(args.templates)  # a templates file may register a target: resolve the name after it
    target = get_target(args.target)
    unit = runner_for(target).unit
    name, targs = _resolve(args.workload, args.shape)
    tuner_cls = autotune.get_tuner(args.tuner)
    task = autotune.create_task(name, targs, target)
    print(f"tuning {task.key}: {len(task.config_space)} configs, {args.trials} trials, tuner {args.tuner}",
          file=sys.stderr)
    tuner = tuner_cls(task, seed=args.seed)
    callbacks = [] if args.no_progress else [autotune.progress_bar(args.trials, sys.stderr, unit)]
    with make_measure(target, n_parallel=args.parallel, scheduler=args.scheduler, seed=args.seed) as m:
        res = tuner.tune(args.trials, m, records=args.records, early_stopping=args.early_stopping,
                         callbacks=callbacks)
    for pr in res.problems:
        print(f"warning: {args.records}: skipped {pr}", file=sys.stderr)
    if res.best_config is None:
        print(f"{task.key}: no valid config among {len(res.history)} trials", file=sys.stderr)
        return 1
    print(f"{task.key}\tbest {res.best_cost:g} {unit}\t({res.n_measured} measured, {res.n_resumed} resumed, "
          f"{res.n_shared} shared, {res.n_errors} errors)\t{res.best_config}")
    return 0


def run_best(args) -> int:
    from schedules.autotune.records import best_records, load_records

    found = False
    for path in args.records:
        recs, _ = load_records(path)
        counts: dict[str, int] = {}
        for r in recs:
            counts[r.task] = counts.get(r.task, 0) + 1
        for key, r in sorted(best_records(path, warn=False).items()):
            found = True
            knobs = ", ".join(f"{k}={v}" for k, v in r.config["knobs"].items())
            print(f"{key}\t{r.result.cost:g}\tconfig {r.config_index} ({knobs})\t{counts.get(key, 0)} records"
                  f"\t{path}")
        for key in sorted(set(counts) - set(best_records(path, warn=False))):
            print(f"{key}\tno valid result\t{counts[key]} records\t{path}")
    return 0 if found else 1


def run_plot(args) -> int:
    from isaforge.plotting import curves_from_records, plot_curves

    curves = curves_from_records(args.records, task=args.task)
    plot_curves(curves, args.output)
    print(f"wrote {args.output} ({len(curves)} curve(s))", file=sys.stderr)
    return 0 if curves else 1
