"""Convergence studies (MATH.md sections 3, 5, 6): how shinnet's answers move with its knobs.

* :func:`kappa_vs_k` -- kappa_n of the degree-K truncation against K, next to the Monte Carlo
  k-statistic and its standard error (section 3: convergence for smooth f, divergence for rough f);
* :func:`series_order_study` -- ``E[psi(f)]`` against the series order q (section 6), with
  shinnet's cumulants and with the Monte Carlo cumulants (which isolates the series' own error),
  plus the size of the last term kept;
* :func:`pruning_study` -- pruning tolerance tau against the reported budget against the actual
  change of each kappa_n (section 5: the budget must bound the change) and the FLOPs saved.

Each returns a list of flat dicts (one CSV row each); :mod:`shinnet.study.plotting` draws them.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from shinnet import series
from shinnet.expansions import cumulants
from shinnet.model import TwoLayerMLP
from shinnet.study.groundtruth import GroundTruth

__all__ = ["kappa_vs_k", "series_order_study", "pruning_study"]


def kappa_vs_k(
    mlp: TwoLayerMLP, label: str, order: int, max_degree: int, truth: GroundTruth
) -> list[dict[str, Any]]:
    """Rows ``model, n, K, kappa, mc_kappa, mc_stderr, mc_n_samples, flops`` for n = 2..order, K = 2..max_degree.

    One engine call at (order, max_degree); kappa_n(K) is its partial sum at degree K and
    ``flops`` the cost of the diagrams of order n with every degree <= K.
    """
    if order > max(truth.kappa):
        raise ValueError(f"the reference has kappa up to {max(truth.kappa)}, asked for order {order}")
    res = cumulants(mlp, order, max_degree, warn=False)
    rows = []
    for n in range(2, order + 1):
        for i, value in enumerate(res.partial_sums[n]):
            K = i + 2
            rows.append({
                "model": label, "n": n, "K": K, "kappa": float(value),
                "mc_kappa": truth.kappa[n], "mc_stderr": truth.kappa_stderr[n], "mc_n_samples": truth.n_samples,
                "flops": sum(float(r.flops) for r in res.diagrams if r.order == n and r.max_degree <= K),
            })
    return rows


def series_order_study(
    mlp: TwoLayerMLP, label: str, truths: Mapping[str, GroundTruth], max_q: int, max_degree: int
) -> list[dict[str, Any]]:
    """Rows ``model, output, q, value, error, value_mc_kappa, error_mc_kappa, last_term, truth,
    truth_stderr, truth_n_samples`` for every output in ``truths`` and q = 0..max_q.

    ``last_term`` is the size of the eps^q term (the asymptotic series' error signal; NaN at q = 0,
    where the only term is the Gaussian value itself).

    shinnet's cumulants come from one engine call at (max_q + 2, max_degree); the Monte Carlo
    ones are the reference's k-statistics (up to kappa_6, so max_q <= 4).
    """
    if not 0 <= max_q <= 4:
        raise ValueError(f"max_q must be in 0..4 (Monte Carlo cumulants go up to kappa_6), got {max_q}")
    res = cumulants(mlp, max_q + 2, max_degree, warn=False)
    kappa = {n: float(v) for n, v in res.kappa.items()}
    rows = []
    for name, truth in truths.items():
        for q in range(max_q + 1):
            v = series.expectation(name, kappa, q)
            vmc = series.expectation(name, dict(truth.kappa), q)
            rows.append({
                "model": label, "output": name, "q": q, "K": max_degree, "value": float(v),
                "error": float(v) - truth.value, "value_mc_kappa": float(vmc),
                "error_mc_kappa": float(vmc) - truth.value,
                "last_term": float(abs(v.terms[-1])) if q > 0 else float("nan"),
                "truth": truth.value, "truth_stderr": truth.stderr, "truth_n_samples": truth.n_samples,
            })
    return rows


def pruning_study(
    mlp: TwoLayerMLP, label: str, order: int, max_degree: int, tols: Sequence[float]
) -> list[dict[str, Any]]:
    """Rows ``model, tol, n, kappa, budget, actual, flops, n_pruned`` for each tolerance.

    ``actual = |kappa_n(tol) - kappa_n(0)|`` (same truncation, nothing pruned), ``budget`` the
    engine's ``pruned_budget[n]``; section 5 guarantees ``actual <= budget`` up to rounding.
    """
    tols = sorted({0.0, *(float(t) for t in tols)})
    if tols[0] < 0:
        raise ValueError("tolerances must be >= 0")
    base = None
    rows = []
    for tol in tols:
        res = cumulants(mlp, order, max_degree, tol=tol, warn=False, compute_bounds=True)
        if base is None:
            base = res
        for n in range(2, order + 1):
            rows.append({
                "model": label, "tol": tol, "n": n, "kappa": float(res.kappa[n]),
                "budget": float(res.pruned_budget.get(n, 0.0)),
                "actual": abs(float(res.kappa[n]) - float(base.kappa[n])),
                "flops": float(res.flops), "n_pruned": int(res.n_pruned),
            })
    return rows
