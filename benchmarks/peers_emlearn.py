"""The emlearn peer: emlearn's float MLP C code on the same simulated VexRiscv SoC and cross compiler.

    .venv/bin/python benchmarks/peers_emlearn.py [--models xor,sine] [--out FILE]

Two float MLPs go through emlearn (PyPI ``emlearn``, ``emlearn.convert(model, method="loadable")``
then ``.save(name=...)``; its inline generator fails in 0.23.2 and its fixed-point MLP is a stub):

- xor: sklearn ``MLPClassifier((8,), relu, random_state=3)`` fitted on the four xor corners
  ({0, 255}^2 / 255, 50 noisy copies each); 2-8-1, relu then logistic.
- sine: TFLM's hello_world float model (1-16-16-1, relu, identity output), its weights read with
  ``frontend.from_tflite`` and set by hand into an sklearn ``MLPRegressor`` (converted with
  ``return_type="regressor"``).

emlearn's C (``eml_net.h`` and its headers, copied from the installed package, plus the generated
model) is one translation unit, ``model.c``, compiled by the project's rv32 toolchain (zig -O2,
freestanding). That target has no libc, so the program carries:

- tiny ``stdio.h`` / ``stdlib.h`` / ``math.h`` stand-ins (emlearn includes them; without
  ``EML_DEBUG`` it calls nothing from stdio/stdlib);
- ``eml_libm.c``: freestanding ``expf`` (Cody-Waite reduction by ln 2 to |r| <= ln2/2, a degree-7
  Taylor polynomial, scaling by 2^k through the exponent bits: within a few float ulps, correct
  enough for a logistic output), ``logf`` (atanh series on the mantissa) and ``tanhf`` (from
  ``expf``, a Taylor series near 0). ``eml_net_forward`` picks the activation at run time, so all
  three are linked even though only xor's logistic output calls ``expf``.

Soft float comes from zig's compiler_rt. The main program times the predict function twice on the
first input (cold, then warm; ``mcycle`` / ``minstret`` around the call), then every input once
(its cycles: soft float takes data-dependent paths, relu zeros are cheap), and prints every input's
output as raw float bits (exact). Checks: the device's outputs equal a float32 numpy forward pass
of the weights as emlearn emitted them (it prints them with ``%f``: 6 decimals) within 1e-5, and
for xor the four corners' classes are 0, 1, 1, 0. The difference to the unrounded model is shown.

Footprint, read from the ELF with pyelftools: ``emlearn`` = .text / .rodata / .data(+.bss) of the
model unit's symbols (locals after its STT_FILE, and the globals ``eml_*`` / ``<name>_*``),
``libm`` = the shim's, ``rt`` = compiler_rt's soft-float routines (``__*`` globals and the locals of
compiler_rt's files), and ``delta`` = whole-program .text+.rodata+.data minus that of the same main
program without a model (what adding emlearn costs a float-free program).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.toolchain import compile_rv32, runtime_sources  # noqa: E402
from simulator.vexriscv import run_elf  # noqa: E402

MODEL_FILE = "model.c"
LIBM_FILE = "eml_libm.c"
MAIN_FILE = "main.c"
TOLERANCE = 1e-5
# emlearn headers the MLP unit includes (eml_net.h -> eml_common.h -> eml_log.h, eml_net_common.h)
EML_HEADERS = ("eml_net.h", "eml_net_common.h", "eml_common.h", "eml_log.h")
XOR_CORNERS = np.array([[0, 0], [0, 255], [255, 0], [255, 255]], dtype=np.float64) / 255.0
XOR_CLASSES = np.array([0, 1, 1, 0])
SINE_INPUTS = np.array([[0.5], [1.5], [3.0]])

# libc headers emlearn includes; the freestanding target has none. Nothing from stdio/stdlib is
# called unless EML_DEBUG / EML_LOG_ENABLE is set (they are not).
SHIM_HEADERS = {
    "stdio.h": "#ifndef EML_SHIM_STDIO_H\n#define EML_SHIM_STDIO_H\n#include <stddef.h>\n#endif\n",
    "stdlib.h": "#ifndef EML_SHIM_STDLIB_H\n#define EML_SHIM_STDLIB_H\n#include <stddef.h>\n#endif\n",
    "math.h": """#ifndef EML_SHIM_MATH_H
#define EML_SHIM_MATH_H
/* The few <math.h> names emlearn's MLP uses; implementations in eml_libm.c. */
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
static inline float fabsf(float x) { return __builtin_fabsf(x); }
float expf(float x);
float logf(float x);
float tanhf(float x);
#endif
""",
}

LIBM_C = r"""/* Freestanding expf / logf / tanhf for emlearn's MLP (the target has no libc). */
#include <stdint.h>
#include "math.h"

static float bits_to_float(uint32_t u) { union { uint32_t u; float f; } b; b.u = u; return b.f; }
static uint32_t float_to_bits(float f) { union { uint32_t u; float f; } b; b.f = f; return b.u; }

/* exp(x) = 2^k * exp(r), x = k ln2 + r, |r| <= ln2/2 (ln2 split hi/lo so k*ln2 is exact enough);
 * exp(r) by its Taylor polynomial to r^7 (truncation < 2e-9 relative). */
float expf(float x) {
    if (x != x) return x;
    if (x > 88.72283935546875f) return INFINITY;
    if (x < -103.972084045410f) return 0.0f;
    const float inv_ln2 = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
    float kf = x * inv_ln2;
    int k = (int)(kf + (kf >= 0.0f ? 0.5f : -0.5f));
    float r = (x - (float)k * ln2_hi) - (float)k * ln2_lo;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
              r * (1.0f / 720 + r * (1.0f / 5040)))))));
    /* 2^k in two steps so that k down to -150 (subnormal results) stays representable */
    int k1 = k / 2, k2 = k - k1;
    return p * bits_to_float((uint32_t)(k1 + 127) << 23) * bits_to_float((uint32_t)(k2 + 127) << 23);
}

/* log(x) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(s), s = (m-1)/(m+1). */
float logf(float x) {
    if (x != x || x < 0.0f) return NAN;
    if (x == 0.0f) return -INFINITY;
    if (x == INFINITY) return x;
    uint32_t u = float_to_bits(x);
    int e = 0;
    if ((u >> 23) == 0) { x *= 16777216.0f; u = float_to_bits(x); e = -24; }  /* subnormal */
    e += (int)(u >> 23) - 127;
    float m = bits_to_float((u & 0x007FFFFFu) | 0x3F800000u);
    if (m > 1.41421356f) { m *= 0.5f; e += 1; }
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float atanh = s * (1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9)))));
    return 2.0f * atanh + (float)e * 0.693147180559945309f;
}

/* tanh(x) = sign(x) (1 - t) / (1 + t), t = exp(-2|x|); below |x| = 1/4, where 1 - t would cancel,
 * its Taylor series to x^11 (truncation < 1e-9 relative). */
float tanhf(float x) {
    float a = fabsf(x);
    if (a < 0.25f) {
        float x2 = x * x;
        return x + x * x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835 +
               x2 * (-1382.0f / 155925)))));
    }
    float t = expf(-2.0f * a);
    float y = (1.0f - t) / (1.0f + t);
    return x < 0.0f ? -y : y;
}
"""


@dataclass
class PeerModel:
    """One float MLP as emlearn sees it."""

    name: str
    estimator: object  # the sklearn MLP
    return_type: str  # emlearn's: "classifier" | "regressor"
    inputs: np.ndarray  # [batch, features]
    expect_classes: np.ndarray | None = None


@dataclass
class PeerRun:
    """One emlearn model on the SoC."""

    name: str
    cycles: int  # warm inference (the first input, second call)
    cold_cycles: int
    instret: int
    outputs: np.ndarray  # [batch, outputs] float32, read back exactly
    classes: np.ndarray | None  # the predict function's classes (classifiers)
    reference: np.ndarray  # numpy float32 forward pass of the emitted weights
    model_diff: float  # max |device - the unrounded sklearn model|
    inputs: np.ndarray  # [batch, features]
    input_cycles: list[int] = field(default_factory=list)  # every input's inference (warm), in order
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # part -> kind -> bytes
    delta: int = 0  # whole-program .text+.rodata+.data minus the baseline's
    expect: np.ndarray | None = None  # the classes a classifier must predict

    @property
    def max_err(self) -> float:
        return float(np.max(np.abs(self.outputs.astype(np.float64) - self.reference)))

    @property
    def ok(self) -> bool:
        cls_ok = True
        if self.classes is not None:
            cls_ok = self.expect is None or np.array_equal(self.classes, self.expect)
        return self.max_err <= TOLERANCE and cls_ok



def _emlearn():
    """``import emlearn`` without its side effect: importing it sets numpy's floating-point errors to
    "raise" process-wide (np.seterr(all="raise")), which breaks unrelated numpy code (an underflow in
    exp raises); the previous state is restored."""
    old = np.geterr()
    try:
        import emlearn
    finally:
        np.seterr(**old)
    return emlearn


def xor_model() -> PeerModel:
    """The xor MLPClassifier (2-8-1, relu, logistic output) fitted on noisy corners."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    corners = XOR_CORNERS * 255.0
    x = np.clip(np.repeat(corners, 50, axis=0) + rng.normal(0, 8, (200, 2)), 0, 255) / 255.0
    y = np.repeat(XOR_CLASSES, 50)
    est = MLPClassifier(hidden_layer_sizes=(8,), activation="relu", random_state=3, max_iter=3000).fit(x, y)
    return PeerModel("xor", est, "classifier", XOR_CORNERS, XOR_CLASSES)


def sine_model() -> PeerModel:
    """TFLM's float sine model (1-16-16-1) as an MLPRegressor with its weights set by hand."""
    from sklearn.neural_network import MLPRegressor

    from frontend import from_tflite
    from frontend.zoo import sine_float_path

    g = from_tflite(sine_float_path())
    coefs, intercepts = [], []
    for node in g.nodes:
        if node.op != "fully_connected":
            raise ValueError(f"sine: unexpected op {node.op!r}")
        coefs.append(np.asarray(g.values[node.inputs[1]].data, np.float64).T)  # [N,K] -> sklearn's [K,N]
        intercepts.append(np.asarray(g.values[node.inputs[2]].data, np.float64))
    acts = [n.attrs.get("activation") for n in g.nodes]
    if acts != ["relu", "relu", "none"]:
        raise ValueError(f"sine: expected relu, relu, none activations, got {acts}")
    est = MLPRegressor(hidden_layer_sizes=tuple(c.shape[1] for c in coefs[:-1]), activation="relu")
    est.coefs_, est.intercepts_ = coefs, intercepts
    est.n_layers_, est.n_outputs_, est.out_activation_ = len(coefs) + 1, 1, "identity"
    est.n_features_in_ = 1
    return PeerModel("sine", est, "regressor", SINE_INPUTS)


MODELS = {"xor": xor_model, "sine": sine_model}


def emlearn_c(model: PeerModel) -> str:
    """emlearn's C for the model (loadable form), named after it."""
    import contextlib
    import tempfile

    emlearn = _emlearn()

    # convert() also builds a host binary of the model under ./tmp: keep that out of the worktree
    with tempfile.TemporaryDirectory(prefix="peers_emlearn-") as d, contextlib.chdir(d):
        conv = emlearn.convert(model.estimator, method="loadable", return_type=model.return_type)
    return conv.save(name=model.name)


def emitted_arrays(code: str) -> dict[str, np.ndarray]:
    """The float arrays emlearn wrote into ``code`` (its weights and biases, as the device sees them)."""
    out = {}
    for name, body in re.findall(r"static const float (\w+)\[\d+\] = \{([^}]*)\};", code):
        out[name] = np.array([float(v.strip().rstrip("f")) for v in body.split(",") if v.strip()], np.float32)
    return out


def forward_np(model: PeerModel, code: str) -> np.ndarray:
    """float32 forward pass with the emitted weights, in emlearn's order of summation."""
    est = model.estimator
    arrays = emitted_arrays(code)
    acts = [est.activation] * (len(est.coefs_) - 1) + [est.out_activation_]
    h = model.inputs.astype(np.float32)
    for i, (w0, act) in enumerate(zip(est.coefs_, acts)):
        w = arrays[f"{model.name}_layer_{i}_weights"].reshape(w0.shape)
        b = arrays[f"{model.name}_layer_{i}_biases"]
        s = np.zeros((h.shape[0], w.shape[1]), np.float32)
        for k in range(w.shape[0]):  # sum += w * in[i], i ascending, then + bias: as eml_net_forward
            s = (s + w[k][None, :] * h[:, k:k + 1]).astype(np.float32)
        h = (s + b[None, :]).astype(np.float32)
        if act == "relu":
            h = np.maximum(h, np.float32(0))
        elif act == "logistic":
            h = (1.0 / (1.0 + np.exp(-h.astype(np.float64)))).astype(np.float32)
        elif act != "identity":
            raise ValueError(f"{model.name}: activation {act!r} not modelled")
    return h.astype(np.float64)


def _c_floats(a: np.ndarray) -> str:
    return ", ".join(f"{float(np.float32(v))!r}f" for v in a.reshape(-1))


def main_program(model: PeerModel | None, inputs: np.ndarray) -> str:
    """The measuring main: the first input cold and warm, then every input's output bits (and class).

    ``model`` None: the baseline (same inputs and printing, no model; nothing float).
    """
    nb, nf = inputs.shape
    lines = [
        "#include <stdint.h>",
        '#include "isaforge_rt.h"',
        f"static const float inputs[{nb}][{nf}] = {{",
        *[f"    {{{_c_floats(row)}}}," for row in inputs],
        "};",
        "static uint32_t bits(float f) { union { float f; uint32_t u; } b; b.f = f; return b.u; }",
        "static void line(const char *tag, uint32_t a, uint32_t b) {",
        "    isaforge_puts(tag); isaforge_putchar(' '); isaforge_print_uint(a); isaforge_putchar(' ');",
        "    isaforge_print_uint(b); isaforge_putchar('\\n');",
        "}",
    ]
    if model is None:
        call, out, cls = "(int32_t)bits(in[0])", "in[0]", "0"
    else:
        n = model.name
        lines += [
            f"int32_t {n}_predict(const float *features, int32_t n_features);",
            f"float {n}_regress1(const float *features, int32_t n_features);",
        ]
        if model.return_type == "classifier":
            call, out, cls = f"{n}_predict(in, {nf})", f"{n}_regress1(in, {nf})", f"(uint32_t){n}_predict(in, {nf})"
        else:
            call, out, cls = f"(int32_t)bits({n}_regress1(in, {nf}))", f"{n}_regress1(in, {nf})", "0"
    lines += [
        "volatile int32_t sink;",
        "static void once(const float *in, const char *tag) {",
        "    uint32_t c0 = isaforge_mcycle(), i0 = isaforge_minstret();",
        f"    sink = {call};",
        "    uint32_t i1 = isaforge_minstret(), c1 = isaforge_mcycle();",
        "    line(tag, c1 - c0, i1 - i0);",
        "}",
        "int main(void) {",
        "    once(inputs[0], \"cold\");",
        "    once(inputs[0], \"warm\");",
        f"    for (int b = 0; b < {nb}; ++b) once(inputs[b], \"input\");",
        f"    for (int b = 0; b < {nb}; ++b) {{",
        "        const float *in = inputs[b];",
        f"        line(\"out\", bits({out}), {cls});",
        "    }",
        "    return 0;",
        "}",
        "",
    ]
    return "\n".join(lines)


def eml_headers() -> dict[str, str]:
    """The emlearn headers the MLP unit needs, from the installed package."""
    emlearn = _emlearn()

    d = Path(emlearn.__file__).resolve().parent
    return {h: (d / h).read_text() for h in EML_HEADERS}


def peer_program(model: PeerModel, code: str) -> dict[str, str]:
    """The whole program's sources: runtime, emlearn headers + shims, model.c, eml_libm.c, main.c."""
    sources = runtime_sources()
    sources.update(eml_headers())
    sources.update(SHIM_HEADERS)
    sources[MODEL_FILE] = code
    sources[LIBM_FILE] = LIBM_C
    sources[MAIN_FILE] = main_program(model, model.inputs)
    return sources


def baseline_program(inputs: np.ndarray) -> dict[str, str]:
    sources = runtime_sources()
    sources[MAIN_FILE] = main_program(None, inputs)
    return sources


def _kind(section: str) -> str:
    if section.startswith(".text"):
        return "text"
    if section.startswith((".rodata", ".srodata")):
        return "rodata"
    if section.startswith((".bss", ".sbss")):
        return "bss"
    return "data"


def footprint(elf: str | Path, prefix: str) -> dict[str, dict[str, int]]:
    """Bytes by part (emlearn, libm, rt) and kind (text, rodata, data, bss); see the module docstring."""
    from simulator.symbols import sized_symbols

    parts = {p: {"text": 0, "rodata": 0, "data": 0, "bss": 0} for p in ("emlearn", "libm", "rt")}
    libm_globals = {"expf", "logf", "tanhf"}
    seen = set()  # compiler_rt names one routine several times (__ltsf2 = __lesf2 = __cmpsf2): count it once
    for sym in sized_symbols(elf):
        part = None
        if sym.local:
            if sym.file == MODEL_FILE:
                part = "emlearn"
            elif sym.file == LIBM_FILE:
                part = "libm"
            elif sym.file is not None and sym.file not in (MAIN_FILE, "isaforge_rt.c", "crt0.S"):
                part = "rt"
        elif sym.name.startswith(("eml_", prefix + "_")):
            part = "emlearn"
        elif sym.name in libm_globals:
            part = "libm"
        elif sym.name.startswith("__"):
            part = "rt"
        if part and (sym.shndx, sym.address) not in seen:
            seen.add((sym.shndx, sym.address))
            parts[part][_kind(sym.section)] += sym.size
    return parts


def image_bytes(elf: str | Path) -> int:
    """.text + .rodata + .data bytes of the whole program (allocated, loaded sections)."""
    from elftools.elf.elffile import ELFFile

    total = 0
    with open(elf, "rb") as f:
        for s in ELFFile(f).iter_sections():
            if s["sh_flags"] & 2 and s["sh_type"] == "SHT_PROGBITS":  # SHF_ALLOC, loaded from the image
                total += s["sh_size"]
    return total


def parse_console(console: str, nb: int):
    """(cold and warm (cycles, instret), every input's cycles, outputs [nb, 1] float32, classes)."""
    counts, per_input, outs, classes = {}, [], [], []
    for ln in console.splitlines():
        tag, a, b = ln.split()
        if tag == "out":
            outs.append(np.array([int(a)], np.uint32).view(np.float32)[0])
            classes.append(int(b))
        elif tag == "input":
            per_input.append(int(a))
        else:
            counts[tag] = (int(a), int(b))
    if len(outs) != nb or len(per_input) != nb or set(counts) != {"cold", "warm"}:
        raise RuntimeError(f"unexpected console output:\n{console}")
    return counts, per_input, np.array(outs, np.float32)[:, None], np.array(classes)


def run_peer(model: PeerModel) -> PeerRun:
    """Build the emlearn program for ``model``, run it on the SoC and measure it."""
    code = emlearn_c(model)
    elf = compile_rv32(peer_program(model, code))
    run = run_elf(elf)
    if run.exit_code != 0:
        raise RuntimeError(f"{model.name}: exit code {run.exit_code}; console:\n{run.console}")
    counts, per_input, outs, classes = parse_console(run.console, len(model.inputs))
    est = model.estimator
    unrounded = est.predict_proba(model.inputs)[:, 1:] if model.return_type == "classifier" else \
        est.predict(model.inputs).reshape(-1, 1)
    base = compile_rv32(baseline_program(model.inputs))
    return PeerRun(
        name=model.name, cycles=counts["warm"][0], cold_cycles=counts["cold"][0], instret=counts["warm"][1],
        outputs=outs, classes=classes if model.return_type == "classifier" else None,
        reference=forward_np(model, code), model_diff=float(np.max(np.abs(outs - unrounded))),
        inputs=model.inputs, input_cycles=per_input,
        sizes=footprint(elf, model.name), delta=image_bytes(elf) - image_bytes(base), expect=model.expect_classes,
    )


def table(runs: list[PeerRun]) -> str:
    """The results table, a legend and every model's device and numpy outputs."""
    head = (f"{'model':5} {'cycles':>8} {'cold':>8} {'instret':>8} {'per input':>15} {'.text':>6} {'.rodata':>7} "
            f"{'.data':>6} {'libm':>6} {'rt':>6} {'delta':>6}  check")
    rows = [head]
    for r in runs:
        em, lm, rt = r.sizes["emlearn"], r.sizes["libm"], r.sizes["rt"]
        span = f"{min(r.input_cycles):,}-{max(r.input_cycles):,}"
        check = f"max|err| {r.max_err:.1e} (vs unrounded {r.model_diff:.1e})"
        if r.classes is not None:
            check += f", classes {','.join(map(str, r.classes))}"
        check += " ok" if r.ok else " FAIL"
        rows.append(f"{r.name:5} {r.cycles:>8,} {r.cold_cycles:>8,} {r.instret:>8,} {span:>15} {em['text']:>6} "
                    f"{em['rodata']:>7} {em['data'] + em['bss']:>6} {lm['text'] + lm['rodata']:>6} "
                    f"{rt['text'] + rt['rodata']:>6} {r.delta:>6}  {check}")
    rows += [
        "",
        "cycles / instret: warm inference (predict on the first input, second call); per input: each input's",
        "  inference (warm); .text / .rodata / .data(+bss): emlearn's unit (eml_net.h + the model's weights);",
        "  libm: the freestanding expf/logf/tanhf shim (.text+.rodata); rt: zig compiler_rt soft float",
        "  (.text+.rodata); delta: program image (.text+.rodata+.data) minus a model-free baseline's.",
        "",
    ]
    for r in runs:
        rows.append(f"{r.name}: inputs {r.inputs.ravel().round(6).tolist()}")
        rows.append(f"  device {r.outputs.ravel().tolist()}")
        rows.append(f"  numpy  {r.reference.ravel().tolist()}")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="xor,sine")
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    runs = [run_peer(MODELS[n]()) for n in names]
    emlearn = _emlearn()

    text = (f"emlearn {emlearn.__version__} (method=loadable), zig -O2 rv32im, simulated VexRiscv SoC\n"
            f"command: .venv/bin/python benchmarks/peers_emlearn.py --models {','.join(names)}\n\n" + table(runs))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
