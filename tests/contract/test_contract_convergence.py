"""Truncation in K against exact references and Monte Carlo; convergence diagnostics (MATH.md s.3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from shinnet import TwoLayerMLP, activations
from shinnet.contract import ConvergenceWarning
from shinnet.expansions import cumulants
from reference import Sine


def _sine_model(trained: bool, seed: int = 0, hidden: object = None) -> TwoLayerMLP:
    """d = 3, m = 8 units through a smooth activation: the sine stand-in (exact coefficients,
    weights ~0.9/sqrt(d) per entry), or the registered erf / tanh with *small* weights
    (~0.5/sqrt(d)): at 0.9 their degree-8 truncation still misses kappa_3/kappa_4 by 10-40 s.e.
    (measured), the MATH.md section 3 caveat that only small weights make the Hermite tail
    negligible at moderate K."""
    act = Sine() if hidden is None else activations.get(hidden)
    d, m = 3, 8
    rng = np.random.default_rng(seed)
    W = (0.9 if hidden is None else 0.5) * rng.standard_normal((m, d)) / np.sqrt(d)
    b = 0.8 * rng.standard_normal(m)
    if trained:  # second layer fitted by ridge regression to a target, as training the last layer does
        X = rng.standard_normal((4000, d))
        H = act.value(X @ W.T + b)
        y = np.sin(X[:, 0]) * X[:, 1] + 0.3 * X[:, 2] ** 2
        a = np.linalg.solve(H.T @ H + 1e-3 * np.eye(m), H.T @ y)
    else:
        a = rng.standard_normal(m) / np.sqrt(m)
    return TwoLayerMLP(W=W, b=b, a=a, c=0.1, hidden=act)


def _mc_cumulants(model, n_samples, seed, n_batches=40):
    """kappa_1..4 from samples, with standard errors from the spread over independent batches."""
    rng = np.random.default_rng(seed)
    f = model.preactivation(rng.standard_normal((n_samples, model.d)))

    def kappas(v):
        mu = v.mean()
        c2, c3, c4 = (np.mean((v - mu) ** j) for j in (2, 3, 4))
        return np.array([mu, c2, c3, c4 - 3 * c2**2])

    est = kappas(f)
    per = np.array([kappas(chunk) for chunk in np.array_split(f, n_batches)])
    se = per.std(axis=0, ddof=1) / np.sqrt(n_batches)
    return est, se


@pytest.mark.parametrize("hidden", [None, "erf", "tanh"], ids=["sine", "erf", "tanh"])
@pytest.mark.parametrize("trained", [False, True])
def test_smooth_activation_cumulants_agree_with_monte_carlo_and_gap_shrinks_with_K(trained, hidden):
    model = _sine_model(trained, hidden=hidden)
    est, se = _mc_cumulants(model, 10**6, seed=1)
    res = {K: cumulants(model, 4, K) for K in (2, 8)}
    for n in range(1, 5):
        assert abs(res[8].kappa[n] - est[n - 1]) <= 4 * se[n - 1], (n, res[8].kappa[n], est[n - 1], se[n - 1])
    # the K = 2 truncation is visibly off for kappa_3 or kappa_4; K = 8 is closer for every order
    gaps2 = [abs(res[2].kappa[n] - est[n - 1]) for n in (2, 3, 4)]
    gaps8 = [abs(res[8].kappa[n] - est[n - 1]) for n in (2, 3, 4)]
    assert max(g / s for g, s in zip(gaps2, se[1:])) > 4
    assert all(g8 <= g2 + 2 * s for g8, g2, s in zip(gaps8, gaps2, se[1:]))


@pytest.mark.slow
def test_smooth_activation_cumulants_agree_with_1e7_monte_carlo_and_slow_kappa4_is_flagged():
    """seed 3 has units with |w| up to 1.74: kappa_1..kappa_3 agree with 10^7 samples at K = 10,
    but kappa_4's partial sums over K (0.014, 0.128, ..., 0.189, 0.106, 0.099 at K = 2..10,
    0.020 at K = 14, Monte Carlo 0.0171 +- 0.0003) are still far off at K = 10; the engine must
    say so (ConvergenceWarning naming kappa_4), and the gap must shrink by K = 14 (measured: 28x)."""
    model = _sine_model(False, seed=3)
    est, se = _mc_cumulants(model, 10**7, seed=2)
    with pytest.warns(ConvergenceWarning, match="kappa_4"):
        res = cumulants(model, 4, 10)
    for n in range(1, 4):
        assert abs(res.kappa[n] - est[n - 1]) <= 4 * se[n - 1]
    gap10 = abs(res.kappa[4] - est[3])
    assert gap10 > 20 * se[3]  # not converged: the warning above is not a false alarm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gap14 = abs(cumulants(model, 4, 14).kappa[4] - est[3])
    assert gap14 < gap10 / 10


def _relu_variance_exact(model):
    """Var f for bias-free relu units: E[relu(X)relu(Y)] = r r' (sqrt(1-rho^2) + (pi - arccos rho) rho) / (2 pi)
    for X = r u.x, Y = r' u'.x (the arc-cosine kernel), E[relu(X)] = r / sqrt(2 pi)."""
    r = np.linalg.norm(model.W, axis=1)
    U = model.W / r[:, None]
    rho = np.clip(U @ U.T, -1.0, 1.0)
    second = np.outer(r, r) * (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi)
    mean = r / np.sqrt(2 * np.pi)
    cov = second - np.outer(mean, mean)
    return float(model.a @ cov @ model.a)


def test_relu_variance_converges_at_the_k_to_minus_three_halves_rate():
    rng = np.random.default_rng(4)
    d, m = 3, 12
    model = TwoLayerMLP(W=rng.standard_normal((m, d)), b=np.zeros(m), a=rng.standard_normal(m), c=0.0, hidden="relu")
    exact = _relu_variance_exact(model)
    res = cumulants(model, 2, 24, exact_variance=exact)
    tails = {K: exact - res.partial_sums[2][K - 2] for K in (6, 12, 24)}
    assert all(t > 0 for t in tails.values())  # each kept degree adds a nonnegative <shin_k, shin_k>/k!
    slope_lo = np.log(tails[12] / tails[6]) / np.log(2)
    slope_hi = np.log(tails[24] / tails[12]) / np.log(2)
    # MATH.md s.3: tail ~ K^(-3/2) (the same-unit terms gamma_k^2/k! ~ k^(-5/2)); approaching it from below
    assert -1.75 < slope_hi < -1.3 and abs(slope_hi + 1.5) < abs(slope_lo + 1.5) + 0.05
    assert res.convergence[2].exact_tail == pytest.approx(tails[24], rel=1e-12)
    assert not res.convergence[2].diverging


def test_smooth_case_partial_sums_settle_without_warning():
    model = _sine_model(False, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = cumulants(model, 4, 8)
    for n in (2, 3, 4):
        rep = res.convergence[n]
        assert not rep.diverging
        assert abs(rep.increments[-1]) < abs(rep.increments[0])
        assert rep.hypercontractive_ratio < 1


def test_rough_relu_case_raises_convergence_warning():
    # MATH.md s.3: relu, d = 3, m = 200: kappa_4 partial sums stop settling by K ~ 9-10
    rng = np.random.default_rng(0)
    d, m = 3, 200
    model = TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.5 * rng.standard_normal(m),
                        a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    with pytest.warns(ConvergenceWarning, match="kappa_4"):
        res = cumulants(model, 4, 9)
    assert res.convergence[4].diverging
