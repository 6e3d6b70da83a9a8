"""The ``clipsim`` command line: run sweeps, check bounds, make figures, list bounds.

Exit codes of ``check`` and ``failure-prob``: 0 every verdict holds and every rate is within tolerance;
1 something is violated (family-wise), a shape is rejected or a rate is outside tolerance; 3 nothing is
violated but something is inconclusive; 2 usage or input error.
"""
from __future__ import annotations

import argparse
import os
import sys

DEFAULT_STORE = "results"


def _parser():
    p = argparse.ArgumentParser(prog="clipsim", description=__doc__.splitlines()[0])
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
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, KeyError) as e:
        msg = e.args[0] if e.args else str(e)
        print(f"clipsim: error: {msg}", file=sys.stderr)
        return 2


def _dispatch(args):
    if args.command == "bounds":
        import theory

        print(theory.format_table())
        return 0
    if args.command == "export":
        from .store import Store

        n = Store(args.store).export(args.out, args.sweep)
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

        text, code = check_sweep(sw, Store(args.store))
        emit(text, args.out)
        return code
    if args.command == "plot":
        from .figures import plot_sweep

        for path in plot_sweep(sw, Store(args.store), args.out):
            print(path)
        return 0
    if args.command == "failure-prob":
        from .report import failure_probability_cli

        verdict = failure_probability_cli(sw, args.cell, args.bound, args.delta, _values(args.value),
                                          batch=args.batch, max_seeds=args.max_seeds,
                                          confidence=args.confidence)
        return {"holds": 0, "violated": 1}.get(verdict, 3)
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
