"""Small integer helpers for writing reference semantics (two's complement on Python ints)."""

MASK32 = 0xFFFFFFFF
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def u32(x: int) -> int:
    """x modulo 2**32 (the bit pattern of a 32-bit register)."""
    return int(x) & MASK32


def sext(x: int, bits: int) -> int:
    """Sign-extend the low ``bits`` bits of x."""
    x = int(x) & ((1 << bits) - 1)
    return x - (1 << bits) if x >> (bits - 1) else x


def zext(x: int, bits: int) -> int:
    """The low ``bits`` bits of x, as a non-negative int."""
    return int(x) & ((1 << bits) - 1)


def s32(x: int) -> int:
    """x wrapped to a signed 32-bit value."""
    return sext(x, 32)


def s8(x: int) -> int:
    return sext(x, 8)


def s16(x: int) -> int:
    return sext(x, 16)


def lanes(x: int, n: int, bits: int, signed: bool) -> list[int]:
    """Split a 32-bit word into n lanes of ``bits`` bits, lane 0 = least significant."""
    f = sext if signed else zext
    return [f(int(x) >> (bits * i), bits) for i in range(n)]


def clamp(x: int, lo: int, hi: int) -> int:
    """min(max(x, lo), hi) -- the order TFLite uses (hi wins if lo > hi)."""
    return min(max(x, lo), hi)


def trunc_div(a: int, b: int) -> int:
    """C99 integer division (rounds toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q
