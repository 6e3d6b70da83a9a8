"""Results store: a directory with a SQLite index of cells and one ``.npz`` of arrays per cell.

Layout: ``DIR/index.sqlite`` (table ``cells``: key, sweep, coords, config, meta, created) and
``DIR/cells/<key>.npz`` (metrics, records, record steps, final iterates). The key is the content hash
of the cell's full config plus the clipsim version (:func:`clipsim.sweep.cell_key`), so a rerun finds
finished cells and skips them, and a changed config is a new cell.

Writes are atomic: the arrays go to a temporary file renamed into place, then the index row is
inserted in one transaction. A killed sweep therefore loses nothing finished: a cell counts as done
only once its row exists, and its arrays exist before its row.
"""
from __future__ import annotations

import csv
import json
import math
import os
import sqlite3
import time

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    coords TEXT NOT NULL,
    config TEXT NOT NULL,
    meta TEXT NOT NULL,
    created REAL NOT NULL
)"""


class Store:
    """A results directory (created if missing)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        os.makedirs(os.path.join(self.path, "cells"), exist_ok=True)
        self._db = os.path.join(self.path, "index.sqlite")
        with self._connect() as con:
            con.execute(_SCHEMA)

    def _connect(self):
        con = sqlite3.connect(self._db, timeout=60.0)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def _npz(self, key):
        return os.path.join(self.path, "cells", f"{key}.npz")

    # ---- writing ----------------------------------------------------------------------------
    def put(self, key, sweep, coords, result):
        """Store one finished cell (a :class:`clipsim.engine.SimResult`) atomically."""
        arrays = {f"metric/{k}": v for k, v in result.metrics.items()}
        arrays.update({f"record/{k}": v for k, v in result.records.items()})
        arrays["record_steps"] = np.asarray(result.record_steps)
        arrays["final_iterate"] = np.asarray(result.final_iterate)
        final = self._npz(key)
        tmp = f"{final}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?)",
                        (key, sweep, json.dumps([list(c) for c in coords]),
                         json.dumps(result.config, sort_keys=True), json.dumps(result.meta, sort_keys=True),
                         time.time()))

    # ---- reading ----------------------------------------------------------------------------
    def has(self, key) -> bool:
        with self._connect() as con:
            return con.execute("SELECT 1 FROM cells WHERE key = ?", (key,)).fetchone() is not None

    def keys(self, sweep=None):
        q, args = "SELECT key FROM cells", ()
        if sweep is not None:
            q, args = q + " WHERE sweep = ?", (sweep,)
        with self._connect() as con:
            return [r[0] for r in con.execute(q + " ORDER BY key", args)]

    def rows(self, sweep=None):
        """(key, sweep, coords, config, meta) for every stored cell, config and meta as dicts."""
        q, args = "SELECT key, sweep, coords, config, meta FROM cells", ()
        if sweep is not None:
            q, args = q + " WHERE sweep = ?", (sweep,)
        with self._connect() as con:
            out = con.execute(q + " ORDER BY key", args).fetchall()
        return [(k, s, [tuple(c) for c in json.loads(c)], json.loads(cfg), json.loads(m)) for k, s, c, cfg, m in out]

    def load(self, key):
        """The stored cell as a :class:`clipsim.engine.SimResult` (specs rebuilt from its config)."""
        from .engine import SimResult
        from . import noise as N, objectives as O, optimizers as P

        with self._connect() as con:
            row = con.execute("SELECT config, meta FROM cells WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no cell {key!r} in store {self.path}")
        config, meta = json.loads(row[0]), json.loads(row[1])
        with np.load(self._npz(key)) as z:
            metrics = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("metric/")}
            records = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("record/")}
            steps, final = z["record_steps"], z["final_iterate"]
        return SimResult(metrics, records, steps, config, meta, final, O.from_dict(config["objective"]),
                         N.Noise.from_dict(config["noise"]), P.from_dict(config["optimizer"]))

    def arrays(self, key):
        """The raw arrays of a cell, as a dict name → ndarray (for comparisons)."""
        with np.load(self._npz(key)) as z:
            return {k: z[k] for k in z.files}

    # ---- export -----------------------------------------------------------------------------
    def table(self, sweep=None):
        """One tidy row per (cell, seed): cell key, sweep, grid coordinates, seed index, metrics."""
        rows = []
        for key, sw, coords, config, _ in self.rows(sweep):
            with np.load(self._npz(key)) as z:
                metrics = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("metric/")}
            base = {"cell": key, "sweep": sw, **{p: v for p, v in coords}}
            first = int(config.get("first_seed", 0))
            for m in range(int(config["n_seeds"])):
                row = dict(base, seed_index=first + m)
                for k, v in metrics.items():
                    x = v[m]
                    row[k] = bool(x) if v.dtype == bool else (int(x) if v.dtype.kind == "i" else float(x))
                rows.append(row)
        return rows

    def export(self, path, sweep=None):
        """Write :meth:`table` to ``path``: CSV, or Parquet when the name ends in .parquet (needs pyarrow)."""
        rows = self.table(sweep)
        cols = []
        for r in rows:
            cols.extend(k for k in r if k not in cols)
        if str(path).endswith(".parquet"):
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise ValueError("export to .parquet needs pyarrow: pip install pyarrow, or export .csv") from None
            pq.write_table(pa.table({c: [r.get(c) for r in rows] for c in cols}), path)
            return len(rows)
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in r.items()})
        return len(rows)

    # ---- notebooks ----------------------------------------------------------------------------
    def to_frame(self, sweep=None):
        """A pandas DataFrame with one row per (cell, seed) (needs the ``frames`` extra: pandas).

        ``sweep``: None (every stored cell), a sweep name, or a :class:`clipsim.sweep.Sweep` (then only
        its current cells, with a ``cell_index`` column: the index ``clipsim cells`` shows and
        ``failure-prob --cell`` takes). Columns: ``cell`` (key), ``sweep``, the grid coordinates
        (dotted paths), ``seed_index``, then one column per metric (see docs/metrics.md).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("Store.to_frame needs pandas: pip install 'clipsim[frames]'") from None
        name = getattr(sweep, "name", sweep)
        rows = self.table(name)
        if hasattr(sweep, "cells"):
            index = {c.key: i for i, c in enumerate(sweep.cells)}
            rows = [dict(r, cell_index=index[r["cell"]]) for r in rows if r["cell"] in index]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        first = [c for c in ("cell_index", "cell", "sweep") if c in frame.columns]
        frame = frame[first + [c for c in frame.columns if c not in first]]
        by = [c for c in ("cell_index", "cell") if c in frame.columns][:1] + ["seed_index"]
        return frame.sort_values(by, kind="stable").reset_index(drop=True)

