"""Exact tails: f inside a span of one or two directions, one unit, quadratic forms (shinnet.tails)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ndtr

from shinnet.model import TwoLayerMLP
from shinnet.tails import tail_probability


def _orthonormal(d: int, r: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, r)))
    return q


def imhof_tail(lam: np.ndarray, delta: np.ndarray, x: float, upper: float = 400.0) -> float:
    """``P(sum_i lam_i (Z_i + delta_i)^2 > x)`` by Imhof's inversion of the characteristic function,

        P = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du,

    ``theta = 1/2 sum [arctan(lam u) + delta^2 lam u / (1 + lam^2 u^2)] - x u / 2``,
    ``rho = prod (1 + lam^2 u^2)^(1/4) exp(1/2 sum delta^2 lam^2 u^2 / (1 + lam^2 u^2))``.
    The integrand decays like ``u^(-1 - n/2)``; with n >= 4 the part beyond ``upper`` is < 1e-10.
    Integrated by scipy quad on chunks of length 2 (the oscillation period is ~ 4 pi / x).
    """

    def integrand(u: float) -> float:
        if u == 0.0:
            return 0.5 * (np.sum(lam * (1 + delta**2)) - x)
        lu = lam * u
        theta = 0.5 * np.sum(np.arctan(lu) + delta**2 * lu / (1 + lu**2)) - 0.5 * x * u
        rho = np.prod((1 + lu**2) ** 0.25) * math.exp(0.5 * np.sum(delta**2 * lu**2 / (1 + lu**2)))
        return math.sin(theta) / (u * rho)

    edges = np.arange(0.0, upper + 1.0, 2.0)
    val = sum(quad(integrand, lo, hi, epsabs=1e-15, epsrel=1e-12, limit=200)[0] for lo, hi in zip(edges[:-1], edges[1:]))
    return 0.5 + val / math.pi


@pytest.mark.slow
def test_imhof_reference_matches_chi_square():
    # sanity of the reference itself: 2 (Z_1^2 + .. + Z_4^2) > x  <=>  chi2_4 > x/2,  P = exp(-x/4)(1 + x/4)
    # (the truncation at u = 400 leaves ~3e-11 absolute for 4 terms)
    for x in (4.0, 20.0, 60.0):
        ref = math.exp(-x / 4) * (1 + x / 4)
        assert imhof_tail(np.full(4, 2.0), np.zeros(4), x) == pytest.approx(ref, rel=1e-8, abs=1e-10)


def quadratic_superlevel_1d(A: float, B: float, C: float) -> float:
    """``P(A Z^2 + B Z + C > 0)`` for ``Z ~ N(0, 1)`` from the roots of the quadratic (closed form)."""
    if A == 0.0:
        if B == 0.0:
            return float(C > 0)
        return float(ndtr(C / abs(B)))  # B Z + C > 0  <=>  sign(B) Z > -C/|B|
    disc = B * B - 4 * A * C
    if disc <= 0:
        return 1.0 if A > 0 else 0.0
    r1, r2 = sorted(((-B - math.sqrt(disc)) / (2 * A), (-B + math.sqrt(disc)) / (2 * A)))
    between = float(ndtr(r2) - ndtr(r1)) if r1 < 0 else float(ndtr(-r1) - ndtr(-r2))
    return 1.0 - between if A > 0 else between


def test_single_tanh_unit_matches_normal_closed_form_for_both_signs():
    w = np.array([0.3, -1.2, 0.4])
    r = np.linalg.norm(w)
    for a, c in ((1.5, 0.1), (-2.0, 0.3)):
        mlp = TwoLayerMLP(W=w[None, :], b=np.array([0.2]), a=np.array([a]), c=c, hidden="tanh")
        t = np.array([-1.0, 0.0, 0.9, 1.5])
        est = tail_probability(mlp, t)
        level = np.clip((t - c) / a, -1, 1)
        z = np.arctanh(np.clip(level, -1 + 1e-300, 1 - 1e-16))
        ref = ndtr(-(z - 0.2) / r) if a > 0 else ndtr((z - 0.2) / r)
        ref = np.where(np.abs(level) >= 1, np.where((level >= 1) == (a > 0), 0.0, 1.0), ref)
        assert est.details["method"] == ["single_unit"] * 4
        np.testing.assert_allclose(est.value, ref, rtol=1e-9, atol=1e-15)


def test_relu_pair_along_one_direction_is_two_sided_normal_tail_down_to_1e_minus_8():
    v = _orthonormal(5, 1, 0)[:, 0] * 1.7
    mlp = TwoLayerMLP(W=np.stack([v, -v]), b=np.zeros(2), a=np.ones(2), c=0.0)  # f = 1.7 |y|
    t = np.array([0.5, 2.0, 5.0, 9.5])
    est = tail_probability(mlp, t)
    ref = 2 * ndtr(-t / 1.7)
    assert est.details["method"] == ["exact_1d"] * 4
    assert ref[-1] < 1e-7
    np.testing.assert_allclose(est.value, ref, rtol=1e-10)


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_units_inside_one_direction_match_scipy_quad(hidden):
    rng = np.random.default_rng(3)
    v = _orthonormal(6, 1, 1)[:, 0]
    alpha = rng.normal(size=7) * 1.5
    b, a = rng.normal(size=7), rng.normal(size=7)
    mlp = TwoLayerMLP(W=np.outer(alpha, v), b=b, a=a, c=0.1, hidden=hidden)

    def g(y: float) -> float:
        return float(np.asarray(mlp.hidden.value(alpha * y + b)) @ a + 0.1)

    t = np.array([-0.5, 0.5, 1.5])
    est = tail_probability(mlp, t)
    kinks = sorted(k for k in -b / alpha if abs(k) < 12)
    for tv, p in zip(t, est.value):
        ref = quad(lambda y: math.exp(-y * y / 2) / math.sqrt(2 * math.pi) * (g(y) > tv), -12, 12,
                   points=kinks, limit=4000, epsabs=1e-11)[0]
        assert p == pytest.approx(ref, abs=2e-8)


def test_orthogonal_relu_units_in_two_directions_match_nested_quad():
    V = _orthonormal(4, 2, 2)
    mlp = TwoLayerMLP(W=np.stack([V[:, 0], 2 * V[:, 1]]), b=np.zeros(2), a=np.array([1.0, 1.0]), c=-0.5)
    # f = relu(y1) + 2 relu(y2) - 0.5;  P(f > t) = int phi(y1) P(2 relu(Y2) > t + 0.5 - relu(y1)) dy1

    def inner(y1: float, tv: float) -> float:
        u = tv + 0.5 - max(y1, 0.0)
        return float(ndtr(-u / 2)) if u >= 0 else 1.0

    t = np.array([0.0, 3.0, 13.0])
    est = tail_probability(mlp, t)
    assert est.details["method"] == ["exact_2d"] * 3
    for tv, p in zip(t, est.value):
        pts = [0.0, tv + 0.5] if tv + 0.5 > 0 else [0.0]
        ref = quad(lambda y: math.exp(-y * y / 2) / math.sqrt(2 * math.pi) * inner(y, tv), -15, 15, points=pts,
                   epsabs=0, epsrel=1e-11, limit=500)[0]
        assert p == pytest.approx(ref, rel=1e-6)
    assert est.value[-1] < 1e-7


def test_generalized_chi_square_in_two_directions_matches_root_formula_and_quad():
    # f(y) = y^T A y + 2 h.y + k on y ~ N(0, I_2); given y1, f > t is a quadratic inequality in y2
    # solved by the quadratic formula; the outer integral by scipy quad (independent of shinnet)
    rng = np.random.default_rng(4)
    V = _orthonormal(5, 2, 5)
    alpha = rng.normal(size=(3, 2))
    b, a, c = rng.normal(size=3) * 0.5, np.array([1.0, 0.7, -0.3]), 0.2
    mlp = TwoLayerMLP(W=alpha @ V.T, b=b, a=a, c=c, hidden="quadratic")
    A = (alpha.T * a) @ alpha
    h = alpha.T @ (a * b)
    k = c + np.sum(a * b**2)
    t = np.array([0.5, 3.0, 80.0])
    est = tail_probability(mlp, t)
    assert est.details["method"] == ["exact_2d"] * 3
    for tv, p in zip(t, est.value):
        def inner(y1: float) -> float:
            return quadratic_superlevel_1d(A[1, 1], 2 * A[0, 1] * y1 + 2 * h[1], A[0, 0] * y1 * y1 + 2 * h[0] * y1 + k - tv)

        ref = quad(lambda y: math.exp(-y * y / 2) / math.sqrt(2 * math.pi) * inner(y), -12, 12, epsabs=0,
                   epsrel=1e-9, limit=1000)[0]
        assert p == pytest.approx(ref, rel=1e-6)
    assert est.value[-1] < 1e-6


def test_saddlepoint_on_orthogonal_quadratic_units_matches_imhof_within_its_budget():
    d = 5
    U = _orthonormal(d, d, 6).T
    r = np.array([1.0, 0.8, 0.6, 0.5, 0.4])
    b = np.array([0.3, -0.2, 0.1, 0.0, 0.5])
    a = np.array([1.0, 1.0, 0.8, 0.6, 1.2])
    mlp = TwoLayerMLP(W=U * r[:, None], b=b, a=a, c=0.0, hidden="quadratic")
    lam, delta = a * r**2, b / r  # unit j: a_j r_j^2 (Z_j + b_j / r_j)^2, independent
    t = np.array([8.0, 16.0, 28.0])  # P down to ~1e-6 (Imhof truncated at u = 400 is good to ~1e-10 absolute)
    est = tail_probability(mlp, t, method="saddlepoint")
    assert est.details["diagnostics"]["saddlepoint"]["coupling_share"] < 1e-12
    for i, tv in enumerate(t):
        ref = imhof_tail(lam, delta, tv)
        err = abs(est.value[i] - ref)
        assert err <= est.error_budget["saddlepoint"][i] + 1e-12
        assert err <= 0.1 * ref  # Lugannani-Rice on 5 noncentral chi-square terms: measured <= 6%
    assert est.value[-1] < 2e-6
