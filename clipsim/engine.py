"""The multi-seed engine: spec → packed arrays → one cached Numba kernel → per-seed records.

``simulate(objective, noise, optimizer, n_steps=T, n_seeds=M)`` runs M independent paths of T steps
in a ``prange`` over seeds. Path m draws from the xoshiro256++ stream addressed by (seed, first_seed + m),
so results are bitwise identical for any thread count, and seed m of a 64-seed run equals seed m of
an 8-seed run. Nothing is reduced across seeds inside the parallel loop and ``fastmath`` is off.

Memory is O(M × (metrics + record grid)): per seed the kernel streams running sums and minima and
stores values only on the record grid (log-spaced by default), never the trajectory.

Numba cache caveat: ``cache=True`` keys a kernel's cache on its own source file only, so a cached
kernel would keep old code of functions it calls from other modules; ``clipsim._cache`` therefore drops
the package's caches on import whenever any kernel module's source changed.

Stochastic gradient: population objectives ``g_t = ∇F(w_t) + ξ_t``; finite-sum objectives
``g_t = ∇f(w_t; z_j) + ξ_t`` with j uniform on [n] (ξ = 0 unless a noise is given). ``batch`` > 1
averages that many draws. A non-finite F(w_t) or ‖∇F(w_t)‖² marks the seed diverged at step t: its
remaining metrics and records are +inf and the other seeds go on.
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit, prange

from . import _limits
from .provenance import fingerprint as _fingerprint, provenance as _provenance
from . import _validate as V
from . import noise as _noise
from . import objectives as _obj
from . import optimizers as _opt
from ._rng import randbelow, root_seed, seed_state

#: per-seed scalar metrics, in kernel column order
METRICS = ("avg_grad_sq", "min_grad_sq", "final_grad_sq", "final_gap", "final_value", "avg_grad_norm",
           "clip_fraction", "max_dist", "diverged", "diverged_step",
           "avg_pop_grad_sq", "final_pop_grad_sq", "final_pop_gap", "final_gen_gap", "final_grad_dev")
#: values stored on the record grid (at w_t, t = grid step)
RECORDS = ("grad_sq", "gap", "avg_grad_sq", "dist", "pop_grad_sq", "gen_gap")
_POP_METRICS = METRICS[10:]
_POP_RECORDS = RECORDS[4:]

# Seeds per parallel chunk of _drive's prange (set around the call in simulate; calling
# set_parallel_chunksize inside the kernel would make it uncacheable). Dynamic chunks of a few seeds
# instead of one static block per thread: on a shared machine a thread whose core is busy would
# otherwise hold up the whole call. Seeds are independent and write only their own rows, so the
# schedule cannot change any result.
_CHUNK = 8

(_AVG, _MIN, _FGSQ, _FGAP, _FVAL, _AVGN, _CLIPF, _MAXD, _DIV, _DIVT,
 _PAVG, _PFGSQ, _PFGAP, _FGEN, _FDEV) = range(len(METRICS))


# ------------------------------------------------------------------------------------------------
# Kernel pieces
# ------------------------------------------------------------------------------------------------
@njit(cache=True)
def _clip(v, lam):
    """Clip ``v`` in place to norm ``lam``; return 1 if it was clipped, else 0."""
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i] * v[i]
    nrm = math.sqrt(s)
    if nrm > lam:
        f = lam / nrm
        for i in range(v.shape[0]):
            v[i] *= f
        return 1
    return 0


@njit(cache=True)
def _norm(v):
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i] * v[i]
    return math.sqrt(s)


@njit(cache=True)
def _stoch_grad(ocode, ofp, X, y, w, grad, ncode, nvec, nparams, state, xi, work, out, count):
    """out = mean over ``count`` draws of a stochastic gradient at w (``grad`` holds ∇F(w))."""
    d = w.shape[0]
    n = X.shape[0]
    if count == 1 and n == 0 and ncode != _noise.NONE:  # the common case, one fused loop
        _noise.noise_fill(ncode, nvec, nparams, state, xi, work)
        for i in range(d):
            out[i] = (0.0 + grad[i]) + xi[i]  # bitwise the general path's (0 + grad) + xi
        return
    for i in range(d):
        out[i] = 0.0
    for _ in range(count):
        if n > 0:
            j = randbelow(state, n)
            _obj.sample_grad(ocode, ofp, X, y, w, j, xi)
            for i in range(d):
                out[i] += xi[i]
        else:
            for i in range(d):
                out[i] += grad[i]
        if ncode != _noise.NONE:
            _noise.noise_fill(ncode, nvec, nparams, state, xi, work)
            for i in range(d):
                out[i] += xi[i]
    if count > 1:
        inv = 1.0 / count
        for i in range(d):
            out[i] *= inv


@njit(cache=True)
def _record(records, m, gi, fval, f_star, gsq, sum_gsq, t, dist, haspop, pval, pgsq):
    records[m, gi, 0] = gsq
    records[m, gi, 1] = fval - f_star
    records[m, gi, 2] = sum_gsq / t
    records[m, gi, 3] = dist
    if haspop:
        records[m, gi, 4] = pgsq
        records[m, gi, 5] = pval - fval


@njit(cache=True, inline="always")
def _carve(block, o, n, stride):
    """(block[o:o+n], the next offset o + stride): one per-path array on its own 64-byte boundary."""
    return block[o:o + n], o + stride


@njit(cache=True)
def _path(m, ocode, ofp, X, y, f_star, pop_f_star, haspop, ncode, nvec, nparams, nwork, rule, ip, fp,
          eta, lam, x0, root, seeds, grid, metrics, records, final_w):
    d = x0.shape[0]
    T = eta.shape[0]
    G = grid.shape[0]
    order, delayed, coordinate, mbs = ip[0], ip[1], ip[2], ip[3]
    beta, b0, aeps, gamma, delta, qexp, wd, batch = fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], int(fp[7])
    # All per-path scratch is carved from one block, each array on its own 64-byte boundary. Small
    # separate allocations landed at placements that made the vectorised noise loops ~2.8x slower
    # on worker threads (measured: 1 vs 2 threads scaled 1.15x; carved: see benchmarks/RESULTS.md).
    stride = (d + 7) // 8 * 8
    block = np.empty(8 + 8 * stride + (nwork + 7) // 8 * 8 + 8)
    o = (64 - block.ctypes.data % 64) % 64 // 8
    w, o = _carve(block, o, d, stride)
    grad, o = _carve(block, o, d, stride)
    pgrad, o = _carve(block, o, d, stride)
    g, o = _carve(block, o, d, stride)
    mb, o = _carve(block, o, d, stride)
    xi, o = _carve(block, o, d, stride)
    mom, o = _carve(block, o, d, stride)
    acc, o = _carve(block, o, d if coordinate else 1, stride)
    work = block[o:o + nwork]
    state = np.empty(8, dtype=np.uint64)[:4]
    seed_state(root, np.uint64(seeds[m]), state)
    for i in range(d):
        w[i] = x0[i]
        mom[i] = 0.0
    for i in range(acc.shape[0]):
        acc[i] = b0 * b0
    apow = 0.5 + aeps
    sum_gsq = 0.0
    sum_gn = 0.0
    sum_pgsq = 0.0
    min_gsq = np.inf
    max_dist2 = 0.0
    n_clip = 0
    n_ops = 0
    gi = 0
    diverged_at = 0
    fval = 0.0
    pval = 0.0
    pgsq = 0.0
    for t in range(1, T + 2):  # iterate w_t; the step is skipped at t = T + 1
        fval = _obj.full_grad(ocode, ofp, X, y, w, grad)
        gsq = 0.0
        dist2 = 0.0
        for i in range(d):  # two independent chains in one loop (each summed in index order)
            gsq += grad[i] * grad[i]
            dist2 += (w[i] - x0[i]) ** 2
        if not (math.isfinite(fval) and math.isfinite(gsq)):
            diverged_at = t
            break
        if haspop:
            pval = _obj.population(ocode, ofp, X, y, w, pgrad)
            pgsq = 0.0
            for i in range(d):
                pgsq += pgrad[i] * pgrad[i]
        if t <= T:
            sum_gsq += gsq
            sum_gn += math.sqrt(gsq)
            sum_pgsq += pgsq
            if gsq < min_gsq:
                min_gsq = gsq
        if dist2 > max_dist2:  # sqrt is monotone: sqrt(max dist^2) = max dist, one sqrt at the end
            max_dist2 = dist2
        while gi < G and grid[gi] == t:
            _record(records, m, gi, fval, f_star, gsq, sum_gsq, min(t, T), math.sqrt(dist2), haspop, pval, pgsq)
            gi += 1
        if t == T + 1:
            break
        h = eta[t - 1]
        lt = lam[t - 1]
        if rule == _opt.PS_CLIP:
            A = abs(mbs)
            per = batch // A
            for i in range(d):
                g[i] = 0.0
            for a in range(A):
                _stoch_grad(ocode, ofp, X, y, w, grad, ncode, nvec, nparams, state, xi, work, mb, per)
                if mbs > 0:
                    n_clip += _clip(mb, lt * (a + 1.0) ** qexp)
                    n_ops += 1
                for i in range(d):
                    g[i] += mb[i] / A
            if mbs < 0:
                n_clip += _clip(g, lt)
                n_ops += 1
            for i in range(d):
                w[i] -= h * g[i]
            continue
        _stoch_grad(ocode, ofp, X, y, w, grad, ncode, nvec, nparams, state, xi, work, g, batch)
        if rule == _opt.SGD:
            n_clip += _clip(g, lt)
            n_ops += 1
            for i in range(d):
                w[i] -= h * g[i]
        elif rule == _opt.MOMENTUM:
            if order == 2:  # momentum_then_clip
                for i in range(d):
                    mom[i] = beta * mom[i] + (1.0 - beta) * g[i]
                    mb[i] = mom[i]
                n_clip += _clip(mb, lt)
                n_ops += 1
                for i in range(d):
                    w[i] -= h * mb[i]
            else:
                n_clip += _clip(g, lt)
                n_ops += 1
                c = 1.0 - beta if order == 0 else 1.0
                for i in range(d):
                    mom[i] = beta * mom[i] + c * g[i]
                    w[i] -= h * mom[i]
        elif rule == _opt.ADAGRAD:
            n_clip += _clip(g, lt)
            n_ops += 1
            if coordinate:
                for i in range(d):
                    if delayed:
                        den = acc[i] ** apow
                        acc[i] += g[i] * g[i]
                    else:
                        acc[i] += g[i] * g[i]
                        den = acc[i] ** apow
                    w[i] -= h * g[i] / den
            else:
                s = 0.0
                for i in range(d):
                    s += g[i] * g[i]
                if delayed:
                    den = acc[0] ** apow
                    acc[0] += s
                else:
                    acc[0] += s
                    den = acc[0] ** apow
                for i in range(d):
                    w[i] -= h * g[i] / den
        elif rule == _opt.NORMALIZED_MOMENTUM:
            n_clip += _clip(g, lt)
            n_ops += 1
            for i in range(d):
                mom[i] = beta * mom[i] + (1.0 - beta) * g[i]
            nm = _norm(mom)
            if nm > 0.0:
                for i in range(d):
                    w[i] -= h * mom[i] / nm
        elif rule == _opt.DELTA_GCLIP:
            nrm = _norm(g)
            f = 1.0
            if nrm > 0.0 and gamma / nrm < 1.0:
                f = max(delta, gamma / nrm)
                n_clip += 1
            n_ops += 1
            for i in range(d):
                w[i] -= h * f * g[i]
        else:  # SIBERT
            thr = _norm(w) * math.sqrt(2.0 * wd / h) if h > 0.0 else np.inf
            n_clip += _clip(g, thr)
            n_ops += 1
            for i in range(d):
                w[i] = (1.0 - h * wd) * w[i] - h * g[i]

    for i in range(d):
        final_w[m, i] = w[i]
    row = metrics[m]
    row[_CLIPF] = n_clip / n_ops if n_ops > 0 else 0.0
    row[_MAXD] = math.sqrt(max_dist2)
    row[_MIN] = min_gsq
    if diverged_at > 0:
        for k in (_AVG, _FGSQ, _FGAP, _FVAL, _AVGN, _PAVG, _PFGSQ, _PFGAP, _FGEN, _FDEV):
            row[k] = np.inf
        row[_MAXD] = np.inf
        row[_DIV] = 1.0
        row[_DIVT] = diverged_at
        for j in range(gi, G):
            for k in range(records.shape[2]):
                records[m, j, k] = np.inf
        return
    row[_AVG] = sum_gsq / T
    row[_AVGN] = sum_gn / T
    row[_FGSQ] = gsq
    row[_FVAL] = fval
    row[_FGAP] = fval - f_star
    row[_DIV] = 0.0
    row[_DIVT] = 0.0
    if haspop:
        row[_PAVG] = sum_pgsq / T
        row[_PFGSQ] = pgsq
        row[_PFGAP] = pval - pop_f_star
        row[_FGEN] = pval - fval
        dev = 0.0
        for i in range(d):
            dev += (pgrad[i] - grad[i]) ** 2
        row[_FDEV] = math.sqrt(dev)


@njit(parallel=True, cache=True)
def _drive(ocode, ofp, X, y, f_star, pop_f_star, haspop, ncode, nvec, nparams, nwork, rule, ip, fp,
           eta, lam, x0, root, seeds, grid, metrics, records, final_w):
    for m in prange(seeds.shape[0]):
        _path(m, ocode, ofp, X, y, f_star, pop_f_star, haspop, ncode, nvec, nparams, nwork, rule, ip, fp,
              eta, lam, x0, root, seeds, grid, metrics, records, final_w)


# ------------------------------------------------------------------------------------------------
# Python front
# ------------------------------------------------------------------------------------------------
def versions():
    """Versions of everything that determines the numbers."""
    from . import __version__

    return {"clipsim": __version__, "numpy": np.__version__, "numba": numba.__version__,
            "python": platform.python_version()}


@dataclass
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
        if opt.rule in (_opt.MOMENTUM, _opt.NORMALIZED_MOMENTUM):
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

    def __str__(self):
        a = self.metrics["avg_grad_sq"]
        fin = a[np.isfinite(a)]
        med = float(np.median(fin)) if fin.size else math.nan
        return (f"SimResult({self.config['optimizer']['name']} on {self.objective}, noise {self.noise}, "
                f"T={self.n_steps}, seeds={self.n_seeds}, median avg_grad_sq={med:.4g}, "
                f"diverged={int(self.metrics['diverged'].sum())})")


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


def simulate(objective, noise, optimizer, *, n_steps, n_seeds, seed=0, x0=None, record=None, first_seed=0,
             threads=None) -> SimResult:
    """Run ``n_seeds`` independent paths of ``n_steps`` steps of ``optimizer`` on ``objective``.

    ``noise`` is a :class:`clipsim.noise.Noise` (or None for no additive noise). Path m uses the stream
    (seed, first_seed + m). ``record``: None, a number of log-spaced grid points, or explicit steps in
    [1, n_steps + 1]. ``threads``: Numba threads for this call (default: Numba's setting).
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
    root = root_seed(seed)
    d = objective.dim
    if x0 is None:
        w0 = objective.x0.astype(np.float64)
    else:
        w0 = V.vector("x0", x0, d)
    grid = record_grid(T, record)
    nwork = int(_noise.noise_work_size(d))
    _limits.guard_simulate(M, T, d, grid.size, len(METRICS), len(RECORDS), nwork, numba.config.NUMBA_NUM_THREADS)
    rule, ip, fp, eta, lam = optimizer.pack(T)
    ncode, nvec, nparams = noise.pack()
    haspop = objective.has_population
    metrics = np.zeros((M, len(METRICS)))
    records = np.zeros((M, grid.size, len(RECORDS)))
    final_w = np.zeros((M, d))
    seeds = np.arange(first, first + M, dtype=np.int64)
    prev = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(V.integer("threads", threads, 1, numba.config.NUMBA_NUM_THREADS))
    used = numba.get_num_threads()
    t0 = time.perf_counter()
    try:
        with numba.parallel_chunksize(_CHUNK):
            _drive(np.int64(objective.code), objective.fparams, objective.X, objective.y,
                   float(objective.f_star), float(objective.pop_f_star), bool(haspop),
                   np.int64(ncode), np.int64(nvec), np.ascontiguousarray(nparams, dtype=np.float64),
                   np.int64(nwork), np.int64(rule), ip, fp, eta, lam, w0, root, seeds, grid, metrics,
                   records, final_w)
    finally:
        numba.set_num_threads(prev)
    elapsed = time.perf_counter() - t0
    out = {}
    for k, name in enumerate(METRICS):
        if name in _POP_METRICS and not haspop:
            continue
        col = metrics[:, k].copy()
        out[name] = col.astype(bool) if name == "diverged" else (col.astype(np.int64) if name == "diverged_step" else col)
    rec = {name: records[:, :, k].copy() for k, name in enumerate(RECORDS)
           if grid.size and (haspop or name not in _POP_RECORDS)}
    config = {"objective": objective.to_dict(), "noise": noise.to_dict(), "optimizer": optimizer.to_dict(),
              "n_steps": T, "n_seeds": M, "seed": int(root), "first_seed": first,
              "x0": None if x0 is None else w0.tolist(), "record_steps": grid.tolist()}
    meta = {"versions": versions(), "threads": used, "elapsed_s": elapsed, "provenance": _provenance(),
            "fingerprint": _fingerprint()}
    return SimResult(out, rec, grid, config, meta, final_w, objective, noise, optimizer)
