"""The dtypes isaforge knows, with their C and numpy spellings."""

import numpy as np

from .errors import DTypeError

_INFO = {
    # name: (C type, bits, signed, is_float)
    "bool": ("uint8_t", 1, False, False),  # numpy bool: one byte holding 0 or 1
    "int8": ("int8_t", 8, True, False),
    "uint8": ("uint8_t", 8, False, False),
    "int16": ("int16_t", 16, True, False),
    "uint16": ("uint16_t", 16, False, False),
    "int32": ("int32_t", 32, True, False),
    "uint32": ("uint32_t", 32, False, False),
    "int64": ("int64_t", 64, True, False),
    "uint64": ("uint64_t", 64, False, False),
    "float32": ("float", 32, True, True),
}

DTYPES = tuple(_INFO)


def check(dtype: str) -> str:
    """Return dtype if known, else raise DTypeError naming it."""
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        dtype = np.dtype(dtype).name
    if dtype not in _INFO:
        raise DTypeError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return dtype


def c_type(dtype: str) -> str:
    return _INFO[dtype][0]


def bits(dtype: str) -> int:
    return _INFO[dtype][1]


def is_float(dtype: str) -> bool:
    return _INFO[dtype][3]


def is_int(dtype: str) -> bool:
    return not _INFO[dtype][3] and dtype != "bool"


def is_signed(dtype: str) -> bool:
    return _INFO[dtype][2]


def unsigned_of(dtype: str) -> str:
    """The unsigned integer dtype of the same width (``int16`` -> ``uint16``)."""
    return dtype if dtype.startswith("u") else "u" + dtype


def numpy_dtype(dtype: str) -> np.dtype:
    return np.dtype("bool" if dtype == "bool" else dtype)


def _range(dtype: str) -> tuple[float | int, float | int]:
    if is_float(dtype):
        return (float(np.finfo(np.float32).min), float(np.finfo(np.float32).max))
    if dtype == "bool":
        return (0, 1)
    info = np.iinfo(numpy_dtype(dtype))
    return (int(info.min), int(info.max))


# computed once: the simplifier asks for these on every node
_RANGES = {d: _range(d) for d in _INFO}


def min_value(dtype: str) -> float | int:
    return _RANGES[dtype][0]


def max_value(dtype: str) -> float | int:
    return _RANGES[dtype][1]


def wrap(value: int, dtype: str) -> int:
    """Wrap a Python int into the range of an integer dtype (two's complement)."""
    lo, hi = _RANGES[dtype]
    if lo <= value <= hi:
        return value
    b = bits(dtype)
    value &= (1 << b) - 1
    if is_signed(dtype) and value >= 1 << (b - 1):
        value -= 1 << b
    return value


def fits(value: int, dtype: str) -> bool:
    """Whether the integer ``value`` is representable in the integer (or bool) dtype without wrapping."""
    lo, hi = _RANGES[dtype]
    return lo <= value <= hi


def float32_round(value: float) -> float:
    """``value`` rounded to the nearest float32 (inf when it overflows float32), as a Python float."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))
