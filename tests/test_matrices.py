"""Matrix expressions: every construct against NumPy, routines chosen from SymPy's
assumptions, cost-ordered products, shapes checked at call time.

Numerical checks compare with NumPy/SciPy computed independently from the same
arrays.  Tolerances are normwise, ``max|a - e| <= k * m * cond * eps * max|e|``:
a product of ``m``-term inner sums has a forward error of about ``m * eps``
relative to ``|A||B|`` (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., Thm 3.5), a backward-stable solve adds a factor
``cond(A)`` (ibid., Thm 7.2); ``k`` absorbs the constants.  Matrices are random
with fixed seeds and shifted to be well conditioned.

Compilation is the expensive part, so the constructs share compiled functions
through module-scoped fixtures, and graph structure is mostly checked on printed
graphs, which need no compilation.  The many-output functions run PyTensor's
``fast_run`` rewrites with the Python linker (:data:`FAST_MODE`): the default
Numba back end compiles each kind of op on its first call, about 20 s for the
constructs below on a cold cache.  The shape checks, which raise from inside the
graph, run in the default mode, and so do the Kalman tests (``test_kalman.py``).
"""
from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.mode import Mode
import pytest
import scipy.linalg
import sympy as sy
from pytensor.graph.traversal import applys_between, graph_inputs
from sympy import Q
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from sympy_theano_printer import (
    ShapeError,
    TheanoPrinter,
    UnsupportedExpressionError,
    theano_code,
    theano_function,
)
from sympy_theano_printer.matrices import DimensionMismatchError

#: PyTensor's default rewrites with the Python linker (see the module notes).
FAST_MODE = Mode(linker="py", optimizer="fast_run")

EPS = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


def assert_normwise_close(actual, expected, *, m=3, cond=1.0, k=16.0, eps=EPS, err_msg=""):
    """``max|actual - expected| <= k * m * cond * eps * max|expected|`` (see the module notes)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{err_msg}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    bound = k * m * cond * eps * scale
    err = float(np.max(np.abs(actual - expected), initial=0.0))
    assert err <= bound, f"{err_msg}: error {err:.3e} > bound {bound:.3e}"


#: PyTensor's BLAS forms of a matrix product, all reported as "Dot" by :func:`op_names`.
_PRODUCTS = {"Dot", "Dot22", "Dot22Scalar", "Gemm", "Gemv", "Ger", "CGemv", "CGer"}


def core_ops(outputs, inputs=None):
    """The (core) ops of the graph of ``outputs`` (a ``Blockwise`` gives its ``core_op``)."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = list(graph_inputs(outputs)) if inputs is None else inputs
    return [getattr(node.op, "core_op", node.op) for node in applys_between(inputs, outputs)]


def op_names(outputs, inputs=None):
    """Class names of the core ops of ``outputs``: ``Solve``, ``Cholesky``, ``Dot`` (any BLAS product) ..."""
    names = [type(op).__name__ for op in core_ops(outputs, inputs)]
    return ["Dot" if name in _PRODUCTS else name for name in names]


def printed(exprs, assumptions=None, **kwargs):
    """Print ``exprs`` (no compilation) with a fresh cache and optional facts."""
    settings = {"assumptions": assumptions} if assumptions is not None else None
    return TheanoPrinter(settings=settings, cache={}).doprint_many(list(exprs), **kwargs)


# ====================================================================== every construct
A = sy.MatrixSymbol("A", 3, 3)
B = sy.MatrixSymbol("B", 3, 3)
C = sy.MatrixSymbol("C", 3, 2)
v = sy.MatrixSymbol("v", 3, 1)
x, y = sy.symbols("x y")
i, j = sy.symbols("i j", integer=True)
INPUTS = [A, B, C, v, x, y, i, j]

_rng = np.random.default_rng(20240611)
A_VAL = _rng.standard_normal((3, 3)) + 4 * np.eye(3)
B_VAL = _rng.standard_normal((3, 3))
C_VAL = _rng.standard_normal((3, 2))
V_VAL = _rng.standard_normal((3, 1))
X_VAL, Y_VAL, I_VAL, J_VAL = 0.7, -1.3, 2, 1
VALUES = (A_VAL, B_VAL, C_VAL, V_VAL, X_VAL, Y_VAL, I_VAL, J_VAL)
COND_A = float(np.linalg.cond(A_VAL))

a, b, c, vv = A_VAL, B_VAL, C_VAL, V_VAL
inv = np.linalg.inv

#: ``id: (SymPy expression, NumPy value, depends on cond(A))``
CONSTRUCTS = {
    "MatrixSymbol": (A, a, False),
    "MatAdd": (A + B - 2 * A, a + b - 2 * a, False),
    "MatMul": (A * B * C, a @ b @ c, False),
    "MatMul-coefficient": (2 * x * A * C, 2 * X_VAL * a @ c, False),
    "MatMul-explicit-matrix": (sy.ImmutableMatrix([[x, 1, 0], [0, y, 2], [1, 1, x * y]]) * A,
                               np.array([[X_VAL, 1, 0], [0, Y_VAL, 2], [1, 1, X_VAL * Y_VAL]]) @ a,
                               False),
    "HadamardProduct": (sy.hadamard_product(A, B, A), a * b * a, False),
    "HadamardPower": (sy.HadamardPower(A, 3), a**3, False),
    "HadamardPower-scalar-base": (sy.HadamardPower(2, B), 2.0**b, False),
    "Transpose": (C.T, c.T, False),
    "Adjoint": (sy.Adjoint(C), c.T, False),
    "Inverse": (A.I, inv(a), True),
    "Inverse-times-matrix": (A.I * C, np.linalg.solve(a, c), True),
    "matrix-times-Inverse": (C.T * A.I, c.T @ inv(a), True),
    "Inverse-in-chain": (B * A.I * C, b @ np.linalg.solve(a, c), True),
    "Inverse-transpose": (A.I.T * C, np.linalg.solve(a.T, c), True),
    "Inverse-in-sum-in-chain": (B * sy.MatAdd(A.I, B) * C, b @ (inv(a) + b) @ c, True),
    "one-factor-MatMul": (sy.MatMul(2, sy.MatAdd(A.I, B)), 2 * (inv(a) + b), True),
    "MatPow-3": (A**3, a @ a @ a, False),
    "MatPow-0": (sy.MatPow(A, 0), np.eye(3), False),
    "MatPow-negative": (A**-2, inv(a @ a), True),
    "MatPow-negative-in-chain": (A**-2 * C, np.linalg.solve(a @ a, c), True),
    "Determinant": (sy.Determinant(A), np.linalg.det(a), True),
    "Trace": (sy.Trace(A * B), np.trace(a @ b), False),
    "Identity": (sy.Identity(3) + A, np.eye(3) + a, False),
    "ZeroMatrix": (sy.MatAdd(sy.ZeroMatrix(3, 2), C), c, False),  # unevaluated: C + 0 is C
    "OneMatrix": (sy.OneMatrix(3, 2) + C, c + 1, False),
    "MatrixElement": (A[0, 2], a[0, 2], False),
    "MatrixElement-symbolic-index": (B[i, j], b[I_VAL, J_VAL], False),
    "MatrixElement-of-product": (MatrixElement(A * B, 1, 2), (a @ b)[1, 2], False),
    "scalar-with-elements": (A[0, 1] * B[1, 0] + sy.sin(A[2, 2]) * x,
                             a[0, 1] * b[1, 0] + np.sin(a[2, 2]) * X_VAL, False),
    "MatrixSlice": (A[0:2, 1:], a[0:2, 1:], False),
    "MatrixSlice-step": (B[::2, :], b[::2, :], False),
    "BlockMatrix": (sy.BlockMatrix([[A, C], [C.T, sy.Identity(2)]]),
                    np.block([[a, c], [c.T, np.eye(2)]]), False),
    "BlockDiagMatrix": (sy.BlockDiagMatrix(A, C.T * C), scipy.linalg.block_diag(a, c.T @ c), False),
    "KroneckerProduct": (sy.KroneckerProduct(A, C), np.kron(a, c), False),
    "DiagMatrix": (sy.DiagMatrix(v), np.diag(vv[:, 0]), False),
    "DiagMatrix-row": (sy.DiagMatrix(v.T), np.diag(vv[:, 0]), False),
    "DiagonalMatrix": (sy.DiagonalMatrix(A), np.diag(np.diag(a)), False),
    "DiagonalOf": (sy.DiagonalOf(B), np.diag(b)[:, None], False),
    "DotProduct": (sy.DotProduct(v, v), float(vv[:, 0] @ vv[:, 0]), False),
    "ElementwiseApplyFunction": (A.applyfunc(sy.sin), np.sin(a), False),
    "ElementwiseApplyFunction-lambda": (ElementwiseApplyFunction(sy.Lambda(x, x**2 + y), B),
                                        b**2 + Y_VAL, False),
    "ElementwiseApplyFunction-constant": (ElementwiseApplyFunction(sy.Lambda(x, sy.Integer(2)), C),
                                          np.full((3, 2), 2.0), False),
    "explicit-Matrix": (sy.Matrix([[x, y], [A[0, 0], x * y]]),
                        np.array([[X_VAL, Y_VAL], [a[0, 0], X_VAL * Y_VAL]]), False),
    "ImmutableMatrix-constant": (sy.ImmutableMatrix([[1, 2], [3, sy.Rational(1, 2)]]),
                                 np.array([[1, 2], [3, 0.5]]), False),
}


@pytest.fixture(scope="module")
def constructs_function():
    """One compiled function (default mode) computing every construct."""
    outputs = [expr for expr, _, _ in CONSTRUCTS.values()]
    return theano_function(INPUTS, outputs, dtypes={i: "int64", j: "int64"},
                           on_unused_input="ignore", mode=FAST_MODE)


@pytest.fixture(scope="module")
def constructs_values(constructs_function):
    return dict(zip(CONSTRUCTS, constructs_function(*VALUES)))


@pytest.mark.parametrize("name", list(CONSTRUCTS))
def test_construct_against_numpy(constructs_values, name):
    _, expected, ill = CONSTRUCTS[name]
    value = constructs_values[name]
    assert value.dtype == np.float64
    assert_normwise_close(value, expected, m=9, cond=COND_A**2 if ill else 1.0, err_msg=name)


def test_every_construct_is_covered():
    """Each class the issue lists has a row above (a guard against silently dropping one)."""
    classes = {type(e).__name__ for e, _, _ in CONSTRUCTS.values()}
    classes |= {type(a).__name__ for e, _, _ in CONSTRUCTS.values() for a in sy.preorder_traversal(e)}
    for name in ("MatrixSymbol", "MatAdd", "MatMul", "HadamardProduct", "HadamardPower", "Transpose",
                 "Adjoint", "Inverse", "MatPow", "Determinant", "Trace", "Identity", "ZeroMatrix",
                 "OneMatrix", "MatrixElement", "MatrixSlice", "BlockMatrix", "BlockDiagMatrix",
                 "KroneckerProduct", "DiagMatrix", "DiagonalMatrix", "DiagonalOf", "DotProduct",
                 "ElementwiseApplyFunction", "MutableDenseMatrix", "ImmutableDenseMatrix"):
        assert name in classes, name


def test_matrix_symbol_static_and_symbolic_shapes():
    n = sy.Symbol("n", integer=True)
    X, Y = printed([sy.MatrixSymbol("X", 4, 2), sy.MatrixSymbol("Y", n, 3)])
    assert X.type.shape == (4, 2) and Y.type.shape == (None, 3)


# ====================================================================== solves, not inverses
@pytest.mark.parametrize("expr", [A.I * C, C.T * A.I, B * A.I * C, A**-2 * C, A.I.T * C,
                                  sy.Trace(A.I * B), MatrixElement(A.I * C, 0, 1),
                                  B * sy.MatAdd(A.I, B) * C],
                         ids=["left", "right", "middle", "power", "transpose", "trace", "element",
                              "sum-in-chain"])
def test_inverse_feeding_a_product_is_a_solve(expr):
    [out] = printed([expr])
    names = op_names(out)
    assert "MatrixInverse" not in names
    assert "Solve" in names


def test_standalone_inverse_is_explicit():
    assert "MatrixInverse" in op_names(printed([A.I])[0])


@pytest.mark.parametrize("expr, explicit", [(A.I * B.I, 1), (A.I * B.I * C, 0)],
                         ids=["two-inverses", "two-and-matrix"])
def test_product_of_inverses(expr, explicit):
    """A chain of inverses alone needs one explicit inverse (the other is a solve); with a
    matrix to act on, none."""
    names = op_names(printed([expr])[0])
    assert names.count("MatrixInverse") == explicit


# ====================================================================== routine from assumptions
Ad, Ao, Al, Au, Ap, As, Ag = (sy.MatrixSymbol(f"A_{s}", 4, 4) for s in "dolupsg")
Bm = sy.MatrixSymbol("Bm", 4, 2)
STRUCTURED = {Ad: Q.diagonal, Ao: Q.orthogonal, Al: Q.lower_triangular, Au: Q.upper_triangular,
              Ap: Q.positive_definite, As: Q.symmetric}
FACTS = sy.And(*[pred(M) for M, pred in STRUCTURED.items()])


def _structured_values():
    rng = np.random.default_rng(7)
    m = rng.standard_normal((4, 4))
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    q2, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    return {
        Ad: np.diag(rng.uniform(1.0, 3.0, 4)),
        Ao: q,
        Al: np.tril(m) + 4 * np.eye(4),
        Au: np.triu(m) + 4 * np.eye(4),
        Ap: m @ m.T / 4 + np.eye(4),
        As: q2 @ np.diag([3.0, -2.0, 4.0, -5.0]) @ q2.T,  # symmetric, indefinite
        Ag: m + 4 * np.eye(4),
        Bm: rng.standard_normal((4, 2)),
    }


#: matrix -> core ops its solve must use (any of) and must not use
ROUTINES = {
    Ad: ({"Elemwise"}, {"Solve", "SolveTriangular", "Cholesky", "LUFactor", "MatrixInverse", "Dot"}),
    Ao: ({"Dot"}, {"Solve", "SolveTriangular", "Cholesky", "LUFactor", "MatrixInverse"}),
    Al: ({"SolveTriangular"}, {"Solve", "Cholesky", "LUFactor", "MatrixInverse"}),
    Au: ({"SolveTriangular"}, {"Solve", "Cholesky", "LUFactor", "MatrixInverse"}),
    Ap: ({"Cholesky"}, {"Solve", "LUFactor", "MatrixInverse"}),
    As: ({"Solve"}, {"Cholesky", "LUFactor", "MatrixInverse"}),
    Ag: ({"Solve", "LUFactor"}, {"Cholesky", "MatrixInverse"}),
}


@pytest.fixture(scope="module")
def structured_function():
    mats = list(ROUTINES)
    outputs = []
    for M in mats:
        outputs += [M.I * Bm, Bm.T * M.I, M.I, sy.Determinant(M)]
    f = theano_function(mats + [Bm], outputs, assumptions=FACTS, mode=FAST_MODE)
    return mats, f


@pytest.mark.parametrize("M", list(ROUTINES), ids=lambda M: str(M))
def test_routine_in_compiled_graph(structured_function, M):
    mats, f = structured_function
    fgraph = f.theano_function.maker.fgraph
    k = mats.index(M)
    must, must_not = ROUTINES[M]
    for out in fgraph.outputs[4 * k: 4 * k + 2]:  # the left and the right solve
        names = set(op_names([out], fgraph.inputs))
        assert names & must, (M, names)
        assert not names & must_not, (M, names)


def test_solve_kind_in_compiled_graph(structured_function):
    mats, f = structured_function
    fgraph = f.theano_function.maker.fgraph
    k = mats.index(As)
    solves = [op for op in core_ops([fgraph.outputs[4 * k]], fgraph.inputs) if type(op).__name__ == "Solve"]
    assert solves and all(s.assume_a == "sym" for s in solves)
    for M, lower in [(Al, True), (Au, False)]:
        k = mats.index(M)
        tri = [op for op in core_ops([fgraph.outputs[4 * k]], fgraph.inputs)
               if type(op).__name__ == "SolveTriangular"]
        assert tri and all(t.lower == lower for t in tri)


@pytest.mark.parametrize("M", list(ROUTINES), ids=lambda M: str(M))
def test_routine_values(structured_function, M):
    mats, f = structured_function
    vals = _structured_values()
    out = f(*[vals[s] for s in mats + [Bm]])
    k = mats.index(M)
    m, bm = vals[M], vals[Bm]
    cond = float(np.linalg.cond(m))
    expected = [np.linalg.solve(m, bm), bm.T @ inv(m), inv(m), np.linalg.det(m)]
    for got, want, what in zip(out[4 * k: 4 * k + 4], expected, ["left", "right", "inverse", "det"]):
        assert_normwise_close(got, want, m=4, cond=cond, err_msg=f"{M} {what}")


def test_facts_through_assuming_equal_facts_given():
    with sy.assuming(Q.positive_definite(Ap)):
        names = op_names(printed([Ap.I * Bm])[0])
    assert "Cholesky" in names and "Solve" not in names
    assert "Cholesky" not in op_names(printed([Ap.I * Bm])[0])  # the context is gone


def test_positive_definite_alone_is_taken_as_symmetric():
    """SymPy's Q.positive_definite does not imply Q.symmetric; the printer adds it for given facts."""
    assert sy.ask(Q.symmetric(Ap), Q.positive_definite(Ap)) is None
    names = op_names(printed([Ap.I * Bm], Q.positive_definite(Ap))[0])
    assert "Cholesky" in names


def test_derived_positive_definite_uses_cholesky():
    H = sy.MatrixSymbol("H", 2, 4)
    R = sy.MatrixSymbol("R", 2, 2)
    facts = Q.positive_definite(Ap) & Q.positive_definite(R) & Q.fullrank(H)
    S = R + H * Ap * H.T
    assert sy.ask(Q.positive_definite(S), facts) is True
    names = op_names(printed([S.I * H], facts)[0])
    assert "Cholesky" in names and "MatrixInverse" not in names and "Solve" not in names


def test_orthogonal_inverse_is_transpose_and_diagonal_inverse_is_reciprocal():
    o, d = printed([Ao.I, Ad.I], FACTS)
    assert set(op_names(o)) <= {"DimShuffle"}
    assert "MatrixInverse" not in op_names(d)


# ====================================================================== order of products
def test_chain_is_ordered_by_cost():
    """``P Q w`` with square ``P, Q`` and a vector ``w``: two matrix-vector products."""
    P, Qm = sy.MatrixSymbol("P", 50, 50), sy.MatrixSymbol("Q", 50, 50)
    w = sy.MatrixSymbol("w", 50, 1)
    [out] = printed([P * Qm * w])
    dots = [n for n in applys_between(list(graph_inputs([out])), [out]) if type(n.op).__name__ == "Dot"]
    assert len(dots) == 2 and all(d.outputs[0].type.shape == (50, 1) for d in dots)
    [out] = printed([w.T * P * Qm])
    dots = [n for n in applys_between(list(graph_inputs([out])), [out]) if type(n.op).__name__ == "Dot"]
    assert all(d.outputs[0].type.shape == (1, 50) for d in dots)


def test_shared_subchain_and_its_transpose_are_computed_once():
    S = sy.MatrixSymbol("S", 6, 6)
    H = sy.MatrixSymbol("H", 3, 6)
    exprs = [S * H.T, H * S * H.T, H * S]
    plain = printed(exprs)
    assert op_names(plain).count("Dot") == 3  # S H^T, H (S H^T), H S
    known = printed(exprs, Q.symmetric(S))
    assert op_names(known).count("Dot") == 2  # H S is (S H^T)^T


def test_cholesky_split_for_congruence():
    """``X S^-1 X^T`` for positive-definite ``S``: one triangular solve, no Cholesky solve."""
    S = sy.MatrixSymbol("S", 5, 5)
    X = sy.MatrixSymbol("X", 7, 5)
    names = op_names(printed([X * S.I * X.T], Q.positive_definite(S))[0])
    assert names.count("SolveTriangular") == 1 and "CholeskySolve" not in names


# ====================================================================== X^T X products
def test_product_with_own_transpose_is_one_symmetric_product():
    """``X^T X``, ``X X^T``, ``(A B)^T (A B)`` and the congruence ``X S^-1 X^T`` are one
    ``SymmetricProduct`` each (half the flops of a ``Dot`` under Numba); ``X^T Y`` is not."""
    X, Y = sy.MatrixSymbol("X", 7, 5), sy.MatrixSymbol("Y", 7, 5)
    S = sy.MatrixSymbol("S", 5, 5)
    cases = {
        X.T * X: (1, 0),
        X * X.T: (1, 0),
        B.T * A.T * A * B: (1, 1),  # A B once, then (A B)^T (A B)
        2 * x * X.T * X: (1, 0),
        X.T * Y: (0, 1),
        A * A: (0, 1),
    }
    for expr, (symmetric, dots) in cases.items():
        names = op_names(printed([expr])[0])
        assert (names.count("SymmetricProduct"), names.count("Dot")) == (symmetric, dots), expr
    names = op_names(printed([X * S.I * X.T], Q.positive_definite(S))[0])
    assert names.count("SymmetricProduct") == 1 and "Dot" not in names


def test_transpose_of_symmetric_factor_is_recognized():
    """With ``Sigma`` symmetric, ``(G^T Sigma H^T)^T = H Sigma G``: ``H Sigma G G^T Sigma H^T``
    is ``P^T P`` for ``P = G^T Sigma H^T``, two ``Dot`` and one ``SymmetricProduct``."""
    Sg, Hm, G = sy.MatrixSymbol("Sigma", 6, 6), sy.MatrixSymbol("H", 3, 6), sy.MatrixSymbol("G", 6, 4)
    expr = Hm * Sg * G * G.T * Sg * Hm.T
    names = op_names(printed([expr], Q.symmetric(Sg))[0])
    assert (names.count("Dot"), names.count("SymmetricProduct")) == (2, 1)
    names = op_names(printed([expr])[0])  # no fact: H Sigma G is not known to be P^T
    assert "SymmetricProduct" not in names


def test_inverted_matrix_is_printed_first_and_shared():
    """In ``Sigma H^T (R + H Sigma H^T)^-1 z`` the product ``Sigma H^T`` inside the inverted
    matrix is reused, so no ``n x n`` matrix-vector product ``Sigma (H^T w)`` is formed:
    four products (``Sigma H^T``, ``H (Sigma H^T)``, ``H mu``, ``(Sigma H^T) w``)."""
    Sg, Hm, Rm = sy.MatrixSymbol("Sigma", 8, 8), sy.MatrixSymbol("H", 3, 8), sy.MatrixSymbol("R", 3, 3)
    mu, z = sy.MatrixSymbol("mu", 8, 1), sy.MatrixSymbol("z", 3, 1)
    expr = mu + Sg * Hm.T * (Rm + Hm * Sg * Hm.T).I * (Hm * mu - z)
    out = printed([expr], Q.positive_definite(Sg) & Q.positive_definite(Rm))[0]
    assert op_names(out).count("Dot") == 4
    products = [n for n in applys_between(list(graph_inputs([out])), [out])
                if type(n.op).__name__ == "Dot" and n.outputs[0].type.shape == (8, 1)]
    assert len(products) == 1 and products[0].inputs[1].type.shape == (3, 1)


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_symmetric_product_values_on_every_back_end(mode):
    """``X^T X`` (large enough for ``?syrk`` under Numba, float64 and float32), ``Y^T Y``
    (small: ``?gemm`` there) and ``X^T S^-1 X`` against NumPy; all exactly symmetric."""
    from sympy_theano_printer.linalg import SYRK_MIN_WORK

    X, S = sy.MatrixSymbol("X", 60, 100), sy.MatrixSymbol("S", 60, 60)
    Xf, Y = sy.MatrixSymbol("Xf", 60, 100), sy.MatrixSymbol("Y", 5, 4)
    assert 100 * 100 * 60 >= SYRK_MIN_WORK > 4 * 4 * 5
    rng = np.random.default_rng(7)
    xv, yv = rng.standard_normal((60, 100)), rng.standard_normal((5, 4))
    g = rng.standard_normal((60, 60))
    sv = g @ g.T / 60 + np.eye(60)
    f = theano_function([X, S, Xf, Y], [X.T * X, X.T * S.I * X, Xf.T * Xf, Y.T * Y],
                        dtypes={Xf: "float32"}, assumptions=Q.positive_definite(S), mode=mode)
    if mode == "NUMBA":
        assert op_names(f.theano_function.maker.fgraph.outputs).count("SymmetricProduct") == 4
    gram, congruence, gram32, small = f(xv, sv, xv.astype(np.float32), yv)
    assert gram32.dtype == np.float32
    assert_normwise_close(gram, xv.T @ xv, m=60)
    assert_normwise_close(small, yv.T @ yv, m=5)
    assert_normwise_close(congruence, xv.T @ np.linalg.solve(sv, xv), m=60,
                          cond=float(np.linalg.cond(sv)))
    x32 = xv.astype(np.float32).astype(np.float64)
    assert_normwise_close(gram32, x32.T @ x32, m=60, eps=EPS32)
    for value in (gram, congruence, gram32, small):
        np.testing.assert_array_equal(value, value.T)


_JAX_REGISTRATION_SCRIPT = """
import sys
import sympy as sy
from sympy_theano_printer import theano_function
X = sy.MatrixSymbol("X", 3, 2)
theano_function([X], [X.T * X], mode="NUMBA")
assert "jax" not in sys.modules, "printing or a Numba compilation imported JAX"
theano_function([X], [X.T * X], mode="JAX")
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.tensor.math import Dot
from sympy_theano_printer.linalg import SymmetricProduct
assert jax_funcify.dispatch(SymmetricProduct) is not jax_funcify.dispatch(Dot)
print("ok")
"""


def test_jax_implementation_is_registered_by_compiling_in_jax_mode():
    """In a fresh process: printing ``X^T X`` and compiling it with Numba leave JAX
    unimported; compiling it with ``mode="JAX"`` registers the package's JAX
    implementation of ``SymmetricProduct`` (when PyTensor imports its JAX back end)."""
    import subprocess
    import sys

    pytest.importorskip("jax")
    done = subprocess.run([sys.executable, "-c", _JAX_REGISTRATION_SCRIPT], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_symmetric_product_on_the_jax_back_end():
    """Under ``mode="JAX"`` the graph keeps its ``SymmetricProduct`` nodes, which run this
    package's JAX implementation (``register_jax``), not ``Dot``'s; values against NumPy
    for ``X^T X``, ``X^T S^-1 X`` (Cholesky route) and a non-square ``Y^T Y``."""
    pytest.importorskip("jax")
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.math import Dot

    from sympy_theano_printer.linalg import SymmetricProduct, register_jax

    assert register_jax() and register_jax()  # idempotent
    assert jax_funcify.dispatch(SymmetricProduct) is not jax_funcify.dispatch(Dot)
    X, S, Y = sy.MatrixSymbol("X", 30, 40), sy.MatrixSymbol("S", 30, 30), sy.MatrixSymbol("Y", 7, 3)
    rng = np.random.default_rng(5)
    xv, yv = rng.standard_normal((30, 40)), rng.standard_normal((7, 3))
    g = rng.standard_normal((30, 30))
    sv = g @ g.T / 30 + np.eye(30)
    f = theano_function([X, S, Y], [X.T * X, X.T * S.I * X, Y.T * Y],
                        assumptions=Q.positive_definite(S), mode="JAX")
    assert op_names(f.theano_function.maker.fgraph.outputs).count("SymmetricProduct") == 3
    gram, congruence, small = (np.asarray(v) for v in f(xv, sv, yv))
    assert gram.dtype == np.float64 and gram.shape == (40, 40)
    assert_normwise_close(gram, xv.T @ xv, m=30)
    assert_normwise_close(small, yv.T @ yv, m=7)
    assert_normwise_close(congruence, xv.T @ np.linalg.solve(sv, xv), m=30,
                          cond=float(np.linalg.cond(sv)))


def test_symmetric_product_op_on_other_operands_is_an_ordinary_product():
    """``SymmetricProduct`` given operands that are not one buffer and its transpose (as a
    graph rewrite could make them) still computes ``a @ b`` under Numba; an integer
    ``x`` gives a plain ``Dot``."""
    import pytensor

    from sympy_theano_printer.linalg import SymmetricProduct, symmetric_product

    a, b = pt.matrix("a"), pt.matrix("b")
    f = pytensor.function([a, b], [SymmetricProduct()(a, b), symmetric_product(b)], mode="NUMBA")
    rng = np.random.default_rng(11)
    av, bv = rng.standard_normal((6, 4)), rng.standard_normal((4, 5))
    general, gram = f(av, bv)
    assert_normwise_close(general, av @ bv, m=4)
    assert_normwise_close(gram, bv.T @ bv, m=4)
    names = op_names(symmetric_product(pt.lmatrix("i")))
    assert "Dot" in names and "SymmetricProduct" not in names


# ====================================================================== shapes and errors
n_, k_ = sy.symbols("n k", integer=True, positive=True)
Xs = sy.MatrixSymbol("X", n_, n_)
Ys = sy.MatrixSymbol("Y", n_, k_)
zs = sy.MatrixSymbol("z", k_, 1)


@pytest.fixture(scope="module")
def symbolic_function():
    outputs = [Xs * Ys * zs + sy.Identity(n_) * Ys * zs, Xs[0:n_ / 2, :] * Ys,
               sy.ZeroMatrix(n_, k_) + sy.OneMatrix(n_, k_), Xs.I * Ys]
    return theano_function([Xs, Ys, zs], outputs)


@pytest.mark.parametrize("size", [(4, 3), (6, 1)])
def test_symbolic_dimensions_values(symbolic_function, size):
    n, k = size
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, n)) + n * np.eye(n)
    Y = rng.standard_normal((n, k))
    z = rng.standard_normal((k, 1))
    out = symbolic_function(X, Y, z)
    assert_normwise_close(out[0], X @ Y @ z + Y @ z, m=n)
    assert_normwise_close(out[1], X[: n // 2] @ Y, m=n)
    np.testing.assert_array_equal(out[2], np.ones((n, k)))
    assert_normwise_close(out[3], np.linalg.solve(X, Y), m=n, cond=np.linalg.cond(X))


def test_symbolic_dimension_needs_no_input():
    outs = printed([Xs, sy.Identity(n_) + Xs])
    names = sorted(v.name for v in graph_inputs([outs[1]]) if v.name)
    assert names == ["X"]  # n is read from X's shape


@pytest.mark.parametrize("shapes, named", [
    (((4, 4), (5, 3), (3, 1)), ["Y", "X", "n"]),
    (((4, 4), (4, 3), (2, 1)), ["z", "Y", "k"]),
    (((4, 5), (4, 3), (3, 1)), ["X", "axes"]),
], ids=["rows", "cols", "square"])
def test_symbolic_dimension_mismatch_is_a_clear_valueerror(symbolic_function, shapes, named):
    args = [np.ones(s) for s in shapes]
    with pytest.raises(ValueError) as err:
        symbolic_function(*args)
    assert isinstance(err.value, DimensionMismatchError) and isinstance(err.value, ShapeError)
    for word in named:
        assert word in str(err.value)


def test_static_shape_mismatch_names_the_symbol(constructs_function):
    args = list(VALUES)
    args[2] = np.ones((3, 3))  # C is 3 x 2
    with pytest.raises(ShapeError, match=r"\bC\b.*shape"):
        constructs_function(*args)
    args = list(VALUES)
    args[0] = np.ones(3)
    with pytest.raises(ValueError, match=r"\bA\b.*dimensions"):
        constructs_function(*args)


def test_symbolic_identity_from_a_scalar_input():
    m = sy.Symbol("m", integer=True)
    f = theano_function([m], sy.Identity(m), dtypes={m: "int64"})
    np.testing.assert_array_equal(f(3), np.eye(3))


@pytest.mark.parametrize("expr", [sy.MatPow(A, x), sy.MatPow(A, sy.Rational(1, 2))], ids=["symbol", "half"])
def test_non_integer_matrix_power_is_unsupported(expr):
    with pytest.raises(UnsupportedExpressionError, match="MatPow"):
        theano_code(expr, cache={})


def test_unknown_matrix_class_is_unsupported():
    from sympy.matrices.expressions.fourier import DFT

    with pytest.raises(UnsupportedExpressionError, match="cannot translate DFT"):
        theano_code(DFT(3) * A, cache={})


def test_float32_stays_float32():
    outs = printed([A.I * C, A * C, sy.Trace(A)], dtypes={A: "float32", C: "float32"})
    assert [o.dtype for o in outs] == ["float32"] * 3
    f = theano_function([A, C], [A.I * C], dtypes={A: "float32", C: "float32"}, mode=FAST_MODE)
    got = f(A_VAL.astype("float32"), C_VAL.astype("float32"))
    assert got.dtype == np.float32
    assert_normwise_close(got, np.linalg.solve(A_VAL, C_VAL), m=3, cond=COND_A, eps=EPS32)


def test_adjoint_of_complex_matrix_conjugates():
    out = printed([sy.Adjoint(C)], dtypes={C: "complex128"})[0]
    assert "Elemwise" in op_names(out)  # the conjugate
    assert out.dtype == "complex128"
    real = printed([sy.Adjoint(C)])[0]
    assert op_names(real) == ["DimShuffle"]


def test_inputs_are_bare_variables_with_checks_inside():
    """The printed input stays a graph input (theano_function needs it); the checks wrap its uses."""
    X, out = printed([Xs, Xs * Ys])
    assert X.owner is None
    assert "CheckAndRaise" in op_names(out)
    assert isinstance(pt.as_tensor_variable(X), pt.TensorVariable)
