"""A user's own pieces for clipsim (the worked example of docs/howto_own_pieces.md).

- objective ``logcosh_regression``: F_S(w) = (1/n) Σ_j log cosh(x_jᵀw - y_j), a finite sum with
  per-sample gradients tanh(x_jᵀw - y_j) x_j; smoothness L ≤ ‖XᵀX‖/n since (log cosh)'' ≤ 1;
- noise ``slash``: Z / U^(1/a), Z ~ N(0, 1), U uniform: symmetric, tail index a (E|X|^p < ∞ iff p < a);
- stage ``soft_clip``: u ← u / (1 + ‖u‖/λ), a smooth relative of clipping (‖u‖ < λ always); it
  returns -1: not a clipping event for ``clip_fraction``.

Importing this file registers the three under their names, so a sweep can name them (with
``[sweep] allow_code = true`` and ``module = "own_pieces_module.py"``).
"""
import math

import numba
import numpy as np

from clipsim import noise, objectives, optimizers, user

N_SAMPLES, DIM, TAIL = 200, 5, 2.5
_rng = np.random.default_rng(0)
X = _rng.standard_normal((N_SAMPLES, DIM))
Y = X @ np.ones(DIM) / math.sqrt(DIM) + 0.3 * _rng.standard_normal(N_SAMPLES)


@numba.njit
def logcosh_value_and_grad(w, grad):
    """F_S(w) and ∇F_S(w) (written into grad)."""
    f = 0.0
    for i in range(w.shape[0]):
        grad[i] = 0.0
    for j in range(X.shape[0]):
        r = -Y[j]
        for i in range(w.shape[0]):
            r += X[j, i] * w[i]
        a = abs(r)
        f += a + math.log1p(math.exp(-2.0 * a)) - math.log(2.0)  # log cosh r, overflow-free
        c = math.tanh(r)
        for i in range(w.shape[0]):
            grad[i] += c * X[j, i]
    for i in range(w.shape[0]):
        grad[i] /= X.shape[0]
    return f / X.shape[0]


@numba.njit
def logcosh_sample_grad(w, j, grad):
    """∇f(w; z_j) for sample j."""
    r = -Y[j]
    for i in range(w.shape[0]):
        r += X[j, i] * w[i]
    c = math.tanh(r)
    for i in range(w.shape[0]):
        grad[i] = c * X[j, i]


@numba.njit
def slash_fill(state, out):
    """Each coordinate Z / U^(1/a) from the path's own stream (never np.random)."""
    for i in range(out.shape[0]):
        out[i] = user.standard_normal(state) / user.uniform(state) ** (1.0 / TAIL)


@numba.njit
def soft_clip(t, u, w, params, state):
    """u ← u / (1 + ‖u‖/λ), λ = params[0]."""
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * u[i]
    f = 1.0 / (1.0 + math.sqrt(s) / params[0])
    for i in range(u.shape[0]):
        u[i] *= f
    return -1  # shrinks every update: not counted as a clipping event


OBJECTIVE = objectives.custom(logcosh_value_and_grad, DIM, L=float(np.linalg.eigvalsh(X.T @ X / N_SAMPLES)[-1]),
                              f_star=math.nan, name="logcosh_regression", sample_grad=logcosh_sample_grad,
                              n=N_SAMPLES)
NOISE = noise.custom(slash_fill, name="slash", tail_index=TAIL)


def soft_clipped_sgd(eta, lam):
    """The user's rule as a chain: soft clipping, then the SGD step."""
    return optimizers.chain(optimizers.user_stage(soft_clip, name="soft_clip", params={"lam": lam}),
                            optimizers.sgd(eta))


soft_clipped_sgd(0.1, 1.0)  # registers the stage name for plain data (TOML)
