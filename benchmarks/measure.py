"""Timing discipline of the benchmark suite: set-up time, interleaved best-of-repeats, floors, errors.

Every number the suite reports is measured in the same process and the same
run as the numbers it is compared with, because the machine is shared and its
speed drifts: a ratio of two times taken minutes apart means little.

* **Set-up time**: from the call that builds a route's function (``lambdify``,
  ``ufuncify``, ``Lambdify``, ``jax.jit``...) to its first result, on a
  1,000-point array (:func:`setup_time`).  It includes PyTensor's and Numba's
  compilation, or a hit in their on-disk cache (``run.py --fresh-cache``
  empties it for the run).
* **Steady state**: after one warm-up call on the timed array, every route is
  timed in rounds (:func:`interleaved_best`): each round calls every route once
  (``number`` calls, so that one measurement lasts at least ``min_time``) in
  an order rotated from round to round, with the garbage collector off; the
  best over the rounds is kept, as ``timeit`` does.  A disturbance from another
  process then slows one measurement of every route alike rather than all
  measurements of one route.
* **Bandwidth floor** (:func:`stream_floor`): the best time of
  ``numpy.multiply(x, 2.0)`` on the same N float64, which reads ``8 N`` bytes
  and writes (and allocates, as every route does for its outputs) ``8 N``
  bytes, scaled to the ``8 N (1 + outputs)`` bytes an expression with that
  many outputs must move at least.  It is single-threaded; a multi-threaded
  route can get below it.
* **Largest relative error** (:func:`sample_error`): the route's output at
  200 indices (``run.py --error-points``; 50 with ``--quick``) of the timed
  array (from the warm-up call, so the chunked, multi-threaded code paths are
  checked too) against mpmath at 30 digits,
  by :func:`sympy_theano_printer.examples.max_relative_error`.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sympy_theano_printer.examples import max_relative_error

#: Number of points of the timed array checked against mpmath.
ERROR_SAMPLE = 200

#: A route whose largest relative error exceeds this gives wrong numbers: it is
#: reported, but left out of "fastest peer" and "ours".
ERROR_LIMIT = 1e-6


def first_line(exc: BaseException, limit: int = 160) -> str:
    """``"TypeName: first line of the message"``, cut to ``limit`` characters."""
    text = str(exc).strip().splitlines()
    msg = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def setup_time(build: Callable[[], Callable], first_arg) -> tuple[Callable, float]:
    """Build a function and call it once on ``first_arg``: ``(function, seconds for both)``.

    Exceptions of ``build`` or of the first call propagate (the caller records
    them as the route's failure).  A function with ``wait_compiled`` (our
    ``lambdify``, which answers its first calls while the compiled kernel is
    built in a background thread) is waited for after the clock stops, so that
    the steady state that follows times the kernel.
    """
    start = time.perf_counter()
    fn = build()
    fn(first_arg)
    seconds = time.perf_counter() - start
    # ours answers first calls early while its kernel compiles in the background:
    # the steady state is the kernel's, so wait for it (not counted in the set-up time)
    wait = getattr(fn, "wait_compiled", None)
    if wait is not None:
        wait()
    return fn, seconds


def calls_per_measurement(seconds_per_call: float, min_time: float) -> int:
    """How many calls make one measurement last at least ``min_time`` seconds (at least 1)."""
    if not seconds_per_call > 0:
        return 1
    return max(1, math.ceil(min_time / seconds_per_call))


@dataclass
class Timed:
    """A callable to time: ``call(arg)`` repeated ``number`` times per measurement."""

    call: Callable
    arg: object
    number: int = 1
    best: float = math.inf
    rounds: int = 0
    #: Process CPU time over wall time of the best measurement: about 1 for a single-threaded
    #: route on an idle core, up to the number of cores for a multi-threaded one.
    cpu_over_wall: float = math.nan


def interleaved_best(timed: dict[str, Timed], *, repeat: int, min_repeat: int = 3,
                     budget_s: float = math.inf, settle_s: float = 0.0) -> dict[str, float]:
    """Best seconds per call of each entry of ``timed``, measured in interleaved rounds.

    Parameters
    ----------
    timed : dict of str to Timed
        What to time; ``best`` and ``rounds`` of each entry are updated.
    repeat : int
        Rounds at most; each round times every entry once.
    min_repeat : int
        Rounds at least, even past ``budget_s``.
    budget_s : float
        After ``min_repeat`` rounds, no new round starts once this many seconds
        have passed (large N of slow routes).
    settle_s : float
        Pause before each measurement (lets BLAS worker threads of another
        library go idle; used by the Kalman routes).

    The garbage collector is off while a route is timed and runs between
    rounds; the objects alive at the start are frozen (``gc.freeze``) for the
    call, so those collections walk only new objects, unless the caller has
    frozen some already (then the caller unfreezes).

    Returns
    -------
    dict of str to float
        Seconds per call, the best over the rounds (``cpu_over_wall`` of each
        entry is that of its best measurement).
    """
    names = list(timed)
    start = time.perf_counter()
    enabled = gc.isenabled()
    # a full collection walks every object (SymPy's caches, compiled graphs, JAX: 0.3-0.6 s
    # here); freeze the survivors once so that the collection before each round only walks
    # what was made since, unless a caller (run.py, per expression) has frozen them already
    owns_freeze = gc.get_freeze_count() == 0
    if owns_freeze:
        gc.collect()
        gc.freeze()
    try:
        for r in range(max(repeat, 1)):
            if r >= min_repeat and time.perf_counter() - start > budget_s:
                break
            order = names[r % len(names):] + names[: r % len(names)]
            gc.collect()
            gc.disable()
            for name in order:
                t = timed[name]
                if settle_s:
                    time.sleep(settle_s)
                c0, t0 = time.process_time(), time.perf_counter()
                for _ in range(t.number):
                    t.call(t.arg)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                if wall / t.number < t.best:
                    t.best, t.cpu_over_wall = wall / t.number, cpu / wall
                t.rounds += 1
            if enabled:
                gc.enable()
    finally:
        if enabled:
            gc.enable()
        if owns_freeze:
            gc.unfreeze()
    return {name: t.best for name, t in timed.items()}


def stream_floor_call(x: np.ndarray) -> np.ndarray:
    """The floor's operation: read ``x`` (N float64), allocate and write N float64."""
    return np.multiply(x, 2.0)


def floor_bytes(n: int, outputs: int) -> int:
    """Bytes an element-wise function of one float64 array with ``outputs`` float64 results moves at least."""
    return 8 * n * (1 + outputs)


def stream_floor(seconds_per_call: float, n: int, outputs: int) -> tuple[float, float]:
    """``(floor seconds for an expression with `outputs` outputs, bandwidth in GB/s)``.

    ``seconds_per_call`` is the best time of :func:`stream_floor_call` on N
    float64 (16 N bytes); the floor is that time scaled to
    :func:`floor_bytes`.
    """
    bandwidth = 16 * n / seconds_per_call
    return floor_bytes(n, outputs) / bandwidth, bandwidth / 1e9


def sample_indices(n: int, size: int = ERROR_SAMPLE, seed: int = 0) -> np.ndarray:
    """Sorted distinct indices into an array of ``n`` points: both ends and ``size - 2`` drawn at random."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    inner = rng.choice(np.arange(1, n - 1), size=size - 2, replace=False)
    return np.unique(np.concatenate([[0, n - 1], inner]))


def sample_error(outputs, reference, indices) -> float:
    """Largest relative error of ``outputs`` (full arrays) at ``indices`` against ``reference``.

    Parameters
    ----------
    outputs : sequence of arrays of N values
    reference : sequence of float64 arrays of ``len(indices)`` values (mpmath, rounded)
    indices : integer array

    Raises
    ------
    ValueError
        The route returned a different number of outputs or a wrong length.
    """
    if len(outputs) != len(reference):
        raise ValueError(f"{len(outputs)} outputs, expected {len(reference)}")
    picked = []
    for out in outputs:
        out = np.asarray(out, dtype=float)
        if out.ndim == 0:  # a constant output, broadcast as NumPy would
            out = np.broadcast_to(out, (int(indices.max()) + 1,))
        picked.append(out.reshape(-1)[indices])
    return max_relative_error(picked, list(reference))
