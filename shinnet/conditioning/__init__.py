"""Conditioning on active directions (MATH.md section 9): exact outer integral, diagrams inside.

With ``V`` (d x r, orthonormal) and ``y = V^T x ~ N(0, I_r)``, given ``y`` the network is again a
two-layer MLP ``f_y`` with ``W' = W (I - V V^T)`` and ``b'(y) = b + W V y``, and

    E[psi(f)] = integral phi_r(y) E[psi(f_y)] dy                                   (exact)

Public functions (shinnet.tails and shinnet.budget.conditioned rely on these signatures):

``active_directions(mlp, r, max_degree=4) -> ActiveDirections``
    Frozen result with ``.V`` (d x r orthonormal), ``.eigenvalues`` (all d eigenvalues of
    ``M = sum_{k=2..K} T_k :_{k-1} T_k / (k-1)!``, descending), ``.energy_share`` (float: share of
    ``sum_{k>=2} ||T_k||^2 / k!`` inside span V, i.e. of the tensors projected on ``V^{(x)k}``),
    ``.energy_share_by_degree`` (dict k -> share), ``.energy`` (dict k -> ``||T_k||^2 / k!``),
    ``.flops``.  Factored: O(m^2 (d + K)) flops, no d^k array.

``conditional_split(mlp, V) -> ConditionalSplit``
    The y-independent part of ``f_y``: ``W'``, unit rows ``U'``, norms ``r'``, ``alpha = W V``
    (m x r), and the mask of units inside span V (``w'_j ~ 0``: constants given y).

``conditional_mlp(mlp, V, y) -> TwoLayerMLP``
    ``f_y`` for one node (the per-node rebuild; reference for the batch).

``conditional_weights(split, nodes, max_degree) -> (lam, c, flops)``
    Vertex weights of ``f_y`` for all nodes at once: ``lam`` (B, K+1, m) with
    ``lam[i, k, j] = a_j r'_j^k E[sigma^(k)(r'_j Z + b_j + alpha_j . y_i)]``, ``c`` (B,).

``estimate_conditioned(mlp, condition="auto", *, directions=None, direction_degree=4, atol=1e-13,
rtol=1e-11, max_nodes=None, node_batch=512, **estimate_kwargs) -> Estimate``
    ``condition``: int r >= 0 or ``"auto"``.  r = 0 is exactly ``shinnet.estimate``.  Otherwise
    the outer integral over y by adaptive nested Gauss-Kronrod rules (iterated for r = 2, 3), the
    inner ``E[psi(f_y)]`` by the batched diagram expansion over all nodes of a refinement round.
    ``details["condition"]``: dict with ``r``, ``energy_share``, ``eigenvalues``, ``nodes``,
    ``quadrature_error``, ``inner_budget``, ``exact`` (all units in span V), ``rounds``,
    ``converged``.  ``error_budget = {"quadrature": outer estimate, "inner": node-weighted inner
    budgets}``; ``method = "conditioned"``.  ``shinnet.estimate(mlp, ..., condition=r)`` calls it.

``integrate_gaussian(evaluate, r, kinks=None, ...) -> QuadratureResult``
    The outer rule alone: ``integral phi_r(y) g(y) dy`` with ``evaluate(points (N, r)) -> (g, budgets)``.

``choose_rank(directions, max_rank=3, min_share=0.8, gap=0.1) -> int``
    The rule ``condition="auto"`` uses (from the spectrum of M and the energy shares).

``assess_conditioned(...) -> list[str]`` and ``NodeFlags`` (``trust.py``)
    Why a conditioned budget is not an error bar: outer rule not converged, inner estimates
    unreliable at many (density-weighted) nodes, a concentrated left-out direction, a large
    budget, a Gaussian inner with structure left out.  ``estimate_conditioned`` sets
    ``reliable=False`` / ``details["unreliable_reasons"]`` and warns from these.

``preflight_conditioned(mlp, r, order, max_degree, max_nodes, ...) -> float`` and ``default_max_nodes(r)``
    The price checked before any work (``max_nodes`` x per-node inner cost + directions + node
    weights); :class:`shinnet.preflight.RequestTooLarge` with the cost above ``max_flops``.
"""

from shinnet.conditioning.conditioned import (AUTO_MAX_RANK, FirstMeshWarning, default_max_nodes, deterministic_kinks,
                                              estimate_conditioned, preflight_conditioned)
from shinnet.conditioning.directions import ActiveDirections, active_directions, choose_rank
from shinnet.conditioning.inner import InnerEstimator
from shinnet.conditioning.quadrature import QuadratureResult, integrate_gaussian
from shinnet.conditioning.split import ConditionalSplit, conditional_mlp, conditional_split, conditional_weights
from shinnet.conditioning.trust import CONDITIONING_RELIABILITY, NodeFlags, assess_conditioned

__all__ = [
    "ActiveDirections",
    "active_directions",
    "choose_rank",
    "ConditionalSplit",
    "conditional_split",
    "conditional_mlp",
    "conditional_weights",
    "InnerEstimator",
    "QuadratureResult",
    "integrate_gaussian",
    "estimate_conditioned",
    "deterministic_kinks",
    "AUTO_MAX_RANK",
    "FirstMeshWarning",
    "default_max_nodes",
    "preflight_conditioned",
    "assess_conditioned",
    "NodeFlags",
    "CONDITIONING_RELIABILITY",
]
