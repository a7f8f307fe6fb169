"""The command line: ``main([...])`` and ``python -m sympy_theano_printer``."""
import re
import subprocess
import sys

import pytest
import sympy

from sympy_theano_printer.cli import format_table, main, parse_expression


def _row(text, label):
    """The cells after ``label`` on the table line that starts with it."""
    for line in text.splitlines():
        if line.startswith(label + "  "):
            return line[len(label):].split()
    raise AssertionError(f"no row {label!r} in:\n{text}")


def test_expression_output(capsys):
    code = main(["sin(x)**2 + cos(x)", "--args", "x", "--n", "2000", "--repeat", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "expression : sin(x)**2 + cos(x)" in out
    assert "Composite{(sqr(sin(i0)) + cos(i0))}" in out  # the dprint of the fused graph
    # sin, sqr, cos, add (+ one DimShuffle of the constant 2 when printed, 1-d x)
    assert _row(out, "apply nodes, printed graph (no rewrites)") == ["5"]
    assert _row(out, "apply nodes after rewrites, fusion excluded") == ["4"]
    assert _row(out, "apply nodes of the compiled function") == ["1"]
    assert _row(out, "scalar ops in the fused kernel(s) (n-ary add/mul = n-1)") == ["4"]
    cells = _row(out, "PyTensor (NUMBA (default))")
    setup, ms, rel, absolute = map(float, cells)
    assert rel < 1e-10 and absolute < 1e-14 and ms > 0
    assert re.search(r"PyTensor / numpy time: \d+\.\d\d", out)


def test_expression_after_double_dash(capsys):
    assert main(["--args", "x", "--n", "3", "--repeat", "1", "--", "-x**2"]) == 0
    assert "expression : -x**2" in capsys.readouterr().out


def test_grad_and_two_arguments(capsys):
    assert main(["x*exp(-y)", "--args", "x,y", "--grad", "--n", "50", "--repeat", "1",
                 "--mode", "fast_compile"]) == 0
    out = capsys.readouterr().out
    assert "outputs    : the expression and its derivative(s) by x, y" in out
    assert "mode       : FAST_COMPILE" in out
    rel = float(_row(out, "PyTensor (FAST_COMPILE)")[2])
    assert rel < 1e-12


def test_example_hydrogen(capsys):
    assert main(["--example", "hydrogen", "--n", "500", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert _row(out, "SymPy alone")[:3] == ["27", "17", "28"]
    assert _row(out, "PyTensor alone")[:3] == ["24", "18", "34"]
    assert _row(out, "SymPy + PyTensor")[:3] == ["17", "15", "26"]
    assert _row(out, "optimize=True")[:3] == ["-", "14", "19"]
    for label in ("SymPy alone", "PyTensor alone", "SymPy + PyTensor", "optimize=True"):
        assert float(_row(out, label)[3]) < 1e-12
    baseline = _row(out, "numpy lambdify (simplified)")
    assert baseline[:3] == ["-", "-", "-"] and float(baseline[3]) < 1e-12
    assert "PyTensor alone 16 nodes / 29 ops" in out


def test_example_kalman_small_size(capsys):
    """The Kalman comparison at n = 40, k = 20 (the Python linker keeps compilation short;
    timings are printed, never asserted)."""
    assert main(["--example", "kalman", "--n", "40", "--repeat", "1", "--mode", "fast_compile"]) == 0
    out = capsys.readouterr().out
    rows = {}
    for line in out.splitlines():
        if line.startswith("40  "):
            cells = line.split()
            rows[" ".join(cells[2:-4])] = cells[-4:]
    assert set(rows) == {"plain", "assumptions", "blocked", "numpy (hand-written)",
                         "scipy (hand-written)"}
    for label, (setup, ms, speedup, diff) in rows.items():
        assert float(ms) > 0 and float(speedup) > 0, label
        assert float(diff) < 1e-12, label  # every variant against every other
        assert (setup == "-") == ("hand-written" in label), label
    assert re.search(r"n = 40, k = 20: assumptions \d+\.\d\dx faster than plain; "
                     r"its time / SciPy's \d+\.\d\d$", out, re.MULTILINE)
    assert "Blocked against unblocked round-off, n = 40, k = 20:" in out
    covariance = _row(out, "covariance")
    assert len(covariance) == 4 and all(float(c) < 1e-12 for c in covariance[1:])
    assert float(_row(out, "uniform")[0]) > 1e3  # cond(S) of the uniform data
    assert "mode           FAST_COMPILE" in out


@pytest.mark.parametrize("argv, message", [
    (["sin(x"], "give at least one argument"),
    (["sin(x", "--args", "x"], "cannot parse 'sin(x'"),
    (["x +* 2", "--args", "x"], "cannot parse"),
    (["sin(x)", "--args", "x", "y"], "y do not occur in the expression sin(x)"),
    (["sin(x) + y", "--args", "x"], "uses y, which is not among the arguments"),
    (["f(x)", "--args", "x"], "unknown function(s) in the expression: f"),
    (["open(x)", "--args", "x"], "unknown function(s) in the expression: open"),
    (["__import__(x)", "--args", "x"], "names starting with '_'"),
    (["x.func", "--args", "x"], "attribute access"),
    (["S('x')", "--args", "x"], "string literals"),
    (["(x, x)", "--args", "x"], "not a scalar expression"),
    (["x", "--args", "2x"], "not a valid symbol name"),
    (["x", "--args", "x", "x"], "given twice"),
    (["primepi(x)", "--args", "x"], "cannot translate primepi"),
    (["x", "--args", "x", "--n", "0"], "expected a positive integer"),
    (["x", "--args", "x", "--mode", "PYTHON"], "invalid choice"),
    ([], "give an expression"),
    (["--args", "x", "sin(x)"], "give an expression, before --args"),
    (["x", "--example", "hydrogen"], "--example takes no expression"),
    (["x", "--example", "kalman"], "--example takes no expression"),
    (["--example", "kalman", "--n", "1"], "must be at least 2"),
])
def test_usage_errors_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "sympy-theano: error:" in captured.err
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_jax_mode_needs_jax(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    with pytest.raises(SystemExit) as exc:
        main(["x", "--args", "x", "--mode", "jax"])
    assert exc.value.code == 2
    assert "pip install jax" in capsys.readouterr().err


def test_parse_expression():
    expr, symbols = parse_expression("x^2 + beta*sqrt(x) + max(x, 1)", ["x", "beta"])
    x, beta = symbols
    assert symbols == list(sympy.symbols("x beta"))
    assert expr == x**2 + beta * sympy.sqrt(x) + sympy.Max(x, 1)
    expr, _ = parse_expression("exp(-x) * E + pi", ["x"])
    assert expr == sympy.exp(-x) * sympy.E + sympy.pi


def test_parser_sees_no_builtins():
    # eval, exec, getattr are not reachable: they parse as unknown functions
    for name in ("eval", "exec", "getattr", "globals"):
        with pytest.raises(ValueError, match="unknown function"):
            parse_expression(f"{name}(x)", ["x"])


def test_format_table():
    text = format_table(["a", "bb"], [[1, None], ["long", 2.5]])
    assert text.splitlines() == ["a     bb", "----  ---", "1     -", "long  2.5"]


def test_python_m_example_hydrogen():
    proc = subprocess.run([sys.executable, "-m", "sympy_theano_printer", "--example", "hydrogen"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "SymPy + PyTensor" in proc.stdout
