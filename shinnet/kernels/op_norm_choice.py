"""Which operator-norm method to use for a factored tensor, and one entry point that runs it.

For ``T = sum_j w_j u_j^{(x)k}`` (m rows ``u_j`` in R^d) and its d^p x d^q matricisation
(``p' = min(p, q)``, ``n = d^p'``, ``N = d^q'``), the methods of :mod:`shinnet.kernels.norms` cost
about (flops; memory in parentheses):

- ``"dense"``:   2 m d^k (build) + 4 N n^2 - 4/3 n^3 (LAPACK SVD, values only)   (d^k)
- ``"gram"``:    m^2 (d + q' + 2 n) / 2 + 2 m n^2 + 4/3 n^3                       (2 m n)
- ``"lanczos"``: s (m^2 (2 d + k) + c) steps, s = min(n_eff, max_iter, 20) (a typical count;
  exact at n_eff = min(m, C(d+p'-1, p'), C(d+q'-1, q'))), c = a per-step Python/LAPACK
  overhead of :data:`LANCZOS_STEP_OVERHEAD_FLOPS`                              (m s)
- ``"hidden"``:  2 m^2 d + m^2 k + 9 m^3 + 2 m^2 r + 2 m r^2 + 4/3 r^3, r = min(m, C(d+p'-1, p'))
                                                                              (4 m^2)

``"dense"``, ``"gram"`` and ``"hidden"`` are exact to rounding; ``"lanczos"`` to its ``tol``.
"""

from __future__ import annotations

from math import comb
from typing import Callable, MutableMapping

import numpy as np

from shinnet.kernels import norms
from shinnet.kernels.norms import OpNormResult

__all__ = [
    "DENSE_AUTO_BYTES",
    "GRAM_METHOD_BYTES",
    "HIDDEN_METHOD_BYTES",
    "HIDDEN_CACHE_BYTES",
    "OP_NORM_METHODS",
    "op_norm_flops",
    "choose_op_norm_method",
    "factored_op_norm",
]

#: auto takes the dense SVD (unless "hidden" is cheaper) when d^k float64 fit in this many bytes
DENSE_AUTO_BYTES = 16 * 2**20
#: method "gram" holds m x d^p' twice; auto allows it up to this many bytes
GRAM_METHOD_BYTES = 256 * 2**20
#: method "hidden" holds about four m x m float64 arrays; auto allows it up to this many bytes
HIDDEN_METHOD_BYTES = 256 * 2**20
#: method "hidden" keeps ``G`` and its factors in a caller's ``cache`` only up to this many bytes each
HIDDEN_CACHE_BYTES = 32 * 2**20
#: flops-equivalent of the fixed per-step cost of a Lanczos step (a dozen NumPy calls and a
#: small ``eigh``, ~50 us) so that tiny problems are not priced at a handful of flops
LANCZOS_STEP_OVERHEAD_FLOPS = 1e5
#: Lanczos steps assumed by the cost model when the exact-termination count is larger
_LANCZOS_TYPICAL_STEPS = 20
OP_NORM_METHODS = ("auto", "dense", "gram", "lanczos", "hidden")


def op_norm_flops(m: int, d: int, k: int, p: int, max_iter: int = 150) -> dict[str, float]:
    """Estimated flops of each method for ``||mat_{p,k-p}||_op`` (formulas in the module docstring)."""
    p = min(p, k - p)
    q = k - p
    n, N = float(d) ** p, float(d) ** q
    r = min(m, comb(d + p - 1, p))
    n_eff = min(m, comb(d + p - 1, p), comb(d + q - 1, q))
    steps = min(n_eff, max_iter, _LANCZOS_TYPICAL_STEPS)
    mm = float(m) * m
    return {
        "dense": 2.0 * m * n * N + 4.0 * N * n * n - 4.0 / 3.0 * n**3,
        "gram": mm * (d + q + 2.0 * n) / 2.0 + 2.0 * m * n * n + 4.0 / 3.0 * n**3,
        "lanczos": steps * (mm * (2.0 * d + k) + LANCZOS_STEP_OVERHEAD_FLOPS),
        "hidden": mm * (2.0 * d + k) + 9.0 * mm * m + 2.0 * mm * r + 2.0 * m * r * r + 4.0 / 3.0 * r**3,
    }


def choose_op_norm_method(m: int, d: int, k: int, p: int, max_iter: int = 150) -> str:
    """The method ``"auto"`` takes for a factored degree k and ``1 <= p <= k - 1``.

    First the size rule: ``"dense"`` when d^k fits in :data:`DENSE_AUTO_BYTES`, else ``"gram"``
    when ``2 m d^p'`` float64 fit in :data:`GRAM_METHOD_BYTES` and ``d^p' <= 8 (2d + k)``, else
    ``"lanczos"``.  Then ``"hidden"`` replaces that choice when its four m x m arrays fit in
    :data:`HIDDEN_METHOD_BYTES` and :func:`op_norm_flops` prices it below the chosen method.
    """
    p = min(p, k - p)
    if float(d) ** k * 8 <= DENSE_AUTO_BYTES:
        chosen = "dense"
    elif 2.0 * m * float(d) ** p * 8 <= GRAM_METHOD_BYTES and float(d) ** p <= 8 * (2 * d + k):
        chosen = "gram"  # gram ~m^2 d^p', lanczos ~m^2 (2d + k) per step: gram wins up to ~8+ steps
    else:
        chosen = "lanczos"
    if 4.0 * m * m * 8 <= HIDDEN_METHOD_BYTES:
        flops = op_norm_flops(m, d, k, p, max_iter)
        if flops["hidden"] < flops[chosen]:
            chosen = "hidden"
    return chosen


def factored_op_norm(
    w: np.ndarray,
    U: np.ndarray,
    p: int,
    q: int,
    *,
    method: str = "auto",
    dense: Callable[[], np.ndarray] | None = None,
    tol: float = 1e-10,
    max_iter: int = 150,
    tile: int | None = None,
    cache: MutableMapping[object, np.ndarray] | None = None,
) -> OpNormResult:
    """``||mat_{p,q}(sum_j w_j u_j^{(x)(p+q)})||_op`` by ``method`` (``"auto"``: :func:`choose_op_norm_method`).

    ``dense`` returns the dense tensor (e.g. a memoised one) for method ``"dense"``; by default
    it is built with :func:`shinnet.kernels.norms.factored_dense`.  p or q = 0 is the Frobenius
    norm (one Gram sweep).  ``cache`` (a dict the caller owns) keeps, for method ``"hidden"``,
    ``G = U U^T`` and the factor of ``G^{(o)p'}`` (:func:`shinnet.kernels.norms.hidden_factor`,
    ~9 m^3 flops each) for later calls with other weights ``w`` on the same ``U``, while m^2
    float64 fit in :data:`HIDDEN_CACHE_BYTES` (so (1 + k/2) m^2 entries at most).  Raises
    ``ValueError`` for an unknown method.
    """
    if method not in OP_NORM_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, OP_NORM_METHODS))}, got {method!r}")
    m, d = U.shape
    k = p + q
    p, q = min(p, q), max(p, q)
    if p == 0:
        val = norms.gram_power_quadratic_forms(U, {k: w}, tile)[k] if k else float(np.sum(w)) ** 2
        return OpNormResult(float(np.sqrt(max(val, 0.0))), "frobenius", 0, 0.0)
    if method == "auto":
        method = choose_op_norm_method(m, d, k, p, max_iter)
    if method == "dense":
        T = dense() if dense is not None else norms.factored_dense(w, U, k)
        return norms.op_norm_dense(T, p)
    if method == "gram":
        return norms.op_norm_gram(w, U, p, q, tile)
    if method == "hidden":
        if cache is None or m * m * 8 > HIDDEN_CACHE_BYTES:
            return norms.op_norm_hidden(w, U, p, q)
        G = cache.get("gram")
        if G is None:
            G = cache["gram"] = U @ U.T
        F = cache.get(("factor", p))
        if F is None:
            F = cache[("factor", p)] = norms.hidden_factor(U, p, G)
        return norms.op_norm_hidden(w, U, p, q, factor=F, G=G)
    return norms.op_norm_lanczos(w, U, p, q, tol=tol, max_iter=max_iter, tile=tile)
