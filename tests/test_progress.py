"""clipsim.progress: work-weighted bar, compile time out of the ETA, chunked cells bitwise equal."""
import io
import os

import numpy as np
import pytest

from clipsim import sweep as S
from clipsim.cli import main
from clipsim.progress import Progress, chunk_sizes, run_in_chunks, warm_up
from clipsim.runner import run_config, run_sweep
from clipsim.store import Store

TINY = os.path.join(os.path.dirname(__file__), "data", "tiny.toml")


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _cfg(seeds, T, d=1):
    return {"n_seeds": seeds, "n_steps": T, "objective": {"dim": d}}


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_eta_counts_work_and_leaves_compile_time_out():
    clock, out = Clock(), io.StringIO()
    a, b = _cfg(100, 10), _cfg(100, 30)          # work 1000 and 3000 coordinate-steps
    bar = Progress([a, b], stream=out, clock=clock)
    clock.t = 30.0
    bar.compiled(30.0)
    clock.t = 40.0                               # 10 s of simulation for the first cell
    bar.step(a, "cell a")
    lines = out.getvalue().splitlines()
    assert "compiled in 30.0 s" in lines[0] and "not counted in the ETA" in lines[0]
    # rate 1000 / 10 s = 100 per s; 3000 left -> 30 s (the 30 s of compile would make it 120 s)
    assert "ETA 0:30" in lines[1] and "elapsed 0:10" in lines[1]
    assert "seeds 100/200" in lines[1] and "cells 1/2" in lines[1] and " 25.0%" in lines[1]
    assert lines[1].endswith("cell a")


def test_advance_moves_within_a_cell_and_step_adds_the_rest():
    clock, out = Clock(), io.StringIO()
    a = _cfg(200, 10)
    bar = Progress([a], stream=out, clock=clock, min_interval=0.0)
    clock.t = 1.0
    bar.advance(a, 64)
    clock.t = 2.0
    bar.advance(a, 64)
    assert (bar.seeds_done, bar.work_done) == (128, 1280)
    bar.step(a)
    assert (bar.seeds_done, bar.work_done, bar.done) == (200, 2000, 1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "seeds 64/200" in lines[0] and "100.0%" in lines[2]


def test_not_a_terminal_one_line_per_update_throttled_but_every_cell_shown():
    clock, out = Clock(), io.StringIO()
    cells = [_cfg(100, 10) for _ in range(3)]
    bar = Progress(cells, stream=out, clock=clock, min_interval=5.0)
    for c in cells:
        clock.t += 1.0
        bar.advance(c, 50)   # within 5 s of the previous line: not shown
        bar.step(c)
    text = out.getvalue()
    assert "\r" not in text and len(text.splitlines()) == 4   # the first advance, then 3 cells


def test_terminal_redraws_one_line_and_quiet_writes_nothing():
    out = Tty()
    bar = Progress([_cfg(10, 10)], stream=out, clock=Clock())
    bar.step(_cfg(10, 10))
    assert out.getvalue().startswith("\r") and out.getvalue().endswith("\n")
    quiet = io.StringIO()
    q = Progress([_cfg(10, 10)], enabled=False, stream=quiet)
    q.compiled(3.0)
    q.step(_cfg(10, 10))
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("seeds, T, d, work, want", [
    (64, 100, 4, 2e7, [64]),                       # small: one call
    (1000, 1000, 10, 64 * 1e4, [64] * 15 + [40]),  # chunks of 64 seeds
    (1000, 10, 1, 2e7, [1000]),                    # little work: one call
    (1000, 10, 1, 1e2, [64] * 15 + [40]),          # never below 64 seeds
    (1000, 100, 1, 100 * 100, [104] * 9 + [64]),   # rounded up to a multiple of 8
])
def test_chunk_sizes(seeds, T, d, work, want):
    sizes = chunk_sizes(_cfg(seeds, T, d), chunk_work=work)
    assert sizes == want and sum(sizes) == seeds


def test_chunked_cell_is_bitwise_one_call():
    cell = S.load(TINY).cells[0]
    config = dict(cell.config, n_seeds=200)
    seen = []
    whole = run_config(config)
    parts = run_in_chunks(config, run_config, on_seeds=seen.append, chunk_work=64 * seed_steps(config))
    assert seen == [64, 64, 64]
    assert parts.config == whole.config
    for k in whole.metrics:
        np.testing.assert_array_equal(parts.metrics[k], whole.metrics[k])
    for k in whole.records:
        np.testing.assert_array_equal(parts.records[k], whole.records[k])
    np.testing.assert_array_equal(parts.final_iterate, whole.final_iterate)
    np.testing.assert_array_equal(parts.record_steps, whole.record_steps)


def seed_steps(config):
    return config["n_steps"] * config["objective"]["dim"]


def test_warm_up_runs_each_kernel_signature_once():
    calls = []
    configs = [c.config for c in S.load(TINY).cells]   # 6 cells, one signature
    warm_up(configs, lambda cfg, threads: calls.append(cfg))
    assert len(calls) == 1 and calls[0]["n_steps"] == 2 and calls[0]["n_seeds"] == 1
    assert configs[0]["n_steps"] != 2   # the sweep's configs are untouched


def test_run_shows_compile_time_and_seed_progress(tmp_path, capsys):
    assert main(["run", TINY, "--store", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    sw = S.load(TINY)
    seeds = sum(c.config["n_seeds"] for c in sw.cells)
    assert "Numba kernels" in err and f"seeds {seeds:,}/{seeds:,}" in err and "100.0%" in err
    assert main(["run", TINY, "--store", str(tmp_path / "q"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_dask_run_prints_the_dashboard_address(tmp_path, capsys):
    import dask.distributed  # noqa: F401  (installed by make: missing is a failure, not a skip)
    sw = S.load(TINY)
    one = S.Sweep(sw.name, "", sw.cells[:1], (), (), sw.spec, sw.path)
    assert run_sweep(one, Store(tmp_path / "s"), executor="dask", workers=1, progress=False) == (1, 0)
    err = capsys.readouterr().err
    assert "Dask dashboard: http" in err
