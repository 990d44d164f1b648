"""A set of extensions targeted together: one CFU, one C header, one co-simulation library."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension, c_flavour, describe_fid

BUILTIN_NAMES = ("dot4_i8", "dot4_u8", "dot2_i16", "mac4_i8", "requant_i8")


class ExtensionSet:
    """Extensions that share one CFU. Rejects function_id collisions (naming both extensions)."""

    def __init__(self, exts: Iterable[Extension | str]):
        from isa_ext.registry import get

        self.extensions: tuple[Extension, ...] = tuple(get(e) if isinstance(e, str) else e for e in exts)
        if not self.extensions:
            raise ExtensionError("an ExtensionSet needs at least one extension")
        seen_names: set[str] = set()
        owner: dict[int, Extension] = {}
        for ext in self.extensions:
            if ext.name in seen_names:
                raise ExtensionError(f"extension {ext.name!r} appears twice in the set")
            seen_names.add(ext.name)
            clash = sorted(fid for fid in ext.function_ids if fid in owner)
            if clash:
                other = owner[clash[0]]
                fids = ", ".join(describe_fid(f) for f in clash[:4]) + (" ..." if len(clash) > 4 else "")
                raise ExtensionError(
                    f"function_id collision between extensions {other.name!r} and {ext.name!r}: {fids}"
                )
            for fid in ext.function_ids:
                owner[fid] = ext
        self._owner = owner

    @property
    def function_ids(self) -> frozenset[int]:
        return frozenset(self._owner)

    def owner(self, fid: int) -> Extension | None:
        return self._owner.get(fid)

    def verilog(self) -> str:
        """One Verilog file: every extension's unit plus the routing top module ``Cfu``."""
        from isa_ext.cfu import combine_cfu

        return combine_cfu([(e.module_name, e.verilog(), e.function_ids) for e in self.extensions])

    def write_cfu(self, path: str | Path) -> Path:
        """Write :meth:`verilog` to ``path`` (for LiteX: ``--cpu-variant full+cfu --cpu-cfu <path>``)."""
        path = Path(path)
        path.write_text(self.verilog())
        return path

    def c_source(self, target) -> str:
        """Every extension's C for ``target`` (a C flavour name or a codegen_c Target)."""
        target = c_flavour(target)
        return "\n".join(e.c_source(target) for e in self.extensions)

    def cosim_library(self) -> Path:
        from isa_ext.cfu import build_cfu_cosim

        return build_cfu_cosim(self.verilog())

    def __repr__(self) -> str:
        return f"ExtensionSet({[e.name for e in self.extensions]})"


def target_extensions(*exts: Extension | str) -> ExtensionSet:
    """ExtensionSet of the given extensions (or registered names); ``target_extensions()`` = all built-ins."""
    if len(exts) == 1 and not isinstance(exts[0], (str, Extension)):
        exts = tuple(exts[0])
    if not exts:
        from isa_ext.registry import get

        exts = tuple(get(n) for n in BUILTIN_NAMES)
    return ExtensionSet(exts)


def describe(fid: int) -> str:
    return describe_fid(fid)
