"""Engine throughput versus NumPy (vectorised) and JAX (vmap + scan, jit, x64), all in one run.

Usage: .venv/bin/python benchmarks/bench_engine.py [--quick] [--seeds 4096] [--steps 1000] [--repeat 3]
       [--only sgd,momentum,adagrad,ps8] [--no-compile] [--fused-ref facbbc7]

Workloads (sin_quadratic a = 1, d = 32, x0 = 1, symmetric α-stable noise α = 1.5 (scipy S1), T steps,
M seeds, metric avg_grad_sq, no record grid):

- ``sgd``      W1: clipped SGD, η = 0.05, λ = 1;
- ``momentum`` clipped momentum (clip then average), η = 0.05, λ = 1, β = 0.9;
- ``adagrad``  clipped AdaGrad-Norm, η = 0.5, λ = 1, b0 = 1;
- ``ps8``      per-sample clipping, B = 8 samples per step, η = 0.05, λ = 1, M/8 seeds (same draws).

Throughput is coordinate-draws per second (M·T·B·d / wall time). clipsim runs with 1 and 2 threads
(bitwise equal results, checked); NumPy is vectorised over seeds with preallocated buffers (one
thread); JAX vmaps a lax.scan over seeds, jit-compiled (compile excluded), float64. "vs best peer" is
the best of NumPy and JAX divided by clipsim. Also: ns per stable draw (``noise_fill``, d = 32, one
path), the composition overhead (W1 through the stage program against the same step loop with its
one stage hand-fused, alternated, bitwise equal), the cold start (fresh process, empty
NUMBA_CACHE_DIR: import + first simulate; best of 3) and the cached start, and with ``--fused-ref COMMIT`` the W1 time of that commit's engine (the hand-fused kernel
before stages) against this one, both in fresh processes, alternated.

The machine is shared: every figure is the best of ``--repeat``, ratios come from the same run, and
the load average is printed before and after. Not run by the tests (``make bench``).
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from clipsim import engine, noise as N, objectives as O, optimizers as P  # noqa: E402
from bench_noise import _loop  # noqa: E402  (the noise-only timing kernel)

D, ALPHA, A_SIN = 32, 1.5, 1.0
ETA, CLIP, BETA, ETA_ADA, B0, BATCH = 0.05, 1.0, 0.9, 0.5, 1.0, 8
RULES = ("sgd", "momentum", "adagrad", "ps8")


def _best(f, repeat):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def _seeds(rule, M):
    return M // BATCH if rule == "ps8" else M


# ------------------------------------------------------------------------------------------------
# clipsim
# ------------------------------------------------------------------------------------------------
def optimizer(rule):
    return {"sgd": P.clipped_sgd(ETA, CLIP), "momentum": P.clipped_momentum(ETA, CLIP, BETA),
            "adagrad": P.clipped_adagrad(ETA_ADA, CLIP, B0), "ps8": P.ps_clip_sgd(ETA, CLIP, BATCH)}[rule]


def clipsim_run(rule, M, T, threads):
    obj = O.get("sin_quadratic", D, a=A_SIN)
    return engine.simulate(obj, N.stable(ALPHA), optimizer(rule), n_steps=T, n_seeds=_seeds(rule, M), seed=1,
                           threads=threads).metrics["avg_grad_sq"]


# ------------------------------------------------------------------------------------------------
# NumPy, vectorised over seeds
# ------------------------------------------------------------------------------------------------
def _stable_consts():
    return 0.0, 1.0, (1.0 - ALPHA) / ALPHA  # beta = 0: B = 0, S = 1


def numpy_cms(rng, V, E, Z, C, A):
    """Z = sin(aV) / cos V * (cos(V - aV) / (E cos V))^((1-a)/a), V = π(U - 1/2), E ~ Exp(1) (β = 0)."""
    _, _, ex = _stable_consts()
    rng.random(out=V)
    V -= 0.5
    V *= math.pi
    rng.standard_exponential(out=E)
    np.cos(V, out=C)
    E *= C
    np.multiply(V, ALPHA, out=A)
    np.sin(A, out=Z)
    Z /= C
    np.subtract(V, A, out=C)
    np.cos(C, out=C)
    C /= E
    np.power(C, ex, out=C)
    Z *= C


def _clip_rows(G, nrm):
    np.einsum("ij,ij->i", G, G, out=nrm)
    np.sqrt(nrm, out=nrm)
    np.maximum(nrm, CLIP, out=nrm)
    np.divide(CLIP, nrm, out=nrm)
    G *= nrm[:, None]


def numpy_run(rule, M, T, seed=1):
    M = _seeds(rule, M)
    rng = np.random.default_rng(seed)
    W, Gr, G, U, Mo = np.ones((M, D)), np.empty((M, D)), np.empty((M, D)), np.empty((M, D)), np.zeros((M, D))
    bufs = [np.empty((M, D)) for _ in range(4)]
    Z = np.empty((M, D))
    gsq, nrm, acc, s = np.empty(M), np.empty(M), np.full(M, B0 * B0), np.zeros(M)
    for _ in range(T):
        np.sin(W, out=Gr)  # grad = w + a sin(2w)
        np.multiply(W, 2.0, out=Gr)
        np.sin(Gr, out=Gr)
        Gr *= A_SIN
        Gr += W
        np.einsum("ij,ij->i", Gr, Gr, out=gsq)
        s += gsq
        if rule == "ps8":
            U.fill(0.0)
            for _ in range(BATCH):
                numpy_cms(rng, bufs[0], bufs[1], Z, bufs[2], bufs[3])
                np.add(Gr, Z, out=G)
                _clip_rows(G, nrm)
                U += G
            U *= ETA / BATCH
            W -= U
            continue
        numpy_cms(rng, bufs[0], bufs[1], Z, bufs[2], bufs[3])
        np.add(Gr, Z, out=G)
        _clip_rows(G, nrm)
        if rule == "sgd":
            G *= ETA
            W -= G
        elif rule == "momentum":
            Mo *= BETA
            Mo += (1.0 - BETA) * G
            W -= ETA * Mo
        else:
            np.einsum("ij,ij->i", G, G, out=nrm)
            acc += nrm
            G *= (ETA_ADA / np.sqrt(acc))[:, None]
            W -= G
    return s / T


# ------------------------------------------------------------------------------------------------
# JAX: vmap over seeds of a lax.scan over steps, jit, float64
# ------------------------------------------------------------------------------------------------
def jax_runner(rule, M, T):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    ex = (1.0 - ALPHA) / ALPHA
    B = BATCH if rule == "ps8" else 1

    def stable(key, shape):
        k1, k2 = jax.random.split(key)
        v = jnp.pi * (jax.random.uniform(k1, shape, jnp.float64) - 0.5)
        e = jax.random.exponential(k2, shape, jnp.float64)
        av = ALPHA * v
        return jnp.sin(av) / jnp.cos(v) * (jnp.cos(v - av) / (e * jnp.cos(v))) ** ex

    def clip(g):
        return g * (CLIP / jnp.maximum(jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True)), CLIP))

    def path(key):
        def step(carry, k):
            w, m, acc, s = carry
            gr = w + A_SIN * jnp.sin(2.0 * w)
            s = s + jnp.dot(gr, gr)
            if rule == "ps8":
                return (w - ETA * jnp.mean(clip(gr + stable(k, (B, D))), axis=0), m, acc, s), None
            g = clip(gr + stable(k, (D,)))
            if rule == "sgd":
                return (w - ETA * g, m, acc, s), None
            if rule == "momentum":
                m = BETA * m + (1.0 - BETA) * g
                return (w - ETA * m, m, acc, s), None
            acc = acc + jnp.dot(g, g)
            return (w - ETA_ADA * g / jnp.sqrt(acc), m, acc, s), None

        init = (jnp.ones(D), jnp.zeros(D), jnp.asarray(B0 * B0), jnp.asarray(0.0))
        (w, m, acc, s), _ = jax.lax.scan(step, init, jax.random.split(key, T))
        return s / T

    run = jax.jit(jax.vmap(path))
    keys = jax.random.split(jax.random.PRNGKey(1), _seeds(rule, M))
    run(keys).block_until_ready()  # compile
    return lambda: np.asarray(run(keys).block_until_ready())


# ------------------------------------------------------------------------------------------------
# Noise alone, cold/cached start, fused reference
# ------------------------------------------------------------------------------------------------
def noise_ns_per_draw(repeat, calls=200_000):
    code, vec, params = N.stable(ALPHA).pack()
    out, work = np.empty(D), np.empty(N.noise_work_size(D))
    _loop(code, vec, params, 2, out, work)
    t, _ = _best(lambda: _loop(code, vec, params, calls, out, work), repeat)
    return 1e9 * t / (calls * D)


_PROBE = r"""
import sys, time
t0 = time.perf_counter()
from clipsim import engine, noise as N, objectives as O, optimizers as P
t1 = time.perf_counter()
engine.simulate(O.get("sin_quadratic", 4), N.stable(1.5), P.clipped_sgd(0.01, 1.0), n_steps=5, n_seeds=2, seed=0)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""

_W1 = r"""
import sys, time, numpy as np
from clipsim import engine, noise as N, objectives as O, optimizers as P
M, T, R = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
obj, opt = O.get("sin_quadratic", 32, a=1.0), P.clipped_sgd(0.05, 1.0)
engine.simulate(obj, N.stable(1.5), opt, n_steps=5, n_seeds=2, threads=1)
best = 1e9
for _ in range(R):
    t = time.perf_counter()
    r = engine.simulate(obj, N.stable(1.5), opt, n_steps=T, n_seeds=M, seed=1, threads=1)
    best = min(best, time.perf_counter() - t)
print(best, repr(float(r.metrics["avg_grad_sq"].mean())))
"""


def _run(code, root, args=(), extra_env=None):
    env = {**os.environ, "PYTHONPATH": str(root), **(extra_env or {})}
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True,
                         check=True, cwd=str(root)).stdout.split()
    return float(out[0]), out[1]


def start_times():
    """(cold import, cold first simulate), (cached import, cached first simulate): fresh processes, best of 3
    each; every cold run gets its own empty NUMBA_CACHE_DIR."""
    colds = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            colds.append(_run(_PROBE, ROOT, extra_env={"NUMBA_CACHE_DIR": tmp}))
    cold = min(colds, key=lambda x: x[0] + float(x[1]))
    with tempfile.TemporaryDirectory() as tmp:
        _run(_PROBE, ROOT, extra_env={"NUMBA_CACHE_DIR": tmp})
        cached = min((_run(_PROBE, ROOT, extra_env={"NUMBA_CACHE_DIR": tmp}) for _ in range(3)),
                     key=lambda x: x[0] + float(x[1]))
    return (cold[0], float(cold[1])), (cached[0], float(cached[1]))


def fused_reference(commit, M, T, R):
    """W1 on one thread: (fused commit's time, this tree's time, both means), fresh processes, alternated."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        arch = subprocess.run(["git", "archive", commit, "clipsim"], cwd=str(ROOT), capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=arch.stdout, check=True)
        env_old, env_new = {"NUMBA_CACHE_DIR": str(Path(tmp) / "c_old")}, {}
        old, new = [], []
        for _ in range(2):
            old.append(_run(_W1, src, (M, T, R), env_old))
            new.append(_run(_W1, ROOT, (M, T, R), env_new))
    return min(o[0] for o in old), min(n[0] for n in new), old[0][1], new[0][1]


def composition_overhead(M, T, R):
    """W1 on one thread: (stage-program time, hand-fused time), best of 2R, alternated in one process.

    The hand-fused kernel is the engine's own step loop with the stage walk replaced by the one stage
    clipped SGD has, called directly (no first-class function call, no loop over stage codes, no dispatch
    on them): the difference is exactly what composing a rule from stages costs. Both are called the same
    way and must agree to the bit.
    """
    import dataclasses

    from numba import njit

    from clipsim import _stages as st

    @njit
    def fused_walk(codes, sched, k0, k1, t, a, w, graw, u, stt, cnt, pend):
        st.materialize(u, stt, pend)
        st._clip_norm(u, sched, codes[k0, 1], t, a, cnt)

    obj, opt = O.get("sin_quadratic", D, a=A_SIN), P.clipped_sgd(ETA, CLIP)
    noise = N.stable(ALPHA)
    problem = engine.Problem.build(obj, noise, opt, T, obj.x0.astype(float), 1, engine.record_grid(T, None))
    fused = dataclasses.replace(problem, walk=fused_walk)  # a jitted function: compiled into the loop
    kernels = {"stages": (engine._kernel(problem), problem), "fused": (engine._user_kernel(), fused)}

    def run(kp, m):
        kernel, prob = kp
        states = engine.init_states(prob, np.arange(m, dtype=np.int64))
        stops = np.full(m, T + 2, dtype=np.int64)
        kernel(np.int64(0), np.int64(m), stops, *prob.kernel_args(), states.w, states.opt_state, states.rng,
               states.sums, states.ints, states.records,
               *engine._scratch(prob, states))
        return engine.finalise(prob, states)[0]["avg_grad_sq"]

    for k in kernels.values():
        run(k, 2)  # compile
    best, out = {"stages": 1e9, "fused": 1e9}, {}
    for _ in range(2 * R):
        for name_k, k in kernels.items():
            t0 = time.perf_counter()
            out[name_k] = run(k, M)
            best[name_k] = min(best[name_k], time.perf_counter() - t0)
    assert np.array_equal(out["stages"], out["fused"]), "stage program and hand-fused kernel differ"
    return best["stages"], best["fused"]


# ------------------------------------------------------------------------------------------------
def bench_rule(rule, M, T, R):
    draws = _seeds(rule, M) * T * (BATCH if rule == "ps8" else 1) * D
    clipsim_run(rule, 16, 5, 1)  # load the cache
    t1, r1 = _best(lambda: clipsim_run(rule, M, T, 1), R)
    t2, r2 = _best(lambda: clipsim_run(rule, M, T, 2), R)
    assert np.array_equal(r1, r2), f"{rule}: threads=1 and threads=2 differ"
    tn, rn = _best(lambda: numpy_run(rule, M, T), R)
    tj, rj = None, None
    if importlib.util.find_spec("jax") is not None:
        run = jax_runner(rule, M, T)
        tj, rj = _best(run, R)
    peers = [t for t in (tn, tj) if t is not None]
    return {"rule": rule, "draws": draws, "t1": t1, "t2": t2, "numpy": tn, "jax": tj, "best_peer": min(peers),
            "means": {k: (float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(v.size)))
                      for k, v in (("clipsim", r1), ("numpy", rn), ("jax", rj)) if v is not None}}


def report(rows):
    print("\n| workload | clipsim 1t | clipsim 2t | NumPy | JAX | 1t vs best peer | 2t vs best peer | 2t/1t |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = lambda t: "n/a" if t is None else f"{r['draws'] / t / 1e6:.1f} M/s"  # noqa: E731
        print(f"| {r['rule']} | {rate(r['t1'])} | {rate(r['t2'])} | {rate(r['numpy'])} | {rate(r['jax'])} | "
              f"{r['best_peer'] / r['t1']:.2f}x | {r['best_peer'] / r['t2']:.2f}x | {r['t1'] / r['t2']:.2f}x |")
    for r in rows:
        print(f"  {r['rule']}: mean avg_grad_sq " + ", ".join(f"{k} {m:.4f} ± {s:.4f}" for k, (m, s) in r["means"].items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small workload (M=512, T=300), repeat 2")
    ap.add_argument("--seeds", type=int, default=None, help="M (default 4096)")
    ap.add_argument("--steps", type=int, default=None, help="T (default 1000)")
    ap.add_argument("--repeat", type=int, default=None, help="best of N (default 3)")
    ap.add_argument("--only", default=",".join(RULES), help="comma-separated workloads")
    ap.add_argument("--no-compile", action="store_true", help="skip the cold/cached start timings")
    ap.add_argument("--fused-ref", default=None, help="a commit with the fused kernel (e.g. facbbc7)")
    a = ap.parse_args(argv)
    M, T, R = a.seeds or (512 if a.quick else 4096), a.steps or (300 if a.quick else 1000), a.repeat or (2 if a.quick else 3)
    print(f"sin_quadratic d={D}, stable(alpha={ALPHA}), T={T}, M={M}; best of {R}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  ({os.cpu_count()} cores)")
    rows = [bench_rule(rule, M, T, R) for rule in a.only.split(",")]
    report(rows)
    print(f"\nstable noise alone (noise_fill, d={D}, one path): {noise_ns_per_draw(R):.1f} ns/draw")
    ts, tf = composition_overhead(M, T, R)
    print(f"W1, 1 thread, composition: stage program {ts:.3f} s, hand-fused {tf:.3f} s: overhead "
          f"{100 * (ts / tf - 1):+.1f}% (bitwise equal results)")
    if a.fused_ref:
        old, new, mo, mn = fused_reference(a.fused_ref, M, T, R)
        print(f"W1, 1 thread, fresh processes: fused kernel ({a.fused_ref}) {old:.3f} s, stages {new:.3f} s: "
              f"overhead {100 * (new / old - 1):+.1f}% (means {mo} vs {mn})")
    if not a.no_compile:
        (ci, cs), (wi, ws) = start_times()
        print(f"cold start (empty NUMBA_CACHE_DIR): import {ci:.2f} s + first simulate {cs:.2f} s")
        print(f"cached start: import {wi:.2f} s + first simulate {ws:.2f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
