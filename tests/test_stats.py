"""clipsim.stats: interval coverage against known truth, scipy parity, edge cases.

Coverage tolerances are Monte-Carlo errors: with R repetitions an observed coverage differs from the
true one by more than 3.3 standard errors (sqrt(c(1-c)/R)) with probability < 0.1%. Where a method
has an exactly computable coverage (order statistics, Clopper-Pearson) the test compares with it.
"""
import math

import numpy as np
import pytest
from scipy import stats as st

from clipsim import stats as S

Z = 3.3  # two-sided Monte-Carlo tolerance in standard errors (P(false alarm) < 0.1%)


def mc_se(p, R):
    return math.sqrt(p * (1 - p) / R)


# ---------------------------------------------------------------- quantile_ci


@pytest.mark.parametrize("n,q", [(20, 0.5), (60, 0.9), (400, 0.99)])
def test_quantile_ci_coverage(n, q):
    """Distribution-free interval: coverage >= 95%, and equal to its exact binomial coverage."""
    R = 2000
    a = 1.5  # Lomax(1.5): heavy tail, quantile (1-q)^(-1/a) - 1
    truth = (1 - q) ** (-1 / a) - 1
    rng = np.random.default_rng(100 + n)
    data = rng.pareto(a, size=(R, n))
    hits = 0
    for row in data:
        r = S.quantile_ci(row, q)
        hits += r.low <= truth <= r.high
    cov = hits / R
    exact = S.quantile_ci(data[0], q).coverage
    assert exact >= 0.95
    assert cov >= 0.95 - Z * mc_se(0.95, R)
    assert abs(cov - exact) <= Z * mc_se(exact, R)


def test_quantile_ci_ranks_match_binomial():
    n, q = 100, 0.9
    r = S.quantile_ci(np.arange(n, dtype=float), q)
    B = st.binom(n, q)
    # 1-based ranks: P(B < l) <= a/2 < P(B < l+1);  P(B >= u) <= a/2 < P(B >= u-1)
    assert B.cdf(r.low_rank - 1) <= 0.025 < B.cdf(r.low_rank)
    assert B.sf(r.high_rank - 1) <= 0.025 < B.sf(r.high_rank - 2)
    assert r.low == r.low_rank - 1 and r.high == r.high_rank - 1  # values 0..n-1
    assert r.estimate == 89.0  # ceil(100 * 0.9) = 90th order statistic
    assert math.isclose(r.coverage, B.cdf(r.high_rank - 1) - B.cdf(r.low_rank - 1))


def test_quantile_ci_small_samples_give_infinite_ends():
    r = S.quantile_ci([3.0], 0.5)
    assert (r.estimate, r.low, r.high, r.n) == (3.0, -math.inf, math.inf, 1)
    # q = 0.99 needs n >= log(0.025)/log(0.99) = 368 seeds for a finite upper end
    n_min = S.min_seeds_to_certify(0.01)
    assert math.isinf(S.quantile_ci(np.ones(n_min - 1), 0.99).high)
    assert math.isfinite(S.quantile_ci(np.ones(n_min), 0.99).high)


def test_quantile_ci_inf_participates_nan_rejected():
    x = np.r_[np.arange(1.0, 100.0), np.inf]
    r = S.quantile_ci(x, 0.5)
    assert math.isfinite(r.high)
    assert S.quantile_ci(x, 0.999).estimate == math.inf
    with pytest.raises(ValueError, match=r"values\[1\] = nan"):
        S.quantile_ci([1.0, np.nan], 0.5)


@pytest.mark.parametrize("args,match", [
    (([], 0.5), "0 values"),
    (([1.0], 1.0), "q = 1.0"),
    (([1.0], 0.0), "q = 0.0"),
    (([1.0], 0.5, 1.5), "confidence = 1.5"),
    ((np.ones((2, 2)), 0.5), "shape"),
    ((["a"], 0.5), "values"),
])
def test_quantile_ci_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        S.quantile_ci(*args)


# ---------------------------------------------------------------- failure_probability


KN_TABLE = [(0, 1), (1, 1), (0, 5), (5, 5), (1, 10), (3, 10), (0, 100), (1, 100), (50, 100),
            (99, 100), (100, 100), (7, 1000), (0, 4000), (37, 4000), (2500, 10000)]


@pytest.mark.parametrize("k,n", KN_TABLE)
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_failure_probability_equals_scipy_exact(k, n, conf):
    x = np.r_[np.full(k, 2.0), np.zeros(n - k)]
    r = S.failure_probability(x, 1.0, conf)
    ref = st.binomtest(k, n).proportion_ci(conf, method="exact")
    assert (r.k, r.n) == (k, n)
    assert r.estimate == k / n
    assert r.low == pytest.approx(ref.low, abs=1e-12, rel=1e-9)
    assert r.high == pytest.approx(ref.high, abs=1e-12, rel=1e-9)


@pytest.mark.parametrize("p,n", [(0.01, 200), (0.1, 50), (0.5, 30)])
def test_failure_probability_coverage(p, n):
    """Clopper-Pearson over-covers; observed coverage matches its exact binomial coverage."""
    R = 2000
    rng = np.random.default_rng(int(1000 * p) + n)
    u = rng.random((R, n))
    hits = sum(r.low <= p <= r.high for r in (S.failure_probability(row, 1 - p) for row in u))
    cov = hits / R
    k = np.arange(n + 1)
    lo, hi = S.clopper_pearson(k, np.full(n + 1, n))
    exact = float(np.sum(st.binom.pmf(k, n, p) * ((lo <= p) & (p <= hi))))
    assert exact >= 0.95
    assert cov >= 0.95 - Z * mc_se(0.95, R)
    assert abs(cov - exact) <= Z * mc_se(exact, R)


def test_failure_probability_nonfinite_and_diverged_count():
    x = np.array([0.1, 0.2, np.inf, np.nan, 5.0, 0.3])
    r = S.failure_probability(x, 1.0)
    assert (r.k, r.n, r.n_diverged) == (3, 6, 2)
    r = S.failure_probability(x, 1.0, diverged=np.array([True, False, False, False, False, False]))
    assert (r.k, r.n_diverged) == (4, 3)
    assert S.failure_probability(np.array([np.inf]), math.inf).k == 1  # inf marks divergence
    none = S.failure_probability(np.zeros(10), 1.0)
    assert (none.k, none.low) == (0, 0.0)
    allx = S.failure_probability(np.ones(10), 0.0)
    assert (allx.k, allx.high) == (10, 1.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(values=[], threshold=1.0), "0 values"),
    (dict(values=[1.0], threshold=math.nan), "threshold = nan"),
    (dict(values=[1.0, 2.0], threshold=1.0, diverged=[1, 0]), "boolean"),
    (dict(values=[1.0, 2.0], threshold=1.0, diverged=np.array([True])), r"shape \(1,\)"),
])
def test_failure_probability_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.failure_probability(**kwargs)


def test_min_seeds_duality_with_quantile_interval():
    """Zero failures certify P <= delta exactly when the (1-delta)-quantile's upper end is finite."""
    for delta in (0.1, 0.01, 0.003):
        n = S.min_seeds_to_certify(delta)
        assert S.failure_probability(np.zeros(n), 1.0).high <= delta
        assert S.failure_probability(np.zeros(n - 1), 1.0).high > delta


# ---------------------------------------------------------------- sequential test


def _bernoulli_fn(p, rng):
    def sample(start, count):
        return rng.random(count) + p  # value > 1 with probability p
    return sample


@pytest.mark.parametrize("method", ["bonferroni", "betabinomial"])
def test_sequential_error_rate_at_most_nominal(method):
    """Wrong decisions (violated when p <= delta, holds when p > delta) occur at most 5% + MC error.

    p = delta is the least favourable point for a false "violated"; p = 1.25 delta close above it
    the least favourable for a false "holds". Far from delta the test must also decide.
    """
    delta, R = 0.1, 400 if method == "betabinomial" else 1000
    rng = np.random.default_rng(7)
    kw = dict(batch=25, max_seeds=500, method=method)
    wrong = {}
    for p, bad in ((delta, "violated"), (1.25 * delta, "holds")):
        res = [S.sequential_failure_test(_bernoulli_fn(p, rng), 1.0, delta, **kw) for _ in range(R)]
        wrong[p] = sum(r.decision == bad for r in res) / R
        assert wrong[p] <= 0.05 + Z * mc_se(0.05, R), (p, wrong[p])
    low = [S.sequential_failure_test(_bernoulli_fn(0.01, rng), 1.0, delta, **kw) for _ in range(50)]
    high = [S.sequential_failure_test(_bernoulli_fn(0.4, rng), 1.0, delta, **kw) for _ in range(50)]
    assert sum(r.decision == "holds" for r in low) >= 45
    assert sum(r.decision == "violated" for r in high) >= 45
    assert all(r.n < 500 for r in high)  # optional stopping saves seeds


def test_naive_repeated_intervals_exceed_nominal_level():
    """The harness can see an invalid procedure: per-look 95% intervals with 20 looks err > 5%."""
    delta, R, batch, K = 0.1, 4000, 25, 20
    rng = np.random.default_rng(8)
    fails = rng.random((R, batch * K)) < delta  # p = delta
    k = np.cumsum(fails, axis=1)[:, batch - 1::batch]
    n = np.broadcast_to(np.arange(1, K + 1) * batch, k.shape)
    lo, _ = S.clopper_pearson(k, n)
    naive = np.mean(np.any(lo > delta, axis=1))
    assert naive > 0.025 + Z * mc_se(0.025, R)


def test_sequential_records_history_and_validates():
    r = S.sequential_failure_test(lambda s, c: np.zeros(c), 1.0, 0.1, batch=30, max_seeds=100)
    assert r.decision == "holds" and r.k == 0 and r.max_looks == 4
    assert [h[0] for h in r.history] == [30, 60, 90, 100][: r.looks]
    r = S.sequential_failure_test(lambda s, c: np.full(c, np.inf), 1.0, 0.1, batch=10, max_seeds=100)
    assert r.decision == "violated" and r.k == r.n
    with pytest.raises(ValueError, match="shape"):
        S.sequential_failure_test(lambda s, c: np.zeros(c + 1), 1.0, 0.1, batch=10, max_seeds=20)
    with pytest.raises(ValueError, match="batch = 0"):
        S.sequential_failure_test(lambda s, c: np.zeros(c), 1.0, 0.1, batch=0, max_seeds=20)
    with pytest.raises(ValueError, match="method"):
        S.sequential_failure_test(lambda s, c: np.zeros(c), 1.0, 0.1, batch=5, max_seeds=20, method="x")
    seen = []
    S.sequential_failure_test(lambda s, c: seen.append((s, c)) or np.zeros(c), 1.0, 1e-6,
                              batch=40, max_seeds=100)
    assert seen == [(0, 40), (40, 40), (80, 20)]


def test_betabinomial_sequence_is_the_ville_set():
    k, n, a = 7, 120, 0.05
    r = S.sequential_failure_test(lambda s, c: np.r_[np.full(k, 2.0), np.zeros(c - k)], 1.0, 0.5,
                                  batch=n, max_seeds=n, method="betabinomial")
    from scipy.special import betaln

    def logM(p):
        return betaln(1 + k, 1 + n - k) - k * math.log(p) - (n - k) * math.log1p(-p)

    assert logM(r.low) == pytest.approx(math.log(1 / a), abs=1e-8)
    assert logM(r.high) == pytest.approx(math.log(1 / a), abs=1e-8)


# ---------------------------------------------------------------- tails


def test_hill_exact_pareto_coverage():
    """For an exact Pareto tail the Gamma interval is exact: coverage = 95% up to MC error."""
    R, n, a = 2000, 400, 1.7
    rng = np.random.default_rng(11)
    data = (1.0 - rng.random((R, n))) ** (-1 / a)  # Pareto(a) on [1, inf)
    hits = sum(r.low <= a <= r.high for r in (S.hill_estimator(row) for row in data))
    assert abs(hits / R - 0.95) <= Z * mc_se(0.95, R)


def test_hill_defaults_and_errors():
    x = np.random.default_rng(0).pareto(2.0, 10000) + 1
    r = S.hill_estimator(x)
    assert r.k == 100 and r.n == 10000 and r.low < r.alpha < r.high
    assert r.gamma == pytest.approx(1 / r.alpha)
    with pytest.raises(ValueError, match="positive"):
        S.hill_estimator(-np.abs(x))
    with pytest.raises(ValueError, match="not allowed here"):
        S.hill_estimator(np.r_[x, np.inf])
    with pytest.raises(ValueError, match="k = 10000"):
        S.hill_estimator(x, k=10000)
    with pytest.raises(ValueError, match="all equal"):
        S.hill_estimator(np.ones(100))
    with pytest.raises(ValueError, match="at least 3"):
        S.hill_estimator([1.0, 2.0])


@pytest.mark.parametrize("xi", [-0.3, 0.0, 0.3, 0.8, 2.0, 5.0])
def test_gpd_mle_matches_scipy_fit(xi):
    rng = np.random.default_rng(5)
    y = st.genpareto(xi, scale=1.5).rvs(size=800, random_state=rng)
    c, _, s = st.genpareto.fit(y, floc=0)
    xh, sh = S._gpd_mle(y[None, :])
    ll = lambda c_, s_: st.genpareto(c_, 0, s_).logpdf(y).sum()  # noqa: E731
    assert ll(xh[0], sh[0]) >= ll(c, s) - 1e-6  # at least as likely as scipy's optimum
    assert xh[0] == pytest.approx(c, abs=2e-3) and sh[0] == pytest.approx(s, rel=2e-3)


def test_gpd_recovers_pareto_quantile_at_1e_4():
    a, delta = 2.0, 1e-4
    x = np.random.default_rng(2024).pareto(a, 10_000)  # Lomax(2): q = delta^(-1/a) - 1 = 99
    # four simultaneous coverage claims at one seed (2 methods x quantile and shape): Bonferroni, so that
    # the seed is not a lucky one (single 95% intervals missed 5 times in 40 seeds)
    conf = 1 - 0.05 / 4
    for method in ("profile", "bootstrap"):
        r = S.gpd_tail_quantile(x, delta, confidence=conf, method=method, n_boot=300, seed=1)
        assert not r.poor_fit, r.reasons
        assert r.low <= delta ** (-1 / a) - 1 <= r.high
        assert r.xi_low <= 1 / a <= r.xi_high
        assert r.n_exceed == 1000 and r.low < r.estimate < r.high


def test_gpd_poor_fit_is_flagged():
    x = np.random.default_rng(3).pareto(2.0, 200)
    with pytest.warns(S.PoorFitWarning, match="exceedances"):
        r = S.gpd_tail_quantile(x, 1e-3)
    assert r.poor_fit and any("exceedances" in s for s in r.reasons)
    r = S.gpd_tail_quantile(x, 1e-3, warn=False)  # no warning: flag only
    assert r.poor_fit
    # bimodal tail: exceedances are not GPD-shaped; the KS check rejects
    rng = np.random.default_rng(4)
    y = np.r_[rng.random(9000), 10 + rng.random(500), 20 + rng.random(500)]
    with pytest.warns(S.PoorFitWarning, match="goodness-of-fit"):
        S.gpd_tail_quantile(y, 1e-3)
    # lognormal: the GPD shape drifts with the threshold (it tends to 0 only very slowly)
    z = np.exp(2.0 * np.random.default_rng(5).standard_normal(100_000))
    with pytest.warns(S.PoorFitWarning, match="unstable"):
        S.gpd_tail_quantile(z, 1e-6, threshold_quantile=0.5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(delta=0.2), "exceedance rate"),
    (dict(delta=1e-3, threshold_quantile=0.9999), "exceedances"),
    (dict(delta=0.0), "delta = 0.0"),
])
def test_gpd_bad_input(kwargs, match):
    x = np.random.default_rng(0).pareto(2.0, 1000)
    with pytest.raises(ValueError, match=match):
        S.gpd_tail_quantile(x, **kwargs)


def test_gpd_quantile_coverage():
    """Profile-likelihood interval of the extrapolated quantile (Lomax(2), n = 2000, delta = 1e-4).

    The interval is asymptotic: coverage must be 95% up to Monte-Carlo error.
    """
    R = 400
    cov = _gpd_coverage(R, 21, "profile")
    assert abs(cov - 0.95) <= Z * mc_se(0.95, R), cov


def _gpd_coverage(R, seed, method):
    a, delta, n = 2.0, 1e-4, 2000
    truth = delta ** (-1 / a) - 1
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(R):
        r = S.gpd_tail_quantile(rng.pareto(a, n), delta, method=method, n_boot=150, seed=i, warn=False)
        hits += r.low <= truth <= r.high
    return hits / R


# ---------------------------------------------------------------- rates


def _slope_coverage(R, r, seed, noise, statistic, m=100, n_boot=400):
    T = np.array([100.0, 300.0, 1000.0, 3000.0, 10000.0])
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(R):
        samples = [2.0 * t ** r * noise(rng, m) for t in T]  # statistic scales exactly as T^r
        hits += S.loglog_slope(T, samples, statistic, n_boot=n_boot, seed=i).contains(r)
    return hits / R


def test_loglog_slope_coverage():
    """Q = 2 T^r * noise, lognormal noise: the median's slope is r; 95% bootstrap CI covers it."""
    R = 800
    cov = _slope_coverage(R, -0.4, 31, lambda g, m: np.exp(g.standard_normal(m)), "median")
    assert abs(cov - 0.95) <= Z * mc_se(0.95, R), cov


def test_loglog_slope_point_and_errors():
    T = np.array([10.0, 100.0, 1000.0])
    samples = [np.full(5, t ** -0.5) for t in T]
    r = S.loglog_slope(T, samples, n_boot=50)
    assert r.slope == pytest.approx(-0.5) and r.low == pytest.approx(-0.5) and r.high == pytest.approx(-0.5)
    assert S.slope_test(r, r.slope) and not r.contains(-0.4)
    r = S.loglog_slope(T, [np.r_[s, s, np.inf] for s in samples], 0.9, n_boot=50)  # 9th of 11: finite
    assert math.isfinite(r.slope)
    with pytest.raises(ValueError, match="finite positive"):
        S.loglog_slope(T, [np.full(3, np.inf)] + samples[1:])
    with pytest.raises(ValueError, match="one per x"):
        S.loglog_slope(T, samples[:2])
    with pytest.raises(ValueError, match="positive"):
        S.loglog_slope(-T, samples)
    with pytest.raises(ValueError, match="statistic"):
        S.loglog_slope(T, samples, "mean")
    with pytest.raises(ValueError, match="LoglogSlope"):
        S.slope_test(0.5, 0.5)


def test_loglog_slope_invalid_replicates_widen_interval():
    T = np.array([10.0, 100.0])
    # half the seeds diverged: bootstrap medians are often inf -> slope undefined -> (-inf, inf)
    s = [np.r_[np.ones(5), np.full(5, np.inf)], np.r_[np.ones(6), np.full(4, np.inf)]]
    r = S.loglog_slope(T, s, n_boot=200)
    assert r.n_invalid > 0 and r.low == -math.inf and r.high == math.inf


def _ols_slope_range(u, x, deltas):
    """Smallest and largest OLS slope of log q on u when each q_(1-delta) ranges over its order-statistic
    interval at level 1 - 0.05/len(deltas) (the slope is linear in log q: weights w, ends picked by sign)."""
    w = (u - u.mean()) / np.sum((u - u.mean()) ** 2)
    cis = [S.quantile_ci(x, 1 - d, 1 - 0.05 / len(deltas)) for d in deltas]
    llo, lhi = np.log([c.low for c in cis]), np.log([c.high for c in cis])
    return float(np.sum(np.where(w > 0, w * llo, w * lhi))), float(np.sum(np.where(w > 0, w * lhi, w * llo)))


def test_delta_growth_decides_both_ways():
    deltas = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3]
    rng = np.random.default_rng(9)
    n = 20_000
    x_light, x_heavy = rng.exponential(size=n), rng.pareto(1.5, size=n) + 1
    light = S.delta_growth(deltas, x_light, n_boot=200)  # Q = log(1/delta): xi = 0 <= margin
    heavy = S.delta_growth(deltas, x_heavy, n_boot=200)  # Q = delta^(-2/3)
    assert light.decision == "polylog", light.evidence
    assert heavy.decision == "polynomial", heavy.evidence
    assert heavy.kappa_low <= 2 / 3 <= heavy.kappa_high
    # the fitted slopes vs their exact values (1 for log Q on log L, 2/3 for log Q on L): both must lie in
    # the range the OLS slope takes over the box of the quantiles' order-statistic intervals (Bonferroni
    # over the 5 deltas, 95% jointly), which holds the true quantiles with probability >= 95%
    L = np.log(1 / np.array(deltas))
    lo, hi = _ols_slope_range(np.log(L), x_light, deltas)
    assert lo <= light.polylog_power <= hi and lo <= 1.0 <= hi, (lo, hi, light.polylog_power)
    lo, hi = _ols_slope_range(L, x_heavy, deltas)
    assert lo <= heavy.poly_slope <= hi and lo <= 2 / 3 <= hi, (lo, hi, heavy.poly_slope)
    unsure = S.delta_growth(deltas, rng.exponential(size=2000), n_boot=200, margin=0.0)  # xi = 0 = margin
    assert unsure.decision == "inconclusive" and "seeds would decide" in unsure.evidence
    with pytest.raises(ValueError, match="n delta >= 1"):
        S.delta_growth([1e-1, 1e-2, 1e-5], rng.exponential(size=1000))
    with pytest.raises(ValueError, match="three distinct"):
        S.delta_growth([1e-1, 1e-1, 1e-2], rng.exponential(size=1000))


# ---------------------------------------------------------------- means


def test_mean_lower_bound_is_valid_for_heavy_tails():
    """DKW lower bound on E Q holds with probability >= 97.5% (one-sided), here for Lomax(1.5)."""
    R, n, a = 2000, 100, 1.5
    mean = 1 / (a - 1)
    rng = np.random.default_rng(12)
    ok = sum(S.mean_bounds(rng.pareto(a, n), n_boot=1).low <= mean for _ in range(R))
    assert ok / R >= 0.975 - Z * mc_se(0.975, R)


def test_mean_bounds_divergence_and_errors():
    x = np.r_[np.ones(99), np.inf]
    r = S.mean_bounds(x)
    assert r.estimate == math.inf and r.high == math.inf and r.n_diverged == 1
    assert 0 < r.low < 1  # one divergence in 100 is within DKW's eps: no infinite lower bound
    many = S.mean_bounds(np.r_[np.ones(50), np.full(50, np.inf)])
    assert many.low == math.inf
    r = S.mean_bounds(np.full(100, 2.0), n_boot=100)
    assert r.low <= 2.0 <= r.high and r.estimate == 2.0
    with pytest.raises(ValueError, match="lower_support"):
        S.mean_bounds([-1.0, 1.0])
    r = S.mean_bounds([-1.0, 1.0], lower_support=-1.0, n_boot=50)
    assert -1.0 <= r.low <= 0.0
    r = S.mean_bounds(np.linspace(-1, 1, 101), lower_support=None, n_boot=500)
    assert r.low < 0.0 < r.high


# ---------------------------------------------------------------- hidden constants


def _cells(rng, c_true, bounds, n, label=""):
    # Q = c_true * B * Lomax(3): P(Q > c B) <= delta iff c >= c_true * q_noise(1 - delta)
    return [S.Cell(c_true * b * rng.pareto(3.0, n), b, f"{label}{i}") for i, b in enumerate(bounds)]


def test_calibrate_then_test_held_out():
    delta = 0.05
    rng = np.random.default_rng(13)
    cal = S.calibrate_constant(_cells(rng, 0.7, [1.0, 2.0, 5.0], 2000), delta)
    c_star = 0.7 * (delta ** (-1 / 3) - 1)  # smallest valid constant
    assert cal.C >= c_star  # upper CI per cell -> conservative
    assert cal.C <= 1.5 * c_star
    held_cells = _cells(rng, 0.7, [0.5, 3.0], 4000, "h")
    held = S.test_calibrated(cal.C, held_cells, delta)
    # the verdict these draws determine: holds iff every cell's Clopper-Pearson upper end is <= delta
    # (and never violated, since cal.C >= c_star means the true failure probability is <= delta)
    highs = [S.clopper_pearson(int(np.count_nonzero(c.values > cal.C * c.bound)), c.values.size)[1]
             for c in held_cells]
    assert held.verdict == ("holds" if max(highs) <= delta else "inconclusive")
    assert [c.failure.high for c in held.cells] == highs
    assert all(0 < c.tightness <= 1.0 for c in held.cells)
    low = S.test_calibrated(0.5 * c_star, _cells(rng, 0.7, [0.5, 3.0], 4000, "h"), delta)
    assert low.verdict == "violated"
    assert "violated" in str(low)


def test_calibration_accepts_mappings_and_reports_infinite_constant():
    cells = [{"values": np.ones(10), "bound": 1.0}, (np.ones(100), 2.0)]
    cal = S.calibrate_constant(cells, 0.01)
    assert cal.C == math.inf and cal.binding == "0"  # 10 seeds cannot bound a 0.99-quantile
    with pytest.raises(ValueError, match="bound"):
        S.calibrate_constant([{"values": [1.0]}], 0.1)
    with pytest.raises(ValueError, match="non-empty"):
        S.calibrate_constant([], 0.1)
    with pytest.raises(ValueError, match=r"cells\[0\].bound = -1.0"):
        S.calibrate_constant([(np.ones(3), -1.0)], 0.1)


# ---------------------------------------------------------------- slow, larger studies


@pytest.mark.slow
def test_slope_coverage_slow_heavy_noise_quantile():
    R = 3000
    cov = _slope_coverage(R, -2 / 7, 41, lambda g, m: g.pareto(1.5, m) + 1, 0.75, m=200)
    assert abs(cov - 0.95) <= Z * mc_se(0.95, R), cov


@pytest.mark.slow
def test_gpd_quantile_coverage_slow():
    R = 2000
    cov = _gpd_coverage(R, 22, "profile")
    assert abs(cov - 0.95) <= Z * mc_se(0.95, R), cov


@pytest.mark.slow
@pytest.mark.parametrize("method", ["bonferroni", "betabinomial"])
def test_sequential_error_rate_slow(method):
    delta, R = 0.05, 3000
    rng = np.random.default_rng(17)
    for p, bad in ((delta, "violated"), (1.2 * delta, "holds")):
        res = [S.sequential_failure_test(_bernoulli_fn(p, rng), 1.0, delta, batch=50, max_seeds=2000,
                                         method=method) for _ in range(R)]
        assert sum(r.decision == bad for r in res) / R <= 0.05 + Z * mc_se(0.05, R)


def test_gpd_flags_narrow_extrapolation_past_one_over_n():
    """|t_3| excesses converge slowly to a GPD: with m = 2000 exceedances the extrapolated interval
    under-covers (measured 86% at delta = 1e-5), so extrapolation past 1/n at that size is flagged."""
    x = np.abs(np.random.default_rng(6).standard_t(3, 20_000))
    r = S.gpd_tail_quantile(x, 1e-5, warn=False)
    assert r.poor_fit and any("|t_3|" in s for s in r.reasons), r.reasons
    r = S.gpd_tail_quantile(x, 1e-4, warn=False)  # n delta = 2: inside the data
    assert not any("|t_3|" in s for s in r.reasons), r.reasons


def _growth_decisions(draw, repeats, n=2000, seed=0):
    deltas = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3]
    rng = np.random.default_rng(seed)
    out = [S.delta_growth(deltas, draw(rng, n), n_boot=100).decision for _ in range(repeats)]
    return {d: out.count(d) for d in ("polylog", "polynomial", "inconclusive")}


def test_delta_growth_does_not_call_a_polynomial_tail_polylog():
    """Lomax(8) (quantile ~ delta^(-1/8)) with 2000 seeds: "polylog" must be rare (nominal <= 2.5%,
    tested with a 99% Clopper-Pearson interval); absence of evidence used to give "polylog" > 50%."""
    R = 40
    k = _growth_decisions(lambda r, n: r.pareto(8.0, n), R)["polylog"]
    assert S.clopper_pearson(k, R, 0.99)[0] <= 0.025, k


@pytest.mark.slow
def test_delta_growth_size_and_power():
    """Size ("polylog" on a polynomial tail) for Lomax 2-8 and |t_3|, power on exponential / chi^2."""
    R = 200
    for a in (2.0, 3.0, 4.0, 6.0, 8.0):
        k = _growth_decisions(lambda r, n, a=a: r.pareto(a, n), R, seed=int(a))["polylog"]
        assert S.clopper_pearson(k, R, 0.99)[0] <= 0.025, (a, k)
    k = _growth_decisions(lambda r, n: np.abs(r.standard_t(3, n)), R, seed=3)["polylog"]
    assert S.clopper_pearson(k, R, 0.99)[0] <= 0.025, k
    for draw in (lambda r, n: r.exponential(size=n), lambda r, n: r.chisquare(4, n)):
        k = _growth_decisions(draw, R, seed=5)["polylog"]
        assert S.clopper_pearson(k, R, 0.99)[0] > 0.025, k  # power above the size


def test_betabinomial_sequence_survives_resuming_with_a_larger_budget():
    """At p = delta exactly, "violated" is an error. The beta-binomial confidence sequence must keep
    P(some look, at any n up to any budget, says violated) <= 1 - confidence: here every look of a
    run resumed from 500 to 20000 seeds in batches of 100 (tested with a 99% Clopper-Pearson CI)."""
    from scipy import special

    R, n_max, batch, delta, a = 2000, 20_000, 100, 0.05, 0.05
    rng = np.random.default_rng(12)
    n = np.arange(batch, n_max + 1, batch)
    k = np.cumsum(rng.binomial(batch, delta, size=(R, n.size)), axis=1)
    log_m = (special.betaln(1 + k, 1 + n - k) - special.betaln(1, 1)
             - k * math.log(delta) - (n - k) * math.log1p(-delta))
    ever = np.any((log_m >= math.log(1 / a)) & (k / n > delta), axis=1)
    lo, _ = S.clopper_pearson(int(ever.sum()), R, 0.99)
    assert lo <= a, ever.sum()
    # the closed-form event is the one sequential_failure_test uses: compare on one path
    x = (rng.random(n_max) < delta).astype(float)
    first = S.sequential_failure_test(lambda s, c: x[s:s + c], 0.5, delta, batch=batch, max_seeds=500,
                                      method="betabinomial")
    more = S.sequential_failure_test(lambda s, c: x[s:s + c], 0.5, delta, batch=batch, max_seeds=n_max,
                                     method="betabinomial")
    assert more.history[:first.looks] == first.history  # resuming replays the same looks, then goes on
