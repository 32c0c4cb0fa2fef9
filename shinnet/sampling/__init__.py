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
from shinnet.result import Estimate

__all__ = ["monte_carlo", "importance_sampling", "tail_probability_mc", "TailProbabilityMC", "rng_block_rows", "default_batch_size",
           "exact_mean_f", "exact_variance", "sampling_flops", "SOBOL_MAX_DIM", "METHODS", "CONTROL_VARIATES"]


def importance_sampling(mlp: object, t: object, n_samples: int, seed: object = 0, **kwargs: object) -> Estimate:
    """The tail peer (issue 14): ``P(f > t)`` by importance sampling with a mean shift to the
    dominating point(s) of ``{f > t}``, with its own standard error.

    A documented alias of :func:`shinnet.tails.importance.importance_sampling` (same arguments:
    ``shift=None`` picks the dominating points, ``output=True`` gives ``P(psi(f) > t)``).  Cost:
    ``n_samples`` forward passes plus the dominating-point search (see docs/tails.md).  Imported on
    first call because :mod:`shinnet.tails` loads the contraction stack (cotengra).
    """
    from shinnet.tails.importance import importance_sampling as _run  # lazy: cotengra stack

    return _run(mlp, t, n_samples, seed=seed, **kwargs)
