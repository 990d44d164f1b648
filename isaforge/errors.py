"""Errors raised by the isaforge application layer (subclasses of tir.errors.TirError)."""

from tir.errors import CodegenError, TirError


class IsaforgeError(TirError):
    """Root of the errors the isaforge command-line tools and exporters raise themselves."""


class ExportError(IsaforgeError, CodegenError):
    """A kernel cannot be exported as a LiteX firmware project (also a CodegenError, as before)."""
