"""Centred one-sided Pareto (``noise.lomax``): law, moments, spec round trip, engine."""
import math

import numpy as np
import pytest
from scipy import stats as sst

from clipsim import noise as N


@pytest.mark.parametrize("a,scale", [(1.5, 1.0), (3.0, 0.5), (8.0, 2.0)])
def test_lomax_matches_scipy_shifted(a, scale):
    x = N.lomax(a, scale).sample(20_000, seed=3)
    ref = sst.lomax(a, loc=-scale / (a - 1), scale=scale)
    assert sst.kstest(x, ref.cdf).pvalue > 1e-3  # one fixed seed; a wrong shift or scale gives p ~ 0
    assert x.min() >= -scale / (a - 1)


def test_lomax_moments_are_exact():
    a = 3.0
    n = N.lomax(a)
    assert n.mean == 0.0 and n.tail_index == a and not n.symmetric
    assert n.moment(2) == pytest.approx(a / ((a - 1) ** 2 * (a - 2)))
    assert n.moment(3.0) == math.inf
    # E|X|^p by quadrature against scipy's expectation of the shifted law
    ref = sst.lomax(a, loc=-1 / (a - 1))
    for p in (0.5, 1.0, 1.5, 2.5):
        want = ref.expect(lambda x: abs(x) ** p, lb=-1 / (a - 1), ub=np.inf, epsrel=1e-10)
        assert n.moment(p) == pytest.approx(want, rel=1e-6)
    # the sample mean is 0 within its CLT interval (a = 3: finite variance)
    x = n.sample(200_000, seed=1)
    assert abs(x.mean()) < 4 * math.sqrt(n.moment(2) / x.size)


def test_lomax_spec_round_trip_and_validation():
    n = N.Noise.from_dict({"family": "lomax", "tail_index": 2.5, "scale": 0.5})
    assert n == N.lomax(2.5, 0.5) and N.Noise.from_dict(n.to_dict()) == n
    assert "skewed" in n.describe()
    with pytest.raises(ValueError, match="tail_index = 1.0 is not allowed"):
        N.lomax(1.0)
    with pytest.raises(ValueError, match="lomax vector = 'radial' is not allowed"):
        N.lomax(2.0, vector="radial")
    with pytest.raises(ValueError, match="tail_index = None"):
        N.Noise.from_dict({"family": "lomax"})
    assert N.stable(1.5).symmetric and not N.stable(1.5, beta=0.5).symmetric and N.stable(2.0, 0.5).symmetric


def test_engine_runs_lomax_noise():
    from clipsim import objectives, optimizers as opt, simulate

    res = simulate(objectives.get("quadratic", 4), N.lomax(2.0), opt.clipped_sgd(0.05, 1.0), n_steps=200,
                   n_seeds=64, seed=0)
    assert np.isfinite(res.metrics["avg_grad_sq"]).all()
    assert res.theory_values()["tail_index"] == 2.0
