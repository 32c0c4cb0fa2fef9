"""Conditioning on active directions (MATH.md section 9): directions, conditional weights, batch.

Exact-case integrals, the estimator and Monte Carlo checks are in test_conditioning_estimate.py.
"""

from __future__ import annotations

from math import factorial

import numpy as np
import pytest

import shinnet
from shinnet.conditioning import (
    active_directions,
    choose_rank,
    conditional_mlp,
    conditional_split,
    conditional_weights,
    integrate_gaussian,
)
from shinnet.expansions.weight_batch import cumulants_weight_batch
from shinnet.tensors.weight_batch import WeightBatch
from shinnet.model import TwoLayerMLP
from shinnet.zoo import random_mlp


def _dense_M(shin, K):
    d = shin.d
    M = np.zeros((d, d))
    energy = {}
    for k in range(2, K + 1):
        T = np.asarray(shin.dense(k)).reshape(d, -1)
        M += T @ T.T / factorial(k - 1)
        energy[k] = float(np.sum(T * T)) / factorial(k)
    return M, energy


def _project(T, V):
    for _ in range(T.ndim):
        T = np.tensordot(T, V, axes=([0], [0]))  # contracts the leading index, appends an r axis
    return T


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_active_directions_matrix_and_energy_shares_match_dense_build(hidden):
    mlp = random_mlp(4, 9, hidden=hidden, seed=3, bias_scale=0.5)
    K = 4
    ad = active_directions(mlp, 2, max_degree=K)
    shin = shinnet.shin_tensors(mlp, K)
    M, energy = _dense_M(shin, K)
    np.testing.assert_allclose(ad.M, M, rtol=1e-12, atol=1e-14 * np.abs(M).max())
    np.testing.assert_allclose(ad.eigenvalues, np.sort(np.linalg.eigvalsh(M))[::-1], rtol=1e-10, atol=1e-14)
    for k in range(2, K + 1):
        assert ad.energy[k] == pytest.approx(energy[k], rel=1e-12)
        inside = float(np.sum(_project(np.asarray(shin.dense(k)), np.asarray(ad.V)) ** 2)) / factorial(k)
        assert ad.energy_inside[k] == pytest.approx(inside, rel=1e-10, abs=1e-15)
    total_in = sum(ad.energy_inside.values())
    assert ad.energy_share == pytest.approx(total_in / sum(energy.values()), rel=1e-12)
    np.testing.assert_allclose(ad.V.T @ ad.V, np.eye(2), atol=1e-12)
    assert ad.energy_share_by_rank[-1] == pytest.approx(ad.energy_share, rel=1e-12)


def test_active_directions_of_rank_one_first_layer_hold_all_energy():
    rng = np.random.default_rng(0)
    v = rng.normal(size=6)
    v /= np.linalg.norm(v)
    mlp = TwoLayerMLP(W=rng.normal(size=(8, 1)) * v, b=rng.normal(size=8), a=rng.normal(size=8), c=0.0,
                      hidden="relu", output="identity")
    ad = active_directions(mlp, 1)
    assert abs(float(ad.V[:, 0] @ v)) == pytest.approx(1.0, abs=1e-12)
    assert ad.energy_share == pytest.approx(1.0, abs=1e-12)
    assert ad.eigenvalues[1] <= 1e-12 * ad.eigenvalues[0]
    assert choose_rank(ad) == 1


def test_active_directions_rejects_bad_rank_and_degree():
    mlp = random_mlp(3, 5, seed=0)
    with pytest.raises(ValueError, match="r must be"):
        active_directions(mlp, 4)
    with pytest.raises(ValueError, match="max_degree"):
        active_directions(mlp, 1, max_degree=1)
    with pytest.raises(TypeError):
        active_directions("not a model", 1)


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_batched_conditional_weights_equal_per_node_rebuild(hidden):
    mlp = random_mlp(5, 11, hidden=hidden, seed=1, bias_scale=0.7)
    V = np.asarray(active_directions(mlp, 2).V)
    split = conditional_split(mlp, V)
    nodes = np.random.default_rng(2).normal(size=(6, 2)) * 2.0
    lam, c, _ = conditional_weights(split, nodes, 5)
    for i, y in enumerate(nodes):
        ref = shinnet.shin_tensors(conditional_mlp(mlp, V, y), 5)
        np.testing.assert_allclose(lam[i], ref.lam, rtol=0, atol=1e-12 * max(1.0, np.abs(ref.lam).max()))
        np.testing.assert_array_equal(split.U_perp, ref.U)
        assert float(c[i]) + lam[i, 0].sum() == pytest.approx(ref.mean(), abs=1e-12)


def test_units_inside_span_become_constants_of_the_conditional_model():
    rng = np.random.default_rng(4)
    V = np.linalg.qr(rng.normal(size=(5, 1)))[0]
    W = rng.normal(size=(6, 5))
    W[:3] = rng.normal(size=(3, 1)) * V[:, 0]  # units 0..2 inside span V
    mlp = TwoLayerMLP(W=W, b=rng.normal(size=6), a=rng.normal(size=6), c=0.3, hidden="relu", output="identity")
    split = conditional_split(mlp, V)
    np.testing.assert_array_equal(split.inside, [True, True, True, False, False, False])
    y = np.array([[0.7]])
    lam, _, _ = conditional_weights(split, y, 3)
    z = mlp.b[:3] + (W[:3] @ V[:, 0]) * 0.7
    np.testing.assert_allclose(lam[0, 0, :3], mlp.a[:3] * np.maximum(z, 0.0), rtol=1e-14)
    assert np.all(lam[0, 1:, :3] == 0.0)
    assert split.constant(y)[0] == pytest.approx(0.3 + mlp.a[:3] @ np.maximum(z, 0.0), rel=1e-14)


def test_conditional_split_rejects_non_orthonormal_V():
    mlp = random_mlp(4, 5, seed=0)
    with pytest.raises(ValueError, match="orthonormal"):
        conditional_split(mlp, np.ones((4, 1)))
    with pytest.raises(ValueError, match="shape"):
        conditional_split(mlp, np.eye(3)[:, :1])


def _node_batch(seed=5, hidden="tanh"):
    mlp = random_mlp(4, 9, hidden=hidden, output="sigmoid", seed=seed, bias_scale=0.5)
    V = np.asarray(active_directions(mlp, 1).V)
    split = conditional_split(mlp, V)
    nodes = np.linspace(-2.0, 2.0, 3)[:, None]
    lam, c, fl = conditional_weights(split, nodes, 4)
    return mlp, V, nodes, WeightBatch(lam, split.U_perp, c, build_flops=fl)


def test_weight_batch_cumulants_equal_per_node_cumulants():
    mlp, V, nodes, batch = _node_batch()
    res = cumulants_weight_batch(batch, 4, 4, warn=False)
    for i, y in enumerate(nodes):
        ref = shinnet.cumulants(conditional_mlp(mlp, V, y), 4, 4, warn=False)
        for n in range(1, 5):
            assert float(res.kappa[n][i]) == pytest.approx(float(ref.kappa[n]), rel=1e-10, abs=1e-14)


@pytest.mark.slow  # ~12 s: torch's first contraction paths on a loaded machine
def test_weight_batch_numpy_equals_torch():
    pytest.importorskip("torch")
    _, _, _, batch = _node_batch(seed=6, hidden="relu")
    a = cumulants_weight_batch(batch, 3, 3, warn=False)
    b = cumulants_weight_batch(batch, 3, 3, backend="torch", device="cpu", warn=False)
    for n in range(1, 4):
        np.testing.assert_allclose(np.asarray(b.kappa[n]), np.asarray(a.kappa[n]), rtol=1e-12, atol=1e-15)


def test_weight_batch_dense_tensors_are_one_product_per_degree():
    _, _, _, batch = _node_batch(seed=7)
    T = batch.dense_all(3)
    for b in range(batch.size):
        ref = shinnet.ShinTensors(lam=batch.lam[b], U=batch.U, c=float(batch.c[b])).dense(3)
        np.testing.assert_allclose(T[b], ref, rtol=1e-12, atol=1e-15)
        assert batch.rows[b].dense(3) is not None
    assert batch.dense_all(3) is T  # built once


def test_integrate_gaussian_matches_closed_forms_with_kinks():
    # E[relu(Z - 0.3)] = phi(0.3) - 0.3 (1 - Phi(0.3)); E[relu(Y1 + Y2)] = sqrt(2) phi(0)
    from scipy.stats import norm

    one = integrate_gaussian(lambda y: (np.maximum(y[:, 0] - 0.3, 0.0), np.zeros(len(y))), 1,
                             kinks=lambda p: [np.array([0.3])])
    assert one.value == pytest.approx(norm.pdf(0.3) - 0.3 * norm.sf(0.3), abs=1e-13)
    assert one.converged and one.error < 1e-11
    # without the kink the bisection finds it; the estimate still covers the actual error
    blind = integrate_gaussian(lambda y: (np.maximum(y[:, 0] - 0.3, 0.0), np.zeros(len(y))), 1)
    assert abs(blind.value - one.value) <= blind.error
    two = integrate_gaussian(lambda y: (np.maximum(y[:, 0] + y[:, 1], 0.0), np.zeros(len(y))), 2,
                             kinks=lambda p: [np.array([-q[0]]) for q in p], atol=1e-10, rtol=1e-10)
    assert two.value == pytest.approx(np.sqrt(2.0) * norm.pdf(0.0), abs=1e-9)
    assert abs(two.value - np.sqrt(2.0) * norm.pdf(0.0)) <= two.error


def test_integrate_gaussian_reports_non_convergence_at_the_node_limit():
    res = integrate_gaussian(lambda y: (np.abs(y[:, 0] - 0.123456), np.zeros(len(y))), 1, max_nodes=200)
    assert not res.converged
    assert res.nodes <= 200
    assert res.error > 1e-11
