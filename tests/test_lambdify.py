"""``lambdify(..., modules='theano')``: registration, SymPy's own suite, every argument and output form.

References are computed independently, with mpmath at 30 digits (or plain
NumPy for shapes), and compared with tolerances in units of the output
dtype's machine epsilon (``conftest.assert_close_to_reference``).
"""
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sy

import sympy_theano_printer as stp
from conftest import assert_close_to_reference
from sympy_theano_printer import ShapeError, UnsupportedExpressionError, theano_function
from sympy_theano_printer.lambdify import (
    PARALLEL_MIN_SIZE,
    LambdifiedFunction,
    is_registered,
    register,
    unregister,
)

x, y, z, t = sy.symbols("x y z t")
A = sy.MatrixSymbol("A", 2, 2)
B = sy.MatrixSymbol("B", 2, 2)
f = sy.Function("f")

#: Fused Numba kernels compute with PyTensor's fastmath flags; a few ulps.
K = 16


def mp_values(expr, points, dps=30):
    """mpmath reference values of a one-variable SymPy expression (x) at ``points``."""
    fn = sy.lambdify(x, expr, "mpmath")
    with mpmath.workdps(dps):
        return [fn(mpmath.mpf(float(p))) for p in np.ravel(points)]


# --------------------------------------------------------------------------- registration
def test_import_registers_theano_and_pytensor_modules():
    import sympy.utilities as utilities

    assert is_registered()
    assert sy.lambdify is utilities.lambdify is sys.modules["sympy.utilities.lambdify"].lambdify
    for modules in ("theano", "pytensor", "Theano", ["theano"], ("pytensor", "numpy")):
        fn = sy.lambdify(x, x + 1, modules)
        assert isinstance(fn, LambdifiedFunction), modules
        assert fn(np.float64(1.5)) == 2.5


def test_other_modules_reach_sympy_unchanged():
    fn = sy.lambdify(x, sy.sin(x), "math")
    assert not isinstance(fn, LambdifiedFunction)
    assert fn(0.0) == 0.0
    with pytest.raises(TypeError, match="unexpected keyword"):
        sy.lambdify(x, x, "numpy", mode="CVM")


def test_unregister_restores_sympy_and_register_is_idempotent():
    from sympy_theano_printer.lambdify import sympy_lambdify

    try:
        unregister()
        assert sy.lambdify is sympy_lambdify
        assert not is_registered()
        with pytest.raises(NameError, match="theano"):
            sy.lambdify(x, x, "theano")
        # The package's own lambdify needs no registration.
        assert stp.lambdify(x, 2 * x)(np.float64(2.0)) == 4.0
    finally:
        register()
        register()
    assert is_registered()
    unregister()
    register()
    assert sy.lambdify(x, x, "theano")(np.float64(3.0)) == 3.0


def test_environment_variable_skips_registration():
    code = ("import sympy, sympy_theano_printer as s; "
            "print(s.lambdify.__module__, sympy.lambdify is s.lambdify)")
    env = dict(os.environ, SYMPY_THEANO_PRINTER_REGISTER="0")
    out = subprocess.run([sys.executable, "-c", code + "; from sympy_theano_printer.lambdify "
                          "import is_registered; print(is_registered())"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split()[-1] == "False"


def test_sympy_lambdify_suite_passes_with_the_plugin_imported():
    """SymPy's own test_lambdify.py, run against the installed SymPy with the wrapper installed.

    In a subprocess (the suite changes global state) with a time limit.
    ``sys._running_pytest`` makes ``sympy.testing.pytest`` use pytest's skips,
    as SymPy's own conftest does.
    """
    import sympy.utilities.tests as sympy_tests

    path = os.path.join(os.path.dirname(sympy_tests.__file__), "test_lambdify.py")
    runner = textwrap.dedent(f"""
        import sys
        sys._running_pytest = True
        import sympy_theano_printer
        import sympy.utilities.tests.test_lambdify as suite
        assert getattr(suite.lambdify, "_stp_original", None) is not None, "wrapper not in use"
        import pytest
        sys.exit(pytest.main([{path!r}, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                              "-W", "ignore::DeprecationWarning"]))
    """)
    proc = subprocess.run([sys.executable, "-c", runner], capture_output=True, text=True,
                          timeout=600, cwd=os.path.dirname(path))
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "passed" in summary and "failed" not in summary, summary


# --------------------------------------------------------------------------- values
def test_normal_pdf_matches_mpmath():
    expr = sy.exp(-x**2 / 2) / sy.sqrt(2 * sy.pi)
    fn = sy.lambdify(x, expr, "theano")
    xs = np.linspace(-6, 6, 101)
    assert_close_to_reference(fn(xs), mp_values(expr, xs), "float64", k=K)
    xs32 = xs.astype(np.float32)
    assert_close_to_reference(fn(xs32), mp_values(expr, xs32), "float32", k=K)


def test_piecewise_and_hydrogen_derivative_match_mpmath():
    from sympy.physics.hydrogen import R_nl

    pw = sy.Piecewise((x**2, x < 0), (sy.sin(x), x < 1), (sy.sqrt(x), x < 3), (sy.log(x), True))
    h = R_nl(6, 2, x, 6)
    fn = sy.lambdify(x, [pw, sy.diff(h, x)], "theano")
    xs = np.linspace(0.05, 4.5, 57)
    got_pw, got_dh = fn(xs)
    assert_close_to_reference(got_pw, mp_values(pw, xs), "float64", k=K)
    ref = mp_values(sy.diff(h, x), xs)
    scale = max(abs(float(r)) for r in ref)
    assert_close_to_reference(got_dh, ref, "float64", k=K, atol=1e3 * scale)


def test_integer_and_complex_inputs():
    fn = sy.lambdify([x, y], x**2 + y, "theano")
    assert fn(3, 4) == 13 and np.asarray(fn(3, 4)).dtype == np.int64
    assert fn(np.arange(3), 1).tolist() == [1, 2, 5]
    c = sy.lambdify(x, sy.exp(sy.I * x), "theano")(np.array([0.0, np.pi]))
    np.testing.assert_allclose(c, [1.0, -1.0], atol=1e-15)


def test_python_scalars_follow_the_arrays_dtype():
    fn = sy.lambdify([x, y], x * y, "theano")
    assert fn(np.ones(3, np.float32), 2.5).dtype == np.float32
    assert fn(np.ones(3, np.float32), 2).dtype == np.float32
    assert fn(np.ones(3), 2).dtype == np.float64


# --------------------------------------------------------------------------- argument forms
def test_nested_argument_lists():
    fn = sy.lambdify([[x, y], z], x * y + z, "theano")
    assert fn([2.0, 3.0], 1.0) == 7.0
    g = sy.lambdify(((x, (y,)), z), [x, y, z], "theano")
    assert [float(v) for v in g((1.0, (2.0,)), 3.0)] == [1.0, 2.0, 3.0]
    # Unpacking follows Python's: rows of an array.
    np.testing.assert_array_equal(fn(np.array([[1.0, 2.0], [3.0, 4.0]]), 0.0), [3.0, 8.0])
    with pytest.raises(ValueError, match=r"\[x, y\]"):
        fn([1.0, 2.0, 3.0], 1.0)
    with pytest.raises(TypeError, match="takes 2 positional arguments but 1 was given"):
        fn([1.0, 2.0])


def test_dummy_arguments_and_dummify():
    d1, d2 = sy.Dummy("x"), sy.Dummy("x")
    fn = sy.lambdify([d1, d2], d1 - 2 * d2, "theano")
    assert fn(5.0, 1.0) == 3.0
    assert sy.lambdify([x, y], x / y, "theano", dummify=True)(6.0, 3.0) == 2.0


def test_expressions_and_applied_functions_as_arguments():
    ft = f(t)
    fn = sy.lambdify([ft, t], ft**2 + t, "theano")
    assert fn(3.0, 1.0) == 10.0
    # A non-symbol argument is replaced by a dummy, as SymPy does.
    g = sy.lambdify([x + y], (x + y)**2 + 1, "theano")
    assert g(3.0) == 10.0
    d = sy.lambdify([sy.Derivative(ft, t)], 2 * sy.Derivative(ft, t), "theano")
    assert d(4.0) == 8.0


def test_matrix_symbol_arguments():
    fn = sy.lambdify([A, B], [A * B + A.T, sy.Trace(A)], "theano")
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.0]])
    prod, tr = fn(a, b)
    np.testing.assert_allclose(prod, a @ b + a.T)
    assert tr == 5.0
    assert fn.route == "pytensor"
    with pytest.raises(ShapeError, match="A"):
        fn(np.ones((3, 3)), b)


def test_cse_true_and_callable():
    expr = [sy.sin(x * y) + sy.cos(x * y), sy.sin(x * y)**2]
    plain = sy.lambdify([x, y], expr, "theano")
    with_cse = sy.lambdify([x, y], expr, "theano", cse=True)
    calls = []

    def my_cse(e):
        calls.append(e)
        return sy.cse(e)

    custom = sy.lambdify([x, y], expr, "theano", cse=my_cse)
    xs = np.linspace(0, 2, 7)
    for fn in (with_cse, custom):
        for a, b in zip(fn(xs, 0.5), plain(xs, 0.5)):
            np.testing.assert_allclose(a, b, rtol=1e-15)
    assert calls == [expr]
    m = sy.lambdify([A], [A * A], "theano", cse=True)(np.eye(2))[0]
    np.testing.assert_allclose(m, np.eye(2))


# --------------------------------------------------------------------------- output forms and shapes
def test_output_structures_match_numpy_lambdify():
    expr = [x + y, (x * y, [y]), sy.Matrix([[x, y], [y, x]]), sy.Tuple(x, y), 1, sy.pi]
    ours = sy.lambdify([x, y], expr, "theano")
    ref = sy.lambdify([x, y], expr, "numpy")
    for xv, yv in [(2.0, 3.0), (np.linspace(0, 1, 4), np.linspace(1, 2, 4))]:
        got, want = ours(xv, yv), ref(xv, yv)
        assert type(got) is type(want) is list
        assert type(got[1]) is tuple and type(got[1][1]) is list and type(got[3]) is tuple
        for g, w in zip(_flat(got), _flat(want)):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-15)


def _flat(v):
    if isinstance(v, (list, tuple)):
        return [a for b in v for a in _flat(b)]
    return [v]


def test_broadcasting_and_per_output_shapes():
    fn = sy.lambdify([x, y], [x * y, y + 1, x], "theano")
    xs, ys = np.linspace(0, 1, 3)[:, None], np.linspace(0, 1, 4)
    prod, yp, xo = fn(xs, ys)
    assert prod.shape == (3, 4) and yp.shape == (4,) and xo.shape == (3, 1)
    np.testing.assert_allclose(prod, xs * ys)
    prod0, _, _ = fn(2.0, ys)
    assert prod0.shape == (4,)
    scalar = fn(2.0, 3.0)[0]
    assert isinstance(scalar, np.floating) and scalar == 6.0


def test_matrix_and_array_outputs():
    fn = sy.lambdify(x, sy.Matrix([[x, 0], [1, x**2]]), "theano")
    m = fn(3.0)
    assert m.shape == (2, 2)
    np.testing.assert_array_equal(m, [[3.0, 0.0], [1.0, 9.0]])
    mv = fn(np.array([1.0, 2.0]))
    assert mv.shape == (2, 2, 2)
    np.testing.assert_array_equal(mv[1, 1], [1.0, 4.0])
    arr = sy.lambdify(x, sy.Array([x, 2 * x, 3 * x]), "theano")(np.float64(1.0))
    np.testing.assert_array_equal(arr, [1.0, 2.0, 3.0])


def test_compiled_once_per_dtype_signature():
    fn = sy.lambdify([x, y], sy.exp(x) * y, "theano")
    fn(np.ones(3), np.ones(3))
    fn(np.ones((2, 5)), 1.0)
    fn(1.0, np.ones(4))
    assert len(fn.signatures) == 1
    fn(np.ones(3, np.float32), np.float32(1))
    assert len(fn.signatures) == 2
    gen = sy.lambdify([x, y], sy.exp(x) * y, "theano", mode="FAST_COMPILE")
    gen(np.ones(3), np.ones(3))
    gen(np.ones(5), np.ones(5))
    gen(np.ones(3), 1.0)
    assert gen.route == "pytensor" and len(gen.signatures) == 2


@pytest.mark.parametrize("mode", ["NUMBA", "CVM"])
def test_pytensor_modes_agree_with_the_kernel(mode):
    expr = [sy.exp(-x**2) * sy.sin(y), sy.Piecewise((x, x < y), (y, True))]
    kern = sy.lambdify([x, y], expr, "theano")
    gen = sy.lambdify([x, y], expr, "theano", mode=mode)
    xs, ys = np.linspace(-1, 1, 9)[:, None], np.linspace(0, 2, 5)
    for a, b in zip(kern(xs, ys), gen(xs, ys)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert kern.route == "elementwise" and gen.route == "pytensor"


def test_docstring_names_the_arguments():
    fn = sy.lambdify([x, y], x + y, "theano")
    assert fn.__doc__.splitlines()[2] == "func(x, y)"
    pair = [x, y]
    g = sy.lambdify([pair, z], x + y + z, "numpy")
    assert "func(pair, z)" in g.__doc__


# --------------------------------------------------------------------------- errors
def test_missing_symbol_is_named():
    with pytest.raises(ShapeError, match="depends on y") as info:
        sy.lambdify(x, x + y, "theano")
    assert info.value.symbol == y


def test_untranslatable_expression():
    with pytest.raises(UnsupportedExpressionError, match="zeta"):
        sy.lambdify(x, sy.zeta(x) + 1, "theano")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn = sy.lambdify(x, sy.zeta(x), ["theano", "mpmath"])
    assert any("zeta" in str(w.message) for w in caught)
    assert abs(fn(2.0) - np.pi**2 / 6) < 1e-12


def test_implemented_function_is_refused_clearly():
    from sympy.utilities.lambdify import implemented_function

    g = implemented_function("g", lambda v: v + 1)
    with pytest.raises(ShapeError, match="implemented_function"):
        sy.lambdify(x, g(x), "theano")


def test_bad_printer_and_bad_arguments():
    from sympy.printing.numpy import NumPyPrinter

    with pytest.raises(TypeError, match="TheanoPrinter"):
        sy.lambdify(x, x, "theano", printer=NumPyPrinter)
    with pytest.raises(ValueError, match="more than once"):
        sy.lambdify([x, x], x, "theano")
    with pytest.raises(TypeError, match="argument"):
        sy.lambdify([x], x, "theano")("a")


def test_custom_printer_class_and_instance_are_used():
    class triple(sy.Function):  # noqa: N801 - a SymPy function class
        pass

    class Tripling(stp.TheanoPrinter):
        def _print_triple(self, expr, **kwargs):
            return 3 * self._print(expr.args[0])

    fn = sy.lambdify(x, triple(x) + 1, "theano", printer=Tripling)
    assert fn(np.float64(-3.0)) == -8.0
    doubling = stp.TheanoPrinter(settings={"mapping": {sy.sin: lambda v: 2 * v}})
    assert sy.lambdify(x, sy.sin(x) + 1, "theano", printer=doubling)(np.float64(3.0)) == 7.0


# --------------------------------------------------------------------------- compiled before
def test_kernel_compiled_before_loads_without_printing(tmp_path):
    """A second process with the same compile directory loads the kernel without printing it."""
    script = textwrap.dedent("""
        import sys, numpy as np, sympy as sy
        import sympy_theano_printer.ufuncify as u
        if sys.argv[1] == "second":
            def refuse(*a, **k):
                raise AssertionError("printed again")
            u.print_graph = refuse
            import sympy_theano_printer.lambdify as l
            l.print_graph = refuse
        x = sy.Symbol("x")
        fn = sy.lambdify(x, sy.exp(-x**2 / 2) / sy.sqrt(2 * sy.pi) + sy.sin(3 * x), "theano")
        v = fn(np.array([0.0, 1.0]))
        np.testing.assert_allclose(v, np.exp(-np.array([0.0, 1.0])**2 / 2) / np.sqrt(2 * np.pi)
                                   + np.sin(3 * np.array([0.0, 1.0])), rtol=1e-14)
        print("ok")
    """)
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={tmp_path}")
    for stage in ("first", "second"):
        out = subprocess.run([sys.executable, "-c", script, stage], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


# --------------------------------------------------------------------------- threads
@pytest.fixture
def fast_switching():
    """Switch threads every 10 microseconds (Python's default is 5 ms), so that calls interleave.

    With it, a bare PyTensor ``Function`` called from 8 threads fails within a
    few thousand calls ("Multiple values for input"): its inputs live in
    storage shared by all calls.
    """
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _hammer(fn, make_args, reference, threads=8, calls=1000):
    """Call ``fn`` from ``threads`` threads, ``calls`` times each, with distinct inputs."""
    errors = []
    barrier = threading.Barrier(threads)

    def worker(k):
        rng = np.random.default_rng(k)
        barrier.wait()
        try:
            for _ in range(calls):
                args = make_args(rng)
                got = fn(*args)
                want = reference(*args)
                for g, w in zip(got if isinstance(got, (list, tuple)) else [got],
                                want if isinstance(want, (list, tuple)) else [want]):
                    np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-300)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors[:3]


def test_threads_lambdify_elementwise(fast_switching):
    fn = sy.lambdify([x, y], [sy.sin(x) * y, x + y], "theano")
    _hammer(fn, lambda rng: (rng.random(rng.integers(1, 50)), rng.random()),
            lambda a, b: [np.sin(a) * b, a + b])


def test_threads_lambdify_large_arrays_split_over_cores(fast_switching):
    fn = sy.lambdify(x, sy.exp(-x**2), "theano")
    n = 4 * PARALLEL_MIN_SIZE
    _hammer(fn, lambda rng: (rng.random(n),), lambda a: np.exp(-a**2), calls=15)


def test_threads_lambdify_pytensor_route(fast_switching):
    fn = sy.lambdify([A, x], A * x + A.T, "theano")
    _hammer(fn, lambda rng: (rng.random((2, 2)), rng.random()), lambda a, s: a * s + a.T)


def test_threads_theano_function(fast_switching):
    fn = theano_function([x, y], [x * y + sy.exp(x)], dims={x: 1, y: 1})
    _hammer(fn, lambda rng: (rng.random(7), rng.random(7)), lambda a, b: a * b + np.exp(a))
