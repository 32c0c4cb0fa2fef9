"""Moebius block decomposition of the resummed diagrams (MATH.md section 8, "In d-space") and
the lambda* / Euler diagnostics."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from shinnet.contract.diagnostics import ConvergenceWarning
from shinnet.contract.lambda_star import euler_partial_sums, lambda_star, resummed_report, warn_if_asymptotic
from shinnet.enumerate import resummed_diagrams
from shinnet.enumerate.blocks import (
    connected_partitions,
    moebius_terms,
    spanning_connected_sign,
)
from shinnet.enumerate.blocks_cache import quotient_table


@pytest.mark.parametrize(
    "n, edges, expected",
    [
        (1, [], 1),
        (2, [(0, 1)], -1),
        (3, [(0, 1), (1, 2)], 1),
        (3, [(0, 1), (1, 2), (0, 2)], 2),
        (4, [(0, 1), (1, 2), (2, 3), (0, 3)], -3),
        (4, list(itertools.combinations(range(4), 2)), -6),
        (3, [(0, 1)], 0),  # disconnected
    ],
)
def test_eps_matches_the_values_listed_in_math_section_8(n, edges, expected):
    assert spanning_connected_sign(n, edges) == expected


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_eps_of_cycles_and_complete_graphs_match_tutte_closed_forms(n):
    # T_{C_n}(1, 0) = n - 1 and T_{K_n}(1, 0) = (n-1)!, so eps = (-1)^(n-1) T(1, 0)
    cycle = [(i, (i + 1) % n) for i in range(n)]
    assert spanning_connected_sign(n, cycle) == (-1) ** (n - 1) * (n - 1)
    if n <= 5:
        full = list(itertools.combinations(range(n), 2))
        assert spanning_connected_sign(n, full) == (-1) ** (n - 1) * int(np.prod(range(1, n)))


def test_connected_partitions_of_complete_graph_are_all_bell_many_and_of_path_are_compositions():
    bell = {1: 1, 2: 2, 3: 5, 4: 15, 5: 52}
    for n, count in bell.items():
        assert len(connected_partitions(n, list(itertools.combinations(range(n), 2)))) == count
        # a path's connected blocks are intervals: 2^(n-1) compositions
        assert len(connected_partitions(n, [(i, i + 1) for i in range(n - 1)])) == 2 ** (n - 1)


def test_moebius_coefficients_sum_to_zero_for_every_graph_with_edges():
    # sum_pi mu_G(pi) = sum over all edge subsets S of (-1)^|S| = 0 when G has an edge
    for dg in resummed_diagrams(4, 4):
        total = sum(mu for _, mu in moebius_terms(dg))
        assert total == (1 if dg.n_edges == 0 else 0), dg.key


def test_quotient_table_coefficients_at_E0_and_E1_by_hand():
    # kappa_3^[0] = sum_u kap_{3,0}: one single-block quotient with coefficient 1
    (q0, c0), = quotient_table(3, 0)
    assert c0 == 1 and q0.blocks == ((((3, 0),), 0),)
    # kappa_2^[1] = lam_1^T Rt lam_1 = Net(edge) - Net(merged):
    table = dict((q.key, c) for q, c in quotient_table(2, 1))
    assert sorted(table.values()) == [Fraction(-1), Fraction(1)]


def test_lambda_star_of_three_units_with_equal_cosines_is_twice_the_cosine():
    R = 0.7 * np.eye(3) + 0.3 * np.ones((3, 3))
    U = np.linalg.cholesky(R)
    lam = lambda_star(U, 3)
    assert lam.values[2] == pytest.approx(0.3, abs=1e-14)
    assert lam.values[3] == pytest.approx(0.6, abs=1e-14)  # 0.3 (J - I) has top eigenvalue 2 * 0.3


def test_greedy_lambda_star_is_a_lower_bound_exact_for_pairs_against_brute_force():
    rng = np.random.default_rng(4)
    U = rng.standard_normal((9, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    R = U @ U.T
    lam = lambda_star(U, 4)
    for s in (2, 3, 4):
        brute = max(np.linalg.eigvalsh(R[np.ix_(S, S)] - np.eye(s))[-1] for S in itertools.combinations(range(9), s))
        assert lam.values[s] <= brute + 1e-12
        if s == 2:
            assert lam.values[s] == pytest.approx(brute, abs=1e-14)
    assert all(lam.values[s] <= lam.values[s + 1] + 1e-14 for s in (2, 3))  # interlacing


def test_euler_reexpansion_sums_a_divergent_geometric_series_to_its_analytic_continuation():
    lam = 2.0  # sum_E (-2)^E s^E diverges at s = 1; its continuation is 1/(1 + 2) = 1/3
    terms = [(-lam) ** E for E in range(30)]
    sums = euler_partial_sums(terms, lam)
    # lam s(w) = 2w/(1-w), so the function is (1-w)/(1+w) = 1 + 2 sum_{N>=1} (-w)^N: the pole
    # sits at w = -1 and the error after N terms is 2 w0^(N+1)/(1+w0) with w0 = 1/(1 + 2 sigma) = 1/2
    for N in (10, 20, 29):
        assert abs(sums[N] - 1.0 / 3.0) == pytest.approx(2 * 0.5 ** (N + 1) / 1.5, rel=1e-6)
    assert abs(np.cumsum(terms)[-1] - 1.0 / 3.0) > 1e6  # the raw partial sums are useless


def test_euler_coefficients_match_direct_binomial_expansion():
    t = [0.5, -1.0, 2.0, 0.25]
    sigma = 1 / 1.5
    w0 = 1 / (1 + 2 * sigma)
    c = [t[0]] + [sum(t[E] * (2 * sigma) ** E * comb(N - 1, N - E) for E in range(1, N + 1)) for N in range(1, 4)]
    assert euler_partial_sums(t, 1.5)[-1] == pytest.approx(sum(c[N] * w0**N for N in range(4)), rel=1e-14)


def test_report_picks_smallest_pair_of_terms_as_best_truncation_and_flags_asymptotic():
    terms = [1.0, 0.5, 0.1, 0.05, 0.2, 3.0]
    rep = resummed_report(4, terms, 1.7)
    assert rep.asymptotic and rep.best_edges == 3
    assert rep.best_value == pytest.approx(sum(terms[:4]))
    # small terms before the peak are not the optimal truncation (measured d = 16 relu kappa_4 pattern)
    rising = resummed_report(4, [9e-4, -3e-4, 1.1e-2, -6.6e-3, 3e-3, -4e-4], 2.0)
    assert rising.best_edges == 5
    conv = resummed_report(4, [1.0, 0.5, 0.25, 0.125, 0.0625], 0.5)
    assert not conv.asymptotic and conv.ratio == pytest.approx(0.5) and conv.euler is None
    assert rep.settled and rising.settled and conv.settled


def test_report_flags_terms_that_never_fall_as_not_settled_and_the_warning_says_so():
    # measured: kappa_4 of trained_mlp(16, 4096, "teacher", hidden="tanh"), terms at E = 0..5; the terms peak at
    # E = 3 and have only fallen to 0.79 of the peak pair by E = 5, so no partial sum is a truncation
    terms = [-0.00011, -0.00082, -0.041, -0.098, 0.079, -0.061]
    rep = resummed_report(4, terms, 2.43)
    assert rep.best_edges == 5 and not rep.settled
    with pytest.warns(ConvergenceWarning, match="NOT SETTLED"):
        warn_if_asymptotic({4: rep})
    # still rising at E_max: not settled, even with lambda* < 1 (the warning names the cure)
    rising = resummed_report(3, [1e-4, 1e-3, 1e-2], 0.5)
    assert not rising.asymptotic and not rising.settled
    with pytest.warns(ConvergenceWarning, match="raise max_edges"):
        warn_if_asymptotic({3: rising})
    # a geometric series whose pair size halves exactly at the first step is settled (boundary of the rule)
    half = resummed_report(2, [2.0, 1.0, 0.5], 0.4)
    assert half.settled and half.best_edges == 2
    # a vanishing tail (polynomial sigma, orthonormal units) is settled; a lone nonzero E = 0 term is not
    assert resummed_report(2, [0.3, 0.0, 0.0], 0.0).settled
    assert not resummed_report(2, [0.3], 0.0).settled
