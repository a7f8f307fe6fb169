"""The printer core: dispatch order, typed constants, Pow, Piecewise, Derivative, errors."""
import math

import mpmath
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import sympy as sy
from conftest import code, function

from sympy_theano_printer import (
    MAPPING,
    TheanoPrinter,
    UnsupportedExpressionError,
)

x, y = sy.symbols("x y")
EPS64 = np.finfo(np.float64).eps


def mp_value(expr, **values):
    """``expr`` evaluated by mpmath at 30 digits, as a Python float."""
    with mpmath.workdps(30):
        f = sy.lambdify(list(values), expr, "mpmath")
        return float(f(*[mpmath.mpf(v) for v in values.values()]))


# --------------------------------------------------------------------- dispatch
def test_printer_is_a_sympy_printer_with_theano_printmethod():
    from sympy.printing.printer import Printer

    assert issubclass(TheanoPrinter, Printer)
    assert TheanoPrinter.printmethod == "_theano"


def test_printmethod_on_a_user_class_wins():
    class Double(sy.Function):
        def _theano(self, printer):
            return 2 * printer._print(self.args[0])

    f = function([x], Double(x) + 1)
    assert f(3.0) == 7.0


def test_mapping_setting_overrides_the_table():
    printer = TheanoPrinter(settings={"mapping": {sy.sin: pt.cos}}, cache={})
    out = printer.doprint(sy.sin(x))
    assert out.owner.op == pt.cos(pt.scalar()).owner.op
    # the module table itself is untouched
    assert MAPPING[sy.sin] is pt.sin


def test_print_method_on_a_subclass():
    class Printer2(TheanoPrinter):
        def _print_sin(self, expr, **kwargs):
            return pt.cos(self._print(expr.args[0]))

    printer = Printer2(cache={})
    # the mapping table (exact class) comes before _print_sin: drop sin from it
    del printer.mapping[sy.sin]
    v = printer.doprint(sy.sin(x))
    assert v.owner.op == pt.cos(pt.scalar()).owner.op


def test_renamed_subclass_of_a_mapped_function_is_not_mapped():
    class mysin(sy.sin):
        pass

    with pytest.raises(UnsupportedExpressionError, match="mysin"):
        code(mysin(x))


def test_unknown_kwargs_to_printer_settings_are_rejected():
    with pytest.raises(TypeError):
        TheanoPrinter(settings={"no_such_setting": 1})


# --------------------------------------------------------------------- errors
def test_unsupported_expression_error_names_class_and_remedies():
    expr = sy.Integral(x, (x, 0, 1)) + x
    with pytest.raises(NotImplementedError) as info:
        code(expr)
    err = info.value
    assert isinstance(err, UnsupportedExpressionError)
    assert err.expr == sy.Integral(x, (x, 0, 1))
    message = str(err)
    for needle in ("Integral", "MAPPING[", "_print_Integral", "_theano"):
        assert needle in message


def test_unsupported_user_function_is_named():
    g = sy.Function("g", real=True)
    class h(sy.Function):
        pass
    with pytest.raises(UnsupportedExpressionError, match=r"\bh\b"):
        code(h(x) + 1)
    # an undefined function applied to a symbol is an input, as in SymPy
    assert code(g(x)).owner is None


def test_complex_infinity_is_refused_with_a_reason():
    with pytest.raises(UnsupportedExpressionError, match="zoo"):
        code(sy.zoo)


def test_slices_and_python_numbers_pass_through():
    assert code(slice(1, 2, 3)) == slice(1, 2, 3)
    s = code(slice(x, y))
    assert s.start.name == "x" and s.stop.name == "y"


# --------------------------------------------------------------------- constants
@pytest.mark.parametrize(
    "expr, value",
    [
        (sy.Integer(3), 3),
        (sy.Integer(2) ** 70, 2.0**70),
        (-sy.Integer(10) ** 30, -1e30),
        (sy.Rational(1, 3), 1 / 3),
        (sy.Float("0.1", 50), 0.1),
        (sy.pi, math.pi),
        (sy.E, math.e),
        (sy.EulerGamma, 0.5772156649015329),
        (sy.GoldenRatio, (1 + 5**0.5) / 2),
        (sy.Catalan, 0.915965594177219),
        (sy.oo, math.inf),
        (-sy.oo, -math.inf),
    ],
)
def test_number_constants_are_exact_and_typed(expr, value):
    v = code(expr)
    assert v.dtype in ("float64", "int64")
    assert float(v.eval()) == value


def test_nan_and_imaginary_unit():
    assert math.isnan(float(code(sy.nan).eval()))
    i = code(sy.I)
    assert i.dtype == "complex128" and complex(i.eval()) == 1j
    assert complex(code(3 + 2 * sy.I).eval()) == 3 + 2j


def test_booleans():
    assert code(sy.true).dtype == "bool" and bool(code(sy.true).eval())
    assert not bool(code(sy.false).eval())


def test_no_float32_autocast_of_functions_of_integers():
    for expr in [sy.sqrt(3), sy.sin(2), sy.exp(sy.Integer(1), evaluate=False), sy.log(7)]:
        v = code(expr)
        assert v.dtype == "float64", expr
        assert abs(float(v.eval()) - float(expr.evalf(30))) <= 2 * EPS64 * abs(float(expr.evalf()))


def test_float32_graph_stays_float32():
    e = 2 * x + sy.Rational(1, 3) + sy.pi * sy.sin(x)
    v = code(e, dtypes={x: "float32"})
    assert v.dtype == "float32"
    f = function([x], e, dtypes={x: "float32"})
    out = f(np.float32(0.5))
    assert out.dtype == np.float32
    assert abs(float(out) - mp_value(e, x=0.5)) <= 4 * np.finfo(np.float32).eps * 3


def test_float_dtype_setting():
    v = code(sy.Rational(1, 3) * x, settings={"float_dtype": "float32"}, dtypes={x: "float32"})
    assert v.dtype == "float32"


# --------------------------------------------------------------------- Pow and integers
def test_integer_reciprocal_is_not_truncated():
    n = sy.Symbol("n", integer=True)
    f = function([n], [1 / n, n**-2, n / 2, n + 1, n**2, sy.sqrt(n)], dtypes={n: "int64"})
    inv, inv2, half, plus1, sq, root = f(3)
    assert float(inv) == pytest.approx(1 / 3, rel=EPS64)
    assert float(inv2) == pytest.approx(1 / 9, rel=EPS64)
    assert float(half) == 1.5
    assert plus1.dtype.kind == "i" and plus1 == 4  # integer arithmetic stays integer
    assert sq.dtype.kind == "i" and sq == 9
    assert float(root) == pytest.approx(math.sqrt(3), rel=EPS64)


@pytest.mark.parametrize(
    "expr",
    [x**2, x**-1, x**-3, sy.sqrt(x), 1 / sy.sqrt(x), x ** sy.Rational(2, 3), x**y, x**2.5, x**17],
)
def test_powers_against_mpmath(expr):
    f = function([x, y], expr, on_unused_input="ignore")
    for xv in (0.3, 1.7, 12.5):
        want = mp_value(expr, x=xv, y=1.3)
        assert float(f(xv, 1.3)) == pytest.approx(want, rel=4 * EPS64)


# --------------------------------------------------------------------- Piecewise
def test_piecewise_is_a_switch_chain_with_nan_where_no_condition_holds():
    pw = sy.Piecewise((x, x < 0), (x**2, x < 1), (sy.oo, x < 2))
    f = function([x], pw, dims={x: 1})
    out = f(np.array([-2.0, 0.5, 1.5, 3.0]))
    assert out[:2].tolist() == [-2.0, 0.25]
    assert out[2] == math.inf
    assert math.isnan(out[3])


def test_piecewise_otherwise_and_many_pieces():
    pieces = [(sy.Integer(k), x < k) for k in range(1, 12)] + [(-sy.oo, True)]
    pw = sy.Piecewise(*pieces)
    f = function([x], pw, dims={x: 1})
    xs = np.array([0.5, 3.5, 10.5, 11.0, 50.0])
    np.testing.assert_array_equal(f(xs), [1, 4, 11, -np.inf, -np.inf])


def test_piecewise_first_true_condition_wins():
    pw = sy.Piecewise((1, x > 0), (2, x > -1), (3, True))
    f = function([x], pw, dims={x: 1})
    np.testing.assert_array_equal(f(np.array([1.0, -0.5, -2.0])), [1, 2, 3])


SINGULAR_PIECEWISE = [
    sy.Piecewise((sy.sqrt(x), x > 0), (0, True)),
    sy.Piecewise((sy.log(x), x > 0), (x, True)),
    sy.Piecewise((0, x <= 0), (1 / x, x < 1), (1, True)),
    sy.Piecewise((sy.sqrt(1 - x**2), sy.Abs(x) < 1), (0, True)),
    sy.Piecewise((sy.log(x - 5), x > 5), (x**2, True)),
    sy.Piecewise((sy.sqrt(x * y), (x > 0) & (y > 0)), (x + y, True)),
]


@pytest.mark.parametrize("pw", SINGULAR_PIECEWISE, ids=str)
def test_piecewise_gradient_is_never_nan_from_the_untaken_branch(pw):
    grads = [sy.Derivative(pw, s) for s in (x, y)]
    f = function([x, y], [pw, *grads], dims={x: 1, y: 1}, on_unused_input="ignore")
    xs = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0, 6.0])
    ys = np.full_like(xs, 0.7)
    value, gx, gy = f(xs, ys)
    exact = [sy.diff(pw, s) for s in (x, y)]
    for i, (xv, yv) in enumerate(zip(xs, ys)):
        for got, want_expr in ((value[i], pw), (gx[i], exact[0]), (gy[i], exact[1])):
            want = complex(want_expr.subs({x: xv, y: yv}).evalf(30))
            if math.isfinite(want.real) and want.imag == 0:
                assert got == pytest.approx(want.real, rel=8 * EPS64, abs=8 * EPS64), (xv, want_expr)
        assert np.isfinite(gx[i]) and np.isfinite(gy[i]), (pw, xv)


def test_single_switch_gives_nan_gradient_which_the_double_switch_removes():
    pw = sy.Piecewise((sy.sqrt(x), x > 0), (0, True))
    unsafe = function([x], sy.Derivative(pw, x), settings={"safe_piecewise_gradient": False},
                      mode=pytensor.compile.mode.get_mode("FAST_COMPILE").excluding("canonicalize"))
    safe = function([x], sy.Derivative(pw, x))
    assert math.isnan(float(unsafe(0.0)))
    assert float(safe(0.0)) == 0.0


def test_heaviside():
    f = function([x], [sy.Heaviside(x), sy.Heaviside(x, 0), sy.Heaviside(x, 1)], dims={x: 1})
    xs = np.array([-1.0, 0.0, 2.0, np.nan])
    h, h0, h1 = f(xs)
    np.testing.assert_array_equal(h[:3], [0, 0.5, 1])
    np.testing.assert_array_equal(h0[:3], [0, 0, 1])
    np.testing.assert_array_equal(h1[:3], [0, 1, 1])
    assert np.isnan(h[3]) and np.isnan(h0[3]) and np.isnan(h1[3])


# --------------------------------------------------------------------- Derivative
@pytest.mark.parametrize(
    "expr, wrt",
    [
        (sy.sin(x) * sy.exp(x), [(x, 1)]),
        (sy.sin(x) * sy.exp(x), [(x, 3)]),
        (x**3 * y**2 + sy.log(x * y), [(x, 1), (y, 2)]),
        (sy.atan2(y, x), [(y, 1)]),
    ],
)
def test_derivative_through_pytensor_grad(expr, wrt):
    d = sy.Derivative(expr, *wrt)
    f = function([x, y], d, on_unused_input="ignore")
    exact = d.doit()
    for xv, yv in [(0.3, 1.2), (1.7, 0.4)]:
        want = mp_value(exact, x=xv, y=yv)
        assert float(f(xv, yv)) == pytest.approx(want, rel=64 * EPS64)


def test_derivative_is_elementwise_on_arrays_and_broadcast_inputs():
    d = sy.Derivative(x**2 * y, x)
    f = function([x, y], d, dims={x: 1, y: 1})
    np.testing.assert_allclose(f(np.array([1.0, 2.0]), np.array([3.0, 5.0])), [6.0, 20.0])
    g = function([x, y], d, broadcastables={x: (), y: (False,)})
    np.testing.assert_allclose(g(2.0, np.array([3.0, 5.0])), [12.0, 20.0])


def test_derivative_of_an_integer_expression_and_of_a_constant():
    n = sy.Symbol("n")
    f = function([n], sy.Derivative(n**3, n), dtypes={n: "int64"})
    assert float(f(2)) == 12.0
    g = function([x, y], sy.Derivative(y**2, x, evaluate=False), on_unused_input="ignore")
    assert float(g(1.0, 2.0)) == 0.0


def test_derivative_with_respect_to_an_applied_function():
    fx = sy.Function("f")(x)
    f = function([fx], sy.Derivative(sy.sin(fx) * fx, fx))
    assert float(f(0.5)) == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5), rel=4 * EPS64)


def test_derivative_with_respect_to_a_non_input_is_refused():
    X = sy.MatrixSymbol("X", 2, 2)
    with pytest.raises(UnsupportedExpressionError, match="not a graph input"):
        code(sy.Derivative(X[0, 0] ** 2, X[0, 0]))


@pytest.mark.parametrize("fn", [sy.acot, sy.sech, sy.csch], ids=str)
def test_gradients_of_formula_entries_match_sympy(fn):
    """Formula entries (acot's switch, sech/csch via exp) differentiate correctly."""
    f = function([x], sy.Derivative(fn(x), x), dims={x: 1})
    xs = np.array([-3.0, -0.5, 0.25, 1.0, 2.5, 30.0]) if fn is not sy.acot else np.array([-3.0, -0.5, 0.0, 0.25, 1.0, 30.0])
    exact = sy.diff(fn(x), x)
    want = [mp_value(exact, x=v) for v in xs]
    np.testing.assert_allclose(f(xs), want, rtol=16 * EPS64)


def test_unknown_keyword_to_printer_is_rejected():
    with pytest.raises(TypeError, match="settings"):
        TheanoPrinter(cache={}, float_dtyp="float32")


@pytest.mark.parametrize("expr", [x + 100000, 40000 * x, sy.Mod(x, 70000), x**40000 * x, 1 / sy.cosh(x) ** 300])
def test_big_integer_literals_keep_a_float32_graph_float32(expr):
    """Integer literals are weak (NumPy's NEP 50): int32 constants must not upcast float32 to float64."""
    v = code(expr, dtypes={x: "float32"})
    assert v.dtype == "float32"


@pytest.mark.parametrize(
    "step, want",
    [(sy.ceiling(x), [0, 0]), (sy.Heaviside(x), [0, 0]), (sy.floor(x) * x, [0, 1])],
    ids=["ceiling", "Heaviside", "floor*x"],
)
def test_derivative_keeps_float32(step, want):
    """Away from the jumps: d ceiling = d Heaviside = 0, d (floor(x) x) = floor(x)."""
    f = function([x], sy.Derivative(step, x), dims={x: 1}, dtypes={x: "float32"})
    out = f(np.array([0.5, 1.5], dtype="float32"))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, want)


def test_symbol_named_like_a_dtype_is_an_input():
    """PyTensor refuses tensor names that look like dtypes ("f32", "d"): the printer still names the input."""
    f32, d = sy.symbols("f32 d")
    f = function([f32, d], [f32 * d + 1], dims={f32: 1, d: 1})
    assert [v.name for v in f.theano_function.maker.fgraph.inputs] == ["f32", "d"]
    np.testing.assert_array_equal(f(np.array([2.0]), np.array([3.0])), [7.0])


@pytest.mark.parametrize("mode", ["CVM", "NUMBA", "FAST_COMPILE"])
def test_integer_max_and_min_are_exact_past_2_to_53(mode):
    """PyTensor's C maximum/minimum convert int64 through double; the printer's are exact everywhere."""
    from sympy.codegen import numpy_nodes as nn

    n, m = sy.symbols("n m", integer=True)
    f = function([n, m], [sy.Max(n, m), sy.Min(n, m), nn.maximum(n, m), nn.minimum(n, m)],
                 dims={n: 1, m: 1}, dtypes={n: "int64", m: "int64"}, mode=mode)
    a, b = np.array([2**53 + 1, -(2**62) - 1, 5]), np.array([2**53, -(2**62), 5])
    big, small, big2, small2 = f(a, b)
    for values, expected in [(big, np.maximum(a, b)), (small, np.minimum(a, b)),
                             (big2, np.maximum(a, b)), (small2, np.minimum(a, b))]:
        assert values.dtype == np.int64
        np.testing.assert_array_equal(values, expected)
