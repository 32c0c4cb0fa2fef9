"""The registry of network representations (MATH.md sections 4 and 8): one record per name.

A *representation* says how a diagram's vertex tensors enter its tensor network.  The degree
expansion's four (:func:`shinnet.contract.network.build_network` builds them):

``dense``     every vertex the symmetric ``d^k`` array ``T_k``;
``factored``  every vertex a hidden-unit index (size m) carrying ``lambda_k``, one ``U`` copy per leg;
``gram``      hidden-unit indices only, joined by the m x m Gram powers ``(U U^T)^{(o) m_e}``;
``mixed``     dense where ``d^k <= m``, factored elsewhere.

The resummed expansion's two forms (:mod:`shinnet.contract.resummed_plan`):

``hidden``    the hidden-unit network with zero-diagonal Gram powers;
``dspace``    the Moebius sum of quotient networks, each planned among the degree representations.

``"auto"`` is not a representation: it asks the chooser to pick one per diagram.  Callers test
the *properties* of a record (:class:`Representation`), never its name, so a new representation
is one :func:`register_representation` call.  This module imports nothing from shinnet (the
network builders and the chooser sit above it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = [
    "AUTO",
    "EXPANSIONS",
    "Representation",
    "is_auto",
    "lookup_representation",
    "register_representation",
    "representation_names",
    "representations",
]

#: the name that asks for a choice per diagram instead of one representation
AUTO = "auto"
#: the expansions a representation can belong to
EXPANSIONS = ("degree", "resummed")
_DENSE_VERTICES = ("all", "small", "none")
_SEARCHES = ("exact", "greedy", "random-greedy")


@dataclass(frozen=True)
class Representation:
    """The properties of one representation that the builders, the chooser and the pricing test.

    Attributes
    ----------
    name : str
    expansion : {"degree", "resummed"}
        The expansion whose ``representation=`` accepts the name.
    dense_vertices : {"all", "small", "none"}
        Which vertices are held as dense ``d^k`` tensors: all, those with ``d^k <= m`` (the
        threshold), or none.  Dense vertices need a ``dense()`` method on the vertex objects, and
        cost ``2 m d^k`` FLOPs to materialise from factored weights (MATH.md section 4).
    hidden_units : bool
        The network runs over hidden-unit indices only, joined by m x m Gram powers (no d-sized
        legs): ``gram`` and ``hidden``.
    needs_units : bool
        Needs the unit rows ``U`` (m x d) and the weights ``lambda_k`` (m given).
    uses_gram : bool
        Holds m x m Gram powers (m^2 memory each; capped by ``gram_max_m``).
    search : {"exact", "greedy", "random-greedy"}
        The default path finder (:func:`shinnet.contract.pathcache.default_optimizer`):
        "random-greedy" marks networks with one U copy per leg, whose searches cost ~4 ms and
        which ``"auto"`` prices only for expensive diagrams.
    summary : str
        One line for listings and error messages.

    A ``"resummed"`` form is told apart by ``hidden_units`` (the hidden-unit network, or the
    d-space quotient networks, which are planned among the ``"degree"`` records).
    """

    name: str
    expansion: str
    dense_vertices: str = "none"
    hidden_units: bool = False
    needs_units: bool = True
    uses_gram: bool = False
    search: str = "random-greedy"
    summary: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name == AUTO:
            raise ValueError(f"a representation's name must be a non-empty string other than {AUTO!r}, got {self.name!r}")
        if self.expansion not in EXPANSIONS:
            raise ValueError(f"representation {self.name!r}: expansion must be one of {EXPANSIONS}, got {self.expansion!r}")
        if self.dense_vertices not in _DENSE_VERTICES:
            raise ValueError(f"representation {self.name!r}: dense_vertices must be one of {_DENSE_VERTICES}, "
                             f"got {self.dense_vertices!r}")
        if self.search not in _SEARCHES:
            raise ValueError(f"representation {self.name!r}: search must be one of {_SEARCHES}, got {self.search!r}")

    @property
    def all_dense(self) -> bool:
        """Every vertex is a dense ``d^k`` tensor (no ``U`` needed)."""
        return self.dense_vertices == "all"

    @property
    def needs_dense(self) -> bool:
        """Some vertex is dense: the vertex objects must have ``dense()``, and dense tensors not
        held yet are materialised (``2 m d^k`` FLOPs each)."""
        return self.dense_vertices != "none"

    @property
    def costly_search(self) -> bool:
        """Its path search costs several times the others' (U copies per leg)."""
        return self.search == "random-greedy"

    def holds_dense(self, degree: int, d: int, threshold: float | None) -> bool:
        """Whether a vertex of ``degree`` legs is a dense tensor here (``"small"``: ``d^k <= threshold``)."""
        if self.dense_vertices == "small":
            return threshold is not None and float(d) ** int(degree) <= threshold
        return self.all_dense

    def differs(self, degrees: Sequence[int], d: int, m: int | None) -> bool:
        """Whether the network differs from both the all-dense and the all-factored one: always,
        except for ``"small"``, which is neither only when some but not all of ``degrees`` are
        at most the threshold ``m``."""
        if self.dense_vertices != "small":
            return True
        n_dense = sum(1 for k in degrees if self.holds_dense(k, d, m))
        return 0 < n_dense < len(degrees)


class _Registry:
    """name -> :class:`Representation`, in registration order; one per process."""

    def __init__(self, records: Sequence[Representation]) -> None:
        self.records: dict[str, Representation] = {r.name: r for r in records}


_REGISTRY = _Registry([
    Representation("dense", "degree", dense_vertices="all", needs_units=False, search="exact",
                   summary="every vertex the dense d^k tensor"),
    Representation("factored", "degree", summary="hidden-unit index per vertex, one U copy per leg"),
    Representation("gram", "degree", hidden_units=True, uses_gram=True, search="greedy",
                   summary="hidden-unit indices joined by m x m Gram powers"),
    Representation("mixed", "degree", dense_vertices="small", summary="dense where d^k <= m, factored elsewhere"),
    Representation("hidden", "resummed", hidden_units=True, uses_gram=True, search="greedy",
                   summary="resummed: hidden-unit network with zero-diagonal Gram powers"),
    Representation("dspace", "resummed", summary="resummed: Moebius sum of quotient networks, each planned "
                                                 "among the degree representations"),
])


def register_representation(record: Representation, *, overwrite: bool = False) -> None:
    """Add a representation.  Its builder must exist for its properties: a ``"degree"`` record
    is built by :func:`shinnet.contract.network.build_network` from ``dense_vertices`` and
    ``hidden_units``.  Raises ``ValueError`` when the name is taken (unless ``overwrite``)."""
    if not isinstance(record, Representation):
        raise TypeError(f"register_representation takes a Representation record, got {type(record).__name__}")
    if record.name in _REGISTRY.records and not overwrite:
        raise ValueError(f"representation {record.name!r} is already registered (pass overwrite=True to replace it)")
    _REGISTRY.records[record.name] = record


def representations(expansion: str | None = None) -> list[Representation]:
    """The registered records (of one expansion, when given), in registration order."""
    if expansion is not None and expansion not in EXPANSIONS:
        raise ValueError(f"expansion must be one of {EXPANSIONS}, got {expansion!r}")
    return [r for r in _REGISTRY.records.values() if expansion is None or r.expansion == expansion]


def representation_names(expansion: str | None = None, *, auto: bool = False) -> tuple[str, ...]:
    """The registered names (of one expansion), with ``"auto"`` first when ``auto``."""
    return ((AUTO,) if auto else ()) + tuple(r.name for r in representations(expansion))


def is_auto(name: str) -> bool:
    """Whether ``name`` asks the chooser to pick per diagram."""
    return name == AUTO


def lookup_representation(name: str, expansion: str | None = None) -> Representation:
    """The record of ``name``; ``ValueError`` listing the valid names when it is unknown (or
    belongs to another expansion than ``expansion``).  ``"auto"`` is not a record: test it with
    :func:`is_auto` first."""
    record = _REGISTRY.records.get(name) if isinstance(name, str) else None
    if record is None or (expansion is not None and record.expansion != expansion):
        where = "" if expansion is None else f" for the {expansion} expansion"
        valid = ", ".join(repr(n) for n in representation_names(expansion, auto=True))
        raise ValueError(f"unknown representation {name!r}{where}; choose one of {valid}")
    return record
