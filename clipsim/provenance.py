"""What determines the bits of a run: CPU model and features, library versions, Intel SVML state.

Every :class:`clipsim.engine.SimResult` (``meta["provenance"]``) and so every stored cell records
:func:`provenance`, and :func:`fingerprint` condenses the part that decides bitwise identity.

What "reproducible" promises
----------------------------
- **Bitwise**: the same seed gives bitwise the same arrays for any thread count, executor (local or
  Dask) and number of seeds (seed m of a 64-seed run equals seed m of an 8-seed run), *on machines
  with the same CPU feature set and the same versions of Python, NumPy, Numba, llvmlite and SciPy*
  (the same :func:`fingerprint`). Numba compiles for the host CPU: with other SIMD features (AVX2
  versus AVX-512, FMA or not) or another LLVM, exp/log/sin/cos and fused multiply-adds may differ in
  the last bits, and a path of thousands of steps amplifies that.
- **Otherwise, equal in distribution**: on a different CPU or library stack the same spec samples
  the same laws, so every statistic, interval and verdict agrees up to its stated Monte-Carlo error;
  individual numbers do not match bit for bit.
- Intel SVML (fast vector math, used by Numba when the ``icc_rt`` package is present) is kept off
  for reported numbers: ``import clipsim`` sets ``NUMBA_DISABLE_INTEL_SVML=1`` unless the user has set
  it, since SVML has given wrong ``parallel=True`` results on some machines; the state actually in
  effect is recorded (``svml``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform

#: CPU flags that change the code Numba/LLVM generates for floating-point loops.
_SIMD_PREFIXES = ("sse", "ssse", "avx", "fma", "f16c", "amx", "bmi")


def _cpuinfo():
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = val.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = val.split()
                if model and flags and key == "":
                    break
    except OSError:
        pass
    return model, flags


def _llvm_cpu():
    try:
        import llvmlite.binding as ll

        return ll.get_host_cpu_name(), ll.get_host_cpu_features().flatten()
    except Exception:  # noqa: BLE001  never fail a run for want of provenance
        return "unknown", ""


def _versions():
    import numba
    import numpy
    import scipy

    from . import __version__

    try:
        import llvmlite

        llv = llvmlite.__version__
    except ImportError:  # pragma: no cover
        llv = "unknown"
    return {"clipsim": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "numba": numba.__version__, "llvmlite": llv, "scipy": scipy.__version__}


def _svml():
    import numba

    return {"in_use": bool(getattr(numba.config, "USING_SVML", False)),
            "NUMBA_DISABLE_INTEL_SVML": os.environ.get("NUMBA_DISABLE_INTEL_SVML"),
            "set_by": "user" if _USER_SVML_SETTING is not None else "clipsim"}


_USER_SVML_SETTING = None  # set by clipsim/__init__.py before Numba is imported


@functools.lru_cache(maxsize=1)
def provenance() -> dict:
    """CPU (model, SIMD flags, LLVM target and features), library versions and SVML state (cached)."""
    model, flags = _cpuinfo()
    llvm_name, llvm_features = _llvm_cpu()
    simd = sorted(f for f in flags if f.startswith(_SIMD_PREFIXES))
    return {"cpu": {"model": model, "machine": platform.machine(), "simd_flags": simd,
                    "flags_sha256": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16],
                    "llvm_cpu": llvm_name,
                    "llvm_features_sha256": hashlib.sha256(llvm_features.encode()).hexdigest()[:16]},
            "versions": _versions(), "svml": _svml(), "platform": platform.platform()}


def fingerprint(prov: dict | None = None) -> str:
    """Short hash of what decides bitwise identity (LLVM target + features, versions, SVML in use):
    two runs with equal fingerprints and equal configs give bitwise equal arrays."""
    p = prov or provenance()
    key = {"llvm_cpu": p["cpu"]["llvm_cpu"], "llvm_features": p["cpu"]["llvm_features_sha256"],
           "versions": p["versions"], "svml": p["svml"]["in_use"]}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
