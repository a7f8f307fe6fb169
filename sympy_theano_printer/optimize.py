"""``theano_function(..., optimize=True)``: rewrite the outputs with SymPy before printing.

:func:`optimize_outputs` builds a few candidate forms of all the outputs
together and keeps the one whose PyTensor graph, after PyTensor's own
rewrites, computes the fewest scalar operations (ties: fewest apply nodes with
fusion excluded), counted by :mod:`.counting`.  The outputs as given are
always a candidate, so the result is never costlier than ``optimize=False`` by
that measure, except for the accuracy rewrites (``log1p``, ``hypot``, ...),
which ``accurate=True`` keeps whatever they cost.  The candidates:

1. ``given``: the outputs unchanged (with ``accurate=True``, the default:
   after the accuracy rules of :func:`.expand.expand_compute`, which every
   candidate then keeps).
2. ``simplified``: each output through :func:`.expand.expand_compute`
   (``log1p``, ``expm1``, ``hypot``, Horner forms, ...; unevaluated
   ``Derivative`` objects evaluated first), then :func:`sympy.simplify` (kept
   only where ``count_ops`` drops; skipped above :data:`SIMPLIFY_MAX_OPS`
   operations), then :func:`sympy.cse` across all the outputs, printed with
   the common subexpressions shared.
3. ``product``: the simplified outputs in *product form* (:func:`product_form`):
   each output ``c * x**k * exp(a) * P(x) * ...`` with every univariate
   polynomial factor in Horner form made monic (its leading coefficient moved
   into ``c``), ``|c|`` folded into the exponential as ``exp(a + log|c|)``
   when all outputs holding that exponential have the same ``|c|`` (one
   multiplication less per output), the sign of ``c`` folded into a
   polynomial factor, and small powers ``x**k`` written as ``k`` factors of an
   n-ary product (one fused node);
4. ``shared``: as ``product``, but a polynomial in the same variable as a
   lower-degree polynomial of another output is computed from that one's Horner
   intermediates ``h_k``: ``Q = q*P + sum c_k h_k + r`` (successive polynomial
   division; :func:`shared_horner`).

``optimize=True`` costs the SymPy work (``simplify`` dominates) plus the
printing and rewriting of each candidate (20-40 ms per count); see
``python -m sympy_theano_printer --example hydrogen`` for measured times.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy
from sympy import S

from .expand import ACCURACY_RULES, expand_compute

__all__ = [
    "SIMPLIFY_MAX_OPS",
    "Candidate",
    "optimize_outputs",
    "product_form",
    "shared_horner",
]

#: Outputs with more operations than this (``sympy.count_ops``) are not given to ``simplify``.
SIMPLIFY_MAX_OPS = 300

#: Powers ``x**k`` with ``2 <= k <= MAX_REPEATED_POWER`` become ``k`` factors of one product.
MAX_REPEATED_POWER = 3


def _U(*args):
    return sympy.Mul(*args, evaluate=False)


def _A(*args):
    return sympy.Add(*args, evaluate=False)


# ---------------------------------------------------------------------- Horner chains
def horner_chain(coeffs: Sequence, x: sympy.Symbol) -> list:
    """Horner intermediates of the polynomial with ``coeffs`` (highest degree first), unevaluated.

    Returns ``[h_1, ..., h_n]`` with ``h_1 = c_n x + c_{n-1}`` and
    ``h_{k+1} = h_k x + c_{n-k-1}``; ``h_n`` is the polynomial.  A zero
    coefficient adds no term; a leading coefficient -1 gives ``c - x``.
    """
    coeffs = [sympy.sympify(c) for c in coeffs]
    lead = coeffs[0]
    acc = x if lead == 1 else (-x if lead == -1 else _U(lead, x))
    chain = []
    for c in coeffs[1:]:
        acc = acc if c == 0 else _A(acc, c)
        chain.append(acc)
        acc = _U(acc, x)
    if len(coeffs) == 1:
        return [sympy.sympify(lead)]
    # the last "acc * x" belongs to no intermediate: drop it
    return chain


def _as_univariate(factor):
    """``(x, Poly)`` if ``factor`` is a polynomial of degree >= 2 in one symbol with numeric coefficients."""
    if not factor.is_Add:
        return None
    syms = factor.free_symbols
    if len(syms) != 1:
        return None
    (x,) = syms
    try:
        poly = sympy.Poly(factor, x)
    except sympy.PolynomialError:
        return None
    if poly.degree() < 2 or not all(c.is_number for c in poly.all_coeffs()):
        return None
    return x, poly


def shared_horner(Q: sympy.Poly, P: sympy.Poly, p_chain: list, x) -> sympy.Expr:
    """``Q`` computed from ``P`` and ``P``'s Horner intermediates (``p_chain``, unevaluated).

    ``Q = q*P + sum_k c_k h_k + (a x + b)`` where ``q = quo(Q, P)`` (in Horner
    form), and the remainder is divided in turn by ``h_{n-1}, ..., h_2``
    (``p_chain[k-1] = h_k``, each of degree ``k``; the constant quotients
    ``c_k``).  Exact: the identity holds for the polynomials.
    """
    terms = []
    q, r = sympy.div(Q, P)
    if not q.is_zero:
        qc = q.all_coeffs()
        qform = horner_chain(qc, x)[-1] if q.degree() >= 1 else qc[0]
        terms.append(_U(qform, p_chain[-1]) if qform != 1 else p_chain[-1])
    for k in range(P.degree() - 1, 1, -1):
        if r.is_zero or r.degree() < k:
            continue
        hk = sympy.Poly(p_chain[k - 1], x)
        ck, r = sympy.div(r, hk)
        c = ck.as_expr()
        terms.append(p_chain[k - 1] if c == 1 else _U(c, p_chain[k - 1]))
    if not r.is_zero:
        rc = r.all_coeffs()
        terms.append(horner_chain(rc, x)[-1] if r.degree() >= 1 else rc[0])
    return _A(*terms) if len(terms) > 1 else terms[0]


# ---------------------------------------------------------------------- product form
@dataclass
class _Factors:
    coeff: sympy.Expr
    powers: list      # (base, exponent) of symbols to small integer powers
    exps: list        # arguments of exp factors
    polys: list       # (x, Poly) univariate polynomial factors
    rest: list        # everything else


def _split(expr) -> _Factors:
    coeff, factors = expr.as_coeff_mul()
    out = _Factors(coeff, [], [], [], [])
    for f in factors:
        base, e = f.as_base_exp()
        if isinstance(f, sympy.exp):
            out.exps.append(f.args[0])
        elif base.is_Symbol and e.is_Integer and 2 <= e <= MAX_REPEATED_POWER:
            out.powers.append((base, int(e)))
        elif (uni := _as_univariate(f)) is not None:
            x, poly = uni
            lead = poly.LC()
            out.coeff *= lead
            out.polys.append((x, sympy.Poly(poly.as_expr() / lead, x)))
        elif f.is_number:
            out.coeff *= f
        else:
            out.rest.append(f)
    return out


def product_form(outputs: Sequence[sympy.Expr], *, share: bool = True) -> list:
    """The outputs as unevaluated products with monic Horner polynomials (see the module docstring).

    Parameters
    ----------
    outputs : sequence of sympy.Expr
        Scalar expressions (already simplified; any form is accepted).
    share : bool
        Compute a polynomial from the Horner intermediates of a lower-degree
        polynomial in the same variable from another (or the same) output
        (:func:`shared_horner`).

    Returns
    -------
    list of sympy.Expr
        Equal in value to ``outputs`` (``evaluate=False`` products and sums:
        print them, do not re-evaluate them).
    """
    split = [_split(sympy.sympify(o)) for o in outputs]
    # |c| into exp(a) where every output holding exp(a) has the same |c|
    holders: dict = {}
    for i, f in enumerate(split):
        if len(f.exps) == 1:
            holders.setdefault(f.exps[0], []).append(i)
    folded = {}  # exp argument -> the exp with |c| folded in
    for arg, idx in holders.items():
        mags = {sympy.Abs(split[i].coeff) for i in idx}
        if len(mags) == 1 and all(split[i].coeff.is_number and split[i].coeff.is_real
                                  and split[i].coeff != 0 for i in idx):
            (mag,) = mags
            if mag != 1:
                folded[arg] = sympy.exp(_A(arg, sympy.log(mag)), evaluate=False)
    # the sign of c into the lowest-degree polynomial of the output
    signs = []
    for f in split:
        sign = 1
        if len(f.exps) == 1 and f.exps[0] in folded and f.coeff.is_negative and f.polys:
            sign = -1
        signs.append(sign)
    # Horner chains: one per (variable, polynomial, sign)
    chains: dict = {}

    def chain_of(x, poly, sign):
        key = (x, tuple(poly.all_coeffs()), sign)
        if key not in chains:
            chains[key] = horner_chain([sign * c for c in poly.all_coeffs()], x)
        return chains[key]

    by_var: dict = {}
    for i, f in enumerate(split):
        for j, (x, poly) in enumerate(f.polys):
            by_var.setdefault(x, []).append((poly.degree(), i, j))
    base_of = {}
    if share:
        for x, entries in by_var.items():
            entries.sort()
            deg0, i0, j0 = entries[0]
            for deg, i, j in entries[1:]:
                if deg > deg0:
                    base_of[(i, j)] = (i0, j0)
    results = []
    for i, f in enumerate(split):
        args = []
        coeff = f.coeff
        exp_terms = []
        for a in f.exps:
            if len(f.exps) == 1 and a in folded:
                exp_terms.append(folded[a])
                coeff = sympy.sign(coeff)
            else:
                exp_terms.append(sympy.exp(a))
        poly_terms = []
        for j, (x, poly) in enumerate(f.polys):
            sign = signs[i] if j == 0 else 1
            if (i, j) in base_of:
                i0, j0 = base_of[(i, j)]
                x0, p0 = split[i0].polys[j0]
                s0 = signs[i0] if j0 == 0 else 1
                base_chain = chain_of(x0, p0, s0)
                target = sympy.Poly(sign * poly.as_expr(), x)
                poly_terms.append(shared_horner(target, sympy.Poly(s0 * p0.as_expr(), x), base_chain, x))
            else:
                poly_terms.append(chain_of(x, poly, sign)[-1])
        coeff = coeff * signs[i]
        if coeff != 1:
            args.append(coeff)
        for base, k in f.powers:
            args.extend([base] * k)
        args.extend(exp_terms)
        args.extend(poly_terms)
        args.extend(f.rest)
        if not args:
            results.append(S.One)
        elif len(args) == 1:
            results.append(args[0])
        else:
            results.append(_U(*args))
    return results


# ---------------------------------------------------------------------- the pipeline
def _evaluate_derivatives(expr):
    return expr.replace(lambda e: isinstance(e, sympy.Derivative), lambda e: e.doit())


def _simplified(expr):
    expr = expand_compute(_evaluate_derivatives(expr))
    if sympy.count_ops(expr) > SIMPLIFY_MAX_OPS:
        return expr
    simple = expand_compute(sympy.simplify(expr))
    return simple if sympy.count_ops(simple) < sympy.count_ops(expr) else expr


def _rebuild_unevaluated(expr, mapping):
    """``expr`` with the symbols of ``mapping`` replaced, sums and products left unevaluated."""
    memo = dict(mapping)

    def walk(e):
        if e in memo:
            return memo[e]
        if not e.args:
            return e
        args = [walk(a) for a in e.args]
        if e.is_Add or e.is_Mul:
            new = e.func(*args, evaluate=False)
        else:
            new = e.func(*args)
        memo[e] = new
        return new

    return walk(expr)


def _cse(outputs):
    replacements, reduced = sympy.cse(outputs, order="none")
    mapping = {}
    for sym, value in replacements:
        mapping[sym] = _rebuild_unevaluated(value, mapping)
    return [_rebuild_unevaluated(o, mapping) for o in reduced]


@dataclass(frozen=True)
class Candidate:
    """One candidate form of the outputs and its cost.

    Attributes
    ----------
    name : str
        ``"given"``, ``"simplified"``, ``"product"`` or ``"shared"``.
    outputs : list of sympy.Expr
    cost : tuple
        What ``cost(outputs)`` returned (smaller is better).
    """

    name: str
    outputs: list
    cost: tuple


def optimize_outputs(outputs: Sequence, cost: Callable[[list], tuple] | None = None, *,
                     accurate: bool = True, report: list | None = None) -> list:
    """The cheapest of the candidate forms of ``outputs`` (see the module docstring).

    Parameters
    ----------
    outputs : sequence of SymPy objects
        The outputs of one function.  Scalar expressions are rewritten;
        anything else (matrices, matrix expressions, relationals) is passed through.
    cost : callable, optional
        ``cost(list_of_outputs) -> tuple``, smaller is better.  Default: the
        outputs' total ``sympy.count_ops``.  :func:`~sympy_theano_printer.theano_function`
        passes the PyTensor count ``(fused scalar ops, apply nodes)`` of the
        printed graph under its compilation mode.
    accurate : bool
        True (default): first apply the accuracy rules of
        :func:`~sympy_theano_printer.expand.expand_compute`
        (:data:`~sympy_theano_printer.expand.ACCURACY_RULES`: ``log1p``,
        ``expm1``, ``hypot``, ``logaddexp``, ``xlogy``, ``loggamma`` ratios) to
        every output, so that every candidate, ``given`` included, keeps them
        even where they cost operations (``hypot`` is about 15 scalar ops
        against 3 for ``sqrt(x**2 + y**2)``).  False: they compete like the
        other rewrites, and the result is never costlier than the outputs as given.
    report : list, optional
        If given, a :class:`Candidate` is appended for every candidate tried.

    Returns
    -------
    list
        The chosen form, equal in value to ``outputs`` (more accurate where an
        accuracy rule applied); the ``given`` candidate when no rewrite is cheaper.
    """
    outputs = list(outputs)
    if cost is None:
        def cost(outs):
            return (sum(sympy.count_ops(o) for o in outs),)
    scalar = [isinstance(o, sympy.Expr) and not getattr(o, "is_Matrix", False)
              and not isinstance(o, sympy.MatrixExpr) for o in outputs]
    if not any(scalar):
        return outputs
    if accurate:
        outputs = [expand_compute(o, rules=ACCURACY_RULES) if s else o for o, s in zip(outputs, scalar)]
    candidates = [("given", outputs)]
    simplified = [_simplified(o) if s else o for o, s in zip(outputs, scalar)]
    idx = [i for i, s in enumerate(scalar) if s]
    candidates.append(("simplified", _merge(outputs, idx, _cse([simplified[i] for i in idx]))))
    for name, share in (("product", False), ("shared", True)):
        try:
            forms = product_form([simplified[i] for i in idx], share=share)
        except (sympy.PolynomialError, ValueError, TypeError):  # a form it cannot build: skip it
            continue
        candidates.append((name, _merge(outputs, idx, forms)))
    best = None
    seen = {}
    for name, outs in candidates:
        key = tuple(sympy.srepr(o) if isinstance(o, sympy.Basic) else id(o) for o in outs)
        if key in seen:  # the same form twice (nothing to share): counted once
            c = Candidate(name, outs, seen[key])
        else:
            c = Candidate(name, outs, tuple(cost(outs)))
            seen[key] = c.cost
        if report is not None:
            report.append(c)
        if best is None or c.cost < best.cost:
            best = c
    return best.outputs


def _merge(outputs, idx, forms):
    merged = list(outputs)
    for i, f in zip(idx, forms):
        merged[i] = f
    return merged


def graph_cost(*, settings=None, dtypes=None, broadcastables=None, mode=None) -> Callable[[list], tuple]:
    """The cost :func:`~sympy_theano_printer.theano_function` gives :func:`optimize_outputs`.

    Returns ``cost(outputs) -> (fused scalar ops, apply nodes)``: the outputs
    printed as ``theano_function`` prints them (same printer settings, dtypes
    and broadcastable patterns, a fresh symbol cache), then counted with
    :func:`.counting.fused_scalar_ops` (rewrites of ``mode`` with fusion) and
    :func:`.counting.rewritten_apply_nodes` (fusion excluded; rewritten only
    when two candidates tie on scalar ops, the second item compares lazily).
    About 0.15 s per rewrite for the hydrogen example on the project's machine.
    """
    from .counting import _kernel_ops, rewritten_graph
    from .printer import TheanoPrinter

    class _Nodes:
        """Apply nodes with fusion excluded, rewritten only when compared (a tie on ops)."""

        def __init__(self, graphs):
            self.graphs, self.value = graphs, None

        def get(self):
            if self.value is None:
                self.value = len(rewritten_graph(self.graphs, fusion=False, mode=mode).apply_nodes)
            return self.value

        def __lt__(self, other):
            return self.get() < other.get()

        def __eq__(self, other):
            return self.get() == other.get()

        def __repr__(self):
            return repr(self.get())

    def cost(outputs):
        printer = TheanoPrinter(settings=dict(settings or {}), cache={})
        graphs = printer.doprint_many(list(outputs), dict(dtypes or {}), dict(broadcastables or {}))
        fused = rewritten_graph(graphs, fusion=True, mode=mode)
        return _kernel_ops(fused.apply_nodes), _Nodes(graphs)

    return cost
