"""Tensor networks of Wick diagrams (MATH.md sections 3 and 4).

A diagram ``G`` (vertices with keys, edges ``(i, j, multiplicity)``) becomes a tensor network
in cotengra's ``array_contract`` form: ``inputs`` (one tuple of index names per array),
``output`` and ``size_dict``, plus a parallel tuple of *sources* saying which array each input
is (so that the network can be searched for a path without any arrays).  A multi-edge of
multiplicity ``m_e`` is ``m_e`` separate contracted index pairs.  Four representations
(records of :mod:`shinnet.contract.representation_registry`; the network is built from a
record's properties, ``hidden_units`` and ``dense_vertices``, never from its name):

``dense``
    vertex ``i`` is the symmetric ``d^{k_i}`` array ``dense(key_i)``; its legs are edge indices
    of size d.
``factored``
    vertex ``i`` is a hidden-unit hyperindex ``h_i`` of size m carrying ``weights(key_i)``,
    joined to each of its legs by a copy of ``U`` (m x d).  cotengra may then contract in
    d-space, in m-space (``U U^T`` appears as soon as two copies meet) or a mix.
``gram``
    the hidden-unit form: ``val(G) = sum_j prod_i lambda_i[j_i] prod_e Gm[j_i, j_i']^{m_e}``
    with one ``(m, m)`` array ``Gm^{(o) m_e}`` (elementwise power) per edge.
``mixed``
    dense for the vertices whose ``d^k <= m``, factored for the others.

With a batch of B models (second layers), every weight vector / dense array carries a batch
index ``B`` and the output is ``(B,)``: ``lambda_k`` is linear in the second layer, so one
batched contraction evaluates the diagram for every model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

from shinnet.contract.representation_registry import lookup_representation, representation_names

__all__ = [
    "Network",
    "REPRESENTATIONS",
    "build_network",
    "vertex_keys",
    "vertex_legs",
]

#: the degree expansion's representations registered with shinnet (a caller may force one;
#: ``"auto"`` chooses among them per diagram); ``representation_names("degree")`` also lists
#: those registered later
REPRESENTATIONS = representation_names("degree")

_BATCH = "B"


@dataclass(frozen=True)
class Network:
    """One diagram as a tensor network (no arrays attached).

    Attributes
    ----------
    inputs : tuple of tuple of str
        Index names of each input array (cotengra ``inputs``).
    output : tuple of str
        ``()`` for a scalar, ``("B",)`` for a batch.
    size_dict : dict str -> int
    sources : tuple
        One entry per input: ``("dense", key)``, ``("weights", key)``, ``("U",)`` or
        ``("gram", power)``; the array provider turns these into arrays.
    representation : str
        The name of a registered ``"degree"`` representation (:data:`REPRESENTATIONS`).
    """

    inputs: tuple[tuple[str, ...], ...]
    output: tuple[str, ...]
    size_dict: dict[str, int]
    sources: tuple[tuple[Any, ...], ...]
    representation: str

    def input_sizes(self) -> list[int]:
        """Number of entries of each input array."""
        sizes = []
        for ix in self.inputs:
            s = 1
            for i in ix:
                s *= self.size_dict[i]
            sizes.append(s)
        return sizes


def vertex_keys(diagram: Any) -> tuple[Hashable, ...]:
    """The vertex-tensor keys of a diagram: ``diagram.vertex_keys`` (an attribute or a method)
    when it has them (e.g. ``(power, degree)`` pairs of the resummed expansion), else its
    ``degrees``."""
    keys = getattr(diagram, "vertex_keys", None)
    if callable(keys):
        keys = keys()
    return tuple(keys) if keys is not None else tuple(diagram.degrees)


def vertex_legs(diagram: Any) -> list[list[str]]:
    """Leg index names per vertex: edge ``(i, j, m_e)`` gives ``m_e`` indices shared by i and j.

    The number of vertices is ``len(vertex_keys(diagram))`` (for a ``Diagram`` that is its
    order; a resummed ``(G, p)`` class has ``order`` = the cumulant order instead).
    Raises ``ValueError`` for loops or out-of-range vertices.
    """
    n = len(vertex_keys(diagram))
    legs: list[list[str]] = [[] for _ in range(n)]
    c = 0
    for i, j, mult in diagram.edges:
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"diagram edge {(i, j, mult)} is a loop or names a vertex outside 0..{n - 1}")
        if int(mult) < 1:
            raise ValueError(f"diagram edge {(i, j, mult)} has multiplicity < 1")
        for _ in range(int(mult)):
            name = f"e{c}"
            legs[i].append(name)
            legs[j].append(name)
            c += 1
    return legs


def _check_degrees(diagram: Any, legs: list[list[str]], degree_of: Any) -> tuple[Hashable, ...]:
    keys = vertex_keys(diagram)
    if len(keys) != len(legs):
        raise ValueError(f"diagram has {len(legs)} vertices but {len(keys)} vertex keys")
    for v, (key, lv) in enumerate(zip(keys, legs)):
        deg = int(degree_of(key))
        if deg != len(lv):
            raise ValueError(
                f"vertex {v} has key {key!r} of degree {deg} but {len(lv)} edge legs in the diagram"
            )
    return keys


def build_network(
    diagram: Any,
    representation: str,
    *,
    d: int,
    m: int | None,
    degree_of: Any = int,
    batch: int | None = None,
    mixed_threshold: int | None = None,
) -> Network:
    """Build the tensor network of ``diagram`` in one representation (MATH.md section 4).

    Parameters
    ----------
    diagram : Diagram-like
        ``.order``, ``.edges`` (``(i, j, m_e)``), ``.degrees`` (or ``.vertex_keys``).
    representation : str
        A registered ``"degree"`` representation ("dense", "factored", "gram", "mixed", ...).
    d, m : int
        Input dimension and hidden width (``m`` may be None for dense-only vertex objects).
    degree_of : callable
        Vertex key -> number of legs (the vertex object's ``degree_of``).
    batch : int or None
        Batch size B; adds the index ``"B"`` to every vertex's weight (or dense array) and to
        the output.
    mixed_threshold : int or None
        In ``"mixed"``, vertices with ``d^k <= mixed_threshold`` are dense (default ``m``).

    Returns
    -------
    Network
        Cost O(number of edge copies) to build.
    """
    rec = lookup_representation(representation, "degree")
    if rec.needs_units and m is None:
        raise ValueError(f"representation {representation!r} needs factored vertices (U and weights), which are missing")
    legs = vertex_legs(diagram)
    keys = _check_degrees(diagram, legs, degree_of)
    bidx: tuple[str, ...] = (_BATCH,) if batch is not None else ()
    size_dict: dict[str, int] = {name: int(d) for lv in legs for name in lv}
    if batch is not None:
        size_dict[_BATCH] = int(batch)
    inputs: list[tuple[str, ...]] = []
    sources: list[tuple[Any, ...]] = []

    if rec.hidden_units:
        for v, key in enumerate(keys):
            size_dict[f"h{v}"] = int(m)
            inputs.append(bidx + (f"h{v}",))
            sources.append(("weights", key))
        for i, j, mult in diagram.edges:
            inputs.append((f"h{i}", f"h{j}"))
            sources.append(("gram", int(mult)))
        return Network(tuple(inputs), bidx, size_dict, tuple(sources), representation)

    threshold = m if mixed_threshold is None else mixed_threshold
    for v, key in enumerate(keys):
        k = len(legs[v])
        if rec.holds_dense(k, d, threshold):
            inputs.append(bidx + tuple(legs[v]))
            sources.append(("dense", key))
        else:
            h = f"h{v}"
            size_dict[h] = int(m)
            inputs.append(bidx + (h,))
            sources.append(("weights", key))
            for leg in legs[v]:
                inputs.append((h, leg))
                sources.append(("U",))
    return Network(tuple(inputs), bidx, size_dict, tuple(sources), representation)


def network_signature(diagram: Any, network: Network) -> str:
    """A string identifying the network's shape: the diagram's canonical key (cotengra's own
    hashes are not invariant under relabelling, so we key by the canonical form), its vertex
    keys, the representation and the index sizes."""
    sizes = ",".join(f"{k}={v}" for k, v in sorted({("B" if k == _BATCH else k[0]): v for k, v in network.size_dict.items()}.items()))
    return f"{diagram.key}|{vertex_keys(diagram)!r}|{network.representation}|{sizes}"


def batch_index() -> str:
    """Name of the batch index."""
    return _BATCH


def edge_powers(diagram: Any) -> Sequence[int]:
    """Distinct edge multiplicities of a diagram (the Gram Hadamard powers it needs)."""
    return sorted({int(mult) for _, _, mult in diagram.edges})
