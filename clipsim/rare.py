"""Rare-event estimation of a failure probability P(Q > threshold) down to 1e-8.

``tail_probability(objective, noise, optimizer, n_steps=T, metric=Q, threshold=b)`` estimates
``p = P(Q > b)`` for one per-path metric Q of the engine (``avg_grad_sq``, ``final_gap``, ...).

Methods
-------
``"splitting"`` — generalized adaptive multilevel splitting (GAMS) on the whole trajectory
(Cérou & Guyader 2007, doi:10.1080/07362990601139628; unbiasedness of the generalized algorithm with
ties and a discrete-time Markov chain: Bréhier, Gazeau, Goudenège, Lelièvre & Rousset, arXiv 1505.02674).
A replica runs ``particles`` = n paths. Each path has a score ξ_t after every iterate w_t, a function of
the path's state at t, with ξ_{T+1} = Q; the path's level is S = max_t ξ_t ≥ Q. Each iteration kills
the K ≥ k paths with the lowest levels (all paths tied at the k-th lowest level Z die) and replaces each
by a clone of a uniformly chosen survivor, copied up to the first step where the survivor's score
exceeds Z and continued from there with fresh randomness. It stops when the k-th lowest level is ≥ b.
The replica's estimate ``Π_q (1 - K_q/n) · #{Q > b}/n`` is unbiased for E[1{Q > b} 1{S > b}] = p
whatever the score (Bréhier et al. prove unbiasedness for any observable of the paths that reach the
final level; the score only changes the variance). Scores: the running sum for ``avg_grad_sq``/
``avg_grad_norm`` and the running maximum for ``max_dist`` (nondecreasing, equal to Q at the end); for
``final_gap``/``final_grad_sq`` the current value times ``decay^(T+1-t)``, a prediction of the final
value under a contraction by ``decay`` per step.

The interval comes from R independent replicas: the mean of the R replica estimates ± the Student-t
quantile (R - 1 degrees of freedom) times their standard error (lower end clipped at 0). Its level is
asymptotic in R (central limit theorem over replicas); replica estimates are right-skewed, so with
few replicas it can under-cover. The test suite measures its coverage against closed-form answers.

``"is"`` — importance sampling of the one big jump (regularly varying noise): with probability rho one
uniformly chosen (step, coordinate) draw is taken from the noise law conditioned on |X| > a_j, a_j one of
30 jump sizes; exact likelihood ratio; mean of 1{Q > b}·dP/dQ with a normal interval. Only for i.i.d.
symmetric Pareto and Cauchy noise (exact conditional draws), one noise draw per step.

``"mc"`` — plain Monte Carlo: the share of ``budget // T`` independent paths with Q > b and its exact
Clopper-Pearson interval.

When each is efficient (docs/rare_events.md): splitting when the event is built up over many steps
(clipped methods, light tails, slowly contracting final iterates); importance sampling when it is one
huge draw (unclipped methods under heavy tails). Either stays unbiased outside its regime, with a
variance (and an interval) that can be useless there.

Reproducibility: initial path i of replica r uses the engine's stream (seed, r·n + i); the clone
written into slot i at iteration q of replica r reseeds its generator at the branching step from the
stream addressed by (seed, r, q, i), and survivors are chosen by a generator seeded from (seed, r).
Paths are advanced in parallel (the engine's thread pool; the importance-sampling kernel's ``prange``)
and nothing is reduced across paths, so results are bitwise identical for any thread count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit, prange, uint64
from scipy import stats as _sps

from . import _limits
from . import _validate as V
from . import engine as _eng
from . import noise as _noise
from . import objectives as _obj
from . import optimizers as _opt
from . import _stages as _st
from ._rng import randbelow, seed_state, splitmix64, uniform
from .stats import clopper_pearson

#: metrics with a splitting score: "running" (nondecreasing, final value = Q) or "final"
SCORES = {"avg_grad_sq": "running", "avg_grad_norm": "running", "max_dist": "running",
          "final_gap": "final", "final_grad_sq": "final"}
METHODS = ("auto", "splitting", "is", "mc")
_CLONE_TAG = np.uint64(0xC10E5EED5EED0001)  # separates clone streams from the engine's path streams


# ------------------------------------------------------------------------------------------------
# Kernels: reseed clones
# ------------------------------------------------------------------------------------------------
@njit(cache=True)
def _reseed(root, replica, iteration, slots, RNG):
    """Row m of RNG ← the clone stream addressed by (root, replica, iteration, slots[m])."""
    base = splitmix64(splitmix64(uint64(replica)) ^ uint64(iteration))
    for m in range(slots.shape[0]):
        seed_state(root ^ _CLONE_TAG, splitmix64(base ^ uint64(slots[m])), RNG[m])


def _run_to(problem, states, stops):
    """Advance each path m to step stops[m] (exclusive) in parallel; returns the steps taken."""
    before = np.minimum(states.ints[:, 0], problem.n_steps + 1)
    _eng.advance_each(problem, states, stops)
    return int((np.minimum(states.ints[:, 0], problem.n_steps + 1) - before).sum())


def _put(dst, rows, src):
    for name in ("w", "opt_state", "rng", "sums", "ints", "records"):
        getattr(dst, name)[rows] = getattr(src, name)


# ------------------------------------------------------------------------------------------------
# Scores
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Score:
    metric: str
    threshold: float
    decay: float
    typical: float = 0.0  # a typical value of Q (median over pilot paths): the expected future part

    def levels(self, problem, states):
        """(ξ of shape (M, T+1): the score after each iterate w_1..w_{T+1} with ξ_{T+1} = Q; Q of shape (M,))."""
        metrics, rec, _ = _eng.finalise(problem, states)
        T, q = problem.n_steps, metrics[self.metric]
        t = np.minimum(np.arange(1, T + 2), T)
        with np.errstate(invalid="ignore", over="ignore"):
            if self.metric == "avg_grad_sq":
                phi = rec["avg_grad_sq"] * (t / T) + self.typical * (1 - t / T)
            elif self.metric == "avg_grad_norm":
                g = np.sqrt(rec["grad_sq"])
                g[:, -1] = 0.0  # w_{T+1} is not part of the average
                phi = np.cumsum(g, axis=1) / T + self.typical * (1 - t / T)
            elif self.metric == "max_dist":
                phi = np.maximum.accumulate(rec["dist"], axis=1)
            else:
                raw = rec["gap" if self.metric == "final_gap" else "grad_sq"]
                keep = self.decay ** (T + 1 - np.arange(1, T + 2))
                phi = raw * keep + self.typical * (1 - keep)
        q = np.where(np.isnan(q), np.inf, q)
        xi = np.where(np.isnan(phi), np.inf, phi)
        xi[:, -1] = q
        return xi, q


def _default_decay(objective, optimizer, n_steps):
    """(1 - η₁L)² clipped to [1e-6, 1]: the per-step contraction of F - f* under plain gradient descent."""
    eta = float(optimizer.eta.values(n_steps)[0]) if optimizer.eta is not None else 0.0
    a = abs(1.0 - eta * objective.L)
    return 1.0 if a >= 1.0 else max(a * a, 1e-6)


_PILOT_STREAMS = 2**62  # pilot paths use engine streams (seed, 2**62 + i), disjoint from the replicas'


def _pilot_score(problem, metric, thr, decay, n):
    """The score, with ``typical`` = median of Q over n pilot paths (independent of every replica)."""
    st = _eng.init_states(problem, _PILOT_STREAMS + np.arange(n, dtype=np.int64))
    work = _run_to(problem, st, np.full(n, problem.n_steps + 2))
    q = _eng.finalise(problem, st)[0][metric]
    typical = float(np.median(q[np.isfinite(q)])) if np.isfinite(q).any() else 0.0
    return _Score(metric, thr, decay, 0.0 if metric == "max_dist" else typical), work


# ------------------------------------------------------------------------------------------------
# One replica of generalized adaptive multilevel splitting
# ------------------------------------------------------------------------------------------------
def _ams_replica(problem, score, r, n, k, max_iter):
    """One GAMS replica: (estimate, work, iterations, log10 of the splitting weight)."""
    T, thr = problem.n_steps, score.threshold
    cur = _eng.init_states(problem, np.arange(r * n, (r + 1) * n, dtype=np.int64))
    birth = cur.take(np.arange(n))
    work = _run_to(problem, cur, np.full(n, T + 2))
    xi, Q = score.levels(problem, cur)
    S = xi.max(axis=1)
    pick = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(problem.root), 0xA3, r])))
    log_w, q = 0.0, 0
    while True:
        Z = np.partition(S, k - 1)[k - 1]
        if Z >= thr:
            break
        killed = np.flatnonzero(S <= Z)
        survivors = np.flatnonzero(S > Z)
        if survivors.size == 0 or q >= max_iter:
            return 0.0 if survivors.size == 0 else math.nan, work, q, -math.inf
        parents = survivors[pick.integers(0, survivors.size, killed.size)]
        tau = np.argmax(xi[parents] > Z, axis=1) + 1  # first step whose score exceeds Z
        clone = birth.take(parents)
        assert np.all(clone.ints[:, 0] <= tau)
        work += _run_to(problem, clone, tau)  # replay the parent from its birth to the branching step
        _reseed(problem.root, np.int64(r), np.int64(q), killed.astype(np.int64), clone.rng)
        _put(birth, killed, clone)
        work += _run_to(problem, clone, np.full(killed.size, T + 2))
        _put(cur, killed, clone)
        xi[killed], Q[killed] = score.levels(problem, clone)
        S[killed] = xi[killed].max(axis=1)
        log_w += math.log1p(-killed.size / n)
        q += 1
    return math.exp(log_w) * np.count_nonzero(Q > thr) / n, work, q, log_w / math.log(10)


# ------------------------------------------------------------------------------------------------
# Result
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TailEstimate:
    """An estimate of p = P(Q > threshold) with its interval.

    ``estimate``; ``ci`` = (low, high) at level ``confidence``; ``interval`` names how ``ci`` was made;
    ``work`` = total simulated optimizer steps (replays of cloned path prefixes included);
    ``replica_estimates`` (splitting); ``diagnostics`` (particles, kill count, iterations, ...).
    """

    estimate: float
    ci: tuple
    confidence: float
    method: str
    interval: str
    metric: str
    threshold: float
    n_steps: int
    work: int
    replica_estimates: tuple = field(default=(), repr=False)
    diagnostics: dict = field(default_factory=dict, repr=False)

    @property
    def relative_half_width(self):
        lo, hi = self.ci
        return (hi - lo) / (2 * self.estimate) if self.estimate > 0 else math.inf

    def __repr__(self):
        lo, hi = self.ci
        return (f"TailEstimate(P({self.metric} > {self.threshold:.4g}) = {self.estimate:.3g}, "
                f"{self.confidence:.0%} CI [{lo:.3g}, {hi:.3g}], {self.method}, work {self.work:.3g} steps)")

    __str__ = __repr__


def _replica_interval(values, confidence):
    """Mean ± t_{R-1} · s/√R over independent unbiased replica estimates, clipped to [0, 1] (a probability);
    (0, 1) when no replica reached the threshold (no informative upper end)."""
    v = np.asarray(values, dtype=float)
    R, mean = v.size, float(v.mean())
    if R < 2:
        return mean, (0.0, 1.0)
    se = float(v.std(ddof=1)) / math.sqrt(R)
    if se == 0.0 and mean == 0.0:  # no replica reached the threshold: no informative upper end
        return 0.0, (0.0, 1.0)
    h = float(_sps.t.ppf(0.5 + confidence / 2, R - 1)) * se
    return mean, (max(0.0, mean - h), min(1.0, mean + h))


# ------------------------------------------------------------------------------------------------
# Public entry point
# ------------------------------------------------------------------------------------------------
def _validate(objective, noise, optimizer, n_steps, metric, threshold, x0):
    if not isinstance(objective, _obj.Objective):
        raise ValueError(f"objective = {objective!r} is not allowed: must be an Objective from clipsim.objectives.get")
    noise = _noise.none() if noise is None else noise
    if not isinstance(noise, _noise.Noise):
        raise ValueError(f"noise = {noise!r} is not allowed: must be a Noise from clipsim.noise, or None")
    if not isinstance(optimizer, _opt.Optimizer):
        raise ValueError(f"optimizer = {optimizer!r} is not allowed: must be an Optimizer from clipsim.optimizers")
    T = V.integer("n_steps", n_steps, 1, 10**7)
    metric = V.choice("metric", metric, tuple(_eng.METRICS[:8]))
    thr = V.real("threshold", threshold, 0.0, math.inf, lo_open=True, hi_open=True)
    if metric in ("final_gap",) and not math.isfinite(objective.f_star):
        raise ValueError(f"metric = 'final_gap' is not allowed for {objective.name}: its f* is unknown")
    w0 = objective.x0.astype(np.float64) if x0 is None else np.array(x0, dtype=np.float64)
    if w0.shape != (objective.dim,) or not np.all(np.isfinite(w0)):
        raise ValueError(f"x0 has shape {w0.shape}: must be a finite vector of shape ({objective.dim},)")
    return noise, T, metric, thr, w0


def tail_probability(objective, noise, optimizer, *, n_steps, metric, threshold, x0=None, seed=0, method="auto",
                     budget=None, confidence=0.95, replicas=16, particles=200, kill=None, decay=None,
                     max_iter=100_000, rho=0.5, jump=None, threads=None) -> TailEstimate:
    """Estimate P(metric > threshold) for ``optimizer`` on ``objective`` under ``noise`` over ``n_steps`` steps.

    ``method``: "splitting" (adaptive multilevel splitting, unbiased; ``replicas`` independent runs of
    ``particles`` paths killing ``kill`` (default particles/10) per iteration), "is" (importance sampling
    of the one big jump: with probability ``rho`` a path draws one slot's noise beyond a jump size, one
    of 30 scales or ``jump``; iid Pareto or Cauchy noise, one draw per step; docs/rare_events.md), "mc" (plain Monte Carlo with a Clopper-Pearson
    interval over ``budget // n_steps`` paths, default 10^5 paths) or "auto" (splitting where the metric
    has a score, else mc; "is" is only ever chosen explicitly). ``budget`` for splitting: total simulated steps;
    a pilot replica (counted in ``work``, not in the estimate) sizes the number of replicas.
    ``decay`` (final_gap/final_grad_sq): per-step contraction used by the score (default (1 - η₁L)²);
    it changes efficiency, never the expectation. See the module docstring for the interval's validity.
    """
    noise, T, metric, thr, w0 = _validate(objective, noise, optimizer, n_steps, metric, threshold, x0)
    method = V.choice("method", method, METHODS)
    conf = V.real("confidence", confidence, 0.0, 1.0, lo_open=True, hi_open=True)
    if method == "auto":
        method = "splitting" if metric in SCORES else "mc"
    if method == "splitting" and metric not in SCORES:
        raise ValueError(f"metric = {metric!r} is not allowed with method 'splitting': allowed are {', '.join(SCORES)}")
    prev = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(V.integer("threads", threads, 1, numba.config.NUMBA_NUM_THREADS))
    try:
        if method == "is":
            return _importance_sampling(objective, noise, optimizer, T, metric, thr, w0, seed, budget, conf, rho,
                                        jump)
        if method == "mc":
            return _monte_carlo(objective, noise, optimizer, T, metric, thr, w0, seed, budget, conf)
        return _splitting(objective, noise, optimizer, T, metric, thr, w0, seed, budget, conf, replicas,
                          particles, kill, decay, max_iter)
    finally:
        numba.set_num_threads(prev)


def _monte_carlo(objective, noise, optimizer, T, metric, thr, w0, seed, budget, conf):
    n = 100_000 if budget is None else V.integer("budget", budget, T, 10**13) // T
    chunk, hits = max(1, min(n, 200_000)), 0
    for start in range(0, n, chunk):
        res = _eng.simulate(objective, noise, optimizer, n_steps=T, n_seeds=min(chunk, n - start), seed=seed,
                            x0=w0, first_seed=start)
        q = np.where(res.metrics["diverged"], np.inf, res.metrics[metric])
        hits += int(np.count_nonzero(q > thr))
    lo, hi = clopper_pearson(np.int64(hits), np.int64(n), conf)
    return TailEstimate(hits / n, (lo, hi), conf, "mc", "Clopper-Pearson (exact)", metric, thr, T, n * T,
                        diagnostics={"paths": n, "hits": hits})


def _splitting(objective, noise, optimizer, T, metric, thr, w0, seed, budget, conf, replicas, particles, kill,
               decay, max_iter):
    n = V.integer("particles", particles, 2, 10**6)
    k = max(1, n // 10) if kill is None else V.integer("kill", kill, 1, n - 1)
    R = V.integer("replicas", replicas, 2, 10**6)
    max_iter = V.integer("max_iter", max_iter, 1, 10**9)
    if decay is None:
        decay = _default_decay(objective, optimizer, T) if SCORES[metric] == "final" else 1.0
    decay = V.real("decay", decay, 0.0, 1.0, lo_open=True)
    _limits.guard_array(f"splitting paths (particles={n}, n_steps={T})", 4 * n * (T + 1) * (len(_eng.RECORDS) + 1),
                        "use fewer particles or steps")
    problem = _eng.Problem.build(objective, noise, optimizer, T, w0, seed, np.arange(1, T + 2, dtype=np.int64))
    score, work = _pilot_score(problem, metric, thr, float(decay), n)
    first = 0
    if budget is not None:  # a pilot replica sizes R; it is independent of the ones used and not averaged in
        budget = V.integer("budget", budget, 1, 10**15)
        _, pilot_work, _, _ = _ams_replica(problem, score, 0, n, k, max_iter)
        work, first = work + pilot_work, 1
        R = max(2, (budget - pilot_work) // max(pilot_work, 1))
    est, iters, logs = [], [], []
    for r in range(first, first + R):
        p, w, q, lw = _ams_replica(problem, score, r, n, k, max_iter)
        if math.isnan(p):
            raise ValueError(f"max_iter = {max_iter} is too small: replica {r} did not reach the threshold; raise it")
        est.append(p)
        work += w
        iters.append(q)
        logs.append(lw)
    mean, ci = _replica_interval(est, conf)
    return TailEstimate(mean, ci, conf, "splitting", f"Student-t over {R} independent replicas (CLT)", metric, thr,
                        T, work, tuple(est),
                        {"replicas": R, "particles": n, "kill": k, "decay": float(decay),
                         "iterations": tuple(iters), "log10_weight": tuple(logs),
                         "replica_rel_sd": float(np.std(est, ddof=1) / mean) if mean > 0 else math.nan})


# ------------------------------------------------------------------------------------------------
# Importance sampling of the one big jump (regularly varying noise)
# ------------------------------------------------------------------------------------------------
#: noise families whose conditional law given |X| > a and whose P(|X| > a) are exact here
_IS_FAMILIES = ("pareto", "stable α = 1, β = 0 (Cauchy)")


@njit(cache=True)
def _tail_prob(code, params, a):
    """P(|X| > a) for one coordinate: symmetric Lomax (1 + a/s)^(-k); Cauchy (2/π) atan(s/a)."""
    s, k = params[0], params[1]
    if code == _noise.PARETO:
        return (1.0 + a / s) ** (-k)
    return 2.0 / math.pi * math.atan(s / a)


@njit(cache=True)
def _large_draw(code, params, a, state):
    """One coordinate drawn from the noise's law conditioned on |X| > a (exact inverse transforms)."""
    s, k = params[0], params[1]
    u = uniform(state)
    if code == _noise.PARETO:
        x = s * ((1.0 + a / s) * u ** (-1.0 / k) - 1.0)
    else:
        x = s / math.tan(u * math.atan(s / a))
    return x if uniform(state) < 0.5 else -x


@njit(cache=True)
def _is_path(m, rho, alev, plev, ocode, ofp, X, y, fg, sg, pg, f_star, haspop, ncode, nvec, nparams, nwork, nf,
             pmeta, pcodes, ptab, wk, x0, grid, W, OS, RNG, SUMS, INTS, records, LR):
    """Path m from t = 1 under the mixture proposal; LR[m] = its exact likelihood ratio dP/dQ.

    Proposal: with probability rho one (step, coordinate) slot J, uniform among the T·d, has its noise
    drawn from the law given |X| > a_j, j uniform among the K jump sizes ``alev`` (ascending, with
    P(|X| > a_j) = ``plev[j]``); all other draws are nominal. Its density relative to the nominal is
    (1 - rho) + (rho/K) Σ_j #{slots with |X| > a_j} / (T d P(|X| > a_j)) (a defensive mixture of
    Blanchet & Liu style one-big-jump proposals).
    """
    d, T, G = x0.shape[0], ptab.shape[1], grid.shape[0]
    state = RNG[m]
    K = alev.shape[0]
    jump, a = np.int64(-1), alev[0]  # with probability rho, one uniform slot is drawn conditioned on |X| > a_j
    if uniform(state) < rho:
        a = alev[randbelow(state, K)]
        jump = np.int64(randbelow(state, T * d))
    n_large = np.zeros(K)
    w, st, sums = W[m], OS[m], SUMS[m]
    grad, pgrad, g, xi = np.empty(d), np.empty(d), np.empty(d), np.empty(d)
    u = np.empty(d) if pmeta[5] else g
    work, ev, pend = np.empty(max(nwork, 1)), np.zeros(5), np.empty(4)
    cnt = np.zeros(2, dtype=np.int64)
    n_drawn, t, gi = 0, 1, 0
    while t <= T + 1:
        _eng._evaluate(ocode, ofp, X, y, fg, pg, haspop, w, x0, grad, pgrad, ev)
        if not (math.isfinite(ev[0]) and math.isfinite(ev[1])):
            INTS[m, _eng._I_DIV] = t
            break
        _eng._accumulate(t, T, ev, sums)
        while gi < G and grid[gi] == t:
            _eng._record(records, m, gi, ev, f_star, sums[_eng._S_GSQ], min(t, T), haspop)
            gi += 1
        if t == T + 1:
            _eng._finish(ev, grad, pgrad, sums)
        else:
            _st.reset(pend)
            n_drawn += d
            nf(ncode, nvec, nparams, state, xi, work)
            if jump >= 0 and jump // d == t - 1:
                xi[np.int64(jump % d)] = _large_draw(ncode, nparams, a, state)
            for i in range(d):
                for j in range(K):  # alev ascending: stop at the first level not exceeded
                    if abs(xi[i]) <= alev[j]:
                        break
                    n_large[j] += 1.0
                g[i] = (0.0 + grad[i]) + xi[i]
                u[i] = g[i]
            wk(pcodes, ptab, pmeta[1], pmeta[0] - 1, t, 0, w, g, u, st, cnt, pend)
            _st.descend(w, u, ptab[0, t - 1], st, pend)
        t += 1
    INTS[m, _eng._I_T], INTS[m, _eng._I_GI] = t, gi
    sums[_eng._S_NCLIP], sums[_eng._S_NOPS] = cnt[0], cnt[1]
    # dP/dQ on the drawn noise: a diverged path's unseen slots contribute their chance of holding the jump
    mix = 0.0
    for j in range(K):
        mix += n_large[j] / (T * d * plev[j])
    LR[m] = 1.0 / ((1.0 - rho) + rho * (mix / K + (T * d - n_drawn) / (T * d)))


@njit(parallel=True, cache=True)
def _is_paths(rho, alev, plev, ocode, ofp, X, y, fg, sg, pg, f_star, haspop, ncode, nvec, nparams, nwork, nf,
              pmeta, pcodes, ptab, wk, x0, grid, W, OS, RNG, SUMS, INTS, records, LR):
    for m in prange(W.shape[0]):
        _is_path(m, rho, alev, plev, ocode, ofp, X, y, fg, sg, pg, f_star, haspop, ncode, nvec, nparams, nwork, nf,
                 pmeta, pcodes, ptab, wk, x0, grid, W, OS, RNG, SUMS, INTS, records, LR)


def _is_supported(objective, noise, optimizer):
    fam_ok = noise.family == "pareto" or (noise.family == "stable" and noise.shape == 1.0 and noise.beta == 0.0)
    if not fam_ok or noise.vector != "iid":
        raise ValueError(f"noise = {noise} is not allowed with method 'is': allowed are iid {', '.join(_IS_FAMILIES)} "
                         "(their conditional law given |X| > a is exact)")
    if objective.kernels or optimizer.user_stage is not None:
        raise ValueError(f"objective = {objective.name}, optimizer = {optimizer} is not allowed with method 'is': it "
                         "runs built-in objectives and stages only (a user's piece would be compiled into the cached kernel)")
    if objective.finite_sum or optimizer.batch != 1:
        raise ValueError("method = 'is' is not allowed for finite-sum objectives or batch > 1: one noise draw per step only")


def _is_batch(problem, states, rho, alev):
    """Run the fresh paths ``states`` under the proposal; returns their likelihood ratios."""
    code, params = problem.noise_pack[0], problem.noise_pack[2]
    alev = np.ascontiguousarray(alev, dtype=np.float64)
    plev = np.array([_tail_prob(code, params, a) for a in alev])
    LR = np.empty(states.w.shape[0])
    with numba.parallel_chunksize(8):
        _is_paths(float(rho), alev, plev, *problem.kernel_args(), states.w, states.opt_state, states.rng,
                  states.sums, states.ints, states.records, LR)
    return LR


def _importance_sampling(objective, noise, optimizer, T, metric, thr, w0, seed, budget, conf, rho, jump):
    """One-big-jump importance sampling: mean of 1{Q > b}·LR over independent paths, normal (CLT) interval."""
    rho = V.real("rho", rho, 0.0, 1.0, lo_open=True, hi_open=True)
    _is_supported(objective, noise, optimizer)
    n = 100_000 if budget is None else V.integer("budget", budget, 2 * T, 10**13) // T
    problem = _eng.Problem.build(objective, noise, optimizer, T, w0, seed, np.zeros(0, dtype=np.int64))
    if problem.program.meta[2] > 0:
        raise ValueError("method = 'is' is not allowed with per-sample clipping (several noise draws per step)")
    code, params = problem.noise_pack[0], problem.noise_pack[2]
    if jump is None:
        alev = _jump_levels(code, params)
    else:
        alev = np.array([V.real("jump", jump, 0.0, math.inf, lo_open=True, hi_open=True)])
    est, sd = _is_run(problem, metric, thr, rho, alev, n)
    h = float(_sps.norm.ppf(0.5 + conf / 2)) * sd / math.sqrt(n)
    return TailEstimate(est, (max(0.0, est - h), est + h), conf, "is", f"normal (CLT) over {n} independent paths",
                        metric, thr, T, n * T, diagnostics={"paths": n, "rho": rho, "jump_levels": alev.size,
                                                            "rel_sd_per_path": sd / est if est > 0 else math.nan})


#: tail probabilities P(|X| > a_j) of the default jump sizes: 10^(-j/2), j = 1..30
_LEVEL_PROBS = 10.0 ** (-np.arange(1, 31) / 2)


def _jump_levels(code, params):
    """Jump sizes a_j with P(|X| > a_j) = _LEVEL_PROBS[j] (bisection on the exact tail), ascending."""
    out = []
    for target in _LEVEL_PROBS:
        lo, hi = 0.0, 1.0
        while _tail_prob(code, params, hi) > target:
            hi *= 2.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _tail_prob(code, params, mid) > target else (lo, mid)
        out.append(hi)
    return np.array(out)


def _is_run(problem, metric, thr, rho, alev, n):
    """(estimate, per-path sd) of n proposal paths on engine streams 0..n-1, in chunks of 10^5."""
    vals = np.empty(n)
    for s0 in range(0, n, 100_000):
        c = min(100_000, n - s0)
        st = _eng.init_states(problem, s0 + np.arange(c, dtype=np.int64))
        LR = _is_batch(problem, st, rho, alev)
        q = _eng.finalise(problem, st)[0][metric]
        vals[s0:s0 + c] = np.where(np.isnan(q) | (q > thr), LR, 0.0)
    return float(vals.mean()), float(vals.std(ddof=1))


# ------------------------------------------------------------------------------------------------
# Workflow: a sweep cell's plain config; the CLI's failure-prob --method splitting
# ------------------------------------------------------------------------------------------------
def tail_probability_config(config, *, metric, threshold, **kw) -> TailEstimate:
    """:func:`tail_probability` for one cell config (plain data, as in :class:`clipsim.sweep.Cell`)."""
    from . import noise as N, objectives as O, optimizers as P

    return tail_probability(O.from_dict(config["objective"]), N.Noise.from_dict(config["noise"]),
                            P.from_dict(config["optimizer"]), n_steps=config["n_steps"], metric=metric,
                            threshold=threshold, x0=config.get("x0"), seed=config["seed"], **kw)


def decide(result, delta):
    """'violated' if the interval lies above δ, 'holds' if at or below δ, else 'inconclusive'."""
    lo, hi = result.ci
    if lo > delta:
        return "violated"
    if hi <= delta:
        return "holds"
    return "inconclusive"


def failure_probability_cli(sweep, cell_index, bound_name, delta, values, *, method, confidence, replicas,
                            particles, budget=None):
    """``clipsim failure-prob --method splitting|is``: P(Q > B(δ)) for one cell; prints, returns the decision."""
    from .report import failure_decision, failure_probe

    bound, cell, B, unmet = failure_probe(sweep, cell_index, bound_name, delta, values, confidence)
    kw = dict(replicas=replicas, particles=particles) if method == "splitting" else {}
    res = tail_probability_config(cell.config, metric=bound.quantity, threshold=B, method=method,
                                  confidence=confidence, budget=budget, **kw)
    verdict = decide(res, delta)
    print(f"{bound.name} on {sweep.name} [{cell.label()}]: B(δ={delta:g}) = {B:.4g}")
    print(f"{res}; interval: {res.interval}; evidence at δ = {delta:g}: {verdict}")
    return failure_decision(verdict, unmet)


# ------------------------------------------------------------------------------------------------
# Curves and figures
# ------------------------------------------------------------------------------------------------
def failure_curve(objective, noise, optimizer, *, n_steps, metric, bound, deltas, **kw):
    """[(δ, B(δ), TailEstimate of P(Q > B(δ)))] for each δ; ``bound`` is a callable δ → B(δ)."""
    out = []
    for i, delta in enumerate(deltas):
        b = float(bound(delta))
        out.append((float(delta), b, tail_probability(objective, noise, optimizer, n_steps=n_steps, metric=metric,
                                                      threshold=b, **{"seed": i, **kw})))
    return out


def failure_curve_figure(curves, *, title=None):
    """P(Q > B(δ)) versus δ with intervals, one series per label, and the line P = δ (the bound holds
    below it). ``curves``: {label: failure_curve(...)}. Returns a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    lo_all, hi_all = [], []
    for label, rows in curves.items():
        d = np.array([r[0] for r in rows])
        est = np.array([r[2].estimate for r in rows])
        lo = np.array([r[2].ci[0] for r in rows])
        hi = np.array([r[2].ci[1] for r in rows])
        ok = est > 0
        ax.errorbar(d[ok], est[ok], yerr=[est[ok] - np.maximum(lo[ok], est[ok] * 1e-3), np.nan_to_num(hi[ok] - est[ok])],
                    marker="o", ms=4, capsize=3, label=f"{label} ({rows[0][2].method})")
        lo_all += list(d)
        hi_all += list(est[ok])
    span = np.array([min(lo_all), max(lo_all)])
    ax.plot(span, span, "k--", lw=1, label="P = δ")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("δ")
    ax.set_ylabel("P(Q > B(δ))  (95% interval)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def quantile_from_curve(thresholds, estimates, delta):
    """The b with P(Q > b) = δ by log-log interpolation of a decreasing curve of estimates (nan outside)."""
    b, p = np.asarray(thresholds, float), np.asarray(estimates, float)
    ok = p > 0
    lb, lp = np.log(b[ok]), np.log(p[ok])
    order = np.argsort(lp)
    if not ok.any() or not (lp.min() <= math.log(delta) <= lp.max()):
        return math.nan
    return float(np.exp(np.interp(math.log(delta), lp[order], lb[order])))


# ------------------------------------------------------------------------------------------------
# [[check]] rare = "splitting" | "is": P(Q > B(δ)) per (cell, δ), family-wise by Bonferroni
# ------------------------------------------------------------------------------------------------
def rare_check(spec, metric, results, bound_value, confidence):
    """Rare-event estimates of P(Q > B(δ)) for every (cell, δ) of a ``[[check]]`` with ``rare`` set.

    ``bound_value(cell, res, δ)`` gives B(δ). Each interval is at level 1 - (1 - confidence)/m for the
    m (cell, δ) members (Bonferroni), so every "violated"/"holds" holds jointly at ``confidence``
    (as far as the intervals are valid; see the module docstring). Returns {'method', 'level', 'rows',
    'verdict'}; rows are (cell label, δ, B(δ), TailEstimate, decision).
    """
    method = spec["rare"]
    deltas = [d for d in (spec.get("delta") if isinstance(spec.get("delta"), list) else [spec.get("delta")])
              if d is not None]
    if not deltas:
        raise ValueError(f"[[check]] {spec['bound']}: rare = {method!r} needs a delta list")
    level = 1.0 - (1.0 - confidence) / max(1, len(results) * len(deltas))
    kw = {"budget": spec["rare_budget"]} if "rare_budget" in spec else {}
    rows = []
    for cell, res in results:
        for d in deltas:
            B = float(bound_value(cell, res, d))
            r = tail_probability_config(res.config, metric=metric, threshold=B, method=method, confidence=level, **kw)
            rows.append((cell.label(), d, B, r, decide(r, d)))
    dec = [row[4] for row in rows]
    verdict = "violated" if "violated" in dec else ("holds" if all(x == "holds" for x in dec) else "inconclusive")
    return {"method": method, "level": level, "rows": rows, "verdict": verdict}


def rare_lines(ev):
    """Markdown lines of a :func:`rare_check` result (none when ``ev`` is None)."""
    if not ev:
        return []
    lines = [f"**Rare-event check ({ev['method']}): {ev['verdict']}**: P(Q > B(δ)) per (cell, δ), each interval at "
             f"{ev['level']:.6g} (Bonferroni over {len(ev['rows'])} members; {ev['rows'][0][3].interval if ev['rows'] else ''}).",
             "", "| cell | δ | B(δ) | P(Q > B(δ)) [CI] | decision | work (steps) |", "|---|---|---|---|---|---|"]
    for label, d, B, r, dec in ev["rows"]:
        lines.append(f"| {label} | {d:g} | {B:.4g} | {r.estimate:.3g} [{r.ci[0]:.3g}, {r.ci[1]:.3g}] | {dec} | {r.work:.3g} |")
    return lines + [""]
