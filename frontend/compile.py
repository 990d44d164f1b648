"""Whole-model compile: a Graph of operator-library ops -> one freestanding C translation unit.

``compile_graph(graph, target="vexriscv", records=None, extensions=()) -> CompiledModel``
    Each node is mapped to an operator of the ops registry by :func:`frontend.lowering.node_op` (the
    mapping the numpy reference uses too), scheduled, lowered (``tir.lower``) and emitted
    (``codegen_c.emit``). The kernels become ``static`` functions of one C unit (renamed
    ``isaforge_k<i>_<name>``; helper definitions that several kernels emit appear once), the constants
    (weights, bias, per-channel multipliers and shifts) ``static const`` arrays, and every intermediate
    tensor a slice of one static arena whose offsets are planned by liveness; the kernels' own buffers
    (padded copies, packed rows) share one scratch area, the largest kernel's size. A float model's
    boundary (``quantize`` of the input, ``dequantize`` of the output: :func:`int8_core`) stays with
    the caller, so the unit is int8 in and out. The unit defines
    ``void model(const T_in *in, T_out *out)`` calling the kernels in graph order. ``reshape`` is an
    alias of its input (no kernel, no copy).

``run_host(compiled, x) -> np.ndarray``
    The unit built as a host shared library (``codegen_c.build.compile_shared``), ``model`` called once.

Schedules (:func:`kernel_schedule`): dense layers get ``schedules.hand.qdense`` and convolutions
``schedules.hand.qconv`` with the extensions given (``extensions``: names or Extension objects, or one
comma-separated string, e.g. ``("dot4_i8", "requant_i8")``: the dot lanes and the requantization
tensorized where they fit); pools and adds their default schedule. A convolution whose hand schedule
reads its weights in a packed layout (``schedules.hand.prepacked_weights``: the word-aligned window
rows of the row schedules) gets them packed here in numpy, a ``static const`` array (16-byte aligned,
like every constant) in place of the weights, instead of a packing loop run on every inference
(kws, dot4_i8+requant_i8: 2,308,891 -> 2,274,455 cycles).

``profile=True`` (rv32 targets) times every kernel call with ``mcycle``: the unit then also defines
``uint32_t isaforge_profile[<kernels>]``, each entry the cycles of that kernel in the last call of
``model`` (as TFLM's MicroProfiler does per operator). The reads move the code a little, so a profiled
unit's total differs a little (kws: 2%) from the plain one.

``records`` (a records file, a list of them, or an ``autotune.ApplyHistoryBest``): each kernel whose
task (:func:`frontend.tasks.kernel_task`: its shape signature, the extensions and the target) has a
valid record is scheduled by the best one's config applied to the real workload
(``qnn_templates.schedule_workload``); the others get :func:`kernel_schedule`.
``CompiledModel.schedules`` says which, per kernel ("record" or "hand"); ``KernelInfo.task`` is the
task key looked up.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass, field

import numpy as np

import codegen_c
import ops
import tir
from codegen_c.build import compile_shared
from codegen_c.emit import c_function_name
from frontend.errors import FrontendError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, int8_core
from schedules import create_schedule

ARENA_ALIGN = 16  # every arena slice starts on a 16-byte boundary (word loads, D-cache lines)
MODEL_FUNCTION = "model"
PROFILE_SYMBOL = "isaforge_profile"
SCRATCH_SYMBOL = "isaforge_scratch"  # the kernels' own buffers, shared (see _scratch_buffers)
# smaller kernel buffers stay static: sharing them saves little and measured slower (xor without
# extensions: 560 -> 574 cycles with its 8-word sums moved into the scratch area)
SCRATCH_MIN_BYTES = 256
ALIAS_OPS = ("reshape",)  # nodes whose output is their first input's bytes, reinterpreted

_C_TYPES = {
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "float32": "float",
}
# bytes of each C type the emitter declares buffers with (tir's dtype table)
_C_SIZES = {tir.dtype.c_type(d): tir.dtype.numpy_dtype(d).itemsize for d in tir.dtype.DTYPES}


@dataclass
class KernelInfo:
    """One emitted kernel: its C name in the unit, the node it computes and the operator."""

    name: str
    node: str  # the node's origin (or its op and index)
    op: str
    attrs: dict
    schedule: str = "hand"  # "record": the best tuning record's config; "hand": kernel_schedule
    task: str | None = None  # the task key looked up in the records (None without records / template)


@dataclass
class CompiledModel:
    """The C unit of a whole model and what a caller needs to run it."""

    name: str
    target: str
    source: str
    arena_bytes: int
    kernels: list[str]
    input_shape: tuple[int, ...]
    input_dtype: str
    input_quant: QuantParams | None
    output_shape: tuple[int, ...]
    output_dtype: str
    output_quant: QuantParams | None
    arena_offsets: dict[str, int] = field(default_factory=dict)  # intermediate value -> byte offset
    constants_bytes: int = 0
    kernel_info: list[KernelInfo] = field(default_factory=list)
    extensions: tuple = ()  # names of the extensions the target was given
    used_extensions: tuple = ()  # the Extension objects the kernels call (the CFU the program needs)
    scratch_bytes: int = 0  # the kernels' own buffers, one area they share (see _scratch_buffers)
    profile: bool = False  # the unit times each kernel into PROFILE_SYMBOL (compile_graph(profile=True))

    @property
    def schedules(self) -> list[str]:
        """Per kernel: "record" (the best tuning record's config) or "hand" (KernelInfo.schedule)."""
        return [k.schedule for k in self.kernel_info]

    @property
    def input_nbytes(self) -> int:
        return int(np.prod(self.input_shape, dtype=np.int64)) * np.dtype(self.input_dtype).itemsize

    @property
    def output_nbytes(self) -> int:
        return int(np.prod(self.output_shape, dtype=np.int64)) * np.dtype(self.output_dtype).itemsize


def _where(node: Node) -> str:
    return node.origin or f"node {node.index} ({node.op})"


def _nbytes(graph: Graph, name: str) -> int:
    v = graph.values[name]
    if v.dtype not in _C_TYPES:
        raise UnsupportedOperatorError(f"tensor {name!r} has dtype {v.dtype}, which the compiler does not support")
    return int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize


def _split_unit(c: str, fname: str) -> tuple[list[str], list[str]]:
    """(top-level helper items, the kernel function's lines) of one emitted unit."""
    lines = c.splitlines()
    sig = next((i for i, ln in enumerate(lines) if ln.startswith(f"void {fname}(")), None)
    if sig is None:
        raise FrontendError(f"emitted C has no definition of kernel {fname!r}")
    items: list[str] = []
    cur: list[str] = []
    depth = pp = 0
    for ln in lines[:sig]:
        s = ln.strip()
        if not cur and (not s or s.startswith("#include") or s.startswith("/* generated by isaforge")):
            continue
        cur.append(ln)
        if s.startswith("#if"):
            pp += 1
        elif s.startswith("#endif"):
            pp -= 1
        if not s.startswith("#"):
            depth += ln.count("{") - ln.count("}")
        if depth == 0 and pp == 0 and (s.endswith("}") or s.endswith(";") or s.startswith("#")):
            items.append("\n".join(cur))
            cur = []
    if cur and any(x.strip() for x in cur):
        items.append("\n".join(cur))
    return items, lines[sig:]


def c_literals(a: np.ndarray) -> list[str]:
    """The elements of ``a`` (flattened) as C literals; INT32_MIN is spelled as an int32 expression."""
    vals = [str(int(v)) if a.dtype.kind in "iu" else repr(float(v)) + "f" for v in a.reshape(-1)]
    if a.dtype == np.int32:
        vals = [v if int(v) != -(2**31) else "(-2147483647 - 1)" for v in vals]
    return vals


def _c_array(name: str, a: np.ndarray) -> str:
    ct = _C_TYPES[str(a.dtype)]
    flat = a.reshape(-1)
    vals = c_literals(a)
    body = ",\n".join("    " + ", ".join(vals[i:i + 16]) for i in range(0, len(vals), 16)) or "    0"
    return f"static const {ct} {name}[{max(1, flat.size)}] __attribute__((aligned(16))) = {{\n{body}\n}};"


def plan_arena(intervals: dict[str, tuple[int, int, int]]) -> tuple[dict[str, int], int]:
    """Greedy offsets for buffers ``name -> (first node, last node, bytes)``: largest first, each at the
    lowest ``ARENA_ALIGN``-aligned offset that overlaps no placed buffer live at the same time (live
    ranges are inclusive, so a kernel's output never shares bytes with its inputs). Returns the offsets
    and the arena size."""
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    offsets: dict[str, int] = {}
    for name, (first, last, nbytes) in sorted(intervals.items(), key=lambda kv: (-kv[1][2], kv[1][0], kv[0])):
        size = -(-max(1, nbytes) // ARENA_ALIGN) * ARENA_ALIGN
        busy = sorted((o, e) for o, e, f, la in placed if not (la < first or last < f))
        off = 0
        for o, e in busy:
            if off + size <= o:
                break
            off = max(off, e)
        offsets[name] = off
        placed.append((off, off + size, first, last))
    return offsets, max((e for _, e, _, _ in placed), default=0)


_STATIC_BUFFER = re.compile(r"^(\s*)static (\w+) (\w+)\[(\d+)\](?: __attribute__\(\(aligned\((\d+)\)\)\))?;$")


def _scratch_buffers(body: list[str]) -> tuple[list[str], int]:
    """A kernel's own ``static`` buffers of ``SCRATCH_MIN_BYTES`` or more (padded copies, packed rows,
    im2col columns: the emitter makes kernel-level intermediates static) as slices of the unit's one
    scratch area, which every kernel reuses since they run one after another. Returns the lines and
    the bytes the kernel needs.
    The kernels write every element of such a buffer before reading it (a schedule computes a stage's
    whole domain), so sharing loses nothing that static zero-initialization gave."""
    out, off = [], 0
    for line in body:
        m = _STATIC_BUFFER.match(line)
        if m is None:
            out.append(line)
            continue
        pad, ctype, name, n, _ = m.groups()
        if ctype not in _C_SIZES:  # not a buffer type the emitter writes: leave the declaration alone
            out.append(line)
            continue
        size = int(n) * _C_SIZES[ctype]
        if size < SCRATCH_MIN_BYTES:  # a few words: its own static is as cheap and keeps its address fixed
            out.append(line)
            continue
        out.append(f"{pad}{ctype} *restrict const {name} = ({ctype} *)({SCRATCH_SYMBOL} + {off});")
        off += -(-size // ARENA_ALIGN) * ARENA_ALIGN
    return out, off


def _extensions(extensions) -> list:
    import isa_ext

    if isinstance(extensions, str):
        extensions = [e for e in extensions.replace(",", " ").split() if e]
    out = []
    for e in extensions:
        try:
            out.append(isa_ext.get(e) if isinstance(e, str) else e)
        except isa_ext.ExtensionError as exc:
            raise FrontendError(f"compile_graph: unknown extension {e!r}: {exc}") from exc
    return out


def kernel_schedule(wl, op_name: str, exts=(), packed_weights: bool = False):
    """The hand schedule of one kernel of a model: ``schedules.hand.qdense`` for dense layers and
    ``schedules.hand.qconv`` for convolutions (dot and requantizing units of ``exts`` tensorized where
    they fit), the operator's default schedule for the others. ``packed_weights``: convolutions whose
    schedule packs its weights take them pre-packed (``schedules.hand.prepacked_weights`` says which
    inputs and how; compile_graph passes them as constants packed offline)."""
    from schedules import hand

    p = wl.params
    if op_name == "qdense" and (exts or p["M"] * p["N"] > 64):
        # tiny layers without extensions: the default schedule measured faster on the SoC (sine: 3,193
        # vs 3,390 cycles); larger ones must not hold the whole int32 product (kws pointwise: 20 KiB each)
        return hand.qdense(wl, exts)
    if op_name in ("qconv2d_nhwc", "qdepthwise_conv2d_nhwc"):
        # no whole-tensor int32 intermediates (a 20x4x64 layer would need 20 KiB of .bss for each)
        return hand.qconv(wl, exts, packed_weights=packed_weights)
    return create_schedule(wl.output), wl.args


def _history(records):
    """An ``ApplyHistoryBest`` of ``records`` (None for none); a missing or unreadable file is an error."""
    from pathlib import Path

    from schedules import autotune

    if records is None:
        return None
    if isinstance(records, autotune.ApplyHistoryBest):
        return records
    paths = [records] if isinstance(records, (str, Path)) else list(records)
    for p in paths:
        if not Path(p).is_file():
            raise FrontendError(f"compile_graph: records file {str(p)!r} does not exist or is not a file")
    try:
        return autotune.apply_history_best(paths)
    except OSError as exc:
        raise FrontendError(f"compile_graph: cannot read records {', '.join(map(str, paths))}: {exc}") from exc


def _record_schedule(history, wl, call, exts, target, prepack: bool = False):
    """``(schedule, args, "record", task key, packers)`` from the best record of the kernel's task, or
    ``(None, None, "hand", key, {})`` when it has none (or no template). ``prepack``: the schedule
    reads its constant weights pre-packed (``packers``: input index -> numpy packing)."""
    from frontend.tasks import kernel_task
    from schedules import autotune
    from schedules.autotune.qnn_templates import schedule_workload, workload_packers

    try:
        task = kernel_task(call.op_name, call.attrs, exts, target)
    except autotune.AutotuneError as exc:
        raise FrontendError(f"compile_graph: no task for {call.op_name!r}: {exc}") from exc
    if task is None:
        return None, None, "hand", None, {}
    try:
        cfg, _ = history.best(task)
    except autotune.AutotuneError as exc:
        raise FrontendError(f"compile_graph: records {', '.join(map(str, history.paths))}: {exc}") from exc
    if cfg is None:
        return None, None, "hand", task.key, {}
    s, args = schedule_workload(task, cfg, wl, packed_weights=prepack)
    return s, args, "record", task.key, workload_packers(task, cfg, wl) if prepack else {}


def compile_graph(graph: Graph, target: str = "vexriscv", records=None, extensions=(),
                  profile: bool = False) -> CompiledModel:
    """Compile ``graph`` to one C translation unit; see the module docstring."""
    from frontend.lowering import node_op

    graph = int8_core(graph)
    if profile and codegen_c.get_target(target).intrinsic_abi != "rv32im":
        raise FrontendError(f"compile_graph: profile=True reads mcycle, which target {target!r} does not have")

    exts = _extensions(extensions)
    history = _history(records)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOperatorError(
            f"model {graph.name!r}: the compiler supports one input and one output, got "
            f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    gin, gout = graph.inputs[0], graph.outputs[0]

    # reshape aliases: every value's storage root
    root: dict[str, str] = {}

    def base(n: str) -> str:
        while n in root:
            n = root[n]
        return n

    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            src, dst = node.inputs[0], node.outputs[0]
            if _nbytes(graph, src) != _nbytes(graph, dst):
                raise FrontendError(f"{_where(node)}: reshape of {src!r} to {dst!r} changes the byte size")
            root[dst] = src
    out_root = base(gout)
    copy_out = out_root == base(gin)  # the model is only aliases of its input: copy it out

    # liveness of the storage roots of intermediates (node positions, inclusive)
    live: dict[str, list[int]] = {}
    for pos, node in enumerate(graph.nodes):
        if node.op in ALIAS_OPS:
            continue
        for n in list(node.inputs) + list(node.outputs):
            if not n or n not in graph.values or graph.values[n].is_constant:
                continue
            r = base(n)
            if r in (base(gin), out_root):
                continue
            span = live.setdefault(r, [pos, pos])
            span[0], span[1] = min(span[0], pos), max(span[1], pos)
    offsets, arena_bytes = plan_arena({r: (a, b, _nbytes(graph, r)) for r, (a, b) in live.items()})

    in_ct = _C_TYPES.get(graph.values[gin].dtype)
    out_ct = _C_TYPES.get(graph.values[gout].dtype)
    if in_ct is None or out_ct is None:
        raise UnsupportedOperatorError(f"model {graph.name!r}: input/output dtypes "
                                       f"{graph.values[gin].dtype}/{graph.values[gout].dtype} are not supported")

    def pointer(name: str, ctype: str) -> str:
        r = base(name)
        if r == base(gin):
            return f"({ctype} *)in"
        if r == out_root:
            return f"({ctype} *)out"
        return f"({ctype} *)(isaforge_arena + {offsets[r]})"

    helpers: list[str] = []
    seen_helpers: set[str] = set()
    consts: dict[tuple[str, bytes], str] = {}
    const_defs: list[str] = []
    kernel_defs: list[str] = []
    calls: list[str] = []
    infos: list[KernelInfo] = []
    used: list = []  # the extensions the kernels use, in first-use order
    const_bytes = 0
    scratch_bytes = 0  # the largest kernel's own buffers (the kernels run one at a time: they share them)

    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            continue
        call = node_op(graph, node)
        try:
            wl = ops.get(call.op_name)(**call.attrs)
        except ops.OpError as exc:
            raise FrontendError(f"{_where(node)}: operator {call.op_name!r}: {exc}") from exc
        if len(call.inputs) != len(wl.inputs):
            raise FrontendError(f"{_where(node)}: operator {call.op_name!r} takes {len(wl.inputs)} inputs, "
                                f"node_op gave {len(call.inputs)}")
        # constant weights a schedule would repack per inference are packed here, once
        prepack = (call.op_name in ("qconv2d_nhwc", "qdepthwise_conv2d_nhwc") and len(call.inputs) > 1
                   and isinstance(call.inputs[1], np.ndarray))
        # packers: input index -> numpy packing of a constant the kernel reads pre-packed
        s, args, how, task_key, packers = _record_schedule(history, wl, call, exts, target, prepack) \
            if history is not None else (None, None, "hand", None, {})
        if s is None:
            s, args = kernel_schedule(wl, call.op_name, exts, packed_weights=prepack)
            if prepack:
                from schedules import hand

                packers = hand.prepacked_weights(wl, exts)
        kinputs = list(args[:len(wl.inputs)])  # the kernel's input placeholders (a packed one in place)
        kname = re.sub(r"[^0-9a-zA-Z_]", "_", f"k{len(infos)}_{call.op_name}")
        func = tir.lower(s, args, name=kname)
        for e in func.extensions:
            if all(e.name != u.name for u in used):
                used.append(e)
        c = codegen_c.emit(func, target)
        fname = c_function_name(func)
        items, body = _split_unit(c, fname)
        for it in items:
            if it not in seen_helpers:
                seen_helpers.add(it)
                helpers.append(it)
        cname = f"isaforge_{fname}"
        body[0] = "static __attribute__((noinline)) void " + cname + body[0][len(f"void {fname}"):]
        body, nbytes = _scratch_buffers(body)
        scratch_bytes = max(scratch_bytes, nbytes)
        kernel_defs.append("\n".join(body))

        args = []
        for i, (src, ph) in enumerate(zip(call.inputs, wl.inputs)):
            if i in packers:
                if kinputs[i] is wl.inputs[i]:
                    raise FrontendError(f"{_where(node)}: the schedule of {call.op_name!r} does not take input "
                                        f"{i} pre-packed")
                src = packers[i](src)
                ph = kinputs[i]
            ct = _C_TYPES[ph.dtype]
            size = int(np.prod(ph.shape, dtype=np.int64))
            if isinstance(src, np.ndarray):
                a = np.ascontiguousarray(src)
                if a.size != size:
                    raise FrontendError(f"{_where(node)}: constant input {i} of {call.op_name!r} has {a.size} "
                                        f"elements, the kernel's {ph.name} {size}")
                cast = a.astype(ph.dtype)
                if not np.array_equal(cast.astype(np.int64) if a.dtype.kind in "iu" else cast, a):
                    raise FrontendError(f"{_where(node)}: constant input {i} of {call.op_name!r} does not fit "
                                        f"{ph.dtype}")
                key = (ph.dtype, cast.tobytes())
                if key not in consts:
                    consts[key] = f"isaforge_c{len(consts)}"
                    const_defs.append(_c_array(consts[key], cast))
                    const_bytes += cast.nbytes
                args.append(f"({ct} *){consts[key]}")
            else:
                if src not in graph.values:
                    raise FrontendError(f"{_where(node)}: input {src!r} is not a value of the graph")
                v = graph.values[src]
                if _nbytes(graph, src) != size * np.dtype(ph.dtype).itemsize:
                    raise FrontendError(f"{_where(node)}: input {src!r} ({v.shape} {v.dtype}) does not match "
                                        f"the kernel's {ph.name} {tuple(ph.shape)} {ph.dtype}")
                if v.is_constant:
                    raise FrontendError(f"{_where(node)}: constant {src!r} must be given as an array by node_op")
                args.append(pointer(src, ct))
        out = node.outputs[0]
        o_ct = _C_TYPES[wl.output.dtype]
        if _nbytes(graph, out) != int(np.prod(wl.output.shape, dtype=np.int64)) * np.dtype(wl.output.dtype).itemsize:
            raise FrontendError(f"{_where(node)}: output {out!r} {graph.values[out].shape} does not match the "
                                f"kernel's {tuple(wl.output.shape)} {wl.output.dtype}")
        args.append(pointer(out, o_ct))
        call_c = f"{cname}({', '.join(args)});  /* {_where(node)} */"
        if profile:
            k = len(infos)
            call_c = (f"{{ uint32_t t0 = isaforge_profile_mcycle(); {call_c}\n"
                      f"      {PROFILE_SYMBOL}[{k}] = isaforge_profile_mcycle() - t0; }}")
        calls.append("    " + call_c)
        infos.append(KernelInfo(cname, _where(node), call.op_name, dict(call.attrs), how, task_key))

    if copy_out:
        calls.append(f"    for (uint32_t i = 0; i < {_nbytes(graph, gout)}u; ++i) "
                     "((uint8_t *)out)[i] = ((const uint8_t *)in)[i];")

    lines = [f"/* generated by isaforge.frontend: model {graph.name!r}, do not edit */",
             "#include <stdint.h>", "#include <stddef.h>", ""]
    lines += [h + "\n" for h in helpers]
    lines += [d + "\n" for d in const_defs]
    if profile:
        lines += [f"uint32_t {PROFILE_SYMBOL}[{len(infos)}];",
                  "static inline uint32_t isaforge_profile_mcycle(void) {",
                  "    uint32_t c;",
                  '    __asm__ volatile("csrr %0, mcycle" : "=r"(c));',
                  "    return c;",
                  "}", ""]
    if arena_bytes:
        lines.append(f"static uint8_t isaforge_arena[{arena_bytes}] __attribute__((aligned({ARENA_ALIGN})));\n")
    if scratch_bytes:
        lines.append(f"static uint8_t {SCRATCH_SYMBOL}[{scratch_bytes}] __attribute__((aligned({ARENA_ALIGN})));\n")
    lines += [k + "\n" for k in kernel_defs]
    lines.append(f"void {MODEL_FUNCTION}(const {in_ct} *in, {out_ct} *out);")
    lines.append(f"void {MODEL_FUNCTION}(const {in_ct} *in, {out_ct} *out) {{")
    lines += ["    (void)in;", "    (void)out;"] + calls + ["}", ""]
    vi, vo = graph.values[gin], graph.values[gout]
    return CompiledModel(
        name=graph.name, target=str(target), source="\n".join(lines), arena_bytes=arena_bytes,
        kernels=[k.name for k in infos], input_shape=tuple(vi.shape), input_dtype=vi.dtype, input_quant=vi.quant,
        output_shape=tuple(vo.shape), output_dtype=vo.dtype, output_quant=vo.quant,
        arena_offsets=dict(offsets), constants_bytes=const_bytes, kernel_info=infos,
        extensions=tuple(e.name for e in exts), used_extensions=tuple(used), profile=profile,
        scratch_bytes=scratch_bytes,
    )


def run_host(compiled: CompiledModel, x: np.ndarray) -> np.ndarray:
    """Run ``model`` of the unit once on the host (a shared library) and return its output."""
    x = np.ascontiguousarray(x, dtype=compiled.input_dtype)
    if x.size * x.itemsize != compiled.input_nbytes:
        raise FrontendError(f"model {compiled.name!r}: input of shape {x.shape} given, it takes "
                            f"{compiled.input_shape} {compiled.input_dtype}")
    lib = ctypes.CDLL(str(compile_shared(compiled.source)))
    fn = getattr(lib, MODEL_FUNCTION)
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    out = np.zeros(compiled.output_shape, dtype=compiled.output_dtype)
    fn(x.ctypes.data, out.ctypes.data)
    return out
