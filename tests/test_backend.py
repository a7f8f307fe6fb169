"""Compilation helpers: graph measures, recursion headroom, the choice of back end."""
import sys
import threading

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from sympy_theano_printer import backend
from sympy_theano_printer.backend import (
    LARGE_GRAPH_NODES,
    choose_mode,
    count_apply_nodes,
    graph_depth,
    recursion_headroom,
)


def chain(n):
    v = pt.dscalar("v")
    out = v
    for _ in range(n):
        out = pt.sin(out)
    return v, out


def test_graph_depth_and_node_count():
    v = pt.dscalar("v")
    assert graph_depth([v]) == 0
    assert count_apply_nodes([v]) == 0
    shared = pt.exp(v)
    outs = [shared * 2, shared + pt.log(v)]
    assert graph_depth(outs) == 2
    assert count_apply_nodes(outs) == 4  # exp shared: exp, mul, log, add
    assert graph_depth([1.0, outs[0]]) == 2  # non-variables are ignored


def test_measures_are_iterative_on_deep_graphs():
    old = sys.getrecursionlimit()
    _, out = chain(3000)
    try:
        sys.setrecursionlimit(200)
        assert graph_depth([out]) == 3000
        assert count_apply_nodes([out]) == 3000
    finally:
        sys.setrecursionlimit(old)


def test_recursion_headroom_raises_and_restores_the_limit():
    old = sys.getrecursionlimit()
    with recursion_headroom(10_000):
        assert sys.getrecursionlimit() >= 10_000 * backend.FRAMES_PER_LEVEL
    assert sys.getrecursionlimit() == old
    with recursion_headroom(1):  # shallow graphs leave it alone
        assert sys.getrecursionlimit() == old


def test_recursion_headroom_from_threads():
    old = sys.getrecursionlimit()
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(50):
            with recursion_headroom(5_000):
                assert sys.getrecursionlimit() >= 5_000 * backend.FRAMES_PER_LEVEL

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sys.getrecursionlimit() >= old


def _linker_of(mode):
    from pytensor.compile.mode import get_default_mode, get_mode

    return type((get_default_mode() if mode is None else get_mode(mode)).linker)


def test_choose_mode_keeps_an_explicit_mode():
    _, out = chain(3)
    assert type(choose_mode([out], "FAST_COMPILE").linker) is _linker_of("FAST_COMPILE")
    _, big = chain(LARGE_GRAPH_NODES + 1)
    assert type(choose_mode([big], "NUMBA").linker) is _linker_of("NUMBA")


def test_choose_mode_small_graphs_use_the_default_mode():
    _, out = chain(LARGE_GRAPH_NODES)
    assert type(choose_mode([out]).linker) is _linker_of(None)


def test_choose_mode_large_graphs_go_to_the_c_back_end(monkeypatch):
    _, big = chain(LARGE_GRAPH_NODES + 1)
    expected = "CVM" if pytensor.config.cxx else "FAST_COMPILE"
    assert type(choose_mode([big]).linker) is _linker_of(expected)
    monkeypatch.setattr(pytensor.config, "cxx", "")
    assert type(choose_mode([big]).linker) is _linker_of("FAST_COMPILE")


@pytest.mark.parametrize("mode", [None, "FAST_COMPILE", "CVM"])
def test_chosen_mode_leaves_out_the_wrong_arccosh_of_cosh_rewrite(mode):
    """PyTensor rewrites arccosh(cosh(x)) to x; the identity is |x|."""
    v = pt.vector("v")
    out = pt.arccosh(pt.cosh(v))
    fn = pytensor.function([v], out, mode=choose_mode([out], mode))
    np.testing.assert_allclose(fn(np.array([-2.0, 0.5])), [2.0, 0.5], rtol=1e-15)


@pytest.mark.parametrize("n", [5, LARGE_GRAPH_NODES + 5])
def test_chosen_mode_compiles_and_runs(n):
    v, out = chain(n)
    fn = pytensor.function([v], out, mode=choose_mode([out]))
    expected = 0.5
    import math

    for _ in range(n):
        expected = math.sin(expected)
    assert abs(float(fn(0.5)) - expected) < 1e-12


def _erfcinv_reference(p):
    """``erfcinv(p) = erfinv(1 - p)`` by mpmath, with digits enough that ``1 - p`` keeps 30 of ``p``'s."""
    import mpmath

    with mpmath.workdps(30 + max(0, int(-np.log10(float(p))))):
        return +mpmath.erfinv(1 - mpmath.mpf(float(p)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_erfcinv_compiles_on_jax_without_tensorflow_probability(dtype, close_to_reference):
    """PyTensor's JAX ``erfcinv`` needs TFP; ours (``-ndtri(x/2)/sqrt(2)``) keeps the tail's accuracy."""
    pytest.importorskip("jax")
    import sympy as sp

    from sympy_theano_printer import theano_function

    x = sp.Symbol("x")
    tiny = 1e-300 if dtype == "float64" else 1e-30
    points = np.array([tiny, 1e-20, 1e-5, 0.3, 0.999, 1.0, 1.2, 1.9999, 2 - 2**-20], dtype=dtype)
    f = theano_function([x], [sp.erfcinv(x)], mode="JAX", dims={x: 1}, dtypes={x: dtype})
    reference = [_erfcinv_reference(p) for p in points]
    close_to_reference(f(points), reference, dtype, k=8)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exp2_on_jax_is_accurate_to_an_ulp(dtype, close_to_reference):
    """``jax.numpy.exp2`` is off by ~200 ulp near 2**1000; ours scales ``exp2(f)`` by ``2**n`` exactly."""
    pytest.importorskip("jax")
    import mpmath
    import sympy as sp
    from sympy.codegen.cfunctions import exp2

    from sympy_theano_printer import theano_function

    x = sp.Symbol("x")
    top = 1023.99 if dtype == "float64" else 127.9
    low = -1021.7 if dtype == "float64" else -125.3  # normal results: XLA on CPU flushes subnormals
    points = np.array([-210.0, low, -0.5, 0.3, 100.7, 120.3, top, np.inf, -np.inf, 5000.0, -5000.0],
                      dtype=dtype)
    f = theano_function([x], [exp2(x)], mode="JAX", dims={x: 1}, dtypes={x: dtype})
    with mpmath.workdps(30):
        reference = [mpmath.power(2, mpmath.mpf(float(p))) if np.isfinite(p) else mpmath.mpf(float(np.exp2(p)))
                     for p in points]
    close_to_reference(f(points), reference, dtype, k=1)
    assert np.isnan(f(np.array([np.nan], dtype=dtype))[0])


def test_pytensor_own_exp2_and_erfcinv_keep_their_jax_implementations():
    """The printer's ``exp2``/``erfcinv`` are subclasses with their own JAX implementations;
    PyTensor's ``Exp2`` and ``Erfcinv`` (a user's ``pt.exp2``) keep PyTensor's."""
    pytest.importorskip("jax")
    import pytensor.scalar as ps
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.scalar.math import Erfcinv

    assert jax_funcify.dispatch(ps.Exp2) is jax_funcify.dispatch(ps.ScalarOp)
    assert jax_funcify.dispatch(backend.PrinterExp2) is not jax_funcify.dispatch(ps.Exp2)
    assert jax_funcify.dispatch(backend.PrinterErfcinv) is not jax_funcify.dispatch(Erfcinv)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "CVM", "NUMBA", "JAX"])
def test_printed_exp2_and_erfcinv_gradients(mode, close_to_reference):
    """The derivatives of the printer's ``exp2``/``erfcinv`` on every back end (JAX: no TFP needed)."""
    if mode == "JAX":
        pytest.importorskip("jax")
    import mpmath
    import sympy as sp
    from sympy.codegen.cfunctions import exp2

    from sympy_theano_printer import theano_function

    x = sp.Symbol("x")
    points = np.array([1e-20, 0.5, 1.5, 1.999])
    f = theano_function([x], [sp.Derivative(exp2(3 * x), x), sp.Derivative(sp.erfcinv(x), x)], dims={x: 1},
                        mode=mode)
    d_exp2, d_erfcinv = f(points)
    with mpmath.workdps(30):
        e2 = [3 * mpmath.log(2) * mpmath.power(2, 3 * mpmath.mpf(float(p))) for p in points]
        ei = [-mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(_erfcinv_reference(p)**2) for p in points]
    close_to_reference(d_exp2, e2, "float64", k=4)
    close_to_reference(d_erfcinv, ei, "float64", k=64)  # exp(y**2) scales y's rounding by 2 y**2 (87 at 1e-20)
