"""One declared way to reject bad input: a one-line ``ValueError`` naming field, value and range.

Every public constructor validates its parameters here, once, so that nothing invalid reaches a
Numba kernel (whose own errors would be unreadable tracebacks).
"""
from __future__ import annotations

import math
import numbers


def _fmt(value):
    if isinstance(value, float):
        return repr(value)
    return repr(value) if isinstance(value, str) else str(value)


def real(name, value, lo=-math.inf, hi=math.inf, *, lo_open=False, hi_open=False):
    """Return ``value`` as float if it is a finite real in the interval, else raise ValueError.

    ``lo_open``/``hi_open`` make the corresponding end exclusive.
    """
    lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
    allowed = f"a real number in {lb}{_fmt(lo)}, {_fmt(hi)}{rb}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be {allowed}")
    v = float(value)
    ok = (not math.isnan(v)) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok or (math.isinf(v) and not (math.isinf(lo) and v == lo) and not (math.isinf(hi) and v == hi)):
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be {allowed}")
    return v


def positive(name, value):
    """A finite real > 0."""
    return real(name, value, 0.0, math.inf, lo_open=True, hi_open=True)


def nonnegative(name, value):
    """A finite real >= 0."""
    return real(name, value, 0.0, math.inf, hi_open=True)


def integer(name, value, lo=None, hi=None):
    """Return ``value`` as int if it is an integer in [lo, hi], else raise ValueError."""
    rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be an integer in {rng}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be an integer in {rng}")
    return v


def choice(name, value, allowed):
    """Return ``value`` if it is one of ``allowed``, else raise ValueError listing the choices."""
    if value not in allowed:
        opts = ", ".join(_fmt(a) for a in allowed)
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be one of {opts}")
    return value
