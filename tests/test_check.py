"""clipsim.check: verdict rules on small fake results, then the real theory registry and engine."""
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import sympy as sp

from clipsim import stats as S
from clipsim.check import BoundCheck, check

T, delta, alpha, C = sp.symbols("T delta alpha C_opt", positive=True)


@dataclass(frozen=True)
class FakeBound:
    """The theory.Bound contract, minimal."""

    name: str
    expr: sp.Expr
    quantity: str = "avg_grad_sq"
    kind: str = "high_probability"
    delta: sp.Symbol | None = delta
    valid_when: tuple = ()
    hidden_constants: tuple = ()
    defaults: dict = field(default_factory=dict)

    @property
    def symbols(self):
        return tuple(sorted(s.name for s in self.expr.free_symbols))

    def evaluate(self, **values):
        missing = [s for s in self.symbols if s not in values and s not in self.defaults]
        if missing:
            raise ValueError(f"{self.name}: no value for {', '.join(missing)}")
        syms = sorted(self.expr.free_symbols, key=lambda s: s.name)
        vals = {**self.defaults, **values}
        return float(sp.lambdify(syms, self.expr)(*[vals[s.name] for s in syms]))


class FakeResult:
    def __init__(self, q, diverged=None, **tv):
        q = np.asarray(q, dtype=float)
        self.metrics = {"avg_grad_sq": q,
                        "diverged": np.zeros(q.size, bool) if diverged is None else np.asarray(diverged)}
        self._tv = {"T": 100, **tv}

    def theory_values(self):
        return dict(self._tv)


def hp(expr=sp.Integer(2) + 0 * T + 0 * delta, **kw):
    return FakeBound("fake_hp", expr, **kw)


Q_UNIFORM = np.linspace(0.0005, 0.9995, 1000)  # quantiles known exactly: q_(1-d) = 1 - d


def test_high_probability_verdicts():
    r = FakeResult(Q_UNIFORM)
    # B = 2: nothing exceeds; 1000 seeds certify P <= 0.01
    c = check(hp(), r, delta=0.01)
    assert isinstance(c, BoundCheck) and c.verdict == "holds"
    assert c.failure.k == 0 and c.failure.high <= 0.01
    assert c.statistic == "q_(1-0.01)" and c.estimate == pytest.approx(0.9895)
    assert c.ratio == pytest.approx(c.estimate / 2.0) and c.n_seeds == 1000
    # B = 0.5: half the seeds exceed
    c = check(hp(sp.Rational(1, 2) + 0 * delta), r, delta=0.01)
    assert c.verdict == "violated" and c.failure.k == 500
    # B = 1 - delta exactly: P(Q > B) = delta, the interval contains it
    c = check(FakeBound("edge", 1 - delta), r, delta=0.05)
    assert c.verdict == "inconclusive" and "contains delta" in c.reason


def test_too_few_seeds_is_inconclusive_with_the_needed_count():
    c = check(hp(), FakeResult(Q_UNIFORM[:100]), delta=0.01)
    n_min = S.min_seeds_to_certify(0.01)
    assert c.verdict == "inconclusive" and f">= {n_min} seeds" in c.reason
    assert c.failure.k == 0


def test_diverged_seeds_count_as_failures():
    q = Q_UNIFORM.copy()
    div = np.zeros(q.size, bool)
    div[:100] = True  # flagged diverged although their values look small
    c = check(hp(), FakeResult(q, div), delta=0.01)
    assert c.verdict == "violated" and c.n_diverged == 100 and c.failure.k == 100
    q[:3] = np.inf  # non-finite values count too, even unflagged
    c = check(hp(), FakeResult(q), delta=0.01)
    assert c.n_diverged == 3 and c.failure.k == 3 and c.verdict == "holds"  # 3/1000: CP high < 0.01


def test_validity_conditions_make_verdict_inconclusive():
    b = hp(sp.Integer(2) + 0 * alpha + 0 * delta, valid_when=(alpha > 1, alpha <= 2))
    r = FakeResult(Q_UNIFORM)
    ok = check(b, r, delta=0.01, alpha=1.5)
    assert ok.verdict == "holds" and all(c.status == "ok" for c in ok.conditions)
    bad = check(b, r, delta=0.01, alpha=2.5)
    assert bad.verdict == "inconclusive"
    assert "alpha <= 2" in bad.reason and "violated" in bad.reason and "evidence alone: holds" in bad.reason
    assert [c.status for c in bad.conditions] == ["ok", "violated"]
    # a condition whose symbols have no value is not silently skipped
    b2 = hp(sp.Integer(2) + 0 * delta, valid_when=(alpha > 1,))
    unk = check(b2, r, delta=0.01)
    assert unk.verdict == "inconclusive" and "no value for alpha" in unk.reason


def test_alpha_must_be_below_the_noise_tail_index():
    b = hp(1 + alpha + 0 * delta)  # >= 2 for alpha > 1
    r = FakeResult(Q_UNIFORM, tail_index=1.5)
    assert check(b, r, delta=0.01, alpha=1.4).verdict == "holds"
    c = check(b, r, delta=0.01, alpha=1.6)
    assert c.verdict == "inconclusive" and "tail_index" in c.reason


def test_hidden_constants_need_values_or_calibration():
    b = hp(C * T ** sp.Rational(-1, 2) * sp.log(1 / delta), hidden_constants=(C,))
    rng = np.random.default_rng(0)
    r = FakeResult(rng.exponential(size=2000))
    with pytest.raises(ValueError, match="hidden constant.*C_opt"):
        check(b, r, delta=0.05)
    assert check(b, r, delta=0.05, C_opt=100.0).verdict == "holds"
    assert check(b, r, delta=0.05, C_opt=0.01).verdict == "violated"
    cal = check(b, r, delta=0.05, calibrate=True)
    assert set(cal.calibrated) == {"C_opt"} and cal.n_seeds == 1000
    # fitted on one half (seeds [0, 1000)), tested on the other: the verdict these draws determine
    q = r.metrics["avg_grad_sq"]
    B1 = float(b.evaluate(C_opt=1.0, T=100, delta=0.05))
    C_fit = S.quantile_ci(q[:1000], 0.95).high / B1
    assert cal.calibrated["C_opt"] == pytest.approx(C_fit, rel=1e-12)
    k = int(np.count_nonzero(q[1000:] > C_fit * B1))
    lo, hi = S.clopper_pearson(k, 1000)
    assert cal.verdict == ("holds" if hi <= 0.05 else "violated" if lo > 0.05 else "inconclusive")
    assert "calibrated on seeds [0, 1000)" in cal.reason
    two = hp(C + sp.Symbol("C_x", positive=True) * delta, hidden_constants=(C, sp.Symbol("C_x")))
    with pytest.raises(ValueError, match="one hidden constant"):
        check(two, r, delta=0.05, calibrate=True)
    additive = hp(C + delta, hidden_constants=(C,))
    with pytest.raises(ValueError, match="times"):
        check(additive, r, delta=0.05, calibrate=True)


def test_expectation_bound_uses_mean_bounds():
    rng = np.random.default_rng(1)
    r = FakeResult(rng.exponential(size=2000))  # E Q = 1
    b = FakeBound("fake_mean", sp.Integer(2) + 0 * T, kind="expectation", delta=None)
    c = check(b, r)
    assert c.verdict == "holds" and c.statistic == "mean" and c.failure is None
    assert c.low <= 1.0 <= c.high and "bootstrap" in c.reason
    low = FakeBound("fake_mean", sp.Rational(1, 2) + 0 * T, kind="expectation", delta=None)
    assert check(low, r).verdict == "violated"
    q = np.r_[np.ones(1999), np.inf]
    c = check(b, FakeResult(q))
    assert c.verdict == "inconclusive" and c.high == math.inf and c.n_diverged == 1
    with pytest.raises(ValueError, match="no delta symbol"):
        check(b, r, delta=0.1)


def test_lower_bounds():
    rng = np.random.default_rng(2)
    r = FakeResult(rng.exponential(size=2000))
    lb = FakeBound("fake_lower", sp.Rational(1, 2) + 0 * T, kind="lower_bound", delta=None)
    assert check(lb, r).verdict == "holds"  # E Q = 1 >= 1/2
    lb2 = FakeBound("fake_lower", sp.Integer(3) + 0 * T, kind="lower_bound", delta=None)
    assert check(lb2, r).verdict == "violated"
    # with delta: the (1-delta)-quantile is >= B, i.e. P(Q >= B) >= delta
    tail = FakeBound("fake_tail", sp.log(1 / delta) / 2, kind="lower_bound")  # q_(1-d) = log(1/d)
    c = check(tail, r, delta=0.1)
    assert c.verdict == "holds" and c.failure.k > 200
    tail2 = FakeBound("fake_tail", 3 * sp.log(1 / delta), kind="lower_bound")
    assert check(tail2, r, delta=0.1).verdict == "violated"


def test_summary_is_one_line_with_the_evidence():
    c = check(hp(), FakeResult(Q_UNIFORM), delta=0.01)
    s = str(c)
    assert "\n" not in s and s == c.summary()
    for piece in ("fake_hp", "HOLDS", "0/1000", "delta=0.01", "ratio", "1000 seeds", "0 diverged"):
        assert piece in s


@pytest.mark.parametrize("kwargs,match", [
    (dict(delta=None), "delta = None"),
    (dict(delta=1.5), "delta = 1.5"),
    (dict(delta=0.1, confidence=1.0), "confidence = 1.0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check(hp(), FakeResult(Q_UNIFORM), **kwargs)


def test_bad_bound_result_and_quantity():
    with pytest.raises(ValueError, match="theory.Bound"):
        check(object(), FakeResult(Q_UNIFORM), delta=0.1)
    with pytest.raises(ValueError, match="metrics"):
        check(hp(), object(), delta=0.1)
    with pytest.raises(ValueError, match="'final_gap' is not a metric"):
        check(hp(quantity="final_gap"), FakeResult(Q_UNIFORM), delta=0.1)
    with pytest.raises(ValueError, match="no value for T"):
        check(hp(T * delta), type("R", (), {"metrics": {"avg_grad_sq": Q_UNIFORM}})(), delta=0.1)


# ---------------------------------------------------------------- the real registry and engine


import theory  # noqa: E402  (a failing import must fail the file, not skip it)


def test_real_registry_bound_with_fake_result():
    b = theory.get("li_liu_2023_clipped_sgd")
    r = FakeResult(Q_UNIFORM * 0.01, T=10_000)
    c = check(b, r, delta=0.01, alpha=1.5, C_opt=1.0)
    B = b.evaluate(C_opt=1.0, T=10_000, delta=0.01, alpha=1.5)
    assert c.bound_value == pytest.approx(B)
    assert c.verdict == ("holds" if B >= 0.01 else "violated")
    with pytest.raises(ValueError, match="C_opt"):
        check(b, r, delta=0.01, alpha=1.5)
    c = check(b, r, delta=0.01, alpha=2.5, C_opt=1.0)  # outside alpha in (1, 2]
    assert c.verdict == "inconclusive" and "alpha" in c.reason


def test_real_engine_run():
    from clipsim import engine
    from clipsim import noise as N
    from clipsim import objectives as O
    from clipsim import optimizers as P

    stable = getattr(N, "stable", None) or N.Noise.stable
    res = engine.simulate(O.get("quadratic", 2), stable(1.5), P.clipped_sgd(0.05, 1.0), n_steps=100,
                          n_seeds=400, seed=3)
    b = theory.get("li_liu_2023_clipped_sgd")
    q90 = S.quantile_ci(res.metrics["avg_grad_sq"], 0.9)
    B1 = b.evaluate(C_opt=1.0, T=100, delta=0.1, alpha=1.4)
    big = check(b, res, delta=0.1, alpha=1.4, C_opt=10 * q90.high / B1)
    small = check(b, res, delta=0.1, alpha=1.4, C_opt=0.1 * q90.low / B1)
    assert big.verdict == "holds" and small.verdict == "violated"
    assert big.n_seeds == 400 and big.values["T"] == 100 and big.values["lam"] == 1.0
    assert check(b, res, delta=0.1, alpha=1.6, C_opt=1.0).verdict == "inconclusive"  # tail index 1.5


# ---------------------------------------------------------------- registry conditions and corrections
def test_adagrad_bound_needs_a_bounded_loss_to_hold():
    """Li & Liu's AdaGrad bound assumes f <= M: on the quadratic (unbounded) the condition stays
    unverified, so even a huge constant never gives "holds"."""
    import theory
    from clipsim import noise, objectives, optimizers as opt, simulate

    res = simulate(objectives.get("quadratic", 4), noise.stable(1.5), opt.clipped_adagrad(0.5, 1.0, 1.0),
                   n_steps=200, n_seeds=400, seed=0)
    bc = check(theory.get("li_liu_2023_clipped_adagrad"), res, delta=0.1, alpha=1.4, C_opt=1e6)
    assert bc.verdict == "inconclusive" and "loss_sup <= M unknown" in bc.reason, bc.reason
    assert "evidence alone: holds" in bc.reason
    ok = check(theory.get("li_liu_2023_clipped_adagrad"), res, delta=0.1, alpha=1.4, C_opt=1e6,
                       loss_sup=1.0, M=2.0)  # a user asserting a bounded loss
    assert ok.verdict == "holds"


def test_unclipped_tail_bound_is_linear_in_eta_and_uses_the_run_schedule():
    import sympy as sp

    import theory

    b = theory.get("unclipped_sgd_polynomial_tail")
    vals = dict(C_low=1.0, L=1.0, sigma=1.0, T=1000.0, delta=0.01, alpha=1.5)
    assert b.evaluate(eta=0.02, **vals) / b.evaluate(eta=0.01, **vals) == pytest.approx(2.0)
    T = sp.Symbol("T", positive=True)
    a = sp.Rational(3, 2)
    # eta = 0.5 T^(-alpha/(3 alpha - 2)) = 0.5 T^(-3/5): exponent 2/alpha - 1 - 3/5 = -4/15
    got = b.exponent("T", schedule={"eta": sp.Rational(1, 2) * T ** sp.Rational(-3, 5)}, alpha=a)
    assert got == sp.Rational(-4, 15)
    assert b.exponent("T", alpha=a) == sp.Rational(1, 3)  # constant eta


def test_symmetric_noise_bounds_are_refused_on_asymmetric_noise():
    import theory
    from clipsim import noise, objectives, optimizers as opt, simulate

    b = theory.get("armacki_2025_symmetric_noise")
    assert b.symmetric_noise and not theory.get("li_liu_2023_clipped_sgd").symmetric_noise
    for nz in (noise.lomax(2.5), noise.stable(1.5, beta=0.5)):
        res = simulate(objectives.get("quadratic", 2), nz, opt.clipped_sgd(0.05, 1.0), n_steps=50, n_seeds=40)
        with pytest.raises(ValueError, match="symmetric noise only.*asymmetric"):
            check(b, res, delta=0.1, C_opt=1.0)
        check(theory.get("li_liu_2023_clipped_sgd"), res, delta=0.1, C_opt=1.0, alpha=1.2)  # no such tag
    res = simulate(objectives.get("quadratic", 2), noise.stable(1.5), opt.clipped_sgd(0.05, 1.0), n_steps=50,
                   n_seeds=40)
    assert check(b, res, delta=0.1, C_opt=1.0).bound == b.name


def test_a_bound_on_another_update_rule_is_inconclusive_with_its_evidence():
    """li_liu_2023_clipped_sgd is a theorem about clipped SGD: on an unclipped SGD run it says nothing, so
    the verdict is inconclusive (it was "violated"), the evidence alone still reported; on clipped SGD the
    condition is met."""
    import theory
    from clipsim import noise, objectives, optimizers as opt, simulate

    bound = theory.get("li_liu_2023_clipped_sgd")
    assert bound.algorithms == ("clipped_sgd",)
    obj = objectives.get("quadratic", 2)
    sgd = simulate(obj, noise.stable(1.5), opt.sgd(1.5), n_steps=50, n_seeds=100, seed=1)
    r = check(bound, sgd, delta=0.05, alpha=1.4, C_opt=1.0)
    assert r.verdict == "inconclusive"
    assert r.reason.startswith("validity condition optimizer is clipped_sgd violated (this run's optimizer is sgd")
    assert "evidence alone: violated" in r.reason
    clipped = simulate(obj, noise.stable(1.5), opt.clipped_sgd(0.1, 1.0), n_steps=50, n_seeds=100, seed=1)
    ok = check(bound, clipped, delta=0.05, alpha=1.4, C_opt=1.0)
    assert ("optimizer is clipped_sgd", "ok") in [(c.relation, c.status) for c in ok.conditions]
    assert "optimizer" not in ok.reason


def test_every_algorithm_a_bound_names_is_a_preset():
    import theory
    from clipsim import optimizers as opt

    named = {a for b in theory.BOUNDS.values() for a in b.algorithms}
    assert named and named <= set(opt.PRESETS)
