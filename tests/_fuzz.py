"""Shared pieces of the fuzz suites (tests/test_fuzz_*.py): hostile values, the outcome check and a tally.

An outcome is "ok" (accepted), "refused" (a one-line ValueError, or exit 2 with at most two stderr
lines) or a failure (anything else: another exception, a multi-line message, a traceback, too slow).
With CLIPSIM_FUZZ_TALLY=path the counts per surface and outcome are added to that JSON file.
"""
import atexit
import collections
import json
import math
import os
import time

from hypothesis import HealthCheck, settings, strategies as st

#: Fast default profile for `make test`; `CLIPSIM_FUZZ_PROFILE=long` (marked slow tests use it) runs more.
settings.register_profile("clipsim-fuzz", deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
settings.register_profile("clipsim-fuzz-long", deadline=None, suppress_health_check=list(HealthCheck),
                          max_examples=2000)
FUZZ = settings.get_profile("clipsim-fuzz-long" if os.environ.get("CLIPSIM_FUZZ_PROFILE") == "long"
                            else "clipsim-fuzz")
#: "Answer within seconds": wall time allowed for one refusal or acceptance.
SECONDS = 5.0

TALLY = collections.Counter()


def _dump():
    path = os.environ.get("CLIPSIM_FUZZ_TALLY")
    if path and TALLY:
        old = {}
        if os.path.exists(path):
            with open(path) as f:
                old = json.load(f)
        for k, v in TALLY.items():
            old[k] = old.get(k, 0) + v
        with open(path, "w") as f:
            json.dump(old, f, indent=1, sort_keys=True)


atexit.register(_dump)

HUGE_INTS = [10**6, 10**7, 10**9, 10**12, 10**18, 2**63, 10**30, -1, -(10**9), 0]
HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.sampled_from(HUGE_INTS), st.integers(-5, 5),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.5, 1.5, 2.0, 2.5, 1e-300]),
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.sampled_from(["", "x", "1.5", "nan", "../x", "\n"]),
)
HOSTILE = st.one_of(HOSTILE_SCALARS, st.lists(HOSTILE_SCALARS, max_size=3),
                    st.dictionaries(st.sampled_from(["kind", "c", "a", "p", "name", "family", "x"]),
                                    HOSTILE_SCALARS, max_size=3))


def outcome(surface, fn):
    """Run ``fn``; "ok" or "refused" (one-line ValueError within SECONDS); any other result fails the test."""
    t0 = time.perf_counter()
    try:
        fn()
        result = "ok"
    except ValueError as e:
        msg = str(e)
        assert msg and "\n" not in msg and "Traceback" not in msg, f"{surface}: multi-line message {msg!r}"
        result = "refused"
    dt = time.perf_counter() - t0
    assert dt < SECONDS, f"{surface}: took {dt:.1f} s"
    TALLY[f"{surface}:{result}"] += 1
    return result


def hostile_call(data, fn, values=HOSTILE):
    """(args, kwargs) for ``fn`` with its own signature: every required parameter and a random subset of
    the optional ones get hostile values (calling with the wrong arity is Python's TypeError, not ours)."""
    import inspect

    args, kw = [], {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is inspect.Parameter.empty
        if required or data.draw(st.booleans(), label=f"give {name}"):
            v = data.draw(values, label=name)
            if p.kind == p.POSITIONAL_ONLY or (required and p.kind == p.POSITIONAL_OR_KEYWORD):
                args.append(v)
            else:
                kw[name] = v
    return args, kw
