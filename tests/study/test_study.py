"""Tests of shinnet.study: ground truth + cache, the race's accounting, convergence rows, outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shinnet import zoo
from shinnet.study import compare, convergence, groundtruth, plotting, race, suite, tables
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
    assert len(rows) == (len(grid.ladder) + len(grid.resummed_ladder)) * len(grid.outputs)
    assert {r["expansion"] for r in rows} == {"degree", "resummed"}
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
    assert len(rows) == 12 and all(r["truth_n_samples"] >= 2**12 for r in rows)  # RQMC truth: from 2^12 up
    assert (out / "race_peers.csv").stat().st_size > 0 and "strongest peer" in (out / "race_summary.md").read_text()
    assert {r["expansion"] for r in rows} == {"degree", "resummed"}
    for name in ("race_expansions.csv", "race_expansions.md", "race_expansions.png"):
        assert (out / name).stat().st_size > 0
    (cell,) = tables.read_csv(out / "race_expansions.csv")  # one model, psi = tanh (identity is left out)
    assert cell["output"] == "tanh" and cell["winner_ratio"] in ("degree", "resummed")
    assert "ground truth samples per model" in capsys.readouterr().out
    # one expansion only: no comparison outputs
    out1 = tmp_path / "out1"
    assert main(["study", "race", "--quick", "--expansions", "degree", "--out", str(out1),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert len(tables.read_csv(out1 / "race.csv")) == 6 and not (out1 / "race_expansions.csv").exists()


def test_resummed_rungs_match_a_direct_estimate_call(tiny_mlp):
    from shinnet.estimate import estimate

    ladder = (("resummed", 2, 1, 0), ("resummed", 3, 2, 1), ("resummed", 4, 2, 2), ("degree", 3, 3, 1))
    rows = race.ladder_estimates(tiny_mlp, ["tanh"], ladder)
    for (expansion, N, T, q), row in zip(ladder, rows):
        kw = dict(expansion="resummed", max_edges=T) if expansion == "resummed" else dict(max_degree=T)
        est = estimate(tiny_mlp, order=N, series_order=q, warn=False, **kw)
        assert row["expansion"] == expansion and row["rung"] == race.rung_label(expansion, N, T, q)
        assert (row["K"], row["E"]) == ((T, -1) if expansion == "degree" else (-1, T))
        assert row["value"] == pytest.approx(est.value, rel=1e-12, abs=1e-15)
        assert row["flops"] == pytest.approx(est.flops, rel=1e-12)
        # advice = the power shin tensors' vertex weights (+ dense block tensors): estimate's accounting
        assert row["flops_with_advice"] == pytest.approx(est.flops_with_advice, rel=1e-12)
        assert row["flops_with_advice"] > row["flops"] > 0
        assert row["budget_truncation"] == pytest.approx(est.error_budget["degree_truncation"], rel=1e-9, abs=1e-15)


def test_resummed_and_degree_rungs_agree_on_a_quadratic_network():
    # sigma(z) = z^2 (biases 0.3): both expansions are exact for kappa_n once K >= 2 and E >= q n / 2 = n,
    # so the race values agree to rounding (docs/resummed.md: the series terminates)
    mlp = zoo.random_mlp(3, 5, hidden="quadratic", output="tanh", seed=1, bias_scale=0.3)
    rows = race.ladder_estimates(mlp, ["tanh"], [("degree", 3, 2, 1), ("resummed", 3, 3, 1)])
    assert rows[0]["kappa"][3] == pytest.approx(rows[1]["kappa"][3], rel=1e-10)
    assert rows[0]["value"] == pytest.approx(rows[1]["value"], rel=1e-12)


def test_rungs_are_normalised_and_bad_rungs_rejected():
    assert race.normalise_rung((3, 4, 1)) == ("degree", 3, 4, 1)
    assert race.normalise_rung(("resummed", 4, 0, 2)) == ("resummed", 4, 0, 2)
    with pytest.raises(ValueError, match="expansion"):
        race.normalise_rung(("taylor", 3, 3, 1))
    with pytest.raises(ValueError, match="E >= 0"):
        race.ladder_estimates(zoo.random_mlp(2, 3, seed=0), ["identity"], [("resummed", 2, -1, 0)])
    grid = suite.preset("tiny")
    assert grid.rungs() == [("degree", *r) for r in grid.ladder] + [("resummed", *r) for r in grid.resummed_ladder]
    assert grid.with_(expansions=["resummed"]).rungs() == [("resummed", *r) for r in grid.resummed_ladder]
    with pytest.raises(ValueError, match="unknown expansion"):
        grid.with_(expansions=("taylor",))
    with pytest.raises(ValueError, match="resummed_ladder"):
        grid.with_(resummed_ladder=((3, 2, 2),))
    with pytest.raises(ValueError, match="resummed_ladder"):
        grid.with_(resummed_ladder=())


def _synthetic(expansion, T, nmse, flops, target="random", hidden="relu", output="tanh", unresolved=False):
    return dict(target=target, hidden=hidden, output=output, d=8, m=64, seed=0, expansion=expansion, N=3,
                K=T if expansion == "degree" else -1, E=T if expansion == "resummed" else -1, q=1,
                flops_per_sample=100.0, nmse=nmse, flops=flops, flops_with_advice=flops, unresolved=unresolved)


def test_expansion_table_verdicts_on_a_synthetic_case():
    rows = [
        # random relu: degree ratios 100/(1e-4*1e4) = 100 and 100/(1e-6*1e7) = 10;
        # resummed 100/(1e-5*1e3) = 1e4 and 100/(1e-8*1e8) = 100: cheaper and more accurate
        _synthetic("degree", 3, 1e-4, 1e4), _synthetic("degree", 4, 1e-6, 1e7),
        _synthetic("resummed", 2, 1e-5, 1e3), _synthetic("resummed", 3, 1e-8, 1e8),
        # trained (two targets, one model each): degree more accurate (median 2e-8 vs 1e-6), resummed cheaper
        _synthetic("degree", 4, 1e-8, 1e9, target="linear"), _synthetic("degree", 4, 3e-8, 1e9, target="relu_shift"),
        _synthetic("resummed", 3, 1e-6, 1e2, target="linear"), _synthetic("resummed", 3, 1e-6, 1e2, target="relu_shift"),
        # identity output is exact in both expansions: left out
        _synthetic("degree", 3, 1e-30, 1e4, output="identity"), _synthetic("resummed", 2, 1e-9, 1e3, output="identity"),
    ]
    table = compare.expansion_table(rows)
    assert [(r["kind"], r["output"]) for r in table] == [("random", "tanh"), ("trained", "tanh")]
    rnd, trn = table
    assert rnd["deg best ratio w/ advice"] == pytest.approx(100.0) and rnd["deg best rung"] == "D(3,3,1)"
    assert rnd["res best ratio w/ advice"] == pytest.approx(1e4) and rnd["res min rung"] == "R(3,3,1)"
    assert (rnd["winner_ratio"], rnd["winner_accuracy"]) == ("resummed", "resummed")
    assert trn["deg min MSE/Var"] == pytest.approx(2e-8)  # median of the two targets
    assert (trn["winner_ratio"], trn["winner_accuracy"]) == ("resummed", "degree")
    # within the tie factor -> tie; both most-accurate rungs unresolved -> unresolved
    tie = compare.expansion_table([_synthetic("degree", 3, 1e-6, 1e4), _synthetic("resummed", 3, 1.5e-6, 1e4)])
    assert tie[0]["winner_accuracy"] == "tie"
    unres = compare.expansion_table([_synthetic("degree", 3, 1e-6, 1e4, unresolved=True),
                                     _synthetic("resummed", 3, 1e-9, 1e4, unresolved=True)])
    assert unres[0]["winner_accuracy"] == "unresolved"
    margins = {(m["factor"], m["value"]): m for m in compare.marginal_wins(table)}
    assert margins["kind", "random"]["resummed more accurate"] == 1
    assert margins["hidden", "relu"]["resummed cheaper"] == 2 and margins["hidden", "relu"]["cells"] == 2
    with pytest.raises(ValueError, match="tie_factor"):
        compare.expansion_table(rows, tie_factor=0.5)


def test_plot_expansions_writes_a_small_png(tmp_path, tiny_race):
    rows, _ = tiny_race
    png = plotting.plot_expansions(rows, tmp_path / "exp.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and 1000 < png.stat().st_size < 300_000


# ------------------------------------------------------------------ RQMC ground truth and the peers (issue 12)
def test_rqmc_ground_truth_is_exact_for_identity_and_beats_monte_carlo_at_equal_samples(tmp_path, tiny_mlp):
    from shinnet.study.groundtruth_rqmc import rqmc_ground_truths

    r = rqmc_ground_truths(tiny_mlp, ["identity", "tanh"], target_stderr=1e-4, cache_dir=tmp_path)
    assert r["identity"].value == pytest.approx(groundtruth.exact_mean_f(tiny_mlp), abs=1e-12)
    assert r["identity"].stderr < 1e-10
    mc = ground_truths(tiny_mlp, outputs=["tanh"], n_samples=r["tanh"].n_samples, use_cache=False)["tanh"]
    # independent references agree; RQMC + control variates is more precise at the same sample count
    assert abs(r["tanh"].value - mc.value) < 5 * math.hypot(r["tanh"].stderr, mc.stderr)
    assert r["tanh"].stderr < mc.stderr
    assert r["tanh"].stderr <= 1e-4 or r["tanh"].n_samples >= 2**22
    again = rqmc_ground_truths(tiny_mlp, ["tanh"], target_stderr=1e-4, cache_dir=tmp_path)["tanh"]
    assert again.from_cache and again.value == r["tanh"].value


def test_peer_rows_equal_the_public_estimators_on_the_same_points(tiny_mlp):
    import shinnet
    from shinnet.hybrid import hybrid
    from shinnet.sampling.inputs import child_seed
    from shinnet.study.peers import peer_runs

    rows = {r["peer"]: r for r in peer_runs(tiny_mlp, ["tanh"], [8], seed=5)}
    ss = child_seed(np.random.SeedSequence(5), 8)  # the seed sequence of the 2^8-point run
    assert rows["rqmc"]["value"] == pytest.approx(shinnet.monte_carlo(tiny_mlp, 256, seed=ss, method="sobol").value,
                                                  rel=1e-12)
    cv = shinnet.monte_carlo(tiny_mlp, 256, seed=ss, method="sobol", control_variates=True)
    assert rows["rqmc_cv"]["value"] == pytest.approx(cv.value, rel=1e-9)
    assert rows["rqmc_cv"]["stderr"] == pytest.approx(cv.stderr, rel=1e-6)
    hy = hybrid(tiny_mlp, 256, seed=ss)
    assert rows["hybrid"]["value"] == pytest.approx(hy.value, rel=1e-9)
    for r in rows.values():
        assert r["mse"] == r["stderr"] ** 2 and r["n_samples"] == 256 and r["flops"] > 256 * tiny_mlp.flops_per_sample()


def test_race_rows_compare_every_rung_with_the_cheapest_peer(tiny_race):
    rows, _ = tiny_race
    for r in rows:
        reach = {p: r[f"reach_{p}"] for p in race.ALL_PEERS if not math.isnan(r[f"reach_{p}"])}
        assert r["reach_monte_carlo"] == pytest.approx(r["ratio"] * r["flops"], rel=1e-12)
        if r["output"] == "identity":
            continue
        assert set(reach) == set(race.ALL_PEERS)
        assert r["peer_best"] == min(reach, key=reach.get)
        assert r["peer_ratio"] == pytest.approx(min(reach.values()) / r["flops"], rel=1e-12)
        assert r["peer_ratio_advice"] == pytest.approx(min(reach.values()) / r["flops_with_advice"], rel=1e-12)


def test_power_law_fit_recovers_slope_and_inverts():
    from shinnet.study.peers import fit_power_law, flops_to_reach

    F = np.geomspace(1e4, 1e8, 5)
    log_c, alpha = fit_power_law(F, 3.0 * F**-1.5)
    assert alpha == pytest.approx(1.5, rel=1e-12) and log_c == pytest.approx(math.log(3.0), rel=1e-12)
    assert flops_to_reach(log_c, alpha, 3.0 * 1e9**-1.5) == pytest.approx(1e9, rel=1e-9)
    assert math.isnan(flops_to_reach(*fit_power_law([1e4], [1e-3]), 1e-6))  # one point: no fit
    assert math.isnan(flops_to_reach(*fit_power_law(F, np.zeros(5)), 1e-6))  # an exact peer: no fit


def test_peer_summary_picks_the_best_rung_against_the_strongest_peer():
    base = dict(target="t", output="tanh", d=16, hidden="relu", seed=0, expansion="degree", N=2, q=0,
                flops_per_sample=100.0, unresolved=False, flops=10.0, flops_with_advice=100.0, nmse=1e-4)
    rows = [dict(base, m=1024, K=2, peer_ratio=3.0, peer_ratio_advice=0.5, peer_best="rqmc_cv"),
            dict(base, m=1024, K=3, peer_ratio=2.0, peer_ratio_advice=0.8, peer_best="hybrid"),
            dict(base, m=4096, K=2, peer_ratio=12.0, peer_ratio_advice=1.5, peer_best="rqmc_cv"),
            dict(base, m=4096, K=2, output="identity", peer_ratio=1e30, peer_ratio_advice=1e30, peer_best="rqmc")]
    table = compare.peer_summary(rows)
    assert [(r["m"], r["best rung"], r["best rung w/ advice"]) for r in table] == [
        (1024, "D(2,2,0)", "D(2,3,0)"), (4096, "D(2,2,0)", "D(2,2,0)")]
    assert table[0]["ratio vs peers"] == 3.0 and table[0]["ratio vs peers w/ advice"] == 0.8
    assert table[0]["strongest peer"] == "hybrid" and table[1]["ratio vs peers"] == 12.0


def test_race_plot_with_peers_is_wide_with_legend_outside(tmp_path, tiny_mlp):
    from PIL import Image

    grid = suite.preset("tiny")
    peers: list = []
    rows = race.race_rows(None, tiny_mlp, grid, use_cache=False, peer_rows=peers)
    assert {p["peer"] for p in peers} == {"rqmc", "rqmc_cv", "hybrid"}
    png = plotting.plot_race(rows, tmp_path / "race.png", peers)
    width, height = Image.open(png).size
    assert width >= 1000 and png.stat().st_size < 300_000
    exp = plotting.plot_expansions(rows, tmp_path / "exp.png")
    assert Image.open(exp).size[0] >= 500
