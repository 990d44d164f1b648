"""tir.q_multiply_shift / tir.requantize (TFLite's int8 output stage, exact) and the requant_i8 intrinsic.

Three independent definitions must agree bit for bit: the numpy one (tir.evaluate), the C helper the
code generator emits (host and rv32, where the 64-bit product must not need a library call), and
isa_ext.library.requantize, the reference of the requant_i8 unit (itself verified against its RTL).
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_c
import isa_ext
import schedules
import simulator
import tir
from isa_ext.library import requantize as unit_reference
from tir.errors import DTypeError, ScheduleError
from tir.evaluate import placeholders

EDGE_X = [-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 2, -2, 3, -3, 1 << 30, -(1 << 30), 12345, -12345]
PARAMS = [  # (multiplier, shift, zero point, qmin, qmax)
    (1 << 30, 0, 0, -128, 127), (1 << 30, -1, 3, -128, 127), (-(2 ** 31), 0, 0, -128, 127),
    (2 ** 31 - 1, 31, -128, -100, 100), (0x5A5A5A5A, -31, 127, -128, 127), (1234567890, -7, -5, -100, 90),
    (1 << 30, 5, 0, 5, -5), (1518500250, -9, 12, -128, 127), (0, 0, -3, -128, 127),
]


def _xs(rng, n=400):
    return np.concatenate([rng.integers(-(2 ** 31), 2 ** 31, n), EDGE_X,
                           rng.integers(-(1 << 16), 1 << 16, n // 4)]).astype(np.int32)


def _stage(n, p, out="int8"):
    X = tir.placeholder((n,), "int32", name="X")
    Q = tir.compute((n,), lambda i: tir.requantize(X[i], *p, dtype=out), name="Q")
    return X, Q


@pytest.mark.parametrize("p", PARAMS)
def test_evaluate_and_host_c_equal_the_unit_reference(p, rng):
    x = _xs(rng)
    X, Q = _stage(len(x), p)
    want = np.array([unit_reference(int(v), *p) for v in x], np.int8)
    np.testing.assert_array_equal(tir.evaluate(Q, [x]), want)
    q = np.zeros(len(x), np.int8)
    codegen_c.build(tir.lower(schedules.create_schedule(Q), [X, Q]), "host")(x, q)
    np.testing.assert_array_equal(q, want)


def test_q_multiply_shift_alone_is_int32_and_checks_dtypes():
    a = tir.placeholder((4,), "int8", name="a")
    with pytest.raises(DTypeError, match="q_multiply_shift: x must be int32, got int8"):
        tir.q_multiply_shift(a[0], 1 << 30, 0)
    x = tir.placeholder((3,), "int32", name="x")
    y = tir.compute((3,), lambda i: tir.q_multiply_shift(x[i], 1 << 30, -1), name="y")
    # 5 / 4 rounds twice: SRDHM 2.5 -> 3, then RoundingDivideByPOT 1.5 -> 2
    np.testing.assert_array_equal(tir.evaluate(y, [np.array([5, -5, 7], np.int32)]), [2, -1, 2])


@pytest.mark.parametrize("tensorize", [False, True])
def test_on_vexriscv_software_and_unit(tensorize, rng):
    p = (1518500250, -9, 12, -128, 127)
    x = _xs(rng, 60)
    X, Q = _stage(len(x), p)
    s = schedules.create_schedule(Q)
    if tensorize:
        s[Q].tensorize(Q.op.axis[0], isa_ext.get("requant_i8"))
    func = tir.lower(s, [X, Q])
    assert bool(func.extensions) == tensorize
    q = np.zeros(len(x), np.int8)
    simulator.run(func, [x, q], "vexriscv")
    np.testing.assert_array_equal(q, [unit_reference(int(v), *p) for v in x])


def test_requant_intrinsic_in_the_verilated_rtl_per_channel_multiplier(rng):
    """Multiplier and zero point per output channel (from tensors): the channel loop outside the nest."""
    C, N = 3, 20
    A = tir.placeholder((C, N), "int32", name="A")
    M = tir.placeholder((C,), "int32", name="M")
    Z = tir.placeholder((C,), "int32", name="Z")
    Q = tir.compute((C, N), lambda c, i: tir.requantize(A[c, i], M[c], -8, Z[c]), name="Q")
    s = schedules.create_schedule(Q)
    s[Q].tensorize(Q.op.axis[1], isa_ext.get("requant_i8"))
    func = tir.lower(s, [A, M, Z, Q])
    a = rng.integers(-(2 ** 31), 2 ** 31, (C, N)).astype(np.int32)
    m = rng.integers(1 << 30, 2 ** 31, C).astype(np.int32)
    z = np.array([-3, 0, 17], np.int32)
    want = tir.evaluate(Q, [a, m, z])
    for target in ("host", "verilator"):
        q = np.zeros((C, N), np.int8)
        codegen_c.build(func, target)(a, m, z, q)
        np.testing.assert_array_equal(q, want)


def test_requant_intrinsic_refuses_what_the_unit_cannot_hold():
    A = tir.placeholder((3, 8), "int32", name="A")
    S = tir.placeholder((3,), "int32", name="S")
    M = tir.placeholder((3, 8), "int32", name="M")
    rq = isa_ext.get("requant_i8")
    cases = [
        (lambda c, i: tir.requantize(A[c, i], 1 << 30, S[c]), "the shift must be a constant in [-128, 127]"),
        (lambda c, i: tir.requantize(A[c, i], 1 << 30, 0, 0, -1000, 127), "the qmin must be a constant"),
        (lambda c, i: tir.requantize(A[c, i], M[c, i], 0), "the mult (M[c, i]) changes inside the nest"),
    ]
    for body, needle in cases:
        Q = tir.compute((3, 8), body, name="Q")
        s = schedules.create_schedule(Q)
        s[Q].tensorize(Q.op.axis[1], rq)
        args = [A] + [t for t in (S, M) if t.op in [x.op for x in placeholders(Q)]] + [Q]
        with pytest.raises(ScheduleError, match="stage 'Q' axis 'i': tensorize requant_i8: " + needle.replace(
                "[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")):
            tir.lower(s, args)


def test_requant_intrinsic_does_not_match_other_arithmetic():
    A = tir.placeholder((8,), "int32", name="A")
    Q = tir.compute((8,), lambda i: tir.min(tir.max(A[i], -128), 127).astype("int8"), name="Q")
    s = schedules.create_schedule(Q)
    with pytest.raises(ScheduleError, match="stage 'Q' axis 'i': tensorize requant_i8: .*q_multiply_shift"):
        s[Q].tensorize(Q.op.axis[0], isa_ext.get("requant_i8"))
