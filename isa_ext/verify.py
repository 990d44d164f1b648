"""Three-way verification of an extension: verilated RTL vs host C model vs Python reference.

``verify(ext, n=10000, seed=0)`` runs, from the reset state, one op stream made of

* the extension's ``edge_cases``;
* the exhaustive lane-pair sweeps (``exhaustive=True``, the default) of every op whose operands
  are packed 8- or 16-bit lanes (see :class:`LaneSweep`):

  - 8-bit lanes: every (a, b) byte pair, all 65,536 of them, in every lane position;
  - 16-bit lanes (2**32 pairs is too many): a structured set of 264,545 pairs -- every (x, y) byte
    pair at each of the four byte-position combinations (x in the low or high byte of a, y in the
    low or high byte of b), the other byte of each operand cycling through ``EDGE_BYTES`` (so every
    16-bit value with one byte free and the other an edge byte occurs in both operands), plus every
    pair of the 49 values made only of edge bytes -- again in every lane position;

  lanes of one op carry different pairs, with different a and different b values (lane i is the
  pair list rotated by i * (len / lanes + len / lanes / 256)), so a bug confined to one lane and one
  pair is hit by exactly one op, and a lane mix-up cannot hide behind equal lanes;
* ``n`` random ops (the extension's ``stimulus`` hook, or uniformly random ops and edge-biased
  operands),

through

1. the RTL: ``ext.verilog()`` inside a routing ``Cfu`` top, verilated into a co-simulation
   library (isa_ext.cfu), driven in one batched ctypes call for the whole stream, with
   pseudo-random rsp_ready back-pressure so the handshake is exercised;
2. the host C model: ``ext.c_source("host")`` plus a small dispatcher compiled with the system ``cc``
   into a cached shared library, also driven in one batched call;
3. the Python reference ``ext.reference`` semantics (one Python call per op: the cost that bounds
   the sweep sizes).

Which ops are swept comes from the extension: an explicit ``Extension.lane_sweeps`` declaration, or
else the lane op of a ``dot`` / ``mac_tile`` tensor intrinsic (its ``lanes`` and ``in_dtype``); other
ops are covered by the edge cases and the random stream only. :attr:`VerifyReport.coverage` says which
is which.

The first disagreement raises :class:`~isa_ext.errors.VerifyError`, and so does any exception of a
reference model, the C model or the RTL path (chained with ``from``): its message names the
extension, the op and the operands. An exception that was already a TirError keeps its class too
(a hung unit still raises a :class:`isa_ext.errors.CfuError`, which is then also a VerifyError).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isa_ext.errors import ExtensionError, VerifyError
from isa_ext.extension import DTYPES, Extension, Op, describe_fid
from isa_ext.library import EDGE_BYTES, edge_or_random
from tir.errors import TirError
from toolchain.cache import cache_dir, content_hash, publish_dir

_U32P = ctypes.POINTER(ctypes.c_uint32)
C_FLAGS = ("-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror")


@dataclass
class VerifyReport:
    """What :func:`verify` checked.

    ``n_ops`` ops in all: ``n_edge`` edge cases, then ``n_exhaustive`` ops of the lane-pair sweeps,
    then the random ops. ``coverage`` maps every op name to how its operands were covered: a sentence
    starting "exhaustive:" for a swept op, "random only" otherwise.
    """

    extension: str
    n_ops: int
    n_edge: int
    op_counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    rtl_cycles: int = 0
    checked: str = "RTL, C model and reference"
    n_exhaustive: int = 0
    coverage: dict[str, str] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.timings.values())

    @property
    def exhaustive_ops(self) -> list[str]:
        """Names of the ops whose lane pairs were swept."""
        return [k for k, v in self.coverage.items() if v.startswith("exhaustive")]

    def __str__(self) -> str:
        t = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.timings.items())
        cov = "; ".join(f"{k}: {v}" for k, v in self.coverage.items())
        return (
            f"verify({self.extension}): {self.n_ops} ops ({self.n_edge} edge cases, {self.n_exhaustive} in lane-pair "
            f"sweeps) agree in {self.checked}; {self.rtl_cycles} RTL cycles; {t}"
            + (f"; coverage: {cov}" if cov else "")
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
        publish_dir(tmp, final, lib)
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


# ---------------------------------------------------------------- errors
_WRAPPED: dict[type, type] = {}


def _error_class(cause: BaseException) -> type:
    """VerifyError, or a VerifyError that is also the class of ``cause`` when that was a TirError
    (so ``except CfuError`` around verify keeps working)."""
    base = type(cause)
    if isinstance(cause, VerifyError) or not isinstance(cause, TirError):
        return VerifyError
    cls = _WRAPPED.get(base)
    if cls is None:
        cls = type(f"Verify{base.__name__}", (VerifyError, base), {
            "__module__": __name__, "__doc__": f"A {base.__name__} raised while verifying an extension.",
        })
        try:
            cls("probe")
        except TypeError:  # the base needs other constructor arguments
            cls = VerifyError
        _WRAPPED[base] = cls
    return cls


def _failure(cause: BaseException, message: str, **info) -> VerifyError:
    """The VerifyError to raise ``from cause``."""
    info.setdefault("cause", cause)
    return _error_class(cause)(f"{message}: {type(cause).__name__}: {cause}", **info)


# ---------------------------------------------------------------- lane-pair sweeps
Item = tuple[str, "int | None", int, int]  # (op name, imm or None, rs1, rs2)


@dataclass(frozen=True)
class LaneSweep:
    """Declares that op ``op`` takes packed lanes, so :func:`verify` covers every lane pair of it.

    ``lane_bits`` is 8 or 16; ``lanes`` (default ``32 // lane_bits``) lanes per operand, lane i in bits
    [i * lane_bits, (i + 1) * lane_bits) of rs1 and of rs2; unused high bits are 0. ``imms``: the
    immediates the swept op cycles through (default: the whole funct7 range of an immediate op).

    For a stateful op the pairs go through the op sequence the unit needs: ``setup`` items
    ``(op, imm, rs1, rs2)`` run once before the sweep (e.g. configure the unit), ``before`` and
    ``after`` items around every swept op -- e.g. reset a saturating accumulator, so that saturation
    cannot mask a wrong product, or probe ops that make the effect of a set-up op visible. In them an
    immediate op given imm None takes the swept op's immediate. The reference state is carried
    through the whole stream as for any other op.
    """

    op: str
    lane_bits: int
    lanes: int | None = None
    imms: tuple[int, ...] | None = None
    setup: tuple[Item, ...] = ()
    before: tuple[Item, ...] = ()
    after: tuple[Item, ...] = ()

    @property
    def n_lanes(self) -> int:
        return self.lanes if self.lanes is not None else 32 // self.lane_bits


def lane_pairs(lane_bits: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The (a, b) lane-value pairs a sweep covers (uint64 arrays) and a sentence saying which.

    8 bits: all 65,536 pairs. 16 bits: every byte pair (x, y) at each of the four byte-position
    combinations, the other byte of a and of b drawn from EDGE_BYTES so that each of the 7 edge bytes
    occurs with every (x, position) -- then every 16-bit value with one byte free and the other an
    edge byte appears in a and in b -- plus all pairs of the 49 values made only of edge bytes.
    """
    if lane_bits == 8:
        p = np.arange(1 << 16, dtype=np.uint64)
        return p >> np.uint64(8), p & np.uint64(0xFF), "every 8-bit pair (65536)"
    if lane_bits != 16:
        raise ExtensionError(f"lane sweeps exist for 8- and 16-bit lanes, not {lane_bits}-bit ones")
    e = np.array(EDGE_BYTES, dtype=np.uint64)
    ne = len(EDGE_BYTES)
    x = np.repeat(np.arange(256, dtype=np.uint64), 256)
    y = np.tile(np.arange(256, dtype=np.uint64), 256)
    a_parts, b_parts = [], []
    for i in (0, 1):  # byte of a holding x
        for j in (0, 1):  # byte of b holding y
            ea = e[(y + np.uint64(2 * j + i)) % np.uint64(ne)]
            eb = e[(x + np.uint64(2 * i + j + 3)) % np.uint64(ne)]
            a_parts.append((x << np.uint64(8 * i)) | (ea << np.uint64(8 * (1 - i))))
            b_parts.append((y << np.uint64(8 * j)) | (eb << np.uint64(8 * (1 - j))))
    edge16 = (e[:, None] | (e[None, :] << np.uint64(8))).ravel()
    a_parts.append(np.repeat(edge16, len(edge16)))
    b_parts.append(np.tile(edge16, len(edge16)))
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    return a, b, (
        f"structured 16-bit pairs ({len(a)}: every byte pair at every byte position of a and b with the other "
        f"bytes edge bytes, and every pair of the {len(edge16)} all-edge-byte values)"
    )


def lane_sweeps(ext: Extension) -> list[LaneSweep]:
    """The sweeps :func:`verify` runs for ``ext``: its ``lane_sweeps`` declarations, plus the lane op of
    each tensor intrinsic's ``lane_ops`` that no declaration covers. Checked; ExtensionError otherwise."""
    where = f"extension {ext.name!r}"
    out: dict[str, LaneSweep] = {}
    for sw in ext.lane_sweeps:
        if not isinstance(sw, LaneSweep):
            raise ExtensionError(f"{where}: lane_sweeps must hold isa_ext.LaneSweep objects, got {sw!r}")
        out[sw.op] = sw
    by_c_name = {ext.c_name(op.name): op.name for op in ext.ops}
    for intr in ext.intrinsics:
        for key in getattr(intr, "lane_ops", ()):
            iop = getattr(intr, "ops", {}).get(key)
            name = by_c_name.get(getattr(iop, "c_name", None))
            dtype = DTYPES.get(getattr(intr, "in_dtype", None))
            if name is None or dtype is None or name in out or dtype[0] not in (8, 16):
                continue
            out[name] = LaneSweep(name, dtype[0], min(int(intr.lanes), 32 // dtype[0]))  # lanes per operand word
    for sw in out.values():
        op = ext.op(sw.op)
        w = f"{where}: LaneSweep of op {sw.op!r}"
        if sw.lane_bits not in (8, 16):
            raise ExtensionError(f"{w}: lane_bits must be 8 or 16, got {sw.lane_bits}")
        if not (1 <= sw.n_lanes <= 32 // sw.lane_bits):
            raise ExtensionError(f"{w}: {sw.n_lanes} lanes of {sw.lane_bits} bits do not fit a 32-bit operand")
        if sw.imms is not None and not op.has_imm:
            raise ExtensionError(f"{w}: imms given for an op with a fixed funct7")
        for imm in sw.imms or ():
            try:
                op.function_id(imm)
            except ExtensionError as e:
                raise ExtensionError(f"{w}: {e}") from e
        for item in sw.setup:
            _check_item(ext, item, w, allow_same_imm=False)
        for item in (*sw.before, *sw.after):
            _check_item(ext, item, w, allow_same_imm=True)
    return list(out.values())


def _check_item(ext: Extension, item, where: str, allow_same_imm: bool) -> None:
    try:
        name, imm, _, _ = item
        op = ext.op(name)
        if not (allow_same_imm and op.has_imm and imm is None):
            op.function_id(imm)
    except (TypeError, ValueError, ExtensionError) as e:
        raise ExtensionError(f"{where}: bad op item {item!r} (want (op name, imm, rs1, rs2)): {e}") from e


class _Stream:
    """The op stream of one verify run: arrays for the batched runs, (Op, imm) per op for the reference,
    and labelled segments for the messages."""

    def __init__(self, ext: Extension):
        self.ext = ext
        self._fids: list[np.ndarray] = []
        self._a: list[np.ndarray] = []
        self._b: list[np.ndarray] = []
        self.ops: list[tuple[Op, int | None]] = []
        # (start, stop, label, sweep or None, kind "edge" | "sweep" | "random")
        self.segments: list[tuple[int, int, str, LaneSweep | None, str]] = []
        self.coverage: dict[str, str] = {}

    def add_items(self, items: Sequence, label: str, kind: str) -> None:
        """Append (op name, imm, rs1, rs2) items (edge cases or random ops)."""
        ext, n0 = self.ext, len(self.ops)
        fids = np.empty(len(items), dtype=np.uint32)
        a = np.empty(len(items), dtype=np.uint32)
        b = np.empty(len(items), dtype=np.uint32)
        for i, item in enumerate(items):
            try:
                name, imm, x, y = item
                op = ext.op(name)
                fids[i] = op.function_id(imm)
                a[i] = int(x) & 0xFFFFFFFF
                b[i] = int(y) & 0xFFFFFFFF
            except Exception as e:
                raise _failure(
                    e, f"verify({ext.name}): {label} #{i} is not a valid (op name, imm, rs1, rs2) item of "
                    f"extension {ext.name!r}: {item!r}", extension=ext.name, op=None, index=n0 + i,
                ) from e
            self.ops.append((op, imm))
        self._push(fids, a, b, label, None, kind)

    def add_sweep(self, sw: LaneSweep) -> None:
        """Append the lane-pair sweep of one op (with its setup / before / after items)."""
        ext = self.ext
        op = ext.op(sw.op)
        if sw.setup:
            self.add_items(sw.setup, f"set-up of the lane-pair sweep of {sw.op}", "sweep")
        pa, pb, what = lane_pairs(sw.lane_bits)
        n_pairs, lanes, bits = len(pa), sw.n_lanes, sw.lane_bits
        t = np.arange(n_pairs, dtype=np.int64)
        rs1 = np.zeros(n_pairs, dtype=np.uint64)
        rs2 = np.zeros(n_pairs, dtype=np.uint64)
        step = n_pairs // lanes + max(1, n_pairs // lanes // 256)
        for lane in range(lanes):
            # lane i sees every pair once; at one op the lanes hold different pairs, different in a
            # and in b (8 bits: rotations by 0x4040, so no lane mix-up can hide behind equal lanes)
            idx = (t + lane * step) % n_pairs
            rs1 |= pa[idx] << np.uint64(lane * bits)
            rs2 |= pb[idx] << np.uint64(lane * bits)
        imms = list(sw.imms) if sw.imms else (list(op.immediates()) or [None])
        k = t % len(imms)
        # one block per pair: before..., the swept op, after...; columns of (fids, rs1, rs2)
        cols: list[tuple[Op, list[int | None], np.ndarray | int, np.ndarray | int]] = []
        for name, imm, x, y in sw.before:
            o = ext.op(name)
            cols.append((o, [i_ if (o.has_imm and imm is None) else imm for i_ in imms], int(x), int(y)))
        cols.append((op, imms, rs1, rs2))
        for name, imm, x, y in sw.after:
            o = ext.op(name)
            cols.append((o, [i_ if (o.has_imm and imm is None) else imm for i_ in imms], int(x), int(y)))
        m = len(cols)
        fids = np.empty((n_pairs, m), dtype=np.uint32)
        a = np.empty((n_pairs, m), dtype=np.uint32)
        b = np.empty((n_pairs, m), dtype=np.uint32)
        blocks: list[list[tuple[Op, int | None]]] = [[] for _ in imms]
        for c, (o, col_imms, x, y) in enumerate(cols):
            fids[:, c] = np.array([o.function_id(i_) for i_ in col_imms], dtype=np.uint32)[k]
            a[:, c] = np.asarray(x, dtype=np.uint64) & np.uint64(0xFFFFFFFF)
            b[:, c] = np.asarray(y, dtype=np.uint64) & np.uint64(0xFFFFFFFF)
            for j, i_ in enumerate(col_imms):
                blocks[j].append((o, i_))
        nb = len(blocks)
        self.ops.extend(pair for p in range(n_pairs) for pair in blocks[p % nb])
        self._push(fids.ravel(), a.ravel(), b.ravel(), f"lane-pair sweep of {sw.op}", sw, "sweep")
        seq = "" if m == 1 else f", each in the sequence {[o.name for o, *_ in cols]}"
        self.coverage[sw.op] = f"exhaustive: {what} in each of {lanes} {bits}-bit lane(s){seq}"

    def count(self, kind: str) -> int:
        return sum(stop - start for start, stop, _, _, k in self.segments if k == kind)

    def _push(self, fids, a, b, label, sw, kind) -> None:
        n0 = sum(len(f) for f in self._fids)
        self._fids.append(fids)
        self._a.append(a)
        self._b.append(b)
        self.segments.append((n0, n0 + len(fids), label, sw, kind))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def cat(parts):
            return np.concatenate(parts).astype(np.uint32) if parts else np.empty(0, dtype=np.uint32)

        return cat(self._fids), cat(self._a), cat(self._b)

    def where(self, i: int, rs1: int, rs2: int) -> str:
        """'lane-pair sweep of dot #17 (lanes a/b: 0:0x5a/0xa5, ...)' for stream index i."""
        for start, stop, label, sw, _ in self.segments:
            if start <= i < stop:
                txt = f"{label} #{i - start}"
                if sw is not None and self.ops[i][0].name == sw.op:
                    mask = (1 << sw.lane_bits) - 1
                    w = sw.lane_bits // 4
                    lanes = ", ".join(
                        f"{n}:0x{(rs1 >> (n * sw.lane_bits)) & mask:0{w}x}/0x{(rs2 >> (n * sw.lane_bits)) & mask:0{w}x}"
                        for n in range(sw.n_lanes)
                    )
                    txt += f" (lanes a/b: {lanes})"
                return txt
        return f"#{i}"


# ---------------------------------------------------------------- stimulus
def generic_stimulus(ext: Extension, rng: np.random.Generator, n: int) -> list:
    out = []
    for _ in range(n):
        op = ext.ops[int(rng.integers(0, len(ext.ops)))]
        imm = int(rng.choice(op.funct7_range)) if op.has_imm else None
        out.append((op.name, imm, edge_or_random(rng), edge_or_random(rng)))
    return out


def _random_items(ext: Extension, n: int, rng: np.random.Generator) -> list:
    if ext.stimulus is None:
        return generic_stimulus(ext, rng, n)
    try:
        return list(ext.stimulus(rng, n))
    except Exception as e:
        raise _failure(e, f"verify({ext.name}): the stimulus hook of extension {ext.name!r} raised",
                       extension=ext.name, op=None) from e


def make_stream(ext: Extension, n: int, seed: int) -> tuple[list, int]:
    """Edge cases plus ``n`` random ops as (op name, imm, rs1, rs2) items, and the edge-case count."""
    rng = np.random.default_rng(seed)
    edge = list(ext.edge_cases)
    return edge + _random_items(ext, n, rng), len(edge)


def build_stream(ext: Extension, n: int, seed: int, exhaustive: bool = True) -> _Stream:
    """The op stream :func:`verify` runs: edge cases, lane-pair sweeps (if ``exhaustive``), random ops."""
    st = _Stream(ext)
    st.add_items(list(ext.edge_cases), "edge case", "edge")
    if exhaustive:
        for sw in lane_sweeps(ext):
            st.add_sweep(sw)
    st.add_items(_random_items(ext, n, np.random.default_rng(seed)), "random op", "random")
    for op in ext.ops:
        st.coverage.setdefault(op.name, "random only")
    return st


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


def _describe_op(ext: Extension, op: Op, imm: int | None, fid: int, rs1: int, rs2: int) -> str:
    imm_txt = f" imm={imm}" if imm is not None else ""
    return (
        f"op {op.name}{imm_txt} (function {ext.prefix}{op.name}, function_id {describe_fid(fid)}), "
        f"rs1=0x{rs1:08x}, rs2=0x{rs2:08x}"
    )


def _replay(ext: Extension, ops: list, al: list, bl: list, stop: int) -> dict:
    """The reference state before op ``stop`` of a stream whose first ``stop`` ops ran cleanly."""
    st = ext.initial_state()
    step = ext._step
    for j in range(stop):
        step(ops[j][0], al[j], bl[j], ops[j][1], st)
    return st


def run_reference(
    ext: Extension, ops: list, a: np.ndarray, b: np.ndarray, where=None, expect: Sequence[np.ndarray] = (),
    chunk: int = 8192,
) -> np.ndarray:
    """rd of every op by the Python reference, from the reset state. An exception of the reference
    becomes a VerifyError naming the extension, the op, its operands and the state before it.

    With ``expect`` (arrays of other models' results), stops after the first chunk of ``chunk`` ops in
    which one of them disagrees: the returned prefix then holds the first disagreement.
    """
    st = ext.initial_state()
    al, bl = a.tolist(), b.tolist()
    step = ext._step
    n = len(ops)
    out = np.empty(n, dtype=np.uint32)
    i = 0
    try:
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            part = [0] * (hi - lo)
            for i in range(lo, hi):
                op, imm = ops[i]
                part[i - lo] = step(op, al[i], bl[i], imm, st)
            out[lo:hi] = part
            if any((e[lo:hi] != out[lo:hi]).any() for e in expect):
                return out[:hi]
    except Exception as e:
        op, imm = ops[i]
        before = _replay(ext, ops, al, bl, i)
        pos = where(i, al[i], bl[i]) if where else f"#{i}"
        raise _failure(
            e, f"verify({ext.name}): the reference semantics of {ext.name}.{op.name} raised at {pos} of {n}: "
            f"{_describe_op(ext, op, imm, op.function_id(imm), al[i], bl[i])}, state before {_fmt_state(before)}",
            extension=ext.name, op=op.name, imm=imm, function_id=op.function_id(imm), rs1=al[i], rs2=bl[i],
            state_before=before, index=i,
        ) from e
    return out


def _call_batch(cosim, fids, a, b, bp_seed: int):
    """One batched stream through the verilated unit, from reset, under random back-pressure:
    (its results, the cycles it took)."""
    cosim.reset()
    cosim.set_backpressure(bp_seed)
    c0 = cosim.cycles
    rtl = cosim.call_batch(fids, a, b)
    cycles = cosim.cycles - c0
    cosim.set_backpressure(0)
    return rtl, cycles


def _find_hang(cosim, fids: np.ndarray, a: np.ndarray, b: np.ndarray, bp_seed: int) -> int | None:
    """Index of the first op the RTL gives no response to, replaying the stream one call at a time."""
    from isa_ext.errors import CfuError

    cosim.reset()
    cosim.set_backpressure(bp_seed)
    try:
        for i, (f, x, y) in enumerate(zip(fids.tolist(), a.tolist(), b.tolist())):
            try:
                cosim.call(f, x, y)
            except CfuError:
                return i
        return None
    finally:
        cosim.reset()
        cosim.set_backpressure(0)


# ---------------------------------------------------------------- verify
_COSIM_CACHE: dict[Path, object] = {}
_MODEL_CACHE: dict[Path, HostModel] = {}


def verify(
    ext: Extension | str, n: int = 10000, seed: int = 0, backpressure: bool = True, exhaustive: bool = True,
) -> VerifyReport:
    """Check RTL, host C model and reference agree bit for bit on edge cases, the lane-pair sweeps
    (``exhaustive``) and ``n`` random ops; raise VerifyError otherwise (see the module docstring)."""
    from isa_ext.cfu import CfuCosim, build_cfu_cosim, combine_cfu
    from isa_ext.registry import get

    if isinstance(ext, str):
        ext = get(ext)
    name = ext.name
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    stream = build_stream(ext, n, seed, exhaustive)
    fids, a, b = stream.arrays()
    ops = stream.ops
    n_edge, n_sweep = stream.count("edge"), stream.count("sweep")
    timings["stimulus"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        verilog = combine_cfu([(ext.module_name, ext.verilog(), ext.function_ids)])
        so = build_cfu_cosim(verilog)
    except Exception as e:
        raise _failure(e, f"verify({name}): building the RTL of extension {name!r} failed", extension=name) from e
    timings["rtl_build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        model_so = build_host_model(ext)
    except Exception as e:
        raise _failure(e, f"verify({name}): building the host C model of extension {name!r} failed",
                       extension=name) from e
    timings["c_build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bp_seed = ((seed * 2654435761 + 12345) & 0xFFFFFFFF or 1) if backpressure else 0
    try:
        cosim = _COSIM_CACHE.get(so) or _COSIM_CACHE.setdefault(so, CfuCosim(so))
    except Exception as e:
        raise _failure(e, f"verify({name}): loading the RTL co-simulation library {so} failed", extension=name) from e
    try:
        rtl, cycles = _call_batch(cosim, fids, a, b, bp_seed)
    except Exception as e:
        i = _find_hang(cosim, fids, a, b, bp_seed)
        if i is None:
            raise _failure(e, f"verify({name}): the RTL co-simulation of {len(ops)} ops failed", extension=name) from e
        op, imm = ops[i]
        raise _failure(
            e, f"verify({name}): the RTL failed at {stream.where(i, int(a[i]), int(b[i]))} of {len(ops)}: "
            f"{_describe_op(ext, op, imm, int(fids[i]), int(a[i]), int(b[i]))}",
            extension=name, op=op.name, imm=imm, function_id=int(fids[i]), rs1=int(a[i]), rs2=int(b[i]), index=i,
        ) from e
    timings["rtl_run"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        model = _MODEL_CACHE.get(model_so) or _MODEL_CACHE.setdefault(model_so, HostModel(model_so))
        model.reset()
        cm = model.call_batch(fids, a, b)
    except Exception as e:
        raise _failure(e, f"verify({name}): running the host C model on {len(ops)} ops failed", extension=name) from e
    timings["c_run"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref = run_reference(ext, ops, a, b, stream.where, expect=(rtl, cm))
    timings["ref_run"] = time.perf_counter() - t0

    m = len(ref)
    bad = np.nonzero((rtl[:m] != ref) | (cm[:m] != ref))[0]
    if len(bad):
        i = int(bad[0])
        st = _replay(ext, ops, a.tolist(), b.tolist(), i)
        op, imm = ops[i]
        culprit = []
        if rtl[i] != ref[i]:
            culprit.append("RTL")
        if cm[i] != ref[i]:
            culprit.append("C model")
        msg = (
            f"verify({name}): {' and '.join(culprit)} disagree(s) with the reference at "
            f"{stream.where(i, int(a[i]), int(b[i]))} (stream #{i} of {len(ops)}): "
            f"{_describe_op(ext, op, imm, int(fids[i]), int(a[i]), int(b[i]))}, "
            f"state before {_fmt_state(st)}: RTL=0x{int(rtl[i]):08x}, C model=0x{int(cm[i]):08x}, "
            f"reference=0x{int(ref[i]):08x}"
        )
        raise VerifyError(
            msg, extension=name, op=op.name, imm=imm, function_id=int(fids[i]), rs1=int(a[i]),
            rs2=int(b[i]), state_before=st, rtl=int(rtl[i]), c_model=int(cm[i]), reference=int(ref[i]), index=i,
        )
    counts: dict[str, int] = {}
    for op, _ in ops:
        counts[op.name] = counts.get(op.name, 0) + 1
    return VerifyReport(name, len(ops), n_edge, counts, timings, cycles, n_exhaustive=n_sweep,
                        coverage=dict(stream.coverage))


def verify_set(exts, n: int = 5000, seed: int = 0, unknown_fraction: float = 0.02) -> VerifyReport:
    """Co-simulate the combined ``Cfu`` of several extensions against their references.

    The extensions' op streams are randomly interleaved (each extension keeps its own state) and a
    few function ids no extension owns are mixed in: those must answer 0. Checks routing and the
    handshake of the top module; raises VerifyError on the first disagreement.
    """
    from isa_ext.cfu import CfuCosim
    from isa_ext.extset import ExtensionSet

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
        item = streams[k][pos[k]]
        pos[k] += 1
        try:
            name, imm, x, y = item
            op = ext.op(name)
            items.append((ext, op, imm, op.function_id(imm), int(x) & 0xFFFFFFFF, int(y) & 0xFFFFFFFF))
        except Exception as e:
            raise _failure(e, f"verify_set: stimulus item {item!r} of extension {ext.name!r} is not a valid "
                           "(op name, imm, rs1, rs2) item", extension=ext.name, op=None) from e
    fids = np.array([it[3] for it in items], dtype=np.uint32)
    a = np.array([it[4] for it in items], dtype=np.uint32)
    b = np.array([it[5] for it in items], dtype=np.uint32)
    timings["stimulus"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    so = es.cosim_library()
    timings["rtl_build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cosim = _COSIM_CACHE.get(so) or _COSIM_CACHE.setdefault(so, CfuCosim(so))
    bp_seed = (seed * 2654435761 + 99) & 0xFFFFFFFF or 1
    try:
        rtl, cycles = _call_batch(cosim, fids, a, b, bp_seed)
    except Exception as e:
        i = _find_hang(cosim, fids, a, b, bp_seed)
        if i is None:
            raise _failure(e, f"verify_set: the RTL co-simulation of {len(items)} ops failed") from e
        ext, op, imm, fid, x, y = items[i]
        what = f"{ext.name}.{op.name}" + (f" imm={imm}" if imm is not None else "") if ext else "unknown function id"
        raise _failure(
            e, f"verify_set: the combined Cfu failed at #{i}: {what} (function_id {describe_fid(fid)}), "
            f"rs1=0x{x:08x}, rs2=0x{y:08x}", extension=ext.name if ext else None, op=op.name if op else None,
            imm=imm, function_id=fid, rs1=x, rs2=y, index=i,
        ) from e
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
            try:
                ref = ext._step(op, x, y, imm, states[ext.name])
            except Exception as e:
                st_before = _replay_set(items, ext, i)
                raise _failure(
                    e, f"verify_set: the reference semantics of {ext.name}.{op.name} raised at #{i}: "
                    f"{_describe_op(ext, op, imm, fid, x, y)}, state before {_fmt_state(st_before)}",
                    extension=ext.name, op=op.name, imm=imm, function_id=fid, rs1=x, rs2=y,
                    state_before=st_before, index=i,
                ) from e
            label = f"{ext.name}.{op.name}" + (f" imm={imm}" if imm is not None else "")
        counts[label.split(" ")[0]] = counts.get(label.split(" ")[0], 0) + 1
        if int(rtl[i]) != ref:
            if ext is not None:  # recompute the state before for the message
                st_before = _replay_set(items, ext, i)
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


def _replay_set(items: list, ext: Extension, stop: int) -> dict:
    """The reference state of ``ext`` before item ``stop`` of a verify_set stream."""
    st = ext.initial_state()
    for e2, o2, i2, _, x2, y2 in items[:stop]:
        if e2 is ext:
            ext._step(o2, x2, y2, i2, st)
    return st
