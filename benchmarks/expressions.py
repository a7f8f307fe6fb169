"""The element-wise benchmark expressions, their sample ranges and their mpmath references.

Each expression is a list of SymPy outputs of one float64 argument ``x``,
evaluated on ``numpy.linspace(lo, hi, N)`` (a grid, as a user tabulating a
function would).  The reference values are SymPy's ``lambdify(x, ..., "mpmath")``
at 30 significant digits (mpmath's own ``exp``, ``besselj``, ``gamma``...),
rounded to float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
import sympy
from sympy.physics.hydrogen import R_nl

#: The argument of every element-wise expression.
X = sympy.Symbol("x")

#: Digits of the mpmath reference.
REFERENCE_DPS = 30


@dataclass(frozen=True)
class Expression:
    """One benchmark expression.

    Attributes
    ----------
    name : str
        As in the tables.
    slug : str
        File-name form of ``name`` (plots).
    outputs : tuple of sympy.Expr
        Functions of :data:`X`; a route returns them in this order.
    lo, hi : float
        The timed array is ``linspace(lo, hi, N)``.
    special : bool
        Uses functions NumPy lacks (SciPy has them): the ``numpy+scipy`` peer
        runs on it.
    """

    name: str
    slug: str
    outputs: tuple
    lo: float
    hi: float
    special: bool = False

    def grid(self, n: int) -> np.ndarray:
        """The timed input: ``numpy.linspace(lo, hi, n)`` (float64, shape ``(n,)``)."""
        return np.linspace(self.lo, self.hi, n)

    def reference(self, points) -> list[np.ndarray]:
        """The outputs at ``points`` by mpmath at :data:`REFERENCE_DPS` digits, rounded to float64.

        Returns
        -------
        list of float64 arrays of ``len(points)``, one per output
        """
        fns = [sympy.lambdify(X, out, "mpmath") for out in self.outputs]
        with mpmath.workdps(REFERENCE_DPS):
            return [np.array([float(fn(mpmath.mpf(float(p)))) for p in points]) for fn in fns]


def _hydrogen() -> tuple:
    h = R_nl(6, 2, X, 6)
    return (h, sympy.diff(h, X))


EXPRESSIONS = (
    Expression("R_nl(6,2) and derivative", "hydrogen", _hydrogen(), 0.1, 5.0),
    Expression("normal pdf", "normal_pdf", (sympy.exp(-X**2 / 2) / sympy.sqrt(2 * sympy.pi),), -4.0, 4.0),
    Expression("4-piece Piecewise", "piecewise",
               (sympy.Piecewise((X**2, X < 0), (sympy.sin(X), X < 1), (sympy.sqrt(X), X < 3),
                                (sympy.log(X), True)),), -2.0, 5.0),
    Expression("sum of 30 sin*exp terms", "sum30",
               (sympy.Add(*[sympy.sin(k * X) * sympy.exp(-k * X**2) / k for k in range(1, 31)]),), -1.0, 1.0),
    Expression("gamma + erf + besselj(0, x)", "special",
               (sympy.gamma(X) + sympy.erf(X) + sympy.besselj(0, X),), 0.5, 8.0, special=True),
)


def by_name(names=None) -> list[Expression]:
    """The expressions whose name (or slug) is in ``names`` (all when None).

    Raises
    ------
    ValueError
        A name that is no expression's; the message lists the known ones.
    """
    if not names:
        return list(EXPRESSIONS)
    known = {e.name: e for e in EXPRESSIONS} | {e.slug: e for e in EXPRESSIONS}
    return pick(names, known, "expression", ", ".join(f"{e.slug!r} ({e.name})" for e in EXPRESSIONS))


def pick(names, known: dict, kind: str, listing: str) -> list:
    """``[known[n] for n in names]``, or ``ValueError`` naming the unknown ones and ``listing``."""
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {kind}(s) {unknown}; known: {listing}")
    return [known[n] for n in names]
