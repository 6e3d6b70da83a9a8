"""The headline bound-vs-empirics demo (``make demo``): E1 and E2 at demo size.

Runs ``experiments/e1_rate.toml``, ``e1_objectives.toml`` and ``e2_quantile_delta.toml`` into a store
(finished cells are reused on a rerun), checks them against the ``theory`` bounds, and writes
``report.md`` and the figures (PDF and PNG) under ``--out`` (default ``demo_out``).

    python -m experiments.demo [--out DIR] [--executor local|dask]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = ("e1_rate.toml", "e1_objectives.toml", "e2_quantile_delta.toml")


def headline(evaluated):
    """A short summary: E1 exponents on the quadratic and E2 growth decisions."""
    lines = ["## Headline", ""]
    for sweep, checks in evaluated:
        for ev in checks:
            for rr in ev["rates"]:
                if sweep.name == "e1_rate":
                    lines.append(f"- E1 {rr.group}: fitted exponent {rr.slope.slope:.3f} "
                                 f"[{rr.slope.low:.3f}, {rr.slope.high:.3f}] vs theory {rr.theory:.3f} "
                                 f"({'within' if rr.within else 'outside'} ±{rr.tolerance:g})")
            for cell, g in ev["growth"]:
                lines.append(f"- E2 {cell.label()}: quantile growth in 1/δ is **{g.decision}** "
                             f"(GPD shape ξ = {g.gpd.xi:.2f} [{g.gpd.xi_low:.2f}, {g.gpd.xi_high:.2f}])")
    return "\n".join(lines) + "\n"


def main(argv=None):
    from clipsim import sweep as S
    from clipsim.figures import plot_sweep
    from clipsim.report import load_results, render, run_check
    from clipsim.runner import run_sweep
    from clipsim.store import Store

    ap = argparse.ArgumentParser(prog="python -m experiments.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    ap.add_argument("--executor", choices=("local", "dask"), default="local")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    store = Store(os.path.join(args.out, "store"))
    figdir = os.path.join(args.out, "figures")
    evaluated, sections, figures = [], [], []
    for name in SPECS:
        sw = S.load(os.path.join(HERE, name))
        print(f"== {sw.name}: {len(sw.cells)} cells", flush=True)
        run_sweep(sw, store, executor=args.executor)
        results = load_results(sw, store)
        checks = [run_check(spec, results) for spec in sw.checks]
        evaluated.append((sw, checks))
        sections.append(render(sw, checks, results)[0])
        figures += plot_sweep(sw, store, figdir)
    elapsed = time.perf_counter() - t0
    report = os.path.join(args.out, "report.md")
    with open(report, "w") as f:
        f.write("# clipsim demo: bounds versus empirics\n\n")
        f.write(f"E1 (rate in T under the prescribed schedule) and E2 (quantile growth in 1/δ), "
                f"{elapsed:.0f} s wall time.\n\n")
        f.write(headline(evaluated) + "\n")
        f.write("## Figures\n\n" + "\n".join(f"- {os.path.relpath(p, args.out)}" for p in figures if p.endswith(".png")))
        demoted = ("\n".join("#" + ln if ln.startswith("#") else ln for ln in s.splitlines()) for s in sections)
        f.write("\n\n" + "\n\n".join(demoted))
    print(f"\nreport:  {os.path.abspath(report)}")
    print(f"figures: {os.path.abspath(figdir)}")
    print(f"store:   {os.path.abspath(store.path)}  ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
