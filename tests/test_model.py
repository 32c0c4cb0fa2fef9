"""Tests of TwoLayerMLP (shinnet/model.py) and its torch conversion (shinnet/torch_modules.py)."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
import scipy.stats
import torch

import shinnet
from shinnet import activations
from shinnet.model import TwoLayerMLP


def _mlp(d=4, m=9, seed=0, hidden="relu", output="identity", c=0.25):
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(
        W=rng.standard_normal((m, d)) / np.sqrt(d),
        b=0.5 * rng.standard_normal(m),
        a=rng.standard_normal(m) / np.sqrt(m),
        c=c,
        hidden=hidden,
        output=output,
    )


def _relu_mean(mu, s):
    """E[relu(N(mu, s^2))] = s phi(mu/s) + mu Phi(mu/s)."""
    return s * scipy.stats.norm.pdf(mu / s) + mu * scipy.stats.norm.cdf(mu / s)


# ------------------------------------------------------------------ construction
def test_forward_matches_explicit_formula_and_flops_per_sample():
    mlp = _mlp(output="relu")
    x = np.random.default_rng(1).standard_normal((7, 4))
    f = mlp.c + np.maximum(x @ mlp.W.T + mlp.b, 0) @ mlp.a
    assert np.allclose(mlp.preactivation(x), f, rtol=1e-14, atol=1e-14)
    assert np.allclose(mlp(x), np.maximum(f, 0), rtol=1e-14, atol=1e-14)
    m, d = mlp.m, mlp.d
    assert mlp.flops_per_sample() == 2 * m * d + m + m * 1.0 + 2 * m + 1.0


def test_constructor_rejects_bad_shapes_nan_and_unknown_activations():
    W, b, a = np.ones((3, 2)), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="W must be 2-dimensional"):
        TwoLayerMLP(W=np.ones(3), b=b, a=a)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        TwoLayerMLP(W=W, b=np.zeros(2), a=a)
    with pytest.raises(ValueError, match=r"a must have shape \(3,\)"):
        TwoLayerMLP(W=W, b=b, a=np.ones(4))
    with pytest.raises(ValueError, match="W contains NaN or inf"):
        TwoLayerMLP(W=np.array([[1.0, np.nan]] * 3), b=b, a=a)
    with pytest.raises(ValueError, match="c must be finite"):
        TwoLayerMLP(W=W, b=b, a=a, c=np.inf)
    with pytest.raises(TypeError, match="real numeric"):
        TwoLayerMLP(W=np.array([["x", "y"]] * 3), b=b, a=a)
    with pytest.raises(ValueError, match="unknown activation 'nope'.*relu"):
        TwoLayerMLP(W=W, b=b, a=a, hidden="nope")
    with pytest.raises(ValueError, match="at least one row"):
        TwoLayerMLP(W=np.ones((0, 2)), b=np.zeros(0), a=np.zeros(0))
    with pytest.raises(ValueError, match="last dimension d = 2"):
        TwoLayerMLP(W=W, b=b, a=a).forward(np.ones((4, 3)))


def test_model_is_frozen_with_read_only_float64_arrays_and_replace_revalidates():
    mlp = _mlp()
    assert mlp.W.dtype == np.float64 and not mlp.W.flags.writeable
    with pytest.raises(ValueError):
        mlp.W[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        mlp.c = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="a must have shape"):
        mlp.replace(a=np.ones(3))
    assert mlp.replace(c=2.0).c == 2.0 and mlp.c == 0.25


# ------------------------------------------------------------------ torch
@pytest.mark.parametrize("hidden", ["relu", "quadratic", "identity"])
@pytest.mark.parametrize("output", ["identity", "relu"])
def test_forward_numpy_torch_tensor_and_torch_module_agree(hidden, output):
    mlp = _mlp(hidden=hidden, output=output)
    x = np.random.default_rng(2).standard_normal((11, 4))
    ref = mlp.forward(x)
    via_tensor = mlp.forward(torch.from_numpy(x))
    assert isinstance(via_tensor, torch.Tensor)
    assert np.allclose(via_tensor.numpy(), ref, rtol=1e-13, atol=1e-14)
    module = mlp.to_torch()
    with torch.no_grad():
        via_module = module(torch.from_numpy(x))[:, 0].numpy()
    assert np.allclose(via_module, ref, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("hidden", ["relu", activations.polynomial([0.1, -0.5, 0.3])])
def test_to_torch_from_torch_round_trip_is_exact(hidden):
    mlp = _mlp(hidden=hidden, output="relu")
    back = TwoLayerMLP.from_torch(mlp.to_torch())
    for name in ("W", "b", "a"):
        assert np.array_equal(getattr(back, name), getattr(mlp, name))
    assert back.c == mlp.c
    assert back.hidden.name == mlp.hidden.name and back.output.name == mlp.output.name
    x = np.random.default_rng(3).standard_normal((5, 4))
    assert np.array_equal(back.forward(x), mlp.forward(x))


def test_from_torch_reads_a_float32_torch_built_network_and_rejects_bad_structures():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    if "tanh" in activations.names():
        mlp = TwoLayerMLP.from_torch(net)
        x = torch.randn(4, 3)
        with torch.no_grad():
            assert np.allclose(mlp.forward(x.double().numpy()), net(x)[:, 0].double().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="one output"):
        TwoLayerMLP.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2)))
    with pytest.raises(ValueError, match="expected nn.Sequential"):
        TwoLayerMLP.from_torch(torch.nn.Linear(3, 1))
    with pytest.raises(ValueError, match="no shinnet activation"):
        TwoLayerMLP.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ELU(), torch.nn.Linear(6, 1)))


# ------------------------------------------------------------------ save / load
@pytest.mark.parametrize(
    "hidden, output", [("relu", "identity"), (activations.polynomial([0.0, 1.0, 0.5, -0.2]), "relu"), ("quadratic", "identity")]
)
def test_save_load_round_trip(tmp_path, hidden, output):
    mlp = _mlp(hidden=hidden, output=output)
    path = tmp_path / "model.npz"
    mlp.save(path)
    back = TwoLayerMLP.load(path)
    for name in ("W", "b", "a"):
        assert np.array_equal(getattr(back, name), getattr(mlp, name))
    assert back.c == mlp.c
    assert back.hidden.name == mlp.hidden.name and back.output.name == mlp.output.name
    if hasattr(mlp.hidden, "coefficients"):
        assert np.array_equal(back.hidden.coefficients, mlp.hidden.coefficients)
    x = np.random.default_rng(4).standard_normal((6, 4))
    assert np.array_equal(back.forward(x), mlp.forward(x))


def test_load_refuses_pickled_content_and_calls_np_load_without_pickle(tmp_path, monkeypatch):
    path = tmp_path / "evil.npz"
    header = {"format": "shinnet.TwoLayerMLP", "version": 1, "hidden": {"kind": "registered", "name": "relu"},
              "output": {"kind": "registered", "name": "identity"}}
    buf = io.BytesIO()
    np.savez(buf, W=np.ones((2, 2)), b=np.zeros(2), a=np.ones(2), c=np.array(0.0),
             header=np.array([json.dumps(header)], dtype=object))  # object array: needs pickle
    path.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="allow_pickle"):
        TwoLayerMLP.load(path)

    seen = {}
    real_load = np.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    good = tmp_path / "good.npz"
    _mlp().save(good)
    monkeypatch.setattr(np, "load", spy)
    TwoLayerMLP.load(good)
    assert seen.get("allow_pickle") is False


def test_load_rejects_files_that_are_not_shinnet_models(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, W=np.ones((2, 2)))
    with pytest.raises(ValueError, match="not a shinnet model file"):
        TwoLayerMLP.load(path)


def test_save_refuses_unregistered_activation(tmp_path):
    class Custom(activations.ReLU):
        name = "my_custom_relu"

    mlp = _mlp(hidden=Custom())
    with pytest.raises(ValueError, match="not a registered activation"):
        mlp.save(tmp_path / "x.npz")


# ------------------------------------------------------------------ Gaussian inputs
def _input_law(d=4, seed=5):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, d))
    return rng.standard_normal(d), B @ B.T / d + 0.1 * np.eye(d)


def test_with_gaussian_input_is_pointwise_the_cholesky_substitution():
    mlp = _mlp(hidden="relu", output="relu")
    mean, cov = _input_law()
    z = np.random.default_rng(6).standard_normal((8, 4))
    x = mean + z @ np.linalg.cholesky(cov).T
    assert np.allclose(mlp.with_gaussian_input(mean, cov).forward(z), mlp.forward(x), rtol=1e-12, atol=1e-13)


def test_with_gaussian_input_gives_exact_relu_mean_and_agrees_with_monte_carlo():
    # E[f] for x ~ N(mean, cov): unit j has preactivation N(w.mean + b, w^T cov w).
    mlp = _mlp(hidden="relu")
    mean, cov = _input_law()
    mu = mlp.W @ mean + mlp.b
    s = np.sqrt(np.einsum("jk,kl,jl->j", mlp.W, cov, mlp.W))
    exact = mlp.c + mlp.a @ _relu_mean(mu, s)
    new = mlp.with_gaussian_input(mean, cov)
    r = np.linalg.norm(new.W, axis=1)
    from_new = new.c + new.a @ new.hidden.gaussian_derivative_means(0, r, new.b)[:, 0]
    assert from_new == pytest.approx(exact, rel=1e-12)
    # independent check by sampling x ~ N(mean, cov) directly (4 standard errors)
    x = np.random.default_rng(7).multivariate_normal(mean, cov, size=200_000)
    f = mlp.preactivation(x)
    assert abs(f.mean() - exact) < 4 * f.std() / np.sqrt(f.size)


def test_with_gaussian_input_handles_singular_covariance_exactly_for_linear_units():
    # identity hidden: f = c + a.(W x + b) is Gaussian with variance a^T W cov W^T a.
    mlp = _mlp(hidden="identity")
    v = np.array([1.0, -2.0, 0.5, 0.0])
    cov = np.outer(v, v)  # rank one: Cholesky fails, the eigen path is used
    mean = np.array([0.3, 0.0, -1.0, 2.0])
    new = mlp.with_gaussian_input(mean, cov)
    assert np.sum((new.W.T @ new.a) ** 2) == pytest.approx((mlp.a @ mlp.W @ v) ** 2, rel=1e-10)
    assert new.c + new.a @ new.b == pytest.approx(mlp.c + mlp.a @ (mlp.W @ mean + mlp.b), rel=1e-12)


def test_with_gaussian_input_rejects_bad_covariances():
    mlp = _mlp()
    with pytest.raises(ValueError, match="symmetric"):
        mlp.with_gaussian_input(np.zeros(4), np.triu(np.ones((4, 4))))
    with pytest.raises(ValueError, match="not positive semidefinite"):
        mlp.with_gaussian_input(np.zeros(4), -np.eye(4))
    with pytest.raises(ValueError, match="mean must have shape"):
        mlp.with_gaussian_input(np.zeros(3), np.eye(4))


def test_shinnet_namespace_exposes_model_and_monte_carlo():
    assert shinnet.TwoLayerMLP is TwoLayerMLP
    assert callable(shinnet.monte_carlo)


def test_to_torch_leaves_the_global_torch_rng_untouched():
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    _mlp().to_torch()
    assert torch.equal(torch.rand(4), expected)


# ----------------------------------------------------------------- issue 10: hostile inputs
def test_output_bias_of_wrong_shape_or_complex_and_ragged_lists_are_named():
    W, b, a = np.ones((3, 2)), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"c must be a scalar, got an array of shape \(3,\)"):
        TwoLayerMLP(W=W, b=b, a=a, c=np.ones(3))
    with pytest.raises(TypeError, match="c must be real"):
        TwoLayerMLP(W=W, b=b, a=a, c=1 + 2j)
    with pytest.raises(TypeError, match="W must be real"):
        TwoLayerMLP(W=W + 1j, b=b, a=a)
    with pytest.raises(ValueError, match="W is a ragged nested list"):
        TwoLayerMLP(W=[[1.0, 2.0], [3.0]], b=[0.0, 0.0], a=[1.0, 1.0])
    assert TwoLayerMLP(W=W, b=b, a=a, c=np.array([0.5])).c == 0.5  # a Linear layer's bias shape


def test_to_torch_honours_dtype_and_device_and_refuses_missing_cuda():
    mlp = _mlp(hidden="tanh", output="sigmoid")
    x = np.random.default_rng(0).standard_normal((5, mlp.d))
    for dtype in (torch.float32, "float32"):
        net = mlp.to_torch(dtype=dtype, device="cpu")
        assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in net.parameters())
        y = net(torch.from_numpy(x).float()).detach().numpy()[:, 0]
        np.testing.assert_allclose(y, mlp(x), rtol=1e-5)  # float32 rounding
    with pytest.raises(ValueError, match="floating torch dtype"):
        mlp.to_torch(dtype=torch.int64)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"asks for CUDA, but torch.cuda.is_available\(\) is False"):
            mlp.to_torch(device="cuda")
