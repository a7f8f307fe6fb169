"""The Kalman filter of the article "SymPy and Theano -- Matrix Expressions": plain,
assumption-driven and blocked variants, against NumPy, and the structure of their graphs.

The compiled functions are made once per module, at a small size.  The plain and
assumption-driven variants run in the default mode (Numba), as in the benchmark;
the blocked variant, whose graph holds some 150 nodes of a dozen kinds of
linear-algebra op, runs PyTensor's ``fast_run`` rewrites with the Python linker
(:data:`FAST_MODE`), because Numba compiles each kind of op on a first call
(about 25 s for that graph on a cold cache).
Values are compared with :func:`~sympy_theano_printer.examples.kalman_reference`
(NumPy's LU solve) normwise: ``max|a - e| <= 16 * n * cond(S) * eps * max|e|``
with ``S = R + H Sigma H^T``, the bound of a backward-stable solve times the
length of the inner products (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., Thm 7.2 and 3.5).  No test here is timed; timings are in
``python -m sympy_theano_printer --example kalman``.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sy
from pytensor.compile.mode import Mode
from pytensor.graph.traversal import applys_between

from sympy_theano_printer import ShapeError, theano_function
from sympy_theano_printer.examples import (
    KALMAN_VARIANTS,
    kalman_assumptions,
    kalman_blocked,
    kalman_blocked_inverses,
    kalman_data,
    kalman_functions,
    kalman_numpy,
    kalman_reference,
    kalman_roundoff,
    kalman_scipy,
    kalman_symbols,
    kalman_update,
    relative_difference,
)
from sympy_theano_printer.matrices import DimensionMismatchError

EPS = float(np.finfo(np.float64).eps)
N, K = 12, 6
#: PyTensor's default rewrites with the Python linker (see the module notes).
FAST_MODE = Mode(linker="py", optimizer="fast_run")


def bound(n, args):
    """The tolerance of the module notes for data ``args``."""
    mu, Sigma, H, R, data = args
    return 16 * n * float(np.linalg.cond(R + H @ Sigma @ H.T)) * EPS


def core_op_names(fn):
    fgraph = fn.theano_function.maker.fgraph
    return [type(getattr(node.op, "core_op", node.op)).__name__
            for node in applys_between(fgraph.inputs, fgraph.outputs)]


@pytest.fixture(scope="module")
def functions():
    compiled = kalman_functions(N, K, variants=("plain", "assumptions"))
    compiled.update(kalman_functions(N, K, mode=FAST_MODE, variants=("blocked",)))
    return {name: f for name, (f, _) in compiled.items()}


@pytest.fixture(scope="module")
def data():
    return kalman_data(N, K, seed=3)


# ---------------------------------------------------------------------- values
@pytest.mark.parametrize("variant", KALMAN_VARIANTS)
def test_variant_against_numpy(functions, data, variant):
    got = functions[variant](*data)
    assert [g.shape for g in got] == [(N, 1), (N, N)]
    assert relative_difference(got, kalman_reference(*data)) <= bound(N, data)


@pytest.mark.parametrize("baseline", [kalman_numpy, kalman_scipy, kalman_blocked_inverses])
def test_hand_written_versions_agree(data, baseline):
    assert relative_difference(baseline(*data), kalman_reference(*data)) <= bound(N, data)


def test_blocked_agrees_with_unblocked(functions):
    """On covariance data (S symmetric positive definite) to rounding error, several seeds."""
    for seed in range(3):
        args = kalman_data(N, K, seed=seed)
        diff = relative_difference(functions["blocked"](*args), functions["plain"](*args))
        assert diff <= bound(N, args)


def test_covariance_is_symmetric_in_every_variant(functions, data):
    for variant in KALMAN_VARIANTS:
        _, new_sigma = functions[variant](*data)
        assert np.max(np.abs(new_sigma - new_sigma.T)) <= bound(N, data) * np.max(np.abs(new_sigma))


# ---------------------------------------------------------------------- structure
def test_positive_definite_graph_is_cholesky_without_inverse(functions):
    names = core_op_names(functions["assumptions"])
    assert "Cholesky" in names
    assert "SolveTriangular" in names or "CholeskySolve" in names
    for absent in ("MatrixInverse", "LUFactor", "LU", "Solve"):
        assert absent not in names, absent
    assert names.count("Cholesky") == 1  # one factor for both outputs


def test_plain_graph_solves_without_inverse(functions):
    names = core_op_names(functions["plain"])
    assert "MatrixInverse" not in names and "Cholesky" not in names
    assert "LUFactor" in names or "Solve" in names


def test_blocked_graph_solves_without_inverse(functions):
    names = core_op_names(functions["blocked"])
    assert "MatrixInverse" not in names
    assert "LUFactor" in names or "Solve" in names


def test_assumptions_make_the_graph_cheaper():
    """Printed at the benchmark's size: the facts remove one n x n x k product
    (``H Sigma`` is ``(Sigma H^T)^T``) and the LU factorization, and the covariance
    correction ``P S^-1 P^T = W^T W`` (``W = L^-1 P^T``) is one symmetric product
    (BLAS ``?syrk``, ``n^2 k`` flops)."""
    from sympy_theano_printer import TheanoPrinter

    symbols = kalman_symbols(1000, 500)
    plain = TheanoPrinter(cache={}).doprint_many(kalman_update(*symbols))
    facts = TheanoPrinter(settings={"assumptions": kalman_assumptions(*symbols)},
                          cache={}).doprint_many(kalman_update(*symbols))

    def big_products(outs, kind="Dot"):
        from pytensor.graph.traversal import graph_inputs

        nodes = applys_between(list(graph_inputs(outs)), outs)
        return sorted(n.outputs[0].type.shape for n in nodes if type(n.op).__name__ == kind
                      and 1 not in n.outputs[0].type.shape)

    assert big_products(plain) == [(500, 500), (500, 1000), (1000, 500), (1000, 1000)]
    assert big_products(plain, "SymmetricProduct") == []
    assert big_products(facts) == [(500, 500), (1000, 500)]
    assert big_products(facts, "SymmetricProduct") == [(1000, 1000)]


def product_and_solve_flops(fn):
    """Leading flop counts of the compiled graph's products and solves (the module notes
    of :mod:`sympy_theano_printer.linalg`): ``Dot`` ``2 m k n``, ``SymmetricProduct``
    ``n (n + 1) k``, ``Cholesky`` ``k^3 / 3``, ``SolveTriangular`` ``k^2 c``,
    ``CholeskySolve`` ``2 k^2 c``, ``LUFactor`` ``2 k^3 / 3``."""
    total = 0.0
    for node in fn.theano_function.maker.fgraph.apply_nodes:
        name = type(getattr(node.op, "core_op", node.op)).__name__
        shapes = [i.type.shape for i in node.inputs]
        if name == "Dot":
            (m, kk), (_, n) = shapes
            total += 2.0 * m * kk * n
        elif name == "SymmetricProduct":
            kk, n = shapes[1]
            total += n * (n + 1.0) * kk
        elif name == "Cholesky":
            total += shapes[0][0] ** 3 / 3.0
        elif name == "LUFactor":
            total += 2.0 * shapes[0][0] ** 3 / 3.0
        elif name == "SolveTriangular":
            total += shapes[0][0] ** 2 * shapes[1][1]
        elif name == "CholeskySolve":
            total += 2.0 * shapes[0][0] ** 2 * shapes[1][1]
    return total


def test_compiled_assumption_graph_products_and_solves(functions):
    """The compiled (Numba) graph of the assumption-driven update: ``Sigma H^T``,
    ``H (Sigma H^T)``, ``H mu`` and ``(Sigma H^T) w`` as ``Dot``, ``W^T W`` as one
    ``SymmetricProduct``, one Cholesky factor, one triangular solve (``W = L^-1 P^T``)
    and one Cholesky solve (``S^-1 (H mu - data)``); fewer flops than SciPy's
    hand-written update (``2 n^2 k + 2 k^2 n + k^3/3 + 2 k^2 n + 2 n^2 k`` + vectors)."""
    names = core_op_names(functions["assumptions"])
    counts = {name: names.count(name) for name in
              ("Dot", "SymmetricProduct", "Cholesky", "SolveTriangular", "CholeskySolve")}
    assert counts == {"Dot": 4, "SymmetricProduct": 1, "Cholesky": 1, "SolveTriangular": 1,
                      "CholeskySolve": 1}
    n, k = N, K
    scipy_flops = 4.0 * n * n * k + 4.0 * k * k * n + k**3 / 3.0 + 2 * k * k + 4.0 * n * k
    ours = product_and_solve_flops(functions["assumptions"])
    assert ours <= scipy_flops - (n * n * k + k * k * n) + n * k, (ours, scipy_flops)


def test_assumption_covariance_is_exactly_symmetric(functions, data):
    """``Sigma - W^T W`` from a symmetric ``Sigma``: bitwise symmetric, as ``?syrk`` fills one
    triangle from the other (a general product would differ in the last bits)."""
    _, new_sigma = functions["assumptions"](*data)
    np.testing.assert_array_equal(new_sigma, new_sigma.T)


def test_derived_fact_is_what_sympy_says():
    mu, Sigma, H, R, data = kalman_symbols(N, K)
    S = R + H * Sigma * H.T
    assert sy.ask(sy.Q.positive_definite(S), kalman_assumptions(mu, Sigma, H, R, data)) is True


def test_blocked_expressions_come_from_block_collapse():
    symbols = kalman_symbols(N, K)
    new_mu, new_sigma = kalman_blocked(*symbols)
    assert isinstance(new_mu, sy.BlockMatrix) and new_mu.blockshape == (2, 1)
    assert isinstance(new_sigma, sy.BlockMatrix) and new_sigma.blockshape == (2, 2)
    for out in (new_mu, new_sigma):
        assert out.free_symbols <= set(symbols)  # no placeholder is left
        assert out.shape == (N, 1) or out.shape == (N, N)
    assert any(isinstance(e, sy.MatrixSlice) for e in sy.preorder_traversal(new_sigma))


def test_blocked_needs_integer_sizes():
    n, k = sy.symbols("n k", integer=True, positive=True)
    with pytest.raises(ValueError, match="integer dimensions"):
        kalman_blocked(*kalman_symbols(n, k))


# ---------------------------------------------------------------------- symbolic sizes
@pytest.fixture(scope="module")
def symbolic_function():
    n, k = sy.symbols("n k", integer=True, positive=True)
    symbols = kalman_symbols(n, k)
    return theano_function(symbols, kalman_update(*symbols), assumptions=kalman_assumptions(*symbols))


@pytest.mark.parametrize("size", [(8, 3), (15, 7)])
def test_symbolic_sizes(symbolic_function, size):
    args = kalman_data(*size, seed=1)
    assert relative_difference(symbolic_function(*args), kalman_reference(*args)) <= bound(size[0], args)


def test_wrong_shape_at_call_time_is_a_clear_valueerror(symbolic_function, functions):
    mu, Sigma, H, R, data = kalman_data(8, 3)
    with pytest.raises(ValueError) as err:
        symbolic_function(mu, Sigma, H, R, np.ones((4, 1)))  # data must have k = 3 rows
    assert isinstance(err.value, DimensionMismatchError)
    assert "data" in str(err.value) and "k" in str(err.value)
    with pytest.raises(ShapeError, match=r"\bH\b.*shape"):
        functions["plain"](*kalman_data(N, K)[:2], np.ones((K, N + 1)), *kalman_data(N, K)[3:])


# ---------------------------------------------------------------------- round-off report
def test_roundoff_report_on_covariance_data():
    report = kalman_roundoff(N, K, mode=FAST_MODE)
    assert set(report) == {"covariance", "uniform"}
    cov = report["covariance"]
    for key in ("plain_vs_numpy", "blocked_vs_numpy", "inverses_vs_numpy"):
        assert cov[key] <= 16 * N * cov["cond_S"] * EPS, key
    assert report["uniform"]["cond_S"] > 10 * cov["cond_S"]


# ---------------------------------------------------------------------- benchmark routes
def test_jax_back_end_route_of_the_benchmark(data):
    """``theano assumptions JAX`` (benchmarks/kalman.py): the assumption-driven graph on
    PyTensor's JAX back end, with this package's ``SymmetricProduct`` implementation,
    agrees with NumPy; its set-up time is reported."""
    pytest.importorskip("jax")
    from benchmarks import kalman

    [(name, (fn, setup))] = kalman.our_calls(N, K, names=["theano assumptions JAX"]).items()
    got = [np.asarray(v) for v in fn(*data)]
    assert [g.shape for g in got] == [(N, 1), (N, N)] and setup > 0
    assert relative_difference(got, kalman_reference(*data)) <= bound(N, data)


def test_thread_study_environment_and_table():
    """The children of the thread study get one thread per library, or no thread variable
    at all; the table takes the best of the repeats, wall time with the default threads
    and CPU time with one, and divides ours by the fastest peer."""
    from benchmarks import kalman

    one, default = kalman._study_env("1"), kalman._study_env("default")
    assert all(one[v] == "1" for v in kalman.BLAS_THREAD_VARIABLES)
    assert one["XLA_FLAGS"] == kalman.XLA_ONE_THREAD
    assert not set(kalman.BLAS_THREAD_VARIABLES) & set(default) and "XLA_FLAGS" not in default
    with pytest.raises(ValueError, match="'default' or '1'"):
        kalman._study_env("2")
    study = {"default": {300: {"numpy": [[4e-3, 5e-3, 9e-3, 9e-3], [2e-3, 3e-3, 9e-3, 9e-3]],
                               "theano assumptions": [[3e-3, 3e-3, 1e-3, 1e-3]]}},
             "1": {300: {"numpy": [[9e-3, 9e-3, 1.6e-3, 1.7e-3]],
                         "theano assumptions": [[9e-3, 9e-3, 2.0e-3, 2.1e-3]]}}}
    table = kalman.study_table(study)
    assert "| 300 | numpy | 2 ms | 2-4 | 1.6 ms | 1.6-1.6 |" in table
    assert "theano assumptions / numpy = 1.50" in table  # 3 ms / 2 ms, wall
    assert "theano assumptions / numpy = 1.25" in table  # 2.0 ms / 1.6 ms, CPU
