"""Targets: one object per machine isaforge emits C for, asked instead of comparing target names.

A :class:`Target` states what its machine can do (capability fields: word size, threads, the C flavour
of the extensions' intrinsics, alignment of packed words, whether it can run an extension), which
compilers and flags build for it (and which of them the autotuner may choose), and how codegen_c emits
and builds for it. How a kernel is *run and measured* is the simulator's business: ``simulator``
registers a runner per Target class (``simulator.run.register_runner``).

The built-in targets are registered by name when :mod:`codegen_c` is imported:

* ``"host"`` (:class:`codegen_c.host.HostTarget`): the C models of the intrinsics, a host shared library;
* ``"verilator"`` (:class:`codegen_c.host.VerilatorTarget`): host C whose intrinsic calls run the verilated RTL;
* ``"vexriscv"``, alias ``"rv32im"`` (:class:`codegen_c.rv32.VexRiscvTarget`): rv32im with the extensions
  as custom instructions on the CFU, simulated on the VexRiscv SoC. Both names give the same object.

A user target is a subclass (say an rv32 target built with other compiler flags) registered with
:func:`register_target`; every function that takes a target name also takes a Target object.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tir.errors import CodegenError

if TYPE_CHECKING:
    from tir.stmt import PrimFunc


class UnknownTargetError(CodegenError):
    """A target name that no registered :class:`Target` carries (the message lists the known ones)."""


class Target:
    """What one machine can do, how to emit C and how to build for it. Configure a subclass by its
    class attributes; instances carry no state, so one instance per target is registered."""

    #: the name records, task keys and results use
    name: str = ""
    #: other names :func:`get_target` resolves to this same object
    aliases: tuple[str, ...] = ()
    #: bits of the machine's general registers (and pointers)
    word_bits: int = 64
    #: whether loops marked ``parallel`` can run on threads (OpenMP)
    has_threads: bool = False
    #: which C an extension gives this target (``isa_ext.Extension.c_source``): "host", "rv32im" or "verilator"
    intrinsic_abi: str = "host"
    #: byte alignment of a buffer the kernel reads as packed 32-bit words (an aligned word load)
    word_align: int = 4
    #: whether :meth:`build` gives a Module callable in this process
    runs_on_host: bool = False
    #: values of the autotuner's ``compiler`` knob that make sense for this target (empty: no choice)
    compilers: tuple[str, ...] = ()
    #: the emitter class (a codegen_c.emit.CEmitter subclass); None: the generic emitter
    emitter_class: type | None = None

    def timing_params(self) -> dict:
        """What determines the cycles this target's runs are measured in, as plain JSON values (the
        parameters of its cycle model); empty for a target without one (host targets time seconds)."""
        return {}

    def timing_key(self) -> str:
        """A short fingerprint of :meth:`timing_params` (``""`` when empty), the same in every process:
        records store it so that a cost measured under another timing of the target is not taken for
        one of today's (``schedules.autotune.records``)."""
        params = self.timing_params()
        if not params:
            return ""
        from toolchain.cache import content_hash

        # sorted keys and fixed separators: the same parameters give the same text everywhere
        return content_hash(json.dumps(params, sort_keys=True, separators=(",", ":")))[:12]

    def describe_timing(self) -> str:
        """:meth:`timing_params` for a message: ``wait_states=1, l2=None``."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.timing_params().items())) or "no cycle model"

    def supports_extension(self, ext) -> bool:
        """Whether a kernel using the ISA extension ``ext`` can run on this target."""
        return True

    def check(self, func: PrimFunc) -> None:
        """Raise CodegenError when ``func`` uses an extension this target cannot run."""
        for ext in func.extensions:
            if not self.supports_extension(ext):
                raise CodegenError(f"kernel {func.name!r} uses extension {ext.name!r}, which target "
                                   f"{self.describe()} cannot run")

    def toolchain(self, compiler: str | None = None, opt: str | None = None, extra: tuple[str, ...] = ()):
        """The cross compiler (a ``toolchain.rv32.Toolchain``) of a build, from the parts of a
        ``compiler`` knob value or the target's own; None for a target the host compiler builds."""
        return None

    def build(self, func: PrimFunc):
        """Emit and compile ``func`` into a Module callable here (host-side targets only)."""
        raise CodegenError(f"target {self.describe()} does not run on the host; use simulator.run(func, arrays)")

    def describe(self) -> str:
        """The name in quotes, with the aliases: ``'vexriscv' (alias 'rv32im')``."""
        if not self.aliases:
            return repr(self.name)
        return f"{self.name!r} (alias {', '.join(repr(a) for a in self.aliases)})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def __reduce_ex__(self, protocol):
        # a registered target unpickles as the registered object (by name), so that identity holds
        # ("rv32im" and "vexriscv" are one object, in every process that registered it)
        if _REGISTRY.get(self.name) is self:
            return (get_target, (self.name,))
        return super().__reduce_ex__(protocol)


_REGISTRY: dict[str, Target] = {}


def register_target(target: Target, replace: bool = False) -> Target:
    """Make ``target`` known by its name and aliases (to :func:`get_target` and so to every API taking a
    target name). A name another target holds is an error unless ``replace``. Returns ``target``."""
    if not isinstance(target, Target):
        raise CodegenError(f"register_target expects a Target instance, got {type(target).__name__}")
    names = (target.name, *target.aliases)
    if not target.name or not all(isinstance(n, str) and n for n in names):
        raise CodegenError(f"target {target!r}: its name and aliases must be non-empty strings")
    if not replace:
        taken = [n for n in names if n in _REGISTRY and _REGISTRY[n] is not target]
        if taken:
            raise CodegenError(f"target name {taken[0]!r} is taken by {_REGISTRY[taken[0]]!r}; pass replace=True")
    for n in names:
        _REGISTRY[n] = target
    return target


def unregister_target(target: Target | str) -> None:
    """Forget a registered target (all its names)."""
    t = get_target(target)
    for n in [n for n, v in _REGISTRY.items() if v is t]:
        del _REGISTRY[n]


def get_target(target: Target | str) -> Target:
    """The Target of a name or alias; a Target instance is returned as it is."""
    if isinstance(target, Target):
        return target
    t = _REGISTRY.get(target) if isinstance(target, str) else None
    if t is None:
        raise UnknownTargetError(f"unknown target {target!r}; expected one of {', '.join(known_targets())} "
                                 f"or a codegen_c.Target")
    return t


def known_targets() -> tuple[str, ...]:
    """Every registered name and alias, in registration order."""
    return tuple(_REGISTRY)


def target_name(target: Target | str) -> str:
    """The name of a target (resolving an alias: ``"rv32im"`` -> ``"vexriscv"``)."""
    return get_target(target).name


__all__ = ["Target", "UnknownTargetError", "get_target", "known_targets", "register_target", "target_name",
           "unregister_target"]
