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
        Anything else worth keeping (sample counts, settings, standard errors of cumulants, ...);
        ``details["unreliable_reasons"]`` lists why the budget is not an error bar (see ``reliable``).
    reliable : bool
        False when the diagnostics cannot bound the error (f far from Gaussian, series terms not
        shrinking, truncation not settled; :func:`shinnet.reliability.assess`).  ``error`` is then
        ``inf``: the budget's parts stay in ``error_budget`` as diagnostics, never as an error bar.

    ``repr`` is one short line (like scipy's result objects); :meth:`summary` gives the details.
    """

    value: float
    method: str
    stderr: float | None = None
    error_budget: Mapping[str, float] = field(default_factory=dict)
    flops: float = 0.0
    flops_with_advice: float = 0.0
    wall_time: float = 0.0
    kappa: Mapping[int, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict, repr=False)
    reliable: bool = True

    @property
    def error(self) -> float:
        """One number for "how wrong might this be": the standard error, else the summed budget
        (``inf`` when the estimate is not ``reliable``: the budget then bounds nothing)."""
        if self.stderr is not None:
            return float(self.stderr)
        if not self.reliable:
            return float("inf")
        return self.budget_total

    @property
    def budget_total(self) -> float:
        """The summed error budget (whether or not it is reliable)."""
        return float(sum(abs(v) for v in self.error_budget.values()))

    @property
    def unreliable_reasons(self) -> list[str]:
        """Why the budget is not an error bar (empty when ``reliable``)."""
        return list(self.details.get("unreliable_reasons", [])) if isinstance(self.details, Mapping) else []

    def _error_text(self) -> str:
        if self.stderr is not None:
            return f"+- {self.stderr:.3g} (1 s.e.)"
        if not self.reliable:
            return f"budget {self.budget_total:.3g} NOT RELIABLE ({len(self.unreliable_reasons)} reasons; see .summary())"
        return f"budget {self.error:.3g}"

    def __str__(self) -> str:
        return f"{self.method}: {self.value:.10g} {self._error_text()}, {self.flops:.3g} FLOPs ({self.wall_time:.3g} s)"

    def __repr__(self) -> str:
        kap = ", ".join(f"{n}: {float(v):.6g}" for n, v in list(self.kappa.items())[:8])
        more = ", ..." if len(self.kappa) > 8 else ""
        stderr = "None" if self.stderr is None else f"{self.stderr:.6g}"
        budget = ", ".join(f"{k!r}: {float(v):.3g}" for k, v in list(self.error_budget.items())[:8])
        return (f"Estimate(value={self.value:.10g}, method={self.method!r}, stderr={stderr}, "
                f"error_budget={{{budget}}}, reliable={self.reliable}, flops={self.flops:.3g}, "
                f"flops_with_advice={self.flops_with_advice:.3g}, wall_time={self.wall_time:.3g}, "
                f"kappa={{{kap}{more}}}, details=<{len(self.details)} keys: .summary()>)")

    def summary(self) -> str:
        """A multi-line report: value, error accounting, reliability reasons, cumulants, settings."""
        lines = [str(self)]
        for key, v in self.error_budget.items():
            lines.append(f"  budget[{key}] = {float(v):.3g}")
        for reason in self.unreliable_reasons:
            lines.append(f"  unreliable: {reason}")
        for n, v in self.kappa.items():
            lines.append(f"  kappa_{n} = {float(v):.10g}")
        for key, v in self.details.items():
            if key in ("unreliable_reasons",):
                continue
            text = repr(v) if not hasattr(v, "__len__") or isinstance(v, str) or len(v) <= 12 else f"<{len(v)} items>"
            lines.append(f"  {key} = {text[:200]}")
        return "\n".join(lines)
