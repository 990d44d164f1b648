"""Buffer placement for the direct-mapped D-cache (simulator.placement): the plan's properties, the linked
programs' symbol tables, and the 64^3 int8 matmul that a contiguous layout made collide."""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import ops
import tir
from schedules import hand
from simulator import Toolchain, run
from simulator.elf import read_elf
from simulator.placement import CACHE_BYTES, LINE_BYTES, PlannedBuffer, own_statics, plan, plan_offsets
from simulator.run import c_function_name
from simulator.vexriscv import kernel_program

GCC = Toolchain("gcc", extra_flags=("-fno-schedule-insns",))


def _buf(name, nbytes, weight=2):
    return PlannedBuffer(name, f".isaforge_buf.{name}", nbytes, weight)


def _sets(off, nbytes):
    return {(off // LINE_BYTES + i) % (CACHE_BYTES // LINE_BYTES) for i in range(-(-nbytes // LINE_BYTES))}


def test_buffers_that_fit_in_the_cache_do_not_overlap():
    bufs = [_buf("a", 1024), _buf("b", 640), _buf("c", 1000), _buf("d", 96)]
    offs = plan_offsets(bufs, fixed=[(CACHE_BYTES - 256, 256, 2)])
    taken = [_sets(CACHE_BYTES - 256, 256)] + [_sets(o, b.nbytes) for o, b in zip(offs, bufs)]
    for i in range(len(taken)):
        for j in range(i):
            assert not taken[i] & taken[j], (i, j, offs)
    assert offs == plan_offsets(bufs, fixed=[(CACHE_BYTES - 256, 256, 2)])  # deterministic


def test_cache_sized_buffers_start_in_distinct_sets_an_odd_number_of_lines_apart():
    # int8 matmul 64^3: A and Bt are 4 KiB each, C 16 KiB (output); packed, all three start in set 0
    bufs = [_buf("A", 4096), _buf("Bt", 4096), _buf("C", 16384, 1)]
    offs = plan_offsets(bufs, fixed=[(CACHE_BYTES - 256, 256, 2)])
    assert all(o % LINE_BYTES == 0 and 0 <= o < CACHE_BYTES for o in offs)
    assert len({o // LINE_BYTES for o in offs}) == 3
    # 64-byte rows of A and Bt walked in step never share a set at the same column
    assert (offs[1] - offs[0]) // LINE_BYTES % 2 == 1


def test_layout_keeps_order_and_planned_offsets():
    bufs = [_buf("s", 2048), _buf("A", 4096), _buf("B", 4096), _buf("C", 8192, 1)]
    p = plan(bufs, stack_top=0x40040000, stack_hot=256)
    for i, (b, pos) in enumerate(zip(p.buffers, p.positions)):
        assert pos % CACHE_BYTES == p.offsets()[b.section]
        if i:
            assert pos >= p.positions[i - 1] + p.buffers[i - 1].nbytes  # no overlap in memory
    assert 0 <= p.padding < CACHE_BYTES * (len(bufs) + 1)


def test_own_statics_finds_the_emitted_intermediates():
    wl = ops.get("matmul")(32, 32, 32, "int16")
    s, args = hand.dot4(wl, "dot2_i16", asm=True, tile=(4, 4))
    src = codegen_c.emit(tir.lower(s, args), "vexriscv")
    out, statics = own_statics(src)
    assert [(b.name, b.nbytes) for b in statics] == [("Bt", 2048)]
    assert '__attribute__((section(".isaforge_tmp.0")))' in out
    assert own_statics("static int x;\nint y[4];\n") == ("static int x;\nint y[4];\n", [])


def _program(wl, sched, toolchain):
    s, args = sched(wl)
    func = tir.lower(s, args)
    arrays = [np.zeros(t.shape, t.dtype) for t in wl.inputs] + [np.zeros(wl.output.shape, np.int32)]
    return kernel_program(codegen_c.emit(func, "vexriscv"), c_function_name(func), arrays,
                          outputs=[len(arrays) - 1], toolchain=toolchain)


CASES = {
    "matmul_nt 64^3 dot4 asm": (lambda: ops.get("matmul_nt")(64, 64, 64),
                                lambda w: hand.dot4(w, "dot4_i8", asm=True, tile=(4, 4))),
    "matmul int16 32^3 dot2 asm": (lambda: ops.get("matmul")(32, 32, 32, "int16"),
                                   lambda w: hand.dot4(w, "dot2_i16", asm=True, tile=(4, 4))),
    "matmul 64^3 mac4": (lambda: ops.get("matmul")(64, 64, 64), lambda w: hand.mac4(w, tile=(4, 4))),
}


@pytest.mark.parametrize("toolchain", [Toolchain(), GCC], ids=["zig", "gcc"])
@pytest.mark.parametrize("case", list(CASES))
def test_linked_buffers_start_in_distinct_cache_sets(case, toolchain):
    """Every argument array and kernel-level static of the linked program (read from the ELF symbol
    table) starts in a cache set of its own."""
    make_wl, sched = CASES[case]
    prog = _program(make_wl(), sched, toolchain)
    assert prog.plan is not None
    syms = read_elf(prog.elf).symbols
    starts = {}
    for b, addr in prog.addresses.items():
        # the symbol really is there, with the planned size (a static's name is compiler-decorated)
        named = [n for n, s in syms.items() if s.address == addr and s.size == b.nbytes and b.name in n]
        assert named, (b, hex(addr))
        starts[b.name] = addr % CACHE_BYTES // LINE_BYTES
    assert len(set(starts.values())) == len(starts), starts
    if "int16" in case:
        assert "Bt" in starts  # the kernel's packed B is one of the placed buffers


def test_matmul_nt_64_dot4_asm_conflict_free_cycles():
    """int8 matmul_nt 64^3, dot4 cfu_asm 4x4 (zig): with A and Bt exactly 4 KiB apart it took 208,924
    cycles (1.255 MAC/cycle); placed, 187,324 (1.399) on the ideal RAM (issue 11's model); 196,336 on the
    model calibrated to LiteX's SRAM (one wait state per bus access)."""
    wl = hand.matmul_nt(64, 64, 64)
    s, args = hand.dot4(wl, "dot4_i8", asm=True, tile=(4, 4))
    func = tir.lower(s, args)
    rng = np.random.default_rng(0)
    ins = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]
    out = np.zeros(wl.output.shape, np.int32)
    r = run(func, ins + [out], "vexriscv_ideal")
    np.testing.assert_array_equal(out, wl.ref(*ins))
    assert r.cycles <= 187_324, r.cycles
    assert 64 ** 3 / r.cycles >= 1.399
    cal = run(func, ins + [np.zeros_like(out)], "vexriscv")  # one wait state: slower, never faster
    assert r.cycles < cal.cycles <= 1.06 * r.cycles, (r.cycles, cal.cycles)
