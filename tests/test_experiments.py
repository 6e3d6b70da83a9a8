"""Experiments E3-E7: their specs load, and the report/figure features they use work on small stores."""
import glob
import importlib.util
import os
import sys
import warnings

import numpy as np
import pytest

from clipsim import decisions as D, report as R
from clipsim import sweep as S
from clipsim.figures import plot_figure
from clipsim.runner import run_config

HERE = os.path.dirname(__file__)
EXP = os.path.join(HERE, "..", "experiments")


def _load_e7():
    spec = importlib.util.spec_from_file_location("e7_clip_lemmas", os.path.join(EXP, "e7_clip_lemmas.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("e7_clip_lemmas", mod)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules["e7_clip_lemmas"])
    return sys.modules["e7_clip_lemmas"]


def _results(spec):
    sw = S.from_spec(spec)
    return sw, [(c, run_config(c.config)) for c in sw.cells]


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(EXP, "e[1-8]_*.toml"))))
def test_experiment_specs_load_and_validate(path):
    sw = S.load(path)
    assert sw.cells
    import theory

    for c in sw.checks:
        theory.get(c["bound"])
    for f in sw.figures:
        assert f["kind"] in S.FIGURE_KINDS


def test_every_experiment_has_a_spec():
    names = {os.path.basename(p).split("_")[0] for p in glob.glob(os.path.join(EXP, "e[1-8]_*.toml"))}
    assert names == {f"e{i}" for i in range(1, 9)}


GCLIP = {
    "sweep": {"name": "t_gclip", "n_steps": 300, "seeds": 40, "seed": 1, "record": [2, 11, 101, 301]},
    "objective": {"name": "overparam_least_squares", "dim": 16, "n": 4},
    "noise": {"family": "none"},
    "optimizer": {"name": "delta_gclip", "eta": 0.5, "gamma": 0.1, "delta": 0.1},
    "grid": {"optimizer.delta": [0.1, 0.3]},
}
VALS = {"loss0": {"expr": "Delta"}, "delta_floor": {"expr": "delta"}}


@pytest.fixture(scope="module")
def gclip():
    return _results(GCLIP)


def test_metric_maps_to_the_bound_quantity_with_theory_values(gclip):
    _, res = gclip
    ev = D.run_check({"bound": "delta_gclip_pl_star", "metric": "final_gap",
                      "values": {**VALS, "t": {"expr": "T"}}}, res)
    assert len(ev["cells"]) == 2
    for cell, bc in ev["cells"]:
        r = dict(res)[cell]
        mu, eta, L0 = r.objective.mu, 0.5, r.theory_values()["Delta"]
        assert bc.bound_value == pytest.approx(L0 * (1 - eta * cell.variables["delta"] * mu) ** 300)
        assert bc.estimate == pytest.approx(np.mean(r.metrics["final_gap"]))
        assert bc.verdict == "holds"


def test_record_metric_checks_every_record_step(gclip):
    _, res = gclip
    ev = D.run_check({"bound": "delta_gclip_pl_star", "metric": "gap", "values": VALS}, res)
    ts = [dict(c.coords)["t"] for c, _ in ev["cells"]]
    assert ts == [1, 10, 100, 300] * 2
    for cell, bc in ev["cells"]:
        r = dict((c.key, rr) for c, rr in res)[cell.key]
        j = ts.index(dict(cell.coords)["t"])
        assert bc.estimate == pytest.approx(np.mean(r.records["gap"][:, j]))
    with pytest.raises(ValueError, match="record"):
        D.run_check({"bound": "delta_gclip_pl_star", "metric": "gap", "values": VALS, "rate": "n_steps"}, res)
    text, code = R.render(S.from_spec(GCLIP), [ev], res)
    fam = ev["family"]
    assert fam.n_members == 8 and not fam.violated
    assert "t=100" in text and code == (0 if fam.verdict == "holds" else 3)
    assert f"Family verdict: {fam.verdict}" in text


def test_summary_section(gclip):
    sw, res = gclip
    ev = D.run_check({"bound": "delta_gclip_pl_star_distance", "metric": ["max_dist", "final_gap"],
                      "statistic": 0.8}, res)
    assert [r.metric for r in ev["summary"]] == ["max_dist", "final_gap"] * 2
    r0 = ev["summary"][0]
    x = dict(res)[r0.cell].metrics["max_dist"]
    assert r0.maximum == pytest.approx(x.max()) and r0.upper.q == 0.8
    assert r0.median.low <= np.median(x) <= r0.median.high
    text, _ = R.render(sw, [ev], res)
    assert "Per-cell summary" in text and "q0.8" in text and "| 0/40 |" in text
    with pytest.raises(ValueError, match="summary"):
        D.run_check({"bound": "ps_clip_sgd", "metric": ["avg_grad_sq"], "rate": "n_steps"}, res)
    with pytest.raises(ValueError, match="not recorded"):
        D.run_check({"bound": "ps_clip_sgd", "metric": ["nope"]}, res)


def test_trajectory_figure_with_bound(gclip, tmp_path):
    _, res = gclip
    paths = plot_figure({"kind": "trajectory", "metric": "gap", "group": "optimizer.delta",
                         "bound": "delta_gclip_pl_star", "values": VALS}, res, str(tmp_path), "traj")
    assert all(os.path.getsize(p) > 0 for p in paths)


CLIP = {
    "sweep": {"name": "t_calib", "seeds": 400, "seed": 3},
    "objective": {"name": "quadratic", "dim": 2},
    "noise": {"family": "stable", "alpha": 1.5},
    "optimizer": {"name": "clipped_sgd",
                  "eta": {"kind": "horizon", "c": 0.5, "a": {"expr": "-alpha/(3*alpha - 2)"}},
                  "clip": {"kind": "horizon", "c": 1.0, "a": {"expr": "1/(3*alpha - 2)"}}},
    "grid": {"n_steps": [50, 100, 200]},
    "check": [{"bound": "li_liu_2023_clipped_sgd", "values": {"alpha": {"expr": "alpha - 0.05"}},
               "delta": [0.1], "calibrate": {"n_steps": [50, 100]}}],
}


def test_failure_probability_figure_uses_the_reports_calibration(tmp_path, monkeypatch):
    sw, res = _results(CLIP)
    check = sw.checks[0]
    ev = D.run_check(check, res)
    (delta, name, cal, test), = ev["calibration"]
    assert name == "C_opt" and np.isfinite(cal.C)
    seen = []
    orig = D.calibrate_and_test

    def spy(spec, results, d, conf=0.95):
        out = orig(spec, results, d, conf)
        seen.append((d, out[1].C))
        return out

    monkeypatch.setattr(D, "calibrate_and_test", spy)
    fig = {"kind": "failure_probability", "bound": "li_liu_2023_clipped_sgd",
           "values": {"alpha": {"expr": "alpha - 0.05"}}, "deltas": [0.2, 0.1]}
    paths = plot_figure(fig, res, str(tmp_path), "fp", checks=sw.checks)
    assert all(os.path.getsize(p) > 0 for p in paths)
    assert dict(seen)[0.1] == cal.C  # the same constant as the report's
    seen.clear()
    plot_figure({**fig, "calibrate": {"n_steps": [100]}}, res, str(tmp_path), "fp2")  # the figure's own table
    assert len(seen) == 2 and dict(seen)[0.1] != cal.C
    with pytest.raises(ValueError, match="calibrate"):
        plot_figure(fig, res, str(tmp_path), "fp3")  # C_opt without a value and no calibration anywhere


def test_rate_figure_with_signed_values_uses_symlog(tmp_path):
    sw, res = _results({**CLIP, "check": []})
    for _, r in res:  # make one median negative
        r.metrics["final_value"] = r.metrics["final_value"] - np.median(r.metrics["final_value"]) * 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = plot_figure({"kind": "rate", "x": "n_steps", "metric": "final_value",
                             "bound": "li_liu_2023_clipped_sgd", "values": {"alpha": 1.45}}, res,
                            str(tmp_path), "signed")
    assert all(os.path.getsize(p) > 0 for p in paths)


def test_e7_lemma_verdicts_hold_on_a_small_run():
    e7 = _load_e7()
    sw = S.load(os.path.join(EXP, "e7_clip_lemmas.toml"))
    cells = [c for c in sw.cells if dict(c.coords)["optimizer.clip"] in (2.0, 8.0)]
    res = [(c, run_config({**c.config, "n_seeds": 20000})) for c in cells]
    rows = e7.lemma_rows(res)
    assert len(rows) == len(cells) * 4 * 2
    assert all(r.verdict == "holds" for r in rows), e7.render(rows)
    assert all(0 < r.tightness < 1 for r in rows if r.lemma == "second_moment")
    text = e7.render(rows)
    assert "holds" in text and "violated" in text  # the tally names every verdict


def test_e7_intervals_cover_a_known_mean():
    e7 = _load_e7()
    rng = np.random.default_rng(0)
    # w_2 = x - clip(x + xi) for a bounded symmetric xi that is never clipped: E w_2 = 0, E||w_2||^2 = E||xi||^2
    xi = rng.uniform(-1, 1, size=(50000, 2))
    bias, second = e7.clip_estimates(-xi, np.array([1.0, 0.0]), 4.0)
    assert bias.low == 0.0 and bias.high > 0
    assert second.low <= 2 / 3 <= second.high
    with pytest.raises(ValueError, match="exceeds"):
        e7.clip_estimates(np.full((10, 2), 10.0), np.array([1.0, 0.0]), 2.0)


def test_e8_refuses_the_symmetric_bound_on_asymmetric_noise():
    sw = S.load(os.path.join(EXP, "e8_asymmetric_noise.toml"))
    assert {dict(c.coords)["noise"] for c in sw.cells} == {"symmetric_stable", "skewed_stable", "centred_lomax"}
    spec = dict(sw.checks[1])
    spec.pop("where")
    fake = [(c, None) for c in sw.cells]
    with pytest.raises(ValueError, match="symmetric noise only.*restrict the check with `where`"):
        D.run_check(spec, fake)


def test_demo_report_opens_with_family_and_per_cell_verdicts():
    from experiments.demo import rates_and_growth, verdict_table

    sw, res = _results(CLIP)
    ev = D.run_check(sw.checks[0], res)
    text = verdict_table([(sw, [ev])])
    assert text.startswith("## Verdicts")
    assert f"**{ev['family'].verdict}**" in text and "Per cell" in text
    for c in ev["calibration"][0][3].cells:
        assert f"| {c.label} | 0.1 |" in text
    assert rates_and_growth([(sw, [ev])]).startswith("## Rates")


def test_rate_figure_draws_the_bound_or_says_why_only_its_slope(tmp_path, monkeypatch):
    import matplotlib.axes

    sw, res = _results(CLIP)
    labels = []
    orig = matplotlib.axes.Axes.plot

    def spy(self, *a, **k):
        labels.append(k.get("label"))
        return orig(self, *a, **k)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    plot_figure({"kind": "rate", "x": "n_steps", "bound": "li_liu_2023_clipped_sgd",
                 "values": {"alpha": 1.4}}, res, str(tmp_path), "b1")
    assert any(lab and lab.startswith("bound, C·B(δ=0.5), C_opt fitted") for lab in labels), labels
    labels.clear()
    plot_figure({"kind": "rate", "x": "n_steps", "bound": "li_liu_2023_generalization"}, res, str(tmp_path), "b2")
    assert any(lab and "slope" in lab and "no value for" in lab for lab in labels), labels
