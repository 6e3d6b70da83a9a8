"""Guard against stale Numba caches across modules.

``cache=True`` keys a kernel's cache on its own source file only: when a function it calls from
another module changes (``noise.noise_fill`` inside the engine's kernel, say), Numba keeps loading
the old machine code. This guard hashes the sources of every module that holds kernels and, when
the hash differs from the one stored beside the caches, deletes this package's cache files before
any kernel is loaded. It runs on ``import clipsim``; it is a no-op on a fresh checkout.
"""
from __future__ import annotations

import hashlib
import os

KERNEL_MODULES = ("_rng.py", "_vmath.py", "_views.py", "noise.py", "objectives.py", "optimizers.py", "_stages.py",
                  "engine.py", "rare.py")


def _sources_hash(pkg_dir):
    h = hashlib.sha256()
    for name in KERNEL_MODULES:
        path = os.path.join(pkg_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def _cache_dir(pkg_dir):
    root = os.environ.get("NUMBA_CACHE_DIR")
    if root:  # Numba's _UserProvidedCacheLocator: <basename>_<sha1 of the absolute source directory>
        parent = os.path.abspath(pkg_dir)
        return os.path.join(root, f"{os.path.basename(parent)}_{hashlib.sha1(parent.encode()).hexdigest()}")
    return os.path.join(pkg_dir, "__pycache__")


def invalidate_stale_kernels(pkg_dir):
    """Delete ``*.nbi``/``*.nbc`` of this package if its kernel sources changed since they were cached."""
    cache = _cache_dir(pkg_dir)
    stamp = os.path.join(cache, "kernel_sources.sha256")
    digest = _sources_hash(pkg_dir)
    try:
        with open(stamp) as f:
            if f.read().strip() == digest:
                return False
    except OSError:
        pass
    try:
        os.makedirs(cache, exist_ok=True)
        for name in os.listdir(cache):
            if name.endswith((".nbi", ".nbc")):
                try:
                    os.remove(os.path.join(cache, name))
                except OSError:  # another process got there first
                    pass
        tmp = f"{stamp}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(digest)
        os.replace(tmp, stamp)
    except OSError:  # read-only install: nothing to guard
        return False
    return True
