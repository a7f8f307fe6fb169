"""How each route turns a benchmark expression into a function of a float64 array.

Ours (this project, after ``import sympy_theano_printer``):

* ``theano lambdify``: ``sympy.lambdify([x], outputs, modules="theano")``
  (the element-wise Numba kernel, split over the cores for large arrays);
* ``theano ufuncify``: ``sympy_theano_printer.ufuncify([x], outputs)``, a
  ``numpy.ufunc`` built by Numba;
* ``theano_function NUMBA`` / ``theano_function CVM``:
  ``theano_function([x], outputs, dims={x: 1}, mode=...)``, one
  ``pytensor.function`` on PyTensor's Numba or C back end.

The peers a user would pick instead:

* ``numpy``: ``sympy.lambdify([x], outputs, "numpy")``;
* ``numpy+scipy``: ``modules=["scipy", "numpy"]``, only on expressions with
  special functions (elsewhere it prints the same code as ``numpy``);
* ``numexpr``: ``sympy.lambdify(..., "numexpr")`` (numexpr's virtual machine,
  multi-threaded);
* ``symengine llvm``: ``symengine.Lambdify([x], outputs, backend="llvm",
  cse=True)`` (LLVM-compiled, returns an ``(N, outputs)`` array);
* ``autowrap ufuncify``: ``sympy.utilities.autowrap.ufuncify([x], outputs)``
  (C code compiled into a ``numpy.ufunc``; needs a C compiler and setuptools);
* ``jax jit``: ``jax.jit(sympy.lambdify([x], outputs, "jax"))`` with 64-bit
  floats enabled, each call waited for with ``jax.block_until_ready``.

A route's ``build(expression)`` returns ``call``: ``call(x)`` computes every
output on the float64 array ``x`` and returns them in the route's own form;
``route.unpack(result)`` turns that into a list of float64 arrays (outside the
timed region).  A peer whose library is missing is *skipped*; a route that
raises while building or on its first call *fails*, with the exception's
first line as the reason.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy

from .expressions import X, Expression, pick


def _list_of_arrays(result) -> list:
    if isinstance(result, np.ndarray):
        return [result]
    return [np.asarray(r) for r in result]


@dataclass(frozen=True)
class Route:
    """One way to compute an expression.

    Attributes
    ----------
    name : str
    group : {"ours", "peer"}
    build : callable
        ``build(expression) -> call`` (see the module docstring).
    needs : tuple of str
        Modules that must be importable (else the route is skipped).
    install : str
        What to install when a module is missing (in the skip reason).
    only_special : bool
        Runs only on expressions with ``special=True``.
    unpack : callable
        ``unpack(result) -> list of arrays``, one per output.
    """

    name: str
    group: str
    build: Callable
    needs: tuple = ()
    install: str = ""
    only_special: bool = False
    unpack: Callable = field(default=_list_of_arrays)

    def missing(self) -> str | None:
        """Why the route cannot run here (a module not installed), or None."""
        absent = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if absent:
            return f"not installed: {', '.join(absent)} (pip install {self.install or ' '.join(absent)})"
        return None

    def applies_to(self, expression: Expression) -> bool:
        """Whether the route is measured on ``expression`` at all."""
        return expression.special or not self.only_special


# ----------------------------------------------------------------------------- ours
def _theano_lambdify(e: Expression):
    import sympy_theano_printer  # noqa: F401  (registers modules="theano")

    return sympy.lambdify([X], list(e.outputs), modules="theano")


def _theano_ufuncify(e: Expression):
    from sympy_theano_printer import ufuncify

    return ufuncify([X], list(e.outputs) if len(e.outputs) > 1 else e.outputs[0])


def _theano_function(mode: str):
    def build(e: Expression):
        from sympy_theano_printer import theano_function

        return theano_function([X], list(e.outputs), dims={X: 1}, mode=mode)

    return build


# ----------------------------------------------------------------------------- peers
def _lambdify(modules):
    def build(e: Expression):
        return sympy.lambdify([X], list(e.outputs), modules)

    return build


def _symengine(e: Expression):
    import symengine

    return symengine.Lambdify([symengine.Symbol(X.name)], [symengine.sympify(o) for o in e.outputs],
                              backend="llvm", cse=True)


def _symengine_unpack(result) -> list:
    result = np.asarray(result)
    return [result[..., i] for i in range(result.shape[-1])]


def _autowrap(e: Expression):
    from sympy.utilities.autowrap import ufuncify

    return ufuncify([X], list(e.outputs) if len(e.outputs) > 1 else e.outputs[0], backend="numpy")


def enable_jax_x64() -> None:
    """Make JAX compute in float64 (its default is float32): before any JAX array is made."""
    import jax

    jax.config.update("jax_enable_x64", True)


def _jax(e: Expression):
    import jax

    enable_jax_x64()
    fn = jax.jit(sympy.lambdify([X], list(e.outputs), "jax"))

    def call(x):
        return jax.block_until_ready(fn(x))

    return call


ROUTES = (
    Route("theano lambdify", "ours", _theano_lambdify),
    Route("theano ufuncify", "ours", _theano_ufuncify),
    Route("theano_function NUMBA", "ours", _theano_function("NUMBA")),
    Route("theano_function CVM", "ours", _theano_function("CVM")),
    Route("numpy", "peer", _lambdify("numpy")),
    Route("numpy+scipy", "peer", _lambdify(["scipy", "numpy"]), needs=("scipy",), only_special=True),
    Route("numexpr", "peer", _lambdify("numexpr"), needs=("numexpr",)),
    Route("symengine llvm", "peer", _symengine, needs=("symengine",), unpack=_symengine_unpack),
    Route("autowrap ufuncify", "peer", _autowrap, needs=("setuptools",)),
    Route("jax jit", "peer", _jax, needs=("jax", "jaxlib"), install="jax[cpu]"),
)


def by_name(names=None, routes=ROUTES) -> list[Route]:
    """The routes whose name is in ``names`` (all when None).

    Raises
    ------
    ValueError
        A name that is no route's; the message lists the known ones.
    """
    if not names:
        return list(routes)
    known = {r.name: r for r in routes}
    return pick(names, known, "route", ", ".join(known))
