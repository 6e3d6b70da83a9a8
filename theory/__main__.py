"""python -m theory: the bound registry from the command line.

    python -m theory              the table (name, kind, status, quantity, rate)
    python -m theory table        the same
    python -m theory show NAME    one bound in full (as `clipsim bounds NAME`)
"""
import argparse
import sys

from .table import format_table

LEGEND = ("rate: exponent of the leading term in the variable (in 1/x for delta, eps); "
          "log^: power of log of it. Status: V read, 2nd restated, R recalled, D derived.")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m theory", description="The registry of bounds (theory.BOUNDS).",
                                epilog="With no command: the table. Status tags and their meaning: docs/theory.md.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("table", help="the table: name, kind, status, quantity, rate (the default)")
    show = sub.add_parser("show", help="one bound in full: formula, LaTeX, assumptions, constants, reference")
    show.add_argument("name")
    args = p.parse_args(argv)
    if args.command == "show":
        from .describe import describe

        try:
            print(describe(args.name))
        except ValueError as e:
            print(f"python -m theory: error: {e}", file=sys.stderr)
            return 2
        return 0
    print(format_table())
    print("\n" + LEGEND)
    return 0


if __name__ == "__main__":
    sys.exit(main())
