"""Registry of bounds (theory.BOUNDS) against docs/theory.md §4."""
import dataclasses
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, special

import theory
from theory import symbols as S
from theory.bound import KINDS, STATUSES

REQUIRED = [
    "li_liu_2023_clipped_sgd", "li_liu_2023_clipped_momentum", "li_liu_2023_clipped_adagrad",
    "li_liu_2023_generalization", "zhang_2020_clipped_sgd", "zhang_2020_lower_bound",
    "cutkosky_mehta_2021", "nguyen_2023_clipped_sgd", "sadiev_2023_nonconvex",
    "sadiev_2023_clip_bias", "sadiev_2023_clip_second_moment", "li_orabona_2020_delayed_adagrad",
    "hardt_2016_stability", "delta_gclip_pl_star", "ps_clip_sgd", "zhang_2020_l0l1_clipped_gd",
    "armacki_2026_tail",
]

# docs/theory.md §4 tags (the weakest where several are given, see theory.bound.STATUSES)
EXPECTED_STATUS = {
    "li_liu_2023_clipped_sgd": "D", "li_liu_2023_clipped_momentum": "D",
    "li_liu_2023_clipped_adagrad": "D", "li_liu_2023_generalization": "R",
    "zhang_2020_clipped_sgd": "2nd", "zhang_2020_lower_bound": "2nd",
    "cutkosky_mehta_2021": "2nd", "nguyen_2023_clipped_sgd": "R", "sadiev_2023_nonconvex": "R",
    "sadiev_2023_clip_bias": "R", "sadiev_2023_clip_second_moment": "R",
    "li_orabona_2020_delayed_adagrad": "R", "hardt_2016_stability": "R",
    "delta_gclip_pl_star": "D", "ps_clip_sgd": "D", "zhang_2020_l0l1_clipped_gd": "2nd",
    "armacki_2026_tail": "V",
}

# arXiv ids given by docs/theory.md (1905.11881: Zhang, He, Sra, Jadbabaie, ICLR 2020)
EXPECTED_ARXIV = {
    "li_liu_2023": "2307.13680", "zhang_2020_l0l1": "1905.11881", "zhang_2020": "1912.03194",
    "cutkosky_mehta": "2106.14343", "nguyen_2023": "2304.01119", "sadiev_2023": "2302.00999",
    "li_orabona": "2007.14294", "hardt_2016": "1509.01240", "delta_gclip": "2404.08624",
    "ps_clip": "2605.02701", "armacki_2026": "2602.05657",
    "armacki_2025": "2507.09093", "kornilov_2025": "2502.07923", "hubler_2025": "2410.13849",
}
NO_SOURCE = {"unclipped_sgd_polynomial_tail"}  # docs/theory.md §4.11 names no paper

TYPICAL = dict(
    T=1e4, t=100.0, n=1e3, N=1e6, d=10.0, delta=0.05, alpha=1.5, sigma=1.0, G=1.0, L=1.0,
    L0=1.0, L1=0.5, Delta=1.0, M=1.0, R=10.0, mu=0.1, loss0=1.0, xnorm=0.5, eps=0.1,
    eps_ada=0.1, eta=0.01, lam=2.0, beta=0.9, B=32.0, c=0.5, gamma=0.1, delta_floor=1e-3,
    c_eta=1.0, c_lam=1.0, c_B=1.0, loss_sup=0.5,
)
ALPHAS = [sp.Rational(5, 4), sp.Rational(3, 2), sp.Rational(7, 4), sp.Integer(2)]
R_SQ = dict(zip(ALPHAS, [sp.Rational(-2, 7), sp.Rational(-2, 5), sp.Rational(-6, 13),
                         sp.Rational(-1, 2)]))
R_NORM = dict(zip(ALPHAS, [sp.Rational(-1, 7), sp.Rational(-1, 5), sp.Rational(-3, 13),
                           sp.Rational(-1, 4)]))
R_ETA = dict(zip(ALPHAS, [sp.Rational(-5, 7), sp.Rational(-3, 5), sp.Rational(-7, 13),
                          sp.Rational(-1, 2)]))
R_LAM = dict(zip(ALPHAS, [sp.Rational(4, 7), sp.Rational(2, 5), sp.Rational(4, 13),
                          sp.Rational(1, 4)]))
R_EPS = dict(zip(ALPHAS, [sp.Integer(7), sp.Integer(5), sp.Rational(13, 3), sp.Integer(4)]))


def point(b, **over):
    """Typical values for every symbol of b (hidden constants 1, defaults left to the bound)."""
    vals = {k: TYPICAL[k] for k in b.parameters if k in TYPICAL}
    vals.update({h.name: 1.0 for h in b.hidden_constants})
    vals.update(over)
    return vals


ALL = sorted(theory.BOUNDS)


def test_required_names_present():
    missing = [n for n in REQUIRED if n not in theory.BOUNDS]
    assert not missing


@pytest.mark.parametrize("name", ALL)
def test_well_formed(name):
    b = theory.get(name)
    assert b.name == name
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.expr = sp.Integer(1)
    with pytest.raises(TypeError):
        b.schedule["eta"] = 1  # read-only mapping
    assert b.kind in KINDS and b.status in STATUSES
    assert b.quantity in theory.QUANTITIES
    if name in EXPECTED_STATUS:
        assert b.status == EXPECTED_STATUS[name]
    # δ present iff high probability (a tail function is the failure probability itself)
    if b.kind == "high_probability" and b.quantity != "tail_probability":
        assert b.delta is S.delta
    if b.kind in ("expectation", "lemma") or b.quantity == "tail_probability":
        assert b.delta is None
    if b.delta is not None:
        assert b.delta in b.expr.free_symbols
    # hidden constants: C_* symbols of expr, never defaulted
    for h in b.hidden_constants:
        assert isinstance(h, sp.Symbol) and h in b.expr.free_symbols and h.is_positive
        assert re.match(r"^C(_\w+)?$", h.name) and h.name not in b.defaults
    undeclared = [s.name for s in b.expr.free_symbols
                  if s.name.startswith("C_") and s not in b.hidden_constants]
    assert not undeclared
    # every free symbol is canonical (same object) or a hidden constant; positivity
    for s in b.expr.free_symbols:
        assert s in b.hidden_constants or S.CANONICAL.get(s.name) is s, s
        assert s.is_positive or (s.name == "eps_ada" and s.is_nonnegative)
    for r in b.valid_when:
        assert isinstance(r, sp.core.relational.Relational)
    assert b.assumptions and all(isinstance(a, str) and a for a in b.assumptions)
    assert b.description
    if name in NO_SOURCE:
        assert b.status == "D" and b.reference.arxiv is None
    else:
        key = next(k for k in EXPECTED_ARXIV if name.startswith(k))
        assert b.reference.arxiv == EXPECTED_ARXIV[key]
        assert f"arXiv:{b.reference.arxiv}" in str(b.reference)


@pytest.mark.parametrize("name", ALL)
def test_evaluates_finite_positive(name):
    b = theory.get(name)
    vals = point(b)
    assert b.is_valid(**vals)
    v = b.evaluate(**vals)
    assert isinstance(v, float) and math.isfinite(v) and v > 0
    # vectorised: an array in T (or the rate variable) gives one value per entry
    var = b.rate_var
    arr = np.array([vals[var], 2 * vals[var], 4 * vals[var]])
    out = b.evaluate(**{**vals, var: arr})
    assert out.shape == (3,) and np.all(np.isfinite(out)) and out[0] == pytest.approx(v)


@pytest.mark.parametrize("name", [n for n in ALL if theory.BOUNDS[n].schedule])
def test_schedule_values_finite_positive(name):
    b = theory.get(name)
    vals = {k: TYPICAL[k] for k in b.schedule_symbols if k in TYPICAL}
    out = b.schedule_values(**vals)
    assert set(out) == set(b.schedule)
    for k, v in out.items():
        assert math.isfinite(v) and v > 0, (k, v)
    if "beta" in out:
        assert 0 < out["beta"] < 1


def test_li_liu_schedule_numbers():
    b = theory.get("li_liu_2023_clipped_sgd")
    out = b.schedule_values(T=10 ** 4, alpha=1.5, sigma=2.0, c_eta=0.5, c_lam=3.0)
    assert out["eta"] == pytest.approx(0.5 * 1e4 ** -0.6)
    assert out["lam"] == pytest.approx(3.0 * 2.0 * 1e4 ** 0.4)


# ---------------------------------------------------------------- exponents (docs/theory.md §4 table)
SQ_T = ["li_liu_2023_clipped_sgd", "li_liu_2023_clipped_momentum", "li_liu_2023_clipped_adagrad",
        "zhang_2020_clipped_sgd", "nguyen_2023_clipped_sgd"]


@pytest.mark.parametrize("name", SQ_T)
def test_squared_gradient_exponent(name):
    b = theory.get(name)
    assert sp.simplify(b.exponent("T") - (2 - 2 * S.alpha) / (3 * S.alpha - 2)) == 0
    for a in ALPHAS:
        assert b.exponent("T", alpha=a) == R_SQ[a]
    # α -> 2 recovers the bounded-variance rate T^(-1/2)
    assert sp.limit(b.exponent("T"), S.alpha, 2) == sp.Rational(-1, 2)


def test_ps_clip_budget_exponent():
    b = theory.get("ps_clip_sgd")
    for a in ALPHAS:
        assert b.exponent("N", alpha=a) == R_SQ[a]
        assert b.schedule_exponent("B", "N", alpha=a) == a / (3 * a - 2)
        # T = N/B steps
        assert b.schedule_exponent("T", "N", alpha=a) == 1 - a / (3 * a - 2)


@pytest.mark.parametrize("name", ["cutkosky_mehta_2021", "zhang_2020_lower_bound"])
def test_gradient_norm_exponent(name):
    b = theory.get(name)
    for a in ALPHAS:
        assert b.exponent("T", alpha=a) == R_NORM[a]


@pytest.mark.parametrize("name", SQ_T)
def test_gradient_norm_via_cauchy_schwarz(name):
    g = theory.to_grad_norm(theory.get(name))
    assert g.quantity == "avg_grad_norm"
    for a in ALPHAS:
        assert g.exponent("T", alpha=a) == R_NORM[a]


@pytest.mark.parametrize("name", ["li_liu_2023_clipped_sgd", "li_liu_2023_clipped_momentum",
                                  "li_liu_2023_population", "zhang_2020_clipped_sgd"])
def test_prescribed_eta_lambda_exponents(name):
    b = theory.get(name)
    for a in ALPHAS:
        assert b.schedule_exponent("eta", "T", alpha=a) == R_ETA[a]
        assert b.schedule_exponent("lam", "T", alpha=a) == R_LAM[a]


def test_cutkosky_mehta_schedule():
    b = theory.get("cutkosky_mehta_2021")
    p = S.alpha
    assert sp.simplify(b.schedule_exponent("beta") + p / (3 * p - 2)) == 0  # 1-β
    assert sp.simplify(b.schedule_exponent("eta") + (2 * p - 1) / (3 * p - 2)) == 0
    assert sp.simplify(b.schedule_exponent("lam") - 1 / (3 * p - 2)) == 0
    assert b.log_power("T") == 1 and b.exponent("delta") == 0 and b.log_power("delta") == 1


def test_oracle_complexity_exponent():
    b = theory.get("zhang_2020_oracle_complexity")
    for a in ALPHAS:
        assert b.exponent("eps", alpha=a) == R_EPS[a]
        # consistent with the T-form: T ~ eps^(1/r_norm)
        assert b.exponent("eps", alpha=a) == -1 / R_NORM[a]
    assert theory.get("zhang_2020_l0l1_clipped_gd").exponent("eps") == 2


def test_log_powers_and_delta_dependence():
    li = theory.get("li_liu_2023_clipped_sgd")
    assert li.log_power("T") == S.log_power and li.log_power("T", log_power=2) == 2
    assert li.exponent("delta") == 0 and li.log_power("delta") == S.log_power
    ng = theory.get("nguyen_2023_clipped_sgd")
    assert ng.log_power("T") == 0  # log(1/δ), not log(T/δ)
    assert ng.exponent("delta") == 0
    assert ng.log_power("delta", alpha=sp.Rational(3, 2)) == sp.Rational(2, 5)
    # Sadiev: in T the second argument of max dominates, in 1/δ the first
    sa = theory.get("sadiev_2023_nonconvex")
    assert sp.simplify(sa.exponent("T") + (S.alpha - 1) / S.alpha) == 0
    assert sp.simplify(sa.log_power("T") - (S.alpha - 1) / S.alpha) == 0
    assert sa.exponent("delta") == 0 and sa.log_power("delta") == 1
    gen = theory.get("li_liu_2023_generalization")
    assert gen.exponent("n") == sp.Rational(-1, 2) and gen.log_power("n") == sp.Rational(1, 2)
    assert gen.exponent("delta") == 0 and gen.log_power("delta") == sp.Rational(1, 2)
    # unclipped SGD: polynomial in 1/δ (the contrast of docs/theory.md §4.11)
    un = theory.get("unclipped_sgd_polynomial_tail")
    assert un.exponent("delta", alpha=sp.Rational(3, 2)) == sp.Rational(4, 3)


def test_exponential_rates():
    assert theory.get("armacki_2026_tail").exponent("t") == -sp.oo
    assert theory.get("delta_gclip_pl_star").exponent("t") == -sp.oo
    h = theory.get("hardt_2016_stability")
    assert sp.simplify(h.exponent("T") - S.L * S.c / (S.L * S.c + 1)) == 0
    assert h.exponent("n") == -1


def test_armacki_beta_p():
    b = theory.get("armacki_2026_tail")
    # exponent of t inside exp: β_p = 4(p-1)/(3p-2); at p = 3/2, 4/5
    inner = [a for a in sp.preorder_traversal(b.expr) if isinstance(a, sp.Pow) and a.base == S.t]
    assert {sp.simplify(a.exp.subs(S.alpha, sp.Rational(3, 2))) for a in inner} == {
        sp.Rational(4, 5)}


@pytest.mark.parametrize("name", [n for n in ALL if theory.BOUNDS[n].exponent(
    theory.BOUNDS[n].rate_var) not in (sp.oo, -sp.oo)])
def test_exponent_matches_numeric_slope(name):
    """d log B / d log x equals p + q/log x + O(1/log^2 x) (symbolic analysis vs evaluation).

    A bound with the right (p, q) leaves a residual r(L) = slope - p - q/L of order 1/L^2 (e.g.
    log(T/δ) = L + log(1/δ) gives r = -q log(1/δ)/(L (L + log(1/δ)))), so L*r(L) halves when L
    doubles; a wrong q leaves L*r constant, a wrong p makes it double. The test compares L*r at
    x = 1e15 and 1e30 (L doubles) against 3/4, between the right ratio 1/2 and the wrong 1, above
    a floor of the central difference's rounding error (4 eps |log B| / (2h), times L)."""
    b = theory.get(name)
    var = b.rate_var
    small = var in S.SMALL_VARIABLES
    h, eps = 1e-4, np.finfo(float).eps
    for a in (1.25, 1.75):
        vals = point(b, **({"alpha": a} if "alpha" in b.symbols else {}))
        p, q = b.rate(var, alpha=a, log_power=1) if "alpha" in b.symbols else b.rate(
            var, log_power=1)
        q = float(q.subs({s: TYPICAL[s.name] for s in q.free_symbols if s.name in TYPICAL}))
        pred = float(p.subs({s: TYPICAL[s.name] for s in p.free_symbols}))
        scaled = []  # (L * r(L), rounding floor of L * r(L))
        for x in ((1e-15, 1e-30) if small else (1e15, 1e30)):
            lo = math.log(b.evaluate(**{**vals, var: x * math.exp(-h)}))
            hi = math.log(b.evaluate(**{**vals, var: x * math.exp(h)}))
            slope = (hi - lo) / (2 * h) * (-1 if small else 1)
            L = abs(math.log(x))
            scaled.append((L * (slope - pred - q / L), L * 4 * eps * max(abs(lo), abs(hi)) / (2 * h)))
        (r1, f1), (r2, f2) = scaled
        assert abs(r2) <= 0.75 * abs(r1) + f1 + f2, (a, pred, q, scaled)


# ---------------------------------------------------------------- monotonicity
DECREASING = {  # name -> variable in which the bound must decrease
    **{n: "T" for n in SQ_T + ["sadiev_2023_nonconvex", "li_orabona_2020_delayed_adagrad",
                               "cutkosky_mehta_2021", "zhang_2020_lower_bound"]},
    "ps_clip_sgd": "N", "li_liu_2023_generalization": "n", "armacki_2026_tail": "t",
    "delta_gclip_pl_star": "t", "hardt_2016_stability": "n", "sadiev_2023_clip_bias": "lam",
    "ps_clip_bias": "B",
}
INCREASING = {"hardt_2016_stability": "T", "sadiev_2023_clip_second_moment": "lam"}


def _derivative_signs(b, var, grid):
    """Signs of d log B / d log x on a grid (log scale: no underflow for exp-type bounds)."""
    x = b.symbol(var)
    dexpr = sp.diff(sp.expand_log(sp.log(b.expr), force=True), x) * x
    syms = sorted(dexpr.free_symbols, key=lambda s: s.name)
    f = sp.lambdify(syms, dexpr, "numpy")
    out = []
    for vals in grid:
        full = {**point(b), **vals}
        full.setdefault("log_power", 1.0)
        out.append(f(*[np.asarray(full[s.name], float) for s in syms]))
    return np.concatenate([np.ravel(o) for o in out])


@pytest.mark.parametrize("name,var", sorted(DECREASING.items()))
def test_decreasing(name, var):
    b = theory.get(name)
    xs = np.logspace(4, 9, 11) if var in ("T", "N", "n") else (
        np.logspace(1.3, 4, 9) if var in ("t", "B") else np.logspace(0, 3, 9))
    grid = [{var: xs, "alpha": a, "delta": dl, "log_power": q, "eps_ada": e}
            for a in (1.25, 1.5, 1.75, 2.0) for dl in (0.1, 1e-3) for q in (1.0, 2.0)
            for e in (0.0, 0.25)]  # eps_ada near 1/2 decreases only once log(T/δ) > q/(1/2-ε)
    d = _derivative_signs(b, var, grid)
    assert np.all(np.isfinite(d)) and np.all(d < 0)


@pytest.mark.parametrize("name,var", sorted(INCREASING.items()))
def test_increasing(name, var):
    b = theory.get(name)
    grid = [{var: np.logspace(0, 6, 13), "alpha": a} for a in (1.25, 1.5, 1.75)]
    d = _derivative_signs(b, var, grid)
    assert np.all(d > 0)


def test_oracle_complexity_grows_as_eps_shrinks():
    for name in ("zhang_2020_oracle_complexity", "zhang_2020_l0l1_clipped_gd"):
        b = theory.get(name)
        v = b.evaluate(**point(b, eps=np.array([1e-1, 1e-2, 1e-3])))
        assert np.all(np.diff(v) > 0)


# ---------------------------------------------------------------- lower vs upper
UPPER_SQ = SQ_T + ["sadiev_2023_nonconvex"]


@pytest.mark.parametrize("name", UPPER_SQ + ["cutkosky_mehta_2021"])
def test_lower_bound_not_above_upper_bounds(name):
    low = theory.get("zhang_2020_lower_bound")
    up = theory.get(name)
    if up.quantity == "avg_grad_sq":
        up = theory.to_grad_norm(up)
    assert up.quantity == low.quantity == "avg_grad_norm"
    for a in [sp.Rational(k, 20) for k in range(21, 41)]:
        assert low.exponent("T", alpha=a) <= up.exponent("T", alpha=a)


def test_sadiev_nonconvex_is_strictly_slower_than_lower_bound_below_two():
    low = theory.get("zhang_2020_lower_bound")
    up = theory.to_grad_norm(theory.get("sadiev_2023_nonconvex"))
    a = sp.Rational(3, 2)
    assert low.exponent("T", alpha=a) < up.exponent("T", alpha=a)
    assert low.exponent("T", alpha=2) == up.exponent("T", alpha=2)


def test_to_grad_norm_rejects_non_squared():
    with pytest.raises(ValueError, match="to_grad_norm needs an avg_grad_sq upper bound"):
        theory.to_grad_norm(theory.get("zhang_2020_lower_bound"))


# ---------------------------------------------------------------- Sadiev clipping lemmas
def test_sadiev_lemmas_explicit_constants():
    bias = theory.get("sadiev_2023_clip_bias")
    sec = theory.get("sadiev_2023_clip_second_moment")
    for b in (bias, sec):
        assert b.hidden_constants == () and b.kind == "lemma"
        assert not any(s.name.startswith("C") for s in b.expr.free_symbols)
        assert sp.LessThan(S.xnorm, S.lam / 2) in b.valid_when
    assert sp.simplify(bias.expr - 2 ** S.alpha * S.sigma ** S.alpha / S.lam ** (S.alpha - 1)) == 0
    assert sp.simplify(sec.expr - 18 * S.lam ** (2 - S.alpha) * S.sigma ** S.alpha) == 0
    assert bias.evaluate(alpha=1.5, sigma=1.0, lam=4.0) == pytest.approx(2 ** 1.5 / 2.0)
    assert not bias.is_valid(alpha=1.5, sigma=1.0, lam=4.0, xnorm=2.5)
    assert bias.is_valid(alpha=1.5, sigma=1.0, lam=4.0, xnorm=2.0)


def _student_t_abs_moment(nu, p):
    return nu ** (p / 2) * special.gamma((p + 1) / 2) * special.gamma((nu - p) / 2) / (
        math.sqrt(math.pi) * special.gamma(nu / 2))


@pytest.mark.parametrize("a,x,lam", [(1.5, 0.0, 1.0), (1.5, 0.5, 1.0), (1.25, 1.0, 2.0),
                                     (1.75, 2.0, 4.0), (1.5, 0.2, 10.0)])
def test_sadiev_lemmas_hold_for_student_t(a, x, lam):
    """X = x + ξ, ξ Student-t (ν = 2.5 > α): exact 1-D expectations by quadrature."""
    nu = 2.5
    sig = _student_t_abs_moment(nu, a) ** (1 / a)  # E|ξ|^α = σ^α
    pdf = lambda u: math.exp(special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)) / math.sqrt(
        nu * math.pi) * (1 + u * u / nu) ** (-(nu + 1) / 2)
    clip = lambda v: max(-lam, min(lam, v))
    br = [-lam - x, lam - x]
    pieces = [(-np.inf, br[0]), (br[0], br[1]), (br[1], np.inf)]
    m1 = sum(integrate.quad(lambda u: (clip(x + u) - x) * pdf(u), lo_, hi_, limit=200)[0]
             for lo_, hi_ in pieces)
    m2 = sum(integrate.quad(lambda u: (clip(x + u) - x) ** 2 * pdf(u), lo_, hi_, limit=200)[0]
             for lo_, hi_ in pieces)
    vals = dict(alpha=a, sigma=sig, lam=lam, xnorm=abs(x))
    assert theory.get("sadiev_2023_clip_bias").is_valid(**vals)
    assert abs(m1) <= theory.get("sadiev_2023_clip_bias").evaluate(**vals)
    assert m2 <= theory.get("sadiev_2023_clip_second_moment").evaluate(**vals)


# ---------------------------------------------------------------- registry API
def test_get_unknown_name_suggests_close_names():
    with pytest.raises(ValueError) as e:
        theory.get("li_liu_2023_clipped_sdg")
    msg = str(e.value)
    assert "\n" not in msg and "li_liu_2023_clipped_sdg" in msg
    assert "did you mean li_liu_2023_clipped_sgd" in msg and "clipsim list bounds" in msg


def test_register_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        theory.register(theory.get("ps_clip_sgd"))


@pytest.mark.parametrize("name", ALL)
def test_latex(name):
    b = theory.get(name)
    tex = b.latex()
    rel = r"\ge" if b.kind == "lower_bound" else r"\le"
    assert rel in tex and tex.count("{") == tex.count("}")
    assert ("1 - \\delta" in tex) == (b.delta is not None and b.kind != "lower_bound")
    for h in b.hidden_constants:
        assert "C_{\\mathrm{" + h.name[2:] + "}}" in tex
    # canonical names with a LaTeX spelling never leak as plain text
    assert not re.search(r"\b(lam|eps|eps_ada|xnorm|delta_floor|loss0|log_power|c_eta|c_lam)\b",
                         tex), tex


def test_table_rows():
    rows = theory.table()
    assert [r["name"] for r in rows] == sorted(theory.BOUNDS)
    by = {r["name"]: r for r in rows}
    li = by["li_liu_2023_clipped_sgd"]
    assert li["rate_var"] == "T" and li["rate_at_1_5"] == sp.Rational(-2, 5)
    assert sp.simplify(li["rate"] - theory.r_sq) == 0
    assert by["ps_clip_sgd"]["rate_var"] == "N"
    assert by["li_liu_2023_generalization"]["rate_var"] == "n"


def test_python_m_theory_prints_registry():
    out = subprocess.run([sys.executable, "-m", "theory"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for n in REQUIRED:
        assert n in out
    line = next(l for l in out.splitlines() if l.startswith("li_liu_2023_clipped_sgd "))
    assert "-2/5" in line and "high_probability" in line
