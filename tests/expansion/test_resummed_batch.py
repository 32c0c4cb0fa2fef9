"""The resummed expansion (MATH.md section 8) for batches of second layers, and its relative
pruning tolerance: batch == loop of single models, K_{p,k} computed once, pruning budgets,
input errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import shinnet
from shinnet.contract import ConvergenceWarning
from shinnet.expansions import cumulants_batch
from shinnet.zoo import random_mlp

ORDER, EDGES = 4, 3


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kw)


def _second_layers(m: int, seed: int) -> np.ndarray:
    """Four rows: random, zeros, the negated first row, a wider random row."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, m))
    A[1] = 0.0
    A[2] = -A[0]
    A[3] *= 2.5
    return A


@pytest.fixture(scope="module", params=["relu", "tanh"])
def case(request):
    mlp = random_mlp(5, 7, hidden=request.param, seed=3, bias_scale=0.4)
    return mlp, _second_layers(7, 11)


def _close(x, y, rel=1e-12):
    """|x - y| <= rel * max(|y|, 1e-300); exact zeros must match exactly."""
    return abs(x - y) <= rel * abs(y) or x == y


@pytest.mark.parametrize("rep", ["hidden", "dspace", "auto"])
def test_batch_equals_loop_of_single_models_to_1e12(case, rep):
    mlp, A = case
    res = _quiet(cumulants_batch, mlp, ORDER, None, A, expansion="resummed", max_edges=EDGES, representation=rep)
    assert res.settings["batch"] == 4 and res.settings["expansion"] == "resummed"
    for b in range(A.shape[0]):
        one = _quiet(shinnet.cumulants, mlp.replace(a=A[b]), ORDER, expansion="resummed", max_edges=EDGES,
                     representation=rep)
        for n in range(1, ORDER + 1):
            assert res.kappa[n].shape == (4,)
            assert _close(res.kappa[n][b], one.kappa[n]), (rep, b, n, res.kappa[n][b], one.kappa[n])
        for n in range(2, ORDER + 1):
            assert len(res.partial_sums[n]) == EDGES + 1
            for e in range(EDGES + 1):
                assert _close(res.partial_sums[n][e][b], one.partial_sums[n][e])
            rep_b = res.convergence[n][b]
            assert rep_b.order == n and rep_b.lambda_star == one.convergence[n].lambda_star
            assert np.allclose(rep_b.terms, one.convergence[n].terms, rtol=1e-12, atol=0.0)
        ref = {r.diagram.key: r.value for r in one.diagrams}
        for r in res.diagrams:
            assert r.value.shape == (4,) and _close(r.value[b], ref[r.diagram.key])
    assert np.all(res.kappa[2][1:2] == 0.0) and res.kappa[2][0] == pytest.approx(res.kappa[2][2], rel=1e-14)
    # the negated row: odd cumulants flip sign, even ones do not (kap scales as a^p)
    assert res.kappa[3][2] == pytest.approx(-res.kappa[3][0], rel=1e-12)
    assert res.kappa[4][2] == pytest.approx(res.kappa[4][0], rel=1e-12)


def test_numpy_and_torch_cpu_batches_agree_to_1e12(case):
    pytest.importorskip("torch")
    mlp, A = case
    kw = dict(expansion="resummed", max_edges=EDGES)
    res_np = _quiet(cumulants_batch, mlp, ORDER, None, A, **kw)
    res_t = _quiet(cumulants_batch, mlp, ORDER, None, A, backend="torch", device="cpu", **kw)
    for n in range(1, ORDER + 1):
        assert np.allclose(res_t.kappa[n], res_np.kappa[n], rtol=1e-12, atol=0.0)


def test_sequence_of_models_sharing_the_first_layer_is_a_batch_with_own_output_bias():
    mlp = random_mlp(4, 5, hidden="relu", seed=1)
    models = [mlp.replace(a=mlp.a * s, c=s) for s in (1.0, -0.5)]
    res = _quiet(cumulants_batch, models, 3, expansion="resummed", max_edges=2)
    for b, mdl in enumerate(models):
        one = _quiet(shinnet.cumulants, mdl, 3, expansion="resummed", max_edges=2)
        assert all(_close(res.kappa[n][b], one.kappa[n]) for n in (1, 2, 3))


def test_batch_computes_power_hermite_coefficients_once_and_charges_them_once(monkeypatch):
    """K_{p,k} (quadrature for tanh) is built by one power_hermite_coefficients call for the whole
    batch; build_flops counts it once plus B scalings m P (K+1)."""
    import shinnet.tensors.power_shin as ps

    mlp = random_mlp(4, 6, hidden="tanh", seed=5)
    A = np.random.default_rng(2).standard_normal((5, 6))
    calls = []
    real = ps.power_hermite_coefficients

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(ps, "power_hermite_coefficients", counting)
    res = _quiet(cumulants_batch, mlp, 3, None, A, expansion="resummed", max_edges=2, representation="hidden")
    assert len(calls) == 1
    pb = ps.power_shin_batch(mlp, A, 3, 2)
    single = ps.power_shin_tensors(mlp.replace(a=A[0]), 3, 2)
    scale = 6 * 3 * (2 + 1)
    assert pb.build_flops == pytest.approx(single.build_flops + 4 * scale, rel=1e-14)
    assert res.build_flops == pytest.approx(pb.build_flops, rel=1e-14)  # hidden form: no dense block tensors
    for b in range(5):  # each row is the single model's weights, bit for bit
        assert np.array_equal(pb.rows[b].kap, ps.power_shin_tensors(mlp.replace(a=A[b]), 3, 2).kap)


def test_absolute_pruning_in_a_batch_stays_within_the_budget_and_needs_every_row_below_tol():
    mlp = random_mlp(6, 8, hidden="relu", seed=2, bias_scale=0.4)
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 8))
    A[2] = 0.05 * A[0]  # a small row: every class of it would be pruned on its own
    full = _quiet(cumulants_batch, mlp, ORDER, None, A, expansion="resummed", max_edges=EDGES, compute_bounds=True)
    weighted = {r.diagram.key: abs(float(r.weight)) * r.bound for r in full.diagrams}
    tol = float(np.median([w[:2].max() for w in weighted.values()]))
    pruned = _quiet(cumulants_batch, mlp, ORDER, None, A, expansion="resummed", max_edges=EDGES, tol=tol)
    assert pruned.n_pruned > 0 and pruned.n_evaluated > 0
    for n in range(2, ORDER + 1):
        assert np.all(np.abs(pruned.kappa[n] - full.kappa[n]) <= pruned.pruned_budget[n] + 1e-14)
    for r in pruned.diagrams:
        w = weighted[r.diagram.key]
        assert r.pruned == bool(np.all(w < tol)), r.diagram.key
    # the small row alone is below tol for every class, yet classes are kept for the other rows
    assert all(w[2] < tol for w in weighted.values())
    assert any(not r.pruned for r in pruned.diagrams)


@pytest.fixture(scope="module")
def relu_single():
    mlp = random_mlp(6, 8, hidden="relu", seed=2, bias_scale=0.4)
    full = _quiet(shinnet.cumulants, mlp, ORDER, expansion="resummed", max_edges=EDGES, compute_bounds=True)
    return mlp, full


def test_relative_tolerance_prunes_within_budget_and_budget_below_tol_times_kappa(relu_single):
    mlp, full = relu_single
    tol = 0.1
    res = _quiet(shinnet.cumulants, mlp, ORDER, expansion="resummed", max_edges=EDGES, tol=tol, tol_mode="relative")
    assert res.settings["tol_mode"] == "relative"
    assert res.n_pruned > 0  # the criterion really prunes here (the smallest bounds are ~5% of the largest)
    ref = {r.diagram.key: r.contribution for r in full.diagrams}
    for n in range(2, ORDER + 1):
        recs = res.by_order(n)
        dropped = [r for r in recs if r.pruned]
        true_dropped = sum(ref[r.diagram.key] for r in dropped)
        assert abs(true_dropped) <= res.pruned_budget[n] + 1e-15
        assert abs(res.kappa[n] - full.kappa[n]) <= res.pruned_budget[n] + 1e-14
        assert res.pruned_budget[n] == pytest.approx(sum(r.budget for r in dropped), rel=1e-14)
        # the stated rule: dropped once their summed bound < tol |running sum| = tol |kappa_n|
        assert res.pruned_budget[n] < tol * abs(res.kappa[n]) or not dropped
        # decreasing |weight| * bound: nothing dropped is larger than anything kept
        if dropped:
            kept = [abs(float(r.weight)) * r.bound for r in recs if not r.pruned]
            assert max(r.budget for r in dropped) <= min(kept)
        # partial sums over E come from the kept classes
        for e in range(EDGES + 1):
            kept_e = sum(r.contribution for r in recs if r.diagram.n_edges <= e)
            assert res.partial_sums[n][e] == pytest.approx(kept_e, rel=1e-12, abs=1e-15)


def test_relative_tolerance_prunes_the_same_classes_after_scaling_the_second_layer(relu_single):
    """kappa_n and every class bound scale as s^n under a -> s a, so the relative rule (unlike an
    absolute tol) drops the same classes, and the budgets scale as s^n."""
    mlp, _ = relu_single
    kw = dict(expansion="resummed", max_edges=EDGES, tol=0.1, tol_mode="relative")
    res = _quiet(shinnet.cumulants, mlp, ORDER, **kw)
    big = _quiet(shinnet.cumulants, mlp.replace(a=10.0 * mlp.a), ORDER, **kw)
    assert {r.diagram.key for r in res.diagrams if r.pruned} == {r.diagram.key for r in big.diagrams if r.pruned}
    for n in range(2, ORDER + 1):
        assert big.pruned_budget[n] == pytest.approx(10.0**n * res.pruned_budget[n], rel=1e-9)
    absolute = _quiet(shinnet.cumulants, mlp.replace(a=10.0 * mlp.a), ORDER, expansion="resummed", max_edges=EDGES,
                      tol=0.1)
    assert absolute.n_pruned != big.n_pruned


def test_relative_tolerance_zero_or_tiny_prunes_nothing(relu_single):
    mlp, full = relu_single
    res = _quiet(shinnet.cumulants, mlp, ORDER, expansion="resummed", max_edges=EDGES, tol=1e-6, tol_mode="relative")
    assert res.n_pruned == 0
    assert all(res.kappa[n] == pytest.approx(full.kappa[n], rel=1e-12) for n in range(2, ORDER + 1))


def test_batch_warns_once_when_lambda_star_reaches_one():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(4)
    W = base + 0.05 * rng.standard_normal((5, 4))  # nearly parallel units
    mlp = shinnet.TwoLayerMLP(W=W, b=np.zeros(5), a=np.ones(5), c=0.0, hidden="tanh")
    with pytest.warns(ConvergenceWarning, match="batch of 2 second layers"):
        res = cumulants_batch(mlp, 3, None, rng.standard_normal((2, 5)), expansion="resummed", max_edges=2)
    assert all(rep.asymptotic for rep in res.convergence[3])


def test_clear_errors_for_bad_batches():
    mlp = random_mlp(4, 5, hidden="relu", seed=0)
    kw = dict(expansion="resummed", max_edges=2)
    with pytest.raises(ValueError, match=r"shape \(B, m=5\)"):
        cumulants_batch(mlp, 3, None, np.ones((2, 6)), **kw)
    with pytest.raises(ValueError, match=r"shape \(B, m=5\)"):
        cumulants_batch(mlp, 3, None, np.ones(5), **kw)
    bad = np.ones((2, 5))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf.*row 1, unit 3"):
        cumulants_batch(mlp, 3, None, bad, **kw)
    with pytest.raises(ValueError, match="expansion='auto' is not supported for batches"):
        cumulants_batch(mlp, 3, 4, np.ones((2, 5)), expansion="auto", max_edges=2)
    with pytest.raises(ValueError, match="tol_mode='relative' is not supported for batches"):
        cumulants_batch(mlp, 3, None, np.ones((2, 5)), tol=0.1, tol_mode="relative", **kw)
    with pytest.raises(ValueError, match="needs max_edges"):
        cumulants_batch(mlp, 3, None, np.ones((2, 5)), expansion="resummed")
    with pytest.raises(ValueError, match="needs max_degree"):
        cumulants_batch(mlp, 3, None, np.ones((2, 5)))
    with pytest.raises(ValueError, match="needs second_layers"):
        cumulants_batch(mlp, 3, None, **kw)
    other = random_mlp(4, 5, hidden="relu", seed=1)
    with pytest.raises(ValueError, match="share the first layer"):
        cumulants_batch([mlp, other], 3, **kw)
    with pytest.raises(ValueError, match="tol_mode must be"):
        shinnet.cumulants(mlp, 3, tol=0.1, tol_mode="bogus", **kw)
