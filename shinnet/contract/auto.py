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
from typing import Any

import numpy as np

from shinnet.contract.diagnostics import ConvergenceWarning
from shinnet.contract.result import CumulantResult

__all__ = ["dispatch_expansion", "choose_expansion", "resummed_batch", "settling"]

_RESUMMED_FORMS = ("auto", "hidden", "dspace")


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


def _resummed(model: Any, order: int, max_edges: int | None, representation: str, gram_max_m: int | None,
              **kw: Any) -> CumulantResult:
    from shinnet.contract.resummed import resummed_cumulants

    if max_edges is None:
        raise ValueError("expansion='resummed' needs max_edges (the cosine order E_max)")
    if kw.pop("contract_mode", "tree") != "tree":
        raise ValueError("the resummed expansion supports contract_mode='tree' only")
    if kw.pop("diagrams", None) is not None:
        raise ValueError("diagrams= is for the degree expansion; the resummed classes come from "
                         "shinnet.enumerate.resummed_diagrams")
    kw.pop("hypercontractive", None)
    if representation not in _RESUMMED_FORMS:
        raise ValueError(f"the resummed expansion's representation is one of {_RESUMMED_FORMS}, got {representation!r}")
    rep = representation
    return resummed_cumulants(model, order, int(max_edges), representation=rep,
                              gram_max_m=4096 if gram_max_m is None else gram_max_m, **kw)


def resummed_batch(models: Any, order: int, second_layers: Any, *, max_edges: int | None = None,
                   representation: str = "auto", gram_max_m: int | None = None, **kw: Any) -> CumulantResult:
    """``cumulants_batch(..., expansion="resummed")``: the resummed expansion for a batch of second
    layers (a TwoLayerMLP with ``second_layers`` (B, m), or a sequence of TwoLayerMLPs sharing the
    first layer; :func:`shinnet.contract.cumulants_batch` checks the pairing); options as for one
    model, except ``tol_mode="relative"`` (refused)."""
    from shinnet.model import TwoLayerMLP

    if not isinstance(models, (TwoLayerMLP, list, tuple)):
        models = list(models)
    kw.pop("max_degree", None)
    return _resummed(models, order, max_edges, representation, gram_max_m, second_layers=second_layers, **kw)


def choose_expansion(model: Any, order: int, max_degree: int | None, max_edges: int | None,
                     **kw: Any) -> CumulantResult:
    """``expansion="auto"``: the rule in the module docstring."""
    from shinnet.contract import cumulants
    from shinnet.model import TwoLayerMLP

    if max_degree is None or max_edges is None:
        raise ValueError("expansion='auto' needs both max_degree (degree expansion) and max_edges (resummed)")
    representation = kw.pop("representation", "auto")
    gram_max_m = kw.pop("gram_max_m", None)
    warn = kw.pop("warn", True)
    if not isinstance(model, TwoLayerMLP):
        return _resummed(model, order, max_edges, representation, gram_max_m, warn=warn, **kw)
    r_rep = representation if representation in _RESUMMED_FORMS else "auto"
    representation = "auto" if representation in _RESUMMED_FORMS else representation
    q = model.hidden.polynomial_degree
    if q is not None and max_degree >= q:
        res = cumulants(model, order, max_degree, representation=representation, gram_max_m=gram_max_m,
                        warn=warn, **kw)
        return _with_choice(res, {"chosen": "degree", "rule": "polynomial activation, max_degree >= its degree"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res_r = _resummed(model, order, max_edges, r_rep, gram_max_m, warn=False, **dict(kw))
    lam = float(res_r.settings["lambda_star"].get(order, res_r.settings["max_cosine"])) if order >= 2 else 0.0
    if lam < 1.0:
        return _with_choice(res_r, {"chosen": "resummed", "rule": "lambda* < 1", "lambda_star": lam})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res_d = cumulants(model, order, max_degree, representation=representation, gram_max_m=gram_max_m,
                          warn=False, **kw)
    s_r, s_d = settling(res_r), settling(res_d)
    chosen, res = ("resummed", res_r) if s_r <= s_d else ("degree", res_d)
    if warn:
        warnings.warn(
            f"expansion='auto': lambda* ~ {lam:.3g} >= 1, both expansions are asymptotic; kept {chosen} "
            f"(relative movement of the last partial sums: resummed {s_r:.3g}, degree {s_d:.3g})",
            ConvergenceWarning, stacklevel=3,
        )
    return _with_choice(res, {"chosen": chosen, "rule": "lambda* >= 1: better settling", "lambda_star": lam,
                              "settling_resummed": s_r, "settling_degree": s_d,
                              "kappa_resummed": dict(res_r.kappa), "kappa_degree": dict(res_d.kappa)})


def _with_choice(res: CumulantResult, info: dict[str, Any]) -> CumulantResult:
    from dataclasses import replace

    return replace(res, settings={**dict(res.settings), "auto": info})


def dispatch_expansion(model: Any, order: int, max_degree: int | None, max_edges: int | None, expansion: str,
                       **kw: Any) -> CumulantResult:
    """Route :func:`shinnet.cumulants` for ``expansion`` in {"resummed", "auto"}."""
    if expansion == "resummed":
        representation = kw.pop("representation", "auto")
        gram_max_m = kw.pop("gram_max_m", None)
        return _resummed(model, order, max_edges, representation, gram_max_m, **kw)
    return choose_expansion(model, order, max_degree, max_edges, **kw)
