"""The compute-oriented expand hint (sympy_theano_printer.expand).

Each rule: the rewrite happens, and the value is unchanged (SymPy evaluation at
30 digits at several points).  The accuracy rules: the compiled rewritten
expression matches mpmath at 30 digits (k * eps) where the naive form does not
(log(1 + 1e-12), exp(1e-12) - 1, hypot at 1e200, ...), on NUMBA, CVM and
FAST_COMPILE.
"""
import math

import mpmath
import numpy as np
import pytest
import sympy
from sympy.codegen.cfunctions import Cbrt, exp2, expm1, hypot, log1p, log2, log10
from sympy.codegen.numpy_nodes import logaddexp

from conftest import assert_close_to_reference, function
from sympy_theano_printer.expand import (
    RULES,
    expand_compute,
    install_hint,
    uninstall_hint,
    xlogy,
)

x, y = sympy.symbols("x y")
p = sympy.Symbol("p", positive=True)
n, k = sympy.symbols("n k")

#: (rule, expression, class that must appear, points {symbol: value} for the value check)
CASES = [
    ("factorial", sympy.factorial(x), sympy.gamma, [{x: 3.5}, {x: 7}]),
    ("binomial", sympy.binomial(n, k), sympy.gamma, [{n: 7.5, k: 2.25}, {n: 10, k: 3}]),
    ("binomial", sympy.binomial(n, k), sympy.loggamma, [{n: 250, k: 100}]),
    ("rising", sympy.RisingFactorial(x, y), sympy.gamma, [{x: 2.5, y: 3}, {x: 0.5, y: 1.5}]),
    ("falling", sympy.FallingFactorial(x, y), sympy.gamma, [{x: 7.5, y: 2}, {x: 4, y: 1.5}]),
    ("log1p", sympy.log(1 + x), log1p, [{x: 0.25}, {x: -0.5}]),
    ("log1p", sympy.log(1 - x * y), log1p, [{x: 0.25, y: 2}]),
    ("expm1", sympy.exp(x) - 1, expm1, [{x: 0.3}, {x: -2}]),
    ("expm1", 3 - 3 * sympy.exp(2 * x), expm1, [{x: 0.3}]),
    ("hypot", sympy.sqrt(x**2 + y**2), hypot, [{x: 3, y: 4}, {x: -1.5, y: 0.5}]),
    ("hypot", sympy.sqrt(4 * x**2 + 1), hypot, [{x: 0.75}]),
    ("exp2", 2**x, exp2, [{x: 10.5}, {x: -3.25}]),
    ("log2", sympy.log(x) / sympy.log(2), log2, [{x: 8}, {x: 0.3}]),
    ("log10", 5 * sympy.log(x) / sympy.log(10), log10, [{x: 1000}, {x: 0.3}]),
    ("logaddexp", sympy.log(sympy.exp(x) + sympy.exp(y)), logaddexp, [{x: 1.5, y: -2}]),
    ("cbrt", p ** sympy.Rational(1, 3), Cbrt, [{p: 27}, {p: 0.2}]),
    ("xlogy", 3 * x * sympy.log(x), xlogy, [{x: 0.7}, {x: 5}]),
    ("xlogy", x**2 * sympy.log(x + y), xlogy, [{x: 0.7, y: 2}]),
]


@pytest.mark.parametrize("rule, expr, target, points", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_rewrites_and_keeps_the_value(rule, expr, target, points):
    new = expand_compute(expr, rules=[rule])
    assert new.has(target), (expr, new)
    for point in points:
        subs = {s: sympy.Float(v, 30) if not isinstance(v, int) else sympy.Integer(v)
                for s, v in point.items()}
        want = sympy.N(expr.subs(subs), 30)
        # SymPy's Cbrt does not evalf: evaluate it as the real cube root
        got = sympy.N(new.subs(subs).replace(Cbrt, lambda a: sympy.real_root(a, 3)), 30)
        assert abs(got - want) <= sympy.Float(1e-25) * max(1, abs(want)), (expr, point, got, want)


def test_horner_rule():
    poly = 2 * x**4 - 3 * x**3 + x**2 - 7 * x + 5
    new = expand_compute(poly, rules=["horner"])
    assert new == sympy.horner(poly)
    assert sympy.count_ops(new) < sympy.count_ops(poly)
    assert sympy.expand(new - poly) == 0
    # a sum that is not a polynomial with numeric coefficients is left alone
    assert expand_compute(x**2 + x * sympy.sin(y) + 1, rules=["horner"]) == x**2 + x * sympy.sin(y) + 1
    # a bivariate polynomial is Hornered too (fewer operations)
    bi = x**2 * y + x * y**2 + x * y + 3 * x
    assert sympy.expand(expand_compute(bi, rules=["horner"]) - bi) == 0


def test_no_rule_fires_on_lookalikes():
    # log(x) alone is not log(x)/log(2); x**(1/3) of a possibly negative x is not Cbrt;
    # a number times log(x) is not xlogy; a numeric factorial stays.
    for expr in [sympy.log(x), x ** sympy.Rational(1, 3), 3 * sympy.log(x), sympy.sqrt(x**2 + x),
                 sympy.exp(x) + 1 - sympy.exp(y) * 0]:
        assert expand_compute(expr, exclude=["horner"]) == expr
    assert expand_compute(sympy.factorial(5)) == 120


def test_all_rules_and_deep_false():
    expr = sympy.log(1 + x) + sympy.sqrt(x**2 + y**2) + sympy.factorial(y)
    new = expand_compute(expr)
    assert new == log1p(x) + hypot(x, y) + sympy.gamma(y + 1)
    # deep=False: only the top node (an Add: no rule matches it, its arguments stay)
    assert expand_compute(expr, deep=False) == expr
    assert expand_compute(sympy.log(1 + x), deep=False) == log1p(x)
    assert expand_compute([sympy.log(1 + x), sympy.exp(x) - 1]) == [log1p(x), expm1(x)]
    assert [r.name for r in RULES][:2] == ["factorial", "binomial"]


def test_loggamma_above_none_gives_plain_ratio():
    new = expand_compute(sympy.binomial(n, k), loggamma_above=None)
    assert not new.has(sympy.Piecewise) and not new.has(sympy.loggamma)
    assert new == sympy.gamma(n + 1) / (sympy.gamma(k + 1) * sympy.gamma(n - k + 1))


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match="log1q"):
        expand_compute(x, rules=["log1q"])
    with pytest.raises(ValueError, match="nope"):
        expand_compute(x, exclude=["nope"])


def test_xlogy_function():
    assert xlogy(0, y) == 0
    assert xlogy(x, 1) == 0
    assert xlogy(x, y).rewrite(sympy.log) == x * sympy.log(y)
    assert sympy.diff(xlogy(x, y), x) == sympy.log(y)
    assert sympy.diff(xlogy(x, y), y) == x / y
    assert math.isclose(float(sympy.N(xlogy(2, 3), 30)), 2 * math.log(3), rel_tol=1e-15)


def test_expand_hint_protocol():
    install_hint()
    try:
        assert sympy.log(1 + x).expand(compute=True) == log1p(x)
        assert (sympy.exp(2 * x) - 1).expand(compute=True, power_exp=False) == expm1(2 * x)
        poly = x**3 + 2 * x**2 + 3 * x + 4
        # Expr.expand's default hints run after "compute" and expand the Horner form back
        assert poly.expand(compute=True) == poly
        assert poly.expand(compute=True, mul=False, multinomial=False) == sympy.horner(poly)
        install_hint()  # idempotent
    finally:
        uninstall_hint()
    # uninstalled: the hint is unknown again and does nothing (the cache was cleared)
    assert sympy.log(1 + x).expand(compute=True) == sympy.log(x + 1)
    assert not hasattr(sympy.Expr, "_eval_expand_compute")
    install_hint()  # the package state tests expect: installed


# ---------------------------------------------------------------------- compiled accuracy
def _lg(v):
    return mpmath.loggamma(v)


#: (naive expression, x, y, mpmath reference, k) where the rewrite matters.
ACCURACY = [
    (sympy.log(1 + x), 1e-12, 0.0, lambda a, b: mpmath.log1p(a), 4),
    (sympy.exp(x) - 1, 1e-12, 0.0, lambda a, b: mpmath.expm1(a), 4),
    (sympy.exp(x) - 1, -3e-9, 0.0, lambda a, b: mpmath.expm1(a), 4),
    (sympy.sqrt(x**2 + y**2), 3e200, 4e200, lambda a, b: mpmath.hypot(a, b), 4),
    (sympy.sqrt(x**2 + y**2), 3e-200, 4e-200, lambda a, b: mpmath.hypot(a, b), 4),
    (x * sympy.log(x), 0.0, 0.0, lambda a, b: mpmath.mpf(0), 4),
    (x * sympy.log(x), 1e-300, 0.0, lambda a, b: a * mpmath.log(a), 4),
    (sympy.log(sympy.exp(x) + sympy.exp(y)), 1000.0, 999.0,
     lambda a, b: a + mpmath.log1p(mpmath.exp(b - a)), 4),
    # loggamma branch: the error of exp(L) is about |terms of L| * eps
    (sympy.binomial(x, y), 300.0, 150.0,
     lambda a, b: mpmath.binomial(a, b), 8 * float(_lg(301) + 2 * _lg(151))),
    (sympy.factorial(x), 5.5, 0.0, lambda a, b: mpmath.gamma(a + 1), 8),
    (sympy.RisingFactorial(x, y), 2.5, 3.0, lambda a, b: mpmath.rf(a, b), 8),
    (sympy.FallingFactorial(x, y), 7.5, 2.0, lambda a, b: mpmath.ff(a, b), 8),
    (2**x, 10.5, 0.0, lambda a, b: mpmath.mpf(2) ** a, 4),
    (sympy.log(x) / sympy.log(2), 8.0, 0.0, lambda a, b: mpmath.log(a, 2), 4),
    (sympy.log(x) / sympy.log(10), 1000.0, 0.0, lambda a, b: mpmath.log10(a), 4),
    (x**3 - 2 * x**2 + 3 * x - 4, 1.7, 0.0, lambda a, b: a**3 - 2 * a**2 + 3 * a - 4, 16),
]


@pytest.fixture(scope="module")
def accuracy_inputs():
    xs = np.array([c[1] for c in ACCURACY])
    ys = np.array([c[2] for c in ACCURACY])
    with mpmath.workdps(30):
        refs = [c[3](mpmath.mpf(a), mpmath.mpf(b)) for c, a, b in zip(ACCURACY, xs, ys)]
    return xs, ys, refs


@pytest.mark.parametrize("mode", ["NUMBA", "CVM", "FAST_COMPILE"])
def test_rewritten_forms_are_accurate(mode, accuracy_inputs):
    xs, ys, refs = accuracy_inputs
    outputs = [expand_compute(c[0]) for c in ACCURACY]
    f = function([x, y], outputs, dims={x: 1, y: 1}, mode=mode)
    with np.errstate(all="ignore"):
        values = f(xs, ys)
    for i, (case, value, ref) in enumerate(zip(ACCURACY, values, refs)):
        assert_close_to_reference(value[i], [ref], "float64", k=case[4],
                                  err_msg=f"{case[0]} -> {outputs[i]} at x={xs[i]}, y={ys[i]} ({mode})")


def test_naive_forms_are_not_accurate(accuracy_inputs):
    """Where the rule matters, the expression as written misses the reference badly."""
    xs, ys, refs = accuracy_inputs
    # (exp(x) - 1 is left out: PyTensor's own rewrite local_expm1 already fixes it;
    # binomial too: the printer's own translation of binomial avoids the overflow)
    matters = [0, 3, 4, 5, 7]
    naive = [ACCURACY[i][0] for i in matters]
    f = function([x, y], naive, dims={x: 1, y: 1}, mode="FAST_COMPILE")
    with np.errstate(all="ignore"):
        values = f(xs, ys)
    for j, i in enumerate(matters):
        v, r = values[j][i], float(refs[i])
        bad = not np.isfinite(v) or abs(v - r) > 1e-6 * abs(r)
        assert bad, (ACCURACY[i][0], v, r)
