"""The resummed expansion's engine, ``shinnet.cumulants(..., expansion="resummed")`` (MATH.md
section 8), against exact and independent references."""

from __future__ import annotations

import warnings
from math import comb

import numpy as np
import pytest
from scipy.special import ndtr, roots_legendre

import shinnet
from shinnet import activations
from shinnet.contract import ConvergenceWarning
from shinnet.model import TwoLayerMLP
from shinnet.tensors.power_shin import hidden_unit_value, power_shin_tensors
from shinnet.zoo import random_mlp


def _resummed(mlp, order, max_edges, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return shinnet.cumulants(mlp, order, expansion="resummed", max_edges=max_edges, **kw)


# ------------------------------------------------------------------ independent references
def _cumulants_from_moments(mu):
    """kappa_n from raw moments mu[0..N] (mu[0] = 1): kappa_n = mu_n - sum C(n-1,k-1) kappa_k mu_{n-k}."""
    kap = [0.0] * len(mu)
    for n in range(1, len(mu)):
        kap[n] = mu[n] - sum(comb(n - 1, k - 1) * kap[k] * mu[n - k] for k in range(1, n))
    return kap


def _normal_rule(lo, hi, n=400):
    x, w = roots_legendre(n)
    z = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
    return z, 0.5 * (hi - lo) * w * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


def _unit_cumulants_1d(act, a, r, b, n_max):
    """kappa_n(a sigma(r Z + b)) by Gauss-Legendre quadrature split at relu's kink (exact to ~1e-15)."""
    if act == "relu":
        z0 = -b / r
        z, w = _normal_rule(z0, max(z0, 0.0) + 16.0)
        y = a * (r * z + b)
    else:
        z, w = _normal_rule(-16.0, 16.0)
        y = a * np.tanh(r * z + b)
    return _cumulants_from_moments([1.0] + [float(np.sum(w * y**p)) for p in range(1, n_max + 1)])


def _relu_truncated_moments(p_max, beta):
    """I_p(beta) = E[(Z + beta)_+^p]: I_0 = Phi, I_1 = phi + beta Phi, I_p = beta I_{p-1} + (p-1) I_{p-2}."""
    phi = np.exp(-0.5 * beta**2) / np.sqrt(2 * np.pi)
    out = [ndtr(beta), phi + beta * ndtr(beta)]
    for p in range(2, p_max + 1):
        out.append(beta * out[-1] + (p - 1) * out[-2])
    return out


def _one_factor_relu_cumulants(rho, r, b, a, c, n_max):
    """Cumulants of f = c + sum_i a_i relu(r_i z_i + b_i), corr(z_i, z_j) = rho for all i != j.

    z_i = sqrt(1 - rho) y_i + sqrt(rho) t with independent y_i, t: given t the units are independent
    with closed-form moments ``(a s)^p I_p(mu / s)``; the smooth t-integral is Gauss-Hermite (150 nodes).
    """
    t, wt = np.polynomial.hermite_e.hermegauss(150)
    wt = wt / np.sqrt(2 * np.pi)
    mom = np.zeros((n_max + 1, t.size))
    mom[0] = 1.0
    for p in range(1, n_max + 1):
        mom[p] = c**p
    for ri, bi, ai in zip(r, b, a):
        s = ri * np.sqrt(1 - rho)
        I = _relu_truncated_moments(n_max, (ri * np.sqrt(rho) * t + bi) / s)
        unit = [np.ones_like(t)] + [(ai * s) ** p * I[p] for p in range(1, n_max + 1)]  # (.)_+^0 is not 1{.>0}
        mom = np.array([sum(comb(n, k) * mom[k] * unit[n - k] for k in range(n + 1)) for n in range(n_max + 1)])
    return _cumulants_from_moments([float(np.sum(wt * mom[n])) for n in range(n_max + 1)])


# ------------------------------------------------------------------ polynomial: exact
def _poly_model(coeffs, biases, seed=0, d=3, m=4):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, d)) / np.sqrt(d)
    b = 0.5 * rng.standard_normal(m) if biases else np.zeros(m)
    return TwoLayerMLP(W=W, b=b, a=rng.standard_normal(m), c=0.2, hidden=activations.polynomial(coeffs))


@pytest.mark.parametrize("coeffs, biases, order, max_edges", [
    ([0.0, 0.0, 1.0], False, 6, 6),        # quadratic, no biases: E <= n
    ([0.3, -0.5, 1.0], True, 6, 6),        # quadratic with biases (shin_1 != 0)
    ([0.1, 0.4, -0.3, 0.5], True, 5, 8),   # cubic: E <= 3n/2
])
def test_polynomial_resummed_series_terminates_and_equals_exact_degree_expansion(coeffs, biases, order, max_edges):
    mlp = _poly_model(coeffs, biases)
    exact = shinnet.cumulants(mlp, order, max_degree=len(coeffs) - 1, warn=False)
    res = _resummed(mlp, order, max_edges)
    q = len(coeffs) - 1
    for n in range(1, order + 1):
        assert res.kappa[n] == pytest.approx(exact.kappa[n], rel=1e-12, abs=1e-12)
    for n in range(2, order + 1):
        terms = res.convergence[n].terms
        scale = max(abs(x) for x in terms)
        # vertex (p, k) vanishes for k > q p, so sum_v k_v = 2E <= q n: the series stops
        assert all(abs(x) <= 1e-13 * scale for x in terms[q * n // 2 + 1:])


def test_quadratic_kappa_matches_textbook_trace_formula_without_biases():
    mlp = _poly_model([0.0, 0.0, 1.0], False, seed=2)
    A = (mlp.W.T * mlp.a) @ mlp.W  # f - c = x^T A x
    res = _resummed(mlp, 4, 4)
    for n in (2, 3, 4):
        closed = 2 ** (n - 1) * np.prod(range(1, n)) * np.trace(np.linalg.matrix_power(A, n))
        assert res.kappa[n] == pytest.approx(closed, rel=1e-12)


# ------------------------------------------------------------------ orthonormal units: E = 0 exact
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_orthonormal_units_all_E_positive_terms_vanish_and_E0_is_sum_of_unit_cumulants(act):
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    r, b, a = np.array([0.7, 1.0, 1.3, 2.0]), np.array([0.3, -0.2, 0.0, 0.8]), np.array([1.0, -0.6, 0.9, 0.4])
    mlp = TwoLayerMLP(W=Q * r[:, None], b=b, a=a, c=-0.1, hidden=act)
    res = _resummed(mlp, 6, 2)
    ref = np.sum([_unit_cumulants_1d(act, a[u], r[u], b[u], 6) for u in range(4)], axis=0)
    assert res.kappa[1] == pytest.approx(ref[1] - 0.1, rel=1e-12)
    for n in range(2, 7):
        t = res.convergence[n].terms
        assert t[0] == pytest.approx(ref[n], rel=1e-11, abs=1e-13)
        assert max(abs(t[1]), abs(t[2])) < 1e-13 * abs(t[0])  # Rt = 0 up to rounding of U U^T


# ------------------------------------------------------------------ three relu units, cosines 0.3
def test_three_relu_units_with_cosines_03_converge_geometrically_to_one_factor_reference():
    rho = 0.3
    U = np.linalg.cholesky((1 - rho) * np.eye(3) + rho * np.ones((3, 3)))
    r, b, a, c = np.array([1.0, 1.3, 0.8]), np.array([0.2, -0.4, 0.5]), np.array([1.0, -0.7, 1.2]), 0.1
    mlp = TwoLayerMLP(W=U * r[:, None], b=b, a=a, c=c, hidden="relu")
    ref = _one_factor_relu_cumulants(rho, r, b, a, c, 4)
    res = _resummed(mlp, 4, 12)
    assert res.settings["lambda_star"][3] == pytest.approx(2 * rho, abs=1e-12)
    for n in (2, 3, 4):
        err = [abs(s - ref[n]) for s in res.partial_sums[n]]
        # geometric at rate <= lambda* = 0.6 (measured errors at E = 12: 1e-10, 1.5e-8, 5.7e-8)
        assert err[12] < 1e-7 * abs(ref[n])
        assert err[12] < 0.6**4 * err[8] and err[8] < 0.6**4 * err[4]


# ------------------------------------------------------------------ forms and backends agree
@pytest.fixture(scope="module")
def small_relu():
    return random_mlp(5, 7, hidden="relu", seed=1, bias_scale=0.5)


def test_hidden_unit_and_d_space_evaluations_agree_per_class_to_1e12(small_relu):
    hid = _resummed(small_relu, 4, 4, representation="hidden")
    dsp = _resummed(small_relu, 4, 4, representation="dspace")
    assert {r.representation for r in hid.diagrams} == {"hidden"}
    assert {r.representation for r in dsp.diagrams} == {"dspace"}
    scale = max(abs(r.value) for r in hid.diagrams)
    for rh, rd in zip(hid.diagrams, dsp.diagrams):
        assert rh.diagram.key == rd.diagram.key
        assert abs(rh.value - rd.value) <= 1e-12 * scale
    for n in (2, 3, 4):
        assert dsp.kappa[n] == pytest.approx(hid.kappa[n], rel=1e-12)


def test_engine_class_values_match_brute_force_hidden_unit_reference(small_relu):
    res = _resummed(small_relu, 4, 3)
    T = power_shin_tensors(small_relu, 4, 3)
    for rec in res.diagrams:
        assert rec.value == pytest.approx(hidden_unit_value(rec.diagram, None, T), rel=1e-12, abs=1e-15)


def test_numpy_and_torch_backends_agree(small_relu):
    pytest.importorskip("torch")
    a = _resummed(small_relu, 4, 3)
    t = _resummed(small_relu, 4, 3, backend="torch", device="cpu")
    for n in (2, 3, 4):
        assert t.kappa[n] == pytest.approx(a.kappa[n], rel=1e-12)


# ------------------------------------------------------------------ kappa_2: exact and Monte Carlo
def _exact_pairwise_variance_relu(mlp):
    """Var f = sum_{u,v} a_u a_v Cov: E[relu_u relu_v] integrates relu_u(z) against the closed-form
    conditional mean ``s I_1(mu/s)`` of relu_v given z_u = z (Gauss-Legendre right of the kink)."""
    r = np.linalg.norm(mlp.W, axis=1)
    U = mlp.W / r[:, None]
    R = U @ U.T
    mean = r * np.array([_relu_truncated_moments(1, bu / ru)[1] for ru, bu in zip(r, mlp.b)])
    total = 0.0
    for i in range(mlp.m):
        z0 = -mlp.b[i] / r[i]
        z, w = _normal_rule(z0, max(z0, 0.0) + 16.0)
        for j in range(mlp.m):
            rho = min(R[i, j], 1.0)
            s = r[j] * np.sqrt(max(1 - rho * rho, 0.0))
            mu = r[j] * rho * z + mlp.b[j]
            inner = s * _relu_truncated_moments(1, mu / s)[1] if s > 1e-12 else np.maximum(mu, 0.0)
            total += mlp.a[i] * mlp.a[j] * (np.sum(w * (r[i] * z + mlp.b[i]) * inner) - mean[i] * mean[j])
    return total


def test_kappa2_relu_converges_in_E_to_exact_pairwise_variance():
    mlp = random_mlp(16, 8, hidden="relu", seed=3, bias_scale=0.5)
    exact = _exact_pairwise_variance_relu(mlp)
    res = _resummed(mlp, 2, 30, exact_variance=exact)
    err = [abs(s - exact) for s in res.partial_sums[2]]
    assert err[30] < 1e-11 * exact  # measured 4e-14: the rate is max cosine 0.51
    assert err[20] < 1e-3 * err[5]
    assert res.convergence[2].exact_tail == pytest.approx(exact - res.kappa[2])


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_kappa2_converges_to_monte_carlo_within_four_standard_errors(act):
    mlp = random_mlp(16, 64, hidden=act, seed=7, bias_scale=0.3)
    res = _resummed(mlp, 2, 16)
    mc = shinnet.monte_carlo(mlp, 10**6, seed=11)
    se = mc.details["kappa_stderr"][2]
    assert abs(res.kappa[2] - mc.kappa[2]) < 4 * se
    steps = np.abs(np.diff(res.partial_sums[2]))
    assert steps[-1] < 1e-3 * se and steps[-1] < steps[4]  # converged far below the MC noise


@pytest.mark.slow
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_kappa2_converges_to_monte_carlo_1e7_within_four_standard_errors(act):
    mlp = random_mlp(16, 256, hidden=act, seed=8, bias_scale=0.3)
    res = _resummed(mlp, 2, 20)
    mc = shinnet.monte_carlo(mlp, 10**7, seed=12)
    assert abs(res.kappa[2] - mc.kappa[2]) < 4 * mc.details["kappa_stderr"][2]


@pytest.mark.slow
def test_cubic_order_six_terminates_and_equals_degree_expansion():
    mlp = _poly_model([0.1, 0.4, -0.3, 0.5], True)
    exact = shinnet.cumulants(mlp, 6, max_degree=3, warn=False)
    res = _resummed(mlp, 6, 9)
    assert res.kappa[6] == pytest.approx(exact.kappa[6], rel=1e-12)
