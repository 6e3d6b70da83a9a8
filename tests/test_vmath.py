"""clipsim._vmath: accuracy against ``math`` (libm) on dense grids and edge cases, lane/scalar agreement,
and that the loops really are vectorised."""
import math
import re

import numpy as np
import pytest
from numba import njit

from clipsim import _vmath as vm
from clipsim import noise as N

MAX_ULP = 2.0


@njit(error_model="numpy")
def _apply(kind, x, y, out):
    for i in range(x.shape[0]):
        if kind == 0:
            out[i] = vm.log(x[i])
        elif kind == 1:
            out[i] = vm.exp(x[i])
        elif kind == 2:
            out[i] = vm.sin(x[i])
        elif kind == 3:
            out[i] = vm.cos(x[i])
        elif kind == 4:
            out[i] = vm.pow(x[i], y[i])
        elif kind == 7:
            out[i] = vm.expm1(x[i])
        elif kind == 5:
            h, lo = vm.log_dd(x[i])
            out[i] = h
            y[i] = lo
        else:
            s, c = vm.sincos(x[i])
            out[i] = s
            y[i] = c


@njit(error_model="numpy")
def _log_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = vm.log(x[i])


@njit(error_model="numpy")
def _one(kind, x, y):
    a = np.array([x])
    b = np.array([y])
    out = np.empty(1)
    _apply(kind, a, b, out)
    return out[0]


def _run(kind, x, y=None):
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.zeros_like(x) if y is None else np.ascontiguousarray(y, dtype=np.float64).copy()
    out = np.empty_like(x)
    _apply(kind, x, y, out)
    return out, y


def _ulps(got, ref):
    got, ref = np.asarray(got), np.asarray(ref)
    both_inf = np.isinf(ref) & (got == ref)
    both_nan = np.isnan(ref) & np.isnan(got)
    exact = (got == ref) | both_inf | both_nan
    with np.errstate(invalid="ignore"):
        err = np.abs(got - ref) / np.spacing(np.abs(ref))
    return np.where(exact, 0.0, err)


def _check(kind, x, ref_fn, y=None, max_ulp=MAX_ULP):
    got, _ = _run(kind, x, y)
    if y is None:
        ref = np.array([ref_fn(v) for v in x])
    else:
        ref = np.array([ref_fn(a, b) for a, b in zip(x, y)])
    e = _ulps(got, ref)
    i = int(np.argmax(e))
    assert e[i] <= max_ulp, f"max error {e[i]:.3g} ulp at x={x[i]!r} (got {got[i]!r}, libm {ref[i]!r})"
    return e


RNG = np.random.default_rng(20240601)


def test_log_dense_and_edges():
    x = np.concatenate([
        RNG.random(200_000),                                        # the samplers' domain (0, 1)
        np.exp(RNG.uniform(-744.0, 709.0, 100_000)),                # every binade
        1.0 + RNG.uniform(-1e-3, 1e-3, 50_000),                     # near 1 (cancellation)
        np.sqrt(2.0) * (1.0 + RNG.uniform(-1e-6, 1e-6, 10_000)),    # the m >= sqrt(2) switch
        np.geomspace(5e-324, 2.3e-308, 5_000),                      # subnormals
        [5e-324, 2.2250738585072014e-308, 1.0, 0.5, 2.0, 1.7976931348623157e308,
         np.nextafter(1.0, 0), np.nextafter(1.0, 2), 2.0 ** -54, 1.0 - 2.0 ** -53],
    ])
    _check(0, x, math.log)
    got, _ = _run(0, np.array([0.0, -0.0, np.inf, -1.0, np.nan, -np.inf]))
    assert got[0] == -np.inf and got[1] == -np.inf and got[2] == np.inf and np.isnan(got[3:]).all()


def test_log_dd_is_more_accurate():
    x = np.concatenate([RNG.random(50_000), np.exp(RNG.uniform(-700, 700, 50_000)), [1.0, 2.0, 0.5]])
    hi, lo = _run(5, x)
    ref = np.array([math.log(v) for v in x])
    assert np.all(_ulps(hi, ref) <= 1.0)
    assert np.all(np.abs(lo) <= np.spacing(np.abs(hi)))
    # against a long-double-free check: hi + lo vs log via mpmath-like identity log(x) = log1p(x - 1)
    # near 1, where the double result is exact to < 0.5 ulp only if lo is meaningful
    xs = 1.0 + RNG.uniform(-0.25, 0.25, 20_000)
    hi, lo = _run(5, xs)
    ref = np.array([math.log1p(v - 1.0) for v in xs])
    assert np.all(_ulps(hi + lo, ref) <= 1.0)


def test_exp_dense_and_edges():
    x = np.concatenate([
        RNG.uniform(-745.0, 709.7, 200_000),
        RNG.uniform(-1.0, 1.0, 100_000),
        RNG.uniform(-1e-9, 1e-9, 10_000),
        RNG.uniform(-745.13, -708.4, 20_000),     # gradual underflow: results are subnormal
        [0.0, -0.0, 709.78, 709.782712893384, -745.1332191019411, -708.3964185322641, 1e-300, -1e-300,
         0.5 * math.log(2), -0.5 * math.log(2), 1.5 * math.log(2)],
    ])
    _check(1, x, math.exp)
    got, _ = _run(1, np.array([710.0, 1000.0, np.inf, -746.0, -1e4, -np.inf, np.nan]))
    assert got[0] == got[1] == got[2] == np.inf
    assert got[3] == got[4] == got[5] == 0.0 and np.isnan(got[6])


def test_expm1_dense_and_edges():
    x = np.concatenate([
        RNG.uniform(-50.0, 709.7, 200_000),
        RNG.uniform(-2.0, 2.0, 200_000),                          # every branch of s_expm1.c: k in -3..3
        RNG.standard_normal(50_000) * 1e-3,                       # small |x| (where exp(x) - 1 cancels)
        10.0 ** RNG.uniform(-300.0, 2.8, 50_000),                 # the samplers' arguments are >= 0
        -(10.0 ** RNG.uniform(-300.0, 1.6, 50_000)),
        np.arange(-60, 60) * math.log(2),                         # each k, and its neighbours
        np.nextafter(np.arange(-60, 60) * math.log(2), np.inf),
        (np.arange(-60, 60) + 0.5) * math.log(2),                 # rint ties of x / ln 2
        [0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324, -0.25, 0.25, 709.78, -40.0, -45.0],
    ])
    _check(7, x, math.expm1, max_ulp=1.0)
    got, _ = _run(7, np.array([710.0, np.inf, -np.inf, -1e4, np.nan, -0.0]))
    assert got[0] == got[1] == np.inf and got[2] == got[3] == -1.0 and np.isnan(got[4])
    assert got[5] == 0.0 and math.copysign(1.0, got[5]) == -1.0


@pytest.mark.parametrize("kind,fn", [(2, math.sin), (3, math.cos)], ids=["sin", "cos"])
def test_sin_cos_dense_and_edges(kind, fn):
    k = np.arange(-40, 41)
    x = np.concatenate([
        RNG.uniform(-5.0, 5.0, 200_000),                          # the samplers' domain (|x| <= 3 pi/2)
        math.pi * (RNG.random(50_000) - 0.5),                     # V of the CMS sampler
        2.0 * math.pi * RNG.random(50_000),                       # the Box-Muller angle
        RNG.uniform(-8e5, 8e5, 50_000),                           # documented domain |x| <= 2^19 pi/2
        k * (math.pi / 2), np.nextafter(k * (math.pi / 2), np.inf), np.nextafter(k * (math.pi / 2), -np.inf),
        math.pi * (np.arange(1, 2 ** 10) * 2.0 ** -54 - 0.5),     # V next to -pi/2
        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-9, math.pi / 4, -math.pi / 4, 0.785398163397448],
    ])
    _check(kind, x, fn)
    got, _ = _run(kind, np.array([np.inf, -np.inf, np.nan]))
    assert np.isnan(got).all()


def test_sincos_matches_sin_and_cos():
    x = RNG.uniform(-10.0, 10.0, 10_000)
    s, c = _run(6, x)
    assert s.tobytes() == _run(2, x)[0].tobytes() and c.tobytes() == _run(3, x)[0].tobytes()


def test_pow_dense():
    x = np.exp(RNG.uniform(-45.0, 75.0, 200_000))                 # CMS: q = cos(..)/(W cos V) spans this
    y = RNG.uniform(-10.0, 10.0, 200_000)
    keep = np.abs(y * np.log(x)) < 700.0
    _check(4, x[keep], math.pow, y[keep])
    # the stable sampler's exponents (1 - alpha)/alpha
    for alpha in (0.3, 0.5, 0.9, 1.1, 1.5, 1.9, 1.99):
        ex = (1.0 - alpha) / alpha
        xs = np.exp(RNG.uniform(-40.0, 74.0, 20_000))
        xs = xs[np.abs(ex * np.log(xs)) < 700.0]
        _check(4, xs, math.pow, np.full(xs.size, ex))
    got, _ = _run(4, np.array([1.0, 2.0, 10.0, 1e300, 1e-300]), np.array([3.7, 10.0, -3.0, 2.0, 2.0]))
    assert got[0] == 1.0 and got[1] == 1024.0 and got[2] == pytest.approx(1e-3, rel=1e-15)
    assert got[3] == np.inf and got[4] == 0.0


def test_lanes_and_scalar_code_agree_bitwise():
    """Vector lanes, the scalar remainder loop and a lone scalar call give the same bits."""
    x = RNG.random(37) * 3.0
    y = RNG.uniform(-2.0, 2.0, 37)
    for kind in (0, 1, 2, 3, 4, 7):
        arg = x if kind != 1 else x * 100 - 150
        vec, _ = _run(kind, arg, y)
        one = np.array([_one(kind, a, b) for a, b in zip(arg, y)])
        assert vec.tobytes() == one.tobytes(), kind


def _packed(asm):
    return len(re.findall(r"\bv(?:mul|add|sub|div|fmadd\w*)pd\s[^\n]*%[yz]mm", asm))


def test_loops_are_vectorised():
    """The block transforms compile to packed AVX2/AVX-512 arithmetic (ymm or zmm registers)."""
    x = np.random.default_rng(0).random(64)
    out = np.empty(64)
    _log_loop(x, out)
    assert _packed(_log_loop.inspect_asm(_log_loop.signatures[0])) > 10
    # non-cached twins, compiled here (the cached callers may not have compiled these in this process)
    u = np.random.default_rng(1).random(64)
    twin = {f: njit(error_model="numpy")(getattr(N, f).py_func) for f in (
        "_stable_block_a2", "_stable_gen_parts", "_stable_gen_powlog", "_stable_gen_scale", "_bm_pairs", "_pareto_block", "_lomax_block")}
    twin["_stable_block_a2"](out, 0, u, 20, 1.0)                          # alpha = 2 (its own loop)
    twin["_stable_gen_parts"](out[:16], out[16:32], u, 16, 1.5, 0.0, 1.0)
    twin["_stable_gen_powlog"](out[16:32], out[32:48], 16, -1.0 / 3.0)
    twin["_stable_gen_scale"](out[:16], out[16:32], out[32:48], 16, 1.0)
    twin["_bm_pairs"](out[:16], out[16:32], u, 1.0)
    twin["_pareto_block"](out, u, 32, 1.0, 1.5)
    twin["_lomax_block"](out, u, 32, 1.0, 2.5)
    for name, fn in twin.items():  # a scalar loop has no packed ymm/zmm arithmetic at all
        least = 20 if name == "_stable_gen_scale" else 30  # exp_dd alone: 29 packed operations on AVX-512
        assert _packed(fn.inspect_asm(fn.signatures[0])) > least, name


@njit
def _select_both(c, a, b, i, j):
    return vm.select(c, a, b), vm.select(c, i, j), vm.select(c, 54, 0)


def test_select_is_the_conditional_expression_bitwise():
    """select(c, a, b) gives the bits of ``a if c else b`` (signed zeros, nan, inf; int64 and literals)."""
    vals = [0.0, -0.0, 1.5, -np.inf, np.inf, np.nan, 5e-324]
    for c in (True, False):
        for a in vals:
            for b in vals:
                got, gi, gl = _select_both(c, a, b, 7, -3)
                assert np.float64(got).tobytes() == np.float64(a if c else b).tobytes()
                assert gi == (7 if c else -3) and gl == (54 if c else 0)
