"""theory.parse at its edges (issue 14; written against the mutants mutmut left alive): numeric guards
exactly at their limits, two-argument log, hidden constants shared across uses, user bounds' defaults."""
import math

import pytest
import sympy as sp

import theory
from theory import parse_expr
from theory.parse import evaluate_float


def test_numeric_log_two_arguments_and_base_one():
    expr, _ = parse_expr("log(8, 2)")
    assert float(expr) == pytest.approx(3.0, rel=1e-15)
    with pytest.raises(ValueError, match="log to base 1"):
        parse_expr("log(8, 1)")
    with pytest.raises(ValueError, match=r"log\(0\.0\) is not a real number"):
        parse_expr("log(0)")
    assert float(parse_expr("log(1)")[0]) == 0.0  # log(1) = 0 is fine; only x <= 0 is refused


def test_evaluate_float_magnitude_limit_is_inclusive():
    x = sp.Symbol("x", positive=True)
    assert evaluate_float(x, {"x": 1e300}) == 1e300  # exactly at the limit: allowed
    with pytest.raises(ValueError, match="exceeds 1e300"):
        evaluate_float(x * 10, {"x": 1e300})
    assert evaluate_float(sp.exp(x), {"x": 690.0}) == pytest.approx(math.exp(690.0), rel=1e-15)
    with pytest.raises(ValueError, match="exceeds 1e300"):
        evaluate_float(sp.exp(x), {"x": 690.5})


def test_evaluate_float_functions():
    x = sp.Symbol("x", positive=True)
    assert evaluate_float(sp.log(x), {"x": math.e}) == pytest.approx(1.0, rel=1e-15)
    assert evaluate_float(sp.gamma(x), {"x": 5.0}) == pytest.approx(24.0, rel=1e-13)
    assert evaluate_float(sp.Max(x, 3), {"x": 2.0}) == 3.0 and evaluate_float(sp.Min(x, 3), {"x": 2.0}) == 2.0
    assert evaluate_float(sp.Abs(x - 5), {"x": 2.0}) == 3.0


def test_power_guards():
    with pytest.raises(ValueError, match="0 to a negative power"):
        evaluate_float(sp.Symbol("x", positive=True) ** -1, {"x": 0.0})
    with pytest.raises(ValueError, match="not a real number"):
        evaluate_float(sp.Symbol("x") ** sp.Rational(1, 2), {"x": -4.0})
    assert evaluate_float(sp.Symbol("x") ** 2, {"x": -4.0}) == 16.0  # integer power of a negative


def test_hidden_constant_used_twice_is_one_symbol():
    expr, hidden = parse_expr("C_a * T + C_a ** 2 + C")
    assert [h.name for h in hidden] == ["C", "C_a"]
    assert len(expr.free_symbols) == 3 and all(h.is_positive for h in hidden)


def test_user_bound_defaults():
    b = theory.parse_bound("C * T**(-1/2) * log(1/delta)", name="mine", quantity="avg_grad_sq",
                           kind="high_probability")
    assert b.delta == theory.symbols.delta and b.status == "D" and b.rate_var == "T"
    assert b.reference.paper == "user-supplied" and b.reference.arxiv is None
    e = theory.parse_bound("C * T**(-1/2)", name="mean", quantity="avg_grad_sq", kind="expectation")
    assert e.delta is None
    d = theory.parse_bound("C * T**(-1/2) * log(1/p)", name="p", quantity="avg_grad_sq",
                           kind="high_probability", delta="p", extra_symbols=["p"])
    assert d.delta.name == "p" and d.delta.is_positive
    with pytest.raises(ValueError, match="T does not appear; give rate_var="):
        theory.parse_bound("C * n", name="x", quantity="avg_grad_sq", kind="expectation")


def test_relations_in_valid_when():
    b = theory.parse_bound("C * T**(-1/2)", name="r", quantity="avg_grad_sq", kind="expectation",
                           valid_when=["T >= 10", "alpha < 2"])
    assert [type(r) for r in b.valid_when] == [sp.GreaterThan, sp.StrictLessThan]
    with pytest.raises(ValueError, match="must be one 'a < b' style relation"):
        theory.parse_bound("C * T", name="r", quantity="avg_grad_sq", kind="expectation", valid_when=["1 < T < 2"])


def test_user_bound_keeps_every_field_it_is_given():
    b = theory.parse_bound("C * eta * T**(-1/2) * q", name="kw", quantity="avg_grad_sq", kind="expectation",
                           extra_symbols=["q"], assumptions=["L-smooth"], defaults={"q": 2.0},
                           description="a test bound", schedule={"eta": "q * T**(-1/2)"},
                           valid_when=["q < T"])
    assert b.assumptions == ("L-smooth",) and b.defaults == {"q": 2.0} and b.description == "a test bound"
    q = sp.Symbol("q", positive=True)
    assert sp.simplify(b.schedule["eta"] - q * theory.symbols.T ** sp.Rational(-1, 2)) == 0
    assert b.valid_when[0] == sp.StrictLessThan(q, theory.symbols.T)  # the extra symbol on the left side too
