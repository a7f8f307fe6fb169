"""Special functions: ``_print_<Class>`` methods and formulas for SymPy's special functions.

The simple "apply a PyTensor op to the printed arguments" entries live in the
mapping table (:mod:`sympy_theano_printer.mapping`); this module holds what
needs more than that (argument tuples such as ``hyper``'s, integer orders,
stable formulas where PyTensor has no op).
"""
from __future__ import annotations

__all__ = ["SpecialFunctionPrinterMixin"]


class SpecialFunctionPrinterMixin:
    """``_print_<Class>`` methods for special functions, mixed into :class:`TheanoPrinter`."""
