"""Registry of expansions (STYLE.md: a new expansion is one registration, not a dispatcher edit).

An expansion turns a model into vertex tensors and hands them to the contraction engine
(:mod:`shinnet.contract`): ``degree`` (MATH.md section 3, shin tensors truncated at Hermite degree
K), ``resummed`` (section 8, power-shin block tensors truncated at cosine order E) and ``auto``
(the rule of :mod:`shinnet.expansions.auto`).  :func:`shinnet.cumulants` and
:func:`shinnet.cumulants_batch` look the name up here; ``register_expansion`` adds one.

The run functions' contract::

    run(model_or_vertices, order, options, *, max_degree, max_edges, diagrams, exact_variance)
        -> CumulantResult
    run_batch(models, order, options, *, max_degree, max_edges, second_layers, diagrams,
              exact_variance) -> CumulantResult          (values arrays (B,))
    preflight(order, max_degree, max_edges, *, d, m, representation, max_diagrams, max_flops)
        -> None   (raises shinnet.preflight.RequestTooLarge for what cannot finish)

``options`` is a :class:`shinnet.contract.options.ContractOptions` (built once by the public call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from shinnet.expansions.auto import preflight_auto, run_auto
from shinnet.expansions.degree import preflight_degree, run_degree, run_degree_batch
from shinnet.expansions.resummed import preflight_resummed, run_resummed, run_resummed_batch

__all__ = ["Expansion", "TRUNCATIONS", "register_expansion", "unregister_expansion", "get_expansion",
           "expansions"]

# truncation argument -> what it means (named in "needs ..." errors)
TRUNCATIONS = {"max_degree": "the Hermite degree truncation K", "max_edges": "the cosine order E_max"}


@dataclass(frozen=True)
class Expansion:
    """One way of turning a model into cumulants (see the module docstring for the signatures).

    Attributes
    ----------
    name : str
        The ``expansion=`` value (matched case-insensitively).
    run : callable
        One model (or one vertex-tensor object the expansion accepts).
    truncations : tuple of str
        The truncation arguments it needs (``"max_degree"``, ``"max_edges"``): a request missing
        one is refused before any work.
    run_batch : callable, optional
        A batch (``cumulants_batch``); None refuses batches with ``batch_refusal`` as the reason.
    preflight : callable, optional
        Prices a request at the model's sizes before any work (:mod:`shinnet.preflight`).
    batch_refusal : str
        Why batches are refused (when ``run_batch`` is None).
    description : str
    """

    name: str
    run: Callable[..., object]
    truncations: tuple[str, ...] = ()
    run_batch: Callable[..., object] | None = None
    preflight: Callable[..., None] | None = None
    batch_refusal: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TypeError(f"an expansion's name must be a non-empty string, got {self.name!r}")
        for what in ("run", "run_batch", "preflight"):
            fn = getattr(self, what)
            if not (callable(fn) or (fn is None and what != "run")):
                raise TypeError(f"expansion {self.name!r}: {what} must be callable, got {type(fn).__name__}")
        bad = [t for t in self.truncations if t not in TRUNCATIONS]
        if bad:
            raise ValueError(f"expansion {self.name!r}: unknown truncations {bad}; known: {sorted(TRUNCATIONS)}")

    def missing_truncation(self, max_degree: int | None, max_edges: int | None) -> None:
        """``ValueError`` naming the first truncation this expansion needs that is None.  O(1)."""
        given = {"max_degree": max_degree, "max_edges": max_edges}
        for t in self.truncations:
            if given[t] is None:
                raise ValueError(f"expansion={self.name!r} needs {t} ({TRUNCATIONS[t]})")


def _builtin_expansions() -> dict[str, Expansion]:
    return {
        "degree": Expansion("degree", run_degree, ("max_degree",), run_degree_batch, preflight_degree,
                            description="MATH.md section 3: shin tensors, Hermite degree <= K"),
        "resummed": Expansion("resummed", run_resummed, ("max_edges",), run_resummed_batch, preflight_resummed,
                              description="MATH.md section 8: same-unit terms exact, cosine order <= E"),
        "auto": Expansion("auto", run_auto, ("max_degree", "max_edges"), None, preflight_auto,
                          batch_refusal="its rule may choose differently per row",
                          description="the rule of shinnet.expansions.auto: degree or resummed"),
    }


class _Registry:
    """Name -> Expansion.  Built on first use; one instance per process, changed only through
    :func:`register_expansion` / :func:`unregister_expansion`."""

    def __init__(self) -> None:
        self._table: dict[str, Expansion] | None = None

    def table(self) -> dict[str, Expansion]:
        if self._table is None:
            self._table = _builtin_expansions()
        return self._table


_REGISTRY = _Registry()
_BUILTIN = ("degree", "resummed", "auto")


def register_expansion(expansion: Expansion, *, overwrite: bool = False) -> None:
    """Register ``expansion`` under ``expansion.name`` (lower-cased); an existing name is refused
    unless ``overwrite`` (built-ins cannot be replaced)."""
    if not isinstance(expansion, Expansion):
        raise TypeError(f"register_expansion needs an Expansion, got {type(expansion).__name__}")
    key = expansion.name.lower()
    table = _REGISTRY.table()
    if key in _BUILTIN:
        raise ValueError(f"expansion {key!r} is built in and cannot be replaced")
    if key in table and not overwrite:
        raise ValueError(f"expansion {key!r} is already registered (pass overwrite=True to replace it)")
    table[key] = expansion


def unregister_expansion(name: str) -> None:
    """Remove a registered (not built-in) expansion; ``KeyError`` when it is not registered."""
    key = str(name).lower()
    if key in _BUILTIN:
        raise ValueError(f"expansion {key!r} is built in and cannot be removed")
    del _REGISTRY.table()[key]


def expansions() -> list[str]:
    """Registered expansion names, sorted."""
    return sorted(_REGISTRY.table())


def get_expansion(name: str) -> Expansion:
    """The expansion registered under ``name`` (case-insensitive); ``ValueError`` listing the
    registered ones otherwise.  O(1), before any work."""
    table = _REGISTRY.table()
    hit = table.get(name.lower()) if isinstance(name, str) else None
    if hit is None:
        raise ValueError(f"unknown expansion {name!r}: expansion must be one of the registered ones "
                         f"({', '.join(sorted(table))})")
    return hit
