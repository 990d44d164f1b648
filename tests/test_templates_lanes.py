"""Templates offer any candidate extension whose shape fits (pattern, dtype, lanes, bank size), never one
that does not; every offered config builds and equals numpy (host and VexRiscv); on depthwise 3x3 NHWC a
lane-parallel unit is at least 2x faster than the best scalar schedule (cycle counts are deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import codegen_c
import isa_ext
from isa_ext.candidates import CandidateSpec, build_candidate, enumerate_candidates
from schedules import autotune
from schedules.autotune.templates import TEMPLATE_OPS, template_macs

DOT2 = CandidateSpec.of("dot", lanes=2, dtype="int8")
DOT4 = CandidateSpec.of("dot", lanes=4, dtype="int8")
DOT2_I16 = CandidateSpec.of("dot", lanes=2, dtype="int16")
DOT4_U8 = CandidateSpec.of("dot", lanes=4, dtype="uint8")
MAC4 = CandidateSpec.of("mac_bank", n_acc=4, lanes=4, dtype="int8")
MAC32 = CandidateSpec.of("mac_bank", n_acc=32, lanes=4, dtype="int8")
LM4 = CandidateSpec.of("lane_mac", lanes=4, accumulators=32)
LM8 = CandidateSpec.of("lane_mac", lanes=8, accumulators=64)
MAX4 = CandidateSpec.of("simd_max", lanes=4, dtype="int8")


def _reg(spec: CandidateSpec) -> str:
    ext = build_candidate(spec)
    isa_ext.register(ext, replace=True)
    return ext.name


def _offered(name: str, args, spec: CandidateSpec) -> list:
    task = autotune.create_task(name, (*args, _reg(spec)), "host")
    return task.config_space.knobs["tensorize"].choices[1:]


def test_offered_only_where_the_shape_fits():
    mm = (8, 8, 8)
    assert _offered("matmul_i8", mm, DOT4) == [DOT4.ext_name]
    assert _offered("matmul_i8", mm, DOT2_I16) == []  # int16 lanes for int8 operands
    assert _offered("matmul_i8", mm, DOT4_U8) == []  # uint8 for int8 neither
    # 2 int8 lanes do not fill the aligned 32-bit lane word (every other one would start mid-word)
    assert _offered("matmul_i8", mm, DOT2) == []
    assert _offered("matmul_i8", mm, MAC4) and _offered("matmul_i8", mm, MAC32)
    # K = 6 is no whole number of lane words: the template pads the operands' rows to 8 (zeros past K)
    assert _offered("matmul_i8", (8, 8, 6), DOT4) == [DOT4.ext_name] and _offered("matmul_i8", (8, 8, 6), MAC4)
    for spec in (LM4, LM8, MAX4):  # lane-parallel units are not register-blocked reductions
        assert _offered("matmul_i8", mm, spec) == []
        assert _offered("conv2d_nhwc_i8", (1, 5, 5, 8, 4, 3, 3, 1, 1), spec) == []
    dw = (1, 6, 6, 16, 3, 3, 1, 1)
    assert _offered("depthwise_conv2d_nhwc_i8", dw, LM4) and _offered("depthwise_conv2d_nhwc_i8", dw, LM8)
    assert _offered("depthwise_conv2d_nhwc_i8", (1, 6, 6, 12, 3, 3, 1, 1), LM8) == []  # 12 % 8
    assert _offered("depthwise_conv2d_nhwc_i8", (1, 6, 6, 6, 3, 3, 1, 1), LM4) == []  # 6 % 4
    assert _offered("depthwise_conv2d_nhwc_i8", dw, MAX4) == []  # a max is not a sum of products
    assert _offered("depthwise_conv2d_nhwc_i8", dw, DOT2) == []
    mp = (1, 6, 6, 8, 2, 2, 0)
    assert _offered("max_pool2d_nhwc_i8", mp, MAX4) and _offered("max_pool2d_nhwc_i8", mp, LM4) == []
    assert _offered("max_pool2d_nhwc_i8", mp, MAC4) == []  # no multiply-accumulate in a max pool


def test_builtin_spaces_unchanged():
    sizes = {("matmul_i8", (64, 64, 64)): 3240, ("dense_i8", (1, 64, 256)): 64800,
             ("conv2d_nhwc_i8", (1, 16, 16, 32, 32, 3, 3, 1, 1)): 116640}
    for (name, args), n in sizes.items():
        sp = autotune.create_task(name, args, "vexriscv").config_space
        # conv2d_nhwc_i8 gained the window knobs after "compiler" (define_knob(added=True)): its first
        # 116,640 configs are the old space, the new knobs at their first choice
        old = [k for k in sp.knobs if k not in sp.added_knobs]
        assert len(sp) == n * math.prod(len(sp.knobs[k]) for k in sp.added_knobs)
        assert list(sp.knobs)[:len(old)] == old and old[-1] == "compiler"


# a few shapes per template, divisible and not
SHAPES = {
    "matmul_i8": [(8, 8, 8), (6, 10, 12), (6, 10, 6)],
    "matmul_kn_i8": [(4, 8, 12)],
    "dense_i8": [(2, 8, 16)],
    "conv2d_nhwc_i8": [(1, 5, 6, 8, 4, 3, 3, 1, 1)],
    "conv2d_nchw_i8": [(1, 4, 6, 8, 2, 3, 4, 1, 0)],
    "depthwise_conv2d_i8": [(1, 2, 6, 8, 3, 4, 1, 0)],
    "depthwise_conv2d_nhwc_i8": [(1, 5, 7, 8, 3, 3, 1, 1), (1, 6, 6, 16, 3, 3, 2, 1), (1, 5, 5, 6, 3, 3, 1, 0)],
    "max_pool2d_nhwc_i8": [(1, 7, 5, 8, 3, 2, 1), (1, 6, 6, 4, 2, 2, 0)],
}


def test_shapes_cover_every_template():
    assert set(SHAPES) == set(TEMPLATE_OPS)


def _sample(space, n: int, rng) -> list[int]:
    """Up to ``n`` configs, the tensorized ones first (they are the ones a candidate adds)."""
    knob = space.knobs.get("tensorize")  # a rows unit's space has none: every config uses the unit
    tens = [i for i in range(len(space)) if space.get(i)["tensorize"].name is not None] \
        if knob is not None and len(knob.choices) > 1 else []
    pick = list(rng.permutation(tens)[: n - 2]) if tens else []
    rest = [i for i in rng.permutation(len(space))[:4] if i not in pick]
    return [int(i) for i in (pick + rest)[:n]]


def _run_host(task, idx: int):
    func = task.lower(idx)
    arrays = task.make_inputs(1)
    codegen_c.build(func, "host")(*arrays)
    outs = [a for a, spec in zip(arrays, task.arg_specs) if spec[2]]
    for o, w in zip(outs, task.reference(arrays)):
        np.testing.assert_array_equal(o, w, err_msg=f"{task.key} {task.config(idx)}")
    return func


@pytest.mark.parametrize("spec", [s for s in enumerate_candidates() if s.family != "requant"], ids=lambda s: s.key)
def test_no_offered_config_fails_to_build(spec):
    """Every template with every family candidate: a sample of configs lowers (no shape error) and a few
    of them run on the host equal to numpy."""
    name_ext = _reg(spec)
    rng = np.random.default_rng(0)
    for tmpl, shapes in SHAPES.items():
        for args in shapes:
            task = autotune.create_task(tmpl, (*args, name_ext), "host")
            idxs = _sample(task.config_space, 10, rng)
            for k, i in enumerate(idxs):
                if k < 2:
                    _run_host(task, i)
                else:
                    task.lower(i)  # a ScheduleError here is a bug: the template offered what does not fit


@pytest.mark.parametrize("spec,tmpl,args", [
    (DOT4, "matmul_i8", (6, 10, 12)), (MAC4, "matmul_i8", (8, 8, 8)), (MAC32, "matmul_i8", (8, 16, 8)),
    (MAC32, "conv2d_nhwc_i8", (1, 5, 6, 8, 4, 3, 3, 1, 1)),
    (LM4, "depthwise_conv2d_nhwc_i8", (1, 5, 7, 8, 3, 3, 1, 1)),
    (LM8, "depthwise_conv2d_nhwc_i8", (1, 6, 6, 16, 3, 3, 2, 1)),
    (MAX4, "max_pool2d_nhwc_i8", (1, 7, 5, 8, 3, 2, 1)),
], ids=lambda x: getattr(x, "key", None) or str(x))
def test_tensorized_configs_equal_numpy_on_host(spec, tmpl, args):
    task = autotune.create_task(tmpl, (*args, _reg(spec)), "host")
    sp = task.config_space
    tens = [i for i in range(len(sp)) if sp.get(i)["tensorize"].name is not None]
    assert tens
    for i in np.random.default_rng(1).permutation(tens)[:12]:
        func = _run_host(task, int(i))
        assert func.intrinsic_calls


def _measure(task, idxs):
    from simulator.measure import measure_one

    out = {}
    for i in idxs:
        r = measure_one(task, i, "vexriscv", 10 ** 8, 0)
        assert r.error is None, f"{task.config(i)}: {r.error} {r.message}"
        out[i] = r.cost
    return out


def _where(space, **want) -> list[int]:
    return [i for i in range(len(space)) if all(
        (space.get(i)[k].name if k == "tensorize" else space.get(i)[k].val) == v for k, v in want.items())]


@pytest.mark.parametrize("spec,tmpl,args", [
    (MAC4, "matmul_i8", (6, 10, 12)), (MAC32, "matmul_i8", (8, 8, 8)),
    (LM8, "depthwise_conv2d_nhwc_i8", (1, 5, 7, 8, 3, 3, 1, 1)),
    (MAX4, "max_pool2d_nhwc_i8", (1, 7, 5, 8, 3, 2, 1)),
], ids=lambda x: getattr(x, "key", None) or str(x))
def test_tensorized_configs_equal_numpy_on_vexriscv(spec, tmpl, args):
    name = _reg(spec)
    task = autotune.create_task(tmpl, (*args, name), "vexriscv")
    sp = task.config_space
    tens = [i for i in range(len(sp)) if sp.get(i)["tensorize"].name is not None]
    _measure(task, [int(i) for i in np.random.default_rng(2).permutation(tens)[:2]])


def test_depthwise_nhwc_lane_unit_at_least_2x_faster_than_scalar():
    """1x16x16x32, 3x3, pad 1 on the VexRiscv SoC. The scalar configs measured here include the best of
    the whole scalar space over gcc -O2 and zig -O2 (a full sweep: 350,031 cycles, tile_x=2, c_groups=1,
    padding inlined, taps unrolled, gcc -O2; 0.21 MAC/cycle)."""
    args = (1, 16, 16, 32, 3, 3, 1, 1)
    macs = template_macs("depthwise_conv2d_nhwc_i8", args)
    scalar_task = autotune.create_task("depthwise_conv2d_nhwc_i8", (*args, ""), "vexriscv")
    sp = scalar_task.config_space
    scalar = []
    for tx in (1, 2, 4):
        for cg in (1, 2):
            scalar += _where(sp, tile_x=tx, c_groups=cg, pad="inline", unroll_taps=True, compiler="gcc:-O2")
    scalar += _where(sp, tile_x=2, c_groups=1, pad="inline", unroll_taps=True, compiler="zig:-O2")
    best_scalar = min(_measure(scalar_task, scalar).values())
    name = _reg(LM8)
    lane_task = autotune.create_task("depthwise_conv2d_nhwc_i8", (*args, name), "vexriscv")
    lsp = lane_task.config_space
    # padding inlined: the unit skips the taps in the padding (86,260 cycles, 0.85 MAC/cycle); padding
    # materialized: 123,000
    lane = []
    for pad in ("inline", "root"):
        lane += _where(lsp, tensorize=f"{name}_lanes", tile_x=8, c_groups=1, pad=pad, unroll_taps=True,
                       compiler="zig:-O2")
    cycles = _measure(lane_task, lane)
    best_lane = min(cycles.values())
    assert best_scalar >= 2 * best_lane, (best_scalar, best_lane)
    assert macs / best_lane > 0.5 and macs / best_scalar < 0.25
    assert cycles[lane[0]] < cycles[lane[1]]  # skipping the padded taps beats copying the padded input
