"""Whole-model compile pieces: the runtime's float printer on the simulated SoC, the arena planner."""

import numpy as np

from frontend.compile import plan_arena
from simulator.toolchain import compile_rv32, runtime_sources
from simulator.vexriscv import run_elf


def _float_values() -> np.ndarray:
    rng = np.random.default_rng(0)
    vals = [0.0, -0.0, 0.5, 1.5, 2.5, 5e-7, 1.5e-6, 2.5e-6, -5e-7, 1e-7, 1e-45, 3.4e38, -3.4e38, 2**31 - 128,
            float("inf"), -float("inf"), float("nan"), 0.9999995, 9.9999995, 123456.7890625, 1.0 / 3,
            2.0**-20 * 3, 2**24 + 2, 16777215.0]
    vals += list(rng.uniform(-10, 10, 150)) + list(rng.uniform(-2**31, 2**31, 40))
    vals += list(np.exp(rng.uniform(-30, 20, 150)) * rng.choice([-1, 1], 150))
    vals += [(2 * i + 1) / 2**7 + j for i in range(20) for j in (0, 3)]  # exact binary ties
    return np.array(vals, dtype=np.float32)


def test_print_float_matches_python_format_on_soc():
    f32 = _float_values()
    bits = f32.view(np.uint32)
    src = '#include <stdint.h>\n#include "isaforge_rt.h"\n'
    src += f"static const uint32_t vals[{len(bits)}] = {{{','.join(f'0x{b:08x}u' for b in bits)}}};\n"
    src += (f"int main(void) {{\n  for (int i = 0; i < {len(bits)}; i++) {{\n"
            "    union { uint32_t u; float f; } b; b.u = vals[i];\n"
            "    isaforge_print_float(b.f, 6); isaforge_putchar('\\n');\n  }\n"
            "  isaforge_print_float(2.5f, 0); isaforge_putchar('\\n');\n"
            "  isaforge_print_float(3.5f, 0); isaforge_putchar('\\n');\n"
            "  isaforge_print_float(0.125f, 2); isaforge_putchar('\\n');\n"
            "  isaforge_print_float(1.0f / 3.0f, 9); isaforge_putchar('\\n');\n  return 0;\n}\n")
    sources = runtime_sources(print_float=True)
    sources["main.c"] = src
    run = run_elf(compile_rv32(sources))
    assert run.exit_code == 0
    expected = [f"{float(v):.6f}" for v in f32] + ["2", "4", "0.12", f"{float(np.float32(1 / 3)):.9f}"]
    assert run.console.splitlines() == expected


def test_plan_arena_reuses_dead_buffers():
    offsets, size = plan_arena({"a": (0, 1, 100), "b": (1, 2, 40), "c": (2, 3, 100)})
    # a and c never live together: c reuses a's bytes; b overlaps both in time
    assert offsets["a"] == offsets["c"]
    assert offsets["b"] >= 112 or offsets["b"] + 48 <= offsets["a"]
    assert size == 112 + 48
