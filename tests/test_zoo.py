"""Tests of the model zoo (shinnet/zoo.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shinnet
from shinnet import zoo

# small, fast settings: d = 4, m = 256 random relu features, 150 SGD steps of 256 samples
SMALL = dict(d=4, m=256, steps=150, batch_size=256, num_threads=1)

# independent numpy versions of the targets (the zoo evaluates them in torch)
NUMPY_TARGETS = {
    "product": lambda x: x[:, 0] * x[:, 1],
    "max": lambda x: np.maximum(x[:, 0], x[:, 1]),
    "relu_shift": lambda x: np.maximum(x[:, 0], 0.0) - 1.0,
    "linear": lambda x: x.sum(axis=1) / np.sqrt(x.shape[1]),
    "radial": lambda x: ((x * x).sum(axis=1) - x.shape[1]) / np.sqrt(2.0 * x.shape[1]),
}


@pytest.fixture(scope="module")
def trained():
    """Each target trained once (seed 0) with its info dict."""
    return {t: zoo.trained_mlp(target=t, seed=0, return_info=True, **SMALL) for t in zoo.TARGETS}


# ------------------------------------------------------------------ random models
def test_random_mlp_weight_scales_match_their_laws():
    d, m = 50, 4000
    mlp = zoo.random_mlp(d, m, seed=1)
    # var(W) = 1/d estimated from 2e5 entries: relative sd sqrt(2/2e5) = 0.3%, so 3% is 10 sd
    assert np.var(mlp.W) * d == pytest.approx(1.0, rel=0.03)
    # var(a) = 1/m from 4000 entries: relative sd 2.2%, so 12% is > 5 sd
    assert np.var(mlp.a) * m == pytest.approx(1.0, rel=0.12)
    assert np.all(mlp.b == 0.0) and mlp.c == 0.0
    biased = zoo.random_mlp(d, m, seed=1, bias_scale=0.7, c=0.3)
    assert np.std(biased.b) == pytest.approx(0.7, rel=0.12)
    assert np.array_equal(biased.W, mlp.W) and np.array_equal(biased.a, mlp.a)  # b drawn in between always
    assert biased.c == 0.3


def test_random_mlp_is_deterministic_per_seed_and_validates_inputs():
    a, b, c = zoo.random_mlp(3, 7, seed=4), zoo.random_mlp(3, 7, seed=4), zoo.random_mlp(3, 7, seed=5)
    assert np.array_equal(a.W, b.W) and np.array_equal(a.a, b.a)
    assert not np.array_equal(a.W, c.W)
    for bad in (dict(d=0, m=3), dict(d=3, m=2.5), dict(d=3, m=3, seed=-1), dict(d=3, m=3, bias_scale=-1.0)):
        with pytest.raises(ValueError):
            zoo.random_mlp(**bad)


# ------------------------------------------------------------------ trained models
@pytest.mark.parametrize("target", sorted(zoo.TARGETS))
def test_trained_model_fits_target_far_below_its_variance(trained, target):
    mlp, info = trained[target]
    assert info["final_mse"] < 0.15 * info["target_var"], (info["final_mse"], info["target_var"])
    # the returned float64 model (with c = c~ - a.E[h] undone) fits as well as the last training
    # batches did: a wrong centring would add (a.E[h])^2 to the held-out error
    assert info["final_mse"] == pytest.approx(np.mean(info["loss"][-30:]), rel=0.5)
    assert info["loss"][-30:].mean() < 0.2 * info["loss"][:5].mean()


@pytest.mark.parametrize("target", sorted(NUMPY_TARGETS))
def test_trained_model_fit_checked_on_independent_numpy_samples(trained, target):
    mlp, _ = trained[target]
    x = np.random.default_rng(123).standard_normal((50_000, 4))
    y = NUMPY_TARGETS[target](x)
    assert np.mean((mlp.preactivation(x) - y) ** 2) < 0.15 * np.var(y)


def test_trained_mlp_is_deterministic_per_seed_and_keeps_the_random_first_layer():
    kw = dict(target="max", **{**SMALL, "steps": 20})
    m1, m2, m3 = zoo.trained_mlp(seed=2, **kw), zoo.trained_mlp(seed=2, **kw), zoo.trained_mlp(seed=3, **kw)
    assert np.array_equal(m1.a, m2.a) and m1.c == m2.c
    assert not np.array_equal(m1.a, m3.a)
    base = zoo.random_mlp(4, 256, seed=2)
    assert np.array_equal(m1.W, base.W) and np.array_equal(m1.b, base.b)
    assert not np.array_equal(m1.a, base.a)


def test_trained_mlp_does_not_touch_global_torch_state():
    torch.manual_seed(99)
    expected = torch.rand(3)
    threads = torch.get_num_threads()
    torch.manual_seed(99)
    zoo.trained_mlp(target="product", seed=0, **{**SMALL, "steps": 5})
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_skewness_of_fitted_f_follows_target_shape(trained):
    # relu(x_1) - 1 has skewness ~0.995 (strongly non-Gaussian); the linear target is Gaussian
    skew = {t: shinnet.monte_carlo(trained[t][0], 100_000, seed=1).details["f_skewness"] for t in ("relu_shift", "linear")}
    assert skew["relu_shift"] > 0.7
    assert abs(skew["linear"]) < 0.15


def test_trained_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown target 'cube'.*product"):
        zoo.trained_mlp(4, 8, "cube")
    with pytest.raises(ValueError, match="needs d >= 2"):
        zoo.trained_mlp(1, 8, "product")
    with pytest.raises(ValueError, match="steps"):
        zoo.trained_mlp(4, 8, "max", steps=0)
    with pytest.raises(ValueError, match="dtype"):
        zoo.trained_mlp(4, 8, "max", dtype="float16")
    with pytest.raises(ValueError, match="num_threads"):
        zoo.trained_mlp(4, 8, "max", num_threads=0)


# ------------------------------------------------------------------ registry
def test_get_builds_named_models_and_lists_names_in_errors():
    assert {"example", "random", "teacher", "product", "max", "relu_shift"} <= set(zoo.names())
    rnd = zoo.get("random", d=3, m=5, seed=2)
    assert (rnd.d, rnd.m) == (3, 5) and np.array_equal(rnd.W, zoo.random_mlp(3, 5, seed=2).W)
    prod = zoo.get("product", d=3, m=16, steps=3, num_threads=1)
    assert (prod.d, prod.m) == (3, 16)
    with pytest.raises(ValueError, match="unknown zoo model 'nope'.*example.*random"):
        zoo.get("nope")


def test_random_mlp_weight_scale_scales_the_first_layer_only():
    base = zoo.random_mlp(4, 32, seed=1)
    scaled = zoo.random_mlp(4, 32, seed=1, weight_scale=0.25)
    np.testing.assert_array_equal(scaled.W, 0.25 * base.W)
    np.testing.assert_array_equal(scaled.a, base.a)
    with pytest.raises(ValueError, match="weight_scale"):
        zoo.random_mlp(4, 32, weight_scale=0.0)


def test_example_is_the_documented_deterministic_model():
    ex, again = zoo.example(), zoo.get("example")
    assert (ex.d, ex.m) == (8, 4096) and ex.output.name == "relu" and ex.hidden.name == "erf"
    # weight_scale 0.5: row norms concentrate at 0.5
    assert np.median(np.linalg.norm(ex.W, axis=1)) == pytest.approx(0.5, rel=0.1)
    assert np.array_equal(ex.W, again.W) and np.array_equal(ex.a, again.a)
    assert np.std(ex.b) == pytest.approx(0.5, rel=0.2)
