"""Tuning curves: best cost so far against trials, one line per tuner (or records file / task)."""

from __future__ import annotations


def curves_from_records(paths, task: str | None = None) -> dict[str, list[float | None]]:
    """Per label, the cost of each record in order (None for an invalid one)."""
    from schedules.autotune.records import load_records

    curves: dict[str, list[float | None]] = {}
    for path in paths:
        recs, _ = load_records(path)
        many_tasks = len({r.task for r in recs}) > 1 and not task
        for r in recs:
            if task and r.task != task:
                continue
            label = f"{r.tuner or 'unknown'}" + (f" ({path})" if len(paths) > 1 else "")
            if many_tasks:
                label += f" {r.task}"
            curves.setdefault(label, []).append(r.result.cost if r.result.valid else None)
    return curves


def plot_curves(curves: dict[str, list[float | None]], output, title: str = "autotuning curve",
                ylabel: str = "best cost so far (cycles or seconds)") -> None:
    """Write a PNG of best-so-far step curves (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, costs in curves.items():
        best, ys = float("inf"), []
        for c in costs:
            if c is not None:
                best = min(best, c)
            ys.append(best if best != float("inf") else float("nan"))
        ax.step(range(1, len(ys) + 1), ys, where="post", label=label)
    finite = [c for costs in curves.values() for c in costs if c is not None]
    if finite and max(finite) > 10 * min(finite):
        ax.set_yscale("log")  # tuners with and without extensions differ by an order of magnitude
    ax.set_xlabel("trials")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
