"""Shape tests across cells: quantile / B(δ) must not trend in T or 1/δ."""
import numpy as np
import pytest

from clipsim import decisions as D
from clipsim import stats as St
from clipsim import sweep as S
from clipsim.runner import run_config


def _members(bound_of_delta, a=2.0, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for c in range(3):  # three independent cells, each at three deltas
        x = rng.pareto(a, n)
        for d in (0.1, 0.03, 0.01):
            out.append((f"c{c} δ={d}", c, x, bound_of_delta(d), d, 1 / d, c))
    return out


def test_shape_trend_sees_a_wrong_delta_dependence():
    a = 2.0  # Lomax(2): q_(1-δ) = δ^(-1/2) - 1
    wrong = St.shape_trend(_members(lambda d: np.log(1 / d), a), "1/δ")
    assert wrong.verdict == "rejected"
    right = St.shape_trend(_members(lambda d: d ** (-1 / a) - 1, a), "1/δ")
    assert right.verdict == "consistent" and right.low < 0 < right.high
    loose = St.shape_trend(_members(lambda d: d ** -1.0, a), "1/δ")
    assert loose.verdict == "loose"


def test_shape_trend_is_inconclusive_with_diverged_seeds():
    m = _members(lambda d: 1.0)
    m[0] = m[0][:2] + (np.full(4000, np.inf),) + m[0][3:]
    assert St.shape_trend(m, "1/δ").verdict == "inconclusive"


def _spec(opt, streams="independent"):
    eta = {"kind": "horizon", "c": 0.5, "a": {"expr": "-alpha/(3*alpha - 2)"}}
    clip = {"clip": {"kind": "horizon", "c": 1.0, "a": {"expr": "1/(3*alpha - 2)"}}} if opt != "sgd" else {}
    return {"sweep": {"name": "t_shape", "seeds": 2000, "seed": 11, "streams": streams},
            "objective": {"name": "quadratic", "dim": 4}, "noise": {"family": "stable", "alpha": 1.5},
            "optimizer": {"name": opt, "eta": eta, **clip},
            "grid": {"n_steps": [300, 1000, 3000]},
            "check": [{"bound": "li_liu_2023_clipped_sgd", "values": {"alpha": 1.4}, "delta": [0.1, 0.03, 0.01],
                       "calibrate": {"n_steps": 300}, "shape": ["n_steps", "delta"]}]}


def _evaluate(spec):
    sw = S.from_spec(spec)
    return D.run_check(sw.checks[0], [(c, run_config(c.config)) for c in sw.cells])


def test_a_wrong_bound_is_caught_by_the_shape_test():
    """Unclipped SGD has a polynomial tail in 1/δ: Li & Liu's clipped-SGD bound must not pass it."""
    ev = _evaluate(_spec("sgd"))
    shape = {sh.var: sh for sh in ev["shape"]}
    assert shape["1/δ"].verdict == "rejected", shape["1/δ"]
    assert D.exit_code([ev]) == 1
    ok = _evaluate(_spec("clipped_sgd"))
    assert "rejected" not in {sh.verdict for sh in ok["shape"]}, ok["shape"]
    assert ok["family"].verdict != "violated"


def test_shape_refuses_shared_streams():
    spec = _spec("clipped_sgd", "common")
    spec["sweep"]["seeds"] = 20
    with pytest.raises(ValueError, match="share streams"):
        _evaluate(spec)
