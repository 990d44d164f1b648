"""Loop IR -> one freestanding C99 translation unit.

The output includes only stdint.h and stddef.h, needs no runtime, and is byte-for-byte
deterministic for a given PrimFunc and target.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from tir import dtype as dt
from tir.errors import CodegenError, ScheduleError
from tir.expr import (
    BITWISE_OPS,
    KIND_CALL,
    KIND_RAMP,
    BinOp,
    BufferLoad,
    Call,
    Cast,
    Cmp,
    Const,
    Expr,
    Not,
    Ramp,
    Select,
    Var,
    kinds,
    shift_amount,
)
from tir.simplify import Ranges, flat_index
from tir.stmt import Allocate, Buffer, Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store
from tir.visit import ExprVisitor, StmtVisitor, contains_ramp, walk

from .target import Target, get_target

INF = math.inf

# the names of the built-in targets (codegen_c.target.get_target resolves each, and "vexriscv", which is
# the same target as "rv32im"); what a target can do is asked of its Target object, never of its name
TARGETS = ("host", "verilator", "rv32im")

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
    # 64-bit shifts by a variable amount (already masked to 0..63) in 32-bit halves: gcc for rv32 calls
    # libgcc's __ashldi3 / __ashrdi3 / __lshrdi3 for them at -Os, and kernels link no runtime library
    "shl64": "static inline uint64_t isaforge_shl64(uint64_t x, uint32_t s) {\n"
             "  uint32_t lo = (uint32_t)x, hi = (uint32_t)(x >> 32);\n"
             "  if (s & 32u) { hi = lo << (s & 31u); lo = 0u; }\n"
             "  else if (s) { hi = (hi << s) | (lo >> (32u - s)); lo <<= s; }\n"
             "  return ((uint64_t)hi << 32) | lo;\n}\n",
    "lshr64": "static inline uint64_t isaforge_lshr64(uint64_t x, uint32_t s) {\n"
              "  uint32_t lo = (uint32_t)x, hi = (uint32_t)(x >> 32);\n"
              "  if (s & 32u) { lo = hi >> (s & 31u); hi = 0u; }\n"
              "  else if (s) { lo = (lo >> s) | (hi << (32u - s)); hi >>= s; }\n"
              "  return ((uint64_t)hi << 32) | lo;\n}\n",
    "ashr64": "static inline int64_t isaforge_ashr64(int64_t x, uint32_t s) {\n"
              "  uint32_t lo = (uint32_t)(uint64_t)x;\n"
              "  int32_t hi = (int32_t)(uint32_t)((uint64_t)x >> 32);\n"
              "  if (s & 32u) { lo = (uint32_t)(hi >> (s & 31u)); hi = hi >> 31; }\n"
              "  else if (s) { lo = (lo >> s) | ((uint32_t)hi << (32u - s)); hi = hi >> s; }\n"
              "  return (int64_t)(((uint64_t)(uint32_t)hi << 32) | lo);\n}\n",
    "load32": "typedef uint32_t __attribute__((may_alias, aligned(4))) isaforge_word_t;\n"
              "static inline uint32_t isaforge_load32(const void *p) {\n"
              "  return *(const isaforge_word_t *)p;\n}\n",
    "store32": "static inline void isaforge_store32(void *p, uint32_t v) {\n"
               "  *(isaforge_word_t *)p = v;\n}\n",
}


def ramps_of(st) -> list:
    """The Ramp nodes (packed-word loads) of a Store's value and indices or an Evaluate's value."""
    exprs = [st.value] if isinstance(st, Evaluate) else [st.value, *st.indices]
    return [n for e in exprs if contains_ramp(e) for n in walk(e) if isinstance(n, Ramp)]


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


_CPREC = {"*": 13, "/": 13, "%": 13, "+": 12, "-": 12, "<<": 11, ">>": 11, "<": 10, "<=": 10, ">": 10,
          ">=": 10, "==": 9, "!=": 9, "&": 8, "^": 7, "|": 6, "&&": 5, "||": 4}


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
    if c.dtype == "uint64":
        return f"UINT64_C({v})"
    if c.dtype == "int64":
        if v == -(2 ** 63):
            return "(-INT64_C(9223372036854775807) - 1)"
        return f"INT64_C({v})" if v >= 0 else f"(-INT64_C({-v}))"
    if c.dtype == "int32" and v == -(2 ** 31):
        return "(-2147483647 - 1)"
    if v < 0:
        return f"({v})"
    return str(v)


@functools.cache
def _full(dtype: str) -> tuple[float, float]:
    """The values of ``dtype`` (floats: unbounded)."""
    if dt.is_float(dtype):
        return (-INF, INF)
    return (dt.min_value(dtype), dt.max_value(dtype))


_INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)  # C's int on every target: the type narrow operands promote to
_INT64_RANGE = (-(2 ** 63), 2 ** 63 - 1)


class _CText(ExprVisitor):
    """C text and precedence (higher binds tighter) of an expression, for minimal parentheses."""

    def __init__(self, em: CEmitter):
        self.em = em

    def visit_default(self, e) -> tuple[str, int]:
        raise CodegenError(f"cannot emit expression node {type(e).__name__}")

    def visit_Const(self, e: Const) -> tuple[str, int]:
        return _const_str(e), 16

    def visit_Var(self, e: Var) -> tuple[str, int]:
        names = self.em.names
        if id(e) not in names:
            raise CodegenError(f"variable {e.name!r} is used outside its loop")
        return names[id(e)], 16

    def visit_BinOp(self, e: BinOp) -> tuple[str, int]:
        return self.em.binop(e)

    def visit_Cmp(self, e: Cmp) -> tuple[str, int]:
        em = self.em
        p = _CPREC[e.op]
        # a truth value compared with another is parenthesized (gcc's -Wparentheses and
        # -Wlogical-not-parentheses warn on `a > b == c < d` and `!a == b`)
        q = 15 if e.a.dtype == "bool" else p
        return f"{em._sub(e.a, q)} {e.op} {em._sub(e.b, q, True)}", p

    def visit_Not(self, e: Not) -> tuple[str, int]:
        return f"!{self.em._sub(e.a, 14)}", 14

    def visit_Cast(self, e: Cast) -> tuple[str, int]:
        em = self.em
        if e.dtype == "bool":
            return f"{em._sub(e.value, 10)} != 0", 9
        if dt.is_float(e.value.dtype) and dt.is_int(e.dtype):
            # C leaves an out-of-range float -> int conversion undefined: saturate (NaN -> 0),
            # the rule tir.evaluate defines
            fname, code = _f2i_helper(e.dtype)
            em.helper(fname, code)
            return f"{fname}({em.expr(e.value)})", 16
        return f"({dt.c_type(e.dtype)}){em._sub(e.value, 14)}", 14

    def visit_Select(self, e: Select) -> tuple[str, int]:
        em = self.em
        return f"{em._sub(e.cond, 4)} ? {em._sub(e.t, 3)} : {em._sub(e.f, 3)}", 3

    def visit_BufferLoad(self, e: BufferLoad) -> tuple[str, int]:
        return self.em.element(e.buffer, e.indices), 16

    def visit_Ramp(self, e: Ramp) -> tuple[str, int]:
        return self.em.load_word(e), 16

    def visit_Call(self, e: Call) -> tuple[str, int]:
        if getattr(e.op, "pure", False):  # a pure op of the tensor language: its helper goes in the header
            self.em.pure_ops[e.op.c_name] = e.op.c_source
        args = [str(i) for i in e.imm] + [self.em.expr(a) for a in e.args]
        return f"{e.op.c_name}({', '.join(args)})", 16

    visit_TensorLoad = visit_Reduce = visit_default  # never in lowered IR


class _Bounds(ExprVisitor):
    """Bounds of the mathematically exact result of an integer expression's operation on its
    operands' C values (see CEmitter.vbound)."""

    def __init__(self, em: CEmitter):
        self.em = em

    def visit_default(self, e) -> tuple[float, float]:
        return _full(e.dtype)  # loads, calls, words

    def visit_Const(self, e: Const) -> tuple[float, float]:
        return (int(e.value), int(e.value))

    def visit_Var(self, e: Var) -> tuple[float, float]:
        return self.em.vranges.get(id(e), _full(e.dtype))

    def visit_Cmp(self, e) -> tuple[float, float]:
        return (0, 1)

    visit_Not = visit_Cmp

    def visit_Select(self, e: Select) -> tuple[float, float]:
        t, f = self.em.vbound(e.t), self.em.vbound(e.f)
        return (min(t[0], f[0]), max(t[1], f[1]))

    def visit_Cast(self, e: Cast) -> tuple[float, float]:
        if dt.is_float(e.value.dtype):
            return _full(e.dtype)
        return self.em.vbound(e.value)

    def visit_BinOp(self, e: BinOp) -> tuple[float, float]:
        if e.op in ("&&", "||"):
            return (0, 1)
        a, b = self.em.vbound(e.a), self.em.vbound(e.b)
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

    visit_TensorLoad = visit_BufferLoad = visit_Ramp = visit_Call = visit_Reduce = visit_default


class CEmitter(StmtVisitor):
    """PrimFunc -> C for any target: the generic statements and expressions.

    A target with emission of its own (codegen_c.rv32: CFU blocks) subclasses it and names the subclass
    as its ``emitter_class``; the hooks it overrides are :meth:`emit_seq`, :meth:`loop_body`,
    :meth:`stored`, :meth:`branch` and :meth:`load_word`.
    """

    def __init__(self, func: PrimFunc, target: Target):
        self.func, self.target = func, target
        self.names: dict[int, str] = {}
        self.used: set[str] = set()
        self.helpers: dict[str, str] = {}
        self.ranges: Ranges = {}
        # bounds of every loop variable (also those whose loop starts at a non-constant), for proving
        # that signed C arithmetic does not overflow; self.ranges (constant-start loops) drives simplify
        self.vranges: Ranges = {}
        self.exact_memo: dict[int, tuple] = {}  # id(expr) -> (expr, _exact bounds)
        self.element_memo: dict[tuple, tuple] = {}  # see element
        self.lines: list[str] = []
        self.word_buffers: set[int] = set()
        self.ind = 0  # indentation of the statement being visited (see emit)
        self.pure_ops: dict[str, str] = {}  # c_name -> C definition of the pure ops called
        self._ctext, self._bounds = _CText(self), _Bounds(self)

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
        return flat_index(indices, buf.shape, self.ranges)

    def flat(self, buf: Buffer, indices) -> str:
        return self.expr(self.flat_expr(buf, indices))

    def element(self, buf: Buffer, indices) -> str:
        """The C lvalue of one element: ``name[flat index]``."""
        # memoized: the text depends only on the indices' trees and the ranges of their variables
        # (the names are fixed once given); an unrolled tile reads the same elements again and again
        ranges, vranges = self.ranges, self.vranges
        k = [id(buf)]
        for i in indices:
            if kinds(i) & (KIND_RAMP | KIND_CALL):  # their text depends on more than the tree
                return f"{self.names[id(buf)]}[{self.flat(buf, indices)}]"
            k.append(i._sk)  # filled by kinds()
            for v in i._fv:
                k.append(ranges.get(v))
                k.append(vranges.get(v))
        k = tuple(k)
        hit = self.element_memo.get(k)
        if hit is None:
            hit = self.element_memo[k] = (buf, indices, f"{self.names[id(buf)]}[{self.flat(buf, indices)}]")
        return hit[2]

    def expr(self, e: Expr) -> str:
        return self._p(e)[0]

    def _sub(self, e: Expr, prec: int, right: bool = False) -> str:
        s, p = self._p(e)
        return f"({s})" if p < prec or (right and p == prec) else s

    def _p(self, e: Expr) -> tuple[str, int]:
        """C text of ``e`` and its precedence (higher binds tighter), for minimal parentheses."""
        return self._ctext.visit(e)

    def load_word(self, e: Ramp) -> str:
        """C text of a packed 32-bit word load."""
        self.helper("load32")
        return f"isaforge_load32(&{self.element(e.buffer, e.indices)})"

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
        t = type(e)
        if t is Var or t is Const:
            # (what _Bounds gives a leaf, without the dispatch)
            if dt.is_float(e.dtype):
                return (-INF, INF)
            if t is Const:
                return (int(e.value), int(e.value))
            r = self.vranges.get(id(e))
            return r if r is not None else _full(e.dtype)
        return self._exact_uncached(e)

    def _exact_uncached(self, e: Expr) -> tuple[float, float]:
        if dt.is_float(e.dtype):
            return (-INF, INF)
        return self._bounds.visit(e)

    def _wraps(self, e: BinOp) -> bool:
        """Whether C's signed ``int`` arithmetic for ``e`` (+ - *) could overflow (undefined behaviour):
        int32 operands, and narrow ones, which C promotes to int (uint16 * uint16 can overflow int)."""
        if e.dtype in ("uint32", "uint64") or dt.is_float(e.dtype) or e.op not in ("+", "-", "*"):
            return False
        lo, hi = self._exact(e)
        rng = _INT64_RANGE if e.dtype == "int64" else _INT_RANGE
        return not (rng[0] <= lo and hi <= rng[1])

    def _usub(self, e: Expr, prec: int, right: bool = False, wide: bool = False) -> str:
        """C text of ``e`` as a uint32_t (``wide``: uint64_t) operand of an unsigned operator of
        precedence ``prec``."""
        if isinstance(e, BinOp) and e.dtype == ("int64" if wide else "int32") and self._wraps(e):
            s, p = self._unsigned(e)  # already unsigned: no round trip through the signed type
        elif isinstance(e, Const) and 0 <= e.value < 2 ** 31:
            s, p = (f"UINT64_C({e.value})" if wide else f"{e.value}u"), 16
        else:
            s, p = f"({'uint64_t' if wide else 'uint32_t'}){self._sub(e, 14)}", 14
        return f"({s})" if p < prec or (right and p == prec) else s

    def _unsigned(self, e: BinOp) -> tuple[str, int]:
        """``e`` (+ - *) computed in uint32_t (uint64_t for int64), where C defines the result modulo
        2**32 (2**64). On rv32 a 64-bit product is mul / mulhu, no library call."""
        p = _CPREC[e.op]
        wide = e.dtype == "int64"
        return f"{self._usub(e.a, p, wide=wide)} {e.op} {self._usub(e.b, p, True, wide=wide)}", p

    def bitwise(self, e: BinOp) -> tuple[str, int]:
        """``& | ^ << >>`` with the tensor language's rules (tir.expr.shift_amount): no undefined C.

        Operands are always parenthesized unless primary (gcc's -Wparentheses warns on mixes like
        ``a + b << c``). The shift amount is masked to log2(width) bits (a constant one is reduced
        here); ``<<`` of a signed value shifts its unsigned bits (a negative left operand is undefined
        in C); ``>>`` of a signed value is arithmetic (gcc and clang define it so).
        """
        op, t = e.op, e.dtype
        ct, w = dt.c_type(t), dt.bits(t)
        narrow = w < 32
        if op in ("&", "|", "^"):
            s = f"{self._sub(e.a, 14)} {op} {self._sub(e.b, 14)}"
            # narrow operands promote to int (sign-extended): the low bits are right, cast back
            return (f"({ct})({s})", 14) if narrow else (s, _CPREC[op])
        if isinstance(e.b, Const):
            amt = str(shift_amount(e.b.value, t))
        else:
            amt = f"({self._sub(e.b, 14)} & {w - 1})"
            if w == 64:
                key = "shl64" if op == "<<" else ("ashr64" if dt.is_signed(t) else "lshr64")
                self.helper(key)
                x = self.expr(e.a)
                if op == "<<":
                    call = f"isaforge_shl64((uint64_t){self._sub(e.a, 14)}, (uint32_t){amt})"
                    return (f"({ct}){call}", 14) if dt.is_signed(t) else (call, 16)
                return f"isaforge_{key}({x}, (uint32_t){amt})", 16
        a = self._sub(e.a, 14)
        if op == "<<" and dt.is_signed(t):
            ut = "uint64_t" if w == 64 else "uint32_t"
            return f"({ct})(({ut}){a} << {amt})", 14
        s = f"{a} {op} {amt}"
        return (f"({ct})({s})", 14) if narrow else (s, _CPREC[op])

    def _div64(self, e: BinOp) -> tuple[str, int]:
        """64-bit ``//`` / ``%`` by a constant power of two: a shift (floor division) / a mask (floor
        modulo, in [0, divisor)). Any other divisor would be a libgcc call, which freestanding kernels
        cannot make: a CodegenError naming the expression."""
        b = e.b
        if not (isinstance(b, Const) and b.value > 0 and b.value & (b.value - 1) == 0):
            raise CodegenError(f"cannot emit the {e.dtype} '{e.op}' in ({e}): a 64-bit division by anything "
                               "but a constant power of two needs a runtime library call")
        k = int(b.value).bit_length() - 1
        a = self._sub(e.a, 14)
        if e.op == "//":
            return f"{a} >> {k}", _CPREC[">>"]
        return f"{a} & {_const_str(Const(int(b.value) - 1, e.dtype))}", _CPREC["&"]

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
        if e.op in BITWISE_OPS:
            return self.bitwise(e)
        if e.op in ("//", "%") and dt.bits(e.dtype) == 64:
            return self._div64(e)
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
        """Append the C of statement ``s`` at indentation ``ind``."""
        saved, self.ind = self.ind, ind
        self.visit(s)
        self.ind = saved

    def visit_default(self, s) -> None:
        raise CodegenError(f"cannot emit statement {type(s).__name__}")

    def visit_Seq(self, s: Seq) -> None:
        self.emit_seq(s.stmts, self.ind)

    def visit_For(self, s: For) -> None:
        ind = self.ind
        pad = "  " * ind
        out = self.lines
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
            if not self.target.has_threads:
                raise ScheduleError(f"loop {s.var.name!r}: parallel is not possible on target "
                                    f"{self.target.describe()}, which has no threads")
            out.append("#ifdef _OPENMP")
            out.append("#pragma omp parallel for")
            out.append("#endif")
        elif s.kind == "vectorize":
            out.append(f"{pad}/* vectorized: a simple loop for the C compiler's vectorizer */")
        out.append(f"{pad}for (int32_t {v} = {lo}; {v} < {hi}; ++{v}) {{")
        self.loop_body(s, ind + 1)
        out.append(f"{pad}}}")

    def visit_Store(self, s: Store) -> None:
        lvalue = self.element(s.buffer, s.indices)
        if s.lanes > 1:  # a packed word of s.lanes elements: one 32-bit store
            self.helper("load32")  # (the word type)
            self.helper("store32")
            self.lines.append(f"{'  ' * self.ind}isaforge_store32(&{lvalue}, {self.expr(s.value)});")
        else:
            self.lines.append(f"{'  ' * self.ind}{lvalue} = {self.expr(s.value)};")
        self.stored(s, lvalue)

    def visit_IfThen(self, s: IfThen) -> None:
        ind = self.ind
        pad = "  " * ind
        out = self.lines
        self.branch()
        out.append(f"{pad}if ({self.expr(s.cond)}) {{")
        self.emit(s.then, ind + 1)
        self.branch()
        if s.otherwise is not None:
            out.append(f"{pad}}} else {{")
            self.emit(s.otherwise, ind + 1)
            self.branch()
        out.append(f"{pad}}}")

    def visit_Allocate(self, s: Allocate) -> None:
        ind = self.ind
        pad = "  " * ind
        out = self.lines
        b = s.buffer
        n = self.name(b, b.name)
        # buffers read as packed words need 4-byte aligned elements: say so, don't hope
        align = f" __attribute__((aligned({self.target.word_align})))" if id(b) in self.word_buffers else ""
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

    def visit_Evaluate(self, s: Evaluate) -> None:
        self.lines.append(f"{'  ' * self.ind}{self.expr(s.value)};")

    # hooks a target's emitter overrides -------------------------------------------------------------
    def emit_seq(self, stmts, ind: int) -> None:
        """The statements of a Seq, in order."""
        for st in stmts:
            self.emit(st, ind)

    def loop_body(self, s: For, ind: int) -> None:
        """The body of loop ``s`` (its header is emitted; ``s.pragmas`` may matter to a subclass)."""
        self.emit(s.body, ind)

    def stored(self, s: Store, lvalue: str) -> None:
        """Called after the store ``s`` to ``lvalue`` is emitted."""

    def branch(self) -> None:
        """Called where control flow joins or forks (around the branches of an if)."""

    def run(self) -> str:
        f = self.func
        params = []
        for b in f.args:
            n = self.name(b, b.name)
            params.append(f"{dt.c_type(b.dtype)} *restrict {n}")
        fname = sanitize(f.name, kernel=True)
        from tir.printer import iter_stmts

        self.word_buffers = {id(r.buffer) for st in iter_stmts(f.body)
                             if isinstance(st, (Store, Evaluate)) for r in ramps_of(st)}
        self.word_buffers |= {id(st.buffer) for st in iter_stmts(f.body) if isinstance(st, Store) and st.lanes > 1}
        self.emit(f.body, 1)
        head = ["/* generated by isaforge: do not edit */", "#include <stdint.h>", "#include <stddef.h>", ""]
        for ext in f.extensions:
            head.append(ext.c_source(self.target.intrinsic_abi).rstrip("\n"))
            head.append("")
        # pure ops of the tensor language (tir.quant): their helper definitions, once each
        for _n, src in sorted(self.pure_ops.items()):
            head += [src.rstrip("\n"), ""]
        for name in sorted(self.helpers):
            head.append(self.helpers[name].rstrip("\n"))
        if self.helpers:
            head.append("")
        sig = f"void {fname}({', '.join(params) if params else 'void'})"
        body = [f"  (void){self.names[id(b)]};" for b in f.args]
        return "\n".join(head + [sig + " {"] + body + self.lines + ["}", ""])


def emit(func: PrimFunc, target: Target | str = "host") -> str:
    """Emit ``func`` as one freestanding C99 translation unit for ``target`` (a name or a Target).

    ``host`` uses each intrinsic's C model, ``verilator`` routes intrinsic calls into the
    verilated RTL, ``vexriscv`` (alias ``rv32im``) emits the custom instructions as inline asm.
    """
    if not isinstance(func, PrimFunc):
        raise CodegenError(f"emit expects a PrimFunc from tir.lower, got {type(func).__name__}")
    t = get_target(target)
    t.check(func)
    return (t.emitter_class or CEmitter)(func, t).run()


def c_function_name(func: PrimFunc) -> str:
    """The C name of the kernel function ``emit`` defines."""
    return sanitize(func.name, kernel=True)
