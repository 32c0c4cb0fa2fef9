"""PNG plots of the studies (matplotlib, Agg backend; no global style changes).

Every function takes rows (lists of dicts as written to the CSVs) and an output path, and
returns the path.  Figures are at least ~1000 px wide for the multi-panel plots, legends sit
outside the data (to the right of the panels), discrete axes (K, q) get integer ticks, and files
stay well under 300 KB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from shinnet.study.race import model_medians

__all__ = ["plot_race", "plot_expansions", "plot_kappa_vs_k", "plot_series_order", "plot_pruning", "PEER_STYLE"]

_DPI = 100
#: peer -> (colour, line style, label) in the race plots
PEER_STYLE: dict[str, tuple[str, str, str]] = {
    "monte_carlo": ("k", "--", "Monte Carlo Var(y)/N"),
    "rqmc": ("C0", "-", "RQMC (Sobol, 8 scrambles)"),
    "rqmc_cv": ("C2", "-", "RQMC + control variates"),
    "hybrid": ("C3", "-", "hybrid (exact E[g] + RQMC residual)"),
}
_HIDDEN_COLOURS = ("C4", "C1", "C6", "C8", "C9", "C5", "C7")


def _figure(nrows: int, ncols: int, w: float = 3.2, h: float = 2.6) -> tuple[Any, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    return fig, axes


def _save(fig: Any, path: str | os.PathLike[str], legend: Any = None) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if legend is None:
        fig.tight_layout()
    fig.savefig(path, dpi=_DPI, bbox_inches="tight", bbox_extra_artists=[legend] if legend is not None else None)
    plt.close(fig)
    return path


def _integer_ticks(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _outside_legend(fig: Any, handles: list[Any], fontsize: float = 8) -> Any:
    """One legend for the whole figure, to the right of the panels (never over the data)."""
    fig.tight_layout(rect=(0.0, 0.0, 0.8, 1.0))
    return fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.8, 0.5), fontsize=fontsize,
                      frameon=False)


def plot_race(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str],
              peer_rows: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """MSE/Var(y) against FLOPs (log-log), one panel per family (target x output), every peer drawn.

    Markers: shinnet per model and rung (filled: contractions only; open: with advice; circles the
    degree expansion, squares the resummed one), colour by hidden activation; unresolved rows grey.
    Lines: plain Monte Carlo ``MSE/Var(y) = fps / F`` (dashed black) and, from ``peer_rows``, each
    measured peer per model (RQMC, RQMC + control variates, hybrid: ``stderr^2 / Var(y)`` against
    FLOPs).  The legend sits to the right of the panels.
    """
    targets = sorted({r["target"] for r in rows})
    outputs = sorted({r["output"] for r in rows})
    fig, axes = _figure(len(targets), len(outputs), w=max(4.8, 10.5 / max(len(outputs), 1)), h=3.4)
    hiddens = sorted({r["hidden"] for r in rows})
    colours = {h: _HIDDEN_COLOURS[i % len(_HIDDEN_COLOURS)] for i, h in enumerate(hiddens)}
    peer_rows = list(peer_rows or [])
    floor = 1e-14
    for i, t in enumerate(targets):
        for j, o in enumerate(outputs):
            ax = axes[i, j]
            sub = [r for r in rows if r["target"] == t and r["output"] == o]
            if not sub:
                ax.set_visible(False)
                continue
            peers = [p for p in peer_rows if p["target"] == t and p["output"] == o]
            fmin = min([r["flops"] for r in sub] + [p["flops"] for p in peers])
            fmax = max([r["flops_with_advice"] for r in sub] + [p["flops"] for p in peers])
            F = np.geomspace(max(fmin, 1.0) / 3, fmax * 3, 20)
            for fps in sorted({r["flops_per_sample"] for r in sub}):
                ax.plot(F, fps / F, ls="--", color="k", lw=0.8, alpha=0.6)
            for key in sorted({(p["peer"], p["hidden"], p["d"], p["m"], p["seed"]) for p in peers}):
                line = sorted((p for p in peers if (p["peer"], p["hidden"], p["d"], p["m"], p["seed"]) == key),
                              key=lambda p: p["flops"])
                colour, ls, _ = PEER_STYLE.get(key[0], ("0.4", "-", key[0]))
                ax.plot([p["flops"] for p in line], [max(p["mse"] / p["var_y"], floor) for p in line],
                        ls=ls, marker=".", ms=4, lw=1.0, color=colour, alpha=0.8)
            for r in sub:
                c = "0.6" if r["unresolved"] else colours[r["hidden"]]
                mk = "s" if r.get("expansion") == "resummed" else "o"
                y = max(r["nmse"], floor)
                ax.plot(r["flops"], y, mk, ms=5, color=c)
                ax.plot(r["flops_with_advice"], y, mk, ms=5, mfc="none", color=c, alpha=0.7)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"target {t}, psi = {o}", fontsize=10)
            ax.tick_params(labelsize=8)
            ax.grid(True, which="major", lw=0.3, alpha=0.5)
            if j == 0:
                ax.set_ylabel("MSE / Var(y)", fontsize=9)
            if i == len(targets) - 1:
                ax.set_xlabel("FLOPs", fontsize=9)
    ax0 = axes[0, 0]
    handles = [ax0.plot([], [], "o", color=colours[h], label=f"shinnet, hidden {h}")[0] for h in hiddens]
    handles.append(ax0.plot([], [], "ko", mfc="none", label="shinnet with advice (open)")[0])
    if any(r.get("expansion") == "resummed" for r in rows):
        handles.append(ax0.plot([], [], "ks", label="resummed expansion (squares)")[0])
    handles.append(ax0.plot([], [], "o", color="0.6", label="unresolved (reference too coarse)")[0])
    shown = ["monte_carlo"] + sorted({p["peer"] for p in peer_rows}, key=list(PEER_STYLE).index)
    for peer in shown:
        colour, ls, label = PEER_STYLE[peer]
        handles.append(ax0.plot([], [], ls=ls, color=colour, label=label)[0])
    legend = _outside_legend(fig, handles)
    return _save(fig, path, legend)


def plot_expansions(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Degree against resummed expansion: median MSE/Var(y) over models against median FLOPs with
    advice, one line per (hidden, d, expansion) through its rungs, one panel per (second layer
    random/trained, output psi != identity).  Solid lines: degree; dashed: resummed; marker size
    grows with m.  Dotted black: Monte Carlo ``fps / F`` at the panel's median flops per sample.
    """
    sub = [{**r, "kind": "random" if r["target"] == "random" else "trained"} for r in rows
           if r["output"] != "identity"]
    meds = model_medians(sub, ("kind", "output", "hidden", "d", "m"))
    panels = sorted({(r["kind"], r["output"]) for r in meds})
    ncols = max(1, len({o for _, o in panels}))
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(nrows, ncols, w=max(4.8, 10.5 / ncols), h=3.4)
    hiddens = sorted({r["hidden"] for r in meds})
    ds = sorted({r["d"] for r in meds})
    ms_ = sorted({r["m"] for r in meds})
    colours = {(h, d): f"C{i}" for i, (h, d) in enumerate((h, d) for h in hiddens for d in ds)}
    floor = 1e-14
    for ax, (kind, out) in zip(axes.flat, panels):
        here = [r for r in meds if (r["kind"], r["output"]) == (kind, out)]
        for (h, d, m, e) in sorted({(r["hidden"], r["d"], r["m"], r["expansion"]) for r in here}):
            line = sorted((r for r in here if (r["hidden"], r["d"], r["m"], r["expansion"]) == (h, d, m, e)),
                          key=lambda r: r["median_flops_advice"])
            ax.plot([r["median_flops_advice"] for r in line], [max(r["median_nmse"], floor) for r in line],
                    "-" if e == "degree" else "--", marker="o" if e == "degree" else "s",
                    ms=2.5 + 1.5 * ms_.index(m), lw=0.9, color=colours[h, d])
        fps = [r["flops_per_sample"] for r in sub if (r["kind"], r["output"]) == (kind, out)]
        F = np.geomspace(min(r["median_flops_advice"] for r in here) / 3,
                         max(r["median_flops_advice"] for r in here) * 3, 20)
        ax.plot(F, float(np.median(fps)) / F, "k:", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{kind} second layer, psi = {out}", fontsize=10)
        ax.set_xlabel("FLOPs with advice", fontsize=9)
        ax.set_ylabel("median MSE / Var(y)", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, which="major", lw=0.3, alpha=0.5)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [axes[0, 0].plot([], [], "-", color=c, label=f"{h} d={d}")[0] for (h, d), c in colours.items()]
    handles.append(axes[0, 0].plot([], [], "k-o", ms=3, label="degree")[0])
    handles.append(axes[0, 0].plot([], [], "k--s", ms=3, label="resummed")[0])
    handles.append(axes[0, 0].plot([], [], "k:", label="Monte Carlo")[0])
    handles.append(axes[0, 0].plot([], [], "ko", ms=2.5, ls="none", label=f"marker size: m = {', '.join(map(str, ms_))}")[0])
    legend = _outside_legend(fig, handles)
    return _save(fig, path, legend)


def plot_kappa_vs_k(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """kappa_n against the Hermite degree K, one panel per (model, n), with the Monte Carlo
    reference and its +-2 standard error band."""
    keys = sorted({(r["model"], r["n"]) for r in rows})
    fig, axes = _figure(1, len(keys), w=2.8)
    for ax, (model, n) in zip(axes[0], keys):
        sub = sorted((r for r in rows if r["model"] == model and r["n"] == n), key=lambda r: r["K"])
        K = [r["K"] for r in sub]
        ax.plot(K, [r["kappa"] for r in sub], "o-", ms=3.5, label="shinnet kappa_n(K)")
        ref, se = sub[0]["mc_kappa"], sub[0]["mc_stderr"]
        ax.axhline(ref, color="k", lw=0.8, label="Monte Carlo")
        ax.axhspan(ref - 2 * se, ref + 2 * se, color="k", alpha=0.15, lw=0)
        ax.set_title(f"{model}\nkappa_{n}", fontsize=7)
        ax.set_xlabel("K", fontsize=8)
        ax.tick_params(labelsize=7)
        _integer_ticks(ax)
    axes[0, 0].legend(fontsize=6)
    return _save(fig, path)


def plot_series_order(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """|E[psi(f)] error| against series order q, with shinnet's cumulants and with Monte Carlo
    cumulants (isolating the series error); the reference stderr as a dotted line."""
    keys = sorted({(r["model"], r["output"]) for r in rows})
    fig, axes = _figure(1, len(keys), w=2.8)
    for ax, key in zip(axes[0], keys):
        sub = sorted((r for r in rows if (r["model"], r["output"]) == key), key=lambda r: r["q"])
        q = [r["q"] for r in sub]
        ax.semilogy(q, [max(abs(r["error"]), 1e-16) for r in sub], "o-", ms=3.5, label="shinnet kappas")
        ax.semilogy(q, [max(abs(r["error_mc_kappa"]), 1e-16) for r in sub], "s--", ms=3.5, label="MC kappas")
        ax.semilogy(q, [max(r["last_term"], 1e-16) for r in sub], "^:", ms=3.5, label="last term")
        ax.axhline(sub[0]["truth_stderr"], color="k", ls=":", lw=0.8, label="reference s.e.")
        ax.set_title(f"{key[0]}\npsi = {key[1]}", fontsize=7)
        ax.set_xlabel("series order q", fontsize=8)
        ax.tick_params(labelsize=7)
        _integer_ticks(ax)
    axes[0, 0].set_ylabel("|error|", fontsize=8)
    axes[0, 0].legend(fontsize=6)
    return _save(fig, path)


def plot_pruning(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Per model: reported pruning budget and actual change of kappa_n against the tolerance
    (left), and FLOPs against the tolerance (right)."""
    models = sorted({r["model"] for r in rows})
    fig, axes = _figure(len(models), 2)
    for i, model in enumerate(models):
        sub = [r for r in rows if r["model"] == model and r["tol"] > 0]
        for n in sorted({r["n"] for r in sub}):
            s = sorted((r for r in sub if r["n"] == n), key=lambda r: r["tol"])
            tol = [r["tol"] for r in s]
            (line,) = axes[i, 0].loglog(tol, [max(r["budget"], 1e-18) for r in s], "o-", ms=3, label=f"budget n={n}")
            axes[i, 0].loglog(tol, [max(r["actual"], 1e-18) for r in s], "x--", ms=4, color=line.get_color(),
                              label=f"actual n={n}")
        s = sorted({(r["tol"], r["flops"]) for r in sub})
        axes[i, 1].loglog([a for a, _ in s], [b for _, b in s], "o-", ms=3)
        axes[i, 0].set_title(model, fontsize=7)
        axes[i, 0].set_xlabel("tol", fontsize=8)
        axes[i, 1].set_xlabel("tol", fontsize=8)
        axes[i, 1].set_ylabel("FLOPs", fontsize=8)
        axes[i, 0].legend(fontsize=5)
        for ax in axes[i]:
            ax.tick_params(labelsize=7)
    return _save(fig, path)
