"""clipsim.stats GPD tail fit: direct tests against independently known answers.

Every expected value here comes from outside the code under test: scipy.stats.genpareto (log-density,
inverse survival function), a scipy.optimize reference for the likelihood maximiser and for the profile
likelihood of the extrapolated quantile (a different search over scipy's log-density), the chi-square(1)
cutoff of the profile interval (Coles 2001, §4.3.3), hand-built inputs whose answer is determined (order
statistics, formatting), and exact equivariance (the GPD is a scale family, so the fit of ``c x`` is
``c`` times the fit of ``x``). All tests are pure NumPy/SciPy and fast (they run once per mutant).
"""
import functools
import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as st

from clipsim import stats as S

CRIT = 0.5 * st.chi2.ppf(0.95, 1)  # profile cutoff (log-likelihood units) of a 95% interval


# ---------------------------------------------------------------- independent references


def ref_loglik(y, xi, sigma):
    """GPD log-likelihood by scipy (location 0)."""
    return float(np.sum(st.genpareto.logpdf(y, xi, 0.0, sigma)))


def ref_mle(y):
    """Maximiser of the GPD likelihood over xi >= -1, sigma > 0: scipy's fit polished by Nelder-Mead."""
    c0, _, s0 = st.genpareto.fit(y, floc=0)

    def nll(p):
        xi, sigma = p[0], math.exp(p[1])
        if xi < -1.0:
            return math.inf
        v = ref_loglik(y, xi, sigma)
        return -v if np.isfinite(v) else math.inf

    starts = [(max(c0, -1.0), math.log(s0)), (0.0, math.log(np.mean(y)))]
    best = min((optimize.minimize(nll, s, method="Nelder-Mead",
                                  options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000}) for s in starts),
               key=lambda r: r.fun)
    return best.x[0], math.exp(best.x[1]), -best.fun


def ref_profile(y, z, L, xi_hi):
    """max over xi in [-1, xi_hi] of the scipy log-likelihood with the quantile u + z fixed
    (sigma = z xi / expm1(xi L)): a dense grid, then a bounded Brent search around its best point."""

    def ll(xi):
        if xi * L > 709.0:
            return -math.inf
        sigma = z / L if xi == 0.0 else z * xi / math.expm1(xi * L)
        return ref_loglik(y, xi, sigma) if sigma > 0 else -math.inf

    grid = np.linspace(-1.0, xi_hi, 801)
    grid = grid[grid != 0.0]
    with np.errstate(all="ignore"):  # expm1 overflows where xi L > 709: sigma = 0 there, no likelihood
        sig = z * grid / np.expm1(grid * L)
        vals = np.sum(st.genpareto.logpdf(y[:, None], grid[None, :], 0.0, sig[None, :]), axis=0)
    vals = np.where(np.isnan(vals) | (sig <= 0), -np.inf, vals)
    j = int(np.argmax(vals))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    r = optimize.minimize_scalar(lambda t: -ll(t), bounds=(lo, hi), method="bounded",
                                 options={"xatol": 1e-13})
    return max(-float(r.fun), float(vals[j]))


def lomax(a, n, seed):
    return np.random.default_rng(seed).pareto(a, n)


# ---------------------------------------------------------------- log-likelihood, quantile, threshold

Y = np.array([0.05, 0.3, 0.7, 1.1, 1.6, 2.2, 2.35])  # inside the support of every (xi, sigma) below


@pytest.mark.parametrize("xi", [-0.7, -0.2, -1e-13, 0.0, 1e-13, 0.4, 3.0])
@pytest.mark.parametrize("sigma", [0.6 * 2.35 + 0.3, 2.5])
def test_gpd_loglik_equals_scipy(xi, sigma):
    assert S._gpd_loglik(Y, xi, sigma) == pytest.approx(ref_loglik(Y, xi, sigma), rel=1e-12, abs=1e-12)


def test_gpd_loglik_outside_the_support_is_minus_infinity():
    # xi = -0.5, sigma = 1: support [0, 2]; the density at the end point y = 2 is (1 - y/2)^1 = 0
    y = np.array([0.5, 1.0, 2.0])
    assert st.genpareto(-0.5, 0, 1.0).logpdf(2.0) == -np.inf
    assert S._gpd_loglik(y, -0.5, 1.0) == -math.inf
    assert S._gpd_loglik(np.array([0.5, 2.5]), -0.5, 1.0) == -math.inf  # beyond the end
    assert S._gpd_loglik(np.array([0.5, 1.99]), -0.5, 1.0) > -math.inf  # just inside
    # xi = -1: uniform on [0, sigma], the end point included (density (1 - y/sigma)^0 / sigma)
    assert S._gpd_loglik(y, -1.0, 2.0) == pytest.approx(ref_loglik(y, -1.0, 2.0), rel=1e-12)
    assert S._gpd_loglik(y, -1.0, 2.0) == pytest.approx(-3 * math.log(2.0), rel=1e-12)
    assert S._gpd_loglik(y, -1.0, 1.999) == -math.inf == ref_loglik(y, -1.0, 1.999)
    for sigma in (0.0, -1.0):  # no scale: no distribution
        assert S._gpd_loglik(Y, 0.3, sigma) == -math.inf
        assert S._gpd_loglik(Y, 0.0, sigma) == -math.inf


@pytest.mark.parametrize("xi", [-0.9, -0.3, 0.0, 0.5, 2.0])
def test_gpd_quantile_equals_scipy_isf(xi):
    """u + sigma ((exp(xi L) - 1)/xi) is u plus the GPD quantile of survival exp(-L)."""
    u, sigma = 3.0, 1.7
    for L in (0.05, 1.0, 6.0):
        want = u + st.genpareto(xi, 0, sigma).isf(math.exp(-L))
        got = S._gpd_quantile(np.array([u]), np.array([xi]), np.array([sigma]), L)
        assert got[0] == pytest.approx(want, rel=1e-12)


def test_gpd_quantile_vectorised_with_exact_zero_shape():
    xi = np.array([0.0, 0.5, -0.5, 0.0])
    u = np.array([1.0, 2.0, 3.0, 4.0])
    sigma = np.array([2.0, 1.0, 1.0, 0.5])
    L = 2.0
    got = S._gpd_quantile(u, xi, sigma, L)
    want = [u[i] + st.genpareto(xi[i], 0, sigma[i]).isf(math.exp(-L)) for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0] == 1.0 + 2.0 * L  # exponential tail: u + sigma L exactly


def test_gpd_quantile_overflow_is_infinite_without_warning():
    # sigma (exp(1000) - 1) / 10 exceeds the largest double: the quantile is +inf (filterwarnings = error)
    got = S._gpd_quantile(np.array([0.0]), np.array([10.0]), np.array([1.0]), 100.0)
    assert got[0] == math.inf


def test_pot_threshold_is_the_m_plus_first_largest():
    rows = np.array([[1.0, 2.0, 4.0, 7.0, 11.0], [0.0, 0.5, 1.0, 1.5, 3.0]])
    u, y = S._pot(rows, 2)
    np.testing.assert_array_equal(u, [4.0, 1.0])
    np.testing.assert_array_equal(y, [[3.0, 7.0], [0.5, 2.0]])
    u, y = S._pot(rows, 4)
    np.testing.assert_array_equal(u, [1.0, 0.0])
    np.testing.assert_array_equal(y, [[1.0, 3.0, 6.0, 10.0], [0.5, 1.0, 1.5, 3.0]])


# ---------------------------------------------------------------- Grimshaw profile and the MLE


def test_gpd_profile_is_the_loglik_per_exceedance():
    """At theta = tau / mean(y): xi = mean log(1 + theta y), sigma = xi / theta (Grimshaw 1993),
    and the value is the GPD log-likelihood at (xi, sigma) divided by m (tau = 0: exponential)."""
    y = np.array([[0.2, 0.5, 1.0, 3.0, 6.0], [0.1, 0.1, 0.4, 0.9, 1.2]])
    ybar = y.mean(axis=1)
    tau = np.array([[-0.3, -0.05, 0.0, 0.3, 2.0, 40.0], [-0.4, -1e-10, 0.0, 1e-10, 1.0, 5.0]])
    ll, xi, sigma = S._gpd_profile(y, tau)
    assert ll.shape == xi.shape == sigma.shape == tau.shape
    for b in range(2):
        m = y.shape[1]
        for g in range(tau.shape[1]):
            theta = tau[b, g] / ybar[b]
            if tau[b, g] == 0.0:
                want_xi, want_sigma = 0.0, ybar[b]
            else:
                want_xi = float(np.mean(np.log1p(theta * y[b])))
                want_sigma = want_xi / theta
            assert xi[b, g] == pytest.approx(want_xi, rel=1e-12, abs=1e-15)
            assert sigma[b, g] == pytest.approx(want_sigma, rel=1e-9)
            assert ll[b, g] * m == pytest.approx(ref_loglik(y[b], want_xi, want_sigma), rel=1e-9)


def test_gpd_profile_refuses_shapes_below_minus_one():
    # theta near -1/max(y): log(1 + theta max(y)) -> -inf drags the mean below -1, where the likelihood
    # is unbounded (Smith 1985): the profile reports -inf there
    y = np.array([[1.0, 1.0, 10.0]])
    theta = -0.0999999
    tau = np.array([[theta * y.mean(), -0.05 * y.mean()]])
    ll, xi, _ = S._gpd_profile(y, tau)
    assert np.mean(np.log1p(theta * y)) < -1.0 and xi[0, 0] < -1.0
    assert ll[0, 0] == -math.inf
    assert -1.0 < xi[0, 1] and np.isfinite(ll[0, 1])


@functools.lru_cache(maxsize=None)
def _mle_cases():
    rng = np.random.default_rng(11)
    cases = [st.genpareto(xi, scale=s).rvs(size=m, random_state=rng)
             for xi, s, m in ((-0.4, 2.0, 40), (0.0, 0.5, 25), (0.3, 1.0, 60), (1.5, 3.0, 30), (4.0, 1.0, 40))]
    return tuple(cases)


@functools.lru_cache(maxsize=None)
def _ref_mle_case(i):
    return ref_mle(_mle_cases()[i])


@pytest.mark.parametrize("i", range(5))
def test_gpd_mle_reaches_the_likelihood_maximum(i):
    """The fit is the maximiser found independently (scipy's fit polished by Nelder-Mead)."""
    y = _mle_cases()[i]
    xi_r, s_r, l_r = _ref_mle_case(i)
    xi, sigma = S._gpd_mle(y[None, :])
    l_f = ref_loglik(y, xi[0], sigma[0])
    assert l_f >= l_r - 1e-8  # at least as likely as the reference optimum
    assert xi[0] == pytest.approx(xi_r, abs=1e-3) and sigma[0] == pytest.approx(s_r, rel=1e-3)


def test_gpd_mle_rows_are_fitted_independently():
    ys = _mle_cases()
    m = min(len(v) for v in ys)
    rows = np.stack([v[:m] for v in ys])
    xi, sigma = S._gpd_mle(rows)
    for b in range(rows.shape[0]):
        xb, sb = S._gpd_mle(rows[b:b + 1])
        assert xi[b] == xb[0] and sigma[b] == sb[0]
        _, _, l_r = ref_mle(rows[b]) if len(ys[b]) > m else _ref_mle_case(b)
        assert ref_loglik(rows[b], xi[b], sigma[b]) >= l_r - 1e-8


def test_gpd_mle_uniform_data_sits_at_the_xi_minus_one_boundary():
    """Equally spaced data on (0, 1]: the likelihood grows as xi -> -1, sigma -> max(y) (uniform on
    [0, max y]: log-likelihood -m log max(y) = 0); the search is confined to xi >= -1."""
    y = np.linspace(0.02, 1.0, 50)
    xi, sigma = S._gpd_mle(y[None, :])
    xi_r, s_r, l_r = ref_mle(y)
    l_f = ref_loglik(y, xi[0], sigma[0])
    assert l_f >= l_r - 1e-9 and l_r == pytest.approx(0.0, abs=1e-9)
    assert xi[0] == -1.0 and sigma[0] == 1.0


# ---------------------------------------------------------------- profile likelihood of the quantile


def _fit_case(x, delta, tq=0.9):
    """Threshold, exceedances, L and the reference fit of a sample (everything by hand and scipy)."""
    n = x.size
    m = int(math.floor(n * (1 - tq) + 1e-9))
    xs = np.sort(x)
    u = xs[n - m - 1]
    y = xs[n - m:] - u
    L = math.log(m / (n * delta))
    xi_r, s_r, l_r = ref_mle(y)
    z_r = float(st.genpareto.isf(math.exp(-L), xi_r, 0.0, s_r))  # u + z_r: the fitted (1-delta)-quantile
    return dict(n=n, m=m, u=u, y=y, L=L, xi=xi_r, sigma=s_r, lmax=l_r, z=z_r,
                xi_hi=min(max(5.0, 2.0 * xi_r + 1.0), 700.0 / L))


@functools.lru_cache(maxsize=None)
def _lomax_case(seed, n=400, delta=1e-3):
    return lomax(2.0, n, seed), _fit_case(lomax(2.0, n, seed), delta)


def test_gpd_profile_quantile_matches_the_reference_profile():
    """At the fitted quantile the profile equals the maximum likelihood; elsewhere it equals the
    reference maximisation over xi (scipy log-density); z <= 0 (a quantile at or below the threshold)
    has likelihood zero. Tolerance 1e-7: both searches locate xi to 1e-8 or better, and the log-likelihood
    is flat to second order at the maximum."""
    _, c = _lomax_case(1)
    y, L, hi = c["y"], c["L"], c["xi_hi"]
    assert S._gpd_profile_quantile(y, c["z"], L, hi) == pytest.approx(c["lmax"], abs=1e-7)
    for f in (0.3, 0.8, 1.5, 4.0):
        z = f * c["z"]
        want = ref_profile(y, z, L, hi)
        assert want < c["lmax"] - 1e-3
        assert S._gpd_profile_quantile(y, z, L, hi) == pytest.approx(want, abs=1e-7)
    for z in (0.0, -1.0):
        assert S._gpd_profile_quantile(y, z, L, hi) == -math.inf


def test_gpd_profile_quantile_at_shape_exactly_zero():
    """With xi in [-1, 1/g - 1] (g the golden-section ratio) the bounded search evaluates xi = 0 first,
    where sigma = z / L (the exponential limit of z xi / expm1(xi L))."""
    _, c = _lomax_case(1)
    g = 0.5 * (3.0 - math.sqrt(5.0))
    xi_hi = 1.0 / g - 1.0
    assert -1.0 + g * (xi_hi + 1.0) == 0.0  # scipy's first point of the bounded search
    for f in (0.5, 1.0, 2.0):
        z = f * c["z"]
        got = S._gpd_profile_quantile(c["y"], z, c["L"], xi_hi)
        assert got == pytest.approx(ref_profile(c["y"], z, c["L"], xi_hi), abs=1e-7)


def _deficit(c, q):
    """2 x log-likelihood-ratio deficit of the quantile value q, halved (compare with CRIT)."""
    return c["lmax"] - ref_profile(c["y"], q - c["u"], c["L"], c["xi_hi"])


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_gpd_profile_interval_ends_sit_on_the_chi2_cutoff(seed):
    """Both ends of the 95% interval have profile deficit chi2_1(0.95)/2 (Coles 2001, §4.3.3); fit,
    threshold and shape interval as defined (Wald, (1+xi)/sqrt(m)). Tolerance 1e-6 in log-likelihood:
    the ends are located to 1e-10 z (brentq) and each profile to 1e-8 in xi."""
    x, c = _lomax_case(seed)
    r = S.gpd_tail_quantile(x, 1e-3, warn=False)
    assert (r.n, r.n_exceed, r.threshold, r.method, r.confidence) == (400, 40, c["u"], "profile", 0.95)
    assert r.xi == pytest.approx(c["xi"], abs=1e-3) and r.sigma == pytest.approx(c["sigma"], rel=1e-3)
    assert r.estimate == pytest.approx(c["u"] + c["z"], rel=1e-4)
    assert c["u"] < r.low < r.estimate < r.high < math.inf
    assert _deficit(c, r.low) == pytest.approx(CRIT, abs=1e-6)
    assert _deficit(c, r.high) == pytest.approx(CRIT, abs=1e-6)
    half = st.norm.ppf(0.975) * (1 + r.xi) / math.sqrt(40)
    assert (r.xi_low, r.xi_high) == pytest.approx((r.xi - half, r.xi + half), rel=1e-12)


def test_gpd_profile_interval_other_level():
    x, c = _lomax_case(3)
    r = S.gpd_tail_quantile(x, 1e-3, confidence=0.8, warn=False)
    crit = 0.5 * st.chi2.ppf(0.8, 1)
    assert _deficit(c, r.low) == pytest.approx(crit, abs=1e-6)
    assert _deficit(c, r.high) == pytest.approx(crit, abs=1e-6)


def test_gpd_profile_interval_unbounded_on_both_sides():
    """Three exceedances, delta = 1e-12: the profile deficit stays below the cutoff from 1e-6 times the
    fitted excess (where the lower search starts) up to the upper search limit (2 x 4^20 times it,
    beyond 1e12): the interval is [threshold, inf)."""
    x = lomax(2.0, 30, 1)
    c = _fit_case(x, 1e-12)
    assert _deficit(c, c["u"] + 2 * 4.0 ** 20 * c["z"]) < CRIT - 0.1
    assert _deficit(c, c["u"] + 1e-6 * c["z"]) < CRIT - 0.1
    r = S.gpd_tail_quantile(x, 1e-12, warn=False)
    assert (r.low, r.high) == (c["u"], math.inf)


def test_gpd_profile_interval_lower_end_just_above_the_search_start():
    """Two exceedances (2 and 100002 above the threshold 17), delta just below m/n: the deficit at 1e-6
    times the fitted excess is above the cutoff but by less than one, so the lower end is found by the
    root search, close to the threshold."""
    x = np.r_[np.arange(18.0), 19.0, 19.0 + 1e5]
    c = _fit_case(x, 0.099)
    assert c["u"] == 17.0 and c["m"] == 2
    assert CRIT < _deficit(c, c["u"] + 1e-6 * c["z"]) < CRIT + 1.0
    r = S.gpd_tail_quantile(x, 0.099, warn=False)
    assert c["u"] < r.low < r.estimate < r.high < math.inf
    assert _deficit(c, r.low) == pytest.approx(CRIT, abs=1e-6)
    assert _deficit(c, r.high) == pytest.approx(CRIT, abs=1e-6)


def test_gpd_fit_is_scale_equivariant():
    """The GPD is a scale family: the fit, the extrapolated quantile and both interval ends of ``c x``
    are ``c`` times those of ``x``, the shape unchanged (to the 1e-10 relative root tolerance).

    At c = 1e-15 the interval ends lie far below any absolute root tolerance; there the log-likelihood
    (about -35 per exceedance) is flat to its rounding over ~1e-7 in xi, so the maximiser itself is only
    checked to 1e-5."""
    x = lomax(2.0, 400, 7)
    r1 = S.gpd_tail_quantile(x, 1e-4, warn=False)
    assert r1.high > 4 * r1.estimate  # the upper search needs several steps
    for c in (1e-9, 1e6, 1e-15):
        rc = S.gpd_tail_quantile(c * x, 1e-4, warn=False)
        fit_tol = 1e-5 if c < 1e-12 else 1e-8
        for f in ("low", "high", "threshold"):
            assert getattr(rc, f) == pytest.approx(c * getattr(r1, f), rel=1e-8, abs=0), (c, f)
        for f in ("estimate", "sigma"):
            assert getattr(rc, f) == pytest.approx(c * getattr(r1, f), rel=fit_tol, abs=0), (c, f)
        assert rc.xi == pytest.approx(r1.xi, abs=fit_tol) and rc.gof_pvalue == pytest.approx(r1.gof_pvalue)


# ---------------------------------------------------------------- bootstrap


def _percentile_bootstrap(x, delta, tq, n_boot, seed, conf):
    """The percentile bootstrap as defined: n_boot resamples of the whole sample drawn at once from
    default_rng(seed), each refitted (a resample whose exceedances are all ties reuses the data's)."""
    n = x.size
    m = int(math.floor(n * (1 - tq) + 1e-9))
    L = math.log(m / (n * delta))
    rng = np.random.default_rng(seed)
    xb = np.sort(x[rng.integers(0, n, size=(n_boot, n))], axis=1)
    u = xb[:, n - m - 1]
    y = xb[:, n - m:] - u[:, None]
    y_data = np.sort(x)[n - m:] - np.sort(x)[n - m - 1]
    y[np.all(y == 0, axis=1)] = y_data
    xi, sigma = S._gpd_mle(y)
    q = u + np.array([st.genpareto.isf(math.exp(-L), xi[b], 0.0, sigma[b]) for b in range(n_boot)])
    a = 1 - conf
    return np.quantile(q, [a / 2, 1 - a / 2]), np.quantile(xi, [a / 2, 1 - a / 2])


def test_gpd_bootstrap_is_the_percentile_bootstrap_with_default_replicates_and_seed():
    x = lomax(2.0, 500, 9)
    r = S.gpd_tail_quantile(x, 1e-3, method="bootstrap", warn=False)  # defaults: n_boot 200, seed 0
    (ql, qh), (xl, xh) = _percentile_bootstrap(x, 1e-3, 0.9, 200, 0, 0.95)
    assert r.method == "bootstrap"
    assert (r.low, r.high) == pytest.approx((ql, qh), rel=1e-9)
    assert (r.xi_low, r.xi_high) == pytest.approx((xl, xh), rel=1e-12)
    r2 = S.gpd_tail_quantile(x, 1e-3, method="bootstrap", confidence=0.8, n_boot=50,
                             seed=np.random.default_rng(3), warn=False)
    (ql, qh), (xl, xh) = _percentile_bootstrap(x, 1e-3, 0.9, 50, 3, 0.8)
    assert (r2.low, r2.high, r2.xi_low, r2.xi_high) == pytest.approx((ql, qh, xl, xh), rel=1e-9)


def test_gpd_bootstrap_in_chunks_equals_one_draw():
    """More than 4e6 resampled values are drawn in chunks; the result is that of one draw."""
    n = 1_400_001  # 4e6 // n = 2 replicates per chunk: chunks of 2 and 1
    x = lomax(3.0, n, 10)
    r = S.gpd_tail_quantile(x, 1e-7, threshold_quantile=0.999, method="bootstrap", n_boot=3, seed=4,
                            warn=False)
    (ql, qh), (xl, xh) = _percentile_bootstrap(x, 1e-7, 0.999, 3, 4, 0.95)
    assert (r.low, r.high, r.xi_low, r.xi_high) == pytest.approx((ql, qh, xl, xh), rel=1e-9)


def test_gpd_bootstrap_all_tied_resamples_reuse_the_data():
    x = np.r_[np.ones(8), 2.0, 3.0]  # m = 2 exceedances (1, 2) over u = 1; most resamples are all ones
    r = S.gpd_tail_quantile(x, 0.1, threshold_quantile=0.8, method="bootstrap", n_boot=40, seed=2,
                            warn=False)
    (ql, qh), (xl, xh) = _percentile_bootstrap(x, 0.1, 0.8, 40, 2, 0.95)
    assert (r.low, r.high, r.xi_low, r.xi_high) == pytest.approx((ql, qh, xl, xh), rel=1e-9)


def test_rng_accepts_a_seed_or_a_generator():
    g = np.random.default_rng(8)
    assert S._rng(g) is g
    assert S._rng(5).random(3).tolist() == np.random.default_rng(5).random(3).tolist()
    assert S._rng(0).random() == np.random.default_rng(0).random()
    with pytest.raises(ValueError, match=r"^seed = -1 is not allowed: must be an integer in \[0, inf\]$"):
        S._rng(-1)


# ---------------------------------------------------------------- input checks and poor-fit flags


def test_gpd_exceedance_count_and_threshold_boundaries():
    x = lomax(2.0, 1000, 12)
    assert S.gpd_tail_quantile(x, 1e-3, warn=False).n_exceed == 100  # floor(1000 x 0.1), not 99
    with pytest.raises(ValueError, match=r"^threshold_quantile = 0\.91 leaves 1 exceedances of 20 values: "
                                         r"need 2 \.\. n-1$"):
        S.gpd_tail_quantile(x[:20], 1e-3, threshold_quantile=0.91)
    assert S.gpd_tail_quantile(x[:20], 1e-3, threshold_quantile=0.9, warn=False).n_exceed == 2
    assert S.gpd_tail_quantile(x[:20], 0.9, threshold_quantile=0.01, warn=False).n_exceed == 19
    with pytest.raises(ValueError, match="leaves 20 exceedances of 20 values"):
        S.gpd_tail_quantile(x[:20], 1e-3, threshold_quantile=1e-12)
    # delta must lie below m / n = 0.1
    with pytest.raises(ValueError, match=r"^delta = 0\.1 is not allowed: must be below the exceedance rate "
                                         r"m/n = 0\.1 \(use quantile_ci inside the data\)$"):
        S.gpd_tail_quantile(x, 0.1)
    r = S.gpd_tail_quantile(x, 0.0999, warn=False)
    assert r.threshold == np.sort(x)[899] and r.delta == 0.0999


def test_gpd_needs_two_exceedances_off_the_threshold():
    with pytest.raises(ValueError, match=r"^values: fewer than two exceedances above the threshold differ from "
                                         r"it \(ties\); cannot fit a GPD$"):
        S.gpd_tail_quantile(np.r_[np.arange(17.0), 20.0, 20.0, 21.0], 0.05)
    r = S.gpd_tail_quantile(np.r_[np.arange(17.0), 20.0, 20.5, 21.0], 0.05, warn=False)
    assert r.threshold == 20.0 and r.n_exceed == 2


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="wald"), r"^method = 'wald' is not allowed: must be one of 'profile', 'bootstrap'$"),
    (dict(min_exceed=0), r"^min_exceed = 0 is not allowed: must be an integer in \[1, inf\]$"),
    (dict(n_boot=0), r"^n_boot = 0 is not allowed: must be an integer in \[1, 1000000\]$"),
    (dict(threshold_quantile=1.0), r"^threshold_quantile = 1"),
    (dict(confidence=1.0), r"^confidence = 1"),
])
def test_gpd_refuses_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.gpd_tail_quantile(lomax(2.0, 100, 0), 1e-3, **kwargs)


def test_gpd_min_exceed_boundary():
    x = lomax(2.0, 500, 13)  # m = 50 exceedances
    r = S.gpd_tail_quantile(x, 1e-3)  # default min_exceed = 50: enough, no flag, no warning
    assert not any("exceedances (<" in s for s in r.reasons), r.reasons
    with pytest.warns(S.PoorFitWarning) as rec:
        r = S.gpd_tail_quantile(x, 1e-3, min_exceed=51)
    assert r.poor_fit and "only 50 exceedances (< 51)" in r.reasons
    assert [str(w.message) for w in rec] == ["poor GPD tail fit: " + "; ".join(r.reasons)]
    x30 = lomax(2.0, 30, 1)
    with pytest.warns(S.PoorFitWarning) as rec:
        r = S.gpd_tail_quantile(x30, 1e-12)
    assert len(r.reasons) == 2 and str(rec[0].message) == "poor GPD tail fit: " + "; ".join(r.reasons)


def test_gpd_extrapolation_range_flags():
    """n delta < 0.01 (two decades past 1/n) is flagged; n delta = 0.01 is not."""
    x = lomax(3.0, 1000, 14)  # m = 100
    two = "extrapolating to delta"
    assert not any(two in s for s in S.gpd_tail_quantile(x, 1e-5, warn=False).reasons)  # n delta = 0.01
    r = S.gpd_tail_quantile(x, 0.999e-5, warn=False)
    assert r.poor_fit and f"extrapolating to delta = {0.999e-5:g} with n = 1000: more than two decades " \
                          "past 1/n" in r.reasons


def test_gpd_narrow_interval_flag_needs_a_thousand_exceedances_and_n_delta_below_one():
    narrow = "extrapolating past 1/n with"
    x = lomax(3.0, 10_000, 15)  # m = 1000
    assert not any(narrow in s for s in S.gpd_tail_quantile(x, 1e-4, warn=False).reasons)  # n delta = 1
    r = S.gpd_tail_quantile(x, 0.99e-4, warn=False)
    assert f"{narrow} 1000 exceedances: the interval is narrow enough that a slowly converging tail " \
           "(|t_3|-type) makes it under-cover" in r.reasons
    r = S.gpd_tail_quantile(x[:9990], 0.99e-4, warn=False)  # m = 999
    assert not any(narrow in s for s in r.reasons), r.reasons
    r = S.gpd_tail_quantile(x, 0.5e-6, warn=False)  # n delta < 0.01: the two-decade flag only
    assert not any(narrow in s for s in r.reasons) and any("two decades" in s for s in r.reasons)


def test_gpd_goodness_of_fit_pvalue_and_flag():
    """The KS p-value is scipy's, of the exceedances against the fitted GPD; flagged below 1%."""
    for x in (lomax(2.0, 2000, 16), np.r_[np.linspace(0, 1, 900), 10 + np.linspace(0, 1, 50),
                                          20 + np.linspace(0, 1, 50)]):
        r = S.gpd_tail_quantile(x, 1e-3, warn=False)
        y = np.sort(x)[-r.n_exceed:] - r.threshold
        p = st.kstest(y, st.genpareto(r.xi, 0.0, r.sigma).cdf).pvalue
        assert r.gof_pvalue == pytest.approx(p, rel=1e-9)
        assert (f"KS goodness-of-fit rejects (p = {p:.2g})" in r.reasons) == (p < 0.01)
    assert p < 0.01  # the bimodal tail is rejected


@pytest.mark.parametrize("xi_true", [-0.45, -0.6])
def test_gpd_irregular_shape_flag(xi_true):
    """Exceedances at the GPD's own quantiles: the fitted shape is close to the true one and the flag
    is raised iff it is below -0.5."""
    m = 200
    y = st.genpareto(xi_true, 0.0, 1.0).ppf((np.arange(m) + 0.5) / m)
    x = np.r_[np.zeros(1800), y + 1e-9]  # threshold 0, 200 exceedances (tq 0.9)
    r = S.gpd_tail_quantile(x, 1e-3, warn=False)
    assert r.xi == pytest.approx(xi_true, abs=0.04)
    assert (f"shape xi = {r.xi:.3g} < -0.5: likelihood irregular" in r.reasons) == (xi_true < -0.5)


def test_gpd_shape_stability_flag():
    """The shape refitted over the m/2 largest (above the (m/2+1)-th) is compared with xi; the flag is
    raised iff they differ by more than z_0.995 (1 + xi) / sqrt(m)."""
    # a Lomax sample (an exact GPD tail) and a lognormal one (its shape drifts with the threshold)
    # (m = 200 and m = 501: an odd m has a middle exceedance that belongs to neither half)
    for x in (lomax(2.0, 2000, 17), np.exp(2.0 * np.random.default_rng(4).standard_normal(1002))):
        r = S.gpd_tail_quantile(x, 1e-4, threshold_quantile=0.5 if x.size == 1002 else 0.9, warn=False)
        m = r.n_exceed
        top = np.sort(x)[-(m // 2 + 1):]
        xi2, _, _ = ref_mle(top[1:] - top[0])
        thr = st.norm.ppf(0.995) * (1 + max(r.xi, -0.5)) / math.sqrt(m)
        assert abs(abs(xi2 - r.xi) - thr) > 2e-3  # not at the boundary within the fit's accuracy
        flagged = [s for s in r.reasons if s.startswith("shape unstable")]
        assert bool(flagged) == (abs(xi2 - r.xi) > thr), (xi2, r.xi, thr)
    assert flagged == [f"shape unstable: xi = {r.xi:.3g} above the threshold, {xi2:.3g} above the {m // 2} largest"]


def test_gpd_warning_only_with_reasons():
    x = lomax(2.0, 2000, 18)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = S.gpd_tail_quantile(x, 1e-3)  # a clean fit: no reasons, no warning
    assert not r.poor_fit and r.reasons == ()


def test_gpdtail_str():
    r = S.GPDTail(123.456, 50.1, 1234.4, 1e-4, 0.51234, 0.2, 0.8, 1.0, 2.0, 200, 2000, 0.95, "profile", 0.5,
                  False, ())
    assert str(r) == ("q_(1-0.0001) = 123.5 (95% CI [50.1, 1234]), GPD xi = 0.512 [0.2, 0.8], "
                      "200/2000 exceedances")
    r = S.GPDTail(1.0, 0.5, 2.0, 0.01, -0.1, -0.3, 0.1, 1.0, 0.0, 20, 200, 0.9, "bootstrap", 0.001, True,
                  ("a", "b"))
    assert str(r) == ("q_(1-0.01) = 1 (90% CI [0.5, 2]), GPD xi = -0.1 [-0.3, 0.1], 20/200 exceedances; "
                      "POOR FIT: a; b")


@pytest.mark.parametrize("values,kwargs,msg", [
    ([1.0, 2.0, np.inf, 3.0] * 5, {}, "values[2] = inf is not allowed here: tail fits need finite values "
                                      "(drop diverged seeds and count them separately)"),
    ([1.0, 2.0], {}, "values has 2 values: at least 3 needed"),
    (None, dict(delta=1.0), "delta = 1.0 is not allowed: must be a real number in (0.0, 1.0)"),
    (None, dict(delta=1.5), "delta = 1.5 is not allowed: must be a real number in (0.0, 1.0)"),
    (None, dict(threshold_quantile=0.0), "threshold_quantile = 0.0 is not allowed: must be a real number in "
                                         "(0.0, 1.0)"),
    (None, dict(threshold_quantile=1.0), "threshold_quantile = 1.0 is not allowed: must be a real number in "
                                         "(0.0, 1.0)"),
    (None, dict(threshold_quantile=1.5), "threshold_quantile = 1.5 is not allowed: must be a real number in "
                                         "(0.0, 1.0)"),
])
def test_gpd_input_messages(values, kwargs, msg):
    kwargs = {"delta": 0.01, **kwargs}
    with pytest.raises(ValueError) as e:
        S.gpd_tail_quantile(lomax(2.0, 100, 0) if values is None else values, **kwargs)
    assert str(e.value) == msg


def test_gpd_three_values_are_enough():
    """n = 3, m = floor(3 x 0.9) = 2 exceedances (1 and 2 over u = 1): the likelihood supremum is the
    xi = -1 edge, uniform on [0, 2], so q = u + 2 (1 - n delta / m) = 1 + 2 x 0.85."""
    assert ref_mle(np.array([1.0, 2.0]))[2] == pytest.approx(-2 * math.log(2.0), abs=1e-6)
    r = S.gpd_tail_quantile([1.0, 2.0, 3.0], 0.1, threshold_quantile=0.1, warn=False)
    assert (r.n, r.n_exceed, r.threshold) == (3, 2, 1.0)
    assert (r.xi, r.sigma) == (-1.0, 2.0) and r.estimate == pytest.approx(2.7, rel=1e-12)


def test_gpd_smallest_allowed_replicates_and_exceedance_minimum():
    x = lomax(2.0, 200, 19)
    r = S.gpd_tail_quantile(x, 1e-3, method="bootstrap", n_boot=1, seed=3, warn=False)
    (ql, qh), _ = _percentile_bootstrap(x, 1e-3, 0.9, 1, 3, 0.95)
    assert r.low == r.high == pytest.approx(ql, rel=1e-9) and ql == qh  # one replicate: a point
    r = S.gpd_tail_quantile(x, 1e-3, min_exceed=1, warn=False)  # 20 exceedances >= 1: no count flag
    assert not any("exceedances (<" in s for s in r.reasons)


def test_gpd_shape_refit_over_the_top_half_with_four_exceedances():
    """m = 4 exceedances, m/2 = 2: the refit uses the two largest above the third largest. Exceedances
    (1, 2, 2.001, 10): the refit of (0.001, 8) differs from the full fit by more than
    z_0.995 (1 + max(xi, -0.5)) / 2, so the shape is flagged unstable."""
    x = np.r_[np.arange(16.0), 20.0, 20.0 + np.array([1.0, 2.0, 2.001, 10.0])]
    r = S.gpd_tail_quantile(x, 0.01, threshold_quantile=1 - 4.5 / 21, warn=False)
    assert r.n_exceed == 4 and r.threshold == 20.0
    xi2 = ref_mle(np.array([2.001 - 2.0, 10.0 - 2.0]))[0]
    thr = st.norm.ppf(0.995) * (1 + max(r.xi, -0.5)) / 2
    assert abs(xi2 - r.xi) > thr + 0.5
    assert any(s.startswith("shape unstable") for s in r.reasons)


@pytest.mark.parametrize("ex", [(0.5, 1.0, 1.0, 8.0), (0.5, 0.7, 1.0, 1.0, 8.0)])
def test_gpd_shape_refit_needs_two_distinct_values_in_the_top_half(ex):
    """Exceedances (0.5, [0.7,] 1, 1, 8): of the two largest only one exceeds the third largest, so no GPD
    can be refitted above it and no stability verdict is given."""
    x = np.r_[np.arange(16.0), 20.0, 20.0 + np.array(ex)]
    r = S.gpd_tail_quantile(x, 0.01, threshold_quantile=1 - (len(ex) + 0.5) / x.size, warn=False)
    assert r.n_exceed == len(ex) and r.threshold == 20.0
    assert not any(s.startswith("shape unstable") for s in r.reasons), r.reasons
