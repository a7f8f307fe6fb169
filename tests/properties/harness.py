"""Compiling batches of cases on a back end, and comparing the results with the references.

One compile costs 0.2-1.5 s, so a hypothesis example compiles one function
for a whole batch of cases: case ``k`` gets its own 1-d input symbols
(``x`` becomes ``c{k}_x``, ``dims=1``), and its expression is one output.
The rows of a case are the elements of its input vectors.

:func:`compile_values` goes through :func:`theano_function` (the package's
API).  :func:`compile_gradients` prints the same outputs with
:class:`TheanoPrinter` and compiles, for each case and each of its symbols,
the derivative two ways in one function: the printer's ``Derivative``
(forward mode, ``pushforward``, for 1-d inputs) and PyTensor's reverse mode
(``pytensor.grad`` of the sum of the outputs).
"""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import sympy as sp

from conftest import DEEP_MAX_EXAMPLES, HYPOTHESIS_PROFILE, assert_close_to_reference
from hypothesis import Phase, settings

from sympy_theano_printer import TheanoPrinter, theano_function
from sympy_theano_printer.backend import choose_mode

from .reference import GRADIENT_MARGIN, K_ROUNDED, MARGIN

#: The CPU back ends (PyTensor modes) the properties run on.
CPU_BACKENDS = ("NUMBA", "CVM", "FAST_COMPILE", "JAX")


def backend_unavailable(mode: str):
    """Why PyTensor's ``mode`` cannot run here (a sentence), or None when it can."""
    if mode == "NUMBA" and importlib.util.find_spec("numba") is None:
        return "numba is not installed (the NUMBA mode needs it)"
    if mode in ("CVM", "C") and not pytensor.config.cxx:
        return "no C++ compiler (pytensor.config.cxx is empty), so the C back end is unavailable"
    if mode == "JAX" and importlib.util.find_spec("jax") is None:
        return "jax is not installed: `pip install jax jaxlib` enables PyTensor's JAX back end"
    if mode == "PYTORCH" and importlib.util.find_spec("torch") is None:
        return "torch is not installed: `pip install torch` enables PyTensor's PyTorch back end"
    return None


def backend_params(modes=CPU_BACKENDS):
    """``pytest.param`` per mode, each skipped with its reason where the back end is missing."""
    params = []
    for mode in modes:
        reason = backend_unavailable(mode)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(mode, marks=marks, id=mode))
    return params


def examples(deep_count: int) -> int:
    """``max_examples`` for a test that runs ``deep_count`` examples in the ``deep`` profile.

    Scaled by the profile loaded: ``ci`` runs ``CI_MAX_EXAMPLES /
    DEEP_MAX_EXAMPLES`` of them (at least one), ``long`` 20 times as many.
    """
    return max(1, round(deep_count * settings.default.max_examples / DEEP_MAX_EXAMPLES))


def expensive(deep_count: int) -> settings:
    """Settings for a property whose every example compiles with NUMBA, C, JAX or torch (1-20 s).

    ``examples(deep_count)`` examples; in the deterministic profiles, no shrinking: each
    shrink step would compile again, and a few hundred steps would take the
    run far past its time budget.  The failure message already names the one
    failing expression with a reproduction; the ``long`` profile shrinks.
    """
    phases = list(settings.default.phases)
    if HYPOTHESIS_PROFILE in ("ci", "deep"):
        phases = [p for p in phases if p is not Phase.shrink]
    return settings(max_examples=examples(deep_count), phases=phases)


# ---------------------------------------------------------------------------- compiling
def renamed(cases):
    """Per case, its symbols renamed apart (``c{k}_x``) and its expression over them."""
    out = []
    for k, case in enumerate(cases):
        fresh = tuple(sp.Symbol(f"c{k}_{s.name}", real=True) for s in case.symbols)
        with sp.evaluate(False):  # keep the case's exact tree: Mod(x, x) must not become 0
            out.append((fresh, case.expr.xreplace(dict(zip(case.symbols, fresh)))))
    return out


def _inputs(cases):
    named = renamed(cases)
    inputs = [s for fresh, _ in named for s in fresh]
    arrays = [a for case in cases for a in case.arrays()]
    dtypes = {s: case.dtype for case, (fresh, _) in zip(cases, named) for s in fresh}
    return named, inputs, arrays, dtypes


def compile_values(cases, mode, **kwargs):
    """``(function, input arrays)``: one :func:`theano_function` whose output ``k`` is case ``k``."""
    named, inputs, arrays, dtypes = _inputs(cases)
    fn = theano_function(inputs, [e for _, e in named], dims={s: 1 for s in inputs}, dtypes=dtypes,
                         mode=mode, on_unused_input="ignore", **kwargs)
    return fn, arrays


def run_values(cases, mode, **kwargs):
    """The outputs of the compiled batch, one array per case."""
    fn, arrays = compile_values(cases, mode, **kwargs)
    with np.errstate(all="ignore"):
        out = fn(*arrays)
    return [out] if len(cases) == 1 else list(out)


def compile_gradients(cases, mode):
    """``(function, input arrays, labels)``; outputs: forward then reverse derivative per (case, symbol).

    ``labels[i] = (k, symbol, route)`` names output ``i``: case ``k``, the
    (original) symbol, ``"Derivative"`` or ``"pytensor.grad"``.
    """
    named, inputs, arrays, dtypes = _inputs(cases)
    derivs, labels = [], []
    for k, (case, (fresh, expr)) in enumerate(zip(cases, named)):
        for s, f in zip(case.symbols, fresh):
            derivs.append(sp.Derivative(expr, f))
            labels.append((k, s, "Derivative"))
    printer = TheanoPrinter(cache={})
    exprs = [e for _, e in named]
    printed = printer.doprint_many(inputs + exprs + derivs, dtypes, {s: (False,) for s in inputs})
    tin = printed[: len(inputs)]
    touts = printed[len(inputs): len(inputs) + len(exprs)]
    forward = printed[len(inputs) + len(exprs):]
    total = pt.add(*[pt.sum(o) for o in touts])
    reverse = pytensor.grad(total, tin, disconnected_inputs="ignore")
    position = {s: i for i, s in enumerate(inputs)}
    rev_out = []
    for k, (case, (fresh, _)) in enumerate(zip(cases, named)):
        for s, f in zip(case.symbols, fresh):
            rev_out.append(reverse[position[f]])
            labels.append((k, s, "pytensor.grad"))
    outputs = forward + rev_out
    # the package's mode handling (it leaves out PyTensor rewrites that change values)
    fn = pytensor.function(tin, outputs, mode=choose_mode(outputs, mode), on_unused_input="ignore")
    return fn, arrays, labels


def run_gradients(cases, mode):
    """``[(case index, symbol, route, values)]`` from one compiled gradient function.

    The ``pytensor.grad`` values are cast to the case's dtype: PyTensor gives
    comparisons (``switch`` conditions, ``eq(x, 0)`` in ``Heaviside(x, H0)``,
    the branch test of ``acot``) zero gradients of dtype ``floatX``, so the
    reverse-mode gradient of a float32 graph with a comparison in it is
    float64.  That is PyTensor's behaviour for anyone calling
    ``pytensor.grad`` on a printed graph; the package's own route,
    ``Derivative``, is checked for its dtype.
    """
    fn, arrays, labels = compile_gradients(cases, mode)
    with np.errstate(all="ignore"):
        out = fn(*arrays)
    results = []
    for (k, s, route), v in zip(labels, out):
        v = np.asarray(v)
        if route == "pytensor.grad":
            v = v.astype(cases[k].dtype)
        results.append((k, s, route, v))
    return results


# ---------------------------------------------------------------------------- comparing
def reproduction(case, mode, symbol=None):
    """Python lines that recompute the failing case alone (the tree exactly as drawn)."""
    syms = ", ".join(s.name for s in case.symbols)
    arrays = ", ".join(f"np.array({[r[k] for r in case.rows]!r}, dtype='{case.dtype}')"
                       for k in range(len(case.symbols)))
    what = f"Derivative(e, {symbol})" if symbol is not None else "e"
    dims = ", ".join(f"{s.name}: 1" for s in case.symbols)
    dtypes = ", ".join(f"{s.name}: {case.dtype!r}" for s in case.symbols)
    return (f"from sympy import *; import numpy as np; from sympy_theano_printer import theano_function\n"
            f"  {syms}, = symbols('{syms},', real=True)\n"
            f"  with evaluate(False): e = {sp.srepr(case.expr)}\n"
            f"  theano_function([{syms}], [{what}], dims={{{dims}}}, dtypes={{{dtypes}}}, "
            f"mode={mode!r})({arrays})")


def assert_rows(case, values, analyses, label, margin=MARGIN, dtype=None):
    """Compare ``values`` (one per row) with ``analyses``; returns the number of rows compared.

    A real row passes when ``|value - reference| <= margin * bound`` plus one
    rounding of the reference (:func:`conftest.assert_close_to_reference` with
    ``k = K_ROUNDED`` and ``atol = margin * bound / eps``).  A boolean row is
    compared exactly where no rounding error can flip it (bound 0) and skipped
    elsewhere; so is a real row whose bound is infinite (a shift within the
    rounding error leaves the domain).
    """
    dtype = np.dtype(dtype or ("bool" if case.is_boolean else case.dtype))
    values = np.asarray(values)
    assert values.dtype == dtype, f"{label}: dtype {values.dtype}, expected {dtype}"
    values = np.broadcast_to(values, (len(case.rows),))
    eps = float(np.finfo(case.dtype).eps)
    compared = 0
    for j, (row, a) in enumerate(zip(case.rows, analyses)):
        if not math.isfinite(a.bound) or (dtype == np.bool_ and a.bound > 0):
            continue
        msg = (f"{label}: {case.expr} at {dict(zip(case.symbols, row))} ({case.dtype}): "
               f"reference {mp_str(a.value)}, bound {a.bound:.3g} * margin {margin} + floor {a.floor:.3g}")
        atol = (margin * a.bound + a.floor) / eps
        assert_close_to_reference(values[j: j + 1], [a.value], dtype, k=K_ROUNDED, atol=atol, err_msg=msg)
        compared += 1
    return compared


def mp_str(value):
    return str(value) if isinstance(value, bool) else f"{float(value):.17g}"


def check_values(cases, outputs, mode):
    """Assert every case's output against its references; returns the rows compared."""
    compared = 0
    for case, values in zip(cases, outputs):
        label = f"{mode}: reproduce with\n  {reproduction(case, mode)}\n"
        compared += assert_rows(case, values, case.analyses, label)
    return compared


def check_gradients(cases, results, mode):
    """Assert every derivative output against ``sympy.diff`` evaluated by mpmath."""
    compared = 0
    for k, s, route, values in results:
        case = cases[k]
        d, analyses = case.derivatives[s]
        label = (f"{mode} {route} d/d{s} = {d}: reproduce with\n  {reproduction(case, mode, s)}\n")
        compared += assert_rows(case, values, analyses, label, margin=GRADIENT_MARGIN, dtype=case.dtype)
    return compared


# ---------------------------------------------------------------------------- other routes
def padded_arrays(cases):
    """Per case, its input arrays cycled to the length of the longest case (``n`` rows each).

    Row ``j`` of case ``k`` is its row ``j % len(case.rows)``; returns
    ``(arrays, n)`` with the arrays of all cases in input order.
    """
    n = max(len(c.rows) for c in cases)
    arrays = []
    for case in cases:
        take = [j % len(case.rows) for j in range(n)]
        arrays.extend(a[take] for a in case.arrays())
    return arrays, n


def padded_case(case, n):
    """``case`` with its rows cycled to ``n`` (as :func:`padded_arrays` lays them out)."""
    from dataclasses import replace

    take = [j % len(case.rows) for j in range(n)]
    return replace(case, rows=tuple(case.rows[j] for j in take),
                   analyses=tuple(case.analyses[j] for j in take), derivatives={})


def broadcast_shapes(axes, n):
    """``(shapes, grid)``: input ``i`` lies along one axis of an ``(n,) * d`` grid, every axis used.

    ``axes[i]`` orders the inputs' axes (equal values share one axis; the
    values are renumbered ``0 .. d - 1`` in order).
    """
    used = sorted(set(axes))
    ndim = len(used)
    shapes = [tuple(n if d == used.index(a) else 1 for d in range(ndim)) for a in axes]
    return shapes, (n,) * ndim


def loop_over_grid(ufunc, inputs, shape):
    """``ufunc`` applied element by element (scalar calls) over the broadcast ``inputs``: one array per output."""
    full = np.broadcast_arrays(*inputs)
    outs = None
    for index in np.ndindex(*shape):
        values = ufunc(*[a[index] for a in full])
        values = values if isinstance(values, tuple) else (values,)
        if outs is None:
            outs = [np.empty(shape, dtype=np.asarray(v).dtype) for v in values]
        for o, v in zip(outs, values):
            o[index] = v
    return outs
