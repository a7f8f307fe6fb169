"""The reference side of the property tests: mpmath values and a rounding-error bound.

:class:`Program` flattens a SymPy expression into its distinct nodes (the
printer prints each distinct subexpression once, so one node is one graph
value) and evaluates it with mpmath at :data:`DPS` = 30 significant digits,
with SymPy's conventions on the real line (``acot(0) = pi/2``, ``Mod`` with
the sign of the divisor, ``Heaviside(0) = H0``, ``Piecewise`` is NaN where no
condition holds, ...).

A point is *inside the domain* of an expression when every node that the
compiled function's result depends on is real and finite and stays inside the
normal range of the dtype (zero allowed), and the value at 30 digits agrees
with the value at 45 digits to 20 digits (so the reference is right, also
where a huge argument of ``sin`` needs more digits): a node with a non-real or infinite
value, or one that would overflow or underflow in the dtype, makes
:meth:`Program.analyse` return None, and the strategies filter that point out.
Untaken ``Piecewise`` branches are not evaluated: ``switch`` discards them.

The tolerance (``bound``): a first-order running error analysis done by
finite perturbation at 30 digits.  The compiled function computes each node
``v_i`` with an error ``e_i`` of its own (the rounding of one IEEE operation,
the few-ulp error of one libm call, the error of the formula by which the
mapping table computes ``asec``, ``acot``, ...), on top of the errors that
reach it through its arguments.  To first order the error of the result is
``sum_i (dy/dv_i) e_i``, so with ``|e_i| <= E_i``::

    |y_computed - y| <= B = sum_i max(|y(v_i + E_i) - y|, |y(v_i - E_i) - y|)

where ``y(v_i +- E_i)`` is the result re-evaluated at 30 digits with node
``i`` alone replaced by its shifted value (only the nodes above ``i`` are
recomputed).  ``B`` is the usual condition estimate of the expression *as
the printer computes it* (``sum_i |dy/dv_i| |v_i| * k_i eps`` for relative
errors), but taken as a finite difference, so it also covers a condition, a
``floor`` or a ``Max`` whose outcome flips within the rounding error: the
jump then enters ``B`` and the comparison accepts either side.  The per-node
``E_i`` (see :func:`error_sources`), in units of ``eps = np.finfo(dtype).eps``
and the classes of ``tests/test_mapping.py``:

* inputs and integers: exact (the inputs are drawn as values of the dtype,
  and the reference evaluates those exact binary values);
* a rational, float or named constant: ``K_ROUNDED * eps * |v|`` unless the
  dtype holds it exactly;
* ``Add`` of ``n`` terms: ``(n - 1) * eps * sum |a_j|`` (recursive summation in
  any order, so fusion and re-association are covered), exact for two terms
  whose sum the dtype holds; ``Mul`` of ``n`` factors: ``(n - 1) * eps * |v|``;
* ``Pow``: ``sqrt`` and ``1/x`` one rounding, ``x**n`` up to ``(K_LIBM + |n|)``
  (PyTensor turns small integer powers into repeated products), other
  exponents ``K_LIBM`` (the rounding of the exponent itself is a constant node);
* one libm call (``exp``, ``sin``, ``atanh``, ``atan2``, ...): ``K_LIBM * eps * |v|``;
* a two-step formula of the mapping table (``cot = 1/tan``, ``sech``,
  ``log(x, b)``, ...): ``K_COMPOSED * eps * |v|``; and where the formula feeds
  a rounded reciprocal into an ill-conditioned function (``asec = acos(1/x)``,
  ``acsc``, ``acoth``, ``asech``, ``acsch``, ``acot`` for ``|x| >= 1``) the
  reciprocal's rounding is a separate source, evaluated through the outer
  function, since near ``|x| = 1`` it dominates (``acos`` near 1 amplifies
  it by ``1/sqrt(2 (1 - r))``);
* ``Abs``, ``sign``, ``floor``, ``ceiling``, ``Min``, ``Max``, ``Heaviside``,
  relations, logic and ``Piecewise``: exact; ``frac`` and ``Mod``: one rounding
  (``Mod`` relative to ``|a| + |b|``, as ``a - b * floor(a / b)`` computes it).

The comparison then accepts ``|y_computed - y| <= MARGIN * B`` plus one
rounding of ``y`` itself (``properties.harness.assert_rows``), with
``MARGIN = 2`` for the second-order terms that a first-order bound leaves out.

A gradient is compared against ``sympy.diff`` of the expression (with
``coth`` and ``sech`` written as the mapping's formulas, see
:func:`derivative`), evaluated the same way, with ``GRADIENT_MARGIN * B_d``
(the bound of the derivative expression; reverse mode computes the same chain
rule in another order) plus a floor ``K_COMPOSED * eps * T``
(:meth:`Program.tangent_scales`): PyTensor's gradients of selections are
masks like ``1 - eq(max(x, y), x)`` and its rewrites re-associate the sums
they appear in, so a derivative is exact only to ``eps`` times the size of
the terms it is a sum of, ``T``, even where its value is tiny.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen import cfunctions as cf
from sympy.codegen import numpy_nodes as nn
from sympy.core.numbers import NumberSymbol
from sympy.logic import boolalg

from sympy_theano_printer.expand import xlogy

#: Decimal digits of every reference computation.
DPS = 30

# the families of tests/test_mapping.py (in units of the dtype's eps)
K_EXACT = 0
K_ROUNDED = 1
K_LIBM = 4
K_COMPOSED = 8
# the special-function families of tests/test_mapping.py: one SciPy/Cephes kernel, and formulas
# made of several kernels (gamma ratios, Gamma(s) * P(s, x), differences of betainc)
K_SPECIAL = 8
K_SPECIAL_FORMULA = 32

#: Factor on the first-order bound for values (second-order terms, slack for PyTensor rewrites).
MARGIN = 2.0
#: Factor on the bound of ``sympy.diff(expr)`` for gradients computed by PyTensor's reverse mode.
GRADIENT_MARGIN = 8.0
#: A node whose magnitude is within this factor of the dtype's overflow or underflow
#: threshold puts the point outside the domain.
RANGE_GUARD = 2.0**8


def _one_minus_square(u):  # relative error of computing 1 - u**2 (or u**2 - 1)
    return (1 + u * u) / max(abs(1 - u * u), mpmath.mpf(10) ** -DPS)


#: Relative error factor of PyTensor's formula for the derivative, by function (argument u).
_LOCAL_CANCELLATION = {
    sp.acosh: lambda u: _one_minus_square(u) / 2, sp.asin: lambda u: _one_minus_square(u) / 2,
    sp.acos: lambda u: _one_minus_square(u) / 2, sp.atanh: _one_minus_square,
    sp.tanh: lambda u: _one_minus_square(mpmath.tanh(u)),
    sp.asec: lambda u: _one_minus_square(1 / u) / 2, sp.acsc: lambda u: _one_minus_square(1 / u) / 2,
    sp.asech: lambda u: _one_minus_square(1 / u) / 2, sp.acoth: lambda u: _one_minus_square(1 / u),
}

#: Periodic functions of their (first) argument (see ``Program._spans_a_period``).
_TRIGONOMETRIC = (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc)
_PERIODIC = _TRIGONOMETRIC + (sp.frac,)

#: Functions with a pole where their (first) argument is 0.
_POLE_AT_ZERO = (sp.log, sp.cot, sp.csc, sp.coth, sp.csch, sp.acsch, sp.asech, cf.log2, cf.log10,
                 sp.gamma, sp.loggamma, sp.digamma, sp.trigamma)
#: Functions with a pole where their second argument is 0.
_POLE_AT_ZERO_OF_SECOND = (sp.polygamma, sp.besselk)


class Invalid(Exception):
    """The point is outside the expression's domain (non-real, infinite, out of the dtype's range)."""


# ---------------------------------------------------------------------------- mpmath functions
def _heaviside(x, h0=None):
    if x > 0:
        return mpmath.mpf(1)
    if x < 0:
        return mpmath.mpf(0)
    if h0 is None:
        return mpmath.mpf(1) / 2
    return h0


def _mod(a, b):
    if b == 0:
        raise Invalid("Mod(a, 0) is nan")
    return a - b * mpmath.floor(a / b)


def _log(x, base=None):
    if base is None:
        return mpmath.log(x)
    return mpmath.log(x) / mpmath.log(base)


def _dirac(x, k=None):  # DiracDelta(x) and its derivatives DiracDelta(x, k): 0 away from 0
    if x == 0:
        raise Invalid("DiracDelta at 0")
    return mpmath.mpf(0)


def _atan2(y, x):
    if y == 0 and x == 0:
        raise Invalid("atan2(0, 0) is nan in SymPy")
    return mpmath.atan2(y, x)


def _xor(*args):
    return sum(bool(a) for a in args) % 2 == 1


def _erfcinv(y):
    with mpmath.workdps(mpmath.mp.dps + 20):  # 1 - y keeps y's digits for y near 0 and 2
        return mpmath.erfinv(1 - y)


def _polygamma(n, x):
    if n != mpmath.floor(n) or n < 0:
        raise Invalid("polygamma of a non-integer or negative order")
    return mpmath.polygamma(int(n), x)


def _xlogy(x, y):
    if x == 0:
        return mpmath.mpf(0)
    return x * mpmath.log(y)


def _logaddexp(x, y, base=None):
    hi, lo = max(x, y), min(x, y)
    if base is None:
        return hi + mpmath.log1p(mpmath.exp(lo - hi))
    return hi + mpmath.log1p(mpmath.power(base, lo - hi)) / mpmath.log(base)


def _real_only(fn):
    """``fn`` refused outside the real line: SymPy's value is complex where mpmath's is."""
    def wrapped(*args):
        return _real(fn(*args))
    wrapped.__name__ = getattr(fn, "__name__", "special")
    return wrapped


#: SymPy class -> mpmath function of the evaluated arguments (SymPy's real-line conventions).
def _binomial(n, k):
    """SymPy's ``binomial``: 0 for an integer ``k < 0``; zoo for a negative integer ``n`` and a non-integer ``k``.

    mpmath's ``binomial(-1, -1)`` is 1 (the limit of the gamma ratio); SymPy's is 0.
    """
    if k == mpmath.floor(k) and k < 0:
        return mpmath.mpf(0)
    if n == mpmath.floor(n) and n < 0 and k != mpmath.floor(k):
        raise Invalid("binomial of a negative integer and a non-integer is zoo")
    return mpmath.binomial(n, k)


REAL_FUNCTIONS = {
    sp.exp: mpmath.exp, sp.log: _log,
    sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tan: mpmath.tan,
    sp.cot: mpmath.cot, sp.sec: mpmath.sec, sp.csc: mpmath.csc,
    sp.asin: mpmath.asin, sp.acos: mpmath.acos, sp.atan: mpmath.atan,
    sp.acot: mpmath.acot, sp.asec: mpmath.asec, sp.acsc: mpmath.acsc,
    sp.atan2: _atan2,
    sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.tanh: mpmath.tanh,
    sp.coth: mpmath.coth, sp.sech: mpmath.sech, sp.csch: mpmath.csch,
    sp.asinh: mpmath.asinh, sp.acosh: mpmath.acosh, sp.atanh: mpmath.atanh,
    sp.acoth: mpmath.acoth, sp.asech: mpmath.asech, sp.acsch: mpmath.acsch,
    sp.Abs: abs, sp.sign: mpmath.sign, sp.floor: mpmath.floor, sp.ceiling: mpmath.ceil,
    sp.frac: lambda x: x - mpmath.floor(x), sp.Heaviside: _heaviside,
    sp.Min: min, sp.Max: max, sp.Mod: _mod,
    sp.DiracDelta: _dirac,
    # special functions (sympy_theano_printer/special.py), SymPy's definitions on the real line
    sp.gamma: mpmath.gamma, sp.loggamma: mpmath.loggamma, sp.digamma: mpmath.digamma,
    sp.trigamma: lambda x: mpmath.polygamma(1, x), sp.polygamma: _polygamma,
    sp.beta: lambda a, b=None: mpmath.beta(a, a if b is None else b),
    sp.lowergamma: lambda s, x: mpmath.gammainc(s, 0, x),
    sp.uppergamma: lambda s, x: mpmath.gammainc(s, x, mpmath.inf),
    sp.betainc: lambda a, b, x1, x2: mpmath.betainc(a, b, x1, x2),
    sp.betainc_regularized: lambda a, b, x1, x2: mpmath.betainc(a, b, x1, x2, regularized=True),
    sp.erf: mpmath.erf, sp.erfc: mpmath.erfc, sp.erfinv: mpmath.erfinv, sp.erfcinv: _erfcinv,
    sp.erf2: lambda x, y: mpmath.erf(y) - mpmath.erf(x),
    sp.besselj: mpmath.besselj, sp.besseli: mpmath.besseli, sp.besselk: mpmath.besselk,
    sp.factorial: mpmath.factorial, sp.binomial: _binomial,
    sp.RisingFactorial: mpmath.rf, sp.FallingFactorial: mpmath.ff, sp.sinc: mpmath.sinc,
    # sympy.codegen.cfunctions and numpy_nodes (C99's meanings: Cbrt is the real, sign-keeping root)
    cf.expm1: mpmath.expm1, cf.log1p: mpmath.log1p, cf.exp2: lambda x: mpmath.power(2, x),
    cf.log2: lambda x: mpmath.log(x, 2), cf.log10: mpmath.log10, cf.Sqrt: mpmath.sqrt,
    cf.Cbrt: lambda x: mpmath.sign(x) * mpmath.cbrt(abs(x)), cf.hypot: mpmath.hypot,
    cf.fma: lambda a, b, c: mpmath.fadd(mpmath.fmul(a, b, exact=True), c, exact=True),
    nn.logaddexp: _logaddexp, nn.logaddexp2: lambda x, y: _logaddexp(x, y, 2),
    nn.minimum: min, nn.maximum: max,
    # the compute-oriented expand hint's own function (sympy_theano_printer/expand.py)
    xlogy: _xlogy,
}

_SLOW_FAR_OUT = frozenset([sp.gamma, sp.loggamma, sp.digamma, sp.trigamma, sp.polygamma, sp.beta,
                           sp.lowergamma, sp.uppergamma, sp.betainc, sp.betainc_regularized,
                           sp.besselj, sp.besseli, sp.besselk, sp.factorial, sp.binomial,
                           sp.RisingFactorial, sp.FallingFactorial, sp.erfinv, sp.erfcinv])

#: SymPy class -> Python function of the evaluated arguments, for boolean-valued nodes.
BOOLEAN_FUNCTIONS = {
    sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
    sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
    sp.Eq: lambda a, b: a == b, sp.Ne: lambda a, b: a != b,
    boolalg.And: lambda *a: all(a), boolalg.Or: lambda *a: any(a),
    boolalg.Not: lambda a: not a, boolalg.Xor: _xor,
    boolalg.Nand: lambda *a: not all(a), boolalg.Nor: lambda *a: not any(a),
    boolalg.Implies: lambda a, b: (not a) or b,
    cf.isnan: mpmath.isnan, cf.isinf: mpmath.isinf,
}

#: Classes whose value has a jump or a kink (used to keep gradients away from them).
NON_SMOOTH = (sp.Abs, sp.sign, sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.Heaviside, sp.Min, sp.Max,
              nn.minimum, nn.maximum, sp.Piecewise, sp.DiracDelta) + tuple(BOOLEAN_FUNCTIONS)
#: Smooth classes with a jump where their argument is 0 (SymPy's acot: pi/2 at 0+, -pi/2 at 0-).
JUMP_AT_ZERO = (sp.acot,)


def evaluable(cls) -> bool:
    """True when the reference knows how to evaluate SymPy class ``cls``."""
    return (cls in REAL_FUNCTIONS or cls in BOOLEAN_FUNCTIONS
            or issubclass(cls, (sp.Symbol, sp.Number, NumberSymbol, sp.Add, sp.Mul, sp.Pow,
                                sp.Piecewise, boolalg.ITE, boolalg.BooleanAtom)))


def operands(node):
    """The arguments of ``node``; a ``Piecewise``'s as ``expr0, cond0, expr1, cond1, ...``.

    (``Piecewise.args`` are ``ExprCondPair`` tuples, which are not values.)
    """
    if isinstance(node, sp.Piecewise):
        return tuple(a for pair in node.args for a in pair.args)
    return node.args


def _number(expr):
    if expr.is_Integer:
        return mpmath.mpf(int(expr))
    if expr.is_Rational:
        return mpmath.mpf(int(expr.p)) / int(expr.q)
    if expr.is_Float:
        return mpmath.mpf(expr._mpf_)
    if isinstance(expr, NumberSymbol):
        return mpmath.mpf(sp.N(expr, DPS + 10))
    raise Invalid("not a real number")


def _real(value):
    """``value`` as a finite mpf; Invalid for a non-real or non-finite value."""
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise Invalid("non-real value")
        value = value.real
    if not isinstance(value, mpmath.mpf):
        value = mpmath.mpf(value)
    if not mpmath.isfinite(value):
        raise Invalid("non-finite value")
    return value


#: Largest argument magnitude at which the reference evaluates a special function: mpmath's
#: polygamma, incomplete gamma/beta and Bessel functions take seconds to minutes far out
#: (``psi(3, -1e300)``), so points beyond it are outside the domain the properties check.
SPECIAL_ARGUMENT_LIMIT = 1e4


def _apply(node, args):
    """The value of the real-valued ``node`` at the values ``args`` of its arguments."""
    if type(node) in _SLOW_FAR_OUT and any(abs(a) > SPECIAL_ARGUMENT_LIMIT for a in args):
        raise Invalid("a special-function argument beyond SPECIAL_ARGUMENT_LIMIT")
    try:
        if node.is_Add:  # exact: 1 + 3e-170 must not round to 1 (log1p rewrites see the difference)
            value = functools.reduce(lambda a, b: mpmath.fadd(a, b, exact=True), args)
        elif node.is_Mul:
            value = functools.reduce(lambda a, b: mpmath.fmul(a, b, exact=True), args)
        elif node.is_Pow:
            base, exponent = args
            if base == 0 and exponent <= 0:
                raise Invalid("0 to a non-positive power")
            value = mpmath.power(base, exponent)
        else:
            value = REAL_FUNCTIONS[type(node)](*args)
    except (ZeroDivisionError, ValueError, OverflowError) as err:
        raise Invalid(str(err)) from err
    return _real(value)


def _partial_magnitude(node, args, j):
    """``|d node / d args[j]|`` from differences at 30 digits; infinite on the edge of the domain."""
    a = args[j]
    h = mpmath.mpf(10) ** -12 * max(1, abs(a))
    shifted = []
    for step in (h, -h):
        trial = list(args)
        trial[j] = a + step
        try:
            shifted.append((step, _apply(node, trial)))
        except Invalid:
            pass
    if len(shifted) < 2:  # on the edge of the domain (asin at 1): no derivative there
        return mpmath.inf
    base = _apply(node, args)
    # the smaller one-sided difference: at a jump (acot at 0) the other one is the jump / h
    return min(abs(v - base) / h for _, v in shifted)


# ---------------------------------------------------------------------------- dtype facts
@dataclass(frozen=True)
class DtypeFacts:
    """What the bound and the range check need to know about a float dtype."""

    name: str
    eps: float
    tiny: float
    huge: float

    @classmethod
    def of(cls, dtype, squared=False):
        """The facts of ``dtype``; ``squared``: the range shrunk so that squares stay in range.

        Gradient formulas square node values (``atan2``: ``x**2 + y**2``,
        ``asin``: ``1 - x**2``, ``tanh``: ``1 - tanh(x)**2``), so the points of
        a gradient check keep every node between the square roots of the limits.
        """
        info = np.finfo(np.dtype(dtype))
        tiny, huge = float(info.tiny), float(info.max)
        if squared:
            tiny, huge = math.sqrt(tiny), math.sqrt(huge)
        return cls(str(np.dtype(dtype)), float(info.eps), tiny * RANGE_GUARD, huge / RANGE_GUARD)

    def holds(self, value) -> bool:
        """True when the dtype represents the real number ``value`` exactly."""
        try:
            f = float(value)
        except OverflowError:
            return False
        if self.name == "float32":
            f = float(np.float32(f))
        return math.isfinite(f) and mpmath.mpf(f) == value

    def in_range(self, value) -> bool:
        a = abs(value)
        return a == 0 or self.tiny <= a <= self.huge


# ---------------------------------------------------------------------------- the program
@dataclass
class Analysis:
    """The reference at one point: the value and the first-order error bound ``B``."""

    value: object  # mpf, or bool for a boolean expression
    bound: float  # absolute; math.inf when a shift leaves the domain
    kink: bool  # some jump or kink lies within sqrt(eps) of the point (gradients skip it)
    floor: float = 0.0  # absolute error allowed besides the bound (gradients: see Program.tangent_scales)


class Program:
    """A SymPy expression as its distinct nodes, children before parents.

    Parameters
    ----------
    expr : sympy.Basic
        A real-valued or boolean expression of the classes :func:`evaluable` accepts.
    symbols : sequence of sympy.Symbol
        The inputs, in the order of the points given to :meth:`evaluate`.

    Raises
    ------
    NotImplementedError
        ``expr`` contains a class the reference cannot evaluate.
    """

    def __init__(self, expr, symbols):
        self.expr = expr
        self.symbols = tuple(symbols)
        self.nodes: list = []
        self.index: dict = {}
        self.children: list[tuple[int, ...]] = []
        stack = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.index:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(operands(node)) if a not in self.index)
                continue
            if not evaluable(type(node)):
                raise NotImplementedError(f"the reference cannot evaluate {type(node).__name__}: {node}")
            self.index[node] = len(self.nodes)
            self.nodes.append(node)
            self.children.append(tuple(self.index[a] for a in operands(node)))
        self.root = self.index[expr]
        # above[i]: the nodes whose value depends on node i (i itself included)
        below = []
        for i, ch in enumerate(self.children):
            s = {i}
            for c in ch:
                s |= below[c]
            below.append(frozenset(s))
        self.above = [frozenset(j for j in range(len(self.nodes)) if i in below[j])
                      for i in range(len(self.nodes))]
        self.is_boolean = not isinstance(expr, sp.Expr)
        # (parent, lhs, rhs) of the equalities between real values
        self.equalities = [(p, *self.children[p]) for p, node in enumerate(self.nodes)
                           if isinstance(node, (sp.Eq, sp.Ne)) and len(self.children[p]) == 2]
        # (parent, child): the child is an argument at which the parent has a pole at 0
        self.poles = []
        for p, node in enumerate(self.nodes):
            ch = self.children[p]
            if isinstance(node, _POLE_AT_ZERO) or (node.is_Pow and node.exp.is_negative):
                self.poles.append((p, ch[0]))
            elif (isinstance(node, sp.Mod) or (isinstance(node, sp.log) and len(ch) == 2)
                  or isinstance(node, _POLE_AT_ZERO_OF_SECOND)):
                self.poles.append((p, ch[1]))
            elif node.is_Pow and not node.exp.is_Number:
                self.poles.append((p, ch[0]))
        # (parent, argument, quarter period or None for |divisor| / 4): periodic nodes
        self.periodic = []
        for p, node in enumerate(self.nodes):
            ch = self.children[p]
            if isinstance(node, _PERIODIC):
                self.periodic.append((p, ch[0], mpmath.pi / 4 if isinstance(node, _TRIGONOMETRIC) else 0.25))
            elif isinstance(node, sp.Mod):
                self.periodic.append((p, ch[0], None))

    # -------------------------------------------------------------- evaluation
    def evaluate(self, point, facts: DtypeFacts, memo=None):
        """The value of the expression at ``point`` (a sequence of Python floats).

        ``memo`` (node index -> value) is filled with every node evaluated (untaken
        ``Piecewise`` branches are not).  Raises :class:`Invalid` outside the domain.
        """
        if memo is None:
            memo = {}
        env = {s: mpmath.mpf(float(v)) for s, v in zip(self.symbols, point)}
        with mpmath.workdps(DPS):
            return self._eval(self.root, env, memo, facts)

    def _eval(self, i, env, memo, facts):
        if i in memo:
            return memo[i]
        node = self.nodes[i]
        ch = self.children[i]
        cls = type(node)
        if isinstance(node, sp.Piecewise):
            for k in range(0, len(ch), 2):
                if self._eval(ch[k + 1], env, memo, facts):
                    value = self._eval(ch[k], env, memo, facts)
                    break
            else:
                raise Invalid("no Piecewise condition holds (nan)")
        elif isinstance(node, boolalg.ITE):
            c = self._eval(ch[0], env, memo, facts)
            value = self._eval(ch[1] if c else ch[2], env, memo, facts)
        elif cls in BOOLEAN_FUNCTIONS:
            value = bool(BOOLEAN_FUNCTIONS[cls](*[self._eval(c, env, memo, facts) for c in ch]))
        elif isinstance(node, boolalg.BooleanAtom):
            value = bool(node)
        elif node.is_Symbol:
            value = env[node]
        elif node.is_Number or isinstance(node, NumberSymbol):
            value = _number(node)
            if not facts.in_range(value):
                raise Invalid("a constant is outside the range of the dtype")
        else:
            args = [self._eval(c, env, memo, facts) for c in ch]
            value = _apply(node, args)
            if not facts.in_range(value):
                raise Invalid("a value is outside the range of the dtype")
        memo[i] = value
        return value

    # -------------------------------------------------------------- the bound
    def analyse(self, point, facts: DtypeFacts):
        """:class:`Analysis` at ``point``, or None when the point is outside the domain."""
        memo: dict = {}
        try:
            y = self.evaluate(point, facts, memo)
            with mpmath.workdps(DPS + 15):  # the reference itself must be good to 20 digits
                env = {s: mpmath.mpf(float(v)) for s, v in zip(self.symbols, point)}
                y_more = self._eval(self.root, env, {}, facts)
        except Invalid:
            return None
        if self.is_boolean:
            if y_more != y:
                return None
        elif not mpmath.almosteq(y, y_more, rel_eps=mpmath.mpf(10) ** -(DPS - 10), abs_eps=0):
            return None  # e.g. sin(1/x) for x = 1e-59: 30 digits do not resolve the argument mod 2 pi
        env = {s: mpmath.mpf(float(v)) for s, v in zip(self.symbols, point)}
        bound = mpmath.mpf(0)
        with mpmath.workdps(DPS):
            for i in list(memo):
                for shifted in error_sources(self.nodes[i], memo[i],
                                             [memo.get(c) for c in self.children[i]], facts):
                    worst = mpmath.mpf(0)
                    for v in shifted:
                        trial = {j: val for j, val in memo.items() if j not in self.above[i]}
                        trial[i] = v
                        try:
                            y2 = self._eval(self.root, env, trial, _UNCHECKED)
                        except Invalid:
                            return Analysis(y, math.inf, True)
                        if self._crosses_a_pole(i, memo, trial) or self._spans_a_period(i, memo, trial):
                            return Analysis(y, math.inf, True)
                        if self.is_boolean:
                            if y2 != y:
                                return Analysis(y, math.inf, True)
                            continue
                        worst = max(worst, abs(y2 - y))
                    bound += worst
            kink = self._near_kink(memo, facts)
        return Analysis(y, float(bound), kink)

    def tangent_scales(self, point, facts: DtypeFacts):
        """``{symbol: F}``: an absolute error bound of a computed partial derivative.

        A first-order error analysis of forward mode, in absolute values:
        with ``T_i = sum_j |L_ij| T_j`` the size of the terms the derivative
        of node ``i`` is a sum of (``T = 1`` for the symbol itself, ``L_ij`` the
        local partial derivative), its error grows as
        ``F_i = sum_j |L_ij| F_j + d_ij |L_ij| T_j``, where ``d_ij`` is the
        error with which the local partial is computed:

        * ``K_LIBM * eps`` times the cancellation of PyTensor's formula for it
          (``1/sqrt(u**2 - 1)`` for ``acosh``, ``1 - tanh(u)**2``,
          ``1/(1 - u**2)`` for ``atanh``...: :data:`_LOCAL_CANCELLATION`); SymPy's
          ``diff`` often simplifies such a difference away
          (``d/dx acosh(x**6 + 1) = 6x**3/(|x| sqrt(x**6 + 2))``) so the
          bound of its expression cannot see it;
        * for a selection (``Min``, ``Max``, ``Abs``, ``sign``, ``floor``,
          ``Mod``, ``Heaviside``...), ``|L| >= 1`` and ``K_COMPOSED * eps``:
          PyTensor's gradients of these are masks such as ``1 - eq(max(x, y), x)``,
          and its rewrites re-associate the sums they appear in.

        Only the taken ``Piecewise`` branch counts.
        """
        memo: dict = {}
        self.evaluate(point, facts, memo)
        eps = mpmath.mpf(facts.eps)
        scales = {}
        with mpmath.workdps(DPS):
            for s in self.symbols:
                t: dict = {}
                f: dict = {}
                for i, node in enumerate(self.nodes):
                    t[i] = f[i] = mpmath.mpf(0)
                    if i not in memo or not isinstance(memo[i], mpmath.mpf):
                        continue
                    if node.is_Symbol:
                        t[i] = mpmath.mpf(1 if node == s else 0)
                        continue
                    if isinstance(node, (sp.Piecewise, boolalg.ITE)):
                        taken = [c for c in self.children[i] if c in memo and isinstance(memo[c], mpmath.mpf)]
                        t[i] = max((t[c] for c in taken), default=mpmath.mpf(0))
                        f[i] = max((f[c] for c in taken), default=mpmath.mpf(0))
                        continue
                    if not self.children[i]:
                        continue
                    args = [memo[c] for c in self.children[i]]
                    for j, c in enumerate(self.children[i]):
                        if not (t[c] or f[c]):
                            continue
                        partial = _partial_magnitude(node, args, j)
                        if isinstance(node, NON_SMOOTH):
                            partial, d = max(mpmath.mpf(1), partial), K_COMPOSED * eps
                        elif node.is_Pow and j == 1:  # d/de b**e = b**e log(b): log of a rounded b near 1
                            d = K_LIBM * eps * (1 + 1 / max(abs(mpmath.log(args[0])), eps))
                        else:
                            cancel = _LOCAL_CANCELLATION.get(type(node))
                            d = K_LIBM * eps * (cancel(args[0]) if cancel else 1)
                        t[i] += partial * t[c]
                        f[i] += partial * f[c] + d * partial * t[c]
                scales[s] = float(f[self.root])
        return scales

    def _crosses_a_pole(self, shifted, memo, trial) -> bool:
        """True when shifting node ``shifted`` moves the argument of a pole at 0 to or across 0.

        There the function is unbounded within the rounding error, so the
        computed value may be infinite and no finite bound holds.  Likewise
        when it moves the two sides of an ``Eq``/``Ne`` across each other: the
        relation flips inside the shift, where the two ends do not show it.
        """
        for parent, child in self.poles:
            if parent not in self.above[shifted] or child not in trial or child not in memo:
                continue
            a, b = memo[child], trial[child]
            if isinstance(a, mpmath.mpf) and (b == 0 or (a > 0) != (b > 0)):
                return True
        # an equality whose sides come within the shift: Eq(x + 2, 2) at x = 2e-12 in float32
        for parent, lhs, rhs in self.equalities:
            if parent not in self.above[shifted] or not all(c in memo and c in trial for c in (lhs, rhs)):
                continue
            a, b = memo[lhs] - memo[rhs], trial[lhs] - trial[rhs]
            if a != 0 and (b == 0 or (a > 0) != (b > 0)):
                return True
        return False

    def _spans_a_period(self, shifted, memo, trial) -> bool:
        """True when shifting node ``shifted`` moves the argument of a periodic node by a quarter period.

        The bound compares the two ends of the shift only; for ``cos(x**5)`` at
        ``x = 1000`` in float32 the rounding of ``x**5`` (about 1e9) spans many
        periods, every value in the range is possible in between, and no bound
        short of the range holds: the row is unresolvable in the dtype (like
        ``sin(1e60)``), and is skipped.  Periodic: the trigonometric functions,
        ``frac`` (period 1) and ``Mod(a, b)`` in ``a`` (period ``|b|``).
        """
        for parent, child, quarter in self.periodic:
            if parent not in self.above[shifted] or child not in trial or child not in memo:
                continue
            a, b = memo[child], trial[child]
            if not (isinstance(a, mpmath.mpf) and isinstance(b, mpmath.mpf)):
                continue
            if quarter is None:  # Mod: a quarter of the divisor's magnitude
                divisor = memo.get(self.children[parent][1])
                if not isinstance(divisor, mpmath.mpf):
                    continue
                quarter = abs(divisor) / 4
            if abs(a - b) >= quarter:
                return True
        return False

    def _near_kink(self, memo, facts) -> bool:
        """True when a jump or kink of a non-smooth node lies within ``sqrt(eps)`` (relative) of the point."""
        tol = mpmath.mpf(math.sqrt(facts.eps))
        for i, value in memo.items():
            node = self.nodes[i]
            if not isinstance(node, NON_SMOOTH + JUMP_AT_ZERO):
                continue
            args = [memo.get(c) for c in self.children[i]]
            if isinstance(node, sp.Piecewise):
                continue  # its conditions are relational nodes of their own
            reals = [a for a in args if isinstance(a, mpmath.mpf)]
            if isinstance(node, (sp.Min, sp.Max, nn.minimum, nn.maximum)):
                if any(abs(a - b) <= tol * (1 + abs(a) + abs(b))
                       for k, a in enumerate(reals) for b in reals[k + 1:]):
                    return True
            elif isinstance(node, (sp.floor, sp.ceiling, sp.frac)):
                a = reals[0]
                if abs(a - mpmath.nint(a)) <= tol * (1 + abs(a)):
                    return True
            elif isinstance(node, sp.Mod):
                q = reals[0] / reals[1]
                if abs(q - mpmath.nint(q)) <= tol * (1 + abs(q)):
                    return True
            elif type(node) in BOOLEAN_FUNCTIONS and len(reals) == 2:
                a, b = reals
                if abs(a - b) <= tol * (1 + abs(a) + abs(b)):
                    return True
            elif reals and isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.acot)):
                if abs(reals[0]) <= tol:
                    return True
        return False


class _Unchecked(DtypeFacts):
    """Range facts that accept every finite value (shifted re-evaluations)."""

    def in_range(self, value) -> bool:
        return True


_UNCHECKED = _Unchecked("any", 0.0, 0.0, math.inf)


# ---------------------------------------------------------------------------- error sources
_RECIPROCAL_INNER = {sp.asec: mpmath.acos, sp.acsc: mpmath.asin, sp.acoth: mpmath.atanh,
                     sp.asech: mpmath.acosh, sp.acsch: mpmath.asinh}
_COMPOSED = (sp.cot, sp.sec, sp.csc, sp.coth, sp.sech, sp.csch, sp.acot)
_EXACT = (sp.Abs, sp.sign, sp.floor, sp.ceiling, sp.Min, sp.Max, sp.Heaviside, sp.Piecewise,
          boolalg.ITE, sp.DiracDelta, nn.minimum, nn.maximum)
#: Special functions: (relative error, absolute error) in eps; the absolute part where a kernel
#: is accurate to eps only in absolute terms near a zero of the function (test_mapping.py's atol).
_SPECIAL = {
    sp.gamma: (K_SPECIAL, 0), sp.loggamma: (K_SPECIAL, K_SPECIAL), sp.digamma: (K_SPECIAL, K_SPECIAL),
    sp.trigamma: (K_SPECIAL, 0), sp.polygamma: (K_SPECIAL, K_SPECIAL), sp.erfinv: (K_SPECIAL, 0),
    sp.erfcinv: (K_SPECIAL, 0), sp.besselj: (K_SPECIAL, 4),
    sp.besseli: (K_SPECIAL_FORMULA, 0),  # SciPy's iv of a non-integer order: 24 ulp at iv(1/2, 3)
    sp.besselk: (K_SPECIAL, 0), sp.factorial: (K_SPECIAL, 0),
    sp.beta: (K_SPECIAL_FORMULA, 0), sp.lowergamma: (K_SPECIAL_FORMULA, 0),
    sp.uppergamma: (K_SPECIAL_FORMULA, 0), sp.binomial: (K_SPECIAL_FORMULA, 0),
    sp.RisingFactorial: (K_SPECIAL_FORMULA, 0), sp.FallingFactorial: (K_SPECIAL_FORMULA, 0),
    sp.betainc: (K_SPECIAL_FORMULA, K_SPECIAL_FORMULA),
    sp.betainc_regularized: (K_SPECIAL_FORMULA, K_SPECIAL_FORMULA),
    sp.sinc: (K_COMPOSED, 1), cf.hypot: (K_LIBM, 0), cf.Cbrt: (K_LIBM, 0),
    nn.logaddexp: (K_COMPOSED, K_COMPOSED), nn.logaddexp2: (K_COMPOSED, K_COMPOSED),
    xlogy: (K_COMPOSED, 0), cf.Sqrt: (K_ROUNDED, 0),
}


def _relative(v, k, eps):
    d = abs(v) * k * eps
    return (v - d, v + d)


def error_sources(node, v, args, facts: DtypeFacts):
    """The shifted values ``(v - E, v + E)`` of ``node``, one pair per independent error source.

    ``v`` is the node's exact value, ``args`` its arguments' exact values (None
    for arguments not evaluated).  See the module docstring for the table.
    """
    eps = facts.eps
    if not isinstance(v, mpmath.mpf) or node.is_Symbol:
        return []
    if node.is_Integer:
        return [] if facts.holds(v) else [_relative(v, K_ROUNDED, eps)]
    if node.is_Number or isinstance(node, NumberSymbol):
        return [] if facts.holds(v) else [_relative(v, K_ROUNDED, eps)]
    if node.is_Add:
        if len(args) == 2 and facts.holds(v):
            return []
        d = (len(args) - 1) * K_ROUNDED * eps * mpmath.fsum(abs(a) for a in args)
        return [(v - d, v + d)]
    if node.is_Mul:
        if len(args) == 2 and facts.holds(v):
            return []
        return [_relative(v, (len(args) - 1) * K_ROUNDED, eps)]
    if node.is_Pow:
        e = node.exp
        if e in (sp.S.Half, -sp.S.One):
            return [] if facts.holds(v) else [_relative(v, K_ROUNDED, eps)]
        if e == -sp.S.Half:
            return [_relative(v, 2 * K_ROUNDED, eps)]
        if e.is_Integer:
            return [] if facts.holds(v) else [_relative(v, K_LIBM + abs(int(e)) + 1, eps)]
        return [_relative(v, K_LIBM, eps)]
    cls = type(node)
    if cls in _EXACT:
        return []
    if cls in (sp.beta, sp.binomial, sp.RisingFactorial, sp.FallingFactorial) and v != 0 and eps < 1e-10:
        # special.py's Stirling forms exponentiate a float64 logarithm of size ~|log v|: its
        # rounding alone is ~|log v| eps / 2 relative (measured <= 0.7 (32 + |log v|) ulp)
        d = (K_SPECIAL_FORMULA + abs(mpmath.log(abs(v)))) * eps * abs(v)
        return [(v - d, v + d)]
    if cls in _SPECIAL:
        k, floor = _SPECIAL[cls]
        d = (k * abs(v) + floor) * eps
        return [(v - d, v + d)]
    if cls is sp.erf2:  # erf(y) - erf(x): the error of each term, whatever the cancellation
        d = K_SPECIAL * eps * (abs(mpmath.erf(args[0])) + abs(mpmath.erf(args[1])))
        return [(v - d, v + d)]
    if cls is cf.fma:  # a*b + c with one or two roundings
        d = 2 * K_ROUNDED * eps * (abs(args[0] * args[1]) + abs(args[2]))
        return [(v - d, v + d)]
    if cls in (sp.frac,):
        return [_relative(v, K_ROUNDED, eps)]
    if cls is sp.Mod:
        d = K_ROUNDED * eps * (abs(args[0]) + abs(args[1]))
        return [(v - d, v + d)]
    if cls is sp.log and len(args) == 2:
        return [_relative(v, 2 * K_COMPOSED, eps)]
    inner = _RECIPROCAL_INNER.get(cls)
    if inner is None and cls is sp.acot and abs(args[0]) >= 1:
        inner = mpmath.atan
    if inner is not None:
        sources = [_relative(v, K_LIBM, eps)]
        r = 1 / args[0]
        if not facts.holds(r):
            shifted = []
            for r2 in _relative(r, K_ROUNDED, eps):
                try:
                    shifted.append(_real(inner(r2)))
                except Invalid:
                    shifted.append(mpmath.mpf(math.inf))  # the shift leaves the domain
            sources.append(tuple(shifted))
        return sources
    if cls in _COMPOSED:
        return [_relative(v, 2 * K_COMPOSED if cls is sp.acot else K_COMPOSED, eps)]
    return [_relative(v, K_LIBM, eps)]  # one libm call


# ---------------------------------------------------------------------------- gradients
def derivative(expr, symbol):
    """``sympy.diff(expr, symbol)`` in a form the reference evaluates, and bounds as computed.

    ``coth`` and ``sech`` are first rewritten into the mapping table's formulas
    (``1/tanh``, ``2t/(1 + t**2)``): the same function, but the derivative of
    the formula is what PyTensor's reverse mode computes, and it cancels
    (``1 - tanh(u)**2``, ``1 - t**2``) where SymPy's ``-1/sinh(u)**2`` and
    ``-tanh(u) sech(u)`` do not, so the bound must see those terms.  For the
    other functions SymPy's derivative has the structure of PyTensor's
    gradient (``1 - tanh(u)**2``, ``1/sqrt(1 - u**2)``, ...).
    ``frac``, ``Mod`` and the two-argument ``log`` are rewritten too
    (``x - floor(x)``, ``a - b floor(a/b)``, ``log(a)/log(b)``; SymPy returns an
    unevaluated ``Derivative`` for the first two and ``1/x`` for
    ``diff(log(x, b, evaluate=False), x)``), and the derivatives of ``floor``
    and ``ceiling`` (zero away from the integers, where the gradient check
    does not go) are replaced by 0.
    """
    def rewrite(e):
        if isinstance(e, sp.coth):  # the mapping's 1/tanh: its derivative cancels in 1 - tanh**2
            return 1 / sp.tanh(e.args[0])
        if isinstance(e, sp.sech):  # the mapping's formula 2t/(1 + t**2), t = exp(-|x|)
            t = sp.exp(-sp.Abs(e.args[0]))
            return 2 * t / (1 + t**2)
        if isinstance(e, sp.frac):
            return e.args[0] - sp.floor(e.args[0])
        if isinstance(e, sp.Mod):
            a, b = e.args
            return a - b * sp.floor(a / b)
        if isinstance(e, sp.log) and len(e.args) == 2:
            return sp.log(e.args[0]) / sp.log(e.args[1])
        return e

    ready = expr.replace(lambda e: isinstance(e, (sp.coth, sp.sech, sp.frac, sp.Mod, sp.log)), rewrite)
    d = sp.diff(ready, symbol)
    d = d.replace(lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, (sp.floor, sp.ceiling)),
                  lambda e: sp.S.Zero)
    d = d.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit())
    return d
