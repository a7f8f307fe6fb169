"""Speed and accuracy of sympy_theano_printer against the peers a user would pick instead.

Usage::

    python benchmarks/run.py                 # N = 1e3 ... 1e7, Kalman n = 100, 300, 1000
    python benchmarks/run.py --quick         # N = 1e3 ... 1e5, Kalman n = 50, 2 rounds: under a minute
    python benchmarks/run.py --out DIR       # results.json, results.md, PNG plots (default benchmarks/results)
    python benchmarks/run.py --expressions normal_pdf piecewise --routes numpy "theano lambdify"

For each expression of :mod:`benchmarks.expressions` and each route of
:mod:`benchmarks.routes` (ours: ``lambdify(..., "theano")``, ``ufuncify``,
``theano_function`` with NUMBA and CVM; peers: NumPy, NumPy+SciPy, numexpr,
symengine's LLVM ``Lambdify``, autowrap's ``ufuncify``, JAX under ``jax.jit``)
and each N, it measures (:mod:`benchmarks.measure`): the set-up time, the
steady-state time (best of interleaved rounds), the ratio of ours (the fastest
of our routes) to the fastest peer and to the memory-bandwidth floor measured
in the same run, and the largest relative error against mpmath at 30 digits.
The Kalman filter (:mod:`benchmarks.kalman`) is measured the same way with N
the matrix size.  Peers that are not installed are skipped
(``pip install ".[bench]"`` installs them); a route that cannot compute an
expression is reported as failing, with the reason.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
FULL_SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
QUICK_SIZES = (10**3, 10**4, 10**5)
FULL_KALMAN = (100, 300, 1000)
QUICK_KALMAN = (50,)
#: Size of the array of the set-up measurement (build to first result).
SETUP_N = 1000
#: Points of each timed array checked against mpmath (``--error-points``).
ERROR_POINTS = 200  # as measure.ERROR_SAMPLE (not imported here: it imports PyTensor)
#: ``--quick``: timing rounds at most, seconds per size after which no new round starts, and
#: points checked against mpmath (the 30-digit reference costs about 1 ms a point).
QUICK_REPEAT = 2
QUICK_BUDGET_S = 1.5
QUICK_ERROR_POINTS = 50


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _log(verbose, *parts):
    if verbose:
        print(*parts, file=sys.stderr, flush=True)


def summarize(record: dict, groups: dict, usable: dict) -> None:
    """Add ours/fastest-peer/floor fields to one size ``record`` (in place).

    ``record["times_s"]`` maps route names to seconds, ``groups`` route names to
    ``"ours"``/``"peer"``, ``usable`` route names to whether the route's
    numbers are right (error within :data:`benchmarks.measure.ERROR_LIMIT`).
    ``ours_over_fastest_peer_cpu`` is the same ratio in process CPU time (each
    route's time times its ``record["cpu_over_wall"]``; on each side the route
    with the least CPU time, which need not be the fastest in wall time; None
    where that is missing).
    """
    times = record["times_s"]

    def fastest(group):
        cands = [(t, name) for name, t in times.items() if groups[name] == group and usable.get(name, False)]
        return min(cands) if cands else (None, None)

    record["ours_s"], record["ours_route"] = fastest("ours")
    record["fastest_peer_s"], record["fastest_peer"] = fastest("peer")
    ours, peer, floor = record["ours_s"], record["fastest_peer_s"], record.get("floor_s")
    record["ours_over_fastest_peer"] = ours / peer if ours and peer else None
    record["ours_over_floor"] = ours / floor if ours and floor else None
    # the same ratio in process CPU time (wall time times CPU / wall of each best measurement),
    # each side's least CPU time over its routes: a route that waited for a core on the shared
    # machine loses wall time, not CPU time; a multi-threaded route spends more CPU than wall time
    share = record.get("cpu_over_wall") or {}

    def least_cpu(group):
        cpu = [t * share[name] for name, t in times.items()
               if groups[name] == group and usable.get(name, False) and isinstance(share.get(name), float)
               and math.isfinite(share[name]) and share[name] > 0]
        return min(cpu) if cpu else None

    ours_cpu, peer_cpu = least_cpu("ours"), least_cpu("peer")
    record["ours_over_fastest_peer_cpu"] = ours_cpu / peer_cpu if ours_cpu and peer_cpu else None


def run_expression(expression, routes, sizes, args) -> dict:
    """Measure every route on one expression at every size: the expression's JSON record."""
    from benchmarks import measure

    result = {"name": expression.name, "slug": expression.slug, "n_is": "array length",
              "outputs": [str(o) for o in expression.outputs], "range": [expression.lo, expression.hi],
              "floor_what": "numpy.multiply(x, 2.0) on N float64, scaled to 8 N (1 + outputs) bytes",
              "routes": {}, "sizes": []}
    calls = {}
    for route in routes:
        if not route.applies_to(expression):
            continue
        entry = result["routes"][route.name] = {"group": route.group, "status": "ok", "reason": None,
                                                "setup_s": None}
        reason = route.missing()
        if reason:
            entry.update(status="skipped", reason=reason)
            continue
        try:
            call, entry["setup_s"] = measure.setup_time(lambda: route.build(expression),
                                                        expression.grid(SETUP_N))
            calls[route.name] = (call, route)
        except Exception as exc:  # noqa: BLE001 -- a peer failing is a result, not a crash
            entry.update(status="fails", reason=measure.first_line(exc))
        _log(args.verbose, f"  {route.name}: {entry['status']} setup {entry['setup_s']}",
             entry["reason"] or "")
    groups = {name: e["group"] for name, e in result["routes"].items()}
    # what exists now survives every size: freeze it, so that the garbage collection before
    # each timing round (measure.interleaved_best) walks only the objects made since
    gc.collect()
    gc.freeze()
    try:
        for n in sizes:
            _measure_size(expression, n, calls, result, groups, args)
    finally:
        gc.unfreeze()
    return result


def _measure_size(expression, n, calls, result, groups, args) -> None:
    """Time every built route of ``calls`` on the ``n``-point grid; append the size's record to ``result``."""
    from benchmarks import measure

    x = expression.grid(n)
    idx = measure.sample_indices(n, args.error_points)
    reference = expression.reference(x[idx])
    record = {"N": n, "times_s": {}, "errors": {}, "calls_per_measurement": {}}
    timed = {}
    for name, (call, route) in list(calls.items()):
        try:
            t0 = time.perf_counter()
            out = call(x)
            warm = time.perf_counter() - t0
            record["errors"][name] = measure.sample_error(route.unpack(out), reference, idx)
            del out
        except Exception as exc:  # noqa: BLE001
            result["routes"][name].update(status="fails", reason=f"at N={n}: {measure.first_line(exc)}")
            del calls[name]
            continue
        number = measure.calls_per_measurement(warm, args.min_time)
        timed[name] = measure.Timed(call, x, number)
        record["calls_per_measurement"][name] = number
    floor_warm = time.perf_counter()
    measure.stream_floor_call(x)
    floor_warm = time.perf_counter() - floor_warm
    timed["(floor)"] = measure.Timed(measure.stream_floor_call, x,
                                     measure.calls_per_measurement(floor_warm, args.min_time))
    best = measure.interleaved_best(timed, repeat=args.repeat, min_repeat=args.min_repeat,
                                    budget_s=args.budget)
    record["rounds"] = timed["(floor)"].rounds
    record["cpu_over_wall"] = {name: t.cpu_over_wall for name, t in timed.items()}
    stream = best.pop("(floor)")
    record["floor_s"], record["floor_GBps"] = measure.stream_floor(stream, n, len(expression.outputs))
    record["times_s"] = best
    record["route_over_floor"] = {name: t / record["floor_s"] for name, t in best.items()}
    usable = {name: record["errors"][name] <= measure.ERROR_LIMIT for name in best}
    summarize(record, groups, usable)
    result["sizes"].append(record)
    _log(args.verbose, f"  N={n:.0e}: ours {record['ours_route']} {record['ours_s']}, "
         f"peer {record['fastest_peer']} {record['fastest_peer_s']}, "
         f"ratio {record['ours_over_fastest_peer']}")


def run_kalman(sizes, args) -> dict:
    """Measure the Kalman update's routes at each state size n (k = n // 2): its JSON record."""
    import numpy as np

    from benchmarks import kalman, measure
    from sympy_theano_printer.examples import kalman_data, relative_difference

    result = {"name": "Kalman filter update", "slug": "kalman", "n_is": "state size n (k = n // 2)",
              "outputs": ["mu + Sigma H^T S^-1 (H mu - data)", "Sigma - Sigma H^T S^-1 H Sigma"],
              "floor_what": "one n x n float64 matrix product (numpy, BLAS dgemm)", "routes": {},
              "sizes": []}
    peers = kalman.peer_calls()
    # BLAS worker threads that went to sleep during the settling pause take up to a scheduler
    # time slice to wake on a busy machine: longer measurements amortize that
    kalman_min_time = max(args.min_time, kalman.MIN_TIME_S)
    groups = {**{name: "ours" for name in kalman.OURS}, **{name: "peer" for name in peers}}
    for name, group in groups.items():
        result["routes"][name] = {"group": group, "status": "ok", "reason": None, "setup_s": None,
                                  "setup_s_by_N": {}}
    for name, (fn, reason) in peers.items():
        if reason:
            result["routes"][name].update(status="skipped", reason=reason)
    for n in sizes:
        k = n // 2
        args_ = kalman_data(n, k, seed=0)
        reference = kalman.mpmath_update(*args_) if n <= kalman.REFERENCE_MAX_N else None
        record = {"N": n, "k": k, "times_s": {}, "errors": {}, "calls_per_measurement": {}}
        calls = {name: fn for name, (fn, reason) in peers.items() if not reason}
        try:
            ours = kalman.our_calls(n, k)
            for name, (f, _) in ours.items():
                calls[name] = f
        except Exception as exc:  # noqa: BLE001
            for name in kalman.OURS:
                result["routes"][name].update(status="fails", reason=f"at N={n}: {measure.first_line(exc)}")
            ours = {}
        timed = {}
        for name, fn in calls.items():
            entry = result["routes"][name]
            if entry["status"] != "ok":
                continue
            try:
                t0 = time.perf_counter()
                out = [np.asarray(o) for o in fn(*args_)]
                first = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001
                entry.update(status="fails", reason=f"at N={n}: {measure.first_line(exc)}")
                continue
            setup = first + (ours[name][1] if name in ours else 0.0)
            entry["setup_s_by_N"][str(n)] = setup
            entry["setup_s"] = max(entry["setup_s"] or 0.0, setup)
            record["errors"][name] = (relative_difference(out, reference) if reference is not None
                                      else None)
            t0 = time.perf_counter()  # the first call may have compiled (jax): calibrate on a second
            fn(*args_)
            number = measure.calls_per_measurement(time.perf_counter() - t0, kalman_min_time)
            timed[name] = measure.Timed(lambda a, fn=fn: fn(*a), args_, number)
            record["calls_per_measurement"][name] = number
        gemm_args = (args_[1], args_[1])
        for _ in range(2):  # the second call is warm
            t0 = time.perf_counter()
            gemm_args[0] @ gemm_args[1]
        timed["(floor)"] = measure.Timed(lambda a: a[0] @ a[1], gemm_args,
                                         measure.calls_per_measurement(time.perf_counter() - t0,
                                                                       kalman_min_time))
        best = measure.interleaved_best(timed, repeat=args.repeat, min_repeat=args.min_repeat,
                                        budget_s=args.budget, settle_s=kalman.SETTLE_S)
        record["rounds"] = timed["(floor)"].rounds
        record["cpu_over_wall"] = {name: t.cpu_over_wall for name, t in timed.items()}
        record["floor_s"] = best.pop("(floor)")
        record["floor_GFLOPs"] = 2 * n**3 / record["floor_s"] / 1e9
        record["times_s"] = best
        record["route_over_floor"] = {name: t / record["floor_s"] for name, t in best.items()}
        usable = {name: (record["errors"][name] is None or record["errors"][name] <= measure.ERROR_LIMIT)
                  for name in best}
        summarize(record, groups, usable)
        result["sizes"].append(record)
        _log(args.verbose, f"  n={n}: ours {record['ours_route']} {record['ours_s']}, "
             f"peer {record['fastest_peer']} {record['fastest_peer_s']}")
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"N = 1e3 ... 1e5, Kalman n = 50, 1-{QUICK_REPEAT} rounds, errors at "
                             f"{QUICK_ERROR_POINTS} points: under a minute")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for results.json, results.md and the plots (default %(default)s)")
    parser.add_argument("--sizes", type=float, nargs="+", help="array lengths N (default 1e3 ... 1e7)")
    parser.add_argument("--kalman-sizes", type=int, nargs="*",
                        help="Kalman state sizes n (default 100 300 1000; none: skip the Kalman filter)")
    parser.add_argument("--expressions", nargs="*",
                        help="names or slugs of the element-wise expressions (default all; none: only Kalman)")
    parser.add_argument("--routes", nargs="+", help="route names (default all)")
    parser.add_argument("--repeat", type=int, help=f"timing rounds (default 7, quick {QUICK_REPEAT})")
    parser.add_argument("--budget", type=float,
                        help="seconds per size after which no new round starts, once --min-repeat rounds "
                             f"are done (default 30, quick {QUICK_BUDGET_S:g})")
    parser.add_argument("--min-repeat", type=int, help="timing rounds at least (default 3, quick 1)")
    parser.add_argument("--error-points", type=int,
                        help="points of each timed array checked against mpmath (default "
                             f"{ERROR_POINTS}, quick {QUICK_ERROR_POINTS})")
    parser.add_argument("--min-time", type=float, default=0.002,
                        help="shortest measurement in seconds: fast calls are repeated to last this long")
    parser.add_argument("--fresh-cache", action="store_true",
                        help="compile ours into a new, empty PyTensor/Numba cache (cold set-up times)")
    parser.add_argument("--blas-threads", type=int,
                        help="threads of OpenBLAS/MKL/OpenMP (sets OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, "
                             "OMP_NUM_THREADS before NumPy is imported; default: the libraries' own)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("-q", "--quiet", dest="verbose", action="store_false", help="no progress on stderr")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes] if args.sizes else list(QUICK_SIZES if args.quick else FULL_SIZES)
    if args.kalman_sizes is None:
        args.kalman_sizes = list(QUICK_KALMAN if args.quick else FULL_KALMAN)
    if args.repeat is None:
        args.repeat = QUICK_REPEAT if args.quick else 7
    if args.budget is None:
        args.budget = QUICK_BUDGET_S if args.quick else 30.0
    if args.error_points is None:
        args.error_points = QUICK_ERROR_POINTS if args.quick else ERROR_POINTS
    if args.min_repeat is None:
        args.min_repeat = 1 if args.quick else 3
    args.min_repeat = min(args.min_repeat, args.repeat)
    if any(n < 1 for n in args.sizes + args.kalman_sizes):
        parser.error("sizes must be positive integers")
    if args.error_points < 2:
        parser.error("--error-points must be at least 2 (both ends of the grid are always checked)")
    return args


def main(argv=None) -> dict:
    """Run the suite; write ``results.json``, ``results.md`` and plots under ``--out``; return the results.

    ``--fresh-cache`` must take effect before PyTensor is imported: it sets
    ``PYTENSOR_FLAGS=base_compiledir=<new temporary folder>`` (keeping other
    flags) when PyTensor has not been imported yet, and says so otherwise;
    likewise ``--blas-threads`` before NumPy is imported.
    """
    args = parse_args(argv)
    if args.blas_threads is not None:
        if "numpy" in sys.modules:
            print("--blas-threads ignored: NumPy is already imported in this process", file=sys.stderr)
        else:
            for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
                os.environ[var] = str(args.blas_threads)
            if args.blas_threads == 1:  # JAX's own (Eigen) thread pool, before anything imports jax
                os.environ.setdefault("XLA_FLAGS",
                                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    fresh = None
    if args.fresh_cache:
        if "pytensor" in sys.modules:
            print("--fresh-cache ignored: PyTensor is already imported in this process", file=sys.stderr)
        else:
            fresh = tempfile.mkdtemp(prefix="stp_bench_cache_")
            flags = os.environ.get("PYTENSOR_FLAGS", "")
            os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={fresh}") if f)

    from benchmarks import expressions, report, routes

    chosen_exprs = [] if args.expressions == [] else expressions.by_name(args.expressions)
    chosen_routes = routes.by_name(args.routes)
    results = {"started": _now(), "machine": report.machine(), "settings": {
        "sizes": args.sizes, "kalman_sizes": args.kalman_sizes, "repeat": args.repeat,
        "budget_s": args.budget, "min_repeat": args.min_repeat, "min_time_s": args.min_time, "fresh_cache": fresh,
        "quick": args.quick, "setup_n": SETUP_N, "error_points": args.error_points,
        "blas_threads": args.blas_threads}, "expressions": []}
    start = time.perf_counter()
    for expression in chosen_exprs:
        _log(args.verbose, expression.name)
        t0 = time.perf_counter()
        results["expressions"].append(run_expression(expression, chosen_routes, args.sizes, args))
        results["expressions"][-1]["seconds"] = time.perf_counter() - t0
    if args.kalman_sizes:
        _log(args.verbose, "Kalman filter")
        t0 = time.perf_counter()
        results["expressions"].append(run_kalman(args.kalman_sizes, args))
        results["expressions"][-1]["seconds"] = time.perf_counter() - t0
    results["finished"] = _now()
    results["seconds"] = time.perf_counter() - start
    results["machine"]["load_average_end"] = list(os.getloadavg())
    written = report.write_all(results, args.out, plots=not args.no_plots)
    _log(args.verbose, "wrote " + ", ".join(str(p) for p in written))
    print(report.markdown(results))
    return results


if __name__ == "__main__":
    main()
