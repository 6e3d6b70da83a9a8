"""Each update rule equals a short NumPy reference on the same pre-drawn noise (1e-12), plus
properties of clipping and AdaGrad, and validation of the specs."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from clipsim import noise as N
from clipsim import objectives as O
from clipsim import optimizers as P
from clipsim._stages import clip as _clip
from clipsim.engine import simulate


def _clipv(v, lam):
    n = math.sqrt(float(np.sum(v * v)))
    return v * (lam / n) if n > lam else v


def reference(obj, opt, T, draws):
    """Plain NumPy transcription of the rules in clipsim.optimizers' docstring."""
    idx, xi = draws
    k = 0
    w = obj.x0.astype(float).copy()
    eta, lam = opt.eta.values(T), (np.full(T, np.inf) if opt.clip is None else opt.clip.values(T))
    m = np.zeros(obj.dim)
    acc = np.full(obj.dim if getattr(opt, "coordinate", False) else 1, getattr(opt, "b0", 1.0) ** 2)

    def stoch(count):
        nonlocal k
        s = np.zeros(obj.dim)
        for _ in range(count):
            s = s + (obj.sample_grad(w, idx[k]) if obj.finite_sum else obj.grad(w))
            s = s + xi[k]
            k += 1
        return s * (1.0 / count) if count > 1 else s

    for t in range(T):
        h, lt = eta[t], lam[t]
        if opt.name == "ps_clip_sgd":
            A = opt.micro_batches
            parts = [stoch(opt.batch // A) for _ in range(A)]
            if opt.accumulation == "clip_each":
                parts = [_clipv(p, lt * (a + 1.0) ** opt.clip_index_exponent) for a, p in enumerate(parts)]
                g = sum(p / A for p in parts)
            else:
                g = _clipv(sum(p / A for p in parts), lt)
            w = w - h * g
            continue
        g = stoch(opt.batch)
        if opt.name in ("sgd", "clipped_sgd"):
            w = w - h * _clipv(g, lt)
        elif opt.name in ("momentum", "clipped_momentum"):
            if opt.order == "clip_then_average":
                m = opt.beta * m + (1 - opt.beta) * _clipv(g, lt)
                w = w - h * m
            elif opt.order == "heavy_ball":
                m = opt.beta * m + _clipv(g, lt)
                w = w - h * m
            else:
                m = opt.beta * m + (1 - opt.beta) * g
                w = w - h * _clipv(m, lt)
        elif opt.name == "clipped_adagrad":
            c = _clipv(g, lt)
            add = c * c if opt.coordinate else np.array([np.sum(c * c)])
            before = acc.copy()
            acc = acc + add
            den = (before if opt.delayed else acc) ** (0.5 + opt.eps)
            w = w - h * c / den
        elif opt.name == "normalized_momentum":
            m = opt.beta * m + (1 - opt.beta) * _clipv(g, lt)
            nm = np.linalg.norm(m)
            w = w - h * m / nm if nm > 0 else w
        elif opt.name == "delta_gclip":
            nrm = np.linalg.norm(g)
            f = min(1.0, max(opt.delta, opt.gamma / nrm)) if nrm > 0 else 1.0
            w = w - h * f * g
        elif opt.name == "sibert":
            thr = np.linalg.norm(w) * math.sqrt(2 * opt.weight_decay / h)
            w = (1 - h * opt.weight_decay) * w - h * _clipv(g, thr)
        else:  # pragma: no cover
            raise AssertionError(opt.name)
    return w


OPTIMIZERS = [
    P.sgd(0.05),
    P.clipped_sgd(0.05, 1.0),
    P.clipped_sgd(P.polynomial(0.2, 0.6), P.horizon(0.5, 0.25), batch=3),
    P.momentum(0.05, 0.9),
    P.clipped_momentum(0.05, 1.0, 0.9, order="clip_then_average"),
    P.clipped_momentum(0.05, 1.0, 0.8, order="heavy_ball"),
    P.clipped_momentum(0.05, 1.0, 0.9, order="momentum_then_clip"),
    P.clipped_adagrad(0.5, 1.0, 0.5),
    P.clipped_adagrad(0.5, 1.0, 0.5, delayed=True, eps=0.1),
    P.clipped_adagrad(0.5, 2.0, 1.0, coordinate=True),
    P.clipped_adagrad(0.5, None, 1.0, coordinate=True, delayed=True),
    P.normalized_momentum(0.02, 1.0, 0.9),
    P.delta_gclip(0.1, gamma=0.5, delta=0.05),
    P.ps_clip_sgd(0.05, 1.0, 4),
    P.ps_clip_sgd(0.05, 1.0, 6, micro_batches=3, accumulation="clip_each", clip_index_exponent=0.5),
    P.ps_clip_sgd(0.05, 1.0, 6, micro_batches=2, accumulation="clip_once"),
    P.sibert(0.05, 0.01),
]
SETTINGS = [
    ("sin_quadratic", {"a": 1.0}, N.stable(1.5)),
    ("robust_regression", {"n": 40}, N.none()),
    ("overparam_least_squares", {"n": 3}, N.student_t(3.0)),
]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=str)
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s[0])
def test_rule_equals_numpy_reference(opt, setting):
    name, kw, noise = setting
    obj = O.get(name, 5, **kw)
    T, M = 30, 3
    res = simulate(obj, noise, opt, n_steps=T, n_seeds=M, seed=11, x0=obj.x0 + 0.5)
    obj = O.get(name, 5, **kw)
    object.__setattr__(obj, "x0", obj.x0 + 0.5)
    for m in range(M):
        from conftest import replay_draws
        draws = replay_draws(noise, obj, T * opt.batch, seed=11, index=m)
        w_ref = reference(obj, opt, T, draws)
        np.testing.assert_allclose(res.final_iterate[m], w_ref, rtol=1e-12, atol=1e-12)


def test_zero_noise_without_clipping_is_gradient_descent():
    obj = O.get("geman_mcclure", 4)
    res = simulate(obj, None, P.clipped_sgd(0.3, None), n_steps=50, n_seeds=2)
    w = obj.x0.copy()
    for _ in range(50):
        w = w - 0.3 * obj.grad(w)
    np.testing.assert_allclose(res.final_iterate, np.vstack([w, w]), rtol=0, atol=1e-15)
    assert np.all(res.metrics["clip_fraction"] == 0)


def test_adagrad_effective_step_never_increases():
    """Deterministic quadratic: w_{t+1} = (1 - η/b_t) w_t, so b_t is read off the record."""
    T = 40
    res = simulate(O.get("quadratic", 3), None, P.clipped_adagrad(0.5, None, 0.2), n_steps=T, n_seeds=1,
                   record=list(range(1, T + 2)))
    r = np.sqrt(res.records["grad_sq"][0])
    b = 0.5 / (1.0 - r[1:] / r[:-1])
    assert np.all(np.diff(b) >= -1e-9 * b[1:])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8), st.floats(1e-3, 1e3))
def test_clip_properties(v, lam):
    g = np.array(v, dtype=float)
    c = g.copy()
    clipped = _clip(c, lam)
    assert np.linalg.norm(c) <= lam * (1 + 1e-12)
    if np.linalg.norm(g) <= lam:
        assert clipped == 0 and np.array_equal(c, g)
    else:
        assert clipped == 1
        np.testing.assert_allclose(c * np.linalg.norm(g) / lam, g, rtol=1e-9,
                                   atol=1e-12 * np.linalg.norm(g))  # same direction (subnormals aside)
    c2 = c.copy()
    _clip(c2, lam)
    np.testing.assert_allclose(c2, c, rtol=1e-12, atol=0)  # idempotent


def test_schedules():
    assert np.allclose(P.polynomial(2.0, 0.5).values(4), 2.0 / np.sqrt([1, 2, 3, 4]))
    assert np.allclose(P.horizon(3.0, -0.5).values(16), 3.0 / 4.0)
    assert np.allclose(P.prescribed(lambda T: 1.0 / T).values(5), 0.2)
    for s in (P.constant(0.1), P.polynomial(1.0, 0.3), P.horizon(0.5, -0.6)):
        assert P.schedule_from_dict(s.to_dict()) == s


@pytest.mark.parametrize("sched,match", [
    (P.horizon(0.1, 1000), r"schedule 0.1\*T\^1000 gave inf at T = 10"),          # overflow: inf, by name
    (P.polynomial(0.1, -1000), r"gave inf at T = 10"),
    (P.prescribed(lambda T: "abc"), "prescribed schedule returned 'abc' at T = 10"),
])
def test_a_schedule_that_overflows_or_is_not_numeric_is_one_line(sched, match):
    with pytest.raises(ValueError, match=match) as e:
        sched.values(10)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=str)
def test_to_dict_round_trip(opt):
    assert P.from_dict(opt.to_dict()) == opt


@pytest.mark.parametrize("call,match", [
    (lambda: P.clipped_sgd(-0.1, 1.0), "eta = -0.1"),
    (lambda: P.clipped_sgd(0.1, 0.0), "clip = 0.0"),
    (lambda: P.clipped_sgd(0.1, "big"), "clip = 'big'"),
    (lambda: P.clipped_momentum(0.1, 1.0, 1.0), "beta = 1.0"),
    (lambda: P.clipped_momentum(0.1, 1.0, 0.9, order="average"), "order = 'average'"),
    (lambda: P.clipped_adagrad(0.1, 1.0, 0.0), "b0 = 0.0"),
    (lambda: P.clipped_adagrad(0.1, 1.0, eps=0.5), "eps = 0.5"),
    (lambda: P.delta_gclip(0.1, delta=0.0), "delta = 0.0"),
    (lambda: P.ps_clip_sgd(0.1, 1.0, 6, micro_batches=4), "micro_batches = 4"),
    (lambda: P.ps_clip_sgd(0.1, 1.0, 0), "batch = 0"),
    (lambda: P.sibert(0.1, -1), "weight_decay = -1"),
    (lambda: P.from_dict({"name": "adam", "eta": 0.1}), "optimizer = 'adam'"),
    (lambda: P.from_dict({"name": "clipped_sgd", "eta": 0.1, "clip": 1, "momentum": 0.9}), "unknown key 'momentum'"),
    (lambda: P.from_dict({"name": "clipped_momentum", "eta": 0.1, "clip": 1}), "missing key 'beta'"),
    (lambda: P.polynomial(1.0, "x"), "p = 'x'"),
    (lambda: P.clipped_sgd(np.ones(100), 1.0), r"eta = \[1\. 1\. .*\.\.\. is not allowed"),  # an array: one short line
])
def test_bad_input_is_one_clear_line(call, match):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert "\n" not in str(e.value)
