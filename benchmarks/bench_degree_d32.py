"""Degree expansion (MATH.md sections 3-4) at d = 32: what K = 5 costs, and its values where affordable.

The grid of ``benchmarks/bench_resummed.py`` (docs/benchmarks.md, "The resummed measurement grid")
reached only K = 4 (orders 2-4) and K = 3 (order 5) at d = 32: K = 5 and (order 5, K = 4) were
refused by the engine's 2 GiB ``memory_limit`` or ran past its 75 s child limit.  This script

1. **plans without contracting** (``--dry-run`` stops here): for each (d, m) and each setting
   (order N, degree K) in ``--settings`` it replays the engine's planning step exactly as
   :func:`shinnet.contract.engine.run_engine` does it (same ``PlanContext``: ``degree_of=int``,
   dense vertices available, float64, ``gram_max_m = 2048``, ``key_uses`` counted over the
   setting's diagrams, ``materialised`` accumulating in diagram order), once at the raised
   ``--memory-limit`` and once at the default 2 GiB, and reports per order n the planned
   contraction FLOPs (cotengra's ``contraction_cost``, what the engine charges), the largest
   input/intermediate in bytes, the representations chosen, the diagrams refused at 2 GiB (with
   the planner's reason) and the path-search time.  The plan depends on the sizes (d, m) only,
   not on the weights, so it is computed once per (d, m) and holds for the 4 models
   (relu/tanh x random/trained) that share them;
2. **contracts where affordable**: for each case and setting whose best-of-4 plan is below
   ``--max-flops``, runs one ``shinnet.cumulants(mlp, N, K, representation=rep, diagrams=group,
   memory_limit=...)`` per representation group of that plan (the dry run's trees, in a forked
   child with a wall-clock limit), and compares kappa_n with Monte Carlo as bench_resummed.py does
   (``monte_carlo(mlp, N_mc, seed=1)``, ``N_mc = min(5e5, 4e10 / flops_per_sample)`` rounded down
   to a multiple of 64, jackknife standard errors); ``--budget`` caps the engine seconds in total.

Run:  python benchmarks/bench_degree_d32.py --dry-run            # planning only (~1-2 min)
      python benchmarks/bench_degree_d32.py --cases d32-m1000-relu-random d32-m1000-tanh-random
Prints markdown tables (the ones in docs/benchmarks.md, "Degree expansion at d = 32").
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import resource
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any

import cotengra as ctg

import shinnet
from shinnet.contract import PathCache
from shinnet.contract.engine import resolve_diagrams
from shinnet.contract.network import REPRESENTATIONS, Network, vertex_keys
from shinnet.contract.representations import PlanContext, plan_diagram
from shinnet.zoo import random_mlp, trained_mlp

GIB = 2.0**30
ALL_CASES = [f"d32-m{m}-{a}-{k}" for m, a, k in itertools.product((1000, 4096), ("relu", "tanh"), ("random", "trained"))]
SETTINGS = ((4, 5), (5, 4), (5, 5))


def build(case: str) -> Any:
    """The models of bench_resummed.py (same constructors and seeds)."""
    d, m, act, kind = case.split("-")
    d_, m_ = int(d[1:]), int(m[1:])
    if kind == "random":
        return random_mlp(d_, m_, hidden=act, seed=0, bias_scale=0.3)
    return trained_mlp(d_, m_, "teacher", steps=300, seed=0, hidden=act, bias_scale=0.3, num_threads=1)


class TimedPathCache(PathCache):
    """A :class:`PathCache` that also records the search time of each signature (cache misses)
    and the set of signatures requested since the last :meth:`reset_touched`."""

    def __init__(self, repeats: int = 0) -> None:
        super().__init__()
        self.repeats = int(repeats)
        self.per_signature: dict[str, float] = {}
        self.touched: set[str] = set()

    def _search(self, network: Network) -> Any:
        """The engine's default search, or (``repeats > 0``) for U-copy networks a seeded
        random-greedy hyper-search with ``repeats`` trials instead of the default unseeded 4."""
        if self.repeats <= 0 or network.representation not in ("factored", "mixed"):
            return super()._search(network)
        opt = ctg.HyperOptimizer(methods=["greedy"], max_repeats=self.repeats, parallel=False, optlib="random",
                                 reconf_opts=None, optlib_opts={"seed": 0})
        return ctg.array_contract_tree(network.inputs, network.output, size_dict=network.size_dict, optimize=opt)

    def reset_touched(self) -> None:
        self.touched = set()

    def tree(self, signature: str, network: Network) -> Any:
        t0 = self.search_time
        out = super().tree(signature, network)
        if signature not in self.per_signature:
            self.per_signature[signature] = self.search_time - t0
        self.touched.add(signature)
        return out


@dataclass(frozen=True)
class DiagramPlan:
    """One diagram's plan: ``flops`` (cotengra cost; NaN when refused), ``max_bytes`` (largest
    input or intermediate), ``representation`` and ``refused`` (the planner's MemoryError text)."""

    order: int
    key: str
    flops: float
    max_bytes: float
    representation: str
    refused: str | None
    diagram: Any = None


def plan_setting(d: int, m: int, order: int, max_degree: int, memory_limit: float,
                 cache: TimedPathCache) -> list[DiagramPlan]:
    """Plan every diagram of orders 2..``order`` with degrees <= ``max_degree`` as ``run_engine``
    would (same PlanContext, same diagram order), without allocating any array.

    Unlike the engine, a refused diagram does not stop the loop: every refusal is recorded.
    Cost: one path search per new network signature (cached in ``cache``).
    """
    per_order = resolve_diagrams(order, max_degree, None, int)
    key_uses: dict[Any, int] = {}
    for dgs in per_order.values():
        for dg in dgs:
            for key in set(vertex_keys(dg)):
                key_uses[key] = key_uses.get(key, 0) + 1
    ctx = PlanContext(d=d, m=m, degree_of=int, has_dense=True, itemsize=8, memory_limit=float(memory_limit),
                      gram_max_m=2048, batch=None, cache=cache, key_uses=key_uses)
    out = []
    for n in range(2, order + 1):
        for dg in per_order[n]:
            try:
                plan = plan_diagram(dg, "auto", ctx)
            except MemoryError as exc:
                out.append(DiagramPlan(n, dg.key, float("nan"), float("nan"), "-", str(exc)))
                continue
            out.append(DiagramPlan(n, dg.key, plan.cost, 8.0 * plan.max_size, plan.network.representation, None, dg))
    return out


def best_representations(d: int, m: int, order: int, max_degree: int, memory_limit: float,
                         cache: TimedPathCache) -> list[DiagramPlan]:
    """Per diagram, the cheapest of *all four* representations (forced one at a time) whose
    largest tensor fits ``memory_limit``: what the engine could reach if ``auto`` also tried the
    U-copy ``factored`` and ``mixed`` networks when dense and gram fit (it skips them then, to
    save path-search time; see ``shinnet.contract.representations.candidate_representations``).
    Contraction FLOPs only (dense materialisation is advice, charged separately)."""
    per_order = resolve_diagrams(order, max_degree, None, int)
    ctx = PlanContext(d=d, m=m, degree_of=int, has_dense=True, itemsize=8, memory_limit=float(memory_limit),
                      gram_max_m=max(2048, m), batch=None, cache=cache)
    out = []
    for n in range(2, order + 1):
        for dg in per_order[n]:
            best: DiagramPlan | None = None
            why = []
            for rep in REPRESENTATIONS:
                try:
                    plan = plan_diagram(dg, rep, ctx)
                except MemoryError as exc:
                    why.append(str(exc)[-80:])
                    continue
                if best is None or plan.cost < best.flops:
                    best = DiagramPlan(n, dg.key, plan.cost, 8.0 * plan.max_size, rep, None, dg)
            out.append(best or DiagramPlan(n, dg.key, float("nan"), float("nan"), "-", "; ".join(why)))
    return out


def dry_run(d: int, m: int, settings: list[tuple[int, int]], memory_limit: float,
            with_best: bool = True, repeats: int = 32) -> dict[tuple[int, int], dict]:
    """Plans of every setting at ``memory_limit`` and at 2 GiB (engine ``auto``), and the best of
    the four representations per diagram at 2 GiB, with path-search times.

    The search time of a plan is what a fresh call would spend: the sum of the first-search
    times of the network signatures its planning touched (every candidate is searched).  For
    the best-of-4 plan, diagrams no representation fits in 2 GiB keep their ``auto`` plan at
    ``memory_limit`` (``best_total`` includes them).
    """
    cache = TimedPathCache()
    bcache = TimedPathCache(repeats)
    out = {}
    for order, K in settings:
        cache.reset_touched()
        t0 = time.perf_counter()
        big = plan_setting(d, m, order, K, memory_limit, cache)
        small = plan_setting(d, m, order, K, 2 * GIB, cache)
        wall = time.perf_counter() - t0
        search = sum(cache.per_signature[s] for s in cache.touched)
        bcache.reset_touched()
        t1 = time.perf_counter()
        best = best_representations(d, m, order, K, 2 * GIB, bcache) if with_best else []
        best_wall = time.perf_counter() - t1
        best_search = sum(bcache.per_signature[s] for s in bcache.touched)
        auto_by_key = {(r.order, r.key): r for r in big}
        best = [replace(auto_by_key[(r.order, r.key)], representation=auto_by_key[(r.order, r.key)].representation + ">2GiB")
                if r.refused else r for r in best]
        out[(order, K)] = {"big": big, "small": small, "search": search, "plan_wall": wall, "best": best,
                           "best_wall": best_wall, "best_search": best_search,
                           "best_total": sum(r.flops for r in best), "best_cache": bcache}
    return out


def fmt_bytes(b: float) -> str:
    return "-" if b != b else (f"{b / GIB:.3g} GiB" if b >= GIB / 10 else f"{b / 2**20:.3g} MiB")


def plan_tables(d: int, m: int, plans: dict[tuple[int, int], dict], memory_limit: float) -> list[str]:
    """Markdown: per setting and order n, FLOPs, largest tensor, representations, refusals."""
    lines = [f"#### plans at d = {d}, m = {m} (memory_limit {memory_limit / GIB:.0f} GiB; refusals at 2 GiB)", "",
             "| (N, K) | n | diagrams | planned FLOPs | largest tensor | representations | refused at 2 GiB | "
             "FLOPs / largest at 2 GiB (fitting diagrams) | best of 4 reps per diagram: FLOPs (reps; >2GiB: none fits 2 GiB, auto plan kept) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (order, K), p in plans.items():
        for n in range(2, order + 1):
            big = [r for r in p["big"] if r.order == n]
            small = [r for r in p["small"] if r.order == n]
            reps: dict[str, int] = {}
            for r in big:
                reps[r.representation] = reps.get(r.representation, 0) + 1
            refused = [r for r in small if r.refused]
            ok_small = [r.max_bytes for r in small if not r.refused]
            bst = [r for r in p["best"] if r.order == n]
            breps: dict[str, int] = {}
            for r in bst:
                breps[r.representation] = breps.get(r.representation, 0) + 1
            bcell = (f"{sum(r.flops for r in bst):.3g} ({', '.join(f'{k} {v}' for k, v in sorted(breps.items()))})"
                     if bst else "-")
            lines.append(
                f"| ({order}, {K}) | {n} | {len(big)} | {sum(r.flops for r in big):.3g} | "
                f"{fmt_bytes(max((r.max_bytes for r in big), default=float('nan')))} | "
                f"{', '.join(f'{k} {v}' for k, v in sorted(reps.items()))} | {len(refused)} | "
                f"{sum(r.flops for r in small if not r.refused):.3g} / {fmt_bytes(max(ok_small, default=float('nan')))} | "
                f"{bcell} |")
        total = sum(r.flops for r in p["big"])
        refused = [r for r in p["big"] if r.refused]
        lines.append(f"| ({order}, {K}) | all | {len(p['big'])} | **{total:.3g}** | "
                     f"{fmt_bytes(max(r.max_bytes for r in p['big']))} | search {p['search']:.1f} s "
                     f"(plan wall {p['plan_wall']:.1f} s, both limits) | {sum(1 for r in p['small'] if r.refused)} | "
                     f"{sum(r.flops for r in p['small'] if not r.refused):.3g} "
                     f"{'refused at raised limit: ' + str(len(refused)) if refused else ''} | "
                     + (f"**{p['best_total']:.3g}** (search {p['best_search']:.1f} s, plan wall {p['best_wall']:.1f} s) |"
                        if p["best"] else "- |"))
    lines.append("")
    examples = [r for p in plans.values() for r in p["small"] if r.refused]
    if examples:
        worst = max(examples, key=lambda r: r.order)
        lines += [f"Example refusal at 2 GiB (order {worst.order}): `{worst.refused[:400]}`", ""]
    return lines


def _engine(conn: Any, mlp: Any, order: int, K: int, groups: dict[str, list[Any]], cache: PathCache,
            memory_limit: float, mem_cap: float) -> None:
    """Child process: the degree expansion at (order, K) as one engine call per representation
    group (``shinnet.cumulants(..., representation=rep, diagrams=group)``; the groups partition the
    diagrams, so the kappa_n add up), with the dry run's path ``cache`` (inherited by the fork), so
    the contracted trees are the planned ones; sends back plain numbers or the error text."""
    from shinnet.contract import ConvergenceWarning

    try:
        if mem_cap > 0:  # address-space cap: a plan that under-reports memory fails, not the machine
            resource.setrlimit(resource.RLIMIT_AS, (int(mem_cap), int(mem_cap)))
        kappa = {n: 0.0 for n in range(2, order + 1)}
        flops, big, timings = 0.0, 0, {"path_search": 0.0, "contraction": 0.0}
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for rep, dgs in groups.items():
                res = shinnet.cumulants(mlp, order, K, representation=rep, diagrams=dgs, memory_limit=memory_limit,
                                        cache=cache, warn=False)
                for n in kappa:
                    kappa[n] += float(res.kappa[n])
                flops += float(res.flops)
                big = max([big] + [int(r.max_intermediate or 0) for r in res.diagrams])
                for k in timings:
                    timings[k] += float(res.timings[k])
        conn.send(("ok", {"wall": time.perf_counter() - t0, "flops": flops, "timings": timings,
                          "max_bytes": 8.0 * big, "kappa": kappa}))
    except MemoryError as exc:
        conn.send(("memory", str(exc)[:300]))
    except Exception as exc:  # reported in the table
        conn.send(("error", f"{type(exc).__name__}: {exc}"[:300]))
    finally:
        conn.close()


def timed_engine(mlp: Any, order: int, K: int, groups: dict[str, list[Any]], cache: PathCache, memory_limit: float,
                 mem_cap: float, limit: float) -> tuple[str, Any]:
    """:func:`_engine` in a forked child; ``("timeout", None)`` past ``limit`` seconds."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_engine, args=(send, mlp, order, K, groups, cache, memory_limit, mem_cap))
    proc.start()
    send.close()
    if recv.poll(limit):
        try:
            status, payload = recv.recv()
        except EOFError:  # killed (e.g. by the address-space cap) before sending
            status, payload = "died", f"exit code {proc.exitcode}"
        proc.join()
        return status, payload
    proc.terminate()
    proc.join()
    return "timeout", None


def representation_groups(best: list[DiagramPlan]) -> dict[str, list[Any]]:
    """Diagrams grouped by their best representation (the ``>2GiB`` mark dropped)."""
    groups: dict[str, list[Any]] = {}
    for r in best:
        groups.setdefault(r.representation.replace(">2GiB", ""), []).append(r.diagram)
    return groups


def monte_carlo_reference(mlp: Any) -> tuple[dict[int, float], dict[int, float], int]:
    """Monte Carlo kappa_n and jackknife standard errors exactly as bench_resummed.py."""
    n_mc = int(min(5e5, 4e10 / mlp.flops_per_sample()))
    n_mc -= n_mc % 64
    mc = shinnet.monte_carlo(mlp, n_mc, seed=1)
    return ({n: float(v) for n, v in mc.kappa.items()}, {n: float(v) for n, v in mc.details["kappa_stderr"].items()},
            n_mc)


def run_values(case: str, settings: list[tuple[int, int]], planned: dict[tuple[int, int], float],
               groups: dict[tuple[int, int], dict[str, list[Any]]], caches: dict[tuple[int, int], PathCache],
               max_flops: float, memory_limit: float, mem_cap: float, limit: float,
               deadline: float) -> list[dict[str, Any]]:
    """Engine runs for one case at the affordable settings (largest first); rows per (setting, n)."""
    mlp = build(case)
    t0 = time.perf_counter()
    kap, se, n_mc = monte_carlo_reference(mlp)
    t_mc = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    covered: set[tuple[int, int]] = set()  # (n, K) already computed
    for order, K in sorted(settings, key=lambda s: -planned[s]):
        base = {"case": case, "setting": (order, K), "planned": planned[(order, K)], "n_mc": n_mc, "t_mc": t_mc}
        if planned[(order, K)] > max_flops:
            rows.append({**base, "status": f"skipped: planned > {max_flops:.0e} FLOPs"})
            continue
        if all((n, K) in covered for n in range(2, order + 1)):
            continue
        if time.perf_counter() > deadline:
            rows.append({**base, "status": "skipped: compute budget spent"})
            continue
        status, payload = timed_engine(mlp, order, K, groups[(order, K)], caches[(order, K)], memory_limit, mem_cap, limit)
        if status != "ok":
            rows.append({**base, "status": f"{status}" + (f" ({payload})" if payload else f" (> {limit:.0f} s)")})
            continue
        for n in range(2, order + 1):
            covered.add((n, K))
        rows.append({**base, "status": "ok", **payload, "mc": kap, "se": se})
    return rows


def value_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| case | (N, K) | planned FLOPs | engine FLOPs | largest tensor | time (search / contraction) | "
             "GFLOP/s | kappa_n at K (n = 2..N) | z = (value - MC)/se, n = 2..N |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        order, K = r["setting"]
        if r["status"] != "ok":
            lines.append(f"| {r['case']} | ({order}, {K}) | {r['planned']:.3g} | - | - | {r['status']} | - | - | - |")
            continue
        tm = r["timings"]
        vals = [r["kappa"][n] for n in range(2, order + 1)]
        zs = [(v - r["mc"][n]) / r["se"][n] for n, v in zip(range(2, order + 1), vals)]
        rate = r["flops"] / max(tm["contraction"], 1e-9) / 1e9
        lines.append(
            f"| {r['case']} | ({order}, {K}) | {r['planned']:.3g} | {r['flops']:.3g} | {fmt_bytes(r['max_bytes'])} | "
            f"{r['wall']:.0f} s ({tm['path_search']:.1f} / {tm['contraction']:.0f}) | {rate:.1f} | "
            f"{' / '.join(f'{v:.5g}' for v in vals)} | {' / '.join(f'{z:+.1f}' for z in zs)} |")
    lines.append("")
    mc_lines = ["| case | MC samples | MC kappa_2..kappa_5 +- se |", "|---|---|---|"]
    seen = set()
    for r in rows:
        if r["status"] == "ok" and r["case"] not in seen:
            seen.add(r["case"])
            mc_lines.append(f"| {r['case']} | {r['n_mc']:,} | "
                            + " / ".join(f"{r['mc'][n]:.5g} +- {r['se'][n]:.2g}" for n in range(2, 6) if n in r["mc"])
                            + " |")
    return lines + mc_lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="*", default=ALL_CASES, help="case names d32-m{1000,4096}-{relu,tanh}-{random,trained}")
    ap.add_argument("--settings", nargs="*", default=[f"{n},{k}" for n, k in SETTINGS], help="N,K pairs")
    ap.add_argument("--dry-run", action="store_true", help="plans only: no contraction, no Monte Carlo")
    ap.add_argument("--memory-limit", type=float, default=16.0, help="GiB, the raised engine memory_limit")
    ap.add_argument("--mem-cap", type=float, default=20.0, help="GiB, address-space cap of each engine child (0: none)")
    ap.add_argument("--max-flops", type=float, default=2e12, help="contract only settings planned below this")
    ap.add_argument("--time-limit", type=float, default=900.0, help="seconds per engine call")
    ap.add_argument("--budget", type=float, default=1500.0, help="seconds of engine runs in total")
    args = ap.parse_args()
    settings = [tuple(int(x) for x in s.split(",")) for s in args.settings]
    for s in settings:
        if len(s) != 2 or s[0] < 2 or s[1] < 1:
            raise SystemExit(f"a setting is 'N,K' with N >= 2 and K >= 1, got {s}")
    for c in args.cases:
        if c not in ALL_CASES:
            raise SystemExit(f"unknown case {c!r}; choose from {ALL_CASES}")
    mem = args.memory_limit * GIB
    sizes = sorted({(int(c.split("-")[0][1:]), int(c.split("-")[1][1:])) for c in args.cases})
    planned: dict[tuple[int, int], dict[tuple[int, int], float]] = {}
    groups: dict[tuple[int, int], dict] = {}
    caches: dict[tuple[int, int], dict] = {}
    for d, m in sizes:
        plans = dry_run(d, m, settings, mem)
        planned[(d, m)] = {s: p["best_total"] for s, p in plans.items()}
        groups[(d, m)] = {s: representation_groups(p["best"]) for s, p in plans.items()}
        caches[(d, m)] = {s: p["best_cache"] for s, p in plans.items()}
        print("\n".join(plan_tables(d, m, plans, mem)), flush=True)
    if args.dry_run:
        return
    deadline = time.perf_counter() + args.budget
    rows: list[dict[str, Any]] = []
    for case in args.cases:
        d, m = int(case.split("-")[0][1:]), int(case.split("-")[1][1:])
        rows += run_values(case, settings, planned[(d, m)], groups[(d, m)], caches[(d, m)], args.max_flops, mem, args.mem_cap * GIB,
                           args.time_limit, deadline)
    print("\n".join(value_table(rows)), flush=True)


if __name__ == "__main__":
    main()
