"""clipsim falsify: spec validation, the budget plan, a violation caught in a small part of a box
(real simulator, own bound), the false-alarm rate of the whole procedure on a bound that holds
everywhere (a stub sampler of Q behind the real search and certification code), resume, exit codes."""
import copy
import hashlib
import json
import math
import os

import numpy as np
import pytest
from scipy import stats as sst

import theory
from clipsim import stats as St
from clipsim import sweep as S
from clipsim.cli import main
from clipsim.falsify import (SpecProblem, check_table, critical_count, falsify, hunt,
                             noise_is_symmetric, parse_axes, plan_budget)
from clipsim.store import Store

# An own bound that is false only at small alpha: B = C min(1, 4(alpha - 1)) log(T/delta) T^r(alpha)
# with C = 0.7 and alpha = the noise's alpha - 0.05. A pilot (4000 seeds per alpha, this spec: T = 100,
# d = 2, clipped SGD with the prescribed schedule) gave the (1-delta)-quantile of Q over
# log(T/delta) T^r(alpha) between 0.36 (alpha = 1.1) and 0.56 (alpha = 1.9): for noise alpha >= 1.3 the
# factor min(1, .) is 1 and the bound holds with room (0.56 < 0.7); below alpha ~ 1.2 the factor makes
# it false (at 1.1: 0.36 / (0.7 * 0.2) = 2.6). The violated part is alpha < ~1.2 of the box [1.0, 1.9].
OWN = {
    "sweep": {"name": "own_falsify", "n_steps": 100, "seed": 11},
    "vars": {"c_eta": 0.5, "c_lam": 1.0},
    "objective": {"name": "quadratic", "dim": 2},
    "noise": {"family": "stable", "alpha": 1.5},
    "optimizer": {"name": "clipped_sgd",
                  "eta": {"kind": "horizon", "c": {"expr": "c_eta"}, "a": {"expr": "-alpha/(3*alpha - 2)"}},
                  "clip": {"kind": "horizon", "c": {"expr": "c_lam"}, "a": {"expr": "1/(3*alpha - 2)"}}},
    "falsify": {
        "bound": {"name": "too_small_at_low_alpha", "quantity": "avg_grad_sq", "kind": "high_probability",
                  "expr": "C * min(1, 4*(alpha - 1)) * log(T/delta) * T**((2 - 2*alpha)/(3*alpha - 2))",
                  "valid_when": ["alpha > 1", "alpha <= 2", "delta < 1"]},
        "delta": 0.05, "budget": 3000,
        "values": {"alpha": {"expr": "alpha - 0.05"}, "C": 0.7},
        "search": {"noise.alpha": {"min": 1.0, "max": 1.9}}},
}


def _own(**falsify):
    spec = copy.deepcopy(OWN)
    spec["falsify"].update(falsify)
    return spec


# ---- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("change, needle", [
    ({"colour": 1}, "unknown key 'colour'"),
    ({"values": {"alpha": 1.4}}, "hidden constant(s) C"),
    ({"search": {"noise.alpha": {"min": 1.9, "max": 1.0}}}, "[falsify.search] 'noise.alpha' max"),
    ({"search": {"noise.alpha": {"min": 1.0}}}, "a range needs min and max"),
    ({"search": {"noise.alpha": {"min": 1.0, "max": 1.9, "step": 2}}}, "unknown key 'step'"),
    ({"search": {"seeds": [1, 2]}}, "[falsify.search] key 'seeds' is not allowed"),
    ({"search": {"noise.alpha": []}}, "must be a non-empty list"),
    ({"budget": 0}, "[falsify] budget = 0"),
    ({"delta": 1.5}, "[falsify] delta = 1.5"),
    ({"confirm_fraction": 1.0}, "[falsify] confirm_fraction = 1.0"),
    ({"bound": "zhang_2020_clipped_sgd"}, "falsify hunts upper bounds"),
    ({"bound": {"name": "b", "expr": "C*T", "quantity": "avg_grad_sq", "kind": "high_probability",
                "shape": 1}}, "unknown key 'shape'"),
])
def test_bad_falsify_tables_are_one_line_errors(change, needle):
    spec = _own(**change)
    with pytest.raises(ValueError) as e:
        S.from_spec(spec)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_searched_path_may_not_also_be_gridded():
    spec = _own()
    spec["grid"] = {"noise.alpha": [1.5]}
    with pytest.raises(ValueError, match="also in \\[grid\\]"):
        S.from_spec(spec)


def test_axes_map_the_unit_cube_onto_ranges_logs_integers_and_lists():
    a, b, c, d = parse_axes({"x": {"min": 1.0, "max": 3.0}, "y": {"min": 10, "max": 1000, "log": True},
                             "z": {"min": 0.1, "max": 10.0, "log": True}, "w": ["p", "q", "r"]})
    assert (a.value(0), a.value(0.5), a.value(1)) == (1.0, 2.0, 3.0)
    assert b.integer and b.value(0.5) == 100 and isinstance(b.value(0.3), int)
    assert math.isclose(c.value(0.5), 1.0)
    assert [d.value(u) for u in (0, 0.34, 0.99, 1.0)] == ["p", "q", "r", "r"]


def test_plan_spends_the_budget_and_certifying_needs_enough_confirmation_seeds():
    p = plan_budget(3000, 32, 1, 0.3, 1)
    spent = sum(n * (s - q) for n, s, q in zip(p.survivors, p.rungs, (0,) + p.rungs[:-1]))
    assert spent + p.local_budget + p.confirm * p.confirm_seeds == 3000
    assert p.rungs[0] >= 8 and p.survivors[-1] == 1
    # the smallest failure count that certifies: the exact one-sided binomial test at level a
    k = critical_count(100, 0.05, 0.025)
    assert St.violation_pvalue(k, 100, 0.05) <= 0.025 < St.violation_pvalue(k - 1, 100, 0.05)
    # one seed cannot certify at delta = 0.05 (P(fail) = 0.05 > a even if it fails: 2 > n); two can
    assert critical_count(1, 0.05, 0.025) == 2 and critical_count(2, 0.05, 0.025) == 2


def test_symmetry_of_noise_laws():
    from clipsim import noise as N

    assert noise_is_symmetric(N.stable(1.5)) and not noise_is_symmetric(N.Noise.from_dict(
        {"family": "stable", "alpha": 1.5, "beta": 0.5}))


# ---- the stub: the real search and certification on a cheap sampler of Q ------------------------
class Stub:
    """Q/B with P(Q > B) = p(point) exactly: Q = log(U) / log(p), B = 1; streams by SHA-256."""

    def __init__(self, pfun, repeat=0):
        self.pfun, self.repeat = pfun, repeat
        self.bound = theory.get("li_liu_2023_clipped_sgd")

    def cell(self, point):
        return point, 1.0

    def sample(self, point, stage, first, count):
        blob = json.dumps([self.repeat, stage, point, first, count], sort_keys=True).encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(blob).digest()[:8], "big"))
        return np.log(rng.random(count)) / math.log(self.pfun(point)), "stub"


STUB_TABLE = {"bound": "li_liu_2023_clipped_sgd", "delta": 0.05, "values": {"C_opt": 1.0},
              "search": {"noise.alpha": {"min": 1.1, "max": 2.0}, "vars.c_eta": {"min": 0.1, "max": 10.0, "log": True},
                         "n_steps": [100, 1000]}}


def _stub_hunt(pfun, budget, repeat):
    return hunt(Stub(pfun, repeat), check_table({**STUB_TABLE, "budget": budget}), seed=repeat)


def _bad_corner(point):  # false (P = 0.15 > delta) in 1/9 x 1/2 of the box, P = delta/2 elsewhere
    return 0.15 if point["noise.alpha"] < 1.2 and point["n_steps"] == 100 else 0.025


def test_stub_violation_in_a_small_corner_is_certified():
    caught = [_stub_hunt(_bad_corner, 3000, r) for r in range(5)]
    for res in caught:
        assert res.outcome == "violated" and res.exit_code == 1
        (c,) = [c for c in res.confirmations if c.certified]
        assert _bad_corner(c.point) == 0.15


def _false_alarm_study(repeats):
    """Certified violations over ``repeats`` hunts of a bound that holds everywhere with equality
    (P(Q > B) = delta at every cell: the hardest case for the level), against (1 - 0.95)/2."""
    results = [_stub_hunt(lambda p: 0.05, 1000, r) for r in range(repeats)]
    alarms = sum(r.outcome == "violated" for r in results)
    low, _ = St.clopper_pearson(alarms, repeats, 0.95)
    return alarms, low, results


def test_false_alarm_rate_of_the_whole_procedure_is_at_most_the_level():
    alarms, low, results = _false_alarm_study(500)
    assert low <= results[0].level, f"{alarms}/500 false violations: CI low end {low:.3g} > {results[0].level}"
    assert {r.outcome for r in results} <= {"violated", "none_found", "undecided"}


@pytest.mark.slow
def test_false_alarm_rate_many_repeats():
    alarms, low, results = _false_alarm_study(5000)
    plan = results[0].plan
    # every confirmed cell has P = delta exactly, so the rate is the exact test's size at n = confirm_seeds
    exact = sst.binom.sf(critical_count(plan.confirm_seeds, 0.05, 0.025) - 1, plan.confirm_seeds, 0.05)
    _, high = St.clopper_pearson(alarms, 5000, 0.95)
    assert low <= results[0].level, f"{alarms}/5000 false violations: CI low end {low:.3g} > level"
    assert low <= exact <= high, f"{alarms}/5000 false violations, exact size {exact:.4g} outside [{low:.3g}, {high:.3g}]"


def test_budget_too_small_to_say_anything_is_exit_3_and_simulates_nothing():
    res = _stub_hunt(_bad_corner, 1, 0)
    assert res.outcome == "undecided" and res.exit_code == 3 and res.seeds_used == 0
    assert "too small" in res.reason


# ---- the real simulator ----------------------------------------------------------------------
def test_real_violation_at_small_alpha_is_certified_and_a_rerun_resumes(tmp_path):
    store = Store(tmp_path / "store")
    res = falsify(_own(), store=store)
    assert res.outcome == "violated", res.summary()
    (c,) = [c for c in res.confirmations if c.certified]
    assert c.point["noise.alpha"] < 1.3          # where min(1, 4(alpha - 1)) < 1: the only false part
    assert all(v.point["noise.alpha"] > 1.05 for v in res.visited)   # bound alpha > 1: validity condition
    assert res.rejected and all(p["noise.alpha"] <= 1.05 for p, _ in res.rejected)
    assert os.path.exists(res.figure)
    n_stored = len(store.keys())
    again = falsify(_own(), store=store)     # every chunk is found in the store: nothing new is simulated
    assert len(store.keys()) == n_stored and again.confirmations == res.confirmations
    frame = res.to_frame()
    assert len(frame) == len(res.visited) and frame["certified"].sum() == 1
    assert {"noise.alpha", "bound_value", "seeds", "failures", "p_low", "p_high"} <= set(frame.columns)
    assert repr(res).startswith("FalsifyResult(too_small_at_low_alpha, delta=0.05: violated;")


def test_cli_exit_codes(tmp_path, capsys, spec_toml):
    spec = tmp_path / "own.toml"
    spec.write_text(spec_toml(_own(budget=1500)))
    assert S.load(spec).spec == _own(budget=1500)
    out = tmp_path / "report.md"
    assert main(["falsify", str(spec), "--store", str(tmp_path / "s"), "--out", str(out), "--quiet"]) == 1
    text = out.read_text()
    assert "**Outcome: violated** (exit 1)" in text and "## Confirmation (fresh seeds)" in text
    assert main(["falsify", str(spec), "--store", str(tmp_path / "s2"), "--budget", "1", "--quiet"]) == 3
    assert not Store(tmp_path / "s2").keys()
    assert main(["falsify", str(spec), "--budget", "-5", "--quiet"]) == 2
    assert "budget = -5" in capsys.readouterr().err


def test_cells_outside_the_validity_conditions_are_never_proposed():
    sw = S.from_spec(_own())
    problem = SpecProblem(sw, check_table(sw.spec["falsify"], sw.spec))
    cell, why = problem.cell({"noise.alpha": 1.02})          # bound alpha = 0.97 <= 1
    assert cell is None and "alpha > 1" in why
    b = problem.bound.with_()
    object.__setattr__(b, "symmetric_noise", True)
    problem.bound = b
    cell, why = problem.cell({"noise.alpha": 1.5, "noise.beta": 0.5})
    assert cell is None and "symmetric" in why
    assert problem.cell({"noise.alpha": 1.5, "noise.beta": 0.0})[0] is not None


def test_two_confirmed_cells_are_distinct_and_bonferroni_corrected():
    res = hunt(Stub(_bad_corner), check_table({**STUB_TABLE, "budget": 3000, "confirm": 2}))
    a, b = res.confirmations
    assert a.point != b.point and a.n == b.n == res.plan.confirm_seeds
    for c in res.confirmations:
        assert c.certified == (c.pvalue <= res.level / 2)
        assert (c.low > 0.05) == c.certified        # the interval at confidence 1 - 2 level / 2


def test_e9_spec_loads_and_its_calibration_point_is_proposable():
    sw = S.load(os.path.join(os.path.dirname(__file__), "..", "experiments", "e9_falsify.toml"))
    fz = check_table(sw.spec["falsify"], sw.spec)
    assert len(parse_axes(fz["search"])) == 5
    cell, b = SpecProblem(sw, fz).cell({"noise.alpha": 1.5, "vars.c_eta": 0.5, "vars.c_lam": 1.0,
                                        "n_steps": 300, "objective": {"name": "quadratic", "dim": 4}})
    assert cell is not None and b > 0


def test_own_bound_is_parsed_by_the_one_own_bound_parser():
    from clipsim import decisions
    from clipsim.falsify import resolve_bound
    table = {"name": "b_own", "expr": "C*log(T/delta)/T", "quantity": "avg_grad_sq", "kind": "high_probability"}
    b = resolve_bound(table)
    assert [h.name for h in b.hidden_constants] == ["C"] and b.delta is not None
    assert b is decisions.resolve_bound(table)  # one parser, one cache
    with pytest.raises(ValueError, match=r"\[falsify\] bound 'b_own': hidden"):
        resolve_bound({**table, "hidden": ["C", "delta"]})


# ---- axes the spec cannot build are refused at load; joint failures get their own label ----------
@pytest.mark.parametrize("search, needle", [
    ({"vars.c_etaa": {"min": 0.1, "max": 2.0}},
     "[falsify.search] 'vars.c_etaa' is not allowed: 'c_etaa' is not in [vars]; allowed: vars.c_eta, vars.c_lam"),
    ({"noise.alpah": {"min": 1.2, "max": 1.9}}, "noise key = 'alpah' is not allowed"),
    ({"noise.alpha": {"min": 1.2, "max": 2.05}},
     "[falsify.search] 'noise.alpha' is not allowed at noise.alpha = 2.05: alpha = 2.05 is not allowed: must be "
     "a real number in (0.0, 2.0]"),
    ({"n_steps": {"min": 10.5, "max": 40}}, "'n_steps' is not allowed at n_steps = 10.5: n_steps = 10.5 is not "
                                            "allowed: must be an integer"),
    ({"noise": [{"family": "stable", "alpha": 1.5}, {"family": "stable", "alpha": 3.0}]}, "alpha = 3"),
])
def test_search_axes_the_spec_cannot_build_are_refused_at_load(search, needle):
    with pytest.raises(ValueError) as e:
        S.from_spec(_own(search={"noise.alpha": {"min": 1.0, "max": 1.9}, **search}))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_range_takes_integers_exactly_when_its_field_does():
    sw = S.from_spec(_own(search={"noise.alpha": {"min": 1, "max": 2}, "n_steps": {"min": 10.0, "max": 40.0}}))
    alpha, steps = parse_axes(check_table(sw.spec["falsify"], sw.spec)["search"])
    assert not alpha.integer and alpha.value(0.5) == 1.5          # a real field: integer ends stay real
    assert steps.integer and isinstance(steps.value(0.3), int)    # an integer field: integral float ends


def test_points_the_spec_cannot_build_are_counted_as_invalid_configurations_not_as_validity():
    sw = S.from_spec(_own())
    problem = SpecProblem(sw, check_table(sw.spec["falsify"], sw.spec))
    cell, why = problem.cell({"noise.alpha": 1.5, "noise.beta": 1.5})   # beta must lie in [-1, 1]
    assert cell is None and why.startswith("not a valid configuration: ") and "beta = 1.5" in why

    class HalfInvalid(Stub):   # the constructor refuses alpha > 1.8 (a joint refusal no single end shows)
        def cell(self, point):
            if point["noise.alpha"] > 1.8:
                return None, "not a valid configuration: alpha too large here"
            return point, 1.0
    res = hunt(HalfInvalid(lambda p: 0.025), check_table({**STUB_TABLE, "budget": 1000}))
    assert res.invalid and not res.rejected
    assert all(p["noise.alpha"] > 1.8 for p, _ in res.invalid)
    assert (f"Proposals that are not a valid configuration (never simulated): {len(res.invalid)}; first: alpha "
            "too large here." in res.summary())
    assert "validity conditions (never simulated): 0." in res.summary()
