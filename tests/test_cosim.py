"""Co-simulation: tensorized kernels built for target "verilator" run every intrinsic call through the
verilated CFU RTL and equal numpy; extensions whose function_ids collide are rejected when a target
that puts them on one CFU is built.

(verify() of every built-in with n=10000 lives in tests/test_isa_ext.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
import schedules
import simulator
import tir
from isa_ext import ExtensionError
from schedules import hand
from schedules import workloads as W
from simulator.cfu import CfuCosim, CfuError


def _inputs(wl, rng):
    return [rng.integers(-128, 128, t.shape).astype(np.int8) for t in wl.inputs]


def _run_verilator(func, wl, rng):
    """Build for verilator, run, compare with numpy; returns the CFU cycles the run took."""
    mod = codegen_c.build(func, "verilator")
    cosim = CfuCosim(isa_ext.ExtensionSet(func.extensions).cosim_library())  # the library the module links
    ins = _inputs(wl, rng)
    out = np.full(wl.output.shape, 0x5A, np.int32)
    cosim.reset()  # (the first use resets the RTL: 4 cycles) so the count is the kernel's alone
    before = cosim.cycles
    mod(*ins, out)
    np.testing.assert_array_equal(out, wl.ref(*ins), err_msg=str(func))
    return cosim.cycles - before, mod


@pytest.mark.parametrize("sched", ["dot4", "mac4"])
def test_tensorized_matmul_on_rtl(sched, rng):
    M, N, K = 8, 8, 16
    wl = hand.matmul_nt(M, N, K)
    func = tir.lower(*hand.SCHEDULES[sched](wl))
    cycles, mod = _run_verilator(func, wl, rng)
    assert "isaforge_cfu_call(" in mod.source
    # the units are combinational: one CFU cycle per call, and every call went to the RTL
    if sched == "dot4":
        assert cycles == M * N * K // 4
    else:  # 16 clears at entry, the macs, one read_clear per output
        assert cycles == 16 + M * N * K // 4 + M * N
    assert cycles > 0


@pytest.mark.parametrize("make,sched", [
    (lambda: W.conv2d_nchw(1, 8, 6, 6, 4, 3, stride=1, pad=1), "dot4"),
    (lambda: W.conv2d_nhwc(1, 7, 7, 4, 8, 3, stride=2, pad=1), "mac4"),
    (lambda: W.conv2d_nhwc(1, 6, 6, 8, 4, 3, stride=1, pad=1), "dot4"),
])
def test_tensorized_conv2d_on_rtl(make, sched, rng):
    wl = make()
    func = tir.lower(*hand.SCHEDULES[sched](wl))
    cycles, _ = _run_verilator(func, wl, rng)
    p = wl.params
    OH = (p["H"] + 2 * p["pad"] - p["KH"]) // p["stride"] + 1
    OW = (p["W"] + 2 * p["pad"] - p["KW"]) // p["stride"] + 1
    macs = p["N"] * OH * OW * p["F"] * p["KH"] * p["KW"] * p["C"]
    assert cycles >= macs // 4 > 0


def test_packed_matmul_with_in_kernel_layout_transform_on_rtl(rng):
    wl = W.matmul(8, 12, 8)
    func = tir.lower(*hand.mac4(wl))
    cycles, _ = _run_verilator(func, wl, rng)
    assert cycles > 0


# ------------------------------------------------------------------------------------------------
# function_id collisions


def _colliding():
    """A user dot product on dot4_i8's encoding (funct3 0, funct7 0)."""
    return isa_ext.dot_product_extension("my_dot4", 4, 8, True, funct3=0, funct7=0)


def _two_extension_kernel(ext_a, ext_b, M=4, N=4, K=8):
    """D = A x Bt (with ext_a) + A x Bt (with ext_b): one kernel using both extensions."""
    A = tir.placeholder((M, K), "int8", name="A")
    Bt = tir.placeholder((N, K), "int8", name="Bt")
    def product(name):
        k = tir.reduce_axis((0, K), name="k")
        return tir.compute((M, N), lambda i, j: tir.sum(A[i, k].astype("int32") * Bt[j, k].astype("int32"), axis=k),
                           name=name)

    C1, C2 = product("C1"), product("C2")
    e1, e2 = ext_a, ext_b
    D = tir.compute((M, N), lambda i, j: C1[i, j] + C2[i, j], name="D")
    s = schedules.create_schedule(D)
    for C, ext in ((C1, e1), (C2, e2)):
        ko, ki = s[C].split(C.op.reduce_axis[0], 4)
        s[C].tensorize(ki, ext)
    return tir.lower(s, [A, Bt, D])


def test_collision_rejected_by_extension_set():
    mine = _colliding()
    with pytest.raises(ExtensionError) as ei:
        isa_ext.ExtensionSet(["dot4_i8", mine])
    msg = str(ei.value)
    assert "collision" in msg and "'dot4_i8'" in msg and "'my_dot4'" in msg and "funct7=0, funct3=0" in msg


def test_collision_rejected_when_verilator_target_is_built(rng):
    func = _two_extension_kernel(isa_ext.get("dot4_i8"), _colliding())
    assert {e.name for e in func.extensions} == {"dot4_i8", "my_dot4"}
    codegen_c.build(func, "host")  # no CFU on the host: both C models coexist
    with pytest.raises(ExtensionError) as ei:
        codegen_c.build(func, "verilator")
    assert "'dot4_i8'" in str(ei.value) and "'my_dot4'" in str(ei.value)


def test_collision_rejected_when_vexriscv_target_is_built():
    func = _two_extension_kernel(isa_ext.get("dot4_i8"), _colliding())
    arrays = [np.zeros((4, 8), np.int8), np.zeros((4, 8), np.int8), np.zeros((4, 4), np.int32)]
    with pytest.raises((CfuError, ExtensionError)) as ei:
        simulator.run(func, arrays, "vexriscv")
    assert "dot4_i8" in str(ei.value) and "my_dot4" in str(ei.value)


def test_two_compatible_extensions_in_one_kernel_on_rtl(rng):
    """The control: dot4_i8 and dot4_u8-free user encoding (funct7 3) share one CFU fine."""
    mine = isa_ext.dot_product_extension("my_dot4_ok", 4, 8, True, funct3=0, funct7=3)
    func = _two_extension_kernel(isa_ext.get("dot4_i8"), mine)
    a = rng.integers(-128, 128, (4, 8)).astype(np.int8)
    bt = rng.integers(-128, 128, (4, 8)).astype(np.int8)
    d = np.zeros((4, 4), np.int32)
    codegen_c.build(func, "verilator")(a, bt, d)
    np.testing.assert_array_equal(d, 2 * (a.astype(np.int32) @ bt.astype(np.int32).T))
