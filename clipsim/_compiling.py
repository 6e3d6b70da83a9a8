"""Python's cyclic garbage collector paused while Numba compiles clipsim's kernels (cold start).

Numba's compiler builds and drops millions of small Python objects (IR nodes, types, LLVM wrappers);
with the collector on, its generation-2 passes rescan every live object of the process again and again
during a compile. Measured on the first ``simulate`` in a fresh environment: about 0.7 s of 9 s
(benchmarks/RESULTS.md). The collector is paused from the start of the outermost compile of a clipsim
function (the user pieces it compiles with it included) to its end, then restored as it was; other
compiles in the process are left alone. The cycles a compile leaves behind are collected afterwards as
usual (about 20 MB more peak memory).

Compiles run under Numba's global compiler lock, one at a time, so the nesting depth needs no lock of
its own.
"""
from __future__ import annotations

import gc

from numba.core import event as _event

__all__ = ["install"]


def _owned(event):
    fn = getattr(event.data.get("dispatcher"), "py_func", None)
    return getattr(fn, "__module__", "").split(".")[0] == "clipsim"


class _PauseCollector(_event.Listener):
    def __init__(self):
        self.depth = 0          # nesting of compiles inside an outermost clipsim compile
        self.resume = False     # whether the collector was on when it began

    def on_start(self, event):
        if self.depth == 0:
            if not _owned(event):
                return
            self.resume = gc.isenabled()
            gc.disable()
        self.depth += 1

    def on_end(self, event):
        if self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0 and self.resume:
            gc.enable()


_LISTENER = None


def install():
    """Register the listener once per process (``import clipsim`` calls it)."""
    global _LISTENER
    if _LISTENER is None:
        _LISTENER = _PauseCollector()
        _event.register("numba:compile", _LISTENER)
    return _LISTENER
