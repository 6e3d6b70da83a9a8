"""Run the user-pieces example sweep (experiments/own_pieces.toml) and summarise it.

Usage::

    .venv/bin/python experiments/own_pieces.py [--store DIR]

Prints, per rule, the median over seeds of (1/T) Σ ‖∇F_S(w_t)‖² with a distribution-free 95%
interval for the median (order statistics of the binomial(M, 1/2) law), and the divergence count.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from clipsim import store as St, sweep as S  # noqa: E402
from clipsim.runner import run_sweep  # noqa: E402

SPEC = os.path.join(ROOT, "experiments", "own_pieces.toml")


def median_interval(x, level=0.95):
    """(lower, median, upper): the order statistics x_(k), x_(M+1-k) cover the median with ≥ level."""
    x = np.sort(np.asarray(x))
    # k = the smallest k with P(Bin(M, 1/2) <= k) >= a; then [x_(k), x_(M+1-k)] (1-based) covers
    # the median with probability 1 - 2 P(Bin <= k - 1) >= 1 - 2a
    k = max(int(stats.binom.ppf((1 - level) / 2, x.size, 0.5)), 1)
    return x[k - 1], float(np.median(x)), x[x.size - k]


def summarise(store, sweep):
    rows = []
    for cell in sweep.cells:
        res = store.load(cell.key)
        lo, med, hi = median_interval(res.metrics["avg_grad_sq"])
        rows.append((cell.label(), med, lo, hi, int(res.metrics["diverged"].sum())))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None, help="results directory (default: a temporary one)")
    args = ap.parse_args(argv)
    sweep = S.load(SPEC)
    with tempfile.TemporaryDirectory() as tmp:
        store = St.Store(args.store or tmp)
        run_sweep(sweep, store, progress=False)
        rows = summarise(store, sweep)
    print("| rule | median avg_grad_sq | 95% CI (median) | diverged |")
    print("|---|---:|---|---:|")
    for label, med, lo, hi, div in rows:
        print(f"| {label} | {med:.4g} | [{lo:.4g}, {hi:.4g}] | {div} |")
    return rows


if __name__ == "__main__":
    main()
