"""The bookkeeping shared by ``shinnet.series`` and ``shinnet.series.tail`` (MATH.md section 6).

The expectation of a smooth function of a near-Gaussian variable is

    E[psi(f)] = exp( sum_{n>=3} kappa_n / n! * D^n ) g(mu),    g(mu) = E[psi(mu + s Z)],

with ``D = d/dmu`` and ``s^2 = kappa_2``.  With ``kappa_n ~ eps^(n-2)`` the terms of eps-order q
are the multisets of cumulant orders ``n_1..n_l >= 3`` with ``sum (n_i - 2) = q``: a partition
of q into parts ``j_i = n_i - 2 >= 1``.  A partition with multiplicities ``m_j`` contributes

    prod_j (kappa_{j+2} / (j+2)!)^{m_j} / m_j!   *   g^(sum_i n_i)(mu),

so order q needs ``kappa_3 .. kappa_{q+2}`` and derivatives of g up to ``3q`` (all parts 1).
This module holds that grouping, the validation of cumulant dictionaries and the float
subclass the public functions return; it knows nothing of activations.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = [
    "SeriesTerm",
    "order_terms",
    "validate_kappa",
    "contiguous_order",
    "as_series_order",
    "sum_by_order",
    "AnnotatedFloat",
]


@dataclass(frozen=True)
class SeriesTerm:
    """One product of cumulants in the series of MATH.md section 6.

    Attributes
    ----------
    order : int
        The eps-order ``q = sum_i (n_i - 2)``.
    powers : tuple of (n, m_n)
        Cumulant order ``n >= 3`` and how often it appears, ascending in n.
    coefficient : Fraction
        ``prod_n 1 / ((n!)^{m_n} m_n!)``: the term is ``coefficient * prod_n kappa_n^{m_n}``.
    derivative : int
        The derivative of g it multiplies, ``sum_n n m_n``.
    """

    order: int
    powers: tuple[tuple[int, int], ...]
    coefficient: Fraction
    derivative: int

    def cumulant_product(self, kappa: Mapping[int, float]) -> float:
        """``coefficient * prod_n kappa_n^{m_n}`` as a float."""
        value = float(self.coefficient)
        for n, mult in self.powers:
            value *= float(kappa[n]) ** mult
        return value

    def __str__(self) -> str:
        kap = " ".join(f"kappa_{n}" + (f"^{m}" if m > 1 else "") for n, m in self.powers)
        return f"{self.coefficient} {kap} g^({self.derivative})" if kap else f"g^({self.derivative})"


def _partitions(q: int, max_part: int) -> list[tuple[int, ...]]:
    """Partitions of q into parts <= max_part, each as a non-increasing tuple."""
    if q == 0:
        return [()]
    out: list[tuple[int, ...]] = []
    for first in range(min(q, max_part), 0, -1):
        for rest in _partitions(q - first, first):
            out.append((first, *rest))
    return out


@lru_cache(maxsize=64)
def order_terms(q: int) -> tuple[SeriesTerm, ...]:
    """All terms of eps-order ``q`` (MATH.md section 6), one per partition of q.

    Part ``j`` of the partition stands for ``kappa_{j+2}``.  Order 0 is the single term
    ``g(mu)``; order 1 is ``kappa_3/6 g'''``; order 2 is ``kappa_4/24 g'''' + kappa_3^2/72 g^(6)``.
    The number of terms is the partition number p(q) (p(10) = 42); cost O(p(q) q).

    Parameters
    ----------
    q : int, >= 0

    Returns
    -------
    tuple of SeriesTerm, in order of increasing derivative.
    """
    q = as_series_order(q)
    terms = []
    for parts in _partitions(q, q):
        counts: dict[int, int] = {}
        for j in parts:
            counts[j + 2] = counts.get(j + 2, 0) + 1
        coef = Fraction(1)
        for n, mult in counts.items():
            coef /= math.factorial(n) ** mult * math.factorial(mult)
        powers = tuple(sorted(counts.items()))
        terms.append(SeriesTerm(q, powers, coef, sum(n * m for n, m in powers)))
    return tuple(sorted(terms, key=lambda t: (t.derivative, t.powers)))


def as_series_order(order: Any) -> int:
    try:
        q = operator.index(order)
    except TypeError:
        raise TypeError(f"series order must be an integer, got {order!r}") from None
    if q < 0:
        raise ValueError(f"series order must be >= 0, got {q}")
    return q


def validate_kappa(kappa: Mapping[Any, Any], needed: int | None = None) -> dict[int, float]:
    """Check a cumulant dictionary and return it as ``{int n: float kappa_n}``.

    Parameters
    ----------
    kappa : mapping n -> kappa_n
        Must hold ``kappa_1`` (the mean) and ``kappa_2 > 0`` (the variance); all values finite;
        keys integers >= 1.
    needed : int, optional
        Highest cumulant order the caller needs; every ``kappa_3 .. kappa_needed`` must be present.

    Raises
    ------
    TypeError, ValueError
        Saying which key or value is wrong.
    """
    if not isinstance(kappa, Mapping):
        raise TypeError(f"kappa must be a mapping n -> kappa_n, got {type(kappa).__name__}")
    out: dict[int, float] = {}
    for key, value in kappa.items():
        try:
            n = operator.index(key)
        except TypeError:
            raise TypeError(f"kappa keys must be integer cumulant orders, got {key!r}") from None
        if n < 1:
            raise ValueError(f"kappa keys must be cumulant orders >= 1, got {n}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"kappa_{n} = {value!r} is not finite")
        out[n] = v
    for n in (1, 2):
        if n not in out:
            what = "the mean" if n == 1 else "the variance"
            raise ValueError(f"kappa must contain kappa_{n} ({what}); got keys {sorted(out)}")
    if not out[2] > 0:
        raise ValueError(f"kappa_2 (the variance) must be > 0, got {out[2]!r}")
    if needed is not None:
        missing = [n for n in range(3, needed + 1) if n not in out]
        if missing:
            raise ValueError(
                f"this series order needs kappa_3 .. kappa_{needed}; missing {missing} "
                f"(given: {sorted(out)}); lower the order or supply them"
            )
    return out


def contiguous_order(kappa: Mapping[int, float]) -> int:
    """The highest N with ``kappa_1 .. kappa_N`` all present (N >= 2 for valid input)."""
    n = 2
    while n + 1 in kappa:
        n += 1
    return n


def sum_by_order(kappa: Mapping[int, float], order: int, derivatives: Sequence[float] | np.ndarray) -> list[float]:
    """The term of each eps-order 0..order: ``sum_{T in order_terms(q)} T.cumulant_product * g^(T.derivative)``.

    ``derivatives[n]`` must hold ``g^(n)(mu)`` for n = 0..3*order.  Cost O(sum_q p(q) q).
    """
    derivatives = np.asarray(derivatives, dtype=np.float64)
    if derivatives.shape[0] < 3 * order + 1:
        raise ValueError(f"need derivatives g^(0..{3 * order}), got {derivatives.shape[0]}")
    out = []
    for q in range(order + 1):
        out.append(float(sum(t.cumulant_product(kappa) * derivatives[t.derivative] for t in order_terms(q))))
    return out


class AnnotatedFloat(float):
    """A float that carries read-only metadata as attributes (``.terms``, ``.method``, ...).

    Arithmetic returns plain floats; the metadata lives in ``.info`` (a dict copy) and as
    attributes.
    """

    def __new__(cls, value: float, **info: Any) -> "AnnotatedFloat":
        obj = super().__new__(cls, value)
        obj.__dict__.update(info)
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), float(self), dict(self.__dict__)))

    @property
    def info(self) -> dict[str, Any]:
        """The metadata as a new dict."""
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({float(self)!r})"


def _rebuild(cls: type, value: float, info: dict[str, Any]) -> AnnotatedFloat:
    return cls(value, **info)
