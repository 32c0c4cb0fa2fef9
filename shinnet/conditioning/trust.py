"""When the error budget of a conditioned estimate cannot be trusted (MATH.md section 9; issue 10 item 2).

The budget of :func:`shinnet.conditioning.estimate_conditioned` is the outer quadrature estimate
plus the node-weighted inner budgets.  It is an error bar only while

1. **the outer rule converged** (``max_nodes`` did not stop the refinement);
2. **the inner budgets are themselves trustworthy**: every node's estimate gets the checks of
   :func:`shinnet.reliability.assess` (with the propagation weights, as :func:`shinnet.estimate`);
   a node counts as flagged for any reason but a budget large against the node's *own* value
   (nodes where psi(f_y) ~ 0; the summed budget is checked against the answer instead,
   criterion 4; see ``_SERIES_KINDS``).  Aggregated cheaply: the share of nodes
   flagged, weighted by the Gaussian density ``phi_r(y)`` at the node (a node at ``|y| = 8``
   says nothing about the answer), above ``max_flagged_node_share`` flags the estimate, with the
   most common per-node reason and its count;
3. **the remainder is near-Gaussian**: conditioning on r directions leaves the others inside
   ``f_y``.  When the span holds less than ``min_energy_share`` of the degree >= 2 energy *and* a
   left-out direction is concentrated (the largest excluded eigenvalue of M holds at least
   ``min_excluded_concentration`` of ``trace M``) *and* the left-out energy is a visible part of
   the conditional variance (``(1 - share) sum_k ||T_k||^2/k! > min_leftover_variance`` times the
   density-weighted mean ``kappa_2(f_y)``), ``f_y`` carries a chi-square-like piece that a
   low-order inner expansion does not see and whose error its budget does not contain.
   Measured: the two-direction ``product`` net conditioned on one direction (shares 49.5%,
   eigenvalues 0.93, 0.87) was off by 3.9e-2 with budget 6.3e-3 (docs/benchmarks.md).  A flat
   spectrum (random near-Gaussian nets, ``ev[r] ~ trace / d``) is not flagged: the remainder is
   then a sum of many small non-Gaussian pieces, which the inner expansion handles: a random relu
   net, d = 16, m = 2,048, at r = 1 has 19% of trace M in the next direction and left-out energy
   0.14 x the conditional variance, the product net 47% and 1.1).  Skipped when every node's
   series is exact (identity or polynomial psi: the remainder's shape does not matter).

4. **the summed budget is small**: quadrature + inner above ``max_relative_budget`` (of
   :data:`shinnet.defaults.RELIABILITY`) times ``max(|value|, sqrt(mean kappa_2(f_y)))``.
5. **Gaussian inner with structure left out**: ``order = 2`` keeps the Gaussian value, and its
   budget sees the remainder's non-Gaussianity only through the first-order ``kappa_3`` term
   (degree 2, shinnet/conditioning/inner.py; the measurements below predate it); flagged when span V leaves more
   than ``max_gaussian_leftover`` (10%) of the degree >= 2 energy out.  Measured (d = 16, m = 512,
   docs/benchmarks.md): the ``teacher`` net at r = 1 (13.2% left out) was off by 8.3e-3 / 2.6e-4 /
   2.0e-3 (psi = relu / sigmoid / tanh) with budgets 8.8e-4 / 6.2e-5 / 5.1e-4; the nets with
   3.4-4.9% left out (relu_shift, max at r = 1; product, teacher at r = 2) were covered.

Criterion 3 needs the spectrum: it is skipped when ``directions`` was passed as a bare array.
Cost: O(1) per node on top of the node's series (one :func:`assess` call), O(d) for 3.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Mapping

import numpy as np

from shinnet import defaults

__all__ = ["CONDITIONING_RELIABILITY", "NodeFlags", "assess_conditioned"]

#: thresholds of :func:`assess_conditioned` (the per-node checks use shinnet.defaults.RELIABILITY)
CONDITIONING_RELIABILITY = {
    # density-weighted share of nodes whose own estimate is flagged
    "max_flagged_node_share": 0.25,
    # energy share of span V below which criterion 3 is considered (the auto rule's min_share)
    "min_energy_share": 0.8,
    # largest excluded eigenvalue of M over trace M from which a left-out direction is "concentrated"
    "min_excluded_concentration": 0.25,
    # left-out degree >= 2 energy over the mean conditional variance from which it matters
    "min_leftover_variance": 0.25,
    # Gaussian inner (order 2): most left-out share of the degree >= 2 energy (its kappa_3 term is first order)
    "max_gaussian_leftover": 0.1,
}


#: kinds of per-node reasons (:func:`shinnet.reliability.assess`), by a phrase each contains
_KINDS = (("far from Gaussian", "f_y far from Gaussian"), ("not shrinking", "series terms not shrinking"),
          ("moved kappa", "truncation not settled"), ("convergence report", "engine report unsettled"),
          ("error budget", "budget large"))


#: the per-node kinds that flag a node (:func:`shinnet.reliability.assess`: far from Gaussian with
#: terms not shrinking, terms not shrinking, a truncation move larger than the node's budget, an
#: unsettled engine report).  Not counted: "budget large" against the node's *own* value (nodes
#: where psi(f_y) ~ 0, e.g. psi = relu where f_y < 0, say nothing about the integral; the summed
#: budget is checked against the answer instead, criterion 4)
_SERIES_KINDS = frozenset({"f_y far from Gaussian", "series terms not shrinking", "truncation not settled",
                           "engine report unsettled"})


def _reason_key(reason: str) -> str:
    """The kind of a per-node reason, without the node's numbers."""
    for phrase, kind in _KINDS:
        if phrase in reason:
            return kind
    return reason.split(":")[0].strip()


class NodeFlags:
    """Accumulates per-node reliability reasons and conditional variances, weighted by ``phi_r(y)``."""

    def __init__(self) -> None:
        self.nodes = 0
        self.exact = 0
        self.flagged = 0
        self.weight = 0.0
        self.flagged_weight = 0.0
        self.variance_weighted = 0.0
        self.kinds: Counter[str] = Counter()
        self.kind_weight: dict[str, float] = {}

    def add(self, points: np.ndarray, reasons: list[list[str]], variances: np.ndarray, exact: int = 0) -> None:
        """Record one batch: ``points`` (B, r), each node's reasons, each node's ``kappa_2(f_y)``,
        and how many of its nodes had an exact series (identity / polynomial psi)."""
        self.exact += int(exact)
        dens = np.exp(-0.5 * np.sum(np.asarray(points, dtype=np.float64) ** 2, axis=1))
        for w, why in zip(dens, reasons):
            self.nodes += 1
            self.weight += float(w)
            kinds = {_reason_key(x) for x in why}
            self.kinds.update(kinds)
            for k in kinds:
                self.kind_weight[k] = self.kind_weight.get(k, 0.0) + float(w)
            if kinds & _SERIES_KINDS:
                self.flagged += 1
                self.flagged_weight += float(w)
        self.variance_weighted += float(np.sum(dens * np.maximum(np.asarray(variances, dtype=np.float64), 0.0)))

    @property
    def share(self) -> float:
        """Density-weighted share of flagged nodes (0 when no node was seen)."""
        return self.flagged_weight / self.weight if self.weight > 0 else 0.0

    @property
    def mean_variance(self) -> float:
        """Density-weighted mean ``kappa_2(f_y)`` over the nodes."""
        return self.variance_weighted / self.weight if self.weight > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Plain-data view for ``details["condition"]["node_flags"]``."""
        w = self.weight if self.weight > 0 else 1.0
        return {"nodes": self.nodes, "exact": self.exact, "flagged": self.flagged, "weighted_share": self.share,
                "kinds": dict(self.kinds.most_common()),
                "kind_weighted_share": {k: v / w for k, v in self.kind_weight.items()},
                "mean_conditional_variance": self.mean_variance}


def assess_conditioned(
    *,
    r: int,
    converged: bool,
    quadrature_error: float,
    nodes: int,
    node_flags: NodeFlags | None,
    directions: Any | None,
    value: float = float("nan"),
    budget: float = 0.0,
    order: int | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> list[str]:
    """Reasons the budget of a conditioned estimate is not an error bar (empty: none found).

    Parameters
    ----------
    r : int
        Number of directions conditioned on.
    converged, quadrature_error, nodes : from the outer rule.
    node_flags : NodeFlags or None
        The inner nodes' aggregated checks (None in the exact case: no inner expansion).
    directions : ActiveDirections or None
        Spectrum and energy shares (None: criterion 3 skipped).
    value, budget : float
        The estimate and its summed budget (criterion 4, against ``max(|value|, sqrt(mean kappa_2(f_y)))``:
        psi's variation, so that a value ~0 by symmetry is not a reason).
    order : int, optional
        The inner order N; ``2`` (Gaussian inner) adds criterion 5.
    thresholds : mapping, optional
        Overrides of :data:`CONDITIONING_RELIABILITY`.
    """
    th = {**CONDITIONING_RELIABILITY, "max_relative_budget": defaults.RELIABILITY["max_relative_budget"],
          **dict(thresholds or {})}
    reasons: list[str] = []
    if not converged:
        reasons.append(f"the outer quadrature did not converge within {nodes} nodes (max_nodes); its error estimate "
                       f"{quadrature_error:.3g} is that of an unfinished refinement")
    if node_flags is not None and node_flags.nodes and node_flags.share > th["max_flagged_node_share"]:
        kinds = ", ".join(f"{k} ({n} nodes)" for k, n in node_flags.kinds.most_common(3) if k in _SERIES_KINDS)
        reasons.append(f"the inner estimate is itself unreliable at {node_flags.flagged} of {node_flags.nodes} nodes "
                       f"({node_flags.share:.0%} of the Gaussian weight > {th['max_flagged_node_share']:.0%}): {kinds}")
    if directions is not None and node_flags is not None and r >= 1 and node_flags.exact < node_flags.nodes:
        share = float(directions.energy_share)
        ev = np.asarray(directions.eigenvalues, dtype=np.float64)
        trace = float(np.sum(np.maximum(ev, 0.0)))
        excluded = float(ev[r]) if r < ev.size else 0.0
        left = (1.0 - share) * float(sum(directions.energy.values()))
        var = node_flags.mean_variance
        if (share < th["min_energy_share"] and trace > 0 and excluded >= th["min_excluded_concentration"] * trace
                and var > 0 and left > th["min_leftover_variance"] * var):
            reasons.append(f"span V (r = {r}) holds only {share:.1%} of the degree >= 2 energy and a left-out "
                           f"direction is concentrated (eigenvalue {excluded:.3g} = {excluded / trace:.0%} of "
                           f"trace M): "
                           f"f_y keeps "
                           f"non-Gaussian energy {left:.3g} ({left / var:.2g} x its mean variance) that the inner "
                           f"budget does not see; condition on more directions (condition='auto')")
    size = max(abs(value) if np.isfinite(value) else 0.0,
               math.sqrt(node_flags.mean_variance) if node_flags is not None else 0.0)
    if size > 0 and budget > th["max_relative_budget"] * size:
        reasons.append(f"the error budget {budget:.3g} is above {th['max_relative_budget']:g} of the answer's scale "
                       f"max(|value|, sqrt(mean kappa_2(f_y))) = {size:.3g}")
    if (order == 2 and directions is not None and node_flags is not None and node_flags.exact < node_flags.nodes
            and 1.0 - float(directions.energy_share) > th["max_gaussian_leftover"]):
        reasons.append(f"the Gaussian inner (order 2) sees f_y's non-Gaussianity only through a first-order "
                       f"kappa_3 term, and span V leaves "
                       f"{1.0 - float(directions.energy_share):.1%} of the degree >= 2 energy out "
                       f"(> {th['max_gaussian_leftover']:.0%}); use order >= 3 or more directions")
    return reasons
