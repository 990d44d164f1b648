"""``isaforge area``: LUT / FF / DSP / BRAM and logic depth of extensions from a real Yosys run (synth_xilinx
for the Arty A7's Artix-7), each also as a share of the VexRiscv_FullCfu CPU."""

from __future__ import annotations

import sys


def run(args) -> int:
    import isa_ext
    from isa_ext.area import SynthesisError, cpu_area, extension_area, format_area_table
    from isa_ext.extset import BUILTIN_NAMES

    load_extensions(args.load)
    names = args.ext or list(BUILTIN_NAMES)
    exts = [isa_ext.get(n) for n in names]  # an unknown name fails here, before any synthesis
    units = [exts] if args.set else [[e] for e in exts]
    reports, failures = [], []
    for unit in units:
        try:
            reports.append(extension_area(unit))
        except SynthesisError as e:
            failures.append((e.name, (e.log_tail.splitlines() or ["(no log)"])[-1]))
            print(f"isaforge area: {e}", file=sys.stderr)
    cpu = None if args.no_cpu else cpu_area()
    print(format_area_table(reports, cpu, failures))
    return 2 if failures else 0


def load_extensions(sources) -> None:
    """Run each ``.py`` file (as a module of its own, not ``__main__``) or import each module name, so that
    the extensions they register (``isa_ext.register``) can be named."""
    from isaforge.errors import IsaforgeError
    from isaforge.user_code import run_user_sources

    run_user_sources(sources, "--load", "isaforge_user_extensions", IsaforgeError)


def add_parser(sub) -> None:
    p = sub.add_parser("area", help="synthesize extensions with Yosys: LUT FF DSP BRAM depth, %% of the CPU",
                       description=__doc__.splitlines()[0])
    p.add_argument("ext", nargs="*", help="registered extension names (default: every built-in)")
    p.add_argument("--load", action="append", default=[], metavar="FILE_OR_MODULE",
                   help="a Python file or module that registers extensions (repeatable)")
    p.add_argument("--set", action="store_true", help="synthesize the given extensions as one CFU")
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU synthesis (no %% of the CPU column)")
    p.set_defaults(func=run)
