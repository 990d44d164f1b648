"""``isaforge ops``: the operator library's table (name, attributes, doc), straight from the registry."""

from __future__ import annotations


def run(args) -> int:
    import ops

    rows = ops.table(variants=not args.no_variants)
    if args.name:
        op, fixed = ops.lookup(args.name)
        print(f"{op.name}: {op.doc}")
        if fixed:
            print(f"  ({args.name} fixes {', '.join(f'{k}={v!r}' for k, v in fixed.items())})")
        for a in op.attrs:
            extra = f"  {a.doc}" if a.doc else ""
            print(f"  {a.describe():<40}{extra}")
        print(f"  family: {op.family}; aliases: {', '.join(op.aliases) or 'none'}")
        return 0
    width = max(len(r[0]) for r in rows)
    for name, attrs, doc in rows:
        print(f"{name:<{width}}  {doc}")
        print(f"{'':<{width}}    {attrs}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("ops", help="list the operators (name, attributes, doc) every command takes",
                       description=__doc__.splitlines()[0])
    p.add_argument("name", nargs="?", default=None, help="show one operator's attributes with their docs")
    p.add_argument("--no-variants", action="store_true", help="only operators, not the named variants")
    p.set_defaults(func=run)
