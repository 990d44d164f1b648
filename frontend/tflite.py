"""Import a TFLite flatbuffer model into a frontend Graph (parsed with the `tflite` package)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from frontend.errors import ModelFormatError, UnsupportedOperatorError
from frontend.graph import Graph, Node, QuantParams, Value, same_padding

_DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}
_ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}

#: TFLite builtin operators the importer understands, by name.
SUPPORTED = (
    "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
    "RESHAPE", "SOFTMAX", "RELU", "RELU6", "QUANTIZE", "DEQUANTIZE",
)


def _code_name(code: int) -> str:
    import tflite

    for name, v in vars(tflite.BuiltinOperator).items():
        if v == code and not name.startswith("_"):
            return name
    return f"BUILTIN_{code}"


def from_tflite(source: str | os.PathLike | bytes) -> Graph:
    """Parse a TFLite model (file path or bytes) into a Graph; the first subgraph only."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf, name = bytes(source), "model"
    else:
        buf, name = Path(source).read_bytes(), Path(source).stem
    try:
        return _parse(buf, name)
    except (UnsupportedOperatorError, ModelFormatError):
        raise
    except Exception as e:  # flatbuffers reads out of bounds raise struct/Index/Value errors
        raise ModelFormatError(f"{name}: not a valid TFLite flatbuffer ({type(e).__name__}: {e})") from e


def _parse(buf: bytes, name: str) -> Graph:
    import tflite

    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelFormatError(f"{name}: not a TFLite model (missing TFL3 identifier, {len(buf)} bytes)")
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ModelFormatError(f"{name}: model has no subgraph")
    sg = model.Subgraphs(0)
    values: dict[str, Value] = {}
    names: list[str] = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        tname = (t.Name() or b"").decode("utf-8", "replace") or f"t{i}"
        if tname in values:
            tname = f"{tname}#{i}"
        if t.Type() not in _DTYPES:
            raise UnsupportedOperatorError(f"{name}: tensor {i} ({tname}) has unsupported TFLite type {t.Type()}")
        dtype = _DTYPES[t.Type()]
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        quant = None
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            scale = tuple(float(s) for s in q.ScaleAsNumpy())
            zp = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scale)
            quant = QuantParams(scale, zp, int(q.QuantizedDimension()) if len(scale) > 1 else None)
        data = None
        if t.Buffer() > 0:
            if t.Buffer() >= model.BuffersLength():
                raise ModelFormatError(f"{name}: tensor {i} ({tname}) refers to missing buffer {t.Buffer()}")
            b = model.Buffers(t.Buffer())
            if b.DataLength() > 0:
                raw = b.DataAsNumpy().tobytes()
                arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
                if arr.size != int(np.prod(shape, dtype=np.int64)):
                    raise ModelFormatError(
                        f"{name}: tensor {i} ({tname}) buffer has {arr.size} elements, shape {shape}")
                data = arr.reshape(shape)
        values[tname] = Value(tname, shape, dtype, quant, data)
        names.append(tname)

    def tname_of(idx: int) -> str:
        if idx < 0:
            return ""
        if idx >= len(names):
            raise ModelFormatError(f"{name}: tensor index {idx} out of range ({len(names)} tensors)")
        return names[idx]

    nodes: list[Node] = []
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        opname = _code_name(code)
        ins = tuple(tname_of(int(i)) for i in (op.InputsAsNumpy() if op.InputsLength() else []))
        outs = tuple(tname_of(int(i)) for i in (op.OutputsAsNumpy() if op.OutputsLength() else []))
        origin = f"TFLite operator {k} ({opname})"

        def unsupported(why: str, origin=origin, ins=ins, outs=outs) -> UnsupportedOperatorError:
            return UnsupportedOperatorError(
                f"{name}: {origin} inputs {list(ins)} outputs {list(outs)}: {why}; "
                f"supported operators: {', '.join(SUPPORTED)}")

        if opname not in SUPPORTED:
            raise unsupported("operator not supported")
        opts_table = op.BuiltinOptions()

        def opts(cls, opts_table=opts_table):
            o = cls()
            if opts_table is None:
                return None
            o.Init(opts_table.Bytes, opts_table.Pos)
            return o

        def act(o, unsupported=unsupported) -> str:
            a = 0 if o is None else int(o.FusedActivationFunction())
            if a not in _ACTIVATIONS:
                raise unsupported(f"fused activation {a} not supported (none, RELU, RELU6 are)")
            return _ACTIVATIONS[a]

        attrs: dict = {}
        if opname == "FULLY_CONNECTED":
            o = opts(tflite.FullyConnectedOptions)
            if o is not None and o.WeightsFormat() != 0:
                raise unsupported("shuffled weights format")
            if o is not None and o.KeepNumDims():
                raise unsupported("keep_num_dims")
            kind, attrs = "fully_connected", {"activation": act(o)}
        elif opname in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            dw = opname == "DEPTHWISE_CONV_2D"
            o = opts(tflite.DepthwiseConv2DOptions if dw else tflite.Conv2DOptions)
            sh, sw = int(o.StrideH()), int(o.StrideW())
            dh, dw_ = int(o.DilationHFactor()) or 1, int(o.DilationWFactor()) or 1
            xs, ws = values[ins[0]].shape, values[ins[1]].shape
            if o.Padding() == 0:  # SAME
                pt, pb = same_padding(xs[1], ws[1], sh, dh)
                pl, pr = same_padding(xs[2], ws[2], sw, dw_)
            else:
                pt = pb = pl = pr = 0
            kind = "depthwise_conv2d" if dw else "conv2d"
            attrs = {"stride": (sh, sw), "dilation": (dh, dw_), "padding": (pt, pb, pl, pr),
                     "activation": act(o)}
            if dw:
                attrs["depth_multiplier"] = ws[3] // xs[3]
        elif opname in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            o = opts(tflite.Pool2DOptions)
            kh, kw = int(o.FilterHeight()), int(o.FilterWidth())
            sh, sw = int(o.StrideH()), int(o.StrideW())
            xs = values[ins[0]].shape
            if o.Padding() == 0:
                pt, pb = same_padding(xs[1], kh, sh, 1)
                pl, pr = same_padding(xs[2], kw, sw, 1)
            else:
                pt = pb = pl = pr = 0
            kind = "avg_pool2d" if opname == "AVERAGE_POOL_2D" else "max_pool2d"
            attrs = {"filter": (kh, kw), "stride": (sh, sw), "padding": (pt, pb, pl, pr),
                     "activation": act(o)}
        elif opname == "ADD":
            o = opts(tflite.AddOptions)
            kind, attrs = "add", {"activation": act(o)}
        elif opname == "RESHAPE":
            kind = "reshape"
            attrs = {"shape": values[outs[0]].shape}
            ins = ins[:1]
        elif opname == "SOFTMAX":
            o = opts(tflite.SoftmaxOptions)
            kind, attrs = "softmax", {"beta": float(o.Beta()) if o is not None else 1.0}
        else:
            kind = opname.lower()
        nodes.append(Node(kind, ins, outs, attrs, k, origin))

    inputs = [tname_of(int(i)) for i in sg.InputsAsNumpy()] if sg.InputsLength() else []
    outputs = [tname_of(int(i)) for i in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    return Graph(name, values, nodes, inputs, outputs)
