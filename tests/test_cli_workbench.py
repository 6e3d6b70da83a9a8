"""The discoverable CLI: --version, list, cells, bounds NAME, help text, python -m theory."""
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numba
import numpy as np
import pytest

import theory
from clipsim import __version__, engine, glossary, noise as N, objectives as O
from clipsim import figures as F
from clipsim import sweep as S
from clipsim.catalogue import optimizer_catalogue, stage_catalogue
from clipsim.cli import main
from clipsim.decisions import load_results
from clipsim.runner import run_sweep
from clipsim.store import Store

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, "data", "tiny.toml")
ROOT = os.path.dirname(HERE)


def _out(capsys, argv, code=0):
    assert main(argv) == code
    return capsys.readouterr()


def test_version_names_clipsim_numba_numpy(capsys):
    out = _out(capsys, ["--version"]).out
    assert f"clipsim {__version__}" in out
    assert f"numba {numba.__version__}" in out and f"numpy {np.__version__}" in out


@pytest.mark.parametrize("what, names", [
    ("objectives", O.NAMES),
    ("noises", tuple(N.FAMILY_CODES)),
    ("optimizers", tuple(optimizer_catalogue())),
    ("metrics", engine.METRICS),
    ("records", engine.RECORDS),
    ("bounds", tuple(theory.BOUNDS)),
])
def test_list_gives_every_name_with_a_description(capsys, what, names):
    lines = _out(capsys, ["list", what]).out.splitlines()
    assert len(lines) == len(names)
    for name, line in zip(sorted(names), sorted(lines)):
        assert line.split()[0] == name
        rest = line[len(name):].strip()
        assert len(rest) > 5 and "``" not in rest, line


def test_list_noises_offers_only_vector_laws_each_family_accepts(capsys):
    """Every ``vector = a|b`` that ``clipsim list noises`` offers constructs; a law it leaves out is refused."""
    import re

    for line in _out(capsys, ["list", "noises"]).out.splitlines():
        fam, shown = line.split()[0], re.search(r"vector = ([\w|]+)\]", line)
        if shown is None:
            continue
        offered = shown.group(1).split("|")
        for vec in N.VECTOR_CODES:
            spec = {"family": fam, "vector": vec, **({"alpha": 1.5} if fam == "stable" else {}),
                    **({"tail_index": 2.5} if fam in ("pareto", "lomax") else {}),
                    **({"df": 3.0} if fam == "student_t" else {})}
            if vec in offered:
                N.Noise.from_dict(spec)
            else:
                with pytest.raises(ValueError, match="vector"):
                    N.Noise.from_dict(spec)


def test_list_stages_says_what_there_is(capsys):
    out = _out(capsys, ["list", "stages"]).out
    stages = stage_catalogue()
    if stages:
        assert sorted(ln.split()[0] for ln in out.splitlines()) == sorted(stages)
    else:
        assert "no composable stages" in out


def test_glossary_covers_engine_outputs_exactly():
    assert set(glossary.METRICS) == set(engine.METRICS)
    assert set(glossary.RECORDS) == set(engine.RECORDS)
    assert set(glossary.OBJECTIVES) == set(O.NAMES)


def test_list_unknown_is_a_usage_error(capsys):
    assert main(["list", "widgets"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and err.count("\n") == 1


def test_cells_shows_index_coordinates_and_stored(tmp_path, capsys):
    sw = S.load(TINY)
    store = Store(tmp_path / "s")
    sub = S.Sweep(sw.name, sw.description, sw.cells[:2], (), (), sw.spec, sw.path)
    run_sweep(sub, store, progress=False)
    lines = _out(capsys, ["cells", TINY, "--store", str(tmp_path / "s")]).out.splitlines()
    assert len(lines) == len(sw.cells) + 1
    for i, (cell, line) in enumerate(zip(sw.cells, lines)):
        idx, mark, key, label = line.split(maxsplit=3)
        assert (int(idx), key, label) == (i, cell.key, cell.label())
        assert mark == ("stored" if i < 2 else "missing")
    assert lines[-1].startswith(f"tiny: {len(sw.cells)} cells, 2 stored")


def test_cells_without_a_store_does_not_create_one(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    out = _out(capsys, ["cells", TINY, "--store", str(missing)]).out
    assert "0 stored" in out and not missing.exists()


def test_bounds_name_shows_the_whole_card(capsys):
    b = theory.get("li_liu_2023_clipped_sgd")
    out = _out(capsys, ["bounds", b.name]).out
    for label in ("formula:", "LaTeX:", "status:", "hidden constants:", "assumptions:", "valid when:",
                  "schedule:", "reference:"):
        assert label in out
    assert b.latex() in out and "C_opt" in out and "2307.13680" in out
    for a in b.assumptions:
        assert a in out


def test_bounds_unknown_name_exits_2(capsys):
    assert main(["bounds", "no_such_bound"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_bound" in err and "clipsim list bounds" in err


def test_help_has_examples_and_exit_codes_in_plain_text(capsys):
    out = _out(capsys, ["--help"]).out
    assert "examples:" in out and "exit codes:" in out
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {code}" in out
    assert "``" not in out and ":func:" not in out
    for cmd in ("list", "cells", "bounds", "run", "check", "plot", "failure-prob", "export"):
        assert cmd in out


def _theory(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "theory", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_python_m_theory_help_table_and_show():
    h = _theory("--help")
    assert h.returncode == 0 and "usage: python -m theory" in h.stdout and "show" in h.stdout
    t = _theory()
    assert t.returncode == 0 and all(name in t.stdout for name in theory.BOUNDS)
    assert _theory("table").stdout == t.stdout
    s = _theory("show", "zhang_2020_clipped_sgd")
    assert s.returncode == 0 and "formula:" in s.stdout
    assert _theory("show", "nope").returncode == 2


def test_plot_writes_beside_the_store_by_default(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a repository root would have paper_figs/: it must stay untouched
    store = tmp_path / "s"
    run_sweep(S.load(TINY), Store(store), progress=False)
    out = _out(capsys, ["plot", TINY, "--store", str(store)]).out.split()
    assert out and all(os.path.dirname(p) == str(store / "figures") for p in out)
    assert not (tmp_path / "paper_figs").exists()
    png = (store / "figures" / "tiny_rate.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 200 and height > 200, (width, height)
    # the caption names what TINY declares: 2 alphas x 3 horizons = 6 cells of 64 seeds, the bound
    cap = (store / "figures" / "tiny_rate.txt").read_text().splitlines()
    assert cap[1].endswith("against horizon T (steps); one series per noise.alpha.")
    assert cap[2] == "Cells: 6; seeds per cell: 64."
    assert "order-statistic 95% confidence intervals" in cap[3]
    assert cap[4].startswith("Bound: li_liu_2023_clipped_sgd [D: derived here]; values: alpha = ")


def test_rate_figure_plots_each_groups_medians_on_log_axes(tmp_path):
    """The rate figure's data: per noise.alpha, the seed medians of avg_grad_sq at n_steps 100, 200, 400
    (the ceil(n/2) = 32nd smallest of the 64 stored per-seed values), on log-log axes labelled in words."""
    sw = S.load(TINY)
    st = Store(tmp_path / "s")
    run_sweep(sw, st, progress=False)
    items = load_results(sw, st)
    fig = F.draw_figure(sw.figures[0], items, sw.checks, None, "tiny_rate")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "horizon T (steps)" and ax.get_ylabel().startswith("median of")
    assert ax.get_xscale() == ax.get_yscale() == "log"
    ys = [list(line.get_ydata()) for line in ax.get_lines()]
    for alpha in (1.5, 1.9):
        cells = sorted((dict(c.coords)["n_steps"], r) for c, r in items if dict(c.coords)["noise.alpha"] == alpha)
        medians = [float(np.sort(r.metrics["avg_grad_sq"])[31]) for _, r in cells]
        assert any(np.allclose(y, medians, rtol=1e-12) for y in ys), (alpha, medians, ys)
    plt.close(fig)


def test_a_closed_pipe_stops_quietly():
    """`clipsim list bounds | head -1`: when the reader has gone, no error line, the SIGPIPE exit code."""
    r, w = os.pipe()
    os.close(r)  # nobody reads: the first write fails with EPIPE
    try:
        out = subprocess.run([sys.executable, "-m", "clipsim", "list", "bounds"], stdout=w, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    finally:
        os.close(w)
    assert (out.returncode, out.stderr) == (141, "")
