"""Loop IR -> one freestanding C99 translation unit.

The output includes only stdint.h and stddef.h, needs no runtime, and is byte-for-byte
deterministic for a given PrimFunc and target.
"""

from __future__ import annotations

import math
import re

import numpy as np

from tir import dtype as dt
from tir.errors import CodegenError, ScheduleError
from tir.expr import BinOp, BufferLoad, Call, Cast, Cmp, Const, Expr, Not, Ramp, Select, Var, key, same
from tir.simplify import Lin, Ranges, linear, simplify
from tir.stmt import Allocate, Buffer, Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store
from tir.visit import walk

INF = math.inf

TARGETS = ("host", "verilator", "rv32im")
# targets that are the same C as another one (the SoC simulation runs the rv32im code)
ALIASES = {"vexriscv": "rv32im"}
THREADED = {"host", "verilator"}

# Names a sanitized identifier must not be: it would be a keyword, a macro or type of the two headers
# every kernel includes, or a symbol the rv32 runtime / driver or the co-simulation glue defines
# (a kernel named memset would be called by the compiler's own memset calls; one named _start would
# clash at link time). Identifiers that start with "_" and the "isaforge_" namespace are handled by
# prefix in sanitize().
_C_KEYWORDS = """auto break case char const continue default do double else enum extern float for goto
if inline int long register restrict return short signed sizeof static struct switch typedef union
unsigned void volatile while _Bool _Complex _Imaginary
_Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local
alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual
_BitInt _Decimal32 _Decimal64 _Decimal128
asm fortran linux unix i386""".split()
# stdint.h / stddef.h: every type and macro they define (C99 to C23), non-reserved spellings
_HEADER_NAMES = """NULL offsetof size_t ptrdiff_t wchar_t max_align_t nullptr_t unreachable
intptr_t uintptr_t intmax_t uintmax_t
INTPTR_MIN INTPTR_MAX UINTPTR_MAX INTMAX_MIN INTMAX_MAX UINTMAX_MAX INTMAX_C UINTMAX_C
INTPTR_WIDTH UINTPTR_WIDTH INTMAX_WIDTH UINTMAX_WIDTH
PTRDIFF_MIN PTRDIFF_MAX PTRDIFF_WIDTH SIZE_MAX SIZE_WIDTH SIG_ATOMIC_MIN SIG_ATOMIC_MAX SIG_ATOMIC_WIDTH
WCHAR_MIN WCHAR_MAX WCHAR_WIDTH WINT_MIN WINT_MAX WINT_WIDTH""".split()
for _n in (8, 16, 32, 64):
    for _kind in ("", "_LEAST", "_FAST"):
        _HEADER_NAMES += [f"int{_kind.lower()}{_n}_t", f"uint{_kind.lower()}{_n}_t",
                          f"INT{_kind}{_n}_MIN", f"INT{_kind}{_n}_MAX", f"UINT{_kind}{_n}_MAX",
                          f"INT{_kind}{_n}_WIDTH", f"UINT{_kind}{_n}_WIDTH"]
    _HEADER_NAMES += [f"INT{_n}_C", f"UINT{_n}_C"]
# simulator/runtime (crt0.S, isaforge_rt.c, link.ld.in), the driver main.c of simulator/vexriscv.py and
# the libraries the cross compilers link (libgcc / compiler_rt symbols all start with "__"); every other
# symbol of the runtime, the driver, the extensions' C and the verilator co-simulation glue
# (isa_ext/cfu.py) starts with isaforge_ / ISAFORGE_ or "_"
_RUNTIME_NAMES = "main _start memset memcpy memmove memcmp".split()
_C_RESERVED = set(_C_KEYWORDS) | set(_HEADER_NAMES) | set(_RUNTIME_NAMES)
# the locals and parameters of the driver's main() that calls the kernel by name: a kernel named like
# one of them would be shadowed there
_KERNEL_RESERVED = "c0 i0 c1 i1 oc oi".split()

# Integer division and modulo with numpy's semantics, the same C on every target (C leaves x / 0 and
# INT32_MIN / -1 undefined: SIGFPE on x86, silent and different on RISC-V): floor rounding, x // 0 == 0,
# x % 0 == 0, INT32_MIN // -1 wraps to INT32_MIN, x % -1 == 0. Narrow signed types go through the int32
# helpers (C promotes them to int) and are cast back, which wraps int8 -128 // -1 to -128 as numpy does.
_HELPERS = {
    "floordiv": "static inline int32_t isaforge_floordiv(int32_t a, int32_t b) {\n"
                "  if (b == 0) return 0;\n"
                "  if (b == -1) return (int32_t)(0u - (uint32_t)a);\n"
                "  int32_t q = a / b;\n  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;\n}\n",
    "floormod": "static inline int32_t isaforge_floormod(int32_t a, int32_t b) {\n"
                "  if (b == 0 || b == -1) return 0;\n"
                "  int32_t r = a % b;\n  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;\n}\n",
    "udiv": "static inline uint32_t isaforge_udiv(uint32_t a, uint32_t b) { return b ? a / b : 0u; }\n",
    "umod": "static inline uint32_t isaforge_umod(uint32_t a, uint32_t b) { return b ? a % b : 0u; }\n",
    "load32": "typedef uint32_t __attribute__((may_alias, aligned(4))) isaforge_word_t;\n"
              "static inline uint32_t isaforge_load32(const void *p) {\n"
              "  return *(const isaforge_word_t *)p;\n}\n",
}


WORDS = 8  # operand words a CFU block keeps in registers at once


def _ramps(st) -> list:
    exprs = [st.value] if isinstance(st, Evaluate) else [st.value, *st.indices]
    return [n for e in exprs for n in walk(e) if isinstance(n, Ramp)]


def _is_intrinsic_stmt(st) -> bool:
    """An Evaluate of an intrinsic call, or a store whose value calls one."""
    if isinstance(st, Evaluate):
        return _is_unit_call(st.value)
    if isinstance(st, Store):
        return any(_is_unit_call(n) for n in walk(st.value))
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


def canonical_target(target: str) -> str:
    t = ALIASES.get(target, target)
    if t not in TARGETS:
        raise CodegenError(f"unknown target {target!r}; expected one of {', '.join(TARGETS + tuple(ALIASES))}")
    return t


def sanitize(name: str, kernel: bool = False) -> str:
    """A valid C identifier for a name (dots and other symbols become underscores) that is no C keyword,
    no name stdint.h / stddef.h define, no symbol of the rv32 runtime and driver, and outside the
    reserved ``_...`` and ``isaforge_`` namespaces; ``kernel``: also usable as the kernel's function name
    in the rv32 driver. Deterministic; a reserved name gets a suffix ``_`` (never reserved itself),
    a name starting with a digit, ``_`` or ``isaforge_`` (any case) the prefix ``v_`` / ``v``."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not s or s[0].isdigit() or s.lower().startswith("isaforge_"):
        s = "v_" + s
    elif s[0] == "_":
        # _X and __x are the implementation's (predefined macros, builtins, libgcc, linker symbols)
        s = "v" + s
    if s in _C_RESERVED or (kernel and s in _KERNEL_RESERVED):
        s += "_"
    return s


_CPREC = {"*": 13, "/": 13, "%": 13, "+": 12, "-": 12, "<": 10, "<=": 10, ">": 10, ">=": 10,
          "==": 9, "!=": 9, "&&": 5, "||": 4}


def _minmax_helper(op: str, ctype: str) -> tuple[str, str]:
    fname = f"isaforge_{op}_{ctype.replace('_t', '')}"
    rel = ">" if op == "max" else "<"
    # floats: NaN propagates from either side, as numpy.maximum / numpy.minimum and np.max / np.min do
    # (a != a only for a NaN; a NaN b fails the comparison and is returned)
    cond = f"(a {rel} b || a != a)" if ctype == "float" else f"a {rel} b"
    code = f"static inline {ctype} {fname}({ctype} a, {ctype} b) {{ return {cond} ? a : b; }}\n"
    return fname, code


def _f2i_helper(dtype: str) -> tuple[str, str]:
    """A saturating float -> ``dtype`` conversion: NaN gives 0, values beyond the range its limit."""
    ct = dt.c_type(dtype)
    fname = f"isaforge_f2{ct.replace('_t', '')}"
    lo, hi = dt.min_value(dtype), dt.max_value(dtype)
    # both limits + 1 are powers of two (exact in float32); `x < hi + 1` keeps (ct)x defined
    code = (f"static inline {ct} {fname}(float x) {{\n"
            f"  if (x != x) return 0;\n"
            f"  if (x <= {float(lo)!r}f) return {_int_literal(lo, dtype)};\n"
            f"  if (x >= {float(hi + 1)!r}f) return {_int_literal(hi, dtype)};\n"
            f"  return ({ct})x;\n}}\n")
    return fname, code


def _int_literal(v: int, dtype: str) -> str:
    return _const_str(Const(v, dtype))


def _const_str(c: Const) -> str:
    v = c.value
    if c.dtype == "bool":
        return "1" if v else "0"
    if c.dtype == "float32":
        with np.errstate(over="ignore"):  # a double beyond float32 is inf, as the C float literal would be
            f = np.float32(v)
        if np.isnan(f):
            return '__builtin_nanf("")'
        if np.isinf(f):
            return "__builtin_inff()" if f > 0 else "(-__builtin_inff())"
        # the shortest decimal that reads back as exactly this float32 (a C float literal is rounded
        # once, from the decimal: printing the double would round twice)
        if f == 0 or 1e-4 <= abs(f) < 1e16:
            s = np.format_float_positional(f, unique=True, trim="0")
        else:
            s = np.format_float_scientific(f, unique=True, trim="0")
        return s + "f"
    if c.dtype == "uint32":
        return f"{v}u"
    if c.dtype == "int32" and v == -(2 ** 31):
        return "(-2147483647 - 1)"
    if v < 0:
        return f"({v})"
    return str(v)


def _full(dtype: str) -> tuple[float, float]:
    """The values of ``dtype`` (floats: unbounded)."""
    if dt.is_float(dtype):
        return (-INF, INF)
    return (dt.min_value(dtype), dt.max_value(dtype))


_INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)  # C's int on every target: the type narrow operands promote to


class _Emitter:
    def __init__(self, func: PrimFunc, target: str):
        self.func, self.target = func, target
        self.names: dict[int, str] = {}
        self.used: set[str] = set()
        self.helpers: dict[str, str] = {}
        self.ranges: Ranges = {}
        # bounds of every loop variable (also those whose loop starts at a non-constant), for proving
        # that signed C arithmetic does not overflow; self.ranges (constant-start loops) drives simplify
        self.vranges: Ranges = {}
        self.exact_memo: dict[int, tuple] = {}  # id(expr) -> (expr, _exact bounds)
        self.lines: list[str] = []
        self.words: dict = {}  # Ramp key -> local holding the loaded word (inside a CFU block)
        self.temps = 0
        self.word_buffers: set[int] = set()
        # operand words a CFU block loads ahead (0: leave the order to the C compiler); a loop
        # pragma "cfu_words" sets it for the loops it encloses
        self.cfu_words = WORDS
        # pragma "cfu_asm": place the loads, CFU instructions and adds of a CFU block one volatile asm
        # statement each, in the order emit_cfu_asm picks (the C compiler only allocates registers)
        self.cfu_asm = 0
        # local elements known to hold 0 here (straight-line code since their zero store): a CFU
        # instruction in asm mode writes its result straight into them instead of adding
        self.zeros: dict[str, int] = {}

    def name(self, obj, hint: str) -> str:
        n = self.names.get(id(obj))
        if n is None:
            base = sanitize(hint)
            n, i = base, 1
            while n in self.used:
                n, i = f"{base}_{i}", i + 1
            self.used.add(n)
            self.names[id(obj)] = n
        return n

    def helper(self, key: str, code: str | None = None) -> None:
        self.helpers.setdefault(key, code if code is not None else _HELPERS[key])

    # expressions ---------------------------------------------------------------------------------
    def flat_expr(self, buf: Buffer, indices) -> Expr:
        if len(indices) != len(buf.shape):
            raise CodegenError(f"buffer {buf.name} has {len(buf.shape)} dims, indexed with {len(indices)}")
        e: Expr = Const(0, "int32")
        stride = 1
        for i, n in zip(reversed(indices), reversed(buf.shape)):
            e = BinOp("+", e, BinOp("*", i, Const(stride, "int32"), "int32"), "int32")
            stride *= n
        return simplify(e, self.ranges)

    def flat(self, buf: Buffer, indices) -> str:
        return self.expr(self.flat_expr(buf, indices))

    def element(self, buf: Buffer, indices) -> str:
        """The C lvalue of one element: ``name[flat index]``."""
        return f"{self.names[id(buf)]}[{self.flat(buf, indices)}]"

    def expr(self, e: Expr) -> str:
        return self._p(e)[0]

    def _sub(self, e: Expr, prec: int, right: bool = False) -> str:
        s, p = self._p(e)
        return f"({s})" if p < prec or (right and p == prec) else s

    def _p(self, e: Expr) -> tuple[str, int]:
        """C text of ``e`` and its precedence (higher binds tighter), for minimal parentheses."""
        if isinstance(e, Const):
            s = _const_str(e)
            return s, (16 if not s.startswith("(") else 16)
        if isinstance(e, Var):
            if id(e) not in self.names:
                raise CodegenError(f"variable {e.name!r} is used outside its loop")
            return self.names[id(e)], 16
        if isinstance(e, BinOp):
            return self.binop(e)
        if isinstance(e, Cmp):
            p = _CPREC[e.op]
            # a truth value compared with another is parenthesized (gcc's -Wparentheses and
            # -Wlogical-not-parentheses warn on `a > b == c < d` and `!a == b`)
            q = 15 if e.a.dtype == "bool" else p
            return f"{self._sub(e.a, q)} {e.op} {self._sub(e.b, q, True)}", p
        if isinstance(e, Not):
            return f"!{self._sub(e.a, 14)}", 14
        if isinstance(e, Cast):
            if e.dtype == "bool":
                return f"{self._sub(e.value, 10)} != 0", 9
            if dt.is_float(e.value.dtype) and dt.is_int(e.dtype):
                # C leaves an out-of-range float -> int conversion undefined: saturate (NaN -> 0),
                # the rule tir.evaluate defines
                fname, code = _f2i_helper(e.dtype)
                self.helper(fname, code)
                return f"{fname}({self.expr(e.value)})", 16
            return f"({dt.c_type(e.dtype)}){self._sub(e.value, 14)}", 14
        if isinstance(e, Select):
            return f"{self._sub(e.cond, 4)} ? {self._sub(e.t, 3)} : {self._sub(e.f, 3)}", 3
        if isinstance(e, BufferLoad):
            return self.element(e.buffer, e.indices), 16
        if isinstance(e, Ramp):
            self.helper("load32")
            word = self.words.get(key(e))
            if word is not None:
                return word, 16
            return f"isaforge_load32(&{self.element(e.buffer, e.indices)})", 16
        if isinstance(e, Call):
            args = [str(i) for i in e.imm] + [self.expr(a) for a in e.args]
            return f"{e.op.c_name}({', '.join(args)})", 16
        raise CodegenError(f"cannot emit expression node {type(e).__name__}")

    # integer bounds --------------------------------------------------------------------------------
    def vbound(self, e: Expr) -> tuple[float, float]:
        """Inclusive bounds of the value the emitted C gives ``e``: within its dtype, since an operation
        that may leave the range is emitted to wrap around (unbounded for floats)."""
        full = _full(e.dtype)
        lo, hi = self._exact(e)
        return (lo, hi) if full[0] <= lo and hi <= full[1] else full

    def _exact(self, e: Expr) -> tuple[float, float]:
        """Bounds of the mathematically exact result of ``e``'s operation on its operands' C values."""
        if isinstance(e, (BinOp, Select, Cast)):
            # memoized: nested operators ask again for every enclosing one. A variable's range is set
            # once, by its loop, before any expression using it is emitted, so the entry stays right.
            hit = self.exact_memo.get(id(e))
            if hit is None or hit[0] is not e:
                hit = self.exact_memo[id(e)] = (e, self._exact_uncached(e))
            return hit[1]
        return self._exact_uncached(e)

    def _exact_uncached(self, e: Expr) -> tuple[float, float]:
        if dt.is_float(e.dtype):
            return (-INF, INF)
        if isinstance(e, Const):
            return (int(e.value), int(e.value))
        if isinstance(e, Var):
            return self.vranges.get(id(e), _full(e.dtype))
        if isinstance(e, (Cmp, Not)):
            return (0, 1)
        if isinstance(e, Select):
            t, f = self.vbound(e.t), self.vbound(e.f)
            return (min(t[0], f[0]), max(t[1], f[1]))
        if isinstance(e, Cast):
            if dt.is_float(e.value.dtype):
                return _full(e.dtype)
            return self.vbound(e.value)
        if not isinstance(e, BinOp):
            return _full(e.dtype)  # loads, calls, words
        if e.op in ("&&", "||"):
            return (0, 1)
        a, b = self.vbound(e.a), self.vbound(e.b)
        if e.op == "+":
            return (a[0] + b[0], a[1] + b[1])
        if e.op == "-":
            return (a[0] - b[1], a[1] - b[0])
        if e.op == "*":
            prods = [0 if x == 0 or y == 0 else x * y for x in a for y in b]
            return (min(prods), max(prods))
        if e.op == "min":
            return (min(a[0], b[0]), min(a[1], b[1]))
        if e.op == "max":
            return (max(a[0], b[0]), max(a[1], b[1]))
        if e.op == "//" and b[0] >= 1 and INF not in (abs(a[0]), abs(a[1]), b[1]):
            qs = [x // y for x in a for y in b]
            return (min(qs), max(qs))
        if e.op == "%" and b[0] >= 1:
            return (0, min(a[1], b[1] - 1) if a[0] >= 0 else b[1] - 1)
        return _full(e.dtype)

    def _wraps(self, e: BinOp) -> bool:
        """Whether C's signed ``int`` arithmetic for ``e`` (+ - *) could overflow (undefined behaviour):
        int32 operands, and narrow ones, which C promotes to int (uint16 * uint16 can overflow int)."""
        if e.dtype == "uint32" or dt.is_float(e.dtype) or e.op not in ("+", "-", "*"):
            return False
        lo, hi = self._exact(e)
        return not (_INT_RANGE[0] <= lo and hi <= _INT_RANGE[1])

    def _usub(self, e: Expr, prec: int, right: bool = False) -> str:
        """C text of ``e`` as a uint32_t operand of an unsigned operator of precedence ``prec``."""
        if isinstance(e, BinOp) and e.dtype == "int32" and self._wraps(e):
            s, p = self._unsigned(e)  # already unsigned: no round trip through int32_t
        elif isinstance(e, Const) and 0 <= e.value < 2 ** 31:
            s, p = f"{e.value}u", 16
        else:
            s, p = f"(uint32_t){self._sub(e, 14)}", 14
        return f"({s})" if p < prec or (right and p == prec) else s

    def _unsigned(self, e: BinOp) -> tuple[str, int]:
        """``e`` (+ - *) computed in uint32_t, where C defines the result modulo 2**32."""
        p = _CPREC[e.op]
        return f"{self._usub(e.a, p)} {e.op} {self._usub(e.b, p, True)}", p

    def binop(self, e: BinOp) -> tuple[str, int]:
        ct = dt.c_type(e.dtype)
        if e.op in ("&&", "||"):
            p = _CPREC[e.op]
            q = _CPREC["&&"] + 1 if e.op == "||" else p  # `a && b || c` draws -Wparentheses: bracket the &&
            return f"{self._sub(e.a, q)} {e.op} {self._sub(e.b, q, True)}", p
        if e.op in ("min", "max"):
            fname, code = _minmax_helper(e.op, ct)
            self.helper(fname, code)
            return f"{fname}({self.expr(e.a)}, {self.expr(e.b)})", 16
        narrow = e.dtype in ("int8", "uint8", "int16", "uint16")
        if e.op in ("//", "%") and dt.is_int(e.dtype):
            cop = "/" if e.op == "//" else "%"
            # plain C division only when it is numpy's: a nonzero (positive) divisor, and for signed
            # types a nonnegative dividend (C truncates, numpy floors; INT_MIN / -1 cannot occur)
            plain = self.vbound(e.b)[0] >= 1 and (not dt.is_signed(e.dtype) or self.vbound(e.a)[0] >= 0)
            if plain:
                s, p = f"{self._sub(e.a, 13)} {cop} {self._sub(e.b, 13, True)}", 13
            else:
                if dt.is_signed(e.dtype):
                    key = "floordiv" if e.op == "//" else "floormod"
                else:
                    key = "udiv" if e.op == "//" else "umod"
                self.helper(key)
                s, p = f"isaforge_{key}({self.expr(e.a)}, {self.expr(e.b)})", 16
        elif self._wraps(e):
            # the IR's integers wrap around (numpy's semantics) but signed overflow is undefined in C:
            # compute in uint32_t (defined modulo 2**32) and convert back. Converting an out-of-range
            # value to a signed type is implementation-defined in C99 (not undefined); gcc and clang
            # define it as modulo 2**N, on every target.
            s, _ = self._unsigned(e)
            if not narrow:
                return f"({ct})({s})", 14
        else:
            p = _CPREC[e.op]
            s = f"{self._sub(e.a, p)} {e.op} {self._sub(e.b, p, True)}"
        if narrow:
            # C promotes narrow operands to int: wrap the result back like numpy does
            return f"({ct})({s})", 14
        return s, p

    # statements ----------------------------------------------------------------------------------
    def emit(self, s: Stmt, ind: int) -> None:
        pad = "  " * ind
        out = self.lines
        if isinstance(s, Seq):
            stmts, i = list(s.stmts), 0
            while i < len(stmts):
                j = i
                while self.target == "rv32im" and self.cfu_words and j < len(stmts) and _is_intrinsic_stmt(stmts[j]):
                    j += 1
                if j - i >= 2:
                    self.emit_cfu_block(stmts[i:j], ind)
                    i = j
                else:
                    self.emit(stmts[i], ind)
                    i += 1
        elif isinstance(s, For):
            v = self.name(s.var, s.var.name)
            lo = self.expr(s.min)
            if isinstance(s.min, Const):
                self.ranges[id(s.var)] = (s.min.value, s.min.value + s.extent - 1)
            lo_b = self.vbound(s.min)
            self.vranges[id(s.var)] = (lo_b[0], lo_b[1] + s.extent - 1)
            hi = str(s.extent) if lo == "0" else f"{lo} + {s.extent}"
            for k, val in s.pragmas:
                text = f"{k}={val}".replace("*/", "* /")
                out.append(f"{pad}/* pragma {text} */")
            if s.kind == "parallel":
                if self.target not in THREADED:
                    raise ScheduleError(f"loop {s.var.name!r}: parallel is not possible on target "
                                        f"{self.target!r}, which has no threads")
                out.append("#ifdef _OPENMP")
                out.append("#pragma omp parallel for")
                out.append("#endif")
            elif s.kind == "vectorize":
                out.append(f"{pad}/* vectorized: a simple loop for the C compiler's vectorizer */")
            out.append(f"{pad}for (int32_t {v} = {lo}; {v} < {hi}; ++{v}) {{")
            saved = self.cfu_words, self.cfu_asm
            for k, val in s.pragmas:
                if k == "cfu_words":
                    self.cfu_words = int(val)
                elif k == "cfu_asm":
                    self.cfu_asm = int(val)
            self.zeros.clear()  # the body runs many times: nothing straight-line holds across it
            self.emit(s.body, ind + 1)
            self.zeros.clear()
            self.cfu_words, self.cfu_asm = saved
            out.append(f"{pad}}}")
        elif isinstance(s, Store):
            lvalue = self.element(s.buffer, s.indices)
            out.append(f"{pad}{lvalue} = {self.expr(s.value)};")
            self.forget_zeros(s.buffer, s.indices, lvalue)
            if (s.buffer.scope == "local" and isinstance(s.value, Const) and s.value.value == 0
                    and all(isinstance(i, Const) for i in s.indices)):
                self.zeros[lvalue] = id(s.buffer)
        elif isinstance(s, IfThen):
            self.zeros.clear()
            out.append(f"{pad}if ({self.expr(s.cond)}) {{")
            self.emit(s.then, ind + 1)
            self.zeros.clear()
            if s.otherwise is not None:
                out.append(f"{pad}}} else {{")
                self.emit(s.otherwise, ind + 1)
                self.zeros.clear()
            out.append(f"{pad}}}")
        elif isinstance(s, Allocate):
            b = s.buffer
            n = self.name(b, b.name)
            # buffers read as packed words need 4-byte aligned elements: say so, don't hope
            align = " __attribute__((aligned(4)))" if id(b) in self.word_buffers else ""
            if b.scope == "global":
                # kernel-level intermediates are static: large arrays stay off the small rv32 stack
                out.append(f"{pad}static {dt.c_type(b.dtype)} {n}[{b.size}]{align};")
                self.emit(s.body, ind)
            else:
                out.append(f"{pad}{{")
                # (void): a tile whose reads a guard removed is still well-formed C under -Werror
                # zeroed: a producer guarded by its domain may skip elements a guarded consumer never
                # reads; C compilers cannot always see that and warn (dead stores are removed anyway)
                out.append(f"{pad}  {dt.c_type(b.dtype)} {n}[{b.size}]{align} = {{0}};")
                out.append(f"{pad}  (void){n};")
                self.emit(s.body, ind + 1)
                out.append(f"{pad}}}")
        elif isinstance(s, Evaluate):
            out.append(f"{pad}{self.expr(s.value)};")
        else:
            raise CodegenError(f"cannot emit statement {type(s).__name__}")

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
            ks = {key(r) for r in _ramps(st)}
            if cur and len(keys | ks) > self.cfu_words:
                # cut where the last group of statements started (one whose words were all new),
                # so that a chunk does not end in the middle of a k step
                starts = [i for i, f in enumerate(fresh) if f and i > 0]
                cut = starts[-1] if starts else len(cur)
                chunks.append(cur[:cut])
                cur = cur[cut:]
                keys = {key(r) for c in cur for r in _ramps(c)}
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
                for r in _ramps(st):
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

    def run(self) -> str:
        f = self.func
        params = []
        for b in f.args:
            n = self.name(b, b.name)
            params.append(f"{dt.c_type(b.dtype)} *restrict {n}")
        fname = sanitize(f.name, kernel=True)
        from tir.printer import iter_stmts

        self.word_buffers = {id(r.buffer) for st in iter_stmts(f.body)
                             if isinstance(st, (Store, Evaluate)) for r in _ramps(st)}
        self.emit(f.body, 1)
        head = ["/* generated by isaforge: do not edit */", "#include <stdint.h>", "#include <stddef.h>", ""]
        for ext in f.extensions:
            head.append(ext.c_source(self.target).rstrip("\n"))
            head.append("")
        # pure ops of the tensor language (tir.quant): their helper definitions, once each
        pure = {c.op.c_name: c.op.c_source for c in f.intrinsic_calls if getattr(c.op, "pure", False)}
        for _n, src in sorted(pure.items()):
            head += [src.rstrip("\n"), ""]
        for name in sorted(self.helpers):
            head.append(self.helpers[name].rstrip("\n"))
        if self.helpers:
            head.append("")
        sig = f"void {fname}({', '.join(params) if params else 'void'})"
        body = [f"  (void){self.names[id(b)]};" for b in f.args]
        return "\n".join(head + [sig + " {"] + body + self.lines + ["}", ""])


def emit(func: PrimFunc, target: str = "host") -> str:
    """Emit ``func`` as one freestanding C99 translation unit for ``target``.

    ``host`` uses each intrinsic's C model, ``verilator`` routes intrinsic calls into the
    verilated RTL, ``rv32im`` (alias ``vexriscv``) emits the custom instructions as inline asm.
    """
    if not isinstance(func, PrimFunc):
        raise CodegenError(f"emit expects a PrimFunc from tir.lower, got {type(func).__name__}")
    return _Emitter(func, canonical_target(target)).run()


def c_function_name(func: PrimFunc) -> str:
    """The C name of the kernel function ``emit`` defines."""
    return sanitize(func.name, kernel=True)
