"""Errors raised by isa_ext (subclasses of tir.errors.TirError)."""

from tir.errors import TirError


class ExtensionError(TirError):
    """An extension is badly defined, or two extensions claim the same CFU function_id."""


class VerifyError(ExtensionError):
    """RTL, C model and reference disagree on one instruction of an extension, or one of them (or the
    stimulus) raised while it was being verified.

    Attributes (those that apply): ``extension``, ``op``, ``imm``, ``function_id``, ``rs1``, ``rs2``,
    ``state_before``, ``rtl``, ``c_model``, ``reference``, ``index`` (position in the verified stream)
    and ``cause`` (the exception that was raised, also ``__cause__``).
    """

    def __init__(self, message: str, **info):
        super().__init__(message)
        for key, value in info.items():
            setattr(self, key, value)


class CfuError(TirError):
    """Bad CFU composition (e.g. a function_id claimed twice) or a failed co-simulation."""
