"""Noise models for the stochastic gradient ``g = grad F(w) + xi``: specs, in-kernel samplers, moments.

Setting
-------
docs/theory.md §3. A :class:`Noise` is frozen plain data (family, vector mode, parameters), validated
once at construction. The engine packs it with :meth:`Noise.pack` into integer codes plus a float64[4]
parameter array and calls the family's sampler (:func:`fill_function`, which fills exactly like
:func:`noise_fill`) once per step per path. Every draw
comes from the path's own xoshiro256++ ``state`` (``clipsim._rng``), so the stream of path ``m`` is a
pure function of ``(root seed, m)`` and results are bitwise reproducible across thread counts.

Families (code; law of one coordinate ``X``; ``Noise.tail_index``)
-----------------------------------------------------------------
- ``NONE = 0``: ``X = 0``.
- ``GAUSSIAN = 1``: ``X ~ N(0, scale**2)``; tail index ``inf``.
- ``STABLE = 2``: ``X = scale * Z`` with ``Z ~ levy_stable(alpha, beta)`` in scipy's default S1
  parameterisation, i.e. exactly ``scipy.stats.levy_stable(alpha, beta, loc=0, scale=scale)``.
  Characteristic function of ``Z``: ``exp(-|t|^a (1 - i b sign(t) tan(pi a/2)))`` for a != 1 and
  ``exp(-|t| (1 + i b (2/pi) sign(t) log|t|))`` for a = 1. Note that for a = 1, b != 0 scipy's
  ``scale * Z`` is Nolan's S(1, b, scale, -(2/pi) b scale log(scale); 1), not S(1, b, scale, 0; 1):
  we follow scipy. ``alpha = 2`` is ``N(0, 2 scale**2)`` whatever beta. Tail index alpha (inf at 2).
  S1 is discontinuous in alpha at alpha = 1 when beta != 0 (location ~ beta tan(pi alpha/2)): that is
  the parameterisation, not a sampler artefact.
- ``PARETO = 3``: symmetric Lomax, ``X = sign * scale * L`` with ``L ~ Lomax(a)`` (numpy's ``pareto``,
  ``scipy.stats.lomax(a)``) and an independent fair sign. Tail index ``a``.
- ``STUDENT_T = 4``: ``X = scale * T``, ``T ~ t(df)``. Tail index ``df``.
- ``LOMAX = 5``: centred one-sided Pareto, ``X = scale * (L - 1/(a-1))`` with ``L ~ Lomax(a)``,
  ``a > 1``: mean 0, tail index ``a`` on the right, bounded below by ``-scale/(a-1)``; strongly
  skewed, so clipping it is biased. ``Var X = scale^2 a/((a-1)^2 (a-2))`` for ``a > 2``; other
  ``E|X|^p`` by quadrature. i.i.d. coordinates only (a radial version would be symmetric).

Centering (decided): the engine wants mean-zero noise. In S1 the location parameter *is* the mean
whenever the mean exists (alpha > 1), for every beta: ``E Z = 0`` (checked in the tests against
numerical integration of ``x * levy_stable.pdf``). So no ``centered`` option is needed and the engine
must not subtract anything. (The ``-beta scale tan(pi alpha/2)`` shift belongs to the S0
parameterisation.) ``Noise.mean`` reports ``0.0`` where the mean exists, ``+inf``/``-inf`` where it is
infinite (totally skewed stable with alpha <= 1), ``nan`` where it is undefined (E|X| = inf on both
sides: symmetric-ish heavy tails with index <= 1).

Vectors (code)
--------------
- ``IID = 0``: i.i.d. coordinates.
- ``RADIAL = 1``: ``xi = |X| * g/||g||`` with ``g`` a standard Gaussian d-vector (uniform direction)
  and ``X`` one draw of the family, independent of ``g``. Then ``||xi|| = |X|`` exactly, so
  ``E||xi||^p = E|X|^p`` in closed form.

Samplers (all exact; no fastmath; no allocation inside :func:`noise_fill`)
-------------------------------------------------------------------------
Uniforms are generated in blocks of at most ``_BLOCK`` coordinates into ``work`` (``fill_uniform``),
then transformed in separate, branch-free loops on ``clipsim._vmath``'s log/exp/expm1/pow/sin/cos,
which LLVM vectorises (libm's scalar calls would block it). A fill of ``d``
coordinates is processed in chunks of ``min(d, _BLOCK)``, so its result is a function of
``(code, params, state, d)`` only, never of the length of ``work``.

- Stable: Chambers-Mallows-Stuck with Weron's (1996) correction, 2 uniforms per draw:
  ``V = pi (u1 - 1/2)``, ``W = -log u2``; for alpha != 1, with ``B = arctan(b tan(pi a/2))/a`` and
  ``S = (1 + b^2 tan^2(pi a/2))^(1/(2a))``,
  ``Z = S sin(a(V+B))/cos V * (cos(V - a(V+B)) / (W cos V))^((1-a)/a)``
  (Weron's ``sin(a(V+B))/cos(V)^(1/a) * (cos(V-a(V+B))/W)^((1-a)/a)`` regrouped so that both
  factors stay finite as V -> -pi/2 for small alpha, and with one ``pow`` instead of two);
  for alpha = 1: ``Z = (2/pi)((pi/2 + bV) tan V - b log((pi/2) W cos V / (pi/2 + bV)))``;
  for alpha = 2: ``Z = 2 sqrt(W) sin V`` (= N(0, 2), the a -> 2 limit without rounding noise).
  ``B`` and ``S`` are computed once per :func:`noise_fill` call.
- Pareto: 1 uniform per draw. ``u < 1/2`` gives the sign and ``v = 2u`` or ``2u - 1`` (exact in
  floating point; ``v`` is uniform on the 2**52 odd multiples of 2**-53, independent of the sign);
  ``L = expm1(-log(v)/a)`` (accurate for small L, unlike ``v**(-1/a) - 1``).
- Gaussian: Box-Muller pairs (2 uniforms per 2 coordinates; the radial radius uses one of a pair).
- Student-t: Bailey's (1994) polar method, a rejection sampler with acceptance pi/4:
  ``(U, V)`` uniform in the unit disc, ``W = U^2 + V^2``, ``T = U sqrt(df expm1(-(2/df) log W) / W)``.
  It needs one log, one expm1 and one sqrt per draw, cheaper than N/sqrt(chi2/df) through
  Marsaglia-Tsang gamma. Each coordinate's first attempt uses its pair of the block; a rejected
  attempt is retried with fresh uniforms from the stream (exact: every uniform is used once). The
  first attempts of a block are transformed in one vectorised loop (the rejected ones give nan
  there); a second, scalar loop redraws the rejected coordinates in coordinate order, which uses
  the stream exactly as a one-coordinate-at-a-time loop would.

log, expm1, sin, cos and pow are ``clipsim._vmath``'s (within 1 ulp of libm, pow 2 ulp; not libm's
bits), so Pareto, Lomax, Student-t and the stable transform vectorise. The generic stable case
(alpha not in {1, 2}) runs in three loops (trigonometry and log; the log of the power; its exp)
because one loop spilled vector registers. ``B = 0`` and ``S = 1`` are exact for beta = 0 and not recomputed.

Moments
-------
:meth:`Noise.moment` gives ``E|X|^p`` (p > -1) in closed form (docs/theory.md §3) and ``inf`` where it
does not exist. Skewed stable, alpha != 1 (Zolotarev; Nolan 2020, "Univariate stable distributions",
sec. 3.7): ``E|Z|^p = Gamma(1-p/a) / (Gamma(1-p) cos(p pi/2)) * (1 + b^2 tan^2(pi a/2))^(p/(2a))
* cos((p/a) arctan(b tan(pi a/2)))``, implemented with ``Gamma(1-p) cos(p pi/2) = sqrt(pi)
Gamma(1-p/2) / (2^p Gamma((1+p)/2))`` so that p = 1 needs no limit; at beta = 0 it is the docs/theory.md §3
formula. Skewed stable, alpha = 1: no closed form is used; ``E|Z|^p`` is a one-dimensional quadrature of
the characteristic function (``scipy.integrate.quad``, relative accuracy ~1e-10), see
``_stable_alpha1_moment``. :meth:`Noise.norm_moment` is exact where it can be (radial; Gaussian iid via
the chi law; even integer p for iid via moments of sums; p >= tail index gives inf) and otherwise raises
a ``ValueError`` that points to :func:`estimate_norm_moment` (a Monte-Carlo estimate with a CI is not a
closed form and must not be silently passed off as one).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.core import types as nbt

from . import _limits
from . import _validate as _v
from . import _vmath as _vm
from ._first_class import first_class
from ._rng import fill_uniform_n, root_seed, seed_state, uniform
from ._views import borrow

__all__ = [
    "NONE", "GAUSSIAN", "STABLE", "PARETO", "STUDENT_T", "IID", "RADIAL", "FAMILY_CODES",
    "VECTOR_CODES", "Noise", "NormMomentEstimate", "estimate_norm_moment", "noise_fill",
    "noise_work_size", "stable", "pareto", "student_t", "gaussian", "none", "lomax", "LOMAX",
]

# ---------------------------------------------------------------------------------------------
# Codes and parameter layout
# ---------------------------------------------------------------------------------------------
NONE = 0
GAUSSIAN = 1
STABLE = 2
PARETO = 3
STUDENT_T = 4
LOMAX = 5
IID = 0
RADIAL = 1

FAMILY_CODES = {"none": NONE, "gaussian": GAUSSIAN, "stable": STABLE, "pareto": PARETO,
                "student_t": STUDENT_T, "lomax": LOMAX}
VECTOR_CODES = {"iid": IID, "radial": RADIAL}
#: vector laws a family allows, where not every one: the centred Lomax has no radial sampler
FAMILY_VECTORS = {"lomax": ("iid",)}

# params layout (float64[4]), one row per family:
#   index:      0        1                          2       3
#   none        0        0                          0       0
#   gaussian    scale    0                          0       0
#   stable      scale    alpha                      beta    0
#   pareto      scale    tail_index                 0       0
#   student_t   scale    df                         0       0
#   lomax       scale    tail_index                 0       0
P_SCALE, P_SHAPE, P_BETA = 0, 1, 2

_BLOCK = 256  # coordinates per block: 2 uniforms + 2 intermediates each (8 KiB of work, in L1)


def noise_work_size(dim) -> int:
    """Length of the float64 scratch buffer ``work`` that :func:`noise_fill` needs for ``dim``."""
    d = _v.integer("dim", dim, 1)
    return 4 * min(d, _BLOCK) + 8


# ---------------------------------------------------------------------------------------------
# Scalar transforms (uniforms -> one draw), shared by the block and the scalar paths
# ---------------------------------------------------------------------------------------------
@njit(cache=True)
def _stable_consts(alpha, beta):
    """(B, S) of Weron's CMS for alpha not in {1, 2}."""
    t = beta * math.tan(0.5 * math.pi * alpha)
    return math.atan(t) / alpha, (1.0 + t * t) ** (0.5 / alpha)


@njit(cache=True, error_model="numpy", inline="always")
def _stable_gen(u1, u2, alpha, bb, ss, ex):
    """CMS for alpha not in {1, 2} (bb, ss from _stable_consts; ex = (1 - alpha)/alpha). Branch-free."""
    v = math.pi * (u1 - 0.5)
    w = -_vm.log(u2)
    cv = _vm.cos(v)
    avb = alpha * (v + bb)
    return ss * _vm.sin(avb) / cv * _vm.pow(_vm.cos(v - avb) / (w * cv), ex)


@njit(cache=True, error_model="numpy", inline="always")
def _stable_a1(u1, u2, beta):
    """CMS for alpha = 1 (S1). Branch-free; tan v = sin v / cos v."""
    v = math.pi * (u1 - 0.5)
    w = -_vm.log(u2)
    sv, cv = _vm.sincos(v)
    hp = 0.5 * math.pi
    c = hp + beta * v
    return (c * (sv / cv) - beta * _vm.log(hp * w * cv / c)) / hp


@njit(cache=True, error_model="numpy", inline="always")
def _stable_a2(u1, u2):
    """alpha = 2: 2 sqrt(W) sin V = N(0, 2). Branch-free."""
    v = math.pi * (u1 - 0.5)
    return 2.0 * math.sqrt(-_vm.log(u2)) * _vm.sin(v)


@njit(cache=True)
def _stable_from(u1, u2, alpha, beta, bb, ss):
    """One standard S1 stable draw from two open-(0,1) uniforms (bb, ss from _stable_consts)."""
    if alpha == 2.0:
        return _stable_a2(u1, u2)
    if alpha == 1.0:
        return _stable_a1(u1, u2, beta)
    return _stable_gen(u1, u2, alpha, bb, ss, (1.0 - alpha) / alpha)


@njit(cache=True, error_model="numpy", inline="always")
def _pareto_from(u, a):
    """One symmetric standard Lomax(a) draw from one open-(0,1) uniform (sign from u < 1/2).
    Branch-free (vectorises in a block loop)."""
    neg = u < 0.5
    v = 2.0 * u if neg else 2.0 * u - 1.0
    lx = _vm.expm1(-_vm.log(v) / a)
    return -lx if neg else lx


@njit(cache=True, error_model="numpy", inline="always")
def _lomax_from(u, a):
    """One centred standard Lomax(a) draw, ``L - 1/(a-1)``, from one open-(0,1) uniform."""
    return _vm.expm1(-_vm.log(u) / a) - 1.0 / (a - 1.0)


@njit(cache=True, error_model="numpy")
def _lomax_block(dst, work, k, scale, a):
    """dst[:k] = scale * centred Lomax draws from work[:k] (one vectorisable loop)."""
    for i in range(k):
        dst[i] = scale * _lomax_from(work[i], a)


@njit(cache=True)
def _fill_lomax(out, work, state, scale, a):
    d = out.shape[0]
    m = min(d, _BLOCK)
    for j in range(0, d, m):
        k = min(m, d - j)
        fill_uniform_n(state, work, k)
        _lomax_block(out[j:j + k], work, k, scale, a)


@njit(cache=True, error_model="numpy", inline="always")
def _t_polar(a, b, df):
    """Bailey's transform of a point (a, b) of the unit disc (w = a^2 + b^2 <= 1) to a t(df) draw;
    nan (never used) outside the disc."""
    w = a * a + b * b
    return a * math.sqrt(df * _vm.expm1(-(2.0 / df) * _vm.log(w)) / w)


@njit(cache=True, error_model="numpy")
def _t_from(u1, u2, df, state):
    """One t(df) draw (Bailey's polar method); (u1, u2) is the first attempt, retries use state."""
    a = 2.0 * u1 - 1.0
    b = 2.0 * u2 - 1.0
    while a * a + b * b > 1.0:
        a = 2.0 * uniform(state) - 1.0
        b = 2.0 * uniform(state) - 1.0
    return _t_polar(a, b, df)


@njit(cache=True)
def _scalar_draw(code, params, state):
    """One scaled draw X of the family (used for the radial radius)."""
    scale = params[0]
    if code == GAUSSIAN:
        u1 = uniform(state)
        u2 = uniform(state)
        return scale * math.sqrt(-2.0 * _vm.log(u1)) * _vm.cos(2.0 * math.pi * u2)
    if code == STABLE:
        alpha = params[1]
        beta = params[2]
        bb = 0.0
        ss = 1.0
        if alpha != 1.0 and alpha != 2.0:
            bb, ss = _stable_consts(alpha, beta)
        u1 = uniform(state)
        u2 = uniform(state)
        return scale * _stable_from(u1, u2, alpha, beta, bb, ss)
    if code == PARETO:
        return scale * _pareto_from(uniform(state), params[1])
    if code == STUDENT_T:
        u1 = uniform(state)
        u2 = uniform(state)
        return scale * _t_from(u1, u2, params[1], state)
    return 0.0


# ---------------------------------------------------------------------------------------------
# Block fills
# ---------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _bm_pairs(c_out, s_out, u, scale):
    """c_out[p], s_out[p] = r cos th, r sin th of the pair (u[2p], u[2p+1]) (distinct array arguments:
    LLVM checks overlap at run time and vectorises)."""
    for p in range(c_out.shape[0]):
        r = scale * math.sqrt(-2.0 * _vm.log(u[2 * p]))
        sn, cs = _vm.sincos(2.0 * math.pi * u[2 * p + 1])
        c_out[p] = r * cs
        s_out[p] = r * sn


@njit(cache=True, error_model="numpy")
def _box_muller(out, j, work, k, scale):
    """out[j:j+k] from the uniform pairs (work[2p], work[2p+1]): out[j+2p] = r cos th, out[j+2p+1] =
    r sin th, r = scale sqrt(-2 log work[2p]), th = 2 pi work[2p+1]. For vectorisation the transform
    loop writes unit-stride halves (cos parts to out[j:j+h], sin parts to out[j+h:j+2h]); a cheap
    second pass interleaves them through ``work`` (whose uniforms are used up by then)."""
    h = k >> 1
    _bm_pairs(out[j:j + h], out[j + h:j + 2 * h], work, scale)
    last = 0.0
    if k & 1:
        last = scale * math.sqrt(-2.0 * _vm.log(work[k - 1])) * _vm.cos(2.0 * math.pi * work[k])
    for i in range(2 * h):
        work[i] = out[j + i]
    for p in range(h):
        out[j + 2 * p] = work[p]
        out[j + 2 * p + 1] = work[h + p]
    if k & 1:
        out[j + k - 1] = last


@njit(cache=True)
def _fill_gaussian(out, work, state, scale):
    """out[:] = i.i.d. N(0, scale^2), Box-Muller pairs on blocks of uniforms."""
    d = out.shape[0]
    m = min(d, _BLOCK)
    for j in range(0, d, m):
        k = min(m, d - j)
        nu = k + (k & 1)
        fill_uniform_n(state, work, nu)
        _box_muller(out, j, work, k, scale)


@njit(cache=True, error_model="numpy")
def _stable_gen_parts(out, base, work, k, alpha, bb, ss):
    """First pass of the generic CMS: out[i] = S sin(a(V+B))/cos V and base[i] = cos(V - a(V+B)) /
    (W cos V) from the pair (work[2i], work[2i+1])."""
    for i in range(k):
        v = math.pi * (work[2 * i] - 0.5)
        w = -_vm.log(work[2 * i + 1])
        cv = _vm.cos(v)
        avb = alpha * (v + bb)
        out[i] = ss * _vm.sin(avb) / cv
        base[i] = _vm.cos(v - avb) / (w * cv)


@njit(cache=True, error_model="numpy")
def _stable_gen_powlog(base, lo, k, ex):
    """Second pass: (base[i], lo[i]) = ex * log(base[i]) as a double-double (``_vmath.pow_log``)."""
    for i in range(k):
        base[i], lo[i] = _vm.pow_log(base[i], ex)


@njit(cache=True, error_model="numpy")
def _stable_gen_scale(out, hi, lo, k, scale):
    """Third pass: out[i] = scale * (out[i] * exp(hi[i] + lo[i])), i.e. scale * out[i] * base^ex."""
    for i in range(k):
        out[i] = scale * (out[i] * _vm.exp_dd(hi[i], lo[i]))


@njit(cache=True, error_model="numpy")
def _stable_block(out, j, work, k, scale, alpha, bb, ss):
    """out[j:j+k] = scale * stable draws (alpha not 1 or 2) from the uniform pairs in work[:2k], in
    three branch-free, vectorisable passes through work[2k:4k] (the same arithmetic as ``_stable_gen``,
    bitwise: pow = exp_dd of pow_log): one loop with all of it needs more than the 32 vector registers
    and measured about 20% slower from spilling; pow in two passes measured about 0.5 ns per draw faster
    than in one."""
    dst = out[j:j + k]  # views: non-negative indices from 0 (no wraparound selects)
    base = work[2 * k:3 * k]
    lo = work[3 * k:4 * k]
    _stable_gen_parts(dst, base, work, k, alpha, bb, ss)
    _stable_gen_powlog(base, lo, k, (1.0 - alpha) / alpha)
    _stable_gen_scale(dst, base, lo, k, scale)


@njit(cache=True, error_model="numpy")
def _stable_block_a1(out, j, work, k, scale, beta):
    """As :func:`_stable_block` for alpha = 1 (one vectorisable loop)."""
    for i in range(k):
        out[j + i] = scale * _stable_a1(work[2 * i], work[2 * i + 1], beta)


@njit(cache=True, error_model="numpy")
def _stable_block_a2(out, j, work, k, scale):
    """As :func:`_stable_block` for alpha = 2 (one vectorisable loop)."""
    for i in range(k):
        out[j + i] = scale * _stable_a2(work[2 * i], work[2 * i + 1])


# Each case has its own driver (block by block: uniforms, then the case's transform), so that a run
# compiles only its own: alpha = 1 and 2 inline trigonometry and logarithms of their own (about a second
# of cold start). They have noise_fill's signature: each is also the entry point of its case (fill_entry).
# j is an int64 loop variable: one compiled block, never Literal[0].
@njit(cache=True)
def _fill_stable_entry(code, vector_code, params, state, out, work):
    """Stable draws, alpha not 1 or 2: out = params[0] * S1(params[1], params[2])."""
    d = out.shape[0]
    scale, alpha, beta = params[0], params[1], params[2]
    bb = 0.0
    ss = 1.0
    if beta != 0.0:  # beta = 0: B = 0, S = 1 exactly
        bb, ss = _stable_consts(alpha, beta)
    m = max(min(d, _BLOCK), 1)
    for j in range(0, d, m):
        k = min(m, d - j)
        fill_uniform_n(state, work, 2 * k)
        _stable_block(out, j, work, k, scale, alpha, bb, ss)


@njit(cache=True)
def _fill_stable_a1_entry(code, vector_code, params, state, out, work):
    """Stable draws, alpha = 1."""
    d = out.shape[0]
    m = max(min(d, _BLOCK), 1)
    for j in range(0, d, m):
        k = min(m, d - j)
        fill_uniform_n(state, work, 2 * k)
        _stable_block_a1(out, j, work, k, params[0], params[2])


@njit(cache=True)
def _fill_stable_a2_entry(code, vector_code, params, state, out, work):
    """Stable draws, alpha = 2."""
    d = out.shape[0]
    m = max(min(d, _BLOCK), 1)
    for j in range(0, d, m):
        k = min(m, d - j)
        fill_uniform_n(state, work, 2 * k)
        _stable_block_a2(out, j, work, k, params[0])


@njit(cache=True, error_model="numpy")
def _pareto_block(dst, work, k, scale, a):
    """dst[:k] = scale * symmetric Lomax draws from work[:k] (one vectorisable loop)."""
    for i in range(k):
        dst[i] = scale * _pareto_from(work[i], a)


@njit(cache=True)
def _fill_pareto(out, work, state, scale, a):
    d = out.shape[0]
    m = min(d, _BLOCK)
    for j in range(0, d, m):
        k = min(m, d - j)
        fill_uniform_n(state, work, k)
        _pareto_block(out[j:j + k], work, k, scale, a)


@njit(cache=True, error_model="numpy")
def _t_block(dst, work, k, scale, df, state):
    """dst[:k] = scale * t(df) draws from the pairs in work[:2k]: every first attempt in one
    vectorisable loop, then, in coordinate order, the rejected ones (probability 1 - pi/4 each)
    redrawn from the stream: the same uniforms in the same order as one scalar loop would use."""
    for i in range(k):
        dst[i] = scale * _t_polar(2.0 * work[2 * i] - 1.0, 2.0 * work[2 * i + 1] - 1.0, df)
    for i in range(k):
        a = 2.0 * work[2 * i] - 1.0
        b = 2.0 * work[2 * i + 1] - 1.0
        if a * a + b * b > 1.0:
            dst[i] = scale * _t_from(work[2 * i], work[2 * i + 1], df, state)


@njit(cache=True)
def _fill_t(out, work, state, scale, df):
    d = out.shape[0]
    m = min(d, _BLOCK)
    for j in range(0, d, m):
        k = min(m, d - j)
        fill_uniform_n(state, work, 2 * k)
        _t_block(out[j:j + k], work, k, scale, df, state)


@njit(cache=True)
def noise_fill(code, vector_code, params, state, out, work):
    """Fill ``out`` (float64[d]) with one d-vector draw of the noise packed as (code, vector_code, params).

    ``params``: float64[4] from :meth:`Noise.pack`; ``state``: the path's uint64[4] xoshiro256++ state
    (advanced in place); ``work``: float64 scratch of length >= ``noise_work_size(d)``. All arrays
    1-D and C-contiguous (one compiled signature: int64, int64, then four C arrays). No allocation.
    """
    d = out.shape[0]
    if code == NONE or d == 0:
        for i in range(d):
            out[i] = 0.0
        return
    # the caller holds the arrays for the call: views without reference counting (clipsim._views)
    params, state, out, work = borrow(params), borrow(state), borrow(out), borrow(work)
    if work.shape[0] < 4 * min(d, _BLOCK):
        raise ValueError("noise_fill: work buffer shorter than noise_work_size(d)")
    scale = params[0]
    if vector_code == IID:
        if code == GAUSSIAN:
            _fill_gaussian(out, work, state, scale)
        elif code == STABLE:
            if params[1] == 2.0:
                _fill_stable_a2_entry(code, vector_code, params, state, out, work)
            elif params[1] == 1.0:
                _fill_stable_a1_entry(code, vector_code, params, state, out, work)
            else:
                _fill_stable_entry(code, vector_code, params, state, out, work)
        elif code == PARETO:
            _fill_pareto(out, work, state, scale, params[1])
        elif code == STUDENT_T:
            _fill_t(out, work, state, scale, params[1])
        elif code == LOMAX:
            _fill_lomax(out, work, state, scale, params[1])
        else:
            raise ValueError("noise_fill: unknown family code")
    elif vector_code == RADIAL:
        if code < 1 or code > 4:
            raise ValueError("noise_fill: unknown family code")
        nrm2 = 0.0
        while nrm2 == 0.0:  # a zero Gaussian vector has probability 0 (and never occurs here)
            _fill_gaussian(out, work, state, 1.0)
            nrm2 = 0.0
            for i in range(d):
                nrm2 += out[i] * out[i]
        f = abs(_scalar_draw(code, params, state)) / math.sqrt(nrm2)
        for i in range(d):
            out[i] *= f
    else:
        raise ValueError("noise_fill: unknown vector code")


# One entry point per i.i.d. family, with noise_fill's signature: the engine receives the one a
# configuration needs as a first-class function (fill_function), so a cold start compiles one sampler, not
# all of them. Each calls the very function noise_fill calls for that family: the same bits.
@njit(cache=True)
def _fill_none_entry(code, vector_code, params, state, out, work):
    for i in range(out.shape[0]):
        out[i] = 0.0


@njit(cache=True)
def _fill_gaussian_entry(code, vector_code, params, state, out, work):
    if out.shape[0] > 0:
        _fill_gaussian(out, work, state, params[0])


@njit(cache=True)
def _fill_pareto_entry(code, vector_code, params, state, out, work):
    if out.shape[0] > 0:
        _fill_pareto(out, work, state, params[0], params[1])


@njit(cache=True)
def _fill_t_entry(code, vector_code, params, state, out, work):
    if out.shape[0] > 0:
        _fill_t(out, work, state, params[0], params[1])


@njit(cache=True)
def _fill_lomax_entry(code, vector_code, params, state, out, work):
    if out.shape[0] > 0:
        _fill_lomax(out, work, state, params[0], params[1])


#: i.i.d. family code -> its entry point
_ENTRIES = {GAUSSIAN: _fill_gaussian_entry, STABLE: _fill_stable_entry, PARETO: _fill_pareto_entry,
            STUDENT_T: _fill_t_entry, LOMAX: _fill_lomax_entry}
_A1 = nbt.float64[::1]
#: the signature of a fill: (code, vector_code, params, state, out, work), as :func:`noise_fill`'s
FILL_SIG = nbt.none(nbt.int64, nbt.int64, _A1, nbt.uint64[::1], _A1, _A1)
_FILLS = {}


def fill_entry(code, vector_code, params):
    """A jitted function filling like ``noise_fill(code, vector_code, params, ...)`` but compiling only
    that family's sampler (for stable laws, only that alpha case's): the i.i.d. families and no noise;
    radial vectors use ``noise_fill`` itself."""
    if code == NONE:
        return _fill_none_entry
    if vector_code != IID or code not in _ENTRIES:
        return noise_fill
    if code == STABLE and params[1] in (1.0, 2.0):
        return _fill_stable_a1_entry if params[1] == 1.0 else _fill_stable_a2_entry
    return _ENTRIES[code]


def fill_function(code, vector_code, params):
    """:func:`fill_entry` as the first-class function value the engine receives."""
    fn = fill_entry(code, vector_code, params)
    if fn not in _FILLS:
        _FILLS[fn] = first_class(fn, FILL_SIG)
    return _FILLS[fn]


@njit(cache=True)
def _fill_rows(code, vector_code, params, root, out, work):
    """Row i of out (n, d) = first draw of path i's stream (root, i), as the engine would draw it."""
    state = np.empty(4, np.uint64)
    for i in range(out.shape[0]):
        seed_state(root, i, state)
        noise_fill(code, vector_code, params, state, out[i], work)


@njit(cache=True)
def _row_norms(code, vector_code, params, root, dim, norms, work):
    """norms[i] = ||row i of sample_vectors||, without storing the rows (overflow-safe norm)."""
    state = np.empty(4, np.uint64)
    buf = np.empty(dim, np.float64)
    for i in range(norms.shape[0]):
        seed_state(root, i, state)
        noise_fill(code, vector_code, params, state, buf, work)
        m = 0.0
        for j in range(dim):
            m = max(m, abs(buf[j]))
        if m == 0.0 or math.isinf(m) or math.isnan(m):
            norms[i] = m
            continue
        s = 0.0
        for j in range(dim):
            s += (buf[j] / m) ** 2
        norms[i] = m * math.sqrt(s)


# ---------------------------------------------------------------------------------------------
# Moments (plain Python, closed forms)
# ---------------------------------------------------------------------------------------------
_LOG_SQRT_PI = 0.5 * math.log(math.pi)


def _gauss_abs_moment(p):
    """E|N(0,1)|^p, p > -1."""
    return math.exp(0.5 * p * math.log(2.0) + math.lgamma(0.5 * (p + 1.0)) - _LOG_SQRT_PI)


def _stable_abs_moment(alpha, beta, p):
    """E|Z|^p for standard S1 stable Z, -1 < p < alpha (alpha < 2) or any p > -1 (alpha = 2)."""
    if p == 0.0:
        return 1.0
    if alpha == 2.0:
        return math.exp(p * math.log(math.sqrt(2.0))) * _gauss_abs_moment(p)
    if alpha == 1.0 and beta != 0.0:
        return _stable_alpha1_moment(beta, p)
    # Gamma(1-p/a) / (Gamma(1-p) cos(p pi/2)), with Gamma(1-p) cos(p pi/2) rewritten (see module doc).
    logm = (math.lgamma(1.0 - p / alpha) + p * math.log(2.0) + math.lgamma(0.5 * (1.0 + p))
            - _LOG_SQRT_PI - math.lgamma(1.0 - 0.5 * p))
    if beta == 0.0:
        return math.exp(logm)
    t = beta * math.tan(0.5 * math.pi * alpha)
    return math.exp(logm + p / (2.0 * alpha) * math.log1p(t * t)) * math.cos(p / alpha * math.atan(t))


def _stable_cf_moment(alpha, beta, p):
    """E|Z|^p from the S1 characteristic function by quadrature (-1 < p < min(alpha, 2), p != 0).

    p > 0: ``|x|^p = (2 Gamma(1+p) sin(p pi/2)/pi) int_0^inf (1 - cos(tx)) t^(-1-p) dt``;
    p = -q < 0: ``|x|^-q = int_0^inf cos(tx) t^(q-1) dt / (Gamma(q) cos(q pi/2))``. With
    ``Re phi(t) = exp(-t^a) cos(b tan(pi a/2) t^a)`` (a != 1) or ``exp(-t) cos(b (2/pi) t log t)``.
    Used for alpha = 1, beta != 0, and by the tests as an independent check of the closed forms.
    """
    from scipy.integrate import quad

    if alpha == 1.0:
        def arg(t):  # Re phi(t) = exp(-t^a) cos(arg(t))
            return beta * (2.0 / math.pi) * t * math.log(t) if t > 0 else 0.0
    else:
        tn = beta * math.tan(0.5 * math.pi * alpha)

        def arg(t):
            return tn * t ** alpha

    def re_phi(t):
        return math.exp(-t ** alpha) * math.cos(arg(t))

    def one_minus_re_phi(t):  # without cancellation near t = 0
        ta = t ** alpha
        return -math.expm1(-ta) + 2.0 * math.exp(-ta) * math.sin(0.5 * arg(t)) ** 2

    kw = dict(epsabs=0.0, epsrel=1e-11, limit=1000)
    if p > 0:
        # int_0^1 (1 - Re phi) t^(-1-p) + int_1^inf (1 - Re phi) t^(-1-p), the last = 1/p - int Re phi t^(-1-p)
        i1 = quad(lambda t: one_minus_re_phi(t) * t ** (-1.0 - p), 0.0, 1.0, **kw)[0]
        i2 = quad(lambda t: re_phi(t) * t ** (-1.0 - p), 1.0, math.inf, **kw)[0]
        integral = i1 + 1.0 / p - i2
        return 2.0 * math.gamma(1.0 + p) * math.sin(0.5 * p * math.pi) / math.pi * integral
    q = -p
    i1 = quad(lambda t: re_phi(t) * t ** (q - 1.0), 0.0, 1.0, **kw)[0]
    i2 = quad(lambda t: re_phi(t) * t ** (q - 1.0), 1.0, math.inf, **kw)[0]
    return (i1 + i2) / (math.gamma(q) * math.cos(0.5 * q * math.pi))


def _stable_alpha1_moment(beta, p):
    """E|Z|^p for alpha = 1, beta != 0 (S1): quadrature of the characteristic function."""
    return _stable_cf_moment(1.0, beta, p)


def _lomax_abs_moment(a, p):
    """E|L - 1/(a-1)|^p, L ~ Lomax(a): 0 mean, closed-form variance, quadrature otherwise."""
    if p >= a:
        return math.inf
    if p == 2.0:
        return a / ((a - 1.0) ** 2 * (a - 2.0))
    from scipy import integrate

    m = 1.0 / (a - 1.0)

    def f(y):
        return abs(y - m) ** p * a * (1.0 + y) ** (-a - 1.0)

    left = integrate.quad(f, 0.0, m, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    right = integrate.quad(f, m, math.inf, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    return left + right


def _standard_abs_moment(family, shape, beta, p):
    """E|X/scale|^p (or E|X|^p for none); inf where it does not exist. p > -1."""
    if family == "none":
        return 1.0 if p == 0 else (0.0 if p > 0 else math.inf)
    if p == 0.0:
        return 1.0
    if family == "gaussian":
        return _gauss_abs_moment(p)
    if family == "stable":
        if shape < 2.0 and p >= shape:
            return math.inf
        return _stable_abs_moment(shape, beta, p)
    if family == "pareto":
        if p >= shape:
            return math.inf
        return math.exp(math.lgamma(p + 1.0) + math.lgamma(shape - p) - math.lgamma(shape))
    if family == "lomax":
        return _lomax_abs_moment(shape, p)
    if family == "student_t":
        if p >= shape:
            return math.inf
        return math.exp(0.5 * p * math.log(shape) + math.lgamma(0.5 * (p + 1.0))
                        + math.lgamma(0.5 * (shape - p)) - _LOG_SQRT_PI - math.lgamma(0.5 * shape))
    raise AssertionError(family)  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------------------------
_PARAM_NAMES = {  # family -> the dict keys of its parameters (besides family, vector)
    "none": (),
    "gaussian": ("scale",),
    "stable": ("alpha", "beta", "scale"),
    "pareto": ("tail_index", "scale"),
    "student_t": ("df", "scale"),
    "lomax": ("tail_index", "scale"),
}


def _fmt_num(x):
    return f"{x:.12g}"


@dataclass(frozen=True)
class Noise:
    """A noise model (frozen, validated). Build it with the constructors, e.g. ``Noise.stable(1.5)``.

    Fields: ``family`` (one of ``FAMILY_CODES``), ``vector`` ("iid" or "radial"), ``scale``,
    ``shape`` (alpha for stable, tail index for pareto, df for student_t, 0.0 otherwise) and ``beta``
    (stable skewness, 0.0 otherwise). ``none`` has scale 0.0.
    """

    family: str
    vector: str = "iid"
    scale: float = 1.0
    shape: float = 0.0
    beta: float = 0.0

    def __post_init__(self):
        fam = _v.choice("family", self.family, tuple(FAMILY_CODES))
        vec = _v.choice("vector", self.vector, tuple(VECTOR_CODES))
        if fam == "none":
            vec = "iid"  # zero noise has no direction: one canonical form
            scale = _v.real("scale", self.scale, 0.0, 0.0)
        else:
            scale = _v.positive("scale", self.scale)
        if fam == "stable":
            shape = _v.real("alpha", self.shape, 0.0, 2.0, lo_open=True)
            beta = _v.real("beta", self.beta, -1.0, 1.0)
        else:
            if fam == "pareto":
                shape = _v.positive("tail_index", self.shape)
            elif fam == "student_t":
                shape = _v.positive("df", self.shape)
            elif fam == "lomax":
                shape = _v.real("tail_index", self.shape, 1.0, math.inf, lo_open=True, hi_open=True)
                _v.choice("lomax vector", vec, FAMILY_VECTORS["lomax"])
            else:
                shape = _v.real("shape", self.shape, 0.0, 0.0)
            beta = _v.real("beta", self.beta, 0.0, 0.0)
        for name, val in (("family", fam), ("vector", vec), ("scale", scale), ("shape", shape),
                          ("beta", beta)):
            object.__setattr__(self, name, val)

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def stable(cls, alpha, beta=0.0, scale=1.0, vector="iid") -> "Noise":
        """alpha-stable, ``scale * levy_stable(alpha, beta)`` (scipy S1); alpha in (0, 2], beta in [-1, 1]."""
        _v.real("alpha", alpha, 0.0, 2.0, lo_open=True)
        return cls("stable", vector, scale, alpha, beta)

    @classmethod
    def pareto(cls, tail_index, scale=1.0, vector="iid") -> "Noise":
        """Symmetric Lomax: random sign * scale * Lomax(tail_index)."""
        _v.positive("tail_index", tail_index)
        return cls("pareto", vector, scale, tail_index)

    @classmethod
    def lomax(cls, tail_index, scale=1.0, vector="iid") -> "Noise":
        """Centred one-sided Pareto: scale * (Lomax(tail_index) - 1/(tail_index - 1)), tail_index > 1."""
        _v.real("tail_index", tail_index, 1.0, math.inf, lo_open=True, hi_open=True)
        return cls("lomax", vector, scale, tail_index)

    @classmethod
    def student_t(cls, df, scale=1.0, vector="iid") -> "Noise":
        """scale * t(df)."""
        _v.positive("df", df)
        return cls("student_t", vector, scale, df)

    @classmethod
    def gaussian(cls, scale=1.0, vector="iid") -> "Noise":
        """N(0, scale^2) (note: stable(2, scale=c) is N(0, 2 c^2))."""
        return cls("gaussian", vector, scale)

    @classmethod
    def none(cls) -> "Noise":
        """Zero noise (code NONE)."""
        return cls("none", "iid", 0.0)

    # -- codes and packing ---------------------------------------------------------------------
    @property
    def code(self) -> int:
        return FAMILY_CODES[self.family]

    @property
    def vector_code(self) -> int:
        return VECTOR_CODES[self.vector]

    def pack(self):
        """``(code, vector_code, params)``: Python ints and a fresh float64[4] (layout in module)."""
        params = np.zeros(4, dtype=np.float64)
        params[P_SCALE] = self.scale
        params[P_SHAPE] = self.shape
        params[P_BETA] = self.beta
        return int(self.code), int(self.vector_code), params

    # -- properties of the law -----------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """Stability index (stable only)."""
        if self.family != "stable":
            raise ValueError(f"alpha is not defined for family = {self.family!r}: only for 'stable'")
        return self.shape

    @property
    def df(self) -> float:
        """Degrees of freedom (student_t only)."""
        if self.family != "student_t":
            raise ValueError(f"df is not defined for family = {self.family!r}: only for 'student_t'")
        return self.shape

    @property
    def tail_index(self) -> float:
        """sup{p: E|X|^p < inf}: alpha (stable, alpha < 2), tail index (pareto), df (t), else inf."""
        if self.family in ("pareto", "student_t", "lomax") or (self.family == "stable" and self.shape < 2.0):
            return self.shape
        return math.inf

    @property
    def symmetric(self) -> bool:
        """Whether X and -X have the same law (False for lomax and for skewed stable, beta != 0)."""
        return self.family != "lomax" and not (self.family == "stable" and self.beta != 0.0 and self.shape < 2.0)

    @property
    def mean(self) -> float:
        """E X of one coordinate: 0.0 where it exists, +-inf where infinite, nan where undefined."""
        if self.tail_index > 1.0:
            return 0.0
        if self.family == "stable" and abs(self.beta) == 1.0:
            return math.copysign(math.inf, self.beta)
        return math.nan

    def moment(self, p) -> float:
        """E|X|^p of one coordinate (p > -1), closed form; ``math.inf`` where it does not exist."""
        p = _v.real("p", p, -1.0, math.inf, lo_open=True, hi_open=True)
        m = _standard_abs_moment(self.family, self.shape, self.beta, p)
        if self.family == "none" or p == 0.0 or math.isinf(m):
            return m
        return math.exp(p * math.log(self.scale)) * m

    def norm_moment(self, p, dim) -> float:
        """E||xi||^p for the d-vector noise, exact only.

        Exact for: radial (= moment(p)); dim = 1; Gaussian iid (chi law); iid and even integer p
        (moments of a sum of i.i.d. X_i^2, e.g. p = 2: dim * E X^2); iid with p >= tail index (inf);
        zero noise. Otherwise (iid, no closed form) raises ValueError: use
        :func:`estimate_norm_moment` for a Monte-Carlo estimate with a confidence interval.
        """
        p = _v.real("p", p, -1.0, math.inf, lo_open=True, hi_open=True)
        d = _v.integer("dim", dim, 1)
        if self.vector == "radial" or d == 1 or self.family == "none" or p == 0.0:
            return self.moment(p)
        if p > 0 and p >= self.tail_index:
            return math.inf  # ||xi|| >= |xi_1| and E|xi_1|^p = inf
        if self.family == "gaussian":  # ||xi|| = scale * chi_d
            return math.exp(p * math.log(self.scale) + 0.5 * p * math.log(2.0)
                            + math.lgamma(0.5 * (d + p)) - math.lgamma(0.5 * d))
        if p > 0 and float(p).is_integer() and int(p) % 2 == 0:
            return _even_norm_moment(self, int(p) // 2, d)
        raise ValueError(
            f"p = {p!r} is not allowed for norm_moment of {self}: E||xi||^p of iid coordinates has no "
            f"closed form here (exact for radial, Gaussian, even integer p); use "
            f"clipsim.noise.estimate_norm_moment(noise, p, dim) for a Monte-Carlo estimate with a CI")

    # -- sampling (through the Numba kernels) --------------------------------------------------
    def sample(self, n, seed=0) -> np.ndarray:
        """n i.i.d. draws of X (one coordinate's law; the vector mode is ignored): ``noise_fill`` of
        an n-vector with vector code IID on stream (seed, 0). For stable, Pareto and Gaussian this is
        a prefix-consistent stream: ``sample(n)[:k] == sample(k)``."""
        n = _v.integer("n", n, 0)
        _limits.guard_array("sample(n)", n, "draw fewer values, or in batches with different seeds")
        root = root_seed(seed)
        code, _, params = self.pack()
        out = np.empty(n, dtype=np.float64)
        if n == 0:
            return out
        state = np.empty(4, dtype=np.uint64)
        seed_state(root, np.uint64(0), state)
        noise_fill(code, IID, params, state, out, np.empty(noise_work_size(n), dtype=np.float64))
        return out

    def sample_vectors(self, n, dim, seed=0) -> np.ndarray:
        """(n, dim) array; row i is the first draw of path i's stream (seed, i), as in the engine."""
        n = _v.integer("n", n, 0)
        d = _v.integer("dim", dim, 1)
        _limits.guard_array("sample_vectors(n, dim)", n * d, "draw fewer or shorter vectors")
        root = root_seed(seed)
        code, vec, params = self.pack()
        out = np.empty((n, d), dtype=np.float64)
        if n:
            _fill_rows(code, vec, params, root, out, np.empty(noise_work_size(d), dtype=np.float64))
        return out

    # -- plain data ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain data, e.g. {"family": "stable", "alpha": 1.5, "beta": 0.0, "scale": 1.0, "vector": "iid"}."""
        d = {"family": self.family}
        values = {"alpha": self.shape, "tail_index": self.shape, "df": self.shape, "beta": self.beta,
                  "scale": self.scale}
        for k in _PARAM_NAMES[self.family]:
            d[k] = values[k]
        if self.family != "none":
            d["vector"] = self.vector
        return d

    @classmethod
    def from_dict(cls, d) -> "Noise":
        """Inverse of :meth:`to_dict` (missing optional keys take the constructor defaults)."""
        if not isinstance(d, dict) or "family" not in d:
            raise ValueError(f"noise = {d!r} is not allowed: must be a dict with a 'family' key")
        from . import user  # a user noise (clipsim.noise.custom), once its module is imported
        if user.lookup("noise", d["family"]) is not None and set(d) == {"family"}:
            return user.lookup("noise", d["family"])
        fam = _v.choice("family", d["family"], tuple(FAMILY_CODES))
        allowed = set(_PARAM_NAMES[fam]) | {"family"} | ({"vector"} if fam != "none" else set())
        for k in d:
            if k not in allowed:
                raise ValueError(f"noise key = {k!r} is not allowed for family {fam!r}: must be one of "
                                 + ", ".join(repr(a) for a in sorted(allowed)))
        kw = {k: v for k, v in d.items() if k != "family"}
        required = {"stable": "alpha", "pareto": "tail_index", "student_t": "df", "lomax": "tail_index"}.get(fam)
        if required and required not in kw:
            raise ValueError(f"{required} = None is not allowed: family {fam!r} requires it")
        return getattr(cls, fam)(**kw)

    # -- text -----------------------------------------------------------------------------------
    def __str__(self) -> str:
        args = []
        for k in _PARAM_NAMES[self.family]:
            v = self.to_dict()[k]
            args.append(f"{k}={_fmt_num(v)}")
        if self.family != "none":
            args.append(f"vector={self.vector!r}")
        return f"{self.family}({', '.join(args)})"

    def describe(self) -> str:
        """A one-line human description with the tail index."""
        s, a, b = _fmt_num(self.scale), _fmt_num(self.shape), _fmt_num(self.beta)
        law = {
            "none": "zero noise",
            "gaussian": f"Gaussian N(0, {s}^2)",
            "stable": (f"{'symmetric ' if self.beta == 0 else ''}alpha-stable (scipy S1) alpha={a}, "
                       f"beta={b}, scale={s}"),
            "pareto": f"symmetric Lomax/Pareto tail index {a}, scale={s}",
            "student_t": f"Student-t df={a}, scale={s}",
            "lomax": f"centred one-sided Lomax/Pareto tail index {a}, scale={s} (skewed)",
        }[self.family]
        if self.family == "none":
            return law
        vec = "i.i.d. coordinates" if self.vector == "iid" else "radial (uniform direction x |X|)"
        return f"{law}; {vec}; E|X|^p finite for p < {_fmt_num(self.tail_index)}"


def _even_norm_moment(noise, k, d):
    """E(sum_{i<d} X_i^2)^k for iid X_i, exact (finite moments): binomial recursion over coordinates."""
    ey = [noise.moment(2 * j) for j in range(k + 1)]  # E (X^2)^j
    m = [1.0] + [0.0] * k  # E S_0^j
    for _ in range(d):
        m = [sum(math.comb(j, i) * ey[i] * m[j - i] for i in range(j + 1)) for j in range(k + 1)]
    return m[k]


# ---------------------------------------------------------------------------------------------
# Monte-Carlo estimate of E||xi||^p
# ---------------------------------------------------------------------------------------------
class NormMomentEstimate(NamedTuple):
    """Monte-Carlo estimate of E||xi||^p with a normal-approximation CI.

    ``reliable`` is False when 2p >= tail index: then Var ||xi||^p = inf, the CLT does not apply and
    the interval is too narrow (the estimate is dominated by rare huge draws); do not use it as a
    tolerance there. When E||xi||^p = inf (p >= tail index) the estimate is exactly inf.
    """

    estimate: float
    lo: float
    hi: float
    stderr: float
    n: int
    reliable: bool


def estimate_norm_moment(noise, p, dim, n=200_000, seed=0, confidence=0.95) -> NormMomentEstimate:
    """Estimate E||xi||^p from n vectors (rows of ``noise.sample_vectors(n, dim, seed)``) with a CI."""
    from scipy.stats import norm as _norm

    if not isinstance(noise, Noise):
        raise ValueError(f"noise = {noise!r} is not allowed: must be a clipsim.noise.Noise")
    p = _v.real("p", p, -1.0, math.inf, lo_open=True, hi_open=True)
    d = _v.integer("dim", dim, 1)
    n = _v.integer("n", n, 2)
    conf = _v.real("confidence", confidence, 0.0, 1.0, lo_open=True, hi_open=True)
    root = root_seed(seed)
    if p > 0 and p >= noise.tail_index:
        return NormMomentEstimate(math.inf, math.inf, math.inf, math.inf, n, True)
    code, vec, params = noise.pack()
    norms = np.empty(n, dtype=np.float64)
    _row_norms(code, vec, params, root, d, norms, np.empty(noise_work_size(d), dtype=np.float64))
    with np.errstate(divide="ignore", over="ignore"):
        y = norms ** p
    est = float(np.mean(y))
    se = float(np.std(y, ddof=1) / math.sqrt(n))
    z = float(_norm.ppf(0.5 + 0.5 * conf))
    return NormMomentEstimate(est, est - z * se, est + z * se, se, n, bool(2 * p < noise.tail_index))


# Module-level constructors (the names used throughout clipsim and its docs).
stable = Noise.stable
pareto = Noise.pareto
student_t = Noise.student_t
lomax = Noise.lomax
gaussian = Noise.gaussian
none = Noise.none


# ------------------------------------------------------------------------------------------------
# User noise (clipsim.user): a @numba.njit fill(state, out) drawing from the path's stream
# ------------------------------------------------------------------------------------------------
USER_CODE = 99  # never a built-in family code; kernels specialised to the user's fill see it


@dataclass(frozen=True)
class UserNoise(Noise):
    """A user's noise sampler (build with :func:`custom`); mean zero is the user's responsibility."""

    fill: object = field(default=None, compare=False, repr=False)
    user_tail_index: float = math.inf

    def __post_init__(self):  # validated by custom()
        pass

    @property
    def code(self) -> int:
        return USER_CODE

    @property
    def vector_code(self) -> int:
        return IID

    def pack(self):
        return USER_CODE, IID, np.zeros(4, dtype=np.float64)

    @property
    def tail_index(self) -> float:
        return self.user_tail_index

    @property
    def mean(self) -> float:
        return 0.0

    def moment(self, p) -> float:
        raise ValueError(f"moment of the user noise {self.family!r} is not known in closed form: estimate it "
                         f"from sample_vectors")

    def norm_moment(self, p, dim) -> float:
        raise ValueError(f"norm_moment of the user noise {self.family!r} is not known in closed form: estimate "
                         f"it from sample_vectors")

    def sample(self, n, seed=0) -> np.ndarray:
        """n draws of the first coordinate, row i from stream (seed, i) (a Python loop: for tests)."""
        return self.sample_vectors(n, 1, seed)[:, 0]

    def sample_vectors(self, n, dim, seed=0) -> np.ndarray:
        """(n, dim) array; row i is the first draw of path i's stream (seed, i), as in the engine."""
        n, d = _v.integer("n", n, 0), _v.integer("dim", dim, 1)
        root, out, state = root_seed(seed), np.empty((n, d)), np.empty(4, dtype=np.uint64)
        for i in range(n):
            seed_state(root, np.uint64(i), state)
            self.fill(state, out[i])
        return out

    def to_dict(self) -> dict:
        return {"family": self.family}

    def __str__(self) -> str:
        return f"{self.family}(user)"

    def describe(self) -> str:
        return f"user noise {self.family!r}, tail index {self.user_tail_index:g}"


def custom(fill, *, name, tail_index=math.inf) -> UserNoise:
    """A user noise: ``fill(state, out)`` (``@numba.njit``) fills the d-vector ``out`` from the path's
    stream ``state`` with ``clipsim.user.uniform(state)`` / ``standard_normal(state)``.

    ``tail_index``: sup{p: E|X|^p < inf} (inf if all moments exist), used by checks. Registered under
    ``name``; kernels specialised to ``fill`` compile once per process (see :mod:`clipsim.user`).
    """
    from . import user

    if not hasattr(fill, "py_func"):
        raise ValueError(f"fill = {fill!r} is not allowed: must be a @numba.njit function fill(state, out)")
    if not isinstance(name, str) or not name or name in FAMILY_CODES:
        raise ValueError(f"name = {name!r} is not allowed: must be a new name (not a built-in family)")
    ti = _v.real("tail_index", tail_index, 0.0, math.inf, lo_open=True)
    user.trial_compile("fill", fill, "fill(state, out) (uint64 and float64 vectors)", (nbt.uint64[::1], _A1),
                       returns_number=False)
    return user.register("noise", name, UserNoise(name, "iid", 1.0, 0.0, 0.0, fill, ti), (fill,))
