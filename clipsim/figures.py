"""Figures from a store, never from a simulation (``clipsim plot``). Each is saved as PDF and PNG.

``[[figure]]`` kinds (keys in brackets are optional):

- ``rate``: statistic of ``metric`` against grid variable ``x`` (log-log), one line per ``group``
  with order-statistic CI bars, and the ``bound``'s theoretical slope anchored at the last point;
- ``quantile_delta``: (1-δ)-quantile of ``metric`` against 1/δ for δ in ``deltas``, one line per
  cell series (``group``), order-statistic CIs, GPD extrapolation where δ < 10/n;
- ``failure_probability``: Clopper-Pearson P(Q > B(δ)) against δ, with the line P = δ;
- ``gen_gap``: like ``rate`` against the sample size ``objective.n`` (default metric final_gen_gap);
- ``tail_index``: Hill estimates (CI) of the tail index of ``metric`` per cell against ``x``;
- ``trajectory``: median and 10-90% band of a record (``metric``, default ``gap``) over time.
"""
from __future__ import annotations

import math
import os
import warnings
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from . import stats as St  # noqa: E402
from .sweep import _resolve, matches  # noqa: E402

plt.rcParams.update({"figure.figsize": (5.2, 3.8), "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                     "savefig.bbox": "tight", "figure.dpi": 110})


def _values(cell, res, metric):
    q = np.asarray(res.metrics[metric] if metric in res.metrics else res.records[metric], dtype=float)
    div = res.metrics["diverged"]
    return np.where(div[:, None] if q.ndim == 2 else div, np.inf, q)


def _groups(items, group):
    """Split [(cell, res)] by the grid coordinate(s) named in ``group`` (str or list)."""
    keys = [group] if isinstance(group, str) else list(group or [])
    out = defaultdict(list)
    for cell, res in items:
        coords = dict(cell.coords)
        label = ", ".join(f"{k.split('.')[-1]}={coords.get(k, cell.variables.get(k.split('.')[-1]))}" for k in keys)
        out[label or "all"].append((cell, res))
    return out


def _stat(x, statistic, conf=0.95):
    q = 0.5 if statistic == "median" else float(statistic)
    ci = St.quantile_ci(x, q, conf)
    return ci.estimate, ci.low, ci.high


def _save(fig, out, name):
    os.makedirs(out, exist_ok=True)
    for ax in fig.axes:
        if ax.get_xscale() == "log":
            ax.xaxis.set_minor_formatter(NullFormatter())
        if ax.get_yscale() == "log":
            ax.yaxis.set_minor_formatter(NullFormatter())
    paths = []
    for ext in ("pdf", "png"):
        p = os.path.join(out, f"{name}.{ext}")
        fig.savefig(p, dpi=160 if ext == "png" else None)
        paths.append(p)
    plt.close(fig)
    return paths


def _bound_label(spec):
    if not spec.get("bound"):
        return None, None
    import theory

    b = theory.get(spec["bound"])
    return b, f"{b.name} [{b.status}]"


def _rate(spec, items, ax, default_metric):
    metric = spec.get("metric", default_metric)
    x = spec.get("x", "n_steps")
    stat = spec.get("statistic", "median")
    bound, blabel = _bound_label(spec)
    var = {"n_steps": "T", "objective.n": "n", "optimizer.batch": "B"}.get(x, "T")
    for i, (label, group) in enumerate(sorted(_groups(items, spec.get("group")).items())):
        pts = sorted((dict(c.coords)[x], _stat(_values(c, r, metric), stat)) for c, r in group)
        xs = np.array([p[0] for p in pts], dtype=float)
        est = np.array([p[1][0] for p in pts])
        lo = np.array([p[1][1] for p in pts])
        hi = np.array([p[1][2] for p in pts])
        ok = np.isfinite(est) & (est > 0)
        color = f"C{i}"
        lo_err = np.where(np.isfinite(lo), est - lo, 0)
        hi_err = np.where(np.isfinite(hi), hi - est, 0)
        ax.errorbar(xs[ok], est[ok], yerr=[lo_err[ok], hi_err[ok]], fmt="o-", ms=3, color=color, capsize=2,
                    label=label)
        if bound is not None and ok.sum() >= 2:
            vals = _resolve(dict(spec.get("values", {})), group[0][0].variables, "figure values")
            subs = {"alpha": vals["alpha"]} if "alpha" in vals else {}
            r = float(bound.exponent(var, **subs))
            xa = xs[ok][-1]
            ax.plot(xs[ok], est[ok][-1] * (xs[ok] / xa) ** r, "--", color=color, lw=1,
                    label=f"theory slope {r:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{stat} of {metric}")
    if blabel:
        ax.set_title(f"{spec.get('title', '')}\n{blabel}", fontsize=8)
    ax.legend(fontsize=6, ncol=2)


def _quantile_delta(spec, items, ax):
    """One series per cell (cells are never pooled: different configs are different laws)."""
    metric = spec.get("metric", "avg_grad_sq")
    deltas = np.array(spec.get("deltas", [1e-1, 1e-2, 1e-3, 1e-4]), dtype=float)
    series = sorted(((lab + (f" [{c.label()}]" if len(g) > 1 else ""), c, r)
                     for lab, g in _groups(items, spec.get("group")).items() for c, r in g), key=lambda t: t[0])
    for i, (label, cell, res) in enumerate(series):
        x = _values(cell, res, metric)
        est, lo, hi, ext = [], [], [], []
        poor = False
        for d in deltas:
            ci = St.quantile_ci(x, 1 - d)
            if x.size * d >= 10 or d >= 0.05 or not np.isfinite(x).all():  # GPD fits above the 0.9-quantile
                est.append(ci.estimate), lo.append(ci.low), hi.append(ci.high), ext.append(False)
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", St.PoorFitWarning)
                    g = St.gpd_tail_quantile(x, d)
                poor |= bool(caught) or bool(getattr(g, "poor_fit", False))
                est.append(g.estimate), lo.append(g.low), hi.append(g.high), ext.append(True)
        est, lo, hi, ext = map(np.array, (est, lo, hi, ext))
        color = f"C{i}"
        inv = 1 / deltas
        note = ", poor GPD fit" if poor else ""
        ax.plot(inv, est, "o-", ms=3, color=color, label=f"{label} (n={x.size}{note})")
        ax.fill_between(inv, np.where(np.isfinite(lo), lo, est), np.where(np.isfinite(hi), hi, est),
                        color=color, alpha=0.2)
        if ext.any():
            ax.plot(inv[ext], est[ext], "s", mfc="none", color=color, ms=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("1/δ")
    ax.set_ylabel(f"(1-δ)-quantile of {metric}")
    ax.set_title(spec.get("title", "quantile vs δ (squares: GPD extrapolation)"), fontsize=8)
    ax.legend(fontsize=6)


def _failure(spec, items, ax):
    from .check import check as check_bound

    bound, blabel = _bound_label(spec)
    if bound is None:
        raise ValueError("[[figure]] failure_probability needs 'bound'")
    deltas = np.array(spec.get("deltas", [0.2, 0.1, 0.05, 0.02]), dtype=float)
    for i, (label, group) in enumerate(sorted(_groups(items, spec.get("group")).items())):
        for j, (cell, res) in enumerate(group):
            vals = _resolve(dict(spec.get("values", {})), cell.variables, "figure values")
            est, lo, hi = [], [], []
            for d in deltas:
                bc = check_bound(bound, res, float(d), **vals)
                est.append(bc.failure.estimate), lo.append(bc.failure.low), hi.append(bc.failure.high)
            est, lo, hi = map(np.array, (est, lo, hi))
            ax.errorbar(deltas * (1 + 0.04 * j), est, yerr=[est - lo, hi - est], fmt="o", ms=3, color=f"C{i}",
                        capsize=2, label=label if j == 0 else None)
    ax.plot(deltas, deltas, "k--", lw=1, label="P = δ")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("δ")
    ax.set_ylabel("P(Q > B(δ))  (Clopper-Pearson)")
    ax.set_title(f"{spec.get('title', '')}\n{blabel}", fontsize=8)
    ax.legend(fontsize=6)


def _tail(spec, items, ax):
    metric = spec.get("metric", "avg_grad_sq")
    x = spec.get("x", "noise.alpha")
    for i, (label, group) in enumerate(sorted(_groups(items, spec.get("group")).items())):
        pts = []
        for c, r in group:
            v = _values(c, r, metric)
            h = St.hill_estimator(v[np.isfinite(v)])
            pts.append((dict(c.coords).get(x, c.variables.get(x.split(".")[-1])), h.alpha, h.low, h.high))
        pts.sort()
        xs, e, lo, hi = map(np.array, zip(*pts))
        ax.errorbar(xs, e, yerr=[e - lo, hi - e], fmt="o-", ms=3, capsize=2, color=f"C{i}", label=label)
    ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"Hill tail index of {metric}")
    ax.set_title(spec.get("title", ""), fontsize=8)
    ax.legend(fontsize=6)


def _trajectory(spec, items, ax):
    metric = spec.get("metric", "gap")
    for i, (label, group) in enumerate(sorted(_groups(items, spec.get("group")).items())):
        for cell, res in group[:1]:
            v = _values(cell, res, metric)
            steps = res.record_steps
            med = np.median(v, axis=0)
            lo, hi = np.quantile(v, 0.1, axis=0), np.quantile(v, 0.9, axis=0)
            ax.plot(steps, med, color=f"C{i}", label=label)
            ax.fill_between(steps, lo, hi, color=f"C{i}", alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(f"{metric} (median, 10-90%)")
    ax.set_title(spec.get("title", ""), fontsize=8)
    ax.legend(fontsize=6)


def plot_figure(spec, items, out, name):
    """Draw one ``[[figure]]`` spec from [(cell, SimResult)] into ``out``; returns the file paths."""
    items = [(c, r) for c, r in items if matches(c, spec.get("where"))]
    if not items:
        raise ValueError(f"[[figure]] {name}: no stored cell matches where = {spec.get('where')}")
    fig, ax = plt.subplots()
    kind = spec["kind"]
    if kind == "rate":
        _rate(spec, items, ax, "avg_grad_sq")
    elif kind == "gen_gap":
        _rate({"x": "objective.n", **spec}, items, ax, "final_gen_gap")
    elif kind == "quantile_delta":
        _quantile_delta(spec, items, ax)
    elif kind == "failure_probability":
        _failure(spec, items, ax)
    elif kind == "tail_index":
        _tail(spec, items, ax)
    else:
        _trajectory(spec, items, ax)
    return _save(fig, out, name)


def plot_sweep(sweep, store, out):
    """All ``[[figure]]`` tables of ``sweep`` from ``store`` into directory ``out``."""
    from .report import load_results

    if not sweep.figures:
        raise ValueError(f"sweep {sweep.name!r} declares no [[figure]] tables")
    items = load_results(sweep, store)
    paths = []
    for i, spec in enumerate(sweep.figures):
        name = spec.get("name", f"{sweep.name}_{spec['kind']}_{i + 1}")
        paths += plot_figure(spec, items, out, name)
    return paths


__all__ = ["plot_figure", "plot_sweep", "math"]
