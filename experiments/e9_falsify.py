"""E9: falsification hunt for the Li & Liu 2023 clipped-SGD bound with the E3-calibrated constant.

1. Calibrate C_opt exactly as E3's first check does, at delta = 0.05: the calibration cells of
   ``experiments/e3_failure_probability.toml`` (alpha = 1.5, T in {300, 1000}, 2000 seeds each; the
   same cells, streams and store keys as ``clipsim run`` of E3) and ``clipsim.stats.calibrate_constant``.
2. Hunt ``experiments/e9_falsify.toml``'s box (alpha, c_eta, c_lam, T, objective) with that constant
   (``clipsim.falsify``): a certified violation, or none found within the budget.
3. Report where the bound fails (the confirmations) and where it is tight or loose: the search's
   (1-delta)-quantile of Q / B(delta) per visited cell against each searched path (exploratory: the
   search's estimates are not corrected for selection; only the confirmation is a test).

Usage::

    .venv/bin/python experiments/e9_falsify.py --store results_e9 --out e9.md [--budget N]
"""
from __future__ import annotations

import argparse
import copy
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DELTA = 0.05


def calibrate_e3(store, delta=DELTA, confidence=0.95):
    """C_opt fitted on E3's calibration cells (its first [[check]]), after running them into ``store``."""
    import theory
    from clipsim import stats as St
    from clipsim import sweep as S
    from clipsim.check import check
    from clipsim.decisions import _cell_values
    from clipsim.runner import run_sweep

    e3 = S.load(os.path.join(HERE, "e3_failure_probability.toml"))
    spec = e3.checks[0]
    cal = [c for c in e3.cells if S.matches(c, spec["calibrate"])]
    run_sweep(S.Sweep(e3.name, e3.description, tuple(cal), (), (), e3.spec, e3.path), store, progress=False)
    bound, cells = theory.get(spec["bound"]), []
    for c in cal:
        res = store.load(c.key)
        vals = {**_cell_values(spec, c, res), "C_opt": 1.0}
        b1 = check(bound, res, delta, confidence=confidence, **vals).bound_value
        cells.append(St.Cell(np.where(res.metrics["diverged"], np.inf, res.metrics[bound.quantity]), b1, c.label()))
    return St.calibrate_constant(cells, delta, confidence).C, [c.label() for c in cal]


def tightness(result):
    """Markdown: per searched numeric path, the search's quantile ratio in the lower and upper third of
    the range, and per objective (exploratory: uncorrected, cells with >= 30 seeds)."""
    frame = result.to_frame()
    frame = frame[frame["seeds"] >= 30]
    lines = ["| path | where | cells | median ratio | max ratio |", "|---|---|---|---|---|"]
    for axis in result.axes:
        col = frame[axis.path]
        if axis.continuous:
            lo, hi = col.quantile(1 / 3), col.quantile(2 / 3)
            parts = [(f"<= {lo:.3g}", col <= lo), (f">= {hi:.3g}", col >= hi)]
        else:
            parts = [(str(v), col == v) for v in sorted(col.unique())]
        for where, mask in parts:
            r = frame.loc[mask, "quantile_ratio"]
            if len(r):
                lines.append(f"| {axis.path} | {where} | {len(r)} | {r.median():.3g} | {r.max():.3g} |")
    return "\n".join(lines)


def main(argv=None):
    from clipsim import Store, falsify
    from clipsim import sweep as S

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="results_e9")
    ap.add_argument("--out", help="Markdown report (default: print)")
    ap.add_argument("--budget", type=int, help="total seeds of the hunt (default: the spec's)")
    args = ap.parse_args(argv)
    store = Store(args.store)
    C, cal = calibrate_e3(store)
    if not math.isfinite(C):
        raise SystemExit(f"E3 calibration gave C_opt = {C}: more seeds needed")
    sw = S.load(os.path.join(HERE, "e9_falsify.toml"))
    spec = copy.deepcopy(sw.spec)
    written = spec["vars"]["C_e3"]
    spec["vars"]["C_e3"] = float(f"{C:.6g}")
    res = falsify(S.from_spec(spec, path=sw.path), store=store, budget=args.budget, progress=True)
    narrow = copy.deepcopy(spec)   # the calibrated schedule and objective: alpha and T only
    narrow["sweep"]["name"] = "e9_falsify_alpha_T"
    narrow["falsify"]["search"] = {k: v for k, v in spec["falsify"]["search"].items()
                                   if k in ("noise.alpha", "n_steps")}
    res2 = falsify(S.from_spec(narrow, path=sw.path), store=store, budget=args.budget, progress=True)
    note = (f"C_opt = {C:.6g} calibrated at δ = {DELTA:g} on the E3 cells {'; '.join(cal)} (2000 seeds each)"
            + ("" if math.isclose(C, written, rel_tol=1e-5) else f"; the spec's C_e3 = {written:g} differs: update it"))
    how = ("Ratio = the search's (1-δ)-quantile of Q over B(δ): > 1 fails at the estimate, near 1 tight, "
           "<< 1 loose.")
    text = "\n".join(["# E9: hunting the calibrated Li & Liu clipped-SGD bound", "", "## Calibration", "", note, "",
                      "## Hunt 1: alpha, c_eta, c_lam, T, objective", "", _demote(res.summary()), "",
                      "### Tight and loose (search, exploratory)", "", how, "", tightness(res), "",
                      "## Hunt 2: calibrated schedule and objective; alpha and T only", "",
                      _demote(res2.summary()), "", "### Tight and loose (search, exploratory)", "", how, "",
                      tightness(res2), ""])
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"report written to {args.out}")
    else:
        print(text)
    return res.exit_code


def _demote(markdown):
    """Headings one level down (the falsify report inside the E9 report)."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


if __name__ == "__main__":
    raise SystemExit(main())
