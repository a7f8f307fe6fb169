"""Regression tests for printer bugs that the hypothesis properties shrank to a minimal case.

Each test names the property run that found it; the properties are in
tests/test_properties.py (in the default run with the ``ci`` profile; ``HYPOTHESIS_PROFILE=deep`` or ``long`` for more).
"""
import mpmath
import numpy as np
import pytest
import sympy as sp

from properties import harness
from properties.reference import DPS
from sympy_theano_printer import theano_function

X = sp.Symbol("x", real=True)


@pytest.mark.parametrize("mode", harness.backend_params(("FAST_COMPILE", "NUMBA", "CVM")))
def test_regression_acosh_of_cosh_of_a_negative_number(mode):
    """``acosh(cosh(x)) = |x|``; PyTensor's rewrite ``useless_arccosh_of_cosh`` returns ``x``.

    Found by ``test_values_fast_compile`` as ``acosh(cosh(z)) + csc(exp(1000000*z))``
    at ``z = -8.6e-08``.
    """
    f = theano_function([X], [sp.acosh(sp.cosh(X))], dims={X: 1}, mode=mode)
    np.testing.assert_allclose(f(np.array([-2.0, -0.5, 0.5])), [2.0, 0.5, 0.5], rtol=1e-15)


@pytest.mark.parametrize("expr", [X + 100000, 40000 * X, sp.Mod(X, 70000), X + 2**31 - 1],
                         ids=["x+100000", "40000*x", "Mod(x,70000)", "x+2**31-1"])
def test_regression_float32_graph_with_a_big_integer_stays_float32(expr):
    """A float32 graph stays float32 (README); an integer constant outside int16 made it float64.

    Found by ``test_values_fast_compile[float32]`` as ``40000*x**3``.
    """
    f = theano_function([X], [expr], dims={X: 1}, dtypes={X: "float32"}, mode="FAST_COMPILE")
    out = f(np.array([1.5, -3.0], dtype="float32"))
    assert out.dtype == np.float32
    with mpmath.workdps(DPS):
        expected = [float(sp.N(expr.subs(X, sp.Rational(v)), DPS)) for v in (1.5, -3.0)]
    np.testing.assert_allclose(out, np.asarray(expected, dtype=np.float32), rtol=np.finfo(np.float32).eps)


@pytest.mark.parametrize("expr", [sp.ceiling(X), sp.Heaviside(X), sp.atan2(sp.ceiling(X), 2)],
                         ids=["ceiling", "Heaviside", "atan2(ceiling(x),2)"])
def test_regression_float32_derivative_of_a_step_stays_float32(expr):
    """``Derivative`` of a piecewise-constant function in a float32 graph came out float64.

    ``pytensor.gradient.pushforward`` returns float64 zeros where the output
    does not depend differentiably on the input; the printer passes them on.
    Found by ``test_gradient_fast_compile[float32]`` as ``atan2(ceiling(asec(x)), -csch(1))``.
    """
    f = theano_function([X], [sp.Derivative(expr, X)], dims={X: 1}, dtypes={X: "float32"},
                        mode="FAST_COMPILE")
    out = f(np.array([1.5, -0.5], dtype="float32"))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.0, 0.0])


def test_regression_atan2_of_a_computed_negative_zero():
    """``atan2(0, x) = pi`` for ``x < 0``: SymPy has no signed zero, IEEE does.

    ``-sin(x)`` at ``x = 0`` computes ``-0.0``, and ``arctan2(-0.0, x) = -pi``,
    a jump of ``2 pi`` on the branch cut.  Found by
    ``HYPOTHESIS_PROFILE=long``'s ``test_values_fast_compile[float64]`` as
    ``atan2(-sin(x), -0.693147180559945)`` at ``x = 0``.
    """
    assert sp.atan2(-sp.sin(0), -1) == sp.pi
    f = theano_function([X], [sp.atan2(-sp.sin(X), -1)], dims={X: 1}, mode="FAST_COMPILE")
    np.testing.assert_allclose(f(np.array([0.0, -0.0])), [np.pi, np.pi], rtol=1e-15)


@pytest.mark.parametrize("mode", harness.backend_params(("FAST_COMPILE", "NUMBA", "CVM")))
def test_regression_frac_keeps_its_digits_beside_a_constant(mode):
    """``c - frac(-y)`` for a large ``y``: ``frac(u) = u - floor(u)`` must not be re-associated.

    NUMBA compiles with fastmath ``reassoc`` (``pytensor.config.numba__fastmath``),
    and LLVM turns ``1.818 - ((-y) - floor(-y))`` into ``(1.818 + y) + floor(-y)``:
    at ``y = 530983.5`` in float32 the fractional part is lost to the rounding of
    ``1.818 + y`` (1.3125 instead of 1.3184465).  Found by
    ``test_values_compiled_backends[float32-NUMBA]`` (fresh clone) as
    ``-frac(-y) + asinh(3)``.
    """
    y = sp.Symbol("y", real=True)
    f = theano_function([y], [-sp.frac(-y) + sp.asinh(3)], dims={y: 1}, dtypes={y: "float32"}, mode=mode)
    with mpmath.workdps(DPS):
        expected = float(mpmath.asinh(3) - mpmath.mpf("0.5"))
    np.testing.assert_allclose(f(np.array([530983.5], dtype="float32")), [expected],
                               rtol=4 * np.finfo(np.float32).eps)


def test_regression_expand_compute_of_a_two_argument_log():
    """``expand_compute(log(x, 2, evaluate=False))`` rewrites it (it raised ``TypeError``).

    SymPy's ``log1p_opt`` (``sympy.codegen.rewriting``), which ``expand_compute``'s
    ``log1p`` rule calls, replaces every ``log`` node with a one-argument
    lambda, and a two-argument ``log`` (which the printer supports) passes it
    two.  Found by ``test_expand_compute_keeps_the_value`` as
    ``Mod(-1.25, log(cosh(y), 1/2)**2 + 1)``.
    """
    from sympy_theano_printer.expand import expand_compute

    e = sp.log(X, 2, evaluate=False)
    with mpmath.workdps(DPS):
        expected = mpmath.log(3) / mpmath.log(2)
    rewritten = expand_compute(e)
    f = theano_function([X], [rewritten], dims={X: 1}, mode="FAST_COMPILE")
    np.testing.assert_allclose(f(np.array([3.0])), [float(expected)], rtol=8 * np.finfo(np.float64).eps)


@pytest.mark.parametrize("args, expected", [((1, 2, -0.1, 0.5), 0.96), ((0.5, 0, 0.5, 0.9), 0.0)],
                         ids=["x1<0,a=1", "b=0"])
def test_regression_betainc_outside_the_unit_interval(args, expected):
    """``betainc_regularized(a, b, x1, x2)`` where SymPy has a real value and the printer gave NaN.

    With ``a = 1`` the integrand ``(1 - t)**(b - 1)`` is real for ``t < 0``, and SymPy's
    value at ``(1, 2, -0.1, 0.5)`` is ``0.96``; at ``b = 0`` SymPy gives 0.
    Found by ``test_values_fast_compile`` as
    ``betainc_regularized(floor(z)**2 + 1, 2, y, 1/2)`` at ``y = -8.5e-5, z ~ 0`` and
    ``betainc_regularized(1/2, erfinv(tanh(y)), 1/2, exp(-exp(2*z)))`` at ``y = 0``.
    """
    symbols = sp.symbols("a b p q", real=True)
    assert sp.betainc_regularized(*[sp.nsimplify(v) for v in args]).evalf() == pytest.approx(expected)
    f = theano_function(list(symbols), [sp.betainc_regularized(*symbols)], mode="FAST_COMPILE")
    np.testing.assert_allclose(f(*[np.float64(v) for v in args]), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("order", [1, 2])
def test_regression_reverse_gradient_of_polygamma_on_fast_compile(order):
    """``pytensor.grad`` of ``polygamma(n, x)`` as printed, compiled with FAST_COMPILE (it raised AttributeError).

    ``Derivative(polygamma(n, x), x)`` (forward mode) works on every back end,
    and so does the reverse mode with NUMBA.  Found by
    ``test_gradient_fast_compile`` as ``sech(polygamma(1, x*y))``.
    """
    import pytensor
    import pytensor.tensor as pt

    from sympy_theano_printer import TheanoPrinter

    tx, te = TheanoPrinter(cache={}).doprint_many([X, sp.polygamma(order, X)], {X: "float64"}, {X: (False,)})
    f = pytensor.function([tx], pytensor.grad(pt.sum(te), tx), mode="FAST_COMPILE")
    with mpmath.workdps(DPS):
        expected = float(mpmath.polygamma(order + 1, 1.5))
    np.testing.assert_allclose(f(np.array([1.5])), [expected], rtol=64 * np.finfo(np.float64).eps)


def test_regression_piecewise_condition_with_a_restricted_domain():
    """A ``Piecewise`` whose condition holds ``acosh(y)`` compiles.

    ``piecewise._interior_point`` substituted a point where ``acosh(y)`` is
    complex and SymPy refused the comparison (``TypeError: Invalid comparison
    of non-real I*pi/2``); such candidates are now skipped.

    Found by ``test_expand_compute_keeps_the_value[float32]``: ``expand_compute`` turns
    ``RisingFactorial(Abs(y) + 1/2, acosh(y))`` into a ``Piecewise`` on ``Abs(y) + 1/2 > 100``
    of gamma and loggamma ratios; shrunk by hand to the condition ``acosh(y) > 1``.
    """
    y = sp.Symbol("y", real=True)
    e = sp.Piecewise((sp.gamma(y), sp.acosh(y) > 1), (0, True))
    f = theano_function([y], [e], dims={y: 1}, mode="FAST_COMPILE")
    with mpmath.workdps(DPS):
        expected = [float(mpmath.gamma(3)), 0.0]
    np.testing.assert_allclose(f(np.array([3.0, 1.2])), expected, rtol=8 * np.finfo(np.float64).eps)


def test_regression_integer_branch_keeps_a_float32_piecewise_float32():
    """``Piecewise((1e-5, x <= 10**6), (70000, x < z), (2147483647, True))`` stays float32.

    The int32 constant 2147483647 beside float32 branches made ``switch``
    upcast to float64.  Found by ``test_values_compiled_backends[float32-NUMBA]``
    as ``log10(Piecewise(...) + 1/2)``.
    """
    x, z = sp.symbols("x z", real=True)
    e = sp.Piecewise((sp.Float("1e-5"), x <= 1000000), (70000, x < z), (2147483647, True))
    f = theano_function([x, z], [e], dims={x: 1, z: 1}, dtypes={x: "float32", z: "float32"})
    values = f(np.array([1.0, 2e6, 3e6], dtype="float32"), np.array([0.0, 3e6, 0.0], dtype="float32"))
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.array([1e-5, 70000, 2147483647], dtype="float32"))


@pytest.mark.parametrize("mode", harness.backend_params(("FAST_COMPILE", "NUMBA", "CVM")))
def test_regression_gradient_of_a_sum_of_max_and_min(mode):
    """``d/dx [Max(c, x) + Min(y, Mod(x, 2))]`` is 0 where both pick their other argument.

    PyTensor 3.0.7's ``local_add_canonizer`` turns the gradient's
    ``(1 - eq(..)) + (1 - eq(..))`` into ``2 - (eq(..) + eq(..))``, a boolean
    *or* (``backend.bool_operands_as_numbers``).  Found by
    ``test_gradient_fast_compile[float64]`` as
    ``Max(4900000000, x) + Min(y, Mod(x, 2))`` at ``x = 0.5, y = 0``.
    """
    y = sp.Symbol("y", real=True)
    e = sp.Max(4900000000, X) + sp.Min(y, sp.Mod(X, 2))
    f = theano_function([X, y], [sp.Derivative(e, X), sp.Derivative(e, y)], dims={X: 1, y: 1}, mode=mode)
    xs, ys = np.array([0.5, 1.0, -1.0, 1.5, 6e9]), np.array([0.0, 0.0, 0.0, 2.0, 9.0])
    dx, dy = f(xs, ys)
    mod = np.mod(xs, 2)  # no ties at these points: each Max/Min has one derivative
    np.testing.assert_array_equal(dx, (xs > 4900000000).astype(float) + (mod < ys))  # [0, 0, 0, 1, 2]
    np.testing.assert_array_equal(dy, (ys < mod).astype(float))  # [1, 1, 1, 0, 0]


@pytest.mark.parametrize("mode", harness.backend_params(("FAST_COMPILE", "NUMBA")))
def test_regression_piecewise_guard_with_an_unevaluated_derivative(mode):
    """A Piecewise branch whose partial derivative SymPy leaves unevaluated, or that is 0 mod 0 at 0.

    Looking for a safe point of the branch substituted numbers into
    ``Derivative(betainc(a, b, 0, s), b)``, which SymPy refuses with
    ``ValueError``, and into ``Mod(x, x)`` (``ZeroDivisionError``).  Found by
    ``test_values_compiled_backends[float32-NUMBA]`` as
    ``Piecewise((1/Max(-1, y), Ne(z, 0)))*betainc(1/2, Abs(y) + 1/2, 0, sin(z)**2)`` and by
    ``test_gradient_fast_compile`` as ``x + Piecewise((x, x < y), (Mod(x, x), x < 0))``.
    """
    y, z = sp.symbols("y z", real=True)
    e1 = sp.Piecewise((1 / sp.Max(-1, y), sp.Ne(z, 0))) * sp.betainc(sp.S.Half, abs(y) + sp.S.Half, 0, sp.sin(z)**2)
    e2 = X + sp.Piecewise((X, X < y), (sp.Mod(X, X, evaluate=False), X < 0))
    f = theano_function([X, y, z], [e1, e2, sp.Derivative(e2, X)], dims={X: 1, y: 1, z: 1}, mode=mode)
    xs, ys, zs = np.array([0.5, -1.0]), np.array([1.0, 2.0]), np.array([0.3, 1.0])
    out = f(xs, ys, zs)
    with mpmath.workdps(DPS):
        for expr, values in zip([e1, e2, sp.diff(e2, X)], out):
            expected = [float(sp.N(expr.subs({X: a, y: b, z: c}), DPS)) for a, b, c in zip(xs, ys, zs)]
            np.testing.assert_allclose(values, expected, rtol=64 * np.finfo(np.float64).eps)


@pytest.mark.parametrize("mode", harness.backend_params(("FAST_COMPILE", "NUMBA")))
def test_regression_integer_literal_piecewise_keeps_a_float32_graph_float32(mode):
    """``x + Piecewise((0, x < y), (70000, True))`` with float32 inputs is float32.

    Both branches are integer literals; 70000 needs int32, and float32 + int32
    is float64 in PyTensor.  Found by ``test_values_fast_compile[float32]``
    (and by ``test_lambdify_pytensor_route``) as that expression.  A float64
    graph keeps an integer switch (exact), and small literals (int16) stay integers.
    """
    y = sp.Symbol("y", real=True)
    e = X + sp.Piecewise((0, X < y), (70000, True))
    f = theano_function([X, y], [e, sp.Piecewise((0, X < y), (7, True))], dims={X: 1, y: 1},
                        dtypes={X: "float32", y: "float32"}, mode=mode)
    xs, ys = np.array([0.0, 1.5, -2.0], dtype="float32"), np.array([1.0, 0.0, -3.0], dtype="float32")
    out, small = f(xs, ys)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.0, 70001.5, 69998.0])
    assert small.dtype.kind in "iu" and list(small) == [0, 7, 7]
    f64 = theano_function([X, y], [sp.Piecewise((0, X < y), (70000, True))], dims={X: 1, y: 1}, mode=mode)
    assert f64(xs.astype(float), ys.astype(float)).dtype.kind in "iu"


def test_regression_piecewise_condition_that_divides_by_zero_at_a_candidate():
    """A condition holding ``Mod(c, x)`` is no candidate at ``x = 0`` (SymPy raises ZeroDivisionError).

    Found by ``test_values_fast_compile[float32]`` as a Piecewise with the
    condition ``Mod(-2/5, x) < 4``.
    """
    e = sp.Piecewise((sp.log(X), sp.Mod(sp.Rational(-2, 5), X) < 4), (0, True))
    f = theano_function([X], [e], dims={X: 1}, mode="FAST_COMPILE")
    xs = np.array([0.5, 2.0, 3.0])
    expected = [float(sp.N(e.subs(X, sp.Rational(v)), DPS)) for v in xs]
    np.testing.assert_allclose(f(xs), expected, rtol=4 * np.finfo(np.float64).eps)


def test_regression_safe_point_search_survives_a_division_by_zero():
    """``Mod(x, x)`` (unevaluated) at ``x = 0`` is no safe point, not a ``ZeroDivisionError``."""
    from sympy_theano_printer.piecewise import _finite_real_at, find_safe_point

    mod = sp.Mod(X, X, evaluate=False)
    assert _finite_real_at(mod, {X: sp.Float(0)}) is False
    assert _finite_real_at(mod, {X: sp.Float(-1)}) is True
    point = find_safe_point(mod, X < 0, [X])
    assert point is not None and point[X] != 0
