"""Error terms [D] whose balance gives the prescribed schedules of docs/theory.md §4.

Clipped SGD (docs/theory.md §4, "Balance [D]"), knobs η = c_η T^a, λ = c_λ T^b:
    Δ/(ηT)                   optimisation (descent lemma summed over T steps)
    L η λ^(2-α) σ^α          second moment of the clipped noise, E||clip - x||² <= 18 λ^(2-α) σ^α
    (σ^α/λ^(α-1))²           squared clipping bias, ||E clip - x|| <= 2^α σ^α / λ^(α-1)
  -> a = -α/(3α-2), b = 1/(3α-2), rate (2-2α)/(3α-2) for (1/T)Σ||∇F||².

Normalized SGD with clipped momentum (Cutkosky & Mehta 2021, arXiv 2106.14343), our [D]
reconstruction of the standard analysis; knobs η = T^a, τ = T^b (clip level, ``lam``),
1-β = T^m (``omb``) with m <= 0. With ε_t = m_t - ∇F(w_t), the normalized step gives
(1/T)Σ||∇F|| <= 3Δ/(ηT) + 3Lη/2 + (8/T)Σ||ε_t||, and ||ε_t|| splits into
    Δ/(ηT)                       optimisation
    L η                          normalized step
    L η/(1-β)                    momentum lag: Σ_k β^k ||∇F(w_{t-k}) - ∇F(w_t)|| <= Lη/(1-β)
    G^p τ^(1-p)                  clipping bias
    sqrt(1-β) τ^(1-p/2) G^(p/2)  clipped-noise martingale, variance (1-β) τ^(2-p) G^p
    (1-β) τ log(1/δ)             range term of Freedman's inequality (increments <= (1-β)τ)
  -> m = -p/(3p-2), a = -(2p-1)/(3p-2), b = 1/(3p-2), rate (1-p)/(3p-2) for (1/T)Σ||∇F||.
  At p = 2 the range term is what pins τ (without it τ is free above T^(1/4)).

PS-Clip-SGD at sample budget N = B T, knob B = N^b, constant η (docs/theory.md §4.9 [D]):
    B/(ηN) (= 1/(ηT)),  (σ B^(1/p-1))²   -> b = p/(3p-2), rate -(2p-2)/(3p-2).
"""
from __future__ import annotations

import sympy as sp

from .balance import Balanced, balance
from .symbols import B, G, L, N, T, Delta, alpha, delta, eta, lam, sigma

__all__ = ["omb", "CLIPPED_SGD_TERMS", "NSGD_MOMENTUM_TERMS", "PS_CLIP_TERMS",
           "clipped_sgd_balance", "nsgd_momentum_balance", "ps_clip_balance"]

#: 1 - β, the momentum knob of normalized SGD.
omb = sp.Symbol("one_minus_beta", positive=True)

CLIPPED_SGD_TERMS = (
    Delta / (eta * T),
    L * eta * lam ** (2 - alpha) * sigma ** alpha,
    (sigma ** alpha / lam ** (alpha - 1)) ** 2,
)

NSGD_MOMENTUM_TERMS = (
    Delta / (eta * T),
    L * eta,
    L * eta / omb,
    G ** alpha * lam ** (1 - alpha),
    sp.sqrt(omb) * lam ** (1 - alpha / 2) * G ** (alpha / 2),
    omb * lam * sp.log(1 / delta),
)

PS_CLIP_TERMS = (
    B / (eta * N),
    (sigma * B ** (1 / alpha - 1)) ** 2,
)


def clipped_sgd_balance(**kw) -> Balanced:
    """Balance of CLIPPED_SGD_TERMS over η, λ in T."""
    return balance(CLIPPED_SGD_TERMS, {eta: None, lam: None}, "T", **kw)


def nsgd_momentum_balance(**kw) -> Balanced:
    """Balance of NSGD_MOMENTUM_TERMS over η, τ (lam), 1-β in T, with 1-β <= 1."""
    return balance(NSGD_MOMENTUM_TERMS, {eta: None, lam: None, omb: None}, "T",
                   bounds={omb: (None, 0)}, **kw)


def ps_clip_balance(**kw) -> Balanced:
    """Balance of PS_CLIP_TERMS over B in N (η constant)."""
    return balance(PS_CLIP_TERMS, {B: None, eta: 0}, "N", **kw)
