"""The extension registry: built-ins plus whatever users register."""

from __future__ import annotations

from isa_ext.errors import ExtensionError
from isa_ext.extension import Extension

_REGISTRY: dict[str, Extension] = {}
_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from isa_ext.library import builtin_extensions

        for ext in builtin_extensions():
            _REGISTRY.setdefault(ext.name, ext)


def register(ext: Extension, *, replace: bool = False) -> Extension:
    """Add an extension to the registry (by name). Returns it, so it can be used as a one-liner."""
    if not isinstance(ext, Extension):
        raise ExtensionError(f"register() expects an isa_ext.Extension, got {type(ext).__name__}")
    _ensure_builtins()
    if ext.name in _REGISTRY and _REGISTRY[ext.name] is not ext and not replace:
        raise ExtensionError(f"an extension named {ext.name!r} is already registered (pass replace=True)")
    _REGISTRY[ext.name] = ext
    return ext


def get(name: str) -> Extension:
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ExtensionError(f"unknown ISA extension {name!r}; known: {sorted(_REGISTRY)}") from None


def names() -> list[str]:
    _ensure_builtins()
    return sorted(_REGISTRY)
