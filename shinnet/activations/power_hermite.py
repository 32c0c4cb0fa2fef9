"""Power-Hermite coefficients ``C_{p,k} = E[sigma(rZ+b)^p He_k(Z)]`` (MATH.md section 8).

These are the one-dimensional, exact ingredients of the resummed expansion: the vertex weights
``K_{p,k}`` (:mod:`shinnet.cumulant_vertices`) are their bivariate cumulants.  ``C_{0,k} =
delta_{k0}`` (``sigma^0 = 1``).  Since ``d/dZ sigma(rZ+b)^p = r d/db sigma(rZ+b)^p``, Stein's lemma
gives ``C_{p,k} = r^k d^k/db^k E[sigma(rZ+b)^p]``.

Closed forms live in a small registry keyed by activation class or registered name (a new closed
form is one :func:`register_power_hermite` call); everything else goes through
:func:`quadrature_power_hermite`, a Gauss-Legendre rule on ``[-15, 15]`` with the normal density
folded in (MATH.md section 8: 200-node Gauss-Hermite is not enough for tanh at r ~ 1.3).
"""

from __future__ import annotations

import warnings
from math import ceil, factorial
from typing import Any, Callable

import numpy as np
from numpy.polynomial import polynomial as npoly
from scipy.special import erfcx, ndtr

from shinnet.activations.base import Activation, as_unit_arrays
from shinnet.activations.closed_forms import Polynomial, ReLU
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
_SQRT_HALF_PI = np.sqrt(0.5 * np.pi)
_QUAD_NODES = 2000  # Legendre nodes per panel
_SHARED_RULE_MAX_R = 10.0  # above this a middle panel of width 40/r resolves sigma(rz+b)
_QUAD_CHUNK_ENTRIES = 1 << 21  # entries per work array (16 MiB of float64)
_QUAD_CHECK_UNITS = 16
_QUAD_CHECK_TOL = 1e-10


# --------------------------------------------------------------------------- closed forms
def relu_truncated_moments(p_max: int, beta: np.ndarray) -> np.ndarray:
    """``I_p(beta) = E[(Z + beta)_+^p]`` for p = 0..p_max, shape (m, p_max + 1).

    ``I_0 = Phi(beta)``, ``I_1 = phi(beta) + beta Phi(beta)``, ``I_p = beta I_{p-1} + (p-1) I_{p-2}``
    (integrate ``Z (Z+beta)_+^{p-1}`` by parts).  The forward recurrence cancels for
    ``beta < -1`` (``I_p`` is its minimal solution), so there the ratios ``J_p / J_{p-1}``
    (``J = I / phi``) come from the backward continued fraction ``rho_p = p / (rho_{p+1} - beta)``,
    started ``60 + p_max + 600 / beta^2`` terms out, and ``J_0 = sqrt(pi/2) erfcx(-beta/sqrt 2)``.
    Relative accuracy ~1e-14 for p <= 20.  Cost O(m (p_max + 600/beta^2)).
    """
    beta = np.asarray(beta, dtype=np.float64)
    out = np.empty(beta.shape + (p_max + 1,))
    phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
    j0 = _SQRT_HALF_PI * erfcx(-beta / np.sqrt(2.0))  # Phi(beta) / phi(beta), no underflow
    fwd = beta >= -1.0
    if np.any(fwd):
        bf = beta[fwd]
        out[fwd, 0] = ndtr(bf)
        if p_max >= 1:
            out[fwd, 1] = phi[fwd] + bf * out[fwd, 0]
        for p in range(2, p_max + 1):
            out[fwd, p] = bf * out[fwd, p - 1] + (p - 1) * out[fwd, p - 2]
    back = ~fwd
    if np.any(back):
        bb = beta[back]
        n_terms = p_max + 60 + int(ceil(600.0 / float(np.min(bb * bb))))
        rho = np.zeros_like(bb)
        ratios = np.empty((bb.size, p_max + 1))
        for p in range(n_terms, 0, -1):
            rho = p / (rho - bb)
            if p <= p_max:
                ratios[:, p] = rho
        j = j0[back].copy()
        out[back, 0] = j * phi[back]
        for p in range(1, p_max + 1):
            j = j * ratios[:, p]
            out[back, p] = j * phi[back]
    return out


def _relu_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """relu: ``C_{p,k} = r^p d^k I_p / d beta^k`` with ``beta = b / r`` (MATH.md section 8).

    ``d^k I_p = p!/(p-k)! I_{p-k}`` for k <= p (since ``I_p' = p I_{p-1}``), and
    ``p! (-1)^(k-p-1) He_{k-p-1}(beta) phi(beta)`` for k > p (since ``I_0' = phi``).
    Cost O(m (p_max k_max + p_max + 600/beta^2)).
    """
    beta = b / r
    moments = relu_truncated_moments(p_max, beta)
    phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
    he = hermite_he(max(k_max - 1, 0), beta)
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    for p in range(1, p_max + 1):
        rp = r**p
        for k in range(k_max + 1):
            if k <= p:
                out[:, p, k] = rp * (factorial(p) / factorial(p - k)) * moments[:, p - k]
            else:
                out[:, p, k] = rp * factorial(p) * (-1.0) ** (k - p - 1) * he[:, k - p - 1] * phi
    return out


def _step_hermite(k_max: int, beta: np.ndarray) -> np.ndarray:
    """``E[1(Z > -beta) He_k(Z)]``: ``Phi(beta)`` at k = 0, ``(-1)^(k-1) He_{k-1}(beta) phi(beta)``
    for k >= 1 (``He_k phi = -(He_{k-1} phi)'``).  Shape (m, k_max + 1)."""
    out = np.empty((beta.size, k_max + 1))
    out[:, 0] = ndtr(beta)
    if k_max >= 1:
        phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
        he = hermite_he(k_max - 1, beta)
        for k in range(1, k_max + 1):
            out[:, k] = (-1.0) ** (k - 1) * he[:, k - 1] * phi
    return out


def _heaviside_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """heaviside: ``H^p = H`` for p >= 1, so ``C_{p,k} = E[1(Z > -b/r) He_k(Z)]``.  Cost O(m p k)."""
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    out[:, 1:, :] = _step_hermite(k_max, b / r)[:, None, :]
    return out


def _sign_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sign: ``sign^p = 1`` for even p and ``= 2 H - 1`` for odd p (r > 0).  Cost O(m p k)."""
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    step = 2.0 * _step_hermite(k_max, b / r)
    step[:, 0] -= 1.0
    out[:, 0::2, 0] = 1.0
    out[:, 1::2, :] = step[:, None, :]
    return out


def _polynomial_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Polynomial sigma: ``sigma^p`` is the polynomial ``polypow(c, p)``, whose Hermite
    coefficients are exact (Gaussian raw moments).  Cost O(m p_max (p_max q)^2), q = deg sigma."""
    coefficients = np.asarray(act.coefficients, dtype=np.float64)  # type: ignore[attr-defined]
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    for p in range(1, p_max + 1):
        out[:, p, :] = Polynomial(npoly.polypow(coefficients, p)).hermite_coefficients(k_max, r, b)
    return out


class _RuleTable:
    """Key (an Activation subclass or a registered activation name) -> closed-form rule.
    Built on first use; changed only through :func:`register_power_hermite`."""

    def __init__(self) -> None:
        self._rules: dict[type | str, PowerHermiteRule] | None = None

    def rules(self) -> dict[type | str, PowerHermiteRule]:
        if self._rules is None:
            self._rules = {
                ReLU: _relu_rule,
                Polynomial: _polynomial_rule,
                "heaviside": _heaviside_rule,
                "sign": _sign_rule,
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
        from shinnet import activations

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
    """
    r, b = as_unit_arrays(r, b)
    if np.any(r <= 0):
        raise ValueError("quadrature_power_hermite needs r > 0 (constant units are handled by the caller)")
    out = _quadrature_block(act, p_max, k_max, r, b, 15.0, 20.0)
    if check and p_max >= 1 and r.size:
        _check_quadrature(act, p_max, k_max, r, b, out)
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
    from shinnet import activations

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
    with n = 2000 nodes for quadrature (r <= 10)."""
    from shinnet import activations

    act = activations.get(act)
    if closed_form_rule(act) is not None:
        return 10.0 * m * p_max * (k_max + 1)
    n = _QUAD_NODES
    return 2.0 * m * n * p_max * (k_max + 2) + m * n * float(act.flops)
