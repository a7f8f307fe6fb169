"""The mapping table: which PyTensor callable computes which SymPy class.

This module is data. :data:`MAPPING` maps a SymPy class to a callable that
takes the already printed arguments of an instance (PyTensor variables, in the
order of ``expr.args``) and returns one PyTensor variable.  The printer looks
an expression's class up here first (exact class, then its MRO), so a
contributor adds a function by adding one line::

    MAPPING[sympy.Function("myfunc")] = my_pytensor_callable   # or a real class

Classes whose translation cannot be written as "apply a callable to the
printed arguments" (numbers, symbols, Pow, Piecewise, Derivative, matrices,
...) are handled by ``_print_<Class>`` methods of
:class:`~sympy_theano_printer.printer.TheanoPrinter` instead.

:data:`EXACT_ON_INTEGERS` lists the classes whose result stays an integer
when every argument is an integer (sums, products, rounding, comparisons,
logic).  Every other mapped class is a real function: the printer casts integer
and boolean arguments to the graph's float dtype before applying it, so that
``sin(2)`` is never computed in float32 (PyTensor would otherwise pick float32
for the narrow integer types, see ``pytensor.scalar.upgrade_to_float``).

Formulas used where PyTensor has no op of its own (all real identities, see
Abramowitz & Stegun, *Handbook of Mathematical Functions*, 4.3.5, 4.4.3-4.4.8,
4.5.1-4.5.7 and 4.6.1-4.6.6, and SymPy's definitions of the same functions):

* ``cot x = 1/tan x``, ``sec x = 1/cos x``, ``csc x = 1/sin x``;
* ``acot x = atan(1/x)`` for ``|x| >= 1`` and ``+-pi/2 - atan x`` inside,
  ``asec x = acos(1/x)``, ``acsc x = asin(1/x)`` (SymPy's branch choices:
  ``acot(0) = pi/2``, ``acot(-1) = -pi/4``);
* ``coth x = 1/tanh x``; ``sech x = 2e^-|x|/(1 + e^-2|x|)`` and
  ``csch x = 2 sign(x) e^-|x| / -expm1(-2|x|)``, which stay finite where
  ``cosh``/``sinh`` overflow;
* ``arg z = atan2(im z, re z)``;
  ``acoth x = atanh(1/x)``, ``asech x = acosh(1/x)``, ``acsch x = asinh(1/x)``;
* ``log(x, b) = log(x)/log(b)``; ``frac(x) = x - floor(x)`` (SymPy's ``frac``
  for real arguments);
* ``Heaviside(x, H0) = H0`` at 0 and ``(sign(x) + 1)/2`` elsewhere, NaN for NaN;
* ``Nand``, ``Nor``, ``Implies`` through ``and``/``or``/``not``.

Special functions (gamma family, incomplete gamma and beta, error functions,
Bessel functions, factorials, ``sinc``, ``DiracDelta``) and the
``sympy.codegen.cfunctions``/``numpy_nodes`` classes (``expm1``, ``log1p``,
``exp2``, ``log2``, ``log10``, ``Sqrt``, ``Cbrt``, ``hypot``, ``fma``,
``isnan``, ``isinf``, ``logaddexp``, ``logaddexp2``, ``minimum``, ``maximum``)
map to PyTensor's ops where they are exact and to the formulas of
:mod:`sympy_theano_printer.special` otherwise; each formula's docstring gives
its source, its domain and its value outside the domain (NaN where SymPy's
value is complex or ``zoo``).
"""
from __future__ import annotations

from functools import reduce

import numpy as np
import pytensor
import pytensor.tensor as pt
import sympy
from sympy.codegen import cfunctions, numpy_nodes
from sympy.logic import boolalg

from . import backend as _backend
from . import special as _special


def _name(fn) -> str:
    return getattr(fn, "__name__", None) or str(fn)


def _nary(binary):
    """Fold a binary PyTensor function over any number of arguments.

    The fold is balanced (pairs, then pairs of pairs), so an n-ary SymPy
    ``Max`` or ``And`` becomes a graph of depth ``ceil(log2 n)``, not ``n``.
    """

    def fold(*args):
        args = list(args)
        while len(args) > 1:
            paired = [binary(a, b) for a, b in zip(args[0::2], args[1::2])]
            if len(args) % 2:
                paired.append(args[-1])
            args = paired
        return args[0]

    fold.__name__ = f"nary_{_name(binary)}"
    return fold


def _log(x, base=None):
    """``log(x)``, or ``log(x)/log(base)`` for SymPy's two-argument ``log``."""
    if base is None:
        return pt.log(x)
    return pt.log(x) / pt.log(base)


def _heaviside(x, h0=None):
    """Heaviside step with SymPy's value ``H0`` at zero (1/2 when not given)."""
    step = (pt.sign(x) + 1) * 0.5  # NaN stays NaN through sign
    if h0 is None:
        return step
    return pt.switch(pt.eq(x, 0), h0, step)


def _reciprocal_of(fn):
    def reciprocal(x):
        return pt.reciprocal(fn(x))

    reciprocal.__name__ = f"reciprocal_{_name(fn)}"
    return reciprocal


def _of_reciprocal(fn):
    def composed(x):
        return fn(pt.reciprocal(x))

    composed.__name__ = f"{_name(fn)}_of_reciprocal"
    return composed


def _exact_extremum(fn, pick):
    """``fn`` (``pt.maximum``/``pt.minimum``) for floats; a ``switch`` when both arguments are integers.

    PyTensor's C code for ``maximum``/``minimum`` is one conditional expression
    whose NaN branch is a ``double``, so C converts an int64 result to double
    and back: ``maximum(2**53 + 1, 2**53)`` gives ``2**53`` on the C back end
    (CVM), while NUMBA is exact.  Integers cannot be NaN, so a ``switch`` on
    the comparison is the same function, exact on every back end.
    """

    def extremum(a, b):
        if all(str(v.dtype).startswith(("int", "uint")) for v in (a, b)):
            return pt.switch(pick(a, b), a, b)
        return fn(a, b)

    extremum.__name__ = _name(fn)
    return extremum


_maximum = _exact_extremum(pt.maximum, pt.ge)
_minimum = _exact_extremum(pt.minimum, pt.le)


def _frac(x):
    # mod(x, 1), not x - floor(x): NUMBA compiles with fastmath "reassoc", and
    # LLVM re-associates the subtraction with its neighbours (c - (x - floor x)
    # becomes (c + ...) - x ...), which loses the fraction of a large float32 x.
    # The remainder is one opaque operation with the same value on [0, 1).
    return pt.mod(x, pt.constant(np.asarray(1, dtype=x.dtype)))


def _integer_preserving(fn):
    """``fn`` for floats; the identity for integer arguments (floor(n) is n, exactly)."""

    def rounding(x):
        if str(x.dtype).startswith(("int", "uint")):
            return x
        return fn(x)

    rounding.__name__ = _name(fn)
    return rounding


def _acot(x):
    """acot with SymPy's branch (range (-pi/2, pi/2], acot(+-0) = pi/2).

    ``atan(1/x)`` for ``|x| >= 1``, ``+-pi/2 - atan(x)`` for ``|x| < 1`` (no
    cancellation on either side); the first branch is fed ``x = 1`` where it is
    not taken, so that its derivative at 0 cannot make the gradient NaN.
    """
    big = pt.ge(pt.abs(x), 1)
    safe = pt.switch(big, x, 1)
    half_pi = pt.constant(np.asarray(np.pi / 2, dtype=x.dtype))
    near_zero = pt.switch(pt.ge(x, 0), half_pi, -half_pi) - pt.arctan(x)
    return pt.switch(big, pt.arctan(pt.reciprocal(safe)), near_zero)


def _sech(x):
    """sech x = 2 e^-|x| / (1 + e^-2|x|): no overflow of cosh for |x| > 710."""
    t = pt.exp(-pt.abs(x))
    return 2 * t / (1 + t * t)


def _csch(x):
    """csch x = 2 sign(x) e^-|x| / (1 - e^-2|x|), the denominator by expm1.

    Exact to a few ulp for all ``x != 0`` (1/sinh underflows to 0 past |x| = 710
    although csch is still a normal or subnormal number there).
    """
    a = pt.abs(x)
    return 2 * pt.sign(x) * pt.exp(-a) / -pt.expm1(-2 * a)


def _atan2(y, x):
    """atan2 with SymPy's value on the branch cut: atan2(0, x) = pi for x < 0.

    IEEE ``arctan2(-0.0, x)`` is ``-pi`` (a signed zero, which SymPy does not
    have; ``-sin(0)`` computes one).  The correction adds ``2 pi`` exactly
    there; it is a switch between constants, so the gradient is arctan2's.
    """
    two_pi = pt.constant(np.asarray(2 * np.pi, dtype=pytensor.scalar.upcast(str(y.dtype), str(x.dtype))))
    negative_zero = pt.and_(pt.eq(y, 0), pt.lt(pt.reciprocal(y), 0))
    on_cut = pt.and_(negative_zero, pt.lt(x, 0))
    return pt.arctan2(y, x) + pt.switch(on_cut, two_pi, pt.zeros_like(two_pi))


def _arg(z):
    """Argument of z as atan2(im z, re z); keeps complex64 -> float32 and real input real."""
    if str(z.dtype).startswith("complex"):
        return _atan2(pt.imag(z), pt.real(z))
    return pt.arctan2(pt.zeros_like(z), z)


def _nand(*args):
    return pt.invert(_nary(pt.and_)(*args))


def _nor(*args):
    return pt.invert(_nary(pt.or_)(*args))


def _implies(a, b):
    return pt.or_(pt.invert(a), b)


#: SymPy class -> PyTensor callable applied to the printed arguments.
MAPPING: dict[type, object] = {
    # arithmetic (Pow has its own method: it picks sqrt, reciprocal, casts)
    sympy.Add: pt.add,
    sympy.Mul: pt.mul,
    sympy.Mod: pt.mod,  # Python/NumPy semantics: the result has the sign of the divisor
    # exponentials and logarithms
    sympy.exp: pt.exp,
    sympy.log: _log,
    # trigonometric functions and their inverses
    sympy.sin: pt.sin,
    sympy.cos: pt.cos,
    sympy.tan: pt.tan,
    sympy.cot: _reciprocal_of(pt.tan),
    sympy.sec: _reciprocal_of(pt.cos),
    sympy.csc: _reciprocal_of(pt.sin),
    sympy.asin: pt.arcsin,
    sympy.acos: pt.arccos,
    sympy.atan: pt.arctan,
    sympy.acot: _acot,
    sympy.asec: _of_reciprocal(pt.arccos),
    sympy.acsc: _of_reciprocal(pt.arcsin),
    sympy.atan2: _atan2,
    # hyperbolic functions and their inverses
    sympy.sinh: pt.sinh,
    sympy.cosh: pt.cosh,
    sympy.tanh: pt.tanh,
    sympy.coth: _reciprocal_of(pt.tanh),
    sympy.sech: _sech,
    sympy.csch: _csch,
    sympy.asinh: pt.arcsinh,
    sympy.acosh: pt.arccosh,
    sympy.atanh: pt.arctanh,
    sympy.acoth: _of_reciprocal(pt.arctanh),
    sympy.asech: _of_reciprocal(pt.arccosh),
    sympy.acsch: _of_reciprocal(pt.arcsinh),
    # rounding and sign
    sympy.Abs: pt.abs,
    sympy.sign: pt.sign,
    sympy.floor: _integer_preserving(pt.floor),
    sympy.ceiling: _integer_preserving(pt.ceil),
    sympy.frac: _frac,
    sympy.Heaviside: _heaviside,
    sympy.Min: _nary(_minimum),
    sympy.Max: _nary(_maximum),
    # complex numbers
    sympy.re: pt.real,
    sympy.im: pt.imag,
    sympy.arg: _arg,
    sympy.conjugate: pt.conj,
    # relations (never Python's ==, which is identity on PyTensor variables)
    sympy.Eq: pt.eq,
    sympy.Ne: pt.neq,
    sympy.StrictLessThan: pt.lt,
    sympy.LessThan: pt.le,
    sympy.StrictGreaterThan: pt.gt,
    sympy.GreaterThan: pt.ge,
    # logic
    boolalg.And: _nary(pt.and_),
    boolalg.Or: _nary(pt.or_),
    boolalg.Xor: _nary(pt.xor),
    boolalg.Not: pt.invert,
    boolalg.Nand: _nand,
    boolalg.Nor: _nor,
    boolalg.Implies: _implies,
    boolalg.ITE: pt.switch,
    # special functions (formulas and domains in special.py; hyper is a printer method there)
    sympy.gamma: _special.gamma,
    sympy.loggamma: _special.loggamma,
    sympy.digamma: _special.digamma,
    sympy.trigamma: _special.trigamma,
    sympy.polygamma: _special.polygamma,
    sympy.beta: _special.beta,
    sympy.lowergamma: _special.lowergamma,
    sympy.uppergamma: _special.uppergamma,
    sympy.betainc: _special.betainc,
    sympy.betainc_regularized: _special.betainc_regularized,
    sympy.erf: pt.erf,
    sympy.erfc: pt.erfc,
    sympy.erfinv: pt.erfinv,
    sympy.erfcinv: _backend.erfcinv,  # PyTensor's Erfcinv with a JAX implementation needing no TFP
    sympy.erf2: _special.erf2,
    sympy.besselj: _special.besselj,
    sympy.besseli: _special.besseli,
    sympy.besselk: _special.besselk,
    sympy.factorial: _special.factorial,
    sympy.binomial: _special.binomial,
    sympy.RisingFactorial: _special.rising_factorial,
    sympy.FallingFactorial: _special.falling_factorial,
    sympy.sinc: _special.sinc,
    sympy.DiracDelta: _special.dirac_delta,
    # sympy.codegen.cfunctions: C99's accurate variants (targets of the expand hints)
    cfunctions.expm1: pt.expm1,
    cfunctions.log1p: pt.log1p,
    cfunctions.exp2: _backend.exp2,  # PyTensor's Exp2 with an ulp-accurate JAX implementation
    cfunctions.log2: pt.log2,
    cfunctions.log10: pt.log10,
    cfunctions.Sqrt: pt.sqrt,
    cfunctions.Cbrt: _special.cbrt,
    cfunctions.hypot: _special.hypot,
    cfunctions.fma: _special.fma,
    cfunctions.isnan: pt.isnan,
    cfunctions.isinf: pt.isinf,
    # sympy.codegen.numpy_nodes
    numpy_nodes.logaddexp: _special.logaddexp,
    numpy_nodes.logaddexp2: _special.logaddexp2,
    numpy_nodes.minimum: _minimum,
    numpy_nodes.maximum: _maximum,
}

#: Classes computed in integer arithmetic when all their arguments are integers.
EXACT_ON_INTEGERS: frozenset[type] = frozenset(
    {
        sympy.Add,
        sympy.Mul,
        sympy.Mod,
        sympy.Abs,
        sympy.sign,
        sympy.floor,
        sympy.ceiling,
        sympy.Min,
        sympy.Max,
        sympy.Eq,
        sympy.Ne,
        sympy.StrictLessThan,
        sympy.LessThan,
        sympy.StrictGreaterThan,
        sympy.GreaterThan,
        boolalg.And,
        boolalg.Or,
        boolalg.Xor,
        boolalg.Not,
        boolalg.Nand,
        boolalg.Nor,
        boolalg.Implies,
        boolalg.ITE,
        numpy_nodes.minimum,
        numpy_nodes.maximum,
    }
)
