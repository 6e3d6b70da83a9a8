"""Canonical SymPy symbols of the theory registry.

The engine supplies numeric values under these names (``bound.evaluate(T=..., alpha=...)``).
Every symbol is ``positive=True`` except ``eps_ada`` (nonnegative: ε ∈ [0, 1/2)).

Problem and run
    T        number of steps / iterations (K in Sadiev et al.)
    t        time index (1 ≤ t ≤ T)
    n        sample size (finite-sum setting)
    N        sample budget (total per-sample gradients, PS-Clip)
    d        dimension
    delta    failure probability δ of a high-probability bound
    alpha    moment order of the noise assumption (p in some papers), 1 < α ≤ 2
    sigma    scale of the α-th central moment, E‖ξ‖^α ≤ σ^α
    G        non-central moment bound E‖g‖^α ≤ G^α, or Lipschitz constant (Hardt et al.)
    L        smoothness constant (β in Hardt et al.)
    L0, L1   (L0, L1)-smoothness constants
    Delta    initial gap F(w_1) - F*
    M        loss bound f ≤ M
    R        radius of the parameter ball
    mu       PL constant
    loss0    initial loss L_0 in the δ-GClip PL* bound
    xnorm    ‖x‖, the norm of the mean in the clipping lemmas
    eps      target accuracy ε
    eps_ada  exponent ε of delayed AdaGrad, η_t = a/(b + Σ‖g_s‖²)^(1/2+ε)

Hyperparameters (schedules)
    eta      step size η
    lam      clip threshold λ (τ in Cutkosky & Mehta)
    beta     momentum β
    B        batch size
    c        step constant of the c/t schedule (Hardt et al.)
    gamma    clip level γ of δ-GClip / (L0, L1)-clipped GD
    delta_floor  the step floor δ of δ-GClip (not a failure probability)
    c_eta, c_lam, c_B  free constants of prescribed schedules (chosen by the user)

Hidden and unknown-form constants
    C_*      absolute constants the papers do not give us (docs/theory.md): never set to 1 silently
    log_power  power of the polylog factor where the paper's value is unknown (default 1)
"""
from __future__ import annotations

import sympy as sp

__all__ = [
    "T", "t", "n", "N", "d", "delta", "alpha", "sigma", "G", "L", "L0", "L1", "Delta", "M", "R",
    "mu", "loss0", "xnorm", "eps", "eps_ada", "eta", "lam", "beta", "B", "c", "gamma",
    "delta_floor", "c_eta", "c_lam", "c_B", "log_power", "CANONICAL", "SMALL_VARIABLES",
    "LATEX_NAMES", "hidden",
]

_P = dict(positive=True)

T = sp.Symbol("T", **_P)
t = sp.Symbol("t", **_P)
n = sp.Symbol("n", **_P)
N = sp.Symbol("N", **_P)
d = sp.Symbol("d", **_P)
delta = sp.Symbol("delta", **_P)
alpha = sp.Symbol("alpha", **_P)
sigma = sp.Symbol("sigma", **_P)
G = sp.Symbol("G", **_P)
L = sp.Symbol("L", **_P)
L0 = sp.Symbol("L0", **_P)
L1 = sp.Symbol("L1", **_P)
Delta = sp.Symbol("Delta", **_P)
M = sp.Symbol("M", **_P)
R = sp.Symbol("R", **_P)
mu = sp.Symbol("mu", **_P)
loss0 = sp.Symbol("loss0", **_P)
xnorm = sp.Symbol("xnorm", **_P)
eps = sp.Symbol("eps", **_P)
eps_ada = sp.Symbol("eps_ada", nonnegative=True)
eta = sp.Symbol("eta", **_P)
lam = sp.Symbol("lam", **_P)
beta = sp.Symbol("beta", **_P)
B = sp.Symbol("B", **_P)
c = sp.Symbol("c", **_P)
gamma = sp.Symbol("gamma", **_P)
delta_floor = sp.Symbol("delta_floor", **_P)
c_eta = sp.Symbol("c_eta", **_P)
c_lam = sp.Symbol("c_lam", **_P)
c_B = sp.Symbol("c_B", **_P)
log_power = sp.Symbol("log_power", **_P)

#: name -> Symbol for every canonical symbol (used by ``parse_bound``).
CANONICAL: dict[str, sp.Symbol] = {
    s.name: s
    for s in (T, t, n, N, d, delta, alpha, sigma, G, L, L0, L1, Delta, M, R, mu, loss0, xnorm,
              eps, eps_ada, eta, lam, beta, B, c, gamma, delta_floor, c_eta, c_lam, c_B, log_power)
}

#: Variables whose interesting limit is x -> 0: rates are reported in 1/x.
SMALL_VARIABLES = frozenset({"delta", "eps"})

#: LaTeX spellings that differ from SymPy's default rendering.
LATEX_NAMES: dict[str, str] = {
    "lam": r"\lambda",
    "eps": r"\varepsilon",
    "eps_ada": r"\varepsilon_{\mathrm{ada}}",
    "xnorm": r"\|x\|",
    "delta_floor": r"\delta_{\mathrm{floor}}",
    "loss0": r"\mathcal{L}_0",
    "L0": "L_0",
    "L1": "L_1",
    "c_eta": r"c_{\eta}",
    "c_lam": r"c_{\lambda}",
    "c_B": "c_B",
    "log_power": "q",
}


def hidden(name: str) -> sp.Symbol:
    """Positive hidden-constant symbol ``C_<name>`` (or ``name`` if it already starts with ``C``)."""
    full = name if name.startswith("C") else f"C_{name}"
    return sp.Symbol(full, positive=True)


def latex_name(sym: sp.Symbol) -> str:
    """LaTeX for one symbol (hidden constants as ``C_{\\mathrm{opt}}``)."""
    if sym.name in LATEX_NAMES:
        return LATEX_NAMES[sym.name]
    if sym.name.startswith("C_"):
        return r"C_{\mathrm{%s}}" % sym.name[2:].replace("_", r"\_")
    return sp.latex(sym)
