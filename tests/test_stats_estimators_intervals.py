"""Direct tests of the estimators of clipsim.stats (issue 14): loglog_slope, shape_trend, mean_bounds,
hill_estimator and the beta-binomial confidence sequence, written against mutmut's survivors.

Expected values are computed here, independently of the code under test:

- point estimates from closed forms: least squares on exact power laws (cells of equal values), the Hill
  estimate on values whose logs are 0, 1, ..., n-1, the confidence sequence's ends for k = 0 and k = n;
- Hill's interval through the chi-square form of the Renyi representation (2 k gamma_hat / gamma ~ chi2(2k));
- bootstrap percentile ends from the **exact** bootstrap distribution: resampling n distinct values, the
  r-th order statistic of the resample is <= the i-th smallest value iff at least r of the n draws are, so
  P(stat <= x_(i)) = P(Bin(n, i/n) >= r); a resampled mean of m ones and n-m zeros is Bin(n, m/n)/n. With
  B replicates the empirical CDF at each atom is within z sd of the exact one; every such test asserts
  that the level it reads sits more than Z_MARGIN standard deviations from every atom's exact CDF, so the
  end it predicts is right unless a binomial count strays by more than Z_MARGIN sd (probability < 1e-5 per
  claim, about 1e-4 over the file's claims);
- refusals by their one-line message (field, value, what is allowed).
"""
import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as sst

from clipsim import stats as St

#: standard deviations between a bootstrap level and the nearest atom's exact CDF (two-sided 1e-5: 4.42)
Z_MARGIN = 4.5
B_EXACT = 20000  # replicates in the exact-distribution tests (a few ms: cells of 1 to 6 values)


def boot_order_stat_cdf(n, q):
    """Exact CDF of the bootstrap q-quantile (rank r = ceil(n q)) at the n sorted distinct values."""
    r = max(math.ceil(n * q - 1e-12), 1)
    return np.array([sst.binom.sf(r - 1, n, i / n) for i in range(1, n + 1)])


def atom_at(cdf, level, n_boot):
    """Index of the first atom whose exact CDF reaches ``level``, after checking the design's margin."""
    sd = math.sqrt(level * (1 - level) / n_boot)
    gap = float(np.min(np.abs(np.asarray(cdf) - level)))
    assert gap > Z_MARGIN * sd, f"test design: level {level} is {gap / sd:.1f} sd from an atom"
    return int(np.flatnonzero(np.asarray(cdf) >= level)[0])


def binom_count_ok(count, n_boot, p):
    """A Binomial(n_boot, p) count within Z_MARGIN sd of its mean."""
    return abs(count - n_boot * p) <= Z_MARGIN * math.sqrt(n_boot * p * (1 - p))


class CountingGenerator(np.random.Generator):
    """A numpy Generator that records the shape of every ``integers`` draw (how many replicates were made)."""

    def __init__(self, seed):
        super().__init__(np.random.PCG64(seed))
        self.sizes = []

    def integers(self, *args, **kwargs):
        self.sizes.append(kwargs.get("size"))
        return super().integers(*args, **kwargs)


class ScriptedGenerator(np.random.Generator):
    """A numpy Generator whose ``integers`` returns prescribed resampling indices, by the resampled sample's size.

    It builds bootstrap replicates whose answer is known by construction (which replicates are invalid)."""

    def __init__(self, script):
        super().__init__(np.random.PCG64(0))
        self.script = script

    def integers(self, low, high=None, size=None, **kwargs):
        low, high = (0, low) if high is None else (low, high)  # integers(n) is integers(0, n)
        idx = np.asarray(self.script[high])
        assert (low, idx.shape) == (0, tuple(size))
        return idx


# --------------------------------------------------------------------------------------------
# loglog_slope

def test_loglog_slope_exact_power_law_point_interval_and_intercept():
    # cells of equal values c x^p: every statistic and every bootstrap replicate is exactly c x^p
    x = np.array([0.5, 2.0, 8.0, 32.0])
    p, c = -0.75, 3.0
    res = St.loglog_slope(x, [np.full(7, c * xi ** p) for xi in x], n_boot=5)
    assert res.slope == pytest.approx(p, abs=1e-12)
    assert res.intercept == pytest.approx(math.log(c), abs=1e-12)
    assert res.low == pytest.approx(p, abs=1e-12) and res.high == pytest.approx(p, abs=1e-12)
    assert res.n_invalid == 0 and res.n_boot == 5 and res.x == tuple(x.tolist())


def _two_cells(values):
    """x = (1, e): cell 0 is the single value 1, so every slope equals log(statistic of cell 1)."""
    return [1.0, math.e], [[1.0], values]


def test_loglog_slope_percentile_ends_match_exact_bootstrap_distribution():
    # cell 1 = e^-1, 1, e, e^2, e^3 (atoms of the slope: -1 .. 3); median of 5: rank 3
    x, cells = _two_cells(np.exp(np.arange(5) - 1.0))
    cdf = boot_order_stat_cdf(5, 0.5)
    conf = 0.85  # a/2 = 0.075 and 1 - a/2 = 0.925 sit between atoms; a/3 and 1 - a/3 would not
    a = 1 - conf
    res = St.loglog_slope(x, cells, confidence=conf, n_boot=B_EXACT, seed=3)
    assert res.slope == pytest.approx(1.0, abs=1e-12)  # median e, log e = 1
    assert res.low == pytest.approx(atom_at(cdf, a / 2, B_EXACT) - 1.0, abs=1e-12)
    assert res.high == pytest.approx(atom_at(cdf, 1 - a / 2, B_EXACT) - 1.0, abs=1e-12)
    assert res.n_invalid == 0


def test_loglog_slope_ends_are_replicates_not_interpolations():
    # inverted-CDF percentiles: with 2 replicates the ends are the smaller and the larger replicate
    x, cells = _two_cells(np.exp(np.arange(5) - 1.0))
    atoms = np.arange(5) - 1.0
    spread = 0
    for seed in range(10):
        res = St.loglog_slope(x, cells, n_boot=2, seed=seed)
        for end in (res.low, res.high):
            assert np.min(np.abs(atoms - end)) < 1e-12, (seed, end)
        spread += res.low < res.high
    assert spread > 0  # the check above saw two different replicates at least once


def test_loglog_slope_invalid_replicates_count_and_sides():
    # cell 1 = 0, 1, e, e^2, e^3: the median (e) is positive; a replicate's median is 0 (invalid)
    # with probability P(Bin(5, 1/5) >= 3); invalid replicates count as -inf at the low end, +inf at the high end
    x, cells = _two_cells(np.array([0.0, 1.0, math.e, math.e ** 2, math.e ** 3]))
    cdf = boot_order_stat_cdf(5, 0.5)
    p_inv = cdf[0]
    conf = 0.42  # a/2 = 0.29: in the low tail the -inf atom (0.058) and 0 (0.317) are well apart from it
    a = 1 - conf
    res = St.loglog_slope(x, cells, confidence=conf, n_boot=B_EXACT, seed=5)
    assert binom_count_ok(res.n_invalid, B_EXACT, p_inv)
    assert res.slope == pytest.approx(1.0, abs=1e-12)
    # low: atoms -inf (invalid), 0, 1, 2, 3 at CDF cdf[0..4]
    assert res.low == pytest.approx(atom_at(cdf, a / 2, B_EXACT) - 1.0, abs=1e-12)
    # high: the invalid mass moves to +inf; the valid atoms 0..3 have CDF cdf[1..4] - p_inv
    high_cdf = np.append(cdf[1:] - p_inv, 1.0)
    assert res.high == pytest.approx(atom_at(high_cdf, 1 - a / 2, B_EXACT), abs=1e-12)


@pytest.mark.parametrize("conf, finite", [(0.85, True), (0.92, False)])
def test_loglog_slope_too_many_invalid_replicates_give_infinite_interval(conf, finite):
    # P(invalid) = 0.0579: below a/2 = 0.075 (conf 0.85), above a/2 = 0.04 (conf 0.92)
    x, cells = _two_cells(np.array([0.0, 1.0, math.e, math.e ** 2, math.e ** 3]))
    cdf = boot_order_stat_cdf(5, 0.5)
    a = 1 - conf
    assert abs(cdf[0] - a / 2) > Z_MARGIN * math.sqrt(a / 2 * (1 - a / 2) / B_EXACT)  # design
    res = St.loglog_slope(x, cells, confidence=conf, n_boot=B_EXACT, seed=11)
    assert (res.n_invalid > a / 2 * B_EXACT) is (not finite)
    if finite:
        assert res.low == pytest.approx(atom_at(cdf, a / 2, B_EXACT) - 1.0, abs=1e-12)
        # high at 1 - a/2 = 0.925: valid atoms 0..3 at CDF cdf[1..4] - p_inv, then the +inf of the invalid
        high_cdf = np.append(cdf[1:] - cdf[0], 1.0)
        i = atom_at(high_cdf, 1 - a / 2, B_EXACT)
        assert res.high == (math.inf if i == 4 else pytest.approx(float(i), abs=1e-12))
    else:
        assert (res.low, res.high) == (-math.inf, math.inf)


def test_loglog_slope_threshold_is_strictly_more_than_half_alpha():
    # the rule: (-inf, inf) iff n_invalid > a/2 n_boot. Dyadic levels make a/2 n_boot an exact integer;
    # pick the confidences that put the count exactly on, and one replicate over, the threshold.
    x, cells = _two_cells(np.array([0.0, 1.0, math.e, math.e ** 2, math.e ** 3]))
    n_boot = 256
    k = St.loglog_slope(x, cells, confidence=0.5, n_boot=n_boot, seed=2).n_invalid
    assert 0 < k < 64
    at = St.loglog_slope(x, cells, confidence=1 - 2 * k / n_boot, n_boot=n_boot, seed=2)
    # on the threshold the interval is kept; its low end is the a/2 percentile, which the k invalid
    # replicates (counted as -inf) reach exactly, while its high end is a valid replicate (an atom 0..3)
    assert at.n_invalid == k and at.low == -math.inf and at.high in (0.0, 1.0, 2.0, 3.0)
    over = St.loglog_slope(x, cells, confidence=1 - 2 * (k - 1) / n_boot, n_boot=n_boot, seed=2)
    assert (over.low, over.high) == (-math.inf, math.inf)


def test_loglog_slope_defaults_and_reproducibility():
    rng = np.random.default_rng(7)
    x = [1.0, 2.0, 4.0]
    cells = [rng.lognormal(0.5 * math.log(v), 1.0, 15) for v in x]
    res = St.loglog_slope(x, cells)
    assert res.n_boot == 1000 and res.confidence == 0.95 and res.statistic == "median"
    assert res == St.loglog_slope(x, cells, n_boot=1000, seed=0)
    assert (res.low, res.high) != (St.loglog_slope(x, cells, seed=1).low, St.loglog_slope(x, cells, seed=1).high)


def test_loglog_slope_x_in_zero_one_is_allowed():
    res = St.loglog_slope([0.25, 0.5], [[2.0], [1.0]], n_boot=1)
    assert res.slope == pytest.approx(-1.0, abs=1e-12) and res.n_boot == 1


@pytest.mark.parametrize("x, cells, message", [
    ([0.0, 1.0], [[1.0], [1.0]], r"^x = \[0\.0, 1\.0\] is not allowed: must be positive \(log scale\)$"),
    ([1.0, math.inf], [[1.0], [1.0]], r"^x\[1\] = inf is not allowed here"),
    ([1.0, math.nan], [[1.0], [1.0]], r"^x\[1\] = nan is not allowed"),
    ([2.0], [[1.0]], r"^x has 1 values: at least 2 needed$"),
    ([2.0, 2.0], [[1.0], [1.0]], r"^x must hold at least two distinct values$"),
    ([1.0, 2.0], [[1.0], [1.0, math.nan]], r"^samples\[1\]\[1\] = nan is not allowed"),
    ([1.0, 2.0], [[0.5], [0.0, 0.0, 1.0]],
     r"^samples\[1\]: the median is 0; need a finite positive statistic in every cell for a log-log slope$"),
    ([1.0, 2.0], [[1.0], [-1.0]], r"^samples\[1\]: the median is -1; need a finite positive statistic"),
])
def test_loglog_slope_refusals(x, cells, message):
    with pytest.raises(ValueError, match=message):
        St.loglog_slope(x, cells, n_boot=5)


@pytest.mark.parametrize("n_boot", [0, -1])
def test_loglog_slope_n_boot_at_least_one(n_boot):
    with pytest.raises(ValueError, match=rf"^n_boot = {n_boot} is not allowed: must be an integer in \[1, "):
        St.loglog_slope([1.0, 2.0], [[1.0], [2.0]], n_boot=n_boot)


# --------------------------------------------------------------------------------------------
# shape_trend

def _shape_members(values, bound=1.0, delta=0.5):
    """x = 1: a member whose seeds all equal 1 (log ratio 0); x = e: two members sharing ``values``.

    With lx = (0, 1, 1), one group, the slope is the mean of the two x = e members' log ratios, i.e. the
    log of the (1 - delta)-quantile of ``values`` over ``bound``.
    """
    return [("one", "s0", np.ones(3), 1.0, 0.5, 1.0, "g"),
            ("e1", "s1", values, bound, delta, math.e, "g"),
            ("e2", "s1", values, bound, delta, math.e, "g")]


def test_shape_trend_exact_power_law_two_groups():
    # log ratio = a_group + beta log x with different intercepts: the within-group slope is beta, the pooled
    # slope is not; constant cells make every replicate exact
    beta = 0.4
    members = []
    for g, (a0, xs) in enumerate([(0.0, [1.0, 2.0]), (3.0, [4.0, 8.0])]):
        for j, xv in enumerate(xs):
            B = 2.0 + j
            members.append((f"m{g}{j}", f"s{g}{j}", np.full(5, B * math.exp(a0) * xv ** beta), B, 0.5, xv, f"g{g}"))
    res = St.shape_trend(members, n_boot=10)
    assert res.slope == pytest.approx(beta, abs=1e-12)
    assert res.low == pytest.approx(beta, abs=1e-12) and res.high == pytest.approx(beta, abs=1e-12)
    assert res.verdict == "rejected" and res.n_groups == 2
    assert res.ratios == pytest.approx([math.exp(a) * v ** beta for a, xs in [(0, [1, 2]), (3, [4, 8])]
                                        for v in xs], rel=1e-12)


@pytest.mark.parametrize("conf", [0.85, 0.6])
def test_shape_trend_percentile_ends_match_exact_bootstrap_distribution(conf):
    # values e^-1 .. e^3: the slope's bootstrap atoms are -1 .. 3 with the exact CDF of a resample's median
    vals = np.exp(np.arange(5) - 1.0)
    cdf = boot_order_stat_cdf(5, 0.5)
    a = 1 - conf
    res = St.shape_trend(_shape_members(vals), confidence=conf, n_boot=B_EXACT, seed=4)
    assert res.slope == pytest.approx(1.0, abs=1e-12)
    assert res.ratios == pytest.approx([1.0, math.e, math.e], rel=1e-12)
    assert res.low == pytest.approx(atom_at(cdf, a / 2, B_EXACT) - 1.0, abs=1e-12)
    assert res.high == pytest.approx(atom_at(cdf, 1 - a / 2, B_EXACT) - 1.0, abs=1e-12)


@pytest.mark.parametrize("shift, verdict", [(1, "consistent"), (3, "consistent"), (0, "rejected"),
                                            (4, "loose")])
def test_shape_trend_verdict_when_an_end_is_exactly_zero(shift, verdict):
    # conf 0.85: the ends are atoms 1 and 3 (of 0..4); values e^(i - shift) put atom i at i - shift, so
    # shift 1 gives low = 0 exactly ("rejected" needs low > 0), shift 3 high = 0 ("loose" needs high < 0)
    vals = np.exp(np.arange(5) - shift)
    cdf = boot_order_stat_cdf(5, 0.5)
    assert (atom_at(cdf, 0.075, B_EXACT), atom_at(cdf, 0.925, B_EXACT)) == (1, 3)
    res = St.shape_trend(_shape_members(vals), confidence=0.85, n_boot=B_EXACT, seed=4)
    assert res.low == pytest.approx(1 - shift, abs=1e-12) and res.high == pytest.approx(3 - shift, abs=1e-12)
    if shift in (1, 3):
        assert (res.low if shift == 1 else res.high) == 0.0  # log(e^0 / 1) = 0 exactly
    assert res.verdict == verdict


@pytest.mark.parametrize("conf, conclusive", [(0.85, True), (0.92, False)])
def test_shape_trend_inconclusive_when_too_many_replicates_are_invalid(conf, conclusive):
    # values 0, 1, e, e^2, e^3: a replicate's median is 0 (log ratio -inf) with probability 0.0579,
    # below a/2 = 0.075 (conf 0.85), above a/2 = 0.04 (conf 0.92)
    vals = np.array([0.0, 1.0, math.e, math.e ** 2, math.e ** 3])
    cdf = boot_order_stat_cdf(5, 0.5)
    a = 1 - conf
    assert abs(cdf[0] - a / 2) > Z_MARGIN * math.sqrt(a / 2 * (1 - a / 2) / B_EXACT)  # design
    res = St.shape_trend(_shape_members(vals), confidence=conf, n_boot=B_EXACT, seed=6)
    assert res.slope == pytest.approx(1.0, abs=1e-12)
    if conclusive:
        # the interval is over the valid replicates: atoms 0..3 with CDF (cdf[1..4] - p_inv) / (1 - p_inv)
        valid_cdf = (cdf[1:] - cdf[0]) / (1 - cdf[0])
        assert res.low == pytest.approx(atom_at(valid_cdf, a / 2, B_EXACT), abs=1e-12)
        assert res.high == pytest.approx(atom_at(valid_cdf, 1 - a / 2, B_EXACT), abs=1e-12)
        assert res.verdict == "consistent"
    else:
        assert (res.low, res.high, res.verdict) == (-math.inf, math.inf, "inconclusive")


@pytest.mark.parametrize("n_bad, verdict", [(2, "rejected"), (3, "inconclusive")])
def test_shape_trend_valid_share_exactly_at_threshold(n_bad, verdict):
    # the interval is kept while the valid share of replicates is >= 1 - a/2. Scripted resamples of
    # 0, 1, e, e^2, e^3: n_bad of 16 replicates draw the 0 five times (median 0: invalid), the others draw
    # each value once (median e, slope 1). conf 0.75: 1 - a/2 = 14/16 exactly.
    vals = np.array([0.0, 1.0, math.e, math.e ** 2, math.e ** 3])
    rows = np.array([[0] * 5] * n_bad + [[0, 1, 2, 3, 4]] * (16 - n_bad))
    rng = ScriptedGenerator({3: np.zeros((16, 3), dtype=np.int64), 5: rows})
    res = St.shape_trend(_shape_members(vals), confidence=0.75, n_boot=16, seed=rng)
    assert res.slope == pytest.approx(1.0, abs=1e-12) and res.verdict == verdict
    if verdict == "rejected":
        assert res.low == pytest.approx(1.0, abs=1e-12) and res.high == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("vals", [np.array([0.0, 0.0, 0.0, 1.0]), np.array([-3.0, -2.0, -1.0, 1.0])])
def test_shape_trend_zero_or_negative_quantile_is_inconclusive_without_warnings(vals):
    # the median is 0 (log ratio -inf) or negative (log undefined): no slope, no numpy warning (errors here)
    res = St.shape_trend(_shape_members(vals), n_boot=10)
    assert math.isnan(res.slope)
    assert (res.low, res.high, res.verdict) == (-math.inf, math.inf, "inconclusive")


def test_shape_trend_nan_values_count_as_diverged():
    # a NaN seed is a diverged one (+inf), so it gives the same result as +inf
    base = np.exp(np.arange(5) - 1.0)
    with_nan = St.shape_trend(_shape_members(np.append(base, math.nan)), n_boot=50, seed=1)
    with_inf = St.shape_trend(_shape_members(np.append(base, math.inf)), n_boot=50, seed=1)
    assert with_nan == with_inf
    assert with_nan.slope == pytest.approx(math.log(np.sort(base)[2]), abs=1e-12)  # median: 3rd of 6


def test_shape_trend_defaults():
    vals = np.random.default_rng(8).lognormal(0.0, 1.0, 301)
    res = St.shape_trend(_shape_members(vals))
    assert (res.var, res.n_boot, res.confidence) == ("x", 1000, 0.95)
    assert res == St.shape_trend(_shape_members(vals), var="x", n_boot=1000, seed=0)
    other = St.shape_trend(_shape_members(vals), seed=1)
    assert (res.low, res.high) != (other.low, other.high)


@pytest.mark.parametrize("n_boot, ok", [(9, False), (10, True)])
def test_shape_trend_n_boot_at_least_ten(n_boot, ok):
    members = _shape_members(np.exp(np.arange(5) - 1.0))
    if ok:
        assert St.shape_trend(members, n_boot=n_boot).n_boot == n_boot
    else:
        with pytest.raises(ValueError, match=rf"^n_boot = {n_boot} is not allowed: must be an integer in \[10, "):
            St.shape_trend(members, n_boot=n_boot)


def test_shape_trend_refusals_name_the_member():
    members = _shape_members(np.exp(np.arange(5) - 1.0))
    with pytest.raises(ValueError, match=r"^shape test: 2 members are too few \(need >= 3\)$"):
        St.shape_trend(members[:2])
    bad_x = members[:2] + [("e2", "s1", members[2][2], 1.0, 0.5, 0.0, "g")]
    with pytest.raises(ValueError, match=r"^e2 x = 0\.0 is not allowed: must be a real number in \(0\.0, inf\)$"):
        St.shape_trend(bad_x)
    bad_b = members[:2] + [("e2", "s1", members[2][2], -1.0, 0.5, math.e, "g")]
    with pytest.raises(ValueError, match=r"^e2 bound = -1\.0 is not allowed: must be a real number in \(0\.0, inf\)$"):
        St.shape_trend(bad_b)
    bad_v = members[:1] + [("e1", "s9", np.ones((2, 2)), 1.0, 0.5, math.e, "g")] + members[2:]
    with pytest.raises(ValueError, match=r"^e1 values has shape \(2, 2\): must be a 1-D array"):
        St.shape_trend(bad_v)


# --------------------------------------------------------------------------------------------
# mean_bounds

def test_mean_bounds_bootstrap_ends_match_exact_binomial_distribution():
    # ten ones and ten zeros (BOOTSTRAP_MIN_N = 20 values): a resampled mean is Bin(20, 1/2)/20. conf 0.685
    # puts a/2 and 1 - a/2 between atoms (and a/3, 2a, 1 - a/3, 1 - 2a in other gaps), each at least 0.026
    # (ten standard deviations of the empirical level at B_EXACT replicates) from an atom
    assert St.BOOTSTRAP_MIN_N == 20
    vals = np.array([1.0] * 10 + [0.0] * 10)
    cdf = sst.binom.cdf(np.arange(21), 20, 0.5)
    conf = 0.685
    a = 1 - conf
    res = St.mean_bounds(vals, confidence=conf, lower_support=None, n_boot=B_EXACT, seed=9)
    assert res.estimate == 0.5 and res.n == 20 and res.n_diverged == 0 and res.confidence == conf
    assert res.low == pytest.approx(atom_at(cdf, a / 2, B_EXACT) / 20, abs=1e-12)
    assert res.high == pytest.approx(atom_at(cdf, 1 - a / 2, B_EXACT) / 20, abs=1e-12)
    few = St.mean_bounds(vals[1:], confidence=conf, lower_support=None, n_boot=B_EXACT, seed=9)  # 19 values
    assert (few.low, few.high) == (-math.inf, math.inf)


def test_mean_bounds_dkw_lower_end_by_hand():
    # n = 8, a = 0.5: eps = sqrt(log(4)/16) = 0.2943; levels (8-i)/8 - eps for i = 0..7, positive for i <= 5
    vals = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    eps = math.sqrt(math.log(4.0) / 16.0)
    xs = [0.0] + sorted(vals)
    low = sum(max((8 - i) / 8 - eps, 0.0) * (xs[i + 1] - xs[i]) for i in range(8))
    res = St.mean_bounds(vals, confidence=0.5, n_boot=10)
    assert res.low == pytest.approx(low, rel=1e-12)
    assert res.estimate == pytest.approx(31.0 / 8, rel=1e-15)


def test_mean_bounds_nan_and_flagged_seeds_are_diverged():
    # NaN is a diverged seed, not an error; a flagged seed counts as +inf whatever its value
    res = St.mean_bounds([1.0, math.nan, 2.0], n_boot=10)
    assert (res.n, res.n_diverged, res.estimate, res.high) == (3, 1, math.inf, math.inf)
    # 100 seeds, the 50 largest flagged: S_n > eps past the 50th value, so the DKW low end is +inf
    vals = np.arange(1.0, 101.0)
    res = St.mean_bounds(vals, diverged=vals > 50, n_boot=10)
    assert res.n_diverged == 50 and res.low == math.inf and res.high == math.inf


@pytest.mark.parametrize("bad", ["flag", "nan"])
def test_mean_bounds_bootstrap_low_end_with_a_diverged_seed(bad):
    # 19 ones and one diverged seed (value 0 flagged, or NaN): a replicate's mean is 1 if it misses the
    # diverged seed (probability 0.95^20 = 0.36 > a/2), else +inf; so the bootstrap low end is exactly 1
    vals = np.append(np.ones(19), 0.0 if bad == "flag" else math.nan)
    flags = np.arange(20) == 19 if bad == "flag" else None
    res = St.mean_bounds(vals, diverged=flags, lower_support=None, n_boot=400, seed=1)
    assert (res.low, res.high, res.estimate, res.n_diverged) == (1.0, math.inf, math.inf, 1)


def test_mean_bounds_draws_exactly_n_boot_replicates_in_chunks():
    # 5000 seeds: replicates are drawn in chunks of 4e6 // 5000 = 800 rows; 1000 replicates in all
    rng = CountingGenerator(12)
    vals = np.random.default_rng(1).exponential(1.0, 5000)
    res = St.mean_bounds(vals, n_boot=1000, seed=rng)
    assert sum(s[0] for s in rng.sizes) == 1000 and all(s[1] == 5000 for s in rng.sizes)
    # the bootstrap upper end agrees with the CLT one, mean + z s / sqrt(n), to 0.5 standard errors
    se = vals.std(ddof=1) / math.sqrt(vals.size)
    assert res.high == pytest.approx(vals.mean() + sst.norm.ppf(0.975) * se, abs=0.5 * se)


def test_mean_bounds_defaults():
    vals = np.random.default_rng(2).exponential(1.0, 30)
    res = St.mean_bounds(vals)
    assert res.confidence == 0.95 and res.n == 30
    assert res == St.mean_bounds(vals, n_boot=2000, seed=0)
    assert res.high != St.mean_bounds(vals, n_boot=2000, seed=1).high
    assert res.high != St.mean_bounds(vals, n_boot=2001, seed=0).high


@pytest.mark.parametrize("kwargs, message", [
    (dict(values=np.ones((2, 2))), r"^values has shape \(2, 2\): must be a 1-D array"),
    (dict(values=[1.0, 2.0], n_boot=0), r"^n_boot = 0 is not allowed: must be an integer in \[1, "),
    (dict(values=[1.0, 2.0], diverged=np.array([0, 1])), r"^diverged has dtype int64: must be a boolean array$"),
    (dict(values=[1.0, 2.0], lower_support=math.inf),
     r"^lower_support = inf is not allowed: must be a real number in \[-inf, inf\)$"),
    (dict(values=[1.0, 2.0], lower_support=1.5),
     r"^values: min = 1 is below lower_support = 1\.5 \(pass lower_support=None for a bootstrap lower end\)$"),
])
def test_mean_bounds_refusals(kwargs, message):
    with pytest.raises(ValueError, match=message):
        St.mean_bounds(**kwargs)


# --------------------------------------------------------------------------------------------
# hill_estimator

def test_hill_exact_on_log_arithmetic_values():
    # logs 0..5, k = 3: gamma = mean(3, 4, 5) - 2 = 2, alpha = 1/2, threshold X_(n-k) = e^2
    vals = np.exp(np.arange(6.0))[::-1]
    res = St.hill_estimator(vals, k=3)
    assert res.alpha == pytest.approx(0.5, rel=1e-12) and res.gamma == pytest.approx(2.0, rel=1e-12)
    assert (res.k, res.n, res.confidence) == (3, 6, 0.95)
    assert res.threshold == pytest.approx(math.e ** 2, rel=1e-15)


@pytest.mark.parametrize("n, k", [(3, 2), (8, 2), (9, 3), (30, 5)])
def test_hill_default_k(n, k):
    # default k = max(2, floor(sqrt n)); with logs 0..n-1, gamma = (k + 1)/2
    res = St.hill_estimator(np.exp(np.arange(float(n))))
    assert res.k == k and res.alpha == pytest.approx(2.0 / (k + 1), rel=1e-12)


@pytest.mark.parametrize("k", [2, 5])
def test_hill_k_range_ends_accepted(k):
    # k = 2 (smallest) and k = n - 1 (largest, n = 6): gamma = (k + 1)/2 on logs 0..5
    res = St.hill_estimator(np.exp(np.arange(6.0)), k=k)
    assert res.k == k and res.alpha == pytest.approx(2.0 / (k + 1), rel=1e-12)


@pytest.mark.parametrize("k", [1, 6])
def test_hill_k_out_of_range(k):
    with pytest.raises(ValueError, match=rf"^k = {k} is not allowed: must be an integer in \[2, 5\]$"):
        St.hill_estimator(np.exp(np.arange(6.0)), k=k)


@pytest.mark.parametrize("conf", [0.95, 0.8])
def test_hill_interval_from_chi_square(conf):
    # 2 k gamma_hat / gamma ~ chi2(2k) under an exact Pareto tail: alpha in alpha_hat [chi2_{a/2}, chi2_{1-a/2}] / 2k
    vals = np.exp(np.arange(12.0))
    k = 4
    res = St.hill_estimator(vals, k=k, confidence=conf)
    a = 1 - conf
    assert res.low == pytest.approx(res.alpha * sst.chi2.ppf(a / 2, 2 * k) / (2 * k), rel=1e-9)
    assert res.high == pytest.approx(res.alpha * sst.chi2.ppf(1 - a / 2, 2 * k) / (2 * k), rel=1e-9)


@pytest.mark.parametrize("vals, message", [
    ([-1.0, 0.0, 1.0, 2.0, 3.0], r"^values: the 4 largest values must be positive for a Hill estimate "
                                 r"\(X_\(n-k\) = 0\)$"),
    ([-5.0, -2.0, 1.0, 2.0, 3.0], r"^values: the 4 largest values must be positive for a Hill estimate "
                                  r"\(X_\(n-k\) = -2\)$"),
    ([0.5, 2.0, 2.0, 2.0, 2.0], r"^values: the 4 largest values are all equal; the tail index is undefined$"),
    ([1.0, 2.0, math.inf, 4.0], r"^values\[2\] = inf is not allowed here"),
])
def test_hill_refusals(vals, message):
    with pytest.raises(ValueError, match=message):
        St.hill_estimator(vals, k=3)


# --------------------------------------------------------------------------------------------
# the beta-binomial confidence sequence

@pytest.mark.parametrize("n, b0", [(20, 3.0), (50, 0.5)])
def test_betabinomial_cs_no_failures_closed_form(n, b0):
    # k = 0, prior Beta(1, b0): M_n(p) = b0 / ((b0 + n) (1 - p)^n), so high = 1 - (alpha b0/(b0 + n))^(1/n)
    alpha = 0.05
    low, high = St._betabinomial_cs(0, n, alpha, 1.0, b0)
    assert low == 0.0
    assert high == pytest.approx(1 - (alpha * b0 / (b0 + n)) ** (1 / n), rel=1e-10)


@pytest.mark.parametrize("n, a0", [(20, 3.0), (7, 1.0)])
def test_betabinomial_cs_all_failures_closed_form(n, a0):
    # k = n, prior Beta(a0, 1): M_n(p) = a0 / ((a0 + n) p^n), so low = (alpha a0/(a0 + n))^(1/n), high = 1
    alpha = 0.05
    low, high = St._betabinomial_cs(n, n, alpha, a0, 1.0)
    assert high == 1.0
    assert low == pytest.approx((alpha * a0 / (a0 + n)) ** (1 / n), rel=1e-10)


def _log_beta_ratio(k, n, a0, b0):
    """log B(a0+k, b0+n-k) - log B(a0, b0), independently of scipy.special.betaln: for the uniform prior
    B(1+k, 1+n-k) = 1/((n+1) C(n,k)) exactly, else from log-gamma (small n only: its rounding grows with n)."""
    if a0 == b0 == 1.0:
        return -math.log(n + 1) - math.log(math.comb(n, k))
    assert n <= 1000

    def lbeta(u, v):
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)
    return lbeta(a0 + k, b0 + n - k) - lbeta(a0, b0)


@pytest.mark.parametrize("k, n, a0, b0", [(3, 20, 2.0, 5.0), (1, 100000, 1.0, 1.0), (5, 10**6, 1.0, 1.0),
                                        (40, 60, 0.5, 0.5), (1, 10**7, 1.0, 1.0), (2, 10**8, 1.0, 1.0)])
def test_betabinomial_cs_ends_solve_the_mixture_equation(k, n, a0, b0):
    # the ends are the two roots of M_n(p) = 1/alpha around k/n, to the root finder's relative tolerance
    # (rtol 1e-12; the low ends of the last two cases are 5e-16 and 3e-13, where an absolute tolerance fails)
    alpha = 0.05
    low, high = St._betabinomial_cs(k, n, alpha, a0, b0)
    assert 0 < low < k / n < high < 1
    log_beta = _log_beta_ratio(k, n, a0, b0)
    # the code evaluates log B with scipy's betaln, whose own error (about 3e-11 at n = 1e5..1e6) moves the root:
    # measured here against the exact value and allowed twice over, plus 1e-13 for the log-gamma reference
    lib_err = abs(special.betaln(a0 + k, b0 + n - k) - special.betaln(a0, b0) - log_beta)
    for p in (low, high):
        # d log M / dp = -k/p + (n-k)/(1-p); the root is located to rtol 1e-12 |p| (brentq: 2 rtol)
        slope = abs(-k / p + (n - k) / (1 - p))
        # plus the rounding of the terms of log M (each ~ 1e-15 relative)
        terms = abs(k * math.log(p)) + abs((n - k) * math.log1p(-p)) + math.log(n + 1) + 3.0
        log_m = log_beta - k * math.log(p) - (n - k) * math.log1p(-p)
        assert log_m == pytest.approx(math.log(1 / alpha),
                                      abs=slope * 2e-12 * p + 1e-14 * terms + 2 * lib_err + 1e-13)
