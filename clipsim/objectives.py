"""Synthetic objectives with known smoothness, optimum and (for finite sums) exact population risk.

``get(name, dim, **params)`` returns a frozen :class:`Objective`. Each objective has a value and a
gradient usable from NumPy (``value``, ``grad``; for tests and plots) and, as first-class function
values (:func:`kernels`), inside the Numba kernel. Population objectives are used with
``g_t = ∇F(w_t) + ξ_t``; finite-sum objectives with per-sample gradients ``∇f(w_t; z_j)``, j uniform.

=========================  ===========================================================  ======  =====
name                       F                                                            L       f*
=========================  ===========================================================  ======  =====
``quadratic``              ½‖x‖²  (sanity baseline)                                      1       0
``geman_mcclure``          Σ x_i²/(1+x_i²)  (non-convex, bounded by d)                   2       0
``sin_quadratic``          Σ x_i²/2 + a·sin²(x_i)  (non-convex for a > ½)                1+2a    0
``robust_regression``      (1/n) Σ ½ log(1+(y_i - x_iᵀw)²)  (Cauchy loss; finite sum)    ‖XᵀX‖/n  --
``overparam_least_squares`` (1/2n) ‖Aw - b‖², d > n  (PL with μ = λ_min(AAᵀ)/n; f* = 0)  ‖AᵀA‖/n  0
=========================  ===========================================================  ======  =====

Robust regression: covariates x ~ N(0, I) (or multivariate Student-t with ``covariate_df`` ν > 2
dof), y = xᵀw* + σ_ε ε with ε ~ N(0, 1). The population risk depends on w only through
s = ‖w - w*‖: with τ = ν/χ²_ν (τ = 1 for Gaussian covariates) and v = τ s² + σ_ε²,
F(w) = E_τ ψ(v), ψ(v) = ½ E_z log(1 + v z²), ∇F(w) = 2 (w - w*) E_τ[τ ψ'(v)],
ψ'(v) = (1 - sqrt(π/(2v)) erfcx(1/sqrt(2v))) / (2v) (closed form), ψ(v) = ∫_0^1 2vx ψ'(vx²) dx
(Gauss-Legendre), and E_τ by generalized Gauss-Laguerre quadrature. So F and ∇F are exact to
quadrature accuracy, and w* minimises F (ψ is increasing), giving the population optimum F(w*).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numba.core import types as nbt
from scipy import special

from . import _limits
from . import _vmath as _vm
from . import _validate as V
from ._first_class import first_class

QUADRATIC, GEMAN_MCCLURE, SIN_QUADRATIC, ROBUST_REGRESSION, LEAST_SQUARES, CUSTOM = 0, 1, 2, 3, 4, 5

_N_TAU, _N_LEG = 48, 40  # quadrature sizes for the robust-regression population risk


@dataclass(frozen=True)
class Objective:
    """A validated objective: plain-data description plus the arrays the kernel needs.

    Attributes: ``name``, ``dim``, ``params`` (the user parameters, normalised), ``L`` (smoothness of
    the optimised function), ``f_star`` (its infimum, ``nan`` when unknown), ``x0`` (default start),
    ``finite_sum``, ``n`` (samples, 0 for population objectives), ``mu`` (PL constant where known).
    """

    name: str
    dim: int
    params: tuple
    code: int
    L: float
    f_star: float
    finite_sum: bool
    n: int
    mu: float
    x0: np.ndarray = field(repr=False, compare=False)
    fparams: np.ndarray = field(repr=False, compare=False)
    X: np.ndarray = field(repr=False, compare=False)
    y: np.ndarray = field(repr=False, compare=False)
    pop_f_star: float = math.nan
    #: user objectives (:func:`custom`): their (full_grad, sample_grad, population) kernels
    kernels: tuple = field(default=(), repr=False, compare=False)

    # ---- plain data -------------------------------------------------------------------------
    def to_dict(self):
        """Plain data that :func:`from_dict` turns back into the same objective."""
        return {"name": self.name, "dim": self.dim, **dict(self.params)}

    @property
    def has_population(self):
        """Whether the population risk differs from the optimised (empirical) function."""
        return self.code == ROBUST_REGRESSION

    def __str__(self):
        extra = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}(dim={self.dim}{', ' + extra if extra else ''})"

    # ---- NumPy-callable evaluation (same kernels as the engine) -------------------------------
    def _w(self, w):
        w = np.ascontiguousarray(w, dtype=np.float64)
        if w.shape != (self.dim,):
            raise ValueError(f"w has shape {w.shape}: must be ({self.dim},) for {self}")
        return w

    def _k(self, k):
        return self.kernels[k] if self.kernels else _KERNELS[self.code][k]

    def value(self, w):
        """F(w): the optimised function (F_S for finite sums)."""
        g = np.empty(self.dim)
        return self._k(0)(self.code, self.fparams, self.X, self.y, self._w(w), g)

    def grad(self, w):
        """∇F(w) (∇F_S for finite sums)."""
        g = np.empty(self.dim)
        self._k(0)(self.code, self.fparams, self.X, self.y, self._w(w), g)
        return g

    def sample_grad(self, w, i):
        """Per-sample gradient ∇f(w; z_i) of a finite-sum objective."""
        if not self.finite_sum:
            raise ValueError(f"sample_grad needs a finite-sum objective; {self.name} is a population objective")
        i = V.integer("i", i, 0, self.n - 1)
        g = np.empty(self.dim)
        self._k(1)(self.code, self.fparams, self.X, self.y, self._w(w), i, g)
        return g

    def population_value(self, w):
        """Population risk F(w) = E f(w; z) (equals :meth:`value` when there is no population)."""
        g = np.empty(self.dim)
        return self._k(2)(self.code, self.fparams, self.X, self.y, self._w(w), g)

    def population_grad(self, w):
        """Population gradient ∇F(w)."""
        g = np.empty(self.dim)
        self._k(2)(self.code, self.fparams, self.X, self.y, self._w(w), g)
        return g


# ------------------------------------------------------------------------------------------------
# Kernels (dispatch on integer code; one compiled signature each)
# ------------------------------------------------------------------------------------------------
@njit(cache=True)
def _erfcx(x):
    """Scaled complementary error function exp(x²) erfc(x) for x >= 0."""
    if x < 20.0:
        return math.exp(x * x) * math.erfc(x)
    r = 1.0 / (x * x)
    return (1.0 - 0.5 * r + 0.75 * r * r - 1.875 * r ** 3 + 6.5625 * r ** 4) / (x * math.sqrt(math.pi))


@njit(cache=True)
def _dpsi(v):
    """ψ'(v) = ½ E[z²/(1+v z²)], z ~ N(0, 1)."""
    if v < 1e-3:
        # asymptotic series Σ (-v)^k (2k+1)!!, error ~ 1.4e5 v^6
        return 0.5 * (1.0 - 3.0 * v + 15.0 * v * v - 105.0 * v ** 3 + 945.0 * v ** 4 - 10395.0 * v ** 5)
    x = 1.0 / math.sqrt(2.0 * v)
    return (1.0 - math.sqrt(math.pi) * x * _erfcx(x)) / (2.0 * v)


@njit(cache=True)
def _robust_population(fp, w, out):
    d = w.shape[0]
    sig2 = fp[0] * fp[0]
    nt = int(fp[2])
    nl = int(fp[3])
    ws = fp[4:4 + d]
    tn = fp[4 + d:4 + d + nt]
    tw = fp[4 + d + nt:4 + d + 2 * nt]
    ln = fp[4 + d + 2 * nt:4 + d + 2 * nt + nl]
    lw = fp[4 + d + 2 * nt + nl:4 + d + 2 * nt + 2 * nl]
    s2 = 0.0
    for i in range(d):
        s2 += (w[i] - ws[i]) ** 2
    val = 0.0
    gscale = 0.0
    for j in range(nt):
        v = tn[j] * s2 + sig2
        gscale += tw[j] * tn[j] * 2.0 * _dpsi(v)
        psi = 0.0
        for k in range(nl):
            x = ln[k]
            psi += lw[k] * 2.0 * v * x * _dpsi(v * x * x)
        val += tw[j] * psi
    for i in range(d):
        out[i] = gscale * (w[i] - ws[i])
    return val


_TRIG_MAX = 8.0e5  # |x| up to which clipsim._vmath's sin/cos are within 1 ulp (2^19 pi/2 ~ 8.2e5)


@njit(cache=True)
def _sin_quadratic_libm(a, w, out):
    """``_sin_quadratic_grad`` with libm's scalar ``math.sin`` (any finite or non-finite w)."""
    val = 0.0
    for i in range(w.shape[0]):
        s = math.sin(w[i])
        out[i] = w[i] + a * math.sin(2.0 * w[i])
        val += 0.5 * w[i] * w[i] + a * s * s
    return val


@njit(cache=True)
def _sin_quadratic_vec(a, w, out):
    """``_sin_quadratic_grad`` for |w_i| <= _TRIG_MAX: two vectorised loops and an index-order sum."""
    d = w.shape[0]
    for i in range(d):
        s = _vm.sin(w[i])
        out[i] = 0.5 * w[i] * w[i] + a * s * s
    val = 0.0
    for i in range(d):
        val += out[i]
    for i in range(d):
        s, c = _vm.sincos(w[i])
        out[i] = w[i] + a * (2.0 * s * c)
    return val


@njit(cache=True)
def _sin_quadratic_grad(code, fp, X, y, w, out):
    """out = ∇F = w + a sin 2w; returns F = sum w²/2 + a sin² w (a = fp[0]).

    The trigonometry is ``clipsim._vmath``'s branch-free sin/cos (sin 2w as 2 sin w cos w), so the
    unit-stride loops vectorise, where libm's scalar ``math.sin`` does not (about 3x faster at d = 32;
    within a few ulp of the libm form, not bitwise equal). If some |w_i| > 8e5 (beyond the range
    reduction of ``_vmath``; inf, nan: diverged iterates) the whole call uses libm. The libm fallback
    lives in its own function: a libm call next to the vectorised loops made LLVM slow them down."""
    for i in range(w.shape[0]):
        if not abs(w[i]) <= _TRIG_MAX:
            return _sin_quadratic_libm(fp[0], w, out)
    return _sin_quadratic_vec(fp[0], w, out)


# One function per objective and role, all with the same signature: the engine receives the three of
# a configuration as first-class function arguments (:func:`kernels`), so a process compiles only the
# objective it runs, and the cached step loop serves every objective.
@njit(cache=True)
def _quadratic(code, fp, X, y, w, out):
    val = 0.0
    for i in range(w.shape[0]):
        out[i] = w[i]
        val += 0.5 * w[i] * w[i]
    return val


@njit(cache=True)
def _geman_mcclure(code, fp, X, y, w, out):
    val = 0.0
    for i in range(w.shape[0]):
        q = 1.0 + w[i] * w[i]
        out[i] = 2.0 * w[i] / (q * q)
        val += w[i] * w[i] / q
    return val


@njit(cache=True)
def _finite_sum(code, fp, X, y, w, out):
    """F_S and ∇F_S of the finite sums (robust regression's Cauchy loss, or least squares)."""
    d, n = w.shape[0], X.shape[0]
    val = 0.0
    for i in range(d):
        out[i] = 0.0
    for j in range(n):
        r = 0.0
        for i in range(d):
            r += X[j, i] * w[i]
        if code == ROBUST_REGRESSION:
            r = y[j] - r
            val += 0.5 * math.log1p(r * r)
            c = -r / (1.0 + r * r)
        else:
            r = r - y[j]
            val += 0.5 * r * r
            c = r
        for i in range(d):
            out[i] += c * X[j, i]
    for i in range(d):
        out[i] /= n
    val /= n
    return val


@njit(cache=True)
def sample_grad(code, fp, X, y, w, j, out):
    """Write the per-sample gradient ∇f(w; z_j) into ``out`` (finite sums only)."""
    d = w.shape[0]
    r = 0.0
    for i in range(d):
        r += X[j, i] * w[i]
    if code == ROBUST_REGRESSION:
        r = y[j] - r
        c = -r / (1.0 + r * r)
    else:
        c = r - y[j]
    for i in range(d):
        out[i] = c * X[j, i]


@njit(cache=True)
def _no_samples(code, fp, X, y, w, j, out):
    """A population objective draws no samples (the engine never calls this)."""
    for i in range(out.shape[0]):
        out[i] = math.nan


@njit(cache=True)
def _robust_population_grad(code, fp, X, y, w, out):
    return _robust_population(fp, w, out)


#: per built-in objective code: (∇F and F, per-sample gradient, population gradient and risk)
_KERNELS = {QUADRATIC: (_quadratic, _no_samples, _quadratic),
            GEMAN_MCCLURE: (_geman_mcclure, _no_samples, _geman_mcclure),
            SIN_QUADRATIC: (_sin_quadratic_grad, _no_samples, _sin_quadratic_grad),
            ROBUST_REGRESSION: (_finite_sum, sample_grad, _robust_population_grad),
            LEAST_SQUARES: (_finite_sum, sample_grad, _finite_sum)}
_A1, _A2 = nbt.float64[::1], nbt.float64[:, ::1]
#: the signatures every objective function has: full_grad/population(code, fp, X, y, w, out) -> F,
#: sample_grad(code, fp, X, y, w, j, out)
FULL_SIG = nbt.float64(nbt.int64, _A1, _A2, _A1, _A1, _A1)
SAMPLE_SIG = nbt.none(nbt.int64, _A1, _A2, _A1, _A1, nbt.int64, _A1)
_POINTERS = {}


def kernels(objective):
    """(full_grad, sample_grad, population) of ``objective`` as the engine calls them.

    Built-ins: first-class function values (compiled, or loaded from the cache, for this objective
    only; the cached step loop that receives them serves every objective). User objectives: their jitted
    functions, which the engine compiles into a per-process copy of the step loop."""
    if objective.kernels:
        return objective.kernels
    code = objective.code
    if code not in _POINTERS:
        _POINTERS[code] = tuple(first_class(f, sig) for f, sig in zip(_KERNELS[code], (FULL_SIG, SAMPLE_SIG, FULL_SIG)))
    return _POINTERS[code]


# ------------------------------------------------------------------------------------------------
# Construction
# ------------------------------------------------------------------------------------------------
_PARAMS = {
    "quadratic": {},
    "geman_mcclure": {},
    "sin_quadratic": {"a": 1.0},
    "robust_regression": {"n": 1000, "noise_scale": 0.5, "covariate_df": math.inf, "data_seed": 0},
    "overparam_least_squares": {"n": None, "data_seed": 0},
}
NAMES = tuple(_PARAMS)


def _empty_data(dim):
    return np.zeros((0, dim)), np.zeros(0)


def get(name, dim, **params) -> Objective:
    """Build objective ``name`` in dimension ``dim`` (see the module table for names and params)."""
    V.choice("objective", name, NAMES)
    dim = V.integer("dim", dim, 1, 1_000_000)
    allowed = _PARAMS[name]
    for k in params:
        if k not in allowed:
            opts = ", ".join(allowed) or "none"
            raise ValueError(f"{name}: unknown parameter {k!r}: allowed parameters are {opts}")
    p = {**allowed, **params}
    X, y = _empty_data(dim)
    if name == "quadratic":
        return Objective(name, dim, (), QUADRATIC, 1.0, 0.0, False, 0, 1.0, np.ones(dim), np.zeros(1), X, y)
    if name == "geman_mcclure":
        return Objective(name, dim, (), GEMAN_MCCLURE, 2.0, 0.0, False, 0, math.nan, np.ones(dim), np.zeros(1), X, y)
    if name == "sin_quadratic":
        a = V.nonnegative("a", p["a"])
        return Objective(name, dim, (("a", a),), SIN_QUADRATIC, 1.0 + 2.0 * a, 0.0, False, 0, math.nan,
                         np.ones(dim), np.array([a]), X, y)
    if name == "robust_regression":
        return _robust_regression(dim, p)
    return _least_squares(dim, p)


def _robust_regression(dim, p):
    n = V.integer("n", p["n"], 1, 10_000_000)
    sig = V.positive("noise_scale", p["noise_scale"])
    nu = p["covariate_df"]
    if not (isinstance(nu, numbers.Real) and (math.isinf(nu) and nu > 0 or 2 < nu <= 300)) or isinstance(nu, bool):
        raise ValueError(f"covariate_df = {nu!r} is not allowed: must be a real number in (2, 300] (the population "
                         "risk's quadrature overflows beyond), or inf for Gaussian covariates")
    nu = float(nu)
    _limits.guard_array(f"robust_regression data (n={n}, dim={dim})", 2 * n * (dim + 1) + 2 * dim * dim,
                        "use a smaller n or dim")
    seed = V.integer("data_seed", p["data_seed"], 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    w_star = np.ones(dim) / math.sqrt(dim)
    X = rng.standard_normal((n, dim))
    if math.isfinite(nu):
        X *= np.sqrt(nu / rng.chisquare(nu, size=n))[:, None]
        u, wt = special.roots_genlaguerre(_N_TAU, nu / 2.0 - 1.0)
        tau_n, tau_w = nu / (2.0 * u), wt / special.gamma(nu / 2.0)
    else:
        tau_n, tau_w = np.ones(1), np.ones(1)
    y = X @ w_star + sig * rng.standard_normal(n)
    leg_x, leg_w = special.roots_legendre(_N_LEG)
    leg_x, leg_w = 0.5 * (leg_x + 1.0), 0.5 * leg_w
    fp = np.concatenate([[sig, nu, len(tau_n), _N_LEG], w_star, tau_n, tau_w, leg_x, leg_w])
    L = float(np.linalg.eigvalsh(X.T @ X / n)[-1])  # |ℓ''| ≤ 1 for ℓ(r) = ½ log(1 + r²)
    params = (("n", n), ("noise_scale", sig), ("covariate_df", nu), ("data_seed", seed))
    obj = Objective("robust_regression", dim, params, ROBUST_REGRESSION, L, math.nan, True, n, math.nan,
                    np.zeros(dim), fp, np.ascontiguousarray(X), y)
    object.__setattr__(obj, "pop_f_star", obj.population_value(w_star))
    return obj


def _least_squares(dim, p):
    n = p["n"] if p["n"] is not None else max(1, dim // 4)
    n = V.integer("n", n, 1, dim)
    _limits.guard_array(f"overparam_least_squares data (n={n}, dim={dim})", 2 * n * (dim + 1), "use a smaller n or dim")
    seed = V.integer("data_seed", p["data_seed"], 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, dim)) / math.sqrt(dim)
    b = rng.standard_normal(n)
    ev = np.linalg.eigvalsh(A @ A.T / n)
    params = (("n", n), ("data_seed", seed))
    return Objective("overparam_least_squares", dim, params, LEAST_SQUARES, float(ev[-1]), 0.0, True, n,
                     float(ev[0]), np.zeros(dim), np.zeros(1), np.ascontiguousarray(A), b)


def from_dict(d) -> Objective:
    """Inverse of :meth:`Objective.to_dict` (a user objective: once its module is imported)."""
    d = dict(V.table("objective", d))
    try:
        name, dim = d.pop("name"), d.pop("dim")
    except KeyError as e:
        raise ValueError(f"objective: missing key {e.args[0]!r}: an objective needs 'name' and 'dim'") from None
    from . import user

    mine = user.lookup("objective", name)
    if mine is not None:
        if dim != mine.dim or d:
            raise ValueError(f"objective {name}: dim = {dim!r} and {sorted(d)} are not allowed: the user "
                             f"objective is defined with dim = {mine.dim} and no parameters")
        return mine
    return get(name, dim, **d)


def custom(value_and_grad, dim, *, L, f_star=math.nan, x0=None, name="custom", sample_grad=None, n=0,
           mu=math.nan) -> Objective:
    """A user objective from ``@numba.njit`` functions (see :mod:`clipsim.user`).

    ``value_and_grad(w, grad) -> float`` writes ∇F(w) into ``grad`` and returns F(w) (F_S for a
    finite sum). A finite sum also gives ``sample_grad(w, j, grad)``, the per-sample gradient
    ∇f(w; z_j), and ``n``: step t then uses j uniform on [n], like the built-in finite sums. ``L``:
    smoothness (used by the bounds), ``f_star``: inf F (nan if unknown), ``x0``: default start
    (zeros). Registered under ``name``; its kernels compile once per process.
    """
    from . import user

    if not hasattr(value_and_grad, "py_func"):
        raise ValueError(f"value_and_grad = {value_and_grad!r} is not allowed: must be a @numba.njit function")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name = {V._fmt(name)} is not allowed: must be a non-empty string")
    if name in NAMES:
        raise ValueError(f"name = {name!r} is not allowed: it is a built-in objective")
    dim = V.integer("dim", dim, 1, 1_000_000)
    n = V.integer("n", n, 0, 10_000_000)
    if (sample_grad is None) != (n == 0):
        raise ValueError(f"sample_grad = {sample_grad!r} with n = {n} is not allowed: a finite sum needs both, "
                         f"a population objective neither")
    x0 = np.zeros(dim) if x0 is None else np.array(x0, dtype=np.float64)
    if x0.shape != (dim,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 has shape {x0.shape}: must be a finite vector of shape ({dim},)")
    f_star = math.nan if f_star is None or (isinstance(f_star, float) and math.isnan(f_star)) else V.real(
        "f_star", f_star, -math.inf, math.inf, lo_open=True, hi_open=True)
    mu = math.nan if mu is None or (isinstance(mu, float) and math.isnan(mu)) else V.real("mu", mu, 0.0, math.inf, hi_open=True)
    user.trial_compile("value_and_grad", value_and_grad, "value_and_grad(w, grad) -> F(w) (float64 vectors)",
                       (_A1, _A1), returns_number=True)
    if sample_grad is not None:
        user.trial_compile("sample_grad", sample_grad, "sample_grad(w, j, grad) (float64 vectors, int64 j)",
                           (_A1, nbt.int64, _A1), returns_number=False)
    obj = Objective(name, dim, (), CUSTOM, V.positive("L", L), f_star, n > 0, n,
                    mu, x0, np.zeros(1), np.zeros((n, 0)), np.zeros(0),
                    kernels=_user_kernels(value_and_grad, sample_grad))
    return user.register("objective", name, obj, (value_and_grad, sample_grad))


def _user_kernels(vg, sg):
    """(full_grad, sample_grad, population) with the built-in signatures, calling the user's functions."""
    @njit
    def user_full_grad(code, fp, X, y, w, out):
        return vg(w, out)

    if sg is None:
        @njit
        def user_sample_grad(code, fp, X, y, w, j, out):
            raise ValueError("sample_grad of a population objective")
    else:
        @njit
        def user_sample_grad(code, fp, X, y, w, j, out):
            sg(w, j, out)

    return user_full_grad, user_sample_grad, user_full_grad
