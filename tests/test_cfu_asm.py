"""The rv32 "cfu_asm" pragma: a stateless-dot tile emitted one volatile asm statement per instruction.

Checked for the order of the emitted instructions, the zero-accumulator fold (and where it must not
happen), the fallback to C, correctness on the simulated VexRiscv over random tuning configs, and the
cycles of the tuned int8 matmul 64^3 with dot4_i8.
"""

import re

import numpy as np
import pytest
from conftest import tiled_matmul_nt

import codegen_c
import simulator
from schedules import autotune
from simulator.measure import make_measure

INSN = ".insn r 0x0B, 0, 0, %0, %1, %2"  # dot4_i8
ADD = '"add %0, %0, %1"'
LOAD = '"lw %0, '
BARRIER = '__asm__ __volatile__("" ::: "memory");'


def _matmul(k_steps: int, *, asm=True, M=8, N=8, K=32, tile=(4, 4), ext="dot4_i8"):
    return tiled_matmul_nt(ext, k_steps, M=M, N=N, K=K, tile=tile, asm=asm)


def _body(src: str) -> str:
    return src[src.index("\nvoid "):]  # the kernel, after the extension's definitions


def _run(func, shape):
    M, N, K = shape
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    b = rng.integers(-128, 128, (N, K), dtype=np.int8)
    c = np.full((M, N), 0x5A5A5A5A, np.int32)
    r = simulator.run(func, [a, b, c], "vexriscv")
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32).T)
    return r.cycles


def test_whole_reduction_unrolled_is_loads_then_ops_and_folds_the_zero_init():
    func, (M, N, K) = _matmul(8)  # K / 4 lane steps: the whole reduction straight-line
    body = _body(codegen_c.emit(func, "rv32im"))
    assert "isaforge_dot4_i8_dot(" not in body and "isaforge_load32(" not in body
    n_ops = body.count(INSN)
    assert n_ops == 16 * (K // 4)  # one tile: the loop over tiles is not unrolled
    # the first lane step writes its products into the zeroed accumulators directly: no add
    assert body.count(ADD) == n_ops - 16
    # each chunk (one lane step of a 4x4 tile: 8 words) loads all its words before its first op
    lines = [ln for ln in body.splitlines() if "__asm__" in ln and BARRIER not in ln]
    assert body.count(BARRIER) == 2  # the block's memory accesses stay inside it
    # one base pointer per operand tile, the rest are immediates (rows are K = 32 bytes apart)
    assert body.count("const int8_t *isaforge_p") == 2 and '"lw %0, 124(%1)"' in body  # row 3, lanes 28..31
    kinds = "".join("L" if LOAD in ln else "D" if INSN in ln else "A" for ln in lines)
    chunks = re.findall(r"L+[DA]+", kinds)
    assert "".join(chunks) == kinds and len(chunks) == K // 4, kinds
    assert all(c.count("L") == 8 and c.count("D") == 16 for c in chunks), kinds
    # an add never uses the op right before it (that costs a cycle on VexRiscv): it trails by one op
    for i, ln in enumerate(lines):
        if ADD in ln:
            tmp = re.search(r'"r"\((isaforge_d\d+)\)\);$', ln).group(1)
            assert tmp not in lines[i - 1]


def test_no_fold_when_the_reduction_loop_stays():
    func, (M, N, K) = _matmul(2)  # a k loop of 4 iterations around 2 lane steps
    body = _body(codegen_c.emit(func, "rv32im"))
    assert body.count(INSN) == body.count(ADD) == 16 * 2


def test_pragma_survives_an_unrolled_loop():
    # N == tile: the loop carrying the pragma has one iteration and is removed, its pragma is not
    func, _ = _matmul(8, N=4, tile=(4, 4))
    src = codegen_c.emit(func, "rv32im")
    assert "pragma cfu_asm=1" in src and INSN in _body(src)


def test_host_and_accumulator_bank_tiles_ignore_the_pragma():
    func, shape = _matmul(2, ext="mac4_i8")
    body = _body(codegen_c.emit(func, "rv32im"))
    assert LOAD not in body and "isaforge_load32(" in body
    _run(func, shape)
    dot, _ = _matmul(8)
    assert "__asm__" not in _body(codegen_c.emit(dot, "host"))


@pytest.mark.parametrize("k_steps,tile", [(1, (4, 4)), (2, (2, 4)), (8, (4, 4)), (8, (4, 2))])
def test_asm_tiles_are_correct_on_vexriscv(k_steps, tile):
    on, shape = _matmul(k_steps, tile=tile, M=8, N=8)
    _run(on, shape)


def test_random_tuning_configs_with_asm_match_numpy():
    """Random configs of three templates with cfu_emit=asm and dot4_i8, each checked against numpy."""
    rng = np.random.default_rng(11)
    with make_measure("vexriscv", n_parallel=2) as measure:
        for name, args in [("matmul_i8", (8, 12, 32)), ("dense_i8", (4, 8, 16)),
                           ("conv2d_nhwc_i8", (1, 6, 6, 8, 8, 3, 3, 1, 1))]:
            task = autotune.create_task(name, args, "vexriscv")
            sp = task.config_space
            configs = []
            for i in sp.sample(rng, 8):
                knobs = dict(sp.get(i).to_json()["knobs"], tensorize="dot4_i8", cfu_emit="asm")
                configs.append(task.config(knobs))
            results = measure(task, configs)
            bad = [(str(c), r.error, r.message[:300]) for c, r in zip(configs, results)
                   if r.error not in (None, "build")]
            assert not bad, bad
            assert sum(r.error is None for r in results) >= 4, [r.message[:200] for r in results]


def test_tuned_int8_matmul_64_reaches_1_2_mac_per_cycle_with_dot4():
    """Issue 5's goal, on the space the tuner searches: a 4x4 dot4_i8 tile, whole reduction
    straight-line, cfu_emit=asm, zig -O2 (the best config XGB finds; see benchmarks/)."""
    task = autotune.create_task("matmul_i8", (64, 64, 64), "vexriscv")
    cfg = task.config({"tile_a": [16, 4], "tile_b": [16, 4], "unroll": ["unroll", "unroll"],
                       "tensorize": "dot4_i8", "k_steps": 16, "cfu_emit": "asm", "compiler": "zig:-O2"})
    c_mode = task.config(dict(cfg.to_json()["knobs"], cfu_emit="c"))
    with make_measure("vexriscv", n_parallel=2) as measure:
        asm, c = measure(task, [cfg, c_mode])
    assert asm.error is None and c.error is None, (asm.message, c.message)
    assert 64 ** 3 / asm.cost >= 1.2, asm.cost
    assert asm.cost < 0.8 * c.cost


def test_words_beyond_an_immediate_get_their_own_base_pointer():
    # rows 1024 bytes apart: a 4-row tile spans more than lw's 12-bit offset from one base
    func, shape = _matmul(2, M=4, N=4, K=1024)
    body = _body(codegen_c.emit(func, "rv32im"))
    offsets = [int(m) for m in re.findall(r'"lw %0, (-?\d+)\(%1\)"', body)]
    assert offsets and all(-2048 <= o <= 2044 for o in offsets)
    assert body.count("const int8_t *isaforge_p") > 2
    _run(func, shape)
