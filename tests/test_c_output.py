"""Properties of the emitted C: it compiles cleanly for every target, is freestanding and
deterministic, and its shape reflects the schedule (unrolling, register tiles, guards, signature)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_workloads import (
    _conv_schedule,
    sch_cache_read_both,
    sch_cache_read_shared,
    sch_fuse,
    sch_register_block,
    sch_tile_nondivisible,
    sch_unroll_inner,
    sch_vectorize,
)

import codegen_c
import schedules
import tir
from schedules import workloads as W

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-c"]
TESTS_DIR = Path(__file__).parent


# --- a representative set of kernels ----------------------------------------------------------

def _with(wl_fn, sched=None):
    def make():
        wl = wl_fn()
        s = schedules.create_schedule(wl.output)
        if sched is not None:
            sched(s, wl)
        return wl, s
    return make


def _conv(variant, stride=1):
    return _with(lambda: W.conv2d_nchw(1, 3, 7, 6, 2, 3, stride=stride, pad=1),
                 lambda s, wl: _conv_schedule(s, wl, variant))


def _stencil_at_tile(s, wl):
    st = s[wl.output]
    io, _ = st.split(st.op.axis[0], 8)
    s[wl["P"]].compute_at(st, io)


def _pool_pad_inline(s, wl):
    s[wl["pad"]].compute_inline()


def _avg_sum_at(s, wl):
    st = s[wl.output]
    s[wl["sum"]].compute_at(st, st.op.axis[3])


def _dense_fused(s, wl):
    s[wl["bias"]].compute_inline()
    R = s[wl.output]
    io, jo, ii, ji = R.tile(*R.op.axis, 4, 4)
    R.unroll(ji)
    s[wl["dense"]].compute_at(R, jo)


def _pragma(s, wl):
    st = s[wl.output]
    st.pragma(st.op.axis[0], "auto_unroll_max_step", 16)


KERNELS = {
    "matmul_int8_default": _with(lambda: W.matmul(8, 8, 8)),
    "matmul_f32_default": _with(lambda: W.matmul(5, 6, 7, "float32", "float32")),
    "matmul_tile_nondiv": _with(lambda: W.matmul(10, 7, 9), sch_tile_nondivisible),
    "matmul_fuse": _with(lambda: W.matmul(6, 5, 4), sch_fuse),
    "matmul_unroll": _with(lambda: W.matmul(6, 10, 5), sch_unroll_inner),
    "matmul_vectorize": _with(lambda: W.matmul(6, 10, 5, "float32", "float32"), sch_vectorize),
    "matmul_register_block": _with(lambda: W.matmul(8, 12, 16), sch_register_block),
    "matmul_register_block_nondiv": _with(lambda: W.matmul(10, 6, 5), sch_register_block),
    "matmul_cache_read_shared": _with(lambda: W.matmul(8, 8, 9), sch_cache_read_shared),
    "matmul_cache_read_both": _with(lambda: W.matmul(10, 7, 9), sch_cache_read_both),
    "matmul_pragma": _with(lambda: W.matmul(4, 4, 4), _pragma),
    "batch_matmul_register_block": _with(lambda: W.batch_matmul(2, 8, 8, 6), sch_register_block),
    "dense_bias_relu_fused": _with(lambda: W.dense_bias_relu(6, 10, 12), _dense_fused),
    "conv2d_pad_root": _conv("pad_root"),
    "conv2d_pad_inline_stride2": _conv("pad_inline_tiled", 2),
    "conv2d_pad_at_tile": _conv("pad_at_tile"),
    "conv2d_cache_write_pad_at": _conv("cache_write_pad_at", 2),
    "conv2d_nhwc_default": _with(lambda: W.conv2d_nhwc(1, 5, 6, 3, 4, 3, stride=2, pad=1)),
    "depthwise_pad_at_row": _with(lambda: W.depthwise_conv2d_nchw(1, 3, 7, 8, 3, stride=1, pad=1),
                                  lambda s, wl: _conv_schedule(s, wl, "pad_at_row")),
    "max_pool_int8_pad_inline": _with(lambda: W.max_pool2d(1, 2, 7, 6, 3, 2, 1), _pool_pad_inline),
    "max_pool_f32": _with(lambda: W.max_pool2d(1, 2, 6, 6, 2, 2, 0, "float32")),
    "avg_pool_int_sum_at": _with(lambda: W.avg_pool2d(1, 2, 6, 6, 2, 2), _avg_sum_at),
    "avg_pool_f32": _with(lambda: W.avg_pool2d(1, 2, 6, 6, 3, 1, "float32")),
    "broadcast_add": _with(lambda: W.broadcast_add((4, 1), (1, 5)), sch_vectorize),
    "broadcast_add_int8_wraps": _with(lambda: W.broadcast_add((3, 5), (1, 5), "int8")),
    "sum_two_axes": _with(lambda: W.sum_two_axes(2, 3, 5, 6)),
    "pack_b_kmajor_padded": _with(lambda: W.pack_b_kmajor(10, 5)),
    "stencil_at_tile": _with(lambda: W.stencil1d(20), _stencil_at_tile),
}


def _lower(key, name=None):
    wl, s = KERNELS[key]()
    return wl, tir.lower(s, wl.args, name or key)


def _strip_comments(src: str) -> str:
    return re.sub(r"/\*.*?\*/", "", src, flags=re.S)


def _body(src: str) -> str:
    """The C after the include/helper preamble: the kernel function only, comments removed."""
    src = _strip_comments(src)
    m = re.search(r"^void \w+\(", src, re.M)
    assert m, src
    return src[m.start():]


def _compile(cc, src: str, tmp_path: Path, name: str, extra=()):
    c = tmp_path / f"{name}.c"
    c.write_text(src)
    r = subprocess.run([cc, *STRICT, *extra, str(c), "-o", str(tmp_path / f"{name}.o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(STRICT)} failed:\n{r.stderr}\n--- source ---\n{src}"


# --- compiles cleanly, freestanding -------------------------------------------------------------

@pytest.mark.parametrize("target", ["host", "rv32im"])
@pytest.mark.parametrize("key", list(KERNELS))
def test_c_compiles_strictly(key, target, cc, tmp_path):
    _, func = _lower(key)
    src = codegen_c.emit(func, target=target)
    _compile(cc, src, tmp_path, key)


RV_GCC = shutil.which("riscv64-unknown-elf-gcc")


@pytest.mark.skipif(RV_GCC is None, reason="no riscv64-unknown-elf-gcc")
@pytest.mark.parametrize("key", ["matmul_register_block_nondiv", "conv2d_cache_write_pad_at", "avg_pool_int_sum_at",
                                 "max_pool_f32", "pack_b_kmajor_padded"])
def test_c_cross_compiles_for_rv32im(key, tmp_path):
    _, func = _lower(key)
    src = codegen_c.emit(func, target="rv32im")
    _compile(RV_GCC, src, tmp_path, key, extra=("-march=rv32im", "-mabi=ilp32", "-O2"))


@pytest.mark.parametrize("target", ["host", "rv32im"])
@pytest.mark.parametrize("key", list(KERNELS))
def test_c_includes_only_stdint_and_stddef(key, target):
    _, func = _lower(key)
    src = codegen_c.emit(func, target=target)
    includes = re.findall(r"^\s*#\s*include\s*(\S+)", src, re.M)
    assert set(includes) <= {"<stdint.h>", "<stddef.h>"}, includes
    # nothing else from a hosted C library either
    body = _strip_comments(src)
    for word in ("printf", "malloc", "free(", "memcpy", "memset", "abort", "math.h", "stdlib"):
        assert word not in body, word


# --- determinism --------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["host", "rv32im"])
@pytest.mark.parametrize("key", list(KERNELS))
def test_emit_is_deterministic_in_process(key, target):
    _, f1 = _lower(key)
    _, f2 = _lower(key)  # built again from scratch: fresh objects, fresh ids
    a = codegen_c.emit(f1, target=target)
    b = codegen_c.emit(f1, target=target)
    c = codegen_c.emit(f2, target=target)
    assert a == b
    assert a == c
    assert str(f1) == str(f2)


_SUBPROCESS_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import codegen_c
from test_c_output import _lower, KERNELS
for key in sorted(KERNELS):
    _, func = _lower(key)
    for target in ("host", "rv32im"):
        sys.stdout.write("=== %s %s\\n" % (key, target))
        sys.stdout.write(codegen_c.emit(func, target=target))
"""


def _emit_all_here() -> str:
    parts = []
    for key in sorted(KERNELS):
        _, func = _lower(key)
        for target in ("host", "rv32im"):
            parts.append(f"=== {key} {target}\n")
            parts.append(codegen_c.emit(func, target=target))
    return "".join(parts)


@pytest.mark.parametrize("hashseed", ["0", "4242"])
def test_emit_is_deterministic_across_processes(hashseed):
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    r = subprocess.run([sys.executable, "-c", _SUBPROCESS_SCRIPT.format(tests=str(TESTS_DIR))],
                       capture_output=True, text=True, env=env, cwd=str(TESTS_DIR.parent))
    assert r.returncode == 0, r.stderr
    here = _emit_all_here()
    if r.stdout != here:
        import difflib

        diff = "".join(list(difflib.unified_diff(here.splitlines(True), r.stdout.splitlines(True)))[:80])
        pytest.fail("emit differs between processes:\n" + diff)


# --- the C reflects the schedule ------------------------------------------------------------------

def _matmul_func(M=8, N=8, K=8, sched=None, args_order=None, name="mm", dtype_in="int8", dtype_acc="int32"):
    wl = W.matmul(M, N, K, dtype_in, dtype_acc)
    s = schedules.create_schedule(wl.output)
    extra = sched(s, wl) if sched else None
    args = wl.args if args_order is None else [wl.args[i] for i in args_order]
    return tir.lower(s, args, name), extra


def _loop_vars(src: str) -> list[str]:
    return re.findall(r"for \(int32_t (\w+) =", src)


def test_unroll_emits_statements_not_a_pragma():
    def sched(s, wl):
        st = s[wl.output]
        i, j = st.op.axis
        jo, ji = st.split(j, 4)
        k = st.op.reduce_axis[0]
        st.reorder(i, jo, k, ji)
        st.unroll(ji)

    func, _ = _matmul_func(4, 8, 4, sched)
    src = codegen_c.emit(func)
    body = _body(src)
    assert "j_inner" not in _loop_vars(body)
    assert "pragma" not in src and "unroll" not in src
    # four statements, one per unrolled j.inner, in the k loop: C[... + 0..3] accumulations
    stores = re.findall(r"^\s*C\[[^\]]*\] = (?:\(int32_t\)\(\(uint32_t\))?C\[", body, re.M)
    assert len(stores) == 4, body
    assert "for (int32_t j_outer" in body and "for (int32_t k" in body


def test_unrolled_reduction_axis_has_no_loop():
    def sched(s, wl):
        s[wl.output].unroll(s[wl.output].op.reduce_axis[0])

    func, _ = _matmul_func(3, 3, 4, sched)
    body = _body(codegen_c.emit(func))
    assert _loop_vars(body) == ["i", "j"], body
    assert len(re.findall(r"^\s*C\[[^\]]*\] = (?:\(int32_t\)\(\(uint32_t\))?C\[", body, re.M)) == 4


def test_register_blocked_accumulator_is_local_and_constant_indexed():
    func, _ = _matmul_func(8, 12, 16, sch_register_block)
    src = codegen_c.emit(func)
    body = _body(src)
    lines = body.splitlines()
    decl = [n for n, ln in enumerate(lines) if re.search(r"\bint32_t C_local\[16\]( = \{0\})?;", ln)]
    assert len(decl) == 1, body
    # declared inside the j.outer tile loop (not static, not at function level)
    jo = [n for n, ln in enumerate(lines) if "for (int32_t j_outer" in ln]
    assert jo and jo[0] < decl[0], body
    indent = lambda ln: len(ln) - len(ln.lstrip())  # noqa: E731
    assert indent(lines[decl[0]]) > indent(lines[jo[0]])
    assert "static" not in lines[decl[0]]
    # indexed only with integer constants: a C compiler can keep all 16 in registers
    uses = re.findall(r"C_local\[([^\]]*)\]", "\n".join(ln for n, ln in enumerate(lines) if n != decl[0]))
    assert len(uses) > 16
    assert all(re.fullmatch(r"\d+", u) for u in uses), sorted(set(uses))
    assert sorted({int(u) for u in uses}) == list(range(16))
    # written back after the k loop: the stores to C come after the last k loop closes
    k_loop = max(n for n, ln in enumerate(lines) if "for (int32_t k_outer" in ln)
    c_stores = [n for n, ln in enumerate(lines) if re.match(r"\s*C\[", ln)]
    assert len(c_stores) == 16 and min(c_stores) > k_loop
    # the accumulator tile is reset once per tile, not per k iteration
    inits = [n for n, ln in enumerate(lines) if re.match(r"\s*C_local\[\d+\] = 0;", ln)]
    assert len(inits) == 16 and max(inits) < k_loop


def test_tiled_matmul_without_remainder_has_no_guards_or_division():
    def sched(s, wl):
        st = s[wl.output]
        i, j = st.op.axis
        io, jo, ii, ji = st.tile(i, j, 4, 4)
        ko, ki = st.split(st.op.reduce_axis[0], 4)
        st.reorder(io, jo, ko, ii, ki, ji)

    func, _ = _matmul_func(8, 16, 12, sched)
    for target in ("host", "rv32im"):
        body = _body(codegen_c.emit(func, target=target))
        assert "if (" not in body, body
        assert "/" not in body and "%" not in body, body
        assert "?" not in body


def test_register_blocked_divisible_matmul_has_no_guards_or_division():
    func, _ = _matmul_func(8, 8, 8, sch_register_block)
    src = codegen_c.emit(func)
    body = _body(src)
    assert "if (" not in body and "/" not in body and "%" not in body, body
    assert "isaforge_floordiv" not in src and "isaforge_floormod" not in src


def test_non_divisible_split_produces_a_guard():
    def sched(s, wl):
        st = s[wl.output]
        st.split(st.op.axis[1], 4)

    func, _ = _matmul_func(4, 10, 4, sched)
    body = _body(codegen_c.emit(func))
    guards = re.findall(r"if \((.*)\) \{", body)
    assert len(guards) == 1, body
    assert "j_outer" in guards[0] and "j_inner" in guards[0] and "10" in guards[0]


def test_fuse_uses_division_only_when_needed():
    def sched(s, wl):
        st = s[wl.output]
        st.fuse(*st.op.axis)

    func, _ = _matmul_func(4, 6, 3, sched)
    body = _body(codegen_c.emit(func))
    assert "i_j_fused" in _loop_vars(body)
    # indices are non-negative: plain C division, no floor helpers
    assert "isaforge_floordiv" not in body


def test_function_signature_follows_args_order():
    func, _ = _matmul_func(4, 4, 4, name="mm")
    src = codegen_c.emit(func)
    assert "void mm(int8_t *restrict A, int8_t *restrict B, int32_t *restrict C) {" in src
    func, _ = _matmul_func(4, 4, 4, args_order=[2, 1, 0], name="mm_rev")
    src = codegen_c.emit(func)
    assert "void mm_rev(int32_t *restrict C, int8_t *restrict B, int8_t *restrict A) {" in src
    func, _ = _matmul_func(4, 4, 4, name="mmf", dtype_in="float32", dtype_acc="float32")
    assert "void mmf(float *restrict A, float *restrict B, float *restrict C) {" in codegen_c.emit(func)


def test_signature_of_multi_input_workload_and_sanitized_names():
    wl, func = _lower("dense_bias_relu_fused", name="dense.bias-relu")
    src = codegen_c.emit(func)
    assert re.search(r"^void dense_bias_relu\(int8_t \*restrict X, int8_t \*restrict W, "
                     r"int32_t \*restrict Bias, int32_t \*restrict relu\) \{$", src, re.M), src
    assert "static int32_t bias" not in src  # inlined


def test_signature_is_the_only_non_static_function():
    _, func = _lower("avg_pool_int_sum_at", name="avgpool")
    src = _strip_comments(codegen_c.emit(func))
    funcs = re.findall(r"^(?!\s)(.*\b(\w+)\s*\([^;]*\)\s*\{)", src, re.M)
    non_static = [f for f, _ in funcs if not f.startswith("static")]
    assert len(non_static) == 1 and non_static[0].startswith("void avgpool(")


def test_pragma_value_is_emitted_verbatim():
    """The IR prints ``# pragma auto_unroll_max_step=16``; the C comment must show the same value."""
    _, func = _lower("matmul_pragma")
    assert "# pragma auto_unroll_max_step=16" in str(func)
    src = codegen_c.emit(func)
    assert "/* pragma auto_unroll_max_step=16 */" in src


def test_vectorize_is_a_plain_loop_in_c():
    _, func = _lower("matmul_vectorize")
    src = codegen_c.emit(func)
    body = _body(src)
    assert "j_inner" in _loop_vars(body)
    assert "#pragma" not in src
    assert "/* vectorized" in src


def test_parallel_uses_guarded_openmp_pragma_on_host():
    def sched(s, wl):
        s[wl.output].parallel(s[wl.output].op.axis[0])

    func, _ = _matmul_func(4, 4, 4, sched)
    src = codegen_c.emit(func, target="host")
    assert "#ifdef _OPENMP\n#pragma omp parallel for\n#endif" in src


def test_kernel_level_intermediate_is_static_and_tile_buffers_are_not():
    _, func = _lower("conv2d_pad_root")
    src = codegen_c.emit(func)
    assert re.search(r"static int8_t pad\[\d+\];", src)
    _, func = _lower("stencil_at_tile")
    src = codegen_c.emit(func)
    assert re.search(r"^\s+int32_t P\[10\]( = \{0\})?;", src, re.M), src


def test_narrow_integer_arithmetic_wraps_like_numpy(rng):
    import numpy as np
    from conftest import run_host

    wl = W.broadcast_add((3, 5), (1, 5), "int8")
    s = schedules.create_schedule(wl.output)
    a = np.full((3, 5), 100, np.int8)
    b = np.full((1, 5), 100, np.int8)
    out = np.zeros((3, 5), np.int8)
    run_host(s, wl.args, [a, b, out])
    np.testing.assert_array_equal(out, (a + b))  # 200 wraps to -56
    assert out[0, 0] == -56
