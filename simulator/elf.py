"""A tiny reader for 32-bit little-endian ELF files (RISC-V executables); no dependencies.

``read_elf(path_or_bytes) -> ElfFile`` with ``entry``, ``segments`` (PT_LOAD only: vaddr, data,
memsz) and ``symbols`` (name -> Symbol(address, size)).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from simulator.errors import SimulationError

PT_LOAD = 1
SHT_SYMTAB = 2


class ElfError(SimulationError):
    """The file is not a readable ELF32 little-endian executable."""


@dataclass(frozen=True)
class Segment:
    vaddr: int
    data: bytes  # file bytes (filesz)
    memsz: int  # bytes in memory; memsz - len(data) trailing bytes are zero


@dataclass(frozen=True)
class Symbol:
    address: int
    size: int


@dataclass
class ElfFile:
    entry: int
    machine: int
    segments: list[Segment] = field(default_factory=list)
    symbols: dict[str, Symbol] = field(default_factory=dict)

    def symbol(self, name: str) -> Symbol:
        try:
            return self.symbols[name]
        except KeyError:
            raise ElfError(f"symbol {name!r} not found in the ELF symbol table") from None


def read_elf(source: str | Path | bytes) -> ElfFile:
    """Parse an ELF32 little-endian file (a path or its bytes)."""
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file")
    if data[4] != 1 or data[5] != 1:
        raise ElfError("only 32-bit little-endian ELF files are supported")
    (e_type, e_machine, _ver, e_entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum,
     e_shentsize, e_shnum, _shstrndx) = struct.unpack_from("<HHIIIIIHHHHHH", data, 16)
    elf = ElfFile(entry=e_entry, machine=e_machine)

    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        p_type, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _pflags, _align = struct.unpack_from(
            "<IIIIIIII", data, off
        )
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        if p_offset + p_filesz > len(data):
            raise ElfError(f"segment {i} extends past the end of the file")
        elf.segments.append(Segment(p_vaddr, data[p_offset:p_offset + p_filesz], p_memsz))

    sections = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        sections.append(struct.unpack_from("<IIIIIIIIII", data, off))
    for sh in sections:
        _name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, _info, _align, sh_entsize = sh
        if sh_type != SHT_SYMTAB:
            continue
        strtab = sections[sh_link]
        str_off, str_size = strtab[4], strtab[5]
        strings = data[str_off:str_off + str_size]
        entsize = sh_entsize or 16
        for j in range(sh_size // entsize):
            st_name, st_value, st_size, _st_info, _other, st_shndx = struct.unpack_from(
                "<IIIBBH", data, sh_offset + j * entsize
            )
            if st_name == 0:
                continue
            end = strings.find(b"\0", st_name)
            name = strings[st_name:end if end >= 0 else None].decode("utf-8", "replace")
            # prefer defined symbols over undefined (shndx 0) duplicates
            if name not in elf.symbols or st_shndx != 0:
                elf.symbols[name] = Symbol(st_value, st_size)
    return elf
