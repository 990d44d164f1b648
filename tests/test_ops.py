"""The operator library (``ops``): every operator's numpy reference against ``tir.evaluate`` at each of
its example attribute sets, a few compiled for the host, MAC counts against the TE's own loop extents,
the quantization ops against isa_ext's requant reference, attribute checking, and the callers (hand
schedules, templates, CLI) taking their operators from the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import codegen_c
import ops
import schedules
import tir
from ops import OpError

ROOT = Path(__file__).resolve().parent.parent
CASES = [(name, i) for name in ops.names() for i in range(len(ops.get(name).examples))]
INT32_EDGES = np.array([-2**31, -2**31 + 1, -2**30, -65536, -65535, -32769, -32768, -129, -128, -2, -1, 0, 1, 2,
                        127, 128, 32767, 32768, 65535, 65536, 2**30, 2**31 - 2, 2**31 - 1], np.int64)


def _inputs(wl, rng):
    """Full-range random inputs (edge values of int32 inputs included, so wrap-around is exercised)."""
    out = []
    for t in wl.inputs:
        npd = tir.dtype.numpy_dtype(t.dtype)
        if tir.dtype.is_float(t.dtype):
            out.append(rng.uniform(-4, 4, t.shape).astype(npd))
            continue
        info = np.iinfo(npd)
        a = rng.integers(int(info.min), int(info.max), t.shape, endpoint=True, dtype=np.int64)
        flat = a.reshape(-1)
        edges = np.clip(INT32_EDGES, info.min, info.max)
        flat[:min(len(flat), len(edges))] = edges[:len(flat)]
        out.append(a.astype(npd))
    return out


def _assert_same(got, want, msg=""):
    assert got.shape == want.shape and got.dtype == want.dtype, (msg, got.shape, got.dtype, want.shape, want.dtype)
    if got.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=msg)
    else:
        np.testing.assert_array_equal(got, want, err_msg=msg)


@pytest.mark.parametrize("name,i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_reference_equals_tir_evaluate(name, i):
    """The hand-written numpy reference and the IR interpreter agree, exactly for integers."""
    op = ops.get(name)
    wl = op(**op.examples[i])
    ins = _inputs(wl, np.random.default_rng(i))
    want = tir.evaluate(wl.output, dict(zip(wl.inputs, ins)))
    _assert_same(np.asarray(wl.ref(*ins)), want, f"{name} {op.examples[i]}")


def test_every_operator_is_complete():
    for name in ops.names():
        op = ops.get(name)
        assert op.doc and op.family, name
        assert len(op.examples) >= 2, f"{name}: test it at several attribute sets"
        for ex in op.examples:
            wl = op(**ex)
            assert wl.op is op and wl.params == op.resolve(**ex)
            assert wl.output.shape == tuple(np.asarray(wl.ref(*_inputs(wl, np.random.default_rng(0)))).shape)
            assert op.macs(**ex) >= 0
        assert all(k in op.shape_attrs for k in op.default_attrs)


def _reduction_macs(wl) -> int:
    """Multiply-accumulates the TE itself describes: output elements x reduction extent of every
    compute stage whose reduction body multiplies."""
    from tir.expr import BinOp, Reduce

    def has_mul(e):
        if isinstance(e, BinOp):
            return e.op == "*" or has_mul(e.a) or has_mul(e.b)
        return any(has_mul(c) for c in getattr(e, "args", ()) if isinstance(c, tir.Expr))

    total, seen, stack = 0, set(), [wl.output]
    while stack:
        t = stack.pop()
        if id(t.op) in seen or not isinstance(t.op, tir.ComputeOp):
            continue
        seen.add(id(t.op))
        body = t.op.body[0] if isinstance(t.op.body, list | tuple) else t.op.body
        if isinstance(body, Reduce) and has_mul(body.source[0] if isinstance(body.source, list | tuple)
                                                  else body.source):
            total += int(np.prod(t.shape)) * int(np.prod([r.dom.extent for r in t.op.reduce_axis]))
        stack.extend(t.op.input_tensors)
    return total


@pytest.mark.parametrize("name", ["matmul", "matmul_nt", "batch_matmul", "dense", "conv2d_nchw", "conv2d_nhwc",
                                  "depthwise_conv2d_nchw"])
def test_macs_match_the_te_loop_extents(name):
    op = ops.get(name)
    for ex in op.examples:
        assert op.macs(**ex) == _reduction_macs(op(**ex)) > 0, ex


def test_macs_of_known_shapes():
    assert ops.get("matmul").macs(64, 64, 64) == 64 ** 3
    assert ops.get("conv2d_nhwc").macs(1, 16, 16, 16, 16, 3, pad=1) == 16 * 16 * 16 * 16 * 9
    # dilation 2, 3 taps over 9 + 2 * 1: 11 - 5 + 1 = 7 outputs per axis
    assert ops.get("conv2d_nchw").macs(1, 2, 9, 9, 4, 3, pad=1, dilation=2) == 7 * 7 * 4 * 2 * 9
    assert ops.get("requantize").macs(shape=(4,)) == 0


HOST = [("requantize", dict(shape=(64,), multiplier=1518500250, shift=-7, zero_point=-3)),
        ("requantize", dict(shape=(48,), multiplier=2147483647, shift=-30, zero_point=5, qmin=-100, qmax=100)),
        ("requantize", dict(shape=(40,), multiplier=1073741824 + 999, shift=4, zero_point=0)),
        ("conv2d_nchw", dict(N=1, C=2, H=9, W=9, F=3, KH=3, pad=2, dilation=2, stride=2)),
        ("conv2d_nhwc", dict(N=1, H=8, W=7, C=4, F=3, KH=2, KW=3, dilation=2, weight_layout="OHWI")),
        ("depthwise_conv2d_nchw", dict(N=1, C=3, H=8, W=8, KH=3, dilation=2, pad=1, weight_layout="CHW")),
        ("dense", dict(M=3, N=5, K=9, bias=True)), ("dense", dict(M=4, N=4, K=4, relu=True)),
        ("sub", dict(shape_a=(2, 1, 5), shape_b=(3, 1), dtype="int8")), ("mul", dict(shape_a=(4, 6), shape_b=(6,))),
        ("clamp", dict(shape=(5, 7), lo=-9, hi=40, dtype="int16")), ("relu", dict(shape=(9,), dtype="int8")),
        ("sub_zero_point", dict(shape=(6, 3), zero_point=-128)), ("add_zero_point", dict(shape=(12,), zero_point=-7)),
        ("matmul_nt", dict(M=3, N=5, K=6, dtype_in="uint8"))]


@pytest.mark.parametrize("name,attrs", HOST, ids=[f"{n}-{i}" for i, (n, _) in enumerate(HOST)])
def test_host_compiled_kernel_equals_reference(name, attrs):
    wl = ops.get(name)(**attrs)
    func = tir.lower(schedules.create_schedule(wl.output), wl.args)
    mod = codegen_c.build(func, "host")
    ins = _inputs(wl, np.random.default_rng(7))
    out = np.full(wl.output.shape, 0x5A, tir.dtype.numpy_dtype(wl.output.dtype))
    mod(*ins, out)
    _assert_same(out, np.asarray(wl.ref(*ins)), str(func))


# --- quantization -------------------------------------------------------------------------------

@pytest.mark.parametrize("multiplier,shift,zp", [(1 << 30, 0, 0), (1518500250, -7, -3), (2147483647, -31, 5),
                                                 (1073741824 + 12345, 3, 0), (1999999999, 30, 1), (1, -1, 0),
                                                 (0, 0, 17), (1234567891, -15, -128)])
def test_requantize_is_the_requant_i8_extensions_function(multiplier, shift, zp):
    """ops.requantize (TE and numpy) computes exactly isa_ext's TFLite requantization, edge values included."""
    import isa_ext

    rng = np.random.default_rng(multiplier % 1000)
    acc = np.concatenate([INT32_EDGES, rng.integers(-2**31, 2**31, 200, dtype=np.int64),
                          (rng.integers(-2**16, 2**16, 100) << rng.integers(0, 15, 100))]).astype(np.int32)
    half = [(1 << k) for k in range(1, 16)]  # ties of the rounding shift: +-2**k +- 2**(k-1)
    acc = np.concatenate([acc, np.array([s * (a + a // 2) for a in half for s in (1, -1)], np.int32)])
    want = np.array([isa_ext.requantize(int(a), multiplier, shift, zp, -128, 127) for a in acc], np.int8)
    wl = ops.get("requantize")(shape=acc.shape, multiplier=multiplier, shift=shift, zero_point=zp)
    np.testing.assert_array_equal(wl.ref(acc), want)
    np.testing.assert_array_equal(tir.evaluate(wl.output, [acc]), want)


def test_requantize_ranges_are_checked():
    rq = ops.get("requantize")
    with pytest.raises(OpError, match="'multiplier'.*outside"):
        rq(shape=(4,), multiplier=-1)
    with pytest.raises(OpError, match="'shift' = -32"):
        rq(shape=(4,), shift=-32)
    with pytest.raises(OpError, match="'qmax' = 300 does not fit out_dtype int8"):
        rq(shape=(4,), qmax=300)


# --- attributes, names ---------------------------------------------------------------------------

def test_attribute_errors_name_operator_and_attribute():
    conv = ops.get("conv2d_nchw")
    with pytest.raises(OpError, match="'conv2d_nchw' has no attribute 'dilate'"):
        conv(1, 2, 5, 5, 2, 3, dilate=2)
    with pytest.raises(OpError, match="'conv2d_nchw': attribute 'KH' is required"):
        conv(1, 2, 5, 5, 2)
    with pytest.raises(OpError, match="'stride' must be an int"):
        conv(1, 2, 5, 5, 2, 3, stride=1.5)
    with pytest.raises(OpError, match="does not fit H = 5"):
        conv(1, 2, 5, 5, 2, 3, dilation=3)
    with pytest.raises(OpError, match="'weight_layout' is 'OIHW'; expected one of HWIO, OHWI"):
        ops.get("conv2d_nhwc")(1, 4, 4, 2, 2, 1, weight_layout="OIHW")
    with pytest.raises(OpError, match="no operator named 'convolution'"):
        ops.get("convolution")
    with pytest.raises(OpError, match="do not broadcast"):
        ops.get("add")((3, 4), (2, 4))
    assert issubclass(OpError, tir.TirError)


def test_names_aliases_and_variants():
    assert ops.get("conv2d") is ops.get("conv2d_nchw") and ops.get("broadcast_add") is ops.get("add")
    with pytest.raises(OpError, match="variant of operator 'dense'"):
        ops.get("dense_bias_relu")
    op, fixed = ops.lookup("dense_bias_relu")
    assert op is ops.get("dense") and fixed == {"bias": True, "relu": True}
    wl = op(4, 8, 8, **fixed)
    assert wl.name == "dense_bias_relu" and set(wl.stages) == {"dense", "bias"}
    assert set(ops.all_names()) >= set(ops.names()) | set(ops.aliases()) | set(ops.VARIANTS)
    with pytest.raises(OpError, match="already registered"):
        ops.register(ops.get("matmul"))


def test_matmul_and_matmul_nt_are_distinct():
    """matmul is A[M, K]·B[K, N]; matmul_nt is A·Bt[N, K]ᵀ (K-major)."""
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (3, 5)).astype(np.int8)
    b = rng.integers(-128, 128, (5, 4)).astype(np.int8)
    mm, nt = ops.get("matmul")(3, 4, 5), ops.get("matmul_nt")(3, 4, 5)
    assert [t.shape for t in mm.inputs] == [(3, 5), (5, 4)] and [t.shape for t in nt.inputs] == [(3, 5), (4, 5)]
    np.testing.assert_array_equal(mm.ref(a, b), nt.ref(a, np.ascontiguousarray(b.T)))
    np.testing.assert_array_equal(mm.ref(a, b), a.astype(np.int32) @ b.astype(np.int32))


def test_ops_imports_only_tir():
    from test_import_graph import collect_edges, layer_of

    bad = [e for e in collect_edges() if e.module.split(".")[0] == "ops"
           and layer_of(e.target).split(".")[0] not in ("ops", "tir")]
    assert not bad, bad


# --- the callers ---------------------------------------------------------------------------------

def test_workloads_module_is_the_registry():
    from schedules import workloads as W

    args = {"broadcast_add": [(2, 3), (1, 3)], "pack_b_kmajor": [6, 3], "stencil1d": [5], "blur2d": [3, 4],
            "matmul": [2, 3, 4], "batch_matmul": [2, 2, 3, 4], "dense_bias_relu": [2, 3, 4],
            "sum_two_axes": [1, 2, 3, 3], "conv2d_nchw": [1, 2, 6, 6, 2, 3], "conv2d_nhwc": [1, 6, 6, 2, 2, 3],
            "depthwise_conv2d_nchw": [1, 2, 6, 6, 3], "max_pool2d": [1, 2, 6, 6], "avg_pool2d": [1, 2, 6, 6]}
    assert set(args) == set(W.ALL)
    for name, fn in W.ALL.items():
        wl = fn(*args[name])
        assert wl.op is ops.of(wl) and wl.op in ops.OPS.values(), name
        ins = _inputs(wl, np.random.default_rng(2))
        _assert_same(np.asarray(wl.ref(*ins)), tir.evaluate(wl.output, dict(zip(wl.inputs, ins))), name)
    assert W.Workload is ops.Workload
    assert W.conv2d_nhwc_ohwi(1, 5, 5, 4, 2, 3).params["weight_layout"] == "OHWI"
    assert W.conv2d_nchw(1, 2, 9, 9, 2, 3, dilation=2).output.shape == (1, 2, 5, 5)


def test_hand_schedules_dispatch_on_the_registry_entry():
    from schedules import hand

    assert hand._kind(ops.get("matmul_nt")(8, 8, 8)) == "matmul"
    assert hand._kind(ops.lookup("conv2d_nhwc_ohwi")[0](1, 5, 5, 4, 2, 3, weight_layout="OHWI")) == "conv2d"
    with pytest.raises(tir.ScheduleError, match="need dilation 1, got 2"):
        hand.dot4(ops.get("conv2d_nchw")(1, 4, 9, 9, 4, 3, dilation=2))
    with pytest.raises(tir.ScheduleError, match="weight_layout C1HW"):
        hand.dot4(ops.get("depthwise_conv2d_nchw")(1, 4, 6, 6, 3, weight_layout="CHW"))
    with pytest.raises(tir.ScheduleError, match="need bias=True and relu=True"):
        hand.scalar_best(ops.get("dense")(4, 8, 8))
    with pytest.raises(tir.ScheduleError, match="no hand schedule for workload 'requantize'"):
        hand.mac4(ops.get("requantize")(shape=(8,)))
    # a workload renamed by its builder is still found by its entry
    wl = ops.get("matmul_nt")(8, 8, 8)
    wl.name = "renamed"
    s, args = hand.dot4(wl)
    ins = _inputs(wl, np.random.default_rng(0))
    ins = [np.clip(a, -128, 127).astype(np.int8) for a in ins]
    out = np.zeros((8, 8), np.int32)
    codegen_c.build(tir.lower(s, args), "host")(*ins, out)
    np.testing.assert_array_equal(out, wl.ref(*ins))


def test_template_references_are_the_operators_and_agree_with_evaluate():
    """Each built-in template's numpy reference comes from its operator, and matches tir.evaluate of the
    template's own tensors (the check a template without a reference gets)."""
    from schedules.autotune import create_task
    from schedules.autotune.templates import TEMPLATE_OPS, template_macs

    cases = {"matmul_i8": (4, 8, 8), "matmul_kn_i8": (4, 8, 8), "dense_i8": (2, 4, 8),
             "conv2d_nhwc_i8": (1, 5, 5, 4, 4, 3, 3, 1, 1), "conv2d_nchw_i8": (1, 4, 6, 6, 2, 3, 3, 2, 1),
             "depthwise_conv2d_i8": (1, 2, 6, 6, 3, 3, 1, 1), "depthwise_conv2d_nhwc_i8": (1, 6, 6, 4, 3, 3, 1, 1),
             "max_pool2d_nhwc_i8": (1, 6, 7, 4, 3, 2, 1)}
    assert set(cases) == set(TEMPLATE_OPS)
    for name, args in cases.items():
        task = create_task(name, args, "host")
        ins = task.input_arrays(task.make_inputs(seed=3))
        for got, want in zip(task.reference(ins), task._evaluate(ins)):
            np.testing.assert_array_equal(got, want, err_msg=name)
        op_name, fixed = TEMPLATE_OPS[name]
        assert template_macs(name, args) == ops.get(op_name).macs(*args, **fixed)


def test_tune_and_export_mean_the_same_operator_by_a_registry_name():
    """'matmul' is A·B in both commands, 'matmul_nt' A·Btᵀ: every registry name tune accepts maps to a
    template of exactly that operator and fixed attributes (legacy spellings aside)."""
    from isaforge.cmd_export import make_workload, workload_names
    from schedules.autotune.templates import LEGACY_NAMES, TEMPLATE_OPS, WORKLOADS

    assert WORKLOADS["matmul"][0] == "matmul_kn_i8" and WORKLOADS["matmul_nt"][0] == "matmul_i8"
    assert make_workload("matmul", (4, 4, 4)).op.name == "matmul"
    assert make_workload("matmul_nt", (4, 4, 4)).op.name == "matmul_nt"
    for name, (template, _) in WORKLOADS.items():
        if name in TEMPLATE_OPS or name in LEGACY_NAMES:
            continue
        op, fixed = ops.lookup(name)
        assert (op.name, fixed) == TEMPLATE_OPS[template], name
    assert set(workload_names()) >= set(ops.all_names())
    # the legacy export-litex spellings still build what they built
    assert make_workload("dense", None).name == "dense_bias_relu"
    assert make_workload("conv2d", (1, 4, 6, 6, 2, 3), stride=2, pad=1).output.shape == (1, 2, 3, 3)
    assert make_workload("depthwise", None).op.name == "depthwise_conv2d_nchw"
    with pytest.raises(OpError, match="--stride: operator 'matmul' has no attribute 'stride'"):
        make_workload("matmul", (4, 4, 4), stride=2)


def test_cli_ops_lists_every_operator_by_itself():
    r = subprocess.run([sys.executable, "-m", "isaforge", "ops"], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert r.returncode == 0, r.stderr
    listed = {line.split()[0] for line in r.stdout.splitlines() if line and not line.startswith(" ")}
    assert listed == set(ops.names()) | set(ops.VARIANTS)
    assert "requantize" in r.stdout and "dilation:int=1" in r.stdout
    r = subprocess.run([sys.executable, "-m", "isaforge", "ops", "conv2d_nhwc_ohwi"], capture_output=True, text=True,
                       cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert r.returncode == 0 and "fixes weight_layout='OHWI'" in r.stdout, r.stdout + r.stderr


def test_requantize_on_the_simulated_vexriscv():
    """The int32-piece requantization on rv32 (uint32 products, floor division by constants) is exact too."""
    import isa_ext
    import simulator

    acc = np.concatenate([INT32_EDGES, np.random.default_rng(5).integers(-2**31, 2**31, 41, dtype=np.int64)])
    acc = acc.astype(np.int32)
    for multiplier, shift, zp in [(1518500250, -7, -3), (2147483647, 2, 9)]:
        wl = ops.get("requantize")(shape=acc.shape, multiplier=multiplier, shift=shift, zero_point=zp)
        func = tir.lower(schedules.create_schedule(wl.output), wl.args)
        out = np.zeros(acc.shape, np.int8)
        simulator.run(func, [acc, out], "vexriscv")
        want = np.array([isa_ext.requantize(int(a), multiplier, shift, zp, -128, 127) for a in acc], np.int8)
        np.testing.assert_array_equal(out, want, err_msg=str(func))
