"""Efficiency of adaptive multilevel splitting versus plain Monte Carlo at p ≈ 1e-7.

Usage: python benchmarks/bench_rare.py [--replicas 12] [--particles 400] [--p 1e-7]

Work is counted in simulated optimizer steps (one step = one stochastic gradient + one update). Plain
Monte Carlo needs about 15/p paths of T steps for a 50% relative half-width at 95% (the binomial
relative standard error sqrt((1-p)/(n p)) = 0.255 at n = 15/p). For splitting we run R replicas,
measure the mean work per replica w and the relative standard deviation s of the replica estimates,
and count the replicas R* that give a 50% relative half-width with the Student-t interval
(smallest R with t_{R-1,0.975} s / sqrt(R) ≤ 0.5); splitting's work is R* · w plus its pilot paths.
The ratio (15/p · T) / (R* · w) is the gain. s comes from R replicas and is itself uncertain: the gain
is reported with the 95% chi-square interval for s.

Cases (closed-form truth for the first two):
- chi2: SGD with η = 1 on ½w² (d = 1) from 0, N(0,1) noise, T = 50: avg_grad_sq ~ χ²_{T-1}/T.
- filter: SGD with η = 0.02, T = 200, final_gap of the linear filter (Gaussian final iterate).
- clipped: clipped SGD (η = 0.1, λ = 1), α = 1.5 stable noise, quadratic d = 2, T = 100, avg_grad_sq at
  threshold 1.2 (p unknown, about 1e-7: the splitting estimate stands in for it).
- is-cauchy (method "is"): unclipped SGD, η = 0.1, T = 100, Cauchy noise, final_gap (closed form). Work:
  the pilot plus the paths needed for a 50% half-width with the normal interval, (1.96 s / 0.5)² paths
  where s is the per-path relative standard deviation measured on 20000 paths.
Not run by the tests. Results: benchmarks/RESULTS_rare.md.
"""
from __future__ import annotations

import argparse
import math
import time

from scipy import stats

from clipsim import noise, objectives, optimizers as opt
from clipsim.rare import tail_probability


def cases(p):
    a, T = 0.98, 200
    sd = 0.02 * math.sqrt((1 - a ** (2 * T)) / (1 - a * a))
    quad1 = objectives.get("quadratic", 1)
    return {
        "chi2": (quad1, noise.gaussian(1.0), opt.sgd(opt.constant(1.0)), 50, "avg_grad_sq",
                 stats.chi2.isf(p, 49) / 50, [0.0], p),
        "filter": (quad1, noise.gaussian(1.0), opt.sgd(opt.constant(0.02)), 200, "final_gap",
                   (stats.norm.isf(p / 2) * sd) ** 2 / 2, [0.0], p),
        "clipped": (objectives.get("quadratic", 2), noise.stable(1.5), opt.clipped_sgd(opt.constant(0.1), opt.constant(1.0)),
                    100, "avg_grad_sq", 1.2, None, None),
    }


def is_case(p):
    """Unclipped SGD (η = 0.1, T = 100) under Cauchy noise: w_{T+1} is Cauchy with scale η Σ (1-η)^k."""
    eta, T = 0.1, 100
    scale = eta * sum((1 - eta) ** k for k in range(T))
    r = stats.cauchy.isf(p / 2, scale=scale)
    return (objectives.get("quadratic", 1), noise.stable(1.0), opt.sgd(opt.constant(eta)), T, "final_gap", r * r / 2,
            [0.0], float(2 * stats.cauchy.sf(r, scale=scale)))


def replicas_needed(s, target=0.5):
    for R in range(2, 10**7):
        if stats.t.ppf(0.975, R - 1) * s / math.sqrt(R) <= target:
            return R
    return math.inf


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=12)
    ap.add_argument("--particles", type=int, default=400)
    ap.add_argument("--p", type=float, default=1e-7)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    print(f"| case | T | truth | estimate (95% CI) | replica rel. sd s (95% CI) | work/replica | R* | splitting work | MC work 15/p·T | gain (range from s's CI) | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (obj, nz, o, T, metric, thr, x0, truth) in cases(args.p).items():
        if args.only and name != args.only:
            continue
        t0 = time.perf_counter()
        r = tail_probability(obj, nz, o, n_steps=T, metric=metric, threshold=thr, x0=x0, seed=7,
                             replicas=args.replicas, particles=args.particles)
        wall = time.perf_counter() - t0
        R = r.diagnostics["replicas"]
        s = r.diagnostics["replica_rel_sd"]
        pilot = args.particles * T
        w = (r.work - pilot) / R
        p_ref = truth if truth is not None else r.estimate
        s_lo, s_hi = s * math.sqrt((R - 1) / stats.chi2.ppf(0.975, R - 1)), s * math.sqrt((R - 1) / stats.chi2.ppf(0.025, R - 1))
        mc = 15 / p_ref * T
        gains = [mc / (replicas_needed(x) * w + pilot) for x in (s, s_hi, s_lo)]
        print(f"| {name} | {T} | {'%.3g' % truth if truth else 'unknown'} | {r.estimate:.3g} ({r.ci[0]:.3g}, {r.ci[1]:.3g}) "
              f"| {s:.2f} ({s_lo:.2f}, {s_hi:.2f}) | {w:.3g} | {replicas_needed(s)} | {replicas_needed(s) * w + pilot:.3g} "
              f"| {mc:.3g} | {gains[0]:.3g}× ({gains[1]:.3g}–{gains[2]:.3g}) | {wall:.0f} |", flush=True)
    if not args.only or args.only == "is-cauchy":
        bench_is(args.p)


def bench_is(p):
    obj, nz, o, T, metric, thr, x0, truth = is_case(p)
    t0 = time.perf_counter()
    r = tail_probability(obj, nz, o, n_steps=T, metric=metric, threshold=thr, x0=x0, seed=7, method="is",
                         budget=T * 20000)
    wall = time.perf_counter() - t0
    s = r.diagnostics["rel_sd_per_path"]
    pilot = r.work - 20000 * T
    need = math.ceil((1.96 * s / 0.5) ** 2) * T + pilot
    mc = 15 / truth * T
    print(f"| is-cauchy | {T} | {truth:.3g} | {r.estimate:.3g} ({r.ci[0]:.3g}, {r.ci[1]:.3g}) | per path {s:.2f} | {T} "
          f"| {math.ceil((1.96 * s / 0.5) ** 2)} paths | {need:.3g} | {mc:.3g} | {mc / need:.3g}× | {wall:.0f} |", flush=True)


if __name__ == "__main__":
    main()
