"""Hypothesis strategies: random SymPy expressions, points inside their domain, test cases.

Expressions
    :func:`real_expressions` draws real-valued expression trees over the real
    symbols ``x, y, z`` from everything the mapping table and the printer
    support on the real line: arithmetic, integer, rational and symbolic powers,
    ``exp``/``log`` (one and two arguments), the trigonometric and hyperbolic
    functions and all their inverses, ``atan2``, ``Abs``, ``sign``, ``floor``,
    ``ceiling``, ``frac``, ``Mod``, ``Heaviside`` (with and without ``H0``),
    ``Min``/``Max``, numbers and named constants, and ``Piecewise`` whose
    conditions are relations (``<``, ``<=``, ``>``, ``>=``, ``Eq``, ``Ne``)
    combined by ``And``, ``Or``, ``Not``, ``Xor``, ``Nand``, ``Nor``,
    ``Implies`` and ``ITE`` (and ``isnan``/``isinf``); the special functions
    of ``sympy_theano_printer.special`` (gamma family, incomplete gamma and
    beta, error functions and inverses, Bessel J/I/K of integer and
    half-integer orders, factorials, binomials, Pochhammer symbols, ``sinc``,
    ``DiracDelta``) and the ``sympy.codegen`` functions (``expm1``, ``log1p``,
    ``exp2``, ``log2``, ``log10``, ``Sqrt``, ``Cbrt``, ``hypot``, ``fma``,
    ``logaddexp``, ``logaddexp2``, ``minimum``, ``maximum``).
    :func:`boolean_expressions` draws the conditions alone (boolean outputs);
    :func:`compute_patterns` draws subtrees that ``expand_compute`` rewrites.

Domains
    A function whose real domain is not the whole line gets, most of the time,
    an argument wrapped in a *guard* that maps the real line into its domain
    (``log(exp(u))``-like: ``log(u**2 + 1)``, ``asin(tanh(u))``,
    ``acosh(cosh(u))``, ``asec(u**2 + 2)``...); otherwise the argument is left
    raw, and the points filter it.

Points and cases
    :func:`cases` draws an expression together with up to ``points`` rows of
    values of the dtype at which every node the result depends on is real,
    finite and inside the dtype's range, checked by mpmath at 30 digits
    (:class:`~properties.reference.Program`); candidate rows outside the
    domain are dropped, and an expression with no row left is rejected with
    ``assume``.  Each kept row carries the reference value and its error bound.
    :func:`gradient_cases` adds ``sympy.diff`` of the expression with respect
    to each of its symbols, with the rows where every derivative is finite and
    no kink (``Abs`` at 0, a ``Max`` tie, a ``Piecewise`` boundary) is near.

Every strategy takes the dtype (``"float64"``, ``"float32"``) because the rows
are values of that dtype and the bound is in its ``eps``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import sympy as sp
from hypothesis import assume
from hypothesis import strategies as st
from sympy.codegen import cfunctions as cf
from sympy.codegen import numpy_nodes as nn
from sympy.core.numbers import NumberSymbol
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic import boolalg

from .reference import Analysis, DtypeFacts, Program, derivative, evaluable

X, Y, Z = SYMBOLS = sp.symbols("x y z", real=True)

# ---------------------------------------------------------------------------- guards
#: Maps of the real line into a function's domain, by domain name.
GUARDS = {
    "positive": (sp.exp, lambda u: u**2 + 1, lambda u: sp.Abs(u) + sp.Rational(1, 2), sp.cosh),
    "unit": (sp.sin, sp.cos, sp.tanh, lambda u: u / (sp.Abs(u) + 1)),
    "open_unit": (sp.tanh, lambda u: u / (sp.Abs(u) + 1), lambda u: sp.sin(u) / 2),
    "ge1": (sp.cosh, lambda u: u**2 + 1, lambda u: sp.Abs(u) + 1),
    "abs_gt1": (lambda u: u**2 + 2, lambda u: -sp.cosh(u) - 1, lambda u: sp.Abs(u) + 2),
    "unit_pos": (lambda u: sp.exp(-u**2), sp.sech, lambda u: 1 / (u**2 + 1)),
    "nonzero": (lambda u: u**2 + 1, sp.exp, lambda u: -sp.Abs(u) - 1),
    "unit01": (lambda u: sp.exp(-u**2), lambda u: 1 / (u**2 + 1), lambda u: sp.sin(u)**2),
    "open_0_2": (lambda u: 1 + sp.tanh(u), lambda u: sp.exp(-u**2), lambda u: 2 - sp.exp(-u**2)),
    "gt_minus1": (lambda u: u**2, sp.tanh, lambda u: sp.exp(u) - sp.Rational(1, 2)),
}


def _unevaluated(cls):
    """``cls(u)`` as it is, not rewritten (``digamma(x)`` would become ``polygamma(0, x)``)."""
    def build(*args):
        return cls(*args, evaluate=False)
    build.__name__ = cls.__name__
    build.cls = cls
    return build

#: (SymPy function, domain of its argument); None: the whole real line (poles are filtered).
UNARY = (
    (sp.exp, None), (sp.log, "positive"),
    (sp.sin, None), (sp.cos, None), (sp.tan, None), (sp.cot, None), (sp.sec, None), (sp.csc, None),
    (sp.asin, "unit"), (sp.acos, "unit"), (sp.atan, None), (sp.acot, None),
    (sp.asec, "abs_gt1"), (sp.acsc, "abs_gt1"),
    (sp.sinh, None), (sp.cosh, None), (sp.tanh, None), (sp.coth, "nonzero"), (sp.sech, None),
    (sp.csch, "nonzero"), (sp.asinh, None), (sp.acosh, "ge1"), (sp.atanh, "open_unit"),
    (sp.acoth, "abs_gt1"), (sp.asech, "unit_pos"), (sp.acsch, "nonzero"),
    (sp.Abs, None), (sp.sign, None), (sp.floor, None), (sp.ceiling, None), (sp.frac, None),
    (sp.Heaviside, None),
    # special functions (sympy_theano_printer/special.py)
    (sp.gamma, None), (sp.loggamma, "positive"), (_unevaluated(sp.digamma), None),
    (_unevaluated(sp.trigamma), None), (sp.erf, None), (sp.erfc, None), (sp.erfinv, "open_unit"),
    (sp.erfcinv, "open_0_2"), (sp.factorial, None), (sp.sinc, None), (sp.DiracDelta, None),
    (sp.beta, "positive"),
    # sympy.codegen.cfunctions (the targets of the compute-oriented expand hint)
    (cf.expm1, None), (cf.log1p, "gt_minus1"), (cf.exp2, None), (cf.log2, "positive"),
    (cf.log10, "positive"), (cf.Sqrt, "positive"), (cf.Cbrt, None),
)
#: Functions of two real arguments, with the domain of each (see ``_binary_special``).
BINARY = (
    (sp.beta, "positive", "positive"), (sp.binomial, "positive", "positive"),
    (sp.RisingFactorial, "positive", "positive"), (sp.FallingFactorial, "positive", "positive"),
    (sp.erf2, None, None), (cf.hypot, None, None), (nn.logaddexp, None, None),
    (nn.logaddexp2, None, None), (nn.minimum, None, None), (nn.maximum, None, None),
)
#: Classes SymPy evaluates exactly at numbers (arguments get a symbol, see ``_symbolic``).
SPECIAL_CLASSES = frozenset(
    [sp.gamma, sp.loggamma, sp.digamma, sp.trigamma, sp.erf, sp.erfc, sp.erfinv, sp.erfcinv,
     sp.factorial, sp.sinc, sp.DiracDelta, sp.beta, cf.expm1, cf.log1p, cf.exp2, cf.log2, cf.log10,
     cf.Sqrt, cf.Cbrt])
#: Orders of ``polygamma`` and of the Bessel functions (integers and half-integers).
POLYGAMMA_ORDERS = (0, 1, 2, 3)
BESSEL_ORDERS = (0, 1, 2, sp.S.Half, sp.Rational(3, 2))
#: Integer and rational exponents of ``Pow`` (sqrt, reciprocal, and those PyTensor specializes).
EXPONENTS = (2, -1, sp.S.Half, 3, -2, -sp.S.Half, sp.Rational(1, 3), sp.Rational(3, 2), 4, 5, -3)
#: Float constants (sp.Float at 15 digits; 0.5 and 2.5 are exact in every dtype).
FLOATS = ("0.5", "2.5", "0.1", "-1.25", "0.001", "1000.0", "1e-5")
CONSTANTS = (sp.pi, sp.E, sp.EulerGamma, sp.GoldenRatio, sp.Catalan)
#: Integers outside int16: in a float32 graph the printer must not let them upcast to float64.
BIG_INTEGERS = (70000, -40000, 10**6, 2**31 - 1)
RELATIONS = (sp.Lt, sp.Le, sp.Gt, sp.Ge, sp.Eq, sp.Ne)
LOGIC = ("And", "Or", "Not", "Xor", "Nand", "Nor", "Implies", "ITE")


#: Every SymPy class the strategies build on purpose.
COVERED = frozenset(
    [getattr(fn, "cls", fn) for fn, _ in UNARY]
    + [fn for fn, _, _ in BINARY]
    + [sp.Add, sp.Mul, sp.Pow, sp.atan2, sp.Min, sp.Max, sp.Mod, sp.log, sp.Heaviside, sp.Piecewise]
    + [sp.polygamma, sp.besselj, sp.besseli, sp.besselk, sp.betainc, sp.betainc_regularized, cf.fma]
    + list(RELATIONS)
    + [getattr(boolalg, op) for op in LOGIC]
    + [cf.isnan, cf.isinf]
)
#: Mapping entries left to ``tests/test_mapping.py``: functions of complex numbers
#: (on the real symbols drawn here SymPy reduces them to ``x``, ``0``...).
#: lowergamma/uppergamma: mpmath.gammainc, the reference, can recurse for minutes at some
#: arguments below SPECIAL_ARGUMENT_LIMIT (seen in the ci run); left to tests/test_mapping.py until
#: the reference bounds its time.
NOT_GENERATED = frozenset({sp.re, sp.im, sp.arg, sp.conjugate, sp.lowergamma, sp.uppergamma})


def _guard(draw, domain, arg):
    if domain is None or draw(st.integers(0, 3)) == 0:  # a raw argument a quarter of the time
        return arg
    return draw(st.sampled_from(GUARDS[domain]))(arg)


def _leaf(draw, symbols):
    kind = draw(st.sampled_from(("symbol", "symbol", "symbol", "integer", "rational", "float",
                                 "constant", "symbol", "big")))
    if kind == "symbol":
        return draw(st.sampled_from(symbols))
    if kind == "integer":
        return sp.Integer(draw(st.integers(-3, 5)))
    if kind == "rational":
        return sp.Rational(draw(st.integers(-7, 7)), draw(st.sampled_from((2, 3, 4, 5, 7, 10))))
    if kind == "float":
        return sp.Float(draw(st.sampled_from(FLOATS)))
    if kind == "constant":
        return draw(st.sampled_from(CONSTANTS))
    return sp.Integer(draw(st.sampled_from(BIG_INTEGERS)))


def _settled(draw, expr, symbols):
    """``expr``, or a symbol in its place when it is a constant other than a small, real one.

    Numbers and named constants stay; a composite constant stays only when it
    is small (at most two operations on numbers below 1e6) and real.  SymPy
    refuses to compare non-real constants, computes with huge ones exactly,
    and ``evalf`` of a nested constant can raise its working precision for
    minutes (``csch`` of a huge argument), so the others become a symbol.
    """
    if not isinstance(expr, sp.Expr) or expr.free_symbols or expr.is_Atom:
        return expr
    ok = sp.count_ops(expr) <= 2 and all(abs(a) < 10**6 for a in expr.atoms(sp.Number))
    if ok:
        try:
            z = complex(expr.evalf(15))
            ok = math.isfinite(z.real) and z.imag == 0
        except (TypeError, ValueError, OverflowError):
            ok = False
    return expr if ok else draw(st.sampled_from(symbols))


def _real(draw, depth, symbols, piecewise):
    return _settled(draw, _real_node(draw, depth, symbols, piecewise), symbols)


def _real_node(draw, depth, symbols, piecewise):
    if depth <= 0:
        return _leaf(draw, symbols)
    kind = draw(st.sampled_from(("leaf", "unary", "arith", "unary", "pow", "binary", "unary",
                                 "piecewise", "arith", "special")))
    if kind == "piecewise" and not piecewise:
        kind = "unary"
    sub = functools.partial(_real, draw, symbols=symbols, piecewise=piecewise)
    if kind == "leaf":
        return _leaf(draw, symbols)
    if kind == "unary":
        fn, domain = draw(st.sampled_from(UNARY))
        arg = _guard(draw, domain, sub(depth - 1 - (domain is not None)))
        if getattr(fn, "cls", fn) in SPECIAL_CLASSES:
            arg = _symbolic(draw, arg, symbols)
        return fn(arg)
    if kind == "arith":
        op = draw(st.sampled_from(("+", "*", "-", "/", "neg", "scale")))
        a = sub(depth - 1)
        if op == "neg":
            return -a
        if op == "scale":
            return _leaf(draw, symbols) * a
        b = sub(depth - 1)
        if op == "+":
            return a + b
        if op == "*":
            return a * b
        if op == "-":
            return a - b
        return a / b
    if kind == "pow":
        if draw(st.integers(0, 4)) == 0:  # a symbolic exponent, positive base
            base = _guard(draw, "positive", sub(depth - 2))
            exponent = sub(depth - 2)
            if not exponent.free_symbols:  # SymPy would evaluate c**n exactly: keep it symbolic
                base = _guard(draw, "positive", draw(st.sampled_from(symbols)))
            return sp.Pow(base, exponent)
        e = sp.sympify(draw(st.sampled_from(EXPONENTS)))
        base = sub(depth - 1)
        if not e.is_Integer:
            base = _guard(draw, "positive", base)
        return sp.Pow(base, e)
    if kind == "special":
        return _special(draw, depth, sub, symbols)
    if kind == "binary":
        op = draw(st.sampled_from(("atan2", "Max", "Min", "Mod", "log", "Heaviside", "Max3")))
        a = sub(depth - 1)
        if op == "atan2":
            return sp.atan2(a, sub(depth - 1))
        if op in ("Max", "Min"):
            return getattr(sp, op)(a, sub(depth - 1))
        if op == "Max3":
            return sp.Max(a, sub(depth - 1), _leaf(draw, symbols))
        if op == "Mod":
            b = _guard(draw, "nonzero", sub(depth - 2))
            if not (a.free_symbols or b.free_symbols):
                a = draw(st.sampled_from(symbols))
            # unevaluated: Mod.eval runs polynomial gcds that can take minutes on big integers
            return sp.Mod(a, b, evaluate=False)
        if op == "log":
            base = draw(st.sampled_from((sp.Integer(2), sp.Integer(10), sp.Rational(1, 2), None)))
            if base is None:
                base = _guard(draw, "positive", sub(depth - 2)) + 1
            return sp.log(_guard(draw, "positive", a), base, evaluate=False)
        return sp.Heaviside(a, draw(st.sampled_from((sp.S.Zero, sp.S.One, sp.S.Half))))
    # piecewise: 1 to 3 conditional branches, then an "otherwise" branch or none (NaN)
    n = draw(st.integers(1, 3))
    pieces = [(sub(depth - 1), _boolean(draw, depth - 1, symbols)) for _ in range(n)]
    if draw(st.booleans()):
        pieces.append((sub(depth - 1), sp.true))
    return sp.Piecewise(*pieces)


def _symbolic(draw, arg, symbols):
    """``arg``, or a symbol in its place when it has none.

    SymPy evaluates special functions of numbers exactly: ``factorial(2**31 - 1)``,
    ``RisingFactorial(x, 10**6)`` or ``gamma(70000)`` would take minutes or hours.
    """
    return arg if arg.free_symbols else draw(st.sampled_from(symbols))


def _special(draw, depth, sub, symbols):
    """A special function of several arguments (orders and parameters are small constants)."""
    kind = draw(st.sampled_from(("binary", "binary", "polygamma", "bessel", "betainc", "fma")))
    if kind == "binary":
        fn, da, db = draw(st.sampled_from(BINARY))
        return fn(_symbolic(draw, _guard(draw, da, sub(depth - 1 - (da is not None))), symbols),
                  _symbolic(draw, _guard(draw, db, sub(depth - 1 - (db is not None))), symbols))
    if kind == "polygamma":
        return sp.polygamma(draw(st.sampled_from(POLYGAMMA_ORDERS)), _symbolic(draw, sub(depth - 1), symbols))
    if kind == "bessel":
        fn = draw(st.sampled_from((sp.besselj, sp.besseli, sp.besselk)))
        order = draw(st.sampled_from(BESSEL_ORDERS))
        domain = "positive" if fn is sp.besselk or not order.is_Integer else None
        return fn(order, _symbolic(draw, _guard(draw, domain, sub(depth - 1 - (domain is not None))), symbols))
    if kind == "betainc":
        fn = draw(st.sampled_from((sp.betainc, sp.betainc_regularized)))
        # always inside [0, 1] and a, b > 0: see test_regression_betainc_outside_the_unit_interval
        a = draw(st.sampled_from(GUARDS["positive"]))(_symbolic(draw, sub(depth - 2), symbols))
        b = draw(st.sampled_from((sp.S.Half, sp.Integer(2), sp.Rational(7, 2))))
        x1 = draw(st.sampled_from(GUARDS["unit01"]))(_symbolic(draw, sub(depth - 2), symbols))
        x2 = draw(st.sampled_from((sp.Integer(0), sp.S.Half, sp.Integer(1))))
        return fn(a, b, x1, x2) if draw(st.booleans()) else fn(b, a, x2, x1)
    return cf.fma(sub(depth - 1), sub(depth - 1), sub(depth - 1))


def _boolean(draw, depth, symbols):
    sub = functools.partial(_real, draw, symbols=symbols, piecewise=False)
    if depth <= 1 or draw(st.integers(0, 2)) > 0:
        rel = draw(st.sampled_from(RELATIONS))
        if rel in (sp.Eq, sp.Ne) and draw(st.booleans()):  # equality of integer-valued things
            lhs = draw(st.sampled_from((sp.floor, sp.ceiling, sp.sign)))(sub(depth - 1))
            return rel(lhs, sp.Integer(draw(st.integers(-2, 2))))
        return rel(sub(max(depth - 1, 0)), sub(max(depth - 2, 0)))
    op = draw(st.sampled_from(LOGIC + ("isnan", "isinf")))
    a, b = _boolean(draw, depth - 1, symbols), _boolean(draw, depth - 1, symbols)
    if op in ("isnan", "isinf"):  # false at every point of the domain (values are finite there)
        test = (cf.isnan if op == "isnan" else cf.isinf)(sub(depth - 1))
        return sp.Or(test, a) if draw(st.booleans()) else sp.And(sp.Not(test), a)
    if op == "Not":
        return sp.Not(a)
    if op == "ITE":
        return sp.ITE(a, b, _boolean(draw, depth - 1, symbols))
    return getattr(sp, op)(a, b)


def _admissible(expr) -> bool:
    """Real (or boolean), finite, with symbols, and made only of classes both sides support."""
    from sympy_theano_printer.mapping import MAPPING

    if not isinstance(expr, sp.Basic) or not expr.free_symbols:
        return False
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        return False
    for node in sp.preorder_traversal(expr):
        cls = type(node)
        if cls is ExprCondPair:  # a Piecewise's (expr, cond) pair: its parts are checked on their own
            continue
        if not evaluable(cls):
            return False
        printable = (cls in MAPPING or node.is_Symbol or node.is_Number or node.is_Pow
                     or hasattr(cls, "_theano")  # a class that prints itself (expand's xlogy)
                     or isinstance(node, (NumberSymbol, sp.Piecewise, sp.logic.boolalg.BooleanAtom)))
        if not printable:
            return False
    return True


@st.composite
def real_expressions(draw, depth=3, symbols=SYMBOLS, piecewise=True):
    """A real-valued SymPy expression over ``symbols`` (at least one of them occurs)."""
    try:
        expr = _real(draw, depth, tuple(symbols), piecewise)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, RecursionError, OverflowError):  # SymPy refused
        # (Mod(a, 0), a < I) or failed (AttributeError inside Max._is_connected, a RecursionError)
        assume(False)
    assume(isinstance(expr, sp.Expr) and _admissible(expr))
    return expr


def _pattern(draw, sub):
    """A subtree shaped like the left side of a rule of ``expand_compute`` (``expand.RULES``)."""
    a, b = sub(), sub()
    if not a.free_symbols:
        a = draw(st.sampled_from(SYMBOLS))
    if not b.free_symbols:
        b = draw(st.sampled_from(SYMBOLS))
    kind = draw(st.sampled_from(("log1p", "expm1", "hypot", "exp2", "log2", "log10", "logaddexp",
                                 "cbrt", "xlogy", "horner", "factorial", "binomial", "rising",
                                 "falling")))
    positive = functools.partial(_guard, draw, "positive")
    if kind == "log1p":
        return sp.log(1 + _guard(draw, "gt_minus1", a))
    if kind == "expm1":
        return sp.exp(a) - 1
    if kind == "hypot":
        return sp.sqrt(a**2 + b**2)
    if kind == "exp2":
        return 2**a
    if kind in ("log2", "log10"):
        return sp.log(positive(a)) / sp.log(2 if kind == "log2" else 10)
    if kind == "logaddexp":
        return sp.log(sp.exp(a) + sp.exp(b))
    if kind == "cbrt":
        return positive(a) ** sp.Rational(1, 3)
    if kind == "xlogy":
        s = draw(st.sampled_from(SYMBOLS))
        return s * sp.log(positive(s))
    if kind == "horner":
        s = draw(st.sampled_from(SYMBOLS))
        coeffs = draw(st.lists(st.integers(-5, 5), min_size=3, max_size=6))
        return sum(c * s**k for k, c in enumerate(coeffs)) + a
    if kind == "factorial":
        return sp.factorial(positive(a))
    if kind == "binomial":
        return sp.binomial(positive(a), positive(b))
    return (sp.RisingFactorial if kind == "rising" else sp.FallingFactorial)(positive(a), positive(b))


@st.composite
def compute_patterns(draw, depth=2, symbols=SYMBOLS):
    """A sum or product of 1 to 3 subtrees that the rules of ``expand_compute`` rewrite."""
    def sub():
        return _real(draw, draw(st.integers(0, depth - 1)), tuple(symbols), False)

    try:
        terms = [_pattern(draw, sub) for _ in range(draw(st.integers(1, 3)))]
        expr = sp.Add(*terms) if draw(st.booleans()) else sp.Mul(*terms)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, RecursionError, OverflowError):
        assume(False)
    assume(isinstance(expr, sp.Expr) and _admissible(expr))
    return expr


@st.composite
def boolean_expressions(draw, depth=2, symbols=SYMBOLS):
    """A boolean SymPy expression (relations combined by logic) over ``symbols``."""
    try:
        expr = _boolean(draw, depth, tuple(symbols))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, RecursionError, OverflowError):
        assume(False)
    assume(not isinstance(expr, sp.Expr) and _admissible(expr))
    return expr


# ---------------------------------------------------------------------------- values
#: Values that sit on domain edges, kinks and branch points.
SPECIAL_VALUES = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 1.5, 0.25, 10.0, -10.0,
                  math.pi / 2, -math.pi / 2, math.pi, 1.0 + 2.0**-20, 1.0 - 2.0**-20)


def scalars(dtype):
    """Floats of ``dtype`` (as Python floats): special points, [-4, 4], and magnitudes 1e-8..1e8."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    magnitude = st.builds(lambda m, e: m * 10.0**e,
                          st.floats(-1, 1, width=width, allow_subnormal=False), st.integers(-8, 8))
    raw = st.one_of(st.sampled_from(SPECIAL_VALUES),
                    st.floats(-4, 4, width=width, allow_subnormal=False),
                    magnitude)
    return raw.map(lambda v: float(np.asarray(v, dtype=dtype)))


@functools.lru_cache(maxsize=4096)
def program_of(expr, symbols):
    """The (cached) :class:`Program` of ``expr`` over ``symbols``."""
    return Program(expr, symbols)


@functools.lru_cache(maxsize=1 << 16)
def analyse(expr, symbols, row, dtype, squared=False):
    """The (cached) :class:`Analysis` of ``expr`` at ``row`` in ``dtype``, None outside the domain.

    ``squared``: every node must stay within the square roots of the dtype's
    limits (gradient rows, see :meth:`DtypeFacts.of`).  Cached so that the back
    ends that draw the same examples (``derandomize``) pay for the 30-digit
    analysis once.
    """
    return program_of(expr, symbols).analyse(row, DtypeFacts.of(dtype, squared))


@dataclass(frozen=True)
class Case:
    """One expression with rows of input values inside its domain and their references.

    ``symbols`` are the expression's free symbols in input order; ``rows[j]``
    gives one value per symbol; ``analyses[j]`` the reference value and error
    bound there.  ``derivatives`` (gradient cases only) maps each symbol to
    ``(derivative expression, analyses at the same rows)``.
    """

    expr: sp.Basic
    symbols: tuple
    rows: tuple
    dtype: str
    analyses: tuple
    derivatives: dict = field(default_factory=dict)

    @property
    def is_boolean(self) -> bool:
        return not isinstance(self.expr, sp.Expr)

    def arrays(self):
        """One 1-d array of ``dtype`` per symbol, the rows stacked."""
        return [np.asarray([r[k] for r in self.rows], dtype=self.dtype) for k in range(len(self.symbols))]

    def with_expr(self, expr):
        """This case for another expression of the same symbols (e.g. a rewritten form).

        The reference and bound are recomputed for ``expr`` at the same rows;
        rows outside ``expr``'s domain are dropped.
        """
        kept = [(r, analyse(expr, self.symbols, r, self.dtype)) for r in self.rows]
        kept = [(r, a) for r, a in kept if a is not None]
        return replace(self, expr=expr, rows=tuple(r for r, _ in kept),
                       analyses=tuple(a for _, a in kept), derivatives={})

    def __repr__(self):
        return f"Case({sp.srepr(self.expr)}, rows={list(self.rows)}, dtype={self.dtype!r})"


def _symbols_of(expr):
    return tuple(sorted(expr.free_symbols, key=lambda s: s.name))


@st.composite
def cases(draw, dtype, expressions=None, points=6, tries=3):
    """A :class:`Case`: an expression and up to ``points`` rows inside its domain.

    ``expressions`` defaults to :func:`real_expressions`; ``tries * points``
    candidate rows are drawn at most.
    """
    expr = draw(expressions if expressions is not None else real_expressions())
    symbols = _symbols_of(expr)
    rows, analyses = [], []
    value = scalars(dtype)
    for _ in range(tries * points):
        row = tuple(draw(value) for _ in symbols)
        a = analyse(expr, symbols, row, dtype)
        if a is not None and row not in rows:
            rows.append(row)
            analyses.append(a)
            if len(rows) == points:
                break
    assume(rows)
    return Case(expr, symbols, tuple(rows), str(np.dtype(dtype)), tuple(analyses))


@st.composite
def gradient_cases(draw, dtype, expressions=None, points=4, tries=4):
    """A :class:`Case` with ``derivatives``: rows where the value and every partial are defined.

    Rows near a kink of the expression or of a derivative are dropped (the
    function is not differentiable there, and the two sides may legitimately
    disagree on which one-sided derivative to return).
    """
    expr = draw(expressions if expressions is not None else real_expressions(depth=3))
    # pytensor.grad of polygamma fails on FAST_COMPILE: test_regression_reverse_gradient_of_polygamma_on_fast_compile
    assume(not expr.has(sp.polygamma, sp.digamma, sp.trigamma, sp.loggamma, sp.gamma, sp.factorial, sp.beta,
                        sp.binomial, sp.RisingFactorial, sp.FallingFactorial))
    symbols = _symbols_of(expr)
    try:
        derivs = {s: derivative(expr, s) for s in symbols}
        for d in derivs.values():
            program_of(d, symbols)
    except NotImplementedError:  # a class the reference cannot evaluate
        assume(False)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, RecursionError, OverflowError):  # SymPy's diff failed
        assume(False)
    assume(all(_admissible(d) or (d.is_Number and d.is_finite) for d in derivs.values()))
    rows, analyses, danalyses = [], [], {s: [] for s in symbols}
    value = scalars(dtype)
    for _ in range(tries * points):
        row = tuple(draw(value) for _ in symbols)
        if row in rows:
            continue
        a = analyse(expr, symbols, row, dtype, True)
        if a is None or a.kink:
            continue
        das = {s: _analyse_derivative(d, symbols, row, dtype) for s, d in derivs.items()}
        if any(da is None or da.kink for da in das.values()):
            continue
        floors = tangent_scales(expr, symbols, row, dtype)
        if not all(math.isfinite(f) for f in floors.values()):
            continue  # a node sits on the edge of its domain (asin(z) at z = 1): no derivative
        das = {s: replace(da, floor=floors[s]) for s, da in das.items()}
        rows.append(row)
        analyses.append(a)
        for s, da in das.items():
            danalyses[s].append(da)
        if len(rows) == points:
            break
    assume(rows)
    return Case(expr, symbols, tuple(rows), str(np.dtype(dtype)), tuple(analyses),
                {s: (derivs[s], tuple(danalyses[s])) for s in symbols})


@functools.lru_cache(maxsize=1 << 14)
def tangent_scales(expr, symbols, row, dtype):
    """(Cached) :meth:`Program.tangent_scales` of ``expr`` at ``row``."""
    return program_of(expr, symbols).tangent_scales(row, DtypeFacts.of(dtype, True))


def _analyse_derivative(d, symbols, row, dtype):
    if d.is_Number:  # a constant derivative: exact unless it is not representable
        facts = DtypeFacts.of(dtype)
        value = Program(d, ()).evaluate((), facts)
        return Analysis(value, 0.0 if facts.holds(value) else abs(float(value)) * facts.eps, False)
    return analyse(d, symbols, row, dtype, True)


def batches(case_strategy, min_size=1, max_size=6):
    """Lists of cases compiled together as the outputs of one function."""
    return st.lists(case_strategy, min_size=min_size, max_size=max_size)
