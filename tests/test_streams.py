"""Per-cell random streams (``[sweep] streams``): independent by default, common on request."""
import numpy as np
import pytest
from scipy import stats as sst

from clipsim import sweep as S
from clipsim.runner import run_config


def _spec(streams=None, grid=None):
    sw = {"name": "t_streams", "n_steps": 200, "seeds": 2000, "seed": 7}
    if streams is not None:
        sw["streams"] = streams
    return {"sweep": sw, "objective": {"name": "quadratic", "dim": 4},
            "noise": {"family": "stable", "alpha": 1.5},
            "optimizer": {"name": "clipped_sgd", "eta": 0.05, "clip": 1.0},
            "grid": grid or {"optimizer.eta": [0.05, 0.06]}}


def _rho(sweep):
    a, b = (run_config(c.config).metrics["avg_grad_sq"] for c in sweep.cells)
    return sst.spearmanr(a, b).statistic


# Under independence Spearman's rho over n = 2000 pairs has standard deviation 1/sqrt(n-1) = 0.022:
# |rho| < 0.1 is a 4.5-sigma band. With common streams the two cells (one step size or one alpha
# apart) see the same draws, and rho is near 1, which shows the test can fail.
@pytest.mark.parametrize("grid", [{"optimizer.eta": [0.05, 0.06]}, {"noise.alpha": [1.5, 1.75]}])
def test_independent_cells_are_uncorrelated_and_common_cells_are_not(grid):
    assert abs(_rho(S.from_spec(_spec(grid=grid)))) < 0.1
    assert _rho(S.from_spec(_spec("common", grid))) > 0.8


def test_cell_seed_ignores_the_seed_count_and_is_recorded():
    small = S.from_spec({**_spec(), "sweep": {**_spec()["sweep"], "seeds": 10, "record": 4}})
    big = S.from_spec(_spec())
    for a, b in zip(small.cells, big.cells):
        assert a.config["seed"] == b.config["seed"] != 7
        assert a.config["streams"] == "independent" and a.config["root_seed"] == 7
        assert a.key != b.key  # the store key still tells the cells apart
    x = run_config(small.cells[0].config).metrics["avg_grad_sq"]
    y = run_config({**big.cells[0].config, "n_seeds": 10}).metrics["avg_grad_sq"]
    np.testing.assert_array_equal(x, y)
    assert len({c.config["seed"] for c in big.cells}) == 2
    common = S.from_spec(_spec("common"))
    assert {c.config["seed"] for c in common.cells} == {7}
    assert common.cells[0].config["streams"] == "common"


def test_streams_must_be_a_known_choice():
    with pytest.raises(ValueError, match=r"\[sweep\] streams = 'paired' is not allowed: must be one of"):
        S.from_spec(_spec("paired"))


def test_calibration_refuses_cells_that_share_streams():
    from clipsim.decisions import refuse_shared_streams

    common = S.from_spec(_spec("common"))
    with pytest.raises(ValueError, match="share streams.*streams = \"independent\""):
        refuse_shared_streams([(c, None) for c in common.cells], "calibrate")
    refuse_shared_streams([(c, None) for c in S.from_spec(_spec()).cells], "calibrate")
