"""The hydrogen example of Rocklin's 2013 article "SymPy and Theano -- scalar simplification".

The article computes a radial wave function of hydrogen-like carbon,
``e = R_nl(6, 2, x, 6)``, and its derivative together, by three routes, and
counts the apply nodes of each graph (``/work/shared/seeds``):

==================  =========================================================  =======
route               graph                                                      article
==================  =========================================================  =======
SymPy alone         ``[simplify(diff(e, x)), e]`` printed, no rewrites         27
PyTensor alone      ``[Derivative(e, x), e]`` printed (the printer calls       24
                    ``pytensor.grad``), then rewritten
SymPy + PyTensor    ``[simplify(diff(e, x)), e]`` printed, then rewritten      17
==================  =========================================================  =======

"Rewritten" means PyTensor's rewrites with element-wise fusion excluded, as in
the article; see :mod:`.counting` for the counts.  Each route is a
:class:`Route` in :data:`ROUTES`: a further route (a printer or
``theano_function`` option, such as ``optimize=True``) is one more
``Route(name, None, outputs, kwargs={...})`` in the tuple given to
:func:`hydrogen_rows` or :func:`hydrogen_comparison`.

Values are checked against an independent reference: the closed form of
``R_nl`` through generalized Laguerre polynomials, and its derivative by
``mpmath.diff``, both at 30 significant digits.
"""
from __future__ import annotations

import functools
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import mpmath
import numpy as np
import sympy
from pytensor.compile.mode import Mode, get_default_mode, get_mode
from sympy.physics.hydrogen import R_nl

from .counting import counting_mode, fused_scalar_ops, printed_apply_nodes
from .theanocode import theano_function

__all__ = [
    "ROUTES",
    "SAMPLE_POINTS",
    "X",
    "HydrogenRow",
    "Route",
    "best_time",
    "hydrogen_comparison",
    "hydrogen_expression",
    "hydrogen_reference",
    "hydrogen_rows",
    "max_relative_error",
    "pytensor_derivative_outputs",
    "sympy_derivative_outputs",
]

#: The radial coordinate (in Bohr radii).
X = sympy.Symbol("x")

#: Points of the value check, away from the zeros of ``R_nl(6, 2, x, 6)``
#: (0.78 ... 8.86 for the function and its derivative), where a relative
#: error says nothing.
SAMPLE_POINTS = (0.3, 1.2, 2.1, 3.0, 4.2, 5.5, 7.5, 10.0)

#: Quantum numbers and nuclear charge of the article's example (carbon, n = 6, l = 2).
N_L_Z = (6, 2, 6)


def hydrogen_expression(n: int = 6, l: int = 2, Z: int = 6) -> sympy.Expr:  # noqa: E741
    """``sympy.physics.hydrogen.R_nl(n, l, X, Z)``: the article's expression (defaults 6, 2, 6)."""
    return R_nl(n, l, X, Z)


@functools.lru_cache(maxsize=16)
def _simplified_derivative(e: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    return sympy.simplify(sympy.diff(e, x))


def sympy_derivative_outputs(e: sympy.Expr, x: sympy.Symbol) -> list:
    """``[simplify(diff(e, x)), e]``: the derivative computed and simplified by SymPy."""
    return [_simplified_derivative(e, x), e]


def pytensor_derivative_outputs(e: sympy.Expr, x: sympy.Symbol) -> list:
    """``[Derivative(e, x), e]``: the derivative left to PyTensor's gradient."""
    return [sympy.Derivative(e, x), e]


@dataclass(frozen=True)
class Route:
    """One way of computing ``[de/dx, e]``.

    Attributes
    ----------
    name : str
        Row label.
    article : int or None
        The 2013 article's apply-node count for this route (None: not in it).
    outputs : callable
        ``outputs(e, x)`` gives the SymPy outputs ``[derivative, e]``.
    rewrite : bool
        Apply PyTensor's rewrites (False: count and run the graph as printed).
    kwargs : mapping
        Extra keyword arguments of :func:`~sympy_theano_printer.theano_function`
        (``settings=``, or a future option) used for counting and running.
    """

    name: str
    article: int | None
    outputs: Callable[[sympy.Expr, sympy.Symbol], list]
    rewrite: bool = True
    kwargs: Mapping = field(default_factory=dict)

    def compile(self, e: sympy.Expr, *, ndim: int = 1, mode=None):
        """Compile this route's outputs as a function of :data:`X` (``ndim``-d float64 input).

        ``mode`` is the compilation mode (default: ``theano_function``'s); a
        route without rewrites keeps the mode's linker and drops its rewrites.
        Returns a :class:`~sympy_theano_printer.CompiledFunction`.
        """
        if not self.rewrite:
            base = get_default_mode() if mode is None else get_mode(mode)
            mode = Mode(linker=base.provided_linker, optimizer=None)
        return theano_function([X], self.outputs(e, X), dims={X: ndim}, mode=mode, **self.kwargs)

    def counts(self, e: sympy.Expr, *, ndim: int = 0, mode=None) -> tuple[int, int]:
        """``(apply nodes, scalar ops)`` of this route's graph, see :mod:`.counting`.

        Apply nodes: after the rewrites of ``mode`` with fusion excluded (as
        printed for a route without rewrites).  Scalar ops: in the fused
        kernel after the rewrites with fusion on (every element-wise node of
        the printed graph for a route without rewrites).  Compiled with
        :func:`~sympy_theano_printer.counting.counting_mode` (no code generation).
        """
        outputs = self.outputs(e, X)

        def compiled(cmode):
            return theano_function([X], outputs, dims={X: ndim}, mode=cmode, **self.kwargs)

        if not self.rewrite:
            f = compiled(counting_mode(rewrite=False))
            return printed_apply_nodes(f), fused_scalar_ops(f)
        nodes = printed_apply_nodes(compiled(counting_mode(mode, fusion=False)))
        ops = fused_scalar_ops(compiled(counting_mode(mode, fusion=True)))
        return nodes, ops


#: The article's three routes, in its order.
ROUTES = (
    Route("SymPy alone", 27, sympy_derivative_outputs, rewrite=False),
    Route("PyTensor alone", 24, pytensor_derivative_outputs),
    Route("SymPy + PyTensor", 17, sympy_derivative_outputs),
)


@dataclass(frozen=True)
class HydrogenRow:
    """One row of the comparison.  Fields that were not measured are None.

    Attributes
    ----------
    route : str
    article : int or None
        Apply nodes in the 2013 article.
    apply_nodes : int or None
        Apply nodes today (fusion excluded; as printed for "SymPy alone").
    scalar_ops : int or None
        Scalar operations in the fused kernel today.
    max_rel_error : float or None
        Largest relative error of ``e`` and ``de/dx`` at :data:`SAMPLE_POINTS`
        against :func:`hydrogen_reference`.
    seconds : float or None
        Best time of one evaluation on the sample array.
    setup_seconds : float or None
        Printing plus compilation plus the first call.
    """

    route: str
    article: int | None = None
    apply_nodes: int | None = None
    scalar_ops: int | None = None
    max_rel_error: float | None = None
    seconds: float | None = None
    setup_seconds: float | None = None


def hydrogen_rows(routes: Sequence[Route] = ROUTES, *, ndim: int = 0, mode=None,
                  e: sympy.Expr | None = None) -> list[HydrogenRow]:
    """Operation counts of each route (cheap: rewrites only, no code generation).

    Parameters
    ----------
    routes : sequence of Route
        Default :data:`ROUTES`.
    ndim : int
        Dimensions of the input ``x``.  0 (default) is the article's setting:
        the printer differentiates with ``pytensor.grad`` (reverse mode);
        for ``ndim >= 1`` it uses the forward-mode ``pushforward``, and the
        printed graph carries a ``DimShuffle`` per broadcast constant.
    mode : str or Mode, optional
        Whose rewrites (default: PyTensor's default mode, NUMBA).
    e : sympy.Expr, optional
        The expression (default :func:`hydrogen_expression`).

    Returns
    -------
    list of HydrogenRow
        ``route``, ``article``, ``apply_nodes`` and ``scalar_ops`` filled.
    """
    e = hydrogen_expression() if e is None else e
    rows = []
    for route in routes:
        nodes, ops = route.counts(e, ndim=ndim, mode=mode)
        rows.append(HydrogenRow(route.name, route.article, nodes, ops))
    return rows


def _laguerre_form(n: int, l: int, Z: int):  # noqa: E741
    """``r -> R_nl(r)`` by the textbook closed form, in mpmath (independent of SymPy).

    ``R_nl(r) = sqrt((2Z/n)^3 (n-l-1)! / (2n (n+l)!)) exp(-rho/2) rho^l L_{n-l-1}^{(2l+1)}(rho)``,
    ``rho = 2 Z r / n`` (normalized so that the integral of ``R^2 r^2`` is 1, as SymPy's).
    """
    Zm = mpmath.mpf(Z)
    norm = mpmath.sqrt((2 * Zm / n) ** 3 * mpmath.factorial(n - l - 1)
                       / (2 * n * mpmath.factorial(n + l)))

    def radial(r):
        rho = 2 * Zm * r / n
        return norm * mpmath.exp(-rho / 2) * rho**l * mpmath.laguerre(n - l - 1, 2 * l + 1, rho)

    return radial


def hydrogen_reference(points: Sequence[float] = SAMPLE_POINTS, *, n: int = 6, l: int = 2,  # noqa: E741
                       Z: int = 6, dps: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``(dR/dx, R)`` at ``points``, computed with mpmath at ``dps`` digits, rounded to float64.

    ``R`` is the closed form through ``mpmath.laguerre`` (not SymPy's
    ``R_nl``), ``dR/dx`` its numerical derivative by ``mpmath.diff``.

    Returns
    -------
    tuple of two float64 arrays of ``len(points)``
    """
    with mpmath.workdps(dps):
        radial = _laguerre_form(n, l, Z)
        values = [radial(mpmath.mpf(p)) for p in points]
        slopes = [mpmath.diff(radial, mpmath.mpf(p)) for p in points]
    return np.array([float(v) for v in slopes]), np.array([float(v) for v in values])


def max_relative_error(actual, expected) -> float:
    """Largest ``|actual - expected| / |expected|`` over all elements of all pairs.

    Parameters
    ----------
    actual, expected : array_like or sequence of array_like
        Broadcast against each other pairwise.  Where ``expected`` is 0 the
        absolute error is used; equal infinities and two NaNs count as 0, a
        NaN against a number as ``inf``.

    Returns
    -------
    float
    """
    if not isinstance(actual, (list, tuple)):
        actual, expected = [actual], [expected]
    worst = 0.0
    for a, b in zip(actual, expected):
        a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(b == 0, 1.0, np.abs(b))
            err = np.where(same, 0.0, np.abs(a - b) / scale)
        err = np.where(np.isnan(err), np.inf, err)
        if err.size:
            worst = max(worst, float(err.max()))
    return worst


def best_time(fn: Callable, *args, repeat: int = 5, number: int = 1) -> float:
    """Seconds per call of ``fn(*args)``: the best of ``repeat`` runs of ``number`` calls (``timeit``)."""
    timer = timeit.Timer(lambda: fn(*args))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def hydrogen_comparison(routes: Sequence[Route] = ROUTES, *, n: int = 100_000, repeat: int = 5,
                        mode=None, ndim: int = 0, points: Sequence[float] = SAMPLE_POINTS,
                        baseline: bool = True) -> list[HydrogenRow]:
    """Counts, value check and timing of each route, plus a NumPy ``lambdify`` baseline.

    Parameters
    ----------
    routes : sequence of Route
    n : int
        Length of the timed float64 array, ``linspace(0.1, 5, n)``.
    repeat : int
        Timing repeats; the best is kept.
    mode : str or Mode, optional
        Compilation mode of the timed functions (and whose rewrites are counted).
    ndim : int
        Dimensions of ``x`` for the counts, see :func:`hydrogen_rows`
        (the timed functions always take a 1-d array).
    points : sequence of float
        Where values are checked against :func:`hydrogen_reference`.
    baseline : bool
        Add a row for ``sympy.lambdify(x, [simplify(diff(e)), e], "numpy")``.

    Returns
    -------
    list of HydrogenRow
        All fields filled; the baseline row has no counts.
    """
    e = hydrogen_expression()
    reference = hydrogen_reference(points, n=N_L_Z[0], l=N_L_Z[1], Z=N_L_Z[2])
    sample = np.linspace(0.1, 5.0, n)
    check = np.asarray(points, dtype=float)
    rows = []
    for route, row in zip(routes, hydrogen_rows(routes, ndim=ndim, mode=mode, e=e)):
        start = time.perf_counter()
        f = route.compile(e, ndim=1, mode=mode)
        f(sample)
        setup = time.perf_counter() - start
        rows.append(replace(row, max_rel_error=max_relative_error(f(check), list(reference)),
                            seconds=best_time(f, sample, repeat=repeat), setup_seconds=setup))
    if baseline:
        start = time.perf_counter()
        g = sympy.lambdify(X, sympy_derivative_outputs(e, X), "numpy")
        g(sample)
        setup = time.perf_counter() - start
        rows.append(HydrogenRow("numpy lambdify (simplified)", None, None, None,
                                max_relative_error(g(check), list(reference)),
                                best_time(g, sample, repeat=repeat), setup))
    return rows
