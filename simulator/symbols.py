"""The sized symbols of a linked ELF, for footprint reports (read with pyelftools).

``sized_symbols(elf) -> list[SizedSymbol]``
    Every function and object symbol with a size and a section, in symbol-table order, each with
    the source file it comes from (the STT_FILE entry before it: what a local symbol belongs to),
    its section's name and kind (``section_kind``: text, rodata, data or bss by the section's
    flags) and its size.
``allocated_bytes(elf) -> dict[str, int]``
    The bytes of every allocated section, by kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.elf import ElfError

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4


@dataclass(frozen=True)
class SizedSymbol:
    name: str
    bind: str  # STB_LOCAL, STB_GLOBAL or STB_WEAK
    type: str  # STT_FUNC or STT_OBJECT
    file: str | None  # base name of the STT_FILE entry before it (None: before any)
    section: str
    kind: str  # text, rodata, data or bss
    size: int
    address: int
    shndx: int

    @property
    def local(self) -> bool:
        return self.bind == "STB_LOCAL"


def section_kind(flags: int, sh_type: str) -> str:
    """text (executable), data / bss (writable, with or without file bytes) or rodata."""
    if flags & SHF_EXECINSTR:
        return "text"
    if flags & SHF_WRITE:
        return "bss" if sh_type == "SHT_NOBITS" else "data"
    return "rodata"


def sized_symbols(elf: str | Path) -> list[SizedSymbol]:
    """See the module docstring; an ELF without a symbol table (stripped) is an ElfError."""
    from elftools.elf.elffile import ELFFile

    out = []
    with open(elf, "rb") as f:
        e = ELFFile(f)
        symtab = e.get_section_by_name(".symtab")
        if symtab is None:
            raise ElfError(f"{elf}: the ELF has no symbol table (stripped?)")
        current = None
        for sym in symtab.iter_symbols():
            typ, bind = sym["st_info"]["type"], sym["st_info"]["bind"]
            if typ == "STT_FILE":
                current = Path(sym.name).name
                continue
            if typ not in ("STT_FUNC", "STT_OBJECT") or not sym["st_size"] or not isinstance(sym["st_shndx"], int):
                continue
            sec = e.get_section(sym["st_shndx"])
            kind = section_kind(sec["sh_flags"], sec["sh_type"])
            out.append(SizedSymbol(sym.name, bind, typ, current, sec.name, kind, sym["st_size"], sym["st_value"],
                                   sym["st_shndx"]))
    return out


def allocated_bytes(elf: str | Path) -> dict[str, int]:
    """Bytes of the allocated sections by kind (text, rodata, data, bss)."""
    from elftools.elf.elffile import ELFFile

    total = dict.fromkeys(("text", "rodata", "data", "bss"), 0)
    with open(elf, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            if sec["sh_flags"] & SHF_ALLOC and sec["sh_size"]:
                total[section_kind(sec["sh_flags"], sec["sh_type"])] += sec["sh_size"]
    return total


__all__ = ["SizedSymbol", "allocated_bytes", "section_kind", "sized_symbols"]
