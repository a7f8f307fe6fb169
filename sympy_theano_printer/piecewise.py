"""Piecewise to ``switch``, with a gradient that a branch not taken cannot poison.

``Piecewise((e1, c1), (e2, c2), ..., (en, cn))`` takes the first branch whose
condition holds, and is NaN where none holds (SymPy's semantics).  It prints as
a chain of ``switch``::

    switch(c1, e1, switch(c2, e2, ... switch(cn, en, nan)))

``switch`` evaluates both branches.  Its value is right, but its reverse-mode
gradient is not always: the gradient that reaches an untaken branch is zero,
and the chain rule multiplies it by the branch's own derivative, so
``switch(x > 0, sqrt(x), 0)`` at ``x = 0`` gives ``0 * inf = nan``.

The *double switch* removes this: inside branch ``i`` every scalar symbol ``s``
is replaced by ``switch(taken_i, s, s0)``, where ``taken_i`` is true exactly
where branch ``i`` is the one selected and ``s0`` is a point at which the
branch and its first derivatives are finite.  Where the branch is not taken it
then sees only ``s0``, its derivative there is finite, and ``0 * finite = 0``.
(The trick is folklore in automatic differentiation; see e.g. the JAX FAQ
entry "gradients contain NaN where using where".)

The point ``s0`` is found by trying candidates: an interior point of the
branch's own condition when that condition has one free symbol
(``cond.as_set()``), then a fixed list of small values, checking each with
SymPy at 15 digits.  Branches that cannot produce a non-finite derivative
(polynomials, ``exp``, ``sin``, ``cos``, ``sinh``, ``cosh`` of them) are
printed as they are, and so are branches for which no point is found or that
are too large to check; those may still give NaN gradients at their
singularities.
"""
from __future__ import annotations

import math

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
import sympy
from sympy.core.basic import Basic

#: Values tried, in order, for the symbols of a branch.
CANDIDATES = (1.0, 0.5, 2.0, -0.5, -1.0, 3.0, -3.0, 0.25, 10.0, -10.0, 0.0)
#: Branches with more distinct nodes than this are not checked (printed unguarded).
MAX_CHECKED_NODES = 400

_ENTIRE = (sympy.Add, sympy.Mul, sympy.exp, sympy.sin, sympy.cos, sympy.sinh, sympy.cosh)


def _distinct_nodes(expr):
    seen = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(a for a in node.args if isinstance(a, Basic))
    return seen


def _is_entire(nodes) -> bool:
    """True when every node keeps values and first derivatives finite for finite inputs."""
    for node in nodes:
        if node.is_Symbol:
            continue
        if node.is_Number:
            if not node.is_finite:
                return False
            continue
        if isinstance(node, sympy.NumberSymbol):
            continue
        if node.is_Pow:
            if not (node.exp.is_Integer and node.exp >= 0):
                return False
            continue
        if not isinstance(node, _ENTIRE):
            return False
    return True


def _cheap_candidates(cond, symbol):
    """Points to try before solving ``cond``: 0, +-1, and around each numeric threshold in it."""
    thresholds = sorted({float(side) for rel in cond.atoms(sympy.core.relational.Relational)
                         for side in rel.args if side.is_number and side.is_real and side.is_finite})
    points = [0.0, -1.0, 1.0]
    for a, b in zip(thresholds, thresholds[1:]):
        points.append((a + b) / 2)
    for t in thresholds:
        points.extend([t - 1.0, t + 1.0])
    return points


def _interior_point(cond, symbol):
    """A point of the real set where ``cond`` holds (inside it where the solver is used), or None.

    Cheap candidates (0, +-1, midpoints between the numeric thresholds of the
    condition and one past each end) are substituted first and the first at
    which the condition holds is taken (it may lie on a non-strict boundary;
    :func:`find_safe_point` then checks the branch is finite there); only when
    none holds is SymPy's solver (``Boolean.as_set``, 0.25-0.45 s per
    condition) asked for the set, and a point inside it returned.
    """
    for v in _cheap_candidates(cond, symbol):
        try:
            holds = cond.xreplace({symbol: sympy.Float(v)}) is sympy.true
        except (TypeError, ValueError, ArithmeticError):
            # a relation between non-real values (acosh(0) > 1), or Mod(x, x) at 0: no candidate
            continue
        if holds:
            return v
    try:
        region = cond.as_set()
    except Exception:  # as_set raises several types for conditions it cannot solve
        return None
    if isinstance(region, sympy.Union):
        region = region.args[0]
    if isinstance(region, sympy.FiniteSet):
        pts = [p for p in region if p.is_real and p.is_finite]
        return float(pts[0]) if pts else None
    if not isinstance(region, sympy.Interval):
        return None
    lo, hi = region.start, region.end
    if lo.is_finite and hi.is_finite:
        return float((lo + hi) / 2)
    if lo.is_finite:
        return float(lo) + 1.0
    if hi.is_finite:
        return float(hi) - 1.0
    return 0.0


def _finite_real_at(expr, point) -> bool:
    """Whether ``expr`` with ``point`` (``{symbol: Float}``) substituted is a finite real number.

    False where SymPy cannot say: a substitution that SymPy refuses
    (``Derivative(f(x), x)`` with ``x`` replaced by a number raises
    ``ValueError``; ``Mod(x, x)`` at 0 raises ``ZeroDivisionError``) or a value
    it cannot evaluate to a number.
    """
    try:
        z = complex(sympy.N(expr.xreplace(point), 15))
    except (TypeError, ValueError, ArithmeticError):
        return False
    return math.isfinite(z.real) and math.isfinite(z.imag) and abs(z.imag) <= 1e-12 * max(1.0, abs(z.real))


def find_safe_point(expr, cond, symbols):
    """Values for ``symbols`` at which ``expr`` and its first partial derivatives are finite and real.

    Only the partial derivatives SymPy evaluates are checked: an unevaluated
    ``Derivative`` (``betainc``'s in a parameter) is not, so the gradient in
    that symbol at the point found may be non-finite.

    Parameters
    ----------
    expr : sympy.Expr
        The branch.
    cond : sympy.Boolean
        The branch's condition (used for a first candidate inside it).
    symbols : sequence of sympy.Symbol
        The scalar symbols of ``expr``.

    Returns
    -------
    dict or None
        ``{symbol: float}``, or None when no candidate works.
    """
    # a partial derivative SymPy leaves unevaluated (betainc's in a parameter) cannot be checked
    derivatives = [d for d in (expr.diff(s) for s in symbols) if not d.has(sympy.Derivative)]
    trials = []
    cond_symbols = [s for s in symbols if cond is not sympy.true and s in cond.free_symbols]
    if len(cond_symbols) == 1 and cond.free_symbols == {cond_symbols[0]}:
        inside = _interior_point(cond, cond_symbols[0])
        if inside is not None:
            trials.append({s: (inside if s == cond_symbols[0] else 1.0) for s in symbols})
    trials.extend({s: v for s in symbols} for v in CANDIDATES)
    for point in trials:
        repl = {s: sympy.Float(v) for s, v in point.items()}
        if all(_finite_real_at(f, repl) for f in [expr, *derivatives]):
            return point
    return None


def _guarded_branch(printer, expr, cond, taken):
    nodes = _distinct_nodes(expr)
    symbols = sorted((n for n in nodes if isinstance(n, sympy.Symbol)), key=sympy.default_sort_key)
    if not symbols or _is_entire(nodes) or len(nodes) > MAX_CHECKED_NODES:
        return printer._print(expr)
    point = find_safe_point(expr, cond, symbols)
    if point is None:
        return printer._print(expr)
    replacements = {}
    for s in symbols:
        var = printer._print(s)
        safe = pt.constant(np.asarray(point[s]).astype(var.dtype))
        replacements[s] = pt.switch(taken, var, safe)
    return printer.print_with_substitution(expr, replacements)


def _weak_integer_branches(printer, values):
    """Integer constant branches take the float dtype of the other branches (NEP 50's weak literals).

    ``switch(c, x32, 2147483647)`` would upcast a float32 graph to float64
    (float32 and int32 give float64); SymPy's integers are literals, so
    beside a float32 or float16 branch they become constants of that dtype.
    Where every branch is an integer literal, the switch is an integer unless
    the graph's float dtype is float32 (float16) and the literals need an
    integer dtype that would upcast it (``x + Piecewise((0, x < y), (70000,
    True))`` stays float32).
    """
    floats = {str(v.dtype) for v in values if str(v.dtype).startswith(("float", "complex"))}
    if not floats and all(isinstance(v, Constant) and str(v.dtype).startswith(("int", "uint"))
                          for v in values):
        # only integer literals: their switch stays an integer unless its dtype would widen the
        # graph's float32 (float16) when combined with it (int32 with float32 gives float64)
        widest = np.result_type(*[str(v.dtype) for v in values])
        narrow = printer.float_dtype
        if narrow in ("float16", "float32") and np.promote_types(widest, narrow) != np.dtype(narrow):
            return [printer.constant(v.data.item(), narrow) for v in values]
        return values
    if not floats or not floats <= {"float16", "float32"}:
        return values
    target = max(floats, key=lambda d: np.dtype(d).itemsize)
    return [printer.constant(v.data.item(), target)
            if isinstance(v, Constant) and str(v.dtype).startswith(("int", "uint")) else v
            for v in values]


def print_piecewise(printer, expr):
    """Translate ``expr`` (a ``sympy.Piecewise``) into a switch chain; see the module docstring."""
    safe = printer._settings.get("safe_piecewise_gradient", True)
    values, conds = [], []
    previous = None  # "some earlier condition holds"
    otherwise = False
    for branch, cond in expr.args:
        is_true = cond is sympy.true
        pc = None if is_true else printer._print(cond)
        if is_true:
            taken = None if previous is None else pt.invert(previous)
        else:
            taken = pc if previous is None else pt.and_(pc, pt.invert(previous))
        if safe and taken is not None:
            value = _guarded_branch(printer, branch, cond, taken)
        else:
            value = printer._print(branch)
        values.append(value)
        if is_true:
            otherwise = True
            break
        conds.append(pc)
        previous = pc if previous is None else pt.or_(previous, pc)
    if not otherwise:
        values.append(printer.constant(math.nan))
    values = _weak_integer_branches(printer, values)
    result = values.pop()
    for value, pc in zip(reversed(values), reversed(conds)):
        result = pt.switch(pc, value, result)
    return result
