"""Configuration of a training run: typed sections, TOML files, and :func:`train_from_config`.

A configuration has four sections, each a dataclass checked when it is created:

- ``[network]`` (:class:`NetworkConfig`): hidden layer sizes and activations, output activation,
  loss J, dtype, initialisation. The input size d and output size q come from the data.
- ``[training]`` (:class:`TrainingConfig`): the arguments of :meth:`bpcore.Network.fit`.
- ``[data]`` (:class:`DataConfig`): a built-in data set or a CSV/.npy/.npz file, the target
  column, standardisation, one-hot targets, the seeded validation split.
- ``[output]`` (:class:`OutputConfig`): the folder and file names a run writes.

Every field has a default; the defaults are the notes' example: the 4-5-3 network on Iris with
standardised features, sigmoid hidden and output layers, J = ½ Σ e² on one-hot targets, online SGD
(batch size 1) with α = 0.5 for 100 epochs, seed 0. Unknown keys and bad values raise
:class:`ConfigError` naming the field and what it accepts.
"""

from __future__ import annotations

import csv
import difflib
import io as _io
import json
import logging
import math
import numbers
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np

from . import _validation as v
from ._atomic import PathLike
from ._names import (
    ACTIVATION_INFO,
    ACTIVATIONS,
    DTYPES,
    HIDDEN_ACTIVATIONS,
    INITS,
    LOSS_INFO,
    LOSSES,
    OPTIMIZER_DEFAULTS,
    OPTIMIZER_INFO,
    OPTIMIZERS,
    SCHEDULES,
    optimizer_config,
)
from .dataio import BUILTIN_DATASETS, FILE_SUFFIXES
from .training import FIT_DEFAULTS as _D
from .training import OPTION_NAMES

if TYPE_CHECKING:
    from mpi4py.MPI import Intracomm

    from .dataio import Table
    from .network import Network
    from .preprocessing import Preprocessing
    from .training import Callback, History

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "NetworkConfig",
    "OutputConfig",
    "TrainingConfig",
    "TrainingRun",
    "dumps_toml",
    "load_config",
    "save_config",
    "train_from_config",
]

log = logging.getLogger("bpcore")

GENERATED_DATASETS = tuple(n for n in BUILTIN_DATASETS if n != "iris")
TASKS = ("auto", "classification", "regression")

#: Settings a built-in data set brings for the keys a configuration leaves out. The four XOR
#: points are learnt by the notes' 2-5-1 sigmoid network with online SGD (α = 0.5) on the raw
#: 0/1 inputs in 2500 epochs (10 000 updates); in 100 epochs, or standardised, it stays at 50 %.
BUILTIN_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "xor": {"data": {"standardize": False}, "training": {"epochs": 2500}},
}


_T = TypeVar("_T")


class ConfigError(ValueError):
    """A configuration value or key that bpcore does not accept; the message names the field."""


# ---------------------------------------------------------------------- field checks
def _fail(where: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{where} must be {expected}; got {value!r}")


def _toml(check: Callable[..., _T], value: object, where: str, **bounds: Any) -> _T:
    """Run a check of bpcore._validation in its configuration wording, as a ConfigError."""
    try:
        return check(value, where, style="toml", **bounds)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _int(where: str, value: object, minimum: int) -> int:
    return _toml(v.check_int, value, where, minimum=minimum)


def _float(where: str, value: object, **bounds: Any) -> float:
    return _toml(v.check_real, value, where, **bounds)


def _bool(where: str, value: object) -> bool:
    return _toml(v.check_flag, value, where)


def _choice(where: str, value: object, valid: tuple[str, ...]) -> str:
    return _toml(v.check_choice, value, where, valid=valid)


def _str(where: str, value: object, *, empty: bool = False, suffixes: tuple[str, ...] = ()) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise _fail(where, "a non-empty string" if not empty else "a string", value)
    if value and suffixes and not value.lower().endswith(suffixes):
        raise _fail(
            where,
            f"a file name ending in {' or '.join(suffixes)}"
            + (' (or "" to skip it)' if empty else ""),
            value,
        )
    return value


# ---------------------------------------------------------------------- sections
@dataclass
class NetworkConfig:
    """``[network]``: the architecture of ``bpcore.Network([d, *hidden, q], ...)``.

    Attributes
    ----------
    hidden : list of int
        n_1 … n_{L-1}, the hidden layer sizes; ``[]`` is a network with no hidden layer.
    activation : str or list of str
        f of the hidden layers, one name or one per hidden layer (identity, sigmoid, tanh, relu,
        prelu).
    output_activation : str
        f^[L] (identity, sigmoid, tanh, relu, prelu, softmax).
    loss : str
        mse (J = ½ Σ e²), cross_entropy (with softmax), binary_cross_entropy (with sigmoid).
    dtype, init, init_scale, seed
        As in :class:`bpcore.Network`.
    dropout : float or list of float
        Inverted dropout in training: the rate p_l in [0, 1) of every hidden layer (one number)
        or of each (one per hidden layer); 0 is none. The masks follow ``training.seed``. Not
        with the full-batch optimizers (rprop, lbfgs, lm).
    """

    hidden: list[int] = field(default_factory=lambda: [5])
    activation: str | list[str] = "sigmoid"
    output_activation: str = "sigmoid"
    loss: str = "mse"
    dtype: str = "float64"
    init: str = "small_uniform"
    init_scale: float = 0.1
    seed: int = 0
    dropout: float | list[float] = 0.0

    def __post_init__(self) -> None:
        s = "network"
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, (list, tuple)):
            raise _fail(
                f"{s}.hidden", "a list of positive integers (hidden layer sizes)", self.hidden
            )
        self.hidden = [_int(f"{s}.hidden[{i}]", n, 1) for i, n in enumerate(self.hidden)]
        if isinstance(self.activation, (list, tuple)):
            acts = [
                _choice(f"{s}.activation[{i}]", a, HIDDEN_ACTIVATIONS)
                for i, a in enumerate(self.activation)
            ]
            if len(acts) != len(self.hidden):
                raise ConfigError(
                    f"{s}.activation lists {len(acts)} names but {s}.hidden has "
                    f"{len(self.hidden)} layers; give one name per hidden layer or "
                    "a single name"
                )
            self.activation = acts
        else:
            self.activation = _choice(f"{s}.activation", self.activation, HIDDEN_ACTIVATIONS)
        self.output_activation = _choice(
            f"{s}.output_activation", self.output_activation, ACTIVATIONS
        )
        self.loss = _choice(f"{s}.loss", self.loss, LOSSES)
        self.dtype = _choice(f"{s}.dtype", self.dtype, DTYPES)
        self.init = _choice(f"{s}.init", self.init, INITS)
        self.init_scale = _float(f"{s}.init_scale", self.init_scale, low=0, low_open=True)
        self.seed = _int(f"{s}.seed", self.seed, 0)
        try:
            rates = v.check_dropout(self.dropout, len(self.hidden), f"{s}.dropout")
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        single = not isinstance(self.dropout, (list, tuple))
        self.dropout = float(self.dropout) if single else rates  # type: ignore[arg-type]
        _check_pairing(self.output_activation, self.loss)


def _check_pairing(output_activation: str, loss: str) -> None:
    """The loss table's rule: a loss that needs an output activation gets it, and an output-only
    activation (softmax, whose f′ is no element-wise factor) goes only with a loss made for it."""
    required = LOSS_INFO[loss].output_activation
    if required is not None and output_activation != required:
        problem = f"loss {loss!r} needs output_activation {required!r}"
    elif not ACTIVATION_INFO[output_activation].hidden and required != output_activation:
        partners = [
            name for name, info in LOSS_INFO.items() if info.output_activation == output_activation
        ]
        problem = (
            f"output_activation {output_activation!r} goes with loss {' or '.join(partners)} only"
        )
    else:
        return
    raise ConfigError(
        f"network.output_activation and network.loss do not go together: {problem}; "
        f"got {output_activation!r} and {loss!r}"
    )


@dataclass
class TrainingConfig:
    """``[training]``: the arguments of :meth:`bpcore.Network.fit`.

    ``batch_size = "full"`` trains on the full batch; ``tol`` (the notes' ε) and ``n_threads`` are
    optional (omitted: no ε, OpenMP's default thread count).
    """

    epochs: int = _D.epochs
    batch_size: int | str = _D.batch_size
    lr: float = _D.lr
    optimizer: str = _D.optimizer
    momentum: float = _D.momentum
    beta1: float = _D.beta1
    beta2: float = _D.beta2
    epsilon: float = _D.epsilon
    weight_decay: float = _D.weight_decay
    lr_schedule: str = _D.lr_schedule
    power_t: float = _D.power_t
    step_size: int = _D.step_size
    gamma: float = _D.gamma
    etas: tuple[float, float] = _D.etas
    step_sizes: tuple[float, float] = _D.step_sizes
    history_size: int = _D.history_size
    max_fun: int = _D.max_fun
    grad_tol: float = _D.grad_tol
    loss_tol: float = _D.loss_tol
    tol: float | None = None
    shuffle: bool = _D.shuffle
    drop_last: bool = _D.drop_last
    seed: int = _D.seed
    n_threads: int | None = None
    early_stopping: bool = _D.early_stopping
    patience: int = _D.patience
    min_delta: float = _D.min_delta

    def __post_init__(self) -> None:
        s = "training"
        self.epochs = _int(f"{s}.epochs", self.epochs, 1)
        info = OPTIMIZER_INFO.get(self.optimizer) if isinstance(self.optimizer, str) else None
        if info is not None and info.full_batch and self.batch_size is _D.batch_size:
            self.batch_size = "full"  # rprop, lbfgs, lm train on the full batch
        if self.batch_size != "full":
            if isinstance(self.batch_size, str):
                raise _fail(f"{s}.batch_size", 'a positive integer or "full"', self.batch_size)
            try:
                self.batch_size = _int(f"{s}.batch_size", self.batch_size, 1)
            except ConfigError:
                raise _fail(
                    f"{s}.batch_size", 'a positive integer or "full"', self.batch_size
                ) from None
        self.optimizer = _choice(f"{s}.optimizer", self.optimizer, OPTIMIZERS)
        self.lr_schedule = _choice(f"{s}.lr_schedule", self.lr_schedule, SCHEDULES)
        self._check_optimizer_options()
        if self.tol is not None:
            self.tol = _float(f"{s}.tol", self.tol, low=0)
        self.shuffle = _bool(f"{s}.shuffle", self.shuffle)
        self.drop_last = _bool(f"{s}.drop_last", self.drop_last)
        self.seed = _int(f"{s}.seed", self.seed, 0)
        if self.n_threads is not None:
            self.n_threads = _int(f"{s}.n_threads", self.n_threads, 1)
        self.early_stopping = _bool(f"{s}.early_stopping", self.early_stopping)
        self.patience = _int(f"{s}.patience", self.patience, 1)
        self.min_delta = _float(f"{s}.min_delta", self.min_delta, low=0)

    def _check_optimizer_options(self) -> None:
        """The optimizer's options, checked by the core (``_names.optimizer_config``), whose
        message names the field and what it accepts; a value of the wrong type is shown to the
        core as NaN, so that the message still says what the field takes."""
        given: dict[str, object] = {}
        fields: dict[str, object] = {}
        for field_name, default in OPTIMIZER_DEFAULTS.items():
            name = OPTION_NAMES.get(field_name, field_name)
            value = getattr(self, name)
            given[field_name] = value
            if isinstance(default, str):
                fields[field_name] = value
            elif isinstance(default, tuple):  # a pair such as etas; NaN shows the core a bad one
                pair = list(value) if isinstance(value, (list, tuple)) and len(value) == 2 else []
                ok = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in pair)
                fields[field_name] = (
                    tuple(float(x) for x in pair) if pair and ok else (math.nan,) * 2
                )
            elif isinstance(default, int):
                try:
                    fields[field_name] = v.as_integer(value, f"training.{name}")
                except TypeError as exc:
                    raise ConfigError(str(exc)) from None
            elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                fields[field_name] = math.nan
            else:
                fields[field_name] = float(value)
        try:
            optimizer_config(**fields)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            field_name = max(
                (f for f in OPTIMIZER_DEFAULTS if message.startswith(f + " ")),
                key=len,
                default=None,
            )
            if field_name is None:
                raise ConfigError(f"training: {message}") from None
            name = OPTION_NAMES.get(field_name, field_name)
            what = message[len(field_name) :].split("; got ")[0]
            raise ConfigError(f"training.{name}{what}; got {given[field_name]!r}") from None
        for field_name, value in fields.items():
            if not isinstance(OPTIMIZER_DEFAULTS[field_name], str):
                setattr(self, OPTION_NAMES.get(field_name, field_name), value)

    def fit_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`bpcore.Network.fit`."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["batch_size"] = None if self.batch_size == "full" else self.batch_size
        return out


@dataclass
class DataConfig:
    """``[data]``: where the samples come from and how they become X and Y.

    Attributes
    ----------
    source : str
        A built-in data set (iris, xor, moons, sine) or a file path ending in .csv, .npy or .npz
        (relative paths in a config file are relative to that file).
    target : str or int
        The target column, by name (CSV with a header) or index (default -1, the last column).
        ``.npz`` files hold arrays ``X`` and ``y`` instead.
    features : list of str or int, optional
        The feature columns; default every column but the target.
    header : bool or "auto"
        Whether the first CSV row names the columns.
    delimiter : str
    task : {"auto", "classification", "regression"}
        ``auto``: classification when the target is text or boolean, or integer-valued with few
        distinct values, at most max(20, min(100, rows / 20)) (``preprocessing.TASK_RULE``);
        otherwise regression. The run says what it decided and why. A regression gets
        ``network.output_activation = "identity"`` unless the configuration sets one.
    standardize : bool
        X ← (X − mean) / std with the training split's statistics, saved with the model.
    standardize_target : bool
        Regression only: also standardise y (predictions come back in the original units).
    one_hot : bool
        Classification: one output per class with one-hot targets; False (two classes only) gives
        one 0/1 output.
    validation_fraction : float in [0, 1)
        Share of the samples held out, chosen with ``seed``.
    seed : int
        Seed of the validation split and of the generated data sets.
    n_samples, noise : optional
        Of the generated data sets (xor, moons, sine).
    """

    source: str = "iris"
    target: str | int = -1
    features: list[str | int] | None = None
    header: bool | str = "auto"
    delimiter: str = ","
    task: str = "auto"
    standardize: bool = True
    standardize_target: bool = False
    one_hot: bool = True
    validation_fraction: float = 0.0
    seed: int = 0
    n_samples: int | None = None
    noise: float | None = None

    def __post_init__(self) -> None:
        s = "data"
        if isinstance(self.source, os.PathLike):
            self.source = os.fspath(self.source)
        self.source = _str(f"{s}.source", self.source)
        if not (self.source in BUILTIN_DATASETS or self.source.lower().endswith(FILE_SUFFIXES)):
            raise _fail(
                f"{s}.source",
                f"one of {', '.join(BUILTIN_DATASETS)} or a file path ending "
                f"in {', '.join(FILE_SUFFIXES)}",
                self.source,
            )
        if isinstance(self.target, bool) or not isinstance(self.target, (str, int, np.integer)):
            raise _fail(f"{s}.target", "a column name or an integer column index", self.target)
        if isinstance(self.target, str) and not self.target:
            raise _fail(f"{s}.target", "a column name or an integer column index", self.target)
        if not isinstance(self.target, str):
            self.target = int(self.target)
        if self.features is not None:
            if isinstance(self.features, (str, bytes)) or not isinstance(
                self.features, (list, tuple)
            ):
                raise _fail(f"{s}.features", "a list of column names or indices", self.features)
            feats = []
            for i, f in enumerate(self.features):
                if isinstance(f, bool) or not isinstance(f, (str, int, np.integer)) or f == "":
                    raise _fail(f"{s}.features[{i}]", "a column name or index", f)
                feats.append(f if isinstance(f, str) else int(f))
            if not feats:
                raise _fail(f"{s}.features", "a non-empty list (or omitted for all columns)", [])
            self.features = feats
        if not (isinstance(self.header, (bool, np.bool_)) or self.header == "auto"):
            raise _fail(f"{s}.header", 'true, false or "auto"', self.header)
        if self.header != "auto":
            self.header = bool(self.header)
        if (
            not isinstance(self.delimiter, str)
            or len(self.delimiter) != 1
            or self.delimiter in '"\r\n'
        ):
            raise _fail(f"{s}.delimiter", 'a single character such as "," or ";"', self.delimiter)
        self.task = _choice(f"{s}.task", self.task, TASKS)
        self.standardize = _bool(f"{s}.standardize", self.standardize)
        self.standardize_target = _bool(f"{s}.standardize_target", self.standardize_target)
        if self.standardize_target and self.task == "classification":
            raise ConfigError(
                f"{s}.standardize_target is for regression; {s}.task is classification"
            )
        self.one_hot = _bool(f"{s}.one_hot", self.one_hot)
        self.validation_fraction = _float(
            f"{s}.validation_fraction", self.validation_fraction, low=0, high=1, high_open=True
        )
        self.seed = _int(f"{s}.seed", self.seed, 0)
        generated = self.source in GENERATED_DATASETS
        if self.n_samples is not None:
            if not generated:
                raise ConfigError(
                    f"{s}.n_samples applies to the generated data sets "
                    f"({', '.join(GENERATED_DATASETS)}); {s}.source is {self.source!r}"
                )
            self.n_samples = _int(f"{s}.n_samples", self.n_samples, 1)
            if self.source == "xor" and self.n_samples % 4:
                raise _fail(f"{s}.n_samples", "a multiple of 4 for xor", self.n_samples)
        if self.noise is not None:
            if not generated:
                raise ConfigError(
                    f"{s}.noise applies to the generated data sets "
                    f"({', '.join(GENERATED_DATASETS)}); {s}.source is {self.source!r}"
                )
            self.noise = _float(f"{s}.noise", self.noise, low=0)

    @property
    def is_file(self) -> bool:
        return self.source not in BUILTIN_DATASETS


@dataclass
class OutputConfig:
    """``[output]``: what a run writes. File names are inside ``dir``; ``""`` skips a file.

    A relative ``dir`` in a TOML file is relative to that file's folder, like ``data.source``
    (the command's ``--out`` is relative to the working directory). ``checkpoint`` also holds the
    optimizer state, epoch count and history, for ``bpcore train CONFIG --resume CHECKPOINT``;
    it is written when a run is interrupted, too.

    ``regions_plot`` is drawn only for classification on 2-D features (xor, moons).
    ``checkpoint_every`` > 0 saves the network to ``checkpoint`` every that many epochs while
    training (``{epoch}`` in the name is replaced by the epoch; by rank 0 only when distributed).
    """

    dir: str = "bpcore-out"
    model: str = "model.safetensors"
    history: str = "history.json"
    loss_plot: str = "loss.png"
    regions_plot: str = "regions.png"
    config: str = "config.toml"
    checkpoint: str = "checkpoint.safetensors"
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        s = "output"
        if isinstance(self.dir, os.PathLike):
            self.dir = os.fspath(self.dir)
        self.dir = _str(f"{s}.dir", self.dir)
        self.model = _str(f"{s}.model", self.model)
        self.history = _str(f"{s}.history", self.history, empty=True, suffixes=(".json", ".csv"))
        self.loss_plot = _str(f"{s}.loss_plot", self.loss_plot, empty=True, suffixes=(".png",))
        self.regions_plot = _str(
            f"{s}.regions_plot", self.regions_plot, empty=True, suffixes=(".png",)
        )
        self.config = _str(f"{s}.config", self.config, empty=True, suffixes=(".toml",))
        self.checkpoint = _str(f"{s}.checkpoint", self.checkpoint)
        self.checkpoint_every = _int(f"{s}.checkpoint_every", self.checkpoint_every, 0)
        names = [
            n
            for n in (self.model, self.history, self.loss_plot, self.regions_plot, self.config)
            if n
        ]
        if self.checkpoint_every:
            names.append(self.checkpoint)
        for n in names:
            if Path(n).name != n:
                raise _fail(f"{s} file names", "plain file names inside output.dir", n)
        if len(set(names)) != len(names):
            raise ConfigError(f"{s}: two outputs have the same file name: {names}")


_SECTIONS: dict[str, type] = {
    "network": NetworkConfig,
    "training": TrainingConfig,
    "data": DataConfig,
    "output": OutputConfig,
}


@dataclass
class Config:
    """A whole training run: ``network``, ``training``, ``data`` and ``output`` sections."""

    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        #: the keys each section was given in by :meth:`from_dict` (a TOML file, a dict); None
        #: for a configuration built from dataclasses, whose every field counts as given. Keys not
        #: given take the defaults of the data and task: ``network.output_activation`` is
        #: identity for regression, and the xor set gets the settings in :data:`BUILTIN_DEFAULTS`.
        self.explicit: dict[str, frozenset[str]] | None = None
        #: the folder of the TOML file read (None otherwise): a relative ``output.dir`` is taken
        #: relative to it when the run writes its files, as ``data.source`` is when it is read
        self.base_dir: str | None = None
        for name, cls in _SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):
                setattr(self, name, _section_from_dict(name, cls, value))
            elif not isinstance(value, cls):
                raise ConfigError(
                    f"{name} must be a {cls.__name__} or a table of its keys; got "
                    f"{type(value).__name__}"
                )
        rates = self.network.dropout
        if OPTIMIZER_INFO[self.training.optimizer].full_batch and any(
            rates if isinstance(rates, list) else [rates]
        ):
            raise ConfigError(
                f"network.dropout needs a mini-batch optimizer; training.optimizer "
                f"{self.training.optimizer!r} trains on the full batch: set network.dropout = 0 "
                f"or another optimizer; got dropout {rates!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from nested mappings, e.g. parsed TOML; missing keys take their defaults."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"a configuration must be a table of sections; got {type(data).__name__}"
            )
        for key in data:
            if key not in _SECTIONS:
                raise ConfigError(_unknown(str(key), tuple(_SECTIONS), "section"))
        sections = {}
        for name, section_cls in _SECTIONS.items():
            value = data.get(name, {})
            if not isinstance(value, Mapping):
                raise ConfigError(f"[{name}] must be a table of keys; got {value!r}")
            sections[name] = _section_from_dict(name, section_cls, value)
        cfg = cls(**sections)
        explicit = {name: frozenset(data.get(name, {})) for name in _SECTIONS}
        cfg.explicit = explicit
        return cfg

    def given(self, section: str, key: str) -> bool:
        """Whether ``[section] key`` was set (always True for a dataclass-built configuration)."""
        return self.explicit is None or key in self.explicit.get(section, frozenset())

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested plain dicts; fields that are None (optional and unset) are left out."""
        out = {}
        for name in _SECTIONS:
            section = getattr(self, name)
            out[name] = {
                f.name: _plain(getattr(section, f.name))
                for f in fields(section)
                if getattr(section, f.name) is not None
            }
        return out

    def to_toml(self) -> str:
        """The configuration as TOML text (every field, with a comment on what it does)."""
        return dumps_toml(self)

    def save(self, path: PathLike) -> None:
        """Write the TOML text to ``path`` atomically."""
        save_config(self, path)


def _plain(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _unknown(key: str, allowed: tuple[str, ...], what: str, where: str = "") -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    place = f" in [{where}]" if where else ""
    return f"unknown {what} {key!r}{place}{hint}; allowed: {', '.join(allowed)}"


def _section_from_dict(name: str, cls: type, values: Mapping[str, Any]) -> Any:
    allowed = tuple(f.name for f in fields(cls))
    for key in values:
        if key not in allowed:
            raise ConfigError(_unknown(str(key), allowed, "key", name))
    return cls(**dict(values))


# ---------------------------------------------------------------------- TOML
def _toml_string(s: str) -> str:
    out = ['"']
    escapes = {
        '"': '\\"',
        "\\": "\\\\",
        "\n": "\\n",
        "\t": "\\t",
        "\r": "\\r",
        "\b": "\\b",
        "\f": "\\f",
    }
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as a TOML value")


_COMMENTS = {
    "network": {
        "hidden": "hidden layer sizes n_1 … n_{L-1}; d and q come from the data",
        "activation": f"f of the hidden layers: {', '.join(HIDDEN_ACTIVATIONS)} (or one per layer)",
        "output_activation": f"f^[L]: {', '.join(ACTIVATIONS)}",
        "loss": ", ".join(
            name if info.output_activation is None else f"{name} ({info.output_activation})"
            for name, info in LOSS_INFO.items()
        ),
        "dtype": "float64 or float32",
        "init": f"{', '.join(INITS)}",
        "init_scale": "bound of small_uniform",
        "dropout": "dropout rate p in [0, 1) of the hidden layers in training (or one per layer)",
    },
    "training": {
        "batch_size": 'samples per update; 1 is online BP, "full" the full batch',
        "lr": "learning rate α of W ← W − α ∂J/∂W",
        "optimizer": f"{', '.join(OPTIMIZERS)}",
        "lr_schedule": f"{', '.join(SCHEDULES)}",
        "tol": "the notes' ε: stop once the epoch's J < ε",
        "n_threads": "threads over the batch (default: OpenMP's)",
    },
    "data": {
        "source": f"{', '.join(BUILTIN_DATASETS)} or a .csv, .npy or .npz file",
        "target": "target column: a name (CSV header) or an index (-1 = last)",
        "task": "auto, classification or regression",
        "standardize": "X ← (X − mean) / std, statistics saved with the model",
        "one_hot": "one output per class (classification)",
        "validation_fraction": "share of samples held out for validation (seeded)",
    },
    "output": {
        "dir": 'folder for the files below ("" skips a file)',
    },
}


def dumps_toml(cfg: Config) -> str:
    """The configuration as TOML text, readable by :func:`load_config`."""
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a bpcore.config.Config; got {type(cfg).__name__}")
    from ._version import __version__

    lines = [f"# bpcore {__version__} training configuration", ""]
    for name, values in cfg.to_dict().items():
        lines.append(f"[{name}]")
        comments = _COMMENTS.get(name, {})
        for key, value in values.items():
            text = f"{key} = {_toml_value(value)}"
            if key in comments:
                text = f"{text:<32} # {comments[key]}"
            lines.append(text)
        lines.append("")
    return "\n".join(lines)


def toml_reader() -> ModuleType:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError:
        raise ImportError(
            "reading TOML on Python < 3.11 needs the tomli package (pip install tomli)"
        ) from None
    return tomli


def loads_config(text: str, base_dir: PathLike | None = None, name: str = "<string>") -> Config:
    """Parse TOML text; relative ``data.source`` and ``output.dir`` paths are resolved against
    ``base_dir`` when given."""
    toml = toml_reader()
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name}: not valid TOML: arrays or tables nested too deeply") from None
    try:
        cfg = Config.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    except TypeError as exc:  # a value of a TOML type no field takes (a date, say)
        raise ConfigError(f"{name}: {exc}") from None
    if base_dir is not None and cfg.data.is_file and not Path(cfg.data.source).is_absolute():
        cfg.data.source = str((Path(base_dir) / cfg.data.source).resolve())
    if base_dir is not None:
        cfg.base_dir = os.fspath(Path(base_dir).resolve())
    return cfg


def load_config(path: PathLike) -> Config:
    """Read a TOML configuration file.

    Relative ``data.source`` and ``output.dir`` paths are taken relative to the file's folder
    (the command's ``--out`` is relative to the working directory). Raises :class:`ConfigError` (a ValueError) naming the
    file and the field for any bad key or value, FileNotFoundError for a missing file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path; got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(
            f"configuration file {str(p)!r} is a folder; give the TOML file inside it"
        )
    if not p.is_file():
        raise FileNotFoundError(f"configuration file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{str(p)}: not a UTF-8 text file") from None
    return loads_config(text, base_dir=p.parent, name=str(p))


def save_config(cfg: Config, path: PathLike) -> None:
    """Write ``cfg`` as TOML to ``path`` (atomically)."""
    from ._atomic import write_text

    write_text(path, dumps_toml(cfg))


# ---------------------------------------------------------------------- training from a config
@dataclass
class TrainingRun:
    """What :func:`train_from_config` produced.

    Attributes
    ----------
    config : Config
        The configuration actually used: ``output.dir`` where the files went, the task's output
        activation and the data set's defaults filled in.
    network : Network
        The trained network, with ``network.preprocessing`` set.
    history : History
    metrics : dict
        ``{"train": {...}, "validation": {...}}`` from
        :meth:`bpcore.preprocessing.Preprocessing.evaluate`: ``n``, ``loss`` (J) and ``accuracy``
        / ``correct`` (classification) or ``rmse`` (regression).
    files : dict of str to Path
        The files written, by kind (model, history, loss_plot, regions_plot, config).
    """

    config: Config
    network: Network
    history: History
    metrics: dict[str, dict[str, Any]]
    files: dict[str, Path]

    @property
    def preprocessing(self) -> Preprocessing | None:
        return self.network.preprocessing


def _as_config(cfg: Config | Mapping[str, Any] | PathLike) -> Config:
    if isinstance(cfg, Config):
        return cfg
    if isinstance(cfg, Mapping):
        return Config.from_dict(cfg)
    if isinstance(cfg, (str, os.PathLike)):
        return load_config(cfg)
    raise TypeError(
        f"cfg must be a Config, a dict of sections or a TOML file path; got {type(cfg).__name__}"
    )


def train_from_config(
    cfg: Config | Mapping[str, Any] | PathLike | None = None,
    *,
    out: PathLike | None = None,
    write: bool = True,
    progress: bool = False,
    verbose: bool = False,
    comm: Intracomm | None = None,
    resume: PathLike | None = None,
    announce: Callable[[str], object] | None = None,
) -> TrainingRun:
    """Load the data, build the network, train it and (by default) write the run's files.

    Parameters
    ----------
    cfg : Config, dict, str or path, optional
        The configuration, its sections as a dict, or a TOML file. None: the defaults (the notes'
        4-5-3 network on Iris).
    out : str or path, optional
        Output folder, overriding ``cfg.output.dir``.
    write : bool
        Write the model, history, loss curve, decision regions (2-D classification) and the
        configuration used into the output folder (created if needed).
    progress : bool
        Show a tqdm progress bar with the running J.
    verbose : bool
        Log every epoch through the ``bpcore`` logger.
    comm : mpi4py communicator, optional
        Data-parallel training (``mpirun -n N bpcore train CONFIG --distributed``): every rank
        loads and prepares the data alike, trains on its block of the training rows
        (:func:`bpcore.distributed.shard`), and rank 0 alone shows progress and writes files.
        The result equals training in one process.
    resume : str or path, optional
        A checkpoint written by this configuration's run (``output.checkpoint``, also written
        when the run is interrupted): training continues from its weights, optimizer state,
        epoch count and history, on the same data split, up to ``training.epochs`` in all. The
        result is bitwise that of the uninterrupted run.
    announce : callable, optional
        Called with each line that says what the run decided (the task and why, the network),
        once the data are loaded and before training; the command prints them.

    Returns
    -------
    TrainingRun
        ``history`` covers every epoch (with ``resume``: the checkpoint's too); ``history``'s
        ``stop_reason`` is ``"interrupted"`` after Ctrl-C, and then ``files["checkpoint"]`` is a
        checkpoint to resume from.
    """
    from ._parallel import strategy_for
    from .dataio import load_table
    from .network import Network
    from .preprocessing import (
        Preprocessing,
        encode_labels,
        explain_task,
        train_validation_split,
    )

    cfg = Config() if cfg is None else _as_config(cfg)
    cfg = _with_builtin_defaults(cfg)
    net_cfg, train_cfg, data_cfg, out_cfg = cfg.network, cfg.training, cfg.data, cfg.output
    if out is None and cfg.base_dir is not None and not Path(out_cfg.dir).is_absolute():
        out = Path(cfg.base_dir) / out_cfg.dir  # output.dir is relative to the TOML file
        out_cfg = OutputConfig(
            **{**{f.name: getattr(out_cfg, f.name) for f in fields(out_cfg)}, "dir": os.fspath(out)}
        )
    elif out is not None:
        if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
            raise TypeError(f"out must be a folder path; got {out!r}")
        out_cfg = OutputConfig(
            **{**{f.name: getattr(out_cfg, f.name) for f in fields(out_cfg)}, "dir": os.fspath(out)}
        )
    used = Config(net_cfg, train_cfg, data_cfg, out_cfg)

    try:
        table = load_table(
            data_cfg.source,
            target=data_cfg.target,
            features=data_cfg.features,
            header=data_cfg.header,
            delimiter=data_cfg.delimiter,
            n_samples=data_cfg.n_samples,
            noise=data_cfg.noise,
            seed=data_cfg.seed,
        )
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"data.source: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"data: {exc}") from None
    if table.y is None:
        raise ConfigError(f"data: {data_cfg.source!r} holds no targets")
    if data_cfg.task == "auto":
        task, why = explain_task(table.y)
        why = f"{why}; set data.task to choose"
    else:
        task, why = data_cfg.task, "data.task says so"
    if (
        task == "regression"
        and not cfg.given("network", "output_activation")
        and LOSS_INFO[net_cfg.loss].output_activation is None
        and net_cfg.output_activation != "identity"
    ):
        # the notes' sigmoid output is for class targets in [0, 1]; values get f^[L] = identity
        net_cfg = NetworkConfig(
            **{**{f.name: getattr(net_cfg, f.name) for f in fields(net_cfg)}},
        )
        net_cfg.output_activation = "identity"
        why += '; output_activation = "identity" for regression values (set it to choose)'
    used = Config(net_cfg, train_cfg, data_cfg, out_cfg)
    if task == "classification" and data_cfg.standardize_target:
        raise ConfigError(
            "data.standardize_target is for regression; the targets are class labels "
            '(set data.task = "regression" if they are values)'
        )
    loss_info = LOSS_INFO[net_cfg.loss]
    if task == "regression" and loss_info.task != "regression":
        raise ConfigError(
            f"network.loss {net_cfg.loss!r} is for classification; the targets are "
            'regression values: use loss = "mse" (or data.task = "classification")'
        )
    if task == "classification" and loss_info.task == "classification" and not data_cfg.one_hot:
        # a loss over the classes (softmax) needs one output per class
        raise ConfigError(
            f'network.loss "{net_cfg.loss}" ({loss_info.output_activation}) needs '
            "data.one_hot = true"
        )

    n = table.n_samples
    try:
        train_idx, val_idx = train_validation_split(n, data_cfg.validation_fraction, data_cfg.seed)
    except ValueError as exc:
        raise ConfigError(f"data.validation_fraction: {exc}") from None
    classes = None
    if task == "classification":
        try:
            _, classes = encode_labels(_labels(table.y))
        except ValueError as exc:
            raise ConfigError(f"data: {exc}") from None
    try:
        prep = Preprocessing.fit(
            table.X[train_idx],
            table.y[train_idx],
            task=task,
            standardize=data_cfg.standardize,
            one_hot=data_cfg.one_hot,
            standardize_target=data_cfg.standardize_target,
            classes=classes,
            feature_names=table.feature_names,
            target=table.target,
        )
        X_train, Y_train = prep.transform(table.X[train_idx]), prep.encode(table.y[train_idx])
    except ValueError as exc:
        raise ConfigError(f"data: {exc}") from None
    q = Y_train.shape[1]
    sizes = [table.n_features, *net_cfg.hidden, q]
    net = Network(
        sizes,
        net_cfg.activation,
        net_cfg.output_activation,
        net_cfg.loss,
        net_cfg.dtype,
        net_cfg.init,
        net_cfg.seed,
        net_cfg.init_scale,
        net_cfg.dropout,
    )
    prior = None
    if resume is not None:
        net, prior = _resume(net, resume, train_cfg)
    net.preprocessing = prep
    net.metadata = {}
    if announce is not None:
        hidden = net.activations[:-1]
        acts = ", ".join(hidden) if len(set(hidden)) > 1 else (hidden[0] if hidden else "none")
        done = f", resuming after epoch {prior.epochs}" if prior is not None else ""
        announce(f"task: {task} ({why})")
        announce(
            f"training on {_source_name(data_cfg)} for {train_cfg.epochs} epochs{done}: network "
            f"{'-'.join(map(str, sizes))}, hidden activation {acts}, "
            f"{net.activations[-1]} output, loss {net.loss_name}, lr {train_cfg.lr:g}, "
            f"batch size {train_cfg.batch_size}"
        )
    _warn_range(task, net_cfg.output_activation, Y_train)

    fit_kwargs = train_cfg.fit_kwargs()
    X_val = Y_val = None
    if val_idx.size:
        X_val, Y_val = prep.transform(table.X[val_idx]), prep.encode(table.y[val_idx])
    strategy = strategy_for(comm)
    rank = strategy.rank
    if comm is not None:
        from .distributed import shard

        X_train, Y_train = shard((X_train, Y_train), comm)
        if X_val is not None:
            X_val, Y_val = shard((X_val, Y_val), comm)
        fit_kwargs["comm"] = comm
    if X_val is not None:
        fit_kwargs["validation_data"] = (X_val, Y_val)
    callbacks: list[Callback] = []
    remaining = train_cfg.epochs - (prior.epochs if prior is not None else 0)
    from .training import History, ModelCheckpoint

    # the checkpoint callback keeps the history of every epoch, so that the checkpoint written
    # every output.checkpoint_every epochs, or when the run is interrupted, can be resumed
    checkpoint = ModelCheckpoint(
        Path(out_cfg.dir) / out_cfg.checkpoint,
        out_cfg.checkpoint_every or remaining + 1,
        history=prior,
        config=dumps_toml(_portable(used)),
    )
    if out_cfg.checkpoint_every and write:
        error = None
        folder = Path(out_cfg.dir)
        if rank == 0:
            try:
                _make_folder(folder)
            except OSError as exc:
                error = exc
        strategy.agree(error, "creating output.dir")
    callbacks.append(checkpoint)
    bar = None
    if progress and rank == 0:
        from ._progress import ProgressBar

        bar = ProgressBar(remaining)
        callbacks.append(bar)
    if callbacks:
        fit_kwargs["callbacks"] = callbacks
    log.info(
        "training %r on %s (%d samples, %d for validation)",
        net,
        data_cfg.source,
        len(train_idx),
        len(val_idx),
    )
    fit_kwargs["epochs"] = remaining
    try:
        history = net.fit(X_train, Y_train, verbose=verbose, **fit_kwargs)
    finally:
        if bar is not None:
            bar.close()
    if prior is not None:
        history = History(
            loss=prior.loss + history.loss,
            val_loss=prior.val_loss + history.val_loss,
            lr=prior.lr + history.lr,
            epoch_time=prior.epoch_time + history.epoch_time,
            stop_reason=history.stop_reason,
            # the resumed fit counts its epochs from its own first one
            best_epoch=None if history.best_epoch is None else prior.epochs + history.best_epoch,
            epochs_before=prior.epochs_before,
        )

    metrics = {"train": prep.evaluate(net, table.X[train_idx], table.y[train_idx])}
    if val_idx.size:
        metrics["validation"] = prep.evaluate(net, table.X[val_idx], table.y[val_idx])
    if task == "classification" and rank == 0:
        _warn_chance(metrics["train"], table.y[train_idx])
    files: dict[str, Path] = {}
    if write and rank == 0:
        files = _write_outputs(used, net, history, metrics, table, prep, task)
        if history.stop_reason == "interrupted" and history.epochs:
            # the history fit returned, whole even when Ctrl-C came during a callback
            checkpoint.history = History.from_dict(history.to_dict())
            checkpoint.save(net)
        if checkpoint.written:
            files["checkpoint"] = Path(checkpoint.written[-1])
    return TrainingRun(used, net, history, metrics, files)


def _source_name(data_cfg: DataConfig) -> str:
    return os.path.basename(data_cfg.source) if data_cfg.is_file else data_cfg.source


def _with_builtin_defaults(cfg: Config) -> Config:
    """``cfg`` with :data:`BUILTIN_DEFAULTS` of its data set filled into the keys it leaves out."""
    defaults = BUILTIN_DEFAULTS.get(cfg.data.source)
    if not defaults or cfg.explicit is None:
        return cfg
    missing = {
        section: {k: val for k, val in values.items() if not cfg.given(section, k)}
        for section, values in defaults.items()
    }
    if not any(missing.values()):
        return cfg
    data = cfg.to_dict()
    for section, values in missing.items():
        data[section].update(values)
    out = Config.from_dict(data)
    out.explicit, out.base_dir = cfg.explicit, cfg.base_dir
    return out


def _portable(cfg: Config) -> Config:
    """``cfg`` with a relative data file made absolute (for the configuration a run writes)."""
    data_cfg = cfg.data
    if data_cfg.is_file and not Path(data_cfg.source).is_absolute():
        data_cfg = DataConfig(
            **{
                **{f.name: getattr(data_cfg, f.name) for f in fields(data_cfg)},
                "source": str(Path(data_cfg.source).resolve()),
            }
        )
    return Config(cfg.network, cfg.training, data_cfg, cfg.output)


def _resume(net: Network, path: PathLike, train_cfg: TrainingConfig) -> tuple[Network, History]:
    """The checkpoint's network with its training state restored, and its history."""
    from .io import load_checkpoint
    from .training import restore_training

    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {os.fspath(path)!r} does not exist")
    saved, record = load_checkpoint(path)
    if record is None:
        raise ConfigError(
            f"{os.fspath(path)!r} is a model file without training state; resume from a "
            "checkpoint (output.checkpoint, written every output.checkpoint_every epochs and "
            "when a run is interrupted)"
        )
    mine = (net.sizes, net.activations, net.loss_name, np.dtype(net.dtype).name)
    theirs = (saved.sizes, saved.activations, saved.loss_name, np.dtype(saved.dtype).name)
    if mine != theirs:
        raise ConfigError(
            f"the checkpoint holds a network {theirs[0]} ({', '.join(theirs[1])}, loss "
            f"{theirs[2]}, {theirs[3]}) but the configuration builds {mine[0]} "
            f"({', '.join(mine[1])}, loss {mine[2]}, {mine[3]}); resume with the configuration "
            "of the checkpoint's run"
        )
    if record["epochs"] >= train_cfg.epochs:
        raise ConfigError(
            f"the checkpoint has trained {record['epochs']} epochs already and training.epochs "
            f"is {train_cfg.epochs}; raise training.epochs to train on"
        )
    kw = train_cfg.fit_kwargs()
    options = {
        name: kw[name]
        for name in (
            "optimizer",
            "lr",
            "momentum",
            "beta1",
            "beta2",
            "epsilon",
            "weight_decay",
            "lr_schedule",
            "power_t",
            "step_size",
            "gamma",
        )
    }
    try:
        prior = restore_training(saved, record, **options)
    except ValueError as exc:
        raise ConfigError(f"--resume: {exc}") from None
    return saved, prior


def _warn_chance(m: dict[str, Any], y: np.ndarray) -> None:
    """Warn when the trained classifier does no better than always naming the commonest class."""
    _, counts = np.unique(_labels(y), return_counts=True)
    baseline = counts.max() / counts.sum()
    if m["accuracy"] <= baseline + 1e-12:
        log.warning(
            "the network ends at chance accuracy (%.2f%%, what always naming the commonest "
            "class scores): it has not learnt the task. Try more epochs (training.epochs), "
            "another lr or init_scale (network.init_scale = 1), more hidden units, or "
            "data.standardize = false for 0/1 inputs",
            100 * m["accuracy"],
        )


def _labels(y: np.ndarray) -> np.ndarray:
    from .preprocessing import labels_from_targets

    return labels_from_targets(y)


def _warn_range(task: str, output_activation: str, Y: np.ndarray) -> None:
    ranges = {
        "sigmoid": (0.0, 1.0),
        "tanh": (-1.0, 1.0),
        "relu": (0.0, math.inf),
        "softmax": (0.0, 1.0),
    }
    if task == "regression" and output_activation in ranges:
        low, high = ranges[output_activation]
        if Y.min() < low or Y.max() > high:
            log.warning(
                "the targets span [%.3g, %.3g] but output_activation %r only reaches "
                '[%g, %g]; consider output_activation = "identity" or '
                "data.standardize_target",
                Y.min(),
                Y.max(),
                output_activation,
                low,
                high,
            )


def _history_csv(history: History) -> str:
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["epoch", "loss", "val_loss", "lr", "epoch_time"])
    for i in range(history.epochs):
        val = history.val_loss[i] if i < len(history.val_loss) else ""
        w.writerow(
            [
                history.epochs_before + i + 1,
                repr(history.loss[i]),
                repr(val) if val != "" else "",
                repr(history.lr[i]),
                repr(history.epoch_time[i]),
            ]
        )
    return buf.getvalue()


def _write_outputs(
    cfg: Config,
    net: Network,
    history: History,
    metrics: dict[str, Any],
    table: Table,
    prep: Preprocessing,
    task: str,
) -> dict[str, Path]:
    from ._atomic import write_text
    from .io import save

    out_cfg = cfg.output
    folder = Path(out_cfg.dir)
    _make_folder(folder)
    files: dict[str, Path] = {}
    toml_text = dumps_toml(_portable(cfg))

    path = folder / out_cfg.model
    save(net, path, config=toml_text)
    files["model"] = path
    if out_cfg.history:
        path = folder / out_cfg.history
        if path.suffix.lower() == ".csv":
            write_text(path, _history_csv(history))
        else:
            record = history.to_dict()
            record["metrics"] = metrics
            write_text(path, json.dumps(record, indent=2) + "\n")
        files["history"] = path
    plots = []
    if out_cfg.loss_plot:
        plots.append(("loss_plot", out_cfg.loss_plot))
    if out_cfg.regions_plot and task == "classification" and table.n_features == 2:
        plots.append(("regions_plot", out_cfg.regions_plot))
    if plots:
        try:
            import matplotlib  # noqa: F401

            from . import plot
        except ImportError:
            log.warning(
                "matplotlib is not installed, so no plot was drawn "
                '(pip install ".[plot]" in a checkout, or pip install matplotlib)'
            )
        else:
            for kind, name in plots:
                path = folder / name
                if kind == "loss_plot":
                    fig = plot.plot_history(history, out=path, title=f"J per epoch: {_arch(net)}")
                else:
                    fig = plot.plot_decision_regions(
                        net, table.X, table.y, out=path, preprocessing=prep
                    )
                plot.close(fig)
                files[kind] = path
    if out_cfg.config:
        path = folder / out_cfg.config
        write_text(path, toml_text)
        files["config"] = path
    return files


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"output.dir {str(folder)!r} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)


def _arch(net: Network) -> str:
    sizes = "-".join(str(s) for s in net.sizes)
    return f"{sizes} network, {net.activations[-1]} output, loss {net.loss_name}"
