"""Bound record mechanics: validation, evaluation, errors, asymptotic rates."""
import numpy as np
import pytest
import sympy as sp

import theory
from theory import symbols as S
from theory.asymptotics import leading

T, alpha, delta, n = S.T, S.alpha, S.delta, S.n
C = sp.Symbol("C_x", positive=True)
REF = theory.Reference("Test 2020", "2001.00001")


def mk(expr, **kw):
    base = dict(name="b", expr=expr, quantity="avg_grad_sq", kind="expectation", status="D",
                reference=REF)
    base.update(kw)
    return theory.Bound(**base)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("field,value,msg", [
    ("kind", "upper", "kind"), ("status", "V?", "status"), ("quantity", "grad", "quantity"),
    ("name", "two words", "name"), ("hidden_constants", (sp.Symbol("C_y", positive=True),),
                                    "hidden_constants"),
    ("defaults", {"nope": 1}, "defaults"), ("defaults", {"C_x": 1}, "hidden constants have no"),
    ("valid_when", (sp.Gt(alpha, 0),), "already decides"), ("rate_var", "n", "rate_var"),
])
def test_validation_errors_name_the_field(field, value, msg):
    kw = {"hidden_constants": (C,), field: value}
    with pytest.raises(ValueError, match=msg):
        mk(C * T ** -1, **kw)


def test_high_probability_needs_delta_in_expr():
    with pytest.raises(ValueError, match="delta"):
        mk(C * T ** -1, kind="high_probability", hidden_constants=(C,))
    with pytest.raises(ValueError, match="delta"):
        mk(C * T ** -1, kind="high_probability", delta=delta, hidden_constants=(C,))
    b = mk(C * sp.log(1 / delta) / T, kind="high_probability", delta=delta, hidden_constants=(C,))
    assert b.delta is delta


def test_hidden_constant_must_be_named_C():
    k = sp.Symbol("k", positive=True)
    with pytest.raises(ValueError, match="named C"):
        mk(k / T, hidden_constants=(k,))


def test_reference_rejects_bad_arxiv_id():
    with pytest.raises(ValueError, match="arXiv"):
        theory.Reference("X", "arXiv:2001.1")


def test_bounds_hash_and_compare():
    a = theory.get("ps_clip_sgd")
    assert {a: 1}[theory.get("ps_clip_sgd")] == 1
    assert a != theory.get("zhang_2020_clipped_sgd")


# ---------------------------------------------------------------- evaluation
def test_evaluate_broadcasts_and_matches_formula():
    b = theory.get("li_liu_2023_clipped_sgd")
    Ts = np.array([1e3, 1e4, 1e5])[:, None]
    als = np.array([1.25, 1.5, 2.0])[None, :]
    out = b.evaluate(C_opt=2.0, T=Ts, delta=0.01, alpha=als)
    want = 2.0 * np.log(Ts / 0.01) * Ts ** ((2 - 2 * als) / (3 * als - 2))
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    # the default log power (1) is overridable
    out2 = b.evaluate(C_opt=2.0, T=1e4, delta=0.01, alpha=1.5, log_power=2)
    assert out2 == pytest.approx(2.0 * np.log(1e6) ** 2 * 1e4 ** -0.4)


def test_evaluate_max_vectorised():
    b = theory.get("sadiev_2023_nonconvex")
    Ts = np.logspace(0, 8, 9)
    out = b.evaluate(C_opt=1, T=Ts, delta=0.1, alpha=1.5, L=1, Delta=1, sigma=1)
    a = np.log(Ts / 0.1) / Ts
    bb = np.log(Ts / 0.1) ** (1 / 3) / Ts ** (1 / 3)
    np.testing.assert_allclose(out, np.maximum(a, bb), rtol=1e-12)


def test_missing_values_error_names_all_missing():
    b = theory.get("li_liu_2023_clipped_sgd")
    with pytest.raises(ValueError) as e:
        b.evaluate(T=100.0)
    msg = str(e.value)
    assert "\n" not in msg
    for name in ("C_opt", "alpha", "delta"):
        assert name in msg
    assert "log_power" not in msg and "T," not in msg  # default and given ones are not missing


def test_hidden_constants_are_never_defaulted():
    for b in theory.BOUNDS.values():
        if b.hidden_constants:
            vals = {s: 1.0 for s in b.symbols if s not in {h.name for h in b.hidden_constants}}
            with pytest.raises(ValueError, match=b.hidden_constants[0].name):
                b.evaluate(**vals)


def test_unknown_keyword_error_names_it_and_symbols():
    b = theory.get("zhang_2020_clipped_sgd")
    with pytest.raises(ValueError) as e:
        b.evaluate(C_opt=1, T=10, alpha=1.5, sigma_typo=1)
    msg = str(e.value)
    assert "sigma_typo" in msg and "C_opt" in msg and "alpha" in msg and "\n" not in msg
    with pytest.raises(ValueError, match="foo"):
        b.schedule_values(T=10, foo=1)


def test_schedule_values_missing():
    b = theory.get("cutkosky_mehta_2021")
    with pytest.raises(ValueError) as e:
        b.schedule_values(T=100)
    assert "alpha" in str(e.value) and "c_eta" in str(e.value)
    out = b.schedule_values(T=np.array([1e2, 1e4]), alpha=1.5, c_eta=1, c_lam=1)
    np.testing.assert_allclose(out["beta"], 1 - np.array([1e2, 1e4]) ** -0.6)
    np.testing.assert_allclose(out["lam"], np.array([1e2, 1e4]) ** 0.4)


def test_symbols_listing():
    b = theory.get("li_liu_2023_clipped_sgd")
    assert b.symbols == ("C_opt", "T", "alpha", "delta", "log_power")
    assert set(b.schedule_symbols) == {"T", "alpha", "c_eta", "c_lam", "sigma"}


def test_is_valid():
    b = theory.get("li_liu_2023_clipped_sgd")
    np.testing.assert_array_equal(b.is_valid(alpha=np.array([0.9, 1.0, 1.5, 2.0, 2.1]), delta=0.1),
                                  [False, False, True, True, False])
    assert not b.is_valid(alpha=1.5, delta=1.5)
    with pytest.raises(ValueError, match="delta"):
        b.is_valid(alpha=1.5)


# ---------------------------------------------------------------- rates
@pytest.mark.parametrize("expr,var,p,q", [
    (C * T ** -1, T, -1, 0),
    (sp.log(T) ** 2 / T, T, -1, 2),
    (sp.Max(1 / T, T ** sp.Rational(-1, 2)), T, sp.Rational(-1, 2), 0),
    (sp.Min(1 / T, T ** sp.Rational(-1, 2)), T, -1, 0),
    (1 / T + sp.log(T) / T, T, -1, 1),
    (T / (1 + T), T, 0, 0),
    ((T - 1) ** 2, T, 2, 0),
    (sp.sqrt(sp.log(n) / n), n, sp.Rational(-1, 2), sp.Rational(1, 2)),
    (sp.exp(-T), T, -sp.oo, 0),
    (T ** 2 * sp.exp(sp.sqrt(T)), T, sp.oo, 0),
    (sp.log(sp.log(T)) / T, T, -1, 0),
    (sp.atan(T) / T, T, -1, 0),  # outside the structural grammar: limit fallback
])
def test_leading_term(expr, var, p, q):
    pp, qq, _ = leading(expr, var)
    assert pp == p and qq == q


def test_leading_symbolic_in_alpha():
    r = (2 - 2 * alpha) / (3 * alpha - 2)
    e = sp.Max(T ** r, T ** (-(alpha - 1) / alpha))
    p, q, _ = leading(e, T, relations=(sp.Gt(alpha, 1), sp.Le(alpha, 2)))
    assert sp.simplify(p + (alpha - 1) / alpha) == 0
    # an order that flips inside the range is refused, not guessed
    with pytest.raises(ValueError, match="cannot order"):
        leading(T ** (alpha - sp.Rational(3, 2)) + T ** 0, T,
                relations=(sp.Gt(alpha, 1), sp.Le(alpha, 2)))


def test_delta_exponent_is_in_one_over_delta():
    b = mk(C * delta ** sp.Rational(-1, 3) * sp.log(1 / delta) ** 2 / T, hidden_constants=(C,))
    assert b.exponent("delta") == sp.Rational(1, 3) and b.log_power("delta") == 2
    assert b.exponent("T") == -1 and b.exponent("n") == 0


def test_exponent_substitution_of_floats_is_exact():
    b = theory.get("li_liu_2023_clipped_sgd")
    assert b.exponent("T", alpha=1.5) == sp.Rational(-2, 5)
    assert b.exponent("T", alpha=1.75) == sp.Rational(-6, 13)


def test_a_complex_value_is_an_error_not_its_real_part():
    """sqrt(-T) with T > 0 is I sqrt(T): evaluating it never returns its real part (0) as the bound."""
    b = mk(C * sp.sqrt(-T), hidden_constants=(C,))
    with pytest.raises(ValueError, match="not real"):
        b.evaluate(T=3.0, C_x=1.0)


@pytest.mark.parametrize("default", ["x", float("nan"), float("inf"), True])
def test_a_default_must_be_a_finite_number(default):
    with pytest.raises(ValueError, match="a default must be a finite number"):
        mk(C * T ** (-alpha), hidden_constants=(C,), defaults={"alpha": default})
