"""Shared test helpers.

* :func:`assert_close_to_reference`: compare printed-and-compiled values with a
  high-precision reference, with tolerances expressed in machine epsilons of
  the output dtype (also exposed as the ``close_to_reference`` fixture).
* ``mpmath_dps30``: run a test with ``mpmath.mp.dps = 30`` (restored after).
* Hypothesis profiles (see :data:`HYPOTHESIS_PROFILES`): ``ci``, loaded by
  default, is deterministic and bounded in time; ``deep`` runs the same
  deterministic properties with 5 times the examples; ``long`` is for
  deep random runs:
  ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py``.
"""
from __future__ import annotations

import os

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

#: ``max_examples`` of the ``deep`` profile: the scale of the per-test example counts written in
#: ``tests/test_properties.py``; a test asks for its count through ``properties.harness.examples``,
#: which scales it by the profile loaded (``ci``: CI_MAX_EXAMPLES / DEEP_MAX_EXAMPLES of it).
DEEP_MAX_EXAMPLES = 100
#: ``max_examples`` of the ``ci`` profile, chosen so that ``tests/test_properties.py`` takes about
#: 45 s of the suite on 2 cores with a warm PyTensor cache (``deep``: about 9 minutes; a failure
#: adds the shrinking of the FAST_COMPILE properties, up to 5 minutes).
CI_MAX_EXAMPLES = 20
_SLOW_STRATEGIES = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
# deterministic: the same examples on every run (derandomize, no example database),
# no deadline (a first compile takes a second), the reproduction blob printed on failure,
# no "explain" phase (it re-runs, i.e. re-compiles, the failing example many times)
_DETERMINISTIC = dict(derandomize=True, database=None, deadline=None, print_blob=True,
                      suppress_health_check=_SLOW_STRATEGIES,
                      phases=[p for p in Phase if p is not Phase.explain])
HYPOTHESIS_PROFILES = {
    # the default run and CI: bounded in time, deterministic
    "ci": dict(max_examples=CI_MAX_EXAMPLES, **_DETERMINISTIC),
    # the same deterministic properties with 5x the examples (4x for the compiled back ends)
    "deep": dict(max_examples=DEEP_MAX_EXAMPLES, **_DETERMINISTIC),
    # deep runs: 20x deep's examples, random, failures kept in the local example database, shrunk
    "long": dict(max_examples=20 * DEEP_MAX_EXAMPLES, deadline=None, print_blob=True,
                 suppress_health_check=_SLOW_STRATEGIES),
}
for _name, _options in HYPOTHESIS_PROFILES.items():
    settings.register_profile(_name, **_options)
#: The profile loaded for this run (``HYPOTHESIS_PROFILE``, default ``ci``).
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(HYPOTHESIS_PROFILE)


def assert_close_to_reference(values, reference, dtype, k=4.0, atol=0.0, err_msg=""):
    """Assert that ``values`` has dtype ``dtype`` and matches ``reference``.

    Parameters
    ----------
    values : array_like
        What the compiled function returned.
    reference : sequence
        Reference values (Python/mpmath numbers, ``bool``, ``int`` or complex);
        they are rounded to ``dtype`` before the comparison, so a reference
        that overflows or underflows the dtype compares as the IEEE value the
        dtype can hold.
    dtype : str or numpy dtype
        The dtype ``values`` must have.
    k : float
        Relative tolerance in units of ``np.finfo(dtype).eps`` (floats only).
        Results in the subnormal range carry fewer significant bits, so an
        absolute error of ``k`` subnormal ulps (``k * smallest_subnormal``) is
        also accepted; that is far below every normal number, so a result
        flushed to 0 instead of a normal value still fails.
    atol : float
        Absolute tolerance in units of ``np.finfo(dtype).eps``; use it only
        near zeros of the function, where a relative tolerance is meaningless.
    err_msg : str
        Prepended to the failure message.

    Integer and boolean dtypes are compared exactly.  For floats, NaN must match
    NaN and infinities must match infinities of the same sign.
    """
    values = np.asarray(values)
    dtype = np.dtype(dtype)
    assert values.dtype == dtype, f"{err_msg}: dtype {values.dtype}, expected {dtype}"
    if dtype.kind in "biu":
        np.testing.assert_array_equal(values, np.asarray(reference, dtype=dtype), err_msg=err_msg)
        return
    wide = np.complex128 if dtype.kind == "c" else np.float64
    with np.errstate(over="ignore", under="ignore"):
        ref = np.asarray([wide(r) for r in reference] if np.ndim(reference) else wide(reference))
        ref = ref.astype(dtype)
    info = np.finfo(dtype)
    eps, subnormal = float(info.eps), float(info.smallest_subnormal)
    np.testing.assert_allclose(values, ref, rtol=k * eps, atol=atol * eps + k * subnormal,
                               equal_nan=True, err_msg=err_msg)


@pytest.fixture
def close_to_reference():
    """The :func:`assert_close_to_reference` helper, for test modules."""
    return assert_close_to_reference


@pytest.fixture
def mpmath_dps30():
    """Set ``mpmath.mp.dps = 30`` for one test and restore the previous precision."""
    old = mpmath.mp.dps
    mpmath.mp.dps = 30
    try:
        yield mpmath.mp
    finally:
        mpmath.mp.dps = old


def code(expr, **kwargs):
    """:func:`theano_code` with a private cache, so tests never share printed graphs."""
    from sympy_theano_printer import theano_code

    kwargs.setdefault("cache", {})
    return theano_code(expr, **kwargs)


def function(inputs, outputs, **kwargs):
    """:func:`theano_function` with a private cache, so tests never share printed graphs."""
    from sympy_theano_printer import theano_function

    kwargs.setdefault("cache", {})
    return theano_function(inputs, outputs, **kwargs)
