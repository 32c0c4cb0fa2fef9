"""Tests of the Monte Carlo baseline (shinnet/sampling.py) and k-statistics (shinnet/kstats.py).

Statistical checks use a fixed seed and a 4-standard-error band: if the reported standard
errors are right, each comparison fails with probability ~6e-5.
"""

from __future__ import annotations

import itertools
from math import comb, factorial

import numpy as np
import pytest
import scipy.stats

import shinnet
from shinnet import kstats
from shinnet.sampling import monte_carlo, rng_block_rows, tail_probability_mc


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small torch batches run far faster on one thread on a shared 2-core machine; restored after."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _exact_cumulants(raw: list[float]) -> list[float]:
    """kappa_1..kappa_n from raw moments mu'_0..mu'_n (standard recursion)."""
    kappa = [0.0]
    for n in range(1, len(raw)):
        kappa.append(raw[n] - sum(comb(n - 1, j - 1) * kappa[j] * raw[n - j] for j in range(1, n)))
    return kappa


def _linear_mlp(d: int = 5, m: int = 40, seed: int = 3, c: float = 0.3, output: str = "identity"):
    rng = np.random.default_rng(seed)
    return shinnet.TwoLayerMLP(
        W=rng.standard_normal((m, d)) / np.sqrt(d),
        b=rng.standard_normal(m),
        a=rng.standard_normal(m) / np.sqrt(m),
        c=c,
        hidden="identity",
        output=output,
    )


def _linear_truth(mlp):
    """f = c + a.b + (W^T a).x is Gaussian: kappa_1, kappa_2 exact, higher cumulants 0."""
    return mlp.c + mlp.a @ mlp.b, float(np.sum((mlp.W.T @ mlp.a) ** 2))


# ------------------------------------------------------------------- k-statistics
def test_kstat_matches_scipy_kstat_up_to_order_4():
    x = np.random.default_rng(0).gamma(2.0, size=41)
    sums = kstats.power_sums(x, 6, shift=1.7)
    for r in range(1, 5):
        assert kstats.kstat(sums, r, shift=1.7) == pytest.approx(scipy.stats.kstat(x, r), rel=1e-11)


@pytest.mark.parametrize("n", [6, 7])
def test_kstat_is_exactly_unbiased_on_enumerated_three_point_distribution(n):
    # E[k_r] over all 3^n equally-weighted-by-probability samples equals kappa_r exactly.
    support = np.array([-1.0, 0.5, 2.0])
    probs = np.array([0.2, 0.5, 0.3])
    idx = np.array(list(itertools.product(range(3), repeat=n)))
    samples = support[idx]  # (3^n, n)
    weights = np.prod(probs[idx], axis=1)
    sums = np.stack([np.sum(samples**p, axis=1) for p in range(7)], axis=1)
    raw = [float(probs @ support**p) for p in range(7)]
    kappa = _exact_cumulants(raw)
    for r in range(1, 7):
        assert weights @ kstats.kstat(sums, r) == pytest.approx(kappa[r], rel=1e-10, abs=1e-12)


def test_kstat_is_shift_invariant_above_order_one():
    x = np.random.default_rng(1).standard_normal(100) + 5.0
    a, b = kstats.power_sums(x, 6, 0.0), kstats.power_sums(x, 6, 5.1)
    assert kstats.kstat(a, 1) == pytest.approx(kstats.kstat(b, 1, shift=5.1), rel=1e-13)
    for r in range(2, 7):
        assert kstats.kstat(a, r) == pytest.approx(kstats.kstat(b, r), rel=1e-6, abs=1e-9)


def test_kstat_is_nan_when_sample_is_smaller_than_order_and_rejects_bad_order():
    sums = kstats.power_sums([1.0, 2.0, 4.0], 6)
    assert np.isfinite(kstats.kstat(sums, 3))
    assert np.isnan(kstats.kstat(sums, 4))
    with pytest.raises(ValueError, match="order"):
        kstats.kstat(sums, 0)
    with pytest.raises(ValueError, match="power sums up to degree"):
        kstats.kstat(sums[:3], 4)


def test_jackknife_stderr_matches_gaussian_variance_formulas():
    # Var k_1 = s^2/n, Var k_2 = 2 s^4/(n-1) for Gaussian data; G = 64 groups gives the
    # jackknife ~9% relative error, so 30% is > 3 of its standard deviations.
    n, G, s = 64_000, 64, 1.7
    x = s * np.random.default_rng(2).standard_normal(n)
    groups = np.stack([kstats.power_sums(chunk, 6) for chunk in np.split(x, G)])
    se = kstats.jackknife_stderr(groups, 6)
    assert se[1] == pytest.approx(s / np.sqrt(n), rel=0.3)
    assert se[2] == pytest.approx(np.sqrt(2 * s**4 / (n - 1)), rel=0.3)
    # Var k_3 ~ 6 s^6 / n and Var k_4 ~ 24 s^8 / n for a Gaussian (leading order)
    assert se[3] == pytest.approx(np.sqrt(6 * s**6 / n), rel=0.3)
    assert se[4] == pytest.approx(np.sqrt(24 * s**8 / n), rel=0.3)


# ------------------------------------------------------------------- Monte Carlo values
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_linear_gaussian_model_cumulants_within_4_stderr(backend):
    mlp = _linear_mlp()
    k1, k2 = _linear_truth(mlp)
    est = monte_carlo(mlp, 200_000, seed=11, backend=backend)
    se = est.details["kappa_stderr"]
    truth = {1: k1, 2: k2, 3: 0.0, 4: 0.0, 5: 0.0, 6: 0.0}
    for r in range(1, 7):
        assert abs(est.kappa[r] - truth[r]) < 4 * se[r], (r, est.kappa[r], truth[r], se[r])
    assert abs(est.value - k1) < 4 * est.stderr
    assert est.stderr == pytest.approx(np.sqrt(k2 / 200_000), rel=0.02)
    assert est.details["backend"] == backend


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_quadratic_model_cumulants_match_quadratic_form_closed_form(backend):
    # f = c + sum_j a_j (w_j.x + b_j)^2 = x^T A x + h.x + const, A = W^T diag(a) W,
    # h = 2 W^T (a*b): kappa_n = 2^(n-1)(n-1)! tr A^n + n! 2^(n-3) h^T A^(n-2) h (MATH.md 3).
    rng = np.random.default_rng(5)
    d, m = 3, 5
    W = rng.standard_normal((m, d)) / np.sqrt(d)
    a, b = rng.standard_normal(m) / np.sqrt(m), 0.5 * rng.standard_normal(m)
    mlp = shinnet.TwoLayerMLP(W=W, b=b, a=a, c=0.1, hidden="quadratic")
    A, h = W.T @ (a[:, None] * W), 2 * W.T @ (a * b)
    truth = {1: 0.1 + np.trace(A) + a @ b**2}
    for n in range(2, 7):
        An = np.linalg.matrix_power(A, n)
        truth[n] = 2 ** (n - 1) * factorial(n - 1) * np.trace(An) + factorial(n) * 2.0 ** (n - 3) * (
            h @ np.linalg.matrix_power(A, n - 2) @ h
        )
    est = monte_carlo(mlp, 400_000, seed=7, backend=backend)
    se = est.details["kappa_stderr"]
    for n in range(1, 7):
        assert abs(est.kappa[n] - truth[n]) < 4 * se[n], (n, est.kappa[n], truth[n], se[n])
    # the model is clearly non-Gaussian, so these are real checks, not zeros
    assert abs(truth[3]) > 10 * se[3] and abs(truth[4]) > 5 * se[4]


def test_reported_stderrs_are_calibrated_across_30_seeds():
    # z = (estimate - truth)/stderr should have unit spread; for 30 draws the sample sd of a
    # standard normal lies in [0.6, 1.5] with probability > 0.999.
    mlp = _linear_mlp(output="relu")
    mu, var = _linear_truth(mlp)
    s = np.sqrt(var)
    exact_y = s * scipy.stats.norm.pdf(mu / s) + mu * scipy.stats.norm.cdf(mu / s)  # E relu(N(mu, s^2))
    z = {"value": [], 1: [], 2: [], 4: []}
    truth = {1: mu, 2: var, 4: 0.0}
    for seed in range(30):
        est = monte_carlo(mlp, 20_000, seed=seed)
        z["value"].append((est.value - exact_y) / est.stderr)
        for r in (1, 2, 4):
            z[r].append((est.kappa[r] - truth[r]) / est.details["kappa_stderr"][r])
    for key, vals in z.items():
        assert 0.6 <= np.std(vals, ddof=1) <= 1.5, (key, np.std(vals, ddof=1))
        assert abs(np.mean(vals)) < 4 / np.sqrt(30) * 1.5, (key, np.mean(vals))


def test_tail_probabilities_match_gaussian_cdf_within_4_stderr():
    mlp = _linear_mlp()
    mu, var = _linear_truth(mlp)
    t = np.array([mu - 1.0, mu, mu + 1.5, mu + 3.0])
    tail = tail_probability_mc(mlp, t, 100_000, seed=4)
    exact = scipy.stats.norm.sf((t - mu) / np.sqrt(var))
    assert np.all(np.abs(tail.probability - exact) < 4 * tail.stderr)
    assert np.allclose(tail.stderr, np.sqrt(tail.probability * (1 - tail.probability) / 100_000))
    assert np.array_equal(tail.count, np.round(tail.probability * 100_000).astype(int))


# ------------------------------------------------------------------- determinism and streaming
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_same_seed_gives_identical_results_and_new_seed_differs(backend):
    mlp = _linear_mlp(output="relu")
    e1 = monte_carlo(mlp, 5000, seed=3, backend=backend)
    e2 = monte_carlo(mlp, 5000, seed=3, backend=backend)
    e3 = monte_carlo(mlp, 5000, seed=4, backend=backend)
    assert e1.value == e2.value and e1.kappa == e2.kappa
    assert e1.value != e3.value


def test_batch_size_changes_only_rounding():
    mlp = _linear_mlp(output="relu")
    ref = monte_carlo(mlp, 70_001, seed=9)
    for batch in (1000, 77):
        est = monte_carlo(mlp, 70_001, seed=9, batch_size=batch)
        assert est.value == pytest.approx(ref.value, rel=1e-12)
        for r in range(1, 7):
            assert est.kappa[r] == pytest.approx(ref.kappa[r], rel=1e-7, abs=1e-12)


def test_samples_are_seedsequence_spawn_blocks_across_a_block_boundary():
    # block i of the stream is default_rng(SeedSequence(seed).spawn(...)[i]); the mean over
    # n = one block + 37 samples must equal a direct computation on those inputs.
    mlp = _linear_mlp(d=3, m=7, output="relu")
    rows = rng_block_rows(3)
    n = rows + 37
    children = np.random.SeedSequence(21).spawn(2)
    x = np.concatenate(
        [
            np.random.default_rng(children[0]).standard_normal((rows, 3)),
            np.random.default_rng(children[1]).standard_normal((37, 3)),
        ]
    )
    y, f = mlp.forward(x), mlp.preactivation(x)
    est = monte_carlo(mlp, n, seed=21, batch_size=5000, thresholds=[0.5])
    assert est.value == pytest.approx(y.mean(), rel=1e-12)
    assert est.details["y_var"] == pytest.approx(y.var(ddof=1), rel=1e-10)
    assert est.kappa[3] == pytest.approx(scipy.stats.kstat(f, 3), rel=1e-8)
    assert est.details["tail"]["count"][0] == np.sum(f > 0.5)
    assert est.details["n_samples"] == n


def test_numpy_and_torch_backends_agree_with_each_other_within_stderr():
    mlp = _linear_mlp(output="relu")
    a = monte_carlo(mlp, 100_000, seed=1, backend="numpy")
    b = monte_carlo(mlp, 100_000, seed=1, backend="torch", device="cpu")
    assert abs(a.value - b.value) < 4 * np.hypot(a.stderr, b.stderr)
    assert b.details["device"] == "cpu"


# ------------------------------------------------------------------- accounting and validation
def test_estimate_fields_flops_and_details():
    mlp = _linear_mlp(output="relu")
    est = monte_carlo(mlp, 1000, seed=0, progress=True)
    assert est.method == "monte_carlo"
    assert est.flops == est.flops_with_advice == 1000 * mlp.flops_per_sample()
    assert est.wall_time > 0
    for key in ("kappa_stderr", "n_samples", "y_var", "seed", "backend", "device", "batch_size", "y_kstat"):
        assert key in est.details
    assert est.stderr == pytest.approx(np.sqrt(est.details["y_var"] / 1000))
    assert sorted(est.kappa) == [1, 2, 3, 4, 5, 6]


def test_invalid_inputs_raise_clear_errors():
    mlp = _linear_mlp()
    with pytest.raises(ValueError, match="n_samples must be >= 2"):
        monte_carlo(mlp, 1)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        monte_carlo(mlp, 2.5)
    with pytest.raises(ValueError, match="seed"):
        monte_carlo(mlp, 10, seed=-1)
    with pytest.raises(ValueError, match="unknown backend"):
        monte_carlo(mlp, 10, backend="jax")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        monte_carlo(mlp, 10, batch_size=0)
    with pytest.raises(ValueError, match="thresholds"):
        monte_carlo(mlp, 10, thresholds=[np.nan])
    with pytest.raises(ValueError, match="CPU only"):
        monte_carlo(mlp, 10, device="cuda")
    with pytest.raises(TypeError, match="TwoLayerMLP"):
        monte_carlo("model", 10)
    with pytest.raises(ValueError, match="at least one threshold"):
        tail_probability_mc(mlp, [], 10)


def test_float_sample_count_with_integer_value_is_accepted_and_small_n_gives_nan_high_kstats():
    est = monte_carlo(_linear_mlp(), 4.0, seed=0)
    assert est.details["n_samples"] == 4
    assert np.isfinite(est.kappa[4]) and np.isnan(est.kappa[5]) and np.isnan(est.kappa[6])


def test_overflowing_model_raises_instead_of_returning_garbage():
    mlp = _linear_mlp().replace(a=np.full(40, 1e140))  # f ~ 1e141: f^6 overflows in the power sums
    with pytest.raises(FloatingPointError, match="non-finite"):
        monte_carlo(mlp, 100)
