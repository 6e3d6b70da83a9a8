"""Direct tests of the decision functions of clipsim.stats (issue 14), written against mutmut's survivors.

Every expected value is computed here, independently of the code under test: exact binomial sums
(math.comb, fractions), Beta quantiles from scipy.stats.beta, closed forms, or inputs built so that the answer
is known (values 1..n, so the r-th order statistic is r; ratios linear in log x with a known slope). Cases sit on
or next to a decision boundary, so a `<` for `<=`, an off-by-one, a swapped argument, a dropped term or a
changed default flips an assertion. Refusals are checked by their whole one-line message. Boundary tests of Holm,
the per-cell verdict ends, min_seeds_to_certify and the DKW constant live in tests/test_decisions_unit.py; this
file does not repeat them.
"""
import math
import types
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sst

from clipsim import stats as St


def pmf(j, n, q):
    return math.comb(n, j) * q ** j * (1 - q) ** (n - j)


def cdf(k, n, q):
    """P(Bin(n, q) <= k), summed exactly (k < 0: 0)."""
    return math.fsum(pmf(j, n, q) for j in range(0, min(k, n) + 1)) if k >= 0 else 0.0


def ranks(n, q, conf):
    """(l, u): largest l with P(B < l) <= a/2 (0 if none), smallest u with P(B >= u) <= a/2 (n+1 if none)."""
    a = 1 - conf
    low = max([r for r in range(1, n + 1) if cdf(r - 1, n, q) <= a / 2], default=0)
    up = min([r for r in range(0, n + 1) if 1 - cdf(r - 1, n, q) <= a / 2], default=n + 1)
    return low, up


def ceil_rank(n, q):
    """ceil(n q) computed in exact rational arithmetic from q's decimal spelling, at least 1."""
    return max(math.ceil(Fraction(str(q)) * n), 1)


def cp(k, n, conf):
    """Clopper-Pearson ends from scipy.stats.beta quantiles."""
    a = 1 - conf
    low = 0.0 if k == 0 else sst.beta.ppf(a / 2, k, n - k + 1)
    high = 1.0 if k == n else sst.beta.ppf(1 - a / 2, k + 1, n - k)
    return low, high


def refuses(match):
    return pytest.raises(ValueError, match=match)


def esc(s):
    import re
    return "^" + re.escape(s) + "$"


# ------------------------------------------------------------------ input validation (_confidence, _sample, _mask)

@pytest.mark.parametrize("conf", [0.0, 1.0, -0.5, 1.5])
def test_confidence_outside_the_open_unit_interval_is_refused(conf):
    msg = esc(f"confidence = {conf!r} is not allowed: must be a real number in (0.0, 1.0)")
    with refuses(msg):
        St.clopper_pearson(1, 2, conf)
    with refuses(msg):
        St.quantile_ci([1.0, 2.0], 0.5, conf)


def test_confidence_just_inside_the_interval_is_accepted():
    lo, hi = St.clopper_pearson(1, 2, 1e-9)
    assert 0 < lo < hi < 1
    lo, hi = St.clopper_pearson(1, 2, 1 - 1e-9)
    assert 0 < lo < hi < 1


def test_sample_refusals_name_the_field_index_and_rule():
    with refuses(esc("values is not allowed: must be a 1-D array of real numbers")):
        St.quantile_ci(["a", "b"], 0.5)
    with refuses(esc("values is not allowed: must be a 1-D array of real numbers")):
        St.quantile_ci([{}, 1.0], 0.5)
    with refuses(esc("values has shape (2, 2): must be a 1-D array (one value per seed)")):
        St.quantile_ci(np.ones((2, 2)), 0.5)
    with refuses(esc("values has 0 values: at least 1 needed")):
        St.quantile_ci([], 0.5)
    with refuses(esc("values[1] = nan is not allowed: pass diverged seeds as +inf (or through `diverged`)")):
        St.quantile_ci([1.0, np.nan, 2.0, np.nan], 0.5)
    with refuses(esc("values has 2 values: at least 3 needed")):
        St.hill_estimator([1.0, 2.0])
    with refuses(esc("values[2] = inf is not allowed here: tail fits need finite values "
                     "(drop diverged seeds and count them separately)")):
        St.hill_estimator([1.0, 2.0, np.inf, 3.0, -np.inf])
    with refuses(esc("values[0] = -inf is not allowed here: tail fits need finite values "
                     "(drop diverged seeds and count them separately)")):
        St.hill_estimator([-np.inf, 1.0, 2.0, np.inf])


def test_sample_defaults_allow_inf_and_one_value_and_a_scalar():
    ci = St.quantile_ci(3.0, 0.5)  # a scalar is one seed
    assert (ci.n, ci.estimate) == (1, 3.0)
    ci = St.quantile_ci([np.inf, 1.0, 2.0], 0.5)  # +inf takes part
    assert ci.estimate == 2.0 and ci.n == 3
    fp = St.failure_probability([1.0, np.nan, np.inf], 0.5)  # failure_probability allows NaN
    assert (fp.k, fp.n_diverged) == (3, 2)


def test_mask_refusals():
    with refuses(esc("diverged has dtype int64: must be a boolean array")):
        St.failure_probability(np.ones(3), 1.0, diverged=np.array([0, 1, 0], dtype=np.int64))
    with refuses(esc("diverged has shape (2,): must have shape (3,) like the values")):
        St.failure_probability(np.ones(3), 1.0, diverged=np.array([True, False]))
    with refuses(esc("diverged has shape (1, 3): must have shape (3,) like the values")):
        St.failure_probability(np.ones(3), 1.0, diverged=np.zeros((1, 3), bool))


# ------------------------------------------------------------------ order statistics and quantile intervals

@pytest.mark.parametrize("n,q", [(100, 0.07), (100, 0.9), (10, 0.01), (10, 0.3), (7, 0.5), (1, 0.5), (50, 0.98)])
def test_order_stat_quantile_is_the_ceil_nq_th_value(n, q):
    x = np.arange(1.0, n + 1)  # X_(r) = r
    assert St._order_stat_quantile(x, q) == ceil_rank(n, q)
    assert St.quantile_ci(x[::-1], q).estimate == ceil_rank(n, q)


def test_order_stat_quantile_along_an_axis():
    rows = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [10.0, 20.0, 30.0, 40.0]])  # sorted both ways
    assert St._order_stat_quantile(rows, 0.5, axis=1).tolist() == [2.0, 6.0, 20.0]  # 2nd of 4
    assert St._order_stat_quantile(rows, 0.5).tolist() == [2.0, 6.0, 20.0]  # default: last axis
    assert St._order_stat_quantile(rows, 0.5, axis=0).tolist() == [5.0, 6.0, 7.0, 8.0]  # 2nd of 3 per column
    assert St._order_stat_quantile(rows, 0.9, axis=0).tolist() == [10.0, 20.0, 30.0, 40.0]  # ceil(2.7) = 3rd


@pytest.mark.parametrize("n,q,conf", [(3, 0.5, 0.75), (2, 0.5, 0.5), (10, 0.5, 0.95), (20, 0.9, 0.9),
                                      (30, 0.2, 0.99), (5, 0.5, 0.95), (12, 0.5, 0.95), (40, 0.95, 0.8),
                                      (9, 0.1, 0.6), (25, 0.5, 0.5)])
def test_quantile_interval_ranks_ends_and_coverage_are_exact(n, q, conf):
    """X_(r) = r; the ranks and the coverage P(l <= B < u) from exact binomial sums; ends -inf/+inf past 1..n."""
    x = np.arange(1.0, n + 1)
    ci = St.quantile_ci(x[::-1], q, conf)
    lo, up = ranks(n, q, conf)
    assert (ci.low_rank, ci.high_rank) == (lo, up)
    assert ci.low == (lo if lo >= 1 else -math.inf)
    assert ci.high == (up if up <= n else math.inf)
    want_cov = (cdf(up - 1, n, q) if up <= n else 1.0) - (cdf(lo - 1, n, q) if lo >= 1 else 0.0)
    assert ci.coverage == pytest.approx(want_cov, rel=1e-9, abs=1e-12)
    assert ci.coverage >= conf - 1e-12
    assert (ci.n, ci.q, ci.confidence, ci.estimate) == (n, q, conf, ceil_rank(n, q))


def test_quantile_interval_at_the_exact_binomial_boundaries():
    """n = 3, q = 1/2, a/2 = 1/8 = P(B = 0) = P(B = 3) exactly: both ends are attained with equality."""
    ci = St.quantile_ci([3.0, 1.0, 2.0], 0.5, 0.75)
    assert (ci.low, ci.high, ci.low_rank, ci.high_rank) == (1.0, 3.0, 1, 3)
    assert ci.coverage == 0.75  # 7/8 - 1/8
    # one seed less confident than the boundary: the same ranks; one more: both ends open
    ci = St.quantile_ci([3.0, 1.0, 2.0], 0.5, 0.8)
    assert (ci.low, ci.high, ci.low_rank, ci.high_rank, ci.coverage) == (-math.inf, math.inf, 0, 4, 1.0)


def test_quantile_interval_open_ends_and_their_coverage():
    # n = 5, q = 0.5, 95%: P(B = 0) = 1/32 > 0.025, so no low rank; P(B = 5) = 1/32 > 0.025, no high rank
    ci = St.quantile_ci(np.arange(1.0, 6.0), 0.5)
    assert (ci.low_rank, ci.high_rank, ci.low, ci.high, ci.coverage) == (0, 6, -math.inf, math.inf, 1.0)
    # n = 6: P(B <= 0) = 1/64 <= 0.025 -> l = 1, u = 6, coverage 1 - 2/64
    ci = St.quantile_ci(np.arange(1.0, 7.0), 0.5)
    assert (ci.low_rank, ci.high_rank, ci.low, ci.high) == (1, 6, 1.0, 6.0)
    assert ci.coverage == pytest.approx(1 - 2 / 64, rel=1e-12)
    # high end open, low end a rank: q = 0.9, n = 20, 95% -> u = n + 1
    ci = St.quantile_ci(np.arange(1.0, 21.0), 0.9)
    lo, up = ranks(20, 0.9, 0.95)
    assert up == 21 and ci.high == math.inf and ci.high_rank == 21 and ci.low == lo
    assert ci.coverage == pytest.approx(1.0 - cdf(lo - 1, 20, 0.9), rel=1e-12)
    # low end open, high end a rank: q = 0.1, n = 20
    ci = St.quantile_ci(np.arange(1.0, 21.0), 0.1)
    lo, up = ranks(20, 0.1, 0.95)
    assert lo == 0 and ci.low == -math.inf and ci.high == up
    assert ci.coverage == pytest.approx(cdf(up - 1, 20, 0.1), rel=1e-12)


def test_quantile_ci_default_confidence_is_95():
    x = np.arange(1.0, 101.0)
    ci = St.quantile_ci(x, 0.9)
    lo, up = ranks(100, 0.9, 0.95)
    assert (ci.confidence, ci.low, ci.high) == (0.95, lo, up)
    assert St._quantile_ranks(100, 0.9, 0.05)[:2] == (lo, up)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5])
def test_quantile_ci_refuses_q_outside_the_open_unit_interval(q):
    with refuses(esc(f"q = {q!r} is not allowed: must be a real number in (0.0, 1.0)")):
        St.quantile_ci([1.0, 2.0], q)


def test_quantile_ci_str():
    ci = St.quantile_ci(np.arange(1.0, 11.0), 0.5)
    lo, up = ranks(10, 0.5, 0.95)
    assert str(ci) == f"q_0.5 = 5 (95% CI [{lo}, {up}], n = 10)"


# ------------------------------------------------------------------ Clopper-Pearson and failure probabilities

@pytest.mark.parametrize("k,n,conf", [(0, 1, 0.95), (1, 1, 0.95), (0, 5, 0.9), (1, 5, 0.95), (4, 5, 0.95),
                                      (5, 5, 0.8), (3, 10, 0.99), (7, 40, 0.5), (20, 100, 0.95)])
def test_clopper_pearson_ends_are_beta_quantiles(k, n, conf):
    lo, hi = St.clopper_pearson(k, n, conf)
    want_lo, want_hi = cp(k, n, conf)
    assert lo == pytest.approx(want_lo, rel=1e-10, abs=1e-300)
    assert hi == pytest.approx(want_hi, rel=1e-10)
    assert type(lo) is float and type(hi) is float


def test_clopper_pearson_closed_forms_at_zero_and_all():
    for n in (1, 2, 7, 50):
        a = 0.05
        assert St.clopper_pearson(0, n) == (0.0, pytest.approx(1 - (a / 2) ** (1 / n), rel=1e-12))
        assert St.clopper_pearson(n, n) == (pytest.approx((a / 2) ** (1 / n), rel=1e-12), 1.0)


def test_clopper_pearson_is_vectorised():
    k, n = np.array([0, 1, 4, 5]), np.array([5, 5, 5, 5])
    lo, hi = St.clopper_pearson(k, n, 0.9)
    assert isinstance(lo, np.ndarray) and lo.shape == (4,) and hi.shape == (4,)
    for i in range(4):
        wl, wh = cp(int(k[i]), 5, 0.9)
        assert lo[i] == pytest.approx(wl, rel=1e-10, abs=1e-300) and hi[i] == pytest.approx(wh, rel=1e-10)


@pytest.mark.parametrize("k,n", [(3, 2), (-1, 5), (0, 0), (1, 0)])
def test_clopper_pearson_refuses_impossible_counts(k, n):
    with refuses(esc(f"k = {k}, n = {n} is not allowed: need n >= 1 and 0 <= k <= n")):
        St.clopper_pearson(k, n)


def test_clopper_pearson_refuses_non_integers():
    with refuses(esc("k and n must be integers")):
        St.clopper_pearson(1.0, 2)
    with refuses(esc("k and n must be integers")):
        St.clopper_pearson(1, 2.0)


def test_failure_probability_fields_and_str():
    x = np.r_[np.arange(1.0, 9.0), np.inf, np.nan]  # 1..8, one +inf, one NaN
    fp = St.failure_probability(x, 6.0, 0.9)
    lo, hi = cp(4, 10, 0.9)  # 7, 8 exceed 6; inf and nan are failures
    assert (fp.k, fp.n, fp.n_diverged, fp.threshold, fp.confidence) == (4, 10, 2, 6.0, 0.9)
    assert fp.estimate == 0.4
    assert fp.low == pytest.approx(lo, rel=1e-10) and fp.high == pytest.approx(hi, rel=1e-10)
    assert str(fp) == f"P(Q > 6) = 4/10 = 0.4 (90% CI [{lo:.3g}, {hi:.3g}])"
    # diverged flags add to the non-finite ones; a flagged finite value below the threshold fails
    div = np.zeros(10, bool)
    div[0] = True
    fp = St.failure_probability(x, 6.0, 0.9, diverged=div)
    assert (fp.k, fp.n_diverged) == (5, 3)
    # the default confidence is 95%
    fp = St.failure_probability(np.arange(1.0, 11.0), 8.0)
    lo, hi = cp(2, 10, 0.95)
    assert fp.confidence == 0.95 and fp.low == pytest.approx(lo, rel=1e-10) and fp.high == pytest.approx(hi, rel=1e-10)


def test_failure_probability_threshold_is_strict_and_validated():
    fp = St.failure_probability([1.0, 2.0, 3.0], 2.0)
    assert fp.k == 1  # only 3 > 2
    fp = St.failure_probability([1.0, 2.0, 3.0], np.nextafter(2.0, 0.0))
    assert fp.k == 2
    with refuses(esc("threshold = nan is not allowed: must be a real number in [-inf, inf]")):
        St.failure_probability([1.0], float("nan"))
    with refuses(esc("values has 0 values: at least 1 needed")):
        St.failure_probability([], 1.0)


# ------------------------------------------------------------------ certification, p-values, Holm

def test_min_seeds_to_certify_at_an_exact_integer_ratio():
    """conf 0.5, delta 0.5: CP high for k = 0 is 1 - 0.25^(1/n); n = 2 gives exactly 0.5 = delta."""
    assert St.min_seeds_to_certify(0.5, 0.5) == 2
    assert St.min_seeds_to_certify(0.75, 0.5) == 1  # 1 - 0.25 = 0.75 at n = 1
    assert St.min_seeds_to_certify(0.1) == math.ceil(math.log(0.025) / math.log(0.9))  # default 95%: 36
    assert St.min_seeds_to_certify(0.1) == 36


@pytest.mark.parametrize("delta", [0.0, 1.0])
def test_min_seeds_to_certify_refuses_delta_outside(delta):
    with refuses(esc(f"delta = {delta!r} is not allowed: must be a real number in (0.0, 1.0)")):
        St.min_seeds_to_certify(delta)


def test_violation_pvalue_tails_and_refusals():
    # upper: P(K >= 2) for Bin(4, 1/2) = 11/16; lower: P(K <= 2) = 11/16; at the extremes 1
    assert St.violation_pvalue(2, 4, 0.5) == pytest.approx(11 / 16, rel=1e-12)
    assert St.violation_pvalue(3, 4, 0.5) == pytest.approx(5 / 16, rel=1e-12)
    assert St.violation_pvalue(3, 4, 0.5, lower=True) == pytest.approx(15 / 16, rel=1e-12)
    assert St.violation_pvalue(4, 4, 0.5) == pytest.approx(1 / 16, rel=1e-12)
    assert St.violation_pvalue(0, 4, 0.5, lower=True) == pytest.approx(1 / 16, rel=1e-12)
    assert St.violation_pvalue(4, 4, 0.5, lower=True) == 1.0
    assert St.violation_pvalue(np.int64(1), np.int64(1), 0.25) == pytest.approx(0.25, rel=1e-12)
    for k, n in ((5, 4), (-1, 4), (0, 0)):
        with refuses(esc(f"k = {k}, n = {n} is not allowed: need n >= 1 and 0 <= k <= n")):
            St.violation_pvalue(k, n, 0.5)
    for d in (0.0, 1.0):
        with refuses(esc(f"delta = {d!r} is not allowed: must be a real number in (0.0, 1.0)")):
            St.violation_pvalue(1, 4, d)


def test_holm_refusals_and_extremes():
    for bad in ([0.5, np.nan], [-0.1], [1.1]):
        with refuses(esc("pvalues must lie in [0, 1]")):
            St.holm(bad, 0.05)
    for lev in (0.0, 1.0):
        with refuses(esc(f"level = {lev!r} is not allowed: must be a real number in (0.0, 1.0)")):
            St.holm([0.5], lev)
    out = St.holm([0.0, 1.0], 0.05)
    assert out.dtype == np.bool_ and out.tolist() == [True, False]
    # exact rationals (e.g. from an exact binomial sum) are p-values too
    assert St.holm([Fraction(1, 100), Fraction(1, 2)], 0.05).tolist() == [True, False]
    assert St.holm(np.array([[0.01, 0.2]]), 0.05).tolist() == [True, False]  # flattened
    assert St.holm([], 0.05).tolist() == []
    # ties step down together: thresholds 0.05/2 then 0.05
    assert St.holm([0.025, 0.025], 0.05).tolist() == [True, True]
    assert St.holm([0.03, 0.03], 0.05).tolist() == [False, False]
    # the stop is at the first failure, later smaller thresholds do not matter; input order is kept
    assert St.holm([0.9, 0.001, 0.04, 0.02], 0.1).tolist() == [False, True, True, True]
    assert St.holm([0.9, 0.001, 0.06, 0.02], 0.1).tolist() == [False, True, False, True]


# ------------------------------------------------------------------ family verdicts

def test_family_verdict_fields_counts_and_str():
    members = [("a", "holds", 1.0), ("b", "violated", 1e-6), ("c", "inconclusive", 0.5), ("d", "inconclusive", None)]
    fv = St.family_verdict(members, 0.95)
    # level 0.025; sorted p: 1e-6 <= 0.025/4 rejected, 0.5 > 0.025/3 stops
    assert (fv.verdict, fv.n_members, fv.n_holds, fv.n_inconclusive, fv.violated) == ("violated", 4, 1, 2, ("b",))
    assert fv.level == pytest.approx(0.025, rel=1e-12)
    assert fv.method == "Holm step-down over exact binomial p-values (violated); intersection-union (holds)"
    assert str(fv) == ("family violated: 4 members, 1 violated after Holm (family-wise level 0.025), "
                       "1 hold, 2 inconclusive")
    assert St.family_verdict(members, 0.95, method="my method").method == "my method"
    fv = St.family_verdict(members)  # default confidence 95%
    assert fv.level == pytest.approx(0.025, rel=1e-12)
    fv = St.family_verdict(members, 0.8)
    assert fv.level == pytest.approx(0.1, rel=1e-12)


def test_family_verdict_none_pvalue_is_never_rejected_even_when_others_are():
    fv = St.family_verdict([("a", "violated", None), ("b", "violated", 0.0)], 0.95)
    assert fv.violated == ("b",) and fv.n_inconclusive == 1 and fv.verdict == "violated"
    fv = St.family_verdict([("a", "holds", None), ("b", "holds", None)], 0.95)
    assert (fv.verdict, fv.n_holds, fv.n_inconclusive) == ("holds", 2, 0)
    fv = St.family_verdict(iter([("x", "holds", 0.5)]), 0.5)  # any iterable
    assert (fv.verdict, fv.level, fv.n_members) == ("holds", 0.25, 1)


def test_family_verdict_refuses_bad_confidence_and_empty():
    with refuses(esc("family_verdict: members must not be empty")):
        St.family_verdict(iter([]))
    with refuses(esc("confidence = 1.0 is not allowed: must be a real number in (0.0, 1.0)")):
        St.family_verdict([("a", "holds", 1.0)], 1.0)


def test_hp_verdict_ends():
    fp = types.SimpleNamespace
    assert St._hp_verdict(fp(low=0.1, high=0.5), 0.1) == "inconclusive"  # low == delta: not violated
    assert St._hp_verdict(fp(low=0.1000001, high=0.5), 0.1) == "violated"
    assert St._hp_verdict(fp(low=0.0, high=0.1), 0.1) == "holds"  # high == delta: holds
    assert St._hp_verdict(fp(low=0.0, high=0.1000001), 0.1) == "inconclusive"


# ------------------------------------------------------------------ cells, calibration and held-out tests

def test_cells_accepts_three_spellings_and_marks_diverged():
    out = St._cells([St.Cell([1.0, np.nan, 3.0], 2.0, "c"),
                     {"values": [1.0, 2.0], "bound": 4, "label": "m", "diverged": np.array([False, True])},
                     ([5.0, np.inf], 1.5)])
    (l0, x0, b0, d0), (l1, x1, b1, d1), (l2, x2, b2, d2) = out
    assert (l0, b0, x0.tolist(), d0.tolist()) == ("c", 2.0, [1.0, math.inf, 3.0], [False, True, False])
    assert (l1, b1, x1.tolist(), d1.tolist()) == ("m", 4.0, [1.0, math.inf], [False, True])
    assert (l2, b2, x2.tolist(), d2.tolist()) == ("2", 1.5, [5.0, math.inf], [False, True])
    assert St._cells([{"values": [1.0], "bound": 1.0}])[0][0] == "0"  # mapping without a label


def test_cells_refusals():
    msg = esc("cells must be a non-empty sequence of Cell (or mappings with 'values', 'bound')")
    for bad in ([], (), St.Cell([1.0], 1.0), {"values": [1.0], "bound": 1.0}, np.ones(3), iter([([1.0], 1.0)])):
        with refuses(msg):
            St._cells(bad)
    with refuses(esc("cells[1] has no key 'bound': needs 'values' and 'bound'")):
        St._cells([([1.0], 1.0), {"values": [1.0]}])
    with refuses(esc("cells[0] has no key 'values': needs 'values' and 'bound'")):
        St._cells([{"bound": 1.0}])
    with refuses(esc("cells[1] = list is not allowed: must be a Cell, a mapping or a (values, bound) pair")):
        St._cells([([1.0], 1.0), [[1.0], 1.0]])
    with refuses(esc("cells[0] = tuple is not allowed: must be a Cell, a mapping or a (values, bound) pair")):
        St._cells([([1.0], 1.0, "x")])
    with refuses(esc("cells[1].values has 0 values: at least 1 needed")):
        St._cells([([1.0], 1.0), ([], 1.0)])
    with refuses(esc("cells[1].bound = 0.0 is not allowed: must be a real number in (0.0, inf)")):
        St._cells([([1.0], 1.0), ([1.0], 0.0)])
    with refuses(esc("cells[0].diverged has shape (2,): must have shape (1,) like the values")):
        St._cells([St.Cell([1.0], 1.0, "", np.array([True, False]))])


def test_calibrate_constant_fields_and_str():
    n, delta, conf = 100, 0.1, 0.6
    up = ranks(n, 1 - delta, conf)[1]  # X_(u) = u for values 1..n
    a, b = np.arange(1.0, n + 1), 3 * np.arange(1.0, n + 1)
    cal = St.calibrate_constant([St.Cell(a, 2.0, "a"), St.Cell(b, 4.0, "b")], delta, conf)
    assert (cal.C, cal.delta, cal.confidence, cal.binding) == (3 * up / 4.0, delta, conf, "b")
    assert cal.per_cell == (("a", up / 2.0), ("b", 3 * up / 4.0))
    assert str(cal) == f"C = {3 * up / 4.0:.4g} (binding cell b, delta = 0.1)"
    assert str(St.calibrate_constant([St.Cell(a, 7.0, "z")], 0.05, 0.6)) == \
        f"C = {ranks(n, 0.95, 0.6)[1] / 7.0:.4g} (binding cell z, delta = 0.05)"
    up95 = ranks(n, 1 - delta, 0.95)[1]
    cal = St.calibrate_constant([St.Cell(a, 2.0, "a")], delta)  # default 95%
    assert (cal.C, cal.confidence) == (up95 / 2.0, 0.95)
    assert up95 != up
    for d in (0.0, 1.0):
        with refuses(esc(f"delta = {d!r} is not allowed: must be a real number in (0.0, 1.0)")):
            St.calibrate_constant([St.Cell(a, 2.0)], d)


def test_calibrate_constant_counts_diverged_seeds_as_infinite():
    n, delta = 100, 0.1
    up = ranks(n, 1 - delta, 0.95)[1]
    x = np.arange(1.0, n + 1)
    div = np.zeros(n, bool)
    div[:n - up + 1] = True  # n - u + 1 flagged seeds become +inf: X_(u) is now infinite
    cal = St.calibrate_constant([St.Cell(x, 1.0, "a", div)], delta)
    assert cal.C == math.inf
    div[0] = False
    cal = St.calibrate_constant([St.Cell(x, 1.0, "a", div)], delta)
    assert math.isfinite(cal.C)


def _held_out(n, k_fail, bound=1.0, label=""):
    """n seeds: k_fail of them at 2 (fail against C B = 1), the rest 0 .. < 1."""
    return St.Cell(np.r_[np.full(k_fail, 2.0), np.linspace(0.0, 0.5, n - k_fail)], bound, label)


def test_test_calibrated_fields_quantile_and_tightness():
    n, delta, C = 50, 0.1, 2.0
    x = np.arange(1.0, n + 1)  # 1..50; C B = 2 * 20 = 40: 10 seeds fail
    res = St.test_calibrated(C, [St.Cell(x, 20.0, "a")], delta, 0.9)
    (cell,) = res.cells
    q = ceil_rank(n, 1 - delta)  # 45th value = 45
    assert (cell.label, cell.quantile, cell.bound, cell.tightness) == ("a", q, 40.0, q / 40.0)
    assert (cell.failure.k, cell.failure.n, cell.failure.threshold, cell.failure.confidence) == (10, 50, 40.0, 0.9)
    lo, hi = cp(10, 50, 0.9)
    assert cell.failure.low == pytest.approx(lo, rel=1e-10) and cell.failure.high == pytest.approx(hi, rel=1e-10)
    assert cell.verdict == ("violated" if lo > delta else "holds" if hi <= delta else "inconclusive")
    assert (res.C, res.delta) == (C, delta)


def test_test_calibrated_confidence_reaches_every_cell():
    """10/100 failures at delta = 0.05: CP low at 90% is above 0.05 (violated), at 99.9% below it."""
    cells = [_held_out(100, 10, label="x")]
    assert cp(10, 100, 0.9)[0] > 0.05 > cp(10, 100, 0.999)[0]
    res = St.test_calibrated(1.0, cells, 0.05, 0.9)
    assert res.cells[0].verdict == "violated"
    # the family level follows the confidence too: P(Bin(100, 0.05) >= 10) lies between the one-sided
    # levels of 95% (0.025) and 90% (0.05), so Holm over this one cell rejects at 90% only
    pval = 1 - cdf(9, 100, 0.05)
    assert 0.025 < pval <= 0.05
    assert res.verdict == "violated"
    res = St.test_calibrated(1.0, cells, 0.05, 0.999)
    assert res.cells[0].verdict == "inconclusive" and res.cells[0].failure.confidence == 0.999
    # default 95%: CP low for 10/100 is 0.049 < 0.05 < CP low at 90% (0.055)
    assert cp(10, 100, 0.95)[0] < 0.05
    res = St.test_calibrated(1.0, cells, 0.05)
    assert res.cells[0].verdict == "inconclusive" and res.cells[0].failure.confidence == 0.95


def test_test_calibrated_family_verdict_and_str():
    delta = 0.05
    # 100 seeds: 0 failures holds iff CP high <= 0.05 (1 - 0.025^(1/100) = 0.0362): holds
    good = _held_out(100, 0, label="g")
    bad = _held_out(100, 30, label="b")  # p-value P(Bin(100, .05) >= 30) ~ 1e-10: violated after Holm
    res = St.test_calibrated(1.0, [good, bad], delta)
    assert [c.verdict for c in res.cells] == ["holds", "violated"]
    assert res.verdict == "violated"
    t = [c.tightness for c in res.cells]
    assert str(res) == (f"violated: C = 1 on 2 held-out cells (1 hold, 1 violated, 0 inconclusive; "
                        f"tightness {min(t):.3g}..{max(t):.3g})")
    res = St.test_calibrated(1.0, [good, good], delta)
    assert res.verdict == "holds" and str(res).startswith("holds: C = 1 on 2 held-out cells (2 hold, 0 violated")
    res = St.test_calibrated(1.0, [good, _held_out(100, 5)], delta)
    assert res.verdict == "inconclusive" and res.cells[1].label == "1"
    assert str(res).startswith("inconclusive: C = 1 on 2 held-out cells (1 hold, 0 violated, 1 inconclusive; ")


def test_test_calibrated_flags_count_as_failures():
    x = np.zeros(100)
    div = np.zeros(100, bool)
    div[:30] = True
    res = St.test_calibrated(1.0, [St.Cell(x, 1.0, "a", div)], 0.05)
    assert (res.cells[0].failure.k, res.cells[0].failure.n_diverged, res.verdict) == (30, 30, "violated")
    assert res.cells[0].quantile == math.inf  # diverged seeds are +inf in the quantile


def test_test_calibrated_refusals():
    cells = [_held_out(10, 0)]
    for c in (0.0, -1.0, math.inf):
        with refuses(esc(f"C = {c!r} is not allowed: must be a real number in (0.0, inf)")):
            St.test_calibrated(c, cells, 0.1)
    for d in (0.0, 1.0, 1.5):
        with refuses(esc(f"delta = {d!r} is not allowed: must be a real number in (0.0, 1.0)")):
            St.test_calibrated(1.0, cells, d)


# ------------------------------------------------------------------ delta growth: seeds that would decide

def g(xi, xi_low, xi_high):
    return types.SimpleNamespace(xi=xi, xi_low=xi_low, xi_high=xi_high)


def test_seeds_to_decide_polylog_side():
    # n' = n ((xi_high - xi) / (margin - xi))^2: 1000 (0.25 / 0.5)^2 = 250; 1001 -> 250.25 -> 251
    assert St._seeds_to_decide(1000, g(0.0, -0.25, 0.25), 0.0, -math.inf, 0.5) == 250
    assert St._seeds_to_decide(1001, g(0.0, -0.25, 0.25), 0.0, -math.inf, 0.5) == 251
    # 1000 (0.75 / 0.5)^2 = 2250 (the interval is wider than the gap: more seeds)
    assert St._seeds_to_decide(1000, g(-0.25, -1.0, 0.5), -1.0, -2.0, 0.25) == 2250
    # xi at the margin: no polylog estimate, no polynomial one (xi = 0.5 > 0 but kappa = 0): -1
    assert St._seeds_to_decide(1000, g(0.5, 0.25, 0.75), 0.0, -1.0, 0.5) == -1


def test_seeds_to_decide_polynomial_side():
    # n' = n max(((xi - xi_low)/xi)^2, ((kappa - k_lo)/kappa)^2); margin below xi: no polylog option
    assert St._seeds_to_decide(1000, g(0.5, 0.25, 0.75), 0.5, -0.25, 0.25) == 2250  # max(0.25, 2.25)
    assert St._seeds_to_decide(1000, g(0.5, -0.5, 1.5), 0.5, 0.25, 0.25) == 4000  # max(4, 0.25)
    assert St._seeds_to_decide(1000, g(0.5, 0.25, 0.75), 0.5, 0.25, 0.25) == 250  # max(0.25, 0.25)
    assert St._seeds_to_decide(1000, g(2.0, 1.0, 3.0), 2.0, 1.0, 0.25) == 250  # xi and kappa above 1
    # kappa's interval unbounded: no polynomial estimate
    assert St._seeds_to_decide(1000, g(0.5, 0.25, 0.75), 0.5, -math.inf, 0.25) == -1
    # kappa <= 0 or xi <= 0: no polynomial estimate
    assert St._seeds_to_decide(1000, g(0.5, 0.25, 0.75), 0.0, -0.5, 0.25) == -1
    assert St._seeds_to_decide(1000, g(0.5, 0.25, 0.75), -0.5, -1.0, 0.25) == -1


def test_seeds_to_decide_takes_the_closer_of_the_two():
    # polylog: 1000 (0.25/0.75)^2 = 111.1 -> 112; polynomial: 1000 max(0.25, 0.25) = 250 -> 112
    assert St._seeds_to_decide(1000, g(0.25, 0.125, 0.5), 0.5, 0.375, 1.0) == 112
    # polylog 1000 (0.75/0.25)^2 = 9000 vs polynomial 250: 250
    assert St._seeds_to_decide(1000, g(0.25, 0.125, 1.0), 0.25, 0.125, 0.5) == 250
    # xi = 0 exactly (< margin): polylog only, even with kappa > 0 and a finite k_lo
    assert St._seeds_to_decide(1000, g(0.0, -0.25, 0.25), 0.5, 0.25, 0.5) == 250
    # xi < 0 with kappa > 0: polylog only (the polynomial option needs xi > 0): 1000 (1/0.5)^2 = 4000
    assert St._seeds_to_decide(1000, g(-0.25, -0.5, 0.75), 0.5, 0.375, 0.25) == 4000


# ------------------------------------------------------------------ slopes: OLS, within-group, contains

def test_ols_slopes_row_wise_with_intercepts():
    lx = np.array([1.0, 2.0, 3.0, 6.0])
    ly = np.array([1.0 + 2.0 * lx, np.full(4, 10.0), 5.0 - 0.5 * lx])
    slope, icpt = St._ols_slopes(lx, ly)
    assert slope == pytest.approx([2.0, 0.0, -0.5], abs=1e-12)
    assert icpt == pytest.approx([1.0, 10.0, 5.0], abs=1e-12)
    s1, i1 = St._ols_slopes(lx, ly[2])  # one row (1-D)
    assert float(s1) == pytest.approx(-0.5, abs=1e-12) and float(i1) == pytest.approx(5.0, abs=1e-12)
    # least squares, not interpolation: y = (0, 1, 0, 1) on x = 0..3 has slope 0.2, intercept 0.2
    s, i = St._ols_slopes(np.arange(4.0), np.array([0.0, 1.0, 0.0, 1.0]))
    assert float(s) == pytest.approx(0.2, abs=1e-12) and float(i) == pytest.approx(0.2, abs=1e-12)


def test_within_slope_removes_one_intercept_per_group():
    # two groups with intercepts 0 and 5 and a common slope 0.5; a second row with slope -1
    lx = np.array([0.0, 1.0, 2.0, 1.0, 2.0, 3.0])
    groups = np.array([0, 0, 0, 1, 1, 1])
    lr = np.vstack([np.where(groups == 0, 0.0, 5.0) + 0.5 * lx, np.where(groups == 0, 2.0, -3.0) - lx])
    assert St._within_slope(lx, lr, groups) == pytest.approx([0.5, -1.0], abs=1e-12)
    # pooled OLS (one intercept) would give another slope here: the group effect is removed
    assert float(St._ols_slopes(lx, lr[0])[0]) != pytest.approx(0.5, abs=1e-3)
    # small spread (sum of squares 0.02 < 1) is fine
    lx = np.array([0.0, 0.1, 0.2])
    assert St._within_slope(lx, (3.0 * lx)[None, :], np.zeros(3, int)) == pytest.approx([3.0], abs=1e-12)
    # a group with one member adds nothing; the slope comes from the other group
    lx = np.array([0.0, 1.0, 7.0])
    lr = np.array([[1.0, 3.0, -40.0]])
    assert St._within_slope(lx, lr, np.array([0, 0, 1])) == pytest.approx([2.0], abs=1e-12)


def test_within_slope_refuses_no_spread_within_groups():
    with refuses(esc("shape test: x must take at least two values within some group")):
        St._within_slope(np.array([0.0, 1.0]), np.array([[1.0, 2.0]]), np.array([0, 1]))
    with refuses(esc("shape test: x must take at least two values within some group")):
        St._within_slope(np.array([2.0, 2.0, 3.0, 3.0]), np.ones((1, 4)), np.array([0, 0, 1, 1]))


def _slope(low, high):
    return St.LoglogSlope(0.5 * (low + high), low, high, 0.0, 0.95, "median", (1.0, 2.0), (1.0, 1.0), 10)


def test_loglog_slope_contains_both_ends_and_validates():
    r = _slope(-0.5, -0.25)
    assert r.contains(-0.5) and r.contains(-0.25) and r.contains(-0.375)
    assert not r.contains(np.nextafter(-0.5, -1.0)) and not r.contains(np.nextafter(-0.25, 0.0))
    assert St.slope_test(r, -0.25) and not St.slope_test(r, 0.0)
    assert type(r.contains(-0.3)) is bool
    with refuses(esc("theoretical = nan is not allowed: must be a real number in [-inf, inf]")):
        r.contains(float("nan"))
    with refuses(esc("theoretical = 'a' is not allowed: must be a real number in [-inf, inf]")):
        St.slope_test(r, "a")
    with refuses(esc("result = float is not allowed: must be a LoglogSlope")):
        St.slope_test(0.5, 0.5)
    with refuses(esc("result = NoneType is not allowed: must be a LoglogSlope")):
        St.slope_test(None, 0.5)


# ------------------------------------------------------------------ statistic and seed arguments of the bootstraps

def test_statistic_names_and_quantiles():
    assert St._statistic("median") == (0.5, "median")
    assert St._statistic(0.9) == (0.9, "q0.9")
    with refuses(esc("statistic = 'mean' is not allowed: must be one of 'median'")):
        St._statistic("mean")
    for q in (0.0, 1.0):
        with refuses(esc(f"statistic = {q!r} is not allowed: must be a real number in (0.0, 1.0)")):
            St._statistic(q)


def test_rng_from_a_seed_or_a_generator():
    gen = np.random.default_rng(5)
    assert St._rng(gen) is gen
    assert St._rng(7).integers(0, 2**62, 4).tolist() == np.random.default_rng(7).integers(0, 2**62, 4).tolist()
    assert St._rng(0).integers(0, 2**62, 4).tolist() == np.random.default_rng(0).integers(0, 2**62, 4).tolist()
    with refuses(esc("seed = -1 is not allowed: must be an integer in [0, inf]")):
        St._rng(-1)
