"""The torch backend end to end: dense vertex tensors built on the device, float64 equal to numpy,
float32 within its rounding.  The CUDA tests run only where a GPU is present (skipped otherwise);
the same code path is checked on the CPU device everywhere."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import shinnet
from shinnet import TwoLayerMLP
from shinnet.expansions import cumulants
from shinnet.contract.backends import ArrayProvider, to_numpy, torch_factored_dense

torch = pytest.importorskip("torch")
_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not _CUDA, reason="no CUDA device")


def _model(d=4, m=11, seed=0):
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.4 * rng.standard_normal(m),
                       a=rng.standard_normal(m) / np.sqrt(m), c=0.2, hidden="relu")


def _rel(a, b):
    return max(abs(a[n] - b[n]) / abs(b[n]) for n in b)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_dense_tensor_built_on_device_equals_numpy_build(device):
    shin = shinnet.shin_tensors(_model(), 5)
    for k in (1, 2, 3, 5):
        T = torch_factored_dense(shin.weights(k), shin.U, k, "float64", device, chunk_bytes=4096.0)
        assert T.device.type == device and T.dtype == torch.float64
        np.testing.assert_allclose(to_numpy(T), shin.dense(k), rtol=1e-12, atol=1e-14 * np.abs(shin.dense(k)).max())


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_provider_builds_dense_sources_on_the_device_and_charges_them(device):
    shin = shinnet.shin_tensors(_model(), 4)
    prov = ArrayProvider([shin], False, backend="torch", dtype="float64", device=device)
    T = prov.get(("dense", 4))
    assert T.device.type == device
    assert ("numpy-source", ("dense", 4)) not in prov._cache  # no host d^k array was made
    assert prov.dense_build_flops == 2.0 * shin.m * shin.d**4


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
@pytest.mark.parametrize("representation", ["dense", "auto"])
def test_torch_float64_cumulants_equal_numpy(device, representation):
    model = _model(seed=1)
    ref = cumulants(model, 4, 4, representation=representation)
    got = cumulants(model, 4, 4, backend="torch", device=device, representation=representation)
    assert got.settings["device"] == device
    assert _rel(got.kappa, ref.kappa) < 1e-11


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_torch_float32_cumulants_within_single_precision_rounding(device):
    # float32 relative rounding is 6e-8 per operation; a diagram sums <= m^n d^K-sized products
    # with cancellations, so kappa_n is checked against float64 at 1e-3 relative (measured ~1e-6)
    model = _model(seed=2)
    ref = cumulants(model, 4, 4)
    got = cumulants(model, 4, 4, backend="torch", device=device, dtype="float32")
    assert _rel(got.kappa, ref.kappa) < 1e-3


@needs_cuda
def test_resummed_expansion_on_cuda_equals_numpy():
    model = _model(d=8, m=12, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cumulants(model, 4, expansion="resummed", max_edges=4)
        got = cumulants(model, 4, expansion="resummed", max_edges=4, backend="torch", device="cuda")
    assert _rel(got.kappa, ref.kappa) < 1e-11


def test_cuda_tests_skip_cleanly_without_a_gpu():
    if _CUDA:
        pytest.skip("a GPU is present: the CUDA tests above ran")
    with pytest.raises((AssertionError, RuntimeError)):
        torch.zeros(1, device="cuda")
