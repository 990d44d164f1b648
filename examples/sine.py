"""TensorFlow Lite Micro's hello_world on the simulated VexRiscv: the sine model, int8, no runtime.

The float model is the one the ``tflite-micro`` wheel ships (``sine_float.tflite``). isaforge
quantizes it to int8 (post-training, calibrated with global min/max over 500 x values in [0, 2pi]),
writes the int8 model as a .tflite (which TFLM's interpreter runs, for comparison), compiles it into
one freestanding C unit and runs it on the simulated SoC with a main program that does what
hello_world's does: quantize x, invoke the model, dequantize y, print

    x_value: 0.314159, y_value: 0.270483

for x = 0, 0.314159, ..., 2.827433, with y equal to the TFLM interpreter's output for the same int8
model. It then prints the cycles per inference and the footprint.

Run:  .venv/bin/python examples/sine.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from frontend import from_tflite, quantize, to_tflite
from frontend.compile import MODEL_FUNCTION
from frontend.run import c_float, quantize_function_c, run_main, run_model
from frontend.zoo import sine_float_path

# hello_world's first 10 positions: x = float(i) / 20 * 2pi, in float32 as its main.cc computes them
XS = [float(np.float32(np.float32(i) / np.float32(20)) * np.float32(2 * 3.14159265359)) for i in range(10)]
CALIBRATION = np.linspace(0, 2 * np.pi, 500, dtype=np.float32)


def int8_sine():
    """(int8 graph, its .tflite bytes) of TFLM's sine model, quantized by isaforge."""
    g = quantize(from_tflite(sine_float_path()), CALIBRATION)
    return g, to_tflite(g)


def hello_world_main(graph, xs=XS) -> str:
    """main.c: hello_world's loop (quantize x, model, dequantize y, print) for the values ``xs``."""
    qi = graph.values[graph.inputs[0]].quant
    qo = graph.values[graph.outputs[0]].quant
    return "\n".join([
        "#include <stdint.h>",
        '#include "isaforge_rt.h"',
        f"void {MODEL_FUNCTION}(const int8_t *in, int8_t *out);",
        quantize_function_c(qi),
        f"static const float xs[{len(xs)}] = {{{', '.join(c_float(x) for x in xs)}}};",
        "int main(void) {",
        f"    for (int i = 0; i < {len(xs)}; ++i) {{",
        "        int8_t x = isaforge_quantize(xs[i]);",
        "        int8_t y;",
        f"        {MODEL_FUNCTION}(&x, &y);",
        "        isaforge_puts(\"x_value: \");",
        "        isaforge_print_float(xs[i], 6);",
        "        isaforge_puts(\", y_value: \");",
        f"        isaforge_print_float((float)((int32_t)y - ({int(qo.zero_point[0])})) * {c_float(qo.scale[0])}, 6);",
        "        isaforge_putchar('\\n');",
        "    }",
        "    return 0;",
        "}",
        "",
    ])


def demo():
    """Run the device program (printing its console) and return the int8 graph."""
    graph, _ = int8_sine()
    run, _ = run_main(graph.compile("vexriscv"), hello_world_main(graph))
    sys.stdout.write(run.console)
    return graph


def demo_inputs(graph) -> np.ndarray:
    """Some int8 inputs to measure with (the quantized hello_world positions)."""
    from frontend.reference import quantize_np

    q = graph.values[graph.inputs[0]].quant
    return np.stack([quantize_np(np.array([[x]], np.float32), q) for x in XS])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="write sine_int8.tflite and model.c here")
    args = ap.parse_args(argv)
    graph, tfl = int8_sine()
    compiled = graph.compile("vexriscv")
    out = args.out or Path(tempfile.mkdtemp(prefix="isaforge-sine-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "sine_int8.tflite").write_bytes(tfl)
    (out / "model.c").write_text(compiled.source)

    run, fp = run_main(compiled, hello_world_main(graph))
    sys.stdout.write(run.console)
    m = run_model(compiled, demo_inputs(graph)[:1])
    print(f"cycles per inference: {m.cycles} warm, {m.cold_cycles} cold ({m.instret} instructions)")
    print(f"footprint: {fp.describe()}")
    print(f"int8 model and C unit in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
