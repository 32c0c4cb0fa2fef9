"""Gaussian derivative means and power-Hermite coefficients for steep units (large weight-row
norm r, any bias b) against mpmath (MATH.md sections 2 and 8; issue 10, item 1).

References (independent of the float64 code: other nodes, other panels, 40+ digits):

* smooth activations, r >= 0.5: the Stein integral ``gamma_k = E[sigma(rZ+b) He_k(Z)]`` of the
  activation itself (no splitting into asymptote + remainder) by 40-node Gauss-Legendre panels
  in mpmath, edges ``z0 +- 2^j / (3 r)`` around the transition ``z0 = -b/r`` merged with a grid of
  width 1 on [-18, 18]; precision raised by the digits the sum cancels
  (``log10 sqrt(k!)``, ``beta^2 / (2 ln 10)``, ``k log10(1/r)``).  Cross-checked against
  ``mpmath.quad`` split at the transition (``test_gl_reference_agrees_with_mpmath_quad``);
* smooth activations, r < 0.5: ``E[sigma^(k)(rZ+b)] = sum_j sigma^(k+2j)(b) r^(2j) / (2^j j!)``
  with symbolic pointwise derivatives (``tests/activations/test_activations.py::_derivs``);
* relu, heaviside, sign: their Gaussian closed forms evaluated in mpmath with ``mp.hermite``
  (not the recurrence the library uses), plus the Stein integral by ``mpmath.quad`` at r >= 0.5.

Criterion (scale-free, the one of docs/activations.md): ``|err_k| <= 1e-12 (|M_k| + |b| |M_(k+1)|
+ r^2 |M_(k+2)|) + 1e-14 |M_(k+1)|``, i.e. 1e-12 relative except at a zero of ``(r, b) -> M_k``,
where it is the change caused by relative changes of 1e-12 in r and b or an absolute change of
1e-14 in b (``dM_k/db = M_(k+1)``, ``dM_k/dr = r M_(k+2)``; the last term matters at b = 0, where
the even derivative means of odd activations vanish exactly).
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial, log10

import mpmath as mp
import numpy as np
import pytest
from test_activations import _derivs

import shinnet
from shinnet import activations, zoo
from shinnet.activations.power_hermite import power_hermite_coefficients

TOL = 1e-12
SMOOTH = ("sigmoid", "tanh", "softplus", "silu", "gelu", "erf")
CLOSED = ("relu", "heaviside", "sign")
R_GRID = (1e-3, 0.5, 1.0, 5.0, 200.0, 1000.0, 2000.0, 1e4)
B_GRID = (-3.0, 0.0, 0.3, 5.0)
K_MAX = 24


def _sig(x):
    return 1 / (1 + mp.exp(-x))


_MP_SIGMA = {
    "sigmoid": _sig,
    "tanh": mp.tanh,
    "softplus": lambda x: mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x)),
    "silu": lambda x: x * _sig(x),
    "gelu": lambda x: x * mp.ncdf(x),
    "erf": mp.erf,
    "relu": lambda x: x if x > 0 else mp.mpf(0),
    "heaviside": lambda x: mp.mpf(1) if x > 0 else mp.mpf(0),
    "sign": lambda x: mp.mpf(1) if x > 0 else mp.mpf(-1),
}


def _he_all(k_max, z):
    out = [mp.mpf(1), z]
    for j in range(1, k_max):
        out.append(z * out[j] - j * out[j - 1])
    return out[: k_max + 1]


@lru_cache(maxsize=None)
def _gl_nodes(n, dps):
    """Gauss-Legendre nodes/weights on [-1, 1] refined by Newton in mpmath at ``dps`` digits."""
    with mp.workdps(dps):
        x, _ = np.polynomial.legendre.leggauss(n)
        out = []
        for xi in x:
            root = mp.findroot(lambda t: mp.legendre(n, t), mp.mpf(xi))
            d = mp.diff(lambda t: mp.legendre(n, t), root)
            out.append((root, 2 / ((1 - root**2) * d**2)))
        return tuple(out)


def _digits(r, b, k_max, p=1):
    beta2 = (b / r) ** 2 if r > 0 else 0.0
    return int(40 + log10(factorial(k_max)) / 2 + beta2 / (2 * np.log(10)) + max(0.0, k_max * log10(1 / r)) + 5 * p)


@lru_cache(maxsize=None)
def stein_reference(name, r, b, k_max, p=1):
    """``[E[sigma(rZ+b)^p He_k(Z)] for k <= k_max]`` (mpf) by panelled Gauss-Legendre in mpmath."""
    dps = _digits(r, b, k_max, p)
    with mp.workdps(dps):
        r_, b_ = mp.mpf(r), mp.mpf(b)
        z0 = -b_ / r_
        edges = {mp.mpf(j) for j in range(-18, 19)}
        if -18 < z0 < 18:
            edges.add(z0)
            for j in range(40):
                step = mp.mpf(2) ** j / (3 * r_)
                if step > 2:
                    break
                for e in (z0 - step, z0 + step):
                    if -18 < e < 18:
                        edges.add(e)
        edges = sorted(edges)
        sigma = _MP_SIGMA[name]
        acc = [mp.mpf(0)] * (k_max + 1)
        nodes = _gl_nodes(40, dps)
        for lo, hi in zip(edges[:-1], edges[1:]):
            half, mid = (hi - lo) / 2, (hi + lo) / 2
            for xi, wi in nodes:
                z = mid + half * xi
                weight = wi * half * mp.npdf(z) * sigma(r_ * z + b_) ** p
                for k, h in enumerate(_he_all(k_max, z)):
                    acc[k] += weight * h
        return tuple(acc)


@lru_cache(maxsize=None)
def taylor_reference(name, r, b, k_max, terms=8):
    """``M_k = sum_j sigma^(k+2j)(b) r^(2j) / (2^j j!)`` for small r (mpf)."""
    with mp.workdps(50):
        d = _derivs(name, mp.mpf(b), tuple(range(k_max + 2 * terms + 1)))
        return tuple(
            sum(d[k + 2 * j] * mp.mpf(r) ** (2 * j) / (mp.mpf(2) ** j * mp.factorial(j)) for j in range(terms + 1))
            for k in range(k_max + 1)
        )


def _he(j, x):
    """Probabilists' He_j from mpmath's physicists' H_j (independent of the recurrence)."""
    return mp.hermite(j, x / mp.sqrt(2)) / mp.mpf(2) ** (mp.mpf(j) / 2)


@lru_cache(maxsize=None)
def closed_reference(name, r, b, k_max):
    """relu / heaviside / sign: ``E[sigma^(k)(rZ+b)]`` from the Gaussian closed forms in mpmath."""
    with mp.workdps(60):
        r_, b_ = mp.mpf(r), mp.mpf(b)
        a = b_ / r_
        phi = mp.npdf(a)
        out = []
        for k in range(k_max + 1):
            if name == "relu":
                if k == 0:
                    v = r_ * phi + b_ * mp.ncdf(a)
                elif k == 1:
                    v = mp.ncdf(a)
                else:
                    v = (-1) ** k * r_ ** (1 - k) * _he(k - 2, a) * phi
            else:
                scale = 1 if name == "heaviside" else 2
                if k == 0:
                    v = mp.ncdf(a) if name == "heaviside" else mp.erf(a / mp.sqrt(2))
                else:
                    v = scale * (-1) ** (k + 1) * r_ ** (-k) * _he(k - 1, a) * phi
            out.append(v)
        return tuple(out)


def reference_means(name, r, b, k_max):
    """``[E[sigma^(k)(rZ+b)] for k <= k_max]`` as floats."""
    if name in CLOSED:
        vals = closed_reference(name, r, b, k_max)
    elif r < 0.5:
        vals = taylor_reference(name, r, b, k_max)
    else:
        gam = stein_reference(name, r, b, k_max)
        with mp.workdps(_digits(r, b, k_max)):
            vals = tuple(g / mp.mpf(r) ** k for k, g in enumerate(gam))
    return [float(v) for v in vals]


def worst_error(name, r, b, ks):
    """max_k |err_k| / (1e-12 (|M_k| + |b| |M_(k+1)| + r^2 |M_(k+2)|) + 1e-14 |M_(k+1)|); <= 1 passes."""
    k_top = max(ks) + 2
    ref = reference_means(name, r, b, k_top)
    got = activations.get(name).gaussian_derivative_means(max(ks), r, b)[0]
    worst = 0.0
    for k in ks:
        scale = abs(ref[k]) + abs(b) * abs(ref[k + 1]) + r * r * abs(ref[k + 2]) + 1e-2 * abs(ref[k + 1])
        if scale < 1e-300:  # all three underflow: the value is 0 to double precision
            assert abs(got[k]) < 1e-290, (name, r, b, k, got[k])
            continue
        worst = max(worst, abs(got[k] - ref[k]) / (TOL * scale))
    return worst


def _quad_gamma(name, r, b, k, p=1):
    """``E[sigma(rZ+b)^p He_k(Z)]`` by ``mpmath.quad`` (tanh-sinh), split at the transition."""
    with mp.workdps(30):
        r_, b_ = mp.mpf(r), mp.mpf(b)
        z0 = -b_ / r_
        pts = {mp.mpf(-20), mp.mpf(0), mp.mpf(20)}
        for c in (0, 1, 4, 16, 48):
            for s in (-1, 1):
                if -20 < z0 + s * c / r_ < 20:
                    pts.add(z0 + s * c / r_)
        f = _MP_SIGMA[name]
        return mp.quad(lambda z: f(r_ * z + b_) ** p * _he_all(k, z)[k] * mp.npdf(z), sorted(pts))


# ----------------------------------------------------------------------------- the numbers
@pytest.mark.parametrize("r", [200.0, 1000.0, 2000.0])
def test_tanh_he1_coefficient_at_large_norm_matches_mpmath_quad(r):
    # issue 10: came out 0.780 / 0.609 / 0.012 against ~0.798 (a fixed rule cannot see width 1/r)
    got = activations.get("tanh").hermite_coefficients(2, r, 0.3)[0]
    ref = float(_quad_gamma("tanh", r, 0.3, 1))
    assert abs(got[1] - ref) <= 1e-12 * abs(ref), (got[1], ref)
    assert got[1] == pytest.approx(0.7979, abs=1e-4)  # 2 phi(0) (1 - O(r^-2)), the "about 0.798"


# ----------------------------------------------------------------------------- fast subset of the grid
@pytest.mark.parametrize(
    "name, r, b",
    [("tanh", 2000.0, 0.3), ("softplus", 200.0, 5.0), ("silu", 1000.0, 0.0)],
)
def test_logistic_family_steep_units_match_mpmath(name, r, b):
    assert worst_error(name, r, b, (0, 1, 2, 3, 6)) <= 1.0


@pytest.mark.parametrize("name", CLOSED)
@pytest.mark.parametrize("r, b", [(1e-3, 0.0), (1e-3, 5.0), (1e4, -3.0), (1e4, 0.3)])
def test_step_and_relu_closed_forms_at_extreme_norms_match_mpmath(name, r, b):
    assert worst_error(name, r, b, tuple(range(K_MAX + 1))) <= 1.0


# ----------------------------------------------------------------------------- full grid (slow)
@pytest.mark.slow
@pytest.mark.parametrize("b", B_GRID)
@pytest.mark.parametrize("r", R_GRID)
@pytest.mark.parametrize("name", SMOOTH + CLOSED)
def test_derivative_means_grid_against_mpmath_up_to_k24(name, r, b):
    assert worst_error(name, r, b, tuple(range(K_MAX + 1))) <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name, r, b", [("sigmoid", 1000.0, -3.0), ("silu", 5.0, 5.0), ("gelu", 200.0, 0.3)])
def test_gl_reference_agrees_with_mpmath_quad(name, r, b):
    ref = stein_reference(name, r, b, 13)
    for k in (0, 1, 7, 13):
        q = _quad_gamma(name, r, b, k)
        assert abs(ref[k] - q) <= 1e-25 * (abs(q) + 1), (k, ref[k], q)


def test_registered_names_are_all_covered_by_the_grid():
    aliases = {"step": "heaviside", "logistic": "sigmoid", "swish": "silu", "linear": "identity"}
    exact = {"identity", "quadratic"}  # raw Gaussian moments, exact (tests/activations/test_activations.py)
    covered = set(SMOOTH) | set(CLOSED) | exact
    builtin = set(activations._builtin_factories())  # names() may also hold names other tests registered
    assert builtin <= set(activations.names())
    assert {aliases.get(n, n) for n in builtin} <= covered


# ----------------------------------------------------------------------------- power-Hermite C_{p,k}
def power_hermite_worst(name, r, b, p_max, k_max):
    """max over p, k of |err C_{p,k}| / tol with tol = 1e-12 ((k + 1) |C_k| + |beta| |C_(k+1)| + |C_(k+2)|)
    + 1e-14 (1 + |C_(k+1)| / r): 1e-12 relative, or 1e-14 absolute, or (near a zero of (r, b) -> C_{p,k})
    the change caused by relative changes of 1e-12 in r and b (``r dC_k/dr = k C_k + C_(k+2)``,
    ``dC_k/db = C_(k+1) / r``: Stein) or an absolute change of 1e-14 in b."""
    C = power_hermite_coefficients(name, p_max, k_max, r, b)[0]
    worst = 0.0
    for p in range(1, p_max + 1):
        ref = [float(v) for v in stein_reference(name, r, b, k_max + 2, p)]
        for k in range(k_max + 1):
            tol = 1e-12 * ((k + 1) * abs(ref[k]) + abs(b / r) * abs(ref[k + 1]) + abs(ref[k + 2]))
            tol += 1e-14 * (1.0 + abs(ref[k + 1]) / r)
            worst = max(worst, abs(C[p, k] - ref[k]) / tol)
    return worst


@pytest.mark.parametrize("name, r, b", [("tanh", 1e4, 0.3), ("sigmoid", 0.5, 0.3)])
def test_power_hermite_matches_mpmath_steep_and_gentle(name, r, b):
    assert power_hermite_worst(name, r, b, 2, 4) <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("b", B_GRID)
@pytest.mark.parametrize("r", [0.5, 1.0, 5.0, 20.0, 200.0, 1000.0, 2000.0, 1e4])
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "silu"])
def test_power_hermite_grid_against_mpmath(name, r, b):
    assert power_hermite_worst(name, r, b, 4, 12) <= 1.0


# ----------------------------------------------------------------------------- the k <= 24 limit (item 3)
QUADRATURE = ("tanh", "sigmoid", "softplus", "silu")


@pytest.mark.parametrize("name", QUADRATURE)
def test_degree_above_the_accurate_range_is_refused_naming_the_limit(name):
    act = activations.get(name)
    assert act.max_accurate_degree == K_MAX
    for call in (act.gaussian_derivative_means, act.hermite_coefficients, act.gaussian_derivative_means_with_error):
        with pytest.raises(ValueError, match=r"k_max=25 .*k <= 24"):
            call(25, 1.0, 0.0)
    assert act.gaussian_derivative_means(24, 1.0, 0.0).shape == (1, 25)


def test_user_activation_refuses_degrees_above_24():
    act = activations.from_callable(np.arctan, "arctan")
    with pytest.raises(ValueError, match="k <= 24"):
        act.hermite_coefficients(30, 1.0, 0.0)


@pytest.mark.parametrize("name", ["relu", "heaviside", "sign", "erf", "gelu"])
def test_closed_forms_have_no_degree_limit_and_stay_accurate_to_k40(name):
    assert activations.get(name).max_accurate_degree is None
    assert worst_error(name, 1.0, 0.3, (0, 25, 40)) <= 1.0


# ----------------------------------------------------------------------------- end to end (item 1's reproducer)
def test_estimate_of_tanh_output_at_large_scale_agrees_with_monte_carlo():
    # f = 1500 x1 + 1300 x2 + 300 is exactly N(300, 1985^2): E[tanh f] = g(mu) = E[tanh(mu + s Z)],
    # the derivative mean at r = s ~ 2000, and the series has no other term.  The fixed rule
    # gave 0.1235 here against 0.1192 (4e-3, ~8 Monte Carlo standard errors at n = 4e6).
    mlp = shinnet.TwoLayerMLP(W=[[1500.0, 1300.0]], b=[300.0], a=[1.0], c=0.0, hidden="identity", output="tanh")
    est = shinnet.estimate(mlp, order=2, max_degree=1)
    s = float(np.hypot(1500.0, 1300.0))
    assert est.value == pytest.approx(float(_quad_gamma("tanh", s, 300.0, 0)), rel=1e-12)
    mc = shinnet.monte_carlo(mlp, n_samples=4_000_000, seed=3)
    assert abs(est.value - mc.value) <= 4.0 * mc.stderr, (est.value, mc.value, mc.stderr)


def test_resummed_estimate_of_steep_tanh_units_agrees_with_monte_carlo():
    # row norms ~950 (weight_scale 1000), d = 64 so the cosines are small: the resummed expansion
    # (same-unit terms exact, power-Hermite coefficients of the steep units) against sampling
    mlp = zoo.random_mlp(d=64, m=3, hidden="tanh", output="quadratic", seed=2, weight_scale=1000.0, bias_scale=0.5)
    assert np.min(np.linalg.norm(mlp.W, axis=1)) > 900
    est = shinnet.estimate(mlp, order=4, max_degree=4, expansion="resummed", max_edges=6)
    mc = shinnet.monte_carlo(mlp, n_samples=100_000, seed=1)
    assert abs(est.value - mc.value) <= 4.0 * mc.stderr, (est.value, mc.value, mc.stderr)


def test_degree_above_24_is_refused_by_estimate_before_any_work():
    mlp = zoo.random_mlp(d=3, m=4, hidden="tanh", seed=0)
    with pytest.raises(ValueError, match=r"max_degree=30 .*k <= 24"):
        shinnet.estimate(mlp, order=4, max_degree=30)
    with pytest.raises(ValueError, match=r"max_degree=25"):
        shinnet.shin_tensors(mlp, 25)
    assert shinnet.shin_tensors(zoo.random_mlp(d=3, m=4, hidden="relu", seed=0), 30).max_degree == 30


def test_user_callable_tanh_is_accurate_at_large_norms():
    # from_callable has no split: the Hermite route on the graded rule (+ unit-width x panels)
    user = activations.from_callable(np.tanh, "user_tanh")
    r = np.array([20.0, 200.0, 2000.0, 1e4])
    b = np.array([5.0, 0.3, -3.0, 0.0])
    got = user.hermite_coefficients(12, r, b)
    ref = activations.get("tanh").hermite_coefficients(12, r, b)  # checked against mpmath above
    scale = np.sqrt([float(factorial(k)) for k in range(13)])
    assert np.all(np.abs(got - ref) <= 1e-12 * np.abs(ref) + 1e-14 * scale), np.max(np.abs(got - ref) / scale)
    shifted = activations.from_callable(lambda x: np.tanh(x - 7.0), "tanh_shifted")  # a feature at x = 7
    ref7 = activations.get("tanh").hermite_coefficients(12, r, b - 7.0)
    assert np.all(np.abs(shifted.hermite_coefficients(12, r, b) - ref7) <= 1e-12 * np.abs(ref7) + 1e-14 * scale)


@pytest.mark.parametrize(
    "name",
    ["tanh", pytest.param("sigmoid", marks=pytest.mark.slow), pytest.param("softplus", marks=pytest.mark.slow), "silu"],
)
def test_power_hermite_at_tiny_norm_matches_taylor_series_in_r(name):
    # r = 1e-3: C_{p,k} = r^k E[(sigma^p)^(k)(rZ+b)] = r^k sum_j (sigma^p)^(k+2j)(b) r^2j / (2^j j!),
    # derivatives of sigma^p by mpmath's numerical differentiation at 50 digits; C_{p,k} ~ r^k, so
    # only a route without He_k cancellation (the derivative route) can be relative-accurate here
    r, b, p_max, k_max = 1e-3, 0.3, 2, 4
    C = power_hermite_coefficients(name, p_max, k_max, r, b)[0]
    with mp.workdps(50):
        for p in range(1, p_max + 1):
            d = mp.diffs(lambda x: _MP_SIGMA[name](x) ** p, mp.mpf(b), k_max + 8)
            d = list(d)
            for k in range(k_max + 1):
                series = sum(d[k + 2 * j] * mp.mpf(r) ** (2 * j) / (2**j * mp.factorial(j)) for j in range(4))
                ref = mp.mpf(r) ** k * series
                assert abs(C[p, k] - float(ref)) <= 1e-12 * abs(float(ref)), (p, k, C[p, k], ref)
