"""clipsim.noise: spec, validation, packing, determinism, compile count, closed-form moments.

Distributional parity with scipy (KS) lives in test_noise_ks.py. Statistical checks use fixed seeds,
a 99% CI computed from the sample, and "redraw once before failing" (second fixed seed).
"""
import math
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from clipsim import noise as N
from clipsim._rng import seed_state
from clipsim.noise import Noise, estimate_norm_moment, noise_fill, noise_work_size

Z99 = stats.norm.ppf(0.995)


def _quad(f, a, b):
    return integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-12, limit=500)[0]


def _in_ci(draw, target, z=Z99, seeds=(101, 202)):
    """target inside mean +- z*se of draw(seed) for the first seed, or else for the second one."""
    msgs = []
    for s in seeds:
        y = draw(s)
        m, se = y.mean(), y.std(ddof=1) / math.sqrt(y.size)
        if abs(m - target) <= z * se:
            return
        msgs.append(f"seed {s}: mean {m:.6g} +- {z * se:.3g} vs {target:.6g}")
    pytest.fail("; ".join(msgs))


ALL = [
    Noise.none(),
    Noise.gaussian(1.7),
    Noise.stable(1.5),
    Noise.stable(1.0, 0.7, scale=2.0),
    Noise.stable(0.5, -1.0),
    Noise.stable(2.0),
    Noise.pareto(2.5, scale=0.5),
    Noise.student_t(3.0),
    Noise.student_t(2.5, vector="radial"),
    Noise.stable(1.2, 0.3, vector="radial"),
]


# ------------------------------------------------------------------------------- spec and API
def test_codes_and_pack():
    assert (N.NONE, N.GAUSSIAN, N.STABLE, N.PARETO, N.STUDENT_T) == (0, 1, 2, 3, 4)
    assert (N.IID, N.RADIAL) == (0, 1)
    code, vec, params = Noise.stable(1.5, -0.25, scale=3.0, vector="radial").pack()
    assert type(code) is int and type(vec) is int and (code, vec) == (N.STABLE, N.RADIAL)
    assert params.dtype == np.float64 and params.shape == (4,) and params.flags.c_contiguous
    assert params.tolist() == [3.0, 1.5, -0.25, 0.0]
    assert Noise.pareto(2).pack()[2].tolist() == [1.0, 2.0, 0.0, 0.0]
    assert Noise.student_t(4, 2).pack()[:2] == (N.STUDENT_T, N.IID)
    assert Noise.gaussian(2).pack()[2].tolist() == [2.0, 0.0, 0.0, 0.0]
    assert Noise.none().pack()[0] == N.NONE and not Noise.none().pack()[2].any()


def test_tail_index_mean_and_text():
    assert Noise.stable(1.5).tail_index == 1.5 and Noise.stable(2.0).tail_index == math.inf
    assert Noise.gaussian().tail_index == math.inf and Noise.none().tail_index == math.inf
    assert Noise.pareto(1.5).tail_index == 1.5 and Noise.student_t(3).tail_index == 3.0
    assert Noise.stable(1.5, 0.7).mean == 0.0  # S1: location = mean for alpha > 1
    assert math.isnan(Noise.stable(1.0).mean) and math.isnan(Noise.stable(0.7, 0.5).mean)
    assert Noise.stable(0.7, 1.0).mean == math.inf and Noise.stable(1.0, -1.0).mean == -math.inf
    assert math.isnan(Noise.pareto(1.0).mean) and Noise.pareto(1.01).mean == 0.0
    assert math.isnan(Noise.student_t(1).mean) and Noise.gaussian().mean == 0.0
    assert Noise.stable(1.5).alpha == 1.5 and Noise.student_t(3).df == 3.0
    with pytest.raises(ValueError, match="alpha"):
        Noise.pareto(2).alpha
    assert str(Noise.stable(1.5)) == "stable(alpha=1.5, beta=0, scale=1, vector='iid')"
    assert str(Noise.none()) == "none()"
    assert "tail index 2.5" in Noise.pareto(2.5).describe() and "radial" in ALL[-1].describe()
    for nz in ALL:
        assert nz.describe() and str(nz)


def test_dict_round_trip_examples():
    d = Noise.stable(1.5).to_dict()
    assert d == {"family": "stable", "alpha": 1.5, "beta": 0.0, "scale": 1.0, "vector": "iid"}
    assert Noise.pareto(2.5, vector="radial").to_dict() == {
        "family": "pareto", "tail_index": 2.5, "scale": 1.0, "vector": "radial"}
    assert Noise.student_t(3).to_dict()["df"] == 3.0
    assert Noise.none().to_dict() == {"family": "none"}
    for nz in ALL:
        assert Noise.from_dict(nz.to_dict()) == nz
    assert Noise.from_dict({"family": "stable", "alpha": 1.2}) == Noise.stable(1.2)
    assert hash(Noise.stable(1.2)) == hash(Noise.from_dict({"family": "stable", "alpha": 1.2}))


@settings(max_examples=60, deadline=None)
@given(
    fam=st.sampled_from(["stable", "pareto", "student_t", "gaussian", "none"]),
    shape=st.floats(0.01, 2.0),
    beta=st.floats(-1.0, 1.0),
    scale=st.floats(1e-3, 1e3),
    vec=st.sampled_from(["iid", "radial"]),
)
def test_dict_round_trip_property(fam, shape, beta, scale, vec):
    nz = {"stable": lambda: Noise.stable(shape, beta, scale, vec),
          "pareto": lambda: Noise.pareto(shape, scale, vec),
          "student_t": lambda: Noise.student_t(shape, scale, vec),
          "gaussian": lambda: Noise.gaussian(scale, vec),
          "none": Noise.none}[fam]()
    d = nz.to_dict()
    assert all(isinstance(v, (str, float)) for v in d.values())
    assert Noise.from_dict(d) == nz


@pytest.mark.parametrize("make, pattern", [
    (lambda: Noise.stable(2.5), r"^alpha = 2\.5 is not allowed: must be a real number in \(0\.0, 2\.0\]$"),
    (lambda: Noise.stable(0.0), r"^alpha = 0\.0 is not allowed"),
    (lambda: Noise.stable(1.5, 1.5), r"^beta = 1\.5 is not allowed: must be a real number in \[-1\.0, 1\.0\]$"),
    (lambda: Noise.stable(1.5, scale=0.0), r"^scale = 0\.0 is not allowed: .*\(0\.0, inf\)"),
    (lambda: Noise.gaussian(-1.0), r"^scale = -1\.0 is not allowed"),
    (lambda: Noise.student_t(0.0), r"^df = 0\.0 is not allowed"),
    (lambda: Noise.student_t(-2), r"^df = -2 is not allowed"),
    (lambda: Noise.pareto(0), r"^tail_index = 0 is not allowed"),
    (lambda: Noise.pareto(-1.0), r"^tail_index = -1\.0 is not allowed"),
    (lambda: Noise.pareto(2.0, vector="foo"), r"^vector = 'foo' is not allowed: must be one of 'iid', 'radial'$"),
    (lambda: Noise.stable(float("nan")), r"^alpha = nan is not allowed"),
    (lambda: Noise.stable("1.5"), r"^alpha = '1\.5' is not allowed"),
    (lambda: Noise("levy"), r"^family = 'levy' is not allowed: must be one of"),
    (lambda: Noise.stable(1.5).moment(-1.0), r"^p = -1\.0 is not allowed: must be a real number in \(-1\.0, inf\)$"),
    (lambda: Noise.gaussian().moment(-3), r"^p = -3 is not allowed"),
    (lambda: Noise.gaussian().norm_moment(-1, 3), r"^p = -1 is not allowed"),
    (lambda: Noise.gaussian().norm_moment(1, 0), r"^dim = 0 is not allowed"),
    (lambda: Noise.from_dict({"family": "stable", "alpha": 1.5, "gamma": 2}), r"^noise key = 'gamma' is not allowed"),
    (lambda: Noise.from_dict({"family": "pareto"}), r"^tail_index = None is not allowed"),
    (lambda: Noise.from_dict({"alpha": 1.0}), r"^noise = .* must be a dict with a 'family' key$"),
    (lambda: Noise.gaussian().sample(-1), r"^n = -1 is not allowed"),
    (lambda: Noise.gaussian().sample(3, seed=-1), r"^seed = -1 is not allowed"),
    (lambda: noise_work_size(0), r"^dim = 0 is not allowed"),
    (lambda: Noise("pareto", shape=2.0, beta=0.5), r"^beta = 0\.5 is not allowed"),
])
def test_bad_input_one_line_value_error(make, pattern):
    with pytest.raises(ValueError) as exc:
        make()
    msg = str(exc.value)
    assert "\n" not in msg
    assert re.search(pattern, msg), msg


# -------------------------------------------------------------------------- kernel contract
def _fill(nz, seed, index, d):
    code, vec, params = nz.pack()
    state = np.empty(4, np.uint64)
    seed_state(np.uint64(seed), np.uint64(index), state)
    out = np.empty(d)
    noise_fill(code, vec, params, state, out, np.empty(noise_work_size(d)))
    return out, state


@pytest.mark.parametrize("nz", ALL, ids=str)
def test_determinism_and_addressing(nz):
    a = nz.sample_vectors(6, 7, seed=42)
    b = nz.sample_vectors(6, 7, seed=42)
    assert a.tobytes() == b.tobytes()
    assert nz.sample_vectors(3, 7, seed=42).tobytes() == a[:3].tobytes()  # independent of path count
    for i in (0, 5):  # row i = the engine's first draw of path i
        assert _fill(nz, 42, i, 7)[0].tobytes() == a[i].tobytes()
    if nz.family != "none":
        assert len({row.tobytes() for row in a}) == 6  # different indices, different streams
        assert nz.sample_vectors(1, 7, seed=43)[0].tobytes() != a[0].tobytes()
        assert np.isfinite(a).all()
    assert nz.sample(50, seed=9).tobytes() == nz.sample(50, seed=9).tobytes()


@pytest.mark.parametrize("nz", [Noise.stable(1.3, 0.4), Noise.pareto(2.0), Noise.gaussian(),
                                Noise.stable(1.0, -0.5), Noise.stable(2.0)], ids=str)
def test_prefix_property_across_blocks(nz):
    """Fixed uniforms per coordinate: a d-fill is a prefix of a longer fill of the same stream,
    across block boundaries (d > _BLOCK) and for odd d (Box-Muller pairs)."""
    long = nz.sample(3 * N._BLOCK + 17, seed=5)
    for d in (1, 7, N._BLOCK, N._BLOCK + 3, 2 * N._BLOCK + 1):
        assert _fill(nz, 5, 0, d)[0].tobytes() == long[:d].tobytes()


def test_result_does_not_depend_on_work_length():
    for nz in (Noise.student_t(2.0), Noise.stable(1.5), Noise.gaussian(vector="radial")):
        code, vec, params = nz.pack()
        outs = []
        for extra in (0, 1, 1000):
            state = np.empty(4, np.uint64)
            seed_state(np.uint64(3), np.uint64(1), state)
            out = np.empty(300)
            noise_fill(code, vec, params, state, out, np.empty(noise_work_size(300) + extra))
            outs.append(out.tobytes() + state.tobytes())
        assert len(set(outs)) == 1


def test_short_work_buffer_and_bad_codes_raise():
    code, vec, params = Noise.stable(1.5).pack()
    state = np.ones(4, np.uint64)
    with pytest.raises(ValueError, match="work buffer"):
        noise_fill(code, vec, params, state, np.empty(10), np.empty(5))
    with pytest.raises(ValueError, match="unknown family code"):
        noise_fill(7, 0, params, state, np.empty(3), np.empty(20))
    with pytest.raises(ValueError, match="unknown vector code"):
        noise_fill(code, 2, params, state, np.empty(3), np.empty(20))


def test_none_is_zero_and_consumes_nothing():
    out, state = _fill(Noise.none(), 1, 0, 5)
    ref = np.empty(4, np.uint64)
    seed_state(np.uint64(1), np.uint64(0), ref)
    assert not out.any() and state.tobytes() == ref.tobytes()
    assert noise_work_size(1) >= 2 and noise_work_size(10**6) == noise_work_size(N._BLOCK)


def test_single_compiled_signature_fresh_process():
    code = (
        "import numpy as np\n"
        "from clipsim.noise import Noise, noise_fill, noise_work_size\n"
        "from clipsim._rng import seed_state\n"
        "st = np.empty(4, np.uint64); seed_state(np.uint64(1), np.uint64(0), st)\n"
        "for nz in [Noise.stable(1.5), Noise.pareto(2.0, vector='radial'), Noise.student_t(3)]:\n"
        "    c, v, p = nz.pack()\n"
        "    out = np.empty(8); w = np.empty(noise_work_size(8))\n"
        "    noise_fill(c, v, p, st, out, w)\n"
        "    noise_fill(np.int64(c), np.int64(v), p, st, out, w)\n"
        "    nz.sample(10); nz.sample_vectors(3, 4)\n"
        "print(len(noise_fill.signatures), noise_fill.signatures[0])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, sig = res.stdout.strip().split(" ", 1)
    assert n == "1", res.stdout
    assert sig.startswith("(int64, int64, Array(float64, 1, 'C'"), sig


def test_noise_fill_does_not_allocate():
    """No NRT allocation in the compiled noise_fill (callees linked in): a non-cached twin's IR."""
    from numba import njit

    twin = njit(noise_fill.py_func)
    for nz in (Noise.stable(1.5, vector="radial"), Noise.student_t(3.0)):
        c, v, p = nz.pack()
        twin(c, v, p, np.ones(4, np.uint64), np.empty(8), np.empty(noise_work_size(8)))
    ir = twin.inspect_llvm(twin.signatures[0])
    assert "_stable_block" in ir and "_t_from" in ir  # callees are part of the module
    assert "NRT_MemInfo_alloc" not in ir and "NRT_Allocate" not in ir


def test_block_samplers_compile_one_signature_each():
    """The block transforms are called with an int64 offset (never a Literal[int](0)): one compile."""
    from numba import njit

    stable = njit(N._fill_stable_entry.py_func)  # not cached: its callees are typed (and compiled) here
    gauss = njit(N._fill_gaussian.py_func)
    for d in (1, 5, N._BLOCK + 3):
        out, work, state = np.empty(d), np.empty(noise_work_size(d)), np.ones(4, np.uint64)
        stable(np.int64(N.STABLE), np.int64(N.IID), np.array([1.0, 1.5, 0.0, 0.0]), state, out, work)
        gauss(out, work, state, 1.0)
    for block in (N._stable_block, N._box_muller):
        assert len(block.signatures) == 1, block.signatures


@pytest.mark.parametrize("d", [1, 7, 40, N._BLOCK + 5])
def test_student_t_block_uses_the_stream_like_a_scalar_loop(d):
    """Vectorised first attempts + in-order redraws == draw the block's pairs, then one coordinate at
    a time with its retries (the sampler as documented), bitwise, including the final stream state."""
    from clipsim._rng import fill_uniform

    nz = Noise.student_t(2.5, scale=1.5)
    code, vec, params = nz.pack()
    state = np.empty(4, np.uint64)
    seed_state(np.uint64(11), np.uint64(2), state)
    ref_state = state.copy()
    out = np.empty(d)
    noise_fill(code, vec, params, state, out, np.empty(noise_work_size(d)))
    ref = np.empty(d)
    for j in range(0, d, N._BLOCK):
        k = min(N._BLOCK, d - j)
        u = np.empty(2 * k)
        fill_uniform(ref_state, u)
        for i in range(k):
            ref[j + i] = 1.5 * N._t_from(u[2 * i], u[2 * i + 1], 2.5, ref_state)
    assert out.tobytes() == ref.tobytes() and state.tobytes() == ref_state.tobytes()


# ----------------------------------------------------------------------------- moments (exact)
def test_moment_infinite_and_trivial_cases():
    assert Noise.stable(1.5).moment(1.5) == math.inf and Noise.stable(1.5).moment(2) == math.inf
    assert Noise.stable(0.5, 0.7).moment(0.5) == math.inf
    assert math.isfinite(Noise.stable(2.0).moment(7.0))
    assert Noise.pareto(2.5).moment(2.5) == math.inf and Noise.student_t(3).moment(3.1) == math.inf
    assert math.isfinite(Noise.pareto(2.5).moment(2.49))
    for nz in ALL:
        assert nz.moment(0) == 1.0
    assert Noise.none().moment(2) == 0.0 and Noise.none().moment(-0.5) == math.inf
    assert Noise.gaussian(3.0).moment(2) == pytest.approx(9.0, rel=1e-14)
    assert Noise.stable(2.0, 0.8, scale=3.0).moment(2) == pytest.approx(18.0, rel=1e-14)
    assert Noise.student_t(5.0, 2.0).moment(2) == pytest.approx(4 * 5 / 3, rel=1e-14)
    assert Noise.pareto(3.0).moment(2) == pytest.approx(2 / ((3 - 1) * (3 - 2)), rel=1e-14)
    assert Noise.stable(0.8, 0.6).moment(0.3) == pytest.approx(Noise.stable(0.8, -0.6).moment(0.3), rel=1e-15)


@pytest.mark.parametrize("alpha, beta", [(0.5, 0.0), (0.5, 0.7), (0.5, -1.0), (0.8, 0.5), (1.5, 0.0),
                                         (1.5, 0.7), (1.5, -1.0), (1.2, 1.0), (1.9, 0.3)])
def test_stable_closed_form_equals_quadrature(alpha, beta):
    """Closed form vs an independent scipy.integrate.quad of the S1 characteristic function."""
    for p in (-0.6, -0.2, 0.3, min(1.0, 0.5 * alpha), 0.9 * alpha):
        closed = N._stable_abs_moment(alpha, beta, p)
        assert closed == pytest.approx(N._stable_cf_moment(alpha, beta, p), rel=1e-8), p


def test_stable_closed_form_equals_scipy_special_cases():
    for p in (-0.5, 0.4, 1.0, 3.0):  # alpha = 2: N(0, 2 c^2)
        ref = 2 * _quad(lambda x: x ** p * stats.norm.pdf(x, scale=2 * math.sqrt(2)), 0, np.inf)
        assert Noise.stable(2.0, scale=2.0).moment(p) == pytest.approx(ref, rel=1e-8)
    for p in (-0.5, 0.3, 0.7):  # alpha = 1, beta = 0: Cauchy
        ref = 2 * (_quad(lambda x: x ** p * stats.cauchy.pdf(x), 0, 1) + _quad(lambda x: x ** p * stats.cauchy.pdf(x), 1, np.inf))
        assert Noise.stable(1.0, 0.0, scale=1.0).moment(p) == pytest.approx(ref, rel=1e-8)
    for p in (-0.5, 0.2, 0.4):  # alpha = 1/2, beta = +-1: Levy (S1 location 0)
        ref = _quad(lambda x: x ** p * stats.levy.pdf(x), 0, 1) + _quad(lambda x: x ** p * stats.levy.pdf(x), 1, np.inf)
        assert Noise.stable(0.5, 1.0).moment(p) == pytest.approx(ref, rel=1e-8)
        assert Noise.stable(0.5, -1.0, scale=3.0).moment(p) == pytest.approx(3.0 ** p * ref, rel=1e-8)


@pytest.mark.parametrize("a", [0.7, 1.5, 2.5, 6.0])
def test_pareto_closed_form_equals_scipy(a):
    for p in (-0.5, 0.3, 0.5 * a, 0.9 * a):
        f = lambda x: x ** p * stats.lomax.pdf(x, a)  # noqa: E731
        ref = _quad(f, 0, 1) + _quad(f, 1, np.inf)
        assert Noise.pareto(a, scale=1.5).moment(p) == pytest.approx(1.5 ** p * ref, rel=1e-8)


@pytest.mark.parametrize("df", [0.8, 1.0, 3.0, 30.0])
def test_student_t_closed_form_equals_scipy(df):
    for p in (-0.5, 0.3, 0.5 * df, 0.9 * df):
        f = lambda x: x ** p * stats.t.pdf(x, df)  # noqa: E731
        ref = 2 * (_quad(f, 0, 1) + _quad(f, 1, np.inf))
        assert Noise.student_t(df, scale=0.7).moment(p) == pytest.approx(0.7 ** p * ref, rel=1e-8)


def test_gaussian_closed_form_equals_scipy():
    for p in (-0.5, 0.5, 1.0, 2.5, 8.0):
        ref = 2 * _quad(lambda x: x ** p * stats.norm.pdf(x, scale=1.3), 0, np.inf)
        assert Noise.gaussian(1.3).moment(p) == pytest.approx(ref, rel=1e-8)


MC_CASES = [  # (noise, p) with 2p < tail index: Var |X|^p finite, the CI is meaningful
    (Noise.stable(1.5), 0.5), (Noise.stable(1.5, 0.7, 2.0), 0.7), (Noise.stable(1.5, -1.0), -0.4),
    (Noise.stable(1.0, 0.7), 0.3), (Noise.stable(1.0, -1.0, 0.5), 0.4), (Noise.stable(1.0, 0.3), -0.3),
    (Noise.stable(0.5, 0.0), 0.2), (Noise.stable(0.5, -1.0), 0.2), (Noise.stable(0.5, 0.7), -0.3),
    (Noise.stable(2.0, scale=0.5), 3.0), (Noise.stable(1.9, 0.3), 0.9),
    (Noise.pareto(2.5), 1.0), (Noise.pareto(4.0, 3.0), 1.9), (Noise.pareto(0.8), 0.3),
    (Noise.student_t(3.0), 1.4), (Noise.student_t(0.7), 0.3), (Noise.student_t(30.0, 0.1), 2.0),
    (Noise.gaussian(2.0), 1.0),
]


@pytest.mark.parametrize("nz, p", MC_CASES, ids=lambda x: str(x))
def test_moment_inside_monte_carlo_ci(nz, p):
    _in_ci(lambda s: np.abs(nz.sample(100_000, seed=s)) ** p, nz.moment(p))


# ------------------------------------------------------------------------------ radial and norms
@pytest.mark.parametrize("nz", [Noise.stable(1.5, 0.7, vector="radial"), Noise.pareto(2.5, vector="radial"),
                                Noise.student_t(3.0, vector="radial"), Noise.gaussian(vector="radial")], ids=str)
def test_radial_direction_uniform(nz):
    """Rayleigh test: n d ||mean direction||^2 ~ chi2_d under uniformity; directions are unit."""
    d = 5
    pvals = []
    for s in (7, 8):
        x = nz.sample_vectors(20_000, d, seed=s)
        r = np.linalg.norm(x, axis=1)
        u = x / r[:, None]
        assert np.allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
        stat = x.shape[0] * d * np.sum(u.mean(axis=0) ** 2)
        pvals.append(stats.chi2.sf(stat, d))
        if pvals[-1] > 0.01:
            return
    pytest.fail(f"direction not uniform: p-values {pvals}")


def test_norm_moment_exact_cases():
    r = Noise.stable(1.5, 0.7, scale=2.0, vector="radial")
    assert r.norm_moment(0.7, 10) == r.moment(0.7) and r.norm_moment(1.5, 3) == math.inf
    g = Noise.gaussian(2.0)
    for p in (-0.5, 1.0, 3.3):
        ref = _quad(lambda x: (2.0 * x) ** p * stats.chi.pdf(x, 6), 0, np.inf)
        assert g.norm_moment(p, 6) == pytest.approx(ref, rel=1e-8)
    t = Noise.student_t(5.0)
    assert t.norm_moment(2, 8) == pytest.approx(8 * t.moment(2), rel=1e-14)
    ex2, ex4 = t.moment(2), t.moment(4)
    assert t.norm_moment(4, 3) == pytest.approx(3 * ex4 + 6 * ex2 ** 2, rel=1e-13)
    assert t.norm_moment(5, 3) == math.inf and Noise.stable(1.5).norm_moment(1.6, 4) == math.inf
    assert Noise.pareto(2.5).norm_moment(1.0, 1) == Noise.pareto(2.5).moment(1.0)
    assert Noise.none().norm_moment(2, 4) == 0.0
    with pytest.raises(ValueError, match=r"^p = 1\.0 is not allowed for norm_moment .*estimate_norm_moment"):
        Noise.stable(1.5).norm_moment(1.0, 4)


@pytest.mark.parametrize("nz, p, d", [
    (Noise.stable(1.5, 0.7, vector="radial"), 0.5, 6), (Noise.pareto(3.0, vector="radial"), 1.2, 4),
    (Noise.gaussian(1.5), 1.5, 5), (Noise.student_t(9.0), 4, 3), (Noise.student_t(5.0, 2.0), 2, 7),
], ids=str)
def test_norm_moment_inside_monte_carlo_ci(nz, p, d):
    exact = nz.norm_moment(p, d)
    for s in (1, 2):
        e = estimate_norm_moment(nz, p, d, n=50_000, seed=s, confidence=0.99)
        assert e.reliable and e.n == 50_000 and e.lo < e.estimate < e.hi
        if e.lo <= exact <= e.hi:
            return
    pytest.fail(f"{exact} outside {e}")


def test_estimate_norm_moment_api():
    e = estimate_norm_moment(Noise.stable(1.5), 1.0, 4, n=2_000, seed=3)
    assert isinstance(e, N.NormMomentEstimate) and not e.reliable and math.isfinite(e.estimate)
    e2 = estimate_norm_moment(Noise.stable(1.5), 1.0, 4, n=2_000, seed=3)
    assert e == e2
    norms = np.linalg.norm(Noise.stable(1.5).sample_vectors(2_000, 4, seed=3), axis=1)
    assert e.estimate == pytest.approx(norms.mean(), rel=1e-12)
    assert estimate_norm_moment(Noise.pareto(2.0), 2.0, 3).estimate == math.inf
    with pytest.raises(ValueError, match="^confidence = 1.5 is not allowed"):
        estimate_norm_moment(Noise.gaussian(), 1.0, 3, confidence=1.5)
    with pytest.raises(ValueError, match="^noise = "):
        estimate_norm_moment({"family": "gaussian"}, 1.0, 3)


# ------------------------------------------------------------------------------------ slow
@pytest.mark.slow
@pytest.mark.parametrize("alpha, beta", [(1.5, 0.7), (1.2, -1.0), (1.8, 0.5)])
def test_s1_mean_is_zero_by_pdf_quadrature(alpha, beta):
    """The 'check!' of the brief: in S1 the mean is the location (0) for alpha > 1, any beta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's pdf integration chatters in the far tails
        f = lambda x: x * stats.levy_stable.pdf(x, alpha, beta)  # noqa: E731
        m = sum(integrate.quad(f, a, b, limit=500)[0] for a, b in [(-np.inf, -50), (-50, 0), (0, 50), (50, np.inf)])
    s0_shift = beta * math.tan(math.pi * alpha / 2)
    assert abs(m) < 1e-3 and abs(s0_shift) > 0.1  # an S0-style shift would have been visible


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.7, -1.0])
def test_alpha1_skewed_moment_vs_large_monte_carlo(beta):
    nz = Noise.stable(1.0, beta)
    for p in (-0.5, 0.2, 0.45):
        _in_ci(lambda s: np.abs(nz.sample(2_000_000, seed=s)) ** p, nz.moment(p))


def test_none_is_canonical_and_sample_ignores_vector_mode():
    assert Noise("none", "radial", 0.0) == Noise.none()
    r, i = Noise.stable(1.3, 0.2, vector="radial"), Noise.stable(1.3, 0.2)
    assert r.sample(100, seed=4).tobytes() == i.sample(100, seed=4).tobytes()
    assert i.sample(1000, seed=4)[:100].tobytes() == i.sample(100, seed=4).tobytes()
