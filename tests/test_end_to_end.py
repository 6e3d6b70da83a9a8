"""End to end through the CLI: kill a sweep part-way and rerun; Dask gives identical arrays."""
import contextlib
import io
import os
import pathlib
import re
import signal
import sqlite3
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from clipsim import sweep as S

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, "data", "tiny.toml")


def _cli(*args, **kw):
    """A real `python -m clipsim` process (kept for the kill test, Dask and one smoke test)."""
    return subprocess.run([sys.executable, "-m", "clipsim", *args], capture_output=True, text=True, **kw)


def _main(*args):
    """The same command in-process: clipsim.cli.main(argv) returns the exit code (no 1.4 s import per call)."""
    from clipsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory, simulate):
    """The tiny sweep, simulated once for every test of this module that only reads it."""
    path = tmp_path_factory.mktemp("tiny") / "store"
    assert simulate(S.load(TINY), path) == (6, 0)
    return path


def _count(store):
    db = os.path.join(store, "index.sqlite")
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_sweep_resumes_to_the_same_store(tmp_path, assert_same_stores):
    spec = tmp_path / "slow.toml"
    text = (pathlib.Path(TINY).read_text().replace('n_steps = [100, 200, 400]', 'n_steps = [20000, 20001, 20002, 20003, 20004, 20005]')
            .replace('calibrate = {n_steps = [100, 200]}', 'calibrate = {n_steps = [20000, 20001]}'))
    spec.write_text(text)
    n_cells = len(S.load(spec).cells)
    ref = tmp_path / "ref"
    out = _cli("run", str(spec), "--store", str(ref), "--quiet")
    assert out.returncode == 0, out.stderr
    assert _count(ref) == n_cells

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "clipsim", "run", str(spec), "--store", str(killed), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _count(killed) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    done_at_kill = _count(killed)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert alive and 1 <= done_at_kill < n_cells, "the sweep must be killed part-way for this test to mean anything"
    # finished = durable cell files (renamed into place); one may lack its index row if the kill fell
    # between the rename and the insert: the rerun re-indexes it, so it is skipped too
    finished = len(list((killed / "cells").glob("*.npz")))
    assert done_at_kill <= finished < n_cells
    rerun = _cli("run", str(spec), "--store", str(killed))
    assert rerun.returncode == 0, rerun.stderr
    assert f"{n_cells - finished} cells computed, {finished} already stored" in rerun.stdout, rerun.stdout
    assert _count(killed) == n_cells
    assert_same_stores(ref, killed)
    again = _cli("run", str(spec), "--store", str(killed), "--quiet")
    assert f"0 cells computed, {n_cells} already stored" in again.stdout


def test_dask_local_cluster_gives_identical_arrays(tmp_path, tiny_store, assert_same_stores):
    import dask.distributed  # noqa: F401  (installed by make: missing is a failure, not a skip)
    dask = tmp_path / "dask"
    b = _cli("run", TINY, "--store", str(dask), "--quiet", "--executor", "dask", "--workers", "2")
    assert b.returncode == 0, b.stderr
    assert_same_stores(tiny_store, dask)


def test_export_is_one_tidy_table(tmp_path, tiny_store):
    out = _main("export", tmp_path / "t.csv", "--store", tiny_store)
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "t.csv").read_text().splitlines()
    sw = S.load(TINY)
    assert len(lines) == 1 + sum(c.config["n_seeds"] for c in sw.cells)
    header = lines[0].split(",")
    assert {"cell", "sweep", "noise.alpha", "n_steps", "seed_index", "avg_grad_sq", "diverged"} <= set(header)


@pytest.mark.parametrize("args,code,msg", [
    (("run", "missing.toml"), 2, "no such file"),
    (("failure-prob", TINY, "--bound", "nope", "--delta", "0.1"), 2, "nope"),
    (("frobnicate",), 2, "invalid choice"),
])
def test_cli_usage_errors_exit_2(args, code, msg):
    out = _main(*args)
    assert out.returncode == code
    assert msg in out.stderr and "Traceback" not in out.stderr


def test_bad_spec_keys_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(pathlib.Path(TINY).read_text().replace("[vars]", "[vars]\n") .replace('seeds = 64', 'seedz = 64'))
    with pytest.raises(ValueError, match="unknown key 'seedz'"):
        S.load(bad)
    bad.write_text(pathlib.Path(TINY).read_text().replace('"noise.alpha"', '"noise.alpah"'))
    with pytest.raises(ValueError, match="alpah"):
        S.load(bad)
    bad.write_text(pathlib.Path(TINY).read_text().replace('c = {expr = "c_eta"}', 'c = {expr = "__import__(\'os\')"}'))
    with pytest.raises(ValueError, match=r"\[optimizer\]\.eta\.c: parse_bound: function '__import__' not allowed"):
        S.load(bad)


def test_bounds_listing():
    out = _cli("bounds")  # one real process: the entry point itself
    assert out.returncode == 0 and "li_liu_2023_clipped_sgd" in out.stdout


def test_check_and_plot_read_the_store(tmp_path, tiny_store):
    store, figs, report = tiny_store, tmp_path / "figs", tmp_path / "report.md"
    out = _main("check", TINY, "--store", store, "--out", report)
    text = report.read_text()
    assert "Calibration" in text and "Rates" in text and "Held-out cells at δ" in text
    families = re.findall(r"\*\*Family verdict: (\w+)\*\*", text)
    outside = "| no (±" in text
    want = 1 if "violated" in families or outside else (3 if "inconclusive" in families else 0)
    assert families and out.returncode == want, (out.stderr, families)
    plot = _main("plot", TINY, "--store", store, "--out", figs)
    assert plot.returncode == 0, plot.stderr
    for name in ("tiny_rate", "tiny_quantiles"):
        assert (figs / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
        assert_drawn_png(figs / f"{name}.png")


def assert_drawn_png(path):
    """The PNG reads back as an image with ink on it: not blank, and more than a frame (several colours,
    a few percent of the pixels not background)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(path)[..., :3]
    assert img.ndim == 3 and min(img.shape[:2]) >= 200, img.shape
    background = np.all(img > 0.97, axis=-1)
    assert 0.02 < 1 - background.mean() < 0.9, f"{path}: {1 - background.mean():.3f} of the pixels drawn"
    colours = {tuple(c) for c in np.round(img[~background][::7] * 8).astype(int).tolist()}
    assert len(colours) >= 4, f"{path}: only {len(colours)} colours drawn (a blank or single-colour plot)"


def test_check_before_run_is_a_clear_error(tmp_path):
    out = _main("check", TINY, "--store", tmp_path / "empty")
    assert out.returncode == 2 and "run `clipsim run` first" in out.stderr


def test_failure_prob_decides_sequentially():
    """A generous constant: the anytime interval of P(Q > B) falls below δ within the budget."""
    out = _main("failure-prob", TINY, "--cell", "0", "--bound", "li_liu_2023_clipped_sgd", "--delta", "0.2",
               "--value", "C_opt=5", "--value", "alpha=1.4", "--batch", "64", "--max-seeds", "512")
    assert out.returncode == 0, out.stderr
    assert "evidence: holds" in out.stdout and "B(δ=0.2)" in out.stdout and out.stdout.endswith("decision: holds\n")
    tight = _main("failure-prob", TINY, "--cell", "0", "--bound", "li_liu_2023_clipped_sgd", "--delta", "0.2",
                 "--value", "C_opt=0.5", "--value", "alpha=1.4", "--batch", "64", "--max-seeds", "512")
    assert tight.returncode == 1 and "violated" in tight.stdout
    bad = _main("failure-prob", TINY, "--bound", "li_liu_2023_clipped_sgd", "--delta", "0.2", "--value", "C_opt")
    assert bad.returncode == 2 and "NAME=NUMBER" in bad.stderr


@pytest.mark.parametrize("method,evidence", [([], "holds"),
                                             (["--method", "splitting", "--replicas", "2", "--particles", "20"], "")])
def test_failure_prob_never_holds_when_a_validity_condition_fails(method, evidence):
    """α = 1.6 assumed on a cell whose noise has tail index 1.5: the bound's moment does not exist, so the
    decision is inconclusive (exit 3) whatever the evidence says, as ``clipsim check`` decides. (With the
    generous C_opt = 5 the sequential test's evidence alone says "holds", as in the test above; two
    splitting replicas are too few for any evidence, so only the route is checked there.)"""
    out = _main("failure-prob", TINY, "--cell", "0", "--bound", "li_liu_2023_clipped_sgd", "--delta", "0.2",
               "--value", "C_opt=5", "--value", "alpha=1.6", "--batch", "64", "--max-seeds", "512", *method)
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert "decision: inconclusive: validity condition alpha < tail_index violated" in out.stdout
    assert f"evidence alone: {evidence}" in out.stdout


def test_failure_prob_refuses_a_value_given_twice():
    out = _main("failure-prob", TINY, "--cell", "0", "--bound", "li_liu_2023_clipped_sgd", "--delta", "0.2",
               "--value", "C_opt=2", "--value", "C_opt=3")
    assert out.returncode == 2 and "--value 'C_opt=3' is not allowed: C_opt already has a value" in out.stderr
