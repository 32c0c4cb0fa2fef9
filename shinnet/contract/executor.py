"""Diagram sums on an executor: anything with ``submit`` (MATH.md sections 3-4, 8).

A cumulant is a sum of independent contractions, so the contractions can run anywhere: a
``concurrent.futures`` thread or process pool, or a ``dask.distributed.Client`` (one machine or
a multi-node cluster; see docs/contract.md).  The main process keeps everything that decides
*what* is computed (enumeration, bounds, pruning, representation choice, path search), so the
answer does not depend on the executor:

1. the planned diagrams are sorted by contraction shape (indices, sizes, output:
   :func:`shinnet.contract.batched.structure_key`) and packed, in that fixed order, into tasks of
   at least ``task_seconds`` of estimated work (planned cost at ``flops_per_second`` plus
   ``overhead_seconds`` per diagram); inside a task, equal shapes are contracted as one batched
   network (``batched=True``, :mod:`shinnet.contract.batched`);
2. each task carries its contraction trees and only the arrays it needs (with a dask Client the
   arrays are scattered once per wave and tasks receive futures);
3. the values are gathered by diagram index and the engine sums them in its own fixed order, so
   the result equals the serial run to rounding whatever order the tasks finish in.

With ``batched=False`` the worker runs exactly the serial code path (``tree.contract(arrays,
backend=...)``), on arrays converted by the same backend converter.  Cost: the contractions,
plus pickling trees (~1 kB each) and shipping arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Sequence

import cotengra as ctg
import numpy as np

from shinnet.contract.backends import converter, default_device, to_numpy
from shinnet.contract.batched import contract_jobs, structure_key

__all__ = ["InlineExecutor", "DiagramExecutor", "as_diagram_executor", "group_tasks", "run_task", "PlanRunner"]


class _Done:
    """A finished future."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        return self._value


class InlineExecutor:
    """Runs each submitted task at once in this process: the serial engine with tasks, i.e.
    batched contraction without any parallelism (``DiagramExecutor(InlineExecutor(),
    task_seconds=inf)`` batches every group of equal-shape networks)."""

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> _Done:
        return _Done(fn(*args, **kwargs))


@dataclass(frozen=True)
class DiagramExecutor:
    """An executor with the task-sizing rule used to distribute diagram contractions.

    Parameters
    ----------
    executor : object with ``submit(fn, *args)``
        ``concurrent.futures.Executor``, ``dask.distributed.Client``, or anything whose
        ``submit`` returns a future with ``result()``.
    task_seconds : float
        Smallest estimated work per task (default 0.1 s); 0 makes one task per diagram.
    flops_per_second : float
        Assumed contraction throughput for the estimate (default 1e9, numpy on one core).
    overhead_seconds : float
        Assumed fixed cost per diagram inside a task (default 3e-4 s: tree dispatch, einsum setup).
    wave_seconds : float
        Estimated work submitted at once when values are needed in order
        (``tol_mode="relative"``); default 4 s.
    batched : bool
        Inside a task, contract networks of equal shape as one batched network
        (:mod:`shinnet.contract.batched`; equal to separate contractions to rounding).
    """

    executor: Any
    task_seconds: float = 0.1
    flops_per_second: float = 1e9
    overhead_seconds: float = 3e-4
    wave_seconds: float = 4.0
    batched: bool = True

    def __post_init__(self) -> None:
        if not callable(getattr(self.executor, "submit", None)):
            raise TypeError(f"executor must have a submit method, got {type(self.executor).__name__}")
        for name in ("task_seconds", "flops_per_second", "overhead_seconds", "wave_seconds"):
            value = float(getattr(self, name))
            if np.isnan(value) or value < 0 or (name == "flops_per_second" and not 0 < value < np.inf):
                raise ValueError(f"{name} must be a number >= 0 (inf allowed; flops_per_second finite and > 0), "
                                 f"got {value!r}")

    def seconds(self, flops: float) -> float:
        """Estimated seconds to contract one diagram of ``flops`` FLOPs."""
        return float(flops) / self.flops_per_second + self.overhead_seconds


def as_diagram_executor(executor: Any) -> DiagramExecutor | None:
    """None, a :class:`DiagramExecutor`, or a raw executor (wrapped with the default sizing)."""
    if executor is None or isinstance(executor, DiagramExecutor):
        return executor
    return DiagramExecutor(executor)


def group_tasks(signatures: Sequence[str], seconds: Sequence[float], task_seconds: float) -> list[list[int]]:
    """Pack items into tasks of at least ``task_seconds`` estimated seconds, grouped by shape.

    Items are sorted by (signature, position) and cut into consecutive runs whose summed
    ``seconds`` reach ``task_seconds`` (the last task may be smaller).  Deterministic.

    Returns
    -------
    list of list of int
        Positions into ``signatures``, one list per task.
    """
    if len(signatures) != len(seconds):
        raise ValueError("signatures and seconds must have the same length")
    order = sorted(range(len(signatures)), key=lambda i: (signatures[i], i))
    tasks: list[list[int]] = []
    current: list[int] = []
    acc = 0.0
    for i in order:
        current.append(i)
        acc += float(seconds[i])
        if acc >= task_seconds:
            tasks.append(current)
            current, acc = [], 0.0
    if current:
        tasks.append(current)
    return tasks


def run_task(jobs: Sequence[tuple[Any, tuple, tuple, tuple, dict]], arrays: dict, backend: str, dtype: str,
             device: str | None, batched: bool = False) -> list[np.ndarray]:
    """Worker side: contract each job ``(tree, sources, inputs, output, size_dict)`` on ``arrays``
    (``batched``: networks of equal shape as one, :func:`shinnet.contract.batched.contract_jobs`).

    ``arrays`` maps a source to its float64 numpy array; it is converted with the backend's
    converter (as :class:`shinnet.contract.backends.ArrayProvider` does).  ``tree`` is None for
    a one-input network (its indices are summed out).  Returns one float64 array per job.
    """
    convert = converter(backend)
    if device is None:  # the worker's own default (e.g. its GPU), not the client's
        device = default_device(backend)
    local = {s: convert(a, dtype, device) for s, a in arrays.items()}
    if batched:
        return contract_jobs(jobs, local, backend)
    out = []
    for tree, sources, inputs, output, _ in jobs:
        args = [local[s] for s in sources]
        if tree is None:
            raw = ctg.array_contract(args, inputs, output)
        else:
            raw = tree.contract(args, backend=backend)
        out.append(np.atleast_1d(to_numpy(raw)))
    return out


def _shape(plan: Any) -> str:
    """The contraction shape used to group tasks: networks with equal shapes share a tree and
    are batched together inside a task."""
    net = plan.network
    return structure_key(net.inputs, net.output, net.size_dict)


class PlanRunner:
    """Evaluates planned contractions on a :class:`DiagramExecutor`, in waves.

    Parameters
    ----------
    executor : DiagramExecutor
    numpy_source : callable
        ``source -> float64 numpy array`` (e.g. ``ArrayProvider._numpy`` through its cache).
    backend, dtype : str
        The worker-side array backend.
    device : str or None
        None: each worker uses the backend's default device there (torch: its GPU if any).

    Notes
    -----
    ``values(items)`` takes ``(key, plan)`` pairs, where ``plan`` has ``network`` (with
    ``sources``, ``inputs``, ``output``), ``tree``, ``cost`` and ``signature``; it returns
    ``key -> value`` for all of them.  Cost: the contractions, plus shipping each task's arrays
    (once per wave to every worker that needs them with a dask Client).
    """

    def __init__(self, executor: DiagramExecutor, numpy_source: Callable[[Hashable], np.ndarray], backend: str,
                 dtype: str, device: str | None) -> None:
        self.executor = executor
        self.numpy_source = numpy_source
        self.backend, self.dtype, self.device = backend, dtype, device
        self.n_tasks = 0
        self.n_waves = 0

    def wave(self, keys: Sequence[Hashable], skip: Callable[[Hashable], bool] | None,
             plan_of: Callable[[Hashable], Any], wave_seconds: float) -> dict[Hashable, tuple[Any, np.ndarray]]:
        """Plan ``keys`` in order (leaving out those ``skip`` rejects) until ``wave_seconds`` of
        estimated work is collected (at least one), evaluate them, return ``key -> (plan, value)``.

        Plans are made in the caller's order, as the serial loop makes them, so planner state
        (e.g. which dense tensors are already paid for) evolves identically when nothing is
        skipped later; under ``tol_mode="relative"`` a wave may plan and evaluate diagrams that
        the cut then drops (their work is wasted, never summed).
        """
        items: list[tuple[Hashable, Any]] = []
        acc = 0.0
        for key in keys:
            if skip is not None and skip(key):
                continue
            plan = plan_of(key)
            items.append((key, plan))
            acc += self.executor.seconds(plan.cost)
            if acc >= wave_seconds:
                break
        plans = dict(items)
        return {key: (plans[key], value) for key, value in self.values(items).items()}

    def values(self, items: Iterable[tuple[Hashable, Any]]) -> dict[Hashable, np.ndarray]:
        items = list(items)
        if not items:
            return {}
        ex = self.executor
        tasks = group_tasks([_shape(p) for _, p in items], [ex.seconds(p.cost) for _, p in items], ex.task_seconds)
        needed = sorted({s for _, p in items for s in p.network.sources}, key=repr)
        arrays = {s: np.asarray(self.numpy_source(s), dtype=np.float64) for s in needed}
        client = ex.executor
        if callable(getattr(client, "scatter", None)) and callable(getattr(client, "gather", None)):
            futs = client.scatter([arrays[s] for s in needed], hash=False)
            shipped: dict = dict(zip(needed, futs))
        else:
            shipped = arrays
        futures = []
        for task in tasks:
            jobs = []
            for pos in task:
                plan = items[pos][1]
                net = plan.network
                tree = plan.tree if len(net.sources) > 1 else None
                jobs.append((tree, tuple(net.sources), tuple(net.inputs), tuple(net.output), dict(net.size_dict)))
            task_arrays = {s: shipped[s] for s in {s for pos in task for s in items[pos][1].network.sources}}
            futures.append(client.submit(run_task, jobs, task_arrays, self.backend, self.dtype, self.device,
                                         ex.batched))
        self.n_tasks += len(tasks)
        self.n_waves += 1
        out: dict[Hashable, np.ndarray] = {}
        for task, fut in zip(tasks, futures):  # gathered by index: completion order is irrelevant
            for pos, value in zip(task, fut.result()):
                out[items[pos][0]] = value
        return out
