"""Fuzz TOML sweep specs (issue 10): a valid spec with one or two values replaced by hostile ones, and
random text as a spec file, is accepted or refused with one line within seconds; nothing else."""
import copy
import os

from hypothesis import given, settings, strategies as st

from _fuzz import FUZZ, HOSTILE, TALLY, outcome
from clipsim import sweep as S

BASE = {"sweep": {"name": "fz", "n_steps": 20, "seeds": 4, "seed": 1, "record": 3},
        "vars": {"c_eta": 0.5},
        "objective": {"name": "quadratic", "dim": 2},
        "noise": {"family": "stable", "alpha": 1.5},
        "optimizer": {"name": "clipped_sgd", "eta": {"kind": "horizon", "c": {"expr": "c_eta"},
                                                     "a": {"expr": "-alpha/(3*alpha - 2)"}}, "clip": 1.0},
        "grid": {"noise.alpha": [1.5, 1.9], "n_steps": [20, 40]},
        "check": [{"bound": "li_liu_2023_clipped_sgd", "delta": 0.1, "values": {"alpha": {"expr": "alpha - 0.1"}},
                   "calibrate": {"n_steps": 20}, "rate": "n_steps", "tolerance": 0.1}],
        "figure": [{"kind": "rate", "x": "n_steps", "group": "noise.alpha", "name": "fz_rate"}]}

# (table path, key) pairs to poison; None key = replace the whole table
SLOTS = [("sweep", k) for k in ("name", "n_steps", "seeds", "seed", "record", "x0", "description", "bogus")] + \
    [("vars", k) for k in ("c_eta", "T", "alpha", "d", "exp", "new")] + \
    [("objective", k) for k in ("name", "dim", "n")] + [("noise", k) for k in ("family", "alpha", "beta", "vector")] + \
    [("optimizer", k) for k in ("name", "eta", "clip", "beta")] + \
    [("grid", k) for k in ("noise.alpha", "n_steps", "optimizer.clip", "objective", "noise.alpha.x", "bogus")] + \
    [("check.0", k) for k in ("bound", "delta", "values", "calibrate", "rate", "tolerance", "where", "growth",
                              "confidence", "statistic", "n_boot", "metric")] + \
    [("figure.0", k) for k in ("kind", "x", "group", "name", "where", "deltas", "title", "bound")] + \
    [(t, None) for t in ("sweep", "vars", "objective", "noise", "optimizer", "grid", "check", "figure")]
EXPRS = st.sampled_from(["gamma(gamma(100))", "exp(exp(exp(100)))", "T", "alpha", "1/0", "log(-1)", "x.y",
                         "__import__('os')", "c_eta*" * 30 + "1", "10**30*" * 15 + "1", "(" * 100 + "1" + ")" * 100])
VALUES = st.one_of(HOSTILE, EXPRS.map(lambda e: {"expr": e}), st.lists(EXPRS.map(lambda e: {"expr": e}), max_size=2),
                   st.sampled_from([list(range(2000)), [1.5] * 3, ["../../x"], "../../../x", "/tmp/x"]))


def _poison(spec, slot, value):
    path, key = slot
    node = spec
    parts = path.split(".")
    for p in parts[:-1] if key is None else parts:
        if p.isdigit():
            node = node[int(p)] if isinstance(node, list) and len(node) > int(p) else None
        else:
            node = node.setdefault(p, {}) if isinstance(node, dict) else None
        if not isinstance(node, (dict, list)):
            return  # an earlier edit replaced this table
    if not isinstance(node, dict):
        return
    if key is None:
        node[parts[-1]] = value
    else:
        node[key] = value


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(SLOTS), VALUES), min_size=1, max_size=2))
def test_poisoned_specs(edits, tmp_path_factory):
    spec = copy.deepcopy(BASE)
    for slot, value in edits:
        _poison(spec, slot, value)
    outcome("toml:spec", lambda: S.from_spec(spec, path="fz.toml"))


@FUZZ
@given(text=st.text(max_size=300) | st.sampled_from(["[sweep]\nname = 5", "[[check]]\nbound = [1]", "x = [[[",
                                                      "[sweep\n", "\x00\x01", "[grid]\n'noise.alpha' = 1e999"]))
def test_random_text_as_spec(text, tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    p = d / "s.toml"
    p.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    outcome("toml:file", lambda: S.load(p))
    assert sorted(os.listdir(d)) == ["s.toml"]


# ---- the whole pipeline: a poisoned spec through `clipsim run`, `check` and `plot`, in-process ---------
def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in v) + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_value(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)  # None: not representable in TOML


def dump_toml(spec):
    """A spec dict as TOML text (tables, arrays of tables, inline values); None values are left out."""
    clean = json_clean(spec)
    lines = []
    for name, table in clean.items():
        items = table if isinstance(table, list) and table and all(isinstance(t, dict) for t in table) else None
        if items is not None:
            for t in items:
                lines.append(f"[[{name}]]")
                lines += [f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in t.items()]
        elif isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{_toml_value(name)} = {_toml_value(table)}")
    return "\n".join(lines) + "\n"


def json_clean(x):
    if isinstance(x, dict):
        return {k: json_clean(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [json_clean(v) for v in x if v is not None]
    return x


@settings(FUZZ, max_examples=FUZZ.max_examples // 10 or 10)
@given(edits=st.lists(st.tuples(st.sampled_from(SLOTS), VALUES), min_size=1, max_size=2))
def test_poisoned_spec_through_the_cli(edits, tmp_path_factory):
    import contextlib
    import io

    from clipsim.cli import main

    spec = copy.deepcopy(BASE)
    spec["grid"] = {"n_steps": [20, 40]}
    spec["check"][0]["values"] = {"alpha": 1.4}
    for slot, value in edits:
        _poison(spec, slot, value)
    d = tmp_path_factory.mktemp("pipe")
    (d / "s.toml").write_text(dump_toml(spec))
    for argv in (["run", "s.toml", "--store", "st", "--quiet"], ["check", "s.toml", "--store", "st"],
                 ["plot", "s.toml", "--store", "st", "--out", "figs"]):
        argv = [a if not a.endswith(("s.toml", "st", "figs")) else str(d / a) for a in argv]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
        assert "Traceback" not in err.getvalue() and code in (0, 1, 2), (argv, err.getvalue())
        lines = err.getvalue().strip().splitlines()
        assert code != 2 or 1 <= len(lines) <= 2, (argv, err.getvalue())
        TALLY[f"toml:cli:{'refused' if code == 2 else 'ok'}"] += 1
        if code == 2:
            break
    assert set(os.listdir(d)) <= {"s.toml", "st", "figs"}, os.listdir(d)
