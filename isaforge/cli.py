"""The ``isaforge`` command line: wires the packages together, holds no compiler logic.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; the parser's
``func`` default receives the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tir.errors import TirError

# subcommand modules, in --help order
COMMANDS = ("isaforge.cmd_ops", "isaforge.cmd_export", "isaforge.cmd_tune", "isaforge.cmd_area",
            "isaforge.cmd_search", "isaforge.cmd_run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isaforge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TirError as e:
        print(f"isaforge {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
