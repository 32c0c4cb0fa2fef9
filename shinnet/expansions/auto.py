"""Choosing between the degree expansion (MATH.md section 3) and the resummed expansion
(section 8): ``shinnet.cumulants(..., expansion="resummed" | "auto")``.

**The rule of ``expansion="auto"``** (:func:`choose_expansion`), in order:

1. polynomial hidden activation of degree q with ``max_degree >= q``: ``degree`` (exact: f is the
   polynomial ``f_K``; the resummed series also terminates, but needs E up to ``q n / 2``);
2. otherwise compute the resummed series; if the greedy ``lambda*`` over sets of ``order`` units
   is ``< 1`` it converges geometrically: ``resummed``;
3. otherwise (both series are only asymptotic) compute the degree expansion too and keep the one
   whose partial sums settle better: the smaller ``max_{n >= 2} movement_n / kappa_2^{n/2}``,
   where movement is ``|S(K) - S(K-2)|`` (degree; two steps for parity) or ``|t_E| + |t_{E-1}|``
   (resummed, the last two terms).  The scale ``kappa_2^{n/2} = s^n`` is the natural size of
   kappa_n (its standardised form kappa_n / s^n is what enters E[psi(f)]); dividing by
   ``|kappa_n|`` instead would let a cumulant that happens to be near zero decide the choice.
   Both results' numbers are kept in ``settings["auto"]``.

A ``PowerShinTensors`` input always takes the resummed expansion.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from shinnet.contract.diagnostics import ConvergenceWarning
from shinnet.contract.options import ContractOptions
from shinnet.contract.result import CumulantResult
from shinnet.expansions.degree import preflight_degree, run_degree
from shinnet.expansions.resummed import preflight_resummed, resummed_forms, run_resummed
from shinnet.model import TwoLayerMLP

__all__ = ["run_auto", "choose_expansion", "settling", "preflight_auto"]


def settling(result: CumulantResult) -> float:
    """``max_{n >= 2} movement_n / kappa_2^{n/2}`` (see the module docstring); inf when undefined."""
    worst = 0.0
    resummed = result.settings.get("expansion") == "resummed"
    var = float(result.kappa[2]) if 2 in result.kappa else float("nan")
    for n, sums in result.partial_sums.items():
        if n < 2 or not sums:
            continue
        s = [float(v) for v in sums]
        if resummed:
            t = list(np.diff([0.0] + s))
            move = abs(t[-1]) + (abs(t[-2]) if len(t) > 1 else 0.0)
        else:
            move = abs(s[-1] - s[-3]) if len(s) >= 3 else float("inf")
        scale = var ** (n / 2) if var > 0 else float("nan")
        if not scale > 0:
            return float("inf")
        worst = max(worst, move / scale)
    return worst


def choose_expansion(model: Any, order: int, options: ContractOptions, *, max_degree: int | None = None,
                     max_edges: int | None = None, diagrams: Any = None,
                     exact_variance: Any = None) -> CumulantResult:
    """``expansion="auto"``: the rule in the module docstring.  ``options.representation`` goes to
    the expansion that understands it ("auto" to both)."""
    if max_degree is None or max_edges is None:
        raise ValueError("expansion='auto' needs both max_degree (degree expansion) and max_edges (resummed)")
    kw = {"max_degree": max_degree, "max_edges": max_edges, "diagrams": diagrams, "exact_variance": exact_variance}
    if not isinstance(model, TwoLayerMLP):
        return run_resummed(model, order, options, **kw)
    rep = options.representation
    resummed = rep in resummed_forms()
    resummed_opts = options.replace(representation=rep if resummed else "auto", warn=False)
    degree_opts = options.replace(representation="auto" if resummed else rep)
    q = model.hidden.polynomial_degree
    if q is not None and max_degree >= q:
        res = run_degree(model, order, degree_opts, **kw)
        return _with_choice(res, {"chosen": "degree", "rule": "polynomial activation, max_degree >= its degree"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res_r = run_resummed(model, order, resummed_opts, **kw)
    lam = float(res_r.settings["lambda_star"].get(order, res_r.settings["max_cosine"])) if order >= 2 else 0.0
    if lam < 1.0:
        return _with_choice(res_r, {"chosen": "resummed", "rule": "lambda* < 1", "lambda_star": lam})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res_d = run_degree(model, order, degree_opts.replace(warn=False), **kw)
    s_r, s_d = settling(res_r), settling(res_d)
    chosen, res = ("resummed", res_r) if s_r <= s_d else ("degree", res_d)
    if options.warn:
        warnings.warn(
            f"expansion='auto': lambda* ~ {lam:.3g} >= 1, both expansions are asymptotic; kept {chosen} "
            f"(relative movement of the last partial sums: resummed {s_r:.3g}, degree {s_d:.3g})",
            ConvergenceWarning, stacklevel=3,
        )
    return _with_choice(res, {"chosen": chosen, "rule": "lambda* >= 1: better settling", "lambda_star": lam,
                              "settling_resummed": s_r, "settling_degree": s_d,
                              "kappa_resummed": dict(res_r.kappa), "kappa_degree": dict(res_d.kappa)})


def _with_choice(res: CumulantResult, info: dict[str, Any]) -> CumulantResult:
    return replace(res, settings={**dict(res.settings), "auto": info})


run_auto = choose_expansion


def preflight_auto(order: int, max_degree: int | None, max_edges: int | None, *, d: int, m: int,
                   representation: str = "auto", max_diagrams: float | None = None,
                   max_flops: float | None = None) -> None:
    """``auto`` may run both expansions: price both."""
    kw = dict(d=d, m=m, representation=representation, max_diagrams=max_diagrams, max_flops=max_flops)
    preflight_degree(order, max_degree, max_edges, **kw)
    preflight_resummed(order, max_degree, max_edges, **kw)
