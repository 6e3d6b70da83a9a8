"""Run a sweep's cells into a store, locally or on Dask, skipping cells already stored.

Each cell is one ``simulate`` call built from its plain-data config, so any executor computes the
same bits: seeds are addressed streams and the kernel does not depend on the thread count.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

from . import user as _user
from .progress import Progress, run_in_chunks, warm_up


def run_config(config, threads=None):
    """Run one cell config (plain data, as in :class:`clipsim.sweep.Cell`) → SimResult."""
    from . import noise as N, objectives as O, optimizers as P
    from .engine import simulate

    return simulate(O.from_dict(config["objective"]), N.Noise.from_dict(config["noise"]),
                    P.from_dict(config["optimizer"]), n_steps=config["n_steps"], n_seeds=config["n_seeds"],
                    seed=config["seed"], x0=config.get("x0"), record=config.get("record"),
                    first_seed=config.get("first_seed", 0), threads=threads)


def _plan(sweep, store, say):
    """Cells of ``sweep`` to compute: missing ones and damaged ones (said, with the reason)."""
    if store.index_damage is not None:
        say(f"store {store.path}: index.sqlite is damaged ({store.index_damage}); rebuilding it from the cell files")
        store.verify(repair=True)
    todo, damaged = [], []
    for cell in sweep.cells:
        status = store.status(cell.key)
        if status != "ok":
            todo.append(cell)
            if status != "missing":
                damaged.append(f"recomputing cell {cell.key} [{cell.label()}]: {status.split(' is damaged: ')[-1]}")
    for line in damaged[:10]:
        say(line.split(";")[0])
    if len(damaged) > 10:
        say(f"... and {len(damaged) - 10} more damaged cells")
    return todo


def _claim_and_run(store, todo, compute, bar, chunk):
    """Compute the cells of ``todo`` this process can lock (``compute(cells)`` yields (cell, result));
    then wait for cells another runner holds and compute those it did not finish → (computed, by others)."""
    done = by_other = 0
    deferred = []
    for i in range(0, len(todo), chunk):
        with contextlib.ExitStack() as held:
            mine = []
            for cell in todo[i:i + chunk]:
                if not held.enter_context(store.cell_lock(cell.key, block=False)):
                    deferred.append(cell)
                elif store.status(cell.key) == "ok":  # finished by another runner since the plan
                    by_other += 1
                    bar.step(cell.config, cell.label())
                else:
                    mine.append(cell)
            for cell, res in compute(mine):
                store.put(cell.key, cell.sweep, cell.coords, res)
                done += 1
                bar.step(cell.config, cell.label())
    for cell in deferred:
        with store.cell_lock(cell.key):
            if store.status(cell.key) == "ok":
                by_other += 1
            else:
                for c, res in compute([cell]):
                    store.put(c.key, c.sweep, c.coords, res)
                    done += 1
            bar.step(cell.config, cell.label())
    return done, by_other


#: Seconds to wait for a Dask scheduler given with --scheduler before giving up with one line.
SCHEDULER_TIMEOUT = 5


def _dask_client(scheduler, workers):
    from . import _validate as V

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("executor = 'dask' needs dask.distributed: pip install 'clipsim[dask]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=SCHEDULER_TIMEOUT), None
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise ValueError(f"--scheduler {scheduler!r}: no Dask scheduler answered within {SCHEDULER_TIMEOUT} s "
                             f"({type(e).__name__}); check the address (tcp://host:8786)") from None
    n = V.integer("workers", workers if workers is not None else max(1, (os.cpu_count() or 1)), 1, 1024)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def run_sweep(sweep, store, *, executor="local", scheduler=None, workers=None, progress=True, threads=None,
              say=None):
    """Run the cells of ``sweep`` missing from ``store`` (or damaged there: recomputed, and said through
    ``say``, default stderr); returns (computed, skipped) counts. Several runners may share one store:
    each cell is computed by one of them (per-cell locks), the others count it as skipped."""
    from . import _validate as V

    V.choice("executor", executor, ("local", "dask"))
    say = say or (lambda line: print(line, file=sys.stderr))
    todo = _plan(sweep, store, say)
    skipped = len(sweep.cells) - len(todo)
    bar = Progress([c.config for c in todo], progress)
    if executor == "local":
        if todo:
            bar.compiled(warm_up([c.config for c in todo], run_config, threads))

        def run_local(cells):
            for c in cells:
                on_seeds = (lambda k, c=c: bar.advance(c.config, k, c.label())) if progress else None
                yield c, (run_in_chunks(c.config, run_config, threads, on_seeds) if progress
                          else run_config(c.config, threads=threads))

        done, other = _claim_and_run(store, todo, run_local, bar, chunk=1)
        return done, skipped + other
    client, cluster = _dask_client(scheduler, workers)
    print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr, flush=True)
    from dask.distributed import as_completed

    if todo:
        t0 = time.perf_counter()
        shipped = _user.module_sources([c.config for c in todo])
        if shipped:  # the sweep opted in (allow_code = true): its user module goes to every worker
            client.run(_user.load_source, shipped)
        client.run(warm_up, [c.config for c in todo], run_config, 1)
        bar.compiled(time.perf_counter() - t0)

    def compute(cells):
        by_key = {c.key: c for c in cells}
        futures = [client.submit(run_config, c.config, 1, key=f"clipsim-{c.key}", pure=False) for c in cells]
        for fut in as_completed(futures):
            yield by_key[fut.key.removeprefix("clipsim-")], fut.result()

    try:
        done, other = _claim_and_run(store, todo, compute, bar, chunk=256)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return done, skipped + other
