"""The value and gradient properties on an NVIDIA GPU (``pytest -m gpu``).

PyTensor has no CUDA back end of its own any more; the two routes are

* ``mode="JAX"`` with a CUDA build of jaxlib (``pip install "jax[cuda12]"``):
  the inputs are put on the GPU (``jax.device_put``), the compiled function
  is called on them as they are (``trust_input``, so PyTensor does not copy
  them back to NumPy), and the outputs must come back as arrays that live on
  the same device;
* ``mode="PYTORCH"`` with a CUDA build of torch: the inputs are CUDA tensors,
  the computation runs where they are, and PyTensor's PyTorch linker copies
  every output back to the host (``out.cpu().numpy()``), so the outputs are
  NumPy arrays.

The cases, references and tolerances are those of ``tests/test_properties.py``
(:mod:`properties`): values, gradients, and matrix expressions.  Without a GPU every test here is skipped with the reason
(no jax / no CUDA device for jax / no torch / ``torch.cuda.is_available()``
is False).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties import harness
from properties.expressions import batches, boolean_expressions, cases, gradient_cases
from properties.matrices import assert_matrix_close, evaluate, matrix_cases
from sympy_theano_printer import theano_function

pytestmark = pytest.mark.gpu

DTYPES = ("float64", "float32")
#: Examples per test in the ``ci`` profile (each compiles a function; torch.compile is slow to start).
GPU_EXAMPLES = 4
GPU_GRADIENT_EXAMPLES = 2


@pytest.fixture(scope="module")
def jax_gpu():
    """The first GPU device jax sees; skips with the reason when there is none."""
    try:
        import jax
    except ImportError:
        pytest.skip("jax is not installed; the JAX GPU properties need a CUDA build of jaxlib "
                    "(pip install 'jax[cuda12]')")
    try:
        devices = jax.devices("gpu")
    except RuntimeError as err:
        pytest.skip(f"jax {jax.__version__} has no GPU device ({err}); the JAX GPU properties need "
                    "an NVIDIA GPU and a CUDA build of jaxlib (pip install 'jax[cuda12]')")
    return devices[0]


@pytest.fixture(scope="module")
def torch_cuda():
    """The CUDA device of torch; skips with the reason when there is none."""
    try:
        import torch
    except ImportError:
        pytest.skip("torch is not installed; the PyTorch GPU properties need a CUDA build of torch")
    if not torch.cuda.is_available():
        pytest.skip(f"torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False: "
                    "no NVIDIA GPU or driver here, or a CPU-only build of torch)")
    return torch.device("cuda")


def _value_batch(data, dtype):
    mixed = st.one_of(cases(dtype), cases(dtype), cases(dtype), cases(dtype, boolean_expressions()))
    return data.draw(batches(mixed, 4, 8), label="batch")


def _as_list(out, n):
    return [out] if n == 1 else list(out)


# ---------------------------------------------------------------------------- JAX on CUDA
def _on_jax_device(arrays, device):
    import jax

    return [jax.device_put(a, device) for a in arrays]


def _assert_on(outputs, device):
    for o in outputs:
        assert set(o.devices()) == {device}, f"an output is on {o.devices()}, not on {device}"


@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(GPU_EXAMPLES)
@given(data=st.data())
def test_values_jax_gpu(jax_gpu, dtype, data):
    batch = _value_batch(data, dtype)
    fn, arrays = harness.compile_values(batch, "JAX")
    fn.theano_function.trust_input = True  # hand the device arrays to the jitted function as they are
    outputs = _as_list(fn(*_on_jax_device(arrays, jax_gpu)), len(batch))
    _assert_on(outputs, jax_gpu)
    harness.check_values(batch, [np.asarray(o) for o in outputs], f"JAX on {jax_gpu}")


@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(GPU_GRADIENT_EXAMPLES)
@given(data=st.data())
def test_gradient_jax_gpu(jax_gpu, dtype, data):
    batch = data.draw(batches(gradient_cases(dtype), 2, 5), label="batch")
    fn, arrays, labels = harness.compile_gradients(batch, "JAX")
    fn.trust_input = True
    outputs = fn(*_on_jax_device(arrays, jax_gpu))
    _assert_on(outputs, jax_gpu)
    results = [(k, s, route, np.asarray(v)) for (k, s, route), v in zip(labels, outputs)]
    harness.check_gradients(batch, results, f"JAX on {jax_gpu}")


def jax_matrix_property(device, dtype, data):
    """Matrix trees (``properties.matrices``) compiled with JAX, inputs and outputs on ``device``."""
    case = data.draw(matrix_cases(dtype), label="matrices")
    memo: dict = {}
    references = [evaluate(e, case.values, memo) for e in case.exprs]
    fn = theano_function(list(case.symbols), list(case.exprs), dtypes={s: case.dtype for s in case.symbols},
                         mode="JAX", on_unused_input="ignore")
    fn.theano_function.trust_input = True
    outputs = _as_list(fn(*_on_jax_device(case.arrays(), device)), len(case.exprs))
    _assert_on(outputs, device)
    for expr, out, ref in zip(case.exprs, outputs, references):
        assert_matrix_close(np.asarray(out), ref, dtype, f"JAX on {device}: {expr} with {case}")


@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(GPU_EXAMPLES)
@given(data=st.data())
def test_matrix_expressions_jax_gpu(jax_gpu, dtype, data):
    jax_matrix_property(jax_gpu, dtype, data)


# ---------------------------------------------------------------------------- PyTorch on CUDA
def _on_torch_device(arrays, device):
    import torch

    return [torch.as_tensor(a, device=device) for a in arrays]


@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(GPU_EXAMPLES)
@given(data=st.data())
def test_values_pytorch_gpu(torch_cuda, dtype, data):
    batch = _value_batch(data, dtype)
    fn, arrays = harness.compile_values(batch, "PYTORCH")
    fn.theano_function.trust_input = True  # CUDA tensors go to torch as they are
    outputs = _as_list(fn(*_on_torch_device(arrays, torch_cuda)), len(batch))
    harness.check_values(batch, [np.asarray(o) for o in outputs], f"PYTORCH on {torch_cuda}")


@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(GPU_GRADIENT_EXAMPLES)
@given(data=st.data())
def test_gradient_pytorch_gpu(torch_cuda, dtype, data):
    batch = data.draw(batches(gradient_cases(dtype), 2, 5), label="batch")
    fn, arrays, labels = harness.compile_gradients(batch, "PYTORCH")
    fn.trust_input = True
    outputs = fn(*_on_torch_device(arrays, torch_cuda))
    results = [(k, s, route, np.asarray(v)) for (k, s, route), v in zip(labels, outputs)]
    harness.check_gradients(batch, results, f"PYTORCH on {torch_cuda}")


@pytest.mark.parametrize("dtype", DTYPES)
@harness.expensive(GPU_EXAMPLES)
@given(data=st.data())
def test_matrix_expressions_pytorch_gpu(torch_cuda, dtype, data):
    case = data.draw(matrix_cases(dtype), label="matrices")
    memo: dict = {}
    references = [evaluate(e, case.values, memo) for e in case.exprs]
    fn = theano_function(list(case.symbols), list(case.exprs), dtypes={s: case.dtype for s in case.symbols},
                         mode="PYTORCH", on_unused_input="ignore")
    fn.theano_function.trust_input = True
    outputs = _as_list(fn(*_on_torch_device(case.arrays(), torch_cuda)), len(case.exprs))
    for expr, out, ref in zip(case.exprs, outputs, references):
        assert_matrix_close(np.asarray(out), ref, dtype, f"PYTORCH on {torch_cuda}: {expr} with {case}")
