"""theory.parse at its edges (issue 14; written against the mutants mutmut left alive): numeric guards
exactly at their limits, two-argument log, hidden constants shared across uses, user bounds' defaults."""
import math
import re

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
    assert b.delta == theory.symbols.delta and b.status == "U" and b.rate_var == "T"
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


X = sp.Symbol("x", positive=True)
Y = sp.Symbol("y", positive=True)
R = sp.Symbol("r", real=True)


@pytest.mark.parametrize("base, power, value", [
    (0.0, 0.5, 0.0),      # 0**0.5: a zero base with a non-integer power is real (not refused like a < 0)
    (0.25, 0.5, 0.5),     # a positive base below 1 with a non-integer power
    (0.0, 0.0, 1.0),      # 0**0 = 1 (only a negative power of 0 is refused)
    (0.0, 2.0, 0.0),      # a zero base never reaches log10
    (10.0, 300.0, 1e300),  # |b log10 a| = 300 exactly: at the limit, allowed
])
def test_power_at_the_edges_of_its_guards(base, power, value):
    assert evaluate_float(R ** Y, {"r": base, "y": power}) == value


@pytest.mark.parametrize("base, power", [(10.0, 300.5), (1e10, 31.0)])  # b log10 a = 300.5, 310
def test_power_past_1e300_is_refused_by_the_power_guard(base, power):
    with pytest.raises(ValueError, match=rf"^{re.escape(repr(base))}\*\*{re.escape(repr(power))} exceeds 1e300$"):
        evaluate_float(X ** Y, {"x": base, "y": power})


def test_guard_messages_are_exact():
    with pytest.raises(ValueError, match="^0 to a negative power$"):
        evaluate_float(X ** -1, {"x": 0.0})
    with pytest.raises(ValueError, match=r"^gamma\(0\.0\) is a pole$"):
        evaluate_float(sp.gamma(R), {"r": 0.0})
    with pytest.raises(ValueError, match=r"^gamma\(-3\.0\) is a pole$"):
        evaluate_float(sp.gamma(R), {"r": -3.0})


def test_gamma_edges():
    assert evaluate_float(sp.gamma(R), {"r": 1.0}) == 1.0          # gamma(1) = 1: not a pole
    assert evaluate_float(sp.gamma(R), {"r": -0.5}) == pytest.approx(-2 * math.sqrt(math.pi), rel=1e-14)
    # math.gamma overflows (OverflowError) above x ~ 171.62: the guard must refuse first, as a ValueError
    with pytest.raises(ValueError, match=r"^gamma\(171\.7\) exceeds 1e300$"):
        evaluate_float(sp.gamma(R), {"r": 171.7})


def test_relations_each_operator_and_extra_symbols_on_the_right():
    b = theory.parse_bound("C * T**(-1/2)", name="r", quantity="avg_grad_sq", kind="expectation",
                           extra_symbols=["q"], valid_when=["T > 1", "T <= q", "q >= 1", "alpha < 2"])
    q = sp.Symbol("q", positive=True)
    T = theory.symbols.T
    assert list(b.valid_when) == [sp.StrictGreaterThan(T, 1), sp.LessThan(T, q), sp.GreaterThan(q, 1),
                                  sp.StrictLessThan(theory.symbols.alpha, 2)]
    for chained in ("1 < T > 0", "2 > T < 3", "1 <= T >= 0"):
        with pytest.raises(ValueError, match="must be one 'a < b' style relation"):
            theory.parse_bound("C * T", name="r", quantity="avg_grad_sq", kind="expectation", valid_when=[chained])


@pytest.mark.parametrize("text, what, col", [
    ("1 + T.x", "attribute access", 4), ("T[0]", "subscripts", 0), ("lambda: 1", "lambdas", 0),
    ("[x for x in T]", "comprehensions", 0), ("{x for x in T}", "comprehensions", 0),
    ("{x: 1 for x in T}", "comprehensions", 0), ("(x for x in T)", "comprehensions", 0),
    ("T < 1", "comparisons", 0), ("T and 1", "boolean operators", 0),
    ("1 if T else 2", "conditional expressions", 0), ("(x := 1)", "assignment expressions", 1),
    ("f'{T}'", "strings", 0), ('"s"', "strings", 0), ("[1]", "lists", 0), ("(1, 2)", "tuples", 0),
    ("{1: 2}", "dicts", 0), ("{1}", "sets", 0), ("log(*T)", "starred arguments", 4), ("await T", "await", 0),
    ("(1)(2)", "Constant nodes", 1),  # a call of something that is not a name: the node type is named
    ("T @ 2", "operator MatMult", 0), ("~T", "operator Invert", 0),
])
def test_each_rejected_construct_is_named_with_its_column(text, what, col):
    """The column is Python's ast col_offset of the offending node (0-based)."""
    with pytest.raises(ValueError, match=rf"^parse_bound: {re.escape(what)} not allowed \(col {col}\)$"):
        parse_expr(text)


def test_numeric_calls_of_every_function_name():
    T = theory.symbols.T
    assert parse_expr("sqrt(2) * T")[0] == sp.sqrt(2) * T
    assert parse_expr("sqrt(10**250)")[0] == sp.Integer(10) ** 125   # the root is far below 1e300
    assert parse_expr("Max(2, 3) * T")[0] == 3 * T and parse_expr("max(2, 3) * T")[0] == 3 * T
    assert parse_expr("Min(2, 3) * T")[0] == 2 * T and parse_expr("min(2, 3) * T")[0] == 2 * T
    assert parse_expr("Max(1e300, 1)")[0] == sp.Integer(10) ** 300  # exactly 1e300: allowed
    with pytest.raises(ValueError, match=r"^parse_bound: sqrt\(\.\.\.\) refused: -4\.0\*\*0\.5 is not a real number$"):
        parse_expr("sqrt(-4)")
    with pytest.raises(ValueError, match=r"^parse_bound: log\(\.\.\.\) refused: log to base 1$"):
        parse_expr("log(8, 1)")
    # gamma(171) = 170! ~ 7.3e306: under the pole/overflow guard (x > 171) but over 1e300
    big = repr(math.gamma(171.0))
    with pytest.raises(ValueError, match=rf"^parse_bound: gamma\(\.\.\.\) refused: gamma\(\.\.\.\) = {re.escape(big)} exceeds 1e300$"):
        parse_expr("gamma(171)")


def test_named_delta_and_default_description():
    eps = theory.symbols.CANONICAL["eps_ada"]  # a canonical symbol that is real, not positive
    b = theory.parse_bound("C * T**(-1/2) * eps_ada", name="e", quantity="avg_grad_sq",
                           kind="high_probability", delta="eps_ada")
    assert b.delta is eps and b.description == ""


def test_nesting_depth_limit_is_exactly_60_levels():
    # "-"*k + "T": the Expression node is level 0, the k minus signs levels 1..k, the name level k + 1
    assert parse_expr("-" * 59 + "T")[0] == -theory.symbols.T   # the name at level 60: allowed
    with pytest.raises(ValueError, match="^parse_bound: expression nested too deeply$"):
        parse_expr("-" * 60 + "T")


def test_unknown_name_message_lists_what_is_allowed():
    allowed = ", ".join(sorted(theory.symbols.CANONICAL))
    with pytest.raises(ValueError) as e:
        parse_expr("sigam * T")
    assert str(e.value) == (f"parse_bound: unknown name 'sigam'; use a canonical symbol ({allowed}), "
                            "a hidden constant C or C_*, or declare it in extra_symbols")


def test_numeric_value_over_1e300_is_named_by_its_first_40_characters():
    head = "1" + "0" * 39  # 10**301 written out, cut at 40 characters
    with pytest.raises(ValueError) as e:
        parse_expr("10**299 * 10**2")
    assert str(e.value) == (f"parse_bound: numeric value {head} refused: "
                            f"{head} = 1e+301 is not a finite number of magnitude <= 1e300")


@pytest.mark.parametrize("text, message", [
    ("1**1001", "parse_bound: numeric power too large"),      # |exponent| > 1000, whatever the base
    ("2**1000", "parse_bound: numeric power too large"),      # 1000 log10(2) = 301 > 300
    ("100**151", "parse_bound: numeric power too large"),     # 151 log10(100) = 302
    ("10**300.5", "parse_bound: numeric power too large"),    # 300.5
    ("1000000000000000000000000000001", "parse_bound: integer literal too large"),  # 10**30 + 1
    ("1e999", "parse_bound: non-finite literal"), ("-1e999", "parse_bound: non-finite literal"),
    ("T ^ 2", "parse_bound: '^' is not allowed; write powers as '**'"),
    ("log(T, base=2)", "parse_bound: keyword arguments not allowed"),
    ("Max()", "parse_bound: Max takes at least 1 argument(s), got 0"),
    ("exp(1, 2)", "parse_bound: exp takes (1,) argument(s), got 2"),
    ("True", "parse_bound: constant bool True not allowed (col 0)"),
    ("T * None", "parse_bound: constant NoneType None not allowed (col 4)"),
    ("T" + " " * 2000, "parse_bound: text longer than 2000 characters"),
])
def test_refusals_at_the_numeric_and_syntax_guards_are_exact(text, message):
    with pytest.raises(ValueError) as e:
        parse_expr(text)
    assert str(e.value) == message


def test_unknown_function_lists_the_allowed_ones():
    allowed = ", ".join(sorted(theory.parse.FUNCTIONS))
    with pytest.raises(ValueError) as e:
        parse_expr("foo(T)")
    assert str(e.value) == f"parse_bound: function 'foo' not allowed; allowed: {allowed}"


def test_numeric_values_just_inside_the_guards_are_kept():
    T = theory.symbols.T
    assert parse_expr("1**1000 * T")[0] == T                          # exponent exactly 1000
    assert parse_expr("2**10 * T")[0] == 1024 * T                       # base > 1, small power
    assert parse_expr("10**131 * T")[0] == sp.Integer(10) ** 131 * T   # 131 log10(10) <= 300 (not ln)
    assert parse_expr("1000000000000000000000000000000")[0] == sp.Integer(10) ** 30  # literal 10**30
    assert parse_expr("T" + " " * 1999)[0] == T                         # exactly 2000 characters


def test_text_must_be_a_string():
    with pytest.raises(ValueError) as e:
        parse_expr(5)
    assert str(e.value) == "parse_bound: text must be a string, got int"


def test_extra_symbols_canonical_uppercase_and_several():
    q, Q = sp.Symbol("q", positive=True), sp.Symbol("Q", positive=True)
    expr, _ = parse_expr("gamma * q * Q * T", extra_symbols=["gamma", "q", "Q"])
    assert expr == theory.symbols.gamma * q * Q * theory.symbols.T   # gamma: the canonical symbol


def test_evaluate_float_symbol_values_and_rational_size_limit():
    T = theory.symbols.T
    for bad in (None, True, "3"):
        with pytest.raises(ValueError) as e:
            evaluate_float(T, {"T": bad} if bad is not None else {})
        assert str(e.value) == f"T = {bad!r} is not a number"
    assert evaluate_float(sp.Float(2.5), {}) == 2.5
    # a rational of 1000 bits is evaluated (2**-999 is a tiny finite float); 1001 bits are refused
    assert evaluate_float(sp.Rational(1, 2 ** 999), {}) == 2.0 ** -999
    with pytest.raises(ValueError) as e:
        evaluate_float(sp.Rational(1, 2 ** 1000), {})
    assert str(e.value) == "a number exceeds 1e300"


def test_evaluate_float_walks_every_node_kind_exactly():
    x, y, z = sp.symbols("x y z", positive=True)
    assert evaluate_float(x + y + z, {"x": 1e16, "y": 1.0, "z": -1e16}) == 1.0     # an exact (fsum) sum
    assert evaluate_float(x ** y, {"x": 2.0, "y": 3.0}) == 8.0                      # base, then exponent
    assert evaluate_float(sp.pi * x, {"x": 2.0}) == 2 * math.pi
    assert evaluate_float(sp.E * x, {"x": 1.0}) == math.e
    assert evaluate_float(sp.Max(x, y, z), {"x": 1.0, "y": 3.0, "z": 2.0}) == 3.0
    assert evaluate_float(sp.Min(x, y, z), {"x": 2.0, "y": 3.0, "z": 1.5}) == 1.5
    assert evaluate_float(x * y * z, {"x": 1e200, "y": 1e100, "z": 1.0}) == 1e300   # exactly 1e300: allowed
    with pytest.raises(ValueError) as e:
        evaluate_float(x * y * z, {"x": 1e200, "y": 1e101, "z": 1e-300})  # 1e301 part-way, 10 at the end
    assert str(e.value) == "a product exceeds 1e300"
    with pytest.raises(ValueError) as e:
        evaluate_float(x + y, {"x": 1e300, "y": 1e300})
    assert str(e.value) == "x + y = 2e+300 is not a finite number of magnitude <= 1e300"
    with pytest.raises(ValueError) as e:
        evaluate_float(sp.sin(x), {"x": 1.0})
    assert str(e.value) == "sin cannot be evaluated"


def test_evaluate_float_accepts_plain_python_input():
    assert evaluate_float("x * 2", {"x": 1.5}) == 3.0   # text is sympified first
    assert evaluate_float(2.5, {}) == 2.5
