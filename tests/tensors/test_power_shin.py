"""Cumulant vertices K_{p,k} and power shin tensors of the resummed expansion (MATH.md section 8).

Independent references: joint cumulants from joint moments by the set-partition formula,
a truncated bivariate power-series logarithm, b-derivatives of 1-d cumulants (Cameron-Martin),
exact 1-d cumulants of independent units, the exact relu covariance of two correlated units,
and d-space contractions of block tensors against the brute-force hidden-unit sum.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest
from scipy.special import ndtr, roots_legendre

from shinnet import TwoLayerMLP
from shinnet.activations import get
from shinnet.activations.power_hermite import power_hermite_coefficients
from shinnet.tensors.cumulant_vertices import cumulant_vertices
from shinnet.hermite import gauss_legendre_normal_rule
from shinnet.tensors.power_shin import PowerShinTensors, hidden_unit_value, power_shin_tensors
from shinnet.tensors.shin import shin_tensors
from reference import set_partitions

PHI = lambda x: np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)  # noqa: E731


# ------------------------------------------------------------------ references
def _joint_cumulant(labels: list[int], moment) -> float:
    """kappa(X_{l_1}, ..., X_{l_n}) = sum_pi (|pi|-1)! (-1)^{|pi|-1} prod_B E[prod_{i in B} X_{l_i}]."""
    total = 0.0
    for part in set_partitions(list(range(len(labels)))):
        term = (-1.0) ** (len(part) - 1) * factorial(len(part) - 1)
        for block in part:
            term *= moment(sum(labels[i] == 0 for i in block), sum(labels[i] == 1 for i in block))
        total += term
    return total


def _tanh_joint_moment(r: float, b: float):
    """E[tanh(rZ+b)^a Z^c] on the 2000-node Legendre-normal rule (smooth integrand)."""
    z, w = gauss_legendre_normal_rule(2000)
    s = np.tanh(r * z + b)
    return lambda a, c: float(np.sum(w * s**a * z**c))


def _relu_cumulants(n_max: int, r: float, b: float) -> list[float]:
    """kappa_n(relu(rZ+b)), n <= n_max, from moments E[relu^j] by set partitions; the moments
    by Gauss-Legendre on the smooth side [-b/r, 15] (polynomial integrand times phi)."""
    x, v = roots_legendre(200)
    lo = -b / r
    z = lo + (15 - lo) * (x + 1) / 2
    w = v * (15 - lo) / 2 * PHI(z)
    y = r * z + b
    mom = lambda a, c: float(np.sum(w * y**a)) if a else 1.0  # noqa: E731
    return [0.0] + [_joint_cumulant([0] * n, mom) for n in range(1, n_max + 1)]


def _relu_cross_moment(r1: float, b1: float, r2: float, b2: float, rho: float) -> float:
    """E[relu(r1 Z1 + b1) relu(r2 Z2 + b2)], corr(Z1, Z2) = rho: integrate over Z1 > -b1/r1 the
    closed-form conditional mean E[relu(r2 Z2 + b2) | Z1] (smooth in Z1), 400-node Legendre."""
    x, v = roots_legendre(400)
    lo = -b1 / r1
    z = lo + (15 - lo) * (x + 1) / 2
    w = v * (15 - lo) / 2 * PHI(z)
    rr = r2 * np.sqrt(1 - rho * rho)
    bb = b2 + r2 * rho * z
    cond = rr * PHI(bb / rr) + bb * ndtr(bb / rr)
    return float(np.sum(w * (r1 * z + b1) * cond))


def _relu_mean(r: float, b: float) -> float:
    return r * PHI(b / r) + b * ndtr(b / r)


# ------------------------------------------------------------------ cumulant vertices
def test_K_p0_is_kappa_p_and_K_1k_is_gamma_k_for_relu() -> None:
    r, b = 1.1, -0.3
    C = power_hermite_coefficients("relu", 6, 5, r, b)[0]
    K = cumulant_vertices(C)
    ref = _relu_cumulants(6, r, b)
    for p in range(1, 7):
        # both sides sum O(1) moments with alternating signs: ~1e-13 absolute (measured 1e-14)
        assert abs(K[p, 0] - ref[p]) <= 1e-12, (p, K[p, 0], ref[p])
    gamma = get("relu").hermite_coefficients(5, r, b)[0]
    assert np.allclose(K[1], gamma, rtol=1e-13, atol=1e-15)
    assert np.all(K[0] == 0)


def test_K_pk_is_the_joint_cumulant_of_sigma_p_times_and_Z_k_times_for_tanh() -> None:
    r, b = 1.3, 0.4
    K = cumulant_vertices(power_hermite_coefficients("tanh", 4, 4, r, b)[0])
    moment = _tanh_joint_moment(r, b)
    for p in range(1, 5):
        for k in range(0, 5):
            if p + k > 7:
                continue
            ref = _joint_cumulant([0] * p + [1] * k, moment)
            assert abs(K[p, k] - ref) <= 1e-11, (p, k, K[p, k], ref)


def test_K_is_the_truncated_power_series_log_of_the_C_generating_function() -> None:
    # log(1 + X) = sum_j (-1)^{j+1} X^j / j, X = M - 1 (no constant term): exact once j > P + K
    P, Kd = 4, 5
    C = power_hermite_coefficients("tanh", P, Kd, 0.8, -0.5)[0]
    fact = np.array([[factorial(p) * factorial(k) for k in range(Kd + 1)] for p in range(P + 1)], float)
    X = C / fact
    X[0, 0] = 0.0

    def mul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        out = np.zeros_like(A)
        for p in range(P + 1):
            for k in range(Kd + 1):
                out[p:, k:] += A[p, k] * B[: P + 1 - p, : Kd + 1 - k]
        return out

    log_series, power = np.zeros_like(X), X.copy()
    for j in range(1, P + Kd + 2):
        log_series += (-1) ** (j + 1) * power / j
        power = mul(power, X)
    K = cumulant_vertices(C)
    assert np.allclose(K[1:] / fact[1:], log_series[1:], rtol=1e-11, atol=1e-14)
    # the t-free part of log M is log E[exp(sZ)] - s^2/2 = 0
    assert np.allclose(log_series[0], 0.0, atol=1e-14)


def test_K_pk_equals_r_to_k_times_b_derivatives_of_kappa_p_for_relu() -> None:
    # Cameron-Martin: K_{p,k} = r^k d^k/db^k kappa_p(sigma(rZ+b)); 4th-order central differences
    r, b, h = 0.9, 0.2, 1e-3
    K_at = lambda bb: cumulant_vertices(power_hermite_coefficients("relu", 5, 3, r, bb)[0])  # noqa: E731
    Ks = [K_at(b + j * h) for j in (-2, -1, 0, 1, 2)]
    d1 = (Ks[0] - 8 * Ks[1] + 8 * Ks[3] - Ks[4]) / (12 * h)
    d2 = (-Ks[0] + 16 * Ks[1] - 30 * Ks[2] + 16 * Ks[3] - Ks[4]) / (12 * h * h)
    # truncation ~h^4, rounding ~1e-16/h (d1) and 1e-16/h^2 (d2)
    assert np.allclose(Ks[2][1:, 1], r * d1[1:, 0], rtol=0, atol=1e-9)
    assert np.allclose(Ks[2][1:, 2], r * r * d2[1:, 0], rtol=0, atol=1e-7)


def test_cumulant_vertices_rejects_a_table_without_the_delta_row() -> None:
    C = power_hermite_coefficients("relu", 2, 2, 1.0, 0.0)
    C[0, 0, 0] = 2.0
    with pytest.raises(ValueError, match="delta"):
        cumulant_vertices(C)


# ------------------------------------------------------------------ orthonormal units: E = 0 is exact
def _orthonormal_mlp(hidden: str, m: int, seed: int) -> TwoLayerMLP:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(m, m)))
    r = rng.uniform(0.5, 1.5, m)
    return TwoLayerMLP(W=Q * r[:, None], b=rng.normal(size=m) * 0.7, a=rng.normal(size=m), c=0.3, hidden=hidden)


def test_orthonormal_units_sum_of_kap_n0_is_kappa_n_of_f_for_relu() -> None:
    mlp = _orthonormal_mlp("relu", 6, 1)
    ps = power_shin_tensors(mlp, 6, 2)
    r = np.linalg.norm(mlp.W, axis=1)
    per_unit = [_relu_cumulants(6, r[u], mlp.b[u]) for u in range(mlp.m)]
    for n in range(2, 7):
        ref = sum(mlp.a[u] ** n * per_unit[u][n] for u in range(mlp.m))
        assert abs(ps.kap[:, n, 0].sum() - ref) <= 1e-10 * max(1.0, abs(ref)), (n, ref)
    assert abs(ps.mean() - (mlp.c + sum(mlp.a[u] * per_unit[u][1] for u in range(mlp.m)))) < 1e-13


def test_orthonormal_units_sum_of_kap_n0_is_kappa_n_of_f_for_tanh_and_matches_monte_carlo_variance() -> None:
    mlp = _orthonormal_mlp("tanh", 5, 2)
    ps = power_shin_tensors(mlp, 6, 1)
    r = np.linalg.norm(mlp.W, axis=1)
    for n in range(2, 7):
        ref = sum(mlp.a[u] ** n * _joint_cumulant([0] * n, _tanh_joint_moment(r[u], mlp.b[u])) for u in range(mlp.m))
        assert abs(ps.kap[:, n, 0].sum() - ref) <= 1e-11, (n, ref)
    # Monte Carlo: Var f from 200,000 samples; standard error of the sample variance
    # ~ sqrt((mu4 - sigma^4) / N); assert within 5 standard errors
    x = np.random.default_rng(3).normal(size=(200_000, mlp.d))
    f = mlp.preactivation(x)
    var, se = f.var(), np.sqrt((np.mean((f - f.mean()) ** 4) - f.var() ** 2) / f.size)
    assert abs(ps.kap[:, 2, 0].sum() - var) < 5 * se


# ------------------------------------------------------------------ kappa_2 series in Rt
def test_kappa2_series_in_cosines_converges_to_exact_relu_variance() -> None:
    rng = np.random.default_rng(4)
    d, m = 64, 8
    mlp = TwoLayerMLP(W=rng.normal(size=(m, d)) / np.sqrt(d), b=rng.normal(size=m) * 0.5, a=rng.normal(size=m))
    r = np.linalg.norm(mlp.W, axis=1)
    U = mlp.W / r[:, None]
    R = U @ U.T
    exact = 0.0
    for u in range(m):
        for v in range(m):
            if u == v:
                cov = _relu_cumulants(2, r[u], mlp.b[u])[2]
            else:
                cov = _relu_cross_moment(r[u], mlp.b[u], r[v], mlp.b[v], R[u, v]) - _relu_mean(
                    r[u], mlp.b[u]
                ) * _relu_mean(r[v], mlp.b[v])
            exact += mlp.a[u] * mlp.a[v] * cov
    M = 14
    ps = power_shin_tensors(mlp, 2, M)
    Rt = R.copy()
    np.fill_diagonal(Rt, 0.0)
    partial = [ps.kap[:, 2, 0].sum()]
    for j in range(1, M + 1):
        lam = ps.kap[:, 1, j]
        partial.append(partial[-1] + lam @ (Rt**j) @ lam / factorial(j))
    errors = np.abs(np.array(partial) - exact)
    max_cos = np.abs(Rt).max()
    assert max_cos < 0.5
    assert errors[0] > 1e-3 * abs(exact)  # the E = 0 term alone is not the answer
    assert errors[-1] <= 1e-12 * abs(exact) + 1e-14
    # geometric convergence: each two terms gain at least a factor max_cos (loosely)
    assert errors[6] < errors[2] * max_cos


# ------------------------------------------------------------------ d-space blocks vs hidden-unit sums
@pytest.fixture(scope="module")
def small_power_shin() -> PowerShinTensors:
    rng = np.random.default_rng(5)
    mlp = TwoLayerMLP(W=rng.normal(size=(6, 4)), b=rng.normal(size=6), a=rng.normal(size=6), hidden="tanh")
    return power_shin_tensors(mlp, 3, 3)


def test_hidden_unit_sum_equals_d_space_inclusion_exclusion_for_single_and_double_edges(small_power_shin) -> None:
    ps = small_power_shin
    for mult, p0, p1 in [(1, 1, 2), (2, 3, 1)]:
        hu = hidden_unit_value([(0, 1, mult)], [p0, p1], ps)
        T0, T1 = ps.dense((p0, mult)), ps.dense((p1, mult))
        dspace = float(np.sum(T0 * T1)) - float(ps.block_tensor([(p0, mult), (p1, mult)], 0))
        assert abs(hu - dspace) <= 1e-12 * max(1.0, abs(hu))


def test_hidden_unit_sum_equals_d_space_for_triangle_with_eps_plus_two(small_power_shin) -> None:
    ps = small_power_shin
    p = [1, 2, 1]
    keys = [(q, 2) for q in p]
    T = [ps.dense(k) for k in keys]
    full = np.einsum("ij,ik,jk->", T[0], T[1], T[2])  # legs: T0 (01, 02), T1 (01, 12), T2 (02, 12)
    pairs = sum(np.sum(ps.block_tensor([keys[a], keys[b]], 2) * T[3 - a - b]) for a, b in combinations(range(3), 2))
    merged = float(ps.block_tensor(keys, 0))
    dspace = full - pairs + 2.0 * merged  # eps(edge) = -1, eps(triangle) = +2
    hu = hidden_unit_value([(0, 1), (1, 2), (0, 2)], p, ps)
    assert abs(hu - dspace) <= 1e-12 * max(1.0, abs(hu))


def test_hidden_unit_sum_lets_non_adjacent_vertices_coincide_on_a_path(small_power_shin) -> None:
    ps = small_power_shin
    p = [2, 1, 3]
    keys = [(p[0], 1), (p[1], 2), (p[2], 1)]
    T0, T1, T2 = (ps.dense(k) for k in keys)
    full = T0 @ T1 @ T2
    left = ps.block_tensor(keys[:2], 1) @ T2
    right = T0 @ ps.block_tensor(keys[1:], 1)
    merged = float(ps.block_tensor(keys, 0))
    dspace = full - left - right + merged  # eps(path of 3) = +1; {0, 2} is not G-connected
    hu = hidden_unit_value([(0, 1), (1, 2)], p, ps)
    assert abs(hu - dspace) <= 1e-12 * max(1.0, abs(hu))
    # brute force over all unit triples, adjacent ones distinct, u0 == u2 allowed
    R = ps.U @ ps.U.T
    brute = 0.0
    for u in range(ps.m):
        for v in range(ps.m):
            for w in range(ps.m):
                if u != v and v != w:
                    brute += ps.kap[u, 2, 1] * ps.kap[v, 1, 2] * ps.kap[w, 3, 1] * R[u, v] * R[v, w]
    assert abs(hu - brute) <= 1e-12 * max(1.0, abs(brute))


# ------------------------------------------------------------------ protocol
def test_power_one_slice_is_the_ordinary_shin_tensor(small_power_shin) -> None:
    rng = np.random.default_rng(5)
    mlp = TwoLayerMLP(W=rng.normal(size=(6, 4)), b=rng.normal(size=6), a=rng.normal(size=6), hidden="tanh")
    st = shin_tensors(mlp, 3)
    ps = small_power_shin
    for k in range(1, 4):
        assert np.allclose(ps.weights((1, k)), st.lam[k], rtol=1e-11, atol=1e-13)
        assert np.allclose(ps.dense((1, k)), st.dense(k), rtol=1e-11, atol=1e-13)
        assert ps.degree_of((2, k)) == k


def test_op_norm_equals_svd_of_the_dense_matricisation(small_power_shin) -> None:
    ps = small_power_shin
    d = ps.d
    for p, k, q in [(2, 3, 1), (3, 2, 1), (1, 3, 0)]:
        T = ps.dense((p, k)).reshape(d**q, d ** (k - q))
        ref = np.linalg.norm(T, 2) if 0 < q < k else np.linalg.norm(T)
        assert abs(ps.op_norm((p, k), q) - ref) <= 1e-10 * ref
        if 0 < q < k:
            assert abs(ps.op_norm((p, k), q, method="gram") - ref) <= 1e-9 * ref


def test_bad_keys_and_oversized_dense_requests_are_refused(small_power_shin) -> None:
    ps = small_power_shin
    with pytest.raises(ValueError, match="out of range"):
        ps.weights((0, 1))
    with pytest.raises(ValueError, match="out of range"):
        ps.dense((1, 9))
    with pytest.raises(ValueError, match="pair"):
        ps.weights(2)
    with pytest.raises(MemoryError):
        ps.block_tensor([(1, 3)], 3, max_bytes=100)
    with pytest.raises(ValueError, match="loops"):
        hidden_unit_value([(0, 0)], [1], ps)


def test_zero_rows_contribute_only_their_constant_to_the_mean() -> None:
    W = np.array([[0.0, 0.0], [1.0, 0.5]])
    mlp = TwoLayerMLP(W=W, b=np.array([0.7, 0.1]), a=np.array([2.0, -1.0]), c=0.5)
    ps = power_shin_tensors(mlp, 3, 2)
    assert ps.kap[0, 1, 0] == pytest.approx(1.4, rel=1e-15)
    assert np.all(ps.kap[0, 2:, :] == 0) and np.all(ps.kap[0, 1, 1:] == 0)
    r = np.hypot(1.0, 0.5)
    assert ps.mean() == pytest.approx(0.5 + 1.4 - _relu_mean(r, 0.1), rel=1e-14)
