"""FLOP budget -> settings (issue 13 item 4): price exactly what will run, choose, spend.

- :mod:`shinnet.budget.chooser`: the walk over the ladders (degree, resummed, conditioned).
- :mod:`shinnet.budget.pricing`: exact prices of one degree or resummed run.
- :mod:`shinnet.budget.conditioned`: the conditioned ladder's upper-bound prices.
"""

from __future__ import annotations

from shinnet.budget.chooser import (
    DEGREE_LADDER,
    RESUMMED_LADDER,
    LADDER,
    BudgetChoice,
    BudgetError,
    BudgetWarning,
    Choice,
    Run,
    choose_settings,
    degree_cap,
    estimate_within_budget,
    predicted_flops,
)

__all__ = ["DEGREE_LADDER", "RESUMMED_LADDER", "LADDER", "BudgetChoice", "BudgetError", "BudgetWarning", "Choice", "Run", "choose_settings", "degree_cap", "estimate_within_budget", "predicted_flops"]
