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
        sigma = z / L if xi == 0.0 else z * xi / math.expm1(xi * L)
        return ref_loglik(y, xi, sigma)

    grid = np.linspace(-1.0, xi_hi, 801)
    grid = grid[grid != 0.0]
    with np.errstate(over="ignore"):
        sig = z * grid / np.expm1(grid * L)
    vals = np.sum(st.genpareto.logpdf(y[:, None], grid[None, :], 0.0, sig[None, :]), axis=0)
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
