"""Per-diagram cost of batched contraction against one contraction per diagram, in one run.

Two measurements on the same diagrams (seconds per diagram, best of ``--repeats``):

1. contraction dispatch alone: the planned jobs of a whole ``cumulants`` call (captured from the
   executor seam) contracted one tree call per diagram (today's engine loop) against
   :func:`shinnet.contract.batched.contract_jobs` (equal-shape networks as one batched network),
   once including the compile of each group and once with groups compiled beforehand (the
   case of many evaluations of one diagram set: nodes, second layers, repeated calls);
2. end to end: ``shinnet.cumulants`` (warm path cache) serial against
   ``executor=DiagramExecutor(InlineExecutor(), task_seconds=inf)`` (batched, in process).

With small m the contraction FLOPs are negligible, so (1) is the per-diagram overhead.

    python benchmarks/bench_batched.py --d 16 --m 8 --order 5 --max-edges 8
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import shinnet
from shinnet.contract import PathCache
from shinnet.contract.batched import compile_jobs, contract_jobs, structure_key
from shinnet.contract.executor import DiagramExecutor, InlineExecutor, run_task


class _Capture:
    """Executor that records the tasks it is given (and runs them, unbatched)."""

    def __init__(self) -> None:
        self.tasks: list = []

    def submit(self, fn, *args):
        self.tasks.append(args)
        return InlineExecutor().submit(fn, *args)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(d: int, m: int, order: int, max_edges: int, max_degree: int, repeats: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.3 * rng.standard_normal(m),
                                a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    cases = [("resummed hidden", dict(expansion="resummed", max_edges=max_edges, representation="hidden")),
             ("degree gram", dict(max_degree=max_degree, representation="gram"))]
    for name, kw in cases:
        cache = PathCache()
        cap = _Capture()
        ref = shinnet.cumulants(model, order, cache=cache, warn=False,
                                executor=DiagramExecutor(cap, task_seconds=np.inf, batched=False), **kw)
        jobs, arrays = [], {}
        for task_jobs, task_arrays, backend, dtype, device, _ in cap.tasks:  # one wave per cumulant order
            jobs += list(task_jobs)
            arrays.update(task_arrays)
        n = len(jobs)
        local = {s: np.asarray(a, dtype=np.float64) for s, a in arrays.items()}
        loop = _best(lambda: run_task(jobs, local, backend, dtype, device, False), repeats)
        batched = _best(lambda: contract_jobs(jobs, local, backend), repeats)
        compiled = compile_jobs(jobs, backend)
        warm = _best(lambda: contract_jobs(jobs, local, backend, compiled), repeats)
        a = run_task(jobs, local, backend, dtype, device, False)
        b = contract_jobs(jobs, local, backend)
        err = max(float(np.max(np.abs(x - y))) / max(float(np.max(np.abs(x))), 1e-300) for x, y in zip(a, b))
        groups = len({structure_key(j[2], j[3], j[4]) for j in jobs})
        serial_e2e = _best(lambda: shinnet.cumulants(model, order, cache=cache, warn=False, **kw), repeats)
        batched_e2e = _best(lambda: shinnet.cumulants(
            model, order, cache=cache, warn=False,
            executor=DiagramExecutor(InlineExecutor(), task_seconds=np.inf), **kw), repeats)
        print(f"{name}: d={d} m={m} order={order} {n} networks in {groups} shapes; "
              f"flops={ref.flops:.3g}; max rel diff batched vs loop {err:.1e}")
        print(f"  contraction dispatch per diagram: loop {1e6 * loop / n:8.1f} us   batched {1e6 * batched / n:8.1f} us"
              f" ({loop / batched:.1f}x)   batched, compiled once {1e6 * warm / n:8.1f} us ({loop / warm:.1f}x)")
        print(f"  end to end per diagram (warm paths): serial {1e6 * serial_e2e / n:8.1f} us   "
              f"batched {1e6 * batched_e2e / n:8.1f} us   ({serial_e2e / batched_e2e:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=8)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--max-edges", type=int, default=8)
    ap.add_argument("--max-degree", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(args.d, args.m, args.order, args.max_edges, args.max_degree, args.repeats, args.seed)


if __name__ == "__main__":
    main()
