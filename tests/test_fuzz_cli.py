"""Fuzz the command line in-process (issue 10): random argument lists over every command, with paths
that are directories, files, missing or unwritable, and hostile numbers. Every call exits 0, 1 or 2;
exit 2 prints at most two lines on stderr; no traceback ever; an answer within seconds; nothing is
written outside the working directory the paths point into."""
import contextlib
import io
import os
import shutil
import time

import pytest
from hypothesis import given, strategies as st

from _fuzz import FUZZ, SECONDS, TALLY
from clipsim.cli import main

SPEC_OK = {  # a valid two-cell sweep with a check and a figure (written to ok.toml as TOML)
    "sweep": {"name": "cli_fuzz", "n_steps": 8, "seeds": 8},
    "objective": {"name": "quadratic", "dim": 2},
    "noise": {"family": "stable", "alpha": 1.5},
    "optimizer": {"name": "clipped_sgd", "eta": 0.1, "clip": 1.0},
    "grid": {"n_steps": [8, 16]},
    "check": [{"bound": "li_liu_2023_clipped_sgd", "delta": 0.2, "values": {"alpha": 1.4, "C_opt": 5.0}}],
    "figure": [{"kind": "rate", "x": "n_steps", "name": "cli_fuzz_rate"}],
}
BAD_SPEC = "[sweep]\nname = 5\n[[["
COMMANDS = ["run", "check", "plot", "bounds", "failure-prob", "export", "store", "bogus", ""]
OPTIONS = ["--store", "--out", "--executor", "--workers", "--threads", "--quiet", "--cell", "--bound", "--delta",
           "--value", "--batch", "--max-seeds", "--confidence", "--sweep", "--repair", "--bogus"]
VALUES = ["ok.toml", "bad.toml", "adir", "afile", "missing.toml", "st", "st2", "afile/sub", "out.md", "out.csv",
          "out.parquet", "figs", "nodir/x.md", "0", "-1", "1", "2", "5", "10", "1e300", "nan", "inf", "-inf", "x",
          "10000000000", "100000000", "li_liu_2023_clipped_sgd", "nope", "C_opt=2", "alpha=1.4", "C_opt", "=",
          "C_opt=nan", "alpha=x", "local", "", "verify", "adir/../afile", "./", "/proc/clipsim_fuzz/x"]
# (never ".." or "/": an explicit path outside the sandbox is a legitimate place to write, and not one to fuzz)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, spec_toml):
    base = tmp_path_factory.mktemp("cli")
    work = base / "work"
    (base / "outside").mkdir()
    (base / "outside" / "keep.txt").write_text("sentinel")
    work.mkdir()
    (base / "ok.toml").write_text(spec_toml(SPEC_OK))  # the pristine copy _reset restores
    (work / "ok.toml").write_text(spec_toml(SPEC_OK))
    (work / "bad.toml").write_text(BAD_SPEC)
    (work / "adir").mkdir()
    (work / "afile").write_text("x")
    old = os.getcwd()
    os.chdir(work)
    try:
        assert _call(["run", "ok.toml", "--store", "st", "--quiet"])[0] == 0  # a store to read (and warm imports)
        yield base
    finally:
        os.chdir(old)


def _call(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def _snapshot(path):
    return sorted((str(p.relative_to(path)), p.stat().st_size if p.is_file() else -1)
                  for p in path.rglob("*") if "work" not in p.relative_to(path).parts)


# Per command: its arguments with a good value each (None: a flag). Each example keeps, drops or poisons them.
TEMPLATES = {
    "run": [("", "ok.toml"), ("--store", "st2"), ("--threads", "1"), ("--quiet", None)],
    "check": [("", "ok.toml"), ("--store", "st"), ("--out", "out.md")],
    "plot": [("", "ok.toml"), ("--store", "st"), ("--out", "figs")],
    "bounds": [],
    "failure-prob": [("", "ok.toml"), ("--cell", "0"), ("--bound", "li_liu_2023_clipped_sgd"), ("--delta", "0.2"),
                     ("--value", "C_opt=5"), ("--value", "alpha=1.4"), ("--batch", "64"), ("--max-seeds", "256"),
                     ("--confidence", "0.9")],
    "export": [("", "out.csv"), ("--store", "st"), ("--sweep", "cli_fuzz")],
    "store": [("", "verify"), ("--store", "st"), ("--repair", None)],
}


@st.composite
def argv_lists(draw):
    cmd = draw(st.sampled_from(COMMANDS))
    if cmd not in TEMPLATES:  # bogus or empty command: free-form arguments
        rest = draw(st.lists(st.sampled_from(OPTIONS + VALUES), max_size=4))
        return ([cmd] if cmd else []) + rest
    argv = [cmd]
    for opt, good in TEMPLATES[cmd]:
        how = draw(st.sampled_from(["keep", "keep", "drop", "poison"]))
        if how == "drop":
            continue
        value = good if how == "keep" or good is None else draw(st.sampled_from(VALUES))
        argv += ([opt] if opt else []) + ([value] if value is not None else [])
    if draw(st.booleans()):
        argv += draw(st.lists(st.sampled_from(OPTIONS + VALUES), max_size=2))
    return argv


@FUZZ
@given(argv=argv_lists())
def test_cli_arguments(sandbox, argv):
    before = _snapshot(sandbox)
    t0 = time.perf_counter()
    code, err = _call(argv)
    dt = time.perf_counter() - t0
    assert "Traceback" not in err, (argv, err)
    assert code in ((0, 1, 2, 3) if argv[:1] in (["check"], ["failure-prob"], ["falsify"]) else (0, 1, 2)), (argv, code, err)  # 3: inconclusive (README)
    if code == 2:
        assert 1 <= len(err.strip().splitlines()) <= 2, (argv, err)
    assert dt < 3 * SECONDS, (argv, dt)
    assert _snapshot(sandbox) == before, f"{argv} wrote outside its working directory"
    TALLY[f"cli:{'refused' if code == 2 else 'ok'}"] += 1
    _reset(sandbox / "work")


def _reset(work):
    """Keep examples independent: drop outputs, restore inputs an explicit --out may have overwritten."""
    for junk in ("st2", "figs", "out.md", "out.csv", "out.parquet", "x"):
        p = work / junk
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else (p.unlink() if p.exists() else None)
    (work / "ok.toml").write_text((work.parent / "ok.toml").read_text())
    (work / "bad.toml").write_text(BAD_SPEC)
    if (work / "afile").is_file():
        (work / "afile").write_text("x")


@pytest.mark.parametrize("argv, words", [
    (["run", "adir"], "not a regular file"),
    (["run", "ok.toml", "--store", "afile"], "is a file"),
    (["run", "ok.toml", "--store", "afile/sub"], "is a file"),
    (["check", "ok.toml", "--store", "st", "--out", "adir"], "is a directory"),
    (["plot", "ok.toml", "--store", "st", "--out", "afile"], "is a file"),
    (["export", "x.csv", "--store", "missing_store"], "no store there"),
    (["export", "ok.toml", "--store", "st"], ".csv or .parquet"),
    (["check", "ok.toml", "--store", "st", "--out", "ok.toml"], "the spec itself"),
    (["check", "ok.toml", "--store", "missing_store"], "run `clipsim run` first"),
    (["failure-prob", "ok.toml", "--bound", "li_liu_2023_clipped_sgd", "--delta", "0.2", "--value", "C_opr=2",
      "--value", "alpha=1.4"], "C_opt"),
])
def test_cli_paths_get_one_line(sandbox, argv, words):
    code, err = _call(argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (sandbox / "work" / "missing_store").exists()


def test_unreachable_scheduler_is_quick_and_one_line(sandbox):
    import dask.distributed  # noqa: F401  (installed by make: missing is a failure, not a skip)
    from clipsim import runner

    t0 = time.perf_counter()
    code, err = _call(["run", "ok.toml", "--store", "st3", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no Dask scheduler" in err, err
    assert time.perf_counter() - t0 < runner.SCHEDULER_TIMEOUT + 10
