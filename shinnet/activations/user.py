"""User-supplied activations: wrap a plain function, get quadrature (MATH.md section 2).

``from_callable(fn, name, derivatives=None)`` returns an Activation whose derivative means
``E[sigma^(k)(rZ+b)]`` come from the quadrature routes of
:mod:`shinnet.activations.quadrature` (the most accurate per entry, by the rounding-error
estimate):

* the Hermite route ``r^-k E[fn(rZ+b) He_k(Z)]`` always;
* the derivative route ``E[fn^(k)(rZ+b)]`` for the orders whose derivatives are supplied.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from shinnet.activations.base import as_unit_arrays
from shinnet.activations.flops import count_norms, unit_flops
from shinnet.activations.quadrature import (
    EPS,
    EstimatedActivation,
    derivative_route,
    hermite_route,
    hermite_route_flops,
    most_accurate,
    normal_rule,
)

__all__ = ["CallableActivation", "from_callable"]

_ACCURACY = (
    "quadrature (2,400-node composite Gauss-Legendre on [-15, 15] with the normal density; for "
    "r > 10 per-unit panels graded towards the transition z = -b/r plus panels of width 1 in "
    "x = rz + b on [-40, 40]). Discretisation error < 1e-13 when fn is analytic in the strip "
    "|Im x| < 0.15 r (r <= 10), resp. in |Im x| < 0.3 with its features in |x| <= 40 (r > 10), "
    "and grows at most like exp(x^2 / 4); degrees k > 24 are refused; a kink or jump in fn makes it O(1e-5) "
    "or worse (register a closed form instead). Rounding: see "
    "gaussian_derivative_means_with_error. {derivs}"
)
_NO_DERIVS = (
    "No derivatives given: E[fn^(k)] = E[fn He_k] / r^k loses about "
    "log10(sqrt(k!) E|fn| / |r^k E[fn^(k)]|) digits, i.e. many for small r and large k."
)
_WITH_DERIVS = (
    "Derivatives given up to order {order}: small r is accurate too (derivative route), "
    "assuming the supplied derivatives are accurate to a few ulps."
)


class CallableActivation(EstimatedActivation):
    """An activation defined by a user function (see :func:`from_callable`)."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        name: str,
        derivatives: Sequence[Callable[[Any], Any]] | None = None,
        flops: float = 10.0,
    ):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if not isinstance(name, str) or not name:
            raise ValueError("name must be a non-empty string")
        derivs = tuple(derivatives or ())
        for i, d in enumerate(derivs):
            if not callable(d):
                raise TypeError(f"derivatives[{i}] (order {i + 1}) must be callable, got {type(d).__name__}")
        if not (np.isfinite(flops) and flops > 0):
            raise ValueError(f"flops must be a positive number, got {flops!r}")
        probe = np.asarray(fn(np.linspace(-1.0, 1.0, 3)), dtype=np.float64)
        if probe.shape != (3,):
            raise ValueError(f"fn must act elementwise (shape (3,) -> (3,)), got shape {probe.shape}")
        self._fn = fn
        self._derivatives = derivs
        self.name = name
        self.flops = float(flops)
        self.accuracy = _ACCURACY.format(
            derivs=_WITH_DERIVS.format(order=len(derivs)) if derivs else _NO_DERIVS
        )

    def value(self, z: Any) -> Any:
        return self._fn(z)

    def _numpy_value(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x), dtype=np.float64)

    def _pointwise_derivatives(self, x: np.ndarray, k_max: int) -> tuple[np.ndarray, np.ndarray]:
        fns = (self._fn,) + self._derivatives[:k_max]
        values = np.stack([np.asarray(f(x), dtype=np.float64) for f in fns], axis=-1)
        return values, 4.0 * EPS * np.abs(values)

    def gaussian_derivative_means_with_error(self, k_max: int, r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        k_max = self.check_degree(k_max)
        r, b = as_unit_arrays(r, b)
        means, errors = hermite_route(self._numpy_value, k_max, r, b)
        if self._derivatives:
            k_d = min(k_max, len(self._derivatives))
            d_means, d_err = derivative_route(self._pointwise_derivatives, k_d, r, b)
            head = most_accurate((means[:, : k_d + 1], errors[:, : k_d + 1]), (d_means, d_err))
            means[:, : k_d + 1], errors[:, : k_d + 1] = head
        if np.any(~np.isfinite(means)):
            raise ValueError(
                f"activation {self.name!r}: derivative means are not finite (r = 0 needs the "
                "derivatives argument for k >= 1, and fn must be finite on [b - 15 r, b + 15 r])"
            )
        return means, errors

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """:func:`hermite_route_flops` with ``cost(sigma)``, plus, when derivatives are supplied up to
        order ``k_d = min(k_max, len(derivatives))``, the derivative route on 2,400 nodes per unit:
        ``2 + (k_d + 1) (cost + 9)`` per node (each supplied derivative charged ``cost(sigma)``)
        and :func:`unit_flops` per unit.  ``b`` never changes the count."""
        r = count_norms(m, r)
        total = hermite_route_flops(float(self.flops), int(k_max), r)
        if self._derivatives:
            k_d = min(int(k_max), len(self._derivatives))
            per_node = 2.0 + (k_d + 1) * (float(self.flops) + 9.0)
            total += r.size * (normal_rule()[0].size * per_node + unit_flops(k_d))
        return total


def from_callable(
    fn: Callable[[Any], Any],
    name: str,
    derivatives: Sequence[Callable[[Any], Any]] | None = None,
    flops: float = 10.0,
) -> CallableActivation:
    """Wrap an elementwise function as an Activation with quadrature derivative means.

    Parameters
    ----------
    fn : callable
        ``sigma``, elementwise on numpy float64 arrays (and on torch tensors if ``value`` is to
        be used with torch).
    name : str
        Name for reports (not registered: use :func:`shinnet.activations.register`).
    derivatives : sequence of callables, optional
        ``[sigma', sigma'', ...]``; with them, small ``r`` and high orders are accurate.
    flops : float
        Cost of one evaluation (MATH.md section 7).

    Returns
    -------
    CallableActivation; ``.accuracy`` states what is guaranteed.  Cost of
    ``gaussian_derivative_means``: 2,400 evaluations of ``fn`` per unit plus O(m k_max 2400).
    """
    return CallableActivation(fn, name, derivatives=derivatives, flops=flops)
