"""A drop-in replacement for ``sympy.printing.theanocode``, on PyTensor.

Code written against ``sympy.printing.theanocode`` (or ``aesaracode``) works by
changing its import line only::

    from sympy_theano_printer import theano_code, theano_function, dim_handling

The differences are improvements: constants are typed (no float32 autocast,
no integer truncation of ``1/n``), ``Piecewise`` has a NaN-free gradient,
printing does not recurse per level of the expression, and a missing symbol or
an array of the wrong shape raises an error that names the SymPy symbol.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.traversal import graph_inputs
from sympy.core.basic import Basic
from sympy.matrices import MatrixBase
from sympy.utilities.iterables import is_sequence

from .backend import choose_mode, graph_depth, recursion_headroom
from .errors import ShapeError
from .printer import TheanoPrinter

__all__ = [
    "CompiledFunction",
    "dim_handling",
    "global_cache",
    "theano_code",
    "theano_function",
]

#: The symbol cache :func:`theano_code` uses when given none (SymPy's ``global_cache``).
global_cache: dict[Any, Any] = {}


def theano_code(expr, cache=None, **kwargs):
    """Convert a SymPy expression into a PyTensor graph variable.

    Parameters
    ----------
    expr : sympy.Basic (or Matrix, list, tuple, slice)
        The expression.
    cache : dict, optional
        Symbol cache (see :class:`~sympy_theano_printer.printer.TheanoPrinter`);
        default :data:`global_cache`.
    dtypes : dict, optional
        ``{symbol: dtype}``, passed to :meth:`TheanoPrinter.doprint`.
    broadcastables : dict, optional
        ``{symbol: tuple of bool}``, passed to :meth:`TheanoPrinter.doprint`.
    settings : dict, optional
        Printer settings (``mapping``, ``float_dtype``, ``safe_piecewise_gradient``).

    Returns
    -------
    pytensor.tensor.TensorVariable

    Raises
    ------
    UnsupportedExpressionError
        Some subexpression has no translation.
    ShapeError
        A broadcastable pattern contradicts a ``MatrixSymbol``'s shape.

    Examples
    --------
    >>> import sympy
    >>> from sympy_theano_printer import theano_code
    >>> x = sympy.Symbol("x")
    >>> v = theano_code(sympy.sqrt(x) + 1, cache={})
    >>> v.dtype
    'float64'
    >>> float(v.eval({v.owner.inputs[0].owner.inputs[0]: 4.0}))  # doctest: +SKIP
    3.0
    """
    if cache is None:
        cache = global_cache
    settings = kwargs.pop("settings", None)
    return TheanoPrinter(settings=settings, cache=cache).doprint(expr, **kwargs)


def dim_handling(inputs, dim=None, dims=None, broadcastables=None):
    """The ``broadcastables`` argument of :func:`theano_code` from :func:`theano_function`'s options.

    Parameters
    ----------
    inputs : sequence of sympy.Symbol
        The input symbols.
    dim : int, optional
        Common number of dimensions of all inputs; wins over the others.
    dims : dict, optional
        ``{symbol: ndim}``; wins over ``broadcastables``.  As in SymPy, a symbol
        with fewer dimensions than the largest gets trailing broadcastable
        dimensions, so that all inputs broadcast together.
    broadcastables : dict, optional
        Returned unchanged when neither ``dim`` nor ``dims`` is given.

    Returns
    -------
    dict
        ``{symbol: tuple of bool}``.
    """
    if dim is not None:
        return dict.fromkeys(inputs, (False,) * dim)
    if dims is not None:
        maxdim = max(dims.values())
        return {s: (False,) * d + (True,) * (maxdim - d) for s, d in dims.items()}
    if broadcastables is not None:
        return broadcastables
    return {}


class CompiledFunction:
    """What :func:`theano_function` returns: a callable over a compiled PyTensor function.

    PyTensor 3's ``Function`` accepts no new attributes, so SymPy's
    ``.theano_function`` attribute lives on this thin wrapper.

    Calls are serialized by a lock: a PyTensor ``Function`` keeps its inputs
    and outputs in storage cells shared by all calls (``input_storage``,
    ``output_storage``), so two threads calling it at once could each run on
    the other's inputs.  None of PyTensor's back ends releases the GIL inside
    a call, so the lock costs no parallelism.

    Calling it with one array (or number) per input returns one NumPy array
    for a single output, a list of arrays for several; with ``scalar=True``,
    0-d outputs come back as NumPy scalars.

    Attributes
    ----------
    theano_function, pytensor_function, __wrapped__ : pytensor.compile.executor.Function
        The compiled function.
    inputs : list
        The SymPy input symbols, in call order.
    """

    def __init__(self, fn, inputs, scalar, single):
        self.theano_function = self.pytensor_function = self.__wrapped__ = fn
        self.inputs = list(inputs)
        self.scalar = scalar
        self.single = single
        self.__doc__ = fn.__doc__
        self._is_0d = [o.variable.ndim == 0 for o in fn.maker.outputs]
        self._lock = threading.Lock()

    def __call__(self, *args):
        fn = self.theano_function
        try:
            with self._lock:
                out = fn(*args)
        except (TypeError, ValueError) as err:
            self._explain_bad_input(args, err)
            raise
        if not self.scalar or not any(self._is_0d):
            return out
        if self.single:
            return out[()] if self._is_0d[0] else out
        return [o[()] if z else o for o, z in zip(out, self._is_0d)]

    def _explain_bad_input(self, args, err):
        """Re-raise an input error of PyTensor as a :class:`ShapeError` naming the symbol."""
        if len(args) != len(self.inputs):
            raise TypeError(
                f"this function takes {len(self.inputs)} arguments "
                f"({', '.join(map(str, self.inputs))}), got {len(args)}"
            ) from err
        for symbol, value, inp in zip(self.inputs, args, self.theano_function.maker.inputs):
            ttype = inp.variable.type
            arr = np.asarray(value)
            problem = None
            if arr.ndim != ttype.ndim:
                problem = f"{ttype.ndim} dimensions, but the array has {arr.ndim} (shape {arr.shape})"
            elif any(s is not None and s != n for s, n in zip(ttype.shape, arr.shape)):
                problem = f"shape {ttype.shape}, but the array has shape {arr.shape}"
            elif not np.can_cast(arr.dtype, ttype.dtype, casting="same_kind") or (
                arr.dtype.kind == "f" and np.dtype(ttype.dtype).kind == "f"
                and arr.dtype.itemsize > np.dtype(ttype.dtype).itemsize
            ):
                problem = (f"dtype {ttype.dtype}, but the array is {arr.dtype}; pass "
                           f"{ttype.dtype} data, declare dtypes={{{symbol}: '{arr.dtype}'}}, "
                           "or compile with allow_input_downcast=True")
            if problem:
                raise ShapeError(
                    symbol, f"argument {symbol} ({type(symbol).__name__}) expects {problem}"
                ) from err

    def __repr__(self):
        return f"<CompiledFunction of ({', '.join(map(str, self.inputs))})>"


def theano_function(inputs, outputs, scalar=False, *, dim=None, dims=None,
                    broadcastables=None, dtypes=None, cache=None, assumptions=None, optimize=False,
                    **kwargs):
    """Compile SymPy expressions into a callable through PyTensor.

    Parameters
    ----------
    inputs : sequence of sympy.Symbol, MatrixSymbol or applied undefined function
        The arguments of the compiled function, in order.
    outputs : sympy expression or sequence of them
        What it computes.  Each may be a scalar expression, an explicit
        ``Matrix`` or a matrix expression.  The free symbols of every output
        must be among ``inputs``.
    scalar : bool
        Return 0-d outputs as NumPy scalars instead of 0-d arrays.
    dim, dims, broadcastables :
        Dimensions of the inputs, see :func:`dim_handling`.  Default: 0-d
        (scalar) inputs; ``MatrixSymbol`` inputs are 2-d.
    dtypes : dict, optional
        ``{symbol: dtype}`` (default ``'floatX'``, float64).
    cache : dict, optional
        Symbol cache; default a new one for this call.
    assumptions : sympy Boolean, optional
        Facts about the inputs (``Q.positive_definite(S) & Q.fullrank(H)``)
        that the printer may use to choose routines; facts given with
        ``sympy.assuming`` count too.
    optimize : bool or "fast"
        Rewrite the outputs with SymPy before printing
        (:func:`~sympy_theano_printer.optimize.optimize_outputs`):
        :func:`~sympy_theano_printer.expand.expand_compute`, ``simplify``,
        ``cse`` across all outputs and Horner/product forms; the candidate
        whose rewritten PyTensor graph has the fewest scalar operations (then
        apply nodes) under ``mode`` is compiled, the outputs as given being one
        candidate.  True also applies the accuracy rewrites (``log1p``,
        ``expm1``, ``hypot``, ``xlogy``, ...) whatever they cost; ``"fast"``
        keeps them only where they are cheaper.  Costs the SymPy work
        (``simplify`` dominates) plus 50-100 ms per candidate (4 candidates);
        values are unchanged up to rounding.  Scalar outputs only; matrix
        outputs pass through.
    **kwargs
        Passed to :func:`pytensor.function` (``mode=``, ``on_unused_input=``,
        ``allow_input_downcast=``, ...).  Without ``mode``, a graph of more than
        ``backend.LARGE_GRAPH_NODES`` nodes is compiled with the C back end.

    Returns
    -------
    CompiledFunction
        Call it with one array per input.  A single output (given alone or as
        a one-element list) returns one array, several outputs a list.  Its
        ``theano_function`` attribute is the ``pytensor`` ``Function``.

    Raises
    ------
    UnsupportedExpressionError
        An output contains something with no translation.
    ShapeError
        An output depends on a symbol that is not an input, a broadcastable
        pattern contradicts a ``MatrixSymbol``; at call time, an array of the
        wrong number of dimensions, shape or dtype.
    TypeError
        Unknown keyword arguments (from :func:`pytensor.function`).

    Examples
    --------
    >>> from sympy.abc import x, y
    >>> from sympy_theano_printer import theano_function
    >>> f = theano_function([x, y], [x**2 + y**2, x**2 - y**2], scalar=True)
    >>> [float(v) for v in f(2, 3)]
    [13.0, -5.0]
    """
    if cache is None:
        cache = {}
    dtypes = dict(dtypes or {})
    settings = dict(kwargs.pop("settings", None) or {})
    if assumptions is not None:
        settings["assumptions"] = assumptions
    broadcastables = dim_handling(inputs, dim=dim, dims=dims, broadcastables=broadcastables)

    single = isinstance(outputs, (Basic, MatrixBase)) or not is_sequence(outputs)
    output_list = [outputs] if single else list(outputs)
    if len(output_list) == 1:
        single = True

    if optimize not in (False, True, "fast"):
        raise ValueError(f"optimize must be True, False or 'fast', got {optimize!r}")
    if optimize:
        from .optimize import graph_cost, optimize_outputs

        output_list = optimize_outputs(output_list, graph_cost(
            settings=settings, dtypes=dtypes, broadcastables=broadcastables, mode=kwargs.get("mode")),
            accurate=optimize is True)

    printer = TheanoPrinter(settings=settings, cache=cache)
    printed = printer.doprint_many(list(inputs) + output_list, dtypes, broadcastables)
    tinputs, toutputs = printed[: len(inputs)], printed[len(inputs):]
    for symbol, var in zip(inputs, tinputs):
        if not isinstance(var, Variable) or var.owner is not None or isinstance(var, Constant):
            raise ShapeError(symbol, f"input {symbol!r} is not a symbol; inputs must be Symbol, "
                                     "Dummy, MatrixSymbol or applied undefined functions")
    toutputs = [o if isinstance(o, Variable) else pt.as_tensor_variable(o) for o in toutputs]
    _check_inputs_cover(printer, tinputs, toutputs)

    depth = graph_depth(toutputs)
    kwargs["mode"] = choose_mode(toutputs, kwargs.get("mode"))
    with recursion_headroom(depth):
        fn = pytensor.function(tinputs, toutputs[0] if single else toutputs, **kwargs)
    return CompiledFunction(fn, inputs, scalar, single)


def _check_inputs_cover(printer, tinputs, toutputs):
    """Raise :class:`ShapeError` naming the symbol when an output needs a non-input."""
    given = set(tinputs)
    for var in graph_inputs(toutputs):
        if isinstance(var, Constant) or var in given:
            continue
        symbol = printer.symbol_of(var)
        if symbol is not None:
            raise ShapeError(
                symbol, f"an output depends on {symbol} ({type(symbol).__name__}), which is not "
                "among the inputs; add it to the inputs or substitute a value for it")


#: Engine-named aliases.
pytensor_code = theano_code
pytensor_function = theano_function
