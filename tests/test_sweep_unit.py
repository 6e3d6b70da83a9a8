"""Sweep expansion, expressions and cell keys, tested directly (issue 14): no simulation is run.

Each expectation is written out by hand from the spec (the grid value that must win, the Cartesian
order, the value of an expression), so a grid value that no longer overrides the base spec, a swapped
product order, a wrong operator precedence or a seed count that leaks into the stream seed fails here.

[[check]] and [[figure]] tables and spec files: every range is tested on both sides of its edge (an open end rejected exactly at the end, an inclusive
end accepted exactly at it), and every refusal is matched from its first character, so the message
names the table (with its 1-based index), the field and the value. The ranges are the documented ones
(docs/toml.md): delta and confidence in (0, 1), tolerance in [0, inf), n_boot in [1, 100000],
rare_budget in [1, 1e15], statistic "median" or a level in (0, 1), rate a gridded path."""
import copy
import hashlib
import json
import re

import pytest

from clipsim import __version__
from clipsim import sweep as S

BASE = {"sweep": {"name": "unit", "n_steps": 50, "seeds": 8, "seed": 7},
        "objective": {"name": "quadratic", "dim": 3},
        "noise": {"family": "stable", "alpha": 1.5},
        "optimizer": {"name": "clipped_sgd", "eta": 0.05, "clip": 1.0}}


def spec(**extra):
    s = copy.deepcopy(BASE)
    for k, v in extra.items():
        if k == "sweep":
            s["sweep"].update(v)
        else:
            s[k] = v
    return s


def test_single_cell_without_grid():
    sw = S.from_spec(spec())
    assert len(sw.cells) == 1 and sw.cells[0].coords == () and sw.cells[0].label() == "(single cell)"
    c = sw.cells[0].config
    assert (c["n_steps"], c["n_seeds"], c["root_seed"]) == (50, 8, 7)
    assert c["noise"]["alpha"] == 1.5 and c["optimizer"]["clip"] == {"kind": "constant", "c": 1.0}


def test_grid_value_overrides_base_spec():
    sw = S.from_spec(spec(grid={"noise.alpha": [1.2, 1.8], "optimizer.clip": [0.25], "n_steps": [10]}))
    assert [c.config["noise"]["alpha"] for c in sw.cells] == [1.2, 1.8]
    assert all(c.config["optimizer"]["clip"]["c"] == 0.25 for c in sw.cells)
    assert all(c.config["n_steps"] == 10 for c in sw.cells)
    assert all(c.variables["T"] == 10 and c.variables["alpha"] == c.config["noise"]["alpha"] for c in sw.cells)
    # the base spec itself is not modified by the expansion
    s = spec(grid={"noise.alpha": [1.2]})
    S.from_spec(s)
    assert s["noise"]["alpha"] == 1.5


def test_grid_seeds_and_seed_override_sweep_table():
    sw = S.from_spec(spec(grid={"seeds": [3, 5], "seed": [11]}))
    assert [c.config["n_seeds"] for c in sw.cells] == [3, 5]
    assert all(c.config["root_seed"] == 11 for c in sw.cells)


def test_cartesian_product_order_first_axis_slowest():
    sw = S.from_spec(spec(grid={"noise.alpha": [1.2, 1.5, 1.8], "n_steps": [10, 20]}))
    assert [c.coords for c in sw.cells] == [
        (("noise.alpha", a), ("n_steps", t)) for a in (1.2, 1.5, 1.8) for t in (10, 20)]
    assert [c.label() for c in sw.cells][:2] == ["noise.alpha=1.2, n_steps=10", "noise.alpha=1.2, n_steps=20"]


def test_whole_table_grid_values_and_labels():
    opts = [{"name": "clipped_sgd", "eta": 0.1, "clip": 2.0, "label": "clipped"},
            {"name": "sgd", "eta": 0.01}]
    sw = S.from_spec(spec(grid={"optimizer": opts}))
    assert [c.coords for c in sw.cells] == [(("optimizer", "clipped"),), (("optimizer", "sgd"),)]
    assert sw.cells[0].config["optimizer"]["clip"]["c"] == 2.0
    assert sw.cells[1].config["optimizer"]["name"] == "sgd"
    assert "label" not in sw.cells[0].config["optimizer"]


def test_vars_and_expressions():
    s = spec(vars={"c_eta": 0.5, "k": 3},
             optimizer={"name": "clipped_sgd", "eta": {"expr": "c_eta / T"}, "clip": {"expr": "k + 2 * alpha"}},
             grid={"n_steps": [10, 40], "noise.alpha": [1.5, 2.0]})
    sw = S.from_spec(s)
    for c in sw.cells:
        T, a = c.config["n_steps"], c.config["noise"]["alpha"]
        assert c.config["optimizer"]["eta"]["c"] == pytest.approx(0.5 / T, rel=1e-15)
        assert c.config["optimizer"]["clip"]["c"] == pytest.approx(3 + 2 * a, rel=1e-15)  # * before +


@pytest.mark.parametrize("text,want", [("2 + 3 * 4", 14.0), ("(2 + 3) * 4", 20.0), ("2 ** 3 ** 2", 512.0),
                                       ("-2 ** 2", -4.0), ("12 / 4 / 3", 1.0), ("2 - 3 - 4", -5.0),
                                       ("T ** (1/2)", 10.0), ("x / (3*x - 2)", 0.5), ("log(E)", 1.0)])
def test_evaluate_expr_precedence_and_associativity(text, want):
    assert S.evaluate_expr(text, {"T": 100, "x": 2.0}) == pytest.approx(want, rel=1e-14)


def test_evaluate_expr_errors_name_the_place():
    with pytest.raises(ValueError, match=r"\[optimizer\]\.eta: expr 'c / T' uses c with no value"):
        S.evaluate_expr("c / T", {"T": 10}, "[optimizer].eta")
    with pytest.raises(ValueError, match="not a finite real number"):
        S.evaluate_expr("1 / (T - 10)", {"T": 10}, "x")
    with pytest.raises(ValueError, match="must be a string"):
        S.evaluate_expr(5, {}, "x")


def test_vars_may_not_shadow_builtin_names():
    with pytest.raises(ValueError, match="T"):
        S.from_spec(spec(vars={"T": 5}))


# ------------------------------------------------------------------ cell keys and streams

def expected_key(config):
    blob = json.dumps({"config": config, "clipsim": __version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def test_cell_key_is_the_content_hash():
    c = S.from_spec(spec()).cells[0]
    assert c.key == expected_key(c.config) and len(c.key) == 24


def test_cell_key_changes_iff_content_changes():
    a = S.from_spec(spec()).cells[0]
    same = S.from_spec(spec(sweep={"name": "other", "description": "renamed"})).cells[0]
    assert same.key == a.key  # name and description are not content
    for change in ({"sweep": {"seeds": 9}}, {"sweep": {"seed": 8}}, {"sweep": {"n_steps": 51}},
                   {"noise": {"family": "stable", "alpha": 1.6}}, {"sweep": {"record": 5}}):
        assert S.from_spec(spec(**change)).cells[0].key != a.key, change
    # dict order in the spec does not matter
    s = spec()
    s["optimizer"] = {"clip": 1.0, "eta": 0.05, "name": "clipped_sgd"}
    assert S.from_spec(s).cells[0].key == a.key


def test_stream_seed_closed_form_and_excludes_seed_count_and_record():
    c = S.from_spec(spec()).cells[0].config
    content = {k: c.get(k) for k in ("objective", "noise", "optimizer", "n_steps", "x0")}
    blob = json.dumps({"root": 7, "cell": content}, sort_keys=True, separators=(",", ":"))
    assert c["seed"] == int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big") >> 1
    assert 0 <= c["seed"] < 2 ** 63
    more = S.from_spec(spec(sweep={"seeds": 1000, "record": 7})).cells[0].config
    assert more["seed"] == c["seed"]  # seed m of a cell is the same whatever the seed count
    for change in ({"sweep": {"seed": 8}}, {"sweep": {"n_steps": 51}}, {"noise": {"family": "stable", "alpha": 1.6}}):
        assert S.from_spec(spec(**change)).cells[0].config["seed"] != c["seed"], change


def test_cells_of_one_sweep_have_distinct_streams_unless_common():
    grid = {"noise.alpha": [1.2, 1.5], "n_steps": [10, 20]}
    seeds = [c.config["seed"] for c in S.from_spec(spec(grid=grid)).cells]
    assert len(set(seeds)) == 4
    common = S.from_spec(spec(grid=grid, sweep={"streams": "common"})).cells
    assert {c.config["seed"] for c in common} == {7}


def test_matches_where_tables():
    sw = S.from_spec(spec(grid={"noise.alpha": [1.2, 1.5], "n_steps": [10, 20]}))
    pick = [c.coords for c in sw.cells if S.matches(c, {"noise.alpha": 1.5})]
    assert pick == [(("noise.alpha", 1.5), ("n_steps", 10)), (("noise.alpha", 1.5), ("n_steps", 20))]
    pick = [c.coords for c in sw.cells if S.matches(c, {"n_steps": [20], "noise.alpha": [1.2, 1.5]})]
    assert len(pick) == 2 and all(dict(p)["n_steps"] == 20 for p in pick)
    assert all(S.matches(c, None) for c in sw.cells)


# ================================================================== [[check]] / [[figure]] tables

TABLES_BASE = {"sweep": {"name": "tables", "n_steps": 50, "seeds": 8, "seed": 7},
        "objective": {"name": "quadratic", "dim": 3},
        "noise": {"family": "stable", "alpha": 1.5},
        "optimizer": {"name": "clipped_sgd", "eta": 0.05, "clip": 1.0},
        "grid": {"noise.alpha": [1.5, 1.9], "n_steps": [10, 20]}}
BOUND = "li_liu_2023_clipped_sgd"
GOOD_CHECK = {"bound": BOUND, "delta": 0.1}
GOOD_FIGURE = {"kind": "rate", "x": "n_steps"}


def with_tables(checks=(), figures=()):
    s = copy.deepcopy(TABLES_BASE)
    if checks:
        s["check"] = [dict(c) for c in checks]
    if figures:
        s["figure"] = [dict(f) for f in figures]
    return s


def refused(spec, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)) as e:
        S.from_spec(spec)
    assert "\n" not in str(e.value)
    return str(e.value)


# ------------------------------------------------------------------ [[check]]

@pytest.mark.parametrize("key, value", [
    ("delta", 1e-12), ("delta", 1 - 1e-12), ("delta", [0.5, 0.01]), ("confidence", 0.5),
    ("tolerance", 0.0), ("tolerance", 1e300), ("n_boot", 1), ("n_boot", 100_000), ("growth", True),
    ("growth", False), ("rare", "splitting"), ("rare", "is"), ("rare_budget", 1), ("rare_budget", 10**15),
    ("rate", "n_steps"), ("rate", "noise.alpha"), ("statistic", "median"), ("statistic", 1e-9),
    ("statistic", 1 - 1e-9), ("metric", "avg_grad_sq"), ("metric", ["avg_grad_sq", "final_grad_sq"]),
    ("values", {"alpha": 1.4}), ("where", {"noise.alpha": 1.5}), ("where", {"alpha": [1.9]}),
    ("calibrate", {"n_steps": 10}),
])
def test_check_values_at_the_inclusive_edges_are_kept(key, value):
    sw = S.from_spec(with_tables([{**GOOD_CHECK, key: value}]))
    assert sw.checks[0][key] == value


@pytest.mark.parametrize("key, value, message", [
    ("delta", 0.0, "[[check]] #2 delta = 0.0 is not allowed"),
    ("delta", 1.0, "[[check]] #2 delta = 1.0 is not allowed"),
    ("delta", [0.5, 1.0], "[[check]] #2 delta[1] = 1.0 is not allowed: must be a real number in (0.0, 1.0)"),
    ("confidence", 0.0, "[[check]] #2 confidence = 0.0 is not allowed"),
    ("confidence", 1.0, "[[check]] #2 confidence = 1.0 is not allowed"),
    ("tolerance", -1e-12, "[[check]] #2 tolerance = -1e-12 is not allowed"),
    ("tolerance", float("inf"), "[[check]] #2 tolerance = inf is not allowed"),
    ("n_boot", 0, "[[check]] #2 n_boot = 0 is not allowed"),
    ("n_boot", 100_001, "[[check]] #2 n_boot = 100001 is not allowed"),
    ("growth", 1, "[[check]] #2 growth = 1 is not allowed"),
    ("rare", "mc", "[[check]] #2 rare = 'mc' is not allowed"),
    ("rare_budget", 0, "[[check]] #2 rare_budget = 0 is not allowed"),
    ("rare_budget", 10**15 + 1, "[[check]] #2 rare_budget = 1000000000000001 is not allowed"),
    ("rate", "seeds", "[[check]] #2 rate = 'seeds' is not allowed: must be a gridded path (noise.alpha, n_steps)"),
    ("rate", 5, "[[check]] #2 rate = 5 is not allowed"),
    ("statistic", 0.0, "[[check]] #2 statistic = 0.0 is not allowed"),
    ("statistic", 1.0, "[[check]] #2 statistic = 1.0 is not allowed"),
    ("statistic", "mean", "[[check]] #2 statistic = 'mean' is not allowed"),
    ("metric", [], "[[check]] #2 metric = [] is not allowed: must be a metric name or a list of names"),
    ("metric", "", "[[check]] #2 metric = '' is not allowed: must be a metric name or a list of names"),
    ("metric", ["avg_grad_sq", 3], "[[check]] #2 metric = ['avg_grad_sq', 3] is not allowed"),
    ("values", 1.4, "[[check]] #2 values = 1.4 is not allowed"),
    ("where", {"noise.alpha": 3.0}, "[[check]] #2 where = {'noise.alpha': 3.0} matches no cell of the sweep"),
    ("where", {"bogus": 1}, "[[check]] #2 where: key 'bogus' is not a grid path or variable; known: "),
    ("calibrate", {"n_steps": 30}, "[[check]] #2 calibrate = {'n_steps': 30} matches no cell of the sweep"),
    ("colour", 1, "[[check]] #2: unknown key 'colour': valid keys are bound, metric, delta"),
])
def test_check_values_past_an_edge_are_refused_naming_table_field_and_value(key, value, message):
    # the bad table is the second one: its index in the message is 1-based
    refused(with_tables([GOOD_CHECK, {**GOOD_CHECK, key: value}]), message)


def test_check_without_a_bound_or_with_an_unknown_bound():
    refused(with_tables([{"delta": 0.1}]), "[[check]] #1: missing key 'bound'")
    refused(with_tables([{"bound": "no_such_bound"}]),
            "[[check]] #1 bound = 'no_such_bound' is not allowed: unknown bound 'no_such_bound'")


def test_rate_of_a_sweep_without_grid_says_so():
    s = with_tables([{**GOOD_CHECK, "rate": "n_steps"}])
    del s["grid"]
    refused(s, "[[check]] #1 rate = 'n_steps' is not allowed: must be a gridded path (the sweep has no [grid])")


def test_tables_must_be_arrays_of_tables():
    s = copy.deepcopy(TABLES_BASE)
    s["check"] = GOOD_CHECK
    refused(s, f"check = {GOOD_CHECK!r} is not allowed: must be [[check]] tables")
    s = copy.deepcopy(TABLES_BASE)
    s["figure"] = [GOOD_FIGURE, 3]
    refused(s, "figure = ")


# ------------------------------------------------------------------ [[figure]]

@pytest.mark.parametrize("key, value", [
    ("title", ""), ("title", "mine"), ("name", "fig_1.a"), ("deltas", [1e-9, 1 - 1e-9]),
    ("group", "noise.alpha"), ("group", "alpha"), ("group", ["noise.alpha", "n_steps"]),
    ("statistic", 0.9), ("bound", BOUND), ("where", {"n_steps": 20}),
])
def test_figure_values_at_the_edges_are_kept(key, value):
    sw = S.from_spec(with_tables(figures=[{**GOOD_FIGURE, key: value}]))
    assert sw.figures[0][key] == value


@pytest.mark.parametrize("key, value, message", [
    ("kind", "bar", "[[figure]] #2 kind = 'bar' is not allowed: must be one of 'rate', 'quantile_delta'"),
    ("x", "", "[[figure]] #2 x = '' is not allowed: must be a non-empty string"),
    ("x", 5, "[[figure]] #2 x = 5 is not allowed"),
    ("title", 5, "[[figure]] #2 title = 5 is not allowed"),
    ("name", "../up", "[[figure]] #2 name = '../up' is not allowed"),
    ("deltas", 0.5, "[[figure]] #2 deltas = 0.5 is not allowed"),
    ("deltas", [0.5, 1.0], "[[figure]] #2 deltas[1] = 1.0 is not allowed: must be a real number in (0.0, 1.0)"),
    ("deltas", [0.0], "[[figure]] #2 deltas[0] = 0.0 is not allowed"),
    ("group", "bogus", "[[figure]] #2 group = 'bogus' is not allowed: each must be a grid path or variable; "
                       "known: "),
    ("group", ["noise.alpha", 5], "[[figure]] #2 group = ['noise.alpha', 5] is not allowed"),
    ("statistic", 1.0, "[[figure]] #2 statistic = 1.0 is not allowed"),
    ("metric", [], "[[figure]] #2 metric = [] is not allowed"),
    ("where", {"n_steps": 30}, "[[figure]] #2 where = {'n_steps': 30} matches no cell of the sweep"),
    ("series", 1, None),  # a known key: kept (validated where it is drawn)
    ("colour", 1, "[[figure]] #2: unknown key 'colour': valid keys are kind, x, group"),
])
def test_figure_values_past_an_edge_are_refused(key, value, message):
    spec = with_tables(figures=[GOOD_FIGURE, {**GOOD_FIGURE, key: value}])
    if message is None:
        assert S.from_spec(spec).figures[1][key] == value
    else:
        refused(spec, message)


def test_figure_without_kind_is_refused():
    refused(with_tables(figures=[{"x": "n_steps"}]), "[[figure]] #1 kind = None is not allowed: must be one of")


def test_group_known_variables_include_every_cells_variables():
    # "T" and "d" are variables of every cell (set from n_steps and the objective's dim)
    known = refused(with_tables(figures=[{**GOOD_FIGURE, "group": "nope"}]), "[[figure]] #1 group")
    names = known.split("known: ")[1].split(", ")
    assert names == sorted(names) and {"T", "d", "alpha", "n_steps", "noise.alpha"} <= set(names)


def test_check_figure_for_plot_figure():
    cells = S.from_spec(TABLES_BASE).cells
    S.check_figure({"kind": "rate", "group": "noise.alpha"}, "ok_name", cells)
    with pytest.raises(ValueError, match=r"^figure name = 'a/b' is not allowed"):
        S.check_figure({"kind": "rate"}, "a/b", cells)
    with pytest.raises(ValueError, match=r"^\[\[figure\]\] mine group = 'bogus' is not allowed"):
        S.check_figure({"kind": "rate", "group": "bogus"}, "mine", cells)
    with pytest.raises(ValueError, match=r"^\[\[figure\]\] mine where = \{'n_steps': 30\} matches no cell"):
        S.check_figure({"kind": "rate", "where": {"n_steps": 30}}, "mine", cells)


# ------------------------------------------------------------------ spec files

def test_load_names_a_missing_file_and_bad_toml(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ValueError, match=rf"^spec = {re.escape(repr(str(missing)))} is not allowed: no such file$"):
        S.load(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep\n")
    with pytest.raises(ValueError, match=rf"^spec {re.escape(str(bad))}: not valid TOML: "):
        S.load(bad)


def test_load_names_an_unnamed_sweep_after_its_file(tmp_path, spec_toml):
    s = copy.deepcopy(TABLES_BASE)
    del s["sweep"]["name"]
    for file, name in (("my sweep!.toml", "my_sweep_"), (".hidden.toml", "hidden"), ("a.b-c.toml", "a.b-c")):
        (tmp_path / file).write_text(spec_toml(s))
        sw = S.load(tmp_path / file)
        assert sw.name == name and all(c.sweep == name for c in sw.cells)
    assert S.from_spec(s).name == "sweep"  # no file, no name


# ------------------------------------------------------------------ expressions' messages, keys by variable

def test_expression_refusals_name_where_what_and_the_known_values():
    with pytest.raises(ValueError) as e:
        S.evaluate_expr("T * d", {})
    assert str(e.value) == "expr: expr 'T * d' uses T, d with no value; known: none"
    with pytest.raises(ValueError) as e:
        S.evaluate_expr("T * c_eta", {"c_eta": 1.0, "b": 2.0}, "[optimizer] eta")
    assert str(e.value) == "[optimizer] eta: expr 'T * c_eta' uses T with no value; known: b, c_eta"
    with pytest.raises(ValueError, match=r"^\[x\]: parse_bound: unknown name 'q'"):
        S.evaluate_expr("q * 2", {}, "[x]")


def test_a_dotted_key_is_known_by_its_last_component():
    """``where``/``group`` may name a parameter that is not gridded by its dotted path (here noise.alpha,
    a noise parameter of every cell: the variable alpha)."""
    s = with_tables(checks=[{**GOOD_CHECK, "where": {"noise.alpha": 1.5}}],
                    figures=[{**GOOD_FIGURE, "group": "noise.alpha"}])
    s["grid"] = {"n_steps": [10, 20]}
    sw = S.from_spec(s)
    assert sw.checks[0]["where"] == {"noise.alpha": 1.5} and sw.figures[0]["group"] == "noise.alpha"
    assert all(S.matches(c, {"noise.alpha": 1.5}) for c in sw.cells)


def test_unknown_where_key_lists_every_grid_path_and_variable():
    # TABLES_BASE grids noise.alpha and n_steps; every cell also knows T and d (n_steps and the dim)
    refused(with_tables([GOOD_CHECK, {**GOOD_CHECK, "where": {"bogus": 1}}]),
            "[[check]] #2 where: key 'bogus' is not a grid path or variable; known: T, alpha, d, n_steps, noise.alpha")


def test_user_module_is_loaded_only_with_allow_code_and_keys_the_cells(tmp_path, spec_toml):
    mod = tmp_path / "mine.py"
    mod.write_text("X = 1\n")
    s = copy.deepcopy(TABLES_BASE)
    s["sweep"]["module"] = "mine.py"
    (tmp_path / "s.toml").write_text(spec_toml(s))
    with pytest.raises(ValueError, match=r"^module = '.*mine\.py' is not allowed without allow_code = true"):
        S.load(tmp_path / "s.toml")
    s["sweep"]["allow_code"] = True
    (tmp_path / "s.toml").write_text(spec_toml(s))
    want = {"path": "mine.py", "sha256": hashlib.sha256(b"X = 1\n").hexdigest()}
    cells = S.load(tmp_path / "s.toml").cells
    assert cells and all(c.config["user_module"] == want for c in cells)


# ------------------------------------------------------------------ [sweep], [grid], [vars]: every refusal exact

def _sweep_with(**sweep):
    return spec(sweep=sweep)


def _grid(grid):
    return spec(grid=grid)


RANGE_1_1E9 = "must be an integer in [1, 1000000000]"
RECORD_RULE = "must be a number of grid points or a non-empty list of integer steps"


@pytest.mark.parametrize("bad, message", [
    (5, "spec = 5 is not allowed: must be a table"),
    ({k: v for k, v in BASE.items() if k != "noise"}, "spec: missing table [noise]"),
    (_sweep_with(colour=1), "[sweep]: unknown key 'colour': valid keys are name, description, n_steps"),
    (_sweep_with(streams="shared"), "[sweep] streams = 'shared' is not allowed: must be one of 'independent', 'common'"),
    (_sweep_with(name="a/b"), "[sweep] name = 'a/b' is not allowed: must be a file name"),
    (_sweep_with(description=5), "[sweep] description = 5 is not allowed"),
    (_sweep_with(record=[]), f"[sweep] record = [] is not allowed: {RECORD_RULE}"),
    (_sweep_with(record=[1, True]), f"[sweep] record = [1, True] is not allowed: {RECORD_RULE}"),
    (_sweep_with(record=True), f"[sweep] record = True is not allowed: {RECORD_RULE}"),
    (_sweep_with(n_steps=0), f"n_steps = 0 is not allowed: {RANGE_1_1E9}"),
    (_sweep_with(n_steps=10**9 + 1), f"n_steps = 1000000001 is not allowed: {RANGE_1_1E9}"),
    (_sweep_with(seeds=0), f"seeds = 0 is not allowed: {RANGE_1_1E9}"),
    (_sweep_with(seeds=10**9 + 1), f"seeds = 1000000001 is not allowed: {RANGE_1_1E9}"),
    (_sweep_with(seed=-1), "seed = -1 is not allowed: must be an integer in [0, 9223372036854775807]"),
    (_sweep_with(seed=2**63), "seed = 9223372036854775808 is not allowed: must be an integer in [0, 9223372036854775807]"),
    (_sweep_with(x0=1.0), "[sweep] x0 = 1.0 is not allowed: must be a non-empty list of numbers"),
    (_grid([1]), "[grid] = [1] is not allowed: must be a table of dotted paths"),
    (_grid({"x": [1]}), "[grid] key 'x' is not allowed: must be n_steps, seeds, seed or a path under objective., "
                        "noise. or optimizer."),
    (_grid({"objective": [1.5, 2.0]}), "[grid] objective is not allowed to hold 1.5: must be a list of whole [objective] tables"),
    (_grid({"noise": [1.5, 2.0]}), "[grid] noise is not allowed to hold 1.5: must be a list of whole [noise] tables"),
    (_grid({"optimizer": [1.5, 2.0]}), "[grid] optimizer is not allowed to hold 1.5: must be a list of whole [optimizer] tables"),
    (_grid({"noise.alpha": [1.5] * 400, "optimizer.eta": [0.1] * 400}),
     "[grid] expands to 160,000 cells (400 x 400): at most 100,000 are allowed; split the sweep into several specs "
     "or grid fewer values"),
    (_grid({"optimizer.clip": [{"kind": "constant", "c": 1.0}]}),
     "[grid] optimizer.clip: tables may replace only a whole [objective], [noise] or [optimizer]"),
    (_grid({"n_steps": [{"a": 1}]}), "[grid] n_steps: tables may replace only a whole [objective], [noise] or [optimizer]"),
    (_grid({"noise.alpha.x": [1]}), "grid path 'noise.alpha.x': 'alpha' is not a table"),
    (spec(vars=5), "[vars] = 5 is not allowed: must be a table (dict)"),
    (spec(vars={"é": 1.0}), "[vars] 'é' is not allowed: must be a plain identifier (letters, digits, _)"),
    (spec(falsify={"colour": 1}), "[falsify]: unknown key 'colour'"),
])
def test_spec_refusals_name_the_field_and_value(bad, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        S.from_spec(bad)


def test_missing_n_steps_is_named():
    s = spec()
    del s["sweep"]["n_steps"]
    with pytest.raises(ValueError, match=r"^\[sweep\] n_steps is missing: give it in \[sweep\] or in \[grid\]$"):
        S.from_spec(s)


def test_sweep_values_at_their_inclusive_edges_and_defaults():
    c = S.from_spec(_sweep_with(n_steps=1, seeds=1, seed=2**63 - 1, record=3, x0=[1.0, 2.0, 3.0],
                                description="")).cells[0].config
    assert (c["n_steps"], c["n_seeds"], c["root_seed"], c["record"], c["x0"]) == (1, 1, 2**63 - 1, 3, [1.0, 2.0, 3.0])
    assert c["streams"] == "independent"
    s = spec()
    del s["sweep"]["seeds"], s["sweep"]["seed"]
    sw = S.from_spec(s)
    assert sw.description == "" and (sw.cells[0].config["n_seeds"], sw.cells[0].config["root_seed"]) == (100, 0)
    assert S.from_spec(_sweep_with(description="about")).description == "about"
    assert S.from_spec(_sweep_with(record=[10, 20])).cells[0].config["record"] == [10, 20]


def test_nested_grid_paths_and_table_axes():
    s = spec(grid={"optimizer": [{"name": "clipped_sgd", "eta": 0.05, "clip": {"kind": "constant", "c": 1.0}},
                                 {"name": "clipped_sgd", "eta": 0.1, "clip": {"kind": "constant", "c": 1.0},
                                  "label": "fast"}],
                   "optimizer.clip.c": [0.5, 2.0], "n_steps": [10, 20]})
    before = copy.deepcopy(s)
    sw = S.from_spec(s)
    assert s == before  # the spec is not changed by expansion (each cell works on a deep copy)
    got = [(c.coords, c.config["optimizer"]["clip"]["c"], c.config["n_steps"]) for c in sw.cells]
    assert got == [((("optimizer", o), ("optimizer.clip.c", v), ("n_steps", n)), v, n)
                   for o in ("clipped_sgd", "fast") for v in (0.5, 2.0) for n in (10, 20)]
    # a table with neither label nor name is shown by its grid path
    noise = S.from_spec(spec(grid={"noise": [{"family": "stable", "alpha": 1.5}]})).cells[0]
    assert noise.coords == (("noise", "noise"),)


def test_d_is_the_objectives_dimension_in_expressions():
    s = spec(objective={"name": "quadratic", "dim": 4})
    s["optimizer"]["eta"] = {"expr": "0.1 / d"}
    assert S.from_spec(s).cells[0].config["optimizer"]["eta"] == {"kind": "constant", "c": 0.025}


def test_user_module_of_a_spec_without_a_file(tmp_path):
    mod = tmp_path / "pieces.py"
    mod.write_text("Y = 2\n")
    sw = S.from_spec(_sweep_with(module=str(mod), allow_code=True))
    assert sw.cells[0].config["user_module"]["sha256"] == hashlib.sha256(b"Y = 2\n").hexdigest()


def test_expansion_never_writes_into_the_spec_and_n_is_a_finite_sums_sample_count():
    s = spec(grid={"optimizer.clip.c": [0.5, 2.0]})
    s["optimizer"]["clip"] = {"kind": "constant", "c": 1.0}
    before = copy.deepcopy(s)
    sw = S.from_spec(s)
    assert s == before and [c.config["optimizer"]["clip"]["c"] for c in sw.cells] == [0.5, 2.0]
    cell = S.from_spec(spec(objective={"name": "robust_regression", "dim": 3, "n": 40})).cells[0]
    assert cell.variables["n"] == 40   # for [[check]] values and figures (set after the cell is built)
    assert "n" not in S.from_spec(spec()).cells[0].variables  # a population objective has no n


def test_name_from_a_path_without_a_directory_and_with_capitals():
    s = spec()
    del s["sweep"]["name"]
    assert S.from_spec(s, path="My Sweep.toml").name == "My_Sweep"


def test_a_string_field_that_may_be_empty_does_not_ask_for_a_non_empty_one():
    spec = {"sweep": {"name": "s", "n_steps": 5, "seeds": 2, "description": 3},
            "objective": {"name": "quadratic", "dim": 2}, "noise": {"family": "gaussian"},
            "optimizer": {"name": "sgd", "eta": 0.1}}
    with pytest.raises(ValueError) as e:
        S.from_spec(spec)
    assert str(e.value) == "[sweep] description = 3 is not allowed: must be a string"
    spec["sweep"]["description"] = ""
    assert S.from_spec(spec).cells  # empty is allowed
