"""Matrix expressions: every SymPy matrix class, solves instead of inverses, cost-ordered products.

:class:`MatrixPrinterMixin` holds the ``_print_<Class>`` methods of
:class:`~sympy_theano_printer.printer.TheanoPrinter` for SymPy's matrix
expressions.  What it does beyond a one-to-one translation:

* **Shapes.**  A ``MatrixSymbol`` is a 2-d input whose static shape is its
  integer dimensions (``None`` where a dimension is symbolic), so PyTensor
  checks the arrays passed at call time against it.  Symbolic dimensions are
  checked too: the first ``MatrixSymbol`` printed with a dimension ``n``
  defines it, and every other axis declared ``n`` is compared with it at call
  time (a ``CheckAndRaise`` that raises :class:`DimensionMismatchError`, a
  :class:`~sympy_theano_printer.errors.ShapeError`, naming both symbols).
  ``Identity(n)``, ``ZeroMatrix(n, m)`` and slices up to ``n`` take ``n`` from
  those arrays, so ``n`` need not be an input.
* **No inverse in a product.**  ``MatMul`` is printed as a matrix chain whose
  ``Inverse``/negative ``MatPow`` factors are solves, never explicit inverses;
  the routine of each solve comes from SymPy's assumptions
  (:mod:`.linalg`).  A factor that is a sum with a bare inverse among its
  terms is distributed (``X (A^-1 + M) = X A^-1 + X M``), so that inverse
  feeds a product too; the 2 x 2 block inverse of ``block_collapse`` has such
  sums.
* **Cost-ordered products.**  The parenthesization of a chain minimizes its
  floating-point operations, by the classical dynamic programme over
  sub-chains (Cormen, Leiserson, Rivest and Stein, *Introduction to
  Algorithms*, 3rd ed., section 15.2), extended with solves and with
  "already computed" sub-chains: a sub-chain printed before (in this or
  another output) costs nothing, nor does one whose transpose was printed
  before, where SymPy proves the factors symmetric (``H*Sigma`` is the
  transpose of ``Sigma*H.T`` when ``Sigma`` is symmetric).  For a positive
  definite ``S = L L^T`` the product ``X S^-1 Y`` may be formed as
  ``(L^-1 X^T)^T (L^-1 Y)`` (as ``S^-1 = L^-T L^-1``; Golub and Van Loan,
  *Matrix Computations*, 4th ed., section 4.2), one triangular solve when
  ``Y = X^T``.  A product of a sub-chain and its transpose (``W^T W``, as
  that ``Y = X^T`` case gives) is symmetric and formed by BLAS ``?syrk``
  (:func:`~sympy_theano_printer.linalg.symmetric_product`), priced at half a
  general product.  Where a
  dimension is symbolic, the cost model takes each symbol as
  :data:`NOMINAL_DIMENSION`.

Per-printing state (the dimension table, the Cholesky factors, SymPy's
answers) lives in the printer's memo under a private key, so it has exactly
the memo's lifetime: one :meth:`~TheanoPrinter.doprint_many`, or one
:meth:`~TheanoPrinter.print_with_substitution`.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pytensor.tensor as pt
import sympy
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor import linalg as ptl
from sympy.matrices.expressions import (
    BlockMatrix,
    Identity,
    Inverse,
    MatAdd,
    MatMul,
    MatPow,
    MatrixSlice,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import ShapeError, UnsupportedExpressionError
from .linalg import (
    POSITIVE_DEFINITE,
    SYMMETRIC,
    Facts,
    Routines,
    gemm_cost,
    symmetric_product,
    syrk_cost,
)

__all__ = [
    "MATRIX_OPAQUE",
    "NOMINAL_DIMENSION",
    "DimensionMismatchError",
    "MatrixPrinterMixin",
]

#: Matrix classes whose arguments the printer must not print before the node
#: (``TheanoPrinter._opaque``): the factors of a ``MatMul`` may be inverses that
#: become solves, a ``BlockMatrix``'s argument is a matrix of blocks, an
#: ``ElementwiseApplyFunction``'s first argument is a ``Lambda``, and the
#: dimensions of ``Identity``/``ZeroMatrix``/``OneMatrix``/slices are taken
#: from the input arrays rather than printed as symbols.
MATRIX_OPAQUE = (MatMul, BlockMatrix, ElementwiseApplyFunction, Identity, ZeroMatrix,
                 OneMatrix, MatrixSlice)

#: Size assumed for a symbolic dimension when ordering a matrix chain by cost.
NOMINAL_DIMENSION = 1000

#: Longest run of solves that a negative ``MatPow`` factor of a product is expanded into
#: (``A**-3 * B`` is three solves with one factorization); beyond it, an explicit power.
MAX_EXPANDED_POWER = 16

_INF = math.inf


class DimensionMismatchError(ShapeError):
    """Arrays passed at call time disagree on a symbolic dimension they share.

    Raised by the compiled function (a ``CheckAndRaise`` in the graph), so
    it is constructed from the message alone.  A
    :class:`~sympy_theano_printer.errors.ShapeError`, hence a ``ValueError``.
    """

    def __init__(self, message="", symbol=None):
        super().__init__(symbol, message)


class _StateKey:
    """The memo key of the per-printing matrix state (never equal to a SymPy expression)."""

    __slots__ = ()

    def __repr__(self):
        return "<matrix printing state>"


_STATE_KEY = _StateKey()


class _MatrixState:
    """Per-printing state: dimension table, shape checks, assumption-driven routines."""

    def __init__(self, assumptions):
        self.facts = Facts(assumptions)
        self.routines = Routines(self.facts)
        self.dims: dict = {}      # symbolic dimension -> (MatrixSymbol, axis, graph input)
        self.checked: dict = {}   # MatrixSymbol -> its input wrapped in the dimension checks


def _static_dim(n):
    """``int(n)`` for an integer dimension, None for a symbolic one."""
    return int(n) if getattr(n, "is_Integer", False) or isinstance(n, int) else None


def _estimate(n) -> float:
    """A number for dimension ``n``: itself if an integer, else with every symbol set to
    :data:`NOMINAL_DIMENSION` (``n/2`` -> 500), else :data:`NOMINAL_DIMENSION`."""
    static = _static_dim(n)
    if static is not None:
        return float(static)
    try:
        value = float(sympy.sympify(n).subs({s: NOMINAL_DIMENSION for s in n.free_symbols}))
    except (TypeError, ValueError, AttributeError):
        return float(NOMINAL_DIMENSION)
    return value if value > 0 else float(NOMINAL_DIMENSION)


def _chain_key(factors):
    """The SymPy expression of a sub-chain: the factor itself, or their unevaluated ``MatMul``."""
    return factors[0] if len(factors) == 1 else MatMul(*factors)


def _is_real_dtype(var) -> bool:
    return not str(var.dtype).startswith("complex")


class MatrixPrinterMixin:
    """``_print_<Class>`` methods for SymPy matrix expressions (mixed into the printer).

    All methods return PyTensor variables: 2-d for matrix expressions (shape
    ``expr.shape``, static where the dimensions are integers), 0-d for
    ``Trace``, ``Determinant``, ``DotProduct`` and ``MatrixElement``.  Dtypes
    follow PyTensor's upcasting of the inputs (float64 by default; a float32
    graph stays float32); an explicit matrix of integers is int64.

    Raises
    ------
    UnsupportedExpressionError
        For what has no translation (a ``MatPow`` with a non-integer exponent,
        a matrix class with no ``_print_<Class>``), naming the class.
    ShapeError
        A broadcastable pattern contradicts a ``MatrixSymbol``'s shape (at
        printing); :class:`DimensionMismatchError` from the compiled function
        when arrays disagree on a symbolic dimension.
    """

    # ------------------------------------------------------------------ state
    def _matrix_state(self) -> _MatrixState:
        memo = self._memo
        state = memo.get(_STATE_KEY)
        if state is None:
            state = memo[_STATE_KEY] = _MatrixState(self._settings.get("assumptions"))
        return state

    @property
    def matrix_routines(self) -> Routines:
        """The :class:`~sympy_theano_printer.linalg.Routines` of the current printing."""
        return self._matrix_state().routines

    # ------------------------------------------------------------------ symbols and dimensions
    def _print_MatrixSymbol(self, X, **kwargs):
        shape = tuple(_static_dim(n) for n in X.shape)
        bc = self._broadcastables.get(X)
        self.check_broadcastable(X, bc, shape)
        if bc is None:
            bc = tuple(n == 1 for n in shape)
        var = self._get_or_create(
            X, dtype=self._dtypes.get(X), broadcastable=tuple(bc), shape=shape
        )
        dims = self._matrix_state().dims
        for axis, n in enumerate(X.shape):
            if shape[axis] is None:
                dims.setdefault(n, (X, axis, var))
        return var

    def _mval(self, expr):
        """The printed value of matrix expression ``expr``, a ``MatrixSymbol`` with its shape checks."""
        value = self._print(expr)
        if isinstance(expr, MatrixSymbol):
            return self._checked_symbol(expr, value)
        return value

    def _checked_symbol(self, X, var):
        """``var`` (the input of ``X``) behind one ``CheckAndRaise`` per symbolic dimension that
        another symbol defined: its length must equal the other array's at call time."""
        state = self._matrix_state()
        try:
            return state.checked[X]
        except KeyError:
            pass
        out = var
        for axis, n in enumerate(X.shape):
            if _static_dim(n) is not None:
                continue
            ref = state.dims.setdefault(n, (X, axis, var))
            other, other_axis, other_var = ref
            if other == X and other_axis == axis:
                continue
            if other == X:
                message = (f"{X} is declared {X.shape[0]} x {X.shape[1]}, so the array passed "
                           f"for {X} must have axes {other_axis} and {axis} of one length ({n}); "
                           "the array passed has not")
            else:
                message = (
                    f"{X} is declared {X.shape[0]} x {X.shape[1]} and {other} is declared "
                    f"{other.shape[0]} x {other.shape[1]}, so axis {axis} of the array passed for "
                    f"{X} must have the length of axis {other_axis} of the array passed for "
                    f"{other} (both are {n}); the arrays passed disagree")
            cond = pt.eq(var.shape[axis], other_var.shape[other_axis])
            out = CheckAndRaise(DimensionMismatchError, message)(out, cond)
        state.checked[X] = out
        return out

    def _dim(self, n):
        """A dimension or index as a Python int (when an integer) or an int64 graph scalar.

        A symbolic dimension that some ``MatrixSymbol`` declares is read from
        that symbol's array (``X.shape[axis]``); an expression in such
        dimensions (``n/2``) is printed with them substituted; anything else
        is printed as it is (its symbols must then be inputs).
        """
        static = _static_dim(n)
        if static is not None:
            return static
        n = sympy.sympify(n)
        dims = self._matrix_state().dims
        if n in dims:
            _, axis, var = dims[n]
            return var.shape[axis]
        free = n.free_symbols
        if free and all(s in dims for s in free):
            value = self.print_with_substitution(
                n, {s: pt.cast(dims[s][2].shape[dims[s][1]], "int64") for s in free})
        else:
            value = self._print(n)
        if str(value.dtype).startswith(("float", "complex")):
            value = pt.round(value)
        return pt.cast(value, "int64")

    _index = _dim

    # ------------------------------------------------------------------ explicit matrices
    def _print_MatrixBase(self, M, **kwargs):
        """An explicit ``Matrix``/``ImmutableMatrix``: one constant if every entry is a number,
        else its entries printed and stacked into a 2-d tensor (upcast to a common dtype)."""
        if M.rows == 0 or M.cols == 0:
            return pt.zeros((M.rows, M.cols), dtype=self.float_dtype)
        entries = [M[i, j] for i in range(M.rows) for j in range(M.cols)]
        if all(e.is_number and e.is_real for e in entries):
            if all(e.is_Integer for e in entries) and all(abs(int(e)) < 2**63 for e in entries):
                data = np.array([int(e) for e in entries], dtype="int64")
            else:
                data = np.array([float(e) for e in entries], dtype=self.float_dtype)
            return pt.constant(data.reshape(M.rows, M.cols))
        rows = [[pt.as_tensor_variable(self._print(M[i, j])) for j in range(M.cols)]
                for i in range(M.rows)]
        return pt.stacklists(rows)

    def as_tensor(self, value):
        return pt.as_tensor_variable(value)

    # ------------------------------------------------------------------ special matrices
    def _print_Identity(self, expr, **kwargs):
        return pt.eye(self._dim(expr.rows), dtype=self.float_dtype)

    def _print_ZeroMatrix(self, expr, **kwargs):
        return pt.zeros((self._dim(expr.rows), self._dim(expr.cols)), dtype=self.float_dtype)

    def _print_OneMatrix(self, expr, **kwargs):
        return pt.ones((self._dim(expr.rows), self._dim(expr.cols)), dtype=self.float_dtype)

    # ------------------------------------------------------------------ element-wise
    def _print_MatAdd(self, expr, **kwargs):
        return pt.add(*[self._mval(a) for a in expr.args])

    def _print_HadamardProduct(self, expr, **kwargs):
        return pt.mul(*[self._mval(a) for a in expr.args])

    def _print_HadamardPower(self, expr, **kwargs):
        base, exp = expr.args
        b = self._mval(base) if base.is_Matrix else self._print(base)
        e = self._mval(exp) if exp.is_Matrix else self._print(exp)
        return pt.pow(self.as_float(b), e)

    def _print_ElementwiseApplyFunction(self, expr, **kwargs):
        """``f.(X)``: ``f(d)`` printed with the dummy ``d`` bound to ``X``'s value (scalar ops are
        element-wise on tensors), broadcast to ``X``'s shape and dtype if ``f`` is constant."""
        x = self._mval(expr.expr)
        d = sympy.Dummy("d")
        value = self.print_with_substitution(expr.function(d), {d: x})
        if value.ndim < 2:  # f does not depend on its argument: f(d) + 0*X broadcasts and upcasts
            value = pt.zeros_like(x) + value
        return value

    # ------------------------------------------------------------------ transposes
    def _print_Transpose(self, expr, **kwargs):
        arg = expr.arg
        if self._matrix_state().facts.holds(SYMMETRIC, arg):
            return self._mval(arg)
        return self._mval(arg).T

    def _print_Adjoint(self, expr, **kwargs):
        value = self._mval(expr.arg)
        if _is_real_dtype(value):
            return value.T
        return pt.conj(value).T

    def _transpose_key(self, expr):
        """A SymPy expression equal to ``expr.T``, in the form the printer memoizes.

        Reverses products, drops double transposes, and keeps a factor that
        SymPy proves symmetric as it is, so that ``(Sigma*H.T).T`` is ``H*Sigma``.
        """
        if isinstance(expr, MatMul):
            coeff, mats = expr.as_coeff_matrices()
            if coeff == 1:
                return MatMul(*[self._transpose_key(m) for m in reversed(mats)])
        if isinstance(expr, Transpose):
            return expr.arg
        if isinstance(expr, Inverse):
            return Inverse(self._transpose_key(expr.arg))
        if expr.is_square and self._matrix_state().facts.holds(SYMMETRIC, expr):
            return expr
        return Transpose(expr)

    # ------------------------------------------------------------------ products
    def _is_gram(self, left, right) -> bool:
        """Whether the product ``left * right`` is ``X^T X``: ``left`` is the transpose of
        ``right`` (as :meth:`_transpose_key` proves it), so the product is symmetric."""
        if left.shape != (right.shape[1], right.shape[0]):
            return False
        return self._transpose_key(left) == right

    def _chain_factors(self, expr):
        """``(coefficient, factors)`` of a ``MatMul``: nested products flattened, ``A**-p``
        (``p`` at most :data:`MAX_EXPANDED_POWER`) and ``(A**-1)**p`` as ``p`` factors
        ``Inverse(A)``, and ``Inverse(A).T`` as ``Inverse(A.T)``."""
        coeff, mats = expr.as_coeff_matrices()
        factors = []
        for m in mats:
            if isinstance(m, MatMul):
                c, inner = self._chain_factors(m)
                coeff *= c
                factors.extend(inner)
                continue
            if isinstance(m, Transpose) and isinstance(m.arg, Inverse):
                m = Inverse(m.arg.arg.T)
            if isinstance(m, MatPow) and not isinstance(m, Inverse) and m.exp.is_Integer:
                p = int(m.exp)
                if -MAX_EXPANDED_POWER <= p < 0:
                    factors.extend([Inverse(m.base)] * -p)
                    continue
                if 0 < p <= MAX_EXPANDED_POWER and isinstance(m.base, Inverse):
                    factors.extend([m.base] * p)
                    continue
            factors.append(m)
        return coeff, factors

    def _inverse_only(self, expr) -> bool:
        """Whether ``expr`` is a product of inverses only (``A**-1``, ``-2*A**-1*B**-1``), which
        as a term of a sum would have to be formed explicitly."""
        if isinstance(expr, MatPow) and expr.exp.is_Integer and int(expr.exp) < 0:
            return True
        if isinstance(expr, MatMul):
            _, factors = self._chain_factors(expr)
            return all(isinstance(f, Inverse) for f in factors)
        return False

    def _print_MatMul(self, expr, **kwargs):
        coeff, factors = self._chain_factors(expr)
        for p, f in enumerate(factors):
            # X (A^-1 + M) Y -> X A^-1 Y + X M Y: the inverse then feeds a product, a solve
            if (len(factors) > 1 and isinstance(f, MatAdd)
                    and any(self._inverse_only(t) for t in f.args)):
                left, right = factors[:p], factors[p + 1:]
                total = MatAdd(*[MatMul(*left, t, *right) for t in f.args])
                value = self._mval(total)
                return value if coeff == 1 else self.as_float(self._print(coeff)) * value
        if coeff == 1 and tuple(factors) == expr.args:
            value = self._chain(factors)
        else:
            value = self._mval(_chain_key(factors))
        if coeff != 1:
            value = self.as_float(self._print(coeff)) * value
        return value

    def _chain(self, factors):
        """Print the product of ``factors`` in the cheapest order (see the module notes).

        ``cost[i, j]`` is the cheapest flop count of the product of factors
        ``i..j``, given what is already printed; ``how[i, j]`` says how it is
        formed.  Sub-chains are printed through the printer (``_mval`` of
        their ``MatMul``), so they are memoized and shared; only the whole
        chain is formed here.
        """
        m = len(factors)
        if m == 1:  # an unevaluated one-factor MatMul
            return self._mval(factors[0])
        routines = self.matrix_routines
        memo = self._memo
        for f in factors:
            if isinstance(f, Inverse):
                # every route needs the inverted matrix itself: printed first, its
                # products are "already computed" sub-chains for the rest of the chain
                self._mval(f.arg)
        rows = [_estimate(f.shape[0]) for f in factors]
        cols = [_estimate(f.shape[1]) for f in factors]
        inverse = [isinstance(f, Inverse) for f in factors]
        keys = {}

        def key(i, j):
            try:
                return keys[i, j]
            except KeyError:
                k = keys[i, j] = _chain_key(factors[i:j + 1])
                return k

        cost, how = {}, {}
        for i, f in enumerate(factors):
            # an inverse alone is only a value as an explicit inverse: priced as a solve with I
            cost[i, i] = routines.solve_cost(f.arg, rows[i], rows[i]) if inverse[i] else 0.0
            how[i, i] = ("leaf",)
        for length in range(2, m + 1):
            for i in range(m - length + 1):
                j = i + length - 1
                whole = length == m
                k = key(i, j)
                if not whole and k in memo:
                    cost[i, j], how[i, j] = 0.0, ("leaf",)
                    continue
                tk = self._transpose_key(k)
                if tk != k and tk in memo:
                    cost[i, j], how[i, j] = 0.0, ("transpose", tk)
                    continue
                best, choice = _INF, None
                for s in range(i, j):
                    if self._is_gram(key(i, s), key(s + 1, j)):  # X^T X: one ?syrk
                        c = cost[s + 1, j] + syrk_cost(cols[j], cols[s])
                    else:
                        c = cost[i, s] + cost[s + 1, j] + gemm_cost(rows[i], cols[s], cols[j])
                    if c < best:
                        best, choice = c, ("split", s)
                if inverse[i]:
                    c = cost[i + 1, j] + routines.solve_cost(factors[i].arg, rows[i], cols[j])
                    if c < best:
                        best, choice = c, ("left",)
                if inverse[j]:
                    c = cost[i, j - 1] + routines.solve_cost(factors[j].arg, rows[j], rows[i])
                    if c < best:
                        best, choice = c, ("right",)
                for p in range(i + 1, j):
                    if not inverse[p] or routines.structure(factors[p].arg) != POSITIVE_DEFINITE:
                        continue
                    a, kk = factors[p].arg, rows[p]
                    x_t, y = self._transpose_key(key(i, p - 1)), key(p + 1, j)
                    c = cost[p + 1, j] + routines.half_solve_cost(a, y, kk, cols[j])
                    if x_t != y:
                        c += cost[i, p - 1] + routines.half_solve_cost(a, x_t, kk, rows[i])
                    c += syrk_cost(cols[j], kk) if x_t == y else gemm_cost(rows[i], kk, cols[j])
                    if c < best:
                        best, choice = c, ("cholesky_split", p)
                cost[i, j], how[i, j] = best, choice
        return self._form_chain(factors, how[0, m - 1], key)

    def _form_chain(self, factors, how, key):
        """Build the whole chain as ``how`` says (sub-chains come from the printer)."""
        routines = self.matrix_routines
        m = len(factors)
        kind = how[0]
        if kind == "transpose":
            return self._memo[how[1]].T
        if kind == "split":
            s = how[1]
            right = self._mval(key(s + 1, m - 1))
            if self._is_gram(key(0, s), key(s + 1, m - 1)):
                return symmetric_product(right)
            return pt.dot(self._mval(key(0, s)), right)
        if kind == "left":
            a = factors[0].arg
            return routines.solve_left(a, self._mval(a), self._mval(key(1, m - 1)))
        if kind == "right":
            a = factors[-1].arg
            return routines.solve_right(a, self._mval(a), self._mval(key(0, m - 2)))
        if kind == "cholesky_split":
            p = how[1]
            a = factors[p].arg
            av = self._mval(a)
            x_t, y = self._transpose_key(key(0, p - 1)), key(p + 1, m - 1)
            wy = routines.half_solve(a, av, y, self._mval(y))
            if x_t == y:  # X S^-1 X^T = W^T W with W = L^-1 X^T: symmetric
                return symmetric_product(wy)
            wx = routines.half_solve(a, av, x_t, self._mval(key(0, p - 1)).T)
            return pt.dot(wx.T, wy)
        raise AssertionError(f"unknown chain step {how!r}")  # pragma: no cover

    # ------------------------------------------------------------------ inverses and powers
    def _print_Inverse(self, expr, **kwargs):
        """An inverse that is not a factor of a product: explicit, by the routine its structure
        selects (a diagonal matrix's reciprocal diagonal, an orthogonal matrix's transpose,
        a triangular or Cholesky solve with the identity, else PyTensor's ``inv``)."""
        a = expr.arg
        return self.matrix_routines.inverse(a, self._mval(a))

    def _print_MatPow(self, expr, **kwargs):
        base, exp = expr.args
        if not exp.is_Integer:
            raise UnsupportedExpressionError(
                expr, f"only integer matrix powers have a translation; {exp} is not an integer")
        p = int(exp)
        if p == 0:
            return pt.eye(self._dim(base.rows), dtype=self.float_dtype)
        if p < 0:
            value = self.matrix_routines.inverse(base, self._mval(base))
            p = -p
        else:
            value = self._mval(base)
        return value if p == 1 else ptl.matrix_power(value, p)

    def _print_Determinant(self, expr, **kwargs):
        a = expr.arg
        return self.matrix_routines.det(a, self._mval(a))

    def _print_Trace(self, expr, **kwargs):
        return pt.sum(pt.diagonal(self._mval(expr.arg)))

    # ------------------------------------------------------------------ elements, slices, blocks
    def _print_MatrixElement(self, expr, **kwargs):
        parent = self._mval(expr.parent)
        return parent[self._dim(expr.i), self._dim(expr.j)]

    def _slice(self, bounds):
        start, stop, step = bounds
        return slice(self._dim(start), self._dim(stop), self._dim(step))

    def _print_MatrixSlice(self, expr, **kwargs):
        parent = self._mval(expr.parent)
        return parent[self._slice(expr.rowslice), self._slice(expr.colslice)]

    def _print_BlockMatrix(self, expr, **kwargs):
        blocks = expr.blocks
        rows = []
        for r in range(blocks.rows):
            row = [self._mval(blocks[r, c]) for c in range(blocks.cols)]
            rows.append(row[0] if len(row) == 1 else pt.concatenate(row, axis=1))
        return rows[0] if len(rows) == 1 else pt.concatenate(rows, axis=0)

    def _print_BlockDiagMatrix(self, expr, **kwargs):
        return ptl.block_diag(*[self._mval(b) for b in expr.args])

    def _print_KroneckerProduct(self, expr, **kwargs):
        return functools.reduce(ptl.kron, [self._mval(a) for a in expr.args])

    # ------------------------------------------------------------------ diagonals and vectors
    def _print_DiagMatrix(self, expr, **kwargs):
        """``DiagMatrix(v)`` of an ``n x 1`` or ``1 x n`` vector: the ``n x n`` diagonal matrix."""
        return pt.diag(pt.flatten(self._mval(expr.args[0])))

    def _print_DiagonalMatrix(self, expr, **kwargs):
        """``DiagonalMatrix(X)``: ``X`` with its off-diagonal entries taken as zero."""
        x = self._mval(expr.arg)
        rows, cols = expr.arg.shape
        if rows == cols:
            return pt.diag(pt.diagonal(x))
        return x * pt.eye(self._dim(rows), self._dim(cols), dtype=x.dtype)

    def _print_DiagonalOf(self, expr, **kwargs):
        """``DiagonalOf(X)``: the diagonal of ``X`` as a ``min(rows, cols) x 1`` column."""
        return pt.diagonal(self._mval(expr.arg))[:, None]

    def _print_DotProduct(self, expr, **kwargs):
        a, b = expr.args
        return pt.dot(pt.flatten(self._mval(a)), pt.flatten(self._mval(b)))

