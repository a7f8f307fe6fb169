"""``sympy.lambdify(..., modules='theano')``: lambdified functions that run compiled PyTensor code.

How it is plugged into SymPy
----------------------------
SymPy offers no registry for ``lambdify`` modules: ``MODULES`` in
``sympy.utilities.lambdify`` is a plain dict of namespaces, and the code
printer is chosen by a fixed ``if``/``elif`` chain on module names.  Two ways
were open:

* a **custom printer** (``lambdify(..., printer=...)`` plus a ``MODULES``
  entry): SymPy would still generate and ``exec`` Python source that calls
  namespace functions on NumPy arrays, so nothing could be compiled once and
  reused, every user would have to pass ``printer=``, and a ``MODULES`` entry
  would make ``modules='theano'`` silently fall back to SymPy's plain Python
  printer wherever the printer is forgotten;
* a **wrapper over** ``sympy.lambdify`` (chosen): :func:`register` replaces
  ``lambdify`` where SymPy exports it (``sympy.lambdify``,
  ``sympy.utilities.lambdify`` and the ``lambdify`` attribute of the module
  ``sympy.utilities.lambdify``) by a function that handles ``'theano'`` /
  ``'pytensor'`` itself and passes every other call, unchanged, to SymPy's
  function.  ``MODULES`` is not touched.

Limits of the wrapper: a reference to ``lambdify`` bound *before*
``import sympy_theano_printer`` (``from sympy import lambdify`` at the top of a
module imported earlier) keeps SymPy's function, which answers
``modules='theano'`` with SymPy's own ``NameError: 'theano' module cannot be
used for lambdification``; call :func:`sympy_theano_printer.lambdify` (which
needs no registration) or import this package first.  :func:`unregister` puts
SymPy's function back (where the wrapper is still installed).  Setting the
environment variable ``SYMPY_THEANO_PRINTER_REGISTER=0`` before the import
skips the registration.

What a ``'theano'`` lambdified function does
--------------------------------------------
Arguments and outputs are taken apart as SymPy's ``lambdify`` does (nested
argument lists, ``Dummy``, ``MatrixSymbol`` and applied undefined functions as
arguments, other expressions as arguments replaced by dummies, ``cse``,
lists/tuples/``Matrix``/``Array`` of outputs), and each scalar output is
computed by compiled code:

* **element-wise route** (all arguments scalars, all outputs scalar
  expressions or explicit matrices of them, no ``mode`` given): the outputs
  are fused into one Numba kernel per group of outputs that depend on the same
  arguments (:func:`~sympy_theano_printer.ufuncify.compile_kernel`), compiled
  once per tuple of input dtypes; NumPy broadcasting, any number of
  dimensions, no lock (the kernel has no shared state and releases the GIL),
  and large arrays split over the CPU cores (each thread under the caller's
  ``np.errstate``);
* **PyTensor route** (``MatrixSymbol`` arguments, matrix expressions, or a
  ``mode`` given): one ``pytensor.function`` per signature (dtype and
  broadcastable pattern of every argument) through
  :class:`~sympy_theano_printer.CompiledFunction`, whose lock serializes calls.

Outputs that depend on no argument are evaluated by SymPy once and returned as
NumPy scalars, as ``lambdify(..., 'numpy')`` returns the constant itself.

First calls: the kernel compiles in the background
--------------------------------------------------
Compiling a kernel takes 0.2-1.5 s (Numba), and the first one in a process
0.3-0.6 s more (importing and initialising Numba and PyTensor's Numba back
end).  So, on the element-wise route, the first float64 call of a kernel that
is not on disk yet (or that is, while this process has not loaded Numba) does
not wait for it: it starts the compilation in a background thread and is
answered by ``pytensor.function`` of the same printed graph with PyTensor's
Python linker and no rewrites (built in milliseconds; NumPy/SciPy
implementations of the same ops, so the same output dtypes and shapes, and
values within a few ulps).  Calls on at most ``EARLY_MAX_SIZE`` elements keep
being answered that way until the kernel is ready; larger calls wait for it.
The switch is one dictionary store, so every thread sees either the Python
function (called under its lock) or the kernel.  Only graphs that are
element-wise node by node are answered early; others, other dtypes, and
``lambdify(..., background=False)`` compile on the first call.
:meth:`LambdifiedFunction.wait_compiled` waits for the background work (the
interpreter also waits for it at exit, so the kernel reaches the disk cache).
While a kernel compiles, the compilation thread competes for the GIL with the
caller's Python code.

Why the element-wise Numba kernel is the default
------------------------------------------------
Measured with ``benchmarks/first_result.py`` on the project's 2-core machine
(shared, load average 2-3 while measuring) for the four benchmark
expressions, against the same expressions through ``pytensor.function``
(``mode='NUMBA'``, PyTensor's default, and ``mode='CVM'``, its C back end):

* compiled before (another process), first result in a process that has
  compiled something already: 5-16 ms, against 30-540 ms for NUMBA/CVM,
  because the kernel is found by a key of the SymPy expression (no printing,
  no rewriting) and Numba's cached gufunc wrapper loads in milliseconds;
* cold: 0.38-1.4 s, against 0.48-2.4 s (NUMBA) and 0.49-0.95 s (CVM); the
  first compilation in a process adds 0.3-0.5 s of Numba start-up to all
  (compile times measured with ``background=False``; by default the first
  result does not wait for them, see above);
* steady state, one thread: within 10% of the faster of the two, or faster
  (a ``Piecewise`` evaluates one branch per element: 4-8x faster than
  NUMBA, 2x than CVM), and without a lock, so threads and the core split
  run in parallel.

For matrix expressions the PyTensor route keeps ``choose_mode``'s choice
(NUMBA): a pip-installed PyTensor's C back end cannot link BLAS, and NUMBA
ran a 200x200 product-and-solve 2x faster than CVM.

Large arrays: a vectorised loop
-------------------------------
A kernel without branches also gets a plain loop over flat C-contiguous
arrays (:attr:`~sympy_theano_printer.ufuncify.Kernel.contiguous`), compiled
with glibc's vector math library ``libmvec`` as LLVM's vector library, so
``exp``, ``sin``, ``log``... run 4 elements per instruction (see
:func:`~sympy_theano_printer.ufuncify.vector_math_enabled`; Intel's SVML,
Numba's own choice, is not usable with the pip ``llvmlite``).  Calls on at
least ``FLAT_MIN_SIZE`` elements whose arguments are C-contiguous arrays of
the full shape (or single values) take it; the rest take the ufunc.  Either
is split over the cores from ``2 * PARALLEL_MIN_SIZE`` elements, into chunks
of at least ``PARALLEL_MIN_SECONDS`` of work as measured on earlier calls
(handing a chunk to another thread cost up to tens of milliseconds on the
loaded machine, more than the vectorised loop needs for 1e5 elements); the
flat loop's chunk boundaries are multiples of 64 elements, so the split never
changes a value.  Its
results are within a few ulp of the ufunc's (libmvec: at most 4 ulp per
function).  Floating-point exceptions: the loop returns the flags it raised;
if ``np.errstate`` acts on any of them, the ufunc recomputes the call and
reports them exactly as NumPy does (vector code may raise flags for lanes the
element-wise code never computes).

CPU time per call on the benchmark expressions (this route with
``parallel=False``, float64, best of 5 calls interleaved with the peers in one
run of a script like ``benchmarks/first_result.py --part steady --clock cpu``
on the shared 2-core machine, load average about 8, which makes wall times
meaningless; ``N = 1e6`` / ``1e7``, milliseconds; JAX's time sums its
threads):

==========================  ===========  ===========  ===========  ===========
expression                  this route   NumPy        symengine    jax.jit
==========================  ===========  ===========  ===========  ===========
R_nl(6, 2) and derivative   1.0 / 19     22 / 522     5.8 / 62     2.4 / 114
normal pdf                  0.74 / 13    2.0 / 33     3.7 / 41     1.7 / 67
4-piece Piecewise (ufunc)   2.6 / 30     16 / 346     3.2 / 37     11 / 192
sum of 30 sin*exp terms     53 / 551     314 / 5250   290 / 2870   248 / 2600
gamma + erf + besselj(0)    19 / 207     217 / 2320   fails        fails
==========================  ===========  ===========  ===========  ===========

(NumPy with SciPy for the special functions; numexpr was slower than NumPy
or symengine on the first four and cannot print ``besselj``.)

Limits: Numba-built ufuncs do not take ``where=``; compiled kernels stay
loaded for the life of the process; a ``Piecewise`` keeps the element-wise
ufunc (vectorising it would evaluate every branch).
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytensor
import sympy
from sympy.core.basic import Basic
from sympy.core.function import AppliedUndef
from sympy.matrices import MatrixBase
from sympy.matrices.expressions import MatrixExpr, MatrixSymbol
from sympy.tensor.array import NDimArray

from .backend import LARGE_GRAPH_NODES, choose_mode, count_apply_nodes, graph_depth, recursion_headroom
from .errors import ShapeError, UnsupportedExpressionError
from .printer import TheanoPrinter
from .theanocode import CompiledFunction
from .ufuncify import (
    NotElementwiseError,
    compile_kernel,
    expression_key,
    kernels_loaded,
    print_graph,
    fp_errors_matter,
    recorded,
)

__all__ = [
    "LambdifiedFunction",
    "MODULE_NAMES",
    "is_registered",
    "lambdify",
    "register",
    "unregister",
    "uses_theano",
]

#: Module names that select this implementation (case-insensitive).
MODULE_NAMES = ("theano", "pytensor")

#: Arrays with at least this many elements are split over the CPU cores.
PARALLEL_MIN_SIZE = 1 << 15

#: Arrays with at least this many elements run the kernel's vectorised flat loop, if it has one.
FLAT_MIN_SIZE = 1 << 10

#: Large calls are split over threads in chunks of at least this much measured work (seconds).
PARALLEL_MIN_SECONDS = 1e-3

#: While a kernel compiles in the background, calls on at most this many elements are
#: answered by PyTensor's Python implementations of the same graph; larger ones wait.
EARLY_MAX_SIZE = 1 << 16

_sympy_utilities_lambdify = sys.modules["sympy.utilities.lambdify"]
#: SymPy's own lambdify (unwrapped, should this module be imported again after registering).
sympy_lambdify = getattr(_sympy_utilities_lambdify.lambdify, "_stp_original",
                         _sympy_utilities_lambdify.lambdify)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_pool = None
_pool_lock = threading.Lock()


def _thread_pool():
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=max(1, _cpu_count() - 1),
                                           thread_name_prefix="sympy_theano_printer")
    return _pool


def _is_theano_name(m) -> bool:
    if isinstance(m, str):
        return m.lower() in MODULE_NAMES
    return getattr(m, "__name__", None) in MODULE_NAMES


def uses_theano(modules) -> bool:
    """Whether a ``modules`` argument of ``lambdify`` asks for this implementation.

    True for ``'theano'``, ``'pytensor'`` (any case), the ``pytensor`` module
    object, or a list/tuple containing one of them.
    """
    if isinstance(modules, (list, tuple)):
        return any(_is_theano_name(m) for m in modules)
    return _is_theano_name(modules)


# --------------------------------------------------------------------------- names for docstrings
def _arg_names(args, frame):
    """Argument names for the docstring, as SymPy's lambdify finds them (from the caller's locals)."""
    iterable_args = (args,) if isinstance(args, sympy.Expr) else args
    local_items = list(frame.f_locals.items()) if frame is not None else []
    names = []
    for n, var in enumerate(iterable_args):
        if hasattr(var, "name"):
            names.append(var.name)
            continue
        found = [k for k, v in local_items if v is var]
        names.append(found[0] if len(found) == 1 else f"arg_{n}")
    return names


def _signature_text(names):
    return textwrap.fill(f"func({', '.join(map(str, names))})", subsequent_indent=" " * 8)


# --------------------------------------------------------------------------- analysis
_ARG_LEAF = (sympy.Symbol, MatrixSymbol, AppliedUndef)


class _Spec:
    """Arguments and outputs taken apart: flat leaves plus the trees to rebuild them."""

    def __init__(self, args, expr, dummify, cse):
        top = (args,) if isinstance(args, sympy.Expr) else args
        try:
            top = list(top)
        except TypeError:
            raise TypeError(f"lambdify arguments must be symbols or (nested) lists of them, "
                            f"got {args!r}") from None
        self.args: list = []          # flat argument leaves (symbols the graph sees)
        self.originals: list = []     # what the user gave for each leaf
        replacements = {}
        self.arg_tree = [self._arg_node(a, replacements) for a in top]
        seen = set()
        for a, orig in zip(self.args, self.originals):
            if a in seen:
                raise ValueError(f"argument {orig} appears more than once in the arguments")
            seen.add(a)

        self.leaves: list = []
        if replacements:
            expr = _map_leaves(expr, lambda e: e.xreplace(replacements) if isinstance(e, Basic) else e)
        if cse is True:
            from sympy.simplify.cse_main import cse as sympy_cse

            self.cses, expr = sympy_cse(expr, list=False)
        elif callable(cse):
            self.cses, expr = cse(expr)
        else:
            self.cses = []
        self.cses = list(self.cses)
        self.out_tree = self._out_node(expr)
        self._check_symbols()

    # arguments
    def _arg_node(self, a, replacements):
        if isinstance(a, Basic) and not isinstance(a, (sympy.Tuple, MatrixBase)):
            leaf = a
            if not isinstance(a, _ARG_LEAF):  # as SymPy: other expressions become dummies
                leaf = sympy.Dummy()
                replacements[a] = leaf
            self.args.append(leaf)
            self.originals.append(a)
            return len(self.args) - 1
        if isinstance(a, (list, tuple, sympy.Tuple)):
            return [self._arg_node(b, replacements) for b in a]
        raise TypeError(f"lambdify argument {a!r} ({type(a).__name__}) is neither a SymPy "
                        "symbol nor a list of them")

    # outputs
    def _leaf(self, e):
        if not isinstance(e, Basic):
            e = sympy.sympify(e)
        self.leaves.append(e)
        return ("leaf", len(self.leaves) - 1)

    def _out_node(self, e):
        if isinstance(e, list):
            return ("list", [self._out_node(x) for x in e])
        if isinstance(e, (tuple, sympy.Tuple)):
            return ("tuple", [self._out_node(x) for x in e])
        if isinstance(e, (MatrixBase, NDimArray)):
            shape = tuple(int(n) for n in e.shape)
            return ("array", shape, [self._leaf(e[i])[1] for i in np.ndindex(*shape)])
        if isinstance(e, (Basic, int, float, complex, str, np.number, np.bool_, bool)):
            return self._leaf(e)
        raise TypeError(f"lambdify cannot return {type(e).__name__} {e!r}; use a list, "
                        "tuple, Matrix or SymPy expression")

    def _check_symbols(self):
        """Every free symbol of an output must be an argument (or a cse symbol)."""
        allowed = set(self.args) | {s for s, _ in self.cses}
        undefs = {a: sympy.Dummy() for a in self.args if isinstance(a, AppliedUndef)}
        originals = dict(zip(self.args, self.originals))
        for e in [sub for _, sub in self.cses] + self.leaves:
            if not isinstance(e, Basic):
                continue
            calls = [u for u in e.atoms(AppliedUndef) if u not in allowed]
            if calls:
                u = calls[0]
                how = (" it is an implemented_function, whose Python implementation cannot be "
                       "compiled; use modules='numpy' for it, or add it to the arguments"
                       if hasattr(u, "_imp_") else " add it to the arguments")
                raise ShapeError(u, f"the output {e} calls the undefined function {u}, which "
                                    f"is not among the arguments;{how}")
            free = (e.xreplace(undefs) if undefs else e).free_symbols - allowed - set(undefs.values())
            if free:
                s = sorted(free, key=str)[0]
                raise ShapeError(s, f"the output {e} depends on {s} ({type(s).__name__}), "
                                    "which is not among the arguments "
                                    f"({', '.join(map(str, originals.values()))})")

    # dependencies
    def dependencies(self):
        """For each leaf, the sorted tuple of argument indices it depends on."""
        index = {a: i for i, a in enumerate(self.args)}
        cse_deps: dict = {}

        def deps_of(e):
            out = set()
            if not isinstance(e, Basic):
                return out
            for s in e.free_symbols:
                if s in index:
                    out.add(index[s])
                elif s in cse_deps:
                    out |= cse_deps[s]
            for u in e.atoms(AppliedUndef):
                if u in index:
                    out.add(index[u])
            return out

        for s, sub in self.cses:
            cse_deps[s] = deps_of(sub)
        return [tuple(sorted(deps_of(e))) for e in self.leaves]

    def needed_cses(self, exprs):
        """The cse pairs that ``exprs`` need, in order."""
        defs = dict(self.cses)
        need = set()
        stack = [s for e in exprs if isinstance(e, Basic) for s in e.free_symbols if s in defs]
        while stack:
            s = stack.pop()
            if s in need:
                continue
            need.add(s)
            stack.extend(t for t in defs[s].free_symbols if t in defs)
        return [(s, sub) for s, sub in self.cses if s in need]

    def expanded(self, e):
        """``e`` with the cse symbols replaced by their expressions."""
        for s, sub in reversed(self.cses):
            e = e.xreplace({s: sub})
        return e


def _map_leaves(expr, fn):
    if isinstance(expr, list):
        return [_map_leaves(e, fn) for e in expr]
    if isinstance(expr, tuple):
        return tuple(_map_leaves(e, fn) for e in expr)
    return fn(expr)


def _constant_value(e):
    """A NumPy scalar (or array, for a constant matrix) for an output that depends on no argument."""
    e = sympy.sympify(e)
    if getattr(e, "is_Matrix", False):
        entries = [_constant_value(v) for v in sympy.Matrix(e)]
        return np.array(entries).reshape(tuple(int(n) for n in e.shape))
    if e is sympy.true or e is sympy.false:
        return np.bool_(bool(e))
    if e.is_Integer:
        v = int(e)
        return np.int64(v) if -2**63 <= v < 2**63 else np.float64(v)
    if e is sympy.nan:
        return np.float64(np.nan)
    if e is sympy.oo or e is sympy.S.NegativeInfinity:
        return np.float64(float(e))
    n = sympy.N(e, 20)
    try:
        if n.is_real or n.is_extended_real:
            return np.float64(float(n))
        return np.complex128(complex(n))
    except (TypeError, ValueError):
        raise UnsupportedExpressionError(e, "this constant output has no numerical value") from None


# --------------------------------------------------------------------------- inputs
_PY_SCALARS = (bool, int, float, complex)


def _as_arrays(values, originals):
    """Input arrays; Python scalars take the dtype of the arrays of their kind (as NumPy does)."""
    arrays = list(values)
    pending = []
    widest = 0
    for i, v in enumerate(values):
        if type(v) is np.ndarray and v.dtype.kind in "biuc" or (
                type(v) is np.ndarray and v.dtype.kind == "f" and v.dtype.itemsize > 2):
            if v.dtype.kind == "f" and v.dtype.itemsize > widest:
                widest = v.dtype.itemsize
            continue
        if isinstance(v, _PY_SCALARS) or (isinstance(v, Basic) and v.is_number):
            pending.append(i)
            continue
        a = np.asarray(v)
        if a.dtype.kind not in "biufc":
            try:
                a = a.astype(np.float64)
            except (TypeError, ValueError):
                try:
                    a = a.astype(np.complex128)
                except (TypeError, ValueError):
                    raise TypeError(f"argument {originals[i]} got an array of dtype {a.dtype}; "
                                    "pass numbers") from None
        if a.dtype == np.float16:
            a = a.astype(np.float32)
        if a.dtype.kind == "f" and a.dtype.itemsize > widest:
            widest = a.dtype.itemsize
        arrays[i] = a
    if pending:
        weak_float = np.dtype(np.float32) if widest == 4 else np.dtype(np.float64)
        for i in pending:
            arrays[i] = _weak_scalar(values[i], weak_float, widest > 0)
    return arrays


def _weak_scalar(v, weak_float, have_floats):
    """A Python (or SymPy) number as a 0-d array of the dtype NumPy would give it next to the arrays."""
    if isinstance(v, Basic):
        v = complex(v) if not v.is_real else (int(v) if v.is_Integer else float(v))
    if isinstance(v, bool):
        return np.asarray(v)
    if isinstance(v, int):
        if have_floats or not -2**63 <= v < 2**63:
            return np.asarray(float(v), dtype=weak_float)
        return np.asarray(v, dtype=np.int64)
    if isinstance(v, float):
        return np.asarray(v, dtype=weak_float)
    return np.asarray(v, dtype=np.complex64 if weak_float == np.float32 else np.complex128)


def _scalarize(r):
    return r[()] if isinstance(r, np.ndarray) and r.ndim == 0 else r


# --------------------------------------------------------------------------- the callable
class _Group:
    """Outputs computed by one kernel: those that depend on exactly the same arguments."""

    __slots__ = ("args", "leaves", "kernels", "printed", "disk_keys", "pending", "no_early",
                 "cost")

    def __init__(self, args, leaves):
        self.args = args        # argument indices, in argument order
        self.leaves = leaves    # leaf indices
        self.kernels = {}       # dtype tuple -> Kernel
        self.printed = {}       # dtype tuple -> graph printed ahead of the first call
        self.disk_keys = {}     # dtype tuple -> key of the recorded kernel
        self.pending = {}       # dtype tuple -> _Pending (kernel compiling in the background)
        self.no_early = set()   # dtype tuples whose background compilation failed
        self.cost = {}          # (dtype tuple, path) -> seconds per element and thread (best seen)


def _only_elementwise(tin, tout) -> bool:
    """Whether the printed graph is element-wise node by node (so it may run on raveled inputs).

    Every apply node must be an ``Elemwise``, a ``DimShuffle`` that only adds or
    drops broadcastable dimensions, an ``Alloc`` or ``SpecifyShape`` whose
    extra inputs are constants, with outputs of at most one dimension (as the
    inputs), and every constant must hold one value.
    """
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import applys_between
    from pytensor.tensor.basic import Alloc
    from pytensor.tensor.elemwise import DimShuffle, Elemwise
    from pytensor.tensor.shape import SpecifyShape

    for node in applys_between(tin, tout):
        op = node.op
        if any(getattr(o.type, "ndim", 2) > 1 for o in node.outputs):
            return False
        if isinstance(op, DimShuffle):
            kept = [d for d in op.new_order if d != "x"]
            if kept != sorted(kept):
                return False
        elif isinstance(op, (Alloc, SpecifyShape)):
            if not all(isinstance(i, Constant) for i in node.inputs[1:]):
                return False
        elif not isinstance(op, Elemwise):
            return False
        for i in node.inputs:
            if isinstance(i, Constant) and np.size(i.data) != 1:
                return False
    return True


def _binary_sums_and_products(tin, tout):
    """The graph with every n-ary ``Add``/``Mul`` (n > 2) as a chain of binary ones.

    PyTensor's Python implementation of an ``Elemwise`` calls NumPy's ufunc
    only for the ufunc's number of inputs (2 for ``add``/``multiply``); an
    n-ary sum or product runs the scalar implementation once per element
    (0.4 s for the 30-term benchmark sum on 1,000 points).  The inputs of a
    chain are first cast to the node's output dtype, which is the dtype the
    n-ary node computes in.
    """
    import functools

    import pytensor.scalar as ps
    import pytensor.tensor as pt
    from pytensor.graph.traversal import applys_between, toposort
    from pytensor.tensor.elemwise import Elemwise

    nodes = [n for n in toposort(tout, blockers=tin) if n in set(applys_between(tin, tout))]
    memo: dict = {}
    for node in nodes:
        ins = [memo.get(i, i) for i in node.inputs]
        op = node.op
        binary = {ps.Add: pt.add, ps.Mul: pt.mul}.get(type(getattr(op, "scalar_op", None)))
        if isinstance(op, Elemwise) and binary is not None and len(ins) > 2:
            dtype = node.outputs[0].type.dtype
            ins = [i if i.type.dtype == dtype else pt.cast(i, dtype) for i in ins]
            outs = [functools.reduce(binary, ins)]
        elif any(a is not b for a, b in zip(ins, node.inputs)):
            outs = node.clone_with_new_inputs(ins, strict=False).outputs
        else:
            continue
        memo.update(zip(node.outputs, outs))
    return [memo.get(o, o) for o in tout]


class _Pending:
    """A kernel compiling in a background thread, and the Python function that answers meanwhile.

    ``function`` is ``pytensor.function`` of the printed (unrewritten) graph
    with PyTensor's Python linker and no rewrites: it builds in milliseconds
    and needs neither Numba nor a C compiler.  It has the output dtypes of the
    kernel (the same graph; rewrites keep types) and is called under a lock
    (a PyTensor ``Function`` keeps its inputs in shared storage).
    """

    __slots__ = ("function", "out_dtypes", "lock", "done", "error", "thread")

    def __init__(self, tin, tout):
        from pytensor.compile.mode import Mode

        self.function = pytensor.function(list(tin), _binary_sums_and_products(tin, tout),
                                          mode=Mode(linker="py", optimizer=None),
                                          on_unused_input="ignore")
        self.out_dtypes = tuple(np.dtype(o.type.dtype) for o in tout)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None
        self.thread = None

    def evaluate(self, ins, shape):
        """The outputs for inputs ``ins`` broadcast to ``shape`` (one array per output)."""
        n = math.prod(shape)
        flat = [np.broadcast_to(a, shape).reshape(n) for a in ins]
        with self.lock:  # floating-point warnings follow np.errstate, as the kernel's do
            outs = self.function(*flat)
        return [np.broadcast_to(np.asarray(o), (n,)).reshape(shape).astype(d)
                for o, d in zip(outs, self.out_dtypes)]


class LambdifiedFunction:
    """What ``lambdify(..., modules='theano')`` returns.

    Call it with one value per argument (nested lists for nested argument
    lists, arrays for ``MatrixSymbol`` arguments).  Values are NumPy arrays,
    NumPy scalars or Python numbers; Python ``int``/``float`` scalars take the
    dtype of the array arguments of their kind (NumPy's promotion of Python
    scalars), ``float16`` arrays are computed in ``float32``.  Outputs have
    the structure of ``expr`` (lists, tuples, NumPy arrays for ``Matrix`` and
    ``Array``) and the shapes ``lambdify(..., 'numpy')`` gives: each output
    broadcasts the arguments it depends on; an output of 0-d arguments is a
    NumPy scalar.

    Thread-safe: see the module docstring for how each route is made so.

    Attributes
    ----------
    args : list
        The flat argument leaves (after dummy substitution).
    expr : object
        The ``expr`` given to lambdify.
    route : str
        ``"elementwise"`` or ``"pytensor"`` (may turn to ``"pytensor"`` at the
        first call if PyTensor's graph turns out not to be element-wise).
    signatures : dict
        Compiled code by input signature (read-only view for inspection).
    """

    def __init__(self, spec, expr, *, printer, mode, parallel, doc, compile_kwargs,
                 background=True):
        self.args = spec.args
        self._background = bool(background)
        self._count_lock = threading.Lock()
        #: Calls answered by the Python implementations while a kernel compiled.
        self.early_calls = 0
        self.expr = expr
        self._spec = spec
        self._printer = printer
        self._mode = mode
        self._compile_kwargs = compile_kwargs
        self._parallel = _cpu_count() if parallel is True else max(1, int(parallel or 1))
        self._lock = threading.Lock()
        self._nargs = len(spec.arg_tree)
        self._flat_args = all(isinstance(n, int) for n in spec.arg_tree)
        self._doc = doc  # (args, expr, caller frame's names, docstring_limit): built when read
        self.__name__ = "_lambdifygenerated"
        deps = spec.dependencies()
        self._results = [None] * len(spec.leaves)
        groups: dict = {}
        for i, (leaf, d) in enumerate(zip(spec.leaves, deps)):
            if not d:
                self._results[i] = _constant_value(spec.expanded(leaf))
            else:
                groups.setdefault(d, []).append(i)
        self._groups = [_Group(d, leaves) for d, leaves in groups.items()]
        self._general: dict = {}
        self._general_inputs: list = []
        self.route = "pytensor" if mode is not None or not _elementwise_ok(spec) else "elementwise"
        if self.route == "elementwise":
            self._prepare_elementwise()
        elif self._groups:
            self._print_general(self._default_key())  # translation errors now, not at the first call
        self.signatures = self._general if self.route == "pytensor" else {}

    def _prepare_elementwise(self):
        """Print each group for float64 inputs now, unless a process compiled it before.

        Translation errors surface here, at lambdify time, and the printed
        graph serves the first float64 call.  A kernel compiled before is
        printed all the same while this process has not loaded Numba yet
        (loading Numba and PyTensor's Numba back end takes 0.3-0.6 s, printing
        milliseconds): the first calls are then answered while the kernel
        loads in the background.  A graph of more than
        ``LARGE_GRAPH_NODES`` nodes sends the function to the PyTensor route
        (Numba's compile time grows steeply with the size of one kernel; the
        C back end's does not).
        """
        spec = self._spec
        for g in self._groups:
            sig = (np.dtype(np.float64),) * len(g.args)
            exprs = [spec.leaves[i] for i in g.leaves]
            cses = spec.needed_cses(exprs)
            if self._printer is None:
                g.disk_keys[sig] = key = _disk_key(spec, g, sig, cses)
                if recorded(key) and (_numba_loaded() or not self._background):
                    continue
            args = [spec.args[i] for i in g.args]
            printed = print_graph(self._new_printer(), args, exprs, ["float64"] * len(args), cses)
            if count_apply_nodes(printed[1]) > LARGE_GRAPH_NODES:
                self.route = "pytensor"
                for h in self._groups:
                    h.printed.clear()
                return
            g.printed[sig] = printed

    def _new_printer(self):
        p = self._printer
        if p is None:
            return TheanoPrinter(cache={})
        if isinstance(p, type):
            return p(cache={})
        return type(p)(settings=dict(p._settings), cache={})

    # -- calling
    def __call__(self, *values):
        if len(values) != self._nargs:
            raise TypeError(f"_lambdifygenerated() takes {self._nargs} positional argument"
                            f"{'s' if self._nargs != 1 else ''} but {len(values)} "
                            f"{'were' if len(values) != 1 else 'was'} given")
        if self._flat_args:
            flat = values
        else:
            flat = []
            for node, v in zip(self._spec.arg_tree, values):
                _bind(node, v, flat, self._spec.originals)
        arrays = _as_arrays(flat, self._spec.originals)
        results = self._results.copy()
        if self.route == "elementwise":
            try:
                for g in self._groups:
                    self._run_group(g, arrays, results)
            except NotElementwiseError:
                with self._lock:
                    self.route = "pytensor"
                    self.signatures = self._general
                results = list(self._results)
        if self.route == "pytensor" and self._groups:
            self._run_general(arrays, results)
        return _assemble(self._spec.out_tree, results)

    def _run_group(self, g, arrays, results):
        ins = [arrays[i] for i in g.args]
        sig = tuple([a.dtype for a in ins])
        kernel = g.kernels.get(sig)
        if kernel is None:
            kernel = self._kernel_or_early(g, sig, ins, results)
            if kernel is None:
                return
        shape = ins[0].shape
        if any(a.shape != shape for a in ins):
            shape = np.broadcast_shapes(*[a.shape for a in ins])
        size = math.prod(shape)
        threads = 1
        if self._parallel > 1 and size >= 2 * PARALLEL_MIN_SIZE:
            threads = min(self._parallel, size // PARALLEL_MIN_SIZE)
        out = None
        if kernel.contiguous is not None and size >= FLAT_MIN_SIZE:
            out = self._timed(g, (sig, "flat"), size, threads,
                              lambda n: _run_flat(kernel, ins, shape, size, n))
        if out is None and threads > 1:
            out = self._timed(g, (sig, "ufunc"), size, threads,
                              lambda n: _run_chunked(kernel.ufunc, ins, shape, kernel.out_dtypes, n)
                              if n > 1 else kernel.ufunc(*ins))
        if out is None:
            out = kernel.ufunc(*ins)
        if len(g.leaves) == 1:
            results[g.leaves[0]] = _scalarize(out)
        else:
            for i, r in zip(g.leaves, out):
                results[i] = _scalarize(r)

    @staticmethod
    def _timed(g, key, size, threads, run):
        """``run(n)`` with ``n`` threads: only as many as give each ``PARALLEL_MIN_SECONDS`` of work.

        A thread's hand-off costs tens of microseconds on an idle machine and up
        to tens of milliseconds on a loaded one, more than a vectorised loop
        takes for 1e5 elements; so the work per element is measured on the
        kernel's earlier calls (best seen) and the first call runs in one thread.
        """
        cost = g.cost.get(key)
        n = 1 if cost is None else max(1, min(threads, int(size * cost / PARALLEL_MIN_SECONDS)))
        t0 = time.perf_counter()
        out = run(n)
        if out is not None:
            per = (time.perf_counter() - t0) * n / size
            if cost is None or per < cost:
                g.cost[key] = per
        return out

    def _kernel_or_early(self, g, sig, ins, results):
        """The kernel for ``sig``; or, while it compiles in the background, the results themselves.

        The first call of a signature whose graph was printed ahead (float64,
        not compiled before by any process) starts the Numba compilation in a
        background thread and answers with :class:`_Pending`'s Python function;
        so do later calls on at most :data:`EARLY_MAX_SIZE` elements until the
        kernel is ready, when it replaces the Python function for every caller.
        Larger calls wait for the kernel.  Returns None when ``results`` were
        filled in.
        """
        p = g.pending.get(sig)
        start = False
        if p is None:
            with self._lock:
                kernel = g.kernels.get(sig)
                if kernel is not None:
                    return kernel
                p = g.pending.get(sig)
                if p is None:
                    printed = g.printed.get(sig)
                    if (not self._background or printed is None or sig in g.no_early
                            or not _only_elementwise(*printed)):
                        return self._compile_group_locked(g, sig)
                    try:
                        p = _Pending(*printed)
                    except Exception:  # noqa: BLE001 - no early answers: compile and wait
                        g.no_early.add(sig)
                        return self._compile_group_locked(g, sig)
                    g.pending[sig] = p
                    start = True
        try:
            if not p.done.is_set():
                shape = ins[0].shape
                if any(a.shape != shape for a in ins):
                    shape = np.broadcast_shapes(*[a.shape for a in ins])
                if math.prod(shape) <= EARLY_MAX_SIZE:
                    outs = p.evaluate(ins, shape)
                    with self._count_lock:  # not self._lock: a compilation may hold that one
                        self.early_calls += 1
                    for i, r in zip(g.leaves, outs):
                        results[i] = _scalarize(r)
                    return None
        finally:
            if start:
                p.thread = threading.Thread(target=self._compile_in_background, args=(g, sig, p),
                                            name="sympy_theano_printer-compile")
                p.thread.start()
        p.done.wait()
        if p.error is not None:
            raise p.error
        return g.kernels[sig]

    def _compile_in_background(self, g, sig, p):
        try:
            kernel = self._build_kernel(g, sig, g.printed.get(sig))
            with self._lock:
                self._store_kernel(g, sig, kernel)
        except BaseException as err:  # noqa: BLE001 - handed to the callers
            with self._lock:
                p.error = err
                g.no_early.add(sig)
                del g.pending[sig]
        finally:
            p.done.set()

    def wait_compiled(self, timeout=None) -> bool:
        """Wait for the kernels compiling in the background; True if none is left.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most (None: until they are done).
        """
        end = None if timeout is None else time.monotonic() + timeout
        for g in self._groups:
            for p in list(g.pending.values()):
                left = None if end is None else max(0.0, end - time.monotonic())
                if not p.done.wait(left):
                    return False
        return True

    def _compile_group_locked(self, g, sig):
        kernel = g.kernels.get(sig)
        if kernel is not None:
            return kernel
        kernel = self._build_kernel(g, sig, g.printed.get(sig))
        self._store_kernel(g, sig, kernel)
        return kernel

    def _store_kernel(self, g, sig, kernel):
        g.kernels[sig] = kernel
        g.printed.pop(sig, None)
        self.signatures[(g.args, tuple(d.str for d in sig))] = kernel

    def _build_kernel(self, g, sig, printed):
        spec = self._spec
        args = [spec.args[i] for i in g.args]
        exprs = [spec.leaves[i] for i in g.leaves]
        cses = spec.needed_cses(exprs)
        disk_key = g.disk_keys.get(sig)
        if disk_key is None and self._printer is None:
            disk_key = _disk_key(spec, g, sig, cses)
        return compile_kernel(args, exprs, [d.name for d in sig], cses=cses,
                              printer=self._new_printer(), name="lambdified_kernel",
                              disk_key=disk_key, printed=printed, contiguous=True)

    def _run_general(self, arrays, results):
        key = tuple((a.dtype.str, tuple(n == 1 for n in a.shape)) for a in arrays)
        fn = self._general.get(key)
        if fn is None:
            fn = self._compile_general(key)
        leaves = [i for g in self._groups for i in g.leaves]
        used = self._general_inputs
        out = fn(*[arrays[i] for i in used])
        for i, r in zip(leaves, out):
            results[i] = _scalarize(np.asarray(r)) if isinstance(r, np.ndarray) else r

    def _default_key(self):
        """The signature of float64 scalars (MatrixSymbols: float64 matrices of their shape)."""
        key = []
        for a in self._spec.args:
            if isinstance(a, MatrixSymbol):
                key.append(("<f8", tuple(n == 1 for n in a.shape)))
            else:
                key.append(("<f8", ()))
        return tuple(key)

    def _print_general(self, key):
        spec = self._spec
        exprs = [spec.leaves[i] for g in self._groups for i in g.leaves]
        used = sorted({i for g in self._groups for i in g.args})
        args = [spec.args[i] for i in used]
        dtypes = {a: np.dtype(key[i][0]).name for a, i in zip(args, used)}
        bcast = {a: key[i][1] for a, i in zip(args, used) if not isinstance(a, MatrixSymbol)}
        printer = self._new_printer()
        tin, tout = print_graph(printer, args, exprs, [dtypes[a] for a in args],
                                spec.needed_cses(exprs), broadcastables=bcast)
        return used, args, tin, tout

    def _compile_general(self, key):
        with self._lock:
            fn = self._general.get(key)
            if fn is not None:
                return fn
            used, args, tin, tout = self._print_general(key)
            self._general_inputs = used
            kwargs = dict(self._compile_kwargs)
            kwargs.setdefault("on_unused_input", "ignore")
            mode = choose_mode(tout, self._mode)
            with recursion_headroom(graph_depth(tout)):
                compiled = pytensor.function(list(tin), tout, mode=mode, **kwargs)
            fn = CompiledFunction(compiled, args, scalar=True, single=False)
            self._general[key] = fn
            return fn

    def __repr__(self):
        return f"<LambdifiedFunction ({', '.join(map(str, self._spec.originals))}) [{self.route}]>"


class _Docstring:
    """``__doc__``: the class's docstring on the class, a lambdify docstring on an instance.

    The instance's text prints the expression, which takes as long as printing
    a large expression takes, so it is made when first read.
    """

    def __init__(self, class_doc):
        self.class_doc = class_doc

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.class_doc
        doc = obj._doc
        if isinstance(doc, tuple):
            obj._doc = doc = _docstring(*doc)
        return doc


LambdifiedFunction.__doc__ = _Docstring(LambdifiedFunction.__doc__)


def _elementwise_ok(spec) -> bool:
    if any(isinstance(a, MatrixSymbol) for a in spec.args):
        return False
    for e in list(spec.leaves) + [sub for _, sub in spec.cses]:
        if isinstance(e, Basic) and (isinstance(e, MatrixExpr) or e.atoms(MatrixExpr)
                                     or e.has(sympy.Indexed)):
            return False
    return True


def _numba_loaded() -> bool:
    """Whether this process has loaded a kernel already (so loading another one is quick)."""
    return kernels_loaded()


def _disk_key(spec, group, sig, cses):
    """Key of a group's kernel that does not depend on symbol names or dummy indices."""
    return expression_key([spec.args[i] for i in group.args], [spec.leaves[i] for i in group.leaves],
                          sig, cses, extra="lambdify")


def _bind(node, value, flat, originals):
    if isinstance(node, int):
        flat.append(value)
        return
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"expected a sequence of {len(node)} values for the arguments "
                        f"{_names(node, originals)}, got {value!r}") from None
    if len(items) != len(node):
        raise ValueError(f"expected {len(node)} values for the arguments "
                         f"{_names(node, originals)}, got {len(items)}")
    for n, v in zip(node, items):
        _bind(n, v, flat, originals)


def _names(node, originals):
    if isinstance(node, int):
        return str(originals[node])
    return "[" + ", ".join(_names(n, originals) for n in node) + "]"


def _run_flat(kernel, ins, shape, n, nchunks):
    """Run the kernel's vectorised flat loop, in ``nchunks`` threads; None if the inputs do not fit.

    Inputs must each be C-contiguous with the full broadcast ``shape``, or hold
    one value (repeated into a full array).  Chunk boundaries are multiples of
    64 elements, so every element is computed by the same (vector or scalar)
    code whatever the number of chunks.  If the loop raised floating-point
    exceptions that ``np.errstate`` does not ignore, returns None: the
    element-wise kernel recomputes the call and reports them as it always does.
    """
    flat = []
    for a in ins:
        if not a.dtype.isnative:  # the loop takes native arrays only; the ufunc casts
            return None
        if a.shape == shape and a.flags.c_contiguous:
            flat.append(a.reshape(n))
        elif a.size == 1:
            flat.append(np.full(n, a.reshape(()), dtype=a.dtype))
        else:
            return None
    outs = [np.empty(n, dtype=d) for d in kernel.out_dtypes]
    if nchunks <= 1:
        flags = kernel.run_contiguous(flat, outs)
    else:
        step = -(-n // (64 * nchunks)) * 64
        bounds = [min(n, k * step) for k in range(nchunks + 1)]

        def run(k):
            sl = slice(bounds[k], bounds[k + 1])
            return kernel.run_contiguous([a[sl] for a in flat], [o[sl] for o in outs])

        pool = _thread_pool()
        futures = [pool.submit(run, k) for k in range(1, nchunks)]
        flags = run(0)
        for f in futures:
            flags |= f.result()
    if fp_errors_matter(flags):
        # Vector code may raise flags the element-wise code does not (and report them for a
        # whole vector): the element-wise kernel recomputes, and reports exactly as a ufunc.
        return None
    res = [o.reshape(shape) for o in outs]
    return res[0] if len(res) == 1 else tuple(res)


def _run_chunked(ufunc, ins, shape, out_dtypes, nchunks):
    """Run ``ufunc`` over ``nchunks`` slices of the broadcast shape, in threads."""
    axis = int(np.argmax(shape))
    views = [np.broadcast_to(a, shape) for a in ins]
    outs = tuple(np.empty(shape, dtype=d) for d in out_dtypes)
    bounds = np.linspace(0, shape[axis], nchunks + 1).astype(int)
    pre = (slice(None),) * axis

    errors = np.geterr()  # np.errstate is per thread: the workers follow the caller's

    def run(k):
        sl = pre + (slice(bounds[k], bounds[k + 1]),)
        with np.errstate(**errors):
            ufunc(*[v[sl] for v in views], out=tuple(o[sl] for o in outs))

    pool = _thread_pool()
    futures = [pool.submit(run, k) for k in range(1, nchunks)]
    run(0)
    for f in futures:
        f.result()
    return outs[0] if len(outs) == 1 else outs


def _assemble(node, results):
    kind = node[0]
    if kind == "leaf":
        return results[node[1]]
    if kind == "list":
        return [_assemble(n, results) for n in node[1]]
    if kind == "tuple":
        return tuple(_assemble(n, results) for n in node[1])
    shape, idx = node[1], node[2]
    if not idx:
        return np.empty(shape)
    entries = np.broadcast_arrays(*[np.asarray(results[i]) for i in idx])
    out = np.empty(shape + entries[0].shape, dtype=np.result_type(*entries))
    for k, pos in enumerate(np.ndindex(*shape)):
        out[pos] = entries[k]
    return out


# --------------------------------------------------------------------------- lambdify
def lambdify(args, expr, modules="theano", printer=None, use_imps=True, dummify=False,
             cse=False, docstring_limit=1000, *, mode=None, parallel=True, background=True,
             _frame=None, **compile_kwargs):
    """Lambdify through PyTensor: ``sympy.lambdify`` with ``modules='theano'``, without registration.

    Same parameters as :func:`sympy.lambdify`; with ``modules`` other than
    ``'theano'``/``'pytensor'`` the call goes to SymPy's ``lambdify``
    unchanged.

    Parameters
    ----------
    args : Symbol, MatrixSymbol, applied undefined function, or (nested) list of them
        The arguments.  Other expressions (``x + y``, ``Derivative(f(t), t)``)
        are replaced by dummies, as SymPy does.
    expr : expression, Matrix, Array, or (nested) list/tuple of them
        What the function returns, in this structure.
    modules : str or list
        ``'theano'`` or ``'pytensor'`` (or a list holding one); other entries
        of a list are used only if the expressions have no PyTensor
        translation: SymPy's ``lambdify`` with them, and a warning.
    printer : TheanoPrinter subclass or instance, optional
        The printer to translate with (default :class:`TheanoPrinter`).
    use_imps : bool
        Accepted; ``implemented_function`` implementations are Python code and
        cannot be compiled (the error says so).
    dummify : bool
        Accepted; arguments are never referred to by name, so it changes nothing.
    cse : bool or callable
        As in SymPy: ``True`` runs ``sympy.cse``, a callable replaces it; each
        common subexpression is printed once (PyTensor merges common
        subexpressions in any case).
    docstring_limit : int
        As in SymPy: an expression larger than this is left out of the
        docstring (which is made when ``__doc__`` is first read).
    mode : str or pytensor Mode, optional
        Compile with ``pytensor.function`` in this mode (``"NUMBA"``,
        ``"CVM"``, ``"JAX"``...) instead of the element-wise Numba kernel.
        Without it, non-element-wise functions (matrix arguments or outputs)
        use :func:`~sympy_theano_printer.backend.choose_mode`'s choice.
    parallel : bool or int
        Split arrays of at least ``2 * PARALLEL_MIN_SIZE`` elements over at
        most this many threads (True: one per CPU core); element-wise route
        only, and only into chunks of at least ``PARALLEL_MIN_SECONDS`` of
        work, estimated from the earlier calls (the first runs in one thread).
    background : bool
        Element-wise route: compile a kernel that no process compiled before
        in a background thread, and answer calls on at most
        ``EARLY_MAX_SIZE`` elements meanwhile with PyTensor's Python
        implementations of the same graph (same output dtypes and shapes;
        values within a few ulps of the kernel's).  False: the first call
        compiles and waits.  :meth:`LambdifiedFunction.wait_compiled` waits
        for the kernels.
    **compile_kwargs
        Passed to ``pytensor.function`` on the PyTensor route.

    Returns
    -------
    LambdifiedFunction
        See its docstring for inputs and outputs (shapes, dtypes).

    Raises
    ------
    ShapeError
        An output depends on a symbol (or calls an undefined function) that is
        not an argument; an argument value does not fit a ``MatrixSymbol``.
    UnsupportedExpressionError
        A subexpression has no PyTensor translation (and no other module was
        listed).
    TypeError
        ``printer`` is not a TheanoPrinter; an argument is not a symbol; an
        output of an unsupported type (dict, set); at call time, the wrong
        number of arguments or non-numeric values.
    ValueError
        An argument appears twice; at call time, a nested argument of the
        wrong length.

    Examples
    --------
    >>> import numpy as np, sympy
    >>> from sympy_theano_printer import lambdify
    >>> x, y = sympy.symbols("x y")
    >>> f = lambdify([x, y], [x + y, sympy.Matrix([[x, 1], [0, y]])])
    >>> s, m = f(np.array([1.0, 2.0]), 3.0)
    >>> s
    array([4., 5.])
    >>> m.shape
    (2, 2, 2)
    """
    frame = _frame if _frame is not None else sys._getframe(1)
    if isinstance(args, set):
        _warn_set_arguments()
        args = list(args)
    if not uses_theano(modules):
        if mode is not None or compile_kwargs or parallel is not True or background is not True:
            raise TypeError("mode=, parallel=, background= and PyTensor options apply to "
                            "modules='theano' only")
        func = sympy_lambdify(args, expr, modules, printer, use_imps, dummify, cse, docstring_limit)
        _fix_docstring(func, args, frame)
        return func
    if printer is not None and not (
            (isinstance(printer, type) and issubclass(printer, TheanoPrinter))
            or isinstance(printer, TheanoPrinter)):
        raise TypeError(f"with modules='theano' the printer must be a TheanoPrinter (class or "
                        f"instance), got {printer!r}")
    others = [m for m in modules if not _is_theano_name(m)] if isinstance(modules, (list, tuple)) else []
    try:
        spec = _Spec(args, expr, dummify, cse)
        doc = (_arg_names(args, frame), expr, docstring_limit)
        return LambdifiedFunction(spec, expr, printer=printer, mode=mode, parallel=parallel,
                                  doc=doc, compile_kwargs=compile_kwargs, background=background)
    except UnsupportedExpressionError as err:
        if not others:
            raise
        warnings.warn(f"{err.expr} has no PyTensor translation; lambdify uses the other "
                      f"modules {others!r} for this function", stacklevel=3)
        return sympy_lambdify(args, expr, others, None, use_imps, dummify, cse, docstring_limit)


def _warn_set_arguments():
    """SymPy's deprecation of arguments given as a set, pointing at the caller's caller."""
    from sympy.utilities.exceptions import sympy_deprecation_warning

    sympy_deprecation_warning(
        "lambdify() arguments given as a set have no defined order; pass a list or a tuple.",
        deprecated_since_version="1.6.3",
        active_deprecations_target="deprecated-lambdify-arguments-set", stacklevel=4)


def _docstring(names, expr, limit):
    from sympy.utilities.lambdify import _too_large_for_docstring

    sig = _signature_text(names)
    if _too_large_for_docstring(expr, limit):
        text = "EXPRESSION REDACTED DUE TO LENGTH, (see lambdify's `docstring_limit`)"
    else:
        text = str(expr)
        if len(text) > 78:
            text = textwrap.wrap(text, 75)[0] + "..."
    return ("Created with lambdify (modules='theano': compiled by PyTensor). Signature:\n\n"
            f"{sig}\n\nExpression:\n\n{text}\n")


def _fix_docstring(func, args, frame):
    """Put the caller's argument names in SymPy's docstring (it looked in the wrapper's frame)."""
    iterable_args = (args,) if isinstance(args, sympy.Expr) else args
    try:
        if all(hasattr(a, "name") for a in iterable_args) or not func.__doc__:
            return
        wrong = _signature_text(_arg_names(args, sys._getframe(1)))
        right = _signature_text(_arg_names(args, frame))
        if wrong != right:
            func.__doc__ = func.__doc__.replace(wrong, right, 1)
    except (TypeError, AttributeError):
        pass


# --------------------------------------------------------------------------- registration
_installed: dict = {}


@functools.wraps(sympy_lambdify)
def _registered_lambdify(args, expr, modules=None, printer=None, use_imps=True,
                         dummify=False, cse=False, docstring_limit=1000, **kwargs):
    if isinstance(args, set):  # SymPy would warn from one frame too deep
        _warn_set_arguments()
        args = list(args)
    if uses_theano(modules):
        return lambdify(args, expr, modules, printer, use_imps, dummify, cse, docstring_limit,
                        _frame=sys._getframe(1), **kwargs)
    if kwargs:
        raise TypeError(f"lambdify() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    func = sympy_lambdify(args, expr, modules, printer, use_imps, dummify, cse, docstring_limit)
    _fix_docstring(func, args, sys._getframe(1))
    return func


_registered_lambdify._stp_original = sympy_lambdify
_registered_lambdify.__doc__ = (
    "SymPy's lambdify, extended by sympy_theano_printer with modules='theano' / 'pytensor' "
    "(see sympy_theano_printer.lambdify).\n\n" + (sympy_lambdify.__doc__ or ""))


def _targets():
    import sympy.utilities as utilities

    return [(sympy, "lambdify"), (utilities, "lambdify"), (_sympy_utilities_lambdify, "lambdify")]


def register():
    """Install the ``'theano'`` module: wrap ``sympy.lambdify`` where SymPy exports it.

    Idempotent.  Returns None.
    """
    for owner, name in _targets():
        current = getattr(owner, name, None)
        if current is _registered_lambdify:
            continue
        _installed[(id(owner), name)] = (owner, name, current)
        setattr(owner, name, _registered_lambdify)


def unregister():
    """Undo :func:`register`: put back what was there, where the wrapper is still installed."""
    for owner, name, previous in list(_installed.values()):
        if getattr(owner, name, None) is _registered_lambdify:
            setattr(owner, name, previous)
    _installed.clear()


def is_registered() -> bool:
    """Whether ``sympy.lambdify`` is currently this package's wrapper."""
    return sympy.lambdify is _registered_lambdify


def register_on_import():
    """Called by ``import sympy_theano_printer``: register unless ``SYMPY_THEANO_PRINTER_REGISTER=0``."""
    if os.environ.get("SYMPY_THEANO_PRINTER_REGISTER", "1").strip().lower() not in ("0", "false", "no"):
        register()


# inspect.signature(sympy.lambdify) should show SymPy's parameters, not **kwargs.
_registered_lambdify.__signature__ = inspect.signature(sympy_lambdify)
