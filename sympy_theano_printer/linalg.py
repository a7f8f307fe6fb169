"""Linear-algebra routines chosen from SymPy's assumptions.

The matrix printer (:mod:`.matrices`) never forms an explicit inverse for an
``Inverse`` (or negative ``MatPow``) that feeds a product: ``A**-1 * B`` is a
solve.  Which solver runs depends on what SymPy's assumption system can prove
about ``A`` from the facts given to the printer (``theano_function(...,
assumptions=...)``) and from ``sympy.assuming``:

==========================  ====================================================
structure of ``A``          ``A**-1 * B`` becomes
==========================  ====================================================
diagonal                    ``B / diag(A)[:, None]`` (element-wise division)
orthogonal                  ``A.T @ B``
lower / upper triangular    ``solve_triangular(A, B, lower=...)``
positive definite (SPD)     ``cho_solve((cholesky(A), True), B)``; one Cholesky
                            factor per matrix, shared by all its solves
symmetric                   ``solve(A, B, assume_a="sym")`` (LAPACK ``?sysv``)
anything else               ``solve(A, B)`` (LU with partial pivoting; PyTensor
                            reuses one factorization for several solves)
==========================  ====================================================

The table is the classical choice of LAPACK drivers (Anderson et al., *LAPACK
Users' Guide*, 3rd ed., SIAM 1999, section 2.3: ``?GESV``, ``?SYSV``, ``?POSV``,
``?TRTRS``), which is what the seed article ("SymPy and Theano -- Matrix
Expressions", 2013) wanted to reach from SymPy's inference and could not with
Theano.  All graphs are built from PyTensor's own operations
(:mod:`pytensor.tensor.linalg`); nothing here computes numbers itself.

Conventions
-----------
SymPy's ``Q.positive_definite(X)`` only says ``z.T X z > 0`` and does not imply
``Q.symmetric(X)`` (``ask(Q.symmetric(X), Q.positive_definite(X))`` is None),
whereas a Cholesky factorization reads one triangle and is only right for a
symmetric matrix.  The printer takes a *given* positive-definite fact in the
sense of LAPACK's ``?POSV``, SciPy's ``cho_factor`` and PyTensor's
``assume(x, positive_definite=True)``: symmetric positive definite.  It adds
``Q.symmetric(X)`` for every ``Q.positive_definite(X)`` among the given facts,
and uses the Cholesky route only where ``ask`` proves both positive
definiteness and symmetry.  If a matrix declared positive definite is not,
PyTensor's Cholesky returns NaN (it does not raise), and so do the outputs.

Costs
-----
:meth:`Routines.solve_cost` counts floating-point operations with the usual
leading terms (Golub and Van Loan, *Matrix Computations*, 4th ed., 2013:
LU ``2/3 k^3``, Cholesky ``1/3 k^3``, LDL^T ``1/3 k^3``, a triangular solve
with ``c`` right-hand sides ``k^2 c``, a product ``(m x k)(k x n)`` ``2 m k n``).
A product ``X^T X`` (the two factors transposes of each other) is symmetric
and costs half a general product when formed by BLAS ``?syrk`` (Golub and Van
Loan, section 1.1.15: ``n^2 k`` instead of ``2 n^2 k``); :func:`symmetric_product`
builds it as a :class:`SymmetricProduct` node.  They steer the order of a matrix
chain; they are not timings.
"""
from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import sympy
from pytensor.tensor.math import Dot
from pytensor.tensor import linalg as ptl
from sympy import Q
from sympy.assumptions import global_assumptions
from sympy.logic.boolalg import conjuncts

from .backend import when_imported

__all__ = [
    "DIAGONAL",
    "GENERAL",
    "LOWER_TRIANGULAR",
    "ORTHOGONAL",
    "POSITIVE_DEFINITE",
    "STRUCTURES",
    "SYMMETRIC",
    "UPPER_TRIANGULAR",
    "Facts",
    "Routines",
    "MAX_ASK_NODES",
    "SYRK_MIN_WORK",
    "SymmetricProduct",
    "gemm_cost",
    "register_jax",
    "symmetric_product",
    "syrk_cost",
]

DIAGONAL = "diagonal"
ORTHOGONAL = "orthogonal"
LOWER_TRIANGULAR = "lower_triangular"
UPPER_TRIANGULAR = "upper_triangular"
POSITIVE_DEFINITE = "positive_definite"
SYMMETRIC = "symmetric"
GENERAL = "general"

#: The structures in the order they are tried (the most specialized routine first).
STRUCTURES = (DIAGONAL, ORTHOGONAL, LOWER_TRIANGULAR, UPPER_TRIANGULAR,
              POSITIVE_DEFINITE, SYMMETRIC, GENERAL)

_PREDICATES = {
    DIAGONAL: Q.diagonal,
    ORTHOGONAL: Q.orthogonal,
    LOWER_TRIANGULAR: Q.lower_triangular,
    UPPER_TRIANGULAR: Q.upper_triangular,
    POSITIVE_DEFINITE: Q.positive_definite,
    SYMMETRIC: Q.symmetric,
}

#: Errors that SymPy's ``ask`` is known to raise on expressions it has no handler for;
#: they mean "unknown", not a bad expression.
_ASK_FAILURES = (TypeError, ValueError, NotImplementedError, AttributeError)


#: Largest expression (in nodes) that :meth:`Facts.holds` asks SymPy about.  ``ask`` on
#: matrix sums and products recurses into every term and falls back to its SAT solver
#: for each, which takes seconds on the blocks of a ``block_collapse``-d expression
#: (tens of nodes each); larger expressions are treated as having no known structure.
MAX_ASK_NODES = 24


def _larger_than(expr, limit: int) -> bool:
    """Whether ``expr`` has more than ``limit`` nodes (stops counting at ``limit + 1``)."""
    count = 0
    for _ in sympy.preorder_traversal(expr):
        count += 1
        if count > limit:
            return True
    return False


def gemm_cost(m, k, n) -> float:
    """Floating-point operations of an ``(m x k) @ (k x n)`` product: ``2 m k n``."""
    return 2.0 * m * k * n


def syrk_cost(n, k) -> float:
    """Floating-point operations of ``X^T X`` for an ``(k x n)`` matrix ``X`` by ``?syrk``:
    one triangle of the ``n x n`` result, ``n (n + 1) k``."""
    return float(n) * (n + 1.0) * k


# ====================================================================== X^T X
class SymmetricProduct(Dot):
    """A ``Dot`` built as ``X^T @ X`` (first input the transpose of the second).

    Same inputs, output and values as ``Dot`` (shapes ``(n, k)`` and ``(k, n)`` give
    ``(n, n)``, dtype upcast as ``Dot``; gradient, shape inference and the Python, C-VM
    and PyTorch back ends are ``Dot``'s (JAX: see below): NumPy's ``matmul`` already calls BLAS
    ``?syrk`` when its operands are one buffer and its transpose).  What differs is
    the Numba back end: Numba's ``np.dot`` always calls ``?gemm`` (``2 n^2 k`` flops);
    this op's Numba implementation calls ``?syrk`` (``n^2 k`` flops, LAPACK Users'
    Guide, BLAS level 3) through ``scipy.linalg.blas`` in object mode -- the OpenBLAS
    that Numba's ``np.dot`` and PyTensor's Numba LAPACK calls use too, so that no
    second BLAS thread pool competes with it -- and copies the computed triangle into
    the other one, so the result is exactly symmetric.  At run time it checks that the
    operands are one buffer and its transpose, and otherwise computes an ordinary
    product; below :data:`SYRK_MIN_WORK` it calls ``?gemm`` and copies one triangle
    into the other (same values, exactly symmetric, no object-mode call).  Build it
    with :func:`symmetric_product`.

    The JAX back end differs too (XLA has no ``?syrk``): XLA's CPU ``dot`` with a
    transposed first operand took twice as long as with a row-major one (``X^T X``
    for ``X`` of 500 x 1000: 19 ms against 9.2 ms on this project's machine, one
    thread), so this op's JAX implementation materializes ``X^T`` behind
    ``jax.lax.optimization_barrier`` (which stops XLA from folding the transpose back
    into the ``dot``) and multiplies that.  Values as ``Dot``'s (XLA's product, not
    forced symmetric).  :func:`register_jax` registers it when PyTensor imports its JAX
    back end, i.e. when a graph is first compiled for JAX (printing never imports JAX:
    that costs about a second and PyTensor's JAX back end switches ``jax_enable_x64`` on
    for the whole process).

    Raises
    ------
    TypeError
        An input is not 2-d (from ``Dot``).
    ValueError
        The inner dimensions differ (from ``Dot``).
    """


def _syrk_upper(a):
    """Upper triangle of ``a @ a.T`` by BLAS ``?syrk`` (SciPy's f2py wrapper; ``a`` of shape
    ``(n, k)``, best Fortran-ordered, as the transpose of a C-ordered ``(k, n)`` array is).
    Returns an ``(n, n)`` Fortran-ordered array whose strict lower triangle is zero."""
    from scipy.linalg.blas import get_blas_funcs

    (syrk,) = get_blas_funcs(("syrk",), (a,))
    return syrk(1.0, a, trans=0, lower=0)


#: Smallest ``n^2 k`` for which the Numba implementation of :class:`SymmetricProduct` calls
#: ``?syrk``: below it Numba's ``?gemm`` is as fast, as object mode costs about 3 us a call
#: (measured: ``X^T X`` for ``X`` of 50 x 100, ``n^2 k = 5e5``, takes 23 us either way).
SYRK_MIN_WORK = 2**19

_numba_registered = False


def _register_numba() -> None:
    """Give :class:`SymmetricProduct` its Numba implementation (once).  Deferred to the first
    :func:`symmetric_product`: importing Numba's dispatch costs about a second, which
    ``import sympy_theano_printer`` should not pay."""
    global _numba_registered
    if _numba_registered:
        return
    try:
        import numba
        from pytensor.link.numba.dispatch.basic import (
            get_numba_type,
            numba_funcify,
            numba_njit,
            register_funcify_default_op_cache_key,
        )
    except ImportError:  # pragma: no cover - Numba is a PyTensor dependency
        _numba_registered = True
        return

    @register_funcify_default_op_cache_key(SymmetricProduct)
    def _numba_symmetric_product(op, node, **kwargs):
        out = node.outputs[0]
        dtypes = {i.type.dtype for i in node.inputs} | {out.type.dtype}
        if len(dtypes) != 1 or out.type.numpy_dtype.kind not in "fc":
            return numba_funcify(Dot(), node, **kwargs), 3  # no ?syrk for it: Dot's product
        upper_type = get_numba_type(out.type, layout="F")

        @numba_njit
        def symmetric_product_impl(a, b):
            n = a.shape[0]
            gram = (a.shape[1] == b.shape[0] and b.shape[1] == n
                    and a.ctypes.data == b.ctypes.data
                    and a.strides[0] == b.strides[1] and a.strides[1] == b.strides[0])
            if gram and n * n * a.shape[1] >= SYRK_MIN_WORK:
                with numba.objmode(c=upper_type):
                    c = _syrk_upper(a)
                for j in range(n):
                    for i in range(j + 1, n):
                        c[i, j] = c[j, i]
                return c.T  # symmetric now: its C-ordered view
            # small (or not one buffer and its transpose): Numba's ?gemm
            c = np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b))
            if gram:  # the same exact symmetry as ?syrk gives
                for i in range(n):
                    for j in range(i + 1, n):
                        c[j, i] = c[i, j]
            return c

        return symmetric_product_impl, 6  # bump when the implementation changes (disk cache key)

    _numba_registered = True


_jax_registered = False


def register_jax() -> bool:
    """Register the JAX implementation of :class:`SymmetricProduct` (once); True if registered.

    Imports PyTensor's JAX back end (``pytensor.link.jax.dispatch``), as compiling
    any graph with ``mode="JAX"`` does, with its side effects (it sets
    ``jax_enable_x64`` from PyTensor's ``floatX``).  Call it before compiling a graph
    with ``mode="JAX"``; False (and nothing registered) when JAX is not installed.
    """
    global _jax_registered
    if _jax_registered:
        return True
    try:
        import jax
        import jax.numpy as jnp
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:
        return False

    @jax_funcify.register(SymmetricProduct)
    def _jax_symmetric_product(op, **kwargs):
        def symmetric_product_jax(a, b):
            # a row-major copy of the transposed operand: XLA's dot is twice as fast on it
            return jnp.dot(jax.lax.optimization_barrier(a), b)

        return symmetric_product_jax

    _jax_registered = True
    return True


def symmetric_product(x):
    """``x.T @ x`` as one :class:`SymmetricProduct` node (BLAS ``?syrk`` on the CPU back ends).

    Parameters
    ----------
    x : TensorVariable
        2-d, shape ``(k, n)``.

    Returns
    -------
    TensorVariable
        Shape ``(n, n)``, ``x``'s dtype, exactly symmetric for a float or complex ``x``
        under Numba (an integer ``x`` gives an ordinary ``Dot``); see
        :class:`SymmetricProduct` for the other back ends.
    """
    x = pt.as_tensor_variable(x)
    if x.type.numpy_dtype.kind not in "fc":
        return pt.dot(x.T, x)
    _register_numba()
    return SymmetricProduct()(x.T, x)


class Facts:
    """What SymPy can prove about matrix expressions, from given facts and ``assuming``.

    Parameters
    ----------
    assumptions : sympy Boolean or None
        Facts such as ``Q.positive_definite(S) & Q.fullrank(H)``.  SymPy's
        ``global_assumptions`` (``with sympy.assuming(...)``) are added by
        ``ask`` itself; their positive-definite facts are made symmetric too
        (see the module notes).

    Notes
    -----
    Answers are cached per expression, so one instance should live no longer
    than one printing (the global assumptions may change afterwards).
    """

    def __init__(self, assumptions=None):
        given = sympy.true if assumptions is None else sympy.sympify(assumptions)
        atoms = set(conjuncts(given)) | set(global_assumptions)
        extra = [Q.symmetric(a.arguments[0]) for a in atoms
                 if getattr(a, "function", None) == Q.positive_definite]
        self.expr = sympy.And(given, *extra)
        self._mentioned = set()
        for a in atoms:
            self._mentioned |= getattr(a, "free_symbols", set())
        self._cache: dict = {}

    def holds(self, structure: str, expr) -> bool:
        """True when ``ask`` proves ``expr`` has ``structure`` (a key of :data:`STRUCTURES`).

        None and False both give False: the printer acts only on proven facts
        (SymPy 1.14's ``ask(Q.symmetric(A + B))`` answers False, not None, when
        it cannot decide one term, so False is not trusted either).
        """
        key = (structure, expr)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if structure == GENERAL:
            result = True
        elif isinstance(expr, sympy.MatrixSymbol) and expr not in self._mentioned:
            result = False  # no fact names it, and a bare symbol has no structure of its own
        elif not expr.is_square or _larger_than(expr, MAX_ASK_NODES):
            result = False
        else:
            try:
                result = sympy.ask(_PREDICATES[structure](expr), self.expr) is True
            except _ASK_FAILURES:
                result = False
            if structure == POSITIVE_DEFINITE and result:
                result = self.holds(SYMMETRIC, expr)
        self._cache[key] = result
        return result

    def structure(self, expr) -> str:
        """The most specialized structure of the square matrix expression ``expr`` that is proven."""
        for s in STRUCTURES:
            if self.holds(s, expr):
                return s
        return GENERAL  # not reached: GENERAL always holds


class Routines:
    """Solvers, inverses and determinants built from the structure of each matrix.

    One instance per printing: it caches the structure of every matrix it
    has seen, one Cholesky factor per positive-definite matrix and the
    half-solves ``L^-1 B`` (see :meth:`half_solve`), each keyed by the SymPy
    expressions involved, so a factor is computed once however many
    solves use it.

    Parameters
    ----------
    facts : Facts
    """

    def __init__(self, facts: Facts):
        self.facts = facts
        self._structure: dict = {}
        self._cholesky: dict = {}
        self._half: dict = {}

    # ------------------------------------------------------------------ structure
    def structure(self, a_expr) -> str:
        """The structure of the square SymPy matrix ``a_expr`` (cached)."""
        try:
            return self._structure[a_expr]
        except KeyError:
            s = self._structure[a_expr] = self.facts.structure(a_expr)
            return s

    # ------------------------------------------------------------------ costs
    def factored(self, a_expr) -> bool:
        """Whether a factorization of ``a_expr`` is already in the graph (Cholesky only)."""
        return a_expr in self._cholesky

    def solve_cost(self, a_expr, k, c) -> float:
        """Flops of ``A^-1 B`` (or ``B A^-1``) for a ``k x k`` matrix and ``c`` right-hand sides.

        A factorization already in the graph costs nothing again.
        """
        s = self.structure(a_expr)
        if s == DIAGONAL:
            return float(k * c)
        if s == ORTHOGONAL:
            return gemm_cost(k, k, c)
        if s in (LOWER_TRIANGULAR, UPPER_TRIANGULAR):
            return float(k * k * c)
        factor = 2.0 / 3.0 * k**3 if s == GENERAL else 1.0 / 3.0 * k**3
        if self.factored(a_expr):
            factor = 0.0
        return factor + 2.0 * k * k * c

    def half_solve_cost(self, a_expr, b_key, k, c) -> float:
        """Flops of ``L^-1 B`` (positive definite ``A = L L^T``): ``k^2 c``, plus the factor if new."""
        if (a_expr, b_key) in self._half:
            return 0.0
        factor = 0.0 if self.factored(a_expr) else 1.0 / 3.0 * k**3
        return factor + float(k * k * c)

    # ------------------------------------------------------------------ graphs
    def cholesky(self, a_expr, a):
        """The lower Cholesky factor ``L`` of ``a`` (``a = L L^T``), one per SymPy matrix."""
        try:
            return self._cholesky[a_expr]
        except KeyError:
            L = self._cholesky[a_expr] = ptl.cholesky(a, lower=True)
            return L

    def solve_left(self, a_expr, a, b):
        """``a^-1 @ b`` by the routine that ``a_expr``'s structure selects.

        Parameters
        ----------
        a_expr : sympy.MatrixExpr
            The square matrix, whose structure is asked.
        a, b : TensorVariable
            ``a`` of shape ``(k, k)``, ``b`` of shape ``(k, c)``; any float dtype.

        Returns
        -------
        TensorVariable of shape ``(k, c)``
        """
        s = self.structure(a_expr)
        if s == DIAGONAL:
            return b / pt.diagonal(a)[:, None]
        if s == ORTHOGONAL:
            return pt.dot(a.T, b)
        if s in (LOWER_TRIANGULAR, UPPER_TRIANGULAR):
            return ptl.solve_triangular(a, b, lower=s == LOWER_TRIANGULAR, b_ndim=2)
        if s == POSITIVE_DEFINITE:
            return ptl.cho_solve((self.cholesky(a_expr, a), True), b, b_ndim=2)
        if s == SYMMETRIC:
            return ptl.solve(a, b, assume_a="sym", b_ndim=2)
        return ptl.solve(a, b, b_ndim=2)

    def solve_right(self, a_expr, a, b):
        """``b @ a^-1``, computed as ``(a^-T b^T)^T``; ``b`` of shape ``(r, k)``."""
        s = self.structure(a_expr)
        if s == DIAGONAL:
            return b / pt.diagonal(a)[None, :]
        if s == ORTHOGONAL:
            return pt.dot(b, a.T)
        if s in (LOWER_TRIANGULAR, UPPER_TRIANGULAR):
            return ptl.solve_triangular(a, b.T, lower=s == LOWER_TRIANGULAR, trans=1, b_ndim=2).T
        if s in (POSITIVE_DEFINITE, SYMMETRIC):  # a.T == a
            return self.solve_left(a_expr, a, b.T).T
        return ptl.solve(a, b.T, transposed=True, b_ndim=2).T

    def half_solve(self, a_expr, a, b_key, b):
        """``L^-1 b`` for positive-definite ``a = L L^T`` (lower ``L``), cached by ``(a_expr, b_key)``.

        ``X a^-1 Y = (L^-1 X^T)^T (L^-1 Y)``: when ``Y == X^T`` (the Kalman
        covariance update ``Sigma - K S^-1 K^T``), one triangular solve and one
        product replace a Cholesky solve (two triangular solves) and a product.
        """
        key = (a_expr, b_key)
        try:
            return self._half[key]
        except KeyError:
            w = self._half[key] = ptl.solve_triangular(
                self.cholesky(a_expr, a), b, lower=True, b_ndim=2)
            return w

    def inverse(self, a_expr, a):
        """An explicit inverse of ``a`` (only for an ``Inverse`` that is not a factor of a product)."""
        s = self.structure(a_expr)
        if s == DIAGONAL:
            return pt.diag(pt.reciprocal(pt.diagonal(a)))
        if s == ORTHOGONAL:
            return a.T
        if s == GENERAL:
            return ptl.inv(a)
        eye = pt.eye(a.shape[0], dtype=a.dtype)
        return self.solve_left(a_expr, a, eye)

    def det(self, a_expr, a):
        """``det(a)``: the product of the diagonal for a triangular or diagonal matrix,
        ``prod(diag(L))**2`` for a positive-definite one, else PyTensor's ``det`` (LU)."""
        s = self.structure(a_expr)
        if s in (DIAGONAL, LOWER_TRIANGULAR, UPPER_TRIANGULAR):
            return pt.prod(pt.diagonal(a))
        if s == POSITIVE_DEFINITE:
            return pt.sqr(pt.prod(pt.diagonal(self.cholesky(a_expr, a))))
        return ptl.det(a)


# registered when PyTensor imports its JAX back end: printing never imports JAX
when_imported("pytensor.link.jax.dispatch", register_jax)
