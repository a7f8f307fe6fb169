"""Command line: compile a SymPy expression with PyTensor, count its operations, time it.

Usage::

    python -m sympy_theano_printer "sin(x)**2 + cos(x)" --args x [--grad] [--n 100000]
        [--mode NUMBA|CVM|C|FAST_COMPILE|JAX] [--repeat K]
    python -m sympy_theano_printer --example hydrogen [--n N] [--mode M] [--repeat K]
    python -m sympy_theano_printer --example kalman [--n N] [--mode M] [--repeat K]

The first form prints the rewritten PyTensor graph of the compiled function
(``pytensor.dprint``), its operation counts (:mod:`.counting`), and compares
values and time with ``sympy.lambdify(args, expr, "numpy")`` on float64 arrays
of ``--n`` points: the first argument ``linspace(0.1, 5, n)``, any others
uniform in [0.1, 5] (seeded, so runs repeat).  ``--grad`` adds the derivative
with respect to each argument (``Derivative``, i.e. PyTensor's gradient; the
NumPy side gets ``sympy.diff``).

The second form prints the 2013 article's comparison (:mod:`.examples`) next
to today's counts, values against mpmath and timings.

The third form times the Kalman filter update of the article "SymPy and Theano
-- Matrix Expressions" (:func:`.examples.kalman_comparison`) compiled three ways
(plain, with SymPy assumptions, blocked) against hand-written NumPy and SciPy
versions, for ``n = 200, k = 100`` and ``n = 1000, k = 500`` (``--n N``: the
state dimension ``N`` only, with ``k = N // 2``), and shows how far the blocked
update is from the unblocked one (:func:`.examples.kalman_roundoff`).

Exit status: 0 on success, 2 on a usage error (unparsable expression, an
argument that does not occur in it, a symbol that is not an argument, a
function PyTensor has no translation for, an unavailable mode).
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import keyword
import textwrap
import time
import tokenize

import numpy as np
import pytensor
import sympy
from pytensor.compile.mode import get_default_mode
from sympy.core.function import AppliedUndef
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from .counting import count_ops, fused_scalar_ops, printed_apply_nodes
from .errors import ShapeError, UnsupportedExpressionError
from .examples import (
    KALMAN_SIZES,
    SAMPLE_POINTS,
    best_time,
    hydrogen_comparison,
    hydrogen_rows,
    kalman_comparison,
    kalman_roundoff,
    max_relative_error,
)
from .theanocode import theano_code, theano_function

__all__ = ["build_parser", "format_table", "main", "parse_expression"]

MODES = ("NUMBA", "CVM", "C", "FAST_COMPILE", "JAX")
EXAMPLES = ("hydrogen", "kalman")
#: ``--n`` and ``--repeat`` when not given: for expressions and hydrogen, and for kalman.
DEFAULT_N = 100_000
DEFAULT_REPEAT = 5
KALMAN_REPEAT = 20
SAMPLE_RANGE = (0.1, 5.0)


# ---------------------------------------------------------------------- parsing
def _safe_namespace() -> dict:
    """SymPy's classes, constants and ``sympy.functions`` helpers.

    No Python builtins, and nothing that evaluates a string (``sympify``, ``S``, ``lambdify``).
    """
    full: dict = {}
    exec("from sympy import *", full)  # noqa: S102 - a fixed import, no user input
    names = {}
    for name, obj in full.items():
        if name.startswith("_"):
            continue
        if isinstance(obj, sympy.Basic) or (isinstance(obj, type) and issubclass(obj, sympy.Basic)):
            names[name] = obj
        elif callable(obj) and getattr(obj, "__module__", "").startswith("sympy.functions"):
            names[name] = obj  # sqrt, root, cbrt, real_root, ...
    names.update(max=sympy.Max, min=sympy.Min, abs=sympy.Abs)
    names["__builtins__"] = {}
    return names


def _check_tokens(text: str) -> None:
    """Refuse what an arithmetic expression does not need: strings, attributes, underscore names."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except tokenize.TokenError as err:
        raise ValueError(f"cannot parse {text!r}: {err.args[0]} (unbalanced brackets?)") from None
    except SyntaxError as err:  # IndentationError included
        raise ValueError(f"cannot parse {text!r}: {err.msg}") from None
    for tok in tokens:
        if tok.type == tokenize.STRING:
            raise ValueError(f"string literals are not allowed in an expression: {tok.string}")
        if tok.type == tokenize.OP and tok.string == ".":
            raise ValueError("attribute access ('.') is not allowed in an expression")
        if tok.type == tokenize.NAME and tok.string.startswith("_"):
            raise ValueError(f"names starting with '_' are not allowed in an expression: {tok.string}")


def parse_expression(text: str, names) -> tuple[sympy.Expr, list[sympy.Symbol]]:
    """Parse ``text`` into a SymPy expression of the argument symbols ``names``.

    ``sympy.parse_expr`` with the standard transformations and ``^`` as power,
    the argument names bound to plain ``Symbol`` objects (no assumptions), and a
    namespace of SymPy's classes and functions only: no Python builtins, and no
    string literals, attribute access or ``_`` names in ``text``.

    Parameters
    ----------
    text : str
        For instance ``"sin(x)**2 + cos(x)"``.
    names : sequence of str
        Argument names; each may also be a comma-separated list.

    Returns
    -------
    (sympy.Expr, list of sympy.Symbol)

    Raises
    ------
    ValueError
        With a message for the user: a bad name, an unparsable expression,
        something that is not a scalar expression, an argument that does not
        occur in it, a symbol or an unknown function that is not an argument.
    """
    arg_names = [n.strip() for item in names for n in item.split(",") if n.strip()]
    if not arg_names:
        raise ValueError("give at least one argument with --args")
    for name in arg_names:
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"argument name {name!r} is not a valid symbol name")
    if len(set(arg_names)) != len(arg_names):
        raise ValueError(f"an argument is given twice: {', '.join(arg_names)}")
    symbols = [sympy.Symbol(n) for n in arg_names]
    _check_tokens(text)
    try:
        expr = parse_expr(text, local_dict=dict(zip(arg_names, symbols)),
                          global_dict=_safe_namespace(),
                          transformations=standard_transformations + (convert_xor,))
    except Exception as err:  # user input: any failure of the parser is a usage error
        raise ValueError(f"cannot parse {text!r}: {type(err).__name__}: {err}") from None
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"{text!r} is not a scalar expression (it parses to a {type(expr).__name__})")
    undefined = sorted(str(f.func) for f in expr.atoms(AppliedUndef))
    if undefined:
        raise ValueError(f"unknown function(s) in the expression: {', '.join(undefined)}")
    free = expr.free_symbols
    missing = [s for s in symbols if s not in free]
    if missing:
        raise ValueError(f"argument(s) {', '.join(map(str, missing))} do not occur in the expression {expr}")
    extra = sorted(map(str, free - set(symbols)))
    if extra:
        raise ValueError(f"the expression uses {', '.join(extra)}, which is not among the "
                         f"arguments ({', '.join(arg_names)}); add it to --args")
    return expr, symbols


# ---------------------------------------------------------------------- output
def format_table(headers, rows) -> str:
    """A plain-text table: columns padded to their widest cell, a rule under the header."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def _mode_name(mode):
    if mode is not None:
        return mode
    linker = type(get_default_mode().linker).__name__.replace("Linker", "").upper()
    return f"{linker} (default)"


def _ms(seconds):
    return None if seconds is None else f"{seconds * 1e3:.3g}"


def _sci(value):
    return None if value is None else f"{value:.1e}"


def _secs(seconds):
    return None if seconds is None else f"{seconds:.2f}"


# ---------------------------------------------------------------------- commands
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of :func:`main`."""
    parser = argparse.ArgumentParser(
        prog="sympy-theano",
        description="Compile a SymPy expression with PyTensor; print its graph and operation "
                    "counts; compare values and time with sympy.lambdify(..., 'numpy').",
        epilog='An expression that starts with "-" goes after "--": '
               'sympy-theano --args x -- "-x**2"',
    )
    parser.add_argument("expression", nargs="?", help='a SymPy expression, e.g. "sin(x)**2 + cos(x)"')
    parser.add_argument("--args", nargs="+", default=[], metavar="NAME",
                        help="argument symbols, in call order (space- or comma-separated)")
    parser.add_argument("--grad", action="store_true",
                        help="also compute the derivative with respect to each argument")
    parser.add_argument("--n", type=_positive_int, default=None,
                        help="number of sample points (default 100000); for --example kalman "
                             "the state dimension, with k = n // 2 (default: 200 and 1000)")
    parser.add_argument("--mode", type=str.upper, choices=MODES, default=None,
                        help="PyTensor compilation mode (default: PyTensor's, NUMBA)")
    parser.add_argument("--repeat", type=_positive_int, default=None,
                        help="timing repeats, the best is reported (default 5; 20 for "
                             "--example kalman)")
    parser.add_argument("--example", choices=EXAMPLES,
                        help="print a worked comparison instead (hydrogen: the 2013 article's; "
                             "kalman: the Kalman filter of the matrix-expressions article)")
    return parser


def _sample_inputs(n_args: int, n: int) -> list[np.ndarray]:
    low, high = SAMPLE_RANGE
    rng = np.random.default_rng(0)
    first = np.linspace(low, high, n)
    return [first] + [rng.uniform(low, high, n) for _ in range(n_args - 1)]


def _as_list(values):
    return list(values) if isinstance(values, (list, tuple)) else [values]


def run_expression(expr, symbols, *, grad=False, n=100_000, mode=None, repeat=5, out=print) -> None:
    """Compile, print, count, check and time one expression (the first usage form)."""
    sym_outputs = [expr] + ([sympy.Derivative(expr, s) for s in symbols] if grad else [])
    np_outputs = [expr] + ([sympy.diff(expr, s) for s in symbols] if grad else [])
    dims = dict.fromkeys(symbols, 1)

    start = time.perf_counter()
    f = theano_function(symbols, sym_outputs, dims=dims, mode=mode)
    inputs = _sample_inputs(len(symbols), n)
    values = _as_list(f(*inputs))
    setup = time.perf_counter() - start

    g, reference, np_setup, np_name = _numpy_reference(symbols, np_outputs, inputs)

    printed = theano_code(sym_outputs, cache={}, broadcastables={s: (False,) for s in symbols})
    counts = count_ops(printed, mode=mode)
    fn = f.theano_function

    out(f"expression : {expr}")
    if grad:
        out(f"outputs    : the expression and its derivative(s) by {', '.join(map(str, symbols))}")
    out(f"arguments  : {', '.join(map(str, symbols))} (float64 arrays of {n} points in "
        f"[{SAMPLE_RANGE[0]}, {SAMPLE_RANGE[1]}])")
    out(f"mode       : {_mode_name(mode)}")
    out("")
    out("Rewritten PyTensor graph (pytensor.dprint of the compiled function):")
    out(pytensor.dprint(fn, file="str").rstrip())
    out("")
    out("Operation counts (see sympy_theano_printer.counting):")
    out(format_table(
        ["graph", "count"],
        [["apply nodes, printed graph (no rewrites)", counts.printed_nodes],
         ["apply nodes after rewrites, fusion excluded", counts.rewritten_nodes],
         ["apply nodes of the compiled function", printed_apply_nodes(f)],
         ["scalar ops in the fused kernel(s) (n-ary add/mul = n-1)", fused_scalar_ops(f)]],
    ))
    out("")
    pt_time = best_time(f, *inputs, repeat=repeat)
    out(f"Values and time on {n} points, best of {repeat}:")
    if g is None:
        out(format_table(
            ["backend", "setup s", "time ms", "max rel. error", "max abs. error"],
            [[f"PyTensor ({_mode_name(mode)})", _secs(setup), _ms(pt_time), "(no reference)", "(no reference)"]],
        ))
        out(f"(no numpy reference: sympy.lambdify cannot print this expression for numpy or scipy: {np_name})")
        return
    np_time = best_time(g, *inputs, repeat=repeat)
    error = max_relative_error(values, reference)
    abs_error = max(float(np.max(np.abs(np.subtract(v, r)), initial=0.0)) for v, r in zip(values, reference))
    out(format_table(
        ["backend", "setup s", "time ms", "max rel. error", "max abs. error"],
        [[f"PyTensor ({_mode_name(mode)})", _secs(setup), _ms(pt_time), _sci(error), _sci(abs_error)],
         [f'sympy.lambdify(..., {np_name})', _secs(np_setup), _ms(np_time), "(reference)", "(reference)"]],
    ))
    out(f"PyTensor / numpy time: {pt_time / np_time:.2f}")


def _numpy_reference(symbols, outputs, inputs):
    """``(function, values, setup seconds, modules)`` of SymPy's NumPy lambdify, SciPy added if needed.

    When neither ``"numpy"`` nor ``["scipy", "numpy"]`` can compute the
    outputs (a function SymPy prints for neither), the function and values are
    ``None`` and the last item is the error message instead.
    """
    problem = ""
    for modules in ("numpy", ["scipy", "numpy"]):
        start = time.perf_counter()
        try:
            g = sympy.lambdify(symbols, outputs, modules)
            with np.errstate(all="ignore"):
                values = _as_list(g(*inputs))
        except (NameError, TypeError, AttributeError, ImportError) as err:
            problem = f"{type(err).__name__}: {err}"
            continue
        return g, values, time.perf_counter() - start, repr(modules)
    return None, None, 0.0, problem


def run_hydrogen(*, n=100_000, mode=None, repeat=5, out=print) -> None:
    """Print the 2013 article's hydrogen comparison with today's figures."""
    rows = hydrogen_comparison(n=n, repeat=repeat, mode=mode)
    out("R_nl(6, 2, x, 6) and its derivative, computed together")
    out('(M. Rocklin, "SymPy and Theano -- scalar simplification", 2013)')
    out("")
    out(format_table(
        ["route", "article", "nodes", "scalar ops", "rel. error", "setup s", "time ms"],
        [[r.route, r.article, r.apply_nodes, r.scalar_ops, _sci(r.max_rel_error),
          _secs(r.setup_seconds), _ms(r.seconds)] for r in rows],
    ))
    points = ", ".join(f"{p:g}" for p in SAMPLE_POINTS)
    out("")
    out("article     apply nodes in the 2013 article (Theano, scalar x)")
    out("nodes       apply nodes today, scalar x: after PyTensor's rewrites with fusion")
    out("            excluded; as printed (no rewrites) for SymPy alone")
    out("scalar ops  scalar operations in the fused kernel, an n-ary add/mul counted n-1;")
    out("            every element-wise node of the printed graph for SymPy alone")
    out(f"rel. error  max relative error of e and de/dx at x = {points}")
    out("            against mpmath (closed form with Laguerre polynomials, 30 digits)")
    out("setup s     printing + compilation + first call (optimize=True: plus SymPy's")
    out("            rewriting and the PyTensor counts of its candidate forms)")
    out(f"time ms     one evaluation of both on a float64 array of {n} points in "
        f"[{SAMPLE_RANGE[0]}, {SAMPLE_RANGE[1]}], best of {repeat}")
    out(f"mode        {_mode_name(mode)}")
    vector = {r.route: r for r in hydrogen_rows(mode=mode, ndim=1)}
    changed = [f"{r.route} {vector[r.route].apply_nodes} nodes / {vector[r.route].scalar_ops} ops"
               for r in rows if r.route in vector
               and (vector[r.route].apply_nodes, vector[r.route].scalar_ops) != (r.apply_nodes, r.scalar_ops)]
    if changed:
        out("")
        out(textwrap.fill(
            "With a 1-d x (as in the timed functions) the counts are: " + "; ".join(changed)
            + ". (The printer differentiates a 1-d x in forward mode, with pushforward, not "
            "with pytensor.grad, and the printed graph carries one DimShuffle per broadcast "
            "constant.)", width=88))


def run_kalman(*, sizes=KALMAN_SIZES, mode=None, repeat=KALMAN_REPEAT, out=print) -> None:
    """Print the Kalman filter comparison (:func:`.examples.kalman_comparison`) and the
    blocked round-off check (:func:`.examples.kalman_roundoff`) at the largest size."""
    rows = kalman_comparison(sizes, repeat=repeat, mode=mode)
    out("Kalman filter update: new mu and Sigma from mu, Sigma, H, R, data")
    out('(M. Rocklin, "SymPy and Theano -- Matrix Expressions", 2013)')
    out("")
    plain = {(r.n, r.k): r.seconds for r in rows if r.variant == "plain"}
    out(format_table(
        ["n", "k", "variant", "setup s", "time ms", "plain / this", "max rel. diff"],
        [[r.n, r.k, _KALMAN_LABELS[r.variant], _secs(r.setup_seconds), _ms(r.seconds),
          f"{plain[r.n, r.k] / r.seconds:.2f}", _sci(r.difference)] for r in rows],
    ))
    out("")
    out("plain          theano_function of the update, no facts: LU solves (no inverse)")
    out("assumptions    the same with assumptions=Q.positive_definite(Sigma) &")
    out("               Q.positive_definite(R) & Q.fullrank(H): Cholesky, one triangular")
    out("               solve for the covariance")
    out("blocked        blockcut into 2 x 2 blocks + block_collapse, no facts")
    out("numpy, scipy   hand-written: numpy.linalg.solve; scipy.linalg.cho_factor/cho_solve")
    out("setup s        SymPy work, printing and compilation")
    out(f"time ms        one update, best of {repeat}, the variants called in turn")
    out("max rel. diff  largest max|a - b| / max|b| of the outputs against every other row")
    out(f"mode           {_mode_name(mode)}; data: Sigma, R symmetric positive definite,")
    out("               H standard normal / sqrt(n), seed 0")
    out(f"BLAS           {_blas_note()}")
    out("")
    for n, k in sizes:
        t = {r.variant: r.seconds for r in rows if (r.n, r.k) == (n, k)}
        speedup = t["plain"] / t["assumptions"]
        versus = t["assumptions"] / t["scipy"]
        line = (f"n = {n}, k = {k}: assumptions {speedup:.2f}x faster than plain; "
                f"its time / SciPy's {versus:.2f}")
        if (n, k) == KALMAN_SIZES[-1]:  # the targets are set at the article's size
            line += (f" (targets >= 1.5: {'met' if speedup >= 1.5 else 'NOT met'}, "
                     f"<= 1: {'met' if versus <= 1 else 'NOT met'})")
        out(line)
    n, k = sizes[-1]
    out("")
    out(f"Blocked against unblocked round-off, n = {n}, k = {k}:")
    report = kalman_roundoff(n, k, mode=mode)
    out(format_table(
        ["data", "cond(S)", "plain", "blocked", "blocked, explicit inverses"],
        [[kind, _sci(v["cond_S"]), _sci(v["plain_vs_numpy"]), _sci(v["blocked_vs_numpy"]),
          _sci(v["inverses_vs_numpy"])] for kind, v in report.items()],
    ))
    out(textwrap.fill(
        "Max rel. diff from an unblocked NumPy LU solve. S = R + H Sigma H^T. covariance: the "
        "benchmark's data. uniform: every entry uniform in [0, 1), so Sigma is no covariance "
        "and S is ill conditioned. block_collapse inverts S by the 2 x 2 block formula "
        "(Schur complement of the leading block), whose terms cancel: evaluated with explicit "
        "block inverses, as Theano's MatrixInverse did for the article (last column, NumPy), "
        "the cancellation amplifies the inverses' errors. The printer turns every inverse "
        "that feeds a product into a solve, so its blocked update stays close to the "
        "unblocked one.", width=88))


def _blas_note() -> str:
    """Which OpenBLAS builds NumPy and SciPy (hence PyTensor's Numba back end) use, and threads."""
    import os

    import scipy

    def version(module):
        try:
            blas = module.__config__.CONFIG["Build Dependencies"]["blas"]
            return f"{blas.get('name', '?')} {blas.get('version', '?')}"
        except (AttributeError, KeyError, TypeError):
            return "?"

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    return (f"numpy: {version(np)}; scipy and PyTensor (Numba): {version(scipy)}; "
            f"OPENBLAS_NUM_THREADS={threads}")


_KALMAN_LABELS = {"plain": "plain", "assumptions": "assumptions", "blocked": "blocked",
                  "numpy": "numpy (hand-written)", "scipy": "scipy (hand-written)"}


def main(argv=None) -> int:
    """Entry point of ``sympy-theano`` and ``python -m sympy_theano_printer``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    SystemExit
        Code 2 with an ``argparse``-style message on a usage error (see the
        module docstring); code 0 for ``--help``.
    """
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.mode == "JAX" and importlib.util.find_spec("jax") is None:
        parser.error("--mode JAX needs JAX: pip install jax jaxlib")
    if ns.example:
        if ns.expression is not None or ns.args or ns.grad:
            parser.error("--example takes no expression, --args or --grad")
        if ns.example == "kalman":
            if ns.n is not None and ns.n < 2:
                parser.error("for --example kalman, --n is the state dimension n (k = n // 2) "
                             "and must be at least 2")
            sizes = KALMAN_SIZES if ns.n is None else ((ns.n, ns.n // 2),)
            run_kalman(sizes=sizes, mode=ns.mode,
                       repeat=KALMAN_REPEAT if ns.repeat is None else ns.repeat)
            return 0
        run_hydrogen(n=DEFAULT_N if ns.n is None else ns.n, mode=ns.mode,
                     repeat=DEFAULT_REPEAT if ns.repeat is None else ns.repeat)
        return 0
    if ns.expression is None:
        parser.error("give an expression, before --args (after '--' if it starts with '-'), "
                     "or --example hydrogen or --example kalman")
    try:
        expr, symbols = parse_expression(ns.expression, ns.args)
    except ValueError as err:
        parser.error(str(err))
    try:
        run_expression(expr, symbols, grad=ns.grad, n=DEFAULT_N if ns.n is None else ns.n,
                       mode=ns.mode, repeat=DEFAULT_REPEAT if ns.repeat is None else ns.repeat)
    except (UnsupportedExpressionError, ShapeError) as err:
        parser.error(str(err))
    return 0
