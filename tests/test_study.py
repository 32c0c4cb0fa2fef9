"""Tests of shinnet.study: ground truth + cache, the race's accounting, convergence rows, outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shinnet import zoo
from shinnet.study import convergence, groundtruth, plotting, race, suite, tables
from shinnet.study.groundtruth import ground_truth, ground_truths, model_fingerprint


@pytest.fixture(scope="module")
def tiny_mlp():
    return zoo.random_mlp(4, 64, hidden="tanh", output="tanh", seed=3, bias_scale=0.5, c=0.2)


@pytest.fixture(scope="module")
def tiny_race(tmp_path_factory, tiny_mlp):
    grid = suite.preset("tiny")
    cache = tmp_path_factory.mktemp("cache")
    return race.race_rows(None, tiny_mlp, grid, cache_dir=cache), grid


def test_fingerprint_changes_with_weights_and_activations(tiny_mlp):
    fp = model_fingerprint(tiny_mlp)
    assert fp == model_fingerprint(tiny_mlp.replace())  # same weights -> same print
    W = np.array(tiny_mlp.W)
    W[0, 0] = np.nextafter(W[0, 0], 1.0)
    assert model_fingerprint(tiny_mlp.replace(W=W)) != fp
    assert model_fingerprint(tiny_mlp, output="relu") != fp
    assert model_fingerprint(tiny_mlp.replace(hidden="erf")) != fp


def test_ground_truth_identity_output_is_exact_mean_with_zero_stderr(tiny_mlp):
    # for psi = identity the control variate is y itself: value = E[f] exactly
    gt = ground_truth(tiny_mlp.replace(output="identity"), n_samples=4096, use_cache=False)
    assert gt.value == pytest.approx(groundtruth.exact_mean_f(tiny_mlp), abs=1e-12)
    assert gt.stderr < 1e-8
    # the plain mean agrees within 5 of its standard errors
    assert abs(gt.plain_value - gt.value) < 5 * gt.plain_stderr


def test_ground_truth_agrees_with_shinnet_monte_carlo(tiny_mlp):
    # independent sample streams: the difference is N(0, se1^2 + se2^2) (plain MC has the larger se)
    import shinnet

    gt = ground_truth(tiny_mlp, n_samples=2**15, use_cache=False)
    mc = shinnet.monte_carlo(tiny_mlp, 2**15, seed=7)
    assert gt.stderr < gt.plain_stderr  # the control variate helps for near-linear tanh
    assert abs(gt.value - mc.value) < 5 * math.hypot(gt.stderr, mc.stderr)
    assert gt.var_y == pytest.approx(mc.details["y_var"], rel=0.1)  # rel. s.e. of a variance ~ sqrt(2/N)
    for n in (2, 3):
        se = math.hypot(gt.kappa_stderr[n], mc.details["kappa_stderr"][n])
        assert abs(gt.kappa[n] - mc.kappa[n]) < 5 * se


def test_ground_truth_cache_round_trips_and_rebuilds_corrupt_files(tmp_path, tiny_mlp):
    first = ground_truth(tiny_mlp, n_samples=2048, cache_dir=tmp_path)
    assert not first.from_cache
    path = groundtruth.cache_path(tmp_path, model_fingerprint(tiny_mlp), first.seed)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    again = ground_truth(tiny_mlp, n_samples=2048, cache_dir=tmp_path)
    assert again.from_cache and again == first
    # asking for more samples than cached rebuilds
    more = ground_truth(tiny_mlp, n_samples=4096, cache_dir=tmp_path)
    assert not more.from_cache and more.n_samples == 4096
    # a payload edit that still parses is caught by the checksum
    doc = json.loads(path.read_text())
    doc["payload"]["value"] += 1.0
    path.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="checksum"):
        rebuilt = ground_truth(tiny_mlp, n_samples=4096, cache_dir=tmp_path)
    assert not rebuilt.from_cache and rebuilt.value == more.value
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable"):
        assert not ground_truth(tiny_mlp, n_samples=4096, cache_dir=tmp_path).from_cache


def test_ground_truth_is_deterministic_and_honours_target_stderr(tiny_mlp):
    a = ground_truths(tiny_mlp, outputs=["tanh", "relu"], n_samples=1024, use_cache=False, seed=5)
    b = ground_truths(tiny_mlp, outputs=["relu"], n_samples=1024, use_cache=False, seed=5)
    assert a["relu"].value == b["relu"].value  # same stream whatever the other outputs
    t = ground_truth(tiny_mlp, target_stderr=1e-3, use_cache=False)
    assert t.stderr < 1.3e-3  # N chosen from a pilot variance: within its sampling error


def test_ground_truth_rejects_bad_arguments(tiny_mlp):
    with pytest.raises(ValueError, match="exactly one"):
        ground_truth(tiny_mlp, use_cache=False)
    with pytest.raises(ValueError, match="n_samples"):
        ground_truth(tiny_mlp, n_samples=10, use_cache=False)


def test_mc_columns_are_var_y_over_equal_flop_sample_count(tiny_race):
    rows, grid = tiny_race
    assert len(rows) == len(grid.ladder) * len(grid.outputs)
    for r in rows:
        n_mc = r["flops"] / r["flops_per_sample"]
        assert r["mc_samples_equal"] == n_mc
        assert r["mc_mse_equal"] == pytest.approx(r["var_y"] / n_mc, rel=1e-14)
        assert r["mc_mse_equal_advice"] == pytest.approx(r["var_y"] * r["flops_per_sample"] / r["flops_with_advice"], rel=1e-14)
        assert r["sq_err"] == pytest.approx((r["value"] - r["truth"]) ** 2, rel=1e-14)
        # ratio = (Monte Carlo FLOPs to reach sq_err) / shinnet FLOPs
        if r["sq_err"] > 0:
            assert r["ratio"] == pytest.approx(r["var_y"] * r["flops_per_sample"] / r["sq_err"] / r["flops"], rel=1e-12)
        assert r["flops_with_advice"] > r["flops"] > 0
        assert r["unresolved"] == (r["truth_stderr"] ** 2 > r["sq_err"] / race.UNRESOLVED_FACTOR)


def test_identity_rows_are_exact(tiny_race):
    rows, _ = tiny_race
    for r in rows:
        if r["output"] == "identity":  # E[f] = kappa_1 = shin_0 exactly, and the reference is exact
            assert abs(r["value"] - r["truth"]) < 1e-12


def test_ladder_matches_a_direct_estimate_call(tiny_mlp):
    from shinnet.estimate import estimate

    ladder = ((2, 2, 0), (3, 3, 1), (4, 3, 2))
    rows = race.ladder_estimates(tiny_mlp, ["tanh"], ladder)
    for (N, K, q), row in zip(ladder, rows):
        est = estimate(tiny_mlp, order=N, max_degree=K, series_order=q)
        assert row["value"] == pytest.approx(est.value, rel=1e-12, abs=1e-15)
        assert row["flops"] == pytest.approx(est.flops, rel=1e-12)
        assert row["flops_with_advice"] == pytest.approx(est.flops_with_advice, rel=1e-12)
        assert row["budget_truncation"] == pytest.approx(est.error_budget["degree_truncation"], rel=1e-9, abs=1e-15)


def test_flops_at_mse_is_exact_on_a_power_law():
    F = np.geomspace(1e3, 1e9, 7)
    C, alpha = 2.5e4, 1.0
    mse = C * F**-alpha
    for target in (C * 1e-4, C * 3e-7, C * 1e-11):  # inside, inside, extrapolated
        assert race.flops_at_mse(F, mse, target) == pytest.approx((C / target) ** (1 / alpha), rel=1e-10)
    # a plateau: the best-so-far envelope leaves it at F = 100, so 0.05 lies on the segment
    # (100, 0.1) -> (1000, 0.01): log10 F = 2 + log10(2), F = 200
    assert race.flops_at_mse([1, 10, 100, 1000], [1.0, 0.1, 0.1, 0.01], 0.05) == pytest.approx(200.0, rel=1e-12)
    # a worse point at F = 300 extends the plateau (best so far is still 0.1) to F = 300
    worse = ([1, 10, 100, 300, 1000], [1.0, 0.1, 0.1, 0.5, 0.01])
    assert race.flops_at_mse(*worse, 0.05) == pytest.approx(300 * (1000 / 300) ** math.log10(2), rel=1e-12)
    assert math.isnan(race.flops_at_mse([1.0], [1.0], 0.5))
    # the closed form inverts the Monte Carlo curve
    assert race.mc_flops_to_reach(2.0, 100.0, race.mc_mse_at_flops(2.0, 100.0, 5e6)) == pytest.approx(5e6)


def test_family_table_median_ratio_on_a_synthetic_case():
    base = dict(target="t", output="o", d=4, m=8, N=2, K=2, q=0, flops_per_sample=100.0, unresolved=False)
    rows = [
        dict(base, hidden="a", seed=0, nmse=1e-4, flops=10.0, flops_with_advice=100.0),
        dict(base, hidden="a", seed=1, nmse=3e-4, flops=10.0, flops_with_advice=100.0),  # model a: nmse 2e-4
        dict(base, hidden="b", seed=0, nmse=1e-2, flops=10.0, flops_with_advice=100.0),
    ]
    (fam,) = race.family_table(rows)
    # model a: 100 / (2e-4 * 10) = 5e4; model b: 100 / (1e-2 * 10) = 1e3; median of two = mean
    assert fam["median_ratio"] == pytest.approx((5e4 + 1e3) / 2)
    assert fam["median_ratio_advice"] == pytest.approx((5e3 + 1e2) / 2)
    assert fam["models"] == 2 and fam["wins"] == 2


def test_csv_and_plots_are_written_and_readable(tmp_path, tiny_race):
    rows, _ = tiny_race
    path = tables.write_csv(tmp_path / "race.csv", rows)
    back = tables.read_csv(path)
    assert len(back) == len(rows)
    for a, b in zip(rows, back):
        assert b["value"] == a["value"] and b["unresolved"] == a["unresolved"] and b["N"] == a["N"]
    png = plotting.plot_race(rows, tmp_path / "race.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 300_000
    assert "| target |" in tables.markdown_table(race.family_table(rows), ["target", "output", "median_ratio"])


def test_convergence_studies_rows_and_plots(tmp_path, tiny_mlp):
    truths = ground_truths(tiny_mlp, outputs=["identity", "tanh"], n_samples=4096, use_cache=False)
    kk = convergence.kappa_vs_k(tiny_mlp, "tiny", 3, 3, truths["identity"])
    assert [(r["n"], r["K"]) for r in kk] == [(2, 2), (2, 3), (3, 2), (3, 3)]
    # kappa_2 is within 5 s.e. of Monte Carlo at K = 3 (tanh, |w| ~ 1: the degree tail is tiny)
    r23 = kk[1]
    assert abs(r23["kappa"] - r23["mc_kappa"]) < 5 * r23["mc_stderr"] + 1e-3 * abs(r23["mc_kappa"])
    so = convergence.series_order_study(tiny_mlp, "tiny", truths, 1, 3)
    ident = [r for r in so if r["output"] == "identity"]
    assert all(abs(r["error"]) < 1e-12 for r in ident)  # identity: the series is kappa_1 at every order
    pr = convergence.pruning_study(tiny_mlp, "tiny", 3, 3, [1e-4, 1e-2])
    for r in pr:  # MATH.md section 5: the budget bounds what pruning removed
        assert r["actual"] <= r["budget"] * (1 + 1e-9) + 1e-14
    assert max(r["n_pruned"] for r in pr) > 0 or all(r["actual"] == 0 for r in pr)
    for fn, data in ((plotting.plot_kappa_vs_k, kk), (plotting.plot_series_order, so), (plotting.plot_pruning, pr)):
        p = fn(data, tmp_path / f"{fn.__name__}.png")
        assert p.stat().st_size > 1000


def test_cli_parses_model_specs_and_rejects_bad_ones():
    from shinnet.cli.study import parse_model

    spec = parse_model("relu_shift/relu/d8/m1024/s2")
    assert (spec.target, spec.hidden, spec.d, spec.m, spec.seed) == ("relu_shift", "relu", 8, 1024, 2)
    with pytest.raises(ValueError, match="TARGET/HIDDEN"):
        parse_model("relu/d8")


def test_grid_presets_are_valid_and_reject_bad_ladders():
    assert suite.preset("small").size() == 36
    assert suite.preset("full").size() == 3 * 4 * 4 * 5 * 3
    with pytest.raises(ValueError, match="ladder"):
        suite.preset("tiny").with_(ladder=((3, 3, 2),))
    with pytest.raises(ValueError, match="unknown preset"):
        suite.preset("huge")


def test_cli_race_quick_writes_all_outputs(tmp_path, capsys):
    from shinnet.cli import main

    out = tmp_path / "out"
    assert main(["study", "race", "--quick", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    for name in ("race.csv", "race_families.csv", "race_summary.md", "race.png"):
        assert (out / name).stat().st_size > 0
    rows = tables.read_csv(out / "race.csv")
    assert len(rows) == 6 and all(r["truth_n_samples"] >= 2**14 for r in rows)
    assert "ground truth samples per model" in capsys.readouterr().out
