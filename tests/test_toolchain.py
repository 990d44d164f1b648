"""Cross-compiler tests (real zig and Debian riscv64-unknown-elf-gcc)."""

import pytest

from simulator.elf import read_elf
from simulator.errors import ToolchainError
from simulator.toolchain import Toolchain, available_toolchains, compile_rv32, runtime_sources

PROGRAM = r"""
#include "isaforge_rt.h"
int32_t table[8];
int main(void) {
    for (int i = 0; i < 8; i++) table[i] = i * 3;
    isaforge_puts("ok");
    return table[5];
}
"""


def _toolchains():
    names = [t.compiler for t in available_toolchains()]
    return [
        pytest.param(Toolchain(c), marks=[] if c in names else pytest.mark.skip(reason=f"{c} not installed"))
        for c in ("zig", "gcc")
    ]


@pytest.mark.parametrize("toolchain", _toolchains(), ids=lambda t: t.compiler)
def test_compiles_small_program(toolchain, tmp_path):
    src = runtime_sources()
    src["main.c"] = PROGRAM
    elf_path = compile_rv32(src, tmp_path, toolchain)
    assert elf_path.parent == tmp_path
    elf = read_elf(elf_path)
    assert elf.machine == 243  # EM_RISCV
    assert elf.entry == 0x40000000 == elf.symbol("_start").address
    assert elf.symbol("table").size == 32
    assert "main" in elf.symbols
    assert any(seg.vaddr == 0x40000000 for seg in elf.segments)
    # cached: a second compile returns the same bytes
    assert compile_rv32(src, None, toolchain).read_bytes() == elf_path.read_bytes()


@pytest.mark.parametrize("toolchain", _toolchains(), ids=lambda t: t.compiler)
def test_compile_error_names_file_and_line(toolchain):
    src = runtime_sources()
    src["broken.c"] = "int f(void) {\n    return 1\n}\n"
    with pytest.raises(ToolchainError, match=r"broken\.c:[23]"):
        compile_rv32(src, None, toolchain)


def test_toolchain_key_and_validation():
    assert Toolchain("zig").key != Toolchain("zig", "-O3").key
    assert Toolchain("gcc", extra_flags=["-fno-schedule-insns"]).extra_flags == ("-fno-schedule-insns",)
    with pytest.raises(ToolchainError):
        Toolchain("clang")


def test_publish_dir_replaces_a_damaged_entry_only_when_asked(tmp_path):
    """A cache entry whose artifact was deleted by hand: the default publish refuses to clobber it, the
    builders' replace_damaged=True puts the new build in its place."""
    from toolchain.cache import publish_dir

    final = tmp_path / "key"
    (final / "leftover").mkdir(parents=True)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "model").write_text("new")
    with pytest.raises(OSError):
        publish_dir(tmp, final, final / "model")
    publish_dir(tmp, final, final / "model", replace_damaged=True)
    assert (final / "model").read_text() == "new" and not (final / "leftover").exists() and not tmp.exists()


_ADDER = """module add_{n}(input [7:0] a, input [7:0] b, output [8:0] y);
  assign y = a + b + 9'd{n};
endmodule
"""
_ADDER_MAIN = """#include "Vadd_{n}.h"
#include <cstdio>
int main() {{ Vadd_{n} m; m.a = 200; m.b = 100; m.eval(); std::printf("%d\\n", (int)m.y); return 0; }}
"""


def test_verilator_runtime_is_compiled_once_and_linked_into_every_model(tmp_path, monkeypatch):
    """Two different designs built with the same flags: Verilator's run-time library (verilated.cpp)
    is compiled once, by the probe build in cache_dir("verilator_rt"); both models link it and work."""
    import subprocess

    from toolchain.verilator import RUNTIME_KIND, build_verilated

    monkeypatch.setenv("ISAFORGE_CACHE", str(tmp_path))
    outs = []
    for n in (1, 2):
        exe = build_verilated(f"add_{n}", {f"add_{n}.v": _ADDER.format(n=n)},
                              [(f"main_{n}.cpp", _ADDER_MAIN.format(n=n))], kind="test_rt")
        log = (exe.parent / "build.log").read_text()
        assert "run-time objects reused from" in log
        assert "-o verilated.o" not in log and "verilated.cpp" not in log  # not compiled again
        outs.append(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip())
    assert outs == ["301", "302"]
    (rt,) = [d for d in (tmp_path / RUNTIME_KIND).iterdir() if not d.name.startswith(".")]  # one, not two
    assert "verilated.o" in (rt / "objects.txt").read_text().split()
    probe_log = (rt / "build.log").read_text()
    assert "-o verilated.o" in probe_log  # where it was compiled
