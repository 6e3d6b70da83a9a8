"""Run a sweep's cells into a store, locally or on Dask, skipping cells already stored.

Each cell is one ``simulate`` call built from its plain-data config, so any executor computes the
same bits: seeds are addressed streams and the kernel does not depend on the thread count.
"""
from __future__ import annotations

import os
import sys
import time

from .progress import Progress, run_in_chunks, warm_up


def run_config(config, threads=None):
    """Run one cell config (plain data, as in :class:`clipsim.sweep.Cell`) → SimResult."""
    from . import noise as N, objectives as O, optimizers as P
    from .engine import simulate

    return simulate(O.from_dict(config["objective"]), N.Noise.from_dict(config["noise"]),
                    P.from_dict(config["optimizer"]), n_steps=config["n_steps"], n_seeds=config["n_seeds"],
                    seed=config["seed"], x0=config.get("x0"), record=config.get("record"),
                    first_seed=config.get("first_seed", 0), threads=threads)


def run_sweep(sweep, store, *, executor="local", scheduler=None, workers=None, progress=True, threads=None):
    """Run the cells of ``sweep`` missing from ``store``; returns (computed, skipped) counts."""
    from . import _validate as V

    V.choice("executor", executor, ("local", "dask"))
    todo = [c for c in sweep.cells if not store.has(c.key)]
    skipped = len(sweep.cells) - len(todo)
    bar = Progress([c.config for c in todo], progress)
    if executor == "local":
        if todo:
            bar.compiled(warm_up([c.config for c in todo], run_config, threads))
        for cell in todo:
            on_seeds = (lambda k, c=cell: bar.advance(c.config, k, c.label())) if progress else None
            res = run_in_chunks(cell.config, run_config, threads, on_seeds) if progress else \
                run_config(cell.config, threads=threads)
            store.put(cell.key, cell.sweep, cell.coords, res)
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
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr, flush=True)
    try:
        if todo:
            t0 = time.perf_counter()
            client.run(warm_up, [c.config for c in todo], run_config, 1)
            bar.compiled(time.perf_counter() - t0)
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
