"""Cycles of a few kernels on LiteX's own SoC (litex_sim, integrated SRAM) vs isaforge's SoC model.

The same kernel C (one file, compiled by the same compiler) runs on both SoCs; its buffers are one
4 KiB-aligned struct, so every array has the same address modulo 4 KiB on both; each kernel is
measured (``mcycle`` delta) on its first (cold caches) and second (warm) call. isaforge's model
runs with ``wait_states`` 0 and 1 (with --sdram also 2 and 3, against litex_sim's SDRAM).
Checksums are compared against numpy.

    PYTHONPATH=. python benchmarks/litex_sim_cycles.py [--compiler zig|gcc ...] [--sdram]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

import isa_ext
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
                                                      for w in (1, 2, 3)) + " |")
            print("  (litex_sim run of that program: " + ", ".join(f"{m} {v[2]:.1f} s" for m, v in lx.items()) + ")")


if __name__ == "__main__":
    main()
