"""Direct tests of clipsim.decisions (issue 14): small fake results whose metric values are chosen so that
each verdict, count and row field is known by construction (or computed here from clipsim.stats
primitives: Clopper-Pearson, order-statistic intervals), with cases next to the boundaries where a
mutant (an off-by-one in the record step, a dropped coordinate, a wrong default confidence or quantile,
a swapped argument) changes an asserted value. No simulation: every test runs in milliseconds."""
import math
import types

import numpy as np
import pytest

from clipsim import decisions as D
from clipsim import stats as St
from clipsim.sweep import Cell

CONF = 0.95


class FakeResult:
    """What the decision layer reads from a SimResult: ``metrics``, ``records``, ``record_steps``,
    ``theory_values(alpha=None)`` and ``noise``."""

    def __init__(self, metrics, records=None, record_steps=(), tv=None, noise=None):
        self.metrics = dict(metrics)
        self.records = dict(records or {})
        self.record_steps = np.asarray(record_steps)
        self.tv = dict(tv or {})
        self.noise = noise
        self.calls = []

    def theory_values(self, alpha=None):
        self.calls.append(alpha)
        return {**self.tv, **({"alpha": alpha} if alpha is not None else {})}


def cell(coords=(("n_steps", 100),), variables=None, seed=1, noise=None, optimizer=None):
    config = {"seed": seed, "noise": noise or {"family": "gaussian", "sigma": 1.0},
              "optimizer": optimizer or {"name": "clipped_sgd", "eta": 0.1, "clip": 1.0}}
    return Cell("s", tuple(coords), dict(variables if variables is not None else dict(coords)), config)


def bound(expr="4*C*(t + 1)*delta", name="bt", quantity="final_gap", kind="high_probability", **kw):
    table = {"name": name, "expr": expr, "quantity": quantity, "kind": kind, **kw}
    if "T" not in expr and "rate_var" not in kw:
        table["rate_var"] = "t"
    if kind == "high_probability":
        table.setdefault("delta", "delta")
    return D.resolve_bound(table)


def cp_verdict(k, n, delta, conf=CONF):
    lo, hi = St.clopper_pearson(k, n, conf)
    return "violated" if lo > delta else ("holds" if hi <= delta else "inconclusive")


# ------------------------------------------------------------------ small helpers


def test_deltas_and_alpha():
    assert D._deltas({}) == [None]
    assert D._deltas({"delta": 0.1}) == [0.1]
    assert D._deltas({"delta": [0.1, 0.01]}) == [0.1, 0.01]
    assert D._alpha({"alpha": 1.5, "x": 2}) == {"alpha": 1.5}
    assert D._alpha({"x": 2}) == {}


def test_expression_variables_order_and_filtering():
    res = FakeResult({}, tv={"T": 100, "L": 2.0, "mu": math.inf, "flag": True, "name": "x", "n": 7})
    c = cell(coords=(("n_steps", 300),), variables={"n_steps": 300, "L": 5.0})
    # theory values first (finite real numbers only, no bools or strings), then the cell's variables win,
    # then extra wins over both
    assert D.expression_variables(c, res) == {"T": 100, "L": 5.0, "n": 7, "n_steps": 300}
    assert D.expression_variables(c, res, {"n": 9, "t": 3}) == {"T": 100, "L": 5.0, "n": 9, "n_steps": 300, "t": 3}
    assert D.expression_variables(c) == {"n_steps": 300, "L": 5.0}
    assert D.expression_variables(c, types.SimpleNamespace(metrics={})) == {"n_steps": 300, "L": 5.0}
    assert res.calls == [None, None]


def test_cell_values_resolve_expressions_with_run_values():
    res = FakeResult({}, tv={"L": 2.0})
    c = cell(variables={"n_steps": 100, "k": 3.0})
    spec = {"bound": "bx", "values": {"C": {"expr": "L * k"}, "G": 4.0}}
    assert D._cell_values(spec, c, res) == {"C": 6.0, "G": 4.0}
    assert D._cell_values(spec, c, res, {"k": 0.5}) == {"C": 1.0, "G": 4.0}
    assert D._cell_values({"bound": "bx"}, c, res) == {}
    assert spec["values"]["C"] == {"expr": "L * k"}  # not resolved in place
    with pytest.raises(ValueError, match=r"\[\[check\]\] bx values\.C"):
        D._cell_values(spec, c, None)  # L is a run value: unknown without the result


def test_as_quantity_view():
    res = FakeResult({"q": np.ones(3), "m": np.zeros(3), "diverged": np.zeros(3, bool)}, tv={"T": 5},
                     noise="N")
    v = D._AsQuantity(res, "q", [1, 2, 3])
    assert v.metrics["q"].dtype == float and v.metrics["q"].tolist() == [1.0, 2.0, 3.0]
    assert v.metrics["m"] is res.metrics["m"] and set(v.metrics) == {"q", "m", "diverged"}
    assert res.metrics["q"].tolist() == [1.0, 1.0, 1.0]  # the result is not changed
    assert v.noise == "N" and D._AsQuantity(types.SimpleNamespace(metrics={}), "q", [1]).noise is None
    assert v.theory_values() == {"T": 5} and res.calls == [None]
    assert v.theory_values(1.5) == {"T": 5, "alpha": 1.5} and res.calls == [None, 1.5]


def test_is_record_and_metric():
    b = bound()
    res = FakeResult({"final_gap": np.array([1.0, 2.0, 3.0]), "gap": np.ones(3), "diverged": np.array([0, 1, 0])},
                     records={"gap": np.ones((3, 2)), "dist": np.ones((3, 2)), "avg_grad_sq": np.ones((3, 2))})
    assert D._is_record({"metric": "dist"}, b, res)
    assert not D._is_record({"metric": "gap"}, b, res)  # a metric of that name wins over the record
    assert not D._is_record({}, b, res)
    assert not D._is_record({"metric": ["dist"]}, b, res)
    assert not D._is_record({"metric": "dist"}, b, types.SimpleNamespace(metrics={}))
    assert D._is_record({}, bound(quantity="avg_grad_sq"), res)  # the bound's quantity is the default metric
    np.testing.assert_array_equal(D._metric({}, b, res), [1.0, np.inf, 3.0])
    np.testing.assert_array_equal(D._metric({"metric": "gap"}, b, res), [1.0, np.inf, 1.0])
    with pytest.raises(ValueError) as e:
        D._metric({"bound": "bt", "metric": "nope"}, b, res)
    assert str(e.value) == "[[check]] bt: metric 'nope' is not recorded; recorded: final_gap, gap, diverged"


# ------------------------------------------------------------------ per-cell checks on a record


def record_result(n=100):
    """Record 'gap' at steps 2, 4, 10 (t = 1, 3, 9) of 100 seeds, 10 of them diverged (+inf at every
    step whatever their record). With the bound 4 C (t+1) delta at delta = 1/4 and C = L + t - 1 (L = 2
    from the run): B = (t+1)^2 = 4, 16, 100, and the failures (value > B) are, by construction,
    40 + 10 at step 2, 5 + 10 at step 4 (the value 16 == B is no failure) and 18 + 10 at step 10."""
    rec = np.zeros((n, 3))
    rec[:, 0] = 1.5
    rec[:40, 0] = 5.0
    rec[:, 1] = 16.0
    rec[:5, 1] = 17.0
    rec[:, 2] = 99.0
    rec[:18, 2] = 101.0
    div = np.zeros(n, bool)
    div[90:] = True
    metrics = {"final_gap": np.zeros(n), "diverged": div}
    return FakeResult(metrics, records={"gap": rec}, record_steps=[2, 4, 10], tv={"L": 2.0})


def test_per_cell_record_metric_one_check_per_record_step():
    b = bound()
    res = record_result()
    c = cell(coords=(("n_steps", 10),), variables={"n_steps": 10})
    spec = {"bound": "bt", "metric": "gap", "values": {"C": {"expr": "L + t - 1"}}}
    out = D._per_cell_redo(spec, b, c, res, 0.25, 0.8)
    assert [x[0].coords for x in out] == [(("n_steps", 10), ("t", t)) for t in (1, 3, 9)]
    assert all(x[0].config is c.config and x[0].variables is c.variables for x in out)
    assert [x[1].bound_value for x in out] == [4.0, 16.0, 100.0]
    assert [x[1].values["t"] for x in out] == [1, 3, 9]
    assert [x[1].values["C"] for x in out] == [2.0, 4.0, 10.0]
    ks = [50, 15, 28]
    assert [(x[1].failure.k, x[1].failure.n) for x in out] == [(k, 100) for k in ks]
    assert [x[1].n_diverged for x in out] == [10, 10, 10]
    assert [x[1].confidence for x in out] == [0.8] * 3
    assert [x[1].verdict for x in out] == [cp_verdict(k, 100, 0.25, 0.8) for k in ks]
    assert [x[1].verdict for x in out] == ["violated", "holds", "inconclusive"]
    assert all(x[1].delta == 0.25 and x[1].quantity == "final_gap" for x in out)
    redone = out[1][2](confidence=0.99)
    assert (redone.confidence, redone.failure.k, redone.bound_value) == (0.99, 15, 16.0)
    assert (redone.failure.low, redone.failure.high) == St.clopper_pearson(15, 100, 0.99)
    assert res.metrics["final_gap"].tolist() == [0.0] * 100  # the result itself is untouched
    plain = D._per_cell(spec, b, c, res, 0.25, 0.8)
    assert [(x[0], x[1].failure.k, x[1].verdict) for x in plain] == [(x[0], x[1].failure.k, x[1].verdict)
                                                                    for x in out]


def test_per_cell_record_step_s_is_t_equal_s_minus_one():
    """A bound in t alone: B = t + 1 at step s is s, so an off-by-one in t moves every bound value."""
    res = record_result()
    out = D._per_cell({"bound": "bt", "metric": "gap", "values": {"C": 1.0}}, bound(), cell(), res, 0.25, CONF)
    assert [(dict(c.coords)["t"], bc.bound_value) for c, bc in out] == [(1, 2.0), (3, 4.0), (9, 10.0)]
    # B = 2, 4, 10: 40 values 5 fail at step 2 (1.5 does not); every seed fails at steps 4 and 10
    assert [bc.failure.k for _, bc in out] == [50, 100, 100]


def test_per_cell_metric_other_than_the_quantity():
    b = bound(expr="4*C*delta", rate_var="delta")
    n = 100
    m = np.full(n, 0.5)
    m[:3] = 2.0
    div = np.zeros(n, bool)
    div[3:5] = True
    res = FakeResult({"final_gap": np.full(n, 9.0), "m": m, "diverged": div}, tv={"L": 3.0})
    c = cell()
    spec = {"bound": "bt", "metric": "m", "values": {"C": {"expr": "L - 2"}}}
    ((c2, bc, redo),) = D._per_cell_redo(spec, b, c, res, 0.25, 0.9)
    assert c2 is c and bc.bound_value == 1.0 and bc.confidence == 0.9
    assert (bc.failure.k, bc.n_diverged) == (5, 2) and bc.verdict == cp_verdict(5, n, 0.25, 0.9) == "holds"
    assert redo(confidence=0.5).confidence == 0.5
    # the bound's own quantity: q = 9 > 1 everywhere
    ((_, bq, _),) = D._per_cell_redo({"bound": "bt", "values": {"C": 1.0}}, b, c, res, 0.25, 0.9)
    assert bq.failure.k == n and bq.verdict == "violated"
    # with the quantity as metric the result is checked as it is (no 'diverged' metric needed)
    bare = FakeResult({"final_gap": np.zeros(n)})
    ((_, b0, _),) = D._per_cell_redo({"bound": "bt", "values": {"C": 1.0}}, b, c, bare, 0.25, CONF)
    assert b0.failure.k == 0 and b0.verdict == cp_verdict(0, n, 0.25) == "holds"


# ------------------------------------------------------------------ per-cell summary


def test_summarize_fields():
    x = np.arange(1.0, 101.0)
    x[0] = np.nan  # non-finite: +inf
    div = np.zeros(100, bool)
    div[1] = True
    res = FakeResult({"a": x, "b": np.full(100, 2.0), "diverged": div})
    c = cell()
    rows = D.summarize([(c, res)], ["a", "b"], q=0.8, confidence=0.9)
    assert [(r.cell, r.metric) for r in rows] == [(c, "a"), (c, "b")]
    a, b = rows
    xs = np.r_[np.inf, np.inf, np.arange(3.0, 101.0)]
    assert a.median == St.quantile_ci(xs, 0.5, 0.9) and a.upper == St.quantile_ci(xs, 0.8, 0.9)
    assert a.upper != St.quantile_ci(xs, 0.9, 0.9) and a.upper != St.quantile_ci(xs, 0.8, 0.95)
    assert a.mean == pytest.approx(np.arange(3.0, 101.0).mean(), rel=1e-15)
    assert (a.maximum, a.n_diverged, a.n_seeds) == (math.inf, 2, 100)
    assert (b.mean, b.maximum, b.n_diverged, b.n_seeds) == (2.0, math.inf, 1, 100)
    assert b.median.estimate == 2.0 and b.upper.estimate == 2.0


def test_summarize_defaults_and_refusals():
    x = np.arange(1.0, 101.0)
    res = FakeResult({"a": x, "diverged": np.zeros(100, bool)})
    (r,) = D.summarize([(cell(), res)], ["a"])
    assert r.upper == St.quantile_ci(x, 0.9, 0.95) and r.median == St.quantile_ci(x, 0.5, 0.95)
    assert (r.mean, r.maximum, r.n_diverged) == (50.5, 100.0, 0)
    allinf = FakeResult({"a": np.full(4, np.inf), "diverged": np.zeros(4, bool)})
    (r,) = D.summarize([(cell(), allinf)], ["a"])
    assert math.isnan(r.mean) and r.n_diverged == 4
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError) as e:
            D.summarize([(cell(), res)], ["a"], q=bad)
        assert str(e.value) == f"summary quantile = {float(bad)!r} is not allowed: must be in (0, 1)"
    with pytest.raises(ValueError) as e:
        D.summarize([(cell(), res)], ["zz"])
    assert str(e.value) == "summary: metric 'zz' is not recorded; recorded: a, diverged"
    assert D.summarize([(cell(), res)], ["a"], q="0.5")[0].upper == St.quantile_ci(x, 0.5, 0.95)
