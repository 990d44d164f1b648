"""Import an int8 ONNX model into a frontend Graph (parsed with the `onnx` package).

``from_onnx(source) -> Graph`` accepts a file path, the serialized bytes or an ``onnx.ModelProto``
in either form onnxruntime's ``quantize_static`` writes:

* QDQ (``QuantFormat.QDQ``): float operators between ``QuantizeLinear`` / ``DequantizeLinear``.
  ``DequantizeLinear`` of a constant becomes an int8 (weights) or int32 (bias) constant Value with
  its QuantParams; ``DequantizeLinear -> op -> [Relu | Clip] -> QuantizeLinear`` becomes one canonical
  int8 node whose output is the QuantizeLinear's tensor (Relu / Clip(0, 6) fused into
  ``attrs["activation"]`` as TFLite does).
* QOperator (``QuantFormat.QOperator``): QLinearMatMul, QLinearConv, QGemm, QLinearAdd,
  QLinearAveragePool, QLinearGlobalAveragePool, QLinearSoftmax (com.microsoft) and MaxPool /
  Reshape / Flatten on int8 tensors.

uint8 tensors (onnxruntime's U8 activations; U8 weights of zero point 128) become int8 ones of the
same real values (``frontend.graph.uint8_as_int8``: codes and zero points minus 128, exact).

A float graph input read by ``QuantizeLinear`` becomes a ``quantize`` node and a float graph output
written by ``DequantizeLinear`` a ``dequantize`` node, as the TFLite importer has them. Identity and
Cast to the same type are dropped.

Layout: the graph follows TFLite's layouts (frontend.graph): every 4-D activation is NHWC, so a
model's 4-D NCHW input (and any 4-D output) appears in the Graph as NHWC -- **the caller transposes**
(``x.transpose(0, 2, 3, 1)``) before ``Graph.evaluate`` / the compiled model. Conv weights OIHW are
stored OHWI, depthwise weights [C*M, 1, KH, KW] as [1, KH, KW, C*M], MatMul / Gemm(transB=0)
weights [K, N] as [N, K] (per-channel axes moved along). A Flatten / Reshape of an NHWC activation
with more than one pixel and more than one channel is only accepted when a fully-connected layer
reads it: that layer's weight columns are permuted offline from ONNX's (c, h, w) order to (h, w, c).
Symbolic (batch) dimensions become 1.

TFLite's pooling and reshape keep their input's quantization; where onnxruntime gives the output
other parameters (QLinearAveragePool, a QDQ GlobalAveragePool) the node is followed by a requantizing
``quantize`` (int8 -> int8, TFLite's QUANTIZE of an int8 tensor). A MatMul followed by an Add of a
constant (no Gemm fusion) stays fully_connected without bias + add of an int8 constant, as
onnxruntime quantizes it; run ``onnxruntime.quantization.shape_inference.quant_pre_process`` first
to get Gemm with an int32 bias. ``from_onnx(..., int8_io=True)`` drops the float-input ``quantize``
and float-output ``dequantize`` so the Graph has int8 inputs and outputs (what ``Graph.compile``
takes).

Errors: an operator or attribute outside this set raises UnsupportedOperatorError naming the ONNX
node (index, op_type, name, inputs, outputs) and listing the supported operators; bytes that are
not a valid ONNX model raise ModelFormatError.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontend.errors import ModelFormatError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, Value, int8_core, same_padding, uint8_as_int8

#: ONNX operators (op_type, default or com.microsoft domain) the importer understands.
SUPPORTED = (
    "QuantizeLinear", "DequantizeLinear", "MatMul", "Gemm", "Conv", "Add", "Relu", "Clip",
    "AveragePool", "GlobalAveragePool", "MaxPool", "Reshape", "Flatten", "Softmax", "Identity", "Cast",
    "QLinearMatMul", "QLinearConv", "QGemm", "QLinearAdd", "QLinearAveragePool",
    "QLinearGlobalAveragePool", "QLinearSoftmax",
)

# TensorProto.DataType -> Value.dtype
_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64"}
_FLOAT_OPS = ("MatMul", "Gemm", "Conv", "Add", "AveragePool", "GlobalAveragePool", "MaxPool", "Reshape",
              "Flatten", "Softmax", "Relu", "Clip")
_FUSABLE = ("fully_connected", "conv2d", "depthwise_conv2d", "avg_pool2d", "max_pool2d", "add")


@dataclass
class _Const:
    """A constant operand: its data, its quantization (from a DequantizeLinear or the QLinear node) and
    the ONNX tensor it came from."""

    data: np.ndarray
    quant: QuantParams | None
    name: str


def from_onnx(source, int8_io: bool = False) -> Graph:
    """Parse an int8 ONNX model (file path, bytes or ``onnx.ModelProto``) into a Graph.

    The Graph's 4-D activations are NHWC (the caller transposes a model's NCHW input); see the
    module docstring for the operators and patterns understood. With ``int8_io`` the ``quantize``
    of a float graph input and the ``dequantize`` of a float graph output are left out: the Graph
    then takes and returns the int8 tensors (with their QuantParams), as a fully-int8 TFLite model does
    and as ``Graph.compile`` expects.
    """
    g = uint8_as_int8(_from_onnx(source))  # onnxruntime's default U8 activations
    return int8_core(g) if int8_io else g


def _from_onnx(source) -> Graph:
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(source, onnx.ModelProto):
        model, name = source, source.graph.name or "model"
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            buf, name = bytes(source), "model"
        else:
            buf, name = Path(os.fspath(source)).read_bytes(), Path(os.fspath(source)).stem
        model = onnx.ModelProto()
        try:
            model.ParseFromString(buf)
        except (DecodeError, ValueError, RuntimeError) as e:
            raise ModelFormatError(f"{name}: not a valid ONNX model ({type(e).__name__}: {e})") from e
    try:
        return _Importer(model, name).run()
    except (UnsupportedOperatorError, ModelFormatError):
        raise
    except Exception as e:  # malformed protos surface as Index/Value/Key errors deep in the walk
        raise ModelFormatError(f"{name}: not a valid ONNX model ({type(e).__name__}: {e})") from e


def _attrs(node) -> dict:
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


class _Importer:
    def __init__(self, model, name: str):
        self.model, self.name = model, name
        self.g = model.graph
        self.values: dict[str, Value] = {}
        self.nodes: list[Node] = []
        self.alias: dict[str, str] = {}  # ONNX tensor -> canonical activation value
        self.consts: dict[str, _Const] = {}  # ONNX tensor -> constant operand
        self.pending_perm: dict[str, np.ndarray] = {}  # flattened NHWC value -> NCHW index of each element
        self.skip: set[int] = set()
        self.dq_out: set[str] = set()  # tensors written by DequantizeLinear

    # ---------------------------------------------------------------- model checks and tables
    def run(self) -> Graph:
        import onnx
        from onnx import numpy_helper

        opsets = {o.domain: o.version for o in self.model.opset_import}
        if "" not in opsets and "ai.onnx" not in opsets:
            raise ModelFormatError(f"{self.name}: model has no opset_import of the default ONNX domain "
                                   "(truncated or not an ONNX model)")
        if not self.g.node:
            raise ModelFormatError(f"{self.name}: graph has no nodes")
        self.opset = opsets.get("", opsets.get("ai.onnx"))
        for t in self.g.initializer:
            try:
                arr = numpy_helper.to_array(t)
            except Exception as e:
                raise ModelFormatError(f"{self.name}: initializer {t.name!r} is corrupt ({e})") from e
            self.consts[t.name] = _Const(np.array(arr), None, t.name)
        inits = set(self.consts)
        for i, t in enumerate(self.g.input):
            if t.name in inits:
                continue
            tt = t.type.tensor_type
            if tt.elem_type not in _DTYPES:
                raise UnsupportedOperatorError(
                    f"{self.name}: graph input {i} ({t.name}) has unsupported ONNX element type "
                    f"{onnx.TensorProto.DataType.Name(tt.elem_type) if tt.elem_type else tt.elem_type}")
            shape = tuple(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else 1
                          for d in tt.shape.dim)
            if len(shape) == 4:
                shape = (shape[0], shape[2], shape[3], shape[1])
            self.values[t.name] = Value(t.name, shape, _DTYPES[tt.elem_type])
        self.graph_inputs = [t.name for t in self.g.input if t.name not in inits]
        # every node input is defined before use (a truncated proto loses nodes and initializers)
        defined = set(inits) | set(self.graph_inputs) | {""}
        self.consumers: dict[str, list[int]] = {}
        for k, n in enumerate(self.g.node):
            for x in n.input:
                if x not in defined:
                    raise ModelFormatError(f"{self.name}: ONNX node {k} ({n.op_type} {n.name!r}) reads "
                                           f"undefined tensor {x!r} (truncated or not topologically sorted)")
                self.consumers.setdefault(x, []).append(k)
            defined.update(n.output)
        for o in self.g.output:
            if o.name not in defined:
                raise ModelFormatError(f"{self.name}: graph output {o.name!r} is not produced by any node")
            self.consumers.setdefault(o.name, []).append(-1)
        if not self.g.output:
            raise ModelFormatError(f"{self.name}: graph has no outputs")

        for k, n in enumerate(self.g.node):
            if k in self.skip:
                continue
            self.k, self.n = k, n
            self._node(n)

        outputs = []
        for o in self.g.output:
            if o.name in self.consts:
                raise UnsupportedOperatorError(f"{self.name}: graph output {o.name!r} is a constant")
            src = self.alias.get(o.name, o.name)
            if src in self.pending_perm:
                raise UnsupportedOperatorError(
                    f"{self.name}: graph output {o.name!r} is a flattened NHWC tensor whose element order "
                    "differs from ONNX's NCHW order (only a fully-connected consumer can absorb it)")
            if o.name in self.dq_out and self.values[src].dtype != "float32":
                self.values[o.name] = Value(o.name, self.values[src].shape, "float32")
                self.nodes.append(Node("dequantize", (src,), (o.name,), {}, len(self.g.node),
                                       f"ONNX graph output {o.name!r} (DequantizeLinear)"))
                outputs.append(o.name)
            else:
                outputs.append(src)
        return Graph(self.name, self.values, self.nodes, list(self.graph_inputs), outputs)

    # ---------------------------------------------------------------- helpers
    def origin(self, k=None, n=None) -> str:
        k, n = (self.k, self.n) if k is None else (k, n)
        return f"ONNX node {k} ({n.op_type} {n.name!r})"

    def unsupported(self, why: str) -> UnsupportedOperatorError:
        n = self.n
        return UnsupportedOperatorError(
            f"{self.name}: {self.origin()} inputs {list(n.input)} outputs {list(n.output)}: {why}; "
            f"supported operators: {', '.join(SUPPORTED)}")

    def const(self, t: str, what: str) -> _Const:
        if t not in self.consts:
            raise self.unsupported(f"{what} {t!r} must be a constant initializer")
        return self.consts[t]

    def act(self, t: str) -> Value:
        """The canonical activation value of ONNX tensor t (a constant operand becomes a Value too)."""
        if t in self.consts:
            c = self.consts[t]
            nm = self.fresh(c.name)
            data = c.data
            if data.ndim == 4:
                data = data.transpose(0, 2, 3, 1)
            self.values[nm] = Value(nm, tuple(data.shape), str(data.dtype), c.quant, np.ascontiguousarray(data))
            return self.values[nm]
        src = self.alias.get(t, t)
        if src not in self.values:
            raise self.unsupported(f"input {t!r} is a float tensor produced by an operator outside a "
                                   "QuantizeLinear/DequantizeLinear pair (the model is not fully int8)")
        if src in self.pending_perm:
            raise self.unsupported(f"input {t!r} is a flattened NHWC activation whose element order differs "
                                   "from ONNX's NCHW order; only Gemm / MatMul can read it")
        return self.values[src]

    def fresh(self, base: str) -> str:
        nm, i = base, 1
        while nm in self.values:
            nm, i = f"{base}#{i}", i + 1
        return nm

    def qparams(self, scale_t: str, zp_t: str | None, axis: int | None = None) -> tuple[QuantParams, str]:
        s = np.asarray(self.const(scale_t, "scale").data, np.float64).reshape(-1)
        if zp_t:
            zc = self.const(zp_t, "zero point").data
            zp, dtype = np.asarray(zc, np.int64).reshape(-1), str(zc.dtype)
        else:
            zp, dtype = np.zeros(len(s), np.int64), "uint8"
        if len(zp) == 1 and len(s) > 1:
            zp = np.repeat(zp, len(s))
        if len(zp) != len(s):
            raise self.unsupported(f"{len(s)} scales but {len(zp)} zero points")
        return QuantParams(tuple(float(v) for v in s), tuple(int(v) for v in zp),
                           axis if len(s) > 1 else None), dtype

    def new_value(self, t: str, shape, dtype: str, quant: QuantParams | None) -> str:
        if t in self.values:
            raise ModelFormatError(f"{self.name}: tensor {t!r} is written twice")
        self.values[t] = Value(t, tuple(int(d) for d in shape), dtype, quant)
        return t

    def emit(self, op: str, ins, outs, attrs=None, k=None) -> None:
        self.nodes.append(Node(op, tuple(ins), tuple(outs), dict(attrs or {}), self.k if k is None else k,
                               self.origin()))

    # ---------------------------------------------------------------- dispatch
    def _node(self, n) -> None:
        op = n.op_type
        if n.domain not in ("", "ai.onnx", "com.microsoft"):
            raise self.unsupported(f"operator domain {n.domain!r} not supported")
        if op not in SUPPORTED:
            raise self.unsupported("operator not supported")
        if op == "DequantizeLinear":
            return self._dequantize(n)
        if op == "QuantizeLinear":
            return self._quantize(n)
        if op in ("Identity", "Cast"):
            src = n.input[0]
            if op == "Cast":
                to = _attrs(n).get("to")
                have = self.consts[src].data.dtype.name if src in self.consts else (
                    self.values[self.alias.get(src, src)].dtype if self.alias.get(src, src) in self.values else None)
                if _DTYPES.get(to) != have:
                    raise self.unsupported(f"Cast from {have} to {_DTYPES.get(to, to)} (only casts to the same "
                                           "type are dropped)")
            if src in self.consts:
                self.consts[n.output[0]] = self.consts[src]
            else:
                self.alias[n.output[0]] = self.alias.get(src, src)
            if src in self.dq_out:
                self.dq_out.add(n.output[0])
            return None
        if op in _FLOAT_OPS:
            return self._float_op(n)
        return self._qlinear(n)

    def _dequantize(self, n) -> None:
        a = _attrs(n)
        x = n.input[0]
        zp_t = n.input[2] if len(n.input) > 2 else None
        if x in self.consts:
            c = self.consts[x]
            quant, _ = self.qparams(n.input[1], zp_t, a.get("axis", 1))
            if quant.axis is not None and quant.axis < 0:
                quant = QuantParams(quant.scale, quant.zero_point, quant.axis + c.data.ndim)
            self.consts[n.output[0]] = _Const(c.data, quant, c.name)
            return
        src = self.alias.get(x, x)
        v = self.values.get(src)
        if v is None:
            raise self.unsupported(f"input {x!r} is neither a constant nor an int8 tensor")
        quant, _ = self.qparams(n.input[1], zp_t, a.get("axis", 1))
        if quant.per_channel:
            raise self.unsupported("per-channel quantization of an activation")
        if v.quant is None:
            v.quant = quant
        elif not _same_quant(v.quant, quant):
            raise self.unsupported(f"DequantizeLinear parameters {quant} differ from those of {src!r} {v.quant}")
        self.alias[n.output[0]] = src
        self.dq_out.add(n.output[0])

    def _quantize(self, n) -> None:
        # a QuantizeLinear not absorbed by a preceding operator: of a graph input (or a requantization)
        x = self.act(n.input[0])
        a = _attrs(n)
        quant, dtype = self.qparams(n.input[1], n.input[2] if len(n.input) > 2 else None, a.get("axis", 1))
        if quant.per_channel:
            raise self.unsupported("per-channel quantization of an activation")
        if x.dtype != "float32" and x.quant is not None and _same_quant(x.quant, quant) and x.dtype == dtype:
            self.alias[n.output[0]] = x.name  # Q(DQ(q)) with the same parameters is q
            return
        out = self.new_value(n.output[0], x.shape, dtype, quant)
        self.emit("quantize", (x.name,), (out,))

    # ---------------------------------------------------------------- QDQ: float op between DQ and Q
    def _float_op(self, n) -> None:
        op = n.op_type
        src = self.alias.get(n.input[0], n.input[0])
        if (op in ("Reshape", "Flatten", "MaxPool") and n.input[0] not in self.dq_out and src in self.values
                and self.values[src].dtype != "float32"):
            # QOperator form: these run on the int8 tensor itself, output quantized as the input
            x = self.values[src]
            if op == "MaxPool":
                self._pool(op, _attrs(n), self.act(n.input[0]), n.output[0], x.dtype, x.quant)
            else:
                self._reshape(n, _attrs(n), n.output[0], None, None)
            return
        # output chain: op -> [Relu | Clip] -> QuantizeLinear
        activation = "none"
        t = n.output[0]
        chain: list[int] = []
        if op not in ("Relu", "Clip"):
            nxt = self._sole_consumer(t)
            if nxt is not None and self.g.node[nxt].op_type in ("Relu", "Clip"):
                activation = self._activation_of(nxt)
                chain.append(nxt)
                t = self.g.node[nxt].output[0]
        q = self._sole_consumer(t)
        if q is None or self.g.node[q].op_type != "QuantizeLinear":
            raise self.unsupported(f"the float output {t!r} is not quantized by a single QuantizeLinear "
                                   "(only int8 models are imported)")
        chain.append(q)
        qn = self.g.node[q]
        quant, dtype = self.qparams(qn.input[1], qn.input[2] if len(qn.input) > 2 else None)
        if quant.per_channel:
            raise self.unsupported("per-channel quantization of an activation")
        out_t = qn.output[0]
        kind = self._compute(n, out_t, dtype, quant)
        if activation != "none":
            if kind not in _FUSABLE:
                raise self.unsupported(f"activation after {kind} cannot be fused")
            self.nodes[-1].attrs["activation"] = activation
        self.skip.update(chain)

    def _sole_consumer(self, t: str) -> int | None:
        c = self.consumers.get(t, [])
        return c[0] if len(c) == 1 and c[0] >= 0 else None

    def _activation_of(self, k: int) -> str:
        n = self.g.node[k]
        if n.op_type == "Relu":
            return "relu"
        lo, hi = self._clip_bounds(n, k)
        if lo == 0.0 and hi == 6.0:
            return "relu6"
        if lo == 0.0 and math.isinf(hi):
            return "relu"
        save = self.k, self.n
        self.k, self.n = k, n
        err = self.unsupported(f"Clip({lo}, {hi}) (only Clip(0, 6) and Clip(0, inf) are fused)")
        self.k, self.n = save
        raise err

    def _clip_bounds(self, n, k) -> tuple[float, float]:
        a = _attrs(n)
        lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
        for i, which in ((1, "lo"), (2, "hi")):
            if len(n.input) > i and n.input[i]:
                if n.input[i] not in self.consts:
                    raise UnsupportedOperatorError(f"{self.name}: {self.origin(k, n)}: Clip bound {n.input[i]!r} "
                                                   "must be a constant")
                v = float(np.asarray(self.consts[n.input[i]].data).reshape(-1)[0])
                lo, hi = (v, hi) if which == "lo" else (lo, v)
        return lo, hi

    def _compute(self, n, out_t: str, dtype: str, quant: QuantParams) -> str:
        """Emit the canonical node of float operator n (inputs through DequantizeLinear) writing out_t."""
        op, a = n.op_type, _attrs(n)
        if op in ("MatMul", "Gemm"):
            trans_b = op == "Gemm" and a.get("transB", 0) == 1
            if op == "Gemm":
                self._gemm_checks(a)
            x = self._fc_input(n.input[0])
            w = self.const(n.input[1], "weight")
            b = self.const(n.input[2], "bias") if op == "Gemm" and len(n.input) > 2 and n.input[2] else None
            return self._fully_connected(x, w.data, w.quant, w.name, trans_b, b, out_t, dtype, quant,
                                         bias_quantized=b.quant is not None if b else True)
        if op == "Conv":
            x = self.act(n.input[0])
            w = self.const(n.input[1], "weight")
            b = self.const(n.input[2], "bias") if len(n.input) > 2 and n.input[2] else None
            return self._conv(a, x, w.data, w.quant, w.name, b, out_t, dtype, quant)
        if op == "Add":
            xa, xb = self.act(n.input[0]), self.act(n.input[1])
            shape = np.broadcast_shapes(xa.shape, xb.shape)
            self.new_value(out_t, shape, dtype, quant)
            self.emit("add", (xa.name, xb.name), (out_t,), {"activation": "none"})
            return "add"
        if op in ("AveragePool", "MaxPool", "GlobalAveragePool"):
            return self._pool(op, a, self.act(n.input[0]), out_t, dtype, quant)
        if op in ("Reshape", "Flatten"):
            return self._reshape(n, a, out_t, dtype, quant)
        if op == "Softmax":
            x = self.act(n.input[0])
            self._softmax_axis(a, x, self.opset)
            self.new_value(out_t, x.shape, dtype, quant)
            self.emit("softmax", (x.name,), (out_t,), {"beta": 1.0})
            return "softmax"
        if op in ("Relu", "Clip"):
            x = self.act(n.input[0])
            kind = self._activation_of(self.k)
            self.new_value(out_t, x.shape, dtype, quant)
            self.emit("relu" if kind == "relu" else "relu6", (x.name,), (out_t,))
            return "relu"
        raise self.unsupported("operator not supported")

    # ---------------------------------------------------------------- canonical node builders
    def _gemm_checks(self, a: dict) -> None:
        if a.get("transA", 0):
            raise self.unsupported("Gemm transA=1")
        if float(a.get("alpha", 1.0)) != 1.0 or float(a.get("beta", 1.0)) != 1.0:
            raise self.unsupported(f"Gemm alpha={a.get('alpha', 1.0)} beta={a.get('beta', 1.0)} (only 1, 1)")

    def _fc_input(self, t: str) -> Value:
        src = self.alias.get(t, t)
        if src in self.pending_perm:
            return self.values[src]
        return self.act(t)

    def _fully_connected(self, x: Value, w: np.ndarray, wq: QuantParams | None, wname: str, trans_b: bool,
                         b: _Const | None, out_t: str, dtype: str, quant: QuantParams,
                         bias_quantized: bool = True) -> str:
        if wq is None:
            raise self.unsupported(f"weight {wname!r} is not quantized (float weights)")
        if w.ndim != 2:
            raise self.unsupported(f"weight {wname!r} has rank {w.ndim} (2 expected)")
        axis = wq.axis
        if not trans_b:  # [K, N] -> [N, K]
            w = w.T
            axis = None if axis is None else 1 - axis
        if wq.per_channel and axis != 0:
            raise self.unsupported(f"weight {wname!r} is quantized per input channel (axis over K)")
        n_out, k = w.shape
        if x.shape[-1] != k:
            raise self.unsupported(f"input {x.name!r} shape {x.shape} does not match weight [N={n_out}, K={k}]")
        if x.name in self.pending_perm:
            w = w[:, self.pending_perm[x.name]]  # ONNX's (c, h, w) columns to the NHWC (h, w, c) order
        wv = self.fresh(wname)
        self.values[wv] = Value(wv, (n_out, k), str(w.dtype), QuantParams(wq.scale, wq.zero_point,
                                                                          0 if wq.per_channel else None),
                                np.ascontiguousarray(w))
        ins = [x.name, wv]
        if b is not None:
            ins.append(self._bias(b, x, wq, n_out, bias_quantized))
        self.new_value(out_t, x.shape[:-1] + (n_out,), dtype, quant)
        self.emit("fully_connected", ins, (out_t,), {"activation": "none"})
        return "fully_connected"

    def _bias(self, b: _Const, x: Value, wq: QuantParams, n_out: int, quantized: bool = True) -> str:
        data = np.asarray(b.data)
        if data.size != n_out:
            raise self.unsupported(f"bias {b.name!r} has {data.size} elements for {n_out} output channels")
        if data.dtype != np.int32:
            raise self.unsupported(f"bias {b.name!r} is {data.dtype} (an int32 bias quantized with "
                                   "input scale * weight scale is required)")
        if x.quant is None:
            raise self.unsupported(f"input {x.name!r} has no quantization parameters")
        ws = np.array(wq.scale if wq.per_channel else wq.scale * n_out)
        want = x.quant.scale[0] * ws
        if b.quant is not None:
            have = np.array(b.quant.scale if len(b.quant.scale) > 1 else b.quant.scale * n_out)
            if not np.allclose(have, want, rtol=1e-5, atol=0) or any(z != 0 for z in b.quant.zero_point):
                raise self.unsupported(f"bias {b.name!r} scale/zero point {b.quant} is not input scale * weight "
                                       "scale with zero point 0")
        q = QuantParams(tuple(float(s) for s in want), (0,) * n_out, 0) if wq.per_channel else \
            QuantParams((float(want[0]),), (0,), None)
        nm = self.fresh(b.name)
        self.values[nm] = Value(nm, (n_out,), "int32", q, data.reshape(n_out).astype(np.int32))
        return nm

    def _spatial(self, a: dict, x: Value, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, what: str):
        """Padding (top, bottom, left, right) and output H, W of a 2-D window over NHWC x."""
        if len(x.shape) != 4:
            raise self.unsupported(f"{what} needs a 4-D NCHW input, {x.name!r} has shape {x.shape}")
        h, w = x.shape[1], x.shape[2]
        auto = a.get("auto_pad", "NOTSET")
        if auto in ("NOTSET", ""):
            p = list(a.get("pads", [0, 0, 0, 0]))
            if len(p) != 4:
                raise self.unsupported(f"pads {p} (2-D only)")
            pt, pl, pb, pr = p
        elif auto == "VALID":
            pt = pb = pl = pr = 0
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            upper = auto == "SAME_UPPER"
            (pt, pb), (pl, pr) = same_padding(h, kh, sh, dh, upper), same_padding(w, kw, sw, dw, upper)
        else:
            raise self.unsupported(f"auto_pad {auto!r}")
        oh = (h + pt + pb - ((kh - 1) * dh + 1)) // sh + 1
        ow = (w + pl + pr - ((kw - 1) * dw + 1)) // sw + 1
        if oh < 1 or ow < 1:
            raise self.unsupported(f"window larger than the padded input {x.shape}")
        return (int(pt), int(pb), int(pl), int(pr)), int(oh), int(ow)

    def _conv(self, a: dict, x: Value, w: np.ndarray, wq: QuantParams | None, wname: str, b: _Const | None,
              out_t: str, dtype: str, quant: QuantParams) -> str:
        if wq is None:
            raise self.unsupported(f"weight {wname!r} is not quantized (float weights)")
        if w.ndim != 4:
            raise self.unsupported(f"Conv weight {wname!r} has rank {w.ndim} (only 2-D convolutions)")
        if wq.per_channel and wq.axis != 0:
            raise self.unsupported(f"Conv weight {wname!r} quantized along axis {wq.axis} (0 expected)")
        co, ci_g, kh, kw = (int(d) for d in w.shape)
        if "kernel_shape" in a and tuple(a["kernel_shape"]) != (kh, kw):
            raise self.unsupported(f"kernel_shape {a['kernel_shape']} differs from the weight shape {w.shape}")
        sh, sw = (int(s) for s in a.get("strides", [1, 1]))
        dh, dw = (int(s) for s in a.get("dilations", [1, 1]))
        group = int(a.get("group", 1))
        if len(x.shape) != 4:
            raise self.unsupported(f"Conv needs a 4-D NCHW input, {x.name!r} has shape {x.shape}")
        c = x.shape[3]
        pad, oh, ow = self._spatial(a, x, kh, kw, sh, sw, dh, dw, "Conv")
        attrs = {"stride": (sh, sw), "dilation": (dh, dw), "padding": pad, "activation": "none"}
        if group == 1:
            if ci_g != c:
                raise self.unsupported(f"weight {wname!r} has {ci_g} input channels, input has {c}")
            kind, wt = "conv2d", w.transpose(0, 2, 3, 1)  # OIHW -> OHWI
            wquant = QuantParams(wq.scale, wq.zero_point, 0 if wq.per_channel else None)
        elif group == c and ci_g == 1 and co % group == 0:
            kind, wt = "depthwise_conv2d", w.transpose(1, 2, 3, 0)  # [C*M, 1, KH, KW] -> [1, KH, KW, C*M]
            wquant = QuantParams(wq.scale, wq.zero_point, 3 if wq.per_channel else None)
            attrs["depth_multiplier"] = co // group
        else:
            raise self.unsupported(f"grouped convolution (group={group}, {c} input channels, weight "
                                   f"{tuple(w.shape)}); only group 1 and depthwise (group == channels)")
        wv = self.fresh(wname)
        self.values[wv] = Value(wv, tuple(wt.shape), str(wt.dtype), wquant, np.ascontiguousarray(wt))
        ins = [x.name, wv]
        if b is not None:
            ins.append(self._bias(b, x, wq, co, b.quant is not None))
        self.new_value(out_t, (x.shape[0], oh, ow, co), dtype, quant)
        self.emit(kind, ins, (out_t,), attrs)
        return kind

    def _pool(self, op: str, a: dict, x: Value, out_t: str, dtype: str, quant: QuantParams) -> str:
        if op.startswith("Global") or op.startswith("QLinearGlobal"):
            if len(x.shape) != 4:
                raise self.unsupported(f"{op} needs a 4-D NCHW input, {x.name!r} has shape {x.shape}")
            kh, kw, sh, sw = x.shape[1], x.shape[2], 1, 1
            a = {}
        else:
            if "kernel_shape" not in a or len(a["kernel_shape"]) != 2:
                raise self.unsupported(f"{op} kernel_shape {a.get('kernel_shape')} (2-D only)")
            kh, kw = (int(v) for v in a["kernel_shape"])
            sh, sw = (int(s) for s in a.get("strides", [1, 1]))
            if a.get("ceil_mode", 0):
                raise self.unsupported("ceil_mode=1")
            if any(int(d) != 1 for d in a.get("dilations", [1, 1])):
                raise self.unsupported(f"pooling dilations {a.get('dilations')}")
            if a.get("storage_order", 0):
                raise self.unsupported("storage_order=1")
        pad, oh, ow = self._spatial(a, x, kh, kw, sh, sw, 1, 1, op)
        kind = "max_pool2d" if "Max" in op else "avg_pool2d"
        if kind == "avg_pool2d" and a.get("count_include_pad", 0) and any(pad):
            raise self.unsupported("count_include_pad=1 with padding (TFLite excludes padding from the count)")
        if len(self.n.output) > 1 and self.n.output[1]:
            raise self.unsupported("MaxPool Indices output")
        attrs = {"filter": (kh, kw), "stride": (sh, sw), "padding": pad, "activation": "none"}
        self._requant_emit(kind, (x.name,), x, (x.shape[0], oh, ow, x.shape[3]), out_t, dtype, quant, attrs)
        return kind

    def _requant_emit(self, kind: str, ins, x: Value, shape, out_t: str, dtype: str, quant: QuantParams,
                      attrs: dict) -> None:
        """kind with its output quantized as its input (TFLite pooling / reshape), then a requantizing
        `quantize` node when the ONNX output has other parameters."""
        if x.quant is not None and (not _same_quant(x.quant, quant) or x.dtype != dtype):
            mid = self.fresh(out_t + "/requant_in")
            self.values[mid] = Value(mid, tuple(shape), x.dtype, x.quant)
            self.emit(kind, ins, (mid,), attrs)
            self.new_value(out_t, shape, dtype, quant)
            self.emit("quantize", (mid,), (out_t,))
        else:
            self.new_value(out_t, shape, dtype, quant)
            self.emit(kind, ins, (out_t,), attrs)

    def _reshape(self, n, a: dict, out_t: str, dtype: str | None, quant: QuantParams | None) -> str:
        src_t = n.input[0]
        x = self.act(src_t)
        onnx_in = x.shape if len(x.shape) != 4 else (x.shape[0], x.shape[3], x.shape[1], x.shape[2])
        size = int(np.prod(onnx_in, dtype=np.int64))
        if n.op_type == "Flatten":
            ax = int(a.get("axis", 1))
            ax = ax + len(onnx_in) if ax < 0 else ax
            target = (int(np.prod(onnx_in[:ax], dtype=np.int64)), int(np.prod(onnx_in[ax:], dtype=np.int64)))
        else:
            if a.get("allowzero", 0):
                raise self.unsupported("Reshape allowzero=1")
            spec = [int(d) for d in np.asarray(self.const(n.input[1], "shape").data).reshape(-1)]
            spec = [onnx_in[i] if d == 0 else d for i, d in enumerate(spec)]
            if spec.count(-1) > 1:
                raise self.unsupported(f"Reshape shape {spec} with several -1")
            if -1 in spec:
                rest = int(np.prod([d for d in spec if d != -1], dtype=np.int64))
                spec[spec.index(-1)] = size // rest if rest else 0
            target = tuple(spec)
        if int(np.prod(target, dtype=np.int64)) != size:
            raise self.unsupported(f"Reshape of {size} elements to {target}")

        def order_kept(shape4) -> bool:  # NCHW and NHWC flatten alike when C == 1 or H*W == 1
            return shape4[1] == 1 or shape4[2] * shape4[3] == 1

        perm = None
        if len(onnx_in) == 4 and not order_kept(onnx_in):
            if len(target) != 2 or target[0] != onnx_in[0]:
                raise self.unsupported(f"Reshape of the NCHW activation {onnx_in} to {target} reorders elements "
                                       "in the NHWC graph (only a flatten to [N, C*H*W] read by Gemm/MatMul)")
            _, c, h, w = onnx_in
            perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
        out_shape = target
        if len(target) == 4:
            if not order_kept(target):
                raise self.unsupported(f"Reshape to the 4-D NCHW shape {target} reorders elements in the NHWC "
                                       "graph")
            out_shape = (target[0], target[2], target[3], target[1])
        if dtype is None:
            dtype, quant = x.dtype, x.quant
        self._requant_emit("reshape", (x.name,), x, out_shape, out_t, dtype, quant, {"shape": tuple(out_shape)})
        if perm is not None:
            if self.nodes[-1].op != "reshape":
                raise self.unsupported("a flatten of an NCHW activation that is requantized")
            self.pending_perm[out_t] = perm
            for k in self._final_consumers(n):
                if self.g.node[k].op_type not in ("Gemm", "MatMul", "QGemm", "QLinearMatMul"):
                    raise self.unsupported(
                        f"the flattened NCHW activation {out_t!r} (element order differs in the NHWC graph) is "
                        f"read by {self.g.node[k].op_type} node {k}; only Gemm / MatMul can absorb the reorder")
        return "reshape"

    def _final_consumers(self, n) -> list[int]:
        """The operators reading n's output, looking through QuantizeLinear / DequantizeLinear."""
        out, todo = [], list(n.output[:1])
        while todo:
            t = todo.pop()
            for k in self.consumers.get(t, []):
                if k < 0:
                    out.append(k)
                    continue
                c = self.g.node[k]
                if c.op_type in ("QuantizeLinear", "DequantizeLinear", "Identity"):
                    todo.append(c.output[0])
                else:
                    out.append(k)
        if -1 in out:
            raise self.unsupported(f"the flattened NCHW activation {n.output[0]!r} is a graph output (its element "
                                   "order differs in the NHWC graph)")
        return out

    def _softmax_axis(self, a: dict, x: Value, opset: int) -> None:
        r = len(x.shape)
        ax = int(a.get("axis", -1 if opset >= 13 else 1))
        ax = ax + r if ax < 0 else ax
        ok = ax == r - 1 or (r == 4 and ax == 1 and opset >= 13)  # NCHW axis 1 is NHWC's last
        if not ok:
            raise self.unsupported(f"Softmax over axis {a.get('axis')} of a rank-{r} tensor (the last axis only)")

    # ---------------------------------------------------------------- QOperator form
    def _qlinear(self, n) -> None:
        op, a, i = n.op_type, _attrs(n), list(n.input)
        def in_act(t: str, s: str, z: str) -> Value:
            x = self.act(t) if self.alias.get(t, t) not in self.pending_perm else self.values[self.alias.get(t, t)]
            q, _ = self.qparams(s, z)
            if x.quant is None:
                x.quant = q
            elif not _same_quant(x.quant, q):
                raise self.unsupported(f"input {t!r} parameters {q} differ from its producer's {x.quant}")
            return x

        def out_q(s: str, z: str) -> tuple[QuantParams, str]:
            return self.qparams(s, z)

        def wconst(t: str, s: str, z: str, axis: int) -> _Const:
            c = self.const(t, "weight")
            q, _ = self.qparams(s, z, axis)
            return _Const(c.data, q, c.name)

        if op == "QLinearMatMul":
            x = in_act(i[0], i[1], i[2])
            w = wconst(i[3], i[4], i[5], 1)
            quant, dtype = out_q(i[6], i[7])
            self._fully_connected(x, w.data, w.quant, w.name, False, None, n.output[0], dtype, quant)
        elif op == "QGemm":
            self._gemm_checks(a)
            trans_b = a.get("transB", 0) == 1
            x = in_act(i[0], i[1], i[2])
            w = wconst(i[3], i[4], i[5], 0 if trans_b else 1)
            b = self.const(i[6], "bias") if len(i) > 6 and i[6] else None
            if len(i) < 9 or not i[7]:
                raise self.unsupported("QGemm with a float output (no y_scale)")
            quant, dtype = out_q(i[7], i[8] if len(i) > 8 else None)
            self._fully_connected(x, w.data, w.quant, w.name, trans_b, b, n.output[0], dtype, quant)
        elif op == "QLinearConv":
            x = in_act(i[0], i[1], i[2])
            w = wconst(i[3], i[4], i[5], 0)
            quant, dtype = out_q(i[6], i[7])
            b = self.const(i[8], "bias") if len(i) > 8 and i[8] else None
            self._conv(a, x, w.data, w.quant, w.name, b, n.output[0], dtype, quant)
        elif op == "QLinearAdd":
            xa = in_act(i[0], i[1], i[2])
            xb = in_act(i[3], i[4], i[5])
            quant, dtype = out_q(i[6], i[7] if len(i) > 7 else None)
            self.new_value(n.output[0], np.broadcast_shapes(xa.shape, xb.shape), dtype, quant)
            self.emit("add", (xa.name, xb.name), (n.output[0],), {"activation": "none"})
        elif op in ("QLinearAveragePool", "QLinearGlobalAveragePool"):
            if op == "QLinearGlobalAveragePool" and a.get("channels_last", 0):
                raise self.unsupported("channels_last=1")
            if op == "QLinearAveragePool" and a.get("channels_last", 0):
                raise self.unsupported("channels_last=1")
            x = in_act(i[0], i[1], i[2])
            quant, dtype = out_q(i[3], i[4] if len(i) > 4 else None)
            self._pool(op.replace("QLinear", ""), a, x, n.output[0], dtype, quant)
        elif op == "QLinearSoftmax":
            x = in_act(i[0], i[1], i[2])
            quant, dtype = out_q(i[3], i[4] if len(i) > 4 else None)
            self._softmax_axis(a, x, int(a.get("opset", 13)))
            self.new_value(n.output[0], x.shape, dtype, quant)
            self.emit("softmax", (x.name,), (n.output[0],), {"beta": 1.0})
        else:
            raise self.unsupported("operator not supported")


def _same_quant(a: QuantParams, b: QuantParams) -> bool:
    return (len(a.scale) == len(b.scale) and a.zero_point == b.zero_point
            and np.allclose(a.scale, b.scale, rtol=1e-6, atol=0))


__all__ = ["SUPPORTED", "from_onnx"]
