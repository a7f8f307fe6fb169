"""Element-wise kernels: SymPy expressions -> fused PyTensor scalar graph -> Numba -> ``numpy.ufunc``.

:func:`ufuncify` is a drop-in for :func:`sympy.utilities.autowrap.ufuncify`
that needs no C build step.  The same machinery (:func:`compile_kernel`)
evaluates element-wise expressions for :func:`sympy_theano_printer.lambdify`.

How a kernel is made
--------------------
1. The expressions are printed by :class:`~sympy_theano_printer.TheanoPrinter`
   over 1-d inputs of the requested dtypes.
2. PyTensor's rewrites for the NUMBA mode (canonicalisation, constant folding,
   specialisation, element-wise fusion; no in-place rewrites) run on the graph,
   as ``pytensor.function`` would run them.
3. The rewritten graph is read back as one scalar graph: every ``Elemwise``
   node contributes its scalar op (a fused ``Composite`` included), while
   ``DimShuffle``, ``Alloc`` and ``SpecifyShape`` only broadcast and drop out.
   Any other node (a reduction, a matrix product, indexing) means the
   expressions are not element-wise: :class:`NotElementwiseError`.
4. The fused ``Composite`` ops are expanded back into their scalar ops and
   the scalar graph is written out as the body of one Python function
   (:func:`kernel_body`) that calls PyTensor's own Numba implementation of
   each scalar op (``numba_funcify``), except ``Switch``, which becomes
   ``if``/``else`` with every operation that only one branch needs moved into
   that branch: a ``Piecewise`` computes one piece per element, not all of
   them (3-5x faster than the fused ``Composite`` on the 4-piece benchmark).
   ``numba.guvectorize`` with scalar core dimensions only compiles it into
   a ``numpy.ufunc`` (any number of outputs; NumPy sees a plain ufunc).
5. On request (``compile_kernel(..., contiguous=True)``, as ``lambdify``
   asks), the same statements are also compiled as a loop over flat
   C-contiguous arrays, with glibc's ``libmvec`` as LLVM's vector library
   (:func:`vector_math_enabled`), so that LLVM vectorises the loop, calls of
   ``exp``/``sin``/``log`` included: 3-7x less CPU time than the ufunc on the
   ``exp``/``sin``-bound benchmark expressions.  A ufunc's inner loop gets
   strided pointers from NumPy and is not vectorised, so :func:`ufuncify`
   (which must return a real ``numpy.ufunc``) does not use it.

Caching
-------
Compiled kernels go to PyTensor's Numba cache directory
(``config.base_compiledir / "numba"``, PyTensor's own cache locator) under a
key derived from the kernel's source and PyTensor's cache keys of its scalar
ops; a second process that builds the same kernel loads it instead of
compiling it.  :func:`compile_kernel` can also
record, under a key of the SymPy expressions (``disk_key``), which kernel they
produced; a later process with the same key then loads the kernel without
printing or rewriting anything.  The key covers the expressions, dtypes, the
versions of this package's sources, PyTensor, Numba, NumPy and SymPy, and the
PyTensor flags that change code generation.

Lifetime
--------
A ``numpy.ufunc`` made by Numba does not own its compiled loops (Numba keeps
them on the ``DUFunc``/``GUFunc`` object), and a ufunc cannot carry extra
attributes, so this module keeps every Numba object it builds for the life of
the process (as an imported autowrap extension module stays loaded).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import sympy
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.fg import FunctionGraph
from pytensor.tensor.basic import Alloc
from pytensor.tensor.elemwise import DimShuffle, Elemwise
from pytensor.tensor.shape import SpecifyShape
from sympy.core.basic import Basic
from sympy.core.function import AppliedUndef
from sympy.logic.boolalg import Boolean
from sympy.matrices import MatrixBase
from sympy.matrices.expressions import MatrixExpr
from sympy.printing.repr import ReprPrinter
from sympy.utilities.iterables import iterable

from .backend import graph_depth, recursion_headroom, without_wrong_rewrites
from .errors import ShapeError
from .printer import TheanoPrinter

__all__ = [
    "Kernel",
    "NotElementwiseError",
    "compile_kernel",
    "environment_fingerprint",
    "expression_key",
    "recorded",
    "ufuncify",
]

#: Loops every ufunc from :func:`ufuncify` has: the compiled graph's dtype, then the others.
UFUNC_DTYPES = ("float64", "float32")


class NotElementwiseError(TypeError):
    """The expressions cannot be computed element by element.

    Raised for matrix expressions, explicit matrices and arrays, matrix
    arguments, and graphs that PyTensor computes with a non-element-wise
    operation (a reduction, a dot product, indexing).

    Attributes
    ----------
    expr : object
        The offending SymPy object (or PyTensor node when only the rewritten
        graph shows the problem).
    """

    def __init__(self, expr, message):
        super().__init__(message)
        self.expr = expr


@dataclass(frozen=True)
class Kernel:
    """A compiled element-wise kernel.

    Attributes
    ----------
    ufunc : numpy.ufunc
        ``nin`` inputs, ``nout`` outputs; one loop per entry of ``loops``.
        Built by ``numba.guvectorize`` with scalar core dimensions only
        (``"(),()->()"``), which NumPy treats as a plain element-wise ufunc:
        ``signature`` is None, and ``reduce``/``accumulate``/``outer`` work
        (one output, two inputs).  ``numba.vectorize`` gives the same loops
        but cannot have several outputs, and its loop wrapper is not cached
        (about 40 ms more to load a kernel compiled before).
    loops : tuple of (tuple of numpy.dtype, tuple of numpy.dtype)
        ``(input dtypes, output dtypes)`` of each loop, narrowest first.
    source : str
        The Python function Numba compiled (see :func:`kernel_body`).
    """

    ufunc: np.ufunc
    loops: tuple
    source: str
    contiguous: object = None

    @property
    def out_dtypes(self):
        """Output dtypes of the widest loop (the one compiled from the printed graph)."""
        return self.loops[-1][1]

    def run_contiguous(self, ins, outs):
        """Run the vectorised loop (see :func:`compile_kernel`'s ``contiguous``) on flat arrays.

        Parameters
        ----------
        ins : sequence of numpy.ndarray
            1-d C-contiguous arrays of the main loop's input dtypes, all of
            the same length ``n``.
        outs : sequence of numpy.ndarray
            1-d C-contiguous arrays of ``out_dtypes``, length ``n``, written.

        Returns
        -------
        int
            The floating-point exception flags raised (``fetestexcept``
            bits; see :func:`fp_errors_matter`).  Nothing is reported to
            NumPy: the caller decides what to do.
        """
        return self.contiguous(ins[0].shape[0], *ins, *outs)


#: Numba objects that own the loops of the ufuncs handed out (see "Lifetime").
_KEEPALIVE: list = []
_keepalive_lock = threading.Lock()


# --------------------------------------------------------------------------- checks
def check_elementwise(args, exprs):
    """Raise :class:`NotElementwiseError` for matrix arguments or non-scalar expressions.

    Parameters
    ----------
    args : sequence of sympy.Basic
        The argument leaves.
    exprs : sequence of sympy.Basic
        The expressions.
    """
    for a in args:
        if getattr(a, "is_Matrix", False) or isinstance(a, (MatrixExpr, MatrixBase)):
            raise NotElementwiseError(
                a, f"argument {a} is a {type(a).__name__}; an element-wise kernel takes "
                   "scalar symbols only (use lambdify for matrix arguments)")
    for e in exprs:
        if isinstance(e, (MatrixBase, MatrixExpr)) or getattr(e, "is_Matrix", False):
            raise NotElementwiseError(
                e, f"{type(e).__name__} {e} is a matrix, not an element-wise expression; "
                   "pass its entries as a list of expressions (list(M)) or use lambdify")
        if isinstance(e, Basic) and not isinstance(e, (sympy.Expr, Boolean)):
            raise NotElementwiseError(
                e, f"{type(e).__name__} {e} is not a scalar expression")
        bad = [m for m in e.atoms(MatrixExpr)] if isinstance(e, Basic) else []
        if bad:
            raise NotElementwiseError(
                bad[0], f"{e} contains the matrix {bad[0]} ({type(bad[0]).__name__}); "
                        "an element-wise kernel takes scalar expressions only")


# --------------------------------------------------------------------------- printing
def print_graph(printer, args, exprs, dtypes, cses=(), ndim=1, broadcastables=None):
    """Print ``exprs`` over ``ndim``-d inputs made for ``args``.

    Parameters
    ----------
    printer : TheanoPrinter
    args : sequence of sympy.Basic
        Symbols (or applied undefined functions) that become the graph inputs.
    exprs : sequence of sympy.Basic
    dtypes : sequence of str
        One dtype per argument.
    cses : sequence of (Symbol, Expr)
        Common subexpressions (``sympy.cse``): each symbol is printed as the
        graph of its expression, once.
    ndim : int
        Dimensions of every input (not broadcastable).
    broadcastables : dict, optional
        ``{symbol: pattern}``, overrides ``ndim`` (symbols left out: the
        printer's default, which for a ``MatrixSymbol`` is its shape).

    Returns
    -------
    (list of TensorVariable, list of TensorVariable)
        The graph inputs and outputs.
    """
    dt = dict(zip(args, dtypes))
    bc = dict.fromkeys(args, (False,) * ndim) if broadcastables is None else broadcastables
    if not cses:
        printed = printer.doprint_many(list(args) + list(exprs), dt, bc)
        tin, tout = printed[: len(args)], printed[len(args):]
    else:
        tin = printer.doprint_many(list(args), dt, bc)
        subs = dict(zip(args, tin))
        for sym, sub in cses:
            subs[sym] = printer.print_with_substitution(sub, subs)
        tout = list(printer.print_with_substitution(sympy.Tuple(*exprs), subs))
    tout = [o if isinstance(o, Variable) else pt.as_tensor_variable(o) for o in tout]
    return list(tin), tout


# --------------------------------------------------------------------------- scalar graph
class _Blocked:
    """Marks a variable that has no element-wise scalar counterpart."""

    def __init__(self, node):
        self.node = node


def _scalar_constant(c):
    data = np.asarray(c.data)
    if data.size != 1:
        return _Blocked(c)
    return ps.constant(data.reshape(-1)[0], dtype=str(data.dtype))


def _is_broadcast_only(op):
    """A DimShuffle that only adds or drops broadcastable dimensions (no transposition)."""
    kept = [d for d in op.new_order if d != "x"]
    return kept == sorted(kept)


def scalar_graph(fgraph):
    """Read a rewritten, element-wise tensor graph as one scalar graph.

    Parameters
    ----------
    fgraph : pytensor.graph.fg.FunctionGraph
        Rewritten graph whose inputs are the kernel's arguments.

    Returns
    -------
    (list of ScalarVariable, list of ScalarVariable)
        Scalar inputs (one per ``fgraph`` input) and outputs.

    Raises
    ------
    NotElementwiseError
        An output depends on a node that is not element-wise.
    """
    smap: dict = {inp: ps.get_scalar_type(inp.type.dtype)() for inp in fgraph.inputs}

    def scalar_of(var):
        s = smap.get(var)
        if s is None and isinstance(var, Constant):
            s = smap[var] = _scalar_constant(var)
        if s is None:
            s = smap[var] = _Blocked(var.owner if var.owner is not None else var)
        return s

    for node in fgraph.toposort():
        op = node.op
        if isinstance(op, Elemwise):
            ins = [scalar_of(i) for i in node.inputs]
            blocked = next((i for i in ins if isinstance(i, _Blocked)), None)
            outs = [blocked] * len(node.outputs) if blocked else \
                op.scalar_op.make_node(*ins).outputs
        elif isinstance(op, (Alloc, SpecifyShape)) or (
                isinstance(op, DimShuffle) and _is_broadcast_only(op)):
            outs = [scalar_of(node.inputs[0])]
        else:
            outs = [_Blocked(node)] * len(node.outputs)
        smap.update(zip(node.outputs, outs))

    souts = [scalar_of(o) for o in fgraph.outputs]
    for s in souts:
        if isinstance(s, _Blocked):
            what = s.node.op if hasattr(s.node, "op") else s.node
            raise NotElementwiseError(
                s.node, f"PyTensor computes this expression with {what} "
                        f"({type(what).__name__}), which is not element-wise")
    return [smap[i] for i in fgraph.inputs], souts


def rewritten_scalar_graph(tin, tout):
    """Rewrite a printed graph as ``pytensor.function`` would and read it back as scalars.

    Parameters
    ----------
    tin, tout : list of TensorVariable
        Graph inputs (1-d) and outputs, from :func:`print_graph`.

    Returns
    -------
    sin : list of ScalarVariable
        One scalar input per entry of ``tin``.
    souts : list of ScalarVariable
        One scalar output per entry of ``tout`` (possibly an input or a
        constant); fused ``Composite`` ops are expanded into their scalar ops.
    out_dtypes : tuple of numpy.dtype

    Raises
    ------
    NotElementwiseError
        The rewritten graph needs a non-element-wise operation.
    """
    with recursion_headroom(graph_depth(tout)):
        fgraph = FunctionGraph(tin, tout, clone=True)
        # No rewrite reads config.mode, so the global flag is left alone (changing it here
        # would race with a compilation in another thread, e.g. lambdify's background one).
        mode = without_wrong_rewrites("NUMBA").excluding("inplace")
        mode.optimizer.rewrite(fgraph)
        sin, souts = scalar_graph(fgraph)
        souts = _expand_composites(souts)
    return sin, souts, tuple(np.dtype(o.type.dtype) for o in fgraph.outputs)


def _expand_composites(outputs):
    """The same scalar graph with every ``Composite`` (nested ones too) replaced by its inner graph."""
    from pytensor.graph.traversal import toposort

    while True:
        nodes = list(toposort(outputs))
        if not any(isinstance(n.op, ps.Composite) for n in nodes):
            return outputs
        new: dict = {}
        for node in nodes:
            ins = [new.get(i, i) for i in node.inputs]
            if isinstance(node.op, ps.Composite):
                # Rebuilt node by node: the inner graph is frozen (shared), never reuse its nodes.
                inner = node.op.fgraph
                m = dict(zip(inner.inputs, ins))
                for n in inner.toposort():
                    m.update(zip(n.outputs, n.op.make_node(*[m.get(i, i) for i in n.inputs]).outputs))
                outs = [m.get(o, o) for o in inner.outputs]
            elif any(a is not b for a, b in zip(ins, node.inputs)):
                outs = node.op.make_node(*ins).outputs
            else:
                continue
            new.update(zip(node.outputs, outs))
        outputs = [new.get(o, o) for o in outputs]


# --------------------------------------------------------------------------- code generation
def _literal(const):
    """Python source of a typed scalar constant (``np.float64(2.5)``)."""
    value = np.asarray(const.data).reshape(())[()]
    dtype = np.dtype(const.type.dtype)
    if dtype.kind == "b":
        return "True" if value else "False"
    if dtype.kind == "c":
        text = f"complex({float(value.real)!r}, {float(value.imag)!r})"
    elif dtype.kind == "f":
        v = float(value)
        special = {np.inf: "np.inf", -np.inf: "-np.inf"}
        text = "np.nan" if v != v else special.get(v, repr(v))
    else:
        text = repr(int(value))
    return f"np.{dtype.name}({text})"


def kernel_body(sin, souts):
    """Python source (statements) computing ``souts`` from ``sin``, with lazy ``Switch`` branches.

    Each scalar op is a call of PyTensor's own Numba implementation
    (``numba_funcify``); a ``Switch`` becomes ``if``/``else``, and every
    operation used only by one branch is computed inside that branch.  That
    is where Numba's compiled code beats the element-wise evaluation of every
    branch (a 4-piece ``Piecewise`` computes one of ``x**2``, ``sin``,
    ``sqrt``, ``log`` per element instead of all four).

    Parameters
    ----------
    sin : list of ScalarVariable
        Inputs, named ``a0, a1, ...`` in the source.
    souts : list of ScalarVariable
        Outputs, named ``r0, r1, ...`` in the source.

    Returns
    -------
    lines : list of str
        Statements, indented by four spaces.
    env : dict
        Globals the statements use (``op0, op1, ...``: compiled scalar ops).
    keys : list of str or None
        PyTensor's cache key of each op (None where it has none).
    """
    from pytensor.graph.traversal import toposort
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    nodes = list(toposort(souts))
    # Block of each node: a path of (switch node, branch) pairs from the function body.
    uses: dict = {}
    for o in souts:
        uses.setdefault(o, []).append(())
    block: dict = {}
    for node in reversed(nodes):
        paths = [p for out in node.outputs for p in uses.get(out, [])]
        here = _common_prefix(paths) if paths else ()
        block[node] = here
        is_switch = isinstance(node.op, ps.Switch)
        for k, inp in enumerate(node.inputs):
            if is_switch and k in (1, 2) and node.inputs[1] is not node.inputs[2]:
                uses.setdefault(inp, []).append(here + ((node, k == 1),))
            else:
                uses.setdefault(inp, []).append(here)

    names = {v: f"a{i}" for i, v in enumerate(sin)}
    env: dict = {}
    keys: list = []
    op_names: dict = {}
    children: dict = {}
    for node in nodes:
        children.setdefault(block[node], []).append(node)

    def ref(v):
        if v in names:
            return names[v]
        if isinstance(v, Constant):
            return _literal(v)
        raise NotElementwiseError(v, f"{v} is neither an input nor computed")  # pragma: no cover

    def cast(v, dtype):
        text = ref(v)
        return text if v.type.dtype == dtype else f"np.{np.dtype(dtype).name}({text})"

    def op_name(node):
        key = (node.op, tuple(i.type for i in node.inputs), tuple(o.type for o in node.outputs))
        if key not in op_names:
            fn, cache_key = numba_funcify_and_cache_key(node.op, node=node)
            op_names[key] = name = f"op{len(op_names)}"
            env[name] = fn
            keys.append(cache_key)
        return op_names[key]

    counter = [0]

    def emit(path, indent, lines):
        for node in children.get(path, []):
            outs = []
            for o in node.outputs:
                names[o] = f"v{counter[0]}"
                counter[0] += 1
                outs.append(names[o])
            pad = " " * indent
            if isinstance(node.op, ps.Switch):
                c, t, f = node.inputs
                dtype = node.outputs[0].type.dtype
                lines.append(f"{pad}if {ref(c)}:")
                emit(path + ((node, True),), indent + 4, lines)
                lines.append(f"{pad}    {outs[0]} = {cast(t, dtype)}")
                lines.append(f"{pad}else:")
                emit(path + ((node, False),), indent + 4, lines)
                lines.append(f"{pad}    {outs[0]} = {cast(f, dtype)}")
            elif isinstance(node.op, ps.Identity):
                lines.append(f"{pad}{outs[0]} = {ref(node.inputs[0])}")
            else:
                args = ", ".join(ref(i) for i in node.inputs)
                target = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ",)"
                lines.append(f"{pad}{target} = {op_name(node)}({args})")

    lines: list = []
    emit((), 4, lines)
    for j, o in enumerate(souts):
        lines.append(f"    r{j} = {ref(o)}")
    return lines, env, keys


def _common_prefix(paths):
    first = paths[0]
    n = len(first)
    for p in paths[1:]:
        n = min(n, len(p))
        for i in range(n):
            if p[i] is not first[i] and p[i] != first[i]:
                n = i
                break
    return first[:n]


# --------------------------------------------------------------------------- environment key
_fingerprint = None


def _numba_version() -> str:
    """Numba's version, without importing Numba (0.2 s) when it is not loaded yet."""
    mod = sys.modules.get("numba")
    if mod is not None:
        return mod.__version__
    from importlib.metadata import version

    return version("numba")


def environment_fingerprint() -> str:
    """Hash of everything besides the expression that decides a kernel's code.

    This package's module sources, the versions of PyTensor, Numba, NumPy,
    SymPy and Python, the machine, and the PyTensor flags ``floatX`` and
    ``numba__fastmath``.
    """
    global _fingerprint
    if _fingerprint is None:
        h = hashlib.sha256()
        for path in sorted(Path(__file__).parent.glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
        for part in (pytensor.__version__, _numba_version(), np.__version__, sympy.__version__,
                     sys.version, platform.machine()):
            h.update(part.encode())
        _fingerprint = h.hexdigest()
    cfg = pytensor.config
    return hashlib.sha256(f"{_fingerprint}|{cfg.floatX}|{cfg.numba__fastmath}".encode()).hexdigest()


def expression_key(args, exprs, dtypes, cses=(), extra=""):
    """Key of a kernel by its SymPy expressions, independent of argument names and dummy indices.

    Parameters
    ----------
    args : sequence of sympy.Basic
        The kernel's arguments; each is replaced by a positional symbol with
        the same assumptions.
    exprs : sequence of sympy.Basic
    dtypes : sequence of str or numpy.dtype
        Input dtypes.
    cses : sequence of (Symbol, Expr)
    extra : str
        Anything else that decides the kernel (extra loops, the caller).

    Returns
    -------
    str
        A SHA-256 hex digest that also covers :func:`environment_fingerprint`.
    """
    canon = {a: f"_arg{k}{sorted(a.assumptions0.items()) if isinstance(a, sympy.Symbol) else ''}"
             for k, a in enumerate(args)}
    printer = _KeyPrinter(canon)
    parts = [printer.doprint(s) + "=" + printer.doprint(sub) for s, sub in cses]
    parts += [printer.doprint(e) for e in exprs]
    parts += [",".join(np.dtype(d).str for d in dtypes), extra, environment_fingerprint()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class _KeyPrinter(ReprPrinter):
    """``srepr`` with the arguments printed by position (no expression is rebuilt)."""

    def __init__(self, canon):
        super().__init__()
        self._canon = canon

    def _print(self, expr, **kwargs):
        if isinstance(expr, Basic):
            name = self._canon.get(expr)
            if name is not None:
                return name
        return super()._print(expr, **kwargs)


def _marker_dir() -> Path:
    return Path(pytensor.config.base_compiledir) / "sympy_theano_printer"


def _read_marker(disk_key):
    try:
        return json.loads((_marker_dir() / f"{disk_key}.json").read_text())
    except (OSError, ValueError):
        return None


def _write_marker(disk_key, record):
    folder = _marker_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, folder / f"{disk_key}.json")
    except OSError:  # a read-only cache directory only costs speed
        pass


# --------------------------------------------------------------------------- vector math
#: ``fetestexcept`` bits (x86-64 glibc) and how NumPy names them, in NumPy's order of reporting.
_FPE_BITS = ((4, "divide", "divide by zero"), (8, "over", "overflow"),
             (16, "under", "underflow"), (1, "invalid", "invalid value"))
_FPE_MASK = 1 | 4 | 8 | 16
_vector_math = None
_vector_math_lock = threading.Lock()


def vector_math_enabled() -> bool:
    """Whether contiguous kernels call glibc's vector math library (``libmvec``).

    LLVM's loop vectoriser turns calls of ``exp``, ``sin``, ``log``... in a
    loop into calls of their SIMD versions from a *vector library*.  Numba's
    own choice, Intel's SVML, needs an ``llvmlite`` built with a patched LLVM
    (the pip wheel of llvmlite 0.47 is not: ``numba -s`` reports "SVML
    Operational: False", whatever SVML runtime is installed), but LLVM knows
    glibc's ``libmvec`` (x86-64 Linux, glibc >= 2.22), whose functions are
    accurate to 4 ulp (glibc's libmvec documentation, sourceware.org/glibc/
    wiki/libmvec).  A kernel recorded on disk records whether it has the
    vectorised loop; one without it is rebuilt where vector math is enabled.
    True where ``libmvec`` could be loaded into the process, the
    machine is x86-64 Linux, Numba does not use SVML itself, and the
    environment variable ``SYMPY_THEANO_PRINTER_VECTOR_MATH`` is not ``0``.
    The result is decided once per process.
    """
    global _vector_math
    if _vector_math is None:
        with _vector_math_lock:
            if _vector_math is None:
                _vector_math = _load_vector_math()
    return _vector_math


def _load_vector_math() -> bool:
    if os.environ.get("SYMPY_THEANO_PRINTER_VECTOR_MATH", "1").strip().lower() in ("0", "false", "no"):
        return False
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return False
    import ctypes.util

    import llvmlite.binding as llvm
    from numba.core import config

    if config.USING_SVML:
        return False
    name = ctypes.util.find_library("mvec")
    if name is None:
        return False
    try:
        llvm.load_library_permanently(name)
    except RuntimeError:
        return False
    return True


def fp_errors_matter(flags) -> bool:
    """Whether NumPy's current error modes act on any of the exception ``flags``."""
    if not flags & _FPE_MASK:
        return False
    modes = np.geterr()
    return any(flags & bit and modes[kind] != "ignore" for bit, kind, _ in _FPE_BITS)


def _fpe_intrinsic():
    """A Numba intrinsic ``fpe(mask) -> int32``: the raised exception flags in ``mask``, cleared."""
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def fpe(typingctx, mask):
        def codegen(context, builder, signature, args):
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(i32, [i32])
            test = cgutils.get_or_insert_function(builder.module, fnty, "fetestexcept")
            clear = cgutils.get_or_insert_function(builder.module, fnty, "feclearexcept")
            flags = builder.call(test, [args[0]])
            builder.call(clear, [args[0]])
            return flags

        return types.int32(types.int32), codegen

    return fpe


_fpe = None


def _contiguous_source(name, nin, nout, body):
    """Python source of a loop over flat arrays around the kernel statements."""
    ins = [f"A{i}" for i in range(nin)]
    outs = [f"O{j}" for j in range(nout)]
    lines = [f"def {name}(n, {', '.join(ins + outs)}):", f"    fpe({_FPE_MASK})",
             "    for i in range(n):"]
    lines += [f"        a{i} = A{i}[i]" for i in range(nin)]
    lines += ["    " + line for line in body]
    lines += [f"        O{j}[i] = r{j}" for j in range(nout)]
    lines += [f"    return fpe({_FPE_MASK})"]
    return "\n".join(lines) + "\n"


def _compile_contiguous(source, name, env, loop, cache_key):
    """Compile the flat-array loop with Numba, calls of math functions vectorised through libmvec."""
    global _fpe
    import llvmlite.binding as llvm
    import numba
    from numba.core.compiler_lock import global_compiler_lock
    from pytensor.link.numba.cache import compile_numba_function_src

    if _fpe is None:
        _fpe = _fpe_intrinsic()
    cache = bool(pytensor.config.numba__cache) and cache_key is not None
    func = compile_numba_function_src(
        source, name, global_env={**env, "np": np, "fpe": _fpe, "__name__": __name__},
        cache_key=cache_key if cache else None)
    ins, outs = loop
    sig = numba.int32(numba.intp, *[_numba_type(d, True, True) for d in ins],
                      *[_numba_type(d, True, True) for d in outs])
    # The vector library is an LLVM-wide option: set only while this function compiles
    # (Numba compiles one function at a time under its global lock), so nothing else changes.
    with global_compiler_lock:
        llvm.set_option("", "--vector-library=LIBMVEC-X86")
        try:
            built = numba.njit(sig, nogil=True, cache=cache, error_model="numpy",
                               boundscheck=False)(func)
        finally:
            llvm.set_option("", "--vector-library=none")
    with _keepalive_lock:
        _KEEPALIVE.append(built)
    return built


# --------------------------------------------------------------------------- Numba
def _numba_type(dtype, array=False, contiguous=False):
    import numba

    t = numba.from_dtype(np.dtype(dtype))
    if not array:
        return t
    return t[::1] if contiguous else t[:]


def _loop_body(name, nin, nout, body):
    """Python source of the loop body: the kernel statements, then the outputs."""
    ins = [f"a{i}" for i in range(nin)]
    outs = [f"o{j}" for j in range(nout)]
    tail = [f"    o{j}[0] = r{j}" for j in range(nout)]
    return "\n".join([f"def {name}({', '.join(ins + outs)}):"] + body + tail) + "\n"


def _vectorize(source, name, env, loops, cache_key, doc):
    """Compile ``source`` (globals ``env``) with Numba into a ``numpy.ufunc`` over ``loops``."""
    import numba
    from pytensor.link.numba.cache import compile_numba_function_src

    cache = bool(pytensor.config.numba__cache) and cache_key is not None
    func = compile_numba_function_src(
        source, name, global_env={**env, "np": np, "__name__": __name__},
        cache_key=cache_key if cache else None)
    func.__doc__ = doc
    nin, nout = len(loops[0][0]), len(loops[0][1])
    sigs = [numba.void(*[_numba_type(d) for d in i], *[_numba_type(d, True) for d in o])
            for i, o in loops]
    layout = ",".join(["()"] * nin) + "->" + ",".join(["()"] * nout)
    built = numba.guvectorize(sigs, layout, cache=cache)(func)
    with _keepalive_lock:
        _KEEPALIVE.append(built)
    return built.ufunc


def kernels_loaded() -> bool:
    """Whether this process has built or loaded a kernel already (Numba's start-up is paid)."""
    return bool(_KEEPALIVE)


def compile_kernel(args, exprs, dtypes, *, cses=(), printer=None, extra_dtypes=(),
                   name="kernel", doc=None, disk_key=None, printed=None, contiguous=False):
    """Compile element-wise SymPy expressions into a ``numpy.ufunc``.

    Parameters
    ----------
    args : sequence of sympy.Symbol, Dummy or applied undefined function
        The kernel's inputs, in order (``nin = len(args)``, at least one).
    exprs : sequence of sympy.Expr or Boolean
        Its outputs (``nout = len(exprs)``), scalar expressions in ``args``.
    dtypes : sequence of str
        Input dtypes of the main loop, one per argument.
    cses : sequence of (Symbol, Expr)
        Common subexpressions from ``sympy.cse`` that ``exprs`` refer to.
    printer : TheanoPrinter, optional
        Default: a new :class:`TheanoPrinter`.
    extra_dtypes : sequence of str
        More loops: each entry is one dtype for all inputs; the loop runs the
        main loop's kernel and rounds its results to that dtype.  Loops are
        ordered narrowest first, as NumPy's own ufuncs (NumPy uses the first
        loop the inputs cast to safely).
    name, doc : str
        ``__name__`` and ``__doc__`` of the ufunc.
    disk_key : str, optional
        Key of the SymPy expressions (see the module docstring); with it, a
        kernel compiled before, in any process, is loaded without printing.
    printed : (list of TensorVariable, list of TensorVariable), optional
        The graph of ``exprs`` over 1-d inputs of ``dtypes``, when the caller
        printed it already (:func:`print_graph`).
    contiguous : bool
        Also compile :attr:`Kernel.contiguous`, the same statements in a loop
        over flat C-contiguous arrays of the main loop's dtypes, which LLVM
        vectorises, math functions included, where :func:`vector_math_enabled`
        (2-4x faster on ``exp``/``sin``-bound expressions; results within
        4 ulp of the ufunc's).  Left None where vector math is not enabled
        and for bodies with branches (a ``Piecewise``).

    Returns
    -------
    Kernel

    Raises
    ------
    NotElementwiseError
        The graph needs a non-element-wise operation.
    UnsupportedExpressionError
        Some subexpression has no PyTensor translation.
    """
    if disk_key is not None:
        kernel = _load_recorded(disk_key, name, doc, contiguous)
        if kernel is not None:
            return kernel
    if printed is not None:
        tin, tout = printed
    else:
        if printer is None:
            printer = TheanoPrinter(cache={})
        tin, tout = print_graph(printer, args, exprs, dtypes, cses)
    sin, souts, out_dtypes = rewritten_scalar_graph(tin, tout)
    body, env, op_keys = kernel_body(sin, souts)
    main = (tuple(np.dtype(d) for d in dtypes), out_dtypes)
    loops = [main] + [((np.dtype(d),) * len(args),
                       tuple(np.dtype(d) if o.kind == "f" else o for o in out_dtypes))
                      for d in extra_dtypes if np.dtype(d) not in main[0]]
    # NumPy takes the first loop the inputs cast to safely: narrower loops first, as its own ufuncs.
    loops.sort(key=lambda loop: [d.itemsize for d in loop[0]])
    source = _loop_body(name, len(args), len(exprs), body)
    cache_key = None
    if all(k is not None for k in op_keys):
        cache_key = hashlib.sha256(
            f"{op_keys}|{source}|{loops}|{pytensor.config.numba__fastmath}".encode()
        ).hexdigest()
    ufunc = _vectorize(source, name, env, loops, cache_key, doc)
    flat = flat_source = flat_key = None
    # A body with branches (Switch) stays element-wise: vectorising it would evaluate both
    # branches, which costs the laziness and raises floating-point flags of untaken branches.
    branches = any(line.lstrip().startswith("if ") for line in body)
    if contiguous and vector_math_enabled() and not branches:
        flat_name = f"{name}_contiguous"
        flat_source = _contiguous_source(flat_name, len(args), len(exprs), body)
        if cache_key is not None:
            flat_key = hashlib.sha256(f"{cache_key}|{flat_source}|libmvec".encode()).hexdigest()
        flat = _compile_contiguous(flat_source, flat_name, env, main, flat_key)
    kernel = Kernel(ufunc, tuple(loops), source, flat)
    if disk_key is not None and cache_key is not None:
        record = {
            "source": source, "cache_key": cache_key, "globals": sorted(env),
            "loops": [[[d.str for d in i], [d.str for d in o]] for i, o in loops],
        }
        if flat is not None:
            record["contiguous"] = {"source": flat_source, "cache_key": flat_key,
                                    "loop": [[d.str for d in main[0]], [d.str for d in main[1]]]}
        elif contiguous and branches:
            record["contiguous"] = "branches"  # none by design: no need to rebuild for it
        _write_marker(disk_key, record)
    return kernel


def recorded(disk_key) -> bool:
    """Whether a kernel was recorded under ``disk_key`` (by any process)."""
    return (_marker_dir() / f"{disk_key}.json").is_file()


def _load_recorded(disk_key, name, doc, contiguous=False):
    """The kernel recorded under ``disk_key``, loaded from Numba's cache; None if it is not there."""
    record = _read_marker(disk_key)
    if record is None or not pytensor.config.numba__cache:
        return None
    try:
        loops = tuple((tuple(np.dtype(d) for d in i), tuple(np.dtype(d) for d in o))
                      for i, o in record["loops"])
        source, cache_key = record["source"], record["cache_key"]
        fname = source.split("(", 1)[0].split()[-1]
        # The compiled ops are only needed to compile; a cache hit never looks at them,
        # and a miss fails typing on the placeholders (then the kernel is rebuilt).
        env = dict.fromkeys(record["globals"])
        ufunc = _vectorize(source, fname, env, loops, cache_key, doc)
        flat = None
        if contiguous and vector_math_enabled():
            part = record.get("contiguous")
            if part is None:
                return None  # recorded without the flat loop: rebuild with it
            if part != "branches":
                flat_source = part["source"]
                loop = tuple(tuple(np.dtype(d) for d in side) for side in part["loop"])
                flat = _compile_contiguous(flat_source, flat_source.split("(", 1)[0].split()[-1],
                                           env, loop, part["cache_key"])
    except Exception:  # noqa: BLE001 - stale or partial cache: rebuild from the expressions
        return None
    return Kernel(ufunc, loops, source, flat)


# --------------------------------------------------------------------------- ufuncify
_ufuncify_cache: dict = {}
_ufuncify_lock = threading.Lock()


def _freeze(obj):
    """A hashable stand-in for nested lists/tuples of SymPy objects."""
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__,) + tuple(_freeze(o) for o in obj)
    if isinstance(obj, MatrixBase):
        return sympy.ImmutableMatrix(obj)
    return obj


def _inline_helpers(expr, helpers):
    """Replace calls of autowrap-style helpers ``(name, expr, args)`` by their expressions."""
    for h in helpers:
        try:
            hname, hexpr, hargs = h
        except (TypeError, ValueError):
            raise TypeError("each helper must be a (name, expression, arguments) tuple, "
                            f"got {h!r}") from None
        hargs = tuple(hargs) if iterable(hargs) else (hargs,)

        def is_call(e, hname=hname, n=len(hargs)):
            return isinstance(e, AppliedUndef) and e.func.__name__ == hname and len(e.args) == n

        def inline(e, hexpr=hexpr, hargs=hargs):
            return sympy.sympify(hexpr).xreplace(dict(zip(hargs, e.args)))

        expr = expr.replace(is_call, inline)
    return expr


def ufuncify(args, expr, language=None, backend="theano", tempdir=None, flags=None,
             verbose=False, helpers=None, **kwargs):
    """Compile element-wise SymPy expressions into a real ``numpy.ufunc``, with no C build.

    The signature is that of :func:`sympy.utilities.autowrap.ufuncify`.  With
    ``backend='theano'`` (or ``'pytensor'``) the expressions are printed to
    PyTensor, rewritten and fused into one scalar kernel, and compiled by
    Numba (see the module docstring).  Other back ends (``'numpy'``,
    ``'cython'``, ``'f2py'``) are handed to SymPy's ``ufuncify`` unchanged.

    Parameters
    ----------
    args : sympy.Symbol or sequence of them
        The ufunc's inputs, in order: ``nin == len(args)``.  Symbols need not
        all appear in ``expr``.
    expr : sympy.Expr or sequence of sympy.Expr
        The output (``nout == 1``) or outputs (``nout == len(expr)``, returned
        as a tuple).  Every free symbol must be among ``args``.
    language : None
        Autowrap's target language; the ``'theano'`` back end generates no
        source code, so only None is accepted.
    backend : str
        ``'theano'`` / ``'pytensor'`` (this implementation), or one of
        autowrap's back ends.
    tempdir, flags : ignored
        Build directory and compiler flags of autowrap's back ends: nothing is
        built here (Numba's cache lives in PyTensor's compile directory).
    verbose : bool
        Print the generated loop body and the ufunc's loops.
    helpers : sequence of (name, expr, args), optional
        Auxiliary functions used in ``expr`` as ``Function(name)(...)``; they
        are inlined.
    **kwargs
        Not used by the ``'theano'`` back end (a ``TypeError`` names them).

    Returns
    -------
    numpy.ufunc
        Loops ``float32`` (``'ff->f'``...; computed with the float64 kernel
        and rounded to float32) and ``float64`` (``'dd->d'``...), in NumPy's
        order: float32 data runs the float32 loop, integers are cast to
        float64.  ``signature`` is None, as for autowrap's ufuncs: NumPy
        broadcasting between the inputs, ``out=`` (a tuple for several
        outputs), ``dtype=``, and with one output and two inputs
        ``reduce``/``accumulate``/``outer``, all work as for any ufunc;
        ``where=`` does not (a limit of the ufuncs Numba builds).
        An identical call returns the same object.

    Raises
    ------
    NotElementwiseError
        ``expr`` is (or contains) a matrix expression or an explicit matrix,
        an argument is a ``MatrixSymbol``, or PyTensor computes the expression
        with a non-element-wise operation.
    ShapeError
        ``expr`` depends on a symbol that is not in ``args`` (the message
        names it).
    UnsupportedExpressionError
        A subexpression has no PyTensor translation.
    ValueError
        ``language`` is given with the ``'theano'`` back end, or ``args`` is empty.
    TypeError
        Unknown keyword arguments; an argument is not a symbol.

    Examples
    --------
    >>> import numpy as np, sympy
    >>> from sympy_theano_printer import ufuncify
    >>> x, y = sympy.symbols("x y")
    >>> f = ufuncify([x, y], sympy.sqrt(x**2 + y**2))
    >>> isinstance(f, np.ufunc), f.nin, f.nout
    (True, 2, 1)
    >>> f(np.array([3.0, 5.0]), 4.0)
    array([5.        , 6.40312424])
    """
    if str(backend).lower() not in ("theano", "pytensor"):
        from sympy.utilities.autowrap import ufuncify as autowrap_ufuncify

        return autowrap_ufuncify(args, expr, language=language, backend=backend, tempdir=tempdir,
                                 flags=flags, verbose=verbose, helpers=helpers, **kwargs)
    if language is not None:
        raise ValueError(f"language={language!r} applies to autowrap's back ends; "
                         "backend='theano' generates no source code (leave language=None)")
    if kwargs:
        raise TypeError(f"ufuncify(backend='theano') got unexpected keyword arguments: "
                        f"{', '.join(sorted(kwargs))}")
    key = (_freeze(args), _freeze(expr), str(backend).lower(), _freeze(helpers or ()))
    try:
        hash(key)
    except TypeError:
        key = None
    if key is not None:
        with _ufuncify_lock:
            cached = _ufuncify_cache.get(key)
        if cached is not None:
            return cached

    arg_list = [args] if isinstance(args, Basic) else list(args)
    if not arg_list:
        raise ValueError("ufuncify needs at least one argument (a ufunc has nin >= 1)")
    single = not (isinstance(expr, (list, tuple))
                  or (iterable(expr) and not isinstance(expr, (Basic, MatrixBase))))
    if isinstance(expr, (MatrixBase, MatrixExpr)):
        single = True
    exprs = [expr] if single else list(expr)
    if not exprs:
        raise ValueError("ufuncify needs at least one expression")
    exprs = [sympy.sympify(e) if not isinstance(e, (Basic, MatrixBase)) else e for e in exprs]
    check_elementwise(arg_list, exprs)
    if helpers:
        exprs = [_inline_helpers(e, helpers) for e in exprs]
    for a in arg_list:
        if not (isinstance(a, (sympy.Symbol, AppliedUndef))):
            raise TypeError(f"ufuncify arguments must be symbols; {a!r} is a {type(a).__name__}")
    given = set(arg_list)
    for e in exprs:
        for s in sorted(e.free_symbols - given, key=str):
            if not any(s in u.free_symbols for u in e.atoms(AppliedUndef) if u in given):
                raise ShapeError(s, f"the expression {e} depends on {s}, which is not among "
                                    f"the arguments ({', '.join(map(str, arg_list))})")

    doc = (f"ufunc made by sympy_theano_printer.ufuncify from "
           f"({', '.join(map(str, arg_list))}) -> "
           f"{exprs[0] if single else '(' + ', '.join(map(str, exprs)) + ')'}")
    if len(doc) > 1000:
        doc = doc[:997] + "..."
    printer = TheanoPrinter(cache={}, settings={"float_dtype": "float64"})
    dtypes = ["float64"] * len(arg_list)
    kernel = compile_kernel(arg_list, exprs, dtypes, printer=printer,
                            extra_dtypes=UFUNC_DTYPES[1:], name="ufuncify_kernel", doc=doc,
                            disk_key=expression_key(arg_list, exprs, dtypes,
                                                    extra=f"ufuncify|{UFUNC_DTYPES}"))
    if verbose:
        print(kernel.source)  # noqa: T201
        print(f"loops: {kernel.ufunc.types}")  # noqa: T201
    if key is not None:
        with _ufuncify_lock:
            kernel_ufunc = _ufuncify_cache.setdefault(key, kernel.ufunc)
        return kernel_ufunc
    return kernel.ufunc
