"""Property tests: random SymPy expressions, compiled every way the package offers, against mpmath at 30 digits.

What is checked, for random expressions over everything the printer supports
on the real line (:mod:`properties.expressions`) at random points inside their
domain, in float64 and float32:

* the value, printed and compiled by :func:`theano_function`, on every
  installed CPU back end: FAST_COMPILE (Python, cheap to compile: the breadth
  run), NUMBA, CVM (C) and JAX (skipped with the reason where it is not
  installed); boolean outputs (relations and logic) exactly, where no
  rounding error can flip them;
* the gradient, both routes: the printer's ``Derivative`` and PyTensor's
  reverse mode (``pytensor.grad``), against ``sympy.diff`` evaluated by mpmath;
* ``sympy.lambdify(..., 'theano')`` (the element-wise Numba kernel, and the
  PyTensor route with ``mode=``) against the reference, and SymPy's own
  ``lambdify(..., 'mpmath')`` at 30 digits against the same reference;
* a :func:`ufuncify` ufunc called on inputs broadcast over a grid against the
  same ufunc called element by element on scalars (bit for bit), and its
  values on the grid's diagonal (the drawn rows) against the reference;
* matrix expressions (``MatAdd``/``MatMul``/``Transpose``/``Inverse``/``MatPow``
  trees, :mod:`properties.matrices`) against mpmath matrices at 30 digits,
  with NumPy's float64 evaluation held to the same bound;
* :func:`~sympy_theano_printer.expand.expand_compute`: the rewritten tree has
  the value of the original (30-digit references agree), and compiles to it;
* the references themselves: the 30-digit evaluator against SymPy's ``evalf``.

Tolerance: ``|computed - reference| <= MARGIN * B + 1 rounding``, where ``B``
is the expression's first-order rounding-error bound in the dtype (the
condition estimate of the expression as the printer computes it, with the
per-operation errors of ``tests/test_mapping.py``'s families); gradients add
an absolute floor for the cancellations inside PyTensor's derivative
formulas.  The derivation is in :mod:`properties.reference` (matrices:
:mod:`properties.matrices`).

Cost: a compile is 0.2-1.5 s, so one hypothesis example compiles one
function for a batch of expressions (each with its own vector inputs, see
:mod:`properties.harness`), and the compiled back ends run few examples
while FAST_COMPILE runs many.  The example counts written below are those of
the ``deep`` profile; the ``ci`` profile (the default, ``tests/conftest.py``)
runs ``CI_MAX_EXAMPLES / DEEP_MAX_EXAMPLES`` of each (at least one), which
keeps this file to a few minutes of the suite; ``HYPOTHESIS_PROFILE=deep``
(the same deterministic properties with 5 times the examples) and
``HYPOTHESIS_PROFILE=long`` (20 times ``deep``'s, random, shrunk) are the
deep runs.

Determinism: ``ci`` and ``deep`` derandomize (the examples are a function of
each test's source), keep no example database, and every reference is a
pure function of its expression and row, so a run gives the same verdicts in
any order and under any ``PYTHONHASHSEED``.

A failure prints a reproduction (the failing expression alone, as
``srepr`` under ``evaluate(False)``, with its input arrays) and hypothesis's
``@reproduce_failure`` blob.  The deterministic profiles shrink only the
FAST_COMPILE tests (a shrink step on a compiling back end costs a compile);
``HYPOTHESIS_PROFILE=long`` shrinks everything.  Once shrunk and understood,
a failure becomes a plain test in ``tests/test_property_regressions.py``.
"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from properties import harness
from properties.expressions import (
    COVERED,
    NOT_GENERATED,
    analyse,
    batches,
    boolean_expressions,
    cases,
    compute_patterns,
    gradient_cases,
)
from properties.matrices import assert_matrix_close, evaluate, matrix_cases
from properties.reference import DPS
from sympy_theano_printer import MAPPING, theano_function, ufuncify
from sympy_theano_printer.expand import expand_compute

DTYPES = ("float64", "float32")
COMPILED = ("NUMBA", "CVM", "JAX")

#: Examples per test in the ``deep`` profile (``ci`` runs a share of them: ``harness.examples``).
BREADTH_EXAMPLES = 100
COMPILED_EXAMPLES = 4
GRADIENT_EXAMPLES = 40
COMPILED_GRADIENT_EXAMPLES = 2
REFERENCE_EXAMPLES = 30
LAMBDIFY_EXAMPLES = 30
LAMBDIFY_KERNEL_EXAMPLES = 2
MPMATH_LAMBDIFY_EXAMPLES = 60
UFUNC_EXAMPLES = 2
MATRIX_EXAMPLES = 25
EXPAND_EXAMPLES = 30
COMPILED_MATRIX_EXAMPLES = 2


def mixed_cases(dtype):
    """Real-valued cases, and now and then a boolean one (relations and logic as outputs)."""
    return st.one_of(cases(dtype), cases(dtype), cases(dtype), cases(dtype, boolean_expressions()))


def _values_property(mode, dtype, data, min_size, max_size):
    batch = data.draw(batches(mixed_cases(dtype), min_size, max_size), label="batch")
    outputs = harness.run_values(batch, mode)
    compared = harness.check_values(batch, outputs, mode)
    event("rows compared", compared)
    return compared


def _gradient_property(mode, dtype, data, min_size, max_size):
    batch = data.draw(batches(gradient_cases(dtype), min_size, max_size), label="batch")
    results = harness.run_gradients(batch, mode)
    compared = harness.check_gradients(batch, results, mode)
    event("derivative rows compared", compared)


# ---------------------------------------------------------------------------- values
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=harness.examples(BREADTH_EXAMPLES))
@given(data=st.data())
def test_values_fast_compile(dtype, data):
    """Breadth: many batches on the Python back end, which compiles in ~0.1 s."""
    _values_property("FAST_COMPILE", dtype, data, 1, 8)


@pytest.mark.slow
@pytest.mark.parametrize("mode", harness.backend_params(COMPILED))
@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(COMPILED_EXAMPLES)
@given(data=st.data())
def test_values_compiled_backends(mode, dtype, data):
    """Few, large batches on the back ends that compile (NUMBA, C, JAX)."""
    _values_property(mode, dtype, data, 6, 10)


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=harness.examples(GRADIENT_EXAMPLES))
@given(data=st.data())
def test_gradient_fast_compile(dtype, data):
    """``Derivative`` and ``pytensor.grad`` against ``sympy.diff`` at 30 digits (breadth)."""
    _gradient_property("FAST_COMPILE", dtype, data, 1, 5)


@pytest.mark.slow
@pytest.mark.parametrize("mode", harness.backend_params(COMPILED))
@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(COMPILED_GRADIENT_EXAMPLES)
@given(data=st.data())
def test_gradient_compiled_backends(mode, dtype, data):
    _gradient_property(mode, dtype, data, 4, 6)


# ---------------------------------------------------------------------------- lambdify
def _lambdify_property(dtype, data, min_size, max_size, **options):
    """``sympy.lambdify(inputs, outputs, 'theano', **options)`` of a batch against the references."""
    batch = data.draw(batches(mixed_cases(dtype), min_size, max_size), label="batch")
    named, inputs, arrays, _ = harness._inputs(batch)
    f = sp.lambdify(inputs, [e for _, e in named], "theano", **options)
    if hasattr(f, "wait_compiled"):
        f.wait_compiled()  # the element-wise kernel, not the Python stand-in used while it compiles
    with np.errstate(all="ignore"):
        outputs = f(*arrays)
    assert len(outputs) == len(batch)
    label = "lambdify(..., 'theano'" + "".join(f", {k}={v!r}" for k, v in options.items()) + ")"
    event("rows compared", harness.check_values(batch, outputs, label))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=harness.examples(LAMBDIFY_EXAMPLES))
@given(data=st.data())
def test_lambdify_pytensor_route(dtype, data):
    """``lambdify(..., 'theano', mode='FAST_COMPILE')``: argument handling and the PyTensor route (breadth)."""
    _lambdify_property(dtype, data, 1, 6, mode="FAST_COMPILE")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(LAMBDIFY_KERNEL_EXAMPLES)
@given(data=st.data())
def test_lambdify_elementwise_kernel(dtype, data):
    """``lambdify(..., 'theano')`` on its default route: one fused Numba kernel per group of outputs."""
    _lambdify_property(dtype, data, 1, 3)


@settings(max_examples=harness.examples(MPMATH_LAMBDIFY_EXAMPLES))
@given(case=st.one_of(cases("float64"), cases("float64", boolean_expressions())))
def test_mpmath_lambdify_agrees_with_the_reference(case):
    """SymPy's ``lambdify(..., 'mpmath')`` at 30 digits gives the reference value (20 digits).

    So the compiled functions above are held to what ``lambdify(..., 'mpmath')``
    computes, at the well-conditioned rows (where 30 digits resolve the value
    to 20; elsewhere no fixed precision does, see
    :func:`test_reference_agrees_with_sympy_evalf`).  SymPy's mpmath printer
    writes ``acot(x)`` as ``atan(1/x)``, which raises ``ZeroDivisionError`` at
    ``x = 0`` (SymPy: ``acot(0) = pi/2``); such rows are skipped, only there.
    mpmath's ``coth`` of a tiny argument divides by a ``tanh`` that came out 0
    at 30 digits: a ``ZeroDivisionError`` is retried at 300 digits first.  A
    complex result with an imaginary part below ``10**(5 - DPS)`` of it (mpmath's
    ``coth`` again) counts as its real part.  SymPy prints some functions by
    name (``exp2``, ``trigamma``) where mpmath has no function of that name
    (``NameError``), and ``betainc_regularized`` as mpmath's *unregularized*
    ``betainc`` (``test_sympy_mpmath_lambdify_of_betainc_regularized``): such
    expressions are skipped, only those.
    """
    assume(not case.expr.has(sp.betainc_regularized))
    f = sp.lambdify(case.symbols, case.expr, "mpmath")
    for row, analysis in zip(case.rows, case.analyses):
        args = [mpmath.mpf(v) for v in row]
        with mpmath.workdps(DPS):
            try:
                try:
                    value = f(*args)
                except ZeroDivisionError:
                    with mpmath.workdps(10 * DPS):
                        value = f(*args)
                    event("ZeroDivisionError at 30 digits, a value at 300")
            except NameError as err:
                # SymPy's mpmath printer prints some functions (exp2, trigamma) by name only
                functions = {type(f).__name__ for f in case.expr.atoms(sp.Function)}
                assert err.name in functions and not hasattr(mpmath, err.name), \
                    f"{case.expr}: lambdify(..., 'mpmath') raised {err}"
                event(f"{err.name} unknown to lambdify(..., 'mpmath')")
                return
            except ZeroDivisionError:
                inner = [sp.lambdify(case.symbols, a.args[0], "mpmath")(*args) for a in case.expr.atoms(sp.acot)]
                assert any(a == 0 for a in inner), f"{case.expr} at {row}: ZeroDivisionError"
                event("acot(0) in lambdify(..., 'mpmath')")
                continue
            if case.is_boolean:
                if analysis.bound == 0:
                    assert bool(value) == analysis.value, (case, row)
                continue
            if not analysis.bound <= 1e-10 * (1 + abs(analysis.value)):
                continue
            if isinstance(value, mpmath.mpc):
                assert abs(value.imag) <= mpmath.mpf(10) ** (5 - DPS) * (1 + abs(value.real)), \
                    f"{case.expr} at {row}: lambdify(..., 'mpmath') {value}, reference {analysis.value}"
                value = value.real
            assert mpmath.almosteq(mpmath.mpf(value), analysis.value, rel_eps=1e-20, abs_eps=1e-25), \
                f"{case.expr} at {row}: lambdify(..., 'mpmath') {value}, reference {analysis.value}"


@pytest.mark.xfail(strict=True, reason="SymPy 1.14's lambdify(..., 'mpmath') maps betainc_regularized to "
                                       "mpmath.betainc without regularized=True")
def test_sympy_mpmath_lambdify_of_betainc_regularized():
    """SymPy's ``lambdify(..., 'mpmath')`` of ``betainc_regularized(1/2, 1, 0, 1)`` should be 1, not B(1/2, 1) = 2.

    A SymPy defect (found by :func:`test_mpmath_lambdify_agrees_with_the_reference`);
    strict, so the skip above goes once SymPy is fixed.
    """
    a, b = sp.symbols("a b", real=True)
    f = sp.lambdify([a, b], sp.betainc_regularized(sp.S.Half, a, 0, b), "mpmath")
    assert f(mpmath.mpf(1), mpmath.mpf(1)) == pytest.approx(1.0)


# ---------------------------------------------------------------------------- ufuncify
@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(UFUNC_EXAMPLES)
@given(data=st.data())
def test_ufuncify_broadcasts_like_an_elementwise_loop(dtype, data):
    """One ufunc for a batch; inputs spread over the axes of a grid; every element as a scalar call.

    Input ``i`` (the case's rows cycled to a common length ``n``) lies along
    axis ``axes[i]`` of an ``(n,) * d`` grid, so NumPy broadcasts them; each
    output must equal, bit for bit, the ufunc called on the scalars of each
    grid point, and on the diagonal (every input at the same row) the reference.
    """
    batch = data.draw(batches(cases(dtype), 1, 4), label="batch")
    named, inputs, _, _ = harness._inputs(batch)
    ufunc = ufuncify(inputs, [e for _, e in named])
    assert isinstance(ufunc, np.ufunc) and (ufunc.nin, ufunc.nout) == (len(inputs), len(batch))
    arrays, n = harness.padded_arrays(batch)
    axes = data.draw(st.lists(st.integers(0, 2), min_size=len(inputs), max_size=len(inputs)), label="axes")
    shapes, grid = harness.broadcast_shapes(axes, n)
    placed = [a.reshape(s) for a, s in zip(arrays, shapes)]
    with np.errstate(all="ignore"):
        outputs = ufunc(*placed)
        outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
        looped = harness.loop_over_grid(ufunc, placed, grid)
    diagonal = tuple(np.arange(n) for _ in grid)
    for case, (_, expr), out, loop in zip(batch, named, outputs, looped):
        assert out.shape == grid and out.dtype == np.dtype(dtype), (expr, out.shape, out.dtype)
        np.testing.assert_array_equal(out, loop, err_msg=f"ufuncify({expr}) on {shapes} vs scalar calls")
        rows = harness.padded_case(case, n)
        harness.assert_rows(rows, out[diagonal], rows.analyses, f"ufuncify({case.symbols}, {expr}) at {rows!r}")


# ---------------------------------------------------------------------------- matrices
def _matrix_property(mode, dtype, data):
    case = data.draw(matrix_cases(dtype), label="matrices")
    try:
        memo: dict = {}
        references = [evaluate(e, case.values, memo) for e in case.exprs]
    except ZeroDivisionError:  # cannot happen for the matrices drawn; say so if it does
        raise AssertionError(f"a singular matrix was drawn: {case}") from None
    f = theano_function(list(case.symbols), list(case.exprs), dtypes={s: case.dtype for s in case.symbols},
                        mode=mode, on_unused_input="ignore")
    outputs = f(*case.arrays())
    outputs = [outputs] if len(case.exprs) == 1 else outputs
    for expr, out, ref in zip(case.exprs, outputs, references):
        assert_matrix_close(out, ref, dtype, f"{mode}: {expr} with {case}")
        assert_matrix_close(ref.numpy, ref, "float64", f"NumPy float64: {expr} with {case}")


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=harness.examples(MATRIX_EXAMPLES))
@given(data=st.data())
def test_matrix_expressions_fast_compile(dtype, data):
    """Matrix trees against mpmath matrices (and NumPy held to the same bound), breadth."""
    _matrix_property("FAST_COMPILE", dtype, data)


@pytest.mark.slow
@pytest.mark.parametrize("mode", harness.backend_params(COMPILED))
@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(COMPILED_MATRIX_EXAMPLES)
@given(data=st.data())
def test_matrix_expressions_compiled_backends(mode, dtype, data):
    _matrix_property(mode, dtype, data)


# ---------------------------------------------------------------------------- expand_compute
def _well_conditioned(analysis):
    return analysis.bound <= 1e-10 * (1 + abs(analysis.value))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=harness.examples(EXPAND_EXAMPLES))
@given(data=st.data())
def test_expand_compute_keeps_the_value(dtype, data):
    """``expand_compute(expr)`` has the value of ``expr``, and compiles to it within its own bound.

    The expressions are sums and products of subtrees shaped like the rules'
    left sides (``log(1 + a)``, ``exp(a) - 1``, ``sqrt(a**2 + b**2)``,
    ``binomial``...: ``properties.expressions.compute_patterns``) and random
    ones.  At each row the two 30-digit references agree to 20 digits (where
    30 digits resolve them); the rewritten batch, compiled with FAST_COMPILE,
    is within the bound of the rewritten tree.  A row where the rewritten tree
    is outside its domain (an intermediate out of the dtype's range) is not
    compared.
    """
    strategy = st.one_of(cases(dtype, compute_patterns()), cases(dtype, compute_patterns()), cases(dtype))
    batch = data.draw(batches(strategy, 1, 6), label="batch")
    # SymPy's log1p_opt fails on a two-argument log: test_regression_expand_compute_of_a_two_argument_log
    assume(not any(e.has(sp.log) and any(len(n.args) == 2 for n in e.atoms(sp.log)) for e in
                   (c.expr for c in batch)))
    rewritten = []
    for case in batch:
        new = expand_compute(case.expr)
        # a new Piecewise may hold conditions the printer cannot compile yet:
        # test_regression_piecewise_condition_with_a_restricted_domain
        assume(case.expr.has(sp.Piecewise) or not new.has(sp.Piecewise))
        for row, before in zip(case.rows, case.analyses):
            after = analyse(new, case.symbols, row, dtype)
            if after is None:
                event("a row outside the rewritten tree's domain")
                continue
            if _well_conditioned(before) and _well_conditioned(after):
                with mpmath.workdps(DPS):
                    assert mpmath.almosteq(before.value, after.value, rel_eps=1e-20, abs_eps=1e-25), \
                        f"expand_compute({case.expr}) = {new} at {row}: {after.value} != {before.value}"
        event("rewritten" if new != case.expr else "unchanged")
        rewritten.append(case.with_expr(new))
    rewritten = [c for c in rewritten if c.rows]
    if rewritten:
        outputs = harness.run_values(rewritten, "FAST_COMPILE")
        harness.check_values(rewritten, outputs, "FAST_COMPILE, expand_compute")


# ---------------------------------------------------------------------------- the kit itself
@settings(max_examples=harness.examples(REFERENCE_EXAMPLES))
@given(case=cases("float64"))
def test_reference_agrees_with_sympy_evalf(case):
    """The 30-digit evaluator has SymPy's conventions: it agrees with ``evalf`` at the well-conditioned rows.

    (Where a relative error of 1e-30 in an intermediate moves the result by
    more than 1e-10, neither a fixed-precision reference nor the dtype can
    resolve the value, and the value checks accept anything finite within
    the bound there anyway.)
    """
    # a SymPy Float of 15 digits is exact to its 53 bits for the printer and the reference,
    # but evalf extends it as a 15-digit decimal
    rel = 1e-13 if case.expr.atoms(sp.Float) else 1e-20
    for row, analysis in zip(case.rows, case.analyses):
        if not analysis.bound <= 1e-10 * (1 + abs(analysis.value)):
            continue  # ill-conditioned: no fixed precision resolves frac(exp(150)) or sin(1e60)
        exact = {s: sp.Rational(v) for s, v in zip(case.symbols, row)}
        try:
            value = case.expr.xreplace(exact)
            if isinstance(value, sp.Expr):
                value = value.evalf(DPS)
        except (TypeError, ValueError):  # SymPy cannot decide a relation between huge exact numbers
            continue
        if isinstance(value, sp.Expr):
            assert value.is_real, (case, row)
            with mpmath.workdps(DPS):
                assert mpmath.almosteq(mpmath.mpf(value), analysis.value, rel_eps=rel, abs_eps=1e-25), \
                    f"{case.expr} at {row}: SymPy {value}, reference {analysis.value}"
        else:
            assert bool(value) == analysis.value, (case, row)


def test_strategies_cover_the_mapping_table():
    """A new MAPPING entry needs a line in ``properties/expressions.py`` (UNARY, or a binary op).

    Add the function with the domain of its argument (a key of ``GUARDS``; add a
    guard for a new kind of domain), its mpmath counterpart to
    ``REAL_FUNCTIONS`` and its error class to ``error_sources`` in
    ``properties/reference.py``.
    """
    missing = [cls.__name__ for cls in MAPPING if cls not in COVERED and cls not in NOT_GENERATED]
    assert not missing, f"MAPPING entries the property strategies never generate: {missing}"


def test_profiles_are_registered():
    from conftest import HYPOTHESIS_PROFILES

    assert {"ci", "deep", "long"} <= set(HYPOTHESIS_PROFILES)
    assert HYPOTHESIS_PROFILES["ci"]["derandomize"] is True
    assert HYPOTHESIS_PROFILES["ci"]["deadline"] is None
    assert HYPOTHESIS_PROFILES["ci"]["database"] is None


def test_bound_covers_an_ill_conditioned_case():
    """The bound follows the conditioning: ``acos(x)`` near 1 through ``asec(1/x)``'s rounded reciprocal."""
    from properties.expressions import analyse

    x = sp.Symbol("x", real=True)
    near_one = float(np.float64(1) + 2**-40)
    loose = analyse(sp.asec(x), (x,), (near_one,), "float64")
    tight = analyse(sp.asec(x), (x,), (3.0,), "float64")
    assert loose.bound / abs(float(loose.value)) > 1e3 * tight.bound / abs(float(tight.value))
    assert analyse(sp.log(x), (x,), (-1.0,), "float64") is None  # outside the domain


def test_matrix_bound_follows_the_conditioning():
    """The inverse's bound grows with ``|A^-1| |A| |A^-1|``: a nearly singular matrix gets a loose one."""
    a = sp.MatrixSymbol("A2x2", 2, 2)
    well = {a: np.array([[2.0, 0.0], [0.0, 2.0]])}
    ill = {a: np.array([[1.0, 1.0], [1.0, 1.0 + 2.0**-30]])}
    tight = evaluate(a.I, well).bound.max()
    loose = evaluate(a.I, ill).bound.max()
    assert loose > 1e15 * tight
    with mpmath.workdps(DPS):  # and the reference is the inverse to 30 digits
        residual = evaluate(a.I, ill).exact * mpmath.matrix(ill[a].tolist()) - mpmath.eye(2)
        assert mpmath.mnorm(residual, 1) < 1e-18
