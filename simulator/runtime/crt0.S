/* isaforge crt0: start-up code and the trap reporter for the simulated VexRiscv SoC. */
#include "isaforge_rt.h"

    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    la      t0, isaforge_trap_entry
    csrw    mtvec, t0

    /* zero .bss (word aligned by the linker script) */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:
    /* the CFU is off after reset: set bit 31 of CSR 0xBC0 */
    li      t0, ISAFORGE_CFU_ENABLE_BIT
    csrs    ISAFORGE_CFU_CSR, t0

    li      a0, 0
    li      a1, 0
    call    main

    li      t0, ISAFORGE_MMIO_BASE
    sw      a0, ISAFORGE_MMIO_EXIT(t0)
3:  j       3b

/* Any trap is fatal: report mcause, mepc, mtval and the instruction word at mepc, then stop.
 * Uses no stack, so it works even when sp is corrupt. */
    .balign 4
    .globl isaforge_trap_entry
isaforge_trap_entry:
    csrr    t0, mcause
    csrr    t1, mepc
    csrr    t2, mtval
    li      t3, 0
    la      t4, __ram_start
    la      t5, __ram_end
    bltu    t1, t4, 4f
    bgeu    t1, t5, 4f
    andi    t6, t1, 3
    bnez    t6, 4f
    lw      t3, 0(t1)
4:  li      t4, ISAFORGE_MMIO_BASE
    sw      t0, ISAFORGE_MMIO_MCAUSE(t4)
    sw      t1, ISAFORGE_MMIO_MEPC(t4)
    sw      t2, ISAFORGE_MMIO_MTVAL(t4)
    sw      t3, ISAFORGE_MMIO_INSN(t4)
    li      t5, 1
    sw      t5, ISAFORGE_MMIO_TRAP(t4)
5:  j       5b
