"""clipsim.check_sweep (verdicts as data) and own bounds in TOML ([[check]] bound = {...})."""
import os
import subprocess
import sys

import pytest

import clipsim
from clipsim import sweep as S
from clipsim.figures import plot_sweep
from clipsim.runner import run_sweep
from clipsim.store import Store

OWN = {"name": "my_sqrt_rate", "expr": "C*log(T/delta)*T**(-0.5)", "quantity": "avg_grad_sq",
       "kind": "high_probability", "delta": "delta", "hidden": ["C"]}


def _spec(bound=OWN):
    return {"sweep": {"name": "t_api", "seeds": 300, "seed": 4},
            "objective": {"name": "quadratic", "dim": 2}, "noise": {"family": "stable", "alpha": 1.75},
            "optimizer": {"name": "clipped_sgd", "eta": {"kind": "horizon", "c": 0.5, "a": -0.5}, "clip": 1.0},
            "grid": {"n_steps": [100, 300, 1000]},
            "check": [{"bound": bound, "delta": [0.1], "calibrate": {"n_steps": 100}, "shape": ["n_steps"]},
                      {"bound": bound, "rate": "n_steps", "tolerance": 0.5}],
            "figure": [{"kind": "rate", "name": "own", "x": "n_steps", "bound": bound},
                       {"kind": "failure_probability", "name": "own_fp", "bound": bound, "deltas": [0.2, 0.1]}]}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("api")
    sw = S.from_spec(_spec())
    run_sweep(sw, Store(path / "store"), progress=False)
    return sw, path


def test_check_sweep_returns_verdicts_as_data(stored):
    sw, path = stored
    sc = clipsim.check_sweep(sw, str(path / "store"))
    assert isinstance(sc, clipsim.SweepCheck) and len(sc.checks) == 2
    first = sc.checks[0]
    assert first.bound.name == "my_sqrt_rate" and first.family is not None
    assert first.family.n_members == 2  # two held-out cells x one delta
    r = repr(sc)
    assert len(r) < 200 and "t_api" in r and f"exit code {sc.exit_code}" in r
    assert "<table>" in sc._repr_html_() and first.family.verdict in sc._repr_html_()
    try:
        import pandas  # noqa: F401
    except ImportError:
        pytest.fail("pandas is needed for SweepCheck.to_frame: pip install 'clipsim[frames]'")
    df = sc.to_frame()
    assert set(df["kind"]) == {"held_out", "family", "shape", "rate"}
    fam = df[df["kind"] == "family"].iloc[0]
    assert fam["verdict"] == first.family.verdict
    held = df[df["kind"] == "held_out"]
    assert list(held["verdict"]) == [c.verdict for c in first.calibration[0][3].cells]
    assert "Family verdict" in sc.to_markdown()


def test_own_bound_in_toml_is_usable_by_plot_and_failure_prob(stored, tmp_path):
    sw, path = stored
    paths = plot_sweep(sw, Store(path / "store"), str(tmp_path))
    assert {os.path.basename(p) for p in paths} >= {"own.png", "own_fp.png"}
    spec = tmp_path / "own.toml"
    spec.write_text(_toml())
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-m", "clipsim", "failure-prob", str(spec), "--bound", "my_sqrt_rate",
                          "--delta", "0.2", "--value", "C=50", "--batch", "100", "--max-seeds", "400"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "holds" in out.stdout, out.stderr


def _toml():
    return '''[sweep]
name = "t_api_cli"
n_steps = 100
seeds = 100

[objective]
name = "quadratic"
dim = 2

[noise]
family = "stable"
alpha = 1.75

[optimizer]
name = "clipped_sgd"
eta = 0.05
clip = 1.0

[[check]]
bound = {name = "my_sqrt_rate", expr = "C*log(T/delta)*T**(-0.5)", quantity = "avg_grad_sq", kind = "high_probability", delta = "delta", hidden = ["C"]}
delta = 0.1
values = {C = 50}
'''


@pytest.mark.parametrize("bad,match", [
    ({**OWN, "hidden": ["C", "C_x"]}, "hidden = .* the expression's hidden constants are"),
    ({**OWN, "expr": "__import__('os')"}, "my_sqrt_rate"),
    ({**OWN, "colour": "red"}, "unknown key 'colour'"),
    ({k: v for k, v in OWN.items() if k != "kind"}, "missing key.*kind"),
])
def test_bad_own_bounds_are_one_line_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        S.from_spec(_spec(bad))
