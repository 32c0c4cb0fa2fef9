"""Pictures of diagrams: one panel per diagram, parallel edges drawn as separate arcs.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend switch), so it
works headless and leaves the caller's matplotlib state alone.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np

from shinnet.enumerate.diagram import Diagram

__all__ = ["draw_diagrams"]


def _positions(n: int) -> np.ndarray:
    if n == 1:
        return np.zeros((1, 2))
    angle = np.pi / 2 + 2 * np.pi * np.arange(n) / n
    return np.column_stack([np.cos(angle), np.sin(angle)])


def draw_diagrams(
    diagrams: Sequence[Diagram],
    path: str | os.PathLike[str],
    *,
    columns: int | None = None,
    max_panels: int = 120,
    title: str | None = None,
) -> int:
    """Draw diagrams into a PNG (or any format matplotlib infers from the suffix).

    Vertices sit on a circle, labelled by their degree; an edge of multiplicity m is m arcs
    of different curvature, so multi-edges are visible, and the panel title gives the weight
    ``n!/(|Aut| prod m_e!)`` and ``|Aut|``.

    Parameters
    ----------
    diagrams : sequence of Diagram
    path : path-like
        Output file.
    columns : int, optional
        Panels per row (default about sqrt of the count).
    max_panels : int
        At most this many diagrams are drawn (the first ones); the figure title says so.
    title : str, optional

    Returns
    -------
    int
        Number of panels drawn.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch

    shown = list(diagrams)[:max_panels]
    if not shown:
        raise ValueError("no diagrams to draw")
    cols = columns or max(1, math.ceil(math.sqrt(len(shown))))
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(2.2 * cols, 2.4 * rows))
    FigureCanvasAgg(fig)
    for index, diagram in enumerate(shown):
        ax = fig.add_subplot(rows, cols, index + 1)
        pos = _positions(diagram.order)
        for i, j, m in diagram.edges:
            for copy in range(m):
                rad = 0.0 if m == 1 else 0.5 * (copy - (m - 1) / 2) / max(1, (m - 1) / 2) * min(1.0, 0.25 * m)
                ax.add_patch(FancyArrowPatch(
                    tuple(pos[i]), tuple(pos[j]), arrowstyle="-", connectionstyle=f"arc3,rad={rad}",
                    linewidth=1.2, color="0.25", shrinkA=6, shrinkB=6,
                ))
        ax.scatter(pos[:, 0], pos[:, 1], s=160, c="#4c78a8", zorder=3)
        for v, k in enumerate(diagram.degrees):
            ax.annotate(str(k), pos[v], ha="center", va="center", color="white", fontsize=7, zorder=4)
        ax.set_title(f"w={diagram.weight}  |Aut|={diagram.automorphisms}", fontsize=7)
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-1.5, 1.5)
        ax.set_aspect("equal")
        ax.axis("off")
    heading = title or ""
    if len(diagrams) > len(shown):
        heading += f"  (first {len(shown)} of {len(diagrams)})"
    if heading:
        fig.suptitle(heading.strip(), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    return len(shown)
