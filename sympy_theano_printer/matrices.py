"""Matrix expressions: MatrixSymbol, products, sums, transposes, explicit matrices.

:class:`MatrixPrinterMixin` holds the ``_print_<Class>`` methods of
:class:`~sympy_theano_printer.printer.TheanoPrinter` for SymPy's matrix
classes.  A ``MatrixSymbol`` becomes a 2-d input whose static shape is known
where its dimensions are integers (``None`` where they are symbolic), so
PyTensor checks the arrays passed at call time against it.
"""
from __future__ import annotations

import pytensor.tensor as pt
import pytensor.tensor.nlinalg as nlinalg
import sympy


def _static_dim(n):
    return int(n) if getattr(n, "is_Integer", False) or isinstance(n, int) else None


class MatrixPrinterMixin:
    """``_print_<Class>`` methods for SymPy matrix expressions (mixed into the printer)."""

    def _print_MatrixSymbol(self, X, **kwargs):
        shape = tuple(_static_dim(n) for n in X.shape)
        bc = self._broadcastables.get(X)
        self.check_broadcastable(X, bc, shape)
        if bc is None:
            bc = tuple(n == 1 for n in shape)
        return self._get_or_create(
            X, dtype=self._dtypes.get(X), broadcastable=tuple(bc), shape=shape
        )

    def _print_MatrixBase(self, M, **kwargs):
        """An explicit ``Matrix``: its entries printed and stacked into a 2-d tensor."""
        rows = [[self.as_tensor(self._print(M[i, j])) for j in range(M.cols)] for i in range(M.rows)]
        return pt.stacklists(rows)

    def as_tensor(self, value):
        return pt.as_tensor_variable(value)

    def _print_MatAdd(self, expr, **kwargs):
        return pt.add(*[self._print(a) for a in expr.args])

    def _print_MatMul(self, expr, **kwargs):
        coeff, factors = expr.as_coeff_matrices()
        result = self._print(factors[0])
        for f in factors[1:]:
            result = pt.dot(result, self._print(f))
        if coeff != 1:
            result = self._print(coeff) * result
        return result

    def _print_HadamardProduct(self, expr, **kwargs):
        return pt.mul(*[self._print(a) for a in expr.args])

    def _print_Transpose(self, expr, **kwargs):
        return self._print(expr.arg).T

    def _print_MatrixElement(self, expr, **kwargs):
        parent = self._print(expr.parent)
        return parent[self._index(expr.i), self._index(expr.j)]

    def _index(self, i):
        if getattr(i, "is_Integer", False):
            return int(i)
        return pt.cast(self._print(i), "int64")

    def _print_Identity(self, expr, **kwargs):
        n = expr.rows
        return pt.eye(int(n) if n.is_Integer else pt.cast(self._print(n), "int64"), dtype=self.float_dtype)

    def _print_ZeroMatrix(self, expr, **kwargs):
        return pt.zeros(tuple(self._dim(n) for n in expr.shape), dtype=self.float_dtype)

    def _print_OneMatrix(self, expr, **kwargs):
        return pt.ones(tuple(self._dim(n) for n in expr.shape), dtype=self.float_dtype)

    def _dim(self, n):
        return int(n) if n.is_Integer else pt.cast(self._print(n), "int64")

    def _print_Inverse(self, expr, **kwargs):
        return nlinalg.matrix_inverse(self._print(expr.arg))

    def _print_Determinant(self, expr, **kwargs):
        return nlinalg.det(self._print(expr.arg))

    def _print_Trace(self, expr, **kwargs):
        return nlinalg.trace(self._print(expr.arg))

    def _print_BlockMatrix(self, expr, **kwargs):
        blocks = expr.blocks
        rows = [pt.concatenate([self._print(blocks[r, c]) for c in range(blocks.cols)], axis=1)
                for r in range(blocks.rows)]
        return pt.concatenate(rows, axis=0)


__all__ = ["MatrixPrinterMixin", "sympy"]
