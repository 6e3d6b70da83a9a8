"""theory.balance re-derives the prescribed schedules and rates of docs/theory.md §4."""
import pytest
import sympy as sp

import theory
from theory import derivations as D
from theory import symbols as S

alpha, T, eta, lam = S.alpha, S.T, S.eta, S.lam
ALPHAS = [sp.Rational(5, 4), sp.Rational(3, 2), sp.Rational(7, 4), sp.Integer(2)]


def same(a, b):
    return sp.simplify(a - b) == 0


@pytest.fixture(scope="module")
def sgd():
    return D.clipped_sgd_balance()


@pytest.fixture(scope="module")
def nsgd():
    return D.nsgd_momentum_balance()


def test_clipped_sgd_schedule_and_rate(sgd):
    assert same(sgd.exponents[eta], -alpha / (3 * alpha - 2))
    assert same(sgd.exponents[lam], 1 / (3 * alpha - 2))
    assert same(sgd.rate, (2 - 2 * alpha) / (3 * alpha - 2))
    assert same(sgd.schedule[eta], T ** (-alpha / (3 * alpha - 2)))
    # all three terms are active: each scales as T^r(α) (docs/theory.md §4 "Balance [D]")
    assert sorted(sgd.active) == [0, 1, 2]
    for e in sgd.term_exponents:
        assert same(e.subs({sp.Symbol("a_eta", real=True): sgd.exponents[eta],
                            sp.Symbol("a_lam", real=True): sgd.exponents[lam]}), sgd.rate)


def test_clipped_sgd_matches_registry(sgd):
    b = theory.get("li_liu_2023_clipped_sgd")
    for a in ALPHAS:
        assert sgd.rate.subs(alpha, a) == b.exponent("T", alpha=a)
        assert sgd.exponents[eta].subs(alpha, a) == b.schedule_exponent("eta", alpha=a)
        assert sgd.exponents[lam].subs(alpha, a) == b.schedule_exponent("lam", alpha=a)


def test_clipped_sgd_alpha_two_is_a_face(sgd):
    # at α = 2 every λ >= T^(1/4) attains the rate; the interior solution's limit is returned
    assert [pt for pt, _ in sgd.nonunique_at] == [{alpha: 2}]
    assert sgd.exponents[lam].subs(alpha, 2) == sp.Rational(1, 4)


def test_normalized_momentum_schedule_and_rate(nsgd):
    p = alpha
    assert same(nsgd.exponents[D.omb], -p / (3 * p - 2))
    assert same(nsgd.exponents[eta], -(2 * p - 1) / (3 * p - 2))
    assert same(nsgd.exponents[lam], 1 / (3 * p - 2))
    assert same(nsgd.rate, (1 - p) / (3 * p - 2))
    assert nsgd.nonunique_at == ()  # the Freedman range term pins τ even at p = 2


def test_normalized_momentum_matches_cutkosky_mehta(nsgd):
    b = theory.get("cutkosky_mehta_2021")
    for a in ALPHAS:
        assert nsgd.rate.subs(alpha, a) == b.exponent("T", alpha=a)
        assert nsgd.exponents[D.omb].subs(alpha, a) == b.schedule_exponent("beta", alpha=a)
        assert nsgd.exponents[eta].subs(alpha, a) == b.schedule_exponent("eta", alpha=a)
        assert nsgd.exponents[lam].subs(alpha, a) == b.schedule_exponent("lam", alpha=a)


def test_without_range_term_tau_is_not_pinned_at_two():
    # dropping (1-β)τ log(1/δ) leaves τ free at p = 2: reported, not hidden
    res = theory.balance(D.NSGD_MOMENTUM_TERMS[:5], {eta: None, lam: None, D.omb: None}, "T",
                         bounds={D.omb: (None, 0)})
    assert same(res.rate, (1 - alpha) / (3 * alpha - 2))
    assert any(pt == {alpha: 2} for pt, _ in res.nonunique_at)


def test_ps_clip_budget_balance():
    res = D.ps_clip_balance()
    b = theory.get("ps_clip_sgd")
    assert same(res.exponents[S.B], alpha / (3 * alpha - 2))
    assert res.exponents[eta] == 0
    assert same(res.rate, b.exponent("N"))


def test_fixed_knob_gives_slower_rate():
    # η fixed at T^(-1/2) (the bounded-variance step): best λ = T^(1/(2α)), rate -(α-1)/α,
    # slower than r(α) for α < 2 and equal at α = 2
    res = theory.balance(D.CLIPPED_SGD_TERMS, {eta: sp.Rational(-1, 2), lam: None}, "T")
    assert same(res.exponents[lam], 1 / (2 * alpha))
    assert same(res.rate, -(alpha - 1) / alpha)
    assert res.exponents[eta] == sp.Rational(-1, 2)
    # constant λ: the bias term stays O(1), every η in [T^-1, 1] is optimal -> refused
    with pytest.raises(ValueError, match="not unique"):
        theory.balance(D.CLIPPED_SGD_TERMS, {eta: None, lam: 0}, "T")


def test_numeric_parameter_and_custom_symbols():
    a, b = sp.symbols("a b", real=True)
    res = theory.balance([1 / (eta * T), eta * lam ** sp.Rational(1, 2), lam ** -1],
                         {eta: a, lam: b}, "T")
    # -a-1 = a + b/2 = -b  ->  b = 2/5, a = -3/5
    assert res.exponents == {eta: sp.Rational(-3, 5), lam: sp.Rational(2, 5)}
    assert res.rate == sp.Rational(-2, 5)


def test_unbounded_and_underdetermined_are_errors():
    with pytest.raises(ValueError, match="unbounded"):
        theory.balance([1 / (eta * T)], {eta: None}, "T")
    with pytest.raises(ValueError, match="not unique"):
        theory.balance([1 / T, lam ** -1], {lam: None}, "T")


def test_nonlinear_exponent_rejected():
    # lam = T**(a**2): its term's exponent a**2 is quadratic in the unknown a, so no LP can balance it
    a = sp.Symbol("a", real=True)
    with pytest.raises(ValueError, match=r"term 1: exponent a\*\*2 is not linear in the knob exponents"):
        theory.balance([1 / (eta * T), lam], {eta: a, lam: a ** 2}, "T")


def test_free_symbol_without_sample_values_rejected():
    with pytest.raises(ValueError, match="give sample values .* for q"):
        theory.balance([T ** (sp.Symbol("q", positive=True)) / eta], {eta: None}, "T")
