"""Tail probabilities ``P(f > t)`` far beyond what sampling can see (docs/tails.md).

``tail_probability(mlp, t, output=False)`` chooses between exact integration over the span of W
(rank <= 2, one unit), conditioning on the dominating direction (MATH.md section 9) and a
saddlepoint on the resummed CGF (section 8) by their own error signals.  The peer:
``importance_sampling(mlp, t, n_samples, seed=0, shift=None)`` (mean shift to the dominating point).
``shinnet.series.tail_probability`` (cumulants -> P) is a different function and stays.
"""

from shinnet.tails.api import METHODS, tail_probability
from shinnet.tails.direction import DominatingPoint, dominating_point, dominating_points
from shinnet.tails.importance import importance_sampling
from shinnet.tails.inputs import NotMonotoneError
from shinnet.tails.result import TailEstimate

__all__ = ["tail_probability", "importance_sampling", "dominating_point", "dominating_points", "DominatingPoint", "TailEstimate",
           "NotMonotoneError", "METHODS"]
