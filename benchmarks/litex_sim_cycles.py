"""Cycles of a few kernels on LiteX's own SoC (litex_sim, integrated SRAM) vs isaforge's SoC model.

The same kernel C (one file, compiled by the same compiler) runs on both SoCs; its buffers are one
4 KiB-aligned struct, so every array has the same address modulo 4 KiB on both; each kernel is
measured (``mcycle`` delta) on its first (cold caches) and second (warm) call. isaforge's model
runs with ``wait_states`` 0 and 1; with --sdram also against litex_sim's SDRAM: the model with 2 and
3 wait states, and ``vexriscv_sdram`` (the model's L2 + SDRAM timing, ``codegen_c.rv32.LITEX_SDRAM_L2``).
Checksums are compared against numpy.

With --sdram two more tables compare litex_sim's SDRAM with ``vexriscv_sdram``: the memory patterns
``LITEX_SDRAM_L2``'s costs were fitted to (line reads, L2 hits, row misses, dirty evictions, stores;
each timed by mcycle inside one program, the same program on both SoCs, its buffer at the same
address), and kernels through ``simulator.run`` (each laid out on litex_sim like on the model).

    PYTHONPATH=. python benchmarks/litex_sim_cycles.py [--compiler zig|gcc ...] [--sdram]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

import isa_ext
import ops
import simulator
import tir
from codegen_c.rv32 import LITEX_SDRAM_L2
from schedules import hand
from simulator.litex_sim import build_litex_sim, compile_litex_program, run_litex_sim
from simulator.run import cfu_verilog
from simulator.toolchain import Toolchain, compile_rv32, runtime_sources
from simulator.vexriscv import run_elf

CFU = cfu_verilog([isa_ext.get("dot4_i8")])
EXT_H = isa_ext.ExtensionSet([isa_ext.get("dot4_i8")]).c_source("rv32im")

def kernels_c(N: int) -> str:
    return f"""
#include <stdint.h>
#include "dot4_i8.h"
#define N {N}
static struct {{
    int8_t a[N * N];   /* A[i][k]                        */
    int8_t b[N * N];   /* B[k][j] (scalar), B^T[j][k] (dot4) */
    int32_t c[N * N];
}} buf __attribute__((aligned(4096)));

static void fill(uint32_t seed) {{
    uint32_t x = seed;
    for (int t = 0; t < N * N; t++) {{ x = x * 1103515245u + 12345u; buf.a[t] = (int8_t)(x >> 16); }}
    for (int t = 0; t < N * N; t++) {{ x = x * 1103515245u + 12345u; buf.b[t] = (int8_t)(x >> 16); }}
}}

__attribute__((noinline, aligned(64))) void matmul_i8(void) {{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {{
            int32_t acc = 0;
            for (int k = 0; k < N; k++) acc += (int32_t)buf.a[i * N + k] * (int32_t)buf.b[k * N + j];
            buf.c[i * N + j] = acc;
        }}
}}

__attribute__((noinline, aligned(64))) void matmul_dot4(void) {{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {{
            const uint32_t *pa = (const uint32_t *)(buf.a + i * N);
            const uint32_t *pb = (const uint32_t *)(buf.b + j * N);
            uint32_t acc = 0;
            for (int q = 0; q < N / 4; q++) acc += isaforge_dot4_i8_dot(pa[q], pb[q]);
            buf.c[i * N + j] = (int32_t)acc;
        }}
}}

static inline uint32_t cyc(void) {{ uint32_t v; __asm__ volatile("csrr %0, mcycle" : "=r"(v)); return v; }}

__attribute__((noinline)) uint32_t measure(int which, uint32_t *sum, uint32_t *cold) {{
    void (*k)(void) = which ? matmul_dot4 : matmul_i8;
    fill(1u);
    uint32_t w0 = cyc();
    k();
    uint32_t c0 = cyc();
    *cold = c0 - w0;
    k();
    uint32_t c1 = cyc();
    uint32_t s = 0;
    for (int t = 0; t < N * N; t++) s = s * 31u + (uint32_t)buf.c[t];
    *sum = s;
    return c1 - c0;
}}
"""

LITEX_MAIN = """#include "lx_rt.h"
#include <stdint.h>
uint32_t measure(int which, uint32_t *sum, uint32_t *cold);
int main(void) {
    uint32_t s, k, c = measure(WHICH, &s, &k);
    lx_put_i32((int32_t)k); lx_putc(' '); lx_put_i32((int32_t)c); lx_putc(' '); lx_put_hex(s);
    return 0;
}
"""

ISAFORGE_MAIN = """#include "isaforge_rt.h"
#include <stdint.h>
uint32_t measure(int which, uint32_t *sum, uint32_t *cold);
int main(void) {
    uint32_t s, k, c = measure(WHICH, &s, &k);
    isaforge_print_uint(k); isaforge_putchar(' '); isaforge_print_uint(c); isaforge_putchar(' ');
    isaforge_print_hex(s);
    return 0;
}
"""


def _expected_checksum(which: int, N: int) -> int:
    x = 1
    vals = []
    for _ in range(2 * N * N):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        vals.append(((x >> 16) & 0xFF) - (256 if (x >> 16) & 0x80 else 0))
    a = np.array(vals[: N * N], dtype=np.int64).reshape(N, N)
    b = np.array(vals[N * N:], dtype=np.int64).reshape(N, N)
    c = a @ (b.T if which else b)
    s = 0
    for v in c.reshape(-1):
        s = (s * 31 + (int(v) & 0xFFFFFFFF)) & 0xFFFFFFFF
    return s


PATTERNS_C = r"""
#include <stdint.h>
static volatile uint32_t big[32768] __attribute__((aligned(65536)));  /* 128 KiB */
static inline uint32_t cyc(void) { uint32_t v; __asm__ volatile("csrr %0, mcycle" : "=r"(v)); return v; }
__attribute__((noinline)) uint32_t pattern(int which, uint32_t *sum) {
    uint32_t s = 0, t0 = 0, t1 = 0;
    volatile uint32_t *p = big;
    switch (which) {
    case 0: t0 = cyc(); for (int i = 0; i < 16384; i += 8) s += p[i]; t1 = cyc(); break;
    case 1: for (int i = 0; i < 2048; i += 8) s += p[i];
            t0 = cyc(); for (int r = 0; r < 2; r++) for (int i = 0; i < 2048; i += 8) s += p[i]; t1 = cyc(); break;
    case 2: t0 = cyc(); for (int r = 0; r < 4; r++) for (int i = 0; i < 16; i++) s += p[i * 2048]; t1 = cyc(); break;
    case 3: t0 = cyc(); for (int i = 0; i < 1024; i++) s += p[i]; t1 = cyc(); break;
    case 4: t0 = cyc(); for (int i = 0; i < 4096; i++) p[i] = (uint32_t)i; t1 = cyc(); break;
    case 5: for (int i = 0; i < 2048; i++) p[i] = (uint32_t)i;
            t0 = cyc(); for (int i = 0; i < 2048; i += 8) s += p[4096 + i]; t1 = cyc(); break;
    case 6: t0 = cyc(); for (int r = 0; r < 4; r++) for (int i = 0; i < 32; i++) s += p[i * 512 + 8]; t1 = cyc();
            break;
    case 7: t0 = cyc(); for (int i = 0; i < 2000; i++) s = s * 3u + (uint32_t)i; t1 = cyc(); break;
    case 8: t0 = cyc(); for (int i = 0; i < 4096; i += 4) p[i] = (uint32_t)i; t1 = cyc(); break;
    case 9: t0 = cyc(); for (int r = 0; r < 4; r++) for (int i = 0; i < 1024; i += 8) s += p[i + r * 8192]; t1 = cyc();
            break;
    }
    *sum = s;
    return t1 - t0;
}
"""
PATTERNS = ["64 KiB of line reads (L2 misses)", "8 KiB read twice (L2 hits, D-cache misses)",
            "stride 8 KiB (a row miss each)", "4 KiB of word reads over dirty lines", "16 KiB of word stores",
            "8 KiB read after 8 KiB written (dirty evictions)", "stride 2 KiB (bank after bank)",
            "no memory", "a store per 16 B over 16 KiB", "4 x 4 KiB at stride 32 KiB"]
_PATTERN_MAIN = {
    "litex": """#include "lx_rt.h"
#include <stdint.h>
uint32_t pattern(int, uint32_t *);
int main(void) { uint32_t s, c = pattern(WHICH, &s); lx_put_i32((int32_t)c); lx_putc(' '); lx_put_hex(s); return 0; }
""",
    "own": """#include "isaforge_rt.h"
#include <stdint.h>
uint32_t pattern(int, uint32_t *);
int main(void) { uint32_t s, c = pattern(WHICH, &s); isaforge_print_uint(c); isaforge_putchar(' ');
                 isaforge_print_hex(s); return 0; }
""",
}


def patterns_table(sim, tc) -> None:
    """The memory patterns on litex_sim SDRAM, vexriscv_sdram and the SRAM model (one wait state)."""
    print("\n| memory pattern (zig) | litex SDRAM | vexriscv_sdram | vs SDRAM | model ws=1 | vs SDRAM |")
    print("|---|---:|---:|---:|---:|---:|")
    for which, what in enumerate(PATTERNS):
        main = {k: v.replace("WHICH", str(which)) for k, v in _PATTERN_MAIN.items()}
        lx = run_litex_sim(compile_litex_program({"p.c": PATTERNS_C, "main.c": main["litex"]}, sim, tc), sim=sim)
        own = compile_rv32({**runtime_sources(), "p.c": PATTERNS_C, "main.c": main["own"]}, toolchain=tc)
        l2 = run_elf(own, cfu_verilog=CFU, wait_states=1, l2=LITEX_SDRAM_L2)
        ws1 = run_elf(own, cfu_verilog=CFU, wait_states=1)
        sums = {int(r.console.split()[1], 16) for r in (lx, l2, ws1)}
        assert len(sums) == 1, (what, lx.console, l2.console, ws1.console)
        ref, a, b = (int(r.console.split()[0]) for r in (lx, l2, ws1))
        print(f"| {what} | {ref} | {a} | {100 * (a - ref) / ref:+.2f}% | {b} | {100 * (b - ref) / ref:+.2f}% |")


def kernels_table() -> None:
    """Kernels through simulator.run on litex_sim_sdram and vexriscv_sdram (cold and warm calls)."""
    op = ops.get
    cases = [
        ("matmul 32^3 dot4", op("matmul")(32, 32, 32), hand.dot4),
        ("matmul_nt 32^3 dot4 cfu_asm", op("matmul_nt")(32, 32, 32), lambda wl: hand.dot4(wl, asm=True)),
        ("conv2d NHWC 8x8x16 -> 16 3x3", op("conv2d_nhwc")(1, 8, 8, 16, 16, 3, pad=1), hand.dot4),
        ("dense 4x128 -> 32", op("dense")(4, 32, 128, bias=True, relu=True), hand.dot4),
        ("matmul_nt 64^3 dot4", op("matmul_nt")(64, 64, 64), hand.dot4),
        ("matmul_nt 64^3 dot4 cfu_asm", op("matmul_nt")(64, 64, 64), lambda wl: hand.dot4(wl, asm=True)),
    ]
    print("\n| kernel (simulator.run) | call | litex_sim_sdram | vexriscv_sdram | vs SDRAM | vexriscv (SRAM) "
          "| vs SDRAM |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, wl, sched in cases:
        func = tir.lower(*sched(wl))
        rng = np.random.default_rng(5)
        ins = [rng.integers(-128, 128, t.shape).astype(t.dtype) for t in wl.inputs]
        res = {}
        for target in ("litex_sim_sdram", "vexriscv_sdram", "vexriscv"):
            out = np.zeros(wl.output.shape, np.int32)
            res[target] = simulator.run(func, ins + [out], target)
            np.testing.assert_array_equal(out, wl.ref(*ins))
        for call, attr in (("cold", "cold_cycles"), ("warm", "cycles")):
            ref, a, b = (getattr(res[t], attr) for t in ("litex_sim_sdram", "vexriscv_sdram", "vexriscv"))
            print(f"| {name} | {call} | {ref} | {a} | {100 * (a - ref) / ref:+.2f}% | {b} "
                  f"| {100 * (b - ref) / ref:+.2f}% |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compiler", nargs="*", default=["zig", "gcc"])
    ap.add_argument("--n", type=int, nargs="*", default=[32, 64], help="matrix sizes (N^3 matmuls)")
    ap.add_argument("--sdram", action="store_true", help="also litex_sim with SDRAM (a second build)")
    args = ap.parse_args()
    sims = {}
    for mem in ("sram", "sdram") if args.sdram else ("sram",):
        t0 = time.monotonic()
        sims[mem] = build_litex_sim(CFU, mem, main_ram_kib=64)
        print(f"litex_sim {mem} build (or cache hit): {time.monotonic() - t0:.1f} s")
    cols = "| kernel | compiler | call | litex SRAM |" + (" litex SDRAM | SDRAM vs SRAM |" if args.sdram else "")
    print(cols + " model ws=0 | ws=0 vs SRAM | model ws=1 | ws=1 vs SRAM |")
    print("|---|---|---|---:|" + ("---:|---:|" if args.sdram else "") + "---:|---:|---:|---:|")
    for comp, N, (which, kind) in itertools.product(args.compiler, args.n, ((0, "matmul_i8 scalar"),
                                                                            (1, "matmul dot4_i8"))):
            tc = Toolchain(comp)
            name = f"{kind} {N}^3"
            want = _expected_checksum(which, N)
            srcs = {"kernels.c": kernels_c(N), "dot4_i8.h": EXT_H}
            lx = {}
            for mem, sim in sims.items():
                elf = compile_litex_program({**srcs, "main.c": LITEX_MAIN.replace("WHICH", str(which))}, sim, tc)
                t1 = time.monotonic()
                r = run_litex_sim(elf, sim=sim)
                cold, warm, csum = r.console.split()
                assert int(csum, 16) == want, (name, comp, mem, r.console, hex(want))
                lx[mem] = (int(cold), int(warm), time.monotonic() - t1)
            own_elf = compile_rv32({**runtime_sources(), **srcs,
                                    "main.c": ISAFORGE_MAIN.replace("WHICH", str(which))}, toolchain=tc)
            own = {}
            for ws in (0, 1, 2, 3) if args.sdram else (0, 1):
                r = run_elf(own_elf, cfu_verilog=CFU, wait_states=ws)
                cold, warm, csum = r.console.split()
                assert int(csum, 16) == want, (name, comp, ws, r.console)
                own[ws] = (int(cold), int(warm))
            if args.sdram:
                r = run_elf(own_elf, cfu_verilog=CFU, wait_states=1, l2=LITEX_SDRAM_L2)
                cold, warm, csum = r.console.split()
                assert int(csum, 16) == want, (name, comp, "l2", r.console)
                own["l2"] = (int(cold), int(warm))

            def rel(x: int, ref: int) -> str:
                return f"{100 * (x - ref) / ref:+.2f}%"

            for phase in (0, 1):
                ref = lx["sram"][phase]
                row = f"| {name} | {comp} | {('cold', 'warm')[phase]} | {ref} |"
                if args.sdram:
                    row += f" {lx['sdram'][phase]} | {rel(lx['sdram'][phase], ref)} |"
                o0, o1 = own[0][phase], own[1][phase]
                print(row + f" {o0} | {rel(o0, ref)} | {o1} | {rel(o1, ref)} |")
                if args.sdram:  # the SDRAM stand-in: the model with more wait states against litex_sim SDRAM
                    sd = lx["sdram"][phase]
                    print("|   | vs SDRAM: | " + " | ".join(f"ws={w} {own[w][phase]} {rel(own[w][phase], sd)}"
                                                      for w in (1, 2, 3))
                          + f" | vexriscv_sdram {own['l2'][phase]} {rel(own['l2'][phase], sd)} |")
            print("  (litex_sim run of that program: " + ", ".join(f"{m} {v[2]:.1f} s" for m, v in lx.items()) + ")")
    if args.sdram:
        patterns_table(sims["sdram"], Toolchain("zig"))
        kernels_table()


if __name__ == "__main__":
    main()
