"""Tests for shinnet.series: cumulants -> E[psi(f)] and P(f > t) (MATH.md section 6).

References: closed-form moments (polynomial psi), a symbolic expansion of the exponential
operator (sympy), and distributions with known cumulants and densities: a shifted/scaled gamma
(kappa_n = alpha (n-1)! scale^n) and the Irwin-Hall sum of uniforms (kappa_n = k B_n / n for even
n, odd ones 0), with E[psi] by adaptive 1-d quadrature (scipy.integrate.quad, error ~1e-12).
"""

from __future__ import annotations

import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, special, stats

from shinnet import activations, series
from shinnet.series.tail import NoSaddlepointError, lugannani_rice
from shinnet.series.terms import order_terms

# ----------------------------------------------------------------------------- references


def gamma_family(alpha: float, mean: float = 0.3, sd: float = 1.0, n_max: int = 12):
    """f = loc + scale G, G ~ Gamma(alpha): cumulants and the scipy distribution (s.d. = sd)."""
    scale = sd / math.sqrt(alpha)
    loc = mean - alpha * scale
    kappa = {1: mean}
    kappa.update({n: alpha * math.factorial(n - 1) * scale**n for n in range(2, n_max + 1)})
    return kappa, stats.gamma(alpha, loc=loc, scale=scale), loc


def exact_expectation(psi_name: str, dist, lower: float) -> float:
    """E[psi(f)] by adaptive quadrature against the density, split at psi's kink/jump at 0."""
    psi = activations.get(psi_name)
    integrand = lambda x: float(psi.value(np.array(x))) * dist.pdf(x)  # noqa: E731
    pieces = [(lower, 0.0), (0.0, np.inf)] if lower < 0.0 else [(lower, np.inf)]
    return sum(integrate.quad(integrand, a, b, limit=400, epsabs=1e-14, epsrel=1e-12)[0] for a, b in pieces)


def moments_from_cumulants(kappa: dict[int, float], n_max: int) -> list[float]:
    """Raw moments m_0..m_n_max by m_n = sum_{k=1}^n binom(n-1, k-1) kappa_k m_{n-k}."""
    m = [1.0]
    for n in range(1, n_max + 1):
        m.append(sum(math.comb(n - 1, k - 1) * kappa[k] * m[n - k] for k in range(1, n + 1)))
    return m


def irwin_hall_cumulants(k: int, n_max: int) -> dict[int, float]:
    """Sum of k iid U(-1/2, 1/2): kappa_n = k B_n / n (n even >= 2), 0 for odd n >= 3, mean 0."""
    kap = {1: 0.0}
    for n in range(2, n_max + 1):
        kap[n] = 0.0 if n % 2 else k * float(special.bernoulli(n)[n]) / n
    return kap


# ----------------------------------------------------------------------------- the grouping


def test_order_terms_match_mathematics_md_through_order_three():
    as_tuples = lambda q: [(t.powers, t.coefficient, t.derivative) for t in order_terms(q)]  # noqa: E731
    assert as_tuples(0) == [((), Fraction(1), 0)]
    assert as_tuples(1) == [(((3, 1),), Fraction(1, 6), 3)]
    assert as_tuples(2) == [(((4, 1),), Fraction(1, 24), 4), (((3, 2),), Fraction(1, 72), 6)]
    assert as_tuples(3) == [
        (((5, 1),), Fraction(1, 120), 5),
        (((3, 1), (4, 1)), Fraction(1, 144), 7),
        (((3, 3),), Fraction(1, 1296), 9),
    ]


def test_order_terms_count_is_the_partition_number():
    partition_numbers = [1, 1, 2, 3, 5, 7, 11, 15, 22, 30, 42]
    assert [len(order_terms(q)) for q in range(11)] == partition_numbers


def test_order_terms_match_symbolic_expansion_of_the_exponential_operator():
    sympy = pytest.importorskip("sympy")
    q_max = 5
    eps, D = sympy.symbols("eps D")
    ks = {n: sympy.Symbol(f"k{n}") for n in range(3, q_max + 3)}
    exponent = sum(ks[n] * eps ** (n - 2) * D**n / sympy.factorial(n) for n in ks)
    expansion = sympy.expand(sympy.series(sympy.exp(exponent), eps, 0, q_max + 1).removeO())
    for q in range(q_max + 1):
        ours = sum(
            sympy.Rational(t.coefficient.numerator, t.coefficient.denominator)
            * sympy.Mul(*[ks[n] ** m for n, m in t.powers])
            * D**t.derivative
            for t in order_terms(q)
        )
        assert sympy.expand(expansion.coeff(eps, q) - ours) == 0, q


# ----------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("order", [0, 1, 2, 4])
def test_identity_psi_gives_kappa_1_exactly(order):
    kappa = {1: -0.7, 2: 2.3, 3: 1.1, 4: -0.4, 5: 0.3, 6: 0.2}
    value = series.expectation("identity", kappa, order)
    assert float(value) == pytest.approx(-0.7, abs=1e-15)
    assert value.terms[1:] == [0.0] * order
    assert value.exact


def test_quadratic_psi_is_exact_at_order_zero():
    kappa = {1: 0.4, 2: 1.7}
    value = series.expectation("quadratic", kappa, 0)
    assert float(value) == pytest.approx(1.7 + 0.4**2, rel=1e-14)
    assert value.exact


def test_cubic_psi_is_exact_at_order_one_and_misses_exactly_kappa_3_at_order_zero():
    kappa = {1: 0.4, 2: 1.7, 3: -0.9}
    cubic = activations.polynomial([0.0, 0.0, 0.0, 1.0])
    exact = -0.9 + 3 * 0.4 * 1.7 + 0.4**3
    assert float(series.expectation(cubic, kappa, 1)) == pytest.approx(exact, rel=1e-14)
    assert float(series.expectation(cubic, kappa, 0)) == pytest.approx(exact + 0.9, rel=1e-14)
    assert series.expectation(cubic, kappa, 1).exact and not series.expectation(cubic, kappa, 0).exact


def test_degree_nine_polynomial_is_exact_at_order_seven_against_moment_recursion():
    rng = np.random.default_rng(7)
    coeffs = rng.normal(size=10)
    kappa = {n: float(v) for n, v in zip(range(1, 10), rng.normal(size=9) * 0.5)}
    kappa[2] = 1.3
    m = moments_from_cumulants(kappa, 9)
    exact = sum(c * m[i] for i, c in enumerate(coeffs))
    value = series.expectation(activations.polynomial(coeffs), kappa, 7)
    # rounding: sum of ~|c_i| m_i terms of size <~ 1e4, relative 1e-15 each
    assert float(value) == pytest.approx(exact, rel=1e-11, abs=1e-11)
    assert value.exact
    # order 6 leaves out kappa_9/9! g^(9) = kappa_9 c_9 exactly
    assert float(series.expectation(activations.polynomial(coeffs), kappa, 6)) == pytest.approx(
        exact - kappa[9] * coeffs[9], rel=1e-11, abs=1e-11
    )


# ----------------------------------------------------------------------------- asymptotics on a gamma


SMOOTH_AND_ROUGH = ["relu", "tanh", "sigmoid", "erf", "heaviside", "gelu", "softplus"]


@pytest.mark.parametrize("psi", SMOOTH_AND_ROUGH)
def test_series_error_shrinks_with_order_on_gamma_16(psi):
    # Gamma(16) shifted to mean 0.3, s.d. 1: skewness 0.5, the asymptotic range for orders 0..2
    kappa, dist, loc = gamma_family(16.0)
    exact = exact_expectation(psi, dist, loc)
    errors = [abs(float(series.expectation(psi, kappa, q)) - exact) for q in range(3)]
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.02 * errors[0], errors  # at least eps^2 ~ 1/16 better, with margin


@pytest.mark.parametrize("psi", ["tanh", "sigmoid", "erf"])
def test_series_error_scales_like_alpha_to_minus_q_plus_one_over_two(psi):
    # kappa_n ~ alpha^(1-n/2) at fixed s.d., so the order-q remainder is O(alpha^(-(q+1)/2)):
    # quadrupling alpha divides it by 2^(q+1).  Measured log2 ratios: 0.98-1.0, 2.1, 3.0.
    errs = {}
    for alpha in (64.0, 256.0):
        kappa, dist, loc = gamma_family(alpha)
        exact = exact_expectation(psi, dist, loc)
        errs[alpha] = [float(series.expectation(psi, kappa, q)) - exact for q in range(3)]
    for q in range(3):
        slope = math.log2(abs(errs[64.0][q] / errs[256.0][q]))
        assert abs(slope - (q + 1)) < 0.35, (q, slope)


@pytest.mark.parametrize("psi", ["tanh", "sigmoid", "erf"])
def test_next_term_estimates_the_remainder_in_the_asymptotic_range(psi):
    kappa, dist, loc = gamma_family(64.0)
    exact = exact_expectation(psi, dist, loc)
    value = series.expectation(psi, kappa, 3)
    for q in range(3):
        remainder = exact - value.partial_sums[q]
        ratio = remainder / value.terms[q + 1]
        assert 0.5 < ratio < 2.0, (q, ratio)
    assert value.last_term == abs(value.terms[-1])
    assert float(value) == pytest.approx(value.partial_sums[-1], rel=1e-15)


def test_relu_derivatives_are_the_closed_form_gaussian_means():
    kappa = {1: 0.3, 2: 2.0, 3: 0.5}
    value = series.expectation("relu", kappa, 1)
    s, mu = math.sqrt(2.0), 0.3
    a = mu / s
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    expected = [s * phi + mu * special.ndtr(a), special.ndtr(a), phi / s, -a * phi / s**2]
    np.testing.assert_allclose(value.derivatives, expected, rtol=1e-13)
    assert float(value) == pytest.approx(expected[0] + 0.5 / 6 * expected[3], rel=1e-14)


# ----------------------------------------------------------------------------- tails


def test_gaussian_cumulants_give_the_exact_normal_tail_by_both_methods():
    kappa = {1: 1.0, 2: 4.0}
    for t in (-3.0, 1.0, 2.5, 9.0):
        exact = special.ndtr(-(t - 1.0) / 2.0)
        for method in ("edgeworth", "saddlepoint"):
            assert float(series.tail_probability(kappa, t, method)) == pytest.approx(exact, rel=1e-12)


def test_edgeworth_tail_is_the_series_for_a_heaviside_psi():
    kappa, _, _ = gamma_family(9.0, mean=0.2, sd=1.5, n_max=6)
    t = 1.1
    shifted = dict(kappa)
    shifted[1] -= t  # P(f > t) = E[H(f - t)]
    tail = series.tail_probability(kappa, t, "edgeworth")
    expect = series.expectation("heaviside", shifted, 4)
    assert float(tail) == pytest.approx(float(expect), rel=1e-12)
    np.testing.assert_allclose(tail.terms, expect.terms, rtol=1e-10, atol=1e-15)


def test_tail_at_the_mean_is_the_lugannani_rice_limit_and_continuous():
    kappa, _, _ = gamma_family(4.0, mean=0.0, sd=1.0, n_max=6)
    limit = 0.5 - kappa[3] / (6 * math.sqrt(2 * math.pi))
    at_mean = series.tail_probability(kappa, 0.0, "saddlepoint")
    assert float(at_mean) == pytest.approx(limit, abs=1e-15)
    # both sides: slopes from the near-mean interpolation and from the formula further out agree
    # (P is smooth with P'(mu) ~ -phi(0)/s; rounding in 1/u - 1/w is ~1e-16/|z| there)
    for sign in (1.0, -1.0):
        p = [float(series.tail_probability(kappa, sign * z, "saddlepoint")) for z in (3e-6, 1e-3, 2e-3)]
        slope_near = (p[0] - limit) / (sign * 3e-6)
        slope_far = (p[2] - p[1]) / (sign * 1e-3)
        assert slope_near == pytest.approx(slope_far, rel=5e-3)
        assert slope_near == pytest.approx(-1 / math.sqrt(2 * math.pi), rel=0.05)


@pytest.mark.parametrize("z", [2.0, 3.0, 4.0])
def test_gamma_tail_saddlepoint_beats_edgeworth_far_out(z):
    # Gamma(4) (skewness 1), cumulants to kappa_6.  Measured relative errors
    # (Edgeworth, saddlepoint): z=2: 3.9e-2, 3.4e-2; z=3: -1.7e-1, 4.0e-2; z=4: 1.9e-1, 1.1e-2.
    kappa, dist, _ = gamma_family(4.0, n_max=6)
    t = kappa[1] + z
    exact = dist.sf(t)
    result = series.tail_probability(kappa, t)
    rel_edge = abs(result.edgeworth / exact - 1)
    rel_sp = abs(result.saddlepoint / exact - 1)
    assert rel_sp < 0.05 and rel_edge < 0.05 if z == 2.0 else rel_sp < 0.25 * rel_edge
    if z > 2.0:  # "auto" switches to the saddlepoint beyond |z| = 2
        assert result.method == "saddlepoint" and result.fallback is None
        assert float(result) == result.saddlepoint and result.alternative == result.edgeworth


def test_auto_uses_edgeworth_in_the_body_and_it_is_accurate_there():
    # Gamma(16) (skewness 0.5), kappa to 10: default Edgeworth order 8.  Measured relative
    # errors at order 8: 3e-7, 3e-9, 9e-8, 7.6e-6 at z = -1.5, 0, 1, 2 (the order-7 ones are
    # 9e-7 .. 4e-5, so the remainder is of the size of the last term, as it should be).
    kappa, dist, _ = gamma_family(16.0, n_max=10)
    for z in (-1.5, 0.0, 1.0, 2.0):
        t = kappa[1] + z
        result = series.tail_probability(kappa, t)
        assert result.method == "edgeworth" and result.order == 8
        assert float(result) == pytest.approx(dist.sf(t), rel=5e-5)


@pytest.mark.parametrize("alpha", [1.0, 4.0, 16.0])
def test_lugannani_rice_with_the_exact_gamma_cgf_is_accurate_to_the_stirling_error(alpha):
    # K(theta) = -alpha log(1 - theta); saddlepoint theta = 1 - alpha/t.  The LR relative error
    # for a gamma grows with t towards Stirling's relative error ~ 1/(12 alpha), so it is
    # below 1/(12 alpha) everywhere (measured: 2.2e-2, 3.9e-3, 5.5e-4 at z = 10).
    dist = stats.gamma(alpha)
    for z in (0.5, 2.0, 4.0, 10.0):
        t = alpha + z * math.sqrt(alpha)
        theta = 1.0 - alpha / t
        k0 = -alpha * math.log1p(-theta) - alpha * theta
        k2 = alpha / (1.0 - theta) ** 2
        value = lugannani_rice(t - alpha, theta, k0, k2)
        assert abs(value / dist.sf(t) - 1) < 1 / (12 * alpha)


def test_many_gamma_cumulants_reproduce_the_exact_cgf_lugannani_rice():
    # Gamma(4), kappa_1..kappa_60: the truncated CGF converges geometrically for |theta| < 1;
    # at z = 4 the saddlepoint is theta = 2/3, so the truncation error is ~(2/3)^60 ~ 3e-11.
    alpha = 4.0
    kappa = {n: alpha * math.factorial(n - 1) for n in range(1, 61)}
    for z in (2.5, 4.0):
        t = alpha + z * 2.0
        theta = 1.0 - alpha / t
        full = lugannani_rice(t - alpha, theta, -alpha * math.log1p(-theta) - alpha * theta, alpha / (1 - theta) ** 2)
        result = series.tail_probability(kappa, t)
        assert result.method == "saddlepoint"
        assert result.theta == pytest.approx(theta, rel=1e-9)
        assert float(result) == pytest.approx(full, rel=1e-8)
        assert abs(float(result) / stats.gamma(alpha).sf(t) - 1) < 1 / (12 * alpha)


def test_left_tail_saddlepoint_and_its_cgf_truncation_signal():
    # Gamma(16) at mean 0.3, s.d. 1 (scale 1/4: the CGF series converges for |theta| < 4).
    # With 60 cumulants, z = -1.5 has theta = 4 - 16/2.5 = -2.4, inside the radius (truncation
    # ~0.6^60 ~ 5e-14): LR matches the exact lower tail to the Stirling-level accuracy.
    kappa, dist, _ = gamma_family(16.0, n_max=60)
    inside = series.tail_probability(kappa, kappa[1] - 1.5, method="saddlepoint")
    assert inside.theta == pytest.approx(-2.4, rel=1e-9)
    assert (1 - float(inside)) / dist.cdf(kappa[1] - 1.5) - 1 == pytest.approx(0, abs=1 / (12 * 16))
    assert inside.cgf_last_term < 1e-10  # ~ 0.6^60 relative
    # with kappa to 6 only, the left tail at z = -2.5 sits beyond the radius (exact theta = -6.7):
    # measured relative error of the lower tail 128 %, and the signal says so (0.19, vs <= 0.03
    # in the right tail where the error is <= 1 %)
    short, dist6, _ = gamma_family(16.0, n_max=6)
    far_left = series.tail_probability(short, short[1] - 2.5)
    right = series.tail_probability(short, short[1] + 3.0)
    assert far_left.cgf_last_term > 0.1 and right.cgf_last_term < 0.03
    assert abs((1 - float(far_left)) / dist6.cdf(short[1] - 2.5) - 1) > 0.5
    assert abs(float(right) / dist6.sf(short[1] + 3.0) - 1) < 0.01


def test_missing_saddlepoint_falls_back_to_edgeworth_with_a_flag():
    # Sum of 3 uniforms truncated at kappa_4 < 0: K'' = k2 + k4 theta^2/2 vanishes at
    # theta* = sqrt(-2 k2/k4) where K' reaches (2/3) k2 theta*, i.e. z ~ 1.49 < 3.
    kappa = irwin_hall_cumulants(3, 4)
    s = math.sqrt(kappa[2])
    result = series.tail_probability(kappa, 3 * s)
    assert result.method == "edgeworth" and result.saddlepoint is None
    assert "no saddlepoint" in result.fallback
    with pytest.raises(NoSaddlepointError, match="no saddlepoint"):
        series.tail_probability(kappa, 3 * s, method="saddlepoint")
    # inside the reachable range the saddlepoint exists and is used on request
    inside = series.tail_probability(kappa, 1.0 * s, method="saddlepoint")
    assert inside.method == "saddlepoint" and inside.fallback is None


def irwin_hall_3_sf(x: float) -> float:
    """P(U1 + U2 + U3 - 3/2 > x) for U_i ~ U(0, 1), piecewise cubic."""
    u = x + 1.5
    if u <= 0.0:
        return 1.0
    if u >= 3.0:
        return 0.0
    if u <= 1.0:
        return 1.0 - u**3 / 6
    if u <= 2.0:
        return 1.0 - (-2 * u**3 + 9 * u**2 - 9 * u + 3) / 6
    return (3.0 - u) ** 3 / 6


@pytest.mark.parametrize("z", [0.5, 1.0, 1.5])
def test_irwin_hall_edgeworth_improves_on_gaussian_then_plateaus(z):
    # Sum of 3 uniforms (kappa_4 = -1/40, kappa_6 = 1/84, ...).  Measured errors: Gaussian
    # (order 0) 9.2e-3, 8.0e-3, 3.5e-3; order 2 (kappa_4) 1.1e-3, 5e-5, 1.1e-3; orders 2..10 stay
    # below 1.1e-3 without converging: the series is asymptotic (MATH.md section 6).
    kappa = irwin_hall_cumulants(3, 12)
    t = z * math.sqrt(kappa[2])
    exact = irwin_hall_3_sf(t)
    errors = [abs(float(series.tail_probability(kappa, t, "edgeworth", order=q)) - exact) for q in range(11)]
    assert errors[2] < 0.4 * errors[0]
    assert max(errors[2:]) < 1.5e-3


# ----------------------------------------------------------------------------- results and errors


def test_results_are_read_only_floats_that_pickle():
    value = series.expectation("relu", {1: 0.1, 2: 1.0, 3: 0.2}, 1)
    assert isinstance(value, float)
    with pytest.raises(AttributeError):
        value.terms = []
    again = pickle.loads(pickle.dumps(value))
    assert float(again) == float(value) and again.terms == value.terms
    tail = series.tail_probability({1: 0.0, 2: 1.0, 3: 0.1}, 0.5)
    assert pickle.loads(pickle.dumps(tail)).method == tail.method


@pytest.mark.parametrize(
    "kappa, order, message",
    [
        ({1: 0.0, 2: -1.0}, 0, "kappa_2 .* must be > 0"),
        ({1: 0.0, 2: 0.0}, 0, "kappa_2 .* must be > 0"),
        ({2: 1.0}, 0, "must contain kappa_1"),
        ({1: 0.0}, 0, "must contain kappa_2"),
        ({1: 0.0, 2: 1.0, 3: 0.1}, 2, r"missing \[4\]"),
        ({1: 0.0, 2: 1.0, 3: float("nan")}, 1, "not finite"),
        ({0: 1.0, 1: 0.0, 2: 1.0}, 0, ">= 1"),
        ({1: 0.0, 2: 1.0}, -1, "order must be >= 0"),
    ],
)
def test_expectation_rejects_bad_cumulants_and_orders(kappa, order, message):
    with pytest.raises(ValueError, match=message):
        series.expectation("tanh", kappa, order)


def test_bad_activation_order_type_and_methods_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown activation 'nonesuch'"):
        series.expectation("nonesuch", {1: 0.0, 2: 1.0}, 0)
    with pytest.raises(TypeError, match="integer"):
        series.expectation("tanh", {1: 0.0, 2: 1.0}, 1.5)
    with pytest.raises(TypeError, match="mapping"):
        series.expectation("tanh", [0.0, 1.0], 0)
    with pytest.raises(ValueError, match="method must be one of"):
        series.tail_probability({1: 0.0, 2: 1.0}, 1.0, method="exact")
    with pytest.raises(ValueError, match="contiguous"):
        series.tail_probability({1: 0.0, 2: 1.0, 4: 0.1}, 1.0)
    with pytest.raises(ValueError, match="kappa_2"):
        series.tail_probability({1: 0.0, 2: -1.0}, 1.0)


def test_high_order_for_a_non_polynomial_psi_is_refused_beyond_the_activation_contract():
    """Issue 10 item 3: derivatives beyond the accurate range (k <= 24) are refused, naming the order."""
    kappa = {n: 0.01 for n in range(1, 12)}
    kappa[2] = 1.0
    with pytest.raises(ValueError, match="series order 9 needs derivatives of g up to 27.*<= 8"):
        series.expectation("tanh", kappa, 9)
    assert np.isfinite(float(series.expectation("tanh", kappa, 8)))


def test_tail_probability_never_leaves_unit_interval_and_warns_when_clipped():
    """Platykurtic cumulants (kappa_4 < 0): the truncated CGF has no saddlepoint at z = 4 and the
    Edgeworth series goes negative there; the result is clipped to 0 with a warning."""
    kappa = {1: 0.0, 2: 1.0, 3: -0.1, 4: -0.75}
    with pytest.warns(RuntimeWarning, match="outside \\[0, 1\\]"):
        p = series.tail_probability(kappa, 4.0)
    assert float(p) == 0.0 and p.unclipped < 0.0
