"""Batched contraction of networks that share a contraction tree (MATH.md sections 4, 8).

Many diagrams have the same network *shape* with different inputs: in hidden-unit (``gram``)
form a diagram is one weight vector per vertex and one Gram power per edge, so every multigraph
on the same skeleton (any edge multiplicities, any vertex degrees or powers ``p_v``) gives the
same indices and sizes; only which ``lambda_k`` / ``kap_{p,k}`` and which Hadamard power feed
each input differ.  Such a group is contracted as ONE network: inputs that differ between
members are stacked along a new leading batch index ``Z`` (inputs shared by all members are
passed once), ``Z`` is the output, and the members' common cotengra path is reused (it stays
valid: ``Z`` only rides along every pairwise step).  One tree dispatch and one einsum chain per
group replace one per diagram, so the Python overhead per diagram falls by about the group size.

Cost: the same FLOPs as the members' separate contractions for every step that involves a
stacked input (times the group size), once for steps on shared inputs only; plus stacking the
differing inputs (a copy of each).
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import autoray
import cotengra as ctg
import numpy as np

from shinnet.contract.backends import to_numpy

__all__ = ["structure_key", "BatchedGroup", "contract_group", "compile_jobs", "contract_jobs", "BATCH_INDEX"]

#: label of the batch index added to stacked inputs (never produced by network builders)
BATCH_INDEX = "_zbatch"


def structure_key(inputs: Sequence[Sequence[str]], output: Sequence[str], size_dict: dict) -> str:
    """Networks with equal keys share a contraction tree (same indices, sizes and output)."""
    used = sorted({i for inp in inputs for i in inp} | set(output))
    return repr((tuple(map(tuple, inputs)), tuple(output), tuple((i, int(size_dict[i])) for i in used)))


class BatchedGroup:
    """A compiled batched contraction for jobs ``(tree, sources, inputs, output)`` that share
    inputs, output and sizes: build once (path reuse, cotengra expression), call many times.

    Parameters
    ----------
    jobs : sequence of (tree, sources, inputs, output)
        ``tree`` is the members' common contraction tree (None for a one-input network); its
        path is reused for the batched network.
    size_dict : dict
    backend : str

    Notes
    -----
    Calling it with ``arrays`` (source -> backend array) stacks the inputs that differ between
    members (in member order), contracts once, and returns one float64 array per member.
    """

    def __init__(self, jobs: Sequence[tuple[Any, tuple, tuple, tuple]], size_dict: dict, backend: str) -> None:
        tree0, sources0, inputs, output = jobs[0]
        if any(BATCH_INDEX in inp for inp in inputs) or BATCH_INDEX in output:
            raise ValueError(f"index {BATCH_INDEX!r} is reserved for batching")
        n_in = len(inputs)
        self.n = len(jobs)
        self.backend = backend
        self.columns = [tuple(job[1][t] for job in jobs) for t in range(n_in)]
        self.stacked = [any(s != col[0] for s in col) for col in self.columns]
        single = tree0 is None or n_in == 1
        path = None if single else [tuple(p) for p in tree0.get_path()]
        if not any(self.stacked):  # one member, or identical inputs: a plain contraction
            new_inputs, new_output, sizes = [tuple(i) for i in inputs], tuple(output), dict(size_dict)
        else:
            new_inputs = [((BATCH_INDEX,) if st else ()) + tuple(inp) for st, inp in zip(self.stacked, inputs)]
            new_output = (BATCH_INDEX,) + tuple(output)
            sizes = {**{k: int(v) for k, v in size_dict.items()}, BATCH_INDEX: self.n}
        self.expr = ctg.array_contract_expression(new_inputs, new_output, size_dict=sizes, optimize=path) \
            if not single else None
        self.plain = (new_inputs, new_output, sizes)

    def __call__(self, arrays: dict[Hashable, Any]) -> list[np.ndarray]:
        ops = [autoray.do("stack", [arrays[s] for s in col], like=self.backend) if st else arrays[col[0]]
               for st, col in zip(self.stacked, self.columns)]
        if self.expr is None:
            inputs, output, sizes = self.plain
            raw = ctg.array_contract(ops, inputs, output, size_dict=sizes, backend=self.backend)
        else:
            raw = self.expr(*ops, backend=self.backend)
        out = to_numpy(raw)
        if not any(self.stacked):
            value = np.atleast_1d(out)
            return [value.copy() for _ in range(self.n)]
        return [np.atleast_1d(out[b]) for b in range(self.n)]


def contract_group(jobs: Sequence[tuple[Any, tuple, tuple, tuple]], arrays: dict[Hashable, Any],
                   size_dict: dict, backend: str) -> list[np.ndarray]:
    """Contract jobs that share inputs/output/sizes as one batched network (:class:`BatchedGroup`
    built and called once); one float64 array (shape ``output``) per job, in order."""
    return BatchedGroup(jobs, size_dict, backend)(arrays)


def compile_jobs(jobs: Sequence[tuple[Any, tuple, tuple, tuple, dict]],
                 backend: str) -> list[tuple[list[int], BatchedGroup]]:
    """Group jobs ``(tree, sources, inputs, output, size_dict)`` by :func:`structure_key` (in
    order of first appearance) and compile each group: ``[(positions, BatchedGroup), ...]``."""
    groups: dict[str, list[int]] = {}
    for pos, job in enumerate(jobs):
        groups.setdefault(structure_key(job[2], job[3], job[4]), []).append(pos)
    return [(members, BatchedGroup([jobs[p][:4] for p in members], jobs[members[0]][4], backend))
            for members in groups.values()]


def contract_jobs(jobs: Sequence[tuple[Any, tuple, tuple, tuple, dict]], arrays: dict[Hashable, Any],
                  backend: str, compiled: Sequence[tuple[list[int], BatchedGroup]] | None = None) -> list[np.ndarray]:
    """Contract jobs ``(tree, sources, inputs, output, size_dict)``, batching those with equal
    :func:`structure_key`; one array per job, in order.  ``compiled``: the result of
    :func:`compile_jobs` for these jobs (reused across calls with new arrays)."""
    groups = compile_jobs(jobs, backend) if compiled is None else compiled
    out: list[np.ndarray | None] = [None] * len(jobs)
    for members, group in groups:
        for p, v in zip(members, group(arrays)):
            out[p] = v
    return out  # type: ignore[return-value]
