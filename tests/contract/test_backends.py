"""The one backend seam (shinnet.backends) shared by contraction and sampling: the registry, its
refusals, a registered toy backend seen by the contraction's array provider, and the samplers
drawing their device and conversions from it."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import shinnet.backends as seam
from shinnet.contract.backends import ArrayProvider
from shinnet.sampling import backends as sampling_backends
from shinnet.tensors.shin import shin_tensors
from shinnet.zoo import random_mlp

# the module, not the function shinnet.contract re-exports under the same name
contract_backends = importlib.import_module("shinnet.contract.backends")


@pytest.fixture
def fresh_table(monkeypatch):
    """A copy of the backend table for one test, so registrations do not leak into others."""
    monkeypatch.setattr(seam._TABLE, "table", dict(seam._TABLE.table))


def test_contraction_re_exports_the_shared_seam():
    assert seam.backends() == ["numpy", "torch"]
    for name in ("backends", "register_backend", "to_numpy", "converter", "default_device", "torch_factored_dense"):
        assert getattr(contract_backends, name) is getattr(seam, name)
    assert seam.backend("numpy").cpu_only and not seam.backend("torch").cpu_only
    assert seam.backend("torch").factored_dense is seam.torch_factored_dense


def test_unknown_backend_dtype_and_device_are_refused():
    with pytest.raises(ValueError, match="unknown backend 'jax'; registered: numpy, torch"):
        seam.backend("jax")
    with pytest.raises(ValueError, match="unknown backend 'jax'; registered: numpy, torch"):
        ArrayProvider([object()], False, backend="jax")
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32', got 'float16'"):
        seam.numpy_dtype("float16")
    with pytest.raises(ValueError, match="the numpy backend runs on the CPU only, got device='cuda'"):
        seam.backend("numpy").device("cuda")
    assert seam.backend("numpy").device(None) is None and seam.backend("numpy").device("cpu") == "cpu"


def test_registered_toy_backend_feeds_the_array_provider(fresh_table):
    calls = []

    def convert(x, dtype, device):
        calls.append((x.shape, dtype, device))
        return np.asarray(x, dtype=np.float32 if dtype == "float32" else np.float64) * 1.0

    seam.register_backend("toy", convert, lambda: "cpu")
    assert "toy" in seam.backends() and "toy" in contract_backends.backends()
    shin = shin_tensors(random_mlp(3, 5, seed=0), 3)
    prov = ArrayProvider([shin], False, backend="toy", dtype="float32")
    assert prov.device == "cpu" and prov.itemsize == 4
    got = prov.get(("dense", 2))
    np.testing.assert_allclose(got, shin.dense(2), rtol=1e-6)
    assert calls == [((3, 3), "float32", "cpu")]


def test_samplers_take_their_device_and_conversion_from_the_seam(fresh_table):
    mlp = random_mlp(3, 5, seed=0)
    with pytest.raises(ValueError, match="unknown backend 'jax'; registered: numpy, torch"):
        sampling_backends.make_backend("jax", mlp, None)
    seam.register_backend("toy", lambda x, dtype, device: x)
    with pytest.raises(ValueError, match="backend 'toy' has no sampler"):
        sampling_backends.make_backend("toy", mlp, None)
    with pytest.raises(ValueError, match="CPU only"):
        sampling_backends.make_backend("numpy", mlp, "cuda")
    torch = pytest.importorskip("torch")
    engine = sampling_backends.make_backend("torch", mlp, "cpu")
    assert engine.device == torch.device("cpu")
    vals = engine.to_numpy([torch.tensor(1.5, dtype=torch.float64), 2.0])
    assert vals.dtype == np.float64 and vals.tolist() == [1.5, 2.0]
