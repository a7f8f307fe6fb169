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

import numba
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

    @property
    def out_dtypes(self):
        """Output dtypes of the widest loop (the one compiled from the printed graph)."""
        return self.loops[-1][1]


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
        mode = without_wrong_rewrites("NUMBA").excluding("inplace")
        with pytensor.config.change_flags(mode=mode):
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
        for part in (pytensor.__version__, numba.__version__, np.__version__, sympy.__version__,
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


# --------------------------------------------------------------------------- Numba
def _numba_type(dtype, array=False):
    t = numba.from_dtype(np.dtype(dtype))
    return t[:] if array else t


def _loop_body(name, nin, nout, body):
    """Python source of the loop body: the kernel statements, then the outputs."""
    ins = [f"a{i}" for i in range(nin)]
    outs = [f"o{j}" for j in range(nout)]
    tail = [f"    o{j}[0] = r{j}" for j in range(nout)]
    return "\n".join([f"def {name}({', '.join(ins + outs)}):"] + body + tail) + "\n"


def _vectorize(source, name, env, loops, cache_key, doc):
    """Compile ``source`` (globals ``env``) with Numba into a ``numpy.ufunc`` over ``loops``."""
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


def compile_kernel(args, exprs, dtypes, *, cses=(), printer=None, extra_dtypes=(),
                   name="kernel", doc=None, disk_key=None, printed=None):
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
        kernel = _load_recorded(disk_key, name, doc)
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
    kernel = Kernel(ufunc, tuple(loops), source)
    if disk_key is not None and cache_key is not None:
        _write_marker(disk_key, {
            "source": source, "cache_key": cache_key, "globals": sorted(env),
            "loops": [[[d.str for d in i], [d.str for d in o]] for i, o in loops],
        })
    return kernel


def recorded(disk_key) -> bool:
    """Whether a kernel was recorded under ``disk_key`` (by any process)."""
    return (_marker_dir() / f"{disk_key}.json").is_file()


def _load_recorded(disk_key, name, doc):
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
    except Exception:  # noqa: BLE001 - stale or partial cache: rebuild from the expressions
        return None
    return Kernel(ufunc, loops, source)


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
