"""Hyperparameter search of bpcore's estimators on a Dask cluster, and its thread budget.

* GridSearchCV over MLPClassifier and RandomizedSearchCV over MLPRegressor run under
  ``joblib.parallel_backend("dask")`` on a ``LocalCluster`` of two worker processes; the fits run
  on the workers (the scheduler's task stream says so) and give bit for bit the scores and the
  best parameters of the same search run in this process. That holds because bpcore is seeded by
  ``random_state`` and its batch reduction adds the row blocks in a fixed order, so the worker's
  thread count cannot change the bits.
* Thread budget: the Dask nanny starts its workers with ``OMP_NUM_THREADS=1``
  (``distributed.nanny.pre-spawn-environ``), so an estimator with ``n_threads=None`` trains on one
  thread per fit there, and workers × threads per worker × bpcore's threads stays within the
  cores. An explicit ``n_threads`` is honoured in a worker, and ``OMP_NUM_THREADS`` set in the
  environment that starts the workers replaces the nanny's 1 (the recipe for k threads per fit).

Threads that a fit starts are counted as new entries of ``/proc/self/task`` in the worker (Linux):
bpcore's OpenMP runtime keeps the team's threads after the parallel region, so a fit on one thread
leaves none behind and a fit on k threads leaves k - 1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pytest
from bpcore import MLPClassifier, MLPRegressor
from distributed import Client, LocalCluster, get_task_stream
from scipy.stats import loguniform
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.preprocessing import StandardScaler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_WORKERS, THREADS_PER_WORKER = 2, 1
TIMEOUT = 60  # seconds for the cluster to start and for a probe to answer


# ------------------------------------------------------------------------ cluster
@contextlib.contextmanager
def _restored_environ(**overrides: str | None) -> Iterator[None]:
    """Apply ``overrides`` (None unsets) to os.environ and undo every change on exit.

    The nanny writes its ``pre-spawn-environ`` (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1,
    PYTHONHASHSEED, …) into the environment of the process that runs it, here the test process;
    the tests after this module must not inherit that.
    """
    saved = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


@contextlib.contextmanager
def _local_cluster(n_workers: int, **environ: str | None) -> Iterator[Client]:
    """A LocalCluster of ``n_workers`` worker processes of one thread each, and its Client.

    ``environ`` is the environment the nanny sees when it starts the workers (None unsets). No
    dashboard (bokeh is not needed); the scheduler's plain HTTP routes (/health, /metrics) listen
    on a free local port instead of 8787, so that two clusters at once need no free 8787.
    """
    with (
        _restored_environ(**environ),
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=THREADS_PER_WORKER,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            death_timeout=TIMEOUT,
        ) as cluster,
        Client(cluster, timeout=TIMEOUT) as client,
    ):
        client.wait_for_workers(n_workers, timeout=TIMEOUT)
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two one-thread workers; OMP_NUM_THREADS is unset so that the nanny's default applies."""
    with _local_cluster(N_WORKERS, OMP_NUM_THREADS=None) as c:
        yield c


# ------------------------------------------------------------------------ data and searches
@pytest.fixture(scope="module")
def iris_std() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    return X, (y - y.mean()) / y.std()


def _grid_search() -> GridSearchCV:
    return GridSearchCV(
        MLPClassifier(max_iter=80, random_state=0),
        {"hidden_layer_sizes": [(4,), (16,)], "learning_rate_init": [0.001, 0.01]},
        cv=3,
    )


def _randomized_search() -> RandomizedSearchCV:
    return RandomizedSearchCV(
        MLPRegressor(max_iter=60, batch_size=64, random_state=0),
        {
            "hidden_layer_sizes": [(8,), (32,), (16, 16)],
            "learning_rate_init": loguniform(1e-3, 3e-2),
            "alpha": loguniform(1e-5, 1e-2),
        },
        n_iter=4,
        cv=3,
        random_state=0,
    )


def _fit_on_cluster(client: Client, search: Any, X: np.ndarray, y: np.ndarray) -> set[str]:
    """Fit ``search`` under joblib's dask backend; the addresses of the workers that ran tasks."""
    with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        search.fit(X, y)
    return {task["worker"] for task in stream.data}


def _assert_same_search(on_cluster: Any, in_process: Any) -> None:
    a, b = on_cluster.cv_results_, in_process.cv_results_
    assert a["params"] == b["params"]
    for key in [k for k in b if k.endswith("_test_score") and not k.startswith("rank")]:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    np.testing.assert_array_equal(a["rank_test_score"], b["rank_test_score"])
    assert on_cluster.best_params_ == in_process.best_params_
    assert on_cluster.best_score_ == in_process.best_score_


# ------------------------------------------------------------------------ searches on the cluster
def test_grid_search_on_dask_equals_in_process(client, iris_std):
    X, y = iris_std
    in_process = _grid_search().fit(X, y)
    on_cluster = _grid_search()
    workers = _fit_on_cluster(client, on_cluster, X, y)
    assert workers == set(client.scheduler_info()["workers"])  # 12 fits reach both workers
    _assert_same_search(on_cluster, in_process)
    assert on_cluster.best_score_ > 0.8
    assert len(on_cluster.cv_results_["params"]) == 4


def test_randomized_search_on_dask_equals_in_process(client, regression):
    X, y = regression
    in_process = _randomized_search().fit(X, y)
    on_cluster = _randomized_search()
    workers = _fit_on_cluster(client, on_cluster, X, y)
    assert workers == set(client.scheduler_info()["workers"])  # 12 fits reach both workers
    _assert_same_search(on_cluster, in_process)
    assert on_cluster.best_score_ > 0.5
    assert len({p["learning_rate_init"] for p in on_cluster.cv_results_["params"]}) == 4


# ------------------------------------------------------------------------ thread budget
def _default_threads_probe() -> tuple[int, str | None]:
    """In a worker: the threads bpcore uses for n_threads=None, and OMP_NUM_THREADS."""
    from bpcore._loader import core

    return core.default_threads(), os.environ.get("OMP_NUM_THREADS")


def _threads_started_by_fits(*n_threads: int | None) -> list[int]:
    """In a worker: for each value in turn, the OS threads that one fit with it left behind.

    The data is large enough (1024 rows per batch, 64 hidden units) for the core to split each
    batch over its threads.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1024, 32))
    y = X @ rng.standard_normal(32)
    started = []
    for value in n_threads:
        before = set(os.listdir("/proc/self/task"))
        MLPRegressor((64,), batch_size=1024, max_iter=2, random_state=0, n_threads=value).fit(X, y)
        started.append(len(set(os.listdir("/proc/self/task")) - before))
    return started


def test_worker_default_threads_fit_the_cores(client):
    answers = client.run(_default_threads_probe)
    assert len(answers) == N_WORKERS
    # the nanny's pre-spawn-environ sets OMP_NUM_THREADS=1, so n_threads=None is one thread
    assert set(answers.values()) == {(1, "1")}
    # so the cluster trains on workers × threads per worker OpenMP threads, no more: sized to the
    # cores (`--nworkers cores --nthreads 1`), it does not oversubscribe them
    used = N_WORKERS * THREADS_PER_WORKER * max(t for t, _ in answers.values())
    assert used == N_WORKERS * THREADS_PER_WORKER


def test_worker_honours_explicit_n_threads(client):
    future = client.submit(_threads_started_by_fits, None, 2, pure=False)
    started_default, started_two = future.result(timeout=TIMEOUT)
    assert started_default == 0  # OMP_NUM_THREADS=1: the fit stays on its worker thread
    assert started_two == 1  # n_threads=2: one more OpenMP thread


def test_omp_num_threads_of_the_worker_environment_sets_the_default():
    # `OMP_NUM_THREADS=k dask worker …` gives k threads per fit without touching the estimator
    before = dict(os.environ)
    with _local_cluster(1, OMP_NUM_THREADS="2") as c:
        (answer,) = c.run(_default_threads_probe).values()
        started = c.submit(_threads_started_by_fits, 1, None, pure=False).result(timeout=TIMEOUT)
    assert answer == (2, "2")
    assert started == [0, 1]  # the explicit n_threads=1 wins over the default of 2
    # the nanny wrote its pre-spawn-environ into this process's environment; it is undone
    assert dict(os.environ) == before
