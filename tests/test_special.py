"""Special functions (sympy_theano_printer/special.py) beyond the value table of test_mapping.py.

* the special-function value cases of ``tests/test_mapping.py`` (which run under the default
  NUMBA back end) again under the CVM (C) and FAST_COMPILE (Python) back ends, against the same
  mpmath references and tolerances: PyTensor's C ``psi`` and ``tri_gamma`` are wrong by up to
  1e7 ulp (``tri_gamma`` returns 0 for x <= 0), which the printer avoids; this guards it;
* gradients (``Derivative`` printed through ``pytensor.grad``) against ``sympy.diff`` evaluated
  at 30 digits (mpmath's numerical derivative where SymPy leaves the derivative unevaluated);
* the domain conventions: NaN where SymPy's value is complex or ``zoo``;
* exact integers from factorial/binomial, float32 graphs staying float32, errors for
  gradients PyTensor does not have (Bessel orders, polygamma orders).

Tolerances are ``k * eps`` of the output dtype; ``k`` per family is given with each table.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from pytensor.gradient import NullTypeGradError

import test_mapping as tm
from sympy_theano_printer import TheanoPrinter, UnsupportedExpressionError, theano_function

inf, nan = math.inf, math.nan

SPECIAL_CLASSES = {
    sp.gamma, sp.loggamma, sp.digamma, sp.trigamma, sp.polygamma, sp.beta, sp.lowergamma,
    sp.uppergamma, sp.betainc, sp.betainc_regularized, sp.erf, sp.erfc, sp.erfinv, sp.erfcinv,
    sp.erf2, sp.besselj, sp.besseli, sp.besselk, sp.hyper, sp.factorial, sp.binomial,
    sp.RisingFactorial, sp.FallingFactorial, sp.sinc, sp.DiracDelta,
}
SPECIAL_CASES = [c for c in tm.CASES if set(c.covers) & SPECIAL_CLASSES]
CHUNK = 12


def _chunks(cases):
    groups = {}
    for c in cases:
        groups.setdefault(c.group, []).append(c)
    for members in groups.values():
        for i in range(0, len(members), CHUNK):
            yield members[i:i + CHUNK]


def _run(cases, mode):
    return tm._compile_and_run(cases, mode=mode)


_BACKEND_RESULTS: dict = {}


def test_special_cases_exist():
    assert len(SPECIAL_CASES) >= 40, [c.name for c in SPECIAL_CASES]


@pytest.mark.parametrize("mode", ["CVM", "FAST_COMPILE"])
def test_special_values_on_other_backends(mode, mpmath_dps30, close_to_reference):
    """Every special-function case of test_mapping.py, on the C and Python back ends."""
    failures = []
    for chunk in _chunks(SPECIAL_CASES):
        for c, values in zip(chunk, _run(chunk, mode)):
            try:
                close_to_reference(values, tm.reference_values(c), c.out, k=c.k, atol=c.atol,
                                   err_msg=f"{mode} {c.name}: {c.expr()} at {c.rows}")
            except AssertionError as err:
                failures.append(str(err))
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------- domains
x, y, z, w = sp.symbols("x y z w")
#: (expression, {symbol: value}, expected): NaN where SymPy's value is complex or zoo.
DOMAIN = [
    (sp.gamma(x), {x: -1.0}, nan),  # pole: zoo
    (sp.gamma(x), {x: 0.0}, nan),
    (sp.loggamma(x), {x: -2.5}, nan),  # log Gamma(-2.5) is complex (Gamma(-2.5) < 0)
    (sp.loggamma(x), {x: -0.5}, nan),
    (sp.polygamma(0, x), {x: -3.0}, nan),  # poles: zoo (PyTensor's C psi returns inf)
    (sp.polygamma(1, x), {x: 0.0}, nan),
    (sp.polygamma(y, x), {x: 2.0, y: 0.5}, nan),  # non-integer order
    (sp.polygamma(y, x), {x: 2.0, y: -1.0}, nan),
    (sp.factorial(x), {x: -1.0}, nan),  # zoo
    (sp.factorial(x), {x: -3.0}, nan),
    (sp.lowergamma(x, y), {x: -1.5, y: 2.0}, nan),
    (sp.lowergamma(x, y), {x: 2.0, y: -1.0}, nan),
    (sp.uppergamma(x, y), {x: -1.5, y: 2.0}, nan),  # real, but not computed (see uppergamma)
    (sp.uppergamma(x, y), {x: 0.0, y: -1.0}, nan),  # E1 of a negative number: complex
    (sp.uppergamma(x, y), {x: -1.0, y: 0.0}, nan),  # zoo
    (sp.besselj(x, y), {x: 0.5, y: -1.0}, nan),  # complex
    (sp.besseli(x, y), {x: 0.5, y: -1.0}, nan),
    (sp.besselk(x, y), {x: 1.0, y: -1.0}, nan),
    (sp.hyper([x, y], [z], w), {x: 1.0, y: 1.0, z: 3.0, w: 1.5}, nan),  # branch cut
    (sp.betainc_regularized(x, y, 0, z), {x: 2.0, y: 2.5, z: 1.5}, nan),  # (1-t)**1.5, t > 1: complex
    (sp.betainc_regularized(x, y, z, w), {x: 0.5, y: 2.0, z: -0.5, w: 0.5}, nan),  # t**-0.5, t < 0
    (sp.betainc_regularized(x, y, 0, z), {x: -2.0, y: 3.0, z: 0.5}, nan),  # divergent at 0
    (sp.binomial(x, y), {x: -3.0, y: 0.5}, nan),  # zoo
    (sp.RisingFactorial(x, y), {x: 0.5, y: -0.5}, nan),  # Gamma(0)/Gamma(0.5): zoo
    (sp.beta(x, y), {x: -1.0, y: 2.0}, nan),  # zoo
    (sp.DiracDelta(x), {x: 0.0}, nan),  # a distribution: no value at 0
    (sp.DiracDelta(x, 1), {x: 0.0}, nan),
    # the real values SymPy gives at the edges of the same formulas
    (sp.loggamma(x), {x: -2.0}, inf),
    (sp.binomial(x, y), {x: -3.0, y: -2.0}, 0.0),
    (sp.RisingFactorial(x, y), {x: -3.0, y: 5.0}, 0.0),
    (sp.beta(x, y), {x: 2.0, y: -2.5}, float(sp.beta(2, sp.Rational(-5, 2)))),
    (sp.besselk(x, y), {x: 1.0, y: inf}, 0.0),
    (sp.besselj(x, y), {x: 0.0, y: inf}, 0.0),
    (sp.sinc(x), {x: inf}, 0.0),
    (sp.uppergamma(x, y), {x: 0.0, y: 1.0}, float(mpmath.e1(1))),  # E1(1)
    (sp.uppergamma(x, y), {x: 0.0, y: 0.0}, inf),  # expint(1, 0) = oo
    # the incomplete beta integral outside a, b > 0, 0 <= x <= 1 where it is real
    (sp.betainc_regularized(x, y, 0, z), {x: 2.0, y: 3.0, z: 1.5}, 1.6875),  # polynomial integrand
    (sp.betainc_regularized(x, y, 0, z), {x: 0.5, y: 3.0, z: 1.5},  # (1-t)**2 real past 1
     float(sp.betainc_regularized(sp.Rational(1, 2), 3, 0, sp.Rational(3, 2)).evalf(30))),
    (sp.betainc_regularized(x, y, z, w), {x: 1.0, y: 2.0, z: -0.1, w: 0.5}, 0.96),
    (sp.betainc_regularized(x, y, z, w), {x: 0.5, y: 0.0, z: 0.5, w: 0.9}, 0.0),  # 1/Beta(a, 0) = 0
    (sp.betainc_regularized(x, y, z, w), {x: -0.5, y: 2.0, z: 0.2, w: 0.5},
     float(sp.betainc_regularized(sp.Rational(-1, 2), 2, sp.Rational(1, 5), sp.Rational(1, 2)).evalf(30))),
    (sp.betainc(x, y, z, w), {x: 0.5, y: 0.0, z: 0.5, w: 0.9},
     float(sp.betainc(sp.Rational(1, 2), 0, sp.Rational(1, 2), sp.Rational(9, 10)).evalf(30))),
    # beta where one argument and the sum are poles: the poles cancel (SymPy, mpmath)
    (sp.beta(x, y), {x: -1.0, y: 1.0}, -1.0),
    (sp.beta(x, y), {x: 1.0, y: -1.0}, -1.0),
    (sp.beta(x, y), {x: -3.0, y: 2.0}, 1 / 6),
    (sp.beta(x, y), {x: -1.0, y: -1.0}, nan),  # Gamma(-1)**2/Gamma(-2): zoo
    (sp.binomial(x, y), {x: -1.0, y: -1.0}, 0.0),  # SymPy: 0 for an integer k < 0 (mpmath: 1)
    # beta of tiny arguments: Gamma(x)**2 overflows, the ratio ~2/x does not
    (sp.beta(x, y), {x: 2.2673561965202135e-226, y: 2.2673561965202135e-226},
     float(mpmath.beta(mpmath.mpf(2.2673561965202135e-226), mpmath.mpf(2.2673561965202135e-226)))),
]


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_domain_conventions(mode):
    table = _for_mode(DOMAIN, mode)
    symbols = sorted({s for e, vals, _ in table for s in vals}, key=str)
    inputs, outputs, arrays = [], [], []
    for i, (expr, vals, _) in enumerate(table):
        fresh = {s: sp.Symbol(f"d{i}_{s}") for s in vals}
        outputs.append(expr.xreplace(fresh))
        for s, v in vals.items():
            inputs.append(fresh[s])
            arrays.append(np.asarray([v]))
    assert symbols
    fn = theano_function(inputs, outputs, dims={s: 1 for s in inputs}, mode=mode)
    got = [float(v[0]) for v in fn(*arrays)]
    for (expr, vals, expected), value in zip(table, got):
        if math.isnan(expected):
            assert math.isnan(value), f"{mode}: {expr} at {vals} gave {value}, expected NaN"
        else:
            assert value == pytest.approx(expected, rel=1e-14), f"{mode}: {expr} at {vals} gave {value}"


def test_sympy_agrees_on_the_real_edge_values():
    """The non-NaN expectations above are SymPy's own values."""
    for expr, vals, expected in DOMAIN:
        if math.isnan(expected):
            continue
        exact = expr.xreplace({s: sp.oo if v == inf else sp.Rational(v) for s, v in vals.items()})
        assert float(exact) == pytest.approx(expected, rel=1e-14), (expr, vals, exact)


# ---------------------------------------------------------------------------- gradients
#: (expression, variable, points {symbol: values}); the reference is sympy.diff evaluated
#: at 30 digits.  K_GRAD: the derivative formulas chain 2-4 kernels (gamma * digamma,
#: (J_{n-1} - J_{n+1})/2, exp(...) of the incomplete-gamma density).
K_GRAD = 64
#: derivatives with respect to parameters of gammainc/betainc/hyp2f1: PyTensor sums series
#: (``gammainc_grad``, ``betainc_grad``, ``hyp2f1_grad``) to a fixed tolerance, measured ~1e-12.
RTOL_PARAMETER_GRAD = 1e-9
GRADIENTS = [
    (sp.gamma(x), x, {x: [-2.5, 0.5, 1, 3.7, 20]}, K_GRAD),
    (sp.loggamma(x), x, {x: [0.5, 1, 3.7, 100]}, K_GRAD),
    (sp.polygamma(0, x), x, {x: [-2.5, 0.5, 1, 3.7]}, K_GRAD),
    (sp.polygamma(1, x), x, {x: [-2.5, 0.5, 1, 3.7]}, K_GRAD),
    (sp.polygamma(3, x), x, {x: [0.5, 3.7]}, K_GRAD),
    # SciPy's polygamma(4, x) for x < 0 (reflection, cancelling terms): 1.6e3 ulp measured at -2.5
    (sp.polygamma(3, x), x, {x: [-2.5, -0.5]}, 4096),
    (sp.erf(x), x, {x: [-2, 0, 0.5, 3]}, K_GRAD),
    (sp.erfc(x), x, {x: [-2, 0, 0.5, 3]}, K_GRAD),
    (sp.erfinv(x), x, {x: [-0.9, 0, 0.5]}, K_GRAD),
    (sp.erfcinv(x), x, {x: [0.1, 1, 1.5]}, K_GRAD),
    (sp.erf2(x, y), x, {x: [0, 1, -2], y: [1, 3, 2]}, K_GRAD),
    (sp.beta(x, y), x, {x: [0.5, 2, 3.5], y: [1.5, 3, 200]}, K_GRAD),
    (sp.besselj(0, x), x, {x: [0.5, 3, 10]}, K_GRAD),
    (sp.besselj(1, x), x, {x: [0.5, 3, 10]}, K_GRAD),
    (sp.besselj(y, x), x, {x: [0.5, 3, 10], y: [2, 0.5, 3]}, K_GRAD),
    (sp.besseli(0, x), x, {x: [0.5, 3, 10]}, K_GRAD),
    (sp.besseli(1, x), x, {x: [0.5, 3, 10]}, K_GRAD),
    (sp.besseli(y, x), x, {x: [0.5, 3, 10], y: [2, 0.5, 3]}, K_GRAD),
    (sp.besselk(y, x), x, {x: [0.5, 3, 10], y: [2, 0.5, 0]}, K_GRAD),
    (sp.lowergamma(y, x), x, {x: [0.5, 3, 10], y: [2, 0.5, 3]}, K_GRAD),
    (sp.uppergamma(y, x), x, {x: [0.5, 3, 10], y: [2, 0.5, 3]}, K_GRAD),
    (sp.factorial(x), x, {x: [0, 0.5, 3, 10]}, K_GRAD),
    (sp.binomial(x, y), x, {x: [5, 7.5, 10], y: [2, 3, 2.5]}, K_GRAD),
    (sp.RisingFactorial(x, y), x, {x: [2, 0.5, 3], y: [3, 2.5, 4]}, K_GRAD),
    (sp.FallingFactorial(x, y), y, {x: [5, 7.5, 10], y: [2, 3, 2.5]}, K_GRAD),
    (sp.sinc(x), x, {x: [-3, -1e-5, 0, 1e-5, 0.5, 10]}, K_GRAD),
    (sp.hyper([x, 1], [3], y), y, {x: [1, 0.5, 2], y: [0.5, -0.5, 0.1]}, K_GRAD),
    (sp.betainc_regularized(x, y, 0, z), z, {x: [2, 0.5, 3], y: [3, 2, 0.5], z: [0.3, 0.5, 0.9]}, K_GRAD),
    (sp.DiracDelta(x), x, {x: [-1, 2]}, 0),
]
#: parameter derivatives: sympy.diff leaves them as unevaluated Derivatives (or meijerg forms),
#: so the reference is mpmath's numerical derivative of the mpmath function at 30 digits.
PARAMETER_GRADIENTS = [
    (sp.lowergamma(x, y), x, {x: [0.5, 2, 5.5], y: [1, 3, 2]},
     lambda s, t: mpmath.diff(lambda u: mpmath.gammainc(u, 0, t), s)),
    (sp.uppergamma(x, y), x, {x: [0.5, 2, 5.5], y: [1, 3, 2]},
     lambda s, t: mpmath.diff(lambda u: mpmath.gammainc(u, t, mpmath.inf), s)),
    (sp.betainc_regularized(x, y, 0, z), x, {x: [2, 0.5, 3], y: [3, 2, 0.5], z: [0.3, 0.5, 0.9]},
     lambda a, b, t: mpmath.diff(lambda u: mpmath.betainc(u, b, 0, t, regularized=True), a)),
    (sp.hyper([x, 1], [3], y), x, {x: [1, 0.5, 2], y: [0.5, -0.5, 0.1]},
     lambda a, t: mpmath.diff(lambda u: mpmath.hyp2f1(u, 1, 3, t), a)),
]


def _points(vals):
    n = len(next(iter(vals.values())))
    return [{s: v[i] for s, v in vals.items()} for i in range(n)]


def _gradient_function(table, mode):
    inputs, outputs, arrays = [], [], []
    for i, (expr, var, vals, *_rest) in enumerate(table):
        fresh = {s: sp.Symbol(f"g{i}_{s}") for s in vals}
        outputs.append(sp.Derivative(expr.xreplace(fresh), fresh[var]))
        for s, v in vals.items():
            inputs.append(fresh[s])
            arrays.append(np.asarray(v, dtype="float64"))
    fn = theano_function(inputs, outputs, dims={s: 1 for s in inputs}, mode=mode)
    return fn(*arrays)


#: The gamma-ratio and incomplete-beta formulas (300-500 scalar ops each) take NUMBA and the C
#: compiler 5-10 s per case; the batched tables check them on FAST_COMPILE (the same printed
#: graph), and the compiling back ends get them through test_gamma_ratios_with_large_or_inexact_sums,
#: test_incomplete_beta_in_float32 and test_special_values_on_other_backends.
COMPILED_SKIPS = (sp.beta, sp.binomial, sp.RisingFactorial, sp.FallingFactorial, sp.betainc,
                  sp.betainc_regularized)


def _for_mode(table, mode):
    """``table``'s rows, less those of :data:`COMPILED_SKIPS` on the compiling back ends."""
    if mode == "FAST_COMPILE":
        return list(table)
    return [row for row in table if not row[0].has(*COMPILED_SKIPS)]


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_gradients_match_sympy_diff(mode, mpmath_dps30, close_to_reference):
    failures = []
    table = _for_mode(GRADIENTS, mode)
    for (expr, var, vals, k), got in zip(table, _gradient_function(table, mode)):
        deriv = sp.diff(expr, var)
        ref = []
        for point in _points(vals):
            if expr.func is sp.DiracDelta:
                ref.append(0.0)
                continue
            if deriv.has(sp.Derivative):  # no closed form in SymPy: mpmath's numerical derivative
                f = sp.lambdify(list(point), expr, "mpmath")
                args = {s: mpmath.mpf(v) for s, v in point.items()}
                ref.append(mpmath.diff(lambda t: f(*[t if s == var else args[s] for s in point]), args[var]))
                continue
            exact = deriv.xreplace({s: sp.Rational(v) for s, v in point.items()})
            if exact is sp.nan:  # a removable singularity of the formula (sinc' at 0): its limit
                exact = sp.limit(deriv, var, sp.Rational(point[var]))
            exact = exact.rewrite(sp.erfinv) if exact.has(sp.erfcinv) else exact  # erfcinv has no evalf
            ref.append(mpmath.mpf(sp.N(exact, 30)))
        try:
            close_to_reference(got, ref, "float64", k=k, atol=k,
                               err_msg=f"{mode}: d/d{var} {expr} at {vals}")
        except AssertionError as err:
            failures.append(str(err))
    assert not failures, "\n".join(failures)


def test_parameter_gradients_match_numerical_derivative(mpmath_dps30):
    got = _gradient_function(PARAMETER_GRADIENTS, "FAST_COMPILE")  # NUMBA: 70 s of compiling
    for (expr, var, vals, ref_fn), values in zip(PARAMETER_GRADIENTS, got):
        symbols = list(vals)
        ref = [float(ref_fn(*[mpmath.mpf(p[s]) for s in symbols])) for p in _points(vals)]
        np.testing.assert_allclose(values, ref, rtol=RTOL_PARAMETER_GRAD, err_msg=f"d/d{var} {expr}")


@pytest.mark.parametrize("expr", [sp.besselj(y, x), sp.besseli(y, x), sp.besselk(y, x), sp.polygamma(y, x)],
                         ids=["besselj", "besseli", "besselk", "polygamma"])
def test_gradient_with_respect_to_an_order_is_an_error(expr):
    """PyTensor has no derivative with respect to these orders: an error naming it, never a silent 0."""
    with pytest.raises(UnsupportedExpressionError, match="no derivative") as info:
        theano_function([x, y], [sp.Derivative(expr, y)])
    assert isinstance(info.value.__cause__, NullTypeGradError)


# ---------------------------------------------------------------------------- integers, dtypes
def test_factorial_and_binomial_of_integers_are_exact():
    n, k = sp.symbols("n k", integer=True)
    fn = theano_function([n, k], [sp.factorial(n), sp.binomial(n, k)], dims={n: 1, k: 1},
                         dtypes={n: "int64", k: "int64"})
    ns = np.arange(0, 18)
    f, _ = fn(ns, ns // 2)
    assert f.dtype == np.float64
    assert [int(v) for v in f] == [math.factorial(i) for i in ns]
    pairs = [(50, 25), (49, 20), (40, 13), (-7, 4), (-7, 5), (30, 31), (30, -2), (45, 44)]
    _, b = fn(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    assert [int(v) for v in b] == [int(sp.binomial(p, q)) for p, q in pairs]


F32_EXPRS = [
    (sp.gamma(x), [0.5, 3.5, 20.5], lambda a: mpmath.gamma(a)),
    (sp.loggamma(x), [0.5, 3.5, 1e30], mpmath.loggamma),
    (sp.polygamma(0, x), [-2.5, 0.5, 30], mpmath.digamma),
    (sp.polygamma(1, x), [-2.5, 0.5, 30], lambda a: mpmath.polygamma(1, a)),
    (sp.polygamma(2, x), [-2.5, 0.5, 30], lambda a: mpmath.polygamma(2, a)),
    (sp.erf(x), [-1, 0.5, 3], mpmath.erf),
    (sp.erfcinv(x), [0.1, 1, 1.5], lambda a: mpmath.erfinv(1 - a)),
    (sp.besselj(0, x), [0.5, 3, 30], mpmath.j0),
    (sp.besselj(2, x), [0.5, 3, 30], lambda a: mpmath.besselj(2, a)),
    (sp.besseli(1, x), [0.5, 3, 30], lambda a: mpmath.besseli(1, a)),
    (sp.besselk(2, x), [0.5, 3, 30], lambda a: mpmath.besselk(2, a)),
    (sp.lowergamma(2, x), [0.5, 3, 30], lambda a: mpmath.gammainc(2, 0, a)),
    (sp.uppergamma(sp.Rational(5, 2), x), [0.5, 3, 30], lambda a: mpmath.gammainc(2.5, a, mpmath.inf)),
    (sp.factorial(x), [0, 4.5, 30, 34], mpmath.factorial),
    (sp.binomial(x, 3), [10, 7.5, 1000], lambda a: mpmath.binomial(a, 3)),
    (sp.RisingFactorial(x, 3), [2, 0.5, 30], lambda a: mpmath.rf(a, 3)),
    (sp.beta(x, 2), [0.5, 3, 40], lambda a: mpmath.beta(a, 2)),
    (sp.sinc(x), [0, 1e-5, 3], mpmath.sinc),
    (sp.hyper([1, 1], [2], x), [-0.5, 0.25, 0.9], lambda a: mpmath.hyp2f1(1, 1, 2, a)),
    (sp.erf2(x, 2 * x), [0.5, 3, 5], lambda a: mpmath.erf(2 * a) - mpmath.erf(a)),
]
#: float32: the kernels run in float64 (SciPy) or float32 (C); one float32 rounding of the
#: result plus the float32 rounding of formula steps.
K_F32 = 16


def test_float32_graphs_stay_float32(mpmath_dps30, close_to_reference):
    inputs, outputs, arrays = [], [], []
    for i, (expr, points, _) in enumerate(F32_EXPRS):
        s = sp.Symbol(f"v{i}")  # (not "f16": PyTensor refuses input names that look like dtypes)
        inputs.append(s)
        outputs.append(expr.xreplace({x: s}))
        arrays.append(np.asarray(points, dtype="float32"))
    fn = theano_function(inputs, outputs, dims={s: 1 for s in inputs}, dtypes={s: "float32" for s in inputs})
    for (expr, points, ref), values, arr in zip(F32_EXPRS, fn(*arrays), arrays):
        close_to_reference(values, [ref(mpmath.mpf(float(p))) for p in arr], "float32", k=K_F32,
                           err_msg=f"float32 {expr} at {points}")


# ---------------------------------------------------------------------------- hyper
def test_hyper_other_than_2f1_goes_to_print_unmapped():
    """hyper with p != 2 or q != 1 has no PyTensor op: the printer's last resort handles it."""

    class Recording(TheanoPrinter):
        seen = []

        def _print_unmapped(self, expr):
            self.seen.append(expr)
            return super()._print_unmapped(expr)

    printer = Recording()
    expr = sp.hyper([1, 2, 3], [4, 5], x)
    with pytest.raises(Exception):
        printer.doprint(expr)
    assert Recording.seen == [expr]


# ---------------------------------------------------------------------------- regressions
#: Gamma(s, x) for s = 0, -1, -2, ...: x**s E_{1-s}(x) (it was NaN: "uppergamma(0, x) gives NaN").
#: One pow and SciPy's expn: 4.3 ulp measured in float64, 1.2 in float32 (the K_SPECIAL_FORMULA
#: class of tests/properties/reference.py, 32).
UPPERGAMMA_ORDERS = [0, 0, 0, 0, -1, -1, -2, -3, -6, -6]
UPPERGAMMA_POINTS = [1e-3, 0.3, 1.0, 20.0, 0.5, 7.0, 2.5, 1e-2, 3.0, 60.0]
K_UPPERGAMMA = 32


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_uppergamma_of_a_nonpositive_integer_order(mode, dtype, mpmath_dps30, close_to_reference):
    s, t = sp.symbols("s t")
    fn = theano_function([s, t], [sp.uppergamma(s, t), sp.Derivative(sp.uppergamma(s, t), t)],
                         dims={s: 1, t: 1}, dtypes={s: dtype, t: dtype}, mode=mode)
    orders = np.asarray(UPPERGAMMA_ORDERS, dtype=dtype)
    points = np.asarray(UPPERGAMMA_POINTS, dtype=dtype)
    value, slope = fn(orders, points)
    at = [(int(a), mpmath.mpf(float(b))) for a, b in zip(orders, points)]
    close_to_reference(value, [mpmath.gammainc(a, b, mpmath.inf) for a, b in at], dtype, k=K_UPPERGAMMA,
                       err_msg=f"{mode} uppergamma(s, x)")
    # d/dx Gamma(s, x) = -x**(s-1) exp(-x) (DLMF 8.8.13)
    close_to_reference(slope, [-mpmath.power(b, a - 1) * mpmath.exp(-b) for a, b in at], dtype,
                       k=K_UPPERGAMMA, err_msg=f"{mode} d/dx uppergamma(s, x)")


#: (expression, variable, points at a pole of a gamma function in the formula): the value is NaN
#: or a special-cased 0, and so must the derivative be (SymPy: zoo or 0 * zoo); it was 0.
POLE_GRADIENTS = [
    (sp.gamma(x), x, {x: [0.0, -1.0, -4.0]}),
    (sp.polygamma(0, x), x, {x: [0.0, -2.0, -5.0]}),
    (sp.polygamma(1, x), x, {x: [0.0, -1.0, -3.0]}),
    (sp.polygamma(3, x), x, {x: [0.0, -1.0, -3.0]}),
    (sp.factorial(x), x, {x: [-1.0, -2.0, -6.0]}),
    (sp.beta(x, y), x, {x: [0.0, -1.0, 2.5], y: [1.5, 2.0, -3.5]}),  # last: a + b = -1, beta = 0
    (sp.beta(x, y), y, {x: [0.0, -1.0, 2.5], y: [1.5, 2.0, -3.5]}),
    (sp.binomial(x, y), y, {x: [3.0, 2.5, 4.0], y: [5.0, -1.0, -2.0]}),  # binomial 0
    (sp.RisingFactorial(x, y), x, {x: [-3.0, -2.0, 0.0], y: [2.0, 1.0, 0.5]}),
]


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_gradient_at_a_pole_is_nan(mode):
    table = _for_mode(POLE_GRADIENTS, mode)
    for (expr, var, vals), got in zip(table, _gradient_function(table, mode)):
        assert np.isnan(got).all(), f"{mode}: d/d{var} {expr} at {vals} gave {got}"
        if expr.func is sp.RisingFactorial:  # SymPy's diff(rf(x, y), x) does not substitute numbers
            continue
        for point in _points(vals):  # SymPy's derivative there is zoo or nan, not a number
            d = sp.diff(expr, var).rewrite(sp.gamma).xreplace({s: sp.Rational(v) for s, v in point.items()})
            assert d.has(sp.zoo, sp.nan), (expr, point, d)


#: Gamma ratios with arguments whose sums are not exact or past the overflow of Gamma: the Stirling
#: forms of special.py.  Before, the direct ratio lost psi(a + b) times the rounding of a + b
#: (240 ulp at beta(120, 30.3)) and the log-gamma form eps * |gammaln| (1.2e3 ulp at beta(175, 175),
#: 4e4 ulp at beta(1e4, 2.5) and rf(1e4, 2.5)).  An exp of a float64 logarithm is exact only to
#: |log v| ulp (the rounding of the logarithm), so the tolerance is (K_SPECIAL_FORMULA + |log v|)
#: ulp; measured <= 0.7 of it (float64), <= 1 ulp in float32 (computed in float64).  A negative
#: non-integer argument (beta(-562.5, 2.32): 1e4 ulp before, found by the properties) goes through
#: the reflection Beta(n, p) = S Beta(p, 1 - n - p): <= 8 ulp measured.
RATIO_CASES = [
    (sp.beta(x, y), mpmath.beta, [(120, 30.3), (175, 175), (1e4, 2.5), (400, 400), (166.359, 167.141),
                                  (9.5866, 9.5893), (300.5, 0.25), (-562.5, 2.3197768), (-7.3, 2.6),
                                  (4.25, -40.7)]),
    (sp.RisingFactorial(x, y), mpmath.rf, [(1e4, 2.5), (120.3, 2.5), (172.517, -144.889), (8.55, 67.47),
                                           (80, -3)]),
    (sp.binomial(x, y), mpmath.binomial, [(477.463, 284.038), (400.5, 3.25), (1e4, 2.5), (50, 25)]),
    (sp.FallingFactorial(x, y), mpmath.ff, [(135.089, 122.473), (1e4, 2.5)]),
]
K_RATIO = 32


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_gamma_ratios_with_large_or_inexact_sums(mode, dtype, mpmath_dps30, close_to_reference):
    inputs, outputs, arrays = [], [], []
    for i, (expr, _, points) in enumerate(RATIO_CASES):
        a, b = sp.symbols(f"r{i}_a r{i}_b")
        inputs += [a, b]
        outputs.append(expr.xreplace({x: a, y: b}))
        arrays += [np.asarray([p[0] for p in points], dtype=dtype), np.asarray([p[1] for p in points], dtype=dtype)]
    fn = theano_function(inputs, outputs, dims={s: 1 for s in inputs}, dtypes={s: dtype for s in inputs},
                         mode=mode)
    info = np.finfo(dtype)
    checked = 0
    for (expr, ref_fn, _), values, a, b in zip(RATIO_CASES, fn(*arrays), arrays[0::2], arrays[1::2]):
        for v, p, q in zip(values, a, b):
            ref = ref_fn(mpmath.mpf(float(p)), mpmath.mpf(float(q)))
            if not info.tiny < abs(ref) < info.max:
                continue  # past the dtype's range: the overflow/underflow is the dtype's
            k = K_RATIO + float(abs(mpmath.log(abs(ref))))
            close_to_reference([v], [ref], dtype, k=k, err_msg=f"{mode} {expr} at {(float(p), float(q))}")
            checked += 1
    assert checked >= (15 if dtype == "float64" else 8)


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_reverse_gradient_of_polygamma_and_digamma(mode, mpmath_dps30, close_to_reference):
    """pytensor.grad (not Derivative) of the printed polygamma/digamma, also twice.

    The reverse-mode graph of the asymptotic series had Mul nodes of more than 32 operands,
    which the Python back end cannot run (NumPy ufuncs); it is now the series of the next order.
    """
    import pytensor
    import pytensor.tensor as pt

    printer = TheanoPrinter(cache={})
    tx, *outs = printer.doprint_many([x, sp.polygamma(1, x), sp.polygamma(2, x), sp.digamma(x)],
                                     {x: "float64"}, {x: (False,)})
    first = [pytensor.grad(pt.sum(o), tx) for o in outs]
    second = pytensor.grad(pt.sum(first[2]), tx)  # digamma''
    fn = pytensor.function([tx], [*first, second], mode=mode)
    points = np.array([1.5, -2.5, 30.0])
    got = fn(points)
    orders = [2, 3, 1, 2]
    for n, values in zip(orders, got):
        close_to_reference(values, [mpmath.polygamma(n, mpmath.mpf(v)) for v in points], "float64", k=64,
                           err_msg=f"{mode}: psi^({n})")


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_cbrt_derivative_for_tiny_subnormal_huge_and_negative_arguments(mode, mpmath_dps30, close_to_reference):
    """d/dz Cbrt(z) = 1/(3 Cbrt(z)**2); the derivative of the Newton-refined form was -inf at 8.4e-200."""
    from sympy.codegen.cfunctions import Cbrt

    points = np.array([8.39461237410447e-200, 1e-310, -4e-320, -27.0, 8.0, 1e300, -1.7e308])
    fn = theano_function([z], [sp.Derivative(Cbrt(z), z)], dims={z: 1}, mode=mode)
    ref = [1 / (3 * mpmath.cbrt(abs(mpmath.mpf(float(v)))) ** 2) for v in points]
    close_to_reference(fn(points), ref, "float64", k=8, err_msg=f"{mode} d/dz Cbrt(z)")
    assert np.isinf(fn(np.array([0.0]))).all()  # SymPy: 1/(3 z**(2/3)) is zoo at 0


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_incomplete_beta_in_float32(mode, mpmath_dps30, close_to_reference):
    """betainc in a float32 graph is computed in float64: SciPy's float32 kernel was off by 1e-5
    relative (90 ulp) at betainc(exp(-3), 1/2, exp(-9), 0), found by the properties."""
    a, b, p, q = sp.symbols("a b p q")
    fn = theano_function([a, b, p, q], [sp.betainc(a, b, p, q), sp.betainc_regularized(a, b, p, q)],
                         dims={s: 1 for s in (a, b, p, q)}, dtypes={s: "float32" for s in (a, b, p, q)},
                         mode=mode)
    args = [np.float32([np.exp(-3.0), 2.0, 0.5]), np.float32([0.5, 3.5, 0.5]),
            np.float32([np.exp(-9.0), 0.1, 0.25]), np.float32([0.0, 0.7, 0.75])]
    points = [[mpmath.mpf(float(v)) for v in col] for col in zip(*args)]
    full, regularized = fn(*args)
    close_to_reference(full, [mpmath.betainc(*pt) for pt in points], "float32", k=K_SPECIAL_F32,
                       err_msg=f"{mode} betainc float32")
    close_to_reference(regularized, [mpmath.betainc(*pt, regularized=True) for pt in points], "float32",
                       k=K_SPECIAL_F32, err_msg=f"{mode} betainc_regularized float32")


#: float32 formulas computed in float64: the final rounding plus the argument's own.
K_SPECIAL_F32 = 4
