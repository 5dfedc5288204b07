"""Training orchestration around the core's epoch: validation, early stopping, callbacks, history.

Each epoch is one call into C++ (shuffle, batches, forward, δ backward, update, with the GIL
released). Between epochs Python checks the stopping rules, in this order: a non-finite J (error),
the notes' ε (``tol``), early stopping, callbacks, and the epoch budget.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from . import _validation as v
from ._loader import core
from ._names import OPTIMIZERS, SCHEDULES, check_name

if TYPE_CHECKING:
    from .network import Network

__all__ = ["fit", "History", "EarlyStopping", "ModelCheckpoint", "TrainingDivergedError",
           "StopTraining"]

log = logging.getLogger("bpcore")


class TrainingDivergedError(FloatingPointError):
    """J became NaN or infinite. The network keeps the weights of the last finite epoch.

    Attributes
    ----------
    epoch : int
        The 1-based epoch in which it happened.
    history : History
        What was recorded up to the last finite epoch.
    """

    def __init__(self, message: str, epoch: int, history: "History") -> None:
        super().__init__(message)
        self.epoch = epoch
        self.history = history


class StopTraining(Exception):
    """Raise from a callback to stop training after the current epoch."""


@dataclass
class History:
    """What :func:`fit` recorded, one entry per finished epoch.

    ``loss[e]`` is the mean J of epoch e (J of each batch before its update, weighted by batch
    size); ``val_loss`` the J on the validation data after the epoch; ``stop_reason`` one of
    ``"max_epochs"``, ``"tol"`` (J < ε, the notes' step 3), ``"early_stopping"``, ``"callback"``,
    ``"interrupted"`` (Ctrl-C: the network keeps the weights of the last finished epoch).
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stop_reason: str = "max_epochs"
    best_epoch: int | None = None
    epochs_before: int = 0

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": list(self.loss),
            "val_loss": list(self.val_loss),
            "lr": list(self.lr),
            "epoch_time": list(self.epoch_time),
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs,
        }

    def __repr__(self) -> str:
        last = f", loss={self.loss[-1]:.6g}" if self.loss else ""
        return f"History(epochs={self.epochs}{last}, stop_reason={self.stop_reason!r})"


class EarlyStopping:
    """Stop when the monitored J has not improved by ``min_delta`` for ``patience`` epochs.

    The monitored J is the validation J when there is validation data, else the training J. With
    ``restore_best=True`` the network gets back the parameters of its best epoch.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True):
        self.patience = v.check_positive_int(patience, "patience")
        self.min_delta = v.check_number(min_delta, "min_delta")
        self.restore_best = bool(restore_best)
        self.best = np.inf
        self.best_epoch: int | None = None
        self.best_parameters: np.ndarray | None = None
        self.wait = 0

    def update(self, net: "Network", epoch: int, value: float) -> bool:
        """Record an epoch's J; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_parameters = net.parameters.copy()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, net: "Network") -> None:
        if self.restore_best and self.best_parameters is not None:
            net.parameters[...] = self.best_parameters


class ModelCheckpoint:
    """A callback that saves the network every ``every`` epochs (:func:`bpcore.io.save`: atomic, an
    existing file is replaced only by a complete one).

    ``path`` may contain ``{epoch}`` (the network's epoch count, counting earlier fits). In
    distributed training (``fit(..., comm=...)``) only rank 0 writes: the ranks' parameters are
    identical. The model file's metadata records the epoch and its J.
    """

    def __init__(self, path: Any, every: int = 1) -> None:
        import os

        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise TypeError(f"path must be a file path; got {path!r}")
        self.path = os.fspath(path)
        self.every = v.check_positive_int(every, "every")
        self.written: list[str] = []

    def on_epoch_end(self, net: "Network", epoch: int, logs: dict[str, Any]) -> bool:
        if logs.get("rank", 0) != 0 or epoch % self.every:
            return False
        total = net._training.get("epochs", epoch)
        path = self.path.replace("{epoch}", str(total))
        meta = {"epoch": str(total), "loss": repr(float(logs["loss"]))}
        if "val_loss" in logs:
            meta["val_loss"] = repr(float(logs["val_loss"]))
        net.save(path, **meta)
        self.written.append(path)
        return False

    def __repr__(self) -> str:
        return f"ModelCheckpoint({self.path!r}, every={self.every})"


def _optimizer_config(optimizer: str, lr: float, momentum: float, options: dict[str, Any]):
    check_name(optimizer, OPTIMIZERS, "optimizer")
    lr = v.check_positive_float(lr, "lr")
    schedule = check_name(options.pop("lr_schedule", "constant"), SCHEDULES, "lr_schedule")
    kwargs = {}
    for name, default in (("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8),
                          ("weight_decay", 0.0), ("power_t", 0.5), ("gamma", 0.1)):
        value = options.pop(name, default)
        try:
            kwargs[name] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number; got {value!r}") from None
    step_size = v.check_positive_int(options.pop("step_size", 10), "step_size")
    try:
        momentum = float(momentum)
    except (TypeError, ValueError):
        raise TypeError(f"momentum must be a number; got {momentum!r}") from None
    return core.OptimizerConfig(kind=optimizer, lr=lr, momentum=momentum, schedule=schedule,
                                step_size=step_size, **kwargs)


def fit(
    net: "Network",
    X: Any,
    Y: Any,
    epochs: int = 100,
    batch_size: int | None = 1,
    lr: float = 0.5,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    tol: float | None = None,
    shuffle: bool = True,
    n_threads: int | None = None,
    seed: int = 0,
    callbacks: Sequence[Any] | None = None,
    comm: Any = None,
    **options: Any,
) -> History:
    """Train ``net`` on (X, Y) and return the :class:`History`.

    Parameters
    ----------
    epochs : int
        Most epochs to run.
    batch_size : int or None
        Samples per update: 1 is the notes' online BP; None is the full batch. The last, partial
        batch is kept unless ``drop_last=True``.
    lr : float
        Learning rate α of W ← W − α ∂J/∂W.
    optimizer : {"sgd", "momentum", "nesterov", "adam"}
        ``sgd`` is the notes' rule. ``momentum`` is μ of momentum and nesterov (unused otherwise).
    tol : float or None
        The notes' ε: stop after the first epoch whose mean J < ε.
    shuffle : bool
        Visit the samples in a new seeded order every epoch.
    n_threads : int or None
        Threads over the batch; None is OpenMP's default (with ``comm``: the node's CPUs shared
        among its ranks). Results are bitwise the same for any thread count.
    seed : int
        Seed of the shuffling (and of the validation split).
    callbacks : sequence
        Called after each epoch as ``cb(net, epoch, logs)`` (or ``cb.on_epoch_end(...)``) with
        ``logs = {"loss", "val_loss", "lr", "time", "rank", "size"}``; returning True or raising
        :class:`StopTraining` stops training (stop_reason ``"callback"``).
    comm : mpi4py communicator, optional
        Data-parallel training (:mod:`bpcore.distributed`): every rank of ``comm`` calls ``fit``
        with the same settings and its own shard of the rows (the data set is the shards in rank
        order; a shard may be empty). Each global batch's gradient is summed over the ranks with
        ``Allreduce`` and every rank applies the same update, so the result equals training on the
        whole data in one process. The parameters start as rank 0's. ``loss``/``val_loss`` are over
        all ranks; callbacks run on every rank (``logs["rank"]`` tells which).

    Other Parameters
    ----------------
    sample_weight : array of shape (n,)
    validation_data : (X_val, Y_val)
    validation_fraction : float in (0, 1)
        Hold out this share of the samples (seeded) as validation data.
    early_stopping : bool
        Stop when the validation J (else training J) stops improving for ``patience`` epochs. At
        the end of training (unless interrupted) the network gets the parameters of its best epoch.
    patience, min_delta : int, float
        Of early stopping (defaults 10 and 0).
    beta1, beta2, epsilon : float
        Of adam.
    weight_decay : float
        L2 penalty λ added to ∂J/∂W.
    lr_schedule : {"constant", "invscaling", "step"}, power_t, step_size, gamma
        Learning rate per epoch.
    drop_last : bool
    warm_start : bool
        Keep the optimizer state and epoch count of an earlier fit (default True). False resets them.
    verbose : bool
        Log every epoch through the ``bpcore`` logger.

    Raises
    ------
    TrainingDivergedError
        J became NaN or infinite; names the epoch; the weights are those of the last finite epoch.
    RuntimeError
        ``fit`` is already running on this network in another thread.
    bpcore.distributed.DistributedError
        With ``comm``: another rank failed (its error is in the message) or the ranks' settings
        differ. Every rank raises, so none is left waiting.
    """
    group = None
    if comm is not None:
        from .distributed import Group

        group = Group(comm)
    # With comm every rank learns whether every rank's arguments were good, so none is left
    # waiting in a collective call for a rank that raised.
    error: Exception | None = None
    try:
        run = _prepare(net, X, Y, epochs, batch_size, lr, optimizer, momentum, tol, shuffle,
                       n_threads, seed, callbacks, group, dict(options))
    except Exception as exc:
        error = exc
    if error is None and not net._fitting.acquire(blocking=False):
        error = RuntimeError("fit() is already running on this network")
    if group is not None:
        try:
            group.agree(error, "fit()")
        except BaseException:
            if error is None:
                net._fitting.release()
            raise
    elif error is not None:
        raise error
    try:
        with net._lock:
            if group is not None:
                _join(run, net, group)
            return _train(net, run, group)
    finally:
        net._fitting.release()


@dataclass
class _Run:
    """A fit's checked settings and data (this rank's shard, with ``comm``)."""

    config: Any
    epochs: int
    tol: float | None
    seed: int
    threads: int
    X: np.ndarray
    Y: np.ndarray
    w: np.ndarray | None
    X_val: np.ndarray | None
    Y_val: np.ndarray | None
    batch: int  # 0: the full batch
    shuffle: bool
    drop_last: bool
    warm_start: bool
    verbose: bool
    stopper: EarlyStopping | None
    callbacks: list[Any]
    global_rows: int = 0
    row_offset: int = 0


def _prepare(net: "Network", X: Any, Y: Any, epochs: Any, batch_size: Any, lr: Any,
             optimizer: Any, momentum: Any, tol: Any, shuffle: Any, n_threads: Any, seed: Any,
             callbacks: Any, group: Any, opts: dict[str, Any]) -> _Run:
    """Check every argument and convert the data; touches neither the network nor other ranks."""
    sample_weight = opts.pop("sample_weight", None)
    validation_data = opts.pop("validation_data", None)
    validation_fraction = opts.pop("validation_fraction", None)
    early = opts.pop("early_stopping", False)
    patience = opts.pop("patience", 10)
    min_delta = opts.pop("min_delta", 0.0)
    drop_last = _flag(opts.pop("drop_last", False), "drop_last")
    warm_start = _flag(opts.pop("warm_start", True), "warm_start")
    verbose = _flag(opts.pop("verbose", False), "verbose")
    shuffle = _flag(shuffle, "shuffle")
    early = _flag(early, "early_stopping")
    config = _optimizer_config(optimizer, lr, momentum, opts)
    if opts:
        raise TypeError(f"fit() got unexpected keyword arguments: {', '.join(sorted(opts))}")

    epochs = v.check_positive_int(epochs, "epochs")
    if tol is not None:
        tol = v.check_number(tol, "tol")
    from .network import _check_seed, _threads

    seed = _check_seed(seed)
    threads = _threads(n_threads)

    sharded = group is not None
    d, q = net.sizes[0], net.sizes[-1]
    Xc = v.as_matrix(X, "X", net.dtype, d, allow_empty=sharded)
    Yc = net._Y(Y, Xc.shape[0])
    w = v.as_sample_weight(sample_weight, net.dtype, Xc.shape[0], require_positive=not sharded)
    Xv = Yv = None
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_data is not None:
        try:
            Xv_raw, Yv_raw = validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a pair (X_val, Y_val)") from None
        Xv = v.as_matrix(Xv_raw, "X_val", net.dtype, d, allow_empty=sharded)
        Yv = v.as_targets(Yv_raw, "Y_val", net.dtype, q, Xv.shape[0])
    elif validation_fraction is not None:
        frac = v.check_number(validation_fraction, "validation_fraction")
        if not 0 < frac < 1:
            raise ValueError(f"validation_fraction must be in (0, 1); got {validation_fraction!r}")
        n = Xc.shape[0]
        n_val = int(round(frac * n))
        if n_val < 1 or n_val >= n:
            raise ValueError(f"validation_fraction={frac} of {n} samples leaves no validation "
                             "or no training sample")
        order = np.random.default_rng(seed).permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        Xv, Yv = Xc[val_idx], Yc[val_idx]
        Xc, Yc = Xc[train_idx], Yc[train_idx]
        w = None if w is None else w[train_idx]

    if batch_size is None:
        batch = 0
    else:
        batch = v.check_positive_int(batch_size, "batch_size")
        n = Xc.shape[0]
        if batch > n and not sharded:  # with comm: checked against all ranks' rows in _join
            raise ValueError(f"batch_size must be at most the number of training samples ({n}); "
                             f"got {batch}; use batch_size=None for the full batch")
    stopper = EarlyStopping(patience, min_delta) if early else None
    if callbacks is None:
        cbs = []
    elif callable(callbacks) or hasattr(callbacks, "on_epoch_end"):
        cbs = [callbacks]
    else:
        try:
            cbs = list(callbacks)
        except TypeError:
            raise TypeError("callbacks must be a callable or a sequence of callables; got "
                            f"{callbacks!r}") from None
    for cb in cbs:
        if not (callable(cb) or hasattr(cb, "on_epoch_end")):
            raise TypeError(f"callbacks must be callables or have on_epoch_end; got {cb!r}")
    return _Run(config, epochs, tol, seed, threads, Xc, Yc, w, Xv, Yv, batch, shuffle, drop_last,
                warm_start, verbose, stopper, cbs)


def _join(run: _Run, net: "Network", group: Any) -> None:
    """Distributed training: check that the ranks agree, place this rank's shard, budget threads
    and start every rank from rank 0's parameters. Collective."""
    c = run.config
    group.check_same({
        "network": repr(net), "epochs": run.epochs, "batch_size": run.batch, "tol": run.tol,
        "optimizer": c.kind, "lr_schedule": c.schedule,
        **{name: getattr(c, name) for name in ("lr", "momentum", "beta1", "beta2", "epsilon",
                                               "weight_decay", "power_t", "step_size", "gamma")},
        "shuffle": run.shuffle, "seed": run.seed, "drop_last": run.drop_last,
        "warm_start": run.warm_start, "early_stopping": run.stopper is not None and
        (run.stopper.patience, run.stopper.min_delta),
        "sample_weight": run.w is not None, "validation": run.X_val is not None,
        "epochs done": net._training.get("epochs", 0) if run.warm_start else 0,
    }, "fit()")
    rows = group.allgather((run.X.shape[0], 0.0 if run.w is None else float(run.w.sum())))
    run.global_rows = sum(r for r, _ in rows)
    run.row_offset = sum(r for r, _ in rows[: group.rank])
    error: Exception | None = None
    if run.global_rows == 0:
        error = ValueError("X has no samples on any rank")
    elif run.w is not None and not sum(s for _, s in rows) > 0:
        error = ValueError("sample_weight must have at least one positive weight (on some rank)")
    elif run.batch > run.global_rows:
        error = ValueError(f"batch_size must be at most the number of training samples of all "
                           f"ranks ({run.global_rows}); got {run.batch}; use batch_size=None for "
                           "the full batch")
    if error is not None:
        error.bpcore_agreed = True  # type: ignore[attr-defined]  # the same on every rank
        raise error
    threads = group.default_threads()  # collective: every rank calls it
    if run.threads == 0:  # n_threads not given
        run.threads = threads
    group.broadcast(net.parameters)


def _train(net: "Network", run: _Run, group: Any) -> History:
    state = net._training
    config = run.config
    cls_opt = core.Optimizer64 if net.dtype == np.float64 else core.Optimizer32
    if not run.warm_start or "optimizer" not in state:
        state["optimizer"] = cls_opt(config, net.n_params)
        state["epochs"] = 0
    else:
        state["optimizer"].config = config
    opt = state["optimizer"]
    train = core.train_epoch64 if net.dtype == np.float64 else core.train_epoch32
    eopts = core.EpochOptions(batch_size=run.batch, shuffle=run.shuffle, drop_last=run.drop_last,
                              seed=run.seed, epoch=state["epochs"], n_threads=run.threads,
                              global_rows=run.global_rows, row_offset=run.row_offset)
    reduce = None if group is None else group.reducer()
    rank, size = (0, 1) if group is None else (group.rank, group.size)
    hist = History(epochs_before=state["epochs"])
    stopper = run.stopper
    try:
        for e in range(1, run.epochs + 1):
            eopts.epoch = state["epochs"]
            t0 = time.perf_counter()
            result = train(net._net, opt, run.X, run.Y, run.w, eopts, reduce)
            if result.status == "interrupted":  # another rank was interrupted (Ctrl-C)
                raise KeyboardInterrupt
            if result.status == "nonfinite":
                raise TrainingDivergedError(
                    f"training diverged in epoch {e}: the loss J became NaN or infinite; the "
                    f"network keeps the weights after epoch {e - 1}. Lower lr (now "
                    f"{config.lr:g}) or standardise the inputs.", e, hist)
            state["epochs"] += 1
            J = result.loss
            hist.loss.append(J)
            hist.lr.append(result.lr)
            logs: dict[str, Any] = {"loss": J, "lr": result.lr}
            if run.X_val is not None:
                J_val = _validation_loss(net, run, group)
                hist.val_loss.append(J_val)
                logs["val_loss"] = J_val
            hist.epoch_time.append(time.perf_counter() - t0)
            logs["time"] = hist.epoch_time[-1]
            logs["rank"], logs["size"] = rank, size
            if run.verbose and rank == 0:
                log.info("epoch %d: J=%.6g%s", e, J,
                         f" J_val={logs['val_loss']:.6g}" if "val_loss" in logs else "")
            # J and J_val are the same on every rank, so these stops are taken by all alike
            if run.tol is not None and J < run.tol:
                hist.stop_reason = "tol"
                break
            if stopper is not None and stopper.update(net, e, logs.get("val_loss", J)):
                hist.stop_reason = "early_stopping"
                break
            if _callbacks_stop(run.callbacks, net, e, logs, group):
                hist.stop_reason = "callback"
                break
    except KeyboardInterrupt:
        # Inside the core the epoch was rolled back; between epochs every epoch is whole.
        hist.stop_reason = "interrupted"
        log.info("training interrupted after %d finished epochs", hist.epochs)
    if stopper is not None:
        hist.best_epoch = stopper.best_epoch
        if hist.stop_reason != "interrupted":
            stopper.restore(net)
    return hist


def _validation_loss(net: "Network", run: _Run, group: Any) -> float:
    n = run.X_val.shape[0]
    J = float(net._net.loss(run.X_val, run.Y_val, None, run.threads)) if n else 0.0
    if group is None:
        return J
    total, count = group.sum([J * n, n])
    return float(total / count) if count else float("nan")


def _callbacks_stop(cbs: list[Any], net: "Network", epoch: int, logs: dict[str, Any],
                    group: Any) -> bool:
    """Run the callbacks; True when one asks to stop. With ``comm`` the ranks decide together:
    any rank's stop (or Ctrl-C) stops all, and an exception in one rank's callback is raised on
    every rank."""
    stop, error, interrupted = False, None, False
    try:
        stop = any(_call(cb, net, epoch, logs) for cb in cbs)
    except StopTraining:
        stop = True
    except KeyboardInterrupt:
        if group is None:
            raise
        interrupted = True
    except Exception as exc:
        if group is None:
            raise
        error = exc
    if group is None:
        return stop
    flags = group.sum([stop, error is not None, interrupted])
    if flags[1]:
        group.agree(error, f"a callback after epoch {epoch}")
    if flags[2]:
        raise KeyboardInterrupt
    return bool(flags[0])


def _call(cb: Any, net: "Network", epoch: int, logs: dict[str, Any]) -> bool:
    fn: Callable[..., Any] = cb.on_epoch_end if hasattr(cb, "on_epoch_end") else cb
    return bool(fn(net, epoch, logs))


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)
