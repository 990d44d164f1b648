"""Candidate instructions from the dataflow of lowered kernels (issue 12, candidates item 1).

    bodies = innermost_bodies(func)              -> LoopBody per innermost loop body, with its execution count
    g = dataflow_graph(body.stmt, body)           -> networkx.DiGraph of one body (nodes: loads, constants, ops,
                                                     stores; edges: operand -> user, attribute ``pos``)
    enumerate_subgraphs(g, max_inputs=2, ...)     -> convex connected subgraphs under the CFU's limits
    dataflow_candidates({"k": func}, top=10)      -> ranked DataflowCandidate list (spec, gain, kernels, pattern)

The graph of a body forwards a store to the later loads of the same address (what a C compiler's
register promotion does) and keeps only each address's last store; loads of the same element are
one node. A widening cast of a load is folded into the load (``lb``/``lh`` sign-extend for free). A
load whose address the body also stores and that does not move with the innermost loop is an
*accumulator* (loop-carried).

Enumeration follows Bonzini and Pozzi's observation: a convex subgraph ``S`` whose outputs are ``O``
and whose operation-node inputs are ``I`` is exactly ``A*(O) minus (I and A(I))`` (``A``: ancestors,
``A*``: with the nodes themselves), so enumerating output sets of at most ``max_outputs`` nodes and
input sets of at most ``max_inputs`` operation nodes finds every candidate, in polynomial time for
fixed limits, and convexity holds by construction. Memory operations are never inside a candidate:
loads are inputs, stores are users. Register inputs are counted per 32-bit word: loads of the same
buffer at constant offsets within one word count once (``pack``); with ``stateful`` an accumulator
is kept in the unit and is no register input (the variant with internal state).

Gains use a small cycle model of the core (:class:`CycleModel`): software cycles of the covered
operations and of the loads only they use, minus the unit's (two issue cycles per CFU op, plus a
load per input word), times the body's executions. A recognizer maps patterns that a parametric
family covers better to its spec: sums of products of narrow loads at adjacent addresses (within
the body, or along the innermost loop) -> ``dot`` / ``mac_bank`` / ``stationary``; products adjacent
along an outer data loop (depthwise NHWC channels) -> ``lane_mac``; max chains over adjacent int8
loads -> the lane-parallel ``simd_max``; a requantize chain -> ``requant``. Any
other winning single-output pattern with at most two scalar inputs becomes a ``fused`` spec.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from isa_ext.candidates import CandidateSpec
from isa_ext.errors import ExtensionError
from isa_ext.fam_fused import LANES, MAX_TOKENS, const_token, fused_spec, lanes_fit, parse
from tir import dtype as dt
from tir.expr import BinOp, BufferLoad, Call, Cast, Cmp, Const, Expr, Not, Ramp, Select, Var
from tir.simplify import linear
from tir.stmt import Allocate, Evaluate, For, IfThen, PrimFunc, Seq, Stmt, Store

# node kinds that are never inside a candidate
LEAF_KINDS = ("load", "const", "var")
SINK_KINDS = ("store", "effect")
_BINOP = {"+": "add", "-": "sub", "*": "mul", "min": "min", "max": "max", "//": "div", "%": "mod", "/": "div"}
_COMMUTATIVE = ("add", "mul", "min", "max", "and", "or", "eq", "ne")


@dataclass(frozen=True)
class CycleModel:
    """Cycles per operation on VexRiscv (rv32im, no Zbb): see the toolchain facts note.

    ``minmax`` and ``select`` take a compare and a branch or a mask; a narrowing ``cast`` that a
    store does not absorb is a shift pair; ``call`` is a pure helper (the 64-bit product of
    q_multiply_shift); a CFU op occupies ``cfu`` issue cycles.
    """

    add: float = 1.0
    mul: float = 1.0
    shift: float = 1.0
    minmax: float = 2.0
    select: float = 2.0
    cmp: float = 1.0
    cast: float = 2.0
    div: float = 33.0
    call: float = 20.0
    load: float = 1.0
    cfu: float = 2.0

    def op_cycles(self, g: nx.DiGraph, n) -> float:
        d = g.nodes[n]
        k = d["kind"]
        if k in ("add", "sub", "and", "or", "xor", "not"):
            return self.add
        if k == "mul":
            return self.mul
        if k in ("min", "max"):
            return self.minmax
        if k == "select":
            return self.select
        if k in ("lt", "le", "gt", "ge", "eq", "ne"):
            return self.cmp
        if k in ("div", "mod"):
            c = _const_operand(g, n, 1)
            return self.shift + (1 if k == "div" and dt.is_int(d["dtype"]) else 0) if _pow2(c) else self.div
        if k == "cast":
            # a narrowing cast a store writes anyway (sb / sh) costs nothing
            if all(g.nodes[s]["kind"] == "store" for s in g.successors(n)):
                return 0.0
            return self.cast
        if k == "call":
            return self.call
        return self.add


@dataclass
class LoopBody:
    """One innermost loop body of a kernel: the statement, the loops around it and how often it runs."""

    kernel: str
    stmt: Stmt
    loops: tuple  # the For nodes around it, outermost first (the innermost one last)
    executions: int

    @property
    def loop_var(self) -> Var | None:
        return self.loops[-1].var if self.loops else None


def innermost_bodies(func: PrimFunc, kernel: str | None = None) -> list[LoopBody]:
    """Every innermost loop body of ``func`` (a For whose body holds no For), with its execution count
    (the product of the extents of the loops around it, its own included)."""
    name = kernel or func.name
    out: list[LoopBody] = []

    def has_loop(s: Stmt) -> bool:
        if isinstance(s, For):
            return True
        if isinstance(s, Seq):
            return any(has_loop(c) for c in s.stmts)
        if isinstance(s, IfThen):
            return has_loop(s.then) or (s.otherwise is not None and has_loop(s.otherwise))
        if isinstance(s, Allocate):
            return has_loop(s.body)
        return False

    def go(s: Stmt, loops: tuple, count: int):
        if isinstance(s, For):
            ext = s.extent if isinstance(s.extent, int) else getattr(s.extent, "value", 1)
            inner = (*loops, s)
            if not has_loop(s.body):
                out.append(LoopBody(name, s.body, inner, count * int(ext)))
            else:
                # the loop-free statements beside the inner loops (a fully unrolled tile) are a body too
                flat = [c for c in _members(s.body) if not has_loop(c)]
                if any(_has_arith(c) for c in flat):
                    out.append(LoopBody(name, Seq(flat), inner, count * int(ext)))
                go(s.body, inner, count * int(ext))
        elif isinstance(s, Seq):
            for c in s.stmts:
                if has_loop(c):
                    go(c, loops, count)
        elif isinstance(s, IfThen):
            go(s.then, loops, count)
            if s.otherwise is not None:
                go(s.otherwise, loops, count)
        elif isinstance(s, Allocate):
            go(s.body, loops, count)

    go(func.body, (), 1)
    if not out and not has_loop(func.body):
        out.append(LoopBody(name, func.body, (), 1))
    return out


def _members(s: Stmt) -> list:
    """The statements of a block, looking through allocations and nested sequences."""
    if isinstance(s, Allocate):
        return _members(s.body)
    if isinstance(s, Seq):
        return [m for c in s.stmts for m in _members(c)]
    return [s]


def _has_arith(s: Stmt) -> bool:
    """True when a loop-free statement computes something (more than a copy or a constant store)."""
    from tir.printer import iter_stmts

    for st in iter_stmts(s):
        if isinstance(st, Store) and isinstance(st.value, (BinOp, Select, Call)):
            return True
        if isinstance(st, Evaluate):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# the dataflow graph


def _flat_index(buf, indices) -> Expr:
    strides, s = [], 1
    for n in reversed(buf.shape):
        strides.insert(0, s)
        s *= n
    e: Expr = Const(0, "int32")
    for i, st in zip(indices, strides):
        e = BinOp("+", e, BinOp("*", i, Const(st, "int32"), "int32"), "int32")
    return e


def _affine(buf, indices):
    """(symbolic part as a hashable key, constant offset, {var id: coefficient}) of the flat index."""
    try:
        lin = linear(_flat_index(buf, indices))
    except Exception:  # noqa: BLE001 - a non-affine index: keyed by its text, no offsets
        return (str(tuple(indices)),), 0, {}
    terms, coef = [], {}
    for e, co in lin.terms.values():
        if co:
            terms.append((str(e), co))
            if isinstance(e, Var):
                coef[id(e)] = co
    return tuple(sorted(terms)), int(lin.c), coef


class _Builder:
    def __init__(self, loop_var: Var | None, loops: tuple = ()):
        self.g = nx.DiGraph()
        self.count = 0
        self.loop_var = loop_var
        self.loops = loops  # the For nodes around the body: each access's steps along them
        self.nodes: dict = {}  # structural key -> node id
        self.stored: dict = {}  # (buffer id, index key) -> value node of the last store
        self.store_node: dict = {}  # (buffer id, index key) -> its store node
        self.first_loads: dict = {}  # (buffer id, index key) -> load node read before any store

    def add(self, key, **attrs) -> int:
        if key is not None and key in self.nodes:
            return self.nodes[key]
        n = self.count  # never len(g): dead stores are removed
        self.count += 1
        self.g.add_node(n, **attrs)
        if key is not None:
            self.nodes[key] = n
        return n

    def edge(self, src: int, dst: int, pos: int) -> None:
        self.g.add_edge(src, dst, pos=pos)

    def load(self, bl: BufferLoad, widen: str | None = None) -> int:
        buf = bl.buffer
        ikey = (id(buf), tuple(str(i) for i in bl.indices))
        if ikey in self.stored:
            v = self.stored[ikey]
            if widen is None:
                return v
            n = self.add(("cast", widen, v), kind="cast", dtype=widen, label=f"cast.{widen}")
            self.edge(v, n, 0)
            return n
        sym, off, coef = _affine(buf, bl.indices)
        stride = coef.get(id(self.loop_var), 0) if self.loop_var is not None else 0
        dtype = widen or buf.dtype
        n = self.add(("load", ikey, dtype), kind="load", dtype=dtype, elem=buf.dtype, buffer=buf.name,
                     buf_id=id(buf), sym=sym, offset=off, stride=stride, carried=False, ikey=ikey,
                     steps=tuple(coef.get(id(lp.var), 0) for lp in self.loops),
                     label=f"ld.{buf.dtype}" + (f">{dtype}" if dtype != buf.dtype else ""))
        self.first_loads.setdefault(ikey, []).append(n)
        return n

    def expr(self, e: Expr) -> int:
        if isinstance(e, Const):
            return self.add(("const", e.dtype, e.value), kind="const", dtype=e.dtype, value=e.value,
                            label=str(e.value))
        if isinstance(e, BufferLoad):
            return self.load(e)
        if isinstance(e, Cast):
            v = e.value
            if (isinstance(v, BufferLoad) and dt.is_int(e.dtype) and dt.is_int(v.dtype)
                    and dt.bits(e.dtype) > dt.bits(v.dtype)):
                return self.load(v, e.dtype)
            a = self.expr(v)
            n = self.add(("cast", e.dtype, a), kind="cast", dtype=e.dtype, src=v.dtype, label=f"cast.{e.dtype}")
            self.edge(a, n, 0)
            return n
        if isinstance(e, BinOp):
            a, b = self.expr(e.a), self.expr(e.b)
            k = _BINOP.get(e.op, e.op)
            n = self.add((k, e.dtype, a, b), kind=k, dtype=e.dtype, label=f"{k}.{e.dtype}")
            self.edge(a, n, 0)
            if b != a:
                self.edge(b, n, 1)
            else:
                self.g.nodes[n]["same_operands"] = True
            return n
        if isinstance(e, Cmp):
            a, b = self.expr(e.a), self.expr(e.b)
            k = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}[e.op]
            n = self.add((k, a, b), kind=k, dtype="bool", label=k)
            self.edge(a, n, 0)
            if b != a:
                self.edge(b, n, 1)
            return n
        if isinstance(e, Not):
            a = self.expr(e.a)
            n = self.add(("not", a), kind="not", dtype="bool", label="not")
            self.edge(a, n, 0)
            return n
        if isinstance(e, Select):
            ops = [self.expr(x) for x in (e.cond, e.t, e.f)]
            n = self.add(("select", *ops), kind="select", dtype=e.dtype, label="select")
            for p, o in enumerate(ops):
                if not self.g.has_edge(o, n):
                    self.edge(o, n, p)
            return n
        if isinstance(e, Call):
            pure = getattr(e.op, "pure", False) and not getattr(e.op, "stateful", False)
            ops = [self.expr(x) for x in e.args]
            name = getattr(e.op, "name", getattr(e.op, "c_name", "call"))
            key = ("call", name, *ops) if pure else None
            n = self.add(key, kind="call" if pure else "effect", dtype=e.dtype, callee=name,
                         label=f"call.{name}")
            for p, o in enumerate(ops):
                if not self.g.has_edge(o, n):
                    self.edge(o, n, p)
            return n
        if isinstance(e, Ramp):
            ikey = (id(e.buffer), tuple(str(i) for i in e.indices), "ramp")
            sym, off, coef = _affine(e.buffer, e.indices)
            return self.add(("ramp", ikey), kind="load", dtype="uint32", elem="uint32", buffer=e.buffer.name,
                            buf_id=id(e.buffer), sym=sym, offset=off, stride=0, carried=False, ikey=ikey,
                            label="ld.word")
        if isinstance(e, Var):
            return self.add(("var", id(e)), kind="var", dtype=e.dtype, name=e.name, label=f"var.{e.dtype}")
        # anything else is an opaque leaf (one register input)
        return self.add(None, kind="var", dtype=e.dtype, name=str(e), label=f"var.{e.dtype}")

    def stmt(self, s: Stmt) -> None:
        if isinstance(s, Seq):
            for c in s.stmts:
                self.stmt(c)
        elif isinstance(s, Store):
            v = self.expr(s.value)
            ikey = (id(s.buffer), tuple(str(i) for i in s.indices))
            old = self.store_node.pop(ikey, None)
            if old is not None:  # overwritten in the same body: the earlier store is dead
                self.g.remove_node(old)
            sym, off, coef = _affine(s.buffer, s.indices)
            n = self.add(None, kind="store", dtype=s.buffer.dtype, buffer=s.buffer.name, ikey=ikey, sym=sym,
                         offset=off, steps=tuple(coef.get(id(lp.var), 0) for lp in self.loops), lanes=s.lanes,
                         label=f"st.{s.buffer.dtype}" + (".word" if s.lanes > 1 else ""))
            self.edge(v, n, 0)
            self.stored[ikey] = v
            self.store_node[ikey] = n
        elif isinstance(s, Evaluate):
            v = self.expr(s.value)
            if self.g.nodes[v]["kind"] != "effect":
                n = self.add(None, kind="effect", dtype="void", label="eval")
                self.edge(v, n, 0)
        elif isinstance(s, IfThen):
            self.stmt(s.then)
            if s.otherwise is not None:
                self.stmt(s.otherwise)
        elif isinstance(s, Allocate):
            self.stmt(s.body)
        elif isinstance(s, For):  # not innermost: its body is walked once
            self.stmt(s.body)

    def finish(self) -> nx.DiGraph:
        lv = self.loop_var
        for ikey, loads in self.first_loads.items():
            if ikey in self.store_node:
                for n in loads:
                    d = self.g.nodes[n]
                    d["carried"] = lv is None or d["stride"] == 0
        return self.g


def dataflow_graph(stmt: Stmt, body: LoopBody | None = None, loop_var: Var | None = None) -> nx.DiGraph:
    """The dataflow graph of one loop body (see the module docstring).

    Node attributes: ``kind`` (``load``, ``const``, ``var``, ``add``, ``sub``, ``mul``, ``min``, ``max``,
    ``div``, ``mod``, ``cast``, ``lt``... ``select``, ``call``, ``store``, ``effect``), ``dtype``, ``label``;
    loads also ``buffer``, ``elem`` (the buffer's dtype), ``sym`` / ``offset`` (the affine flat index:
    symbolic part and constant), ``stride`` (elements per step of the innermost loop) and ``carried``
    (an accumulator); constants ``value``. Edge attribute ``pos``: operand position.
    """
    if loop_var is None and body is not None:
        loop_var = body.loop_var
    b = _Builder(loop_var, body.loops if body is not None else ())
    b.stmt(stmt)
    g = b.finish()
    g.graph["executions"] = body.executions if body is not None else 1
    g.graph["kernel"] = body.kernel if body is not None else ""
    ext = body.loops[-1].extent if body is not None and body.loops else None
    g.graph["extent"] = int(getattr(ext, "value", ext)) if ext is not None else None
    g.graph["loops"] = tuple((lp.var.name, int(getattr(lp.extent, "value", lp.extent)))
                             for lp in (body.loops if body is not None else ()))
    return g


def is_op(g: nx.DiGraph, n) -> bool:
    """True for nodes a candidate may contain (not memory, not constants, not side effects)."""
    return g.nodes[n]["kind"] not in LEAF_KINDS + SINK_KINDS


# ---------------------------------------------------------------------------------------------
# counting inputs and outputs


def _lanes(elem: str) -> int:
    try:
        bits = dt.bits(elem)
    except Exception:  # noqa: BLE001
        return 1
    return max(1, 32 // bits) if bits < 32 else 1


def word_groups(g: nx.DiGraph, loads: Iterable) -> list[list]:
    """Loads packed into 32-bit words: the same buffer and symbolic index, constant offsets within
    one word's lanes (greedily from the lowest offset)."""
    by: dict = {}
    for n in loads:
        d = g.nodes[n]
        by.setdefault((d["buffer"], d["sym"], d["elem"]), []).append(n)
    out = []
    for (_b, _s, elem), ns in by.items():
        lanes = _lanes(elem)
        ns = sorted(ns, key=lambda x: g.nodes[x]["offset"])
        cur: list = []
        for n in ns:
            if cur and g.nodes[n]["offset"] - g.nodes[cur[0]]["offset"] >= lanes:
                out.append(cur)
                cur = []
            cur.append(n)
        if cur:
            out.append(cur)
    return out


def input_nodes(g: nx.DiGraph, s) -> set:
    """Nodes outside ``s`` (constants excluded) whose values ``s`` reads."""
    return {p for n in s for p in g.predecessors(n) if p not in s and g.nodes[p]["kind"] != "const"}


def input_cost(g: nx.DiGraph, inputs: Iterable, *, stateful: bool = False, pack: bool = True) -> int:
    """Register inputs an instruction needs for these input nodes: one per operation value or
    variable, one per word of loads (``pack``) or per load; an accumulator costs nothing with
    ``stateful`` (it lives in the unit)."""
    ops, loads = 0, []
    for n in inputs:
        d = g.nodes[n]
        if d["kind"] == "load":
            if stateful and d.get("carried"):
                continue
            loads.append(n)
        else:
            ops += 1
    return ops + (len(word_groups(g, loads)) if pack else len(loads))


def output_nodes(g: nx.DiGraph, s) -> set:
    """Nodes of ``s`` whose value is used outside it (or by nothing: a live-out value)."""
    out = set()
    for n in s:
        succ = list(g.successors(n))
        if not succ or any(x not in s for x in succ):
            out.add(n)
    return out


def is_convex(g: nx.DiGraph, s) -> bool:
    """No path leaves ``s`` and comes back."""
    s = set(s)
    frontier = [x for n in s for x in g.successors(n) if x not in s]
    seen = set(frontier)
    while frontier:
        n = frontier.pop()
        for x in g.successors(n):
            if x in s:
                return False
            if x not in seen:
                seen.add(x)
                frontier.append(x)
    return True


def _connected(g: nx.DiGraph, s) -> bool:
    s = set(s)
    start = next(iter(s))
    seen, todo = {start}, [start]
    while todo:
        n = todo.pop()
        for x in itertools.chain(g.successors(n), g.predecessors(n)):
            if x in s and x not in seen:
                seen.add(x)
                todo.append(x)
    return len(seen) == len(s)


def is_valid(g: nx.DiGraph, s, *, max_inputs: int = 2, max_outputs: int = 1, max_nodes: int = 12,
             stateful: bool = False, pack: bool = True) -> bool:
    """The definition :func:`enumerate_subgraphs` enumerates (what a brute force checks)."""
    s = set(s)
    return (0 < len(s) <= max_nodes and all(is_op(g, n) for n in s) and _connected(g, s) and is_convex(g, s)
            and 1 <= len(output_nodes(g, s)) <= max_outputs
            and input_cost(g, input_nodes(g, s), stateful=stateful, pack=pack) <= max_inputs)


def enumerate_subgraphs(g: nx.DiGraph, max_inputs: int = 2, max_outputs: int = 1, *, max_nodes: int = 12,
                        stateful: bool = False, pack: bool = True, limit: int = 20000,
                        max_frontier: int = 48) -> list[frozenset]:
    """Every convex, connected set of operation nodes with at most ``max_inputs`` register inputs
    (:func:`input_cost`), 1 to ``max_outputs`` outputs and at most ``max_nodes`` nodes; at most
    ``limit`` of them (first found first). See the module docstring for the method.

    The input sets tried for an output set are drawn from its ``max_frontier`` nearest operation
    ancestors (within ``max_nodes`` steps): exact whenever no output has more of those (every test
    graph), and a bound on the work for very wide bodies.
    """
    ops = [n for n in nx.topological_sort(g) if is_op(g, n)]
    idx = {n: i for i, n in enumerate(ops)}
    nbit = [1 << i for i in range(len(ops))]
    anc = [0] * len(ops)  # strict op ancestors, as bit masks
    for n in ops:
        m = 0
        for p in g.predecessors(n):
            if p in idx:
                m |= anc[idx[p]] | nbit[idx[p]]
        anc[idx[n]] = m
    op_preds = [[idx[p] for p in g.predecessors(n) if p in idx] for n in ops]
    op_succs = [[idx[x] for x in g.successors(n) if x in idx] for n in ops]
    ext_succ = [any(x not in idx for x in g.successors(n)) or not list(g.successors(n)) for n in ops]
    leaf_preds = [[p for p in g.predecessors(n) if p not in idx and g.nodes[p]["kind"] != "const"] for n in ops]
    found: dict[int, frozenset] = {}
    checked: set[int] = set()
    # input_cost without graph look-ups: (is a free accumulator, word-group key, offset, lanes) per leaf
    leaf_info = {}
    for n in g:
        d = g.nodes[n]
        if d["kind"] == "load":
            free = stateful and bool(d.get("carried"))
            leaf_info[n] = (free, (d["buffer"], d["sym"], d["elem"]) if pack else n, d["offset"], _lanes(d["elem"]))
        else:  # a variable or an effect's result: one register
            leaf_info[n] = (False, n, 0, 1)

    def fast_cost(leaves) -> int:
        by: dict = {}
        for n in leaves:
            free, key, off, lanes = leaf_info[n]
            if not free:
                by.setdefault(key, []).append((off, lanes))
        total = 0
        for offs in by.values():
            if len(offs) == 1:
                total += 1
                continue
            offs.sort()
            start = None
            for off, lanes in offs:
                if start is None or off - start >= lanes:
                    total += 1
                    start = off
        return total

    def near_back(o_set: tuple) -> list[int]:
        # op ancestors within max_nodes steps: an input op node feeds S, so it lies that close
        dist = {o: 0 for o in o_set}
        todo = list(o_set)
        while todo:
            n = todo.pop(0)
            if dist[n] >= max_nodes:
                continue
            for p in op_preds[n]:
                if p not in dist:
                    dist[p] = dist[n] + 1
                    todo.append(p)
        return [n for n in dist if n not in o_set][:max_frontier]  # BFS order: the nearest first

    def near_any(o: int) -> list[int]:
        dist = {o: 0}
        todo = [o]
        while todo:
            n = todo.pop(0)
            if dist[n] >= max_nodes - 1:
                continue
            for p in op_preds[n] + op_succs[n]:
                if p not in dist:
                    dist[p] = dist[n] + 1
                    todo.append(p)
        return [n for n in dist if n > o]

    def bits(m: int):
        while m:
            low = m & -m
            yield low.bit_length() - 1
            m ^= low

    def consider(mask: int) -> None:
        if mask in checked:
            return
        checked.add(mask)
        members = list(bits(mask))
        n_out, op_in, leaves = 0, 0, set()
        for i in members:
            if ext_succ[i] or any(not (mask >> j) & 1 for j in op_succs[i]):
                n_out += 1
                if n_out > max_outputs:
                    return
            for j in op_preds[i]:
                if not (mask >> j) & 1:
                    op_in |= nbit[j]
            leaves.update(leaf_preds[i])
        cost = op_in.bit_count()
        if cost > max_inputs:
            return
        cost += fast_cost(leaves)
        if cost > max_inputs or n_out < 1:
            return
        if max_outputs > 1 and not _connected(g, {ops[i] for i in members}):
            return
        found[mask] = frozenset(ops[i] for i in members)

    out_sets: Iterable[tuple] = ((i,) for i in range(len(ops)))
    if max_outputs > 1:
        def gen():
            for o in range(len(ops)):
                yield (o,)
                near = near_any(o)
                for k in range(1, max_outputs):
                    for rest in itertools.combinations(sorted(near), k):
                        yield (o, *rest)
        out_sets = gen()
    for o_set in out_sets:
        top = 0
        for o in o_set:
            top |= anc[o] | nbit[o]
        cands = near_back(o_set)
        for k in range(0, max_inputs + 1):
            for cut in itertools.combinations(cands, k):
                rm = 0
                for i in cut:
                    rm |= nbit[i] | anc[i]
                mask = top & ~rm
                if not mask or mask.bit_count() > max_nodes or any(not (mask >> o) & 1 for o in o_set):
                    continue
                consider(mask)
                if len(found) >= limit:
                    return list(found.values())
    return list(found.values())


# ---------------------------------------------------------------------------------------------
# canonical patterns


def _leaf_desc(g: nx.DiGraph, n) -> str:
    d = g.nodes[n]
    if d["kind"] == "load":
        t = f"ld.{d['elem']}" + (f">{d['dtype']}" if d["dtype"] != d["elem"] else "")
        return t + (".acc" if d.get("carried") else "")
    return f"in.{d['dtype']}"


def pattern_text(g: nx.DiGraph, s) -> str:
    """A canonical text of subgraph ``s`` (operands of commutative ops sorted, inputs numbered in
    order of first appearance): isomorphic subgraphs, in one kernel or two, give the same text."""
    s = set(s)

    def anon(n) -> str:
        return _anon(g, s, n)

    names: dict = {}

    def named(n) -> str:
        d = g.nodes[n]
        if n not in s:
            if d["kind"] == "const":
                return f"{d['value']}"
            if n not in names:
                names[n] = f"x{len(names)}:{_leaf_desc(g, n)}"
            return names[n]
        ops = _operands(g, n)
        if d["kind"] in _COMMUTATIVE:
            ops = sorted(ops, key=anon)
        return f"{d['label']}(" + ", ".join(named(p) for p in ops) + ")"

    outs = sorted(output_nodes(g, s), key=anon)
    return "; ".join(named(o) for o in outs)


def _anon(g: nx.DiGraph, s, n) -> str:
    """A canonical text of the value of ``n`` within ``s``, inputs anonymous (orders commutative operands)."""
    d = g.nodes[n]
    if n not in s:
        if d["kind"] == "const":
            return f"{d['value']}"
        return _leaf_desc(g, n)
    args = [_anon(g, s, p) for p in _operands(g, n)]
    if d["kind"] in _COMMUTATIVE:
        args.sort()
    return f"{d['label']}(" + ",".join(args) + ")"


def _operands(g: nx.DiGraph, n) -> list:
    preds = sorted(g.predecessors(n), key=lambda p: g.edges[p, n]["pos"])
    if g.nodes[n].get("same_operands"):
        preds = preds * 2
    return preds


# ---------------------------------------------------------------------------------------------
# the recognizer and the gains


@dataclass
class DataflowCandidate:
    """One proposed instruction: its spec, the estimated gain (cycles saved over the kernels), the
    kernels whose loop bodies hold the pattern, and the pattern as text."""

    spec: CandidateSpec
    gain: float
    kernels: tuple[str, ...]
    pattern: str
    occurrences: int = 0
    sw_cycles: float = 0.0  # per occurrence
    unit_cycles: float = 0.0
    per_kernel: dict = field(default_factory=dict)
    # a fused op whose inputs are loads and whose result is stored: a schedule can tensorize the stage
    elementwise: bool = False

    def to_json(self) -> dict:
        """Plain data for records and reports (the spec as :meth:`CandidateSpec.to_json`)."""
        return {"spec": self.spec.to_json(), "gain": self.gain, "kernels": list(self.kernels), "pattern": self.pattern,
                "occurrences": self.occurrences, "per_kernel": dict(self.per_kernel), "elementwise": self.elementwise}

    def describe(self) -> str:
        return (f"{self.spec.key}: gain {self.gain:.0f} cycles over {', '.join(self.kernels)} "
                f"({self.occurrences} occurrences of {self.pattern})")


def _const_operand(g: nx.DiGraph, n, pos: int):
    for p in g.predecessors(n):
        if g.edges[p, n]["pos"] == pos and g.nodes[p]["kind"] == "const":
            return g.nodes[p]["value"]
    return None


def _pow2(c) -> bool:
    return isinstance(c, int) and c > 0 and not c & (c - 1)


def _narrow_load(g: nx.DiGraph, n) -> bool:
    d = g.nodes[n]
    return d["kind"] == "load" and dt.is_int(d["elem"]) and dt.bits(d["elem"]) < 32 and not d.get("carried")


def _adjacent(g: nx.DiGraph, loads: list, min_run: int | None = None) -> bool:
    """Loads of narrow elements that pack several to a word: at adjacent offsets within the body or
    at stride 1 along an innermost loop of at least ``min_run`` iterations (default: a word's lanes,
    as a reduction packed into words needs)."""
    if not loads:
        return False
    if all(g.nodes[n]["stride"] == 1 for n in loads):
        ext = g.graph.get("extent")
        need = min_run if min_run is not None else min(_lanes(g.nodes[n]["elem"]) for n in loads)
        return ext is None or ext >= need
    groups = word_groups(g, loads)
    return len(groups) < len(loads)


def _mac_products(g: nx.DiGraph, s) -> list:
    """Products in ``s`` of two narrow loads whose value an add in ``s`` consumes."""
    out = []
    for n in s:
        if g.nodes[n]["kind"] != "mul":
            continue
        ops = _operands(g, n)
        if len(ops) == 2 and all(_narrow_load(g, p) for p in ops) and any(
                x in s and g.nodes[x]["kind"] == "add" for x in g.successors(n)):
            out.append(n)
    return out


def _loads_only_used_by(g: nx.DiGraph, s, leaves) -> list:
    return [n for n in leaves if g.nodes[n]["kind"] == "load" and all(x in s for x in g.successors(n))]


def sw_cycles(g: nx.DiGraph, s, model: CycleModel) -> float:
    """Software cycles of ``s``: its operations plus the loads only it uses."""
    # an accumulator lives in a register in software too (register promotion)
    own = [n for n in _loads_only_used_by(g, s, input_nodes(g, s)) if not g.nodes[n].get("carried")]
    return sum(model.op_cycles(g, n) for n in s) + model.load * len(own)


def unit_cycles(g: nx.DiGraph, s, model: CycleModel, pack: bool = True) -> float:
    """Cycles of one CFU op doing ``s``: its issue cycles plus one load per input word it alone uses."""
    own = [n for n in _loads_only_used_by(g, s, input_nodes(g, s)) if not g.nodes[n].get("carried")]
    words = len(word_groups(g, own)) if pack else len(own)
    return model.cfu + model.load * words


def _round_up(n: int, grid=(4, 8, 16, 32)) -> int:
    for x in grid:
        if n <= x:
            return x
    return grid[-1]


def _mac_specs(g: nx.DiGraph, model: CycleModel) -> list[tuple[CandidateSpec, float, str]]:
    """Family specs for the multiply-accumulates of a body, with the gain per body execution."""
    prods = [n for n in g if g.nodes[n]["kind"] == "mul" and len(_operands(g, n)) == 2
             and all(_narrow_load(g, p) for p in _operands(g, n))
             and any(g.nodes[x]["kind"] == "add" for x in g.successors(n))]
    if not prods:
        return []
    loads = sorted({p for n in prods for p in _operands(g, n)})
    if not _adjacent(g, loads):
        return _lane_mac_specs(g, prods, loads, model) or _stationary_only(g, prods, loads, model)
    elem = g.nodes[loads[0]]["elem"]
    elems = {g.nodes[n]["elem"] for n in loads}
    if len(elems) != 1 or elem not in ("int8", "uint8", "int16"):
        return []
    lanes = _lanes(elem)
    p = len(prods)
    # accumulators: the adds fed by products that are chain ends (their value leaves the add chain)
    accs = {x for n in prods for x in g.successors(n) if g.nodes[x]["kind"] == "add"}
    ends = [a for a in accs if not any(g.nodes[y]["kind"] == "add" and y in accs for y in g.successors(a))]
    n_acc = max(1, len(ends))
    stride_only = all(g.nodes[n]["stride"] == 1 for n in loads)
    # software: a mul and an add per product, every distinct load
    sw = p * (model.mul + model.add) + model.load * len(loads)
    words = len(loads) / lanes if stride_only else len(word_groups(g, loads))
    pattern = f"sum of {p} products of {elem} loads at adjacent addresses into {n_acc} accumulator(s)"
    out = []
    dot = CandidateSpec.of("dot", source="dataflow", lanes=lanes, dtype=elem)
    out.append((dot, sw - (p / lanes * (model.cfu + model.add) + model.load * words), pattern))
    if elem == "int8":
        bank = CandidateSpec.of("mac_bank", source="dataflow", n_acc=_round_up(n_acc), lanes=4, dtype="int8")
        out.append((bank, sw - (p / lanes * model.cfu + model.load * words), pattern))
        # operand-stationary: 4 columns x 64 weights in the unit, 2 activation words -> 32 MACs per op
        st = CandidateSpec.of("stationary", source="dataflow", cols=4, k=64, dtype="int8")
        out.append((st, sw - (p / 32 * (model.cfu + 2 * model.load) + model.load * words / 4), pattern))
    return out


def _stationary_only(g: nx.DiGraph, prods: list, loads: list, model: CycleModel):
    """Products where only one operand is adjacent along the reduction (conv NHWC with HWIO weights):
    an operand-stationary unit holds the other operand's tile, so only the streamed one is packed."""
    if {g.nodes[n]["elem"] for n in loads} != {"int8"}:
        return []
    by: dict = {}
    for n in loads:
        by.setdefault(g.nodes[n]["buffer"], []).append(n)
    streamed = [b for b, ns in by.items() if _adjacent(g, ns)]
    if len(by) != 2 or len(streamed) != 1:
        return []
    p = len(prods)
    sw = p * (model.mul + model.add) + model.load * len(loads)
    unit = p / 32 * (model.cfu + 2 * model.load)
    pattern = (f"sum of {p} products of int8 loads, {streamed[0]} adjacent along the reduction, the other operand "
               "held in the unit")
    return [(CandidateSpec.of("stationary", source="dataflow", cols=4, k=64, dtype="int8"), sw - unit, pattern)]


def _lane_loop(g: nx.DiGraph, loads: list, stores: list, lanes: int) -> int | None:
    """The position of an outer data loop along which every load and the results move by one element
    (e.g. the channels of a depthwise convolution in NHWC) and that holds whole words, or None."""
    loops = g.graph.get("loops", ())
    for j in range(len(loops) - 2, -1, -1):
        if loops[j][1] < lanes:
            continue
        if all(g.nodes[n].get("steps", ())[j:j + 1] == (1,) for n in loads) and stores and all(
                g.nodes[n].get("steps", ())[j:j + 1] == (1,) for n in stores):
            return j
    return None


def _lane_mac_specs(g: nx.DiGraph, prods: list, loads: list, model: CycleModel):
    """A channel-parallel MAC (family ``lane_mac``) for products adjacent along an outer data loop."""
    if {g.nodes[n]["elem"] for n in loads} != {"int8"}:
        return []
    stores = [n for n in g if g.nodes[n]["kind"] == "store"]
    j = _lane_loop(g, loads, stores, 4)
    if j is None:
        return []
    p = len(prods)
    sw = p * (model.mul + model.add) + model.load * len(loads)
    unit = p / 4 * model.cfu + model.load * len(loads) / 4  # four channels per op and word, sums in the unit
    pattern = (f"sum of {p} products of int8 loads adjacent along the data loop {g.graph['loops'][j][0]!r} "
               "(lane-parallel)")
    return [(CandidateSpec.of("lane_mac", source="dataflow", lanes=4, accumulators=16), sw - unit, pattern)]


def _simd_spec(g: nx.DiGraph, s, model: CycleModel):
    """A lane-parallel max / min for max chains over adjacent narrow loads (gain per occurrence)."""
    kinds = {g.nodes[n]["kind"] for n in s}
    if not kinds or not kinds <= {"max", "min"} or len(kinds) != 1:
        return None
    if any(g.nodes[p]["kind"] == "const" for n in s for p in g.predecessors(n)):
        return None  # a max with a constant is an activation (relu, clamp), not a window: the fused family's
    loads = [p for p in input_nodes(g, s) if _narrow_load(g, p)]
    # a pooling window of two or more adjacent elements: neighbouring windows share the words
    if not loads or not _adjacent(g, loads, 2):
        return None
    elem = g.nodes[loads[0]]["elem"]
    if {g.nodes[n]["elem"] for n in loads} != {elem} or elem not in ("int8", "uint8", "int16"):
        return None
    lanes = _lanes(elem)
    op = kinds.pop()
    sw = sum(model.op_cycles(g, n) for n in s) + model.load * len(loads)
    unit = (model.cfu + model.load) * len(s) / lanes  # one op and one word load per `lanes` elements
    if op != "max" or elem != "int8":  # the lane-parallel family has a 4-lane int8 max only
        return None
    spec = CandidateSpec.of("simd_max", source="dataflow", lanes=lanes, dtype=elem)
    return spec, sw - unit


def _byte_lanes(g: nx.DiGraph, s, ins: list, fx) -> bool:
    """Whether an elementwise fused op ``fx`` (its inputs ``ins`` loads, its results stored) can take 4
    adjacent elements per op: an 8-bit DAG whose loads and stores move by one element along an innermost
    loop of a multiple of 4 iterations."""
    if not lanes_fit(parse(*fx), fx[1], fx[2]):
        return False
    stores = [x for o in output_nodes(g, s) for x in g.successors(o)]
    if not stores:
        return False
    ext = g.graph.get("extent")
    if ext is not None and ext % LANES == 0 and all(g.nodes[n]["stride"] == 1 for n in ins) and all(
            g.nodes[n].get("steps", ())[-1:] == (1,) for n in stores):
        return True
    # an unrolled body: each operand and result has the other elements of its word beside it in the body
    return all(_whole_word(g, n) for n in [*ins, *stores])


def _whole_word(g: nx.DiGraph, n) -> bool:
    """Whether the body also accesses (the same way: load or store) the other elements of the word of
    access ``n``, and the innermost loop moves it by whole words."""
    d = g.nodes[n]
    step = d["stride"] if d["kind"] == "load" else (d.get("steps") or (0,))[-1]
    if d.get("sym") is None or step % LANES:
        return False
    have = _access_offsets(g).get((d["kind"], d["buffer"], d["sym"]), set())
    base = d["offset"] - d["offset"] % LANES
    return all(base + k in have for k in range(LANES))


def _access_offsets(g: nx.DiGraph) -> dict:
    """(load / store, buffer, symbolic index) -> the constant offsets the body accesses it at (built once
    per graph: the subgraph enumeration asks for every candidate)."""
    if "_offsets" not in g.graph:
        out: dict = {}
        for _, d in g.nodes(data=True):
            if d["kind"] in ("load", "store") and d.get("sym") is not None:
                out.setdefault((d["kind"], d["buffer"], d["sym"]), set()).add(d["offset"])
        g.graph["_offsets"] = out
    return g.graph["_offsets"]


def _is_requant(g: nx.DiGraph, s) -> bool:
    calls = [n for n in s if g.nodes[n]["kind"] == "call" and "q_multiply_shift" in str(g.nodes[n]["callee"])]
    return bool(calls) and any(g.nodes[n]["kind"] in ("max", "min") for n in s)


_FUSED_KIND = {"add": "add", "sub": "sub", "mul": "mul", "min": "min", "max": "max", "div": "div", "mod": "mod"}


def fused_expr(g: nx.DiGraph, s) -> tuple[str, str, str] | None:
    """(postfix expr, dtype of a, dtype of b) of a single-output subgraph with at most two scalar
    inputs, or None when the fused family cannot express it."""
    outs = output_nodes(g, s)
    if len(outs) != 1:
        return None
    ins: list = []
    toks: list[str] = []

    def go(n) -> bool:
        d = g.nodes[n]
        if n not in s:
            if d["kind"] == "const":
                if not dt.is_int(d["dtype"]) or d["dtype"] not in ("int32", "int16", "uint16", "int8", "uint8"):
                    return False
                toks.append(const_token(int(d["value"]), d["dtype"]))
                return True
            if n not in ins:
                ins.append(n)
            if len(ins) > 2:
                return False
            src = d["elem"] if d["kind"] == "load" else d["dtype"]
            if src not in ("int32", "int16", "uint16", "int8", "uint8"):
                return False
            toks.append("ab"[ins.index(n)])
            if d["kind"] == "load" and d["dtype"] != d["elem"]:
                toks.append(f"cast.{d['dtype']}")
            return True
        k = d["kind"]
        if d["dtype"] not in ("int32", "int16", "uint16", "int8", "uint8"):
            return False
        if k == "cast":
            (p,) = _operands(g, n)
            if not go(p):
                return False
            toks.append(f"cast.{d['dtype']}")
            return True
        if k not in _FUSED_KIND:
            return False
        a, b = _operands(g, n)
        if k in _COMMUTATIVE and _anon(g, s, b) < _anon(g, s, a):
            a, b = b, a
        if k in ("div", "mod") and not _pow2(_const_operand(g, n, 1)):
            return False
        if not (go(a) and go(b)):
            return False
        toks.append(f"{_FUSED_KIND[k]}.{d['dtype']}")
        return True

    if not go(next(iter(outs))) or len(toks) > MAX_TOKENS:
        return None
    dts = []
    for n in ins:
        d = g.nodes[n]
        dts.append(d["elem"] if d["kind"] == "load" else d["dtype"])
    dts += [""] * (2 - len(dts))
    return " ".join(toks), dts[0], dts[1]


def _disjoint(occ: list[tuple[frozenset, float]]) -> list[tuple[frozenset, float]]:
    """Greedy non-overlapping occurrences, largest gain first."""
    used: set = set()
    out = []
    for s, gain in sorted(occ, key=lambda x: -x[1]):
        if used.isdisjoint(s):
            used |= s
            out.append((s, gain))
    return out


@dataclass
class _Acc:
    spec: CandidateSpec
    pattern: str
    gain: float = 0.0
    occurrences: int = 0
    sw: float = 0.0
    unit: float = 0.0
    per_kernel: dict = field(default_factory=dict)
    elementwise: bool = False


def body_candidates(g: nx.DiGraph, *, model: CycleModel | None = None, max_inputs: int = 2, max_nodes: int = 10,
                    limit: int = 5000) -> list[tuple[CandidateSpec, float, int, str, float, float, bool]]:
    """(spec, gain per body execution, occurrences, pattern, sw cycles, unit cycles, elementwise) of one
    body; ``elementwise``: a fused op reading only loads, its result only stored."""
    model = model or CycleModel()
    subs = enumerate_subgraphs(g, max_inputs, 1, max_nodes=max_nodes, stateful=True, pack=True, limit=limit)
    out = []
    macs = [s for s in subs if _mac_products(g, s)]
    if macs:
        biggest = max(macs, key=lambda x: (len(_mac_products(g, x)), len(x)))
        for spec, gain, pattern in _mac_specs(g, model):
            pattern = f"{pattern}; the largest single instruction: {pattern_text(g, biggest)}"
            if gain > 0:
                out.append((spec, gain, len(_mac_products(g, set(g))), pattern, 0.0, 0.0, False))
    simd: dict = {}
    fused: dict = {}
    requant: list = []
    for s in subs:
        if _mac_products(g, s):
            continue
        r = _simd_spec(g, s, model)
        if r is not None:
            if r[1] > 0:
                simd.setdefault(r[0], []).append((s, r[1]))
            continue
        sw, unit = sw_cycles(g, s, model), unit_cycles(g, s, model)
        if _is_requant(g, s) and sw - unit > 0:
            requant.append((s, sw - unit))
            continue
        ins = input_nodes(g, s)
        if len(ins) > 2:
            continue
        fx = fused_expr(g, s)
        if fx is None:
            continue
        direct = all(g.nodes[n]["kind"] == "load" and not g.nodes[n]["carried"] for n in ins) and all(
            g.nodes[x]["kind"] == "store" for o in output_nodes(g, s) for x in g.successors(o))
        if sw - unit > 0:
            spec = fused_spec(fx[0], fx[1], fx[2], source="dataflow")
            fused.setdefault(spec, []).append((s, sw - unit, pattern_text(g, s), sw, unit, direct))
        if direct and _byte_lanes(g, s, ins, fx):
            # the same DAG on 4 adjacent elements per op (a SIMD add / relu): one word load per operand,
            # one op and one word store for 4 elements (the stores are not counted on either side)
            unit4 = unit / LANES
            spec4 = fused_spec(fx[0], fx[1], fx[2], source="dataflow", lanes=LANES)
            fused.setdefault(spec4, []).append((s, sw - unit4, pattern_text(g, s) + " (4 lanes)", sw, unit4, direct))
    for spec, occ in simd.items():
        dj = _disjoint(occ)
        out.append((spec, sum(x[1] for x in dj), len(dj), f"max chain over adjacent {spec.p['dtype']} loads "
                    f"(e.g. {pattern_text(g, dj[0][0])})", 0.0, 0.0, False))
    if requant:
        dj = _disjoint(requant)
        best = max(requant, key=lambda x: x[1])[0]
        out.append((CandidateSpec.of("requant", source="dataflow", latency=1), sum(x[1] for x in dj), len(dj),
                    pattern_text(g, best), sw_cycles(g, best, model), unit_cycles(g, best, model), False))
    for spec, occ in fused.items():
        dj = _disjoint([(s, gain) for s, gain, *_ in occ])
        _, _, text, sw, unit, _ = occ[0]
        out.append((spec, sum(x[1] for x in dj), len(dj), text, sw, unit, any(x[5] for x in occ)))
    return out


def dataflow_candidates(funcs: Mapping[str, PrimFunc], top: int | None = 10, *, model: CycleModel | None = None,
                        max_inputs: int = 2, max_nodes: int = 10, limit: int = 5000) -> list[DataflowCandidate]:
    """Candidates from the innermost loop bodies of ``funcs`` (kernel name -> lowered PrimFunc), ranked by
    estimated gain; patterns that occur in several kernels are one candidate listing all of them."""
    if not isinstance(funcs, Mapping):
        raise ExtensionError("dataflow_candidates: funcs must map kernel names to lowered PrimFuncs")
    acc: dict[CandidateSpec, _Acc] = {}
    for kname, func in funcs.items():
        if not isinstance(func, PrimFunc):
            raise ExtensionError(f"dataflow_candidates: kernel {kname!r} is a {type(func).__name__}, not a PrimFunc "
                                 "(pass tir.lower(...)'s result)")
        for body in innermost_bodies(func, kname):
            g = dataflow_graph(body.stmt, body)
            for spec, gain, occ, pattern, sw, unit, direct in body_candidates(g, model=model, max_inputs=max_inputs,
                                                                      max_nodes=max_nodes, limit=limit):
                a = acc.setdefault(spec, _Acc(spec, pattern, sw=sw, unit=unit))
                total = gain * body.executions
                a.gain += total
                a.occurrences += occ * body.executions
                a.per_kernel[kname] = a.per_kernel.get(kname, 0.0) + total
                a.elementwise = a.elementwise or direct
    out = []
    for a in acc.values():
        kernels = tuple(sorted(a.per_kernel))
        ev = f"dataflow: {a.pattern} in {', '.join(kernels)}; estimated gain {a.gain:.0f} cycles"
        spec = CandidateSpec(a.spec.family, a.spec.params, "dataflow", ev)
        out.append(DataflowCandidate(spec, a.gain, kernels, a.pattern, a.occurrences, a.sw, a.unit, a.per_kernel,
                                     a.elementwise))
    out.sort(key=lambda c: (-c.gain, c.spec.key))
    return out if top is None else out[:top]


__all__ = [
    "CycleModel", "DataflowCandidate", "LoopBody", "body_candidates", "dataflow_candidates", "dataflow_graph",
    "enumerate_subgraphs", "fused_expr", "innermost_bodies", "input_cost", "input_nodes", "is_convex", "is_op",
    "is_valid", "output_nodes", "pattern_text", "sw_cycles", "unit_cycles", "word_groups",
]
