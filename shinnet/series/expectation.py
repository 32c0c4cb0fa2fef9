"""From cumulants to answers: ``E[psi(f)]`` and ``P(f > t)`` (MATH.md section 6).

Given the cumulants ``kappa_n`` of ``f`` (a dict n -> kappa_n), with ``mu = kappa_1``,
``s^2 = kappa_2``, ``g(mu) = E[psi(mu + s Z)]`` and ``g^(n)(mu) = E[psi^(n)(mu + s Z)]``,

    E[psi(f)] = exp( sum_{n>=3} kappa_n / n! d^n/dmu^n ) g(mu)
              = g + kappa_3/6 g''' + (kappa_4/24 g'''' + kappa_3^2/72 g^(6)) + ...

grouped by eps-order (``kappa_n ~ eps^(n-2)``); see :func:`shinnet.series.terms.order_terms`.
The series is asymptotic, not convergent: every result reports the term of each order so that
callers see whether it is still shrinking.  Tail probabilities live in
:mod:`shinnet.series.tail` and are re-exported here.  ``docs/series.md`` has the tables.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from shinnet import activations
from shinnet.activations import Activation
from shinnet.series.tail import NoSaddlepointError, TailProbability, lugannani_rice, saddlepoint, tail_probability
from shinnet.series.terms import (
    AnnotatedFloat,
    SeriesTerm,
    as_series_order,
    order_terms,
    sum_by_order,
    validate_kappa,
)

__all__ = [
    "expectation",
    "tail_probability",
    "SeriesValue",
    "TailProbability",
    "NoSaddlepointError",
    "SeriesTerm",
    "order_terms",
    "gaussian_derivatives",
    "lugannani_rice",
    "saddlepoint",
]


class SeriesValue(AnnotatedFloat):
    """``E[psi(f)]`` from the cumulant series, as a float carrying its accounting.

    Attributes
    ----------
    order : int
        The series order q that was summed (terms of eps-order 0..q).
    terms : list of float
        ``terms[i]`` is the sum of the eps-order-i terms; ``float(self) == sum(terms)``.
    partial_sums : list of float
        ``partial_sums[i] = sum(terms[:i + 1])``, the order-i answer.
    last_term : float
        ``|terms[-1]|``: the size of the last term kept, the error signal of an asymptotic series.
    derivatives : ndarray, shape (3q + 1,)
        ``g^(n)(mu) = E[psi^(n)(mu + s Z)]``, n = 0..3q.
    mu, sigma : float
        ``kappa_1`` and ``sqrt(kappa_2)``.
    cumulants_used : tuple of int
        The cumulant orders the series used (1 .. q + 2).
    activation : str
        ``psi.name``.
    exact : bool
        True when the result is exact up to rounding: psi a polynomial of degree p and
        ``q >= p - 2`` (all terms with a nonzero derivative of g are included).
    """


def gaussian_derivatives(psi: str | Activation, mu: float, sigma: float, n_max: int) -> np.ndarray:
    """``g^(n)(mu) = E[psi^(n)(mu + sigma Z)]`` for n = 0..n_max (MATH.md section 6).

    One call of ``psi.gaussian_derivative_means(n_max, [sigma], [mu])``: closed forms where the
    activation has them, quadrature otherwise; accurate to 1e-12 relative (or 1e-14 absolute)
    up to n = 24 per the Activation contract.

    Returns
    -------
    ndarray, shape (n_max + 1,), float64.
    """
    act = activations.get(psi)
    out = np.asarray(act.gaussian_derivative_means(int(n_max), np.array([sigma]), np.array([mu])), dtype=np.float64)
    if out.shape != (1, n_max + 1):
        raise RuntimeError(f"{act!r}.gaussian_derivative_means returned shape {out.shape}, expected {(1, n_max + 1)}")
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"{act!r}: non-finite Gaussian derivative means at mu={mu}, sigma={sigma}: {out[0]}")
    return out[0]


def expectation(psi: str | Activation, kappa: Mapping[int, float], order: int) -> SeriesValue:
    """``E[psi(f)]`` from the cumulants of f by the series of MATH.md section 6, to series order q.

    Order 0 is the Gaussian approximation ``g(mu) = E[psi(mu + s Z)]``; order q adds every
    term of eps-order <= q, i.e. all products ``prod kappa_{n_i}/n_i! / prod(multiplicities!)``
    with ``sum (n_i - 2) <= q``, each applied as ``g^(sum n_i)(mu)``.  Order q uses
    ``kappa_1 .. kappa_{q+2}`` (higher entries of ``kappa`` are ignored) and ``g`` up to its
    ``3q``-th derivative.

    Exact (to rounding) for identity psi (the value is ``kappa_1``) and for a polynomial psi of
    degree p once ``q >= p - 2``: the exponential then terminates.  Otherwise the series is
    asymptotic: ``.terms`` shows each order's contribution and ``.last_term`` the size of the
    last one kept.

    Parameters
    ----------
    psi : str or Activation
        A registered activation name (``shinnet.activations.names()``) or an Activation.
    kappa : mapping int -> float
        Cumulants of f; needs ``kappa_1``, ``kappa_2 > 0`` and ``kappa_3 .. kappa_{q+2}`` (a
        constant f, ``kappa_2 = 0``, is answered exactly by :func:`shinnet.estimate`: ``psi(c')``).
    order : int
        The series order q >= 0.

    Returns
    -------
    SeriesValue
        A float (the order-q sum) carrying ``.terms``, ``.last_term``, ``.partial_sums``,
        ``.derivatives`` and the rest (see :class:`SeriesValue`).

    Raises
    ------
    ValueError
        Unknown activation, negative order, missing/invalid cumulants.

    Notes
    -----
    Cost: one call of ``psi.gaussian_derivative_means(3q, ...)`` plus O(sum_{i<=q} p(i) i)
    arithmetic (p the partition number).  For non-polynomial psi, ``3q`` above the activation's
    accurate range (``psi.max_accurate_degree``, 24 for quadrature-based activations) is refused
    with a ValueError before any work.
    """
    q = as_series_order(order)
    act = activations.get(psi)
    kap = validate_kappa(kappa, needed=q + 2)
    mu, sigma = kap[1], math.sqrt(kap[2])
    n_max = 3 * q
    limit = act.max_accurate_degree
    if limit is not None and n_max > limit and act.polynomial_degree is None:
        raise ValueError(
            f"series order {q} needs derivatives of g up to {n_max}, above the accurate range of activation "
            f"{act.name!r} (k <= {limit}, docs/activations.md); use a series order <= {limit // 3}"
        )
    derivs = gaussian_derivatives(act, mu, sigma, n_max)
    terms = sum_by_order(kap, q, derivs)
    partial = list(np.cumsum(terms))
    degree = act.polynomial_degree
    derivs.setflags(write=False)
    return SeriesValue(
        math.fsum(terms),
        order=q,
        terms=terms,
        partial_sums=[float(p) for p in partial],
        last_term=abs(terms[-1]),
        derivatives=derivs,
        mu=mu,
        sigma=sigma,
        cumulants_used=tuple(range(1, q + 3)),
        activation=act.name,
        exact=degree is not None and q >= degree - 2,
    )

