"""Optimizer specs as frozen data: a rule is a chain of small stages (optax-style), packed for the kernel.

An optimizer maps the stochastic gradient g_t through a sequence of stages to an update u_t and ends
with a step ``descent(eta)``: w ← (1 - η_t λ_wd) w - η_t u_t (λ_wd = 0 unless ``weight_decay``).
``chain(*stages, batch=B)`` builds one; every named rule (``clipped_sgd``, ``clipped_momentum``, ...)
is a preset that returns such a chain, e.g.
``chain(clip_by_global_norm(1.0), sgd(eta=0.01))`` is ``clipped_sgd(eta=0.01, clip=1.0)``
(an :class:`Optimizer` inside ``chain`` contributes its stages). ``STAGES`` and ``PRESETS`` list them.

Stages (``clip_λ(u) = min(1, λ/‖u‖) u``; references in each constructor):

- ``clip_by_global_norm(λ, index_exponent=q)``: u ← clip_λ(u) (inside ``per_sample``: λ·a^q for
  micro-batch a = 1..A); ``clip_by_value(λ)``: u_i ← max(-λ, min(λ, u_i))
- ``clip_regularized(γ, δ)`` (δ-GClip): the step is scaled by min(1, max(δ, γ/‖u‖))
- ``clip_by_weight_norm(λ_wd)`` (SIBERT): u ← clip_{‖w‖ sqrt(2λ_wd/η_t)}(u)
- ``ema(β)``: m ← βm + (1-β)u, u ← m; ``heavy_ball(β)``: m ← βm + u, u ← m (m_0 = 0)
- ``scale_by_adagrad(b0, coordinate, delayed, eps, source)``: acc ← acc + ‖s‖² (per coordinate if
  ``coordinate``), s = u (``source="update"``) or the raw stochastic gradient (``"gradient"``),
  acc_0 = b0²; u ← u / acc^(1/2+eps), ``delayed``: the accumulator before adding s
- ``scale_by_adam(b1, b2, eps)``: m ← b1 m + (1-b1)u, v ← b2 v + (1-b2)u², u ← m̂/(sqrt(v̂) + eps),
  m̂ = m/(1-b1^t), v̂ = v/(1-b2^t)
- ``normalize()``: u ← u/‖u‖ (u ← 0 when ‖u‖ = 0); ``sign()``: u_i ← sign(u_i), sign(0) = 0
- ``weight_decay(λ_wd)``: decoupled decay in the step; ``descent(η)``: the final step
- ``per_sample(*inner, micro_batches=A)``: first stage only; the chain's ``batch`` B draws are split
  into A micro-batches, ``inner`` is applied to each micro-batch mean, and u is their average.
- ``user_stage(fn, ...)``: a user's ``@numba.njit`` function (see :func:`user_stage`).

Every scalar takes a number or a :class:`Schedule` over t = 1..T: ``polynomial(c, p)`` = c·t^(-p),
``horizon(c, a)`` = c·T^a (constant in t, prescribed from the horizon T as in the bounds), or
``prescribed(fn)`` (``fn(T) -> float`` or array of length T). ``batch`` B: g_t is the mean of B
stochastic gradients (the micro-batch means for ``per_sample``).

Packing (:meth:`Optimizer.pack`): integer stage codes, per-stage state offsets and one row of a
float64 schedule table per scalar, so one cached kernel walks any chain (no jitted callables as
arguments, which would recompile in every process).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _validate as V

ORDERS = ("clip_then_average", "heavy_ball", "momentum_then_clip")
_ORDER_CODE = {o: i for i, o in enumerate(ORDERS)}
ACCUMULATIONS = ("clip_each", "clip_once")


@dataclass(frozen=True)
class Schedule:
    """A step-size or threshold schedule over t = 1..T.

    kinds: ``constant`` (c), ``polynomial`` (c·t^(-p)), ``horizon`` (c·T^a), ``prescribed`` (fn(T)).
    """

    kind: str
    c: float = 1.0
    p: float = 0.0
    fn: Callable | None = field(default=None, compare=False)

    def values(self, T) -> np.ndarray:
        """The schedule at t = 1..T as a float64 array of length T."""
        t = np.arange(1, T + 1, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is inf, refused below by name
            if self.kind == "constant":
                out = np.full(T, self.c)
            elif self.kind == "polynomial":
                out = self.c * t ** (-self.p)
            elif self.kind == "horizon":
                out = np.full(T, self.c * np.power(np.float64(T), self.p))
        if self.kind == "prescribed":
            raw = self.fn(T)
            try:
                v = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"prescribed schedule returned {str(raw)[:60]!r} at T = {T}: must be a number or "
                                 f"{T} numbers") from None
            out = np.broadcast_to(v, (T,)).copy() if v.ndim == 0 else v
            if out.shape != (T,):
                raise ValueError(f"prescribed schedule returned shape {out.shape}: must be a number or shape ({T},)")
        if not np.all(np.isfinite(out)) or np.any(out < 0):
            bad = out[~(np.isfinite(out) & (out >= 0))][0]
            raise ValueError(f"schedule {self} gave {float(bad)!r} at T = {T}: values must be finite and >= 0")
        return out

    def to_dict(self):
        if self.kind == "prescribed":  # recorded for provenance; not rebuildable from data
            return {"kind": "prescribed", "fn": getattr(self.fn, "__qualname__", repr(self.fn))}
        return {"constant": {"kind": "constant", "c": self.c},
                "polynomial": {"kind": "polynomial", "c": self.c, "p": self.p},
                "horizon": {"kind": "horizon", "c": self.c, "a": self.p}}[self.kind]

    def __str__(self):
        return {"constant": f"{self.c:g}", "polynomial": f"{self.c:g}*t^-{self.p:g}",
                "horizon": f"{self.c:g}*T^{self.p:g}", "prescribed": "prescribed"}[self.kind]


def constant(c) -> Schedule:
    """c at every step."""
    return Schedule("constant", V.nonnegative("c", c))


def polynomial(c, p) -> Schedule:
    """c·t^(-p), t = 1..T."""
    return Schedule("polynomial", V.nonnegative("c", c), V.real("p", p))


def horizon(c, a) -> Schedule:
    """c·T^a at every step: a schedule prescribed by the horizon T (e.g. η = c T^(-α/(3α-2)))."""
    return Schedule("horizon", V.nonnegative("c", c), V.real("a", a))


def prescribed(fn) -> Schedule:
    """fn(T) -> a number or an array of length T."""
    if not callable(fn):
        raise ValueError(f"prescribed fn = {fn!r} is not allowed: must be callable as fn(T)")
    return Schedule("prescribed", fn=fn)


def schedule_from_dict(d) -> Schedule:
    """Inverse of :meth:`Schedule.to_dict`; a bare number is a constant."""
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return constant(d)
    if not isinstance(d, dict):
        raise ValueError(f"schedule = {V._fmt(d)} is not allowed: must be a number or a table with 'kind'")
    kind = V.choice("schedule kind", d.get("kind"), ("constant", "polynomial", "horizon"))
    keys = {"constant": {"kind", "c"}, "polynomial": {"kind", "c", "p"}, "horizon": {"kind", "c", "a"}}[kind]
    extra = set(d) - keys
    if extra:
        raise ValueError(f"schedule {kind}: unknown key {sorted(extra)[0]!r}: allowed keys are {', '.join(sorted(keys))}")
    if kind == "constant":
        return constant(d.get("c", 1.0))
    if kind == "polynomial":
        return polynomial(d.get("c", 1.0), d.get("p", 0.0))
    return horizon(d.get("c", 1.0), d.get("a", 0.0))


def _schedule(name, s, allow_none=False):
    if s is None and allow_none:
        return None
    if isinstance(s, Schedule):
        return s
    if isinstance(s, bool) or not isinstance(s, (int, float, np.floating, np.integer)):
        allowed = "a number >= 0, a Schedule" + (", or None (no clipping)" if allow_none else "")
        raise ValueError(f"{name} = {V._fmt(s)} is not allowed: must be {allowed}")
    if name == "clip":
        return Schedule("constant", V.positive(name, s))
    return Schedule("constant", V.nonnegative(name, s))




# ------------------------------------------------------------------------------------------------
# Stages
# ------------------------------------------------------------------------------------------------
(CLIP_NORM, CLIP_VALUE, CLIP_REG, CLIP_WNORM, EMA, HEAVY_BALL, ADAGRAD, ADAM, NORMALIZE, SIGN,
 WEIGHT_DECAY, DESCENT, PER_SAMPLE, USER) = range(14)
SOURCES = ("update", "gradient")

# kind -> (code, scalar parameters as (name, lo, hi, lo_open, hi_open), flags, state size(d, flags))
_OPEN, _CLOSED = True, False
_STAGE_DECL = {
    "clip_by_global_norm": (CLIP_NORM, (("clip", 0.0, math.inf, _OPEN, _OPEN),
                                        ("index_exponent", 0.0, 10.0, _CLOSED, _CLOSED)), (), lambda d, f: 0),
    "clip_by_value": (CLIP_VALUE, (("clip", 0.0, math.inf, _OPEN, _OPEN),), (), lambda d, f: 0),
    "clip_regularized": (CLIP_REG, (("gamma", 0.0, math.inf, _OPEN, _OPEN),
                                    ("delta", 0.0, 1.0, _OPEN, _CLOSED)), (), lambda d, f: 0),
    "clip_by_weight_norm": (CLIP_WNORM, (("weight_decay", 0.0, math.inf, _OPEN, _OPEN),), (), lambda d, f: 0),
    "ema": (EMA, (("beta", 0.0, 1.0, _CLOSED, _OPEN),), (), lambda d, f: d),
    "heavy_ball": (HEAVY_BALL, (("beta", 0.0, 1.0, _CLOSED, _OPEN),), (), lambda d, f: d),
    "scale_by_adagrad": (ADAGRAD, (("b0", 0.0, math.inf, _OPEN, _OPEN), ("eps", 0.0, 0.5, _CLOSED, _OPEN)),
                         ("coordinate", "delayed", "source"), lambda d, f: 2 * d if f["coordinate"] else 1),
    "scale_by_adam": (ADAM, (("b1", 0.0, 1.0, _CLOSED, _OPEN), ("b2", 0.0, 1.0, _CLOSED, _OPEN),
                             ("eps", 0.0, math.inf, _CLOSED, _OPEN)), (), lambda d, f: 2 * d),
    "normalize": (NORMALIZE, (), (), lambda d, f: 0),
    "sign": (SIGN, (), (), lambda d, f: 0),
    "weight_decay": (WEIGHT_DECAY, (("weight_decay", 0.0, math.inf, _CLOSED, _OPEN),), (), lambda d, f: 0),
    "descent": (DESCENT, (("eta", 0.0, math.inf, _CLOSED, _OPEN),), (), lambda d, f: 0),
    "per_sample": (PER_SAMPLE, (), ("micro_batches",), lambda d, f: 0),
}
_STATELESS_INNER = ("clip_by_global_norm", "clip_by_value", "normalize", "sign")


@dataclass(frozen=True)
class Stage:
    """One stage of a chain: ``kind`` plus its parameters (scalars as :class:`Schedule`)."""

    kind: str
    params: tuple = ()  # ((name, Schedule | bool | str | int | None), ...) in declared order
    inner: tuple = ()  # per_sample: the stages applied to each micro-batch

    def get(self, name, default=None):
        return dict(self.params).get(name, default)

    def to_dict(self):
        """Plain data (one stage table of a TOML chain); constants as bare numbers."""
        out = {"stage": self.kind}
        for k, v in self.params:
            if isinstance(v, Schedule):
                out[k] = v.c if v.kind == "constant" else v.to_dict()
            elif v is not None:
                out[k] = v
        if self.inner:
            out["stages"] = [s.to_dict() for s in self.inner]
        return out

    def __str__(self):
        args = [str(s) for s in self.inner]
        args += [f"{k}={v}" if not isinstance(v, Schedule) else f"{k}={v}" for k, v in self.params
                 if v is not None and not (k == "index_exponent" and v.c == 0.0 and v.kind == "constant")]
        return f"{self.kind}({', '.join(args)})"


def _scalar(kind, name, value, lo, hi, lo_open, hi_open):
    if isinstance(value, Schedule):
        return value
    allowed = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'} or a Schedule"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{kind}: {name} = {V._fmt(value)} is not allowed: must be {allowed}")
    return Schedule("constant", V.real(f"{kind}: {name}", value, lo, hi, lo_open=lo_open, hi_open=hi_open))


def _stage(kind, **values):
    code, scalars, flags, _ = _STAGE_DECL[kind]
    params = [(n, _scalar(kind, n, values[n], lo, hi, lo_open, hi_open)) for n, lo, hi, lo_open, hi_open in scalars]
    params += [(f, values[f]) for f in flags]
    return Stage(kind, tuple(params))


def _flag(name, v):
    if not isinstance(v, bool):
        raise ValueError(f"{name} = {V._fmt(v)} is not allowed: must be True or False")
    return v


def clip_by_global_norm(clip, *, index_exponent=0.0) -> Stage:
    """Clip the update to Euclidean norm λ: u ← min(1, λ/‖u‖) u (Zhang et al. 2020, arXiv 1912.03194)."""
    return _stage("clip_by_global_norm", clip=clip, index_exponent=index_exponent)


def clip_by_value(clip) -> Stage:
    """Clip every coordinate to [-λ, λ] (coordinate-wise clipping)."""
    return _stage("clip_by_value", clip=clip)


def clip_regularized(gamma=0.1, delta=1e-3) -> Stage:
    """δ-regularized clipping (Tucat & Mukherjee 2024, arXiv 2404.08624): step × min(1, max(δ, γ/‖u‖))."""
    return _stage("clip_regularized", gamma=gamma, delta=delta)


def clip_by_weight_norm(weight_decay) -> Stage:
    """SIBERT threshold (Li, Bhojanapalli et al. 2022, arXiv 2202.00980): u ← clip_{‖w‖ sqrt(2λ_wd/η)}(u)."""
    return _stage("clip_by_weight_norm", weight_decay=weight_decay)


def ema(beta) -> Stage:
    """Momentum as an exponential moving average, m ← βm + (1-β)u, u ← m (arXiv 2106.14343)."""
    return _stage("ema", beta=beta)


def heavy_ball(beta) -> Stage:
    """Heavy-ball momentum m ← βm + u, u ← m (Polyak 1964)."""
    return _stage("heavy_ball", beta=beta)


def scale_by_adagrad(b0=1.0, *, coordinate=False, delayed=False, eps=0.0, source="update") -> Stage:
    """AdaGrad scaling u ← u/acc^(1/2+eps), acc = b0² + Σ‖s‖² (norm or per coordinate).

    Li & Liu 2023 (arXiv 2307.13680); ``delayed`` and ``eps``: Li & Orabona 2020 (arXiv 2007.14294);
    ``source``: what is accumulated, the update u or the raw stochastic gradient."""
    return _stage("scale_by_adagrad", b0=b0, eps=eps, coordinate=_flag("coordinate", coordinate),
                  delayed=_flag("delayed", delayed), source=V.choice("source", source, SOURCES))


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8) -> Stage:
    """Adam scaling with bias correction (Kingma & Ba 2015, arXiv 1412.6980)."""
    return _stage("scale_by_adam", b1=b1, b2=b2, eps=eps)


def normalize() -> Stage:
    """Normalize the update to unit norm, u ← u/‖u‖ (u ← 0 when ‖u‖ = 0)."""
    return _stage("normalize")


def sign() -> Stage:
    """Coordinate-wise sign, sign(0) = 0 (Bernstein et al. 2018, arXiv 1802.04434)."""
    return _stage("sign")


def weight_decay(weight_decay) -> Stage:
    """Decoupled weight decay in the step: w ← (1 - η λ_wd) w - η u (Loshchilov & Hutter 2019, arXiv 1711.05101)."""
    return _stage("weight_decay", weight_decay=weight_decay)


def descent(eta) -> Stage:
    """The final step w ← w - η_t u (every chain ends with exactly one)."""
    return Stage("descent", (("eta", _schedule("eta", eta)),))


def per_sample(*inner, micro_batches=None) -> Stage:
    """Apply ``inner`` to each of A micro-batch means, then average (Nobile & Grohs 2026, arXiv 2605.02701).

    ``micro_batches`` A (default: the chain's batch, one sample each) must divide the chain's batch.
    ``inner`` may hold ``clip_by_global_norm``, ``clip_by_value``, ``normalize`` and ``sign``.
    """
    stages = tuple(_stages_of(inner, "per_sample"))
    for s in stages:
        if s.kind not in _STATELESS_INNER:
            raise ValueError(f"per_sample: stage {s.kind!r} is not allowed inside: must be one of "
                             f"{', '.join(_STATELESS_INNER)}")
    if micro_batches is not None:
        micro_batches = V.integer("micro_batches", micro_batches, 1, 1_000_000)
    return Stage("per_sample", (("micro_batches", micro_batches),), stages)


def user_stage(fn, *, name, params=None, state_size=0) -> Stage:
    """A user's stage: ``fn(t, u, w, params, state)`` (``@numba.njit``) transforms the update u in place.

    ``fn`` returns an int: 1 if it clipped at this step, 0 if it could have but did not (both count
    toward ``clip_fraction``), -1 if it is not a clipping operation. ``params``: {name: number or Schedule}, passed to ``fn`` in this order as a float64 array of their
    values at step t; ``state_size``: floats of per-path state (an int, or "d" for the dimension),
    zero at t = 1. One user stage function per chain; compiled once per process (:mod:`clipsim.user`).
    """
    from . import user

    if not hasattr(fn, "py_func"):
        raise ValueError(f"fn = {fn!r} is not allowed: must be a @numba.njit function fn(t, u, w, params, state)")
    if not isinstance(name, str) or not name or name in _STAGE_DECL:
        raise ValueError(f"name = {name!r} is not allowed: must be a new stage name")
    if state_size != "d":
        state_size = V.integer("state_size", state_size, 0, 1_000_000)
    from numba.core import types

    vec = types.float64[::1]
    user.trial_compile("fn", fn, "fn(t, u, w, params, state) -> 1, 0 or -1 (int64 t, float64 vectors)",
                       (types.int64, vec, vec, types.float64[:], vec), returns_number=True)
    user.register("stage", name, fn, (fn,))
    scalars = tuple((k, _scalar(name, k, v, -math.inf, math.inf, _OPEN, _OPEN)) for k, v in (params or {}).items())
    return Stage("user", (("name", name),) + scalars + (("state_size", state_size),))


def _stages_of(parts, where):
    for p in parts:
        if isinstance(p, Stage):
            yield p
        elif isinstance(p, Optimizer):
            yield from p.stages
        else:
            raise ValueError(f"{where}: {p!r} is not allowed: must be a Stage (e.g. clip_by_global_norm(1.0)) "
                             f"or an Optimizer")


# ------------------------------------------------------------------------------------------------
# Optimizers: chains of stages
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Optimizer:
    """A validated chain of stages; presets also keep their name and arguments (``preset``).

    ``eta`` is the step-size schedule, ``clip`` the norm-clipping threshold (None if not clipped),
    ``beta`` the momentum parameter; a preset's other arguments read as attributes (``opt.order``).
    """

    name: str
    stages: tuple
    batch: int = 1
    preset: tuple = ()

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        for k, v in object.__getattribute__(self, "preset"):
            if k == key:
                return v
        raise AttributeError(f"optimizer {object.__getattribute__(self, 'name')!r} has no attribute {key!r}")

    @property
    def eta(self) -> Schedule:
        return self.stages[-1].get("eta")

    @property
    def clip(self):
        if self.preset:
            return dict(self.preset).get("clip")
        for s in self._flat():
            if s.kind == "clip_by_global_norm":
                return s.get("clip")
        return None

    @property
    def beta(self):
        if "beta" in dict(self.preset):
            return dict(self.preset)["beta"]
        for s in self.stages:
            if s.kind in ("ema", "heavy_ball") and s.get("beta").kind == "constant":
                return s.get("beta").c
        return 0.0

    @property
    def has_momentum(self):
        return any(s.kind in ("ema", "heavy_ball") for s in self.stages)

    @property
    def user_stage(self):
        """The user stage function of this chain, or None."""
        from . import user

        names = [s.get("name") for s in self.stages if s.kind == "user"]
        return user.lookup("stage", names[0]) if names else None

    def _flat(self):
        for s in self.stages:
            yield from s.inner
            yield s

    def __str__(self):
        if self.name == "chain":
            return f"chain({', '.join(map(str, self.stages))}{f', batch={self.batch}' if self.batch > 1 else ''})"
        p = dict(self.preset)
        parts = [f"eta={self.eta}"]
        if "clip" in p:
            parts.append(f"clip={p['clip'] if p['clip'] is not None else 'none'}")
        if "beta" in p:
            parts.append(f"beta={p['beta']:g}")
        if self.batch > 1:
            parts.append(f"batch={self.batch}")
        label = self.name + (f"[{p['order']}]" if "order" in p else "")
        return f"{label}({', '.join(parts)})"

    def to_dict(self):
        """Plain data; :func:`from_dict` inverts it."""
        if self.name == "chain":
            out = {"name": "chain", "stages": [s.to_dict() for s in self.stages]}
            if self.batch > 1:
                out["batch"] = self.batch
            return out
        d = {"name": self.name, "eta": self.eta.to_dict()}
        for k, v in self.preset:
            if k == "clip":
                if v is not None:
                    d["clip"] = v.to_dict()
            elif k != "eta":
                d[k] = v
        return d

    def pack(self, T, d=1):
        """The stage program for horizon T and dimension d (see :class:`Program`); validates schedules."""
        return _pack(self, T, d)


def chain(*stages, batch=None) -> Optimizer:
    """An optimizer from stages applied in order to the stochastic gradient, ending with ``descent``.

    An :class:`Optimizer` among ``stages`` contributes its stages (so ``sgd(eta)`` ends a chain);
    ``batch`` defaults to theirs. ``per_sample`` may only come first.
    """
    flat = tuple(_stages_of(stages, "chain"))
    inherited = {p.batch for p in stages if isinstance(p, Optimizer)}
    if batch is None:
        if len(inherited) > 1:
            raise ValueError(f"chain: the optimizers given have batches {sorted(inherited)}: pass batch= explicitly")
        batch = inherited.pop() if inherited else 1
    batch = V.integer("batch", batch, 1, 1_000_000)
    if not flat or flat[-1].kind != "descent":
        raise ValueError("chain: the last stage must be descent(eta) (or an optimizer such as sgd(eta))")
    for k, s in enumerate(flat):
        if s.kind == "descent" and k != len(flat) - 1:
            raise ValueError(f"chain: descent is stage {k + 1} of {len(flat)}: it must be the last one")
        if s.kind == "per_sample" and k != 0:
            raise ValueError(f"chain: per_sample is stage {k + 1}: it must be the first one")
    users = {s.get("name") for s in flat if s.kind == "user"}
    if len(users) > 1:
        raise ValueError(f"chain: user stages {sorted(users)} are not allowed together: one user stage function per chain")
    if flat[0].kind == "per_sample":
        A = flat[0].get("micro_batches") or batch
        if batch % A:
            raise ValueError(f"micro_batches = {A} is not allowed: must divide batch = {batch}")
    return Optimizer("chain", flat, batch)


# ------------------------------------------------------------------------------------------------
# Packing: the stage program the kernel walks
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Program:
    """A packed chain for horizon T.

    ``meta`` int64[8]: stages, inner (per-sample) stages, micro-batches A (0: no per-sample loop),
    batch, state size per path, whether the raw gradient is kept, 0, 0.
    ``codes`` int64[n, 4]: code, first schedule row, flags, state offset. ``sched`` float64[rows, T]:
    every scalar of every stage at t = 1..T; row 0 is η. Inner stages come first.
    """

    meta: np.ndarray
    codes: np.ndarray
    sched: np.ndarray


def _check_domain(kind, name, values, lo, hi, lo_open, hi_open, sched):
    bad = (values <= lo) if lo_open else (values < lo)
    bad |= (values >= hi) if hi_open else (values > hi)
    if np.any(bad):
        v = float(values[bad][0])
        if name == "clip":
            raise ValueError(f"clip schedule {sched} reaches {v!r}: thresholds must be > 0")
        raise ValueError(f"{kind}: {name} schedule {sched} reaches {v!r}: must lie in "
                         f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")


def _pack(opt, T, d):
    stages = list(opt.stages)
    inner, A = [], 0
    if stages[0].kind == "per_sample":
        inner, A = list(stages[0].inner), stages[0].get("micro_batches") or opt.batch
        stages = stages[1:]
    rows, codes, off, raw = [np.ascontiguousarray(opt.eta.values(T))], [], 0, 0
    for s in inner + stages:
        if s.kind == "user":
            scal = [v for k, v in s.params if k not in ("name", "state_size")]
            size = d if s.get("state_size") == "d" else s.get("state_size")
            codes.append((USER, len(rows), len(scal) | size << 16, off))  # flags: params | state size << 16
            rows.extend(v.values(T) for v in scal)
            off += size
            continue
        code, scalars, flag_names, size = _STAGE_DECL[s.kind]
        first = 0 if s.kind == "descent" else len(rows)
        for n, lo, hi, lo_open, hi_open in scalars:
            sched = s.get(n)
            vals = rows[0] if s.kind == "descent" else sched.values(T)
            _check_domain(s.kind, n, vals, lo, hi, lo_open, hi_open, sched)
            if s.kind != "descent":
                rows.append(vals)
        f = {k: s.get(k) for k in flag_names}
        flags = 0
        if s.kind == "scale_by_adagrad":
            flags = int(f["coordinate"]) | int(f["delayed"]) << 1 | int(f["source"] == "gradient") << 2
            raw |= f["source"] == "gradient"
        codes.append((code, first, flags, off))
        off += size(d, f)
    meta = np.array([len(codes), len(inner), A, opt.batch, off, int(raw), 0, 0], dtype=np.int64)
    return Program(meta, np.array(codes, dtype=np.int64).reshape(-1, 4), np.ascontiguousarray(np.vstack(rows)))


# ------------------------------------------------------------------------------------------------
# Presets: the named rules, each a chain
# ------------------------------------------------------------------------------------------------
def _batch(batch):
    return V.integer("batch", batch, 1, 1_000_000)


def _preset(name, stages, batch, **args):
    """A chain under a rule's name; ``args`` (in to_dict order) are its constructor's arguments."""
    opt = chain(*stages, batch=batch)
    return Optimizer(name, opt.stages, opt.batch, tuple(args.items()) + (("batch", opt.batch),))


def _clip_stages(clip, **kw):
    return [] if clip is None else [clip_by_global_norm(clip, **kw)]


def sgd(eta, *, batch=1) -> Optimizer:
    """Plain SGD, w ← w - η g (unclipped baseline); as the last part of a chain it is the step."""
    return _preset("sgd", [descent(eta)], _batch(batch))


def clipped_sgd(eta, clip, *, batch=1) -> Optimizer:
    """Clipped SGD, w ← w - η clip_λ(g) (Zhang et al. 2020, arXiv 1912.03194; Li & Liu 2023, arXiv 2307.13680)."""
    eta, clip = _schedule("eta", eta), _schedule("clip", clip, True)
    return _preset("clipped_sgd", _clip_stages(clip) + [descent(eta)], _batch(batch), clip=clip)


def momentum(eta, beta, *, order="clip_then_average", batch=1) -> Optimizer:
    """Unclipped momentum SGD, m ← βm + (1-β)g (or heavy ball m ← βm + g), w ← w - ηm.

    ``order`` as in :func:`clipped_momentum` (without clipping the first and third coincide: the
    exponential moving average m ← βm + (1-β)g)."""
    o = clipped_momentum(eta, None, beta, order=order, batch=batch)
    return Optimizer("momentum", o.stages, o.batch, (("beta", o.beta), ("order", order), ("batch", o.batch)))


def clipped_momentum(eta, clip, beta, *, order="clip_then_average", batch=1) -> Optimizer:
    """Clipped momentum, m ← βm + (1-β) clip_λ(g), w ← w - ηm (and two other orders).

    ``order`` ∈ clip_then_average (Cutkosky & Mehta 2021, arXiv 2106.14343), heavy_ball,
    momentum_then_clip. The order is part of the rule's name (``str`` shows it)."""
    V.choice("order", order, ORDERS)
    beta = V.real("beta", beta, 0.0, 1.0, hi_open=True)
    eta, clip = _schedule("eta", eta), _schedule("clip", clip, True)
    avg = heavy_ball(beta) if order == "heavy_ball" else ema(beta)
    stages = [avg] + _clip_stages(clip) if order == "momentum_then_clip" else _clip_stages(clip) + [avg]
    return _preset("clipped_momentum", stages + [descent(eta)], _batch(batch), clip=clip, beta=beta, order=order)


def clipped_adagrad(eta, clip, b0=1.0, *, delayed=False, coordinate=False, eps=0.0, batch=1) -> Optimizer:
    """Clipped AdaGrad-Norm (clipped gradient in the accumulator; Li & Liu 2023, arXiv 2307.13680).

    ``delayed``: divide by the accumulator of steps s < t (Li & Orabona 2020, arXiv 2007.14294);
    ``coordinate``: per-coordinate accumulators; ``eps``: denominator acc^(1/2+eps), eps ∈ [0, 1/2).
    """
    for k, v in (("delayed", delayed), ("coordinate", coordinate)):
        _flag(k, v)
    eta, clip = _schedule("eta", eta), _schedule("clip", clip, True)
    b0, eps = V.positive("b0", b0), V.real("eps", eps, 0.0, 0.5, hi_open=True)
    stages = _clip_stages(clip) + [scale_by_adagrad(b0, coordinate=coordinate, delayed=delayed, eps=eps), descent(eta)]
    return _preset("clipped_adagrad", stages, _batch(batch), clip=clip, b0=b0, delayed=delayed,
                   coordinate=coordinate, eps=eps)


def normalized_momentum(eta, clip, beta, *, batch=1) -> Optimizer:
    """Normalized SGD with clipped momentum (Cutkosky & Mehta 2021, arXiv 2106.14343)."""
    beta = V.real("beta", beta, 0.0, 1.0, hi_open=True)
    eta, clip = _schedule("eta", eta), _schedule("clip", clip, True)
    stages = _clip_stages(clip) + [ema(beta), normalize(), descent(eta)]
    return _preset("normalized_momentum", stages, _batch(batch), clip=clip, beta=beta)


def delta_gclip(eta, gamma=0.1, delta=1e-3, *, batch=1) -> Optimizer:
    """δ-regularized GClip (Tucat & Mukherjee 2024, arXiv 2404.08624): h = η min(1, max(δ, γ/‖g‖))."""
    gamma, delta = V.positive("gamma", gamma), V.real("delta", delta, 0.0, 1.0, lo_open=True)
    return _preset("delta_gclip", [clip_regularized(gamma, delta), descent(_schedule("eta", eta))], _batch(batch),
                   gamma=gamma, delta=delta)


def ps_clip_sgd(eta, clip, batch, *, micro_batches=None, accumulation="clip_each",
                clip_index_exponent=0.0) -> Optimizer:
    """Per-sample / micro-batch clipped SGD (Nobile & Grohs 2026, arXiv 2605.02701).

    ``micro_batches`` A (default: one per sample, i.e. per-sample clipping) must divide ``batch``;
    ``accumulation``: ``clip_each`` (clip every micro-batch mean, then average) or ``clip_once``
    (average everything, clip once); micro-batch a uses λ·a^``clip_index_exponent``.
    """
    batch = _batch(batch)
    A = batch if micro_batches is None else V.integer("micro_batches", micro_batches, 1, batch)
    if batch % A:
        raise ValueError(f"micro_batches = {A} is not allowed: must divide batch = {batch}")
    V.choice("accumulation", accumulation, ACCUMULATIONS)
    q = V.real("clip_index_exponent", clip_index_exponent, 0.0, 10.0)
    eta, clip = _schedule("eta", eta), _schedule("clip", clip, True)
    if accumulation == "clip_each":
        stages = [per_sample(*_clip_stages(clip, index_exponent=q), micro_batches=A)]
    else:
        stages = [per_sample(micro_batches=A)] + _clip_stages(clip)
    out = _preset("ps_clip_sgd", stages + [descent(eta)], batch, clip=clip)
    return Optimizer(out.name, out.stages, batch, out.preset + (("micro_batches", A), ("accumulation", accumulation),
                                                                ("clip_index_exponent", q)))


def sibert(eta, weight_decay, *, batch=1) -> Optimizer:
    """SIBERT rule (Li, Bhojanapalli et al. 2022, arXiv 2202.00980): threshold ‖w‖ sqrt(2λ_wd/η)."""
    wd = V.positive("weight_decay", weight_decay)
    stages = [clip_by_weight_norm(wd), globals()["weight_decay"](wd), descent(_schedule("eta", eta))]
    out = _preset("sibert", stages, _batch(batch))
    return Optimizer(out.name, out.stages, out.batch, (("batch", out.batch), ("weight_decay", wd)))


def sign_sgd(eta, *, beta=0.0, batch=1) -> Optimizer:
    """sign-SGD, w ← w - η sign(g) (Bernstein et al. 2018, arXiv 1802.04434).

    With ``beta`` > 0 the sign of the momentum m ← βm + (1-β)g (signum)."""
    beta = V.real("beta", beta, 0.0, 1.0, hi_open=True)
    stages = ([ema(beta)] if beta > 0 else []) + [sign(), descent(_schedule("eta", eta))]
    return _preset("sign_sgd", stages, _batch(batch), beta=beta)


def majority_vote(eta, batch) -> Optimizer:
    """sign-SGD with majority vote over a batch, w ← w - η sign(Σ_k sign(g_k)) (arXiv 1802.04434)."""
    batch = _batch(batch)
    return _preset("majority_vote", [per_sample(sign()), sign(), descent(_schedule("eta", eta))], batch)


def normalized_sgd(eta, beta=0.0, *, batch=1) -> Optimizer:
    """Normalized SGD without clipping, m ← βm + (1-β)g, w ← w - η m/‖m‖ (arXiv 2410.13849).

    β = 0 normalizes g itself (Hübler, Fatkhullin & He 2025)."""
    beta = V.real("beta", beta, 0.0, 1.0, hi_open=True)
    stages = ([ema(beta)] if beta > 0 else []) + [normalize(), descent(_schedule("eta", eta))]
    return _preset("normalized_sgd", stages, _batch(batch), beta=beta)


def clipped_adam(eta, clip, b1=0.9, b2=0.999, eps=1e-8, *, batch=1) -> Optimizer:
    """Adam on clipped gradients, with bias correction (Chezhegov et al. 2024, arXiv 2406.04443)."""
    eta, clip = _schedule("eta", eta), _schedule("clip", clip, True)
    b1, b2 = V.real("b1", b1, 0.0, 1.0, hi_open=True), V.real("b2", b2, 0.0, 1.0, hi_open=True)
    eps = V.nonnegative("eps", eps)
    stages = _clip_stages(clip) + [scale_by_adam(b1, b2, eps), descent(eta)]
    return _preset("clipped_adam", stages, _batch(batch), clip=clip, b1=b1, b2=b2, eps=eps)


def adagrad_momentum(eta, beta, b0=1.0, *, eps=0.0, batch=1) -> Optimizer:
    """Delayed AdaGrad with momentum, w ← w - η m/(b0² + Σ_{s<t} ‖g_s‖²)^(1/2+eps) (arXiv 2007.14294).

    m ← βm + (1-β)g; raw (unclipped) gradients in the accumulator (Li & Orabona 2020)."""
    beta = V.real("beta", beta, 0.0, 1.0, hi_open=True)
    b0, eps = V.positive("b0", b0), V.real("eps", eps, 0.0, 0.5, hi_open=True)
    stages = [ema(beta), scale_by_adagrad(b0, delayed=True, eps=eps, source="gradient"), descent(_schedule("eta", eta))]
    return _preset("adagrad_momentum", stages, _batch(batch), beta=beta, b0=b0, eps=eps)


# ------------------------------------------------------------------------------------------------
# Catalogues and plain data
# ------------------------------------------------------------------------------------------------
#: stage name -> constructor (first docstring line: what it does)
STAGES = {"clip_by_global_norm": clip_by_global_norm, "clip_by_value": clip_by_value,
          "clip_regularized": clip_regularized, "clip_by_weight_norm": clip_by_weight_norm, "ema": ema,
          "heavy_ball": heavy_ball, "scale_by_adagrad": scale_by_adagrad, "scale_by_adam": scale_by_adam,
          "normalize": normalize, "sign": sign, "weight_decay": weight_decay, "descent": descent,
          "per_sample": per_sample}
#: preset name -> constructor (first docstring line: the rule)
PRESETS = {"sgd": sgd, "clipped_sgd": clipped_sgd, "momentum": momentum, "clipped_momentum": clipped_momentum,
           "clipped_adagrad": clipped_adagrad, "normalized_momentum": normalized_momentum,
           "delta_gclip": delta_gclip, "ps_clip_sgd": ps_clip_sgd, "sibert": sibert, "sign_sgd": sign_sgd,
           "majority_vote": majority_vote, "normalized_sgd": normalized_sgd, "clipped_adam": clipped_adam,
           "adagrad_momentum": adagrad_momentum}
NAMES = tuple(PRESETS) + ("chain",)
_STAGE_ALIASES = {"sgd": "descent"}  # {stage = "sgd", eta = ...} ends a TOML chain like sgd(eta) ends a Python one


def _call(where, ctor, d):
    params = inspect.signature(ctor).parameters
    for k in d:
        if k not in params or params[k].kind is inspect.Parameter.VAR_POSITIONAL:
            allowed = ", ".join(q for q, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL)
            raise ValueError(f"{where}: unknown key {k!r}: allowed keys are {allowed}")
    missing = [q for q, p in params.items() if p.default is inspect.Parameter.empty
               and p.kind is not inspect.Parameter.VAR_POSITIONAL and q not in d]
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}: required keys are {', '.join(missing)}")
    return ctor(**d)


def stage_from_dict(d) -> Stage:
    """A stage from plain data: {"stage": name, params...}; schedules as numbers or {kind = ...} tables."""
    if not isinstance(d, dict):
        raise ValueError(f"stage = {d!r} is not allowed: must be a table with a 'stage' key")
    d = dict(d)
    kind = d.pop("stage", None)
    kind = _STAGE_ALIASES.get(kind, kind)
    V.choice("stage", kind, tuple(STAGES) + tuple(_STAGE_ALIASES) + ("user",))
    for k, v in list(d.items()):
        if isinstance(v, dict) and k != "stages":
            d[k] = schedule_from_dict(v)
    if kind == "user":
        from . import user

        fn = user.lookup("stage", d.get("name"))
        if fn is None:
            raise ValueError(f"stage user: name = {d.get('name')!r} is not a registered user stage: import the "
                             f"module that defines it (a sweep: [sweep] allow_code = true, module = ...)")
        name, size = d.pop("name"), d.pop("state_size", 0)
        return user_stage(fn, name=name, params=d, state_size=size)
    if kind == "per_sample":
        inner = [stage_from_dict(s) for s in d.pop("stages", [])]
        return _call("stage per_sample", lambda micro_batches=None: per_sample(*inner, micro_batches=micro_batches), d)
    return _call(f"stage {kind}", STAGES[kind], d)


def from_dict(d) -> Optimizer:
    """Build an optimizer from plain data: a preset {"name": ..., "eta": ..., "clip": ..., rule params}
    or a chain {"stages": [{"stage": ..., ...}, ...], "batch": B} (``name = "chain"`` optional)."""
    d = dict(V.table("optimizer", d))
    if "stages" in d and d.get("name", "chain") == "chain":
        d.pop("name", None)
        stages = d.pop("stages")
        if not isinstance(stages, (list, tuple)) or not stages:
            raise ValueError(f"optimizer chain: stages = {stages!r} is not allowed: must be a non-empty list of stage tables")
        extra = set(d) - {"batch"}
        if extra:
            raise ValueError(f"optimizer chain: unknown key {sorted(extra)[0]!r}: allowed keys are stages, batch")
        return chain(*[stage_from_dict(s) for s in stages], batch=d.get("batch"))
    name = V.choice("optimizer", d.pop("name", None), tuple(PRESETS))
    ctor = PRESETS[name]
    if "clip" in inspect.signature(ctor).parameters:
        d.setdefault("clip", None)  # no "clip" key: no clipping (TOML has no null)
    if "eta" in d:
        d["eta"] = schedule_from_dict(d["eta"])
    if d.get("clip") is not None:
        d["clip"] = schedule_from_dict(d["clip"])
    if name == "ps_clip_sgd" and d.get("micro_batches") == d.get("batch"):
        d["micro_batches"] = None
    return _call(f"optimizer {name}", ctor, d)
