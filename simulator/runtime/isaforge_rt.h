/* isaforge freestanding runtime for the simulated VexRiscv SoC.
 *
 * Memory map: RAM at ISAFORGE_RAM_BASE (reset vector = RAM base), an MMIO block at
 * ISAFORGE_MMIO_BASE (bit 31 set, so the data cache does not cache it). Usable from C and from
 * preprocessed assembly (.S). No libc is needed or used. */
#ifndef ISAFORGE_RT_H
#define ISAFORGE_RT_H

#define ISAFORGE_RAM_BASE       0x40000000u
#define ISAFORGE_MMIO_BASE      0xF0000000
#define ISAFORGE_MMIO_PUTCHAR   0x00  /* W: low byte appended to the console            */
#define ISAFORGE_MMIO_EXIT      0x04  /* W: end the simulation with this exit code      */
#define ISAFORGE_MMIO_CYCLE_LO  0x08  /* R: harness cycle counter, low word             */
#define ISAFORGE_MMIO_CYCLE_HI  0x0C  /* R: harness cycle counter, high word            */
#define ISAFORGE_MMIO_MCAUSE    0x10  /* W: trap report: mcause                         */
#define ISAFORGE_MMIO_MEPC      0x14  /* W: trap report: mepc                           */
#define ISAFORGE_MMIO_MTVAL     0x18  /* W: trap report: mtval                          */
#define ISAFORGE_MMIO_INSN      0x1C  /* W: trap report: instruction word at mepc       */
#define ISAFORGE_MMIO_TRAP      0x20  /* W: end the simulation, reason "trap"           */

#define ISAFORGE_CFU_CSR        0xBC0
#define ISAFORGE_CFU_ENABLE_BIT 0x80000000u

#ifndef __ASSEMBLER__
#include <stdint.h>

#define ISAFORGE_MMIO(off) (*(volatile uint32_t *)(uintptr_t)(ISAFORGE_MMIO_BASE + (off)))

static inline uint32_t isaforge_mcycle(void) {
    uint32_t v;
    __asm__ volatile("csrr %0, mcycle" : "=r"(v));
    return v;
}

static inline uint32_t isaforge_minstret(void) {
    uint32_t v;
    __asm__ volatile("csrr %0, minstret" : "=r"(v));
    return v;
}

static inline uint64_t isaforge_mcycle64(void) {
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile("csrr %0, mcycleh" : "=r"(hi));
        __asm__ volatile("csrr %0, mcycle" : "=r"(lo));
        __asm__ volatile("csrr %0, mcycleh" : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

/* Cycle counter kept by the simulation harness (counts from the end of reset). */
static inline uint64_t isaforge_sim_cycles(void) {
    uint32_t hi, lo, hi2;
    do {
        hi = ISAFORGE_MMIO(ISAFORGE_MMIO_CYCLE_HI);
        lo = ISAFORGE_MMIO(ISAFORGE_MMIO_CYCLE_LO);
        hi2 = ISAFORGE_MMIO(ISAFORGE_MMIO_CYCLE_HI);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

static inline void isaforge_cfu_enable(void) {
    __asm__ volatile("csrs 0xBC0, %0" ::"r"(ISAFORGE_CFU_ENABLE_BIT));
}

static inline void isaforge_cfu_disable(void) {
    __asm__ volatile("csrc 0xBC0, %0" ::"r"(ISAFORGE_CFU_ENABLE_BIT));
}

static inline void isaforge_putchar(char c) { ISAFORGE_MMIO(ISAFORGE_MMIO_PUTCHAR) = (uint8_t)c; }

static inline __attribute__((noreturn)) void isaforge_exit(int code) {
    ISAFORGE_MMIO(ISAFORGE_MMIO_EXIT) = (uint32_t)code;
    for (;;) {
    }
}

void isaforge_puts(const char *s);          /* no newline added */
void isaforge_print_int(int32_t v);         /* decimal          */
void isaforge_print_uint(uint32_t v);       /* decimal          */
void isaforge_print_hex(uint32_t v);        /* 0x%08x           */
/* printf("%.<decimals>f") of a float, correctly rounded (ties to even on the exact binary value), with
 * integer arithmetic on the IEEE bits only (no soft float); decimals is clamped to [0, 9]; "inf",
 * "-inf", "nan". isaforge_print_float(v, 6) prints what printf("%f", v) prints. */
void isaforge_print_float(float v, int decimals);

#endif /* __ASSEMBLER__ */
#endif /* ISAFORGE_RT_H */
