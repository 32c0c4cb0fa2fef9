"""Convergence diagnostics of the degree truncation (MATH.md section 3, "What truncation at
degree K computes").

Keeping vertex degrees ``<= K'`` gives exactly the cumulants of the degree-K' polynomial
``f_{K'}``; grouping the diagram values by their largest vertex degree gives every partial
sum ``K' = 2..K`` at no extra cost.  kappa_n at K converges to kappa_n(f) only when
``f_K -> f`` in ``L^n``; hypercontractivity (``||F_k||_n <= (n-1)^{k/2} ||F_k||_2``) makes
``sum_k (n-1)^{k/2} ||F_k||_2 < inf`` sufficient.  The tail beyond K cannot be computed
without it, so we report the size of the last kept term and the ratio of successive ones.

**Divergence criterion** (:func:`is_diverging`).  With two-step increments
``D(K') = S(K') - S(K'-2)`` (two steps, because odd or even coefficients may vanish and make
one-step increments alternate with zeros), the partial sums are flagged as *not settling*
when ``K >= 6``, ``|D(K)| >= |D(K-2)|`` and ``|D(K)| > rtol * max_K' |S(K')|`` (rtol = 1e-9,
so exact polynomial cases, whose increments vanish, never fire).  A
:class:`ConvergenceWarning` is raised for each such order.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from shinnet.contract.result import ConvergenceReport, DiagramRecord

__all__ = ["ConvergenceWarning", "partial_sums", "is_diverging", "convergence_report"]

_RTOL = 1e-9


class ConvergenceWarning(UserWarning):
    """The degree-truncated cumulants stop settling as K grows (MATH.md section 3)."""


def partial_sums(records: Sequence[DiagramRecord], max_degree: int, zero: Any = 0.0) -> list[Any]:
    """``S(K') = sum of contributions of diagrams with all vertex degrees <= K'``, ``K' = 2..K``.

    ``zero`` sets the type (0.0, or zeros (B,) for a batch).  Cost O(len(records) * K).
    """
    out = []
    for kp in range(2, max_degree + 1):
        acc = zero * 1.0
        for r in records:
            if r.max_degree <= kp:
                acc = acc + r.contribution
        out.append(acc)
    return out


def is_diverging(sums: Sequence[Any], rtol: float = _RTOL) -> bool:
    """The criterion in the module docstring; for a batch, True if any model diverges.
    ``sums[i]`` is the partial sum at ``K' = i + 2``."""
    if len(sums) < 5:  # need S(K), S(K-2), S(K-4) with K >= 6
        return False
    s = [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in sums]
    last = np.abs(s[-1] - s[-3])
    prev = np.abs(s[-3] - s[-5])
    scale = np.max(np.abs(np.stack(s)), axis=0)
    return bool(np.any((last >= prev) & (last > rtol * scale)))


def convergence_report(
    n: int,
    sums: list[Any],
    frobenius: Mapping[int, float] | None,
    exact_variance: float | None = None,
) -> ConvergenceReport:
    """Build the :class:`ConvergenceReport` for order n.

    Parameters
    ----------
    sums : list
        Partial sums at ``K' = 2..K``.
    frobenius : mapping int -> float, or None
        ``||shin_k||_F`` for k = K-1 and K (from ``op_norm(k, 0)``), for the hypercontractive sizes.
    exact_variance : float, optional
        ``Var f`` (e.g. by quadrature); gives ``exact_tail`` for n = 2.
    """
    K = len(sums) + 1
    degrees = list(range(2, K + 1))
    increments = [sums[i] - sums[i - 2] for i in range(2, len(sums))]
    hc_last = float("nan")
    ratio = float("nan")
    if frobenius is not None and K in frobenius and K - 1 in frobenius:
        def size(k: int) -> float:
            return (n - 1) ** (k / 2) * float(frobenius[k]) / math.sqrt(math.factorial(k))

        hc_last = size(K)
        prev = size(K - 1)
        ratio = hc_last / prev if prev > 0 else float("nan")
    tail = None
    if n == 2 and exact_variance is not None and sums:
        tail = float(exact_variance) - float(sums[-1])
    return ConvergenceReport(degrees, sums, increments, hc_last, ratio, tail, is_diverging(sums))


def warn_if_diverging(reports: dict[int, ConvergenceReport]) -> None:
    """Raise a :class:`ConvergenceWarning` naming the orders whose partial sums do not settle."""
    bad = [n for n, r in reports.items() if r.diverging]
    if not bad:
        return
    parts = []
    for n in bad:
        r = reports[n]
        tail = ", ".join(f"K={k}: {np.round(v, 6)}" for k, v in zip(r.degrees[-3:], r.partial_sums[-3:]))
        parts.append(f"kappa_{n} ({tail})")
    warnings.warn(
        "degree-truncated cumulants are not settling as K grows (|S(K)-S(K-2)| >= |S(K-2)-S(K-4)|): "
        + "; ".join(parts)
        + ". The Hermite series of f may not converge in L^n here (MATH.md section 3); "
        "do not trust these values, and consider the resummed expansion.",
        ConvergenceWarning,
        stacklevel=3,
    )
