"""Engine throughput on a fixed workload versus NumPy (and JAX / PyTorch when installed), same run.

Usage: .venv/bin/python benchmarks/bench_engine.py [--quick] [--seeds 4000] [--steps 1000] [--repeat 3]

Workload: clipped SGD (eta = 0.05, clip = 1) on the quadratic objective in d = 32, symmetric
alpha-stable noise (alpha = 1.5, scipy S1), T steps for M seeds, metric avg_grad_sq (no record grid).
Throughput is counted in coordinate-steps per second, M * T * d / wall time.

- clipsim: ``engine.simulate(..., threads=1)`` and ``threads=2`` (best of ``--repeat``, after a warm-up).
- NumPy: the same algorithm vectorised over seeds the way a user would write it: (M, d) arrays,
  preallocated buffers and in-place ufuncs, Chambers-Mallows-Stuck (S1, general beta) with
  ``rng.random`` for V and ``rng.standard_exponential`` for W (ziggurat: faster than ``-log(random)``),
  clip by row norms, update. One NumPy thread (ufuncs are single-threaded); NumPy's own SIMD
  (AVX-512 / SVML-backed) sin, cos, log, exp, power are used.
- JAX (vmap over seeds + lax.scan over steps) and PyTorch (batched over seeds): timed when importable,
  otherwise reported as "not installed". (Not installed on the reference machine: that code path is
  untested there.)
- Noise alone: ``noise_fill`` of d = 32 vectors on one path (the engine's access pattern) versus the
  NumPy CMS on an (M, d) block, in ns per draw.
- Compile / load time: a fresh subprocess importing clipsim and running a tiny ``simulate``, with the
  on-disk cache warm (the normal case) and cold (``NUMBA_CACHE_DIR`` pointed to an empty temp dir).

The machine is shared and timings are noisy: ratios are measured in the same run, each figure is the
best of ``--repeat`` runs, and the load average is printed before and after. Not run by the tests.
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

from clipsim import engine, noise as N, objectives as O, optimizers as P  # noqa: E402
from bench_noise import _loop  # noqa: E402  (the noise-only timing kernel, benchmarks/bench_noise.py)

D, ALPHA, BETA, ETA, CLIP = 32, 1.5, 0.0, 0.05, 1.0


def _best(f, repeat):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


# ------------------------------------------------------------------------------------------------
# clipsim
# ------------------------------------------------------------------------------------------------
def clipsim_run(M, T, threads):
    obj = O.get("quadratic", D)
    return engine.simulate(obj, N.stable(ALPHA, BETA), P.clipped_sgd(ETA, CLIP), n_steps=T, n_seeds=M,
                           seed=1, threads=threads).metrics["avg_grad_sq"]


# ------------------------------------------------------------------------------------------------
# NumPy, vectorised over seeds
# ------------------------------------------------------------------------------------------------
def numpy_run(M, T, seed=1):
    """Clipped SGD on F(w) = |w|^2/2 with S1 stable noise, all seeds at once. Returns avg_grad_sq."""
    rng = np.random.default_rng(seed)
    B, S, ex = _stable_consts()
    W = np.full((M, D), 1.0)  # x0 of the quadratic objective (checked in main)
    V, E, Z, C, A, G = (np.empty((M, D)) for _ in range(6))
    gsq = np.empty(M)
    nrm = np.empty(M)
    sum_gsq = np.zeros(M)
    for _ in range(T):
        # grad F(w) = w;  |grad|^2
        np.einsum("ij,ij->i", W, W, out=gsq)
        sum_gsq += gsq
        numpy_cms_block(rng, V, E, Z, C, A, B, S, ex)
        # g = grad + noise; clip by row norms; update
        np.add(W, Z, out=G)
        np.einsum("ij,ij->i", G, G, out=nrm)
        np.sqrt(nrm, out=nrm)
        np.maximum(nrm, CLIP, out=nrm)
        np.divide(ETA * CLIP, nrm, out=nrm)  # eta * min(1, clip/|g|)
        G *= nrm[:, None]
        W -= G
    return sum_gsq / T


def numpy_cms_block(rng, V, E, Z, C, A, B, S, ex):
    """Z = S sin(a(V+B)) / cos V * (cos(V - a(V+B)) / (E cos V))^((1-a)/a), V = pi(U - 1/2), E ~ Exp(1)."""
    rng.random(out=V)
    V -= 0.5
    V *= math.pi
    rng.standard_exponential(out=E)
    np.cos(V, out=C)
    E *= C                      # E cos V
    np.add(V, B, out=A)
    A *= ALPHA                  # a(V+B)
    np.sin(A, out=Z)
    Z /= C                      # sin(a(V+B)) / cos V
    np.subtract(V, A, out=C)
    np.cos(C, out=C)
    C /= E
    np.power(C, ex, out=C)
    Z *= C
    Z *= S


def _stable_consts():
    t = BETA * math.tan(0.5 * math.pi * ALPHA)
    return math.atan(t) / ALPHA, (1.0 + t * t) ** (0.5 / ALPHA), (1.0 - ALPHA) / ALPHA


# ------------------------------------------------------------------------------------------------
# JAX / PyTorch (only when installed; not installed on the reference machine)
# ------------------------------------------------------------------------------------------------
def _installed(name):
    return importlib.util.find_spec(name) is not None


def jax_runner(M, T):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a, b = ALPHA, BETA
    t = b * math.tan(0.5 * math.pi * a)
    B, S, ex = math.atan(t) / a, (1.0 + t * t) ** (0.5 / a), (1.0 - a) / a

    def path(key):
        def step(carry, k):
            w, s = carry
            s = s + jnp.dot(w, w)
            k1, k2 = jax.random.split(k)
            v = jnp.pi * (jax.random.uniform(k1, (D,), jnp.float64) - 0.5)
            e = jax.random.exponential(k2, (D,), jnp.float64)
            avb = a * (v + B)
            z = S * jnp.sin(avb) / jnp.cos(v) * (jnp.cos(v - avb) / (e * jnp.cos(v))) ** ex
            g = w + z
            f = ETA * CLIP / jnp.maximum(jnp.sqrt(jnp.dot(g, g)), CLIP)
            return (w - f * g, s), None

        (w, s), _ = jax.lax.scan(step, (jnp.ones(D), 0.0), jax.random.split(key, T))
        return s / T

    run = jax.jit(jax.vmap(path))
    keys = jax.random.split(jax.random.PRNGKey(1), M)
    run(keys).block_until_ready()  # compile
    return lambda: np.asarray(run(keys).block_until_ready())


def torch_runner(M, T):
    import torch

    a, b = ALPHA, BETA
    t = b * math.tan(0.5 * math.pi * a)
    B, S, ex = math.atan(t) / a, (1.0 + t * t) ** (0.5 / a), (1.0 - a) / a
    gen = torch.Generator().manual_seed(1)

    def run():
        with torch.no_grad():
            w = torch.ones(M, D, dtype=torch.float64)
            s = torch.zeros(M, dtype=torch.float64)
            for _ in range(T):
                s += (w * w).sum(1)
                v = math.pi * (torch.rand(M, D, generator=gen, dtype=torch.float64) - 0.5)
                e = torch.empty(M, D, dtype=torch.float64).exponential_(generator=gen)
                avb = a * (v + B)
                cv = torch.cos(v)
                z = S * torch.sin(avb) / cv * (torch.cos(v - avb) / (e * cv)) ** ex
                g = w + z
                f = ETA * CLIP / torch.clamp(torch.linalg.vector_norm(g, dim=1), min=CLIP)
                w -= f[:, None] * g
            return (s / T).numpy()

    return run


# ------------------------------------------------------------------------------------------------
# Noise only
# ------------------------------------------------------------------------------------------------
def noise_only(M, T, repeat):
    calls = max(1, M * T // 20)  # 5% of the workload's draws
    code, vec, params = N.stable(ALPHA, BETA).pack()
    out, work = np.empty(D), np.empty(N.noise_work_size(D))
    _loop(code, vec, params, 2, out, work)
    t_nf, _ = _best(lambda: _loop(code, vec, params, calls, out, work), repeat)
    rng = np.random.default_rng(0)
    Mb = max(1, min(M, calls))
    bufs = [np.empty((Mb, D)) for _ in range(5)]
    reps = max(1, calls // Mb)
    consts = _stable_consts()

    def np_noise():
        for _ in range(reps):
            numpy_cms_block(rng, *bufs, *consts)

    t_np, _ = _best(np_noise, repeat)
    return 1e9 * t_nf / (calls * D), 1e9 * t_np / (reps * Mb * D)


# ------------------------------------------------------------------------------------------------
# Compile / cache-load time in a fresh process
# ------------------------------------------------------------------------------------------------
_PROBE = r"""
import time
t0 = time.perf_counter()
import numpy as np
from clipsim import engine, noise as N, objectives as O, optimizers as P
t1 = time.perf_counter()
engine.simulate(O.get("quadratic", 4), N.stable(1.5), P.clipped_sgd(0.01, 1.0), n_steps=5, n_seeds=2, seed=0)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def compile_times():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")

    def probe(extra):
        out = subprocess.run([sys.executable, "-c", _PROBE], env={**env, **extra}, capture_output=True,
                             text=True, check=True, cwd=str(ROOT)).stdout.split()
        return float(out[0]), float(out[1])

    probe({})  # make sure the ordinary on-disk cache is warm
    warm = min(probe({}) for _ in range(2))
    with tempfile.TemporaryDirectory() as tmp:
        cold = probe({"NUMBA_CACHE_DIR": tmp})
    return warm, cold


# ------------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small workload (M=500, T=300), repeat 2")
    ap.add_argument("--seeds", type=int, default=None, help="M (default 4000; 500 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="T (default 1000; 300 with --quick)")
    ap.add_argument("--repeat", type=int, default=None, help="best of N (default 3; 2 with --quick)")
    ap.add_argument("--no-compile", action="store_true", help="skip the fresh-process compile timings")
    a = ap.parse_args(argv)
    M = a.seeds or (500 if a.quick else 4000)
    T = a.steps or (300 if a.quick else 1000)
    R = a.repeat or (2 if a.quick else 3)
    work = M * T * D
    assert np.all(O.get("quadratic", D).x0 == 1.0)
    print(f"workload: clipped SGD (eta={ETA}, clip={CLIP}), quadratic d={D}, stable(alpha={ALPHA}, beta={BETA}), "
          f"T={T}, M={M} seeds -> {work:.3e} coordinate-steps; best of {R}")
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}  (2 cores, shared machine)")

    clipsim_run(8, 5, 1)  # compile or load the cache
    rows = []
    t1, r1 = _best(lambda: clipsim_run(M, T, 1), R)
    rows.append(("clipsim 1 thread", t1))
    t2, r2 = _best(lambda: clipsim_run(M, T, 2), R)
    rows.append(("clipsim 2 threads", t2))
    assert np.array_equal(r1, r2), "threads=1 and threads=2 differ"
    tn, rn = _best(lambda: numpy_run(M, T), R)
    rows.append(("NumPy vectorised (1 thread)", tn))
    for name, factory in (("JAX vmap+scan", jax_runner), ("PyTorch batched", torch_runner)):
        mod = "jax" if name.startswith("JAX") else "torch"
        if not _installed(mod):
            rows.append((name, None))
            continue
        try:
            run = factory(M, T)
            rows.append((name, _best(run, R)[0]))
        except Exception as exc:  # noqa: BLE001 (report, do not crash the benchmark)
            rows.append((f"{name} (failed: {type(exc).__name__}: {exc})", math.nan))

    print(f"\n{'implementation':30s} {'time (s)':>9s} {'coord-steps/s':>14s} {'clipsim-1t / this':>18s} "
          f"{'clipsim-2t / this':>18s}")
    for name, t in rows:
        if t is None:
            print(f"{name:30s} {'not installed':>9s}")
            continue
        print(f"{name:30s} {t:9.3f} {work / t:14.3e} {t / t1:18.2f} {t / t2:18.2f}")
    print(f"\nclipsim 2 threads / 1 thread: {t1 / t2:.2f}x   clipsim (1 thread) / NumPy: {tn / t1:.2f}x   "
          f"clipsim (2 threads) / NumPy: {tn / t2:.2f}x")
    # sanity: both implementations simulate the same law (means of avg_grad_sq within a few s.e.)
    for name, r in (("clipsim", r1), ("NumPy", rn)):
        print(f"  mean avg_grad_sq {name:8s} {r.mean():.5f} +- {r.std(ddof=1) / math.sqrt(r.size):.5f}")

    ns_nf, ns_np = noise_only(M, T, R)
    print(f"\nnoise only (stable alpha={ALPHA}, d={D}): clipsim noise_fill {ns_nf:.2f} ns/draw, NumPy CMS "
          f"{ns_np:.2f} ns/draw (ratio {ns_np / ns_nf:.2f}x); engine total {1e9 * t1 / work:.2f} ns per "
          f"coordinate-step on 1 thread")

    if not a.no_compile:
        (wi, ws), (ci, cs) = compile_times()
        print(f"\nfresh process, warm on-disk cache: import {wi:.2f} s, first simulate {ws:.2f} s (target <= 1 s)")
        print(f"fresh process, cold cache (empty NUMBA_CACHE_DIR): import {ci:.2f} s, first simulate {cs:.2f} s")
    print(f"\nload average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
