"""Property tests: compiled values and gradients against mpmath at 30 digits, on every CPU back end.

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
* the references themselves: the 30-digit evaluator against SymPy's ``evalf``.

Tolerance: ``|computed - reference| <= MARGIN * B + 1 rounding``, where ``B``
is the expression's first-order rounding-error bound in the dtype (the
condition estimate of the expression as the printer computes it, with the
per-operation errors of ``tests/test_mapping.py``'s families); gradients add
an absolute floor for the cancellations inside PyTensor's derivative
formulas.  The derivation is in :mod:`properties.reference`.

Cost: a compile is 0.2-1.5 s, so one hypothesis example compiles one
function for a batch of expressions (each with its own vector inputs, see
:mod:`properties.harness`), and the compiled back ends run few examples
while FAST_COMPILE runs many.  Example counts are those of the ``ci``
profile (``tests/conftest.py``); ``HYPOTHESIS_PROFILE=long`` multiplies them by 20.

A failure prints a reproduction (the failing expression alone, as
``srepr`` under ``evaluate(False)``, with its input arrays) and hypothesis's
``@reproduce_failure`` blob.  The ``ci`` profile shrinks only the
FAST_COMPILE tests (a shrink step on a compiling back end costs a compile);
``HYPOTHESIS_PROFILE=long`` shrinks everything.  Once shrunk and understood,
a failure becomes a plain test in the "regressions" section at the end of
this file.
"""
from __future__ import annotations


import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import event, given, settings
from hypothesis import strategies as st

from properties import harness
from properties.expressions import (
    COVERED,
    NOT_GENERATED,
    batches,
    boolean_expressions,
    cases,
    gradient_cases,
)
from properties.reference import DPS
from sympy_theano_printer import MAPPING, theano_function

DTYPES = ("float64", "float32")
COMPILED = ("NUMBA", "CVM", "JAX")

#: Examples per test in the ``ci`` profile (see ``harness.examples``).
BREADTH_EXAMPLES = 100
COMPILED_EXAMPLES = 4
GRADIENT_EXAMPLES = 40
COMPILED_GRADIENT_EXAMPLES = 2
REFERENCE_EXAMPLES = 30


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

    assert {"ci", "long"} <= set(HYPOTHESIS_PROFILES)
    assert HYPOTHESIS_PROFILES["ci"]["derandomize"] is True
    assert HYPOTHESIS_PROFILES["ci"]["deadline"] is None


def test_bound_covers_an_ill_conditioned_case():
    """The bound follows the conditioning: ``acos(x)`` near 1 through ``asec(1/x)``'s rounded reciprocal."""
    from properties.expressions import analyse

    x = sp.Symbol("x", real=True)
    near_one = float(np.float64(1) + 2**-40)
    loose = analyse(sp.asec(x), (x,), (near_one,), "float64")
    tight = analyse(sp.asec(x), (x,), (3.0,), "float64")
    assert loose.bound / abs(float(loose.value)) > 1e3 * tight.bound / abs(float(tight.value))
    assert analyse(sp.log(x), (x,), (-1.0,), "float64") is None  # outside the domain


# ---------------------------------------------------------------------------- regressions
# Failing examples found by the properties above, shrunk, as plain tests.
