"""Which expansion wins where: degree (MATH.md section 3) against resummed (section 8) in the race.

Input: race rows (:func:`shinnet.study.race.race_rows`) holding both expansions.  A *cell* is
(d, m, hidden, kind, output) with ``kind = "random"`` for the random second layer and
``"trained"`` for every trained target; its models are the targets (and seeds) in it.

Per cell and expansion, :func:`shinnet.study.race.model_medians` gives per rung the medians over
models of ``MSE/Var(y)`` and of the FLOP ratio at equal MSE with advice (Monte Carlo FLOPs to
reach shinnet's squared error over shinnet's FLOPs including the vertex tensors).  Two verdicts:

* **cost** (``winner_ratio``): the expansion whose best rung has the larger median ratio with
  advice -- which one buys accuracy more cheaply than Monte Carlo;
* **accuracy** (``winner_accuracy``): the expansion whose most accurate rung has the smaller
  median ``MSE/Var(y)``.  When both most-accurate rungs contain unresolved models (the reference
  cannot see the error) the verdict is ``"unresolved"``; when the two errors are within a factor
  ``tie_factor`` (default 2, about the run-to-run scatter of a one-seed median), ``"tie"``.

psi = identity is left out: ``E[f] = kappa_1`` is exact in both expansions.

:func:`peer_summary` is the race against the *strongest* peer (MATH.md section 10): per group (by
default target x output x d x m, so the advice-free ratio's growth with m shows) the rung with the
largest median FLOP ratio against the cheapest peer, without and with advice.
Cost: O(rows log rows).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from shinnet.study.race import model_medians

__all__ = ["expansion_table", "marginal_wins", "peer_summary", "CELL"]

#: the fields that make a cell of the comparison
CELL: tuple[str, ...] = ("d", "m", "hidden", "kind", "output")


def _with_kind(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "kind": "random" if r["target"] == "random" else "trained"} for r in rows
            if r["output"] != "identity"]


def expansion_table(rows: Sequence[Mapping[str, Any]], tie_factor: float = 2.0) -> list[dict[str, Any]]:
    """One row per cell (see the module docstring) where both expansions were raced.

    Columns: the cell fields; per expansion X in (``deg``, ``res``): ``X best rung``, ``X best
    ratio w/ advice``, ``X min MSE/Var`` and ``X min rung`` (its most accurate rung), ``X FLOPs
    at min`` (median FLOPs with advice there); ``winner_ratio``, ``winner_accuracy``.
    """
    if tie_factor < 1:
        raise ValueError(f"tie_factor must be >= 1, got {tie_factor}")
    meds = model_medians(_with_kind(rows), CELL)
    cells: dict[tuple, dict[str, list[dict[str, Any]]]] = {}
    for r in meds:
        cells.setdefault(tuple(r[k] for k in CELL), {}).setdefault(r["expansion"], []).append(r)
    out = []
    for cell, by_exp in sorted(cells.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        if set(by_exp) != {"degree", "resummed"}:
            continue
        row: dict[str, Any] = dict(zip(CELL, cell))
        best, acc = {}, {}
        for exp, tag in (("degree", "deg"), ("resummed", "res")):
            rungs = by_exp[exp]
            best[exp] = max(rungs, key=lambda r: r["median_ratio_advice"])
            acc[exp] = min(rungs, key=lambda r: r["median_nmse"])
            row[f"{tag} best rung"] = best[exp]["rung"]
            row[f"{tag} best ratio w/ advice"] = best[exp]["median_ratio_advice"]
            row[f"{tag} min MSE/Var"] = acc[exp]["median_nmse"]
            row[f"{tag} min rung"] = acc[exp]["rung"]
            row[f"{tag} FLOPs at min"] = acc[exp]["median_flops_advice"]
        row["winner_ratio"] = max(best, key=lambda e: best[e]["median_ratio_advice"])
        a, b = acc["degree"]["median_nmse"], acc["resummed"]["median_nmse"]
        if acc["degree"]["unresolved_models"] and acc["resummed"]["unresolved_models"]:
            row["winner_accuracy"] = "unresolved"
        elif max(a, b) <= tie_factor * min(a, b):
            row["winner_accuracy"] = "tie"
        else:
            row["winner_accuracy"] = "degree" if a < b else "resummed"
        out.append(row)
    return out


def marginal_wins(table: Sequence[Mapping[str, Any]], factors: Sequence[str] = CELL) -> list[dict[str, Any]]:
    """Counts of the verdicts of :func:`expansion_table` per value of each factor.

    Returns rows ``factor, value, cells, resummed cheaper, degree cheaper, resummed more accurate,
    degree more accurate, tie, unresolved``.
    """
    out = []
    for f in factors:
        for v in sorted({r[f] for r in table}, key=str):
            sub = [r for r in table if r[f] == v]
            acc = [r["winner_accuracy"] for r in sub]
            out.append({"factor": f, "value": v, "cells": len(sub),
                        "resummed cheaper": sum(r["winner_ratio"] == "resummed" for r in sub),
                        "degree cheaper": sum(r["winner_ratio"] == "degree" for r in sub),
                        "resummed more accurate": acc.count("resummed"), "degree more accurate": acc.count("degree"),
                        "tie": acc.count("tie"), "unresolved": acc.count("unresolved")})
    return out


def peer_summary(rows: Sequence[Mapping[str, Any]],
                 by: Sequence[str] = ("target", "output", "d", "m")) -> list[dict[str, Any]]:
    """Per group ``by``: shinnet's best rung against the strongest peer, without and with advice.

    Columns: the ``by`` fields; ``best rung``, ``ratio vs peers`` (median over models of the peer's
    FLOPs to reach shinnet's squared error over shinnet's FLOPs without advice), ``best rung w/
    advice``, ``ratio vs peers w/ advice``, ``strongest peer`` (most often the cheapest peer at that
    rung), ``MSE/Var(y)`` there, ``models``, ``unresolved models``.  psi = identity is left out.
    Ratios > 1: shinnet wins.
    """
    meds = [r for r in model_medians([r for r in rows if r["output"] != "identity"], by)
            if r["median_peer_ratio"] == r["median_peer_ratio"]]  # drop NaN (no peers measured)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in meds:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for key, rungs in sorted(groups.items(), key=lambda kv: tuple((0, x, "") if isinstance(x, (int, float))
                                                                   else (1, 0, str(x)) for x in kv[0])):
        free = max(rungs, key=lambda r: r["median_peer_ratio"])
        adv = max(rungs, key=lambda r: r["median_peer_ratio_advice"])
        out.append({**dict(zip(by, key)), "best rung": free["rung"], "ratio vs peers": free["median_peer_ratio"],
                    "best rung w/ advice": adv["rung"], "ratio vs peers w/ advice": adv["median_peer_ratio_advice"],
                    "strongest peer": adv["strongest_peer"], "MSE/Var(y)": adv["median_nmse"],
                    "models": adv["models"], "unresolved models": adv["unresolved_models"]})
    return out
