"""Result types of the contraction engine: per-diagram records and the cumulant result."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

__all__ = ["DiagramRecord", "CumulantResult", "ConvergenceReport"]


@dataclass(frozen=True)
class DiagramRecord:
    """One diagram's part of a cumulant (MATH.md section 3).

    Attributes
    ----------
    diagram : Diagram
    order : int
        Cumulant order n (= number of vertices).
    value : float or ndarray (B,)
        ``val(G)``; 0 when pruned or stopped early.
    weight : Fraction
        ``n! / (|Aut G| prod_e m_e!)``.
    contribution : float or ndarray (B,)
        ``weight * value``.
    bound : float or ndarray (B,)
        Best operator-norm bound on ``|val(G)|`` (section 5), or NaN when not computed.
    flops : float
        cotengra's contraction cost actually spent (0 when pruned).
    representation : str
        ``dense`` / ``factored`` / ``gram`` / ``mixed`` / ``ordered`` / ``-`` (pruned).
    pruned, stopped_early : bool
    budget : float or ndarray (B,)
        ``|weight| * bound`` charged to the error budget when pruned or stopped early, else 0.
    max_degree : int
        Largest vertex degree (used for the partial sums over K).
    max_intermediate : int
        Entries of the largest intermediate tensor.
    """

    diagram: Any
    order: int
    value: Any
    weight: Fraction
    contribution: Any
    bound: Any
    flops: float
    representation: str
    pruned: bool
    stopped_early: bool
    budget: Any
    max_degree: int
    max_intermediate: int = 0


@dataclass(frozen=True)
class ConvergenceReport:
    """How kappa_n moves with the Hermite degree truncation K (MATH.md section 3).

    Attributes
    ----------
    degrees : list of int
        ``K' = 2..K``.
    partial_sums : list
        kappa_n computed with every vertex degree ``<= K'``.
    increments : list
        Two-step increments ``S(K') - S(K'-2)`` for ``K' = 4..K`` (two steps so that parity
        patterns, e.g. vanishing odd coefficients, do not masquerade as convergence).
    hypercontractive_last : float
        ``(n-1)^{K/2} ||F_K||_2`` with ``||F_K||_2 = ||shin_K||_F / sqrt(K!)``: the
        hypercontractive size of the last kept degree (bounds ``||F_K||_n``).
    hypercontractive_ratio : float
        Its ratio to the same quantity at ``K-1`` (``< 1`` and shrinking suggests the tail
        ``sum_{k>K} (n-1)^{k/2} ||F_k||_2`` is small; NaN when undefined).
    exact_tail : float or None
        For n = 2 when the exact ``Var f`` was supplied: ``Var f - kappa_2(K)``.
    diverging : bool
        True when the last two-step increment is not smaller than the one before (and not
        negligible): the criterion of :func:`shinnet.contract.diagnostics.is_diverging`.
    """

    degrees: list[int]
    partial_sums: list[Any]
    increments: list[Any]
    hypercontractive_last: float
    hypercontractive_ratio: float
    exact_tail: float | None
    diverging: bool


@dataclass(frozen=True)
class CumulantResult:
    """Cumulants of f from connected Wick diagrams, with their accounting.

    Attributes
    ----------
    kappa : dict int -> float (or ndarray (B,) for a batch)
        ``kappa_n`` for n = 1..order (``kappa_1 = shin_0``).
    diagrams : tuple of DiagramRecord
    flops : float
        Sum of the contraction costs actually spent (cotengra's ``contraction_cost``), plus
        ``setup_flops``.
    setup_flops : float
        One-off cost of the Gram matrix and its elementwise powers built for ``gram`` networks.
    build_flops : float
        Cost of building the shin tensors (``ShinTensors.build_flops``) plus materialising the dense
        vertex tensors the contractions used (2 m d^k each): the cost of the "advice", reported
        separately from ``flops``.
    pruned_budget : dict int -> float (or ndarray)
        Per order, the summed ``|weight| * bound`` of pruned and stopped-early diagrams: a
        rigorous bound on what they would have contributed.
    n_evaluated, n_pruned, n_stopped_early : int
        Totals over all orders; ``pruned`` (a property) gives the pruned count per order.
    partial_sums : dict int -> list
        ``partial_sums[n][i]`` is kappa_n truncated at max vertex degree ``K' = i + 2``.
    convergence : dict int -> ConvergenceReport
    timings : dict str -> float
        Seconds in ``path_search``, ``contraction``, ``bounds``, ``overhead`` and ``total``.
    settings : dict
    """

    kappa: Mapping[int, Any]
    diagrams: tuple[DiagramRecord, ...]
    flops: float
    setup_flops: float
    build_flops: float
    pruned_budget: Mapping[int, Any]
    n_evaluated: int
    n_pruned: int
    n_stopped_early: int
    partial_sums: Mapping[int, list[Any]]
    convergence: Mapping[int, ConvergenceReport] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pruned(self) -> dict[int, int]:
        """Per cumulant order n >= 2, the number of diagrams (degree expansion) or classes
        (resummed expansion) pruned; their summed ``|weight| * bound`` is ``pruned_budget[n]``.
        Diagrams stopped early are counted in ``n_stopped_early``, not here."""
        out: dict[int, int] = {n: 0 for n in self.kappa if n >= 2}
        for r in self.diagrams:
            if r.pruned:
                out[r.order] = out.get(r.order, 0) + 1
        return out

    def by_order(self, n: int) -> list[DiagramRecord]:
        """The records of cumulant order n."""
        return [r for r in self.diagrams if r.order == n]

    def contributions(self, n: int) -> dict[str, Any]:
        """Diagram key -> contribution to kappa_n."""
        return {r.diagram.key: r.contribution for r in self.by_order(n)}

    def __str__(self) -> str:
        ks = ", ".join(f"k{n}={np.round(v, 10)}" for n, v in self.kappa.items())
        return (f"CumulantResult({ks}; {self.n_evaluated} diagrams evaluated, {self.n_pruned} pruned, "
                f"{self.flops:.3g} FLOPs)")

    def __repr__(self) -> str:
        """Short (the records are listed by :meth:`summary`, not here): a repr of a result with
        10^4 diagram records used to be megabytes."""
        def short(v: Any) -> str:
            arr = np.asarray(v, dtype=np.float64)
            return f"{float(arr):.10g}" if arr.ndim == 0 else f"array(shape={arr.shape})"

        ks = ", ".join(f"{n}: {short(v)}" for n, v in list(self.kappa.items())[:10])
        more = ", ..." if len(self.kappa) > 10 else ""
        exp = self.settings.get("expansion", "?") if isinstance(self.settings, Mapping) else "?"
        return (f"CumulantResult(kappa={{{ks}{more}}}, expansion={exp!r}, diagrams=<{len(self.diagrams)} records>, "
                f"n_evaluated={self.n_evaluated}, n_pruned={self.n_pruned}, n_stopped_early={self.n_stopped_early}, "
                f"flops={self.flops:.3g}, build_flops={self.build_flops:.3g})")

    def summary(self, max_records: int = 20) -> str:
        """Multi-line report: cumulants, pruned budgets, the first ``max_records`` diagram records."""
        lines = [repr(self)]
        for n, v in self.pruned_budget.items():
            lines.append(f"  pruned_budget[{n}] = {np.asarray(v)}")
        for r in self.diagrams[:max_records]:
            lines.append(f"  {getattr(r.diagram, 'key', r.diagram)}: order {r.order}, contribution "
                         f"{np.asarray(r.contribution)}, {r.representation}, {r.flops:.3g} FLOPs")
        if len(self.diagrams) > max_records:
            lines.append(f"  ... {len(self.diagrams) - max_records} more records")
        return "\n".join(lines)
