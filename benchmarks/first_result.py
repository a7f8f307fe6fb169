"""Time to first result and steady state of ``lambdify(..., 'theano')`` and ``ufuncify`` against peers.

Usage::

    python benchmarks/first_result.py                  # both parts, N = 1e3 ... 1e7
    python benchmarks/first_result.py --part first     # time to first result only
    python benchmarks/first_result.py --part steady --quick   # N = 1e3 ... 1e5

Part 1, *first result*: the time from ``lambdify`` (or ``ufuncify``,
``Lambdify``) to the first result on 1,000 points, each measured in a fresh
Python process (imports excluded):

* ``cold``: a new, empty PyTensor compile directory;
* ``compiled before``: the same directory again, after a process compiled
  the same expression;

each both as the first compilation of the process and after the process
compiled an unrelated expression with the same route and waited for it
("warm process"), which separates the one-time cost of initialising
Numba/PyTensor from the cost of the expression.  ``--runs k`` reports the
best of k child processes per cell (other processes on the machine only ever
add time).  ``theano`` answers the first calls while its kernel compiles in a
background thread; ``theano sync`` (``background=False``) waits for it.

Part 2, *steady state*: best of ``--repeat`` calls on N points (float64),
N = 1e3 ... 1e7, after a warm-up call (and, for ``theano``, after its
kernel finished compiling in the background).  Routes: ``theano`` (the
default element-wise kernel, vectorised flat loop for large N, split over the
cores), ``theano 1 thread`` (``parallel=False``), ``theano NUMBA`` /
``theano CVM`` (``mode=``, one ``pytensor.function``), ``ufuncify``, numpy
``lambdify`` (SciPy added for the special functions), symengine ``Lambdify``
(LLVM back end), autowrap's ``ufuncify`` (numpy back end), numexpr and
``jax.jit`` (64-bit).  Peers that are not installed, or that cannot
translate an expression, are left out.

The machine's load average is printed with the results: other processes on
the machine distort both parts.  ``--clock cpu`` times the steady state with
the process's CPU time instead of the wall clock, which other processes do
not inflate; it is exact for the single-threaded routes and leaves out the
multi-threaded ``theano`` route (whose CPU time sums its threads).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import timeit

EXPRESSIONS = {
    "R_nl(6,2) and derivative": (
        "from sympy.physics.hydrogen import R_nl\n"
        "h = R_nl(6, 2, x, 6)\nexprs = [h, sympy.diff(h, x)]", (0.1, 5.0)),
    "normal pdf": ("exprs = [sympy.exp(-x**2 / 2) / sympy.sqrt(2 * sympy.pi)]", (-4.0, 4.0)),
    "4-piece Piecewise": (
        "exprs = [sympy.Piecewise((x**2, x < 0), (sympy.sin(x), x < 1), (sympy.sqrt(x), x < 3),"
        " (sympy.log(x), True))]", (-2.0, 5.0)),
    "sum of 30 sin*exp terms": (
        "exprs = [sympy.Add(*[sympy.sin(k * x) * sympy.exp(-k * x**2) / k for k in range(1, 31)])]",
        (-1.0, 1.0)),
    "gamma + erf + besselj(0, x)": (
        "exprs = [sympy.gamma(x) + sympy.erf(x) + sympy.besselj(0, x)]", (0.1, 5.0)),
}

#: How each route builds a callable ``fn`` from ``exprs`` over ``x`` (first-result part).
BUILDERS = {
    "theano": "fn = sympy.lambdify([x], exprs, 'theano')",
    "theano sync": "fn = stp.lambdify([x], exprs, background=False)",
    "theano NUMBA": "fn = sympy.lambdify([x], exprs, 'theano', mode='NUMBA')",
    "theano CVM": "fn = sympy.lambdify([x], exprs, 'theano', mode='CVM')",
    "ufuncify": "fn = stp.ufuncify([x], exprs if len(exprs) > 1 else exprs[0])",
    "numpy": "fn = sympy.lambdify([x], exprs, ['scipy', 'numpy'])",
    "symengine": ("import symengine\n"
                  "fn = symengine.Lambdify([symengine.Symbol('x')], [symengine.sympify(e) "
                  "for e in exprs], backend='llvm')"),
}
CACHED = {"theano", "theano sync", "theano NUMBA", "theano CVM", "ufuncify"}

CHILD = """
import sys, time
import numpy as np, sympy
import sympy_theano_printer as stp
x = sympy.Symbol('x')
if {warm}:
    exprs = [sympy.cos(x) * x + 3]
    {builder_indented}
    fn(np.linspace(0.5, 1.5, 1000))
    if hasattr(fn, "wait_compiled"):
        fn.wait_compiled()  # a warm process: the kernel machinery is loaded and idle
{setup}
xs = np.linspace({lo}, {hi}, 1000)
t0 = time.perf_counter()
{builder}
out = fn(xs)
print(repr(time.perf_counter() - t0))
"""


def _child_source(expr_setup, builder, lo, hi, warm):
    return CHILD.format(warm=warm, builder=builder, setup=expr_setup, lo=lo, hi=hi,
                        builder_indented=builder.replace("\n", "\n    "))


def _run_child(source, compiledir):
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={compiledir}")
    proc = subprocess.run([sys.executable, "-c", source], env=env, capture_output=True,
                          text=True, timeout=600)
    if proc.returncode:
        return f"error: {proc.stderr.strip().splitlines()[-1][:80]}"
    return float(proc.stdout.strip().splitlines()[-1])


def _available(route):
    if route == "symengine":
        try:
            import symengine  # noqa: F401
        except ImportError:
            return False
    return True


def _best_child(source, compiledir, runs, fresh):
    """Best of ``runs`` children; ``fresh``: each in a new, empty copy of the compile directory."""
    best = None
    for _ in range(runs):
        if fresh:
            with tempfile.TemporaryDirectory() as d:
                v = _run_child(source, d)
        else:
            v = _run_child(source, compiledir)
        if isinstance(v, str):
            return v
        best = v if best is None else min(best, v)
    return best


def first_result(routes, results, runs=1, names=None):
    print("\n## Time to first result (s): lambdify/ufuncify/Lambdify + first call on 1,000 points\n")
    print("| expression | route | cold, first in process | cold, warm process "
          "| compiled before, first in process | compiled before, warm process |")
    print("|---|---|---|---|---|---|")
    for name, (setup, (lo, hi)) in EXPRESSIONS.items():
        if names and name not in names:
            continue
        for route in routes:
            if not _available(route):
                continue
            builder = BUILDERS[route]
            row = []
            with tempfile.TemporaryDirectory() as d1:
                cold = _child_source(setup, builder, lo, hi, False)
                warm = _child_source(setup, builder, lo, hi, True)
                row.append(_best_child(cold, None, runs, True))
                row.append(_best_child(warm, None, runs, True))
                if route in CACHED:
                    _run_child(cold, d1)  # compile once into d1
                    row.append(_best_child(cold, d1, runs, False))
                    row.append(_best_child(warm, d1, runs, False))
                else:
                    row += ["(no cache)", "(no cache)"]
            results.setdefault("first", {}).setdefault(name, {})[route] = row
            cells = " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row)
            print(f"| {name} | {route} | {cells} |", flush=True)


def _steady_routes(exprs, x):
    import numpy as np
    import sympy

    import sympy_theano_printer as stp

    out = {
        "theano": lambda: sympy.lambdify([x], exprs, "theano"),
        "theano 1 thread": lambda: stp.lambdify([x], exprs, parallel=False),
        "theano NUMBA": lambda: sympy.lambdify([x], exprs, "theano", mode="NUMBA"),
        "theano CVM": lambda: sympy.lambdify([x], exprs, "theano", mode="CVM"),
        "ufuncify": lambda: stp.ufuncify([x], exprs if len(exprs) > 1 else exprs[0]),
        "numpy": lambda: sympy.lambdify([x], exprs, ["scipy", "numpy"]),
    }
    try:
        import symengine

        out["symengine"] = lambda: symengine.Lambdify(
            [symengine.Symbol("x")], [symengine.sympify(e) for e in exprs], backend="llvm")
    except ImportError:
        pass

    def autowrap():
        from sympy.utilities.autowrap import ufuncify

        return ufuncify([x], exprs if len(exprs) > 1 else exprs[0], backend="numpy",
                        tempdir=tempfile.mkdtemp(prefix="autowrap_"))

    out["autowrap ufuncify"] = autowrap
    try:
        import numexpr  # noqa: F401

        out["numexpr"] = lambda: sympy.lambdify([x], exprs, "numexpr")
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)

        def jitted():
            fn = jax.jit(sympy.lambdify([x], exprs, "jax"))
            return lambda a: [np.asarray(r) for r in jax.block_until_ready(fn(a))]

        out["jax jit"] = jitted
    except ImportError:
        pass
    return out


def _best(fn, xs, reps, clock):
    if clock == "wall":
        return min(timeit.repeat(lambda: fn(xs), number=1, repeat=reps))
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        fn(xs)
        best = min(best, time.process_time() - t0)
    return best


def steady_state(sizes, repeat, results, clock="wall"):
    import numpy as np
    import sympy

    x = sympy.Symbol("x")
    print(f"\n## Steady state (ms, best of {repeat} calls, float64, {clock} clock)\n")
    header = None
    for name, (setup, (lo, hi)) in EXPRESSIONS.items():
        scope = {"sympy": sympy, "x": x}
        exec(setup, scope)
        exprs = scope["exprs"]
        fns = {}
        for route, make in _steady_routes(exprs, x).items():
            if clock == "cpu" and route == "theano":
                continue
            try:
                fn = make()
                with np.errstate(all="ignore"):
                    fn(np.linspace(lo, hi, 1000))
            except Exception as err:  # noqa: BLE001 - a peer that cannot build is reported
                print(f"<!-- {route} failed to build for {name}: {err!r:.100} -->")
                continue
            if hasattr(fn, "wait_compiled"):
                fn.wait_compiled()  # steady state: the kernel, not the early answers
            fns[route] = fn
        if header is None:
            header = list(fns)
            print("| expression | N | " + " | ".join(header)
                  + " | ours / fastest of numpy, symengine, numexpr, jax |")
            print("|---|---|" + "---|" * (len(header) + 1))
        for n in sizes:
            xs = np.linspace(lo, hi, n)
            ref = None
            times = {}
            for route, fn in list(fns.items()):
                with np.errstate(all="ignore"):
                    try:
                        val = fn(xs)
                    except Exception as err:  # noqa: BLE001 - e.g. JAX without besselj
                        print(f"<!-- {route} failed on {name}: {err!r:.100} -->")
                        del fns[route]
                        continue
                    parts = val if isinstance(val, (list, tuple)) else [val]
                    flat = np.concatenate([np.ravel(v) for v in parts])
                    if ref is None:
                        ref = flat
                    elif not np.allclose(flat, ref, rtol=1e-9, atol=1e-12, equal_nan=True):
                        print(f"<!-- {route} disagrees on {name} -->")
                    reps = repeat if n < 10**7 else max(2, repeat // 2)
                    times[route] = _best(fn, xs, reps, clock)
            peers = [times[r] for r in ("numpy", "symengine", "numexpr", "jax jit") if r in times]
            ours = times.get("theano", times["theano 1 thread"])
            ratio = ours / min(peers) if peers else float("nan")
            results.setdefault("steady", {}).setdefault(name, {})[n] = times
            cells = " | ".join(f"{times[r] * 1e3:.3g}" if r in times else "-" for r in header)
            print(f"| {name} | {n:.0e} | {cells} | {ratio:.2f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["first", "steady", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="N up to 1e5 only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--routes", default=",".join(BUILDERS),
                        help="first-result routes, comma-separated")
    parser.add_argument("--runs", type=int, default=1,
                        help="first-result part: best of this many child processes per cell")
    parser.add_argument("--only", default="", help="expressions to measure (comma-separated "
                        "prefixes of their names; default all)")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="steady state: wall clock, or the process's CPU time")
    args = parser.parse_args(argv)
    results = {"loadavg_start": os.getloadavg()}
    print(f"load average at start: {results['loadavg_start']}, CPUs: {os.cpu_count()}")
    if args.part in ("first", "both"):
        names = [n for n in EXPRESSIONS
                 if any(n.startswith(p.strip()) for p in args.only.split(",") if p.strip())]
        first_result([r.strip() for r in args.routes.split(",")], results, args.runs, names)
    if args.part in ("steady", "both"):
        sizes = [10**k for k in (range(3, 6) if args.quick else range(3, 8))]
        steady_state(sizes, args.repeat, results, args.clock)
    results["loadavg_end"] = os.getloadavg()
    print(f"\nload average at end: {results['loadavg_end']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
