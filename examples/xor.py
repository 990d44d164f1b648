"""emlearn's xor example on the simulated VexRiscv, int8, no runtime.

The model is what emlearn's examples train: scikit-learn's MLPClassifier (2 inputs, 8 relu units,
1 logistic output) on the four corners of {0, 255}^2. It goes through the tools a user has:
skl2onnx to ONNX, onnxruntime's static quantization to an int8 QDQ model, then isaforge: from_onnx,
one freestanding C unit, and a main program for the device that scales each input pair to [0, 1],
quantizes it, runs the model and prints the class (logit > 0):

    xor(0,0) = 0
    xor(255,0) = 1
    xor(0,255) = 1
    xor(255,255) = 0

then the cycles per inference and the footprint.

Run:  .venv/bin/python examples/xor.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from frontend import from_onnx
from frontend.compile import MODEL_FUNCTION, int8_core
from frontend.reference import quantize_np
from frontend.run import quantize_function_c, run_main, run_model
from frontend.zoo import XOR_CORNERS, xor_onnx


def int8_xor(directory: str | Path | None = None):
    """The int8 graph of the xor model (built, trained and quantized in ``directory``)."""
    path, _ = xor_onnx(directory or tempfile.mkdtemp(prefix="isaforge-xor-"))
    return from_onnx(path)


def xor_main(graph) -> str:
    """main.c: for each corner, scale to [0, 1], quantize, run the model, print the class."""
    core = int8_core(graph)
    qi = core.values[core.inputs[0]].quant
    qo = core.values[core.outputs[0]].quant
    pairs = ", ".join(f"{{{a}, {b}}}" for a, b in XOR_CORNERS)
    return "\n".join([
        "#include <stdint.h>",
        '#include "isaforge_rt.h"',
        f"void {MODEL_FUNCTION}(const int8_t *in, int8_t *out);",
        quantize_function_c(qi),
        f"static const int32_t pairs[{len(XOR_CORNERS)}][2] = {{{pairs}}};",
        "int main(void) {",
        f"    for (int i = 0; i < {len(XOR_CORNERS)}; ++i) {{",
        "        int8_t x[2], y;",
        "        x[0] = isaforge_quantize((float)pairs[i][0] / 255.0f);",
        "        x[1] = isaforge_quantize((float)pairs[i][1] / 255.0f);",
        f"        {MODEL_FUNCTION}(x, &y);",
        "        isaforge_puts(\"xor(\");",
        "        isaforge_print_float((float)pairs[i][0], 0);",
        "        isaforge_putchar(',');",
        "        isaforge_print_float((float)pairs[i][1], 0);",
        f"        isaforge_puts((int32_t)y > {int(qo.zero_point[0])} ? \") = 1\\n\" : \") = 0\\n\");",
        "    }",
        "    return 0;",
        "}",
        "",
    ])


def demo():
    """Run the device program (printing its console) and return the int8 graph."""
    graph = int8_xor()
    run, _ = run_main(graph.compile("vexriscv"), xor_main(graph))
    sys.stdout.write(run.console)
    return graph


def demo_inputs(graph) -> np.ndarray:
    """The four corners, quantized (what the device program feeds the model)."""
    core = int8_core(graph)
    q = core.values[core.inputs[0]].quant
    return np.stack([quantize_np(np.array([[a / 255, b / 255]], np.float32), q) for a, b in XOR_CORNERS])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="write the ONNX models and model.c here")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="isaforge-xor-"))
    graph = int8_xor(out)
    compiled = graph.compile("vexriscv")
    (out / "model.c").write_text(compiled.source)
    run, fp = run_main(compiled, xor_main(graph))
    sys.stdout.write(run.console)
    m = run_model(compiled, demo_inputs(graph)[:1])
    print(f"cycles per inference: {m.cycles} warm, {m.cold_cycles} cold ({m.instret} instructions)")
    print(f"footprint: {fp.describe()}")
    print(f"models and C unit in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
