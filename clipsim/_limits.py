"""Memory estimates and size bounds: refuse a run that cannot fit before allocating anything.

A value inside a parameter's valid range can still ask for terabytes (``n_seeds = 10**9``,
``sample(10**12)``, ``n = 10**7`` rows of data in ``dim = 1000``). Each allocating entry point
estimates the bytes it needs and calls :func:`require`, which raises a one-line ``ValueError``
stating what is needed, what is available and how to reduce it. Available memory is
``MemAvailable`` of ``/proc/meminfo`` (or ``os.sysconf`` pages), capped by a cgroup limit when one
is set; a run may use at most :data:`FRACTION` (half) of it, since other processes share the machine. ``CLIPSIM_MAX_BYTES`` overrides the budget.
"""
from __future__ import annotations

import os

#: Share of the available memory one allocation may claim (the rest: Python, Numba, the OS).
FRACTION = 0.5
_F8 = 8
#: float64 arrays of length T alive at once while ``Optimizer.pack`` builds η and λ (η, λ, t, temporaries).
_SCHEDULE_ARRAYS = 4


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_available():
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as f:
                lim = f.read().strip()
            with open(usage) as f:
                used = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if lim.isdigit() and int(lim) < 1 << 60:
            return max(int(lim) - used, 0)
    return None


def available_bytes() -> int:
    """Bytes this process may still allocate (the budget before :data:`FRACTION`)."""
    env = os.environ.get("CLIPSIM_MAX_BYTES")
    if env:
        try:
            return int(float(env) / FRACTION)
        except ValueError:
            pass
    cands = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    return min(cands) if cands else 1 << 62


def fmt_bytes(n) -> str:
    """``n`` bytes in the largest unit that keeps the number >= 1 (e.g. '3.2 GB')."""
    if n >= 1e21:
        return "more than 1000 EB"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB"):
        if n < 1000 or unit == "EB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.3g} EB"  # pragma: no cover


def require(what: str, need: int | float, how: str) -> None:
    """Raise ValueError if ``need`` bytes exceed FRACTION of what is available."""
    avail = available_bytes()
    if need > FRACTION * avail:
        raise ValueError(f"{what} needs about {fmt_bytes(need)} of memory; {fmt_bytes(FRACTION * avail)} is "
                         f"available ({int(FRACTION * 100)}% of free memory): {how}")


def simulate_bytes(n_seeds, n_steps, dim, n_grid, n_metrics, n_records, n_work, threads) -> int:
    """Peak bytes of one ``simulate`` call: the η and λ schedules (length T), metrics, records and final
    iterates (each twice: the kernel's arrays and the result's copies) and per-thread path scratch."""
    per_seed = (n_metrics + n_grid * n_records + dim) * _F8
    scratch = (8 * ((dim + 7) // 8 * 8) + n_work + 64) * _F8
    return _SCHEDULE_ARRAYS * n_steps * _F8 + 2 * n_seeds * per_seed + max(int(threads), 1) * scratch


def guard_simulate(n_seeds, n_steps, dim, n_grid, n_metrics, n_records, n_work, threads):
    """:func:`require` for one ``simulate`` call (see :func:`simulate_bytes`)."""
    need = simulate_bytes(n_seeds, n_steps, dim, n_grid, n_metrics, n_records, n_work, threads)
    require(f"simulate (n_seeds={n_seeds}, n_steps={n_steps}, dim={dim}, {n_grid} record points)", need,
            "use fewer seeds (several runs with first_seed), fewer record points, a smaller dim or a "
            "shorter horizon")


def guard_schedule(n_steps):
    """The η and λ arrays of length n_steps that ``Optimizer.pack`` allocates."""
    require(f"the step-size schedules at n_steps={n_steps}", _SCHEDULE_ARRAYS * n_steps * _F8,
            "use a shorter horizon")


def guard_array(what, n_values, how):
    """One float64 array of ``n_values`` entries (plus one temporary of the same size)."""
    require(f"{what} ({n_values:,} values)", 2 * n_values * _F8, how)
