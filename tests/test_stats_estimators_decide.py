"""Direct tests of the two estimators of clipsim.stats that decide: delta_growth and sequential_failure_test.

Written against mutmut's survivors (issue 14). Every expected value is known without running the code under
test: closed forms (a Clopper-Pearson end for n = 1 is the level itself; a nested regression through three
points is an interpolation), NumPy/SciPy computations of another kind (least squares by np.linalg.lstsq and
np.polyfit, the beta-binomial mixture by scipy.stats.betabinom), exact rational order-statistic ranks, or data
built so that the answer is determined: "tiered" samples whose quantiles sit in the middle of blocks of equal
values, so that every bootstrap replicate has the same quantiles (the nearest block edge is >= 8 binomial
standard deviations away), and two-valued samples whose bootstrap distribution of kappa has two atoms with
binomial masses computed by scipy, >= 6 standard deviations (of the replicate fraction) away from every
percentile level read. The GPD tail fit is replaced by a stub where only the decision rule given its shape
interval is under test. Refusals are checked by their message from its start.
"""
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sst

from clipsim import stats as St

D3 = (0.4, 0.2, 0.1)  # tiered samples put blocks around the 0.6, 0.8 and 0.9 quantiles


# ------------------------------------------------------------------ helpers

class GPDStub:
    """Stands in for gpd_tail_quantile: a fixed shape interval, the call's arguments recorded."""

    def __init__(self, xi=0.4, xi_low=0.2, xi_high=0.6, reasons=()):
        self.xi, self.xi_low, self.xi_high, self.reasons = xi, xi_low, xi_high, tuple(reasons)
        self.calls = []

    def __call__(self, values, delta, threshold_quantile=0.9, confidence=0.95, method="profile", n_boot=200,
                 seed=0, *, min_exceed=50, warn=True):
        self.calls.append(dict(delta=delta, threshold_quantile=threshold_quantile, confidence=confidence,
                               warn=warn, n=len(values)))
        return St.GPDTail(1.0, 0.5, 2.0, delta, self.xi, self.xi_low, self.xi_high, 1.0, 1.0, 10, len(values),
                          confidence, method, 0.5, bool(self.reasons), self.reasons)


@pytest.fixture
def gpd(monkeypatch):
    def install(**kw):
        stub = GPDStub(**kw)
        monkeypatch.setattr(St, "gpd_tail_quantile", stub)
        return stub
    return install


def tiered(n, Q, low=None):
    """n values: a block of `low` on [0, 0.5n), then Q[0] on [0.5n, 0.7n), Q[1] on [0.7n, 0.85n), Q[2] above.

    For deltas D3 the (1-delta)-quantiles are Q (ranks 0.6n, 0.8n, 0.9n, mid-block). A bootstrap replicate
    moves a block edge by Binomial noise: at n = 4000 the nearest edge is 200 values = 8.8 sd away, so every
    replicate of every test here has the same quantiles (failure probability < 1e-15 per read).
    """
    e = [0, n // 2, (7 * n) // 10, (85 * n) // 100, n]
    vals = [Q[0] / 2 if low is None else low, *Q]
    return np.concatenate([np.full(e[i + 1] - e[i], v, dtype=float) for i, v in enumerate(vals)])


def nested_kappa(deltas, Q):
    """kappa of log Q = a + p log L + kappa L, L = log(1/delta), by least squares (np.linalg.lstsq)."""
    L = np.log(1.0 / np.asarray(deltas, dtype=float))
    X = np.column_stack([np.ones_like(L), np.log(L), L])
    return float(np.linalg.lstsq(X, np.log(np.asarray(Q, dtype=float)), rcond=None)[0][2])


def rank(n, delta):
    """ceil(n (1 - delta)) in exact rational arithmetic from delta's decimal spelling, at least 1."""
    return max(math.ceil(n * (1 - Fraction(str(delta)))), 1)


# ------------------------------------------------------------------ delta_growth: the verdict and its margin

def test_polynomial_needs_kappa_low_strictly_positive(gpd):
    """kappa_low exactly 0 (every quantile equal to 1, log Q = 0) is not positive: never 'polynomial'."""
    gpd(xi=0.4, xi_low=0.2, xi_high=0.6)
    r = St.delta_growth(D3, tiered(4000, (1.0, 1.0, 1.0), low=0.5), n_boot=50)
    assert (r.kappa, r.kappa_low, r.kappa_high) == (0.0, 0.0, 0.0)
    assert r.decision == "inconclusive"
    assert r.seeds_to_decide == -1  # kappa = 0: no estimate points towards polynomial; xi > margin: nor polylog


def test_polynomial_needs_xi_low_strictly_positive(gpd):
    """Q = 1/delta exactly: kappa = 1 in every replicate; the verdict then turns on xi_low > 0 alone."""
    data = tiered(4000, (2.5, 5.0, 10.0))
    gpd(xi=0.3, xi_low=0.0, xi_high=0.6)
    at = St.delta_growth(D3, data, n_boot=50)
    assert at.kappa == pytest.approx(1.0, rel=1e-9) and at.kappa_low == pytest.approx(1.0, rel=1e-9)
    assert at.decision == "inconclusive" and at.seeds_to_decide is not None
    gpd(xi=0.3, xi_low=float(np.nextafter(0.0, 1.0)), xi_high=0.6)
    above = St.delta_growth(D3, data, n_boot=50)
    assert above.decision == "polynomial" and above.seeds_to_decide is None
    assert above.evidence.startswith("kappa = 1 [1, 1] > 0 and GPD xi = 0.3 [")


def test_polylog_iff_xi_high_at_or_below_margin(gpd):
    data = tiered(4000, (1.0, 1.0, 1.0), low=0.5)  # kappa interval [0, 0]: not polynomial
    gpd(xi=0.0, xi_low=-0.1, xi_high=0.1)
    at = St.delta_growth(D3, data, n_boot=50, margin=0.1)
    assert at.decision == "polylog" and at.seeds_to_decide is None and at.margin == 0.1
    assert at.evidence.startswith("GPD xi = 0 [-0.1, 0.1] <= 0.1: exponential-type")
    assert "kappa = 0 [0, 0]" in at.evidence
    below = St.delta_growth(D3, data, n_boot=50, margin=float(np.nextafter(0.1, 0.0)))
    assert below.decision == "inconclusive"
    # polylog option only: n ((xi_high - xi) / (margin - xi))^2 = 4000 (0.1 / (0.1 - ulp))^2, just above 4000
    assert below.seeds_to_decide == math.ceil(4000 * (Fraction(0.1) / Fraction(below.margin)) ** 2) == 4001


def test_polynomial_takes_precedence_over_polylog(gpd):
    """Both rules can hold (0 < xi_low, xi_high <= margin): 'polynomial' is checked first."""
    gpd(xi=0.05, xi_low=0.01, xi_high=0.09)
    r = St.delta_growth(D3, tiered(4000, (2.5, 5.0, 10.0)), n_boot=50, margin=0.1)
    assert r.decision == "polynomial"


def test_margin_range_is_closed_minus_one_to_one(gpd):
    gpd(xi=0.0, xi_low=-0.5, xi_high=0.5)
    data = tiered(4000, (1.0, 1.0, 1.0), low=0.5)
    assert St.delta_growth(D3, data, n_boot=2, margin=1.0).decision == "polylog"
    assert St.delta_growth(D3, data, n_boot=2, margin=-1.0).decision == "inconclusive"
    for bad in (1.5, -1.5):
        with pytest.raises(ValueError, match=rf"^margin = {bad} is not allowed: must be a real number in "
                                             r"\[-1\.0, 1\.0\]$"):
            St.delta_growth(D3, data, n_boot=2, margin=bad)


# ------------------------------------------------------------------ delta_growth: the kappa bootstrap interval

def test_kappa_interval_is_the_point_value_when_every_replicate_agrees(gpd):
    """Q = 0.04/delta, all values in (0, 1): kappa = 1 in every replicate (also for n_boot = 2)."""
    gpd()
    data = tiered(4000, (0.1, 0.2, 0.4))
    for n_boot in (2, 50):
        r = St.delta_growth(D3, data, n_boot=n_boot)
        assert r.quantiles == (0.1, 0.2, 0.4)
        assert r.kappa == pytest.approx(1.0, rel=1e-9)
        assert r.kappa_low == pytest.approx(1.0, rel=1e-9) and r.kappa_high == pytest.approx(1.0, rel=1e-9)


def test_kappa_interval_over_several_chunks(gpd):
    """n_boot * n > 4e6 splits the bootstrap into chunks (1000 + 500 replicates here): all must be filled."""
    gpd()
    r = St.delta_growth(D3, tiered(4000, (2.5, 5.0, 10.0)), n_boot=1500)
    assert r.kappa_low == pytest.approx(1.0, rel=1e-9) and r.kappa_high == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("j, conf", [(12, 0.1), (10, 0.1)])
def test_kappa_interval_ends_are_the_percentiles_of_a_two_atom_bootstrap(gpd, j, conf):
    """100 values: j copies of e, the rest 1; deltas (0.5, 0.3, 0.1) read ranks 50, 70, 90.

    A replicate with C ~ Bin(100, j/100) copies of e has log Q = (0, 0, 1[C >= 11]) (C >= 31 has probability
    < 4e-7), so kappa is 0 with probability p0 = P(C <= 10) and k_b (the lstsq kappa of (0, 0, 1)) otherwise.
    The percentile interval at confidence c reads levels a/2 and 1 - a/2 (a = 1 - c) of 10000 replicates.
    """
    gpd()
    deltas = (0.5, 0.3, 0.1)
    k_b = nested_kappa(deltas, (1.0, 1.0, math.e))
    assert k_b > 0
    p0 = float(sst.binom.cdf(10, 100, j / 100))
    a = 1 - conf
    sd = math.sqrt(p0 * (1 - p0) / 10_000)

    def at(level):
        assert abs(level - p0) > 6 * sd  # the level is far from the atom boundary
        return 0.0 if level < p0 else k_b

    x = np.r_[np.full(j, math.e), np.ones(100 - j)]
    r = St.delta_growth(deltas, x, confidence=conf, n_boot=10_000)
    assert r.kappa == pytest.approx(nested_kappa(deltas, np.sort(x)[[49, 69, 89]]), abs=1e-12)
    assert r.kappa_low == pytest.approx(at(a / 2), abs=1e-9)
    assert r.kappa_high == pytest.approx(at(1 - a / 2), abs=1e-9)
    # the case discriminates: a level a/3 or 1 - a/3 would read the other atom
    assert at(a / 3) != at(a / 2) or at(1 - a / 3) != at(1 - a / 2)


def test_bootstrap_resamples_every_seed_including_the_first(gpd):
    """10 values, x[0] = e, the rest 1: Q = (1, 1, 1) and kappa = 0, but a replicate with >= 2 copies of x[0]
    (P = 0.264) has log Q(0.1) = 1, so the upper end of a 95% interval is not 0: P(C >= 2) > 2.5% by 29 sd."""
    gpd()
    x = np.r_[math.e, np.ones(9)]
    p_up = float(sst.binom.sf(1, 10, 0.1))
    assert p_up - 0.025 > 29 * math.sqrt(p_up * (1 - p_up) / 10_000)
    r = St.delta_growth((0.5, 0.3, 0.1), x, n_boot=10_000)
    assert r.kappa == 0.0 and r.quantiles == (1.0, 1.0, 1.0)
    assert r.kappa_high > 1.0  # k_b = 2.005 or (C >= 4, 1.3%) the kappa of (0, 1, 1)


def test_kappa_interval_unbounded_when_a_replicate_quantile_is_zero(gpd):
    """45 zeros and 55 positive values: the median is positive, but a replicate's median is 0 with probability
    P(Bin(100, 0.45) >= 50) = 0.18; the log-scale fit is then undefined and kappa unbounded. Only the median can
    be 0 (P(C >= 70) < 1e-6), so a log(0) = -inf in one coordinate would give +-inf, not nan."""
    gpd(xi=0.4, xi_low=0.2, xi_high=0.6)
    x = np.r_[np.zeros(45), np.arange(1.0, 56.0)]
    assert sst.binom.sf(69, 100, 0.45) * 400 < 1e-3 and sst.binom.sf(49, 100, 0.45) > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = St.delta_growth((0.5, 0.3, 0.1), x, n_boot=400)
    assert (r.kappa_low, r.kappa_high) == (-math.inf, math.inf)
    assert r.decision == "inconclusive" and r.seeds_to_decide == -1  # k_lo infinite: no polynomial estimate


def test_default_bootstrap_is_400_replicates_from_seed_0(gpd):
    gpd()
    x = np.random.default_rng(5).pareto(2.0, size=300) + 1.0
    deltas = (0.2, 0.1, 0.05)
    default = St.delta_growth(deltas, x)
    explicit = St.delta_growth(deltas, x, n_boot=400, seed=0)
    assert (default.kappa_low, default.kappa_high) == (explicit.kappa_low, explicit.kappa_high)
    other_seed = St.delta_growth(deltas, x, n_boot=400, seed=1)
    other_count = St.delta_growth(deltas, x, n_boot=401, seed=0)
    assert other_seed.kappa_low != explicit.kappa_low and other_count.kappa_low != explicit.kappa_low


# ------------------------------------------------------------------ delta_growth: quantiles, fits, result fields

def test_quantiles_are_the_ceil_n_one_minus_delta_order_statistics(gpd):
    """values 1..20 (the r-th order statistic is r): ranks 1, 10, 19 for deltas 0.95, 0.5, 0.05 (exact)."""
    gpd()
    deltas = (0.95, 0.5, 0.05)
    x = np.random.default_rng(1).permutation(np.arange(1.0, 21.0))
    r = St.delta_growth(deltas, x, n_boot=20, confidence=0.9, margin=0.2)
    assert r.quantiles == tuple(float(rank(20, d)) for d in deltas) == (1.0, 10.0, 19.0)
    assert r.deltas == deltas and r.confidence == 0.9 and r.margin == 0.2
    assert r.kappa == pytest.approx(nested_kappa(deltas, r.quantiles), rel=1e-9)


def test_one_variable_fits_and_residual_sums_of_squares(gpd):
    gpd()
    deltas = (0.5, 0.25, 0.1, 0.05)
    x = np.arange(1.0, 101.0)
    r = St.delta_growth(deltas, x, n_boot=20)
    Q = np.array([rank(100, d) for d in deltas], dtype=float)
    assert r.quantiles == tuple(Q)
    L = np.log(1 / np.array(deltas))
    for regressor, slope, rss in ((L, r.poly_slope, r.poly_rss), (np.log(L), r.polylog_power, r.polylog_rss)):
        coef, res, *_ = np.polyfit(regressor, np.log(Q), 1, full=True)
        assert slope == pytest.approx(coef[0], rel=1e-9)
        assert rss == pytest.approx(float(res[0]), rel=1e-6) and rss > 1e-4
    assert r.kappa == pytest.approx(nested_kappa(deltas, Q), rel=1e-9)


def test_real_tail_fit_is_called_quietly_below_the_exceedance_rate():
    """Unstubbed. Values 1..200 (a uniform tail, GPD shape -1): m = floor(200 (1 - 0.9)) = 20 exceedances,
    a poor fit for two reasons (m < 50, xi < -0.5) that must be reported in the evidence, not warned. The GPD
    quantile is taken below the exceedance rate 0.1 although min(deltas) = 0.1 (at 0.1 the fit refuses)."""
    x = np.arange(1.0, 201.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = St.delta_growth(D3, x, n_boot=50)
    g = r.gpd
    assert g.n_exceed == 20 and g.delta < 0.1 and g.poor_fit and len(g.reasons) >= 2
    assert g.xi_high <= 0.1 and r.decision == "polylog"
    assert r.evidence.startswith("GPD xi = ")
    assert f" (GPD fit poor: {'; '.join(g.reasons)})" in r.evidence
    r85 = St.delta_growth(D3, x, n_boot=50, threshold_quantile=0.85)
    assert r85.gpd.n_exceed == 30


def test_tail_fit_arguments(gpd):
    stub = gpd()
    St.delta_growth(D3, tiered(4000, (2.5, 5.0, 10.0)), confidence=0.9, n_boot=2, threshold_quantile=0.8)
    (call,) = stub.calls
    assert call["threshold_quantile"] == 0.8 and call["confidence"] == 0.9 and call["warn"] is False


# ------------------------------------------------------------------ delta_growth: refusals and their boundaries

def test_values_count_at_least_ten(gpd):
    gpd()
    deltas = (0.5, 0.3, 0.2)
    assert St.delta_growth(deltas, np.arange(1.0, 11.0), n_boot=2).quantiles == (5.0, 7.0, 8.0)
    with pytest.raises(ValueError, match=r"^values has 9 values: at least 10 needed$"):
        St.delta_growth(deltas, np.arange(1.0, 10.0), n_boot=2)


def test_values_must_be_finite(gpd):
    stub = gpd()
    x = np.arange(1.0, 101.0)
    x[3] = np.inf
    with pytest.raises(ValueError, match=r"^values\[3\] = inf is not allowed here: tail fits need finite"):
        St.delta_growth(D3, x, n_boot=2)
    assert stub.calls == []


def test_deltas_count_and_distinctness(gpd):
    gpd()
    x = np.arange(1.0, 101.0)
    with pytest.raises(ValueError, match=r"^deltas has 2 values: at least 3 needed$"):
        St.delta_growth((0.5, 0.1), x, n_boot=2)
    with pytest.raises(ValueError) as e:
        St.delta_growth((0.1, 0.1, 0.2), x, n_boot=2)
    assert str(e.value) == "deltas must hold at least three distinct values"


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5])
def test_deltas_must_lie_in_the_open_unit_interval(gpd, bad):
    gpd()
    deltas = [0.5, 0.1, bad]
    with pytest.raises(ValueError) as e:
        St.delta_growth(deltas, np.arange(1.0, 101.0), n_boot=2)
    assert str(e.value) == f"deltas = {deltas} is not allowed: each must be in (0, 1)"


def test_deltas_must_be_finite(gpd):
    gpd()
    with pytest.raises(ValueError, match=r"^deltas\[2\] = inf is not allowed here"):
        St.delta_growth([0.5, 0.1, np.inf], np.arange(1.0, 101.0), n_boot=2)


def test_n_delta_at_least_one_is_inclusive(gpd):
    gpd()
    deltas = (0.5, 0.1, 0.01)
    assert 100 * 0.01 == 1.0
    r = St.delta_growth(deltas, np.arange(1.0, 101.0), n_boot=2)
    assert r.quantiles == (50.0, 90.0, 99.0)
    with pytest.raises(ValueError) as e:
        St.delta_growth(deltas, np.arange(1.0, 100.0), n_boot=2)
    assert str(e.value) == (f"deltas: min(deltas) = 0.01 < 1/n = {1 / 99:g}; need n delta >= 1 for "
                            "empirical quantiles")


def test_n_boot_at_least_two(gpd):
    gpd()
    data = tiered(4000, (2.5, 5.0, 10.0))
    assert St.delta_growth(D3, data, n_boot=2).kappa_low == pytest.approx(1.0, rel=1e-9)
    with pytest.raises(ValueError, match=r"^n_boot = 1 is not allowed: must be an integer in \[2, "):
        St.delta_growth(D3, data, n_boot=1)


@pytest.mark.parametrize("low", [0.0, -1.0])
def test_quantiles_must_be_positive(gpd, low):
    """The 0.6-quantile of a tiered sample whose lower block covers it is `low`: 0 is refused as well as < 0."""
    gpd()
    x = tiered(4000, (low, 5.0, 10.0), low=low)
    with pytest.raises(ValueError) as e:
        St.delta_growth(D3, x, n_boot=2)
    assert str(e.value) == "values: the quantiles must be positive for a log-scale fit"


# ------------------------------------------------------------------ sequential_failure_test: stopping and verdict

def _const(value, n_fail=0):
    """sample_fn returning `value` except for the first n_fail seeds, which return 2 (> threshold 1)."""
    return lambda start, count: np.array([2.0 if start + i < n_fail else value for i in range(count)])


def test_holds_boundary_is_inclusive():
    """n = 1, no failure, confidence 0.5, one look: the Clopper-Pearson upper end is 1 - a/2 = 0.75 exactly
    (Beta(1, 1) is uniform). 'holds' iff high <= delta."""
    kw = dict(batch=1, max_seeds=1, confidence=0.5, method="bonferroni")
    at = St.sequential_failure_test(_const(0.5), 1.0, 0.75, **kw)
    assert (at.decision, at.n, at.k, at.low, at.high, at.looks, at.max_looks) == ("holds", 1, 0, 0.0, 0.75, 1, 1)
    below = St.sequential_failure_test(_const(0.5), 1.0, float(np.nextafter(0.75, 0.0)), **kw)
    assert below.decision == "inconclusive"


def test_violated_boundary_is_exclusive():
    """n = 1, one failure, confidence 0.5: the lower end is a/2 = 0.25 exactly. 'violated' iff low > delta."""
    kw = dict(batch=1, max_seeds=1, confidence=0.5, method="bonferroni")
    at = St.sequential_failure_test(_const(2.0), 1.0, 0.25, **kw)
    assert (at.decision, at.k, at.low, at.high) == ("inconclusive", 1, 0.25, 1.0)
    above = St.sequential_failure_test(_const(2.0), 1.0, float(np.nextafter(0.25, 0.0)), **kw)
    assert above.decision == "violated"


def test_a_value_equal_to_the_threshold_is_not_a_failure():
    r = St.sequential_failure_test(_const(1.0, n_fail=3), 1.0, 0.5, batch=10, max_seeds=10, confidence=0.5)
    assert (r.n, r.k) == (10, 3) and r.estimate == 0.3
    assert r.method == "bonferroni" and r.confidence == 0.5 and r.delta == 0.5


def test_betabinomial_ends_solve_the_mixture_martingale_level():
    """M_n(p) = betabinom.pmf(k; n, a0, b0) / binom.pmf(k; n, p) equals 1/alpha at both interval ends; an
    asymmetric prior (a0 != b0) makes the two prior parameters distinguishable."""
    prior, conf = (1.0, 5.0), 0.9
    r = St.sequential_failure_test(_const(0.0, n_fail=7), 1.0, 0.5, batch=40, max_seeds=40, confidence=conf,
                                   method="betabinomial", prior=prior)
    assert (r.n, r.k, r.method, r.estimate) == (40, 7, "betabinomial", 7 / 40)

    def log_m(p):
        return float(sst.betabinom.logpmf(7, 40, *prior) - sst.binom.logpmf(7, 40, p))

    assert 0 < r.low < 7 / 40 < r.high < 0.5
    assert log_m(r.low) == pytest.approx(math.log(1 / (1 - conf)), abs=1e-6)
    assert log_m(r.high) == pytest.approx(math.log(1 / (1 - conf)), abs=1e-6)
    assert r.decision == "holds"


# ------------------------------------------------------------------ sequential_failure_test: refusals

def _run(**over):
    kw = dict(sample_fn=_const(0.5), threshold=1.0, delta=0.5, batch=1, max_seeds=1)
    kw.update(over)
    return St.sequential_failure_test(kw.pop("sample_fn"), kw.pop("threshold"), kw.pop("delta"), **kw)


def test_sequential_smallest_budget_and_batch_accepted():
    r = _run(batch=1, max_seeds=1)
    assert (r.n, r.looks, r.max_looks) == (1, 1, 1)


@pytest.mark.parametrize("over, message", [
    (dict(sample_fn=3), r"^sample_fn = 3 is not allowed: must be callable\(start, count\)$"),
    (dict(threshold=math.nan), r"^threshold = nan is not allowed: must be a real number"),
    (dict(delta=0.0), r"^delta = 0\.0 is not allowed: must be a real number in \(0\.0, 1\.0\)$"),
    (dict(delta=1.0), r"^delta = 1\.0 is not allowed: must be a real number in \(0\.0, 1\.0\)$"),
    (dict(delta=1.5), r"^delta = 1\.5 is not allowed"),
    (dict(max_seeds=0), r"^max_seeds = 0 is not allowed: must be an integer in \[1, inf\]$"),
    (dict(method="x"), r"^method = 'x' is not allowed: must be one of"),
    (dict(method="betabinomial", prior=[1.0, 1.0]), r"^prior = \[1\.0, 1\.0\] is not allowed: must be a pair"),
    (dict(method="betabinomial", prior=(0.0, 1.0)), r"^prior\[0\] = 0\.0 is not allowed"),
    (dict(method="betabinomial", prior=(1.0, 0.0)), r"^prior\[1\] = 0\.0 is not allowed"),
    (dict(sample_fn=lambda s, c: ["a"] * c), r"^sample_fn\(0, 1\) did not return real values: "),
])
def test_sequential_refusals(over, message):
    with pytest.raises(ValueError, match=message):
        _run(**over)
