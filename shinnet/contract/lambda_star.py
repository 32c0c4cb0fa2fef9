"""Convergence diagnostics of the resummed expansion (MATH.md section 8, "Truncation and
convergence").

Replacing ``Rt`` by ``s Rt`` makes ``kappa_n^[E]`` the ``s^E`` Taylor coefficient of
``kappa_n(s)``; the series at s = 1 converges geometrically when

    lambda* = max over unit sets S with |S| <= n of lambda_max(R_S - I) < 1

(sufficient: ``max_{u != v} |R_uv| < 1/(n-1)``), and is otherwise only asymptotic.

:func:`lambda_star` estimates lambda* greedily (a *lower* bound on the true maximum): start
from the pair with the largest ``|cosine|`` and add, one at a time, the unit that maximises
``lambda_max(R_S - I)``.  :func:`resummed_report` summarises the partial sums over E: the terms,
their geometric ratio, the best partial sum (where the terms are smallest: the usual optimal
truncation of an asymptotic series), and the conformal (Euler) re-expansion
``s = 2 sigma w / (1 - w)``, ``sigma = 1 / lambda*``, which maps the singularity at
``s = -1/lambda*`` to ``w = -1`` and the evaluation point ``s = 1`` to ``w0 = 1/(1 + 2 sigma)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from shinnet.contract.diagnostics import ConvergenceWarning

__all__ = ["LambdaStar", "lambda_star", "ResummedReport", "resummed_report", "euler_partial_sums",
           "warn_if_asymptotic", "batch_reports", "SETTLE_FACTOR"]

#: a series counts as settled once its pair size ``|t_E| + |t_{E-1}|`` fell to this fraction of its peak
SETTLE_FACTOR = 0.5


@dataclass(frozen=True)
class LambdaStar:
    """Greedy estimate of lambda* per set size.

    Attributes
    ----------
    values : dict int -> float
        ``s -> lambda_max(R_S - I)`` for the greedy set of size s (s = 2..n_max); non-decreasing
        in s (Cauchy interlacing).  A lower bound on the maximum over all sets of that size.
    sets : dict int -> tuple of int
        The unit indices found.
    max_cosine : float
        ``max_{u != v} |R_uv|`` (= values[2]).
    flops : float
        Cost of the search (``2 m^2 d`` for the Gram rows plus the small eigenproblems).
    """

    values: dict[int, float]
    sets: dict[int, tuple[int, ...]]
    max_cosine: float
    flops: float

    def at(self, n: int) -> float:
        """lambda* estimate for cumulant order n (sets of at most n units); 0 for n <= 1."""
        if n <= 1 or not self.values:
            return 0.0
        return self.values[min(n, max(self.values))]


def _largest_pair(U: np.ndarray, chunk: int) -> tuple[int, int, float]:
    m = U.shape[0]
    best = (0, 1, -1.0)
    for start in range(0, m, chunk):
        block = np.abs(U[start:start + chunk] @ U.T)
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = -1.0
        flat = int(np.argmax(block))
        i, j = divmod(flat, m)
        if block[i, j] > best[2]:
            best = (start + i, j, float(block[i, j]))
    return best


def lambda_star(U: Any, n_max: int, chunk: int = 1024) -> LambdaStar:
    """Greedy estimate of ``lambda* = max_{|S| <= n} lambda_max(R_S - I)``, ``R = U U^T``.

    Parameters
    ----------
    U : array (m, d)
        Unit rows.
    n_max : int
        Largest set size (the largest cumulant order).
    chunk : int
        Rows of ``R`` formed at a time (memory ``chunk * m`` doubles).

    Returns
    -------
    LambdaStar.  Cost ``2 m^2 d`` (largest pair) ``+ sum_s (2 m s d + m s^3)`` (growth), memory
    O(chunk m + m n_max^2).
    """
    U = np.asarray(U, dtype=np.float64)
    if U.ndim != 2:
        raise ValueError(f"U must be (m, d), got shape {U.shape}")
    m, d = U.shape
    n_max = int(n_max)
    if m < 2 or n_max < 2:
        return LambdaStar({}, {}, 0.0, 0.0)
    i, j, top = _largest_pair(U, max(int(chunk), 1))
    S = [i, j]
    values = {2: top}
    sets = {2: (i, j)}
    flops = 2.0 * m * m * d
    for s in range(3, min(n_max, m) + 1):
        RS = U[S] @ U.T  # (s-1, m)
        M = np.zeros((m, s, s))
        M[:, : s - 1, : s - 1] = RS[:, S] - np.eye(s - 1)
        M[:, : s - 1, s - 1] = RS.T
        M[:, s - 1, : s - 1] = RS.T
        lam = np.linalg.eigvalsh(M)[:, -1]
        lam[S] = -np.inf
        w = int(np.argmax(lam))
        S.append(w)
        values[s] = float(lam[w])
        sets[s] = tuple(S)
        flops += 2.0 * m * (s - 1) * d + 10.0 * m * s**3
    return LambdaStar(values, sets, top, flops)


def euler_partial_sums(terms: Sequence[float], lam: float) -> list[float]:
    """Partial sums of the conformal re-expansion of ``sum_E terms[E] s^E`` at s = 1.

    With ``s = 2 sigma w / (1 - w)``, ``sigma = 1/lam``: ``s^E = (2 sigma)^E w^E (1-w)^(-E)``, so the
    w-series has coefficients ``c_N = sum_{1 <= E <= N} terms[E] (2 sigma)^E binom(N-1, N-E)``
    (``c_0 = terms[0]``), each exact from ``terms[:N+1]``; evaluated at ``w0 = 1/(1 + 2 sigma)``.
    Returns ``sum_{N <= M} c_N w0^N`` for M = 0..len(terms)-1.  Cost O(len(terms)^2).
    """
    t = [float(x) for x in terms]
    if not t:
        return []
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a positive finite number, got {lam!r}")
    sigma = 1.0 / float(lam)
    w0 = 1.0 / (1.0 + 2.0 * sigma)
    out, acc = [], 0.0
    for N in range(len(t)):
        if N == 0:
            c = t[0]
        else:
            c = sum(t[E] * (2.0 * sigma) ** E * math.comb(N - 1, N - E) for E in range(1, N + 1))
        acc += c * w0**N
        out.append(acc)
    return out


@dataclass(frozen=True)
class ResummedReport:
    """How kappa_n moves with the cosine order E (MATH.md section 8).

    Attributes
    ----------
    order : int
    edges : list of int
        ``E = 0..E_max``.
    terms : list of float
        ``kappa_n^[E]``.
    partial_sums : list of float
        ``sum_{E' <= E} kappa_n^[E']``.
    lambda_star : float
        Greedy lambda* estimate over sets of at most n units.
    asymptotic : bool
        ``lambda_star >= 1``: the series need not converge; use ``best_value``.
    ratio : float
        Geometric rate of the terms: ``(|t_E| + |t_{E-1}|) / (|t_{E-2}| + |t_{E-3}|)`` square-rooted
        at the last E (pairs, so that vanishing odd or even terms do not spoil it); NaN when
        undefined.  Below 1 and steady: geometric convergence.
    best_edges : int
        The E minimising ``|t_E| + |t_{E-1}|`` over the E at or after the first local maximum of
        that sequence (0 when E_max = 0): the optimal truncation of an asymptotic series, not fooled
        by small low-E terms before the cosine terms grow.
    best_value : float
        ``partial_sums[best_edges]``.
    settled : bool
        Whether the terms have started to fall within ``E <= E_max``: the pair size at
        ``best_edges`` is at most :data:`SETTLE_FACTOR` (1/2) of the peak pair before it, and
        ``best_edges`` is not the peak itself.  When False (e.g. terms -0.041, -0.098, +0.079,
        -0.061 at E = 2..5) no partial sum is reliable: ``best_value`` is then only the least bad
        partial sum, the warning says so, and a larger ``max_edges`` or the degree expansion is
        needed.  A series with a single term (E_max = 0) counts as settled only if that term is 0.
    euler : list of float or None
        :func:`euler_partial_sums` with ``lam = lambda_star`` when the series is asymptotic.
    exact_tail : float or None
        For n = 2 with a supplied exact variance: ``Var f - partial_sums[-1]``.
    """

    order: int
    edges: list[int]
    terms: list[float]
    partial_sums: list[float]
    lambda_star: float
    asymptotic: bool
    ratio: float
    best_edges: int
    best_value: float
    settled: bool
    euler: list[float] | None
    exact_tail: float | None

    @property
    def diverging(self) -> bool:
        """Alias of ``asymptotic`` for code written against the degree expansion's report."""
        return self.asymptotic


def resummed_report(n: int, terms: Sequence[float], lam: float, exact_variance: float | None = None) -> ResummedReport:
    """Build the :class:`ResummedReport` for order n from the terms ``kappa_n^[E]``."""
    t = [float(x) for x in terms]
    sums = list(np.cumsum(t)) if t else []
    pair = [abs(t[E]) + abs(t[E - 1]) for E in range(1, len(t))]
    best = 0
    settled = bool(t) and all(x == 0.0 for x in t)
    if pair:
        # skip a rising start (small low-E terms before the cosine terms peak): the optimal truncation is
        # the smallest term after the first local maximum of |t_E| + |t_{E-1}|
        start = next((i for i in range(len(pair) - 1) if pair[i] >= pair[i + 1]), len(pair) - 1)
        low = start + int(np.argmin(pair[start:]))
        best = 1 + low
        # settled: the terms have fallen to at most half their peak (a non-shrinking tail is not a truncation)
        settled = pair[low] == 0.0 or (low > start and pair[low] <= SETTLE_FACTOR * pair[start])
    ratio = float("nan")
    if len(t) >= 4:
        num, den = abs(t[-1]) + abs(t[-2]), abs(t[-3]) + abs(t[-4])
        if den > 0:
            ratio = math.sqrt(num / den)
    asym = bool(lam >= 1.0)
    euler = euler_partial_sums(t, lam) if asym and t else None
    tail = float(exact_variance) - float(sums[-1]) if (n == 2 and exact_variance is not None and sums) else None
    return ResummedReport(int(n), list(range(len(t))), t, [float(s) for s in sums], float(lam), asym, ratio, best,
                          float(sums[best]) if sums else 0.0, bool(settled), euler, tail)


def warn_if_asymptotic(reports: dict[int, ResummedReport]) -> None:
    """:class:`ConvergenceWarning` naming the orders whose E-series is asymptotic (``lambda* >= 1``)
    or not settled (terms not yet fallen to half their peak, :attr:`ResummedReport.settled`), with
    their best partial sums and term ratios."""
    bad = [r for n, r in sorted(reports.items()) if r.asymptotic or not r.settled]
    if not bad:
        return
    parts = [
        f"kappa_{r.order}: lambda*~{r.lambda_star:.3g}, "
        + (f"best partial sum {r.best_value:.6g} at E={r.best_edges}, " if r.settled else
           f"NOT SETTLED (the terms have not fallen to half their peak by E={r.edges[-1]}: no partial sum is "
           f"reliable; least bad {r.best_value:.6g} at E={r.best_edges}), ")
        + f"value at E={r.edges[-1]} {r.partial_sums[-1]:.6g}, last terms "
        + ", ".join(f"{x:.3g}" for x in r.terms[-3:])
        + f" (ratio {r.ratio:.3g})"
        for r in bad
    ]
    head = []
    if any(r.asymptotic for r in bad):
        head.append("lambda* >= 1, so the series in the cosines is only asymptotic (MATH.md section 8)")
    if any(not r.settled for r in bad):
        head.append("some partial sums over E have not settled (raise max_edges, or use expansion='degree'/'auto')")
    warnings.warn(
        "resummed expansion: " + "; ".join(head) + ": " + "; ".join(parts),
        ConvergenceWarning,
        stacklevel=3,
    )


def batch_reports(terms: dict[int, list[np.ndarray]], lam: Any, exact_variance: Any, batch: bool,
                  warn: bool) -> dict[int, Any]:
    """Convergence reports from the terms ``kappa_n^[E]`` (arrays (B,) per E).

    Single model: ``{n: ResummedReport}``.  Batch: ``{n: tuple of B ResummedReport}``, row b's
    report at ``[n][b]`` (lambda* is shared, so every row's ``asymptotic`` agrees).  ``exact_variance``
    is a float (single) or an array (B,) (batch), giving the n = 2 reports' ``exact_tail``.
    With ``warn``, one :class:`ConvergenceWarning` when lambda* >= 1.
    """
    B = int(np.asarray(next(iter(terms.values()))[0]).shape[0]) if terms else 1
    ev = None if exact_variance is None else np.broadcast_to(np.asarray(exact_variance, dtype=np.float64), (B,))

    def row(n: int, b: int) -> Any:
        return resummed_report(n, [float(t[b]) for t in terms[n]], lam.at(n),
                               float(ev[b]) if (ev is not None and n == 2) else None)

    if not batch:
        reports = {n: row(n, 0) for n in terms}
        if warn:
            warn_if_asymptotic(reports)
        return reports
    out = {n: tuple(row(n, b) for b in range(B)) for n in terms}
    bad = [n for n, reps in sorted(out.items()) if reps and reps[0].asymptotic]
    if warn and bad:
        warnings.warn(
            f"resummed expansion (batch of {B} second layers): lambda* >= 1, so the series in the cosines is only "
            "asymptotic (MATH.md section 8) for " + ", ".join(f"kappa_{n} (lambda*~{lam.at(n):.3g})" for n in bad)
            + "; per-row best partial sums are in result.convergence[n][b].best_value",
            ConvergenceWarning, stacklevel=3,
        )
    return out
