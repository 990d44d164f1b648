"""Errors of the model frontend (part of the TirError hierarchy)."""

from tir.errors import TirError


class FrontendError(TirError):
    """A model could not be imported, lowered or evaluated."""


class ModelFormatError(FrontendError):
    """The model file is truncated, corrupt or not of the expected format."""


class UnsupportedOperatorError(FrontendError):
    """The model uses an operator or an operator attribute the frontend does not support."""
