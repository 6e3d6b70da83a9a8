"""One declared way to reject bad input: a one-line ``ValueError`` naming field, value and range.

Every public constructor validates its parameters here, once, so that nothing invalid reaches a
Numba kernel (whose own errors would be unreadable tracebacks).
"""
from __future__ import annotations

import math
import numbers


def _fmt(value, width=80):
    """The value as the error line shows it: one line (an array's rows joined), at most ``width`` characters."""
    text = repr(value) if isinstance(value, (float, str)) else str(value)
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= width else text[:width - 3] + "..."


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


def table(name, value):
    """Return ``value`` if it is a dict (a TOML table), else raise ValueError."""
    if not isinstance(value, dict):
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be a table (dict)")
    return value


def string(name, value, *, nonempty=True):
    """Return ``value`` if it is a (non-empty) string, else raise ValueError."""
    if not isinstance(value, str) or (nonempty and not value.strip()):
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be a {'non-empty ' if nonempty else ''}string")
    return value


def boolean(name, value):
    """Return ``value`` if it is True or False, else raise ValueError."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be true or false")
    return value


def reals(name, value, lo=-math.inf, hi=math.inf, *, lo_open=False, hi_open=False, scalar_ok=True):
    """A real or a non-empty list of reals, each in the interval → list of floats."""
    items = value if isinstance(value, list) else ([value] if scalar_ok else None)
    if not items:
        what = "a number or a non-empty list of numbers" if scalar_ok else "a non-empty list of numbers"
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be {what}")
    return [real(f"{name}[{i}]" if isinstance(value, list) else name, v, lo, hi, lo_open=lo_open,
                 hi_open=hi_open) for i, v in enumerate(items)]


def safe_name(name, value):
    """A file stem that stays inside its directory: letters, digits, ``._-``; no leading dot, <= 120 chars.

    Anything else (``/``, ``..``, spaces, control characters) raises ValueError (never silently rewritten,
    so two figures cannot collide on one file)."""
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,119}", value) \
            or ".." in value:
        raise ValueError(f"{name} = {_fmt(value)} is not allowed: must be a file name of letters, digits and "
                         "._- (no path separators, no '..', no leading dot, at most 120 characters)")
    return value


#: Names :meth:`clipsim.engine.SimResult.theory_values` may supply besides canonical symbols.
_RUN_VALUE_NAMES = ("tail_index",)


def bound_values(bound, values):
    """Values passed to :func:`clipsim.check.check`: every name must be a symbol of the bound (or a
    canonical one), every value a real number (not nan); hidden constants finite and > 0.

    A misspelled name (``C_opr``) would otherwise be ignored and the check run on another value."""
    import difflib

    from theory import symbols as S

    params = tuple(getattr(bound, "parameters", ()) or getattr(bound, "symbols", ()))
    hidden = {h.name for h in getattr(bound, "hidden_constants", ())}
    allowed = set(params) | set(S.CANONICAL) | set(_RUN_VALUE_NAMES) | hidden
    for k, v in values.items():
        if k not in allowed:
            near = difflib.get_close_matches(k, sorted(set(params) | hidden), n=1)
            raise ValueError(f"{getattr(bound, 'name', 'bound')}: value name {k!r} is not allowed: "
                             + (f"did you mean {near[0]!r}? " if near else "")
                             + f"the bound's symbols are {', '.join(params) or 'none'}")
        if k in hidden:
            positive(f"{k} (hidden constant)", v)
        elif isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v):
            raise ValueError(f"{k} = {_fmt(v)} is not allowed: must be a real number")
    return values


def vector(name, value, dim):
    """``value`` as a finite float64 array of shape (dim,), else ValueError."""
    import numpy as np

    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        a = None
    if a is None:
        raise ValueError(f"{name} = {_fmt(value)[:80]} is not allowed: must be a finite vector of shape ({dim},)")
    if a.shape != (dim,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has shape {a.shape}: must be a finite vector of shape ({dim},)")
    return a
