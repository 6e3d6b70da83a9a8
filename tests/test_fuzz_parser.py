"""Fuzz theory.parse_expr and the bounded evaluator (issue 10): random text and random expression trees
(nested gamma/exp/powers, huge literals) parse or get a one-line ValueError within seconds; a parsed
expression evaluates to a finite float or a one-line ValueError, never a hang or another exception."""
import math

from hypothesis import given, strategies as st

from _fuzz import FUZZ, outcome
from theory import parse_expr
from theory.parse import evaluate_float

NAMES = ["T", "alpha", "delta", "C_opt", "x", "pi", "E", "sigam", "__import__", "gamma", "log"]
ATOMS = st.one_of(st.sampled_from(NAMES), st.sampled_from(["0", "1", "2", "0.5", "100", "1e300", "1e-300", "10**30",
                                                           "99999999999999999999", "-1", "1e309"]),
                  st.integers(-10**40, 10**40).map(str), st.floats(allow_nan=False).map(repr))
FUNCS = ["gamma", "exp", "log", "sqrt", "Abs", "Max", "min", "ln", "eval", "open"]


def _tree(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "^", "//", "%"]), children)
        .map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(st.sampled_from(FUNCS), st.lists(children, min_size=0, max_size=3))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        children.map(lambda c: f"-{c}"),
    )


EXPRS = st.recursive(ATOMS, _tree, max_leaves=25)
TEXT = st.text(alphabet="Tadelphgmxo0123456789.+-*/()^, _eC[]{}'\"=<>!@\\;:\n", max_size=80)


@FUZZ
@given(text=st.one_of(EXPRS, TEXT), extra=st.sampled_from([(), ("x",), ("x", "T"), [5], "x", None]))
def test_parse_expr_answers_quickly(text, extra):
    parsed = {}

    def parse():
        parsed["expr"] = parse_expr(text, extra_symbols=extra)[0]

    if outcome("parser:parse_expr", parse) == "ok":
        expr = parsed["expr"]
        values = {s.name: v for s, v in zip(sorted(expr.free_symbols, key=lambda s: s.name),
                                           [1.5, 100.0, 0.1, 2.0, 1e200, -3.0])}

        def evaluate():
            v = evaluate_float(expr, values)
            assert math.isfinite(v) and abs(v) <= 1e300

        if len(values) == len(expr.free_symbols):
            outcome("parser:evaluate", evaluate)


@FUZZ
@given(depth=st.integers(1, 400), fn=st.sampled_from(["gamma", "exp", "log", "sqrt", "-", "("]),
       seed=st.sampled_from(["100", "1e300", "alpha", "2"]))
def test_deep_nesting_is_bounded(depth, fn, seed):
    text = (f"{fn}(" * depth if fn not in "-(" else fn * depth) + seed + (")" * depth if fn != "-" else "")
    outcome("parser:nesting", lambda: parse_expr(text))
