"""Sweep expansion, expressions and cell keys, tested directly (issue 14): no simulation is run.

Each expectation is written out by hand from the spec (the grid value that must win, the Cartesian
order, the value of an expression), so a grid value that no longer overrides the base spec, a swapped
product order, a wrong operator precedence or a seed count that leaks into the stream seed fails here."""
import copy
import hashlib
import json

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
