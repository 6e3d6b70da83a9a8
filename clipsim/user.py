"""The user's own pieces: an objective, a noise sampler and a stage written as ``@numba.njit`` functions.

- :func:`clipsim.objectives.custom` — ``value_and_grad(w, grad) -> float`` writes ∇F(w) into ``grad``
  and returns F(w); for a finite sum also ``sample_grad(w, j, grad)`` (∇f(w; z_j), j uniform on [n]).
- :func:`clipsim.noise.custom` — ``fill(state, out)`` fills the d-vector ``out`` from the path's
  random stream ``state``: draw with :func:`uniform` / :func:`standard_normal` below (never with
  ``np.random``, which is neither addressed per path nor reproducible across threads).
- :func:`clipsim.optimizers.user_stage` — ``fn(t, u, w, params, state) -> int`` transforms the update
  ``u`` in place at step t (``params``: the stage's scalars at step t; ``state``: its own float64
  array) and returns 1 / 0 if it clipped / did not (counted in ``clip_fraction``), -1 if it does not clip.

Cost: a configuration with user pieces runs on kernels specialised to those functions, compiled once
per process (seconds, like any Numba function) and not cached on disk. Everything else (addressed
streams, bitwise reproducibility across threads, divergence handling, records, checks, sweeps) is
the same code path as the built-in pieces.

Each piece is registered under its ``name`` so that plain data (``{"name": "my_objective"}``) and
sweeps can refer to it once the module defining it is imported. A sweep imports such a module only
with an explicit opt-in, since that runs its code: ``[sweep] allow_code = true`` and
``module = "path/to/pieces.py"`` (a path relative to the spec file).
"""
from __future__ import annotations

import importlib.util
import os
import sys

from ._rng import standard_normal, uniform  # noqa: F401  (the helpers user samplers call)

OBJECTIVES: dict = {}
NOISES: dict = {}
STAGES: dict = {}
_LOADED: dict = {}
_CODES: dict = {}  # (kind, name) -> the code of the functions registered under it


def _code(fn):
    """What makes a user function the same function: its bytecode, constants, names and qualified name
    (a notebook cell run again gives a new function object with the same code)."""
    f = getattr(fn, "py_func", fn)
    c = getattr(f, "__code__", None)
    return (getattr(f, "__qualname__", repr(f)),) if c is None else (f.__qualname__, c.co_code, c.co_consts,
                                                                     c.co_names)


def register(kind, name, spec, fns):
    """Record a user piece under ``name``: ``spec`` (its data) and ``fns`` (its user functions). The same
    name again is allowed for the same piece (equal data, functions of the same code: a re-run cell, which
    replaces it); for a different one it is a ValueError, since stored cells are keyed by the name."""
    table = {"objective": OBJECTIVES, "noise": NOISES, "stage": STAGES}[kind]
    codes = tuple(_code(f) for f in fns if f is not None)
    old = table.get(name)
    if old is not None and (_CODES.get((kind, name)) != codes or not _same_data(old, spec)):
        raise ValueError(f"{kind} name = {name!r} is not allowed: another user {kind} is registered under it in "
                         "this process (cells are keyed by name); choose another name")
    table[name] = spec
    _CODES[(kind, name)] = codes
    return spec


def trial_compile(what, fn, usage, argtypes, returns_number):
    """Compile the user's ``fn`` for the argument types the engine passes (the engine reuses that
    compile), so that a wrong signature is a one-line ValueError here, not a Numba traceback later."""
    from numba.core import types
    from numba.core.errors import NumbaError

    try:
        fn.compile(argtypes)
    except (NumbaError, TypeError, ValueError) as e:
        raise ValueError(f"{what} = {getattr(fn.py_func, '__name__', fn)} cannot be compiled as {usage}: "
                         f"{_first_reason(e)}") from None
    ret = fn.overloads[tuple(argtypes)].signature.return_type
    if returns_number and not isinstance(ret, (types.Integer, types.Float, types.Boolean)):
        raise ValueError(f"{what} = {fn.py_func.__name__} returns {ret}: {usage} must return a number")


def _first_reason(err):
    """The informative line of a Numba compile error (and where), without the pipeline boilerplate."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    skip = ("Failed in nopython mode pipeline", "During:", "File ", "^", "There are ", "- Of which", "Overload of",
            "With argument", "No match", ">>>")
    reason = next((ln for ln in lines if not ln.startswith(skip)), lines[0] if lines else type(err).__name__)
    call = next((ln[3:].strip() for ln in lines if ln.startswith(">>>")), "")
    if reason.endswith("found for signature:") and call:
        reason = f"{reason} {call}"
    where = next((ln for ln in lines if ln.startswith("During: typing of")), "")
    at = where.rsplit(" at ", 1)[-1] if " at " in where else ""
    return reason[:160] + (f" (at {at})" if at else "")


def _same_data(old, new):
    """Equal as data (the functions are compared by code, in register)."""
    if callable(old) and callable(new):
        return True
    try:
        return bool(old == new)
    except ValueError:  # dataclasses holding arrays
        return False


def lookup(kind, name):
    """The registered user piece, or None (also for a name that is not a string: the caller's validation names it)."""
    if not isinstance(name, str):
        return None
    return {"objective": OBJECTIVES, "noise": NOISES, "stage": STAGES}[kind].get(name)


def load_module(path, *, allow_code=False):
    """Import the Python file ``path`` (which defines and registers user pieces); runs its code.

    ``allow_code`` must be True: loading a module is code execution, so callers opt in explicitly.
    A file is imported once per process.
    """
    if allow_code is not True:
        raise ValueError(f"module = {str(path)!r} is not allowed without allow_code = true: importing it runs its code")
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise ValueError(f"module = {path!r} is not allowed: no such file")
    if path in _LOADED:
        return _LOADED[path]
    name = "clipsim_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _LOADED[path] = mod
    return mod


def module_sources(configs):
    """[(file name, source text)] of the loaded user modules that the cell ``configs`` name (by SHA-256):
    what a Dask worker needs to register the same pieces (:func:`load_source`)."""
    import hashlib

    wanted = {c["user_module"]["sha256"] for c in configs if c.get("user_module")}
    out = []
    for path in _LOADED:
        with open(path, "rb") as f:
            text = f.read()
        if hashlib.sha256(text).hexdigest() in wanted:
            out.append((os.path.basename(path), text))
    return out


def load_source(sources):
    """Import user modules shipped as text by the process that loaded them with ``allow_code = true``
    (a Dask worker, which runs whatever its client sends): each file is written once under the temp
    directory, keyed by its SHA-256, and imported like :func:`load_module`."""
    import hashlib
    import tempfile

    for filename, text in sources:
        folder = os.path.join(tempfile.gettempdir(), "clipsim_user", hashlib.sha256(text).hexdigest())
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, os.path.basename(filename))
        if not os.path.isfile(path):
            tmp = f"{path}.{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(text)
            os.replace(tmp, path)
        load_module(path, allow_code=True)
