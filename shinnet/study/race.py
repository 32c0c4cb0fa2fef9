"""The race: shinnet's squared error against Monte Carlo's MSE at equal FLOPs (MATH.md section 7).

For each model of a :class:`~shinnet.study.suite.Grid` and each output psi:

* ground truth ``E[psi(f)]`` (:mod:`shinnet.study.groundtruth`, stderr ``s_ref``);
* shinnet at each ladder rung, ``(degree, N, K, q)`` (MATH.md section 3) or
  ``(resummed, N, E, q)`` (section 8, E the cosine order): value, FLOPs (contractions) and FLOPs
  with advice (plus building the shin tensors, or for the resummed expansion the power shin
  tensors' vertex weights and dense block tensors: the engine's ``build_flops``), error budget;
* Monte Carlo at the same FLOPs: ``N_mc = F / flops_per_sample`` samples (continuous),
  ``MSE_mc = Var(y) / N_mc = Var(y) flops_per_sample / F`` -- exact, no sampling needed;
* the FLOP ratio at equal MSE: Monte Carlo needs ``F_mc = Var(y) flops_per_sample / sq_err``
  FLOPs to reach shinnet's squared error, ratio ``F_mc / F`` (> 1: shinnet wins).

``sq_err = (value - truth)^2`` is one deterministic error on one model, not an expectation: it
is reported per model and averaged over seeds.  A row is *unresolved* when ``s_ref^2`` is not
below ``sq_err / 10``: the reference cannot tell shinnet's error from its own noise, and the
ratio is then a lower bound on shinnet's (since ``sq_err <~ true_err^2 + s_ref^2``, shinnet's
true error is smaller than it looks).

Each distinct (expansion, N, K or E) of the ladder is one engine call (paths shared through one
``PathCache``); all outputs psi and series orders q reuse its cumulants.  Values, FLOPs and FLOPs
with advice are exactly what ``shinnet.estimate(mlp, N, K, series_order=q)`` (or with
``expansion="resummed", max_edges=E``) reports (checked in tests/study/test_study.py).  Which
expansion wins where: :mod:`shinnet.study.compare`.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from shinnet import series
from shinnet.contract import PathCache
from shinnet.estimate import propagated_weights
from shinnet.expansions import cumulants
from shinnet.model import TwoLayerMLP
from shinnet.reliability import truncation_signal
from shinnet.study.groundtruth import ground_truths
from shinnet.study.groundtruth_rqmc import rqmc_ground_truths
from shinnet.study.peers import fit_power_law, flops_to_reach, peer_runs
from shinnet.study.suite import Grid, ModelSpec, build_model

__all__ = ["ladder_estimates", "race_rows", "race_truths", "ALL_PEERS", "run_race", "mc_mse_at_flops", "mc_flops_to_reach",
           "flops_at_mse", "family_table", "model_medians", "normalise_rung", "rung_label", "UNRESOLVED_FACTOR"]

#: a row is unresolved when ``stderr_ref^2 > sq_err / UNRESOLVED_FACTOR``
UNRESOLVED_FACTOR = 10.0
#: every peer a rung is compared with ("monte_carlo" analytic, the others measured: study.peers)
ALL_PEERS: tuple[str, ...] = ("monte_carlo", "rqmc", "rqmc_cv", "hybrid")


def mc_mse_at_flops(var_y: float, flops_per_sample: float, flops: Any) -> Any:
    """Monte Carlo MSE with ``N = flops / flops_per_sample`` samples: ``Var(y) / N``."""
    return var_y * flops_per_sample / np.asarray(flops, dtype=float)


def mc_flops_to_reach(var_y: float, flops_per_sample: float, mse: Any) -> Any:
    """FLOPs Monte Carlo needs for MSE ``mse``: ``Var(y) flops_per_sample / mse`` (inf at mse = 0)."""
    mse = np.asarray(mse, dtype=float)
    with np.errstate(divide="ignore"):
        return var_y * flops_per_sample / mse


def flops_at_mse(flops: Sequence[float], mse: Sequence[float], target: float) -> float:
    """FLOPs at which a measured cost/error curve reaches ``target`` MSE.

    Log-log linear interpolation between the two points bracketing ``target`` (after sorting by
    FLOPs and keeping the running minimum of the MSE, i.e. the best error reached so far), or
    extrapolation along the nearest segment outside the measured range.  Exact for a power law
    ``mse = C flops^-alpha`` (Monte Carlo's is ``alpha = 1``).  Returns NaN with fewer than two
    distinct positive points.
    """
    F = np.asarray(flops, dtype=float)
    E = np.asarray(mse, dtype=float)
    keep = (F > 0) & (E > 0) & np.isfinite(F) & np.isfinite(E)
    F, E = F[keep], E[keep]
    if F.size < 2:
        return float("nan")
    order = np.argsort(F, kind="stable")
    F, E = F[order], np.minimum.accumulate(E[order])  # best error reached so far
    keep = [i for i in range(len(E)) if i == len(E) - 1 or E[i + 1] < E[i]]  # last point of each plateau
    lf, le = np.log(F[keep]), np.log(E[keep])
    if len(lf) < 2 or not target > 0:
        return float("nan")
    lt = math.log(target)
    j = int(np.searchsorted(-le, -lt))  # le is decreasing
    j = min(max(j, 1), len(le) - 1)
    slope = (lf[j] - lf[j - 1]) / (le[j] - le[j - 1])
    return float(math.exp(lf[j - 1] + slope * (lt - le[j - 1])))


def _truncation_signal(partial: Mapping[int, Sequence[float]], N: int, weights: Mapping[int, float]) -> float:
    """``sum_n max(|S_n(T) - S_n(T-1)|, |S_n(T) - S_n(T-2)|) |g^(n)|/n!`` over the last partial sums
    (in K or in E): estimate.py's ``degree_truncation`` part, :func:`shinnet.reliability.truncation_signal`
    (0 with a single partial sum)."""
    return float(truncation_signal(partial, weights, range(2, N + 1)))


def normalise_rung(rung: Sequence[Any]) -> tuple[str, int, int, int]:
    """``(N, K, q)`` (degree) or ``(expansion, N, K or E, q)`` -> ``(expansion, N, T, q)``."""
    if len(rung) == 3:
        return ("degree", *(int(x) for x in rung))  # type: ignore[return-value]
    if len(rung) == 4 and rung[0] in ("degree", "resummed"):
        return (str(rung[0]), int(rung[1]), int(rung[2]), int(rung[3]))
    raise ValueError(f"a ladder rung is (N, K, q) or (expansion, N, K or E, q) with expansion "
                     f"'degree' or 'resummed', got {tuple(rung)!r}")


def rung_label(expansion: str, N: int, T: int, q: int) -> str:
    """``"D(N,K,q)"`` for the degree expansion, ``"R(N,E,q)"`` for the resummed one."""
    return f"{'D' if expansion == 'degree' else 'R'}({N},{T},{q})"


def ladder_estimates(
    mlp: TwoLayerMLP,
    outputs: Sequence[Any],
    ladder: Sequence[Sequence[Any]],
    backend: str = "numpy",
    cache: Any = None,
) -> list[dict[str, Any]]:
    """shinnet's estimate of ``E[psi(f)]`` at every rung and every psi.

    A rung is ``(N, K, q)`` (degree expansion, MATH.md section 3) or ``(expansion, N, T, q)``
    with ``expansion`` ``"degree"`` (T = K) or ``"resummed"`` (section 8, T = E the cosine order).
    Returns one dict per (rung, psi): ``expansion, N, K, E, q, rung, output, value, flops,
    flops_with_advice, budget_truncation, budget_series, series_terms, kappa`` (dict n -> kappa_n),
    with ``K = -1`` on resummed rows and ``E = -1`` on degree rows.  FLOPs with advice add the
    engine's ``build_flops`` (shin tensors and dense tensors; for the resummed expansion the
    power shin tensors' vertex weights and the dense block tensors), as ``shinnet.estimate`` does.
    Cost: one ``shinnet.cumulants`` call per distinct (expansion, N, T); the series are O(q^2) each.
    """
    rungs = [normalise_rung(r) for r in ladder]
    if any(e == "degree" and T < 2 for e, _, T, _ in rungs):
        raise ValueError("degree rungs need max degree K >= 2 (the engine's partial sums start at K = 2)")
    if any(e == "resummed" and T < 0 for e, _, T, _ in rungs):
        raise ValueError("resummed rungs need a cosine order E >= 0")
    cache = PathCache() if cache is None else cache
    results: dict[tuple[str, int, int], Any] = {}
    rows = []
    for expansion, N, T, q in rungs:
        if (expansion, N, T) not in results:
            if expansion == "degree":
                results[expansion, N, T] = cumulants(mlp, N, T, backend=backend, warn=False, cache=cache)
            else:
                results[expansion, N, T] = cumulants(mlp, N, expansion="resummed", max_edges=T, backend=backend,
                                                     warn=False, cache=cache)
        res = results[expansion, N, T]
        kappa = {n: float(v) for n, v in res.kappa.items()}
        partial = {n: [float(v) for v in s] for n, s in res.partial_sums.items()}
        for psi in outputs:
            value = series.expectation(psi, kappa, q)
            weights = propagated_weights(psi, kappa, N)
            last = float(abs(value.last_term)) if q > 0 else (abs(kappa[3]) * weights[3] if N >= 3 else 0.0)
            rows.append({
                "expansion": expansion, "N": N, "K": T if expansion == "degree" else -1,
                "E": T if expansion == "resummed" else -1, "q": q, "rung": rung_label(expansion, N, T, q),
                "output": getattr(psi, "name", psi), "value": float(value),
                "flops": float(res.flops), "flops_with_advice": float(res.flops) + float(res.build_flops),
                "budget_truncation": _truncation_signal(partial, N, weights), "budget_series": last,
                "series_terms": [float(t) for t in value.terms], "kappa": kappa,
            })
    return rows


def race_truths(mlp: TwoLayerMLP, grid: Grid, cache_dir: Any = None, use_cache: bool = True,
                seed: int = 12345) -> dict[str, Any]:
    """Ground truths of every output: RQMC + control variates (``grid.truth_method == "rqmc"``) or Monte Carlo."""
    if grid.truth_method == "rqmc":
        return rqmc_ground_truths(mlp, outputs=grid.outputs, target_stderr=grid.truth_stderr, seed=seed,
                                  max_samples=grid.truth_max_samples, cache_dir=cache_dir, use_cache=use_cache)
    return ground_truths(mlp, outputs=grid.outputs, target_stderr=grid.truth_stderr, seed=seed,
                         max_samples=grid.truth_max_samples, cache_dir=cache_dir, use_cache=use_cache)


def _peer_fits(prows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[float, float, float, float]]:
    """``(output, peer) -> (log C, alpha, setup FLOPs, FLOPs per point)`` of ``MSE = C n^-alpha``."""
    out = {}
    for k in sorted({(r["output"], r["peer"]) for r in prows}):
        pts = [r for r in prows if (r["output"], r["peer"]) == k]
        log_c, alpha = fit_power_law([r["n_samples"] for r in pts], [r["mse"] for r in pts])
        per_point = (pts[-1]["flops"] - pts[-1]["setup_flops"]) / pts[-1]["n_samples"]
        out[k] = (log_c, alpha, float(pts[-1]["setup_flops"]), float(per_point))
    return out


def _peer_reach(fit: tuple[float, float, float, float], sq_err: float) -> float:
    """FLOPs a fitted peer needs for MSE ``sq_err``: setup plus the fitted point count times its per-point cost."""
    n = flops_to_reach(fit[0], fit[1], sq_err)
    return fit[2] + fit[3] * n


def race_rows(
    spec: ModelSpec | None,
    mlp: TwoLayerMLP,
    grid: Grid,
    cache_dir: Any = None,
    use_cache: bool = True,
    seed: int = 12345,
    peer_rows: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """All rows (rungs x outputs) of one model: shinnet vs ground truth vs every peer.

    Peers (``grid.peer_log2_n`` non-empty): plain Monte Carlo (analytic ``Var(y) fps / sq_err``)
    and the measured RQMC, RQMC + control variates and hybrid (:mod:`shinnet.study.peers`), each
    fitted ``MSE = C n^-alpha``; ``reach_<peer>`` is the FLOPs each needs for the rung's squared
    error (setup plus the fitted n times the per-point cost), ``peer_best`` the cheapest, ``peer_ratio`` (``peer_ratio_advice``) its FLOPs over the
    rung's FLOPs without (with) advice: > 1 means shinnet wins against the strongest peer.  The
    peers' own rows (with ``alpha`` and their squared error against the truth) are appended to
    ``peer_rows`` when given.
    """
    truths = race_truths(mlp, grid, cache_dir, use_cache, seed)
    t0 = time.perf_counter()
    ests = ladder_estimates(mlp, grid.outputs, grid.rungs())
    wall = time.perf_counter() - t0
    ident = {"target": spec.target if spec else "custom", "hidden": mlp.hidden.name, "d": mlp.d, "m": mlp.m,
             "seed": spec.seed if spec else -1}
    prows = peer_runs(mlp, grid.outputs, grid.peer_log2_n) if grid.peer_log2_n else []
    fits = _peer_fits(prows)
    if peer_rows is not None:
        for r in prows:
            truth = truths[r["output"]]
            peer_rows.append({**ident, **r, "truth": truth.value, "truth_stderr": truth.stderr,
                              "sq_err": (r["value"] - truth.value) ** 2, "var_y": truth.var_y,
                              "alpha": fits[r["output"], r["peer"]][1]})
    rows = []
    for est in ests:
        psi = est["output"]
        fps = float(mlp.replace(output=psi).flops_per_sample())
        truth = truths[psi]
        sq = (est["value"] - truth.value) ** 2
        var_y = truth.var_y
        row = {
            **ident, "output": psi,
            "expansion": est["expansion"], "rung": est["rung"], "N": est["N"], "K": est["K"], "E": est["E"],
            "q": est["q"],
            "value": est["value"], "truth": truth.value, "truth_stderr": truth.stderr,
            "truth_n_samples": truth.n_samples, "var_y": var_y, "sq_err": sq,
            "nmse": sq / var_y if var_y > 0 else float("nan"),
            "flops": est["flops"], "flops_with_advice": est["flops_with_advice"], "flops_per_sample": fps,
            "mc_samples_equal": est["flops"] / fps,
            "mc_mse_equal": float(mc_mse_at_flops(var_y, fps, est["flops"])),
            "mc_mse_equal_advice": float(mc_mse_at_flops(var_y, fps, est["flops_with_advice"])),
            "ratio": float(mc_flops_to_reach(var_y, fps, sq)) / est["flops"],
            "ratio_advice": float(mc_flops_to_reach(var_y, fps, sq)) / est["flops_with_advice"],
            "unresolved": bool(truth.stderr**2 > sq / UNRESOLVED_FACTOR),
            "budget_truncation": est["budget_truncation"], "budget_series": est["budget_series"],
            "last_series_term": abs(est["series_terms"][-1]) if est["q"] > 0 else float("nan"), "kappa3": est["kappa"].get(3, float("nan")),
            "kappa4": est["kappa"].get(4, float("nan")), "shinnet_wall_s": wall,
        }
        reach = {"monte_carlo": float(mc_flops_to_reach(var_y, fps, sq))}
        for peer in ALL_PEERS[1:]:
            reach[peer] = _peer_reach(fits[psi, peer], sq) if (psi, peer) in fits else float("nan")
        for peer in ALL_PEERS:
            row[f"reach_{peer}"] = reach[peer]
        finite = {p: v for p, v in reach.items() if not math.isnan(v)}
        best = min(finite, key=finite.get) if finite else "none"
        row["peer_best"] = best
        row["peer_ratio"] = finite[best] / est["flops"] if finite else float("nan")
        row["peer_ratio_advice"] = finite[best] / est["flops_with_advice"] if finite else float("nan")
        rows.append(row)
    return rows


def run_race(
    grid: Grid,
    cache_dir: Any = None,
    use_cache: bool = True,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    peer_rows: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`race_rows` over every model of ``grid`` (models built with :func:`build_model`);
    the peers' rows are appended to ``peer_rows`` when given."""
    specs = list(grid.models())
    it: Iterable[ModelSpec] = specs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(specs, desc="race", unit="model")
    rows: list[dict[str, Any]] = []
    for spec in it:
        t0 = time.perf_counter()
        mlp = build_model(spec, cache_dir=cache_dir, train_steps=grid.train_steps, use_cache=use_cache)
        new = race_rows(spec, mlp, grid, cache_dir=cache_dir, use_cache=use_cache, peer_rows=peer_rows)
        rows.extend(new)
        if log is not None:
            log(f"{spec.label}: {len(new)} rows, truth {new[0]['truth_n_samples']} samples, "
                f"{time.perf_counter() - t0:.1f} s")
    return rows


def _rung_key(r: Mapping[str, Any]) -> tuple[str, int, int, int]:
    """``(expansion, N, K or E, q)`` of a row (rows without ``expansion`` are degree rows)."""
    expansion = r.get("expansion", "degree")
    return (expansion, int(r["N"]), int(r["K"] if expansion == "degree" else r["E"]), int(r["q"]))


def model_medians(rows: Sequence[Mapping[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """Per group ``by`` and rung: seed-averaged per-model ratios, then medians over models.

    Models are told apart by (hidden, d, m, target, output).  Within a model the squared errors
    are averaged over seeds, giving one ``nmse = mean sq_err / Var(y)`` and FLOP ratios
    ``flops_per_sample / (nmse * F)`` without and with advice.  Returns per (group, rung) the
    medians over models, the number of models, how many shinnet wins (ratio > 1) and how many
    contain unresolved rows, plus the median FLOPs (without and with advice).
    """
    groups: dict[tuple, dict[tuple, list[Mapping[str, Any]]]] = {}
    for r in rows:
        fam = tuple(r[k] for k in by) + (_rung_key(r),)
        model = (r["hidden"], r["d"], r["m"], r["target"], r["output"])
        groups.setdefault(fam, {}).setdefault(model, []).append(r)
    out = []
    for fam, models in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        ratios, ratios_adv, nmses, fl, fla, unresolved = [], [], [], [], [], 0
        peer_r, peer_ra, bests = [], [], []
        for members in models.values():
            nmse = float(np.mean([m["nmse"] for m in members]))
            fps = members[0]["flops_per_sample"]
            F = float(np.mean([m["flops"] for m in members]))
            Fa = float(np.mean([m["flops_with_advice"] for m in members]))
            ratios.append(fps / (nmse * F) if nmse > 0 else float("inf"))
            ratios_adv.append(fps / (nmse * Fa) if nmse > 0 else float("inf"))
            nmses.append(nmse)
            fl.append(F)
            fla.append(Fa)
            unresolved += any(m["unresolved"] for m in members)
            if "peer_ratio" in members[0]:
                peer_r.append(float(np.mean([m["peer_ratio"] for m in members])))
                peer_ra.append(float(np.mean([m["peer_ratio_advice"] for m in members])))
                bests += [m["peer_best"] for m in members]
        expansion, N, T, q = fam[-1]
        out.append({**dict(zip(by, fam[:-1])), "expansion": expansion, "rung": rung_label(expansion, N, T, q),
                    "N": N, "K": T if expansion == "degree" else -1, "E": T if expansion == "resummed" else -1,
                    "q": q, "models": len(models), "median_flops": float(np.median(fl)),
                    "median_flops_advice": float(np.median(fla)),
                    "median_nmse": float(np.median(nmses)), "median_ratio": float(np.median(ratios)),
                    "median_ratio_advice": float(np.median(ratios_adv)),
                    "wins": int(sum(x > 1 for x in ratios)), "wins_advice": int(sum(x > 1 for x in ratios_adv)),
                    "unresolved_models": int(unresolved),
                    "median_peer_ratio": _nanmedian(peer_r), "median_peer_ratio_advice": _nanmedian(peer_ra),
                    "strongest_peer": max(set(bests), key=bests.count) if bests else "none",
                    "peer_wins_advice": int(sum(x > 1 for x in peer_ra))})
    return out


def _nanmedian(values: Sequence[float]) -> float:
    v = [x for x in values if not math.isnan(x)]
    return float(np.median(v)) if v else float("nan")


def family_table(rows: Sequence[Mapping[str, Any]], by: Sequence[str] = ("target", "output")) -> list[dict[str, Any]]:
    """FLOP ratios at equal MSE per family (default target x output) and rung (expansion, N, K or E, q).

    Within each (family, rung), the squared errors are first averaged over seeds per model
    (same d, m, hidden), giving one ``MSE/Var(y)`` per model and a ratio
    ``flops_per_sample / (nmse * F)``; the family's entry is the median of those model ratios
    (without and with advice), with the number of models, how many shinnet wins (ratio > 1)
    and how many contain unresolved rows (:func:`model_medians`).
    """
    return model_medians(rows, by)
