"""Activation registry (STYLE.md: a new activation is one registration, not a dispatcher edit).

``get(name_or_activation)`` returns an :class:`Activation`; ``register(name, factory)`` adds
one; ``polynomial(coefficients)`` builds a polynomial activation (ascending powers).
"""

from __future__ import annotations

from typing import Callable, Sequence

from shinnet.activations.base import Activation, as_unit_arrays
from shinnet.activations.closed_forms import Polynomial, ReLU
from shinnet.activations.registry_extra import extra_factories
from shinnet.activations.user import from_callable

__all__ = [
    "Activation",
    "Polynomial",
    "ReLU",
    "as_unit_arrays",
    "from_callable",
    "get",
    "register",
    "names",
    "polynomial",
]


def _builtin_factories() -> dict[str, Callable[[], Activation]]:
    factories: dict[str, Callable[[], Activation]] = {
        "relu": ReLU,
        "identity": lambda: Polynomial([0.0, 1.0], name="identity"),
        "linear": lambda: Polynomial([0.0, 1.0], name="identity"),
        "quadratic": lambda: Polynomial([0.0, 0.0, 1.0], name="quadratic"),
    }
    factories.update(extra_factories())  # smooth activations and the rest live in their own modules
    return factories


class _Registry:
    """Name -> factory map.  Built on first use; one instance per process, never mutated
    except through :func:`register`."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Activation]] | None = None

    def factories(self) -> dict[str, Callable[[], Activation]]:
        if self._factories is None:
            self._factories = _builtin_factories()
        return self._factories


_REGISTRY = _Registry()


def register(name: str, factory: Callable[[], Activation], *, overwrite: bool = False) -> None:
    """Register ``factory`` (a zero-argument callable returning an Activation) under ``name``.

    The factory is called once here, so a factory that fails or returns something other than an
    :class:`Activation` is refused at registration (``TypeError``), not at first use.
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"activation name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(
            f"register({name!r}, factory): factory must be a zero-argument callable returning an Activation, "
            f"got {type(factory).__name__} {factory!r}; to register a plain function f(z) use "
            f"register({name!r}, lambda: shinnet.activations.from_callable(f))"
        )
    table = _REGISTRY.factories()
    key = name.lower()
    if key in table and not overwrite:
        raise ValueError(f"activation {name!r} is already registered (pass overwrite=True to replace it)")
    try:
        made = factory()
    except Exception as exc:
        raise TypeError(f"register({name!r}, factory): calling the factory failed: {exc}") from exc
    if not isinstance(made, Activation):
        raise TypeError(
            f"register({name!r}, factory): the factory must return an Activation, got {type(made).__name__}"
        )
    table[key] = factory


def names() -> list[str]:
    """Registered activation names, sorted."""
    return sorted(_REGISTRY.factories())


def get(activation: str | Activation) -> Activation:
    """The activation registered under ``activation`` (case-insensitive), or ``activation``
    itself if it already is one.  Raises ``ValueError`` naming the known activations otherwise."""
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a registered name or an Activation, got {type(activation).__name__}; "
            "wrap a plain function with shinnet.activations.from_callable"
        )
    table = _REGISTRY.factories()
    try:
        return table[activation.lower()]()
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; registered: {', '.join(sorted(table))}") from None


def polynomial(coefficients: Sequence[float]) -> Polynomial:
    """A polynomial activation ``sum_i coefficients[i] z^i`` (ascending powers)."""
    return Polynomial(coefficients)
