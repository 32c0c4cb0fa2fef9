"""The estimator: ``estimate(mlp, ...) -> Estimate`` (MATH.md sections 3, 5, 6).

Cumulants ``kappa_1..kappa_N`` of ``f`` from the diagram engine, then ``E[psi(f)]`` by the
series of MATH.md section 6 at series order ``q`` (which uses kappa up to ``q + 2``).

Error budget (each part in units of ``E[psi(f)]``, each listed separately):

- ``pruned``: ``sum_n pruned_budget[n] * |g^(n)(mu)| / n!`` -- the diagrams the pruner skipped,
  propagated to first order through the series (``g^(n) = E[psi^(n)(mu + sZ)]``);
- ``degree_truncation``: ``sum_n |kappa_n(K) - kappa_n(K-1)| * |g^(n)| / n!`` -- how much the last
  Hermite degree moved each cumulant (the convergence signal of MATH.md section 3; not a bound).
  With ``expansion="resummed"`` the same key holds ``sum_n |t_n^[E_max]| * |g^(n)| / n!``, the
  last cosine order's term (section 8): the truncation signal of whichever expansion ran, under
  one key so that budgets of the two expansions compare;
- ``series_last_term``: the size of the last series term kept (the asymptotic series' signal).
"""

from __future__ import annotations

import time
from math import factorial
from typing import Any, Mapping

import numpy as np

from shinnet import activations
from shinnet.model import TwoLayerMLP
from shinnet.result import Estimate

__all__ = ["estimate", "propagated_weights"]


def propagated_weights(psi: Any, kappa: Mapping[int, float], n_max: int) -> dict[int, float]:
    """``|g^(n)(mu)| / n!`` for n = 1..n_max: first-order sensitivity of ``E[psi(f)]`` to kappa_n.

    ``g^(n)(mu) = E[psi^(n)(mu + s Z)]`` with ``mu = kappa_1``, ``s^2 = kappa_2`` (MATH.md section 6).
    Cost: one call of ``gaussian_derivative_means``.
    """
    act = activations.get(psi)
    s = float(np.sqrt(max(kappa[2], 0.0)))
    derivs = act.gaussian_derivative_means(n_max, [s], [float(kappa[1])])[0]
    return {n: abs(float(derivs[n])) / factorial(n) for n in range(1, n_max + 1)}


def estimate(
    mlp: TwoLayerMLP,
    order: int = 4,
    max_degree: int = 6,
    tol: float = 0.0,
    series_order: int | None = None,
    budget_flops: float | None = None,
    backend: str = "numpy",
    representation: str = "auto",
    progress: bool = False,
    expansion: str = "degree",
    max_edges: int | None = None,
    **cumulant_options: Any,
) -> Estimate:
    """Mechanistic estimate of ``E[psi(f(x))]``, ``x ~ N(0, I)``.

    Parameters
    ----------
    mlp : TwoLayerMLP
    order : int
        Highest cumulant order N computed (>= 2).
    max_degree : int
        Hermite degree truncation K.
    tol : float
        Pruning tolerance passed to :func:`shinnet.cumulants`.
    series_order : int, optional
        Series order q (MATH.md section 6); default ``order - 2`` (all computed cumulants used).
    budget_flops : float, optional
        If given, ``order``, ``max_degree`` and ``tol`` are chosen by :func:`shinnet.planner.choose_settings`
        to spend about this many FLOPs, advice included (the rule is in :mod:`shinnet.planner`).
    backend, representation, progress
        Passed to :func:`shinnet.cumulants`.
    expansion, max_edges
        Passed to :func:`shinnet.cumulants`: ``"degree"`` (MATH.md section 3), ``"resummed"``
        (section 8, truncated at ``max_edges``) or ``"auto"``; recorded in ``details``.

    Returns
    -------
    Estimate
        ``method="degree"``, ``stderr=None``, ``error_budget`` with the parts listed in the module
        docstring, ``flops`` (contractions) and ``flops_with_advice`` (plus building the shin tensors).
    """
    from shinnet.contract import cumulants

    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"estimate needs a TwoLayerMLP, got {type(mlp).__name__}")
    start = time.perf_counter()
    choice = None
    if budget_flops is not None:
        from shinnet.planner import choose_settings

        from shinnet.contract import PathCache

        # one path cache for pricing the candidates and for the contraction that follows
        cumulant_options.setdefault("cache", PathCache())
        choice = choose_settings(mlp, budget_flops, backend=backend, cache=cumulant_options["cache"])
        order, max_degree, tol = choice.order, choice.max_degree, choice.tol
        cumulant_options.setdefault("warn", False)
    if order < 2:
        raise ValueError(f"order must be >= 2 (kappa_2 sets the Gaussian scale), got {order}")
    q = order - 2 if series_order is None else int(series_order)
    if not 0 <= q <= order - 2:
        raise ValueError(f"series_order must be in [0, order - 2] = [0, {order - 2}], got {series_order}")

    from shinnet import series

    res = cumulants(
        mlp,
        order=order,
        max_degree=max_degree,
        tol=tol,
        backend=backend,
        representation=representation,
        progress=progress,
        expansion=expansion,
        max_edges=max_edges,
        **cumulant_options,
    )
    kappa = {n: float(v) for n, v in res.kappa.items()}
    value = series.expectation(mlp.output, kappa, q)

    weights = propagated_weights(mlp.output, kappa, order)
    pruned = sum(float(res.pruned_budget.get(n, 0.0)) * weights[n] for n in range(1, order + 1))
    moved = 0.0
    for n, sums in res.partial_sums.items():
        if len(sums) >= 2 and n <= order:
            moved += abs(float(sums[-1]) - float(sums[-2])) * weights[n]
    if q > 0:
        last = float(abs(value.last_term))
    else:  # order 0 keeps no term beyond the Gaussian: its signal is kappa_3's first-order effect
        last = abs(kappa[3]) * weights[3] if 3 in kappa else 0.0
    budget = {"pruned": pruned, "degree_truncation": moved, "series_last_term": last}

    wall = time.perf_counter() - start
    flops = float(res.flops)
    return Estimate(
        value=float(value),
        method="degree",
        stderr=None,
        error_budget=budget,
        flops=flops,
        flops_with_advice=flops + float(res.build_flops),
        wall_time=wall,
        kappa=kappa,
        details={
            "order": order,
            "max_degree": max_degree,
            "expansion": res.settings.get("expansion", expansion),
            "max_edges": max_edges,
            "series_order": q,
            "tol": tol,
            "series_terms": [float(t) for t in value.terms],
            "partial_sums": {n: [float(v) for v in s] for n, s in res.partial_sums.items()},
            "pruned_budget": dict(res.pruned_budget),
            "cumulants": res,
            "budget_choice": choice,
        },
    )
