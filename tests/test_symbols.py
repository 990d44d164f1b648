"""simulator.symbols: the sized symbols of a linked rv32 program, by source file and section kind."""

from __future__ import annotations

import pytest

from simulator.elf import ElfError
from simulator.symbols import allocated_bytes, sized_symbols
from simulator.toolchain import compile_rv32, runtime_sources

UNIT = """
#include <stdint.h>
static const int8_t table[40] = {1, 2, 3};
int32_t scratch[12];
int32_t counter = 7;
int32_t unit_entry(int32_t i) { counter += table[i] + scratch[i % 12]; return counter; }
"""
MAIN = """
#include <stdint.h>
int32_t unit_entry(int32_t i);
int main(void) { return unit_entry(3) == 0; }
"""


def test_sized_symbols_name_file_and_kind(tmp_path):
    elf = compile_rv32({**runtime_sources(), "unit.c": UNIT, "main.c": MAIN})
    syms = {s.name: s for s in sized_symbols(elf)}
    assert syms["table"].kind == "rodata" and syms["table"].size == 40 and syms["table"].local
    # a local's file is its source; globals follow every file's locals in the table
    assert syms["table"].file == "unit.c" and syms["scratch"].kind == "bss" and syms["scratch"].size == 48
    assert syms["counter"].kind == "data" and not syms["counter"].local
    assert syms["unit_entry"].kind == "text" and syms["unit_entry"].type == "STT_FUNC"
    total = allocated_bytes(elf)
    assert total["text"] >= syms["unit_entry"].size and total["rodata"] >= 40 and total["bss"] >= 48


def test_a_stripped_program_is_an_elf_error(tmp_path):
    import subprocess

    elf = compile_rv32({**runtime_sources(), "unit.c": UNIT, "main.c": MAIN})
    stripped = tmp_path / "stripped.elf"
    # binutils of the Debian cross gcc the Makefile installs (zig's objcopy cannot strip)
    subprocess.run(["riscv64-unknown-elf-strip", "-o", str(stripped), str(elf)], check=True)
    with pytest.raises(ElfError, match="no symbol table"):
        sized_symbols(stripped)
