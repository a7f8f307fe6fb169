"""sympy_theano_printer: compile SymPy expressions into fast, differentiable PyTensor programs.

The public names follow ``sympy.printing.theanocode`` (Theano's continuation
is PyTensor, which this package uses as its engine):

* :class:`TheanoPrinter` (alias :class:`PyTensorPrinter`): the printer;
* :func:`theano_code`, :func:`theano_function`, :func:`dim_handling`,
  :data:`global_cache`: the theanocode-compatible API (aliases
  :func:`pytensor_code`, :func:`pytensor_function`);
* :data:`MAPPING`: the table of SymPy classes and PyTensor callables;
* :class:`UnsupportedExpressionError`, :class:`ShapeError`: the errors;
* :func:`lambdify` (and ``sympy.lambdify(..., modules='theano')``, registered
  on import; :func:`unregister_lambdify` undoes it), :func:`ufuncify`
  (a ``numpy.ufunc`` with no C build), :class:`NotElementwiseError`;
* :class:`SymPyScalarOp`: the fallback scalar op generated from a SymPy
  expression (used automatically for functions PyTensor has no op for);
* :func:`expand_compute` (and ``expr.expand(compute=True)``), :class:`xlogy`,
  :func:`optimize_outputs` (``theano_function(..., optimize=True)``).
"""
from .errors import ShapeError, UnsupportedExpressionError
from .expand import expand_compute, xlogy
from .fallback import SymPyScalarOp
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
from .optimize import optimize_outputs
from .ufuncify import NotElementwiseError, ufuncify
from .lambdify import lambdify, register as register_lambdify, unregister as unregister_lambdify
from .lambdify import register_on_import as _register_lambdify_on_import

__version__ = "0.1.0"

_register_lambdify_on_import()  # sympy.lambdify(..., modules='theano'); see sympy_theano_printer.lambdify

__all__ = [
    "MAPPING",
    "CompiledFunction",
    "NotElementwiseError",
    "PyTensorPrinter",
    "ShapeError",
    "SymPyScalarOp",
    "TheanoPrinter",
    "UnsupportedExpressionError",
    "dim_handling",
    "expand_compute",
    "global_cache",
    "lambdify",
    "optimize_outputs",
    "pytensor_code",
    "pytensor_function",
    "register_lambdify",
    "theano_code",
    "theano_function",
    "ufuncify",
    "unregister_lambdify",
    "xlogy",
]
