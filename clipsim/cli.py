"""The clipsim command line: run sweeps, check bounds, make figures, list what is available.

Exit codes: 0 all checks hold (or the command succeeded), 1 a bound is violated or a rate lies outside
its tolerance, 3 nothing is violated but some verdict is inconclusive, 2 usage or input error (one line
on stderr, never a traceback; set CLIPSIM_DEBUG=1 to see the traceback of an unexpected error).

argparse (standard library) rather than click/typer: the CLI is a thin layer over the Python API, and a
command-line library would add a dependency to every install for no capability we need.
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
    p = _Parser(prog="clipsim", description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_VersionAction, help="print the clipsim, numba and numpy versions")
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
    pl.add_argument("--out", help="output directory (default: STORE/figures, beside the results; give "
                                  "--out paper_figs to update the committed figures)")

    b = sub.add_parser("bounds", help="list the theory registry, or show one bound in full (clipsim bounds NAME)")
    b.add_argument("name", nargs="?", help="a bound name: print its formula, LaTeX, assumptions, validity "
                                          "conditions, hidden constants, schedule, reference and status")

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
    f.add_argument("--method", choices=("mc", "splitting", "is"), default="mc",
                   help="mc: sequential Monte Carlo (default); splitting: adaptive multilevel splitting; is: "
                        "one-big-jump importance sampling (Pareto/Cauchy noise); both for δ down to 1e-8")
    f.add_argument("--replicas", type=int, default=16, help="splitting: independent replicas (default 16)")
    f.add_argument("--particles", type=int, default=200, help="splitting: paths per replica (default 200)")
    f.add_argument("--budget", type=int, default=None, help="is: simulated steps (default 10^5 paths)")

    e = sub.add_parser("export", help="export stored cells as one tidy table (CSV, or .parquet)")
    e.add_argument("out", help="output file (.csv or .parquet)")
    e.add_argument("--store", default=DEFAULT_STORE)
    e.add_argument("--sweep", help="only this sweep's cells")
    _workbench_parsers(sub)

    # ---- store maintenance: checksums, keys, index; --repair drops damaged cells (`run` recomputes them)
    st = sub.add_parser("store", help="verify a store (checksums, cell keys, index) and repair it")
    st_sub = st.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    sv = st_sub.add_parser("verify", help="check every cell file against its checksum and key; exit 1 if damaged")
    sv.add_argument("--store", default=DEFAULT_STORE)
    sv.add_argument("--repair", action="store_true",
                    help="rebuild a damaged index from the cell files, drop damaged cells, remove stale temporaries")
    fz = sub.add_parser("falsify", help="hunt the box of a spec's [falsify] table for a certified violation",
                        description="Exit 1 certified violation, 0 none found, 3 budget too small to decide.")
    fz.add_argument("spec", help="sweep spec (TOML) with a [falsify] table")
    fz.add_argument("--store", default=DEFAULT_STORE, help=f"results directory (default {DEFAULT_STORE})")
    fz.add_argument("--budget", type=int, help="total seeds (default: [falsify] budget)")
    fz.add_argument("--out", help="Markdown report path (default: print to stdout)")
    fz.add_argument("--quiet", action="store_true", help="no progress output")
    return p


DESCRIPTION = "clipsim: run TOML sweeps of clipped optimizers, check bounds against them, make figures."

EPILOG = """\
examples:
  clipsim list objectives                   what can go in [objective] name = ...
  clipsim bounds li_liu_2023_clipped_sgd    one bound in full (formula, assumptions, constants)
  clipsim run experiments/e1_rate.toml --store results
  clipsim cells experiments/e1_rate.toml --store results     cell indices for failure-prob --cell
  clipsim check experiments/e1_rate.toml --store results --out report.md
  clipsim plot experiments/e1_rate.toml --store results      figures go to results/figures/
  clipsim failure-prob experiments/e3_failure_probability.toml --cell 4 \\
      --bound li_liu_2023_clipped_sgd --delta 0.05 --value C_opt=2 --value alpha=1.4
  clipsim export table.parquet --store results
  clipsim falsify experiments/e9_falsify.toml --store results --out falsify.md

exit codes:
  0  ok: every check holds (or the command succeeded)
  1  a bound is violated, or a fitted rate lies outside its tolerance
  3  nothing is violated, but some verdict is inconclusive (more seeds needed)
  2  usage or input error (one line on stderr naming the field and what is allowed)

The first simulation on a machine compiles the Numba kernels (about 6-7 s, once; cached after).
Docs: docs/README.md in the repository."""


class _VersionAction(argparse.Action):
    """--version, computed only when asked (importing numba costs a little)."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text():
    """``clipsim X (numba Y, numpy Z, python W)``."""
    from .engine import versions

    v = versions()
    return f"clipsim {v['clipsim']} (numba {v['numba']}, numpy {v['numpy']}, python {v['python']})"


# ---- workbench commands: list, cells (bounds NAME is in the "bounds" parser above) ----------------
LIST_WHAT = ("objectives", "noises", "optimizers", "stages", "metrics", "records", "bounds")


def _workbench_parsers(sub):
    ls = sub.add_parser("list", help="list objectives, noises, optimizers, stages, metrics, records or bounds",
                        description="One line per name, with what it is.")
    ls.add_argument("what", choices=LIST_WHAT, help="what to list")
    ce = sub.add_parser("cells", help="list a sweep's cells: index, grid coordinates, stored or not",
                        description="The index is what `clipsim failure-prob --cell I` takes.")
    ce.add_argument("spec", help="sweep spec (TOML)")
    ce.add_argument("--store", default=DEFAULT_STORE, help=f"results directory (default {DEFAULT_STORE})")


def _dispatch_workbench(args):
    """The list and cells commands, and bounds NAME; None when ``args`` is another command."""
    if args.command == "list":
        from .catalogue import listing

        print("\n".join(listing(args.what)))
        return 0
    if args.command == "bounds" and args.name:
        from theory.describe import describe

        print(describe(args.name))
        return 0
    if args.command == "falsify":
        from .falsify import falsify
        from .report import emit

        res = falsify(args.spec, store=args.store, budget=args.budget, progress=not args.quiet)
        emit(res.summary(), args.out)
        return res.exit_code
    if args.command == "cells":
        from . import sweep as S
        from .store import Store

        sw = S.load(args.spec)
        stored = set(Store(args.store).keys(sw.name)) if os.path.isdir(args.store) else set()
        width = len(str(len(sw.cells) - 1))
        for i, cell in enumerate(sw.cells):
            mark = "stored " if cell.key in stored else "missing"
            print(f"{i:>{width}}  {mark}  {cell.key}  {cell.label()}")
        n = sum(c.key in stored for c in sw.cells)
        print(f"{sw.name}: {len(sw.cells)} cells, {n} stored in {os.path.abspath(args.store)}")
        return 0
    return None


def _values(pairs):
    out = {}
    for pair in pairs:
        name, sep, num = pair.partition("=")
        if name.strip() in out:
            raise ValueError(f"--value {pair!r} is not allowed: {name.strip()} already has a value")
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
    except BrokenPipeError:  # the reader went away (`clipsim cells ... | head`): stop quietly, as on SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush must not fail again
        return 141
    except BaseException as e:  # noqa: B902  one line on stderr for every failure (the class 4 promise)
        from ._errors import one_line

        if os.environ.get("CLIPSIM_DEBUG") or isinstance(e, SystemExit):
            raise
        code, msg = one_line(e)
        print(f"clipsim: error: {msg}", file=sys.stderr)
        return code


def _dispatch(args):
    code = _dispatch_workbench(args)
    if code is not None:
        return code
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

        text, code = check_sweep(sw, Store(args.store, create=False))
        emit(text, args.out)
        return code
    if args.command == "plot":
        from .figures import plot_sweep

        for path in plot_sweep(sw, Store(args.store, create=False), args.out or os.path.join(args.store, "figures")):
            print(path)
        return 0
    if args.command == "failure-prob" and args.method != "mc":
        from .rare import failure_probability_cli as rare_failure_probability

        verdict = rare_failure_probability(sw, args.cell, args.bound, args.delta, _values(args.value),
                                           method=args.method, confidence=args.confidence,
                                           replicas=args.replicas, particles=args.particles,
                                           budget=args.budget)
        return {"holds": 0, "violated": 1}.get(verdict, 3)
    if args.command == "failure-prob":
        from .report import failure_probability_cli

        verdict = failure_probability_cli(sw, args.cell, args.bound, args.delta, _values(args.value),
                                          batch=args.batch, max_seeds=args.max_seeds,
                                          confidence=args.confidence)
        return {"holds": 0, "violated": 1}.get(verdict, 3)
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
