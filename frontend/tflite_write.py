"""Write a frontend Graph (float or int8) back as a TFLite flatbuffer that TFLM's interpreter runs.

The inverse of frontend.tflite.from_tflite for the operators it imports: one subgraph, buffer 0 the
empty sentinel, one buffer per constant (16-byte aligned), explicit padding written back as SAME or
VALID (the only paddings TFLite has), reshape with its target shape in ReshapeOptions.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from frontend.errors import FrontendError, UnsupportedOperatorError
from frontend.graph import Graph, Node, same_padding

_TYPES = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int16": 7, "int8": 9}
_ACTIVATIONS = {"none": 0, "relu": 1, "relu6": 3}
_PADDING_SAME, _PADDING_VALID = 0, 1

# node kind -> (TFLite builtin operator name, BuiltinOptions union member or None)
_OPS = {
    "fully_connected": ("FULLY_CONNECTED", "FullyConnectedOptions"),
    "conv2d": ("CONV_2D", "Conv2DOptions"),
    "depthwise_conv2d": ("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions"),
    "avg_pool2d": ("AVERAGE_POOL_2D", "Pool2DOptions"),
    "max_pool2d": ("MAX_POOL_2D", "Pool2DOptions"),
    "add": ("ADD", "AddOptions"),
    "reshape": ("RESHAPE", "ReshapeOptions"),
    "softmax": ("SOFTMAX", "SoftmaxOptions"),
    "relu": ("RELU", None),
    "relu6": ("RELU6", None),
    "quantize": ("QUANTIZE", "QuantizeOptions"),
    "dequantize": ("DEQUANTIZE", "DequantizeOptions"),
}

#: Node kinds to_tflite can write.
WRITABLE_OPS = tuple(_OPS)
#: The TFLite builtin operator each writable node kind becomes.
TFLITE_OPERATOR = {kind: name for kind, (name, _) in _OPS.items()}


def _unsupported(node: Node, why: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(
        f"to_tflite: {node.origin or f'node {node.index}'} ({node.op}, outputs {list(node.outputs)}): {why}; "
        f"writable operators: {', '.join(WRITABLE_OPS)}")


def _int_vector(b: flatbuffers.Builder, values, dtype=np.int32) -> int:
    return b.CreateNumpyVector(np.asarray(list(values), dtype=dtype).reshape(-1))


def _aligned_bytes(b: flatbuffers.Builder, payload: bytes, alignment: int = 16) -> int:
    # the vector's data (not its length prefix) starts on an `alignment` boundary
    b.StartVector(1, len(payload), alignment)
    b.head = b.head - len(payload)
    b.Bytes[b.head: b.head + len(payload)] = payload
    b.vectorNumElems = len(payload)
    return b.EndVector()


def _padding_code(node: Node, in_shape, kernel: tuple[int, int], stride, dilation) -> int:
    pad = tuple(node.attrs.get("padding", (0, 0, 0, 0)))
    if pad == (0, 0, 0, 0):
        return _PADDING_VALID
    same = same_padding(in_shape[1], kernel[0], stride[0], dilation[0]) + \
        same_padding(in_shape[2], kernel[1], stride[1], dilation[1])
    if pad == same:
        return _PADDING_SAME
    raise _unsupported(node, f"padding {pad} is neither VALID nor TFLite's SAME {same}")


def _options(b: flatbuffers.Builder, graph: Graph, node: Node) -> int | None:
    import tflite

    act = node.attrs.get("activation", "none")
    if act not in _ACTIVATIONS:
        raise _unsupported(node, f"fused activation {act!r} (none, relu, relu6 can be written)")
    fa = _ACTIVATIONS[act]
    op = node.op
    if op == "fully_connected":
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, fa)
        return tflite.FullyConnectedOptionsEnd(b)
    if op in ("conv2d", "depthwise_conv2d"):
        w = graph.values[node.inputs[1]]
        stride = tuple(node.attrs.get("stride", (1, 1)))
        dil = tuple(node.attrs.get("dilation", (1, 1)))
        pad = _padding_code(node, graph.values[node.inputs[0]].shape, (w.shape[1], w.shape[2]), stride, dil)
        if op == "conv2d":
            tflite.Conv2DOptionsStart(b)
            tflite.Conv2DOptionsAddPadding(b, pad)
            tflite.Conv2DOptionsAddStrideH(b, stride[0])
            tflite.Conv2DOptionsAddStrideW(b, stride[1])
            tflite.Conv2DOptionsAddDilationHFactor(b, dil[0])
            tflite.Conv2DOptionsAddDilationWFactor(b, dil[1])
            tflite.Conv2DOptionsAddFusedActivationFunction(b, fa)
            return tflite.Conv2DOptionsEnd(b)
        tflite.DepthwiseConv2DOptionsStart(b)
        tflite.DepthwiseConv2DOptionsAddPadding(b, pad)
        tflite.DepthwiseConv2DOptionsAddStrideH(b, stride[0])
        tflite.DepthwiseConv2DOptionsAddStrideW(b, stride[1])
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, dil[0])
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, dil[1])
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, int(node.attrs.get("depth_multiplier", 1)))
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, fa)
        return tflite.DepthwiseConv2DOptionsEnd(b)
    if op in ("avg_pool2d", "max_pool2d"):
        kh, kw = node.attrs["filter"]
        stride = tuple(node.attrs.get("stride", (1, 1)))
        pad = _padding_code(node, graph.values[node.inputs[0]].shape, (kh, kw), stride, (1, 1))
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, pad)
        tflite.Pool2DOptionsAddStrideH(b, stride[0])
        tflite.Pool2DOptionsAddStrideW(b, stride[1])
        tflite.Pool2DOptionsAddFilterHeight(b, kh)
        tflite.Pool2DOptionsAddFilterWidth(b, kw)
        tflite.Pool2DOptionsAddFusedActivationFunction(b, fa)
        return tflite.Pool2DOptionsEnd(b)
    if op == "add":
        tflite.AddOptionsStart(b)
        tflite.AddOptionsAddFusedActivationFunction(b, fa)
        return tflite.AddOptionsEnd(b)
    if op == "reshape":
        shape = _int_vector(b, node.attrs.get("shape", graph.values[node.outputs[0]].shape))
        tflite.ReshapeOptionsStart(b)
        tflite.ReshapeOptionsAddNewShape(b, shape)
        return tflite.ReshapeOptionsEnd(b)
    if op == "softmax":
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, float(node.attrs.get("beta", 1.0)))
        return tflite.SoftmaxOptionsEnd(b)
    if op == "quantize":
        tflite.QuantizeOptionsStart(b)
        return tflite.QuantizeOptionsEnd(b)
    if op == "dequantize":
        tflite.DequantizeOptionsStart(b)
        return tflite.DequantizeOptionsEnd(b)
    return None


def to_tflite(graph: Graph, description: str = "isaforge", signature_key: str | None = "serving_default") -> bytes:
    """Serialize `graph` as a TFLite flatbuffer (schema version 3, one subgraph); returns bytes.

    With `signature_key` the model gets one signature (inputs and outputs keyed by their value
    names), which LiteRT's signature runners and ai-edge-quantizer's calibrator need.
    """
    import tflite

    for node in graph.nodes:
        if node.op not in _OPS:
            raise _unsupported(node, "operator not writable")
        for n in node.inputs + node.outputs:
            if n and n not in graph.values:
                raise FrontendError(f"to_tflite: {node.origin or node.op} refers to unknown value {n!r}")
    names = list(graph.values)
    index = {n: i for i, n in enumerate(names)}
    b = flatbuffers.Builder(1024)

    # buffers: 0 is the empty sentinel; constants get their own
    buffer_of: dict[str, int] = {}
    payloads: list[bytes | None] = [None]
    for n in names:
        v = graph.values[n]
        if v.dtype not in _TYPES:
            raise FrontendError(f"to_tflite: value {n!r} has dtype {v.dtype}, writable: {', '.join(_TYPES)}")
        if v.data is not None:
            data = np.ascontiguousarray(np.asarray(v.data, dtype=np.dtype(v.dtype).newbyteorder("<")))
            if tuple(data.shape) != tuple(v.shape) and data.size != int(np.prod(v.shape, dtype=np.int64)):
                raise FrontendError(f"to_tflite: constant {n!r} has {data.size} elements, shape {v.shape}")
            buffer_of[n] = len(payloads)
            payloads.append(data.tobytes())
    buffer_offsets = []
    for p in payloads:
        data_off = _aligned_bytes(b, p) if p else None
        tflite.BufferStart(b)
        if data_off is not None:
            tflite.BufferAddData(b, data_off)
        buffer_offsets.append(tflite.BufferEnd(b))

    tensor_offsets = []
    for n in names:
        v = graph.values[n]
        name_off = b.CreateString(n)
        shape_off = _int_vector(b, v.shape)
        q_off = None
        if v.quant is not None:
            scale_off = b.CreateNumpyVector(np.asarray(v.quant.scale, dtype=np.float32))
            zp_off = b.CreateNumpyVector(np.asarray(v.quant.zero_point, dtype=np.int64))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale_off)
            tflite.QuantizationParametersAddZeroPoint(b, zp_off)
            tflite.QuantizationParametersAddQuantizedDimension(b, int(v.quant.axis or 0))
            q_off = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape_off)
        tflite.TensorAddType(b, _TYPES[v.dtype])
        tflite.TensorAddBuffer(b, buffer_of.get(n, 0))
        tflite.TensorAddName(b, name_off)
        if q_off is not None:
            tflite.TensorAddQuantization(b, q_off)
        tensor_offsets.append(tflite.TensorEnd(b))

    # operator codes in first-use order
    codes: list[str] = []
    for node in graph.nodes:
        if _OPS[node.op][0] not in codes:
            codes.append(_OPS[node.op][0])
    code_offsets = []
    for c in codes:
        code = int(getattr(tflite.BuiltinOperator, c))
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        code_offsets.append(tflite.OperatorCodeEnd(b))

    op_offsets = []
    for node in graph.nodes:
        ins = _int_vector(b, [index[n] if n else -1 for n in node.inputs])
        outs = _int_vector(b, [index[n] for n in node.outputs])
        opts = _options(b, graph, node)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(_OPS[node.op][0]))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, int(getattr(tflite.BuiltinOptions, _OPS[node.op][1])))
            tflite.OperatorAddBuiltinOptions(b, opts)
        op_offsets.append(tflite.OperatorEnd(b))

    def table_vector(start, offsets) -> int:
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    tensors_v = table_vector(tflite.SubGraphStartTensorsVector, tensor_offsets)
    ops_v = table_vector(tflite.SubGraphStartOperatorsVector, op_offsets)
    in_v = _int_vector(b, [index[n] for n in graph.inputs])
    out_v = _int_vector(b, [index[n] for n in graph.outputs])
    sg_name = b.CreateString(graph.name)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_v)
    tflite.SubGraphAddInputs(b, in_v)
    tflite.SubGraphAddOutputs(b, out_v)
    tflite.SubGraphAddOperators(b, ops_v)
    tflite.SubGraphAddName(b, sg_name)
    sg = tflite.SubGraphEnd(b)

    codes_v = table_vector(tflite.ModelStartOperatorCodesVector, code_offsets)
    subgraphs_v = table_vector(tflite.ModelStartSubgraphsVector, [sg])
    buffers_v = table_vector(tflite.ModelStartBuffersVector, buffer_offsets)
    sig_v = None
    if signature_key is not None:
        def tensor_maps(value_names) -> list[int]:
            maps = []
            for n in value_names:
                key = b.CreateString(n)
                tflite.TensorMapStart(b)
                tflite.TensorMapAddName(b, key)
                tflite.TensorMapAddTensorIndex(b, index[n])
                maps.append(tflite.TensorMapEnd(b))
            return maps

        sig_in = table_vector(tflite.SignatureDefStartInputsVector, tensor_maps(graph.inputs))
        sig_out = table_vector(tflite.SignatureDefStartOutputsVector, tensor_maps(graph.outputs))
        sig_key = b.CreateString(signature_key)
        tflite.SignatureDefStart(b)
        tflite.SignatureDefAddInputs(b, sig_in)
        tflite.SignatureDefAddOutputs(b, sig_out)
        tflite.SignatureDefAddSignatureKey(b, sig_key)
        tflite.SignatureDefAddSubgraphIndex(b, 0)
        sig_v = table_vector(tflite.ModelStartSignatureDefsVector, [tflite.SignatureDefEnd(b)])
    desc = b.CreateString(description)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_v)
    tflite.ModelAddSubgraphs(b, subgraphs_v)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, buffers_v)
    if sig_v is not None:
        tflite.ModelAddSignatureDefs(b, sig_v)
    model = tflite.ModelEnd(b)
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())
