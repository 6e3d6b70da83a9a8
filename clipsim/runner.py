"""Run a sweep's cells into a store, locally or on Dask, skipping cells already stored.

Each cell is one ``simulate`` call built from its plain-data config, so any executor computes the
same bits: seeds are addressed streams and the kernel does not depend on the thread count.
"""
from __future__ import annotations

import os
import sys
import time


def run_config(config, threads=None):
    """Run one cell config (plain data, as in :class:`clipsim.sweep.Cell`) → SimResult."""
    from . import noise as N, objectives as O, optimizers as P
    from .engine import simulate

    return simulate(O.from_dict(config["objective"]), N.Noise.from_dict(config["noise"]),
                    P.from_dict(config["optimizer"]), n_steps=config["n_steps"], n_seeds=config["n_seeds"],
                    seed=config["seed"], x0=config.get("x0"), record=config.get("record"),
                    first_seed=config.get("first_seed", 0), threads=threads)


def _work(config):
    return config["n_seeds"] * config["n_steps"] * config["objective"]["dim"]


class Progress:
    """Cells done, seeds per second and ETA on stderr (one line per cell when not a terminal).

    The ETA weighs cells by their work (seeds × steps × dim), since cells of a sweep differ in T.
    """

    def __init__(self, configs, enabled=True, stream=None):
        self.total, self.done, self.seeds = len(configs), 0, 0
        self.work_total, self.work_done = sum(map(_work, configs)), 0
        self.t0 = time.perf_counter()
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, config, label=""):
        self.done += 1
        self.seeds += config["n_seeds"]
        self.work_done += _work(config)
        if not self.enabled:
            return
        dt = max(time.perf_counter() - self.t0, 1e-9)
        left = (self.work_total - self.work_done) * dt / max(self.work_done, 1)
        msg = f"[{self.done}/{self.total} cells] {self.seeds / dt:,.0f} seeds/s  ETA {left:,.0f} s  {label}"
        if self.tty:
            self.stream.write("\r" + msg[:120].ljust(120) + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(msg + "\n")
        self.stream.flush()


def run_sweep(sweep, store, *, executor="local", scheduler=None, workers=None, progress=True, threads=None):
    """Run the cells of ``sweep`` missing from ``store``; returns (computed, skipped) counts."""
    from . import _validate as V

    V.choice("executor", executor, ("local", "dask"))
    todo = [c for c in sweep.cells if not store.has(c.key)]
    skipped = len(sweep.cells) - len(todo)
    bar = Progress([c.config for c in todo], progress)
    if executor == "local":
        for cell in todo:
            store.put(cell.key, cell.sweep, cell.coords, run_config(cell.config, threads=threads))
            bar.step(cell.config, cell.label())
        return len(todo), skipped
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ValueError("executor = 'dask' needs dask.distributed: pip install 'clipsim[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        n = V.integer("workers", workers if workers is not None else max(1, (os.cpu_count() or 1)), 1, 1024)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        by_key = {c.key: c for c in todo}
        futures = [client.submit(run_config, c.config, 1, key=f"clipsim-{c.key}", pure=False) for c in todo]
        for fut in as_completed(futures):
            cell = by_key[fut.key.removeprefix("clipsim-")]
            store.put(cell.key, cell.sweep, cell.coords, fut.result())
            bar.step(cell.config, cell.label())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return len(todo), skipped
