"""Where run_kernel puts a kernel's buffers in RAM, so that hot operands do not collide in the D-cache.

The VexRiscv D-cache is 4 KiB, direct-mapped, with 32-byte lines: two buffers whose addresses are equal
modulo 4 KiB share every cache set they overlap, and operands walked in step (a matmul's A and Bt rows,
say) then evict each other on every access. A contiguous layout does that by accident whenever the sizes
are multiples of 4 KiB (int8 matmul 64^3: A and Bt exactly 4 KiB apart).

The plan covers the driver's argument arrays and the kernel's own kernel-level intermediates (the
``static`` arrays codegen_c emits for global-scope Allocates): :func:`own_statics` finds those in the
kernel's C and moves each into a section of its own, and the link script (:func:`link_block`) places
every planned buffer at a planned offset from a 4 KiB boundary. Nothing computed changes, only addresses.

API
---
``LINE_BYTES``, ``CACHE_BYTES``
    The D-cache geometry the plan is made for.

``PlannedBuffer(name, section, nbytes, weight)``
    One buffer to place: ``section`` is the input section the link script puts at the planned place;
    ``weight`` says how much its cache lines matter (inputs and intermediates 2, outputs 1: the D-cache is
    write-through without write-allocate, so an output that is only stored takes no lines).

``own_statics(kernel_c) -> (kernel_c, [PlannedBuffer])``
    The kernel C with each kernel-level ``static T name[N];`` array given the section
    ``.isaforge_tmp.<i>``, and those arrays (in order of appearance).

``plan_offsets(buffers, *, fixed=()) -> list[int]``
    A cache-set offset (bytes, a multiple of ``LINE_BYTES``, below ``CACHE_BYTES``) for each buffer, in
    order; ``fixed`` are ``(offset, nbytes, weight)`` ranges already taken (the top of the stack).
    Deterministic. See the function's docstring for the rule.

``lay_out(buffers, offsets) -> list[int]``
    Byte positions from the 4 KiB-aligned base of the region, in order: each buffer starts at the first
    position after the previous one that has its planned offset.

``link_block(buffers, positions) -> str``
    The ``.isaforge_buf`` output section of the link script for that layout (it defines
    ``__isaforge_buf_start``, the region's base).

``plan(buffers, *, stack_top, stack_hot, trace=None, arg_of=None) -> BufferPlan``
    All of it: offsets (avoiding the hot top of the stack too), positions, the link block, the RAM the
    padding costs. simulator.vexriscv.run_kernel plans the kernel's statics, then its inputs, then its
    outputs, in that order.

``Placement``, ``access_trace(func) -> AccessTrace | None``, ``warm_misses(trace, starts)``,
``refine_offsets(buffers, offsets, trace, arg_of)``
    The kernel's own reads as a placement criterion (``simulator.run(..., placement=Placement.TRACE)``):
    the argument reads of the lowered kernel in program order (affine loop nests, expanded with numpy),
    the misses of a direct-mapped D-cache on their warm run, and each hot input moved to the line offset
    where they are fewest. The rule alone cannot know which rows a schedule walks together: int8 matmul
    48x80x96 (dot4 cfu_asm, calibrated vexriscv) takes 319,973 cycles with Bt 15 lines past A, the rule's
    choice, and 283,853 one line further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from tir import dtype as dt
from tir.expr import BufferLoad, Const, Ramp, Var
from tir.simplify import flat_index, linear
from tir.stmt import Allocate, Evaluate, For, IfThen, Seq, Store
from tir.visit import walk

LINE_BYTES = 32
CACHE_BYTES = 4096
SETS = CACHE_BYTES // LINE_BYTES

_C_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "float": 4,
            "int64_t": 8, "uint64_t": 8, "double": 8}
# a kernel-level intermediate exactly as codegen_c.emit writes it (visit_Allocate, scope "global"),
# optionally with an alignment attribute; anything else (hand-written C) is left where the compiler puts it
_STATIC = re.compile(
    r"^(?P<pad>[ \t]*)static[ \t]+(?P<ctype>" + "|".join(_C_SIZES) + r")[ \t]+(?P<name>[A-Za-z_]\w*)"
    r"\[(?P<n>\d+)\](?P<attr>(?:[ \t]*__attribute__\(\([^;()]*(?:\([^;()]*\))?[^;()]*\)\))?);[ \t]*$",
    re.M,
)


@dataclass(frozen=True)
class PlannedBuffer:
    """One buffer the link script places (see the module docstring)."""

    name: str
    section: str
    nbytes: int
    weight: int = 2


def own_statics(kernel_c: str) -> tuple[str, list[PlannedBuffer]]:
    """Give each kernel-level static array of ``kernel_c`` a section of its own; return the C and them."""
    found: list[PlannedBuffer] = []

    def repl(m: re.Match) -> str:
        section = f".isaforge_tmp.{len(found)}"
        nbytes = int(m["n"]) * _C_SIZES[m["ctype"]]
        found.append(PlannedBuffer(m["name"], section, max(1, nbytes), 2))
        return (f'{m["pad"]}static {m["ctype"]} {m["name"]}[{m["n"]}]{m["attr"]} '
                f'__attribute__((section("{section}")));')

    return _STATIC.sub(repl, kernel_c), found


def _footprint(offset: int, nbytes: int) -> np.ndarray:
    """How many of the buffer's lines fall in each cache set, the buffer starting ``offset`` bytes past a
    4 KiB boundary."""
    first = offset // LINE_BYTES
    last = (offset + max(1, nbytes) - 1) // LINE_BYTES
    lines = last - first + 1
    counts = np.full(SETS, lines // SETS, dtype=np.int64)
    rest = lines % SETS
    counts[(first + np.arange(rest)) % SETS] += 1
    return counts


def plan_offsets(buffers: list[PlannedBuffer], *, fixed=()) -> list[int]:
    """The cache-set offset of each buffer, chosen greedily in order.

    rule: buffer ``i`` takes the line offset whose sets are least occupied by the buffers placed before
    it and the ``fixed`` ranges (occupancy: lines x weight; a buffer of 4 KiB or more costs the same
    anywhere). Among equally good offsets it prefers, in this order: one where no earlier buffer starts
    (two buffers starting in one set collide line for line when walked in step); one an odd number of
    lines away from the most earlier hot (weight > 1) buffers (rows of an even number of lines, 64 B
    and up, then never share a set at the same column: with an even distance, row r of one buffer and
    row r + d/2 of the other collide at every column, as at distance 0); the farthest from every earlier
    start; the first at or after where the previous buffer ends (the least padding). So buffers that
    fit in the cache together do not overlap at all, and larger ones start in sets far apart.
    """
    occ = np.zeros(SETS, dtype=np.int64)
    starts: set[int] = set()
    hot_starts: list[int] = []
    for off, nbytes, weight in fixed:
        occ += weight * _footprint(int(off) % CACHE_BYTES, int(nbytes))
    out: list[int] = []
    natural = 0  # line offset where the previous buffer ends
    for b in buffers:
        base = _footprint(0, b.nbytes)
        # cost[c] = sum_s base[s - c] * occ[s]: a circular cross-correlation over the 128 sets
        cost = np.array([int(np.dot(np.roll(base, c), occ)) for c in range(SETS)])
        best = None
        for step in range(SETS):
            c = (natural + step) % SETS
            dists = [min((c - s) % SETS, (s - c) % SETS) for s in starts]
            odd = sum(1 for s in hot_starts if (c - s) % 2)
            key = (int(cost[c]), c in starts, -odd, -min(dists, default=SETS), step)
            if best is None or key < best[0]:
                best = (key, c)
        c = best[1]
        out.append(c * LINE_BYTES)
        starts.add(c)
        if b.weight > 1:
            hot_starts.append(c)
        occ += b.weight * np.roll(base, c)
        natural = (c + (b.nbytes + LINE_BYTES - 1) // LINE_BYTES) % SETS
    return out


def lay_out(buffers: list[PlannedBuffer], offsets: list[int]) -> list[int]:
    """Byte positions from the region's 4 KiB-aligned base (see the module docstring)."""
    pos: list[int] = []
    end = 0
    for b, off in zip(buffers, offsets):
        p = end + (off - end) % CACHE_BYTES
        pos.append(p)
        end = p + (b.nbytes + 15) // 16 * 16
    return pos


def region_bytes(buffers: list[PlannedBuffer], positions: list[int]) -> int:
    """Bytes from the region's base to the end of its last buffer."""
    if not buffers:
        return 0
    return positions[-1] + (buffers[-1].nbytes + 15) // 16 * 16


def link_block(buffers: list[PlannedBuffer], positions: list[int]) -> str:
    """The ``.isaforge_buf`` output section placing ``buffers`` at ``positions`` (see lay_out)."""
    lines = [
        "    /* Buffers placed by simulator.placement (not zeroed by crt0: the host fills the arguments and",
        "     * RAM starts zeroed); the region starts on a 4 KiB boundary, so each buffer's address modulo",
        "     * the D-cache size is the planned one. */",
        "    .isaforge_buf (NOLOAD) : ALIGN(4096) {",
        "        __isaforge_buf_start = .;",
    ]
    for b, p in zip(buffers, positions):
        lines.append(f"        . = __isaforge_buf_start + 0x{p:x};  /* {b.name}, {b.nbytes} bytes */")
        lines.append(f"        KEEP(*({b.section}))")
    lines += [
        "        *(.isaforge_buf .isaforge_buf.*)",
        "        *(.isaforge_tmp .isaforge_tmp.*)",
        "        . = ALIGN(16);",
        "    } > RAM",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class BufferPlan:
    """Where the buffers of one program go: ``positions[i]`` is ``buffers[i]``'s distance from the
    region's base (the symbol ``__isaforge_buf_start``, on a 4 KiB boundary)."""

    buffers: tuple[PlannedBuffer, ...]
    positions: tuple[int, ...]

    @property
    def link_block(self) -> str:
        """The ``.isaforge_buf`` output section of the link script."""
        return link_block(list(self.buffers), list(self.positions))

    @property
    def padding(self) -> int:
        """RAM the plan costs over buffers that follow one another (the 4 KiB alignment included)."""
        packed = sum((b.nbytes + 15) // 16 * 16 for b in self.buffers)
        return CACHE_BYTES + region_bytes(list(self.buffers), list(self.positions)) - packed

    def offsets(self) -> dict[str, int]:
        """Each buffer's section -> its address modulo the cache size."""
        return {b.section: p % CACHE_BYTES for b, p in zip(self.buffers, self.positions)}


def plan(buffers: list[PlannedBuffer], *, stack_top: int, stack_hot: int, trace: AccessTrace | None = None,
         arg_of: dict[int, int] | None = None) -> BufferPlan:
    """The plan for ``buffers`` (in the order given: they are laid out in it).

    ``stack_top`` is the address the stack grows down from and ``stack_hot`` how many bytes below it
    the frames of the driver and the kernel use (a fixed range :func:`plan_offsets` avoids).
    ``trace`` (:func:`access_trace`, ``Placement.TRACE``): then the hot inputs are moved to where the
    kernel's own reads miss least (:func:`refine_offsets`; ``arg_of``: position in ``buffers`` ->
    argument index of the trace).
    """
    hot = min(CACHE_BYTES, max(LINE_BYTES, stack_hot))
    offsets = plan_offsets(buffers, fixed=[((stack_top - hot) % CACHE_BYTES, hot, 2)])
    if trace is not None and len(trace.arg) and arg_of:
        offsets = refine_offsets(buffers, offsets, trace, arg_of)
    return BufferPlan(tuple(buffers), tuple(lay_out(buffers, offsets)))


# --- an access model of the kernel: placement by simulated D-cache misses ----------------------------


class Placement(Enum):
    """How ``simulator.run`` places a kernel's buffers on the SoC: ``RULE`` by :func:`plan_offsets`'
    rule alone, ``TRACE`` (``DEFAULT_PLACEMENT``) also by the kernel's own reads (:func:`access_trace`,
    each hot input moved to the line offset of fewest simulated D-cache misses, :func:`refine_offsets`)."""

    RULE = "rule"
    TRACE = "trace"


#: what ``simulator.run`` and the tuner's measurements use when not told
DEFAULT_PLACEMENT = Placement.TRACE

#: reads of a kernel's arguments the access model keeps (a prefix in program order: the refinement
#: simulates them twice per candidate offset, so its cost grows with this)
MAX_TRACE = 100_000
COARSE = 4  # refine_offsets: the line step of its first pass over the offsets


class _NoModel(Exception):
    """A kernel the access model cannot follow (a guard, a non-affine index, a non-constant loop start,
    a kernel-level intermediate)."""


@dataclass(frozen=True)
class AccessTrace:
    """The reads of a kernel's argument buffers in program order (a prefix of at most MAX_TRACE):
    read ``i`` is of argument ``arg[i]`` at byte ``byte[i]`` from its start (a packed-word read once)."""

    arg: np.ndarray
    byte: np.ndarray


def access_trace(func, max_reads: int = MAX_TRACE) -> AccessTrace | None:
    """The argument reads of the lowered kernel ``func`` (a ``tir.PrimFunc``), or None when its body has
    a guard (IfThen), a loop with a non-constant start, an argument index that is not affine in the
    loop variables or a kernel-level (non-local) intermediate, whose reads the model does not follow:
    then only the offset rule of :func:`plan_offsets` places the buffers.

    Loops are expanded with numpy (affine indices: a constant plus a coefficient per loop variable),
    so a kernel of 10^5 reads takes milliseconds; a longer one keeps its first ``max_reads`` reads."""
    args = {id(b): i for i, b in enumerate(func.args)}
    try:
        t = _reads(func.body, args, max_reads)
    except _NoModel:
        return None
    n = min(len(t[0]), max_reads)
    return AccessTrace(t[0][:n].astype(np.int32), t[1][:n].astype(np.int64))


def _reads(st, args: dict, cap: int):
    """(arg, const byte, {var id: coefficient}, truncated) of the reads of ``st`` in program order."""
    empty = (np.zeros(0, np.int32), np.zeros(0, np.int64), {}, False)
    if isinstance(st, Seq):
        parts, seen, total = [], set(), 0
        for s in st.stmts:
            p = _reads(s, args, cap)
            if isinstance(s, (Store, Evaluate)):
                # straight-line statements read a word once: the emitter (or the C compiler) keeps a word
                # that the next statements read again in a register
                keep = []
                for i in range(len(p[0])):
                    k = (int(p[0][i]), int(p[1][i]), tuple(sorted((v, int(c[i])) for v, c in p[2].items())))
                    keep.append(k not in seen)
                    seen.add(k)
                keep = np.array(keep, bool)
                p = (p[0][keep], p[1][keep], {v: c[keep] for v, c in p[2].items()}, p[3])
            else:
                seen = set()  # (a loop or a nested block between: its words are not held across it)
            parts.append(p)
            total += len(p[0])
            if p[3] or total > cap:
                break
        return _concat(parts, truncated=any(p[3] for p in parts) or total > cap)
    if isinstance(st, Allocate):
        if st.buffer.scope != "local":
            # a kernel-level intermediate (a placed static): its reads are not in the model, which would
            # then move the arguments into its sets blind (naive conv2d NCHW: its padded copy)
            raise _NoModel
        return _reads(st.body, args, cap)
    if isinstance(st, For):
        if not isinstance(st.min, Const):
            raise _NoModel
        arg, const, coefs, trunc = _reads(st.body, args, cap)
        n = len(arg)
        if n == 0:
            return empty
        reps = st.extent if not trunc else 1
        if n * reps > cap:
            reps = max(1, -(-cap // n))
            trunc = True
        it = np.arange(st.min.value, st.min.value + reps, dtype=np.int64)
        a = coefs.pop(id(st.var), None)
        const = np.tile(const, reps) if a is None else (const[None, :] + a[None, :] * it[:, None]).ravel()
        return np.tile(arg, reps), const, {k: np.tile(v, reps) for k, v in coefs.items()}, trunc or reps < st.extent
    if isinstance(st, IfThen):
        raise _NoModel
    if isinstance(st, (Store, Evaluate)):
        value = st.value
        rows = []
        for e in walk(value):
            if isinstance(e, (BufferLoad, Ramp)) and id(e.buffer) in args:
                lin = linear(flat_index(e.indices, e.buffer.shape, {}))
                terms = {}
                for x, co in lin.terms.values():
                    if not isinstance(x, Var):
                        raise _NoModel
                    terms[id(x)] = co
                size = max(1, dt.bits(e.buffer.dtype) // 8)
                rows.append((args[id(e.buffer)], lin.c * size, {k: v * size for k, v in terms.items()}))
        if not rows:
            return empty
        keys = {k for _, _, t in rows for k in t}
        return (np.array([r[0] for r in rows], np.int32), np.array([r[1] for r in rows], np.int64),
                {k: np.array([r[2].get(k, 0) for r in rows], np.int64) for k in keys}, False)
    raise _NoModel


def _concat(parts, truncated: bool):
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int64), {}, truncated
    keys = {k for p in parts for k in p[2]}
    coefs = {k: np.concatenate([p[2].get(k, np.zeros(len(p[0]), np.int64)) for p in parts]) for k in keys}
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), coefs, truncated)


def warm_misses(trace: AccessTrace, starts) -> int:
    """D-cache misses of the trace's second run after a first (the driver's warm call after its cold
    one): a direct-mapped cache of SETS lines of LINE_BYTES, read misses only (stores do not allocate);
    ``starts[i]`` is argument ``i``'s address (any base that keeps the buffers apart)."""
    line = (np.asarray(starts, np.int64)[trace.arg] + trace.byte) // LINE_BYTES
    both = np.concatenate([line, line])
    sets = both % SETS
    order = np.argsort(sets, kind="stable")
    ln, st = both[order], sets[order]
    miss = np.ones(len(ln), bool)
    miss[1:] = (ln[1:] != ln[:-1]) | (st[1:] != st[:-1])
    return int(np.count_nonzero(miss & (order >= len(line))))


def refine_offsets(buffers: list[PlannedBuffer], offsets: list[int], trace: AccessTrace,
                   arg_of: dict[int, int]) -> list[int]:
    """``offsets`` with each hot input (weight > 1, an argument of the trace: ``arg_of`` maps a buffer's
    position in ``buffers`` to its argument index) moved, one after the other, to the line offset where
    the trace has the fewest :func:`warm_misses` (the others where they are; ties keep the rule's
    offset). The misses of the kernel itself decide, not a rule about rows walked in step: one line
    apart, a blocked matmul's operands can differ by a factor of two in misses."""
    offsets = list(offsets)
    n_args = max(arg_of.values(), default=-1) + 1

    def misses(offs) -> int:
        pos = lay_out(buffers, offs)
        starts = [0] * n_args
        for bi, ai in arg_of.items():
            starts[ai] = pos[bi]
        return warm_misses(trace, starts)

    for bi in sorted(arg_of):
        if buffers[bi].weight <= 1:
            continue
        tried = {offsets[bi]: misses(offsets)}

        def at(off: int, tried=tried, bi=bi) -> int:
            if off not in tried:
                tried[off] = misses(offsets[:bi] + [off] + offsets[bi + 1:])
            return tried[off]

        # every COARSE-th line offset, then each line around the two best of them (a good offset lies in
        # a band several lines wide; the rule's own offset is kept unless another has fewer misses)
        for c in range(0, SETS, COARSE):
            at(c * LINE_BYTES)
        for best in sorted(tried, key=lambda o: (tried[o], o))[:2]:
            for d in range(1 - COARSE, COARSE):
                at((best + d * LINE_BYTES) % CACHE_BYTES)
        rule = offsets[bi]
        offsets[bi] = min(tried, key=lambda o: (tried[o], o != rule, o))
    return offsets
