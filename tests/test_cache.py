"""The stale-kernel guard drops cached machine code exactly when a kernel module's source changes."""
import os
from pathlib import Path

from clipsim._cache import KERNEL_MODULES, invalidate_stale_kernels


def test_guard_drops_caches_only_when_sources_change(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    for name in KERNEL_MODULES:
        (tmp_path / name).write_text(f"# {name}\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    stale = cache / "engine._drive-1.py311.nbi"
    stale.write_text("old")
    assert invalidate_stale_kernels(str(tmp_path)) and not stale.exists()   # no stamp yet: dropped
    stale.write_text("fresh")
    assert not invalidate_stale_kernels(str(tmp_path)) and stale.exists()   # unchanged sources: kept
    (tmp_path / "noise.py").write_text("# changed\n")
    assert invalidate_stale_kernels(str(tmp_path)) and not stale.exists()   # a callee changed: dropped
    other = cache / "module.cpython-311.pyc"
    other.write_text("bytecode")
    (tmp_path / "_vmath.py").write_text("# changed again\n")
    invalidate_stale_kernels(str(tmp_path))
    assert other.exists()                                                    # only Numba files go


def test_guard_follows_numba_cache_dir(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in KERNEL_MODULES:
        (pkg / name).write_text("x = 1\n")
    root = tmp_path / "numba_cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(root))
    # where Numba itself puts the cache of a function defined in pkg/engine.py under NUMBA_CACHE_DIR
    from numba.core import caching, config

    monkeypatch.setattr(config, "CACHE_DIR", str(root))
    code = compile("def f():\n    return 1\n", str(pkg / "engine.py"), "exec")
    ns = {}
    exec(code, ns)
    mirrored = Path(caching.UserProvidedCacheLocator.from_function(ns["f"], str(pkg / "engine.py")).get_cache_path())
    mirrored.mkdir(parents=True, exist_ok=True)
    (mirrored / "noise.noise_fill-1.py311.nbc").write_text("old")
    assert invalidate_stale_kernels(str(pkg))
    assert not (mirrored / "noise.noise_fill-1.py311.nbc").exists()
