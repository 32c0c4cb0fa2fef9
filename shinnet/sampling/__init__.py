"""Sampling estimators of ``E[psi(f)]``: the peers shinnet races (MATH.md sections 7 and 10).

``monte_carlo(mlp, N, seed=0, method="plain" | "sobol", control_variates=False | "linear" | True)``:

* plain Monte Carlo (:mod:`~shinnet.sampling.plain`), streamed in fixed random-number blocks, with
  k-statistics of f and tail probabilities;
* randomized QMC (:mod:`~shinnet.sampling.sobol`): R scrambled Sobol nets through the inverse normal CDF;
* control variates (:mod:`~shinnet.sampling.control`) on ``f - kappa_1`` and
  ``(f - kappa_1)^2 - kappa_2`` with exact moments, for either method
  (:mod:`~shinnet.sampling.replicates` streams the replicate sums);
* the FLOP conventions in one function (:func:`~shinnet.sampling.flops.sampling_flops`).

The hybrid estimator (mechanistic ``E[g(f)]`` plus RQMC on ``psi(f) - g(f)``) is
:func:`shinnet.hybrid.hybrid`.  See docs/sampling.md.
"""

from __future__ import annotations

from shinnet.sampling.api import CONTROL_VARIATES, METHODS, TailProbabilityMC, monte_carlo, tail_probability_mc
from shinnet.sampling.backends import default_batch_size, rng_block_rows
from shinnet.sampling.control import exact_mean_f, exact_variance
from shinnet.sampling.flops import sampling_flops
from shinnet.sampling.sobol import SOBOL_MAX_DIM

__all__ = ["monte_carlo", "tail_probability_mc", "TailProbabilityMC", "rng_block_rows", "default_batch_size",
           "exact_mean_f", "exact_variance", "sampling_flops", "SOBOL_MAX_DIM", "METHODS", "CONTROL_VARIATES"]
