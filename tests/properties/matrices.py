"""Matrix-expression cases: random ``MatAdd``/``MatMul``/``Transpose``/``Inverse`` trees and their references.

Strategy
    :func:`matrix_cases` draws a tree of a random shape over ``MatrixSymbol``
    inputs (dimensions 1 to 4): sums, products (a random inner dimension),
    transposes, scalar multiples, ``Identity`` terms, and inverses of two
    well-conditioned kinds: an input ``W{n}`` whose array is strictly
    diagonally dominant, and ``S*S.T + I`` for any subtree ``S`` (symmetric
    positive definite, eigenvalues at least 1).  SymPy's canonical form of the
    tree (``A*A`` becomes ``A**2``, ``W.I*W.I`` becomes ``W**-2``, ``-A``
    becomes ``-1*A``) is what is compiled and evaluated.  Entries are 0 or
    floats of the dtype with magnitudes in [2**-10, 2].

Reference
    Each node is evaluated with mpmath matrices at :data:`~properties.reference.DPS`
    = 30 digits (``mpmath.matrix``, ``mpmath.inverse``), and, independently,
    with NumPy in float64 (``@``, ``numpy.linalg.inv``, ``.T``).

Tolerance
    A componentwise first-order error bound, node by node, in units of the
    dtype's ``eps`` (Higham, *Accuracy and Stability of Numerical Algorithms*,
    2nd ed.: Lemma 3.4/Thm 3.5 for sums and products, section 14.1 (eq. 14.3)
    for the first-order perturbation ``d(A^-1) = -A^-1 dA A^-1`` and the
    componentwise backward error of an LU/Cholesky solve, ``|dA| <= c n |A|``
    for the well-conditioned, diagonally dominant or positive definite
    matrices drawn here).  With ``|V|`` the elementwise absolute value of a
    node's exact value and ``E`` its error bound:

    * input, ``Identity``: ``E = 0`` (the arrays are exact values of the dtype);
    * ``c * M``: ``E = |c| E_M + 2 |c M|`` (the rounding of ``c`` and of the product);
    * sum of ``n`` terms: ``E = sum E_i + (n - 1) sum |V_i|``;
    * product ``A_1 ... A_m`` (any parenthesization the printer picks):
      ``E = sum_i |A_1| .. E_i .. |A_m| + (K + m) |A_1| ... |A_m|``, ``K`` the sum of
      the inner dimensions;
    * inverse of an ``n x n`` matrix: ``E = |A^-1| (E_A + 4 n |A|) |A^-1|``;
    * ``M**k``: the product of ``|k|`` copies of ``M`` (``k > 0``) or of ``M^-1``.

    The compiled value must satisfy ``|computed - reference| <= MARGIN * E * eps``
    plus one rounding of the reference (second-order terms are in ``MARGIN``);
    NumPy's float64 evaluation must satisfy the same bound with float64's eps,
    which checks the bound against a standard implementation.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from .reference import DPS

#: Dimensions of the matrices drawn (1 makes PyTensor's broadcastable dimensions appear).
DIMENSIONS = (1, 2, 3, 4, 2, 3)
#: Smallest nonzero magnitude of an entry: products of a few entries stay far above the
#: underflow threshold of float32 (JAX on CPU and XLA on GPUs flush subnormal results to zero).
MIN_MAGNITUDE = 2.0**-10
#: Factor on the first-order bound, for second-order terms.
MATRIX_MARGIN = 2.0
#: Backward-error factor of a solve (times ``n``) for the matrices the strategy inverts.
SOLVE_BACKWARD = 4.0


def symbol(letter, rows, cols):
    """The input ``{letter}{rows}x{cols}``: one name per shape, so two trees can share it."""
    return sp.MatrixSymbol(f"{letter}{rows}x{cols}", rows, cols)


def _tree(draw, rows, cols, depth):
    sub = functools.partial(_tree, draw)
    kinds = ["leaf", "add", "mul", "transpose", "scale", "mul"]
    if rows == cols:
        kinds += ["inverse", "identity"]
    kind = draw(st.sampled_from(kinds)) if depth > 0 else "leaf"
    if kind == "leaf":
        return symbol(draw(st.sampled_from("AB")), rows, cols)
    if kind == "add":
        return sub(rows, cols, depth - 1) + sub(rows, cols, depth - 1)
    if kind == "identity":
        return sub(rows, cols, depth - 1) + draw(st.sampled_from((1, -2))) * sp.Identity(rows)
    if kind == "mul":
        inner = draw(st.sampled_from(DIMENSIONS))
        return sub(rows, inner, depth - 1) * sub(inner, cols, depth - 1)
    if kind == "transpose":
        return sub(cols, rows, depth - 1).T
    if kind == "scale":
        c = draw(st.sampled_from((sp.Integer(-1), sp.Integer(3), sp.Rational(1, 3), sp.Float("0.1"))))
        return c * sub(rows, cols, depth - 1)
    # inverse of a well-conditioned matrix
    if draw(st.booleans()):
        return symbol("W", rows, rows).I
    s = sub(rows, draw(st.sampled_from(DIMENSIONS)), depth - 1)
    return (s * s.T + sp.Identity(rows)).I


def _values(draw, sym, dtype):
    r, c = (int(d) for d in sym.shape)
    width = 32 if np.dtype(dtype) == np.float32 else 64
    magnitude = st.floats(MIN_MAGNITUDE, 2, width=width)
    entries = st.one_of(st.just(0.0), magnitude, magnitude.map(lambda v: -v))
    a = draw(arrays(dtype, (r, c), elements=entries))
    a = np.asarray(a, dtype=dtype) + 0.0  # no -0.0
    if sym.name.startswith("W"):  # strictly diagonally dominant: |a_ii| > sum of the others in its row
        off = np.abs(a).sum(axis=1) - np.abs(np.diag(a))
        d = np.where(np.diag(a) < 0, -1.0, 1.0) * (off + 0.5 + np.abs(np.diag(a)))
        a[np.diag_indices(r)] = d.astype(dtype)
    return a


@dataclass(frozen=True)
class MatrixCase:
    """Matrix expressions over shared ``MatrixSymbol`` inputs, with values and references.

    ``exprs[k]`` is an output; ``symbols`` the inputs (sorted by name);
    ``values[s]`` the array of input ``s`` (dtype ``dtype``); :func:`evaluate`
    gives the reference and bound of each output.
    """

    exprs: tuple
    symbols: tuple
    values: dict
    dtype: str

    def arrays(self):
        return [self.values[s] for s in self.symbols]

    def __repr__(self):
        vals = {s.name: self.values[s].tolist() for s in self.symbols}
        return f"MatrixCase({[sp.srepr(e) for e in self.exprs]}, values={vals}, dtype={self.dtype!r})"


@st.composite
def matrix_cases(draw, dtype, min_size=1, max_size=4, depth=3):
    """A :class:`MatrixCase` with ``min_size`` to ``max_size`` outputs of random shapes."""
    exprs = []
    for _ in range(draw(st.integers(min_size, max_size))):
        rows, cols = draw(st.sampled_from(DIMENSIONS)), draw(st.sampled_from(DIMENSIONS))
        e = _tree(draw, rows, cols, draw(st.integers(1, depth)))
        if e.free_symbols:
            exprs.append(e)
    assume(exprs)
    symbols = tuple(sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name))
    values = {s: _values(draw, s, dtype) for s in symbols}
    return MatrixCase(tuple(exprs), symbols, values, str(np.dtype(dtype)))


# ---------------------------------------------------------------------------- references
@dataclass
class Reference:
    """A node's exact value (mpmath, 30 digits), its float64 NumPy value, and its bound ``E`` (eps units)."""

    exact: mpmath.matrix
    numpy: np.ndarray
    bound: np.ndarray

    @property
    def magnitude(self):
        """``|V|`` as a float64 array."""
        return np.abs(to_array(self.exact))


def to_array(m):
    """An mpmath matrix as a float64 array."""
    return np.array([[float(m[i, j]) for j in range(m.cols)] for i in range(m.rows)], dtype=np.float64)


def _mp(a):
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.asarray(a)])


def _product(refs):
    exact = functools.reduce(lambda a, b: a * b, [r.exact for r in refs])
    num = functools.reduce(lambda a, b: a @ b, [r.numpy for r in refs])
    mags = [r.magnitude for r in refs]
    inner = sum(int(m.shape[1]) for m in mags[:-1])
    full = functools.reduce(lambda a, b: a @ b, mags)
    bound = (inner + len(refs)) * full
    for i, r in enumerate(refs):
        terms = mags[:i] + [r.bound] + mags[i + 1:]
        bound = bound + functools.reduce(lambda a, b: a @ b, terms)
    return Reference(exact, num, bound)


def _inverse(ref):
    n = ref.exact.rows
    exact = mpmath.inverse(ref.exact)
    num = np.linalg.inv(ref.numpy)
    inv_mag = np.abs(to_array(exact))
    bound = inv_mag @ (ref.bound + SOLVE_BACKWARD * n * ref.magnitude) @ inv_mag
    return Reference(exact, num, bound)


def evaluate(expr, values, memo=None):
    """:class:`Reference` of the matrix expression ``expr`` with inputs ``values`` (symbol -> array).

    Raises
    ------
    NotImplementedError
        ``expr`` holds a class this reference does not evaluate.
    """
    memo = {} if memo is None else memo
    if expr in memo:
        return memo[expr]
    with mpmath.workdps(DPS):
        ref = _evaluate(expr, values, memo)
    memo[expr] = ref
    return ref


def _evaluate(expr, values, memo):
    rows, cols = (int(d) for d in expr.shape)
    if isinstance(expr, sp.MatrixSymbol):
        a = np.asarray(values[expr], dtype=np.float64)
        return Reference(_mp(a), a, np.zeros((rows, cols)))
    if isinstance(expr, sp.Identity):
        return Reference(mpmath.eye(rows), np.eye(rows), np.zeros((rows, cols)))
    if isinstance(expr, sp.ZeroMatrix):
        return Reference(mpmath.zeros(rows, cols), np.zeros((rows, cols)), np.zeros((rows, cols)))
    if isinstance(expr, sp.Transpose):
        r = evaluate(expr.arg, values, memo)
        return Reference(r.exact.T, r.numpy.T, r.bound.T)
    if isinstance(expr, sp.Inverse):
        return _inverse(evaluate(expr.arg, values, memo))
    if isinstance(expr, sp.MatPow):
        k = expr.exp
        if not k.is_Integer or k == 0:
            raise NotImplementedError(f"MatPow with exponent {k}")
        base = evaluate(expr.base, values, memo)
        factor = base if k > 0 else _inverse(base)
        return factor if abs(int(k)) == 1 else _product([factor] * abs(int(k)))
    if isinstance(expr, sp.MatAdd):
        refs = [evaluate(a, values, memo) for a in expr.args]
        exact = functools.reduce(lambda a, b: a + b, [r.exact for r in refs])
        num = functools.reduce(lambda a, b: a + b, [r.numpy for r in refs])
        bound = sum(r.bound for r in refs) + (len(refs) - 1) * sum(r.magnitude for r in refs)
        return Reference(exact, num, bound)
    if isinstance(expr, sp.MatMul):
        scalars = [a for a in expr.args if not a.is_Matrix]
        mats = [a for a in expr.args if a.is_Matrix]
        ref = _product([evaluate(a, values, memo) for a in mats]) if len(mats) > 1 \
            else evaluate(mats[0], values, memo)
        if not scalars:
            return ref
        c = sp.Mul(*scalars)
        if not c.is_Number:
            raise NotImplementedError(f"a scalar factor that is not a number: {c}")
        cm = mpmath.mpf(c.p) / c.q if c.is_Rational else mpmath.mpf(c._mpf_)
        exact = ref.exact * cm
        return Reference(exact, ref.numpy * float(cm), abs(float(cm)) * ref.bound + 2 * np.abs(to_array(exact)))
    raise NotImplementedError(f"the matrix reference cannot evaluate {type(expr).__name__}: {expr}")


def assert_matrix_close(values, ref, dtype, label):
    """``|values - reference| <= MATRIX_MARGIN * E * eps + eps * |reference|`` element by element."""
    values = np.asarray(values)
    dtype = np.dtype(dtype)
    exact = to_array(ref.exact)
    assert values.dtype == dtype, f"{label}: dtype {values.dtype}, expected {dtype}"
    assert values.shape == exact.shape, f"{label}: shape {values.shape}, expected {exact.shape}"
    eps = float(np.finfo(dtype).eps)
    allowed = MATRIX_MARGIN * ref.bound * eps + eps * np.abs(exact) + float(np.finfo(dtype).smallest_subnormal)
    err = np.abs(values.astype(np.float64) - exact)
    bad = ~(err <= allowed)
    assert not bad.any(), (f"{label}: entries {np.argwhere(bad).tolist()} off: got {values[bad]}, "
                           f"reference {exact[bad]}, allowed {allowed[bad]}")
