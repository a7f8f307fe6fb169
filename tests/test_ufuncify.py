"""``ufuncify``: a real ``numpy.ufunc`` from the fused PyTensor kernel, with no C build step.

References: mpmath at 30 digits, or NumPy formulas written out by hand; the
tolerances are multiples of the output dtype's machine epsilon.
"""
import sys
import threading

import mpmath
import numpy as np
import pytest
import sympy as sy

from conftest import assert_close_to_reference
from sympy_theano_printer import NotElementwiseError, ShapeError, ufuncify
from sympy_theano_printer.ufuncify import compile_kernel

a, b, c, x, y = sy.symbols("a b c x y")
K = 16


def test_is_a_real_ufunc_with_float64_and_float32_loops():
    u = ufuncify([x, y], sy.sqrt(x**2 + y**2))
    assert type(u) is np.ufunc
    assert (u.nin, u.nout, u.signature) == (2, 1, None)
    assert u.types == ["ff->f", "dd->d"]  # NumPy's order: narrowest first
    assert u(np.float32(3), np.float32(4)).dtype == np.float32
    assert u(3, 4) == 5.0 and u(3, 4).dtype == np.float64  # int64 casts safely to float64 only


def test_values_match_mpmath_in_both_dtypes():
    expr = sy.exp(-x**2 / 2) / sy.sqrt(2 * sy.pi) + sy.atan(x)
    u = ufuncify(x, expr)
    ref = sy.lambdify(x, expr, "mpmath")
    xs = np.linspace(-5, 5, 41)
    with mpmath.workdps(30):
        want = [ref(mpmath.mpf(float(v))) for v in xs]
    assert_close_to_reference(u(xs), want, "float64", k=K)
    xs32 = xs.astype(np.float32)
    with mpmath.workdps(30):
        want32 = [ref(mpmath.mpf(float(v))) for v in xs32]
    # The float32 loop runs the float64 kernel and rounds once: within one float32 ulp.
    assert_close_to_reference(u(xs32), want32, "float32", k=1)


def test_broadcasting_between_arguments():
    u = ufuncify([x, y], x * sy.exp(y))
    xs, ys = np.linspace(0, 1, 3)[:, None], np.linspace(-1, 1, 4)
    got = u(xs, ys)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, xs * np.exp(ys), rtol=K * np.finfo(float).eps)


def test_out_and_reduce():
    u = ufuncify([x, y], x - y)
    out = np.full(4, -1.0)
    res = u(np.arange(4.0), 1.0, out=out)
    assert res is out
    np.testing.assert_array_equal(out, [-1.0, 0.0, 1.0, 2.0])
    assert u.reduce(np.array([10.0, 1.0, 2.0])) == 7.0


def test_multiple_outputs_as_a_tuple():
    u = ufuncify([x, y], [x + y, x * y, sy.sin(x)])
    assert (u.nin, u.nout, u.signature) == (2, 3, None)
    s, p, sn = u(np.array([1.0, 2.0]), 3.0)
    np.testing.assert_array_equal(s, [4.0, 5.0])
    np.testing.assert_array_equal(p, [3.0, 6.0])
    np.testing.assert_allclose(sn, np.sin([1.0, 2.0]), rtol=K * np.finfo(float).eps)
    outs = (np.empty(2), np.empty(2), np.empty(2))
    res = u(np.array([1.0, 2.0]), 3.0, out=outs)
    assert all(r is o for r, o in zip(res, outs))
    assert u(np.float32(1), np.float32(2))[0].dtype == np.float32


def test_argument_order():
    expr = a - 2 * b + 4 * c
    abc = ufuncify([a, b, c], expr)
    acb = ufuncify([a, c, b], expr)
    assert abc(1.0, 2.0, 3.0) == 1.0 - 4.0 + 12.0
    assert acb(1.0, 2.0, 3.0) == 1.0 - 6.0 + 8.0
    assert acb(1.0, 3.0, 2.0) == abc(1.0, 2.0, 3.0)


def test_unused_arguments_and_constant_outputs():
    u = ufuncify([x, y], [x, sy.Integer(2)])
    first, second = u(np.array([5.0, 6.0]), 1.0)
    np.testing.assert_array_equal(first, [5.0, 6.0])
    np.testing.assert_array_equal(second, [2.0, 2.0])


def test_identical_call_returns_the_same_object():
    u1 = ufuncify([x, y], [x + y, x - y])
    u2 = ufuncify((x, y), [x + y, x - y])
    assert u1 is ufuncify([x, y], [x + y, x - y])
    assert u2 is not u1  # a tuple of arguments is another call
    assert ufuncify([y, x], [x + y, x - y]) is not u1


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_piecewise_and_boolean_outputs():
    # (LLVM may compute a branch on the raw input and discard it: the value is right,
    # NumPy may still see the floating-point flag, as with lambdify(..., 'numpy').)
    pw = sy.Piecewise((x**2, x < 0), (sy.sin(x), x < 1), (sy.sqrt(x), x < 3), (sy.log(x), True))
    u = ufuncify(x, pw)
    xs = np.array([-2.0, 0.5, 2.0, 4.0])
    np.testing.assert_allclose(u(xs), [4.0, np.sin(0.5), np.sqrt(2.0), np.log(4.0)],
                               rtol=K * np.finfo(float).eps)
    flag = ufuncify(x, x > 1)
    np.testing.assert_array_equal(flag(np.array([0.0, 2.0])), [False, True])


def test_helpers_are_inlined():
    helper = sy.Function("helper")
    u = ufuncify([x], helper(x) + 1, helpers=[("helper", x**2, [x])])
    assert u(3.0) == 10.0


def test_verbose_prints_the_loop_body(capsys):
    ufuncify([x], sy.cosh(x) - 1, verbose=True)
    assert "def ufuncify_kernel(a0, o0)" in capsys.readouterr().out


# --------------------------------------------------------------------------- errors
def test_matrix_input_is_refused_with_a_clear_error():
    M = sy.MatrixSymbol("M", 2, 2)
    with pytest.raises(NotElementwiseError, match="Matrix") as info:
        ufuncify([x], sy.Matrix([[x, 1]]))
    assert isinstance(info.value.expr, sy.MatrixBase)
    with pytest.raises(NotElementwiseError, match="M"):
        ufuncify([M], M * M)
    with pytest.raises(NotElementwiseError, match="M"):
        ufuncify([x], sy.Trace(M) * x)


def test_non_elementwise_graph_is_refused():
    import pytensor.tensor as pt

    from sympy_theano_printer import TheanoPrinter

    class total(sy.Function):  # noqa: N801 - a SymPy function class
        pass

    class Summing(TheanoPrinter):
        def _print_total(self, expr, **kwargs):
            return pt.sum(self._print(expr.args[0]))

    with pytest.raises(NotElementwiseError, match="not element-wise"):
        compile_kernel([x], [total(x) * x], ["float64"], printer=Summing(cache={}))


def test_missing_symbol_language_and_keywords():
    with pytest.raises(ShapeError, match="depends on y"):
        ufuncify([x], x + y)
    with pytest.raises(ValueError, match="language"):
        ufuncify([x], x, language="C")
    with pytest.raises(TypeError, match="unexpected keyword"):
        ufuncify([x], x, optimize=True)
    with pytest.raises(ValueError, match="at least one argument"):
        ufuncify([], sy.Integer(1))


def test_other_backends_go_to_autowrap(monkeypatch):
    import sympy.utilities.autowrap as autowrap

    seen = {}

    def fake(args, expr, **kwargs):
        seen.update(kwargs, args=args, expr=expr)
        return "autowrap"

    monkeypatch.setattr(autowrap, "ufuncify", fake)
    assert ufuncify([x], x + 1, backend="numpy", tempdir="/tmp/t") == "autowrap"
    assert seen["backend"] == "numpy" and seen["tempdir"] == "/tmp/t"


# --------------------------------------------------------------------------- threads
def test_threads_get_their_own_results():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the calls (Python's default: every 5 ms)
    try:
        _threads_get_their_own_results()
    finally:
        sys.setswitchinterval(old)


def _threads_get_their_own_results():
    u = ufuncify([x, y], [sy.sin(x) * y, sy.exp(-x) + y])
    errors = []
    barrier = threading.Barrier(8)

    def worker(k):
        rng = np.random.default_rng(100 + k)
        barrier.wait()
        try:
            for _ in range(1000):
                xs, ys = rng.random(rng.integers(1, 64)), rng.random()
                s, e = u(xs, ys)
                np.testing.assert_allclose(s, np.sin(xs) * ys, rtol=1e-13)
                np.testing.assert_allclose(e, np.exp(-xs) + ys, rtol=1e-13)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]
