"""Moved to :mod:`shinnet.budget.pricing`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.budget.pricing import (
    Price,
    price,
    price_degree,
    price_resummed,
    plan_degree,
    shin_build_flops,
    power_shin_build_flops,
    lambda_star_flops,
    predicted_flops,
)

__all__ = ["Price", "price", "price_degree", "price_resummed", "plan_degree", "shin_build_flops", "power_shin_build_flops", "lambda_star_flops", "predicted_flops"]

warnings.warn("shinnet.budget_pricing moved to shinnet.budget.pricing; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
