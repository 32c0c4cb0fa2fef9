"""shinnet.tails: the API (thresholds, psi, monotone, [0, 1]) and agreement with importance sampling."""

from __future__ import annotations

import numpy as np
import pytest

from shinnet import activations, zoo
from shinnet.model import TwoLayerMLP
from shinnet.tails import NotMonotoneError, importance_sampling, tail_probability


@pytest.fixture(scope="module")
def small_random():
    return zoo.random_mlp(6, 24, seed=3, bias_scale=0.5, c=0.2)  # mean 1.49, sd 0.71


@pytest.fixture(scope="module")
def tiny_random():
    return zoo.random_mlp(4, 8, seed=5, bias_scale=0.5, c=0.2)


def _one_direction_net() -> TwoLayerMLP:
    v = np.array([0.6, 0.0, 0.8, 0.0])
    return TwoLayerMLP(W=np.stack([v, -v, 2 * v]), b=np.array([0.1, -0.3, 0.5]), a=np.array([1.0, 0.5, -0.2]), c=0.1)


def test_tail_is_in_unit_interval_and_non_increasing_in_t(tiny_random):
    t = np.array([2.5, -3.0, 0.0, 1.0, 10.0, 0.5, -0.5])  # unsorted on purpose
    est = tail_probability(tiny_random, t, condition_rank=1)
    p = np.asarray(est.value)
    assert np.all(p >= 0) and np.all(p <= 1)
    order = np.argsort(t)
    assert np.all(np.diff(p[order]) <= 0)
    assert p[np.argmin(t)] > 0.99  # t = -3 is far below the mean
    assert len(est.details["method"]) == t.size and est.details["unreliable"].shape == t.shape


def test_scalar_threshold_gives_float_and_budget_floats(tiny_random):
    est = tail_probability(tiny_random, 1.0, condition_rank=1)
    assert isinstance(est.value, float)
    assert all(isinstance(v, float) for v in est.error_budget.values())
    assert isinstance(est.error, float) and str(est).startswith("tail:")


@pytest.mark.parametrize("bad", [np.nan, np.inf, [0.0, np.nan], [[1.0, 2.0]], []])
def test_bad_thresholds_are_refused(small_random, bad):
    with pytest.raises(ValueError):
        tail_probability(small_random, bad)


def test_unknown_method_and_exact_on_full_rank_are_refused(small_random):
    with pytest.raises(ValueError, match="method"):
        tail_probability(small_random, 1.0, method="edgeworth")
    with pytest.raises(ValueError, match="directions"):
        tail_probability(small_random, 1.0, method="exact")


@pytest.mark.parametrize("psi", ["gelu", "quadratic", "silu"])
def test_non_monotone_output_is_refused_with_output_true(psi):
    mlp = _one_direction_net().replace(output=psi)
    with pytest.raises(NotMonotoneError, match="not monotone"):
        tail_probability(mlp, 0.5, output=True)
    tail_probability(mlp, 0.5)  # the tail of f itself is fine


def test_output_tail_equals_tail_of_f_at_the_inverse_threshold():
    f_net = _one_direction_net()
    t = np.array([-0.5, 0.0, 0.3, 0.9, 0.9999, 1.0, 2.0])
    p_tanh = np.asarray(tail_probability(f_net.replace(output="tanh"), t, output=True).value)
    inside = np.abs(t) < 1
    ref = np.asarray(tail_probability(f_net, np.arctanh(t[inside])).value)
    np.testing.assert_allclose(p_tanh[inside], ref, rtol=1e-9)
    assert np.all(p_tanh[t >= 1] == 0.0)
    # relu: P(relu(f) > t) = 1 for t < 0 only if f > t always -- no: relu(f) >= 0 > t, so it is 1
    p_relu = np.asarray(tail_probability(f_net.replace(output="relu"), [-0.1, 0.4], output=True).value)
    assert p_relu[0] == 1.0
    assert p_relu[1] == pytest.approx(float(tail_probability(f_net, 0.4).value), rel=1e-12)


def test_decreasing_output_flips_the_tail():
    f_net = _one_direction_net()
    neg = activations.polynomial([0.0, -2.0])  # psi(f) = -2 f > t  <=>  f < -t/2
    p = float(tail_probability(f_net.replace(output=neg), 0.6, output=True).value)
    assert p == pytest.approx(1.0 - float(tail_probability(f_net, -0.3).value), rel=1e-9)


def test_importance_sampling_matches_exact_tail_within_standard_errors():
    f_net = _one_direction_net()
    t = 3.0
    exact = float(tail_probability(f_net, t).value)
    assert 1e-9 < exact < 1e-4
    est = importance_sampling(f_net, t, 20000, seed=1)
    assert abs(est.value - exact) <= 4 * est.stderr
    assert est.stderr < 0.1 * exact  # the shift makes a 1e-5 event cheap


def test_importance_sampling_matches_plain_monte_carlo_at_moderate_probability(small_random):
    t = 2.5
    est = importance_sampling(small_random, t, 20000, seed=2)
    x = np.random.default_rng(7).standard_normal((200000, 6))
    hits = small_random.preactivation(x) > t
    p_mc, se_mc = hits.mean(), hits.std() / np.sqrt(hits.size)
    assert 1e-3 < p_mc < 0.2
    assert abs(est.value - p_mc) <= 4 * np.hypot(est.stderr, se_mc)


def test_importance_sampling_refuses_bad_shift_and_counts(small_random):
    with pytest.raises(ValueError, match="shift"):
        importance_sampling(small_random, 1.0, 100, shift=np.zeros(5))
    with pytest.raises(ValueError, match="n_samples"):
        importance_sampling(small_random, 1.0, 1)


def _agreement(mlp, t, n_is, seed):
    est = tail_probability(mlp, t)
    ref = importance_sampling(mlp, t, n_is, seed=seed)
    p, r, se = np.asarray(est.value), np.asarray(ref.value), np.asarray(ref.stderr)
    assert np.all(se < 0.1 * r)  # the reference resolves these levels
    for i in range(p.size):
        if not est.details["unreliable"][i]:
            # reliable: within the reported budget or 30% (the budgets are signals), plus 4 s.e.
            tol = max(np.abs(est.error)[i] if np.ndim(est.error) else est.error, 0.3 * r[i]) + 4 * se[i]
            assert abs(p[i] - r[i]) <= tol, (i, p[i], r[i], se[i])
        else:
            assert r[i] / 3 <= p[i] <= 3 * r[i], (i, p[i], r[i])
    return p, r


@pytest.mark.slow
def test_random_net_tail_agrees_with_importance_sampling(small_random):
    p, r = _agreement(small_random, np.array([4.0, 5.5, 7.0]), 20000, seed=4)
    assert r[-1] < 1e-8


@pytest.mark.slow
def test_trained_net_tail_agrees_with_importance_sampling():
    mlp = zoo.trained_mlp(8, 64, "max", steps=100, seed=0)
    kappa = importance_sampling(mlp, [0.0], 2000, seed=0)  # smoke: runs on the trained net
    assert 0 < kappa.value <= 1
    mean = float(np.mean(mlp.preactivation(np.random.default_rng(0).standard_normal((20000, 8)))))
    p, r = _agreement(mlp, mean + np.array([1.5, 3.0, 4.5]), 40000, seed=5)
    assert r[-1] < 1e-4


def test_sampling_importance_sampling_is_the_documented_alias_of_the_tail_peer():
    """``shinnet.sampling.importance_sampling`` (the documented name of issue 14's IS peer) is the
    same estimator as ``shinnet.tails.importance_sampling``: identical values and errors per seed."""
    from shinnet import sampling, tails, zoo

    mlp = zoo.random_mlp(d=4, m=16, hidden="relu", output="identity", seed=0)
    a = sampling.importance_sampling(mlp, [1.5, 2.5], 2048, seed=3)
    b = tails.importance_sampling(mlp, [1.5, 2.5], 2048, seed=3)
    assert np.array_equal(np.asarray(a.value), np.asarray(b.value))
    assert np.array_equal(np.asarray(a.stderr), np.asarray(b.stderr))
    assert np.all(np.asarray(a.value) > 0)


@pytest.mark.parametrize("t", ["x", [1.0, [2.0, 3.0]], 1j])
def test_non_real_or_ragged_thresholds_are_refused_naming_t(t):
    mlp = zoo.random_mlp(d=4, m=8, hidden="relu", output="relu", seed=0)
    with pytest.raises(TypeError, match="t must be a real number"):
        tail_probability(mlp, t)
