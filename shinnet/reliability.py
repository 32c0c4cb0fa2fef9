"""When the error budget of a mechanistic estimate cannot be trusted (issue 10, item 2).

The budget of :func:`shinnet.estimate` (module docstring there) is a set of *signals* -- the
last series term, how far the last Hermite degree moved each cumulant, the pruned mass -- not a
bound.  They track the real error only while f is near-Gaussian and the expansions settle.
:func:`assess` lists the reasons they may not, each a sentence; an estimate with any reason is
marked ``reliable=False`` and warns (:class:`UnreliableEstimateWarning`), so a small budget is
never presented as an error bar when it is not one.

Checks (thresholds in :data:`shinnet.defaults.RELIABILITY`), with ``s^2 = kappa_2``:

1. **non-Gaussian f** (MATH.md section 6 groups terms by ``kappa_n ~ eps^(n-2)``): the implied
   ``eps_n = (|kappa_n| / s^n)^(1/(n-2))`` above ``max_eps`` for some used n >= 3 (e.g. skewness
   ``|kappa_3| / s^3 > 0.75``).  The series in eps is then not small-parameter at all.
2. **series not shrinking**: the last series term larger than ``max_term_ratio`` times the one
   before (an asymptotic series is only informative while its terms fall), and itself above
   ``min_significant_term`` of the answer's scale (a ratio of two negligible terms, e.g. when
   ``kappa_3 g^(3)`` vanishes by symmetry, says nothing).
3. **truncation moved a lot**: ``|kappa_n(K) - kappa_n(K-2)| / s^n > max_truncation_move sqrt(n!)``
   (degree expansion, two steps so that a degree vanishing by parity does not pass for
   convergence; for the resummed expansion the last cosine-order term ``|t_E|``).  The scale
   ``s^n sqrt(n!)``: kappa_n enters the answer as ``kappa_n g^(n) / n!`` and
   ``s^n |g^(n)| / n! = |E[psi(mu + sZ) He_n(Z)]| / n! <= ||psi||_2 / sqrt(n!)``, so a move of
   kappa_n matters in units of ``s^n sqrt(n!)``.
4. **diverging / unsettled reports** of the engine (``ConvergenceReport.diverging``, a resummed
   report's ``settled`` / ``converging`` flag when it has one).
5. **budget large**: the summed budget above ``max_relative_budget * max(|value|, scale)``.

None of these apply when the answer is exact (identity or polynomial psi with all needed
cumulants, or a constant f): the series then has no truncation error.
Reproducer the thresholds were set on: ``zoo.random_mlp(d=4, m=2, hidden="relu",
output="heaviside", seed=1, weight_scale=1.0, bias_scale=0.5)`` at order 4, K = 6 gives 0.774
with budget 0.017 against Monte Carlo 0.926 +- 0.0006; its skewness is 1.38 and excess
kurtosis 1.82 (check 1), and its series terms fall only by 0.63 per order (check 2).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from shinnet import defaults

__all__ = ["UnreliableEstimateWarning", "assess"]


class UnreliableEstimateWarning(UserWarning):
    """An estimate whose error budget does not bound its error (see :func:`assess`)."""


def _flag(report: Any) -> str | None:
    """The first unsettled flag of one convergence report, or None."""
    for attr, bad in (("diverging", True), ("settled", False), ("converging", False), ("converged", False)):
        value = getattr(report, attr, None)
        if isinstance(value, bool) and value is bad:
            return attr if bad else f"not {attr}"
    return None


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
        ``partial_sums`` run over cosine orders (the last step is the last term ``t_E``).
    reports : mapping n -> report, optional
        ``CumulantResult.convergence``.
    exact : bool
        The series is exact (no truncation error): nothing to assess.
    scale : float, optional
        The size of psi's variation, e.g. ``max(|g(mu)|, s |g'(mu)|)``; a last series term below
        ``min_significant_term * max(|value|, scale)`` is never called "not shrinking".
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
    if s > 0:
        worst = max(((n, (abs(float(kappa[n])) / s**n) ** (1.0 / (n - 2))) for n in used_orders
                     if n >= 3 and n in kappa), key=lambda t: t[1], default=None)
        if worst is not None and worst[1] > th["max_eps"]:
            n, eps = worst
            reasons.append(f"f is far from Gaussian: |kappa_{n}| / s^{n} = {abs(float(kappa[n])) / s**n:.3g} "
                           f"(eps = {eps:.3g} > {th['max_eps']:g}); the series in eps does not converge fast enough "
                           f"for its last term to bound the error")
    terms = [abs(float(t)) for t in series_terms]
    # only a term that matters can signal non-convergence: terms[1] ~ 0 by symmetry (odd psi at
    # mu = 0, kappa_3 ~ 0) makes any ratio large without saying anything about the series
    size = max(abs(float(value)), abs(float(scale)) if scale is not None else 0.0)
    if (len(terms) >= 2 and terms[-1] > th["max_term_ratio"] * terms[-2]
            and terms[-1] > th["min_significant_term"] * size):
        reasons.append(f"the series terms are not shrinking: |last| / |previous| = "
                       f"{terms[-1] / terms[-2] if terms[-2] else float('inf'):.3g} > {th['max_term_ratio']:g}")
    if s > 0:
        for n in used_orders:
            sums = [float(v) for v in partial_sums.get(n, [])]
            if n < 2 or len(sums) < 2:
                continue
            # two steps where there are (as the engine's diagnostics): a degree that vanishes by
            # parity (odd sigma, even k) must not pass for convergence; the resummed last term alone
            back = 3 if len(sums) >= 3 and not resummed else 2
            move = abs(sums[-1] - sums[-back]) / s**n
            limit = th["max_truncation_move"] * math.sqrt(math.factorial(n))
            if move > limit:
                what = "the last cosine order" if resummed else "the last Hermite degrees"
                reasons.append(f"{what} moved kappa_{n} by {move:.3g} s^{n} (> {limit:.3g} s^{n}): "
                               f"the truncation has not settled")
    for n, report in sorted((reports or {}).items()):
        if n not in used_orders:
            continue
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
