"""Tests of randomized QMC, control variates, the hybrid estimator and the sampler's input handling
(shinnet/sampling/, shinnet/hybrid.py; MATH.md section 10).

Exact cases: hidden = identity makes f Gaussian (``E[relu(f)] = s phi(mu/s) + mu Phi(mu/s)``);
hidden = quadratic makes f a quadratic form ``x^T A x + h^T x + c0`` with
``kappa_2 = 2 tr A^2 + |h|^2``, ``kappa_3 = 8 tr A^3 + 6 h^T A h`` (MATH.md section 3), so
``E[f^3] = kappa_3 + 3 kappa_1 kappa_2 + kappa_1^3``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats

import shinnet
from shinnet import activations, zoo
from shinnet.hybrid import hybrid
from shinnet.sampling import SOBOL_MAX_DIM, exact_variance, monte_carlo, sampling_flops
from shinnet.sampling import inputs as sampling_inputs


def _gaussian_mlp(d=4, m=8, seed=0, output="relu"):
    rng = np.random.default_rng(seed)
    return shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=rng.standard_normal(m),
                               a=rng.standard_normal(m) / np.sqrt(m), c=0.2, hidden="identity", output=output)


def _relu_of_gaussian(mlp):
    mu = mlp.c + mlp.a @ mlp.b
    s = float(np.linalg.norm(mlp.W.T @ mlp.a))
    return s * scipy.stats.norm.pdf(mu / s) + mu * scipy.stats.norm.cdf(mu / s)


def _quadratic_mlp(d=3, m=5, seed=1, output=None):
    rng = np.random.default_rng(seed)
    out = activations.polynomial([0.0, 0.0, 0.0, 1.0]) if output is None else output
    return shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.3 * rng.standard_normal(m),
                               a=rng.standard_normal(m) / np.sqrt(m), c=0.1, hidden="quadratic", output=out)


def _quadratic_cumulants(mlp):
    A = mlp.W.T @ (mlp.a[:, None] * mlp.W)
    h = 2.0 * mlp.W.T @ (mlp.a * mlp.b)
    k1 = np.trace(A) + mlp.c + mlp.a @ mlp.b**2
    k2 = 2 * np.trace(A @ A) + h @ h
    k3 = 8 * np.trace(A @ A @ A) + 6 * h @ A @ h
    return k1, k2, k3


def _fraction_within_t(z, dof, level=0.9):
    return float(np.mean(np.abs(z) < scipy.stats.t.ppf(0.5 + level / 2, dof)))


# ------------------------------------------------------------------ RQMC error bars and rates
@pytest.mark.parametrize("case, seeds", [("gaussian_relu", 100),
                                         pytest.param("quadratic_square", 300, marks=pytest.mark.slow)])
def test_rqmc_stderr_is_calibrated_as_t_with_r_minus_1_dof(case, seeds):
    # |estimate - exact| / stderr is a t variable with R - 1 = 7 dof when the replicate means are
    # close to normal: the fraction of seeds inside the 90% t quantile is 0.9 +- sqrt(0.09/seeds)
    # (binomial); the band below is ~4 of those standard errors.  Unbiasedness is checked on the raw
    # errors.  Measured fractions: Gaussian f, relu: 0.90 (n = 256) and 0.95 (2048); quadratic f,
    # psi = f^2: 0.87 / 0.90.  (psi = f^3 of a quadratic f is so skewed that 32-point replicate
    # means are far from normal: 0.77 / 0.82, for plain RQMC and the hybrid alike.)
    if case == "gaussian_relu":
        mlp = _gaussian_mlp()
        exact = _relu_of_gaussian(mlp)
    else:
        mlp = _quadratic_mlp(output="quadratic")
        k1, k2, _ = _quadratic_cumulants(mlp)
        exact = k2 + k1**2
    err, z = [], []
    for s in range(seeds):
        e = monte_carlo(mlp, 256, seed=s, method="sobol")
        assert e.details["scrambles"] == 8 and e.details["method"] == "sobol" and e.details["stderr_dof"] == 7
        err.append(e.value - exact)
        z.append((e.value - exact) / e.stderr)
    band = 4 * np.sqrt(0.09 / seeds)
    assert abs(_fraction_within_t(np.array(z), 7) - 0.9) < band
    assert abs(np.mean(err)) < 4 * np.std(err, ddof=1) / np.sqrt(seeds)


def test_rqmc_mse_on_a_smooth_integrand_is_far_below_var_over_n():
    # tanh -> tanh, d = 6, m = 32, n = 2^14 in 8 scrambles: measured Var(y)/n over the mean
    # stderr^2 = 173 (and 125 from the spread of 10 values); asserted > 30 (a 4x margin; the mean
    # of 4 stderr^2 has relative s.e. ~ 27%)
    mlp = zoo.random_mlp(6, 32, hidden="tanh", output="tanh", seed=0, bias_scale=0.5)
    n = 2**14
    runs = [monte_carlo(mlp, n, seed=s, method="sobol") for s in range(4)]
    var_y = runs[0].details["y_var"]
    assert var_y / n / np.mean([e.stderr**2 for e in runs]) > 30


def test_control_variates_make_identity_output_exact():
    mlp = zoo.random_mlp(5, 20, hidden="tanh", output="identity", seed=2, bias_scale=0.5)
    k1 = shinnet.sampling.exact_mean_f(mlp)
    for method in ("plain", "sobol"):
        for cv in ("linear", True):
            e = monte_carlo(mlp, 512, seed=3, method=method, control_variates=cv)
            # stderr: rounding of the residual variance (~1e-16 Var(y)), not sampling noise
            assert e.value == pytest.approx(k1, abs=1e-12) and e.stderr < 1e-6 * e.details["y_var"] ** 0.5
            assert e.details["control_variates"] == ("linear" if cv == "linear" else "quadratic")


def test_control_variates_are_unbiased_and_reduce_variance_on_gaussian_relu():
    mlp = _gaussian_mlp(seed=2)  # mean 0.82, sd 0.66: relu(f) is far from linear in f
    exact = _relu_of_gaussian(mlp)
    z_plain, se_ratio = [], []
    for s in range(60):
        cv = monte_carlo(mlp, 512, seed=s, control_variates=True)
        plain = monte_carlo(mlp, 512, seed=s)
        z_plain.append((cv.value - exact) / cv.stderr)
        se_ratio.append(cv.stderr / plain.stderr)
    assert abs(np.mean(z_plain)) < 0.5  # 60 z-scores: s.e. of the mean 0.13
    assert np.median(se_ratio) < 0.5  # f Gaussian: z_1, z_2 explain most of relu(f)


def test_exact_variance_matches_quadratic_form_and_two_dimensional_quadrature():
    mlp = _quadratic_mlp(output="identity")
    v = exact_variance(mlp)
    assert v["value"] == pytest.approx(_quadratic_cumulants(mlp)[1], rel=1e-12)
    assert v["tail_bound"] < 1e-12  # quadratic sigma: Hermite degree <= 2
    # tanh, d = 2: Var f by a 120 x 120 Gauss-Hermite tensor rule (smooth integrand; converged to ~1e-14)
    mlp = zoo.random_mlp(2, 4, hidden="tanh", seed=5, bias_scale=0.5)
    x, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    X = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)
    Wt = np.outer(w, w).ravel()
    f = mlp.preactivation(X)
    var = Wt @ f**2 - (Wt @ f) ** 2
    v = exact_variance(mlp)
    assert abs(v["value"] - var) <= v["tail_bound"] + 1e-12
    assert v["flops"] > 2 * 4 * 4 * 2


# ------------------------------------------------------------------ the hybrid estimator
def test_hybrid_is_unbiased_on_exact_cases():
    # Gaussian f, psi = relu: 80 seeds, t-calibrated (measured fraction in the 90% band 0.90)
    mlp = _gaussian_mlp(seed=2)
    exact = _relu_of_gaussian(mlp)
    runs = [hybrid(mlp, 256, seed=s) for s in range(80)]
    err = np.array([e.value - exact for e in runs])
    assert abs(err.mean()) < 4 * err.std(ddof=1) / np.sqrt(80)
    assert abs(_fraction_within_t(err / np.array([e.stderr for e in runs]), 7) - 0.9) < 4 * np.sqrt(0.09 / 80)
    # quadratic f, psi = f^3 (g is its degree-2 projection; the residual is a nonzero cubic)
    mlp = _quadratic_mlp(seed=2)
    k1, k2, k3 = _quadratic_cumulants(mlp)
    err = np.array([hybrid(mlp, 256, seed=s).value - (k3 + 3 * k1 * k2 + k1**3) for s in range(40)])
    assert abs(err.mean()) < 4 * err.std(ddof=1) / np.sqrt(40)
    # psi = f^2: g = psi, so the hybrid is c_0 = kappa_2 + kappa_1^2 exactly
    mlp = _quadratic_mlp(seed=1, output="quadratic")
    k1, k2, _ = _quadratic_cumulants(mlp)
    assert hybrid(mlp, 64, seed=0).value == pytest.approx(k2 + k1**2, rel=1e-12)


def test_hybrid_variance_is_below_rqmc_on_near_gaussian_f():
    # random erf network, d = 8, m = 256: f is near Gaussian, so psi - g is small.  Ratio of the mean
    # squared standard errors over 8 seeds (same points): measured 0.29 (tanh hidden, 10 seeds)
    mlp = zoo.random_mlp(8, 256, hidden="erf", output="relu", seed=0, bias_scale=0.5)
    runs = [hybrid(mlp, 2**10, seed=s) for s in range(8)]
    assert np.mean([e.stderr**2 for e in runs]) < 0.6 * np.mean([e.details["rqmc_stderr"] ** 2 for e in runs])
    e = runs[0]
    assert e.method == "hybrid" and e.flops > e.details["flops_parts"]["forward"]
    assert e.details["mechanistic"] == pytest.approx(e.details["coefficients"][0])  # degree 2: c_0 = g(mu)


def test_hybrid_constant_model_is_exact():
    mlp = zoo.random_mlp(3, 4, output="tanh", seed=0).replace(a=np.zeros(4), c=0.7)
    e = hybrid(mlp, 64, seed=0)
    assert e.value == pytest.approx(np.tanh(0.7), rel=1e-14) and e.stderr == 0.0


# ------------------------------------------------------------------ input handling
def test_sobol_rounds_n_up_to_a_power_of_two_per_scramble_with_a_note():
    mlp = _gaussian_mlp()
    e = monte_carlo(mlp, 1000, seed=0, method="sobol")
    assert e.details["n_samples"] == 8 * 128 and e.details["n_per_scramble"] == 128
    assert "rounded up" in e.details["note"] and "1000" in e.details["note"]
    assert monte_carlo(mlp, 1024, seed=0, method="sobol").details["note"] is None


def test_sobol_refuses_dimensions_above_its_direction_numbers():
    from scipy.stats import qmc

    assert SOBOL_MAX_DIM == qmc.Sobol.MAXDIM
    d = SOBOL_MAX_DIM + 1
    mlp = shinnet.TwoLayerMLP(W=np.ones((1, d)) / d, b=np.zeros(1), a=np.ones(1))
    with pytest.raises(ValueError, match=f"d <= {SOBOL_MAX_DIM}"):
        monte_carlo(mlp, 16, method="sobol")


def test_bad_method_and_control_variate_arguments_are_refused():
    mlp = _gaussian_mlp()
    with pytest.raises(ValueError, match="unknown method"):
        monte_carlo(mlp, 16, method="halton")
    with pytest.raises(ValueError, match="control_variates"):
        monte_carlo(mlp, 16, control_variates="cubic")
    with pytest.raises(ValueError, match="scrambles must be >= 2"):
        monte_carlo(mlp, 16, method="sobol", scrambles=1)
    with pytest.raises(ValueError, match="thresholds need"):
        monte_carlo(mlp, 16, method="sobol", thresholds=[0.0])


def test_seed_accepts_int_generator_seedsequence_and_none():
    mlp = _gaussian_mlp()
    for method in ("plain", "sobol"):
        a = monte_carlo(mlp, 256, seed=np.random.default_rng(5), method=method)
        b = monte_carlo(mlp, 256, seed=np.random.default_rng(5), method=method)
        assert a.value == b.value and isinstance(a.details["seed"], dict)
        c = monte_carlo(mlp, 256, seed=None, method=method)
        again = monte_carlo(mlp, 256, seed=np.random.SeedSequence(c.details["seed"]), method=method)
        assert again.value == c.value  # None reports its entropy: the run can be repeated
    gen = np.random.default_rng(1)
    assert monte_carlo(mlp, 256, seed=gen).value != monte_carlo(mlp, 256, seed=gen).value  # a Generator advances
    assert monte_carlo(mlp, 256, seed=7).details["seed"] == 7
    with pytest.raises(ValueError, match="seed"):
        monte_carlo(mlp, 16, seed="x")


def test_torch_module_is_accepted_and_torch_backend_sees_the_same_sobol_points():
    torch = pytest.importorskip("torch")
    mlp = _gaussian_mlp(output="relu")
    module = mlp.to_torch(dtype=torch.float64)
    assert monte_carlo(module, 300, seed=2).value == pytest.approx(monte_carlo(mlp, 300, seed=2).value, rel=1e-12)
    a = monte_carlo(mlp, 512, seed=2, method="sobol")
    b = monte_carlo(mlp, 512, seed=2, method="sobol", backend="torch", device="cpu")
    assert b.value == pytest.approx(a.value, rel=1e-10)  # same points, ndtri in torch
    with pytest.raises(ValueError, match="nn.Sequential"):
        monte_carlo(torch.nn.Linear(3, 1), 16)
    with pytest.raises(TypeError, match="TwoLayerMLP"):
        monte_carlo("model", 16)


def test_absurd_requests_are_refused_with_their_cost_and_long_ones_warn(monkeypatch):
    mlp = _gaussian_mlp()
    with pytest.raises(ValueError, match=r"10\^12|1e\+12.*FLOPs.*expected about"):
        monte_carlo(mlp, 10**12)
    monkeypatch.setattr(sampling_inputs, "LONG_RUN_SECONDS", 0.0)
    with pytest.warns(UserWarning, match="expected about"):
        e = monte_carlo(mlp, 20_000, seed=0, progress=False)
    assert e.details["expected_seconds"] > 0
    with pytest.raises(ValueError, match="max_seconds"):
        monte_carlo(mlp, 20_000, seed=0, max_seconds=1e-9)
    monkeypatch.setattr(sampling_inputs, "LONG_RUN_SECONDS", 1e9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # short runs are silent
        monte_carlo(mlp, 20_000, seed=0)


def test_flops_state_every_part_and_sobol_pays_for_points_and_inverse_cdf():
    mlp = _gaussian_mlp()
    e = monte_carlo(mlp, 1024, seed=0, method="sobol", control_variates="linear")
    parts = e.details["flops_parts"]
    assert parts == sampling_flops(mlp, 1024, "sobol", 8, 1, 1, parts["setup"])
    assert parts["forward"] == 1024 * mlp.flops_per_sample()
    assert parts["inverse_cdf"] == 1024 * mlp.d * 30 and parts["points"] > 1024 * mlp.d
    assert e.flops == e.flops_with_advice == parts["total"] and "inverse normal CDF" in e.details["flop_conventions"]
    plain = monte_carlo(mlp, 1024, seed=0)
    assert plain.flops == 1024 * mlp.flops_per_sample()  # section 7's convention: forward passes only
