"""Independent references shared by several test files (kept apart from the library code they check)."""

from __future__ import annotations

import numpy as np

from shinnet import activations
from shinnet.activations import Activation
from shinnet.model import TwoLayerMLP


class Sine(Activation):
    """sin, with ``E[sin^(k)(rZ+b)] = exp(-r^2/2) sin(b + k pi/2)`` (exact): an entire
    activation whose Hermite series converges in every L^n (shin norms ~ r^k / sqrt(k!))."""

    name = "sine"
    accuracy = "closed form"

    def value(self, z):
        return np.sin(z)

    def gaussian_derivative_means(self, k_max, r, b):
        r, b = activations.as_unit_arrays(r, b)
        k = np.arange(k_max + 1)
        return np.exp(-0.5 * r[:, None] ** 2) * np.sin(b[:, None] + k[None, :] * np.pi / 2)


def set_partitions(items):
    """All set partitions of ``items`` (a reference written independently of shinnet.combinatorics)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        yield [[first]] + part
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1 :]


def one_direction_mlp(d: int, m: int, seed: int, noise: float = 0.05) -> TwoLayerMLP:
    """Rows ``w_j = s_j v + noise g_j``: f is (nearly) a function of ``v . x`` (share of M's energy
    ~0.999); relu hidden units, sigmoid output.  Shared by the budget tests."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    s = rng.choice([-1.0, 1.0], m) * rng.uniform(0.5, 1.5, m)
    W = s[:, None] * v[None, :] + noise * rng.standard_normal((m, d))
    b = rng.uniform(-1.0, 1.0, m)
    a = (rng.standard_normal(m) + 0.6 * (s > 0)) / np.sqrt(m)
    return TwoLayerMLP(W=W, b=b, a=a, c=-0.2, hidden="relu", output="sigmoid")


def check_walk_accounting(est, budget: float) -> None:
    """A budgeted estimate's accounting: at most twice the budget, the total is the runs' spends plus
    planning, and no run spent more than its price (shared by the budget tests)."""
    choice = est.details["budget_choice"]
    assert est.flops_with_advice <= 2.0 * budget
    assert abs(est.flops_with_advice - (sum(r.spent for r in choice.runs) + choice.planning_flops)) \
        <= 1e-12 * abs(est.flops_with_advice)
    for run in choice.runs:
        assert run.spent <= run.price.total * (1 + 1e-12)
