"""Tests of the on-disk Moebius block tables (shinnet.enumerate.blocks_cache, MATH.md section 8).

The reference everywhere is ``moebius_terms(dg)`` called per class, which never touches disk;
the cached tables must reproduce it exactly (same QuotientNetwork values, same order, same mu).
"""

from __future__ import annotations

import json
import shutil
import warnings
from fractions import Fraction

import numpy as np
import pytest

import shinnet.enumerate as E
from shinnet.enumerate import blocks_cache
from shinnet.enumerate.blocks import QuotientNetwork, moebius_terms
from shinnet.enumerate.blocks_cache import quotient_table
from shinnet.enumerate.cache import read_table, table_path, write_table

SMALL = [(n, e) for n in range(1, 5) for e in range(0, 5)]


def _clear() -> None:
    E.clear_memo()
    E.clear_moebius_memo()


@pytest.fixture()
def cache_dir(tmp_path):
    _clear()
    yield tmp_path
    _clear()


def _reference(order: int, max_edges: int) -> dict:
    """Class key -> moebius_terms, computed per class without any table cache."""
    return {dg.key: moebius_terms(dg) for dg in E.resummed_diagrams(order, max_edges, cache=False)}


def _no_rebuild(monkeypatch) -> None:
    def boom(*args):
        raise AssertionError("Moebius terms recomputed although the cache file was valid")

    monkeypatch.setattr(blocks_cache, "moebius_terms", boom)


def _assert_same(table, reference) -> None:
    assert list(table) == list(reference)  # same classes, in resummed_diagrams order
    for key, terms in reference.items():
        got = table[key]
        assert got == terms, key
        for q, mu in got:  # plain Python ints, not numpy scalars leaking from the file
            assert type(mu) is int and isinstance(q, QuotientNetwork)
            assert all(type(x) is int for e in q.edges for x in e)
            assert all(type(x) is int for keys, legs in q.blocks for x in (legs, *sum(keys, ())))


# --------------------------------------------------------------------------- round trip
def test_disk_table_equals_fresh_build_and_per_class_moebius_terms(cache_dir, monkeypatch):
    built = {case: E.moebius_table(*case, cache_dir=cache_dir) for case in SMALL}
    for case in SMALL:
        _assert_same(built[case], _reference(*case))
        _assert_same(E.moebius_table(*case, cache=False), _reference(*case))
    _clear()
    _no_rebuild(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for case in SMALL:
            _assert_same(E.moebius_table(*case, cache_dir=cache_dir), _reference(*case))


def test_larger_case_order_six_round_trips_through_disk(cache_dir, monkeypatch):
    reference = _reference(6, 5)
    _assert_same(E.moebius_table(6, 5, cache_dir=cache_dir), reference)
    _clear()
    _no_rebuild(monkeypatch)
    loaded = E.moebius_table(6, 5, cache_dir=cache_dir)
    _assert_same(loaded, reference)
    assert sum(len(t) for t in loaded.values()) > 1000  # a table with many shared quotients


def test_files_per_order_and_edge_count_and_exact_table_is_a_slice(cache_dir):
    full = E.moebius_table(4, 3, cache_dir=cache_dir)
    files = sorted(p.name for p in (cache_dir / "diagrams").glob("moebius_*"))
    assert files == [f"moebius_n4_E{e}.npz" for e in range(4)]
    exact = blocks_cache.moebius_table_exact(4, 3, cache_dir=cache_dir)
    keys3 = [dg.key for dg in E.resummed_diagrams(4, 3, cache=False) if dg.n_edges == 3]
    assert list(exact) == keys3 and all(exact[k] == full[k] for k in keys3)


def test_memo_returns_same_read_only_mapping(cache_dir):
    first = E.moebius_table(3, 3, cache_dir=cache_dir)
    assert E.moebius_table(3, 3, cache_dir=cache_dir) is first
    with pytest.raises(TypeError):
        first["x"] = ()  # type: ignore[index]
    E.clear_moebius_memo()
    again = E.moebius_table(3, 3, cache_dir=cache_dir)
    assert again is not first and dict(again) == dict(first)


# --------------------------------------------------------------------------- never trusted
def test_corrupted_and_unreadable_files_are_rebuilt_with_a_warning(cache_dir):
    reference = _reference(4, 3)
    E.moebius_table(4, 3, cache_dir=cache_dir)
    path = table_path(cache_dir, "moebius_n4_E3")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    _clear()
    with pytest.warns(RuntimeWarning, match="rejected"):
        _assert_same(E.moebius_table(4, 3, cache_dir=cache_dir), reference)
    _clear()
    with warnings.catch_warnings():  # rewritten: valid again
        warnings.simplefilter("error")
        _assert_same(E.moebius_table(4, 3, cache_dir=cache_dir), reference)
    path.write_bytes(b"not a zip file")
    _clear()
    with pytest.warns(RuntimeWarning, match="unreadable"):
        _assert_same(E.moebius_table(4, 3, cache_dir=cache_dir), reference)


def test_wrong_generator_version_is_rebuilt(cache_dir, monkeypatch):
    reference = _reference(3, 3)
    E.moebius_table(3, 3, cache_dir=cache_dir)
    _clear()
    monkeypatch.setattr(blocks_cache, "MOEBIUS_GENERATOR_VERSION", "moebius-test-bump")
    with pytest.warns(RuntimeWarning, match="stale"):
        _assert_same(E.moebius_table(3, 3, cache_dir=cache_dir), reference)


def test_file_of_other_parameters_is_not_trusted(cache_dir):
    """A valid file copied onto another (order, E) name fails the header (order, E, diagram
    digest) and is rebuilt rather than decoded as that table."""
    E.moebius_table(4, 3, cache_dir=cache_dir)
    src = table_path(cache_dir, "moebius_n4_E3")
    for other in ("moebius_n4_E2", "moebius_n3_E3"):
        shutil.copyfile(src, table_path(cache_dir, other))
    _clear()
    with pytest.warns(RuntimeWarning, match="stale") as record:
        got = {case: E.moebius_table(*case, cache_dir=cache_dir) for case in ((4, 2), (3, 3))}
    assert any("n_edges" in str(w.message) for w in record)
    assert any("order" in str(w.message) for w in record)
    for case, table in got.items():
        _assert_same(table, _reference(*case))


def test_file_for_a_different_diagram_list_is_not_trusted(cache_dir):
    E.moebius_table(3, 2, cache_dir=cache_dir)
    path = table_path(cache_dir, "moebius_n3_E2")
    arrays = read_table(path, {})
    header = {"kind": "moebius", "generator": blocks_cache.MOEBIUS_GENERATOR_VERSION,
              "resummed_generator": E.resummed.RESUMMED_GENERATOR_VERSION,
              "nauty": blocks_cache.pynauty.__version__, "order": 3, "n_edges": 2,
              "diagrams": "0" * 64}
    write_table(path, header, arrays)
    _clear()
    with pytest.warns(RuntimeWarning, match="diagrams"):
        _assert_same(E.moebius_table(3, 2, cache_dir=cache_dir), _reference(3, 2))


def test_checksummed_file_with_inconsistent_arrays_is_rebuilt(cache_dir):
    """Header and checksum right but the arrays do not fit together: decoded as ValueError
    and rebuilt (never returned as a wrong table)."""
    reference = _reference(4, 3)
    E.moebius_table(4, 3, cache_dir=cache_dir)
    path = table_path(cache_dir, "moebius_n4_E3")
    header = {k: v for k, v in _header_of(path).items() if k not in ("sha256", "format", "version")}
    for mutate in ("index", "count"):
        arrays = read_table(path, {})
        if mutate == "index":  # a term pointing past the last quotient
            arrays["terms"] = arrays["terms"].copy()
            arrays["terms"][0, 0] = len(arrays["q_blocks"])
        else:  # one class too few
            arrays["diagram_terms"] = arrays["diagram_terms"][:-1]
        write_table(path, header, arrays)
        _clear()
        _assert_same(E.moebius_table(4, 3, cache_dir=cache_dir), reference)
        rewritten = read_table(path, header)
        assert rewritten["terms"][:, 0].max() < len(rewritten["q_blocks"])
        assert len(rewritten["diagram_terms"]) == len(reference) - sum(
            1 for dg in E.resummed_diagrams(4, 2, cache=False))


def _header_of(path):
    """The JSON header of a table file (to rewrite a file with the same header)."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(data["__header__"].tobytes().decode())


# --------------------------------------------------------------------------- quotient table
@pytest.mark.parametrize("order,n_edges", [(n, e) for n in range(1, 5) for e in range(0, 5)] + [(6, 4)])
def test_quotient_table_equals_direct_accumulation_of_moebius_terms(cache_dir, order, n_edges):
    acc: dict[str, list] = {}
    for dg in E.resummed_diagrams(order, n_edges, cache=False):
        if dg.n_edges == n_edges:
            for q, mu in moebius_terms(dg):
                acc.setdefault(q.key, [q, Fraction(0)])[1] += dg.weight * mu
    direct = tuple((q, c) for _, (q, c) in sorted(acc.items()) if c != 0)
    assert quotient_table(order, n_edges, cache_dir=cache_dir) == direct
    assert quotient_table(order, n_edges, cache=False) == direct
    _clear()
    assert quotient_table(order, n_edges, cache_dir=cache_dir) == direct  # from disk
    assert all(isinstance(c, Fraction) and c != 0 for _, c in direct)


def test_quotient_table_order_two_single_edge_by_hand(cache_dir):
    """kappa_2^[1] = lam_1^T (R - I) lam_1: the quotient edge with +1, the merged block with -1."""
    table = {q.key: c for q, c in quotient_table(2, 1, cache_dir=cache_dir)}
    assert table == {"Q[1/1.1/1>0]:": Fraction(-1), "Q[1/1>1;1/1>1]:0-1x1": Fraction(1)}


# --------------------------------------------------------------------------- directory, input
def test_cache_dir_argument_and_environment_are_honoured(tmp_path, monkeypatch):
    _clear()
    E.moebius_table(3, 2, cache_dir=tmp_path / "arg")
    assert (tmp_path / "arg" / "diagrams" / "moebius_n3_E2.npz").exists()
    monkeypatch.setenv("SHINNET_CACHE_DIR", str(tmp_path / "env"))
    _clear()
    E.moebius_table(3, 2)
    quotient_table(2, 3)
    assert (tmp_path / "env" / "diagrams" / "moebius_n3_E2.npz").exists()
    assert (tmp_path / "env" / "diagrams" / "moebius_n2_E3.npz").exists()
    monkeypatch.setenv("SHINNET_CACHE_DIR", str(tmp_path / "off"))
    _clear()
    E.moebius_table(3, 2, cache=False)
    quotient_table(3, 2, cache=False)
    assert not (tmp_path / "off").exists()
    _clear()


@pytest.mark.parametrize("args", [(0, 2), (-1, 2), (3, -1), (True, 2), (3, 2.0), ("3", 2)])
def test_bad_order_or_edge_count_raises_clear_error(args):
    with pytest.raises(ValueError, match="order|max_edges"):
        E.moebius_table(*args, cache=False)
    with pytest.raises(ValueError, match="order|max_edges"):
        quotient_table(*args, cache=False)


def test_numpy_integers_are_accepted(cache_dir):
    assert quotient_table(np.int64(3), np.int64(2), cache=False) == quotient_table(3, 2, cache=False)
