"""Hunt a parameter box for a certified violation of a high-probability bound (``clipsim falsify``).

A bound "w.p. >= 1-δ, Q <= B(δ)" is a claim for every setting its assumptions allow. The hunt has two
stages with separate data:

1. **Search** (exploratory, no error control needed): a scrambled Sobol design over the box
   ``[falsify.search]`` (points outside the bound's validity conditions are never proposed), then
   successive halving (Jamieson & Talwalkar 2016, arXiv 1502.07943; Li et al. 2018, arXiv 1603.06560)
   on the failure count ``k`` of ``Q > B(δ)`` (at a common seed count, ranking by ``k`` is ranking by
   the Clopper-Pearson upper confidence bound of ``P(Q > B)``), ties broken by the empirical
   ``(1-δ)``-quantile of ``Q/B``; then coordinate steps on the continuous paths around the best cell,
   each step compared with the incumbent on the same number of seeds. Every cell is simulated on its
   own streams (``cell_stream_seed``) in seed chunks stored like any other cell, so a killed hunt
   resumes where it stopped (the search is deterministic given the root seed).
2. **Certification**: the ``confirm`` best cells of the search are re-simulated on *fresh* streams
   (:func:`certify_stream_seed`: SHA-256 of (root seed, cell content, "certify")), which the search
   never looked at. For each, the exact binomial test of H0 ``P(Q > B(δ)) <= δ`` (one-sided level
   ``a = (1 - confidence)/2``, the rule of ``clipsim check``) is Bonferroni-corrected over the
   ``confirm`` cells: certified iff the Clopper-Pearson interval at confidence ``1 - 2a/confirm``
   lies above δ.

Why it is valid: the cells to confirm are a function of the search data only; the confirmation data
are independent of the search data, so conditionally on the chosen cells each test has size <= a /
confirm whatever the search did. If the bound holds at every cell of the box, every chosen cell
satisfies H0 and the chance of any certified violation is <= a (union bound). The search's own
estimates are biased upward (the winner's curse) and are reported only as a map, never as evidence.

Outcomes (``FalsifyResult.outcome`` and exit codes): ``"violated"`` (1) a certified violation;
``"none_found"`` (0) no cell was certified and every confirmation estimate was <= δ: *not* a proof
that the bound holds; ``"undecided"`` (3) the budget was too small to say anything: either the
confirmation sample could not certify a violation even if every seed failed (nothing was simulated),
or a confirmed cell failed more often than δ without reaching significance (more seeds would decide).
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from . import _validate as V
from . import stats as St

__all__ = ["FalsifyResult", "falsify", "certify_stream_seed", "plan_budget"]

ETA = 3            # successive-halving reduction factor
MIN_SEEDS = 8      # fewest seeds a search cell is ever evaluated with
POWER = 0.8        # the detectable failure probability is reported at this power


# ---- the box ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One searched path: a continuous range (``lo``, ``hi``, ``log``, ``integer``) or a finite list."""

    path: str
    lo: float = 0.0
    hi: float = 1.0
    log: bool = False
    integer: bool = False
    values: tuple = ()

    @property
    def continuous(self):
        return not self.values

    def value(self, u):
        """The path's value at unit coordinate ``u`` in [0, 1]."""
        u = min(max(float(u), 0.0), 1.0)
        if self.values:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        x = (math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo))) if self.log
             else self.lo + u * (self.hi - self.lo))
        return int(round(x)) if self.integer else float(x)


def parse_axes(search):
    """``[falsify.search]`` (path → {min, max, log} or a list) → tuple of :class:`Axis`."""
    axes = []
    for path, spec in search.items():
        where = f"[falsify.search] {path!r}"
        if isinstance(spec, list):
            if not spec:
                raise ValueError(f"{where} = [] is not allowed: must be a non-empty list or {{min, max}}")
            axes.append(Axis(path, values=tuple(spec)))
            continue
        V.table(where, spec)
        for k in spec:
            if k not in ("min", "max", "log"):
                raise ValueError(f"{where}: unknown key {k!r}: valid keys are min, max, log")
        if "min" not in spec or "max" not in spec:
            raise ValueError(f"{where} = {spec!r} is not allowed: a range needs min and max")
        log = V.boolean(f"{where} log", spec.get("log", False))
        lo = V.real(f"{where} min", spec["min"], 0.0 if log else -math.inf, lo_open=log)
        hi = V.real(f"{where} max", spec["max"], lo, lo_open=True)
        integer = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("min", "max"))
        axes.append(Axis(path, lo, hi, log, integer))
    return tuple(axes)


def design(axes, n, seed):
    """``n`` points of a scrambled Sobol sequence in the unit cube (``scipy.stats.qmc.Sobol``, seeded)."""
    from scipy.stats import qmc

    if not axes:
        return np.zeros((1, 0))
    m = max(0, math.ceil(math.log2(max(n, 1))))
    return qmc.Sobol(len(axes), scramble=True, seed=np.random.default_rng(seed)).random_base2(m)[:n]


# ---- budget ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """How the seed budget is spent: halving rungs, local steps, confirmation."""

    budget: int
    initial: int
    rungs: tuple          # cumulative seeds per cell at each rung
    survivors: tuple      # cells per rung
    local_budget: int
    confirm: int
    confirm_seeds: int


def plan_budget(budget, initial, confirm, confirm_fraction, n_axes):
    """Split ``budget`` seeds: ``confirm_fraction`` to confirmation, the rest ~2/3 to halving, ~1/3 to
    local refinement (none without continuous paths). ``initial`` is reduced until the first rung
    gets at least ``MIN_SEEDS`` seeds per cell."""
    n_conf = int(budget * confirm_fraction) // confirm
    search = budget - n_conf * confirm
    halving = search if n_axes == 0 else int(search * 2 / 3)
    n0 = max(1, initial)
    while True:
        survivors = [n0]
        while survivors[-1] > 1:
            survivors.append(math.ceil(survivors[-1] / ETA))
        cost = 1 + (len(survivors) - 1) * (ETA - 1) / ETA
        s0 = int(halving / (n0 * cost))
        if s0 >= MIN_SEEDS or n0 == 1:
            break
        n0 = max(1, n0 // 2)
    s0 = max(s0, 0)
    rungs = tuple(s0 * ETA ** r for r in range(len(survivors)))
    spent = sum(n * (s - p) for n, s, p in zip(survivors, rungs, (0,) + rungs[:-1]))
    return Plan(budget, n0, rungs, tuple(survivors), max(0, search - spent), confirm, n_conf)


def critical_count(n, delta, a):
    """Smallest k with P(Bin(n, δ) >= k) <= a (n + 1 if none): the failures that certify a violation."""
    from scipy import stats as sst

    if n < 1:
        return 1
    k = int(sst.binom.isf(a, n, delta)) + 1   # a start near the answer; the loops make it exact
    while k > 0 and St.violation_pvalue(k - 1, n, delta) <= a:
        k -= 1
    while k <= n and St.violation_pvalue(k, n, delta) > a:
        k += 1
    return k


def detectable(n, delta, a, power=POWER):
    """Smallest P(Q > B) that the confirmation certifies with probability >= ``power`` (nan if none)."""
    from scipy import optimize, stats as sst

    k = critical_count(n, delta, a)
    if k > n:
        return math.nan
    f = lambda p: sst.binom.sf(k - 1, n, p) - power  # noqa: E731
    return float(optimize.brentq(f, delta, 1.0)) if f(1.0) > 0 else 1.0


# ---- what the hunt is about: cells, bound values, samples -------------------------------------
@dataclass(eq=False)
class Visited:
    """One searched cell: its point, bound value and the failures seen (search stage only)."""

    point: dict
    unit: tuple
    label: str
    bound_value: float
    ratios: list = field(default_factory=list)   # Q/B per seed, seed order (inf for diverged seeds)
    stage: str = "design"
    keys: list = field(default_factory=list)
    rank: tuple = (-1,)                           # (deepest halving rung reached, score there)

    @property
    def n(self):
        return len(self.ratios)

    def k(self, n=None):
        r = np.asarray(self.ratios[:n], dtype=float)
        return int(np.count_nonzero(r > 1.0))

    def score(self, delta, n=None):
        """(failures, empirical (1-δ)-quantile of Q/B) on the first ``n`` seeds: larger is worse."""
        r = np.asarray(self.ratios[:n], dtype=float)
        q = float(np.quantile(r, 1.0 - delta, method="higher")) if r.size else -math.inf
        return (self.k(n), q)


@dataclass(frozen=True)
class Confirmation:
    """A confirmed cell: fresh seeds, failures, interval, one-sided p-value, certified or not."""

    label: str
    point: dict
    bound_value: float
    n: int
    k: int
    low: float
    high: float
    pvalue: float
    certified: bool
    keys: tuple = ()


# ---- the [falsify] table ---------------------------------------------------------------------
FALSIFY_DEFAULTS = {"confidence": 0.95, "confirm": 1, "confirm_fraction": 0.3, "initial": 32}
_PATH_HEADS = ("objective", "noise", "optimizer", "vars")


def check_table(fz, spec=None):
    """Validate a ``[falsify]`` table (types, ranges, paths); returns it with defaults filled in."""
    from .sweep import FALSIFY_KEYS

    V.table("[falsify]", fz)
    for k in fz:
        if k not in FALSIFY_KEYS:
            raise ValueError(f"[falsify]: unknown key {k!r}: valid keys are {', '.join(FALSIFY_KEYS)}")
    for k in ("bound", "delta", "budget", "search"):
        if k not in fz:
            raise ValueError(f"[falsify]: missing key {k!r}")
    out = {**FALSIFY_DEFAULTS, **fz}
    bound = resolve_bound(out["bound"])
    if bound.delta is None or bound.kind == "lower_bound":
        raise ValueError(f"[falsify] bound = {bound.name!r} is not allowed: falsify hunts upper bounds that "
                         "hold with probability 1-delta (kind high_probability, a delta symbol)")
    out["delta"] = V.real("[falsify] delta", out["delta"], 0.0, 1.0, lo_open=True, hi_open=True)
    out["budget"] = V.integer("[falsify] budget", out["budget"], 1, 10**9)
    out["confidence"] = V.real("[falsify] confidence", out["confidence"], 0.0, 1.0, lo_open=True, hi_open=True)
    out["confirm"] = V.integer("[falsify] confirm", out["confirm"], 1, 100)
    out["confirm_fraction"] = V.real("[falsify] confirm_fraction", out["confirm_fraction"], 0.0, 1.0,
                                     lo_open=True, hi_open=True)
    out["initial"] = V.integer("[falsify] initial", out["initial"], 1, 4096)
    values = V.table("[falsify] values", out.get("values", {}))
    missing = [h.name for h in bound.hidden_constants if h.name not in values]
    if missing:
        raise ValueError(f"[falsify] values: hidden constant(s) {', '.join(missing)} of {bound.name} have no "
                         f"value: give e.g. {missing[0]} = 1.0 (falsify does not calibrate)")
    V.table("[falsify] search", out["search"])
    for path in out["search"]:
        head = path.split(".")[0]
        if head not in _PATH_HEADS and path != "n_steps":
            raise ValueError(f"[falsify.search] key {path!r} is not allowed: must be n_steps or a path under "
                             "objective., noise., optimizer. or vars. (or objective/noise/optimizer as a list "
                             "of whole tables)")
        if (spec or {}).get("grid", {}).get(path) is not None:
            raise ValueError(f"[falsify.search] {path!r} is also in [grid]: search a path or grid it, not both")
    axes = parse_axes(out["search"])
    if spec is not None:
        out["search"] = {a.path: _check_axis(a, out["search"][a.path], spec) for a in axes}
    return out


INVALID = "not a valid configuration: "   # the prefix of a proposal the spec cannot build


def point_spec(base, point, name):
    """The sweep of one point of the box: ``base`` (a spec's sweep, vars and tables) with the point's
    ``vars.X`` set in [vars] and every other path as a one-value [grid] axis (the [grid] rules apply)."""
    from . import sweep as S

    spec = {k: copy.deepcopy(v) for k, v in base.items() if k in ("sweep", "vars", "objective", "noise", "optimizer")}
    spec.setdefault("vars", {})
    grid = {}
    for path, value in point.items():
        if path.startswith("vars."):
            spec["vars"][path[5:]] = value
        else:
            grid[path] = [value]
    spec["grid"] = grid
    return S.from_spec(spec, path=name)


def _built_value(config, path):
    """The value a built cell's config holds at a dotted ``path`` (None if it holds none)."""
    node = config
    for p in path.split("."):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def _check_axis(axis, raw, spec):
    """Refuse at load an axis the spec cannot build: ``vars.X`` with X not in [vars], a path that does not
    exist, an end (or list value) outside the parameter's allowed range, a non-integer end of an integer
    field. Returns the range with its ends' types fixed by the field (integer field: int; real: float)."""
    where = f"[falsify.search] {axis.path!r}"
    if axis.path.startswith("vars."):
        names = sorted(spec.get("vars", {}))
        if axis.path[5:] not in names:
            raise ValueError(f"{where} is not allowed: {axis.path[5:]!r} is not in [vars]; allowed: "
                             f"{', '.join('vars.' + n for n in names) or 'none ([vars] is empty)'}")
    ends = list(axis.values) if axis.values else [raw["min"], raw["max"]]
    built = []
    for value in ends:
        try:
            cell = point_spec(spec, {axis.path: value}, spec.get("sweep", {}).get("name", "falsify")).cells[0]
        except ValueError as e:
            raise ValueError(f"{where} is not allowed at {axis.path} = {_show(value)}: {e}") from None
        built.append(_built_value(cell.config, axis.path))
    if axis.values or axis.path.startswith("vars.") or any(b is None for b in built):
        return raw
    integer = all(isinstance(b, int) and not isinstance(b, bool) for b in built)
    return {**raw, "min": int(raw["min"]) if integer else float(raw["min"]),
            "max": int(raw["max"]) if integer else float(raw["max"])}


def resolve_bound(b):
    """A registry name, or an own bound table {name, expr, quantity, kind, delta, hidden, valid_when}, parsed
    by :func:`clipsim.decisions.resolve_bound` (the one parser of own bounds)."""
    from .decisions import resolve_bound as resolve
    from .sweep import FALSIFY_BOUND_KEYS

    if isinstance(b, dict):
        for k in b:
            if k not in FALSIFY_BOUND_KEYS:
                raise ValueError(f"[falsify] bound: unknown key {k!r}: valid keys are {', '.join(FALSIFY_BOUND_KEYS)}")
    return resolve(b, "[falsify] bound")


# ---- simulating cells of the box (the real problem) ------------------------------------------
def certify_stream_seed(root, config) -> int:
    """Stream root of a cell's confirmation seeds: SHA-256 of (root seed, cell content, "certify").

    Distinct from :func:`clipsim.sweep.cell_stream_seed` (no tag), so the confirmation never reuses a
    draw the search looked at."""
    content = {k: config.get(k) for k in ("objective", "noise", "optimizer", "n_steps", "x0")}
    blob = json.dumps({"root": int(root), "cell": content, "stage": "certify"}, sort_keys=True,
                      separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big") >> 1


class _Probe:
    """What :func:`clipsim.check` needs from a run, without running it (bound value, conditions)."""

    def __init__(self, config, quantity):
        from . import noise as N, objectives as O, optimizers as P

        self.config, self.n_steps = config, int(config["n_steps"])
        self.objective = O.from_dict(config["objective"])
        self.noise = N.Noise.from_dict(config["noise"])
        self.optimizer = P.from_dict(config["optimizer"])
        self.metrics = {quantity: np.zeros(1), "diverged": np.zeros(1, bool)}

    def theory_values(self, alpha=None):
        from .engine import SimResult

        return SimResult.theory_values(self, alpha)


def noise_is_symmetric(noise) -> bool:
    """Whether the noise law is symmetric about 0 (stable with beta = 0, symmetric Lomax, t, Gaussian)."""
    sym = getattr(noise, "symmetric", None)
    if sym is not None:
        return bool(sym() if callable(sym) else sym)
    fam = getattr(noise, "family", "")
    if fam == "stable":
        return float(getattr(noise, "beta", 0.0) or 0.0) == 0.0
    return fam in ("pareto", "student_t", "gaussian", "none")


def needs_symmetric_noise(bound) -> bool:
    return bool(getattr(bound, "symmetric_noise", False)) or "symmetric_noise" in tuple(getattr(bound, "tags", ()))


class SpecProblem:
    """Cells of a spec's box: build (validated), bound value and validity, simulate into a store."""

    def __init__(self, sweep, fz, store=None, threads=None):
        self.name, self.fz, self.store, self.threads = sweep.name, fz, store, threads
        self.bound = resolve_bound(fz["bound"])
        self.base = {k: copy.deepcopy(v) for k, v in sweep.spec.items()
                     if k in ("sweep", "vars", "objective", "noise", "optimizer")}
        self.root = int(sweep.spec["sweep"].get("seed", 0))

    def cell(self, point):
        """(cell, B(δ)) at ``point``, or (None, reason) if it lies outside the bound's validity conditions
        or the spec cannot build it (reason ``INVALID + the constructor's message``)."""
        from . import sweep as S
        from .check import check
        from .decisions import expression_variables

        try:
            cell = point_spec(self.base, point, self.name).cells[0]
            cell = replace(cell, coords=cell.coords + tuple((p, v) for p, v in point.items() if p.startswith("vars.")))
            probe = _Probe(cell.config, self.bound.quantity)
        except ValueError as e:
            return None, INVALID + str(e)
        try:
            vals = S._resolve(dict(self.fz.get("values", {})), expression_variables(cell, probe),
                              "[falsify] values")
            bc = check(self.bound, probe, self.fz["delta"], **vals)
        except ValueError as e:
            return None, f"B(delta) cannot be evaluated here: {e}"
        bad = [f"{c.relation} {c.status}" + (f" ({c.detail})" if c.detail else "")
               for c in bc.conditions if c.status != "ok"]
        if needs_symmetric_noise(self.bound) and not noise_is_symmetric(probe.noise):
            bad.append("the bound needs symmetric noise; this noise is asymmetric")
        if bad:
            return None, "; ".join(bad)
        if not (math.isfinite(bc.bound_value) and bc.bound_value > 0):
            return None, f"B(delta) = {bc.bound_value} is not a finite positive number"
        return cell, bc.bound_value

    def sample(self, cell, stage, first, count):
        """Q for seeds [first, first + count) of the cell's search or confirmation stream (+inf when
        diverged), stored under the cell key (skipped when already stored); returns (Q, key)."""
        from .runner import run_config
        from .sweep import cell_key

        config = {**cell.config, "n_seeds": int(count), "first_seed": int(first), "record": None}
        if stage == "certify":
            config["seed"] = certify_stream_seed(self.root, cell.config)
        config["falsify_stage"] = stage
        key = cell_key(config)
        run = {k: v for k, v in config.items() if k != "falsify_stage"}
        if self.store is not None and self.store.has(key):
            res = self.store.load(key)
        else:
            res = run_config(run, threads=self.threads)
            if self.store is not None:
                self.store.put(key, f"{self.name}_falsify", cell.coords + (("stage", stage),), res)
        q = np.asarray(res.metrics[self.bound.quantity], dtype=float)
        return np.where(np.asarray(res.metrics["diverged"], bool) | ~np.isfinite(q), np.inf, q), key


# ---- the hunt --------------------------------------------------------------------------------
class _Hunt:
    """State of one hunt: visited cells, seeds spent, progress lines. ``problem`` gives cells and
    samples (:class:`SpecProblem`, or a stub in tests); everything else is the real procedure."""

    def __init__(self, problem, axes, fz, plan, progress):
        self.problem, self.axes, self.fz, self.plan = problem, axes, fz, plan
        self.delta = fz["delta"]
        self.visited, self.rejected, self.invalid, self.spent = {}, [], [], 0
        self.progress = progress

    def say(self, text):
        if self.progress:
            print(f"falsify: {text}", file=sys.stderr, flush=True)

    def point(self, unit):
        return {a.path: a.value(u) for a, u in zip(self.axes, unit)}

    def visit(self, unit, stage):
        """The Visited cell at ``unit`` (built once), or None when it is not proposable."""
        point = self.point(unit)
        tag = json.dumps(point, sort_keys=True, default=str)
        if tag in self.visited:
            return self.visited[tag]
        cell, b = self.problem.cell(point)
        if cell is None:   # outside the bound's validity conditions, or not a configuration at all
            (self.invalid if str(b).startswith(INVALID) else self.rejected).append((point, b))
            self.visited[tag] = None
            return None
        label = ", ".join(f"{p}={_show(v)}" for p, v in point.items()) or "(single cell)"
        v = Visited(point, tuple(float(u) for u in unit), label, float(b), stage=stage)
        v.cell = cell
        self.visited[tag] = v
        return v

    def extend(self, v, n):
        """Simulate seeds [v.n, n) of ``v`` on its search stream."""
        if v.n >= n:
            return
        q, key = self.problem.sample(v.cell, "search", v.n, n - v.n)
        self.spent += n - v.n
        v.ratios.extend((np.asarray(q, dtype=float) / v.bound_value).tolist())
        v.keys.append(key)

    def initial_cells(self):
        """The first ``plan.initial`` proposable points of a seeded Sobol sequence (up to 16x as many tried)."""
        n = self.plan.initial
        pts = design(self.axes, 16 * n, self.fz["_seed"])
        cells = []
        for u in pts:
            v = self.visit(u, "design")
            if v is not None and all(v is not c for c in cells):
                cells.append(v)
                if len(cells) == n:
                    break
        if not cells:
            why = "; ".join(f"{len(r)} {what} (first: {r[0][1]})" for r, what in (
                (self.rejected, "outside the bound's validity conditions"),
                (self.invalid, "not a valid configuration")) if r)
            raise ValueError(f"[falsify.search]: no point of the box can be simulated: {why or 'no point'}")
        return cells

    def halving(self):
        """Successive halving: evaluate, keep the worst 1/ETA (most failures, then largest quantile ratio)."""
        alive = self.initial_cells()
        for r, (keep, seeds) in enumerate(zip(self.plan.survivors, self.plan.rungs)):
            alive = alive[:keep]
            for v in alive:
                self.extend(v, seeds)
            alive.sort(key=lambda v: v.score(self.delta, seeds), reverse=True)
            for v in alive:
                v.rank = (r, v.score(self.delta, seeds))
            top = alive[0]
            self.say(f"rung {r + 1}/{len(self.plan.rungs)}: {len(alive)} cells x {seeds} seeds; worst "
                     f"{top.label}: {top.k(seeds)}/{seeds} above B")
        return alive[0]

    def refine(self, inc):
        """Coordinate steps (unit step 1/4, halved when no move helps, down to 1/64) on the continuous
        paths; a neighbour replaces the incumbent when its score on ``s`` seeds is larger."""
        cont = [i for i, a in enumerate(self.axes) if a.continuous]
        if not cont or self.plan.local_budget < MIN_SEEDS:
            return inc
        s = max(MIN_SEEDS, min(inc.n, self.plan.local_budget // (8 * len(cont))))
        left, h = self.plan.local_budget, 0.25
        while h >= 1 / 64 and left >= 4 * s:   # a step costs at most 4s seeds (the race in _beats)
            moved = False
            for i in cont:
                for sign in (1, -1):
                    u = list(inc.unit)
                    u[i] = min(max(u[i] + sign * h, 0.0), 1.0)
                    v = self.visit(u, "local") if left >= 4 * s else None
                    if v is None or v is inc:
                        continue
                    before = self.spent
                    if self._beats(v, inc, s):
                        inc, moved = v, True
                        self.say(f"local step {h:g}: {v.label}: {v.k()}/{v.n} above B")
                    left -= self.spent - before
            if not moved:
                h /= 2
        return inc

    def _beats(self, v, inc, s):
        """Whether ``v`` scores above ``inc`` on ``s`` seeds and again on min(4s, inc.n) seeds (a
        two-look race, so that one lucky small sample does not displace a well-measured cell)."""
        for n in (s, max(s, min(4 * s, inc.n))):
            self.extend(v, n)
            if not v.score(self.delta, n) > inc.score(self.delta, n):
                return False
        return True

    def confirm(self, inc):
        """Re-simulate the incumbent and the next ``confirm - 1`` cells in successive-halving order on
        fresh streams; exact one-sided test, Bonferroni over the ``confirm`` cells."""
        n_c, m = self.plan.confirm_seeds, self.plan.confirm
        a = (1.0 - self.fz["confidence"]) / 2 / m
        pool = [v for v in self.visited.values() if v is not None and v is not inc and v.rank[0] >= 0]
        pool.sort(key=lambda v: v.rank, reverse=True)   # the successive-halving order
        out = []
        for v in [inc] + pool[:m - 1]:
            q, keys = [], []
            for first in range(0, n_c, 1000):
                chunk, key = self.problem.sample(v.cell, "certify", first, min(1000, n_c - first))
                q.append(np.asarray(chunk, dtype=float))
                keys.append(key)
            self.spent += n_c
            q = np.concatenate(q)
            k = int(np.count_nonzero(q > v.bound_value))
            low, high = St.clopper_pearson(k, n_c, 1.0 - 2 * a)
            p = St.violation_pvalue(k, n_c, self.delta)
            out.append(Confirmation(v.label, dict(v.point), v.bound_value, n_c, k, low, high, p, p <= a,
                                    tuple(keys)))
            self.say(f"confirm {v.label}: {k}/{n_c} above B, one-sided p = {p:.3g} (level {a:.3g})")
        return out


def _show(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return v.get("label", v.get("name", "table"))
    return str(v)


# ---- the result ------------------------------------------------------------------------------
OUTCOMES = {"violated": 1, "none_found": 0, "undecided": 3}


@dataclass(frozen=True)
class FalsifyResult:
    """Outcome of :func:`falsify`: ``outcome`` ("violated", "none_found", "undecided"), ``exit_code``
    (1, 0, 3), the confirmations, every visited cell (:meth:`to_frame`), the plan and what it cost.

    ``rejected``: proposals outside the bound's validity conditions; ``invalid``: proposals the spec
    cannot build (a constructor refused the combination of values), each (point, reason), never
    simulated. ``detectable`` is the smallest P(Q > B) at a confirmed cell that the confirmation certifies with
    probability >= 80%: violations smaller than that are easily missed."""

    name: str
    bound: str
    delta: float
    confidence: float
    outcome: str
    reason: str
    plan: Plan
    confirmations: tuple
    visited: tuple = field(repr=False)
    rejected: tuple = field(repr=False)
    invalid: tuple = field(default=(), repr=False)
    seeds_used: int = 0
    detectable: float = math.nan
    figure: str = ""
    axes: tuple = field(default=(), repr=False)

    @property
    def exit_code(self):
        return OUTCOMES[self.outcome]

    @property
    def level(self):
        """One-sided level of the whole procedure's false "violated" (Bonferroni over confirmations)."""
        return (1.0 - self.confidence) / 2

    def __repr__(self):
        return (f"FalsifyResult({self.bound}, delta={self.delta:g}: {self.outcome}; {len(self.visited)} cells, "
                f"{self.seeds_used} seeds)")

    def to_frame(self):
        """pandas DataFrame, one row per visited cell: the point, stage, B(δ), search seeds and failures
        with an uncorrected 95% Clopper-Pearson interval (exploratory), and the confirmation if any."""
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("FalsifyResult.to_frame needs pandas: pip install 'clipsim[frames]'") from None
        conf = {c.label: c for c in self.confirmations}
        rows = []
        for v in self.visited:
            lo, hi = St.clopper_pearson(v.k(), v.n) if v.n else (math.nan, math.nan)
            c = conf.get(v.label)
            rows.append({"cell": v.label, "stage": v.stage, **{p: _show(x) if isinstance(x, dict) else x
                                                                for p, x in v.point.items()},
                         "bound_value": v.bound_value, "seeds": v.n, "failures": v.k(),
                         "p_hat": v.k() / v.n if v.n else math.nan, "p_low": lo, "p_high": hi,
                         "quantile_ratio": v.score(self.delta)[1] if v.n else math.nan,
                         "confirm_seeds": c.n if c else 0, "confirm_failures": c.k if c else None,
                         "confirm_pvalue": c.pvalue if c else None, "certified": bool(c and c.certified)})
        return pd.DataFrame(rows)

    def summary(self):
        """The Markdown report (``clipsim falsify --out``)."""
        return _markdown(self)


def _decide(confirmations, plan, delta, a):
    """(outcome, reason) from the confirmations; see the module docstring."""
    if any(c.certified for c in confirmations):
        c = next(c for c in confirmations if c.certified)
        return "violated", (f"certified at {c.label}: {c.k}/{c.n} fresh seeds above B(δ), interval "
                            f"[{c.low:.3g}, {c.high:.3g}] lies above δ = {delta:g}")
    if critical_count(plan.confirm_seeds, delta, a) > plan.confirm_seeds:
        return "undecided", (f"budget too small to say anything: {plan.confirm_seeds} confirmation seeds per "
                             f"cell cannot certify P > δ = {delta:g} even if every seed fails; raise the budget")
    over = [c for c in confirmations if c.k / c.n > delta]
    if over:
        c = over[0]
        return "undecided", (f"suspected at {c.label}: {c.k}/{c.n} fresh seeds above B(δ) (> δ) but not "
                             f"significant (one-sided p = {c.pvalue:.3g}); more seeds would decide")
    return "none_found", "no violation found within budget (this does not show that the bound holds)"


def hunt(problem, fz, *, name="falsify", seed=0, progress=False):
    """Run search and certification on ``problem`` (``.cell(point) -> (cell, B) or (None, reason)``,
    ``.sample(cell, stage, first, count) -> (Q, key)``, ``.bound``) with a checked ``[falsify]`` table."""
    fz = {**fz, "_seed": int(seed)}
    axes = parse_axes(fz["search"])
    plan = plan_budget(fz["budget"], fz["initial"], fz["confirm"], fz["confirm_fraction"],
                       sum(a.continuous for a in axes))
    a = (1.0 - fz["confidence"]) / 2 / plan.confirm
    h = _Hunt(problem, axes, fz, plan, progress)
    bname = problem.bound.name
    common = dict(name=name, bound=bname, delta=fz["delta"], confidence=fz["confidence"], plan=plan, axes=axes,
                  detectable=detectable(plan.confirm_seeds, fz["delta"], a))
    if critical_count(plan.confirm_seeds, fz["delta"], a) > plan.confirm_seeds or plan.rungs[0] < 1:
        why = (f"budget too small to say anything: {fz['budget']} seeds leave {plan.confirm_seeds} confirmation "
               f"seeds per cell and {plan.rungs[0]} search seeds per cell; nothing was simulated")
        return FalsifyResult(outcome="undecided", reason=why, confirmations=(), visited=(), rejected=(), **common)
    h.say(f"{bname} at δ = {fz['delta']:g}: {plan.initial} initial cells, rungs {list(plan.rungs)} seeds, "
          f"{plan.local_budget} local seeds, {plan.confirm} x {plan.confirm_seeds} confirmation seeds")
    inc = h.refine(h.halving())
    confirmations = h.confirm(inc)
    outcome, why = _decide(confirmations, plan, fz["delta"], a)
    visited = tuple(v for v in h.visited.values() if v is not None and v.n)
    return FalsifyResult(outcome=outcome, reason=why, confirmations=tuple(confirmations), visited=visited,
                         rejected=tuple(h.rejected), invalid=tuple(h.invalid), seeds_used=h.spent, **common)


def falsify(spec_or_path, store=None, budget=None, *, progress=False, threads=None, figure=True):
    """Hunt the box of a spec's ``[falsify]`` table for a certified violation of its bound.

    ``spec_or_path``: a TOML path, a spec dict or a :class:`clipsim.sweep.Sweep`; ``store``: a
    :class:`clipsim.Store` or a directory (every simulated seed chunk is stored there, so a rerun
    resumes; None: nothing stored); ``budget`` overrides ``[falsify] budget`` (total seeds). With a
    store and ``figure=True`` a map of the search is saved as STORE/figures/falsify_<name>.png.
    Returns a :class:`FalsifyResult`. Validity of the verdict: module docstring and docs/falsify.md.
    """
    from . import sweep as S
    from .store import Store

    sw = spec_or_path if isinstance(spec_or_path, S.Sweep) else (
        S.from_spec(spec_or_path) if isinstance(spec_or_path, dict) else S.load(spec_or_path))
    if "falsify" not in sw.spec:
        raise ValueError(f"spec {sw.path or sw.name!r} has no [falsify] table")
    fz = dict(check_table(sw.spec["falsify"], sw.spec))
    if budget is not None:
        fz["budget"] = V.integer("budget", budget, 1, 10**9)
    if store is not None and not isinstance(store, Store):
        store = Store(store)
    problem = SpecProblem(sw, fz, store, threads)
    res = hunt(problem, fz, name=sw.name, seed=problem.root, progress=progress)
    if figure and store is not None and res.visited:
        res = replace(res, figure=plot_search(res, os.path.join(store.path, "figures")))
    return res


# ---- report and figure -----------------------------------------------------------------------
def _markdown(r, top=8):
    p = r.plan
    lines = [f"# falsify {r.name}: {r.bound} at δ = {r.delta:g}", "",
             f"**Outcome: {r.outcome.replace('_', ' ')}** (exit {r.exit_code}). {r.reason}.", "",
             f"Level: a certified violation is claimed only when the exact one-sided binomial test of "
             f"P(Q > B(δ)) <= δ on fresh seeds rejects at level {r.level:g}/{p.confirm} (Bonferroni over "
             f"{p.confirm} confirmed cell(s)); if the bound holds everywhere in the box, the chance of a false "
             f"claim is <= {r.level:g}.", "",
             f"Budget: {p.budget} seeds ({r.seeds_used} used): {p.initial} initial cells, halving rungs "
             f"{list(p.rungs)} seeds per cell, {p.local_budget} seeds for local steps, {p.confirm} x "
             f"{p.confirm_seeds} confirmation seeds. Cells visited: {len(r.visited)}; proposals outside the "
             f"bound's validity conditions (never simulated): {len(r.rejected)}."]
    if r.invalid:
        lines.append(f"Proposals that are not a valid configuration (never simulated): {len(r.invalid)}; first: "
                     f"{r.invalid[0][1][len(INVALID):]}.")
    if math.isfinite(r.detectable):
        lines.append(f"Power: a confirmed cell with P(Q > B) >= {r.detectable:.3g} is certified with "
                     f"probability >= {POWER:.0%}; smaller violations are easily missed.")
    if r.confirmations:
        lines += ["", "## Confirmation (fresh seeds)", "",
                  f"| cell | B(δ) | failures | CI ({1 - 2 * r.level / p.confirm:.4g}) | one-sided p | certified |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {c.label} | {c.bound_value:.4g} | {c.k}/{c.n} | [{c.low:.3g}, {c.high:.3g}] | "
                  f"{c.pvalue:.3g} | {'yes' if c.certified else 'no'} |" for c in r.confirmations]
    worst = sorted(r.visited, key=lambda v: ((v.k() + 0.5) / (v.n + 1), v.score(r.delta)[1]), reverse=True)
    if worst:
        lines += ["", f"## Worst cells of the search (exploratory: biased upward, uncorrected 95% intervals)", "",
                  "| cell | stage | B(δ) | failures | P(Q > B) 95% CI | (1-δ)-quantile / B |", "|---|---|---|---|---|---|"]
        for v in worst[:top]:
            lo, hi = St.clopper_pearson(v.k(), v.n)
            lines.append(f"| {v.label} | {v.stage} | {v.bound_value:.4g} | {v.k()}/{v.n} | [{lo:.3g}, {hi:.3g}] | "
                         f"{v.score(r.delta)[1]:.3g} |")
    if r.figure:
        lines += ["", f"Figure: {r.figure}"]
    lines += ["", "What this does not prove: 'none found' is not 'holds' (only the cells visited were tested, "
              "with the power above); a certified violation is one cell of the box, for this bound's "
              "constants and δ. See docs/falsify.md."]
    return "\n".join(lines) + "\n"


def plot_search(r, out_dir):
    """Scatter of the visited cells over the first two searched paths (or the first against the
    (1-δ)-quantile ratio), colour = estimated P(Q > B), star = confirmed; PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = list(r.visited[0].point)
    cats = {}

    def num(v, p):  # a list entry that is not a number is drawn at its index among the labels seen
        x = v.point[p]
        return x if isinstance(x, (int, float)) else cats.setdefault((p, _show(x)), len(cats))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs = [num(v, paths[0]) if paths else 0 for v in r.visited]
    if len(paths) >= 2:
        ys, ylab = [num(v, paths[1]) for v in r.visited], paths[1]
    else:
        ys, ylab = [v.score(r.delta)[1] for v in r.visited], "(1-δ)-quantile of Q / B(δ)"
    ph = [v.k() / v.n for v in r.visited]
    sc = ax.scatter(xs, ys, c=ph, s=[10 + 4 * math.sqrt(v.n) for v in r.visited], cmap="viridis", alpha=0.8)
    fig.colorbar(sc, ax=ax, label="search estimate of P(Q > B(δ))")
    conf = {c.label for c in r.confirmations}
    for v, x, y in zip(r.visited, xs, ys):
        if v.label in conf:
            ax.scatter([x], [y], marker="*", s=250, facecolor="none", edgecolor="red")
    logs = {a.path for a in r.axes if a.log}
    if paths and paths[0] in logs:
        ax.set_xscale("log")
    if len(paths) >= 2 and paths[1] in logs:
        ax.set_yscale("log")
    ax.set_xlabel(paths[0] if paths else "")
    ax.set_ylabel(ylab)
    ax.set_title(f"falsify {r.bound}, δ={r.delta:g}: {r.outcome.replace('_', ' ')}", fontsize=10)
    path = os.path.join(out_dir, f"falsify_{r.name}.png")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
