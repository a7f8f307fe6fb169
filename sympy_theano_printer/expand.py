"""The compute-oriented expand hint: rewrite an expression into forms that compute faster or better.

:func:`expand_compute` applies the rules of :data:`RULES`, in order, to the
whole expression (``deep=True``) or to its top node only.  Each rule is
exact: it changes how a value is computed, never the value (up to the removable
singularity of ``x*log(x)`` at ``x = 0``, which ``xlogy`` fills with its limit
0).  The rules, with why each one helps:

==================  =============================================  ==========================
rule                rewrite                                        gain
==================  =============================================  ==========================
``factorial``       ``factorial(n) -> gamma(n + 1)``               a real-argument op
``binomial``        ``binomial(n, k) -> gamma ratio``              one op per gamma; the
                                                                   ``loggamma`` form above
                                                                   ``loggamma_above``
``rising``          ``RisingFactorial(x, k) ->                     same
                    gamma(x + k)/gamma(x)``; rule ``falling``:
                    ``FallingFactorial`` likewise
``log1p``           ``log(1 + x) -> log1p(x)`` (not                accuracy at small ``x``
                    ``log(1 + exp(z))``: PyTensor makes it
                    its exact ``softplus``)
``expm1``           ``exp(x) - 1 -> expm1(x)``                     accuracy at small ``x``
``hypot``           ``sqrt(x**2 + y**2) -> hypot(x, y)``           no overflow or underflow
                                                                   of the squares
``exp2``            ``2**x -> exp2(x)``                            one op, exact powers of 2
``log2``,           ``log(x)/log(2) -> log2(x)``,                  one op instead of two
``log10``           ``log(x)/log(10) -> log10(x)``
``logaddexp``       ``log(exp(x) + exp(y)) -> logaddexp(x, y)``    no overflow
``cbrt``            ``x**(1/3) -> Cbrt(x)`` (``x`` nonnegative)    one op, correctly rounded
``xlogy``           ``x*log(y) -> xlogy(x, y)`` when ``x`` and     the limit 0 at ``x = 0``
                    ``y`` share a symbol (``x*log(x)``)            instead of NaN
``horner``          polynomial sums ``->`` Horner form             fewer multiplications
==================  =============================================  ==========================

The rules ``log1p``, ``expm1``, ``exp2``, ``log2`` and ``logaddexp`` are
SymPy's own (:mod:`sympy.codegen.rewriting`: ``log1p_opt``, ``expm1_opt``,
``exp2_opt``, ``log2_opt``, ``logaddexp_opt``); Horner forms come from
:func:`sympy.horner`.  The gamma identities are DLMF 26.3.1 (binomial) and
5.2.5 (Pochhammer's symbol); ``log1p``/``expm1``/``hypot`` are the C99
functions of the same names (ISO C 7.12).

The same rewrite is available through SymPy's hint protocol once
:func:`install_hint` has run (importing this module runs it; undo it with
:func:`uninstall_hint`):
``expr.expand(compute=True)`` calls ``_eval_expand_compute`` on every node,
children first.  ``Expr.expand`` applies its default hints (``mul``,
``multinomial``, ``power_exp``, ...) *after* ``compute`` (hints run in
alphabetical order), which expands Horner forms back into sums; to keep them,
switch those off: ``expr.expand(compute=True, mul=False, multinomial=False,
power_exp=False, power_base=False, log=False, basic=False)``, or call
:func:`expand_compute`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytensor.tensor.special as pts
import sympy
from sympy import S
from sympy.codegen.cfunctions import Cbrt, hypot, log2, log10
from sympy.codegen.rewriting import (
    exp2_opt,
    expm1_opt,
    log1p_opt,
    logaddexp_opt,
)
from sympy.core.cache import clear_cache
from sympy.core.function import Function

__all__ = [
    "ACCURACY_RULES",
    "RULES",
    "Rule",
    "expand_compute",
    "install_hint",
    "uninstall_hint",
    "xlogy",
]


class xlogy(Function):  # noqa: N801  (SymPy's lower-case function names)
    """``xlogy(x, y) = x*log(y)``, and 0 where ``x = 0`` (whatever ``y``).

    The convention of SciPy's ``scipy.special.xlogy`` and PyTensor's
    ``pytensor.tensor.special.xlogy``; it gives ``x*log(x)`` its limit 0 at
    ``x = 0``.  Printed by :class:`~sympy_theano_printer.TheanoPrinter` as
    ``pytensor.tensor.special.xlogy`` (same dtype as its float arguments);
    ``evalf`` and ``rewrite(log)`` give ``x*log(y)``.

    Examples
    --------
    >>> from sympy.abc import x
    >>> xlogy(0, x), xlogy(x, 1)
    (0, 0)
    >>> xlogy(x, x).rewrite(sympy.log)
    x*log(x)
    """

    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if x.is_zero or y == 1:
            return S.Zero
        return None

    def fdiff(self, argindex=1):
        x, y = self.args
        if argindex == 1:
            return sympy.log(y)
        if argindex == 2:
            return x / y
        raise sympy.ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_log(self, x, y, **kwargs):
        return x * sympy.log(y)

    def _eval_evalf(self, prec):
        x, y = self.args
        if x.is_zero:
            return S.Zero
        return (x * sympy.log(y))._eval_evalf(prec)

    def _eval_is_real(self):
        x, y = self.args
        if x.is_real and y.is_positive:
            return True
        return None

    def _theano(self, printer):
        x, y = (printer.as_float(printer._print(a)) for a in self.args)
        return pts.xlogy(x, y)


# ---------------------------------------------------------------------- the rules
@dataclass(frozen=True)
class Rule:
    """One rewrite of :func:`expand_compute`, at one node.

    Attributes
    ----------
    name : str
        The key of ``rules=``/``exclude=`` (see :data:`RULES`).
    match : callable
        ``match(node) -> bool``.
    rewrite : callable
        ``rewrite(node, loggamma_above) -> expr``, called where ``match`` is true.
    doc : str
        The rewrite, in words.
    """

    name: str
    match: Callable[[sympy.Basic], bool]
    rewrite: Callable[[sympy.Basic, object], sympy.Basic]
    doc: str

    def apply(self, expr, loggamma_above=None):
        """Every match in ``expr`` rewritten, children first (``Basic.replace``)."""
        return expr.replace(self.match, lambda e: self.rewrite(e, loggamma_above))


#: Arguments above which the gamma ratios use ``loggamma`` (gamma overflows
#: float64 just above 171; the ``loggamma`` form loses about ``|loggamma| * eps``).
LOGGAMMA_ABOVE = 100


def _gamma_ratio(numerators, denominators, first, limit):
    """``prod gamma(numerators) / prod gamma(denominators)``, with a ``loggamma`` branch.

    The branch ``exp(sum loggamma(num) - sum loggamma(den))`` is taken where
    ``first > limit`` and every gamma argument is positive (then all the gammas
    are positive and the two forms are equal); ``limit`` None: never.
    """
    ratio = sympy.Mul(*[sympy.gamma(a) for a in numerators]) / sympy.Mul(
        *[sympy.gamma(a) for a in denominators])
    if limit is None:
        return ratio
    logs = sympy.Add(*[sympy.loggamma(a) for a in numerators]) - sympy.Add(
        *[sympy.loggamma(a) for a in denominators])
    cond = sympy.And(first > limit, *[a > 0 for a in (*numerators, *denominators)])
    if cond is S.false:
        return ratio
    if cond is S.true:
        return sympy.exp(logs)
    return sympy.Piecewise((sympy.exp(logs), cond), (ratio, True))


def _symbolic(cls):
    return lambda e: isinstance(e, cls) and not e.is_number


def _binomial(e, limit):
    n, k = e.args
    return _gamma_ratio([n + 1], [k + 1, n - k + 1], n, limit)


def _rising(e, limit):
    x, k = e.args
    return _gamma_ratio([x + k], [x], x, limit)


def _falling(e, limit):
    x, k = e.args
    return _gamma_ratio([x + 1], [x - k + 1], x, limit)


def _square_root_of(term):
    """``b`` with ``b**2 == term`` when ``term`` is visibly a square (``b**2``, ``c*b**2``, ``c > 0``)."""
    if term.is_Pow and term.exp == 2:
        return term.base
    if term.is_Number and term.is_positive:
        return sympy.sqrt(term)
    if term.is_Mul:
        coeff, rest = term.as_coeff_Mul()
        if coeff.is_positive and rest.is_Pow and rest.exp == 2:
            return sympy.sqrt(coeff) * rest.base
    return None


def _hypot_match(e):
    if not (e.is_Pow and e.exp == S.Half and e.base.is_Add and len(e.base.args) == 2):
        return False
    roots = [_square_root_of(t) for t in e.base.args]
    return all(r is not None for r in roots) and any(not r.is_number for r in roots)


def _hypot(e, limit):
    a, b = (_square_root_of(t) for t in e.base.args)
    return hypot(a, b)


def _log_base(base, target):
    """``log(x)/log(base) -> target(x)``: a match and a rewrite for a product holding ``1/log(base)``.

    (SymPy's ``log2_opt`` is a ``Wild`` pattern ``_v/log(2)`` that also
    matches a bare ``log(x)`` as ``(log(x)*log(2))/log(2)``, so it is not used.)
    """
    inverse = 1 / sympy.log(base)

    def match(e):
        return (e.is_Mul and inverse in e.args
                and sum(isinstance(a, sympy.log) for a in e.args) == 1)

    def rewrite(e, limit):
        (lg,) = [a for a in e.args if isinstance(a, sympy.log)]
        rest = [a for a in e.args if a is not lg and a != inverse]
        return sympy.Mul(*rest) * target(lg.args[0])

    return match, rewrite


def _xlogy_split(e):
    if not e.is_Mul:
        return None
    logs = [a for a in e.args if isinstance(a, sympy.log)]
    if len(logs) != 1:
        return None
    coeff, rest = sympy.Mul(*[a for a in e.args if a is not logs[0]]).as_coeff_Mul()
    if rest.is_number or not (rest.free_symbols & logs[0].args[0].free_symbols):
        return None
    return coeff, rest, logs[0].args[0]


def _xlogy(e, limit):
    coeff, rest, y = _xlogy_split(e)
    return coeff * xlogy(rest, y)


def _horner_match(e):
    if not e.is_Add or len(e.args) < 3:
        return False
    gens = sorted(e.free_symbols, key=sympy.default_sort_key)
    if not gens:
        return False
    try:
        poly = sympy.Poly(e, *gens)
    except sympy.PolynomialError:
        return False
    return poly.total_degree() >= 2 and all(c.is_number for c in poly.coeffs())


def _horner(e, limit):
    h = sympy.horner(e)
    return h if sympy.count_ops(h) < sympy.count_ops(e) else e


def _is_softplus(e):
    """``log(1 + exp(z))``: left alone, PyTensor rewrites it into its exact ``softplus``.

    (``log1p(exp(z))`` would overflow for ``z`` above 709.)
    """
    arg = e.args[0]
    return (arg.is_Add and len(arg.args) == 2 and S.One in arg.args
            and any(isinstance(a, sympy.exp) for a in arg.args))


def _from_optim(name, optim, doc):
    """A :class:`Rule` from one of SymPy's ``ReplaceOptim`` (its ``query`` and ``value``)."""
    query, value = optim.query, optim.value
    if not isinstance(query, sympy.Basic):  # a predicate: value takes the node
        return Rule(name, query, lambda e, limit: value(e), doc)

    def rewrite(e, limit):  # a pattern: value is a template over the same wildcards
        found = e.match(query)
        return value(**{w.name: v for w, v in found.items()}) if callable(value) else value.xreplace(found)

    return Rule(name, lambda e: isinstance(e, sympy.Basic) and e.match(query) is not None, rewrite, doc)


#: The rules in the order :func:`expand_compute` applies them.
RULES: tuple[Rule, ...] = (
    Rule("factorial", _symbolic(sympy.factorial), lambda e, limit: sympy.gamma(e.args[0] + 1),
         "factorial(n) -> gamma(n + 1)"),
    Rule("binomial", _symbolic(sympy.binomial), _binomial,
         "binomial(n, k) -> gamma(n+1)/(gamma(k+1) gamma(n-k+1)), loggamma when large"),
    Rule("rising", _symbolic(sympy.RisingFactorial), _rising,
         "RisingFactorial(x, k) -> gamma(x + k)/gamma(x), loggamma when large"),
    Rule("falling", _symbolic(sympy.FallingFactorial), _falling,
         "FallingFactorial(x, k) -> gamma(x + 1)/gamma(x - k + 1), loggamma when large"),
    _from_optim("logaddexp", logaddexp_opt, "log(exp(x) + exp(y)) -> logaddexp(x, y)"),
    Rule("log1p", lambda e: log1p_opt.query(e) and not _is_softplus(e),
         lambda e, limit: log1p_opt.value(e), "log(1 + x) -> log1p(x), except log(1 + exp(z))"),
    _from_optim("expm1", expm1_opt, "exp(x) - 1 -> expm1(x)"),
    Rule("hypot", _hypot_match, _hypot, "sqrt(x**2 + y**2) -> hypot(x, y)"),
    _from_optim("exp2", exp2_opt, "2**x -> exp2(x)"),
    Rule("log2", *_log_base(2, log2), "log(x)/log(2) -> log2(x)"),
    Rule("log10", *_log_base(10, log10), "log(x)/log(10) -> log10(x)"),
    Rule("cbrt", lambda e: e.is_Pow and e.exp == sympy.Rational(1, 3) and bool(e.base.is_nonnegative),
         lambda e, limit: Cbrt(e.base), "x**(1/3) -> Cbrt(x) for nonnegative x"),
    Rule("xlogy", lambda e: _xlogy_split(e) is not None, _xlogy,
         "x*log(y) -> xlogy(x, y) when x and y share a symbol"),
    Rule("horner", _horner_match, _horner, "polynomial sums -> Horner form (when it has fewer operations)"),
)

_BY_NAME = {r.name: r for r in RULES}

#: The rules that fix overflow, underflow, cancellation or a NaN limit (the
#: others make a cheaper expression): ``optimize=True`` always keeps them.
ACCURACY_RULES = ("binomial", "rising", "falling", "logaddexp", "log1p", "expm1", "hypot", "xlogy")


def _select(rules, exclude):
    names = list(_BY_NAME) if rules is None else list(rules)
    unknown = [r for r in [*names, *exclude] if r not in _BY_NAME]
    if unknown:
        raise ValueError(f"unknown expand_compute rule(s) {unknown}; the rules are {list(_BY_NAME)}")
    return tuple(r for r in RULES if r.name in set(names) and r.name not in set(exclude))


def expand_compute(expr, deep: bool = True, *, rules: Sequence[str] | None = None,
                   exclude: Sequence[str] = (), loggamma_above=LOGGAMMA_ABOVE):
    """Rewrite ``expr`` into forms that compute faster or more accurately.

    Parameters
    ----------
    expr : sympy.Basic, or a list/tuple of them
        Any SymPy expression (scalar, Piecewise, Matrix...); a sequence is
        rewritten element by element.
    deep : bool
        True (default): rewrite every subexpression, children first.  False:
        apply the rules to the top node only.
    rules : sequence of str, optional
        Names of the rules to apply (default: all of :data:`RULES`, in that order).
    exclude : sequence of str
        Names of rules to leave out.
    loggamma_above : number or None
        The gamma ratios (``binomial``, rising and falling factorials) switch to
        ``exp(loggamma(...) - ...)`` where the first argument exceeds this
        (default 100; float64 ``gamma`` overflows above 171.6) and all the
        gamma arguments are positive (a ``Piecewise``); None: plain gamma ratios.

    Returns
    -------
    sympy.Basic (or list/tuple)
        Equal in value to ``expr``.  Targets are SymPy's
        :mod:`sympy.codegen.cfunctions` (``log1p``, ``expm1``, ``exp2``,
        ``log2``, ``log10``, ``hypot``, ``Cbrt``),
        :mod:`sympy.codegen.numpy_nodes` (``logaddexp``) and :class:`xlogy`.

    Raises
    ------
    ValueError
        An unknown rule name (in ``rules`` or ``exclude``).

    Examples
    --------
    >>> from sympy.abc import x, y
    >>> expand_compute(sympy.log(1 + x) + sympy.exp(y) - 1)
    expm1(y) + log1p(x)
    >>> expand_compute(sympy.sqrt(x**2 + y**2))
    hypot(x, y)
    >>> expand_compute(x**3 + 2*x**2 + 3*x + 4)
    x*(x*(x + 2) + 3) + 4
    """
    chosen = _select(rules, exclude)
    if isinstance(expr, (list, tuple)):
        return type(expr)(expand_compute(e, deep, rules=rules, exclude=exclude,
                                         loggamma_above=loggamma_above) for e in expr)
    expr = _one_argument_logs(sympy.sympify(expr))
    if not deep:
        return _at_node(expr, chosen, loggamma_above)
    for rule in chosen:
        expr = rule.apply(expr, loggamma_above)
    return expr


def _one_argument_logs(expr):
    """``log(x, b)`` (an unevaluated two-argument log) as ``log(x)/log(b)``.

    SymPy's ``log1p_opt`` and ``log2_opt`` expect one-argument logs and raise
    ``TypeError`` on the two-argument form; the quotient is the same value and
    the ``log2``/``log10`` rules then see it.
    """
    if not isinstance(expr, sympy.Basic):
        return expr
    return expr.replace(lambda e: isinstance(e, sympy.log) and len(e.args) == 2,
                        lambda e: sympy.log(e.args[0]) / sympy.log(e.args[1]))


def _at_node(expr, rules, limit):
    """The rules applied to the node ``expr`` itself, in order, not to its arguments."""
    for rule in rules:
        if isinstance(expr, sympy.Basic) and rule.match(expr):
            expr = rule.rewrite(expr, limit)
    return expr


# ---------------------------------------------------------------------- the hint
def _eval_expand_compute(self, **hints):
    """``expr.expand(compute=True)``: the rules of :func:`expand_compute` at this node.

    ``Expr._expand_hint`` has already expanded the arguments (``deep=True``);
    here the rules see the node with its expanded arguments.
    """
    return _at_node(self, RULES, LOGGAMMA_ABOVE)


_INSTALLED = {"on": False}


def install_hint() -> None:
    """Make ``expr.expand(compute=True)`` work: adds ``Expr._eval_expand_compute``.

    SymPy's ``Expr.expand`` calls ``_eval_expand_<hint>`` on every node that has
    the method, so one method on :class:`sympy.Expr` serves every class.  This
    is the only change made to SymPy (reverse it with :func:`uninstall_hint`);
    ``Expr.expand`` is cached, so the cache is cleared.  Idempotent.
    """
    if not _INSTALLED["on"]:
        sympy.Expr._eval_expand_compute = _eval_expand_compute
        _INSTALLED["on"] = True
        clear_cache()


def uninstall_hint() -> None:
    """Undo :func:`install_hint`: remove ``Expr._eval_expand_compute`` and clear SymPy's cache."""
    if _INSTALLED["on"]:
        del sympy.Expr._eval_expand_compute
        _INSTALLED["on"] = False
        clear_cache()


install_hint()  # importing this module (and so the package) enables expr.expand(compute=True)
