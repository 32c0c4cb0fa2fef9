"""Power-Hermite coefficients ``C_{p,k} = E[sigma(rZ+b)^p He_k(Z)]`` (MATH.md section 8).

These are the one-dimensional, exact ingredients of the resummed expansion: the vertex weights
``K_{p,k}`` (:mod:`shinnet.tensors.cumulant_vertices`) are their bivariate cumulants.  ``C_{0,k} =
delta_{k0}`` (``sigma^0 = 1``).  Since ``d/dZ sigma(rZ+b)^p = r d/db sigma(rZ+b)^p``, Stein's lemma
gives ``C_{p,k} = r^k d^k/db^k E[sigma(rZ+b)^p]``.

Closed forms live in a small registry keyed by activation class or registered name (a new closed
form is one :func:`register_power_hermite` call); everything else goes through
:func:`quadrature_power_hermite`, a Gauss-Legendre rule on ``[-15, 15]`` with the normal density
folded in (MATH.md section 8: 200-node Gauss-Hermite is not enough for tanh at r ~ 1.3); steep
units of the logistic family by asymptote + remainder (:mod:`shinnet.activations.power_split`).
The closed forms themselves are in :mod:`shinnet.activations.power_closed`.
"""

from __future__ import annotations

import warnings
from math import factorial
from typing import Any, Callable

import numpy as np

from shinnet import activations
from shinnet.activations.base import Activation, as_unit_arrays
from shinnet.activations.closed_forms import Polynomial, ReLU
from shinnet.activations.power_closed import (
    heaviside_rule,
    polynomial_rule,
    relu_rule,
    relu_truncated_moments,
    sign_rule,
)
from shinnet.activations.power_gentle import gentle_power_hermite
from shinnet.activations.power_split import split_power_hermite, steep_split_name, steep_units
from shinnet.hermite import gauss_legendre_normal_rule, hermite_he

__all__ = [
    "power_hermite_coefficients",
    "quadrature_power_hermite",
    "register_power_hermite",
    "closed_form_rule",
    "power_hermite_flops",
    "relu_truncated_moments",
]

#: ``rule(act, p_max, k_max, r, b) -> (m, p_max+1, k_max+1)``, called with r > 0 only.
PowerHermiteRule = Callable[[Activation, int, int, np.ndarray, np.ndarray], np.ndarray]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_QUAD_NODES = 2000  # Legendre nodes per panel
_SHARED_RULE_MAX_R = 10.0  # above this a middle panel of width 40/r resolves sigma(rz+b)
_QUAD_CHUNK_ENTRIES = 1 << 21  # entries per work array (16 MiB of float64)
_QUAD_CHECK_UNITS = 16
_QUAD_CHECK_TOL = 1e-10


class _RuleTable:
    """Key (an Activation subclass or a registered activation name) -> closed-form rule.
    Built on first use; changed only through :func:`register_power_hermite`."""

    def __init__(self) -> None:
        self._rules: dict[type | str, PowerHermiteRule] | None = None

    def rules(self) -> dict[type | str, PowerHermiteRule]:
        if self._rules is None:
            self._rules = {
                ReLU: relu_rule,
                Polynomial: polynomial_rule,
                "heaviside": heaviside_rule,
                "sign": sign_rule,
            }
        return self._rules


_RULES = _RuleTable()


def register_power_hermite(key: type | str, rule: PowerHermiteRule, *, overwrite: bool = False) -> None:
    """Register a closed-form power-Hermite rule.

    Parameters
    ----------
    key : Activation subclass or str
        A class (matched along the MRO of the activation) or a registered activation name
        (matched only when the activation is an instance of the class that
        ``shinnet.activations.get(name)`` returns, so a user's look-alike never picks it up).
    rule : callable ``(act, p_max, k_max, r, b) -> ndarray (m, p_max+1, k_max+1)``
        Called with 1-d float64 ``r > 0`` and ``b``; must return ``C[j, p, k]``, including
        ``C[:, 0, k] = delta_{k0}``.
    """
    if not (isinstance(key, str) or (isinstance(key, type) and issubclass(key, Activation))):
        raise TypeError(f"key must be an Activation subclass or an activation name, got {key!r}")
    key = key.lower() if isinstance(key, str) else key
    table = _RULES.rules()
    if key in table and not overwrite:
        raise ValueError(f"a power-Hermite rule for {key!r} is already registered (pass overwrite=True)")
    table[key] = rule


def closed_form_rule(act: Activation) -> PowerHermiteRule | None:
    """The registered closed-form rule for ``act``, or None (quadrature will be used).

    Lookup order: the exact class, then the activation's name (guarded as described in
    :func:`register_power_hermite`), then the base classes along the MRO.
    """
    table = _RULES.rules()
    if type(act) in table:
        return table[type(act)]
    name = str(getattr(act, "name", "")).lower()
    if name in table:
        try:
            registered = activations.get(name)
        except ValueError:
            registered = None
        if registered is not None and isinstance(act, type(registered)):
            return table[name]
    for cls in type(act).__mro__[1:]:
        if cls in table:
            return table[cls]
    return None


# --------------------------------------------------------------------------- quadrature
def _legendre(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain Gauss-Legendre nodes/weights on [-1, 1], recovered from the cached rule of
    :func:`shinnet.hermite.gauss_legendre_normal_rule` by undoing its normal density."""
    z, w = gauss_legendre_normal_rule(n_nodes)
    return z / 15.0, w * np.sqrt(2.0 * np.pi) * np.exp(0.5 * z * z) / 15.0


def _shared_block(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray, outer: float) -> np.ndarray:
    """``C[:, 1:, :]`` on one rule shared by all units: 2000 Legendre nodes on
    ``[-outer, outer]`` with the normal density folded in (a BLAS product against one He table)."""
    x, wl = _legendre(_QUAD_NODES)
    z = outer * x
    w = outer * wl * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    he = hermite_he(k_max, z)
    out = np.empty((r.size, p_max, k_max + 1))
    chunk = max(1, _QUAD_CHUNK_ENTRIES // z.size)
    for start in range(0, r.size, chunk):
        sl = slice(start, start + chunk)
        values = np.asarray(act.value(r[sl, None] * z + b[sl, None]), dtype=np.float64)
        power = w * values
        for p in range(p_max):
            if p:
                power = power * values
            out[sl, p, :] = power @ he
    return out


def _panel_block(
    act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray, outer: float, inner: float
) -> np.ndarray:
    """``C[:, 1:, :]`` for steep units: 2000 Legendre nodes on each panel of
    ``[-outer, z0 - inner/r, z0 + inner/r, outer]`` (clipped), ``z0 = -b/r`` the crossing of
    ``r z + b`` through 0, so that features of width 1/r are resolved.  Per-unit nodes."""
    x, wl = _legendre(_QUAD_NODES)
    z0 = -b / r
    edges = np.stack([np.full_like(r, -outer), np.clip(z0 - inner / r, -outer, outer),
                      np.clip(z0 + inner / r, -outer, outer), np.full_like(r, outer)], axis=1)
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    hw = 0.5 * (edges[:, 1:] - edges[:, :-1])
    out = np.empty((r.size, p_max, k_max + 1))
    n = 3 * x.size
    chunk = max(1, _QUAD_CHUNK_ENTRIES // (n * p_max))
    for start in range(0, r.size, chunk):
        sl = slice(start, start + chunk)
        z = (mid[sl, :, None] + hw[sl, :, None] * x).reshape(-1, n)
        w = (hw[sl, :, None] * wl).reshape(-1, n) * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
        values = np.asarray(act.value(r[sl, None] * z + b[sl, None]), dtype=np.float64)
        powers = np.empty((z.shape[0], p_max, n))
        powers[:, 0] = w * values
        for p in range(1, p_max):
            powers[:, p] = powers[:, p - 1] * values
        he_prev, he = np.zeros_like(z), np.ones_like(z)
        for k in range(k_max + 1):
            out[sl, :, k] = np.einsum("upn,un->up", powers, he)
            he_prev, he = he, z * he - k * he_prev
    return out


def _quadrature_block(
    act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray, outer: float, inner: float
) -> np.ndarray:
    """``C`` (m, p_max+1, k_max+1): the shared rule for r <= 10, panels above."""
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    if p_max == 0:
        return out
    steep = r > _SHARED_RULE_MAX_R
    if np.any(~steep):
        out[~steep, 1:] = _shared_block(act, p_max, k_max, r[~steep], b[~steep], outer)
    if np.any(steep):
        out[steep, 1:] = _panel_block(act, p_max, k_max, r[steep], b[steep], outer, inner)
    return out


def quadrature_power_hermite(act: Activation, p_max: int, k_max: int, r: Any, b: Any, *, check: bool = True) -> np.ndarray:
    """``C_{p,k} = sum_i w_i sigma(r z_i + b)^p He_k(z_i)`` on a composite Gauss-Legendre rule.

    The rule (MATH.md section 8): for r <= 10, 2000 Gauss-Legendre nodes on ``[-15, 15]`` with
    the normal density folded in (mass beyond 15 sigma ~1e-50; the rule of
    :func:`shinnet.hermite.gauss_legendre_normal_rule`); for r > 10, 2000 nodes on each of
    ``[-15, z0 - 20/r], [z0 - 20/r, z0 + 20/r], [z0 + 20/r, 15]`` around the crossing
    ``z0 = -b/r``, so that features of width 1/r are resolved.  Accurate to ~1e-13 relative to
    ``sqrt(E[sigma^{2p}] k!)`` (the Cauchy-Schwarz bound on ``|C_{p,k}|``) for activations
    analytic in a strip around the real axis (tanh, erf, sigmoid, gelu, silu, softplus).
    Non-smooth activations converge only algebraically: with ``check=True`` the 16 units with
    the largest r are recomputed on a second rule (outer edge 12, inner 14/r: other nodes)
    and a ``RuntimeWarning`` is issued if the two disagree by more than 1e-10 of that scale.
    Cost about ``2 m n p_max (k_max + 2)`` FLOPs (n = 2000 nodes per unit, 6000 if r > 10) plus ``m n``
    activation evaluations; work arrays are chunked to ~16 MiB.

    Exception: steep units of the built-in tanh / sigmoid / softplus / silu (r above
    ``transition.SPLIT_MIN_R``) go through :func:`shinnet.activations.power_split.split_power_hermite`
    (asymptote ``sign^p`` / ``H`` / ``relu^p`` in closed form + the remainder on a graded rule),
    accurate to ~1e-15 relative to ``C_{p,k}`` itself (the fixed panels above leave 1e-8 relative
    errors on the small entries at r = 1e4, although ~4e-13 of the Cauchy-Schwarz scale).
    """
    r, b = as_unit_arrays(r, b)
    if np.any(r <= 0):
        raise ValueError("quadrature_power_hermite needs r > 0 (constant units are handled by the caller)")
    name = steep_split_name(act)
    steep = steep_units(name, r)
    out = np.empty((r.size, p_max + 1, k_max + 1))
    if np.any(steep):  # built-in logistic family: asymptote + remainder (power_split)
        out[steep] = split_power_hermite(name, p_max, k_max, r[steep], b[steep])  # type: ignore[arg-type]
    gentle = ~steep
    if np.any(gentle) and name is not None:  # built-in logistic family: Hermite / derivative routes
        out[gentle] = gentle_power_hermite(name, p_max, k_max, r[gentle], b[gentle])
    elif np.any(gentle):
        out[gentle] = _quadrature_block(act, p_max, k_max, r[gentle], b[gentle], 15.0, 20.0)
        if check and p_max >= 1:
            _check_quadrature(act, p_max, k_max, r[gentle], b[gentle], out[gentle])
    return out


def _check_quadrature(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray, values: np.ndarray) -> None:
    idx = np.argsort(-r, kind="stable")[:_QUAD_CHECK_UNITS]
    other = _quadrature_block(act, 2 * p_max, k_max, r[idx], b[idx], 12.0, 14.0)
    scale = np.sqrt([float(factorial(k)) for k in range(k_max + 1)])
    bound = np.sqrt(np.maximum(other[:, 2 : 2 * p_max + 1 : 2, 0], 1e-300))[:, :, None] * scale
    worst = float(np.max(np.abs(other[:, 1 : p_max + 1] - values[idx, 1:]) / bound))
    if not worst <= _QUAD_CHECK_TOL:
        warnings.warn(
            f"quadrature for power-Hermite coefficients of {act.name!r} is not converged: two rules "
            f"disagree by {worst:.2e} relative to sqrt(E[sigma^2p] k!); the activation is probably not "
            "smooth. Register a closed form with shinnet.activations.power_hermite.register_power_hermite.",
            RuntimeWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- front door
def power_hermite_coefficients(act: Any, p_max: int, k_max: int, r: Any, b: Any, *, method: str = "auto") -> np.ndarray:
    """``C[j, p, k] = E[sigma(r_j Z + b_j)^p He_k(Z)]``, Z ~ N(0, 1) (MATH.md section 8).

    Parameters
    ----------
    act : str or Activation
        ``sigma``.
    p_max, k_max : int
        Highest power and Hermite degree (>= 0).
    r, b : array_like, shape (m,) or scalars
        Unit norms (>= 0) and biases.
    method : {"auto", "closed_form", "quadrature"}
        "auto" uses a registered closed form (relu, heaviside, sign, polynomials, identity)
        and quadrature otherwise; "closed_form" raises if there is none.

    Returns
    -------
    ndarray, shape (m, p_max + 1, k_max + 1), float64, with ``C[:, 0, k] = delta_{k0}``.
    Units with ``r = 0`` are the constants ``sigma(b)``: ``C[j, p, k] = sigma(b_j)^p delta_{k0}``.
    Cost: closed forms O(m p_max k_max); quadrature see :func:`quadrature_power_hermite`.
    """
    act = activations.get(act)
    for name, value in (("p_max", p_max), ("k_max", k_max)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if method not in ("auto", "closed_form", "quadrature"):
        raise ValueError(f"method must be 'auto', 'closed_form' or 'quadrature', got {method!r}")
    r, b = as_unit_arrays(r, b)
    rule = closed_form_rule(act) if method != "quadrature" else None
    if rule is None and method == "closed_form":
        raise ValueError(f"no closed-form power-Hermite rule is registered for activation {act.name!r}")
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    pos = r > 0
    if np.any(pos):
        if rule is None:
            out[pos] = quadrature_power_hermite(act, p_max, k_max, r[pos], b[pos])
        else:
            out[pos] = rule(act, int(p_max), int(k_max), r[pos], b[pos])
    if not np.all(pos):
        const = np.asarray(act.value(b[~pos].copy()), dtype=np.float64)
        out[~pos, :, 0] = const[:, None] ** np.arange(p_max + 1)[None, :]
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"non-finite power-Hermite coefficients for {act.name!r} (overflow of sigma^p?)")
    return out


def power_hermite_flops(act: Any, p_max: int, k_max: int, m: int) -> float:
    """FLOPs charged for :func:`power_hermite_coefficients` on m units (the cost of the advice):
    ``m p_max (k_max + 1) * 10`` for closed forms, ``2 m n p_max (k_max + 2) + m n cost(sigma)``
    with n = 2000 nodes for quadrature (r <= 10).  The built-in logistic family is charged for its
    worst route on every unit: n = 2,700 (graded rule of steep units) and, on top, the derivative
    route of :mod:`power_gentle` (Taylor coefficients and Cauchy powers, ``(k_max + 1)^2 (p_max + 2)``
    per node of 2,400)."""
    act = activations.get(act)
    if closed_form_rule(act) is not None:
        return 10.0 * m * p_max * (k_max + 1)
    if steep_split_name(act) is not None:
        n = 2700
        taylor = m * 2400.0 * (k_max + 1) ** 2 * (p_max + 2)
        return 2.0 * m * n * p_max * (k_max + 2) + m * n * float(act.flops) + taylor
    n = _QUAD_NODES
    return 2.0 * m * n * p_max * (k_max + 2) + m * n * float(act.flops)
