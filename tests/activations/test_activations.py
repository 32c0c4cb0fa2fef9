"""Activations: derivative means against 60-digit mpmath quadrature, values on numpy and torch,
the registry, user callables, and Stein's identity (MATH.md section 2)."""

from functools import lru_cache
from math import factorial

import mpmath as mp
import numpy as np
import pytest
import torch

from shinnet import activations
from shinnet.activations.quadrature import composite_legendre_rule

MP_DPS = 60  # the sigmoid polynomials cancel ~30 digits near s = 1; 60 leaves > 25
TOL = 1e-12
KS = (0, 1, 2, 3, 6, 11, 17, 24)
SMOOTH = ("sigmoid", "tanh", "softplus", "silu", "gelu", "erf")


# ----------------------------------------------------------------------------------------
# independent references: pointwise k-th derivatives by symbolic formulas, evaluated in mpmath
# ----------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _logistic_polys(k_max):
    """P_k with s^(k) = P_k(s): P_0 = s, P_{k+1} = P_k'(s) (s - s^2); exact integer coefficients."""
    polys = [[0, 1]]
    for _ in range(k_max):
        p = polys[-1]
        out = [0] * (len(p) + 1)
        for j in range(1, len(p)):
            out[j] += j * p[j]
            out[j + 1] -= j * p[j]
        polys.append(out)
    return polys


@lru_cache(maxsize=None)
def _tanh_polys(k_max):
    """Q_k with tanh^(k) = Q_k(t): Q_0 = t, Q_{k+1} = Q_k'(t) (1 - t^2)."""
    polys = [[0, 1]]
    for _ in range(k_max):
        p = polys[-1]
        out = [0] * (len(p) + 1)
        for j in range(1, len(p)):
            out[j - 1] += j * p[j]
            out[j + 1] -= j * p[j]
        polys.append(out)
    return polys


def _poly(coeffs, x):
    return mp.polyval(list(reversed(coeffs)), x)


def _he_all(j_max, x):
    """[He_0(x), .., He_{j_max}(x)] (probabilists') by the three-term recurrence, in mpmath."""
    out = [mp.mpf(1), x]
    for j in range(1, j_max):
        out.append(x * out[j] - j * out[j - 1])
    return out[: j_max + 1]


def _he(j, x):
    """Probabilists' He_j from mpmath's physicists' H_j (independent of the recurrence)."""
    return mp.hermite(j, x / mp.sqrt(2)) / mp.mpf(2) ** (mp.mpf(j) / 2)


def _derivs(name, x, ks):
    """[sigma^(k)(x) for k in ks] at one mpmath point."""
    if name in ("sigmoid", "silu", "softplus"):
        s = 1 / (1 + mp.exp(-x))
        p = _logistic_polys(max(ks) + 1)
        if name == "sigmoid":
            return [_poly(p[k], s) for k in ks]
        if name == "softplus":
            return [mp.log1p(mp.exp(x)) if k == 0 else _poly(p[k - 1], s) for k in ks]
        return [x * _poly(p[k], s) + (k * _poly(p[k - 1], s) if k else 0) for k in ks]  # Leibniz
    if name == "tanh":
        t = mp.tanh(x)
        return [_poly(_tanh_polys(max(ks))[k], t) for k in ks]
    if name == "gelu":  # gelu^(k) = k phi^(k-2) + x phi^(k-1), phi^(j) = (-1)^j He_j phi
        he, pdf = _he_all(max(ks), x), mp.npdf(x)
        d = lambda j: mp.ncdf(x) if j == -1 else (-1) ** j * he[j] * pdf  # noqa: E731
        return [x * d(k - 1) + (k * d(k - 2) if k else 0) for k in ks]
    if name == "erf":  # erf^(k)(x) = (2/sqrt(pi)) d^(k-1) e^(-x^2) = 2^(k/2+1) (-1)^(k-1) He_(k-1)(sqrt2 x) phi(sqrt2 x)
        y = mp.sqrt(2) * x
        he, pdf = _he_all(max(ks), y), mp.npdf(y)
        return [mp.erf(x) if k == 0 else mp.mpf(2) ** (mp.mpf(k) / 2 + 1) * (-1) ** (k - 1) * he[k - 1] * pdf for k in ks]
    raise KeyError(name)


@lru_cache(maxsize=None)
def _mp_nodes(n_nodes):
    x, w = np.polynomial.legendre.leggauss(n_nodes)  # refined in mpmath below
    nodes = []
    for xi in x:
        root = mp.findroot(lambda t: mp.legendre(n_nodes, t), mp.mpf(xi))
        d = mp.diff(lambda t: mp.legendre(n_nodes, t), root)
        nodes.append((root, 2 / ((1 - root**2) * d**2)))
    return nodes


@lru_cache(maxsize=None)
def reference_means(names, r, b, ks):
    """``{name: [E[sigma^(k)(rZ+b)] for k in ks]}`` by composite 40-node Gauss-Legendre in mpmath.

    Panels of width min(1, 1.25 / r) on [-14, 14]: the nearest singularity (tanh: pi/2 from
    the real x-axis) is >= 2.5 panel half-widths away (Bernstein rho >= 5.2).  A pole of order
    k + 1 = 27 has amplitude ~27!/0.36^27 on the rho = 4 ellipse, so 40 nodes (4^-80) leave
    < 1e-13 of the derivative's own size ~1e19 (20 nodes do not: they erred by 2e-7 at k = 17).
    The Gaussian mass beyond 14 times the largest derivative is < 1e-30.
    """
    with mp.workdps(MP_DPS):
        if r == 0:
            return {n: [float(v) for v in _derivs(n, mp.mpf(b), ks)] for n in names}
        width = min(1.0, 1.25 / r)
        panels = int(np.ceil(28.0 / width))
        h = mp.mpf(28) / panels / 2
        acc = {n: [mp.mpf(0)] * len(ks) for n in names}
        for p in range(panels):
            c = -14 + (2 * p + 1) * h
            for xi, wi in _mp_nodes(40):
                z = c + h * xi
                weight = wi * h * mp.npdf(z)
                x = mp.mpf(r) * z + mp.mpf(b)
                for n in names:
                    for i, v in enumerate(_derivs(n, x, ks)):
                        acc[n][i] += weight * v
        return {n: [float(v) for v in acc[n]] for n in names}


def _check_against_reference(name, r, b, ks=KS):
    """``|err_k| <= 1e-12 (|M_k| + (|b| + 1e-4) |M_{k+1}| + r^2 |M_{k+2}|)``: 1e-12 relative, except
    near a zero of (r, b) -> M_k, where it is the change caused by 1e-12 relative changes of
    b and r (dM_k/db = M_{k+1}, dM_k/dr = r M_{k+2} by Stein)."""
    full = tuple(sorted(set(ks) | {k + 1 for k in ks} | {k + 2 for k in ks}))
    ref = dict(zip(full, reference_means((name,), float(r), float(b), full)[name]))
    got = activations.get(name).gaussian_derivative_means(max(ks), r, b)[0]
    for k in ks:
        # |b| + 1e-4: at b = 0 a relative change of b is no change, so a mean that vanishes there by
        # symmetry (the even derivatives of sigmoid, tanh, erf at b = 0) would get zero tolerance;
        # there the scale is the change caused by an absolute 1e-16 change of b (one double ulp of 1)
        scale = abs(ref[k]) + (abs(b) + 1e-4) * abs(ref[k + 1]) + r * r * abs(ref[k + 2])
        # + 1e-14: the contract's absolute allowance (docs/design.md: 1e-12 relative or 1e-14 absolute)
        assert abs(got[k] - ref[k]) <= TOL * scale + 1e-14, (name, r, b, k, got[k], ref[k])


# ----------------------------------------------------------------------------------------
# derivative means against mpmath
# ----------------------------------------------------------------------------------------
FAST_POINTS = [(0.07, -1.5), (1.3, 0.6)]
SLOW_POINTS = [(0.9, 0.35), (2.5, -1.2), (0.75, -5.0), (5.0, 4.0)]


@pytest.mark.parametrize("r,b", FAST_POINTS)
@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_derivative_means_match_60_digit_mpmath_up_to_k24(name, r, b):
    _check_against_reference(name, r, b)


@pytest.mark.slow
@pytest.mark.parametrize("r,b", SLOW_POINTS)
@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_derivative_means_match_mpmath_more_points(name, r, b):
    _check_against_reference(name, r, b)


@pytest.mark.slow
@pytest.mark.parametrize("r", [0.01, 0.3, 0.6, 1.25, 2.0, 3.5, 5.0])
@pytest.mark.parametrize("b", [-5.0, -3.0, -0.4, 0.0, 1.7, 4.0])
@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_derivative_means_wide_sweep_against_mpmath(name, r, b):
    _check_against_reference(name, r, b, ks=tuple(range(25)))


def _step_reference(name, r, b, k):
    """E[sigma^(k)(rZ+b)] = r^-k E[sigma(rZ+b) He_k(Z)] (Stein), the integral by mpmath.quad."""
    with mp.workdps(30):
        lo = mp.mpf(-b) / r
        upper = mp.quad(lambda z: _he(k, z) * mp.npdf(z), [lo, mp.inf])
        if name == "heaviside":
            val = upper
        else:  # sign = 2H - 1 and E[He_k] = delta_k0
            val = 2 * upper - (1 if k == 0 else 0)
        return float(val / mp.mpf(r) ** k)


@pytest.mark.parametrize("name", ["heaviside", "sign"])
@pytest.mark.parametrize(
    "r,b", [(0.05, 0.01), (0.7, -1.3), pytest.param(2.0, 3.0, marks=pytest.mark.slow), pytest.param(5.0, -0.2, marks=pytest.mark.slow)]
)
def test_step_derivative_means_match_mpmath_stein_integral(name, r, b):
    got = activations.get(name).gaussian_derivative_means(24, r, b)[0]
    for k in (0, 1, 2, 5, 12, 24):
        ref = _step_reference(name, r, b, k)
        assert got[k] == pytest.approx(ref, rel=1e-12, abs=1e-300), (k, got[k], ref)


def test_step_at_zero_norm_is_constant_unit_and_rejects_delta_at_singularity():
    h = activations.get("heaviside")
    np.testing.assert_array_equal(h.gaussian_derivative_means(3, [0.0, 0.0], [2.0, -1.0]), [[1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(activations.get("sign").gaussian_derivative_means(2, 0.0, -3.0), [[-1, 0, 0]])
    with pytest.raises(ValueError, match="infinite"):
        h.gaussian_derivative_means(2, 0.0, 0.0)
    np.testing.assert_array_equal(h.hermite_coefficients(3, 0.0, 0.0), [[0.5, 0, 0, 0]])


@pytest.mark.parametrize("name", SMOOTH)
def test_zero_norm_gives_pointwise_derivatives(name):
    ks = tuple(range(9))
    ref = reference_means((name,), 0.0, -0.8, ks)[name]
    got = activations.get(name).gaussian_derivative_means(8, 0.0, -0.8)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


@pytest.mark.slow
def test_tanh_error_estimate_bounds_actual_error():
    """The per-entry error estimate is an honest (not tiny) statement: it covers the actual
    error against mpmath at a point where accuracy is lost (r = 0.75, b = -5, k = 24)."""
    tanh = activations.get("tanh")
    means, err = tanh.gaussian_derivative_means_with_error(24, 0.75, -5.0)
    ref = reference_means(("tanh",), 0.75, -5.0, (20, 24))["tanh"]
    for k, v in zip((20, 24), ref):
        assert abs(means[0, k] - v) <= err[0, k], (k, means[0, k], v, err[0, k])


# ----------------------------------------------------------------------------------------
# values, flops, registry
# ----------------------------------------------------------------------------------------
ALL = ("relu", "heaviside", "sign", "identity", "erf", "tanh", "sigmoid", "gelu", "silu", "softplus")


@pytest.mark.parametrize("name", ALL)
def test_value_numpy_and_torch_agree_in_float64_and_float32(name):
    act = activations.get(name)
    z = np.concatenate([np.linspace(-40, 40, 81), [-1e-3, 0.0, 1e-3, 0.5]])
    ref = act.value(z)
    assert isinstance(ref, np.ndarray) and ref.dtype == np.float64
    for dtype, tdtype, tol, tiny in ((np.float32, torch.float32, 1e-6, 1e-35), (np.float64, torch.float64, 1e-15, 1e-300)):
        out_np = act.value(z.astype(dtype))
        out_t = act.value(torch.tensor(z, dtype=tdtype))
        assert isinstance(out_np, np.ndarray) and out_np.dtype == dtype
        assert isinstance(out_t, torch.Tensor) and out_t.dtype == tdtype
        # rounding z to float32 (or an intermediate like z/sqrt2) moves sigma(z) by
        # |z sigma'(z) / sigma(z)| <= 1 + z^2 ulps (gelu's left tail is the worst: 2 z^2);
        # float32 underflows below 1e-38
        bound = tol * (1.0 + z * z) * np.abs(ref) + tiny
        assert np.all(np.abs(out_t.numpy().astype(np.float64) - out_np) <= bound)
        assert np.all(np.abs(out_np.astype(np.float64) - ref) <= bound)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "silu", "gelu", "erf"])
def test_value_matches_mpmath_to_a_few_ulps(name):
    """A few ulps; gelu's erfc(-z/sqrt2) amplifies the rounding of z/sqrt2 by 2 y^2 (~900 at
    z = -30), so it gets 1000 ulps."""
    z = np.array([-30.0, -3.0, -0.2, 0.0, 0.4, 2.5, 30.0])
    got = activations.get(name).value(z)
    with mp.workdps(30):
        ref = np.array([float(_derivs(name, mp.mpf(x), (0,))[0]) for x in z])
    np.testing.assert_allclose(got, ref, rtol=2.3e-13 if name == "gelu" else 4e-16, atol=1e-300)


def test_step_values_including_zero():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(activations.get("heaviside").value(z), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(activations.get("sign").value(z), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("name", ALL)
def test_every_activation_states_flops_and_accuracy(name):
    act = activations.get(name)
    assert act.flops >= 1.0 and isinstance(act.accuracy, str) and act.accuracy


def test_unknown_name_error_lists_registered_names():
    with pytest.raises(ValueError) as info:
        activations.get("tanhh")
    for name in ("tanh", "gelu", "silu", "softplus", "heaviside", "sign", "erf", "sigmoid"):
        assert name in str(info.value)


def test_registering_a_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        activations.register("tanh", activations.get("tanh").__class__)


def test_bad_k_max_and_negative_norm_are_rejected():
    with pytest.raises(ValueError, match="k_max"):
        activations.get("tanh").gaussian_derivative_means(-1, 1.0, 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        activations.get("gelu").gaussian_derivative_means(3, -1.0, 0.0)


def test_means_are_vectorised_over_units():
    act = activations.get("silu")
    r, b = np.array([0.2, 1.0, 3.0]), np.array([0.5, -1.0, 2.0])
    batch = act.gaussian_derivative_means(6, r, b)
    single = np.vstack([act.gaussian_derivative_means(6, ri, bi) for ri, bi in zip(r, b)])
    assert batch.shape == (3, 7)
    np.testing.assert_allclose(batch, single, rtol=1e-14, atol=0)


# ----------------------------------------------------------------------------------------
# user callables
# ----------------------------------------------------------------------------------------
def _atan_deriv(k, x):
    """atan^(k)(x) = Im[(-1)^(k-1) (k-1)! / (x - i)^k] for k >= 1 (atan' = Im 1/(x - i))."""
    if k == 0:
        return mp.atan(x)
    return mp.im((-1) ** (k - 1) * mp.factorial(k - 1) / (x - 1j) ** k)


def test_from_callable_without_derivatives_matches_mpmath_and_states_its_limit():
    act = activations.from_callable(np.arctan, "arctan")
    assert "loses" in act.accuracy and "r^k" in act.accuracy
    r, b = 1.1, 0.3
    means, err = act.gaussian_derivative_means_with_error(8, r, b)
    with mp.workdps(30):
        ref = [float(mp.quad(lambda z: _atan_deriv(k, r * z + b) * mp.npdf(z), [-12, -4, 0, 4, 12])) for k in (0, 1, 4, 8)]
    for k, v in zip((0, 1, 4, 8), ref):
        assert abs(means[0, k] - v) <= max(1e-12 * abs(v), 2 * err[0, k]), (k, means[0, k], v, err[0, k])


def test_from_callable_with_derivatives_is_accurate_at_small_r():
    """Without derivatives the Stein route divides by r^k; with them small r is exact."""
    derivs = [lambda x: 1.0 / (1.0 + x * x), lambda x: -2.0 * x / (1.0 + x * x) ** 2]
    act = activations.from_callable(np.arctan, "arctan", derivatives=derivs)
    assert "Derivatives given up to order 2" in act.accuracy
    means = act.gaussian_derivative_means(2, 1e-3, 0.5)[0]
    with mp.workdps(30):
        ref = [float(mp.quad(lambda z: _atan_deriv(k, 1e-3 * z + 0.5) * mp.npdf(z), [-12, 0, 12])) for k in range(3)]
    np.testing.assert_allclose(means, ref, rtol=1e-13)


def test_from_callable_rejects_bad_input():
    with pytest.raises(TypeError):
        activations.from_callable(3.0, "three")
    with pytest.raises(ValueError, match="elementwise"):
        activations.from_callable(lambda z: np.sum(z), "sum")
    with pytest.raises(ValueError, match="not finite"):
        activations.from_callable(np.tanh, "plain_tanh").gaussian_derivative_means(2, 0.0, 0.3)


def test_from_callable_registers_and_is_retrievable():
    act = activations.from_callable(np.arctan, "arctan_test_registry")
    activations.register("arctan_test_registry", lambda: act, overwrite=True)
    assert activations.get("arctan_test_registry") is act


# ----------------------------------------------------------------------------------------
# Stein identity: gamma_k = r^k E[sigma^(k)] = E[sigma(rZ+b) He_k(Z)] by independent quadrature
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_hermite_coefficients_equal_gaussian_hermite_projection(name):
    """Independent quadrature: composite 64-node Gauss-Legendre on [-12, 12] in panels of 0.25,
    with a panel edge at the kink/jump -b/r (relu, steps), numpy He_k series.  Error scale:
    eps * sqrt(k!) E|sigma| (the size of the cancelling terms)."""
    act = activations.get(name)
    r, b = 1.3, 0.4
    kink = -b / r
    z, w = composite_legendre_rule(-12.0, 12.0, 96, 64)
    z = z + (kink - np.round(kink * 4) / 4)  # shift panels so an edge sits at the kink
    w = w * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    sig = act.value(r * z + b)
    got = act.hermite_coefficients(12, r, b)[0]
    for k in range(13):
        coef = np.zeros(k + 1)
        coef[k] = 1.0
        proj = np.sum(w * sig * np.polynomial.hermite_e.hermeval(z, coef))
        scale = np.sqrt(float(factorial(k))) * np.sum(w * np.abs(sig)) + 1.0
        assert abs(got[k] - proj) <= 1e-13 * scale, (k, got[k], proj)


@pytest.mark.parametrize("factory", [5, "tanh", lambda: 3.0, lambda: 1 / 0])
def test_register_refuses_a_factory_that_is_not_a_callable_returning_an_activation(factory):
    """Issue 10 item 10: ``register("x", 5)`` used to be accepted and fail only at first use."""
    with pytest.raises(TypeError, match="register\\('bad_factory_test'"):
        activations.register("bad_factory_test", factory)
    assert "bad_factory_test" not in activations.names()
