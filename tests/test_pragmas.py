"""Pragmas are a declared set: known keys act or are recorded, an unknown key or a bad value is a
ScheduleError naming the key (and listing the known ones), ``user.`` keys are recorded verbatim."""

import pytest

import codegen_c
import schedules
import tir
from schedules.schedule import PRAGMAS, USER_PRAGMA_PREFIX
from tir import ScheduleError


def _stage():
    A = tir.placeholder((16,), "int32", "A")
    T = tir.compute((16,), lambda i: A[i] + 1, name="T")
    s = schedules.create_schedule(T)
    xo, xi = s[T].split(T.op.axis[0], factor=4)
    return s, s[T], xo, xi, [A, T]


def test_unknown_key_names_it_and_lists_known_keys():
    _, st, xo, _, _ = _stage()
    with pytest.raises(ScheduleError) as e:
        st.pragma(xo, "unrol", 4)
    msg = str(e.value)
    assert "'unrol'" in msg and "'T'" in msg and "'i.outer'" in msg
    for key in PRAGMAS:
        assert key in msg
    assert USER_PRAGMA_PREFIX in msg
    assert not st.iter_var_attrs.get(xo) or not st.iter_var_attrs[xo].pragmas


@pytest.mark.parametrize("key, value", [("cfu_words", -1), ("cfu_words", "4"), ("cfu_words", True),
                                        ("cfu_asm", 2), ("auto_unroll_max_step", 1.5), ("unroll_explicit", 3)])
def test_bad_value_names_key_and_type(key, value):
    _, st, xo, _, _ = _stage()
    with pytest.raises(ScheduleError) as e:
        st.pragma(xo, key, value)
    assert repr(key) in str(e.value) and PRAGMAS[key].value in str(e.value)


def test_non_string_key():
    _, st, xo, _, _ = _stage()
    with pytest.raises(ScheduleError, match="must be a string"):
        st.pragma(xo, 3, 1)


def test_bare_user_prefix_is_unknown():
    _, st, xo, _, _ = _stage()
    with pytest.raises(ScheduleError, match="unknown pragma key 'user.'"):
        st.pragma(xo, "user.")


@pytest.mark.parametrize("key, value", [("cfu_words", 4), ("cfu_asm", 1), ("auto_unroll_max_step", 16),
                                        ("unroll_explicit", 0), ("user.note", "tile row")])
def test_recorded_keys_are_printed_in_ir_and_c(key, value):
    s, st, xo, _, args = _stage()
    st.pragma(xo, key, value)
    assert st.iter_var_attrs[xo].pragmas == [(key, value)]
    func = tir.lower(s, args)
    assert f"# pragma {key}={value}" in str(func)
    assert f"/* pragma {key}={value} */" in codegen_c.emit(func, "host")


@pytest.mark.parametrize("key", ["unroll", "vectorize", "parallel"])
def test_primitive_keys_act_as_the_primitive(key):
    _, st, _, xi, _ = _stage()
    st.pragma(xi, key)
    assert st.iter_var_attrs[xi].kind == key
    assert st.iter_var_attrs[xi].pragmas == []


def test_every_known_key_is_documented():
    for p in PRAGMAS.values():
        assert p.doc and p.value
