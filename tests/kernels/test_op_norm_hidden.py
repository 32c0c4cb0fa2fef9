"""Exact hidden-unit-space operator norms (``op_norm_hidden``) against the dense SVD, and the auto rule."""

from __future__ import annotations

import numpy as np
import pytest

from shinnet.kernels.norms import factored_dense, hidden_factor, op_norm_dense, op_norm_hidden
from shinnet.kernels.op_norm_choice import choose_op_norm_method, factored_op_norm, op_norm_flops
from shinnet import TwoLayerMLP
from shinnet.tensors.blocks import BlockVertices
from shinnet.tensors.power_shin import power_shin_tensors
from shinnet.tensors.shin import ShinTensors


def unit_rows(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    U = rng.standard_normal((m, d))
    return U / np.linalg.norm(U, axis=1)[:, None]


def svd_norm(w: np.ndarray, U: np.ndarray, p: int, k: int) -> float:
    d = U.shape[1]
    T = factored_dense(w, U, k).reshape(d**p, d ** (k - p))
    return float(np.linalg.svd(T, compute_uv=False)[0]) if 0 < p < k else float(np.linalg.norm(T))


CASES = [(d, m, k) for d in (2, 3, 4, 6) for m in (1, 2, 5, 9, 20) for k in range(1, 7) if d**k <= 50_000]


@pytest.mark.parametrize("d,m,k", CASES)
def test_hidden_norm_matches_dense_svd_for_every_split(d, m, k):
    rng = np.random.default_rng(1000 * d + 10 * m + k)
    U = unit_rows(rng, m, d)
    w = rng.standard_normal(m)
    for p in range(k + 1):
        expected = svd_norm(w, U, p, k)
        res = op_norm_hidden(w, U, p, k - p)
        assert res.value == pytest.approx(expected, rel=1e-10), (p, res)
        assert res.method == ("hidden" if 0 < p < k else "frobenius")
        assert 0 < res.error_estimate < 1e-10
        # the same through the public entry point, both orders of (p, q)
        assert factored_op_norm(w, U, k - p, p, method="hidden").value == pytest.approx(expected, rel=1e-10)


def test_covers_more_and_fewer_hidden_units_than_the_row_space():
    # m > d^p and m < d^p both appear in CASES; check it so the sweep cannot silently shrink
    assert any(m > d**min(p, k - p) for d, m, k in CASES for p in range(1, k))
    assert any(m < d**min(p, k - p) for d, m, k in CASES for p in range(1, k))


@pytest.mark.parametrize("d,k", [(2, 4), (3, 5), (4, 6), (5, 3)])
def test_rank_deficient_rows_repeated_and_antipodal(d, k):
    rng = np.random.default_rng(7 * d + k)
    base = unit_rows(rng, 3, d)
    U = np.vstack([base, base, -base[:1], base[1:2]])  # repeated rows and a sign flip: G singular
    w = rng.standard_normal(U.shape[0])
    w[3] = -w[0] + 0.25  # partial cancellation between copies of the same row
    assert np.linalg.matrix_rank(U @ U.T) <= 3
    for p in range(1, k):
        assert op_norm_hidden(w, U, p, k - p).value == pytest.approx(svd_norm(w, U, p, k), rel=1e-10)


def test_factor_is_a_square_root_of_the_hadamard_power_with_its_rank():
    rng = np.random.default_rng(3)
    U = unit_rows(rng, 30, 3)
    for p in (1, 2, 3):
        F = hidden_factor(U, p)
        G = U @ U.T
        np.testing.assert_allclose(F @ F.T, G**p, atol=1e-12)
        assert F.shape[1] == {1: 3, 2: 6, 3: 10}[p]  # C(d+p-1, p): the symmetric tensor space


def test_exact_zero_and_rank_one():
    rng = np.random.default_rng(5)
    U = unit_rows(rng, 4, 3)
    assert op_norm_hidden(np.zeros(4), U, 2, 2).value == 0.0
    w = np.array([0.0, -2.5, 0.0, 0.0])
    for p, q in [(1, 1), (1, 3), (2, 2), (2, 3)]:
        assert op_norm_hidden(w, U, p, q).value == pytest.approx(2.5, rel=1e-13)


def test_shin_tensors_method_hidden_and_auto_choice():
    rng = np.random.default_rng(11)
    m, d, K = 16, 16, 6
    lam = rng.standard_normal((K + 1, m))
    S = ShinTensors(lam=lam, U=unit_rows(rng, m, d))
    res = S.op_norm_details(6, 3)  # d^6 = 16.7M entries: the size rule said lanczos
    assert res.method == "hidden"
    assert res.value == pytest.approx(S.op_norm(6, 3, method="lanczos", tol=1e-13), rel=1e-10)
    assert S.op_norm_details(4, 2).method == "hidden"  # a 256 x 256 SVD against a 16 x 16 eigh
    assert S.op_norm_details(4, 2).value == pytest.approx(S.op_norm(4, 2, method="dense"), rel=1e-10)
    assert S.op_norm_details(2, 1).method == "dense"  # a 16 x 16 SVD is cheaper still
    assert ("dense", 6) not in S._cache
    assert S.op_norm(5, 1, method="hidden") == pytest.approx(S.op_norm(5, 4, method="gram"), rel=1e-10)
    with pytest.raises(ValueError, match="method must be"):
        S.op_norm(4, 2, method="svd")


def test_auto_rule_compares_the_flop_estimates():
    assert choose_op_norm_method(16, 16, 6, 3) == "hidden"
    assert choose_op_norm_method(256, 16, 6, 3) == "lanczos"  # 9 m^3 = 1.5e8 > 20 Lanczos steps
    assert choose_op_norm_method(40, 16, 6, 1) == "gram"
    assert choose_op_norm_method(40, 16, 3, 1) == "dense"
    assert choose_op_norm_method(5000, 4, 6, 3) == "dense"  # m x m arrays too large for hidden
    f = op_norm_flops(16, 16, 6, 3)
    assert f["hidden"] < min(f["dense"], f["gram"], f["lanczos"])


def test_block_vertices_op_norm_matches_the_svd_of_its_dense_block_tensor():
    rng = np.random.default_rng(8)
    mlp = TwoLayerMLP(W=rng.normal(size=(7, 3)), b=rng.normal(size=7), a=rng.normal(size=7), hidden="tanh")
    blocks = BlockVertices(power_shin_tensors(mlp, 3, 3))
    for keys, legs in [(((1, 2),), 2), (((1, 3), (2, 1)), 4), (((2, 2), (1, 1), (1, 3)), 6), (((1, 1),), 5)]:
        label = (keys, legs)
        T = np.asarray(blocks.dense(label))
        for q in range(legs + 1):
            M = T.reshape(3**q, 3 ** (legs - q))
            expected = np.linalg.svd(M, compute_uv=False)[0] if 0 < q < legs else np.linalg.norm(M)
            assert blocks.op_norm(label, q) == pytest.approx(expected, rel=1e-10)
    assert blocks.op_norm((((1, 1),), 0), 0) == pytest.approx(abs(blocks.weights((((1, 1),), 0)).sum()), rel=1e-14)
    assert "gram" in blocks._hidden  # the Gram matrix and its factors are shared across labels
