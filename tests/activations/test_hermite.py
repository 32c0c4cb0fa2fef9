"""He_k and the Gaussian quadrature rules against independent references."""

from math import factorial

import numpy as np
import pytest

from shinnet.hermite import gauss_hermite_rule, gauss_legendre_normal_rule, hermite_he


def test_hermite_he_matches_numpy_hermite_e_series():
    x = np.linspace(-4, 4, 17)
    values = hermite_he(12, x)
    for k in range(13):
        coef = np.zeros(k + 1)
        coef[k] = 1.0
        np.testing.assert_allclose(values[:, k], np.polynomial.hermite_e.hermeval(x, coef), rtol=1e-12, atol=1e-9)


def test_hermite_he_orthogonality_under_gaussian_quadrature():
    z, w = gauss_hermite_rule(40)  # exact for degree <= 79
    he = hermite_he(15, z)
    gram = (he * w[:, None]).T @ he
    norms = np.sqrt([float(factorial(k)) for k in range(16)])
    # normalised Gram of He_k / sqrt(k!) is the identity; entries are O(1), so 1e-12 is rounding
    np.testing.assert_allclose(gram / np.outer(norms, norms), np.eye(16), atol=1e-12)


@pytest.mark.parametrize("rule", [lambda: gauss_hermite_rule(60), lambda: gauss_legendre_normal_rule(2000)])
def test_rules_integrate_normal_moments_exactly(rule):
    z, w = rule()
    for n, expected in [(0, 1.0), (2, 1.0), (4, 3.0), (6, 15.0), (8, 105.0)]:
        # summing 2000 terms of mixed size: a few hundred ulps of rounding
        assert np.sum(w * z**n) == pytest.approx(expected, rel=1e-12)
    assert np.sum(w * np.cos(z)) == pytest.approx(np.exp(-0.5), rel=1e-12)


def test_rules_are_read_only_and_cached():
    z, w = gauss_hermite_rule(10)
    with pytest.raises(ValueError):
        z[0] = 1.0
    assert gauss_hermite_rule(10)[0] is z


def test_hermite_he_rejects_negative_degree():
    with pytest.raises(ValueError, match="k_max"):
        hermite_he(-1, 0.0)
