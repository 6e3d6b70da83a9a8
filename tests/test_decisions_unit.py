"""Decision boundaries of the statistics layer (issue 14): each case sits on or next to the boundary of
a verdict, and its answer is computed here from the exact binomial / order-statistic formulas (math.comb,
closed forms), not by running the code under test. A `<` for `<=`, an off-by-one in a rank, a Bonferroni
for a Holm, a halved DKW constant or a loosened hidden-constant pattern each flip one of these."""
import math

import numpy as np
import pytest

from clipsim import stats as St
from clipsim.check import _high_prob
from theory import parse_expr


def types_ns(**kw):
    import types
    return types.SimpleNamespace(**kw)


def binom_sf(k, n, p):
    """P(Bin(n, p) >= k), exactly summed."""
    return sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k, n + 1))


def binom_cdf(k, n, p):
    return sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(0, k + 1))


# ------------------------------------------------------------------ Holm step-down

LEVEL = 0.05


def test_holm_rejects_at_exactly_alpha_over_m_and_steps_down():
    m = 3
    p = [LEVEL / 3, LEVEL / 2, LEVEL]  # p_(i) == level/(m-i+1): every one on its boundary, all rejected
    assert St.holm(p, LEVEL).tolist() == [True, True, True]
    # just above level/(m-1) for the second: the step-down stops there; the third is not reached
    p = [LEVEL / 3, LEVEL / 2 * (1 + 1e-9), 0.9 * LEVEL]
    # sorted: LEVEL/3 (<= LEVEL/3 yes), 0.9 LEVEL (> LEVEL/2: stop)
    assert St.holm(p, LEVEL).tolist() == [True, False, False]
    p = [LEVEL / 3 * (1 + 1e-9), 0.0, 1.0]
    # sorted: 0 (<= L/3), L/3(1+eps) (<= L/2), 1 (> L): two rejected
    assert St.holm(p, LEVEL).tolist() == [True, True, False]
    assert len(p) == m


def test_holm_is_step_down_not_step_up_or_bonferroni():
    # Hochberg (step-up) would reject all three here (0.04 <= 0.05); Holm rejects none (0.02 > 0.05/3)
    assert St.holm([0.02, 0.03, 0.04], LEVEL).tolist() == [False, False, False]
    # Bonferroni would reject only the first (0.024 > 0.05/3); Holm rejects both of the last two after it
    assert St.holm([0.01, 0.024, 0.049], LEVEL).tolist() == [True, True, True]
    # order of the input does not matter: results come back in input order
    assert St.holm([0.049, 0.01, 0.024], LEVEL).tolist() == [True, True, True]
    assert St.holm([0.5, LEVEL / 2], LEVEL).tolist() == [False, True]


def test_holm_single_test_boundary():
    assert St.holm([LEVEL], LEVEL).tolist() == [True]
    assert St.holm([LEVEL * (1 + 1e-12)], LEVEL).tolist() == [False]


# ------------------------------------------------------------------ violation p-values

@pytest.mark.parametrize("k,n,delta", [(0, 10, 0.1), (3, 10, 0.1), (10, 10, 0.1), (7, 40, 0.05), (1, 1, 0.5)])
def test_violation_pvalue_is_the_exact_binomial_tail(k, n, delta):
    assert St.violation_pvalue(k, n, delta) == pytest.approx(binom_sf(k, n, delta), rel=1e-10, abs=1e-15)
    assert St.violation_pvalue(k, n, delta, lower=True) == pytest.approx(binom_cdf(k, n, delta), rel=1e-10,
                                                                         abs=1e-15)


def test_violation_pvalue_zero_failures_is_one():
    assert St.violation_pvalue(0, 50, 0.01) == 1.0


# ------------------------------------------------------------------ family verdicts

CONF = 0.95
FAM_LEVEL = (1 - CONF) / 2  # one-sided error of each per-cell rule


def test_family_level_is_half_of_one_minus_confidence():
    fv = St.family_verdict([("a", "holds", 1.0)], CONF)
    assert fv.level == pytest.approx(FAM_LEVEL, rel=1e-15)


def test_family_violated_exactly_at_the_holm_boundary():
    members = [("a", "inconclusive", FAM_LEVEL / 2), ("b", "inconclusive", FAM_LEVEL)]
    fv = St.family_verdict(members, CONF)
    assert fv.verdict == "violated" and fv.violated == ("a", "b")
    members = [("a", "inconclusive", FAM_LEVEL / 2 * (1 + 1e-9)), ("b", "inconclusive", FAM_LEVEL)]
    fv = St.family_verdict(members, CONF)
    assert fv.verdict == "inconclusive" and fv.violated == ()
    assert (fv.n_holds, fv.n_inconclusive, fv.n_members) == (0, 2, 2)


def test_family_holds_is_intersection_union():
    # every member holds at its own level: the family holds with no correction
    fv = St.family_verdict([(str(i), "holds", 1.0) for i in range(50)], CONF)
    assert fv.verdict == "holds" and fv.n_holds == 50 and fv.n_inconclusive == 0
    # one member short of holding makes the family inconclusive (not holds, not violated)
    fv = St.family_verdict([(str(i), "holds", 1.0) for i in range(49)] + [("x", "inconclusive", 0.5)], CONF)
    assert fv.verdict == "inconclusive" and (fv.n_holds, fv.n_inconclusive) == (49, 1)


def test_family_member_without_pvalue_never_violated():
    fv = St.family_verdict([("a", "violated", None), ("b", "holds", 1.0)], CONF)
    assert fv.verdict == "inconclusive" and fv.violated == ()
    assert fv.n_inconclusive == 1  # "a" neither holds nor is violated after the correction


def test_family_per_cell_violation_not_enough_after_holm():
    # 4 members each with p = 0.02 < 0.025 (violated alone) but 0.02 > 0.025/4: the family is not violated
    fv = St.family_verdict([(str(i), "violated", 0.02) for i in range(4)], CONF)
    assert fv.verdict == "inconclusive"
    with pytest.raises(ValueError, match="members must not be empty"):
        St.family_verdict([], CONF)


# ------------------------------------------------------------------ per-cell verdict boundaries

def cp_high_zero(n, conf=CONF):
    """Clopper-Pearson upper end for k = 0: 1 - (a/2)^(1/n)."""
    return 1 - ((1 - conf) / 2) ** (1 / n)


def test_min_seeds_to_certify_closed_form():
    for delta in (0.1, 0.05, 0.01, 1e-3):
        n = St.min_seeds_to_certify(delta, CONF)
        assert n == math.ceil(math.log(0.025) / math.log(1 - delta))
        assert cp_high_zero(n) <= delta < cp_high_zero(n - 1)
    assert St.min_seeds_to_certify(0.05, CONF) == 72  # log(0.025)/log(0.95) = 71.9


def test_zero_failures_holds_at_n_min_and_not_one_seed_earlier():
    delta, n = 0.05, 72
    for n_seeds, want in ((n, "holds"), (n - 1, "inconclusive")):
        Q = np.zeros(n_seeds)
        verdict, why, *_ = _high_prob(Q, np.zeros(n_seeds, bool), 1.0, delta, CONF, False)
        assert verdict == want, (n_seeds, why)
    assert "cannot certify" in _high_prob(np.zeros(n - 1), np.zeros(n - 1, bool), 1.0, delta, CONF, False)[1]


def test_holds_boundary_is_inclusive_at_the_interval_upper_end():
    """'holds' iff CP high <= delta: delta exactly at the upper end holds, a hair below does not."""
    n = 200
    hi = St.clopper_pearson(0, n, CONF)[1]
    assert hi == pytest.approx(cp_high_zero(n), rel=1e-12)  # the interval is the closed form
    cells = [St.Cell(np.zeros(n), 1.0)]
    assert St.test_calibrated(1.0, cells, hi, CONF).verdict == "holds"
    assert St.test_calibrated(1.0, cells, hi * (1 - 1e-9), CONF).verdict == "inconclusive"
    Q, div = np.zeros(n), np.zeros(n, bool)
    assert _high_prob(Q, div, 1.0, hi, CONF, False)[0] == "holds"
    assert _high_prob(Q, div, 1.0, hi * (1 - 1e-9), CONF, False)[0] == "inconclusive"


def test_violated_boundary_is_strict_at_the_interval_lower_end():
    """'violated' iff CP low > delta: delta exactly at the low end is not violated."""
    n, k = 100, 20
    lo = St.clopper_pearson(k, n, CONF)[0]
    Q = np.r_[np.full(k, 2.0), np.zeros(n - k)]
    div = np.zeros(n, bool)
    assert _high_prob(Q, div, 1.0, lo, CONF, False)[0] == "inconclusive"
    assert _high_prob(Q, div, 1.0, lo * (1 - 1e-9), CONF, False)[0] == "violated"
    cells = [St.Cell(Q, 1.0)]
    assert St.test_calibrated(1.0, cells, lo, CONF).cells[0].verdict == "inconclusive"
    assert St.test_calibrated(1.0, cells, lo * (1 - 1e-9), CONF).cells[0].verdict == "violated"


def test_a_value_equal_to_the_bound_is_not_a_failure_but_diverged_is():
    n = 100
    fp = St.failure_probability(np.ones(n), 1.0)
    assert fp.k == 0  # Q > B fails, Q == B does not
    fp = St.failure_probability(np.r_[np.ones(n - 2), np.inf, np.nan], 1.0)
    assert (fp.k, fp.n_diverged) == (2, 2)
    fp = St.failure_probability(np.ones(n), 1.0, diverged=np.r_[True, np.zeros(n - 1, bool)])
    assert fp.k == 1


def test_lower_bound_boundaries():
    """Lower bound 'P(Q >= B) >= delta': holds iff CP low >= delta, violated iff CP high < delta; Q == B counts."""
    n, k = 100, 30
    Q = np.r_[np.ones(k), np.zeros(n - k)]  # exactly k seeds with Q == B = 1
    div = np.zeros(n, bool)
    lo, hi = St.clopper_pearson(k, n, CONF)
    assert _high_prob(Q, div, 1.0, lo, CONF, True)[0] == "holds"
    assert _high_prob(Q, div, 1.0, lo * (1 + 1e-9), CONF, True)[0] == "inconclusive"
    assert _high_prob(Q, div, 1.0, hi, CONF, True)[0] == "inconclusive"
    assert _high_prob(Q, div, 1.0, hi * (1 + 1e-9), CONF, True)[0] == "violated"


# ------------------------------------------------------------------ order statistics and calibration

def upper_rank(n, q, a):
    """Smallest u with P(Bin(n, q) >= u) <= a/2 (1-based), n + 1 if none."""
    for u in range(n + 1):
        if binom_sf(u, n, q) <= a / 2:
            return u
    return n + 1


def lower_rank(n, q, a):
    """Largest l with P(Bin(n, q) < l) <= a/2, 0 if none."""
    return max([l for l in range(1, n + 1) if binom_cdf(l - 1, n, q) <= a / 2], default=0)


@pytest.mark.parametrize("n,q", [(100, 0.9), (50, 0.5), (72, 0.95), (71, 0.95), (400, 0.99)])
def test_quantile_ci_ranks_match_the_exact_binomial(n, q):
    x = np.arange(1.0, n + 1)  # X_(i) = i
    ci = St.quantile_ci(x[::-1], q, CONF)
    u, l = upper_rank(n, q, 1 - CONF), lower_rank(n, q, 1 - CONF)
    assert ci.high == (u if u <= n else math.inf)
    assert ci.low == (l if l >= 1 else -math.inf)
    assert ci.estimate == math.ceil(n * q - 1e-12)


def test_calibrated_constant_is_the_largest_upper_rank_ratio():
    n, delta = 100, 0.1
    u = upper_rank(n, 1 - delta, 1 - CONF)
    a, b = np.arange(1.0, n + 1), 10 * np.arange(1.0, n + 1)
    cal = St.calibrate_constant([St.Cell(a, 2.0, "a"), St.Cell(b, 4.0, "b")], delta, CONF)
    assert cal.C == pytest.approx(10 * u / 4.0, rel=1e-15) and cal.binding == "b"
    assert dict(cal.per_cell)["a"] == pytest.approx(u / 2.0, rel=1e-15)
    # too few seeds for an upper order statistic: C = inf
    few = St.min_seeds_to_certify(delta, CONF) - 1
    assert St.calibrate_constant([St.Cell(np.ones(few), 1.0)], delta, CONF).C == math.inf


# ------------------------------------------------------------------ DKW / Anderson lower bound of a mean

@pytest.mark.parametrize("n", [10, 100, 1000])
def test_dkw_low_end_uses_massart_constant(n):
    """All values 1 on support [0, inf): E Q >= 1 - eps with eps = sqrt(log(2/a) / (2n)) exactly."""
    mb = St.mean_bounds(np.ones(n), CONF, lower_support=0.0, n_boot=10)
    eps = math.sqrt(math.log(2 / (1 - CONF)) / (2 * n))
    assert mb.low == pytest.approx(max(1 - eps, 0.0), rel=1e-12, abs=1e-15)
    assert mb.estimate == 1.0


def test_dkw_low_end_two_point_distribution():
    # half 0, half 2 on [0, inf): low = 0 + (1 - eps)(0 - 0) + max(1/2 - eps, 0) (2 - 0)
    n = 400
    eps = math.sqrt(math.log(40) / (2 * n))
    mb = St.mean_bounds(np.r_[np.zeros(n // 2), np.full(n // 2, 2.0)], CONF, lower_support=0.0, n_boot=10)
    assert mb.low == pytest.approx(2 * (0.5 - eps), rel=1e-12)


# ------------------------------------------------------------------ hidden-constant names

@pytest.mark.parametrize("name", ["C", "C_opt", "C_1", "C_a_b", "C_Lip2"])
def test_hidden_constant_names_accepted(name):
    expr, hidden = parse_expr(f"{name} * T**(-1/2)")
    assert [h.name for h in hidden] == [name]
    assert hidden[0].is_positive


@pytest.mark.parametrize("name", ["Cx", "C_", "cC", "C1", "xC_opt", "CC", "Copt"])
def test_near_miss_hidden_constant_names_rejected(name):
    with pytest.raises(ValueError, match=f"unknown name '{name}'"):
        parse_expr(f"{name} * T")


# ------------------------------------------------------------------ sequential test seed stream

def test_sequential_batches_cover_contiguous_disjoint_seeds():
    calls = []

    def sample(start, count):
        calls.append((start, count))
        return np.zeros(count)

    out = St.sequential_failure_test(sample, 1.0, 0.01, batch=70, max_seeds=1000, confidence=CONF,
                                     method="betabinomial")
    starts = [s for s, _ in calls]
    assert starts == [sum(c for _, c in calls[:i]) for i in range(len(calls))]  # never reuse a seed
    assert sum(c for _, c in calls) == out.n and out.n <= 1000
    assert all(c == 70 for _, c in calls[:-1])


def test_sequential_last_batch_is_trimmed_to_the_budget():
    calls = []

    def sample(start, count):
        calls.append((start, count))
        return np.full(count, 0.5)  # p = 0 ... but delta so small nothing decides before the budget

    out = St.sequential_failure_test(sample, 1.0, 1e-6, batch=40, max_seeds=100, confidence=CONF,
                                     method="bonferroni")
    assert calls == [(0, 40), (40, 40), (80, 20)]
    assert (out.decision, out.n, out.looks, out.max_looks) == ("inconclusive", 100, 3, 3)


def test_sequential_stops_at_first_decisive_look():
    # every value fails: p = 1 > delta; a Bonferroni CP low end over K = 10 looks exceeds 0.5 after
    # the first batch of 20 (CP low for 20/20 at level 1 - 0.05/10 is (0.0025)^(1/20) = 0.74)
    calls = []
    out = St.sequential_failure_test(lambda s, c: calls.append((s, c)) or np.full(c, 2.0), 1.0, 0.5,
                                     batch=20, max_seeds=200, confidence=CONF, method="bonferroni")
    assert out.decision == "violated" and calls == [(0, 20)]
    assert out.low == pytest.approx((0.05 / 10 / 2) ** (1 / 20), rel=1e-9)


# ------------------------------------------------------------------ δ-growth decisions at the margin

DELTAS = [0.1, 0.03, 0.01, 0.003]


@pytest.fixture(scope="module")
def exp_growth():
    x = np.random.default_rng(11).exponential(size=2000)
    return x, St.delta_growth(DELTAS, x, n_boot=100, margin=0.1)


def test_delta_growth_polylog_boundary_is_inclusive_at_the_margin(exp_growth):
    """'polylog' iff the GPD shape interval's upper end <= margin; the interval does not depend on margin."""
    x, g = exp_growth
    xi_high = g.gpd.xi_high
    assert g.gpd.xi_low <= 0 < xi_high < 0.5  # exponential: shape 0 inside its interval
    at = St.delta_growth(DELTAS, x, n_boot=100, margin=xi_high)
    assert at.decision == "polylog" and at.gpd.xi_high == xi_high
    below = St.delta_growth(DELTAS, x, n_boot=100, margin=float(np.nextafter(xi_high, -1)))
    assert below.decision == "inconclusive"
    # seeds that would decide: n ((xi_high - xi) / (margin - xi))^2 when the estimate is below the margin
    m, xi = below.margin, below.gpd.xi
    assert xi < m and below.seeds_to_decide == math.ceil(2000 * ((xi_high - xi) / (m - xi)) ** 2)


def test_delta_growth_polynomial_needs_both_lower_ends_positive():
    x = np.random.default_rng(12).pareto(2.0, size=2000) + 1.0  # Pareto index 2: xi = 1/2
    g = St.delta_growth(DELTAS, x, n_boot=100)
    assert (g.decision == "polynomial") == (g.kappa_low > 0 and g.gpd.xi_low > 0)
    assert g.decision != "polylog"


# ------------------------------------------------------------------ exit codes

def _rate(slope, theory, tol):
    from clipsim.decisions import RateRow

    fit = St.LoglogSlope(slope, slope - 0.1, slope + 0.1, 0.0, 0.95, "median", (1, 2), (1.0, 1.0), 10)
    return RateRow("all", "n_steps", fit, theory, tol)


def test_rate_within_tolerance_boundary_is_inclusive():
    assert _rate(-0.5 + 0.25, -0.5, 0.25).within  # |slope - theory| == tolerance (exact in binary)
    assert not _rate(-0.5 + 0.25 + 2 ** -20, -0.5, 0.25).within


def test_exit_codes_follow_the_family_and_rates():
    from clipsim.decisions import exit_code

    holds = St.family_verdict([("a", "holds", 1.0)], CONF)
    unsure = St.family_verdict([("a", "inconclusive", 0.5)], CONF)
    bad = St.family_verdict([("a", "violated", 0.0)], CONF)
    assert exit_code([{"family": holds}]) == 0
    assert exit_code([{"family": unsure}]) == 3
    assert exit_code([{"family": bad}, {"family": unsure}]) == 1
    assert exit_code([{"family": holds, "rates": [_rate(-0.5, -0.5, 0.05)]}]) == 0
    assert exit_code([{"family": holds, "rates": [_rate(-0.2, -0.5, 0.05)]}]) == 1
    assert exit_code([{"family": None, "rates": [_rate(-0.2, -0.5, 0.05)]}, {"family": unsure}]) == 1


# ------------------------------------------------------------------ check(): expectation rules, validity, calibration

def _result(Q, diverged=None):
    import types
    metrics = {"avg_grad_sq": np.asarray(Q, float)}
    if diverged is not None:
        metrics["diverged"] = np.asarray(diverged, bool)
    return types.SimpleNamespace(metrics=metrics)


def _bound(kind="expectation", expr="C * T**(-1/2)", **kw):
    from theory import parse_bound
    return parse_bound(expr, name="b", quantity="avg_grad_sq", kind=kind, **kw)


def dkw_low_of_constant(n, conf=CONF):
    """DKW/Massart lower bound on the mean of n seeds all equal to 1 (support [0, inf)): 1 - eps."""
    return 1.0 - math.sqrt(math.log(2 / (1 - conf)) / (2 * n))


def test_expectation_verdicts_at_both_ends_of_the_mean_interval():
    from clipsim.check import check
    n, T = 100, 100.0
    low = dkw_low_of_constant(n)
    res = _result(np.ones(n))  # every bootstrap mean is exactly 1: the upper end is 1
    at = lambda B: check(_bound(), res, C=B * math.sqrt(T), T=T)  # noqa: E731  (B = C T^(-1/2))
    assert at(1.0).verdict == "holds" and at(1.0).high == 1.0            # upper end == B: holds
    assert at(1.0 - 1e-9).verdict == "inconclusive"
    assert at(low).verdict == "inconclusive" and at(low).low == pytest.approx(low, rel=1e-12)
    assert at(low * (1 - 1e-9)).verdict == "violated"                    # lower end > B
    assert at(low * (1 - 1e-9)).reason.startswith("the mean's lower bound exceeds B (low end distribution-free")
    lower = _bound(kind="lower_bound")
    at_l = lambda B: check(lower, res, C=B * math.sqrt(T), T=T)  # noqa: E731
    assert at_l(low).verdict == "holds" and at_l(low).reason == "" and at_l(low * (1 + 1e-9)).verdict == "inconclusive"
    assert at_l(1.0).verdict == "inconclusive" and at_l(1.0 + 1e-9).verdict == "violated"
    assert at_l(1.0 + 1e-9).reason == ("the mean's upper bound is below B (low end distribution-free (DKW), "
                                       "high end bootstrap)")


def test_validity_conditions_make_the_verdict_inconclusive():
    from clipsim.check import check
    b = _bound(valid_when=["T >= 10"])
    res = _result(np.ones(100))
    ok = check(b, res, C=100.0, T=100.0)
    assert ok.verdict == "holds" and [(c.relation, c.status) for c in ok.conditions] == [("T >= 10", "ok")]
    bad = check(b, res, C=100.0, T=5.0)
    assert bad.verdict == "inconclusive" and [c.status for c in bad.conditions] == ["violated"]
    assert bad.reason.startswith("validity condition T >= 10 violated (false at T=5); evidence alone: holds")
    two = check(_bound(valid_when=["T >= 10", "T >= 20"]), res, C=100.0, T=5.0)
    assert two.reason.startswith("validity condition T >= 10 violated (false at T=5) and 1 more; evidence alone:")


@pytest.mark.parametrize("alpha, tail, status", [
    (1.4, 1.5, "ok"), (1.5, 1.5, "violated"), (2.0, math.inf, "ok"), (2.0, 2.0, "violated")])
def test_alpha_below_the_tail_index_condition(alpha, tail, status):
    """A bounded alpha-th moment needs alpha < tail index (alpha = 2 is allowed for light tails)."""
    from clipsim.check import _conditions
    conds = _conditions(_bound(expr="C * T**(-1/2) * alpha"), {"alpha": alpha, "tail_index": tail, "T": 1.0})
    assert [(c.relation, c.status) for c in conds] == [("alpha < tail_index", status)]


def test_calibration_uses_the_first_half_and_checks_the_second():
    from clipsim.check import check
    n = 100
    Q = np.r_[np.full(n // 2, 4.0), np.ones(n // 2)]  # calibration half 4, checked half 1
    r = check(_bound(), _result(Q), calibrate=True, T=100.0)
    assert r.n_seeds == n // 2 and r.calibrated["C"] == pytest.approx(4.0 * 10.0, rel=1e-12)
    assert r.verdict == "holds" and r.reason.endswith("C calibrated on seeds [0, 50), checked on [50, 100)")
    with pytest.raises(ValueError, match=r"^b: calibrate=True splits the seeds in half: 3 seeds are too few$"):
        check(_bound(), _result(np.ones(3)), calibrate=True, T=100.0)


def test_check_refusals_name_what_is_wrong():
    from clipsim.check import check
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)")
    res = _result(np.ones(10))
    with pytest.raises(ValueError, match=r"^b: delta = None is not allowed: the bound holds w\.p\. 1 - delta; pass delta"):
        check(hp, res, C=1.0, T=1.0)
    with pytest.raises(ValueError, match=r"^b: delta = 0\.1 is not allowed: the bound \(expectation\) has no delta symbol$"):
        check(_bound(), res, 0.1, C=1.0, T=1.0)
    with pytest.raises(ValueError, match=r"^b: hidden constant\(s\) C have no value: pass C=\.\.\."):
        check(_bound(), res, T=1.0)
    with pytest.raises(ValueError, match=r"^metrics\['diverged'\] has shape \(3,\): must match \(10,\)$"):
        check(_bound(), _result(np.ones(10), diverged=[0, 0, 0]), C=1.0, T=1.0)
    r = check(_bound(), _result(np.r_[np.ones(9), np.inf]), C=1.0, T=1.0)
    assert (r.n_diverged, r.high) == (1, math.inf)  # a non-finite value counts as diverged


def test_summary_lines():
    """The one-line summaries (what `clipsim check` prints). CP 95% of 5/100: [0.0164, 0.113]; of 100/100:
    [0.964, 1] (closed forms); the DKW low end of 100 (50) constant seeds: 0.8642 (0.8079)."""
    import types
    from clipsim.check import check
    from theory import parse_bound
    ones = _result(np.ones(100))
    assert check(_bound(), ones, C=10.0, T=100.0).summary() == (
        "b [expectation] HOLDS: mean = 1 (95% CI [0.8642, 1]) <=? B = 1, ratio 1; 100 seeds, 0 diverged; "
        "upper end by bootstrap (low end distribution-free (DKW), high end bootstrap)")
    hp = parse_bound("C * log(1/delta) * T**(-1/2)", name="h", quantity="avg_grad_sq", kind="high_probability")
    res = types.SimpleNamespace(metrics={"avg_grad_sq": np.r_[np.full(5, 3.0), np.ones(95)],
                                         "diverged": np.r_[True, np.zeros(99, bool)]})
    r = check(hp, res, 0.1, C=10 / math.log(10), T=100.0)
    assert str(r) == r.summary() == (
        "h [high_probability] INCONCLUSIVE: P(avg_grad_sq > B=1) = 5/100 (95% CI [0.0164, 0.113]) vs delta=0.1; "
        "q_(1-0.1) = 1 (95% CI [1, 3]) <=? B = 1, ratio 1; 100 seeds, 1 diverged; "
        "the failure probability's CI contains delta = 0.1")
    lb = parse_bound("C * log(1/delta) * T**(-1/2)", name="l", quantity="avg_grad_sq", kind="lower_bound")
    assert check(lb, ones, 0.5, C=10 / math.log(2), T=100.0).summary() == (
        "l [lower_bound] HOLDS: P(avg_grad_sq >= B=1) = 100/100 (95% CI [0.964, 1]) vs delta=0.5; "
        "q_(1-0.5) = 1 (95% CI [1, 1]) >=? B = 1, ratio 1; 100 seeds, 0 diverged")
    cal = check(_bound(), _result(np.r_[np.full(50, 4.0), np.ones(50)]), calibrate=True, T=100.0)
    assert cal.summary() == (
        "b [expectation] HOLDS: mean = 1 (95% CI [0.8079, 1]) <=? B = 4, ratio 0.25; 50 seeds, 0 diverged; "
        "calibrated C=40; upper end by bootstrap (low end distribution-free (DKW), high end bootstrap); "
        "C calibrated on seeds [0, 50), checked on [50, 100)")


def test_check_input_refusals_are_exact():
    import types
    from clipsim.check import check
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)")
    res = _result(np.ones(100))
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"^delta = {bad} is not allowed: must be a real number in \(0\.0, 1\.0\)$"):
            check(hp, res, bad, C=1.0, T=1.0)
    assert check(hp, res, 0.999, C=1.0, T=1.0).delta == 0.999
    for name, kw, msg in (("confidence", {"confidence": 1.0}, r"confidence = 1\.0 is not allowed"),
                          ("n_boot", {"n_boot": 0}, r"n_boot = 0 is not allowed: must be an integer in \[1, 1000000\]")):
        with pytest.raises(ValueError, match="^" + msg):
            check(_bound(), res, C=1.0, T=1.0, **kw)
    tail = parse_bound_q("tail_probability")
    with pytest.raises(ValueError) as e:
        check(tail, res, C=1.0, T=1.0)
    assert str(e.value) == ("t: quantity 'tail_probability' is not a metric of the result (its value is a probability: "
                            "compare clipsim.stats.failure_probability(values, eps) with bound.evaluate(...)); "
                            "metrics: avg_grad_sq")
    with pytest.raises(ValueError) as e:
        check(parse_bound_q("final_gap"), _result(np.ones(5), diverged=np.zeros(5)), C=1.0, T=1.0)
    assert str(e.value) == "t: quantity 'final_gap' is not a metric of the result; metrics: avg_grad_sq, diverged"
    with pytest.raises(ValueError, match=r"^metrics\['avg_grad_sq'\] has shape \(2, 2\): must be \(n_seeds,\) with n_seeds >= 1$"):
        check(_bound(), _result(np.ones((2, 2))), C=1.0, T=1.0)
    with pytest.raises(ValueError, match=r"^metrics\['avg_grad_sq'\] has shape \(0,\)"):
        check(_bound(), _result(np.ones(0)), C=1.0, T=1.0)
    with pytest.raises(ValueError, match=r"^result = SimpleNamespace is not allowed: must have a \.metrics dict$"):
        check(_bound(), types.SimpleNamespace(metrics=[1]), C=1.0, T=1.0)
    with pytest.raises(ValueError, match=r"^bound = 3 is not allowed: must be a theory\.Bound \(no \.name\)$"):
        check(3, res)
    # a (10, 1) diverged array is flattened, not refused
    assert check(_bound(), _result(np.ones(10), diverged=np.zeros((10, 1))), C=10.0, T=100.0).n_diverged == 0


def parse_bound_q(quantity):
    from theory import parse_bound
    return parse_bound("C * T**(-1/2)", name="t", quantity=quantity, kind="expectation")


def test_symmetric_noise_bounds_refuse_asymmetric_runs_only():
    import dataclasses
    import types
    from clipsim.check import check
    b = dataclasses.replace(_bound(), symmetric_noise=True)
    for noise, refused in ((types.SimpleNamespace(symmetric=False), True), (types.SimpleNamespace(symmetric=True), False),
                           (None, False)):
        res = types.SimpleNamespace(metrics={"avg_grad_sq": np.ones(100)}, noise=noise)
        if refused:
            with pytest.raises(ValueError, match=r"^b is proved for symmetric noise only; this run's noise namespace"
                                                 r"\(symmetric=False\) is asymmetric: check it on symmetric noise, "
                                                 "or use a bound without that assumption$"):
                check(b, res, C=10.0, T=100.0)
        else:
            assert check(b, res, C=10.0, T=100.0).verdict == "holds"
    plain = types.SimpleNamespace(metrics={"avg_grad_sq": np.ones(100)}, noise=types.SimpleNamespace(symmetric=False))
    assert check(_bound(), plain, C=10.0, T=100.0).verdict == "holds"


def test_bound_defaults_apply_unless_a_value_is_given():
    from clipsim.check import check
    from theory import parse_bound
    b = parse_bound("C * q * T**(-1/2)", name="d", quantity="avg_grad_sq", kind="expectation",
                    extra_symbols=["q"], defaults={"q": 2.0})
    res = _result(np.ones(100))
    assert check(b, res, C=10.0, T=100.0).bound_value == 2.0
    assert check(b, res, C=10.0, T=100.0, q=3.0).bound_value == 3.0


def test_high_probability_evidence_fields():
    """The failure-probability record and the quantile interval check reports, at exact counts."""
    from clipsim.check import check
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)")
    n, k = 100, 5
    Q = np.r_[np.full(k, 3.0), np.ones(n - k)]
    div = np.r_[np.zeros(n - 1, bool), True]  # one diverged seed among the ones: 6 failures
    r = check(hp, _result(Q, div), 0.1, C=10 / math.log(10), T=100.0)
    lo, hi = St.clopper_pearson(k + 1, n, CONF)
    f = r.failure
    assert (f.k, f.n, f.n_diverged, f.estimate, f.low, f.high) == (k + 1, n, 1, (k + 1) / n, lo, hi)
    qci = St.quantile_ci(np.where(div, np.inf, Q), 0.9, CONF)
    assert (r.statistic, r.estimate, r.low, r.high) == ("q_(1-0.1)", qci.estimate, qci.low, qci.high)
    lower = _bound(kind="lower_bound", expr="C * log(1/delta) * T**(-1/2)")
    r = check(lower, _result(Q, div), 0.05, C=1 / math.log(20), T=1.0)    # B = 1: Q >= B for all 100
    f = r.failure
    assert (f.k, f.n, f.n_diverged, f.estimate, f.confidence, f.threshold) == (n, n, 1, 1.0, CONF, 1.0)
    assert (f.low, f.high) == St.clopper_pearson(n, n, CONF) and r.verdict == "holds" and r.reason == ""
    assert r.statistic == "q_(1-0.05)"


def test_enough_seeds_but_a_failure_is_not_called_too_few_seeds():
    delta, n = 0.05, 72  # exactly the fewest seeds that can certify; one failure: the CI contains delta
    Q = np.r_[2.0, np.zeros(n - 1)]
    verdict, why, *_ = _high_prob(Q, np.zeros(n, bool), 1.0, delta, CONF, False)
    assert (verdict, why) == ("inconclusive", "the failure probability's CI contains delta = 0.05")
    assert _high_prob(np.zeros(n), np.zeros(n, bool), 1.0, delta, CONF, False)[:2] == ("holds", "")


@pytest.mark.parametrize("Q, div, how", [
    ([0.0] * 50, None, "low end distribution-free (DKW), high end bootstrap"),     # min 0: support [0, inf)
    ([0.5] * 50, None, "low end distribution-free (DKW), high end bootstrap"),
    ([-5.0] + [1.0] * 49, [True] + [False] * 49, "low end distribution-free (DKW), high end bootstrap"),
    ([-1.0] + [1.0] * 49, None, "both ends bootstrap (quantity takes negative values)"),
])
def test_mean_interval_method_follows_the_sign_of_the_finite_values(Q, div, how):
    from clipsim.check import check
    r = check(_bound(), _result(Q, div), C=1e-6, T=1.0)  # B tiny: every case is 'violated' or inconclusive
    assert r.statistic == "mean" and r.reason.endswith(f"({how})")
    if div is not None:
        assert r.n_diverged == 1 and r.high == math.inf  # a flagged seed is +inf whatever its value


def test_conditions_unknown_sorted_and_only_for_alpha_bounds():
    from clipsim.check import _conditions
    b = _bound(valid_when=["q < T", "T >= 10"], extra_symbols=["q"])
    conds = _conditions(b, {"T": 5.0, "q": 7.0})
    assert [(c.relation, c.status, c.detail) for c in conds] == [
        ("q < T", "violated", "false at T=5, q=7"), ("T >= 10", "violated", "false at T=5")]
    conds = _conditions(b, {"T": 50.0})
    assert [(c.status, c.detail) for c in conds] == [("unknown", "no value for q"), ("ok", "")]
    arr = _conditions(b, {"T": np.array([5.0, 50.0]), "q": 7.0})
    assert [(c.status, c.detail) for c in arr] == [("violated", "false at T, q=7"), ("violated", "false at T")]
    no_alpha = _bound()
    assert _conditions(no_alpha, {"alpha": 1.9, "tail_index": 1.5}) == ()
    with_alpha = _bound(expr="C * T**(-1/2) * alpha")
    assert _conditions(with_alpha, {"alpha": 1.9}) == ()  # no tail index known: no condition
    (c,) = _conditions(with_alpha, {"alpha": 1.9, "tail_index": 1.5})
    assert c.detail == "alpha = 1.9 >= tail_index = 1.5: the noise has no finite alpha-th moment"


def test_theory_values_of_the_result_are_used_with_alpha_when_given():
    import types
    from clipsim.check import check
    calls = []

    def tv(alpha=None):
        calls.append(alpha)
        return {"T": 100.0}
    res = types.SimpleNamespace(metrics={"avg_grad_sq": np.ones(100)}, theory_values=tv)
    assert check(_bound(), res, C=10.0).bound_value == 1.0 and calls == [None]
    assert check(_bound(expr="C * T**(-1/2) * alpha"), res, C=10.0, alpha=1.5).bound_value == 1.5
    assert calls == [None, 1.5]
    plain = types.SimpleNamespace(metrics={"avg_grad_sq": np.ones(100)}, theory_values=lambda: {"T": 100.0})
    assert check(_bound(expr="C * T**(-1/2) * alpha"), plain, C=10.0, alpha=1.5).bound_value == 1.5


def test_check_confidence_and_kind_are_validated():
    from clipsim.check import check
    res = _result(np.ones(100))
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError) as e:
            check(_bound(), res, C=10.0, T=100.0, confidence=bad)
        assert str(e.value) == f"confidence = {bad} is not allowed: must be a real number in (0.0, 1.0)"
    r = check(_bound(), res, C=10.0, T=100.0, confidence=0.5)
    assert r.confidence == 0.5 and r.calibrated == {} and r.values["T"] == 100.0
    odd = _bound()
    object.__setattr__(odd, "kind", "bogus")  # a Bound refuses it when built; check() refuses it too
    with pytest.raises(ValueError, match=r"^bound\.kind = 'bogus' is not allowed: must be one of 'expectation'"):
        check(odd, res, C=10.0, T=100.0)


def test_high_probability_calibration_uses_the_order_statistic_of_the_first_half():
    from clipsim.check import check
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)")
    n, delta, T = 200, 0.1, 100.0
    Q = np.r_[np.arange(1.0, 101.0), np.full(100, 0.5)]
    div = np.zeros(n, bool)
    div[0] = True  # the smallest calibration value is flagged: it counts as +inf
    r = check(hp, _result(Q, div), delta, calibrate=True, T=T)
    B0 = math.log(1 / delta) / math.sqrt(T)
    Qc = np.where(div[:100], np.inf, Q[:100])
    assert r.calibrated["C"] == St.calibrate_constant([St.Cell(Qc, B0)], delta, CONF).C
    assert r.verdict == "holds" and r.reason == "C calibrated on seeds [0, 100), checked on [100, 200)"
    assert r.summary().endswith(f"; calibrated C={r.calibrated['C']:.4g}; C calibrated on seeds [0, 100), "
                                "checked on [100, 200)")


def test_expectation_calibration_passes_its_bootstrap_settings():
    from clipsim.check import check
    rng = np.random.default_rng(3)
    Q = np.r_[rng.exponential(size=50), np.full(50, 0.01)]
    r = check(_bound(), _result(Q), calibrate=True, T=100.0, n_boot=500, seed=3)
    want = St.mean_bounds(Q[:50], CONF, n_boot=500, seed=3, lower_support=None).high / 0.1
    assert r.calibrated["C"] == want


@pytest.mark.parametrize("Q, msg", [
    (np.zeros(40), "b: calibration of C on 20 seeds gave 0.0; more seeds needed"),
    (np.ones(38), "b: calibration of C on 19 seeds gave inf; more seeds needed"),  # a bootstrap end needs 20
    (np.r_[np.full(5, np.inf), np.ones(5)], "b: calibration of C on 5 seeds gave inf; more seeds needed"),
])
def test_calibration_that_gives_no_positive_finite_constant_is_refused(Q, msg):
    from clipsim.check import check
    with pytest.raises(ValueError) as e:
        check(_bound(), _result(Q), calibrate=True, T=100.0)
    assert str(e.value) == msg


def test_calibration_edges_and_refusals():
    from clipsim.check import check
    # fewer than 4 seeds cannot be split (and an expectation bound's calibration needs 2 x 20: above)
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)")
    with pytest.raises(ValueError, match="splits the seeds in half: 3 seeds are too few"):
        check(hp, _result(np.ones(3)), 0.5, calibrate=True, T=100.0)
    assert check(_bound(), _result(np.full(40, 0.01)), calibrate=True, T=100.0).calibrated["C"] == pytest.approx(0.1)
    with pytest.raises(ValueError) as e:
        check(_bound(), _result(np.ones(10)), T=100.0)
    assert str(e.value) == ("b: hidden constant(s) C have no value: pass C=... (e.g. fitted with "
                            "clipsim.stats.calibrate_constant on calibration cells) or calibrate=True")
    two = _bound(expr="C * T**(-1/2) + C_2")
    with pytest.raises(ValueError) as e:
        check(two, _result(np.ones(10)), calibrate=True, T=100.0)
    assert str(e.value) == "b: calibrate=True fits one hidden constant; C, C_2 have no value"
    with pytest.raises(ValueError) as e:
        check(_bound(expr="C * T**(-1/2) + C**2"), _result(np.ones(10)), calibrate=True, T=100.0)
    assert str(e.value) == "b: calibrate=True needs the bound to be C times a C-free expression"


def test_condition_reason_with_an_empty_evidence_reason_and_integer_diverged_flags():
    from clipsim.check import check
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)", valid_when=["T >= 10"])
    r = check(hp, _result(np.zeros(100)), 0.1, C=1.0, T=5.0)
    assert r.reason == "validity condition T >= 10 violated (false at T=5); evidence alone: holds"
    assert check(hp, _result(np.zeros(100)), 0.1, C=1.0, T=50.0).summary().endswith("100 seeds, 0 diverged")
    flags = np.zeros(100, int)
    flags[3] = 1
    assert check(_bound(), _result(np.ones(100), flags), C=10.0, T=100.0).n_diverged == 1


def test_a_non_default_confidence_reaches_every_interval():
    """At 80% confidence (a = 0.2) every interval check reports is the 80% one."""
    from clipsim.check import check
    conf, n = 0.8, 100
    hp = _bound(kind="high_probability", expr="C * log(1/delta) * T**(-1/2)")
    Q = np.r_[np.full(5, 3.0), np.ones(n - 5)]
    r = check(hp, _result(Q), 0.1, C=10 / math.log(10), T=100.0, confidence=conf)
    assert (r.failure.low, r.failure.high) == St.clopper_pearson(5, n, conf)
    qci = St.quantile_ci(Q, 0.9, conf)
    assert (r.low, r.high) == (qci.low, qci.high)
    few = check(hp, _result(np.zeros(10)), 0.1, C=10 / math.log(10), T=100.0, confidence=conf)
    n_min = math.ceil(math.log(0.1) / math.log(0.9))  # (1 - delta)^n <= a/2 = 0.1
    assert few.reason == f"10 seeds cannot certify P <= 0.1 (needs >= {n_min} seeds even with no failure)"
    e = check(_bound(), _result(np.ones(n)), C=10.0, T=100.0, confidence=conf)
    assert e.low == pytest.approx(dkw_low_of_constant(n, conf), rel=1e-12)
    lower = _bound(kind="lower_bound", expr="C * log(1/delta) * T**(-1/2)")
    lb = check(lower, _result(Q), 0.05, C=1 / math.log(20), T=1.0, confidence=conf)
    assert (lb.failure.low, lb.failure.high) == St.clopper_pearson(n, n, conf)
    Qc = np.r_[np.arange(1.0, 51.0), np.ones(50)]
    cal = check(hp, _result(Qc), 0.1, calibrate=True, T=100.0, confidence=conf)
    B0 = math.log(10) / 10
    assert cal.calibrated["C"] == St.calibrate_constant([St.Cell(Qc[:50], B0)], 0.1, conf).C
    rng = np.random.default_rng(5)
    Qe = np.r_[rng.exponential(size=50), np.full(50, 0.01)]
    ce = check(_bound(), _result(Qe), calibrate=True, T=100.0, confidence=conf, n_boot=300, seed=2)
    assert ce.calibrated["C"] == St.mean_bounds(Qe[:50], conf, n_boot=300, seed=2, lower_support=None).high / 0.1


# ------------------------------------------------------------------ sweep-level family and exit code

def _member(verdict, k=None, n=None, delta=None, conditions=("ok",), kind="high_probability"):
    import types
    failure = None if k is None else types.SimpleNamespace(k=k, n=n)
    return types.SimpleNamespace(verdict=verdict, failure=failure, delta=delta, kind=kind,
                                 conditions=[types.SimpleNamespace(status=s) for s in conditions])


def _cell(label):
    import types
    return types.SimpleNamespace(label=lambda: label)


def test_cell_family_binomial_members_use_the_exact_violation_pvalue():
    from clipsim.decisions import cell_family
    # two members at delta = 0.1 with 100 seeds: 25 failures (p-value ~ 1e-4, violated after Holm) and 5
    checked = [(_cell("a=1"), _member("violated", 25, 100, 0.1), None),
               (_cell("a=2"), _member("holds", 5, 100, 0.1, conditions=("ok", "violated")), None)]
    fam = cell_family(checked, CONF)
    assert fam.verdict == "violated" and fam.n_members == 2 and fam.method.startswith("Holm step-down")
    assert binom_sf(25, 100, 0.1) < 0.025 / 2  # Holm's first step at family-wise level (1-conf)/2 = 0.025
    assert fam.violated == ("a=1, δ=0.1",)
    # the second member's condition failed: no p-value, so it can never be called violated
    only_bad_condition = [(_cell("a=2"), _member("violated", 90, 100, 0.1, conditions=("unknown",)), None)]
    assert cell_family(only_bad_condition, CONF).verdict != "violated"


def test_cell_family_mean_members_are_redone_at_the_bonferroni_level():
    from clipsim.decisions import cell_family
    import types
    seen = []

    def redo(verdict):
        def run(confidence):
            seen.append(confidence)
            return types.SimpleNamespace(verdict=verdict)
        return run
    checked = [(_cell("x=1"), _member("violated", kind="expectation"), redo("violated")),
               (_cell("x=2"), _member("violated", kind="expectation"), redo("inconclusive")),
               (_cell("x=3"), _member("holds", kind="expectation"), redo("holds"))]
    fam = cell_family(checked, CONF)
    assert seen == [1 - 0.05 / 3, 1 - 0.05 / 3]  # only members violated at the plain level are redone
    assert fam.verdict == "violated" and fam.method == (
        "Bonferroni over the members' mean bounds (violated); intersection-union (holds)")
    assert fam.violated == ("x=1",)
    holds = cell_family([(_cell("x=1"), _member("holds", kind="expectation"), redo("holds"))], CONF)
    assert holds.verdict == "holds"


@pytest.mark.parametrize("checks, code", [
    ([{"shape": [types_ns(verdict="rejected"), types_ns(verdict="consistent")]}], 1),
    ([{"shape": [types_ns(verdict="inconclusive"), types_ns(verdict="consistent")]}], 3),
    ([{"shape": [types_ns(verdict="consistent")]}], 0),
    ([{"rare": {"verdict": "violated"}}], 1),
    ([{"rare": {"verdict": "inconclusive"}}], 3),
    ([{"rare": {"verdict": "holds"}}], 0),
    ([{"family": types_ns(verdict="inconclusive")}, {"family": types_ns(verdict="holds")}], 3),
    ([{"family": types_ns(verdict="violated")}, {"family": types_ns(verdict="holds")}], 1),
])
def test_exit_code_reads_shapes_rare_estimates_and_every_family(checks, code):
    from clipsim.decisions import exit_code
    assert exit_code(checks) == code


def test_cell_family_lower_bound_members_use_the_lower_tail():
    from clipsim.decisions import cell_family
    # lower bound at delta = 0.5: 0 of 100 seeds reach B, P(Bin(100, 0.5) <= 0) = 2^-100: violated
    fam = cell_family([(_cell("lb"), _member("violated", 0, 100, 0.5, kind="lower_bound"), None)], CONF)
    assert fam.verdict == "violated" and fam.violated == ("lb, δ=0.5",)


def test_calibration_split_and_shared_streams_refusals_are_exact():
    import types
    from clipsim.decisions import calibration_split, refuse_shared_streams
    spec = {"bound": "li_liu_2023_clipped_sgd", "calibrate": {"n_steps": 10}, "values": {"C_opt": 1.0}}
    with pytest.raises(ValueError) as e:
        calibration_split(spec, [], 0.1)
    assert str(e.value) == ("[[check]] li_liu_2023_clipped_sgd: calibrate needs exactly one hidden constant without "
                            "a value; hidden: C_opt")
    none = {"bound": {"name": "nb", "expr": "T**(-1/2)", "quantity": "avg_grad_sq", "kind": "expectation"},
            "calibrate": {"n_steps": 10}}
    with pytest.raises(ValueError) as e:
        calibration_split(none, [], 0.1)
    assert str(e.value).endswith("calibrate needs exactly one hidden constant without a value; hidden: none")
    cells = [(types.SimpleNamespace(config={"seed": s}, label=lambda s=s, i=i: f"c{i}"), None)
             for i, s in enumerate((5, 6, 5))]
    with pytest.raises(ValueError) as e:
        refuse_shared_streams(cells, "X")
    assert str(e.value) == ('X needs cells with independent draws, but cells [c0] and [c2] share streams (seed 5): '
                            'set [sweep] streams = "independent"')


@pytest.mark.parametrize("n", [1, 5, 19])
def test_an_expectation_bound_never_holds_on_a_handful_of_seeds(n):
    """B far above every value, but fewer than 20 seeds: the bootstrap upper end is not computed, so the
    verdict is inconclusive and says why (it was "holds" from one seed, with the interval [0, Q_1])."""
    from clipsim.check import check
    r = check(_bound(), _result(np.full(n, 0.5)), C=100.0, T=100.0)
    assert r.verdict == "inconclusive" and r.high == np.inf
    assert r.reason.startswith(f"{n} seeds: a bootstrap end needs 20")
    assert check(_bound(), _result(np.full(20, 0.5)), C=100.0, T=100.0).verdict == "holds"
