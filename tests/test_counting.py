"""Operation counts (sympy_theano_printer.counting) and the hydrogen example (examples).

The expected counts were measured with PyTensor 3.0.7 (default mode NUMBA) and
checked by hand against the rewritten graphs (``pytensor.dprint``).
"""
import math

import mpmath
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import sympy
from sympy.physics.hydrogen import R_nl

from sympy_theano_printer import theano_code, theano_function
from sympy_theano_printer.counting import (
    OpCounts,
    count_ops,
    counting_mode,
    fused_scalar_ops,
    printed_apply_nodes,
    rewritten_apply_nodes,
    rewritten_graph,
    scalar_op_count,
)
from sympy_theano_printer.examples import (
    ROUTES,
    SAMPLE_POINTS,
    X,
    Route,
    best_time,
    hydrogen_comparison,
    hydrogen_expression,
    hydrogen_reference,
    hydrogen_rows,
    max_relative_error,
    sympy_derivative_outputs,
)

x_, y_ = sympy.symbols("x y")


# ---------------------------------------------------------------------- small graphs
def _xy_twice():
    """``x*y + x*y`` with two distinct ``Mul`` nodes (PyTensor's merge makes them one)."""
    x, y = pt.dscalars("x", "y")
    return x * y + x * y


def test_xy_plus_xy_counts():
    out = _xy_twice()
    assert out.owner.inputs[0] is not out.owner.inputs[1]
    # printed: mul, mul, add; rewritten: the two muls merged; fused: one Composite
    # computing mul and add.
    assert count_ops(out) == OpCounts(printed_nodes=3, rewritten_nodes=2, fused_nodes=1,
                                      fused_scalar_ops=2)
    assert printed_apply_nodes([out]) == 3
    assert rewritten_apply_nodes(out) == 2


def test_rewriting_leaves_the_graph_alone():
    out = _xy_twice()
    fgraph = rewritten_graph(out, fusion=True)
    assert len(fgraph.apply_nodes) == 1
    assert printed_apply_nodes(out) == 3
    assert out.owner.inputs[0] is not out.owner.inputs[1]


def test_nary_add_counts_n_minus_one():
    # x + y + x*y + sin(x): the printer makes one 4-ary Add: 3 + mul 1 + sin 1.
    out = theano_code(x_ + y_ + x_ * y_ + sympy.sin(x_), cache={})
    assert out.owner.op.scalar_op.__class__.__name__ == "Add"
    assert len(out.owner.inputs) == 4
    assert count_ops(out) == OpCounts(3, 3, 1, 5)
    assert fused_scalar_ops(out, rewrite=False) == 5
    assert scalar_op_count(out.owner.op) == 1  # the arity lives on the node


def test_nested_composite():
    # x**4 + 1: the power rewrite makes Composite{sqr(sqr(i0))} inside the fused kernel.
    out = theano_code(x_**4 + 1, cache={})
    assert fused_scalar_ops(out) == 3
    assert fused_scalar_ops(out, expand_nested=False) == 2
    fgraph = rewritten_graph(out, fusion=True)
    (node,) = fgraph.apply_nodes
    assert scalar_op_count(node.op) == 3
    assert scalar_op_count(node.op, expand_nested=False) == 2


def test_mode_without_fusion_counts_unfused_nodes():
    out = theano_code(x_ + y_ + x_ * y_ + sympy.sin(x_), cache={})
    assert count_ops(out, mode="FAST_COMPILE") == OpCounts(3, 3, 3, 5)


@pytest.fixture(scope="module")
def compiled_xy():
    x, y = pt.dscalars("x", "y")
    return x, y, pytensor.function([x, y], x * y + x * y)


def test_compiled_function_counted_as_it_is(compiled_xy):
    x, y, f = compiled_xy
    assert printed_apply_nodes(f) == len(f.maker.fgraph.apply_nodes) == 1
    assert fused_scalar_ops(f) == 2
    with pytest.raises(TypeError, match="before rewriting"):
        rewritten_apply_nodes(f)


def test_counting_mode_matches_rewrite_only():
    outputs = [sympy.exp(x_) * sympy.exp(x_) + sympy.sin(y_), x_ * y_]
    graph = theano_code(outputs, cache={})
    expected = count_ops(graph)
    f0 = theano_function([x_, y_], outputs, mode=counting_mode(rewrite=False))
    f1 = theano_function([x_, y_], outputs, mode=counting_mode())
    f2 = theano_function([x_, y_], outputs, mode=counting_mode(fusion=True))
    assert printed_apply_nodes(f0) == expected.printed_nodes
    assert printed_apply_nodes(f1) == expected.rewritten_nodes
    assert printed_apply_nodes(f2) == expected.fused_nodes
    assert fused_scalar_ops(f2) == expected.fused_scalar_ops
    assert f2(1.0, 2.0)[1] == 2.0


def test_bad_graph_argument():
    with pytest.raises(TypeError, match="expected a PyTensor Variable"):
        count_ops("x + y")


# ---------------------------------------------------------------------- hydrogen
@pytest.fixture(scope="module")
def rows_scalar():
    return {r.route: r for r in hydrogen_rows(ndim=0)}


@pytest.fixture(scope="module")
def rows_vector():
    return {r.route: r for r in hydrogen_rows(ndim=1)}


def test_hydrogen_rows_scalar_x(rows_scalar):
    # the article's setting: a 0-d x, Derivative printed with pytensor.grad
    got = {k: (r.article, r.apply_nodes, r.scalar_ops) for k, r in rows_scalar.items()}
    assert got == {
        "SymPy alone": (27, 17, 28),
        "PyTensor alone": (24, 18, 34),
        "SymPy + PyTensor": (17, 15, 26),
        "optimize=True": (None, 14, 19),
    }


def test_hydrogen_rows_vector_x(rows_vector):
    # a 1-d x: Derivative printed with pushforward (forward mode); when printed, each
    # broadcast constant has its DimShuffle
    got = {k: (r.apply_nodes, r.scalar_ops) for k, r in rows_vector.items()}
    assert got == {
        "SymPy alone": (33, 28),
        "PyTensor alone": (16, 29),
        "SymPy + PyTensor": (15, 26),
        "optimize=True": (14, 19),
    }


def test_sympy_simplify_beats_pytensor_alone(rows_scalar, rows_vector):
    for rows in (rows_scalar, rows_vector):
        assert rows["SymPy + PyTensor"].apply_nodes < rows["PyTensor alone"].apply_nodes
        assert rows["SymPy + PyTensor"].scalar_ops < rows["PyTensor alone"].scalar_ops


def test_optimize_meets_the_issue_target(rows_scalar, rows_vector):
    # issue 3, part 4: at most 20 scalar ops and at most 14 apply nodes, both settings of x
    for rows in (rows_scalar, rows_vector):
        row = rows["optimize=True"]
        assert row.apply_nodes <= 14 and row.scalar_ops <= 20, row
        assert row.scalar_ops < rows["SymPy + PyTensor"].scalar_ops


def test_a_route_is_one_more_row():
    extra = Route("SymPy + PyTensor, float64 constants", None, sympy_derivative_outputs,
                  kwargs={"settings": {"float_dtype": "float64"}})
    (row,) = hydrogen_rows([extra])
    assert (row.route, row.article, row.apply_nodes, row.scalar_ops) == (extra.name, None, 15, 26)


def test_reference_is_sympy_r_nl():
    """The mpmath closed form agrees with SymPy's R_nl and its derivative to 25 digits."""
    e = hydrogen_expression()
    assert e == R_nl(6, 2, X, 6)
    de = sympy.diff(e, X)
    slopes, values = hydrogen_reference(SAMPLE_POINTS)
    for p, s, v in zip(SAMPLE_POINTS, slopes, values):
        assert math.isclose(v, float(e.evalf(30, subs={X: sympy.Float(p, 30)})), rel_tol=1e-15)
        assert math.isclose(s, float(de.evalf(30, subs={X: sympy.Float(p, 30)})), rel_tol=1e-15)
    assert mpmath.mp.dps == 15  # the working precision is restored


@pytest.fixture(scope="module")
def comparison():
    return {r.route: r for r in hydrogen_comparison(n=1000, repeat=1)}


def test_hydrogen_values_match_mpmath(comparison):
    assert set(comparison) == {r.name for r in ROUTES} | {"numpy lambdify (simplified)"}
    for row in comparison.values():
        assert row.max_rel_error < 1e-12, row
        assert row.seconds > 0 and row.setup_seconds > 0


def test_hydrogen_comparison_keeps_counts(comparison, rows_scalar):
    for name, row in rows_scalar.items():
        assert (comparison[name].apply_nodes, comparison[name].scalar_ops) == (
            row.apply_nodes, row.scalar_ops)
    assert comparison["numpy lambdify (simplified)"].apply_nodes is None


def test_unrewritten_route_runs_as_printed():
    f = ROUTES[0].compile(hydrogen_expression(), ndim=1)
    assert printed_apply_nodes(f) == 33  # no fusion, one DimShuffle per broadcast constant
    slopes, values = hydrogen_reference([1.2, 3.0])
    assert max_relative_error(f(np.array([1.2, 3.0])), [slopes, values]) < 1e-12


# ---------------------------------------------------------------------- helpers
def test_max_relative_error():
    assert max_relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert max_relative_error(np.array([1.0, 2.0 + 2e-9]), np.array([1.0, 2.0])) == pytest.approx(1e-9)
    assert max_relative_error([0.5], [0.0]) == 0.5  # absolute where the reference is 0
    assert max_relative_error([np.nan, np.inf], [np.nan, np.inf]) == 0.0
    assert max_relative_error([np.nan], [1.0]) == np.inf
    assert max_relative_error([np.ones(3), 2.0], [1.0, np.full(3, 2.0)]) == 0.0


def test_best_time():
    calls = []
    t = best_time(calls.append, 1, repeat=3, number=2)
    assert len(calls) == 6 and t >= 0
