"""The Extension object: one Python object holding everything about a custom instruction set.

An :class:`Extension` carries

* the instruction encodings (:class:`Op`: funct3 plus a fixed funct7 or a funct7 immediate),
* the internal state description (``state``: name -> (dtype, shape), reset values in ``state_init``),
* three independent implementations of the semantics, checked against each other by
  :func:`isa_ext.verify`:

  - ``semantics``: Python reference (per op, on Python ints, state as numpy arrays),
  - ``c_ops``: the C body of each op for the host C model,
  - ``verilog_comb`` / ``verilog_seq``: the RTL datapath,

and generates everything else from them: the C wrappers for every target (host model, rv32im
inline asm, Verilator co-simulation), the CFU module with its ports, decode, state registers,
reset and handshake, the function_id set used for collision checks and routing.

Function ids follow VexRiscv's CfuPlugin: ``function_id = (funct7 << 3) | funct3`` of a custom-0
(opcode 0x0B) R-type instruction.

Templates
---------
C bodies and ``c_helpers`` are ``string.Template`` texts: ``$p`` expands to ``isaforge_<ext>_`` and
``$<state name>`` to the C variable holding that state (``isaforge_<ext>_<state name>``). Inside an op
body the names ``rs1``, ``rs2`` (uint32_t) and, for immediate ops, ``imm`` (uint32_t, the funct7
value) are in scope; the body must ``return`` a uint32_t.

Verilog snippets are plain text (no templating). In scope: ``clk``, ``reset``, ``fid[9:0]``,
``funct3[2:0]``, ``funct7[6:0]``, ``rs1[31:0]``, ``rs2[31:0]``, one wire ``op_<name>`` per op (high
when the current command decodes to it), ``fire`` (the command is accepted this cycle) and the state
registers (named as in ``state``, width of their dtype, arrays as ``reg [w-1:0] name [0:n-1]``).
``verilog_comb`` must drive ``rd`` (declared ``reg [31:0] rd``) combinationally, typically in an
``always @*`` block. ``verilog_seq`` is placed inside ``always @(posedge clk) if (!reset && fire)``
and updates the state with non-blocking assignments.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from string import Template

import numpy as np

from isa_ext.bits import MASK32, sext
from isa_ext.cfu import cfu_module_header
from isa_ext.errors import ExtensionError

OPCODE = 0x0B
TARGETS = ("host", "rv32im", "verilator")  # the flavours of C an extension has (Extension.c_source)


def c_flavour(target) -> str:
    """The C flavour (one of :data:`TARGETS`) of a flavour name or of a target object: a codegen_c Target
    names its flavour as ``intrinsic_abi`` (read by attribute: codegen_c is a layer above isa_ext)."""
    flavour = getattr(target, "intrinsic_abi", target)
    if not isinstance(flavour, str) or flavour not in TARGETS:
        raise ExtensionError(f"unknown C target {target!r}; expected one of {TARGETS} or a codegen_c Target")
    return flavour

_IDENT = re.compile(r"[a-z][a-z0-9_]*\Z")

# dtype -> (bits, signed, C type)
DTYPES = {
    "int8": (8, True, "int8_t"),
    "uint8": (8, False, "uint8_t"),
    "int16": (16, True, "int16_t"),
    "uint16": (16, False, "uint16_t"),
    "int32": (32, True, "int32_t"),
    "uint32": (32, False, "uint32_t"),
}


def function_id(funct7: int, funct3: int) -> int:
    """CFU function_id of an instruction: {funct7, funct3}."""
    return ((funct7 & 0x7F) << 3) | (funct3 & 0x7)


def describe_fid(fid: int) -> str:
    """'0x00b {funct7=1, funct3=3}'."""
    return f"0x{fid:03x} {{funct7={fid >> 3}, funct3={fid & 7}}}"


@dataclass(frozen=True)
class Op:
    """One R-type instruction of an extension (custom-0 opcode)."""

    name: str
    funct3: int
    funct7: int | None = 0
    funct7_range: range | None = None
    stateful: bool = False
    doc: str = ""

    @property
    def has_imm(self) -> bool:
        """True when funct7 is an immediate operand (e.g. an accumulator index)."""
        return self.funct7 is None

    def immediates(self) -> tuple[int, ...]:
        return tuple(self.funct7_range) if self.has_imm else ()

    def function_id(self, imm: int | None = None) -> int:
        if self.has_imm:
            if imm is None or imm not in self.funct7_range:
                raise ExtensionError(
                    f"op {self.name!r} needs an immediate funct7 in {_fmt_range(self.funct7_range)}, got {imm}"
                )
            return function_id(imm, self.funct3)
        if imm is not None:
            raise ExtensionError(f"op {self.name!r} has a fixed funct7={self.funct7} and takes no immediate")
        return function_id(self.funct7, self.funct3)

    def insn(self, imm: int | None = None) -> str:
        """The assembler text of the instruction without its registers: ``.insn r 0x0B, f3, f7``."""
        self.function_id(imm)  # checks the immediate
        return f".insn r 0x{OPCODE:02X}, {self.funct3}, {imm if self.has_imm else self.funct7}"

    @property
    def function_ids(self) -> frozenset[int]:
        if self.has_imm:
            return frozenset(function_id(i, self.funct3) for i in self.funct7_range)
        return frozenset({function_id(self.funct7, self.funct3)})


def _fmt_range(r: range | None) -> str:
    if r is None:
        return "None"
    return f"[{r.start}, {r.stop - 1}]" + (f" step {r.step}" if r.step != 1 else "")


def _verilog_const(value: int, bits: int) -> str:
    return f"{bits}'h{value & ((1 << bits) - 1):x}"


# funct3 -> funct3 applied to the ops of every Extension made while it is set (funct3_remapped)
_FUNCT3_MAP: contextvars.ContextVar[dict[int, int] | None] = contextvars.ContextVar("isaforge_funct3_map",
                                                                                     default=None)


@contextlib.contextmanager
def funct3_remapped(mapping: Mapping[int, int]):
    """Extensions constructed inside the block get their ops' funct3 values re-encoded by ``mapping``
    (funct3 -> funct3; values not in it stay). Why a context: a generator attaches its tensor
    intrinsics to the Extension it builds (they hold the ops' encodings), so re-encoding a unit means
    building it again with the new encodings, through the unchanged generator
    (``isa_ext.candidates.build_candidate`` of a spec with a ``funct3`` parameter)."""
    m = {int(k): int(v) for k, v in dict(mapping).items()}
    if any(not (0 <= x <= 7) for kv in m.items() for x in kv):
        raise ExtensionError(f"funct3 remap {m}: values must be in [0, 7]")
    token = _FUNCT3_MAP.set(m)
    try:
        yield m
    finally:
        _FUNCT3_MAP.reset(token)


@dataclass(eq=False)
class Extension:
    """Everything about one custom instruction set; see the module docstring."""

    name: str
    ops: tuple[Op, ...]
    latency: int = 0
    issue_interval: int = 1
    state: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    semantics: dict[str, Callable] = field(default_factory=dict)
    c_ops: dict[str, str] = field(default_factory=dict)
    verilog_comb: str = ""
    verilog_seq: str = ""
    c_helpers: str = ""
    state_init: dict[str, int] = field(default_factory=dict)
    doc: str = ""
    # Optional verification hooks: stimulus(rng, n) -> [(op name, imm, rs1, rs2)], and fixed edge cases.
    stimulus: Callable | None = None
    edge_cases: Sequence[tuple[str, int | None, int, int]] = ()
    intrinsics: list = field(default_factory=list)  # filled later by tensorize
    # Optional: isa_ext.verify.LaneSweep declarations of ops whose operands are packed 8/16-bit lanes, so
    # verify covers every lane pair; the lane op of a dot / mac-tile intrinsic needs none.
    lane_sweeps: Sequence = ()

    # ------------------------------------------------------------------ validation
    def __post_init__(self):
        self.ops = tuple(self.ops)
        remap = _FUNCT3_MAP.get()
        if remap:
            self.ops = tuple(dataclasses.replace(op, funct3=remap.get(op.funct3, op.funct3))
                             if isinstance(op, Op) else op for op in self.ops)
        self.state = {k: (str(v[0]), tuple(int(d) for d in v[1])) for k, v in dict(self.state).items()}
        where = f"extension {self.name!r}"
        if not isinstance(self.name, str) or not _IDENT.match(self.name):
            raise ExtensionError(f"{where}: name must be a lower-case C identifier")
        if not self.ops:
            raise ExtensionError(f"{where}: has no ops")
        if not (0 <= self.latency <= 255):
            raise ExtensionError(f"{where}: latency must be in [0, 255], got {self.latency}")
        if self.issue_interval < 1:
            raise ExtensionError(f"{where}: issue_interval must be >= 1")
        seen_names: set[str] = set()
        owner: dict[int, str] = {}
        for op in self.ops:
            if not isinstance(op, Op):
                raise ExtensionError(f"{where}: ops must be isa_ext.Op, got {op!r}")
            if not _IDENT.match(op.name):
                raise ExtensionError(f"{where}: op name {op.name!r} is not a lower-case C identifier")
            if op.name in seen_names or op.name == "reset":
                raise ExtensionError(f"{where}: duplicate or reserved op name {op.name!r}")
            seen_names.add(op.name)
            if not (0 <= op.funct3 <= 7):
                raise ExtensionError(f"{where}: op {op.name!r}: funct3 {op.funct3} not in [0, 7]")
            if op.funct7 is None:
                r = op.funct7_range
                if not isinstance(r, range) or len(r) == 0 or r.step != 1 or r.start < 0 or r.stop > 128:
                    raise ExtensionError(
                        f"{where}: op {op.name!r}: an immediate funct7 needs funct7_range = a non-empty "
                        f"range(lo, hi) within [0, 127] with step 1, got {r!r}"
                    )
            else:
                if not (0 <= op.funct7 <= 127):
                    raise ExtensionError(f"{where}: op {op.name!r}: funct7 {op.funct7} not in [0, 127]")
                if op.funct7_range is not None:
                    raise ExtensionError(f"{where}: op {op.name!r}: funct7_range given with a fixed funct7")
            for fid in sorted(op.function_ids):
                if fid in owner:
                    raise ExtensionError(
                        f"{where}: ops {owner[fid]!r} and {op.name!r} share function_id {describe_fid(fid)}"
                    )
                owner[fid] = op.name
            for what, table in (("semantics", self.semantics), ("c_ops", self.c_ops)):
                if op.name not in table:
                    raise ExtensionError(f"{where}: op {op.name!r} has no entry in {what}")
        for what, table in (("semantics", self.semantics), ("c_ops", self.c_ops)):
            extra = set(table) - seen_names
            if extra:
                raise ExtensionError(f"{where}: {what} names unknown ops {sorted(extra)}")
        for sname, (dtype, shape) in self.state.items():
            if not _IDENT.match(sname) or sname in ("rd", "fid", "funct3", "funct7", "rs1", "rs2", "fire"):
                raise ExtensionError(f"{where}: bad state name {sname!r}")
            if dtype not in DTYPES:
                raise ExtensionError(f"{where}: state {sname!r}: dtype {dtype!r} not in {sorted(DTYPES)}")
            if len(shape) > 1 or any(d < 1 for d in shape):
                raise ExtensionError(f"{where}: state {sname!r}: shape must be () or (n,), got {shape}")
        for sname in self.state_init:
            if sname not in self.state:
                raise ExtensionError(f"{where}: state_init names unknown state {sname!r}")
        if not self.verilog_comb.strip():
            raise ExtensionError(f"{where}: verilog_comb is empty (it must drive rd)")
        self._by_name = {op.name: op for op in self.ops}
        self._by_fid = {}
        for op in self.ops:
            if op.has_imm:
                for imm in op.funct7_range:
                    self._by_fid[function_id(imm, op.funct3)] = (op, imm)
            else:
                self._by_fid[function_id(op.funct7, op.funct3)] = (op, None)

    # ------------------------------------------------------------------ encodings
    @property
    def prefix(self) -> str:
        return f"isaforge_{self.name}_"

    @property
    def module_name(self) -> str:
        return f"isaforge_{self.name}_cfu"

    @property
    def function_ids(self) -> frozenset[int]:
        return frozenset(self._by_fid)

    def op(self, name: str) -> Op:
        try:
            return self._by_name[name]
        except KeyError:
            raise ExtensionError(f"extension {self.name!r} has no op {name!r} (ops: {list(self._by_name)})") from None

    def decode(self, fid: int) -> tuple[Op, int | None]:
        """The op (and immediate) a function_id selects."""
        try:
            return self._by_fid[fid]
        except KeyError:
            raise ExtensionError(f"extension {self.name!r} has no op with function_id {describe_fid(fid)}") from None

    def c_name(self, op: str) -> str:
        return self.prefix + self.op(op).name

    # ------------------------------------------------------------------ reference
    def initial_state(self) -> dict[str, np.ndarray]:
        out = {}
        for sname, (dtype, shape) in self.state.items():
            out[sname] = np.full(shape, self.state_init.get(sname, 0), dtype=dtype)
        return out

    def reference(self, op: str, rs1: int, rs2: int, state: dict | None = None, imm: int | None = None):
        """Reference semantics of one instruction: returns (rd as uint32, new state).

        ``state`` (as from :meth:`initial_state`) is not modified; None means the reset state.
        """
        o = self.op(op)
        o.function_id(imm)  # validates the immediate
        st = self.initial_state() if state is None else {k: np.array(v, copy=True) for k, v in state.items()}
        rd = self._step(o, rs1, rs2, imm, st)
        return rd, st

    def _step(self, op: Op, rs1: int, rs2: int, imm: int | None, st: dict) -> int:
        """Run one op on ``st`` in place; return rd as uint32."""
        return int(self.semantics[op.name](int(rs1) & MASK32, int(rs2) & MASK32, imm, st)) & MASK32

    # ------------------------------------------------------------------ C
    def _template_map(self) -> dict[str, str]:
        m = {"p": self.prefix}
        m.update({s: self.prefix + s for s in self.state})
        return m

    def _subst(self, text: str, what: str) -> str:
        try:
            return Template(text).substitute(self._template_map())
        except (KeyError, ValueError) as e:
            raise ExtensionError(f"extension {self.name!r}: bad template in {what}: {e}") from None

    def _c_signature(self, op: Op) -> str:
        args = "uint32_t imm, uint32_t rs1, uint32_t rs2" if op.has_imm else "uint32_t rs1, uint32_t rs2"
        return f"ISAFORGE_EXT_INLINE uint32_t {self.prefix}{op.name}({args})"

    def _c_op_comment(self, op: Op) -> str:
        if op.has_imm:
            enc = f"funct3={op.funct3}, funct7=imm in {_fmt_range(op.funct7_range)}"
        else:
            enc = f"funct3={op.funct3}, funct7={op.funct7}, function_id=0x{op.function_id():03x}"
        kind = "stateful" if op.stateful else "stateless"
        doc = f": {op.doc}" if op.doc else ""
        return f"/* {op.name} ({enc}; {kind}){doc} */"

    def c_source(self, target) -> str:
        """C99 definitions of every op as static inline functions for ``target`` (one of :data:`TARGETS`,
        or a codegen_c Target, which names its flavour as ``intrinsic_abi``).

        * ``"host"``: the C model; state lives in static variables of the including translation unit;
          ``isaforge_<ext>_reset()`` restores the reset state.
        * ``"rv32im"``: inline asm ``.insn r 0x0B, f3, f7, rd, rs1, rs2``. Immediate-funct7 ops take the
          immediate as first argument; it must be an integer constant expression for a single
          instruction (a switch over the legal immediates folds away once inlined).
        * ``"verilator"``: calls ``isaforge_cfu_call(function_id, rs1, rs2)`` of a co-simulation library.
        """
        target = c_flavour(target)
        guard = f"ISAFORGE_{self.name.upper()}_H"
        lines = [
            f"/* isaforge ISA extension '{self.name}' -- C for target '{target}' (generated, do not edit). */",
        ]
        if self.doc:
            lines.append(f"/* {self.doc} */")
        lines += [f"#ifndef {guard}", f"#define {guard}", "#include <stdint.h>", "", *_C_PRELUDE, ""]
        lines += {"host": self._c_host, "rv32im": self._c_rv32, "verilator": self._c_verilator}[target]()
        lines += [f"#endif /* {guard} */", ""]
        return "\n".join(lines)

    def _c_host(self) -> list[str]:
        out = []
        for sname, (dtype, shape) in self.state.items():
            ctype = DTYPES[dtype][2]
            init = self.state_init.get(sname, 0)
            var = self.prefix + sname
            if shape:
                init_txt = "" if init == 0 else " = {" + ", ".join([_c_int(init, dtype)] * shape[0]) + "}"
                out.append(f"ISAFORGE_EXT_STATE {ctype} {var}[{shape[0]}]{init_txt};")
            else:
                init_txt = "" if init == 0 else f" = {_c_int(init, dtype)}"
                out.append(f"ISAFORGE_EXT_STATE {ctype} {var}{init_txt};")
        if self.state:
            out.append("")
        out.append(f"ISAFORGE_EXT_INLINE void {self.prefix}reset(void) {{")
        for sname, (dtype, shape) in self.state.items():
            var = self.prefix + sname
            val = _c_int(self.state_init.get(sname, 0), dtype)
            if shape:
                out.append(f"    for (int i = 0; i < {shape[0]}; ++i) {var}[i] = {val};")
            else:
                out.append(f"    {var} = {val};")
        out += ["}", ""]
        if self.c_helpers.strip():
            out += [self._subst(self.c_helpers, "c_helpers").strip("\n"), ""]
        for op in self.ops:
            body = self._subst(_dedent(self.c_ops[op.name]), f"c_ops[{op.name!r}]").strip("\n")
            out.append(self._c_op_comment(op))
            out.append(self._c_signature(op) + " {")
            out.append("    (void)rs1; (void)rs2;" + (" (void)imm;" if op.has_imm else ""))
            out += ["    " + line if line.strip() else "" for line in body.splitlines()]
            out += ["}", ""]
        return out

    def _c_rv32(self) -> list[str]:
        out = [
            "#ifndef ISAFORGE_CFU_ORDER",
            "#ifdef ISAFORGE_CFU_IN_ORDER",
            "#define ISAFORGE_CFU_ORDER __volatile__",
            "#else",
            "#define ISAFORGE_CFU_ORDER",
            "#endif",
            "#endif",
        ]
        for op in self.ops:
            # Stateless ops may be scheduled freely by the compiler, unless the build defines
            # ISAFORGE_CFU_IN_ORDER: on VexRiscv, compilers hoist every CFU op of an unrolled tile
            # ahead of its adds and spill, so keeping program order is a tuning knob (a -D flag).
            vol = " __volatile__" if op.stateful else " ISAFORGE_CFU_ORDER"
            out.append(self._c_op_comment(op))
            out.append(self._c_signature(op) + " {")
            out.append("    uint32_t rd = 0;")
            if op.has_imm:
                out.append("    switch (imm) {")
                for imm in op.funct7_range:
                    out.append(
                        f'    case {imm}u: __asm__{vol}("{op.insn(imm)}, %0, %1, %2"'
                        ' : "=r"(rd) : "r"(rs1), "r"(rs2)); break;'
                    )
                out.append("    default: break;")
                out.append("    }")
            else:
                out.append(
                    f'    __asm__{vol}("{op.insn()}, %0, %1, %2"'
                    ' : "=r"(rd) : "r"(rs1), "r"(rs2));'
                )
            out += ["    return rd;", "}", ""]
        return out

    def _c_verilator(self) -> list[str]:
        out = [
            "#ifndef ISAFORGE_CFU_CALL_DECLARED",
            "#define ISAFORGE_CFU_CALL_DECLARED",
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            "extern uint32_t isaforge_cfu_call(uint32_t function_id, uint32_t rs1, uint32_t rs2);",
            "#ifdef __cplusplus",
            "}",
            "#endif",
            "#endif",
            "",
        ]
        for op in self.ops:
            out.append(self._c_op_comment(op))
            out.append(self._c_signature(op) + " {")
            if op.has_imm:
                out.append(f"    return isaforge_cfu_call(((imm & 0x7Fu) << 3) | {op.funct3}u, rs1, rs2);")
            else:
                out.append(f"    return isaforge_cfu_call(0x{op.function_id():03x}u, rs1, rs2);")
            out += ["}", ""]
        return out

    # ------------------------------------------------------------------ Verilog
    def verilog(self) -> str:
        """A CFU module ``isaforge_<ext>_cfu`` (CFU-Playground / LiteX port names).

        latency 0: combinational; cmd_ready = rsp_ready and rsp_valid = cmd_valid, the response is
        given in the cycle of the command, state is updated on the clock edge that accepts it.
        latency L >= 1: the result is registered when the command is accepted and rsp_valid rises L
        cycles later; a new command is accepted when the unit is idle or its response is being taken.
        """
        m = self.module_name
        v = [
            f"// isaforge ISA extension '{self.name}' (generated, do not edit).",
        ]
        if self.doc:
            v.append(f"// {self.doc}")
        v.append(f"// latency {self.latency}, issue interval {self.issue_interval}.")
        for op in self.ops:
            v.append("// " + self._c_op_comment(op)[3:-3])
        v += [
            *cfu_module_header(m),
            "    wire [9:0]  fid    = cmd_payload_function_id;",
            "    wire [2:0]  funct3 = fid[2:0];",
            "    wire [6:0]  funct7 = fid[9:3];",
            "    wire [31:0] rs1    = cmd_payload_inputs_0;",
            "    wire [31:0] rs2    = cmd_payload_inputs_1;",
        ]
        for op in self.ops:
            if op.has_imm:
                lo, hi = op.funct7_range.start, op.funct7_range[-1]
                conds = [f"funct3 == 3'd{op.funct3}"]
                if lo > 0:
                    conds.append(f"funct7 >= 7'd{lo}")
                if hi < 127:
                    conds.append(f"funct7 <= 7'd{hi}")
                v.append(f"    wire op_{op.name} = " + " && ".join(f"({c})" for c in conds) + ";")
            else:
                v.append(f"    wire op_{op.name} = (fid == 10'h{op.function_id():03x});")
        v.append("    wire fire;")
        for sname, (dtype, shape) in self.state.items():
            bits = DTYPES[dtype][0]
            dims = f" [0:{shape[0] - 1}]" if shape else ""
            v.append(f"    reg  [{bits - 1}:0] {sname}{dims};")
        v += ["    reg  [31:0] rd;", "", "    // ---- datapath", self.verilog_comb.strip("\n").rstrip(), ""]
        v.append("    // ---- handshake")
        if self.latency == 0:
            v += [
                "    assign cmd_ready = rsp_ready;",
                "    assign rsp_valid = cmd_valid;",
                "    assign rsp_payload_outputs_0 = rd;",
                "    assign fire = cmd_valid & rsp_ready;",
            ]
        else:
            v += [
                "    reg  [7:0]  busy_cnt;",
                "    reg  [31:0] out_r;",
                "    assign cmd_ready = (busy_cnt == 8'd0) || ((busy_cnt == 8'd1) && rsp_ready);",
                "    assign fire = cmd_valid & cmd_ready;",
                "    assign rsp_valid = (busy_cnt == 8'd1);",
                "    assign rsp_payload_outputs_0 = out_r;",
                "    always @(posedge clk) begin",
                "        if (reset) begin",
                "            busy_cnt <= 8'd0;",
                "            out_r <= 32'd0;",
                "        end else if (fire) begin",
                f"            busy_cnt <= 8'd{self.latency};",
                "            out_r <= rd;",
                "        end else if (busy_cnt > 8'd1) begin",
                "            busy_cnt <= busy_cnt - 8'd1;",
                "        end else if ((busy_cnt == 8'd1) && rsp_ready) begin",
                "            busy_cnt <= 8'd0;",
                "        end",
                "    end",
            ]
        v.append("")
        v.append("    // ---- state")
        if self.state or self.verilog_seq.strip():
            if any(shape for _, shape in self.state.values()):
                v.append("    integer isaforge_i;")
            v += ["    always @(posedge clk) begin", "        if (reset) begin"]
            for sname, (dtype, shape) in self.state.items():
                bits = DTYPES[dtype][0]
                val = _verilog_const(self.state_init.get(sname, 0), bits)
                if shape:
                    v.append(
                        f"            for (isaforge_i = 0; isaforge_i < {shape[0]}; isaforge_i = isaforge_i + 1)"
                        f" {sname}[isaforge_i] <= {val};"
                    )
                else:
                    v.append(f"            {sname} <= {val};")
            v += ["        end else if (fire) begin"]
            v += ["    " + line if line.strip() else "" for line in self.verilog_seq.strip("\n").rstrip().splitlines()]
            v += ["        end", "    end"]
        v += ["endmodule", ""]
        return "\n".join(v)

    def cosim_library(self, exts=None):
        """The Verilator co-simulation library of ``exts`` (default: this extension) on one CFU."""
        from isa_ext.extset import ExtensionSet

        return ExtensionSet(exts or [self]).cosim_library()

    def __repr__(self) -> str:
        return f"Extension({self.name!r}, ops={[o.name for o in self.ops]}, fids={len(self.function_ids)})"


# Shared by every extension's C (guarded, so several extensions can be concatenated). GCC and clang
# get `unused` (no -Wunused-function for ops a kernel does not call) and `always_inline` (so an
# immediate funct7 passed as a constant folds to a single instruction even at -O0/-Os).
_C_PRELUDE = (
    "#ifndef ISAFORGE_EXT_INLINE",
    "#if defined(__GNUC__)",
    "#define ISAFORGE_EXT_INLINE static inline __attribute__((unused, always_inline))",
    "#define ISAFORGE_EXT_STATE static __attribute__((unused))",
    "#else",
    "#define ISAFORGE_EXT_INLINE static inline",
    "#define ISAFORGE_EXT_STATE static",
    "#endif",
    "#endif",
)


def _c_int(value: int, dtype: str) -> str:
    bits, signed, _ = DTYPES[dtype]
    value = sext(value, bits) if signed else value & ((1 << bits) - 1)
    if signed and value == -(1 << (bits - 1)):
        return f"({value + 1} - 1)"
    return f"{value}" if signed else f"{value}u"


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def collect_ops(exts: Iterable[Extension]) -> list[tuple[Extension, Op]]:
    return [(e, o) for e in exts for o in e.ops]
