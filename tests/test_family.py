"""Family-wise verdicts: Holm over exact binomial p-values, intersection-union for "holds"."""
import numpy as np
import pytest

from clipsim import stats as S


def test_holm_steps_down():
    # sorted p: .001 <= .05/4, .012 <= .05/3, .03 > .05/2 -> stop: two rejections
    rej = S.holm([0.03, 0.001, 0.04, 0.012], 0.05)
    assert rej.tolist() == [False, True, False, True]
    assert S.holm([0.01, 0.02], 0.05).tolist() == [True, True]
    assert not S.holm([0.03, 0.04, 0.05], 0.05).any()


def test_violation_pvalue_matches_the_clopper_pearson_rule():
    n, d, a = 500, 0.05, 0.05
    for k in range(0, 60):
        lo, hi = S.clopper_pearson(k, n, 1 - a)
        assert (lo > d) == (S.violation_pvalue(k, n, d) < a / 2)
        assert (hi < d) == (S.violation_pvalue(k, n, d, lower=True) < a / 2)


def _false_violation_rate(m, n, delta, repeats, corrected, seed):
    """Families of m cells whose true failure probability is exactly delta (bound holds with equality)."""
    rng = np.random.default_rng(seed)
    from scipy.stats import binom

    ks = rng.binomial(n, delta, size=(repeats, m))
    p = binom.sf(ks - 1, n, delta)
    level = 0.025
    if corrected:
        hits = [S.holm(row, level).any() for row in p]
    else:
        hits = (p < level).any(axis=1)
    return int(np.sum(hits))


@pytest.mark.parametrize("repeats", [2000])
def test_family_false_violation_rate_is_controlled(repeats):
    m, n, delta = 24, 1000, 0.05
    k = _false_violation_rate(m, n, delta, repeats, True, 0)
    lo, hi = S.clopper_pearson(k, repeats, 0.99)
    assert lo <= 0.025, (k, lo)  # family-wise level (1 - 0.95)/2 within the 99% CI
    # the uncorrected rule, which `check` used before, fails the same test
    k_raw = _false_violation_rate(m, n, delta, repeats, False, 0)
    assert S.clopper_pearson(k_raw, repeats, 0.99)[0] > 0.025, k_raw


@pytest.mark.slow
def test_family_false_violation_rate_is_controlled_many_repeats():
    repeats = 40000
    k = _false_violation_rate(48, 2000, 0.01, repeats, True, 1)
    assert S.clopper_pearson(k, repeats, 0.99)[0] <= 0.025, k


def test_family_verdict_rules():
    fv = S.family_verdict([("a", "holds", 0.9), ("b", "holds", 0.8)])
    assert fv.verdict == "holds" and fv.n_holds == 2
    fv = S.family_verdict([("a", "holds", 0.9), ("b", "inconclusive", 0.1)])
    assert fv.verdict == "inconclusive" and fv.n_inconclusive == 1
    fv = S.family_verdict([("a", "violated", 1e-6), ("b", "inconclusive", None), ("c", "violated", 0.02)])
    assert fv.verdict == "violated" and fv.violated == ("a",)
    assert "Holm" in fv.method and "family violated" in str(fv)
    with pytest.raises(ValueError, match="members must not be empty"):
        S.family_verdict([])


def test_exit_code_follows_the_family_and_rates():
    from types import SimpleNamespace as NS

    from clipsim.decisions import exit_code

    fam = {v: S.family_verdict([("a", v, 1e-9 if v == "violated" else 0.5)]) for v in ("holds", "violated",
                                                                                       "inconclusive")}
    rate_ok, rate_bad = NS(within=True), NS(within=False)
    assert exit_code([{"family": fam["holds"], "rates": [rate_ok]}]) == 0
    assert exit_code([{"family": fam["holds"], "rates": [rate_bad]}]) == 1
    assert exit_code([{"family": fam["inconclusive"]}, {"family": fam["holds"]}]) == 3
    assert exit_code([{"family": fam["inconclusive"]}, {"family": fam["violated"]}]) == 1
    assert exit_code([{"family": None, "shape": [NS(verdict="rejected")]}]) == 1
