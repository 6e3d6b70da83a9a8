"""Bound checks of a stored sweep, as data and as a Markdown report (``clipsim check``).

Each ``[[check]]`` of a sweep spec is run against the stored cells:

- per cell and per δ: :func:`clipsim.check` (verdict, interval, bound value, tightness, validity);
- ``calibrate = {grid values}``: the bound's hidden constant is fitted on the matching cells
  (:func:`clipsim.stats.calibrate_constant`) and tested on the others
  (:func:`clipsim.stats.test_calibrated`), per δ;
- ``rate = "n_steps"`` (or ``"objective.n"``): the log-log slope of the ``statistic`` (default
  median) against that grid variable, per group of the other grid values, with its bootstrap CI,
  against the bound's exponent (:meth:`theory.Bound.exponent`); ``tolerance`` sets a practical band.

Mapping metrics to a bound's quantity, and values:

- ``metric`` names the recorded metric that plays the bound's quantity (default: the bound's
  ``quantity``); per-cell verdicts use it too, e.g. ``metric = "final_gap"`` for a bound on the
  "loss", ``metric = "max_dist"`` for a bound on the "distance" from the start;
- ``metric`` may name a *record* (``clipsim.engine.RECORDS``, e.g. ``"gap"``): a trajectory bound is
  then checked per cell at every record step s, with the expression variable ``t = s - 1`` (the
  number of updates before the recorded iterate w_s; w_1 is the start), one row per (cell, t);
- expressions in ``values`` may use the run's :meth:`SimResult.theory_values` (``Delta``, ``mu``,
  ``eta``, ``lam``, ``L``, ``n``, ...) besides the grid variables and ``[vars]`` (these win).

Per-cell summary (``metric`` given as a *list* of metric names): no verdicts; a table per cell of
each metric's median and ``statistic``-quantile (default 0.9) with distribution-free order-statistic
CIs (:func:`clipsim.stats.quantile_ci`), its mean over finite seeds, its maximum, and the diverged
count (diverged seeds count as +inf). The ``bound`` names the section (the reference the comparison
is about); ``where`` selects cells; ``delta``, ``calibrate``, ``rate`` and ``growth`` are not allowed.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import stats as St
from .check import check as check_bound
from .sweep import _resolve, matches

RATE_SYMBOL = {"n_steps": "T", "objective.n": "n", "optimizer.batch": "B"}


@dataclass(frozen=True)
class RateRow:
    """A fitted exponent for one group of cells."""

    group: str
    var: str
    slope: St.LoglogSlope
    theory: float
    tolerance: float

    @property
    def within(self):
        return abs(self.slope.slope - self.theory) <= self.tolerance

    @property
    def covered(self):
        return self.slope.low <= self.theory <= self.slope.high


def load_results(sweep, store):
    """(cell, SimResult) for every cell of ``sweep``; a clear error if any is not stored."""
    missing = [c for c in sweep.cells if not store.has(c.key)]
    if missing:
        raise ValueError(f"{len(missing)} of {len(sweep.cells)} cells of sweep {sweep.name!r} are not in store "
                         f"{store.path}: run `clipsim run` first")
    return [(c, store.load(c.key)) for c in sweep.cells]


def _deltas(spec):
    d = spec.get("delta")
    return [None] if d is None else (d if isinstance(d, list) else [d])


def expression_variables(cell, res=None, extra=None):
    """Variables for ``values`` expressions: the run's ``theory_values()`` (if ``res`` is given), then
    the cell's grid variables and ``[vars]`` (these win), then ``extra``."""
    out = {}
    if res is not None and hasattr(res, "theory_values"):
        out.update({k: v for k, v in res.theory_values().items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)})
    out.update(cell.variables)
    out.update(extra or {})
    return out


def _cell_values(spec, cell, res=None, extra=None):
    return _resolve(dict(spec.get("values", {})), expression_variables(cell, res, extra),
                    f"[[check]] {spec['bound']} values")


class _AsQuantity:
    """A view of a SimResult whose ``metrics[quantity]`` is another metric (or one record column)."""

    def __init__(self, res, quantity, values):
        self._res = res
        self.metrics = {**res.metrics, quantity: np.asarray(values, dtype=float)}

    def theory_values(self, alpha=None):
        return self._res.theory_values(alpha) if alpha is not None else self._res.theory_values()


def _is_record(spec, bound, res):
    name = spec.get("metric", bound.quantity)
    return isinstance(name, str) and name not in res.metrics and name in getattr(res, "records", {})


def _per_cell(spec, bound, cell, res, delta, conf):
    """[(cell, BoundCheck)] for one cell: one check, or one per record step for a record metric."""
    return [(c, bc) for c, bc, _ in _per_cell_redo(spec, bound, cell, res, delta, conf)]


def _per_cell_redo(spec, bound, cell, res, delta, conf):
    """[(cell, BoundCheck, redo)]: ``redo(confidence)`` repeats the check at another confidence."""
    name = spec.get("metric", bound.quantity)
    if _is_record(spec, bound, res):
        rec = np.asarray(res.records[name], dtype=float)
        out = []
        for j, s in enumerate(np.asarray(res.record_steps).tolist()):
            t = int(s) - 1
            vals = {"t": t, **_cell_values(spec, cell, res, {"t": t})}
            col = np.where(res.metrics["diverged"], np.inf, rec[:, j])
            view = _AsQuantity(res, bound.quantity, col)
            redo = functools.partial(check_bound, bound, view, delta, **vals)
            out.append((dataclasses.replace(cell, coords=cell.coords + (("t", t),)), redo(confidence=conf), redo))
        return out
    vals = _cell_values(spec, cell, res)
    view = res if name == bound.quantity else _AsQuantity(res, bound.quantity, _metric(spec, bound, res))
    redo = functools.partial(check_bound, bound, view, delta, **vals)
    return [(cell, redo(confidence=conf), redo)]


def _applies(bc):
    return all(c.status == "ok" for c in bc.conditions)


def cell_family(checked, conf):
    """:class:`stats.FamilyVerdict` over per-cell checks ``[(cell, BoundCheck, redo)]``.

    Bounds with delta: Holm over the exact binomial violation p-values. Bounds without delta (means):
    no exact p-value, so a member counts as violated only if it is violated at confidence
    ``1 - (1-conf)/m`` (Bonferroni over the m members; valid under any dependence).
    """
    m = len(checked)
    members = []
    binomial = all(bc.failure is not None for _, bc, _ in checked)
    for cell, bc, redo in checked:
        label = cell.label() + (f", δ={bc.delta:g}" if bc.delta is not None else "")
        if not _applies(bc):
            p = None
        elif binomial:
            p = St.violation_pvalue(bc.failure.k, bc.failure.n, bc.delta, bc.kind == "lower_bound")
        else:
            p = 0.0 if bc.verdict == "violated" and redo(confidence=1 - (1 - conf) / m).verdict == "violated" else 1.0
        members.append((label, bc.verdict, p))
    method = None if binomial else "Bonferroni over the members' mean bounds (violated); intersection-union (holds)"
    return St.family_verdict(members, conf, method)


def calibration_family(calibration, conf):
    """:class:`stats.FamilyVerdict` over the held-out cells × δ of a calibrated check (Holm)."""
    members = []
    for delta, _, _, test in calibration:
        if test is None:
            members.append((f"calibration at δ={delta:g}", "inconclusive", None))
            continue
        members += [(f"{c.label}, δ={delta:g}", c.verdict, St.violation_pvalue(c.failure.k, c.failure.n, delta))
                    for c in test.cells]
    return St.family_verdict(members, conf)


def _metric(spec, bound, result):
    name = spec.get("metric", bound.quantity)
    if name not in result.metrics:
        raise ValueError(f"[[check]] {spec['bound']}: metric {name!r} is not recorded; "
                         f"recorded: {', '.join(result.metrics)}")
    q = np.asarray(result.metrics[name], dtype=float)
    return np.where(result.metrics["diverged"], np.inf, q)


def _alpha(values):
    return {"alpha": values["alpha"]} if "alpha" in values else {}


def calibration_split(spec, results, delta, confidence=0.95):
    """Cells of a check with ``calibrate``, as :class:`clipsim.stats.Cell` (bound value with the free
    hidden constant = 1) → (name of the free constant, calibration cells, held-out cells).

    ``results`` are the [(cell, SimResult)] the check applies to (after ``where``); a cell is a
    calibration cell when it matches the ``calibrate`` table of grid values. Used by :func:`run_check`
    and by the ``failure_probability`` figure, so both fit the same constant.
    """
    import theory

    bound = theory.get(spec["bound"])
    calib = spec["calibrate"]
    hidden = [s.name for s in bound.hidden_constants]
    free = [h for h in hidden if h not in spec.get("values", {})]
    if len(free) != 1:
        raise ValueError(f"[[check]] {bound.name}: calibrate needs exactly one hidden constant without a value; "
                         f"hidden: {', '.join(hidden) or 'none'}")
    refuse_shared_streams(results, f"[[check]] {bound.name}: calibrate")
    cal_cells, test_cells = [], []
    for cell, res in results:
        vals = _cell_values(spec, cell, res)
        vals[free[0]] = 1.0
        q = _metric(spec, bound, res)
        bc = check_bound(bound, _AsQuantity(res, bound.quantity, q), delta, confidence=confidence, **vals)
        sc = St.Cell(q, bc.bound_value, cell.label())
        (cal_cells if matches(cell, calib) else test_cells).append(sc)
    if not cal_cells or not test_cells:
        raise ValueError(f"[[check]] {bound.name}: calibrate = {calib} leaves {len(cal_cells)} calibration and "
                         f"{len(test_cells)} held-out cells; need at least one of each")
    return free[0], cal_cells, test_cells


def refuse_shared_streams(results, what):
    """ValueError if two of the cells draw from the same streams (``[sweep] streams = "common"``)."""
    seen = {}
    for cell, _ in results:
        root = cell.config.get("seed")
        if root in seen:
            raise ValueError(f"{what} needs cells with independent draws, but cells [{seen[root]}] and "
                             f"[{cell.label()}] share streams (seed {root}): set [sweep] streams = \"independent\"")
        seen[root] = cell.label()


def calibrate_and_test(spec, results, delta, confidence=0.95):
    """(free constant's name, :class:`stats.Calibration`, :class:`stats.CalibrationTest` or None when
    the fitted constant is not finite) for a check with ``calibrate`` at one ``delta``."""
    name, cal_cells, test_cells = calibration_split(spec, results, delta, confidence)
    cal = St.calibrate_constant(cal_cells, delta, confidence)
    test = St.test_calibrated(cal.C, test_cells, delta, confidence) if math.isfinite(cal.C) else None
    return name, cal, test


@dataclass(frozen=True)
class SummaryRow:
    """Per-cell summary of one metric: median and an upper quantile with order-statistic CIs."""

    cell: object
    metric: str
    median: St.QuantileCI
    upper: St.QuantileCI
    mean: float
    maximum: float
    n_diverged: int
    n_seeds: int


def summarize(results, metrics, q=0.9, confidence=0.95):
    """[SummaryRow] for every (cell, metric): diverged seeds count as +inf; ``mean`` is over the
    finite seeds (``nan`` if none) and is descriptive only (no interval under heavy tails)."""
    q = float(q)
    if not 0.0 < q < 1.0:
        raise ValueError(f"summary quantile = {q!r} is not allowed: must be in (0, 1)")
    rows = []
    for cell, res in results:
        for name in metrics:
            if name not in res.metrics:
                raise ValueError(f"summary: metric {name!r} is not recorded; recorded: {', '.join(res.metrics)}")
            div = np.asarray(res.metrics["diverged"], dtype=bool)
            x = np.asarray(res.metrics[name], dtype=float)
            x = np.where(div | ~np.isfinite(x), np.inf, x)
            fin = x[np.isfinite(x)]
            rows.append(SummaryRow(cell, name, St.quantile_ci(x, 0.5, confidence), St.quantile_ci(x, q, confidence),
                                   float(fin.mean()) if fin.size else math.nan, float(x.max()),
                                   int(np.count_nonzero(~np.isfinite(x))), int(x.size)))
    return rows


def _shape_vars(spec, bound):
    v = spec.get("shape", [])
    v = [v] if isinstance(v, str) else v
    if v and bound.delta is None:
        raise ValueError(f"[[check]] {bound.name}: shape = {v!r} needs a high-probability bound (with delta)")
    for var in v:
        if not isinstance(var, str):
            raise ValueError(f"[[check]] {bound.name}: shape = {v!r} is not allowed: must be grid names or 'delta'")
    return v


def shape_test(spec, bound, results, var, calibration=(), conf=0.95):
    """:class:`stats.ShapeTest` of ``ratio = (1-δ)-quantile / B(δ)`` against ``var`` (a grid name, its
    last component, or ``"delta"``: then x = 1/δ) over every cell and δ of the check, one intercept per
    group of the other grid values (and δ). Hidden constants without a value are set to their
    calibrated value, else 1: a constant scales all ratios alike and does not change the slope. The
    cells must have independent streams (the bootstrap resamples them independently)."""
    refuse_shared_streams(results, f"[[check]] {bound.name}: shape")
    deltas = [d for d in _deltas(spec) if d is not None]
    if not deltas:
        raise ValueError(f"[[check]] {bound.name}: shape needs delta")
    fitted = {name: cal.C for _, name, cal, _ in calibration if math.isfinite(cal.C)}
    members = []
    for cell, res in results:
        vals = _cell_values(spec, cell, res)
        for h in bound.hidden_constants:
            vals.setdefault(h.name, fitted.get(h.name, 1.0))
        q = _metric(spec, bound, res)
        view = _AsQuantity(res, bound.quantity, q)
        coords = dict(cell.coords)
        for delta in deltas:
            if var == "delta":
                x, group = 1.0 / delta, cell.key
            else:
                x = coords.get(var, cell.variables.get(var.split(".")[-1]))
                if not isinstance(x, (int, float)):
                    raise ValueError(f"[[check]] {bound.name}: shape = {var!r} is not a numeric grid value of cell "
                                     f"[{cell.label()}]")
                group = (tuple((p, v) for p, v in cell.coords if p != var), delta)
            B = check_bound(bound, view, delta, confidence=conf, **vals).bound_value
            members.append((f"{cell.label()}, δ={delta:g}", cell.key, q, B, delta, x, group))
    return St.shape_trend(members, "1/δ" if var == "delta" else var, conf, int(spec.get("n_boot", 1000)), seed=0)


def run_check(spec, results):
    """Evaluate one ``[[check]]`` table over ``results`` → dict with 'cells', 'calibration', 'rates',
    'growth' and 'summary'."""
    import theory

    bound = theory.get(spec["bound"])
    conf = float(spec.get("confidence", 0.95))
    where = spec.get("where")
    results = [(c, r) for c, r in results if matches(c, where)]
    out = {"bound": bound, "spec": spec, "cells": [], "calibration": [], "rates": [], "growth": [],
           "summary": [], "family": None, "shape": []}
    metric = spec.get("metric", bound.quantity)
    if isinstance(metric, list):  # per-cell summary only
        bad = [k for k in ("delta", "calibrate", "rate", "growth") if k in spec]
        if bad or not metric or not all(isinstance(m, str) for m in metric):
            raise ValueError(f"[[check]] {bound.name}: metric = {metric!r} (a list) asks for a per-cell summary: "
                             f"needs metric names and no {', '.join(bad) or 'delta, calibrate, rate or growth'}")
        stat = spec.get("statistic", 0.9)
        q = 0.9 if stat == "median" else stat
        out["summary"] = summarize(results, metric, q, conf)
        out["note"] = f"Per-cell summary of {', '.join(f'`{m}`' for m in metric)} (no verdicts)."
        out["metric"] = ", ".join(metric)
        return out
    calib = spec.get("calibrate")
    missing = [h.name for h in bound.hidden_constants if h.name not in spec.get("values", {})]
    shape_only = calib is None and missing and (spec.get("rate") or spec.get("growth"))
    out["note"] = (f"Per-cell verdicts need a value for {', '.join(missing)} (or `calibrate`); this check "
                   f"tests the shape only." if shape_only else "")
    if results and _is_record(spec, bound, results[0][1]) and (calib is not None or spec.get("rate")
                                                                or spec.get("growth")):
        raise ValueError(f"[[check]] {bound.name}: metric {metric!r} is a record: only per-cell checks "
                         "(no calibrate, rate or growth)")
    checked = []
    for delta in ([] if shape_only else _deltas(spec)):
        if calib is None:
            for cell, res in results:
                checked += _per_cell_redo(spec, bound, cell, res, delta, conf)
            continue
        name, cal, test = calibrate_and_test(spec, results, delta, conf)
        out["calibration"].append((delta, name, cal, test))
    out["cells"] = [(c, bc) for c, bc, _ in checked]
    out["family"] = (cell_family(checked, conf) if checked else
                     calibration_family(out["calibration"], conf) if out["calibration"] else None)
    for var in _shape_vars(spec, bound):
        out["shape"].append(shape_test(spec, bound, results, var, out["calibration"], conf))
    var = spec.get("rate")
    if var is not None:
        if var not in RATE_SYMBOL:
            raise ValueError(f"[[check]] {bound.name}: rate = {var!r} is not allowed: must be one of "
                             f"{', '.join(RATE_SYMBOL)}")
        groups = defaultdict(list)
        for cell, res in results:
            key = tuple((p, v) for p, v in cell.coords if p != var)
            groups[key].append((dict(cell.coords)[var], cell, res))
        tol = float(spec.get("tolerance", 0.05))
        for key, items in groups.items():
            items.sort(key=lambda t: t[0])
            x = [t[0] for t in items]
            samples = [_metric(spec, bound, t[2]) for t in items]
            fit = St.loglog_slope(x, samples, statistic=spec.get("statistic", "median"), confidence=conf,
                                  n_boot=int(spec.get("n_boot", 1000)), seed=0)
            vals = _cell_values(spec, items[0][1], items[0][2])
            expo = float(bound.exponent(RATE_SYMBOL[var], **_alpha(vals)))
            label = ", ".join(f"{p}={v}" for p, v in key) or "all"
            out["rates"].append(RateRow(label, var, fit, expo, tol))
    if spec.get("growth"):
        deltas = [d for d in _deltas(spec) if d is not None]
        if len(deltas) < 3:
            raise ValueError(f"[[check]] {bound.name}: growth needs a list of at least 3 deltas")
        for cell, res in results:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always", St.ClipsimWarning)
                g = St.delta_growth(deltas, _metric(spec, bound, res), confidence=conf)
            out["growth"].append((cell, g))
    if spec.get("rare"):  # P(Q > B(δ)) by rare-event estimation, δ down to 1e-8 (clipsim.rare)
        from .rare import rare_check
        out["rare"] = rare_check(spec, metric, results, lambda c, r, d: check_bound(
            bound, r, d, confidence=conf, **_cell_values(spec, c, r)).bound_value, conf)
    out["metric"] = metric
    return out


def _fmt(x):
    if x is None:
        return "—"
    if isinstance(x, float):
        if math.isinf(x):
            return "∞" if x > 0 else "-∞"
        return f"{x:.4g}"
    return str(x)


def render(sweep, checks, results):
    """Markdown for the evaluated checks of ``sweep``."""
    lines = [f"# clipsim report: {sweep.name}", ""]
    if sweep.description:
        lines += [sweep.description, ""]
    meta = results[0][1].meta if results else {}
    seeds = sorted({r.n_seeds for _, r in results})
    lines += [f"- cells: {len(results)}; seeds per cell: {', '.join(map(str, seeds))}; root seed "
              f"{results[0][1].config['seed'] if results else '—'}",
              f"- versions: {', '.join(f'{k} {v}' for k, v in meta.get('versions', {}).items())}; "
              f"threads: {meta.get('threads', '—')}", ""]
    for ev in checks:
        b = ev["bound"]
        lines += [f"## {b.name} ({b.kind}, status [{b.status}])", "",
                  f"Bound: ${b.latex()}$  ", f"Reference: {b.reference}  ",
                  f"Metric: `{ev['metric']}`", ""] + ([ev["note"], ""] if ev["note"] else [])
        fam = ev.get("family")
        if fam is not None:
            lines += [f"**Family verdict: {fam.verdict}** over {fam.n_members} (cell, δ) members: "
                      f"{len(fam.violated)} violated, {fam.n_holds} hold, {fam.n_inconclusive} inconclusive "
                      f"({fam.method}; family-wise error ≤ {fam.level:g})."
                      + (f" Violated: {'; '.join(fam.violated)}." if fam.violated else ""), ""]
        if ev["cells"]:
            lines += ["| cell | δ | verdict | statistic | estimate [CI] | bound | ratio | P(fail) [CI] | diverged | note |",
                      "|---|---|---|---|---|---|---|---|---|---|"]
            for cell, bc in ev["cells"]:
                fail = (f"{bc.failure.estimate:.3g} [{bc.failure.low:.3g}, {bc.failure.high:.3g}]"
                        if bc.failure is not None else "—")
                lines.append(f"| {cell.label()} | {_fmt(bc.delta)} | **{bc.verdict}** | {bc.statistic} | "
                             f"{_fmt(bc.estimate)} [{_fmt(bc.low)}, {_fmt(bc.high)}] | {_fmt(bc.bound_value)} | "
                             f"{_fmt(bc.ratio)} | {fail} | {bc.n_diverged}/{bc.n_seeds} | {bc.reason} |")
            lines.append("")
        for delta, name, cal, test in ev["calibration"]:
            lines += [f"**Calibration** at δ = {delta:g}: {name} = {_fmt(cal.C)} (binding cell {cal.binding}).", ""]
            if test is None:
                lines += ["No finite constant: a calibration cell has too few seeds or too many divergences.", ""]
                continue
            lines += [f"Held-out cells at δ = {delta:g}: **{test.verdict}** (Holm over these cells)", "",
                      "| held-out cell | verdict | P(Q > C·B) [CI] | (1-δ)-quantile | C·B | tightness |",
                      "|---|---|---|---|---|---|"]
            for c in test.cells:
                lines.append(f"| {c.label} | {c.verdict} | {c.failure.estimate:.3g} [{c.failure.low:.3g}, "
                             f"{c.failure.high:.3g}] | {_fmt(c.quantile)} | {_fmt(c.bound)} | {_fmt(c.tightness)} |")
            lines.append("")
        from .rare import rare_lines
        lines += rare_lines(ev.get("rare"))
        for sh in ev.get("shape", ()):
            lines += [f"**Shape in {sh.var}: {sh.verdict}**: slope of log((1-δ)-quantile / B(δ)) against "
                      f"log {sh.var} = {_fmt(sh.slope)} ({sh.confidence:.0%} bootstrap CI over seeds "
                      f"[{_fmt(sh.low)}, {_fmt(sh.high)}]; {len(sh.x)} (cell, δ) members, one intercept per "
                      f"{sh.n_groups} groups). Rejected = the quantile outgrows the bound along {sh.var}.", ""]
        if ev["rates"]:
            lines += [f"**Rates** (log-log slope of the {ev['spec'].get('statistic', 'median')} of `{ev['metric']}` "
                      f"against {ev['rates'][0].var}; bootstrap CI over seeds)", "",
                      "| group | fitted exponent | CI | theory | difference | within ±tol | CI covers theory |",
                      "|---|---|---|---|---|---|---|"]
            for rr in ev["rates"]:
                lines.append(f"| {rr.group} | {rr.slope.slope:.3f} | [{rr.slope.low:.3f}, {rr.slope.high:.3f}] | "
                             f"{rr.theory:.3f} | {rr.slope.slope - rr.theory:+.3f} | "
                             f"{'yes' if rr.within else 'no'} (±{rr.tolerance:g}) | {'yes' if rr.covered else 'no'} |")
            lines.append("")
        if ev["growth"]:
            lines += [f"**Growth of the (1-δ)-quantile of `{ev['metric']}` as δ → 0** (polylog vs polynomial in 1/δ)", "",
                      "| cell | decision | κ (coefficient of log 1/δ) [CI] | polynomial slope | polylog power | GPD ξ [CI] | quantiles |",
                      "|---|---|---|---|---|---|---|"]
            for cell, g in ev["growth"]:
                qs = ", ".join(f"{d:g}: {_fmt(q)}" for d, q in zip(g.deltas, g.quantiles))
                lines.append(f"| {cell.label()} | **{g.decision}** | {g.kappa:.3f} [{g.kappa_low:.3f}, {g.kappa_high:.3f}] | "
                             f"{g.poly_slope:.3f} | {g.polylog_power:.3f} | {g.gpd.xi:.3f} [{g.gpd.xi_low:.3f}, "
                             f"{g.gpd.xi_high:.3f}] | {qs} |")
            lines.append("")
        if ev.get("summary"):
            q = ev["summary"][0].upper.q
            lines += [f"**Per-cell summary** (order-statistic {ev['summary'][0].median.confidence:.0%} CIs; "
                      "diverged seeds count as +∞; mean over finite seeds, descriptive)", "",
                      f"| cell | metric | median [CI] | q{q:g} [CI] | mean | max | diverged |",
                      "|---|---|---|---|---|---|---|"]
            for r in ev["summary"]:
                lines.append(f"| {r.cell.label()} | `{r.metric}` | {_fmt(r.median.estimate)} [{_fmt(r.median.low)}, "
                             f"{_fmt(r.median.high)}] | {_fmt(r.upper.estimate)} [{_fmt(r.upper.low)}, "
                             f"{_fmt(r.upper.high)}] | {_fmt(r.mean)} | {_fmt(r.maximum)} | "
                             f"{r.n_diverged}/{r.n_seeds} |")
            lines.append("")
    return "\n".join(lines), exit_code(checks)


def exit_code(checks):
    """0: every family holds and every rate is within tolerance; 1: a family is violated, a shape is
    rejected or a rate is outside tolerance; 3: nothing of that, but something is inconclusive."""
    bad = unsure = False
    for ev in checks:
        fam = ev.get("family")
        bad |= fam is not None and fam.verdict == "violated"
        unsure |= fam is not None and fam.verdict == "inconclusive"
        bad |= any(not rr.within for rr in ev.get("rates", ()))
        bad |= ev.get("rare", {}).get("verdict") == "violated"
        unsure |= ev.get("rare", {}).get("verdict") == "inconclusive"
        for sh in ev.get("shape", ()):
            bad |= sh.verdict == "rejected"
            unsure |= sh.verdict == "inconclusive"
    return 1 if bad else (3 if unsure else 0)


def emit(text, out=None):
    """Write ``text`` to the file ``out`` (and say so), or print it when ``out`` is None."""
    if out:
        with open(out, "w") as f:
            f.write(text)
        print(f"report written to {out}")
    else:
        print(text)


def check_sweep(sweep, store):
    """(Markdown report, exit code as in :func:`exit_code`) for all ``[[check]]`` tables of ``sweep``."""
    if not sweep.checks:
        raise ValueError(f"sweep {sweep.name!r} declares no [[check]] tables")
    results = load_results(sweep, store)
    checks = [run_check(spec, results) for spec in sweep.checks]
    return render(sweep, checks, results)


def failure_probability_cli(sweep, cell_index, bound_name, delta, values, *, batch, max_seeds, confidence):
    """Sequential estimate of P(Q > B(δ)) for one cell (``clipsim failure-prob``); prints and returns the decision."""
    import theory

    from . import _validate as V
    from .runner import run_config

    bound = theory.get(bound_name)
    i = V.integer("--cell", cell_index, 0, len(sweep.cells) - 1)
    cell = sweep.cells[i]
    probe = run_config({**cell.config, "n_seeds": 1, "record": None})
    B = check_bound(bound, probe, delta, confidence=confidence, **values).bound_value

    def sample(start, count):
        res = run_config({**cell.config, "n_seeds": count, "first_seed": start, "record": None})
        q = np.asarray(res.metrics[bound.quantity], dtype=float)
        return np.where(res.metrics["diverged"], np.inf, q)

    out = St.sequential_failure_test(sample, B, delta, batch=batch, max_seeds=max_seeds, confidence=confidence)
    print(f"{bound.name} on {sweep.name} [{cell.label()}]: B(δ={delta:g}) = {B:.4g}")
    print(str(out))
    return out.decision
