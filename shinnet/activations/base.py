"""The activation interface (MATH.md section 2).

An activation ``sigma`` knows its value on arrays (numpy or torch: the same code runs on both
through autoray-style duck typing) and the Gaussian derivative means

    E[ sigma^(k)(r Z + b) ],   k = 0 .. k_max,   Z ~ N(0, 1),

vectorised over units ``(r_j, b_j)``.  By Stein's lemma the Hermite coefficient is
``gamma_k = E[sigma(rZ+b) He_k(Z)] = r^k E[sigma^(k)(rZ+b)]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = ["Activation", "as_unit_arrays"]


def as_unit_arrays(r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast ``r`` (norms, >= 0) and ``b`` (biases) to 1-d float64 arrays of equal length."""
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    r, b = np.broadcast_arrays(r, b)
    if r.ndim != 1:
        raise ValueError(f"r and b must be scalars or 1-d arrays, got shapes {r.shape}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(b))):
        raise ValueError("r and b must be finite")
    if np.any(r < 0):
        raise ValueError("r (the norms of the weight rows) must be >= 0")
    return np.ascontiguousarray(r), np.ascontiguousarray(b)


class Activation(ABC):
    """A scalar nonlinearity with the Gaussian expectations shinnet needs.

    Subclasses set ``name`` and ``flops`` (cost of one evaluation, used by the Monte Carlo
    FLOP accounting of MATH.md section 7) and implement ``value`` and
    ``gaussian_derivative_means``.
    """

    name: str = "activation"
    flops: float = 1.0
    #: degree when sigma is a polynomial (all derivatives above it vanish), else None
    polynomial_degree: int | None = None
    #: a statement of how accurate ``gaussian_derivative_means`` is
    accuracy: str = "closed form (exact to rounding)"
    #: highest derivative order / Hermite degree k for which the coefficients are guaranteed
    #: (None: no limit); requests above it raise ValueError (:meth:`check_degree`)
    max_accurate_degree: int | None = None

    def check_degree(self, k_max: int, parameter: str = "k_max") -> int:
        """``k_max`` as an int, or ``ValueError`` naming ``parameter`` and the limit when it is
        negative, not an integer, or above :attr:`max_accurate_degree`.  Cost O(1)."""
        if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)):
            raise ValueError(f"{parameter} must be an integer >= 0, got {k_max!r}")
        if k_max < 0:
            raise ValueError(f"{parameter} must be >= 0, got {k_max}")
        limit = self.max_accurate_degree
        if limit is not None and k_max > limit:
            raise ValueError(
                f"{parameter}={int(k_max)} is above the accurate range of activation {self.name!r}: its "
                f"Gaussian derivative means / Hermite coefficients are guaranteed only for k <= {limit} "
                f"(docs/activations.md); use {parameter} <= {limit}"
            )
        return int(k_max)

    @abstractmethod
    def value(self, z: Any) -> Any:
        """``sigma(z)`` elementwise; ``z`` a numpy array or a torch tensor (same type back)."""

    @abstractmethod
    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        """``E[sigma^(k)(r Z + b)]`` for k = 0..k_max.

        Parameters
        ----------
        k_max : int
        r, b : array_like, shape (m,) (or scalars)

        Returns
        -------
        ndarray, shape (m, k_max + 1), float64.
        """

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """FLOPs :meth:`gaussian_derivative_means` ``(k_max, r, b)`` spends on m units, under the
        convention of :mod:`shinnet.activations.flops` (docs/activations.md).

        ``r`` (shape (m,), optional; None: m units of norm 1) matters for quadrature activations
        (steep units take other rules); ``b`` is accepted for symmetry and never changes the
        count.  This default, for an activation that states no count, is the rough price of a
        closed form: ``m (k_max + 1) (10 + cost(sigma))``.  Cost O(m) at most.
        """
        return float(m) * (k_max + 1) * (10.0 + float(self.flops))

    def hermite_coefficients_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """FLOPs of :meth:`hermite_coefficients`: :meth:`derivative_means_flops` plus ``2 m (k_max + 1)``
        (the powers ``r^k`` and the products).  The one price every caller charges for coefficients."""
        return self.derivative_means_flops(k_max, m, r, b) + 2.0 * m * (k_max + 1)

    def hermite_coefficients(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        """``gamma_k = E[sigma(rZ+b) He_k(Z)] = r^k E[sigma^(k)(rZ+b)]``, shape (m, k_max + 1)."""
        k_max = self.check_degree(k_max)
        r, b = as_unit_arrays(r, b)
        means = self.gaussian_derivative_means(k_max, r, b)
        powers = r[:, None] ** np.arange(k_max + 1)[None, :]
        return means * powers

    def __call__(self, z: Any) -> Any:
        return self.value(z)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"
