"""When the error budget of a mechanistic estimate cannot be trusted (issue 10, item 2).

The budget of :func:`shinnet.estimate` (module docstring there) is a set of *signals* -- the
last series term, how far the last Hermite degrees moved each cumulant, the pruned mass -- not a
bound.  Two things are done with them here:

* :func:`truncation_signal` makes the truncation signal conservative where that suffices: per
  cumulant the larger of the last one-step and two-step moves of the partial sums (the trend
  over the last three truncations), so that a degree vanishing by parity (odd sigma, even k) or
  a move that the last step alone understates is *inside* the budget instead of a reason to
  distrust it;
* :func:`assess` lists the reasons the (so inflated) budget may still not bound the error, each
  a sentence; an estimate with any reason is marked ``reliable=False`` and warns
  (:class:`UnreliableEstimateWarning`).

Checks (thresholds in :data:`shinnet.defaults.RELIABILITY`), with ``s^2 = kappa_2`` and the
near-Gaussian parameter implied by kappa_n, ``eps_n = (|kappa_n| / s^n)^(1/(n-2))`` (MATH.md
section 6 groups terms by ``kappa_n ~ eps^(n-2)``):

1. **non-Gaussian f with a series that does not shrink**: ``max_n eps_n > max_eps`` (1: the
   series in eps has no small parameter) *and* the last series term above ``max_term_ratio``
   times the one before (and above ``min_significant_term`` of the answer's scale: a ratio of
   two negligible terms, e.g. when ``kappa_3 g^(3)`` vanishes by symmetry, says nothing).  With
   a large eps but terms that still fall fast the last term stays informative (measured:
   benchmarks/bench_reliability.py, docs/benchmarks.md).
2. **f very far from Gaussian**: ``max_n eps_n > max_eps_any`` whatever the terms do; for the
   resummed expansion already above ``max_eps_resummed`` (0.75): its truncation signal, the last
   cosine orders, misses more there (measured on the same grid: 5 of 12 exceedances missed at
   m <= 8 even with every other check, docs/benchmarks.md).
3. **truncation moved more than the budget**: a cumulant's two-step move propagated to the
   answer, ``|kappa_n(K) - kappa_n(K-2)| |g^(n)| / n!``, above ``max_move_share`` times the
   budget (a move already inside the budget is accounted for).  Without the propagation
   weights (``weights=None``) the move is judged in the units kappa_n enters the answer with,
   ``s^n sqrt(n!)`` (``s^n |g^(n)| / n! <= ||psi||_2 / sqrt(n!)``): above
   ``max_truncation_move``.
4. **diverging reports** of the engine: the degree expansion's ``ConvergenceReport.diverging``
   (two-step increments not shrinking, K >= 6); for the resummed expansion only a report that
   has not *settled* (terms not yet fallen to half their peak) -- ``lambda* >= 1`` alone (the
   report's ``asymptotic`` / ``diverging``) is not a reason when the terms have settled.  A
   report counts only when its cumulant matters (its two-step move propagated to the answer
   above ``min_significant_term`` of the answer's scale; always when no weights are given).
5. **budget large**: the summed budget above ``max_relative_budget * max(|value|, scale)``:
   first-order propagation of the moves through ``g^(n)`` is then no longer meaningful.

None of these apply when the answer is exact (identity or polynomial psi with all needed
cumulants, or a constant f): the series then has no truncation error.
Reproducer: ``zoo.random_mlp(d=4, m=2, hidden="relu", output="heaviside", seed=1,
weight_scale=1.0, bias_scale=0.5)`` at order 4, K = 6 gives 0.774 with budget 0.017 against
Monte Carlo 0.926 +- 0.0006; its skewness is 1.38 (eps > 1) and its series terms fall only by
0.63 per order (check 1).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from shinnet import defaults

__all__ = ["UnreliableEstimateWarning", "assess", "truncation_signal"]


class UnreliableEstimateWarning(UserWarning):
    """An estimate whose error budget does not bound its error (see :func:`assess`)."""


def _flag(report: Any) -> str | None:
    """The first unsettled flag of one convergence report, or None.

    A resummed report (it has ``settled``) is judged by ``settled`` alone: its ``diverging`` is
    an alias of ``lambda* >= 1`` (asymptotic series), which says nothing once the terms fell.
    """
    settled = getattr(report, "settled", None)
    if isinstance(settled, bool):
        return None if settled else "not settled"
    for attr, bad in (("diverging", True), ("converging", False), ("converged", False)):
        value = getattr(report, attr, None)
        if isinstance(value, bool) and value is bad:
            return attr if bad else f"not {attr}"
    return None


def _moves(sums: Sequence[Any]) -> tuple[float, float]:
    """The last one-step and two-step moves ``|S[-1] - S[-2]|``, ``|S[-1] - S[-3]|`` (the one-step
    move again when there are only two sums; zeros with fewer)."""
    v = [float(x) for x in sums]
    if len(v) < 2:
        return 0.0, 0.0
    one = abs(v[-1] - v[-2])
    return one, (abs(v[-1] - v[-3]) if len(v) >= 3 else one)


def truncation_signal(partial_sums: Mapping[int, Sequence[Any]], weights: Mapping[int, float],
                      orders: Sequence[int]) -> float:
    """The truncation part of the error budget: ``sum_n max(|S_n[-1] - S_n[-2]|, |S_n[-1] - S_n[-3]|)
    |g^(n)| / n!`` over ``orders``.

    ``S_n`` are kappa_n's partial sums over the truncation (Hermite degree K' = 2..K, or cosine
    order E = 0..E_max), ``weights[n] = |g^(n)(mu)| / n!`` (:func:`shinnet.estimate.propagated_weights`).
    The two-step move covers a last degree that vanishes by parity and a trend the last step alone
    understates (measured on 72 models: it turns 7 of 9 budget exceedances into budgets that
    hold, docs/benchmarks.md).  Cost: O(len(orders)).
    """
    total = 0.0
    for n in orders:
        sums = partial_sums.get(n, [])
        if n in weights and len(sums) >= 2:
            total += max(_moves(sums)) * float(weights[n])
    return total


def assess(
    kappa: Mapping[int, float],
    series_terms: Sequence[float],
    partial_sums: Mapping[int, Sequence[float]],
    *,
    value: float,
    budget: float,
    used_orders: Sequence[int],
    resummed: bool = False,
    reports: Mapping[int, Any] | None = None,
    exact: bool = False,
    scale: float | None = None,
    weights: Mapping[int, float] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> list[str]:
    """Reasons the error budget of an estimate cannot be trusted (empty: none found).

    Parameters
    ----------
    kappa : mapping n -> kappa_n
    series_terms : sequence of float
        The eps-order terms of the series (``SeriesValue.terms``).
    partial_sums : mapping n -> list
        Per cumulant order, its values over the truncation (``CumulantResult.partial_sums``).
    value, budget : float
        The estimate and its summed budget.
    used_orders : sequence of int
        The cumulant orders the series used.
    resummed : bool
        ``partial_sums`` run over cosine orders (named so in the reasons).
    reports : mapping n -> report, optional
        ``CumulantResult.convergence``.
    exact : bool
        The series is exact (no truncation error): nothing to assess.
    scale : float, optional
        The size of psi's variation, e.g. ``max(|g(mu)|, s |g'(mu)|)``; a last series term below
        ``min_significant_term * max(|value|, scale)`` is never called "not shrinking".
    weights : mapping n -> float, optional
        ``|g^(n)(mu)| / n!``: the truncation moves are then judged against the budget (check 3).
    thresholds : mapping, optional
        Overrides of :data:`shinnet.defaults.RELIABILITY`.

    Cost: O(sum of the lengths of the inputs).
    """
    th = {**defaults.RELIABILITY, **dict(thresholds or {})}
    reasons: list[str] = []
    if exact:
        return reasons
    var = float(kappa.get(2, float("nan")))
    s = math.sqrt(var) if var > 0 else float("nan")
    size = max(abs(float(value)), abs(float(scale)) if scale is not None else 0.0)
    terms = [abs(float(t)) for t in series_terms]
    # only a term that matters can signal non-convergence: terms[1] ~ 0 by symmetry (odd psi at
    # mu = 0, kappa_3 ~ 0) makes any ratio large without saying anything about the series
    ratio = (terms[-1] / terms[-2] if terms[-2] else math.inf) if len(terms) >= 2 else 0.0
    not_shrinking = (len(terms) >= 2 and terms[-1] > th["max_term_ratio"] * terms[-2]
                     and terms[-1] > th["min_significant_term"] * size)
    worst = None
    if s > 0:
        worst = max(((n, (abs(float(kappa[n])) / s**n) ** (1.0 / (n - 2))) for n in used_orders
                     if n >= 3 and n in kappa), key=lambda t: t[1], default=None)
    # the resummed expansion's truncation signal (last cosine orders) misses more on non-Gaussian f
    # (measured, docs/benchmarks.md): there eps alone above max_eps_resummed is a reason
    alone = th["max_eps_resummed"] if resummed else th["max_eps_any"]
    if worst is not None and (worst[1] > alone or (worst[1] > th["max_eps"] and not_shrinking)):
        n, eps = worst
        why = (f"(eps = {eps:.3g} > {alone:g})" if eps > alone else
               f"(eps = {eps:.3g} > {th['max_eps']:g}) and its series terms do not shrink: |last| / |previous| "
               f"= {ratio:.3g} (> {th['max_term_ratio']:g})")
        if resummed and eps > alone:
            why += ", where the resummed expansion's truncation signal is not enough"
        reasons.append(f"f is far from Gaussian: |kappa_{n}| / s^{n} = {abs(float(kappa[n])) / s**n:.3g} {why}: "
                       f"the last series term does not bound the error")
    what = "the last cosine orders" if resummed else "the last Hermite degrees"
    contribution: dict[int, float] = {}
    for n in used_orders:
        sums = partial_sums.get(n, [])
        if n < 2 or len(sums) < 2:
            continue
        move = _moves(sums)[1]  # two steps: a degree vanishing by parity must not pass for convergence
        if weights is not None and n in weights:
            contribution[n] = move * float(weights[n])
            if contribution[n] > th["max_move_share"] * budget:
                reasons.append(f"{what} moved kappa_{n} by {contribution[n]:.3g} in the answer's units, more than "
                               f"the error budget {budget:.3g}: the truncation has not settled")
        elif s > 0:
            limit = th["max_truncation_move"] * math.sqrt(math.factorial(n))
            if move / s**n > limit:
                reasons.append(f"{what} moved kappa_{n} by {move / s**n:.3g} s^{n} (> {limit:.3g} s^{n}): "
                               f"the truncation has not settled")
    for n, report in sorted((reports or {}).items()):
        if n not in used_orders:
            continue
        if n in contribution and contribution[n] <= th["min_significant_term"] * size:
            continue  # a cumulant whose truncation moves the answer negligibly cannot spoil it
        items = report if isinstance(report, (tuple, list)) else [report]
        for rep in items:
            flag = _flag(rep)
            if flag is not None:
                reasons.append(f"the convergence report of kappa_{n} says {flag.replace('_', ' ')}")
                break
    if budget > th["max_relative_budget"] * size:
        reasons.append(f"the error budget {budget:.3g} is above {th['max_relative_budget']:g} of the answer's scale "
                       f"max(|value|, |g|, s |g'|) = {size:.3g}")
    return reasons
