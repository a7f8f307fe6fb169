"""Operation counts of PyTensor graphs, with PyTensor's own rewrites.

Three counts, after the comparison of Rocklin's 2013 article "SymPy and
Theano -- scalar simplification" (``/work/shared/seeds``), which counted
``len(fgraph.apply_nodes)`` of a ``FunctionGraph`` before and after Theano's
rewrites with fusion excluded:

* :func:`rewritten_apply_nodes`: apply nodes of the graph after PyTensor's
  rewrites, element-wise fusion excluded (the article's "after Theano
  simplification" figure);
* :func:`printed_apply_nodes`: apply nodes of the graph as printed, with no
  rewrites at all (the article's "SymPy" figure);
* :func:`fused_scalar_ops`: scalar operations the fused kernel(s) compute
  after the rewrites with fusion on -- every scalar op inside each
  ``Composite`` (``node.op.scalar_op.fgraph``), an n-ary ``Add``/``Mul``
  counted as n - 1 binary operations, plus the element-wise nodes that were
  not fused, counted the same way.  Fusion folds a whole chain into one apply
  node, so the number of apply nodes no longer measures the work; this count
  does.

The rewrites are applied to a clone of the graph, without compiling it: the
rewrite database of the mode (default: ``get_default_mode()``, NUMBA) with the
``"inplace"`` rewrites left out (they change no count, and would need the
compiler's ``Supervisor`` feature).  It gives the same graph as the compiled
function's ``f.maker.fgraph``.  Measured on the project's machine for the
hydrogen example of :mod:`.examples` (``[de/dx, e]``, warm caches): 20-40 ms
per rewrite, against 0.2-0.3 s for ``pytensor.function`` with NUMBA and
0.5-1 s with CVM.  :func:`counting_mode` offers the same rewrites through
``theano_function`` (so that all of its options apply) with the Python
linker: 0.08-0.15 s for the three counts of one graph.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor import config
from pytensor.compile import Function
from pytensor.compile.mode import Mode, get_default_mode, get_mode
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import apply_ancestors, graph_inputs
from pytensor.tensor.elemwise import Elemwise

from .backend import count_apply_nodes, graph_depth, recursion_headroom

__all__ = [
    "OpCounts",
    "count_ops",
    "counting_mode",
    "fused_scalar_ops",
    "printed_apply_nodes",
    "rewritten_apply_nodes",
    "rewritten_graph",
    "scalar_op_count",
]


def _outputs_of(graph) -> list:
    """The output variables of ``graph``: a Variable, a sequence of them, or a FunctionGraph."""
    if isinstance(graph, FunctionGraph):
        return list(graph.outputs)
    if isinstance(graph, Variable):
        return [graph]
    if isinstance(graph, (list, tuple)):
        return [o if isinstance(o, Variable) else pt.as_tensor_variable(o) for o in graph]
    raise TypeError(
        f"expected a PyTensor Variable, a list of them or a FunctionGraph, got {type(graph).__name__}"
    )


def _compiled_fgraph(graph):
    """``f.maker.fgraph`` of a compiled ``Function`` or ``CompiledFunction``; None for anything else."""
    fn = getattr(graph, "theano_function", graph)
    if isinstance(fn, Function):
        return fn.maker.fgraph
    return None


def _resolve_mode(mode):
    if mode is None:
        return get_default_mode()
    return get_mode(mode)


def counting_mode(mode=None, *, fusion: bool = False, rewrite: bool = True) -> Mode:
    """A compilation mode for counting: the rewrites of ``mode``, no code generation.

    Compiling with it (``theano_function(..., mode=counting_mode())``) goes
    through everything ``theano_function`` does before linking, so the
    compiled function's ``f.maker.fgraph`` can be counted with
    :func:`printed_apply_nodes` and :func:`fused_scalar_ops`, at the cost of
    the rewrites alone (the Python linker builds no kernels).

    Parameters
    ----------
    mode : str or Mode, optional
        Whose rewrite database (default ``get_default_mode()``); its
        ``"inplace"`` rewrites are left out.
    fusion : bool
        Keep element-wise fusion (default False: fusion excluded).
    rewrite : bool
        False: no rewrites at all (the graph as printed).

    Returns
    -------
    pytensor.compile.mode.Mode
        With the Python linker (``"py"``); functions compiled with it run, slowly.
    """
    if not rewrite:
        return Mode(linker="py", optimizer=None)
    base = _resolve_mode(mode).excluding("inplace")
    if not fusion:
        base = base.excluding("fusion")
    return Mode(linker="py", optimizer=base.provided_optimizer)


def rewritten_graph(graph, *, fusion: bool = False, mode=None) -> FunctionGraph:
    """A rewritten clone of the graph of some outputs, as ``pytensor.function`` would rewrite it.

    Parameters
    ----------
    graph : Variable, sequence of Variable, or FunctionGraph
        The outputs (for instance from :func:`~sympy_theano_printer.theano_code`).
        The graph is cloned; it is not modified.
    fusion : bool
        Keep PyTensor's element-wise fusion rewrites (``"fusion"`` tag).  With
        False (default) every scalar operation stays its own apply node.
    mode : str or pytensor.compile.mode.Mode, optional
        Whose rewrite database to apply (``"NUMBA"``, ``"CVM"``,
        ``"FAST_COMPILE"``, ...); default ``get_default_mode()``.  Its
        ``"inplace"`` rewrites are always left out.

    Returns
    -------
    pytensor.graph.fg.FunctionGraph
        Inputs: the graph's non-constant root variables (clones).

    Raises
    ------
    TypeError
        ``graph`` is not a Variable, a sequence of them or a FunctionGraph.
    """
    outputs = _outputs_of(graph)
    mode = _resolve_mode(mode).excluding("inplace")
    if not fusion:
        mode = mode.excluding("fusion")
    inputs = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]
    with recursion_headroom(graph_depth(outputs)):
        fgraph = FunctionGraph(inputs, outputs, clone=True)
        with config.change_flags(mode=mode):
            mode.optimizer.rewrite(fgraph)
    return fgraph


def printed_apply_nodes(graph) -> int:
    """Number of apply nodes of a graph as it is, with no rewrites.

    Parameters
    ----------
    graph : Variable, sequence of Variable, FunctionGraph, or compiled function
        For outputs, the graph as printed (the 2013 article's "SymPy alone"
        column counts the printed graph of ``[simplify(diff(e)), e]``); for a
        compiled function (``pytensor`` ``Function`` or
        :class:`~sympy_theano_printer.CompiledFunction`), the graph it runs,
        ``len(f.maker.fgraph.apply_nodes)``.

    Returns
    -------
    int
        Distinct apply nodes (a subexpression shared by two outputs counts once).
    """
    fgraph = _compiled_fgraph(graph)
    if fgraph is not None:
        return len(fgraph.apply_nodes)
    if isinstance(graph, FunctionGraph):
        return len(graph.apply_nodes)
    return count_apply_nodes(_outputs_of(graph))


def rewritten_apply_nodes(graph, *, mode=None) -> int:
    """Number of apply nodes after PyTensor's rewrites with element-wise fusion excluded.

    This is the article's count (``len(fgraph.apply_nodes)`` after
    ``get_default_mode().excluding("fusion")``): each remaining scalar
    operation is one node, common subexpressions merged, constants folded.

    Parameters
    ----------
    graph : Variable, sequence of Variable, or FunctionGraph
        The outputs, before rewriting (a compiled function is already
        rewritten, and fused: use :func:`printed_apply_nodes` on it).
    mode : str or Mode, optional
        Whose rewrites; see :func:`rewritten_graph`.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        ``graph`` is a compiled function or not a graph at all.
    """
    if _compiled_fgraph(graph) is not None:
        raise TypeError("rewritten_apply_nodes needs the outputs before rewriting, "
                        "not a compiled function; pass the PyTensor output variables")
    return len(rewritten_graph(graph, fusion=False, mode=mode).apply_nodes)


def scalar_op_count(op, *, expand_nested: bool = True) -> int:
    """Binary-operation count of one scalar or element-wise op.

    Parameters
    ----------
    op : pytensor.scalar.ScalarOp or Elemwise
        An ``Elemwise`` counts as its ``scalar_op``.
    expand_nested : bool
        A ``Composite`` inside a ``Composite`` (PyTensor's power rewrite makes
        ``Composite{sqr(sqr(i0))}`` for ``x**4``) counts its own inner
        operations (default) or as a single operation.

    Returns
    -------
    int
        1 for an ordinary scalar op; for a ``Composite``, the sum over the
        nodes of its inner ``fgraph``, an n-ary ``Add``/``Mul`` node counting
        n - 1.  An n-ary ``Add``/``Mul`` given alone counts 1 here: its arity
        lives on the apply node, see :func:`fused_scalar_ops`.
    """
    if isinstance(op, Elemwise):
        op = op.scalar_op
    if not isinstance(op, ps.Composite):
        return 1
    total = 0
    for node in op.fgraph.apply_nodes:
        total += _node_scalar_ops(node.op, len(node.inputs), expand_nested, inner=True)
    return total


def _node_scalar_ops(scalar_op, n_inputs, expand_nested, inner=False):
    if isinstance(scalar_op, (ps.Add, ps.Mul)):
        return n_inputs - 1
    if isinstance(scalar_op, ps.Composite) and (expand_nested or not inner):
        return scalar_op_count(scalar_op, expand_nested=expand_nested)
    return 1


def fused_scalar_ops(graph, *, mode=None, expand_nested: bool = True, rewrite: bool = True) -> int:
    """Scalar operations computed by the element-wise kernels of a fused graph.

    Parameters
    ----------
    graph : Variable, sequence of Variable, FunctionGraph, or compiled function
        Outputs (or a FunctionGraph of them) are rewritten with fusion on,
        see :func:`rewritten_graph`; a compiled function's ``f.maker.fgraph``
        is counted as it is (fused or not, as its mode made it).
    mode : str or Mode, optional
        Whose rewrites, for outputs; see :func:`rewritten_graph`.
    rewrite : bool
        False counts outputs as printed, with no rewrites (hence no fusion:
        every element-wise node counted), as for the article's "SymPy alone".
    expand_nested : bool
        How a ``Composite`` nested in a ``Composite`` counts, see
        :func:`scalar_op_count`.  False is the literal reading of "every op
        in ``node.op.scalar_op.fgraph``"; True (default) counts what the
        kernel computes.

    Returns
    -------
    int
        Over the ``Elemwise`` apply nodes: every scalar op inside each
        ``Composite``, plus each unfused element-wise op, an n-ary
        ``Add``/``Mul`` counting n - 1.  Other nodes (``DimShuffle``,
        ``Alloc``, ``DeepCopyOp``, linear algebra) compute no scalar
        arithmetic and count 0.

    Notes
    -----
    The convention (n - 1 for n-ary sums and products, everything else 1) is
    the project's, from ``/work/shared/README.md``; a ``ScalarLoop`` (the
    iterative special functions) counts 1 per node although it loops.
    """
    fgraph = _compiled_fgraph(graph)
    if fgraph is not None:
        nodes = fgraph.apply_nodes
    elif rewrite:
        nodes = rewritten_graph(graph, fusion=True, mode=mode).apply_nodes
    else:
        nodes = apply_ancestors(_outputs_of(graph))
    return _kernel_ops(nodes, expand_nested)


def _kernel_ops(nodes, expand_nested=True):
    total = 0
    for node in nodes:
        if isinstance(node.op, Elemwise):
            total += _node_scalar_ops(node.op.scalar_op, len(node.inputs), expand_nested)
    return total


@dataclass(frozen=True)
class OpCounts:
    """The three counts of one graph (see the module docstring).

    Attributes
    ----------
    printed_nodes : int
        Apply nodes as printed, no rewrites (:func:`printed_apply_nodes`).
    rewritten_nodes : int
        Apply nodes after rewrites, fusion excluded (:func:`rewritten_apply_nodes`).
    fused_nodes : int
        Apply nodes after rewrites with fusion on.
    fused_scalar_ops : int
        Scalar operations in the fused kernel(s) (:func:`fused_scalar_ops`).
    """

    printed_nodes: int
    rewritten_nodes: int
    fused_nodes: int
    fused_scalar_ops: int


def count_ops(graph, *, mode=None) -> OpCounts:
    """All three counts of the graph of some outputs.

    Parameters
    ----------
    graph : Variable, sequence of Variable, or FunctionGraph
        The outputs, before rewriting.
    mode : str or Mode, optional
        Whose rewrites; see :func:`rewritten_graph`.

    Returns
    -------
    OpCounts

    Examples
    --------
    >>> import sympy
    >>> from sympy_theano_printer import theano_code
    >>> x, y = sympy.symbols("x y")
    >>> xy = sympy.Mul(x, y, evaluate=False)
    >>> count_ops(theano_code(sympy.Add(xy, xy, evaluate=False), cache={}))
    OpCounts(printed_nodes=2, rewritten_nodes=2, fused_nodes=1, fused_scalar_ops=2)
    """
    fused = rewritten_graph(graph, fusion=True, mode=mode)
    return OpCounts(
        printed_nodes=printed_apply_nodes(graph),
        rewritten_nodes=rewritten_apply_nodes(graph, mode=mode),
        fused_nodes=len(fused.apply_nodes),
        fused_scalar_ops=_kernel_ops(fused.apply_nodes),
    )
