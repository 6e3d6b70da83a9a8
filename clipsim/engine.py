"""The multi-seed engine: spec → stage program → one cached Numba kernel → per-seed records.

``simulate(objective, noise, optimizer, n_steps=T, n_seeds=M)`` runs M independent paths of T steps,
chunks of paths on a pool of threads (the kernel releases the GIL). Path m draws from the xoshiro256++
stream addressed by (seed, first_seed + m), so results are bitwise identical for any thread count, and
seed m of a 64-seed run equals seed m of an 8-seed run. Nothing is reduced across seeds and ``fastmath``
is off.

One step of a path reads as the data flow (:func:`_advance` → :func:`_update`):
stochastic gradient (:func:`_stoch_grad`) → the optimizer's stages (``clipsim._stages.walk`` over the
packed chain, :class:`clipsim.optimizers.Program`) → the step (``_stages.descend``) → metrics and
records at the next iterate (:func:`_evaluate`, :func:`_accumulate`, :func:`_record`).

Path state is explicit (:class:`PathStates`: iterate, stage states, RNG state, running sums, next
step, record slot), so a caller can stop paths, clone them and restart them mid-trajectory:
``init_states`` → ``advance(problem, states, t_stop)`` (any number of times) → ``finalise``.
``simulate`` is exactly that sequence; splitting ``advance`` never changes a bit.

Memory is O(M × (metrics + record grid)): per seed the kernel streams running sums and minima and
stores values only on the record grid (log-spaced by default), never the trajectory.

Numba cache caveat: ``cache=True`` keys a kernel's cache on its own source file only, so a cached
kernel would keep old code of functions it calls from other modules; ``clipsim._cache`` therefore drops
the package's caches on import whenever any kernel module's source changed.

One kernel, pieces as values (cold start): the objective's functions, the noise fill and the stage
walk reach the step loop as first-class function values (``clipsim._first_class``), not as code
compiled into it. The step loop is compiled once, cached, and serves every built-in configuration; a
process compiles only the sampler, objective and stages it runs (each cached too; a chain's walk is
compiled for its own set of stages, ``_stages.walk_for``). A configuration with a user's own objective,
noise or stage (:mod:`clipsim.user`) runs on a copy of the step loop compiled once per process, which
calls the user's functions directly.

Stochastic gradient: population objectives ``g_t = ∇F(w_t) + ξ_t``; finite-sum objectives
``g_t = ∇f(w_t; z_j) + ξ_t`` with j uniform on [n] (ξ = 0 unless a noise is given). ``batch`` > 1
averages that many draws. A non-finite F(w_t) or ‖∇F(w_t)‖² marks the seed diverged at step t: its
remaining metrics and records are +inf and the other seeds go on.
"""
from __future__ import annotations

import concurrent.futures as _futures
import functools
import math
import os
import platform
import time
import types
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit

from . import _limits
from .provenance import fingerprint as _fingerprint, provenance as _provenance
from . import _validate as V
from . import noise as _noise
from . import objectives as _obj
from . import _stages as _st
from . import optimizers as _opt
from ._rng import randbelow, root_seed, seed_state
from ._views import borrow as _borrow

#: per-seed scalar metrics, in kernel column order
METRICS = ("avg_grad_sq", "min_grad_sq", "final_grad_sq", "final_gap", "final_value", "avg_grad_norm",
           "clip_fraction", "max_dist", "diverged", "diverged_step",
           "avg_pop_grad_sq", "final_pop_grad_sq", "final_pop_gap", "final_gen_gap", "final_grad_dev")
#: values stored on the record grid (at w_t, t = grid step)
RECORDS = ("grad_sq", "gap", "avg_grad_sq", "dist", "pop_grad_sq", "gen_gap")
_POP_METRICS = METRICS[10:]
_POP_RECORDS = RECORDS[4:]

# Fewest paths per chunk of work handed to a thread (advance_each). Dynamic chunks of a few paths, not one
# static block per thread: on a shared machine a thread whose core is busy takes fewer chunks.
_CHUNK = 8
# Below this cost (steps x (d + 16), about 2 ms of work) a call runs on the calling thread: waking pool
# threads and passing the GIL around costs more than the parallel part saves (rare-event splitting
# makes thousands of such calls).
_POOL_MIN_WORK = 1 << 16



# ------------------------------------------------------------------------------------------------
# Kernel: stochastic gradient → stages → step → records, for one path from step t0 to t1
# ------------------------------------------------------------------------------------------------
# A path's complete state lives in arrays indexed by path (see PathStates): the iterate W[m], the
# stage state OS[m], the xoshiro state RNG[m], running sums SUMS[m] and counters INTS[m] (next
# step t, next record slot, divergence step). A kernel call loads them, advances, and stores them.
(_S_GSQ, _S_GN, _S_PGSQ, _S_MIN, _S_MAXD2, _S_NCLIP, _S_NOPS,
 _S_FVAL, _S_FGSQ, _S_PVAL, _S_PFGSQ, _S_DEV2) = range(12)
_N_SUMS = 12
_I_T, _I_GI, _I_DIV = range(3)
_N_INTS = 4


@njit(cache=True)
def _stoch_grad(ocode, ofp, X, y, sg, w, grad, ncode, nvec, nparams, nf, state, xi, work, out, count):
    """out = mean over ``count`` draws of a stochastic gradient at w (``grad`` holds ∇F(w))."""
    d = w.shape[0]
    n = X.shape[0]
    if count == 1 and n == 0 and ncode != _noise.NONE:  # the common case, one fused loop
        nf(ncode, nvec, nparams, state, xi, work)
        for i in range(d):
            out[i] = (0.0 + grad[i]) + xi[i]  # bitwise the general path's (0 + grad) + xi
        return
    for i in range(d):
        out[i] = 0.0
    for _ in range(count):
        if n > 0:
            j = np.int64(randbelow(state, n))
            sg(ocode, ofp, X, y, w, j, xi)
            for i in range(d):
                out[i] += xi[i]
        else:
            for i in range(d):
                out[i] += grad[i]
        if ncode != _noise.NONE:
            nf(ncode, nvec, nparams, state, xi, work)
            for i in range(d):
                out[i] += xi[i]
    if count > 1:
        inv = 1.0 / count
        for i in range(d):
            out[i] *= inv


@njit(cache=True, inline="always")
def _update(t, pmeta, pcodes, ptab, wk, ocode, ofp, X, y, sg, ncode, nvec, nparams, nf, state, w, grad, g, u,
            mb, xi, work, st, cnt, pend):
    """One step at w_t: stochastic gradient → stages → step (``u`` may be ``g`` itself)."""
    n_st, n_in, A, batch = pmeta[0], pmeta[1], pmeta[2], pmeta[3]
    _st.reset(pend)
    if A > 0:  # per_sample: the inner stages on each micro-batch mean, then their average
        for i in range(u.shape[0]):
            u[i] = 0.0
        for a in range(A):
            _stoch_grad(ocode, ofp, X, y, sg, w, grad, ncode, nvec, nparams, nf, state, xi, work, mb, batch // A)
            wk(pcodes, ptab, 0, n_in, t, a, w, mb, mb, st, cnt, pend)
            _st.materialize(mb, st, pend)
            for i in range(u.shape[0]):
                u[i] += mb[i] / A
    else:
        _stoch_grad(ocode, ofp, X, y, sg, w, grad, ncode, nvec, nparams, nf, state, xi, work, g, batch)
        if pmeta[5]:  # a stage reads the raw gradient: keep g, work on a copy
            for i in range(u.shape[0]):
                u[i] = g[i]
    wk(pcodes, ptab, n_in, n_st - 1, t, 0, w, g, u, st, cnt, pend)
    _st.descend(w, u, ptab[0, t - 1], st, pend)


@njit(cache=True, inline="always")
def _evaluate(ocode, ofp, X, y, fg, pg, haspop, w, x0, grad, pgrad, out):
    """out = (F(w), ‖∇F(w)‖², ‖w - x0‖², population F, its ‖∇‖²); grad/pgrad filled."""
    out[0] = fg(ocode, ofp, X, y, w, grad)
    gsq = 0.0
    dist2 = 0.0
    for i in range(w.shape[0]):  # two independent chains in one loop (each summed in index order)
        gsq += grad[i] * grad[i]
        dist2 += (w[i] - x0[i]) ** 2
    out[1] = gsq
    out[2] = dist2
    if haspop:
        out[3] = pg(ocode, ofp, X, y, w, pgrad)
        pgsq = 0.0
        for i in range(w.shape[0]):
            pgsq += pgrad[i] * pgrad[i]
        out[4] = pgsq


@njit(cache=True, inline="always")
def _accumulate(t, T, ev, sums):
    """Running metrics after evaluating w_t (sums over t ≤ T; the distance over t ≤ T + 1)."""
    if t <= T:
        sums[_S_GSQ] += ev[1]
        sums[_S_GN] += math.sqrt(ev[1])
        sums[_S_PGSQ] += ev[4]
        if ev[1] < sums[_S_MIN]:
            sums[_S_MIN] = ev[1]
    if ev[2] > sums[_S_MAXD2]:  # sqrt is monotone: one sqrt of the max at the end
        sums[_S_MAXD2] = ev[2]


@njit(cache=True, inline="always")
def _record(records, m, gi, ev, f_star, sum_gsq, t, haspop):
    records[m, gi, 0] = ev[1]
    records[m, gi, 1] = ev[0] - f_star
    records[m, gi, 2] = sum_gsq / t
    records[m, gi, 3] = math.sqrt(ev[2])
    if haspop:
        records[m, gi, 4] = ev[4]
        records[m, gi, 5] = ev[3] - ev[0]


@njit(cache=True, inline="always")
def _finish(ev, grad, pgrad, sums):
    """Keep the values at w_{T+1} for the final metrics."""
    sums[_S_FVAL] = ev[0]
    sums[_S_FGSQ] = ev[1]
    sums[_S_PVAL] = ev[3]
    sums[_S_PFGSQ] = ev[4]
    dev = 0.0
    for i in range(grad.shape[0]):
        dev += (pgrad[i] - grad[i]) ** 2
    sums[_S_DEV2] = dev


@njit(cache=True, inline="always")
def _copy(dst, src):
    """dst[:] = src for equal lengths, as a loop: a slice assignment's shape check compiles an error
    formatter (about a second of cold start)."""
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@njit(cache=True, inline="always")
def _carve(block, o, n, stride):
    """(block[o:o+n], the next offset o + stride): one per-path array on its own 64-byte boundary (a
    borrowed view: ``block`` must outlive it)."""
    return _borrow(block[o:o + n]), o + stride


@njit(cache=True, nogil=True)
def _advance(m0, m1, stops, ocode, ofp, X, y, fg, sg, pg, f_star, haspop, ncode, nvec, nparams, nwork, nf, pmeta,
             pcodes, ptab, wk, x0, grid, W, OS, RNG, SUMS, INTS, records, block, rng_block, cnt_block):
    """Advance each path m in m0..m1-1 from its step INTS[m, t] to stops[m] (exclusive; T + 2 finishes
    it). Serial and without the GIL: ``advance_each`` runs chunks of paths on a thread pool. (One
    function, not a per-path one called in a loop: each compiled layer costs Numba another optimisation
    of everything below it, about a second of cold start.) ``block``, ``rng_block`` and ``cnt_block`` are
    the call's scratch (:func:`_scratch`), reused path after path: allocated by the caller, because
    ``np.empty``/``np.zeros`` inside the kernel cost about 0.4 s of cold start."""
    d, T, G = x0.shape[0], ptab.shape[1], grid.shape[0]
    ofp, X, y, nparams, pmeta, pcodes, ptab = _borrow(ofp), _borrow(X), _borrow(y), _borrow(nparams), \
        _borrow(pmeta), _borrow(pcodes), _borrow(ptab)
    x0, grid, W, OS, RNG, SUMS, INTS, records = _borrow(x0), _borrow(grid), _borrow(W), _borrow(OS), \
        _borrow(RNG), _borrow(SUMS), _borrow(INTS), _borrow(records)
    # All per-path scratch is carved from one block (reused by each path in turn), each array on its
    # own 64-byte boundary. Small separate allocations landed at placements that made the vectorised
    # noise loops ~2.8x slower on worker threads (measured: 1 vs 2 threads scaled 1.15x; carved: see
    # benchmarks/RESULTS.md).
    stride = (d + 7) // 8 * 8
    S = OS.shape[1]
    o = (64 - block.ctypes.data % 64) % 64 // 8
    w, o = _carve(block, o, d, stride)
    grad, o = _carve(block, o, d, stride)
    pgrad, o = _carve(block, o, d, stride)
    g, o = _carve(block, o, d, stride)
    u, o = _carve(block, o, d, stride)
    if not (pmeta[5] or pmeta[2] > 0):
        u = g  # no stage needs the raw gradient: stages work on g in place
    mb, o = _carve(block, o, d, stride)
    xi, o = _carve(block, o, d, stride)
    # two strides between the noise output and its work buffer, as in the fused kernel this replaced
    # (measured: with less room, e.g. 0 or 1 slot, the stable fill ran 2-3x slower)
    ev, o = _carve(block, o, 5, 8)
    pend, o = _carve(block, o, 4, 2 * stride - 8)
    work, o = _carve(block, o, nwork, (nwork + 7) // 8 * 8)
    st = _borrow(block[o:o + S])
    state = _borrow(rng_block[:4])
    cnt = _borrow(cnt_block[:2])
    for m in range(m0, m1):
        t1 = stops[m]
        t, gi = INTS[m, _I_T], INTS[m, _I_GI]
        if INTS[m, _I_DIV] > 0 or t > T + 1:
            continue
        _copy(state, RNG[m])
        _copy(w, W[m])
        _copy(st, OS[m])
        sums = SUMS[m]
        cnt[0], cnt[1] = int(sums[_S_NCLIP]), int(sums[_S_NOPS])
        ev[3] = 0.0
        ev[4] = 0.0
        while t < t1 and t <= T + 1:  # iterate w_t; the step is skipped at t = T + 1
            _evaluate(ocode, ofp, X, y, fg, pg, haspop, w, x0, grad, pgrad, ev)
            if not (math.isfinite(ev[0]) and math.isfinite(ev[1])):
                INTS[m, _I_DIV] = t
                break
            _accumulate(t, T, ev, sums)
            while gi < G and grid[gi] == t:
                _record(records, m, gi, ev, f_star, sums[_S_GSQ], min(t, T), haspop)
                gi += 1
            if t == T + 1:
                _finish(ev, grad, pgrad, sums)
            else:
                _update(t, pmeta, pcodes, ptab, wk, ocode, ofp, X, y, sg, ncode, nvec, nparams, nf, state, w, grad,
                        g, u, mb, xi, work, st, cnt, pend)
            t += 1
        INTS[m, _I_T], INTS[m, _I_GI] = t, gi
        sums[_S_NCLIP], sums[_S_NOPS] = cnt[0], cnt[1]
        _copy(RNG[m], state)
        _copy(W[m], w)
        _copy(OS[m], st)


def _scratch(problem, states):
    """Scratch for one call of :func:`_advance` (a path's vectors, carved 64-byte aligned, then its RNG
    state and clip counters): fresh arrays per call, so concurrent calls never share."""
    d, nwork, S = problem.objective.dim, int(problem.noise_pack[3]), states.opt_state.shape[1]
    stride = (d + 7) // 8 * 8
    return (np.empty(8 + 9 * stride + (nwork + 7) // 8 * 8 + S), np.empty(8, dtype=np.uint64),
            np.empty(2, dtype=np.int64))


@njit(cache=True)
def _init_paths(root, seeds, x0, pcodes, ptab, W, OS, RNG, SUMS, INTS):
    d = x0.shape[0]
    for m in range(seeds.shape[0]):
        seed_state(root, np.uint64(seeds[m]), RNG[m])
        _copy(W[m], x0)
        _st.init_state(pcodes, ptab, OS[m], d)
        SUMS[m] = 0.0
        SUMS[m, _S_MIN] = np.inf
        INTS[m] = 0
        INTS[m, _I_T] = 1


# ------------------------------------------------------------------------------------------------
# Python front
# ------------------------------------------------------------------------------------------------
def versions():
    """Versions of everything that determines the numbers."""
    from . import __version__

    return {"clipsim": __version__, "numpy": np.__version__, "numba": numba.__version__,
            "python": platform.python_version()}


@dataclass(repr=False)
class SimResult:
    """Per-seed metrics (arrays of shape (n_seeds,)) and records (shape (n_seeds, grid)) of one run.

    ``config`` is plain data (objective, noise, optimizer, n_steps, n_seeds, seed, first_seed, x0,
    record_steps); ``meta`` holds versions, thread count and wall time; ``final_iterate`` is w_{T+1}
    per seed, shape (n_seeds, d) (non-finite for a diverged seed). ``diverged`` is boolean and
    ``diverged_step`` the step whose iterate was non-finite (0 if none).
    """

    metrics: dict
    records: dict
    record_steps: np.ndarray
    config: dict
    meta: dict
    final_iterate: np.ndarray = field(repr=False, default=None)
    objective: _obj.Objective = field(repr=False, compare=False, default=None)
    noise: _noise.Noise = field(repr=False, compare=False, default=None)
    optimizer: _opt.Optimizer = field(repr=False, compare=False, default=None)

    @property
    def n_seeds(self):
        return int(self.config["n_seeds"])

    @property
    def n_steps(self):
        return int(self.config["n_steps"])

    def theory_values(self, alpha=None):
        """Values of the canonical ``theory`` symbols that this run determines.

        T, d, L, Delta (F(w_1) - f*), eta and lam (first-step values), beta, B, n, mu and the noise's
        tail index. With ``alpha`` (the assumed moment order, below the tail index) also
        ``alpha`` and ``sigma = (E‖ξ‖^α)^(1/α)`` where the noise gives it in closed form.
        """
        obj, opt, T = self.objective, self.optimizer, self.n_steps
        x0 = np.asarray(self.config["x0"], dtype=float) if self.config.get("x0") is not None else obj.x0
        vals = {"T": T, "d": obj.dim, "L": obj.L, "B": opt.batch,
                "eta": float(opt.eta.values(T)[0]), "tail_index": self.noise.tail_index}
        if math.isfinite(obj.f_star):
            vals["Delta"] = obj.value(x0) - obj.f_star
        if opt.clip is not None:
            vals["lam"] = float(opt.clip.values(T)[0])
        if opt.has_momentum:
            vals["beta"] = opt.beta
        if obj.finite_sum:
            vals["n"] = obj.n
        if math.isfinite(obj.mu):
            vals["mu"] = obj.mu
        if alpha is not None:
            vals["alpha"] = alpha
            try:
                mom = self.noise.norm_moment(alpha, obj.dim)
                if math.isfinite(mom):
                    vals["sigma"] = mom ** (1.0 / alpha)
            except ValueError:
                pass
        return vals

    def _median(self, name):
        a = np.asarray(self.metrics[name], dtype=float)
        fin = a[np.isfinite(a)]
        return float(np.median(fin)) if fin.size else math.nan

    def __str__(self):
        return (f"SimResult({self.config['optimizer']['name']} on {self.objective}, noise {self.noise}, "
                f"T={self.n_steps}, seeds={self.n_seeds}, median avg_grad_sq={self._median('avg_grad_sq'):.4g}, "
                f"diverged={int(self.metrics['diverged'].sum())})")

    __repr__ = __str__  # short: never an array dump

    def _repr_html_(self):
        """A small HTML summary for notebooks: the setting and each metric's median, mean and range."""
        import html

        rows = []
        for k, v in self.metrics.items():
            a = np.asarray(v, dtype=float)
            fin = a[np.isfinite(a)]
            cells = [f"{x:.4g}" for x in ((np.median(fin), fin.mean(), fin.min(), fin.max()) if fin.size else [math.nan] * 4)]
            rows.append(f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{c}</td>" for c in cells)
                        + f"<td>{a.size - fin.size}</td></tr>")
        head = html.escape(f"{self.optimizer or self.config['optimizer']['name']} on {self.objective}, noise "
                           f"{self.noise}, T={self.n_steps}, seeds={self.n_seeds}")
        return (f"<div><b>SimResult</b>: {head}<table><tr><th>metric</th><th>median</th><th>mean</th><th>min</th>"
                f"<th>max</th><th>non-finite</th></tr>{''.join(rows)}</table></div>")

    def to_frame(self, records=False):
        """One row per seed (pandas DataFrame): ``seed`` (the stream index) and every metric; with
        ``records=True`` also one column per record and step, named ``grad_sq@t``."""
        import pandas as pd  # lazily: pandas is optional (the ``frames`` extra)

        first = int(self.config.get("first_seed", 0))
        cols = {"seed": np.arange(first, first + self.n_seeds, dtype=np.int64)}
        cols.update({k: np.asarray(v) for k, v in self.metrics.items()})
        if records:
            for name, arr in self.records.items():
                for j, t in enumerate(self.record_steps):
                    cols[f"{name}@{int(t)}"] = arr[:, j]
        return pd.DataFrame(cols)


def warmup():
    """Compile (or load) every built-in piece with tiny runs: ``make venv`` calls it after installing, so
    the first real ``simulate`` in a fresh environment loads machine code instead of compiling it. The
    step loop (one for all), every noise family's sampler (stable laws: generic alpha, 1 and 2; radial
    vectors), every objective, and the stage walk of every preset. Returns the seconds taken."""
    t0 = time.perf_counter()
    obj, opt, P = _obj.get("quadratic", 2), _opt.clipped_sgd(0.1, 1.0), _opt
    noises = (_noise.stable(1.5), _noise.stable(1.0), _noise.stable(2.0), _noise.gaussian(), _noise.pareto(2.5),
              _noise.student_t(3.0), _noise.lomax(2.5), _noise.none(), _noise.stable(1.5, vector="radial"))
    rules = [P.sgd(0.1), P.clipped_adagrad(0.1, 1.0), P.normalized_momentum(0.1, 1.0, 0.9), P.delta_gclip(0.1),
             P.ps_clip_sgd(0.1, 1.0, 2), P.sibert(0.1, 0.01), P.sign_sgd(0.1), P.sign_sgd(0.1, beta=0.9),
             P.majority_vote(0.1, 2), P.normalized_sgd(0.1), P.normalized_sgd(0.1, 0.9), P.clipped_adam(0.1, 1.0),
             P.adagrad_momentum(0.1, 0.9)] + [P.clipped_momentum(0.1, 1.0, 0.9, order=o) for o in P.ORDERS]
    runs = [(obj, noise, opt) for noise in noises] + [(obj, _noise.none(), rule) for rule in rules]
    runs += [(_obj.get(name, 4), _noise.none(), opt) for name in _obj.NAMES]
    for o, noise, rule in runs:
        simulate(o, noise, rule, n_steps=2, n_seeds=1, record=2)
    return time.perf_counter() - t0


def record_grid(n_steps, record):
    """The record steps: None → none; an int G → about G log-spaced steps in [1, T+1]; or explicit steps."""
    if record is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        G = V.integer("record", record, 1, 100_000)
        return np.unique(np.round(np.logspace(0.0, math.log10(n_steps + 1), G)).astype(np.int64))
    steps = np.asarray(record)
    if steps.ndim != 1 or steps.size == 0 or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(f"record = {record!r} is not allowed: must be None, a number of grid points, or a list of steps")
    if steps.min() < 1 or steps.max() > n_steps + 1:
        raise ValueError(f"record steps span [{steps.min()}, {steps.max()}]: must lie in [1, n_steps + 1 = {n_steps + 1}]")
    return np.unique(steps.astype(np.int64))


# ------------------------------------------------------------------------------------------------
# Path states: initialise, advance, finalise (simulate is built on these; so can restarts/cloning)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Everything a path's kernel reads that does not change along the path: objective, noise and
    stage program packed for horizon T, the start x0, the root seed and the record grid."""

    objective: _obj.Objective
    noise: _noise.Noise
    optimizer: _opt.Optimizer
    n_steps: int
    x0: np.ndarray
    root: np.uint64
    grid: np.ndarray
    program: _opt.Program
    noise_pack: tuple
    objective_fns: tuple
    noise_fn: object
    walk: object

    @classmethod
    def build(cls, objective, noise, optimizer, n_steps, x0, seed, grid):
        ncode, nvec, nparams = noise.pack()
        pack = (np.int64(ncode), np.int64(nvec), np.ascontiguousarray(nparams, dtype=np.float64),
                np.int64(_noise.noise_work_size(objective.dim)))
        program = optimizer.pack(n_steps, objective.dim)
        stage = optimizer.user_stage
        walk = _user_walk(stage) if stage is not None else _st.walk_for(program.codes)
        if isinstance(noise, _noise.UserNoise):
            fill = _user_noise_fill(noise.fill)
        else:
            fill = _noise.fill_function(ncode, nvec, nparams)
        return cls(objective, noise, optimizer, n_steps, x0, root_seed(seed), grid, program, pack,
                   _obj.kernels(objective), fill, walk)

    def kernel_args(self):
        o, p = self.objective, self.program
        return (np.int64(o.code), o.fparams, o.X, o.y, *self.objective_fns, float(o.f_star),
                bool(o.has_population), *self.noise_pack, self.noise_fn, p.meta, p.codes, p.sched, self.walk, self.x0,
                self.grid)


@dataclass
class PathStates:
    """The complete state of M paths (row m = path m), enough to stop and restart any path mid-way.

    ``w`` iterate (M, d); ``opt_state`` stage states (M, S); ``rng`` xoshiro256++ states (M, 4);
    ``sums`` running metric sums (M, 12); ``ints`` (M, 4): next step t, next record slot, divergence
    step; ``records`` (M, grid, len(RECORDS)). Copy rows (``take``) to clone particles.
    """

    w: np.ndarray
    opt_state: np.ndarray
    rng: np.ndarray
    sums: np.ndarray
    ints: np.ndarray
    records: np.ndarray

    @property
    def t(self):
        """The next step of each path (T + 2 when finished)."""
        return self.ints[:, _I_T]

    def take(self, rows):
        """A copy of the states of the given rows (a clone of those paths)."""
        return PathStates(*(np.ascontiguousarray(a[rows]) for a in
                            (self.w, self.opt_state, self.rng, self.sums, self.ints, self.records)))


# ------------------------------------------------------------------------------------------------
# The kernel: one cached step loop for every built-in configuration; a per-process copy for users'
# ------------------------------------------------------------------------------------------------
_STEP_LOOP = ("_stoch_grad", "_evaluate", "_update", "_advance")  # the functions the copy replaces


def _kernel(problem):
    """The advance kernel for ``problem``. The objective, the noise fill and the stage walk arrive as
    arguments: first-class function values for built-in pieces (``clipsim._first_class``), so the one
    cached :func:`_advance` serves every built-in objective, noise and chain, and a process compiles only
    the pieces it runs. A configuration with a user's piece (:mod:`clipsim.user`) passes the user's
    jitted functions themselves, called directly so that their exceptions propagate, to a copy of the
    step loop compiled once per process (:func:`_user_kernel`)."""
    o, n, opt = problem.objective, problem.noise, problem.optimizer
    if o.kernels or isinstance(n, _noise.UserNoise) or opt.user_stage is not None:
        return _user_kernel()
    return _advance


@functools.cache
def _user_kernel():
    """A copy of the step loop (same bytecode) that is never cached: it is compiled with the user's
    functions as part of its argument types, which no cache can key."""
    g = dict(globals())
    for name in _STEP_LOOP:
        orig = globals()[name]
        py = orig.py_func
        fn = types.FunctionType(py.__code__, g, name, py.__defaults__, py.__closure__)
        opts = {k: v for k, v in orig.targetoptions.items() if k in ("inline", "nogil")}
        g[name] = njit(**opts)(fn)
    return g["_advance"]


@functools.cache
def _user_noise_fill(fill):
    """The user's sampler ``fill(state, out)`` behind the fill signature (compiled once per process)."""
    @njit
    def noise_fill(code, vector_code, params, state, out, work):
        fill(state, out)
    return noise_fill


@functools.cache
def _user_walk(fn):
    """The stage walk of a chain with the user's stage ``fn`` (compiled once per process)."""
    @njit
    def walk(codes, ptab, k0, k1, t, a, w, graw, u, st, cnt, pend):
        for k in range(k0, k1):
            if codes[k, 0] == _opt.USER:
                _st.materialize(u, st, pend)
                r, n, size, off = codes[k, 1], codes[k, 2] & 0xFFFF, codes[k, 2] >> 16, codes[k, 3]
                hit = fn(t, u, w, ptab[r:r + n, t - 1], st[off:off + size])
                if hit > 1 or hit < -1:
                    raise ValueError("a user stage returned a value other than 1 (clipped), 0 (did not clip) "
                                     "or -1 (not a clipping operation)")
                if hit >= 0:  # a clipping operation: counts toward clip_fraction
                    cnt[0] += hit
                    cnt[1] += 1
            else:
                _st.walk(codes, ptab, k, k + 1, t, a, w, graw, u, st, cnt, pend)
    return walk


def init_states(problem, seeds) -> PathStates:
    """States at t = 1 for the paths with the given stream indices (path m uses (root, seeds[m]))."""
    seeds = np.ascontiguousarray(seeds, dtype=np.int64)
    M, d = seeds.size, problem.objective.dim
    S = int(problem.program.meta[4])
    st = PathStates(np.empty((M, d)), np.empty((M, S)), np.empty((M, 4), dtype=np.uint64),
                    np.empty((M, _N_SUMS)), np.empty((M, _N_INTS), dtype=np.int64),
                    np.zeros((M, problem.grid.size, len(RECORDS))))
    _init_paths(problem.root, seeds, problem.x0, problem.program.codes, problem.program.sched, st.w,
                st.opt_state, st.rng, st.sums, st.ints)
    return st


def advance(problem, states, t_stop=None):
    """Advance every path in place up to step ``t_stop`` (exclusive; default: finish, T + 2).

    Steps already taken are not repeated; diverged paths stay where they diverged.
    """
    t1 = problem.n_steps + 2 if t_stop is None else int(t_stop)
    advance_each(problem, states, np.full(states.w.shape[0], t1, dtype=np.int64))


def advance_each(problem, states, stops):
    """Advance each path m in place up to its own step ``stops[m]`` (exclusive), on ``numba.get_num_threads()``
    threads: chunks of at least ``_CHUNK`` paths go to whichever thread of the process's pool is free,
    and a call worth less than ``_POOL_MIN_WORK`` runs on the calling thread. Paths are independent and
    write only their own rows, so the schedule never changes a result."""
    kernel, M = _kernel(problem), states.w.shape[0]
    stops = np.ascontiguousarray(stops, dtype=np.int64)
    args = (stops, *problem.kernel_args(), states.w, states.opt_state, states.rng, states.sums, states.ints,
            states.records)
    steps = np.maximum(np.minimum(stops, problem.n_steps + 2) - states.ints[:, _I_T], 0)
    work = int(steps.sum()) * (problem.objective.dim + 16)  # cost: a step's own overhead is ~16 coordinates
    n_threads = min(numba.get_num_threads(), -(-M // _CHUNK))
    if n_threads <= 1 or work < _POOL_MIN_WORK:  # handing work to threads costs more than it saves
        kernel(np.int64(0), np.int64(M), *args, *_scratch(problem, states))
        return
    # at least _CHUNK paths and about _POOL_MIN_WORK of cost per call, so that the GIL-holding call
    # overhead (tens of µs) stays negligible; at most M / (4 threads) for balance
    chunk = max(_CHUNK, min(-(-_POOL_MIN_WORK * M // work), M // (4 * n_threads)))
    pool = _pool(n_threads)
    for f in [pool.submit(kernel, np.int64(m), np.int64(min(m + chunk, M)), *args, *_scratch(problem, states))
              for m in range(0, M, chunk)]:
        f.result()


_POOLS = {}


def _pool(n_threads):
    """A thread pool of ``n_threads`` kept for the process (starting threads per call made rare-event
    splitting, thousands of short calls, 3x slower); keyed by pid so a forked child makes its own."""
    key = (os.getpid(), n_threads)
    if key not in _POOLS:
        _POOLS[key] = _futures.ThreadPoolExecutor(n_threads, thread_name_prefix="clipsim")
    return _POOLS[key]


def finalise(problem, states):
    """(metrics, records, final iterates) of finished paths, as ``simulate`` returns them."""
    T, obj = problem.n_steps, problem.objective
    s, div_at = states.sums, states.ints[:, _I_DIV]
    div = div_at > 0
    nops = s[:, _S_NOPS]
    m = {"avg_grad_sq": s[:, _S_GSQ] / T, "min_grad_sq": s[:, _S_MIN].copy(), "final_grad_sq": s[:, _S_FGSQ].copy(),
         "final_gap": s[:, _S_FVAL] - obj.f_star, "final_value": s[:, _S_FVAL].copy(),
         "avg_grad_norm": s[:, _S_GN] / T,
         "clip_fraction": np.where(nops > 0, s[:, _S_NCLIP] / np.where(nops > 0, nops, 1.0), 0.0),
         "max_dist": np.sqrt(s[:, _S_MAXD2]), "diverged": div, "diverged_step": div_at.astype(np.int64)}
    if obj.has_population:
        m.update({"avg_pop_grad_sq": s[:, _S_PGSQ] / T, "final_pop_grad_sq": s[:, _S_PFGSQ].copy(),
                  "final_pop_gap": s[:, _S_PVAL] - obj.pop_f_star, "final_gen_gap": s[:, _S_PVAL] - s[:, _S_FVAL],
                  "final_grad_dev": np.sqrt(s[:, _S_DEV2])})
    for k in m:
        if k not in ("min_grad_sq", "clip_fraction", "diverged", "diverged_step"):
            m[k][div] = np.inf
    recs = states.records.copy()
    for i in np.flatnonzero(div):
        recs[i, states.ints[i, _I_GI]:, :] = np.inf
    rec = {name: recs[:, :, k].copy() for k, name in enumerate(RECORDS)
           if problem.grid.size and (obj.has_population or name not in _POP_RECORDS)}
    return {k: m[k] for k in METRICS if k in m}, rec, states.w.copy()


def simulate(objective, noise, optimizer, *, n_steps, n_seeds, seed=0, x0=None, record=None, first_seed=0,
             threads=None) -> SimResult:
    """Run ``n_seeds`` independent paths of ``n_steps`` steps of ``optimizer`` on ``objective``.

    ``noise`` is a :class:`clipsim.noise.Noise` (or None for no additive noise). Path m uses the stream
    (seed, first_seed + m). ``record``: None, a number of log-spaced grid points, or explicit steps in
    [1, n_steps + 1]. ``threads``: threads for this call (default: ``numba.get_num_threads()``, which is
    NUMBA_NUM_THREADS unless set).
    """
    if not isinstance(objective, _obj.Objective):
        raise ValueError(f"objective = {objective!r} is not allowed: must be an Objective from clipsim.objectives.get")
    if noise is None:
        noise = _noise.none()
    if not isinstance(noise, _noise.Noise):
        raise ValueError(f"noise = {noise!r} is not allowed: must be a Noise from clipsim.noise, or None")
    if not isinstance(optimizer, _opt.Optimizer):
        raise ValueError(f"optimizer = {optimizer!r} is not allowed: must be an Optimizer from clipsim.optimizers")
    T = V.integer("n_steps", n_steps, 1, 10**9)
    M = V.integer("n_seeds", n_seeds, 1, 10**9)
    first = V.integer("first_seed", first_seed, 0, 2**62)
    d = objective.dim
    if x0 is None:
        w0 = objective.x0.astype(np.float64)
    else:
        w0 = V.vector("x0", x0, d)
    grid = record_grid(T, record)
    _limits.guard_simulate(M, T, d, grid.size, len(METRICS), len(RECORDS), int(_noise.noise_work_size(d)),
                           numba.config.NUMBA_NUM_THREADS)
    problem = Problem.build(objective, noise, optimizer, T, w0, seed, grid)
    prev = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(V.integer("threads", threads, 1, numba.config.NUMBA_NUM_THREADS))
    used = numba.get_num_threads()
    t0 = time.perf_counter()
    try:
        states = init_states(problem, np.arange(first, first + M, dtype=np.int64))
        advance(problem, states)
    finally:
        numba.set_num_threads(prev)
    elapsed = time.perf_counter() - t0
    out, rec, final_w = finalise(problem, states)
    config = {"objective": objective.to_dict(), "noise": noise.to_dict(), "optimizer": optimizer.to_dict(),
              "n_steps": T, "n_seeds": M, "seed": int(problem.root), "first_seed": first,
              "x0": None if x0 is None else w0.tolist(), "record_steps": grid.tolist()}
    meta = {"versions": versions(), "threads": used, "elapsed_s": elapsed, "provenance": _provenance(),
            "fingerprint": _fingerprint()}
    return SimResult(out, rec, grid, config, meta, final_w, objective, noise, optimizer)
