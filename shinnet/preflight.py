"""Pre-flight cost check: price a request before any work, refuse what cannot finish (issue 10, item 5).

``estimate(mlp, order=100)`` used to enumerate diagrams for minutes with memory climbing.  Here
the request is priced in well under a second from a counting formula, and refused (with what it
would cost and what to ask instead) when it exceeds the limits of :mod:`shinnet.defaults`.

**Diagram counts** (MATH.md section 3).  The connected loopless multigraphs on n vertices with
degrees in ``1..K`` are counted approximately by the configuration model: the number of
labelled pairings with degree vector ``k`` is ``(2E)! / (E! 2^E prod_i k_i!)``, ``2E = sum k_i``;
summed over ``k in [1, K]^n`` (the coefficient of ``x^(2E)`` in ``(sum_{k=1}^K x^k / k!)^n``)
with ``E >= n - 1`` (a spanning tree) and divided by ``n!`` (classes of a graph with trivial
automorphisms) it is within a factor 1.3-2.3 *below* the exact count for every n <= 6, K <= 6
(measured against ``shinnet.enumerate.diagrams``), so the estimate is doubled.  At small n and
large K it misses the growth in K (multi-edges are weighted by ``1 / m_e!``), so the larger of it
and a lattice-point lower bound (:func:`_log_lattice_bound`) is used.  The resummed
classes (section 8) are counted as ``sum_N C(n-1, N-1) sum_{e <= E} C(C(N,2) + e - 1, e) / N!``
(compositions of n onto N vertices times multigraphs with e edges).  Cost: O(n^2 K) floating
operations, done in log space so that astronomically large requests are priced too.

**FLOPs** are a lower estimate: every diagram contracts at least one ``m x d`` array
(``2 m d`` FLOPs).  **Time**: cold enumeration ~2e-4 s per diagram (measured: 5847 diagrams of
n = 6, K = 5 in 1.0 s).  **Memory**: the diagram objects and their records, ~``400 + 120 n``
bytes per diagram, plus (``representation="dense"``) the dense vertex tensors ``d^k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from shinnet import defaults
from shinnet.memory import RequestMemoryError, available_memory, format_bytes

__all__ = [
    "RequestCost",
    "RequestTooLarge",
    "RequestTooLargeForMemory",
    "log_diagram_count",
    "log_resummed_count",
    "price_request",
    "check_request",
]

#: measured cold enumeration time per diagram (seconds), see the module docstring
_SECONDS_PER_DIAGRAM = 2e-4
#: requests above this order are priced at this order (the count only grows with n)
_MAX_PRICED_ORDER = 200
#: calibration factor of the configuration-model count (it undercounts by 1.3-2.3x)
_CALIBRATION = 2.0


class RequestTooLarge(ValueError):
    """A request whose predicted cost exceeds the limits; raised before any work."""


class RequestTooLargeForMemory(RequestTooLarge, RequestMemoryError):
    """A request whose predicted memory exceeds what this process may use (also a ``MemoryError``)."""


@dataclass(frozen=True)
class RequestCost:
    """Predicted cost of one request, per cumulant order and in total.

    Attributes
    ----------
    diagrams : dict int -> float
        Estimated number of diagrams per cumulant order n (``inf`` beyond float range).
    total_diagrams, flops, seconds, memory_bytes : float
        Totals (FLOPs a lower estimate; seconds of cold enumeration; bytes held).
    exceeds : list of str
        Which limits the request exceeds (empty: it may run).
    """

    expansion: str
    order: int
    truncation: int
    diagrams: dict = field(default_factory=dict)
    total_diagrams: float = 0.0
    flops: float = 0.0
    seconds: float = 0.0
    memory_bytes: float = 0.0
    exceeds: list = field(default_factory=list)

    def __str__(self) -> str:
        trunc = "max_edges" if self.expansion == "resummed" else "max_degree"
        return (f"order={self.order}, {trunc}={self.truncation}: about {_fmt(self.total_diagrams)} diagrams, "
                f">= {_fmt(self.flops)} FLOPs, ~{_fmt(self.seconds)} s to enumerate cold, "
                f"~{format_bytes(self.memory_bytes)} held")


def _fmt(x: float) -> str:
    return "inf" if not math.isfinite(x) else f"{x:.3g}"


def _logsumexp(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def log_diagram_count(order: int, max_degree: int) -> float:
    """Natural log of the estimated number of connected diagrams of ``kappa_order`` with vertex
    degrees in ``1..max_degree`` (the doubled configuration-model count of the module docstring);
    ``-inf`` when there are none.  Cost O(order^2 max_degree^2) once per ``max_degree`` and power
    of two above ``order`` (the orders below it are computed together and memoised)."""
    n, K = int(order), int(max_degree)
    if n < 2 or K < 1:
        return -math.inf
    if n > _MAX_PRICED_ORDER:
        return math.inf
    # all orders up to a power of two >= n at once (memoised); 1/k! underflows beyond k = 170
    upto = min(_MAX_PRICED_ORDER, 1 << max(3, (n - 1).bit_length()))
    config = _config_counts(min(K, 170), upto)[n]
    return max(config, _log_lattice_bound(n, K))


@lru_cache(maxsize=256)
def _config_counts(K: int, upto: int) -> tuple[float, ...]:
    """``log`` of the doubled configuration-model count for every order n = 0..upto."""
    base = np.array([0.0] + [1.0 / math.factorial(k) for k in range(1, K + 1)])
    poly = np.array([1.0])
    log_scale = 0.0
    out = [-math.inf, -math.inf]
    s_all = np.arange(upto * K + 1)
    E_all = s_all // 2
    pairing = (np.array([math.lgamma(2 * e + 1) - math.lgamma(e + 1) - e * math.log(2.0) for e in E_all]))
    for n in range(1, upto + 1):
        poly = np.convolve(poly, base)
        top = float(poly.max())
        poly /= top
        log_scale += math.log(top)
        if n < 2:
            continue
        s = s_all[: poly.size]
        keep = (s % 2 == 0) & (s >= 2 * (n - 1)) & (poly > 0)
        if not np.any(keep):
            out.append(-math.inf)
            continue
        terms = np.log(poly[keep]) + log_scale + pairing[: poly.size][keep]
        top_t = float(terms.max())
        out.append(top_t + math.log(float(np.exp(terms - top_t).sum())) - math.lgamma(n + 1)
                   + math.log(_CALIBRATION))
    return tuple(out)


def _log_lattice_bound(n: int, K: int) -> float:
    """Log of ``(floor(K / (n-1)) + 1)^C(n,2) / n!``: multiplicity matrices whose entries are all
    at most ``K / (n - 1)`` keep every degree <= K, so this many labelled multigraphs exist (most
    of them connected with degrees >= 1 once the entries are large).  The configuration count
    weights a multi-edge of multiplicity m_e by 1 / m_e! and so misses the growth in K at small n
    (n = 4, K = 50); this bound does not."""
    pairs = n * (n - 1) // 2
    return pairs * math.log(K // (n - 1) + 1) - math.lgamma(n + 1)


@lru_cache(maxsize=4096)
def log_resummed_count(order: int, max_edges: int) -> float:
    """Natural log of the estimated number of coloured classes (G, p) of the resummed expansion
    (MATH.md section 8) with at most ``max_edges`` edge copies:
    ``2 sum_N C(n-1, N-1) C(C(N,2) + E, E) / N!`` (multigraphs with <= E edges on N labelled
    vertices, by the hockey-stick identity).  Cost O(order)."""
    n, E = int(order), int(max_edges)
    if n < 1 or E < 0:
        return -math.inf
    if n > _MAX_PRICED_ORDER:
        return math.inf
    terms = []
    for N in range(1, n + 1):
        comps = math.lgamma(n) - math.lgamma(N) - math.lgamma(n - N + 1)  # C(n-1, N-1)
        pairs = N * (N - 1) // 2
        if pairs == 0:
            graphs = 0.0
        elif E < N - 1:  # no connected graph on N vertices with so few edges
            continue
        else:
            graphs = math.lgamma(pairs + E + 1) - math.lgamma(E + 1) - math.lgamma(pairs + 1)
        terms.append(comps + graphs - math.lgamma(N + 1))
    return _logsumexp(terms) + math.log(_CALIBRATION)


def _count(log_count: float) -> float:
    return math.exp(log_count) if log_count < 700 else math.inf


def price_request(order: int, truncation: int, *, d: int = 1, m: int = 1, expansion: str = "degree",
                  representation: str = "auto", batch: int = 1) -> RequestCost:
    """Price a request for ``kappa_2 .. kappa_order`` (see the module docstring); nothing is built.

    ``truncation`` is ``max_degree`` (degree expansion) or ``max_edges`` (resummed).
    """
    counts: dict[int, float] = {}
    for n in range(2, min(int(order), _MAX_PRICED_ORDER) + 1):
        log_c = (log_resummed_count(n, truncation) if expansion == "resummed"
                 else log_diagram_count(n, truncation))
        counts[n] = _count(log_c)
    if int(order) > _MAX_PRICED_ORDER:
        counts[int(order)] = math.inf
    total = float(sum(counts.values()))
    flops = total * 2.0 * max(m, 1) * max(d, 1) * max(batch, 1)
    memory = sum(c * (400.0 + 120.0 * n) for n, c in counts.items())
    if representation == "dense" and expansion != "resummed":
        memory += sum(8.0 * batch * float(d) ** k for k in range(1, int(truncation) + 1))
    return RequestCost(expansion, int(order), int(truncation), counts, total, flops,
                       total * _SECONDS_PER_DIAGRAM, memory)


def _largest(fits, start: int, stop: int) -> int | None:
    """The largest value v in [start, stop] with ``fits(v)``, scanning up (counts grow with v)."""
    best = None
    for v in range(start, stop + 1):
        if not fits(v):
            break
        best = v
    return best


def check_request(order: int, truncation: int, *, d: int = 1, m: int = 1, expansion: str = "degree",
                  representation: str = "auto", batch: int = 1, max_diagrams: float | None = None,
                  max_flops: float | None = None, what: str = "this request") -> RequestCost:
    """Price a request and raise :class:`RequestTooLarge` when it exceeds ``max_diagrams``
    (default :data:`shinnet.defaults.DEFAULT_MAX_DIAGRAMS`), ``max_flops`` (default
    :data:`shinnet.defaults.DEFAULT_MAX_FLOPS`) or the memory this process may still use
    (:func:`shinnet.memory.available_memory`).  The message says what the request would cost and
    the largest order / truncation that fits.  Cost: well under a second for any input.
    """
    max_diagrams = defaults.DEFAULT_MAX_DIAGRAMS if max_diagrams is None else float(max_diagrams)
    max_flops = defaults.DEFAULT_MAX_FLOPS if max_flops is None else float(max_flops)
    kw = dict(d=d, m=m, expansion=expansion, representation=representation, batch=batch)
    cost = price_request(order, truncation, **kw)
    mem = available_memory()
    mem_limit = defaults.MEMORY_FRACTION * mem.bytes
    exceeds = []
    if cost.total_diagrams > max_diagrams:
        exceeds.append(f"about {_fmt(cost.total_diagrams)} diagrams > the limit max_diagrams={max_diagrams:.3g}")
    if cost.flops > max_flops:
        exceeds.append(f">= {_fmt(cost.flops)} FLOPs > the limit max_flops={max_flops:.3g}")
    if cost.memory_bytes > mem_limit:
        exceeds.append(f"~{format_bytes(cost.memory_bytes)} of memory > {format_bytes(mem_limit)} available "
                       f"({mem.source})")
    if not exceeds:
        return cost

    def fits(o: int, t: int) -> bool:
        c = price_request(o, t, **kw)
        return c.total_diagrams <= max_diagrams and c.flops <= max_flops and c.memory_bytes <= mem_limit

    trunc_name = "max_edges" if expansion == "resummed" else "max_degree"
    hints = []
    best_order = _largest(lambda o: fits(o, truncation), 2, min(int(order) - 1, _MAX_PRICED_ORDER))
    if best_order is not None:
        hints.append(f"order <= {best_order} at {trunc_name}={truncation}")
    lowest = 0 if expansion == "resummed" else 1
    best_trunc = _largest(lambda t: fits(min(int(order), _MAX_PRICED_ORDER), t), lowest, int(truncation) - 1)
    if best_trunc is not None:
        hints.append(f"{trunc_name} <= {best_trunc} at order={order}")
    hints.append("estimate(..., budget_flops=...) to let shinnet choose the settings")
    error = RequestTooLargeForMemory if cost.memory_bytes > mem_limit else RequestTooLarge
    raise error(
        f"{what} ({cost}) cannot finish: {'; '.join(exceeds)}. Ask instead for " + ", or ".join(hints)
        + " (or raise the limits with max_diagrams= / max_flops= if you really mean it)."
    )
