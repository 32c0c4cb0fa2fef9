"""Power-Hermite coefficients C_{p,k} = E[sigma(rZ+b)^p He_k(Z)] (MATH.md section 8).

References: mpmath at 40-60 digits (exact truncated Gaussian moments for relu / steps, adaptive
quadrature for tanh), exact polynomial algebra, and cross-checks between closed forms and the
quadrature fallback.  Scale for smooth-activation errors: the Cauchy-Schwarz bound
|C_{p,k}| <= sqrt(E[sigma^2p] k!), against which quadrature is accurate to ~1e-13.
"""

from __future__ import annotations

import warnings
from math import factorial, sqrt
from typing import Any

import mpmath as mp
import numpy as np
import pytest

from shinnet.activations import Activation, get, polynomial
from shinnet.activations.power_hermite import (
    closed_form_rule,
    power_hermite_coefficients,
    quadrature_power_hermite,
    register_power_hermite,
    relu_truncated_moments,
)


class QuadratureTanh(Activation):
    """A user-level smooth activation with no closed form: forces the quadrature fallback."""

    name = "user_tanh"

    def value(self, z: Any) -> Any:
        return np.tanh(z)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        raise NotImplementedError


class QuadratureAbs(Activation):
    """A user-level kinked activation: quadrature converges only algebraically."""

    name = "user_abs"

    def value(self, z: Any) -> Any:
        return np.abs(z)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        raise NotImplementedError


# ----------------------------------------------------------------- mpmath references
def _he_coefficients(k: int) -> list[mp.mpf]:
    """Monomial coefficients of He_k (ascending), exact in mpmath."""
    prev, cur = [mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]
    if k == 0:
        return prev
    for j in range(1, k):
        nxt = [mp.mpf(0)] + cur  # x He_j
        for i, c in enumerate(prev):
            nxt[i] -= j * c
        prev, cur = cur, nxt
    return cur


def _upper_moments(n: int, t: mp.mpf) -> list[mp.mpf]:
    """M_j = int_t^inf z^j phi(z) dz, j <= n: M_0 = Q(t), M_1 = phi(t), M_j = t^{j-1} phi(t) + (j-1) M_{j-2}."""
    phi = mp.npdf(t)
    M = [mp.ncdf(-t), phi]
    for j in range(2, n + 1):
        M.append(t ** (j - 1) * phi + (j - 1) * M[j - 2])
    return M


def _relu_reference(p: int, k: int, r: float, b: float) -> mp.mpf:
    """E[relu(rZ+b)^p He_k(Z)] = r^p sum_{i,j} binom(p,i) beta^{p-i} he_k[j] M_{i+j}(-beta), 60 digits."""
    with mp.workdps(60):
        r_, b_ = mp.mpf(r), mp.mpf(b)
        beta = b_ / r_
        he = _he_coefficients(k)
        M = _upper_moments(p + k, -beta)
        total = mp.mpf(0)
        for i in range(p + 1):
            for j, c in enumerate(he):
                total += mp.binomial(p, i) * beta ** (p - i) * c * M[i + j]
        return r_**p * total


def _step_reference(k: int, r: float, b: float) -> mp.mpf:
    """E[1(rZ+b > 0) He_k(Z)] from exact truncated moments."""
    with mp.workdps(60):
        M = _upper_moments(k, -mp.mpf(b) / mp.mpf(r))
        return sum(c * M[j] for j, c in enumerate(_he_coefficients(k)))


def _tanh_reference(p: int, k: int, r: float, b: float) -> mp.mpf:
    with mp.workdps(30):
        r_, b_ = mp.mpf(r), mp.mpf(b)
        he = _he_coefficients(k)
        z0 = -b_ / r_
        f = lambda z: mp.tanh(r_ * z + b_) ** p * mp.polyval(he[::-1], z) * mp.npdf(z)  # noqa: E731
        return mp.quad(f, [-mp.inf, z0 - 2 / r_, z0, z0 + 2 / r_, mp.inf])


def _cs_scale(act: Activation, p: int, k: int, r: float, b: float) -> float:
    """sqrt(E[sigma^{2p}] k!), the Cauchy-Schwarz bound on |C_{p,k}|."""
    e2p = power_hermite_coefficients(act, 2 * p, 0, r, b)[0, 2 * p, 0]
    return sqrt(max(e2p, 1e-300) * factorial(k))


# ----------------------------------------------------------------- relu
@pytest.mark.parametrize("r, b", [(1.3, 0.2), (0.5, -1.0), (2.0, -5.0), (0.7, 3.0), (1.0, -1.7), (0.3, 0.0)])
def test_relu_closed_form_matches_mpmath_exact_moments_to_1e12_relative(r: float, b: float) -> None:
    C = power_hermite_coefficients("relu", 6, 14, r, b)[0]
    for p in range(1, 7):
        for k in range(15):
            ref = float(_relu_reference(p, k, r, b))
            # relative to |ref| (floored by the Cauchy-Schwarz scale times 1e-3, for near-zeros of He)
            scale = max(abs(ref), 1e-3 * abs(float(_relu_reference(p, 0, r, b))) * sqrt(factorial(k)))
            assert abs(C[p, k] - ref) <= 1e-12 * scale, (p, k, C[p, k], ref)


@pytest.mark.parametrize("beta", [-30.0, -8.0, -2.5, -1.0001, -0.9999, 0.0, 4.0])
def test_relu_truncated_moments_stable_on_both_sides_of_the_recurrence_switch(beta: float) -> None:
    got = relu_truncated_moments(12, np.array([beta]))[0]
    with mp.workdps(80):
        M = _upper_moments(12, -mp.mpf(beta))
        for p in range(13):
            ref = sum(mp.binomial(p, i) * mp.mpf(beta) ** (p - i) * M[i] for i in range(p + 1))
            assert abs(got[p] - float(ref)) <= 1e-13 * abs(float(ref)), (p, got[p], ref)


def test_relu_closed_form_matches_b_derivative_identity_C_pk_equals_r_d_db_C_pk_minus_1() -> None:
    # C_{p,k} = r^k d^k/db^k E[sigma^p]: one derivative, by a 4th-order central difference
    r, b, h = 0.9, 0.4, 1e-3
    at = lambda bb: power_hermite_coefficients("relu", 4, 6, r, bb)[0]  # noqa: E731
    deriv = (-at(b + 2 * h) + 8 * at(b + h) - 8 * at(b - h) + at(b - 2 * h)) / (12 * h)
    C = at(b)
    # truncation error ~ h^4 |d^5 C| ~ 1e-12; rounding ~ 1e-16 / h ~ 1e-13
    assert np.allclose(C[1:, 1:], r * deriv[1:, :-1], rtol=0, atol=1e-9)


# ----------------------------------------------------------------- quadrature (smooth)
TANH_CASES = [(1.3, 0.2), (20.0, 0.5)]  # the shared 2000-node rule, and the panel rule (r > 10)


@pytest.mark.parametrize(
    "act, r, b", [(QuadratureTanh(), *TANH_CASES[0]), (QuadratureTanh(), *TANH_CASES[1]), (get("tanh"), *TANH_CASES[0])]
)
def test_tanh_quadrature_matches_mpmath_to_1e12_of_cauchy_schwarz_scale(act: Activation, r: float, b: float) -> None:
    C = power_hermite_coefficients(act, 6, 14, r, b)[0]
    for p in (1, 3, 6):
        for k in (0, 7, 14):
            ref = float(_tanh_reference(p, k, r, b))
            assert abs(C[p, k] - ref) <= 1e-12 * _cs_scale(act, p, k, r, b), (p, k, C[p, k], ref)


@pytest.mark.slow
@pytest.mark.parametrize("r, b", [(1.3, 0.2), (0.5, -1.0), (3.0, 0.7), (8.0, -2.0), (45.0, 0.1)])
def test_tanh_quadrature_full_grid_p_le_6_k_le_14_matches_mpmath(r: float, b: float) -> None:
    act = QuadratureTanh()
    C = power_hermite_coefficients(act, 6, 14, r, b)[0]
    for p in range(1, 7):
        for k in range(15):
            ref = float(_tanh_reference(p, k, r, b))
            assert abs(C[p, k] - ref) <= 1e-12 * _cs_scale(act, p, k, r, b), (p, k, C[p, k], ref)


def test_200_node_gauss_hermite_is_far_worse_than_the_legendre_rule_for_tanh() -> None:
    # MATH.md section 8: the reason for the rule.  200-node Gauss-Hermite errs by ~7e-4 at
    # (p, k) = (6, 14) for tanh at r = 1.3 (measured); the Legendre rule by < 1e-12 of scale.
    r, b, p, k = 1.3, 0.2, 6, 14
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / np.sqrt(2 * np.pi)
    he = np.polynomial.hermite_e.hermeval(z, [0] * k + [1])
    gh = float(np.sum(w * np.tanh(r * z + b) ** p * he))
    ref = float(_tanh_reference(p, k, r, b))
    ours = power_hermite_coefficients(QuadratureTanh(), p, k, r, b)[0, p, k]
    assert abs(gh - ref) > 1e-4
    assert abs(ours - ref) < 1e-12 * _cs_scale(QuadratureTanh(), p, k, r, b) < 1e-6
    assert abs(ours - ref) < 1e-3 * abs(gh - ref)


def test_quadrature_chunks_give_the_same_rows_as_single_unit_calls() -> None:
    rng = np.random.default_rng(0)
    m = 2200  # > two chunks of the 2000-node rule (1048 units per 16 MiB chunk)
    r, b = rng.uniform(0.2, 3.0, m), rng.normal(size=m)
    C = power_hermite_coefficients(QuadratureTanh(), 3, 5, r, b)
    for j in (0, 1047, 1048, 2199):
        single = power_hermite_coefficients(QuadratureTanh(), 3, 5, r[j], b[j])[0]
        assert np.allclose(C[j], single, rtol=1e-14, atol=1e-15)


def test_quadrature_warns_for_a_kinked_user_activation_and_not_for_tanh() -> None:
    with pytest.warns(RuntimeWarning, match="not converged"):
        power_hermite_coefficients(QuadratureAbs(), 3, 6, [1.0, 2.0], [0.3, 0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        power_hermite_coefficients(QuadratureTanh(), 6, 14, [0.5, 9.0, 30.0], [0.1, -0.5, 2.0])


# ----------------------------------------------------------------- other closed forms
@pytest.mark.parametrize("r, b", [(1.0, 0.3), (0.4, -1.2), (2.5, 4.0)])
def test_heaviside_and_sign_closed_forms_match_exact_truncated_moments(r: float, b: float) -> None:
    H = power_hermite_coefficients("heaviside", 5, 10, r, b)[0]
    S = power_hermite_coefficients("sign", 5, 10, r, b)[0]
    for k in range(11):
        ref = float(_step_reference(k, r, b))
        delta = 1.0 if k == 0 else 0.0
        for p in range(1, 6):
            assert abs(H[p, k] - ref) <= 1e-13 * max(1.0, abs(ref))
            expected = 2 * ref - delta if p % 2 else delta
            assert abs(S[p, k] - expected) <= 2e-13 * max(1.0, abs(expected))


def test_polynomial_closed_form_matches_quadrature() -> None:
    act = polynomial([0.3, 1.0, -0.5, 0.2])
    r, b = np.array([0.7, 1.4]), np.array([0.2, -0.6])
    exact = power_hermite_coefficients(act, 4, 12, r, b)
    quad = quadrature_power_hermite(act, 4, 12, r, b)
    # sigma^4 has degree 12 and the rule resolves polynomials to rounding on [-15, 15]
    for p in range(1, 5):
        scale = np.sqrt(np.abs(power_hermite_coefficients(act, 2 * p, 0, r, b)[:, 2 * p, 0]))[:, None]
        scale = scale * np.sqrt([float(factorial(k)) for k in range(13)])
        assert np.all(np.abs(exact[:, p] - quad[:, p]) <= 1e-11 * scale)
    assert closed_form_rule(act) is not None


def test_identity_closed_form_equals_hermite_expansion_of_powers() -> None:
    # (rZ + b)^2 = b^2 + r^2 + 2 r b He_1 + r^2 He_2: C_{2,k} = (b^2 + r^2, 2rb, 2 r^2, 0, ...)
    r, b = 1.5, -0.4
    C = power_hermite_coefficients("identity", 2, 4, r, b)[0]
    assert np.allclose(C[2], [b * b + r * r, 2 * r * b, 2 * r * r, 0, 0], rtol=1e-14, atol=1e-14)
    assert np.allclose(C[1], [b, r, 0, 0, 0], rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------- conventions and errors
@pytest.mark.parametrize("name", ["relu", "heaviside", "sign", "tanh"])
def test_zero_norm_units_are_constants_sigma_b_to_the_p(name: str) -> None:
    act = get(name)
    b = np.array([0.7, -0.3, 0.0])
    C = power_hermite_coefficients(act, 4, 3, np.zeros(3), b)
    sb = np.asarray(act.value(b), dtype=float)
    assert np.allclose(C[:, :, 0], sb[:, None] ** np.arange(5), rtol=1e-15, atol=0)
    assert np.all(C[:, :, 1:] == 0)


def test_power_zero_row_is_delta_k0_for_every_method() -> None:
    for act, method in [("relu", "auto"), ("tanh", "quadrature"), (QuadratureTanh(), "auto")]:
        C = power_hermite_coefficients(act, 2, 5, [0.8, 1.1], [0.1, -0.2], method=method)
        assert np.array_equal(C[:, 0, :], np.tile([1.0, 0, 0, 0, 0, 0], (2, 1)))


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="p_max"):
        power_hermite_coefficients("relu", -1, 3, 1.0, 0.0)
    with pytest.raises(ValueError, match="method"):
        power_hermite_coefficients("relu", 1, 3, 1.0, 0.0, method="magic")
    with pytest.raises(ValueError, match="no closed-form"):
        power_hermite_coefficients(QuadratureTanh(), 1, 3, 1.0, 0.0, method="closed_form")
    with pytest.raises(ValueError, match="r"):
        power_hermite_coefficients("relu", 1, 3, -1.0, 0.0)


def test_registering_a_closed_form_for_a_user_class_takes_precedence_over_quadrature() -> None:
    class Doubled(QuadratureTanh):
        name = "user_doubled"

    calls = []

    def rule(act, p_max, k_max, r, b):  # noqa: ANN001, ANN202
        calls.append(p_max)
        return quadrature_power_hermite(act, p_max, k_max, r, b)

    register_power_hermite(Doubled, rule)
    with pytest.raises(ValueError, match="already registered"):
        register_power_hermite(Doubled, rule)
    power_hermite_coefficients(Doubled(), 2, 2, 1.0, 0.0)
    assert calls == [2]
    assert closed_form_rule(QuadratureTanh()) is None  # the base class is unaffected
