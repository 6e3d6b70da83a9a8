"""Engine: reproducibility across threads, seed counts and calls; divergence; records; one signature."""
import numba
import numpy as np
import pytest

from clipsim import engine
from clipsim import noise as N
from clipsim import objectives as O
from clipsim import optimizers as P
from clipsim.engine import simulate

QUAD = O.get("quadratic", 6)
STABLE = N.stable(1.5)


def _same(a, b):
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    for k in a.records:
        np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
    np.testing.assert_array_equal(a.final_iterate, b.final_iterate)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
@pytest.mark.parametrize("opt", [P.clipped_sgd(0.05, 1.0), P.clipped_adagrad(0.5, 1.0, 1.0),
                                 P.ps_clip_sgd(0.05, 1.0, 4)], ids=str)
def test_bitwise_identical_for_one_and_two_threads(opt):
    kw = dict(n_steps=300, n_seeds=64, seed=5, record=10)
    _same(simulate(QUAD, STABLE, opt, threads=1, **kw), simulate(QUAD, STABLE, opt, threads=2, **kw))


def test_seed_m_does_not_depend_on_the_number_of_seeds():
    opt = P.clipped_momentum(0.05, 1.0, 0.9)
    big = simulate(QUAD, STABLE, opt, n_steps=200, n_seeds=64, seed=9, record=5)
    small = simulate(QUAD, STABLE, opt, n_steps=200, n_seeds=8, seed=9, record=5)
    tail = simulate(QUAD, STABLE, opt, n_steps=200, n_seeds=8, seed=9, record=5, first_seed=56)
    for k in big.metrics:
        np.testing.assert_array_equal(big.metrics[k][:8], small.metrics[k])
        np.testing.assert_array_equal(big.metrics[k][56:], tail.metrics[k])
    other = simulate(QUAD, STABLE, opt, n_steps=200, n_seeds=8, seed=10)
    assert not np.array_equal(other.metrics["avg_grad_sq"], small.metrics["avg_grad_sq"])


def test_finite_sum_runs_are_reproducible_and_record_population_quantities():
    obj = O.get("robust_regression", 4, n=64, covariate_df=5.0)
    opt = P.clipped_sgd(0.1, 1.0)
    a = simulate(obj, None, opt, n_steps=100, n_seeds=16, seed=2, record=6)
    b = simulate(obj, None, opt, n_steps=100, n_seeds=16, seed=2, record=6, threads=1)
    _same(a, b)
    for k in ("avg_pop_grad_sq", "final_pop_grad_sq", "final_pop_gap", "final_gen_gap", "final_grad_dev"):
        assert np.all(np.isfinite(a.metrics[k])), k
    assert np.all(a.metrics["final_pop_gap"] >= 0)
    assert set(a.records) == set(engine.RECORDS)
    # the recorded final gen gap is F(w) - F_S(w) at the final iterate
    w = a.final_iterate[0]
    assert a.metrics["final_gen_gap"][0] == pytest.approx(obj.population_value(w) - obj.value(w), rel=1e-12)


def test_metrics_agree_with_a_full_record():
    T = 120
    res = simulate(O.get("sin_quadratic", 3), N.student_t(2.5), P.clipped_sgd(0.05, 2.0), n_steps=T,
                   n_seeds=5, record=list(range(1, T + 2)))
    gsq = res.records["grad_sq"]
    np.testing.assert_allclose(res.metrics["avg_grad_sq"], gsq[:, :T].mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(res.metrics["min_grad_sq"], gsq[:, :T].min(axis=1))
    np.testing.assert_array_equal(res.metrics["final_grad_sq"], gsq[:, T])
    np.testing.assert_allclose(res.records["avg_grad_sq"][:, T - 1], res.metrics["avg_grad_sq"], rtol=1e-12)
    assert np.all((res.metrics["clip_fraction"] >= 0) & (res.metrics["clip_fraction"] <= 1))


def test_divergence_is_flagged_and_the_run_goes_on():
    """Unclipped SGD with η = 2.5 on ½‖x‖² is unstable (|1 - η| > 1): every seed overflows, at a step
    that depends on its noise; the run returns flags and +inf, and the clipped run on the same noise
    stays finite."""
    T = 2000
    res = simulate(O.get("quadratic", 2), N.stable(1.1, scale=50.0), P.sgd(2.5), n_steps=T, n_seeds=50,
                   record=list(range(1, T + 2)))
    div, step = res.metrics["diverged"], res.metrics["diverged_step"]
    assert div.dtype == bool and div.all()
    assert np.all((step > 1) & (step <= T + 1)) and np.unique(step).size > 1
    assert np.all(np.isinf(res.metrics["avg_grad_sq"]))
    gsq = res.records["grad_sq"]
    for m in range(50):
        assert np.all(np.isfinite(gsq[m, : step[m] - 1])) and np.all(np.isinf(gsq[m, step[m] - 1:]))
    clipped = simulate(O.get("quadratic", 2), N.stable(1.1, scale=50.0), P.clipped_sgd(0.5, 1.0),
                       n_steps=T, n_seeds=50)
    assert not clipped.metrics["diverged"].any()
    assert np.all(np.isfinite(clipped.metrics["avg_grad_sq"]))


def test_one_compiled_signature_whatever_the_input_types():
    for T, seeds, seed in ((10, 2, 0), (np.int32(12), np.int64(3), np.uint64(4)), (11.0, 2, 7)):
        simulate(QUAD, STABLE, P.clipped_sgd(0.1, 1.0), n_steps=T, n_seeds=seeds, seed=seed, record=3)
    simulate(QUAD, N.stable(1.5, vector="radial"), P.clipped_sgd(np.float32(0.1), 1),
             n_steps=np.int16(5), n_seeds=2)
    simulate(QUAD, None, P.sgd(np.float32(0.1)), n_steps=5, n_seeds=1, x0=[1, 2, 3, 4, 5, 6])
    simulate(QUAD, None, P.sgd(0.1), n_steps=7, n_seeds=2, seed=np.uint32(3))
    # other objectives and chains reach the same compiled kernel: they arrive as first-class functions
    for obj in (O.get("sin_quadratic", 3), O.get("overparam_least_squares", 8, n=2)):
        for opt in (P.clipped_momentum(0.1, 1.0, beta=0.9), P.clipped_adagrad(0.1, 1.0), P.sign_sgd(0.01)):
            simulate(obj, STABLE, opt, n_steps=4, n_seeds=2)
    assert len(engine._advance.signatures) == 1, engine._advance.signatures  # one kernel for all of them
    assert len(engine._init_paths.signatures) == 1


def test_result_records_provenance():
    res = simulate(QUAD, STABLE, P.clipped_sgd(0.1, 1.0), n_steps=10, n_seeds=3, seed=42, threads=1)
    assert res.config["seed"] == 42 and res.config["n_seeds"] == 3 and res.config["n_steps"] == 10
    assert res.config["noise"]["family"] == "stable" and res.config["optimizer"]["name"] == "clipped_sgd"
    assert res.meta["threads"] == 1 and {"clipsim", "numpy", "numba", "python"} <= set(res.meta["versions"])
    vals = res.theory_values(alpha=1.2)
    assert vals["T"] == 10 and vals["d"] == 6 and vals["lam"] == 1.0 and vals["Delta"] == 3.0
    assert vals["tail_index"] == 1.5 and vals["alpha"] == 1.2


def test_record_grid():
    g = engine.record_grid(1000, 10)
    assert g[0] == 1 and g[-1] == 1001 and np.all(np.diff(g) > 0)
    assert engine.record_grid(5, None).size == 0


@pytest.mark.parametrize("kw,match", [
    (dict(n_steps=0), "n_steps = 0"),
    (dict(n_seeds=0), "n_seeds = 0"),
    (dict(n_steps=2.5), "n_steps = 2.5"),
    (dict(seed=-1), "seed = -1"),
    (dict(x0=[1.0, 2.0]), "x0 has shape"),
    (dict(x0=[np.nan] * 6), "x0 has shape"),
    (dict(record=[0, 5]), "record steps"),
    (dict(record="log"), "record = 'log'"),
    (dict(threads=0), "threads = 0"),
])
def test_bad_input_is_one_clear_line(kw, match):
    args = dict(n_steps=10, n_seeds=2)
    args.update(kw)
    with pytest.raises(ValueError, match=match) as e:
        simulate(QUAD, STABLE, P.clipped_sgd(0.1, 1.0), **args)
    assert "\n" not in str(e.value)


def test_wrong_spec_types_are_rejected():
    with pytest.raises(ValueError, match="objective = 'quadratic'"):
        simulate("quadratic", STABLE, P.sgd(0.1), n_steps=3, n_seeds=1)
    with pytest.raises(ValueError, match="noise = 1.5"):
        simulate(QUAD, 1.5, P.sgd(0.1), n_steps=3, n_seeds=1)
    with pytest.raises(ValueError, match="optimizer"):
        simulate(QUAD, STABLE, "sgd", n_steps=3, n_seeds=1)


def test_result_frame_repr_and_html():
    pd = pytest.importorskip("pandas")
    res = simulate(QUAD, STABLE, P.clipped_sgd(0.05, 1.0), n_steps=30, n_seeds=5, seed=2, record=3, first_seed=7)
    df = res.to_frame()
    assert isinstance(df, pd.DataFrame) and len(df) == 5
    assert list(df["seed"]) == [7, 8, 9, 10, 11]
    np.testing.assert_array_equal(df["avg_grad_sq"].to_numpy(), res.metrics["avg_grad_sq"])
    assert df["diverged"].dtype == bool
    wide = res.to_frame(records=True)
    t = int(res.record_steps[-1])
    np.testing.assert_array_equal(wide[f"grad_sq@{t}"].to_numpy(), res.records["grad_sq"][:, -1])
    text = repr(res)
    assert text.startswith("SimResult(clipped_sgd") and "[" not in text.split("noise")[0] and len(text) < 300
    html = res._repr_html_()
    assert html.count("<tr>") == len(res.metrics) + 1 and "avg_grad_sq" in html
