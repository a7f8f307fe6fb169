"""Scale: deep and heavily shared expressions print without Python recursion and compile."""
import inspect
import sys

import mpmath
import numpy as np
import pytest
import sympy as sy

from sympy_theano_printer import TheanoPrinter, theano_code, theano_function
from sympy_theano_printer.backend import count_apply_nodes, graph_depth

x = sy.Symbol("x")
DEPTH = 5000


@pytest.fixture(scope="module")
def deep_chain():
    """sin(sin(...sin(x))) 5,000 levels deep (built unevaluated: SymPy's own
    evaluation of sin recurses through ``is_number`` and cannot build it)."""
    e = x
    for _ in range(DEPTH):
        e = sy.sin(e, evaluate=False)
    return e


def shared_expression(levels):
    """e -> sin(e)*cos(e) + e, ``levels`` times: a tree that doubles per level, 4 new nodes each."""
    e = x
    for _ in range(levels):
        e = sy.sin(e) * sy.cos(e) + e
    return e


def tree_size(expr):
    """Number of nodes of ``expr`` counted as a tree (with repetition), without expanding it."""
    size = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in size:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in size)
        else:
            size[node] = 1 + sum(size[a] for a in node.args)
    return size[expr]


def distinct_nodes(expr):
    seen, stack = set(), [expr]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return seen


class CountingPrinter(TheanoPrinter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.translated = []

    def _translate(self, expr):
        self.translated.append(expr)
        return super()._translate(expr)


def test_deep_chain_prints_under_a_tight_recursion_limit(deep_chain):
    """Printing does not recurse per level: it works with ~200 frames to spare."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 200)
    try:
        printer = CountingPrinter(cache={})
        out = printer.doprint(deep_chain)
    finally:
        sys.setrecursionlimit(old)
    assert printer.max_depth == DEPTH + 1
    assert len(printer.translated) == DEPTH + 1  # each level once, plus x
    assert count_apply_nodes([out]) == DEPTH
    assert graph_depth([out]) == DEPTH


def test_deep_chain_compiles_and_matches_mpmath(deep_chain):
    limit = sys.getrecursionlimit()
    f = theano_function([x], deep_chain, dims={x: 1})
    assert sys.getrecursionlimit() == limit  # the raised limit is restored
    xs = np.array([0.5, 1.0, 3.0])
    got = f(xs)
    with mpmath.workdps(30):
        for xv, g in zip(xs, got):
            r = mpmath.mpf(xv)
            for _ in range(DEPTH):
                r = mpmath.sin(r)
            # each level adds at most ~1 ulp of rounding; sin contracts errors
            assert abs(g - float(r)) <= 64 * np.finfo(np.float64).eps * abs(float(r))


def test_shared_expression_of_over_100000_nodes_prints_each_distinct_node_once():
    e = shared_expression(15)
    assert tree_size(e) > 100_000
    distinct = distinct_nodes(e)
    printer = CountingPrinter(cache={})
    out = printer.doprint(e)
    assert len(printer.translated) == len(distinct)
    assert len(set(printer.translated)) == len(distinct)
    # each level adds sin, cos, Mul and Add: one apply node each
    assert count_apply_nodes([out]) == 4 * 15


def test_printing_work_is_linear_in_distinct_subexpressions():
    """Doubling the distinct nodes doubles the translations (not the tree size)."""
    counts = []
    for levels in (20, 40):
        printer = CountingPrinter(cache={})
        printer.doprint(shared_expression(levels))
        counts.append(len(printer.translated))
    assert counts == [4 * 20 + 1, 4 * 40 + 1]


def test_shared_expression_compiles_and_matches_mpmath():
    e = shared_expression(15)
    f = theano_function([x], e)
    with mpmath.workdps(30):
        r = mpmath.mpf("0.3")
        for _ in range(15):
            r = mpmath.sin(r) * mpmath.cos(r) + r
    assert float(f(0.3)) == pytest.approx(float(r), rel=1e-13)


def test_large_fused_graph_compiles_past_the_c_recursion_limit():
    """A fused kernel of ~1,000 distinct scalar ops: the C back end needs a raised limit."""
    terms = [sy.sin(k * x) * sy.exp(-k * x**2) / k for k in range(1, 200)]
    e = sy.Add(*terms)
    v = theano_code(e, cache={})
    assert count_apply_nodes([v]) > 800
    f = theano_function([x], e, dims={x: 1}, mode="CVM")
    xs = np.array([0.1, 0.7])
    ref = sy.lambdify(x, e, "mpmath")
    with mpmath.workdps(30):
        want = [float(ref(mpmath.mpf(v))) for v in xs]
    np.testing.assert_allclose(f(xs), want, rtol=1e-12)
