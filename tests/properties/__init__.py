"""Property-test kit: expression strategies, 30-digit references with error bounds, batch compiling.

* :mod:`properties.expressions`: hypothesis strategies: ``real_expressions``,
  ``boolean_expressions``, ``scalars``, and ``cases`` / ``gradient_cases``
  (an expression with rows of inputs inside its domain, each with its
  reference and error bound), ``batches`` of them;
* :mod:`properties.reference`: the mpmath evaluator (SymPy's real-line
  conventions), the domain check and the first-order rounding-error bound;
* :mod:`properties.harness`: compiling a batch of cases as one function on a
  back end, comparing with the references, back-end availability, the
  example budgets of the hypothesis profiles, the grid layout of the
  ``ufuncify`` broadcast property;
* :mod:`properties.matrices`: matrix-expression trees over ``MatrixSymbol``
  inputs, their 30-digit mpmath references and componentwise error bounds;
* ``compute_patterns`` (in :mod:`properties.expressions`): subtrees shaped
  like the left sides of ``expand_compute``'s rules.

Used by ``tests/test_properties.py`` (CPU back ends) and
``tests/test_properties_gpu.py`` (``pytest -m gpu``).

The properties below are all in ``tests/test_properties.py`` now (lambdify,
ufuncify, matrices, expand_compute); the recipes stay as the pattern to
follow.  Adding a property for another route is a few lines, because a
:class:`~properties.expressions.Case` carries everything a comparison needs
(``case.expr``, ``case.symbols``, ``case.arrays()``, ``case.analyses``)::

    @given(data=st.data())
    def test_lambdify_matches_the_reference(data):
        case = data.draw(cases("float64"))
        f = sympy.lambdify(case.symbols, case.expr, "theano")
        harness.assert_rows(case, f(*case.arrays()), case.analyses, "lambdify")

* ``lambdify(..., 'theano')`` against ``lambdify(..., 'mpmath')``: the
  reference *is* the mpmath value at 30 digits; to compare with SymPy's own
  mpmath printer too, evaluate ``sympy.lambdify(case.symbols, case.expr,
  "mpmath")`` under ``mpmath.workdps(30)`` at each row and assert it equals
  ``analysis.value`` to 25 digits;
* ``ufuncify``: call the ufunc on broadcast shapes of ``case.arrays()`` (e.g.
  ``a[:, None]`` against ``b[None, :]``) and compare each element with the
  analysis of its own row (draw the rows of a grid, or compare with an
  element-by-element loop of the same ufunc on scalars);
* ``expand_compute(expr)``: ``case.with_expr(expand_compute(case.expr))``
  gives the same rows with the reference and bound of the rewritten tree
  (rows outside its domain dropped); assert the two references agree to 20
  digits and the compiled rewritten function is within its own bound;
* matrix expressions: a strategy drawing ``MatrixSymbol`` shapes and
  ``MatAdd``/``MatMul``/``Transpose``/``Inverse`` trees, with NumPy (or mpmath
  matrices) as the reference; the batch helpers take any case object with
  ``expr``, ``symbols``, ``arrays()`` and a comparison.

A new MAPPING entry needs one line in ``expressions.UNARY`` (with the domain
of its argument, a key of ``expressions.GUARDS``), ``expressions.BINARY``, or
``expressions._special`` (orders and parameters), its mpmath function in
``reference.REAL_FUNCTIONS``, and, if it is not one libm call (``K_LIBM``),
its error class in ``reference._SPECIAL`` or ``reference.error_sources``;
``test_strategies_cover_the_mapping_table`` fails until then.
"""
