"""Conditional moments and unit CGFs behind shinnet.tails, against 2-d Gauss-Hermite quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from shinnet.model import TwoLayerMLP
from shinnet.tails.moments import conditional_mean_var, conditional_third, split_model
from shinnet.tails.unit_cgf import unit_cgf


def _two_unit_net(cos: float, hidden: str = "tanh") -> TwoLayerMLP:
    u1 = np.array([1.0, 0.0, 0.0])
    u2 = np.array([cos, np.sqrt(1 - cos**2), 0.0])
    W = np.stack([1.3 * u1, 0.9 * u2])
    return TwoLayerMLP(W=W, b=np.array([0.3, -0.4]), a=np.array([1.0, -0.7]), c=0.1, hidden=hidden)


def _gauss_hermite_cumulants(mlp: TwoLayerMLP, n: int = 160) -> tuple[float, float, float]:
    """kappa_1..3 of f for x ~ N(0, I_d) with the rows of W in span(e_1, e_2): 2-d Gauss-Hermite."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    Z1, Z2 = np.meshgrid(z, z, indexing="ij")
    X = np.zeros((n * n, mlp.d))
    X[:, 0], X[:, 1] = Z1.ravel(), Z2.ravel()
    f = mlp.preactivation(X)
    ww = np.outer(w, w).ravel()
    m1 = ww @ f
    c = f - m1
    return float(m1), float(ww @ c**2), float(ww @ c**3)


@pytest.mark.parametrize("cos", [0.0, 0.5, -0.8])
def test_unconditional_mean_variance_and_third_cumulant_match_quadrature(cos):
    mlp = _two_unit_net(cos)
    split = split_model(mlp, np.zeros((3, 0)))
    mean, var, bound, _ = conditional_mean_var(mlp, split, np.zeros((1, 0)), degree=40)
    k3, _ = conditional_third(mlp, split, np.zeros((1, 0)), degree=20)
    ref = _gauss_hermite_cumulants(mlp)
    assert mean[0] == pytest.approx(ref[0], abs=1e-12)
    assert abs(var[0] - ref[1]) <= bound[0] + 1e-10  # the degree bound is rigorous (reference good to ~1e-11)
    assert var[0] == pytest.approx(ref[1], rel=1e-8)
    # two units: no triangles exist, so the E <= 2 formula (pairs, paths u-v-u) is exact up to degree
    assert k3[0] == pytest.approx(ref[2], rel=1e-5, abs=1e-9)


def test_conditional_moments_equal_those_of_the_rebuilt_network_at_each_node():
    mlp = _two_unit_net(0.5)
    V = np.array([[0.6], [0.8], [0.0]])
    split = split_model(mlp, V)
    nodes = np.array([[-1.5], [0.0], [2.0]])
    mean, var, _, _ = conditional_mean_var(mlp, split, nodes, degree=40)
    for i, y in enumerate(nodes[:, 0]):
        # f_y: W' = W (I - V V^T), b' = b + W V y; its rows lie in a 2-d span -> rotate to (e_1, e_2)
        Wp = mlp.W - (mlp.W @ V) @ V.T
        Q, _ = np.linalg.qr(np.stack([Wp[0], Wp[1], V[:, 0]], axis=1))
        rot = TwoLayerMLP(W=Wp @ Q, b=mlp.b + (mlp.W @ V)[:, 0] * y, a=mlp.a, c=mlp.c, hidden=mlp.hidden)
        ref = _gauss_hermite_cumulants(rot)
        assert mean[i] == pytest.approx(ref[0], abs=1e-12)
        assert var[i] == pytest.approx(ref[1], rel=1e-8)


@pytest.mark.parametrize("hidden", ["relu", "tanh", "quadratic"])
def test_unit_cgf_matches_scipy_quad_of_each_unit(hidden):
    mlp = _two_unit_net(0.0, hidden)
    K = unit_cgf(mlp)
    r = np.linalg.norm(mlp.W, axis=1)
    for s in (-0.3, 0.2):
        ref0, ref1 = mlp.c * s, mlp.c
        for j in range(2):
            def y(z: float) -> float:
                return mlp.a[j] * float(np.asarray(mlp.hidden.value(np.array([r[j] * z + mlp.b[j]])))[0])

            def moment(k: int) -> float:
                return quad(lambda z: y(z) ** k * math.exp(s * y(z) - z * z / 2) / math.sqrt(2 * math.pi), -30, 30,
                            points=[-mlp.b[j] / r[j]], epsabs=1e-14, epsrel=1e-13, limit=500)[0]

            m0 = moment(0)
            ref0 += math.log(m0)
            ref1 += moment(1) / m0
        out = K(s)
        assert out[0] == pytest.approx(ref0, abs=1e-10)
        assert out[1] == pytest.approx(ref1, abs=1e-10)


def test_unit_cgf_refuses_cubic_units():
    from shinnet import activations

    mlp = _two_unit_net(0.0).replace(hidden=activations.polynomial([0.0, 0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="degree 3"):
        unit_cgf(mlp)
