"""Config spaces of tunable schedule templates.

A *template* is a function of the workload's shape that builds a schedule. Inside it,
``cfg = autotune.get_config()`` is the config being instantiated. The template declares *knobs*
(``cfg.define_split``, ``define_reorder``, ``define_annotate``, ``define_tensorize``,
``define_knob``) and applies the decision of each (``cfg[name].apply(s, stage, axis)``; for a
plain knob ``cfg[name].val``)::

    @autotune.template("my_matmul", reference=numpy_reference)
    def my_matmul(M, N, K):
        ...                                       # tensor expression
        cfg = autotune.get_config()
        cfg.define_split("tile_i", C.op.axis[0], num_outputs=2)
        io, ii = cfg["tile_i"].apply(s, C, C.op.axis[0])
        return s, [A, B, C]

The template is run once with a :class:`ConfigSpace` as ``cfg`` to record the knobs (during that
run every ``cfg[name]`` is the knob's first choice), then once per measured config with a
:class:`ConfigEntity`. A config index maps to one choice per knob (mixed radix, the first knob
varies fastest), so one index gives exactly one schedule, deterministically.

The knob named ``"compiler"`` is reserved: its values (``"zig:-O2"``, ``"gcc:-O2:-fno-..."``) pick
the cross compiler of a measurement, see :func:`parse_compiler`.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from codegen_c.target import get_target
from tir.errors import ScheduleError, TirError
from tir.tensor import IterVar, Tensor

COMPILER_KNOB = "compiler"
# the compiler knob values of the default target: its Target lists them (codegen_c.rv32.RV32Target.compilers)
DEFAULT_COMPILERS = get_target("vexriscv").compilers


class AutotuneError(TirError):
    """A template, a config space or a record is malformed."""


def parse_compiler(value: str) -> tuple[str, str, tuple[str, ...]]:
    """``"gcc:-O2:-fno-schedule-insns"`` -> ``("gcc", "-O2", ("-fno-schedule-insns",))``."""
    parts = str(value).split(":")
    if not parts[0]:
        raise AutotuneError(f"bad compiler knob value {value!r} (expected 'zig:-O2' style)")
    compiler = parts[0]
    opt = parts[1] if len(parts) > 1 and parts[1] else "-O2"
    return compiler, opt, tuple(p for p in parts[2:] if p)


# --- knobs: the choices of one decision ---------------------------------------------------------

def _stage(s, t):
    if hasattr(t, "leaf_iter_vars"):
        return t
    return s[t]


def _axis_extent(axis, stage=None) -> int:
    if isinstance(axis, bool):
        raise AutotuneError(f"axis extent must be an int, got {axis!r}")
    if isinstance(axis, int):
        return axis
    if isinstance(axis, tuple) and len(axis) == 2 and hasattr(axis[0], "_extent"):
        stage, axis = axis
    if isinstance(axis, IterVar):
        if stage is not None:
            e = stage._extent(axis)
            if e is not None:
                return int(e)
        if axis.dom is not None:
            from tir.expr import Const

            ext = axis.dom.extent
            if isinstance(ext, Const):
                ext = ext.value
            if isinstance(ext, int):
                return ext
        raise AutotuneError(f"axis {axis.name!r} has no constant extent here (an axis made by a split has none "
                            "on its own): pass (stage, axis) or stage=, or an int extent")
    raise AutotuneError(f"expected an axis (IterVar), (stage, axis) or an int extent, got {axis!r}")


def _factorizations(n: int, parts: int) -> list[tuple[int, ...]]:
    """All ordered tuples of ``parts`` positive ints whose product is ``n`` (outer first)."""
    if parts == 1:
        return [(n,)]
    out = []
    for d in range(1, n + 1):
        if n % d == 0:
            for rest in _factorizations(n // d, parts - 1):
                out.append((d, *rest))
    return out


def _power2_splits(n: int, parts: int) -> list[tuple[int, ...]]:
    """Inner factors powers of two (product <= n); the outer factor is the ceiling of the rest."""
    pows = [1 << i for i in range(int(math.log2(max(n, 1))) + 1)]
    out = []
    for inner in itertools.product(pows, repeat=parts - 1):
        p = math.prod(inner)
        if p <= n:
            out.append((-(-n // p), *inner))
    return out


class Knob:
    """One decision of a template: ``choices`` (JSON-able values) and ``len()``."""

    kind = "knob"

    def __init__(self, name: str, choices: list):
        if not choices:
            raise AutotuneError(f"knob {name!r} has no choices")
        self.name = name
        self.choices = list(choices)

    def __len__(self) -> int:
        return len(self.choices)

    def entity(self, i: int):
        return OtherOptionEntity(self.choices[i])

    def index_of(self, value) -> int:
        v = _jsonish(value)
        for i, c in enumerate(self.choices):
            if _jsonish(c) == v:
                return i
        raise AutotuneError(f"knob {self.name!r}: {value!r} is not one of its choices")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} choices)"


def _jsonish(v):
    if isinstance(v, (list, tuple)):
        return [_jsonish(x) for x in v]
    return v


class SplitKnob(Knob):
    kind = "split"

    def __init__(self, name, extent, num_outputs, policy, candidate):
        if policy == "factors":
            choices = _factorizations(extent, num_outputs)
        elif policy == "power2":
            choices = _power2_splits(extent, num_outputs)
        elif policy == "candidate":
            if not candidate:
                raise AutotuneError(f"define_split {name!r}: policy 'candidate' needs candidate=[...]")
            choices = [tuple(int(x) for x in c) for c in candidate]
            for c in choices:
                if len(c) != num_outputs:
                    raise AutotuneError(f"define_split {name!r}: candidate {list(c)} does not have "
                                        f"{num_outputs} parts")
        else:
            raise AutotuneError(f"define_split {name!r}: unknown policy {policy!r} "
                                "(expected 'factors', 'power2' or 'candidate')")
        super().__init__(name, choices)
        self.extent = extent
        self.num_outputs = num_outputs

    def entity(self, i):
        return SplitEntity(self.choices[i])


class ReorderKnob(Knob):
    kind = "reorder"

    def __init__(self, name, n_axes, policy, candidate):
        if policy == "all":
            choices = list(itertools.permutations(range(n_axes)))
        elif policy == "candidate":
            if not candidate:
                raise AutotuneError(f"define_reorder {name!r}: policy 'candidate' needs candidate=[...]")
            choices = [tuple(int(x) for x in c) for c in candidate]
            for c in choices:
                if sorted(c) != list(range(n_axes)):
                    raise AutotuneError(f"define_reorder {name!r}: {list(c)} is not a permutation of "
                                        f"0..{n_axes - 1}")
        else:
            raise AutotuneError(f"define_reorder {name!r}: unknown policy {policy!r} (expected 'all' or 'candidate')")
        super().__init__(name, choices)

    def entity(self, i):
        return ReorderEntity(self.choices[i])


class AnnotateKnob(Knob):
    kind = "annotate"

    def __init__(self, name, n_axes, policy, candidate):
        if policy == "try_unroll":
            choices = list(itertools.product(("none", "unroll"), repeat=n_axes))
        elif policy == "try_unroll_vec":
            choices = list(itertools.product(("none", "unroll", "vec"), repeat=n_axes))
        elif policy == "candidate":
            choices = [tuple(c) for c in candidate or []]
        else:
            raise AutotuneError(f"define_annotate {name!r}: unknown policy {policy!r}")
        super().__init__(name, choices)

    def entity(self, i):
        return AnnotateEntity(self.choices[i])


class TensorizeKnob(Knob):
    kind = "tensorize"

    def __init__(self, name, intrinsics):
        self.objects = {None: None}
        choices = [None]
        for x in intrinsics:
            key = x if isinstance(x, str) else getattr(x, "name", None)
            if key is None:
                raise AutotuneError(f"define_tensorize {name!r}: {x!r} is neither a name nor an extension")
            if key not in self.objects:
                self.objects[key] = None if isinstance(x, str) else x
                choices.append(key)
        super().__init__(name, choices)

    def entity(self, i):
        key = self.choices[i]
        return TensorizeEntity(key, self.objects.get(key))


class OtherKnob(Knob):
    kind = "other"


# --- entities: the decision of one knob in one config --------------------------------------------

class SplitEntity(list):
    """Factors of a split, outermost first (``.size``); ``apply`` returns the new axes outer -> inner."""

    @property
    def size(self) -> list[int]:
        return list(self)

    def apply(self, s, stage, axis) -> list:
        st = _stage(s, stage)
        axes = []
        cur = axis
        for f in reversed(self[1:]):
            cur, inner = st.split(cur, factor=int(f))
            axes.insert(0, inner)
        axes.insert(0, cur)
        return axes

    def __str__(self) -> str:
        return str(list(self))


class ReorderEntity(list):
    """A permutation of the given axes (``.perm``); ``apply`` reorders and returns the new order."""

    @property
    def perm(self) -> list[int]:
        return list(self)

    def apply(self, s, stage, axes) -> list:
        st = _stage(s, stage)
        axes = list(axes)
        if len(axes) != len(self):
            raise AutotuneError(f"reorder of {len(axes)} axes with a permutation of {len(self)}")
        new = [axes[i] for i in self]
        st.reorder(*new)
        return new

    def __str__(self) -> str:
        return str(list(self))


class AnnotateEntity(list):
    """Per-axis annotation (``"none"``, ``"unroll"``, ``"vec"``); ``apply`` returns the axes."""

    @property
    def anns(self) -> list[str]:
        return list(self)

    def apply(self, s, stage, axes) -> list:
        st = _stage(s, stage)
        axes = list(axes)
        if len(axes) != len(self):
            raise AutotuneError(f"annotate of {len(axes)} axes with {len(self)} annotations")
        for a, ann in zip(axes, self):
            if ann == "unroll":
                st.unroll(a)
            elif ann == "vec":
                st.vectorize(a)
        return axes

    def __str__(self) -> str:
        return "[" + ", ".join(self) + "]"


class TensorizeEntity:
    """The intrinsic chosen (None: keep the loops); ``apply`` returns whether it tensorized."""

    def __init__(self, name, obj=None):
        self.name = name
        self._obj = obj

    @property
    def val(self):
        return self.name

    @property
    def extension(self):
        if self.name is None:
            return None
        if self._obj is not None:
            return self._obj
        import isa_ext

        return isa_ext.get(self.name)

    def apply(self, s, stage, axis) -> bool:
        if self.name is None:
            return False
        _stage(s, stage).tensorize(axis, self.extension)
        return True

    def __str__(self) -> str:
        return str(self.name)

    def __repr__(self) -> str:
        return f"TensorizeEntity({self.name!r})"


class OtherOptionEntity:
    """The value of a ``define_knob`` knob: ``.val``."""

    def __init__(self, val):
        self.val = val

    def __str__(self) -> str:
        return str(self.val)

    def __repr__(self) -> str:
        return f"OtherOptionEntity({self.val!r})"


# --- the space and its points --------------------------------------------------------------------

class _Definer:
    """The ``define_*`` methods, shared by ConfigSpace (records) and ConfigEntity (checks)."""

    def define_split(self, name: str, axis, num_outputs: int = 2, policy: str = "factors",
                     candidate=None, stage=None):
        """Split ``axis`` into ``num_outputs`` parts (outer first); choices per ``policy``."""
        if num_outputs < 1:
            raise AutotuneError(f"define_split {name!r}: num_outputs must be >= 1")
        return self._define(name, lambda: SplitKnob(name, _axis_extent(axis, stage), num_outputs,
                                                     policy, candidate))

    def define_reorder(self, name: str, axes, policy: str = "all", candidate=None):
        """Order ``axes``: every permutation (``"all"``) or the given ones (``"candidate"``)."""
        return self._define(name, lambda: ReorderKnob(name, len(list(axes)), policy, candidate))

    def define_annotate(self, name: str, axes, policy: str = "try_unroll", candidate=None):
        """Annotate each of ``axes``: ``"try_unroll"`` = unrolled or not, every combination."""
        return self._define(name, lambda: AnnotateKnob(name, len(list(axes)), policy, candidate))

    def define_tensorize(self, name: str, axis, intrinsics, added: bool = False):
        """Tensorize at ``axis`` with one of ``intrinsics`` (extensions or names), or not (None).
        ``added``: as in :meth:`define_knob` (a knob gained later; its first choice, None, is the old
        schedule)."""
        out = self._define(name, lambda: TensorizeKnob(name, list(intrinsics)))
        if added:
            self._space()._added.add(name)
        return out

    @property
    def compilers(self) -> tuple[str, ...]:
        """The compiler knob's values for the task's target (its ``compilers``; the vexriscv ones for a
        target that declares none, or outside a task): what a template passes to ``define_knob("compiler")``."""
        target = getattr(self._space(), "target", None)
        return tuple(getattr(target, "compilers", ()) or DEFAULT_COMPILERS)

    def define_knob(self, name: str, choices, added: bool = False):
        """A plain choice among ``choices`` (JSON-able values); ``cfg[name].val``.

        ``added``: a knob a template gained after records of its space were written. Its first choice
        must be the template's behaviour before it had the knob, and it must be defined after every
        older knob (the first knob varies fastest, so a config of the old space keeps its index with
        the new knobs at their first choice): a config (record) that lacks it then loads with that
        first choice and names the schedule it named before."""
        if name == COMPILER_KNOB:
            for c in choices:
                parse_compiler(c)
        self._define(name, lambda: OtherKnob(name, list(choices)))
        if added:
            self._space()._added.add(name)


class ConfigSpace(_Definer):
    """The knobs of a template at one shape: ``len``, ``get``, ``decompose``/``compose``, ``sample``."""

    def __init__(self):
        self.knobs: OrderedDict[str, Knob] = OrderedDict()
        self._defaults: dict = {}
        self._added: set[str] = set()  # knobs an older config may lack (define_knob(added=True))
        self.template_name: str | None = None
        self.target = None  # the task's Target (set by define_space)

    def _space(self) -> ConfigSpace:
        return self

    def _define(self, name, make):
        if name in self.knobs:
            raise AutotuneError(f"knob {name!r} is defined twice")
        knob = make()
        self.knobs[name] = knob
        self._defaults[name] = knob.entity(0)

    def __getitem__(self, name):
        """While the space is defined: the knob's first choice (so the template runs through)."""
        try:
            return self._defaults[name]
        except KeyError:
            raise AutotuneError(f"knob {name!r} is not defined") from None

    def __len__(self) -> int:
        return math.prod(len(k) for k in self.knobs.values())

    @property
    def added_knobs(self) -> frozenset[str]:
        """The knobs a config written before they existed may lack (``define_knob(..., added=True)``)."""
        return frozenset(self._added)

    @property
    def radix(self) -> list[int]:
        return [len(k) for k in self.knobs.values()]

    def decompose(self, index: int) -> list[int]:
        """Per-knob choice indices of a config index (mixed radix, first knob fastest)."""
        index = int(index)
        if not 0 <= index < len(self):
            raise AutotuneError(f"config index {index} out of range [0, {len(self)})")
        out = []
        for n in self.radix:
            out.append(index % n)
            index //= n
        return out

    def compose(self, choices) -> int:
        """Inverse of :meth:`decompose`."""
        choices = [int(c) for c in choices]
        radix = self.radix
        if len(choices) != len(radix):
            raise AutotuneError(f"expected {len(radix)} choice indices, got {len(choices)}")
        index = 0
        for c, n in zip(reversed(choices), reversed(radix)):
            if not 0 <= c < n:
                raise AutotuneError(f"choice index {c} out of range [0, {n})")
            index = index * n + c
        return index

    def neighbours(self, index: int, skip=frozenset()) -> list[tuple[int, int, int]]:
        """The configs one knob away from ``index``: ``(knob position, choice index, config index)``,
        knobs in order, each knob's other choices in order (knob positions in ``skip`` kept)."""
        ch = self.decompose(index)
        return [(d, v, self.compose(ch[:d] + [v] + ch[d + 1:]))
                for d, n in enumerate(self.radix) if d not in skip for v in range(n) if v != ch[d]]

    def get(self, index: int) -> ConfigEntity:
        index = int(index)
        choices = self.decompose(index)
        entities = OrderedDict((name, k.entity(c)) for (name, k), c in zip(self.knobs.items(), choices))
        return ConfigEntity(self, index, entities)

    def __iter__(self) -> Iterator[ConfigEntity]:
        for i in range(len(self)):
            yield self.get(i)

    def sample(self, rng, n: int, exclude=frozenset()) -> list[int]:
        """Up to ``n`` distinct indices not in ``exclude`` (``rng``: numpy Generator, random.Random or seed)."""
        import numpy as np

        if not isinstance(rng, np.random.Generator):
            if hasattr(rng, "getrandbits"):
                rng = np.random.default_rng(rng.getrandbits(63))
            else:
                rng = np.random.default_rng(rng)
        total = len(self)
        exclude = set(int(i) for i in exclude)
        avail = total - len([i for i in exclude if 0 <= i < total])
        n = max(0, min(int(n), avail))
        if n == 0:
            return []
        if total <= 1 << 20 and n * 4 >= avail:
            pool = np.setdiff1d(np.arange(total, dtype=np.int64), np.fromiter(exclude, np.int64, len(exclude)))
            return [int(i) for i in rng.choice(pool, size=n, replace=False)]
        out: list[int] = []
        seen = set(exclude)
        while len(out) < n:
            i = int(rng.integers(0, total))
            if i not in seen:
                seen.add(i)
                out.append(i)
        return out

    def index_of(self, values: dict) -> int:
        """The index of a config given as {knob name: value} (values as in ``to_json``). A knob the
        template gained later (``define_knob(..., added=True)``) may be missing: its first choice."""
        missing = set(self.knobs) - set(values) - self._added
        if missing:
            raise AutotuneError(f"config lacks knob(s) {sorted(missing)}")
        extra = set(values) - set(self.knobs)
        if extra:
            raise AutotuneError(f"config has unknown knob(s) {sorted(extra)}")
        return self.compose([k.index_of(values[name]) if name in values else 0 for name, k in self.knobs.items()])

    def from_json(self, data: dict, reindex: bool = False) -> ConfigEntity:
        """The ConfigEntity of ``ConfigEntity.to_json()`` output (checked against the knob values).

        ``reindex`` (how records are read): the knob values are the config, and a stored ``index`` that
        disagrees with them is the number the config had in a space that has since gained choices (e.g.
        a tile knob's partial tiles), so the config is the values' point of this space. Without it a
        disagreeing index raises AutotuneError; so do values this space does not offer."""
        values = data.get("knobs", data)
        index = self.index_of(values)
        if not reindex and "index" in data and int(data["index"]) != index:
            raise AutotuneError(f"config index {data['index']} does not match its knob values (index {index}): "
                                "the template's space changed")
        return self.get(index)

    def __repr__(self) -> str:
        knobs = ", ".join(f"{n}:{len(k)}" for n, k in self.knobs.items())
        return f"ConfigSpace({len(self)} configs; {knobs})"


class ConfigEntity(_Definer):
    """One point of a space: ``.index``, ``cfg[name]`` (the knob's entity), ``to_json``, ``str``."""

    def __init__(self, space: ConfigSpace, index: int, entities):
        self.space = space
        self.index = int(index)
        self._entities = entities

    def _space(self) -> ConfigSpace:
        return self.space

    def _define(self, name, make):
        if name not in self._entities:
            raise AutotuneError(f"knob {name!r} is not part of the config space (did the template change?)")

    def __getitem__(self, name):
        try:
            return self._entities[name]
        except KeyError:
            raise AutotuneError(f"knob {name!r} is not defined") from None

    def __contains__(self, name) -> bool:
        return name in self._entities

    def keys(self):
        return list(self._entities)

    def get_flatten_feature(self):
        return self.space.decompose(self.index)

    def value(self, name):
        """The JSON value of a knob's decision."""
        e = self._entities[name]
        if isinstance(e, list):
            return list(e)
        if isinstance(e, TensorizeEntity):
            return e.name
        return e.val

    def to_json(self) -> dict:
        return {"index": self.index, "knobs": {name: self.value(name) for name in self._entities}}

    @staticmethod
    def from_json(data: dict, space: ConfigSpace) -> ConfigEntity:
        return space.from_json(data)

    @property
    def compiler(self) -> str | None:
        return self.value(COMPILER_KNOB) if COMPILER_KNOB in self._entities else None

    def __str__(self) -> str:
        parts = []
        for name, e in self._entities.items():
            parts.append(f"{name}={e}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"ConfigEntity({self.index}: {self})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ConfigEntity) and other.space is self.space and other.index == self.index

    def __hash__(self) -> int:
        return hash(self.index)


# --- templates -----------------------------------------------------------------------------------

class Template:
    def __init__(self, name: str, func: Callable, reference: Callable | None, make_inputs: Callable | None):
        self.name = name
        self.func = func
        self.reference = reference
        self.make_inputs = make_inputs
        self.module = getattr(func, "__module__", None)

    def __call__(self, *args):
        return self.func(*args)

    def __repr__(self) -> str:
        return f"Template({self.name!r} from {self.module})"


TEMPLATES: dict[str, Template] = {}
_local = threading.local()


def template(name: str, reference: Callable | None = None, make_inputs: Callable | None = None):
    """Register a schedule template under ``name``.

    ``reference(*input_arrays)`` returns the expected output array (a tuple/list of arrays when the
    kernel has several outputs), like a workload's numpy ``ref``; declared with a keyword
    parameter ``args`` it also receives the template's args. ``make_inputs(args, rng)``
    optionally returns the input arrays (default: random values of each input's dtype). Without a
    ``reference`` the outputs are checked against ``tir.evaluate`` of the template's tensors. A
    template may be defined anywhere (``__main__``, a script without a main guard, a notebook
    cell, a closure): the tuning process instantiates and lowers it, measurement workers only
    compile and run what it emitted.
    """

    def deco(func):
        t = Template(name, func, reference, make_inputs)
        old = TEMPLATES.get(name)
        if old is not None and (old.module, old.func.__qualname__) != (t.module, func.__qualname__):
            raise AutotuneError(f"template {name!r} is already registered by {old.module}")
        TEMPLATES[name] = t
        func.template_name = name
        return func

    return deco


def get_template(name: str) -> Template:
    if name not in TEMPLATES:
        from . import qnn_templates, templates  # noqa: F401 - the built-in templates

    if name not in TEMPLATES:
        raise AutotuneError(f"no template named {name!r}; registered: {', '.join(sorted(TEMPLATES))}")
    return TEMPLATES[name]


@contextmanager
def _config_context(cfg):
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(cfg)
    try:
        yield cfg
    finally:
        stack.pop()


def get_config():
    """The config being instantiated (a ConfigSpace while the space is being defined)."""
    stack = getattr(_local, "stack", None)
    if not stack:
        raise AutotuneError("autotune.get_config() called outside a template instantiation")
    return stack[-1]


def _check_result(name, out):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise AutotuneError(f"template {name!r} must return (schedule, args)")
    s, args = out
    if not all(isinstance(a, Tensor) for a in args):
        raise AutotuneError(f"template {name!r}: args must be tensors")
    return s, list(args)


def define_space(tmpl: Template, args: tuple, target=None) -> ConfigSpace:
    space = ConfigSpace()
    space.template_name = tmpl.name
    space.target = target
    with _config_context(space):
        try:
            _check_result(tmpl.name, tmpl.func(*args))
        except ScheduleError as e:
            # the knobs defined after the failing primitive would be missing from the space
            raise AutotuneError(f"template {tmpl.name!r}{tuple(args)}: the first choice of every knob must "
                                f"give a legal schedule (it runs while the space is defined): {e}") from e
    return space


def instantiate(tmpl: Template, args: tuple, cfg: ConfigEntity):
    with _config_context(cfg):
        return _check_result(tmpl.name, tmpl.func(*args))


__all__ = [
    "AnnotateEntity", "AutotuneError", "COMPILER_KNOB", "ConfigEntity", "ConfigSpace", "DEFAULT_COMPILERS",
    "Knob", "OtherOptionEntity", "ReorderEntity", "SplitEntity", "TEMPLATES", "Template", "TensorizeEntity",
    "get_config", "get_template", "parse_compiler", "template",
]
