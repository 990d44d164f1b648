"""isaforge's SoC model with LiteX's L2 and SDRAM timing (``vexriscv_sdram``) against LiteX's own SoC
with SDRAM main RAM (``litex_sim --with-sdram``).

This file makes the suite's second (and last) litex_sim build: the dot4_i8 unit with SDRAM, about a
minute, cached by content hash afterwards. The tests without litex_sim in their name run the model only.
"""

import numpy as np
import pytest

import isa_ext
import ops
import simulator
import tir
from codegen_c import get_target
from codegen_c.rv32 import LITEX_SDRAM_L2, L2Timing
from schedules import hand
from simulator.litex_sim import LitexMemory, build_litex_sim, compile_litex_program, run_litex_sim
from simulator.run import cfu_verilog
from simulator.toolchain import Toolchain, compile_rv32, runtime_sources
from simulator.vexriscv import run_elf
from tir.errors import ArgumentError

CFU = cfu_verilog([isa_ext.get("dot4_i8")])
ZIG = Toolchain("zig")


@pytest.fixture(scope="module")
def sdram():
    return build_litex_sim(CFU, LitexMemory.SDRAM)


def _kernels():
    op = ops.get
    return [
        ("matmul 32^3 dot4", op("matmul")(32, 32, 32), hand.dot4),
        ("matmul_nt 32^3 dot4 cfu_asm", op("matmul_nt")(32, 32, 32), lambda wl: hand.dot4(wl, asm=True)),
        ("conv2d NHWC 8x8x16 -> 16 3x3", op("conv2d_nhwc")(1, 8, 8, 16, 16, 3, pad=1), hand.dot4),
        ("dense 4x128 -> 32", op("dense")(4, 32, 128, bias=True, relu=True), hand.dot4),
    ]


@pytest.mark.parametrize("case", _kernels(), ids=lambda c: c[0])
def test_the_sdram_model_agrees_with_litex_sim_sdram(sdram, case):
    """``vexriscv_sdram`` takes the cycles litex_sim with SDRAM takes within 3%, cold and warm (same
    compiler, the litex_sim program laid out like the model's modulo 8 KiB); the SRAM model does not."""
    _, wl, sched = case
    func = tir.lower(*sched(wl))
    assert cfu_verilog(func.extensions) == CFU
    rng = np.random.default_rng(5)
    ins = [rng.integers(-128, 128, t.shape).astype(t.dtype) for t in wl.inputs]
    runs = {}
    for target in ("litex_sim_sdram", "vexriscv_sdram", "vexriscv"):
        out = np.zeros(wl.output.shape, np.int32)
        runs[target] = simulator.run(func, ins + [out], target)
        np.testing.assert_array_equal(out, wl.ref(*ins))
    lx, model, sram = runs["litex_sim_sdram"], runs["vexriscv_sdram"], runs["vexriscv"]
    assert lx.instret == model.instret
    assert abs(model.cycles - lx.cycles) <= 0.03 * lx.cycles, (model.cycles, lx.cycles)
    assert abs(model.cold_cycles - lx.cold_cycles) <= 0.03 * lx.cold_cycles, (model.cold_cycles, lx.cold_cycles)
    # the SDRAM costs are not a no-op: the SRAM model is off by more than the tolerance above
    assert sram.cold_cycles < 0.95 * lx.cold_cycles, (sram.cold_cycles, lx.cold_cycles)


_PATTERNS_C = r"""
#include <stdint.h>
static volatile uint32_t buf[8192] __attribute__((aligned(32768)));  /* 32 KiB */
static inline uint32_t cyc(void) { uint32_t v; __asm__ volatile("csrr %0, mcycle" : "=r"(v)); return v; }
__attribute__((noinline)) uint32_t pattern(uint32_t *sum) {
    uint32_t s = 0;
    for (int i = 0; i < 2048; i++) buf[i] = (uint32_t)i * 7u;       /* 8 KiB of dirty L2 lines */
    uint32_t t0 = cyc();
    for (int i = 0; i < 2048; i += 8) s += buf[4096 + i];           /* each refill evicts one */
    for (int i = 0; i < 2048; i += 4) buf[6144 + i] = s + (uint32_t)i;  /* a store per fresh line */
    uint32_t t1 = cyc();
    for (int i = 0; i < 8192; i += 64) s += buf[i];
    *sum = s;
    return t1 - t0;
}
"""


def test_write_backs_and_store_misses_cost_what_they_cost_on_litex_sim_sdram(sdram):
    """A pattern made of dirty evictions and write-allocating stores: within 3% of litex_sim's SDRAM,
    its checksum equal on both SoCs."""
    lx_main = ('#include "lx_rt.h"\n#include <stdint.h>\nuint32_t pattern(uint32_t *);\n'
               "int main(void) { uint32_t s, c = pattern(&s); lx_put_i32((int32_t)c); lx_putc(' '); lx_put_hex(s);"
               " return 0; }\n")
    own_main = ('#include "isaforge_rt.h"\n#include <stdint.h>\nuint32_t pattern(uint32_t *);\n'
                "int main(void) { uint32_t s, c = pattern(&s); isaforge_print_uint(c); isaforge_putchar(' ');"
                " isaforge_print_hex(s); return 0; }\n")
    lx = run_litex_sim(compile_litex_program({"p.c": _PATTERNS_C, "main.c": lx_main}, sdram, ZIG), sim=sdram)
    own = compile_rv32({**runtime_sources(), "p.c": _PATTERNS_C, "main.c": own_main}, toolchain=ZIG)
    model = run_elf(own, cfu_verilog=CFU, wait_states=1, l2=LITEX_SDRAM_L2)
    (lx_cycles, lx_sum), (m_cycles, m_sum) = ((int(r.console.split()[0]), int(r.console.split()[1], 16))
                                              for r in (lx, model))
    assert lx_sum == m_sum
    assert abs(m_cycles - lx_cycles) <= 0.03 * lx_cycles, (m_cycles, lx_cycles)


def test_vexriscv_sdram_target_carries_litex_s_l2():
    t = get_target("vexriscv_sdram")
    assert t.l2 == LITEX_SDRAM_L2 and t.wait_states == 1
    assert get_target("vexriscv").l2 is None and get_target("vexriscv_ideal").l2 is None


def _reads_program(offset_kib: int) -> dict:
    """Reads 8 KiB of RAM starting ``offset_kib`` KiB into it (one word per D-cache line), timed."""
    return {**runtime_sources(), "main.c": f"""
#include "isaforge_rt.h"
#include <stdint.h>
int main(void) {{
    volatile uint32_t *p = (volatile uint32_t *)(0x40000000u + {offset_kib}u * 1024u);
    uint32_t s = 0, t0, t1;
    __asm__ volatile("csrr %0, mcycle" : "=r"(t0));
    for (int i = 0; i < 2048; i += 8) s += p[i];
    __asm__ volatile("csrr %0, mcycle" : "=r"(t1));
    isaforge_print_uint(t1 - t0); isaforge_putchar(' '); isaforge_print_uint(s);
    return 0;
}}
"""}


def _cycles(elf, **kw) -> int:
    return int(run_elf(elf, **kw).console.split()[0])


def test_the_l2_model_costs_only_misses_and_starts_as_litex_s_bios_leaves_it():
    """With every cost 0 the L2 model is the SRAM model, cycle for cycle; misses cost their cycles;
    main RAM's second 8 KiB starts in the L2 (LiteX's BIOS read the first 16 KiB to flush it)."""
    elf = compile_rv32(_reads_program(64), toolchain=ZIG)
    free = L2Timing(miss_cycles=0, evict_cycles=0, row_miss_cycles=0)
    assert _cycles(elf, wait_states=1, l2=free) == _cycles(elf, wait_states=1)
    sram = _cycles(elf, wait_states=1)
    sdram = _cycles(elf, wait_states=1, l2=LITEX_SDRAM_L2)
    # 256 D-cache lines, two L2 lines each, all missing
    assert sdram >= sram + 2 * 256 * LITEX_SDRAM_L2.miss_cycles
    resident = _cycles(compile_rv32(_reads_program(8), toolchain=ZIG), wait_states=1, l2=LITEX_SDRAM_L2)
    assert resident < sram + 0.1 * (sdram - sram), (resident, sram, sdram)


@pytest.mark.parametrize("bad", [dict(size_bytes=6000), dict(line_bytes=2), dict(line_bytes=16384),
                                 dict(miss_cycles=-1), dict(banks=3), dict(row_miss_cycles=1.5)])
def test_l2_timing_rejects_bad_geometry(bad):
    with pytest.raises(ArgumentError, match="L2Timing"):
        L2Timing(**bad)


def test_run_elf_rejects_a_non_timing_l2():
    elf = compile_rv32(_reads_program(64), toolchain=ZIG)
    with pytest.raises(ArgumentError, match="l2 must be"):
        run_elf(elf, l2="sdram")


def test_the_tuner_measures_on_the_sdram_model_when_it_is_named():
    """A tuning measurement on ``vexriscv_sdram`` runs with its L2 timing (the Job carries it) and
    costs what ``simulator.run`` on that target costs, more than on the SRAM model."""
    from schedules import autotune
    from simulator.measure import DEFAULT_TIMEOUT_CYCLES, measure_one, prepare

    costs = {}
    for target in ("vexriscv_sdram", "vexriscv"):
        task = autotune.create_task("matmul_i8", (16, 16, 16), target)
        job = prepare(task, 0, target)
        assert job.l2 == get_target(target).l2
        res = measure_one(task, 0, target, DEFAULT_TIMEOUT_CYCLES, 0)
        assert res.error is None, res
        costs[target] = res.cost
    assert costs["vexriscv_sdram"] > costs["vexriscv"]
