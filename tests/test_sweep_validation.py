"""Spec and API validation (issue 10, classes 1 and 2): nonsense is a one-line ValueError naming the field,
never a silently different result or a hang."""
import re
import copy
import math
import time

import pytest

import theory
from clipsim import check, noise, objectives, optimizers as opt, simulate, sweep as S
from theory import parse_expr
from theory.parse import evaluate_float

BASE = {"sweep": {"name": "v", "n_steps": 20, "seeds": 4},
        "objective": {"name": "quadratic", "dim": 2},
        "noise": {"family": "stable", "alpha": 1.5},
        "optimizer": {"name": "clipped_sgd", "eta": {"expr": "0.1"}, "clip": 1.0},
        "grid": {"noise.alpha": [1.5, 1.9]}}


def spec(**tables):
    s = copy.deepcopy(BASE)
    for k, v in tables.items():
        if v is None:
            s.pop(k, None)
        elif isinstance(v, dict) and isinstance(s.get(k), dict):
            s[k].update(v)
        else:
            s[k] = v
    return s


def refused(s, *words):
    with pytest.raises(ValueError) as e:
        S.from_spec(s)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
    return msg


@pytest.mark.parametrize("name", ["T", "d", "n", "alpha", "L", "eta", "gamma", "exp", "pi", "sigma"])
def test_vars_may_not_shadow_builtin_names(name):
    refused(spec(vars={name: 5}), f"[vars] {name}")


def test_vars_shadowing_a_grid_component_is_refused():
    refused(spec(vars={"clip": 2.0}, grid={"optimizer.clip": [1.0, 2.0]}), "[vars] clip")


@pytest.mark.parametrize("value", [math.nan, math.inf, "x", [1], True])
def test_vars_values_must_be_finite_numbers(value):
    refused(spec(vars={"c_eta": value}), "[vars] c_eta")


def test_vars_are_used_in_expressions():
    s = S.from_spec(spec(vars={"c_eta": 0.25}, optimizer={"eta": {"expr": "c_eta/T"}}))
    assert s.cells[0].config["optimizer"]["eta"]["c"] == pytest.approx(0.25 / 20)


@pytest.mark.parametrize("tables, words", [
    ({"sweep": {"x0": 5}}, ["x0"]),
    ({"sweep": {"name": ["a"]}}, ["name"]),
    ({"sweep": {"name": "../x"}}, ["name"]),
    ({"sweep": {"record": "x"}}, ["record"]),
    ({"objective": 5}, ["[objective]"]),
    ({"grid": {"noise.alpha": ["x", 1.5]}}, ["alpha"]),
    ({"grid": {"noise.alpha": 5}}, ["noise.alpha"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "delta": []}]}, ["delta"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "delta": 0.1, "tolerance": -1}]}, ["tolerance"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "values": 5}]}, ["values"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "calibrate": 5}]}, ["calibrate"]),
    ({"check": [{"bound": ["li_liu_2023_clipped_sgd"]}]}, ["bound"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "where": {"noise.alpha": 1.7}}]}, ["matches no cell"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "where": {"nope": 1}}]}, ["nope"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "confidence": 1.5}]}, ["confidence"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "growth": "yes"}]}, ["growth"]),
    ({"check": [{"bound": "li_liu_2023_clipped_sgd", "rate": "noise.beta"}]}, ["rate"]),
    ({"check": 5}, ["check"]),
    ({"figure": [{"kind": "rate", "group": "noise.nope"}]}, ["group"]),
    ({"figure": [{"kind": "rate", "name": 5}]}, ["name"]),
    ({"figure": [{"kind": "rate", "name": "../../../x"}]}, ["name"]),
    ({"figure": [{"kind": "rate", "name": "/etc/passwd"}]}, ["name"]),
    ({"figure": [{"kind": "quantile_delta", "deltas": [0.1, 2]}]}, ["deltas"]),
    ({"figure": [{"kind": "rate", "x": "nsteps"}]}, ["[[figure]] #1 x = 'nsteps' is not allowed: must be a grid path",
                                                      "noise.alpha"]),
    # per cell, at load (before any cell runs): x0 against each cell's dimension, the record grid at each T
    ({"sweep": {"x0": [1.0, 2.0]}, "grid": {"objective.dim": [2, 3]}},
     ["[sweep] x0 (at noise.alpha=1.5, objective.dim=3) has shape (2,)", "(3,)"]),
    ({"sweep": {"record": 100001}}, ["[sweep] record = 100001", "(at noise.alpha=1.5)"]),
    ({"sweep": {"record": [1, 21]}, "grid": {"n_steps": [10, 20]}}, ["[1, n_steps + 1 = 11]", "(at noise.alpha=1.5, n_steps=10)"]),
])
def test_bad_toml_values_get_one_line(tables, words):
    refused(spec(**tables), *words)


def test_grid_expansion_is_capped_before_expanding():
    t0 = time.perf_counter()
    msg = refused(spec(grid={"optimizer.eta": list(range(1, 2001)), "optimizer.clip": list(range(1, 2001))}),
                  "8,000,000 cells", str(f"{S.MAX_CELLS:,}"))
    assert "split" in msg and time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("text", ["gamma(gamma(100))", "exp(exp(exp(100)))", "Max(exp(exp(exp(100))), 1)",
                                  "*".join(["10**30"] * 20), "2**1000", "gamma(-1)", "log(0)", "1/0",
                                  "(-8)**(1/3)", "(" * 300 + "1" + ")" * 300])
def test_parser_refuses_runaway_numbers_quickly(text):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"^parse_bound: .*(refused|too large|syntax error)"):
        parse_expr(text)
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize("text, values", [("exp(exp(exp(x)))", {"x": 100.0}), ("gamma(gamma(x))", {"x": 100.0}),
                                          ("x**x**x", {"x": 50.0}), ("log(x)", {"x": -1.0})])
def test_evaluation_is_guarded(text, values):
    expr, _ = parse_expr(text, extra_symbols=list(values))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"exceeds 1e300|is not a real number"):
        evaluate_float(expr, values)
    assert time.perf_counter() - t0 < 1.0


def test_evaluation_matches_sympy_where_finite():
    expr, _ = parse_expr("gamma(alpha)*log(T, 2)/sqrt(T) + Max(alpha, 1)**2 - exp(-alpha)", ["T"])
    want = float(expr.evalf(subs={s: {"alpha": 1.5, "T": 100}[s.name] for s in expr.free_symbols}))
    assert evaluate_float(expr, {"alpha": 1.5, "T": 100}) == pytest.approx(want, rel=1e-12)


def test_spec_expression_overflow_is_refused():
    refused(spec(optimizer={"eta": {"expr": "exp(exp(T))"}}), "[optimizer]")


@pytest.mark.parametrize("bad", [[5], 5, "T"])
def test_parse_expr_extra_symbols_type(bad):
    with pytest.raises(ValueError, match="extra"):
        parse_expr("1", extra_symbols=bad)


def test_bound_symbol_checks():
    b = theory.get("li_liu_2023_clipped_sgd")
    with pytest.raises(ValueError, match="'Q'"):
        b.exponent("Q")
    assert b.exponent("n") == 0  # a canonical variable the bound omits: exponent 0 is the truth
    vals = dict(alpha=1.5, C_opt=1, delta=0.1, sigma=1, c_eta=1, c_lam=1, log_power=1)
    with pytest.raises(ValueError, match="T = -5"):
        b.evaluate(T=-5, **vals)
    with pytest.raises(ValueError, match="T = 'x'"):
        b.evaluate(T="x", **vals)
    assert math.isfinite(b.evaluate(T=10, **vals))


@pytest.fixture(scope="module")
def small_run():
    return simulate(objectives.get("quadratic", 2), noise.stable(1.5), opt.clipped_sgd(0.1, 1.0),
                    n_steps=10, n_seeds=8, seed=0)


@pytest.mark.parametrize("kw, words", [({"C_opr": 2.0}, ["C_opr", "C_opt"]), ({"C_opt": -1.0}, ["C_opt"]),
                                       ({"C_opt": math.inf}, ["C_opt"]), ({"C_opt": math.nan}, ["C_opt"]),
                                       ({"C_opt": 0.0}, ["C_opt"]), ({"C_opt": 1.0, "alpha": "x"}, ["alpha"]),
                                       ({"C_opt": 1.0, "calibrate": "yes"}, ["calibrate = 'yes'"]),
                                       ({"C_opt": 1.0, "seed": "x"}, ["seed = 'x'"])])
def test_check_refuses_bad_values(small_run, kw, words):
    with pytest.raises(ValueError) as e:
        check(theory.get("li_liu_2023_clipped_sgd"), small_run, delta=0.1, **kw)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("d", [None, 5, "x", []])
def test_from_dict_needs_a_table(d):
    for f in (opt.from_dict, objectives.from_dict, noise.Noise.from_dict):
        with pytest.raises(ValueError, match=rf"= {re.escape(repr(d))} is not allowed: must be a (table|dict)"):
            f(d)


# ---- class 3: memory is estimated before allocating --------------------------------------------
def _q():
    return objectives.get("quadratic", 2)


@pytest.mark.parametrize("call", [
    lambda: noise.stable(1.5).sample(10**12),
    lambda: noise.stable(1.5).sample_vectors(10**7, 10**6),
    lambda: objectives.get("robust_regression", 1000, n=10**7),
    lambda: simulate(_q(), noise.stable(1.5), opt.clipped_sgd(0.1, 1.0), n_steps=10**9, n_seeds=1),
    lambda: simulate(_q(), noise.stable(1.5), opt.clipped_sgd(0.1, 1.0), n_steps=10, n_seeds=10**9),
    lambda: simulate(objectives.get("quadratic", 10**6), None, opt.sgd(0.1), n_steps=10, n_seeds=10**5),
    lambda: S.from_spec(spec(sweep={"n_steps": 10**9})),
], ids=["sample", "sample_vectors", "robust_regression", "n_steps", "seeds", "dim", "spec_n_steps"])
def test_runs_that_cannot_fit_are_refused_before_allocating(call, monkeypatch):
    monkeypatch.setenv("CLIPSIM_MAX_BYTES", str(2 * 10**9))  # the same answer on any machine
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as e:
        call()
    msg = str(e.value)
    assert "needs about" in msg and "available" in msg and "\n" not in msg
    assert time.perf_counter() - t0 < 5.0


def test_memory_budget_override(monkeypatch):
    from clipsim import _limits

    monkeypatch.setenv("CLIPSIM_MAX_BYTES", "1e6")
    with pytest.raises(ValueError, match="1e\\+06|1 MB|needs about"):
        _limits.require("x", 2e6, "less")
    _limits.require("x", 1e5, "less")
