"""FLOPs charged for Gaussian derivative means / Hermite coefficients (docs/activations.md):
the count of ``Activation.derivative_means_flops`` against independent counts of what runs."""

from __future__ import annotations

import numpy as np
import pytest

import shinnet
from shinnet.zoo import random_mlp
from shinnet import activations
from shinnet.activations import sigmoid_core, transition
from shinnet.activations.flops import (
    TRANSCENDENTAL_FLOPS as T,
    fourier_node_flops,
    graded_node_flops,
    hermite_node_flops,
    taylor_node_flops,
    unit_flops,
)
from shinnet.budget.pricing import shin_build_flops
from shinnet.conditioning.split import conditional_split, conditional_weights


def test_relu_closed_form_count_is_a_few_operations_per_order_and_ignores_r_and_b():
    relu = activations.get("relu")
    for k_max, m in [(0, 1), (4, 7), (9, 33)]:
        expected = m * ((2 * T + 7) + (T + 6) * (k_max + 1))  # alpha, phi, Phi, mean_0; He, pow, 3 products
        r = np.linspace(0.0, 50.0, m)
        assert relu.derivative_means_flops(k_max, m, r, -r) == expected
        assert relu.derivative_means_flops(k_max, m) == expected
        assert relu.hermite_coefficients_flops(k_max, m, r) == expected + 2 * m * (k_max + 1)


class _Counted:
    """An elementwise function that counts the scalars it is evaluated on."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x):
        self.calls += int(np.size(x))
        return self.fn(x)


def _user(cost, derivatives):
    fn = _Counted(lambda x: np.arctan(x))
    ders = [_Counted(lambda x: 1.0 / (1.0 + x * x)), _Counted(lambda x: -2.0 * x / (1.0 + x * x) ** 2)][:derivatives]
    act = activations.from_callable(fn, "atan", derivatives=ders, flops=cost)
    fn.calls = 0  # the probe at construction is not part of the means
    return act, [fn] + ders


@pytest.mark.parametrize("derivatives", [0, 2])
def test_user_quadrature_count_charges_cost_per_evaluation_including_graded_panels(derivatives):
    # gentle units (shared 2,400-node rule) and steep ones (r > 10: per-unit graded rules whose size
    # depends on each chunk's largest r; 120 steep units span three chunks of 47 at k_max = 4)
    rng = np.random.default_rng(0)
    r = np.concatenate([rng.uniform(0.1, 9.0, 30), rng.permutation(np.logspace(1.1, 4.0, 120))])
    b = rng.uniform(-2.0, 2.0, r.size)
    k_max, m = 4, r.size
    act, counted = _user(10.0, derivatives)
    act.gaussian_derivative_means(k_max, r, b)
    evaluations = sum(c.calls for c in counted)
    expensive, _ = _user(1010.0, derivatives)
    extra = expensive.derivative_means_flops(k_max, m, r, b) - act.derivative_means_flops(k_max, m, r, b)
    assert extra == pytest.approx(1000.0 * evaluations, rel=1e-12)
    # 2,400 nodes per gentle unit, > 3,000 per steep one: far above the old 10 + cost per coefficient
    assert evaluations > 2400 * m
    assert act.derivative_means_flops(k_max, m, r, b) > 100 * m * (k_max + 1) * (10.0 + act.flops)
    assert act.derivative_means_flops(k_max, m, r, b) == act.derivative_means_flops(k_max, m, r, 0.0 * b)


def test_tanh_count_matches_the_nodes_each_route_runs(monkeypatch):
    nodes = dict(hermite=0, fourier=0, taylor=0, split=0)

    def counting(key, fn, size=lambda args: np.size(args[0])):
        def inner(*args, **kwargs):
            nodes[key] += int(size(args))
            return fn(*args, **kwargs)
        return inner

    monkeypatch.setattr(sigmoid_core, "sigmoid_numpy", counting("hermite", sigmoid_core.sigmoid_numpy))
    monkeypatch.setattr(sigmoid_core, "sigmoid_taylor", counting("taylor", sigmoid_core.sigmoid_taylor))
    n_omega = sigmoid_core._omega_rule()[0].size
    monkeypatch.setattr(sigmoid_core, "sigmoid_fourier_route",
                        counting("fourier", sigmoid_core.sigmoid_fourier_route, lambda a: n_omega * np.size(a[1])))
    kind, remainder = transition._SPLITS["tanh"]
    monkeypatch.setitem(transition._SPLITS, "tanh", (kind, counting("split", remainder)))

    rng = np.random.default_rng(1)
    small = rng.uniform(0.02, 0.3, 12)  # 2r <= 1.25: the derivative route may run (charged on all)
    gentle = rng.uniform(0.8, 5.0, 20)
    steep = rng.permutation(np.logspace(0.8, 4.0, 300))  # r > 5: split route, chunks of 137 units
    r = np.concatenate([small, gentle, steep])
    b = rng.uniform(-1.0, 1.0, r.size)
    k_max = 4
    tanh = activations.get("tanh")
    tanh.gaussian_derivative_means(k_max, r, b)
    n_gentle, n_small = small.size + gentle.size, small.size
    # the derivative route runs where the error test asks (measured: 1 of the 12) and is charged
    # on every unit it may run on
    assert 0 < nodes["taylor"] <= 600 * n_small and nodes["taylor"] % 600 == 0
    assert nodes["fourier"] == 1600 * n_gentle
    assert nodes["hermite"] == 2400 * n_gentle
    u = unit_flops(k_max)
    expected = (nodes["split"] * graded_node_flops(T + 6.0, k_max) + steep.size * (2 * T + 6 * (k_max + 1) + u)
                + nodes["hermite"] * hermite_node_flops(T + 4.0, k_max) + nodes["fourier"] * fourier_node_flops(k_max)
                + 600 * n_small * taylor_node_flops(k_max) + n_gentle * 3 * u + n_small * u)
    assert tanh.derivative_means_flops(k_max, r.size, r, b) == pytest.approx(expected, rel=1e-12)
    assert nodes["split"] > 1800 * steep.size


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "silu", "gelu", "relu"])
def test_shin_tensors_and_the_budget_price_charge_the_same_coefficients(name):
    mlp = random_mlp(5, 40, hidden=name, seed=2, bias_scale=0.5, weight_scale=3.0)
    K = 3
    S = shinnet.shin_tensors(mlp, K)
    r = np.linalg.norm(mlp.W, axis=1)
    assert S.build_flops == shin_build_flops(mlp, K)
    assert S.build_flops == 3 * 40 * 5 + mlp.hidden.hermite_coefficients_flops(K, 40, r) + 40 * (K + 1)
    if name not in ("gelu", "relu"):  # quadrature: thousands of nodes per unit
        assert S.build_flops > 1000 * 40 * (K + 1) * (10 + mlp.hidden.flops)


def test_conditional_weights_charge_the_coefficients_of_the_projected_units():
    mlp = random_mlp(4, 24, hidden="tanh", seed=3, bias_scale=0.5)
    V = np.linalg.qr(np.random.default_rng(4).standard_normal((4, 1)))[0]
    split = conditional_split(mlp, V)
    nodes = np.array([[-1.0], [0.0], [0.7]])
    _, _, flops = conditional_weights(split, nodes, 3)
    live = ~split.inside
    r_live = np.tile(split.r_perp[live], 3)
    expected = (2.0 * 3 * 24 * 1 + mlp.hidden.hermite_coefficients_flops(3, r_live.size, r_live)
                + 3 * int(split.inside.sum()) * mlp.hidden.flops + 3 * 24 * 4)
    assert flops == pytest.approx(expected, rel=1e-14)
    assert flops > 1000 * 3 * 24 * 4 * (11 + mlp.hidden.flops)


def test_size_only_count_prices_units_of_norm_one():
    for name in ["tanh", "softplus", "relu"]:
        act = activations.get(name)
        assert act.derivative_means_flops(3, 9) == act.derivative_means_flops(3, 9, np.ones(9))
    with pytest.raises(ValueError):
        activations.get("tanh").derivative_means_flops(3, 9, np.ones(4))
