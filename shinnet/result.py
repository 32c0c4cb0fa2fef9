"""The one result type every estimator in shinnet returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["Estimate"]


@dataclass(frozen=True)
class Estimate:
    """An estimate of ``E[psi(f(x))]`` with its own cost and error accounting.

    Attributes
    ----------
    value : float
        The estimate of ``E[y]``, ``y = psi(f(x))``.
    method : str
        ``"monte_carlo"``, ``"degree"`` (shin-diagram expansion), ``"resummed"``, ...
    stderr : float or None
        Standard error (sampling methods); ``None`` for mechanistic estimates.
    error_budget : dict str -> float
        Named parts of a mechanistic estimate's error accounting (pruned mass, Hermite
        tail, last series term, ...).  Empty for sampling.
    flops : float
        Floating-point operations spent, *without* building the shin tensors (the advice).
    flops_with_advice : float
        Same, including the cost of building the shin tensors.  Equal to ``flops`` for sampling.
    wall_time : float
        Seconds of wall-clock time.
    kappa : dict int -> float
        Cumulants of ``f`` (n -> kappa_n) that the estimate used or measured.
    details : dict
        Anything else worth keeping (sample counts, settings, standard errors of cumulants, ...).
    """

    value: float
    method: str
    stderr: float | None = None
    error_budget: Mapping[str, float] = field(default_factory=dict)
    flops: float = 0.0
    flops_with_advice: float = 0.0
    wall_time: float = 0.0
    kappa: Mapping[int, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> float:
        """One number for "how wrong might this be": the standard error, else the summed budget."""
        if self.stderr is not None:
            return float(self.stderr)
        return float(sum(abs(v) for v in self.error_budget.values()))

    def __str__(self) -> str:
        err = f"+- {self.stderr:.3g} (1 s.e.)" if self.stderr is not None else f"budget {self.error:.3g}"
        return f"{self.method}: {self.value:.10g} {err}, {self.flops:.3g} FLOPs ({self.wall_time:.3g} s)"
