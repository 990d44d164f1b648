"""The instruction-search part of the demo: a short custom-instruction search on int8 matmul
64x64x64 (a few candidate units, few trials each), the ranked table and the Pareto-front PNG."""

from __future__ import annotations

import sys
from pathlib import Path

from isa_ext.candidates import CandidateSpec, enumerate_family

TRIALS = 8
OUT = Path("out") / "demo"
WORKLOAD = "matmul_i8_64"


def demo_candidates() -> list[CandidateSpec]:
    """Six units across the families: a dot product, an accumulator bank, two operand-stationary
    units (a small and a larger weight tile), and two that a matmul cannot use (a lane-parallel
    depthwise MAC, a fused elementwise op), reported as "no gain"."""
    return [CandidateSpec.of("dot", lanes=4, dtype="int8"),
            CandidateSpec.of("mac_bank", n_acc=16, lanes=4, dtype="int8"),
            CandidateSpec.of("stationary", cols=2, k=32, dtype="int8"),
            CandidateSpec.of("stationary", cols=4, k=64, dtype="int8"),
            CandidateSpec.of("lane_mac", lanes=4, accumulators=16),
            enumerate_family("fused")[0]]


def main(trials: int = TRIALS) -> int:
    from isa_search import format_table, search_isa

    print()
    print("=" * 78)
    print(f"Custom-instruction search on {WORKLOAD}: each unit verified in Verilator, synthesized with Yosys, "
          f"{trials} tuning trials per unit on the simulated SoC")
    print("=" * 78)
    out = OUT / "isa_search"

    def progress(ev):
        sys.stderr.write(f"\r\033[K  {ev.phase} {ev.done}/{ev.total} {ev.candidate} {ev.message}"[:100])
        if ev.phase == "done":
            sys.stderr.write("\n")
        sys.stderr.flush()

    rep = search_isa(WORKLOAD, budget_s=600, records=OUT / "isa_search.jsonl", out_dir=out,
                     candidates=demo_candidates(), trials_per_kernel=trials, audit=1, progress=progress)
    print(format_table(rep))
    print(f"\nPareto front: {out / 'front.png'}; every candidate: {out / 'search.json'}")
    return 0 if rep.ranked() else 1


if __name__ == "__main__":
    sys.exit(main())
