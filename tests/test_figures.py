"""Figures a reviewer would accept: each kind returns a Figure with the expected series, labelled axes in
words, titles without blank lines, at least two labelled ticks on every log axis, a legend that covers
no data point, the same colour for a series in every figure, and a caption beside the saved files."""
import copy
import os

import matplotlib
import numpy as np
import pytest

from clipsim import sweep as S
from clipsim.decisions import load_results
from clipsim.figures import METRIC_WORDS, caption, draw_figure, plot_figure
from clipsim.runner import run_sweep
from clipsim.store import Store

SPEC = {
    "sweep": {"name": "t_figs", "seeds": 200, "seed": 5, "record": 6},
    "objective": {"name": "quadratic", "dim": 2},
    "noise": {"family": "stable", "alpha": 1.5},
    "optimizer": {"name": "clipped_sgd",
                  "eta": {"kind": "horizon", "c": 0.5, "a": {"expr": "-alpha/(3*alpha - 2)"}},
                  "clip": {"kind": "horizon", "c": 1.0, "a": {"expr": "1/(3*alpha - 2)"}}},
    "grid": {"noise.alpha": [1.5, 1.9], "n_steps": [50, 100]},
}
LI_LIU = {"bound": "li_liu_2023_clipped_sgd", "values": {"alpha": {"expr": "alpha - 0.05"}, "C_opt": 1.0}}


def _run_items(spec, tmp):
    """[(cell, result)] of a whole sweep run into a fresh store."""
    sw = S.from_spec(copy.deepcopy(spec))
    store = Store(tmp / "store")
    run_sweep(sw, store, progress=False, say=lambda _: None)
    return load_results(sw, store)


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    return _run_items(SPEC, tmp_path_factory.mktemp("figs"))


def _legend_labels(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def _data_points(ax):
    """Display coordinates of every plotted data point (lines, error-bar caps, markers)."""
    pts = [ln.get_xydata() for ln in ax.lines if len(ln.get_xydata())]
    xy = np.concatenate(pts) if pts else np.empty((0, 2))
    xy = xy[np.isfinite(xy).all(axis=1)]
    return ax.transData.transform(xy)


def _assert_reviewable(fig):
    fig.canvas.draw()
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel()
    assert not any(code in ax.get_ylabel() for code in METRIC_WORDS), ax.get_ylabel()  # words, not code names
    assert all(line.strip() for line in ax.get_title().split("\n")), repr(ax.get_title())
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            lo, hi = sorted(axis.get_view_interval())
            labelled = [t for t in axis.get_major_ticks()
                        if t.label1.get_text() and lo <= t.get_loc() <= hi]
            assert len(labelled) >= 2, (axis.axis_name, [t.label1.get_text() for t in labelled])
    leg = ax.get_legend()
    assert leg is not None
    box = leg.get_window_extent()
    pts = _data_points(ax)
    inside = (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
    assert not inside.any(), f"legend covers {inside.sum()} data points"
    return ax


def test_rate_figure_draws_each_series_and_its_bound(items):
    fig = draw_figure({"kind": "rate", "x": "n_steps", "group": "noise.alpha", **LI_LIU}, items)
    ax = _assert_reviewable(fig)
    labels = _legend_labels(ax)
    assert sorted(l for l in labels if l.startswith("alpha=")) == ["alpha=1.5", "alpha=1.9"]
    assert sum(l.startswith("bound, ") for l in labels) == 1
    assert sum(ln.get_linestyle() == "--" for ln in ax.lines) == 2  # one bound curve per series
    assert "power" not in ax.get_title() and "[D: derived here]" in ax.get_title()  # parameters resolved
    assert ax.get_ylabel() == "median of (1/T)Σ‖∇F(w_t)‖²"


def test_quantile_delta_draws_the_bound_where_it_has_the_values(items):
    spec = {"kind": "quantile_delta", "group": "noise.alpha", "where": {"n_steps": 100},
            "deltas": [0.2, 0.1, 0.05], **LI_LIU}
    ax = _assert_reviewable(draw_figure(spec, items))
    assert sum(ln.get_linestyle() == "--" for ln in ax.lines) == 2
    assert sum(l.startswith("B(δ)") for l in _legend_labels(ax)) == 2
    no_c = {**spec, "values": {"alpha": {"expr": "alpha - 0.05"}}}  # C_opt unknown: no curve, and it says why
    ax = draw_figure(no_c, items).axes[0]
    assert not any(ln.get_linestyle() == "--" for ln in ax.lines) and "no value for C_opt" in ax.get_title()


def test_tail_index_figure_draws_the_alpha_over_two_line_it_promises(items):
    ax = _assert_reviewable(draw_figure({"kind": "tail_index", "x": "noise.alpha", "group": "n_steps",
                                         "metric": "avg_grad_sq"}, items))
    (ref,) = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    np.testing.assert_allclose(ref.get_ydata(), np.array(ref.get_xdata()) / 2)
    assert len([l for l in _legend_labels(ax) if l.startswith("n_steps=")]) == 2


def test_trajectory_and_failure_probability_figures(items):
    ax = _assert_reviewable(draw_figure({"kind": "trajectory", "metric": "gap", "group": "noise.alpha",
                                         "where": {"n_steps": 100}}, items))
    assert len(_legend_labels(ax)) == 2
    ax = _assert_reviewable(draw_figure({"kind": "failure_probability", "deltas": [0.2, 0.1], **LI_LIU}, items))
    assert "P = δ" in _legend_labels(ax) and len(_legend_labels(ax)) == 1 + 4  # four cells and P = δ


def test_a_trajectory_draws_the_record_not_the_metric_of_the_same_name(items):
    """metric = "avg_grad_sq" names both a record (the running average at each record step) and a per-seed
    metric: a trajectory draws the record's median at the record steps."""
    ax = _assert_reviewable(draw_figure({"kind": "trajectory", "metric": "avg_grad_sq", "group": "noise.alpha",
                                         "where": {"n_steps": 100, "noise.alpha": 1.5}}, items))
    (cell, res), = [(c, r) for c, r in items if dict(c.coords) == {"noise.alpha": 1.5, "n_steps": 100}]
    (line,) = [ln for ln in ax.lines if ln.get_label() == "alpha=1.5"]
    np.testing.assert_array_equal(line.get_xdata(), res.record_steps)
    np.testing.assert_array_equal(line.get_ydata(), np.median(res.records["avg_grad_sq"], axis=0))
    with pytest.raises(ValueError, match=r"metric = 'final_gap' is not allowed: must be one of 'grad_sq'"):
        S.from_spec({**copy.deepcopy(SPEC), "figure": [{"kind": "trajectory", "metric": "final_gap"}]})


def test_a_series_keeps_its_colour_across_figures(items):
    rate = draw_figure({"kind": "rate", "x": "n_steps", "group": "noise.alpha", "where": {"noise.alpha": 1.9}},
                       items).axes[0]
    traj = draw_figure({"kind": "trajectory", "metric": "gap", "group": "noise.alpha",
                        "where": {"n_steps": 100}}, items).axes[0]

    def colour(ax, label):
        handles, labels = ax.get_legend_handles_labels()
        h = handles[labels.index(label)]
        h = h.lines[0] if hasattr(h, "lines") else h  # an error-bar container: its data line
        return matplotlib.colors.to_hex(h.get_color())

    # alpha=1.9 is the only series of the rate figure, the second of the trajectory: one colour
    assert colour(rate, "alpha=1.9") == colour(traj, "alpha=1.9")


def test_plot_figure_writes_a_caption_with_seeds_and_interval(items, tmp_path):
    spec = {"kind": "rate", "x": "n_steps", "group": "noise.alpha"}
    paths = plot_figure(spec, items, str(tmp_path), "r")
    assert {os.path.basename(p) for p in paths} == {"r.pdf", "r.png", "r.txt"}
    with open(tmp_path / "r.txt", encoding="utf-8") as f:
        text = f.read()
    assert text == caption(spec, items)
    assert "seeds per cell: 200" in text and "Bars: distribution-free order-statistic 95%" in text
    with_bound = caption({"kind": "failure_probability", "deltas": [0.2], **LI_LIU}, items)
    assert "Bound: li_liu_2023_clipped_sgd [D: derived here]; values: alpha = alpha - 0.05; C_opt = 1.0." in with_bound
    assert "{" not in with_bound and "Bound: bound" not in with_bound


# ---- a series never merges cells that differ in an axis that is not x, not grouped, not fixed ------
STEP = {**copy.deepcopy(SPEC), "sweep": {"name": "t_figs_step", "seeds": 40, "seed": 6, "record": 4},
        "grid": {"noise.alpha": [1.5, 1.9], "n_steps": [50, 100], "optimizer.eta.c": [0.1, 0.5, 1e300]}}
FINITE = {"optimizer.eta.c": [0.1, 0.5]}     # eta.c = 1e300 diverges at once: every seed of its cells


@pytest.fixture(scope="module")
def step_items(tmp_path_factory):
    return _run_items(STEP, tmp_path_factory.mktemp("figs_step"))


def _series_lines(ax):
    return {l: h.lines[0] for h, l in zip(*ax.get_legend_handles_labels()) if hasattr(h, "lines")}


def test_a_rate_splits_series_by_an_ungrouped_axis_instead_of_zigzagging(step_items):
    spec = {"kind": "rate", "x": "n_steps", "group": "noise.alpha", "where": FINITE}
    lines = _series_lines(_assert_reviewable(draw_figure(spec, step_items)))
    assert sorted(lines) == [f"alpha={a}, optimizer.eta.c={c}" for a in (1.5, 1.9) for c in (0.1, 0.5)]
    for line in lines.values():   # one point per horizon, in order: one configuration per line
        assert list(line.get_xdata()) == [50, 100]
    assert ("one series per noise.alpha and optimizer.eta.c (split by optimizer.eta.c too: it varies at a fixed "
            "x and is neither in group nor fixed by where)." in caption(spec, step_items))
    fixed = {**spec, "where": {"optimizer.eta.c": 0.1}}   # fixed by where: no split, labels as before
    assert sorted(_series_lines(draw_figure(fixed, step_items).axes[0])) == ["alpha=1.5", "alpha=1.9"]
    assert "one series per noise.alpha." in caption(fixed, step_items)


def test_a_trajectory_and_a_tail_index_draw_every_configuration(step_items):
    traj = draw_figure({"kind": "trajectory", "metric": "gap", "group": "noise.alpha",
                        "where": {"n_steps": 100, **FINITE}}, step_items).axes[0]
    assert len([l for l in _legend_labels(traj) if "optimizer.eta.c=" in l]) == 4
    tail = draw_figure({"kind": "tail_index", "x": "noise.alpha", "group": "n_steps",
                        "where": {"n_steps": 100, **FINITE}}, step_items).axes[0]
    assert sorted(l for l in _legend_labels(tail) if l.startswith("n_steps")) == [
        "n_steps=100, optimizer.eta.c=0.1", "n_steps=100, optimizer.eta.c=0.5"]


def test_cells_whose_seeds_all_diverged_are_named_in_the_caption_not_dropped_silently(step_items):
    spec = {"kind": "rate", "x": "n_steps", "group": "noise.alpha", "where": {"optimizer.eta.c": [0.5, 1e300]},
            **LI_LIU}
    gone = [c for c, r in step_items if dict(c.coords)["optimizer.eta.c"] == 1e300]
    assert len(gone) == 4 and all(r.metrics["diverged"].all() for c, r in step_items if c in gone)
    ax = _assert_reviewable(draw_figure(spec, step_items))   # filterwarnings = error: no RuntimeWarning
    assert sorted(_series_lines(ax)) == ["alpha=1.5, optimizer.eta.c=0.5", "alpha=1.9, optimizer.eta.c=0.5"]
    assert "4 of 8 cells not drawn: median infinite (seeds diverged)" in ax.get_title()
    text = caption(spec, step_items)
    assert "Cells: 8; seeds per cell: 40.\nNot drawn: 4 of 8 cells (median infinite, seeds diverged): " in text
    assert all(f"{c.label()} (40/40 seeds diverged)" in text for c in gone)
    tail = {"kind": "tail_index", "x": "noise.alpha", "group": "optimizer.eta.c", "where": {"n_steps": 100}}
    draw_figure(tail, step_items)
    assert "Not drawn: 2 of 6 cells (fewer than 3 finite values, seeds diverged)" in caption(tail, step_items)


def test_a_trajectory_and_a_quantile_plot_name_their_all_diverged_cells_without_warnings(step_items):
    where = {"n_steps": 100, "optimizer.eta.c": [0.5, 1e300]}
    traj = {"kind": "trajectory", "metric": "gap", "group": "noise.alpha", "where": where}
    draw_figure(traj, step_items)     # the 10-90% band over infinite records: no nan, no RuntimeWarning
    assert "Not drawn: 2 of 4 cells (median infinite at every step, seeds diverged)" in caption(traj, step_items)
    assert "(split by optimizer.eta.c too: it varies and is neither" in caption(traj, step_items)
    qd = {"kind": "quantile_delta", "group": "noise.alpha", "where": where, "deltas": [0.2, 0.1]}
    draw_figure(qd, step_items)
    assert "Not drawn: 2 of 4 cells (every quantile infinite, seeds diverged)" in caption(qd, step_items)
