"""Shin tensors: the Hermite coefficient tensors of a two-layer MLP (MATH.md section 2).

    shin_k = E[nabla^k f(x)] = sum_j a_j gamma_jk u_j^{(x)k},   shin_0 = c + sum_j a_j gamma_j0,

with ``r_j = |w_j|``, ``u_j = w_j / r_j`` and ``gamma_jk = E[sigma(r_j Z + b_j) He_k(Z)]``.
:func:`shin_tensors` builds the factored (CP) form ``lam[k, j] = a_j gamma_jk`` and unit rows
``U``; :class:`ShinTensors` holds it (optionally with dense "advice" tensors) and computes
inner products, norms and operator norms without materialising d^k entries.  The kernels live
in :mod:`shinnet.kernels.norms`.  See docs/shin.md for the costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from shinnet.kernels import norms as shin_norms
from shinnet.kernels.checks import check_fits, readonly_float_array, validate_advice
from shinnet.kernels.norms import OpNormResult
from shinnet.kernels.op_norm_choice import OP_NORM_METHODS, choose_op_norm_method, factored_op_norm

__all__ = ["ShinTensors", "shin_tensors", "shin_build_flops"]

#: dense tensors this small are cheap enough to build for inner products / op norms
_SMALL_DENSE_BYTES = 16 * 2**20
_UNIT_NORM_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class ShinTensors:
    """The shin tensors ``shin_0 .. shin_K`` of one MLP, factored and/or dense (MATH.md section 2).

    Parameters
    ----------
    lam : array (K+1, m) or None
        CP weights, ``lam[k, j] = a_j gamma_jk``; ``shin_k = sum_j lam[k, j] u_j^{(x)k}``.
        ``None`` for a dense-only object (see :meth:`from_dense`).
    U : array (m, d) or None
        Unit rows ``u_j`` (norms within 1e-10 of 1).  Required with ``lam``, ``None`` without.
    c : float
        Output bias: ``mean() = shin_0 = c + lam[0].sum()``.
    advice : dict int -> array (d,)*k, optional
        Dense symmetric tensors for degrees k >= 1 ("advice").  On a factored object they
        *override* the CP form for those degrees (keys must be in 1..K); on a dense-only
        object they are the tensors, and degrees 1..max key not given are zero tensors.
    build_flops : float
        FLOPs spent building this object (the cost of the advice, MATH.md section 7).

    All arrays are copied to read-only float64 and validated (shapes, finiteness, unit rows,
    symmetry of advice within 1e-12 relative).  Results of Gram sweeps and operator norms are
    memoised on the instance (never at module level).
    """

    lam: np.ndarray | None
    U: np.ndarray | None
    c: float = 0.0
    advice: Mapping[int, np.ndarray] | None = None
    build_flops: float = 0.0

    def __post_init__(self) -> None:
        if (self.lam is None) != (self.U is None):
            raise ValueError("lam and U must be given together (factored form) or both be None (dense-only)")
        c = float(np.asarray(self.c, dtype=np.float64))
        bf = float(self.build_flops)
        if not np.isfinite(c):
            raise ValueError(f"c must be finite, got {c}")
        if not (np.isfinite(bf) and bf >= 0):
            raise ValueError(f"build_flops must be finite and >= 0, got {bf}")
        d: int | None = None
        lam = U = None
        if self.lam is not None:
            lam = readonly_float_array("lam", self.lam, 2)
            U = readonly_float_array("U", self.U, 2)
            if U.shape[0] == 0 or U.shape[1] == 0:
                raise ValueError(f"U must have at least one row and one column, got shape {U.shape}")
            if lam.shape[0] == 0 or lam.shape[1] != U.shape[0]:
                raise ValueError(
                    f"lam must have shape (K+1, m) with m = {U.shape[0]} (the rows of U), got {lam.shape}"
                )
            dev = np.abs(np.linalg.norm(U, axis=1) - 1.0)
            if dev.max() > _UNIT_NORM_TOL:
                j = int(dev.argmax())
                raise ValueError(f"rows of U must have unit norm within {_UNIT_NORM_TOL:g}; row {j} is off by {dev[j]:.3g}")
            d = U.shape[1]
        advice, d = validate_advice(self.advice, d, None if lam is None else lam.shape[0] - 1)
        if d is None:
            raise ValueError("a dense-only ShinTensors needs at least one advice tensor (to fix d)")
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "advice", MappingProxyType(advice))
        object.__setattr__(self, "build_flops", bf)
        object.__setattr__(self, "_d", int(d))
        object.__setattr__(self, "_cache", {})

    # ------------------------------------------------------------ construction
    @classmethod
    def from_dense(cls, tensors: Mapping[int, Any], mean: float = 0.0, build_flops: float = 0.0) -> "ShinTensors":
        """A dense-only object from ``{k: shin_k}`` (k >= 1) and ``mean = shin_0``.

        Degrees between 1 and the largest key that are not given are zero tensors.
        """
        return cls(lam=None, U=None, c=mean, advice=tensors, build_flops=build_flops)

    # ------------------------------------------------------------------ shape
    @property
    def max_degree(self) -> int:
        """K: the largest degree held."""
        if self.lam is not None:
            return int(self.lam.shape[0] - 1)
        return max(self.advice)

    @property
    def d(self) -> int:
        """Input dimension."""
        return self._d  # type: ignore[attr-defined]

    @property
    def m(self) -> int | None:
        """Hidden width of the factored form; ``None`` for a dense-only object."""
        return None if self.U is None else int(self.U.shape[0])

    @property
    def has_factored(self) -> bool:
        """Whether a CP form (``lam``, ``U``) is present."""
        return self.lam is not None

    def _degree(self, k: Any, what: str = "degree") -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"{what} must be an integer, got {type(k).__name__}")
        if not 0 <= k <= self.max_degree:
            raise ValueError(f"{what} {k} is out of range: this ShinTensors holds degrees 0..{self.max_degree}")
        return int(k)

    def degree_of(self, key: int) -> int:
        """Number of legs of vertex ``key`` (vertex-tensor protocol): the degree itself."""
        return self._degree(key)

    def representation(self, k: int) -> str:
        """``"factored"`` if degree k is held in CP form, ``"dense"`` if by an advice tensor (or zero)."""
        k = self._degree(k)
        return "factored" if self.lam is not None and k not in self.advice else "dense"

    def mean(self) -> float:
        """``shin_0 = E[f] = c + sum_j lam[0, j]`` (MATH.md section 2)."""
        return self.c + (float(self.lam[0].sum()) if self.lam is not None else 0.0)

    def weights(self, key: int) -> np.ndarray:
        """CP weights ``lam[k]`` (shape (m,), read-only) of degree ``key``.

        Raises if the degree is held densely (dense-only object, or overridden by advice).
        """
        k = self._degree(key)
        if self.representation(k) != "factored":
            raise ValueError(f"degree {k} has no factored form (it is given densely); use dense({k})")
        return self.lam[k]  # type: ignore[index]

    def gram(self, max_bytes: float | None = None) -> np.ndarray:
        """``G = U U^T`` (m x m).  Refuses, before allocating, when m^2 * 8 bytes exceed the limit
        (default: a quarter of the available memory).  Cost 2 m^2 d flops."""
        if self.U is None:
            raise ValueError("a dense-only ShinTensors has no U, hence no Gram matrix")
        check_fits("gram()", self.U.shape[0] ** 2, max_bytes, f"the {self.m} x {self.m} Gram matrix")
        return self.U @ self.U.T

    def dense(self, key: int, max_bytes: float | None = None) -> np.ndarray:
        """``shin_k`` as a symmetric array of shape (d,)*k (degree 0: a 0-d array ``mean()``).

        Refuses, before allocating, when ``d^k * 8`` bytes exceed ``max_bytes`` (default: a
        quarter of the available memory).  Factored degrees cost 2 m d^k flops to build; the
        result is read-only and memoised.
        """
        k = self._degree(key)
        if k == 0:
            return np.array(self.mean())
        check_fits(f"dense({k})", self.d**k, max_bytes, f"d^k = {self.d}^{k} float64 entries")
        if k in self.advice:
            return self.advice[k]
        cached = self._cache.get(("dense", k))  # type: ignore[attr-defined]
        if cached is not None:
            return cached
        if self.lam is None:
            T = np.zeros((self.d,) * k)
        else:
            T = shin_norms.factored_dense(self.lam[k], self.U, k)
        T.setflags(write=False)
        self._cache[("dense", k)] = T  # type: ignore[attr-defined]
        return T

    # ----------------------------------------------------------------- inner
    def _auto_inner_method(self, k: int) -> str:
        if self.representation(k) == "dense":
            return "dense"
        m, d = self.m, self.d
        dense_cost = 2.0 * m * d**k  # type: ignore[operator]
        factored_cost = m * m * (d + 2.0)  # type: ignore[operator]
        return "dense" if d**k * 8 <= _SMALL_DENSE_BYTES and dense_cost < factored_cost else "factored"

    def inner(self, k: int, l: int, *, method: str = "auto", chunk_size: int | None = None) -> float:
        """``<shin_k, shin_l>``, the full contraction of two tensors of the same order.

        Defined only for ``k == l`` (tensors of different orders have no inner product; a
        ``k != l`` call raises ``ValueError``).  Factored (MATH.md section 4):
        ``lam_k^T G^{(o)k} lam_k``, computed for every factored degree in one chunked sweep of
        the upper triangle of the Gram matrix: O(m^2 (d + 2K) / 2) flops, memory O(tile^2)
        with tiles of ``chunk_size``^2 entries (default edge 128, 128 KiB); the m x m Gram is never formed.
        Dense: ``sum(T * T)``, O(d^k) (plus 2 m d^k to build T).  ``method``: ``"auto"`` (the
        cheaper, dense only when d^k is small), ``"factored"``, ``"dense"``.  Degree 0 gives
        ``mean()**2``.  Results are memoised per (degree, method).
        """
        k = self._degree(k, "first degree")
        l = self._degree(l, "second degree")
        if k != l:
            raise ValueError(
                f"inner({k}, {l}): shin tensors of different orders have no inner product "
                "(only k == l is defined; Cov(F_k, F_l) = 0 for k != l is a different statement)"
            )
        if k == 0:
            return self.mean() ** 2
        if method not in ("auto", "factored", "dense"):
            raise ValueError(f"method must be 'auto', 'factored' or 'dense', got {method!r}")
        chosen = self._auto_inner_method(k) if method == "auto" else method
        if chosen == "factored" and self.representation(k) != "factored":
            raise ValueError(f"degree {k} is held densely; method='factored' is not available for it")
        key = ("inner", k, chosen)
        if key in self._cache:  # type: ignore[attr-defined]
            return self._cache[key]  # type: ignore[attr-defined]
        if chosen == "dense":
            T = self.dense(k)
            value = float(np.vdot(T, T))
        else:
            # one Gram sweep serves every factored degree that auto would also sweep for
            todo = {k}
            if method == "auto":
                todo |= {
                    j
                    for j in range(1, self.max_degree + 1)
                    if self._auto_inner_method(j) == "factored" and ("inner", j, "factored") not in self._cache  # type: ignore[attr-defined]
                }
            forms = shin_norms.gram_power_quadratic_forms(self.U, {j: self.lam[j] for j in sorted(todo)}, chunk_size)  # type: ignore[index]
            for j, v in forms.items():
                self._cache[("inner", j, "factored")] = float(v)  # type: ignore[attr-defined]
            value = forms[k]
        self._cache[key] = float(value)  # type: ignore[attr-defined]
        return float(value)

    def frobenius(self, k: int) -> float:
        """``||shin_k||_F = sqrt(<shin_k, shin_k>)`` (degree 0: ``|mean()|``)."""
        return float(np.sqrt(max(self.inner(k, k), 0.0)))

    def variance_captured(self, K: int | None = None) -> float:
        """``sum_{k=1..K} <shin_k, shin_k> / k!`` = Var of the degree-K truncation (MATH.md section 3).

        ``K`` defaults to ``max_degree``.  Equals ``Var f`` exactly when sigma is a polynomial of
        degree <= K; for other activations it increases to ``Var f`` as K grows.
        """
        K = self.max_degree if K is None else self._degree(K, "K")
        return float(sum(self.inner(k, k) / factorial(k) for k in range(1, K + 1)))

    # -------------------------------------------------------------- op norms
    def op_norm(self, k: int, p: int, **kwargs: Any) -> float:
        """``||mat_{p,k-p}(shin_k)||_op``: operator norm of the d^p x d^(k-p) matricisation.

        p = 0 or p = k is the Frobenius norm.  See :meth:`op_norm_details` for the methods,
        their costs and keyword arguments.
        """
        return self.op_norm_details(k, p, **kwargs).value

    def op_norm_details(
        self,
        k: int,
        p: int,
        *,
        method: str = "auto",
        tol: float = 1e-10,
        max_iter: int = 150,
        chunk_size: int | None = None,
    ) -> OpNormResult:
        """``||mat_{p,q}(shin_k)||_op`` (q = k - p) with the method used and its accuracy.

        Symmetric tensors give the same norm for (p, q) and (q, p); the smaller side
        ``p' = min(p, q)`` is used.  Methods (MATH.md section 5):

        - ``"dense"``: SVD of the reshaped dense tensor; O(m d^k + d^k min(d^p', d^q')).
        - ``"gram"``: top eigenvalue of the d^p' x d^p' matrix ``Y^T G^{(o)q'} Y``, ``Y = Lam A_p'``,
          from one chunked Gram sweep; exact to rounding; O(m^2 (d + q' + 2 d^p') / 2),
          memory O(m d^p').
        - ``"lanczos"``: Lanczos in hidden-unit space on ``Lam G^{(o)q'} Lam G^{(o)p'}`` with the
          ``G^{(o)p'}`` inner product (chunked mat-vecs), to ``tol`` relative on the squared
          norm; raises :class:`shinnet.kernels.norms.OpNormConvergenceError` if ``max_iter``
          steps do not get there.  O(iterations * m^2 (2 d + k)), memory O(m * iterations).
        - ``"hidden"``: exact hidden-unit-space eigenproblem: ``||M||_op^2 = lambda_max`` of the
          r x r matrix ``F^T Lam G^{(o)q'} Lam F`` with ``F F^T = G^{(o)p'}``
          (:func:`shinnet.kernels.norms.op_norm_hidden`; T has rank <= m); O(9 m^3 + m^2 (2d + k)),
          memory ~4 m^2; rounding-level accuracy (``error_estimate``).
        - ``"auto"``: dense when the degree is held densely; otherwise the size rule (dense when
          d^k <= 2M entries, else gram when m d^p' fits in 256 MiB and d^p' <= 8 (2d + k), else
          lanczos), replaced by hidden when its flop estimate is lower and four m x m arrays fit
          in 256 MiB (:func:`shinnet.kernels.op_norm_choice.choose_op_norm_method`).
        """
        k = self._degree(k)
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 0 <= p <= k:
            raise ValueError(f"p must be an integer in 0..k = 0..{k} (rows of the d^p x d^(k-p) matricisation), got {p!r}")
        if method not in OP_NORM_METHODS:
            raise ValueError(f"method must be 'auto', 'dense', 'gram', 'lanczos' or 'hidden', got {method!r}")
        p = min(int(p), k - int(p))
        q = k - p
        if p == 0:
            return OpNormResult(self.frobenius(k), "frobenius", 0, 0.0)
        factored = self.representation(k) == "factored"
        if method == "auto":
            method = choose_op_norm_method(self.m, self.d, k, p, max_iter) if factored else "dense"  # type: ignore[arg-type]
        if method != "dense" and not factored:
            raise ValueError(f"degree {k} is held densely; op_norm method {method!r} needs the factored form")
        key = ("op", k, p, method)
        if key in self._cache:  # type: ignore[attr-defined]
            return self._cache[key]  # type: ignore[attr-defined]
        if method == "dense":
            result = shin_norms.op_norm_dense(self.dense(k), p)
        else:
            hidden = self._cache.setdefault("hidden", {})  # type: ignore[attr-defined]
            result = factored_op_norm(
                self.lam[k], self.U, p, q, method=method, tol=tol, max_iter=max_iter, tile=chunk_size, cache=hidden  # type: ignore[arg-type, index]
            )
        self._cache[key] = result  # type: ignore[attr-defined]
        return result

    def __repr__(self) -> str:
        form = f"factored m={self.m}" if self.has_factored else "dense-only"
        extra = f", advice degrees {sorted(self.advice)}" if self.advice else ""
        return f"ShinTensors(d={self.d}, K={self.max_degree}, {form}{extra}, mean={self.mean():.6g})"


def shin_tensors(mlp: Any, max_degree: int) -> ShinTensors:
    """The factored shin tensors ``shin_0 .. shin_K`` of ``mlp`` (MATH.md section 2).

    ``r_j = |w_j|``, ``u_j = w_j / r_j``, ``lam[k, j] = a_j gamma_jk`` with
    ``gamma_jk = mlp.hidden.hermite_coefficients(K, r, b)[j, k]``.  A zero row (``r_j = 0``) is
    the constant unit ``a_j sigma(b_j)``: it goes into ``lam[0, j]`` (hence into ``mean()``),
    ``lam[k >= 1, j] = 0``, and its U row is ``e_1`` (any unit vector would do; its weight is 0).

    ``build_flops`` is :func:`shin_build_flops`: 2md (norms) + md (normalising) + the activation's
    ``hermite_coefficients_flops(K, m, r)`` (what its quadrature or closed form runs,
    docs/activations.md) + ``cost(sigma)`` per constant unit + m(K+1) (the products ``a_j gamma_jk``).
    """
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or max_degree < 0:
        raise ValueError(f"max_degree must be an integer >= 0, got {max_degree!r}")
    K = int(max_degree)
    check = getattr(mlp.hidden, "check_degree", None)
    if check is not None:  # the activation's accurate range (docs/activations.md), before any work
        check(K, "max_degree")
    W, b, a = np.asarray(mlp.W, dtype=np.float64), np.asarray(mlp.b, dtype=np.float64), np.asarray(mlp.a, dtype=np.float64)
    m, d = W.shape
    r, U = mlp.unit_rows()
    zero = r == 0.0
    gamma = np.asarray(mlp.hidden.hermite_coefficients(K, r, b), dtype=np.float64)
    if gamma.shape != (m, K + 1):
        raise ValueError(f"{mlp.hidden!r}.hermite_coefficients returned shape {gamma.shape}, expected {(m, K + 1)}")
    lam = (a[:, None] * gamma).T.copy()
    if np.any(zero):
        lam[0, zero] = a[zero] * np.asarray(mlp.hidden.value(b[zero]), dtype=np.float64)
        lam[1:, zero] = 0.0
    return ShinTensors(lam=lam, U=U, c=float(mlp.c), build_flops=shin_build_flops(mlp, K, r))


def shin_build_flops(mlp: Any, max_degree: int, r: Any = None) -> float:
    """``ShinTensors.build_flops`` of :func:`shin_tensors` ``(mlp, max_degree)``, also the budget's
    price (:func:`shinnet.budget.pricing.shin_build_flops`): ``3 m d + hidden.hermite_coefficients_flops(K,
    m, r) + cost(sigma) (#r_j = 0) + m (K + 1)``.  ``r``: the row norms when the caller has them
    (else ``|w_j|`` is computed, O(m d))."""
    m, d, K = int(mlp.m), int(mlp.d), int(max_degree)
    r = np.linalg.norm(np.asarray(mlp.W, dtype=np.float64), axis=1) if r is None else np.asarray(r, dtype=np.float64)
    constants = float(np.count_nonzero(r == 0.0)) * float(mlp.hidden.flops)
    return 3.0 * m * d + float(mlp.hidden.hermite_coefficients_flops(K, m, r)) + constants + m * (K + 1)
