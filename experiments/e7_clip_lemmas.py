"""E7: verdicts on the Sadiev et al. 2023 clipping lemmas, explicit constants, from the store.

Setting (``experiments/e7_clip_lemmas.toml``): on the quadratic (∇F(w) = w) one step of clipped SGD
with η = 1 from w_1 = x gives w_2 = x - clip_λ(x + ξ), so per seed ``clip_λ(X) - x = -w_2`` with
X = x + ξ, E X = x (the noise is symmetric). Hence

- bias:           ‖E clip_λ(X) - x‖ = ‖E w_2‖,       lemma: ≤ 2^α σ^α / λ^(α-1);
- second moment:  E‖clip_λ(X) - x‖² = E‖w_2‖²,        lemma: ≤ 18 λ^(2-α) σ^α;

with σ^α = E‖ξ‖^α exact for radial noise (:meth:`clipsim.noise.Noise.norm_moment`), the lemma's α
below the noise's tail index, and ‖x‖ ≤ λ/2. Both bounds come from ``theory``
(``sadiev_2023_clip_bias``, ``sadiev_2023_clip_second_moment``), never retyped here.

Intervals (distribution-free: ‖w_2‖ ≤ ‖x‖ + λ =: R is bounded):

- bias: per coordinate i, |mean_i - E w_2,i| ≤ ε_i, with ε_i the smaller of Hoeffding
  (range 2R) and the empirical-Bernstein bound of Maurer & Pontil 2009 (Thm 4, range 2R), each
  two-sided at level a/(2d) (a union bound over the d coordinates and the two methods), so
  ‖E w_2‖ ∈ [max(0, ‖mean‖ - ‖ε‖), ‖mean‖ + ‖ε‖] with probability ≥ 1 - a;
- second moment: ‖w_2‖² ∈ [0, R²]; the same two bounds, two-sided, each at level a/2.

Verdict per (cell, α): **holds** iff the upper confidence bound ≤ the lemma's value; **violated**
iff the lower confidence bound > it; else **inconclusive**. Tightness = estimate / lemma value.

Usage::

    .venv/bin/python -m clipsim run experiments/e7_clip_lemmas.toml --store STORE
    .venv/bin/python experiments/e7_clip_lemmas.py --store STORE --out e7.md --figs paper_figs
    # or --run to run the sweep into STORE first
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "e7_clip_lemmas.toml")
ALPHAS = (1.25, 1.5, 1.75, 2.0)
BOUNDS = {"bias": "sadiev_2023_clip_bias", "second_moment": "sadiev_2023_clip_second_moment"}


def hoeffding(n, value_range, level):
    """Two-sided Hoeffding half-width for a mean of n values in an interval of length ``value_range``."""
    return value_range * math.sqrt(math.log(2.0 / level) / (2.0 * n))


def empirical_bernstein(values, value_range, level):
    """Two-sided empirical-Bernstein half-width (Maurer & Pontil 2009, Thm 4, each side at level/2)
    for a mean of values in an interval of length ``value_range``."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return math.inf
    L = math.log(4.0 / level)
    return math.sqrt(2.0 * x.var(ddof=1) * L / n) + 7.0 * value_range * L / (3.0 * (n - 1))


def mean_halfwidth(values, value_range, level):
    """Half-width valid with probability ≥ 1 - level: the smaller of Hoeffding and empirical Bernstein,
    each computed at level/2 (a union bound over the two)."""
    x = np.asarray(values, dtype=float)
    return min(hoeffding(x.size, value_range, level / 2), empirical_bernstein(x, value_range, level / 2))


@dataclass(frozen=True)
class Estimate:
    estimate: float
    low: float
    high: float


def clip_estimates(w2, x, lam, confidence=0.95):
    """Bias ‖E w_2‖ and second moment E‖w_2‖² with distribution-free intervals (see module doc)."""
    w2 = np.asarray(w2, dtype=float)
    if w2.ndim != 2 or not np.all(np.isfinite(w2)):
        raise ValueError("final iterates must be a finite (n_seeds, d) array")
    n, d = w2.shape
    a = 1.0 - confidence
    R = float(np.linalg.norm(x)) + float(lam)
    norms = np.linalg.norm(w2, axis=1)
    if norms.max() > R * (1 + 1e-12):
        raise ValueError(f"||w_2|| = {norms.max():.6g} exceeds ||x|| + lambda = {R:.6g}: not a one-step clip run")
    mean = w2.mean(axis=0)
    eps = np.array([mean_halfwidth(w2[:, i], 2.0 * R, a / d) for i in range(d)])
    b = float(np.linalg.norm(mean))
    e = float(np.linalg.norm(eps))
    bias = Estimate(b, max(0.0, b - e), b + e)
    sq = norms ** 2
    h = mean_halfwidth(sq, R * R, a)
    m = float(sq.mean())
    second = Estimate(m, max(0.0, m - h), m + h)
    return bias, second


@dataclass(frozen=True)
class Row:
    cell: str
    noise: str
    lam: float
    alpha: float
    sigma_alpha: float
    lemma: str
    est: Estimate
    bound: float
    verdict: str

    @property
    def tightness(self):
        return self.est.estimate / self.bound


def _verdict(est, bound):
    if est.high <= bound:
        return "holds"
    if est.low > bound:
        return "violated"
    return "inconclusive"


def lemma_rows(results, alphas=ALPHAS, confidence=0.95):
    """[Row] for every stored (cell, SimResult), lemma α and lemma (bias, second moment)."""
    import theory

    rows = []
    for cell, res in results:
        opt, noise, cfg = res.optimizer, res.noise, res.config
        if res.n_steps != 1 or opt.name != "clipped_sgd" or float(opt.eta.values(1)[0]) != 1.0 \
                or res.objective.name != "quadratic" or noise.vector != "radial":
            raise ValueError(f"{cell.label()}: E7 needs one clipped-SGD step with eta = 1 on the quadratic, radial noise")
        lam = float(opt.clip.values(1)[0])
        x = np.asarray(cfg["x0"] if cfg.get("x0") is not None else res.objective.x0, dtype=float)
        if np.linalg.norm(x) > lam / 2:
            raise ValueError(f"{cell.label()}: ||x|| = {np.linalg.norm(x):g} > lambda/2 = {lam / 2:g}: the lemma does not apply")
        bias, second = clip_estimates(res.final_iterate, x, lam, confidence)
        for alpha in alphas:
            if not alpha < noise.tail_index:
                raise ValueError(f"{cell.label()}: alpha = {alpha} is not below the tail index {noise.tail_index}")
            s_a = noise.norm_moment(alpha, res.objective.dim)  # sigma^alpha, exact (radial)
            sigma = s_a ** (1.0 / alpha)
            for lemma, est in (("bias", bias), ("second_moment", second)):
                B = float(theory.get(BOUNDS[lemma]).evaluate(alpha=alpha, lam=lam, sigma=sigma))
                rows.append(Row(cell.label(), str(noise), lam, alpha, s_a, lemma, est, B, _verdict(est, B)))
    return rows


def render(rows, confidence=0.95, title="E7: Sadiev et al. 2023 clipping lemmas"):
    tally = {v: sum(r.verdict == v for r in rows) for v in ("holds", "violated", "inconclusive")}
    lines = [f"# {title}", "",
             f"{len(rows)} verdicts: {tally['holds']} hold, {tally['violated']} violated, "
             f"{tally['inconclusive']} inconclusive ({confidence:.0%} distribution-free intervals: "
             "Hoeffding / empirical Bernstein, union bound over coordinates; holds iff the upper bound ≤ the "
             "lemma's value).", "",
             "| cell | lemma | α | σ^α | estimate [CI] | lemma value | tightness | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.cell} | {r.lemma} | {r.alpha:g} | {r.sigma_alpha:.4g} | {r.est.estimate:.4g} "
                     f"[{r.est.low:.4g}, {r.est.high:.4g}] | {r.bound:.4g} | {r.tightness:.3g} | **{r.verdict}** |")
    return "\n".join(lines) + "\n"


def plot(rows, out, name="e7_clip_lemmas"):
    """Bias and second moment against λ per noise (rows of panels), with the lemma curves per α."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    noises = sorted({r.noise for r in rows})
    fig, axes = plt.subplots(len(noises), 2, figsize=(8.4, 3.3 * len(noises)), squeeze=False)
    for i, nz in enumerate(noises):
        for j, lemma in enumerate(("bias", "second_moment")):
            ax = axes[i][j]
            sub = [r for r in rows if r.noise == nz and r.lemma == lemma]
            emp = sorted({(r.lam, r.est.estimate, r.est.low, r.est.high) for r in sub})
            lam, e, lo, hi = map(np.array, zip(*emp))
            for k, alpha in enumerate(sorted({r.alpha for r in sub})):
                pts = sorted((r.lam, r.bound, r.verdict) for r in sub if r.alpha == alpha)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "--", color=f"C{k}", lw=1.2,
                        label=f"lemma, α = {alpha:g}")
            ax.errorbar(lam, e, yerr=[e - lo, hi - e], fmt="ko-", ms=3.5, capsize=3, lw=1.2,
                        label="empirical (95% CI)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(lam)
            ax.set_xticklabels([f"{v:g}" for v in lam])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("λ")
            ax.set_ylabel("‖E clip(X) − x‖" if lemma == "bias" else "E‖clip(X) − x‖²")
            ax.set_title(f"{'bias' if lemma == 'bias' else 'second moment'}\nnoise {nz}", fontsize=8)
            ax.grid(True, alpha=0.3)
            if lemma != "bias":  # one legend per row, outside the axes: it never covers data
                ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.suptitle("E7: Sadiev et al. 2023 clipping lemmas (explicit constants) vs one-step clipped SGD, x = (1, 0)\n"
                 "(bias: where the 95% interval reaches 0 its bar runs off the log axis)", fontsize=9)
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        p = os.path.join(out, f"{name}.{ext}")
        fig.savefig(p, dpi=160 if ext == "png" else None, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    cap = os.path.join(out, f"{name}.txt")
    with open(cap, "w", encoding="utf-8") as f:
        f.write("E7: the Sadiev et al. 2023 clipping lemmas against one step of clipped SGD from x = (1, 0).\n"
                "Plotted: per noise (rows), the bias ‖E clip(X) − x‖ (left) and the second moment E‖clip(X) − x‖² "
                "(right) against the threshold λ; dashed: the lemma's bound for each moment order α.\n"
                "Seeds per cell: from the store (experiments/e7_clip_lemmas.toml: 100000).\n"
                "Bars: distribution-free 95% intervals of a mean of bounded variables (Hoeffding or empirical Bernstein; the clipped draw is "
                "bounded by λ), Bonferroni over coordinates for the bias.\n")
    return paths + [cap]


def main(argv=None):
    from clipsim import sweep as S
    from clipsim.decisions import load_results
    from clipsim.report import emit
    from clipsim.store import Store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="results store of experiments/e7_clip_lemmas.toml")
    ap.add_argument("--spec", default=SPEC)
    ap.add_argument("--run", action="store_true", help="run the sweep into --store first (skips stored cells)")
    ap.add_argument("--out", help="Markdown report path (default: stdout)")
    ap.add_argument("--figs", help="directory for the figure (PDF and PNG)")
    ap.add_argument("--confidence", type=float, default=0.95)
    args = ap.parse_args(argv)
    sw = S.load(args.spec)
    store = Store(args.store)
    if args.run:
        from clipsim.runner import run_sweep

        run_sweep(sw, store, progress=False)
    rows = lemma_rows(load_results(sw, store), confidence=args.confidence)
    emit(render(rows, args.confidence), args.out)
    if args.figs:
        for p in plot(rows, args.figs):
            print(p)
    return 1 if any(r.verdict == "violated" for r in rows) else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    sys.exit(main())
