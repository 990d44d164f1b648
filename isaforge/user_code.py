"""Loading users' Python code named on the command line (``--templates``, ``--load``)."""

from __future__ import annotations

import importlib
import os
import runpy


def run_user_sources(sources, option: str, run_name: str, error: type[Exception]) -> None:
    """Run each ``.py`` file (as a module named ``run_name``, not ``__main__``) or import each module
    name, so that what it registers can be named; a missing file or a failed import raises ``error``
    naming ``option``."""
    for src in sources:
        if src.endswith(".py") or os.sep in src:
            if not os.path.isfile(src):
                raise error(f"{option} {src!r}: no such file")
            runpy.run_path(src, run_name=run_name)
        else:
            try:
                importlib.import_module(src)
            except ImportError as e:
                raise error(f"{option} {src!r}: cannot import it ({e})") from e
