"""The theanocode-compatible API: theano_code, theano_function, dim_handling, global_cache.

These follow the documented behaviour of ``sympy.printing.theanocode`` so that
code written against it works by changing its import line only.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import sympy as sy
from conftest import code, function
from pytensor.compile.executor import Function

import sympy_theano_printer as stp
from sympy_theano_printer import (
    ShapeError,
    dim_handling,
    global_cache,
    theano_code,
    theano_function,
)

x, y, z, t = sy.symbols("x y z t")
X = sy.MatrixSymbol("X", 4, 4)
Y = sy.MatrixSymbol("Y", 4, 4)
f_t = sy.Function("f")(t)


# --------------------------------------------------------------------- symbols
def test_symbol_is_named_scalar_input():
    xt = code(x)
    assert isinstance(xt, pt.TensorVariable)
    assert xt.owner is None
    assert xt.broadcastable == ()
    assert xt.name == "x"
    assert xt.dtype == pytensor.config.floatX


def test_symbol_with_broadcastable():
    xt = code(x, broadcastables={x: (False,)})
    assert xt.broadcastable == (False,)
    assert xt.name == "x"


def test_matrix_symbol_is_2d_with_static_shape():
    Xt = code(X)
    assert Xt.broadcastable == (False, False)
    assert Xt.type.shape == (4, 4)
    n = sy.Symbol("n", integer=True)
    Zt = code(sy.MatrixSymbol("Z", n, 3))
    assert Zt.type.shape == (None, 3)


@pytest.mark.parametrize("bc", [(), (False,), (True,), (True, False), (False, True), (True, True)])
def test_matrix_symbol_contradicting_broadcastable_names_the_symbol(bc):
    with pytest.raises(ValueError, match="X"):
        code(X, broadcastables={X: bc})


def test_applied_undef_is_an_input_named_after_it():
    ft = code(f_t)
    assert ft.owner is None
    assert ft.broadcastable == ()
    assert ft.name == "f_t"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int16", "int32", "int64"])
def test_dtypes(dtype):
    assert code(x, dtypes={x: dtype}).type.dtype == dtype


def test_dtype_upcasting_follows_inputs():
    assert code(x + 1, dtypes={x: "float32"}).type.dtype == "float32"
    assert code(x + 1.5, dtypes={x: "float32"}).type.dtype == "float32"
    assert code(x + y, dtypes={x: "float64", y: "float32"}).type.dtype == "float64"
    assert code(x, dtypes={x: "floatX"}).type.dtype in ("float32", "float64")


@pytest.mark.parametrize(
    "bc1, bc2, bc3",
    [
        [(), (), ()],
        [(False,), (False,), (False,)],
        [(True,), (False,), (False,)],
        [(False, True), (False, False), (False, False)],
        [(True, False), (False, False), (False, False)],
    ],
)
def test_broadcasting_of_elementwise_result(bc1, bc2, bc3):
    assert code(x + y, broadcastables={x: bc1, y: bc2}).broadcastable == bc3


# --------------------------------------------------------------------- cache
@pytest.mark.parametrize(
    "s1, s2",
    [(x, sy.Symbol("x")), (X, sy.MatrixSymbol("X", 4, 4)), (f_t, sy.Function("f")(sy.Symbol("t")))],
)
def test_cache_hits_and_misses(s1, s2):
    cache = {}
    st = code(s1, cache=cache)
    assert code(s1, cache=cache) is st
    assert code(s1, cache={}) is not st
    assert code(s2, cache=cache) is st


def test_global_cache_is_the_default():
    backup = dict(global_cache)
    try:
        global_cache.clear()
        for s in [x, X, f_t]:
            st = theano_code(s)
            assert theano_code(s) is st
        assert len(global_cache) == 3
    finally:
        global_cache.clear()
        global_cache.update(backup)


def test_cache_distinguishes_types_with_one_name():
    cache = {}
    symbols = [sy.Symbol("f_t"), sy.MatrixSymbol("f_t", 4, 4), f_t]
    printed = [code(s, cache=cache) for s in symbols]
    assert len({id(p) for p in printed}) == 3
    for s, p in zip(symbols, printed):
        assert code(s, cache=cache) is p


def test_two_dummies_with_one_name_stay_distinct():
    d1, d2 = sy.Dummy("d"), sy.Dummy("d")
    cache = {}
    a, b = code(d1, cache=cache), code(d2, cache=cache)
    assert a is not b
    assert code(d1, cache=cache) is a
    f = function([d1, d2], d1 - d2)
    assert f(5.0, 2.0) == 3.0


def test_cache_key_includes_dtype_and_broadcastable():
    cache = {}
    a = code(x, cache=cache, dtypes={x: "float32"})
    b = code(x, cache=cache, dtypes={x: "float64"})
    c = code(x, cache=cache, broadcastables={x: (False,)})
    assert len({id(a), id(b), id(c)}) == 3


def test_symbol_is_one_graph_input_however_often_it_appears():
    expr = sy.Add(x, x, evaluate=False)
    comp = code(expr)
    assert comp.owner.inputs[0] is comp.owner.inputs[1]
    expr = x**2 + (y - sy.exp(x)) * sy.sin(z - x * y)
    from pytensor.graph.traversal import graph_inputs

    names = [v.name for v in graph_inputs([code(expr)]) if v.name]
    assert sorted(names) == ["x", "y", "z"]


# --------------------------------------------------------------------- theano_function
def test_function_single_and_multiple_outputs():
    f = function([x, y], [x + y])
    assert f(2, 3) == 5
    assert isinstance(f(2, 3), np.ndarray)
    o1, o2 = function([x, y], [x + y, x - y])(2, 3)
    assert (o1, o2) == (5, -1)
    # a bare expression (not in a list) also works
    assert function([x], x**2)(3.0) == 9.0


def test_function_on_arrays():
    f = function([x, y], [x + y], dim=1)
    np.testing.assert_array_equal(f([1, 2], [3, 4]), [4, 6])
    f = function([x, y], [x + y], dims={x: 1, y: 1}, dtypes={x: "float64", y: "float64"})
    xx = np.arange(3.0)
    np.testing.assert_array_equal(f(xx, 2 * xx), 3 * xx)


def test_function_broadcasts_by_dims():
    # as in SymPy, a lower-dimensional input gets trailing broadcastable dimensions
    f = function([x, y], x * y, dims={x: 1, y: 2})
    assert f.theano_function.input_storage[0].type.broadcastable == (False, True)
    out = f(np.array([[1.0], [2.0]]), np.ones((2, 3)))
    np.testing.assert_array_equal(out, [[1, 1, 1], [2, 2, 2]])


def test_function_matrix_outputs():
    m = sy.Matrix([[x, y], [z, x + y + z]])
    expected = np.array([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(function([x, y, z], [m])(1.0, 2.0, 3.0), expected)
    np.testing.assert_allclose(function([x, y, z], [m], scalar=True)(1.0, 2.0, 3.0), expected)
    out = function([x, y, z], [m, m])(1.0, 2.0, 3.0)
    assert isinstance(out, list)
    np.testing.assert_allclose(out[0], expected)
    np.testing.assert_allclose(out[1], expected)
    im = sy.ImmutableMatrix([[x, 1], [0, sy.Rational(1, 2)]])
    np.testing.assert_allclose(function([x], im)(4.0), [[4.0, 1.0], [0.0, 0.5]])


def test_dim_handling():
    assert dim_handling([x], dim=2) == {x: (False, False)}
    assert dim_handling([x, y], dims={x: 1, y: 2}) == {x: (False, True), y: (False, False)}
    assert dim_handling([x], broadcastables={x: (False,)}) == {x: (False,)}
    assert dim_handling([x]) == {}


def test_kwargs_reach_pytensor_function():
    f = function([x, y, z], [x + y], dim=1, on_unused_input="ignore",
                 dtypes={x: "float64", y: "float64", z: "float64"})
    np.testing.assert_array_equal(f([1, 2], [3, 4], [0, 0]), [4, 6])
    f = function([x], x + 1, mode="FAST_COMPILE")
    assert f(1.0) == 2.0


def test_unknown_kwarg_is_an_error():
    with pytest.raises(TypeError):
        function([x], [x + 1], foobar=3)


@pytest.mark.parametrize(
    "inputs, outputs, in_dims, out_dims",
    [
        ([x, y], [x + y], None, [0]),
        ([X, Y], [X + Y], None, [2]),
        ([x, y], [x + y], {x: 0, y: 1}, [1]),
        ([x, y], [x + y, x - y], None, [0, 0]),
        ([x, y, X, Y], [x + y, X + Y], None, [0, 2]),
    ],
)
@pytest.mark.parametrize("scalar", [False, True])
def test_scalar_option(inputs, outputs, in_dims, out_dims, scalar):
    f = function(inputs, outputs, dims=in_dims, scalar=scalar)
    assert isinstance(f.theano_function, Function)
    assert f.pytensor_function is f.theano_function
    in_values = [np.ones([1 if bc else 4 for bc in i.type.broadcastable])
                 for i in f.theano_function.input_storage]
    out_values = f(*in_values)
    if not isinstance(out_values, list):
        out_values = [out_values]
    assert len(out_values) == len(out_dims)
    for d, value in zip(out_dims, out_values):
        if scalar and d == 0:
            assert isinstance(value, np.number)
        else:
            assert isinstance(value, np.ndarray)
            assert value.ndim == d


def test_constant_output():
    f = function([x], [sy.Integer(3), x])
    assert [float(v) for v in f(1.0)] == [3.0, 1.0]


def test_missing_input_names_the_symbol():
    with pytest.raises(ShapeError, match=r"\by\b.*not\s+among the inputs"):
        function([x], x + y)


def test_wrong_shape_at_call_time_names_the_symbol():
    f = function([X], X.T)
    with pytest.raises(ValueError, match="X .*shape"):
        f(np.ones((3, 3)))
    with pytest.raises(ValueError, match="X .*dimensions"):
        f(np.ones(4))
    g = function([x, y], x + y, dims={x: 1, y: 1})
    with pytest.raises(ValueError, match="y .*dimensions"):
        g(np.ones(3), np.ones((3, 3)))


def test_wrong_dtype_at_call_time_names_the_symbol():
    f = function([x], x + 1, dtypes={x: "float32"}, dims={x: 1})
    with pytest.raises(ValueError, match="x .*float32.*allow_input_downcast"):
        f(np.ones(3, dtype="float64"))
    g = function([x], x + 1, dtypes={x: "float32"}, dims={x: 1}, allow_input_downcast=True)
    assert g(np.ones(3)).dtype == np.float32


def test_wrong_argument_count():
    f = function([x, y], x + y)
    with pytest.raises(TypeError, match="2 arguments"):
        f(1.0)


def test_public_aliases():
    assert stp.PyTensorPrinter is stp.TheanoPrinter
    assert stp.pytensor_function is theano_function
    assert stp.pytensor_code is theano_code


def test_doctest_of_sympy_docstring_examples():
    """The three examples of SymPy's theano_function docstring, with the import changed."""
    f1 = theano_function([x], [x**2 - 1], scalar=True)
    assert f1(3) == 8.0
    f2 = theano_function([x, y, z], [(x**z + y**z) ** (1 / z)], scalar=True)
    assert f2(3, 4, 2) == 5.0
    f3 = theano_function([x, y], [x**2 + y**2, x**2 - y**2], scalar=True)
    assert f3(2, 3) == [13.0, -5.0]


def test_calls_from_eight_threads_return_only_correct_results():
    import threading

    f = function([x, y], [sy.sin(x) * y + x**2, x - y], dims={x: 1, y: 1})
    failures = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for i in range(1000):
            a = rng.random(int(rng.integers(1, 40)))
            b = rng.random(a.shape)
            r1, r2 = f(a, b)
            if not (np.allclose(r1, np.sin(a) * b + a**2, rtol=1e-14) and np.array_equal(r2, a - b)):
                failures.append((seed, i))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
