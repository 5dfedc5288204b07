"""Data-parallel training scenarios, run by test_distributed.py under ``mpirun -n N``.

    mpirun -n 2 --oversubscribe python mpi_scenarios.py SCENARIO OUT_DIR

Every rank writes what it saw to ``OUT_DIR/SCENARIO-rank{r}.npz`` (arrays) or ``.json``; the test
process compares that with single-process training, which it runs itself with :func:`train_case`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import bpcore
import numpy as np
from bpcore.distributed import DistributedError, Group, shard, shard_bounds

N_ROWS = 101  # odd: two ranks get 51 and 50 rows

# name: (network kwargs, fit kwargs, extras); "weighted" adds sample weights, "validation" a
# validation set (sharded like the training rows) with early stopping.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], set[str]]] = {
    "sgd-online": ({}, {"batch_size": 1, "lr": 0.3, "epochs": 3}, set()),
    "sgd-batch8-weighted": ({}, {"batch_size": 8, "lr": 0.5, "epochs": 6}, {"weighted"}),
    "momentum-full-batch": (
        {"activation": "tanh"},
        {"batch_size": None, "lr": 0.2, "optimizer": "momentum", "epochs": 8},
        set(),
    ),
    "adam-batch16-validation": (
        {
            "activation": "relu",
            "output_activation": "softmax",
            "loss": "cross_entropy",
            "init": "he",
        },
        {
            "batch_size": 16,
            "lr": 0.01,
            "optimizer": "adam",
            "epochs": 12,
            "weight_decay": 1e-3,
            "lr_schedule": "step",
            "step_size": 4,
            "patience": 3,
        },
        {"validation"},
    ),
    "nesterov-no-shuffle-drop-last": (
        {"activation": ["prelu", "sigmoid"], "sizes": [4, 6, 5, 3]},
        {
            "batch_size": 10,
            "lr": 0.2,
            "optimizer": "nesterov",
            "shuffle": False,
            "drop_last": True,
            "epochs": 4,
        },
        set(),
    ),
    # dropout masks follow the global row index, so shards see the masks of one process
    "sgd-online-dropout": ({"dropout": 0.5}, {"batch_size": 1, "lr": 0.3, "epochs": 3}, set()),
    "adam-batch16-dropout": (
        {"activation": "tanh", "sizes": [4, 8, 6, 3], "dropout": [0.3, 0.2]},
        {"batch_size": 16, "lr": 0.02, "optimizer": "adam", "epochs": 5},
        set(),
    ),
}


def data(n: int = N_ROWS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n, 4), one-hot Y (n, 3) of a seeded nonlinear rule, and sample weights (n,)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 4))
    labels = np.argmax(np.tanh(X @ rng.normal(size=(4, 3))) + 0.3 * rng.normal(size=(n, 3)), 1)
    Y = np.eye(3)[labels]
    w = rng.uniform(0.2, 2.0, size=n)
    return X, Y, w


def make_network(name: str, seed: int = 0) -> bpcore.Network:
    """The untrained network of case ``name``."""
    net_kwargs = dict(CASES[name][0])
    sizes = net_kwargs.pop("sizes", [4, 6, 3])
    return bpcore.Network(sizes, seed=seed, **net_kwargs)


def train_case(
    name: str,
    X: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
    comm: Any = None,
    net_seed: int = 0,
) -> tuple[bpcore.Network, bpcore.History]:
    """Train case ``name`` on the given rows (a shard when ``comm`` is given)."""
    _, fit_kwargs, extras = CASES[name]
    net = make_network(name, net_seed)
    fit_kwargs = dict(fit_kwargs)
    patience = fit_kwargs.pop("patience", None)
    if "weighted" in extras:
        fit_kwargs["sample_weight"] = w
    if "validation" in extras:
        fit_kwargs.update(validation_data=(X_val, Y_val), early_stopping=True, patience=patience)
    hist = net.fit(X, Y, seed=3, comm=comm, **fit_kwargs)
    return net, hist


def validation_data() -> tuple[np.ndarray, np.ndarray]:
    X, Y, _ = data(37)
    return X[::-1].copy(), Y[::-1].copy()


def _save(out: str, scenario: str, rank: int, **arrays: Any) -> None:
    np.savez(os.path.join(out, f"{scenario}-rank{rank}.npz"), **arrays)


def equivalence(comm: Any, out: str) -> None:
    """Every case on contiguous shards; each rank starts from its own seed (rank 0's must win)."""
    X, Y, w = data()
    Xv, Yv = validation_data()
    results = {}
    for name in CASES:
        Xs, Ys, ws = shard((X, Y, w), comm)
        Xvs, Yvs = shard((Xv, Yv), comm)
        net, hist = train_case(name, Xs, Ys, ws, Xvs, Yvs, comm=comm, net_seed=comm.rank)
        results[f"{name}/params"] = net.parameters.copy()
        results[f"{name}/loss"] = np.array(hist.loss)
        results[f"{name}/val_loss"] = np.array(hist.val_loss)
        results[f"{name}/best_epoch"] = np.array(-1 if hist.best_epoch is None else hist.best_epoch)
    _save(out, "equivalence", comm.rank, **results)


# Shard sizes (rank 0's, rank 1's, …) of the uneven scenario; 0 is an empty shard.
UNEVEN_SPLITS = {2: [(3, 98), (0, 101), (100, 1)], 3: [(0, 0, 101), (50, 1, 50)]}


def uneven(comm: Any, out: str) -> None:
    """Shards of very different sizes, empty ones included, with every batch size."""
    X, Y, w = data()
    results = {}
    for split in UNEVEN_SPLITS[comm.size]:
        start = sum(split[: comm.rank])
        rows = slice(start, start + split[comm.rank])
        for name in ("sgd-batch8-weighted", "momentum-full-batch", "sgd-online"):
            net, hist = train_case(name, X[rows], Y[rows], w[rows], comm=comm)
            key = f"{'-'.join(map(str, split))}/{name}"
            results[f"{key}/params"] = net.parameters.copy()
            results[f"{key}/loss"] = np.array(hist.loss)
    _save(out, "uneven", comm.rank, **results)


def errors(comm: Any, out: str) -> None:
    """Failures on one rank or disagreements: every rank must raise (and none wait forever)."""
    X, Y, w = data()
    Xs, Ys = shard((X, Y), comm)
    rank = comm.rank
    seen: dict[str, Any] = {}

    def attempt(label: str, **kwargs: Any) -> None:
        net = bpcore.Network([4, 6, 3], seed=0)
        X_, Y_ = kwargs.pop("X", Xs), kwargs.pop("Y", Ys)
        try:
            hist = net.fit(X_, Y_, comm=kwargs.pop("comm", comm), **{"epochs": 4, **kwargs})
            seen[label] = {"ok": True, "epochs": hist.epochs, "stop_reason": hist.stop_reason}
        except Exception as exc:
            seen[label] = {"ok": False, "type": type(exc).__name__, "message": str(exc)}

    attempt("different lr", lr=0.5 if rank == 0 else 0.25)
    bad = Xs.copy()
    bad[0, 0] = np.nan
    attempt("NaN on the last rank", X=bad if rank == comm.size - 1 else Xs)
    attempt("batch larger than all rows", batch_size=N_ROWS + 1)

    def fail_on_last(net: Any, epoch: int, logs: dict[str, Any]) -> bool:
        if logs["rank"] == comm.size - 1 and epoch == 2:
            raise RuntimeError("callback failed on purpose")
        return False

    attempt("callback raises on the last rank", callbacks=[fail_on_last])
    attempt(
        "callback stops on rank 0",
        callbacks=[lambda net, epoch, logs: logs["rank"] == 0 and epoch == 2],
    )
    weights = np.zeros(len(Xs)) if rank == 0 else np.ones(len(Xs))
    attempt("zero weights on rank 0 only", sample_weight=weights)
    attempt("zero weights everywhere", sample_weight=np.zeros(len(Xs)))
    attempt("not a communicator", comm=object())
    # after all that the communicator still works: a normal fit
    attempt("afterwards", batch_size=4)
    seen["default_threads"] = Group(comm).default_threads()
    with open(os.path.join(out, f"errors-rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump(seen, f)


def checkpoint(comm: Any, out: str) -> None:
    """ModelCheckpoint writes on rank 0 only (each rank names its own file to show it)."""
    X, Y, _ = data()
    Xs, Ys = shard((X, Y), comm)
    net = bpcore.Network([4, 6, 3], seed=0)
    ckpt = bpcore.ModelCheckpoint(
        os.path.join(out, f"ckpt-rank{comm.rank}-{{epoch}}.safetensors"), every=2
    )
    net.fit(Xs, Ys, epochs=5, batch_size=4, comm=comm, callbacks=[ckpt])
    _save(out, "checkpoint", comm.rank, params=net.parameters.copy())


SCENARIOS = {f.__name__: f for f in (equivalence, uneven, errors, checkpoint)}


def main() -> None:
    scenario, out = sys.argv[1], sys.argv[2]
    comm = bpcore.distributed.world()
    assert shard_bounds(N_ROWS, comm.size, comm.rank)[1] <= N_ROWS
    try:
        SCENARIOS[scenario](comm, out)
    except DistributedError:
        raise
    except BaseException:
        # a failure the other ranks cannot know of: end the job rather than leave them waiting
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)


if __name__ == "__main__":
    main()
