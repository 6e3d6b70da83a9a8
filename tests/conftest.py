"""Shared test helpers: replay a path's random draws with the engine's own primitives."""
import numpy as np
import pytest
from numba import njit

from clipsim import noise as N
from clipsim._rng import randbelow, seed_state


@njit(cache=False)  # test helper: compiled per session, never stale
def _replay(root, index, n_draws, n_data, ncode, nvec, nparams, nwork, d, idx_out, xi_out):
    state = np.empty(4, dtype=np.uint64)
    seed_state(root, np.uint64(index), state)
    work = np.empty(nwork)
    xi = np.empty(d)
    for k in range(n_draws):
        if n_data > 0:
            idx_out[k] = randbelow(state, n_data)
        if ncode != 0:
            N.noise_fill(ncode, nvec, nparams, state, xi, work)
            xi_out[k] = xi
        else:
            xi_out[k] = 0.0


def replay_draws(noise, objective, n_draws, seed=0, index=0):
    """The (sample index, noise vector) pairs the engine draws for path ``index``, in order.

    Every stochastic gradient costs one draw: a uniform sample index (finite sums) then one noise
    vector (if any), exactly the engine's order.
    """
    code, vec, params = noise.pack()
    d = objective.dim
    idx = np.full(n_draws, -1, dtype=np.int64)
    xi = np.zeros((n_draws, d))
    _replay(np.uint64(seed), np.int64(index), np.int64(n_draws), np.int64(objective.n), np.int64(code),
            np.int64(vec), np.asarray(params, dtype=np.float64), np.int64(N.noise_work_size(d)), d, idx, xi)
    return idx, xi


@pytest.fixture
def replay():
    return replay_draws
