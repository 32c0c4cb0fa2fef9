"""Tail probabilities ``P(f > t)`` from cumulants (MATH.md section 6).

Two approximations, both from the same cumulants ``kappa_1 .. kappa_N``:

* **Edgeworth** (the body).  ``P(f > t) = E[H(f - t)]`` is the series of MATH.md section 6 with
  ``psi = H(. - t)``: ``g = 1 - Phi(z)`` and ``g^(n)(mu) = He_{n-1}(z) phi(z) / s^n`` (n >= 1),
  ``z = (t - mu)/s``, so

      P(f > t) = 1 - Phi(z) + phi(z) [ kappa_3/(6 s^3) He_2(z)
                 + kappa_4/(24 s^4) He_3(z) + kappa_3^2/(72 s^6) He_5(z) + ... ],

  grouped by eps-order exactly as :func:`shinnet.series.expectation` groups its terms.
  (Note the plus sign: the familiar minus belongs to the CDF.)  Absolute accuracy is good
  near the mean; far out the relative error grows without bound and the value can go negative.

* **Saddlepoint** (Lugannani-Rice; the far tail).  With the truncated cumulant generating
  function ``K(theta) = sum_{n<=N} kappa_n theta^n / n!``, solve ``K'(theta) = t`` along the
  ray from 0 towards ``sign(t - mu)`` while ``K''(theta) > 0``; then with
  ``w = sign(theta) sqrt(2 (theta t - K(theta)))`` and ``u = theta sqrt(K''(theta))``

      P(f > t) = 1 - Phi(w) + phi(w) (1/u - 1/w).

  Its relative error stays bounded far into the tail.  At ``t = mu`` (removable singularity)
  the limit is ``1/2 - kappa_3 / (6 sqrt(2 pi) s^3)``; within ``|z| < 1e-5`` the value is the
  linear interpolation between that limit and the formula at ``|z| = 1e-5`` (error ~1e-11).
  A truncated CGF may have no saddlepoint (``K''`` turns negative before ``K'`` reaches t,
  e.g. ``kappa_4 < 0`` with ``kappa_3 = 0``).

``method="auto"``: Edgeworth when ``|z| <= 2``; otherwise the saddlepoint when it exists,
else Edgeworth with ``.fallback`` saying why.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping

import numpy as np
from numpy.polynomial import polynomial as npoly
from scipy.special import ndtr

from shinnet.hermite import hermite_he
from shinnet.series.terms import AnnotatedFloat, as_series_order, contiguous_order, sum_by_order, validate_kappa

__all__ = [
    "TailProbability",
    "NoSaddlepointError",
    "tail_probability",
    "edgeworth_tail",
    "saddlepoint",
    "lugannani_rice",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: |z| beyond which "auto" prefers the saddlepoint
AUTO_Z_THRESHOLD = 2.0
#: default Edgeworth series order cap (order q has p(q) terms; p(8) = 22, p(60) ~ 1e6)
DEFAULT_MAX_EDGEWORTH_ORDER = 8
#: |z| below which Lugannani-Rice is interpolated to its limit at the mean
_NEAR_MEAN_Z = 1e-5
_METHODS = ("auto", "edgeworth", "saddlepoint")


class NoSaddlepointError(ValueError):
    """The truncated CGF has no saddlepoint ``K'(theta) = t`` reachable with ``K'' > 0``."""


class TailProbability(AnnotatedFloat):
    """``P(f > t)`` as a float carrying its accounting.

    Attributes
    ----------
    method : str
        ``"edgeworth"`` or ``"saddlepoint"``: which approximation the value is.
    alternative : float or None
        The other method's value when it was computed (the saddlepoint may not exist).
    edgeworth, saddlepoint : float or None
        Both values (``saddlepoint`` None when the truncated CGF has no saddlepoint).
    fallback : str or None
        Why the requested/preferred saddlepoint was not used (``method="auto"`` only).
    z : float
        ``(t - kappa_1) / sqrt(kappa_2)``.
    theta : float or None
        The saddlepoint, when it exists.
    order : int
        Edgeworth series order used (cumulants ``kappa_1 .. kappa_{order+2}``).
    cgf_order : int
        N: the saddlepoint used the CGF truncated at ``kappa_N``.
    cgf_last_term : float or None
        ``|kappa_N theta^N / N!| / (theta (t - mu) - K0(theta))``: the last CGF term kept,
        relative to ``w^2/2``, at the saddlepoint.  The saddlepoint's error signal: when it is
        not small (measured: > 0.1), theta lies where the truncated CGF no longer represents the
        true one (e.g. beyond the CGF's radius of convergence) and the value is unreliable.
    terms, last_term
        Edgeworth terms by eps-order and ``|terms[-1]|``, as in :class:`shinnet.series.SeriesValue`.
    unclipped : float
        The approximation before clipping to [0, 1] (a ``RuntimeWarning`` is issued when they differ).
    """


def edgeworth_tail(kappa: Mapping[int, float], t: float, order: int) -> tuple[float, list[float]]:
    """Edgeworth ``P(f > t)`` to series order q and its per-order terms (MATH.md section 6).

    The series of :func:`shinnet.series.expectation` for ``psi = H(. - t)`` with
    ``g^(0) = 1 - Phi(z)``, ``g^(n) = He_{n-1}(z) phi(z) / s^n``.  Cost O(q) plus the grouping.
    """
    kap = validate_kappa(kappa, needed=order + 2)
    s = math.sqrt(kap[2])
    z = (float(t) - kap[1]) / s
    n_max = 3 * order
    derivs = np.empty(n_max + 1)
    derivs[0] = ndtr(-z)
    if n_max >= 1:
        he = hermite_he(n_max - 1, np.array(z))
        phi = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
        derivs[1:] = he * phi / s ** np.arange(1, n_max + 1)
    terms = sum_by_order(kap, order, derivs)
    return math.fsum(terms), terms


def _centered_cgf_coefficients(kap: Mapping[int, float], n_top: int) -> np.ndarray:
    """Ascending coefficients of ``K0(theta) = K(theta) - kappa_1 theta = sum_{2<=n<=N} kappa_n theta^n/n!``."""
    c = np.zeros(n_top + 1)
    for n in range(2, n_top + 1):
        c[n] = kap[n] / math.factorial(n)
    return c


def saddlepoint(kappa: Mapping[int, float], t: float, order: int | None = None) -> float:
    """The saddlepoint ``theta`` with ``K'(theta) = t`` of the truncated CGF (MATH.md section 6).

    ``K(theta) = sum_{n <= order+2} kappa_n theta^n / n!`` (all contiguous cumulants given when
    ``order`` is None).  The search follows the ray from 0 towards ``sign(t - kappa_1)``;
    ``K'`` increases along it while ``K'' > 0``, so the root is unique on that branch.

    Raises
    ------
    NoSaddlepointError
        When ``K''`` reaches 0 before ``K'`` reaches t (the truncated CGF is not convex far
        enough), stating how far ``K'`` gets.

    Notes
    -----
    Cost: one companion-matrix eigenvalue problem of size N-2 plus a Brent root search.
    """
    kap = validate_kappa(kappa)
    n_top = contiguous_order(kap) if order is None else as_series_order(order) + 2
    validate_kappa(kap, needed=n_top)
    x = float(t) - kap[1]
    if x == 0.0:
        return 0.0
    sgn = 1.0 if x > 0 else -1.0
    c0 = _centered_cgf_coefficients(kap, n_top) * sgn ** np.arange(n_top + 1)  # K0(sgn tau)
    c1 = npoly.polyder(c0)  # d/dtau K0(sgn tau) = sgn K0'
    c2 = npoly.polyder(c1)  # K0''(sgn tau)

    def h(tau: float) -> float:  # increasing while c2 > 0
        return float(npoly.polyval(tau, c1)) - abs(x)

    tau_max = _first_sign_change(c2)
    if math.isfinite(tau_max):
        if h(tau_max) <= 0.0:
            reach = kap[1] + sgn * (h(tau_max) + abs(x))
            raise NoSaddlepointError(
                f"the CGF truncated at kappa_{n_top} has no saddlepoint for t = {t}: K'' vanishes at "
                f"theta = {sgn * tau_max:.6g}, where K'(theta) = {reach:.6g} has not reached t"
            )
        hi = tau_max
    else:
        hi = abs(x) / kap[2]
        for _ in range(400):
            if h(hi) > 0.0:
                break
            hi *= 2.0
        else:  # pragma: no cover - K' is an unbounded increasing polynomial here
            raise NoSaddlepointError(f"could not bracket the saddlepoint for t = {t}")
    from scipy.optimize import brentq  # lazy: scipy.optimize adds ~0.2 s to `import shinnet`

    tau = brentq(h, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    grid = np.linspace(0.0, tau, 257)
    if np.any(npoly.polyval(grid, c2) <= 0.0):
        raise NoSaddlepointError(f"K'' is not positive on the path to the saddlepoint for t = {t}")
    return sgn * tau


def _first_sign_change(c: np.ndarray) -> float:
    """Smallest tau > 0 where the polynomial ``sum c_k tau^k`` (``c_0 > 0``) changes sign; inf if none."""
    c = np.trim_zeros(c, "b")
    if c.size <= 1:
        return math.inf
    roots = npoly.polyroots(c)
    cands = sorted(r.real for r in roots if r.real > 0 and abs(r.imag) <= 1e-7 * max(1.0, abs(r)))
    for r in cands:  # skip touching (even-multiplicity) roots: K'' stays >= 0 there
        if npoly.polyval(r * (1.0 + 1e-7), c) <= 0.0:
            return float(r)
    return math.inf


def lugannani_rice(x: float, theta: float, k0: float, k2: float) -> float:
    """Lugannani-Rice ``P(f > t)`` from saddlepoint quantities (MATH.md section 6).

    Parameters
    ----------
    x : float
        ``t - kappa_1``.
    theta : float
        The saddlepoint, ``K'(theta) = t`` (nonzero; sign equals sign of x).
    k0 : float
        ``K(theta) - kappa_1 theta`` (the centered CGF at theta).
    k2 : float
        ``K''(theta) > 0``.

    Returns
    -------
    float
        ``1 - Phi(w) + phi(w) (1/u - 1/w)``, ``w = sign(theta) sqrt(2 (theta x - k0))``,
        ``u = theta sqrt(k2)``.  Works for any CGF (exact or truncated).
    """
    if theta == 0.0:
        raise ValueError("lugannani_rice needs theta != 0; at the mean use the limit 1/2 - kappa_3/(6 sqrt(2 pi) s^3)")
    if not k2 > 0.0:
        raise ValueError(f"K''(theta) must be > 0, got {k2}")
    arg = 2.0 * (theta * x - k0)
    if arg < 0.0:
        raise ValueError(f"theta x - K0(theta) = {arg / 2} < 0: theta is not the saddlepoint of a convex CGF")
    w = math.copysign(math.sqrt(arg), theta)
    u = theta * math.sqrt(k2)
    return float(ndtr(-w) + _INV_SQRT_2PI * math.exp(-0.5 * w * w) * (1.0 / u - 1.0 / w))


def _saddlepoint_tail(kap: Mapping[int, float], t: float, n_top: int) -> tuple[float, float, float]:
    """(P(f > t), theta, truncation signal) by Lugannani-Rice on the CGF truncated at ``kappa_{n_top}``.

    The truncation signal is ``|kappa_N theta^N / N!| / (theta x - K0(theta))``: the last CGF
    term kept, relative to ``w^2 / 2`` (0 at the mean).
    """
    order = n_top - 2
    s = math.sqrt(kap[2])
    z = (t - kap[1]) / s
    c0 = _centered_cgf_coefficients(kap, n_top)

    def at(tt: float) -> tuple[float, float, float]:
        th = saddlepoint(kap, tt, order)
        k0 = float(npoly.polyval(th, c0))
        k2 = float(npoly.polyval(th, npoly.polyder(c0, 2)))
        half_w2 = th * (tt - kap[1]) - k0
        signal = abs(c0[n_top] * th**n_top) / half_w2 if half_w2 > 0 else 0.0
        return lugannani_rice(tt - kap[1], th, k0, k2), th, signal

    if abs(z) >= _NEAR_MEAN_Z:
        return at(t)
    limit = 0.5 - kap.get(3, 0.0) * (n_top >= 3) / (6.0 * math.sqrt(2.0 * math.pi) * s**3)
    if z == 0.0:
        return limit, 0.0, 0.0
    edge = math.copysign(_NEAR_MEAN_Z, z)
    value_edge, theta_edge, signal = at(kap[1] + edge * s)
    frac = z / edge
    return limit + frac * (value_edge - limit), frac * theta_edge, signal


def tail_probability(
    kappa: Mapping[int, float], t: float, method: str = "auto", *, order: int | None = None
) -> TailProbability:
    """``P(f > t)`` from the cumulants of f: Edgeworth or saddlepoint (MATH.md section 6).

    Parameters
    ----------
    kappa : mapping int -> float
        Cumulants of f: ``kappa_1``, ``kappa_2 > 0`` and any contiguous run ``kappa_3 ..
        kappa_N`` (a gap, e.g. kappa_4 without kappa_3, is an error).
    t : float
        The threshold.
    method : {"auto", "edgeworth", "saddlepoint"}
        ``"auto"``: Edgeworth if ``|z| <= 2`` (``z = (t - kappa_1)/sqrt(kappa_2)``), else the
        saddlepoint if the truncated CGF has one, else Edgeworth with ``.fallback`` set.
        ``"saddlepoint"`` raises :class:`NoSaddlepointError` when there is none.
    order : int, optional
        Edgeworth series order q (uses ``kappa_1 .. kappa_{q+2}``); default
        ``min(N - 2, 8)`` (order q has p(q) terms, so it is capped).  The saddlepoint always
        uses the CGF truncated at the last given cumulant ``kappa_N``.

    Returns
    -------
    TailProbability
        A float carrying ``.method``, ``.alternative``, ``.edgeworth``, ``.saddlepoint``,
        ``.fallback``, ``.z``, ``.theta``, ``.terms``, ``.last_term``, ``.order``.

    Notes
    -----
    Cost: O(N^3) for the saddlepoint (a companion-matrix eigenproblem) plus O(sum_q p(q) q)
    for the Edgeworth grouping; both are always attempted (both are cheap).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f"t must be finite, got {t}")
    kap = validate_kappa(kappa)
    n_top = contiguous_order(kap)
    gaps = sorted(n for n in kap if n > n_top)
    if gaps:
        given = ", ".join(f"kappa_{n}" for n in gaps)
        raise ValueError(f"kappa has {given} but not kappa_{n_top + 1}; cumulants must be contiguous")
    q = min(n_top - 2, DEFAULT_MAX_EDGEWORTH_ORDER) if order is None else as_series_order(order)
    if q < 0 or q > n_top - 2:
        raise ValueError(f"order must be in 0..{n_top - 2} for cumulants up to kappa_{n_top}, got {order!r}")
    z = (t - kap[1]) / math.sqrt(kap[2])
    edge, terms = edgeworth_tail(kap, t, q)
    try:
        sp, theta, signal = _saddlepoint_tail(kap, t, n_top)
        why = None
    except NoSaddlepointError as err:
        if method == "saddlepoint":
            raise
        sp, theta, signal, why = None, None, None, str(err)
    if method == "auto":
        chosen = "saddlepoint" if abs(z) > AUTO_Z_THRESHOLD and sp is not None else "edgeworth"
        fallback = why if abs(z) > AUTO_Z_THRESHOLD and sp is None else None
    else:
        chosen, fallback = method, None
    value = sp if chosen == "saddlepoint" else edge
    unclipped = value
    if not 0.0 <= value <= 1.0:
        # a truncated asymptotic series can leave [0, 1] (e.g. Edgeworth far in the thin tail of
        # a platykurtic f): never return an impossible probability silently
        value = min(max(value, 0.0), 1.0)
        warnings.warn(
            f"tail_probability: the {chosen} approximation gave {unclipped:.3g} for P(f > t) at "
            f"z = {z:.2f}, outside [0, 1]; returning {value:g}. The series is not reliable this far "
            f"into the tail ({fallback or 'see .terms'})",
            RuntimeWarning,
            stacklevel=2,
        )
    return TailProbability(
        value,
        method=chosen,
        unclipped=unclipped,
        alternative=edge if chosen == "saddlepoint" else sp,
        edgeworth=edge,
        saddlepoint=sp,
        fallback=fallback,
        z=z,
        theta=theta,
        order=q,
        terms=terms,
        last_term=abs(terms[-1]),
        cgf_order=n_top,
        cgf_last_term=signal,
    )

