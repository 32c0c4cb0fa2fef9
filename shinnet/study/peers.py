"""The sampling peers of the race (MATH.md section 10): RQMC, RQMC + control variates, the hybrid.

:func:`peer_runs` measures, on one model and for every output psi, each peer at a ladder of point
counts ``n = 2^p`` (all R scrambles together) in *one* pass over the scrambled Sobol points per n:
the responses ``psi(f)`` and ``psi(f) - g(f)`` (the hybrid's residual) and the controls ``z_1, z_2``
are evaluated on the same points, and :func:`shinnet.sampling.control.cv_combine` gives

* ``rqmc``: the mean of the scramble means of psi (``monte_carlo(method="sobol")``);
* ``rqmc_cv``: with control variates (``control_variates=True``; only ``z_1`` when
  ``m > quadratic_max_m``, where the exact kappa_2 costs O(m^2 (d + K)), and then no hybrid);
* ``hybrid``: ``g(mu) + `` the residual's scramble mean (``shinnet.hybrid(degree=2)``).

Each row's MSE is the unbiased estimate ``stderr^2`` (the peers are unbiased), and its FLOPs are
:func:`shinnet.sampling.flops.sampling_flops` of that peer run alone: a fixed ``setup_flops``
(exact moments) plus ``n`` times a per-point cost.  Plain Monte Carlo needs no run: its MSE is
``Var(y)/N`` exactly.  :func:`fit_power_law` fits ``MSE = C n^-alpha`` per (model, psi, peer) by
least squares in log-log (``alpha`` is the MSE slope against n; fitting against FLOPs instead
would mix in the fixed setup) and :func:`flops_to_reach` inverts it for n; the FLOPs to reach a
target are then ``setup_flops + n * per-point FLOPs``.  Cost: ``sum_n n`` forward passes per model.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from shinnet import activations
from shinnet.hybrid import HERMITE_POINT_FLOPS, _g_values, hermite_projection
from shinnet.model import TwoLayerMLP
from shinnet.sampling.backends import default_batch_size, make_backend
from shinnet.sampling.control import cv_combine, exact_mean_f, exact_mean_flops, exact_variance
from shinnet.sampling.flops import sampling_flops
from shinnet.sampling.inputs import as_seed_sequence, child_seed
from shinnet.sampling.replicates import replicate_sums

__all__ = ["PEERS", "peer_runs", "fit_power_law", "flops_to_reach", "QUADRATIC_PEER_MAX_M"]

#: the peers :func:`peer_runs` measures (plain Monte Carlo, "monte_carlo", is analytic)
PEERS: tuple[str, ...] = ("rqmc", "rqmc_cv", "hybrid")
#: largest m for which the quadratic control variate and the hybrid (both need exact kappa_2) run
QUADRATIC_PEER_MAX_M = 16384


def _select(stats: Mapping[str, np.ndarray], cols: Sequence[int], controls: bool) -> dict[str, np.ndarray]:
    idx = list(cols)
    out = {"n": stats["n"], "sy": stats["sy"][:, idx], "syy": stats["syy"][:, idx]}
    if controls:
        out.update(sz=stats["sz"], szz=stats["szz"], syz=stats["syz"][:, idx, :])
    else:
        R = stats["n"].shape[0]
        out.update(sz=np.zeros((R, 0)), szz=np.zeros((R, 0, 0)), syz=np.zeros((R, len(idx), 0)))
    return out


def peer_runs(
    mlp: TwoLayerMLP,
    outputs: Sequence[Any],
    log2_n: Sequence[int],
    seed: int = 2024,
    scrambles: int = 8,
    quadratic_max_m: int = QUADRATIC_PEER_MAX_M,
) -> list[dict[str, Any]]:
    """Rows ``output, peer, log2_n, n_samples, flops, setup_flops, value, stderr, mse, control_variates,
    kappa2_tail_bound`` for every psi, peer and n (module docstring).  Deterministic per seed."""
    outs = [activations.get(o) for o in outputs]
    engine = make_backend("numpy", mlp, None)
    batch = default_batch_size(mlp.d, mlp.m)
    k1 = exact_mean_f(mlp)
    setup = exact_mean_flops(mlp)
    quad = mlp.m <= quadratic_max_m
    var = exact_variance(mlp) if quad else None
    k2 = float(var["value"]) if var is not None else 0.0
    hyb = var is not None and k2 > 0
    s = math.sqrt(k2) if hyb else 1.0
    coeffs = [hermite_projection(o, k1, s, 2) for o in outs] if hyb else []
    T = len(outs)

    def responses(f: Any) -> list[Any]:
        ys = [o.value(f) for o in outs]
        return ys + ([y - _g_values(f, c, k1, s) for y, c in zip(ys, coeffs)] if hyb else [])

    def controls(f: Any) -> list[Any]:
        z = f - k1
        return [z, z * z - k2] if quad else [z]

    ss = as_seed_sequence(int(seed))
    rows: list[dict[str, Any]] = []
    for p in log2_n:
        n_per = max(2, (1 << int(p)) // scrambles)
        stats, shift = replicate_sums(engine, "sobol", child_seed(ss, int(p)), n_per, scrambles, batch,
                                      responses, controls)
        total = n_per * scrambles
        for t, o in enumerate(outs):
            m_psi = mlp.replace(output=o)
            runs = {"rqmc": (cv_combine(_select(stats, [t], False), shift[[t]]), 0.0, 0, 0.0),
                    "rqmc_cv": (cv_combine(_select(stats, [t], True), shift[[t]]),
                                setup + (var["flops"] if var is not None else 0.0), 2 if quad else 1, 0.0)}
            if hyb:
                runs["hybrid"] = (cv_combine(_select(stats, [T + t], False), shift[[T + t]]),
                                  setup + var["flops"], 0, 2 * HERMITE_POINT_FLOPS)
            for peer, (res, setup_f, n_ctrl, extra) in runs.items():
                rep = res["replicate"][:, 0] + (coeffs[t][0] if peer == "hybrid" else 0.0)
                se = float(np.std(rep, ddof=1) / math.sqrt(scrambles))
                fl = sampling_flops(m_psi, total, "sobol", scrambles, n_ctrl, 1, setup_f, per_point_flops=extra)
                rows.append({"output": o.name, "peer": peer, "log2_n": int(p), "n_samples": total,
                             "flops": fl["total"], "setup_flops": fl["setup"], "value": float(rep.mean()),
                             "stderr": se, "mse": se * se,
                             "control_variates": ("quadratic" if quad else "linear") if peer == "rqmc_cv" else "none",
                             "kappa2_tail_bound": var["tail_bound"] if var is not None and peer != "rqmc" else 0.0})
    return rows


def fit_power_law(x: Sequence[float], mse: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit of ``log MSE = log C - alpha log x`` -> ``(log C, alpha)``; NaNs with < 2 usable
    points (an exact peer, e.g. control variates on psi = identity, has MSE 0 and no fit)."""
    F, E = np.asarray(x, dtype=float), np.asarray(mse, dtype=float)
    keep = (F > 0) & (E > 0) & np.isfinite(F) & np.isfinite(E)
    if keep.sum() < 2 or np.ptp(np.log(F[keep])) == 0:
        return float("nan"), float("nan")
    slope, icpt = np.polyfit(np.log(F[keep]), np.log(E[keep]), 1)
    return float(icpt), float(-slope)


def flops_to_reach(log_c: float, alpha: float, target: float) -> float:
    """The x at which ``exp(log_c) x^-alpha`` equals ``target`` (inf at target 0; NaN when the fit is
    unusable: fewer than two points or a non-positive slope)."""
    if not (np.isfinite(log_c) and np.isfinite(alpha) and alpha > 0):
        return float("nan")
    if target <= 0:
        return float("inf")
    return float(math.exp(min(700.0, (log_c - math.log(target)) / alpha)))
