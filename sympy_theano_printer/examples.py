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
the article; see :mod:`.counting` for the counts.  A fourth route, not in the
article, is :data:`OPTIMIZE_ROUTE`: ``[diff(e, x), e]`` compiled with
``theano_function(..., optimize=True)`` (:mod:`.optimize`), 14 apply nodes and
19 scalar ops for scalar and 1-d ``x`` (the issue's target: at most 14 and 20).  Each route is a
:class:`Route` in :data:`ROUTES`: a further route (a printer or
``theano_function`` option, such as ``optimize=True``) is one more
``Route(name, None, outputs, kwargs={...})`` in the tuple given to
:func:`hydrogen_rows` or :func:`hydrogen_comparison`.

Values are checked against an independent reference: the closed form of
``R_nl`` through generalized Laguerre polynomials, and its derivative by
``mpmath.diff``, both at 30 significant digits.

The Kalman filter of the third article ("SymPy and Theano -- Matrix
Expressions") is here too: the measurement update :func:`kalman_update` as
matrix expressions, compiled plain, with SymPy facts
(:func:`kalman_assumptions`: a Cholesky route) and blocked
(:func:`kalman_blocked`: ``blockcut`` + ``block_collapse``), timed against
hand-written NumPy and SciPy versions by :func:`kalman_comparison`;
:func:`kalman_roundoff` measures the round-off of the blocked update that the
article reported (about 1e-3).  ``python -m sympy_theano_printer --example
kalman`` prints both.
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
    "KALMAN_BASELINES",
    "KALMAN_SIZES",
    "KALMAN_VARIANTS",
    "ROUTES",
    "SAMPLE_POINTS",
    "X",
    "HydrogenRow",
    "KalmanRow",
    "OPTIMIZE_ROUTE",
    "Route",
    "best_time",
    "hydrogen_comparison",
    "hydrogen_expression",
    "hydrogen_reference",
    "hydrogen_rows",
    "kalman_assumptions",
    "kalman_blocked",
    "kalman_blocked_inverses",
    "kalman_comparison",
    "kalman_data",
    "kalman_functions",
    "kalman_numpy",
    "kalman_reference",
    "kalman_roundoff",
    "kalman_scipy",
    "kalman_symbols",
    "kalman_update",
    "max_relative_error",
    "pytensor_derivative_outputs",
    "raw_derivative_outputs",
    "relative_difference",
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


def raw_derivative_outputs(e: sympy.Expr, x: sympy.Symbol) -> list:
    """``[diff(e, x), e]``: the derivative as SymPy gives it, not simplified (for ``optimize=True``)."""
    return [sympy.diff(e, x), e]


#: ``theano_function(..., optimize=True)`` on ``[diff(e, x), e]``
#: (:func:`~sympy_theano_printer.optimize.optimize_outputs`: ``expand_compute``,
#: ``simplify``, ``cse``, monic Horner forms sharing their intermediates, the
#: constant folded into ``exp``); not in the article.
OPTIMIZE_ROUTE = Route("optimize=True", None, raw_derivative_outputs, kwargs={"optimize": True})

#: The article's three routes, in its order, then :data:`OPTIMIZE_ROUTE`.
ROUTES = (
    Route("SymPy alone", 27, sympy_derivative_outputs, rewrite=False),
    Route("PyTensor alone", 24, pytensor_derivative_outputs),
    Route("SymPy + PyTensor", 17, sympy_derivative_outputs),
    OPTIMIZE_ROUTE,
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


# ====================================================================== the Kalman filter
#: The benchmark sizes ``(n, k)``: a small one and the article's ``n = 1000, k = 500``.
KALMAN_SIZES = ((200, 100), (1000, 500))

#: The compiled variants, in the order of the table.
KALMAN_VARIANTS = ("plain", "assumptions", "blocked")

#: The hand-written baselines.
KALMAN_BASELINES = ("numpy", "scipy")


def kalman_symbols(n, k) -> tuple:
    """The article's inputs ``(mu, Sigma, H, R, data)`` as ``MatrixSymbol`` objects.

    ``mu`` (``n x 1``) and ``Sigma`` (``n x n``): mean and covariance of the
    state; ``H`` (``k x n``): the observation operator; ``R`` (``k x k``): the
    covariance of the observation noise; ``data`` (``k x 1``): the observation.
    ``n`` and ``k`` may be integers or SymPy symbols.
    """
    return (sympy.MatrixSymbol("mu", n, 1), sympy.MatrixSymbol("Sigma", n, n),
            sympy.MatrixSymbol("H", k, n), sympy.MatrixSymbol("R", k, k),
            sympy.MatrixSymbol("data", k, 1))


def kalman_update(mu, Sigma, H, R, data) -> list:
    """The Kalman filter's measurement update, as in the article: ``[new_mu, new_Sigma]``.

    ``new_mu = mu + Sigma H^T (R + H Sigma H^T)^-1 (H mu - data)`` and
    ``new_Sigma = Sigma - Sigma H^T (R + H Sigma H^T)^-1 H Sigma``
    (Kalman, "A new approach to linear filtering and prediction problems",
    J. Basic Eng. 82, 1960; the sign of the innovation follows the article).
    """
    S = R + H * Sigma * H.T
    return [mu + Sigma * H.T * S.I * (H * mu - data),
            Sigma - Sigma * H.T * S.I * H * Sigma]


def kalman_assumptions(mu, Sigma, H, R, data):
    """The facts of the update: ``Sigma`` and ``R`` positive definite, ``H`` of full rank.

    From them SymPy's ``ask`` derives that ``R + H Sigma H^T`` is positive
    definite (and, with the printer's convention, symmetric), which selects
    the Cholesky route (:mod:`sympy_theano_printer.linalg`).
    """
    return sympy.Q.positive_definite(Sigma) & sympy.Q.positive_definite(R) & sympy.Q.fullrank(H)


def _halves(m: int) -> tuple:
    return (m // 2, m - m // 2) if m > 1 else (m,)


@functools.lru_cache(maxsize=8)
def kalman_blocked(mu, Sigma, H, R, data) -> list:
    """The update with every input cut into 2 x 2 blocks, by ``blockcut`` and ``block_collapse``.

    As the article: each input is ``blockcut`` into halves and the update is
    reduced by ``block_collapse``, which multiplies block matrices and inverts
    ``S = R + H Sigma H^T`` by the 2 x 2 block-inverse formula (Schur
    complement of the leading block).  ``block_collapse`` runs stage by stage
    (``S``, ``S^-1``, the gain ``K = Sigma H^T S^-1``, the outputs), each
    stage's blocks named by placeholder ``MatrixSymbol`` objects that are
    substituted back at the end: one ``block_collapse`` of the whole update
    gives the same blocks but takes about 10 s of SymPy time, this about 0.3 s.

    Parameters
    ----------
    mu, Sigma, H, R, data : sympy.MatrixSymbol
        As :func:`kalman_symbols`, with integer dimensions.

    Returns
    -------
    list of two sympy.BlockMatrix
        ``[new_mu, new_Sigma]``, ``2 x 1`` and ``2 x 2`` blocks of the inputs' slices.

    Raises
    ------
    ValueError
        A dimension is symbolic (``blockcut`` needs integer block sizes).
    """
    sizes = [(s, d) for s in (mu, Sigma, H, R, data) for d in s.shape]
    symbolic = [f"{s}: {d}" for s, d in sizes if not getattr(d, "is_Integer", False)]
    if symbolic:
        raise ValueError("kalman_blocked needs integer dimensions to cut blocks; symbolic: "
                         + ", ".join(symbolic))
    n, k = int(Sigma.rows), int(R.rows)
    cut = {mu: (_halves(n), (1,)), Sigma: (_halves(n), _halves(n)), H: (_halves(k), _halves(n)),
           R: (_halves(k), _halves(k)), data: (_halves(k), (1,))}
    mu_b, Sigma_b, H_b, R_b, data_b = [sympy.blockcut(s, *cut[s]) for s in (mu, Sigma, H, R, data)]
    definitions: dict = {}

    def stage(expr, name):
        collapsed = sympy.block_collapse(expr)
        blocks = collapsed.blocks
        named = [[None] * blocks.cols for _ in range(blocks.rows)]
        for i in range(blocks.rows):
            for j in range(blocks.cols):
                placeholder = sympy.MatrixSymbol(f"_kalman_{name}_{i}{j}", *blocks[i, j].shape)
                definitions[placeholder] = blocks[i, j]
                named[i][j] = placeholder
        return sympy.BlockMatrix(named)

    S = stage(R_b + H_b * Sigma_b * H_b.T, "S")
    S_inv = stage(S.I, "Sinv")
    K = stage(Sigma_b * H_b.T * S_inv, "K")
    outputs = [sympy.block_collapse(mu_b + K * (H_b * mu_b - data_b)),
               sympy.block_collapse(Sigma_b - K * H_b * Sigma_b)]
    result = []
    for out in outputs:
        while True:  # definitions refer to earlier placeholders: substitute to a fixed point
            expanded = out.xreplace(definitions)
            if expanded == out:
                break
            out = expanded
        result.append(out)
    return result


def kalman_data(n: int, k: int, seed: int = 0, kind: str = "covariance") -> tuple:
    """Float64 inputs ``(mu, Sigma, H, R, data)`` of the update, from a seeded generator.

    Parameters
    ----------
    n, k : int
    seed : int
    kind : {"covariance", "uniform"}
        ``"covariance"`` (the benchmark's): ``Sigma = A A^T / n + I`` and
        ``R = B B^T / k + I`` symmetric positive definite (eigenvalues in
        about [1, 5]), ``H`` standard normal over ``sqrt(n)`` (full rank), so
        ``S = R + H Sigma H^T`` is well conditioned (``cond(S)`` about 10).
        ``"uniform"``: every entry uniform in [0, 1), as ``np.random.rand``
        gives; ``Sigma`` is then no covariance, and ``S`` is dominated by a
        rank-one term and ill conditioned (``cond(S)`` about 3e9 at n = 1000).

    Returns
    -------
    tuple of five float64 arrays of shapes ``(n, 1), (n, n), (k, n), (k, k), (k, 1)``
    """
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return tuple(rng.random(shape) for shape in ((n, 1), (n, n), (k, n), (k, k), (k, 1)))
    if kind != "covariance":
        raise ValueError(f"kind must be 'covariance' or 'uniform', not {kind!r}")
    A = rng.standard_normal((n, n))
    Sigma = A @ A.T / n + np.eye(n)
    B = rng.standard_normal((k, k))
    R = B @ B.T / k + np.eye(k)
    H = rng.standard_normal((k, n)) / np.sqrt(n)
    mu = rng.standard_normal((n, 1))
    data = rng.standard_normal((k, 1))
    return mu, (Sigma + Sigma.T) / 2, H, (R + R.T) / 2, data


def kalman_numpy(mu, Sigma, H, R, data) -> list:
    """The update written by hand with NumPy: one ``numpy.linalg.solve`` (LAPACK ``?gesv``).

    ``P = Sigma H^T``, ``S = R + H P``; ``S X = [H mu - data, P^T]`` is solved
    once for both right-hand sides; ``new_mu = mu + P X_1``,
    ``new_Sigma = Sigma - P X_2`` (``H Sigma = P^T`` for a symmetric ``Sigma``).
    """
    P = Sigma @ H.T
    S = R + H @ P
    X = np.linalg.solve(S, np.hstack([H @ mu - data, P.T]))
    return [mu + P @ X[:, :1], Sigma - P @ X[:, 1:]]


def kalman_reference(mu, Sigma, H, R, data) -> list:
    """The update by NumPy for any ``Sigma`` (symmetric or not): the reference of
    :func:`kalman_roundoff`.  ``K = Sigma H^T S^-1`` from ``S^T K^T = (Sigma H^T)^T``
    (``numpy.linalg.solve``), ``new_mu = mu + K (H mu - data)``,
    ``new_Sigma = Sigma - K (H Sigma)``."""
    S = R + H @ Sigma @ H.T
    K = np.linalg.solve(S.T, (Sigma @ H.T).T).T
    return [mu + K @ (H @ mu - data), Sigma - K @ (H @ Sigma)]


def kalman_blocked_inverses(mu, Sigma, H, R, data) -> list:
    """The blocked update with explicit block inverses, as Theano evaluated it in 2013.

    ``S = R + H Sigma H^T`` is cut into ``[[A, B], [C, D]]`` (halves, as
    :func:`kalman_blocked`) and ``S^-1`` assembled by the 2 x 2 block-inverse
    formula that ``block_collapse`` emits (Schur complement ``D - C A^-1 B`` of the
    leading block), with ``A^-1`` and the Schur complement's inverse computed
    explicitly by ``numpy.linalg.inv`` (Theano's ``MatrixInverse`` for each
    ``.I``), then ``K = Sigma H^T S^-1``, ``new_mu = mu + K (H mu - data)``,
    ``new_Sigma = Sigma - K (H Sigma)``.  For the round-off comparison only.
    """
    S = R + H @ Sigma @ H.T
    h = S.shape[0] // 2
    A, B, C, D = S[:h, :h], S[:h, h:], S[h:, :h], S[h:, h:]
    A_inv = np.linalg.inv(A)
    schur_inv = np.linalg.inv(D - C @ A_inv @ B)
    S_inv = np.block([[A_inv + A_inv @ B @ schur_inv @ C @ A_inv, -A_inv @ B @ schur_inv],
                      [-schur_inv @ C @ A_inv, schur_inv]])
    K = Sigma @ H.T @ S_inv
    return [mu + K @ (H @ mu - data), Sigma - K @ (H @ Sigma)]


def kalman_scipy(mu, Sigma, H, R, data) -> list:
    """The update written by hand with SciPy: ``cho_factor`` once, ``cho_solve`` twice
    (LAPACK ``?potrf``, ``?potrs``), ``check_finite=False``; otherwise as :func:`kalman_numpy`."""
    import scipy.linalg

    P = Sigma @ H.T
    S = R + H @ P
    factor = scipy.linalg.cho_factor(S, lower=True, check_finite=False)
    gain_mu = scipy.linalg.cho_solve(factor, H @ mu - data, check_finite=False)
    gain_sigma = scipy.linalg.cho_solve(factor, P.T, check_finite=False)
    return [mu + P @ gain_mu, Sigma - P @ gain_sigma]


def kalman_functions(n: int, k: int, *, mode=None, variants=KALMAN_VARIANTS) -> dict:
    """Compile the update's variants: ``{name: (CompiledFunction, setup seconds)}``.

    ``"plain"``: :func:`kalman_update` with no facts (general LU solves);
    ``"assumptions"``: the same with :func:`kalman_assumptions` (Cholesky);
    ``"blocked"``: :func:`kalman_blocked` with no facts.  Setup is the SymPy
    work (blocking), printing and compilation.
    """
    symbols = kalman_symbols(n, k)
    out = {}
    for name in variants:
        start = time.perf_counter()
        if name == "plain":
            f = theano_function(symbols, kalman_update(*symbols), mode=mode)
        elif name == "assumptions":
            f = theano_function(symbols, kalman_update(*symbols), mode=mode,
                                assumptions=kalman_assumptions(*symbols))
        elif name == "blocked":
            f = theano_function(symbols, kalman_blocked(*symbols), mode=mode)
        else:
            raise ValueError(f"unknown Kalman variant {name!r}; known: {', '.join(KALMAN_VARIANTS)}")
        out[name] = (f, time.perf_counter() - start)
    return out


def relative_difference(actual, expected) -> float:
    """Normwise relative difference ``max |a - e| / max |e|``, the largest over pairs of arrays."""
    if not isinstance(actual, (list, tuple)):
        actual, expected = [actual], [expected]
    worst = 0.0
    for a, e in zip(actual, expected):
        a, e = np.asarray(a, dtype=float), np.asarray(e, dtype=float)
        scale = float(np.max(np.abs(e), initial=0.0)) or 1.0
        worst = max(worst, float(np.max(np.abs(a - e), initial=0.0)) / scale)
    return worst


@dataclass(frozen=True)
class KalmanRow:
    """One line of the Kalman comparison.

    Attributes
    ----------
    n, k : int
    variant : str
        A name of :data:`KALMAN_VARIANTS` or :data:`KALMAN_BASELINES`.
    seconds : float
        Best time of one update (interleaved with the other variants).
    setup_seconds : float or None
        Blocking, printing and compilation (None for the hand-written ones).
    difference : float
        Largest normwise relative difference of its outputs from every other
        variant's (:func:`relative_difference`).
    """

    n: int
    k: int
    variant: str
    seconds: float
    setup_seconds: float | None
    difference: float


#: Pause before each timed call of :func:`kalman_comparison`, in seconds: NumPy and
#: SciPy each bundle an OpenBLAS, and the worker threads of one keep spinning for a
#: while after a call, which slows a call into the other on a 2-core machine.
SETTLE_SECONDS = 0.02


def kalman_comparison(sizes=KALMAN_SIZES, *, repeat: int = 20, mode=None, seed: int = 0) -> list:
    """Time the three compiled variants against the NumPy and SciPy versions, for each size.

    Every callable is called ``repeat`` times per size, round-robin (so a
    disturbance on a shared machine hits all alike), each call after a pause
    of :data:`SETTLE_SECONDS`, and its best time is kept.  The outputs of all
    five are compared pairwise.

    Returns
    -------
    list of KalmanRow
        Per size, the rows of :data:`KALMAN_VARIANTS` then :data:`KALMAN_BASELINES`.
    """
    rows = []
    for n, k in sizes:
        args = kalman_data(n, k, seed)
        compiled = kalman_functions(n, k, mode=mode)
        calls = {name: f for name, (f, _) in compiled.items()}
        calls.update(numpy=kalman_numpy, scipy=kalman_scipy)
        results = {name: list(f(*args)) for name, f in calls.items()}
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(repeat):
            for name, f in calls.items():
                time.sleep(SETTLE_SECONDS)
                start = time.perf_counter()
                f(*args)
                best[name] = min(best[name], time.perf_counter() - start)
        for name in calls:
            diff = max(relative_difference(results[name], results[other])
                       for other in calls if other != name)
            setup = compiled[name][1] if name in compiled else None
            rows.append(KalmanRow(n, k, name, best[name], setup, diff))
    return rows


def kalman_roundoff(n: int, k: int, *, mode=None, seed: int = 0) -> dict:
    """How far the blocked update is from the unblocked one, for both kinds of :func:`kalman_data`.

    Returns
    -------
    dict
        ``{kind: {"cond_S": ..., "plain_vs_numpy": ..., "blocked_vs_numpy": ...,
        "inverses_vs_numpy": ...}}`` for kind ``"covariance"`` and ``"uniform"``:
        normwise relative differences (:func:`relative_difference`) of the
        compiled plain and blocked updates and of :func:`kalman_blocked_inverses`
        from :func:`kalman_reference` (an LU solve that does not assume ``Sigma``
        symmetric).
    """
    compiled = kalman_functions(n, k, mode=mode, variants=("plain", "blocked"))
    report = {}
    for kind in ("covariance", "uniform"):
        args = kalman_data(n, k, seed, kind=kind)
        mu, Sigma, H, R, data = args
        plain, blocked = (list(compiled[v][0](*args)) for v in ("plain", "blocked"))
        reference = kalman_reference(*args)
        report[kind] = {
            "cond_S": float(np.linalg.cond(R + H @ Sigma @ H.T)),
            "plain_vs_numpy": relative_difference(plain, reference),
            "blocked_vs_numpy": relative_difference(blocked, reference),
            "inverses_vs_numpy": relative_difference(kalman_blocked_inverses(*args), reference),
        }
    return report
