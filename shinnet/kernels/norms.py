"""Factored-form kernels for shin tensors: Gram sweeps, dense materialisation, operator norms.

Everything here works on the CP (factored) form of MATH.md section 2,

    shin_k = sum_j lam_k[j] u_j^{(x)k},      G = U U^T  (unit diagonal),

without materialising d^k entries and without holding the m x m Gram matrix: the upper
triangle of ``G`` is visited in square tiles of ``tile`` x ``tile`` entries, each tile is
raised to the needed Hadamard powers in place and consumed at once (memory O(tile^2)).
:class:`shinnet.tensors.shin.ShinTensors` is the public face; these functions are its kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, isfinite, sqrt
from typing import Callable, Iterator, Mapping

import numpy as np

from shinnet.memory import available_memory

__all__ = [
    "OpNormResult",
    "OpNormConvergenceError",
    "available_memory_bytes",
    "default_tile",
    "tensor_power_rows",
    "factored_dense",
    "gram_tiles",
    "gram_power_quadratic_forms",
    "gram_power_apply",
    "op_norm_dense",
    "op_norm_gram",
    "op_norm_lanczos",
    "hidden_factor",
    "op_norm_hidden",
    "factored_dense_rows",
]

#: bytes of one Gram tile (two are live at once: the Gram block and its power).  128 KiB (edge
#: 128) keeps both in L2 cache and the tile matmul below OpenBLAS's threading cut-off.  Measured
#: on the shared 2-core machine (m = 8192, d = 16, K = 8, all degrees): edge 128 / 192 / 256 took
#: 0.71 / 30 / 19 s with BLAS threads (threads spinning on a loaded machine: above the cut-off
#: the sweep is 25-40x slower) and 0.73 / 0.90 / 0.88 s with one thread; 1024 took 0.96 s
#: (one thread) and 4.0 s (threads), 64 took 1.2 s.
_TILE_BYTES = 128 * 2**10


class OpNormConvergenceError(RuntimeError):
    """Lanczos did not reach the requested accuracy; ``.estimate`` and ``.residual`` say where it got."""

    def __init__(self, message: str, estimate: float, residual: float, iterations: int):
        super().__init__(message)
        self.estimate = estimate
        self.residual = residual
        self.iterations = iterations


@dataclass(frozen=True)
class OpNormResult:
    """An operator norm ``||mat_{p,q}(shin_k)||_op`` with how it was obtained.

    ``value`` is the norm; ``method`` one of ``"frobenius"``, ``"dense"``, ``"gram"``,
    ``"lanczos"``, ``"hidden"``; ``iterations`` the Lanczos steps (0 otherwise); ``error_estimate`` a bound on
    the relative error of ``value**2`` (rounding level for the direct methods; for Lanczos
    ``min(res, res^2/gap) / theta`` with ``res`` the B-norm residual and ``gap`` the Ritz gap).
    """

    value: float
    method: str
    iterations: int = 0
    error_estimate: float = 0.0


def available_memory_bytes() -> int:
    """Bytes this process may still allocate (:func:`shinnet.memory.available_memory`: the least of
    RLIMIT_AS headroom, cgroup headroom and ``MemAvailable``), or 4 GiB if none can be read."""
    budget = available_memory()
    return int(budget.bytes) if isfinite(budget.bytes) else 4 * 2**30


def default_tile(m: int) -> int:
    """Edge of a square Gram tile holding about ``_TILE_BYTES`` (128 KiB: edge 128) of float64, at most m."""
    return max(1, min(m, int(sqrt(_TILE_BYTES / 8))))


def _check_tile(tile: int | None, m: int) -> int:
    if tile is None:
        return default_tile(m)
    if not isinstance(tile, (int, np.integer)) or tile < 1:
        raise ValueError(f"chunk size (tile edge) must be a positive integer, got {tile!r}")
    return int(min(tile, m))


def tensor_power_rows(U: np.ndarray, p: int) -> np.ndarray:
    """Rows ``u_j^{(x)p}`` flattened (C order): shape (n, d^p); p = 0 gives ones (n, 1).

    Cost O(n d^p) flops and memory.
    """
    n, d = U.shape
    out = np.ones((n, 1))
    for _ in range(p):
        out = (out[:, :, None] * U[:, None, :]).reshape(n, -1)
    return out


def factored_dense(lam_k: np.ndarray, U: np.ndarray, k: int) -> np.ndarray:
    """The dense symmetric tensor ``sum_j lam_k[j] u_j^{(x)k}``, shape (d,)*k (MATH.md section 2).

    Computed as the matricisation ``A_p^T diag(lam_k) A_q`` (p = k // 2, q = k - p, ``A_p`` the
    rows ``u_j^{(x)p}``), accumulated over row chunks so the temporaries stay near 32 MiB.
    Cost 2 m d^k flops; memory d^k plus the chunks.  The caller checks that d^k fits.
    """
    m, d = U.shape
    if k == 0:
        return np.array(float(np.sum(lam_k)))
    p, q = k // 2, k - k // 2
    out = np.zeros((d**p, d**q))
    rows = max(1, int(4 * 2**20 // max(d**q, 1)))
    for s in range(0, m, rows):
        e = min(m, s + rows)
        Ap = tensor_power_rows(U[s:e], p) * lam_k[s:e, None]
        out += Ap.T @ tensor_power_rows(U[s:e], q)
    return out.reshape((d,) * k)


def factored_dense_rows(W: np.ndarray, U: np.ndarray, k: int) -> np.ndarray:
    """Dense tensors for B weight vectors at once: ``T[b] = sum_j W[b, j] u_j^{(x)k}``, shape
    (B, d^k) (flattened; reshape to (B,) + (d,)*k).

    One chunked (B, m) x (m, d^k) product instead of B calls of :func:`factored_dense`; the
    row chunks of ``u_j^{(x)k}`` stay near 32 MiB.  Cost 2 B m d^k flops; memory B d^k plus the
    chunks.  The caller checks that B d^k fits.
    """
    m, d = U.shape
    size = d**k
    out = np.zeros((W.shape[0], size))
    rows = max(1, int(4 * 2**20 // max(size, 1)))
    for s in range(0, m, rows):
        e = min(m, s + rows)
        out += W[:, s:e] @ tensor_power_rows(U[s:e], k)
    return out


def gram_tiles(U: np.ndarray, tile: int | None = None) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Yield ``(I, J, G[I, J])`` for the square tiles on or above the diagonal of ``G = U U^T``.

    Tiles with ``I == J`` are diagonal (symmetric) tiles; every other pair ``(I, J)`` stands
    for itself and its transpose.  Each yielded block is a fresh array the consumer may
    overwrite.  Cost m^2 d flops in all (half the full Gram), memory O(tile^2).
    """
    m = U.shape[0]
    t = _check_tile(tile, m)
    for si in range(0, m, t):
        I = slice(si, min(m, si + t))
        for sj in range(si, m, t):
            J = slice(sj, min(m, sj + t))
            yield I, J, U[I] @ U[J].T


def gram_power_quadratic_forms(
    U: np.ndarray, lams: Mapping[int, np.ndarray], tile: int | None = None
) -> dict[int, float]:
    """``lam_k^T G^{(o)k} lam_k`` for every degree k in ``lams`` (k >= 1), in one Gram sweep.

    This is ``<shin_k, shin_k>`` in factored form (MATH.md section 4 with the two-vertex,
    k-fold edge).  Per tile the Hadamard powers are built incrementally (``P *= B``), so all
    degrees cost one Gram pass plus one multiply and one mat-vec per degree and entry:
    O(m^2 (d + 2 K) / 2) flops for K = max degree, memory O(tile^2 + m K).
    """
    degrees = sorted(lams)
    if any(k < 1 for k in degrees):
        raise ValueError(f"degrees must be >= 1 for the Gram sweep, got {degrees}")
    acc = {k: 0.0 for k in degrees}
    if not degrees:
        return acc
    for I, J, B in gram_tiles(U, tile):
        P = B.copy() if len(degrees) > 1 or degrees[0] > 1 else B
        power = 1
        for k in degrees:
            while power < k:
                P *= B
                power += 1
            val = float(lams[k][I] @ (P @ lams[k][J]))
            acc[k] += val if I == J else 2.0 * val
    return acc


def gram_power_apply(U: np.ndarray, power: int, V: np.ndarray, tile: int | None = None) -> np.ndarray:
    """``G^{(o)power} @ V`` for ``V`` of shape (m,) or (m, r), never forming the m x m matrix.

    Cost O(m^2 (d + power + 2 r) / 2) flops, memory O(tile^2 + m r).  ``power = 0`` is the
    all-ones matrix.
    """
    m = U.shape[0]
    if V.shape[0] != m:
        raise ValueError(f"V must have {m} rows, got shape {V.shape}")
    if power == 0:
        total = V.sum(axis=0)
        return np.broadcast_to(total, V.shape).copy()
    out = np.zeros(V.shape)
    for I, J, B in gram_tiles(U, tile):
        P = B.copy() if power > 1 else B
        for _ in range(power - 1):
            P *= B
        out[I] += P @ V[J]
        if I != J:
            out[J] += P.T @ V[I]
    return out


def op_norm_dense(T: np.ndarray, p: int) -> OpNormResult:
    """Largest singular value of the d^p x d^(k-p) reshape of the dense tensor ``T`` (LAPACK SVD).

    Cost O(d^p d^q min(d^p, d^q)).
    """
    k = T.ndim
    d = T.shape[0] if k else 1
    if p in (0, k):
        return OpNormResult(float(np.linalg.norm(T.ravel())), "frobenius")
    M = T.reshape(d**p, d ** (k - p))
    s = np.linalg.svd(M, compute_uv=False)
    return OpNormResult(float(s[0]), "dense", 0, float(4 * np.finfo(float).eps * max(M.shape)))


def op_norm_gram(lam_k: np.ndarray, U: np.ndarray, p: int, q: int, tile: int | None = None) -> OpNormResult:
    """``||mat_{p,q}||_op`` via the d^p x d^p matrix ``M M^T = Y^T G^{(o)q} Y``, ``Y = Lam A_p``.

    ``M = A_p^T Lam A_q`` (MATH.md section 5), so ``M M^T = A_p^T Lam G^{(o)q} Lam A_p``; it is
    formed with one chunked Gram sweep and its top eigenvalue taken by LAPACK (exact to
    rounding).  Use with p <= q and d^p small.  Cost O(m^2 (d + q + 2 d^p) / 2 + m d^p),
    memory O(m d^p + tile^2).
    """
    Y = tensor_power_rows(U, p) * lam_k[:, None]
    Z = gram_power_apply(U, q, Y, tile)
    S = Y.T @ Z
    S = 0.5 * (S + S.T)
    top = float(np.linalg.eigvalsh(S)[-1])
    return OpNormResult(sqrt(max(top, 0.0)), "gram", 0, float(4 * np.finfo(float).eps * S.shape[0]))


def _gram_operator(U: np.ndarray, power: int, tile: int | None, explicit: bool) -> Callable[[np.ndarray], np.ndarray]:
    if explicit:
        G = U @ U.T
        Gp = np.ones_like(G)
        for _ in range(power):
            Gp *= G
        return lambda v: Gp @ v
    return lambda v: gram_power_apply(U, power, v, tile)


def op_norm_lanczos(
    lam_k: np.ndarray,
    U: np.ndarray,
    p: int,
    q: int,
    *,
    tol: float = 1e-10,
    max_iter: int = 150,
    tile: int | None = None,
    explicit_gram_bytes: int = 128 * 2**20,
    seed: int = 0,
) -> OpNormResult:
    """``||mat_{p,q}||_op`` by Lanczos in hidden-unit space, B-inner product ``B = G^{(o)p}``.

    ``||M||_op^2 = lambda_max(X)``, ``X = Lam G^{(o)q} Lam G^{(o)p}`` (MATH.md section 5).  ``X``
    is not symmetric but is self-adjoint in the (semi-definite) inner product
    ``<x, y>_B = x^T G^{(o)p} y`` (``B X = G^p Lam G^q Lam G^p`` is symmetric) and its nonzero
    eigenvalues are those of the PSD matrix ``M M^T``.  Lanczos with full B-reorthogonalisation
    therefore gives Ritz values inside the spectrum that converge to ``lambda_max`` from below.
    Stops when ``min(res, res^2/gap) <= tol * theta`` (``res = beta |s_last|`` the B-norm
    residual of the top Ritz pair), on breakdown (invariant subspace), or when the Krylov space
    reaches ``min(m, C(d+p-1, p), C(d+q-1, q))``, the rank bound of ``X``, where it is exact.
    Each step applies ``G^{(o)q}`` and ``G^{(o)p}`` once: O(m^2 (2 d + p + q)) flops in chunked
    sweeps (or two m x m mat-vecs when both powers fit in ``explicit_gram_bytes``), memory
    O(m * iterations).  Raises :class:`OpNormConvergenceError` after ``max_iter`` steps.
    """
    m, d = U.shape
    explicit = 2 * m * m * 8 <= explicit_gram_bytes
    apply_B = _gram_operator(U, p, tile, explicit)
    apply_Gq = _gram_operator(U, q, tile, explicit)
    n_eff = min(m, comb(d + p - 1, p), comb(d + q - 1, q))
    n_max = min(max_iter, n_eff)
    V = np.zeros((m, n_max + 1))
    BV = np.zeros((m, n_max + 1))
    XV = np.zeros((m, n_max))
    v = np.random.default_rng(seed).standard_normal(m)
    Bv = apply_B(v)
    nrm = sqrt(max(float(v @ Bv), 0.0))
    if nrm == 0.0:  # pragma: no cover - G^p has unit diagonal, so B is never zero
        raise RuntimeError("B-norm of the start vector vanished")
    V[:, 0], BV[:, 0] = v / nrm, Bv / nrm
    if not np.any(lam_k):
        return OpNormResult(0.0, "lanczos", 0, 0.0)
    theta, res, err = 0.0, np.inf, np.inf
    for j in range(n_max):
        w = lam_k * apply_Gq(lam_k * BV[:, j])
        Bw = apply_B(w)
        XV[:, j] = w
        T = BV[:, : j + 1].T @ XV[:, : j + 1]
        ritz, S = np.linalg.eigh(0.5 * (T + T.T))
        theta, s_last = float(ritz[-1]), float(S[-1, -1])
        scale = sqrt(max(float(w @ Bw), 0.0))
        r, Br = w.copy(), Bw.copy()
        for _ in range(2):  # classical Gram-Schmidt twice, in the B-inner product
            h = BV[:, : j + 1].T @ r
            r -= V[:, : j + 1] @ h
            Br -= BV[:, : j + 1] @ h
        beta = sqrt(max(float(r @ Br), 0.0))
        res = beta * abs(s_last)
        gap = float(ritz[-1] - ritz[-2]) if j >= 1 else 0.0
        err = min(res, res * res / gap) if gap > 0 else res
        if theta <= 0.0:
            if scale == 0.0:
                return OpNormResult(0.0, "lanczos", j + 1, 0.0)
        elif err <= tol * theta or j + 1 >= n_eff or beta <= 1e-7 * scale:
            return OpNormResult(sqrt(theta), "lanczos", j + 1, float(max(err / theta, np.finfo(float).eps)))
        if j + 1 < n_max:
            V[:, j + 1], BV[:, j + 1] = r / beta, Br / beta
    raise OpNormConvergenceError(
        f"Lanczos for ||mat_({p},{q})||_op did not converge in {n_max} steps: "
        f"lambda_max ~ {theta:.6g} with residual {res:.3g} (estimated relative error {err / max(theta, 1e-300):.3g}"
        f" > tol {tol:g}); raise max_iter or use method='gram'/'dense'",
        estimate=sqrt(max(theta, 0.0)),
        residual=res,
        iterations=n_max,
    )


def hidden_factor(U: np.ndarray, p: int, G: np.ndarray | None = None) -> np.ndarray:
    """``F`` (m x r), ``F F^T = G^{(o)p}`` to rounding: eigenvectors times sqrt(eigenvalues), those
    <= ``m eps lambda_max`` dropped (PSD by the Schur product theorem; dropping them changes the
    matrix by no more than rounding did).  ``r <= min(m, C(d+p-1, p))``.  ``G = U U^T`` may be
    passed.  Cost 2 m^2 d + m^2 p + ~9 m^3 (LAPACK ``eigh``), memory 3 m^2.
    """
    m = U.shape[0]
    A = (U @ U.T if G is None else G) ** p  # a fresh array (p >= 1)
    vals, vecs = np.linalg.eigh(0.5 * (A + A.T))
    keep = vals > m * np.finfo(float).eps * max(float(vals[-1]), 0.0)
    return vecs[:, keep] * np.sqrt(vals[keep])


def op_norm_hidden(
    lam_k: np.ndarray,
    U: np.ndarray,
    p: int,
    q: int,
    *,
    factor: np.ndarray | None = None,
    G: np.ndarray | None = None,
) -> OpNormResult:
    """``||mat_{p,q}||_op`` of ``sum_j lam_k[j] u_j^{(x)(p+q)}`` exactly, from m x m matrices only.

    ``M = A_p^T Lam A_q`` (``A_p``: rows ``u_j^{(x)p}``, MATH.md section 5), so
    ``M M^T = A_p^T (Lam G^{(o)q} Lam) A_p``; with ``G^{(o)p} = F F^T`` (:func:`hidden_factor`, the
    smaller power) its nonzero spectrum is that of the r x r PSD ``C = F^T Lam G^{(o)q} Lam F``:
    ``||M||_op^2 = lambda_max(C)``.  For p = q, ``||M||_op = max |eig(F^T Lam F)|`` (``C`` is its
    square).  p or q = 0: Frobenius ``sqrt(lam^T G^{(o)k} lam)``.  ``factor`` and ``G`` may be
    passed to reuse them across weight vectors.  Accuracy: backward stable in ``G^{(o)p}``
    (perturbed by ``O(m eps ||G^{(o)p}||)``), so ``value**2`` is off by about
    ``m eps lambda_max(G^{(o)p}) ||lam||^2`` absolutely; ``error_estimate`` is 4x that over
    ``value**2`` (rounding level unless ``lam`` cancels, when the dense tensor loses as much).
    Cost 2 m^2 d + m^2 (p + q) + ~9 m^3 + 2 m^2 r + 2 m r^2 + 4/3 r^3, memory ~4 m^2.
    """
    m = U.shape[0]
    eps = np.finfo(float).eps
    if G is None:
        G = U @ U.T
    if p == 0 or q == 0:
        k = p + q
        P = G**k if k != 1 else G
        val = float(lam_k @ (P @ lam_k))
        return OpNormResult(sqrt(max(val, 0.0)), "frobenius", 0, float(4 * m * eps))
    lo, hi = min(p, q), max(p, q)
    F = hidden_factor(U, lo, G) if factor is None else factor
    if F.shape[1] == 0 or not np.any(lam_k):
        return OpNormResult(0.0, "hidden", 0, 0.0)
    LF = lam_k[:, None] * F
    scale = m * eps * float(np.sum(F * F, axis=0).max()) * float(lam_k @ lam_k)
    if lo == hi:
        S = F.T @ LF
        top = float(np.abs(np.linalg.eigvalsh(0.5 * (S + S.T))).max())
        sq = top * top
    else:
        B = G**hi
        C = LF.T @ (B @ LF)
        sq = max(float(np.linalg.eigvalsh(0.5 * (C + C.T))[-1]), 0.0)
        top = sqrt(sq)
    err = float(min(1.0, 4 * scale / sq)) if sq > 0 else 1.0
    return OpNormResult(top, "hidden", 0, max(err, float(4 * eps * m)))
