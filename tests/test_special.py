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
    (sp.uppergamma(x, y), {x: 0.0, y: 1.0}, nan),  # E1(1): not computed
    (sp.uppergamma(x, y), {x: -1.5, y: 2.0}, nan),
    (sp.besselj(x, y), {x: 0.5, y: -1.0}, nan),  # complex
    (sp.besseli(x, y), {x: 0.5, y: -1.0}, nan),
    (sp.besselk(x, y), {x: 1.0, y: -1.0}, nan),
    (sp.hyper([x, y], [z], w), {x: 1.0, y: 1.0, z: 3.0, w: 1.5}, nan),  # branch cut
    (sp.betainc_regularized(x, y, 0, z), {x: 2.0, y: 3.0, z: 1.5}, nan),
    (sp.betainc_regularized(x, y, 0, z), {x: -2.0, y: 3.0, z: 0.5}, nan),
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
]


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_domain_conventions(mode):
    symbols = sorted({s for e, vals, _ in DOMAIN for s in vals}, key=str)
    inputs, outputs, arrays = [], [], []
    for i, (expr, vals, _) in enumerate(DOMAIN):
        fresh = {s: sp.Symbol(f"d{i}_{s}") for s in vals}
        outputs.append(expr.xreplace(fresh))
        for s, v in vals.items():
            inputs.append(fresh[s])
            arrays.append(np.asarray([v]))
    assert symbols
    fn = theano_function(inputs, outputs, dims={s: 1 for s in inputs}, mode=mode)
    got = [float(v[0]) for v in fn(*arrays)]
    for (expr, vals, expected), value in zip(DOMAIN, got):
        if math.isnan(expected):
            assert math.isnan(value), f"{mode}: {expr} at {vals} gave {value}, expected NaN"
        else:
            assert value == pytest.approx(expected, rel=1e-14), f"{mode}: {expr} at {vals}"


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


@pytest.mark.parametrize("mode", ["NUMBA", "CVM"])
def test_gradients_match_sympy_diff(mode, mpmath_dps30, close_to_reference):
    failures = []
    for (expr, var, vals, k), got in zip(GRADIENTS, _gradient_function(GRADIENTS, mode)):
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
    got = _gradient_function(PARAMETER_GRADIENTS, "NUMBA")
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
