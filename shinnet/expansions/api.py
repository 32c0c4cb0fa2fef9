"""The public cumulant calls: ``cumulants`` and ``cumulants_batch`` (MATH.md sections 3-5, 8).

Each checks its request before any work (:mod:`shinnet.expansions.checks`), builds one
:class:`shinnet.contract.options.ContractOptions`, looks the expansion up in the registry
(:mod:`shinnet.expansions.registry`) and runs it: the expansion turns the model into vertex
tensors and the engine (:mod:`shinnet.contract`) sums the diagrams.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from shinnet.contract.options import ContractOptions
from shinnet.contract.pathcache import PathCache
from shinnet.contract.result import CumulantResult
from shinnet.expansions.checks import check_cumulant_request
from shinnet.expansions.registry import get_expansion, expansions
from shinnet.model import TwoLayerMLP

__all__ = ["cumulants", "cumulants_batch"]

_OPTION_NAMES = frozenset(f.name for f in fields(ContractOptions))
_RUN_NAMES = frozenset({"diagrams", "exact_variance"})


def cumulants(
    model_or_shin: Any,
    order: int,
    max_degree: int | None = None,
    tol: float = 0.0,
    backend: str = "numpy",
    representation: str = "auto",
    progress: bool = False,
    *,
    tol_mode: str = "absolute",
    contract_mode: str = "tree",
    dtype: str = "float64",
    device: str | None = None,
    diagrams: Any = None,
    cache: PathCache | None = None,
    memory_limit: float = 2.0**31,
    gram_max_m: int | None = None,
    compute_bounds: bool | None = None,
    hypercontractive: bool | None = None,
    exact_variance: float | None = None,
    warn: bool = True,
    expansion: str = "degree",
    max_edges: int | None = None,
    executor: Any = None,
    split_bounds: bool | None = None,
    family_bounds: bool = False,
    max_diagrams: float | None = None,
    max_flops: float | None = None,
) -> CumulantResult:
    """Cumulants ``kappa_1..kappa_order`` of f truncated at Hermite degree ``max_degree``
    (``expansion="degree"``) or at cosine order ``max_edges`` (``expansion="resummed"``).

    ``kappa_1 = shin_0``; for n >= 2, ``kappa_n = sum_G weight(G) val(G)`` over connected
    loopless multigraphs on n vertices with vertex degrees in 1..K (MATH.md section 3), each
    ``val(G)`` a tensor-network contraction (section 4).  The result is exactly the cumulants of
    the degree-K polynomial ``f_K`` (minus pruned diagrams, whose rigorous bound is reported).

    Parameters
    ----------
    model_or_shin : TwoLayerMLP, torch nn.Sequential or vertex-tensor object
        A model (a torch module is read with ``TwoLayerMLP.from_torch``; shin tensors are built with ``shinnet.shin_tensors(model, max_degree)``) or an
        object with ``U``, ``weights(key)``, ``dense(key)``, ``op_norm(key, p)``,
        ``degree_of(key)`` and ``mean()``.
    order : int
        Largest cumulant order N.
    max_degree : int
        Hermite degree truncation K (every vertex degree ``<= K``).
    tol : float
        Pruning tolerance tau (section 5); 0 prunes nothing.
    backend : {"numpy", "torch"}
        Array backend (through cotengra/autoray).
    representation : {"auto", "dense", "factored", "gram", "mixed"}
        Network form per diagram; ``auto`` keeps the cheapest by cotengra's cost.
    progress : bool
        tqdm progress bar over diagrams.
    tol_mode : {"absolute", "relative"}
        ``absolute``: skip a diagram when ``|weight| * bound < tol``.  ``relative``: process
        diagrams in decreasing ``|weight| * bound`` and drop the rest once their summed bound
        falls below ``tol * |running sum|``.
    contract_mode : {"tree", "ordered"}
        ``tree``: cotengra's contraction tree.  ``ordered``: dense vertices contracted in the
        bound-minimising vertex order with an early stop (see :mod:`shinnet.contract.ordered`).
    dtype : {"float64", "float32"}
    device : str, optional
        torch device; default CUDA when available.
    diagrams : optional
        Use these diagrams instead of ``shinnet.enumerate.diagrams`` (mapping n -> list, or a list).
    cache : PathCache, optional
        Reuse paths across calls (and on disk).
    memory_limit : float
        Bytes; a contraction whose largest tensor exceeds it is refused (``MemoryError``) or,
        under ``auto``, another representation is used.
    gram_max_m : int, optional
        Largest m for which the ``gram`` (hidden-unit space) representation is considered
        (default 2048; 4096 for the resummed expansion).
    compute_bounds : bool, optional
        Compute operator-norm bounds even when ``tol == 0`` (default: only when pruning).
    hypercontractive : bool, optional
        Compute ``||shin_K||_F`` for the convergence report (default when m <= 16384).
    exact_variance : float, optional
        ``Var f`` (e.g. by quadrature): reported as the exact n = 2 tail ``Var f - kappa_2(K)``.
    warn : bool
        Issue :class:`ConvergenceWarning` when partial sums over K stop settling (resummed:
        when the greedy ``lambda* >= 1``).
    expansion : str
        A registered expansion (:func:`shinnet.expansions.registry.expansions`; an unknown name is
        refused before any work, listing them).  ``degree``: MATH.md section 3 (needs ``max_degree``).  ``resummed``: section 8, same-unit
        terms exact, series in the cosines truncated at ``max_edges`` (needs ``max_edges``; takes a
        TwoLayerMLP or PowerShinTensors; ``representation`` is then "auto", "hidden" or "dspace";
        ``partial_sums[n]`` runs over E = 0..max_edges; see
        :func:`shinnet.contract.resummed.resummed_cumulants`).  ``auto``: the rule of
        :func:`shinnet.expansions.auto.choose_expansion` (needs both truncations).
    max_edges : int, optional
        Cosine order E_max of the resummed expansion (refused with ``expansion="degree"``, which
        would ignore it).
    max_diagrams, max_flops : float, optional
        Limits of the pre-flight cost check (:mod:`shinnet.preflight`; defaults in
        :mod:`shinnet.defaults`): a request predicted to exceed them is refused before any work
        with a :class:`shinnet.preflight.RequestTooLarge` saying what it would cost.
    executor : optional
        Run the contractions on anything with ``submit`` (a ``concurrent.futures`` executor, a
        ``dask.distributed.Client``), or a :class:`shinnet.contract.executor.DiagramExecutor`
        wrapping one with its task sizing.  Planning, bounds and pruning stay in this process;
        tasks of >= ~0.1 s of estimated work, grouped by contraction shape, are contracted
        remotely and summed here in the serial order, so the result equals the serial one to
        rounding whatever order tasks finish in.  Not with ``contract_mode="ordered"``.
    split_bounds : bool, optional
        Tighten each bound by ``min`` over splits of the diagram in two halves of
        ``|<A_S, A_S'>| <= ||A_S|| ||A_S'||`` with the half norms contracted exactly and shared
        by all diagrams with that half (:class:`shinnet.contract.bounds.SplitBounds`; their cost
        is charged to ``flops``).  Opt-in (default off): tighter, but the half norms cost
        2-3x the unpruned evaluation at d = 8, m = 32 (docs/benchmarks.md).  Tree mode only.
        In the resummed expansion each quotient network ``Net(G/pi)`` is split the same way.
    family_bounds : bool
        Power counting from the measured norms (:mod:`shinnet.contract.families`): a family of
        terms sharing their vertex degrees (resummed: block labels) is bounded at once by
        ``sum_F |w| prod_v ||T_{k_v}||_F`` and dropped (or its members bounded lazily) before any
        per-term bound or plan.  Rigorous (``best_bound <= prod ||T||_F``); opt-in: same pruned set
        in absolute mode with fewer bound computations, possibly a different (still honest) kept
        set in relative mode.

    Returns
    -------
    CumulantResult

    Notes
    -----
    Cost: per diagram, cotengra's contraction cost (reported in ``.flops``), plus one path
    search per diagram shape and sizes (cached).
    """
    # the expansion, types, devices and the pre-flight cost check, before any work
    exp, model_or_shin, order, max_degree, max_edges = check_cumulant_request(
        model_or_shin, order, max_degree, max_edges, expansion, backend, device, representation,
        max_diagrams=max_diagrams, max_flops=max_flops, diagrams=diagrams)
    exp.missing_truncation(max_degree, max_edges)
    options = ContractOptions(
        tol=tol, tol_mode=tol_mode, backend=backend, representation=representation, contract_mode=contract_mode,
        dtype=dtype, device=device, cache=cache, memory_limit=memory_limit, gram_max_m=gram_max_m,
        compute_bounds=compute_bounds, hypercontractive=hypercontractive, warn=warn, progress=progress,
        executor=executor, split_bounds=split_bounds, family_bounds=family_bounds,
    )
    return exp.run(model_or_shin, order, options, max_degree=max_degree, max_edges=max_edges, diagrams=diagrams,
                   exact_variance=exact_variance)


def cumulants_batch(
    models_or_shins: Any,
    order: int,
    max_degree: int | None = None,
    second_layers: Any = None,
    tol: float = 0.0,
    backend: str = "numpy",
    representation: str = "auto",
    progress: bool = False,
    **kwargs: Any,
) -> CumulantResult:
    """Cumulants for a batch of models sharing the first layer, one batched contraction per
    diagram (the batch index rides on every weight vector; the output index is the batch).

    Parameters
    ----------
    models_or_shins : TwoLayerMLP, or sequence of TwoLayerMLP / vertex objects
        With a single model, ``second_layers`` (B, m) gives the batch: model b has ``a = A[b]``.
    order : int
    max_degree : int, optional
        Hermite degree truncation K; needed unless ``expansion="resummed"``.
    second_layers : array (B, m), optional
    tol, backend, representation, progress
        As for :func:`cumulants` (absolute ``tol``: a diagram is pruned only when it is below
        ``tol`` for every model).
    **kwargs
        Further options of :func:`cumulants`.  ``expansion="resummed"`` with ``max_edges=E`` runs
        the resummed expansion (MATH.md section 8) on the batch: ``K_{p,k}`` is computed once and
        scaled per row, Gram powers, path searches and lambda* are shared (see
        :func:`shinnet.contract.resummed.resummed_cumulants`); ``representation`` is then "auto",
        "hidden" or "dspace".  ``expansion="auto"`` is refused for batches (the rule may pick
        different expansions for different rows).

    Returns
    -------
    CumulantResult
        Every value (``kappa[n]``, contributions, budgets, partial sums) is an array of shape
        (B,).  ``tol_mode="relative"`` and ``contract_mode="ordered"`` are not supported.  Degree
        expansion: ``convergence[n]`` is one report whose partial sums are arrays (B,); resummed:
        ``convergence[n]`` is a tuple of B ``ResummedReport`` (row b's at ``[n][b]``).
    """
    single = isinstance(models_or_shins, TwoLayerMLP)
    if single and second_layers is None:
        raise ValueError("cumulants_batch with one model needs second_layers, an array (B, m)")
    if not single and second_layers is not None:
        raise ValueError("second_layers is only used with a single TwoLayerMLP")
    exp = get_expansion(kwargs.pop("expansion", "degree"))
    if exp.run_batch is None:
        others = [n for n in expansions() if get_expansion(n).run_batch is not None]
        why = f" ({exp.batch_refusal})" if exp.batch_refusal else ""
        raise ValueError(f"expansion={exp.name!r} is not supported for batches{why}; pass "
                         + " or ".join(f"expansion={n!r}" for n in others))
    max_edges = kwargs.pop("max_edges", None)
    unknown = sorted(set(kwargs) - _OPTION_NAMES - _RUN_NAMES)
    if unknown:
        raise TypeError(f"cumulants_batch() got an unexpected keyword argument {unknown[0]!r}")
    run_kw = {k: kwargs.pop(k) for k in _RUN_NAMES if k in kwargs}
    if max_edges is not None and "max_edges" not in exp.truncations:  # it would be silently ignored
        raise ValueError("max_edges is the resummed expansion's truncation; pass expansion='resummed'")
    exp.missing_truncation(max_degree, max_edges)
    options = ContractOptions(tol=tol, backend=backend, representation=representation, progress=progress, **kwargs)
    return exp.run_batch(models_or_shins, order, options, max_degree=max_degree, max_edges=max_edges,
                         second_layers=second_layers, **run_kw)
