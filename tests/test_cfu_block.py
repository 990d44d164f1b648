"""The rv32 emitter schedules straight-line CFU tiles: operand words first, results accumulated one op later.

Checked for correctness on the simulated VexRiscv, for the pragma that turns it off, and for the
cycles it saves on an accumulator-bank tile.
"""

import numpy as np
import pytest
from conftest import tiled_matmul_nt

import codegen_c
import simulator


def _matmul(ext: str, words: int | None, M=16, N=16, K=32):
    return tiled_matmul_nt(ext, 2, M=M, N=N, K=K, words=words)


def _run(func, shape):
    M, N, K = shape
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    b = rng.integers(-128, 128, (N, K), dtype=np.int8)
    c = np.zeros((M, N), np.int32)
    r = simulator.run(func, [a, b, c], "vexriscv")
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32).T)
    return r.cycles


@pytest.mark.parametrize("ext", ["dot4_i8", "mac4_i8"])
def test_cfu_block_is_correct_with_and_without_scheduling(ext):
    func, shape = _matmul(ext, None)
    src = codegen_c.emit(func, "rv32im")
    assert "const uint32_t isaforge_w0 = isaforge_load32(" in src
    _run(func, shape)
    off, _ = _matmul(ext, 0)
    assert "isaforge_w0" not in codegen_c.emit(off, "rv32im")
    _run(off, shape)
    # host C is never reordered
    assert "isaforge_w0" not in codegen_c.emit(func, "host")


def test_scheduled_accumulator_tile_takes_fewer_cycles():
    on, shape = _matmul("mac4_i8", None)
    off, _ = _matmul("mac4_i8", 0)
    assert _run(on, shape) < 0.95 * _run(off, shape)
