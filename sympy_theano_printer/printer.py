"""The printer core: SymPy expression -> PyTensor graph.

:class:`TheanoPrinter` is a :class:`sympy.printing.printer.Printer` whose
"text" is a PyTensor variable.  How it finds the translation of one node, in
order:

1. a method ``_theano(self, printer)`` on the expression (``printmethod``);
2. an entry for the expression's exact class in the mapping table
   (:data:`sympy_theano_printer.mapping.MAPPING`, merged with the ``mapping``
   setting);
3. a ``_print_<Class>`` method, looked up along the class's MRO as every SymPy
   printer does (numbers, symbols, ``Pow``, ``Piecewise``, ``Derivative``,
   matrices);
4. a mapping entry for a superclass (``_print_Basic``);
5. otherwise :class:`~sympy_theano_printer.errors.UnsupportedExpressionError`.

Unlike SymPy's own printers, :meth:`TheanoPrinter._print` does not recurse in
Python once per level of the expression: the arguments of a node are printed
first by an explicit-stack post-order walk, and every distinct subexpression is
printed once (a memo keyed by the SymPy expression), so a shared subexpression
becomes one graph node and printing takes time linear in the number of
distinct subexpressions.
"""
from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import sympy
from sympy.core.basic import Basic
from sympy.core.function import AppliedUndef, Function
from sympy.printing.printer import Printer
from pytensor.graph.basic import Constant, Variable

from . import piecewise as _piecewise
from .backend import recursion_headroom
from .errors import ShapeError, UnsupportedExpressionError
from .fallback import print_fallback
from .mapping import EXACT_ON_INTEGERS, MAPPING
from .matrices import MATRIX_OPAQUE, MatrixPrinterMixin
from .special import SpecialFunctionPrinterMixin

__all__ = ["TheanoPrinter", "PyTensorPrinter"]

_INT64 = np.iinfo(np.int64)


def resolve_dtype(dtype) -> str:
    """Turn ``'floatX'`` (or None) into ``pytensor.config.floatX``; other dtypes as strings."""
    if dtype is None or dtype == "floatX":
        return pytensor.config.floatX
    return str(np.dtype(dtype))


def _is_integral(dtype: str) -> bool:
    return dtype.startswith(("int", "uint")) or dtype == "bool"


class TheanoPrinter(SpecialFunctionPrinterMixin, MatrixPrinterMixin, Printer):
    """Printer that turns SymPy expressions into PyTensor graph variables.

    Parameters
    ----------
    cache : dict, optional
        Where graph variables created for symbol-like objects (``Symbol``,
        ``Dummy``, ``MatrixSymbol``, applied undefined functions) are kept, so
        that every occurrence of a symbol is the same graph input.  Keys are
        ``(name, class, args, dtype, broadcastable)``, plus the dummy index for
        a ``Dummy``, so two ``Dummy`` with the same name stay distinct.  The dict
        is used in place, not copied.  Default: a new empty dict.
    settings : dict, optional
        ``mapping``: extra ``{SymPy class: PyTensor callable}`` entries that
        take precedence over :data:`~sympy_theano_printer.mapping.MAPPING`.
        ``float_dtype``: dtype of float constants (``'float64'``,
        ``'float32'``); by default the narrowest float dtype among the declared
        ``dtypes`` when none is wider, else ``pytensor.config.floatX``.
        ``safe_piecewise_gradient`` (default True): print ``Piecewise`` with the
        double switch so that a branch that is not taken cannot make the
        gradient NaN.
        ``assumptions``: a SymPy boolean of facts (``Q.positive_definite(S) &
        ...``) that matrix translations may rely on, in addition to SymPy's
        ``global_assumptions`` (``with assuming(...)``).

    Attributes
    ----------
    cache : dict
        The symbol cache described above.

    Notes
    -----
    Numbers become typed constants: ``Float``, ``Rational`` and the number
    symbols (``pi``, ``E``, ``EulerGamma``, ``GoldenRatio``, ``Catalan``) in the
    float dtype; ``Integer`` as int64 (the narrowest integer type in a float32
    graph, so that it does not upcast float32 arithmetic; a float constant
    beyond the int64 range); ``I`` as a complex constant; ``oo``, ``-oo`` and
    ``nan`` as IEEE values.  Real functions receive integer arguments cast to
    the float dtype; a negative or non-integer power is computed in floats, so
    ``n**-1`` is never truncated to 0.
    """

    printmethod = "_theano"
    _default_settings = {
        "mapping": None,
        "float_dtype": None,
        "safe_piecewise_gradient": True,
        "assumptions": None,
    }

    def __init__(self, settings=None, cache=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"TheanoPrinter got unexpected keyword arguments {sorted(kwargs)}; "
                "printer options go in settings={...}"
            )
        super().__init__(settings)
        self.cache = {} if cache is None else cache
        table = dict(MAPPING)
        table.update(self._settings.get("mapping") or {})
        self.mapping = table
        self._memo: dict = {}
        self._depth: dict = {}
        self._dtypes: dict = {}
        self._broadcastables: dict = {}
        self._symbols: dict = {}
        self.float_dtype = resolve_dtype(self._settings.get("float_dtype"))
        self.max_depth = 0

    # ------------------------------------------------------------------ entry points
    def doprint(self, expr, dtypes=None, broadcastables=None):
        """Translate one SymPy expression into a PyTensor variable.

        Parameters
        ----------
        expr : sympy.Basic, Matrix, or a (nested) list/tuple of them
            What to print.
        dtypes : dict, optional
            ``{symbol: dtype}`` for the graph inputs made for symbols
            (default ``'floatX'``).
        broadcastables : dict, optional
            ``{symbol: tuple of bool}``: the number of dimensions of each
            symbol's input and which of them broadcast (length 1).  Default
            ``()``: a 0-d (scalar) input.

        Returns
        -------
        pytensor.tensor.TensorVariable
            Its dtype follows PyTensor's upcasting rules from the inputs and
            the typed constants (float64 by default).

        Raises
        ------
        UnsupportedExpressionError
            A subexpression has no translation (the message says how to add one).
        ShapeError
            ``broadcastables`` contradicts a ``MatrixSymbol``'s shape.
        """
        return self.doprint_many([expr], dtypes, broadcastables)[0]

    def doprint_many(self, exprs, dtypes=None, broadcastables=None):
        """Translate several expressions with one memo, so that they share subgraphs.

        Same parameters as :meth:`doprint`, with ``exprs`` a sequence; returns a list.
        """
        self._dtypes = dict(dtypes or {})
        self._broadcastables = dict(broadcastables or {})
        if self._settings.get("float_dtype") is None:
            self.float_dtype = self._default_float_dtype(self._dtypes.values())
        self._memo = {}
        self._depth = {}
        self.max_depth = 0
        return [self._print(e) for e in exprs]

    @staticmethod
    def _default_float_dtype(declared) -> str:
        floats = set()
        for d in declared:
            d = np.dtype(resolve_dtype(d))
            if d.kind == "f":
                floats.add(d.itemsize)
            elif d.kind == "c":
                floats.add(d.itemsize // 2)
        if floats and max(floats) <= 4:
            return "float32"
        return pytensor.config.floatX

    # ------------------------------------------------------------------ the walk
    def _print(self, expr, **kwargs):
        if isinstance(expr, Basic):
            memo = self._memo
            try:
                return memo[expr]
            except KeyError:
                pass
            self._print_graph(expr)
            return memo[expr]
        return self._print_other(expr, **kwargs)

    def _print_graph(self, root):
        """Print ``root`` and every subexpression not yet printed, children first.

        An explicit stack replaces recursion; each distinct node is translated
        once and its depth recorded (for :func:`recursion_headroom`).
        """
        memo, depth = self._memo, self._depth
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            if not ready:
                stack.append((node, True))
                for child in self._operands(node):
                    if isinstance(child, Basic) and child not in memo:
                        stack.append((child, False))
                continue
            memo[node] = self._translate(node)
            d = 1 + max((depth.get(c, 0) for c in self._operands(node) if isinstance(c, Basic)), default=0)
            depth[node] = d
            if d > self.max_depth:
                self.max_depth = d

    #: Classes whose arguments are not printed before the node itself
    #: (their translation prints what it needs, or the arguments are not values;
    #: see :data:`~sympy_theano_printer.matrices.MATRIX_OPAQUE` for the matrix classes).
    _opaque = (AppliedUndef, sympy.Piecewise, sympy.Derivative, sympy.MatrixSymbol) + MATRIX_OPAQUE

    def _operands(self, node):
        if isinstance(node, self._opaque) or hasattr(node, self.printmethod):
            return ()
        return node.args

    def _translate(self, expr):
        if not hasattr(expr, self.printmethod):
            fn = self.mapping.get(type(expr))
            if fn is not None:
                return self._apply(expr, fn)
        return Printer._print(self, expr)

    def _print_other(self, expr, **kwargs):
        """Non-SymPy objects: containers element-wise, slices, Python numbers as they are."""
        if isinstance(expr, (list, tuple)):
            return type(expr)(self._print(e) for e in expr)
        return Printer._print(self, expr, **kwargs)

    def emptyPrinter(self, expr):
        if isinstance(expr, Basic):
            raise UnsupportedExpressionError(expr)
        return expr

    # ------------------------------------------------------------------ helpers
    def _apply(self, expr, fn):
        args = [self._print(a) for a in expr.args]
        if type(expr) not in EXACT_ON_INTEGERS:
            args = [self.as_float(a) for a in args]
        else:
            args = self._weak_integer_literals(args)
        return fn(*args)

    def _weak_integer_literals(self, args):
        """Integer constants beside a float32 (or float16) variable take its dtype.

        PyTensor upcasts ``float32 + int32`` to float64; NumPy treats a Python
        integer literal as "weak" and keeps float32 (NEP 50).  SymPy's integers
        are literals, so ``x + 100000`` with a float32 ``x`` stays float32 here.
        """
        floats = [str(a.dtype) for a in args
                  if isinstance(a, Variable) and not isinstance(a, Constant)
                  and str(a.dtype) in ("float16", "float32")]
        if not floats or any(isinstance(a, Variable) and not isinstance(a, Constant)
                             and str(a.dtype) in ("float64", "complex128") for a in args):
            return args
        target = max(floats, key=lambda d: np.dtype(d).itemsize)
        return [self.constant(a.data.item(), target)
                if isinstance(a, Constant) and str(a.dtype).startswith(("int", "uint")) else a
                for a in args]

    def as_float(self, var):
        """``var`` cast to the float dtype if it is an integer or boolean variable."""
        dtype = getattr(var, "dtype", None)
        if dtype is not None and _is_integral(str(dtype)):
            return pt.cast(var, self.float_dtype)
        return var

    def constant(self, value, dtype=None):
        """A 0-d PyTensor constant of an explicit dtype (the float dtype by default)."""
        return pt.constant(np.asarray(value, dtype=dtype or self.float_dtype))

    def _int_constant(self, value: int):
        if not (_INT64.min <= value <= _INT64.max):
            try:
                return self.constant(float(value))
            except OverflowError:
                return self.constant(math.inf if value > 0 else -math.inf)
        if self.float_dtype == "float64":
            return self.constant(value, "int64")
        for dtype in ("int8", "int16", "int32", "int64"):  # narrowest: keeps float32 graphs float32
            info = np.iinfo(dtype)
            if info.min <= value <= info.max:
                return self.constant(value, dtype)

    def _complex_dtype(self) -> str:
        return "complex64" if self.float_dtype == "float32" else "complex128"

    # ------------------------------------------------------------------ symbols
    def _get_key(self, s, name=None, dtype=None, broadcastable=None):
        """Cache key of a symbol-like object: name, class, args, dtype, broadcastable.

        A ``Dummy`` adds its dummy index, so two dummies with one name differ.
        """
        if name is None:
            name = s.name
        key = (name, type(s), s.args, dtype, broadcastable)
        if isinstance(s, sympy.Dummy):
            key += (s.dummy_index,)
        return key

    def _get_or_create(self, s, name=None, dtype=None, broadcastable=None, shape=None):
        """The graph input of symbol-like ``s``: from the cache, or made and cached."""
        if name is None:
            name = s.name
        dtype = resolve_dtype(dtype)
        broadcastable = tuple(bool(b) for b in (broadcastable or ()))
        key = self._get_key(s, name, dtype=dtype, broadcastable=broadcastable)
        if key in self.cache:
            var = self.cache[key]
        else:
            if shape is None:
                shape = tuple(1 if b else None for b in broadcastable)
            try:
                var = pt.tensor(name=name, dtype=dtype, shape=shape)
            except ValueError:  # PyTensor refuses names that look like dtypes ("f32", "d", "i8")
                var = pt.tensor(dtype=dtype, shape=shape)
                var.name = name
            self.cache[key] = var
        self._symbols[var] = s
        return var

    def symbol_of(self, var):
        """The SymPy object a graph input was made for (None if not made here)."""
        return self._symbols.get(var)

    def _print_Symbol(self, s, **kwargs):
        return self._get_or_create(
            s, dtype=self._dtypes.get(s), broadcastable=self._broadcastables.get(s)
        )

    def _print_AppliedUndef(self, s, **kwargs):
        name = "_".join([str(s.func)] + [str(a) for a in s.args])
        return self._get_or_create(
            s, name=name, dtype=self._dtypes.get(s), broadcastable=self._broadcastables.get(s)
        )

    # ------------------------------------------------------------------ numbers
    def _print_Integer(self, n, **kwargs):
        return self._int_constant(int(n))

    def _print_Rational(self, q, **kwargs):
        return self.constant(float(q))

    def _print_Float(self, f, **kwargs):
        return self.constant(float(f))

    def _print_NumberSymbol(self, c, **kwargs):
        return self.constant(float(c))

    def _print_ImaginaryUnit(self, i, **kwargs):
        return self.constant(1j, self._complex_dtype())

    def _print_Infinity(self, e, **kwargs):
        return self.constant(math.inf)

    def _print_NegativeInfinity(self, e, **kwargs):
        return self.constant(-math.inf)

    def _print_NaN(self, e, **kwargs):
        return self.constant(math.nan)

    def _print_ComplexInfinity(self, e, **kwargs):
        raise UnsupportedExpressionError(
            e, "complex infinity (zoo) has no IEEE value; rewrite the expression "
            "so that it is a limit (oo, -oo) or give the symbols assumptions that exclude it",
        )

    def _print_BooleanTrue(self, e, **kwargs):
        return pt.constant(np.bool_(True))

    def _print_BooleanFalse(self, e, **kwargs):
        return pt.constant(np.bool_(False))

    def _print_Tuple(self, t, **kwargs):
        return tuple(self._print(a) for a in t.args)

    def _print_slice(self, s, **kwargs):
        return slice(*[self._print(i) if isinstance(i, Basic) else i
                       for i in (s.start, s.stop, s.step)])

    # ------------------------------------------------------------------ arithmetic
    def _print_Pow(self, expr, **kwargs):
        base, exp = expr.args
        b = self._print(base)
        if exp is sympy.S.Half:
            return pt.sqrt(self.as_float(b))
        if exp == -sympy.S.Half:
            return pt.reciprocal(pt.sqrt(self.as_float(b)))
        if exp.is_Integer:
            n = int(exp)
            if n == -1:
                return pt.reciprocal(self.as_float(b))
            base = b if n >= 0 else self.as_float(b)  # an integer base stays integer
            e = self._weak_integer_literals([base, self._int_constant(n)])[1]
            return pt.pow(base, e)
        return pt.pow(self.as_float(b), self._print(exp))

    # ------------------------------------------------------------------ mapping fallback
    def _print_Basic(self, expr, **kwargs):
        classes = type(expr).__mro__
        if Function in classes:  # as SymPy: a renamed subclass of sin is not sin
            i = classes.index(Function)
            classes = tuple(c for c in classes[:i] if c.__name__ == classes[0].__name__) + classes[i:]
        for cls in classes:
            fn = self.mapping.get(cls)
            if fn is not None:
                return self._apply(expr, fn)
        return self._print_unmapped(expr)

    def _print_unmapped(self, expr):
        """Last resort for an expression with no native translation: a generated fallback op.

        An applied SymPy function of scalar arguments for which SymPy can
        generate code (``zeta``, ``LambertW``, ``bessely``, ``expint``, ``Ei``,
        ``Si``, ``Ci``, ``fresnels``, ``airyai``, ``elliptic_k``, ...) becomes
        ``Elemwise(SymPyScalarOp(...))`` applied to its printed arguments (see
        :func:`~sympy_theano_printer.fallback.print_fallback`); anything else
        raises :class:`UnsupportedExpressionError`.
        """
        return print_fallback(self, expr)

    # ------------------------------------------------------------------ control flow
    def _print_Piecewise(self, expr, **kwargs):
        return _piecewise.print_piecewise(self, expr)

    def print_with_substitution(self, expr, replacements):
        """Print ``expr`` with some symbols bound to given graph variables.

        ``replacements`` maps SymPy symbols to PyTensor variables.  The walk
        uses a memo of its own, so nothing printed here leaks into the main memo.
        """
        saved_memo, saved_depth = self._memo, self._depth
        self._memo = dict(replacements)
        self._depth = {}
        try:
            return self._print(expr)
        finally:
            self._memo, self._depth = saved_memo, saved_depth

    # ------------------------------------------------------------------ calculus
    def _print_Derivative(self, deriv, **kwargs):
        """``Derivative(f, (x, n), ...)`` through PyTensor's automatic differentiation.

        The derivative is element-wise: for 0-d ``f`` and ``x`` it is
        ``pytensor.grad(f, x)`` (reverse mode); for arrays it is the forward-mode
        product ``pytensor.gradient.pushforward(f, x, ones_like(x))``, which
        gives ``d f[i] / d x`` also where ``x`` is broadcast against ``f``.  A
        variable declared with an integer dtype is differentiated as a real
        one (SymPy's meaning): the expression is printed over a float copy of it.
        """
        wrts, replacements = {}, {}
        for var, _ in deriv.variable_count:
            v = self._print(var)
            if not isinstance(v, pt.TensorVariable) or v.owner is not None:
                raise UnsupportedExpressionError(
                    deriv, f"the variable {var} is not a graph input; "
                    "differentiate with respect to a Symbol, a MatrixSymbol or an applied undefined function",
                )
            if _is_integral(str(v.dtype)):
                v = pt.cast(v, self.float_dtype)
                replacements[var] = v
            wrts[var] = v
        if replacements:
            result = self.print_with_substitution(deriv.expr, replacements)
        else:
            result = self._print(deriv.expr)
        result = self.as_float(result)
        from pytensor.gradient import NullTypeGradError

        for var, count in deriv.variable_count:
            for _ in range(int(count)):
                try:
                    result = self._elementwise_derivative(result, wrts[var])
                except NullTypeGradError as err:  # e.g. a Bessel function's order
                    raise UnsupportedExpressionError(
                        deriv, f"PyTensor has no derivative of {deriv.expr} with respect to {var} ({err}); "
                        "differentiate with respect to another variable, or give it a fixed value",
                    ) from err
        return result

    def _elementwise_derivative(self, f, x):
        from pytensor.gradient import pushforward

        from .backend import graph_depth

        with recursion_headroom(graph_depth([f])):
            if f.ndim == 0 and x.ndim == 0:
                g = pytensor.grad(f, x, disconnected_inputs="ignore")
            else:
                g = pushforward(f, x, pt.ones_like(x), disconnected_outputs="ignore")
        # a zero gradient (step functions, disconnected inputs) comes back in floatX
        target = pytensor.scalar.upcast(str(f.dtype), str(x.dtype))
        if str(g.dtype) != target and not _is_integral(target):
            g = pt.cast(g, target)
        return g

    # ------------------------------------------------------------------ checks
    def check_broadcastable(self, symbol, broadcastable, shape):
        """Raise :class:`ShapeError` when ``broadcastable`` contradicts a static ``shape``."""
        if broadcastable is None:
            return
        if len(broadcastable) != len(shape):
            raise ShapeError(
                symbol,
                f"{symbol} is a {len(shape)}-d {type(symbol).__name__} of shape {tuple(shape)}, "
                f"but its broadcastable pattern {tuple(broadcastable)} has {len(broadcastable)} "
                "dimensions; give a pattern of the right length, or drop it",
            )
        for b, n in zip(broadcastable, shape):
            if b and n is not None and n != 1:
                raise ShapeError(
                    symbol,
                    f"{symbol} has shape {tuple(shape)}, but its broadcastable pattern "
                    f"{tuple(broadcastable)} declares a dimension of length 1 where the "
                    f"shape says {n}",
                )


#: The same printer under the engine's current name.
PyTensorPrinter = TheanoPrinter
