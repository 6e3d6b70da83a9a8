"""Figures from a store, never from a simulation (``clipsim plot``): :func:`draw_figure` returns a matplotlib
Figure; :func:`plot_figure` saves it as PDF and PNG with a caption file ``<name>.txt`` (:func:`caption`).

``[[figure]]`` kinds (keys in brackets are optional):

- ``rate``: statistic of ``metric`` against grid variable ``x`` (log-log), one line per ``group``
  with order-statistic CI bars, and the ``bound`` itself, ``C·B(δ)`` at ``δ = 1 - q`` for the plotted
  q-quantile (the median: δ = 0.5), log factor included, its hidden constant fitted on each series'
  smallest-x cell (dashed, same colour);
- ``quantile_delta``: (1-δ)-quantile of ``metric`` against 1/δ for δ in ``deltas``, one line per
  cell series (``group``), order-statistic CIs, GPD extrapolation where δ < 10/n;
- ``failure_probability``: Clopper-Pearson P(Q > B(δ)) against δ, with the line P = δ. A hidden
  constant without a value in ``values`` is calibrated per δ exactly as ``clipsim check`` does
  (:func:`clipsim.decisions.calibrate_and_test`): from the figure's own ``calibrate`` table (grid values
  of the calibration cells; Python callers of :func:`plot_figure`), else from the sweep's
  ``[[check]]`` of the same bound that has a ``calibrate`` table (its values, where, metric and
  confidence are used, so the constant is the report's). Then only the held-out cells are drawn,
  P(Q > C(δ)·B(δ)), and the fitted C(δ) are listed in the title;
- ``gen_gap``: like ``rate`` against the sample size ``objective.n`` (default metric final_gen_gap);
- ``tail_index``: Hill estimates (CI) of the tail index of ``metric`` per cell against ``x``;
- ``trajectory``: median and 10-90% band of a record (``metric``, default ``gap``) over time; with
  ``bound`` (and ``values``) also the bound against t, one dashed line per series, evaluated at
  t = s - 1 for the record step s (the updates before the recorded iterate w_s; w_1 is the start),
  with the run's ``theory_values()`` (``Delta``, ``mu``, ``eta``, ...) available to ``values``.

A line of ``rate``, ``gen_gap``, ``tail_index`` and ``trajectory`` is one configuration: a grid path
that varies at a fixed ``x`` but is not grouped and not fixed by ``where`` splits the series too
(:func:`split_axes`, said in the caption). Cells that cannot be drawn (an infinite statistic: too many
seeds diverged) are counted in the title and named in the caption, never dropped silently.
"""
from __future__ import annotations

import os
import warnings
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from . import stats as St  # noqa: E402
from .sweep import _resolve, check_figure, matches  # noqa: E402

plt.rcParams.update({"figure.figsize": (5.2, 3.8), "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                     "savefig.bbox": "tight", "figure.dpi": 110})


#: y-axis words for the metrics and records (docs/metrics.md has the full glossary)
METRIC_WORDS = {
    "avg_grad_sq": "(1/T)Σ‖∇F(w_t)‖²", "min_grad_sq": "min_t ‖∇F(w_t)‖²", "final_grad_sq": "‖∇F(w_{T+1})‖²",
    "final_gap": "F(w_{T+1}) − F*", "final_value": "F(w_{T+1})", "avg_grad_norm": "(1/T)Σ‖∇F(w_t)‖",
    "clip_fraction": "fraction of clipped steps", "max_dist": "max_t ‖w_t − w_1‖",
    "avg_pop_grad_sq": "(1/T)Σ‖∇F_pop(w_t)‖²", "final_pop_grad_sq": "‖∇F_pop(w_{T+1})‖²",
    "final_pop_gap": "F_pop(w_{T+1}) − F_pop*", "final_gen_gap": "F_pop(w_{T+1}) − F_S(w_{T+1})",
    "final_grad_dev": "‖∇F_pop(w_{T+1}) − ∇F_S(w_{T+1})‖", "grad_sq": "‖∇F(w_t)‖²", "gap": "F(w_t) − F*",
    "dist": "‖w_t − w_1‖", "pop_grad_sq": "‖∇F_pop(w_t)‖²", "gen_gap": "F_pop(w_t) − F_S(w_t)"}
#: the status tags in a few words (docs/theory.md has them in full)
STATUS_WORDS = {"V": "read in the paper", "2nd": "read in a restatement", "R": "recalled", "D": "derived here",
                "U": "user-supplied"}
#: x-axis words for the usual grid paths
AXIS_WORDS = {"n_steps": "horizon T (steps)", "objective.n": "sample size n", "optimizer.batch": "batch size B",
              "noise.alpha": "noise tail index α", "noise.tail_index": "noise tail index a",
              "objective.dim": "dimension d"}


def metric_words(metric: str) -> str:
    """``metric`` as a formula in words for an axis label (the code name when unknown)."""
    return METRIC_WORDS.get(metric, metric)


def _stat_words(stat, metric):
    what = metric_words(metric)
    return f"median of {what}" if stat == "median" else f"{float(stat):g}-quantile of {what}"


def _title(*lines):
    """Title lines without blanks (a missing user title leaves no empty first line)."""
    return "\n".join(str(s) for s in lines if s)


def _legend(ax, **kw):
    """Legend outside the axes, on the right: it never covers data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)


def _colour(colours, label, i):
    """The series' colour: fixed per group label across every figure of a sweep (``colours``), else C{i}."""
    return colours.get(label, f"C{i % 10}") if colours else f"C{i % 10}"


def _values(cell, res, metric):
    q = np.asarray(res.metrics[metric] if metric in res.metrics else res.records[metric], dtype=float)
    div = res.metrics["diverged"]
    return np.where(div[:, None] if q.ndim == 2 else div, np.inf, q)


def _keys(group):
    return [group] if isinstance(group, str) else list(group or [])


def _coord(cell, path):
    """A cell's value of a grid path (its coordinate, else the variable of the path's last component)."""
    return dict(cell.coords).get(path, cell.variables.get(path.split(".")[-1]))


def _groups(items, group, split=()):
    """Split [(cell, res)] by the grid coordinate(s) named in ``group`` (str or list), then by the paths
    in ``split`` (:func:`split_axes`; labelled with their full path)."""
    keys = _keys(group)
    out = defaultdict(list)
    for cell, res in items:
        label = ", ".join([f"{k.split('.')[-1]}={_coord(cell, k)}" for k in keys] +
                          [f"{k}={_coord(cell, k)}" for k in split])
        out[label or "all"].append((cell, res))
    return out


#: the kinds that draw one point per cell along an x path (None: one line per cell, over time)
SERIES_X = {"rate": "n_steps", "gen_gap": "objective.n", "tail_index": "noise.alpha", "trajectory": None}


def split_axes(spec, items):
    """Grid paths that are neither the figure's ``x`` nor in ``group`` but take two values among the
    cells of one series at one x (``where`` did not fix them): merging those cells into one line would
    zigzag between configurations, so such a figure is split by them too (one series per value)."""
    kind = spec["kind"]
    if kind not in SERIES_X:
        return []
    x = spec.get("x", SERIES_X[kind]) if SERIES_X[kind] else None
    keys = _keys(spec.get("group"))
    at = defaultdict(list)
    for cell, _ in items:
        at[(tuple(repr(_coord(cell, k)) for k in keys), repr(_coord(cell, x)) if x else "")].append(cell)
    paths = dict.fromkeys(p for cell, _ in items for p, _ in cell.coords)
    return [p for p in paths if p != x and p not in keys
            and any(len({repr(_coord(c, p)) for c in cells}) > 1 for cells in at.values())]


def _series(spec, items):
    """The figure's series: ``group``, then :func:`split_axes`."""
    return _groups(items, spec.get("group"), split_axes(spec, items))


def _undrawn(spec, items):
    """Cells a series figure leaves out, as (cell, why): a rate's statistic that is not finite (too many
    seeds diverged), a tail index with fewer than 3 finite values, a trajectory whose median is infinite
    at every recorded step."""
    kind = spec["kind"]
    metric = spec.get("metric", {"gen_gap": "final_gen_gap", "trajectory": "gap"}.get(kind, "avg_grad_sq"))
    out = []
    for cell, res in items:
        div = int(np.count_nonzero(res.metrics["diverged"]))
        n = int(np.asarray(res.metrics["diverged"]).size)
        if kind in ("rate", "gen_gap"):
            stat = spec.get("statistic", "median")
            bad = not np.isfinite(_stat(_values(cell, res, metric), stat)[0])
        elif kind == "tail_index":
            bad = np.count_nonzero(np.isfinite(_values(cell, res, metric))) < 3
        elif kind == "trajectory" and metric in res.records:
            bad = not np.isfinite(_seed_quantile(_record_values(res, metric), 0.5)).any()
        elif kind == "quantile_delta":
            d = max(spec.get("deltas", [1e-1]))
            bad = not np.isfinite(St.quantile_ci(_values(cell, res, metric), 1 - d).estimate)
        else:
            bad = False
        if bad:
            out.append((cell, f"{div}/{n} seeds diverged"))
    return out


def _undrawn_note(spec, items):
    """One line on the cells a figure leaves out (None when it draws every cell)."""
    gone = _undrawn(spec, items)
    if not gone:
        return None
    what = {"tail_index": "fewer than 3 finite values", "trajectory": "median infinite at every step",
            "quantile_delta": "every quantile infinite"}.get(
        spec["kind"], f"{_stat_words(spec.get('statistic', 'median'), '').split(' of ')[0]} infinite")
    cells = "; ".join(f"{c.label()} ({why})" for c, why in gone[:4]) + ("; ..." if len(gone) > 4 else "")
    return f"Not drawn: {len(gone)} of {len(items)} cells ({what}, seeds diverged): {cells}."


def _stat(x, statistic, conf=0.95):
    q = 0.5 if statistic == "median" else float(statistic)
    ci = St.quantile_ci(x, q, conf)
    return ci.estimate, ci.low, ci.high


def _readable_log_ticks(ax):
    """At least two labelled ticks on every log axis: decades; else 1-2-5 labels; else three ticks
    spread geometrically over the view (3 significant digits). Minor tick labels are off."""
    for axis, scale, lim in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()), (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        if scale != "log":
            continue
        lo, hi = sorted(lim)
        axis.set_minor_formatter(NullFormatter())

        def shown():
            v = axis.get_major_locator().tick_values(lo, hi)
            return int(np.sum((v >= lo * (1 - 1e-9)) & (v <= hi * (1 + 1e-9))))
        if shown() < 2:
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        if shown() < 2:
            axis.set_ticks(np.geomspace(lo * 1.02, hi / 1.02, 3))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))


def _save(fig, out, name):
    os.makedirs(out, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        p = os.path.join(out, f"{name}.{ext}")
        fig.savefig(p, dpi=160 if ext == "png" else None)
        paths.append(p)
    plt.close(fig)
    return paths


def _bound_label(spec):
    """(Bound, title line): name, status tag and the bound's formula as mathtext where it renders."""
    if not spec.get("bound"):
        return None, None
    import sympy as sp
    from matplotlib.mathtext import MathTextParser

    from .decisions import resolve_bound

    import theory

    b = resolve_bound(spec["bound"], "[[figure]] bound")
    label = f"bound {b.name} [{b.status}: {STATUS_WORDS.get(b.status, b.status)}]"
    given = {k: v for k, v in spec.get("values", {}).items() if isinstance(v, (int, float))}
    given.update({k: v for k, v in dict(getattr(b, "defaults", None) or {}).items() if k not in given})
    expr = b.expr.subs({s: sp.nsimplify(given[s.name]) for s in b.expr.free_symbols if s.name in given})
    lhs = theory.QUANTITIES.get(b.quantity, r"\mathrm{" + b.quantity.replace("_", r"\_") + "}")
    rel = r"\geq" if b.kind == "lower_bound" else r"\leq"
    tex = f"${lhs} {rel} {sp.latex(expr)}$"
    try:
        MathTextParser("agg").parse(tex)
        label += "\n" + tex
    except ValueError:  # a construct mathtext lacks: keep the name only
        pass
    return b, label


def _rate(spec, items, ax, default_metric, colours=None):
    """Statistic against ``x`` on log-log axes with the bound's slope per group; when a statistic is
    <= 0 somewhere (e.g. a generalization gap of either sign) the y axis is symmetric-log and no slope
    is drawn (a log-log slope needs positive values)."""
    metric = spec.get("metric", default_metric)
    x = spec.get("x", "n_steps")
    stat = spec.get("statistic", "median")
    bound, blabel = _bound_label(spec)
    var = {"n_steps": "T", "objective.n": "n", "optimizer.batch": "B"}.get(x, "T")
    series = []
    for label, group in sorted(_series(spec, items).items()):
        pts = sorted((dict(c.coords)[x], _stat(_values(c, r, metric), stat)) for c, r in group)
        xs = np.array([p[0] for p in pts], dtype=float)
        est, lo, hi = (np.array([p[1][k] for p in pts]) for k in range(3))
        series.append((label, group, xs, est, lo, hi))
    signed = any(np.any(np.isfinite(e) & (e <= 0)) for *_, e, _, _ in series)
    for i, (label, group, xs, est, lo, hi) in enumerate(series):
        ok = np.isfinite(est) & (True if signed else est > 0)
        if not ok.any():   # every cell of the series left out: no empty legend entry (the caption lists them)
            continue
        color = _colour(colours, label, i)
        e, l, h = est[ok], lo[ok], hi[ok]   # only drawn cells: no inf - inf
        lo_err = np.where(np.isfinite(l), e - l, 0)
        hi_err = np.where(np.isfinite(h), h - e, 0)
        ax.errorbar(xs[ok], e, yerr=[lo_err, hi_err], fmt="o-", ms=3, color=color, capsize=2, label=label)
        if bound is not None and not signed and ok.sum() >= 2:
            try:
                bx, by, how = _bound_curve(bound, spec, group, x, stat, metric)
            except ValueError as e:  # the bound needs values the run does not give: its slope only
                vals = _resolve(dict(spec.get("values", {})), group[0][0].variables, "figure values")
                r = float(bound.exponent(var, **({"alpha": vals["alpha"]} if "alpha" in vals else {})))
                bx, by = xs[ok], est[ok][0] * (xs[ok] / xs[ok][0]) ** r
                how = f"slope {r:.3f} only ({str(e).split(': ', 1)[-1]})"
            ax.plot(bx, by, "--", color=color, lw=1, label=f"bound, {how}" if i == 0 else None)
    ax.set_xscale("log")
    ticks = np.unique(np.concatenate([xs for _, _, xs, *_ in series]))
    if 1 < ticks.size <= 8:  # few grid values: label them, not the decades
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    if signed:
        mags = np.abs(np.concatenate([e[np.isfinite(e) & (e != 0)] for *_, e, _, _ in series]))
        ax.set_yscale("symlog", linthresh=float(mags.min()) if mags.size else 1e-3)
        ax.axhline(0.0, color="k", lw=0.6)
    else:
        ax.set_yscale("log")
    ax.set_xlabel(AXIS_WORDS.get(x, x))
    ax.set_ylabel(_stat_words(stat, metric))
    note = "some values ≤ 0: symmetric-log y axis, no slopes" if signed else None
    gone = len(_undrawn(spec, items))
    left = (f"{gone} of {len(items)} cells not drawn: {_stat_words(stat, metric).split(' of ')[0]} infinite "
            "(seeds diverged)") if gone else None
    ax.set_title(_title(spec.get("title"), blabel, note, left), fontsize=8)
    _legend(ax)


def _bound_curve(bound, spec, group, x, stat, metric):
    """The bound itself along ``x`` for one series: ``C·B(δ)`` at ``δ = 1 - q`` (q the plotted quantile,
    0.5 for the median), log factor included. A hidden constant without a value is fitted on the
    series' smallest-x cell (:func:`clipsim.stats.calibrate_constant`: C·B above the upper confidence
    bound of that cell's quantile), so the curve shows the bound's shape, anchored at one cell."""
    from .check import check as check_bound
    from .decisions import _AsQuantity

    q = 0.5 if stat == "median" else float(stat)
    delta = 1.0 - q if bound.delta is not None else None
    rows = []
    for cell, res in group:
        vals = _resolve(dict(spec.get("values", {})), _expr_vars(cell, res), "figure values")
        free = [h.name for h in bound.hidden_constants if h.name not in vals]
        vals.update({h: 1.0 for h in free})
        v = _values(cell, res, metric)
        B = check_bound(bound, _AsQuantity(res, bound.quantity, v), delta, **vals).bound_value
        rows.append((dict(cell.coords)[x], B, v, free))
    rows.sort(key=lambda r: r[0])
    xs = np.array([r[0] for r in rows], dtype=float)
    B = np.array([r[1] for r in rows])
    if not rows[0][3]:
        return xs, B, f"δ = {delta:g}" if delta is not None else "as given"
    C = St.calibrate_constant([St.Cell(rows[0][2], rows[0][1])], 1.0 - q).C
    what = f"C·B(δ={delta:g})" if delta is not None else "C·B"
    return xs, C * B, f"{what}, {', '.join(rows[0][3])} fitted at the smallest {x}"


def _quantile_delta(spec, items, ax, colours=None):
    """One series per cell (cells are never pooled: different configs are different laws); with ``bound``,
    B(δ) per cell (dashed, same colour) where ``values`` give every symbol and hidden constant."""
    metric = spec.get("metric", "avg_grad_sq")
    bound, blabel = _bound_label(spec)
    deltas = np.array(spec.get("deltas", [1e-1, 1e-2, 1e-3, 1e-4]), dtype=float)
    series = sorted(((lab + (f" [{c.label()}]" if len(g) > 1 else ""), lab, c, r)
                     for lab, g in _groups(items, spec.get("group")).items() for c, r in g), key=lambda t: t[0])
    missing = set()
    for i, (label, glabel, cell, res) in enumerate(series):
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
        color = _colour(colours, glabel, i) if label == glabel else f"C{i % 10}"
        inv = 1 / deltas
        note = ", poor GPD fit" if poor else ""
        ax.plot(inv, est, "o-", ms=3, color=color, label=f"{label} (n={x.size}{note})")
        ax.fill_between(inv, np.where(np.isfinite(lo), lo, est), np.where(np.isfinite(hi), hi, est),
                        color=color, alpha=0.2)
        if ext.any():
            ax.plot(inv[ext], est[ext], "s", mfc="none", color=color, ms=6)
        if bound is not None:
            B = _bound_over_delta(bound, spec, cell, res, metric, deltas, missing)
            if B is not None:
                ax.plot(inv, B, "--", color=color, lw=1, label=f"B(δ), {label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("1/δ")
    ax.set_ylabel(f"(1-δ)-quantile of {metric_words(metric)}")
    note = f"B(δ) not drawn: no value for {', '.join(sorted(missing))}" if missing else None
    ax.set_title(_title(spec.get("title", "(1-δ)-quantile against 1/δ (squares: GPD extrapolation)"), blabel,
                        note), fontsize=8)
    _legend(ax)


def _bound_over_delta(bound, spec, cell, res, metric, deltas, missing):
    """B(δ) of one cell at each δ, or None (names added to ``missing``) when a value is not given."""
    from .check import check as check_bound
    from .decisions import _AsQuantity

    if bound.delta is None:
        return None
    vals = _resolve(dict(spec.get("values", {})), _expr_vars(cell, res), "figure values")
    free = [h.name for h in bound.hidden_constants if h.name not in vals]
    if free:
        missing.update(free)
        return None
    view = _AsQuantity(res, bound.quantity, _values(cell, res, metric))
    try:
        return np.array([check_bound(bound, view, float(d), **vals).bound_value for d in deltas])
    except ValueError as e:
        missing.add(str(e).split(": ", 1)[-1][:60])
        return None


def _calibration_spec(spec, bound, checks):
    """The check-like table whose ``calibrate`` fits the figure's free hidden constant, or None."""
    given = spec.get("values", {})
    free = [h.name for h in bound.hidden_constants if h.name not in given]
    if not free:
        return None
    if spec.get("calibrate") is not None:
        return {"bound": spec["bound"], **{k: spec[k] for k in ("values", "calibrate", "metric") if k in spec}}
    from .decisions import bound_name

    for c in checks:
        if bound_name(c.get("bound")) == bound.name and c.get("calibrate") is not None:
            return c
    raise ValueError(f"[[figure]] failure_probability: {bound.name} has hidden constant(s) {', '.join(free)} "
                     "without a value: give it in values, or a calibrate table (in the figure or in a "
                     "[[check]] of the same bound)")


def _failure(spec, items, ax, all_items=None, checks=(), colours=None):
    from .check import check as check_bound
    from .decisions import calibrate_and_test

    bound, blabel = _bound_label(spec)
    if bound is None:
        raise ValueError("[[figure]] failure_probability needs 'bound'")
    deltas = np.array(spec.get("deltas", [0.2, 0.1, 0.05, 0.02]), dtype=float)
    cspec = _calibration_spec(spec, bound, checks)
    series = []  # (group label, cell label, est, lo, hi)
    constants = []
    if cspec is not None:
        conf = float(cspec.get("confidence", 0.95))
        pool = [(c, r) for c, r in (all_items or items) if matches(c, cspec.get("where"))]
        shown = {c.label(): lab for lab, g in _groups(items, spec.get("group")).items() for c, _ in g}
        order = {c.label(): i for i, (c, _) in enumerate(items)}
        per_cell = defaultdict(list)
        for d in deltas:
            name, cal, test = calibrate_and_test(cspec, pool, float(d), conf)
            constants.append((float(d), cal.C))
            for ct in (test.cells if test is not None else ()):
                per_cell[ct.label].append((ct.failure.estimate, ct.failure.low, ct.failure.high))
        for lab in sorted(per_cell, key=lambda k: (shown.get(k, ""), order.get(k, 0))):
            if lab in shown and len(per_cell[lab]) == deltas.size:
                est, lo, hi = map(np.array, zip(*per_cell[lab]))
                series.append((shown[lab], lab, est, lo, hi))
        if not series:
            raise ValueError("[[figure]] failure_probability: no held-out cell is selected by the figure's where")
    else:
        for label, group in _groups(items, spec.get("group")).items():
            for cell, res in group:
                vals = _resolve(dict(spec.get("values", {})), _expr_vars(cell, res), "figure values")
                rows = []
                for d in deltas:
                    bc = check_bound(bound, res, float(d), **vals)
                    rows.append((bc.failure.estimate, bc.failure.low, bc.failure.high))
                est, lo, hi = map(np.array, zip(*rows))
                series.append((label, cell.label(), est, lo, hi))
        series.sort(key=lambda t: t[0])  # stable: sweep order within a group
    colors = {g: _colour(colours, g, i) for i, g in enumerate(sorted({s[0] for s in series}))}
    markers = "osD^v<>pP*"
    within = defaultdict(int)
    K = len(series)
    for k, (glab, clab, est, lo, hi) in enumerate(series):
        m = markers[within[glab] % len(markers)]
        within[glab] += 1
        x = deltas * np.exp(0.025 * (k - (K - 1) / 2))  # spread the cells sideways, within one δ
        ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt=m, ms=3.5, color=colors[glab], capsize=2, lw=1,
                    label=clab if K <= 12 else (glab if within[glab] == 1 else None))
    xs = np.array([deltas.min() / 1.3, deltas.max() * 1.3])
    ax.plot(xs, xs, "k--", lw=1, label="P = δ")
    ax.set_xlim(*xs)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylim(bottom=0)
    ax.set_xticks(deltas)
    ax.set_xticklabels([f"{d:g}" for d in deltas])
    ax.set_xlabel("δ")
    if cspec is not None:
        free = next(h.name for h in bound.hidden_constants if h.name not in cspec.get("values", {}))
        ax.set_ylabel(f"P(Q > {free}(δ)·B(δ)), held-out cells")
        where = ", ".join(f"{k}={v}" for k, v in cspec["calibrate"].items())
        cs = ", ".join(f"{c:.3g}" for _, c in constants)
        blabel = f"{blabel}\n{free}(δ) = {cs} fitted on {where}"
    else:
        ax.set_ylabel("P(Q > B(δ))")
    ax.set_title(_title(spec.get("title"), blabel, "(Clopper-Pearson 95% intervals)"), fontsize=7)
    _legend(ax)


def _expr_vars(cell, res, extra=None):
    from .decisions import expression_variables

    return expression_variables(cell, res, extra)


def _tail(spec, items, ax, colours=None):
    """Hill estimates per cell against ``x``; against the noise's α, a squared quantity's reference α/2
    (the square of a variable with tail index α has tail index α/2)."""
    metric = spec.get("metric", "avg_grad_sq")
    x = spec.get("x", "noise.alpha")
    allx = []
    for i, (label, group) in enumerate(sorted(_series({"x": x, **spec}, items).items())):
        pts = []
        for c, r in group:
            v = _values(c, r, metric)
            if np.count_nonzero(np.isfinite(v)) < 3:   # left out; the caption says so
                continue
            h = St.hill_estimator(v[np.isfinite(v)])
            pts.append((dict(c.coords).get(x, c.variables.get(x.split(".")[-1])), h.alpha, h.low, h.high))
        if not pts:
            continue
        pts.sort()
        xs, e, lo, hi = map(np.array, zip(*pts))
        ax.errorbar(xs, e, yerr=[e - lo, hi - e], fmt="o-", ms=3, capsize=2, color=_colour(colours, label, i),
                    label=label)
        allx += list(xs)
    if x.split(".")[-1] == "alpha" and "sq" in metric and allx:
        ref = np.array(sorted(set(allx)), dtype=float)
        ax.plot(ref, ref / 2, "k:", lw=1.2, label="α/2 (tail index of a squared α-tailed variable)")
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if hi / lo < 100:  # a log axis with labelled 1-2-5 ticks, at least two in view
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(AXIS_WORDS.get(x, x))
    ax.set_ylabel(f"Hill tail index of {metric_words(metric)}")
    ax.set_title(_title(spec.get("title"), "(Hill estimator, 95% intervals)"), fontsize=8)
    _legend(ax)


def _record_values(res, metric):
    """A record (seeds × record steps; +inf once a seed diverged): the trajectory's values. A record
    shares its name with a per-seed metric (``avg_grad_sq``: the running average against the average
    over all T steps), so it is looked up among the records only."""
    if metric not in res.records:
        raise ValueError(f"[[figure]] metric = {metric!r} is not allowed for a trajectory: must be a record of "
                         f"this run: {', '.join(res.records) or 'none (the sweep records no steps)'}")
    q = np.asarray(res.records[metric], dtype=float)
    return np.where(res.metrics["diverged"][:, None], np.inf, q)


def _seed_quantile(v, q):
    """The q-quantile over seeds (axis 0) of a record with +inf for diverged seeds: +inf where the
    quantile falls among them (linear interpolation between two infinities would give nan and warn)."""
    with np.errstate(invalid="ignore"):
        out = np.median(v, axis=0) if q == 0.5 else np.quantile(v, q, axis=0)
    return np.where(np.isnan(out), np.inf, out)


def _trajectory(spec, items, ax, colours=None):
    metric = spec.get("metric", "gap")
    bound, blabel = _bound_label(spec)
    for i, (label, group) in enumerate(sorted(_series(spec, items).items())):
        for cell, res in group[:1]:   # one cell per series (split_axes splits by every other varying path)
            v = _record_values(res, metric)
            steps = res.record_steps
            med, lo, hi = (_seed_quantile(v, q) for q in (0.5, 0.1, 0.9))
            color = _colour(colours, label, i)
            ax.plot(steps, med, color=color, label=label)
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2)
            if bound is not None:
                ts = np.asarray(steps, dtype=float)
                ax.plot(ts, [_bound_at(bound, spec, cell, res, int(s) - 1) for s in steps], "--", color=color,
                        lw=1.2, label=f"{label}: bound")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(f"{metric_words(metric)}: median, 10-90% of seeds")
    ax.set_title(_title(spec.get("title"), f"dashed: {blabel}" if blabel else None), fontsize=8)
    _legend(ax)


def _bound_at(bound, spec, cell, res, t):
    """The bound's value for one run at t (theory_values, then the resolved figure values, then t)."""
    vals = _resolve(dict(spec.get("values", {})), _expr_vars(cell, res, {"t": t}), "figure values")
    vals = {**res.theory_values(**({"alpha": vals["alpha"]} if "alpha" in vals else {})), **vals, "t": t}
    allowed = set(bound.symbols) | set(getattr(bound, "parameters", ()))
    return float(np.asarray(bound.evaluate(**{k: v for k, v in vals.items() if k in allowed}), dtype=float))


def draw_figure(spec, items, checks=(), colours=None, name="figure"):
    """One ``[[figure]]`` spec drawn from [(cell, SimResult)]: a matplotlib Figure (nothing is written).

    ``checks``: the sweep's ``[[check]]`` tables (a ``failure_probability`` figure takes its calibration
    from the one of the same bound); ``colours``: group label → colour, shared by a sweep's figures."""
    all_items = items
    items = [(c, r) for c, r in items if matches(c, spec.get("where"))]
    if not items:
        raise ValueError(f"[[figure]] {name}: no stored cell matches where = {spec.get('where')}")
    colours = colours if colours is not None else group_colours(spec, all_items)
    fig, ax = plt.subplots()
    kind = spec["kind"]
    if kind in ("rate", "gen_gap"):
        _rate({"x": "objective.n", **spec} if kind == "gen_gap" else spec, items, ax,
              "avg_grad_sq" if kind == "rate" else "final_gen_gap", colours)
    elif kind == "quantile_delta":
        _quantile_delta(spec, items, ax, colours)
    elif kind == "failure_probability":
        _failure(spec, items, ax, all_items, checks, colours)
    elif kind == "tail_index":
        _tail(spec, items, ax, colours)
    else:
        _trajectory(spec, items, ax, colours)
    if not ax.get_title().strip():
        ax.set_title(_what(spec), fontsize=8)
    _readable_log_ticks(ax)
    return fig


def group_colours(spec, items):
    """Group label → colour over every cell of the sweep (not only the figure's ``where``), so a series
    keeps its colour in every figure grouped the same way."""
    return {lab: f"C{i % 10}" for i, lab in enumerate(sorted(_groups(items, spec.get("group"))))}


_INTERVALS = {
    "rate": "bars: distribution-free order-statistic {conf} confidence intervals of the per-cell statistic",
    "gen_gap": "bars: distribution-free order-statistic {conf} confidence intervals of the per-cell statistic",
    "quantile_delta": "bands: distribution-free order-statistic {conf} confidence intervals of the quantile; "
                      "open squares: generalized-Pareto tail extrapolation (δ < 10/seeds) with its interval",
    "failure_probability": "bars: exact Clopper-Pearson {conf} intervals of P(Q > B(δ)); dashed: P = δ",
    "tail_index": "bars: {conf} intervals of the Hill estimator",
    "trajectory": "bands: 10%-90% of seeds (spread, not a confidence interval)",
}


def _what(spec):
    """What a figure plots, in words (the default title, and the caption's first line)."""
    kind = spec["kind"]
    metric = spec.get("metric", {"gen_gap": "final_gen_gap", "trajectory": "gap"}.get(kind, "avg_grad_sq"))
    return {"rate": f"{_stat_words(spec.get('statistic', 'median'), metric)} against "
                    f"{AXIS_WORDS.get(spec.get('x', 'n_steps'), spec.get('x', 'n_steps'))}",
            "gen_gap": f"{_stat_words(spec.get('statistic', 'median'), metric)} against the sample size n",
            "quantile_delta": f"(1-δ)-quantile of {metric_words(metric)} against 1/δ",
            "failure_probability": "estimated failure probability P(Q > B(δ)) against δ",
            "tail_index": f"Hill tail index of {metric_words(metric)}",
            "trajectory": f"median of {metric_words(metric)} against the step t"}[kind]


def _upper_first(s):
    return s[:1].upper() + s[1:]


def caption(spec, items) -> str:
    """The caption written beside a figure: what is plotted, seeds per cell, the interval type and level."""
    items = [(c, r) for c, r in items if matches(c, spec.get("where"))]
    seeds = sorted({int(np.asarray(r.metrics["diverged"]).size) for _, r in items})
    n = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    kind, what = spec["kind"], _what(spec)
    split = split_axes(spec, items)
    per = " and ".join(([", ".join(_keys(spec["group"]))] if spec.get("group") else []) + split) or "sweep"
    also = (f" (split by {', '.join(split)} too: it varies {'at a fixed x ' if SERIES_X[kind] else ''}and is "
            "neither in group nor fixed by where)") if split else ""
    lines = [spec.get("title") or what, f"Plotted: {what}; one series per {per}{also}.",
             f"Cells: {len(items)}; seeds per cell: {n}.", _undrawn_note(spec, items),
             _upper_first(_INTERVALS[kind].format(conf="95%")) + "."]
    if spec.get("bound"):
        label = _bound_label(spec)[1].splitlines()[0].removeprefix("bound ")
        values = "; ".join(f"{k} = {v['expr'] if isinstance(v, dict) and 'expr' in v else v}"
                           for k, v in spec.get("values", {}).items())
        lines.append(f"Bound: {label}" + (f"; values: {values}." if values else "."))
    if kind == "failure_probability":
        lines.append("A hidden constant without a value is fitted per δ on the calibration cells (as `clipsim "
                     "check` does; the fitted values are in the title) and only held-out cells are drawn.")
    return "\n".join(line for line in lines if line) + "\n"


def plot_figure(spec, items, out, name, checks=(), colours=None):
    """Draw one ``[[figure]]`` spec (:func:`draw_figure`) and save it into ``out`` as PDF, PNG and a
    caption ``<name>.txt`` (:func:`caption`); returns the file paths."""
    check_figure(spec, name, [c for c, _ in items])
    fig = draw_figure(spec, items, checks, colours, name)
    paths = _save(fig, out, name)
    path = os.path.join(out, f"{name}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(caption(spec, items))
    return paths + [path]


def plot_sweep(sweep, store, out):
    """All ``[[figure]]`` tables of ``sweep`` from ``store`` into directory ``out``."""
    from .decisions import load_results

    if not sweep.figures:
        raise ValueError(f"sweep {sweep.name!r} declares no [[figure]] tables")
    items = load_results(sweep, store)
    paths = []
    for i, spec in enumerate(sweep.figures):
        name = spec.get("name", f"{sweep.name}_{spec['kind']}_{i + 1}")
        paths += plot_figure(spec, items, out, name, sweep.checks)
    return paths


__all__ = ["caption", "draw_figure", "group_colours", "metric_words", "plot_figure", "plot_sweep"]
