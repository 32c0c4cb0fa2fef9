"""``shinnet.cumulants(expansion=...)``: pruning and its budget, the lambda* warning, the
``auto`` rule, the estimator pass-through and input errors (MATH.md section 8)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import shinnet
from shinnet import activations
from shinnet.contract import ConvergenceWarning
from shinnet.model import TwoLayerMLP
from shinnet.zoo import random_mlp


@pytest.fixture(scope="module")
def relu():
    return random_mlp(6, 9, hidden="relu", seed=2, bias_scale=0.4)


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return shinnet.cumulants(*args, **kw)


def test_operator_norm_bounds_dominate_every_class_value(relu):
    res = _quiet(relu, 4, expansion="resummed", max_edges=3, compute_bounds=True)
    for rec in res.diagrams:
        assert abs(rec.value) <= rec.bound * (1 + 1e-10) + 1e-15, rec.diagram.key


def test_pruned_classes_change_kappa_by_at_most_the_reported_budget(relu):
    full = _quiet(relu, 4, expansion="resummed", max_edges=3, compute_bounds=True)
    tol = float(np.median([abs(float(r.weight)) * r.bound for r in full.diagrams]))
    pruned = _quiet(relu, 4, expansion="resummed", max_edges=3, tol=tol)
    assert pruned.n_pruned > 0 and pruned.n_evaluated > 0
    for n in (2, 3, 4):
        assert abs(pruned.kappa[n] - full.kappa[n]) <= pruned.pruned_budget[n] + 1e-14
    assert all(r.flops == 0 for r in pruned.diagrams if r.pruned)


def test_warning_when_lambda_star_reaches_one_and_none_for_orthonormal_units():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(4)
    W = base + 0.05 * rng.standard_normal((5, 4))  # nearly parallel units: lambda* ~ n - 1
    mlp = TwoLayerMLP(W=W, b=np.zeros(5), a=rng.standard_normal(5), c=0.0, hidden="tanh")
    with pytest.warns(ConvergenceWarning, match="lambda\\* >= 1"):
        res = shinnet.cumulants(mlp, 3, expansion="resummed", max_edges=3)
    assert res.convergence[3].asymptotic and res.convergence[3].euler is not None
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    ortho = TwoLayerMLP(W=Q, b=np.zeros(4), a=np.ones(4), c=0.0, hidden="tanh")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = shinnet.cumulants(ortho, 3, expansion="resummed", max_edges=2)
    assert not res.convergence[3].asymptotic


def test_kappa1_is_exact_mean_from_one_dimensional_weights(relu):
    res = _quiet(relu, 2, expansion="resummed", max_edges=1)
    deg = _quiet(relu, 2, max_degree=2)
    assert res.kappa[1] == pytest.approx(deg.kappa[1], rel=1e-14)  # both are c + sum_u a_u E[sigma]


def test_auto_picks_degree_for_polynomials_and_resummed_when_lambda_star_below_one():
    rng = np.random.default_rng(1)
    poly = TwoLayerMLP(W=rng.standard_normal((4, 3)), b=np.zeros(4), a=rng.standard_normal(4), c=0.0,
                       hidden=activations.polynomial([0.0, 0.0, 1.0]))
    res = shinnet.cumulants(poly, 3, 2, expansion="auto", max_edges=3)
    assert res.settings["auto"]["chosen"] == "degree"
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    ortho = TwoLayerMLP(W=1.3 * Q, b=0.2 * np.ones(5), a=rng.standard_normal(5), c=0.0, hidden="relu")
    res = shinnet.cumulants(ortho, 4, 4, expansion="auto", max_edges=2)
    assert res.settings["auto"]["chosen"] == "resummed" and res.settings["expansion"] == "resummed"


def test_auto_with_lambda_star_above_one_keeps_the_better_settling_expansion_and_warns(relu):
    with pytest.warns(ConvergenceWarning, match="expansion='auto'"):
        res = shinnet.cumulants(relu, 4, 6, expansion="auto", max_edges=4)
    info = res.settings["auto"]
    assert info["lambda_star"] >= 1
    better = "resummed" if info["settling_resummed"] <= info["settling_degree"] else "degree"
    assert info["chosen"] == better


def test_estimate_passes_expansion_through_and_records_it(relu):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = shinnet.estimate(relu, order=3, expansion="resummed", max_edges=3)
        ref = _quiet(relu, 3, expansion="resummed", max_edges=3)
    assert est.details["expansion"] == "resummed" and est.details["max_edges"] == 3
    assert est.kappa[3] == pytest.approx(ref.kappa[3], rel=1e-14)


def test_clear_errors_for_missing_truncations_and_bad_options(relu):
    with pytest.raises(ValueError, match="max_edges"):
        shinnet.cumulants(relu, 3, expansion="resummed")
    with pytest.raises(ValueError, match="max_degree"):
        shinnet.cumulants(relu, 3)
    with pytest.raises(ValueError, match="expansion must be"):
        shinnet.cumulants(relu, 3, 4, expansion="bogus")
    with pytest.raises(ValueError, match="tol_mode"):
        shinnet.cumulants(relu, 3, expansion="resummed", max_edges=2, tol=1.0, tol_mode="bogus")
    with pytest.raises(ValueError, match="contract_mode"):
        shinnet.cumulants(relu, 3, expansion="resummed", max_edges=2, contract_mode="ordered")
    with pytest.raises(ValueError, match="representation"):
        shinnet.cumulants(relu, 3, expansion="resummed", max_edges=2, representation="bogus")
    from shinnet.tensors.power_shin import power_shin_tensors

    with pytest.raises(ValueError, match="powers <= 2"):
        shinnet.cumulants(power_shin_tensors(relu, 2, 4), 3, expansion="resummed", max_edges=2)


def test_settling_scales_movement_by_kappa2_power_so_near_zero_cumulants_do_not_decide():
    """A series whose kappa_3 is ~0 but moves by 1e-6 must not look worse than one whose kappa_4
    moves by 0.14 (the measured failure of the old |kappa_n| scaling on a trained tanh network)."""
    from types import SimpleNamespace

    from shinnet.expansions.auto import settling

    degree = SimpleNamespace(settings={"expansion": "degree"}, kappa={2: 0.35, 3: 1e-8, 4: -0.095},
                             partial_sums={2: [0.34, 0.35, 0.35], 3: [0.0, -1e-6, 1e-8], 4: [-0.09, -0.094, -0.095]})
    resummed = SimpleNamespace(settings={"expansion": "resummed"}, kappa={2: 0.35, 3: 1e-8, 4: -0.121},
                               partial_sums={2: [0.3, 0.35, 0.35], 3: [0.0, 1e-8, 1e-8], 4: [-0.04, -0.14, -0.121]})
    s_deg, s_res = settling(degree), settling(resummed)
    # degree: kappa_4 moved 0.005 -> 0.005 / 0.35^2 = 0.041; resummed: |t_E| + |t_{E-1}| = 0.019 + 0.1
    assert s_deg == pytest.approx(max(0.01 / 0.35, 1.0e-8 / 0.35**1.5, 0.005 / 0.35**2), rel=1e-12)
    assert s_res == pytest.approx(0.119 / 0.35**2, rel=1e-9)
    assert s_deg < s_res


def test_engine_takes_the_moebius_decompositions_from_the_cached_table(monkeypatch):
    import shinnet.contract.resummed_plan as plan_mod
    import shinnet.enumerate.blocks as blocks_mod

    mlp = random_mlp(4, 6, hidden="relu", seed=5, bias_scale=0.3)
    kw = dict(expansion="resummed", max_edges=3, representation="dspace", tol=1e-12, compute_bounds=True, warn=False)
    before = shinnet.cumulants(mlp, 4, **kw)

    def refuse(dg):
        raise AssertionError("per-class moebius_terms called: the engine should read the Moebius table")

    monkeypatch.setattr(blocks_mod, "moebius_terms", refuse)
    monkeypatch.setattr(plan_mod, "moebius_terms", refuse)
    after = shinnet.cumulants(mlp, 4, **kw)
    for n in range(2, 5):
        assert after.kappa[n] == before.kappa[n]
        assert after.pruned_budget[n] == before.pruned_budget[n]
