"""Results store: a directory with a SQLite index of cells and one ``.npz`` of arrays per cell.

Layout: ``DIR/index.sqlite`` (table ``cells``: key, sweep, coords, config, meta, created),
``DIR/cells/<key>.npz`` (metrics, records, record steps, final iterates) and ``DIR/locks/`` (one lock
file per cell being computed). The key is the content hash of the cell's full config plus the clipsim
version (:func:`clipsim.sweep.cell_key`), so a rerun finds finished cells and skips them, and a changed
config is a new cell.

Integrity. Each cell file also carries its key, sweep, grid coordinates, config and meta, and a
SHA-256 checksum over all of that and every array (:func:`checksum`). Every read verifies the checksum
and that the embedded key is the file's key (a cell file copied over another is caught), so a
truncated, corrupted or swapped file is never read as data: reading it raises :class:`DamagedCell`, a
one-line ``ValueError`` naming the cell. ``clipsim run`` recomputes damaged or missing cells and says
so; ``clipsim store verify [--repair]`` lists them and (with ``--repair``) drops them, re-indexes
valid cell files that have no index row, and rebuilds a damaged ``index.sqlite`` from the cell files.

Writes are durable and atomic: the arrays go to ``<key>.npz.tmp-<pid>``, which is fsynced and renamed
into place (and the directory fsynced); only then is the index row inserted, in one transaction. A
killed sweep therefore loses nothing finished, and a cell counts as done only once its row exists.
Temporaries left by killed writers are removed when their process is gone (or after
:data:`STALE_TMP_SECONDS`). Concurrent runners on one store coordinate through
:meth:`Store.cell_lock` (``fcntl.flock``): each cell is computed by one of them.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import glob
import hashlib
import json
import math
import os
import re
import sqlite3
import time
import zipfile

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
#: A temporary whose writer process still exists is removed only once it is this old (pid reuse).
STALE_TMP_SECONDS = 3600.0
_HEADER = ("key", "sweep", "coords", "config", "meta", "created")
_KEY = re.compile(r"[0-9a-f]{8,64}")


class DamagedCell(ValueError):
    """A cell file that is missing, unreadable, fails its checksum or carries another cell's key."""


def checksum(arrays) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (a dict), in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _fsync_dir(path):
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


class Store:
    """A results directory. ``create=False``: the store must already exist (ValueError otherwise),
    as for commands that only read (``check``, ``plot``, ``export``)."""

    def __init__(self, path, create=True):
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"store = {path!r} is not allowed: must be a directory path (str or path-like)")
        self.path = os.fspath(path)
        self._db = os.path.join(self.path, "index.sqlite")
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"store = {self.path!r} is not allowed: it is a file, not a directory")
        if not create and not os.path.isfile(self._db):
            raise ValueError(f"store = {self.path!r} is not allowed: no store there (no index.sqlite); "
                             "run `clipsim run` first (clipsim run SPEC --store DIR)")
        try:
            os.makedirs(os.path.join(self.path, "cells"), exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ValueError(f"store = {self.path!r} is not allowed: a part of the path is a file") from None
        self.index_damage = self._index_problem()
        if self.index_damage is None and create:
            self.clean_temporaries()

    # ---- index ------------------------------------------------------------------------------
    def _connect(self):
        con = sqlite3.connect(self._db, timeout=60.0)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def _index_problem(self):
        """None if index.sqlite opens and passes ``PRAGMA quick_check``, else the reason."""
        try:
            with contextlib.closing(self._connect()) as con, con:
                con.execute(_SCHEMA)
                ok = con.execute("PRAGMA quick_check").fetchone()[0]
                cols = [r[1] for r in con.execute("PRAGMA table_info(cells)")]
            if ok != "ok" or tuple(cols) != _HEADER:
                return f"quick_check: {ok}" if ok != "ok" else f"unexpected columns {cols}"
        except sqlite3.DatabaseError as e:
            return str(e)
        return None

    def _query(self, q, args=()):
        if self.index_damage is not None:
            raise ValueError(f"store {self.path}: index.sqlite is damaged ({self.index_damage}); "
                             "`clipsim store verify --repair` rebuilds it from the cell files")
        with contextlib.closing(self._connect()) as con:
            return con.execute(q, args).fetchall()

    def _insert(self, rows):
        with contextlib.closing(self._connect()) as con, con:
            con.executemany("INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?)", rows)

    def _npz(self, key):
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"key = {key!r} is not allowed: a cell key is 8-64 lowercase hex digits")
        return os.path.join(self.path, "cells", f"{key}.npz")

    # ---- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def cell_lock(self, key, block=True):
        """Exclusive lock on one cell across processes (yields False if ``block=False`` and it is taken)."""
        d = os.path.join(self.path, "locks")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{key}.lock"), "a") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def put(self, key, sweep, coords, result):
        """Store one finished cell (a :class:`clipsim.engine.SimResult`) durably and atomically."""
        if self.index_damage is not None:
            self._query("SELECT 1")  # raises the one-line damage message
        header = (key, sweep, json.dumps([list(c) for c in coords]), json.dumps(result.config, sort_keys=True),
                  json.dumps(result.meta, sort_keys=True), time.time())
        arrays = {f"metric/{k}": v for k, v in result.metrics.items()}
        arrays.update({f"record/{k}": v for k, v in result.records.items()})
        arrays["record_steps"] = np.asarray(result.record_steps)
        arrays["final_iterate"] = np.asarray(result.final_iterate)
        arrays.update({f"cell/{h}": np.array(str(v)) for h, v in zip(_HEADER, header)})
        arrays["cell/sha256"] = np.array(checksum(arrays))
        final = self._npz(key)
        tmp = f"{final}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
        _fsync_dir(os.path.dirname(final))
        self._insert([header])

    def clean_temporaries(self, older_than=STALE_TMP_SECONDS):
        """Remove ``*.tmp-<pid>`` files whose writer is gone, or older than ``older_than`` s → paths removed."""
        removed = []
        for p in glob.glob(os.path.join(self.path, "cells", "*.tmp-*")):
            pid = p.rsplit(".tmp-", 1)[1]
            try:
                age = time.time() - os.path.getmtime(p)
                if not pid.isdigit() or not _pid_alive(int(pid)) or age > older_than:
                    os.remove(p)
                    removed.append(p)
            except FileNotFoundError:
                continue
        return removed

    # ---- reading ----------------------------------------------------------------------------
    def has(self, key) -> bool:
        """Whether the index lists ``key`` (see :meth:`status` for whether its file is intact)."""
        return bool(self._query("SELECT 1 FROM cells WHERE key = ?", (key,)))

    def keys(self, sweep=None):
        q, args = "SELECT key FROM cells", ()
        if sweep is not None:
            q, args = q + " WHERE sweep = ?", (sweep,)
        return [r[0] for r in self._query(q + " ORDER BY key", args)]

    def rows(self, sweep=None):
        """(key, sweep, coords, config, meta) for every stored cell, config and meta as dicts."""
        q, args = "SELECT key, sweep, coords, config, meta FROM cells", ()
        if sweep is not None:
            q, args = q + " WHERE sweep = ?", (sweep,)
        out = []
        for k, s, c, cfg, m in self._query(q + " ORDER BY key", args):
            try:
                out.append((k, s, [tuple(x) for x in json.loads(c)], json.loads(cfg), json.loads(m)))
            except (ValueError, TypeError):
                raise ValueError(f"store {self.path}: the index row of cell {k} is damaged; "
                                 "`clipsim store verify --repair` rebuilds it from the cell file") from None
        return out

    def _read(self, key):
        """All arrays of a cell file, verified (checksum, embedded key); DamagedCell otherwise."""
        path = self._npz(key)
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise DamagedCell(self._damaged(key, "its file is missing")) from None
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
            raise DamagedCell(self._damaged(key, f"unreadable file ({type(e).__name__})")) from None
        want = arrays.pop("cell/sha256", None)
        if want is None:
            raise DamagedCell(self._damaged(key, "no checksum (written by an older clipsim)"))
        if str(want) != checksum(arrays):
            raise DamagedCell(self._damaged(key, "checksum mismatch"))
        if str(arrays.get("cell/key")) != key:
            raise DamagedCell(self._damaged(key, f"the file holds cell {arrays.get('cell/key')}"))
        return arrays

    def _damaged(self, key, why):
        return (f"cell {key} in store {self.path} is damaged: {why}; `clipsim run` recomputes it "
                "(`clipsim store verify --repair` drops it)")

    def status(self, key):
        """'ok', 'missing' (neither row nor file) or the reason the cell is damaged. A valid cell file
        without an index row (a writer killed between rename and insert) is re-indexed: 'ok'."""
        listed = self.has(key)
        if not listed and not os.path.exists(self._npz(key)):
            return "missing"
        try:
            arrays = self._read(key)
        except DamagedCell as e:
            return str(e)
        if not listed:
            self._insert([_header(arrays)])
        return "ok"

    def load(self, key):
        """The stored cell as a :class:`clipsim.engine.SimResult` (specs rebuilt from its config)."""
        from .engine import SimResult
        from . import noise as N, objectives as O, optimizers as P

        if not self.has(key):
            raise KeyError(f"no cell {key!r} in store {self.path}")
        z = self._read(key)
        config, meta = json.loads(str(z["cell/config"])), json.loads(str(z["cell/meta"]))
        metrics = {k.split("/", 1)[1]: v for k, v in z.items() if k.startswith("metric/")}
        records = {k.split("/", 1)[1]: v for k, v in z.items() if k.startswith("record/")}
        return SimResult(metrics, records, z["record_steps"], config, meta, z["final_iterate"],
                         O.from_dict(config["objective"]), N.Noise.from_dict(config["noise"]),
                         P.from_dict(config["optimizer"]))

    def arrays(self, key):
        """The data arrays of a cell (verified), as a dict name → ndarray (for comparisons)."""
        return {k: v for k, v in self._read(key).items() if not k.startswith("cell/")}

    # ---- verify and repair --------------------------------------------------------------------
    def verify(self, repair=False):
        """Check every indexed cell and every cell file → dict of lists: 'ok', 'damaged' ((key, reason)),
        'unindexed' (valid files without a row), 'temporaries', and 'index' (damage or None).

        ``repair=True``: rebuild a damaged index from the valid cell files, re-index valid unindexed
        files, delete damaged cells (file and row; ``clipsim run`` recomputes them) and remove stale
        temporaries."""
        report = {"index": self.index_damage, "ok": [], "damaged": [], "unindexed": [], "temporaries": []}
        # 'unindexed' also holds cells whose index row differs from the header their file carries
        if repair and self.index_damage is not None:
            self._rebuild_index()
        files = {os.path.basename(p)[:-4] for p in glob.glob(os.path.join(self.path, "cells", "*.npz"))}
        files = {f for f in files if _KEY.fullmatch(f)}
        listed = {} if self.index_damage is not None else \
            {r[0]: tuple(r) for r in self._query("SELECT key, sweep, coords, config, meta FROM cells")}
        for key in sorted(files | set(listed)):
            try:
                arrays = self._read(key)
            except DamagedCell as e:
                report["damaged"].append((key, str(e).split(" is damaged: ", 1)[1].split(";")[0]))
                if repair:
                    self._drop(key)
                continue
            if listed.get(key) != _header(arrays)[:5]:  # no row, or a row that differs from the file
                report["unindexed"].append(key)
                if repair:
                    self._insert([_header(arrays)])
            report["ok"].append(key)
        report["temporaries"] = (self.clean_temporaries() if repair else
                                 glob.glob(os.path.join(self.path, "cells", "*.tmp-*")))
        return report

    def _drop(self, key):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._npz(key))
        if self.index_damage is None:
            with contextlib.closing(self._connect()) as con, con:
                con.execute("DELETE FROM cells WHERE key = ?", (key,))

    def _rebuild_index(self):
        """Move the damaged index aside and rebuild it from the valid cell files."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self._db + suffix):
                os.replace(self._db + suffix, f"{self._db}.damaged-{stamp}{suffix}")
        self.index_damage = self._index_problem()
        rows = []
        for p in sorted(glob.glob(os.path.join(self.path, "cells", "*.npz"))):
            with contextlib.suppress(DamagedCell):
                rows.append(_header(self._read(os.path.basename(p)[:-4])))
        self._insert(rows)

    def verify_cli(self, repair=False):
        """``clipsim store verify``: print a summary → exit code (0 intact or repaired, 1 damaged)."""
        r = self.verify(repair)
        lines = [f"store {self.path}: {len(r['ok'])} cells ok, {len(r['damaged'])} damaged, "
                 f"{len(r['unindexed'])} valid but unindexed, {len(r['temporaries'])} stale temporaries"
                 + (f"; index damaged ({r['index']})" if r["index"] else "")]
        lines += [f"  damaged {k}: {why}" for k, why in r["damaged"]]
        bad = r["damaged"] or r["unindexed"] or r["temporaries"] or r["index"]
        if bad and repair:
            done = (["index rebuilt from the cell files"] if r["index"] else []) + \
                   (["damaged cells dropped (`clipsim run` recomputes them)"] if r["damaged"] else []) + \
                   (["unindexed cells indexed"] if r["unindexed"] else []) + \
                   (["stale temporaries removed"] if r["temporaries"] else [])
            lines.append("repaired: " + "; ".join(done))
        elif bad:
            lines.append("run `clipsim store verify --repair` to repair")
        print("\n".join(lines))
        return 1 if bad and not repair else 0

    # ---- export -----------------------------------------------------------------------------
    def table(self, sweep=None):
        """One tidy row per (cell, seed): cell key, sweep, grid coordinates, seed index, metrics.
        ``sweep``: None (every stored cell) or a stored sweep's name (ValueError naming the stored ones)."""
        rows = []
        stored = self.rows(sweep)
        if sweep is not None and not stored:
            names = sorted({s for (s,) in self._query("SELECT DISTINCT sweep FROM cells", ())})
            raise ValueError(f"sweep = {sweep!r} is not allowed: no cell of it in store {self.path}; stored sweeps: "
                             f"{', '.join(names) or 'none'}")
        for key, sw, coords, config, _ in stored:
            metrics = {k.split("/", 1)[1]: v for k, v in self._read(key).items() if k.startswith("metric/")}
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


def _header(arrays):
    """The index row embedded in a verified cell file."""
    vals = [str(arrays[f"cell/{h}"]) for h in _HEADER]
    return tuple(vals[:5]) + (float(vals[5]),)
