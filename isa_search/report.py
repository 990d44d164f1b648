"""The search's report: the ranked table, the Pareto front of cycles vs LUTs, its PNG and a JSON.

``format_table(report) -> str``: one line per ranked candidate (fastest first): instruction(s), encoding
(function_id(s)), a one-line description, whole-workload cycles, speedup over rv32im, LUT (and as a
share of the CPU's LUTs, "of CPU") / FF / DSP / BRAM, logic depth, speedup per 1k LUT, whether the unit
and the CPU fit the board's FPGA (``part``, a key of ``isa_ext.area.FPGA_PARTS``: ``"a7-35t"``, the Arty
A7-35T, by default; "no" names what overflows), ``*`` on the Pareto front; then the hand-designed
reference row, the rv32im baseline, and one line per candidate not ranked (no gain, pruned, failed, out
of budget) with its reason. ``capacity(report, part)``: each measured candidate's overflowing resources
on ``part``.

``mark_pareto(cands)`` sets ``pareto`` on the candidates no other one dominates (fewer or equal
cycles and LUTs, one of them strictly fewer); ``non_dominated(points)`` checks a front.
``plot_front(report, path)`` writes the PNG (matplotlib, Agg); ``write_report(report, out_dir)``
writes ``search.json``, ``table.txt`` and ``front.png``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from isa_ext.area import DEFAULT_PART, fpga_part, over_capacity


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether point ``a`` (cycles, LUTs) dominates ``b``: no worse in both, better in one."""
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


def non_dominated(points: Sequence[tuple[float, float]]) -> bool:
    """Whether no point of ``points`` dominates another (a valid Pareto front)."""
    return not any(dominates(p, q) for i, p in enumerate(points) for j, q in enumerate(points) if i != j)


def mark_pareto(cands) -> list:
    """Set ``pareto`` on the candidates of ``cands`` (with cycles and area) that none dominates; returns them."""
    pts = [(c, (c.cycles, c.lut)) for c in cands if c.cycles is not None and c.lut is not None]
    front = []
    for c, p in pts:
        c.pareto = not any(dominates(q, p) for d, q in pts if d is not c)
        if c.pareto:
            front.append(c)
    return front


def _fids(ids) -> str:
    return f"0x{ids[0]:03x}" if len(ids) == 1 else f"0x{min(ids):03x}..0x{max(ids):03x}"


def _encoding(c) -> str:
    """The function_id(s) (custom-0, {funct7, funct3}) of each extension of the unit: one id, or the range."""
    per: dict[str, list[int]] = {}
    for i in c.instructions:
        per.setdefault(i["ext"], []).extend(i["function_ids"])
    return ",".join(_fids(sorted(v)) for v in per.values() if v) or "-"


def _instr(c) -> str:
    """Each extension of the unit with its ops: ``c_mac_bank_int8_4_16{mac,read,clear,+2}``."""
    per: dict[str, list[str]] = {}
    for i in c.instructions:
        per.setdefault(i["ext"], []).append(i["op"])
    parts = []
    for ext, ops in per.items():
        shown = ops[:3] + ([f"+{len(ops) - 3}"] if len(ops) > 3 else [])
        parts.append(f"{ext}.{ops[0]}" if len(ops) == 1 else f"{ext}{{{','.join(shown)}}}")
    return "+".join(parts) or c.key


def _short(text: str, n: int = 58) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _fits(c, part: str, cpu) -> str:
    if c.area is None:
        return "-"
    over = over_capacity(c.area, part, cpu)
    return "yes" if not over else "no: " + ", ".join(over)


def _row(c, mark: str, part: str = DEFAULT_PART, cpu=None) -> list[str]:
    a = c.area or {}
    spk = c.speedup_per_klut
    return [mark, _instr(c), _encoding(c), _short(c.description), f"{c.cycles:,.0f}" if c.cycles is not None else "-",
            f"{c.speedup:.2f}x" if c.speedup is not None else "-", str(a.get("lut", "-")), _cpu_share(c),
            str(a.get("ff", "-")),
            str(a.get("dsp", "-")), f"{a['bram']:g}" if "bram" in a else "-", str(a.get("logic_depth", "-")),
            f"{spk:.2f}" if spk is not None else "-", _fits(c, part, cpu)]


def _cpu_share(c) -> str:
    """The unit's LUTs as a share of the CPU's (VexRiscv_FullCfu synthesized the same way)."""
    f = (c.area_fraction or {}).get("lut")
    return "-" if f is None else f"{100 * f:.0f}%" if f >= 0.01 else f"{100 * f:.1f}%"


HEAD = ["", "instruction(s)", "function_id", "computes", "cycles", "speedup", "LUT", "of CPU", "FF", "DSP", "BRAM",
        "depth", "x/kLUT", "fits"]


def capacity(report, part: str = DEFAULT_PART) -> dict[str, list[str]]:
    """Each candidate with an area (and the reference): the resources of ``part`` it overflows, with
    the CPU's area added when the report has it (empty: it fits)."""
    cands = list(report.candidates) + ([report.reference] if report.reference is not None else [])
    return {c.key: over_capacity(c.area, part, report.cpu_area) for c in cands if c.area is not None}


def format_table(report, top: int | None = None, part: str | None = None) -> str:
    """The ranked table as text (see the module docstring); ``part`` None: the report's own."""
    from .search import Status

    part = part or getattr(report, "part", None) or DEFAULT_PART
    cpu = report.cpu_area
    ranked = report.ranked()[:top] if top else report.ranked()
    rows = [_row(c, f"{i + 1}{'*' if c.pareto else ''}", part, cpu) for i, c in enumerate(ranked)]
    if report.reference is not None and report.reference.cycles is not None:
        rows.append(_row(report.reference, "ref" + ("*" if report.reference.pareto else ""), part, cpu))
    base = ["rv32", "(no extension)", "-", "rv32im scalar code", f"{report.baseline_cycles:,.0f}", "1.00x", "0", "-",
            "0", "0", "0", "-", "-", "yes" if not over_capacity(None, part, cpu) else "no"]
    rows.append(base)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEAD)]
    left = {1, 2, 3}

    def fmt(r):
        return "  ".join(x.ljust(w) if i in left or i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths)))

    macs = report.workload.macs()
    lines = [f"workload {report.workload.name}: {len(report.workload.kernels)} kernels"
             + (f", {macs:,} MACs" if macs else "") + f"; rv32im {report.baseline_cycles:,.0f} cycles",
             fmt(HEAD), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    lines.append("* on the Pareto front of cycles vs LUTs; ref: the hand-designed reference unit")
    if cpu:
        lines.append(f"of CPU: the unit's LUTs as a share of VexRiscv_FullCfu's {cpu['lut']:,} (the same Yosys flow)")
    lines.append(f"fits: the unit {'and VexRiscv_FullCfu ' if cpu else ''}within the {fpga_part(part).name}'s LUTs, "
                 f"FFs, DSPs and BRAMs (the rest of the SoC not counted)")
    if macs:
        best = ranked[0] if ranked else None
        if best is not None:
            lines.append(f"best: {best.name} {macs / best.cycles:.3f} MAC/cycle "
                         f"(rv32im {macs / report.baseline_cycles:.3f})")
    others = [c for c in report.candidates if c.status != Status.RANKED]
    if others:
        lines.append("")
        lines.append("not ranked:")
        for c in others:
            extra = f" ({c.cycles:,.0f} cycles, audited: {'WOULD HAVE WON' if c.would_have_won else 'would not win'})" \
                if c.audited else ""
            lines.append(f"  {c.key:<40} {c.status.value:<17} {c.reason[:140]}{extra}")
    c = report.counts
    lines.append("")
    lines.append(f"candidates: {c['generated']} generated, {c['verified']} verified, {c['synthesized']} synthesized, "
                 f"{c['pruned']} pruned ({c['audited']} of them measured to check), {c['measured']} measured, "
                 f"{c['ranked']} ranked, {c['no_gain']} no gain, {c['failed']} failed, {c['budget']} out of budget; "
                 f"{report.n_measured} configs measured, {report.n_resumed} resumed"
                 + (f", {report.n_checks_resumed} units' verify and area figures resumed"
                    if report.n_checks_resumed else "") + f"; {report.wall_s:.0f} s")
    b = report.build_stats()
    if b["built"] or b["cached"]:
        split = "split build, " if b.get("split") else ""
        lines.append(f"SoC models: {b['built']} units built before measuring ({split}median "
                     f"{b['median_s'] or 0:.1f} s, max {b['max_s'] or 0:.1f} s per unit), {b['cached']} found "
                     "in the cache")
    for n in report.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)


def plot_front(report, path) -> Path:
    """A PNG of every measured unit's cycles against LUTs, the Pareto front joined and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pool = [c for c in report.candidates if c.cycles is not None and c.lut is not None]
    if report.reference is not None and report.reference.cycles is not None and report.reference.lut is not None:
        pool.append(report.reference)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([0], [report.baseline_cycles], marker="s", color="gray", label="rv32im (no unit)")
    others = [c for c in pool if not c.pareto]
    ax.scatter([c.lut for c in others], [c.cycles for c in others], color="tab:blue", alpha=0.6, label="measured")
    front = sorted((c for c in pool if c.pareto), key=lambda c: c.lut)
    if front:
        ax.plot([c.lut for c in front], [c.cycles for c in front], "o-", color="tab:red", label="Pareto front")
        labels: dict[tuple, list[str]] = {}  # units at the same point share one label
        for c in front:
            labels.setdefault((c.lut, c.cycles), []).append(c.name)
        for (lut, cyc), names in labels.items():
            ax.annotate("\n".join(names), (lut, cyc), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("LUTs (Yosys synth_xilinx, Artix-7)")
    ax.set_ylabel(f"whole-workload cycles ({report.workload.name})")
    ax.set_title(f"instruction search: {report.workload.name}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(report, out_dir) -> dict[str, Path]:
    """Write ``search.json`` (every candidate), ``table.txt`` and ``front.png`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "search.json", "table": out / "table.txt", "png": out / "front.png"}
    paths["json"].write_text(json.dumps(report.to_json(), indent=1, default=str))
    paths["table"].write_text(format_table(report) + "\n")
    plot_front(report, paths["png"])
    return paths


__all__ = ["dominates", "format_table", "mark_pareto", "non_dominated", "plot_front", "write_report"]
