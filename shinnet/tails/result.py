"""``TailEstimate``: an :class:`shinnet.Estimate` whose value, stderr and budget are arrays over t."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shinnet.result import Estimate

__all__ = ["TailEstimate"]


@dataclass(frozen=True)
class TailEstimate(Estimate):
    """``P(f > t)`` (or ``P(psi(f) > t)``) for every threshold.

    ``value`` is a float for a scalar t and an ndarray (T,) otherwise; so are ``stderr`` (sampling)
    and each ``error_budget`` entry (mechanistic: absolute errors per t).  ``details`` carries
    ``thresholds``, ``method`` (per t), ``unreliable`` (bool per t: no error bound, or the budget
    exceeds ``details["reliable_rtol"]`` of the value) and the per-method diagnostics.
    """

    @property
    def error(self):  # type: ignore[override]
        """Standard error, else the summed budget: per t (float for a scalar t)."""
        if self.stderr is not None:
            return self.stderr
        parts = [np.abs(np.asarray(v, dtype=float)) for v in self.error_budget.values()]
        total = np.sum(parts, axis=0) if parts else np.zeros(np.shape(self.value))
        return float(total) if np.ndim(total) == 0 else total

    def __str__(self) -> str:
        vals = np.atleast_1d(self.value)
        errs = np.atleast_1d(self.error)
        body = ", ".join(f"{v:.4g}+-{e:.2g}" for v, e in zip(vals[:6], errs[:6]))
        more = f", ... ({vals.size} thresholds)" if vals.size > 6 else ""
        return f"{self.method}: [{body}{more}], {self.flops:.3g} FLOPs ({self.wall_time:.3g} s)"
