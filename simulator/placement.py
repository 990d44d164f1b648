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

``plan(buffers, *, stack_top, stack_hot) -> BufferPlan``
    All of it: offsets (avoiding the hot top of the stack too), positions, the link block, the RAM the
    padding costs. simulator.vexriscv.run_kernel plans the kernel's statics, then its inputs, then its
    outputs, in that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

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


def plan(buffers: list[PlannedBuffer], *, stack_top: int, stack_hot: int) -> BufferPlan:
    """The plan for ``buffers`` (in the order given: they are laid out in it).

    ``stack_top`` is the address the stack grows down from and ``stack_hot`` how many bytes below it
    the frames of the driver and the kernel use (a fixed range :func:`plan_offsets` avoids).
    """
    hot = min(CACHE_BYTES, max(LINE_BYTES, stack_hot))
    offsets = plan_offsets(buffers, fixed=[((stack_top - hot) % CACHE_BYTES, hot, 2)])
    return BufferPlan(tuple(buffers), tuple(lay_out(buffers, offsets)))
