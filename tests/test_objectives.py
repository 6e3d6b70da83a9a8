"""Objectives: gradients vs finite differences, smoothness and optimum claims, population risk vs MC."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from clipsim import objectives as O

CASES = [("quadratic", {}), ("geman_mcclure", {}), ("sin_quadratic", {"a": 1.5}),
         ("robust_regression", {"n": 50}), ("robust_regression", {"n": 50, "covariate_df": 4.0}),
         ("overparam_least_squares", {"n": 3})]


@pytest.mark.parametrize("name,kw", CASES)
def test_gradient_matches_finite_differences(name, kw):
    o = O.get(name, 6, **kw)
    rng = np.random.default_rng(3)
    for _ in range(3):
        w = 1.5 * rng.standard_normal(6)
        e, I = 1e-6, np.eye(6)
        fd = np.array([(o.value(w + e * I[i]) - o.value(w - e * I[i])) / (2 * e) for i in range(6)])
        np.testing.assert_allclose(o.grad(w), fd, atol=1e-7)
        fdp = np.array([(o.population_value(w + e * I[i]) - o.population_value(w - e * I[i])) / (2 * e) for i in range(6)])
        np.testing.assert_allclose(o.population_grad(w), fdp, atol=1e-6)


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[0] in ("robust_regression", "overparam_least_squares")])
def test_sample_gradients_average_to_full_gradient(name, kw):
    o = O.get(name, 6, **kw)
    w = np.linspace(-1, 1, 6)
    mean = np.mean([o.sample_grad(w, i) for i in range(o.n)], axis=0)
    np.testing.assert_allclose(mean, o.grad(w), rtol=1e-12, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CASES), st.integers(0, 2**31 - 1))
def test_smoothness_constant_and_optimum_hold(case, s):
    name, kw = case
    o = O.get(name, 5, **kw)
    rng = np.random.default_rng(s)
    x, z = 3 * rng.standard_normal(5), 3 * rng.standard_normal(5)
    assert np.linalg.norm(o.grad(x) - o.grad(z)) <= o.L * np.linalg.norm(x - z) * (1 + 1e-12) + 1e-12
    if math.isfinite(o.f_star):
        assert o.value(x) >= o.f_star - 1e-12
    if math.isfinite(o.mu):  # PL: F - f* <= ||grad||^2 / (2 mu)
        assert o.value(x) - o.f_star <= np.sum(o.grad(x) ** 2) / (2 * o.mu) * (1 + 1e-9) + 1e-12
    if o.has_population:  # w* minimises the population risk
        assert o.population_value(x) >= o.pop_f_star - 1e-12


@pytest.mark.parametrize("df", [math.inf, 5.0])
def test_robust_regression_population_matches_monte_carlo(df):
    """Exact (quadrature) population risk and gradient inside a 99.9% Monte-Carlo interval."""
    d = 4
    o = O.get("robust_regression", d, n=10, covariate_df=df, noise_scale=0.5)
    w = np.array([0.3, -1.0, 2.0, 0.1])
    rng = np.random.default_rng(12345)
    N = 400_000
    X = rng.standard_normal((N, d))
    if math.isfinite(df):
        X *= np.sqrt(df / rng.chisquare(df, N))[:, None]
    y = X @ (np.ones(d) / math.sqrt(d)) + 0.5 * rng.standard_normal(N)
    r = y - X @ w
    z = 3.29  # two-sided 99.9%
    f = 0.5 * np.log1p(r * r)
    assert abs(o.population_value(w) - f.mean()) <= z * f.std() / math.sqrt(N)
    G = -(r / (1 + r * r))[:, None] * X
    assert np.all(np.abs(o.population_grad(w) - G.mean(0)) <= z * G.std(0) / math.sqrt(N))


def test_data_are_reproducible_and_seeded():
    a, b = O.get("robust_regression", 3, n=20), O.get("robust_regression", 3, n=20)
    c = O.get("robust_regression", 3, n=20, data_seed=1)
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)
    assert O.from_dict(a.to_dict()).to_dict() == a.to_dict()


@pytest.mark.parametrize("call,match", [
    (lambda: O.get("banana", 3), "objective = 'banana'"),
    (lambda: O.get("quadratic", 0), "dim = 0"),
    (lambda: O.get("quadratic", 2.5), "dim = 2.5"),
    (lambda: O.get("sin_quadratic", 3, b=1), "unknown parameter 'b'"),
    (lambda: O.get("sin_quadratic", 3, a=-1), "a = -1"),
    (lambda: O.get("robust_regression", 3, covariate_df=1.5), "covariate_df = 1.5"),
    (lambda: O.get("overparam_least_squares", 3, n=5), "n = 5"),
    (lambda: O.get("quadratic", 3).value(np.zeros(2)), "shape"),
])
def test_bad_input_is_one_clear_line(call, match):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert "\n" not in str(e.value)


def test_sin_quadratic_vectorised_trig_within_a_few_ulp_of_libm():
    """full_grad's branch-free sin/cos (sin 2w = 2 sin w cos w) against libm; |w| > 8e5, inf and nan
    take the libm path (bitwise libm there)."""
    a = 1.5
    o = O.get("sin_quadratic", 64, a=a)
    rng = np.random.default_rng(7)
    for w in (rng.standard_normal(64), 10.0 * rng.standard_normal(64), rng.uniform(-8e5, 8e5, 64)):
        g = o.grad(w)
        ref = w + a * np.sin(2.0 * w)
        # 2 s c: each factor within 1 ulp, two roundings: |error| <= 4 ulp of a (the sin 2w term)
        assert np.all(np.abs(g - ref) <= 4 * a * 2.0 ** -52 + 2.0 * np.spacing(np.abs(ref))), np.max(np.abs(g - ref))
        refv = float(np.sum(0.5 * w * w + a * np.sin(w) ** 2))
        assert abs(o.value(w) - refv) <= 1e-13 * abs(refv)
    w = rng.standard_normal(64)
    w[5] = 1e7
    g = o.grad(w)
    assert g[5] == 1e7 + a * math.sin(2e7) and g[0] == w[0] + a * math.sin(2.0 * w[0])
    w[5] = np.inf
    assert np.isnan(o.grad(w)[5]) and np.isnan(o.value(w))
