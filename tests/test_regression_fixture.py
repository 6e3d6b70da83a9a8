"""Every preset, objective and noise reproduces the pre-rebuild engine bit for bit."""
import numpy as np
import pytest

from regression_cases import cases, flatten, load, run

CASES = cases()


@pytest.fixture(scope="module")
def fixture():
    return load()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bitwise_equal_to_the_recorded_engine(case, fixture):
    got, expected = flatten(run(case)), fixture[case[0]]
    assert set(got) == set(expected)
    for k, v in got.items():
        assert v.dtype == expected[k].dtype, k
        assert v.shape == expected[k].shape, k
        assert np.array_equal(v, expected[k], equal_nan=True), k


def test_fixture_covers_every_case(fixture):
    assert set(fixture) == {c[0] for c in CASES}
