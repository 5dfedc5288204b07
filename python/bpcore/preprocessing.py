"""From raw data to the network's X and Y, and from Ŷ back to labels or values.

A :class:`Preprocessing` holds everything a trained network needs besides its weights:

- the standardisation statistics of the training features, applied as X ← (X − mean) / scale
  before the forward pass (``scale`` is the standard deviation; a constant feature gets scale 1);
- for classification, the class labels: targets are one-hot rows (the notes' Y for the
  4-5-3 Iris network) or, for two classes, a single 0/1 column, and ``decode`` maps Ŷ back to
  labels (argmax of a row, or Ŷ > 0.5 for a single column);
- for regression, optional target statistics, so the network learns standardised targets and
  ``decode`` returns values in the original units.

Model files carry it (see :mod:`bpcore.io`): ``bpcore.load(path).preprocessing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from . import _validation as v
from .datasets import one_hot

if TYPE_CHECKING:
    from .network import Network

__all__ = [
    "Preprocessing",
    "TASKS",
    "encode_labels",
    "TASK_RULE",
    "explain_task",
    "infer_task",
    "one_hot",
    "standardization_statistics",
    "train_validation_split",
]

TASKS = ("classification", "regression")

#: A class label as stored with a model: a Python int, float or str.
Label = Union[int, float, str]


def standardization_statistics(X: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (ddof 0) of X (n, d); a zero deviation becomes 1.

    Returns
    -------
    mean, scale : ndarray of shape (d,), float64
    """
    X = _as_2d_float(X, "X")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def train_validation_split(
    n_samples: int, validation_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n_samples)`` into sorted training and validation indices.

    ``round(validation_fraction · n)`` samples go to validation; the same seed gives the same split.
    A fraction of 0 gives every sample to training and an empty validation set.
    """
    n = v.check_int(n_samples, "n_samples")
    frac = v.check_real(
        validation_fraction, "validation_fraction", low=0, high=1, high_open=True, style="sklearn"
    )
    return v.validation_split(n, frac, v.check_seed(seed))


def _label_key(value: object) -> str:
    """A comparable key of a label: 1, 1.0, "1" and "1.0" are the same class."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return _label_key(number) if np.isfinite(number) else text


def _python_scalar(value: object) -> int | float | str:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    return str(value)


def _as_labels(y: npt.ArrayLike, name: str = "y") -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must hold one class label per sample (1-D); got shape {arr.shape}"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite labels")
    if arr.dtype.kind == "f" and np.all(np.mod(arr, 1) == 0):
        arr = arr.astype(np.int64)
    return arr


def encode_labels(
    y: npt.ArrayLike, classes: Sequence[Label] | None = None
) -> tuple[np.ndarray, list[Label]]:
    """Class labels (n,) as indices 0 … k−1 into ``classes``.

    Parameters
    ----------
    y : array of shape (n,)
        Strings or numbers; integer-valued floats count as integers.
    classes : sequence, optional
        The label of each class index. Default: the sorted distinct labels of ``y``.

    Returns
    -------
    indices : ndarray of shape (n,), int64
    classes : list of int, float or str
    """
    arr = _as_labels(y)
    if classes is None:
        distinct = np.unique(arr)
        classes = [_python_scalar(c) for c in distinct]
    else:
        classes = [_python_scalar(c) for c in classes]
    keys = [_label_key(c) for c in classes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"classes must be distinct; got {classes!r}")
    lookup = {k: i for i, k in enumerate(keys)}
    out = np.empty(arr.shape[0], dtype=np.int64)
    for i, value in enumerate(arr.tolist()):
        idx = lookup.get(_label_key(value))
        if idx is None:
            raise ValueError(f"label {value!r} of sample {i} is not one of the classes {classes!r}")
        out[i] = idx
    return out, classes


#: integer-valued targets with at most this many distinct values are class labels (or, with many
#: rows, at most one distinct value per ``_ROWS_PER_CLASS`` rows, up to ``_MAX_CLASSES``)
_FEW_CLASSES = 20
_ROWS_PER_CLASS = 20
_MAX_CLASSES = 100

TASK_RULE = (
    "a target is a class label when it is text or boolean, or integer-valued with at most "
    f"max({_FEW_CLASSES}, min({_MAX_CLASSES}, rows/{_ROWS_PER_CLASS})) distinct values; "
    "otherwise a regression value"
)


def infer_task(y: npt.ArrayLike) -> str:
    """``"classification"`` or ``"regression"`` by the rule :data:`TASK_RULE`."""
    return explain_task(y)[0]


def explain_task(y: npt.ArrayLike) -> tuple[str, str]:
    """``(task, reason)``: the task :func:`infer_task` picks and, in words, why.

    The rule (:data:`TASK_RULE`): text or boolean targets are class labels; integer-valued
    targets are class labels when they take few distinct values relative to the rows, at most
    max(20, min(100, rows / 20)); anything else (fractions, many distinct integers such as
    prices or counts, several target columns) is regression.
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        return "regression", f"the target has {arr.shape[-1] if arr.ndim else 0} columns of values"
    if arr.dtype.kind in "OUS":
        return "classification", "the target holds text labels"
    if arr.dtype.kind == "b":
        return "classification", "the target is boolean"
    if arr.dtype.kind in "iu" or (
        arr.dtype.kind == "f" and np.isfinite(arr).all() and np.all(np.mod(arr, 1) == 0)
    ):
        k = int(np.unique(arr).size)
        limit = max(_FEW_CLASSES, min(_MAX_CLASSES, arr.size // _ROWS_PER_CLASS))
        if k <= limit:
            return (
                "classification",
                f"the target holds {k} distinct integer values in {arr.size} rows, at most "
                f"the {limit} taken as class labels",
            )
        return (
            "regression",
            f"the target holds {k} distinct integer values in {arr.size} rows, more than the "
            f"{limit} taken as class labels",
        )
    return "regression", "the target holds non-integer numbers"


def _as_2d_float(a: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if name.startswith("y") else arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _opt_vector(a: npt.ArrayLike | None, name: str) -> np.ndarray | None:
    if a is None:
        return None
    arr = np.array(a, dtype=np.float64, copy=True).reshape(-1)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty vector of finite numbers")
    return arr


@dataclass
class Preprocessing:
    """Standardisation statistics and target encoding that travel with a trained network.

    Parameters
    ----------
    task : {"classification", "regression"}
    classes : list, optional
        Classification: the label of each class index (``classes[j]`` is output j of a one-hot
        network).
    one_hot : bool
        Classification: one output per class (argmax decodes). False needs exactly two classes and
        one output, decoded as ``classes[Ŷ > 0.5]``.
    mean, scale : ndarray of shape (d,), optional
        X is standardised as (X − mean) / scale. None: the features are used as they are.
    target_mean, target_scale : ndarray of shape (q,), optional
        Regression: the network learns (y − target_mean) / target_scale.
    feature_names : list of str, optional
        Names of the d feature columns in the source data (used to pick them from a CSV).
    target : str or int, optional
        Name or index of the target column in the source data.
    """

    task: str = "classification"
    classes: list[Label] | None = None
    one_hot: bool = True
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    feature_names: list[str] | None = None
    target: str | int | None = None
    _keys: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        self.one_hot = bool(self.one_hot)
        self.mean = _opt_vector(self.mean, "mean")
        self.scale = _opt_vector(self.scale, "scale")
        if (self.mean is None) != (self.scale is None):
            raise ValueError("mean and scale go together: give both or neither")
        if self.mean is not None:
            if self.mean.shape != self.scale.shape:
                raise ValueError(
                    f"mean and scale must have the same shape; got {self.mean.shape} "
                    f"and {self.scale.shape}"
                )
            if not (self.scale > 0).all():
                raise ValueError("scale must be positive")
        self.target_mean = _opt_vector(self.target_mean, "target_mean")
        self.target_scale = _opt_vector(self.target_scale, "target_scale")
        if (self.target_mean is None) != (self.target_scale is None):
            raise ValueError("target_mean and target_scale go together: give both or neither")
        if self.target_scale is not None:
            if self.target_mean.shape != self.target_scale.shape:
                raise ValueError("target_mean and target_scale must have the same shape")
            if not (self.target_scale > 0).all():
                raise ValueError("target_scale must be positive")
        if self.task == "classification":
            if self.classes is None or len(self.classes) == 0:
                raise ValueError("classification needs the list of classes")
            if self.target_mean is not None:
                raise ValueError("target_mean/target_scale are for regression only")
            _, self.classes = encode_labels(np.asarray([], dtype=object), self.classes)
            if not self.one_hot and len(self.classes) != 2:
                raise ValueError(
                    f"one_hot=False needs exactly two classes; got {len(self.classes)}: "
                    f"{self.classes!r}; use one-hot targets for more classes"
                )
            self._keys = {_label_key(c): i for i, c in enumerate(self.classes)}
        elif self.classes is not None:
            raise ValueError("classes are for classification only")
        if self.feature_names is not None:
            self.feature_names = [str(n) for n in self.feature_names]
            if self.mean is not None and len(self.feature_names) != self.mean.shape[0]:
                raise ValueError(
                    f"feature_names has {len(self.feature_names)} names but mean has "
                    f"{self.mean.shape[0]} entries"
                )
        if self.target is not None and not isinstance(self.target, (str, int)):
            raise TypeError(f"target must be a column name or index; got {self.target!r}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(
        cls,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        task: str = "auto",
        standardize: bool = True,
        one_hot: bool = True,
        standardize_target: bool = False,
        classes: Sequence[Label] | None = None,
        feature_names: Sequence[str] | None = None,
        target: str | int | None = None,
    ) -> Preprocessing:
        """Learn the statistics from training data X (n, d) and targets y.

        ``task="auto"`` picks classification for string or integer-valued labels (see
        :func:`infer_task`). ``classes`` fixes the label order (default: sorted distinct labels).
        """
        X = _as_2d_float(X, "X")
        if task == "auto":
            task = infer_task(y)
        if task not in TASKS:
            raise ValueError(f"task must be one of auto, {', '.join(TASKS)}; got {task!r}")
        mean = scale = None
        if standardize:
            mean, scale = standardization_statistics(X)
        if task == "classification":
            labels = labels_from_targets(y)
            if classes is None:
                _, classes = encode_labels(labels)
            else:
                encode_labels(labels, classes)
            if not one_hot and len(classes) != 2:
                raise ValueError(
                    f"one_hot=False needs exactly two classes; the labels have "
                    f"{len(classes)}: {list(classes)!r}"
                )
            return cls(
                "classification",
                list(classes),
                one_hot,
                mean,
                scale,
                feature_names=feature_names,
                target=target,
            )
        Y = _as_2d_float(y, "y")
        if Y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y have different numbers of samples: {X.shape[0]} and {Y.shape[0]}"
            )
        tm = ts = None
        if standardize_target:
            tm, ts = standardization_statistics(Y)
        return cls(
            "regression",
            None,
            True,
            mean,
            scale,
            tm,
            ts,
            feature_names=feature_names,
            target=target,
        )

    # ------------------------------------------------------------------ shapes
    @property
    def n_features(self) -> int | None:
        """d, when the statistics or feature names fix it."""
        if self.mean is not None:
            return int(self.mean.shape[0])
        if self.feature_names is not None:
            return len(self.feature_names)
        return None

    @property
    def n_outputs(self) -> int | None:
        """q, the output size the targets need (None for regression without target statistics)."""
        if self.task == "classification":
            return len(self.classes) if self.one_hot else 1
        return None if self.target_mean is None else int(self.target_mean.shape[0])

    # ------------------------------------------------------------------ forward direction
    def transform(self, X: npt.ArrayLike) -> np.ndarray:
        """Standardised features (n, d), float64: (X − mean) / scale."""
        X = _as_2d_float(X, "X")
        d = self.n_features
        if d is not None and X.shape[1] != d:
            raise ValueError(f"X must have {d} features (columns); got shape {X.shape}")
        if self.mean is None:
            return np.ascontiguousarray(X)
        return np.ascontiguousarray((X - self.mean) / self.scale)

    def class_indices(self, y: npt.ArrayLike) -> np.ndarray:
        """Class index (n,) of each label of y."""
        self._need("classification", "class_indices")
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] > 1:  # one-hot rows hold indices, not labels
            if arr.shape[1] != len(self.classes):
                raise ValueError(
                    f"one-hot targets must have {len(self.classes)} columns (one per "
                    f"class); got shape {arr.shape}"
                )
            return labels_from_targets(arr).astype(np.int64)
        labels = labels_from_targets(arr)
        out = np.empty(labels.shape[0], dtype=np.int64)
        for i, value in enumerate(labels.tolist()):
            idx = self._keys.get(_label_key(value))
            if idx is None:
                raise ValueError(
                    f"label {value!r} of sample {i} is not one of the model's classes "
                    f"{self.classes!r}"
                )
            out[i] = idx
        return out

    def encode(self, y: npt.ArrayLike) -> np.ndarray:
        """The network's targets Y (n, q), float64: one-hot rows, a 0/1 column, or scaled values."""
        if self.task == "classification":
            idx = self.class_indices(y)
            if self.one_hot:
                return one_hot(idx, len(self.classes))
            return idx.astype(np.float64).reshape(-1, 1)
        Y = _as_2d_float(y, "y")
        if self.target_mean is None:
            return np.ascontiguousarray(Y)
        if Y.shape[1] != self.target_mean.shape[0]:
            raise ValueError(
                f"y must have {self.target_mean.shape[0]} columns; got shape {Y.shape}"
            )
        return np.ascontiguousarray((Y - self.target_mean) / self.target_scale)

    # ------------------------------------------------------------------ backward direction
    def decode_indices(self, Y_hat: npt.ArrayLike) -> np.ndarray:
        """Predicted class index (n,) of network outputs Ŷ (n, q)."""
        self._need("classification", "decode_indices")
        Y_hat = _as_2d_float(Y_hat, "Y_hat")
        if self.one_hot:
            if Y_hat.shape[1] != len(self.classes):
                raise ValueError(f"Y_hat must have {len(self.classes)} columns; got {Y_hat.shape}")
            return Y_hat.argmax(axis=1)
        if Y_hat.shape[1] != 1:
            raise ValueError(f"Y_hat must have one column; got shape {Y_hat.shape}")
        return (Y_hat[:, 0] > 0.5).astype(np.int64)

    def decode(self, Y_hat: npt.ArrayLike) -> np.ndarray:
        """Labels (n,) for classification; values (n, q) in target units for regression."""
        if self.task == "classification":
            return np.asarray(self.classes)[self.decode_indices(Y_hat)]
        Y_hat = _as_2d_float(Y_hat, "Y_hat")
        if self.target_mean is None:
            return Y_hat
        return Y_hat * self.target_scale + self.target_mean

    # ------------------------------------------------------------------ with a network
    def outputs(self, net: Network, X: npt.ArrayLike) -> np.ndarray:
        """Ŷ = H^[L] of the raw features X; regression outputs in target units."""
        Y_hat = np.asarray(net.predict(self.transform(X)), dtype=np.float64)
        if self.task == "regression" and self.target_mean is not None:
            return Y_hat * self.target_scale + self.target_mean
        return Y_hat

    def predict(self, net: Network, X: npt.ArrayLike) -> np.ndarray:
        """Standardise X, run the forward pass, decode: class labels (n,) or values (n, q)."""
        return self.decode(net.predict(self.transform(X)))

    def evaluate(self, net: Network, X: npt.ArrayLike, y: npt.ArrayLike) -> dict[str, Any]:
        """J of the network on (X, y) and accuracy (classification) or RMSE (regression).

        Returns
        -------
        dict
            ``n``, ``loss`` (the network's J on the standardised data and encoded targets) and
            ``accuracy``, ``correct`` for classification, ``rmse`` (target units) for regression.
        """
        Xs = self.transform(X)
        Y = self.encode(y)
        out: dict[str, Any] = {"n": int(Xs.shape[0]), "loss": float(net.loss(Xs, Y))}
        Y_hat = net.predict(Xs)
        if self.task == "classification":
            correct = int((self.decode_indices(Y_hat) == self.class_indices(y)).sum())
            out["correct"] = correct
            out["accuracy"] = correct / Xs.shape[0]
        else:
            err = self.decode(Y_hat) - _as_2d_float(y, "y")
            out["rmse"] = float(np.sqrt(np.mean(err**2)))
        return out

    def _need(self, task: str, what: str) -> None:
        if self.task != task:
            raise ValueError(f"{what} is for {task} models; this one does {self.task}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Preprocessing):
            return NotImplemented

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            return (a is None and b is None) or (
                a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b)
            )

        return (
            self.task == other.task
            and self.classes == other.classes
            and self.one_hot == other.one_hot
            and same(self.mean, other.mean)
            and same(self.scale, other.scale)
            and same(self.target_mean, other.target_mean)
            and same(self.target_scale, other.target_scale)
            and self.feature_names == other.feature_names
            and self.target == other.target
        )


def labels_from_targets(y: npt.ArrayLike) -> np.ndarray:
    """1-D labels; a 2-D array of one-hot rows becomes the index of each row's 1."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] > 1 and arr.dtype.kind in "fiub":
        rows_ok = np.isin(arr, (0, 1)).all() and np.all(arr.sum(axis=1) == 1)
        if not rows_ok:
            raise ValueError(
                f"classification targets must be labels (n,) or one-hot rows; got "
                f"shape {arr.shape} with rows that are not one-hot"
            )
        return arr.argmax(axis=1)
    return _as_labels(arr)
