"""The engine's regression cases: every preset × objectives × noises at small T and seeds.

``tests/data/engine_regression.npz`` holds their outputs as produced by the engine before it was
rebuilt from stages (commit facbbc7), regenerated since only where sampler or objective arithmetic
changed on purpose (each time in a commit of its own that names the change; see ``git log`` of the
fixture); ``test_regression_fixture.py`` asserts bitwise equality.
Regenerate only when the numbers are meant to change (e.g. a new noise algorithm), in a commit that
says so: ``PYTHONPATH=. python tests/regression_cases.py``.
"""
import pathlib

import numpy as np

from clipsim import noise as N
from clipsim import objectives as O
from clipsim import optimizers as P
from clipsim.engine import simulate

FIXTURE = pathlib.Path(__file__).parent / "data" / "engine_regression.npz"
T, M, RECORD, SEED = 40, 2, 5, 3


def optimizers():
    return {
        "sgd": P.sgd(0.05),
        "sgd_b3": P.sgd(0.05, batch=3),
        "clipped_sgd": P.clipped_sgd(0.05, 1.0),
        "clipped_sgd_sched_b2": P.clipped_sgd(P.polynomial(0.2, 0.6), P.horizon(0.5, 0.25), batch=2),
        "clipped_sgd_noclip": P.clipped_sgd(0.05, None),
        "momentum": P.momentum(0.05, 0.9),
        "momentum_hb": P.momentum(0.02, 0.8, order="heavy_ball"),
        "cm_cta": P.clipped_momentum(0.05, 1.0, 0.9, order="clip_then_average"),
        "cm_hb": P.clipped_momentum(0.05, 1.0, 0.8, order="heavy_ball"),
        "cm_mtc_b2": P.clipped_momentum(0.05, 1.0, 0.9, order="momentum_then_clip", batch=2),
        "adagrad_norm": P.clipped_adagrad(0.5, 1.0, 0.5),
        "adagrad_delayed_eps": P.clipped_adagrad(0.5, 1.0, 0.5, delayed=True, eps=0.1),
        "adagrad_coord": P.clipped_adagrad(0.5, 2.0, 1.0, coordinate=True),
        "adagrad_coord_delayed_noclip": P.clipped_adagrad(0.5, None, 1.0, coordinate=True, delayed=True),
        "adagrad_coord_eps_sched": P.clipped_adagrad(P.polynomial(0.5, 0.2), 1.5, 0.7, coordinate=True, eps=0.2),
        "normalized_momentum": P.normalized_momentum(0.02, 1.0, 0.9),
        "delta_gclip": P.delta_gclip(0.1, gamma=0.5, delta=0.05),
        "delta_gclip_default_b2": P.delta_gclip(0.1, batch=2),
        "ps_per_sample": P.ps_clip_sgd(0.05, 1.0, 4),
        "ps_each_index": P.ps_clip_sgd(0.05, 1.0, 6, micro_batches=3, clip_index_exponent=0.5),
        "ps_once": P.ps_clip_sgd(0.05, 1.0, 6, micro_batches=2, accumulation="clip_once"),
        "ps_each_1": P.ps_clip_sgd(0.05, 1.0, 4, micro_batches=1),
        "sibert": P.sibert(0.05, 0.01),
        "sibert_b2": P.sibert(P.polynomial(0.1, 0.3), 0.02, batch=2),
    }


def objectives():
    return {
        "sin_quadratic": O.get("sin_quadratic", 5, a=1.0),
        "geman_mcclure": O.get("geman_mcclure", 4),
        "robust_regression": O.get("robust_regression", 4, n=30, covariate_df=5.0),
        "overparam_ls": O.get("overparam_least_squares", 6, n=3),
    }


def noises():
    return {
        "stable": N.stable(1.5),
        "stable_skewed": N.stable(1.3, beta=0.7, scale=0.5),
        "stable_radial": N.stable(1.7, vector="radial"),
        "pareto": N.pareto(2.5),
        "student_t": N.student_t(3.0),
        "gaussian": N.gaussian(0.5),
        "none": N.none(),
    }


def cases():
    """(case name, objective, noise, optimizer, x0 shift): every optimizer × noise on sin_quadratic,
    every optimizer × the other objectives under stable noise, and a few diverging runs."""
    opts, objs, noises_ = optimizers(), objectives(), noises()
    out = []
    for on, opt in opts.items():
        for nn, nz in noises_.items():
            out.append((f"{on}|sin_quadratic|{nn}", objs["sin_quadratic"], nz, opt, 0.5))
        for bn in ("geman_mcclure", "robust_regression", "overparam_ls"):
            nn = "none" if bn == "robust_regression" else "stable"
            out.append((f"{on}|{bn}|{nn}", objs[bn], noises_[nn], opt, 0.5))
        out.append((f"{on}|robust_regression|pareto", objs["robust_regression"], noises_["pareto"], opt, 0.5))
    for on in ("sgd", "momentum_hb"):  # unclipped, large steps, heavy tails: seeds diverge
        big = {"sgd": P.sgd(1e8), "momentum_hb": P.momentum(1e8, 0.9, order="heavy_ball")}[on]
        out.append((f"{on}_diverging|sin_quadratic|stable", objs["sin_quadratic"], N.stable(1.1), big, 3.0))
    return out


def run(case):
    name, obj, nz, opt, shift = case
    return simulate(obj, nz, opt, n_steps=T, n_seeds=M, seed=SEED, x0=obj.x0 + shift, record=RECORD)


def flatten(res):
    """The arrays of one result keyed as in the fixture."""
    out = {f"metric.{k}": np.asarray(v) for k, v in res.metrics.items()}
    out.update({f"record.{k}": v for k, v in res.records.items()})
    out["final_iterate"] = res.final_iterate
    return out


def generate():
    """Write every case's arrays as one float64 vector (bool and int values are exact in float64)
    with a key, dtype and shape table: one compact file instead of thousands of npz members."""
    keys, dtypes, shapes, parts = [], [], [], []
    for case in cases():
        for k, v in flatten(run(case)).items():
            keys.append(f"{case[0]}::{k}")
            dtypes.append(v.dtype.str)
            shapes.append(",".join(map(str, v.shape)))
            parts.append(v.astype(np.float64).ravel())
    np.savez_compressed(FIXTURE, keys=np.array(keys), dtypes=np.array(dtypes), shapes=np.array(shapes),
                        data=np.concatenate(parts))
    return len(keys)


def load():
    """{case name: {key: array}} from the fixture file."""
    out = {}
    with np.load(FIXTURE) as f:
        data, pos = f["data"], 0
        for key, dt, shp in zip(f["keys"], f["dtypes"], f["shapes"]):
            shape = tuple(int(s) for s in str(shp).split(",") if s)
            n = int(np.prod(shape))
            case, name = str(key).split("::", 1)
            out.setdefault(case, {})[name] = data[pos:pos + n].reshape(shape).astype(np.dtype(str(dt)))
            pos += n
    return out


if __name__ == "__main__":
    print(generate(), "arrays ->", FIXTURE)
