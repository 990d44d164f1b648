"""Errors raised by codegen_c: tir's CodegenError (emitted C that cannot be produced or does not
compile) and ArgumentError (arrays passed to a built Module do not match its buffers).

They are defined in tir.errors, the root of the one hierarchy (every error is a tir.TirError), because
tir's own passes raise them too; this module is where codegen_c's users import them from.
"""

from tir.errors import ArgumentError, CodegenError

__all__ = ["ArgumentError", "CodegenError"]
