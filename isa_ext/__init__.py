"""isa_ext: custom-instruction ISA extensions for VexRiscv's CFU port.

An :class:`Extension` is one object holding everything about a custom instruction set (encodings,
state, reference semantics, C for every target, RTL); see isa_ext/extension.py.

    isa_ext.names()                  -> registered extension names (built-ins: dot4_i8, dot4_u8,
                                        dot2_i16, mac4_i8, requant_i8)
    isa_ext.get(name)                -> Extension
    isa_ext.register(ext)            -> add a user extension
    isa_ext.verify(ext, n=10000)     -> VerifyReport (RTL vs C model vs reference) or VerifyError;
                                        every lane pair of 8-bit-lane ops (isa_ext.LaneSweep)
    isa_ext.ExtensionSet([...])      -> extensions sharing one CFU: .verilog(), .c_source(t),
                                        .cosim_library()
    isa_ext.dot_product_extension / mac_bank_extension / requant_extension  -> parametric families
"""

from isa_ext.area import AreaRow, cpu_area, extension_area
from isa_ext.bits import INT32_MAX, INT32_MIN, MASK32, clamp, lanes, s8, s16, s32, sext, u32, zext
from isa_ext.errors import ExtensionError, VerifyError
from isa_ext.extension import OPCODE, TARGETS, Extension, Op, describe_fid, function_id
from isa_ext.extset import ExtensionSet, target_extensions
from isa_ext.library import (
    dot_product_extension,
    mac_bank_extension,
    requant_extension,
    requantize,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)
from isa_ext.registry import get, names, register
from isa_ext.verify import LaneSweep, VerifyReport, build_host_model, verify, verify_set

__all__ = [
    "INT32_MAX", "INT32_MIN", "MASK32", "OPCODE", "TARGETS", "AreaRow", "cpu_area", "extension_area",
    "Extension", "ExtensionError", "ExtensionSet", "LaneSweep", "Op", "VerifyError", "VerifyReport",
    "build_host_model", "clamp", "describe_fid", "dot_product_extension", "function_id", "get", "lanes",
    "mac_bank_extension", "names", "register", "requant_extension", "requantize", "rounding_divide_by_pot",
    "s8", "s16", "s32", "saturating_rounding_doubling_high_mul", "sext", "target_extensions", "u32",
    "verify", "verify_set", "zext",
]
