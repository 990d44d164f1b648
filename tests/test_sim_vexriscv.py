"""End-to-end tests of the VexRiscv SoC simulator (real Verilator model, real cross compilers)."""

import numpy as np
import pytest

from simulator.elf import read_elf
from simulator.errors import BusError, SimTimeout, TrapError
from simulator.toolchain import Toolchain, available_toolchains, compile_rv32, link_script_text, runtime_sources
from simulator.vexriscv import build_soc, driver_source, run_elf, run_kernel
from tir.errors import ArgumentError, TirError

pytestmark = pytest.mark.usefixtures("monolithic_soc")  # the default (monolithic) SoC build

N = 16

MATMUL_SCALAR = r"""
#include <stdint.h>
void matmul(const int8_t *restrict a, const int8_t *restrict b, int32_t *restrict c) {
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            int32_t acc = 0;
            for (int k = 0; k < 16; k++) acc += (int32_t)a[i * 16 + k] * (int32_t)b[k * 16 + j];
            c[i * 16 + j] = acc;
        }
}
"""

# b_t is B transposed, so each output needs two contiguous 16-byte rows: 4 dot4 ops of 4 lanes.
MATMUL_CFU = r"""
#include <stdint.h>
typedef uint32_t __attribute__((may_alias, aligned(4))) word_t;
static inline int32_t dot4(uint32_t x, uint32_t y) {
    int32_t r;
    __asm__(".insn r 0x0B, 0, 0, %0, %1, %2" : "=r"(r) : "r"(x), "r"(y));
    return r;
}
void matmul_cfu(const int8_t *restrict a, const int8_t *restrict b_t, int32_t *restrict c) {
    for (int i = 0; i < 16; i++) {
        const word_t *ar = (const word_t *)(a + i * 16);
        for (int j = 0; j < 16; j++) {
            const word_t *br = (const word_t *)(b_t + j * 16);
            c[i * 16 + j] = dot4(ar[0], br[0]) + dot4(ar[1], br[1]) + dot4(ar[2], br[2])
                          + dot4(ar[3], br[3]);
        }
    }
}
"""

# function_id 0: signed 4-lane int8 dot product, answered one cycle after the command.
DOT4_CFU = r"""
module Cfu (
    input             clk,
    input             reset,
    input             cmd_valid,
    output            cmd_ready,
    input      [9:0]  cmd_payload_function_id,
    input      [31:0] cmd_payload_inputs_0,
    input      [31:0] cmd_payload_inputs_1,
    output reg        rsp_valid,
    input             rsp_ready,
    output reg [31:0] rsp_payload_outputs_0
);
    wire signed [7:0] a0 = cmd_payload_inputs_0[7:0],   b0 = cmd_payload_inputs_1[7:0];
    wire signed [7:0] a1 = cmd_payload_inputs_0[15:8],  b1 = cmd_payload_inputs_1[15:8];
    wire signed [7:0] a2 = cmd_payload_inputs_0[23:16], b2 = cmd_payload_inputs_1[23:16];
    wire signed [7:0] a3 = cmd_payload_inputs_0[31:24], b3 = cmd_payload_inputs_1[31:24];
    wire signed [31:0] dot = a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
    assign cmd_ready = !rsp_valid || rsp_ready;
    always @(posedge clk) begin
        if (reset) begin
            rsp_valid <= 1'b0;
        end else if (cmd_valid && cmd_ready) begin
            rsp_valid <= 1'b1;
            rsp_payload_outputs_0 <= (cmd_payload_function_id == 10'd0) ? dot : 32'd0;
        end else if (rsp_ready) begin
            rsp_valid <= 1'b0;
        end
    end
endmodule
"""


def _toolchains():
    names = [t.compiler for t in available_toolchains()]
    return [
        pytest.param(Toolchain(c), marks=[] if c in names else pytest.mark.skip(reason=f"{c} not installed"))
        for c in ("zig", "gcc")
    ]


def _operands(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(N, N), dtype=np.int8)
    b = rng.integers(-128, 128, size=(N, N), dtype=np.int8)
    return a, b, a.astype(np.int32) @ b.astype(np.int32)


@pytest.mark.parametrize("toolchain", _toolchains(), ids=lambda t: t.compiler)
def test_scalar_matmul_matches_numpy(toolchain):
    a, b, ref = _operands()
    c = np.zeros((N, N), dtype=np.int32)
    res = run_kernel(MATMUL_SCALAR, "matmul", [a, b, c], toolchain=toolchain)
    np.testing.assert_array_equal(c, ref)
    assert 0 < res.cycles <= res.cold_cycles < res.total_cycles
    assert res.instret > N * N * N  # at least one instruction per MAC


def test_same_run_gives_identical_cycles():
    a, b, ref = _operands(1)
    results = []
    for _ in range(2):
        c = np.zeros((N, N), dtype=np.int32)
        results.append(run_kernel(MATMUL_SCALAR, "matmul", [a, b, c]))
        np.testing.assert_array_equal(c, ref)
    first, second = results
    assert first.cycles == second.cycles
    assert first.cold_cycles == second.cold_cycles
    assert first.instret == second.instret
    assert first.total_cycles == second.total_cycles


def test_cfu_matmul_matches_numpy_and_is_faster():
    a, b, ref = _operands(2)
    c_scalar = np.zeros((N, N), dtype=np.int32)
    scalar = run_kernel(MATMUL_SCALAR, "matmul", [a, b, c_scalar])
    c = np.zeros((N, N), dtype=np.int32)
    cfu = run_kernel(MATMUL_CFU, "matmul_cfu", [a, np.ascontiguousarray(b.T), c], cfu_verilog=DOT4_CFU)
    np.testing.assert_array_equal(c_scalar, ref)
    np.testing.assert_array_equal(c, ref)
    assert cfu.cycles < scalar.cycles


def test_wait_states_slow_down_cold_run():
    a, b, ref = _operands(3)
    c0 = np.zeros((N, N), dtype=np.int32)
    fast = run_kernel(MATMUL_SCALAR, "matmul", [a, b, c0])
    c1 = np.zeros((N, N), dtype=np.int32)
    slow = run_kernel(MATMUL_SCALAR, "matmul", [a, b, c1], wait_states=3)
    np.testing.assert_array_equal(c1, ref)
    assert slow.cold_cycles > fast.cold_cycles


def _run_snippet(body: str, **kw):
    code = "#include <stdint.h>\n#include \"isaforge_rt.h\"\nvoid k(int32_t *restrict x) {\n" + body + "\n}\n"
    return run_kernel(code, "k", [np.zeros(4, dtype=np.int32)], **kw)


def test_infinite_loop_raises_sim_timeout():
    with pytest.raises(SimTimeout, match="200000 cycles") as info:
        _run_snippet("for (;;) { __asm__ volatile(\"\"); }", max_cycles=200_000)
    assert info.value.cycles == 200_000
    assert 0x40000000 <= info.value.pc < 0x40040000


def test_store_to_unmapped_address_raises_bus_error():
    with pytest.raises(BusError, match="0x10000040") as info:
        _run_snippet("*(volatile int32_t *)0x10000040 = x[0] + 1;")
    assert info.value.write
    assert info.value.address == 0x10000040
    assert 0x40000000 <= info.value.pc < 0x40040000


def test_load_from_unmapped_address_raises_bus_error():
    with pytest.raises(BusError, match="read from unmapped address 0x20000008"):
        _run_snippet("x[0] = *(volatile int32_t *)0x20000008;")


def test_illegal_instruction_raises_trap_error():
    with pytest.raises(TrapError, match="illegal instruction") as info:
        _run_snippet("__asm__ volatile(\".word 0\");")
    assert info.value.mcause == 2
    assert info.value.instruction == 0


def test_cfu_instruction_with_cfu_disabled_traps():
    body = (
        "isaforge_cfu_disable(); int32_t r;\n"
        "__asm__ volatile(\".insn r 0x0B, 0, 0, %0, %1, %2\" : \"=r\"(r) : \"r\"(x[0]), \"r\"(x[1]));\n"
        "x[2] = r;"
    )
    with pytest.raises(TrapError) as info:
        _run_snippet(body, cfu_verilog=DOT4_CFU)
    assert info.value.mcause == 2
    assert info.value.instruction & 0x7F == 0x0B


def test_run_elf_console_and_exit_code(tmp_path):
    from simulator.toolchain import compile_rv32, runtime_sources

    src = runtime_sources()
    src["main.c"] = (
        '#include "isaforge_rt.h"\n'
        'int main(void) { isaforge_puts("n="); isaforge_print_int(-7); return 3; }\n'
    )
    run = run_elf(compile_rv32(src, tmp_path))
    assert run.exit_code == 3
    assert run.console == "n=-7"


def test_bad_arrays_are_rejected():
    with pytest.raises(ArgumentError, match="dtype"):
        run_kernel(MATMUL_SCALAR, "matmul", [np.zeros(4, dtype=np.float64)])
    with pytest.raises(ArgumentError, match="contiguous"):
        run_kernel(MATMUL_SCALAR, "matmul", [np.zeros((4, 4), dtype=np.int32)[:, 1]])
    with pytest.raises(ArgumentError, match="ram_kib"):
        run_kernel(MATMUL_SCALAR, "matmul", [np.zeros(70_000, dtype=np.int32)], ram_kib=256)
    with pytest.raises(TirError):
        run_kernel(MATMUL_SCALAR, "matmul", [np.zeros(4, dtype=np.int32)], outputs=[5])


def test_build_soc_is_cached():
    assert build_soc() == build_soc()


@pytest.mark.parametrize("toolchain", _toolchains(), ids=lambda t: t.compiler)
def test_float_kernel_uses_soft_float(toolchain):
    kernel = (
        "void axpb(const float *restrict x, float *restrict y) {\n"
        "    for (int i = 0; i < 8; i++) y[i] = x[i] * 1.5f + y[i];\n}\n"
    )
    x = np.arange(8, dtype=np.float32)
    y = np.full(8, 2.0, dtype=np.float32)
    run_kernel(kernel, "axpb", [x, y], toolchain=toolchain)
    np.testing.assert_array_equal(y, x * np.float32(1.5) + np.float32(2.0))


def test_accumulating_kernel_sees_original_outputs_on_warm_run():
    kernel = (
        "#include <stdint.h>\n"
        "void acc(const int16_t *restrict a, int32_t *restrict c, uint8_t *restrict d) {\n"
        "    for (int i = 0; i < 5; i++) { c[i] += a[i]; d[i] += 1; }\n}\n"
    )
    a = np.arange(5, dtype=np.int16) * 100
    c = np.full(5, 7, dtype=np.int32)
    d = np.arange(5, dtype=np.uint8)
    res = run_kernel(kernel, "acc", [a, c, d], outputs=[1, 2])
    np.testing.assert_array_equal(c, 7 + a)
    np.testing.assert_array_equal(d, np.arange(5, dtype=np.uint8) + 1)
    np.testing.assert_array_equal(a, np.arange(5, dtype=np.int16) * 100)  # inputs untouched
    assert res.cycles > 0



@pytest.mark.parametrize(("cfu", "wait_states"), [(None, 0), (DOT4_CFU, 1)], ids=["no_cfu", "dot4_cfu_ws1"])
def test_fast_harness_gives_the_cycles_of_plain_eval(cfu, wait_states):
    """The harness's fast paths (the model's evaluation called directly, the falling edge skipped for a
    rising-edge-only design) simulate exactly what Verilator's eval() on both edges does: same cycles,
    same memory, same counters."""
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (N, N)).astype(np.int8)
    b = rng.integers(-128, 128, (N, N)).astype(np.int8)
    c = np.zeros((N, N), np.int32)
    if cfu is None:
        src, name, args = MATMUL_SCALAR, "matmul", [a, b, c]
    else:
        src, name, args = MATMUL_CFU, "matmul_cfu", [a, b.T.copy(), c]
    sources = runtime_sources()
    sources["main.c"] = driver_source(name, args, [2])
    sources["kernel.c"] = src
    elf = compile_rv32(sources, None, Toolchain(), link_script_text(256, 8))
    info = read_elf(elf)
    patches = [(info.symbol(f"isaforge_arg{i}").address, x.tobytes()) for i, x in enumerate(args)]
    dump = {"result": (info.symbol("isaforge_result").address, 32),
            "c": (info.symbol("isaforge_arg2").address, c.nbytes)}
    runs = [run_elf(elf, cfu_verilog=cfu, dump=dump, image_patches=patches, wait_states=wait_states,
                    plain_eval=plain) for plain in (False, True)]
    fast, plain = runs
    assert fast.eval_mode == "rise" and plain.eval_mode == "eval"
    assert fast.cycles == plain.cycles and fast.dumps == plain.dumps and fast.exit_code == plain.exit_code == 0
    want = a.astype(np.int32) @ b.astype(np.int32)
    np.testing.assert_array_equal(np.frombuffer(fast.dumps["c"], np.int32).reshape(N, N), want)
