"""Connected Wick diagrams with exact symmetry weights (MATH.md sections 3 and 8).

``Diagram`` is one isomorphism class of loopless multigraphs (canonical form and
automorphism group from nauty); ``diagrams(order, max_degree)`` lists the connected ones that
make up ``kappa_n``; ``resummed_diagrams(order, max_edges)`` lists the power-coloured classes
(G, p) of the resummed expansion (section 8) and ``moebius_table(order, max_edges)`` their
Moebius block decompositions.  Tables are cached on disk
(``SHINNET_CACHE_DIR``).  See docs/enumerate.md.
"""

from __future__ import annotations

from shinnet.enumerate.blocks_cache import clear_moebius_memo, moebius_table
from shinnet.enumerate.cache import default_cache_dir
from shinnet.enumerate.diagram import Diagram
from shinnet.enumerate.generate import connected_multigraphs, degree_sequences
from shinnet.enumerate.resummed import ResummedDiagram, resummed_diagrams
from shinnet.enumerate.tables import clear_memo, count_table, diagrams

__all__ = [
    "Diagram",
    "diagrams",
    "count_table",
    "ResummedDiagram",
    "resummed_diagrams",
    "moebius_table",
    "clear_moebius_memo",
    "degree_sequences",
    "connected_multigraphs",
    "clear_memo",
    "default_cache_dir",
]
