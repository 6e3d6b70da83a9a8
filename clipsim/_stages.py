"""Kernel side of the optimizer stages: one small jitted function per stage, walked by integer code.

A step holds the update ``u`` (float64[d]) and a *pending* transformation ``pend`` (float64[4]:
multiplier, scalar divisor, offset of a per-coordinate divisor in the stage state or -1, decoupled
weight decay). Scalings that the old fused rules applied inside the step (δ-GClip's factor, AdaGrad's
and normalization's divisors, SIBERT's decay) stay pending until the step, so a preset computes
w ← (1 - ηλ) w - ((η·mul)·u)/div in exactly the order, and with exactly the rounding, of the fused
rule it replaces. A stage that reads u first applies what is pending (:func:`materialize`).

Layout (see ``optimizers.Program``): ``codes[k] = (code, first schedule row, flags, state offset)``;
``sched[row, t - 1]`` is a stage scalar at step t; ``st`` is the path's stage state.
"""
import math
import types

import numpy as np
from numba import njit
from numba.core import types as nbt

from ._first_class import first_class

from .optimizers import (ADAGRAD, ADAM, CLIP_NORM, CLIP_REG, CLIP_VALUE, CLIP_WNORM, DESCENT, EMA, HEAVY_BALL,
                         NORMALIZE, SIGN, WEIGHT_DECAY)

_MUL, _DIV, _VEC, _DECAY = 0, 1, 2, 3


@njit(cache=True)
def _scaled_norm(v):
    """‖v‖ as max|v_i| · ‖v / max|v_i|‖: finite when the sum of squares overflows but v is finite."""
    m = 0.0
    for i in range(v.shape[0]):
        m = max(m, abs(v[i]))
    if not (m > 0.0 and m < math.inf):  # 0, or an infinite component
        return m
    s = 0.0
    for i in range(v.shape[0]):
        x = v[i] / m
        s += x * x
    return m * math.sqrt(s)


@njit(cache=True)
def norm(v):
    """‖v‖: the plain sum of squares (the bits of every finite case), rescaled only when it overflows
    (a vector of norm above ~1e154, e.g. under noise of scale 1e200, is not infinitely long)."""
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i] * v[i]
    if s == math.inf:
        return _scaled_norm(v)
    return math.sqrt(s)


@njit(cache=True)
def clip(v, lam):
    """Clip ``v`` in place to norm ``lam``; return 1 if it was clipped, else 0."""
    nrm = norm(v)
    if nrm > lam:
        f = lam / nrm
        for i in range(v.shape[0]):
            v[i] *= f
        return 1
    return 0


@njit(cache=True, inline="always")
def reset(pend):
    pend[_MUL] = 1.0
    pend[_DIV] = 1.0
    pend[_VEC] = -1.0
    pend[_DECAY] = 0.0


@njit(cache=True, inline="always")
def materialize(u, st, pend):
    """Apply the pending multiplier and divisors to u (the decay stays for the step)."""
    mul, div, vo = pend[_MUL], pend[_DIV], int(pend[_VEC])
    if mul == 1.0 and div == 1.0 and vo < 0:
        return
    for i in range(u.shape[0]):
        u[i] = (mul * u[i]) / (st[vo + i] if vo >= 0 else div)
    pend[_MUL] = 1.0
    pend[_DIV] = 1.0
    pend[_VEC] = -1.0


@njit(cache=True, inline="always")
def descend(w, u, h, st, pend):
    """The step w ← (1 - hλ) w - ((h·mul)·u)/div (fast paths for what is not pending)."""
    d = w.shape[0]
    hm = h * pend[_MUL]
    div, vo, decay = pend[_DIV], int(pend[_VEC]), pend[_DECAY]
    if decay != 0.0:
        keep = 1.0 - h * decay
        for i in range(d):
            w[i] = keep * w[i] - hm * u[i] / (st[vo + i] if vo >= 0 else div)
    elif vo >= 0:
        for i in range(d):
            w[i] -= hm * u[i] / st[vo + i]
    elif div != 1.0:
        for i in range(d):
            w[i] -= hm * u[i] / div
    else:
        for i in range(d):
            w[i] -= hm * u[i]


@njit(cache=True)
def init_state(codes, sched, st, d):
    """Stage states at t = 1: momenta and Adam moments 0, AdaGrad accumulators b0²."""
    for i in range(st.shape[0]):
        st[i] = 0.0
    for k in range(codes.shape[0]):
        if codes[k, 0] == ADAGRAD:
            b0 = sched[codes[k, 1], 0]
            for i in range(d if codes[k, 2] & 1 else 1):
                st[codes[k, 3] + i] = b0 * b0


# ---- the stages -------------------------------------------------------------------------------
@njit(cache=True)
def _clip_norm(u, sched, r, t, a, cnt):
    lam = sched[r, t - 1]
    q = sched[r + 1, t - 1]
    if a > 0 or q != 0.0:
        lam = lam * (a + 1.0) ** q
    cnt[0] += clip(u, lam)
    cnt[1] += 1


@njit(cache=True)
def _clip_value(u, sched, r, t, cnt):
    lam = sched[r, t - 1]
    hit = 0
    for i in range(u.shape[0]):
        if u[i] > lam:
            u[i] = lam
            hit = 1
        elif u[i] < -lam:
            u[i] = -lam
            hit = 1
    cnt[0] += hit
    cnt[1] += 1


@njit(cache=True)
def _clip_regularized(u, sched, r, t, cnt, pend):
    gamma, delta = sched[r, t - 1], sched[r + 1, t - 1]
    nrm = norm(u)
    f = 1.0
    if nrm > 0.0 and gamma / nrm < 1.0:
        f = max(delta, gamma / nrm)
        cnt[0] += 1
    cnt[1] += 1
    pend[_MUL] *= f


@njit(cache=True)
def _clip_by_weight_norm(u, w, sched, r, t, cnt):
    wd, h = sched[r, t - 1], sched[0, t - 1]
    thr = norm(w) * math.sqrt(2.0 * wd / h) if h > 0.0 else np.inf
    cnt[0] += clip(u, thr)
    cnt[1] += 1


@njit(cache=True)
def _momentum(u, st, off, beta, c):
    """m ← βm + c·u, u ← m (c = 1 - β: moving average; c = 1: heavy ball)."""
    if c == 1.0:
        for i in range(u.shape[0]):
            st[off + i] = beta * st[off + i] + u[i]
            u[i] = st[off + i]
    else:
        for i in range(u.shape[0]):
            st[off + i] = beta * st[off + i] + (1.0 - beta) * u[i]
            u[i] = st[off + i]


@njit(cache=True)
def _adagrad(u, graw, st, off, flags, apow, pend):
    """acc ← acc + s² (s = u or the raw gradient); the division by acc^apow stays pending."""
    d = u.shape[0]
    s = graw if flags & 4 else u
    delayed = (flags & 2) != 0
    if flags & 1:  # per coordinate: acc at [off, off+d), divisors at [off+d, off+2d)
        for i in range(d):
            if delayed:
                st[off + d + i] = st[off + i] ** apow
                st[off + i] += s[i] * s[i]
            else:
                st[off + i] += s[i] * s[i]
                st[off + d + i] = st[off + i] ** apow
        pend[_VEC] = off + d
        return
    q = 0.0
    for i in range(d):
        q += s[i] * s[i]
    if delayed:
        den = st[off] ** apow
        st[off] += q
    else:
        st[off] += q
        den = st[off] ** apow
    pend[_DIV] = den


@njit(cache=True)
def _adam(u, st, off, b1, b2, eps, t):
    d = u.shape[0]
    c1 = 1.0 - b1 ** t
    c2 = 1.0 - b2 ** t
    for i in range(d):
        st[off + i] = b1 * st[off + i] + (1.0 - b1) * u[i]
        st[off + d + i] = b2 * st[off + d + i] + (1.0 - b2) * u[i] * u[i]
        u[i] = (st[off + i] / c1) / (math.sqrt(st[off + d + i] / c2) + eps)


@njit(cache=True)
def _normalize(u, pend):
    nm = norm(u)
    if nm > 0.0:
        pend[_DIV] = nm
    else:
        for i in range(u.shape[0]):
            u[i] = 0.0


@njit(cache=True)
def _sign(u):
    for i in range(u.shape[0]):
        if u[i] > 0.0:
            u[i] = 1.0
        elif u[i] < 0.0:
            u[i] = -1.0
        elif u[i] == 0.0:
            u[i] = 0.0


@njit(cache=True, inline="always")
def walk(codes, sched, k0, k1, t, a, w, graw, u, st, cnt, pend):
    """Apply stages k0..k1-1 to u at step t (micro-batch index a; 0 outside ``per_sample``)."""
    for k in range(k0, k1):
        code, r, flags, off = codes[k, 0], codes[k, 1], codes[k, 2], codes[k, 3]
        if code == WEIGHT_DECAY:
            pend[_DECAY] = sched[r, t - 1]
            continue
        materialize(u, st, pend)
        if code == CLIP_NORM:
            _clip_norm(u, sched, r, t, a, cnt)
        elif code == EMA:
            _momentum(u, st, off, sched[r, t - 1], -1.0)
        elif code == HEAVY_BALL:
            _momentum(u, st, off, sched[r, t - 1], 1.0)
        elif code == ADAGRAD:
            _adagrad(u, graw, st, off, flags, 0.5 + sched[r + 1, t - 1], pend)
        elif code == NORMALIZE:
            _normalize(u, pend)
        elif code == CLIP_REG:
            _clip_regularized(u, sched, r, t, cnt, pend)
        elif code == CLIP_WNORM:
            _clip_by_weight_norm(u, w, sched, r, t, cnt)
        elif code == CLIP_VALUE:
            _clip_value(u, sched, r, t, cnt)
        elif code == SIGN:
            _sign(u)
        elif code == ADAM:
            _adam(u, st, off, sched[r, t - 1], sched[r + 1, t - 1], sched[r + 2, t - 1], t)


# ---- the walk a configuration runs: only its own stages compiled ------------------------------
_A1 = nbt.float64[::1]
#: the signature of a walk: (codes, sched, k0, k1, t, a, w, graw, u, st, cnt, pend)
WALK_SIG = nbt.none(nbt.int64[:, ::1], nbt.float64[:, ::1], nbt.int64, nbt.int64, nbt.int64, nbt.int64, _A1, _A1,
                    _A1, _A1, nbt.int64[::1], _A1)
#: the stage functions ``walk`` calls, by the codes that call them
_CALLS = {"_clip_norm": (CLIP_NORM,), "_momentum": (EMA, HEAVY_BALL), "_adagrad": (ADAGRAD,),
          "_normalize": (NORMALIZE,), "_clip_regularized": (CLIP_REG,), "_clip_by_weight_norm": (CLIP_WNORM,),
          "_clip_value": (CLIP_VALUE,), "_sign": (SIGN,), "_adam": (ADAM,)}
_NAMES = {WEIGHT_DECAY: "weight_decay", CLIP_NORM: "clip_norm", EMA: "ema", HEAVY_BALL: "heavy_ball",
          ADAGRAD: "adagrad", NORMALIZE: "normalize", CLIP_REG: "clip_reg", CLIP_WNORM: "clip_wnorm",
          CLIP_VALUE: "clip_value", SIGN: "sign", ADAM: "adam"}


# Stand-ins for the stages a walk does not run (its codes never reach them), one per arity.
@njit(inline="always")
def _absent1(a0):
    pass


@njit(inline="always")
def _absent2(a0, a1):
    pass


@njit(inline="always")
def _absent5(a0, a1, a2, a3, a4):
    pass


@njit(inline="always")
def _absent6(a0, a1, a2, a3, a4, a5):
    pass


@njit(inline="always")
def _absent7(a0, a1, a2, a3, a4, a5, a6):
    pass


_ABSENT = {1: _absent1, 2: _absent2, 5: _absent5, 6: _absent6, 7: _absent7}
_WALKS = {}


def walk_for(codes):
    """The stage walk of a program whose stage codes are ``codes[:, 0]``, as a first-class function.

    A clone of :func:`walk` (same bytecode, so bitwise the same arithmetic) in which the stage functions
    the program does not use are stand-ins that are never reached: a process compiles only the stages
    it runs, the clone is cached on disk under its own name (``walk__clip_norm``...), and the cached step
    loop that receives it serves every chain."""
    used = tuple(sorted({int(c) for c in np.asarray(codes)[:, 0]} - {DESCENT}))
    if used not in _WALKS:
        unknown = [c for c in used if c not in _NAMES]
        if unknown:
            raise ValueError(f"stage code {unknown[0]} is not allowed here: a built-in walk runs codes {sorted(_NAMES)}")
        g = dict(globals())
        for name, calls in _CALLS.items():
            if not set(calls) & set(used):
                g[name] = _ABSENT[globals()[name].py_func.__code__.co_argcount]
        py = walk.py_func
        fn = types.FunctionType(py.__code__, g, "walk", py.__defaults__, py.__closure__)
        fn.__qualname__ = "walk__" + "_".join(_NAMES[c] for c in used) if used else "walk__none"
        _WALKS[used] = first_class(njit(cache=True)(fn), WALK_SIG)
    return _WALKS[used]
