"""The Kalman filter's measurement update: our compiled variants against NumPy, SciPy and JAX.

``python -m benchmarks.run --expressions --kalman-sizes 100 300 1000`` measures it with
the other expressions' suite (all routes in one process); ``python -m benchmarks.kalman``
runs :func:`thread_study` (each route in a process of its own, with the default threads
and with one) and prints its table (:func:`study_table`).

N is the state size ``n`` (``k = n // 2`` observations); the inputs are
:func:`sympy_theano_printer.examples.kalman_data` (well-conditioned
covariances, seed 0).

* Ours: the variants of :func:`sympy_theano_printer.examples.kalman_functions`
  (``theano plain``: general solves; ``theano assumptions``: Cholesky, chosen
  from SymPy's assumptions; ``theano blocked``: 2 x 2 blocks by
  ``block_collapse``), compiled for each ``(n, k)`` in the default mode (Numba);
  where JAX is installed also ``theano assumptions JAX``, the assumption-driven
  graph compiled with ``mode="JAX"`` (PyTensor's JAX back end, XLA kernels).  Set-up
  is the SymPy work, printing, compilation and the first call.
* Peers, written by hand as a user would: ``numpy``
  (:func:`~sympy_theano_printer.examples.kalman_numpy`, one LU solve),
  ``scipy cho_solve`` (:func:`~sympy_theano_printer.examples.kalman_scipy`)
  and ``jax jit`` (:func:`jax_update`, the same algorithm as SciPy's in
  ``jax.numpy``/``jax.scipy.linalg`` under ``jax.jit``).

Work (leading flop terms at n = 1000, k = 500, counted on the compiled graphs):
``theano plain`` 4.09 GFlop, ``theano assumptions`` 2.29 (``Sigma H^T``, ``H P``,
Cholesky, one triangular solve ``W = L^-1 P^T``, ``W^T W`` by ``?syrk``), the
same graph under JAX 2.79 (XLA has no ``?syrk``: ``W^T W`` is a full product),
SciPy and JAX 3.04, NumPy 3.08.

Where the time goes (measured on the 2-core AMD EPYC of this project, best of
interleaved calls):

* Kernels: the machine's environment sets ``OPENBLAS_CORETYPE=Haswell``, so
  NumPy's, SciPy's and hence Numba's OpenBLAS run AVX2 kernels (an n = 1000,
  k = 500 ``dgemm``: 16-18 ms), while XLA uses the CPU's AVX-512 (the same
  product: 9-11 ms).  With ``OPENBLAS_CORETYPE=SkylakeX`` OpenBLAS takes 10.6 ms.
  With one thread that per-flop difference is JAX's whole advantage over our
  Numba route at n = 1000 (44-50 ms against 36 ms of CPU time).  The JAX back end
  gives our graph the same kernels, and its fewer flops then win (32.6 against
  35 ms).  XLA's ``dot`` of a transposed operand (``W^T W``) runs at half speed
  (19 ms against 9.2 ms for ``X`` of 500 x 1000), which is why the JAX
  implementation of :class:`~sympy_theano_printer.linalg.SymmetricProduct`
  transposes first: with ``Dot``'s JAX implementation the whole update took
  41.0 ms of CPU time at n = 1000, with this one 31.5 ms (JAX: 36.3 ms; one
  thread, best of 15 interleaved calls).
* Threads: OpenBLAS's default is one thread per core (two here); XLA's Eigen
  pool parallelizes its products but not all of its work (CPU / wall 1.3 at
  n = 1000 against 2.0 for OpenBLAS).  When the second core is free, our Numba
  route gains most from it (about 26 ms at n = 1000, against 44 ms for JAX).
  When other processes keep both cores busy, every multi-threaded route slows
  down, often far below its one-thread speed (OpenBLAS's and Eigen's workers
  wait for a core on each product: our Numba route took 72-674 ms at n = 1000 on
  a loaded machine, against 49 ms of CPU time on one thread),
  so the suite's ``--blas-threads 1`` and :func:`thread_study` (each route in its
  own process, both settings) are the comparisons to trust on a shared machine.
  With BLAS limited to one thread, XLA's Eigen pool is limited too when
  ``XLA_FLAGS`` holds :data:`XLA_ONE_THREAD` (set by :func:`peer_calls` when
  ``OPENBLAS_NUM_THREADS=1`` and JAX is not yet imported).
* Levers measured and left out: forming ``Sigma - W^T W`` by one ``?syrk`` with
  ``beta = 1`` saves the subtraction (0.18 ms at n = 1000) but needs a copy of the
  input ``Sigma`` (0.17 ms), as the input must not be overwritten; computing only
  the triangle of the symmetric ``H Sigma H^T`` that the Cholesky factor reads
  (OpenBLAS's ``cblas_dgemmt``; SciPy does not wrap it) took 29.5 ms against
  25.6 ms for the full ``dgemm``.  The C back end (``mode="CVM"``) is slower than
  Numba at every n (0.17 against 0.09 ms at n = 100, 49 against 46 ms at n = 1000):
  per-node overhead, and its ``Gemm`` rewrite turns ``W^T W`` back into a full
  product.

The reference op is one ``n x n`` float64 matrix product (``Sigma @ Sigma``,
BLAS ``dgemm``, ``2 n^3`` flops): the update costs about as many flops, so
``ours / reference`` near 1 means BLAS-bound.  The error is the normwise
relative difference (:func:`~sympy_theano_printer.examples.relative_difference`)
from the update computed by mpmath at 30 digits (:func:`mpmath_update`), for
``n <= REFERENCE_MAX_N`` only (pure-Python matrix arithmetic costs ``n^3``).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

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

#: Our routes: ``{name: (variant of kalman_functions, PyTensor mode or None for the default)}``.
#: The JAX back end's route only where JAX is installed.
OURS = {"theano plain": ("plain", None), "theano assumptions": ("assumptions", None),
        "theano blocked": ("blocked", None)}
if importlib.util.find_spec("jax") is not None:
    OURS["theano assumptions JAX"] = ("assumptions", "JAX")

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


def our_calls(n: int, k: int, names=None) -> dict:
    """``{name: (callable, set-up seconds)}`` for our routes at ``(n, k)``: those of
    :data:`OURS` named in ``names`` (default all).

    The callables take the five inputs and return the two outputs; the JAX back
    end's waits for its results (``jax.block_until_ready``), as :func:`peer_calls`'s
    does.
    """
    chosen = {name: OURS[name] for name in (OURS if names is None else names)}
    out = {}
    for mode in dict.fromkeys(m for _, m in chosen.values()):
        variants = tuple(dict.fromkeys(v for v, m in chosen.values() if m == mode))
        if mode == "JAX":
            import jax

            from .routes import enable_jax_x64

            enable_jax_x64()
        compiled = kalman_functions(n, k, mode=mode, variants=variants)
        for name, (variant, m) in chosen.items():
            if m != mode:
                continue
            f, seconds = compiled[variant]
            if mode == "JAX":
                f = (lambda *a, f=f: jax.block_until_ready(f(*a)))
            out[name] = (f, seconds)
    return out


# ====================================================================== threads
#: Environment variables that set the thread count of OpenBLAS, MKL and OpenMP.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

#: The routes of :func:`thread_study`: the hand-written peers and our fastest routes.
STUDY_ROUTES = ("numpy", "scipy cho_solve", "jax jit", "theano assumptions", "theano assumptions JAX")


def _study_env(threads: str) -> dict:
    """The environment of a :func:`thread_study` child: ``threads`` ``"1"`` pins OpenBLAS,
    MKL, OpenMP and XLA to one thread each; ``"default"`` leaves every library its own
    default (OpenBLAS: one thread per core; XLA: its Eigen pool over all cores)."""
    env = {key: value for key, value in os.environ.items()
           if key not in BLAS_THREAD_VARIABLES and key != "XLA_FLAGS"}
    if threads == "1":
        env.update({var: "1" for var in BLAS_THREAD_VARIABLES}, XLA_FLAGS=XLA_ONE_THREAD)
    elif threads != "default":
        raise ValueError(f"threads must be 'default' or '1', not {threads!r}")
    return env


def measure_route(route: str, sizes, rounds: int, min_time: float = MIN_TIME_S) -> dict:
    """Time one route in this process: ``{n: [best wall, median wall, best CPU, median CPU]}``
    in seconds per call, over ``rounds`` measurements of at least ``min_time`` seconds each
    (preceded by :data:`SETTLE_S` of sleep, and two untimed calls before the first).

    Raises
    ------
    ValueError
        ``route`` is neither a peer of :func:`peer_calls` nor a name of :data:`OURS`.
    RuntimeError
        The route is a peer that cannot run here (not installed).
    """
    from sympy_theano_printer.examples import kalman_data

    peers = peer_calls() if route not in OURS else {}
    if route not in OURS and route not in peers:
        raise ValueError(f"unknown route {route!r}; known: {', '.join([*peers, *OURS])}")
    result = {}
    for n in sizes:
        args = kalman_data(n, n // 2, seed=0)
        if route in OURS:
            fn = our_calls(n, n // 2, names=[route])[route][0]
        else:
            fn, reason = peers[route]
            if reason:
                raise RuntimeError(f"{route}: {reason}")
        fn(*args)
        start = time.perf_counter()
        fn(*args)
        number = max(1, int(min_time / max(time.perf_counter() - start, 1e-9)))
        walls, cpus = [], []
        for _ in range(rounds):
            time.sleep(SETTLE_S)
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(number):
                fn(*args)
            walls.append((time.perf_counter() - t0) / number)
            cpus.append((time.process_time() - c0) / number)
        result[n] = [min(walls), float(np.median(walls)), min(cpus), float(np.median(cpus))]
    return result


def thread_study(sizes=(100, 300, 1000), routes=STUDY_ROUTES, repeats: int = 3, rounds: int = 6,
                 log=None) -> dict:
    """Each route in a process of its own, with the libraries' default threads and with one.

    One process per route, thread setting and repeat (``python -m benchmarks.kalman
    --child``), run one after another in interleaved order (repeat, route, setting), so
    that a slow spell of a shared machine hits every route; in-process thread pools of
    different libraries (NumPy's and SciPy's OpenBLAS, XLA's Eigen) never compete.

    Returns
    -------
    dict
        ``{"default": {n: {route: [[best wall, median wall, best CPU, median CPU], ...]}},
        "1": ...}``, one entry per repeat, in seconds per call.
    """
    study = {threads: {n: {} for n in sizes} for threads in ("default", "1")}
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for _ in range(repeats):
        for route in routes:
            for threads in ("default", "1"):
                cmd = [sys.executable, "-m", "benchmarks.kalman", "--child", route,
                       "--sizes", *map(str, sizes), "--rounds", str(rounds)]
                for _attempt in range(2):  # a child killed on a crowded machine is run again
                    done = subprocess.run(cmd, env=_study_env(threads), cwd=here,
                                          capture_output=True, text=True, check=False)
                    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                    if not done.returncode and lines:
                        break
                    if log:
                        log(f"{route} ({threads} threads) failed, exit status {done.returncode}: "
                            f"{done.stderr.strip()[-300:]}")
                else:
                    continue
                for n, values in json.loads(lines[-1]).items():
                    study[threads][int(n)].setdefault(route, []).append(values)
                if log:
                    log(f"{route} ({threads} threads) done")
    return study


def study_table(study) -> str:
    """Markdown table of :func:`thread_study`: per n and route, the best wall time with the
    default threads (and the range of the per-process bests), the best CPU time with one
    thread (and its range), and ours / fastest peer for both."""
    lines = ["| n | route | default threads: wall | range | 1 thread: CPU | range |",
             "|---|---|---|---|---|---|"]
    for n in study["default"]:
        for route in dict.fromkeys([*study["default"][n], *study["1"][n]]):
            cells = []
            for threads, column in (("default", 0), ("1", 2)):
                runs = [r[column] for r in study[threads][n].get(route, [])]
                cells += ([f"{min(runs) * 1e3:.3g} ms", f"{min(runs) * 1e3:.3g}-{max(runs) * 1e3:.3g}"]
                          if runs else ["-", "-"])
            lines.append(f"| {n} | {route} | " + " | ".join(cells) + " |")
        for threads, column, what in (("default", 0, "wall"), ("1", 2, "CPU")):
            best = {route: min(r[column] for r in runs) for route, runs in study[threads][n].items()}
            ours = {r: t for r, t in best.items() if r in OURS}
            peers = {r: t for r, t in best.items() if r not in OURS}
            if ours and peers:
                o, p = min(ours, key=ours.get), min(peers, key=peers.get)
                lines.append(f"| {n} | ours / fastest peer, {threads} threads ({what}) | "
                             f"{o} / {p} = {ours[o] / peers[p]:.2f} | | | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    """``python -m benchmarks.kalman``: the thread study (:func:`thread_study`), printed as a
    Markdown table and optionally saved as JSON (``--out``)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--routes", nargs="+", default=list(STUDY_ROUTES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", help="JSON file for the measurements")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one route, in this process
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_route(args.child, args.sizes, args.rounds)))
        return
    study = thread_study(args.sizes, args.routes, args.repeats, args.rounds,
                         log=lambda m: print(m, file=sys.stderr))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(study, fh, indent=1)
    print(study_table(study))


if __name__ == "__main__":
    main()
