"""Meet a ``theory`` bound with a simulation: ``check(bound, result, delta=...) -> BoundCheck``.

docs/theory.md §5: a high-probability bound is checked through ``P(Q > B(delta))`` (Clopper-Pearson)
and the ``(1-delta)``-quantile's distribution-free interval; an expectation bound through bounds on
the mean; validity conditions first; hidden constants must be given (or calibrated on a split of
the seeds). Verdicts are ``"holds"``, ``"violated"`` or ``"inconclusive"``, always with the evidence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import sympy as sp

from clipsim import _validate as V
from clipsim import stats as S

__all__ = ["BoundCheck", "Condition", "check"]

_KINDS = ("expectation", "high_probability", "generalization", "lower_bound", "lemma")
_VERDICTS = ("holds", "violated", "inconclusive")


@dataclass(frozen=True)
class Condition:
    """One validity condition of the bound: ``status`` is ``"ok"``, ``"violated"`` or ``"unknown"``."""

    relation: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class BoundCheck:
    """The outcome of :func:`check`.

    ``statistic`` names what ``estimate``/``low``/``high`` describe (the ``(1-delta)``-quantile for a
    high-probability bound, the mean for an expectation bound); ``bound_value`` is ``B`` at the
    run's values; ``ratio = estimate / bound_value`` is the tightness (<= 1 where the bound holds
    at the estimate). ``failure`` is the Clopper-Pearson estimate of ``P(Q > B)`` (of ``P(Q >= B)``
    for a lower bound) when ``delta`` is involved. ``conditions`` reports every validity condition.
    """

    bound: str
    kind: str
    quantity: str
    verdict: str
    reason: str
    statistic: str
    estimate: float
    low: float
    high: float
    bound_value: float
    ratio: float
    n_seeds: int
    n_diverged: int
    delta: float | None
    confidence: float
    failure: S.FailureProbability | None = None
    conditions: tuple = ()
    calibrated: Mapping[str, float] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """One line: verdict, the comparison, tightness, seeds."""
        pct = f"{self.confidence:.0%}"
        parts = [f"{self.bound} [{self.kind}] {self.verdict.upper()}:"]
        rel = ">=" if self.kind == "lower_bound" else "<="
        if self.failure is not None:
            f = self.failure
            op = ">=" if self.kind == "lower_bound" else ">"
            parts.append(f"P({self.quantity} {op} B={self.bound_value:.4g}) = {f.k}/{f.n} "
                         f"({pct} CI [{f.low:.3g}, {f.high:.3g}]) vs delta={self.delta:g};")
        parts.append(f"{self.statistic} = {self.estimate:.4g} ({pct} CI [{self.low:.4g}, {self.high:.4g}]) "
                     f"{rel}? B = {self.bound_value:.4g}, ratio {self.ratio:.3g};")
        parts.append(f"{self.n_seeds} seeds, {self.n_diverged} diverged")
        if self.calibrated:
            parts.append("; calibrated " + ", ".join(f"{k}={v:.4g}" for k, v in self.calibrated.items()))
        if self.verdict != "holds" or self.reason:
            parts.append(f"; {self.reason}" if self.reason else "")
        return " ".join(p for p in parts if p).replace(" ;", ";")

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------------


def _theory_values(result, values):
    tv = getattr(result, "theory_values", None)
    if tv is None:
        return {}
    if "alpha" in values:
        try:
            return dict(tv(alpha=values["alpha"]))
        except TypeError:  # a result whose theory_values takes no alpha
            pass
    return dict(tv())


def unmet_conditions(conditions):
    """"" if every validity condition is "ok"; else why not, naming the first one not met (a verdict
    resting on it is "inconclusive", never "holds" or "violated")."""
    bad = [c for c in conditions if c.status != "ok"]
    if not bad:
        return ""
    first = bad[0]
    return (f"validity condition {first.relation} {first.status} ({first.detail})"
            + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""))


def _algorithm(bound, optimizer):
    """The condition that the run's optimizer is an update rule the theorem is about (``bound.algorithms``:
    preset names; a chain counts when built by the preset). () when the bound names none or the run's
    optimizer is unknown."""
    algs = tuple(getattr(bound, "algorithms", ()) or ())
    name = getattr(optimizer, "name", None)
    if not algs or name is None:
        return ()
    rel = "optimizer is " + " or ".join(algs)
    if name in algs:
        return (Condition(rel, "ok"),)
    return (Condition(rel, "violated", f"this run's optimizer is {name}: the theorem is about {' or '.join(algs)} "
                                       "only"),)


def _conditions(bound, vals):
    """Evaluate each ``valid_when`` relation at ``vals``; unknown when symbols lack values."""
    out = []
    for rel in getattr(bound, "valid_when", ()):
        syms = sorted(rel.free_symbols, key=lambda s: s.name)
        missing = [s.name for s in syms if s.name not in vals]
        text = str(rel)
        if missing:
            out.append(Condition(text, "unknown", f"no value for {', '.join(missing)}"))
            continue
        try:
            fn = sp.lambdify(syms, rel, modules="numpy")
            with np.errstate(all="ignore"):
                ok = np.asarray(fn(*[np.asarray(vals[s.name], dtype=float) for s in syms]))
        except (TypeError, ValueError) as e:
            out.append(Condition(text, "unknown", f"cannot evaluate: {e}"))
            continue
        if ok.dtype != np.bool_:
            out.append(Condition(text, "unknown", f"does not evaluate to true/false ({ok!r})"))
        elif bool(np.all(ok)):
            out.append(Condition(text, "ok"))
        else:
            at = ", ".join(f"{s.name}={vals[s.name]:.4g}" if np.ndim(vals[s.name]) == 0 else s.name
                           for s in syms)
            out.append(Condition(text, "violated", f"false at {at}"))
    if "alpha" in bound.symbols and "alpha" in vals and "tail_index" in vals:
        # docs/theory.md §3: a bounded alpha-th moment needs alpha below the noise's tail index
        a, ti = float(np.max(vals["alpha"])), float(vals["tail_index"])
        ok = a < ti or (math.isinf(ti) and a <= 2.0)
        out.append(Condition("alpha < tail_index", "ok" if ok else "violated",
                             "" if ok else f"alpha = {a:g} >= tail_index = {ti:g}: the noise has no "
                             "finite alpha-th moment"))
    return tuple(out)


def _evaluate(bound, vals):
    allowed = (set(bound.symbols) | set(getattr(bound, "schedule_symbols", ()))
               | set(getattr(bound, "parameters", ())))
    B = np.asarray(bound.evaluate(**{k: v for k, v in vals.items() if k in allowed}), dtype=float)
    if B.size != 1:
        raise ValueError(f"{bound.name}: the bound evaluates to shape {B.shape}; check needs one value "
                         "(pass scalar values)")
    B = float(B.reshape(()))
    if math.isnan(B):
        raise ValueError(f"{bound.name}: the bound evaluates to nan at these values")
    return B


def _proportional(bound, C):
    """True if ``expr`` is ``C`` times an expression free of ``C``."""
    return C not in sp.simplify(bound.expr / C).free_symbols


def _high_prob(Q, div, B, delta, conf, lower):
    """Verdict on 'P(Q > B) <= delta' or, for a lower bound, on 'P(Q >= B) >= delta'."""
    qci = S.quantile_ci(np.where(div, np.inf, Q), 1.0 - delta, conf)
    label = f"q_(1-{delta:g})"
    if lower:  # the (1-delta)-quantile is >= B; a diverged seed (Q = inf) is >= B
        with np.errstate(invalid="ignore"):
            k = int(np.count_nonzero(div | (Q >= B)))
        n = Q.size
        lo, hi = S.clopper_pearson(k, n, conf)
        fp = S.FailureProbability(k / n, lo, hi, k, n, conf, B, int(np.count_nonzero(div)))
        if fp.low >= delta:
            return "holds", "", label, qci.estimate, qci.low, qci.high, fp
        if fp.high < delta:
            return ("violated", f"P(Q >= B)'s CI lies below delta = {delta:g}", label, qci.estimate,
                    qci.low, qci.high, fp)
        return ("inconclusive", f"P(Q >= B)'s CI contains delta = {delta:g}", label, qci.estimate,
                qci.low, qci.high, fp)
    fp = S.failure_probability(Q, B, conf, diverged=div)
    n_min = S.min_seeds_to_certify(delta, conf)
    if fp.low > delta:
        verdict, why = "violated", f"the failure probability's CI lies above delta = {delta:g}"
    elif fp.high <= delta:
        verdict, why = "holds", ""
    elif fp.n < n_min:
        verdict, why = "inconclusive", (f"{fp.n} seeds cannot certify P <= {delta:g} "
                                        f"(needs >= {n_min} seeds even with no failure)")
    else:
        verdict, why = "inconclusive", f"the failure probability's CI contains delta = {delta:g}"
    return verdict, why, label, qci.estimate, qci.low, qci.high, fp


def _expectation(Q, div, B, conf, lower, n_boot, seed):
    Qf = Q[~div & np.isfinite(Q)]
    support = 0.0 if Qf.size == 0 or Qf.min() >= 0 else None
    mb = S.mean_bounds(Q, conf, diverged=div, lower_support=support, n_boot=n_boot, seed=seed)
    how = ("low end distribution-free (DKW), high end bootstrap" if support is not None
           else "both ends bootstrap (quantity takes negative values)")
    if lower:  # E Q >= B
        if mb.low >= B:
            verdict, why = "holds", ""
        elif mb.high < B:
            verdict, why = "violated", f"the mean's upper bound is below B ({how})"
        else:
            verdict, why = "inconclusive", f"the mean's CI contains B ({how})"
    else:
        if mb.low > B:
            verdict, why = "violated", f"the mean's lower bound exceeds B ({how})"
        elif mb.high <= B:
            verdict, why = "holds", f"upper end by bootstrap ({how})"
        elif Q.size < S.BOOTSTRAP_MIN_N:
            verdict, why = "inconclusive", (f"{Q.size} seeds: a bootstrap end needs {S.BOOTSTRAP_MIN_N} "
                                            f"({how})")
        else:
            verdict, why = "inconclusive", f"the mean's CI contains B ({how})"
    return verdict, why, "mean", mb.estimate, mb.low, mb.high, None


def check(bound, result, delta=None, *, confidence=0.95, calibrate=False, n_boot=2000, seed=0,
          **values) -> BoundCheck:
    """Check ``bound`` against the seeds of ``result``.

    A bound tagged ``symmetric_noise`` (proved for symmetric noise only) is refused with a ValueError
    when ``result.noise`` is asymmetric (``noise.lomax``, stable with beta != 0).

    Values: ``result.theory_values()`` (called with ``alpha`` when given) merged with ``values``
    (the caller's win); ``delta`` is assigned to the bound's delta symbol. Steps and rules:

    1. Validity: every ``bound.valid_when`` relation is evaluated, plus ``alpha < tail_index``
       when the bound uses ``alpha`` and the run knows its noise's tail index (a bounded
       alpha-th moment, docs/theory.md §3), plus "the run's optimizer is one of ``bound.algorithms``"
       when the bound names the update rules it is about; if one is false, or cannot be evaluated for lack of values,
       the verdict is ``"inconclusive"`` with the reason (the evidence is still computed and
       reported).
    2. Hidden constants: each needs a value in ``values``; otherwise ValueError naming them. With
       ``calibrate=True`` a single missing constant ``C`` of a bound ``C * B0`` is fitted on the
       first half of the seeds (:func:`clipsim.stats.calibrate_constant` for a high-probability
       bound, the mean's upper bound for an expectation bound) and the check runs on the other
       half; this only tests the shape within one cell (use ``stats.calibrate_constant`` /
       ``stats.test_calibrated`` across cells for exponents).
    3. ``Q = result.metrics[bound.quantity]``; diverged seeds (``metrics["diverged"]``, or non-finite
       values) count as ``Q = +inf``: failures of an upper bound.
    4. Verdict, with ``a = 1 - confidence`` and each rule erring with probability <= ``a/2``:

       - bound with a delta symbol (high_probability, or generalization/lemma stated w.p. 1-delta),
         "Q <= B(delta) w.p. >= 1-delta": Clopper-Pearson interval ``[lo, hi]`` of
         ``p = P(Q > B)``; ``"violated"`` if ``lo > delta``; ``"holds"`` if ``hi <= delta``;
         otherwise ``"inconclusive"``. ``hi <= delta`` is the same event as "the order-statistic
         upper bound of the (1-delta)-quantile is <= B", so the quantile interval (reported as the
         estimate) adds no separate rule; with fewer than ``stats.min_seeds_to_certify(delta)``
         seeds "holds" is impossible and the reason says so. A lower bound with delta states that
         the (1-delta)-quantile is >= B, i.e. ``p = P(Q >= B) >= delta`` (diverged seeds count as
         ``Q >= B``): ``"holds"`` if ``lo >= delta``, ``"violated"`` if ``hi < delta``.
       - bound without delta (expectation, lemma, generalization in expectation), "E Q <= B":
         ``"violated"`` if the distribution-free DKW lower bound on ``E Q`` exceeds ``B``
         (requires ``Q >= 0``; else a bootstrap bound); ``"holds"`` if the bootstrap upper bound
         is ``<= B`` (approximate: no distribution-free upper bound on a mean exists under heavy
         tails; any diverged seed makes it ``+inf``); else ``"inconclusive"``. Lower bounds
         ("E Q >= B", e.g. minimax rates): mirrored; note that a minimax lower bound is only
         meant to hold on its hard instance.
    """
    for attr in ("name", "expr", "quantity", "kind", "delta", "evaluate", "symbols"):
        if not hasattr(bound, attr):
            raise ValueError(f"bound = {bound!r} is not allowed: must be a theory.Bound (no .{attr})")
    metrics = getattr(result, "metrics", None)
    if not isinstance(metrics, Mapping):
        raise ValueError(f"result = {type(result).__name__} is not allowed: must have a .metrics dict")
    kind = V.choice("bound.kind", bound.kind, _KINDS)
    V.bound_values(bound, values)
    conf = V.real("confidence", confidence, 0.0, 1.0, lo_open=True, hi_open=True)
    n_boot = V.integer("n_boot", n_boot, 1, 10**6)
    if not isinstance(calibrate, bool):
        raise ValueError(f"calibrate = {V._fmt(calibrate)} is not allowed: must be True or False")
    if not isinstance(seed, np.random.Generator):  # used by the bootstrap of an expectation bound
        seed = V.integer("seed", seed, 0)
    if bound.delta is not None:
        if delta is None:
            raise ValueError(f"{bound.name}: delta = None is not allowed: the bound holds w.p. 1 - "
                             f"{bound.delta}; pass delta in (0, 1)")
        delta = V.real("delta", delta, 0.0, 1.0, lo_open=True, hi_open=True)
    elif delta is not None:
        raise ValueError(f"{bound.name}: delta = {delta!r} is not allowed: the bound ({kind}) has no "
                         "delta symbol")
    if bound.quantity not in metrics:
        hint = (" (its value is a probability: compare clipsim.stats.failure_probability(values, eps) "
                "with bound.evaluate(...))" if bound.quantity == "tail_probability" else "")
        raise ValueError(f"{bound.name}: quantity {bound.quantity!r} is not a metric of the result{hint}; "
                         f"metrics: {', '.join(sorted(metrics))}")

    noise = getattr(result, "noise", None)
    if getattr(bound, "symmetric_noise", False) and noise is not None and not getattr(noise, "symmetric", True):
        raise ValueError(f"{bound.name} is proved for symmetric noise only; this run's noise {noise} is "
                         "asymmetric: check it on symmetric noise, or use a bound without that assumption")
    vals = {**dict(getattr(bound, "defaults", {}) or {}), **_theory_values(result, values), **values}
    if bound.delta is not None:
        vals[bound.delta.name] = delta

    Q = np.asarray(metrics[bound.quantity], dtype=float)
    if Q.ndim != 1 or Q.size == 0:
        raise ValueError(f"metrics[{bound.quantity!r}] has shape {Q.shape}: must be (n_seeds,) with n_seeds >= 1")
    div = metrics.get("diverged")
    div = np.zeros(Q.size, bool) if div is None else np.asarray(div, dtype=bool).reshape(-1)
    if div.shape != Q.shape:
        raise ValueError(f"metrics['diverged'] has shape {div.shape}: must match {Q.shape}")
    div = div | ~np.isfinite(Q)

    hidden = [h.name for h in getattr(bound, "hidden_constants", ()) if h.name not in vals]
    calibrated = {}
    note = ""
    if hidden:
        if not calibrate:
            raise ValueError(f"{bound.name}: hidden constant(s) {', '.join(hidden)} have no value: pass "
                             f"{hidden[0]}=... (e.g. fitted with clipsim.stats.calibrate_constant on "
                             "calibration cells) or calibrate=True")
        if len(hidden) != 1:
            raise ValueError(f"{bound.name}: calibrate=True fits one hidden constant; "
                             f"{', '.join(hidden)} have no value")
        C = next(h for h in bound.hidden_constants if h.name == hidden[0])
        if not _proportional(bound, C):
            raise ValueError(f"{bound.name}: calibrate=True needs the bound to be {C} times a "
                             f"{C}-free expression")
        if Q.size < 4:
            raise ValueError(f"{bound.name}: calibrate=True splits the seeds in half: {Q.size} seeds "
                             "are too few")
        h = Q.size // 2
        B0 = _evaluate(bound, {**vals, C.name: 1.0})
        Qc = np.where(div[:h], np.inf, Q[:h])
        if bound.delta is not None:
            cval = S.calibrate_constant([S.Cell(Qc, B0)], delta, conf).C
        else:
            cval = S.mean_bounds(Qc, conf, n_boot=n_boot, seed=seed, lower_support=None).high / B0
        if not (math.isfinite(cval) and cval > 0):
            raise ValueError(f"{bound.name}: calibration of {C} on {h} seeds gave {cval}; more seeds needed")
        vals[C.name] = cval
        calibrated = {C.name: cval}
        note = f"{C} calibrated on seeds [0, {h}), checked on [{h}, {Q.size})"
        Q, div = Q[h:], div[h:]

    conditions = _conditions(bound, vals) + _algorithm(bound, getattr(result, "optimizer", None))
    B = _evaluate(bound, vals)
    lower = kind == "lower_bound"
    if bound.delta is not None:
        verdict, why, label, est, lo, hi, fp = _high_prob(Q, div, B, delta, conf, lower)
    else:
        verdict, why, label, est, lo, hi, fp = _expectation(Q, div, B, conf, lower, n_boot, seed)
    cond_why = unmet_conditions(conditions)
    if cond_why:
        why = f"{cond_why}; evidence alone: {verdict}" + (f" ({why})" if why else "")
        verdict = "inconclusive"
    if note:
        why = f"{why}; {note}" if why else note
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.divide(est, B)) if B != 0 else math.inf
    return BoundCheck(bound.name, kind, bound.quantity, verdict, why, label, float(est), float(lo),
                      float(hi), B, ratio, int(Q.size), int(np.count_nonzero(div)), delta, conf, fp,
                      conditions, calibrated, vals)
