"""Values of the contraction engine against closed forms and quadrature (MATH.md sections 3-4)."""

from __future__ import annotations

import json
from math import factorial

import numpy as np
import pytest

import shinnet
from shinnet import TwoLayerMLP, activations
from shinnet.contract import PathCache
from shinnet.expansions import cumulants, cumulants_batch
from shinnet.hermite import gauss_hermite_rule
from reference import Sine


def _model(d, m, hidden, seed, bias=0.0, scale=1.0, c=0.0):
    rng = np.random.default_rng(seed)
    W = scale * rng.standard_normal((m, d)) / np.sqrt(d)
    b = bias * rng.standard_normal(m)
    a = rng.standard_normal(m) / np.sqrt(m)
    return TwoLayerMLP(W=W, b=b, a=a, c=c, hidden=hidden)


def _cumulants_from_samples(f, w, order):
    """kappa_1..order from weighted samples (quadrature nodes): central moments -> cumulants."""
    mu = float(np.sum(w * f))
    c = {j: float(np.sum(w * (f - mu) ** j)) for j in range(2, order + 1)}
    out = {1: mu, 2: c[2]}
    if order >= 3:
        out[3] = c[3]
    if order >= 4:
        out[4] = c[4] - 3 * c[2] ** 2
    return out


def _quadrature_cumulants(model, order, nodes):
    """Exact (to rounding) cumulants by tensor Gauss-Hermite quadrature in d dimensions."""
    z, w = gauss_hermite_rule(nodes)
    grids = np.meshgrid(*([z] * model.d), indexing="ij")
    X = np.stack([g.ravel() for g in grids], axis=1)
    wts = np.ones(1)
    for _ in range(model.d):
        wts = np.multiply.outer(wts, w).ravel()
    return _cumulants_from_samples(model.preactivation(X), wts, order)


@pytest.mark.parametrize("representation", ["auto", "dense", "factored", "gram"])
def test_kappa_n_matches_quadratic_form_closed_form(representation):
    # sigma = z^2, no biases: only shin_0 and shin_2 = S; kappa_n = (n-1)!/2 tr(S^n) (MATH.md s.3)
    model = _model(5, 9, activations.polynomial([0, 0, 1]), seed=1, c=0.7)
    shin = shinnet.shin_tensors(model, 2)
    S = shin.dense(2)
    res = cumulants(shin, 8, 2, representation=representation)
    assert res.kappa[1] == pytest.approx(shin.mean(), rel=1e-14)
    for n in range(2, 9):
        exact = factorial(n - 1) / 2 * np.trace(np.linalg.matrix_power(S, n))
        assert res.kappa[n] == pytest.approx(exact, rel=1e-10), n


def test_kappa_n_matches_quadratic_form_with_linear_term_closed_form():
    # with biases shin_1 = h != 0: kappa_n = 2^(n-1)(n-1)! tr(A^n) + n! 2^(n-3) h^T A^(n-2) h, A = S/2
    model = _model(4, 7, activations.polynomial([0, 0, 1]), seed=2, bias=0.8)
    shin = shinnet.shin_tensors(model, 2)
    A = shin.dense(2) / 2
    h = shin.dense(1)
    res = cumulants(model, 7, 2)
    for n in range(2, 8):
        An2 = np.linalg.matrix_power(A, n - 2)
        exact = 2 ** (n - 1) * factorial(n - 1) * np.trace(np.linalg.matrix_power(A, n)) + \
            factorial(n) * 2.0 ** (n - 3) * h @ An2 @ h
        assert res.kappa[n] == pytest.approx(exact, rel=1e-10), n


@pytest.mark.parametrize("d", [2, 3])
def test_cubic_activation_cumulants_match_tensor_gauss_hermite_quadrature(d):
    # He_3(z) + bias: f is a cubic polynomial, so K = 3 is exact; 12 nodes per axis integrate f^4 exactly
    model = _model(d, 5, activations.polynomial([0.2, -3, 0.5, 1]), seed=3 + d, bias=0.5)
    res = cumulants(model, 4, 3)
    ref = _quadrature_cumulants(model, 4, nodes=12)
    scale = abs(ref[2])
    for n in range(1, 5):
        assert abs(res.kappa[n] - ref[n]) <= 1e-9 * max(abs(ref[n]), scale), (n, res.kappa[n], ref[n])


def test_sine_truncation_converges_to_quadrature_and_the_gap_shrinks_with_K():
    # entire activation, small weights: kappa_n(K) -> kappa_n geometrically (MATH.md s.3)
    model = _model(2, 6, Sine(), seed=5, bias=0.7, scale=0.8)
    ref = _quadrature_cumulants(model, 4, nodes=60)
    gaps = {}
    for K in (2, 4, 6):
        res = cumulants(model, 4, K)
        gaps[K] = [abs(res.kappa[n] - ref[n]) for n in (2, 3, 4)]
    for n_idx in range(3):
        assert gaps[6][n_idx] < gaps[4][n_idx] < gaps[2][n_idx]
        assert gaps[6][n_idx] < 2e-3 * abs(ref[2]) ** ((n_idx + 2) / 2)


def test_representations_agree_on_relu_network():
    # dense, factored, gram, mixed and auto are the same number contracted differently (1e-12)
    model = _model(3, 6, "relu", seed=7, bias=0.3)
    results = {rep: cumulants(model, 4, 4, representation=rep) for rep in ("auto", "dense", "factored", "gram", "mixed")}
    base = results["dense"]
    for rep, res in results.items():
        for n in range(2, 5):
            assert res.kappa[n] == pytest.approx(base.kappa[n], rel=1e-12, abs=1e-15), (rep, n)
    assert {r.representation for r in results["auto"].diagrams} <= {"dense", "factored", "gram", "mixed"}


def test_numpy_and_torch_backends_agree_to_1e_12():
    pytest.importorskip("torch")
    model = _model(3, 8, "relu", seed=8, bias=0.2)
    a = cumulants(model, 4, 4, backend="numpy")
    b = cumulants(model, 4, 4, backend="torch", device="cpu")
    for n in range(1, 5):
        assert b.kappa[n] == pytest.approx(a.kappa[n], rel=1e-12)
    c = cumulants(model, 3, 4, backend="torch", device="cpu", dtype="float32")
    assert c.kappa[2] == pytest.approx(a.kappa[2], rel=1e-5)  # float32 rounding


def test_batched_second_layers_equal_the_loop_over_models():
    model = _model(3, 6, "relu", seed=9, bias=0.4)
    A = np.random.default_rng(10).standard_normal((3, 6))
    batch = cumulants_batch(model, 4, 4, second_layers=A)
    for bidx in range(3):
        single = cumulants(model.replace(a=A[bidx]), 4, 4)
        for n in range(1, 5):
            assert batch.kappa[n][bidx] == pytest.approx(single.kappa[n], rel=1e-12, abs=1e-15)
        assert batch.partial_sums[4][-1][bidx] == pytest.approx(single.partial_sums[4][-1], rel=1e-12)


def test_partial_sums_equal_separate_truncated_runs():
    model = _model(3, 5, "relu", seed=11, bias=0.5)
    full = cumulants(model, 3, 4)
    for K in (2, 3, 4):
        sub = cumulants(model, 3, K)
        for n in (2, 3):
            assert full.partial_sums[n][K - 2] == pytest.approx(sub.kappa[n], rel=1e-12)


def test_variance_equals_sum_of_shin_norms():
    # n = 2: Var f_K = sum_k <shin_k, shin_k>/k!  (MATH.md s.3 check)
    model = _model(4, 10, "relu", seed=12, bias=0.3)
    shin = shinnet.shin_tensors(model, 6)
    res = cumulants(shin, 2, 6)
    assert res.kappa[2] == pytest.approx(shin.variance_captured(6), rel=1e-12)


def test_path_cache_round_trips_through_json(tmp_path):
    model = _model(3, 5, "relu", seed=13)
    file = tmp_path / "paths.json"
    first = cumulants(model, 3, 3, cache=PathCache(file))
    data = json.loads(file.read_text())
    assert data["format"] == "shinnet-paths-1" and len(data["paths"]) > 0
    cache = PathCache(file)
    second = cumulants(model, 3, 3, cache=cache)
    assert cache.misses == 0 and cache.hits > 0
    for n in (2, 3):
        assert second.kappa[n] == pytest.approx(first.kappa[n], rel=1e-13)


def test_memory_limit_refuses_before_allocating():
    model = _model(3, 5, "relu", seed=14)
    with pytest.raises(MemoryError, match="memory limit"):
        cumulants(model, 2, 4, representation="dense", memory_limit=100)
    with pytest.raises(MemoryError, match="memory limit"):
        cumulants(model, 2, 4, representation="auto", memory_limit=16)


def test_bad_arguments_raise_clear_errors():
    model = _model(3, 5, "relu", seed=15)
    with pytest.raises(ValueError, match="tol_mode"):
        cumulants(model, 2, 2, tol_mode="bogus")
    with pytest.raises(ValueError, match="representation"):
        cumulants(model, 2, 2, representation="sparse")
    with pytest.raises(ValueError, match="order"):
        cumulants(model, 0, 2)
    with pytest.raises(TypeError, match="vertex-tensor"):
        cumulants(object(), 2, 2)


def test_result_accounting_is_consistent():
    model = _model(3, 6, "relu", seed=16, bias=0.2)
    res = cumulants(model, 4, 4)
    assert res.flops == pytest.approx(sum(r.flops for r in res.diagrams) + res.setup_flops)
    assert res.n_evaluated == len(res.diagrams) and res.n_pruned == 0
    assert res.build_flops >= 0
    assert res.timings["total"] >= res.timings["contraction"] + res.timings["path_search"] - 1e-9
    for n in (2, 3, 4):
        assert res.kappa[n] == pytest.approx(sum(float(r.weight) * r.value for r in res.by_order(n)), rel=1e-12)


def test_paths_report_matches_engine_costs_and_writes_plots(tmp_path):
    from shinnet.contract import paths

    records = paths(3, 3, d=3, m=5, representation="dense", time_contraction=True)
    model = _model(3, 5, "relu", seed=17)
    res = cumulants(model, 3, 3, representation="dense")
    assert len(records) == len(res.diagrams)
    assert sorted(r.flops for r in records) == sorted(r.flops for r in res.diagrams)
    one = paths(2, 2, d=3, m=5, diagram=records[-1].diagram, plot_dir=tmp_path, representation="factored")
    assert one[0].representation == "factored"
    assert (tmp_path / "0000_tree.png").stat().st_size > 0 and (tmp_path / "0000_network.png").stat().st_size > 0


def test_cli_paths_prints_one_row_per_diagram(capsys):
    from shinnet.cli import main

    assert main(["paths", "--order", "3", "--max-degree", "2", "--d", "3", "--m", "4", "--no-time"]) == 0
    out = capsys.readouterr().out
    assert "diagrams" in out and "3:0-1x1,0-2x1,1-2x1" in out


def test_advice_overriding_a_degree_is_contracted_densely_and_changes_the_cumulant():
    """Advice replaces shin_2; auto must use the dense advice, not the factored weights."""
    import shinnet
    from shinnet.tensors.shin import ShinTensors

    rng = np.random.default_rng(3)
    mlp = shinnet.TwoLayerMLP(rng.standard_normal((6, 3)) / np.sqrt(3), np.zeros(6), rng.standard_normal(6) / 3,
                              hidden=shinnet.activations.polynomial([0.0, 0.0, 1.0]))
    base = shinnet.shin_tensors(mlp, 2)
    S = rng.standard_normal((3, 3))
    S = S + S.T
    advised = ShinTensors(base.lam, base.U, c=base.c, advice={2: S})
    res = shinnet.cumulants(advised, order=3, max_degree=2, warn=False)
    # only shin_2 = S: kappa_n = (n-1)!/2 tr(S^n)
    assert res.kappa[2] == pytest.approx(0.5 * np.trace(S @ S), rel=1e-12)
    assert res.kappa[3] == pytest.approx(np.trace(S @ S @ S), rel=1e-12)


def test_auto_falls_back_to_factored_when_dense_and_gram_exceed_the_memory_limit():
    """A limit too small for the dense and Gram networks of one diagram but large enough for
    its U-copy network: auto must still contract it, and agree with the unconstrained value.
    (Sizes for d = 5, m = 30: dense 625 entries, gram 900, factored 150.)"""
    from shinnet.enumerate import Diagram

    rng = np.random.default_rng(11)
    d, m = 5, 30
    mlp = TwoLayerMLP(rng.standard_normal((m, d)) / np.sqrt(d), 0.3 * rng.standard_normal(m),
                      rng.standard_normal(m) / np.sqrt(m), hidden="tanh")
    star = Diagram.from_edges([(0, 1, 2), (0, 2, 1), (0, 3, 1)])
    free = cumulants(mlp, order=4, max_degree=4, diagrams=[star], warn=False)
    tight = cumulants(mlp, order=4, max_degree=4, diagrams=[star], warn=False, memory_limit=3000.0)
    assert [r.representation for r in tight.diagrams if r.order == 4][0] in ("factored", "mixed")
    assert free.diagrams[-1].representation in ("dense", "gram")
    assert tight.kappa[4] == pytest.approx(free.kappa[4], rel=1e-12)


def _plan_context(d: int, m: int, cache: PathCache, memory_limit: float = 2.0**31):
    from shinnet.contract.representations import PlanContext

    return PlanContext(d=d, m=m, degree_of=lambda k: int(k), has_dense=True, itemsize=8,
                       memory_limit=memory_limit, gram_max_m=2048, batch=None, cache=cache)


def test_factored_path_search_is_deterministic_across_fresh_caches():
    from shinnet.contract.network import build_network, network_signature
    from shinnet.enumerate import diagrams

    # the largest kappa_4, K = 5 factored networks at d = 32: an unseeded random search gives
    # different trees (and different costs) from one search to the next
    for dg in diagrams(4, 5)[-6:]:
        net = build_network(dg, "factored", d=32, m=1000, degree_of=lambda k: int(k))
        sig = network_signature(dg, net)
        trees = [PathCache().tree(sig, net) for _ in range(3)]
        assert trees[0].get_path() == trees[1].get_path() == trees[2].get_path()


def test_auto_prices_factored_and_mixed_for_expensive_diagrams_and_never_pays_more():
    from shinnet.contract.representations import materialise_cost, plan_diagram
    from shinnet.enumerate import diagrams

    cache = PathCache()
    cheaper, total_auto, total_old = 0, 0.0, 0.0
    for dg in diagrams(4, 5)[-24:]:
        auto = plan_diagram(dg, "auto", _plan_context(32, 1000, cache))
        charged = auto.cost + materialise_cost(dg, auto.network.representation, _plan_context(32, 1000, cache))[0]
        old = []  # what the dense/gram candidates alone would charge, where they fit 2 GiB
        for rep in ("dense", "gram"):
            plan = plan_diagram(dg, rep, _plan_context(32, 1000, cache, memory_limit=2.0**40))
            if plan.max_size * 8 <= 2.0**31:
                old.append(plan.cost + materialise_cost(dg, rep, _plan_context(32, 1000, cache))[0])
        if not old:
            assert auto.network.representation in ("factored", "mixed")
            continue
        assert charged <= min(old) * (1 + 1e-12)
        cheaper += auto.network.representation in ("factored", "mixed")
        total_auto, total_old = total_auto + charged, total_old + min(old)
    # measured: 13 of the 22 comparable diagrams go factored, 1.5x cheaper in total
    assert cheaper >= 5 and total_auto < total_old / 1.2
    # a cheap diagram keeps the dense/gram candidates (no extra path searches)
    small = plan_diagram(diagrams(3, 2)[0], "auto", _plan_context(4, 6, PathCache()))
    assert small.network.representation in ("dense", "gram")


@pytest.mark.parametrize("representation", ["dense", "factored", "gram", "auto"])
def test_paths_replayed_by_opt_einsum_sum_to_the_engines_cumulants(representation):
    """Each plan of the ``paths`` report, replayed by opt_einsum (an independent einsum executor)
    on the real shin arrays and weighted by ``n!/(|Aut| prod m_e!)``, sums to the engine's kappa_n."""
    from shinnet import shin_tensors, zoo
    from shinnet.expansions import cumulants
    from shinnet.contract.report import paths_report

    d, m, order, K = 3, 7, 3, 3
    mlp = zoo.random_mlp(d=d, m=m, hidden="tanh", output="identity", seed=4)
    sh = shin_tensors(mlp, K)
    gram = sh.U @ sh.U.T

    def array(source):
        kind = source[0]
        if kind == "dense":
            return sh.dense(source[1])
        if kind == "weights":
            return sh.weights(source[1])
        if kind == "gram":
            return gram ** source[1]
        assert kind == "U", source
        return sh.U

    report = paths_report(order, K, d, m, representation=representation, time_contraction=False)
    totals: dict[int, float] = {}
    for rec in report.records:
        value = rec.expression(d, m)(*[array(s) for s in rec.sources])
        n = rec.diagram.order
        totals[n] = totals.get(n, 0.0) + float(rec.diagram.weight) * float(value)
    engine = cumulants(sh, order, K, representation=representation, warn=False)
    for n in range(2, order + 1):
        assert totals[n] == pytest.approx(float(engine.kappa[n]), rel=1e-11, abs=1e-14)
    assert sorted(totals) == list(range(2, order + 1))
