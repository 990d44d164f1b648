"""The weight-stationary unit of examples/stationary_unit.py: a shape nothing in the compiler knows,
declared in that one file, verified in Verilator, bit-exact on the simulated VexRiscv, and faster
than any stateless dot product can be on this core (which cannot pass 2.0 MAC/cycle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import load_example

import codegen_c
import isa_ext
import schedules
import simulator
import tir
from tir.errors import ScheduleError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ex():
    return load_example("stationary_unit")


def _data(M, N, K, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (M, K), dtype=np.int8), rng.integers(-128, 128, (N, K), dtype=np.int8),
            np.zeros((M, N), np.int32))


def test_verifies_in_verilator(ex):
    rep = isa_ext.verify(ex.EXT, n=3000)
    assert "agree" in str(rep)


@pytest.mark.parametrize("shape", [(8, 8, 64), (5, 12, 24), (4, 4, 128), (3, 8, 200)])
def test_host_matches_numpy(ex, shape):
    M, N, K = shape
    # K = 200: three blocks of 64 on the unit, the last 8 steps are the split's remainder (scalar code)
    func = tir.lower(*ex.matmul_schedule(M, N, K))
    assert [e.name for e in func.extensions] == ["wstat4_i8"]
    a, bt, c = _data(M, N, K)
    codegen_c.build(func, "host")(a, bt, c)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)


def test_matmul_64_cubed_on_vexriscv_is_bit_exact_and_past_2_5_mac_per_cycle(ex):
    func = tir.lower(*ex.matmul_schedule(64, 64, 64))
    a, bt, c = _data(64, 64, 64, seed=1)
    r = simulator.run(func, [a, bt, c], "vexriscv")
    np.testing.assert_array_equal(c, a.astype(np.int32) @ bt.astype(np.int32).T)
    assert 64 ** 3 / r.cycles >= 2.5, r.cycles


def test_stationary_operand_must_not_vary_along_the_rows(ex):
    """The unit holds W over the rows of the nest: a nest where W changes per row is refused."""
    A = tir.placeholder((8, 8), "int8", name="A")
    W = tir.placeholder((8, 4, 8), "int8", name="W")  # a different weight tile per row
    r = tir.reduce_axis((0, 8), name="k")
    C = tir.compute((8, 4), lambda i, j: tir.sum(A[i, r].astype("int32") * W[i, j, r].astype("int32"), axis=r),
                    name="C")
    s = schedules.create_schedule(C)
    s[C].tensorize(C.op.axis[0], ex.stationary_intrinsic(ex.EXT, 8))
    with pytest.raises(ScheduleError, match=r"stage 'C' axis 'i'.*W varies along the rows"):
        tir.lower(s, [A, W, C])


def test_wrong_shapes_are_loud(ex):
    A = tir.placeholder((8, 16), "int8", name="A")
    Bt = tir.placeholder((8, 16), "int8", name="Bt")
    r = tir.reduce_axis((0, 16), name="k")
    C = tir.compute((8, 8), lambda i, j: tir.sum(A[i, r].astype("int32") * Bt[j, r].astype("int32"), axis=r),
                    name="C")
    s = schedules.create_schedule(C)
    with pytest.raises(ScheduleError, match=r"extent of 'j' is 8, the intrinsic takes 4"):
        s[C].tensorize(C.op.axis[0], ex.stationary_intrinsic(ex.EXT, 16))
