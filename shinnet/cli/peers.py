"""The sampling peers that ``shinnet estimate`` races at equal FLOPs, and its reference value.

Peers (MATH.md sections 7 and 10), each given ``n = FLOPs / mlp.flops_per_sample()`` samples:
plain Monte Carlo; randomized QMC (scrambled Sobol, ``method="sobol"``); RQMC with control
variates on ``f - kappa_1`` and ``(f - kappa_1)^2 - kappa_2`` (``control_variates=True``); and the
hybrid estimator (``shinnet.hybrid.hybrid``: shinnet's kappa_3, kappa_4 plus RQMC on the residual).
A peer that refuses the sample count (e.g. too few points for its scramblings) is listed with its
reason: nothing is silently dropped.  Sobol gets the largest power of two of points whose cost
(points, inverse CDF, scrambling) fits.  Each peer reports its own FLOPs, which exceed the
target when a peer has a fixed cost (the control variates' exact ``kappa_2``); the command
prints that ratio.
Cost: the peers' own sampling, ``n * flops_per_sample`` each.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from shinnet import sampling
from shinnet.hybrid import hybrid as hybrid_estimate

__all__ = ["Peer", "available_methods", "race_peers", "reference", "reference_label", "REFERENCE_METHODS"]


HYBRID = "hybrid (shinnet + RQMC residual)"


@dataclass(frozen=True)
class Peer:
    """One peer's outcome: its ``estimate`` (an :class:`shinnet.Estimate`) or why it did not run."""

    label: str
    estimate: Any = None
    refused: str | None = None


def _accepts(func: Callable[..., Any], *names: str) -> bool:
    params = inspect.signature(func).parameters
    return all(n in params for n in names)


def available_methods() -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    """label -> (function, extra keyword arguments) for every peer (MATH.md section 10)."""
    mc = sampling.monte_carlo
    return {
        "Monte Carlo": (mc, {}),
        "RQMC (scrambled Sobol)": (mc, {"method": "sobol"}),
        "RQMC + control variates": (mc, {"method": "sobol", "control_variates": True}),
        HYBRID: (hybrid_estimate, {}),
    }


def _hybrid_options(func: Callable[..., Any], est: Any) -> dict[str, Any]:
    """Reuse the estimate's cumulants in the hybrid (degree D = highest of 3, 4 it computed), charging
    their FLOPs; without an estimate, D = 2 (exact moments only)."""
    if est is None:
        return {}
    degree = max([2] + [n for n in (3, 4) if n in est.kappa])
    if degree == 2:
        return {"degree": 2, "method": "sobol"}
    kappa = {n: float(est.kappa[n]) for n in range(3, degree + 1)}
    return {"degree": degree, "kappa": kappa, "kappa_flops": float(est.flops_with_advice), "method": "sobol"}


def _n_samples(mlp: Any, flops: float, func: Callable[..., Any], extra: dict[str, Any]) -> int:
    """Samples that fit ``flops``.  Sobol: the largest power of two whose cost, priced by the
    sampler's own ``sampling_flops`` (points, inverse CDF, scrambling), fits -- any other count
    would be rounded *up* -- but never below two points per scramble."""
    n = max(2, int(flops // mlp.flops_per_sample()))
    if extra.get("method") != "sobol":
        return n
    n = 1 << max(n.bit_length() - 1, 1)
    param = inspect.signature(func).parameters.get("scrambles")
    scrambles = int(param.default) if param is not None and isinstance(param.default, int) else 1
    price = sampling.sampling_flops
    while n > 2 * scrambles and price(mlp, n, method="sobol", scrambles=scrambles)["total"] > flops:
        n //= 2
    return max(n, 2 * scrambles)


def _call(func: Callable[..., Any], mlp: Any, flops: float, seed: int, extra: dict[str, Any],
          common: dict[str, Any]) -> Any:
    """Call a peer with the sample count ``flops`` buys (options in ``common`` it does not take are left out)."""
    kwargs = {k: v for k, v in common.items() if _accepts(func, k)}
    return func(mlp, n_samples=_n_samples(mlp, flops, func, extra), seed=seed, **extra, **kwargs)


def race_peers(mlp: Any, flops: float, seed: int, common: dict[str, Any] | None = None,
               estimate: Any = None) -> list[Peer]:
    """Every available peer given ``flops`` FLOPs of samples (each with its own seed ``seed + i``);
    the hybrid reuses ``estimate``'s kappa_3, kappa_4 (and pays their FLOPs on top)."""
    out = []
    for i, (label, (func, extra)) in enumerate(available_methods().items()):
        if label == HYBRID:
            extra = {**extra, **_hybrid_options(func, estimate)}
        try:
            out.append(Peer(label, _call(func, mlp, flops, seed + i, extra, common or {})))
        except (ValueError, TypeError) as exc:  # e.g. fewer points than the scramblings need
            out.append(Peer(label, refused=" ".join(str(exc).split())))
    return out


_REFERENCE_NAMES = {"plain": "Monte Carlo", "rqmc": "RQMC (scrambled Sobol)", "rqmc-cv": "RQMC + control variates"}
REFERENCE_METHODS = ("auto", *_REFERENCE_NAMES)


def reference_label(method: str = "auto") -> str:
    """The sampler ``method`` names (``auto``: RQMC + control variates); ``ValueError`` when unknown."""
    if method == "auto":
        return _REFERENCE_NAMES["rqmc-cv"]
    if method not in _REFERENCE_NAMES:
        raise ValueError(f"unknown reference method {method!r}; known: {', '.join(REFERENCE_METHODS)}")
    return _REFERENCE_NAMES[method]


def reference(mlp: Any, n_samples: int, seed: int, method: str = "auto",
              common: dict[str, Any] | None = None) -> Peer:
    """The reference value from ``n_samples`` of the sampler :func:`reference_label` names."""
    label = reference_label(method)
    func, extra = available_methods()[label]
    kwargs = {k: v for k, v in (common or {}).items() if _accepts(func, k)}
    return Peer(f"{label} reference", func(mlp, n_samples=n_samples, seed=seed, **extra, **kwargs))
