"""Training orchestration around the core's epoch: validation, early stopping, callbacks, history.

Each epoch is one call into C++ (shuffle, batches, forward, δ backward, update, with the GIL
released). Between epochs Python checks the stopping rules, in this order: a non-finite J (error),
the notes' ε (``tol``), early stopping, callbacks, and the epoch budget.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Union

import numpy as np

from . import _validation as v
from ._loader import core
from ._names import (
    EPOCH_DEFAULTS,
    OPTIMIZER_DEFAULTS,
    OPTIMIZER_INFO,
    OPTIMIZERS,
    SCHEDULES,
    optimizer_config,
)
from ._parallel import Strategy, strategy_for
from ._report import EpochReport, check_metrics, logger
from ._sparse import core_matrix, is_sparse

if TYPE_CHECKING:
    import numpy.typing as npt
    from mpi4py.MPI import Intracomm
    from typing_extensions import Unpack

    from ._core import OptimizerConfig
    from .network import Network

__all__ = [
    "fit",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "TrainingDivergedError",
    "restore_training",
    "training_checkpoint",
    "StopTraining",
]


class _EpochEndCallback(Protocol):
    def on_epoch_end(self, net: Network, epoch: int, logs: dict[str, float]) -> object: ...


@dataclass(frozen=True)
class FitDefaults:
    """The defaults of :func:`fit` and :meth:`bpcore.Network.fit` (``training.FIT_DEFAULTS``).

    The optimizer's and the epoch's come from the core (``bpcore._names.OPTIMIZER_DEFAULTS`` and
    ``EPOCH_DEFAULTS``, read from its default-constructed option structs); the rest are fit's own.
    """

    # the core's OptimizerConfig
    optimizer: str
    lr: float
    momentum: float
    beta1: float
    beta2: float
    epsilon: float
    weight_decay: float
    lr_schedule: str
    power_t: float
    step_size: int
    gamma: float
    etas: tuple[float, float]
    step_sizes: tuple[float, float]
    history_size: int
    max_fun: int
    grad_tol: float
    loss_tol: float
    # the core's EpochOptions
    batch_size: int
    shuffle: bool
    drop_last: bool
    seed: int
    # fit's own
    epochs: int = 100
    patience: int = 10
    min_delta: float = 0.0
    early_stopping: bool = False
    warm_start: bool = True
    verbose: bool = False


#: fit's (and the [training] section's) names of the OptimizerConfig fields it names otherwise
OPTION_NAMES = {"kind": "optimizer", "schedule": "lr_schedule"}
FIELD_NAMES = {option: field for field, option in OPTION_NAMES.items()}


def _fit_defaults() -> FitDefaults:
    core_defaults = {OPTION_NAMES.get(k, k): val for k, val in OPTIMIZER_DEFAULTS.items()}
    core_defaults.update(
        (k, EPOCH_DEFAULTS[k]) for k in ("batch_size", "shuffle", "drop_last", "seed")
    )
    core_defaults["batch_size"] = _DefaultBatchSize(core_defaults["batch_size"])
    return FitDefaults(**core_defaults)  # type: ignore[arg-type]


class _DefaultBatchSize(int):
    """The core's default batch size, told apart from the same number given explicitly: the
    full-batch optimizers (rprop, lbfgs, lm) take the full batch unless batch_size is given."""

    __slots__ = ()


FIT_DEFAULTS = _fit_defaults()
_D = FIT_DEFAULTS


class FitOptions(TypedDict, total=False):
    """The options of :func:`fit` and :meth:`bpcore.Network.fit` beyond the named arguments."""

    sample_weight: npt.ArrayLike | None
    validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None
    validation_fraction: float | None
    early_stopping: bool
    patience: int
    min_delta: float
    beta1: float
    beta2: float
    epsilon: float
    weight_decay: float
    lr_schedule: str
    power_t: float
    step_size: int
    gamma: float
    etas: tuple[float, float]
    step_sizes: tuple[float, float]
    history_size: int
    max_fun: int
    grad_tol: float
    loss_tol: float
    drop_last: bool
    warm_start: bool
    verbose: bool
    progress: bool
    metrics: Sequence[str] | None


#: A callback of :func:`fit`: ``cb(net, epoch, logs)`` or an object with ``on_epoch_end``.
Callback = Union[Callable[["Network", int, dict[str, float]], object], _EpochEndCallback]


class TrainingDivergedError(FloatingPointError):
    """J became NaN or infinite. The network keeps the weights of the last finite epoch.

    Attributes
    ----------
    epoch : int
        The 1-based epoch in which it happened.
    history : History
        What was recorded up to the last finite epoch.
    """

    def __init__(self, message: str, epoch: int, history: History) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.history = history


class StopTraining(Exception):
    """Raise from a callback to stop training after the current epoch."""


@dataclass
class History:
    """What :func:`fit` recorded, one entry per finished epoch.

    Two J's are in play. ``loss[k]`` is the **mean J during epoch k**: the J of each batch taken
    before that batch's update, averaged (weighted by batch size) over the epoch, so it mixes the
    weights the epoch went through. The **J of the trained network** is that of the final
    weights on the training data (``Network.loss(X, Y)``, ``bpcore evaluate``), usually lower;
    it is what the notes' ε is compared with only when the batch is the full batch.
    ``val_loss[k]`` is the J of the network after epoch k on the validation data. ``stop_reason``
    is one of
    ``"max_epochs"``, ``"tol"`` (J < ε, the notes' step 3), ``"early_stopping"``, ``"callback"``,
    ``"interrupted"`` (Ctrl-C: the network keeps the weights of the last finished epoch),
    ``"converged"`` (lbfgs, lm: ``grad_tol`` or ``loss_tol`` met) and ``"stalled"`` (lbfgs: no step
    meets the Wolfe conditions; lm: μ > 1e10; the last epoch's weights are unchanged).
    ``best_epoch`` (with early stopping) counts from this fit's first epoch, 1; in a fit resumed
    from a checkpoint it is 0 or less when the best epoch came before the checkpoint.
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stop_reason: str = "max_epochs"
    best_epoch: int | None = None
    epochs_before: int = 0
    #: ``fit(..., metrics=["accuracy"])``: ``{"accuracy": [...], "val_accuracy": [...]}`` per epoch
    metrics: dict[str, list[float]] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain lists and numbers, with ``epochs`` (the epochs of this fit) and
        each metric of ``metrics`` under its own name ("accuracy", "val_accuracy", ...)."""
        return {
            "loss": list(self.loss),
            "val_loss": list(self.val_loss),
            "lr": list(self.lr),
            "epoch_time": list(self.epoch_time),
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs,
            "epochs_before": self.epochs_before,
            # per-epoch metrics sit beside "loss" and "val_loss": "accuracy", "val_accuracy", ...
            **{name: list(values) for name, values in self.metrics.items()},
        }

    @property
    def last_epoch_mean_loss(self) -> float | None:
        """The mean J during the last epoch (``loss[-1]``), or None before any epoch; not the J
        of the trained network (see the class docstring)."""
        return self.loss[-1] if self.loss else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The inverse of :meth:`to_dict` (``epochs`` is derived, not read)."""
        return cls(
            loss=[float(x) for x in data.get("loss", [])],
            val_loss=[float(x) for x in data.get("val_loss", [])],
            lr=[float(x) for x in data.get("lr", [])],
            epoch_time=[float(x) for x in data.get("epoch_time", [])],
            stop_reason=str(data.get("stop_reason", "max_epochs")),
            best_epoch=data.get("best_epoch"),
            epochs_before=int(data.get("epochs_before", 0)),
        )

    def __repr__(self) -> str:
        last = (
            f", mean J during epoch {self.epochs_before + self.epochs}={self.loss[-1]:.6g}"
            if self.loss
            else ""
        )
        return f"History(epochs={self.epochs}{last}, stop_reason={self.stop_reason!r})"


def training_checkpoint(net: Network, history: History | dict[str, Any]) -> dict[str, Any]:
    """What resuming ``net``'s training needs, for :func:`bpcore.io.save`'s ``training``: the
    optimizer's moments ``m``, ``s`` and step count, the epoch count and ``history`` (every
    epoch so far). Raises ValueError before the first fit (there is no optimizer state yet)."""
    state = net.training_state()
    if state.optimizer is None:
        raise ValueError("the network has not been trained yet: there is no state to checkpoint")
    m, s, steps = state.optimizer.state()
    record = history.to_dict() if isinstance(history, History) else dict(history)
    out = {
        "m": m,
        "s": s,
        "steps": int(steps),
        "epochs": int(state.epochs),
        "optimizer": state.optimizer.config.kind,
        "history": record,
    }
    if state.early_stopping is not None:
        out["early_stopping"] = state.early_stopping.to_record()
    return out


def restore_training(net: Network, record: dict[str, Any], **fit_options: Any) -> History:
    """Give ``net`` the optimizer state and epoch count of a checkpoint (from
    :func:`bpcore.io.load_checkpoint`), so that ``fit(..., warm_start=True)`` with the same
    settings continues exactly where the checkpoint's run stopped (with ``early_stopping``, from
    the checkpoint's best J, epochs waited and best parameters). ``fit_options`` are the
    optimizer arguments of that run (``optimizer``, ``lr``, ``momentum``, ``beta1`` …); the
    optimizer kind must match the checkpoint's. Returns the checkpoint's history."""
    opts = dict(fit_options)
    config = _optimizer_config(
        opts.pop("optimizer", _D.optimizer),
        opts.pop("lr", _D.lr),
        opts.pop("momentum", _D.momentum),
        opts,
    )
    if opts:
        raise TypeError(f"restore_training() got unexpected options: {', '.join(sorted(opts))}")
    if config.kind != record["optimizer"]:
        raise ValueError(
            f"the checkpoint was trained with optimizer {record['optimizer']!r}; "
            f"the configuration asks for {config.kind!r}"
        )
    state = net.training_state()
    cls_opt = core.Optimizer64 if net.dtype == np.float64 else core.Optimizer32
    optimizer = cls_opt(config, net.n_params)
    optimizer.set_state(record["m"], record["s"], int(record["steps"]))
    stopping = record.get("early_stopping")
    stopper = None if stopping is None else EarlyStopping.from_record(stopping, net.n_params)
    with state.lock:
        state.optimizer = optimizer
        state.epochs = int(record["epochs"])
        state.early_stopping = stopper
    return History.from_dict(record["history"])


class EarlyStopping:
    """Stop when the monitored J has not improved by ``min_delta`` for ``patience`` epochs.

    The monitored J is the validation J when there is validation data, else the training J. With
    ``restore_best=True`` the network gets back the parameters of its best epoch.
    """

    def __init__(
        self,
        patience: int = _D.patience,
        min_delta: float = _D.min_delta,
        restore_best: bool = True,
    ):
        self.patience = v.check_positive_int(patience, "patience")
        self.min_delta = v.check_number(min_delta, "min_delta")
        self.restore_best = bool(restore_best)
        self.best = np.inf
        self.best_epoch: int | None = None
        self.best_parameters: np.ndarray | None = None
        self.wait = 0
        #: the network's epoch count when the fit started (best_epoch counts from there)
        self.epochs_before = 0
        #: set by :func:`restore_training`: the next fit with ``warm_start`` goes on with this state
        self.resumed = False

    def update(self, net: Network, epoch: int, value: float) -> bool:
        """Record an epoch's J; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_parameters = net.parameters.copy()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, net: Network) -> None:
        if self.restore_best and self.best_parameters is not None:
            net.parameters[...] = self.best_parameters

    def to_record(self) -> dict[str, Any]:
        """The state a checkpoint keeps: the best J, its epoch as the network's epoch count (so
        that it means the same in the fit that resumes), the epochs waited and the best epoch's
        parameters (or None)."""
        return {
            "best": None if np.isinf(self.best) else float(self.best),
            "best_epoch": None if self.best_epoch is None else self.epochs_before + self.best_epoch,
            "wait": int(self.wait),
            "restore_best": self.restore_best,
            "best_parameters": self.best_parameters,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], n_params: int) -> EarlyStopping:
        """The stopper of a checkpoint (:meth:`to_record`), to go on with in a resumed fit."""
        try:
            stopper = cls(restore_best=bool(record["restore_best"]))
            best, epoch = record["best"], record["best_epoch"]
            stopper.best = np.inf if best is None else float(best)
            stopper.best_epoch = None if epoch is None else int(epoch)  # made relative in fit
            stopper.wait = int(record["wait"])
            params = record.get("best_parameters")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the checkpoint's early-stopping state is invalid: {exc!r}") from None
        if params is not None:
            stopper.best_parameters = np.array(params, copy=True).reshape(n_params)
        stopper.resumed = True
        return stopper


class ModelCheckpoint:
    """A callback that saves the network every ``every`` epochs (:func:`bpcore.io.save`: atomic, an
    existing file is replaced only by a complete one).

    ``path`` may contain ``{epoch}`` (the network's epoch count, counting earlier fits). In
    distributed training (``fit(..., comm=...)``) only rank 0 writes: the ranks' parameters are
    identical. The model file's metadata records the epoch and its J.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        every: int = 1,
        history: History | None = None,
        **metadata: object,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise TypeError(f"path must be a file path; got {path!r}")
        self.path = os.fspath(path)
        self.every = v.check_positive_int(every, "every")
        self.written: list[str] = []
        #: every epoch seen so far (after ``history``, the epochs of earlier fits, if given); the
        #: checkpoints carry it, with the optimizer state, for :func:`restore_training`
        self.history = History() if history is None else History.from_dict(history.to_dict())
        self.metadata = metadata

    def on_epoch_end(self, net: Network, epoch: int, logs: dict[str, float]) -> bool:
        h = self.history
        h.loss.append(float(logs["loss"]))
        h.lr.append(float(logs.get("lr", 0.0)))
        h.epoch_time.append(float(logs.get("time", 0.0)))
        if "val_loss" in logs:
            h.val_loss.append(float(logs["val_loss"]))
        if logs.get("rank", 0) != 0 or epoch % self.every:
            return False
        self.save(net)
        return False

    def save(self, net: Network, path: str | os.PathLike[str] | None = None) -> str:
        """Write a checkpoint of ``net`` now (to ``path``, default this callback's); returns the
        file name."""
        state = net.training_state()
        total = state.epochs
        target = self.path.replace("{epoch}", str(total)) if path is None else os.fspath(path)
        meta: dict[str, object] = {**self.metadata, "epoch": str(total)}
        if self.history.loss:
            meta["loss"] = repr(self.history.loss[-1])
        if self.history.val_loss:
            meta["val_loss"] = repr(self.history.val_loss[-1])
        from ._modelfile import write_network

        write_network(net, target, training=training_checkpoint(net, self.history), **meta)
        self.written.append(target)
        return target

    def __repr__(self) -> str:
        return f"ModelCheckpoint({self.path!r}, every={self.every})"


def _optimizer_config(
    optimizer: str, lr: float, momentum: float, options: dict[str, Any]
) -> OptimizerConfig:
    """The core's OptimizerConfig of fit's arguments; the core checks every range (its messages
    name the field; fit's names ``optimizer`` and ``lr_schedule`` are put back)."""
    v.check_choice(optimizer, "optimizer", OPTIMIZERS)
    given: dict[str, object] = {"optimizer": optimizer, "lr": lr, "momentum": momentum}
    if "lr_schedule" in options:
        given["lr_schedule"] = v.check_choice(options.pop("lr_schedule"), "lr_schedule", SCHEDULES)
    for field_name in OPTIMIZER_DEFAULTS:
        name = OPTION_NAMES.get(field_name, field_name)
        if name in options:
            given[name] = options.pop(name)
    fields: dict[str, object] = {}
    for name, value in given.items():
        field_name = FIELD_NAMES.get(name, name)
        default = OPTIMIZER_DEFAULTS[field_name]
        if isinstance(default, str):
            fields[field_name] = value
        elif isinstance(default, tuple):
            fields[field_name] = _as_pair(value, name)
        elif isinstance(default, int):  # not bool: no OptimizerConfig field is a bool
            fields[field_name] = v.as_integer(value, name)
        else:
            fields[field_name] = v.as_number(value, name)
    try:
        return optimizer_config(**fields)
    except (TypeError, ValueError) as exc:
        raise type(exc)(_fit_names(str(exc))) from None


def _as_pair(value: object, name: str) -> tuple[float, float]:
    """A pair of numbers such as ``etas=(0.5, 1.2)``; the core checks the range."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:  # type: ignore[arg-type]
        raise TypeError(f"{name} must be a pair of numbers; got {value!r}")
    first, second = value  # type: ignore[misc]
    return (v.as_number(first, name), v.as_number(second, name))


def _full_batch_size(optimizer: str, batch_size: int | None, sharded: bool) -> int | None:
    """The batch size of a full-batch optimizer (None: the full batch), or a ValueError when a
    batch size is given for one; other optimizers' batch_size is returned as it is."""
    if not OPTIMIZER_INFO[optimizer].full_batch:
        return batch_size
    if batch_size is not None and not isinstance(batch_size, _DefaultBatchSize):
        raise ValueError(
            f"batch_size must be None for optimizer {optimizer!r}: it trains on the full batch, "
            f"one iteration per epoch; got {batch_size!r}"
        )
    if sharded and optimizer != "rprop":
        raise ValueError(f"optimizer {optimizer!r} does not train data-parallel (comm); use rprop")
    return None


def _check_poisson_targets(loss: str, Y: np.ndarray, name: str) -> None:
    """The poisson loss needs y ≥ 0 (its J has y log y): a ValueError before training."""
    if loss == "poisson" and Y.size and not (Y >= 0).all():
        raise ValueError(
            f"{name} must be non-negative for loss 'poisson' (counts or rates); got a minimum of "
            f"{float(np.nanmin(Y)) if not np.isnan(Y).all() else float('nan')}"
        )


# The optimizers whose epoch is one iteration of the core's fullbatch_epoch (rprop, full batch
# too, steps in train_epoch like the mini-batch rules).
_FULLBATCH_EPOCH = ("lbfgs", "lm")
# The statuses of a finished epoch that end a fit (lbfgs and lm).
_FULLBATCH_STOPS = ("converged", "stalled")


def _epoch_function(net: Network, config: OptimizerConfig) -> Callable[..., Any]:
    """The core's epoch for this optimizer: lbfgs and lm run one full-batch iteration of
    ``fullbatch_epoch``; every other optimizer (rprop too, on the full batch) ``train_epoch``."""
    double = net.dtype == np.float64
    if config.kind not in _FULLBATCH_EPOCH:
        return core.train_epoch64 if double else core.train_epoch32
    step = core.fullbatch_epoch64 if double else core.fullbatch_epoch32

    def epoch(core_net: Any, opt: Any, X: Any, Y: Any, w: Any, eopts: Any, reduce: Any) -> Any:
        return step(core_net, opt, X, Y, w, eopts)

    return epoch


def _fit_names(message: str) -> str:
    for field_name, name in OPTION_NAMES.items():
        if message.startswith(field_name + " "):
            return name + message[len(field_name) :]
    return message


def fit(
    net: Network,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    epochs: int = _D.epochs,
    batch_size: int | None = _D.batch_size,
    lr: float = _D.lr,
    optimizer: str = _D.optimizer,
    momentum: float = _D.momentum,
    tol: float | None = None,
    shuffle: bool = _D.shuffle,
    n_threads: int | None = None,
    seed: int = _D.seed,
    callbacks: Callback | Sequence[Callback] | None = None,
    comm: Intracomm | None = None,
    **options: Unpack[FitOptions],
) -> History:
    """Train ``net`` on (X, Y) and return the :class:`History`.

    X may be a ``scipy.sparse`` matrix or array (and so may X_val): it is converted once to CSR
    and only its stored values are read by the first layer; it is never densified.

    Parameters
    ----------
    epochs : int
        Most epochs to run.
    batch_size : int or None
        Samples per update: 1 is the notes' online BP; None is the full batch. The last, partial
        batch is kept unless ``drop_last=True``.
    lr : float
        Learning rate α of W ← W − α ∂J/∂W.
    optimizer : {"sgd", "momentum", "nesterov", "adam", "rprop", "lbfgs", "lm"}
        ``sgd`` is the notes' rule. ``momentum`` is μ of momentum and nesterov (unused otherwise).
        ``rprop``, ``lbfgs`` and ``lm`` train on the full batch, one iteration per epoch (see
        docs/optimizers.md); ``batch_size`` must then be left out or None.
    tol : float or None
        The notes' ε: stop after the first epoch whose mean J < ε.
    shuffle : bool
        Visit the samples in a new seeded order every epoch.
    n_threads : int or None
        Threads over the batch; None is OpenMP's default (with ``comm``: the node's CPUs shared
        among its ranks). Results are bitwise the same for any thread count.
    seed : int
        Seed of the shuffling and of the dropout masks (and of the validation split).
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
    etas, step_sizes : (float, float)
        Of rprop: (η−, η+) = (0.5, 1.2) and (Δmin, Δmax) = (1e-6, 50); ``lr`` is the first Δ.
    history_size, max_fun : int
        Of lbfgs: curvature pairs kept (10), most J evaluations per line search (20).
    grad_tol, loss_tol : float
        Of lbfgs and lm: stop (``"converged"``) when ‖∂J/∂θ‖ ≤ grad_tol or J changed by at most
        loss_tol · max(|J|, 1).
    drop_last : bool
    warm_start : bool
        Keep the optimizer state and epoch count of an earlier fit (default True). False resets them.
    verbose : bool
        One line per epoch (J, J_val and the metrics): printed, or logged through the ``bpcore``
        logger when logging is set up for it.
    progress : bool
        A ``tqdm.auto`` progress bar over the epochs (a widget in Jupyter) showing J and J_val.
    metrics : list of str
        Scores recorded per epoch in ``History.metrics`` and passed to callbacks in ``logs``:
        ``"accuracy"`` (the class of Ŷ is the class of Y) and ``"mae"``, on the training data
        after the epoch, and as ``"val_accuracy"``, ``"val_mae"`` on the validation data.

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
    # With comm every rank learns whether every rank's arguments were good, so none is left
    # waiting in a collective call for a rank that raised.
    strategy = strategy_for(comm)
    state = net.training_state()
    error: Exception | None = None
    try:
        run = _prepare(
            net,
            X,
            Y,
            epochs,
            batch_size,
            lr,
            optimizer,
            momentum,
            tol,
            shuffle,
            n_threads,
            seed,
            callbacks,
            strategy.sharded,
            dict(options),
        )  # type: ignore[arg-type]
    except Exception as exc:
        error = exc
    if error is None and not state.fitting.acquire(blocking=False):
        error = RuntimeError("fit() is already running on this network")
    try:
        strategy.agree(error, "fit()")
    except BaseException:
        if error is None:
            state.fitting.release()
        raise
    try:
        with state.lock:
            strategy.join(run, net)
            return _train(net, run, strategy)
    finally:
        state.fitting.release()


@dataclass
class FitRun:
    """A fit's checked settings and data (this rank's shard, with ``comm``); what a
    :class:`~bpcore._parallel.Strategy` sees of the fit."""

    config: OptimizerConfig
    epochs: int
    tol: float | None
    seed: int
    threads: int
    X: Any  # a C-ordered array, or a CSR matrix for a sparse X (as X_val)
    Y: np.ndarray
    w: np.ndarray | None
    X_val: Any
    Y_val: np.ndarray | None
    batch: int  # 0: the full batch
    shuffle: bool
    drop_last: bool
    warm_start: bool
    verbose: bool
    stopper: EarlyStopping | None
    callbacks: list[Callback]
    global_rows: int = 0
    row_offset: int = 0
    metrics: list[str] = field(default_factory=list)
    progress: bool = False


def _prepare(
    net: Network,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    epochs: int,
    batch_size: int | None,
    lr: float,
    optimizer: str,
    momentum: float,
    tol: float | None,
    shuffle: bool,
    n_threads: int | None,
    seed: int,
    callbacks: Callback | Sequence[Callback] | None,
    sharded: bool,
    opts: dict[str, Any],
) -> FitRun:
    """Check every argument and convert the data; touches neither the network nor other ranks.

    ``sharded``: X is this rank's shard (it may be empty; totals are checked in the strategy's
    ``join``)."""
    sample_weight = opts.pop("sample_weight", None)
    validation_data = opts.pop("validation_data", None)
    validation_fraction = opts.pop("validation_fraction", None)
    early = opts.pop("early_stopping", _D.early_stopping)
    patience = opts.pop("patience", _D.patience)
    min_delta = opts.pop("min_delta", _D.min_delta)
    drop_last = v.check_flag(opts.pop("drop_last", _D.drop_last), "drop_last")
    warm_start = v.check_flag(opts.pop("warm_start", _D.warm_start), "warm_start")
    verbose = v.check_flag(opts.pop("verbose", _D.verbose), "verbose")
    progress = v.check_flag(opts.pop("progress", False), "progress")
    metrics = check_metrics(opts.pop("metrics", None))
    shuffle = v.check_flag(shuffle, "shuffle")
    early = v.check_flag(early, "early_stopping")
    config = _optimizer_config(optimizer, lr, momentum, opts)
    batch_size = _full_batch_size(optimizer, batch_size, sharded)
    if OPTIMIZER_INFO[optimizer].full_batch and any(net.dropout):
        mini = ", ".join(name for name, info in OPTIMIZER_INFO.items() if not info.full_batch)
        raise ValueError(
            f"dropout needs a mini-batch optimizer: optimizer {optimizer!r} trains on the full "
            f"batch, and the network has dropout={net.dropout}; use one of {mini}, or build "
            "the network with dropout=0"
        )
    if opts:
        raise TypeError(f"fit() got unexpected keyword arguments: {', '.join(sorted(opts))}")

    epochs = v.check_positive_int(epochs, "epochs")
    if tol is not None:
        tol = v.check_number(tol, "tol")
    seed = v.check_seed(seed)
    threads = v.check_threads(n_threads)

    d, q = net.sizes[0], net.sizes[-1]
    Xc = v.as_input(X, "X", net.dtype, d, allow_empty=sharded)
    Yc = v.as_targets(Y, "Y", net.dtype, q, Xc.shape[0])
    w = v.as_sample_weight(sample_weight, net.dtype, Xc.shape[0], require_positive=not sharded)
    _check_poisson_targets(net.loss_name, Yc, "Y")
    Xv = Yv = None
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_data is not None:
        try:
            Xv_raw, Yv_raw = validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a pair (X_val, Y_val)") from None
        Xv = v.as_input(Xv_raw, "X_val", net.dtype, d, allow_empty=sharded)
        Yv = v.as_targets(Yv_raw, "Y_val", net.dtype, q, Xv.shape[0])
        _check_poisson_targets(net.loss_name, Yv, "Y_val")
    elif validation_fraction is not None:
        frac = v.check_number(validation_fraction, "validation_fraction")
        if not 0 < frac < 1:
            raise ValueError(f"validation_fraction must be in (0, 1); got {validation_fraction!r}")
        train_idx, val_idx = v.validation_split(Xc.shape[0], frac, seed)
        Xv, Yv = Xc[val_idx], Yc[val_idx]
        Xc, Yc = Xc[train_idx], Yc[train_idx]
        if is_sparse(Xc):  # row selections of a CSR matrix, in the core's canonical form again
            Xv = v.as_input(Xv, "X", net.dtype, d)
            Xc = v.as_input(Xc, "X", net.dtype, d)
        w = None if w is None else w[train_idx]

    if batch_size is None:
        batch = 0
    else:
        batch = v.check_positive_int(batch_size, "batch_size")
        n = Xc.shape[0]
        if batch > n and not sharded:  # with comm: checked against all ranks' rows in _join
            raise ValueError(
                f"batch_size must be at most the number of training samples ({n}); "
                f"got {batch}; use batch_size=None for the full batch"
            )
    stopper = EarlyStopping(patience, min_delta) if early else None
    cbs: list[Callback]
    if callbacks is None:
        cbs = []
    elif callable(callbacks) or hasattr(callbacks, "on_epoch_end"):
        cbs = [callbacks]
    else:
        try:
            cbs = list(callbacks)
        except TypeError:
            raise TypeError(
                f"callbacks must be a callable or a sequence of callables; got {callbacks!r}"
            ) from None
    for cb in cbs:
        if not (callable(cb) or hasattr(cb, "on_epoch_end")):
            raise TypeError(f"callbacks must be callables or have on_epoch_end; got {cb!r}")
    return FitRun(
        config,
        epochs,
        tol,
        seed,
        threads,
        Xc,
        Yc,
        w,
        Xv,
        Yv,
        batch,
        shuffle,
        drop_last,
        warm_start,
        verbose,
        stopper,
        cbs,
        metrics=metrics,
        progress=progress,
    )


def _train(net: Network, run: FitRun, strategy: Strategy) -> History:
    state = net.training_state()
    config = run.config
    cls_opt = core.Optimizer64 if net.dtype == np.float64 else core.Optimizer32
    if not run.warm_start or state.optimizer is None:
        state.optimizer = cls_opt(config, net.n_params)
        state.epochs = 0
    else:
        state.optimizer.config = config
    opt = state.optimizer
    if config.kind in _FULLBATCH_EPOCH:
        opt.reset()  # each fit starts the L-BFGS memory and lm's damping afresh
    stopper = run.stopper
    resumed = state.early_stopping
    if stopper is not None and run.warm_start and resumed is not None and resumed.resumed:
        # a fit after restore_training goes on with the checkpoint's early-stopping state
        for name in ("best", "best_parameters", "wait", "restore_best"):
            setattr(stopper, name, getattr(resumed, name))
        if resumed.best_epoch is not None:
            stopper.best_epoch = resumed.best_epoch - state.epochs  # 0 or less: before this fit
    if stopper is not None:
        stopper.epochs_before = state.epochs
    state.early_stopping = stopper  # what a checkpoint written during or after this fit keeps
    train = _epoch_function(net, config)
    X_core = core_matrix(run.X)  # a CSR X: the core's view of its arrays, made once
    eopts = core.EpochOptions(
        batch_size=run.batch,
        shuffle=run.shuffle,
        drop_last=run.drop_last,
        seed=run.seed,
        epoch=state.epochs,
        n_threads=run.threads,
        global_rows=run.global_rows,
        row_offset=run.row_offset,
    )
    reduce = strategy.reducer()
    rank, size = strategy.rank, strategy.size
    hist = History(epochs_before=state.epochs)
    report = _epoch_report(run, strategy)
    interrupts = _InterruptsBetweenEpochs(active=not strategy.sharded)
    try:
        interrupts.__enter__()
        first = 1
        between = report.active or stopper or run.callbacks or run.X_val is not None
        # nothing to do between epochs (a CSR X takes the loop: its epochs dwarf a round trip)
        if reduce is None and not between and not is_sparse(run.X):
            first = _train_in_one_call(state, opt, run, eopts, hist, interrupts)
        for e in range(first, run.epochs + 1):
            interrupts.check()
            eopts.epoch = state.epochs
            t0 = time.perf_counter()
            result = train(state.core_net, opt, X_core, run.Y, run.w, eopts, reduce)
            if result.status == "interrupted":  # another rank was interrupted (Ctrl-C)
                raise KeyboardInterrupt
            if result.status == "nonfinite":
                raise TrainingDivergedError(
                    f"training diverged in epoch {e}: the loss J became NaN or infinite; the "
                    f"network keeps the weights after epoch {e - 1}. Lower lr (now "
                    f"{config.lr:g}) or standardise the inputs.",
                    e,
                    hist,
                )
            state.epochs += 1
            J = result.loss
            hist.loss.append(J)
            hist.lr.append(result.lr)
            logs: dict[str, float] = {"loss": J, "lr": result.lr}
            if run.X_val is not None:
                J_val = _validation_loss(net, run, strategy)
                hist.val_loss.append(J_val)
                logs["val_loss"] = J_val
            hist.epoch_time.append(time.perf_counter() - t0)
            logs["time"] = hist.epoch_time[-1]
            logs["rank"], logs["size"] = rank, size
            report.epoch_end(net, e, logs, hist.metrics)
            # J and J_val are the same on every rank, so these stops are taken by all alike
            if run.tol is not None and J < run.tol:
                hist.stop_reason = "tol"
                break
            if stopper is not None and stopper.update(net, e, logs.get("val_loss", J)):
                hist.stop_reason = "early_stopping"
                break
            if _callbacks_stop(run.callbacks, net, e, logs, strategy):
                hist.stop_reason = "callback"
                break
            if result.status in _FULLBATCH_STOPS:  # lbfgs and lm
                hist.stop_reason = result.status
                break
        interrupts.check()
    except KeyboardInterrupt:
        # Inside the core the epoch was rolled back; between epochs every epoch is whole.
        hist.stop_reason = "interrupted"
        logger().info("training interrupted after %d finished epochs", hist.epochs)
    finally:
        interrupts.__exit__()
        report.close()
    if stopper is not None:
        hist.best_epoch = stopper.best_epoch
        if hist.stop_reason != "interrupted":
            stopper.restore(net)
    return hist


def _train_in_one_call(
    state: Any, opt: Any, run: FitRun, eopts: Any, hist: History, interrupts: Any
) -> int:
    """The epochs of a fit with no work between them, in few core calls (``train_epochs``); the
    same epochs, J, stops and Ctrl-C as the loop in :func:`_train`, without a round trip per
    epoch. Records each finished epoch and returns the number of the next one for the loop: past
    the last, or (on a non-finite J, rolled back by the core) that epoch, which the loop runs
    again and reports. A Ctrl-C passes on after the finished epochs are recorded. The epochs go
    in chunks that double while a chunk takes under 0.05 s; a Ctrl-C that Python held between two
    core calls is raised before the next chunk, so it is never more than a chunk late."""
    train = core.train_epochs64 if run.X.dtype == np.float64 else core.train_epochs32
    chunk = 16
    ended = ""  # "converged" or "stalled" (lbfgs and lm): a finished epoch that ends the fit
    while hist.epochs < run.epochs and not ended:
        interrupts.check()
        n = min(chunk, run.epochs - hist.epochs)
        before = hist.epochs
        t0 = time.perf_counter()
        try:
            eopts.epoch = state.epochs
            # the core appends each finished epoch's J, lr and seconds to the history's lists
            lists = (hist.loss, hist.lr, hist.epoch_time)
            status = train(state.core_net, opt, run.X, run.Y, run.w, eopts, n, run.tol, *lists)
        finally:
            state.epochs += hist.epochs - before
        if status in _FULLBATCH_STOPS:
            ended = status
        stopped = hist.epochs - before < n or status != "ok"
        if stopped or (run.tol is not None and hist.loss and hist.loss[-1] < run.tol):
            break  # the core stopped: a non-finite J, tol met, or lbfgs / lm done
        if time.perf_counter() - t0 < 0.05:
            chunk *= 2
    if hist.loss and run.tol is not None and hist.loss[-1] < run.tol:
        hist.stop_reason = "tol"  # the core stopped after this epoch
        return run.epochs + 1
    if ended:
        hist.stop_reason = ended
        return run.epochs + 1
    return hist.epochs + 1


class _InterruptsBetweenEpochs:
    """Ctrl-C during a single-process fit always ends on a whole, recorded epoch.

    Inside an epoch of the core, SIGINT interrupts at once: the core rolls the epoch back and
    ``train_epoch`` raises KeyboardInterrupt. Between epochs, while Python records the epoch the
    core has just finished (its J, the epoch count, callbacks), the signal is held and raised
    before the next epoch starts, so no finished epoch is lost half-recorded and a checkpoint of
    the interrupted run resumes exactly. Only in the main thread, and only while SIGINT has
    Python's default handler (a handler of the user's own is left alone); data-parallel fits
    keep the default, since the ranks decide a stop together.
    """

    def __init__(self, active: bool) -> None:
        self.active = active
        self.pending = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptsBetweenEpochs:
        import signal  # here, not at import: only a fit takes Ctrl-C over

        if (
            self.active
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: object) -> None:
        if core.in_epoch_poll():
            raise KeyboardInterrupt
        self.pending = True

    def check(self) -> None:
        """Raise the held Ctrl-C, if any: called where every finished epoch is recorded."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            import signal

            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _epoch_report(run: FitRun, strategy: Strategy) -> EpochReport:
    """The metrics, verbose line and progress bar of each epoch (:mod:`bpcore._report`)."""
    validation = None if run.X_val is None or run.Y_val is None else (run.X_val, run.Y_val)
    return EpochReport(
        metrics=run.metrics,
        verbose=run.verbose,
        progress=run.progress,
        epochs=run.epochs,
        data=(run.X, run.Y),
        validation=validation,
        strategy=strategy,
        threads=run.threads or None,
    )


def _validation_loss(net: Network, run: FitRun, strategy: Strategy) -> float:
    assert run.X_val is not None and run.Y_val is not None
    n = run.X_val.shape[0]
    core_net = net.training_state().core_net
    J = float(core_net.loss(core_matrix(run.X_val), run.Y_val, None, run.threads)) if n else 0.0
    return strategy.mean_loss(J, n)


def _callbacks_stop(
    cbs: list[Callback], net: Network, epoch: int, logs: dict[str, float], strategy: Strategy
) -> bool:
    """Run the callbacks; True when one asks to stop (with ``comm``, the ranks decide together,
    see :meth:`bpcore.distributed.DataParallel.decide_stop`)."""

    def run() -> bool:
        try:
            return any(_call(cb, net, epoch, logs) for cb in cbs)
        except StopTraining:
            return True

    return strategy.decide_stop(run, epoch)


def _call(cb: Callback, net: Network, epoch: int, logs: dict[str, float]) -> bool:
    fn: Callable[..., object] = cb.on_epoch_end if hasattr(cb, "on_epoch_end") else cb
    return bool(fn(net, epoch, logs))
