"""Serial against a dask.distributed LocalCluster of 1 and 2 worker processes, in one run.

Same model, same diagrams, same warm path cache; wall seconds of ``shinnet.cumulants`` (cluster
start-up excluded) and the largest relative difference from the serial kappa_n.  BLAS is pinned
to one thread per process (set before numpy loads) so the serial run and each worker use one
core.

    python benchmarks/bench_executor.py --d 16 --m 512 --order 4 --max-degree 5
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import shinnet  # noqa: E402
from shinnet.contract import PathCache  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=512)
    ap.add_argument("--order", type=int, default=4)
    ap.add_argument("--max-degree", type=int, default=5)
    ap.add_argument("--representation", default="auto")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from dask.distributed import Client, LocalCluster

    rng = np.random.default_rng(args.seed)
    d, m = args.d, args.m
    model = shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.3 * rng.standard_normal(m),
                                a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    kw = dict(representation=args.representation, warn=False)
    cache = PathCache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shinnet.cumulants(model, args.order, args.max_degree, cache=cache, **kw)  # warm paths
        t0 = time.perf_counter()
        serial = shinnet.cumulants(model, args.order, args.max_degree, cache=cache, **kw)
        t_serial = time.perf_counter() - t0
    print(f"d={d} m={m} (N, K)=({args.order}, {args.max_degree}): {serial.n_evaluated} diagrams, "
          f"{serial.flops:.3g} FLOPs")
    print(f"  serial               {t_serial:7.2f} s")
    for n_workers in args.workers:
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as client:
            client.run(lambda: os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
            t0 = time.perf_counter()
            par = shinnet.cumulants(model, args.order, args.max_degree, cache=cache, executor=client, **kw)
            t_par = time.perf_counter() - t0
        diff = max(abs(par.kappa[n] - serial.kappa[n]) / abs(serial.kappa[n]) for n in serial.kappa)
        print(f"  dask {n_workers} worker(s)      {t_par:7.2f} s   speed-up {t_serial / t_par:4.2f}x   "
              f"max rel diff {diff:.1e}")


if __name__ == "__main__":
    main()
