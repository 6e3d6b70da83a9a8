"""Leading power-law / polylog term of an expression as x -> oo.

``leading(expr, x)`` returns ``(p, q, s)``: expr ~ s * K * x^p * (log x)^q, with p, q SymPy expressions
(symbolic in α and the other parameters), s the sign of the leading coefficient (+1, -1 or None).
It works structurally on products, powers, sums, Max/Min, log and exp; a sum's leading term is
the term with the largest (p, q), lexicographically; Max picks the largest positive argument,
Min the smallest. When two exponents must be compared and the comparison is not decided
symbolically, it is decided on sample points of the parameters (α on a grid of (1, 2], the other
symbols log-uniform) that satisfy the caller's validity relations; if the order changes across the
samples a ValueError is raised. log(log x) is reported as log power 0 (below any power of log).
Expressions outside this grammar fall back to lim_{u->oo} d log B(e^u)/du (SymPy ``limit``).

Exponential growth/decay (exp(-x^a), (1-ηδμ)^t) gives p = ±oo.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

__all__ = ["leading", "SignOracle"]

_ALPHA_GRID = [sp.Rational(k, 16) for k in range(17, 33)]  # 17/16 .. 2


class SignOracle:
    """Decide the sign of an x-free expression under validity relations.

    First asks SymPy (symbols are positive); else evaluates on deterministic sample points:
    α on a grid of (1, 2] (unless α is fixed by the relations), δ, β in (0, 1), others log-uniform
    in [1e-2, 1e3], keeping only points where every relation holds.
    """

    def __init__(self, relations: Sequence[sp.Basic] = (), n_samples: int = 200, seed: int = 0):
        self.relations = tuple(relations)
        self.n_samples = n_samples
        self.seed = seed
        self._cache: dict[sp.Basic, int | None] = {}

    def _points(self, symbols: Sequence[sp.Symbol]) -> dict[sp.Symbol, np.ndarray]:
        """Sample arrays (one entry per symbol) of points satisfying every relation."""
        rng = np.random.default_rng(self.seed)
        rel_syms = set().union(*(r.free_symbols for r in self.relations)) if self.relations else set()
        syms = sorted(set(symbols) | rel_syms, key=lambda s: s.name)
        m = self.n_samples * 20
        pts = {}
        for s in syms:
            if s.name == "alpha":
                grid = np.array([float(a) for a in _ALPHA_GRID])
                pts[s] = np.resize(grid, m)
            elif s.name in ("delta", "beta", "delta_floor"):
                pts[s] = 10 ** rng.uniform(-4, -0.05, m)
            elif s.name == "eps_ada":
                pts[s] = rng.uniform(0, 0.5, m)
            else:
                pts[s] = 10 ** rng.uniform(-2, 3, m)
        keep = np.ones(m, dtype=bool)
        for r in self.relations:
            rs = sorted(r.free_symbols, key=lambda s: s.name)
            f = sp.lambdify(rs, r, modules="numpy")
            keep &= np.broadcast_to(np.asarray(f(*[pts[s] for s in rs]), dtype=bool), (m,))
        idx = np.flatnonzero(keep)[: self.n_samples]
        return {s: v[idx] for s, v in pts.items()}

    def sign(self, expr: sp.Basic) -> int | None:
        expr = sp.sympify(expr)
        if expr in self._cache:
            return self._cache[expr]
        out: int | None
        if expr.is_zero:
            out = 0
        elif expr.is_positive:
            out = 1
        elif expr.is_negative:
            out = -1
        else:
            syms = sorted(expr.free_symbols, key=lambda s: s.name)
            f = sp.lambdify(syms, expr, modules=["numpy", "scipy"])
            pts = self._points(syms)
            with np.errstate(all="ignore"):
                v = np.asarray(f(*[pts[s].astype(complex) for s in syms]), dtype=complex)
            v = np.broadcast_to(v, (len(next(iter(pts.values()))),) if pts else v.shape)
            if v.size == 0 or not np.all(np.isfinite(v)) or np.any(
                    np.abs(v.imag) > 1e-12 * np.maximum(1.0, np.abs(v.real))):
                out = None
            else:
                re_ = v.real
                # exact ties (e.g. at α = 2) count as 0, not as a sign change
                nz = re_[np.abs(re_) > 1e-12]
                if nz.size == 0:
                    out = 0
                elif np.all(nz > 0):
                    out = 1
                elif np.all(nz < 0):
                    out = -1
                else:
                    out = None
        self._cache[expr] = out
        return out


def _cmp(a, b, oracle: SignOracle) -> int | None:
    """Sign of a - b (exponents may be ±oo)."""
    if a == b:
        return 0
    if a in (sp.oo, -sp.oo) or b in (sp.oo, -sp.oo):
        if a == sp.oo or b == -sp.oo:
            return 1
        return -1
    diff = sp.cancel(sp.together(a - b))
    if diff == 0:
        return 0
    return oracle.sign(diff)


def _cmp_lead(u, v, oracle) -> int | None:
    c = _cmp(u[0], v[0], oracle)
    if c == 0:
        return _cmp(u[1], v[1], oracle)
    return c


def _dominant(leads, oracle, largest=True):
    best = leads[0]
    for cand in leads[1:]:
        c = _cmp_lead(cand, best, oracle)
        if c is None:
            raise ValueError(
                f"cannot order the terms x^{cand[0]} log^{cand[1]} and x^{best[0]} log^{best[1]} "
                "over the whole parameter range")
        if (c > 0) == largest and c != 0:
            best = cand
        elif c == 0:
            s = best[2] if best[2] == cand[2] else None
            best = (best[0], best[1], s)
    return best


def _sign_of_free(expr, oracle):
    s = oracle.sign(expr)
    return s if s in (1, -1) else None


def _lead(expr: sp.Basic, x: sp.Symbol, oracle: SignOracle):
    if not expr.has(x):
        return (sp.Integer(0), sp.Integer(0), _sign_of_free(expr, oracle))
    if expr == x:
        return (sp.Integer(1), sp.Integer(0), 1)
    if expr.is_Mul:
        p, q, s = sp.Integer(0), sp.Integer(0), 1
        for f in expr.args:
            fp, fq, fs = _lead(f, x, oracle)
            if sp.oo in (fp, -fp) and (p in (sp.oo, -sp.oo)) and fp != p:
                raise NotImplementedError("oo - oo")
            p, q = p + fp, q + fq
            s = None if (s is None or fs is None) else s * fs
        return (p, q, s)
    if expr.is_Pow:
        base, e = expr.args
        if e.has(x):
            return _lead(sp.exp(e * sp.log(base)), x, oracle)
        bp, bq, bs = _lead(base, x, oracle)
        if bs != 1:
            raise NotImplementedError("power of a term of unknown sign")
        if bp in (sp.oo, -sp.oo):
            se = _sign_of_free(e, oracle)
            if se is None:
                raise NotImplementedError("sign of exponent")
            return (bp * se, sp.Integer(0), 1)
        return (bp * e, bq * e, 1)
    if expr.is_Add or isinstance(expr, sp.Max):
        leads = [_lead(a, x, oracle) for a in expr.args]
        if isinstance(expr, sp.Max):
            pos = [l for l in leads if l[2] == 1]
            leads = pos or leads
        return _dominant(leads, oracle, largest=True)
    if isinstance(expr, sp.Min):
        return _dominant([_lead(a, x, oracle) for a in expr.args], oracle, largest=False)
    if isinstance(expr, sp.log):
        ap, aq, as_ = _lead(expr.args[0], x, oracle)
        c = _cmp(ap, 0, oracle)
        if c == 1:
            return (sp.Integer(0), sp.Integer(1), 1)
        if c == -1:
            return (sp.Integer(0), sp.Integer(1), -1)
        if c == 0:
            cq = _cmp(aq, 0, oracle)
            if cq == 1:  # log log x: below any power of log x
                return (sp.Integer(0), sp.Integer(0), 1)
        raise NotImplementedError("log of a bounded term")
    if isinstance(expr, sp.exp):
        ap, aq, as_ = _lead(expr.args[0], x, oracle)
        c = _cmp(ap, 0, oracle)
        if c == 1 or (c == 0 and _cmp(aq, 1, oracle) == 1):
            if as_ == 1:
                return (sp.oo, sp.Integer(0), 1)
            if as_ == -1:
                return (-sp.oo, sp.Integer(0), 1)
        raise NotImplementedError("exp of a slowly varying term")
    if isinstance(expr, sp.Abs):
        p, q, _ = _lead(expr.args[0], x, oracle)
        return (p, q, 1)
    raise NotImplementedError(type(expr).__name__)


def _fallback(expr, x):
    """p = lim d log B(e^u)/du, q = lim (d log B/du - p) u, by SymPy ``limit``."""
    u = sp.Symbol("u_", real=True)
    try:
        g = sp.diff(sp.log(expr.subs(x, sp.exp(u))), u)
        p = sp.limit(g, u, sp.oo)
        q = sp.limit((g - p) * u, u, sp.oo) if p.is_finite else sp.Integer(0)
    except (NotImplementedError, ValueError, TypeError) as e:
        raise ValueError(f"cannot find the leading term of {expr} in {x}: {e}") from None
    if p.has(sp.Limit) or q.has(sp.Limit) or p.has(sp.AccumBounds) or q.has(sp.AccumBounds):
        raise ValueError(f"cannot find the leading term of {expr} in {x}")
    return (p, q, 1)


def leading(expr: sp.Basic, x: sp.Symbol, relations: Sequence[sp.Basic] = (),
            oracle: SignOracle | None = None):
    """(power, log power, sign) of the leading term of ``expr`` as ``x -> oo``."""
    oracle = oracle or SignOracle(relations)
    try:
        p, q, s = _lead(sp.sympify(expr), x, oracle)
    except NotImplementedError:
        p, q, s = _fallback(expr, x)
    simp = lambda e: e if e in (sp.oo, -sp.oo) else sp.factor(sp.simplify(e))  # noqa: E731
    return simp(p), simp(q), s
