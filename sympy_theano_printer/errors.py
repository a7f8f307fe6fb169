"""Exceptions raised by the printer, each naming the SymPy object at fault."""
from __future__ import annotations


class UnsupportedExpressionError(NotImplementedError):
    """A SymPy object has no translation to PyTensor.

    Raised by :class:`~sympy_theano_printer.printer.TheanoPrinter` with a
    message that names the class and the three ways to add a translation.
    It subclasses :class:`NotImplementedError`, which is what SymPy's printers
    raise for the same situation.

    Attributes
    ----------
    expr : sympy.Basic
        The offending expression.
    """

    def __init__(self, expr, reason: str | None = None):
        self.expr = expr
        cls = type(expr)
        name = cls.__name__
        text = f"TheanoPrinter cannot translate {name} (in {expr!r})"
        if reason:
            text += f": {reason}"
        text += (
            ". To add a translation, either add an entry "
            f"`MAPPING[{cls.__module__}.{name}] = <pytensor callable>` in "
            "sympy_theano_printer.mapping (or pass settings={'mapping': {...}}), "
            f"or define `_print_{name}(self, expr, **kwargs)` on a TheanoPrinter "
            f"subclass, or give {name} a method `_theano(self, printer)` that "
            "returns a PyTensor variable."
        )
        super().__init__(text)


class ShapeError(ValueError):
    """A shape, dimension count or dtype contradicts a symbol's declaration.

    Raised when ``broadcastables``/``dims`` contradict a ``MatrixSymbol``'s
    shape, or when an array passed at call time does not fit the symbol it is
    bound to.  Subclasses :class:`ValueError`.

    Attributes
    ----------
    symbol : sympy.Basic
        The symbol (``Symbol``, ``MatrixSymbol``, ...) whose declaration is
        contradicted.
    """

    def __init__(self, symbol, message: str):
        self.symbol = symbol
        super().__init__(message)
