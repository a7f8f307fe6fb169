"""Steady-state speed of compiled SymPy expressions against ``sympy.lambdify(..., "numpy")``.

Usage::

    python benchmarks/run.py            # N = 1e3 ... 1e7
    python benchmarks/run.py --quick    # N = 1e3 ... 1e5, under a minute

For each expression and N it reports the set-up time (build to first result)
and the best-of-repeats steady-state time of each route, and the ratio of
ours to the fastest peer measured in the same run (below 1: we are faster).
Peers other than NumPy (numexpr, symengine, autowrap, JAX) join as they are
added; this script measures only what is installed.
"""
from __future__ import annotations

import argparse
import time
import timeit

import numpy as np
import sympy
from sympy.physics.hydrogen import R_nl

from sympy_theano_printer import theano_function

x = sympy.Symbol("x")


def expressions():
    """The benchmark expressions: name -> (list of outputs, sample range)."""
    hydrogen = R_nl(6, 2, x, 6)
    return {
        "R_nl(6,2) and derivative": ([hydrogen, sympy.diff(hydrogen, x)], (0.1, 5.0)),
        "normal pdf": ([sympy.exp(-x**2 / 2) / sympy.sqrt(2 * sympy.pi)], (-4.0, 4.0)),
        "4-piece Piecewise": (
            [sympy.Piecewise((x**2, x < 0), (sympy.sin(x), x < 1), (sympy.sqrt(x), x < 3),
                             (sympy.log(x), True))],
            (-2.0, 5.0),
        ),
        "sum of 30 sin*exp terms": (
            [sympy.Add(*[sympy.sin(k * x) * sympy.exp(-k * x**2) / k for k in range(1, 31)])],
            (-1.0, 1.0),
        ),
    }


def best_time(fn, arg, repeat):
    return min(timeit.repeat(lambda: fn(arg), number=1, repeat=repeat))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1e5 only")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [10**k for k in (range(3, 6) if args.quick else range(3, 8))]

    print("| expression | N | numpy set-up s | ours set-up s | numpy s | ours s | ours / fastest peer |")
    print("|---|---|---|---|---|---|---|")
    for name, (outs, (lo, hi)) in expressions().items():
        t0 = time.perf_counter()
        ours = theano_function([x], outs, dims={x: 1})
        ours(np.linspace(lo, hi, 10))
        ours_setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        peer = sympy.lambdify([x], outs, "numpy")
        peer(np.linspace(lo, hi, 10))
        numpy_setup = time.perf_counter() - t0
        for n in sizes:
            xs = np.linspace(lo, hi, n)
            np.testing.assert_allclose(np.asarray(ours(xs), dtype=float).reshape(-1),
                                       np.asarray(peer(xs), dtype=float).reshape(-1), rtol=1e-9, atol=1e-12)
            t_ours = best_time(ours, xs, args.repeat)
            t_numpy = best_time(peer, xs, args.repeat)
            print(f"| {name} | {n:.0e} | {numpy_setup:.3f} | {ours_setup:.3f} | {t_numpy:.2e} | "
                  f"{t_ours:.2e} | {t_ours / t_numpy:.2f} |")


if __name__ == "__main__":
    main()
