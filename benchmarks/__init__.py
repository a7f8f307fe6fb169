"""The benchmark suite of sympy_theano_printer against the peers a user would pick instead.

Run it as a script: ``python benchmarks/run.py`` (``--quick`` for a one-minute
run, ``--help`` for the options).  The modules, one per concern:

* :mod:`benchmarks.expressions`: the expressions, their sample ranges and
  their mpmath references;
* :mod:`benchmarks.routes`: how each route (ours and the peers) builds a
  callable from an expression, and why a route cannot;
* :mod:`benchmarks.measure`: set-up and steady-state timing, the
  memory-bandwidth floor, the largest relative error;
* :mod:`benchmarks.kalman`: the Kalman filter's routes (N is the matrix size);
* :mod:`benchmarks.report`: the machine description, JSON, Markdown and PNG plots.
"""
