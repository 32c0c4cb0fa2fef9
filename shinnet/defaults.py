"""One set of defaults for the library API and the ``shinnet`` command (issue 10, item 12).

Every entry point (``shinnet.estimate``, ``shinnet.cumulants`` callers, the CLI) reads its
defaults from here, so that the API and the command give the same answer for the same model.

Choice of ``DEFAULT_MAX_DEGREE = 4`` (the CLI's old default): at the README's model size
(d = 16, m = 1024, erf hidden, order 4) the old API default K = 6 took 108 s and K = 4 took 5.7 s
(measured on a loaded 2-core machine, ``shinnet.estimate(zoo.random_mlp(d=16, m=1024,
hidden="erf", output="tanh", seed=0, weight_scale=0.5, bias_scale=0.5))``).  The pre-flight cost
check (:mod:`shinnet.preflight`) prices any request before it runs; ask for more explicitly
(``max_degree=6``) when the model warrants it.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_ORDER",
    "DEFAULT_MAX_DEGREE",
    "DEFAULT_MAX_EDGES",
    "DEFAULT_EXPANSION",
    "DEFAULT_TOL",
    "DEFAULT_BACKEND",
    "DEFAULT_MAX_DIAGRAMS",
    "DEFAULT_MAX_FLOPS",
    "MEMORY_FRACTION",
    "RELIABILITY",
]

#: highest cumulant order N (series order q = N - 2)
DEFAULT_ORDER = 4
#: Hermite degree truncation K of the degree expansion (MATH.md section 3)
DEFAULT_MAX_DEGREE = 4
#: cosine order E_max of the resummed expansion (MATH.md section 8)
DEFAULT_MAX_EDGES = 5
#: "degree", "resummed" or "auto"
DEFAULT_EXPANSION = "degree"
#: pruning tolerance tau (0: nothing pruned)
DEFAULT_TOL = 0.0
#: array backend
DEFAULT_BACKEND = "numpy"

#: a request whose predicted number of diagrams exceeds this is refused before any work
#: (cold enumeration ~2e-4 s per diagram plus >= ~1 ms of planning and contraction each:
#: 2e5 diagrams are several minutes; pass ``max_diagrams=`` to go further)
DEFAULT_MAX_DIAGRAMS = 200_000
#: a request whose predicted contraction FLOPs (a lower estimate) exceed this is refused
#: (~ hours on one core); pass ``max_flops=`` to raise it
DEFAULT_MAX_FLOPS = 1e15
#: fraction of the available memory (RLIMIT_AS, cgroup limit, free RAM) one request may plan to hold
MEMORY_FRACTION = 0.8

#: thresholds of the reliability check (:mod:`shinnet.reliability`); see there for the reasoning
RELIABILITY = {
    # (|kappa_n| / s^n)^(1 / (n - 2)): the near-Gaussian parameter eps implied by kappa_n; above
    # this (no small parameter) the estimate is flagged when its series terms do not shrink
    "max_eps": 1.0,
    # ... and flagged whatever its terms do above this
    "max_eps_any": 2.0,
    # ... or above this for the resummed expansion (its truncation signal misses more there)
    "max_eps_resummed": 0.75,
    # |last series term| / |previous term|: the asymptotic series must still be shrinking
    "max_term_ratio": 0.5,
    # ... counted only when the last term is above this fraction of max(|value|, |g|, s |g'|);
    # also the share of that scale below which a cumulant's truncation cannot matter
    "min_significant_term": 0.01,
    # with propagation weights: a cumulant's two-step truncation move, in the answer's units,
    # above this multiple of the error budget is not accounted for by it
    "max_move_share": 1.0,
    # without weights: |kappa_n(K) - kappa_n(K-2)| / (s^n sqrt(n!)), in the units kappa_n
    # enters E[psi(f)] with
    "max_truncation_move": 0.05,
    # the summed budget relative to max(|value|, |g|, s |g'|) above which it is not a usable error bar
    "max_relative_budget": 0.5,
}
