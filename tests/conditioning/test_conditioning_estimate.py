"""``estimate_conditioned`` / ``shinnet.estimate(..., condition=r)`` (MATH.md section 9).

References: independent scipy quadrature (exact case: every unit inside span V), the plain
estimate (condition = 0), kappa_1 (identity psi), the exact unconditional value for polynomial
sigma and psi, and Monte Carlo with its standard error on a trained one-direction net.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, optimize

import shinnet
from shinnet import activations
from shinnet.conditioning import estimate_conditioned
from shinnet.model import TwoLayerMLP
from shinnet.zoo import random_mlp


def _rank_r_mlp(r, hidden, output, seed, m=7, d=5):
    """A first layer of rank r (every unit inside an r-dim subspace): the exact case."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.normal(size=(d, r)))[0]
    W = rng.normal(size=(m, r)) @ Q.T
    return TwoLayerMLP(W=W, b=0.5 * rng.normal(size=m), a=rng.normal(size=m), c=0.2, hidden=hidden,
                       output=output), Q


def _g(mlp, alpha, y):
    f = float(mlp.c) + mlp.a @ np.asarray(mlp.hidden.value(mlp.b + alpha @ y), dtype=np.float64)
    return float(np.asarray(mlp.output.value(np.array([f])))[0])


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
@pytest.mark.parametrize("output", ["relu", "sigmoid"])
def test_exact_case_r1_equals_scipy_quad(hidden, output):
    mlp, Q = _rank_r_mlp(1, hidden, output, seed=11)
    est = estimate_conditioned(mlp, 1, directions=Q)
    alpha = (mlp.W @ Q)[:, 0]
    pts = sorted(set((-mlp.b / alpha).tolist()))
    phi = lambda y: np.exp(-0.5 * y * y) / np.sqrt(2 * np.pi)  # noqa: E731
    ref, err = integrate.quad(lambda y: phi(y) * _g(mlp, alpha[:, None], np.array([y])), -12, 12,
                              points=[p for p in pts if abs(p) < 12], limit=1000, epsabs=1e-14, epsrel=1e-13)
    assert err < 1e-11
    assert est.value == pytest.approx(ref, abs=1e-9)
    info = est.details["condition"]
    assert info["exact"] and info["r"] == 1 and info["converged"]
    assert info["quadrature_error"] < 1e-9
    assert est.method == "conditioned"


def _level_set_points(mlp, alpha, y1, L):
    """Where ``c'(y1, .)`` changes sign on [-L, L] (psi = relu's kink), by a grid and brentq."""
    grid = np.linspace(-L, L, 4001)
    c = np.array([float(mlp.c) + mlp.a @ np.asarray(mlp.hidden.value(mlp.b + alpha @ np.array([y1, t])))
                  for t in grid])
    roots = []
    for i in np.flatnonzero(np.sign(c[:-1]) * np.sign(c[1:]) < 0):
        f = lambda t: float(mlp.c) + mlp.a @ np.asarray(mlp.hidden.value(mlp.b + alpha @ np.array([y1, t])))  # noqa: E731
        roots.append(optimize.brentq(f, grid[i], grid[i + 1], xtol=1e-14))
    return roots


@pytest.mark.slow
@pytest.mark.parametrize("hidden", ["relu", "tanh"])
@pytest.mark.parametrize("output", ["relu", "sigmoid"])
def test_exact_case_r2_equals_scipy_nquad(hidden, output):
    mlp, Q = _rank_r_mlp(2, hidden, output, seed=12, m=5)
    est = estimate_conditioned(mlp, 2, directions=Q, atol=1e-11, rtol=1e-11, max_nodes=4_000_000)
    alpha = mlp.W @ Q
    L = 9.0

    def inner_points(y1):  # the hidden units' kinks and, for psi = relu, the kinks of psi
        k = list(-(mlp.b + alpha[:, 0] * y1) / alpha[:, 1]) if hidden == "relu" else []
        if output == "relu":
            k += _level_set_points(mlp, alpha, y1, L)
        return {"points": [p for p in k if abs(p) < L], "limit": 400, "epsabs": 1e-13, "epsrel": 1e-12}

    def integrand(y2, y1):
        return np.exp(-0.5 * (y1 * y1 + y2 * y2)) / (2 * np.pi) * _g(mlp, alpha, np.array([y1, y2]))

    ref, _ = integrate.nquad(integrand, [[-L, L], [-L, L]],
                             opts=[inner_points, {"limit": 400, "epsabs": 1e-12, "epsrel": 1e-12}])
    assert est.value == pytest.approx(ref, abs=1e-9)
    assert est.details["condition"]["quadrature_error"] < 1e-8


def test_exact_case_r2_relu_equals_scipy_nquad_fast():
    """The default-suite r = 2 check: relu hidden and relu output (kinked lines and a kinked level set)."""
    mlp, Q = _rank_r_mlp(2, "relu", "relu", seed=13, m=3)
    est = estimate_conditioned(mlp, 2, directions=Q, atol=1e-11, rtol=1e-11)
    alpha = mlp.W @ Q
    L = 9.0

    def inner_points(y1):
        k = -(mlp.b + alpha[:, 0] * y1) / alpha[:, 1]
        return {"points": [p for p in k if abs(p) < L], "limit": 200, "epsabs": 1e-13, "epsrel": 1e-12}

    def integrand(y2, y1):
        return np.exp(-0.5 * (y1 * y1 + y2 * y2)) / (2 * np.pi) * _g(mlp, alpha, np.array([y1, y2]))

    ref, _ = integrate.nquad(integrand, [[-L, L], [-L, L]],
                             opts=[inner_points, {"limit": 200, "epsabs": 1e-12, "epsrel": 1e-12}])
    assert est.value == pytest.approx(ref, abs=1e-9)


def test_condition_zero_reproduces_plain_estimate_exactly():
    mlp = random_mlp(5, 12, hidden="relu", output="sigmoid", seed=2, bias_scale=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = shinnet.estimate(mlp, order=4, max_degree=4)
        zero = shinnet.estimate(mlp, order=4, max_degree=4, condition=0)
        direct = estimate_conditioned(mlp, 0, order=4, max_degree=4)
    assert zero.value == plain.value and direct.value == plain.value
    assert zero.method == plain.method
    assert dict(zero.error_budget) == dict(plain.error_budget)


@pytest.mark.parametrize("r", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_identity_output_gives_kappa_1_for_any_r(r):
    # psi = identity has no inner budget, so the outer rule refines to atol: ~60 s at r = 2
    mlp = random_mlp(4, 6, hidden="relu", output="identity", seed=3, bias_scale=0.5)
    est = shinnet.estimate(mlp, order=2, max_degree=2, condition=r, atol=1e-10, rtol=1e-10, max_nodes=200_000)
    kappa_1 = shinnet.shin_tensors(mlp, 1).mean()
    assert est.value == pytest.approx(kappa_1, abs=1e-10)
    assert not est.details["condition"]["exact"]
    assert est.details["condition"]["quadrature_error"] < 1e-9


def test_polynomial_sigma_and_psi_conditioning_commutes_with_exact_expansion():
    # quadratic sigma: the degree-2 expansion is exact; psi cubic: the series is exact at order 3 (q = 1)
    psi = activations.polynomial([0.1, -0.4, 0.3, 0.2])
    mlp = random_mlp(4, 5, hidden="quadratic", seed=4, bias_scale=0.4, weight_scale=0.6).replace(output=psi)
    exact = shinnet.estimate(mlp, order=3, max_degree=2)
    for variance in ("degree", "resummed"):
        est = estimate_conditioned(mlp, 1, order=3, max_degree=2, variance=variance)
        # g(y) is a polynomial times nothing rough: the rule is exact to rounding, whatever the
        # (overstated) inner budget lets the tolerance be
        assert est.value == pytest.approx(exact.value, abs=1e-10)


def test_auto_condition_picks_one_direction_for_rank_one_first_layer():
    mlp, Q = _rank_r_mlp(1, "relu", "sigmoid", seed=5)
    est = shinnet.estimate(mlp, condition="auto")
    assert est.details["condition"]["r"] == 1
    assert abs(float(est.details["condition"]["V"][:, 0] @ Q[:, 0])) == pytest.approx(1.0, abs=1e-10)


def test_bad_condition_arguments_are_refused_before_work():
    mlp = random_mlp(3, 4, seed=0, output="relu")
    for bad in (-1, 4, "all", 1.5, True):
        with pytest.raises(ValueError, match="condition"):
            estimate_conditioned(mlp, bad)
    with pytest.raises(ValueError, match="expansion"):
        estimate_conditioned(mlp, 1, expansion="resummed")
    with pytest.raises(ValueError, match="budget_flops"):
        estimate_conditioned(mlp, 1, budget_flops=1e8)
    with pytest.raises(ValueError, match="variance"):
        estimate_conditioned(mlp, 1, variance="exact")


@pytest.mark.slow
@pytest.mark.parametrize("output", ["relu", "sigmoid"])
def test_trained_one_direction_net_against_monte_carlo_and_rqmc(output):
    """Target relu(x_1) - 1 (one direction), d = 8, m = 128.

    Plain Monte Carlo, 2^18 samples (s.e. about 2e-4 for relu, 1e-4 for sigmoid): the conditional
    estimate must lie within 3 s.e. of it.  RQMC with control variates, 2^17 points (s.e. about
    1e-5 here): the distance to it must be covered by the estimate's budget plus 3 of its s.e.
    """
    mlp = shinnet.zoo.trained_mlp(8, 128, "relu_shift", steps=150, seed=0, output=output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc = shinnet.monte_carlo(mlp, 2**18, seed=1, progress=False)
        rq = shinnet.monte_carlo(mlp, 2**17, seed=2, method="sobol", control_variates=True, progress=False)
        # the Gaussian inner (N = 2): at N = 4 the series of f_y does not shrink at the central nodes
        # for psi = relu (error 6e-4 against 6e-6 at N = 2) and the estimate is flagged unreliable
        est = shinnet.estimate(mlp, condition=1, order=2, max_degree=4)
    assert est.details["condition"]["r"] == 1 and est.reliable
    assert abs(est.value - mc.value) <= 3.0 * mc.stderr
    assert abs(est.value - rq.value) <= est.error + 3.0 * rq.stderr
    assert est.error < 2.0 * mc.stderr  # the budget is informative: comparable to 2^18 Monte Carlo samples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plain estimate is flagged unreliable on this skewed f
        plain = shinnet.estimate(mlp, order=4, max_degree=4)
    assert abs(est.value - rq.value) < abs(plain.value - rq.value)  # conditioning removed part of the error
