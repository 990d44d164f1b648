"""tir.lower as named passes, the tensorize hook's interface, the visitor classes of tir.visit, and the
Exo-style documentation of every schedule primitive."""

import inspect

import numpy as np
import pytest
from conftest import check_workload

import codegen_c
import schedules
import tir
from schedules import workloads as W
from schedules.schedule import Schedule, Stage
from tir.expr import BinOp, BufferLoad, Const, Var
from tir.lower import PASSES, BlockContext
from tir.printer import iter_stmts
from tir.stmt import For, Seq, Store
from tir.visit import ExprMutator, ExprVisitor, StmtMutator, StmtVisitor, mutate, walk


def _tiled_matmul():
    wl = W.matmul(8, 12, 16)
    s = schedules.create_schedule(wl.output)
    C = wl.output
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(*C.op.axis, 4, 4)
    s[CL].compute_at(s[C], jo)
    ko, ki = s[CL].split(CL.op.reduce_axis[0], 4)
    s[CL].unroll(CL.op.axis[1])
    return wl, s


# --- the pipeline ---------------------------------------------------------------------------------------

def test_passes_are_named_in_order_and_documented():
    names = [p.name for p in tir.lower_passes()]
    assert names[0] == "argument buffers" and names[-1] == "access checks"
    for a, b in (("bound inference", "loop nests"), ("loop nests", "unroll"), ("unroll", "simplify"),
                 ("simplify", "guard removal"), ("schedule checks", "kernel buffers")):
        assert names.index(a) < names.index(b)
    assert len(set(names)) == len(names)
    for p in tir.lower_passes():
        assert p.doc, p.name
    assert " -> ".join(p.name for p in tir.lower_passes()).count(" -> ") == len(PASSES) - 1


def test_lower_passes_is_a_copy():
    ps = tir.lower_passes()
    ps.clear()
    assert len(tir.lower_passes()) == len(PASSES) > 0


def test_trace_reports_the_ir_after_every_pass(capsys):
    wl, s = _tiled_matmul()
    seen = []
    func = tir.lower(s, wl.args, trace=lambda name, text: seen.append((name, text)))
    assert [n for n, _ in seen] == [p.name for p in PASSES]
    by_name = dict(seen)
    assert by_name["bound inference"] == ""  # no statement exists before the loop nests
    assert "for " in by_name["loop nests"] and "def main(" not in by_name["loop nests"]
    assert by_name["allocation"].startswith("def main(")  # the PrimFunc takes shape
    # the unrolled axis is a loop before the unroll pass, and gone after it
    assert "in unroll(" in by_name["allocation"] and "in unroll(" not in by_name["unroll"]
    assert seen[-1][1] == str(func)
    assert capsys.readouterr().out == ""  # the library prints nothing, traced or not


def test_unroll_simplify_and_guard_removal_each_do_one_job():
    A = tir.placeholder((6,), "int32", "A")
    C = tir.compute((6,), lambda i: A[i] + 1, name="C")
    s = schedules.create_schedule(C)
    o, i = s[C].split(C.op.axis[0], factor=4)
    s[C].unroll(o)
    s[C].unroll(i)
    seen = {}
    func = tir.lower(s, [A, C], trace=lambda name, text: seen.__setitem__(name, text))
    assert "if i.outer * 4 + i.inner < 6:" in seen["allocation"]
    # unroll: 8 copies with the loop variables substituted, nothing simplified yet
    assert "in unroll(" not in seen["unroll"] and seen["unroll"].count("if 1 * 4 + 3 < 6:") == 1
    assert seen["unroll"].count("if ") == 8
    # simplify: every guard's condition is now a constant, the live stores are folded
    assert seen["simplify"].count("if True:") == 6 and seen["simplify"].count("if False:") == 2
    assert "C[5] = A[5] + 1" in seen["simplify"]
    # guard removal: the six stores that run, no guard left
    assert "if " not in seen["guard removal"] and seen["guard removal"].count(" = A[") == 6
    a = np.arange(6, dtype=np.int32)
    c = np.zeros(6, np.int32)
    codegen_c.build(func, "host")(a, c)
    np.testing.assert_array_equal(c, a + 1)


def test_traced_and_plain_lowering_agree():
    wl, s = _tiled_matmul()
    plain = tir.lower(s, wl.args)
    traced = tir.lower(s, wl.args, trace=lambda *_: None)
    assert str(plain) == str(traced)
    assert codegen_c.emit(plain, "rv32im") == codegen_c.emit(traced, "rv32im")


def test_a_failing_pass_raises_before_later_passes_run():
    wl = W.matmul(4, 4, 4)
    s = schedules.create_schedule(wl.output)
    seen = []
    with pytest.raises(tir.LoweringError, match="missing from the lower args"):
        tir.lower(s, wl.args[:-1], trace=lambda name, _: seen.append(name))
    assert seen == ["argument buffers"]


# --- the tensorize hook ------------------------------------------------------------------------------

class _ScalarBlock:
    """A tensor 'intrinsic' that lowers its block (the innermost reduction loop) to plain stores,
    using only the BlockContext interface the real intrinsics use: it must compute the same."""

    def __init__(self):
        self.seen = None

    def extensions(self):
        return []

    def lower_block(self, ctx: BlockContext):
        self.seen = ctx
        assert isinstance(ctx.error("x", "y"), tir.ScheduleError)
        lane = ctx.leaves[ctx.tpos]
        body = ctx.lowerer.inline(ctx.stage.op.body)
        src = ctx.lowerer.lower_expr(body.source, ctx.vmap)
        ctx.ranges[id(lane.var)] = (0, ctx.ext[lane] - 1)
        ctx.lowerer.add_prologue(self, [])
        upd = Store(ctx.buffer, ctx.out_index, body.combine(BufferLoad(ctx.buffer, tuple(ctx.out_index)), src))
        return For(lane.var, Const(0, "int32"), ctx.ext[lane], "serial", upd), True


def test_tensorize_hook_sees_the_block_context():
    wl = W.matmul(4, 6, 8)
    s = schedules.create_schedule(wl.output)
    st = s[wl.output]
    ko, ki = st.split(st.op.reduce_axis[0], 4)
    intrin = _ScalarBlock()
    st._attr(ki).tensorize = intrin  # the record tensorize() leaves after its checks
    func = check_workload(wl, s)  # lowered, built for the host and compared with numpy
    ctx = intrin.seen
    assert ctx.stage is st and ctx.leaves[ctx.tpos] is ki and ctx.tpos == len(ctx.leaves) - 1
    assert ctx.buffer.name == "C" and len(ctx.out_index) == 2 and ctx.ext[ki] == 4
    assert set(ctx.vmap) == {iv.var for iv in list(st.op.axis) + list(st.op.reduce_axis)}
    assert ctx.guards == [] and ctx.ranges is ctx.lowerer.ranges
    assert ctx.lowerer.extensions == [] and "for k.inner" in str(func)


# --- visitors -------------------------------------------------------------------------------------------

class _CountStores(StmtVisitor):
    def __init__(self):
        self.stores = 0
        self.loops = 0

    def visit_Store(self, s):
        self.stores += 1

    def visit_For(self, s):
        self.loops += 1
        super().visit_For(s)


def test_stmt_visitor_dispatches_per_node_type():
    wl, s = _tiled_matmul()
    func = tir.lower(s, wl.args)
    v = _CountStores()
    v.visit(func.body)
    stmts = list(iter_stmts(func.body))
    assert v.stores == sum(isinstance(x, Store) for x in stmts) > 0
    assert v.loops == sum(isinstance(x, For) for x in stmts) > 0


def test_stmt_mutator_identity_keeps_every_node():
    wl, s = _tiled_matmul()
    body = tir.lower(s, wl.args).body
    assert StmtMutator().visit(body) is body


class _DropStoresTo(StmtMutator):
    def __init__(self, name):
        self.name = name

    def visit_Store(self, s):
        return None if s.buffer.name == self.name else s


def test_stmt_mutator_removes_emptied_loops():
    wl, s = _tiled_matmul()
    body = tir.lower(s, wl.args).body
    out = _DropStoresTo("C.local").visit(body)
    left = list(iter_stmts(out))
    assert not any(isinstance(x, Store) and x.buffer.name == "C.local" for x in left)
    assert any(isinstance(x, Store) and x.buffer.name == "C" for x in left)
    assert _DropStoresTo("C").visit(_DropStoresTo("C.local").visit(body)) is None


class _Rename(ExprMutator):
    def __init__(self, old, new):
        self.old, self.new = old, new

    def visit_Var(self, e):
        return self.new if e is self.old else e


def test_expr_mutator_matches_mutate():
    x, y = Var("x"), Var("y")
    e = tir.if_then_else(x < 3, tir.max(x * 2 + y, y // 3), x % 5 - 1)
    z = Var("z")
    got = _Rename(x, z).visit(e)
    want = mutate(e, lambda n: z if n is x else None)
    assert str(got) == str(want) and str(got) != str(e)
    assert _Rename(Var("w"), z).visit(e) is e  # nothing to change: the same tree


class _CountNodes(ExprVisitor):
    def __init__(self):
        self.n = {}

    def visit_BinOp(self, e):
        self.n["BinOp"] = self.n.get("BinOp", 0) + 1
        super().visit_BinOp(e)

    def visit_Var(self, e):
        self.n["Var"] = self.n.get("Var", 0) + 1


def test_expr_visitor_reaches_every_node():
    x, y = Var("x"), Var("y")
    e = (x + y) * (x - 1) + y
    v = _CountNodes()
    v.visit(e)
    assert v.n["BinOp"] == sum(isinstance(n, BinOp) for n in walk(e)) == 4
    assert v.n["Var"] == 4


def test_unknown_nodes_name_the_visitor_and_the_node():
    with pytest.raises(tir.TirError, match="_CountStores: cannot traverse node int"):
        _CountStores().visit(3)
    with pytest.raises(tir.TirError, match="ExprMutator: cannot traverse node str"):
        ExprMutator().visit("x")


def test_subclass_tables_are_independent():
    assert _CountStores._table[Store] is _CountStores.visit_Store
    assert StmtVisitor._table[Store] is StmtVisitor.visit_Store
    assert StmtVisitor._table[Seq] is StmtVisitor.visit_Seq


def test_printed_ir_unchanged_by_the_visitor_printer():
    x = Var("x")
    e = BinOp("-", Const(1, "int32"), BinOp("-", x, Const(2, "int32"), "int32"), "int32")
    assert str(e) == "1 - (x - 2)"
    assert str(tir.max(x, 3) * 2) == "max(x, 3) * 2"


# --- documentation of the primitives ---------------------------------------------------------------------

PRIMITIVES = [(Stage, n) for n in ("split", "fuse", "reorder", "tile", "unroll", "vectorize", "parallel", "pragma",
                                   "compute_at", "compute_inline", "compute_root", "tensorize")]
PRIMITIVES += [(Schedule, n) for n in ("cache_read", "cache_write", "stage_of", "consumes", "__getitem__")]


@pytest.mark.parametrize("cls, name", PRIMITIVES, ids=[n for _, n in PRIMITIVES])
def test_every_primitive_documents_args_and_rewrite(cls, name):
    doc = inspect.getdoc(getattr(cls, name))
    assert doc and "args:" in doc and "rewrite" in doc, name
    assert doc.index("args:") < doc.index("rewrite")


def test_every_public_stage_method_is_covered():
    public = {n for n, v in vars(Stage).items() if callable(v) and not n.startswith("_")}
    assert public <= {n for _, n in PRIMITIVES}, public - {n for _, n in PRIMITIVES}


def test_the_documented_split_rewrite_holds():
    A = tir.placeholder((10,), "int32", "A")
    C = tir.compute((10,), lambda i: A[i] * 2, name="C")
    s = schedules.create_schedule(C)
    s[C].split(C.op.axis[0], factor=4)
    func = tir.lower(s, [A, C])
    text = str(func)
    assert "for i.outer in range(3):" in text and "for i.inner in range(4):" in text
    assert "if i.outer * 4 + i.inner < 10:" in text
    a = np.arange(10, dtype=np.int32)
    c = np.zeros(10, np.int32)
    codegen_c.build(func, "host")(a, c)
    np.testing.assert_array_equal(c, a * 2)
