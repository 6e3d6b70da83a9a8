"""Throughput of clipsim.noise.noise_fill (d = 32, as the engine calls it) versus NumPy/scipy.

Usage: .venv/bin/python benchmarks/bench_noise.py [--steps 20000] [--dim 32]

For each family: draws per second of a loop of ``noise_fill`` calls on one path (one d-vector per
call, the engine's access pattern, single thread), and of the vectorised NumPy equivalent producing the
same number of draws in one call (numpy Generator; for stable a NumPy CMS written like scipy's and
``scipy.stats.levy_stable.rvs``). Ratio > 1 means noise_fill is faster. Last line: the split of one
stable(1.5) draw into its uniforms and its transform, and sin_quadratic's full_grad per coordinate
(W1's two largest costs). Not run by the tests.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipsim import objectives as O  # noqa: E402
from clipsim._rng import fill_uniform_n, seed_state  # noqa: E402
from clipsim.noise import Noise, _stable_block, noise_fill, noise_work_size  # noqa: E402


@njit  # not cached: clipsim's stale-cache guard covers the package only, a cached copy here could keep old samplers
def _loop(code, vec, params, steps, out, work):
    state = np.empty(4, np.uint64)
    seed_state(np.uint64(1), np.uint64(0), state)
    acc = 0.0
    for _ in range(steps):
        noise_fill(code, vec, params, state, out, work)
        acc += out[0]
    return acc


# The split of one stable draw and the sin_quadratic gradient (W1's two largest costs). Not cached:
# a cached loop here would keep stale copies of the clipsim functions it calls after they change.
@njit
def _uniforms_only(steps, work, d):
    state = np.empty(4, np.uint64)
    seed_state(np.uint64(1), np.uint64(0), state)
    acc = 0.0
    for _ in range(steps):
        fill_uniform_n(state, work, 2 * d)
        acc += work[0]
    return acc


@njit
def _transform_only(steps, out, work, d, j0, alpha):
    acc = 0.0
    for _ in range(steps):
        _stable_block(out, j0, work, d, 1.0, alpha, 0.0, 1.0)
        acc += out[0]
    return acc


@njit
def _grad_only(steps, code, fp, X, y, w, out):
    acc = 0.0
    for _ in range(steps):
        acc += O._sin_quadratic_grad(code, fp, X, y, w, out)
    return acc


def split(d, steps):
    """ns per stable(1.5) draw: uniforms, transform; ns per coordinate of sin_quadratic's full_grad."""
    n = d * steps
    work = np.random.default_rng(0).uniform(0.01, 0.99, noise_work_size(d))
    out = np.empty(d)
    ob = O.get("sin_quadratic", d, a=1.0)
    w = np.random.default_rng(1).standard_normal(d)
    j0 = int(np.int64(0))
    _uniforms_only(1, work.copy(), d)
    _transform_only(1, out, work, d, j0, 1.5)
    _grad_only(1, ob.code, ob.fparams, ob.X, ob.y, w, out)
    t_u = _best(lambda: _uniforms_only(steps, work.copy(), d))
    t_t = _best(lambda: _transform_only(steps, out, work, d, j0, 1.5))
    t_g = _best(lambda: _grad_only(steps, ob.code, ob.fparams, ob.X, ob.y, w, out))
    print(f"stable(1.5) split: uniforms {t_u / n * 1e9:.2f} ns/draw, transform {t_t / n * 1e9:.2f} ns/draw; "
          f"sin_quadratic full_grad {t_g / n * 1e9:.2f} ns/coordinate")


def _best(f, repeat=5):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def numpy_cms(rng, alpha, beta, n):
    """Vectorised Chambers-Mallows-Stuck (S1), alpha != 1."""
    v = math.pi * (rng.random(n) - 0.5)
    w = rng.standard_exponential(n)
    t = beta * math.tan(math.pi * alpha / 2)
    b = math.atan(t) / alpha
    s = (1 + t * t) ** (1 / (2 * alpha))
    return s * np.sin(alpha * (v + b)) / np.cos(v) ** (1 / alpha) * (np.cos(v - alpha * (v + b)) / w) ** ((1 - alpha) / alpha)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=32)
    a = ap.parse_args(argv)
    d, steps = a.dim, a.steps
    n = d * steps
    rng = np.random.default_rng(0)
    from scipy.stats import levy_stable

    cases = [
        ("gaussian", Noise.gaussian(), lambda: rng.standard_normal(n)),
        ("stable a=1.5 b=0", Noise.stable(1.5), lambda: numpy_cms(rng, 1.5, 0.0, n)),
        ("stable a=1.5 b=0.7", Noise.stable(1.5, 0.7), lambda: numpy_cms(rng, 1.5, 0.7, n)),
        ("stable a=1 b=0.7", Noise.stable(1.0, 0.7), lambda: levy_stable.rvs(1.0, 0.7, size=n, random_state=rng)),
        ("stable a=2", Noise.stable(2.0), lambda: math.sqrt(2) * rng.standard_normal(n)),
        ("pareto a=1.5", Noise.pareto(1.5), lambda: rng.choice([-1.0, 1.0], n) * rng.pareto(1.5, n)),
        ("student_t df=3", Noise.student_t(3.0), lambda: rng.standard_t(3.0, n)),
        ("stable a=1.5 radial", Noise.stable(1.5, vector="radial"), None),
        ("pareto a=1.5 radial", Noise.pareto(1.5, vector="radial"), None),
    ]
    out, work = np.empty(d), np.empty(noise_work_size(d))
    print(f"d = {d}, {steps} noise_fill calls = {n:,} draws per timing, best of 5, 1 thread")
    print(f"{'family':22s} {'noise_fill draws/s':>19s} {'numpy draws/s':>15s} {'ratio':>7s}")
    for name, nz, ref in cases:
        code, vec, params = nz.pack()
        _loop(code, vec, params, 10, out, work)  # compile / load cache
        t_nf = _best(lambda: _loop(code, vec, params, steps, out, work))
        line = f"{name:22s} {n / t_nf:19.3e}"
        if ref is not None:
            t_np = _best(ref, repeat=3)
            line += f" {n / t_np:15.3e} {t_np / t_nf:7.2f}"
        print(line)
    # scipy's levy_stable.rvs (same CMS in NumPy) for the symmetric case
    t_sc = _best(lambda: levy_stable.rvs(1.5, 0.0, size=n, random_state=rng), repeat=3)
    print(f"{'scipy levy_stable.rvs a=1.5':28s} {n / t_sc:13.3e} draws/s")
    split(d, steps)


if __name__ == "__main__":
    main()
