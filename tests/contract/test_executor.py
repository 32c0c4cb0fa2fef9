"""Diagram sums on an executor (shinnet.contract.executor): equal to the serial run, whatever the
order in which tasks complete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import shinnet
from shinnet import TwoLayerMLP
from shinnet.expansions import cumulants
from shinnet.contract.batched import compile_jobs, contract_jobs
from shinnet.contract.executor import DiagramExecutor, InlineExecutor, group_tasks, run_task

# the workers run the serial code path on the same arrays and trees; values are summed in the
# serial order, so agreement is to rounding (1e-12 relative leaves room for BLAS threading)
_REL = 1e-12


def _model(d=3, m=7, seed=0):
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.5 * rng.standard_normal(m),
                       a=rng.standard_normal(m) / np.sqrt(m), c=0.1, hidden="relu")


class _Deferred:
    """A future whose result exists only once its executor has run every pending task."""

    def __init__(self, owner: "ShuffledExecutor") -> None:
        self.owner = owner
        self.value = None
        self.done = False

    def result(self):
        if not self.done:
            self.owner.flush()
        return self.value


class ShuffledExecutor:
    """Runs submitted tasks only when a result is asked for, all pending ones at once, in a
    seeded random order; records the order in which they completed."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.pending: list = []
        self.completed: list[int] = []
        self.n_submitted = 0

    def submit(self, fn, *args, **kwargs):
        fut = _Deferred(self)
        self.pending.append((self.n_submitted, fut, fn, args, kwargs))
        self.n_submitted += 1
        return fut

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        for j in self.rng.permutation(len(batch)):
            number, fut, fn, args, kwargs = batch[j]
            fut.value = fn(*args, **kwargs)
            fut.done = True
            self.completed.append(number)


def _assert_same(a, b):
    assert a.kappa.keys() == b.kappa.keys()
    for n in a.kappa:
        assert b.kappa[n] == pytest.approx(a.kappa[n], rel=_REL, abs=1e-300)
        assert b.pruned_budget.get(n, 0.0) == pytest.approx(a.pruned_budget.get(n, 0.0), rel=_REL, abs=1e-300)
    assert a.n_pruned == b.n_pruned and a.n_evaluated == b.n_evaluated
    assert a.flops == pytest.approx(b.flops, rel=1e-12)
    for ra, rb in zip(a.diagrams, b.diagrams):
        assert ra.diagram.key == rb.diagram.key and ra.pruned == rb.pruned
        assert rb.value == pytest.approx(ra.value, rel=_REL, abs=1e-300)


def test_thread_pool_equals_serial_with_one_task_per_diagram():
    model = _model()
    serial = cumulants(model, 4, 4)
    with ThreadPoolExecutor(2) as pool:
        par = cumulants(model, 4, 4, executor=DiagramExecutor(pool, task_seconds=0.0))
    _assert_same(serial, par)


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_shuffled_completion_order_gives_the_serial_result(mode):
    model = _model(seed=3)
    tol = 1e-4 if mode == "absolute" else 1e-3
    serial = cumulants(model, 4, 4, tol=tol, tol_mode=mode)
    ex = ShuffledExecutor(seed=11)
    # tiny waves in relative mode: several rounds of submit/gather, values needed in order
    par = cumulants(model, 4, 4, tol=tol, tol_mode=mode,
                    executor=DiagramExecutor(ex, task_seconds=0.0, wave_seconds=1e-3))
    _assert_same(serial, par)
    assert ex.n_submitted > 10
    assert ex.completed != sorted(ex.completed)  # completion really was out of submission order


def test_batch_of_second_layers_on_an_executor_equals_serial():
    model = _model(seed=5)
    A = np.random.default_rng(1).standard_normal((3, model.m))
    serial = shinnet.cumulants_batch(model, 3, 4, second_layers=A)
    par = shinnet.cumulants_batch(model, 3, 4, second_layers=A,
                                           executor=DiagramExecutor(ShuffledExecutor(2), task_seconds=0.0))
    for n in serial.kappa:
        np.testing.assert_allclose(par.kappa[n], serial.kappa[n], rtol=_REL, atol=0)


def test_estimate_forwards_the_executor():
    model = _model(seed=7)
    ex = ShuffledExecutor(seed=4)
    a = shinnet.estimate(model, order=4, max_degree=4)
    b = shinnet.estimate(model, order=4, max_degree=4, executor=DiagramExecutor(ex, task_seconds=0.0))
    assert ex.n_submitted > 0
    assert b.value == pytest.approx(a.value, rel=_REL)


def test_dask_local_cluster_with_two_processes_equals_serial():
    distributed = pytest.importorskip("distributed")
    model = _model(seed=9)
    serial = cumulants(model, 4, 4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        par = cumulants(model, 4, 4, executor=DiagramExecutor(client, task_seconds=0.0))
        default = cumulants(model, 4, 4, executor=client)  # default sizing: one task here
    _assert_same(serial, par)
    _assert_same(serial, default)


def test_group_tasks_packs_by_shape_to_the_target_size():
    rng = np.random.default_rng(0)
    sigs = [f"s{int(k)}" for k in rng.integers(0, 5, 200)]
    secs = rng.uniform(0.0, 0.05, 200)
    tasks = group_tasks(sigs, secs, 0.1)
    flat = [i for t in tasks for i in t]
    assert sorted(flat) == list(range(200))
    assert all(secs[t].sum() >= 0.1 for t in map(np.array, tasks[:-1]))
    assert [sigs[i] for i in flat] == sorted(sigs)  # same shapes are adjacent
    assert group_tasks(sigs, secs, 0.0) == [[i] for i in flat]
    assert len(group_tasks(sigs, secs, np.inf)) == 1


def test_executor_errors_are_clear():
    model = _model()
    with pytest.raises(TypeError, match="submit"):
        cumulants(model, 3, 3, executor=object())
    with pytest.raises(ValueError, match="ordered"):
        cumulants(model, 3, 3, executor=ShuffledExecutor(0), contract_mode="ordered")
    with pytest.raises(ValueError, match="task_seconds"):
        DiagramExecutor(ShuffledExecutor(0), task_seconds=-1.0)


@pytest.mark.filterwarnings("ignore::shinnet.contract.ConvergenceWarning")
@pytest.mark.parametrize("form, mode, tol", [("auto", "absolute", 0.0), ("dspace", "relative", 0.1),
                                             ("hidden", "absolute", 1e-4)])
def test_resummed_expansion_on_an_executor_equals_serial(form, mode, tol):
    model = _model(d=8, m=10, seed=2)
    kw = dict(expansion="resummed", max_edges=3, representation=form, tol=tol, tol_mode=mode)
    serial = cumulants(model, 4, **kw)
    ex = ShuffledExecutor(seed=5)
    par = cumulants(model, 4, executor=DiagramExecutor(ex, task_seconds=0.0, wave_seconds=1e-3), **kw)
    _assert_same(serial, par)
    assert ex.n_submitted > 10
    if mode == "relative":
        assert par.n_pruned > 0


class _Capture:
    """Records the tasks submitted (and runs them)."""

    def __init__(self) -> None:
        self.tasks: list = []

    def submit(self, fn, *args):
        self.tasks.append(args)
        return InlineExecutor().submit(fn, *args)


@pytest.mark.filterwarnings("ignore::shinnet.contract.ConvergenceWarning")
@pytest.mark.parametrize("kw", [dict(max_degree=4, representation="gram"),
                                dict(expansion="resummed", max_edges=5, representation="hidden")])
def test_batched_contraction_of_equal_shape_networks_equals_one_by_one(kw):
    model = _model(d=5, m=9, seed=12)
    cap = _Capture()
    serial = cumulants(model, 4, **kw)
    cumulants(model, 4, executor=DiagramExecutor(cap, task_seconds=np.inf, batched=False), **kw)
    jobs, arrays = [], {}
    for task_jobs, task_arrays, *_ in cap.tasks:
        jobs += list(task_jobs)
        arrays.update(task_arrays)
    one_by_one = run_task(jobs, arrays, "numpy", "float64", None, False)
    compiled = compile_jobs(jobs, "numpy")
    assert len(compiled) < len(jobs)  # some groups really hold several networks
    for batched in (contract_jobs(jobs, arrays, "numpy"), contract_jobs(jobs, arrays, "numpy", compiled)):
        for a, b in zip(one_by_one, batched):
            np.testing.assert_allclose(b, a, rtol=_REL, atol=1e-15 * np.max(np.abs(a)))
    # a compiled group is reusable on new arrays (e.g. other vertex weights): scale every array by 2
    doubled = {s: 2.0 * a for s, a in arrays.items()}
    for job, a, b in zip(jobs, one_by_one, contract_jobs(jobs, doubled, "numpy", compiled)):
        np.testing.assert_allclose(b, a * 2.0 ** len(job[1]), rtol=1e-12)
    # end to end, in process: batched engine = serial engine
    par = cumulants(model, 4, executor=DiagramExecutor(InlineExecutor(), task_seconds=np.inf), **kw)
    _assert_same(serial, par)
