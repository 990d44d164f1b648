"""Shared helpers and fixtures: random arrays, a lower+build+run helper, the host C compiler."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import codegen_c
import tir

sys.path.insert(0, str(Path(__file__).parent))  # `import workloads` from any test module
# The suite's simulations are short and its SoC models many: a profile-guided model (simulator.vexriscv's
# PGO_DEFAULT) would double each cold build for little run time, so the suite builds them without a profile
# unless the environment says otherwise; tests/test_soc_pgo.py builds and checks the profile-guided ones.
os.environ.setdefault("ISAFORGE_SOC_PGO", "0")
# Likewise the suite builds its many SoC models split (simulator.soc_split: the CPU verilated once, each new
# CFU a small build and a link, about 2 instead of 5 CPU s per unit; the same cycles, asserted by
# tests/test_split_soc.py). The default monolithic model is what tests/test_sim_vexriscv.py, test_split_soc.py
# and test_soc_pgo.py build and check (they pin it, see ``monolithic_soc``).
os.environ.setdefault("ISAFORGE_SOC_SPLIT", "1")


@pytest.fixture
def monolithic_soc(monkeypatch):
    """split=None means the product's default (simulator.vexriscv.SPLIT_DEFAULT) in this test, not the suite's."""
    monkeypatch.delenv("ISAFORGE_SOC_SPLIT", raising=False)


def load_example(name: str):
    """The module ``examples/<name>.py``, imported under its own name (examples are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent.parent / "examples" /
                                                  f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def rand_array(shape, dtype: str, rng: np.random.Generator, lo=None, hi=None) -> np.ndarray:
    """A random array of a tir dtype: full range for int8/uint8, small values for wider ints, [-1, 1) floats."""
    npd = tir.dtype.numpy_dtype(dtype)
    shape = tuple(shape)
    if tir.dtype.is_float(dtype):
        return rng.uniform(-1.0 if lo is None else lo, 1.0 if hi is None else hi, shape).astype(npd)
    if lo is None or hi is None:
        info = np.iinfo(npd)
        lo = max(int(info.min), -1000) if lo is None else lo
        hi = min(int(info.max), 1000) if hi is None else hi
    return rng.integers(lo, hi, shape, endpoint=True).astype(npd)


def rand_int8(shape, rng: np.random.Generator) -> np.ndarray:
    return rand_array(shape, "int8", rng)


def inputs_for(wl, rng: np.random.Generator) -> list[np.ndarray]:
    """Random arrays for a workload's inputs."""
    return [rand_array(t.shape, t.dtype, rng) for t in wl.inputs]


def empty_output(t, fill=0x5A) -> np.ndarray:
    """An output array pre-filled with garbage so a kernel that skips elements is caught."""
    return np.full(t.shape, fill, tir.dtype.numpy_dtype(t.dtype))


def run_host(s, args, arrays, name: str = "kernel"):
    """Lower ``s`` with ``args``, build for the host and run on ``arrays`` (outputs written in place).

    Returns the PrimFunc (handy as an assertion message: ``str(func)``).
    """
    func = tir.lower(s, args, name)
    mod = codegen_c.build(func, target="host")
    mod(*arrays)
    return func


def check_workload(wl, s, rng: np.random.Generator | None = None, name: str = "kernel"):
    """Run schedule ``s`` of workload ``wl`` on random inputs and compare with its numpy reference.

    Integers must match exactly; float32 with allclose. Returns the PrimFunc.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    ins = inputs_for(wl, rng)
    out = empty_output(wl.output)
    func = run_host(s, wl.args, ins + [out], name)
    expect = wl.ref(*ins)
    assert expect.shape == out.shape
    if tir.dtype.is_float(wl.output.dtype):
        np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5, err_msg=str(func))
    else:
        assert out.dtype == expect.dtype, (out.dtype, expect.dtype)
        np.testing.assert_array_equal(out, expect, err_msg=str(func))
    return func


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def cc() -> str:
    c = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not c:
        pytest.skip("no host C compiler")
    return c


def tiled_matmul_nt(ext: str, k_steps: int, *, M=8, N=8, K=32, tile=(4, 4), words=None, asm=False):
    """C[M, N] = A[M, K] x B[N, K]^T with a cache_write register tile, ``k_steps`` lane steps per
    (unrolled) iteration of the reduction, tensorized by ``ext`` (a stateless dot: the lane loop with
    the tile unrolled; mac4_i8: the whole tile nest). ``words``: pragma cfu_words on the reduction
    loop; ``asm``: pragma cfu_asm on the output tile loop. Returns (PrimFunc, (M, N, K))."""
    import isa_ext
    import schedules
    from schedules import workloads as W

    wl = W.matmul_nt(M, N, K)
    C = wl.output
    s = schedules.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], *tile)
    s[CL].compute_at(s[C], jo)
    ic, jc = CL.op.axis
    ko, kr = s[CL].split(CL.op.reduce_axis[0], 4 * k_steps)
    kio, ki = s[CL].split(kr, 4)
    s[CL].reorder(ko, kio, ic, jc, ki)
    s[CL].unroll(kio)
    if words is not None:
        s[CL].pragma(ko, "cfu_words", words)
    if ext == "mac4_i8":
        s[CL].tensorize(ko, isa_ext.get(ext))
    else:
        s[CL].unroll(ic)
        s[CL].unroll(jc)
        s[CL].tensorize(ki, isa_ext.get(ext))
    if asm:
        s[C].pragma(jo, "cfu_asm", 1)
    return tir.lower(s, wl.args), (M, N, K)
