"""Moved to :mod:`shinnet.series.terms`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.series.terms import (
    SeriesTerm,
    order_terms,
    validate_kappa,
    contiguous_order,
    as_series_order,
    sum_by_order,
    AnnotatedFloat,
)

__all__ = ["SeriesTerm", "order_terms", "validate_kappa", "contiguous_order", "as_series_order", "sum_by_order", "AnnotatedFloat"]

warnings.warn("shinnet.series_terms moved to shinnet.series.terms; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
