"""The estimator: ``estimate(mlp, ...) -> Estimate`` (MATH.md sections 3, 5, 6).

Cumulants ``kappa_1..kappa_N`` of ``f`` from the diagram engine, then ``E[psi(f)]`` by the
series of MATH.md section 6 at series order ``q`` (which uses kappa up to ``q + 2``).

Error budget (each part in units of ``E[psi(f)]``, each listed separately):

- ``pruned``: ``sum_n pruned_budget[n] * |g^(n)(mu)| / n!`` -- the diagrams the pruner skipped,
  propagated to first order through the series (``g^(n) = E[psi^(n)(mu + sZ)]``);
- ``degree_truncation``: ``sum_n max(|kappa_n(K) - kappa_n(K-1)|, |kappa_n(K) - kappa_n(K-2)|)
  * |g^(n)| / n!`` -- how much the last Hermite degrees moved each cumulant (the convergence
  signal of MATH.md section 3, over one and two steps so that a degree vanishing by parity does
  not pass for convergence; not a bound; :func:`shinnet.reliability.truncation_signal`).  With
  ``expansion="resummed"`` the same key holds the same over the last cosine orders,
  ``max(|t_n^[E_max]|, |t_n^[E_max] + t_n^[E_max - 1]|) * |g^(n)| / n!`` (section 8): the
  truncation signal of whichever expansion ran, under one key so that budgets of the two
  expansions compare;
- ``series_last_term``: the size of the last series term kept (the asymptotic series' signal).

These are signals, not bounds.  When the diagnostics cannot bound the error (f far from Gaussian,
series terms not shrinking, truncation not settled: :func:`shinnet.reliability.assess`) the
Estimate says so: ``reliable=False``, ``details["unreliable_reasons"]``, ``error == inf`` and an
:class:`~shinnet.reliability.UnreliableEstimateWarning`.

Before any work the request is validated (clear errors naming the argument) and priced
(:mod:`shinnet.preflight`): what cannot finish is refused with its cost and what to ask instead.
A constant f (every unit has ``a_j = 0`` or ``w_j = 0``) is answered exactly, ``psi(c')``.
"""

from __future__ import annotations

import time
import warnings
from math import factorial
from typing import Any, Mapping

import numpy as np

from shinnet import activations, defaults, series
from shinnet.model import TwoLayerMLP, as_model
from shinnet.reliability import UnreliableEstimateWarning, assess, truncation_signal
from shinnet.request_checks import check_device, check_scale, constant_estimate, preflight, validate_request
from shinnet.result import Estimate
from shinnet.validation import as_int

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


def _psi_scale(value: Any) -> float:
    """``max(|g(mu)|, s |g'(mu)|)``: the size of psi(f) and of its variation (for :func:`assess`)."""
    d = np.asarray(value.derivatives, dtype=np.float64)
    return max(abs(float(d[0])), float(value.sigma) * abs(float(d[1])) if d.size > 1 else 0.0)


def estimate(
    mlp: TwoLayerMLP,
    order: int = defaults.DEFAULT_ORDER,
    max_degree: int = defaults.DEFAULT_MAX_DEGREE,
    tol: float = defaults.DEFAULT_TOL,
    series_order: int | None = None,
    budget_flops: float | None = None,
    backend: str = defaults.DEFAULT_BACKEND,
    representation: str = "auto",
    progress: bool = False,
    expansion: str = defaults.DEFAULT_EXPANSION,
    max_edges: int | None = None,
    max_diagrams: float | None = None,
    max_flops: float | None = None,
    condition: int | str = 0,
    **cumulant_options: Any,
) -> Estimate:
    """Mechanistic estimate of ``E[psi(f(x))]``, ``x ~ N(0, I)``.

    Parameters
    ----------
    mlp : TwoLayerMLP or torch nn.Sequential(Linear, act, Linear[, act])
        A torch module is read with :meth:`TwoLayerMLP.from_torch`.
    order : int
        Highest cumulant order N computed (>= 2); default :data:`shinnet.defaults.DEFAULT_ORDER`.
    max_degree : int
        Hermite degree truncation K; default :data:`shinnet.defaults.DEFAULT_MAX_DEGREE`.
    tol : float
        Pruning tolerance passed to :func:`shinnet.cumulants`.
    series_order : int, optional
        Series order q (MATH.md section 6); default ``order - 2`` (all computed cumulants used).
    budget_flops : float, optional
        If given, the expansion, ``order``, ``max_degree`` / ``max_edges`` are chosen (``tol = 0``) by
        :func:`shinnet.budget.estimate_within_budget` to spend at most this many FLOPs, advice and
        planning included (the rule is in :mod:`shinnet.budget`); ``expansion="resummed"`` restricts
        it to the resummed expansion.  ``details["budget_choice"]`` says what was priced and run.
    backend, representation, progress
        Passed to :func:`shinnet.cumulants`.
    expansion, max_edges
        Passed to :func:`shinnet.cumulants`: ``"degree"`` (MATH.md section 3), ``"resummed"``
        (section 8, truncated at ``max_edges``, default :data:`shinnet.defaults.DEFAULT_MAX_EDGES`)
        or ``"auto"``; recorded in ``details``.  ``max_edges`` with ``expansion="degree"`` is refused
        (it would be ignored).
    max_diagrams, max_flops : float, optional
        Limits of the pre-flight cost check (defaults in :mod:`shinnet.defaults`): a request
        predicted to exceed them is refused (:class:`shinnet.preflight.RequestTooLarge`) before any work.
    condition : int or "auto"
        Condition on r active directions (MATH.md section 9): 0 (default) is this plain estimate;
        r >= 1 or ``"auto"`` runs :func:`shinnet.conditioning.estimate_conditioned` with the options above.
    **cumulant_options
        Further options of :func:`shinnet.cumulants` (``warn=False`` also silences
        :class:`~shinnet.reliability.UnreliableEstimateWarning`; ``Estimate.reliable`` and
        ``details["unreliable_reasons"]`` are set either way).

    Returns
    -------
    Estimate
        ``method`` = the expansion that ran (``"degree"`` or ``"resummed"``), ``stderr=None``, ``error_budget`` with the parts listed in the module
        docstring, ``flops`` (contractions) and ``flops_with_advice`` (plus building the shin tensors).
    """
    mlp = as_model(mlp, "estimate")
    check_device(backend, cumulant_options.get("device"))
    if isinstance(condition, str) or condition != 0:  # MATH.md section 9; shinnet/conditioning/
        from shinnet.conditioning import estimate_conditioned  # lazy: cotengra stack, not on import shinnet

        return estimate_conditioned(
            mlp, condition, order=order, max_degree=max_degree, tol=tol, series_order=series_order,
            budget_flops=budget_flops, backend=backend, representation=representation, progress=progress,
            expansion=expansion, max_edges=max_edges, max_diagrams=max_diagrams, max_flops=max_flops,
            **cumulant_options,
        )
    start = time.perf_counter()
    if budget_flops is None:
        req = validate_request(order, max_degree, max_edges, expansion, series_order, tol)
        order, max_degree, max_edges, tol = req.order, req.max_degree, req.max_edges, req.tol
        check_scale(mlp, order)
        if mlp.is_constant():  # kappa_2 = 0: the series is not needed, the answer is exact
            return constant_estimate(mlp, order, req.series_order, time.perf_counter() - start,
                                     {"max_degree": max_degree, "expansion": expansion, "max_edges": max_edges,
                                      "tol": tol})
        preflight(mlp, req, representation, max_diagrams, max_flops)
    from shinnet.expansions import cumulants  # lazy: cotengra stack, after the cheap checks
    if budget_flops is not None:  # the FLOP-budget planner prices, runs and reports (shinnet/budget/chooser.py)
        from shinnet.budget import estimate_within_budget  # lazy: cotengra stack, not on import shinnet

        return estimate_within_budget(mlp, budget_flops, expansion=expansion, series_order=series_order,
                                      backend=backend, representation=representation, progress=progress,
                                      max_diagrams=max_diagrams, max_flops=max_flops, **cumulant_options)
    if as_int("order", order) < 2:
        raise ValueError(f"order must be >= 2 (kappa_2 sets the Gaussian scale), got {order}")
    q = order - 2 if series_order is None else as_int("series_order", series_order)
    if not 0 <= q <= order - 2:
        raise ValueError(f"series_order must be in [0, order - 2] = [0, {order - 2}], got {series_order}")

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
        max_diagrams=max_diagrams,
        max_flops=max_flops,
        **cumulant_options,
    )
    kappa = {n: float(v) for n, v in res.kappa.items()}
    if not kappa[2] > 0 and all(kappa[n] == 0.0 for n in kappa if n >= 2):
        # f is constant in law (kappa_2 = 0 exactly): E[psi(f)] = psi(kappa_1), no series needed
        return constant_estimate(mlp.replace(W=np.zeros_like(mlp.W), a=np.zeros_like(mlp.a), c=kappa[1]), order, q,
                                 time.perf_counter() - start, {"max_degree": max_degree, "expansion": expansion,
                                                               "max_edges": max_edges, "tol": tol, "cumulants": res})
    value = series.expectation(mlp.output, kappa, q)

    weights = propagated_weights(mlp.output, kappa, order)
    pruned = sum(float(res.pruned_budget.get(n, 0.0)) * weights[n] for n in range(1, order + 1))
    # the larger of the last one- and two-step moves per cumulant (shinnet.reliability.truncation_signal)
    moved = truncation_signal(res.partial_sums, weights, [n for n in res.partial_sums if n <= order])
    if q > 0:
        last = float(abs(value.last_term))
    else:  # order 0 keeps no term beyond the Gaussian: its signal is kappa_3's first-order effect
        last = abs(kappa[3]) * weights[3] if 3 in kappa else 0.0
    budget = {"pruned": pruned, "degree_truncation": moved, "series_last_term": last}
    used = res.settings.get("expansion", expansion)
    reasons = assess(kappa, list(value.terms), res.partial_sums, value=float(value), budget=sum(budget.values()),
                     used_orders=list(value.cumulants_used), resummed=used == "resummed",
                     reports=res.convergence, exact=bool(value.exact), scale=_psi_scale(value), weights=weights)
    if 3 not in kappa and not value.exact:
        # order 2: only the Gaussian approximation g(mu); no cumulant beyond kappa_2 was computed, so
        # nothing measures the non-Gaussian error and the budget above is not an error bar
        reasons = [*reasons, "order 2 keeps only the Gaussian approximation: no cumulant beyond kappa_2 was "
                             "computed, so nothing bounds the non-Gaussian error (use order >= 3)"]
    if reasons and cumulant_options.get("warn", True):  # warn=False: Estimate.reliable still says it
        warnings.warn(
            f"estimate {float(value):.6g} is not reliable: its error budget {sum(budget.values()):.3g} does not bound "
            f"the error ({'; '.join(reasons)}). Compare with shinnet.monte_carlo, or raise order / max_degree.",
            UnreliableEstimateWarning, stacklevel=2,
        )

    wall = time.perf_counter() - start
    flops = float(res.flops)
    return Estimate(
        value=float(value),
        method=str(used),  # the expansion that actually ran ("degree" or "resummed"; "auto" resolves to one)
        stderr=None,
        error_budget=budget,
        flops=flops,
        flops_with_advice=flops + float(res.build_flops),
        wall_time=wall,
        kappa=kappa,
        details={
            "order": order,
            "max_degree": max_degree,
            "expansion": used,
            "max_edges": max_edges,
            "series_order": q,
            "tol": tol,
            "series_terms": [float(t) for t in value.terms],
            "partial_sums": {n: [float(v) for v in s] for n, s in res.partial_sums.items()},
            "pruned_budget": dict(res.pruned_budget),
            "cumulants": res,
            "budget_choice": None,  # set by shinnet.budget when budget_flops is given
            "unreliable_reasons": reasons,
        },
        reliable=not reasons,
    )
