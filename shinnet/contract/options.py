"""The engine's options in one frozen value (issue 11): what every summing call shares.

``ContractOptions`` replaces the 15-20 keyword arguments that were passed down through
``cumulants`` -> expansion -> engine -> summing loop.  The public functions
(:func:`shinnet.cumulants`, :func:`shinnet.estimate`) keep their keyword arguments and build one
of these; inside the engine it travels as a single value.  Validation happens once, here, at
construction, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["ContractOptions", "TOL_MODES", "CONTRACT_MODES", "DTYPES"]

TOL_MODES = ("absolute", "relative")
CONTRACT_MODES = ("tree", "ordered")
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class ContractOptions:
    """How the engine prunes, plans and contracts (MATH.md sections 4-5).

    Attributes
    ----------
    tol : float
        Pruning tolerance tau >= 0 (0 prunes nothing).
    tol_mode : {"absolute", "relative"}
        ``absolute``: drop a term when ``|weight| * bound < tol``; ``relative``: process terms in
        decreasing ``|weight| * bound`` and drop the rest once their summed bound is below
        ``tol * |running sum|``.
    backend : str
        A registered array backend (:func:`shinnet.contract.backends.backends`).
    representation : str
        Network form per term (``auto`` keeps the cheapest; see
        :mod:`shinnet.contract.representations`).
    contract_mode : {"tree", "ordered"}
        cotengra tree, or dense vertices in the bound-minimising order with an early stop.
    dtype : {"float64", "float32"}
    device : str, optional
        torch device (default CUDA when available).
    cache : PathCache, optional
        Path cache shared across calls (a fresh one per call when None).
    memory_limit : float
        Bytes: the largest intermediate a plan may create.
    gram_max_m : int, optional
        Largest m for which hidden-unit (Gram) networks are considered (None: the expansion's
        default).
    compute_bounds : bool, optional
        Bounds even when ``tol == 0`` (default: only when pruning).
    hypercontractive : bool, optional
        ``||shin_K||_F`` for the convergence report (default when m <= 16384).
    warn : bool
        :class:`ConvergenceWarning` when partial sums stop settling.
    progress : bool
        tqdm bars.
    executor : optional
        Anything with ``submit`` (see :mod:`shinnet.contract.executor`).
    split_bounds : bool, optional
        Tighten bounds by splitting networks in two (opt-in; MATH.md section 5).
    family_bounds : bool
        Power counting from the measured norms (opt-in; issue 15 item 1): terms sharing a
        multiset of vertex keys form a family bounded by ``sum |w| prod_v ||T_v||_F`` before any
        per-term bound; whole families are dropped without their bound DP or planning (see
        :mod:`shinnet.contract.families`).  Needs an expansion that supplies ``family``.
    """

    tol: float = 0.0
    tol_mode: str = "absolute"
    backend: str = "numpy"
    representation: str = "auto"
    contract_mode: str = "tree"
    dtype: str = "float64"
    device: str | None = None
    cache: Any = None
    memory_limit: float = 2.0**31
    gram_max_m: int | None = None
    compute_bounds: bool | None = None
    hypercontractive: bool | None = None
    warn: bool = True
    progress: bool = False
    executor: Any = None
    split_bounds: bool | None = None
    family_bounds: bool = False

    def __post_init__(self) -> None:
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) \
                or not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if self.tol_mode not in TOL_MODES:
            raise ValueError(f"tol_mode must be one of {TOL_MODES}, got {self.tol_mode!r}")
        if self.contract_mode not in CONTRACT_MODES:
            raise ValueError(f"contract_mode must be one of {CONTRACT_MODES}, got {self.contract_mode!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        if not np.isfinite(self.memory_limit) or self.memory_limit <= 0:
            raise ValueError(f"memory_limit must be a positive number of bytes, got {self.memory_limit!r}")

    @property
    def relative(self) -> bool:
        """Relative pruning in effect (``tol > 0`` and ``tol_mode == "relative"``)."""
        return self.tol > 0 and self.tol_mode == "relative"

    @property
    def need_bounds(self) -> bool:
        """Bounds are computed: when pruning, when asked, and always in ``ordered`` mode."""
        if self.contract_mode == "ordered":
            return True
        return (self.tol > 0) if self.compute_bounds is None else bool(self.compute_bounds)

    def replace(self, **changes: Any) -> "ContractOptions":
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)
