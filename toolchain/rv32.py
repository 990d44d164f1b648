"""Cross-compile freestanding RV32IM programs (for the VexRiscv SoC), cached by content hash.

API
---
``Toolchain(compiler="zig"|"gcc", opt="-O2", extra_flags=())``
    Frozen description of one compiler configuration; ``.key`` is a stable string for cache keys.

``available_toolchains() -> list[Toolchain]``
    The toolchains usable on this machine (zig via the ``ziglang`` package, gcc if
    ``riscv64-unknown-elf-gcc`` from Debian's ``gcc-riscv64-unknown-elf`` is on PATH).

``compile_rv32(sources, link_script, out_dir=None, toolchain=Toolchain()) -> Path``
    Compile and link ``sources`` (``{file name: text}``; ``.c``/``.S``/``.s`` files are compiled,
    anything else, e.g. ``.h``, is only made available to ``#include``) with ``link_script`` (a
    ``Path`` is read, a ``str`` is the script text) into an ELF. The ELF is cached under
    ``cache_dir("rv32_elf")``; with ``out_dir`` a copy is placed there. Failures raise
    :class:`toolchain.errors.ToolchainError` with the compiler's stderr.

The SoC's runtime (crt0.S, isaforge_rt.c, its linker script) belongs to the simulator package:
``simulator.toolchain`` supplies it and defaults ``link_script`` to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from toolchain.cache import cache_dir, content_hash, publish_dir
from toolchain.errors import ToolchainError

GCC = "riscv64-unknown-elf-gcc"
GCC_APT_PACKAGE = "gcc-riscv64-unknown-elf"


@dataclass(frozen=True)
class Toolchain:
    """One cross-compiler configuration."""

    compiler: str = "zig"  # "zig" or "gcc"
    opt: str = "-O2"
    extra_flags: tuple[str, ...] = ()

    def __post_init__(self):
        if self.compiler not in ("zig", "gcc"):
            raise ToolchainError(f"unknown compiler {self.compiler!r} (expected 'zig' or 'gcc')")
        if not isinstance(self.extra_flags, tuple):
            object.__setattr__(self, "extra_flags", tuple(self.extra_flags))

    @property
    def key(self) -> str:
        """Stable identifier including the compiler version (for cache keys)."""
        return "|".join([self.compiler, _compiler_version(self.compiler), self.opt, *self.extra_flags])

    def command(self) -> list[str]:
        """The compiler driver invocation plus the fixed target flags (no sources, no -T)."""
        if self.compiler == "zig":
            return [
                sys.executable, "-m", "ziglang", "cc",
                "-target", "riscv32-freestanding-none", "-mcpu=generic_rv32+m",
                "-fomit-frame-pointer", self.opt, "-ffreestanding",
                # no -nostdlib: the freestanding target has no libc or start files, and zig then
                # links its compiler_rt (soft float, 64-bit division)
                *self.extra_flags,
            ]
        return [
            GCC, "-march=rv32im_zicsr", "-mabi=ilp32", self.opt, "-ffreestanding",
            "-nostartfiles", "-nostdlib", "-fomit-frame-pointer", *self.extra_flags,
        ]

    def link_flags(self) -> list[str]:
        if self.compiler == "gcc":
            # -march=rv32im_zicsr matches no multilib, so name the rv32im/ilp32 libgcc explicitly
            return [_gcc_libgcc(), "-Wl,--no-warn-rwx-segments"]
        return []


@cache
def _gcc_libgcc() -> str:
    proc = subprocess.run(
        [GCC, "-march=rv32im", "-mabi=ilp32", "-print-libgcc-file-name"], capture_output=True, text=True
    )
    path = proc.stdout.strip()
    return path if proc.returncode == 0 and path and Path(path).exists() else "-lgcc"


@cache
def _compiler_version(compiler: str) -> str:
    if compiler == "zig":
        try:
            import ziglang  # noqa: F401
        except ImportError:
            return "missing"
        try:
            from importlib.metadata import version

            return "ziglang-" + version("ziglang")
        except Exception:
            return "ziglang-unknown"
    exe = shutil.which(GCC)
    if exe is None:
        return "missing"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return proc.stdout.splitlines()[0] if proc.stdout else "unknown"


def available_toolchains() -> list[Toolchain]:
    """Toolchains that can be used on this machine (zig first)."""
    out = []
    if _compiler_version("zig") != "missing":
        out.append(Toolchain("zig"))
    if _compiler_version("gcc") != "missing":
        out.append(Toolchain("gcc"))
    return out


def _strip_paths(text: str, build_dir: Path) -> str:
    return text.replace(str(build_dir) + os.sep, "").replace(str(build_dir), ".")


def compile_rv32(
    sources: dict[str, str],
    link_script: str | Path,
    out_dir: str | Path | None = None,
    toolchain: Toolchain = Toolchain(),
) -> Path:
    """Compile and link a freestanding RV32IM program; return the path of the ELF (cached)."""
    if not isinstance(toolchain, Toolchain):
        raise ToolchainError(f"toolchain must be a Toolchain, got {type(toolchain).__name__}")
    if isinstance(link_script, Path):
        script = link_script.read_text()
    else:
        script = str(link_script)
    if _compiler_version(toolchain.compiler) == "missing":
        hint = "pip install ziglang" if toolchain.compiler == "zig" else f"apt-get install {GCC_APT_PACKAGE}"
        raise ToolchainError(f"compiler {toolchain.compiler!r} is not installed ({hint})")
    compiled = [n for n in sources if n.endswith((".c", ".S", ".s"))]
    if not compiled:
        raise ToolchainError("no .c/.S sources to compile")
    for name in sources:
        if "/" in name or "\\" in name or name in ("", ".", "..") or name == "link.ld":
            raise ToolchainError(f"invalid source file name {name!r}")

    parts = [toolchain.key, "link.ld", script]
    for name in sorted(sources):
        parts += [name, sources[name]]
    key = content_hash(*parts)
    root = cache_dir("rv32_elf")
    final = root / key
    elf = final / "prog.elf"
    if not elf.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
        try:
            for name, text in sources.items():
                (tmp / name).write_text(text)
            (tmp / "link.ld").write_text(script)
            cmd = [
                *toolchain.command(), "-I", str(tmp), "-T", str(tmp / "link.ld"),
                "-o", str(tmp / "prog.elf"), *[str(tmp / n) for n in compiled], *toolchain.link_flags(),
            ]
            env = dict(os.environ)
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env)
            if proc.returncode != 0 or not (tmp / "prog.elf").exists():
                msg = _strip_paths(proc.stderr.strip() or proc.stdout.strip(), tmp)
                raise ToolchainError(
                    f"{toolchain.compiler} failed to build {', '.join(compiled)} "
                    f"(exit {proc.returncode}):\n{msg}"
                )
            publish_dir(tmp, final, elf)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if out_dir is None:
        return elf
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / "prog.elf"
    shutil.copyfile(elf, dest)
    return dest
