"""Tests of shinnet.enumerate: diagram classes, weights, canonical keys, cache (MATH.md section 3)."""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter, defaultdict
from fractions import Fraction

import numpy as np
import pytest

import shinnet.enumerate as E
from shinnet.enumerate import Diagram
from shinnet.enumerate import tables as tables_module
from shinnet.enumerate.cache import default_cache_dir, read_table, table_path
from reference import set_partitions


@pytest.fixture()
def cache_dir(tmp_path):
    E.clear_memo()
    yield tmp_path
    E.clear_memo()


# --------------------------------------------------------------------------- helpers
def _pairings_by_multigraph(degrees):
    """Count leg pairings (no leg paired with a leg of its own vertex), grouped by the labelled
    multigraph they make.  Pairings are built leg by leg: the first free leg (lowest vertex)
    is paired with one of the ``free[w]`` free legs of another vertex w, so each path of
    vertex choices stands for ``prod free[w]`` distinct pairings; states that coincide are
    merged (dynamic programming over the partial matching, exact integer counts)."""
    n = len(degrees)
    states = {(tuple(degrees), ()): 1}
    for _ in range(sum(degrees) // 2):
        nxt = defaultdict(int)
        for (free, edges), count in states.items():
            v = next(i for i in range(n) if free[i])
            for w in range(n):
                if w != v and free[w]:
                    f = list(free)
                    f[v] -= 1
                    f[w] -= 1
                    e = tuple(sorted(edges + ((min(v, w), max(v, w)),)))
                    nxt[(tuple(f), e)] += count * free[w]
        states = nxt
    out = defaultdict(int)
    for (free, edges), count in states.items():
        assert not any(free)
        out[edges] += count
    return out


def _literal_pairings(degrees):
    """Every perfect matching of the legs, listed one by one (small cases only)."""
    legs = [v for v, k in enumerate(degrees) for _ in range(k)]

    def rec(rest):
        if not rest:
            yield ()
            return
        a = rest[0]
        for t in range(1, len(rest)):
            b = rest[t]
            if legs[a] != legs[b]:
                for tail in rec(rest[1:t] + rest[t + 1:]):
                    yield ((a, b),) + tail

    out = defaultdict(int)
    for matching in rec(list(range(len(legs)))):
        out[tuple(sorted((min(legs[a], legs[b]), max(legs[a], legs[b])) for a, b in matching))] += 1
    return out


def _connected(n, edge_copies):
    seen, frontier = {0}, [0]
    adj = defaultdict(set)
    for i, j in edge_copies:
        adj[i].add(j)
        adj[j].add(i)
    while frontier:
        v = frontier.pop()
        for w in adj[v] - seen:
            seen.add(w)
            frontier.append(w)
    return len(seen) == n


def _brute_automorphisms(diagram):
    m = diagram.multiplicity_matrix()
    n = diagram.order
    return sum(
        1 for p in itertools.permutations(range(n)) if np.array_equal(m[np.ix_(p, p)], m)
    )


def _dense_value(diagram, tensors):
    """Full contraction of the diagram with the dense vertex tensors ``tensors[k]`` (einsum)."""
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    legs = [[] for _ in range(diagram.order)]
    for i, j in diagram.edge_copies():
        c = next(letters)
        legs[i].append(c)
        legs[j].append(c)
    eq = ",".join("".join(l) for l in legs) + "->"
    return np.einsum(eq, *[tensors[k] for k in diagram.degrees], optimize=True)


def _random_symmetric(rng, d, k):
    t = rng.standard_normal((d,) * k)
    return sum(np.transpose(t, p) for p in itertools.permutations(range(k))) / math.factorial(k)


def _random_relabel(diagram, rng):
    perm = rng.permutation(diagram.order)
    return Diagram.from_edges([(perm[i], perm[j], m) for i, j, m in diagram.edges], diagram.order)


# --------------------------------------------------------------------------- Diagram
def test_from_edges_canonical_form_of_small_examples():
    d = Diagram.from_edges([(0, 1), (1, 0)])
    assert (d.order, d.degrees, d.edges, d.automorphisms) == (2, (2, 2), ((0, 1, 2),), 2)
    assert d.weight == Fraction(1, 2)
    tri = Diagram.from_edges([(2, 0), (0, 1), (1, 2)])
    assert tri.automorphisms == 6 and tri.weight == 1
    path = Diagram.from_edges([(3, 1), (1, 0)], order=4)  # vertex 2 isolated
    assert path.degrees == (2, 1, 1, 0) and path.automorphisms == 2 and not path.is_connected


def test_relabelled_copies_share_key_and_nonisomorphic_classes_differ():
    rng = np.random.default_rng(0)
    for n in range(2, 6):
        classes = E.diagrams(n, 4, cache=False)
        assert len({d.key for d in classes}) == len(classes)  # distinct classes, distinct keys
        for d in classes:
            for _ in range(3):
                copy = _random_relabel(d, rng)
                assert copy == d and copy.key == d.key and hash(copy) == hash(d)
    # same degree sequence (3,3,3,3), not isomorphic: K4 and the double-edged 4-cycle
    k4 = Diagram.from_edges(itertools.combinations(range(4), 2))
    c4 = Diagram.from_edges([(0, 1, 2), (1, 2), (2, 3, 2), (3, 0)])
    assert k4.degrees == c4.degrees and k4.key != c4.key
    # multiplicity 1 vs 2 with same simple skeleton differ, and the multiplicity bit layers
    # do not confuse multiplicities 1+2 with 3
    a = Diagram.from_edges([(0, 1, 3), (1, 2, 3), (0, 2, 1)])
    b = Diagram.from_edges([(0, 1, 1), (1, 2, 3), (0, 2, 3)])
    c = Diagram.from_edges([(0, 1, 2), (1, 2, 3), (0, 2, 2)])
    assert a == b and a.key != c.key


def test_automorphism_count_matches_brute_force_permutations():
    rng = np.random.default_rng(1)
    for n in range(2, 6):
        for d in E.diagrams(n, 4, cache=False):
            assert d.automorphisms == _brute_automorphisms(d), d
    for _ in range(30):  # random multigraphs with large multiplicities, possibly disconnected
        n = int(rng.integers(2, 7))
        edges = [(int(i), int(j), int(rng.integers(1, 9))) for i, j in
                 itertools.combinations(range(n), 2) if rng.random() < 0.5]
        d = Diagram.from_edges(edges, n)
        assert d.automorphisms == _brute_automorphisms(d)


def test_json_round_trip_and_tampered_records_are_rejected():
    for d in E.diagrams(4, 3, cache=False):
        assert Diagram.from_json(d.to_json()) == d
        assert Diagram.from_json(d.to_dict()).automorphisms == d.automorphisms
    record = E.diagrams(3, 2, cache=False)[-1].to_dict()
    record["automorphisms"] += 1
    with pytest.raises(ValueError, match="not canonical"):
        Diagram.from_json(record)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="loopless"):
        Diagram.from_edges([(0, 0)])
    with pytest.raises(ValueError, match="multiplicities"):
        Diagram.from_edges([(0, 1, 0)])
    with pytest.raises(ValueError, match="out of range"):
        Diagram.from_edges([(0, 5)], order=3)
    with pytest.raises(ValueError, match="disagree"):
        Diagram(2, (1, 2), ((0, 1, 1),), 2)
    with pytest.raises(ValueError, match="order"):
        E.diagrams(0, 3, cache=False)
    with pytest.raises(ValueError, match="exceeds"):
        E.diagrams(3, 2, min_degree=3, cache=False)
    with pytest.raises(ValueError, match="outside"):
        E.diagrams(2, 3, degrees=(4, 4))
    with pytest.raises(ValueError, match="2 degrees given for order 3"):
        E.diagrams(3, 3, degrees=(2, 2))


# --------------------------------------------------------------------------- generator
def test_order_one_has_no_diagram():
    assert E.diagrams(1, 5, cache=False) == []


def test_pairing_dynamic_programme_matches_literal_pairings():
    for degrees in [(2, 2), (3, 2, 1), (2, 2, 2), (3, 3, 2, 2), (2, 2, 1, 1, 2), (4, 3, 3)]:
        assert _pairings_by_multigraph(degrees) == _literal_pairings(degrees)


def _check_against_pairings(degrees, generated):
    """Brute-force pairing counts agree with the generated classes for this degree assignment."""
    n = len(degrees)
    by_key = {d.key: d for d in generated}
    labelled = defaultdict(set)  # class key -> labelled multigraphs found
    total = 0
    for edges, count in _pairings_by_multigraph(degrees).items():
        if not _connected(n, edges):
            continue
        total += count
        mult = Counter(edges)
        cls = Diagram.from_edges([(i, j, m) for (i, j), m in mult.items()], n)
        assert cls.key in by_key, (degrees, edges)  # every labelled multigraph has its class
        labelled[cls.key].add(tuple(sorted(mult.items())))
        # pairings per labelled multigraph: prod k_i! / prod m_e!
        expected = math.prod(map(math.factorial, degrees))
        expected //= math.prod(math.factorial(m) for m in mult.values())
        assert count == expected
    assert set(labelled) == set(by_key)  # every generated class occurs
    symmetry = math.prod(math.factorial(c) for c in Counter(degrees).values())
    predicted = 0
    for key, d in by_key.items():
        # labelled copies of G carrying exactly this degree assignment: prod_d c_d! / |Aut G|
        copies = Fraction(symmetry, d.automorphisms)
        assert copies.denominator == 1 and len(labelled[key]) == copies
        predicted += copies * Fraction(
            math.prod(map(math.factorial, degrees)), math.prod(math.factorial(m) for _, _, m in d.edges)
        )
    assert predicted == total
    # the form: over all n!/prod c_d! labellings of the degree multiset,
    # sum_G (n!/|Aut G|) prod k_i!/prod m_e! = (number of labellings) * (pairings of one)
    by_copies = sum(
        Fraction(d.labelled_copies) * math.prod(map(math.factorial, degrees))
        / math.prod(math.factorial(m) for _, _, m in d.edges) for d in generated
    )
    assert by_copies == Fraction(math.factorial(n), symmetry) * total
    assert by_copies == sum(d.weight for d in generated) * math.prod(map(math.factorial, degrees))


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_generated_classes_account_for_every_connected_pairing(n):
    max_degree = 4
    for degrees in itertools.combinations_with_replacement(range(max_degree, 0, -1), n):
        generated = E.diagrams(n, max_degree, degrees=degrees)
        assert all(d.degrees == tuple(degrees) for d in generated)
        if sum(degrees) % 2:
            assert generated == []
            continue
        _check_against_pairings(tuple(degrees), generated)


@pytest.mark.parametrize("degrees", [(6, 6, 6), (5, 5, 4, 2), (3, 3, 3, 3, 3, 3), (2, 2, 2, 2, 2, 2, 2),
                                     (4, 2, 2, 2, 1, 1), (5, 1, 1, 1, 1, 1)])
def test_larger_degree_assignments_account_for_every_connected_pairing(degrees):
    _check_against_pairings(degrees, E.diagrams(len(degrees), max(degrees), degrees=degrees))


def test_unsorted_degree_assignment_matches_sorted_one():
    generated = E.diagrams(4, 3, degrees=(1, 3, 2, 2))
    assert generated == E.diagrams(4, 3, degrees=(3, 2, 2, 1))
    rows = _pairings_by_multigraph((1, 3, 2, 2))
    keys = {Diagram.from_edges(list(e), 4).key for e in rows if _connected(4, e)}
    assert keys == {d.key for d in generated}


def test_range_query_is_union_of_degree_sequences_in_deterministic_order(cache_dir):
    n, k_max, k_min = 4, 4, 2
    listed = E.diagrams(n, k_max, min_degree=k_min, cache_dir=cache_dir)
    union = [d for seq in E.degree_sequences(n, k_max, k_min) for d in E.diagrams(n, k_max, degrees=seq)]
    assert sorted(listed, key=Diagram.sort_key) == listed
    assert Counter(d.key for d in listed) == Counter(d.key for d in union)
    assert all(min(d.degrees) >= k_min and max(d.degrees) <= k_max for d in listed)
    assert E.diagrams(n, k_max, min_degree=k_min, cache=False) == listed


def test_cubic_multigraph_counts_match_oeis_a000421():
    # connected loopless cubic multigraphs on 2, 4, 6, 8 vertices (OEIS A000421)
    assert [len(E.diagrams(n, 3, degrees=(3,) * n)) for n in (2, 4, 6, 8)] == [1, 2, 6, 20]


def test_counts_by_vertices_plus_edges_match_oeis_a265582():
    # connected loopless multigraphs with (vertices + edges) = s, s = 3..12 (OEIS A265582)
    expected = {3: 1, 4: 1, 5: 2, 6: 3, 7: 6, 8: 10, 9: 21, 10: 41, 11: 87, 12: 187}
    for s, count in expected.items():
        found = 0
        for n in range(2, s):
            edges = s - n
            if edges < n - 1:
                continue
            for seq in E.degree_sequences(n, edges):
                if sum(seq) == 2 * edges:
                    found += len(E.diagrams(n, edges, degrees=seq))
        assert found == count, s


def test_regular_counts_match_oeis_a325476():
    # connected regular loopless multigraphs on n nodes of degree < n (OEIS A325476)
    for n, count in {2: 1, 3: 1, 4: 3, 5: 7, 6: 75}.items():
        assert sum(len(E.diagrams(n, k, degrees=(k,) * n)) for k in range(1, n)) == count


def test_count_table_agrees_with_listing(cache_dir):
    table = E.count_table(4, 3, cache_dir=cache_dir)
    assert table[2] == {(1, 1): 1, (2, 2): 1, (3, 3): 1}
    assert table[4][(3, 3, 3, 3)] == 2
    for n, row in table.items():
        assert sum(row.values()) == len(E.diagrams(n, 3, cache_dir=cache_dir))


# --------------------------------------------------------------------------- weights vs closed forms
def test_order_two_weights_give_variance_sum_of_shin_norms():
    rng = np.random.default_rng(2)
    d, k_max = 3, 5
    shin = {k: _random_symmetric(rng, d, k) for k in range(1, k_max + 1)}
    kappa2 = sum(float(g.weight) * _dense_value(g, shin) for g in E.diagrams(2, k_max, cache=False))
    closed = sum(np.sum(shin[k] ** 2) / math.factorial(k) for k in shin)
    assert kappa2 == pytest.approx(closed, rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_quadratic_weights_give_trace_closed_form(n):
    rng = np.random.default_rng(3 + n)
    d = 4
    s = _random_symmetric(rng, d, 2)
    graphs = E.diagrams(n, 2, min_degree=2, cache=False)
    assert len(graphs) == 1  # the double edge (n = 2) or the n-cycle
    kappa = sum(float(g.weight) * _dense_value(g, {2: s}) for g in graphs)
    closed = math.factorial(n - 1) / 2 * np.trace(np.linalg.matrix_power(s, n))
    assert kappa == pytest.approx(closed, rel=1e-11)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_quadratic_with_linear_term_weights_give_closed_form(n):
    rng = np.random.default_rng(11 + n)
    d = 3
    s = _random_symmetric(rng, d, 2)
    h = rng.standard_normal(d)
    a = s / 2
    kappa = sum(float(g.weight) * _dense_value(g, {1: h, 2: s}) for g in E.diagrams(n, 2, cache=False))
    closed = 2 ** (n - 1) * math.factorial(n - 1) * np.trace(np.linalg.matrix_power(a, n))
    closed += math.factorial(n) * 2.0 ** (n - 3) * h @ np.linalg.matrix_power(a, n - 2) @ h
    assert kappa == pytest.approx(closed, rel=1e-11)


# --------------------------------------------------------------------------- cache
def test_cache_file_is_written_and_reused_without_regenerating(cache_dir, monkeypatch):
    first = E.diagrams(4, 4, cache_dir=cache_dir)
    files = sorted(p.name for p in (cache_dir / "diagrams").iterdir())
    assert files == [f"connected_n4_top{t}.npz" for t in (1, 2, 3, 4)]
    E.clear_memo()

    def boom(*args):
        raise AssertionError("regenerated although the cache was valid")

    monkeypatch.setattr(tables_module, "_build_table", boom)
    assert E.diagrams(4, 4, cache_dir=cache_dir) == first


def test_corrupted_cache_file_is_detected_and_rebuilt(cache_dir):
    first = E.diagrams(4, 3, cache_dir=cache_dir)
    path = table_path(cache_dir, "connected_n4_top3")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    E.clear_memo()
    with pytest.warns(RuntimeWarning, match="rejected"):
        again = E.diagrams(4, 3, cache_dir=cache_dir)
    assert again == first
    header = {"kind": "connected", "generator": tables_module.GENERATOR_VERSION, "order": 4, "top": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_table(path, header) is not None  # rewritten, valid again
    path.write_bytes(b"not a zip file")
    E.clear_memo()
    with pytest.warns(RuntimeWarning, match="unreadable"):
        assert E.diagrams(4, 3, cache_dir=cache_dir) == first


def test_stale_cache_version_is_rebuilt(cache_dir, monkeypatch):
    first = E.diagrams(3, 3, cache_dir=cache_dir)
    E.clear_memo()
    monkeypatch.setattr(tables_module, "GENERATOR_VERSION", "orderly-test-bump")
    with pytest.warns(RuntimeWarning, match="stale"):
        assert E.diagrams(3, 3, cache_dir=cache_dir) == first


def test_cache_dir_from_environment_and_default_is_absolute(tmp_path, monkeypatch):
    monkeypatch.setenv("SHINNET_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == (tmp_path / "env").resolve()
    E.clear_memo()
    E.diagrams(3, 2)
    assert (tmp_path / "env" / "diagrams" / "connected_n3_top2.npz").exists()
    E.clear_memo()
    monkeypatch.delenv("SHINNET_CACHE_DIR")
    assert default_cache_dir().is_absolute()


# --------------------------------------------------------------------------- command line
def test_cli_counts_list_and_draw(tmp_path, capsys):
    from shinnet.cli import main

    assert main(["diagrams", "--max-order", "4", "--max-degree", "3", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "    4  3,3,3,3                         2" in out and "    4  total                          12" in out
    assert main(["diagrams", "--order", "3", "--max-degree", "3", "--list", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "sum of weights 17/2" in out and "weight=3/2" in out
    png = tmp_path / "d.png"
    assert main(["diagrams", "--order", "4", "--max-degree", "2", "--no-cache", "--draw", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["diagrams", "--order", "4", "--degrees", "3,x"]) == 2


# --------------------------------------------------------------------------- resummed (section 8)
def _labelled_multigraphs(n_vertices, max_edges):
    """Multiplicity assignments to the pairs of labelled vertices, total 0..max_edges."""
    pairs = list(itertools.combinations(range(n_vertices), 2))

    def rec(t, left):
        if t == len(pairs):
            yield ()
            return
        for m in range(left + 1):
            for tail in rec(t + 1, left - m):
                yield ((pairs[t], m),) + tail

    for assignment in rec(0, max_edges):
        yield [(i, j, m) for (i, j), m in assignment if m]


@pytest.mark.parametrize("n,max_edges", [(1, 2), (2, 3), (3, 3), (4, 3), (5, 2)])
def test_resummed_weights_count_labelled_partitions_with_multigraphs(n, max_edges):
    """Orbit counting: S_n acts on (set partition of the n cumulant arguments into blocks,
    connected multigraph on the blocks); the stabiliser is prod p_v! (inside blocks) times
    Aut(G, p), so each class must be hit n! / (|Aut(G,p)| prod p_v!) = weight * prod m_e! times."""
    generated = E.resummed_diagrams(n, max_edges, cache=False)
    by_key = {d.key: d for d in generated}
    assert len(by_key) == len(generated)
    hits = Counter()
    weight_sum = Fraction(0)
    for blocks in set_partitions(list(range(n))):
        powers = [len(b) for b in blocks]
        for edges in _labelled_multigraphs(len(blocks), max_edges):
            if len(blocks) > 1 and not _connected(len(blocks), [(i, j) for i, j, _ in edges]):
                continue
            d = E.ResummedDiagram.from_edges(powers, edges)
            assert d.key in by_key
            hits[d.key] += 1
            weight_sum += Fraction(1, math.prod(math.factorial(m) for _, _, m in edges))
    assert set(hits) == set(by_key)
    for key, d in by_key.items():
        assert hits[key] == d.weight * math.prod(math.factorial(m) for _, _, m in d.edges), d
        assert sum(d.powers) == n and d.n_edges <= max_edges
    assert weight_sum == sum(d.weight for d in generated)


def test_resummed_relabelling_and_power_colours():
    a = E.ResummedDiagram.from_edges([2, 1, 1], [(0, 1), (1, 2)])  # power-2 vertex at an end
    b = E.ResummedDiagram.from_edges([1, 1, 2], [(0, 1), (1, 2)])
    c = E.ResummedDiagram.from_edges([1, 2, 1], [(0, 1), (1, 2)])  # power-2 vertex in the middle
    assert a == b and a.key == b.key and a.key != c.key
    assert a.automorphisms == 1 and c.automorphisms == 2
    assert c.weight == Fraction(math.factorial(4), 2 * 2)
    with pytest.raises(ValueError, match="connected"):
        E.ResummedDiagram.from_edges([1, 1, 2], [(0, 1)])


def _power_cumulants(r, p_max, k_max):
    """K_{p,k}(r, 0) for sigma(z) = z^2 by the recursion of MATH.md section 8, with
    C_{p,k} = E[(rZ)^(2p) He_k(Z)] by exact Gauss-Hermite quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    he = [np.ones_like(z), z]
    for k in range(1, k_max):
        he.append(z * he[k] - k * he[k - 1])
    c = np.array([[np.sum(w * (r * z) ** (2 * p) * he[k]) for k in range(k_max + 1)] for p in range(p_max + 1)])
    kk = np.zeros_like(c)
    for p in range(1, p_max + 1):
        for k in range(k_max + 1):
            kk[p, k] = c[p, k] - sum(
                math.comb(p - 1, q) * math.comb(k, l) * kk[p - q, k - l] * c[q, l]
                for q in range(1, p) for l in range(k + 1)
            )
    return kk


def _hidden_unit_value(diagram, kap, rt):
    """sum_{u_1..u_N} prod_v kap[u_v, p_v, k_v] prod_e Rt[u_v, u_w]^m_e (einsum)."""
    letters = "abcdefgh"
    ops, terms = [], []
    for v, (p, k) in enumerate(diagram.vertex_keys()):
        ops.append(letters[v])
        terms.append(kap[:, p, k])
    for i, j, m in diagram.edges:
        ops.append(letters[i] + letters[j])
        terms.append(rt ** m)
    return np.einsum(",".join(ops) + "->", *terms)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_resummed_expansion_is_exact_for_quadratic_activation(n):
    """sigma(z) = z^2: f = x^T A x with A = W^T diag(a) W, kappa_n = 2^(n-1) (n-1)! tr(A^n).
    K_{p,k} = 0 for k > 2p, so every class with E > n vanishes and the sum over E <= n is exact
    (even with large cosines, here d = 2 and m = 3 units)."""
    rng = np.random.default_rng(40 + n)
    d, m = 2, 3
    w = rng.standard_normal((m, d))
    a = rng.standard_normal(m)
    r = np.linalg.norm(w, axis=1)
    u = w / r[:, None]
    rt = u @ u.T - np.eye(m)
    kap = np.stack([a[j] ** np.arange(n + 1)[:, None] * _power_cumulants(r[j], n, 2 * n) for j in range(m)])
    # the recursion's K_{p,0} are the chi-square cumulants 2^(p-1) (p-1)! r^(2p)
    for p in range(1, n + 1):
        assert _power_cumulants(1.3, n, 0)[p, 0] == pytest.approx(2 ** (p - 1) * math.factorial(p - 1) * 1.3 ** (2 * p))
    classes = E.resummed_diagrams(n, n + 1, cache=False)
    kappa = sum(float(g.weight) * _hidden_unit_value(g, kap, rt) for g in classes)
    big = sum(abs(float(g.weight) * _hidden_unit_value(g, kap, rt)) for g in classes if g.n_edges > n)
    amat = w.T @ np.diag(a) @ w
    closed = 2 ** (n - 1) * math.factorial(n - 1) * np.trace(np.linalg.matrix_power(amat, n))
    assert big <= 1e-11 * abs(closed)  # K_{p,k>2p} are quadrature rounding, ~1e-15 relative
    assert kappa == pytest.approx(closed, rel=1e-10)


def test_resummed_cache_round_trip(cache_dir):
    first = E.resummed_diagrams(4, 4, cache_dir=cache_dir)
    assert (cache_dir / "diagrams" / "resummed_n4_E4.npz").exists()
    E.clear_memo()
    assert E.resummed_diagrams(4, 4, cache_dir=cache_dir) == first
    assert E.resummed_diagrams(4, 4, cache=False) == first


@pytest.mark.parametrize("order,max_degree", [(3, 4), (4, 4), (5, 3)])
def test_automorphism_counts_and_connectivity_match_networkx(order, max_degree):
    """|Aut(G)| from pynauty's canonical labelling against an independent count: networkx's
    VF2 matcher enumerating the self-isomorphisms that preserve edge multiplicities."""
    import networkx as nx
    from networkx.algorithms.isomorphism import GraphMatcher, numerical_edge_match

    from shinnet.enumerate import diagrams

    found = diagrams(order, max_degree)
    assert found
    for diagram in found:
        graph = diagram.to_networkx()
        assert nx.is_connected(graph)
        assert [graph.degree(v, weight="multiplicity") for v in graph] == list(diagram.degrees)
        matcher = GraphMatcher(graph, graph, edge_match=numerical_edge_match("multiplicity", 0))
        assert sum(1 for _ in matcher.isomorphisms_iter()) == diagram.automorphisms
