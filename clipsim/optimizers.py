"""Optimizer specs: exact update rules of clipped stochastic methods, as frozen data.

Every constructor validates once and returns an :class:`Optimizer`; the engine packs it into an
integer rule code plus parameter arrays. ``clip=None`` means no clipping (λ = ∞). ``eta`` and ``clip``
take a number (constant), or a :class:`Schedule`: ``polynomial(c, p)`` = c·t^(-p), ``horizon(c, a)``
= c·T^a (constant in t, prescribed from the horizon T as in the bounds), or ``prescribed(fn)``
(``fn(T) -> float`` or array of length T).

Update rules (t = 1..T, ``clip_λ(g) = min(1, λ/‖g‖) g``; references in each constructor):

- ``sgd`` / ``clipped_sgd``: w ← w - η_t clip_{λ_t}(g_t)
- ``momentum`` / ``clipped_momentum`` with ``order``:
  ``clip_then_average`` m ← βm + (1-β) clip(g), w ← w - ηm;
  ``heavy_ball`` m ← βm + clip(g), w ← w - ηm;
  ``momentum_then_clip`` m ← βm + (1-β) g, w ← w - η clip(m)
- ``clipped_adagrad``: acc ← acc + ‖c_t‖² (per coordinate if ``coordinate``), c_t = clip(g_t),
  w ← w - η c_t / acc^(1/2+ε), acc_0 = b0²; ``delayed`` divides by the accumulator before adding c_t
- ``normalized_momentum``: m ← βm + (1-β) clip_τ(g), w ← w - η m/‖m‖
- ``delta_gclip``: h = η min(1, max(δ, γ/‖g‖)), w ← w - h g
- ``ps_clip_sgd``: B samples in A micro-batches; ``clip_each``: ĝ = mean_a clip_{λ_a}(mean of micro-batch
  a) with λ_a = λ·a^q; ``clip_once``: ĝ = clip_λ(mean of all B); w ← w - η ĝ
- ``sibert``: λ_t = ‖w‖ sqrt(2 λ_wd/η), w ← (1 - η λ_wd) w - η clip_{λ_t}(g)

``batch`` (all rules): g_t is the mean of ``batch`` stochastic gradients.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _validate as V

SGD, MOMENTUM, ADAGRAD, NORMALIZED_MOMENTUM, DELTA_GCLIP, PS_CLIP, SIBERT = range(7)
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
        if self.kind == "constant":
            out = np.full(T, self.c)
        elif self.kind == "polynomial":
            out = self.c * t ** (-self.p)
        elif self.kind == "horizon":
            out = np.full(T, self.c * float(T) ** self.p)
        else:
            v = np.asarray(self.fn(T), dtype=np.float64)
            out = np.broadcast_to(v, (T,)).copy() if v.ndim == 0 else v
            if out.shape != (T,):
                raise ValueError(f"prescribed schedule returned shape {out.shape}: must be a number or shape ({T},)")
        if not np.all(np.isfinite(out)) or np.any(out < 0):
            bad = out[~(np.isfinite(out) & (out >= 0))][0]
            raise ValueError(f"schedule {self} gave {bad!r} at T = {T}: values must be finite and >= 0")
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
        raise ValueError(f"schedule = {d!r} is not allowed: must be a number or a table with 'kind'")
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
        raise ValueError(f"{name} = {s!r} is not allowed: must be {allowed}")
    if name == "clip":
        return Schedule("constant", V.positive(name, s))
    return Schedule("constant", V.nonnegative(name, s))


@dataclass(frozen=True)
class Optimizer:
    """A validated update rule. Build with the constructors below, not directly."""

    name: str
    rule: int
    eta: Schedule
    clip: Schedule | None = None
    beta: float = 0.0
    order: str = "clip_then_average"
    b0: float = 1.0
    delayed: bool = False
    coordinate: bool = False
    eps: float = 0.0
    gamma: float = 0.0
    delta: float = 0.0
    batch: int = 1
    micro_batches: int = 1
    accumulation: str = "clip_each"
    clip_index_exponent: float = 0.0
    weight_decay: float = 0.0

    def __str__(self):
        parts = [f"eta={self.eta}"]
        if self.rule != DELTA_GCLIP and self.rule != SIBERT:
            parts.append(f"clip={self.clip if self.clip is not None else 'none'}")
        if self.rule in (MOMENTUM, NORMALIZED_MOMENTUM):
            parts.append(f"beta={self.beta:g}")
        if self.batch > 1:
            parts.append(f"batch={self.batch}")
        label = self.name + (f"[{self.order}]" if self.rule == MOMENTUM else "")
        return f"{label}({', '.join(parts)})"

    def to_dict(self):
        """Plain data; :func:`from_dict` inverts it."""
        d = {"name": self.name, "eta": self.eta.to_dict()}
        if self.clip is not None:
            d["clip"] = self.clip.to_dict()
        for f in dataclasses.fields(self):
            if f.name in _FIELDS[self.name]:
                d[f.name] = getattr(self, f.name)
        return d

    def pack(self, T):
        """(rule, int params int64[4], float params float64[8], eta float64[T], clip float64[T])."""
        iparams = np.array([_ORDER_CODE[self.order], int(self.delayed), int(self.coordinate),
                            self.micro_batches if self.accumulation == "clip_each" else -self.micro_batches],
                           dtype=np.int64)
        fparams = np.array([self.beta, self.b0, self.eps, self.gamma, self.delta,
                            self.clip_index_exponent, self.weight_decay, float(self.batch)], dtype=np.float64)
        eta = self.eta.values(T)
        clip = np.full(T, np.inf) if self.clip is None else self.clip.values(T)
        if self.clip is not None and np.any(clip <= 0):
            raise ValueError(f"clip schedule {self.clip} reaches {clip.min()!r}: thresholds must be > 0")
        return self.rule, iparams, fparams, np.ascontiguousarray(eta), np.ascontiguousarray(clip)


_FIELDS = {
    "sgd": {"batch"}, "clipped_sgd": {"batch"},
    "momentum": {"beta", "order", "batch"}, "clipped_momentum": {"beta", "order", "batch"},
    "clipped_adagrad": {"b0", "delayed", "coordinate", "eps", "batch"},
    "normalized_momentum": {"beta", "batch"},
    "delta_gclip": {"gamma", "delta", "batch"},
    "ps_clip_sgd": {"batch", "micro_batches", "accumulation", "clip_index_exponent"},
    "sibert": {"weight_decay", "batch"},
}


def _batch(batch):
    return V.integer("batch", batch, 1, 1_000_000)


def sgd(eta, *, batch=1) -> Optimizer:
    """Plain SGD, w ← w - η g (unclipped baseline)."""
    return Optimizer("sgd", SGD, _schedule("eta", eta), None, batch=_batch(batch))


def clipped_sgd(eta, clip, *, batch=1) -> Optimizer:
    """Clipped SGD, w ← w - η clip_λ(g) (Zhang et al. 2020, arXiv 1912.03194; Li & Liu 2023, arXiv 2307.13680)."""
    return Optimizer("clipped_sgd", SGD, _schedule("eta", eta), _schedule("clip", clip, True), batch=_batch(batch))


def momentum(eta, beta, *, order="clip_then_average", batch=1) -> Optimizer:
    """Unclipped momentum SGD; ``order`` as in :func:`clipped_momentum` (without clipping the first and
    third coincide: the exponential moving average m ← βm + (1-β)g)."""
    o = clipped_momentum(eta, None, beta, order=order, batch=batch)
    return Optimizer("momentum", MOMENTUM, o.eta, None, beta=o.beta, order=o.order, batch=o.batch)


def clipped_momentum(eta, clip, beta, *, order="clip_then_average", batch=1) -> Optimizer:
    """Clipped momentum; ``order`` ∈ clip_then_average (Cutkosky & Mehta 2021, arXiv 2106.14343),
    heavy_ball, momentum_then_clip. The order is part of the rule's name (``str`` shows it)."""
    V.choice("order", order, ORDERS)
    beta = V.real("beta", beta, 0.0, 1.0, hi_open=True)
    return Optimizer("clipped_momentum", MOMENTUM, _schedule("eta", eta), _schedule("clip", clip, True),
                     beta=beta, order=order, batch=_batch(batch))


def clipped_adagrad(eta, clip, b0=1.0, *, delayed=False, coordinate=False, eps=0.0, batch=1) -> Optimizer:
    """Clipped AdaGrad-Norm (clipped gradient in the accumulator; Li & Liu 2023, arXiv 2307.13680).

    ``delayed``: divide by the accumulator of steps s < t (Li & Orabona 2020, arXiv 2007.14294);
    ``coordinate``: per-coordinate accumulators; ``eps``: denominator acc^(1/2+eps), eps ∈ [0, 1/2).
    """
    for k, v in (("delayed", delayed), ("coordinate", coordinate)):
        if not isinstance(v, bool):
            raise ValueError(f"{k} = {v!r} is not allowed: must be True or False")
    return Optimizer("clipped_adagrad", ADAGRAD, _schedule("eta", eta), _schedule("clip", clip, True),
                     b0=V.positive("b0", b0), delayed=delayed, coordinate=coordinate,
                     eps=V.real("eps", eps, 0.0, 0.5, hi_open=True), batch=_batch(batch))


def normalized_momentum(eta, clip, beta, *, batch=1) -> Optimizer:
    """Normalized SGD with clipped momentum (Cutkosky & Mehta 2021, arXiv 2106.14343)."""
    return Optimizer("normalized_momentum", NORMALIZED_MOMENTUM, _schedule("eta", eta),
                     _schedule("clip", clip, True), beta=V.real("beta", beta, 0.0, 1.0, hi_open=True),
                     batch=_batch(batch))


def delta_gclip(eta, gamma=0.1, delta=1e-3, *, batch=1) -> Optimizer:
    """δ-regularized GClip (Tucat & Mukherjee 2024, arXiv 2404.08624): h = η min(1, max(δ, γ/‖g‖))."""
    return Optimizer("delta_gclip", DELTA_GCLIP, _schedule("eta", eta), None,
                     gamma=V.positive("gamma", gamma), delta=V.real("delta", delta, 0.0, 1.0, lo_open=True),
                     batch=_batch(batch))


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
    return Optimizer("ps_clip_sgd", PS_CLIP, _schedule("eta", eta), _schedule("clip", clip, True), batch=batch,
                     micro_batches=A, accumulation=accumulation,
                     clip_index_exponent=V.real("clip_index_exponent", clip_index_exponent, 0.0, 10.0))


def sibert(eta, weight_decay, *, batch=1) -> Optimizer:
    """SIBERT rule (Li, Bhojanapalli et al. 2022, arXiv 2202.00980): threshold ‖w‖ sqrt(2λ_wd/η)."""
    return Optimizer("sibert", SIBERT, _schedule("eta", eta), None,
                     weight_decay=V.positive("weight_decay", weight_decay), batch=_batch(batch))


_CONSTRUCTORS = {"sgd": sgd, "clipped_sgd": clipped_sgd, "momentum": momentum,
                 "clipped_momentum": clipped_momentum, "clipped_adagrad": clipped_adagrad,
                 "normalized_momentum": normalized_momentum, "delta_gclip": delta_gclip,
                 "ps_clip_sgd": ps_clip_sgd, "sibert": sibert}
NAMES = tuple(_CONSTRUCTORS)


def from_dict(d) -> Optimizer:
    """Build an optimizer from plain data: {"name": ..., "eta": ..., "clip": ..., rule params}."""
    d = dict(V.table("optimizer", d))
    name = V.choice("optimizer", d.pop("name", None), NAMES)
    ctor = _CONSTRUCTORS[name]
    params = inspect.signature(ctor).parameters
    if "clip" in params:
        d.setdefault("clip", None)  # no "clip" key: no clipping (TOML has no null)
    for k in d:
        if k not in params:
            raise ValueError(f"optimizer {name}: unknown key {k!r}: allowed keys are {', '.join(params)}")
    for k, p in params.items():
        if p.default is inspect.Parameter.empty and k not in d:
            raise ValueError(f"optimizer {name}: missing key {k!r}: required keys are "
                             f"{', '.join(q for q, r in params.items() if r.default is inspect.Parameter.empty)}")
    if "eta" in d:
        d["eta"] = schedule_from_dict(d["eta"])
    if d.get("clip") is not None:
        d["clip"] = schedule_from_dict(d["clip"])
    if name == "ps_clip_sgd" and d.get("micro_batches") == d.get("batch"):
        d["micro_batches"] = None
    return ctor(**d)
