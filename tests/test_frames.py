"""Store.to_frame and parquet export (the ``frames`` extra: these tests fail, not skip, without it)."""
import os
import sys

import numpy as np
import pandas as pd  # the frames extra is part of `make` installs: a missing pandas is a failure
import pyarrow  # noqa: F401  (same: parquet export must work)
import pytest

from clipsim import engine
from clipsim import sweep as S
from clipsim.cli import main
from clipsim.runner import run_sweep
from clipsim.store import Store

TINY = os.path.join(os.path.dirname(__file__), "data", "tiny.toml")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The tiny sweep with its cells 1 and 4 stored (not 0: the index column must be the sweep's)."""
    sw = S.load(TINY)
    store = Store(tmp_path_factory.mktemp("frames") / "store")
    part = S.Sweep(sw.name, sw.description, (sw.cells[1], sw.cells[4]), (), (), sw.spec, sw.path)
    run_sweep(part, store, progress=False)
    return sw, store


def test_one_row_per_cell_and_seed_with_coordinates_and_metrics(stored):
    sw, store = stored
    df = store.to_frame(sw)
    seeds = sw.cells[1].config["n_seeds"]
    assert len(df) == 2 * seeds
    assert list(df.columns[:3]) == ["cell_index", "cell", "sweep"]
    assert sorted(set(df["cell_index"])) == [1, 4]
    for i in (1, 4):
        cell = sw.cells[i]
        part = df[df["cell_index"] == i]
        assert set(part["cell"]) == {cell.key}
        for path, value in cell.coords:
            assert (part[path] == value).all()
        assert part["seed_index"].tolist() == list(range(seeds))
        res = store.load(cell.key)
        for name in engine.METRICS:
            if name in res.metrics:
                np.testing.assert_array_equal(part[name].to_numpy(), res.metrics[name])
    assert df["diverged"].dtype == bool and df["diverged_step"].dtype.kind == "i"


def test_all_cells_and_by_name_agree(stored):
    sw, store = stored
    by_sweep = store.to_frame(sw).drop(columns="cell_index").sort_values(["cell", "seed_index"])
    for frame in (store.to_frame(), store.to_frame(sw.name)):
        pd.testing.assert_frame_equal(frame.sort_values(["cell", "seed_index"]).reset_index(drop=True),
                                      by_sweep.reset_index(drop=True))
    with pytest.raises(ValueError, match="sweep = 'no_such_sweep' is not allowed: .*stored sweeps: tiny"):
        store.to_frame("no_such_sweep")  # a typo is an error, not an empty frame


def test_parquet_round_trip(stored, tmp_path):
    sw, store = stored
    df = store.to_frame(sw)
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)


def test_cli_export_parquet_matches_the_frame(stored, tmp_path, capsys):
    sw, store = stored
    path = tmp_path / "e.parquet"
    assert main(["export", str(path), "--store", store.path, "--sweep", sw.name]) == 0
    capsys.readouterr()
    back = pd.read_parquet(path).sort_values(["cell", "seed_index"]).reset_index(drop=True)
    want = store.to_frame(sw.name).sort_values(["cell", "seed_index"]).reset_index(drop=True)
    assert list(back.columns) == list(want.columns)
    for col in want.columns:
        np.testing.assert_array_equal(back[col].to_numpy(), want[col].to_numpy())


def test_to_frame_without_pandas_names_the_extra(stored, monkeypatch):
    _, store = stored
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ValueError, match=r"clipsim\[frames\]"):
        store.to_frame()
