"""Progress of a sweep on stderr: a bar over seeds weighted by their work, compile time apart.

Work is counted in coordinate-steps: a seed of a cell costs T·d (steps × dimension), so a cell of
``seeds`` seeds costs seeds·T·d and the bar, the rate and the ETA stay honest when cells differ in T.
The first simulation in a process loads or compiles the Numba kernels (6-7 s on a fresh machine,
well under a second once cached); :func:`warm_up` does that on a two-step run before the sweep, the bar
shows its time separately, and the ETA counts only simulation time.

Large cells run in chunks of seeds (:func:`run_in_chunks`), so the bar moves within a cell: seed m of
a cell draws from the stream (seed, m) whichever call computes it, so the merged result is bitwise the
one-call result (the tests check this).

Output: on a terminal, one line redrawn in place; otherwise (a log file, CI) one line per update,
at most one every ``min_interval`` seconds plus one per finished cell.

Own code rather than tqdm or rich: the bar needs two clocks (compile and simulation), work-weighted
seeds and a plain line-per-update mode for logs; that is a few dozen lines, and an extra dependency
for every install would buy little.
"""
from __future__ import annotations

import copy
import math
import sys
import time

import numpy as np

#: a chunk of a cell should take about a second: coordinate-steps per chunk (~25-45 M/s on one core)
CHUNK_WORK = 2e7
#: never split below this many seeds per chunk (the kernel runs seeds in parallel chunks of 8)
MIN_CHUNK_SEEDS = 64


def seed_work(config) -> int:
    """Coordinate-steps of one seed of a cell: n_steps × dim."""
    return int(config["n_steps"]) * int(config["objective"]["dim"])


def cell_work(config) -> int:
    return seed_work(config) * int(config["n_seeds"])


def _fmt_time(s):
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _fmt_rate(r):
    for unit, k in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= k:
            return f"{r / k:.1f}{unit}"
    return f"{r:.0f}"


class Progress:
    """Seeds done (weighted by T·d), rate in coordinate-steps per second, ETA, and compile time.

    ``step(config, label)`` marks a whole cell done; ``advance(config, seeds)`` adds seeds of a cell
    in progress (then ``step`` adds only the rest). ``clock`` and ``stream`` are injectable for tests.
    """

    def __init__(self, configs, enabled=True, stream=None, clock=time.perf_counter, min_interval=1.0, width=28):
        configs = list(configs)
        self.total, self.done = len(configs), 0
        self.seeds_total = sum(int(c["n_seeds"]) for c in configs)
        self.work_total = sum(map(cell_work, configs))
        self.seeds_done, self.work_done = 0, 0
        self._partial = {}  # id(config) -> seeds already counted for a cell in progress
        self.compile_s = 0.0
        self.clock = clock
        self.t0 = clock()
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval, self.width = min_interval, width
        self._last = -math.inf

    # ---- events ---------------------------------------------------------------------------------
    def compiled(self, seconds):
        """Record kernel load/compile time (excluded from the rate and the ETA) and say so."""
        self.compile_s += seconds
        self.t0 += seconds  # the simulation clock starts after the warm-up
        if self.enabled:
            what = ("compiled in {:.1f} s (once per machine, cached after)" if seconds >= 2.0
                    else "loaded from the cache in {:.1f} s").format(seconds)
            self._write(f"Numba kernels {what}; not counted in the ETA", final=True)

    def advance(self, config, seeds, label=""):
        """``seeds`` more seeds of ``config``'s cell are done (the cell is not finished)."""
        self._partial[id(config)] = self._partial.get(id(config), 0) + seeds
        self._add(config, seeds)
        self._show(label, final=False)

    def step(self, config, label=""):
        """The cell of ``config`` is finished."""
        self.done += 1
        self._add(config, int(config["n_seeds"]) - self._partial.pop(id(config), 0))
        self._show(label, final=True)

    def _add(self, config, seeds):
        self.seeds_done += seeds
        self.work_done += seeds * seed_work(config)

    # ---- display --------------------------------------------------------------------------------
    def line(self, label=""):
        """The current progress line (no I/O)."""
        frac = self.work_done / self.work_total if self.work_total else 1.0
        sim = max(self.clock() - self.t0, 1e-9)
        rate = self.work_done / sim
        eta = (self.work_total - self.work_done) / rate if self.work_done else math.inf
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        return (f"[{bar}] {frac:6.1%}  seeds {self.seeds_done:,}/{self.seeds_total:,}  "
                f"cells {self.done}/{self.total}  {_fmt_rate(rate)} coord-steps/s  "
                f"elapsed {_fmt_time(sim)}  ETA {_fmt_time(eta)}  {label}").rstrip()

    def _show(self, label, final):
        if not self.enabled:
            return
        now = self.clock()
        if not final and now - self._last < self.min_interval:
            return
        self._last = now
        self._write(self.line(label), final=final and self.done == self.total)

    def _write(self, msg, final=False):
        if self.tty:
            cols = 120
            self.stream.write("\r" + msg[:cols].ljust(cols) + ("\n" if final else ""))
        else:
            self.stream.write(msg + "\n")
        self.stream.flush()


# ---- compile time ----------------------------------------------------------------------------------
def _kernel_signature(config):
    """What may select different compiled code: names and non-numeric options, not numbers."""
    opt = {k: v for k, v in config["optimizer"].items() if isinstance(v, (str, bool))}
    return (config["objective"]["name"], config["noise"].get("family"), config["noise"].get("vector"),
            tuple(sorted(opt.items())))


def warm_up(configs, run, threads=None) -> float:
    """Run each distinct kernel signature of ``configs`` for 2 steps and 1 seed; wall seconds spent.

    This is the kernels' load or compile time (``run(config, threads)`` is the cell runner).
    """
    t0 = time.perf_counter()
    seen = set()
    for config in configs:
        sig = _kernel_signature(config)
        if sig in seen:
            continue
        seen.add(sig)
        tiny = copy.deepcopy(config)
        tiny.update(n_steps=2, n_seeds=1, record=None)
        tiny.pop("first_seed", None)
        run(tiny, threads)
    return time.perf_counter() - t0


# ---- progress within a cell ---------------------------------------------------------------------------
def chunk_sizes(config, chunk_work=CHUNK_WORK, min_seeds=MIN_CHUNK_SEEDS):
    """Seeds per call for one cell: one call for small cells, else chunks of about ``chunk_work``."""
    M = int(config["n_seeds"])
    per = max(min_seeds, int(chunk_work // max(seed_work(config), 1)))
    per = -(-per // 8) * 8
    if per >= M:
        return [M]
    return [per] * (M // per) + ([M % per] if M % per else [])


def merge_results(parts):
    """One SimResult from results of consecutive seed ranges of the same cell (concatenated by seed)."""
    from .engine import SimResult

    first = parts[0]
    config = dict(first.config, n_seeds=sum(p.n_seeds for p in parts))
    meta = dict(first.meta, elapsed_s=sum(p.meta.get("elapsed_s", 0.0) for p in parts))
    metrics = {k: np.concatenate([p.metrics[k] for p in parts]) for k in first.metrics}
    records = {k: np.concatenate([p.records[k] for p in parts]) for k in first.records}
    final = np.concatenate([p.final_iterate for p in parts])
    return SimResult(metrics, records, first.record_steps, config, meta, final, first.objective, first.noise,
                     first.optimizer)


def run_in_chunks(config, run, threads=None, on_seeds=None, chunk_work=CHUNK_WORK):
    """``run(config, threads)`` for one cell, in chunks of seeds; ``on_seeds(k)`` after each chunk
    but the last. Bitwise the result of a single call (seed m draws from stream (seed, m))."""
    sizes = chunk_sizes(config, chunk_work)
    if len(sizes) == 1:
        return run(config, threads)
    parts, start = [], int(config.get("first_seed", 0))
    for i, k in enumerate(sizes):
        part = dict(config, n_seeds=k, first_seed=start)
        parts.append(run(part, threads))
        start += k
        if on_seeds is not None and i + 1 < len(sizes):
            on_seeds(k)
    return merge_results(parts)
