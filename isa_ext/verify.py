"""Three-way verification of an extension: verilated RTL vs host C model vs Python reference.

``verify(ext, n=10000, seed=0)`` runs the extension's edge cases followed by ``n`` random ops
(the extension's ``stimulus`` hook, or uniformly random ops and edge-biased operands) from the
reset state through

1. the RTL: ``ext.verilog()`` inside a routing ``Cfu`` top, verilated into a co-simulation
   library (simulator.cfu), driven in one batched ctypes call, with pseudo-random rsp_ready
   back-pressure so the handshake is exercised;
2. the host C model: ``ext.c_source("host")`` plus a small dispatcher compiled with the system ``cc``
   into a cached shared library, also driven in one batched call;
3. the Python reference ``ext.reference`` semantics.

The first disagreement raises :class:`~isa_ext.errors.VerifyError`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isa_ext.errors import ExtensionError, VerifyError
from isa_ext.extension import Extension, describe_fid
from isa_ext.library import edge_or_random
from tir.cache import cache_dir, content_hash

_U32P = ctypes.POINTER(ctypes.c_uint32)
C_FLAGS = ("-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror")


@dataclass
class VerifyReport:
    extension: str
    n_ops: int
    n_edge: int
    op_counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    rtl_cycles: int = 0
    checked: str = "RTL, C model and reference"

    @property
    def total_seconds(self) -> float:
        return sum(self.timings.values())

    def __str__(self) -> str:
        t = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.timings.items())
        return (
            f"verify({self.extension}): {self.n_ops} ops ({self.n_edge} edge cases) agree in {self.checked}; "
            f"{self.rtl_cycles} RTL cycles; {t}"
        )


# ---------------------------------------------------------------- host C model
def host_model_source(ext: Extension) -> str:
    """ext.c_source('host') plus an exported batch dispatcher and reset."""
    lines = [ext.c_source("host"), "#include <stddef.h>", ""]
    lines.append("void isaforge_model_reset(void);")
    lines.append("void isaforge_model_batch(uint64_t n, const uint32_t *fid, const uint32_t *a,")
    lines.append("                          const uint32_t *b, uint32_t *out);")
    lines.append(f"void isaforge_model_reset(void) {{ {ext.prefix}reset(); }}")
    lines += [
        "void isaforge_model_batch(uint64_t n, const uint32_t *fid, const uint32_t *a,",
        "                          const uint32_t *b, uint32_t *out) {",
        "    for (uint64_t i = 0; i < n; ++i) {",
        "        uint32_t r = 0;",
        "        switch (fid[i]) {",
    ]
    for op in ext.ops:
        if op.has_imm:
            for imm in op.funct7_range:
                lines.append(
                    f"        case 0x{op.function_id(imm):03x}u: r = {ext.prefix}{op.name}({imm}u, a[i], b[i]); break;"
                )
        else:
            lines.append(f"        case 0x{op.function_id():03x}u: r = {ext.prefix}{op.name}(a[i], b[i]); break;")
    lines += ["        default: break;", "        }", "        out[i] = r;", "    }", "}", ""]
    return "\n".join(lines)


def _cc_version() -> str:
    try:
        return subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def build_host_model(ext: Extension) -> Path:
    """Compile the host C model of ``ext`` into a cached shared library."""
    src = host_model_source(ext)
    key = content_hash(src, " ".join(C_FLAGS), _cc_version())
    root = cache_dir("isa_ext_cmodel")
    final = root / key
    lib = final / "libmodel.so"
    if lib.exists():
        return lib
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        (tmp / "model.c").write_text(src)
        proc = subprocess.run(
            ["cc", *C_FLAGS, "-o", str(tmp / "libmodel.so"), str(tmp / "model.c")],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise ExtensionError(
                f"extension {ext.name!r}: the host C model does not compile:\n{proc.stderr[-3000:]}"
            )
        try:
            os.rename(tmp, final)
        except OSError:
            if not lib.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return lib
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class HostModel:
    def __init__(self, path: Path):
        lib = ctypes.CDLL(str(path))
        lib.isaforge_model_batch.argtypes = [ctypes.c_uint64, _U32P, _U32P, _U32P, _U32P]
        lib.isaforge_model_batch.restype = None
        lib.isaforge_model_reset.argtypes = []
        lib.isaforge_model_reset.restype = None
        self._lib = lib

    def reset(self) -> None:
        self._lib.isaforge_model_reset()

    def call_batch(self, fids: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.zeros(len(fids), dtype=np.uint32)
        self._lib.isaforge_model_batch(
            len(fids), fids.ctypes.data_as(_U32P), a.ctypes.data_as(_U32P), b.ctypes.data_as(_U32P),
            out.ctypes.data_as(_U32P),
        )
        return out


# ---------------------------------------------------------------- stimulus
def generic_stimulus(ext: Extension, rng: np.random.Generator, n: int) -> list:
    out = []
    for _ in range(n):
        op = ext.ops[int(rng.integers(0, len(ext.ops)))]
        imm = int(rng.choice(op.funct7_range)) if op.has_imm else None
        out.append((op.name, imm, edge_or_random(rng), edge_or_random(rng)))
    return out


def make_stream(ext: Extension, n: int, seed: int) -> tuple[list, int]:
    rng = np.random.default_rng(seed)
    edge = list(ext.edge_cases)
    rand = ext.stimulus(rng, n) if ext.stimulus is not None else generic_stimulus(ext, rng, n)
    return edge + list(rand), len(edge)


def _fmt_state(st: dict) -> str:
    if not st:
        return "{}"
    parts = []
    for k, v in st.items():
        arr = np.asarray(v)
        if arr.ndim == 0:
            parts.append(f"{k}={int(arr)}")
        else:
            parts.append(f"{k}=[" + ", ".join(str(int(x)) for x in arr.ravel()) + "]")
    return "{" + "; ".join(parts) + "}"


# ---------------------------------------------------------------- verify
_COSIM_CACHE: dict[Path, object] = {}
_MODEL_CACHE: dict[Path, HostModel] = {}


def verify(ext: Extension | str, n: int = 10000, seed: int = 0, backpressure: bool = True) -> VerifyReport:
    """Check RTL, host C model and reference agree bit for bit; raise VerifyError otherwise."""
    from isa_ext.registry import get
    from simulator.cfu import CfuCosim, build_cfu_cosim, combine_cfu

    if isinstance(ext, str):
        ext = get(ext)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    stream, n_edge = make_stream(ext, n, seed)
    fids = np.empty(len(stream), dtype=np.uint32)
    a = np.empty(len(stream), dtype=np.uint32)
    b = np.empty(len(stream), dtype=np.uint32)
    ops = []
    for i, (name, imm, x, y) in enumerate(stream):
        op = ext.op(name)
        fids[i] = op.function_id(imm)
        a[i] = int(x) & 0xFFFFFFFF
        b[i] = int(y) & 0xFFFFFFFF
        ops.append((op, imm))
    timings["stimulus"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    verilog = combine_cfu([(ext.module_name, ext.verilog(), ext.function_ids)])
    so = build_cfu_cosim(verilog)
    timings["rtl_build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model_so = build_host_model(ext)
    timings["c_build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cosim = _COSIM_CACHE.get(so) or _COSIM_CACHE.setdefault(so, CfuCosim(so))
    cosim.reset()
    cosim.set_backpressure((seed * 2654435761 + 12345) & 0xFFFFFFFF or 1 if backpressure else 0)
    c0 = cosim.cycles
    rtl = cosim.call_batch(fids, a, b)
    cycles = cosim.cycles - c0
    cosim.set_backpressure(0)
    timings["rtl_run"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = _MODEL_CACHE.get(model_so) or _MODEL_CACHE.setdefault(model_so, HostModel(model_so))
    model.reset()
    cm = model.call_batch(fids, a, b)
    timings["c_run"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    st = ext.initial_state()
    ref = np.empty(len(stream), dtype=np.uint32)
    al, bl = a.tolist(), b.tolist()
    step = ext._step
    for i, (op, imm) in enumerate(ops):
        ref[i] = step(op, al[i], bl[i], imm, st)
    timings["ref_run"] = time.perf_counter() - t0

    bad = np.nonzero((rtl != ref) | (cm != ref))[0]
    if len(bad):
        i = int(bad[0])
        st = ext.initial_state()
        for j in range(i):
            step(ops[j][0], al[j], bl[j], ops[j][1], st)
        op, imm = ops[i]
        where = "edge case" if i < n_edge else "random op"
        imm_txt = f" imm={imm}" if imm is not None else ""
        culprit = []
        if rtl[i] != ref[i]:
            culprit.append("RTL")
        if cm[i] != ref[i]:
            culprit.append("C model")
        msg = (
            f"verify({ext.name}): {' and '.join(culprit)} disagree(s) with the reference at {where} #{i} of "
            f"{len(stream)}: op {op.name}{imm_txt} (function {ext.prefix}{op.name}, function_id "
            f"{describe_fid(int(fids[i]))}), rs1=0x{int(a[i]):08x}, rs2=0x{int(b[i]):08x}, "
            f"state before {_fmt_state(st)}: RTL=0x{int(rtl[i]):08x}, C model=0x{int(cm[i]):08x}, "
            f"reference=0x{int(ref[i]):08x}"
        )
        raise VerifyError(
            msg, extension=ext.name, op=op.name, imm=imm, function_id=int(fids[i]), rs1=int(a[i]),
            rs2=int(b[i]), state_before=st, rtl=int(rtl[i]), c_model=int(cm[i]), reference=int(ref[i]), index=i,
        )
    counts: dict[str, int] = {}
    for op, _ in ops:
        counts[op.name] = counts.get(op.name, 0) + 1
    return VerifyReport(ext.name, len(stream), n_edge, counts, timings, cycles)


def verify_set(exts, n: int = 5000, seed: int = 0, unknown_fraction: float = 0.02) -> VerifyReport:
    """Co-simulate the combined ``Cfu`` of several extensions against their references.

    The extensions' op streams are randomly interleaved (each extension keeps its own state) and a
    few function ids no extension owns are mixed in: those must answer 0. Checks routing and the
    handshake of the top module; raises VerifyError on the first disagreement.
    """
    from isa_ext.extset import ExtensionSet
    from simulator.cfu import CfuCosim

    es = exts if isinstance(exts, ExtensionSet) else ExtensionSet(exts)
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    streams = []
    for k, ext in enumerate(es.extensions):
        s, _ = make_stream(ext, n // len(es.extensions), seed + 17 * k)
        streams.append(s)
    free = sorted(set(range(1024)) - set(es.function_ids))
    order = np.concatenate([np.full(len(s), k) for k, s in enumerate(streams)])
    rng.shuffle(order)  # interleave, keeping each extension's own order
    pos = [0] * len(streams)
    items = []  # (ext or None, op, imm, fid, a, b)
    for k in order.tolist():
        if free and rng.random() < unknown_fraction:
            items.append((None, None, None, int(rng.choice(free)), edge_or_random(rng), edge_or_random(rng)))
        ext = es.extensions[k]
        name, imm, x, y = streams[k][pos[k]]
        pos[k] += 1
        op = ext.op(name)
        items.append((ext, op, imm, op.function_id(imm), int(x) & 0xFFFFFFFF, int(y) & 0xFFFFFFFF))
    fids = np.array([it[3] for it in items], dtype=np.uint32)
    a = np.array([it[4] for it in items], dtype=np.uint32)
    b = np.array([it[5] for it in items], dtype=np.uint32)
    timings["stimulus"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    so = es.cosim_library()
    timings["rtl_build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cosim = _COSIM_CACHE.get(so) or _COSIM_CACHE.setdefault(so, CfuCosim(so))
    cosim.reset()
    cosim.set_backpressure((seed * 2654435761 + 99) & 0xFFFFFFFF or 1)
    c0 = cosim.cycles
    rtl = cosim.call_batch(fids, a, b)
    cycles = cosim.cycles - c0
    cosim.set_backpressure(0)
    timings["rtl_run"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    states = {e.name: e.initial_state() for e in es.extensions}
    counts: dict[str, int] = {}
    for i, (ext, op, imm, fid, x, y) in enumerate(items):
        st_before = None
        if ext is None:
            ref = 0
            label = "unknown function id"
        else:
            st_before = {k: np.array(v, copy=True) for k, v in states[ext.name].items()} if rtl[i] else None
            ref = ext._step(op, x, y, imm, states[ext.name])
            label = f"{ext.name}.{op.name}" + (f" imm={imm}" if imm is not None else "")
        counts[label.split(" ")[0]] = counts.get(label.split(" ")[0], 0) + 1
        if int(rtl[i]) != ref:
            if ext is not None:  # recompute the state before for the message
                st_before = ext.initial_state()
                for j in range(i):
                    e2, o2, i2, _, x2, y2 = items[j]
                    if e2 is ext:
                        ext._step(o2, x2, y2, i2, st_before)
            raise VerifyError(
                f"verify_set({[e.name for e in es.extensions]}): the combined Cfu disagrees with the reference "
                f"at #{i}: {label} (function_id {describe_fid(fid)}), rs1=0x{x:08x}, rs2=0x{y:08x}, state before "
                f"{_fmt_state(st_before or {})}: RTL=0x{int(rtl[i]):08x}, reference=0x{ref:08x}",
                extension=ext.name if ext else None, op=op.name if op else None, imm=imm, function_id=fid,
                rs1=x, rs2=y, state_before=st_before, rtl=int(rtl[i]), c_model=None, reference=ref, index=i,
            )
    timings["ref_run"] = time.perf_counter() - t0
    return VerifyReport(
        "+".join(e.name for e in es.extensions), len(items), 0, counts, timings, cycles,
        checked="the combined Cfu (RTL) and the references",
    )
