"""The fallback scalar op generated from SymPy (:mod:`sympy_theano_printer.fallback`).

References are independent of SciPy and of SymPy's code printers: mpmath at
30 significant digits, its own functions (``mpmath.zeta``, ``lambertw``,
``bessely``, ``expint``, ``ei``, ``si``, ``ci``, ``fresnels``, ``airyai``,
``ellipk``, ...).  Where mpmath's value is not real the expected result is
NaN.  Tolerances are relative, ``K * eps`` of the output dtype: SciPy's
kernels (Cephes, AMOS, specfun) are documented to about 1e-15 relative
error, a few ulp, so ``K_SCIPY = 16`` leaves margin; points are kept away from
the zeros of each function, where a relative tolerance means nothing.

Every case is one output of a single compiled function per back end (NUMBA,
CVM, FAST_COMPILE), to keep compile time low.
"""
from __future__ import annotations

import math
import pickle
import warnings

import mpmath
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import sympy as sp
from pytensor.scalar.basic import Composite
from pytensor.tensor.elemwise import Elemwise

from sympy_theano_printer import UnsupportedExpressionError, theano_code, theano_function
from sympy_theano_printer.fallback import SymPyScalarOp

from conftest import assert_close_to_reference

K_SCIPY = 16
MODES = ["NUMBA", "CVM", "FAST_COMPILE"]

x, y = sp.symbols("x y")

#: (SymPy expression in x, mpmath reference, points); points include some where the value is complex.
CASES = [
    (sp.zeta(x), mpmath.zeta, [2.0, 3.5, 0.5, -1.5, 10.0, 1.5]),
    (sp.zeta(x, sp.Rational(1, 2)), lambda s: mpmath.zeta(s, 0.5), [2.0, 3.5, 1.5, 6.0, 2.5, 4.0]),
    (sp.LambertW(x), mpmath.lambertw, [1.0, 0.1, -0.3, 10.0, -1.0, 1e3]),
    (sp.LambertW(x, -1), lambda v: mpmath.lambertw(v, -1), [-0.3, -0.1, -0.01, 0.5, -0.2, -0.35]),
    (sp.bessely(1, x), lambda v: mpmath.bessely(1, v), [0.5, 1.0, 2.5, -1.0, 7.0, 20.0]),
    (sp.expint(2, x), lambda v: mpmath.expint(2, v), [0.5, 1.0, 2.5, -1.0, 7.0, 20.0]),
    (sp.expint(sp.Rational(1, 3), x), lambda v: mpmath.expint(mpmath.mpf(1) / 3, v), [0.5, 1.0, 2.5, -1.0, 7.0, 3.0]),
    (sp.Ei(x), mpmath.ei, [1.0, 2.5, -1.0, -5.0, 7.0, 0.1]),
    (sp.Si(x), mpmath.si, [0.5, 1.0, 2.5, -1.0, 7.0, 20.0]),
    (sp.Ci(x), mpmath.ci, [0.1, 1.0, 2.5, -1.0, 7.0, 0.3]),
    (sp.Shi(x), mpmath.shi, [0.5, 1.0, 2.5, -1.0, 7.0, 20.0]),
    (sp.Chi(x), mpmath.chi, [0.1, 1.0, 2.5, -1.0, 7.0, 20.0]),
    (sp.fresnels(x), mpmath.fresnels, [0.5, 1.0, 2.7, -1.0, 7.2, 0.1]),
    (sp.fresnelc(x), mpmath.fresnelc, [0.5, 1.1, 2.5, -1.0, 7.3, 0.1]),
    (sp.airyai(x), mpmath.airyai, [0.5, 1.0, 2.5, -1.0, 7.0, -0.5]),
    (sp.airybi(x), mpmath.airybi, [0.5, 1.0, 2.5, -1.0, 7.0, -0.5]),
    (sp.airyaiprime(x), lambda v: mpmath.airyai(v, 1), [0.5, 1.0, 2.5, -0.5, 7.0, 3.0]),
    (sp.elliptic_k(x), mpmath.ellipk, [0.5, 0.1, -2.0, 2.0, 0.99, -0.5]),
    (sp.elliptic_e(x), mpmath.ellipe, [0.5, 0.1, -2.0, 0.9, 0.99, -0.5]),
    (sp.elliptic_f(x, sp.Rational(1, 2)), lambda v: mpmath.ellipf(v, 0.5), [0.5, 0.1, -2.0, 1.0, 3.0, -0.5]),
    (sp.elliptic_e(x, sp.Rational(1, 2)), lambda v: mpmath.ellipe(v, 0.5), [0.5, 0.1, -2.0, 1.0, 3.0, -0.5]),
]


def _reference(fn, points):
    out = []
    for p in points:
        v = fn(mpmath.mpf(p))
        v = complex(v) if isinstance(v, (mpmath.mpc, complex)) else float(v)
        out.append(v.real if isinstance(v, complex) and v.imag == 0 else
                   (math.nan if isinstance(v, complex) else v))
    return out


def _real_or_nan(value):
    z = complex(value)
    return z.real if z.imag == 0 else math.nan


@pytest.fixture(scope="module")
def references():
    with mpmath.workdps(30):
        return [_reference(fn, pts) for _, fn, pts in CASES]


@pytest.mark.parametrize("mode", MODES)
def test_printed_special_functions_match_mpmath(mode, references):
    """One input vector holding every case's points, so that the ops fuse into few kernels."""
    points = np.concatenate([pts for _, _, pts in CASES])
    f = theano_function([x], [e for e, _, _ in CASES], dims={x: 1}, mode=mode)
    values = f(points)
    start = 0
    for (expr, _, pts), got, ref in zip(CASES, values, references):
        got = got[start:start + len(pts)]
        start += len(pts)
        assert_close_to_reference(got, ref, "float64", k=K_SCIPY, err_msg=f"{expr} at {pts} ({mode})")


def test_kernel_functions_run_in_nopython_numba():
    """The compiled SciPy kernels are called from Numba directly: no object-mode fallback."""
    exprs = [sp.zeta(x), sp.bessely(1, x), sp.Ei(x), sp.Ci(x), sp.fresnelc(x), sp.airybi(x),
             sp.elliptic_k(x), sp.expint(3, x), sp.Si(x) * sp.exp(-x) + sp.sin(x) ** 2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = theano_function([x], exprs, dims={x: 1}, mode="NUMBA")
        got = f(np.array([0.25, 1.5]))
    assert not [w for w in caught if "object mode" in str(w.message)]
    with mpmath.workdps(30):
        for e, g in zip(exprs, got):
            ref = [_real_or_nan(e.subs(x, v).evalf(30)) for v in (0.25, 1.5)]
            assert_close_to_reference(g, ref, "float64", k=K_SCIPY, err_msg=str(e))


@pytest.mark.parametrize("mode", MODES)
def test_gradient_matches_sympy_diff(mode):
    exprs = [sp.LambertW(x * y), sp.bessely(2, x) * y, sp.Ei(x) + sp.fresnels(y), sp.airyai(x * y),
             sp.elliptic_k(x / 4) * sp.Si(y)]
    tx, ty = pt.dvector("tx"), pt.dvector("ty")
    outs, grads = [], []
    for e in exprs:
        out = Elemwise(SymPyScalarOp([x, y], e))(tx, ty)
        outs.append(out)
        grads += pytensor.grad(out.sum(), [tx, ty])
    f = pytensor.function([tx, ty], outs + grads, mode=mode)
    xs, ys = np.array([0.5, 1.5, 2.5]), np.array([0.7, 0.3, 1.2])
    got = f(xs, ys)
    with mpmath.workdps(30):
        for i, e in enumerate(exprs):
            for j, expr in enumerate([e, sp.diff(e, x), sp.diff(e, y)]):
                ref = [_real_or_nan(expr.subs({x: sp.Float(a, 30), y: sp.Float(b, 30)}).evalf(30))
                       for a, b in zip(xs, ys)]
                value = got[i] if j == 0 else got[len(exprs) + 2 * i + j - 1]
                assert_close_to_reference(value, ref, "float64", k=4 * K_SCIPY,
                                          err_msg=f"d{j} of {e} ({mode})")


def test_gradient_undefined_where_sympy_cannot_differentiate():
    tx = pt.dvector("tx")
    out = Elemwise(SymPyScalarOp([x], sp.zeta(x)))(tx)
    with pytest.raises(pytensor.gradient.NullTypeGradError, match="zeta"):
        pytensor.grad(out.sum(), tx)


def test_integer_input_gets_zero_gradient_and_float_output():
    n = pt.lvector("n")
    tx = pt.dvector("tx")
    out = Elemwise(SymPyScalarOp([y, x], sp.bessely(y, x)))(n, tx)
    assert out.dtype == "float64"
    gn, gx = pytensor.grad(out.sum(), [n, tx])
    f = pytensor.function([n, tx], [out, gn, gx], mode="FAST_COMPILE")
    v, dn, dx = f(np.array([1, 2]), np.array([1.5, 2.5]))
    np.testing.assert_array_equal(dn, 0)
    with mpmath.workdps(30):
        ref = [float(mpmath.bessely(k, a)) for k, a in ((1, 1.5), (2, 2.5))]
        dref = [float(mpmath.bessely(k, a, 1)) for k, a in ((1, 1.5), (2, 2.5))]
    assert_close_to_reference(v, ref, "float64", k=K_SCIPY)
    assert_close_to_reference(dx, dref, "float64", k=4 * K_SCIPY)


def test_float32_stays_float32():
    f = theano_function([x], [sp.Si(x) + 1], dims={x: 1}, dtypes={x: "float32"}, mode="CVM")
    got = f(np.array([0.5, 2.0], dtype="float32"))
    with mpmath.workdps(30):
        ref = [mpmath.si(0.5) + 1, mpmath.si(2.0) + 1]
    assert_close_to_reference(got, ref, "float32", k=4)


@pytest.mark.parametrize("mode", ["NUMBA", "CVM"])
def test_two_fallback_ops_in_one_graph_are_not_merged_and_fuse(mode):
    """Si and Ci of the same input: two ops, two values, also inside one fused kernel."""
    tx = pt.dvector("tx")
    si, ci = (Elemwise(SymPyScalarOp([x], e)) for e in (sp.Si(x), sp.Ci(x)))
    out = pt.exp(si(tx)) * ci(tx) + si(tx) - ci(tx)
    f = pytensor.function([tx], [out, si(tx), ci(tx)], mode=mode)
    xs = np.array([0.5, 1.5, 3.0])
    got = f(xs)
    with mpmath.workdps(30):
        s = [mpmath.si(v) for v in xs]
        c = [mpmath.ci(v) for v in xs]
        ref = [mpmath.exp(a) * b + a - b for a, b in zip(s, c)]
    assert_close_to_reference(got[0], ref, "float64", k=K_SCIPY)
    assert_close_to_reference(got[1], s, "float64", k=K_SCIPY)
    assert_close_to_reference(got[2], c, "float64", k=K_SCIPY)
    composites = [n for n in f.maker.fgraph.apply_nodes
                  if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]
    inner = [type(m.op) for c in composites for m in c.op.scalar_op.fgraph.apply_nodes]
    assert inner.count(SymPyScalarOp) == 2, f"not fused: {f.maker.fgraph.apply_nodes}"


def test_equality_and_hash_follow_the_expression():
    a, b = sp.symbols("a b")
    assert SymPyScalarOp([x], sp.Si(x)) == SymPyScalarOp([a], sp.Si(a))
    assert hash(SymPyScalarOp([x], sp.Si(x))) == hash(SymPyScalarOp([a], sp.Si(a)))
    assert SymPyScalarOp([x], sp.Si(x)) != SymPyScalarOp([x], sp.Ci(x))
    assert SymPyScalarOp([x, y], x - y) != SymPyScalarOp([y, x], x - y)
    assert SymPyScalarOp([x], sp.Si(x)).c_code_cache_version() != SymPyScalarOp([x], sp.Ci(x)).c_code_cache_version()


def test_pickle_round_trip_of_op_and_function():
    op = SymPyScalarOp([x, y], sp.LambertW(x) * sp.fresnels(y))
    clone = pickle.loads(pickle.dumps(op))
    assert clone == op and hash(clone) == hash(op)
    assert clone.impl(1.0, 0.5) == op.impl(1.0, 0.5)
    tx = pt.dvector("tx")
    f = pytensor.function([tx], Elemwise(SymPyScalarOp([x], sp.Ei(x) + sp.airyai(x)))(tx), mode="CVM")
    g = pickle.loads(pickle.dumps(f))
    xs = np.array([0.5, 2.0])
    np.testing.assert_array_equal(g(xs), f(xs))
    with mpmath.workdps(30):
        assert_close_to_reference(g(xs), [mpmath.ei(v) + mpmath.airyai(v) for v in xs], "float64", k=K_SCIPY)


@pytest.mark.parametrize("name", ['x); system("rm -rf ~"); (', "α β\n*/ #define", "stp_a0"])
def test_hostile_symbol_names_never_reach_generated_code(name):
    s, t = sp.Symbol(name), sp.Symbol("stp_a1")
    op = SymPyScalarOp([t, s], sp.Si(s) * t + s, name=name)
    node = op.make_node(pytensor.scalar.float64(), pytensor.scalar.float64())
    code = op.c_code(node, "node0", ["in0", "in1"], ["out0"], {"fail": "FAIL;"}) + op.c_support_code()
    src, _ = op.numba_source()
    if name != "stp_a0":  # a user name equal to a stand-in's still computes the right thing
        assert name not in code and name not in src
    tx = pt.dvector("tx")
    outs = [Elemwise(op)(tx, tx + 1)]
    for mode in ("CVM", "NUMBA"):
        f = pytensor.function([tx], outs, mode=mode)
        got = f(np.array([0.5, 2.0]))[0]
        with mpmath.workdps(30):
            ref = [mpmath.si(v + 1) * v + v + 1 for v in (0.5, 2.0)]
        assert_close_to_reference(got, ref, "float64", k=K_SCIPY)
    g = theano_function([s], [sp.LambertW(s) + s], dims={s: 1}, mode="CVM")
    with mpmath.workdps(30):
        assert_close_to_reference(g(np.array([1.0])), [mpmath.lambertw(1) + 1], "float64", k=K_SCIPY)


def test_elementary_expression_op_compiles_in_c_and_numba():
    op = SymPyScalarOp([x, y], sp.Piecewise((sp.exp(x) * y, x > 0), (sp.sin(y) / 3, True)))
    tx, ty = pt.dvector(), pt.dvector()
    for mode in ("CVM", "NUMBA", "FAST_COMPILE"):
        f = pytensor.function([tx, ty], Elemwise(op)(tx, ty), mode=mode)
        got = f(np.array([1.0, -1.0]), np.array([2.0, 0.5]))
        ref = [math.exp(1.0) * 2.0, math.sin(0.5) / 3]
        assert_close_to_reference(got, ref, "float64", k=4, err_msg=mode)


def test_constant_arguments_are_evaluated_by_sympy():
    f = theano_function([x], [x + sp.zeta(3) + sp.LambertW(-1)], mode="FAST_COMPILE")
    assert math.isnan(f(0.0))
    g = theano_function([x], [x + sp.zeta(3)], mode="FAST_COMPILE")
    with mpmath.workdps(30):
        assert_close_to_reference(g(1.0), 1 + mpmath.zeta(3), "float64", k=1)


def test_unsupported_functions_raise_the_clear_error():
    with pytest.raises(UnsupportedExpressionError, match="mathieus") as info:
        theano_code(sp.mathieus(1, 2, x) + 1, cache={})
    assert "cannot generate code" in str(info.value)

    class myzeta(sp.zeta):
        pass

    with pytest.raises(UnsupportedExpressionError, match="myzeta"):
        theano_code(myzeta(x), cache={})
    with pytest.raises(UnsupportedExpressionError, match="LambertW"):
        theano_code(sp.LambertW(x, 2), cache={})


def test_bad_op_arguments_are_named():
    with pytest.raises(ValueError, match="depends on.*y"):
        SymPyScalarOp([x], x + y)
    with pytest.raises(ValueError, match="repeat"):
        SymPyScalarOp([x, x], x)
    with pytest.raises(ValueError, match="non-real"):
        SymPyScalarOp([sp.Symbol("z", real=False)], sp.Symbol("z", real=False))
    with pytest.raises(TypeError, match="real numbers"):
        Elemwise(SymPyScalarOp([x], sp.Si(x)))(pt.zvector())


def test_jax_backend():
    pytest.importorskip("jax")
    tx = pt.dvector()
    f = pytensor.function([tx], Elemwise(SymPyScalarOp([x], sp.exp(x) * sp.sin(x)))(tx), mode="JAX")
    assert_close_to_reference(f(np.array([0.5])), [math.exp(0.5) * math.sin(0.5)], "float64", k=4)
    with pytest.raises(NotImplementedError, match="JAX printer cannot print Ei"):
        pytensor.function([tx], Elemwise(SymPyScalarOp([x], sp.Ei(x)))(tx), mode="JAX")
