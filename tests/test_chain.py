"""Optimizers as chains of stages: presets are chains, every stage against a NumPy transcription
(1e-12 on pre-drawn noise), stage properties, plain-data round trips, and the path-state API."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from clipsim import _stages as K
from clipsim import engine
from clipsim import noise as N
from clipsim import objectives as O
from clipsim import optimizers as P
from clipsim.engine import simulate
from conftest import replay_draws


# ---- NumPy transcription of the stage semantics (the module docstring of clipsim.optimizers) ----
def _clipv(v, lam):
    n = math.sqrt(float(np.sum(v * v)))
    return v * (lam / n) if n > lam else v


def _val(stage, name, t):
    return float(stage.get(name).values(t)[t - 1])


def _apply(stage, u, g_raw, w, mem, key, t, a, h, ctl):
    """u after one stage at step t (1-based); ``mem`` holds the stage states, ``ctl`` the decay."""
    k = stage.kind
    if k == "clip_by_global_norm":
        return _clipv(u, _val(stage, "clip", t) * (a + 1.0) ** _val(stage, "index_exponent", t))
    if k == "clip_by_value":
        lam = _val(stage, "clip", t)
        return np.clip(u, -lam, lam)
    if k == "clip_regularized":
        nrm = np.linalg.norm(u)
        gam, dl = _val(stage, "gamma", t), _val(stage, "delta", t)
        return (min(1.0, max(dl, gam / nrm)) if nrm > 0 else 1.0) * u
    if k == "clip_by_weight_norm":
        return _clipv(u, np.linalg.norm(w) * math.sqrt(2 * _val(stage, "weight_decay", t) / h))
    if k in ("ema", "heavy_ball"):
        b = _val(stage, "beta", t)
        mem[key] = b * mem.get(key, 0.0) + ((1 - b) * u if k == "ema" else u)
        return mem[key]
    if k == "scale_by_adagrad":
        s = g_raw if stage.get("source") == "gradient" else u
        add = s * s if stage.get("coordinate") else np.array([np.sum(s * s)])
        before = mem.get(key, np.full(add.shape, _val(stage, "b0", 1) ** 2))
        mem[key] = before + add
        return u / (before if stage.get("delayed") else mem[key]) ** (0.5 + _val(stage, "eps", t))
    if k == "scale_by_adam":
        b1, b2, eps = _val(stage, "b1", t), _val(stage, "b2", t), _val(stage, "eps", t)
        m, v = mem.get(key, (0.0, 0.0))
        m, v = b1 * m + (1 - b1) * u, b2 * v + (1 - b2) * u * u
        mem[key] = (m, v)
        return (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    if k == "normalize":
        nrm = np.linalg.norm(u)
        return u / nrm if nrm > 0 else 0 * u
    if k == "sign":
        return np.sign(u)
    if k == "weight_decay":
        ctl["decay"] = _val(stage, "weight_decay", t)
        return u
    raise AssertionError(k)


def reference(obj, opt, T, draws):
    idx, xi = draws
    pos = 0
    w = obj.x0.astype(float).copy()
    mem = {}

    def stoch(count):
        nonlocal pos
        s = np.zeros(obj.dim)
        for _ in range(count):
            s = s + (obj.sample_grad(w, idx[pos]) if obj.finite_sum else obj.grad(w)) + xi[pos]
            pos += 1
        return s * (1.0 / count) if count > 1 else s

    stages = list(opt.stages)
    for t in range(1, T + 1):
        h, ctl = float(opt.eta.values(T)[t - 1]), {"decay": 0.0}
        if stages[0].kind == "per_sample":
            A = stages[0].get("micro_batches") or opt.batch
            parts = [stoch(opt.batch // A) for _ in range(A)]
            for a in range(A):
                for j, s in enumerate(stages[0].inner):
                    parts[a] = _apply(s, parts[a], None, w, mem, ("in", j), t, a, h, ctl)
            g = sum(p / A for p in parts)
            rest = stages[1:-1]
        else:
            g = stoch(opt.batch)
            rest = stages[:-1]
        u = g
        for j, s in enumerate(rest):
            u = _apply(s, u, g, w, mem, j, t, 0, h, ctl)
        w = (1 - h * ctl["decay"]) * w - h * u
    return w


CHAINS = [
    P.sign_sgd(0.01),
    P.sign_sgd(0.01, beta=0.9),
    P.majority_vote(0.01, 3),
    P.normalized_sgd(0.05),
    P.normalized_sgd(0.05, 0.9),
    P.clipped_adam(0.01, 1.0),
    P.clipped_adam(P.polynomial(0.02, 0.5), None, b1=0.8, b2=0.95, eps=1e-6),
    P.adagrad_momentum(0.5, 0.9, 1.0, eps=0.1),
    P.chain(P.clip_by_value(0.5), P.heavy_ball(0.7), P.descent(0.02)),
    P.chain(P.clip_by_global_norm(2.0), P.scale_by_adam(0.9, 0.99, 1e-6), P.weight_decay(0.01), P.descent(0.01)),
    P.chain(P.ema(0.8), P.clip_by_global_norm(1.0), P.normalize(), P.descent(0.05)),
    P.chain(P.scale_by_adagrad(0.5, coordinate=True, source="gradient"), P.ema(0.5), P.descent(0.3)),
    P.chain(P.per_sample(P.clip_by_value(1.0), P.normalize(), micro_batches=2), P.sign(), P.descent(0.01), batch=4),
    P.chain(P.clip_regularized(0.5, 0.1), P.ema(P.polynomial(0.9, 0.1)), P.descent(P.horizon(0.2, -0.3))),
    P.chain(P.clip_by_weight_norm(0.01), P.scale_by_adagrad(1.0, delayed=True), P.descent(0.2), batch=2),
]
SETTINGS = [
    ("sin_quadratic", {"a": 1.0}, N.stable(1.5)),
    ("robust_regression", {"n": 40}, N.pareto(2.5)),
]


@pytest.mark.parametrize("opt", CHAINS, ids=str)
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s[0])
def test_chain_equals_numpy_transcription(opt, setting):
    name, kw, noise = setting
    obj = O.get(name, 5, **kw)
    T, M = 30, 3
    res = simulate(obj, noise, opt, n_steps=T, n_seeds=M, seed=11)
    for m in range(M):
        w_ref = reference(obj, opt, T, replay_draws(noise, obj, T * opt.batch, seed=11, index=m))
        np.testing.assert_allclose(res.final_iterate[m], w_ref, rtol=1e-12, atol=1e-12)


def _same(a, b):
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k]), k
    for k in a.records:
        assert np.array_equal(a.records[k], b.records[k]), k
    assert np.array_equal(a.final_iterate, b.final_iterate)


def test_chain_of_clip_and_sgd_is_bitwise_clipped_sgd():
    obj = O.get("sin_quadratic", 8)
    kw = dict(n_steps=200, n_seeds=16, seed=4, record=6)
    a = simulate(obj, N.stable(1.5), P.chain(P.clip_by_global_norm(1.0), P.sgd(eta=0.01)), **kw)
    b = simulate(obj, N.stable(1.5), P.clipped_sgd(eta=0.01, clip=1.0), **kw)
    _same(a, b)


@pytest.mark.parametrize("name", sorted(P.PRESETS))
def test_every_preset_is_the_chain_of_its_stages_and_round_trips(name):
    ctor = P.PRESETS[name]
    args = {"sgd": (0.05,), "clipped_sgd": (0.05, 1.0), "momentum": (0.05, 0.9), "clipped_momentum": (0.05, 1.0, 0.9),
            "clipped_adagrad": (0.5, 1.0), "normalized_momentum": (0.02, 1.0, 0.9), "delta_gclip": (0.1,),
            "ps_clip_sgd": (0.05, 1.0, 4), "sibert": (0.05, 0.01), "sign_sgd": (0.01,), "majority_vote": (0.01, 3),
            "normalized_sgd": (0.05,), "clipped_adam": (0.01, 1.0), "adagrad_momentum": (0.5, 0.9)}[name]
    preset = ctor(*args)
    as_chain = P.chain(*preset.stages, batch=preset.batch)
    assert P.from_dict(preset.to_dict()) == preset
    assert P.from_dict(as_chain.to_dict()) == as_chain
    obj = O.get("sin_quadratic", 4)
    kw = dict(n_steps=50, n_seeds=4, seed=1, record=4)
    _same(simulate(obj, N.student_t(2.5), preset, **kw), simulate(obj, N.student_t(2.5), as_chain, **kw))


def test_chain_from_toml_style_stage_tables():
    opt = P.from_dict({"stages": [{"stage": "clip_by_global_norm", "clip": 1.0},
                                  {"stage": "ema", "beta": {"kind": "polynomial", "c": 0.9, "p": 0.1}},
                                  {"stage": "sgd", "eta": 0.01}], "batch": 2})
    assert opt == P.chain(P.clip_by_global_norm(1.0), P.ema(P.polynomial(0.9, 0.1)), P.descent(0.01), batch=2)
    ps = P.from_dict({"name": "chain", "stages": [{"stage": "per_sample", "micro_batches": 2,
                                                   "stages": [{"stage": "sign"}]},
                                                  {"stage": "sign"}, {"stage": "descent", "eta": 0.1}], "batch": 4})
    assert ps == P.chain(P.per_sample(P.sign(), micro_batches=2), P.sign(), P.descent(0.1), batch=4)


@pytest.mark.parametrize("bad, msg", [
    (lambda: P.chain(P.clip_by_global_norm(1.0)), "last stage must be descent"),
    (lambda: P.chain(P.descent(0.1), P.sgd(0.1)), "it must be the last one"),
    (lambda: P.chain(P.sign(), P.per_sample(P.sign()), P.descent(0.1), batch=2), "must be the first one"),
    (lambda: P.per_sample(P.ema(0.9)), "per_sample: stage 'ema' is not allowed"),
    (lambda: P.chain(P.per_sample(micro_batches=3), P.descent(0.1), batch=4), "must divide batch = 4"),
    (lambda: P.ema(1.0), r"ema: beta = 1.0 is not allowed"),
    (lambda: P.clip_by_global_norm(-1.0), r"clip_by_global_norm: clip = -1.0 is not allowed"),
    (lambda: P.scale_by_adagrad(source="moment"), "source = 'moment' is not allowed"),
    (lambda: P.chain(P.ema(P.polynomial(2.0, 0.0)), P.descent(0.1)).pack(10), r"ema: beta schedule .* reaches 2.0"),
    (lambda: P.from_dict({"stages": [{"stage": "nope"}, {"stage": "sgd", "eta": 1.0}]}), "stage = 'nope' is not allowed"),
    (lambda: P.from_dict({"stages": [{"stage": "ema", "b": 0.9}, {"stage": "sgd", "eta": 1.0}]}), "unknown key 'b'"),
    (lambda: P.chain("clip", P.descent(0.1)), "chain: 'clip' is not allowed"),
])
def test_bad_chains_are_rejected_with_one_line(bad, msg):
    with pytest.raises(ValueError, match=msg):
        bad()


# ---- properties of the stage kernels ---------------------------------------------------------
# |x| < 1e-100 becomes 0: ‖u‖ = sqrt(Σ u²) underflows to 0 below ~1e-154, and normalize() then
# returns 0 (as the fused normalized-momentum rule always did)
vectors = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=12).map(
    lambda v: np.where(np.abs(np.array(v)) < 1e-100, 0.0, np.array(v)))


def _run_stage(stage, u, t=1):
    opt = P.chain(stage, P.descent(1.0))
    prog = opt.pack(3, u.size)
    st_ = np.zeros(max(int(prog.meta[4]), 1))
    K.init_state(prog.codes, prog.sched, st_, u.size)
    cnt, pend = np.zeros(2, dtype=np.int64), np.empty(4)
    K.reset(pend)
    u = u.copy()
    K.walk(prog.codes, prog.sched, 0, 1, t, 0, np.ones(u.size), u.copy(), u, st_, cnt, pend)
    K.materialize(u, st_, pend)
    return u, cnt


@settings(max_examples=60, deadline=None)
@given(vectors, st.floats(1e-3, 1e3))
def test_clips_bound_the_norm_and_are_idempotent(v, lam):
    u, _ = _run_stage(P.clip_by_global_norm(lam), v)
    assert np.linalg.norm(u) <= lam * (1 + 1e-12)
    if np.linalg.norm(v) <= lam:
        assert np.array_equal(u, v)
    again, cnt = _run_stage(P.clip_by_global_norm(lam), u)
    np.testing.assert_allclose(again, u, rtol=1e-12)
    c, _ = _run_stage(P.clip_by_value(lam), v)
    assert np.all(np.abs(c) <= lam) and np.array_equal(c, np.clip(v, -lam, lam))


@settings(max_examples=60, deadline=None)
@given(vectors)
def test_sign_is_in_minus_one_zero_one_and_normalize_has_unit_norm(v):
    s, _ = _run_stage(P.sign(), v)
    assert set(np.unique(s)) <= {-1.0, 0.0, 1.0} and np.array_equal(s, np.sign(v))
    n, _ = _run_stage(P.normalize(), v)
    if np.any(v != 0):
        assert abs(np.linalg.norm(n) - 1.0) < 1e-12
    else:
        assert np.all(n == 0)


# ---- new rules in distribution: the first step's law against the exact one --------------------
def _first_step(opt, noise, n=20000, x0=(0.3,)):
    obj = O.get("quadratic", len(x0))
    res = simulate(obj, noise, opt, n_steps=1, n_seeds=n, seed=123, x0=list(x0))
    return res.final_iterate - np.asarray(x0)


def _binom_ok(k, n, p, level=1e-3):
    """Two-sided exact binomial test at level 1e-3 (five tests below: familywise ≤ 0.5%)."""
    return stats.binomtest(int(k), n, p).pvalue > level


T3 = N.student_t(3.0)


@pytest.mark.parametrize("opt", [P.sign_sgd(0.1), P.normalized_sgd(0.1), P.clipped_adam(0.1, 2.0, eps=0.0)], ids=str)
def test_sign_like_first_step_moves_down_with_probability_P_g_positive(opt):
    """On F = x²/2 at x0 = 0.3 in d = 1, g = 0.3 + ξ and the first step is -0.1·sign(g) for all three
    (Adam with eps = 0 at t = 1: m̂/sqrt(v̂) = c/|c|)."""
    step = _first_step(opt, T3)[:, 0]
    np.testing.assert_allclose(np.abs(step), 0.1, rtol=1e-12)
    assert _binom_ok((step < 0).sum(), step.size, stats.t(3.0).sf(-0.3))


def test_majority_vote_first_step_follows_the_vote_of_three():
    step = _first_step(P.majority_vote(0.1, 3), T3)[:, 0]
    p = stats.t(3.0).sf(-0.3)
    assert _binom_ok((step < 0).sum(), step.size, p ** 3 + 3 * p * p * (1 - p))


def test_adagrad_momentum_first_step_is_the_scaled_gradient():
    """Delayed: the first step divides by b0^(1 + 2 eps); w2 - w1 = -η (1-β) g / b0^(1+2eps), g = 0.3 + ξ."""
    eta, beta, b0, eps = 0.5, 0.9, 2.0, 0.1
    step = _first_step(P.adagrad_momentum(eta, beta, b0, eps=eps), T3)[:, 0]
    g = -step * (b0 * b0) ** (0.5 + eps) / (eta * (1 - beta))
    assert stats.kstest(g - 0.3, stats.t(3.0).cdf).pvalue > 1e-3


# ---- path states: stop, restart and clone mid-trajectory --------------------------------------
def test_advancing_in_pieces_and_cloning_are_bitwise_one_run():
    obj, noise = O.get("robust_regression", 4, n=30), N.stable(1.4)
    opt = P.clipped_adam(0.05, 1.0)
    T, grid = 60, engine.record_grid(60, 7)
    prob = engine.Problem.build(obj, noise, opt, T, obj.x0.copy(), 8, grid)
    whole = engine.init_states(prob, np.arange(6))
    engine.advance(prob, whole)
    parts = engine.init_states(prob, np.arange(6))
    for t_stop in (5, 17, 40):
        engine.advance(prob, parts, t_stop)
        assert np.all(parts.t == t_stop)
    clone = parts.take([2, 2, 5])
    engine.advance(prob, parts)
    engine.advance(prob, clone)
    a, b, c = engine.finalise(prob, whole), engine.finalise(prob, parts), engine.finalise(prob, clone)
    for k in a[0]:
        assert np.array_equal(a[0][k], b[0][k], equal_nan=True) and np.array_equal(a[0][k][[2, 2, 5]], c[0][k], equal_nan=True), k
    for k in a[1]:
        assert np.array_equal(a[1][k], b[1][k], equal_nan=True) and np.array_equal(a[1][k][[2, 2, 5]], c[1][k], equal_nan=True), k
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[2][[2, 2, 5]], c[2])
    res = simulate(obj, noise, opt, n_steps=T, n_seeds=6, seed=8, record=7)
    assert np.array_equal(res.final_iterate, a[2])


def test_catalogues_name_every_stage_and_preset_with_a_one_line_description():
    for cat in (P.STAGES, P.PRESETS):
        for name, ctor in cat.items():
            first = ctor.__doc__.strip().splitlines()[0]
            assert first.endswith(".") and len(first) <= 110, name
    assert set(P.STAGES) >= {"clip_by_global_norm", "clip_by_value", "clip_regularized", "clip_by_weight_norm",
                             "ema", "heavy_ball", "scale_by_adagrad", "scale_by_adam", "normalize", "sign",
                             "weight_decay", "descent", "per_sample"}


def test_clipping_and_normalizing_a_finite_vector_whose_sum_of_squares_overflows():
    """Noise of scale 1e200: ‖g‖² overflows to inf but ‖g‖ is finite. One step of clipped SGD (λ = 1,
    η = 0.1) or normalized SGD moves w by exactly η·1 (it stood still: λ/inf = 0)."""
    from clipsim import noise as N, objectives as O, optimizers as P
    from clipsim.engine import simulate

    for opt in (P.clipped_sgd(0.1, 1.0), P.normalized_sgd(0.1)):
        r = simulate(O.get("quadratic", 4), N.gaussian(1e200), opt, n_steps=1, n_seeds=3, seed=0)
        np.testing.assert_allclose(r.metrics["max_dist"], 0.1, rtol=1e-12)
        assert not r.metrics["diverged"].any()
