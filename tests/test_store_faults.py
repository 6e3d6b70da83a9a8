"""Store fault injection (issue 10, class 6): truncated, deleted, swapped and corrupted cells and index,
writers killed mid-write, two writers at once. Each case ends with a store whose arrays equal an
undamaged run's, or with a one-line refusal naming the cell."""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from clipsim import sweep as S
from clipsim.decisions import load_results
from clipsim.runner import run_sweep
from clipsim.store import DamagedCell, Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = {"sweep": {"name": "faults", "n_steps": 60, "seeds": 16, "seed": 3, "record": 4},
        "objective": {"name": "quadratic", "dim": 3},
        "noise": {"family": "stable", "alpha": 1.5},
        "optimizer": {"name": "clipped_sgd", "eta": 0.05, "clip": 1.0},
        "grid": {"noise.alpha": [1.5, 1.9], "optimizer.clip": [0.5, 1.0]}}


@pytest.fixture(scope="module")
def sweep():
    return S.from_spec(SPEC)


@pytest.fixture(scope="module")
def ref(sweep, tmp_path_factory, simulate):
    path = tmp_path_factory.mktemp("ref") / "store"
    simulate(sweep, path)
    return path


def cell_files(path):
    return sorted((path / "cells").glob("*.npz"))


def truncate(p):
    f = cell_files(p)[0]
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def delete(p):
    cell_files(p)[1].unlink()


def swap(p):
    a, b = cell_files(p)[:2]
    shutil.copyfile(a, b)


def corrupt(p):
    f = cell_files(p)[2]
    data = bytearray(f.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 16] = bytes(255 - x for x in data[mid:mid + 16])
    f.write_bytes(bytes(data))


def empty(p):
    cell_files(p)[3].write_bytes(b"")


def index_garbage(p):
    (p / "index.sqlite").write_bytes(b"this is not a database" * 100)


def index_truncated(p):
    db = p / "index.sqlite"
    db.write_bytes(db.read_bytes()[:1000])


def index_row_deleted(p):
    import sqlite3

    with sqlite3.connect(p / "index.sqlite") as con:
        con.execute("DELETE FROM cells WHERE key = (SELECT MIN(key) FROM cells)")


CELL_DAMAGE = [truncate, delete, swap, corrupt, empty]
INDEX_DAMAGE = [index_garbage, index_truncated]


@pytest.fixture
def damaged(ref, tmp_path):
    def make(fn):
        path = tmp_path / "store"
        shutil.copytree(ref, path)
        fn(path)
        return path
    return make


@pytest.mark.parametrize("fn", CELL_DAMAGE, ids=lambda f: f.__name__)
def test_damaged_cell_reads_refuse_with_one_line_naming_the_cell(fn, damaged, sweep):
    path = damaged(fn)
    store = Store(path, create=False)
    for read in (lambda: load_results(sweep, store), lambda: store.table()):
        with pytest.raises(ValueError) as e:
            read()
        msg = str(e.value)
        assert "\n" not in msg and "damaged" in msg
        assert any(c.key in msg for c in sweep.cells), msg


@pytest.mark.parametrize("fn", CELL_DAMAGE + INDEX_DAMAGE + [index_row_deleted], ids=lambda f: f.__name__)
def test_run_repairs_to_the_undamaged_arrays(fn, damaged, ref, sweep, assert_same_stores):
    path = damaged(fn)
    said = []
    done, skipped = run_sweep(sweep, Store(path), progress=False, say=said.append)
    assert_same_stores(ref, path)
    assert Store(path).verify()["damaged"] == []
    if fn in CELL_DAMAGE:
        assert done == 1 and skipped == len(sweep.cells) - 1
        assert any("recomputing cell" in s for s in said)  # a deleted file with its row is damage too
    if fn in INDEX_DAMAGE:
        assert done == 0 and any("index.sqlite is damaged" in s for s in said)


@pytest.mark.parametrize("fn", CELL_DAMAGE + INDEX_DAMAGE + [index_row_deleted], ids=lambda f: f.__name__)
def test_verify_finds_and_repair_fixes(fn, damaged, ref, sweep, assert_same_stores):
    path = damaged(fn)
    report = Store(path).verify()
    assert report["damaged"] or report["index"] or report["unindexed"] or fn is delete
    Store(path).verify(repair=True)
    again = Store(path).verify()
    assert not (again["damaged"] or again["index"] or again["unindexed"] or again["temporaries"])
    run_sweep(sweep, Store(path), progress=False, say=lambda _: None)
    assert_same_stores(ref, path)


def test_index_damage_refuses_reads_with_one_line(damaged, sweep):
    path = damaged(index_garbage)
    with pytest.raises(ValueError, match="index.sqlite is damaged.*verify --repair") as e:
        load_results(sweep, Store(path, create=False))
    assert "\n" not in str(e.value)


def test_missing_store_is_never_created(tmp_path):
    with pytest.raises(ValueError, match="no store there"):
        Store(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()
    (tmp_path / "f").write_text("x")
    for bad in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(ValueError, match="file"):
            Store(bad)


def test_stale_temporaries_are_cleaned_live_ones_kept(ref, tmp_path):
    path = tmp_path / "store"
    shutil.copytree(ref, path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = path / "cells" / f"abc.npz.tmp-{dead.pid}"
    live = path / "cells" / f"def.npz.tmp-{os.getpid()}"
    old = path / "cells" / f"ghi.npz.tmp-{os.getpid()}"
    for f in (stale, live, old):
        f.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    Store(path)
    assert not stale.exists() and not old.exists() and live.exists()


def test_cell_file_carries_key_config_and_checksum(ref):
    store = Store(ref)
    key = store.keys()[0]
    with np.load(store._npz(key)) as z:
        assert str(z["cell/key"]) == key and len(str(z["cell/sha256"])) == 64
        assert json.loads(str(z["cell/config"]))["n_steps"] == SPEC["sweep"]["n_steps"]
    with pytest.raises(DamagedCell):
        store._read("0" * 24)


# ---- real processes: SIGKILL mid-write, two writers at once -------------------------------------
_CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from clipsim import sweep as S, store as St
    from clipsim.runner import run_sweep
    spec, path, mode = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    real_replace, real_insert = os.replace, St.Store._insert
    def die_before_rename(src, dst):  # the store's rename only (Numba's cache also renames files)
        if os.path.abspath(dst).startswith(os.path.abspath(path)):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    def die_before_index(self, rows):
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "rename":
        St.os.replace = die_before_rename
    elif mode == "index":
        St.Store._insert = lambda self, rows: (die_before_index(self, rows) if len(rows) == 1 and
                                               St.os.path.exists(self._npz(rows[0][0])) else real_insert(self, rows))
    done, skipped = run_sweep(S.from_spec(spec), St.Store(path), progress=False)
    print(json.dumps([done, skipped]))
""")


def _child(path, mode):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(SPEC), str(path), mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("mode", ["rename", "index"])
def test_sigkill_during_a_write_loses_nothing(mode, ref, sweep, tmp_path, assert_same_stores):
    path = tmp_path / "store"
    proc = _child(path, mode)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    leftovers = list((path / "cells").glob("*.tmp-*"))
    assert (len(leftovers) == 1) == (mode == "rename")  # the killed writer's temporary, never renamed
    done, _ = run_sweep(sweep, Store(path), progress=False, say=lambda _: None)
    assert not list((path / "cells").glob("*.tmp-*"))  # its writer is dead: cleaned on open
    assert done == len(sweep.cells) - (mode == "index")  # a durable file without its row is re-indexed
    assert_same_stores(ref, path)


def test_two_writers_share_the_work_and_lose_nothing(ref, sweep, tmp_path, assert_same_stores):
    path = tmp_path / "store"
    Store(path)
    procs = [_child(path, "normal") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    counts = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert sum(c[0] for c in counts) == len(sweep.cells), counts  # each cell computed exactly once
    assert_same_stores(ref, path)


def test_damaged_index_row_is_named_and_repaired(ref, sweep, tmp_path, assert_same_stores):
    import sqlite3

    path = tmp_path / "store"
    shutil.copytree(ref, path)
    key = Store(path).keys()[0]
    with sqlite3.connect(path / "index.sqlite") as con:
        con.execute("UPDATE cells SET config = '{not json' WHERE key = ?", (key,))
    with pytest.raises(ValueError, match=f"index row of cell {key} is damaged"):
        Store(path, create=False).table()
    assert key in Store(path).verify()["unindexed"]
    Store(path).verify(repair=True)
    assert Store(path).verify()["unindexed"] == []
    assert_same_stores(ref, path)


@pytest.mark.parametrize("key", ["../../etc/passwd", "", 5, "ABC"])
def test_cell_keys_cannot_name_other_files(ref, key):
    with pytest.raises(ValueError, match="key"):
        Store(ref).arrays(key)
