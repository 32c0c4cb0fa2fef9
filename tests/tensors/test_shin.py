"""Tests for shinnet.tensors.shin: shin tensors, inner products, norms, operator norms (MATH.md sections 2-5)."""

from __future__ import annotations

import dataclasses
import tracemalloc
from math import factorial

import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr

from shinnet import TwoLayerMLP, activations
from shinnet.hermite import gauss_hermite_rule, hermite_he
from shinnet.tensors.shin import ShinTensors, shin_tensors
from shinnet.kernels.norms import (
    OpNormConvergenceError,
    gram_power_apply,
    gram_power_quadratic_forms,
)

CUBIC = activations.polynomial([0.3, -1.0, 0.5, 0.25])  # degree 3


def hadamard_power(G, k):
    out = np.ones_like(G)
    for _ in range(k):
        out *= G
    return out


def random_mlp(d, m, hidden="relu", seed=0, c=0.2, bias_scale=0.5):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, d)) / np.sqrt(d)
    return TwoLayerMLP(W, bias_scale * rng.standard_normal(m), rng.standard_normal(m) / np.sqrt(m), c, hidden=hidden)


def tensor_gauss_hermite_moments(mlp, n_nodes):
    """E[f] and Var f by the d-fold product Gauss-Hermite rule: exact for polynomial f of degree <= 2n-1."""
    z, w = gauss_hermite_rule(n_nodes)
    grids = np.meshgrid(*([z] * mlp.d), indexing="ij")
    x = np.stack([g.ravel() for g in grids], axis=1)
    wt = np.prod(np.meshgrid(*([w] * mlp.d), indexing="ij"), axis=0).ravel()
    f = mlp.preactivation(x)
    mean = wt @ f
    return mean, wt @ (f - mean) ** 2


def dense_hermite_contraction(T, x):
    """<T, H_k(x)> for symmetric T by the matching expansion of the Wick-ordered Hermite tensor:
    sum_j (-1)^j k! / (j! 2^j (k-2j)!) * T contracted with x on k-2j axes and traced over j pairs."""
    k = T.ndim
    total = 0.0
    for j in range(k // 2 + 1):
        A = T
        for _ in range(k - 2 * j):
            A = A @ x  # contracts the last axis with x
        for _ in range(j):
            A = np.trace(A, axis1=0, axis2=1)
        total += (-1) ** j * factorial(k) / (factorial(j) * 2**j * factorial(k - 2 * j)) * float(A)
    return total


# ------------------------------------------------------------------ construction


def test_shin_tensors_factors_weights_as_unit_rows_and_hermite_coefficients():
    mlp = random_mlp(4, 7, seed=3)
    S = shin_tensors(mlp, 5)
    r = np.linalg.norm(mlp.W, axis=1)
    np.testing.assert_allclose(S.U * r[:, None], mlp.W, rtol=0, atol=1e-15)
    gamma = mlp.hidden.hermite_coefficients(5, r, mlp.b)
    np.testing.assert_array_equal(S.lam, (mlp.a[:, None] * gamma).T)
    assert (S.max_degree, S.d, S.m, S.has_factored) == (5, 4, 7, True)
    np.testing.assert_array_equal(S.weights(3), S.lam[3])
    assert S.degree_of(4) == 4
    assert S.build_flops == 3 * 7 * 4 + mlp.hidden.hermite_coefficients_flops(5, 7, r) + 7 * 6


def test_zero_weight_row_becomes_constant_folded_into_mean():
    W = np.array([[0.0, 0.0], [0.6, 0.8]])
    mlp = TwoLayerMLP(W, [0.7, -0.2], [2.0, 1.5], c=0.1)
    S = shin_tensors(mlp, 4)
    np.testing.assert_array_equal(S.U[0], [1.0, 0.0])
    assert np.all(S.lam[1:, 0] == 0.0)
    assert S.lam[0, 0] == 2.0 * 0.7
    alpha = -0.2 / 1.0
    unit2 = 1.0 * np.exp(-0.5 * alpha**2) / np.sqrt(2 * np.pi) + (-0.2) * ndtr(alpha)
    assert S.mean() == pytest.approx(0.1 + 1.4 + 1.5 * unit2, rel=1e-14)


def test_shin_tensors_object_is_frozen_with_read_only_arrays():
    S = shin_tensors(random_mlp(3, 5), 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        S.c = 1.0
    for arr in (S.lam, S.U, S.dense(2), S.weights(1)):
        with pytest.raises(ValueError, match="read-only"):
            arr[(0,) * arr.ndim] = 1.0


# --------------------------------------------------------------- mean, variance


def test_mean_equals_sum_of_one_dimensional_gaussian_expectations_per_unit():
    mlp = random_mlp(3, 6, seed=5)
    S = shin_tensors(mlp, 2)
    r = np.linalg.norm(mlp.W, axis=1)
    per_unit = []
    for rj, bj in zip(r, mlp.b):  # adaptive quadrature of relu(r z + b) phi(z), split at the kink
        kink = -bj / rj
        g = lambda z: max(rj * z + bj, 0.0) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731
        per_unit.append(integrate.quad(g, kink, np.inf, epsabs=0, epsrel=1e-13)[0])
    expected = mlp.c + mlp.a @ np.array(per_unit)
    assert S.mean() == pytest.approx(expected, rel=1e-12)


def test_mean_and_variance_exact_for_polynomial_activation_against_tensor_quadrature():
    mlp = random_mlp(3, 9, hidden=CUBIC, seed=7)
    mean, var = tensor_gauss_hermite_moments(mlp, 4)  # f^2 has degree 6 <= 2*4 - 1
    for K in (3, 6):  # degrees above 3 vanish, so K = 6 must give the same value
        S = shin_tensors(mlp, K)
        assert S.mean() == pytest.approx(mean, rel=1e-13)
        assert S.variance_captured() == pytest.approx(var, rel=1e-12)
    assert np.all(shin_tensors(mlp, 6).lam[4:] == 0.0)
    assert shin_tensors(mlp, 6).variance_captured(2) < var * (1 - 1e-3)  # the degree-3 part matters


def test_variance_captured_approaches_monte_carlo_variance_for_relu():
    mlp = random_mlp(3, 8, seed=1, c=0.1)
    S = shin_tensors(mlp, 24)
    captured = np.array([S.variance_captured(K) for K in range(1, 25)])
    assert np.all(np.diff(captured) >= 0)  # each degree adds <shin_k, shin_k>/k! >= 0
    x = np.random.default_rng(2).standard_normal((200_000, 3))
    f = mlp.preactivation(x)
    var = f.var(ddof=1)
    se = np.sqrt((np.mean((f - f.mean()) ** 4) - var**2) / f.size)  # s.e. of the sample variance, ~6.5e-4
    # Hermite tail at K >= 8 is < 5e-4 here (partial sums move by 4e-4 from K = 8 to 24): within 4 s.e.
    for K in (8, 16, 24):
        assert abs(captured[K - 1] - var) < 4 * se, (K, captured[K - 1], var, se)
    assert var - captured[0] > 10 * se  # degree 1 alone misses a lot: the comparison has teeth


def test_single_relu_unit_hermite_tail_decays_against_closed_form_variance():
    r, b = 1.3, 0.4
    mlp = TwoLayerMLP([[r]], [b], [1.0])
    alpha = b / r
    phi, Phi = np.exp(-0.5 * alpha**2) / np.sqrt(2 * np.pi), ndtr(alpha)
    second = (r * r + b * b) * Phi + r * b * phi  # E[relu(rZ+b)^2]
    var = second - (r * phi + b * Phi) ** 2
    S = shin_tensors(mlp, 24)
    tails = np.array([var - S.variance_captured(K) for K in (4, 8, 16, 24)])
    assert np.all(tails > 0) and np.all(np.diff(tails) < 0)
    assert tails[-1] < 0.01 * var
    np.testing.assert_array_less(tails[1:] / tails[:-1], 0.75)  # K^(-3/2)-type decay: doubling K shrinks it


# ----------------------------------------------------------------- reconstruction


def test_factored_hermite_expansion_reconstructs_polynomial_mlp_at_random_points():
    mlp = random_mlp(5, 11, hidden=CUBIC, seed=9)
    S = shin_tensors(mlp, 4)
    x = np.random.default_rng(4).standard_normal((50, 5))
    # <u^{(x)k}, H_k(x)> = He_k(u . x) for unit u
    he = hermite_he(4, x @ S.U.T)  # (50, m, 5)
    recon = S.c + sum(he[:, :, k] @ S.lam[k] / factorial(k) for k in range(5))
    np.testing.assert_allclose(recon, mlp.preactivation(x), rtol=0, atol=1e-10 * np.abs(mlp.preactivation(x)).max())


def test_dense_hermite_expansion_reconstructs_polynomial_mlp_in_small_dimension():
    mlp = random_mlp(3, 6, hidden=CUBIC, seed=10)
    S = shin_tensors(mlp, 3)
    for x in np.random.default_rng(5).standard_normal((10, 3)):
        recon = S.mean() + sum(dense_hermite_contraction(S.dense(k), x) / factorial(k) for k in range(1, 4))
        assert recon == pytest.approx(float(mlp.preactivation(x)), abs=1e-10)


# ----------------------------------------------------------- dense versus factored


def test_dense_tensor_equals_sum_of_rank_one_terms():
    S = shin_tensors(random_mlp(3, 4, seed=2), 3)
    T = np.einsum("j,ja,jb,jc->abc", S.lam[3], S.U, S.U, S.U)
    np.testing.assert_allclose(S.dense(3), T, rtol=1e-13, atol=1e-15)
    assert S.dense(0) == S.mean()


def test_factored_and_dense_inner_products_and_frobenius_agree():
    S = shin_tensors(random_mlp(3, 40, seed=11), 6)
    D = ShinTensors.from_dense({k: S.dense(k) for k in range(1, 7)}, mean=S.mean())
    for k in range(1, 7):
        fac = S.inner(k, k, method="factored")
        assert fac == pytest.approx(S.inner(k, k, method="dense"), rel=1e-12)
        assert fac == pytest.approx(D.inner(k, k), rel=1e-12)
        assert S.frobenius(k) == pytest.approx(np.linalg.norm(S.dense(k).ravel()), rel=1e-12)
    assert D.variance_captured() == pytest.approx(S.variance_captured(), rel=1e-12)
    assert D.mean() == S.mean() and D.m is None and not D.has_factored
    assert S.inner(0, 0) == pytest.approx(S.mean() ** 2)


def test_advice_overrides_factored_degree():
    S = shin_tensors(random_mlp(3, 10, seed=12), 4)
    T2 = np.eye(3) * 2.0
    A = ShinTensors(S.lam, S.U, c=S.c, advice={2: T2})
    assert A.representation(2) == "dense" and A.representation(3) == "factored"
    assert A.inner(2, 2) == pytest.approx(12.0) and A.inner(3, 3) == pytest.approx(S.inner(3, 3), rel=1e-13)
    assert A.dense(2) is A.advice[2]
    assert A.op_norm(2, 1) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no factored form"):
        A.weights(2)


def test_dense_only_object_treats_missing_degrees_as_zero():
    D = ShinTensors.from_dense({3: np.ones((2, 2, 2))}, mean=1.5)
    assert D.max_degree == 3 and D.d == 2 and D.mean() == 1.5
    assert D.inner(1, 1) == 0.0 and D.inner(3, 3) == 8.0
    assert D.variance_captured() == pytest.approx(8.0 / 6.0)
    assert D.op_norm(3, 1) == pytest.approx(np.sqrt(8.0))  # all-ones: rank one, ||1_2|| ||1_4||


def test_chunked_gram_sweep_matches_explicit_gram_powers():
    rng = np.random.default_rng(13)
    m, d = 2500, 5
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    lams = {k: rng.standard_normal(m) for k in (1, 2, 3, 5)}
    G = U @ U.T
    for tile in (97, 1000, None):  # 97 and 1000 do not divide m: ragged edge tiles
        got = gram_power_quadratic_forms(U, lams, tile=tile)
        for k, lam in lams.items():
            assert got[k] == pytest.approx(lam @ hadamard_power(G, k) @ lam, rel=1e-11)
    small = gram_power_quadratic_forms(U[:300], {k: v[:300] for k, v in lams.items()}, tile=7)
    for k, lam in lams.items():
        assert small[k] == pytest.approx(lam[:300] @ hadamard_power(G[:300, :300], k) @ lam[:300], rel=1e-11)
    V = rng.standard_normal((m, 3))
    for power in (0, 1, 3):
        np.testing.assert_allclose(gram_power_apply(U, power, V, tile=333), hadamard_power(G, power) @ V, rtol=1e-11, atol=1e-9)


def test_inner_chunked_and_unchunked_agree_through_the_public_api():
    mlp = random_mlp(4, 2000, seed=14)
    a = shin_tensors(mlp, 5)
    b = shin_tensors(mlp, 5)
    for k in range(1, 6):
        assert a.inner(k, k, method="factored", chunk_size=50) == pytest.approx(
            b.inner(k, k, method="factored", chunk_size=2000), rel=1e-11
        )
        assert a.inner(k, k, method="factored") == pytest.approx(a.inner(k, k, method="dense"), rel=1e-10)


# ------------------------------------------------------------------ op norms


def dense_op_norm(T, p):
    d = T.shape[0]
    return np.linalg.svd(T.reshape(d**p, -1), compute_uv=False)[0]


@pytest.mark.parametrize("method", ["gram", "lanczos"])
def test_factored_op_norms_match_dense_svd_with_negative_weights(method):
    S = shin_tensors(random_mlp(3, 30, seed=15), 6)  # a ~ N(0, 1/m): weights of both signs
    assert np.any(S.lam < 0) and np.any(S.lam > 0)
    for k in range(2, 7):
        for p in range(1, k):
            expected = dense_op_norm(S.dense(k), p)
            res = S.op_norm_details(k, p, method=method)
            assert res.value == pytest.approx(expected, rel=1e-9), (k, p, res)
            assert S.op_norm(k, p, method="dense") == pytest.approx(expected, rel=1e-13)
    assert S.op_norm(4, 0) == S.op_norm(4, 4) == pytest.approx(S.frobenius(4))


def test_lanczos_op_norm_in_higher_dimension_matches_gram_method():
    S = shin_tensors(random_mlp(6, 200, seed=16), 4)
    for p in (1, 2):
        res = S.op_norm_details(4, p, method="lanczos")
        assert res.iterations > 3 and res.error_estimate <= 1e-10
        assert res.value == pytest.approx(S.op_norm(4, p, method="gram"), rel=1e-9)
        assert res.value == pytest.approx(dense_op_norm(S.dense(4), p), rel=1e-9)


def test_op_norm_of_rank_one_tensor_is_absolute_weight_and_bounded_by_frobenius():
    u = np.array([[0.6, 0.0, 0.8]])
    S = ShinTensors(lam=np.array([[0.0], [1.0], [-2.0], [3.0], [-4.0]]), U=u)
    for k in range(1, 5):
        for p in range(k + 1):
            assert S.op_norm(k, p, method="lanczos" if 0 < p < k else "auto") == pytest.approx(abs(S.lam[k, 0]), rel=1e-12)
    T = shin_tensors(random_mlp(3, 20, seed=17), 4)
    assert T.op_norm(4, 2) <= T.frobenius(4) * (1 + 1e-12)


def test_lanczos_reports_non_convergence():
    S = shin_tensors(random_mlp(6, 200, seed=16), 4)
    with pytest.raises(OpNormConvergenceError, match="did not converge in 2 steps") as info:
        S.op_norm(4, 2, method="lanczos", max_iter=2)
    assert 0 < info.value.estimate <= S.op_norm(4, 2, method="gram") * (1 + 1e-12)  # Ritz values are lower bounds


# ----------------------------------------------------------------- bad input


def test_constructor_rejects_bad_shapes_and_values():
    U = np.eye(3)
    lam = np.ones((3, 3))
    with pytest.raises(ValueError, match=r"lam must have shape \(K\+1, m\) with m = 3"):
        ShinTensors(np.ones((3, 4)), U)
    with pytest.raises(ValueError, match="lam must be 2-dimensional"):
        ShinTensors(np.ones(3), U)
    with pytest.raises(ValueError, match="lam contains NaN"):
        ShinTensors(np.where(np.eye(3) > 0, np.nan, 1.0), U)
    with pytest.raises(ValueError, match="unit norm.*row 1"):
        ShinTensors(lam, np.diag([1.0, 1.1, 1.0]))
    with pytest.raises(ValueError, match="together"):
        ShinTensors(lam, None)
    with pytest.raises(ValueError, match="c must be finite"):
        ShinTensors(lam, U, c=np.inf)
    with pytest.raises(ValueError, match="needs at least one advice tensor"):
        ShinTensors.from_dense({})


def test_advice_validation_names_the_problem():
    with pytest.raises(ValueError, match="not symmetric: swapping axes 0 and 1"):
        ShinTensors.from_dense({2: np.array([[1.0, 2.0], [0.0, 1.0]])})
    with pytest.raises(ValueError, match=r"advice\[2\] must have shape \(2, 2\)"):
        ShinTensors.from_dense({1: np.ones(2), 2: np.ones((3, 3))})
    with pytest.raises(ValueError, match=r"advice\[3\] must have 3 axes"):
        ShinTensors.from_dense({3: np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"advice\[1\] contains NaN"):
        ShinTensors.from_dense({1: np.array([1.0, np.nan])})
    with pytest.raises(ValueError, match="degrees k >= 1"):
        ShinTensors.from_dense({0: np.array(1.0)})
    with pytest.raises(ValueError, match="above the factored max degree 1"):
        ShinTensors(np.ones((2, 2)), np.eye(2), advice={2: np.eye(2)})


def test_oversized_dense_and_gram_refuse_before_allocating_and_name_the_size():
    S = ShinTensors(lam=np.ones((13, 2)), U=np.eye(16)[:2])
    need = 16**12 * 8
    tracemalloc.start()
    with pytest.raises(MemoryError, match=f"dense\\(12\\) would need {need:,} bytes"):
        S.dense(12)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20
    with pytest.raises(MemoryError, match="would need 2,048 bytes"):
        S.dense(2, max_bytes=100)
    with pytest.raises(MemoryError, match=r"gram\(\) would need 32 bytes"):
        S.gram(max_bytes=16)
    np.testing.assert_array_equal(S.gram(), np.eye(2))


def test_bad_degrees_raise_clear_errors():
    S = shin_tensors(random_mlp(3, 5), 3)
    with pytest.raises(ValueError, match="different orders have no inner product"):
        S.inner(1, 2)
    with pytest.raises(ValueError, match="degree 4 is out of range: this ShinTensors holds degrees 0..3"):
        S.inner(4, 4)
    with pytest.raises(ValueError, match="out of range"):
        S.dense(-1)
    with pytest.raises(TypeError, match="must be an integer"):
        S.weights(1.5)
    with pytest.raises(ValueError, match="p must be an integer in 0..k = 0..3"):
        S.op_norm(3, 4)
    with pytest.raises(ValueError, match="method must be"):
        S.inner(2, 2, method="magic")
    with pytest.raises(ValueError, match="max_degree must be an integer >= 0"):
        shin_tensors(random_mlp(3, 5), -1)
    D = ShinTensors.from_dense({2: np.eye(2)})
    with pytest.raises(ValueError, match="held densely"):
        D.op_norm(2, 1, method="lanczos")


# ------------------------------------------------------------------- large m


@pytest.mark.slow
def test_inner_for_m_65536_d_16_runs_in_bounded_memory():
    mlp = random_mlp(16, 65_536, seed=18)
    S = shin_tensors(mlp, 8)
    tracemalloc.start()
    values = {k: S.inner(k, k, method="factored") for k in range(1, 9)}
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20  # the m x m Gram would be 34 GB; tiles are 128 KiB
    for k in (1, 2, 3):
        assert values[k] == pytest.approx(S.inner(k, k, method="dense"), rel=1e-10)
    assert all(v > 0 for v in values.values())


def test_auto_op_norm_method_avoids_dense_when_d_to_the_k_is_large():
    S = shin_tensors(random_mlp(16, 40, seed=19), 6)  # d^6 = 16.7M entries: not built
    res = S.op_norm_details(6, 5)
    assert res.method == "gram"
    assert res.value == pytest.approx(S.op_norm(6, 1, method="lanczos"), rel=1e-9)
    assert ("dense", 6) not in S._cache
    assert S.op_norm_details(3, 1).method == "dense"  # d^3 = 4096: dense SVD
