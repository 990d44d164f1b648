"""The operator registry: one ``Op`` entry per operator, and the ``Workload`` an entry builds.

An ``Op`` holds everything about one operator: its name and one-line doc, its typed attributes with
defaults, the TE builder, the numpy reference and the MAC count. Calling it with attributes
(positionally in declaration order, or by name) checks them and returns a ``Workload``; every caller
(hand schedules, autotune templates, the CLI, the demo, the benchmarks) takes operators from here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import OpError

REQUIRED = object()  # the default of an attribute that must be given


@dataclass
class Workload:
    """One instance of an operator: its TE graph and the numpy reference of its output.

    * ``inputs``  the placeholder tensors, in kernel-argument order;
    * ``output``  the output tensor (the last kernel argument);
    * ``ref``     ``ref(*input_arrays) -> expected output array``;
    * ``stages``  named tensors of the pipeline a schedule may want to touch (``"pad"``, ``"bias"``, ...);
    * ``params``  the operator's attributes, defaults filled in;
    * ``op``      the registry entry that built it (None for a workload assembled by hand).

    ``args`` is ``inputs + [output]``, ready for ``tir.lower(s, wl.args)``.
    """

    name: str
    inputs: list
    output: object
    ref: Callable
    stages: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    op: Op | None = None

    @property
    def args(self) -> list:
        return list(self.inputs) + [self.output]

    def __getitem__(self, key):
        return self.stages[key]


@dataclass(frozen=True)
class Attr:
    """A typed operator attribute. ``kind`` is int, bool, str or tuple; ``choices`` limits a str."""

    name: str
    kind: type
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple = ()
    type_name: str = ""  # shown instead of the choices (e.g. "dtype")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, op: str, value):
        """The value converted to ``kind`` (a list becomes a tuple), or an OpError naming op and attribute."""
        if value is None and self.default is None:
            return None
        where = f"operator {op!r}: attribute {self.name!r}"
        if self.kind is bool:
            if not isinstance(value, bool | int) or value not in (0, 1):
                raise OpError(f"{where} must be a bool, got {value!r}")
            return bool(value)
        if self.kind is int:
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise OpError(f"{where} must be an int, got {value!r}")
            return int(value)
        if self.kind is tuple:
            if not isinstance(value, tuple | list) or not all(hasattr(v, "__index__") for v in value):
                raise OpError(f"{where} must be a tuple of ints, got {value!r}")
            return tuple(int(v) for v in value)
        if not isinstance(value, str):
            raise OpError(f"{where} must be a string, got {value!r}")
        if self.choices and value not in self.choices:
            raise OpError(f"{where} is {value!r}; expected one of {', '.join(self.choices)}")
        return value

    def describe(self) -> str:
        """``name: type = default`` for tables and help."""
        t = self.type_name or ("|".join(self.choices) if self.choices else self.kind.__name__)
        return f"{self.name}:{t}" if self.required else f"{self.name}:{t}={self.default!r}"


@dataclass(frozen=True, repr=False)
class Op:
    """One operator of the library.

    * ``build(**attrs) -> Workload``: the TE graph (``ref`` and ``params`` are filled in by ``__call__``);
    * ``reference(*arrays, **attrs)``: numpy, exact under the IR's semantics (integers wrap);
    * ``count_macs(**attrs)``: multiply-accumulates of one run (0 for operators without products);
    * ``normalize(attrs) -> attrs``: derived defaults and range checks (raises OpError);
    * ``family``: what schedules dispatch on (``"matmul"`` for both matmul forms, ``"conv2d"`` for
      both layouts, ...); ``examples``: small attribute sets the tests run every operator at;
      ``cli_default``: typical required attributes for the command line.
    """

    name: str
    doc: str
    attrs: tuple[Attr, ...]
    build: Callable[..., Workload]
    reference_fn: Callable[..., Any]
    count_macs: Callable[..., int]
    family: str = ""
    normalize: Callable[[dict], dict] | None = None
    aliases: tuple[str, ...] = ()
    examples: tuple[dict, ...] = ()
    cli_default: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Op({self.name!r}: {self.signature()})"

    @property
    def default_attrs(self) -> dict:
        """Typical required attributes (what the CLI uses without ``--shape``): ``cli_default``, else
        the first example's."""
        src = self.cli_default or (self.examples[0] if self.examples else {})
        return {k: src[k] for k in self.shape_attrs if k in src}

    @property
    def shape_attrs(self) -> tuple[str, ...]:
        """The required attributes, in order: what a CLI ``--shape`` gives."""
        return tuple(a.name for a in self.attrs if a.required)

    def resolve(self, *args, **kwargs) -> dict:
        """All attributes, checked, from positional values (in declaration order) and keywords."""
        names = [a.name for a in self.attrs]
        if len(args) > len(names):
            raise OpError(f"operator {self.name!r}: {len(args)} positional attributes given, it has "
                          f"{len(names)} ({', '.join(names)})")
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise OpError(f"operator {self.name!r} has no attribute {k!r}; attributes: {', '.join(names)}")
            if k in given:
                raise OpError(f"operator {self.name!r}: attribute {k!r} given twice")
            given[k] = v
        out = {}
        for a in self.attrs:
            if a.name in given:
                out[a.name] = a.check(self.name, given[a.name])
            elif a.required:
                raise OpError(f"operator {self.name!r}: attribute {a.name!r} is required "
                              f"({', '.join(self.shape_attrs)} are)")
            else:
                out[a.name] = a.default
        return self.normalize(out) if self.normalize else out

    def __call__(self, *args, **kwargs) -> Workload:
        attrs = self.resolve(*args, **kwargs)
        wl = self.build(**attrs)
        wl.params = dict(attrs)
        wl.op = self
        wl.ref = functools.partial(self.reference_fn, **attrs)
        return wl

    def reference(self, *arrays, **attrs):
        """The numpy reference at these attributes (defaults filled in)."""
        return self.reference_fn(*arrays, **self.resolve(**attrs))

    def macs(self, *args, **attrs) -> int:
        """Multiply-accumulates of one run at these attributes."""
        return int(self.count_macs(**self.resolve(*args, **attrs)))

    def signature(self) -> str:
        return ", ".join(a.describe() for a in self.attrs)


OPS: dict[str, Op] = {}
_ALIASES: dict[str, str] = {}
VARIANTS: dict[str, tuple[str, dict]] = {}  # name -> (operator, the attributes it fixes)


def _taken(n: str) -> bool:
    return n in OPS or n in _ALIASES or n in VARIANTS


def register(op: Op) -> Op:
    """Add an operator (its name and aliases must be new)."""
    for n in (op.name, *op.aliases):
        if _taken(n):
            raise OpError(f"operator name {n!r} is already registered")
    OPS[op.name] = op
    for a in op.aliases:
        _ALIASES[a] = op.name
    return op


def register_variant(name: str, op_name: str, **fixed) -> None:
    """A name for an operator with some attributes fixed (``dense_bias_relu`` = dense, bias and relu)."""
    if _taken(name):
        raise OpError(f"operator name {name!r} is already registered")
    op = get(op_name)
    unknown = set(fixed) - {a.name for a in op.attrs}
    if unknown:
        raise OpError(f"variant {name!r}: operator {op_name!r} has no attribute(s) {', '.join(sorted(unknown))}")
    VARIANTS[name] = (op.name, dict(fixed))


def get(name: str) -> Op:
    """The operator named ``name`` (or one of its aliases). A variant name is refused: ``lookup`` gives
    its operator together with the attributes it fixes."""
    if name in VARIANTS:
        op_name, fixed = VARIANTS[name]
        raise OpError(f"{name!r} is a variant of operator {op_name!r} "
                      f"({', '.join(f'{k}={v!r}' for k, v in fixed.items())}): use ops.lookup({name!r})")
    key = _ALIASES.get(name, name)
    if key not in OPS:
        raise OpError(f"no operator named {name!r}; operators: {', '.join(sorted(OPS))}")
    return OPS[key]


def lookup(name: str) -> tuple[Op, dict]:
    """(operator, fixed attributes) of an operator name, alias or variant name."""
    if name in VARIANTS:
        op_name, fixed = VARIANTS[name]
        return OPS[op_name], dict(fixed)
    return get(name), {}


def all_names() -> list[str]:
    """Every name ``lookup`` accepts: operators, aliases and variants."""
    return sorted([*OPS, *_ALIASES, *VARIANTS])


def of(wl: Workload) -> Op | None:
    """The registry entry of a workload: ``wl.op``, else the entry named like it (None if there is none)."""
    if wl.op is not None:
        return wl.op
    key = _ALIASES.get(wl.name, wl.name)
    return OPS.get(key)


def names() -> list[str]:
    return sorted(OPS)


def aliases() -> dict[str, str]:
    """alias -> operator name."""
    return dict(_ALIASES)


def table(variants: bool = True) -> list[tuple[str, str, str]]:
    """(name, attributes, doc) of every operator by name, then of every variant (what ``isaforge ops`` prints)."""
    rows = [(op.name, op.signature(), op.doc + (f" (aliases: {', '.join(op.aliases)})" if op.aliases else ""))
            for op in (OPS[n] for n in sorted(OPS))]
    if variants:
        for n in sorted(VARIANTS):
            op_name, fixed = VARIANTS[n]
            rows.append((n, f"{op_name} with " + ", ".join(f"{k}={v!r}" for k, v in fixed.items()), OPS[op_name].doc))
    return rows


__all__ = ["OPS", "REQUIRED", "VARIANTS", "Attr", "Op", "Workload", "aliases", "all_names", "get", "lookup", "names",
           "of", "register", "register_variant", "table"]
