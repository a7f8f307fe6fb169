"""Special functions: formulas and ``_print_<Class>`` methods for SymPy's special functions.

The simple "apply a callable to the printed arguments" entries live in the
mapping table (:mod:`sympy_theano_printer.mapping`); the callables defined here
are the formulas those entries use where PyTensor has no op of its own, and
:class:`SpecialFunctionPrinterMixin` holds what needs more than the printed
arguments (``hyper``'s parameter tuples, integer orders known at print time).

Every function here takes and returns element-wise PyTensor variables of a
float dtype (the printer casts integer arguments first); the result has the
float dtype of the arguments (float32 arguments give float32).  Where SymPy's
value at a real point is complex, infinite in the complex sense (``zoo``) or
not defined, the result is NaN, never the value of a different branch.

Sources of the formulas: Abramowitz & Stegun, *Handbook of Mathematical
Functions* (A&S), and the NIST *Digital Library of Mathematical Functions*
(DLMF), cited per function; the SymPy definitions of the same classes.
"""
from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.scalar.math as psm
import pytensor.tensor as pt
import sympy
from pytensor.gradient import zero_grad
from pytensor.tensor.elemwise import Elemwise

__all__ = ["SpecialFunctionPrinterMixin"]


# ---------------------------------------------------------------------------- helpers
def _dtype(*xs) -> str:
    return pytensor.scalar.upcast(*[str(x.dtype) for x in xs])


def _const(value, dtype):
    return pt.constant(np.asarray(value, dtype=dtype))


def _nan(dtype):
    return _const(np.nan, dtype)


def _is_integer(x):
    """True where ``x`` is a finite integer value."""
    return pt.eq(x, pt.floor(x))


def _constant_value(v):
    """The value of a 0-d constant (also behind casts, as the printer makes them), else None."""
    try:
        return float(pt.get_underlying_scalar_constant_value(v))
    except Exception:  # NotScalarConstantError: a graph input or a computed value
        return None


def _named(name):
    def deco(fn):
        fn.__name__ = name
        return fn

    return deco


# ---------------------------------------------------------------------------- sympy.codegen.cfunctions
def cbrt(x):
    """Real cube root keeping the sign (SymPy's ``Cbrt``): ``cbrt(-8) = -2``.

    ``y0 = sign(x) |x|**(1/3)``, then one Newton step ``y0 - (y0 - x/y0**2)/3``
    for ``y**3 = x``: ``pow`` with the rounded exponent ``fl(1/3)`` is off by
    up to ``|ln x| * 2**-54`` relative (~60 ulp near 1e300); the step brings it
    back to a few ulp.  0, infinities and NaN are returned by the first form.
    Shapes/dtype: element-wise, the float dtype of ``x``.

    The derivative is ``1/(3 y**2)`` with ``y`` the result (an inlined ``OpFromGraph``
    with that pullback): the automatic derivative of the Newton step overflows and
    cancels for tiny x (``-inf`` at x = 8.4e-200 where it is 1.7e132); ``inf`` at 0.
    """
    from pytensor.compile.builders import OpFromGraph

    dtype = str(x.dtype)
    inner = x.type()
    op = OpFromGraph([inner], [_cbrt_value(inner)], inline=True, name="cbrt",
                     pullback=lambda inputs, outputs, grads: [
                         grads[0] / (_const(3, dtype) * outputs[0] * outputs[0])])
    return op(x)


def _cbrt_value(x):
    """The value of :func:`cbrt` (see there)."""
    dtype = str(x.dtype)
    y0 = pt.sign(x) * pt.pow(pt.abs(x), _const(1.0 / 3.0, dtype))
    ok = pt.and_(pt.isfinite(x), pt.neq(x, 0))
    xs = pt.switch(ok, x, _const(1, dtype))
    ys = pt.switch(ok, y0, _const(1, dtype))
    refined = ys - (ys - xs / (ys * ys)) / _const(3, dtype)
    return pt.switch(ok, refined, y0)


def hypot(x, y):
    """``sqrt(x**2 + y**2)`` without overflow or underflow (SymPy's ``hypot``).

    ``a = max(|x|, |y|)``, ``b = min(|x|, |y|)``: ``a sqrt(1 + (b/a)**2)``;
    ``hypot(0, 0) = 0`` and ``hypot(+-inf, y) = inf`` (also for an infinite
    ``y``).  Element-wise, broadcasting, the upcast float dtype.
    """
    dtype = _dtype(x, y)
    ax, ay = pt.abs(x), pt.abs(y)
    a, b = pt.maximum(ax, ay), pt.minimum(ax, ay)
    regular = pt.and_(pt.gt(a, 0), pt.isfinite(a))
    safe_a = pt.switch(regular, a, _const(1, dtype))
    r = b / safe_a
    value = safe_a * pt.sqrt(1 + r * r)
    return pt.switch(regular, value, a + b)  # a + b: 0, inf, or NaN as IEEE hypot


def fma(x, y, z):
    """``x*y + z`` (SymPy's ``fma``); the back end may or may not fuse it into one rounding."""
    return x * y + z


def logaddexp(x, y):
    """``log(exp(x) + exp(y))`` without overflow (``sympy.codegen.numpy_nodes.logaddexp``).

    ``x + log1p(exp(y - x))`` where ``x >= y``, the mirror image elsewhere, so
    the exponential never exceeds 1 and the gradient at ``x == y`` is 1/2 to
    each argument; ``logaddexp(inf, inf) = inf``, ``logaddexp(-inf, -inf) = -inf``.
    """
    big = pt.ge(x, y)
    hi, lo = pt.switch(big, x, y), pt.switch(big, y, x)
    both_inf = pt.and_(pt.eq(x, y), pt.isinf(x))
    d = pt.switch(both_inf, pt.zeros_like(lo), lo - hi)
    return pt.switch(both_inf, x, hi + pt.log1p(pt.exp(d)))


def logaddexp2(x, y):
    """``log2(2**x + 2**y)``, as :func:`logaddexp` in base 2 (``numpy_nodes.logaddexp2``)."""
    big = pt.ge(x, y)
    hi, lo = pt.switch(big, x, y), pt.switch(big, y, x)
    both_inf = pt.and_(pt.eq(x, y), pt.isinf(x))
    d = pt.switch(both_inf, pt.zeros_like(lo), lo - hi)
    inv_ln2 = _const(1 / math.log(2), _dtype(x, y))
    return pt.switch(both_inf, x, hi + pt.log1p(pt.exp2(d)) * inv_ln2)



# ---------------------------------------------------------------------------- gamma family
# PyTensor's C code for psi (digamma) is Bernardo's AS 103 with 10-digit constants: relative
# errors up to 4e-9 (1e7 ulp) under the CVM/C back ends, measured against mpmath; its C
# tri_gamma returns 0 for x <= 0 and is off by 1e6 ulp elsewhere.  PyTensor's gamma and gammaln
# differentiate through that psi.  The ops below are the same functions without C code: the
# C/CVM back ends then call SciPy's ufuncs (``scipy.special.psi``, ``polygamma``), NUMBA calls
# SciPy's Cython ``psi`` natively, and the gradients go through them.  (trigamma and the
# higher polygammas of a known order are graph formulas, see _polygamma_series; the scalar
# trigamma op below only serves as digamma's derivative inside the scalar graph.)
class _NoCCode:
    def c_code(self, *args, **kwargs):
        raise NotImplementedError("computed by SciPy: PyTensor's C version is inaccurate")

    def c_code_cache_version(self):
        return None


class _TrigammaScalar(_NoCCode, ps.UnaryScalarOp):
    """``polygamma(1, x)`` (SciPy); no Numba kernel exists, NUMBA runs it in object mode."""

    def impl(self, x):
        from scipy import special

        return special.polygamma(1, x)

    def pullback(self, inputs, outputs, grads):
        (x,), (gz,) = inputs, grads
        return [gz * psm.polygamma(ps.constant(np.int64(2)), x)]


class _DigammaScalar(_NoCCode, psm.Psi):
    def pullback(self, inputs, outputs, grads):
        (x,), (gz,) = inputs, grads
        return [gz * _trigamma_scalar(x)]


class _GammaLnScalar(_NoCCode, psm.GammaLn):
    def pullback(self, inputs, outputs, grads):
        (x,), (gz,) = inputs, grads
        return [gz * _digamma_scalar(x)]


class _GammaScalar(psm.Gamma):  # C's tgamma is accurate; only the gradient changes
    def pullback(self, inputs, outputs, grads):
        (x,), (gz,) = inputs, grads
        return [gz * _gamma_scalar(x) * _digamma_scalar(x)]


_trigamma_scalar = _TrigammaScalar(ps.upgrade_to_float_no_complex, name="trigamma")
_digamma_scalar = _DigammaScalar(ps.upgrade_to_float, name="digamma")
_gammaln_scalar = _GammaLnScalar(ps.upgrade_to_float, name="gammaln")
_gamma_scalar = _GammaScalar(ps.upgrade_to_float, name="gamma")
_digamma_op = Elemwise(_digamma_scalar, name="digamma")
_gammaln_op = Elemwise(_gammaln_scalar, name="gammaln")
_gamma_op = Elemwise(_gamma_scalar, name="gamma")


def _with_pullback(op, pullback, name):
    """``op`` applied element-wise, differentiated by ``pullback(x, out, g)`` (inlined at compile time)."""
    from pytensor.compile.builders import OpFromGraph

    def apply(x):
        inner = x.type()
        ofg = OpFromGraph([inner], [op(inner)], inline=True, name=name,
                          pullback=lambda inputs, outputs, grads: [pullback(inputs[0], outputs[0], grads[0])])
        return ofg(x)

    return apply


# Gamma and log Gamma differentiated through :func:`digamma` (native, accurate) instead of the
# scalar ops' own pullbacks (PyTensor's C psi, or an object-mode trigamma for second derivatives)
_gamma_t = _with_pullback(_gamma_op, lambda x, out, g: g * out * digamma(x), "gamma")
_gammaln_t = _with_pullback(_gammaln_op, lambda x, out, g: g * digamma(x), "gammaln")


def _pole(x):
    """True at the poles of Gamma: 0, -1, -2, ..."""
    return pt.and_(pt.le(x, 0), _is_integer(x))


def _safe(cond, x, value=1):
    """``x`` where ``cond``, else a harmless constant (the double-switch idiom for gradients)."""
    return pt.switch(cond, x, _const(value, str(x.dtype)))


def _nan_gradient_where(bad, value, *args):
    """``value`` unchanged, but with a NaN derivative with respect to each of ``args`` where ``bad``.

    ``switch(bad, nan, f(x))`` has the value NaN at a pole but the gradient 0 there (the
    gradient of an untaken ``switch`` branch is 0), a silent wrong number: SymPy's
    derivative is ``zoo`` (``gamma(x) polygamma(0, x)`` at x = 0) or ``0 * zoo = nan``
    there.  The added term ``(a - zero_grad(a)) * switch(bad, nan, 0)`` with
    ``a = switch(bad, x, 0)`` is 0 where not ``bad`` and NaN where ``bad`` (where the value
    is NaN or a special case anyway), and its derivative is NaN where ``bad``, in reverse
    and in forward mode.  (After the rewrites it costs two scalar operations; an
    ``OpFromGraph`` identity with an overridden pullback would cost none, but the printer's
    forward-mode ``pushforward`` differentiates pullbacks a second time, which needs them
    linear in the output gradient and summed over broadcast dimensions.)
    """
    dtype = str(value.dtype)
    marker = pt.switch(bad, _nan(dtype), _const(0, dtype))
    for a in args:
        at = pt.switch(bad, a, pt.zeros_like(a))
        value = value + (at - zero_grad(at)) * marker
    return value


def gamma(x):
    """Gamma(x) (SymPy ``gamma``), C's ``tgamma`` / SciPy's ``gamma``.

    Element-wise, float dtype of ``x``.  NaN at the poles 0, -1, -2, ... (SymPy: ``zoo``),
    ``inf`` past x = 171.62 (float32: 35.04).  Gradient ``gamma(x) digamma(x)``, NaN at
    the poles (SymPy: ``zoo``).
    """
    pole = _pole(x)
    return _nan_gradient_where(pole, pt.switch(pole, _nan(str(x.dtype)), _gamma_t(x)), x)


def loggamma(x):
    """log Gamma(x) (SymPy ``loggamma``), real only where Gamma(x) > 0 (A&S 6.1.41 branch).

    ``gammaln`` computes log|Gamma(x)|, which is SymPy's ``loggamma`` only for x > 0; for
    negative non-integer x SymPy's value is complex, so the result is NaN there; at the poles
    0, -1, ... it is ``inf`` (SymPy: ``oo``).  Gradient ``digamma(x)``.
    """
    dtype = str(x.dtype)
    ok = pt.or_(pt.gt(x, 0), _pole(x))
    # SciPy's gammaln overflows to inf below ~1e-308 (it forms 1/x); there
    # log Gamma(x) = -log(x) - EulerGamma x + O(x**2) is -log(x) to the last bit
    tiny = pt.and_(pt.gt(x, 0), pt.lt(x, _const(2.0**-60, dtype)))
    value = pt.switch(tiny, -pt.log(_safe(tiny, x)), _gammaln_t(_safe(pt.and_(ok, pt.invert(tiny)), x)))
    return pt.switch(ok, value, _nan(dtype))


def digamma(x):
    """psi(x) = Gamma'(x)/Gamma(x) (SymPy ``digamma``, ``polygamma(0, x)``); NaN at the poles.

    The value is SciPy's ``psi`` on every back end (see the note on PyTensor's C ``psi``
    above); its gradient is :func:`_polygamma_series` with n = 1 (an inlined ``OpFromGraph``
    with an overridden pullback), not the scalar trigamma op, which NUMBA could only run in
    object mode (30 us per element).
    """
    from pytensor.compile.builders import OpFromGraph

    xs = _safe(pt.invert(_pole(x)), x)
    inner = xs.type()
    op = OpFromGraph([inner], [_digamma_op(inner)], inline=True, name="digamma",
                     pullback=lambda inputs, outputs, grads: [grads[0] * _polygamma_t(1, inputs[0])])
    return _nan_gradient_where(_pole(x), pt.switch(_pole(x), _nan(str(x.dtype)), op(xs)), x)


def trigamma(x):
    """psi'(x) (SymPy ``trigamma``, ``polygamma(1, x)``); NaN at the poles 0, -1, ...

    :func:`_polygamma_series` with n = 1: native ops on every back end, <= 4 ulp measured.
    """
    return polygamma(_const(1, str(x.dtype)), x)


def polygamma(n, x):
    """psi^(n)(x) (SymPy ``polygamma``), the (n+1)-th derivative of log Gamma (A&S 6.4.1).

    ``n`` must be a non-negative integer value (a float holding one is accepted); for any
    other ``n`` the result is NaN (SymPy's extension to real orders is not computed).  NaN at
    the poles of Gamma.  Order 0 is :func:`digamma`; an order 1 <= n <= 40 known at print time
    is :func:`_polygamma_series` (native ops, <= 4 ulp measured for n <= 8); a symbolic order
    uses PyTensor's ``polygamma`` (SciPy: ~30 us per element under NUMBA, object mode).
    No gradient with respect to ``n`` (PyTensor: ``grad_undefined``, ``pytensor.grad`` raises
    ``NullTypeGradError``).
    """
    order = _constant_value(n)
    if order == 0:
        return digamma(x)
    if order is not None and order >= 1 and order == int(order) and order <= 40:
        value = _polygamma_t(int(order), _safe(pt.invert(_pole(x)), x))
        return _nan_gradient_where(_pole(x), pt.switch(_pole(x), _nan(str(value.dtype)), value), x)
    ok_n = pt.and_(pt.ge(n, 0), _is_integer(n))
    order = pt.cast(pt.switch(ok_n, n, pt.zeros_like(n)), "int64")
    ok = pt.and_(ok_n, pt.invert(_pole(x)))
    value = pt.polygamma(order, _safe(ok, x))
    return _nan_gradient_where(_pole(x), pt.switch(ok, value, _nan(str(value.dtype))), x)


def _polygamma_t(n: int, x):
    """:func:`_polygamma_series` of order n, differentiated as the series of order n + 1.

    An inlined ``OpFromGraph`` whose pullback is ``g * psi^(n+1)(x)`` (A&S 6.4.1), built
    when asked for: the reverse-mode gradient of the series itself (Horner chains, powers)
    is a deep graph that PyTensor's canonicalizer flattens into ``Mul`` nodes of more than
    32 operands, which the Python back end (FAST_COMPILE) cannot run (NumPy ufuncs take at
    most 32 operands).
    """
    from pytensor.compile.builders import OpFromGraph

    inner = x.type()
    op = OpFromGraph([inner], [_polygamma_series(n, inner)], inline=True, name=f"polygamma{n}",
                     pullback=lambda inputs, outputs, grads: [grads[0] * _polygamma_t(n + 1, inputs[0])])
    return op(x)


def _polygamma_series(n: int, x):
    """psi^(n)(x) for an integer order n >= 0 known at print time, with native ops only.

    For x > 0: the recurrence psi^(n)(z) = psi^(n)(z+1) - (-1)**n n!/z**(n+1) (A&S 6.4.6),
    unrolled until z >= 12 + n, then the asymptotic series A&S 6.4.11 with Bernoulli numbers
    B_2 ... B_40.  For x <= 0: the reflection A&S 6.4.7, psi^(n)(x) = (-1)**n psi^(n)(1-x)
    - pi d^n/dx^n cot(pi x), the derivative a polynomial in c = cot(pi x) made exactly by
    SymPy (P_0 = c, P_{k+1} = -pi (1 + c**2) P_k'(c)).  (PyTensor's ``polygamma`` calls SciPy
    from Python under NUMBA, ~30 us per element; ``tri_gamma``'s C code is wrong.)
    """
    dtype = str(x.dtype)
    one = _const(1, dtype)
    pos = pt.gt(x, 0)
    z = pt.switch(pos, x, one - x)
    zmin = 12 + n
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)**(n+1)
    nfact = float(math.factorial(n))
    # the shifts z, z+1, ..., below zmin, each term a function of z alone (no chain, so the
    # gradient graph stays flat); then z + m >= zmin with m = ceil(zmin - z) clipped to [0, zmin]
    power = _const(-(n + 1), dtype)
    terms = []
    for k in range(zmin):
        zk = z + _const(k, dtype)
        low = pt.lt(zk, zmin)
        safe_zk = pt.switch(low, zk, one)
        term = pt.reciprocal(safe_zk) if n == 0 else pt.pow(safe_zk, power)
        terms.append(pt.switch(low, term, pt.zeros_like(z)))
    acc = pt.add(*terms)
    z = z + pt.clip(pt.ceil(_const(zmin, dtype) - z), _const(0, dtype), _const(zmin, dtype))
    t = pt.reciprocal(z)
    if n == 0:  # -(ln z - 1/(2z) - sum B_2k / (2k z**2k)), A&S 6.3.18
        poly = _const(0.0, dtype)
        for k in range(20, 0, -1):
            poly = (poly + _const(float(sympy.bernoulli(2 * k) / (2 * k)), dtype)) * t * t
        tail = -(pt.log(z) - t / _const(2, dtype) - poly)
    else:  # asymptotic series in t = 1/z, evaluated by Horner: sum_j c_j t**(n + j)
        coeffs = {0: math.factorial(n - 1), 1: math.factorial(n) / 2}
        for k in range(1, 21):
            coeffs[2 * k] = float(sympy.bernoulli(2 * k) * sympy.factorial(2 * k + n - 1)
                                  / sympy.factorial(2 * k))
        poly = _const(coeffs[40], dtype)
        for j in range(39, -1, -1):
            poly = poly * t + _const(coeffs.get(j, 0.0), dtype)
        tail = poly * pt.pow(t, _const(n, dtype))
    series = _const(sign, dtype) * (tail + _const(nfact, dtype) * acc)
    # reflection for x <= 0
    c = sympy.Symbol("c")
    p = c
    for _ in range(n):
        p = sympy.expand(-sympy.pi * (1 + c**2) * sympy.diff(p, c))
    cot = _cotpi(_safe(pt.invert(pos), x, 0.5))  # exact argument reduction: cot(-5 pi/2) is 0
    poly_c = sympy.Poly(p, c).all_coeffs()
    refl = _const(float(poly_c[0]), dtype)
    for a in poly_c[1:]:
        refl = refl * cot + _const(float(a), dtype)
    parity = 1.0 if n % 2 == 0 else -1.0
    reflected = _const(parity, dtype) * series - _const(np.pi, dtype) * refl
    return pt.switch(pos, series, reflected)


def _gamma_sign(x):
    """Sign of Gamma(x) away from its poles: 1 for x > 0, (-1)**floor(x) for x < 0."""
    dtype = str(x.dtype)
    odd = pt.eq(pt.mod(pt.floor(x), _const(2, dtype)), 1)
    return pt.switch(pt.gt(x, 0), _const(1, dtype), pt.switch(odd, _const(-1, dtype), _const(1, dtype)))


def _gamma_limit(dtype) -> float:
    """Largest argument whose Gamma is finite in ``dtype`` (minus a margin)."""
    return 170.0 if np.dtype(dtype).itemsize >= 8 else 34.0


#: Smallest argument of the Stirling forms below; mu(z) with 8 terms is exact to 1e-18 there.
_STIRLING_MIN = 10.0


def _stirling_mu(z):
    """mu(z) = log Gamma(z) - (z - 1/2) log z + z - log(2 pi)/2 for z >= 10 (float64).

    The Stirling series sum_k B_2k / (2k (2k-1) z**(2k-1)) (A&S 6.1.40), 8 terms: the
    first omitted term is below 1e-18 at z = 10 (mu enters exponents, so this is absolute).
    """
    t = pt.reciprocal(z)
    t2 = t * t
    poly = _const(0.0, "float64")
    for k in range(8, 0, -1):
        c = float(sympy.bernoulli(2 * k) / (2 * k * (2 * k - 1)))
        poly = poly * t2 + _const(c, "float64")
    return poly * t


def _log_rising_rest(x, k, mu_x=None, mu_xk=None):
    """E in Gamma(x + k)/Gamma(x) = x**k exp(E), for x, x + k >= 10 (float64, Stirling).

    From A&S 6.1.40 with log(x + k) = log x + log1p(k/x):
    ``E = (x - 1/2) log1p(k/x) + k (log1p(k/x) - 1) + mu(x + k) - mu(x)``; the rounded sum
    ``x + k`` enters only through mu, so its rounding does not matter.  (Gamma(x + k)/Gamma(x)
    computed directly loses ``psi(x + k)`` times that rounding, ~log(x) x/2 ulp, and the form
    ``gammaln(x + k) - gammaln(x)`` ~|gammaln(x)| ulp: 4e4 ulp at x = 1e4.)
    """
    half = _const(0.5, "float64")
    lg = pt.log1p(k / x)
    mu_x = _stirling_mu(x) if mu_x is None else mu_x
    mu_xk = _stirling_mu(x + k) if mu_xk is None else mu_xk
    return (x - half) * lg + k * (lg - _const(1, "float64")) + mu_xk - mu_x


def _rising_stirling(x, k):
    """Gamma(x + k)/Gamma(x) = pow(x, k) exp(E) for x, x + k >= 10 (float64); see :func:`_log_rising_rest`."""
    return pt.pow(x, k) * pt.exp(_log_rising_rest(x, k))


def _beta_stirling(a, b):
    """Beta(a, b) for a, b > 0 with max(a, b) >= 10, in float64, without log-gamma differences.

    With p = max(a, b), q = min(a, b), t = q/p (A&S 6.1.40 for the three gammas):
    ``sqrt(2 pi/p) t**(q - 1/2) exp(-(p - 1/2) log1p(t) - q log1p(t) + mu(p) + mu(q) - mu(p + q))``
    for q >= 10, and ``Gamma(q) p**-q exp(-E(p, q))`` (:func:`_log_rising_rest`) for q < 10.
    The rounded sum ``p + q`` enters only through mu.  The error is a few ulp plus ~|log Beta|
    ulp (the roundings of t and of the exponent); ``Gamma(a) Gamma(b)/Gamma(a + b)`` loses
    ``psi(a + b)`` times the rounding of ``a + b`` (240 ulp at beta(120, 30.3)), and
    ``exp(gammaln(a) + gammaln(b) - gammaln(a + b))`` eps * (|gammaln(a)| + ...).
    """
    p, q = pt.maximum(a, b), pt.minimum(a, b)
    mu_p, mu_pq = _stirling_mu(p), _stirling_mu(p + q)  # shared by both forms
    big_q = pt.ge(q, _STIRLING_MIN)
    half, one64 = _const(0.5, "float64"), _const(1, "float64")
    qb = _safe(big_q, q, _STIRLING_MIN)
    t = qb / p
    # (1 + t)**-(p + q - 1/2): for t >= 1/2 as two pows (pow keeps the digits that exp of a
    # rounded exponent of size ~(p + q) loses: 250 ulp at beta(400, 400)); else exp(log1p)
    lg = pt.log1p(t)
    wide = pt.ge(t, half)
    tw = _safe(wide, t, 0.5)
    powers = pt.switch(wide, pt.pow(one64 + tw, half - p) * pt.pow(one64 + tw, -qb),
                       pt.exp(-(p - half) * lg - qb * lg))
    both = (pt.sqrt(_const(2 * np.pi, "float64") / p) * pt.pow(t, qb - half) * powers
            * pt.exp(mu_p + _stirling_mu(qb) - mu_pq))
    qs = _safe(pt.invert(big_q), q)
    one_small = _gamma_t(qs) * pt.pow(p, -qs) * pt.exp(-_log_rising_rest(p, qs, mu_p, mu_pq))
    return pt.switch(big_q, both, one_small)


def _gamma_ratio(num, den):
    """prod Gamma(num) / prod Gamma(den), for arguments that are not poles.

    Directly with Gamma while every argument is below the overflow limit (a few ulp;
    divisions and products alternate, so that Gamma(a) Gamma(b) of tiny a, b never overflows), else
    ``sign * exp(sum gammaln(num) - sum gammaln(den))`` (relative error ~ eps times the
    largest |gammaln|).  Callers handle the poles.
    """
    dtype = _dtype(*num, *den)
    lim = _const(_gamma_limit(dtype), dtype)
    small = reduce_and([pt.lt(pt.abs(a), lim) for a in num + den])
    # interleaved, Gamma(n0) / Gamma(d0) * Gamma(n1) / ..., so that the tiny arguments of
    # beta(x, x) (Gamma(x) ~ 1/x) do not overflow the product of two of them (x = 2e-226)
    gn = [_gamma_t(_safe(small, a)) for a in num]
    gd = [_gamma_t(_safe(small, a)) for a in den]
    direct = gn[0]
    for i in range(max(len(num), len(den))):
        if i < len(gd):
            direct = direct / gd[i]
        if i + 1 < len(gn):
            direct = direct * gn[i + 1]
    big = pt.invert(small)
    sign = reduce_mul([_gamma_sign(a) for a in num + den])
    # in float64 also for float32 graphs: the sum of gammaln values of size L loses L * eps
    # absolutely, i.e. relatively after exp (float32: 7e-4 for binomial(1000, 3))
    wide = [pt.cast(_safe(big, a, 2), "float64") for a in num + den]
    logs = reduce_add([_gammaln_t(a) for a in wide[:len(num)]]) - reduce_add(
        [_gammaln_t(a) for a in wide[len(num):]])
    return pt.switch(small, direct, sign * pt.cast(pt.exp(logs), dtype))


def reduce_and(xs):
    out = xs[0]
    for x in xs[1:]:
        out = pt.and_(out, x)
    return out


def reduce_mul(xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def reduce_add(xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _via_float64(fn):
    """``fn`` computed in float64 for narrower float arguments, the result cast back.

    The gamma ratios round the sums of their arguments (``a + b``, ``x + k``), which costs
    ``psi(a + b)`` times that rounding: up to 24 ulp in float32 near 10 (beta(9.59, 9.59));
    in float64 that is far below a float32 ulp.
    """
    def wrapped(*args):
        dtype = _dtype(*args)
        if np.dtype(dtype).itemsize >= 8:
            return fn(*args)
        return pt.cast(fn(*[pt.cast(a, "float64") for a in args]), dtype)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _exact_integer(value, is_int):
    """Round ``value`` to the nearest integer where ``is_int`` and it is below 2**50 (2**21).

    The rounding removes the few-ulp error of the gamma formulas where the exact result is an
    integer that the float holds exactly; the gradient is the unrounded formula's
    (``value + zero_grad(round(value) - value)``).
    """
    dtype = str(value.dtype)
    limit = _const(2.0**50 if np.dtype(dtype).itemsize >= 8 else 2.0**21, dtype)
    fix = pt.switch(pt.and_(is_int, pt.lt(pt.abs(value), limit)), pt.round(value) - value,
                    pt.zeros_like(value))
    return value + zero_grad(fix)


def factorial(x):
    """x! = Gamma(x + 1) (SymPy ``factorial``, A&S 6.1.5); real ``x`` allowed as in SymPy.

    NaN at the negative integers (SymPy: ``zoo``); ``inf`` past 170 (float32: 34); exact for
    integer results below 2**50 (float32: 2**21), see :func:`_exact_integer`.  The result is
    a float (an integer dtype would overflow at 21!).  Gradient ``Gamma(x+1) digamma(x+1)``.
    """
    dtype = str(x.dtype)
    y = x + _const(1, dtype)
    bad = _pole(y)
    value = _gamma_t(_safe(pt.invert(bad), y))
    value = _exact_integer(value, _is_integer(x))
    return _nan_gradient_where(bad, pt.switch(bad, _nan(dtype), value), x)


@_via_float64
def binomial(n, k):
    """Binomial coefficient (SymPy ``binomial``) for real ``n``, ``k``.

    ``Gamma(n+1) / (Gamma(k+1) Gamma(n-k+1))`` (DLMF 1.2.1, 5.2.1) with SymPy's integer
    conventions: 0 where ``k+1`` or ``n-k+1`` is a pole and ``n+1`` is not (``k < 0`` or
    ``k > n`` for integers); for a negative integer ``n`` and an integer ``k >= 0``,
    ``(-1)**k binomial(k-n-1, k)`` (DLMF 1.2.3), 0 for an integer ``k < 0``, NaN for a
    non-integer ``k`` (SymPy: ``zoo``).  Exact integers below 2**50 (float32: 2**21); beyond
    the Gamma overflow limit the log-gamma form loses ~|log binomial| ulp.
    """
    dtype = _dtype(n, k)
    one = _const(1, dtype)
    k_int = _is_integer(k)
    neg_n = _pole(n + one)
    reflect = pt.and_(neg_n, pt.and_(k_int, pt.ge(k, 0)))
    sign = pt.switch(pt.and_(reflect, pt.eq(pt.mod(k, _const(2, dtype)), 1)), -one, one)
    nn = pt.switch(reflect, k - n - one, n)
    a, b, c = nn + one, k + one, nn - k + one
    zero_den = pt.or_(_pole(b), _pole(c))
    regular = pt.invert(pt.or_(zero_den, _pole(a)))
    value = sign * _gamma_ratio([_safe(regular, a)], [_safe(regular, b), _safe(regular, c)])
    # n >= 22 with k, n - k > -1: 1/((n + 1) Beta(k + 1, n - k + 1)) (DLMF 5.12.1) by Stirling,
    # unless n, k are integers below the overflow limit (the gamma ratio is exact there)
    m = n - k
    exact = reduce_and([_is_integer(n), k_int, pt.lt(a, _const(_gamma_limit(dtype), dtype))])
    stirling = reduce_and([regular, pt.gt(k, -one), pt.gt(m, -one),
                           pt.ge(n, _const(2 * _STIRLING_MIN + 2, dtype)), pt.invert(exact)])
    sn, sk, sm = (pt.cast(_safe(stirling, v, _STIRLING_MIN), "float64") for v in (n, k, m))
    one64 = _const(1, "float64")
    via_beta = pt.reciprocal((sn + one64) * _beta_stirling(sk + one64, sm + one64))
    value = pt.switch(stirling, pt.cast(via_beta, dtype), value)
    value = _exact_integer(value, pt.and_(_is_integer(n), k_int))
    zero = pt.zeros_like(value)
    nan = _nan(dtype)
    out = pt.switch(regular, value, pt.switch(neg_n, nan, zero))
    # n a negative integer: k >= 0 integer reflected above; k < 0 integer: 0; otherwise NaN
    out = pt.switch(pt.and_(neg_n, pt.and_(k_int, pt.lt(k, 0))), zero, out)
    # the gradient where a pole of the gamma ratio is involved: SymPy's derivative there is
    # binomial * (polygamma(0, ...) - ...) = 0 * zoo or zoo, i.e. nan
    return _nan_gradient_where(pt.invert(regular), out, n, k)


@_via_float64
def rising_factorial(x, k):
    """Pochhammer symbol ``x (x+1) ... (x+k-1) = Gamma(x+k)/Gamma(x)`` (SymPy ``RisingFactorial``).

    DLMF 5.2.5.  Where ``x`` and ``x+k`` are both poles (integers <= 0), the limit
    ``(-1)**k Gamma(1-x)/Gamma(1-x-k)`` (DLMF 5.5.3 applied to both); 0 where only ``x`` is a
    pole; NaN where only ``x+k`` is (SymPy: ``zoo``).  Exact integers below 2**50.
    """
    dtype = _dtype(x, k)
    one = _const(1, dtype)
    a, b = x + k, x
    pa, pb = _pole(a), _pole(b)
    both = pt.and_(pa, pb)
    regular = pt.invert(pt.or_(pa, pb))
    odd = pt.eq(pt.mod(k, _const(2, dtype)), 1)
    sign = pt.switch(pt.and_(both, odd), -one, one)
    num = pt.switch(both, one - b, a)
    den = pt.switch(both, one - a, b)
    ok = pt.or_(regular, both)
    value = sign * _gamma_ratio([_safe(ok, num)], [_safe(ok, den)])
    # x, x + k >= 10: Stirling in terms of x and k (see _log_rising_rest), unless both are
    # integers below the overflow limit (x + k exact: the gamma ratio is good to a few ulp)
    lo = _const(_STIRLING_MIN, dtype)
    exact = reduce_and([_is_integer(x), _is_integer(k),
                        pt.lt(pt.maximum(x, a), _const(_gamma_limit(dtype), dtype))])
    # (k < 0: 1/rf(x + k, -k), DLMF 5.2.5; the rounding of x + k costs ~|k| eps/2)
    stirling = reduce_and([regular, pt.ge(x, lo), pt.ge(a, lo), pt.invert(exact)])
    up = pt.ge(k, 0)
    base = pt.cast(_safe(stirling, pt.switch(up, x, a), _STIRLING_MIN), "float64")
    step = pt.cast(_safe(stirling, pt.abs(k), 0), "float64")
    ratio = _rising_stirling(base, step)
    value = pt.switch(stirling, pt.cast(pt.switch(up, ratio, pt.reciprocal(ratio)), dtype), value)
    # an integer only for k >= 0 (rf(80, -3) = 1/(79 78 77))
    value = _exact_integer(value, reduce_and([_is_integer(x), _is_integer(k), pt.ge(k, 0)]))
    out = pt.switch(ok, value, pt.switch(pb, pt.zeros_like(value), _nan(dtype)))
    # at the poles SymPy's derivative rf * (polygamma(0, x+k) - polygamma(0, x)) is nan
    return _nan_gradient_where(pt.invert(regular), out, x, k)


@_via_float64
def falling_factorial(x, k):
    """``x (x-1) ... (x-k+1) = Gamma(x+1)/Gamma(x-k+1)`` = ``RisingFactorial(x-k+1, k)`` (SymPy ``FallingFactorial``)."""
    return rising_factorial(x - k + _const(1, _dtype(x, k)), k)


def _sin_cos_pi(v):
    """(sin(pi v), cos(pi v)) with the exact reduction r = v - round(v) in [-1/2, 1/2]."""
    dtype = str(v.dtype)
    k = pt.round(v)
    r = v - k
    sign = pt.switch(pt.eq(pt.mod(k, _const(2, dtype)), 1), _const(-1, dtype), _const(1, dtype))
    pi = _const(np.pi, dtype)
    return sign * pt.sin(pi * r), sign * pt.cos(pi * r)


def _sinpi(v):
    """sin(pi v) with exact argument reduction (a few ulp for any v)."""
    return _sin_cos_pi(v)[0]


def _cospi(v):
    """cos(pi v) with exact argument reduction; 0 exactly at the half-integers is not promised."""
    return _sin_cos_pi(v)[1]


def _cotpi(v):
    """cot(pi v) for a non-integer v: r = v - round(v), cot(pi r) = tan(pi (1/2 - |r|)) sign(r)
    for |r| >= 1/4 (1/2 - |r| exact: 0 at the half-integers), 1/tan(pi |r|) sign(r) below."""
    dtype = str(v.dtype)
    r = v - pt.round(v)
    a = pt.abs(r)
    pi = _const(np.pi, dtype)
    near = pt.lt(a, _const(0.25, dtype))
    return pt.sign(r) * pt.switch(near, pt.reciprocal(pt.tan(pi * _safe(near, a, 0.125))),
                                  pt.tan(pi * (_const(0.5, dtype) - a)))


def _beta_positive(a, b):
    """Beta(a, b) for a, b > 0: :func:`_beta_stirling` where max(a, b) >= 10, unless both are
    integers below the overflow limit (a + b exact: the gamma ratio is good to a few ulp);
    the gamma ratio otherwise (its rounding of a + b costs at most ~25 ulp below 10)."""
    dtype = _dtype(a, b)
    c = a + b
    direct = _gamma_ratio([a, b], [c])
    exact = reduce_and([_is_integer(a), _is_integer(b), pt.lt(c, _const(_gamma_limit(dtype), dtype))])
    stirling = pt.and_(pt.ge(pt.maximum(a, b), _STIRLING_MIN), pt.invert(exact))
    sa, sb = (pt.cast(_safe(stirling, v, _STIRLING_MIN), "float64") for v in (a, b))
    return pt.switch(stirling, pt.cast(_beta_stirling(sa, sb), dtype), direct)


@_via_float64
def beta(a, b):
    """Euler's Beta(a, b) = Gamma(a) Gamma(b) / Gamma(a+b) (SymPy ``beta``, A&S 6.2.2).

    The gamma ratio of :func:`_gamma_ratio` for small arguments, :func:`_beta_stirling` for
    positive ones with max(a, b) >= 10 (unless both are integers below the overflow limit).
    At the poles of Gamma (0, -1, ...): 0 where only ``a + b`` is one (as SymPy); the
    finite limit ``(-1)**r Gamma(r) Gamma(1-p-r)/Gamma(1-p)`` where one argument ``p`` and
    ``a + b`` are poles and the other, ``r``, is not (SymPy: ``beta(-1, 1) = -1``); NaN
    where ``a`` or ``b`` is a pole otherwise (SymPy: ``zoo``).  Relative error: a few ulp
    (float32: computed in float64), up to ~(32 + |log Beta|) ulp in float64 for large
    arguments (see :func:`_beta_stirling`).
    """
    dtype = _dtype(a, b)
    c = a + b
    pa, pb = _pole(a), _pole(b)
    # one of a, b a pole p and a + b a pole: the poles cancel, Gamma(p)/Gamma(p + r) =
    # 1/rf(p, r) = (-1)**r Gamma(1 - p - r)/Gamma(1 - p) (DLMF 5.5.3) with r = the other
    # argument, a positive integer: beta(-1, 1) = -1, beta(-3, 2) = 1/6 (SymPy, mpmath)
    cancel = pt.and_(pt.xor(pa, pb), _pole(c))
    zero = reduce_and([pt.invert(pa), pt.invert(pb), _pole(c)])
    ok = reduce_and([pt.invert(pa), pt.invert(pb), pt.invert(zero)])
    one = _const(1, dtype)
    positive = reduce_and([ok, pt.gt(a, 0), pt.gt(b, 0)])
    # one argument n < 0 (not a pole), the other p > 0, a + b < 1: Beta(n, p) =
    # S Beta(p, 1 - n - p) with S = sin(pi (n + p))/sin(pi n) = cos(pi p) + cot(pi n) sin(pi p)
    # (reflection DLMF 5.5.3 of Gamma(n) and Gamma(n + p)); the direct ratio loses
    # psi(a + b) times the rounding of a + b (1e4 ulp at beta(-562.5, 2.32), found by the
    # properties) and S has no rounded sum in it
    neg_a = reduce_and([ok, pt.lt(a, 0), pt.gt(b, 0), pt.lt(c, one)])
    neg_b = reduce_and([ok, pt.lt(b, 0), pt.gt(a, 0), pt.lt(c, one)])
    refl = pt.or_(neg_a, neg_b)
    n_ = _safe(refl, pt.switch(neg_a, a, b), -0.5)
    p_ = _safe(refl, pt.switch(neg_a, b, a), 0.5)
    s_factor = _cospi(p_) + _cotpi(n_) * _sinpi(p_)
    # the cancelling poles (see above): (-1)**r Beta(r, 1 - q - r)
    q_ = _safe(cancel, pt.switch(pa, a, b), -1)
    r_ = _safe(cancel, pt.switch(pa, b, a), 1)
    odd = pt.eq(pt.mod(r_, _const(2, dtype)), 1)
    # one Beta of positive arguments serves the three cases
    u = pt.switch(positive, a, pt.switch(refl, p_, pt.switch(cancel, r_, one)))
    v = pt.switch(positive, b, pt.switch(refl, one - n_ - p_, pt.switch(cancel, one - q_ - r_, one)))
    factor = pt.switch(refl, s_factor, pt.switch(pt.and_(cancel, odd), -one, one))
    pos_value = factor * _beta_positive(u, v)
    other = pt.invert(reduce_and([pt.invert(positive), pt.invert(refl), pt.invert(cancel)]))
    general = pt.and_(ok, pt.invert(other))  # both negative, or one negative with a + b >= 1
    value = _gamma_ratio([_safe(general, a), _safe(general, b)], [_safe(general, c, 2)])
    value = pt.switch(other, pos_value, value)
    # a tiny argument next to one below 1/2: (1/a + 1/b) Gamma(a+1) Gamma(b+1)/Gamma(a+b+1)
    # (A&S 6.1.15): Gamma(a) Gamma(b) overflows for a b < 1e-308 although Beta ~ 1/a + 1/b
    # does not (the interleaved ratio avoids it only where the back end keeps the order:
    # NUMBA's fastmath re-associates it)
    small = _const(0.5, dtype)
    tiny = reduce_and([ok, pt.lt(pt.abs(a), small), pt.lt(pt.abs(b), small),
                       pt.lt(pt.minimum(pt.abs(a), pt.abs(b)), _const(2.0**-60, dtype))])
    ta, tb = _safe(tiny, a, 0.25), _safe(tiny, b, 0.25)
    near_zero = ((pt.reciprocal(ta) + pt.reciprocal(tb)) * _gamma_t(ta + one) / _gamma_t(ta + tb + one)
                 * _gamma_t(tb + one))
    value = pt.switch(tiny, near_zero, value)
    out = pt.switch(pt.or_(ok, cancel), value, pt.switch(zero, pt.zeros_like(value), _nan(dtype)))
    # SymPy's derivative beta * (polygamma(0, a) - polygamma(0, a + b)) is zoo or 0 * zoo there
    return _nan_gradient_where(pt.invert(ok), out, a, b)


# ---------------------------------------------------------------------------- incomplete gamma and beta
def lowergamma(s, x):
    """Lower incomplete gamma gamma(s, x) = Gamma(s) P(s, x) (SymPy ``lowergamma``, DLMF 8.2.4).

    PyTensor's regularized ``gammainc`` (P), which is differentiable in both ``s`` and ``x``,
    times Gamma(s).  Domain ``s > 0``, ``x >= 0``; NaN elsewhere (SymPy's value for x < 0 or
    s <= 0 is complex or infinite in general).  ``inf`` once Gamma(s) overflows (s > 171.6).
    """
    ok = pt.and_(pt.gt(s, 0), pt.ge(x, 0))
    value = gamma(_safe(ok, s)) * pt.gammainc(_safe(ok, s), _safe(ok, x))
    return pt.switch(ok, value, _nan(str(value.dtype)))


_EXPN_OP = []


def _expn(n, x):
    """E_n(x) for an integer order n >= 0 (float holding it): SciPy's ``expn`` kernel.

    A :class:`~sympy_theano_printer.fallback.SymPyScalarOp` of ``expint(n, x)`` over an order
    symbol declared a nonnegative integer, so that its C and Numba implementations call
    SciPy's compiled ``expn`` (no object mode).  Not differentiated here: callers give the
    pullback.
    """
    if not _EXPN_OP:
        from .fallback import SymPyScalarOp

        order = sympy.Symbol("n", integer=True, nonnegative=True)
        arg = sympy.Symbol("x", real=True)
        _EXPN_OP.append(Elemwise(SymPyScalarOp([order, arg], sympy.expint(order, arg), name="expn")))
    return _EXPN_OP[0](n, x)


def _uppergamma_nonpositive_integer(s, x):
    """Gamma(s, x) = x**s E_{1-s}(x) for s = 0, -1, -2, ... and x > 0 (DLMF 8.19.1).

    ``pow`` (<= 1 ulp) times SciPy's ``expn`` (a few ulp).  The derivative in ``x`` is
    ``-x**(s-1) exp(-x)`` (DLMF 8.8.13, valid for every s); the one in ``s`` is not
    computed (NaN).
    """
    from pytensor.compile.builders import OpFromGraph

    s, x = pt.broadcast_arrays(s, x)
    si, xi = s.type(), x.type()
    one = _const(1, str(s.dtype))

    def pullback(inputs, outputs, grads):
        s_, x_ = inputs
        (g,) = grads
        dx = -g * pt.pow(x_, s_ - one) * pt.exp(-x_)
        return [pt.full_like(s_, np.nan) * g, dx]

    value = pt.pow(xi, si) * pt.cast(_expn(one - si, xi), str(xi.dtype))
    op = OpFromGraph([si, xi], [value], inline=True, name="uppergamma_expn", pullback=pullback)
    return op(s, x)


def uppergamma(s, x):
    """Upper incomplete gamma Gamma(s, x) (SymPy ``uppergamma``, DLMF 8.2.2).

    * ``s > 0``, ``x >= 0``: PyTensor's regularized ``gammaincc`` (Q) times Gamma(s)
      (DLMF 8.2.4), differentiated as ``-gammainc`` (PyTensor's own gradient of
      ``gammaincc`` in ``s`` is wrong by up to 1e-5 relative);
    * ``s = 0, -1, -2, ...``, ``x > 0``: ``x**s E_{1-s}(x)`` (DLMF 8.19.1) with SciPy's
      ``expn``; ``uppergamma(0, x)`` is E1(x), a few ulp.  At x = 0: ``inf`` for s = 0
      (SymPy: ``expint(1, 0) = oo``), NaN for s < 0 (SymPy: ``zoo``).  The gradient in
      ``s`` is NaN there (not computed);
    * NaN elsewhere: for x < 0 SymPy's value is complex except for the positive integers s
      (not computed here), and for a non-integer s < 0 the value is real but not computed
      (the available formulas, the recurrence DLMF 8.8.2 from s + m > 0, the series
      DLMF 8.7.3 or SciPy's ``hyperu``, lose up to all digits near the negative integers
      or for x >> |s|).

    Element-wise, broadcasting; the float dtype of the arguments.
    """
    dtype = _dtype(s, x)
    value_s = _constant_value(s)
    pos = pt.and_(pt.gt(s, 0), pt.ge(x, 0))
    nonpos_int = pt.and_(pt.le(s, 0), _is_integer(s))
    branches = []
    if value_s is None or value_s > 0:
        sp_, xp = _safe(pos, s), _safe(pos, x)
        # PyTensor's gradient of gammaincc with respect to s is off by 1e-7..1e-5 relative
        # (measured against mpmath.diff); the one of gammainc is good to 1e-11.  Q = 1 - P, so
        # the value is taken from gammaincc and the gradient from -gammainc: P - zero_grad(P)
        # is 0 in value.
        p = pt.gammainc(sp_, xp)
        q = zero_grad(pt.gammaincc(sp_, xp)) - (p - zero_grad(p))
        branches.append((pos, gamma(sp_) * q))
    if value_s is None or (value_s <= 0 and value_s == math.floor(value_s)):
        inside = pt.and_(nonpos_int, pt.gt(x, 0))
        e = _uppergamma_nonpositive_integer(_safe(inside, s, 0), _safe(inside, x))
        at_zero = pt.and_(pt.eq(s, 0), pt.eq(x, 0))
        branches.append((inside, e))
        branches.append((at_zero, pt.fill(e, _const(np.inf, dtype))))
    out = _nan(dtype)
    for cond, value in reversed(branches):
        out = pt.switch(cond, value, out)
    return out


def _regularized_beta(a, b, x):
    """I_x(a, b) with the end points 0 and 1 exact (PyTensor's gradient in a, b is NaN there)."""
    dtype = str(x.dtype)
    inner = pt.and_(pt.gt(x, 0), pt.lt(x, 1))
    value = pt.betainc(a, b, _safe(inner, x, 0.5))
    return pt.switch(inner, value, pt.switch(pt.le(x, 0), _const(0, dtype), _const(1, dtype)))


def _incomplete_beta_hyp(a, b, x):
    """B_x(a, b) = x**a / a * 2F1(a, 1 - b; a + 1; x) (DLMF 8.17.7), for the extended domain.

    Real where ``x >= 0`` or ``a`` is an integer (``x**a``), and where ``x <= 1`` or ``b`` is a
    positive integer (then 2F1 is a polynomial, also past its branch point 1).  Callers
    select those points and keep ``a`` away from 0, -1, -2, ... (the pole of 1/a and of
    2F1's ``c``).
    """
    one = _const(1, _dtype(a, b, x))
    return pt.pow(x, a) / a * pt.hyp2f1(a, one - b, a + one, x)


def _betainc_domains(a, b, x1, x2):
    """(standard, extended, infinite_beta) masks of the incomplete beta's arguments.

    standard: ``a, b > 0`` and both limits in [0, 1] (PyTensor's ``betainc``); extended:
    every other real, convergent case of the integral ``int_x1^x2 t**(a-1) (1-t)**(b-1) dt``
    that :func:`_incomplete_beta_hyp` computes; infinite_beta: ``a`` or ``b`` a pole of
    Gamma and ``a + b`` not one (Beta(a, b) infinite, SymPy's regularized value is 0).  A
    limit at 0 with ``a <= 0`` or at 1 with ``b <= 0`` (a divergent integral; SymPy: nan) is
    in none of them.
    """
    ok = reduce_and([pt.gt(a, 0), pt.gt(b, 0), pt.ge(x1, 0), pt.le(x1, 1), pt.ge(x2, 0), pt.le(x2, 1)])
    pos_int_b = pt.and_(pt.gt(b, 0), _is_integer(b))

    def real_at(x):
        return pt.and_(pt.or_(pt.ge(x, 0), _is_integer(a)), pt.or_(pt.le(x, 1), pos_int_b))

    finite = reduce_and([pt.isfinite(v) for v in (a, b, x1, x2)])
    # the integrand's singularities: t**(a-1) at 0 for a <= 0, (1-t)**(b-1) at 1 for b <= 0
    at_zero = pt.or_(pt.le(x1, 0), pt.le(x2, 0))
    at_one = pt.or_(pt.ge(x1, 1), pt.ge(x2, 1))
    diverges = pt.or_(pt.and_(pt.le(a, 0), at_zero), pt.and_(pt.le(b, 0), at_one))
    extended = reduce_and([pt.invert(ok), finite, pt.invert(_pole(a)), pt.invert(diverges),
                           real_at(x1), real_at(x2)])
    infinite_beta = reduce_and([pt.or_(_pole(a), _pole(b)), pt.invert(_pole(a + b)), finite,
                                pt.invert(diverges)])
    return ok, extended, infinite_beta


def _regularized_standard(a, b, x1, x2):
    """I_{x2}(a, b) - I_{x1}(a, b) for a, b > 0 and limits in [0, 1] (PyTensor's ``betainc``);
    the complements ``I_{1-x1}(b, a) - I_{1-x2}(b, a)`` where both limits are >= 1/2."""
    dtype = _dtype(a, b, x1, x2)
    one, half = _const(1, dtype), _const(0.5, dtype)
    upper = pt.and_(pt.ge(x1, half), pt.ge(x2, half))
    direct = _regularized_beta(a, b, x2) - _regularized_beta(a, b, x1)
    comp = _regularized_beta(b, a, one - x1) - _regularized_beta(b, a, one - x2)
    return pt.switch(upper, comp, direct)


@_via_float64
def betainc_regularized(a, b, x1, x2):
    """I_{x2}(a, b) - I_{x1}(a, b) (SymPy ``betainc_regularized``, DLMF 8.17.2).

    * ``a, b > 0`` and limits in [0, 1]: PyTensor's ``betainc`` (differentiable in a, b, x).
      Where both limits are >= 1/2 the complements ``I_{1-x1}(b, a) - I_{1-x2}(b, a)`` are
      subtracted instead, which avoids the cancellation of two values near 1;
    * ``a`` or ``b`` in 0, -1, -2, ... (and ``a + b`` not): 0, as SymPy (1/Beta(a, b) = 0);
    * the other real cases (a limit below 0 with an integer ``a``, a limit above 1 with a
      positive integer ``b``, ``a`` or ``b`` negative): ``(B_x2 - B_x1) / Beta(a, b)`` with
      ``B_x(a, b) = x**a/a 2F1(a, 1-b; a+1; x)`` (DLMF 8.17.7, PyTensor's ``hyp2f1``);
    * NaN where SymPy's value is complex (a limit below 0 with a non-integer ``a``, above 1
      with ``b`` not a positive integer) or not finite.
    """
    dtype = _dtype(a, b, x1, x2)
    ok, extended, infinite_beta = _betainc_domains(a, b, x1, x2)
    value = _regularized_standard(*(_safe(ok, v, 0.5) for v in (a, b, x1, x2)))
    ea, eb, e1, e2 = (_safe(extended, v, 0.5) for v in (a, b, x1, x2))
    ext = (_incomplete_beta_hyp(ea, eb, e2) - _incomplete_beta_hyp(ea, eb, e1)) / beta(ea, eb)
    out = pt.switch(ok, value, pt.switch(extended, ext, _nan(dtype)))
    return pt.switch(pt.and_(infinite_beta, pt.invert(ok)), pt.zeros_like(out), out)


@_via_float64
def betainc(a, b, x1, x2):
    """Generalized incomplete beta B(a, b) (I_{x2} - I_{x1}) = int_x1^x2 t**(a-1) (1-t)**(b-1) dt.

    SymPy ``betainc``, DLMF 8.17.1: ``beta(a, b)`` times :func:`betainc_regularized` in the
    standard domain; ``B_x2 - B_x1`` of DLMF 8.17.7 (see :func:`_incomplete_beta_hyp`) in the
    extended one, also where Beta(a, b) is infinite but the integral is not (``b = 0`` with
    limits below 1); NaN where SymPy's value is complex.
    """
    dtype = _dtype(a, b, x1, x2)
    ok, extended, _ = _betainc_domains(a, b, x1, x2)
    sa, sb, s1, s2 = (_safe(ok, v, 0.5) for v in (a, b, x1, x2))
    value = beta(sa, sb) * _regularized_standard(sa, sb, s1, s2)
    ea, eb, e1, e2 = (_safe(extended, v, 0.5) for v in (a, b, x1, x2))
    ext = _incomplete_beta_hyp(ea, eb, e2) - _incomplete_beta_hyp(ea, eb, e1)
    return pt.switch(ok, value, pt.switch(extended, ext, _nan(dtype)))


# ---------------------------------------------------------------------------- error functions
def erf2(x, y):
    """erf(y) - erf(x) (SymPy ``erf2``) without cancellation in the tails.

    For ``x, y >= 1/2``: ``erfc(x) - erfc(y)``; for ``x, y <= -1/2``: ``erfc(-y) - erfc(-x)``;
    otherwise ``erf(y) - erf(x)`` (A&S 7.1.2): where erf is near +-1 its complement carries
    the digits, near 0 erf itself does.
    """
    half = _const(0.5, _dtype(x, y))
    pos = pt.and_(pt.ge(x, half), pt.ge(y, half))
    neg = pt.and_(pt.le(x, -half), pt.le(y, -half))
    return pt.switch(pos, pt.erfc(x) - pt.erfc(y),
                     pt.switch(neg, pt.erfc(-y) - pt.erfc(-x), pt.erf(y) - pt.erf(x)))


# ---------------------------------------------------------------------------- Bessel functions
def besselj(nu, x):
    """Bessel J_nu(x) (SymPy ``besselj``): ``j0``/``j1`` for the orders 0/1 known at print time,
    else ``jv``.  NaN for x < 0 and a non-integer order (SymPy: complex); 0 at x = +-inf
    (SymPy's limit; PyTensor's ops disagree there between back ends).  No gradient with
    respect to the order (``jv``: ``grad_not_implemented``, ``pytensor.grad`` raises).
    """
    order = _constant_value(nu)
    if order == 0:
        value = pt.j0(x)
    elif order == 1:
        value = pt.j1(x)
    else:
        value = pt.jv(nu, x)
    return pt.switch(pt.isinf(x), pt.zeros_like(value), value)


def besseli(nu, x):
    """Modified Bessel I_nu(x) (SymPy ``besseli``): ``i0``/``i1`` for orders 0/1 known at print
    time, else ``iv`` (``ive(nu, x) exp|x|``).  NaN for x < 0 and a non-integer order.
    No gradient with respect to the order.
    """
    order = _constant_value(nu)
    if order == 0:
        return pt.i0(x)
    if order == 1:
        return pt.i1(x)
    return pt.iv(nu, x)


def besselk(nu, x):
    """Modified Bessel K_nu(x) (SymPy ``besselk``): ``kv`` (``kve(nu, x) exp(-x)``, which also
    serves integer orders).  ``inf`` at 0, 0 at +inf, NaN for x < 0 (SymPy: complex).
    No gradient with respect to the order.
    """
    value = pt.kv(nu, x)
    return pt.switch(pt.eq(x, np.inf), pt.zeros_like(value), value)


def hyp2f1(a, b, c, z):
    """Gauss' 2F1(a, b; c; z) (SymPy ``hyper([a, b], [c], z)``), PyTensor's ``hyp2f1``.

    Real for z <= 1; NaN for z > 1 (SymPy's value is on the branch cut, complex).
    Differentiable in a, b, c (series) and z.
    """
    value = pt.hyp2f1(a, b, c, z)
    return pt.switch(pt.gt(z, 1), _nan(str(value.dtype)), value)


# ---------------------------------------------------------------------------- elementary extras
def sinc(x):
    """sin(x)/x with the removable point: 1 at 0 (SymPy ``sinc``, unnormalized).

    ``1 - x**2/6`` for |x| < 1e-4 (the next term, x**4/120, is below half an ulp), 0 at
    +-inf (SymPy's limit).  Gradient ``-x/3`` near 0, ``(x cos x - sin x)/x**2`` elsewhere.
    """
    dtype = str(x.dtype)
    small = pt.lt(pt.abs(x), _const(1e-4, dtype))
    xs = _safe(pt.invert(small), x)
    series = _const(1, dtype) - x * x / _const(6, dtype)
    value = pt.switch(small, series, pt.sin(xs) / xs)
    return pt.switch(pt.isinf(x), pt.zeros_like(value), value)


def dirac_delta(x, k=None):
    """DiracDelta(x) and its k-th derivative DiracDelta(x, k) as numbers: 0 for x != 0, NaN at 0.

    A distribution has no value at 0 (SymPy leaves ``DiracDelta(0)`` unevaluated); NaN there
    makes a sample that hits the singular point visible instead of silently 0 or inf.
    NaN stays NaN.  The gradient is 0.
    """
    dtype = str(x.dtype)
    return pt.switch(pt.or_(pt.eq(x, 0), pt.isnan(x)), _nan(dtype), pt.zeros_like(x))

class SpecialFunctionPrinterMixin:
    """``_print_<Class>`` methods for special functions, mixed into :class:`TheanoPrinter`."""

    def _print_hyper(self, expr, **kwargs):
        """``hyper([a, b], [c], z)`` as :func:`hyp2f1`; other shapes go to ``_print_unmapped``."""
        ap, bq, z = expr.args
        if len(ap) != 2 or len(bq) != 1:
            return self._print_unmapped(expr)
        a, b = (self.as_float(self._print(t)) for t in ap)
        c = self.as_float(self._print(bq[0]))
        return hyp2f1(a, b, c, self.as_float(self._print(z)))
