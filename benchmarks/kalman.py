"""The Kalman filter's measurement update: our compiled variants against NumPy, SciPy and JAX.

N is the state size ``n`` (``k = n // 2`` observations); the inputs are
:func:`sympy_theano_printer.examples.kalman_data` (well-conditioned
covariances, seed 0).

* Ours: the variants of :func:`sympy_theano_printer.examples.kalman_functions`
  (``theano plain``: general solves; ``theano assumptions``: Cholesky, chosen
  from SymPy's assumptions; ``theano blocked``: 2 x 2 blocks by
  ``block_collapse``), compiled for each ``(n, k)``; set-up is the SymPy work,
  printing, compilation and the first call.
* Peers, written by hand as a user would: ``numpy``
  (:func:`~sympy_theano_printer.examples.kalman_numpy`, one LU solve),
  ``scipy cho_solve`` (:func:`~sympy_theano_printer.examples.kalman_scipy`)
  and ``jax jit`` (:func:`jax_update`, the same algorithm as SciPy's in
  ``jax.numpy``/``jax.scipy.linalg`` under ``jax.jit``).

Fairness of the JAX comparison (measured on the 2-core AMD EPYC of this
project, CPU time of the process, best of 12-40 interleaved calls):

* Threads: with BLAS limited to one thread, XLA's own Eigen pool is limited
  too when ``XLA_FLAGS`` holds :data:`XLA_ONE_THREAD` (set by
  :func:`peer_calls` when ``OPENBLAS_NUM_THREADS=1`` and JAX is not yet
  imported).  It hardly matters here: without it JAX's CPU time equals its
  wall time (41 ms at n = 1000), i.e. it runs on one core anyway.
* Kernels: the machine's environment sets ``OPENBLAS_CORETYPE=Haswell``, so
  NumPy's, SciPy's and hence Numba's OpenBLAS run AVX2 kernels (an n = 1000,
  k = 500 ``dgemm``: 16-18 ms), while XLA uses the CPU's AVX-512 (the same
  product: 11 ms).  With ``OPENBLAS_CORETYPE=SkylakeX`` OpenBLAS takes 10.6 ms.
  That per-flop difference, not threading, is JAX's advantage at n = 1000.

The reference op is one ``n x n`` float64 matrix product (``Sigma @ Sigma``,
BLAS ``dgemm``, ``2 n^3`` flops): the update costs about as many flops, so
``ours / reference`` near 1 means BLAS-bound.  The error is the normwise
relative difference (:func:`~sympy_theano_printer.examples.relative_difference`)
from the update computed by mpmath at 30 digits (:func:`mpmath_update`), for
``n <= REFERENCE_MAX_N`` only (pure-Python matrix arithmetic costs ``n^3``).
"""
from __future__ import annotations

import importlib.util
import os
import sys

import mpmath
import numpy as np

from sympy_theano_printer.examples import kalman_functions, kalman_numpy, kalman_scipy

#: Largest n whose update is computed by mpmath for the error column (about 3 s at n = 100).
REFERENCE_MAX_N = 100

#: Pause before each timed call: NumPy and SciPy bundle separate OpenBLAS builds whose
#: worker threads spin for a while after a call and slow the other's next call.
SETTLE_S = 0.02

#: Shortest Kalman measurement in seconds (calls are repeated to last this long).
MIN_TIME_S = 0.05

OURS = {"theano plain": "plain", "theano assumptions": "assumptions", "theano blocked": "blocked"}

#: ``XLA_FLAGS`` that keep JAX's CPU back end on the calling thread (no Eigen thread pool).
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def jax_update(mu, Sigma, H, R, data):
    """The update in JAX, as :func:`~sympy_theano_printer.examples.kalman_scipy`: one Cholesky
    factor of ``S = R + H Sigma H^T``, two triangular solves (``jax.scipy.linalg.cho_solve``).

    Shapes as :func:`~sympy_theano_printer.examples.kalman_data`; returns ``[new_mu, new_Sigma]``.
    """
    import jax.scipy.linalg as jsl

    P = Sigma @ H.T
    S = R + H @ P
    factor = jsl.cho_factor(S, lower=True)
    return [mu + P @ jsl.cho_solve(factor, H @ mu - data), Sigma - P @ jsl.cho_solve(factor, P.T)]


def mpmath_update(mu, Sigma, H, R, data, dps: int = 30) -> list[np.ndarray]:
    """The update ``[mu + P S^-1 (H mu - data), Sigma - P S^-1 P^T]`` (``P = Sigma H^T``,
    ``S = R + H P``) in mpmath at ``dps`` digits, from the float64 inputs (exact in mpmath),
    rounded to float64 arrays of the outputs' shapes."""
    with mpmath.workdps(dps):
        mu_, Sigma_, H_, R_, data_ = (mpmath.matrix(a.tolist()) for a in (mu, Sigma, H, R, data))
        P = Sigma_ * H_.T
        S_inv = mpmath.inverse(R_ + H_ * P)
        outs = [mu_ + P * (S_inv * (H_ * mu_ - data_)), Sigma_ - P * (S_inv * P.T)]
        return [np.array(o.tolist(), dtype=float) for o in outs]


def peer_calls() -> dict:
    """``{name: (callable or None, skip reason or None)}`` for the hand-written peers."""
    calls = {"numpy": (kalman_numpy, None), "scipy cho_solve": (kalman_scipy, None)}
    if importlib.util.find_spec("jax") is None:
        calls["jax jit"] = (None, "not installed: jax (pip install jax[cpu])")
    else:
        if (os.environ.get("OPENBLAS_NUM_THREADS") == "1" and "jax" not in sys.modules
                and "XLA_FLAGS" not in os.environ):
            os.environ["XLA_FLAGS"] = XLA_ONE_THREAD  # one thread for every peer (module notes)
        import jax

        from .routes import enable_jax_x64

        enable_jax_x64()
        jitted = jax.jit(jax_update)
        calls["jax jit"] = (lambda *a: jax.block_until_ready(jitted(*a)), None)
    return calls


def our_calls(n: int, k: int) -> dict:
    """``{name: (CompiledFunction, compile seconds)}`` for our variants at ``(n, k)``."""
    compiled = kalman_functions(n, k, variants=tuple(OURS.values()))
    return {name: compiled[variant] for name, variant in OURS.items()}
