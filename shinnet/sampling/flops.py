"""The FLOP conventions of every sampler, stated in one function (MATH.md sections 7 and 10)."""

from __future__ import annotations

from typing import Any

from shinnet.model import TwoLayerMLP

__all__ = ["sampling_flops", "INVERSE_CDF_FLOPS", "SOBOL_COORD_FLOPS", "CONTROL_FLOPS", "GAUSSIAN_FLOPS"]

#: ``ndtri`` per coordinate: a rational approximation (two polynomials of degree ~8 and a division,
#: a log and a sqrt in the tails), counted as 30
INVERSE_CDF_FLOPS = 30.0
#: one coordinate of a scrambled Sobol point: a Gray-code XOR and the integer-to-float scaling
SOBOL_COORD_FLOPS = 2.0
#: per point and control variate: forming it (2) and its sums and cross products with the
#: responses and the other controls (2 each)
CONTROL_FLOPS = 2.0
#: a PCG64 ziggurat normal: not charged to plain Monte Carlo (the convention of section 7: the floor
#: pays for forward passes only); stated here so the choice is visible
GAUSSIAN_FLOPS = 0.0


def sampling_flops(
    mlp: TwoLayerMLP,
    n_points: int,
    method: str = "plain",
    scrambles: int = 1,
    n_controls: int = 0,
    n_responses: int = 1,
    setup_flops: float = 0.0,
    bits: int = 62,
    per_point_flops: float = 0.0,
) -> dict[str, Any]:
    """FLOPs charged for ``n_points`` model evaluations of a sampler, by part.

    * ``forward``: ``n_points * mlp.flops_per_sample()`` (MATH.md section 7, one psi), plus
      ``n_points * cost(psi)`` for each further response (several psi, or a residual ``psi - g``);
    * ``points``: plain Monte Carlo ``n_points d GAUSSIAN_FLOPS`` (= 0: the forward-pass-only
      convention of section 7); Sobol ``n_points d SOBOL_COORD_FLOPS`` plus ``R d bits^2`` for the
      R linear matrix scrambles;
    * ``inverse_cdf``: Sobol only, ``n_points d INVERSE_CDF_FLOPS``;
    * ``controls``: ``n_points * n_controls * CONTROL_FLOPS * (1 + n_responses + n_controls)``;
    * ``extra``: ``n_points * per_point_flops`` (e.g. the hybrid's polynomial ``g(f)``, 3 per degree);
    * ``setup``: exact moments the controls need (``kappa_1``: O(m d); ``kappa_2``: see
      :func:`shinnet.sampling.control.exact_variance`), passed in by the caller.

    Returns a dict of the parts, ``total`` and ``conventions`` (a sentence, copied into
    ``Estimate.details["flop_conventions"]``).
    """
    d = mlp.d
    forward = n_points * mlp.flops_per_sample() + max(n_responses - 1, 0) * n_points * float(mlp.output.flops)
    if method == "sobol":
        points = n_points * d * SOBOL_COORD_FLOPS + scrambles * d * float(bits) ** 2
        inv = n_points * d * INVERSE_CDF_FLOPS
    else:
        points = n_points * d * GAUSSIAN_FLOPS
        inv = 0.0
    controls = n_points * n_controls * CONTROL_FLOPS * (1 + n_responses + n_controls)
    parts = {"forward": float(forward), "points": float(points), "inverse_cdf": float(inv),
             "controls": float(controls), "extra": float(n_points * per_point_flops), "setup": float(setup_flops)}
    parts["total"] = float(sum(parts.values()))
    parts["conventions"] = (
        "forward passes n*(2md + m + m cost(sigma) + 2m + cost(psi)); Gaussian draws of plain Monte Carlo not "
        f"charged; Sobol: {SOBOL_COORD_FLOPS:g}/coordinate + R d bits^2 scrambling, inverse normal CDF "
        f"{INVERSE_CDF_FLOPS:g}/coordinate; control variates {CONTROL_FLOPS:g} per control per sum; exact moments "
        "for the controls charged as setup"
    )
    return parts
