"""Compilation helpers: graph measurements, recursion headroom, mode choice.

PyTensor walks graphs recursively in several places (``rebuild_collect_shared``
when a function is compiled, the gradient, the C code generator of a fused
``Composite``), about one Python frame per level of the graph.  A graph 5,000
levels deep (``sin(sin(...(x)))``) therefore hits Python's default recursion
limit of 1,000.  :func:`recursion_headroom` raises the limit for the duration of
one such call, in proportion to the graph's depth, and restores it after.
Python 3.11 runs nested Python calls without growing the C stack, which is what
makes the higher limit safe.

:func:`choose_mode` picks the compilation mode when the caller gave none: the
default back end (NUMBA) takes time super-linear in the size of a fused kernel
(about 23 s for 1,666 scalar ops on this project's reference machine), whereas
the C back end compiles 5,000 fused ops in about 5 s, so large graphs go to the
C back end (``"CVM"``), or to the Python back end where no C compiler exists.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
from contextlib import contextmanager

import numpy as np
import pytensor
import pytensor.scalar as _scalar
import pytensor.scalar.math as _scalar_math
from pytensor.graph.basic import Variable
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.tensor.basic import cast
from pytensor.tensor.elemwise import Elemwise

#: Python frames allowed per level of graph depth while PyTensor works on it.
FRAMES_PER_LEVEL = 20
#: Above this many apply nodes, a graph compiled with no explicit mode goes to the C back end.
LARGE_GRAPH_NODES = 400

_limit_lock = threading.Lock()


def graph_depth(outputs) -> int:
    """Length of the longest path from a graph input to any of ``outputs``.

    Parameters
    ----------
    outputs : sequence of pytensor Variable
        Graph outputs; other objects in the sequence are ignored.

    Returns
    -------
    int
        Number of apply nodes on the longest path (0 for a bare input).

    The walk is iterative, so it works on graphs of any depth.
    """
    depth: dict[int, int] = {}
    roots = [o for o in outputs if isinstance(o, Variable)]
    stack = [(r, False) for r in roots]
    best = 0
    while stack:
        var, ready = stack.pop()
        key = id(var)
        if key in depth:
            continue
        node = var.owner
        if node is None:
            depth[key] = 0
            continue
        if not ready:
            stack.append((var, True))
            stack.extend((i, False) for i in node.inputs if id(i) not in depth)
            continue
        d = 1 + max((depth[id(i)] for i in node.inputs), default=0)
        depth[key] = d
        best = max(best, d)
    return best


def count_apply_nodes(outputs) -> int:
    """Number of distinct apply nodes in the graph of ``outputs`` (iterative walk)."""
    seen: set[int] = set()
    stack = [o.owner for o in outputs if isinstance(o, Variable) and o.owner is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(i.owner for i in node.inputs if i.owner is not None)
    return len(seen)


@contextmanager
def recursion_headroom(depth: int):
    """Raise Python's recursion limit enough for PyTensor to walk a graph ``depth`` deep.

    The limit is only ever raised, never lowered, and restored on exit by the
    outermost user (threads share one limit, so the raise is reference counted).
    """
    needed = sys.getrecursionlimit()
    wanted = 1000 + FRAMES_PER_LEVEL * int(depth)
    if wanted <= needed:
        yield
        return
    with _limit_lock:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, wanted))
    try:
        yield
    finally:
        with _limit_lock:
            if sys.getrecursionlimit() == max(old, wanted):
                sys.setrecursionlimit(old)


#: PyTensor rewrites that change values, left out of every mode this package compiles with.
#: ``useless_Arccosh_of_Cosh`` rewrites ``arccosh(cosh(x))`` to ``x``, but the
#: identity is ``|x|`` (PyTensor 3.0.7, pytensor/tensor/rewriting/math.py).
EXCLUDED_REWRITES = ("useless_Arccosh_of_Cosh",)


#: Position of :func:`bool_operands_as_numbers` in a mode's rewrite sequence: before
#: PyTensor's ``canonicalize`` (position 1 of ``pytensor.compile.mode.optdb``).
BOOL_OPERANDS_POSITION = 0.5

#: Scalar ops whose boolean operands :func:`bool_operands_as_numbers` casts.
_ARITHMETIC = (_scalar.Add, _scalar.Sub, _scalar.Mul, _scalar.TrueDiv, _scalar.Neg)


@node_rewriter([Elemwise])
def _cast_bool_operands(fgraph, node):
    """Local rewrite: ``Elemwise{Add,Sub,Mul,TrueDiv,Neg}`` with a numeric output and a boolean
    operand gets the operand cast to the output's dtype first (the same values)."""
    if not isinstance(node.op.scalar_op, _ARITHMETIC):
        return None
    dtype = node.outputs[0].dtype
    if dtype == "bool" or not any(i.dtype == "bool" for i in node.inputs):
        return None
    inputs = [cast(i, dtype) if i.dtype == "bool" else i for i in node.inputs]
    return node.op.make_node(*inputs).outputs


def bool_operands_as_numbers():
    """Graph rewrite: arithmetic on a boolean operand sees it as a number of the result's dtype.

    Works around a PyTensor 3.0.7 bug: ``local_add_canonizer`` collects
    ``(1 - eq(a, b)) + (1 - eq(c, d))`` (float64, from the gradients of
    ``maximum``/``minimum``) into ``2 - (eq(a, b) + eq(c, d))``, where the inner
    ``Add`` of two booleans is a logical *or*: ``True + True`` is ``True``, so
    the derivative of ``Max(5, x) + Min(y, Mod(x, 2))`` at ``x = 0.5, y = 0``
    came out as 1 instead of 0 on the C and Python back ends (NUMBA adds the
    booleans as integers).  Casting the boolean operands of ``Add``, ``Sub``,
    ``Mul``, ``TrueDiv`` and ``Neg`` with a numeric result to that result's
    dtype first changes no value, and the canonicalizer then adds numbers.
    Registered in every mode this package compiles with, before
    ``canonicalize``; found by ``tests/test_properties.py``.
    """
    return in2out(_cast_bool_operands, name="bool_operands_as_numbers")


def without_wrong_rewrites(mode=None):
    """``mode`` (a name, a Mode, or None for the default) with its value-changing rewrites mended.

    Leaves out :data:`EXCLUDED_REWRITES` and adds
    :func:`bool_operands_as_numbers` before ``canonicalize``.
    """
    from pytensor.compile.mode import Mode, get_default_mode, get_mode

    base = get_default_mode() if mode is None else get_mode(mode)
    if not isinstance(base, Mode):
        return base
    return base.excluding(*EXCLUDED_REWRITES).register((bool_operands_as_numbers(), BOOL_OPERANDS_POSITION))


def choose_mode(outputs, mode=None):
    """The compilation mode for ``outputs``: ``mode`` if given, else one that suits the graph size.

    Starts from ``mode`` when it is not None.  Otherwise from PyTensor's
    default mode for graphs of at most :data:`LARGE_GRAPH_NODES` apply nodes,
    and from ``"CVM"`` (C back end) or ``"FAST_COMPILE"`` (when
    ``pytensor.config.cxx`` is empty, i.e. no C++ compiler) for larger ones.
    The result always leaves out :data:`EXCLUDED_REWRITES`.
    """
    if mode is None and count_apply_nodes(outputs) > LARGE_GRAPH_NODES:
        mode = "CVM" if pytensor.config.cxx else "FAST_COMPILE"
    return without_wrong_rewrites(mode)


# =============================================================================== back-end registrations
class _AfterImport:
    """Import hook: run ``callback`` once module ``name`` has been executed.

    Registering an implementation needs PyTensor's dispatch module of a back
    end, and importing those (Numba: ~0.5 s, JAX: ~0.8 s) on every import of
    this package would be waste; the hook registers when PyTensor imports
    them, i.e. when a function is compiled for that back end.
    """

    def __init__(self, name, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, callback = spec.loader, self.callback

        class _Loader:
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                callback()

        spec.loader = _Loader()
        return spec


def when_imported(name, callback):
    """Call ``callback`` now if module ``name`` is imported, else right after it is."""
    if name in sys.modules:
        callback()
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


# =============================================================================== the printer's exp2 and erfcinv
# PyTensor's own Exp2 and Erfcinv are left alone (a user's pt.exp2 compiled for JAX keeps
# PyTensor's implementation); the printer builds these subclasses, which are the same ops
# on every back end except JAX, where they get the implementations below.
class PrinterExp2(_scalar.Exp2):
    """PyTensor's ``Exp2``, with a JAX implementation accurate to an ulp (the printer's ``exp2``).

    ``jax.numpy.exp2(x)`` (jax 0.10) is off by up to ~200 ulp in float64 for
    ``|x|`` near 1000 (29 ulp at ``x = -210``), about what ``exp(x ln 2)``
    with ``x ln 2`` rounded gives.  On JAX this op computes ``x = n + f`` with
    ``n`` the nearest integer (clipped to +-1100, far past the float64 range,
    so the cast to an integer cannot overflow) and ``|f| <= 1/2`` exact, and
    ``exp2(x) = ldexp(exp2(f), n)``: the scaling is exact and ``exp2`` is
    accurate on ``[-1/2, 1/2]``.  ``inf``, ``-inf`` and NaN come out as
    ``exp2`` gives them (``f`` carries them).  Element-wise, float dtypes.
    The derivative ``exp2(x) ln 2`` reuses this op's output, so the gradient
    graph holds no PyTensor ``Exp2`` either.
    """

    def pullback(self, inputs, outputs, gout):
        (x,), (z,), (gz,) = inputs, outputs, gout
        if x.type in _scalar.complex_types or z.type in _scalar.discrete_types:
            return super().pullback(inputs, outputs, gout)
        return (gz * z * np.log(np.array(2, dtype=z.type.dtype)),)


class PrinterErfcinv(_scalar_math.Erfcinv):
    """PyTensor's ``Erfcinv``, with a JAX implementation that needs no TensorFlow Probability.

    PyTensor 3.0.7 implements ``erfcinv`` on the JAX back end with TFP's op
    only (``pytensor/link/jax/dispatch/scalar.py``), so without
    ``tensorflow_probability`` SymPy's ``erfcinv`` did not compile with
    ``mode="JAX"``.  On JAX this op computes ``erfcinv(x) = -ndtri(x / 2) /
    sqrt(2)`` with JAX's ``ndtri`` (the inverse of the normal CDF
    ``Phi(t) = erfc(-t / sqrt(2)) / 2``; Abramowitz & Stegun 26.2.2 and
    7.1.2): ``x / 2`` is exact, so the only rounding is ``ndtri``'s, and small
    ``x`` (the tail) keeps its accuracy, which ``erfinv(1 - x)`` would lose.
    The derivative ``-sqrt(pi)/2 exp(erfcinv(x)**2)`` reuses this op's output,
    so the gradient graph holds no PyTensor ``Erfcinv`` either.
    """

    def pullback(self, inputs, outputs, gout):
        (x,), (z,), (gz,) = inputs, outputs, gout
        if x.type in _scalar.complex_types or z.type in _scalar.discrete_types:
            return super().pullback(inputs, outputs, gout)
        half_sqrt_pi = np.asarray(np.sqrt(np.pi) / 2, dtype=_scalar.upcast(z.type.dtype, gz.type.dtype))
        return (-gz * half_sqrt_pi * _scalar.exp(z * z),)


#: Element-wise ``exp2`` as the printer prints SymPy's ``exp2`` (see :class:`PrinterExp2`).
exp2 = Elemwise(PrinterExp2(_scalar.upgrade_to_float, name="exp2"))
#: Element-wise ``erfcinv`` as the printer prints SymPy's ``erfcinv`` (see :class:`PrinterErfcinv`).
erfcinv = Elemwise(PrinterErfcinv(_scalar.upgrade_to_float_no_complex, name="erfcinv"))


def _register_jax():
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(PrinterExp2)
    def _jax_funcify_PrinterExp2(op, node=None, **kwargs):
        import jax.numpy as jnp

        def exp2(x):
            n = jnp.clip(jnp.round(x), -1100, 1100)
            return jnp.ldexp(jnp.exp2(x - n), n.astype(jnp.int32))

        return exp2

    @jax_funcify.register(PrinterErfcinv)
    def _jax_funcify_PrinterErfcinv(op, node=None, **kwargs):
        import jax.numpy as jnp
        from jax.scipy.special import ndtri

        def erfcinv(x):
            return -ndtri(x / 2) / jnp.sqrt(jnp.asarray(2, dtype=x.dtype))

        return erfcinv


when_imported("pytensor.link.jax.dispatch", _register_jax)
