"""The VexRiscv SoC's freestanding runtime, and the RV32 cross compilers (from :mod:`toolchain.rv32`).

``runtime_sources() -> dict[str, str]`` and ``link_script_text(ram_kib=256, stack_kib=8, buffers=None)``
    The freestanding runtime (crt0.S, isaforge_rt.c, isaforge_rt.h) and its linker script; ``buffers``
    replaces the section the driver's buffers go in (``simulator.placement.link_block``).

``compile_rv32(sources, out_dir=None, toolchain=Toolchain(), link_script=None) -> Path``
    :func:`toolchain.rv32.compile_rv32` with ``link_script`` defaulting to the runtime's link.ld for
    256 KiB (a ``Path`` is read, a ``str`` is the script text).

``Toolchain``, ``available_toolchains``, ``GCC`` and ``GCC_APT_PACKAGE`` are re-exported from
:mod:`toolchain.rv32`.
"""

from __future__ import annotations

from pathlib import Path

from toolchain import rv32 as _rv32
from toolchain.rv32 import GCC, GCC_APT_PACKAGE, Toolchain, available_toolchains

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
RAM_BASE = 0x40000000
_DEFAULT_TOOLCHAIN = Toolchain()

__all__ = [
    "GCC", "GCC_APT_PACKAGE", "RAM_BASE", "RUNTIME_DIR", "Toolchain", "available_toolchains", "compile_rv32",
    "link_script_text", "runtime_sources",
]


def runtime_sources(print_float: bool = False) -> dict[str, str]:
    """The freestanding runtime: crt0.S, isaforge_rt.c and isaforge_rt.h; with ``print_float`` also
    isaforge_print.c (``isaforge_print_float``)."""
    names = ("crt0.S", "isaforge_rt.c", "isaforge_rt.h") + (("isaforge_print.c",) if print_float else ())
    return {name: (RUNTIME_DIR / name).read_text() for name in names}


# the .isaforge_buf output section of a program whose buffers are not planned (simulator.placement)
DEFAULT_BUFFERS = """    /* Buffers filled by the host before the run: not zeroed by crt0. */
    .isaforge_buf (NOLOAD) : ALIGN(16) {
        *(.isaforge_buf .isaforge_buf.*)
        . = ALIGN(16);
    } > RAM"""


def link_script_text(ram_kib: int = 256, stack_kib: int = 8, buffers: str | None = None) -> str:
    """The linker script for RAM at 0x40000000 of ``ram_kib`` KiB (reset vector = RAM base).

    ``buffers`` is the ``.isaforge_buf`` output section (``simulator.placement.link_block``); None: the
    buffers follow one another in that section, 16-byte aligned.
    """
    text = (RUNTIME_DIR / "link.ld.in").read_text()
    return (
        text.replace("@RAM_BASE@", f"0x{RAM_BASE:08x}")
        .replace("@RAM_SIZE@", f"0x{ram_kib * 1024:x}")
        .replace("@STACK_SIZE@", f"0x{stack_kib * 1024:x}")
        .replace("@BUFFERS@", DEFAULT_BUFFERS if buffers is None else buffers)
    )


def compile_rv32(
    sources: dict[str, str],
    out_dir: str | Path | None = None,
    toolchain: Toolchain = _DEFAULT_TOOLCHAIN,
    link_script: str | Path | None = None,
) -> Path:
    """Compile and link a freestanding RV32IM program for the SoC; return the path of the ELF (cached)."""
    script = link_script_text() if link_script is None else link_script
    return _rv32.compile_rv32(sources, script, out_dir=out_dir, toolchain=toolchain)
