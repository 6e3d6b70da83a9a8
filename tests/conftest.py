"""Shared test helpers: replay a path's random draws with the engine's own primitives; run a sweep into a
store quietly and compare two stores; write a spec dict as TOML; a user objective's function."""
import json

import numpy as np
import pytest
from numba import njit

from clipsim import noise as N
from clipsim._rng import randbelow, seed_state


@njit
def quad_value_and_grad(w, grad):
    """½‖w‖² as a user's ``value_and_grad`` (objectives.custom)."""
    f = 0.0
    for i in range(w.shape[0]):
        grad[i] = w[i]
        f += 0.5 * w[i] * w[i]
    return f


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


# ------------------------------------------------------------------ shared store / spec helpers

@pytest.fixture(scope="session")
def simulate():
    """``simulate(sweep, path)``: run ``sweep`` into a store at ``path`` quietly; returns (done, skipped)."""
    from clipsim.runner import run_sweep
    from clipsim.store import Store

    return lambda sweep, path: run_sweep(sweep, Store(path), progress=False, say=lambda _: None)


@pytest.fixture(scope="session")
def assert_same_stores():
    """``assert_same_stores(a, b, configs=True)``: the stores at ``a`` and ``b`` hold the same non-empty
    set of cells with bitwise equal arrays (and equal configs)."""
    from clipsim.store import Store

    def check(a, b, configs=True):
        sa, sb = Store(a), Store(b)
        assert sa.keys() == sb.keys() and sa.keys()
        for k in sa.keys():
            xa, xb = sa.arrays(k), sb.arrays(k)
            assert xa.keys() == xb.keys()
            for name in xa:
                np.testing.assert_array_equal(xa[name], xb[name], err_msg=f"{k}:{name}")
            if configs:
                assert sa.load(k).config == sb.load(k).config
    return check


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v) if isinstance(v, str) else repr(v)


def toml_text(spec):
    """A sweep spec (nested dicts, as ``sweep.from_spec`` takes it) as TOML text: one ``[table]`` per
    top-level dict (nested dicts inline), one ``[[table]]`` per entry of a top-level list of dicts."""
    lines = []
    for name, table in spec.items():
        for t in (table if isinstance(table, list) else [table]):
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in t.items()]
            lines.append("")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def spec_toml():
    """``spec_toml(spec)``: the TOML text of a spec dict (parses back to ``spec``)."""
    return toml_text
