"""Bound checks of a stored sweep as data: verdicts, calibrations, families, shapes, rates, growth.

The decisions behind ``clipsim check``; :mod:`clipsim.report` renders them as Markdown and the figures read
them. The public entry point is :func:`check_sweep` → :class:`SweepCheck`.

Each ``[[check]]`` of a sweep spec is run against the stored cells:

- per cell and per δ: :func:`clipsim.check` (verdict, interval, bound value, tightness, validity);
- ``calibrate = {grid values}``: the bound's hidden constant is fitted on the matching cells
  (:func:`clipsim.stats.calibrate_constant`) and tested on the others
  (:func:`clipsim.stats.test_calibrated`), per δ;
- ``rate = "n_steps"`` (or ``"objective.n"``): the log-log slope of the ``statistic`` (default
  median) against that grid variable, per group of the other grid values, with its bootstrap CI,
  against the bound's exponent (:meth:`theory.Bound.exponent`, with the run's horizon-prescribed
  eta/lam substituted when the bound's expression carries them); ``tolerance`` sets a practical band;
- ``shape = ["n_steps", "delta", ...]``: does ``(1-δ)-quantile / B(δ)`` trend in that variable across
  the cells (:func:`shape_test`, :func:`clipsim.stats.shape_trend`);
- ``growth = true``: per cell, polylog versus polynomial growth in 1/δ (:func:`clipsim.stats.delta_growth`).

Family verdict of a check (:func:`cell_family`, :func:`calibration_family`): its members are the
(cell, δ) pairs it decides; "violated" by Holm's step-down over the members' exact binomial p-values
(family-wise error <= (1-confidence)/2 under any dependence), "holds" when every member holds (an
intersection-union claim: no correction needed), else "inconclusive". Calibration and shape tests
refuse cells that share random streams (``[sweep] streams = "common"``); bounds tagged
``symmetric_noise`` are refused on asymmetric noise. ``bound`` may be a registry name or an inline
table parsed by :func:`theory.parse_bound` (:func:`resolve_bound`).

Mapping metrics to a bound's quantity, and values:

- ``metric`` names the recorded metric that plays the bound's quantity (default: the bound's
  ``quantity``); per-cell verdicts use it too, e.g. ``metric = "final_gap"`` for a bound on the
  "loss", ``metric = "max_dist"`` for a bound on the "distance" from the start;
- ``metric`` may name a *record* (``clipsim.engine.RECORDS``, e.g. ``"gap"``): a trajectory bound is
  then checked per cell at every record step s, with the expression variable ``t = s - 1`` (the
  number of updates before the recorded iterate w_s; w_1 is the start), one row per (cell, t); a bound
  in ``t`` skips the start (t = 0), which log-spaced record grids always include;
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

    @property
    def local_slopes(self):
        """Slopes between consecutive x values (point estimates of the statistic)."""
        lx, ly = np.log(self.slope.x), np.log(self.slope.stats)
        return tuple((np.diff(ly) / np.diff(lx)).tolist())

    @property
    def approaching(self):
        """True if the local slopes move toward the theory at every step (a finite-x transient)."""
        gaps = [abs(v - self.theory) for v in self.local_slopes]
        return len(gaps) >= 2 and all(b < a for a, b in zip(gaps, gaps[1:]))


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
        self.noise = getattr(res, "noise", None)
        self.optimizer = getattr(res, "optimizer", None)
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
        uses_t = "t" in bound.symbols
        out = []
        for j, s in enumerate(np.asarray(res.record_steps).tolist()):
            t = int(s) - 1
            if t < 1 and uses_t:  # the start w_1 (t = 0): a bound in t (t > 0) says nothing there
                continue
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


def _run_schedule(cell, var):
    """{eta, lam: c·T^a} for the cell's horizon-prescribed schedules (when the rate is in T), so a
    bound whose expression carries eta or lam gets the exponent of the schedule actually run."""
    if var != "n_steps":
        return None
    import sympy as sp

    T = sp.Symbol("T", positive=True)
    opt = cell.config["optimizer"]
    out = {}
    for knob, key in (("eta", "eta"), ("lam", "clip")):
        sch = opt.get(key)
        if isinstance(sch, dict) and sch.get("kind") == "horizon":
            out[knob] = sp.nsimplify(sch["c"], rational=True) * T ** sp.nsimplify(sch["a"], rational=True)
        elif isinstance(sch, (int, float)) and not isinstance(sch, bool):
            out[knob] = sp.nsimplify(sch, rational=True)
    return out or None


def _alpha(values):
    return {"alpha": values["alpha"]} if "alpha" in values else {}


def calibration_split(spec, results, delta, confidence=0.95):
    """Cells of a check with ``calibrate``, as :class:`clipsim.stats.Cell` (bound value with the free
    hidden constant = 1) → (name of the free constant, calibration cells, held-out cells).

    ``results`` are the [(cell, SimResult)] the check applies to (after ``where``); a cell is a
    calibration cell when it matches the ``calibrate`` table of grid values. Used by :func:`run_check`
    and by the ``failure_probability`` figure, so both fit the same constant.
    """
    bound = resolve_bound(spec["bound"])
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


def _refuse_asymmetric(bound, results):
    """A bound proved for symmetric noise only is not checked (rates included) on asymmetric noise."""
    if not getattr(bound, "symmetric_noise", False):
        return
    from .noise import Noise

    for cell, _ in results:
        nz = Noise.from_dict(cell.config["noise"])
        if not nz.symmetric:
            raise ValueError(f"[[check]] {bound.name} is proved for symmetric noise only; cell [{cell.label()}] "
                             f"has asymmetric noise {nz}: restrict the check with `where`")


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
    """Evaluate one ``[[check]]`` table over ``results`` → :class:`CheckResult`."""
    bound = resolve_bound(spec["bound"])
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
        return CheckResult(**out)
    _refuse_asymmetric(bound, results)
    calib = spec.get("calibrate")
    missing = [h.name for h in bound.hidden_constants if h.name not in spec.get("values", {})]
    shape_only = calib is None and missing and (spec.get("rate") or spec.get("growth") or spec.get("shape"))
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
            expo = float(bound.exponent(RATE_SYMBOL[var], schedule=_run_schedule(items[0][1], var), **_alpha(vals)))
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
    return CheckResult(**out)


def exit_code(checks):
    """0: every family holds and every rate is within tolerance; 1: a family is violated, a shape is
    rejected or a rate is outside tolerance; 3: nothing of that, but something is inconclusive."""
    bad = unsure = False
    for ev in checks:
        fam = ev.get("family")
        bad |= fam is not None and fam.verdict == "violated"
        unsure |= fam is not None and fam.verdict == "inconclusive"
        bad |= any(not rr.within for rr in ev.get("rates", ()))
        bad |= (ev.get("rare") or {}).get("verdict") == "violated"
        unsure |= (ev.get("rare") or {}).get("verdict") == "inconclusive"
        for sh in ev.get("shape", ()):
            bad |= sh.verdict == "rejected"
            unsure |= sh.verdict == "inconclusive"
    return 1 if bad else (3 if unsure else 0)


# --------------------------------------------------------------------------------------------
# own bounds in TOML

_INLINE_KEYS = ("name", "expr", "quantity", "kind", "delta", "hidden", "valid_when", "schedule", "defaults",
                "rate_var", "description")
_INLINE_CACHE: dict = {}


def resolve_bound(spec_bound, where="[[check]] bound"):
    """A registry name → :func:`theory.get`; an inline table ``{name, expr, quantity, kind[, delta, hidden,
    valid_when, schedule, defaults, rate_var, description]}`` → :func:`theory.parse_bound` (the safe
    parser: arithmetic and whitelisted functions, never ``eval``). ``hidden``, when given, must list
    exactly the hidden constants (``C``/``C_*`` names) the expression uses; ``delta`` names the delta
    symbol (default: ``delta`` if the expression uses it)."""
    import json

    import theory

    if isinstance(spec_bound, str):
        try:
            return theory.get(spec_bound)
        except ValueError as e:  # name the table and field, not only the unknown name
            raise ValueError(f"{where} = {spec_bound!r} is not allowed: {e}") from None
    if not isinstance(spec_bound, dict):
        raise ValueError(f"{where} = {spec_bound!r} is not allowed: must be a registry name or a table "
                         "{name, expr, quantity, kind}")
    for k in spec_bound:
        if k not in _INLINE_KEYS:
            raise ValueError(f"{where}: unknown key {k!r}: valid keys are {', '.join(_INLINE_KEYS)}")
    missing = [k for k in ("name", "expr", "quantity", "kind") if k not in spec_bound]
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(missing)} (an own bound needs name, expr, quantity, "
                         "kind)")
    key = json.dumps(spec_bound, sort_keys=True, default=str)
    if key not in _INLINE_CACHE:
        b = dict(spec_bound)
        hidden = b.pop("hidden", None)
        b.setdefault("delta", "auto")
        try:
            bound = theory.parse_bound(b.pop("expr"), **b)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where} {spec_bound.get('name')!r}: {e}") from None
        got = sorted(h.name for h in bound.hidden_constants)
        if hidden is not None and sorted(hidden) != got:
            raise ValueError(f"{where} {bound.name!r}: hidden = {hidden!r} is not allowed: the expression's hidden "
                             f"constants are {got or 'none'}")
        _INLINE_CACHE[key] = bound
    return _INLINE_CACHE[key]


def bound_name(spec_bound):
    """The name of a ``[[check]]``/``[[figure]]`` bound (registry name or inline table)."""
    return spec_bound if isinstance(spec_bound, str) else resolve_bound(spec_bound).name


# --------------------------------------------------------------------------------------------
# results as data


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One evaluated ``[[check]]``: per-cell verdicts ``cells`` [(cell, BoundCheck)], ``calibration``
    [(δ, constant name, Calibration, CalibrationTest)], ``family`` (:class:`stats.FamilyVerdict` or
    None), ``shape`` [ShapeTest], ``rates`` [RateRow], ``growth`` [(cell, DeltaGrowth)], ``summary``
    [SummaryRow], ``rare`` (rare-event P(Q > B(δ)) per cell, :func:`clipsim.rare.rare_check`). Items are
    also readable as ``result["cells"]``."""

    bound: object
    spec: dict
    metric: str = ""
    note: str = ""
    cells: list = dataclasses.field(default_factory=list)
    calibration: list = dataclasses.field(default_factory=list)
    rates: list = dataclasses.field(default_factory=list)
    growth: list = dataclasses.field(default_factory=list)
    summary: list = dataclasses.field(default_factory=list)
    family: object = None
    shape: list = dataclasses.field(default_factory=list)
    rare: dict = dataclasses.field(default_factory=dict)

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)


_VERDICT_ORDER = {"violated": 0, "inconclusive": 1, "holds": 2}


@dataclasses.dataclass(frozen=True)
class SweepCheck:
    """Every ``[[check]]`` of a sweep against its stored cells (:func:`check_sweep`), as data.

    ``checks``: one :class:`CheckResult` per ``[[check]]``; ``exit_code``: 0 all hold and every rate is
    within tolerance, 1 something violated / shape rejected / rate outside tolerance, 3 otherwise
    inconclusive. ``to_frame()``: one row per verdict (pandas, imported lazily); ``to_markdown()``: the
    report of ``clipsim check``.
    """

    sweep: object
    checks: tuple
    results: list = dataclasses.field(repr=False, default_factory=list)

    @property
    def exit_code(self):
        return exit_code(self.checks)

    @property
    def families(self):
        return [(ev.bound.name, ev.family) for ev in self.checks if ev.family is not None]

    def rows(self):
        """Plain dicts, one per verdict: per cell × δ, held-out cell × δ, family, shape and rate."""
        out = []
        for i, ev in enumerate(self.checks):
            base = {"check": i, "bound": ev.bound.name}
            for cell, bc in ev.cells:
                out.append({**base, "kind": "cell", "cell": cell.label(), **dict(cell.coords), "delta": bc.delta,
                            "verdict": bc.verdict, "statistic": bc.statistic, "estimate": bc.estimate,
                            "low": bc.low, "high": bc.high, "bound_value": bc.bound_value, "ratio": bc.ratio,
                            "p_fail": bc.failure.estimate if bc.failure else None, "n_seeds": bc.n_seeds,
                            "reason": bc.reason})
            for delta, name, cal, test in ev.calibration:
                for c in (test.cells if test is not None else ()):
                    out.append({**base, "kind": "held_out", "cell": c.label, "delta": delta, "verdict": c.verdict,
                                "estimate": c.quantile, "bound_value": c.bound, "ratio": c.tightness,
                                "p_fail": c.failure.estimate, "low": c.failure.low, "high": c.failure.high,
                                "constant": name, "constant_value": cal.C})
            if ev.family is not None:
                out.append({**base, "kind": "family", "verdict": ev.family.verdict, "n_members": ev.family.n_members,
                            "reason": ev.family.method})
            for sh in ev.shape:
                out.append({**base, "kind": "shape", "cell": sh.var, "verdict": sh.verdict, "estimate": sh.slope,
                            "low": sh.low, "high": sh.high})
            for rr in ev.rates:
                out.append({**base, "kind": "rate", "cell": rr.group, "verdict": "within" if rr.within else "outside",
                            "estimate": rr.slope.slope, "low": rr.slope.low, "high": rr.slope.high,
                            "bound_value": rr.theory})
        return out

    def to_frame(self):
        """A pandas DataFrame of :meth:`rows` (needs pandas: ``pip install 'clipsim[frames]'``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("SweepCheck.to_frame needs pandas: pip install 'clipsim[frames]'") from None
        return pd.DataFrame(self.rows())

    def to_markdown(self):
        from .report import render

        return render(self.sweep, self.checks, self.results)[0]

    def _tally(self):
        fams = [f.verdict for _, f in self.families]
        return ", ".join(f"{fams.count(v)} {v}" for v in ("holds", "violated", "inconclusive") if v in fams) or "none"

    def __repr__(self):
        return (f"SweepCheck({self.sweep.name!r}: {len(self.checks)} checks, {len(self.results)} cells; "
                f"families: {self._tally()}; exit code {self.exit_code})")

    def _repr_html_(self):
        import html

        rows = "".join(f"<tr><td>{html.escape(n)}</td><td><b>{f.verdict}</b></td><td>{f.n_members}</td>"
                       f"<td>{len(f.violated)} / {f.n_holds} / {f.n_inconclusive}</td></tr>" for n, f in self.families)
        return (f"<p><b>SweepCheck {html.escape(self.sweep.name)}</b>: {len(self.checks)} checks, exit code "
                f"{self.exit_code}</p><table><tr><th>bound</th><th>family verdict</th><th>members</th>"
                f"<th>violated / hold / inconclusive</th></tr>{rows}</table>")


def check_sweep(spec_or_path, store) -> SweepCheck:
    """Run every ``[[check]]`` of a sweep (a :class:`clipsim.sweep.Sweep`, a spec dict or a TOML path)
    against ``store`` (a :class:`clipsim.store.Store` or its directory) → :class:`SweepCheck`."""
    from . import sweep as S
    from .store import Store

    if isinstance(spec_or_path, S.Sweep):
        sweep = spec_or_path
    elif isinstance(spec_or_path, dict):
        sweep = S.from_spec(spec_or_path)
    else:
        sweep = S.load(spec_or_path)
    store = store if isinstance(store, Store) else Store(store, create=False)
    if not sweep.checks:
        raise ValueError(f"sweep {sweep.name!r} declares no [[check]] tables")
    results = load_results(sweep, store)
    return SweepCheck(sweep, tuple(run_check(spec, results) for spec in sweep.checks), results)
