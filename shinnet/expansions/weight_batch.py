"""Cumulants for a batch of vertex *weights* on one set of unit rows (MATH.md sections 3, 9):
the degree expansion over the rows of a :class:`shinnet.tensors.weight_batch.WeightBatch`
(conditioning's quadrature nodes), one batched contraction per diagram.
"""

from __future__ import annotations

from typing import Any

from shinnet.contract.engine import run_engine
from shinnet.contract.options import ContractOptions
from shinnet.contract.result import CumulantResult
from shinnet.tensors.weight_batch import WeightBatch

__all__ = ["WeightBatch", "cumulants_weight_batch"]


def cumulants_weight_batch(
    batch: WeightBatch,
    order: int,
    max_degree: int | None = None,
    *,
    tol: float = 0.0,
    backend: str = "numpy",
    representation: str = "auto",
    progress: bool = False,
    **kwargs: Any,
) -> CumulantResult:
    """Cumulants ``kappa_1..kappa_order`` of every row of ``batch`` by the degree expansion
    (MATH.md section 3), one batched contraction per diagram.

    Parameters
    ----------
    batch : WeightBatch
    order : int
    max_degree : int, optional
        Hermite degree truncation K (default: the batch's K).
    tol, backend, representation, progress, **kwargs
        As for :func:`shinnet.cumulants_batch` (absolute ``tol`` only).

    Returns
    -------
    CumulantResult
        Values are arrays of shape (B,), as for ``cumulants_batch``.  ``build_flops`` is the
        batch's ``build_flops`` plus the dense builds (2 B m d^k per dense degree used).

    Notes
    -----
    Cost: the engine's per-diagram cost with the batch on every weight vector (about B times
    one model's contraction), plus shared path searches and Gram powers.
    """
    if not isinstance(batch, WeightBatch):
        raise TypeError(f"cumulants_weight_batch needs a WeightBatch, got {type(batch).__name__}")
    K = batch.max_degree if max_degree is None else int(max_degree)
    if K > batch.max_degree:
        raise ValueError(f"max_degree {K} exceeds the degrees held by the batch (0..{batch.max_degree})")
    for bad in ("expansion", "max_edges"):
        if kwargs.get(bad) not in (None, "degree"):
            raise ValueError(f"cumulants_weight_batch runs the degree expansion only; got {bad}={kwargs[bad]!r}")
        kwargs.pop(bad, None)
    run_kw = {k: kwargs.pop(k) for k in ("diagrams", "exact_variance") if k in kwargs}
    options = ContractOptions(tol=tol, backend=backend, representation=representation, progress=progress, **kwargs)
    return run_engine(batch.rows, True, order, K, options, **run_kw)
