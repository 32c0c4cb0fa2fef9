"""Time the diagram generator: cold (fresh cache), from the disk cache, and from the memo.

For each order n = 2..N and max degree K = 1..K_max it reports the number of connected
diagrams with degrees in [1, K] and the time of ``shinnet.enumerate.diagrams(n, K)``:

- cold: built from scratch into an empty cache directory (sum of the per-top tables' build
  times, each table measured once: ``diagrams(n, K)`` builds exactly the tables top = 1..K);
- disk: in-process memo cleared, every table read back from the checksummed cache files;
- memo: a repeated call in the same process.

A row stops when the next table's predicted build time (previous table time times the last
growth ratio) would overrun the time limit.  Prints a markdown table.

With ``--moebius N,E [N,E ...]`` it instead times the Moebius block tables of the resummed
expansion (``shinnet.enumerate.moebius_table(N, E)``, MATH.md section 8), each case in a fresh
cache directory and with every in-process memo (``moebius_terms`` included) cleared:

- resummed cold: building the resummed diagram tables it needs (reported separately);
- Moebius cold: building and writing the Moebius tables from the (memoised) diagram tables;
- disk: both tables read back from the checksummed files by a fresh interpreter;
- memo: a repeated call in the same process.

Usage::

    python benchmarks/bench_enumerate.py [--max-order 8] [--max-degree 8] [--time-limit 600]
    python benchmarks/bench_enumerate.py --moebius 4,6 5,5 6,6 6,8
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import shinnet.enumerate as E
from shinnet.enumerate import blocks, tables


def _clear_all() -> None:
    E.clear_memo()
    E.clear_moebius_memo()
    blocks._moebius_terms.cache_clear()


def _load_in_fresh_process(n: int, e: int, cache_dir: str) -> float:
    """Seconds of ``moebius_table(n, e)`` from disk in a new interpreter (imports excluded).

    A fresh process is the real use; loading in the process that just built the tables is
    dominated by garbage collections over its large heap (measured 8 s against 1 s at
    n = 6, E <= 10)."""
    code = ("import time, shinnet.enumerate as E; t = time.perf_counter(); "
            f"E.moebius_table({n}, {e}, cache_dir={cache_dir!r}); print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def bench_moebius(cases: list[tuple[int, int]]) -> None:
    """Time cold / disk / memo of ``moebius_table(n, E)`` per case; print a markdown table."""
    rows = []
    for n, e in cases:
        with tempfile.TemporaryDirectory(prefix="shinnet-bench-moebius-") as cache_dir:
            _clear_all()
            t0 = time.perf_counter()
            diagrams = E.resummed_diagrams(n, e, cache_dir=cache_dir)
            resummed = time.perf_counter() - t0
            t0 = time.perf_counter()
            table = E.moebius_table(n, e, cache_dir=cache_dir)
            cold = time.perf_counter() - t0
            n_terms = sum(len(t) for t in table.values())
            n_quotients = len({q for t in table.values() for q, _ in t})
            disk = _load_in_fresh_process(n, e, cache_dir)
            t0 = time.perf_counter()
            E.moebius_table(n, e, cache_dir=cache_dir)
            memo = time.perf_counter() - t0
        rows.append((n, e, len(diagrams), n_terms, n_quotients, resummed, cold, disk, memo))
        print(f"n={n} E<={e}: {len(diagrams)} classes, {n_terms} terms, {n_quotients} quotients; "
              f"resummed cold {resummed:.2f} s, Moebius cold {cold:.2f} s, disk {disk * 1e3:.1f} ms, "
              f"memo {memo * 1e6:.0f} us", flush=True)
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print()
    print("| n | E <= | classes | terms | distinct quotients | resummed cold (s) | Moebius cold (s) "
          "| from disk (ms) | memo (us) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, e, nd, nt, nq, res, cold, disk, memo in rows:
        print(f"| {n} | {e} | {nd} | {nt} | {nq} | {res:.2f} | {cold:.2f} | {disk * 1e3:.1f} "
              f"| {memo * 1e6:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-order", type=int, default=8)
    parser.add_argument("--max-degree", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=600.0, help="total seconds for cold builds")
    parser.add_argument("--moebius", nargs="+", metavar="N,E", default=None,
                        help="time the Moebius block tables of these (order, max_edges) instead")
    args = parser.parse_args()
    if args.moebius:
        bench_moebius([tuple(int(x) for x in case.split(",")) for case in args.moebius])
        return

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="shinnet-bench-enum-") as cache_dir:
        key = str(cache_dir)
        for n in range(2, args.max_order + 1):
            cold_total = 0.0
            last, ratio = None, None
            for k in range(1, args.max_degree + 1):
                remaining = args.time_limit - (time.perf_counter() - start)
                if last is not None and ratio is not None and last * ratio > remaining:
                    rows.append((n, k, None, None, None, None))
                    break
                E.clear_memo()
                t0 = time.perf_counter()
                tables._table(n, k, key)  # the table of largest degree exactly k
                built = time.perf_counter() - t0
                cold_total += built
                if last is not None and last > 1e-3:
                    ratio = max(built / last, 1.0)
                last = built
                E.clear_memo()
                t0 = time.perf_counter()
                listed = E.diagrams(n, k, cache_dir=cache_dir)
                disk = time.perf_counter() - t0
                t0 = time.perf_counter()
                E.diagrams(n, k, cache_dir=cache_dir)
                memo = time.perf_counter() - t0
                rows.append((n, k, len(listed), cold_total, disk, memo))
                print(f"n={n} K={k}: {len(listed)} diagrams, cold {cold_total:.3f} s, "
                      f"disk {disk * 1e3:.1f} ms, memo {memo * 1e6:.0f} us", flush=True)
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f} at the end; total {time.perf_counter() - start:.0f} s")
    print()
    print("| n | K | diagrams | cold (s) | from disk (ms) | memo (us) |")
    print("|---|---|---:|---:|---:|---:|")
    for n, k, count, cold, disk, memo in rows:
        if count is None:
            print(f"| {n} | {k} | (skipped: over the time limit) | | | |")
        else:
            print(f"| {n} | {k} | {count} | {cold:.3f} | {disk * 1e3:.1f} | {memo * 1e6:.0f} |")


if __name__ == "__main__":
    main()
