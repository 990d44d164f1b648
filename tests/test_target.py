"""Targets are objects (codegen_c.target): names and aliases resolve to one object, an unknown name is
an error listing the known ones, the emitter / builder / simulator / tuner ask the object's capability
fields, and a user's Target subclass, once registered, emits, builds, runs and tunes like a built-in."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiled_matmul_nt

import codegen_c
import isa_ext
import schedules
import simulator
import tir
from codegen_c import (
    CodegenError,
    HostTarget,
    RV32Target,
    Target,
    UnknownTargetError,
    VexRiscvTarget,
    get_target,
    known_targets,
    register_target,
    unregister_target,
)
from isaforge import cli
from schedules import autotune, hand
from schedules import workloads as W
from simulator import Toolchain
from simulator.measure import make_measure, measure_one, toolchain_of
from tir.errors import ScheduleError, TirError

GCC_FLAGS = ("-fno-schedule-insns",)


class GccVexRiscv(VexRiscvTarget):
    """The SoC, its kernels cross-compiled by gcc without instruction scheduling."""

    name = "vexriscv_gcc"
    aliases = ()
    compiler = "gcc"
    extra_flags = GCC_FLAGS


class HostO1(HostTarget):
    name = "host_o1"
    cflags = (*HostTarget.cflags, "-O1")


class SerialHost(HostTarget):
    name = "host_serial"
    has_threads = False


class NoCfuRv32(VexRiscvTarget):
    name = "rv32_nocfu"
    aliases = ()
    has_cfu = False


class WideAlign(HostTarget):
    name = "host_align8"
    word_align = 8


class Unrunnable(RV32Target):
    """rv32 C with no machine to run it on: simulator has no runner for it."""

    name = "rv32_bare"


@pytest.fixture
def registered():
    """Register targets for one test and forget them afterwards."""
    added = []

    def add(target):
        added.append(register_target(target))
        return target

    yield add
    for t in added:
        unregister_target(t)


def _matmul_parallel():
    wl = W.matmul(16, 16, 16)
    s = schedules.create_schedule(wl.output)
    io, _ = s[wl.output].split(wl.output.op.axis[0], 4)
    s[wl.output].parallel(io)
    return tir.lower(s, wl.args, "mm"), wl


def _nt_arrays(shape, seed=5):
    M, N, K = shape
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    b = rng.integers(-128, 128, (N, K), dtype=np.int8)
    return a, b, np.full((M, N), 0x5A5A5A5A, np.int32), a.astype(np.int32) @ b.astype(np.int32).T


# --- names ----------------------------------------------------------------------------------------

def test_names_and_aliases_resolve_to_one_object():
    vex = get_target("vexriscv")
    assert get_target("rv32im") is vex and isinstance(vex, VexRiscvTarget) and vex.name == "vexriscv"
    assert get_target(vex) is vex  # a Target passes through
    assert {"host", "verilator", "vexriscv", "rv32im"} <= set(known_targets())
    assert [get_target(n).intrinsic_abi for n in codegen_c.TARGETS] == ["host", "verilator", "rv32im"]
    assert get_target("host").word_bits == 64 and vex.word_bits == 32
    assert codegen_c.build(_matmul_parallel()[0], get_target("host")).target == "host"


@pytest.mark.parametrize("bad", ["vexriscv32", "", "HOST", 3, None])
def test_unknown_target_is_an_error_listing_the_known_ones(bad):
    with pytest.raises(UnknownTargetError) as e:
        get_target(bad)
    assert isinstance(e.value, CodegenError) and isinstance(e.value, TirError)
    msg = str(e.value)
    assert repr(bad) in msg and all(repr(n)[1:-1] in msg for n in ("host", "verilator", "vexriscv", "rv32im"))
    func, _ = _matmul_parallel()
    with pytest.raises(UnknownTargetError):
        codegen_c.emit(func, bad)
    with pytest.raises(UnknownTargetError):
        simulator.run(func, [np.zeros((16, 16), np.int8)] * 2 + [np.zeros((16, 16), np.int32)], bad)


def test_a_taken_name_needs_replace(registered):
    class Other(HostTarget):
        name = "host"

    with pytest.raises(CodegenError, match="'host' is taken"):
        register_target(Other())
    with pytest.raises(CodegenError, match="non-empty"):
        register_target(Target())
    assert type(get_target("host")) is HostTarget


# --- capabilities the emitter asks ------------------------------------------------------------------

def test_threads_capability_decides_parallel_loops(registered):
    func, _ = _matmul_parallel()
    for name in ("host", "verilator"):
        assert "#pragma omp parallel for" in codegen_c.emit(func, name)
    for name in ("vexriscv", "rv32im"):
        with pytest.raises(ScheduleError, match="no threads"):
            codegen_c.emit(func, name)
    serial = registered(SerialHost())
    with pytest.raises(ScheduleError, match="'host_serial'.*no threads"):
        codegen_c.emit(func, serial)


def test_cfu_blocks_and_intrinsic_c_come_from_the_target():
    func, _ = tiled_matmul_nt("dot4_i8", 2)
    rv = codegen_c.emit(func, "rv32im")
    assert codegen_c.emit(func, "vexriscv") == rv == codegen_c.emit(func, get_target("vexriscv"))
    assert "const uint32_t isaforge_w0 = isaforge_load32(" in rv  # a CFU block: rv32 emission only
    ext = isa_ext.get("dot4_i8")
    for name in ("host", "verilator", "vexriscv"):
        t = get_target(name)
        src = codegen_c.emit(func, t)
        assert ext.c_source(t) == ext.c_source(t.intrinsic_abi) and ext.c_source(t).rstrip("\n") in src
        assert ("isaforge_w0" in src) == (t.emitter_class is not None)


def test_word_alignment_capability(registered):
    s, args = hand.dot4(W.matmul(32, 32, 32))
    func = tir.lower(s, args)
    assert "__attribute__((aligned(4)))" in codegen_c.emit(func, "host")
    wide = codegen_c.emit(func, registered(WideAlign()))
    assert "int8_t Bt[1024] __attribute__((aligned(8)))" in wide


def test_extension_capability(registered):
    nocfu = registered(NoCfuRv32())
    func, _ = tiled_matmul_nt("dot4_i8", 2)
    with pytest.raises(CodegenError, match="dot4_i8.*'rv32_nocfu' cannot run"):
        codegen_c.emit(func, "rv32_nocfu")
    wl = W.matmul(8, 8, 8)
    scalar = tir.lower(schedules.create_schedule(wl.output), wl.args)
    assert codegen_c.emit(scalar, nocfu) == codegen_c.emit(scalar, "vexriscv")


# --- user targets: emit, build, run, tune -----------------------------------------------------------

def test_user_rv32_target_emits_and_runs_with_its_compiler(registered):
    gcc = registered(GccVexRiscv())
    func, shape = tiled_matmul_nt("dot4_i8", 2)
    assert codegen_c.emit(func, "vexriscv_gcc") == codegen_c.emit(func, "vexriscv")
    with pytest.raises(CodegenError, match="'vexriscv_gcc' does not run on the host"):
        codegen_c.build(func, gcc)
    a, b, c, want = _nt_arrays(shape)
    r = simulator.run(func, [a, b, c], "vexriscv_gcc")
    np.testing.assert_array_equal(c, want)
    assert r.target == "vexriscv_gcc"
    # the run used the target's gcc build: the same cycles as the SoC given that toolchain explicitly
    c2 = c.copy()
    same = simulator.run(func, [a, b, c2], "vexriscv", toolchain=Toolchain("gcc", extra_flags=GCC_FLAGS))
    assert r.cycles == same.cycles and r.instret == same.instret


def test_user_host_target_builds_with_its_flags(registered):
    o1 = registered(HostO1())
    func, wl = _matmul_parallel()
    rng = np.random.default_rng(2)
    a, b = (rng.integers(-128, 128, (16, 16)).astype(np.int8) for _ in range(2))
    mod = codegen_c.build(func, "host_o1")
    out = np.zeros((16, 16), np.int32)
    mod(a, b, out)
    np.testing.assert_array_equal(out, wl.ref(a, b))
    assert mod.target == "host_o1" and o1.build_options(func)[0][-2:] == ("-O1", "-fopenmp")
    assert mod.lib_path != codegen_c.build(func, "host").lib_path  # other flags, another library
    out[...] = 0
    r = simulator.run(func, [a, b, out], o1)  # the host runner serves a HostTarget subclass
    np.testing.assert_array_equal(out, wl.ref(a, b))
    assert r.target == "host_o1" and r.seconds > 0 and r.cycles is None


def test_user_rv32_target_tunes_under_its_own_name(registered):
    gcc = registered(GccVexRiscv())
    task = autotune.create_task("matmul_i8", (8, 8, 16), "vexriscv_gcc")
    assert task.key.endswith("@vexriscv_gcc") and task.target == "vexriscv_gcc" and task.target_object is gcc
    cfg = task.config_space.get(0)
    tc = toolchain_of(cfg, gcc)
    assert tc.extra_flags[-1:] == GCC_FLAGS  # the knob's compiler, then the target's own flags
    res = measure_one(task, 0, gcc, 10**7, 0)
    assert res.valid and res.extra["compiler"] == cfg["compiler"].val
    arrays = task.make_inputs(0)
    direct = simulator.run(task.lower(cfg), arrays, "vexriscv", toolchain=tc)
    np.testing.assert_array_equal(arrays[2], task.reference(arrays)[0])
    assert res.cost == direct.cycles
    with pytest.raises(autotune.AutotuneError, match="for target 'vexriscv_gcc'"):
        make_measure("vexriscv", n_parallel=1)(task, [0])


class GccOnlyVexRiscv(VexRiscvTarget):
    """An rv32 target that lets the tuner choose only among gcc builds."""

    name = "vexriscv_gcc_only"
    aliases = ()
    compilers = ("gcc:-O2", "gcc:-O3")


def test_templates_offer_the_targets_compilers(registered):
    t = registered(GccOnlyVexRiscv())
    space = autotune.create_task("matmul_i8", (8, 8, 16), t).config_space
    assert space.knobs["compiler"].choices == ["gcc:-O2", "gcc:-O3"]
    base = autotune.create_task("matmul_i8", (8, 8, 16), "vexriscv").config_space
    assert base.knobs["compiler"].choices == list(get_target("vexriscv").compilers)
    assert len(space) * len(base.knobs["compiler"].choices) == len(base) * 2


def test_aliases_give_the_same_task_and_measure():
    assert autotune.create_task("matmul_i8", (8, 8, 16), "rv32im").key == \
        autotune.create_task("matmul_i8", (8, 8, 16), "vexriscv").key
    assert autotune.create_task("matmul_i8", (8, 8, 16), "rv32im").target == "vexriscv"
    with make_measure("rv32im", n_parallel=1) as m:
        assert m.target is get_target("vexriscv")
    assert tuple(autotune.DEFAULT_COMPILERS) == get_target("vexriscv").compilers
    assert toolchain_of(autotune.create_task("matmul_i8", (8, 8, 16), "host").config_space.get(0), "host") is None


def test_an_unregistered_target_object_works_everywhere():
    t = HostO1()  # never registered: passed as an object
    with pytest.raises(UnknownTargetError):
        get_target("host_o1")
    task = autotune.create_task("matmul_i8", (8, 8, 16), t)
    assert task.key.endswith("@host_o1") and task.target_object is t
    with make_measure(t, n_parallel=1) as m:
        res = m(task, [0])[0]
    assert res.valid and res.cost > 0 and "compiler" not in res.extra  # the host has no compiler knob
    func = task.lower(0)
    assert codegen_c.emit(func, t) == codegen_c.emit(func, "host")


def test_registered_targets_pickle_as_themselves(registered):
    import pickle

    gcc = registered(GccVexRiscv())
    for t in (get_target("rv32im"), get_target("host"), gcc):
        assert pickle.loads(pickle.dumps(t)) is t
    task = autotune.create_task("matmul_i8", (8, 8, 16), "vexriscv")
    assert pickle.loads(pickle.dumps(task)).target_object is get_target("vexriscv")
    lone = pickle.loads(pickle.dumps(HostO1()))  # unregistered: a copy of its class
    assert type(lone) is HostO1


def test_a_target_without_runner_is_a_clear_error(registered):
    bare = registered(Unrunnable())
    func, shape = tiled_matmul_nt("dot4_i8", 2)
    assert codegen_c.emit(func, bare) == codegen_c.emit(func, "vexriscv")  # RV32Target's emitter
    a, b, c, _ = _nt_arrays(shape)
    with pytest.raises(CodegenError, match="'rv32_bare'.*has no runner"):
        simulator.run(func, [a, b, c], bare)
    with pytest.raises(CodegenError, match="has no runner"):
        make_measure(bare)


def test_cli_rejects_an_unknown_target(tmp_path, capsys):
    code = cli.main(["tune", "matmul", "--target", "nope", "--records", str(tmp_path / "r.jsonl"), "--trials", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown target 'nope'" in err and "vexriscv" in err
