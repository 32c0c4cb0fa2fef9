"""Contraction paths: found by cotengra, cached per canonical diagram shape and sizes.

One path per ``network_signature`` (canonical diagram key + vertex keys + representation +
index sizes).  The cache lives on a :class:`PathCache` object (never a module global) and can
be mirrored on disk as JSON (the path as a list of index pairs: cotengra trees are rebuilt from
it with ``ContractionTree.from_path``; nothing is pickled).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cotengra as ctg
from cotengra.pathfinders.path_basic import RandomGreedyOptimizer

from shinnet.contract.network import Network
from shinnet.contract.representation_registry import lookup_representation

__all__ = ["PathCache", "default_optimizer"]


def default_optimizer(representation: str = "factored", seed: int = 0) -> Any:
    """The default path finder per representation, by its record's ``search`` property (measured on the diagrams of kappa_3, kappa_4
    at K = 6, and of kappa_4 at K = 5, d = 32; see docs/contract.md):

    - ``dense`` (n inputs, no hyperindices): cotengra ``"auto"`` (exact; ~1 ms);
    - ``gram`` (hidden-unit space): ``"greedy"`` (within 1% of exact there; ~0.5 ms, where
      exact search costs ~30 ms);
    - ``factored`` / ``mixed`` (one U copy per leg, many inputs): cotengra's seeded
      ``RandomGreedyOptimizer`` (8 repeats, no process pool; ~4 ms per diagram).  Seeded, so the
      same network gets the same tree in every process (the earlier hyper-search drew from an
      unseeded generator: which big diagrams fitted the memory limit changed from run to run);
      and at equal search time its trees were 5.7x cheaper in total on the 40 largest
      kappa_4, K = 5, d = 32 factored networks (5.8e11 against 3.3e12 FLOPs).

    A fresh object is returned each time (the random-greedy optimiser keeps its best tree across
    calls, so one instance must not be shared between different networks).
    """
    search = lookup_representation(representation).search
    if search == "exact":
        return "auto"
    if search == "greedy":
        return "greedy"
    return RandomGreedyOptimizer(max_repeats=8, seed=int(seed), parallel=False)


class PathCache:
    """Memory (and optional JSON on disk) cache of contraction trees.

    Parameters
    ----------
    path : str or Path, optional
        A JSON file to read existing paths from and to write new ones to (on :meth:`save`).
    optimize : str or cotengra optimiser, optional
        A preset name or a *stateless* optimiser (cotengra's hyper and random-greedy optimisers
        keep their best tree across calls: pass a preset string, or leave the default).  Passed
        to ``cotengra.array_contract_tree``.  Default: :func:`default_optimizer` per
        representation (deterministic).

    Attributes
    ----------
    search_time : float
        Seconds spent in path searches (cache misses) so far.
    hits, misses : int
    """

    def __init__(self, path: str | os.PathLike | None = None, optimize: Any = None) -> None:
        self.file = Path(path) if path is not None else None
        self.optimize = optimize
        self._trees: dict[str, ctg.ContractionTree] = {}
        self._paths: dict[str, list[list[int]]] = {}
        self._dirty = False
        self.search_time = 0.0
        self.hits = 0
        self.misses = 0
        if self.file is not None and self.file.exists():
            try:
                data = json.loads(self.file.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"path cache {self.file} is not valid JSON: {exc}") from None
            if not isinstance(data, dict) or data.get("format") != "shinnet-paths-1":
                raise ValueError(f"path cache {self.file} is not a shinnet path cache (format shinnet-paths-1)")
            self._paths = {k: [list(map(int, p)) for p in v] for k, v in data["paths"].items()}

    def __len__(self) -> int:
        return len(self._trees) + sum(1 for k in self._paths if k not in self._trees)

    def tree(self, signature: str, network: Network) -> ctg.ContractionTree:
        """The contraction tree for ``network`` (searched once per signature)."""
        tree = self._trees.get(signature)
        if tree is not None:
            self.hits += 1
            return tree
        stored = self._paths.get(signature)
        t0 = time.perf_counter()
        if stored is not None:
            # through array_contract_tree (same index canonicalisation as a search): trees built
            # with ContractionTree.from_path on raw labels share cotengra's contractor cache
            # with canonically labelled ones and can be handed the wrong contractor
            tree = ctg.array_contract_tree(
                network.inputs, network.output, size_dict=network.size_dict, optimize=[tuple(p) for p in stored]
            )
            self.hits += 1
        else:
            tree = self._search(network)
            self._paths[signature] = [list(map(int, p)) for p in tree.get_path()]
            self._dirty = True
            self.misses += 1
        self.search_time += time.perf_counter() - t0
        self._trees[signature] = tree
        return tree

    def _search(self, network: Network) -> ctg.ContractionTree:
        opt = self.optimize
        if opt is None:
            opt = default_optimizer(network.representation)
        return ctg.array_contract_tree(network.inputs, network.output, size_dict=network.size_dict, optimize=opt)

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write all known paths as JSON to ``path`` (default: the file given at construction).
        Returns the file written, or None when there is nowhere to write."""
        target = Path(path) if path is not None else self.file
        if target is None:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": "shinnet-paths-1", "paths": self._paths}
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, sort_keys=True))
        tmp.replace(target)
        self._dirty = False
        return target

    def flush(self) -> None:
        """Save to the construction file if anything new was found."""
        if self._dirty and self.file is not None:
            self.save()
