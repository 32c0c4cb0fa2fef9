"""Moved to :mod:`shinnet.series.tail`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.series.tail import (
    TailProbability,
    NoSaddlepointError,
    tail_probability,
    edgeworth_tail,
    saddlepoint,
    lugannani_rice,
)

__all__ = ["TailProbability", "NoSaddlepointError", "tail_probability", "edgeworth_tail", "saddlepoint", "lugannani_rice"]

warnings.warn("shinnet.series_tail moved to shinnet.series.tail; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
