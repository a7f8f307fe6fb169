"""sympy_theano_printer: compile SymPy expressions into fast, differentiable PyTensor programs.

The public names follow ``sympy.printing.theanocode`` (Theano's continuation
is PyTensor, which this package uses as its engine):

* :class:`TheanoPrinter` (alias :class:`PyTensorPrinter`): the printer;
* :func:`theano_code`, :func:`theano_function`, :func:`dim_handling`,
  :data:`global_cache`: the theanocode-compatible API (aliases
  :func:`pytensor_code`, :func:`pytensor_function`);
* :data:`MAPPING`: the table of SymPy classes and PyTensor callables;
* :class:`UnsupportedExpressionError`, :class:`ShapeError`: the errors.
"""
from .errors import ShapeError, UnsupportedExpressionError
from .mapping import MAPPING
from .printer import PyTensorPrinter, TheanoPrinter
from .theanocode import (
    CompiledFunction,
    dim_handling,
    global_cache,
    pytensor_code,
    pytensor_function,
    theano_code,
    theano_function,
)

__version__ = "0.1.0"

__all__ = [
    "MAPPING",
    "CompiledFunction",
    "PyTensorPrinter",
    "ShapeError",
    "TheanoPrinter",
    "UnsupportedExpressionError",
    "dim_handling",
    "global_cache",
    "pytensor_code",
    "pytensor_function",
    "theano_code",
    "theano_function",
]
