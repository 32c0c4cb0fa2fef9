"""The contraction engine: Wick diagrams -> tensor networks -> cotengra (MATH.md sections 3-5).

``cumulants(model_or_shin, order, max_degree, ...)`` sums the connected diagrams of each
cumulant order; ``cumulants_batch`` does the same for a batch of second layers in one batched
contraction per diagram; ``paths(...)`` reports the contraction plans.  See docs/contract.md.
"""

from __future__ import annotations

from typing import Any, Sequence


from shinnet.contract.backends import ArrayProvider, backends, register_backend
from shinnet.contract.bounds import EXACT_MAX_ORDER, NormTable, best_bound, order_bound
from shinnet.contract.checks import check_cumulant_request
from shinnet.contract.diagnostics import ConvergenceWarning, is_diverging
from shinnet.contract.engine import run_engine
from shinnet.contract.executor import DiagramExecutor, InlineExecutor
from shinnet.contract.network import REPRESENTATIONS, Network, build_network
from shinnet.contract.pathcache import PathCache, default_optimizer
from shinnet.contract.report import PathRecord, paths
from shinnet.contract.result import ConvergenceReport, CumulantResult, DiagramRecord

__all__ = [
    "cumulants",
    "cumulants_batch",
    "paths",
    "CumulantResult",
    "DiagramRecord",
    "DiagramExecutor",
    "InlineExecutor",
    "ConvergenceReport",
    "ConvergenceWarning",
    "PathCache",
    "PathRecord",
    "Network",
    "NormTable",
    "REPRESENTATIONS",
    "EXACT_MAX_ORDER",
    "ArrayProvider",
    "best_bound",
    "order_bound",
    "build_network",
    "backends",
    "register_backend",
    "default_optimizer",
    "is_diverging",
]


def _vertex_object(model_or_shin: Any, max_degree: int) -> Any:
    from shinnet.model import TwoLayerMLP

    if isinstance(model_or_shin, TwoLayerMLP):
        from shinnet.shin import shin_tensors

        return shin_tensors(model_or_shin, max_degree)
    for attr in ("weights", "dense", "op_norm", "degree_of", "mean"):
        if not callable(getattr(model_or_shin, attr, None)):
            raise TypeError(
                f"expected a TwoLayerMLP or a vertex-tensor object (ShinTensors); "
                f"{type(model_or_shin).__name__} has no method {attr!r}"
            )
    return model_or_shin


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
    expansion : {"degree", "resummed", "auto"}
        ``degree``: MATH.md section 3 (needs ``max_degree``).  ``resummed``: section 8, same-unit
        terms exact, series in the cosines truncated at ``max_edges`` (needs ``max_edges``; takes a
        TwoLayerMLP or PowerShinTensors; ``representation`` is then "auto", "hidden" or "dspace";
        ``partial_sums[n]`` runs over E = 0..max_edges; see
        :func:`shinnet.contract.resummed.resummed_cumulants`).  ``auto``: the rule of
        :func:`shinnet.contract.auto.choose_expansion` (needs both truncations).
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

    Returns
    -------
    CumulantResult

    Notes
    -----
    Cost: per diagram, cotengra's contraction cost (reported in ``.flops``), plus one path
    search per diagram shape and sizes (cached).
    """
    # types, devices and the pre-flight cost check, before any work (shinnet.contract.checks)
    model_or_shin, order, max_degree, max_edges = check_cumulant_request(
        model_or_shin, order, max_degree, max_edges, expansion, backend, device, representation,
        max_diagrams=max_diagrams, max_flops=max_flops, diagrams=diagrams)
    if expansion != "degree":
        from shinnet.contract.auto import dispatch_expansion

        return dispatch_expansion(
            model_or_shin, order, max_degree, max_edges, expansion, tol=tol, backend=backend,
            representation=representation, progress=progress, tol_mode=tol_mode, contract_mode=contract_mode,
            dtype=dtype, device=device, diagrams=diagrams, cache=cache, memory_limit=memory_limit,
            gram_max_m=gram_max_m, compute_bounds=compute_bounds, hypercontractive=hypercontractive,
            exact_variance=exact_variance, warn=warn, executor=executor, split_bounds=split_bounds,
        )
    if max_degree is None:
        raise ValueError("expansion='degree' needs max_degree (the Hermite degree truncation K)")
    obj = _vertex_object(model_or_shin, max_degree)
    return run_engine(
        [obj], False, order, max_degree, tol=tol, tol_mode=tol_mode, backend=backend,
        representation=representation, contract_mode=contract_mode, dtype=dtype, device=device,
        diagrams=diagrams, cache=cache, memory_limit=memory_limit,
        gram_max_m=2048 if gram_max_m is None else gram_max_m,
        compute_bounds=compute_bounds, hypercontractive=hypercontractive, exact_variance=exact_variance,
        warn=warn, progress=progress, executor=executor, split_bounds=split_bounds,
    )


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
    from shinnet.model import TwoLayerMLP
    from shinnet.power_shin import check_second_layers

    single = isinstance(models_or_shins, TwoLayerMLP)
    if single and second_layers is None:
        raise ValueError("cumulants_batch with one model needs second_layers, an array (B, m)")
    if not single and second_layers is not None:
        raise ValueError("second_layers is only used with a single TwoLayerMLP")
    expansion = kwargs.pop("expansion", "degree")
    if expansion == "auto":
        raise ValueError("expansion='auto' is not supported for batches (its rule may choose differently per "
                         "row); pass expansion='degree' or expansion='resummed'")
    if expansion == "resummed":
        from shinnet.contract.auto import resummed_batch

        return resummed_batch(models_or_shins, order, second_layers, tol=tol, backend=backend,
                              representation=representation, progress=progress, **kwargs)
    if expansion != "degree":
        raise ValueError(f"expansion must be 'degree' or 'resummed' for a batch, got {expansion!r}")
    if kwargs.pop("max_edges", None) is not None:
        raise ValueError("max_edges is the resummed expansion's truncation; pass expansion='resummed'")
    if max_degree is None:
        raise ValueError("expansion='degree' needs max_degree (the Hermite degree truncation K)")
    if single:
        A = check_second_layers(second_layers, models_or_shins.m)
        items: Sequence[Any] = [models_or_shins.replace(a=row) for row in A]
    else:
        items = list(models_or_shins)
    if not items:
        raise ValueError("empty batch")
    objs = [_vertex_object(x, max_degree) for x in items]
    return run_engine(objs, True, order, max_degree, tol=tol, backend=backend, representation=representation,
                      progress=progress, **kwargs)
