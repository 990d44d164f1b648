"""The one exception hierarchy of isaforge. Every package raises a subclass of TirError."""


class TirError(Exception):
    """Root of every error isaforge raises on bad input or a failed build/run."""


class DTypeError(TirError):
    """Operands of an expression disagree in dtype, or a dtype is unknown."""


class LoweringError(TirError):
    """A schedule could not be lowered to the loop IR."""


class CodegenError(TirError):
    """The C code generator or the C compiler failed."""


class ArgumentError(TirError):
    """Arrays passed to a built module do not match its signature."""


class ScheduleError(TirError):
    """An illegal schedule primitive; the message names the stage, the axis and the reason.

    Re-exported as ``schedules.ScheduleError``.
    """
