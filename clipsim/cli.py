"""The ``clipsim`` command line: run sweeps, check bounds, make figures, list bounds.

Exit codes: 0 ok, 1 a bound check was violated, 2 usage or input error (one line on stderr, never a
traceback; set CLIPSIM_DEBUG=1 to see the traceback of an unexpected error).
"""
from __future__ import annotations

import argparse
import os
import sys

DEFAULT_STORE = "results"


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (exit 2), not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser():
    p = _Parser(prog="clipsim", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a TOML sweep into a store (skips stored cells)")
    r.add_argument("spec", help="sweep spec (TOML)")
    r.add_argument("--store", default=DEFAULT_STORE, help=f"results directory (default {DEFAULT_STORE})")
    r.add_argument("--executor", choices=("local", "dask"), default="local")
    r.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    r.add_argument("--workers", type=int, help="LocalCluster workers (default: CPU count)")
    r.add_argument("--threads", type=int, help="Numba threads per cell for the local executor")
    r.add_argument("--quiet", action="store_true", help="no progress output")

    c = sub.add_parser("check", help="check a sweep's bounds against its stored cells → Markdown report")
    c.add_argument("spec")
    c.add_argument("--store", default=DEFAULT_STORE)
    c.add_argument("--out", help="report path (default: print to stdout)")

    pl = sub.add_parser("plot", help="make a sweep's figures from its stored cells (PDF and PNG)")
    pl.add_argument("spec")
    pl.add_argument("--store", default=DEFAULT_STORE)
    pl.add_argument("--out", default="paper_figs", help="output directory (default paper_figs)")

    sub.add_parser("bounds", help="list the theory registry: name, kind, status, rate")

    f = sub.add_parser("failure-prob", help="sequentially estimate P(Q > B(δ)) for one cell and one bound")
    f.add_argument("spec")
    f.add_argument("--cell", type=int, default=0, help="cell index in the sweep (default 0)")
    f.add_argument("--bound", required=True, help="bound name (see `clipsim bounds`)")
    f.add_argument("--delta", type=float, required=True)
    f.add_argument("--value", action="append", default=[], metavar="NAME=NUMBER",
                   help="value of a bound symbol (repeatable), e.g. --value C_opt=2 --value alpha=1.4")
    f.add_argument("--batch", type=int, default=1000, help="seeds per batch (default 1000)")
    f.add_argument("--max-seeds", type=int, default=100_000, help="seed budget (default 100000)")
    f.add_argument("--confidence", type=float, default=0.95)

    e = sub.add_parser("export", help="export stored cells as one tidy table (CSV, or .parquet)")
    e.add_argument("out", help="output file (.csv or .parquet)")
    e.add_argument("--store", default=DEFAULT_STORE)
    e.add_argument("--sweep", help="only this sweep's cells")

    # ---- store maintenance: checksums, keys, index; --repair drops damaged cells (`run` recomputes them)
    st = sub.add_parser("store", help="verify a store (checksums, cell keys, index) and repair it")
    st_sub = st.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    sv = st_sub.add_parser("verify", help="check every cell file against its checksum and key; exit 1 if damaged")
    sv.add_argument("--store", default=DEFAULT_STORE)
    sv.add_argument("--repair", action="store_true",
                    help="rebuild a damaged index from the cell files, drop damaged cells, remove stale temporaries")
    return p


def _values(pairs):
    out = {}
    for pair in pairs:
        name, sep, num = pair.partition("=")
        try:
            out[name.strip()] = float(num)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"--value {pair!r} is not allowed: must be NAME=NUMBER")
    return out


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2, already printed)
        return e.code if isinstance(e.code, int) else 2
    try:
        from ._errors import check_cli_paths

        check_cli_paths(args)
        return _dispatch(args)
    except BaseException as e:  # noqa: B902  one line on stderr for every failure (the class 4 promise)
        from ._errors import one_line

        if os.environ.get("CLIPSIM_DEBUG") or isinstance(e, SystemExit):
            raise
        code, msg = one_line(e)
        print(f"clipsim: error: {msg}", file=sys.stderr)
        return code


def _dispatch(args):
    if args.command == "bounds":
        import theory

        print(theory.format_table())
        return 0
    if args.command == "store":
        from .store import Store

        return Store(args.store, create=False).verify_cli(repair=args.repair)
    if args.command == "export":
        from .store import Store

        n = Store(args.store, create=False).export(args.out, args.sweep)
        print(f"wrote {n} rows to {args.out}")
        return 0

    from . import sweep as S
    from .store import Store

    sw = S.load(args.spec)
    if args.command == "run":
        from .runner import run_sweep

        store = Store(args.store)
        done, skipped = run_sweep(sw, store, executor=args.executor, scheduler=args.scheduler,
                                  workers=args.workers, progress=not args.quiet, threads=args.threads)
        print(f"{sw.name}: {done} cells computed, {skipped} already stored, store {os.path.abspath(args.store)}")
        return 0
    if args.command == "check":
        from .report import check_sweep, emit

        text, n_violated = check_sweep(sw, Store(args.store, create=False))
        emit(text, args.out)
        return 1 if n_violated else 0
    if args.command == "plot":
        from .figures import plot_sweep

        for path in plot_sweep(sw, Store(args.store, create=False), args.out):
            print(path)
        return 0
    if args.command == "failure-prob":
        from .report import failure_probability_cli

        verdict = failure_probability_cli(sw, args.cell, args.bound, args.delta, _values(args.value),
                                          batch=args.batch, max_seeds=args.max_seeds,
                                          confidence=args.confidence)
        return 1 if verdict == "violated" else 0
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
