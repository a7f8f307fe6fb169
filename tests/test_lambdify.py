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
    assert fn.wait_compiled(timeout=120)  # the float64 kernel may still compile in the background
    assert len(fn.signatures) == 1
    fn(np.ones(3, np.float32), np.float32(1))
    assert len(fn.signatures) == 2
    gen = sy.lambdify([x, y], sy.exp(x) * y, "theano", mode="FAST_COMPILE")
    gen(np.ones(3), np.ones(3))
    gen(np.ones(5), np.ones(5))
    gen(np.ones(3), 1.0)
    assert gen.route == "pytensor" and len(gen.signatures) == 2


# --------------------------------------------------------------------------- background compilation
#: Outputs with NaN, infinities, a Piecewise and a boolean, for the early answers.
EARLY_EXPRS = [sy.log(x) * y, sy.sqrt(x) * sy.exp(y),
               sy.Piecewise((1 / x, x < 1), (x**2 + y, True)), sy.Gt(x, y),
               3 * x * y * sy.exp(-x) + x + y + 2]  # n-ary sums and products
EARLY_POINTS = np.array([-1.0, 0.0, -0.0, 0.5, 1.0, 3.0, 700.0, np.inf, -np.inf, np.nan])


def _early_function(**kwargs):
    # A printer instance makes the kernel's disk record unused, so the first call is always early.
    return stp.lambdify([x, y], EARLY_EXPRS, printer=stp.TheanoPrinter(), **kwargs)


def _assert_same_results(got, want):
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        if g.dtype.kind == "b":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=K * np.finfo(g.dtype).eps, atol=0,
                                       equal_nan=True)


def test_background_compile_answers_early_with_the_kernels_dtypes_and_values():
    fn = _early_function()
    xs, ys = EARLY_POINTS[:, None], EARLY_POINTS[None, ::3]
    with np.errstate(all="ignore"):
        early = [fn(xs, ys), fn(np.float64(0.25), 2.0)]
        assert fn.early_calls == 2
        assert fn.wait_compiled(timeout=300) and len(fn.signatures) == 1
        late = [fn(xs, ys), fn(np.float64(0.25), 2.0)]
    assert fn.early_calls == 2
    for e, k in zip(early, late):
        _assert_same_results(e, k)
    assert np.ndim(early[1][0]) == 0 and isinstance(early[1][3], np.bool_)
    with mpmath.workdps(30):
        q = mpmath.mpf(0.25)
        ref = [mpmath.log(q) * 2, mpmath.sqrt(q) * mpmath.exp(2), 4, False,
               6 * q * mpmath.exp(-q) + q + 4]
    for got, want, dt in zip(early[1], ref, ["float64"] * 3 + ["bool", "float64"]):
        assert_close_to_reference(got, [want], dt, k=K)


def test_background_compile_large_calls_wait_and_sync_mode_compiles_first():
    from sympy_theano_printer.lambdify import EARLY_MAX_SIZE

    fn = _early_function()
    xs = np.linspace(0.5, 2.0, EARLY_MAX_SIZE + 1)
    got = fn(xs, 1.0)
    assert fn.early_calls == 0 and len(fn.signatures) == 1
    sync = _early_function(background=False)
    small = sync(xs[:5], 1.0)
    assert sync.early_calls == 0 and len(sync.signatures) == 1
    _assert_same_results([g[:5] for g in got], small)
    with pytest.raises(TypeError, match="background"):
        sy.lambdify(x, x, "numpy", background=False)


def test_background_compile_error_reaches_the_caller(monkeypatch):
    lam = sys.modules["sympy_theano_printer.lambdify"]  # the package's lambdify hides the module

    def broken(*args, **kwargs):
        raise RuntimeError("kernel compilation failed")

    monkeypatch.setattr(lam, "compile_kernel", broken)
    fn = _early_function()
    fn(np.ones(3), 1.0)  # answered early; the compilation fails in the background
    fn.wait_compiled(timeout=60)
    with pytest.raises(RuntimeError, match="kernel compilation failed"):
        fn(np.ones(3), 1.0)


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
    # An unevaluated integral has no element-wise translation (special functions without a
    # PyTensor op, such as zeta, get the generated fallback op instead).
    integral = sy.Integral(sy.exp(-t**2 * x), (t, 0, 1))
    with pytest.raises(UnsupportedExpressionError, match="Integral"):
        sy.lambdify(x, integral + 1, "theano")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn = sy.lambdify(x, integral, ["theano", "mpmath"])
    assert any("Integral" in str(w.message) for w in caught)
    with mpmath.workdps(30):
        ref = mpmath.sqrt(mpmath.pi) / 2 * mpmath.erf(1)
    assert_close_to_reference(float(fn(1.0)), [ref], "float64", k=K)


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
        import sympy_theano_printer
        u = sys.modules["sympy_theano_printer.ufuncify"]
        # The same fingerprint in both stages, even if a package source changes in between.
        u._fingerprint = "fixed for this test"
        x = sy.Symbol("x")
        if sys.argv[1] == "second":
            # Once Numba is loaded (here by another kernel), a kernel compiled before is loaded
            # without printing (before that, it is printed to answer the first calls early).
            warm = sy.lambdify(x, sy.cos(x) + x, "theano")
            warm(np.array([1.0]))
            assert warm.wait_compiled(timeout=120)
            def refuse(*a, **k):
                raise AssertionError("printed again")
            u.print_graph = refuse
            sys.modules["sympy_theano_printer.lambdify"].print_graph = refuse
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


def test_parallel_split_gives_the_serial_results_bit_for_bit(monkeypatch):
    """Large arrays split over threads: the same values (NaN, infinities, signed zeros included)."""
    # Split however little work there is (the vectorised loop is split by measured work).
    monkeypatch.setattr(sys.modules["sympy_theano_printer.lambdify"], "PARALLEL_MIN_SECONDS", 1e-12)
    exprs = [sy.exp(-x**2) * sy.log(y), sy.Piecewise((1 / x, x < 0.5), (sy.sqrt(x), True))]
    par = stp.lambdify([x, y], exprs, parallel=2, background=False)
    ser = stp.lambdify([x, y], exprs, parallel=False, background=False)
    rng = np.random.default_rng(7)
    n = 3 * PARALLEL_MIN_SIZE + 11  # chunks of unequal length
    xs = rng.normal(size=n)
    xs[::97], xs[5::97], xs[6::97], xs[7::97], xs[8::97] = np.nan, np.inf, -np.inf, -0.0, 0.0
    ys = rng.uniform(-1, 3, size=n)
    ys[3::89] = 0.0
    cases = [(xs, ys), (xs.reshape(-1, 1)[: 2 * PARALLEL_MIN_SIZE], ys[:3]),
             (xs.astype(np.float32), ys.astype(np.float32))]
    with np.errstate(all="ignore"):
        for a, b in cases:
            par(a, b)  # measures the cost per element
            for p_, s_ in zip(par(a, b), ser(a, b)):
                assert p_.dtype == s_.dtype and p_.shape == s_.shape
                np.testing.assert_array_equal(p_, s_)
                np.testing.assert_array_equal(np.signbit(p_), np.signbit(s_))
        assert np.isnan(ser(xs, ys)[0]).any() and np.isinf(ser(xs, ys)[1]).any()
    # Floating-point error handling follows the caller's np.errstate in every thread.
    for fn in (par, ser):
        with np.errstate(divide="raise", invalid="ignore"), pytest.raises(FloatingPointError):
            fn(xs, ys)


def test_large_arrays_use_the_vectorised_loop_within_tolerance_of_mpmath():
    """Above FLAT_MIN_SIZE elements the kernel's flat loop (libmvec's SIMD exp/sin) runs."""
    from sympy_theano_printer.lambdify import FLAT_MIN_SIZE
    from sympy_theano_printer.ufuncify import vector_math_enabled

    terms = [sy.sin(k * x) * sy.exp(-k * x**2) / k for k in range(1, 6)]
    exprs = [sy.exp(-x**2 / 2) / sy.sqrt(2 * sy.pi) + sy.log(x + 4), sy.Add(*terms)]
    fn = stp.lambdify(x, exprs, background=False, parallel=False)
    xs = np.linspace(-3, 3, FLAT_MIN_SIZE + 37)
    got = fn(xs)
    (kernel,) = fn.signatures.values()
    assert (kernel.contiguous is not None) == vector_math_enabled()
    pick = np.r_[0:len(xs):7, len(xs) - 1]  # every 7th point, and the loop's scalar tail
    assert_close_to_reference(got[0][pick], mp_values(exprs[0], xs[pick]), "float64", k=K)
    ref = mp_values(exprs[1], xs[pick])
    scale = max(abs(float(mp_values(t, [0.3])[0])) for t in terms)  # cancellation between terms
    assert_close_to_reference(got[1][pick], ref, "float64", k=K, atol=K * scale)
    # Non-finite values give what the element-wise ufunc gives; errors are reported as it does.
    bad = xs.copy()
    bad[::5], bad[1::5], bad[2::5] = np.nan, np.inf, -5.0
    with np.errstate(all="ignore"):
        flat, elementwise = fn(bad), kernel.ufunc(bad)
    for a, b in zip(flat, elementwise):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        fn(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(xs)  # no flag raised, no warning
    # A Piecewise keeps its lazy branches: no vectorised loop, which would evaluate them all.
    pw = stp.lambdify(x, sy.Piecewise((sy.log(x), x > 0), (x, True)), background=False)
    pw(xs)
    assert next(iter(pw.signatures.values())).contiguous is None


def test_threads_lambdify_while_the_kernel_compiles(fast_switching):
    """8 threads call while the kernel compiles in the background, then switch to it."""
    fn = stp.lambdify([x, y], [sy.sin(x) * y, x + y], printer=stp.TheanoPrinter())
    _hammer(fn, lambda rng: (rng.random(rng.integers(1, 50)), rng.random()),
            lambda a, b: [np.sin(a) * b, a + b])
    assert fn.early_calls > 0 and fn.wait_compiled(timeout=300)


@pytest.mark.parametrize("expr", [sy.exp(-x**2), sy.Piecewise((sy.exp(-x**2), x < 0.5), (x, True))])
def test_threads_lambdify_large_arrays_split_over_cores(fast_switching, monkeypatch, expr):
    """The vectorised loop and the ufunc, split into chunks (however little the work) from threads."""
    monkeypatch.setattr(sys.modules["sympy_theano_printer.lambdify"], "PARALLEL_MIN_SECONDS", 1e-12)
    fn = sy.lambdify(x, expr, "theano")
    n = 4 * PARALLEL_MIN_SIZE
    ref = sy.lambdify(x, expr, "numpy")
    _hammer(fn, lambda rng: (rng.random(n),), ref, calls=15)


def test_threads_lambdify_pytensor_route(fast_switching):
    fn = sy.lambdify([A, x], A * x + A.T, "theano")
    _hammer(fn, lambda rng: (rng.random((2, 2)), rng.random()), lambda a, s: a * s + a.T)


def test_threads_theano_function(fast_switching):
    fn = theano_function([x, y], [x * y + sy.exp(x)], dims={x: 1, y: 1})
    _hammer(fn, lambda rng: (rng.random(7), rng.random(7)), lambda a, b: a * b + np.exp(a))
