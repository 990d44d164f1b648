"""Fixed-length feature vectors of lowered kernels for the learned cost model.

``extract_features(func, config, space)`` walks the lowered loop IR once and summarizes what a
cost model needs to rank schedules of one task (and of similar tasks: the same template at other
shapes, for transfer learning):

* loop structure: per nesting level of the dominant nest (innermost first, up to ``MAX_DEPTH``)
  the extent and the loop kind (serial / unroll / vectorize / parallel); the product of extents,
  the innermost extent, the number of loops and the static code-size estimate (statements times
  the extents of enclosing fully unrolled loops: VexRiscv has a small instruction cache);
* per buffer (arguments first in argument order, then intermediates sorted by scope and name, up
  to ``MAX_BUFFERS``): loads, stores and packed-word (``Ramp``) loads weighted by the trip count of
  the enclosing loops, the element stride of the index along the innermost loop and along the
  innermost rolled (not unrolled) loop, whether the buffer is ``local``, the bytes it touches,
  the touched bytes versus the buffer size and the reuse of its dominant access (how many
  iterations of the innermost loop that does not move the index lie between two uses, and the
  bytes touched meanwhile);
* guards (``IfThen``) weighted by trip count;
* intrinsic calls (``tir.expr.Call``) weighted by trip count, in total and per op in hashed
  slots, with each op's declared latency and issue interval (so the work a tensorized kernel
  hands to the CFU is visible), plus the implied busy cycles ``count * max(latency, issue)``;
* scalar arithmetic weighted by trip count (adds, multiplies, divisions, min/max, casts,
  selects, compares), index arithmetic apart, rolled-loop iterations, and a crude static cycle
  estimate of an in-order core (memory accesses + operations + intrinsic busy cycles + loop
  overhead) that gives the trees one strong dimension to split on from the first few samples;
* annotations the emitter acts on: intrinsic calls whose instructions it places itself (pragma
  ``cfu_asm``);
* the D-cache (4 KiB, 32-byte lines, no write-allocate): per buffer its size against the cache,
  the lines it touches, whether the working set at its reuse distance fits and its estimated
  misses; in total the estimated misses, misses per load and the kernel's footprint in lines
  (``_CacheModel``);
* register pressure (the local tile plus the operands of the unrolled body) and its excess over
  the registers a tile can keep, store bytes (write-through: each store reaches the bus), and
  intrinsic calls per rolled-loop iteration;
* the knob values of the config (``KnobTable``): the normalized choice index of each knob
  (``space.decompose(index)``) and its numeric values at fixed positions, padded to
  ``MAX_KNOB_FEATS``.

Counts are log2(1 + x) transformed. The length is the same for every kernel
(``feature_length()``); ``feature_names()`` labels each position.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from tir.expr import BinOp, BufferLoad, Call, Cast, Cmp, Const, Expr, Not, Ramp, Select, Var
from tir.stmt import Allocate, Evaluate, For, IfThen, PrimFunc, Stmt, Store
from tir.visit import StmtVisitor

from .space import COMPILER_KNOB

MAX_DEPTH = 8
MAX_BUFFERS = 6
INTRIN_SLOTS = 4
MAX_KNOB_FEATS = 32
# VexRiscv's D-cache (toolchain facts): 4 KiB, direct-mapped, 32-byte lines, write-through without
# write-allocate (stores never bring a line in), a refill about 12 cycles
DCACHE_BYTES = 4096
DCACHE_LINE = 32
DCACHE_LINES = DCACHE_BYTES // DCACHE_LINE
# the I-cache: 4 KiB, direct-mapped, 32-byte lines, the same refill; the estimate's code bytes per leaf
# statement of the IR, calibrated on the dot4 cfu_asm tile (per 16 statements 16 CFU ops, 16 adds and
# 8 word loads: 2.5 instructions each); a straight-line matmul reduction of 25 lane steps of a 4x4
# tile (400 statements) fits, one of 32 (512) does not (schedules.hand STRAIGHT_LANE_STEPS, measured)
ICACHE_BYTES = 4096
CODE_BYTES_PER_STMT = 10
REFILL_CYCLES = 12
KINDS = ("serial", "unroll", "vectorize", "parallel")

_LOOP_FEATS = ("log_extent", "serial", "unroll", "vectorize", "parallel", "present")
_BUF_FEATS = ("present", "local", "is_arg", "elem_bytes", "log_loads", "log_stores", "log_word_loads",
              "log_bytes_accessed", "stride_inner", "stride_inner_zero", "stride_inner_unit",
              "stride_rolled", "log_touched_bytes", "touched_over_size", "log_reuse_ct",
              "log_reuse_dis_iter", "log_reuse_dis_bytes", "reuse_depth", "log_size_bytes", "log_size_over_dcache",
              "log_lines_touched", "log_misses", "reuse_fits_dcache", "log_reuse_lines_over_dcache")
_INTRIN_FEATS = ("log_count", "latency", "issue_interval", "stateful", "log_busy", "log_static")
_GLOBAL_FEATS = (
    "log_total_trip", "log_innermost_extent", "n_loops", "max_depth", "log_code_size", "n_unrolled_loops",
    "log_unrolled_product", "log_guards", "n_guards_static", "log_intrin_calls", "log_intrin_busy",
    "log_intrin_latency_sum", "log_intrin_issue_sum", "log_intrin_static", "n_intrin_kinds", "has_stateful_intrin",
    "log_stores", "log_loads", "log_word_loads", "log_add", "log_mul", "log_div", "log_minmax", "log_cast",
    "log_select", "log_cmp", "n_allocs", "log_local_bytes", "log_global_tmp_bytes", "log_bytes_per_intrin",
    "intrin_fraction", "log_index_ops", "log_loop_iters", "log_const_local", "log_est_cycles", "log_asm_calls",
    "log_dcache_misses", "log_miss_per_load", "log_footprint_lines", "footprint_fits_dcache", "reg_pressure",
    "log_reg_spill", "log_store_bytes", "log_intrin_per_iter",
)
# features that are the hand-written static cycle estimate (the "prior"): a tuner without the prior
# blanks them, so its model learns from the raw features alone
PRIOR_FEATURES = ("g.log_est_cycles",)


def feature_length() -> int:
    return len(feature_names())


def feature_names() -> list[str]:
    names = [f"g.{n}" for n in _GLOBAL_FEATS]
    names += [f"loop{d}.{n}" for d in range(MAX_DEPTH) for n in _LOOP_FEATS]
    names += [f"buf{b}.{n}" for b in range(MAX_BUFFERS) for n in _BUF_FEATS]
    names += [f"intrin{s}.{n}" for s in range(INTRIN_SLOTS) for n in _INTRIN_FEATS]
    names += [f"knob{k}" for k in range(MAX_KNOB_FEATS)]
    return names


def _log(x: float) -> float:
    return math.log2(1.0 + max(0.0, float(x)))


# --- cheap evaluation of index expressions -----------------------------------------------------

def _eval(e: Expr, env: dict) -> int:
    """Integer value of an index expression; unknown variables are 0, unknown nodes 0."""
    if isinstance(e, Const):
        v = e.value
        return int(v) if isinstance(v, (int, bool)) else 0
    if isinstance(e, Var):
        return env.get(id(e), 0)
    if isinstance(e, BinOp):
        a, b = _eval(e.a, env), _eval(e.b, env)
        op = e.op
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "//":
            return a // b if b else 0
        if op == "%":
            return a % b if b else 0
        if op == "min":
            return min(a, b)
        if op == "max":
            return max(a, b)
        return 0
    if isinstance(e, Cast):
        return _eval(e.value, env)
    return 0


def _flat_index(buf, indices) -> Expr | list:
    """(index expression, element stride) pairs of a row-major access."""
    out = []
    stride = 1
    for i, n in zip(reversed(indices), reversed(buf.shape)):
        out.append((i, stride))
        stride *= n
    return out


def _flat_eval(parts, env) -> int:
    return sum(_eval(i, env) * s for i, s in parts)


# --- the walk ------------------------------------------------------------------------------------

class _Access:
    __slots__ = ("buf", "kind", "trip", "loops", "parts", "lanes")

    def __init__(self, buf, kind, trip, loops, parts, lanes=1):
        self.buf, self.kind, self.trip, self.loops, self.parts, self.lanes = buf, kind, trip, loops, parts, lanes


class _Walker(StmtVisitor):
    """One pass over the lowered IR collecting the raw counts the features are made of."""

    def __init__(self):
        self.accesses: list[_Access] = []
        self.loops: list[For] = []
        self.trip = 1
        self.unroll_mult = 1
        self.n_loops = 0
        self.n_unrolled = 0
        self.unrolled_product = 0
        self.max_depth = 0
        self.code_size = 0
        self.guards = 0.0
        self.guards_static = 0
        self.ops = dict.fromkeys(("add", "mul", "div", "minmax", "cast", "select", "cmp"), 0.0)
        self.index_ops = 0.0  # arithmetic inside buffer indices (mostly strength-reduced by the C compiler)
        self.loop_iters = 0.0  # iterations of rolled loops (each costs a compare-and-branch and an increment)
        self.const_local = 0.0  # accesses of local buffers at constant indices (registers once unrolled)
        self.intrin: dict[str, list] = {}  # c_name -> [op, trip-weighted count, static count]
        self.allocs: list = []
        self.nests: list[tuple[float, tuple]] = []  # (trip, loops) of each leaf statement
        self.buffers: dict[int, object] = {}
        self.asm_scope = 0  # inside loops with the "cfu_asm" pragma (the emitter places their CFU ops)
        self.asm_calls = 0.0  # trip-weighted single-instruction intrinsic calls placed that way
        # I-cache refill cycles of rolled loops whose body's code exceeds the I-cache (innermost such)
        self.icache_cycles = 0.0
        self._over = [False]  # per open rolled loop: a loop inside it already exceeded the I-cache

    # statements: visit_<Node> (tir.visit.StmtVisitor dispatch) ---------------------------------------
    def stmt(self, s: Stmt) -> None:
        self.visit(s)

    def visit_For(self, s: For) -> None:
        self.n_loops += 1
        ext = max(1, int(s.extent))
        self.loops.append(s)
        self.max_depth = max(self.max_depth, len(self.loops))
        old_trip, old_mult = self.trip, self.unroll_mult
        asm = any(k == "cfu_asm" and v for k, v in s.pragmas)
        self.asm_scope += asm
        self.trip *= ext
        rolled = s.kind != "unroll"
        if rolled:
            self.loop_iters += self.trip
            self._over.append(False)
        if s.kind == "unroll":
            self.unroll_mult *= ext
            self.n_unrolled += 1
            self.unrolled_product += ext
        size0 = self.code_size
        self.visit(s.body)
        if rolled:
            inner_over = self._over.pop()
            body = (self.code_size - size0) / old_mult * CODE_BYTES_PER_STMT
            if body > ICACHE_BYTES and not inner_over:
                # a body larger than the direct-mapped I-cache: the lines beyond its capacity and those
                # they map onto miss on every iteration
                self.icache_cycles += self.trip * 2 * (body - ICACHE_BYTES) / DCACHE_LINE * REFILL_CYCLES
            if body > ICACHE_BYTES or inner_over:
                self._over[-1] = True
        self.trip, self.unroll_mult = old_trip, old_mult
        self.asm_scope -= asm
        self.loops.pop()

    def visit_Store(self, s: Store) -> None:
        self._leaf()
        self.buffers[id(s.buffer)] = s.buffer
        self.accesses.append(_Access(s.buffer, "store", self.trip, tuple(self.loops),
                                     _flat_index(s.buffer, s.indices), s.lanes))
        self._note_local(s.buffer, s.indices)
        for i in s.indices:
            self.index_expr(i)
        self.expr(s.value)

    def visit_Evaluate(self, s: Evaluate) -> None:
        self._leaf()
        self.expr(s.value)

    def visit_IfThen(self, s: IfThen) -> None:
        self.guards += self.trip
        self.guards_static += self.unroll_mult
        self.code_size += self.unroll_mult
        self.expr(s.cond)
        self.visit(s.then)
        if s.otherwise is not None:
            self.visit(s.otherwise)

    def visit_Allocate(self, s: Allocate) -> None:
        self.allocs.append(s.buffer)
        self.buffers[id(s.buffer)] = s.buffer
        self.visit(s.body)

    def visit_default(self, s) -> None:
        return None  # a statement kind without features

    def _note_local(self, buf, indices) -> None:
        if buf.scope == "local" and all(isinstance(i, Const) for i in indices):
            self.const_local += self.trip

    def index_expr(self, e: Expr) -> None:
        saved = dict(self.ops)
        self.expr(e)
        moved = sum(self.ops[k] - saved[k] for k in ("add", "mul", "div", "minmax"))
        for k in ("add", "mul", "div", "minmax"):
            self.ops[k] = saved[k]
        self.index_ops += moved

    def _leaf(self) -> None:
        self.code_size += self.unroll_mult
        self.nests.append((self.trip, tuple(self.loops)))

    # expressions: an explicit stack (no recursion limit on deep sums), one handler per node type ----
    def expr(self, e: Expr) -> None:
        stack = [e]
        handlers = _EXPR_HANDLERS
        while stack:
            n = stack.pop()
            h = handlers.get(type(n))
            if h is not None:
                h(self, n, stack)

    def _binop(self, n: BinOp, stack: list) -> None:
        k = _BINOP_KIND.get(n.op)
        if k is not None:
            self.ops[k] += self.trip
        stack.append(n.a)
        stack.append(n.b)

    def _cmp(self, n: Cmp, stack: list) -> None:
        self.ops["cmp"] += self.trip
        stack.append(n.a)
        stack.append(n.b)

    def _buffer_load(self, n: BufferLoad, stack: list) -> None:
        self.buffers[id(n.buffer)] = n.buffer
        self.accesses.append(_Access(n.buffer, "load", self.trip, tuple(self.loops),
                                     _flat_index(n.buffer, n.indices)))
        self._note_local(n.buffer, n.indices)
        for i in n.indices:
            self.index_expr(i)

    def _ramp(self, n: Ramp, stack: list) -> None:
        self.buffers[id(n.buffer)] = n.buffer
        self.accesses.append(_Access(n.buffer, "word", self.trip, tuple(self.loops),
                                     _flat_index(n.buffer, n.indices), n.lanes))
        for i in n.indices:
            self.index_expr(i)

    def _call(self, n: Call, stack: list) -> None:
        name = getattr(n.op, "c_name", str(n.op))
        ent = self.intrin.get(name)
        if ent is None:
            ent = self.intrin[name] = [n.op, 0.0, 0]
        ent[1] += self.trip
        ent[2] += self.unroll_mult
        if self.asm_scope and getattr(n.op, "insn", ""):
            self.asm_calls += self.trip
        stack.extend(n.args)

    def _cast(self, n: Cast, stack: list) -> None:
        self.ops["cast"] += self.trip
        stack.append(n.value)

    def _select(self, n: Select, stack: list) -> None:
        self.ops["select"] += self.trip
        stack.extend((n.cond, n.t, n.f))

    def _not(self, n: Not, stack: list) -> None:
        stack.append(n.a)


_BINOP_KIND = {"+": "add", "-": "add", "*": "mul", "/": "div", "//": "div", "%": "div", "min": "minmax",
               "max": "minmax"}
# node type -> _Walker handler(self, node, stack); nodes without one (Const, Var) add nothing
_EXPR_HANDLERS = {BinOp: _Walker._binop, Cmp: _Walker._cmp, BufferLoad: _Walker._buffer_load, Ramp: _Walker._ramp,
                  Call: _Walker._call, Cast: _Walker._cast, Select: _Walker._select, Not: _Walker._not}


def _dtype_bytes(dtype: str) -> int:
    digits = "".join(ch for ch in dtype if ch.isdigit())
    return max(1, int(digits) // 8) if digits else 1


def _access_geometry(a: _Access, with_base: bool = False):
    """Strides and footprints of one access w.r.t. its enclosing loops (outermost first)."""
    base = _flat_eval(a.parts, {})
    deps = []
    strides = []
    for lp in a.loops:
        vid = id(lp.var)
        s1 = _flat_eval(a.parts, {vid: 1}) - base
        dep = s1 != 0
        if not dep and lp.extent > 2:
            dep = _flat_eval(a.parts, {vid: int(lp.extent) - 1}) != base
        strides.append(s1)
        deps.append(dep)
    if with_base:
        return strides, deps, base
    return strides, deps


class _CacheModel:
    """Lines touched, working sets and misses of the D-cache, from the affine index strides.

    Loads of one buffer in one loop nest (loops compared by name and extent) with equal strides
    (e.g. the unrolled reduction steps of a tile, ``A[i, 4k]``, ``A[i, 4k + 1]``, ...) form one
    group spanning their offsets. For a group and a loop level ``d`` (loops ``d..`` of its nest
    varying, outermost = 0) it counts the 32-byte lines touched: along the dependent loops in order
    of stride, a loop whose stride is within the run so far (or within a line) extends the run, any
    other repeats it. The working set of level ``d`` is the sum of those lines over every load
    inside the same loops ``0..d-1`` (per buffer at most the buffer). A group misses once per line
    of the outermost region whose working set fits the cache, re-loaded as often as the loops
    outside that region run (so a tile whose reuse distance exceeds 4 KiB pays its lines again on
    every outer iteration). Local buffers are registers or stack and stores never allocate (write-
    through, no write-allocate): neither is counted.
    """

    def __init__(self, accesses: list[_Access]):
        groups: dict[tuple, list] = {}
        for a in accesses:
            if a.kind == "store" or a.buf.scope == "local":
                continue
            strides, deps, base = _access_geometry(a, with_base=True)
            key = (id(a.buf), _loop_keys(a.loops), tuple(strides))
            lanes = a.lanes
            g = groups.get(key)
            if g is None:
                groups[key] = [a, strides, deps, base, base + lanes]
            else:
                g[3], g[4] = min(g[3], base), max(g[4], base + lanes)
        self.geo = {id(g[0]): g for g in groups.values()}
        self.accesses = [g[0] for g in groups.values()]
        self.lines: dict[int, list[float]] = {}
        self.ws: dict[tuple, dict[int, float]] = {}
        for a in self.accesses:
            ls = [self._lines(a, d) for d in range(len(a.loops) + 1)]
            self.lines[id(a)] = ls
            ids = _loop_keys(a.loops)
            for d, n in enumerate(ls):
                per_buf = self.ws.setdefault(ids[:d], {})
                per_buf[id(a.buf)] = per_buf.get(id(a.buf), 0.0) + n
        self.size_lines = {id(a.buf): _size_lines(a.buf) for a in self.accesses}

    def _lines(self, a: _Access, d: int) -> float:
        _, strides, deps, lo, hi = self.geo[id(a)]
        eb = _dtype_bytes(a.buf.dtype)
        run = (hi - lo) * eb  # bytes of one iteration of the group
        count = 1
        moving = zip(a.loops[d:], strides[d:], deps[d:])
        loops = sorted(((abs(st) * eb, max(1, int(lp.extent))) for lp, st, dep in moving if dep), key=lambda t: t[0])
        for sb, e in loops:
            if sb == 0:  # moves the index, not affinely (// or %): assume separate runs
                count *= e
            elif sb <= max(run, DCACHE_LINE):
                run += sb * (e - 1)
            else:
                count *= e
        return min(count * max(1.0, math.ceil(run / DCACHE_LINE)), _size_lines(a.buf))

    def working_set(self, a: _Access, d: int) -> float:
        per_buf = self.ws.get(_loop_keys(a.loops[:d]), {})
        return sum(min(n, self.size_lines[b]) for b, n in per_buf.items())

    def misses(self, a: _Access) -> float:
        ls = self.lines[id(a)]
        for d in range(len(a.loops) + 1):
            if self.working_set(a, d) <= DCACHE_LINES:
                break
        else:
            d = len(a.loops)
        if d == 0:
            return ls[0]
        outer = math.prod(max(1, int(lp.extent)) for lp in a.loops[:d - 1])
        return ls[d - 1] * outer

    def total_lines(self) -> float:
        per_buf = self.ws.get((), {})
        return sum(min(n, self.size_lines[b]) for b, n in per_buf.items())


def _loop_keys(loops) -> tuple:
    # loops by name and extent, not identity: an unrolled outer step copies the loops inside it, and
    # the copies run in one iteration of their parent
    return tuple((lp.var.name, int(lp.extent)) for lp in loops)


def _size_lines(buf) -> float:
    return max(1.0, math.ceil(max(1, buf.size) * _dtype_bytes(buf.dtype) / DCACHE_LINE))


def _register_pressure(w: _Walker) -> float:
    """Values a rolled iteration keeps live: the local accumulator tile plus the operands loaded in
    the unrolled body of the busiest innermost rolled loop."""
    tile = sum(b.size for b in w.allocs if b.scope == "local")
    per_loop: dict[int, float] = {}
    for a in w.accesses:
        if a.kind == "store" or a.buf.scope == "local":
            continue
        mult, key = 1, 0
        for lp in reversed(a.loops):
            if lp.kind != "unroll":
                key = id(lp)
                break
            mult *= max(1, int(lp.extent))
        per_loop[key] = per_loop.get(key, 0.0) + mult
    return float(tile) + max(per_loop.values(), default=0.0)


def sgn(x: float) -> float:
    """Signed log2(1 + |x|)."""
    return math.copysign(_log(abs(x)), x)


def _buffer_feats(buf, accs: list[_Access], cm: _CacheModel | None = None) -> list[float]:
    eb = _dtype_bytes(buf.dtype)
    loads = sum(a.trip for a in accs if a.kind == "load")
    stores = sum(a.trip for a in accs if a.kind == "store")
    words = sum(a.trip for a in accs if a.kind == "word")
    bytes_acc = sum(a.trip * eb * a.lanes for a in accs)
    dom = max(accs, key=lambda a: (a.trip, len(a.loops)))
    strides, deps = _access_geometry(dom)
    loops = dom.loops
    stride_inner = strides[-1] if strides else 0
    stride_rolled = 0
    for lp, s in zip(reversed(loops), reversed(strides)):
        if lp.kind != "unroll":
            stride_rolled = s
            break
    size = max(1, buf.size)
    touched = 1
    for lp, d in zip(loops, deps):
        if d:
            touched *= max(1, int(lp.extent))
    touched = min(touched * dom.lanes, size)
    # reuse: the innermost loop that does not move the index
    reuse_ct, reuse_iter, reuse_bytes, reuse_depth = 0, 0, 0, 0
    inner_iter, inner_touch = 1, 1
    for depth, (lp, d) in enumerate(zip(reversed(loops), reversed(deps))):
        if not d:
            reuse_ct, reuse_iter = int(lp.extent), inner_iter
            reuse_bytes = min(inner_touch, size) * eb
            reuse_depth = depth + 1
            break
        inner_iter *= max(1, int(lp.extent))
        inner_touch *= max(1, int(lp.extent))
    size_bytes = size * eb
    cached = [a for a in accs if cm is not None and id(a) in cm.lines]
    lines0 = max((cm.lines[id(a)][0] for a in cached), default=0.0)
    misses = sum(cm.misses(a) for a in cached)
    reuse_fits, reuse_over = 0.0, 0.0
    if cm is not None and id(dom) in cm.lines and reuse_depth:
        level = len(loops) - reuse_depth + 1  # the region inside the reusing loop
        ws = cm.working_set(dom, level)
        reuse_fits = float(ws <= DCACHE_LINES)
        reuse_over = sgn(math.log2(max(ws, 1.0) / DCACHE_LINES))
    return [
        1.0, float(buf.scope == "local"), float(bool(buf.is_arg)), float(eb),
        _log(loads), _log(stores), _log(words), _log(bytes_acc),
        sgn(stride_inner), float(stride_inner == 0), float(abs(stride_inner) == 1), sgn(stride_rolled),
        _log(touched * eb), touched / size, _log(reuse_ct), _log(reuse_iter), _log(reuse_bytes),
        float(reuse_depth), _log(size_bytes), sgn(math.log2(size_bytes / DCACHE_BYTES)), _log(lines0), _log(misses),
        reuse_fits, reuse_over,
    ]


class KnobTable:
    """The knob part of the features, vectorized over config indices (no lowering).

    Per knob: its normalized choice index, then the choice's numeric values (log2(1 + |x|) of
    numbers, 0/1 of booleans and None, the rank among the strings seen at that position of list
    values, e.g. an annotation's "none"/"unroll"), padded to the knob's widest choice; all knobs
    together truncated or padded to ``MAX_KNOB_FEATS``. Every choice of a knob puts its values at the
    same positions, so the trees can split on them."""

    def __init__(self, space):
        self.space = space
        self.radix = np.asarray(space.radix, dtype=np.int64)
        tables = []
        for k in space.knobs.values():
            n = len(k.choices)
            rows = [_choice_values(c) for c in k.choices]
            width = max((len(r) for r in rows), default=0)
            strs: dict[int, list] = {}
            for r in rows:
                for pos, v in enumerate(r):
                    if isinstance(v, str):
                        strs.setdefault(pos, [])
                        if v not in strs[pos]:
                            strs[pos].append(v)
            t = np.zeros((n, 1 + width), dtype=np.float32)
            for c, r in enumerate(rows):
                t[c, 0] = c / (n - 1) if n > 1 else 0.0
                for pos, v in enumerate(r):
                    t[c, 1 + pos] = strs[pos].index(v) if isinstance(v, str) else v
            tables.append(t)
        self.tables = tables

    def rows(self, choices: np.ndarray) -> np.ndarray:
        """Knob features of a (configs x knobs) matrix of choice indices."""
        choices = np.asarray(choices, dtype=np.int64).reshape(-1, len(self.tables))
        parts = [t[choices[:, j]] for j, t in enumerate(self.tables)]
        x = np.hstack(parts) if parts else np.zeros((len(choices), 0), np.float32)
        out = np.zeros((len(choices), MAX_KNOB_FEATS), dtype=np.float32)
        w = min(MAX_KNOB_FEATS, x.shape[1])
        out[:, :w] = x[:, :w]
        return out

    def of_indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        ch = np.empty((len(idx), len(self.radix)), dtype=np.int64)
        rest = idx.copy()
        for k, n in enumerate(self.radix):  # mixed radix, the first knob fastest (space.decompose)
            ch[:, k] = rest % n
            rest //= n
        return self.rows(ch)


def _choice_values(v) -> list:
    if isinstance(v, bool):
        return [float(v)]
    if isinstance(v, (int, float)):
        return [_log(abs(v))]
    if v is None:
        return [0.0]
    if isinstance(v, str):
        return []  # covered by the choice index
    if isinstance(v, (list, tuple)):
        out: list = []
        for x in v:
            if isinstance(x, bool):
                out.append(float(x))
            elif isinstance(x, (int, float)):
                out.append(_log(abs(x)))
            elif x is None:
                out.append(0.0)
            else:
                out.append(str(x))
        return out
    return []


def knob_table(space) -> KnobTable:
    """The space's KnobTable (built once per space)."""
    t = getattr(space, "_isaforge_knob_table", None)
    if t is None or len(t.tables) != len(space.knobs):
        t = KnobTable(space)
        space._isaforge_knob_table = t
    return t


def _knob_feats(config, space) -> list[float]:
    if config is None or space is None or getattr(config, "index", None) is None:
        return []
    return knob_table(space).of_indices([config.index])[0].tolist()


REGISTERS = 24  # of rv32's 31 general registers, about what a tile can keep besides pointers and counters


def _estimate_cycles(w: _Walker, intrin_busy: float, dcache_misses: float = 0.0) -> float:
    """A crude static cycle estimate of an in-order single-issue core: one cycle per memory access
    (local accesses at constant indices are registers, as far as REGISTERS of them go: a larger tile
    spills the rest), per value operation and per intrinsic issue (or its latency, when longer), plus
    two per rolled-loop iteration, the I-cache refills of rolled loops whose straight-line body
    exceeds the 4 KiB I-cache (``_Walker.icache_cycles``) and a refill per estimated D-cache miss
    (``dcache_misses``, of ``_CacheModel``)."""
    tile = sum(b.size for b in w.allocs if b.scope == "local")
    in_regs = min(1.0, REGISTERS / tile) if tile else 1.0
    mem = sum(a.trip for a in w.accesses) - w.const_local * in_regs
    ops = w.ops["add"] + w.ops["mul"] + 4 * w.ops["div"] + w.ops["minmax"] + w.ops["select"] + w.ops["cmp"]
    return (max(0.0, mem) + ops + intrin_busy + 2 * w.loop_iters + w.guards + w.icache_cycles
            + REFILL_CYCLES * dcache_misses)


def extract_features(func: PrimFunc, config=None, space=None) -> np.ndarray:
    """The feature vector (float32, ``feature_length()`` long) of a lowered kernel."""
    w = _Walker()
    w.stmt(func.body)

    # group accesses per buffer; order: arguments by position, then intermediates by (scope, name)
    per_buf: dict[int, list[_Access]] = {}
    for a in w.accesses:
        per_buf.setdefault(id(a.buf), []).append(a)
    arg_pos = {id(b): i for i, b in enumerate(func.args)}
    bufs = sorted((w.buffers[k] for k in per_buf),
                  key=lambda b: (0, arg_pos[id(b)], "") if id(b) in arg_pos else (1, b.scope != "local", b.name))

    feats: list[float] = []
    # globals
    total_trip = max((t for t, _ in w.nests), default=0)
    dom_loops = max(w.nests, key=lambda n: (n[0], len(n[1])))[1] if w.nests else ()
    innermost = int(dom_loops[-1].extent) if dom_loops else 1
    n_loads = sum(a.trip for a in w.accesses if a.kind == "load")
    n_words = sum(a.trip for a in w.accesses if a.kind == "word")
    n_stores = sum(a.trip for a in w.accesses if a.kind == "store")
    calls = sum(v[1] for v in w.intrin.values())
    busy = sum(v[1] * max(getattr(v[0], "latency", 0), getattr(v[0], "issue_interval", 1)) for v in w.intrin.values())
    lat = sum(v[1] * getattr(v[0], "latency", 0) for v in w.intrin.values())
    iss = sum(v[1] * getattr(v[0], "issue_interval", 1) for v in w.intrin.values())
    static_calls = sum(v[2] for v in w.intrin.values())
    stateful = any(getattr(v[0], "stateful", False) for v in w.intrin.values())
    local_bytes = sum(b.size * _dtype_bytes(b.dtype) for b in w.allocs if b.scope == "local")
    tmp_bytes = sum(b.size * _dtype_bytes(b.dtype) for b in w.allocs if b.scope != "local")
    all_bytes = sum(a.trip * _dtype_bytes(a.buf.dtype) * a.lanes for a in w.accesses)
    arith = sum(w.ops.values())
    cm = _CacheModel(w.accesses)
    misses = sum(cm.misses(a) for a in cm.accesses)
    cached_loads = sum(a.trip for a in w.accesses if a.kind != "store" and a.buf.scope != "local")
    pressure = _register_pressure(w)
    store_bytes = sum(a.trip * _dtype_bytes(a.buf.dtype) for a in w.accesses
                      if a.kind == "store" and a.buf.scope != "local")
    feats += [
        _log(total_trip), _log(innermost), float(w.n_loops), float(w.max_depth), _log(w.code_size),
        float(w.n_unrolled), _log(w.unrolled_product), _log(w.guards), float(w.guards_static), _log(calls),
        _log(busy), _log(lat), _log(iss), _log(static_calls), float(len(w.intrin)), float(stateful),
        _log(n_stores), _log(n_loads), _log(n_words), _log(w.ops["add"]), _log(w.ops["mul"]), _log(w.ops["div"]),
        _log(w.ops["minmax"]), _log(w.ops["cast"]), _log(w.ops["select"]), _log(w.ops["cmp"]),
        float(len(w.allocs)), _log(local_bytes), _log(tmp_bytes), _log(all_bytes / calls) if calls else 0.0,
        calls / (calls + arith + n_loads + n_stores) if calls else 0.0,
        _log(w.index_ops), _log(w.loop_iters), _log(w.const_local), _log(_estimate_cycles(w, busy, misses)),
        _log(w.asm_calls),
        _log(misses), _log(misses / cached_loads) if cached_loads else 0.0, _log(cm.total_lines()),
        float(cm.total_lines() <= DCACHE_LINES), pressure, _log(max(0.0, pressure - REGISTERS)), _log(store_bytes),
        _log(calls / w.loop_iters) if w.loop_iters and calls else 0.0,
    ]
    # loops of the dominant nest, innermost first
    for d in range(MAX_DEPTH):
        if d < len(dom_loops):
            lp = dom_loops[-1 - d]
            feats += [_log(lp.extent)] + [float(lp.kind == k) for k in KINDS] + [1.0]
        else:
            feats += [0.0] * len(_LOOP_FEATS)
    # buffers
    for b in range(MAX_BUFFERS):
        if b < len(bufs):
            feats += _buffer_feats(bufs[b], per_buf[id(bufs[b])], cm)
        else:
            feats += [0.0] * len(_BUF_FEATS)
    # intrinsics in hashed slots (stable across processes)
    slots = [[0.0] * len(_INTRIN_FEATS) for _ in range(INTRIN_SLOTS)]
    for name in sorted(w.intrin):
        op, cnt, static = w.intrin[name]
        s = slots[zlib.crc32(name.encode()) % INTRIN_SLOTS]
        latency = float(getattr(op, "latency", 0))
        issue = float(getattr(op, "issue_interval", 1))
        s[0] += _log(cnt)
        s[1] = max(s[1], latency)
        s[2] = max(s[2], issue)
        s[3] = max(s[3], float(getattr(op, "stateful", False)))
        s[4] += _log(cnt * max(latency, issue))
        s[5] += _log(static)
    for s in slots:
        feats += s
    knobs = _knob_feats(config, space)[:MAX_KNOB_FEATS]
    feats += knobs + [0.0] * (MAX_KNOB_FEATS - len(knobs))
    return np.asarray(feats, dtype=np.float32)


def signature(func: PrimFunc, config=None) -> str:
    """A hash of the printed lowered kernel and the compiler knob of the config."""
    import hashlib

    comp = ""
    if config is not None:
        try:
            comp = str(config["compiler"].val) if "compiler" in config else ""
        except Exception:  # noqa: BLE001
            comp = ""
    return hashlib.sha1((str(func) + "\n" + comp).encode()).hexdigest()


class FeatureCache:
    """Features per config index of one task (failures give None).

    Configs that differ only in the compiler knob lower to the same IR, so each IR is lowered once:
    its features are kept under the config's other knob values, and each config only adds its own
    knob features (the last MAX_KNOB_FEATS entries).
    """

    def __init__(self, task, feature_type: str = "itervar"):
        if feature_type not in ("itervar", "knob"):
            raise ValueError(f"feature_type must be 'itervar' or 'knob', got {feature_type!r}")
        self.task = task
        self.space = task.config_space
        self.feature_type = feature_type
        self._cache: dict[int, np.ndarray | None] = {}
        self._sig: dict[int, str | None] = {}
        self._irsig: dict[int, str | None] = {}
        self._by_ir_knobs: dict[tuple, tuple] = {}  # knob choices but the compiler -> (IR features, IR signature)
        self.n_lowered = 0

    def __contains__(self, index: int) -> bool:
        return index in self._cache

    def knob_vector(self, index: int) -> np.ndarray:
        return knob_table(self.space).of_indices([index])[0]

    def knob_matrix(self, indices) -> np.ndarray:
        """Knob features of many configs at once, without lowering any."""
        return knob_table(self.space).of_indices(indices)

    def get(self, index: int) -> np.ndarray | None:
        index = int(index)
        if index in self._cache:
            return self._cache[index]
        sig: str | None = str(index)
        irsig = sig
        if self.feature_type == "knob":
            f = self.knob_vector(index)
        else:
            cfg = self.space.get(index)
            key, comp = self._ir_key(index, cfg)
            hit = self._by_ir_knobs.get(key) if key is not None else None
            if hit is None:
                try:
                    func = self.task.lower(cfg)
                    self.n_lowered += 1
                    hit = (extract_features(func)[:-MAX_KNOB_FEATS], signature(func))
                except Exception:  # noqa: BLE001 - a config that does not lower is predicted as bad
                    hit = (None, None)
                if key is not None:
                    self._by_ir_knobs[key] = hit
            if hit[0] is None:
                f, sig, irsig = None, None, None
            else:
                f = np.concatenate([hit[0], self.knob_vector(index)])
                irsig = hit[1]
                sig = f"{irsig}|{comp}"
        self._cache[index] = f
        self._sig[index] = sig
        self._irsig[index] = irsig
        return f

    def _ir_key(self, index: int, cfg) -> tuple[tuple | None, str]:
        """(the config's knob choices without the compiler, the compiler); key None: no decomposition."""
        comp = ""
        try:
            comp = str(cfg[COMPILER_KNOB].val) if COMPILER_KNOB in cfg else ""
            choices = self.space.decompose(index)
        except Exception:  # noqa: BLE001 - spaces without decompose: no sharing
            return None, comp
        return tuple(c for n, c in zip(self.space.knobs, choices) if n != COMPILER_KNOB), comp

    def ir_signature(self, index: int) -> str | None:
        """The lowered IR alone (configs that differ only in the compiler share it)."""
        index = int(index)
        if index not in self._irsig:
            self.get(index)
        return self._irsig[index]

    def signature(self, index: int) -> str | None:
        """What decides the measurement: the lowered IR and the compiler (None: does not lower).

        Configs with equal signatures (e.g. an unroll knob that a tensorized nest ignores) measure
        the same: the tuner measures one of them only.
        """
        index = int(index)
        if index not in self._sig:
            self.get(index)
        return self._sig[index]

    def matrix(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """(features of the indices that lower, boolean mask of which did)."""
        rows, ok = [], []
        width = MAX_KNOB_FEATS if self.feature_type == "knob" else feature_length()
        for i in indices:
            f = self.get(i)
            ok.append(f is not None)
            if f is not None:
                rows.append(f)
        x = np.vstack(rows) if rows else np.zeros((0, width), np.float32)
        return x, np.asarray(ok, dtype=bool)

    def put(self, index: int, features: np.ndarray | None) -> None:
        self._cache[int(index)] = features


__all__ = ["DCACHE_BYTES", "DCACHE_LINE", "FeatureCache", "KnobTable", "PRIOR_FEATURES", "extract_features",
           "feature_length", "feature_names", "knob_table", "signature"]
