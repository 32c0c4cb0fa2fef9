"""The expansion registry (issue 11): a new expansion is one registration, and ``shinnet.cumulants``
dispatches through it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import shinnet
from shinnet.contract.engine import run_engine
from shinnet.contract.options import ContractOptions
from shinnet.expansions import Expansion, expansions, get_expansion, register_expansion, unregister_expansion
from shinnet.expansions.degree import vertex_object
from shinnet.zoo import random_mlp


@pytest.fixture
def toy():
    """A toy expansion: the degree expansion at K = max_degree, with kappa_n doubled (n >= 2) and
    what it was called with recorded."""
    calls: list[dict] = []

    def run(model, order, options, *, max_degree=None, max_edges=None, diagrams=None, exact_variance=None):
        calls.append({"order": order, "max_degree": max_degree, "options": options})
        res = run_engine([vertex_object(model, max_degree)], False, order, max_degree, options)
        return replace(res, kappa={n: (2.0 * v if n >= 2 else v) for n, v in res.kappa.items()})

    register_expansion(Expansion("toy", run, ("max_degree",)))
    yield calls
    unregister_expansion("toy")


def test_the_three_built_ins_are_registered():
    assert {"degree", "resummed", "auto"} <= set(expansions())
    assert get_expansion("degree").truncations == ("max_degree",)
    assert get_expansion("resummed").truncations == ("max_edges",)
    assert get_expansion("auto").truncations == ("max_degree", "max_edges")
    assert get_expansion("auto").run_batch is None and get_expansion("degree").run_batch is not None


def test_a_registered_expansion_is_dispatched_to_with_its_values(toy):
    mlp = random_mlp(3, 4, hidden="tanh", seed=1)
    ref = shinnet.cumulants(mlp, 3, 4, warn=False)
    res = shinnet.cumulants(mlp, 3, 4, expansion="toy", tol=0.0, warn=False, memory_limit=2.0**30)
    assert res.kappa[1] == pytest.approx(ref.kappa[1], rel=1e-12)
    for n in (2, 3):
        assert res.kappa[n] == pytest.approx(2.0 * ref.kappa[n], rel=1e-12)
    (call,) = toy
    assert call["order"] == 3 and call["max_degree"] == 4
    assert isinstance(call["options"], ContractOptions) and call["options"].memory_limit == 2.0**30
    assert "toy" in expansions()
    with pytest.raises(ValueError, match="toy.*needs max_degree"):
        shinnet.cumulants(mlp, 3, expansion="toy")
    with pytest.raises(ValueError, match="not supported for batches"):
        shinnet.cumulants_batch(mlp, 3, 4, np.ones((2, 4)), expansion="toy")


def test_unknown_expansion_refused_before_any_work_listing_the_registered(monkeypatch):
    import shinnet.tensors.shin as shin

    def fail(*a, **k):
        raise AssertionError("work was done")

    monkeypatch.setattr(shin, "shin_tensors", fail)
    mlp = random_mlp(3, 4, hidden="relu", seed=0)
    for call in (lambda: shinnet.cumulants(mlp, 3, 4, expansion="bogus"),
                 lambda: shinnet.cumulants_batch(mlp, 3, 4, np.ones((2, 4)), expansion="bogus")):
        with pytest.raises(ValueError, match=r"unknown expansion 'bogus'.*auto, degree, resummed"):
            call()


def test_registrations_are_checked():
    run = get_expansion("degree").run
    with pytest.raises(ValueError, match="built in"):
        register_expansion(Expansion("degree", run, ("max_degree",)))
    with pytest.raises(ValueError, match="unknown truncations"):
        Expansion("x", run, ("max_width",))
    with pytest.raises(TypeError, match="callable"):
        Expansion("x", None)
    with pytest.raises(TypeError, match="needs an Expansion"):
        register_expansion("toy")
