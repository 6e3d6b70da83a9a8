"""The ``Bound`` record: a published (or derived) bound as frozen data plus numeric/asymptotic views.

A bound states ``quantity <= expr`` (``>=`` for ``kind="lower_bound"``), with probability ≥ 1-δ for
``kind="high_probability"``. Absolute constants the sources do not give are hidden-constant symbols
(``C_*``) that callers must supply (e.g. fitted on calibration cells); they are never defaulted.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy as sp

from . import symbols as S
from .asymptotics import SignOracle, leading

__all__ = ["Bound", "Reference", "KINDS", "STATUSES", "QUANTITIES"]

KINDS = ("expectation", "high_probability", "generalization", "lower_bound", "lemma")

#: Status tags (docs/theory.md). When the card lists several tags for one item the registry uses the
#: weakest (order V > 2nd > R > D) and keeps the full text in ``status_note``.
STATUSES = {
    "V": "read in the paper or its official code",
    "2nd": "read in a third-party restatement of the paper",
    "R": "standard in this literature, recalled, not re-read in the paper",
    "D": "derived here (exponent balancing, checked with SymPy)",
    "U": "user-supplied (a user's own bound: clipsim checks it, it does not vouch for it)",
}

#: quantity -> LaTeX of the left-hand side (engine metric names where they exist).
QUANTITIES: dict[str, str] = {
    "avg_grad_sq": r"\frac{1}{T}\sum_{t=1}^{T}\|\nabla F(w_t)\|^2",
    "avg_grad_norm": r"\frac{1}{T}\sum_{t=1}^{T}\|\nabla F(w_t)\|",
    "min_grad_sq": r"\min_{t\le T}\|\nabla F(w_t)\|^2",
    "final_gap": r"F(w_T) - F^*",
    "gen_gap": r"F(w) - F_S(w)",
    "grad_deviation": r"\sup_{\|w\|\le R}\|\nabla F(w) - \nabla F_S(w)\|",
    "oracle_complexity": r"\#\{\text{oracle calls to reach } \|\nabla F\|\le\varepsilon\}",
    "clip_bias": r"\|\mathbb{E}\,\mathrm{clip}_{\lambda}(X) - x\|",
    "clip_second_moment": r"\mathbb{E}\|\mathrm{clip}_{\lambda}(X) - x\|^2",
    "tail_probability": r"\mathbb{P}(\|\nabla F(w_t)\| > \varepsilon)",
    "stability": r"\varepsilon_{\mathrm{stab}}",
    "loss": r"\mathcal{L}_t",
    "distance": r"\|w_t - w_1\|",
}

_ARXIV = re.compile(r"^\d{4}\.\d{4,5}$")


@dataclass(frozen=True)
class Reference:
    """Where a bound comes from: ``paper`` (authors, year), ``arxiv`` id, ``theorem`` if known."""

    paper: str
    arxiv: str | None = None
    theorem: str | None = None
    venue: str | None = None
    note: str | None = None

    def __post_init__(self):
        if self.arxiv is not None and not _ARXIV.match(self.arxiv):
            raise ValueError(f"Reference.arxiv: {self.arxiv!r} is not an arXiv id like 2307.13680")

    def __str__(self) -> str:
        parts = [self.paper]
        if self.arxiv:
            parts.append(f"arXiv:{self.arxiv}")
        if self.venue:
            parts.append(self.venue)
        if self.theorem:
            parts.append(self.theorem)
        return ", ".join(parts)


def _freeze_map(m: Mapping | None) -> Mapping:
    return MappingProxyType(dict(m or {}))


def _as_number(v: Any) -> sp.Expr:
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, float):
        return sp.Rational(repr(v)) if math.isfinite(v) else sp.Float(v)
    return sp.sympify(v)


def _in_domain(bound_name: str, sym: sp.Symbol, value) -> np.ndarray:
    """``value`` as a float array, refused (ValueError) if not real, nan, or outside ``sym``'s sign domain."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        a = None
    bad = a is None or np.any(np.isnan(a)) or (sym.is_positive and np.any(a <= 0)) or \
        (sym.is_nonnegative and np.any(a < 0))
    if bad:
        dom = "> 0" if sym.is_positive else (">= 0" if sym.is_nonnegative else "a real number")
        raise ValueError(f"{bound_name}: {sym.name} = {value!r} is not allowed: must be {dom}")
    return a


@dataclass(frozen=True, eq=True)
class Bound:
    """One bound: ``quantity (<= or >=) expr``; see the module docstring and docs/theory.md §4."""

    name: str
    expr: sp.Expr
    quantity: str
    kind: str
    status: str
    reference: Reference
    delta: sp.Symbol | None = None
    hidden_constants: tuple[sp.Symbol, ...] = ()
    assumptions: tuple[str, ...] = ()
    valid_when: tuple[sp.Basic, ...] = ()
    schedule: Mapping[str, sp.Expr] = field(default_factory=dict)
    defaults: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    status_note: str = ""
    #: the variable the rate is stated in (T for most; n, N, t, eps, lam ... otherwise)
    rate_var: str = "T"
    lhs: str | None = None
    #: proved only for noise with a symmetric law: ``clipsim.check`` refuses asymmetric noise
    symmetric_noise: bool = False
    #: the update rules (``clipsim.optimizers`` preset names) the theorem is about; empty: not tied to one
    #: rule (lower bounds, lemmas, generalization, a user's bound). ``clipsim.check`` on a run of another
    #: optimizer is "inconclusive" (the theorem says nothing about it), with the evidence alone reported.
    algorithms: tuple = ()

    # ---------------------------------------------------------------- validation
    def __post_init__(self):
        def bad(fld, val, why):
            raise ValueError(f"Bound {self.name!r}: {fld}={val!r} {why}")

        if not isinstance(self.name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.name):
            bad("name", self.name, "must be an identifier")
        expr = sp.sympify(self.expr)
        object.__setattr__(self, "expr", expr)
        if self.kind not in KINDS:
            bad("kind", self.kind, f"must be one of {', '.join(KINDS)}")
        if self.status not in STATUSES:
            bad("status", self.status, f"must be one of {', '.join(STATUSES)}")
        if self.quantity not in QUANTITIES:
            bad("quantity", self.quantity, f"must be one of {', '.join(QUANTITIES)}")
        if not isinstance(self.reference, Reference):
            bad("reference", self.reference, "must be a theory.Reference")
        free = expr.free_symbols
        if self.delta is not None:
            if not isinstance(self.delta, sp.Symbol) or self.delta not in free:
                bad("delta", self.delta, "must be a Symbol appearing in expr")
        elif self.kind == "high_probability" and self.quantity != "tail_probability":
            bad("delta", None, "is required for a high_probability bound "
                "(only a tail_probability bound, whose value is the failure probability, has none)")
        hc = tuple(self.hidden_constants)
        for h in hc:
            if not isinstance(h, sp.Symbol) or h not in free:
                bad("hidden_constants", h, "must be a Symbol appearing in expr")
            if not h.name.startswith("C"):
                bad("hidden_constants", h.name, "must be named C or C_*")
        object.__setattr__(self, "hidden_constants", hc)
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        algs = (self.algorithms,) if isinstance(self.algorithms, str) else tuple(self.algorithms)
        if not all(isinstance(a, str) and a for a in algs):
            bad("algorithms", self.algorithms, "must be optimizer preset names")
        object.__setattr__(self, "algorithms", algs)
        vw = tuple(self.valid_when)
        for r in vw:
            if r in (sp.true, sp.false):
                bad("valid_when", r, "is a relation SymPy already decides (always true or "
                    "false for these symbols); drop it or fix it")
            if not isinstance(r, sp.core.relational.Relational):
                bad("valid_when", r, "must be SymPy relations")
        object.__setattr__(self, "valid_when", vw)
        sched = {str(k): sp.sympify(v) for k, v in dict(self.schedule).items()}
        object.__setattr__(self, "schedule", _freeze_map(sched))
        names = {s.name for s in free} | {s.name for e in sched.values() for s in e.free_symbols}
        for k, v in dict(self.defaults).items():
            if k not in names:
                bad("defaults", k, "is not a symbol of the bound")
            if any(h.name == k for h in hc):
                bad("defaults", k, "is a hidden constant: hidden constants have no default")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad("defaults", f"{k} = {v!r}", "is not allowed: a default must be a finite number")
        object.__setattr__(self, "defaults", _freeze_map(self.defaults))
        if self.rate_var not in {s.name for s in free}:
            bad("rate_var", self.rate_var, "is not a free symbol of expr (set rate_var to the "
                "variable the bound's rate is stated in)")

    def __hash__(self) -> int:
        return hash((self.name, self.expr))

    # ---------------------------------------------------------------- symbols
    @cached_property
    def _symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(sorted(self.expr.free_symbols, key=lambda s: s.name))

    @property
    def symbols(self) -> tuple[str, ...]:
        """Names of the free symbols of ``expr`` (what ``evaluate`` needs, defaults aside)."""
        return tuple(s.name for s in self._symbols)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names accepted by ``evaluate``/``schedule_values``/``is_valid``: the symbols of
        ``expr``, of the schedule and of ``valid_when``."""
        names = set(self.symbols) | set(self.schedule_symbols)
        names |= {s.name for r in self.valid_when for s in r.free_symbols}
        return tuple(sorted(names))

    @property
    def schedule_symbols(self) -> tuple[str, ...]:
        """Names of the free symbols of the prescribed schedule."""
        return tuple(sorted({s.name for e in self.schedule.values() for s in e.free_symbols}))

    def symbol(self, name: str) -> sp.Symbol:
        """The Symbol of this bound called ``name`` (ValueError if absent)."""
        for s in self.expr.free_symbols | {s for e in self.schedule.values() for s in e.free_symbols}:
            if s.name == name:
                return s
        raise ValueError(f"{self.name}: no symbol {name!r}; symbols: {', '.join(self.symbols)}")

    # ---------------------------------------------------------------- numerics
    @cached_property
    def _fn(self):
        return sp.lambdify(self._symbols, self.expr, modules=["numpy", "scipy"], cse=True)

    @cached_property
    def _schedule_fns(self):
        out = {}
        for k, e in self.schedule.items():
            syms = tuple(sorted(e.free_symbols, key=lambda s: s.name))
            out[k] = (syms, sp.lambdify(syms, e, modules=["numpy", "scipy"], cse=True))
        return out

    def _collect(self, values: dict, needed: tuple[sp.Symbol, ...], allowed: set[str], what: str):
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"the bound's symbols are: {', '.join(sorted(allowed))}")
        vals = {**dict(self.defaults), **values}
        missing = [s.name for s in needed if s.name not in vals]
        if missing:
            raise ValueError(f"{self.name}: no value for {', '.join(missing)} (needed by {what})")
        arrs = [_in_domain(self.name, s, vals[s.name]) for s in needed]
        return arrs

    @staticmethod
    def _finish(out, arrs):
        shape = np.broadcast_shapes(*(a.shape for a in arrs)) if arrs else ()
        out = np.asarray(out)
        if np.iscomplexobj(out):  # e.g. (-1)**(1/T): never silently its real part
            if np.any(out.imag != 0):
                raise ValueError("the bound's value is not real at these values (a complex number): a bound must be "
                                 "real-valued where it is evaluated")
            out = out.real
        out = np.broadcast_to(np.asarray(out, dtype=float), shape)
        return float(out) if out.ndim == 0 else np.array(out)

    def evaluate(self, **values) -> float | np.ndarray:
        """Numeric value of ``expr``; arguments broadcast like NumPy arrays.

        Defaults (``self.defaults``) fill symbols not given. Values for any of ``parameters``
        are accepted (extra ones unused). Validity (``valid_when``) is not enforced here: see
        ``is_valid``.
        """
        arrs = self._collect(values, self._symbols, set(self.parameters), "the bound")
        with np.errstate(all="ignore"):
            out = self._fn(*arrs)
        return self._finish(out, arrs)

    def schedule_values(self, **values) -> dict[str, float | np.ndarray]:
        """Prescribed hyperparameters (name -> value) at the given T, δ, α, ... values."""
        allowed = set(self.parameters)
        needed = tuple(sorted({s for e in self.schedule.values() for s in e.free_symbols},
                              key=lambda s: s.name))
        self._collect(values, needed, allowed, "the schedule")
        vals = {**dict(self.defaults), **values}
        out = {}
        for k, (syms, fn) in self._schedule_fns.items():
            arrs = [np.asarray(vals[s.name], dtype=float) for s in syms]
            with np.errstate(all="ignore"):
                out[k] = self._finish(fn(*arrs), arrs)
        return out

    def is_valid(self, **values) -> bool | np.ndarray:
        """Whether every ``valid_when`` relation holds at the given values (broadcast)."""
        ok = np.asarray(True)
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                             f"the bound's symbols are: {', '.join(self.parameters)}")
        vals = {**dict(self.defaults), **values}
        for r in self.valid_when:
            syms = tuple(sorted(r.free_symbols, key=lambda s: s.name))
            missing = [s.name for s in syms if s.name not in vals]
            if missing:
                raise ValueError(f"{self.name}: no value for {', '.join(missing)} "
                                 f"(needed by the validity condition {r})")
            fn = sp.lambdify(syms, r, modules="numpy")
            ok = np.logical_and(ok, fn(*[np.asarray(vals[s.name], dtype=float) for s in syms]))
        return bool(ok) if np.ndim(ok) == 0 else ok

    # ---------------------------------------------------------------- rates
    def _var(self, var) -> tuple[sp.Symbol, bool]:
        name = var.name if isinstance(var, sp.Symbol) else str(var)
        small = name in S.SMALL_VARIABLES
        for s in self.expr.free_symbols:
            if s.name == name:
                return s, small
        if name not in S.CANONICAL:  # a canonical variable the bound omits has exponent 0; a typo has none
            raise ValueError(f"{self.name}: var = {name!r} is not allowed: not a symbol of the bound "
                             f"({', '.join(self.symbols)}) nor a canonical symbol")
        return sp.Symbol(name, positive=True), small

    def rate(self, var="T", **subs) -> tuple[sp.Expr, sp.Expr]:
        """(exponent, log power) of the leading term in ``var``.

        For ``delta`` and ``eps`` the limit is var -> 0 and the rate is in 1/var; for every other
        variable var -> oo. Max/Min: the dominant argument in the limit. ``subs`` fixes symbols
        (e.g. ``alpha=Rational(3, 2)``) after the asymptotic analysis.
        """
        p, q = self._symbolic_rate(var.name if isinstance(var, sp.Symbol) else str(var))
        if subs:
            sub = self._subs(subs)
            p = p if p in (sp.oo, -sp.oo) else sp.simplify(p.subs(sub))
            q = sp.simplify(q.subs(sub))
        return p, q

    @cached_property
    def _rate_cache(self) -> dict:
        return {}

    def _symbolic_rate(self, name: str):
        if name not in self._rate_cache:
            x, small = self._var(name)
            expr = self.expr
            rel = self.valid_when
            if small:
                y = sp.Symbol("_inv_" + x.name, positive=True)
                expr = expr.subs(x, 1 / y)
                rel = tuple(r.subs(x, 1 / y) for r in rel)
                x = y
            p, q, _ = leading(expr, x, oracle=SignOracle(rel))
            self._rate_cache[name] = (p, q)
        return self._rate_cache[name]

    def _subs(self, subs: dict) -> dict:
        out = {}
        for k, v in subs.items():
            try:
                sym = self.symbol(k)
            except ValueError:
                sym = S.CANONICAL.get(k) or sp.Symbol(k, positive=True)
            out[sym] = _as_number(v)
        return out

    def schedule_exponent(self, knob: str, var="T", **subs) -> sp.Expr:
        """Exponent in ``var`` of the prescribed ``knob`` (e.g. "eta" -> -α/(3α-2));
        for "beta", the exponent of 1 - β."""
        if knob not in self.schedule:
            raise ValueError(f"{self.name}: no prescribed {knob!r}; schedule: "
                             f"{', '.join(self.schedule) or 'none'}")
        e = self.schedule[knob]
        if knob == "beta":
            e = 1 - e
        x = (S.CANONICAL.get(var) or sp.Symbol(var, positive=True)) if isinstance(var, str) else var
        p, _, _ = leading(e, x, oracle=SignOracle(self.valid_when))
        if subs:
            p = sp.simplify(p.subs(self._subs(subs)))
        return p

    def exponent(self, var="T", schedule=None, **subs) -> sp.Expr:
        """lim d log B / d log x (x = var -> oo; for delta/eps, x = 1/var as var -> 0).

        ``schedule`` ({knob: expression or number}, e.g. ``{"eta": 0.5 * T**-0.6}``) substitutes
        hyperparameters that the run prescribes as functions of ``var`` before the limit, so a bound
        whose expression carries ``eta`` gets the exponent of the schedule actually run;
        ``schedule=True`` uses the bound's own prescribed schedule.
        """
        if not schedule:
            return self.rate(var, **subs)[0]
        sched = dict(self.schedule) if schedule is True else dict(schedule)
        knobs = {s.name: s for s in self.expr.free_symbols}
        sub = {knobs[k]: sp.sympify(v, locals=dict(S.CANONICAL)) for k, v in sched.items() if k in knobs}
        if not sub:
            return self.rate(var, **subs)[0]
        return self.with_(name=self.name, expr=self.expr.subs(sub)).rate(var, **subs)[0]

    def log_power(self, var="T", **subs) -> sp.Expr:
        """Power of log x in the leading term (x as in ``exponent``)."""
        return self.rate(var, **subs)[1]

    # ---------------------------------------------------------------- display
    def latex(self) -> str:
        """Full inequality in LaTeX, e.g. ``\\frac{1}{T}\\sum ... \\le C_{opt} ...``."""
        names = {s: S.latex_name(s) for s in self.expr.free_symbols}
        rhs = sp.latex(self.expr, symbol_names=names)
        lhs = self.lhs or QUANTITIES[self.quantity]
        rel = r"\ge" if self.kind == "lower_bound" else r"\le"
        out = f"{lhs} {rel} {rhs}"
        if self.delta is not None and self.kind != "lower_bound":
            out += r" \quad \text{w.p.} \ge 1 - " + S.latex_name(self.delta)
        return out

    def __str__(self) -> str:
        rel = ">=" if self.kind == "lower_bound" else "<="
        return f"{self.name} [{self.status}] {self.quantity} {rel} {self.expr}  ({self.reference})"

    def with_(self, **changes) -> "Bound":
        """A copy with some fields replaced (dataclasses.replace)."""
        import dataclasses

        return dataclasses.replace(self, **changes)
