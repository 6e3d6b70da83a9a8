"""The registry of bounds (docs/theory.md §4), name -> ``Bound``.

Conventions: ``T`` is the number of steps (K in Sadiev et al.); ``alpha`` the moment order (p in
Cutkosky & Mehta, Nguyen et al., PS-Clip); hidden constants ``C_*`` absorb every problem constant
(Δ, L, σ, G) the source's shape does not show, plus the free schedule constants c_η, c_λ.
Status: the tag of docs/theory.md; where it gives several for one item, the weakest (V > 2nd > R > D), the
full tag in ``status_note``.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from . import symbols as S
from .bound import Bound, Reference
from .symbols import (B, G, L, L0, L1, N, R, T, Delta, alpha, c, c_B, c_eta, c_lam, d, delta,
                      delta_floor, eps, eps_ada, eta, lam, log_power, loss0, mu, n, sigma, t,
                      xnorm)

__all__ = ["BOUNDS", "get", "register", "r_sq", "to_grad_norm", "ALPHA_RANGE"]

C_opt = S.hidden("opt")
C_gen = S.hidden("gen")
C_low = S.hidden("low")
C_tail = S.hidden("tail")
C_exp = S.hidden("exp")
C_bias = S.hidden("bias")

#: 1 < α ≤ 2, the heavy-tail range.
ALPHA_RANGE = (sp.StrictGreaterThan(alpha, 1), sp.LessThan(alpha, 2))
_DELTA_RANGE = (sp.StrictLessThan(delta, 1),)

#: r(α) = (2-2α)/(3α-2), the exponent of the average squared gradient norm.
r_sq = (2 - 2 * alpha) / (3 * alpha - 2)

_LOG_POWER_DOC = ("log_power: power of log(T/δ), 1 or 2 in the source (unknown): default 1")

BOUNDS: dict[str, Bound] = {}


def register(b: Bound) -> Bound:
    """Add ``b`` to ``BOUNDS`` (ValueError if the name is taken)."""
    if b.name in BOUNDS:
        raise ValueError(f"bound {b.name!r} is already registered")
    BOUNDS[b.name] = b
    return b


def get(name: str) -> Bound:
    """The registered bound ``name`` (ValueError with the closest names otherwise)."""
    try:
        return BOUNDS[name]
    except (KeyError, TypeError):
        import difflib

        close = difflib.get_close_matches(str(name), sorted(BOUNDS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ValueError(f"unknown bound {name!r}: {hint}`clipsim list bounds` lists all {len(BOUNDS)}") from None


_sgd_schedule = {
    "eta": c_eta * T ** (-alpha / (3 * alpha - 2)),
    "lam": c_lam * sigma * T ** (1 / (3 * alpha - 2)),
}
_heavy = "E||xi||^alpha <= sigma^alpha (bounded alpha-th central moment), 1 < alpha <= 2"
_smooth = "F is L-smooth, F* > -inf, Delta = F(w_1) - F*"

# ---------------------------------------------------------------------------- 1. Li & Liu 2023
_li_liu = Reference("Li & Liu 2023", "2307.13680", venue="ECAI 2023",
                    note="theorem numbers not read; form reconstructed (docs/theory.md §4.1)")

register(Bound(
    name="li_liu_2023_clipped_sgd", algorithms=("clipped_sgd",),
    expr=C_opt * sp.log(T / delta) ** log_power * T ** r_sq,
    quantity="avg_grad_sq", kind="high_probability", status="D",
    status_note="[V that it exists; form D/R] (docs/theory.md §4.1)",
    reference=_li_liu, delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy, "finite sum F_S over n samples; the bound is on grad F_S",
                 "clipped SGD (docs/theory.md §2.1) with the prescribed eta, lam"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE,
    schedule=_sgd_schedule, defaults={"log_power": 1},
    lhs=r"\frac{1}{T}\sum_{t=1}^{T}\|\nabla F_S(w_t)\|^2",
    description="Clipped SGD, high probability, empirical risk: C polylog(T/δ) T^r(α). "
                + _LOG_POWER_DOC,
))

# Momentum and AdaGrad: the clipped-SGD record with their own notes, assumptions and schedule.
_li_liu_sgd = BOUNDS["li_liu_2023_clipped_sgd"]
register(_li_liu_sgd.with_(
    name="li_liu_2023_clipped_momentum", algorithms=("clipped_momentum",),
    status_note="[D/R]: same exponent as clipped SGD (docs/theory.md §4.1)",
    assumptions=(_smooth, _heavy, "finite sum F_S; the bound is on grad F_S",
                 "clipped momentum (docs/theory.md §2.2), fixed beta in (0, 1) (not prescribed)"),
    description="Clipped SGD with momentum: same rate as clipped SGD. " + _LOG_POWER_DOC,
))

#: sup of the loss over the region the iterates visit; the AdaGrad bound assumes it is <= M.
loss_sup = sp.Symbol("loss_sup", positive=True)

register(_li_liu_sgd.with_(
    name="li_liu_2023_clipped_adagrad", algorithms=("clipped_adagrad",),
    status_note="[D/R] exponent; bounded loss f <= M and polylog(1/δ) [2nd] (docs/theory.md §4.1)",
    assumptions=(_smooth, _heavy, "bounded loss f <= M (C_opt depends on M)",
                 "finite sum F_S; the bound is on grad F_S",
                 "clipped AdaGrad-Norm (docs/theory.md §2.3)"),
    # [D]: b_T ~ sqrt(T lam^(2-alpha) sigma^alpha) ~ T^(alpha/(3alpha-2)) with this lam, so a
    # constant eta gives the effective step eta/b_T of clipped SGD's schedule.
    schedule={"eta": c_eta, "lam": c_lam * sigma * T ** (1 / (3 * alpha - 2))},
    valid_when=ALPHA_RANGE + _DELTA_RANGE + (sp.LessThan(loss_sup, S.M),),
    description="Clipped AdaGrad-Norm: same rate; polylog(1/δ) encoded as log(T/δ)^q. "
                "Needs a bounded loss: the condition loss_sup <= M is checked only when both values "
                "are given (e.g. loss_sup = M = d for geman_mcclure); on an unbounded objective "
                "(the quadratic) it stays unverified and a check never says 'holds'. "
                "Schedule [D]: constant eta (AdaGrad's accumulator supplies T^(-α/(3α-2))). "
                + _LOG_POWER_DOC,
))

_gen_dev = C_gen * G * sp.sqrt((d * sp.log(n * L * R / G) + sp.log(1 / delta)) / n)
register(Bound(
    name="li_liu_2023_generalization",
    expr=_gen_dev,
    quantity="grad_deviation", kind="generalization", status="R",
    status_note="[R, low confidence] (docs/theory.md §4.1)",
    reference=_li_liu, delta=delta, hidden_constants=(C_gen,),
    assumptions=("per-sample gradients bounded by G (sub-Gaussian deviation)",
                 "per-sample losses L-smooth", "w in the ball of radius R", "S: n i.i.d. samples"),
    valid_when=(sp.StrictGreaterThan(n * L * R / G, 1),) + _DELTA_RANGE,
    rate_var="n",
    description="Uniform gradient deviation over a ball, w.p. 1-δ. With only α-th moments and "
                "unbounded losses the deviation scales as n^((1-α)/α) instead [D].",
))

register(Bound(
    name="li_liu_2023_population",
    expr=2 * C_opt * sp.log(T / delta) ** log_power * T ** r_sq + 2 * _gen_dev ** 2,
    quantity="avg_grad_sq", kind="generalization", status="D",
    status_note="[D] combination 2·opt + 2·gen² of two items (docs/theory.md §4.1)",
    reference=_li_liu, delta=delta, hidden_constants=(C_gen, C_opt),
    assumptions=(_smooth, _heavy, "assumptions of li_liu_2023_clipped_sgd and "
                 "li_liu_2023_generalization; union bound (each at level δ, total 2δ)"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE + (sp.StrictGreaterThan(n * L * R / G, 1),),
    schedule=_sgd_schedule, defaults={"log_power": 1},
    description="Population gradient: ||∇F||² <= 2||∇F_S||² + 2 sup||∇F-∇F_S||². "
                + _LOG_POWER_DOC,
))

# ---------------------------------------------------------------------------- 2. Zhang et al. 2020
_zhang = Reference("Zhang, Karimireddy, Veit, Kim, Reddi, Kumar, Sra 2020", "1912.03194",
                   venue="NeurIPS 2020", note="restated (docs/theory.md §4.2)")
register(Bound(
    name="zhang_2020_clipped_sgd", algorithms=("clipped_sgd",),
    expr=C_opt * T ** r_sq,
    quantity="avg_grad_sq", kind="expectation", status="2nd",
    reference=_zhang, hidden_constants=(C_opt,),
    assumptions=(_smooth, "E||g||^alpha <= G^alpha (non-central moment), 1 < alpha <= 2",
                 "clipped SGD with the prescribed eta, lam"),
    valid_when=ALPHA_RANGE,
    schedule={"eta": c_eta * T ** (-alpha / (3 * alpha - 2)),
              "lam": c_lam * G * T ** (1 / (3 * alpha - 2))},
    description="Clipped SGD in expectation: E (1/T)Σ||∇F||² <= C T^r(α).",
))

register(Bound(
    name="zhang_2020_lower_bound",
    expr=C_low * T ** ((1 - alpha) / (3 * alpha - 2)),
    quantity="avg_grad_norm", kind="lower_bound", status="2nd",
    reference=_zhang, hidden_constants=(C_low,),
    assumptions=("worst case over L-smooth F and noise with E||g||^alpha <= G^alpha",
                 "any algorithm using T stochastic gradients; holds for every iterate, hence "
                 "for the average"),
    valid_when=ALPHA_RANGE,
    description="Lower bound E||∇F|| >~ T^((1-α)/(3α-2)), i.e. ε^(-(3α-2)/(α-1)) oracle calls.",
))

register(Bound(
    name="zhang_2020_oracle_complexity",
    expr=C_low * eps ** (-(3 * alpha - 2) / (alpha - 1)),
    quantity="oracle_complexity", kind="lower_bound", status="2nd",
    reference=_zhang, hidden_constants=(C_low,),
    assumptions=("worst case over L-smooth F and noise with E||g||^alpha <= G^alpha",
                 "calls needed to output w with E||∇F(w)|| <= eps"),
    valid_when=ALPHA_RANGE, rate_var="eps",
    description="Oracle-complexity form of zhang_2020_lower_bound: ε^(-(3α-2)/(α-1)).",
))

# ---------------------------------------------------------------------------- 3. Cutkosky & Mehta
register(Bound(
    name="cutkosky_mehta_2021", algorithms=("normalized_momentum",),
    expr=C_opt * sp.log(T / delta) * T ** ((1 - alpha) / (3 * alpha - 2)),
    quantity="avg_grad_norm", kind="high_probability", status="2nd",
    reference=Reference("Cutkosky & Mehta 2021", "2106.14343", venue="NeurIPS 2021"),
    delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, "E||g||^p <= G^p (non-central moment), p = alpha in (1, 2]",
                 "normalized SGD with clipped momentum (docs/theory.md §2.4)"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE,
    schedule={"beta": 1 - T ** (-alpha / (3 * alpha - 2)),
              "eta": c_eta * T ** (-(2 * alpha - 1) / (3 * alpha - 2)),
              "lam": c_lam * T ** (1 / (3 * alpha - 2))},
    description="(1/T)Σ||∇F|| <= C log(T/δ) T^((1-p)/(3p-2)); lam is the clip level τ.",
))

# ---------------------------------------------------------------------------- 4. Nguyen et al. 2023
register(Bound(
    name="nguyen_2023_clipped_sgd", algorithms=("clipped_sgd",),
    expr=C_opt * (sp.log(1 / delta) / T) ** ((2 * alpha - 2) / (3 * alpha - 2)),
    quantity="avg_grad_sq", kind="high_probability", status="R",
    status_note="[R, medium] (docs/theory.md §4.4)",
    reference=Reference("Nguyen, Nguyen, Ene, Nguyen 2023", "2304.01119"),
    delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy, "clipped SGD with the paper's (unread) eta, lam"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE,
    description="(1/T)Σ||∇F||² <= C (log(1/δ)/T)^((2p-2)/(3p-2)): log(1/δ), not log(T/δ).",
))

# ---------------------------------------------------------------------------- 5. Sadiev et al. 2023
_sadiev = Reference("Sadiev, Danilova, Gorbunov, Horvath, Gidel, Dvurechensky, Gasnikov, "
                    "Richtarik 2023", "2302.00999", venue="ICML 2023")
_logKd = sp.log(T / delta)
register(Bound(
    name="sadiev_2023_nonconvex", algorithms=("clipped_sgd",),
    expr=C_opt * sp.Max(L * Delta * _logKd / T,
                        sp.sqrt(L * Delta) * sigma * _logKd ** ((alpha - 1) / alpha)
                        / T ** ((alpha - 1) / alpha)),
    quantity="avg_grad_sq", kind="high_probability", status="R",
    status_note="[R, medium] (docs/theory.md §4.5)",
    reference=_sadiev, delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy, "clipped SGD, K = T iterations"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE,
    description="max(LΔ log(K/δ)/K, sqrt(LΔ) σ log(K/δ)^((α-1)/α) / K^((α-1)/α)), K = T. "
                "Rates: the dominant argument (in T the second, in 1/δ the first).",
))

_lemma_assume = ("E X = x, E||X - x||^alpha <= sigma^alpha, 1 < alpha <= 2", "||x|| <= lam/2")
_lemma_valid = ALPHA_RANGE + (sp.LessThan(xnorm, lam / 2),)
register(Bound(
    name="sadiev_2023_clip_bias",
    expr=2 ** alpha * sigma ** alpha / lam ** (alpha - 1),
    quantity="clip_bias", kind="lemma", status="R",
    status_note="[R, medium] explicit constants (docs/theory.md §4.5)",
    reference=_sadiev, assumptions=_lemma_assume, valid_when=_lemma_valid,
    rate_var="lam",
    description="||E clip_λ(X) - x|| <= 2^α σ^α / λ^(α-1) (explicit constant).",
))
register(Bound(
    name="sadiev_2023_clip_second_moment",
    expr=18 * lam ** (2 - alpha) * sigma ** alpha,
    quantity="clip_second_moment", kind="lemma", status="R",
    status_note="[R, medium] explicit constants (docs/theory.md §4.5)",
    reference=_sadiev, assumptions=_lemma_assume, valid_when=_lemma_valid,
    rate_var="lam",
    description="E||clip_λ(X) - x||² <= 18 λ^(2-α) σ^α (explicit constant).",
))

# ---------------------------------------------------------------------------- 6. Li & Orabona 2020
register(Bound(
    name="li_orabona_2020_delayed_adagrad", algorithms=("adagrad_momentum",),
    expr=C_opt * sp.log(T / delta) ** log_power * T ** (-(sp.Rational(1, 2) - eps_ada)),
    quantity="avg_grad_sq", kind="high_probability", status="R",
    reference=Reference("Li & Orabona 2020", "2007.14294"),
    delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, "sub-Gaussian noise",
                 "delayed AdaGrad step eta_t = a/(b + sum_{s<t}||g_s||^2)^(1/2+eps_ada), "
                 "with momentum"),
    valid_when=(sp.StrictLessThan(eps_ada, sp.Rational(1, 2)),) + _DELTA_RANGE,  # eps_ada >= 0
    defaults={"log_power": 1},
    description="Õ(T^-(1/2-ε)) up to log(T/δ); log power unknown (default 1).",
))

# ---------------------------------------------------------------------------- 7. Hardt et al. 2016
register(Bound(
    name="hardt_2016_stability",
    expr=(1 + 1 / (L * c)) / (n - 1) * (2 * c * G ** 2) ** (1 / (L * c + 1))
    * T ** (L * c / (L * c + 1)),
    quantity="stability", kind="generalization", status="R",
    reference=Reference("Hardt, Recht, Singer 2016", "1509.01240", venue="ICML 2016",
                        theorem="non-convex stability theorem (c/t steps)"),
    assumptions=("loss in [0, 1], L-smooth (beta in the paper) and G-Lipschitz (L in the paper)",
                 "SGD with steps eta_t <= c/t, T steps over n samples"),
    valid_when=(sp.StrictGreaterThan(n, 1),),
    schedule={"eta": c / t},
    description="Uniform stability (1 + 1/(βc))/(n-1) (2cL²)^(1/(βc+1)) T^(βc/(βc+1)); "
                "β -> L (smoothness), L -> G (Lipschitz). Grows with T.",
))

# ---------------------------------------------------------------------------- 8. δ-GClip, PL*
_tucat = Reference("Tucat & Mukherjee 2024", "2404.08624",
                   note="bound reconstructed here (docs/theory.md §4.8), not read in the paper")
_pl_assume = ("F is L-smooth and mu-PL* (interpolation, F* = 0)", "full gradient (noise free)",
              "delta-GClip step h_t = eta min(1, max(delta_floor, gamma/||g_t||))")
register(Bound(
    name="delta_gclip_pl_star", algorithms=("delta_gclip",),
    expr=(1 - eta * delta_floor * mu) ** t * loss0,
    quantity="loss", kind="expectation", status="D",
    status_note="[D reconstruction] (docs/theory.md §4.8); deterministic, so also in expectation",
    reference=_tucat, assumptions=_pl_assume,
    valid_when=(sp.StrictLessThan(eta * delta_floor * mu, 1), sp.StrictLessThan(delta_floor, 1)),
    rate_var="t",
    description="L_t <= (1 - ηδμ)^t L_0: linear rate with the floor δ (delta_floor).",
))
register(Bound(
    name="delta_gclip_pl_star_distance", algorithms=("delta_gclip",),
    expr=2 * sp.sqrt(2 * loss0 / eta) / (delta_floor * mu),
    quantity="distance", kind="expectation", status="D",
    status_note="[D reconstruction] (docs/theory.md §4.8)",
    reference=_tucat, assumptions=_pl_assume,
    valid_when=(sp.StrictLessThan(eta * delta_floor * mu, 1), sp.StrictLessThan(delta_floor, 1)),
    rate_var="eta",
    description="Iterates stay within 2 sqrt(2 L_0/η)/(δμ) of the start.",
))

# ---------------------------------------------------------------------------- 9. PS-Clip
_ps = Reference("Nobile & Grohs 2026", "2605.02701",
                note="bias/error scalings and budget rate derived here (docs/theory.md §4.9)")
register(Bound(
    name="ps_clip_sgd", algorithms=("ps_clip_sgd",),
    expr=C_opt * N ** (-(2 * alpha - 2) / (3 * alpha - 2)),
    quantity="avg_grad_sq", kind="expectation", status="D",
    reference=_ps, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy, "PS-Clip-SGD (docs/theory.md §2.6), sample budget N = B T"),
    valid_when=ALPHA_RANGE,
    schedule={"B": c_B * N ** (alpha / (3 * alpha - 2)), "eta": c_eta,
              "T": N ** ((2 * alpha - 2) / (3 * alpha - 2)) / c_B},
    rate_var="N",
    description="E||∇F||² ∝ N^(-(2p-2)/(3p-2)) with B ∝ N^(p/(3p-2)), T = N/B, constant η. "
                "Balance [D]: optimisation 1/(ηT) = B/(ηN) against squared bias B^(2/p-2).",
))
register(Bound(
    name="ps_clip_bias",
    expr=C_bias * sigma * B ** (1 / alpha - 1),
    quantity="clip_bias", kind="lemma", status="D",
    reference=_ps, hidden_constants=(C_bias,),
    assumptions=(_heavy, "per-sample clipping, index-dependent thresholds lam_k = sigma k^(1/p)"),
    valid_when=ALPHA_RANGE, rate_var="B",
    lhs=r"\|\mathbb{E}\,\hat g_t - \nabla F(w_t)\|",
    description="Bias of the per-sample-clipped mean estimator ~ σ B^(1/p-1).",
))

# ---------------------------------------------------------------------------- (L0,L1) clipped GD
register(Bound(
    name="zhang_2020_l0l1_clipped_gd", algorithms=("clipped_sgd",),
    expr=20 * L0 * Delta / eps ** 2 + 20 * L1 ** 2 * Delta / L0,
    quantity="oracle_complexity", kind="expectation", status="2nd",
    status_note="[2nd]; the constant 20 is [R] (docs/theory.md §2.8)",
    reference=Reference("Zhang, He, Sra, Jadbabaie 2020", "1905.11881", venue="ICLR 2020"),
    assumptions=("F is (L0, L1)-smooth", "full gradient (noise free): deterministic, hence "
                 "also in expectation", "clipped GD h = min(eta_c, gamma eta_c/||∇F||)"),
    schedule={"eta": 1 / (10 * L0), "gamma": sp.Min(10 * L0, L0 / L1)},
    rate_var="eps",
    description="Steps to ||∇F|| <= ε: 20 L0 Δ/ε² + 20 L1² Δ/L0, η_c = 1/(10 L0), "
                "γ = min(10 L0, L0/L1).",
))

# ---------------------------------------------------------------------------- 10. Armacki et al.
_beta_p = 4 * (alpha - 1) / (3 * alpha - 2)
register(Bound(
    name="armacki_2026_tail", algorithms=("clipped_sgd",),
    expr=C_tail * sp.exp(-C_exp * t ** _beta_p / sp.log(t)),
    quantity="tail_probability", kind="high_probability", status="V",
    status_note="[V abstract]: decay exp(-t^β_p/log t); the constants are hidden",
    reference=Reference("Armacki et al. 2026", "2602.05657"),
    hidden_constants=(C_exp, C_tail),
    assumptions=(_smooth, _heavy, "clipped SGD; C_exp depends on the level eps"),
    valid_when=ALPHA_RANGE + (sp.StrictGreaterThan(t, 1),),
    rate_var="t",
    description="P(||∇F(w_t)|| > ε) <= C exp(-C' t^β_p / log t), β_p = 4(p-1)/(3p-2). The value "
                "is the failure probability itself, so there is no δ symbol.",
))

# ------------------------------------------------- Armacki, Bajović, Jakovetić, Kar: symmetric noise
register(Bound(
    name="armacki_2025_symmetric_noise", algorithms=("sign_sgd", "clipped_sgd", "normalized_sgd"),
    expr=C_opt * sp.log(T / delta) ** log_power * T ** sp.Rational(-1, 2),
    quantity="avg_grad_sq", kind="high_probability", status="2nd",
    status_note="[V abstract] rate Õ(t^(-1/2)) with exponentially decaying tails for sign, clipped and "
                "normalized SGD; the quantity (norm or squared norm, min or average) and the step "
                "schedule were not read [2nd]: use .with_(quantity=...) for another quantity",
    reference=Reference("Armacki, Bajović, Jakovetić, Kar 2025", "2507.09093"),
    delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, "noise with a symmetric density (no moment assumption)",
                 "sign, clipped or normalized SGD with a tuned step (schedule not read)"),
    valid_when=_DELTA_RANGE, defaults={"log_power": 1}, symmetric_noise=True,
    description="Symmetric noise: Õ(T^(-1/2)) w.p. 1-δ whatever the tail index; proved for symmetric "
                "noise only (non-symmetric noise needs symmetrized mini-batch estimators). "
                + _LOG_POWER_DOC,
))

# ---------------------------------------------------------------------------- 11. unclipped SGD
register(Bound(
    name="unclipped_sgd_polynomial_tail", algorithms=("sgd",),
    expr=C_low * L * eta * sigma ** 2 * (T / delta) ** (2 / alpha) / T,
    quantity="avg_grad_sq", kind="lower_bound", status="D",
    status_note="[R] that the tails are polynomial in 1/δ (docs/theory.md §4.11); the exponent 2/α "
                "of the quantile and the factor L η (one jump, not (L η)²) are derived here [D]",
    reference=Reference("docs/theory.md §4.11 (no single source paper)",
                        note="derived here: heuristic one-jump argument"),
    delta=delta, hidden_constants=(C_low,),
    assumptions=("unclipped SGD, constant eta, F quadratic with curvature L",
                 "symmetric alpha-stable noise of scale sigma, alpha < 2 the tail index "
                 "(not a finite moment order)",
                 "the bound is on the (1-delta)-quantile: P(Q >= expr) >= delta"),
    valid_when=(sp.StrictGreaterThan(alpha, 1), sp.StrictLessThan(alpha, 2)) + _DELTA_RANGE,
    lhs=r"Q_{1-\delta}\Big(\frac{1}{T}\sum_{t=1}^{T}\|\nabla F(w_t)\|^2\Big)",
    description="(1-δ)-quantile of (1/T)Σ||∇F||² >= C L η σ² (T/δ)^(2/α)/T: one noise jump ηX with "
                "|X| ~ σ(T/δ)^(1/α) among T draws decays over ~1/(ηL) steps and adds ~LηX²/(2T) to "
                "the average (linear in η; the (Lη)² form is valid for ηL <= 1 but loose by "
                "1/(ηL)). Polynomial in 1/δ, unlike clipping's polylog. With η prescribed "
                "as a function of T, the T-exponent uses it: Bound.exponent('T', schedule={'eta': ...}).",
))


# ---------------------------------------------------------------------------- 12. sign and normalized SGD
# (engine presets: sign_sgd, majority_vote, normalized_sgd, normalized_momentum). Assumption strings
# symmetric_noise=True marks bounds that need a noise law symmetric about 0 (clipsim.check refuses them
# on asymmetric noise).
_armacki_2025 = Reference("Armacki, Bajović, Jakovetić, Kar 2025", "2507.09093",
                          note="abstract read; quantity and step schedule not read")


def armacki_2025_symmetric(quantity="avg_grad_norm") -> Bound:
    """Sign, clipped and normalized SGD under noise with a symmetric density (no moment assumption):
    Õ(T^(-1/2)) with probability 1-δ. The source's quantity was not read, so it is a parameter."""
    return Bound(
        name=f"armacki_2025_symmetric_{quantity}", algorithms=("sign_sgd", "clipped_sgd", "normalized_sgd"),
        expr=C_opt * sp.log(T / delta) ** log_power * T ** sp.Rational(-1, 2),
        quantity=quantity, kind="high_probability", status="2nd",
        status_note="[V abstract] for the rate Õ(t^(-1/2)) and exponentially decaying tails; which "
                    "quantity (norm or squared norm, min or average) and the schedule were not read: [2nd]",
        reference=_armacki_2025, delta=delta, hidden_constants=(C_opt,),
        symmetric_noise=True,
        assumptions=(_smooth, "noise with a density symmetric about 0; no moment "
                     "assumption (non-symmetric noise needs symmetrized mini-batch estimators)",
                     "sign, clipped or normalized SGD"),
        valid_when=_DELTA_RANGE, defaults={"log_power": 1},
        description="Õ(T^(-1/2)) with probability 1-δ under symmetric noise; log power unknown (default 1).",
    )


register(armacki_2025_symmetric())

_kornilov = Reference("Kornilov et al. 2025", "2502.07923",
                      note="abstract read; the constant-step lemma only in a restatement")
register(Bound(
    name="kornilov_2025_sign_sgd_batched", algorithms=("sign_sgd",),
    expr=C_opt * sp.log(1 / delta) ** log_power * N ** (-(alpha - 1) / (3 * alpha - 2)),
    quantity="avg_grad_norm", kind="high_probability", status="2nd",
    status_note="[V abstract]: sample complexity Õ(ε^(-(3κ-2)/(κ-1))) for the average ℓ1 norm; the "
                "rate in the sample count N is that inverted [D]; ℓ1 ≥ ℓ2, so it also bounds the ℓ2 "
                "average that clipsim records (looser by up to sqrt(d))",
    reference=_kornilov, delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy.replace("alpha", "kappa") + " (kappa = alpha here)",
                 "sign-SGD with mini-batches, optimal batch schedule; N = total samples"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE, defaults={"log_power": 1}, rate_var="N",
    lhs=r"\frac{1}{T}\sum_{t=1}^{T}\|\nabla F(w_t)\|_1",
    description="Batched sign-SGD: (1/T)Σ||∇F||_1 ≲ N^(-(κ-1)/(3κ-2)) up to logs of 1/δ.",
))
register(Bound(
    name="kornilov_2025_majority_vote", algorithms=("majority_vote",),
    expr=C_opt * sp.log(1 / delta) ** log_power * N ** sp.Rational(-1, 4),
    quantity="avg_grad_norm", kind="high_probability", status="2nd",
    status_note="[V abstract]: Õ(ε^(-4)) samples for majority vote under symmetric noise; inverted [D]",
    reference=_kornilov, delta=delta, hidden_constants=(C_opt,),
    symmetric_noise=True,
    assumptions=(_smooth, "noise symmetric about 0", "sign-SGD with majority vote over a batch; N = total samples"),
    valid_when=_DELTA_RANGE, defaults={"log_power": 1}, rate_var="N",
    lhs=r"\frac{1}{T}\sum_{t=1}^{T}\|\nabla F(w_t)\|_1",
    description="Majority-vote sign-SGD: (1/T)Σ||∇F||_1 ≲ N^(-1/4) up to logs, symmetric noise only.",
))

_hubler = Reference("Hübler, Fatkhullin, He 2025", "2410.13849", venue="AISTATS 2025",
                    note="read only in a restatement (low confidence)")
register(Bound(
    name="hubler_2025_normalized_sgd", algorithms=("normalized_sgd",),
    expr=C_opt * sp.log(1 / delta) ** log_power * T ** (-(alpha - 1) / (3 * alpha - 2)),
    quantity="avg_grad_norm", kind="high_probability", status="2nd",
    status_note="[2nd, low]: known parameters; matches the in-expectation lower bound "
                "Ω(T^((1-p)/(3p-2))) of Zhang et al.; power of log(1/δ) not read (default 1)",
    reference=_hubler, delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy, "normalized SGD (with momentum), parameters tuned with alpha known"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE, defaults={"log_power": 1},
    description="Normalized SGD: (1/T)Σ||∇F|| ≲ T^(-(p-1)/(3p-2)), mild dependence on δ.",
))
register(Bound(
    name="hubler_2025_normalized_sgd_parameter_free", algorithms=("normalized_sgd",),
    expr=C_opt * sp.log(1 / delta) ** log_power * T ** (-(alpha - 1) / (2 * alpha)),
    quantity="avg_grad_norm", kind="high_probability", status="2nd",
    status_note="[2nd, low]: parameter-free tuning; power of log(1/δ) not read (default 1)",
    reference=_hubler, delta=delta, hidden_constants=(C_opt,),
    assumptions=(_smooth, _heavy, "normalized SGD (with momentum), parameters not using alpha"),
    valid_when=ALPHA_RANGE + _DELTA_RANGE, defaults={"log_power": 1},
    description="Normalized SGD, parameter-free: (1/T)Σ||∇F|| ≲ T^(-(p-1)/(2p)).",
))


def to_grad_norm(b: Bound) -> Bound:
    """``avg_grad_sq`` bound -> ``avg_grad_norm`` bound (sqrt of the expression).

    (1/T)Σ||∇F|| <= sqrt((1/T)Σ||∇F||²) (Cauchy-Schwarz) on the same event; in expectation
    also Jensen. Status and reference are the source's.
    """
    if b.quantity != "avg_grad_sq" or b.kind == "lower_bound":
        raise ValueError(f"{b.name}: to_grad_norm needs an avg_grad_sq upper bound, "
                         f"got {b.kind} on {b.quantity}")
    return dataclasses.replace(
        b, name=b.name + "_grad_norm", expr=sp.sqrt(b.expr), quantity="avg_grad_norm",
        lhs=None, description=f"sqrt of {b.name} (Cauchy-Schwarz / Jensen).")
