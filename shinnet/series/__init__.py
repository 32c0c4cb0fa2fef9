"""From cumulants to answers (MATH.md section 6): numbers in, numbers out.

- :mod:`shinnet.series.expectation`: ``E[psi(f)]`` from the cumulants (the eps-ordered series).
- :mod:`shinnet.series.terms`: the terms of each eps-order, validation of cumulant dicts.
- :mod:`shinnet.series.tail`: ``P(f > t)`` by Edgeworth and Lugannani-Rice saddlepoints.
"""

from __future__ import annotations

from shinnet.series.expectation import (
    expectation,
    tail_probability,
    SeriesValue,
    TailProbability,
    NoSaddlepointError,
    SeriesTerm,
    order_terms,
    gaussian_derivatives,
    lugannani_rice,
    saddlepoint,
)

__all__ = ["expectation", "tail_probability", "SeriesValue", "TailProbability", "NoSaddlepointError", "SeriesTerm", "order_terms", "gaussian_derivatives", "lugannani_rice", "saddlepoint"]
