"""The outer integral ``integral phi_r(y) g(y) dy`` by adaptive nested Gauss-Kronrod rules (MATH.md 9).

One dimension: the line is cut to ``[-L, L]`` (``L = 9``: the Gaussian mass outside is
``2 Phi(-9) = 2.3e-19``), split at the given kinks and at a few fixed points, and each piece gets
the 15-point Kronrod rule with its embedded 7-point Gauss rule; ``|K15 - G7|`` is the piece's
error estimate (conservative: K15 is far more accurate than G7 on smooth pieces; :func:`_piece_error`).  Pieces are
bisected, largest error first, until a problem's summed estimate is below its tolerance

    tau_p = max(atol, rtol |I_p|, budget_p),

``budget_p`` being the quadrature-weighted inner error budget of that problem (so the outer error
never dominates the inner one).  Every round evaluates all new pieces of all problems as ONE
batch of nodes: that is what makes the inner diagram expansion cheap (one batched contraction per
round).

r dimensions: iterated (nested) adaptive rules: the integrand in ``y_1`` is itself the adaptive
integral over ``y_2`` for each ``y_1`` node, and so on, all problems of a level batched together.
Kinks are passed for the innermost coordinate given the outer ones (lines
``b_j + alpha_j . y = 0`` of deterministic units cut each innermost line at one point).  The
error of an outer node's inner integral is added, quadrature-weighted, to the outer estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import ndtr

__all__ = ["QuadratureResult", "integrate_gaussian", "HALF_WIDTH"]

#: the integration range [-HALF_WIDTH, HALF_WIDTH] per coordinate
HALF_WIDTH = 9.0
#: fixed interior cuts of the initial mesh
_CUTS = (-3.0, 0.0, 3.0)
#: narrowest piece that is still bisected
_MIN_WIDTH = 1e-9

# Gauss-Kronrod 15 nodes (descending) and weights, embedded Gauss 7 at the odd positions (QUADPACK)
_XK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                0.586087235467691130294144838258730, 0.405845151377397166906606412076961,
                0.207784955007898467600689403773245, 0.0])
_XK = np.concatenate([_XK, -_XK[-2::-1]])
_WK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WK = np.concatenate([_WK, _WK[-2::-1]])
_WG = np.zeros(15)
_WG[1::2] = [0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
             0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
             0.381830050505118944950369775488975, 0.279705391489276667901467771423780,
             0.129484966168869693270611432679082]

#: evaluate(points (N, r)) -> (values (N,), inner error budgets (N,))
Evaluator = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]
#: kinks(prefix (P, r-1)) -> list of P arrays: innermost-coordinate kinks of each line
Kinks = Callable[[np.ndarray], "list[np.ndarray]"]


@dataclass(frozen=True)
class QuadratureResult:
    """Outcome of :func:`integrate_gaussian`.

    ``value``: the integral; ``error``: outer estimate (``|K15 - G7|`` summed, nested errors
    weighted in, plus the truncated Gaussian tail); ``inner_budget``: the quadrature-weighted
    inner budgets; ``nodes``: integrand evaluations; ``rounds``: batches evaluated; ``converged``:
    every problem met its tolerance before ``max_nodes``.
    """

    value: float
    error: float
    inner_budget: float
    nodes: int
    rounds: int
    converged: bool


def _piece_error(K: np.ndarray, G: np.ndarray, fv: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Error estimate of each piece: ``|K15 - G7|``, floored at 50 eps times ``resabs``.

    Conservative on smooth pieces (the Kronrod value is far more accurate than the Gauss one).
    QUADPACK's sharper ``resasc * min(1, (200 |K - G| / resasc)^1.5)`` was tried and dropped: on
    psi's kinks in 2-d (relu of a smooth g) it claimed 1.6e-11 where the error was 1e-9.
    """
    resabs = half * (np.abs(fv) @ _WK)
    return np.maximum(np.abs(K - G), 50.0 * np.finfo(float).eps * resabs)


class _Level:
    """Adaptive GK15 for P independent problems along one coordinate, batched per round."""

    def __init__(self, prefixes: np.ndarray, kinks: list[np.ndarray] | None) -> None:
        P = prefixes.shape[0]
        edges = []
        for p in range(P):
            cuts = [-HALF_WIDTH, *_CUTS, HALF_WIDTH]
            if kinks is not None:
                k = np.asarray(kinks[p], dtype=np.float64)
                cuts.extend(k[(k > -HALF_WIDTH) & (k < HALF_WIDTH)].tolist())
            e = np.unique(np.array(cuts))
            e = e[np.concatenate([[True], np.diff(e) > _MIN_WIDTH])]
            edges.append(e)
        self.prefixes = prefixes
        self.prob = np.concatenate([np.full(len(e) - 1, p) for p, e in enumerate(edges)]).astype(np.int64)
        self.lo = np.concatenate([e[:-1] for e in edges])
        self.hi = np.concatenate([e[1:] for e in edges])
        self.est = np.zeros(0)
        self.err = np.zeros(0)
        self.nested = np.zeros(0)
        self.budget = np.zeros(0)
        self.done_lo = np.zeros(0)
        self.done_hi = np.zeros(0)
        self.done_prob = np.zeros(0, dtype=np.int64)
        self.ends = np.zeros((P, 2))  # |integrand value| at the outermost nodes, for the tail term

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes of the pending pieces: (points (N, s+1) with the prefix, the t values (N,))."""
        half = 0.5 * (self.hi - self.lo)
        mid = 0.5 * (self.hi + self.lo)
        t = (mid[:, None] + half[:, None] * _XK[None, :]).reshape(-1)
        pre = np.repeat(self.prefixes[self.prob], 15, axis=0)
        return np.concatenate([pre, t[:, None]], axis=1), t


def _solve(level_eval: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, int]],
           prefixes: np.ndarray, kinks: list[np.ndarray] | None, atol: float, rtol: float, max_nodes: int,
           counter: list[int], node_cost: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Adaptive GK15 along one coordinate for every prefix; returns (I, err, budget, converged) per prefix.

    ``node_cost``: innermost evaluations one node of this level costs (about), to respect ``max_nodes``.
    ``counter``: [innermost evaluations so far, evaluation batches so far].
    """
    P = prefixes.shape[0]
    st = _Level(prefixes, kinks)
    converged = True
    while st.lo.size:
        pts, t = st.points()
        vals, nerr, budg, _ = level_eval(pts)
        half = 0.5 * (st.hi - st.lo)
        w = np.exp(-0.5 * t * t) / np.sqrt(2.0 * np.pi)
        fv = (w * vals).reshape(-1, 15)
        K = half * (fv @ _WK)
        G = half * (fv @ _WG)
        nested = half * ((w * nerr).reshape(-1, 15) @ _WK)
        bud = half * ((w * budg).reshape(-1, 15) @ _WK)
        absv = np.abs(vals).reshape(-1, 15)
        left, right = st.lo <= -HALF_WIDTH, st.hi >= HALF_WIDTH
        np.maximum.at(st.ends[:, 0], st.prob[left], absv[left, -1])
        np.maximum.at(st.ends[:, 1], st.prob[right], absv[right, 0])
        st.est = np.concatenate([st.est, K])
        st.err = np.concatenate([st.err, _piece_error(K, G, fv, half)])
        st.nested = np.concatenate([st.nested, nested])
        st.budget = np.concatenate([st.budget, bud])
        st.done_lo = np.concatenate([st.done_lo, st.lo])
        st.done_hi = np.concatenate([st.done_hi, st.hi])
        st.done_prob = np.concatenate([st.done_prob, st.prob])
        I = np.bincount(st.done_prob, st.est, minlength=P)
        E = np.bincount(st.done_prob, st.err, minlength=P)
        Bp = np.bincount(st.done_prob, st.budget, minlength=P)
        tau = np.maximum(np.maximum(atol, rtol * np.abs(I)), Bp)
        split = np.zeros(st.est.size, dtype=bool)
        for p in np.flatnonzero(E > tau):
            idx = np.flatnonzero(st.done_prob == p)
            idx = idx[np.argsort(-st.err[idx], kind="stable")]
            remaining = E[p]
            for i in idx:
                if remaining <= 0.5 * tau[p]:
                    break
                if st.done_hi[i] - st.done_lo[i] > _MIN_WIDTH:
                    split[i] = True
                remaining -= st.err[i]
        if not split.any():
            break
        if counter[0] + 30 * int(split.sum()) * node_cost > max_nodes:
            converged = False
            break
        mid = 0.5 * (st.done_lo[split] + st.done_hi[split])
        st.lo = np.concatenate([st.done_lo[split], mid])
        st.hi = np.concatenate([mid, st.done_hi[split]])
        st.prob = np.concatenate([st.done_prob[split], st.done_prob[split]])
        keep = ~split
        st.est, st.err, st.nested, st.budget = st.est[keep], st.err[keep], st.nested[keep], st.budget[keep]
        st.done_lo, st.done_hi, st.done_prob = st.done_lo[keep], st.done_hi[keep], st.done_prob[keep]
    I = np.bincount(st.done_prob, st.est, minlength=P)
    E = np.bincount(st.done_prob, st.err + st.nested, minlength=P)
    tail = ndtr(-HALF_WIDTH) * (st.ends[:, 0] + st.ends[:, 1])
    Bp = np.bincount(st.done_prob, st.budget, minlength=P)
    return I, E + tail, Bp, converged


def integrate_gaussian(evaluate: Evaluator, r: int, kinks: Kinks | None = None, atol: float = 1e-13,
                       rtol: float = 1e-11, max_nodes: int = 200_000) -> QuadratureResult:
    """``integral phi_r(y) g(y) dy`` by iterated adaptive Gauss-Kronrod rules (module docstring).

    Parameters
    ----------
    evaluate : callable
        ``evaluate(points (N, r)) -> (g values (N,), inner error budgets (N,))``, vectorised:
        called once per refinement round with every new node of that round.
    r : int
        Dimension, >= 1.
    kinks : callable, optional
        ``kinks(prefix (P, r-1)) -> list of P arrays``: where g has kinks along the innermost
        coordinate given the outer ones (for r = 1 the prefix has 0 columns).
    atol, rtol : float
        Floor of each problem's tolerance (absolute, and relative to its integral).
    max_nodes : int
        Stop refining (``converged=False``) rather than exceed this many evaluations.

    Returns
    -------
    QuadratureResult

    Notes
    -----
    Cost: ``nodes`` evaluations of g, in ``rounds`` batches; the minimum is ``60^r`` nodes
    (four initial pieces of 15 nodes per coordinate) plus the pieces around the kinks.
    """
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1:
        raise ValueError(f"r must be an integer >= 1, got {r!r}")
    counter = [0, 0]
    flags = [True]

    def make(level: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        if level == r - 1:
            def leaf(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
                vals, budg = evaluate(points)
                counter[0] += points.shape[0]
                counter[1] += 1
                return (np.asarray(vals, dtype=np.float64), np.zeros(points.shape[0]),
                        np.asarray(budg, dtype=np.float64), points.shape[0])
            return leaf
        inner = make(level + 1)

        def node(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
            ks = kinks(points) if (kinks is not None and level + 1 == r - 1) else None
            I, E, Bp, ok = _solve(inner, points, ks, atol, rtol, max_nodes, counter, 60 ** (r - 2 - level))
            flags[0] = flags[0] and ok
            return I, E, Bp, 0
        return node

    top_kinks = kinks(np.zeros((1, 0))) if (kinks is not None and r == 1) else None
    I, E, Bp, ok = _solve(make(0), np.zeros((1, 0)), top_kinks, atol, rtol, max_nodes, counter, 60 ** (r - 1))
    return QuadratureResult(value=float(I[0]), error=float(E[0]), inner_budget=float(Bp[0]), nodes=int(counter[0]),
                            rounds=int(counter[1]), converged=bool(ok and flags[0]))
