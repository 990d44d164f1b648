"""FPGA area of extensions and of the CPU they extend, from a real Yosys run (toolchain.yosys).

API
---
``extension_area(exts) -> AreaReport``
    Synthesize the CFU of ``exts`` (an :class:`~isa_ext.extension.Extension`, a registered name, an
    :class:`~isa_ext.extset.ExtensionSet` or a list of those) for the Arty A7's Artix-7 with Yosys
    ``synth_xilinx``. What is synthesized is exactly the ``cfu.v`` the SoC and ``export-litex`` use:
    every unit plus the routing top module ``Cfu``, so the figures include the few LUTs of the routing
    and the handshake. The report is named after the extension(s) (``dot4_i8+mac4_i8``).

``cpu_area() -> AreaReport``
    The same synthesis of ``VexRiscv_FullCfu.v`` (top ``VexRiscv``, from the ``pythondata-cpu-vexriscv``
    package; its caches map to block RAM), cached on disk and per process: about 30 s on a quiet
    machine the first time.

``FpgaPart(name, lut, ff, dsp, bram)``, ``FPGA_PARTS`` (``"a7-35t"``: the Arty A7-35T's XC7A35T,
``"a7-100t"``: the Arty A7-100T's XC7A100T), ``fpga_part(part)``, ``over_capacity(area, part, cpu=None) -> list[str]``
    A device's resources and which of them a unit (with the CPU's area added, when given) exceeds:
    e.g. ``["DSP 132/90"]``; empty when it fits. The rest of the SoC (bus, UART, DRAM controller) is not
    counted, so a unit close to the limit may still not fit.

``area_rows(reports, cpu=None) -> list[AreaRow]`` / ``format_area_table(reports, cpu=None) -> str``
    The table the ``isaforge area`` command and ``benchmarks/area.py`` print: LUT, FF, DSP, BRAM, CARRY4,
    logic depth, cell-delay estimate, and the unit's LUT / FF / DSP / BRAM as a percentage of the CPU's.

Figures and their meaning are those of :class:`toolchain.yosys.AreaReport` (``lut``, ``ff``, ``dsp``,
``bram`` in 36 Kb tiles, ``carry``, ``logic_depth`` in logic levels, ``delay_ns`` without routing).
Synthesis failures raise :class:`toolchain.yosys.SynthesisError` naming the extension(s), with the tail
of the Yosys log: a search reports such a candidate instead of ranking it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension
from isa_ext.extset import ExtensionSet
from toolchain.yosys import AreaReport, SynthesisError, synthesize

CPU_FILE = "VexRiscv_FullCfu.v"
CPU_TOP = "VexRiscv"

__all__ = [
    "DEFAULT_PART", "FPGA_PARTS", "AreaReport", "AreaRow", "FpgaPart", "SynthesisError", "area_rows", "cpu_area",
    "cpu_verilog_path", "extension_area", "format_area_table", "fpga_part", "over_capacity", "synthesize",
]


def _as_set(exts) -> ExtensionSet:
    if isinstance(exts, ExtensionSet):
        return exts
    if isinstance(exts, (Extension, str)):
        return ExtensionSet([exts])
    try:
        return ExtensionSet(list(exts))
    except TypeError:
        raise ExtensionError(f"extension_area expects an Extension, a name, an ExtensionSet or a list of them, "
                             f"got {type(exts).__name__}") from None


def extension_area(exts: Extension | str | ExtensionSet | Iterable[Extension | str]) -> AreaReport:
    """Area and logic depth of the CFU holding ``exts``; see the module docstring."""
    eset = _as_set(exts)
    name = "+".join(e.name for e in eset.extensions)
    return synthesize({"cfu.v": eset.verilog()}, "Cfu", name=name)


def cpu_verilog_path() -> Path:
    """``VexRiscv_FullCfu.v`` of the installed ``pythondata-cpu-vexriscv`` package."""
    try:
        import pythondata_cpu_vexriscv
    except ImportError:
        raise ExtensionError("cpu_area needs the pythondata-cpu-vexriscv package") from None
    path = Path(pythondata_cpu_vexriscv.data_location) / CPU_FILE
    if not path.exists():
        raise ExtensionError(f"{CPU_FILE} not found at {path}")
    return path


@lru_cache(maxsize=1)
def cpu_area() -> AreaReport:
    """Area and logic depth of VexRiscv_FullCfu (the CPU without its CFU); see the module docstring."""
    return synthesize({CPU_FILE: cpu_verilog_path().read_text()}, CPU_TOP, name="VexRiscv_FullCfu")


@dataclass(frozen=True)
class FpgaPart:
    """An FPGA's resources as Yosys ``synth_xilinx`` counts them: LUTs, flip-flops, DSP48E1 slices and
    36 Kb block RAMs."""

    name: str
    lut: int
    ff: int
    dsp: int
    bram: float


#: the boards' devices, from Xilinx's 7-series product table
FPGA_PARTS = {
    "a7-35t": FpgaPart("XC7A35T (Arty A7-35T)", lut=20800, ff=41600, dsp=90, bram=50),
    "a7-100t": FpgaPart("XC7A100T (Arty A7-100T)", lut=63400, ff=126800, dsp=240, bram=135),
}


#: the board isaforge's SoC targets: the Arty A7-35T
DEFAULT_PART = "a7-35t"


def fpga_part(part: FpgaPart | str) -> FpgaPart:
    """``part`` itself, or the FpgaPart a key of ``FPGA_PARTS`` names."""
    if isinstance(part, FpgaPart):
        return part
    if part not in FPGA_PARTS:
        raise ExtensionError(f"unknown FPGA part {part!r}; known: {', '.join(FPGA_PARTS)}")
    return FPGA_PARTS[part]


def over_capacity(area, part: FpgaPart | str, cpu=None) -> list[str]:
    """The resources of ``part`` (a FpgaPart or a key of ``FPGA_PARTS``) that ``area`` (an AreaReport or
    a dict of its figures) exceeds, the CPU's ``cpu`` added when given: ``["DSP 132/90", ...]``."""
    part = fpga_part(part)

    def figure(a, k: str) -> float:
        if a is None:
            return 0.0
        return float(a[k] if isinstance(a, dict) else getattr(a, k))

    out = []
    for k, label in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP"), ("bram", "BRAM")):
        used = figure(area, k) + figure(cpu, k)
        if used > getattr(part, k):
            out.append(f"{label} {used:g}/{getattr(part, k):g}")
    return out


@dataclass(frozen=True)
class AreaRow:
    """One printed line: a report and, when a CPU report was given, its share of the CPU (in %)."""

    report: AreaReport
    pct_lut: float | None = None
    pct_ff: float | None = None
    pct_dsp: float | None = None
    pct_bram: float | None = None


def area_rows(reports: Sequence[AreaReport], cpu: AreaReport | None = None) -> list[AreaRow]:
    """A row per report, with its LUT / FF / DSP / BRAM as percentages of ``cpu``'s (if given)."""
    rows = []
    for r in reports:
        if cpu is None:
            rows.append(AreaRow(r))
            continue
        frac = r.fraction_of(cpu)
        rows.append(AreaRow(r, *(None if frac[k] is None else 100.0 * frac[k] for k in ("lut", "ff", "dsp", "bram"))))
    return rows


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}%"


def format_area_table(reports: Sequence[AreaReport], cpu: AreaReport | None = None,
                      failures: Sequence[tuple[str, str]] = ()) -> str:
    """The area table as text: one line per report (the CPU itself last, when given), then one line per
    ``(name, reason)`` in ``failures``."""
    head = ["unit", "LUT", "FF", "DSP", "BRAM", "CARRY4", "depth", "delay_ns"]
    if cpu is not None:
        head += ["LUT%cpu", "FF%cpu", "DSP%cpu", "BRAM%cpu"]
    lines = []
    all_rows = area_rows(reports, cpu) + ([AreaRow(cpu)] if cpu is not None else [])
    for row in all_rows:
        r = row.report
        cells = [r.name, str(r.lut), str(r.ff), str(r.dsp), f"{r.bram:g}", str(r.carry), str(r.logic_depth),
                 "-" if r.delay_ns is None else f"{r.delay_ns:.2f}"]
        if cpu is not None:
            is_cpu = row.report is cpu
            cells += ["(cpu)" if is_cpu else _pct(v) for v in (row.pct_lut, row.pct_ff, row.pct_dsp, row.pct_bram)]
        lines.append(cells)
    width = max([len(head[0])] + [len(c[0]) for c in lines] + [len(n) for n, _ in failures])
    colw = [width] + [max(len(h), *(len(c[i]) for c in lines)) if lines else len(h) for i, h in enumerate(head)][1:]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(colw[0]) if i == 0 else c.rjust(colw[i]) for i, c in enumerate(cells)).rstrip()

    out = [fmt(head)] + [fmt(c) for c in lines]
    out += [f"{n.ljust(width)}  synthesis failed: {reason}" for n, reason in failures]
    return "\n".join(out)
