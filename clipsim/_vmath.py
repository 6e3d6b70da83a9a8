"""Branch-free elementary functions that LLVM can auto-vectorise inside Numba loops.

Why: Numba without Intel SVML (pip's llvmlite is not SVML-patched) lowers ``math.sin/cos/log/exp`` and
``**`` to scalar libm calls, so a loop that calls them is never vectorised. The functions here use only
+, -, *, /, sqrt, fused multiply-add (``llvm.fma``, exactly rounded: same result in every lane and in
scalar code), comparisons turned into selects, and integer operations on the IEEE bits (bit casts
float64 <-> int64). Inlined into a counted loop over float64 arrays they become packed AVX-512 / AVX2
code (checked in ``tests/test_vmath.py`` through ``inspect_asm``).

Algorithms: fdlibm / FreeBSD msun (Sun Microsystems, 1993), with the data-dependent branches replaced
by selects or by always taking the more accurate path:

- :func:`log`: ``x = 2^k m``, ``m`` in [sqrt(2)/2, sqrt(2)), ``f = m - 1``, ``s = f/(2+f)``,
  ``log(1+f) = f - hfsq + s (hfsq + R(s^2))`` (e_log.c, its "better accuracy" form for every f).
  Subnormals are scaled by 2^54 first; 0 -> -inf, inf -> inf, x < 0 or nan -> nan.
- :func:`log_dd`: the same with the final sums carried in double-double (TwoSum and an exact
  ``fma`` residual for f^2/2): ``log x = hi + lo`` with |error| about 2^-60 |log x| + 2^-62, for
  :func:`pow`.
- :func:`exp` / :func:`exp_dd`: ``k = rint(x/ln2)``, ``r = x - k ln2`` (Cody-Waite, ln2 in two
  parts), ``exp(r) = 1 - ((lo - r c/(2-c)) - hi)`` (e_exp.c); ``2^k`` from the exponent bits, applied
  as two factors so that overflow gives inf and gradual underflow rounds once. ``exp_dd(hi, lo)`` is
  ``exp(hi + lo)`` for ``|lo| <= ulp(hi)``: the low part joins the reduced argument.
- :func:`expm1`: s_expm1.c: ``k = rint(x/ln2)``, ``r = x - k ln2`` with its rounding error ``c``,
  the rational approximation of ``expm1(r)`` on [-ln2/2, ln2/2] (Q1-Q5), and fdlibm's six ways of
  assembling ``2^k (1 + expm1(r)) - 1`` (k = 0, -1, 1, [2, 19], [20, 56], else) all computed and
  one selected by k. x is clamped to [-60, 710] first (-1 below, inf above ~709.78).
- :func:`pow` (x > 0): ``exp_dd(y * log_dd(x))`` with the product kept exact by ``fma``.
- :func:`sin`, :func:`cos`, :func:`sincos`: ``n = rint(x 2/pi)``, three-step Cody-Waite reduction
  (e_rem_pio2.c's medium case, all three steps always: ``r = y0 + y1`` good to ~118 bits), kernels
  k_sin.c / k_cos.c on [-pi/4, pi/4] taking the tail ``y1``, quadrant by selects. Valid for
  |x| <= 2^19 pi/2 (about 8.2e5); beyond it the reduction loses accuracy (no Payne-Hanek).

Accuracy (tests/test_vmath.py, dense grids and edge cases against ``math``): within 1 ulp of libm
for log, exp, expm1, sin, cos on their domains, pow within 2 ulp for |y log x| <= 700. ``fastmath`` stays
off: results are the same bits for any thread count, vector width or machine with IEEE doubles.

The functions are ``@njit(error_model='numpy', inline='always')``: inlined at the Numba IR level,
because LLVM's inliner left the larger ones (pow, sincos) as calls and a loop with a call is not
vectorised (this roughly doubles the cold compile time of the samplers). Their conditionals are
written with :func:`select`, not ``a if c else b``: Numba's inliner copies every block of an inlined
function together with its whole variable scope at each call site, and branch-free single-block
functions cut the samplers' inlining time about threefold (1.0 → 0.3 s for the stable sampler's first
pass), with the same machine code. ``error_model='numpy'``
removes the ZeroDivisionError branch of each division; callers must use it too for their own loops.
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["fma", "select", "log", "log_dd", "exp", "exp_dd", "expm1", "pow", "pow_log", "sin", "cos", "sincos", "f2i", "i2f"]

_jit = njit(cache=True, error_model="numpy", inline="always")


# ------------------------------------------------------------------------------------------------
# Intrinsics: bit casts and fused multiply-add
# ------------------------------------------------------------------------------------------------
@intrinsic
def f2i(typingctx, x):
    """The IEEE bits of a float64 as an int64 (a no-op bit cast)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def i2f(typingctx, i):
    """The float64 whose IEEE bits are the int64 ``i``."""
    if i != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding (``llvm.fma.f64``: vfmadd on x86-64 with FMA)."""
    if not (a == types.float64 and b == types.float64 and c == types.float64):
        return None

    def codegen(context, builder, sig, args):
        dbl = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [dbl], ir.FunctionType(dbl, [dbl, dbl, dbl]))
        return builder.call(fn, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select`` (both operands evaluated): the value of the
    conditional expression without the branch it puts into Numba's IR (see the module docstring)."""
    if cond != types.boolean:
        return None
    if isinstance(a, types.Float) or isinstance(b, types.Float):
        res = types.float64
    elif isinstance(a, types.Integer) and isinstance(b, types.Integer):
        res = types.int64
    else:
        return None

    def codegen(context, builder, sig, args):
        c, x, y = args
        x = context.cast(builder, x, sig.args[1], res)
        y = context.cast(builder, y, sig.args[2], res)
        return builder.select(c, x, y)

    return res(cond, a, b), codegen


# ------------------------------------------------------------------------------------------------
# Constants (fdlibm)
# ------------------------------------------------------------------------------------------------
_LN2_HI = 6.93147180369123816490e-01   # 0x3fe62e42fee00000
_LN2_LO = 1.90821492927058770002e-10   # 0x3dea39ef35793c76
_INV_LN2 = 1.44269504088896338700e+00
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
_Q1 = -3.33333333333331316428e-02
_Q2 = 1.58730158725481460165e-03
_Q3 = -7.93650757867487942473e-05
_Q4 = 4.00821782732936239552e-06
_Q5 = -2.01099218183624371326e-07
_INV_PIO2 = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e+00
_PIO2_1T = 6.07710050650619224932e-11
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_2T = 2.02226624879595063154e-21
_PIO2_3 = 2.02226624871116645580e-21
_PIO2_3T = 8.47842766036889956997e-32
_RINT = 6755399441055744.0             # 1.5 * 2^52: x + _RINT - _RINT = rint(x) for |x| < 2^51
_RINT_BITS = 0x4338000000000000
_TINY = 2.2250738585072014e-308         # smallest normal
_TWO54 = 18014398509481984.0
_MANT = 0x000FFFFFFFFFFFFF
_INF = float("inf")
_NAN = float("nan")


# ------------------------------------------------------------------------------------------------
# log
# ------------------------------------------------------------------------------------------------
@_jit
def _log_parts(x):
    """(k, f, s, R) with x = 2^k (1 + f), f in [sqrt(2)/2 - 1, sqrt(2) - 1), s = f/(2+f), R(s^2)."""
    sub = x < _TINY
    xs = select(sub, x * _TWO54, x)
    bits = f2i(xs)
    mant = bits & _MANT
    i = (mant + (0x95F64 << 32)) & (1 << 52)          # 1 << 52 iff m >= ~sqrt(2)
    k = (bits >> 52) - 1023 + (i >> 52) - select(sub, 54, 0)
    f = i2f(mant | (i ^ (0x3FF << 52))) - 1.0          # m or m/2, minus 1 (exact)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    return float(k), f, s, t1 + t2


@_jit
def _log_special(x, r):
    """r for finite x > 0; -inf at 0, inf at inf, nan for x < 0 or nan."""
    other = select(x == 0.0, -_INF, select(x == _INF, _INF, _NAN))
    return select((x > 0.0) & (x < _INF), r, other)


@_jit
def log(x):
    """Natural logarithm (within 1 ulp; log(0) = -inf, log(inf) = inf, log(x < 0) = nan)."""
    dk, f, s, R = _log_parts(x)
    hfsq = 0.5 * f * f
    r = dk * _LN2_HI - ((hfsq - (s * (hfsq + R) + dk * _LN2_LO)) - f)
    return _log_special(x, r)


@_jit
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_jit
def log_dd(x):
    """log x = hi + lo (double-double, about 7 extra bits) for finite x > 0."""
    dk, f, s, R = _log_parts(x)
    hf = 0.5 * f
    hfsq = hf * f
    hfsq_lo = fma(hf, f, -hfsq)                       # exact: hf * f = hfsq + hfsq_lo
    rem = s * (hfsq + R)
    h1, l1 = _two_sum(dk * _LN2_HI, f)                # dk * LN2_HI is exact
    h2, l2 = _two_sum(h1, -hfsq)
    lo = l1 + l2 + ((rem - hfsq_lo) + dk * _LN2_LO)
    return _two_sum(h2, lo)


# ------------------------------------------------------------------------------------------------
# exp
# ------------------------------------------------------------------------------------------------
@_jit
def exp_dd(xh, xl):
    """exp(xh + xl) for |xl| <= ulp(xh) (within 1 ulp + |xl| rounding; overflow inf, underflow 0)."""
    x = select(xh > 746.0, 746.0, select(xh < -746.0, -746.0, xh))   # nan passes through
    t = x * _INV_LN2 + _RINT
    dk = t - _RINT                                                  # rint(x / ln2)
    k = f2i(t) - _RINT_BITS
    hi = x - dk * _LN2_HI                                           # exact
    lo = dk * _LN2_LO - xl
    r = hi - lo
    z = r * r
    c = r - z * (_P1 + z * (_P2 + z * (_P3 + z * (_P4 + z * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    k1 = k >> 1
    k2 = k - k1
    return y * i2f((k1 + 1023) << 52) * i2f((k2 + 1023) << 52)


@_jit
def exp(x):
    """e^x (within 1 ulp; inf above ~709.78, gradual underflow, 0 below ~-745.13)."""
    return exp_dd(x, 0.0)


@_jit
def expm1(x):
    """e^x - 1, accurate for small |x| (within 1 ulp; -1 below about -41.6, inf above ~709.78)."""
    xc = select(x > 710.0, 710.0, select(x < -60.0, -60.0, x))       # nan passes through
    t = xc * _INV_LN2 + _RINT
    dk = t - _RINT
    k = f2i(t) - _RINT_BITS
    hi = xc - dk * _LN2_HI                                          # exact
    lo = dk * _LN2_LO
    r = hi - lo
    c = (hi - r) - lo
    hfx = 0.5 * r
    hxs = r * hfx
    r1 = 1.0 + hxs * (_Q1 + hxs * (_Q2 + hxs * (_Q3 + hxs * (_Q4 + hxs * _Q5))))
    tt = 3.0 - r1 * hfx
    e = hxs * ((r1 - tt) / (6.0 - r * tt))
    y0 = r - (r * e - hxs)                                          # k = 0 (then c = 0)
    e = (r * (e - c) - c) - hxs
    ym1 = 0.5 * (r - e) - 0.5                                       # k = -1
    yp1 = select(r < -0.25, -2.0 * (e - (r + 0.5)), 1.0 + 2.0 * (r - e))   # k = 1
    k1 = k >> 1
    k2 = k - k1
    yfar = (1.0 - (e - r)) * i2f((k1 + 1023) << 52) * i2f((k2 + 1023) << 52) - 1.0
    twopk = i2f(((k + 1023) & 0x7FF) << 52)                         # used only for 2 <= k <= 56
    twomk = i2f(((1023 - k) & 0x7FF) << 52)
    ymid = ((1.0 - twomk) - (e - r)) * twopk                        # 2 <= k < 20
    yhigh = ((r - (e + twomk)) + 1.0) * twopk                       # 20 <= k <= 56
    y = select(k >= 20, yhigh, ymid)
    y = select((k >= 2) & (k <= 56), y, yfar)
    y = select(k == 1, yp1, y)
    y = select(k == -1, ym1, y)
    return select(k == 0, y0, y)


@_jit
def pow_log(x, y):
    """y log x as a double-double (h, l), for x > 0 finite: ``pow(x, y) = exp_dd(h, l)``."""
    lh, ll = log_dd(x)
    ph = y * lh
    pl = fma(y, lh, -ph) + y * ll
    return _two_sum(ph, pl)


@_jit
def pow(x, y):
    """x^y for finite x > 0 and finite y (exp_dd of y log_dd(x), product exact through fma)."""
    h, l = pow_log(x, y)
    return exp_dd(h, l)


# ------------------------------------------------------------------------------------------------
# sin, cos
# ------------------------------------------------------------------------------------------------
@_jit
def _rem_pio2(x):
    """(n & 3, y0, y1): x = n pi/2 + y0 + y1, |y0 + y1| <= pi/4 (+ rounding), for |x| <= 2^19 pi/2."""
    t = x * _INV_PIO2 + _RINT
    fn = t - _RINT
    n = f2i(t) & 3
    r = x - fn * _PIO2_1                # exact (33-bit constant, |fn| < 2^20)
    tt = r                              # 2nd step (pio2_1t = pio2_2 + pio2_2t)
    w = fn * _PIO2_2
    r = tt - w
    w = fn * _PIO2_2T - ((tt - r) - w)
    tt = r                              # 3rd step (pio2_2t = pio2_3 + pio2_3t)
    w2 = fn * _PIO2_3
    r = tt - w2
    w = fn * _PIO2_3T - ((tt - r) - w2)
    y0 = r - w
    y1 = (r - y0) - w
    return n, y0, y1


@_jit
def _ksin(x, y):
    z = x * x
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    v = z * x
    return x - ((z * (0.5 * y - v * r) - y) - v * _S1)


@_jit
def _kcos(x, y):
    z = x * x
    w = z * z
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


@_jit
def sincos(x):
    """(sin x, cos x) for |x| <= 2^19 pi/2 (within 1 ulp each)."""
    n, y0, y1 = _rem_pio2(x)
    s = _ksin(y0, y1)
    c = _kcos(y0, y1)
    odd = (n & 1) != 0
    sn = select(odd, c, s)
    cs = select(odd, s, c)
    sn = select((n & 2) != 0, -sn, sn)
    cs = select(((n + 1) & 2) != 0, -cs, cs)
    return sn, cs


@_jit
def sin(x):
    """sin x for |x| <= 2^19 pi/2 (within 1 ulp)."""
    return sincos(x)[0]


@_jit
def cos(x):
    """cos x for |x| <= 2^19 pi/2 (within 1 ulp)."""
    return sincos(x)[1]
