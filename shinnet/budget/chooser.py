"""FLOP budget -> the estimates to run: ``shinnet.estimate(mlp, budget_flops=B)`` (MATH.md sections 3, 6 and 8).

**What is charged.** Everything the call does that costs FLOPs: every estimate it runs, priced exactly before
it runs by :mod:`shinnet.budget.pricing` (contractions, Gram matrix and powers, lambda*, vertex weights, dense
tensors: the numbers the engines then report), plus the planning itself (the shin tensors up to degree 6
behind the degree caps below).  Path searches are Python time, not FLOPs, and are not charged (as everywhere
in shinnet); they are cached and reused by the runs.  Conditioning on active directions (MATH.md section 9) is
a third ladder ``"conditioned"`` when the model has one or two active directions: its node count is adaptive,
so each rung is priced with a node cap and run with ``max_nodes`` = that cap (an upper bound of what it
spends; :mod:`shinnet.budget.conditioned`, which also says when it is offered).

**Candidates.** Two ladders, each ordered cheapest-first in practice: the degree expansion ``(N, K)`` in
:data:`DEGREE_LADDER` and the resummed expansion ``(N, E)`` in :data:`RESUMMED_LADDER`, both from N = 3
(series order ``q = N - 2 >= 1``: an N = 2 estimate has no series signal, so its error budget would omit the
Gaussian approximation's error).  Degree rungs with ``K > max(N, cap_N)`` are dropped, ``cap_N`` being
:func:`degree_cap` (the last degree where the hypercontractive proxy of MATH.md section 3 still decreases).

**The walk (the rule).** Rungs run one after another; each run's error budget (the sum of the Estimate's
parts; times :data:`UNRELIABLE_FACTOR` when the estimate flags itself unreliable: its *score*) is the
diagnostic that steers the next step:

1. the first step is the cheapest first rung of the ladders;
2. then repeatedly the cheapest next rung of the *open* ladders, a ladder's price multiplied by
   :data:`LOSING_WEIGHT` unless it holds the best-scoring run so far (ties to the degree ladder): the better
   ladder climbs, the other follows at a quarter of the price; a ladder *closes* when :data:`STALL` rungs in a
   row fail to lower its best error budget (the diagnostics say it stopped improving: the budget then goes to
   the other ladder), when its rungs run out, or when its next rung cannot run (memory, pre-flight refusal);
3. stop when the next rung in that order would take the total past the budget (a rung is priced against the
   budget left, and its planning stops as soon as the diagrams planned so far exceed it; a rung known only to
   exceed what is left is priced further, up to the point where it could no longer come first), or when every
   ladder is closed.  An error budget of 0 does not stop the walk: it is often a parity zero (odd activations
   without bias, where the last degree and kappa_3 vanish by symmetry), not exactness; among equal scores the
   later, more thorough run is returned.

The order of the rungs never depends on the budget, only on the prices and the observed errors, so a larger
budget runs a longer prefix of the same sequence: the returned estimate -- the run with the smallest score,
its ``planned_error`` -- is never worse at a larger budget (one exception: the conditioned ladder is offered
only from a budget of 10x the directions' sweep on, which changes the sequence at that budget). The total spent is at most the budget, except that
the first rung runs when it costs at most twice the budget (with a :class:`BudgetWarning`); a budget that
cannot buy even that raises :class:`BudgetError` with the cheapest cost, before any estimate runs.  The
earlier rungs are the price of the diagnostics: with rung costs growing 2-10x per step they add up to about
the last rung's cost.  The ladders end at N = 5: the degree (6, 6) rung has ~18,000 diagrams, whose path
searches alone take minutes.

``Estimate.method`` is the expansion of the returned run, ``details`` are its own plus
``details["budget_choice"]`` (a :class:`BudgetChoice`: every priced candidate, every run, why the walk
stopped); ``flops`` / ``flops_with_advice`` are the totals of everything run.

The old single-shot rule (:func:`choose_settings`, degree expansion only, largest rung that fits) is kept for
its callers, now with exact prices.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from math import factorial, sqrt
from typing import Any

import numpy as np

from shinnet.budget.conditioned import conditioned_ladder
from shinnet.budget.pricing import Price, predicted_flops, price, shin_build_flops
from shinnet.contract import PathCache
from shinnet.contract.representations import is_auto, representation_names
from shinnet.estimate import estimate
from shinnet.preflight import RequestTooLarge, check_request
from shinnet.reliability import UnreliableEstimateWarning
from shinnet.tensors.shin import shin_tensors

__all__ = ["DEGREE_LADDER", "RESUMMED_LADDER", "LADDER", "BudgetChoice", "BudgetError", "BudgetWarning", "Choice",
           "Run", "choose_settings", "degree_cap", "estimate_within_budget", "predicted_flops"]

#: (N, K) rungs of the degree expansion, in walking order
DEGREE_LADDER: tuple[tuple[int, int], ...] = ((3, 3), (3, 4), (4, 4), (4, 5), (4, 6), (5, 5), (5, 6))
#: (N, E_max) rungs of the resummed expansion, in walking order
RESUMMED_LADDER: tuple[tuple[int, int], ...] = ((3, 2), (3, 3), (4, 3), (4, 4), (4, 5), (5, 5), (5, 6))
#: the old single-shot rule's (N, K) candidates (:func:`choose_settings`)
LADDER: tuple[tuple[int, int], ...] = ((2, 2), (2, 4), (2, 6), (3, 3), (3, 4), (4, 4), (4, 5), (4, 6), (5, 5), (5, 6),
                                       (6, 6))
_CAP_DEGREE = 6
#: the walk's price multiplier for a ladder that does not hold the best run so far
LOSING_WEIGHT = 4.0
#: a ladder closes after this many rungs in a row that do not lower its best error budget
STALL = 3
#: an estimate flagged unreliable competes with its error budget multiplied by this
UNRELIABLE_FACTOR = 10.0


class BudgetError(ValueError):
    """The budget cannot buy even the cheapest estimate (the message gives its cost)."""


class BudgetWarning(UserWarning):
    """The cheapest estimate costs more than the budget (at most twice it) and runs anyway."""


@dataclass(frozen=True)
class Run:
    """One estimate the walk ran: its price, what it spent, its diagnostics."""

    price: Price
    spent: float
    error: float
    budget_total: float
    reliable: bool
    value: float

    @property
    def score(self) -> float:
        """What "better" means: the smaller error budget, times :data:`UNRELIABLE_FACTOR` when the
        estimate flags itself unreliable (its budget is then a signal, not an error bar)."""
        return self.budget_total * (1.0 if self.reliable else UNRELIABLE_FACTOR)

    def label(self) -> str:
        t = {"degree": "K=", "resummed": "E="}.get(self.price.expansion, "nodes<=")
        cond = self.price.expansion == "conditioned"
        r = f"r={getattr(self.price, 'r', '')}, K={self.price.n_terms}, " if cond else ""
        return f"{self.price.expansion}({r}N={self.price.order}, {t}{self.price.truncation})"


@dataclass(frozen=True)
class BudgetChoice:
    """What :func:`estimate_within_budget` priced, ran and returned, and why it stopped: ``chosen``
    indexes ``runs``; ``spent`` = ``planning_flops`` + every run's ``flops_with_advice``."""

    budget: float
    runs: tuple[Run, ...]
    chosen: int
    priced: tuple[Price, ...]
    planning_flops: float
    spent: float
    stop_reason: str
    closed: dict = field(default_factory=dict)
    degree_caps: dict = field(default_factory=dict)

    @property
    def planned_error(self) -> float:
        """The returned run's :attr:`Run.score`: never larger at a larger budget (same model)."""
        return self.runs[self.chosen].score

    def __repr__(self) -> str:
        best = self.runs[self.chosen]
        return (f"BudgetChoice(budget={self.budget:.3g}, spent={self.spent:.3g}, runs={len(self.runs)}, "
                f"chosen={best.label()}, planned_error={best.score:.3g}, reliable={best.reliable}, "
                f"stop={self.stop_reason!r})")


def degree_cap(lam: np.ndarray, order: int, k_min: int = 2) -> int:
    """Largest K such that ``h_k = (order-1)^{k/2} ||lam_k||_1 / sqrt(k!)`` decreases on [3, K]
    (``h_k < max(h_{k-1}, h_{k-2})``: two-step, so that vanishing parities do not count as growth).
    ``h_k`` bounds ``(N-1)^{k/2} ||F_k||_2``, whose summability is MATH.md section 3's sufficient
    condition for the degree-K cumulants of order N to converge.  ``lam``: (K_max + 1, m); O(m K)."""
    k_max = lam.shape[0] - 1
    h = [(order - 1) ** (k / 2) * float(np.abs(lam[k]).sum()) / sqrt(factorial(k)) for k in range(k_max + 1)]
    cap = min(k_min, k_max)
    for k in range(max(cap + 1, 3), k_max + 1):
        if h[k] >= max(h[k - 1], h[k - 2]) and h[k] > 0.0:
            break
        cap = k
    return cap


def _ladders(expansion: str, representation: str, caps: dict[int, int]) -> dict[str, list[tuple[int, int]]]:
    if expansion not in ("degree", "resummed", "auto"):
        raise ValueError(f"expansion must be 'degree', 'resummed' or 'auto', got {expansion!r}")
    out: dict[str, list[tuple[int, int]]] = {}
    if expansion != "resummed" and (is_auto(representation) or representation in representation_names("degree")):
        out["degree"] = [(n, k) for n, k in DEGREE_LADDER if k <= max(n, caps.get(n, n))]
    if representation in representation_names("resummed", auto=True):
        out["resummed"] = list(RESUMMED_LADDER)
    if not out:
        raise ValueError(f"representation {representation!r} fits neither expansion's ladder")
    return out


def estimate_within_budget(mlp: Any, budget_flops: float, *, expansion: str = "auto", series_order: int | None = None,
                           backend: str = "numpy", representation: str = "auto", progress: bool = False,
                           ladders: dict[str, Any] | None = None, **options: Any) -> Any:
    """``estimate(mlp, budget_flops=B)``: the walk of the module docstring.

    Parameters
    ----------
    mlp : TwoLayerMLP
    budget_flops : float
        FLOPs with advice, planning included.
    expansion : {"auto", "degree", "resummed"}
        ``"resummed"`` walks the resummed ladder only; ``"degree"`` (``estimate``'s default) and
        ``"auto"`` walk both.
    series_order : int, optional
        Capped at ``N - 2`` per rung (default ``N - 2``).
    ladders : dict, optional
        ``{"degree": [(N, K), ...], "resummed": [(N, E), ...]}`` in walking order, replacing the
        default ladders (and the degree caps); a ladder left out is not walked.
    backend, representation, progress, **options
        Passed to every :func:`shinnet.estimate` run (``tol`` is 0: pruning is not priced).
        ``cache`` (a PathCache, created when absent) is shared by pricing and runs.

    Returns
    -------
    Estimate
        The best run (see the module docstring), with ``flops`` / ``flops_with_advice`` the totals
        and ``details["budget_choice"]`` a :class:`BudgetChoice`.

    Raises
    ------
    BudgetError
        When planning plus the cheapest rung costs more than twice ``budget_flops``.
    """
    if isinstance(budget_flops, (bool, str)) or not np.isscalar(budget_flops):
        raise ValueError(f"budget_flops must be a finite number > 0, got {budget_flops!r}")
    budget = float(budget_flops)
    if not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"budget_flops must be a finite number > 0, got {budget_flops!r}")
    start = time.perf_counter()
    options.pop("tol", None)
    options.setdefault("cache", PathCache())
    options.setdefault("warn", False)
    cache = options["cache"]
    pricing = {"representation": representation, "memory_limit": float(options.get("memory_limit", 2.0**31)),
               "gram_max_m": options.get("gram_max_m"),
               "itemsize": 4 if options.get("dtype", "float64") == "float32" else 8}
    caps: dict[int, int] = {}
    planning = 0.0
    if ladders is None and expansion != "resummed":
        shin = shin_tensors(mlp, _CAP_DEGREE)
        planning = float(shin.build_flops)
        caps = {n: degree_cap(np.asarray(shin.lam), n) for n in sorted({n for n, _ in DEGREE_LADDER})}
    cond = None
    if ladders is None:
        ladders = _ladders(expansion, representation, caps)
        if expansion != "resummed" and (cond := conditioned_ladder(mlp, budget, cache, representation)) is not None:
            planning += cond.planning_flops  # the active directions' sweep, when it was computed
            ladders.update({"conditioned": cond.rungs} if cond.rungs else {})
    else:
        ladders = {str(nm): [(int(n), int(t)) for n, t in rungs] for nm, rungs in ladders.items() if rungs}
        if not ladders or any(nm not in ("degree", "resummed") for nm in ladders):
            raise ValueError(f"ladders must map 'degree' / 'resummed' to non-empty rung lists, got {ladders!r}")
    prices: dict[tuple[str, int, int], Price | str | None] = {}
    above: dict[tuple[str, int, int], float] = {}  # rung -> a limit its price is known to exceed

    def priced(name: str, rung: tuple[int, int], limit: float = float("inf")) -> Price | str | None:
        """The exact Price, a reason it cannot run, or None when it costs more than ``limit``."""
        key = (name, *rung)
        if key in prices:
            hit = prices[key]
            return None if isinstance(hit, Price) and hit.total > limit else hit
        if key in above and above[key] >= limit:
            return None
        try:
            if name == "conditioned":
                out: Price | str | None = cond.price(rung, limit)
            else:
                check_request(rung[0], rung[1], d=mlp.d, m=mlp.m, expansion=name, representation=representation)
                out = price(mlp, name, rung[0], rung[1], cache, limit=limit, **pricing)
        except (MemoryError, RequestTooLarge) as exc:
            out = f"cannot run: {exc}"
        if out is None:
            above[key] = limit
        else:
            prices[key] = out
        return out

    # the cheapest estimate must be affordable (within 2x) before anything runs
    firsts = [(name, ladders[name][0]) for name in ladders]
    costs = [(p.total, name) for name, rung in firsts if isinstance(p := priced(name, rung), Price)]
    if not costs:
        raise BudgetError("no candidate estimate can run on this model: "
                          + "; ".join(str(priced(n, r)) for n, r in firsts))
    cheapest, cheap_name = min(costs)
    need = planning + cheapest
    if need > 2.0 * budget:
        raise BudgetError(f"budget_flops={budget:.3g} cannot buy the cheapest estimate: {cheap_name} "
                          f"{ladders[cheap_name][0]} costs {cheapest:.3g} FLOPs with advice, plus {planning:.3g} for "
                          f"planning; pass budget_flops >= {need:.3g} (or use shinnet.monte_carlo at this budget)")
    if need > budget:
        warnings.warn(f"budget_flops={budget:.3g} is below the cheapest estimate ({need:.3g} FLOPs with planning); "
                      "running it anyway (within 2x the budget)", BudgetWarning, stacklevel=3)

    runs: list[Run] = []
    estimates: list[Any] = []
    spent, flops_total = planning, 0.0
    pos = {name: 0 for name in ladders}
    history: dict[str, list[Run]] = {name: [] for name in ladders}
    closed: dict[str, str] = {}
    stop = ""
    while True:
        closed.update({nm: "ladder exhausted" for nm in ladders if nm not in closed and pos[nm] >= len(ladders[nm])})
        open_ = [nm for nm in ladders if nm not in closed]
        if not open_:
            stop = "every ladder closed"
            break
        left = 2.0 * budget - planning if not runs else budget - spent
        best_run = min(runs, key=lambda r: r.score) if runs else None
        weight = {nm: 1.0 if best_run is None or best_run.price.expansion == nm else LOSING_WEIGHT for nm in open_}
        known: dict[str, Price] = {}
        for nm in open_:
            p = priced(nm, ladders[nm][pos[nm]], left)
            if isinstance(p, str):
                closed[nm] = f"{nm}{ladders[nm][pos[nm]]}: {p}"
            elif p is not None:
                known[nm] = p
        unknown = [nm for nm in open_ if nm not in known and nm not in closed]
        if not known:
            if unknown:
                stop = (f"the next rungs ({', '.join(f'{nm}{ladders[nm][pos[nm]]}' for nm in unknown)}) cost more "
                        f"than the {max(left, 0.0):.3g} FLOPs of the budget left")
                break
            continue
        name = min(known, key=lambda nm: (weight[nm] * known[nm].total, list(ladders).index(nm)))
        key = weight[name] * known[name].total
        # a rung known only to exceed what is left might still come first: price it up to ``key``
        first = [nm for nm in unknown if weight[nm] * left < key
                 and isinstance(p2 := priced(nm, ladders[nm][pos[nm]], key / weight[nm]), Price)
                 and (weight[nm] * p2.total, list(ladders).index(nm)) < (key, list(ladders).index(name))]
        if first:
            stop = (f"the next rung in walking order, {first[0]}{ladders[first[0]][pos[first[0]]]}, costs more than "
                    f"the {left:.3g} FLOPs of the budget left")
            break
        p = known[name]
        rung = ladders[name][pos[name]]
        pos[name] += 1
        q = None if series_order is None else min(int(series_order), rung[0] - 2)
        kw = {"max_degree": rung[1]} if name == "degree" else {"max_edges": rung[1]}
        with warnings.catch_warnings():  # only the returned estimate's reliability is reported (below)
            warnings.simplefilter("ignore", UnreliableEstimateWarning)
            est = cond.run(mlp, rung, backend) if name == "conditioned" else estimate(
                mlp, order=rung[0], tol=0.0, series_order=q, backend=backend, representation=representation,
                progress=progress, expansion=name, **kw, **options)
        run = Run(p, float(est.flops_with_advice), float(est.error), float(est.budget_total), bool(est.reliable),
                  float(est.value))
        spent += run.spent
        flops_total += float(est.flops)
        runs.append(run)
        estimates.append(est)
        seen = history[name]
        seen.append(run)
        if len(seen) > STALL and min(r.budget_total for r in seen[-STALL:]) >= min(r.budget_total
                                                                              for r in seen[:-STALL]):
            closed[name] = f"stopped improving ({STALL} rungs in a row without a smaller error budget)"
        if name == "conditioned":  # converged below its cap: on to the next inner (order, K), or close
            pos[name], why = cond.advance(est, ladders[name], pos[name])
            if why:
                closed[name] = why
    best = min(range(len(runs)), key=lambda i: (runs[i].score, -i))  # ties: the later, more thorough run
    choice = BudgetChoice(budget, tuple(runs), best, tuple(p for p in prices.values() if isinstance(p, Price)),
                          planning, spent, stop, dict(closed), caps)
    est = estimates[best]
    if not est.reliable:
        warnings.warn(f"the best estimate within the budget, {runs[best].label()} = {est.value:.6g}, is not reliable "
                      f"(error budget {est.budget_total:.3g}: {'; '.join(est.unreliable_reasons)}); compare with "
                      "shinnet.monte_carlo", UnreliableEstimateWarning, stacklevel=3)
    return replace(est, method=runs[best].price.expansion, flops=flops_total, flops_with_advice=spent,
                   wall_time=time.perf_counter() - start, details={**dict(est.details), "budget_choice": choice})


# ---------------------------------------------------------------------------- the old single-shot rule
@dataclass(frozen=True)
class Choice:
    """The settings :func:`choose_settings` picks for a budget and why."""

    order: int
    max_degree: int
    tol: float
    predicted_flops: float
    fits: bool
    degree_caps: dict[int, int]


def choose_settings(mlp: Any, budget_flops: float, backend: str = "numpy", ladder: tuple[tuple[int, int], ...] = LADDER,
                    cache: Any = None) -> Choice:
    """The old rule: the last rung of ``ladder`` (degree expansion) within the degree caps whose
    exact price fits ``budget_flops``; the first rung, with ``fits=False``, if none does.
    :func:`estimate_within_budget` replaces it in ``shinnet.estimate``."""
    if not budget_flops > 0:
        raise ValueError(f"budget_flops must be positive, got {budget_flops}")
    shin = shin_tensors(mlp, max(k for _, k in ladder))
    caps = {n: degree_cap(np.asarray(shin.lam), n) for n in sorted({n for n, _ in ladder})}
    cache = PathCache() if cache is None else cache
    best: Choice | None = None
    for order, k in ladder:
        if k > max(caps[order], 2):
            continue
        flops, dense = predicted_flops(mlp.d, mlp.m, order, k, cache=cache)
        total = flops + dense + shin_build_flops(mlp, k)
        if total > budget_flops:
            if best is None:
                best = Choice(order, k, 0.0, total, False, caps)
            break
        best = Choice(order, k, 0.0, total, True, caps)
    assert best is not None
    return best
