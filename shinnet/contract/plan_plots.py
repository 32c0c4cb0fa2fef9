"""PNG drawings of a diagram's contraction plan (``shinnet paths --plot DIR``): the contraction
tree and the tensor network, labelled so that they read on their own at the size written
(>= 900 px wide).  matplotlib (Agg) and, for the network, quimb are imported lazily (heavy).

Tree: the leaves (bottom row) are the network's inputs, numbered as in the ``path`` column of
``shinnet paths`` and named by their source (``weights k`` = the vertex weights ``lambda_k``, a
vector of size m; ``U`` = the unit rows, m x d; ``Gram^p`` = the elementwise power ``(U U^T)^{o p}``,
m x m; ``shin_k`` = the dense ``d^k`` tensor); each internal node is one pairwise contraction,
``#s`` being step s of the path, labelled with its FLOPs and the entries of its result; edge
width grows with log2 of the entries passed up; the root (top) is the diagram's value.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["source_label", "plot_plan", "tree_layout"]

_DPI = 120


#: network source kind -> its readable name (see the module docstring); other kinds print as is
_SOURCE_LABELS: Mapping[str, Callable[[tuple[Any, ...]], str]] = MappingProxyType({
    "weights": lambda src: f"weights {src[1]}",
    "gram": lambda src: "Gram" if int(src[1]) == 1 else f"Gram^{src[1]}",
    "dense": lambda src: f"shin_{src[1]}",
})


def source_label(source: tuple[Any, ...]) -> str:
    """A readable name of one network input's source (see the module docstring)."""
    label = _SOURCE_LABELS.get(source[0])
    return str(source[0]) if label is None else label(source)


def tree_layout(tree: Any) -> tuple[dict[Any, tuple[float, float]], list[tuple[Any, Any, Any]]]:
    """Positions of a cotengra ``ContractionTree``'s nodes (leaves at y = 0 in left-to-right order,
    a parent one above its higher child, x the mean of its children's) and the contraction steps
    ``(parent, left, right)`` in path order."""
    steps = list(tree.traverse())
    children = {p: (left, right) for p, left, right in steps}
    pos: dict[Any, tuple[float, float]] = {}
    next_x = [0.0]

    def place(node: Any) -> tuple[float, float]:
        if node not in children:
            pos[node] = (next_x[0], 0.0)
            next_x[0] += 1.0
            return pos[node]
        a, b = (place(c) for c in children[node])
        pos[node] = ((a[0] + b[0]) / 2.0, max(a[1], b[1]) + 1.0)
        return pos[node]

    if steps:
        place(tree.root)
    return pos, steps


def _plot_tree(plan: Any, diagram: Any, file: Path) -> None:
    import matplotlib.pyplot as plt  # heavy optional dependency, only for drawings

    tree, net = plan.tree, plan.network
    pos, steps = tree_layout(tree)
    n_in = len(net.inputs)
    height = max(y for _, y in pos.values())
    fig, ax = plt.subplots(figsize=(max(8.0, 1.0 * n_in + 2.0), max(5.5, 0.9 * height + 3.0)))
    top = max(math.log2(max(float(tree.get_size(p)), 2.0)) for p, _, _ in steps)
    for step, (parent, left, right) in enumerate(steps):
        for child in (left, right):
            size = float(tree.get_size(child))
            width = 1.0 + 5.0 * math.log2(max(size, 2.0)) / max(top, 1.0)
            (x0, y0), (x1, y1) = pos[parent], pos[child]
            ax.plot([x0, x1], [y0, y1], color="0.55", lw=width, zorder=1, solid_capstyle="round")
        x, y = pos[parent]
        ax.scatter([x], [y], s=160, color="tab:red", zorder=2)
        ax.annotate(f"#{step}: {float(tree.get_flops(parent)):.3g} FLOPs\n-> {float(tree.get_size(parent)):.3g} entries",
                    (x, y), xytext=(8, 4), textcoords="offset points", fontsize=9, zorder=3)
    for i in range(n_in):
        x, y = pos[tree.input_to_node(i)]
        shape = "x".join(str(net.size_dict[ix]) for ix in net.inputs[i]) or "scalar"
        ax.scatter([x], [y], s=160, color="tab:blue", zorder=2)
        ax.annotate(f"{i}: {source_label(net.sources[i])}\n({shape})", (x, y), xytext=(0, -12),
                    textcoords="offset points", ha="center", va="top", fontsize=9)
    ax.set_title(f"contraction tree of diagram {diagram.key} [{net.representation}]\n"
                 f"{plan.cost:.3g} FLOPs in total, largest intermediate {float(plan.max_size):.3g} entries",
                 fontsize=12)
    ax.text(0.0, -0.02, "blue: input tensors, numbered as in the path column of 'shinnet paths'; "
            "red: pairwise contractions #step (path order) with their FLOPs and result size;\n"
            "line width ~ log2(entries passed up); the root (top) is the diagram's value",
            transform=ax.transAxes, fontsize=9, va="top", color="0.25")
    ax.set_ylabel("contraction depth (0 = inputs)")
    ax.set_xticks([])
    ax.set_ylim(-0.9, height + 0.6)
    ax.set_xlim(-0.8, max(n_in - 0.2, 1.0))
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    fig.savefig(file, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)


def _plot_network(plan: Any, diagram: Any, file: Path) -> None:
    import matplotlib.pyplot as plt  # heavy optional dependency, only for drawings
    import quimb.tensor as qtn  # heavy optional dependency, only for drawings

    net = plan.network
    tags = [f"{i}: {source_label(src)}" for i, src in enumerate(net.sources)]
    kinds = [source_label(src) for src in net.sources]
    tensors = [qtn.Tensor(np.zeros([min(net.size_dict[x], 2) for x in ix]), inds=ix, tags={tag, kind})
               for ix, tag, kind in zip(net.inputs, tags, kinds)]
    fig = qtn.TensorNetwork(tensors).draw(color=sorted(set(kinds)), show_inds="all", show_tags=False,
                                          return_fig=True, figsize=(8, 8), font_size=11, node_size=None,
                                          title=f"tensor network of diagram {diagram.key} [{net.representation}]")
    fig.text(0.02, 0.01, "nodes: input tensors (colour = source); lines: shared indices; "
             f"h* indices run over the m = {_size(net, 'h')} hidden units, e* over the d = {_size(net, 'e')} inputs",
             fontsize=10, color="0.25")
    fig.savefig(file, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)


def _size(net: Any, prefix: str) -> str:
    sizes = {v for k, v in net.size_dict.items() if k.startswith(prefix)}
    return str(sizes.pop()) if len(sizes) == 1 else "-"


def plot_plan(plan: Any, diagram: Any, folder: Path, i: int) -> list[Path]:
    """Write ``<i>_tree.png`` (when there is more than one input) and ``<i>_network.png`` to
    ``folder``; returns the paths written."""
    import matplotlib  # heavy optional dependency, only for drawings

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if len(plan.network.inputs) > 1:
        written.append(folder / f"{i:04d}_tree.png")
        _plot_tree(plan, diagram, written[-1])
    written.append(folder / f"{i:04d}_network.png")
    _plot_network(plan, diagram, written[-1])
    return written
