"""Exponent balancing: choose knob exponents that minimise the worst error term's growth.

With knobs k_j = c_j x^{a_j}, every error term (a product of powers) grows like x^{e_i(a)}, e_i
linear in a with coefficients symbolic in α. ``balance`` solves the min-max LP
    minimise z  subject to  e_i(a) <= z  (all terms),  lo_j <= a_j <= hi_j (optional),
symbolically: the optimum is a vertex, i.e. the solution of k+1 active constraints (the active
terms are equalised). The LP is solved numerically (scipy linprog) at sample values of α to find
the active constraints, boundedness and uniqueness; the symbolic vertex is then solved from the
active constraints and checked to be feasible and optimal at every sample point. Log factors are
ignored (only exponents are balanced).
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import linprog

from . import symbols as S
from .asymptotics import SignOracle, leading

__all__ = ["balance", "Balanced", "DEFAULT_ALPHA_GRID"]

#: α sample points of (1, 2] (exact), including the 5/4, 3/2, 7/4, 2 of docs/theory.md §4.
DEFAULT_ALPHA_GRID = tuple(sp.Rational(k, 8) for k in range(9, 17))


@dataclass(frozen=True)
class Balanced:
    """Result of ``balance``: knob exponents, the schedule knob -> var**exponent, the rate."""

    exponents: Mapping[sp.Symbol, sp.Expr]
    schedule: Mapping[sp.Symbol, sp.Expr]
    rate: sp.Expr
    term_exponents: tuple[sp.Expr, ...]
    active: tuple[int, ...]
    #: sample points where the optimum is a face, not a vertex (e.g. at α = 2 any λ growing at
    #: least like T^(1/4) gives the clipped-SGD rate); there the returned exponents are the
    #: limit of the unique interior solution, still optimal but not the only optimum.
    nonunique_at: tuple = ()


def _linear(p: sp.Expr, unknowns: Sequence[sp.Symbol], i: int):
    poly = sp.Poly(sp.expand(p), *unknowns) if unknowns else None
    if poly is not None and poly.total_degree() > 1:
        raise ValueError(f"term {i}: exponent {p} is not linear in the knob exponents")
    coeffs = [sp.simplify(sp.diff(p, u)) for u in unknowns]
    const = sp.simplify(p.subs({u: 0 for u in unknowns}))
    return coeffs, const


def balance(terms: Sequence[sp.Expr], knobs: Mapping, var="T", *,
            params: Mapping | None = None, bounds: Mapping | None = None) -> Balanced:
    """Balance error ``terms`` over knob exponents in ``var``.

    terms:  SymPy expressions in the knobs, ``var`` and constants (products of powers and logs).
    knobs:  {knob Symbol: exponent} with exponent a Symbol (unknown), a number (fixed) or None
            (an unknown named ``a_<knob>``); knob = c * var**exponent.
    var:    the growing variable (Symbol or name, e.g. "T").
    params: sample values for the symbols the exponents depend on
            (default {alpha: DEFAULT_ALPHA_GRID}); the answer stays symbolic in them.
    bounds: {knob: (lo, hi)} limits on the exponents (None for no limit), e.g. 1-β <= 1:
            {omb: (None, 0)}.
    Returns ``Balanced``; ValueError if the LP is unbounded, the optimum is unique at no sample
    point, or no single symbolic vertex is optimal at every sample point. Sample points where
    the optimum is not unique (typically α = 2) are listed in ``nonunique_at``.
    """
    x = S.CANONICAL.get(var, None) if isinstance(var, str) else var
    if x is None:
        x = sp.Symbol(var, positive=True)
    unknowns, subs = [], {}
    for k, e in knobs.items():
        if e is None:
            e = sp.Symbol(f"a_{k.name}", real=True)
        e = sp.sympify(e)
        if e.is_Symbol:
            unknowns.append(e)
        subs[k] = x ** e
    z = sp.Symbol("z_rate", real=True)
    oracle = SignOracle()
    texp = []
    rows = []  # (coeffs over unknowns + z, rhs): coeffs . u <= rhs
    for i, term in enumerate(terms):
        p, _, _ = leading(sp.sympify(term).subs(subs), x, oracle=oracle)
        texp.append(p)
        co, const = _linear(p, unknowns, i)
        rows.append((co + [sp.Integer(-1)], -const))
    for k, (lo, hi) in (bounds or {}).items():
        e = sp.sympify(knobs[k]) if knobs[k] is not None else sp.Symbol(f"a_{k.name}", real=True)
        j = unknowns.index(e)
        unit = [sp.Integer(0)] * (len(unknowns) + 1)
        if hi is not None:
            u = list(unit); u[j] = sp.Integer(1)
            rows.append((u, sp.sympify(hi)))
        if lo is not None:
            u = list(unit); u[j] = sp.Integer(-1)
            rows.append((u, -sp.sympify(lo)))

    params = dict(params or {})
    syms = set().union(*(sp.sympify(c).free_symbols for r in rows for c in r[0] + [r[1]]))
    if not params and S.alpha in syms:
        params = {S.alpha: DEFAULT_ALPHA_GRID}
    missing = sorted(s.name for s in syms if s not in params)
    if missing:
        raise ValueError(f"balance: give sample values (params=) for {', '.join(missing)}")
    pkeys = list(params)
    points = [dict(zip(pkeys, vals)) for vals in zip(*(params[k] for k in pkeys))] or [{}]

    nvar = len(unknowns) + 1
    numeric = []
    active_sets = []
    nonunique = []
    for pt in points:
        A = np.array([[float(sp.sympify(c).subs(pt)) for c in r[0]] for r in rows])
        b = np.array([float(sp.sympify(r[1]).subs(pt)) for r in rows])
        cost = np.zeros(nvar); cost[-1] = 1.0
        res = linprog(cost, A_ub=A, b_ub=b, bounds=[(None, None)] * nvar, method="highs")
        if res.status == 3:
            raise ValueError(f"balance: unbounded at {pt}: some term can be driven to -oo; "
                             "add terms or bounds")
        if res.status != 0:
            raise ValueError(f"balance: LP failed at {pt}: {res.message}")
        zstar = res.fun
        # uniqueness of every knob exponent at the optimum
        A2 = np.vstack([A, cost]); b2 = np.append(b, zstar + 1e-9)
        loose = []
        for j, u in enumerate(unknowns):
            cj = np.zeros(nvar); cj[j] = 1.0
            lo = linprog(cj, A_ub=A2, b_ub=b2, bounds=[(None, None)] * nvar, method="highs")
            hi = linprog(-cj, A_ub=A2, b_ub=b2, bounds=[(None, None)] * nvar, method="highs")
            if lo.status != 0 or hi.status != 0 or (-hi.fun - lo.fun) > 1e-6:
                loose.append(u)
        numeric.append((pt, zstar, res.x))
        if loose:
            nonunique.append((pt, tuple(loose)))
        else:
            active_sets.append({i for i in range(len(rows)) if A[i] @ res.x - b[i] > -1e-7})
    if not active_sets:
        raise ValueError("balance: the optimal exponents are not unique at any sample point "
                         f"({', '.join(str(u) for u in nonunique[0][1])}); add terms or bounds")
    common = sorted(set.intersection(*active_sets))
    sol_vars = unknowns + [z]

    def check(sol):
        for pt, zstar, xs in numeric:
            vals = [sp.simplify(sol[v].subs(pt)) for v in sol_vars]
            if any(not v.is_finite for v in vals):
                return False
            if abs(float(vals[-1]) - zstar) > 1e-7:
                return False
            for co, rhs in rows:
                lhs = sum(sp.sympify(cc).subs(pt) * v for cc, v in zip(co, vals))
                if sp.simplify(lhs - sp.sympify(rhs).subs(pt)) > 0:
                    return False
        return True

    for combo in itertools.combinations(common, nvar):
        Am = sp.Matrix([rows[i][0] for i in combo])
        if sp.simplify(Am.det()) == 0:
            continue
        bm = sp.Matrix([rows[i][1] for i in combo])
        sol_vec = Am.LUsolve(bm)
        sol = {v: sp.factor(sp.simplify(s)) for v, s in zip(sol_vars, sol_vec)}
        if check(sol):
            exps = {}
            for k, e in knobs.items():
                e = sp.sympify(e) if e is not None else sp.Symbol(f"a_{k.name}", real=True)
                exps[k] = sol[e] if e in sol else e
            return Balanced(exponents=exps, schedule={k: x ** e for k, e in exps.items()},
                            rate=sol[z], term_exponents=tuple(texp), active=tuple(combo),
                            nonunique_at=tuple(nonunique))
    raise ValueError("balance: the optimal active set changes across the parameter samples; "
                     "restrict params")
