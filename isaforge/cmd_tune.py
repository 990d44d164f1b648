"""``isaforge tune | best | plot``: autotune a workload or a whole model, show the best records, plot
tuning curves.

``isaforge tune MODEL.tflite|MODEL.onnx --records R [--extensions dot4_i8,requant_i8] [--trials N]``
extracts the model's distinct kernels (``frontend.tasks.extract_tasks``; a float model is quantized
with ``--calibration``, as ``isaforge run`` does) and tunes each task for N trials into the one records
file (resumed when it exists), the hand schedule (config 0) measured first; ``isaforge run MODEL
--records R`` then compiles with them."""

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
                                    "describes them), a registered template name, or a model file "
                                    "(.tflite / .onnx: every distinct kernel of it is tuned)")
    p.add_argument("--target", default="vexriscv",
                   help="a target name, the board to measure on: vexriscv (alias rv32im: isaforge's SoC model "
                        "calibrated to LiteX's integrated SRAM, cost in cycles), vexriscv_sdram (to "
                        "LiteX's SDRAM behind its L2), vexriscv_ideal (an ideal RAM), litex_sim / "
                        "litex_sim_sdram (LiteX's own SoC in simulation), host or verilator (seconds), or one a "
                        "--templates file registers (codegen_c.register_target)")
    p.add_argument("--trials", type=int, default=64, help="total measurements (resumed records count); for a "
                                                         "model: per task")
    p.add_argument("--extensions", default="", help="extensions, comma-separated (e.g. dot4_i8,requant_i8): "
                                                   "a model's tasks tensorize onto them; for a workload, "
                                                   "the template's exts argument (its default when not given)")
    p.add_argument("--calibration", default=None, help=".npy of float samples to quantize a float model")
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


def with_extensions(name: str, args: tuple, extensions: str) -> tuple:
    """A template's ``args`` with ``extensions`` as its ``exts`` argument: the omitted parameters before
    it take their defaults (``--shape 1,16,16,32,32,3`` of conv2d_nhwc_i8 becomes KW=None, stride 1,
    pad 0, then exts). Unchanged when ``extensions`` is empty."""
    import inspect

    from schedules import autotune

    if not extensions:
        return tuple(args)
    params = list(inspect.signature(autotune.get_template(name).func).parameters.values())
    pos = next((i for i, q in enumerate(params) if q.name == "exts"), None)
    if pos is None:
        raise autotune.AutotuneError(f"template {name!r} has no exts argument: --extensions does not apply")
    if len(args) > pos:
        raise autotune.AutotuneError(f"template {name!r}: --shape already gives exts ({args[pos]!r}); drop "
                                     "--extensions or the shape's last value")
    fill = []
    for q in params[len(args):pos]:
        if q.default is inspect.Parameter.empty:
            raise autotune.AutotuneError(f"template {name!r} needs {q.name} in --shape before --extensions")
        fill.append(q.default)
    return (*args, *fill, extensions)


def is_model(workload: str) -> bool:
    """Whether the ``tune`` argument names a model file (by its suffix) rather than a workload."""
    from frontend.load import FORMATS

    return any(workload.endswith(f) for f in FORMATS)


def run_tune(args) -> int:
    if is_model(args.workload):
        return run_tune_model(args)
    from codegen_c.target import get_target
    from schedules import autotune
    from simulator.measure import make_measure
    from simulator.run import runner_for

    load_templates(args.templates)  # a templates file may register a target: resolve the name after it
    target = get_target(args.target)
    unit = runner_for(target).unit
    name, targs = _resolve(args.workload, args.shape)
    targs = with_extensions(name, targs, args.extensions)
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


def tune_tasks(tasks, measure, records, trials: int, tuner: str = "xgb", seed: int = 0,
               early_stopping: int | None = None, callbacks_for=None) -> list[tuple]:
    """Tune each task for ``trials`` measurements into one records file, the hand schedule (config 0,
    the qnn templates' first choices) measured first when the file has no record of it. Returns
    ``(task, TuneResult, hand cost or None)`` per task."""
    from schedules import autotune
    from schedules.autotune.records import RecordWriter, load_records, make_record

    out = []
    for task in tasks:
        recs, _ = load_records(records, task=task, warn=False)
        hand = [r for r in recs if r.config_index == 0]
        if not hand:
            res0 = measure(task, [0])[0]
            with RecordWriter(records) as w:
                w.write(make_record(task, task.config(0), res0, tuner="hand"))
            hand_cost = res0.cost
        else:
            hand_cost = hand[0].result.cost
        t = autotune.get_tuner(tuner)(task, seed=seed)
        res = t.tune(trials, measure, records=records, early_stopping=early_stopping,
                     callbacks=callbacks_for(task) if callbacks_for else [])
        out.append((task, res, hand_cost))
    return out


def run_tune_model(args) -> int:
    from codegen_c.target import get_target
    from frontend.tasks import extract_tasks
    from isaforge.cmd_run import load_graph
    from simulator.measure import make_measure
    from simulator.run import runner_for

    load_templates(args.templates)
    target = get_target(args.target)
    unit = runner_for(target).unit
    graph = load_graph(args.workload, args.calibration)  # as isaforge run loads and quantizes it
    tasks = extract_tasks(graph, target.name, args.extensions)
    if not tasks:
        print(f"model {graph.name!r}: no kernel with a tuning template", file=sys.stderr)
        return 1
    print(f"model {graph.name!r}: {len(tasks)} tasks ({sum(t.count for t in tasks)} kernels), {args.trials} "
          f"trials each, tuner {args.tuner}, extensions: {args.extensions or 'none'}", file=sys.stderr)

    def callbacks_for(task):
        if args.no_progress:
            return []
        print(f"tuning {task.key}: {len(task.config_space)} configs", file=sys.stderr)
        return [autotune_progress(args.trials, unit)]

    with make_measure(target, n_parallel=args.parallel, scheduler=args.scheduler, seed=args.seed) as m:
        results = tune_tasks(tasks, m, args.records, args.trials, args.tuner, args.seed, args.early_stopping,
                             callbacks_for)
    print(f"{'task':<90} {'kernels':>7} {'hand ' + unit:>14} {'best ' + unit:>14} {'speedup':>8}")
    ok = True
    for task, res, hand in results:
        best = res.best_cost
        ok &= best is not None
        sp = f"{hand / best:.2f}x" if hand and best else "-"
        print(f"{task.key:<90} {task.count:>7} {_num(hand):>14} {_num(best):>14} {sp:>8}")
    print(f"records: {args.records} (isaforge run {args.workload} --records {args.records}"
          f"{' --extensions ' + args.extensions if args.extensions else ''})")
    return 0 if ok else 1


def _num(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def autotune_progress(total: int, unit: str):
    from schedules import autotune

    return autotune.progress_bar(total, sys.stderr, unit)


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
