"""isa_ext: extensions, generated C / Verilog, three-way verification, CFU composition (real tools)."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import load_example

import isa_ext
from isa_ext import Extension, ExtensionError, Op, VerifyError
from simulator.cfu import CfuCosim, CfuError, combine_cfu
from tir.errors import TirError

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = ["dot2_i16", "dot4_i8", "dot4_u8", "mac4_i8", "requant_i8"]


@pytest.fixture(scope="module")
def example():
    return load_example("custom_extension")


def _mutant(ext: Extension, old: str, new: str) -> Extension:
    """Same extension, but its Verilog has ``old`` replaced by ``new`` (a deliberately wrong RTL)."""

    class Broken(type(ext)):
        def verilog(self):
            text = super().verilog()
            assert old in text
            return text.replace(old, new)

    return Broken(**{f.name: getattr(ext, f.name) for f in dataclasses.fields(ext)})


# ---------------------------------------------------------------- registry, errors, encodings
def test_registry_and_hierarchy():
    assert set(BUILTINS) <= set(isa_ext.names())
    assert isa_ext.get("mac4_i8").name == "mac4_i8"
    with pytest.raises(ExtensionError):
        isa_ext.get("no_such_extension")
    assert issubclass(VerifyError, ExtensionError) and issubclass(ExtensionError, TirError)
    assert issubclass(CfuError, TirError)


def test_builtins_share_one_cfu_and_function_ids():
    es = isa_ext.target_extensions()
    assert len(es.function_ids) == sum(len(isa_ext.get(n).function_ids) for n in BUILTINS)
    mac = isa_ext.get("mac4_i8")
    assert mac.op("mac").function_id(5) == (5 << 3) | mac.op("mac").funct3
    assert len(mac.function_ids) == 5 * 16
    assert isa_ext.get("dot4_i8").function_ids == frozenset({0})


def test_function_id_collision_names_both_extensions():
    a = isa_ext.dot_product_extension("coll_a", funct3=0, funct7=0)
    b = isa_ext.dot_product_extension("coll_b", funct3=0, funct7=0)
    with pytest.raises(ExtensionError, match=r"coll_a.*coll_b.*funct7=0, funct3=0"):
        isa_ext.ExtensionSet([a, b])
    # an immediate range overlapping a fixed encoding
    c = isa_ext.mac_bank_extension("coll_c", funct3={"mac": 0})
    with pytest.raises(ExtensionError, match=r"dot4_u8.*coll_c"):
        isa_ext.ExtensionSet(["dot4_u8", c])
    with pytest.raises(CfuError, match=r"unit_a.*unit_b.*0x008 \{funct7=1, funct3=0\}"):
        combine_cfu([
            ("unit_a", "module unit_a(); endmodule", frozenset({8, 9})),
            ("unit_b", "module unit_b(); endmodule", frozenset({8})),
        ])


def test_bad_definitions_rejected():
    ok = dict(semantics={"x": lambda a, b, i, s: 0}, c_ops={"x": "return 0u;"},
              verilog_comb="always @* rd = 0;")
    with pytest.raises(ExtensionError, match="funct3"):
        Extension("bad1", (Op("x", 8, 0),), **ok)
    with pytest.raises(ExtensionError, match="funct7_range"):
        Extension("bad2", (Op("x", 1, None),), **ok)
    with pytest.raises(ExtensionError, match="share function_id"):
        Extension("bad3", (Op("x", 1, 0), Op("y", 1, 0)),
                  semantics={"x": None, "y": None}, c_ops={"x": "", "y": ""}, verilog_comb="x")
    with pytest.raises(ExtensionError, match="semantics"):
        Extension("bad4", (Op("x", 1, 0),), c_ops={"x": "return 0u;"}, verilog_comb="x")
    with pytest.raises(ExtensionError, match="name"):
        Extension("Bad-Name", (Op("x", 1, 0),), **ok)


# ---------------------------------------------------------------- reference semantics
def _pack(vals, bits):
    word = 0
    for i, v in enumerate(vals):
        word |= (int(v) & ((1 << bits) - 1)) << (bits * i)
    return word


def test_reference_dot_products_match_numpy():
    rng = np.random.default_rng(1)
    for _ in range(200):
        x = rng.integers(-128, 128, 4)
        y = rng.integers(-128, 128, 4)
        rd, _ = isa_ext.get("dot4_i8").reference("dot", _pack(x, 8), _pack(y, 8))
        assert rd == int(np.dot(x, y)) & 0xFFFFFFFF
        xu, yu = rng.integers(0, 256, 4), rng.integers(0, 256, 4)
        rd, _ = isa_ext.get("dot4_u8").reference("dot", _pack(xu, 8), _pack(yu, 8))
        assert rd == int(np.dot(xu, yu))
        x16, y16 = rng.integers(-32768, 32768, 2), rng.integers(-32768, 32768, 2)
        rd, _ = isa_ext.get("dot2_i16").reference("dot", _pack(x16, 16), _pack(y16, 16))
        assert rd == int(np.dot(x16, y16)) & 0xFFFFFFFF
    # little-endian packing: a word load of int8 [1, 2, 3, 4] is lane i = element i
    word = int(np.frombuffer(np.array([1, 2, 3, 4], np.int8).tobytes(), "<u4")[0])
    assert isa_ext.get("dot4_i8").reference("dot", word, _pack([1, 10, 100, -1], 8))[0] == 1 + 20 + 300 - 4
    assert isa_ext.get("dot4_i8").reference("dot", 0x80808080, 0x80808080)[0] == 4 * 16384


def test_reference_mac_bank():
    ext = isa_ext.get("mac4_i8")
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (50, 4))
    y = rng.integers(-128, 128, (50, 4))
    st = None
    for i in range(50):
        _, st = ext.reference("mac", _pack(x[i], 8), _pack(y[i], 8), st, imm=7)
    rd, st = ext.reference("read_clear", 0, 0, st, imm=7)
    assert rd == int((x * y).sum()) & 0xFFFFFFFF
    assert ext.reference("read", 0, 0, st, imm=7)[0] == 0
    # wrap past 2**31
    _, st = ext.reference("set", 0x7FFFFFFF, 0, None, imm=3)
    rd, st = ext.reference("mac", 0x80808080, 0x80808080, st, imm=3)
    assert rd == (0x7FFFFFFF + 65536) & 0xFFFFFFFF
    assert int(st["acc"][3]) == -(1 << 31) + 65535
    with pytest.raises(ExtensionError):
        ext.reference("mac", 0, 0, None, imm=16)


def test_reference_requant_known_values():
    srdhm = isa_ext.saturating_rounding_doubling_high_mul
    rdbpot = isa_ext.rounding_divide_by_pot
    half = 1 << 30  # Q31 0.5
    assert [srdhm(x, half) for x in (3, -3, 1, -1, 5, -5)] == [2, -1, 1, 0, 3, -2]  # ties toward +inf
    assert srdhm(-(1 << 31), -(1 << 31)) == (1 << 31) - 1  # the one saturating case
    assert [rdbpot(x, 1) for x in (3, -3, 1, -1, 4)] == [2, -2, 1, -1, 2]  # ties away from zero
    assert [rdbpot(x, 2) for x in (-5, -6, 6, 5, -7)] == [-1, -2, 2, 1, -2]
    ext = isa_ext.get("requant_i8")
    st = None
    for op, a, b in (("set_mult", 1518500250, 0), ("set_shift_zp", (-7) & 0xFFFFFFFF, (-3) & 0xFFFFFFFF),
                     ("set_clamp", (-128) & 0xFF, 127)):
        _, st = ext.reference(op, a, b, st)
    rng = np.random.default_rng(3)
    for acc in rng.integers(-30000, 30000, 300):
        rd, _ = ext.reference("requant", int(acc) & 0xFFFFFFFF, 0, st)
        real = int(acc) * 1518500250 / 2**31 / 2**7 - 3
        want = min(max(real, -128), 127)
        assert abs(isa_ext.s32(rd) - want) <= 1.0  # double rounding: within one step of the real value
        assert -128 <= isa_ext.s32(rd) <= 127
    # saturation at both ends, and the int8 sign extension of the result
    assert ext.reference("requant", 0x7FFFFFFF, 0, st)[0] == 127
    assert ext.reference("requant", 0x80000000, 0, st)[0] == 0xFFFFFF80


# ---------------------------------------------------------------- generated C
def _cc(args, src: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.c"
    path.write_text(src + "\nint isaforge_test_anchor(void);\nint isaforge_test_anchor(void) { return 0; }\n")
    proc = subprocess.run([*args, "-c", str(path), "-o", str(tmp_path / f"{name}.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_c_compiles_for_every_target(tmp_path, example):
    exts = [isa_ext.get(n) for n in BUILTINS] + [example.EXT]
    es = isa_ext.ExtensionSet(exts)
    strict = ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding"]
    for target in ("host", "verilator"):
        _cc(strict, es.c_source(target), tmp_path, f"all_{target}")
        for ext in exts:
            _cc(strict, ext.c_source(target), tmp_path, f"{ext.name}_{target}")
    zig = [sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
           "-mcpu=generic_rv32+m", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffreestanding"]
    kernel = """
uint32_t isaforge_test_kernel(const uint32_t *a, const uint32_t *b, int n);
uint32_t isaforge_test_kernel(const uint32_t *a, const uint32_t *b, int n) {
    uint32_t s = 0;
    isaforge_mac4_i8_clear(3, 0, 0);
    for (int i = 0; i < n; ++i) {
        s += isaforge_dot4_i8_dot(a[i], b[i]);
        isaforge_mac4_i8_mac(3, a[i], b[i]);
    }
    isaforge_requant_i8_set_mult(1u << 30, 0);
    return s + isaforge_requant_i8_requant(isaforge_mac4_i8_read_clear(3, 0, 0), 0);
}
"""
    _cc(zig, es.c_source("rv32im") + kernel, tmp_path, "all_rv32im")
    asm_path = tmp_path / "all_rv32im.s"
    asm = subprocess.run([*zig[:-5], "-O2", "-S", "-o", str(asm_path), str(tmp_path / "all_rv32im.c")],
                         capture_output=True, text=True)
    assert asm.returncode == 0, asm.stderr
    text = asm_path.read_text()
    # constant immediates fold to single custom-0 instructions: .insn r 0x0B(=11), funct3, funct7
    assert ".insn r 11, 3, 3," in text and ".insn r 11, 1, 3," in text
    assert ".insn r 11, 0, 0," in text
    assert "jalr" not in text.split("isaforge_test_kernel:")[1].split(".Lfunc_end")[0].replace("ret", "")
    for ext in exts:
        _cc(zig, ext.c_source("rv32im"), tmp_path, f"{ext.name}_rv32im")


def test_c_and_verilog_text_deterministic_and_prefixed(example):
    for name in BUILTINS:
        ext = isa_ext.get(name)
        for target in isa_ext.TARGETS:
            text = ext.c_source(target)
            assert text == ext.c_source(target)
            assert "#include" not in text.replace("#include <stdint.h>", "")
        assert ext.verilog() == ext.verilog()
        assert f"module isaforge_{name}_cfu" in ext.verilog()
    # across processes with different hash seeds
    code = ("import hashlib, isa_ext; es = isa_ext.target_extensions(); "
            "print(hashlib.sha256((es.verilog() + ''.join(es.c_source(t) for t in isa_ext.TARGETS))"
            ".encode()).hexdigest())")
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout)
    assert len(outs) == 1


# ---------------------------------------------------------------- three-way verification (Verilator + cc)
@pytest.mark.parametrize("name", BUILTINS)
def test_verify_builtin(name):
    report = isa_ext.verify(name, n=10000)
    assert report.n_ops >= 10000
    assert sum(report.op_counts.values()) == report.n_ops
    assert set(report.op_counts) == {op.name for op in isa_ext.get(name).ops}


def test_verify_example_extension(example):
    report = isa_ext.verify(example.EXT, n=10000)
    assert report.n_ops >= 10000
    assert isa_ext.get("sat_mac2_i16") is example.EXT


def test_verify_catches_wrong_rtl():
    # lane 3 of the mac treated as unsigned: only negative top bytes expose it
    broken = _mutant(isa_ext.get("mac4_i8"), "mb_a3 = {{24{rs1[31]}}", "mb_a3 = {{24{1'b0}}")
    with pytest.raises(VerifyError) as info:
        isa_ext.verify(broken, n=2000)
    err = info.value
    msg = str(err)
    assert err.extension == "mac4_i8" and err.op == "mac"
    assert "isaforge_mac4_i8_mac" in msg and f"{err.function_id:03x}" in msg
    assert f"rs1=0x{err.rs1:08x}" in msg and f"rs2=0x{err.rs2:08x}" in msg
    assert "state before" in msg and "acc=[" in msg
    assert err.rtl != err.reference and err.c_model == err.reference
    assert f"RTL=0x{err.rtl:08x}" in msg and f"reference=0x{err.reference:08x}" in msg


def test_combined_cfu_routes_every_extension(example):
    es = isa_ext.ExtensionSet(["dot4_i8", "dot4_u8", "dot2_i16", "mac4_i8", "requant_i8", example.EXT])
    report = isa_ext.verify_set(es, n=6000)
    assert report.op_counts.get("unknown", 0) > 0
    # direct single calls through the ctypes wrapper
    cfu = CfuCosim(es.cosim_library())
    cfu.reset()
    dot = isa_ext.get("dot4_i8").op("dot").function_id()
    assert cfu.call(dot, 0x80808080, 0x80808080) == 65536
    assert cfu.call(isa_ext.get("dot4_u8").op("dot").function_id(), 0xFFFFFFFF, 0x01010101) == 4 * 255
    mac = isa_ext.get("mac4_i8").op("mac")
    cfu.call(mac.function_id(2), 0x01010101, 0x02020202)
    assert cfu.call(mac.function_id(2), 0x01010101, 0x02020202) == 16
    assert cfu.call(isa_ext.get("mac4_i8").op("read").function_id(2), 0, 0) == 16
    free = sorted(set(range(1024)) - es.function_ids)[0]
    assert cfu.call(free, 123, 456) == 0
    rq = isa_ext.get("requant_i8")
    cfu.call(rq.op("set_mult").function_id(), 1 << 30, 0)
    assert cfu.call(rq.op("requant").function_id(), 0xFFFFFFFD, 0) == 0xFFFFFFFF  # -3 * 0.5 -> -1
    cfu.reset()
    assert cfu.call(isa_ext.get("mac4_i8").op("read").function_id(2), 0, 0) == 0
    out = cfu.call_batch(np.full(1000, dot), np.full(1000, 0x01010101), np.arange(1000))
    assert out.tolist() == [sum(isa_ext.s8(i >> (8 * k)) for k in range(4)) & 0xFFFFFFFF for i in range(1000)]


def test_verilator_target_runs_against_cosim_library(tmp_path):
    """C written for the "verilator" target, linked with the co-simulation library, runs the RTL."""
    es = isa_ext.ExtensionSet(["dot4_i8", "dot4_u8", "dot2_i16", "mac4_i8", "requant_i8"])
    lib = es.cosim_library()
    main = tmp_path / "main.c"
    main.write_text(es.c_source("verilator") + """
#include <stdio.h>
extern void isaforge_cfu_reset(void);
int main(void) {
    isaforge_cfu_reset();
    uint32_t acc = 0;
    for (uint32_t i = 0; i < 10; ++i) acc = isaforge_mac4_i8_mac(5, 0x01020304u, 0x01010101u);
    printf("%u %u %u\\n", (unsigned)isaforge_dot4_i8_dot(0xFFFFFFFFu, 0x01010101u), (unsigned)acc,
           (unsigned)isaforge_mac4_i8_read_clear(5, 0, 0));
    return 0;
}
""")
    exe = tmp_path / "main"
    subprocess.run(["cc", "-std=c99", "-O1", str(main), "-o", str(exe), str(lib),
                    f"-Wl,-rpath,{lib.parent}"], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(0xFFFFFFFC), "100", "100"]


def test_unresponsive_unit_hits_cycle_guard():
    dead = _mutant(isa_ext.get("dot4_i8"), "assign rsp_valid = cmd_valid;", "assign rsp_valid = 1'b0;")
    with pytest.raises(CfuError, match="no response"):
        isa_ext.verify(dead, n=10)
