"""Power shin tensors: the vertex tensors of the resummed expansion (MATH.md section 8).

Per hidden unit u the vertex weights are ``kap[u, p, k] = a_u^p K_{p,k}(r_u, b_u)``, the joint
cumulants of ``Y_u = a_u sigma(r_u zeta_u + b_u)`` taken p times and ``zeta_u = u_u . x`` taken k
times (:mod:`shinnet.tensors.cumulant_vertices`).  A vertex of the resummed diagrams carries a key
``(p, k)`` (power, degree) and the power shin tensor

    T^[p]_k = sum_u kap[u, p, k] u_u^{(x)k}              (p = 1: the shin tensor shin_k).

A block B of vertices merged on one unit (MATH.md section 8, "In d-space") carries
``T_B = sum_u (prod_{v in B} kap[u, p_v, k_v]) u_u^{(x)k'_B}``.  :class:`PowerShinTensors`
satisfies the vertex-tensor protocol of docs/design.md with keys ``(p, k)``; for operator norms
it reuses :class:`shinnet.tensors.shin.ShinTensors` (one per power, ``lam = kap[:, p, :].T``).
:func:`hidden_unit_value` is the brute-force hidden-unit reference for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import ascii_letters
from typing import Any, Iterable, Sequence

import numpy as np

from shinnet.activations.power_hermite import power_hermite_coefficients, power_hermite_flops
from shinnet.tensors.cumulant_vertices import cumulant_vertices, cumulant_vertices_flops
from shinnet.tensors.shin import ShinTensors
from shinnet.kernels.checks import check_fits
from shinnet.kernels.norms import factored_dense
from shinnet.validation import readonly_float_array

__all__ = ["PowerShinTensors", "PowerShinBatch", "power_shin_tensors", "power_shin_batch", "unit_cumulants",
           "check_second_layers", "hidden_unit_value"]

_UNIT_NORM_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class PowerShinTensors:
    """Vertex weights ``kap[u, p, k]`` and unit rows ``U`` of the resummed expansion.

    Parameters
    ----------
    kap : array (m, P+1, K+1)
        ``kap[u, p, k] = a_u^p K_{p,k}(r_u, b_u)`` for p >= 1; ``kap[:, 0, :]`` must be 0.
    U : array (m, d)
        Unit rows ``u_u`` (norms within 1e-10 of 1).
    c : float
        Output bias: ``kappa_1 = mean() = c + sum_u kap[u, 1, 0]``.
    build_flops : float
        FLOPs spent building the weights (the cost of the advice, MATH.md section 7).

    Vertex keys are pairs ``(p, k)`` with ``1 <= p <= P`` and ``0 <= k <= K``.
    """

    kap: np.ndarray
    U: np.ndarray
    c: float = 0.0
    build_flops: float = 0.0

    def __post_init__(self) -> None:
        kap = readonly_float_array("kap", self.kap, 3)
        U = readonly_float_array("U", self.U, 2)
        if U.shape[0] == 0 or U.shape[1] == 0:
            raise ValueError(f"U must have at least one row and one column, got shape {U.shape}")
        if kap.shape[0] != U.shape[0] or kap.shape[1] < 2:
            raise ValueError(f"kap must have shape (m, P+1, K+1) with m = {U.shape[0]} and P >= 1, got {kap.shape}")
        if np.any(kap[:, 0, :] != 0.0):
            raise ValueError("kap[:, 0, :] must be zero (cumulant vertices start at power p = 1)")
        dev = np.abs(np.linalg.norm(U, axis=1) - 1.0)
        if dev.max() > _UNIT_NORM_TOL:
            j = int(dev.argmax())
            raise ValueError(f"rows of U must have unit norm within {_UNIT_NORM_TOL:g}; row {j} is off by {dev[j]:.3g}")
        c, bf = float(self.c), float(self.build_flops)
        if not np.isfinite(c) or not (np.isfinite(bf) and bf >= 0):
            raise ValueError(f"c must be finite and build_flops finite and >= 0, got {c}, {bf}")
        object.__setattr__(self, "kap", kap)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "build_flops", bf)
        object.__setattr__(self, "_cache", {})

    # ------------------------------------------------------------------ shape
    @property
    def m(self) -> int:
        """Hidden width."""
        return int(self.U.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.U.shape[1])

    @property
    def max_power(self) -> int:
        """P: the largest power held."""
        return int(self.kap.shape[1] - 1)

    @property
    def max_degree(self) -> int:
        """K: the largest degree held."""
        return int(self.kap.shape[2] - 1)

    def mean(self) -> float:
        """``kappa_1 = c + sum_u kap[u, 1, 0]`` (exact, MATH.md section 8)."""
        return self.c + float(self.kap[:, 1, 0].sum())

    def _key(self, key: Any) -> tuple[int, int]:
        try:
            p, k = (int(v) for v in key)
        except (TypeError, ValueError):
            raise ValueError(f"a vertex key is a pair (power p, degree k), got {key!r}") from None
        if not 1 <= p <= self.max_power or not 0 <= k <= self.max_degree:
            raise ValueError(
                f"vertex key (p, k) = {(p, k)} is out of range: p in 1..{self.max_power}, k in 0..{self.max_degree}"
            )
        return p, k

    # ------------------------------------------------------- vertex protocol
    def degree_of(self, key: Any) -> int:
        """Number of legs of vertex ``(p, k)``: k."""
        return self._key(key)[1]

    def weights(self, key: Any) -> np.ndarray:
        """Factored weights ``kap[:, p, k]``, shape (m,) (read-only)."""
        p, k = self._key(key)
        return self.kap[:, p, k]

    def block_weights(self, keys: Iterable[Any]) -> np.ndarray:
        """``prod_{v in B} kap[:, p_v, k_v]``, shape (m,): the weights of a merged block."""
        out = np.ones(self.m)
        for key in keys:
            out = out * self.weights(key)
        return out

    def block_tensor(self, keys: Sequence[Any], legs: int, max_bytes: float | None = None) -> np.ndarray:
        """``T_B = sum_u (prod_{v in B} kap[u, p_v, k_v]) u_u^{(x)legs}`` (MATH.md section 8).

        Parameters
        ----------
        keys : sequence of (p, k)
            The block's vertices (k = the vertex's degree in G).
        legs : int
            ``k'_B``, the edge copies leaving the block.
        max_bytes : float, optional
            Refuse (``MemoryError``, before allocating) when ``d^legs * 8`` bytes exceed it
            (default: a quarter of the available memory).

        Returns
        -------
        ndarray, shape (d,)*legs (a 0-d array for legs = 0).  Cost 2 m d^legs + m |B| FLOPs.
        """
        if isinstance(legs, bool) or not isinstance(legs, (int, np.integer)) or legs < 0:
            raise ValueError(f"legs must be an integer >= 0, got {legs!r}")
        keys = list(keys)
        if not keys:
            raise ValueError("a block needs at least one vertex key")
        check_fits("block_tensor", self.d ** int(legs), max_bytes, f"d^legs = {self.d}^{legs} float64 entries")
        return factored_dense(self.block_weights(keys), self.U, int(legs))

    def dense(self, key: Any, max_bytes: float | None = None) -> np.ndarray:
        """``T^[p]_k = sum_u kap[u, p, k] u_u^{(x)k}``, shape (d,)*k, read-only and memoised.
        Refuses before allocating when too large (see :meth:`block_tensor`).  Cost 2 m d^k."""
        p, k = self._key(key)
        cached = self._cache.get(("dense", p, k))  # type: ignore[attr-defined]
        if cached is not None:
            return cached
        T = self.block_tensor([(p, k)], k, max_bytes)
        T.setflags(write=False)
        self._cache[("dense", p, k)] = T  # type: ignore[attr-defined]
        return T

    def shin(self, p: int) -> ShinTensors:
        """The power-p slice as a :class:`shinnet.tensors.shin.ShinTensors` (``lam = kap[:, p, :].T``,
        c = 0), memoised; gives inner products and operator norms of ``T^[p]_k``."""
        p, _ = self._key((p, 0))
        cached = self._cache.get(("shin", p))  # type: ignore[attr-defined]
        if cached is None:
            cached = ShinTensors(lam=self.kap[:, p, :].T, U=self.U, c=0.0)
            self._cache[("shin", p)] = cached  # type: ignore[attr-defined]
        return cached

    def op_norm(self, key: Any, q: int, **kwargs: Any) -> float:
        """``||mat_{q, k-q}(T^[p]_k)||_op``, the d^q x d^(k-q) matricisation (MATH.md section 5).

        Delegates to :meth:`shinnet.tensors.shin.ShinTensors.op_norm_details` on :meth:`shin`: dense SVD
        when d^k is small, otherwise the exact factored norm (Gram or Lanczos); keyword arguments
        are passed on.  q = 0 or q = k is the Frobenius norm.
        """
        p, k = self._key(key)
        return self.shin(p).op_norm(k, q, **kwargs)

    def __repr__(self) -> str:
        return f"PowerShinTensors(d={self.d}, m={self.m}, P={self.max_power}, K={self.max_degree}, mean={self.mean():.6g})"


def _check_truncation(max_power: Any, max_degree: Any) -> tuple[int, int]:
    for name, value in (("max_power", max_power), ("max_degree", max_degree)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if max_power < 1 or max_degree < 0:
        raise ValueError(f"need max_power >= 1 and max_degree >= 0, got {max_power}, {max_degree}")
    return int(max_power), int(max_degree)


def unit_cumulants(mlp: Any, max_power: int, max_degree: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The second-layer-free part of the vertex weights (MATH.md section 8): ``K[u, p, k] =
    K_{p,k}(r_u, b_u)``, the joint cumulants of ``sigma(r_u zeta + b_u)`` (p times) and ``zeta``
    (k times), with the unit rows ``U``.

    Returns
    -------
    (K, U, flops) : ndarray (m, P+1, K+1), ndarray (m, d), float
        ``flops`` = power-Hermite coefficients + cumulant recursion + ``3 m d`` (norms): the
        expensive part (quadrature for activations without a closed form), paid once however
        many second layers use it.
    """
    P, K = _check_truncation(max_power, max_degree)
    m, d = np.asarray(mlp.W).shape
    r, U = mlp.unit_rows()
    C = power_hermite_coefficients(mlp.hidden, P, K, r, mlp.b)
    flops = power_hermite_flops(mlp.hidden, P, K, m) + cumulant_vertices_flops(m, P, K) + 3.0 * m * d
    return cumulant_vertices(C), U, float(flops)


def _second_layer_weights(Kc: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``kap[u, p, k] = a_u^p K[u, p, k]`` with ``kap[:, 0, :] = 0``; cost ``m P (K+1)``."""
    P = Kc.shape[1] - 1
    kap = Kc * (a[:, None] ** np.arange(P + 1))[:, :, None]
    kap[:, 0, :] = 0.0
    return kap


def power_shin_tensors(mlp: Any, max_power: int, max_degree: int) -> PowerShinTensors:
    """The resummed-expansion vertex weights of ``mlp`` (MATH.md section 8).

    ``r_u = |w_u|``, ``u_u = w_u / r_u``, ``C = power_hermite_coefficients(sigma, P, K, r, b)``,
    ``K = cumulant_vertices(C)``, ``kap[u, p, k] = a_u^p K[u, p, k]``.  A zero row (``r_u = 0``)
    is the constant ``sigma(b_u)``: only ``kap[u, 1, 0] = a_u sigma(b_u)`` is non-zero, and its U
    row is ``e_1``.  ``build_flops`` = power-Hermite + cumulant recursion + ``3 m d`` (norms) +
    ``m P (K+1)`` (the powers of a).
    """
    P, K = _check_truncation(max_power, max_degree)
    Kc, U, flops = unit_cumulants(mlp, P, K)
    a = np.asarray(mlp.a, dtype=np.float64)
    kap = _second_layer_weights(Kc, a)
    return PowerShinTensors(kap=kap, U=U, c=float(mlp.c), build_flops=flops + a.shape[0] * P * (K + 1))


@dataclass(frozen=True, eq=False)
class PowerShinBatch:
    """B :class:`PowerShinTensors` sharing ``U`` and ``K_{p,k}(r_u, b_u)``: row b has
    ``kap_b[u, p, k] = A[b, u]^p K_{p,k}(r_u, b_u)`` (a batch of second layers, MATH.md section 8).

    Attributes
    ----------
    rows : tuple of PowerShinTensors
        One per second layer; each row's ``build_flops`` is only its own scaling, ``m P (K+1)``.
    build_flops : float
        The shared ``K`` (computed once, :func:`unit_cumulants`) plus every row's scaling.
    """

    rows: tuple[PowerShinTensors, ...]
    build_flops: float

    @property
    def U(self) -> np.ndarray:
        """The shared unit rows (m, d)."""
        return self.rows[0].U

    def __len__(self) -> int:
        return len(self.rows)


def check_second_layers(second_layers: Any, m: int) -> np.ndarray:
    """``second_layers`` as a float64 array (B, m), B >= 1, finite; ``ValueError`` saying what is wrong."""
    try:
        A = np.array(second_layers, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("second_layers must be a numeric array of shape (B, m)") from None
    if A.ndim != 2 or A.shape[1] != int(m) or A.shape[0] < 1:
        raise ValueError(f"second_layers must have shape (B, m={m}) with B >= 1, got {A.shape}")
    bad = ~np.isfinite(A)
    if bad.any():
        b, u = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"second_layers contains NaN or inf (first at row {b}, unit {u}: {A[b, u]})")
    return A


def power_shin_batch(mlp: Any, second_layers: Any, max_power: int, max_degree: int,
                     c: Any = None) -> PowerShinBatch:
    """Vertex weights for B second layers on the first layer of ``mlp`` (MATH.md section 8).

    ``K_{p,k}(r_u, b_u)`` is computed once (:func:`unit_cumulants`); row b scales it,
    ``kap_b[u, p, k] = A[b, u]^p K[u, p, k]``.  Row b equals
    ``power_shin_tensors(mlp.replace(a=A[b], c=c[b]), P, K)`` bit for bit.

    Parameters
    ----------
    mlp : TwoLayerMLP
        Supplies ``W``, ``b``, the hidden activation and (by default) ``c``.
    second_layers : array (B, m)
    max_power, max_degree : int
    c : float or array (B,), optional
        Output biases (default ``mlp.c`` for every row).

    Returns
    -------
    PowerShinBatch.  Cost: one :func:`unit_cumulants` plus ``B m P (K+1)``.
    """
    P, K = _check_truncation(max_power, max_degree)
    A = check_second_layers(second_layers, np.asarray(mlp.W).shape[0])
    cs = np.broadcast_to(np.asarray(float(mlp.c) if c is None else c, dtype=np.float64), (A.shape[0],))
    if not np.all(np.isfinite(cs)):
        raise ValueError("the output biases c must be finite")
    Kc, U, flops = unit_cumulants(mlp, P, K)
    scale = float(A.shape[1] * P * (K + 1))
    rows = tuple(PowerShinTensors(kap=_second_layer_weights(Kc, A[i]), U=U, c=float(cs[i]), build_flops=scale)
                 for i in range(A.shape[0]))
    return PowerShinBatch(rows, flops + scale * A.shape[0])


def _edge_multiplicities(graph: Any, n_vertices: int) -> dict[tuple[int, int], int]:
    edges = getattr(graph, "edges", graph)
    mult: dict[tuple[int, int], int] = {}
    for edge in edges:
        i, j = int(edge[0]), int(edge[1])
        count = int(edge[2]) if len(edge) > 2 else 1
        if i == j:
            raise ValueError(f"loops are not allowed (edge {tuple(edge)})")
        if not (0 <= i < n_vertices and 0 <= j < n_vertices) or count < 1:
            raise ValueError(f"edge {tuple(edge)} is invalid for {n_vertices} vertices")
        pair = (min(i, j), max(i, j))
        mult[pair] = mult.get(pair, 0) + count
    return mult


def hidden_unit_value(graph: Any, powers: Sequence[int] | None, tensors: PowerShinTensors) -> float:
    """Brute-force hidden-unit value of a powered graph (MATH.md section 8), a test reference:

        sum_{u_1..u_N} prod_v kap[u_v, p_v, deg_v] prod_{edges (v,w)} Rt[u_v, u_w]^{m_e},

    with ``Rt^{m} = R^{(o)m} - I`` (elementwise power, zero diagonal), ``R = U U^T``.
    Adjacent vertices sit on distinct units; non-adjacent ones may coincide.

    Parameters
    ----------
    graph : object with ``.edges`` (e.g. a ``ResummedDiagram``) or a sequence of ``(i, j[, m])``
        Edges; repeated pairs add their multiplicities.
    powers : sequence of int, or None
        ``p_v`` per vertex; None takes ``graph.powers``.  N = len(powers).
    tensors : PowerShinTensors

    Returns
    -------
    float.  Cost: one einsum over N hidden-unit indices, up to O(m^(treewidth+1)); the m x m
    matrices ``Rt^{(o)m_e}`` are formed explicitly (refused when m^2 doubles do not fit).
    """
    if powers is None:
        powers = getattr(graph, "powers", None)
        if powers is None:
            raise ValueError("powers must be given when the graph has no .powers attribute")
    powers = [int(p) for p in powers]
    n = len(powers)
    if n == 0 or n > len(ascii_letters):
        raise ValueError(f"need between 1 and {len(ascii_letters)} vertices, got {n}")
    mult = _edge_multiplicities(graph, n)
    degree = [0] * n
    for (i, j), count in mult.items():
        degree[i] += count
        degree[j] += count
    operands: list[np.ndarray] = []
    terms: list[str] = []
    for v in range(n):
        operands.append(np.asarray(tensors.weights((powers[v], degree[v]))))
        terms.append(ascii_letters[v])
    if mult:
        check_fits("hidden_unit_value", tensors.m**2 * (1 + len(mult)), None, f"{len(mult)} m x m matrices, m = {tensors.m}")
        R = tensors.U @ tensors.U.T
        for (i, j), count in sorted(mult.items()):
            Rt = R**count
            np.fill_diagonal(Rt, 0.0)  # exactly: R_uu^m - 1 = 0
            operands.append(Rt)
            terms.append(ascii_letters[i] + ascii_letters[j])
    return float(np.einsum(",".join(terms) + "->", *operands, optimize="greedy"))
