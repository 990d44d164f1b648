"""Cycles of int8 kernels on the cycle-accurate VexRiscv SoC: naive C, the best hand schedule without an
extension, and each built-in extension that applies.

    .venv/bin/python benchmarks/vexriscv_kernels.py [--quick] [--memory] [--target vexriscv_ideal] [--json PATH]
        [--placement rule]
    .venv/bin/python benchmarks/vexriscv_kernels.py --tune-conv 48 [--tuner xgb] [--target vexriscv_ideal]
    .venv/bin/python benchmarks/vexriscv_kernels.py --tune-memory 32 [--n-parallel 2] [--target vexriscv_ideal]

Every figure is the warm run of the kernel (mcycle around the call; caches warmed by a first call)
and every result is checked against numpy. The naive column is the default schedule compiled with
zig -O2; the other columns take the better of zig -O2 and gcc -O2 -fno-schedule-insns (and, for
the tensorized matmuls, the best of a few register tiles), and name the winner. The "asm" columns
are the stateless-dot schedules with the pragma cfu_asm (the emitter orders the tile's loads, CFU
ops and adds; matmuls unroll the whole reduction, convolutions each window row), zig -O2. With
--memory the batch-1 dense row also has a column for the operand-stationary unit STATIONARY_UNIT
(isa_ext.fam_stationary, built from its candidate spec; schedules.hand.stationary). --target names
the SoC model: vexriscv (one wait state, LiteX's SRAM) or vexriscv_ideal (the ideal memory the
checked-in table and issue 11's figures are on).

--placement rule: the hand schedules' kernels run with their buffers placed by the offset rule alone
(simulator.Placement.RULE, the harness before Placement.TRACE, its default, placed hot inputs by the
kernel's own simulated D-cache misses too).

--tune-conv TRIALS: instead of the table, the conv2d_nhwc_i8 template (OHWI weights) tuned with the
autotuner for TRIALS measurements on the two conv shapes of issue 11's table (1x16x16x32 -> 32, 3x3
pad 1 and 1x1; exts --tune-exts, default dot4_i8), next to the hand schedules on the same OHWI
workload and the template's config of the hand dot4 cfu_asm schedule (HAND_DOT_ROWS: measured, it is
in the space). Records go to --records-dir (resumed: a second run measures nothing new).

--tune-memory TRIALS: instead of the table, each shape of the --memory table tuned per extension
(dot4_i8, mac4_i8; the extension alone in the template's space) with the autotuner for TRIALS
measurements, next to the best hand schedule of that extension (dot4: C order or cfu_asm), and the
better of the two: MAC/cycle "for every shape with the best tuned schedule per extension", matmul rows
also as a share of the same extension's 64^3 figure. The convolutions and the depthwise run on the
template's weight layout (OHWI), the dense row's hand schedules with a relu
(dense_i8 adds the bias only; the same MACs);
a config slower than TIMEOUT_FACTOR times the hand schedule is a measurement timeout.

    .venv/bin/python benchmarks/vexriscv_kernels.py --tune-memory 32 --n-parallel 2 \\
        --json benchmarks/results/vexriscv_kernels_tuned.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import isa_ext  # noqa: E402
import ops  # noqa: E402
import simulator  # noqa: E402
import tir  # noqa: E402
from isa_ext import candidates  # noqa: E402
from schedules import hand  # noqa: E402
from simulator import Toolchain  # noqa: E402

ZIG = Toolchain()
GCC = Toolchain("gcc", extra_flags=("-fno-schedule-insns",))
TOOLCHAINS = {"zig": ZIG, "gcc": GCC}


def _inputs(wl, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in wl.inputs:
        if t.dtype == "int8":
            out.append(rng.integers(-128, 128, t.shape).astype(np.int8))
        elif t.dtype == "int16":
            out.append(rng.integers(-2000, 2000, t.shape).astype(np.int16))
        else:
            out.append(rng.integers(-5000, 5000, t.shape).astype(np.int32))
    return out


def macs(wl) -> int:
    """Multiply-accumulates of a workload, from its registry operator."""
    return wl.op.macs(**wl.params)


TARGET = "vexriscv"  # --target: the SoC model's name (its RAM timing)
PLACEMENT = simulator.Placement.TRACE  # --placement: how the harness places the kernels' buffers


def measure(wl, sched_fn, toolchains, tiles=(None,)):
    """(best cycles, label, toolchain, tile) over toolchains and tiles on ``TARGET``; every run is checked
    against numpy."""
    ins = _inputs(wl)
    want = wl.ref(*ins)
    best = None
    for tile in tiles:
        s, args = sched_fn(wl) if tile is None else sched_fn(wl, tile=tile)
        func = tir.lower(s, args)
        for tname in toolchains:
            out = np.zeros(wl.output.shape, np.int32)
            r = simulator.run(func, ins + [out], TARGET, toolchain=TOOLCHAINS[tname], placement=PLACEMENT)
            if not np.array_equal(out, want):
                raise SystemExit(f"MISMATCH: {wl.name} {sched_fn.__name__} tile {tile} {tname}")
            label = tname + ("" if tile is None else f" {tile[0]}x{tile[1]}" if isinstance(tile, tuple)
                             else f" x{tile}")
            if best is None or r.cycles < best[0]:
                best = (r.cycles, label, tname, tile)
    return best


def kernels(quick: bool):
    n = 32 if quick else 64
    op = ops.get
    return [
        (f"matmul {n}x{n}x{n} (B[K,N], packed in-kernel)", op("matmul")(n, n, n), ["dot4_i8", "mac4_i8"]),
        (f"matmul {n}x{n}x{n} (Bt[N,K] pre-packed)", op("matmul_nt")(n, n, n), ["dot4_i8", "mac4_i8"]),
        ("matmul int16 32x32x32 (B[K,N])", op("matmul")(32, 32, 32, "int16"), ["dot2_i16"]),
        ("conv2d NCHW 16x16x16 -> 16, 3x3 pad 1", op("conv2d_nchw")(1, 16, 16, 16, 16, 3, pad=1),
         ["dot4_i8", "mac4_i8"]),
        ("conv2d NHWC 16x16x16 -> 16, 3x3 s2 pad 1", op("conv2d_nhwc")(1, 16, 16, 16, 16, 3, stride=2, pad=1),
         ["dot4_i8", "mac4_i8"]),
        ("depthwise NCHW 16x16x16, 3x3 pad 1", op("depthwise_conv2d_nchw")(1, 16, 16, 16, 3, pad=1),
         ["dot4_i8", "mac4_i8"]),
        ("dense+bias+relu 16x64x64", op("dense")(16, 64, 64, bias=True, relu=True), ["dot4_i8", "mac4_i8"]),
    ]


#: the operand-stationary unit of the --memory table's batch-1 dense row (16 weight columns x 64
#: reduction steps held in the unit, 128 MACs per mac op; the family's widest member)
STATIONARY_UNIT = candidates.CandidateSpec.of("stationary", cols=16, k=64, dtype="int8")


def stationary_unit() -> str:
    """The name of STATIONARY_UNIT, built from its candidate spec and registered (once)."""
    ext = candidates.build_candidate(STATIONARY_UNIT)
    if ext.name not in isa_ext.names():
        isa_ext.register(ext)
    return ext.name


def memory_kernels():
    """The shapes of the memory-hierarchy table (operands beyond the 4 KiB D-cache; --memory)."""
    op = ops.get
    mm = ["dot4_i8", "mac4_i8"]
    return [
        ("matmul 64x64x64 (Bt[N,K])", op("matmul_nt")(64, 64, 64), mm),
        ("matmul 48x80x96 (Bt[N,K])", op("matmul_nt")(48, 80, 96), mm),
        ("matmul 100x100x100 (Bt[N,K])", op("matmul_nt")(100, 100, 100), mm),
        ("matmul 128x128x128 (Bt[N,K])", op("matmul_nt")(128, 128, 128), mm),
        ("matmul 256x64x256 (Bt[N,K])", op("matmul_nt")(256, 64, 256), mm),
        ("conv2d NHWC 1x16x16x32 -> 32, 3x3 pad 1", op("conv2d_nhwc")(1, 16, 16, 32, 32, 3, pad=1), mm),
        ("conv2d NHWC 1x16x16x32 -> 32, 1x1", op("conv2d_nhwc")(1, 16, 16, 32, 32, 1), mm),
        ("depthwise NCHW 16x16x16, 3x3 pad 1", op("depthwise_conv2d_nchw")(1, 16, 16, 16, 3, pad=1), mm),
        ("dense+bias+relu 1x256 -> 64", op("dense")(1, 64, 256, bias=True, relu=True), mm + [stationary_unit()]),
    ]


MATMUL_TILES = {"dot": ((4, 4), (2, 4), (4, 2), (2, 8)), "mac": ((4, 4), (8, 2), (2, 8))}

#: the shapes of --tune-conv: conv2d_nhwc_i8 args (N, H, W, C, F, KH, KW, stride, pad)
TUNE_CONV_SHAPES = {"3x3 pad 1": (1, 16, 16, 32, 32, 3, 3, 1, 1), "1x1": (1, 16, 16, 32, 32, 1, 1, 1, 0)}
#: schedules.hand's dot4 cfu_asm conv (``_conv_dot_rows``) as conv2d_nhwc_i8 knobs at those shapes: a
#: 4x4 tile, the channels' lane steps and a window row straight-line, the write-back rolled, filter
#: tiles outermost when the weights exceed the D-cache, the padded copy a pixel at a time
HAND_DOT_ROWS = {"tile_a": [4, 4], "tile_b": [8, 4], "unroll": ["unroll", "unroll"], "tensorize": "dot4_i8",
                 "k_steps": 8, "cfu_emit": "asm", "compiler": "zig:-O2", "wb_unroll": "none",
                 "loop_order": "b_outer", "window_unroll": "rx", "pad_copy": "pixel"}


def _knobs_for(space, knobs: dict) -> dict:
    """``knobs`` restricted to the space's knobs (a 1x1 space has no window or pad knob), the rest at
    their first choice; the 1x1 weights fit the D-cache, so its filter-tile loop stays inside."""
    out = {n: k.choices[0] for n, k in space.knobs.items()}
    out.update({k: v for k, v in knobs.items() if k in space.knobs})
    if "window_unroll" not in space.knobs:
        out["loop_order"] = "default"
    return out


def _make_tuner(kind: str, task, seed: int):
    from schedules.autotune import RandomTuner
    from schedules.autotune.xgb_tuner import XGBTuner

    if kind == "xgb":
        return XGBTuner(task, seed=seed)
    if kind == "xgb_noprior":
        return XGBTuner(task, seed=seed, prior=False)
    if kind == "random":
        return RandomTuner(task, seed=seed)
    raise SystemExit(f"unknown --tuner {kind!r} (xgb, xgb_noprior, random)")


def tune_conv(trials: int, tuner: str, exts: str, records_dir: Path, seed: int = 0, n_parallel: int = 1,
              shapes=None) -> list[dict]:
    """The --tune-conv table: per shape, the hand schedules (OHWI), the template's HAND_DOT_ROWS config
    and the tuned best, in cycles and MAC/cycle on TARGET. Every run is checked against numpy."""
    from schedules.autotune import create_task
    from schedules.workloads import conv2d_nhwc_ohwi
    from simulator.measure import make_measure

    rows = []
    records_dir.mkdir(parents=True, exist_ok=True)
    with make_measure(TARGET, n_parallel=n_parallel, seed=seed) as m:
        for title, args in TUNE_CONV_SHAPES.items():
            if shapes and not any(title.startswith(x) for x in shapes):
                continue
            t0 = time.time()
            wl = conv2d_nhwc_ohwi(*args[:6], KW=args[6], stride=args[7], pad=args[8])
            n_macs = macs(wl)
            hand_dot = measure(wl, lambda w: hand.dot4(w, asm=True), ["zig"])
            hand_mac = measure(wl, hand.mac4, ["zig", "gcc"])
            task = create_task("conv2d_nhwc_i8", (*args, exts), TARGET)
            in_space = None
            if "dot4_i8" in exts.split(","):
                r = m(task, [task.config(_knobs_for(task.config_space, HAND_DOT_ROWS))])[0]
                if not r.valid:
                    raise SystemExit(f"{task.key} HAND_DOT_ROWS: {r.error} {r.message[:300]}")
                in_space = r.cost
            records = records_dir / f"conv2d_nhwc_i8_{'x'.join(map(str, args))}_{exts.replace(',', '+')}_{TARGET}" \
                                    f"_{tuner}_s{seed}.jsonl"
            res = _make_tuner(tuner, task, seed).tune(trials, m, records=records)
            if res.best_config is None:
                raise SystemExit(f"{task.key}: no valid config in {trials} trials")
            curve, best = [], float("inf")
            for _, _, r in res.history:
                best = min(best, r.cost) if r.valid else best
                curve.append(best)
            target = min(best, *(c for c in (in_space, hand_dot[0], hand_mac[0]) if c)) / 0.95
            reach = next((t for t, c in enumerate(curve, 1) if c <= target), None)
            rows.append({"shape": title, "args": list(args), "exts": exts, "target": TARGET, "macs": n_macs,
                         "space": len(task.config_space), "tuner": tuner, "trials": trials, "seed": seed,
                         "hand_dot4_asm": hand_dot[0], "hand_mac4": hand_mac[0], "template_hand_config": in_space,
                         "tuned": res.best_cost, "tuned_config": res.best_config.to_json()["knobs"],
                         "trials_to_95pct_of_best": reach})
            print(f"  tuned {task.key} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    print()
    print(f"conv2d_nhwc_i8 (OHWI) on {TARGET}: {tuner} for {trials} trials (seed {seed}), exts {exts}; MAC/cycle")
    print(f"{'shape':12s} {'space':>9s} {'hand dot4 asm':>14s} {'hand mac4':>10s} {'tmpl hand cfg':>14s} "
          f"{'tuned':>8s} {'cycles':>11s} {'to 95%':>7s}")
    def mpc(r, c):
        return f"{r['macs'] / c:.3f}" if c else "-"

    for r in rows:
        def cell(c, r=r):
            return mpc(r, c)

        print(f"{r['shape']:12s} {r['space']:>9,d} {cell(r['hand_dot4_asm']):>14s} {cell(r['hand_mac4']):>10s} "
              f"{cell(r['template_hand_config']):>14s} {cell(r['tuned']):>8s} {r['tuned']:>11,.0f} "
              f"{str(r['trials_to_95pct_of_best'] or '>' + str(trials)):>7s}")
        print(f"    tuned config: {r['tuned_config']}")
    return rows


#: --tune-memory: each shape of the --memory table as (title, template, template args without exts, the
#: workload the hand schedules run on: the template's own operator and layout)
def memory_templates():
    from schedules.workloads import conv2d_nhwc_ohwi

    op = ops.get
    rows = [(f"matmul {m}x{n}x{k} (Bt[N,K])", "matmul_i8", (m, n, k), op("matmul_nt")(m, n, k))
            for m, n, k in ((64, 64, 64), (48, 80, 96), (100, 100, 100), (128, 128, 128), (256, 64, 256))]
    for title, args in TUNE_CONV_SHAPES.items():
        rows.append((f"conv2d NHWC 1x16x16x32 -> 32, {title} (OHWI)", "conv2d_nhwc_i8", args,
                     conv2d_nhwc_ohwi(*args[:6], KW=args[6], stride=args[7], pad=args[8])))
    # (the hand depthwise schedules read C1HW weights, the template CHW: the same MACs)
    rows.append(("depthwise NCHW 16x16x16, 3x3 pad 1", "depthwise_conv2d_i8", (1, 16, 16, 16, 3, 3, 1, 1),
                 op("depthwise_conv2d_nchw")(1, 16, 16, 16, 3, pad=1)))
    # (the hand dense schedules need the relu, dense_i8 has none: the same MACs, 64 max ops apart)
    rows.append(("dense+bias(+relu) 1x256 -> 64", "dense_i8", (1, 64, 256),
                 op("dense")(1, 64, 256, bias=True, relu=True)))
    return rows


#: a tuned config slower than this many times the best hand schedule counts as a timeout (AutoTVM's
#: measurement timeout: no cost, the poorest example for the model)
TIMEOUT_FACTOR = 3


def offers(task, ext: str) -> bool:
    """Whether the task's space can tensorize with ``ext`` (a choice of its ``tensorize`` knob)."""
    knob = task.config_space.knobs.get("tensorize")
    return knob is not None and ext in knob.choices


def tune_memory(trials: int, tuner: str, records_dir: Path, seed: int = 0, n_parallel: int = 1,
                exts=("dot4_i8", "mac4_i8")) -> list[dict]:
    """The --tune-memory table: per shape of the --memory table and per extension, the best hand
    schedule, the template tuned for ``trials`` measurements (the extension alone in its space) and the
    better of the two, in MAC/cycle on TARGET; matmul rows also as a share of the same column's 64^3
    figure (issue 11's 90% goal). Every run is checked against numpy (the tuner's measure checks too)."""
    from schedules.autotune import create_task
    from simulator.measure import make_measure

    records_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for title, template, args, wl in memory_templates():
        t0 = time.time()
        n_macs = macs(wl)
        for ext in exts:
            if ext.startswith("mac"):
                hand_best = measure(wl, lambda w, e=ext: hand.mac4(w, e), ["zig", "gcc"])
            else:
                c_order = measure(wl, lambda w, e=ext: hand.dot4(w, e), ["zig", "gcc"])
                asm = measure(wl, lambda w, e=ext: hand.dot4(w, e, asm=True), ["zig"])
                hand_best = min(c_order, asm, key=lambda r: r[0])
            task = create_task(template, (*args, ext), TARGET)
            if not offers(task, ext):  # (the NCHW depthwise: its lanes are no aligned words)
                rows.append({"shape": title, "template": template, "args": list(args), "ext": ext,
                             "target": TARGET, "macs": n_macs, "space": len(task.config_space), "tuner": tuner,
                             "trials": 0, "seed": seed, "hand": hand_best[0], "hand_label": hand_best[1],
                             "tuned": None, "tuned_config": None, "best": hand_best[0], "best_from": "hand",
                             "note": f"the template does not offer {ext}"})
                continue
            records = records_dir / f"{template}_{'x'.join(map(str, args))}_{ext}_{TARGET}_{tuner}_s{seed}.jsonl"
            with make_measure(TARGET, n_parallel=n_parallel, seed=seed,
                              timeout_cycles=2 * TIMEOUT_FACTOR * hand_best[0] + 100_000) as m:
                res = _make_tuner(tuner, task, seed).tune(trials, m, records=records)
            tuned = res.best_cost if res.best_config is not None else None
            best = min(c for c in (hand_best[0], tuned) if c)
            rows.append({"shape": title, "template": template, "args": list(args), "ext": ext, "target": TARGET,
                         "macs": n_macs, "space": len(task.config_space), "tuner": tuner, "trials": trials,
                         "seed": seed, "hand": hand_best[0], "hand_label": hand_best[1], "tuned": tuned,
                         "tuned_config": res.best_config.to_json()["knobs"] if res.best_config else None,
                         "best": best, "best_from": "tuned" if tuned and tuned < hand_best[0] else "hand"})
        print(f"  tuned {title} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    ref = {r["ext"]: r["macs"] / r["best"] for r in rows if r["shape"].startswith("matmul 64x64x64")}
    print()
    print(f"the --memory shapes on {TARGET}: best hand schedule, the template tuned ({tuner}, {trials} trials, "
          f"seed {seed}) and the better of them; MAC/cycle")
    print(f"{'kernel':44s} {'ext':8s} {'space':>10s} {'hand':>7s} {'tuned':>7s} {'best':>7s} {'of 64^3':>8s}")
    for r in rows:
        def mpc(c, r=r):
            return f"{r['macs'] / c:.3f}" if c else "-"

        share = f"{r['macs'] / r['best'] / ref[r['ext']]:.0%}" if r["template"] == "matmul_i8" and r["ext"] in ref \
            else ""
        print(f"{r['shape']:44s} {r['ext']:8s} {r['space']:>10,d} {mpc(r['hand']):>7s} {mpc(r['tuned']):>7s} "
              f"{mpc(r['best']):>7s} {share:>8s}  {r.get('note', '')}")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="32^3 matmuls and no tile search")
    ap.add_argument("--memory", action="store_true", help="the memory-hierarchy shapes (operands beyond the "
                    "D-cache) instead of the default table; the hand schedules' default tiles only")
    ap.add_argument("--json", metavar="PATH", help="also write the table as JSON (benchmarks/results/"
                    "vexriscv_kernels.json is the checked-in one that tests/test_vexriscv_kernels.py holds to)")
    ap.add_argument("--placement", default="trace", choices=[p.value for p in simulator.Placement],
                    help="how the SoC harness places the kernels' buffers: trace (also by the kernel's own "
                    "simulated D-cache misses, simulator.Placement.TRACE, the default) or rule (the offset "
                    "rule alone, as before)")
    ap.add_argument("--target", default="vexriscv", help="the SoC model: vexriscv (calibrated to LiteX's "
                    "integrated SRAM: one wait state), vexriscv_ideal (an ideal RAM: the model the checked-in "
                    "table and issue 11's figures were measured on)")
    ap.add_argument("--tune-conv", type=int, default=0, metavar="TRIALS",
                    help="tune the conv2d_nhwc_i8 template on the two conv shapes instead (see the docstring)")
    ap.add_argument("--tune-memory", type=int, default=0, metavar="TRIALS",
                    help="tune each shape of the --memory table per extension instead (see the docstring)")
    ap.add_argument("--n-parallel", type=int, default=1, help="--tune-memory: measurements run at once")
    ap.add_argument("--tuner", default="xgb", help="--tune-conv / --tune-memory: xgb, xgb_noprior or random")
    ap.add_argument("--tune-exts", default="dot4_i8", help="--tune-conv: the template's extensions")
    ap.add_argument("--seed", type=int, default=0, help="--tune-conv / --tune-memory: the tuner's seed")
    ap.add_argument("--tune-shapes", nargs="*", default=None, metavar="SHAPE",
                    help=f"--tune-conv: only these of {list(TUNE_CONV_SHAPES)} (by prefix, e.g. 3x3 1x1)")
    ap.add_argument("--records-dir", type=Path, default=None,
                    help="--tune-conv / --tune-memory: where the records go (default: "
                    "$ISAFORGE_CACHE/vexriscv_kernels)")
    args = ap.parse_args(argv)
    global TARGET, PLACEMENT
    TARGET = args.target
    PLACEMENT = simulator.Placement(args.placement)
    if args.tune_memory:
        from toolchain.cache import cache_dir

        rows = tune_memory(args.tune_memory, args.tuner, args.records_dir or cache_dir("vexriscv_kernels"),
                           args.seed, n_parallel=args.n_parallel)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        return 0
    if args.tune_conv:
        from toolchain.cache import cache_dir

        rows = tune_conv(args.tune_conv, args.tuner, args.tune_exts, args.records_dir or cache_dir("vexriscv_kernels"),
                         args.seed, shapes=args.tune_shapes)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        return 0
    t0 = time.time()
    rows = []
    hand_exts = ("dot4_i8", "mac4_i8", "dot2_i16")
    for title, wl, exts in (memory_kernels() if args.memory else kernels(args.quick)):
        n_macs = macs(wl)
        # (--memory: no naive column; the largest naive kernels take tens of millions of cycles)
        cols = [] if args.memory else [("naive C", measure(wl, hand.naive, ["zig"]))]
        cols.append(("hand, no ext", measure(wl, hand.scalar_best, ["zig", "gcc"])))
        is_mm = wl.op.family == "matmul" and not args.quick and not args.memory
        for ext in exts:
            if ext not in hand_exts:  # an operand-stationary unit (batch-1 dense)
                cols.append((ext, measure(wl, lambda w, e=ext: hand.stationary(w, e), ["zig", "gcc"])))
                continue
            if ext.startswith("mac"):
                fn, tiles = hand.mac4, MATMUL_TILES["mac"] if is_mm else (None,)
            else:
                fn, tiles = (lambda w, e=ext, **kw: hand.dot4(w, e, **kw)), MATMUL_TILES["dot"] if is_mm else (None,)
            cols.append((ext, measure(wl, fn, ["zig", "gcc"], tiles)))
            if not ext.startswith("mac"):  # the emitter placing the tile's instructions (pragma cfu_asm)
                fn_asm = lambda w, e=ext, **kw: hand.dot4(w, e, asm=True, **kw)  # noqa: E731
                cols.append((f"{ext} asm", measure(wl, fn_asm, ["zig"], tiles)))
        rows.append((title, n_macs, cols))
        print(f"  measured {title} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    print()
    print(f"{'kernel':44s} {'variant':24s} {'cycles':>11s} {'MAC/cycle':>9s} {'speedup':>8s}  best of")
    print("-" * 114)
    for title, n_macs, cols in rows:
        base = cols[0][1][0]
        for i, (name, (cyc, label, _, _)) in enumerate(cols):
            head = title if i == 0 else ""
            print(f"{head:44s} {name:24s} {cyc:>11,d} {n_macs / cyc:>9.3f} {base / cyc:>7.2f}x  {label}")
        print()
    print("peers, int8 matmul 64x64x64 on the same core: naive C 0.095 MAC/cycle, TVM tensorized 0.37, "
          "Exo 0.45-0.61, hand C 2x2 0.89, hand asm 4x4 dot4 1.13, dot4 issue limit 2.0")
    print(f"(total {time.time() - t0:.0f} s)")
    if args.json:
        table = [{"kernel": title, "variant": name, "cycles": cyc, "macs": n_macs, "toolchain": tname,
                  "tile": list(tile) if isinstance(tile, tuple) else tile, "target": TARGET}
                 for title, n_macs, cols in rows for name, (cyc, _, tname, tile) in cols]
        Path(args.json).write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
