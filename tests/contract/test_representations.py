"""The registry of network representations and the chooser that uses it: contents, refusal of
unknown names (with the valid list), a registered toy representation seen by every lookup, and
the chooser's choices and costs for a small diagram, as recorded before the registry existed."""

from __future__ import annotations

import dataclasses

import pytest

from shinnet.contract import representation_registry as registry
from shinnet.contract.network import REPRESENTATIONS, build_network
from shinnet.contract.pathcache import PathCache, default_optimizer
from shinnet.contract.representations import (
    PlanContext,
    Representation,
    candidate_representations,
    lookup_representation,
    materialise_cost,
    plan_diagram,
    register_representation,
    representation_names,
    representations,
)
from shinnet.contract.resummed_plan import FORMS, ResummedPlanner
from shinnet.enumerate import Diagram

#: a star with a double edge: degrees (4, 2, 1, 1)
_STAR = Diagram.from_edges([(0, 1, 2), (0, 2, 1), (0, 3, 1)])


def _ctx(d: int, m: int, **kw) -> PlanContext:
    base = dict(d=d, m=m, degree_of=lambda k: int(k), has_dense=True, itemsize=8, memory_limit=2.0**31,
                gram_max_m=2048, batch=None, cache=PathCache())
    return PlanContext(**{**base, **kw})


@pytest.fixture
def fresh_registry(monkeypatch):
    """A copy of the registry for one test, so registrations do not leak into others."""
    monkeypatch.setattr(registry._REGISTRY, "records", dict(registry._REGISTRY.records))


def test_registry_holds_the_six_representations_with_their_properties():
    assert representation_names() == ("dense", "factored", "gram", "mixed", "hidden", "dspace")
    assert representation_names("degree") == REPRESENTATIONS == ("dense", "factored", "gram", "mixed")
    assert representation_names("resummed", auto=True) == ("auto", "hidden", "dspace")
    assert FORMS == ("hidden", "dspace")
    table = {r.name: (r.expansion, r.dense_vertices, r.hidden_units, r.needs_units, r.uses_gram, r.search)
             for r in representations()}
    assert table == {
        "dense": ("degree", "all", False, False, False, "exact"),
        "factored": ("degree", "none", False, True, False, "random-greedy"),
        "gram": ("degree", "none", True, True, True, "greedy"),
        "mixed": ("degree", "small", False, True, False, "random-greedy"),
        "hidden": ("resummed", "none", True, True, True, "greedy"),
        "dspace": ("resummed", "none", False, True, False, "random-greedy"),
    }
    mixed = lookup_representation("mixed")
    assert mixed.holds_dense(2, 5, 30) and not mixed.holds_dense(3, 5, 30)  # 25 <= 30 < 125
    assert mixed.differs([4, 2, 1, 1], 5, 30) and not mixed.differs([1, 1], 5, 30)
    assert lookup_representation("dense").holds_dense(9, 100, 1) and not lookup_representation("gram").holds_dense(1, 2, 9)
    assert [r.name for r in representations("degree") if r.costly_search] == ["factored", "mixed"]


def test_unknown_names_are_refused_with_the_valid_list():
    with pytest.raises(ValueError, match=r"unknown representation 'sparse'; choose one of 'auto', 'dense', "
                                         r"'factored', 'gram', 'mixed', 'hidden', 'dspace'"):
        lookup_representation("sparse")
    with pytest.raises(ValueError, match=r"'sparse' for the degree expansion; choose one of 'auto', 'dense', "
                                         r"'factored', 'gram', 'mixed'$"):
        plan_diagram(_STAR, "sparse", _ctx(4, 6))
    with pytest.raises(ValueError, match=r"'hidden' for the degree expansion"):
        build_network(_STAR, "hidden", d=4, m=6)
    with pytest.raises(ValueError, match=r"'gram' for the resummed expansion; choose one of 'auto', 'hidden', 'dspace'"):
        ResummedPlanner(4, 6, None, PathCache(), "gram", 2.0**31, 2048, 8)
    with pytest.raises(ValueError, match="unknown representation 'bogus'"):
        default_optimizer("bogus")
    with pytest.raises(ValueError, match="unknown representation 'auto'"):
        lookup_representation("auto")  # a request for a choice, not a record
    with pytest.raises(ValueError, match="already registered"):
        register_representation(Representation("dense", "degree", dense_vertices="all"))
    with pytest.raises(ValueError, match="dense_vertices must be one of"):
        Representation("odd", "degree", dense_vertices="some")
    with pytest.raises(ValueError, match="name must be a non-empty string other than 'auto'"):
        Representation("auto", "degree")


def test_registered_toy_representation_is_seen_by_lookups_builders_and_the_chooser(fresh_registry):
    # a second all-dense representation: built, priced and charged exactly like "dense"
    toy = Representation("toy", "degree", dense_vertices="all", needs_units=False, search="exact", summary="toy")
    register_representation(toy)
    assert lookup_representation("toy") is toy and "toy" in representation_names("degree")
    assert "toy" not in representation_names("resummed")
    assert default_optimizer("toy") == "auto"
    net, ref = build_network(_STAR, "toy", d=5, m=30), build_network(_STAR, "dense", d=5, m=30)
    assert (net.inputs, net.sources, net.representation) == (ref.inputs, ref.sources, "toy")
    plan = plan_diagram(_STAR, "toy", _ctx(5, 30))
    assert (plan.cost, plan.max_size) == (655.0, 625)
    assert materialise_cost(_STAR, "toy", _ctx(5, 30))[0] == 39300.0
    assert candidate_representations(_STAR, d=4, m=6, degree_of=int, has_dense=True, itemsize=8,
                                     memory_limit=2.0**31, gram_max_m=2048) == ["dense", "gram", "toy"]
    assert plan_diagram(_STAR, "auto", _ctx(4, 6)).network.representation == "gram"  # 126 FLOPs, unchanged
    with pytest.raises(ValueError, match="needs dense vertex tensors"):
        plan_diagram(_STAR, "toy", _ctx(5, 30, has_dense=False))


# (d, m, representation) -> (chosen, cost, max_size, materialise) from the chooser before the
# registry (shinnet/contract/planner.py's string comparisons), recorded on this diagram
_RECORDED = {
    (4, 6, "auto"): ("gram", 126.0, 36, 0.0), (4, 6, "dense"): ("dense", 276.0, 256, 3312.0),
    (4, 6, "factored"): ("factored", 354.0, 24, 0.0), (4, 6, "gram"): ("gram", 126.0, 36, 0.0),
    (4, 6, "mixed"): ("mixed", 342.0, 24, 48.0),
    (5, 30, "auto"): ("gram", 2790.0, 900, 0.0), (5, 30, "dense"): ("dense", 655.0, 625, 39300.0),
    (5, 30, "factored"): ("factored", 2705.0, 150, 0.0), (5, 30, "gram"): ("gram", 2790.0, 900, 0.0),
    (5, 30, "mixed"): ("mixed", 1505.0, 150, 1800.0),
    (6, 3, "auto"): ("gram", 36.0, 9, 0.0), (6, 3, "dense"): ("dense", 1338.0, 1296, 8028.0),
    (6, 3, "factored"): ("factored", 234.0, 18, 0.0), (6, 3, "gram"): ("gram", 36.0, 9, 0.0),
    (6, 3, "mixed"): ("mixed", 234.0, 18, 0.0),
}


@pytest.mark.parametrize("key", sorted(_RECORDED), ids=lambda k: f"d{k[0]}-m{k[1]}-{k[2]}")
def test_chooser_choice_and_cost_for_a_small_diagram_are_unchanged(key):
    d, m, rep = key
    plan = plan_diagram(_STAR, rep, _ctx(d, m))
    built = materialise_cost(_STAR, plan.network.representation, _ctx(d, m))[0]
    assert (plan.network.representation, plan.cost, plan.max_size, built) == _RECORDED[key]


def test_auto_candidates_and_costly_search_extras_are_unchanged():
    def cands(d, m, has_dense, memory_limit, gram_max_m):
        return candidate_representations(_STAR, d=d, m=m, degree_of=int, has_dense=has_dense, itemsize=8,
                                         memory_limit=memory_limit, gram_max_m=gram_max_m)

    assert cands(4, 6, True, 2.0**31, 2048) == ["dense", "gram"]
    assert cands(5, 30, True, 1000.0, 2048) == ["gram", "mixed"]
    assert cands(5, 30, True, 2.0**31, 10) == ["dense", "factored"]
    assert cands(5, 30, False, 2.0**31, 10) == ["factored"]
    assert cands(5, 30, False, 2.0**31, 2048) == ["gram"]
    # pricing every candidate (price_all_above = 0) adds factored and mixed: factored wins at d=5, m=30
    everything = plan_diagram(_STAR, "auto", dataclasses.replace(_ctx(5, 30), price_all_above=0.0))
    assert (everything.network.representation, everything.cost) == ("factored", 2705.0)
    assert plan_diagram(_STAR, "auto", _ctx(5, 30, memory_limit=1300.0)).network.representation == "mixed"
    assert plan_diagram(_STAR, "auto", _ctx(4, 6, price_all_above=0.0)).network.representation == "gram"
