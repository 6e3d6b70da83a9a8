"""Every bootstrap in clipsim.stats refuses a replicate count above N_BOOT_MAX with one line (no hang)."""
import numpy as np
import pytest

from clipsim import stats as S

X = np.linspace(1.0, 2.0, 50)
CALLS = {
    "loglog_slope": lambda nb: S.loglog_slope([10, 100], [X, 2 * X], n_boot=nb),
    "mean_bounds": lambda nb: S.mean_bounds(X, n_boot=nb),
    "delta_growth": lambda nb: S.delta_growth([0.5, 0.2, 0.1], X, n_boot=nb),
    "gpd_tail_quantile": lambda nb: S.gpd_tail_quantile(np.linspace(1.0, 2.0, 2000), 1e-4, method="bootstrap",
                                                        n_boot=nb),
    "shape_trend": lambda nb: S.shape_trend([("a", 0, X, 1.0, 0.1, 10.0, "g"), ("b", 1, X, 1.0, 0.1, 100.0, "g")],
                                            n_boot=nb),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_n_boot_above_the_limit_is_refused_in_one_line(name):
    with pytest.raises(ValueError, match=rf"^n_boot = {S.N_BOOT_MAX + 1} is not allowed"):
        CALLS[name](S.N_BOOT_MAX + 1)
