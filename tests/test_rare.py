"""Rare-event estimation (clipsim.rare): exact answers, reproducibility, agreement with Monte Carlo.

Exact cases. Unclipped SGD with η = 1 on the 1-d quadratic ½w² from w₁ = 0 gives w_{t+1} = -ξ_t, so
avg_grad_sq = (1/T) Σ_{s<T} ξ_s² (Gaussian noise: σ²·χ²_{T-1}/T) and max_dist = max_{s≤T} |ξ_s|. With η L < 1 the final iterate is a
linear filter of the noise: w_{T+1} = -η Σ_t a^{T-t} ξ_t, a = 1 - η (Gaussian with known variance), so
P(final_gap > b) is closed form.
"""
import math

import numpy as np
import pytest
from scipy import stats

import clipsim
from clipsim import noise, objectives, optimizers as opt
from clipsim.rare import tail_probability

QUAD = objectives.get("quadratic", 1)


def chi2_case(p, T=50):
    """(threshold, exact p) for avg_grad_sq of SGD with η = 1 under N(0, 1) noise."""
    thr = stats.chi2.isf(p, T - 1) / T
    return thr, float(stats.chi2.sf(thr * T, T - 1))


def filter_case(p, eta=0.02, T=200):
    a = 1 - eta
    sd = eta * math.sqrt((1 - a ** (2 * T)) / (1 - a * a))
    thr = (stats.norm.isf(p / 2) * sd) ** 2 / 2
    return thr, float(2 * stats.norm.sf(math.sqrt(2 * thr) / sd))


def run_chi2(p, **kw):
    thr, truth = chi2_case(p)
    args = dict(n_steps=50, metric="avg_grad_sq", threshold=thr, x0=[0.0])
    args.update(kw)
    return tail_probability(QUAD, noise.gaussian(1.0), opt.sgd(opt.constant(1.0)), **args), truth


def test_bitwise_reproducible_and_thread_independent():
    a, _ = run_chi2(1e-4, seed=3, replicas=2, particles=40, threads=1)
    b, _ = run_chi2(1e-4, seed=3, replicas=2, particles=40, threads=2)
    c, _ = run_chi2(1e-4, seed=4, replicas=2, particles=40, threads=2)
    assert a.replica_estimates == b.replica_estimates and a.work == b.work and a.ci == b.ci
    assert a.replica_estimates != c.replica_estimates


def test_exact_chi2_covered_at_1e6():
    """One claim: the 99% interval covers the closed-form p = 1e-6 (a coverage study is in the slow tests)."""
    res, truth = run_chi2(1e-6, seed=11, replicas=8, particles=400, confidence=0.99)
    lo, hi = res.ci
    assert lo <= truth <= hi, (res, truth)
    assert res.work < 15 / truth * 50 / 100  # at least 100x fewer steps than plain MC's 15/p paths


def cauchy_max_case(p, T=50):
    """(threshold, exact p) for max_dist of SGD with η = 1 from 0 under Cauchy noise: max of T |Cauchy|."""
    thr = stats.cauchy.isf(-math.expm1(math.log1p(-p) / T) / 2)
    return thr, float(-math.expm1(T * math.log1p(-2 * stats.cauchy.sf(thr))))


def test_importance_sampling_exact_cauchy_max_at_1e8_and_threads():
    """One claim at 99%: the one-big-jump mixture covers the closed-form p = 1e-8; 1 vs 2 threads bitwise."""
    thr, truth = cauchy_max_case(1e-8)
    run = lambda th: tail_probability(QUAD, noise.stable(1.0), opt.sgd(opt.constant(1.0)), n_steps=50,  # noqa: E731
                                      metric="max_dist", threshold=thr, x0=[0.0], seed=5, method="is",
                                      budget=50 * 10_000, confidence=0.99, threads=th)
    a, b = run(1), run(2)
    assert a.estimate == b.estimate and a.ci == b.ci
    assert a.ci[0] <= truth <= a.ci[1], (a, truth)
    assert a.work < 15 / truth * 50 / 100


def test_importance_sampling_refuses_inexact_noise():
    with pytest.raises(ValueError, match="noise"):
        tail_probability(QUAD, noise.stable(1.5), opt.sgd(opt.constant(1.0)), n_steps=10, metric="max_dist",
                         threshold=10.0, method="is")


def test_importance_sampling_refuses_user_pieces():
    """The IS kernel is cached: a user's objective (its functions would be compiled into it) is refused."""
    from conftest import quad_value_and_grad

    mine = objectives.custom(quad_value_and_grad, 1, L=1.0, f_star=0.0, name="test_rare_half_square")
    with pytest.raises(ValueError, match="objective = test_rare_half_square, optimizer = sgd.* is not allowed with "
                                         "method 'is': it runs built-in objectives and stages only"):
        tail_probability(mine, noise.pareto(2.5), opt.sgd(0.1), n_steps=10, metric="max_dist", threshold=10.0,
                         method="is")


def test_monte_carlo_method_clopper_pearson():
    thr, truth = chi2_case(0.05)
    res = tail_probability(QUAD, noise.gaussian(1.0), opt.sgd(opt.constant(1.0)), n_steps=50,
                           metric="avg_grad_sq", threshold=thr, x0=[0.0], method="mc", budget=50 * 4000,
                           confidence=0.999)
    assert res.method == "mc" and res.work == 50 * 4000
    assert res.ci[0] <= truth <= res.ci[1]
    assert res.ci == clipsim.stats.clopper_pearson(np.int64(res.diagnostics["hits"]), np.int64(4000), 0.999)


@pytest.mark.parametrize("kw, field", [
    (dict(metric="nope"), "metric"), (dict(threshold=-1.0), "threshold"), (dict(method="magic"), "method"),
    (dict(replicas=1), "replicas"), (dict(particles=1), "particles"), (dict(decay=0.0), "decay"),
    (dict(metric="clip_fraction", method="splitting"), "metric"), (dict(method="is", rho=1.0), "rho")])
def test_bad_input_one_line_value_error(kw, field):
    args = dict(n_steps=10, metric="avg_grad_sq", threshold=1.0)
    args.update(kw)
    with pytest.raises(ValueError, match=field):
        tail_probability(QUAD, noise.gaussian(1.0), opt.sgd(opt.constant(0.5)), **args)


def test_repr_is_short():
    res, _ = run_chi2(1e-3, replicas=2, particles=20)
    assert repr(res).startswith("TailEstimate(P(avg_grad_sq > ") and "\n" not in repr(res)


# ---------------------------------------------------------------------------------------------------
# Slow: coverage of the closed-form answers, and agreement with brute-force Monte Carlo at p ≈ 1e-3
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("case", ["chi2", "filter"])
@pytest.mark.parametrize("p", [1e-6, 1e-8])
def test_coverage_of_exact_answer(case, p):
    """20 independent estimates at 95%: the number of misses must not exceed the binomial(20, 0.05)
    99.9% quantile, corrected (Bonferroni) for the 4 (case, p) claims."""
    thr, truth = chi2_case(p) if case == "chi2" else filter_case(p)
    if case == "chi2":
        mk = lambda s: run_chi2(p, seed=s, replicas=10, particles=400)[0]  # noqa: E731
    else:
        mk = lambda s: tail_probability(QUAD, noise.gaussian(1.0), opt.sgd(opt.constant(0.02)),  # noqa: E731
                                        n_steps=200, metric="final_gap", threshold=thr, x0=[0.0], seed=s,
                                        replicas=10, particles=400)
    misses = sum(not (r.ci[0] <= truth <= r.ci[1]) for r in (mk(s) for s in range(20)))
    assert misses <= stats.binom.ppf(1 - 0.001 / 4, 20, 0.05), misses


@pytest.mark.slow
@pytest.mark.parametrize("p", [1e-6, 1e-8])
def test_importance_sampling_coverage_cauchy_filter(p):
    """Unclipped SGD (η = 0.1, T = 100) under Cauchy noise: w_{T+1} is Cauchy with scale η Σ a^k, so
    P(final_gap > b) is closed form. 20 independent 95% intervals; misses ≤ the binomial(20, 0.05)
    99.9% quantile, Bonferroni over the 2 claims."""
    eta, T = 0.1, 100
    scale = eta * sum((1 - eta) ** k for k in range(T))
    r = stats.cauchy.isf(p / 2, scale=scale)
    thr, truth = r * r / 2, float(2 * stats.cauchy.sf(r, scale=scale))
    misses = 0
    for s in range(20):
        res = tail_probability(QUAD, noise.stable(1.0), opt.sgd(opt.constant(eta)), n_steps=T, metric="final_gap",
                               threshold=thr, x0=[0.0], seed=s, method="is", budget=T * 20_000)
        misses += not (res.ci[0] <= truth <= res.ci[1])
    assert misses <= stats.binom.ppf(1 - 0.001 / 2, 20, 0.05), misses


CLIPPED = {
    "clipped_sgd": opt.clipped_sgd(opt.constant(0.1), opt.constant(1.0)),
    "clipped_momentum": opt.clipped_momentum(opt.constant(0.1), opt.constant(1.0), 0.9),
    "clipped_adagrad": opt.clipped_adagrad(opt.constant(0.5), opt.constant(1.0)),
}
NOISES = {"stable": noise.stable(1.5), "pareto": noise.pareto(1.5), "lomax": noise.lomax(1.5)}


@pytest.mark.slow
@pytest.mark.parametrize("oname", list(CLIPPED))
@pytest.mark.parametrize("nname", list(NOISES))
def test_agrees_with_monte_carlo_at_1e3(oname, nname):
    """Splitting and plain MC (Clopper-Pearson) at p ≈ 1e-3 on avg_grad_sq, quadratic d = 2, T = 100:
    the two 99.9% intervals overlap (9 claims; each interval is at 99.9%)."""
    obj, nz, o = objectives.get("quadratic", 2), NOISES[nname], CLIPPED[oname]
    ref = clipsim.simulate(obj, nz, o, n_steps=100, n_seeds=20_000, seed=99).metrics["avg_grad_sq"]
    thr = float(np.quantile(ref, 1 - 1e-3))  # a threshold near p = 1e-3, from paths independent of both
    mc = tail_probability(obj, nz, o, n_steps=100, metric="avg_grad_sq", threshold=thr, method="mc",
                          budget=100 * 200_000, seed=1, confidence=0.999)
    sp = tail_probability(obj, nz, o, n_steps=100, metric="avg_grad_sq", threshold=thr, method="splitting",
                          replicas=20, particles=200, seed=2, confidence=0.999)
    assert sp.ci[0] <= mc.ci[1] and mc.ci[0] <= sp.ci[1], (sp, mc)


RARE_SPEC = """
[sweep]
name = "rare_check"
n_steps = 50
seeds = 100
seed = 1
x0 = [0.0]

[objective]
name = "quadratic"
dim = 1

[noise]
family = "gaussian"

[optimizer]
name = "sgd"
eta = 1.0

[[check]]
bound = "li_liu_2023_clipped_sgd"
values = {alpha = 1.5, C_opt = 1.0, sigma = 1.0}
delta = [1e-3]
rare = "splitting"

[[check]]
bound = "li_liu_2023_clipped_sgd"
values = {alpha = 1.5, C_opt = 0.3, sigma = 1.0}
delta = [1e-3]
rare = "splitting"
rare_budget = 300000
"""


def test_check_rare_option(tmp_path, capsys):
    """[[check]] rare = "splitting": avg_grad_sq is χ²₄₉/50 here, so P(Q > B) is ~4e-7 ≪ 1e-3 with C_opt = 1
    (B = 2.26) and ~0.9 ≫ 1e-3 with C_opt = 0.3 (B = 0.68): one check holds, the other is violated (exit 1)."""
    from clipsim.cli import main

    spec = tmp_path / "spec.toml"
    spec.write_text(RARE_SPEC)
    store = str(tmp_path / "store")
    assert main(["run", str(spec), "--store", store, "--quiet"]) == 0
    code = main(["check", str(spec), "--store", store])
    out = capsys.readouterr().out
    assert "Rare-event check (splitting): holds" in out and "Rare-event check (splitting): violated" in out
    assert code == 1
    with pytest.raises(ValueError, match="rare"):
        clipsim.sweep.from_spec({**__import__("tomllib").loads(RARE_SPEC), "check": [
            {"bound": "li_liu_2023_clipped_sgd", "delta": [1e-3], "rare": "magic"}]})


def test_failure_curve_figure_and_quantile():
    """The curve over δ with B(δ) = the exact (1-δ)-quantile of χ²₄₉/50: P(Q > B(δ)) = δ; the figure has the
    points and the line P = δ; quantile_from_curve inverts a curve of exact tail probabilities."""
    from matplotlib.figure import Figure

    from clipsim.rare import failure_curve, failure_curve_figure, quantile_from_curve

    bound = lambda d: stats.chi2.isf(d, 49) / 50  # noqa: E731
    rows = failure_curve(QUAD, noise.gaussian(1.0), opt.sgd(opt.constant(1.0)), n_steps=50, metric="avg_grad_sq",
                         bound=bound, deltas=[1e-2, 1e-4], x0=[0.0], method="mc", budget=50 * 2000)
    assert [r[0] for r in rows] == [1e-2, 1e-4] and rows[0][1] == bound(1e-2)
    fig = failure_curve_figure({"sgd": rows})
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) >= 2
    b = np.geomspace(1.2, 2.5, 9)
    q = quantile_from_curve(b, stats.chi2.sf(b * 50, 49), 1e-5)
    assert abs(q - bound(1e-5)) / bound(1e-5) < 0.01  # log-log interpolation error on this grid
    assert math.isnan(quantile_from_curve(b, stats.chi2.sf(b * 50, 49), 1e-12))  # outside the curve


def test_the_replica_interval_is_a_probability_interval():
    """mean ± t s/√R clipped to [0, 1] (an upper end of 1.24 was printed), and [0, 1] when every replica
    returned 0 (it was [0, nan])."""
    from clipsim.rare import _replica_interval

    mean, (lo, hi) = _replica_interval([0.9, 0.05, 0.95], 0.95)
    assert mean == pytest.approx(0.6333333333333333) and lo == 0.0 and hi == 1.0
    assert _replica_interval([0.0, 0.0, 0.0, 0.0], 0.95) == (0.0, (0.0, 1.0))
    m, (lo, hi) = _replica_interval([0.2, 0.3], 0.95)
    assert 0.0 <= lo and hi <= 1.0 and lo < m < hi
