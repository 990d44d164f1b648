"""Content-hash keyed cache directory shared by every slow build (C modules, verilated models)."""

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """Return (and create) the cache folder for one kind of artifact.

    ISAFORGE_CACHE overrides the root; the default is ~/.cache/isaforge.
    """
    root = Path(os.environ.get("ISAFORGE_CACHE", Path.home() / ".cache" / "isaforge"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def content_hash(*parts: str | bytes) -> str:
    """A short stable hash of the given parts, used as a cache key."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:24]


def publish_dir(tmp: Path, final: Path, artifact: Path, *, replace_damaged: bool = False) -> None:
    """Move a finished build folder ``tmp`` to its cache place ``final`` (one rename, so readers never see
    half a build). When another process published the same entry first, its ``artifact`` is as good as
    ours and ``tmp`` is dropped. ``replace_damaged``: a ``final`` without its ``artifact`` (e.g. deleted
    by hand) is removed first, so the new build takes its place instead of failing the rename (callers
    hold the entry's lock)."""
    if replace_damaged and final.exists() and not artifact.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.rename(tmp, final)
    except OSError:
        if not artifact.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def cached_build(kind: str, key: str, artifact_name: str, build: Callable[[Path], object]) -> tuple[Path, bool]:
    """``cache_dir(kind)/key/artifact_name``, made by ``build(tmp_dir)`` unless it exists; returns it and
    whether this call built it. Builds of one key are serialised with a file lock (saves a duplicate
    build; without flock the rename still keeps the cache valid) and happen in a private folder that is
    renamed into place (:func:`publish_dir`), so readers never see half a build; a failed build leaves
    nothing behind."""
    root = cache_dir(kind)
    final = root / key
    artifact = final / artifact_name
    if artifact.exists():
        return artifact, False
    with open(root / f".{key}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:
            pass
        if artifact.exists():
            return artifact, False
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
        try:
            build(tmp)
            publish_dir(tmp, final, artifact, replace_damaged=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return artifact, True
