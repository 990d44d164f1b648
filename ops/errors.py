"""Errors of the operator library."""

from tir.errors import TirError


class OpError(TirError):
    """An unknown operator, or an attribute that is unknown, missing, of the wrong type or out of range.

    The message names the operator and the attribute."""


__all__ = ["OpError"]
