"""Markdown rendering of a sweep's bound checks (``clipsim check``); the decisions are in
:mod:`clipsim.decisions` (data), which this module only reads.
"""
from __future__ import annotations

import math

import numpy as np

from . import stats as St
from .check import check as check_bound
from .decisions import exit_code


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
    cfg = results[0][0].config if results else {}
    lines += [f"- cells: {len(results)}; seeds per cell: {', '.join(map(str, seeds))}; root seed "
              f"{cfg.get('root_seed', cfg.get('seed', '—'))}; random streams: {cfg.get('streams', 'common')} "
              "across cells",
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
                      "| group | fitted exponent | CI | theory | difference | within ±tol | CI covers theory | "
                      "local slopes (consecutive x) |",
                      "|---|---|---|---|---|---|---|---|"]
            for rr in ev["rates"]:
                loc = ", ".join(f"{v:.3f}" for v in rr.local_slopes)
                if not rr.within and rr.approaching:
                    loc += " (each closer to theory: a finite-T transient?)"
                lines.append(f"| {rr.group} | {rr.slope.slope:.3f} | [{rr.slope.low:.3f}, {rr.slope.high:.3f}] | "
                             f"{rr.theory:.3f} | {rr.slope.slope - rr.theory:+.3f} | "
                             f"{'yes' if rr.within else 'no'} (±{rr.tolerance:g}) | {'yes' if rr.covered else 'no'} | "
                             f"{loc} |")
            lines.append("")
        if ev["growth"]:
            lines += [f"**Growth of the (1-δ)-quantile of `{ev['metric']}` as δ → 0** (polylog vs polynomial in 1/δ; "
                      f"a description of the data, not a verdict on the bound: 'polylog' needs the GPD shape interval "
                      f"≤ {ev['growth'][0][1].margin:g}, 'polynomial' both κ and ξ intervals > 0)", "",
                      "| cell | decision | κ (coefficient of log 1/δ) [CI] | polynomial slope | polylog power | GPD ξ [CI] | quantiles |",
                      "|---|---|---|---|---|---|---|"]
            for cell, g in ev["growth"]:
                qs = ", ".join(f"{d:g}: {_fmt(q)}" for d, q in zip(g.deltas, g.quantiles))
                dec = g.decision + (f" (≈{g.seeds_to_decide:,} seeds would decide)"
                                    if g.decision == "inconclusive" and (g.seeds_to_decide or -1) > 0 else "")
                lines.append(f"| {cell.label()} | **{dec}** | {g.kappa:.3f} [{g.kappa_low:.3f}, {g.kappa_high:.3f}] | "
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


def emit(text, out=None):
    """Write ``text`` to the file ``out`` (and say so), or print it when ``out`` is None."""
    if out:
        with open(out, "w") as f:
            f.write(text)
        print(f"report written to {out}")
    else:
        print(text)


def check_sweep(sweep, store):
    """(Markdown report, exit code as in :func:`clipsim.decisions.exit_code`) for all ``[[check]]``
    tables of ``sweep`` (the ``clipsim check`` command; :func:`clipsim.check_sweep` gives the data)."""
    from .decisions import check_sweep as decide

    sc = decide(sweep, store)
    return sc.to_markdown(), sc.exit_code


def failure_probe(sweep, cell_index, bound_name, delta, values, confidence):
    """(bound, cell, B(δ), unmet validity conditions or "") for ``clipsim failure-prob``: the bound (a
    registry name or a ``[[check]]`` table's own bound of that name) evaluated at the cell's values, from
    a one-seed probe run."""
    from . import _validate as V
    from .check import unmet_conditions
    from .decisions import resolve_bound
    from .runner import run_config

    inline = [c["bound"] for c in sweep.checks if isinstance(c.get("bound"), dict)
              and c["bound"].get("name") == bound_name]
    bound = resolve_bound(inline[0] if inline else bound_name, "--bound")
    i = V.integer("--cell", cell_index, 0, len(sweep.cells) - 1)
    cell = sweep.cells[i]
    probe = check_bound(bound, run_config({**cell.config, "n_seeds": 1, "record": None}), delta,
                        confidence=confidence, **values)
    return bound, cell, probe.bound_value, unmet_conditions(probe.conditions)


def failure_decision(evidence, unmet):
    """The decision of ``clipsim failure-prob``: the evidence's, unless a validity condition is not met
    (then "inconclusive", as :func:`clipsim.check` decides); prints it."""
    if unmet:
        print(f"decision: inconclusive: {unmet}; evidence alone: {evidence}")
        return "inconclusive"
    print(f"decision: {evidence}")
    return evidence


def failure_probability_cli(sweep, cell_index, bound_name, delta, values, *, batch, max_seeds, confidence):
    """Sequential estimate of P(Q > B(δ)) for one cell (``clipsim failure-prob``); prints and returns the decision."""
    from .runner import run_config

    bound, cell, B, unmet = failure_probe(sweep, cell_index, bound_name, delta, values, confidence)

    def sample(start, count):
        res = run_config({**cell.config, "n_seeds": count, "first_seed": start, "record": None})
        q = np.asarray(res.metrics[bound.quantity], dtype=float)
        return np.where(res.metrics["diverged"], np.inf, q)

    # a confidence sequence with no horizon: a rerun with a larger --max-seeds keeps the guarantee
    out = St.sequential_failure_test(sample, B, delta, batch=batch, max_seeds=max_seeds, confidence=confidence,
                                     method="betabinomial")
    print(f"{bound.name} on {sweep.name} [{cell.label()}]: B(δ={delta:g}) = {B:.4g}")
    print(f"evidence: {out}")
    return failure_decision(out.decision, unmet)
