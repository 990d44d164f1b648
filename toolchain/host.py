"""The host C compiler: find it and build shared libraries with it, cached by content hash."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from toolchain.cache import cache_dir, content_hash
from toolchain.errors import HostCompileError


def host_cc() -> str:
    """The host C compiler: ``$CC``, else the first of cc, gcc, clang on PATH."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise HostCompileError("no host C compiler found (set CC or install cc)")
    return cc


def compile_shared_with(source: str, flags: tuple[str, ...], link: tuple[str, ...] = (),
                        kind: str = "host-modules") -> Path:
    """Compile C ``source`` with exactly ``flags`` (which must make a shared library) and link ``link``.

    The library is cached under ``cache_dir(kind)`` by the hash of the source, the compiler path, the
    flags and the link arguments; a second call with the same inputs returns at once.
    """
    cc = host_cc()
    key = content_hash(source, cc, " ".join(flags), *[str(x) for x in link])
    out = cache_dir(kind) / f"{key}.so"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        src = Path(tmp) / "kernel.c"
        src.write_text(source)
        tmp_out = Path(tmp) / "kernel.so"
        cmd = [cc, *flags, str(src), "-o", str(tmp_out), *link]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise HostCompileError(f"C compilation failed ({' '.join(cmd[:2])} ...):\n{r.stderr[-4000:]}")
        os.replace(tmp_out, out)
    return out
