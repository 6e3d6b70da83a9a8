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
    config = {"seed": seed, "noise": noise or {"family": "gaussian", "scale": 1.0},
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
    plain = D._AsQuantity(types.SimpleNamespace(metrics={}, theory_values=lambda: {"T": 7}), "q", [1])
    assert plain.theory_values() == {"T": 7}  # a result whose theory_values takes no alpha


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


def test_per_cell_record_start_is_skipped_only_for_a_bound_in_t():
    """Log-spaced record grids start at step 1 (w_1, t = 0), where a bound in t (a positive symbol) cannot
    be evaluated: that step is skipped for such a bound (it used to raise 't = 0 is not allowed') and
    kept for a bound without t."""
    res = record_result()
    res.record_steps = np.array([1, 4, 10])
    spec = {"bound": "bt", "metric": "gap", "values": {"C": 1.0}}
    out = D._per_cell(spec, bound(), cell(), res, 0.25, CONF)
    assert [(dict(c.coords)["t"], bc.bound_value, bc.failure.k) for c, bc in out] == [(3, 4.0, 100), (9, 10.0, 100)]
    flat = D._per_cell({**spec, "values": {"C": 2.0}}, bound(expr="4*C*delta", rate_var="delta"), cell(), res,
                       0.25, CONF)
    assert [(dict(c.coords)["t"], bc.bound_value, bc.failure.k) for c, bc in flat] == [(0, 2.0, 50), (3, 2.0, 100),
                                                                                       (9, 2.0, 100)]
    two = FakeResult(res.metrics, records=res.records, record_steps=[2, 4, 10])
    assert [dict(c.coords)["t"] for c, _ in D._per_cell(spec, bound(), cell(), two, 0.25, CONF)] == [1, 3, 9]


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
    # flags given as 0.0 / 1.0 (e.g. read back from a table) mean the same
    res.metrics["diverged"] = div.astype(float)
    assert D.summarize([(c, res)], ["a", "b"], q=0.8, confidence=0.9) == rows


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


# ------------------------------------------------------------------ SweepCheck as data


def _bc(verdict, delta, k=None, n=40, **kw):
    fields = dict(verdict=verdict, delta=delta, statistic="0.9-quantile", estimate=1.5, low=1.25, high=1.75,
                  bound_value=2.0, ratio=0.75, n_seeds=n, reason=f"why {verdict}",
                  failure=None if k is None else types.SimpleNamespace(estimate=k / n))
    fields.update(kw)
    return types.SimpleNamespace(**fields)


def _fam(verdict, n_members, n_holds=0, n_inconclusive=0, violated=(), method="M"):
    return St.FamilyVerdict(verdict, 0.025, n_members, n_holds, n_inconclusive, tuple(violated), method)


def _slope(slope, low, high):
    return St.LoglogSlope(slope, low, high, 0.0, CONF, "median", (1.0, 2.0, 4.0), (1.0, 2.0, 3.0), 10)


@pytest.fixture
def sweep_check():
    c1 = cell(coords=(("n_steps", 100), ("noise.alpha", 1.5)))
    c2 = cell(coords=(("n_steps", 300), ("noise.alpha", 1.5)))
    b0 = types.SimpleNamespace(name="b_zero")
    b1 = types.SimpleNamespace(name="b_one")
    held = St.CellTest("n_steps=300", "violated", types.SimpleNamespace(estimate=0.3, low=0.2, high=0.4),
                       5.0, 4.0, 1.25)
    ev0 = D.CheckResult(b0, {"bound": "b_zero"}, metric="final_gap",
                        cells=[(c1, _bc("holds", 0.1, k=2, n=40)), (c2, _bc("violated", None, n=30))],
                        family=_fam("violated", 2, 1, 0, ("n_steps=300",), "Holm"),
                        shape=[St.ShapeTest("n_steps", 0.5, 0.25, 0.75, "rejected", (), (), (), 2, CONF, 10)],
                        rates=[D.RateRow("noise.alpha=1.5", "n_steps", _slope(-0.25, -0.5, 0.0), -0.5, 0.25),
                               D.RateRow("all", "n_steps", _slope(-0.25, -0.5, 0.0), -0.5, 0.2499)])
    ev1 = D.CheckResult(b1, {"bound": "b_one"}, calibration=[
        (0.1, "C_opt", types.SimpleNamespace(C=3.5), types.SimpleNamespace(cells=(held,))),
        (0.01, "C_opt", types.SimpleNamespace(C=math.inf), None)],
        family=_fam("holds", 1, 1))
    ev2 = D.CheckResult(types.SimpleNamespace(name="b<two>"), {}, family=_fam("inconclusive", 3, 1, 2))
    sweep = types.SimpleNamespace(name="sw<1>")
    return D.SweepCheck(sweep, (ev0, ev1, ev2), [("c1", None), ("c2", None)]), c1, c2


def test_sweep_check_rows_every_field(sweep_check):
    sc, c1, c2 = sweep_check
    z = {"check": 0, "bound": "b_zero"}
    want = [
        {**z, "kind": "cell", "cell": "n_steps=100, noise.alpha=1.5", "n_steps": 100, "noise.alpha": 1.5,
         "delta": 0.1, "verdict": "holds", "statistic": "0.9-quantile", "estimate": 1.5, "low": 1.25, "high": 1.75,
         "bound_value": 2.0, "ratio": 0.75, "p_fail": 0.05, "n_seeds": 40, "reason": "why holds"},
        {**z, "kind": "cell", "cell": "n_steps=300, noise.alpha=1.5", "n_steps": 300, "noise.alpha": 1.5,
         "delta": None, "verdict": "violated", "statistic": "0.9-quantile", "estimate": 1.5, "low": 1.25,
         "high": 1.75, "bound_value": 2.0, "ratio": 0.75, "p_fail": None, "n_seeds": 30, "reason": "why violated"},
        {**z, "kind": "family", "verdict": "violated", "n_members": 2, "reason": "Holm"},
        {**z, "kind": "shape", "cell": "n_steps", "verdict": "rejected", "estimate": 0.5, "low": 0.25, "high": 0.75},
        {**z, "kind": "rate", "cell": "noise.alpha=1.5", "verdict": "within", "estimate": -0.25, "low": -0.5,
         "high": 0.0, "bound_value": -0.5},
        {**z, "kind": "rate", "cell": "all", "verdict": "outside", "estimate": -0.25, "low": -0.5, "high": 0.0,
         "bound_value": -0.5},
        {"check": 1, "bound": "b_one", "kind": "held_out", "cell": "n_steps=300", "delta": 0.1, "verdict": "violated",
         "estimate": 5.0, "bound_value": 4.0, "ratio": 1.25, "p_fail": 0.3, "low": 0.2, "high": 0.4,
         "constant": "C_opt", "constant_value": 3.5},
        {"check": 1, "bound": "b_one", "kind": "family", "verdict": "holds", "n_members": 1, "reason": "M"},
        {"check": 2, "bound": "b<two>", "kind": "family", "verdict": "inconclusive", "n_members": 3, "reason": "M"},
    ]
    rows = sc.rows()
    assert len(rows) == len(want)
    for got, exp in zip(rows, want):
        assert got == exp and list(got) == list(exp)


def test_sweep_check_summary_views(sweep_check, monkeypatch):
    sc, _, _ = sweep_check
    assert sc.families == [("b_zero", sc.checks[0].family), ("b_one", sc.checks[1].family),
                           ("b<two>", sc.checks[2].family)]
    assert sc._tally() == "1 holds, 1 violated, 1 inconclusive"
    assert sc.exit_code == 1  # a violated family (and a rate outside its tolerance)
    assert repr(sc) == ("SweepCheck('sw<1>': 3 checks, 2 cells; families: 1 holds, 1 violated, 1 inconclusive; "
                        "exit code 1)")
    assert sc._repr_html_() == (
        "<p><b>SweepCheck sw&lt;1&gt;</b>: 3 checks, exit code 1</p><table><tr><th>bound</th><th>family verdict</th>"
        "<th>members</th><th>violated / hold / inconclusive</th></tr>"
        "<tr><td>b_zero</td><td><b>violated</b></td><td>2</td><td>1 / 1 / 0</td></tr>"
        "<tr><td>b_one</td><td><b>holds</b></td><td>1</td><td>0 / 1 / 0</td></tr>"
        "<tr><td>b&lt;two&gt;</td><td><b>inconclusive</b></td><td>3</td><td>0 / 1 / 2</td></tr></table>")
    df = sc.to_frame()
    assert len(df) == 9 and list(df["kind"]) == [r["kind"] for r in sc.rows()]
    assert list(df.columns)[:5] == ["check", "bound", "kind", "cell", "n_steps"]
    seen = []
    import clipsim.report
    monkeypatch.setattr(clipsim.report, "render", lambda *a: seen.append(a) or ("TEXT", 7))
    assert sc.to_markdown() == "TEXT" and seen == [(sc.sweep, sc.checks, sc.results)]


def test_sweep_check_tally_counts_and_none():
    def sc(*verdicts):
        checks = tuple(D.CheckResult(types.SimpleNamespace(name=f"b{i}"), {}, family=_fam(v, 1))
                       for i, v in enumerate(verdicts))
        return D.SweepCheck(types.SimpleNamespace(name="s"), checks)
    assert sc("holds", "holds", "inconclusive")._tally() == "2 holds, 1 inconclusive"
    assert sc("violated", "violated")._tally() == "2 violated"
    assert sc()._tally() == "none" and sc().exit_code == 0
    empty = D.SweepCheck(types.SimpleNamespace(name="s"), (D.CheckResult(types.SimpleNamespace(name="b"), {}),))
    assert empty._tally() == "none" and empty.families == [] and empty.rows() == []
    assert repr(sc("holds")) == "SweepCheck('s': 1 checks, 0 cells; families: 1 holds; exit code 0)"
    assert sc("holds", "inconclusive").exit_code == 3


def test_to_frame_without_pandas_is_a_one_line_error(sweep_check, monkeypatch):
    import sys
    sc, _, _ = sweep_check
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ValueError) as e:
        sc.to_frame()
    assert str(e.value) == "SweepCheck.to_frame needs pandas: pip install 'clipsim[frames]'"


def test_check_result_item_access():
    r = D.CheckResult("b", {"x": 1}, metric="m")
    assert r["metric"] == "m" and r.get("note") == "" and r.get("nope") is None and r.get("nope", 5) == 5
    assert r["cells"] == [] and r.get("family", 3) is None


# ------------------------------------------------------------------ run_check: per-cell verdicts


HP = {"name": "hp_sqrt", "expr": "C*log(1/delta)*T**(-1/2)", "quantity": "final_gap", "kind": "high_probability"}


def hp_value(C, delta, T):
    return C * math.log(1 / delta) / math.sqrt(T)


def fail_result(T, k, n=100, delta=0.1, C=1.0, seed_diverged=()):
    """final_gap = 0.5 B(delta) on n - k seeds and 2 B(delta) on k seeds: exactly k failures at delta."""
    B = hp_value(C, delta, T)
    q = np.full(n, 0.5 * B)
    q[:k] = 2 * B
    div = np.zeros(n, bool)
    div[list(seed_diverged)] = True
    return FakeResult({"final_gap": q, "max_dist": np.arange(n, dtype=float), "diverged": div},
                      tv={"T": T})


def grid(ks, delta=0.1, n=100, extra=(), C=1.0):
    """[(cell, result)] over n_steps = 100, 400, 1600 with k failures each (independent seeds)."""
    out = []
    for i, (T, k) in enumerate(zip((100, 400, 1600), ks)):
        coords = (("n_steps", T),) + tuple(extra)
        out.append((cell(coords=coords, variables={"n_steps": T}, seed=10 + i), fail_result(T, k, n, delta, C)))
    return out


def test_run_check_per_cell_verdicts_where_and_family():
    res = grid([0, 30, 8])
    spec = {"bound": HP, "delta": 0.1, "values": {"C": 1.0}, "where": {"n_steps": [100, 400]}}
    ev = D.run_check(spec, res)
    assert [c for c, _ in ev.cells] == [res[0][0], res[1][0]]  # 1600 is not selected by where
    assert [(bc.failure.k, bc.verdict, bc.confidence) for _, bc in ev.cells] == [
        (0, "holds", 0.95), (30, "violated", 0.95)]
    assert [bc.bound_value for _, bc in ev.cells] == [pytest.approx(hp_value(1, 0.1, T)) for T in (100, 400)]
    assert ev.family.verdict == "violated" and ev.family.n_members == 2
    assert ev.family.violated == ("n_steps=400, δ=0.1",)
    assert (ev.metric, ev.note, ev.calibration, ev.rates, ev.growth, ev.summary, ev.shape, ev.rare) == (
        "final_gap", "", [], [], [], [], [], {})
    assert ev.bound.name == "hp_sqrt" and ev.spec is spec


def test_run_check_every_delta_and_confidence():
    res = grid([0, 30, 8])
    ev = D.run_check({"bound": HP, "delta": [0.1, 0.5], "values": {"C": 1.0}, "confidence": 0.9}, res)
    got = [(dict(c.coords)["n_steps"], bc.delta, bc.failure.k, bc.verdict, bc.confidence) for c, bc in ev.cells]
    # at delta = 0.5 the bound is log(2)/log(10) as large: the 0.5 B(0.1) values still pass? 0.5 log 10 = 1.15
    # > log 2 = 0.69: every seed fails at delta = 0.5
    assert got == [(100, 0.1, 0, "holds", 0.9), (400, 0.1, 30, "violated", 0.9), (1600, 0.1, 8,
                   cp_verdict(8, 100, 0.1, 0.9), 0.9),
                   (100, 0.5, 100, "violated", 0.9), (400, 0.5, 100, "violated", 0.9),
                   (1600, 0.5, 100, "violated", 0.9)]
    assert ev.family.n_members == 6 and ev.family.level == pytest.approx(0.05)
    assert ev.family.violated == ("n_steps=400, δ=0.1", "n_steps=100, δ=0.5", "n_steps=400, δ=0.5",
                                  "n_steps=1600, δ=0.5")


def test_run_check_per_cell_on_another_metric_and_on_a_record():
    res = grid([0, 0, 0])
    # max_dist = seed index 0..99 > B everywhere but the few smallest: k = number of i > B
    ev = D.run_check({"bound": HP, "delta": 0.1, "values": {"C": 1.0}, "metric": "max_dist"}, res)
    assert ev.metric == "max_dist"
    assert [bc.failure.k for _, bc in ev.cells] == [
        int(np.sum(np.arange(100) > hp_value(1, 0.1, T))) for T in (100, 400, 1600)]
    rec = FakeResult({"final_gap": np.zeros(40), "diverged": np.zeros(40, bool)},
                     records={"gap": np.zeros((40, 2))}, record_steps=[2, 5], tv={"T": 100})
    bt = {"name": "bt", "expr": "C*log(1/delta)/t", "quantity": "final_gap", "kind": "high_probability",
          "rate_var": "t"}
    ev = D.run_check({"bound": bt, "delta": 0.5, "values": {"C": 1.0}, "metric": "gap"}, [(cell(), rec)])
    assert [c.coords for c, _ in ev.cells] == [(("n_steps", 100), ("t", 1)), (("n_steps", 100), ("t", 4))]
    assert [bc.bound_value for _, bc in ev.cells] == [pytest.approx(math.log(2)), pytest.approx(math.log(2) / 4)]
    assert ev.family.n_members == 2
    for extra in ({"calibrate": {"n_steps": 100}}, {"rate": "n_steps"}, {"growth": True}):
        with pytest.raises(ValueError) as e:
            D.run_check({"bound": bt, "delta": 0.5, "values": {"C": 1.0}, "metric": "gap", **extra}, [(cell(), rec)])
        assert str(e.value) == ("[[check]] bt: metric 'gap' is a record: only per-cell checks (no calibrate, rate "
                                "or growth)")
    # an empty selection: no verdicts and no error
    ev = D.run_check({"bound": bt, "delta": 0.5, "values": {"C": 1.0}, "metric": "gap", "rate": None,
                      "where": {"n_steps": 7}}, [(cell(), rec)])
    assert ev.cells == [] and ev.family is None


def test_run_check_summary_section():
    res = grid([0, 30, 8])
    ev = D.run_check({"bound": HP, "metric": ["max_dist", "final_gap"], "statistic": 0.8, "confidence": 0.9,
                      "where": {"n_steps": 400}}, res)
    assert [(r.cell, r.metric) for r in ev.summary] == [(res[1][0], "max_dist"), (res[1][0], "final_gap")]
    x = np.arange(100.0)
    assert ev.summary[0].upper == St.quantile_ci(x, 0.8, 0.9) and ev.summary[0].median == St.quantile_ci(x, 0.5, 0.9)
    assert ev.note == "Per-cell summary of `max_dist`, `final_gap` (no verdicts)."
    assert ev.metric == "max_dist, final_gap" and ev.cells == [] and ev.family is None
    for stat in ("median", None):
        spec = {"bound": HP, "metric": ["max_dist"], **({"statistic": stat} if stat else {})}
        assert D.run_check(spec, res[:1])["summary"][0].upper == St.quantile_ci(x, 0.9, 0.95)
    for extra, bad in (({"delta": 0.1}, "delta"), ({"calibrate": {}}, "calibrate"), ({"rate": "n_steps"}, "rate"),
                       ({"growth": True, "delta": 0.1}, "delta, growth")):
        with pytest.raises(ValueError) as e:
            D.run_check({"bound": HP, "metric": ["max_dist"], **extra}, res)
        assert str(e.value) == (f"[[check]] hp_sqrt: metric = ['max_dist'] (a list) asks for a per-cell summary: "
                                f"needs metric names and no {bad}")
    for metric in ([], ["max_dist", 3]):
        with pytest.raises(ValueError) as e:
            D.run_check({"bound": HP, "metric": metric}, res)
        assert str(e.value).endswith("needs metric names and no delta, calibrate, rate or growth")


def test_run_check_shape_only_note_and_no_per_cell_checks():
    res = grid([0, 30, 8])
    for extra in ({"rate": "n_steps", "n_boot": 50}, {"shape": "n_steps", "delta": 0.1, "n_boot": 50}):
        ev = D.run_check({"bound": HP, **extra}, res)
        assert ev.note == "Per-cell verdicts need a value for C (or `calibrate`); this check tests the shape only."
        assert ev.cells == [] and ev.family is None and ev.calibration == []
    with pytest.raises(ValueError, match="hidden constant"):  # no value, no shape test: per-cell needs C
        D.run_check({"bound": HP, "delta": 0.1}, res)
    ev = D.run_check({"bound": HP, "delta": 0.1, "values": {"C": 1.0}, "rate": "n_steps", "n_boot": 50}, res)
    assert ev.note == "" and len(ev.cells) == 3


# ------------------------------------------------------------------ run_check: rates, growth


def rate_results(order=(2, 0, 1)):
    """final_gap = base / T with one fixed positive base sample: the median's log-log slope in T is -1 exactly.
    Two groups (alpha = 1.25, 2.0); cells given out of order."""
    base = np.random.default_rng(0).lognormal(size=60)
    out = []
    for g, a in enumerate((1.25, 2.0)):
        for i in order:
            T = (100, 400, 1600)[i]
            c = cell(coords=(("n_steps", T), ("noise.alpha", a)), variables={"n_steps": T, "alpha": a},
                     seed=100 + 10 * g + i,
                     optimizer={"name": "clipped_sgd", "eta": {"kind": "horizon", "c": 0.5, "a": -0.5}, "clip": 1.0})
            out.append((c, FakeResult({"final_gap": base / T, "diverged": np.zeros(60, bool)}, tv={"T": T})))
    return out


RATE_BOUND = {"name": "rate_b", "expr": "C*eta*T**(-1/alpha)", "quantity": "final_gap", "kind": "expectation"}


def test_run_check_rate_per_group_with_schedule_and_alpha():
    res = rate_results()
    ev = D.run_check({"bound": RATE_BOUND, "rate": "n_steps", "values": {"alpha": {"expr": "alpha"}},
                      "n_boot": 200, "confidence": 0.9, "statistic": 0.75}, res)
    assert [(r.group, r.var, r.tolerance) for r in ev.rates] == [("noise.alpha=1.25", "n_steps", 0.05),
                                                                 ("noise.alpha=2.0", "n_steps", 0.05)]
    # theory: eta = 0.5 T^(-1/2) as run, so the exponent is -1/2 - 1/alpha
    assert [r.theory for r in ev.rates] == [pytest.approx(-1.3, abs=1e-12), pytest.approx(-1.0, abs=1e-12)]
    samples = [res[j][1].metrics["final_gap"] for j in (1, 2, 0)]
    want = St.loglog_slope([100, 400, 1600], samples, statistic=0.75, confidence=0.9, n_boot=200, seed=0)
    for r in ev.rates:
        assert r.slope == want
    assert want.slope == pytest.approx(-1.0, abs=1e-12)
    assert [r.within for r in ev.rates] == [False, True]
    assert ev.cells == [] and ev.family is None


def test_run_check_rate_defaults_single_group_and_refusals():
    res = [(c, r) for c, r in rate_results() if dict(c.coords)["noise.alpha"] == 2.0]
    res = [(dataclass_replace(c, coords=c.coords[:1]), r) for c, r in res]
    ev = D.run_check({"bound": RATE_BOUND, "rate": "n_steps", "values": {"alpha": 2.0}, "tolerance": 0.3}, res)
    (r,) = ev.rates
    assert (r.group, r.tolerance, r.theory) == ("all", 0.3, pytest.approx(-1.0, abs=1e-12))
    assert (r.slope.statistic, r.slope.confidence, r.slope.n_boot, r.slope.x) == ("median", 0.95, 1000,
                                                                                  (100.0, 400.0, 1600.0))
    with pytest.raises(ValueError) as e:
        D.run_check({"bound": RATE_BOUND, "rate": "objective.d", "values": {"alpha": 2.0}}, res)
    assert str(e.value) == ("[[check]] rate_b: rate = 'objective.d' is not allowed: must be one of n_steps, "
                            "objective.n, optimizer.batch")


def dataclass_replace(obj, **kw):
    import dataclasses
    return dataclasses.replace(obj, **kw)


def test_run_schedule():
    import sympy as sp
    T = sp.Symbol("T", positive=True)
    c = cell(optimizer={"name": "clipped_sgd", "eta": {"kind": "horizon", "c": 0.5, "a": -0.5},
                        "clip": {"kind": "horizon", "c": 2, "a": 0.25}})
    assert D._run_schedule(c, "n_steps") == {"eta": sp.Rational(1, 2) * T ** sp.Rational(-1, 2),
                                             "lam": 2 * T ** sp.Rational(1, 4)}
    assert D._run_schedule(c, "objective.n") is None
    c = cell(optimizer={"name": "sgd", "eta": 0.25, "clip": True})
    assert D._run_schedule(c, "n_steps") == {"eta": sp.Rational(1, 4)}
    c = cell(optimizer={"name": "sgd", "eta": {"kind": "constant", "value": 0.1}, "clip": 3})
    assert D._run_schedule(c, "n_steps") == {"lam": 3}
    assert D._run_schedule(cell(optimizer={"name": "sgd"}), "n_steps") is None
    # floats become rationals (never sqrt(2) or a Float), so the exponent's limit is exact
    c = cell(optimizer={"name": "sgd", "eta": {"kind": "horizon", "c": math.sqrt(2), "a": -math.sqrt(0.5)},
                        "clip": math.sqrt(2)})
    out = D._run_schedule(c, "n_steps")
    coeff, expo = out["eta"].as_coeff_exponent(T)
    assert isinstance(coeff, sp.Rational) and isinstance(expo, sp.Rational) and isinstance(out["lam"], sp.Rational)
    assert float(coeff) == pytest.approx(math.sqrt(2)) and float(expo) == pytest.approx(-math.sqrt(0.5))


def growth_results():
    x = np.random.default_rng(7).pareto(3.0, size=400) + 1.0
    div = np.zeros(400, bool)
    return [(cell(seed=1), FakeResult({"final_gap": x, "diverged": div}, tv={"T": 100}))]


def test_run_check_growth_per_cell():
    res = growth_results()
    deltas = [0.2, 0.1, 0.05]
    ev = D.run_check({"bound": HP, "growth": True, "delta": [None, *deltas], "confidence": 0.9}, res)
    ((c, g),) = ev.growth
    assert c is res[0][0]
    import warnings
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", St.ClipsimWarning)
        want = St.delta_growth(deltas, np.where(res[0][1].metrics["diverged"], np.inf, res[0][1].metrics["final_gap"]),
                               confidence=0.9)
    assert g.decision == want.decision and g.gpd.xi == want.gpd.xi and g.deltas == want.deltas
    assert (g.gpd.xi_low, g.gpd.xi_high) == (want.gpd.xi_low, want.gpd.xi_high)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", St.ClipsimWarning)
        at95 = St.delta_growth(deltas, res[0][1].metrics["final_gap"])
    assert at95.gpd.xi_high != g.gpd.xi_high  # the interval depends on the confidence passed
    for bad in ([0.1, 0.05], [None, 0.1, 0.05], 0.1):
        with pytest.raises(ValueError) as e:
            D.run_check({"bound": HP, "growth": True, "delta": bad}, res)
        assert str(e.value) == "[[check]] hp_sqrt: growth needs a list of at least 3 deltas"
    assert D.run_check({"bound": HP, "growth": False, "delta": 0.1, "values": {"C": 1.0}}, res).growth == []


# ------------------------------------------------------------------ calibration across cells


def calib_results(n_cal=100):
    """Calibration cell n_steps = 100: final_gap = B0 i / 10 (i = 1..n), seed 0 diverged; held out: 400 all 0
    but one diverged seed (k = 1: holds), 1600 all 1e9 (violated)."""
    B0 = hp_value(1.0, 0.1, 100)
    q_cal = B0 * np.arange(1.0, n_cal + 1) / 10
    d_cal = np.zeros(n_cal, bool)
    d_cal[0] = True
    d400 = np.zeros(100, bool)
    d400[5] = True
    data = [(100, q_cal, d_cal), (400, np.zeros(100), d400), (1600, np.full(100, 1e9), np.zeros(100, bool))]
    return [(cell(coords=(("n_steps", T),), variables={"n_steps": T}, seed=20 + i),
             FakeResult({"final_gap": q, "diverged": d}, tv={"T": T})) for i, (T, q, d) in enumerate(data)]


def test_calibration_split_and_calibrate_and_test():
    res = calib_results()
    spec = {"bound": HP, "calibrate": {"n_steps": 100}}
    name, cal_cells, test_cells = D.calibration_split(spec, res, 0.1)
    assert name == "C" and [c.label for c in cal_cells] == ["n_steps=100"]
    assert [c.label for c in test_cells] == ["n_steps=400", "n_steps=1600"]
    assert cal_cells[0].bound == pytest.approx(hp_value(1.0, 0.1, 100))
    assert [c.bound for c in test_cells] == [pytest.approx(hp_value(1.0, 0.1, T)) for T in (400, 1600)]
    assert cal_cells[0].values[0] == math.inf and test_cells[0].values[5] == math.inf
    name, cal, test = D.calibrate_and_test(spec, res, 0.1, confidence=0.8)
    q = np.where(res[0][1].metrics["diverged"], np.inf, res[0][1].metrics["final_gap"])
    want = St.calibrate_constant([St.Cell(q, hp_value(1.0, 0.1, 100), "n_steps=100")], 0.1, 0.8)
    assert cal.C == pytest.approx(want.C, rel=1e-12) and cal.confidence == 0.8 and cal.delta == 0.1
    assert cal.C != pytest.approx(St.calibrate_constant([St.Cell(q, hp_value(1.0, 0.1, 100))], 0.1).C, rel=1e-12)
    assert (test.C, test.delta) == (cal.C, 0.1)
    assert [(c.label, c.verdict, c.failure.k) for c in test.cells] == [("n_steps=400", "holds", 1),
                                                                      ("n_steps=1600", "violated", 100)]
    assert (test.cells[0].failure.low, test.cells[0].failure.high) == St.clopper_pearson(1, 100, 0.8)
    _, cal95, test95 = D.calibrate_and_test(spec, res, 0.1)
    assert cal95.confidence == 0.95 and test95.cells[0].failure.high == St.clopper_pearson(1, 100, 0.95)[1]


def test_calibration_with_too_few_seeds_gives_no_test():
    res = calib_results(n_cal=20)  # 20 < min_seeds_to_certify(0.1) = 35: C = inf
    name, cal, test = D.calibrate_and_test({"bound": HP, "calibrate": {"n_steps": 100}}, res, 0.1)
    assert cal.C == math.inf and test is None
    fam = D.calibration_family([(0.1, name, cal, test)], CONF)
    assert (fam.verdict, fam.n_members, fam.n_inconclusive) == ("inconclusive", 1, 1)


def test_run_check_calibrate_every_delta_and_family():
    res = calib_results()
    ev = D.run_check({"bound": HP, "calibrate": {"n_steps": 100}, "delta": [0.1, 0.05], "confidence": 0.9}, res)
    assert [(d, n) for d, n, _, _ in ev.calibration] == [(0.1, "C"), (0.05, "C")]
    for d, _, cal, test in ev.calibration:
        assert cal.confidence == 0.9 and cal.delta == d and test.delta == d
    assert ev.cells == [] and ev.note == ""
    fam = ev.family
    assert fam.n_members == 4 and fam.verdict == "violated"
    assert fam.violated == ("n_steps=1600, δ=0.1", "n_steps=1600, δ=0.05")
    assert fam == D.calibration_family(ev.calibration, 0.9)
    with pytest.raises(ValueError) as e:
        D.run_check({"bound": HP, "calibrate": {"n_steps": 7}, "delta": 0.1}, res)
    assert str(e.value) == ("[[check]] hp_sqrt: calibrate = {'n_steps': 7} leaves 0 calibration and 3 held-out "
                            "cells; need at least one of each")
    with pytest.raises(ValueError) as e:
        D.run_check({"bound": HP, "calibrate": {"n_steps": [100, 400, 1600]}, "delta": 0.1}, res)
    assert str(e.value).endswith("leaves 3 calibration and 0 held-out cells; need at least one of each")
    shared = [(dataclass_replace(c, config={**c.config, "seed": 5}), r) for c, r in res]
    with pytest.raises(ValueError, match=r"^\[\[check\]\] hp_sqrt: calibrate needs cells with independent draws"):
        D.run_check({"bound": HP, "calibrate": {"n_steps": 100}, "delta": 0.1}, shared)


def test_calibration_family_members_and_pvalues():
    res = calib_results()
    spec = {"bound": HP, "calibrate": {"n_steps": 100}}
    entries = [(d, *D.calibrate_and_test(spec, res, d)) for d in (0.1, 0.05)]
    # at delta = 0.05 the 95% upper end of the 0.95-quantile is the largest value, the diverged seed: C = inf
    assert St.quantile_ci(np.r_[np.inf, np.arange(2.0, 101.0)], 0.95, CONF).high == math.inf
    assert entries[1][2].C == math.inf and entries[1][3] is None and math.isfinite(entries[0][2].C)
    fam = D.calibration_family(entries, CONF)
    assert (fam.verdict, fam.n_members, fam.n_holds, fam.n_inconclusive) == ("violated", 3, 1, 1)
    assert fam.violated == ("n_steps=1600, δ=0.1",)
    # k = 1 of 100 at delta = 0.05: p = P(Bin(100, 0.05) >= 1) = 1 - 0.95^100 is not small: not violated
    one = [(0.05, "C", entries[1][2], types.SimpleNamespace(cells=(types.SimpleNamespace(
        label="x", verdict="inconclusive", failure=types.SimpleNamespace(k=9, n=100)),)))]
    # P(Bin(100, 0.05) >= 9) = 0.063 > 0.025: not violated; at k = 11 it is 0.0115 < 0.025: violated
    assert D.calibration_family(one, CONF).verdict == "inconclusive"
    one[0][3].cells[0].failure.k = 11
    f = D.calibration_family(one, CONF)
    assert f.verdict == "violated" and f.violated == ("x, δ=0.05",) and f.level == pytest.approx(0.025)
    assert D.calibration_family(one, 0.9).level == pytest.approx(0.05)
    # a delta without a test does not stop the members of the next delta
    fam = D.calibration_family(entries[::-1], CONF)
    assert (fam.verdict, fam.n_members, fam.n_holds, fam.n_inconclusive) == ("violated", 3, 1, 1)


def test_calibration_split_with_run_values_another_metric_and_two_free_constants():
    res = [(c, FakeResult({"m": r.metrics["final_gap"], "diverged": r.metrics["diverged"]}, tv={**r.tv, "L": 2.0}))
           for c, r in calib_results()]  # no metric named after the bound's quantity
    gb = {**HP, "name": "hp_g", "expr": "C*G*log(1/delta)*T**(-1/2)"}
    spec = {"bound": gb, "calibrate": {"n_steps": 100}, "metric": "m", "values": {"G": {"expr": "L"}}}
    name, cal_cells, test_cells = D.calibration_split(spec, res, 0.1)
    assert name == "C" and cal_cells[0].bound == pytest.approx(2 * hp_value(1.0, 0.1, 100))
    assert [c.bound for c in test_cells] == [pytest.approx(2 * hp_value(1.0, 0.1, T)) for T in (400, 1600)]
    two = {**HP, "name": "hp_2", "expr": "C*log(1/delta)*T**(-1/2) + C_2"}
    with pytest.raises(ValueError) as e:
        D.calibration_split({"bound": two, "calibrate": {"n_steps": 100}}, res, 0.1)
    assert str(e.value) == ("[[check]] hp_2: calibrate needs exactly one hidden constant without a value; "
                            "hidden: C, C_2")


def test_shape_test_with_run_values_another_metric_and_coordinates_first():
    res = [(dataclass_replace(c, variables={"n_steps": 7, "alpha": 1.0}),
            FakeResult({"m": r.metrics["final_gap"], "diverged": r.metrics["diverged"]}, tv={**r.tv, "L": 2.0}))
           for c, r in shape_results()]  # a grid coordinate wins over a variable of the same name
    spec = {"bound": SHAPE_B, "delta": DELTAS2, "metric": "m", "values": {"C": {"expr": "L"}}, "n_boot": 50}
    got = D.shape_test(spec, D.resolve_bound(SHAPE_B), res, "n_steps")
    same_shape(got, St.shape_trend(shape_members(res, "n_steps", C=2.0, metric="m"), "n_steps", 0.95, 50, seed=0))
    assert got.x == pytest.approx((100, 100, 400, 400, 1600, 1600))


# ------------------------------------------------------------------ shape tests


SHAPE_B = {"name": "shape_b", "expr": "C*T*delta", "quantity": "final_gap", "kind": "high_probability"}
DELTAS2 = [0.25, 0.125]


def shape_results(extra=(), seeds=(30, 31, 32)):
    rng = np.random.default_rng(3)
    out = []
    for i, T in enumerate((100, 400, 1600)):
        q = rng.lognormal(size=80) * T ** 0.3
        div = np.zeros(80, bool)
        div[i] = True
        out.append((cell(coords=(("n_steps", T),) + tuple(extra), variables={"n_steps": T, "alpha": 1.25 + 0.25 * i},
                         seed=seeds[i]), FakeResult({"final_gap": q, "diverged": div}, tv={"T": T})))
    return out


def shape_members(results, var, C=1.0, metric="final_gap"):
    members = []
    for c, r in results:
        q = np.where(r.metrics["diverged"], np.inf, r.metrics[metric])
        T = r.tv["T"]
        for d in DELTAS2:
            if var == "delta":
                x, group = 1 / d, c.key
            else:
                x, group = dict(c.coords).get(var, c.variables.get(var.split(".")[-1])), (
                    tuple((p, v) for p, v in c.coords if p != var), d)
            members.append((f"{c.label()}, δ={d:g}", c.key, q, C * T * d, d, x, group))
    return members


def same_shape(got, want):
    assert (got.var, got.verdict, got.labels, got.x, got.n_groups, got.confidence, got.n_boot) == (
        want.var, want.verdict, want.labels, want.x, want.n_groups, want.confidence, want.n_boot)
    assert (got.slope, got.low, got.high) == pytest.approx((want.slope, want.low, want.high), rel=1e-9)
    assert got.ratios == pytest.approx(want.ratios, rel=1e-12)


@pytest.mark.parametrize("var, label, n_groups", [("n_steps", "n_steps", 2), ("delta", "1/δ", 3)])
def test_shape_test_matches_the_trend_of_its_members(var, label, n_groups):
    res = shape_results(extra=(("noise.alpha", 1.5),))
    spec = {"bound": SHAPE_B, "delta": [None, *DELTAS2], "n_boot": 200}
    got = D.shape_test(spec, D.resolve_bound(SHAPE_B), res, var, conf=0.9)
    want = St.shape_trend(shape_members(res, var), label, 0.9, 200, seed=0)
    same_shape(got, want)
    assert got.n_groups == n_groups and got.x[:2] == pytest.approx((100, 100) if var == "n_steps" else (4, 8))
    assert got.labels[:2] == ("n_steps=100, noise.alpha=1.5, δ=0.25", "n_steps=100, noise.alpha=1.5, δ=0.125")


def test_shape_test_uses_the_calibrated_constant_and_defaults():
    res = shape_results()
    b = D.resolve_bound(SHAPE_B)
    cal = [(0.25, "C", types.SimpleNamespace(C=2.5), None), (0.125, "C_x", types.SimpleNamespace(C=math.inf), None)]
    got = D.shape_test({"bound": SHAPE_B, "delta": DELTAS2}, b, res, "n_steps", cal)
    want = St.shape_trend(shape_members(res, "n_steps", C=2.5), "n_steps", 0.95, 1000, seed=0)
    same_shape(got, want)
    assert got.n_boot == 1000 and got.confidence == 0.95
    # a value given wins over the fitted one
    got = D.shape_test({"bound": SHAPE_B, "delta": DELTAS2, "values": {"C": 4.0}, "n_boot": 50}, b, res, "n_steps",
                       cal)
    same_shape(got, St.shape_trend(shape_members(res, "n_steps", C=4.0), "n_steps", 0.95, 50, seed=0))


def test_shape_test_by_variable_name_and_refusals():
    res = shape_results()
    b = D.resolve_bound(SHAPE_B)
    # 'noise.alpha' is not a grid coordinate here; its last component is a cell variable (1.25, 1.5, 1.75)
    bare = [(dataclass_replace(c, coords=()), r) for c, r in res]
    got = D.shape_test({"bound": SHAPE_B, "delta": DELTAS2, "n_boot": 50}, b, bare, "noise.alpha")
    assert got.x == pytest.approx((1.25, 1.25, 1.5, 1.5, 1.75, 1.75)) and got.var == "noise.alpha"
    same_shape(got, St.shape_trend(shape_members(bare, "noise.alpha"), "noise.alpha", 0.95, 50, seed=0))
    with pytest.raises(ValueError) as e:
        D.shape_test({"bound": SHAPE_B, "delta": DELTAS2}, b, res, "optimizer.batch")
    assert str(e.value) == ("[[check]] shape_b: shape = 'optimizer.batch' is not a numeric grid value of cell "
                            "[n_steps=100]")
    with pytest.raises(ValueError) as e:
        D.shape_test({"bound": SHAPE_B}, b, res, "n_steps")
    assert str(e.value) == "[[check]] shape_b: shape needs delta"
    with pytest.raises(ValueError) as e:
        D.shape_test({"bound": SHAPE_B, "delta": DELTAS2}, b, shape_results(seeds=(1, 2, 1)), "n_steps")
    assert str(e.value) == ("[[check]] shape_b: shape needs cells with independent draws, but cells [n_steps=100] "
                            "and [n_steps=1600] share streams (seed 1): set [sweep] streams = \"independent\"")


def test_shape_vars_and_run_check_shapes():
    b = D.resolve_bound(SHAPE_B)
    assert D._shape_vars({"shape": "n_steps"}, b) == ["n_steps"]
    assert D._shape_vars({"shape": ["n_steps", "delta"]}, b) == ["n_steps", "delta"]
    assert D._shape_vars({}, b) == []
    with pytest.raises(ValueError) as e:
        D._shape_vars({"shape": ["n_steps", 3]}, b)
    assert str(e.value) == ("[[check]] shape_b: shape = ['n_steps', 3] is not allowed: must be grid names or "
                            "'delta'")
    with pytest.raises(ValueError) as e:
        D._shape_vars({"shape": "n_steps"}, D.resolve_bound(RATE_BOUND))
    assert str(e.value) == "[[check]] rate_b: shape = ['n_steps'] needs a high-probability bound (with delta)"
    res = shape_results()
    ev = D.run_check({"bound": SHAPE_B, "delta": DELTAS2, "shape": ["n_steps", "delta"], "n_boot": 50,
                      "confidence": 0.9}, res)
    assert [s.var for s in ev.shape] == ["n_steps", "1/δ"]
    same_shape(ev.shape[0], St.shape_trend(shape_members(res, "n_steps"), "n_steps", 0.9, 50, seed=0))
    same_shape(ev.shape[1], St.shape_trend(shape_members(res, "delta"), "1/δ", 0.9, 50, seed=0))
    cal = D.run_check({"bound": SHAPE_B, "delta": DELTAS2, "shape": "n_steps", "n_boot": 50,
                       "calibrate": {"n_steps": 100}}, res)
    C = cal.calibration[-1][2].C  # one constant scales every ratio: the last finite fit is used
    assert math.isfinite(C) and C != cal.calibration[0][2].C
    same_shape(cal.shape[0], St.shape_trend(shape_members(res, "n_steps", C=C), "n_steps", 0.95, 50, seed=0))


# ------------------------------------------------------------------ symmetric noise, own bounds


def test_refuse_asymmetric_noise():
    sym = types.SimpleNamespace(name="sym", symmetric_noise=True)
    lomax = {"family": "lomax", "tail_index": 2.5}
    res = [(cell(seed=1), None), (cell(coords=(("n_steps", 300),), seed=2, noise=lomax), None)]
    with pytest.raises(ValueError) as e:
        D._refuse_asymmetric(sym, res)
    assert str(e.value) == ("[[check]] sym is proved for symmetric noise only; cell [n_steps=300] has asymmetric "
                            "noise lomax(tail_index=2.5, scale=1, vector='iid'): restrict the check with `where`")
    assert D._refuse_asymmetric(sym, res[:1]) is None
    assert D._refuse_asymmetric(types.SimpleNamespace(name="any", symmetric_noise=False), res) is None
    assert D._refuse_asymmetric(types.SimpleNamespace(name="plain"), res) is None


def test_run_check_refuses_asymmetric_noise_after_where():
    n = 100
    mk = lambda T, seed, noise=None: (cell(coords=(("n_steps", T),), seed=seed, noise=noise),  # noqa: E731
                                      FakeResult({"avg_grad_sq": np.zeros(n), "diverged": np.zeros(n, bool)},
                                                 tv={"T": T}))
    res = [mk(100, 1), mk(300, 2, {"family": "lomax", "tail_index": 2.5})]
    spec = {"bound": "armacki_2025_symmetric_noise", "delta": 0.1, "values": {"C_opt": 1.0}}
    with pytest.raises(ValueError, match=r"^\[\[check\]\] armacki_2025_symmetric_noise is proved for symmetric "
                                         r"noise only; cell \[n_steps=300\]"):
        D.run_check(spec, res)
    ev = D.run_check({**spec, "where": {"n_steps": 100}}, res)
    assert [(c.coords, bc.verdict) for c, bc in ev.cells] == [((("n_steps", 100),), "holds")]


def test_resolve_bound_and_bound_name(monkeypatch):
    import datetime

    import theory
    monkeypatch.setattr(D, "_INLINE_CACHE", {})  # parse here, whatever other tests resolved before
    assert D.resolve_bound("armacki_2025_symmetric_noise") is theory.get("armacki_2025_symmetric_noise")
    assert D.bound_name("armacki_2025_symmetric_noise") == "armacki_2025_symmetric_noise"
    table = {"name": "own", "expr": "C*log(1/delta)*T**(-1/2)", "quantity": "final_gap", "kind": "high_probability",
             "hidden": ["C"]}
    b = D.resolve_bound(table)
    assert (b.name, b.quantity, b.kind, b.delta.name, [h.name for h in b.hidden_constants]) == (
        "own", "final_gap", "high_probability", "delta", ["C"])
    assert D.resolve_bound(dict(table)) is b and D.bound_name(table) == "own"
    assert D.resolve_bound(dict(reversed(table.items()))) is b  # one cache entry whatever the key order
    assert len(D._INLINE_CACHE) == 1
    dated = D.resolve_bound({**table, "name": "own_d", "description": datetime.date(2024, 5, 1)})  # a TOML date
    assert dated.name == "own_d" and D.resolve_bound({**table, "name": "own_d",
                                                      "description": datetime.date(2024, 5, 1)}) is dated
    assert table["hidden"] == ["C"] and "delta" not in table  # the spec's table is not changed
    e_b = D.resolve_bound({"name": "own_e", "expr": "C*T**(-1/2)", "quantity": "final_gap", "kind": "expectation"})
    assert e_b.delta is None and e_b.rate_var == "T"
    cases = [
        ("nope_bound", "[[check]] bound = 'nope_bound' is not allowed: unknown bound 'nope_bound'"),
        (3, "[[check]] bound = 3 is not allowed: must be a registry name or a table {name, expr, quantity, kind}"),
        ({**table, "zz": 1}, "[[check]] bound: unknown key 'zz': valid keys are name, expr, quantity, kind, delta, "
                             "hidden, valid_when, schedule, defaults, rate_var, description"),
        ({"name": "x", "expr": "C*T"}, "[[check]] bound: missing key(s) quantity, kind (an own bound needs name, "
                                       "expr, quantity, kind)"),
        ({**table, "expr": "C*T + foo"}, "[[check]] bound 'own': parse_bound: unknown name 'foo'"),
        ({**table, "hidden": ["C_2"]}, "[[check]] bound 'own': hidden = ['C_2'] is not allowed: the expression's "
                                       "hidden constants are ['C']"),
        ({**table, "expr": "log(1/delta)*T**(-1/2)"}, "[[check]] bound 'own': hidden = ['C'] is not allowed: the "
                                                      "expression's hidden constants are none"),
    ]
    for spec_bound, msg in cases:
        with pytest.raises(ValueError) as e:
            D.resolve_bound(spec_bound)
        assert str(e.value).startswith(msg), str(e.value)
    with pytest.raises(ValueError) as e:
        D.resolve_bound(3, where="[[figure]] bound")
    assert str(e.value).startswith("[[figure]] bound = 3 is not allowed")
    with pytest.raises(ValueError) as e:
        D.resolve_bound({**table, "kind": 5})
    assert str(e.value).startswith("[[check]] bound 'own': ")


# ------------------------------------------------------------------ check_sweep / load_results


def sweep_spec(checks=True):
    spec = {"sweep": {"name": "t_dec", "seeds": 100, "seed": 4},
            "objective": {"name": "quadratic", "dim": 2}, "noise": {"family": "gaussian", "scale": 1.0},
            "optimizer": {"name": "clipped_sgd", "eta": 0.1, "clip": 1.0},
            "grid": {"n_steps": [100, 400]}}
    if checks:
        spec["check"] = [{"bound": HP, "delta": 0.1, "values": {"C": 1.0}},
                         {"bound": HP, "delta": 0.1, "values": {"C": 1.0}, "where": {"n_steps": 400}}]
    return spec


def fake_store(sweep, ks):
    from clipsim.store import Store

    class MemStore(Store):
        def __init__(self):
            self.path = "mem://"
            self.data = {c.key: fail_result(dict(c.coords)["n_steps"], k) for c, k in zip(sweep.cells, ks)}

        def has(self, key):
            return key in self.data

        def load(self, key):
            return self.data[key]
    return MemStore()


def test_check_sweep_from_a_spec_a_sweep_or_a_path(tmp_path, spec_toml):
    from clipsim import sweep as S
    sw = S.from_spec(sweep_spec())
    store = fake_store(sw, [0, 30])
    path = tmp_path / "s.toml"
    path.write_text(spec_toml(sweep_spec()))
    for source in (sw, sweep_spec(), str(path)):
        sc = D.check_sweep(source, store)
        assert sc.sweep.name == "t_dec" and [c for c, _ in sc.results] == list(sw.cells)
        assert [r for _, r in sc.results] == [store.data[c.key] for c in sw.cells]
        assert len(sc.checks) == 2
        assert [(bc.failure.k, bc.verdict) for _, bc in sc.checks[0].cells] == [(0, "holds"), (30, "violated")]
        assert [(bc.failure.k, bc.verdict) for _, bc in sc.checks[1].cells] == [(30, "violated")]
        assert sc.exit_code == 1 and sc._tally() == "2 violated"
    assert D.check_sweep(sw, fake_store(sw, [0, 0])).exit_code == 0


def test_check_sweep_refusals(tmp_path):
    from clipsim import sweep as S
    from clipsim.store import Store
    sw = S.from_spec(sweep_spec())
    with pytest.raises(ValueError) as e:  # no store at that path: refused, and none is created there
        D.check_sweep(sw, str(tmp_path / "st"))
    assert str(e.value).startswith(f"store = {str(tmp_path / 'st')!r} is not allowed: no store there")
    assert not (tmp_path / "st").exists()
    with pytest.raises(ValueError) as e:
        D.check_sweep(sw, Store(tmp_path / "st"))
    assert str(e.value) == (f"2 of 2 cells of sweep 't_dec' are not in store {Store(tmp_path / 'st').path}: "
                            "run `clipsim run` first")
    half = fake_store(sw, [0, 0])
    del half.data[sw.cells[1].key]
    with pytest.raises(ValueError) as e:
        D.load_results(sw, half)
    assert str(e.value) == "1 of 2 cells of sweep 't_dec' are not in store mem://: run `clipsim run` first"
    with pytest.raises(ValueError) as e:
        D.check_sweep(sweep_spec(checks=False), half)
    assert str(e.value) == "sweep 't_dec' declares no [[check]] tables"
    full = fake_store(sw, [3, 4])
    assert D.load_results(sw, full) == [(c, full.data[c.key]) for c in sw.cells]


# ------------------------------------------------------------------ more run_check paths: rare, n, notes


def test_run_check_rare_gets_the_bound_value_of_each_cell(monkeypatch):
    import clipsim.rare
    seen = []

    def fake_rare(spec, metric, results, bound_value, confidence):
        seen.append((spec, metric, results, confidence))
        return {"verdict": "holds", "B": [bound_value(c, r, d) for c, r in results for d in (0.1, 0.01)]}
    monkeypatch.setattr(clipsim.rare, "rare_check", fake_rare)
    res = [(c, FakeResult(r.metrics, tv={**r.tv, "L": 3.0})) for c, r in grid([0, 0, 0])]
    spec = {"bound": HP, "delta": [0.1], "values": {"C": {"expr": "L * n_steps / 100"}}, "rare": "splitting",
            "confidence": 0.9, "where": {"n_steps": [400, 1600]}}
    ev = D.run_check(spec, res)
    assert seen == [(spec, "final_gap", res[1:], 0.9)]
    assert ev.rare["verdict"] == "holds"
    assert ev.rare["B"] == [pytest.approx(hp_value(3 * T / 100, d, T), rel=1e-12) for T in (400, 1600)
                            for d in (0.1, 0.01)]
    assert D.run_check({**spec, "rare": ""}, res).rare == {} and len(seen) == 1


def test_run_check_rate_in_n_with_two_other_coordinates_and_run_values():
    base = np.random.default_rng(1).lognormal(size=40)
    res = []
    for i, n in enumerate((10, 40, 160)):
        c = cell(coords=(("objective.n", n), ("noise.alpha", 1.5), ("optimizer.eta", 0.1)),
                 variables={"n": n}, seed=200 + i)
        res.append((c, FakeResult({"final_gap": base / np.sqrt(n), "diverged": np.zeros(40, bool)},
                                  tv={"T": 100, "n": n, "L": 4.0})))
    nb = {"name": "n_b", "expr": "C*n**(-1/alpha)", "quantity": "final_gap", "kind": "expectation", "rate_var": "n"}
    ev = D.run_check({"bound": nb, "rate": "objective.n", "values": {"alpha": {"expr": "L / 2"}}, "n_boot": 50}, res)
    (r,) = ev.rates
    assert (r.group, r.var, r.theory) == ("noise.alpha=1.5, optimizer.eta=0.1", "objective.n", pytest.approx(-0.5))
    assert r.slope.slope == pytest.approx(-0.5, abs=1e-12) and r.slope.x == (10.0, 40.0, 160.0) and r.within


def test_run_check_notes_and_free_constants_with_values():
    res = grid([0, 0, 0])
    two = {**HP, "name": "hp_two", "expr": "C*C_2*log(1/delta)*T**(-1/2)"}
    ev = D.run_check({"bound": two, "rate": "n_steps", "n_boot": 50}, res)
    assert ev.note == ("Per-cell verdicts need a value for C, C_2 (or `calibrate`); this check tests the shape "
                       "only.")
    # a hidden constant with a value is not the one calibrated
    calib = calib_results()
    ev = D.run_check({"bound": two, "calibrate": {"n_steps": 100}, "delta": 0.1, "values": {"C_2": 2.0}}, calib)
    ((_, name, cal, _),) = ev.calibration
    B0 = 2 * hp_value(1.0, 0.1, 100)
    q = np.where(calib[0][1].metrics["diverged"], np.inf, calib[0][1].metrics["final_gap"])
    assert name == "C" and cal.C == pytest.approx(St.calibrate_constant([St.Cell(q, B0)], 0.1).C, rel=1e-12)


def test_bound_name_does_not_resolve_a_registry_name():
    assert D.bound_name("not_a_registered_bound") == "not_a_registered_bound"
