"""The inner estimate ``g(y) = E[psi(f_y)]`` for a batch of nodes (MATH.md sections 6, 9).

All nodes share the conditional unit rows ``U'``: their vertex weights form one
:class:`shinnet.tensors.weight_batch.WeightBatch`, summed by one batched contraction per diagram
(paths shared through one :class:`shinnet.contract.PathCache`).  Each node's cumulants then go
through the series of section 6 and get the same error budget as :func:`shinnet.estimate`
(pruned diagrams, the last Hermite degree's move, the last series term), summed per node.  The
Gaussian inner (order 2) has no series term; its budget gets ``|kappa_3(f_y)| |g^(3)(mu)| / 3!``
instead, with ``kappa_3`` from one extra batched call at degree ``SKEW_DEGREE`` (value unchanged).

Variance (``variance="resummed"``, the default): ``kappa_2`` of ``f_y`` is the section-8 value
truncated at cosine order K, i.e. the degree-K value plus the exact same-unit Hermite tail

    kappa_2 = kappa_2(K) + sum_j a_j^2 [ Var sigma(r'_j Z + b'_j) - sum_{k=1..K} gamma_jk^2 / k! ],

the part of the conditional variance that a kinked sigma spreads over high degrees (relu's tail
decays like K^(-3/2), MATH.md section 3).  It costs one ``E[sigma^2]`` per unit and node.  Higher
cumulants stay the degree-K values.  ``variance="degree"`` keeps the plain degree-K ``kappa_2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shinnet import activations, series
from shinnet.activations.power_hermite import power_hermite_coefficients
from shinnet.conditioning.split import ConditionalSplit, conditional_weights
from shinnet.contract.pathcache import PathCache
from shinnet.expansions.weight_batch import cumulants_weight_batch
from shinnet.tensors.weight_batch import WeightBatch
from shinnet.conditioning.trust import NodeFlags
from shinnet.estimate import propagated_weights
from shinnet.reliability import assess, truncation_signal

__all__ = ["InnerEstimator", "SKEW_DEGREE", "node_value"]

#: relative size of kappa_2 below which f_y is treated as the constant kappa_1
_DEGENERATE_VARIANCE = 1e-24

#: Hermite degree of the Gaussian inner's kappa_3 budget term (``InnerEstimator.skew_degree``)
SKEW_DEGREE = 2


def node_value(psi: Any, kappa: dict[int, float], q: int, pruned: dict[int, float],
               partial: dict[int, list[float]], reasons: list[str] | None = None,
               exact_variance: bool = False, skew: float | None = None) -> tuple[float, float]:
    """``E[psi(f_y)]`` from one node's cumulants and its summed error budget (as :func:`shinnet.estimate`).

    A node whose ``kappa_2`` is zero to rounding (every unit off span V switched off there) has
    ``f_y = kappa_1``: the value is ``psi(kappa_1)`` and the budget ``sqrt(|kappa_2|)`` times the
    slope of psi there (first order).  When ``reasons`` is a list, the node's
    :func:`shinnet.reliability.assess` reasons are appended to it (none for a degenerate node);
    ``exact_variance``: ``kappa_2`` carries the exact same-unit Hermite tail, so the move of its
    degree-K partial sums is not a truncation signal and is not assessed.  ``skew``: a
    ``kappa_3`` of ``f_y`` computed beside a Gaussian inner (``kappa`` holds 1, 2 only); its
    first-order effect ``|kappa_3| |g^(3)(mu)| / 3!`` joins the budget (the value does not use it).
    """
    act = activations.get(psi)
    k2 = kappa[2]
    if k2 <= _DEGENERATE_VARIANCE * (1.0 + kappa[1] ** 2):
        mu = kappa[1]
        eps = 1e-7 * (1.0 + abs(mu))
        slope = abs(float(act.value(np.array([mu + eps]))[0] - act.value(np.array([mu - eps]))[0])) / (2 * eps)
        return float(act.value(np.array([mu]))[0]), float(np.sqrt(abs(k2)) * slope)
    value = series.expectation(act, kappa, q)
    order = max(kappa)
    with_skew = skew is not None and q == 0 and 3 not in kappa
    w = propagated_weights(act, kappa, 3 if with_skew else order)
    budget = sum(abs(pruned.get(n, 0.0)) * w[n] for n in range(1, order + 1))
    # as shinnet.estimate: the larger of the last one- and two-step moves per cumulant
    budget += truncation_signal(partial, w, [n for n in partial if n <= order])
    if q > 0:
        budget += float(abs(value.last_term))
    elif 3 in kappa:
        budget += abs(kappa[3]) * w[3]
    elif with_skew:  # Gaussian inner: the first-order non-Gaussian term, as shinnet.estimate at order 2
        budget += abs(float(skew)) * w[3]
    if reasons is not None:
        d = np.asarray(value.derivatives, dtype=np.float64)
        scale = max(abs(float(d[0])), float(value.sigma) * abs(float(d[1])) if d.size > 1 else 0.0)
        checked = {n: v for n, v in partial.items() if not (exact_variance and n == 2)}
        reasons.extend(assess(kappa, list(value.terms), checked, value=float(value), budget=float(budget),
                              used_orders=list(value.cumulants_used), exact=bool(value.exact), scale=scale,
                              weights=w))
    return float(value), float(budget)


@dataclass
class InnerEstimator:
    """Callable ``points (N, r) -> (g values (N,), budgets (N,))`` for the outer quadrature.

    Parameters
    ----------
    split : ConditionalSplit
    order, max_degree, series_order, tol, backend, representation : as :func:`shinnet.estimate`
    node_batch : int
        Largest batch contracted at once (memory: dense tensors are (batch, d^k)).
    options : dict
        Further options of the engine (``memory_limit``, ``gram_max_m``, ...).

    skew_degree : int
        Gaussian inner (``order = 2``) only: Hermite degree of the ``kappa_3`` of ``f_y`` computed
        for the budget (clipped to ``max_degree``; 0 turns it off).  The value stays the Gaussian
        ``g(mu)``; the node's budget gains ``|kappa_3| |g^(3)(mu)| / 3!``, the first-order
        non-Gaussian term (as :func:`shinnet.estimate` at order 2).  Cost: one more batched engine
        call per node batch, order 3 at this degree in the engine's ``auto`` representation (at
        degree 2: dense ``T_1, T_2``, ``2 m (d + d^2)`` advice + ``O(d^3)`` contractions per node;
        2.8e5 FLOPs per node at d = 16, m = 512), charged to ``flops`` and ``advice_flops``.

    Accounting (read after the integration): ``flops`` (contractions), ``advice_flops`` (vertex
    weights and dense builds), ``nodes``, ``batches``; ``flags``: every node's reliability reasons
    and conditional variance, aggregated with weights ``phi_r(y)``
    (:class:`shinnet.conditioning.trust.NodeFlags`).
    """

    split: ConditionalSplit
    order: int
    max_degree: int
    series_order: int
    tol: float = 0.0
    backend: str = "numpy"
    representation: str = "auto"
    node_batch: int = 512
    variance: str = "resummed"
    skew_degree: int = SKEW_DEGREE
    options: dict[str, Any] = field(default_factory=dict)
    flops: float = 0.0
    advice_flops: float = 0.0
    nodes: int = 0
    batches: int = 0
    cache: PathCache = field(default_factory=PathCache)
    flags: NodeFlags = field(default_factory=NodeFlags)

    def __post_init__(self) -> None:
        # per-batch contraction limit: B d^k dense stacks must fit in memory next to the rest of the run
        self.options.setdefault("memory_limit", float(2**29))

    def __call__(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        N = points.shape[0]
        values, budgets = np.empty(N), np.empty(N)
        for s in range(0, N, self.node_batch):
            e = min(N, s + self.node_batch)
            values[s:e], budgets[s:e] = self._batch(points[s:e])
        return values, budgets

    def _batch(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lam, c, wflops = conditional_weights(self.split, points, self.max_degree)
        batch = WeightBatch(lam, self.split.U_perp, c, build_flops=wflops)
        try:
            res = cumulants_weight_batch(batch, self.order, self.max_degree, tol=self.tol, backend=self.backend,
                                         representation=self.representation, cache=self.cache, warn=False,
                                         **self.options)
        except MemoryError:
            if points.shape[0] == 1:
                raise
            half = points.shape[0] // 2
            self.node_batch = max(1, half)  # later batches start at the size that fits
            v1, b1 = self._batch(points[:half])
            v2, b2 = self._batch(points[half:])
            return np.concatenate([v1, v2]), np.concatenate([b1, b2])
        self.flops += float(res.flops)
        self.advice_flops += float(res.build_flops)
        self.nodes += points.shape[0]
        self.batches += 1
        B = points.shape[0]
        vals, buds = np.empty(B), np.empty(B)
        kap = {n: np.asarray(v, dtype=np.float64).reshape(B) for n, v in res.kappa.items()}
        if self.variance == "resummed":
            kap[2] = kap[2] + self._diagonal_tail(points, lam)
        pruned = {n: np.asarray(v, dtype=np.float64).reshape(B) for n, v in res.pruned_budget.items()}
        partial = {n: [np.asarray(s, dtype=np.float64).reshape(B) for s in ss] for n, ss in res.partial_sums.items()}
        psi = self.split.mlp.output
        skew = self._skew(lam, c, B, kap)
        reasons: list[list[str]] = [[] for _ in range(B)]
        for b in range(B):
            vals[b], buds[b] = node_value(
                psi, {n: float(v[b]) for n, v in kap.items()}, self.series_order,
                {n: float(v[b]) for n, v in pruned.items()},
                {n: [float(s[b]) for s in ss] for n, ss in partial.items()}, reasons=reasons[b],
                exact_variance=self.variance == "resummed", skew=None if skew is None else float(skew[b]),
            )
        self.flags.add(points, reasons, kap[2], exact=self._exact_nodes(kap))
        return vals, buds

    def _skew(self, lam: np.ndarray, c: np.ndarray, B: int, kap: dict[int, np.ndarray]) -> np.ndarray | None:
        """``kappa_3`` of ``f_y`` per node (B,) at degree ``min(skew_degree, max_degree)`` for a
        Gaussian inner, else None (order >= 3 has its own, exact nodes need none).

        One batched engine call (order 3) on the batch's weights truncated to that degree; its
        contractions go to ``flops``, its dense builds (if any) to ``advice_flops``.
        """
        K3 = min(int(self.skew_degree), int(self.max_degree))
        if self.order != 2 or K3 < 1 or self._exact_nodes(kap):
            return None
        low = WeightBatch(lam[:, :K3 + 1, :], self.split.U_perp, c)
        # the engine's own choice: at K = 2 dense T_1, T_2 per node (2 m d^2 to build, then d^3
        # contractions) against m^3 per node for the kappa_3 triangle on Gram sums
        res = cumulants_weight_batch(low, 3, K3, tol=self.tol, backend=self.backend,
                                     representation="auto", cache=self.cache, warn=False,
                                     **self.options)
        self.flops += float(res.flops)
        self.advice_flops += float(res.build_flops)
        return np.asarray(res.kappa[3], dtype=np.float64).reshape(B)

    def _exact_nodes(self, kap: dict[int, np.ndarray]) -> int:
        """Nodes whose series is exact: identity psi, or polynomial psi with all needed cumulants."""
        deg = self.split.mlp.output.polynomial_degree
        exact = deg is not None and deg <= max(kap)
        return int(next(iter(kap.values())).shape[0]) if exact else 0

    def _diagonal_tail(self, points: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """``sum_j a_j^2 [Var sigma(r'_j Z + b'_j) - sum_{k=1..K} gamma_jk^2 / k!]`` per node (B,)."""
        split, mlp = self.split, self.split.mlp
        live = ~split.inside
        if not np.any(live):
            return np.zeros(points.shape[0])
        B, K = points.shape[0], lam.shape[1] - 1
        bias = split.biases(points)[:, live].reshape(-1)
        r = np.broadcast_to(split.r_perp[live], (B, int(live.sum()))).reshape(-1)
        C = power_hermite_coefficients(mlp.hidden, 2, 0, r, bias)
        var = (C[:, 2, 0] - C[:, 1, 0] ** 2).reshape(B, -1) * mlp.a[live][None, :] ** 2
        kept = sum(lam[:, k, live] ** 2 / float(np.prod(np.arange(1, k + 1))) for k in range(1, K + 1))
        self.advice_flops += 20.0 * B * int(live.sum())
        return np.sum(np.maximum(var - kept, 0.0), axis=1)
