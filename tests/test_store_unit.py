"""Store, runner and sweep-level checks tested directly (issue 14) on one tiny sweep simulated once per
module: put/load/table round trips, write order (the index row only after the durable cell file),
resume counts after a killed run, the calibration split (the constant is fitted on the calibration
cells only) and rate grouping (one slope per group, never pooled)."""
import contextlib
import csv
import dataclasses
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

import clipsim.runner as R
from clipsim import decisions as D
from clipsim import stats as St
from clipsim import store as store_mod
from clipsim import sweep as S
from clipsim.runner import run_sweep
from clipsim.store import Store

QUIET = {"progress": False, "say": lambda _: None}
SPEC = {"sweep": {"name": "unit", "n_steps": 60, "seeds": 40, "seed": 5, "record": 3},
        "objective": {"name": "quadratic", "dim": 3},
        "noise": {"family": "stable", "alpha": 1.5},
        "optimizer": {"name": "clipped_sgd", "eta": 0.05, "clip": 1.0},
        "grid": {"noise.alpha": [1.5, 1.9], "n_steps": [30, 90]}}
BOUND = "li_liu_2023_clipped_sgd"
CAL_CHECK = {"bound": BOUND, "values": {"alpha": 1.4}, "delta": 0.1, "calibrate": {"noise.alpha": 1.5}}


def sub_spec(**grid):
    return {**SPEC, "grid": {**SPEC["grid"], **grid}}


@pytest.fixture(scope="module")
def sweep():
    return S.from_spec(SPEC)


@pytest.fixture(scope="module")
def stored(sweep, tmp_path_factory, simulate):
    path = tmp_path_factory.mktemp("unit") / "store"
    assert simulate(sweep, path) == (4, 0)
    return path


@pytest.fixture(scope="module")
def results(sweep, stored):
    return D.load_results(sweep, Store(stored, create=False))


# ------------------------------------------------------------------ store round trips

def test_put_load_round_trip(sweep, stored):
    st = Store(stored, create=False)
    assert st.keys() == sorted(c.key for c in sweep.cells)
    assert st.keys("unit") == st.keys() and st.keys("other") == []
    for cell in sweep.cells:
        res = st.load(cell.key)
        direct = R.run_config(cell.config)
        for k, v in direct.metrics.items():
            np.testing.assert_array_equal(res.metrics[k], v, err_msg=k)
        np.testing.assert_array_equal(res.final_iterate, direct.final_iterate)
        assert res.config == direct.config
    rows = {k: (s, c) for k, s, c, _, _ in st.rows()}
    assert {k: c for k, (_, c) in rows.items()} == {c.key: list(c.coords) for c in sweep.cells}


def test_table_has_one_row_per_cell_and_seed(sweep, stored):
    st = Store(stored, create=False)
    rows = st.table()
    assert len(rows) == 4 * 40
    cell = sweep.cells[2]
    mine = [r for r in rows if r["cell"] == cell.key]
    assert [r["seed_index"] for r in mine] == list(range(40))
    assert all(r["noise.alpha"] == 1.9 and r["n_steps"] == 30 for r in mine)
    final = st.load(cell.key).metrics["avg_grad_sq"]
    assert [r["avg_grad_sq"] for r in mine] == final.tolist()


def test_load_of_a_missing_key_names_it(stored):
    with pytest.raises(KeyError, match="no cell 'nope'"):
        Store(stored, create=False).load("nope")


# ------------------------------------------------------------------ write order and atomicity

def one_cell_sweep():
    return S.from_spec({**SPEC, "grid": {"noise.alpha": [1.9], "n_steps": [30]}})


def test_index_row_only_after_the_durable_cell_file(tmp_path, monkeypatch):
    sw = one_cell_sweep()
    cell = sw.cells[0]
    res = R.run_config(cell.config)
    events = []
    real_replace, real_fsync_dir, real_insert = os.replace, store_mod._fsync_dir, Store._insert
    monkeypatch.setattr(store_mod.os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b)))
    monkeypatch.setattr(store_mod, "_fsync_dir", lambda p: (events.append("fsync_dir"), real_fsync_dir(p)))
    monkeypatch.setattr(Store, "_insert", lambda self, rows: (events.append("index"), real_insert(self, rows)))
    Store(tmp_path / "s").put(cell.key, sw.name, cell.coords, res)
    assert events == ["rename", "fsync_dir", "index"]


def test_crash_between_file_and_index_row(tmp_path, monkeypatch):
    """A writer killed after the rename and before the index row leaves a valid file: re-indexed, not redone."""
    sw = one_cell_sweep()
    cell = sw.cells[0]
    res = R.run_config(cell.config)

    class Killed(Exception):
        pass

    def die(self, rows):
        raise Killed

    path = tmp_path / "s"
    with monkeypatch.context() as m:
        m.setattr(Store, "_insert", die)
        with pytest.raises(Killed):
            Store(path).put(cell.key, sw.name, cell.coords, res)
    st = Store(path)
    assert not st.has(cell.key) and os.path.exists(st._npz(cell.key))
    assert not list((path / "cells").glob("*.tmp-*"))
    assert run_sweep(sw, st, **QUIET) == (0, 1)  # re-indexed from the durable file, not recomputed
    np.testing.assert_array_equal(st.load(cell.key).metrics["avg_grad_sq"], res.metrics["avg_grad_sq"])


def test_crash_before_rename_leaves_no_row_and_no_file(tmp_path, monkeypatch):
    sw = one_cell_sweep()
    cell = sw.cells[0]
    res = R.run_config(cell.config)

    def die(a, b):
        raise OSError("disk gone")

    path = tmp_path / "s"
    with monkeypatch.context() as m:
        m.setattr(store_mod.os, "replace", die)
        with pytest.raises(OSError, match="disk gone"):
            Store(path).put(cell.key, sw.name, cell.coords, res)
    st = Store(path)
    assert not st.has(cell.key) and not os.path.exists(st._npz(cell.key))
    assert not list((path / "cells").glob("*"))  # the temporary is removed too
    assert st.status(cell.key) == "missing"


# ------------------------------------------------------------------ runner resume

def test_resume_skips_exactly_the_finished_cells(tmp_path):
    path = tmp_path / "s"
    part = S.from_spec(sub_spec(n_steps=[30]))  # 2 of the 4 cells
    assert run_sweep(part, Store(path), **QUIET) == (2, 0)
    assert run_sweep(S.from_spec(SPEC), Store(path), **QUIET) == (2, 2)
    assert run_sweep(S.from_spec(SPEC), Store(path), **QUIET) == (0, 4)


def test_killed_run_keeps_finished_cells(tmp_path, monkeypatch):
    sw = S.from_spec(SPEC)
    real = R.run_config
    cell_configs = [c.config for c in sw.cells]
    calls = []

    class Killed(Exception):
        pass

    def dies_on_third_cell(config, threads=None):
        if config in cell_configs:
            calls.append(config)
            if len(calls) == 3:
                raise Killed
        return real(config, threads)

    path = tmp_path / "s"
    with monkeypatch.context() as m:
        m.setattr(R, "run_config", dies_on_third_cell)
        with pytest.raises(Killed):
            run_sweep(sw, Store(path), **QUIET)
    assert len(Store(path).keys()) == 2
    assert run_sweep(sw, Store(path), **QUIET) == (2, 2)


# ------------------------------------------------------------------ calibration split

def test_calibration_uses_only_calibration_cells(results):
    name, cal_cells, test_cells = D.calibration_split(CAL_CHECK, results, 0.1)
    assert name == "C_opt"
    assert [c.label for c in cal_cells] == ["noise.alpha=1.5, n_steps=30", "noise.alpha=1.5, n_steps=90"]
    assert [c.label for c in test_cells] == ["noise.alpha=1.9, n_steps=30", "noise.alpha=1.9, n_steps=90"]


def _with_metric(res, quantity, values):
    return dataclasses.replace(res, metrics={**res.metrics, quantity: values})


def test_mutating_held_out_data_does_not_move_the_fitted_constant(results):
    bound = D.resolve_bound(BOUND)
    q = bound.quantity
    _, cal, test = D.calibrate_and_test(CAL_CHECK, results, 0.1)
    assert np.isfinite(cal.C)
    held = [(c, _with_metric(r, q, np.full(40, 1e9))) if dict(c.coords)["noise.alpha"] == 1.9 else (c, r)
            for c, r in results]
    _, cal2, test2 = D.calibrate_and_test(CAL_CHECK, held, 0.1)
    assert cal2.C == cal.C and cal2.per_cell == cal.per_cell
    assert test2.verdict == "violated" and all(c.verdict == "violated" for c in test2.cells)
    # ... while the calibration cells do move it
    moved = [(c, _with_metric(r, q, r.metrics[q] * 2)) if dict(c.coords)["noise.alpha"] == 1.5 else (c, r)
             for c, r in results]
    _, cal3, _ = D.calibrate_and_test(CAL_CHECK, moved, 0.1)
    assert cal3.C == pytest.approx(2 * cal.C, rel=1e-12)


def test_calibrated_constant_matches_the_order_statistic(results):
    bound = D.resolve_bound(BOUND)
    _, cal_cells, _ = D.calibration_split(CAL_CHECK, results, 0.1)
    _, cal, _ = D.calibrate_and_test(CAL_CHECK, results, 0.1)
    want = max(St.quantile_ci(c.values, 0.9, 0.95).high / c.bound for c in cal_cells)
    assert cal.C == want
    assert bound.hidden_constants and len(cal.per_cell) == 2


def test_calibration_refuses_shared_streams(tmp_path):
    common = S.from_spec({**SPEC, "sweep": {**SPEC["sweep"], "streams": "common", "seeds": 2},
                          "grid": {"noise.alpha": [1.5, 1.9]}})
    fake = [(c, None) for c in common.cells]
    with pytest.raises(ValueError, match="share streams"):
        D.refuse_shared_streams(fake, "calibrate")


def test_calibration_needs_cells_on_both_sides(results):
    with pytest.raises(ValueError, match="leaves 4 calibration and 0 held-out cells"):
        D.calibration_split({**CAL_CHECK, "calibrate": {"noise.alpha": [1.5, 1.9]}}, results, 0.1)


# ------------------------------------------------------------------ rate grouping

def test_rate_slopes_are_per_group_never_pooled(results):
    spec = {"bound": BOUND, "values": {"alpha": 1.4, "C_opt": 1.0}, "delta": 0.1, "rate": "n_steps", "n_boot": 50}
    out = D.run_check(spec, results)
    assert [r.group for r in out["rates"]] == ["noise.alpha=1.5", "noise.alpha=1.9"]
    bound = D.resolve_bound(BOUND)
    for row, alpha in zip(out["rates"], (1.5, 1.9)):
        items = sorted(((c.config["n_steps"], r) for c, r in results if dict(c.coords)["noise.alpha"] == alpha),
                       key=lambda t: t[0])
        x = [t for t, _ in items]
        samples = [np.where(r.metrics["diverged"], np.inf, r.metrics[bound.quantity]) for _, r in items]
        want = St.loglog_slope(x, samples, statistic="median", confidence=0.95, n_boot=50, seed=0)
        assert x == [30, 90]
        assert row.slope.slope == want.slope and (row.slope.low, row.slope.high) == (want.low, want.high)
        assert row.slope.x == (30, 90) and row.var == "n_steps"


# ------------------------------------------------------------------ failure-prob seed stream

def test_failure_prob_batches_never_reuse_seeds(sweep, monkeypatch, capsys):
    from clipsim.report import failure_probability_cli

    real = R.run_config
    calls = []

    def recording(config, threads=None):
        calls.append((config.get("first_seed", 0), config["n_seeds"], config["seed"]))
        return real(config, threads)

    monkeypatch.setattr(R, "run_config", recording)
    decision = failure_probability_cli(sweep, 1, BOUND, 0.01, {"alpha": 1.4, "C_opt": 1e6}, batch=16,
                                       max_seeds=64, confidence=0.95)
    probe, batches = calls[0], calls[1:]
    assert probe[1] == 1  # the bound's value from one seed
    # C = 1e6: no seed fails, but 64 seeds cannot certify P <= 0.01: every batch is drawn
    assert [(s, n) for s, n, _ in batches] == [(0, 16), (16, 16), (32, 16), (48, 16)]  # contiguous, disjoint
    assert {root for _, _, root in batches} == {sweep.cells[1].config["seed"]}  # the cell's own stream
    assert decision == "inconclusive" and "0/64" in capsys.readouterr().out


# ------------------------------------------------------------------ verify, repair, export, frames

@pytest.fixture
def copied(stored, tmp_path):
    """A private copy of the simulated store (these tests damage it)."""
    path = tmp_path / "copy"
    shutil.copytree(stored, path)
    return path


def _verify_line(path, ok, damaged=0, unindexed=0, temporaries=0):
    return (f"store {path}: {ok} cells ok, {damaged} damaged, {unindexed} valid but unindexed, "
            f"{temporaries} stale temporaries")


def test_verify_of_an_intact_store(copied, sweep, capsys):
    st = Store(copied, create=False)
    keys = sorted(c.key for c in sweep.cells)
    assert st.verify() == {"index": None, "ok": keys, "damaged": [], "unindexed": [], "temporaries": []}
    assert st.verify_cli() == 0
    assert capsys.readouterr().out == _verify_line(copied, 4) + "\n"


def test_missing_cell_file_is_reported_then_dropped(copied, sweep, capsys):
    key = sweep.cells[1].key
    os.remove(copied / "cells" / f"{key}.npz")
    st = Store(copied, create=False)
    assert st.status(key).startswith(f"cell {key} in store {copied} is damaged: its file is missing;")
    assert st.verify()["damaged"] == [(key, "its file is missing")]
    assert st.verify_cli() == 1
    assert capsys.readouterr().out.splitlines() == [
        _verify_line(copied, 3, damaged=1), f"  damaged {key}: its file is missing",
        "run `clipsim store verify --repair` to repair"]
    assert st.verify_cli(repair=True) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "repaired: damaged cells dropped (`clipsim run` recomputes them)"
    assert key not in st.keys() and len(st.keys()) == 3
    assert st.verify()["damaged"] == [] and st.status(key) == "missing"


def test_a_file_without_its_index_row_is_reindexed(copied, sweep, capsys):
    key = sweep.cells[2].key
    with sqlite3.connect(copied / "index.sqlite") as con:
        con.execute("DELETE FROM cells WHERE key = ?", (key,))
    st = Store(copied, create=False)
    assert key not in st.keys()
    report = st.verify()
    assert report["unindexed"] == [key] and report["ok"] == sorted(c.key for c in sweep.cells)
    assert st.verify_cli(repair=True) == 0
    assert capsys.readouterr().out.splitlines() == [_verify_line(copied, 4, unindexed=1),
                                                      "repaired: unindexed cells indexed"]
    assert key in st.keys() and st.verify()["unindexed"] == []


def test_a_damaged_index_is_rebuilt_from_the_cell_files(copied, sweep, capsys):
    (copied / "index.sqlite").write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(copied / f"index.sqlite{suffix}")
    st = Store(copied, create=False)
    assert st.index_damage is not None
    with pytest.raises(ValueError, match=r"index\.sqlite is damaged .*`clipsim store verify --repair` rebuilds it"):
        st.keys()
    assert st.verify_cli(repair=True) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(_verify_line(copied, 4) + "; index damaged (")
    assert out[1] == "repaired: index rebuilt from the cell files"
    assert st.index_damage is None and st.keys() == sorted(c.key for c in sweep.cells)
    assert list(copied.glob("index.sqlite.damaged-*"))  # the damaged index is kept aside


def test_stale_temporaries_are_removed_live_ones_kept(copied):
    cells = copied / "cells"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (cells / f"a.npz.tmp-{dead.pid}").write_bytes(b"x")        # its writer has exited
    (cells / "b.npz.tmp-x1").write_bytes(b"x")                  # not a pid
    live = cells / f"c.npz.tmp-{os.getpid()}"
    live.write_bytes(b"x")                                      # this process: alive, fresh
    old = cells / f"d.npz.tmp-{os.getpid()}"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))    # alive but older than an hour
    st = Store(copied, create=False)
    assert sorted(os.path.basename(p) for p in st.verify()["temporaries"]) == sorted(
        [f"a.npz.tmp-{dead.pid}", "b.npz.tmp-x1", live.name, old.name])
    removed = st.clean_temporaries()
    assert sorted(os.path.basename(p) for p in removed) == sorted([f"a.npz.tmp-{dead.pid}", "b.npz.tmp-x1", old.name])
    assert live.exists()
    assert [os.path.basename(p) for p in st.clean_temporaries(older_than=-1.0)] == [live.name]


def test_pid_alive():
    assert store_mod._pid_alive(os.getpid())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not store_mod._pid_alive(dead.pid)
    assert store_mod._pid_alive(2**70)  # cannot tell (OverflowError): treated as alive, never deleted early


def test_arrays_are_the_data_without_the_header(stored, sweep):
    st = Store(stored, create=False)
    key = sweep.cells[0].key
    arrays = st.arrays(key)
    assert not any(k.startswith("cell/") for k in arrays)
    res = st.load(key)
    assert set(arrays) == ({f"metric/{k}" for k in res.metrics} | {f"record/{k}" for k in res.records}
                           | {"record_steps", "final_iterate"})
    np.testing.assert_array_equal(arrays["metric/avg_grad_sq"], res.metrics["avg_grad_sq"])


def test_export_csv_round_trips_the_table(stored, tmp_path):
    st = Store(stored, create=False)
    rows = st.table()
    out = tmp_path / "t.csv"
    assert st.export(out) == len(rows) == 160
    with open(out, newline="") as f:
        back = list(csv.DictReader(f))
    assert list(back[0])[:5] == ["cell", "sweep", "noise.alpha", "n_steps", "seed_index"]
    assert [r["cell"] for r in back] == [r["cell"] for r in rows]
    assert [float(r["avg_grad_sq"]) for r in back] == [r["avg_grad_sq"] for r in rows]
    with pytest.raises(ValueError, match="sweep = 'other' is not allowed: .*stored sweeps: unit$"):
        st.export(tmp_path / "none.csv", sweep="other")  # a typo is an error, not an empty table
    assert not (tmp_path / "none.csv").exists()


def test_to_frame_orders_by_cell_index_and_seed(stored, sweep):
    st = Store(stored, create=False)
    frame = st.to_frame(sweep)
    assert list(frame.columns[:3]) == ["cell_index", "cell", "sweep"] and len(frame) == 160
    assert frame["cell_index"].tolist() == [i for i in range(4) for _ in range(40)]
    assert frame["seed_index"].tolist() == list(range(40)) * 4
    assert frame["cell"].tolist() == [c.key for c in sweep.cells for _ in range(40)]
    by_name = st.to_frame("unit")
    assert list(by_name.columns[:2]) == ["cell", "sweep"] and by_name["cell"].tolist() == sorted(by_name["cell"])
    with pytest.raises(ValueError, match="stored sweeps: unit"):
        st.to_frame("other")


def _rewrite(path, key, change):
    """Rewrite cell ``key``'s file with ``change(arrays)`` applied (keeps the file name)."""
    f = path / "cells" / f"{key}.npz"
    with np.load(f, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(f, "wb") as out:
        np.savez(out, **arrays)


def test_each_kind_of_damage_is_named(copied, sweep):
    k0, k1, k2, k3 = (c.key for c in sweep.cells)
    (copied / "cells" / f"{k0}.npz").write_bytes(b"garbage")  # not a zip: numpy refuses to unpickle it
    _rewrite(copied, k1, lambda a: a.pop("cell/sha256"))
    _rewrite(copied, k2, lambda a: a.__setitem__("final_iterate", a["final_iterate"] + 1.0))
    other = dict(np.load(copied / "cells" / f"{k0}.npz".replace(k0, k3)))  # a valid file of cell k3 ...
    with open(copied / "cells" / f"{'0' * 24}.npz", "wb") as out:         # ... under another key
        np.savez(out, **other)
    st = Store(copied, create=False)
    assert dict(st.verify()["damaged"]) == {
        k0: "unreadable file (ValueError)", k1: "no checksum (written by an older clipsim)",
        k2: "checksum mismatch", "0" * 24: f"the file holds cell {k3}"}
    assert st.status(k1) == (f"cell {k1} in store {copied} is damaged: no checksum (written by an older clipsim); "
                             "`clipsim run` recomputes it (`clipsim store verify --repair` drops it)")
    with pytest.raises(store_mod.DamagedCell, match=rf"^cell {k2} in store .* is damaged: checksum mismatch;"):
        st.load(k2)
    assert st.status(k3) == "ok"


def test_store_paths_and_keys_are_checked(tmp_path, stored):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(ValueError, match=rf"^store = {re.escape(repr(str(f)))} is not allowed: it is a file, not a directory$"):
        Store(f)
    with pytest.raises(ValueError, match=rf"^store = {re.escape(repr(str(f / 'sub')))} is not allowed: a part of the path is a file$"):
        Store(f / "sub")
    empty = tmp_path / "empty"
    with pytest.raises(ValueError, match=rf"^store = {re.escape(repr(str(empty)))} is not allowed: no store there \(no "
                                         r"index\.sqlite\); run `clipsim run` first \(clipsim run SPEC --store DIR\)$"):
        Store(empty, create=False)
    st = Store(stored, create=False)
    for bad in ("NOTHEX00", "abc", 5):
        with pytest.raises(ValueError, match=rf"^key = {re.escape(repr(bad))} is not allowed: a cell key is 8-64 "
                                             "lowercase hex digits$"):
            st.status(bad)
    assert st.status("0" * 24) == "missing"


def test_a_damaged_index_row_is_named(copied, sweep):
    key = sweep.cells[0].key
    with sqlite3.connect(copied / "index.sqlite") as con:
        con.execute("UPDATE cells SET config = '{oops' WHERE key = ?", (key,))
    st = Store(copied, create=False)
    with pytest.raises(ValueError, match=rf"^store {re.escape(str(copied))}: the index row of cell {key} is damaged; "
                                         r"`clipsim store verify --repair` rebuilds it from the cell file$"):
        st.rows()


def test_table_types_and_the_sweep_filter(stored, sweep):
    st = Store(stored, create=False)
    assert len(st.table("unit")) == 160
    with pytest.raises(ValueError, match="sweep = 'other' is not allowed"):
        st.table("other")
    row = st.table("unit")[0]
    assert row["sweep"] == "unit" and isinstance(row["diverged"], bool) and isinstance(row["avg_grad_sq"], float)
    res = st.load(sweep.cells[0].key)
    assert set(res.records) and all(k and "/" not in k for k in list(res.records) + list(res.metrics))
    direct = R.run_config(sweep.cells[0].config)
    assert res.meta.keys() == direct.meta.keys() and res.meta["versions"] == direct.meta["versions"]
    np.testing.assert_array_equal(res.record_steps, direct.record_steps)


def test_several_repairs_are_listed_in_order(copied, sweep, capsys):
    k0, k1 = sweep.cells[0].key, sweep.cells[1].key
    os.remove(copied / "cells" / f"{k0}.npz")                      # damaged (listed, no file)
    with sqlite3.connect(copied / "index.sqlite") as con:           # unindexed (file, no row)
        con.execute("DELETE FROM cells WHERE key = ?", (k1,))
    (copied / "cells" / "x.npz.tmp-notapid").write_bytes(b"x")     # a stale temporary
    st = Store(copied, create=False)
    assert st.verify_cli(repair=True) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "repaired: damaged cells dropped (`clipsim run` recomputes them); unindexed cells indexed; "
        "stale temporaries removed")
    assert st.verify() == {"index": None, "ok": sorted(c.key for c in sweep.cells if c.key != k0),
                           "damaged": [], "unindexed": [], "temporaries": []}


def test_verify_without_repair_on_a_damaged_index_reads_the_files(copied, sweep):
    (copied / "index.sqlite").write_bytes(b"not a database" * 100)
    st = Store(copied, create=False)
    report = st.verify()
    assert report["index"] == st.index_damage and report["damaged"] == []
    assert report["ok"] == report["unindexed"] == sorted(c.key for c in sweep.cells)  # no row is readable
    with pytest.raises(ValueError) as e:
        st.keys()
    assert str(e.value) == (f"store {copied}: index.sqlite is damaged ({st.index_damage}); "
                            "`clipsim store verify --repair` rebuilds it from the cell files")
    assert st.index_damage == "file is not a database"


def test_damage_messages_name_the_cell(copied, sweep):
    k0 = sweep.cells[0].key
    (copied / "cells" / f"{k0}.npz").write_bytes(b"garbage")
    st = Store(copied, create=False)
    assert st.status(k0) == (f"cell {k0} in store {copied} is damaged: unreadable file (ValueError); "
                             "`clipsim run` recomputes it (`clipsim store verify --repair` drops it)")
