"""clipsim._compiling: the cyclic garbage collector is paused during an outermost compile of a clipsim
function (with everything compiled inside it) and restored afterwards, also when the compile fails; other
compiles in the process are left alone."""
import gc

import numpy as np
import pytest
from numba import njit
from numba.core import errors, event

from clipsim import _compiling, engine


class _Seen(event.Listener):
    """The collector's state at the start and the end of each compile (registered after clipsim's
    listener, so it sees the state clipsim's left)."""

    def __init__(self):
        self.starts = []
        self.ends = []

    def on_start(self, ev):
        self.starts.append((ev.data["dispatcher"].py_func.__module__, gc.isenabled()))

    def on_end(self, ev):
        self.ends.append((ev.data["dispatcher"].py_func.__module__, gc.isenabled()))


@pytest.fixture
def seen():
    listener = _Seen()
    event.register("numba:compile", listener)
    was = gc.isenabled()
    gc.enable()
    yield listener
    event.unregister("numba:compile", listener)
    (gc.enable if was else gc.disable)()


def _user_fill():
    @njit
    def fill(state, out):
        for i in range(out.shape[0]):
            out[i] = 1.0
    return fill


def _call(fill_wrapper):
    fill_wrapper(np.int64(0), np.int64(0), np.zeros(4), np.zeros(4, np.uint64), np.zeros(3), np.zeros(3))


def test_paused_inside_a_clipsim_compile_and_restored(seen):
    _compiling.install()  # idempotent: import clipsim already did it
    assert _compiling.install() is _compiling._LISTENER
    _call(engine._user_noise_fill(_user_fill()))  # a new clipsim function compiling the user's inside it
    mods = [m for m, _ in seen.starts]
    assert mods[0] == "clipsim.engine" and __name__ in mods, seen.starts
    assert all(not on for _, on in seen.starts), seen.starts
    assert [on for _, on in seen.ends] == [False] * (len(seen.ends) - 1) + [True], seen.ends  # nested: still off
    assert seen.ends[-1][0] == "clipsim.engine"
    assert gc.isenabled() and _compiling._LISTENER.depth == 0


def test_other_compiles_left_alone(seen):
    @njit
    def mine(x):
        return x + 1

    assert mine(1) == 2
    assert seen.starts == [(__name__, True)]
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(seen):
    gc.disable()
    _call(engine._user_noise_fill(_user_fill()))
    assert not gc.isenabled() and seen.starts and not any(on for _, on in seen.starts)


def test_restored_when_the_compile_fails(seen):
    @njit
    def bad(state, out):
        out[0] = "not a number"

    with pytest.raises(errors.TypingError):
        _call(engine._user_noise_fill(bad))
    assert gc.isenabled() and _compiling._LISTENER.depth == 0
