"""The rv32 targets: rv32im with the ISA extensions as custom instructions on the CPU's CFU port.

Everything only rv32 code needs lives here: :class:`CfuEmitter`, the emitter of :class:`RV32Target`,
schedules straight-line runs of intrinsic statements (an unrolled tile) for an in-order core (CFU
blocks, pragma ``cfu_words``) and places their instructions itself under the pragma ``cfu_asm``;
:class:`RV32Target` holds the cross compiler (``toolchain.rv32``) and the ``compiler`` knob values the
autotuner may try; :class:`VexRiscvTarget` (``"vexriscv"``, alias ``"rv32im"``) is the one registered
by default, whose kernels ``simulator`` runs on the VexRiscv SoC.
"""

from __future__ import annotations

from dataclasses import dataclass

from tir import dtype as dt
from tir.errors import ArgumentError
from tir.expr import BinOp, BufferLoad, Call, Cast, Const, Ramp, key, same
from tir.simplify import Lin, linear, simplify
from tir.stmt import Buffer, Evaluate, For, Store
from tir.visit import contains_call, walk
from toolchain.rv32 import Toolchain

from .emit import CEmitter, ramps_of
from .target import Target, register_target

WORDS = 8  # operand words a CFU block keeps in registers at once


def _is_intrinsic_stmt(st) -> bool:
    """An Evaluate of an intrinsic call, or a store whose value calls one."""
    if isinstance(st, Evaluate):
        return _is_unit_call(st.value)
    if isinstance(st, Store):
        return contains_call(st.value) and any(_is_unit_call(n) for n in walk(st.value))
    return False


def _is_unit_call(e) -> bool:
    """A call of an extension op (a pure op of the tensor language is plain C, not a CFU instruction)."""
    return isinstance(e, Call) and not getattr(e.op, "pure", False)


def _accumulate_call(st):
    """(call, C cast type) when ``st`` is ``buf[i] = buf[i] + (T)call(...)``, else None."""
    if not isinstance(st, Store) or not isinstance(st.value, BinOp) or st.value.op != "+":
        return None
    cur, add = st.value.a, st.value.b
    if not (isinstance(cur, BufferLoad) and cur.buffer is st.buffer
            and all(same(x, y) for x, y in zip(cur.indices, st.indices))):
        return None
    if isinstance(add, Cast) and isinstance(add.value, Call) and add.dtype == st.buffer.dtype:
        return add.value, dt.c_type(add.dtype)
    return None


def _asm_call(st):
    """The call of ``st`` when the rv32 "cfu_asm" path can place it: ``acc += (T)op(word, word)``
    with ``op`` a single instruction (IntrinOp.insn), both operands loaded words and a 32-bit acc."""
    acc = _accumulate_call(st)
    if acc is None:
        return None
    call = acc[0]
    if (not getattr(call.op, "insn", "") or call.imm or len(call.args) != 2
            or not all(isinstance(a, Ramp) for a in call.args) or dt.bits(st.buffer.dtype) != 32):
        return None
    return call


class CfuEmitter(CEmitter):
    """The rv32 emitter: the generic C, with runs of intrinsic statements emitted as CFU blocks."""

    def __init__(self, func, target):
        super().__init__(func, target)
        self.words: dict = {}  # Ramp key -> local holding the loaded word (inside a CFU block)
        self.temps = 0
        # operand words a CFU block loads ahead (0: leave the order to the C compiler); a loop
        # pragma "cfu_words" sets it for the loops it encloses
        self.cfu_words = WORDS
        # pragma "cfu_asm": place the loads, CFU instructions and adds of a CFU block one volatile asm
        # statement each, in the order emit_cfu_asm picks (the C compiler only allocates registers)
        self.cfu_asm = 0
        # local elements known to hold 0 here (straight-line code since their zero store): a CFU
        # instruction in asm mode writes its result straight into them instead of adding
        self.zeros: dict[str, int] = {}

    # the generic emitter's hooks ------------------------------------------------------------------
    def emit_seq(self, stmts, ind: int) -> None:
        """Two or more intrinsic statements in a row form a CFU block (unless ``cfu_words`` is 0)."""
        stmts, i = list(stmts), 0
        while i < len(stmts):
            j = i
            while self.cfu_words and j < len(stmts) and _is_intrinsic_stmt(stmts[j]):
                j += 1
            if j - i >= 2:
                self.emit_cfu_block(stmts[i:j], ind)
                i = j
            else:
                self.emit(stmts[i], ind)
                i += 1

    def loop_body(self, s: For, ind: int) -> None:
        saved = self.cfu_words, self.cfu_asm
        for k, val in s.pragmas:
            if k == "cfu_words":
                self.cfu_words = int(val)
            elif k == "cfu_asm":
                self.cfu_asm = int(val)
        self.zeros.clear()  # the body runs many times: nothing straight-line holds across it
        self.emit(s.body, ind)
        self.zeros.clear()
        self.cfu_words, self.cfu_asm = saved

    def stored(self, s: Store, lvalue: str) -> None:
        if s.lanes > 1:  # a word store writes elements beside lvalue too
            self.forget_zeros(s.buffer)
            return
        self.forget_zeros(s.buffer, s.indices, lvalue)
        if (s.buffer.scope == "local" and isinstance(s.value, Const) and s.value.value == 0
                and all(isinstance(i, Const) for i in s.indices)):
            self.zeros[lvalue] = id(s.buffer)

    def branch(self) -> None:
        self.zeros.clear()

    def load_word(self, e: Ramp) -> str:
        self.helper("load32")
        word = self.words.get(key(e))
        if word is not None:
            return word
        return f"isaforge_load32(&{self.element(e.buffer, e.indices)})"

    # CFU blocks -----------------------------------------------------------------------------------
    def forget_zeros(self, buf: Buffer, indices=None, lvalue: str = "") -> None:
        """A store to ``buf``: the element stored to is not known to be zero any more; with
        non-constant (or unknown) indices it may be any element of ``buf``."""
        if indices is not None and all(isinstance(i, Const) for i in indices):
            self.zeros.pop(lvalue, None)
        else:
            self.zeros = {lv: b for lv, b in self.zeros.items() if b != id(buf)}

    def emit_cfu_block(self, stmts: list, ind: int) -> None:
        """Straight-line intrinsic statements (an unrolled tile), scheduled for an in-order core.

        VexRiscv pays for a load right before a CFU op and for using a CFU result at once, and C
        compilers hoist every CFU op of a tile ahead of its adds. So each chunk of statements that
        reads at most ``cfu_words`` distinct operand words (pragma "cfu_words"; 0 turns this off)
        first loads them into locals, then issues the
        ops, accumulating each result one op later. Loads move above the chunk's stores only when
        no store of the chunk writes a buffer a load reads.
        """
        chunks, cur, keys, fresh = [], [], set(), []
        for st in stmts:
            ks = {key(r) for r in ramps_of(st)}
            if cur and len(keys | ks) > self.cfu_words:
                # cut where the last group of statements started (one whose words were all new),
                # so that a chunk does not end in the middle of a k step
                starts = [i for i, f in enumerate(fresh) if f and i > 0]
                cut = starts[-1] if starts else len(cur)
                chunks.append(cur[:cut])
                cur = cur[cut:]
                keys = {key(r) for c in cur for r in ramps_of(c)}
                fresh = fresh[cut:]
            fresh.append(bool(ks) and not (ks & keys))
            cur.append(st)
            keys |= ks
        chunks.append(cur)
        if self.cfu_asm and self.emit_cfu_asm(chunks, ind):
            return
        for st in stmts:
            if isinstance(st, Store):
                self.forget_zeros(st.buffer)
        pad = "  " * ind
        for chunk in chunks:
            ramps = {}
            for st in chunk:
                for r in ramps_of(st):
                    ramps.setdefault(key(r), r)
            written = {id(st.buffer) for st in chunk if isinstance(st, Store)}
            if any(id(r.buffer) in written for r in ramps.values()):
                for st in chunk:
                    self.emit(st, ind)
                continue
            self.lines.append(f"{pad}{{")
            inner = pad + "  "
            for k, r in ramps.items():
                w = f"isaforge_w{len(self.words)}"
                self.lines.append(f"{inner}const uint32_t {w} = {self.expr(r)};")
                self.words[k] = w
            pending = None
            for st in chunk:
                acc = _accumulate_call(st)
                if acc is None:
                    if pending:
                        self.lines.append(pending)
                        pending = None
                    self.emit(st, ind + 1)
                    continue
                call, cast = acc
                tmp = f"isaforge_d{self.temps}"
                self.temps += 1
                self.lines.append(f"{inner}const uint32_t {tmp} = {self.expr(call)};")
                if pending:
                    self.lines.append(pending)
                target = self.element(st.buffer, st.indices)
                if cast == "int32_t":
                    # wrap-around like the IR (signed += may overflow: undefined); see binop
                    pending = f"{inner}{target} = (int32_t)((uint32_t){target} + {tmp});"
                else:
                    pending = f"{inner}{target} += ({cast}){tmp};"
            if pending:
                self.lines.append(pending)
            self.lines.append(f"{pad}}}")
            for k in ramps:
                self.words.pop(k, None)

    def emit_cfu_asm(self, chunks: list, ind: int) -> bool:
        """The chunks of a CFU block as one volatile asm statement per instruction (pragma "cfu_asm").

        Per chunk: every operand word is loaded first (``lw``, in one group: VexRiscv pays about 2
        cycles once per group of loads next to a CFU op), then the CFU instructions issue in program
        order, each followed by the ``add`` of the previous result (an add fits in the second issue
        cycle of a CFU op; using a result at once costs a cycle). An accumulator known to hold zero
        takes the result directly (no add, and its zero store is dead). The C compiler only allocates
        registers: volatile asm statements keep their order. Returns False, emitting nothing, when a
        statement is not ``acc += op(word, word)`` of a single-instruction op or a chunk reads a
        buffer the block writes.

        Before (C): ``w0 = load(A+..); w1 = load(B+..); d0 = dot(w0, w1); c[0] += d0; ...``
        After:      ``pA = &A[..]; asm("lw %0, 64(%1)" : "=r"(w0) : "r"(pA)); ...;
        asm(".insn r 0x0B, 0, 0, %0, %1, %2" ..); asm("add %0, %0, %1" : "+r"(c[0]) ..)``, the add one
        op later, the whole block between two compiler barriers.
        """
        calls = [[(st, _asm_call(st)) for st in chunk] for chunk in chunks]
        if any(call is None for chunk in calls for _, call in chunk):
            return False
        written = {id(st.buffer) for chunk in calls for st, _ in chunk}
        if any(id(r.buffer) in written for chunk in calls for _, call in chunk for r in call.args):
            return False
        pad = "  " * ind
        inner = pad + "  "
        out = self.lines
        # the loads below name their addresses only as registers: keep memory accesses of the code
        # around the block on their side of it (a compiler barrier; registers are not affected)
        out.append(f"{pad}{{")
        out.append(f'{inner}__asm__ __volatile__("" ::: "memory");')
        # every word is ``lw w, offset(base)``: one base pointer per buffer and non-constant index part
        # (a C compiler given the addresses hoists and spills them), constant parts as immediates
        bases: dict = {}  # (buffer, non-constant index part) -> [(pointer name, its byte offset)]
        loads: dict = {}  # Ramp key -> (pointer name, immediate)
        for chunk in calls:
            for _, call in chunk:
                for r in call.args:
                    if key(r) in loads:
                        continue
                    lin = linear(self.flat_expr(r.buffer, r.indices), self.ranges)
                    off = lin.c * dt.bits(r.buffer.dtype) // 8
                    rest = simplify(Lin(dict(lin.terms), 0).to_expr(), self.ranges)
                    near = bases.setdefault((id(r.buffer), key(rest)), [])
                    # lw takes a 12-bit signed immediate: a word further away gets a pointer of its own
                    fit = [(n, o) for n, o in near if -2048 <= off - o <= 2044]
                    if not fit:
                        name = f"isaforge_p{self.temps}"
                        self.temps += 1
                        out.append(f"{inner}const {dt.c_type(r.buffer.dtype)} *{name} = "
                                   f"&{self.names[id(r.buffer)]}[{self.expr(simplify(rest + lin.c, self.ranges))}];")
                        fit = [(name, off)]
                        near.append(fit[0])
                    loads[key(r)] = (fit[0][0], off - fit[0][1])
        pending = None
        for chunk in calls:
            words = {}
            for _, call in chunk:
                for r in call.args:
                    k = key(r)
                    if k in words:
                        continue
                    w = words[k] = f"isaforge_w{self.temps}"
                    self.temps += 1
                    base, off = loads[k]
                    out.append(f"{inner}uint32_t {w};")
                    out.append(f'{inner}__asm__ __volatile__("lw %0, {off}(%1)" : "=r"({w}) : "r"({base}));')
            for st, call in chunk:
                a, b = (words[key(r)] for r in call.args)
                target = self.element(st.buffer, st.indices)
                insn = f'"{call.op.insn}, %0, %1, %2"'
                if target in self.zeros:
                    del self.zeros[target]
                    out.append(f'{inner}__asm__ __volatile__({insn} : "=r"({target}) : "r"({a}), "r"({b}));')
                    if pending:
                        out.append(pending)
                        pending = None
                    continue
                if not all(isinstance(i, Const) for i in st.indices):
                    self.forget_zeros(st.buffer)  # it may be any element
                tmp = f"isaforge_d{self.temps}"
                self.temps += 1
                out.append(f"{inner}uint32_t {tmp};")
                out.append(f'{inner}__asm__ __volatile__({insn} : "=r"({tmp}) : "r"({a}), "r"({b}));')
                if pending:
                    out.append(pending)
                pending = f'{inner}__asm__ __volatile__("add %0, %0, %1" : "+r"({target}) : "r"({tmp}));'
        if pending:
            out.append(pending)
        out.append(f'{inner}__asm__ __volatile__("" ::: "memory");')
        out.append(f"{pad}}}")
        return True


@dataclass(frozen=True)
class L2Timing:
    """A RAM behind a direct-mapped, write-back, write-allocate cache with DRAM row buffers, as
    isaforge's SoC model times it (``simulator.vexriscv.run_elf(l2=...)``): LiteX's L2 cache in front
    of LiteDRAM. An access that hits the cache waits the target's ``wait_states``, like an SRAM; one
    that misses waits ``miss_cycles`` more (the line's refill), ``evict_cycles`` more when the line it
    replaces is dirty (its write-back, the row change included), and ``row_miss_cycles`` more when
    the refill's bank has another row open (``banks`` banks of ``row_bytes``, the bank bits right
    above the row's; a write-back leaves its own row open). The cache starts as LiteX's BIOS leaves
    it when it jumps to the program: holding main RAM's second ``size_bytes``, clean (its
    ``flush_l2_cache`` read the first two).
    """

    size_bytes: int = 8192
    line_bytes: int = 16
    miss_cycles: int = 0
    evict_cycles: int = 0
    row_miss_cycles: int = 0
    row_bytes: int = 2048
    banks: int = 4

    def __post_init__(self) -> None:
        def pow2(x: int) -> bool:
            return isinstance(x, int) and x > 0 and not x & (x - 1)

        if not (pow2(self.size_bytes) and pow2(self.line_bytes) and 4 <= self.line_bytes <= self.size_bytes
                and pow2(self.row_bytes) and pow2(self.banks)):
            raise ArgumentError(f"L2Timing: sizes, line, row bytes and banks must be powers of two "
                                f"(line >= 4, line <= size): {self}")
        for name in ("miss_cycles", "evict_cycles", "row_miss_cycles"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 0 <= v <= 1000:
                raise ArgumentError(f"L2Timing.{name} must be an int in [0, 1000], got {v!r}")

    def harness_arg(self) -> str:
        """The SoC harness's ``--l2`` value."""
        return ":".join(str(v) for v in (self.size_bytes, self.line_bytes, self.miss_cycles, self.evict_cycles,
                                         self.row_miss_cycles, self.row_bytes, self.banks))


class RV32Target(Target):
    """rv32im with the extensions' instructions on the CFU (opcode custom-0), cross-compiled by
    ``toolchain.rv32``. No threads, 32-bit words, word loads must be aligned. A subclass changes the
    compiler (``compiler``, ``opt``, ``extra_flags``) or the knob values the tuner may try
    (``compilers``); ``has_cfu = False`` is a core without the CFU port (no extension runs)."""

    word_bits = 32
    has_threads = False
    intrinsic_abi = "rv32im"
    word_align = 4
    runs_on_host = False
    emitter_class = CfuEmitter
    #: the cross compiler of a build that no ``compiler`` knob chooses
    compiler = "zig"
    opt = "-O2"
    #: flags every build of this target gets, after those of the ``compiler`` knob's value
    extra_flags: tuple[str, ...] = ()
    # -DISAFORGE_CFU_IN_ORDER keeps stateless CFU ops in program order (isa_ext's rv32 C honours it)
    compilers = ("zig:-O2", "zig:-O3", "gcc:-O2", "gcc:-O2:-fno-schedule-insns", "zig:-O2:-DISAFORGE_CFU_IN_ORDER")
    has_cfu = True
    #: the RAM's wait states per bus access on isaforge's SoC model (see :class:`VexRiscvTarget`)
    wait_states = 0
    #: the cache and DRAM in front of the model's RAM (:class:`L2Timing`), None: an SRAM
    l2: L2Timing | None = None
    #: the revision of isaforge's SoC model: raise it when the model counts other cycles for the same
    #: ``wait_states`` and ``l2`` (records measured before then are then measured again)
    timing_revision = 1

    def supports_extension(self, ext) -> bool:
        return self.has_cfu

    def timing_params(self) -> dict:
        """The SoC model's timing: ``wait_states``, ``l2`` (its harness value, None for an SRAM) and
        ``timing_revision`` (what ``simulator.run.SocRunner`` passes to the model besides the program)."""
        return {"soc": "isaforge", "revision": self.timing_revision, "wait_states": self.wait_states,
                "l2": self.l2.harness_arg() if self.l2 is not None else None}

    @property
    def default_compiler(self) -> str:
        """The ``compiler`` knob value that names this target's own toolchain: ``"zig:-O2"``."""
        return ":".join([self.compiler, self.opt, *self.extra_flags])

    def toolchain(self, compiler: str | None = None, opt: str | None = None, extra: tuple[str, ...] = ()) -> Toolchain:
        """The cross compiler of a build: this target's, or the compiler / optimisation / flags of a
        ``compiler`` knob value (parsed by ``schedules.autotune.parse_compiler``); the target's own
        ``extra_flags`` come last either way."""
        return Toolchain(compiler or self.compiler, opt or self.opt, (*extra, *self.extra_flags))


class VexRiscvTarget(RV32Target):
    """The VexRiscv SoC (``VexRiscv_FullCfu``): ``simulator.run`` simulates its kernels cycle-accurately
    on isaforge's SoC model, calibrated to LiteX's own ``litex_vexriscv`` SoC with integrated SRAM
    (``litex_sim --integrated-main-ram-size``; within 0.1% on the kernels of
    ``benchmarks/litex_sim_cycles.py``).

    ``wait_states``: the cycles the model's RAM waits before it acknowledges each bus access (the
    ``wait_states`` of ``simulator.vexriscv.run_elf``). LiteX's integrated SRAM behind its wishbone
    interconnect answers one cycle later than an ideal RAM, hence 1; ``vexriscv_ideal`` is the ideal
    one-cycle RAM (0), the model every figure before the calibration was measured on;
    ``vexriscv_sdram`` is LiteX's SDRAM behind its L2 cache (``l2``: :data:`LITEX_SDRAM_L2`)."""

    name = "vexriscv"
    aliases = ("rv32im",)
    wait_states = 1


class VexRiscvIdealTarget(VexRiscvTarget):
    """:class:`VexRiscvTarget` with an ideal RAM that acknowledges every access at once (no wait
    states): the model before its calibration to LiteX (about 2.5% optimistic against LiteX's SRAM
    on cache-missing kernels, up to 6% on small ones)."""

    name = "vexriscv_ideal"
    aliases = ()
    wait_states = 0


#: LiteX's 8 KiB L2 (16-byte lines) in front of litex_sim's SDRAM model (MT48LC16M16, 4 banks of 2 KiB
#: rows, 32-bit data): the costs fitted to litex_sim's cycles on ten memory patterns (within 1% on
#: eight, 4% and 6.7% on the two made of row misses only) and then checked on kernels (within 1.5%
#: cold and warm); benchmarks/litex_sim_cycles.py --sdram prints both tables
LITEX_SDRAM_L2 = L2Timing(size_bytes=8192, line_bytes=16, miss_cycles=14, evict_cycles=16, row_miss_cycles=9,
                          row_bytes=2048, banks=4)


class VexRiscvSdramTarget(VexRiscvTarget):
    """:class:`VexRiscvTarget` with main RAM in SDRAM behind LiteX's L2 cache (``litex_sim --with-sdram``,
    or a board's DRAM through LiteDRAM): isaforge's model times every access through the cache of
    ``l2`` (:class:`L2Timing`), the stand-in for the ``litex_sim_sdram`` target."""

    name = "vexriscv_sdram"
    aliases = ()
    wait_states = 1
    l2 = LITEX_SDRAM_L2


VEXRISCV = register_target(VexRiscvTarget())
VEXRISCV_IDEAL = register_target(VexRiscvIdealTarget())
VEXRISCV_SDRAM = register_target(VexRiscvSdramTarget())


class LitexSimTarget(RV32Target):
    """LiteX's own SoC in simulation (``litex_sim``, VexRiscv ``full+cfu``; ``simulator.litex_sim``):
    ``simulator.run`` runs its kernels there. ``memory``: ``"sram"`` (integrated main RAM of
    ``main_ram_kib``) or ``"sdram"`` (LiteX's SDRAM model behind its L2 cache)."""

    name = "litex_sim"
    memory = "sram"
    main_ram_kib = 64

    def timing_params(self) -> dict:
        """LiteX's SoC sets the timing (``wait_states`` and ``l2`` do not apply): its ``memory`` and
        ``main_ram_kib``."""
        return {"soc": "litex_sim", "memory": self.memory, "main_ram_kib": self.main_ram_kib}


class LitexSimSdramTarget(LitexSimTarget):
    """:class:`LitexSimTarget` with main RAM in LiteX's SDRAM model (``litex_sim --with-sdram``)."""

    name = "litex_sim_sdram"
    memory = "sdram"


LITEX_SIM = register_target(LitexSimTarget())
LITEX_SIM_SDRAM = register_target(LitexSimSdramTarget())

__all__ = ["CfuEmitter", "L2Timing", "LITEX_SDRAM_L2", "LITEX_SIM", "LITEX_SIM_SDRAM", "LitexSimSdramTarget",
           "LitexSimTarget", "RV32Target", "VEXRISCV", "VEXRISCV_IDEAL", "VEXRISCV_SDRAM", "VexRiscvIdealTarget",
           "VexRiscvSdramTarget", "VexRiscvTarget", "WORDS"]
