"""scikit-learn estimators trained by bpcore's core: MLPClassifier and MLPRegressor.

They take the constructor parameters of ``sklearn.neural_network.MLPClassifier`` /
``MLPRegressor`` with the same names, meanings and defaults, and train a :class:`bpcore.Network`.
The stochastic solvers ('sgd', 'adam') run one epoch at a time (one call into C++ per epoch);
between epochs Python applies scikit-learn's stopping rules (``tol`` and ``n_iter_no_change`` on
the training loss or on the validation score), its ``invscaling`` and ``adaptive`` learning
rates, and its warnings. 'lbfgs' is one call into the core for the whole run (``lbfgs_run``).
A loss that becomes NaN or infinite ends training as scikit-learn's does: with early stopping
the NaN validation score is recorded and the best parameters are kept; without it ``fit`` raises
scikit-learn's ValueError, with bpcore's detail as its cause.

The mapping onto the notation of docs/notation.md::

    Z^[l] = H^[l-1] W^[l] + b^[l],   H^[l] = f^[l](Z^[l]),   H^[0] = X,   Ŷ = H^[L]
    coefs_[l-1] = W^[l]  (n_{l-1}, n_l),   intercepts_[l-1] = b^[l]  (n_l,)

scikit-learn's L2 term adds ``alpha W / Σ_batch w_i`` to the gradient of a batch. bpcore's
``weight_decay`` λ adds ``λ W^[l]`` to ∂J/∂W^[l] of every batch, so
``λ = alpha / (b · mean(w))`` with b the batch size (exact for every full batch of unit
weights).

scikit-learn is imported by this module only; ``import bpcore`` does not import it.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from . import _validation as _v
from ._loader import core
from ._names import HIDDEN_ACTIVATIONS, LOSS_INFO
from ._sparse import core_matrix
from .network import Network
from .training import History, TrainingDivergedError

try:
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # scikit-learn < 1.6
    _sk_validate_data = None

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's names that bpcore spells otherwise; every other hidden activation of bpcore's
# name table is accepted under its own name.
_SKLEARN_ALIASES = {"logistic": "sigmoid"}
_ACTIVATION_NAMES = {**_SKLEARN_ALIASES, **{name: name for name in HIDDEN_ACTIVATIONS}}
# scikit-learn's name of an output activation f^[L] (the out_activation_ attribute)
_SKLEARN_NAME = {bp: sk for sk, bp in _SKLEARN_ALIASES.items()}
_FLOAT_DTYPES = (np.float64, np.float32)
# scipy's default ftol of L-BFGS-B, which scikit-learn leaves as it is
_SCIPY_FTOL = 2.220446049250313e-09
# scikit-learn's message when training made a parameter non-finite (matched by users' code)
_NONFINITE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)
# the core's lbfgs_run stops as scipy's L-BFGS-B statuses and messages
_LBFGS_MESSAGES = {
    "converged_grad": (0, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"),
    "converged_loss": (0, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH"),
    "max_iter": (1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"),
    "max_fun": (1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"),
    "stalled": (2, "ABNORMAL: the line search found no step that lowers the loss"),
    "interrupted": (2, "STOP: interrupted"),
}


# -------------------------------------------------------------------- parameter checks
# bpcore._validation's checks in scikit-learn's wording
def _check_bool(value: object, name: str) -> bool:
    return _v.check_flag(value, name, style="sklearn")


def _check_int(value: object, name: str, low: int) -> int:
    return _v.check_int(value, name, minimum=low, style="sklearn")


def _check_real(
    value: object,
    name: str,
    low: float,
    high: float = math.inf,
    *,
    low_closed: bool = True,
    high_closed: bool = False,
) -> float:
    return _v.check_real(
        value,
        name,
        low=low,
        high=high,
        low_open=not low_closed,
        high_open=not high_closed,
        style="sklearn",
    )


def _check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    return _v.check_choice(value, name, choices, style="sklearn")


def _output_for(task: str) -> tuple[str, str]:
    """(f^[L], loss) of the name table's loss for ``task``; f^[L] is the one the loss needs
    ("" when it takes any)."""
    for name, info in LOSS_INFO.items():
        if info.task == task:
            return info.output_activation or "", name
    raise ValueError(f"bpcore's name table has no loss for the task {task!r}")


def _sklearn_name(activation: str) -> str:
    return _SKLEARN_NAME.get(activation, activation)


@dataclass
class _Config:
    """The checked, bpcore-side reading of an estimator's parameters."""

    hidden: list[int]  # n_1 … n_{L-1}
    activations: list[str]  # f^[1] … f^[L-1], bpcore's names
    init_factor: float  # of the output layer's Glorot bound (6, or 2 for sigmoid units)
    optimizer: str  # bpcore's optimizer
    dtype: np.dtype | None  # None: follow X
    n_threads: int | None


def _has_partial_fit(est: Any) -> bool:
    """partial_fit exists for the stochastic solvers only (scikit-learn's rule, by available_if)."""
    if est.solver not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver} is not "
            "stochastic."
        )
    return True


# -------------------------------------------------------------------- the shared estimator
class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, training loop, fitted state."""

    _is_classifier = False

    def _validate(self, *args: Any, **kwargs: Any) -> Any:
        """scikit-learn's ``validate_data`` (its ``_validate_data`` method before 1.6)."""
        if _sk_validate_data is not None:
            return _sk_validate_data(self, *args, **kwargs)
        return self._validate_data(*args, **kwargs)  # pragma: no cover - old scikit-learn

    # ---------------------------------------------------------------- parameters
    def _check_params(self) -> _Config:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (str, bytes)):
            raise TypeError(
                f"hidden_layer_sizes must be an int or a sequence of ints; got {sizes!r}"
            )
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        hidden = [_check_int(s, "hidden_layer_sizes", 1) for s in sizes]

        act = self.activation
        names = tuple(_ACTIVATION_NAMES)
        if isinstance(act, str):
            f = _ACTIVATION_NAMES[_check_choice(act, "activation", names)]
            activations, last = [f] * len(hidden), f
        elif isinstance(act, (list, tuple)):
            activations = [_ACTIVATION_NAMES[_check_choice(a, "activation", names)] for a in act]
            if len(activations) != len(hidden):
                raise ValueError(
                    f"activation lists {len(activations)} names but hidden_layer_sizes has "
                    f"{len(hidden)} hidden layers; give one name per hidden layer or a single "
                    "name"
                )
            last = activations[-1] if activations else "relu"
        else:
            raise TypeError(
                f"activation must be a name or a list of names (one per hidden layer); got {act!r}"
            )

        solver = _check_choice(self.solver, "solver", ("sgd", "adam", "lbfgs"))
        _check_real(self.alpha, "alpha", 0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_int(self.batch_size, "batch_size", 1)
        _check_choice(self.learning_rate, "learning_rate", ("constant", "invscaling", "adaptive"))
        _check_real(self.learning_rate_init, "learning_rate_init", 0.0, low_closed=False)
        _check_real(self.power_t, "power_t", 0.0)
        _check_int(self.max_iter, "max_iter", 1)
        _check_bool(self.shuffle, "shuffle")
        _check_real(self.tol, "tol", 0.0)
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise TypeError(f"verbose must be a bool or an int; got {self.verbose!r}")
        _check_bool(self.warm_start, "warm_start")
        momentum = _check_real(self.momentum, "momentum", 0.0, 1.0, high_closed=True)
        if momentum == 1.0 and solver == "sgd":
            raise ValueError(
                "momentum=1 is not supported: bpcore's momentum and nesterov "
                "optimizers need momentum in [0, 1)"
            )
        nesterov = _check_bool(self.nesterovs_momentum, "nesterovs_momentum")
        early = _check_bool(self.early_stopping, "early_stopping")
        if early:
            _check_real(self.validation_fraction, "validation_fraction", 0.0, 1.0, low_closed=False)
        else:
            _check_real(self.validation_fraction, "validation_fraction", 0.0, 1.0)
        _check_real(self.beta_1, "beta_1", 0.0, 1.0)
        _check_real(self.beta_2, "beta_2", 0.0, 1.0)
        _check_real(self.epsilon, "epsilon", 0.0, low_closed=False)
        if not (isinstance(self.n_iter_no_change, float) and self.n_iter_no_change == np.inf):
            _check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        _check_int(self.max_fun, "max_fun", 1)
        self._check_loss()

        if solver in ("adam", "lbfgs"):
            optimizer = solver
        elif momentum > 0:
            optimizer = "nesterov" if nesterov else "momentum"
        else:
            optimizer = "sgd"

        dtype = None
        if self.dtype is not None:
            try:
                dtype = np.dtype(self.dtype)
            except TypeError:
                dtype = None
            if dtype is None or dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
                raise ValueError(
                    f"dtype must be None (follow X), 'float64' or 'float32'; got {self.dtype!r}"
                )
        n_threads = None if self.n_threads is None else _check_int(self.n_threads, "n_threads", 1)
        return _Config(
            hidden, activations, 2.0 if last == "sigmoid" else 6.0, optimizer, dtype, n_threads
        )

    def _check_loss(self) -> None:
        raise NotImplementedError

    def _loss_scale(self) -> float:
        """Factor from the core's J to the reported loss (1 but for 'squared_error')."""
        return 1.0

    # ---------------------------------------------------------------- fitted parameters
    @property
    def coefs_(self) -> list[np.ndarray]:
        """``coefs_[l-1]`` is W^[l], shape (n_{l-1}, n_l): writable views of the network."""
        return self._fitted_net().weights

    @coefs_.setter
    def coefs_(self, value: Sequence[npt.ArrayLike]) -> None:
        self._set_layer_arrays(value, "coefs_", self._fitted_net().weights)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """``intercepts_[l-1]`` is b^[l], shape (n_l,): writable views of the network."""
        return self._fitted_net().biases

    @intercepts_.setter
    def intercepts_(self, value: Sequence[npt.ArrayLike]) -> None:
        self._set_layer_arrays(value, "intercepts_", self._fitted_net().biases)

    @property
    def prelu_alphas_(self) -> dict[int, float]:
        """The learnt prelu slopes α^[l], ``{l: α}`` for the prelu layers (empty if none)."""
        return {l: float(a) for l, a in self._fitted_net().alphas.items()}

    @property
    def network_(self) -> Network:
        """The fitted :class:`bpcore.Network` itself (live; the glass box shows its Z, H, δ)."""
        return self._fitted_net()

    def summary(self) -> Any:
        """The layer table of the fitted network (:meth:`bpcore.Network.summary`)."""
        return self._fitted_net().summary()

    def _fitted_net(self) -> Network:
        net = self.__dict__.get("_net")
        if net is None:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return net

    @staticmethod
    def _set_layer_arrays(
        value: Sequence[npt.ArrayLike], name: str, views: list[np.ndarray]
    ) -> None:
        value = list(value)
        if len(value) != len(views):
            raise ValueError(f"{name} needs {len(views)} arrays; got {len(value)}")
        for k, (v, a) in enumerate(zip(views, value)):
            a = np.asarray(a)
            if a.shape != v.shape:
                raise ValueError(f"{name}[{k}] must have shape {v.shape}; got {a.shape}")
        for v, a in zip(views, value):
            v[...] = a

    # ---------------------------------------------------------------- input validation
    def _validate_X_y(
        self, X: npt.ArrayLike, y: npt.ArrayLike, reset: bool, dtype: np.dtype | None
    ) -> tuple[np.ndarray, np.ndarray]:
        X, y = self._validate(
            X,
            y,
            accept_sparse="csr",
            multi_output=True,
            y_numeric=not self._is_classifier,
            dtype=_FLOAT_DTYPES if dtype is None else dtype,
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _validate_sample_weight(
        self, sample_weight: npt.ArrayLike | None, X: np.ndarray
    ) -> np.ndarray | None:
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Number):
            return np.full(X.shape[0], float(sample_weight), dtype=X.dtype)
        w = check_array(
            sample_weight,
            accept_sparse=False,
            ensure_2d=False,
            dtype=X.dtype,
            order="C",
            copy=True,
            input_name="sample_weight",
        )
        if w.ndim != 1:
            raise ValueError(
                f"sample_weight must be 1-D of shape ({X.shape[0]},); got shape {w.shape}"
            )
        if w.shape[0] != X.shape[0]:
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},)")
        return _v.as_sample_weight(w, X.dtype, X.shape[0])

    def __sklearn_is_fitted__(self) -> bool:
        return "_net" in self.__dict__

    def _forward(self, X: npt.ArrayLike) -> np.ndarray:
        """Ŷ = H^[L] of X, shape (n, q); X is converted to the network's dtype."""
        check_is_fitted(self)
        X = self._validate(X, accept_sparse="csr", dtype=_FLOAT_DTYPES, reset=False)
        return self._net.predict(X, self.n_threads)

    # ---------------------------------------------------------------- training
    def _output(self) -> tuple[str, str]:
        """f^[L] and bpcore's loss for the current targets."""
        raise NotImplementedError

    def _prepare_targets(self, y: np.ndarray, incremental: bool) -> np.ndarray:
        raise NotImplementedError

    def _validation_score(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None) -> float:
        raise NotImplementedError

    def _new_network(
        self,
        cfg: _Config,
        n_features: int,
        n_outputs: int,
        dtype: np.dtype,
        rng: np.random.RandomState,
    ) -> Network:
        f_L, loss = self._output()
        sizes = [n_features, *cfg.hidden, n_outputs]
        net = Network(
            sizes,
            activation=cfg.activations,
            output_activation=f_L,
            loss=loss,
            dtype=dtype,
            init="xavier",
            seed=0,
        )
        # scikit-learn's Glorot uniform, drawn from random_state in its order (W^[l], then b^[l]):
        # bound sqrt(6 / (n_{l-1} + n_l)), or sqrt(2 / …) when layer l has sigmoid units (the
        # output layer takes the factor of the last hidden layer); biases are drawn too.
        for k, (W, b) in enumerate(zip(net.weights, net.biases)):
            if k < len(cfg.activations):
                factor = 2.0 if cfg.activations[k] == "sigmoid" else 6.0
            else:
                factor = cfg.init_factor
            bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
            W[...] = rng.uniform(-bound, bound, W.shape)
            b[...] = rng.uniform(-bound, bound, b.shape)
        return net

    def _check_architecture(self, cfg: _Config, n_outputs: int) -> None:
        f_L, loss = self._output()
        net = self._net
        sizes = [net.sizes[0], *cfg.hidden, n_outputs]
        if (
            net.sizes != sizes
            or net.activations != [*cfg.activations, f_L]
            or net.loss_name != loss
        ):
            raise ValueError(
                f"warm_start and partial_fit continue the fitted network {net.sizes} "
                f"({', '.join(net.activations)}; loss {net.loss_name}), but the parameters and "
                f"targets now describe {sizes} ({', '.join([*cfg.activations, f_L])}; loss "
                f"{loss}); set warm_start=False to train a new network"
            )

    def _fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None,
        incremental: bool,
    ) -> _BaseMLP:
        cfg = self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = "_net" not in self.__dict__ or (not self.warm_start and not incremental)
        dtype = cfg.dtype if first_pass else self._net.dtype
        X, y = self._validate_X_y(X, y, reset=first_pass, dtype=dtype)
        w = self._validate_sample_weight(sample_weight, X)
        Y = self._prepare_targets(y, incremental)
        # the network's dtype and C order, once for all epochs (bpcore's conversion rules)
        dtype = X.dtype
        n, d = X.shape
        X = _v.as_input(X, "X", dtype, d)  # a sparse X: canonical CSR, never densified
        Y = _v.as_targets(Y, "y", dtype, Y.shape[1], n)
        w = _v.as_sample_weight(w, dtype, n)
        rng = check_random_state(self.random_state)

        lbfgs = cfg.optimizer == "lbfgs"
        if first_pass:
            self.n_outputs_ = Y.shape[1]
            self.n_layers_ = len(cfg.hidden) + 2
            self.out_activation_ = _sklearn_name(self._output()[0])
            self._net = self._new_network(cfg, X.shape[1], Y.shape[1], dtype, rng)
            self.n_iter_ = 0
            self.t_ = 0
            # as scikit-learn: the stopping state of the stochastic solvers only
            for name in (
                "loss_curve_",
                "best_loss_",
                "validation_scores_",
                "best_validation_score_",
            ):
                self.__dict__.pop(name, None)
            self._best_parameters = self._net.parameters.copy()
            if not lbfgs:
                self._reset_stopping_state()
        else:
            self._check_architecture(cfg, Y.shape[1])
            self.out_activation_ = _sklearn_name(self._output()[0])
            if lbfgs:
                pass  # as scikit-learn, lbfgs keeps no stopping state
            elif "loss_curve_" not in self.__dict__:  # warm start after lbfgs
                self._reset_stopping_state()
            elif self.early_stopping and self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
            elif not self.early_stopping and self.best_loss_ is None:
                self.best_loss_ = min(self.loss_curve_, default=np.inf)

        if lbfgs:
            self._fit_lbfgs(cfg, X, Y, w)
        else:
            self._train(cfg, X, Y, w, rng, incremental)
        return self

    def _reset_stopping_state(self) -> None:
        """A fresh start of scikit-learn's stopping rules: the loss curve, the count of epochs
        without improvement, and the validation scores (early stopping) or the best loss."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _fit_lbfgs(self, cfg: _Config, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None) -> None:
        """scikit-learn's solver='lbfgs': one L-BFGS run in the core (``lbfgs_run``) with the
        rules scikit-learn gives scipy's L-BFGS-B: at most ``max_iter`` iterations and
        ``max_fun`` evaluations (checked after each iteration), converged when
        max_p |∂F/∂θ_p| ≤ ``tol`` or F fell by at most 2.2e-9 relative to |F|; curvature pairs
        10, evaluations per line search 20. F = J + ½λ Σ‖W^[l]‖² with λ = alpha / Σ_i w_i, the
        full batch's L2 term of scikit-learn."""
        net = self._net
        n_w = float(X.shape[0]) if w is None else float(w.sum())
        if not n_w > 0:
            raise ValueError("sample_weight must not sum to 0")
        state = net.training_state()
        run = core.lbfgs_run64 if net.dtype == np.float64 else core.lbfgs_run32
        with state.lock:
            result = run(
                state.core_net,
                core_matrix(X),
                Y,
                w,
                history_size=10,
                max_iter=int(self.max_iter),
                max_fun=int(self.max_fun),
                max_linesearch=20,
                grad_tol=float(self.tol),
                loss_tol=_SCIPY_FTOL,
                l2=float(self.alpha) / n_w,
                n_threads=0 if cfg.n_threads is None else cfg.n_threads,
            )
        stop = result["stop"]
        self.n_iter_ = min(int(result["iterations"]), int(self.max_iter))
        if stop == "nonfinite":
            cause = TrainingDivergedError(
                "solver='lbfgs' cannot start: the loss or its gradient is NaN or infinite at the "
                "initial parameters; scale the inputs.",
                1,
                History(),
            )
            raise ValueError(_NONFINITE_MESSAGE) from cause
        self.loss_ = float(result["loss"]) * self._loss_scale() + float(result["penalty"])
        if self.verbose:
            print(
                f"L-BFGS: {result['iterations']} iterations, {result['evaluations']} "
                f"evaluations, loss = {self.loss_:.8f} ({_LBFGS_MESSAGES[stop][1]})"
            )
        status, message = _LBFGS_MESSAGES[stop]
        if status != 0:
            text = (
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={status}):\n{message}\n"
            )
            if self.n_iter_ == self.max_iter:
                text += (
                    "\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={self.max_iter})."
                )
            text += (
                "\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html"
            )
            warnings.warn(text, ConvergenceWarning, stacklevel=3)

    def _train(
        self,
        cfg: _Config,
        X: np.ndarray,
        Y: np.ndarray,
        w: np.ndarray | None,
        rng: np.random.RandomState,
        incremental: bool,
    ) -> None:
        net = self._net
        # A new optimizer state for every fit; partial_fit continues the last one (scikit-learn).
        fresh_optimizer = not incremental or "_learning_rate" not in self.__dict__
        if fresh_optimizer:
            self._learning_rate = float(self.learning_rate_init)

        early = bool(self.early_stopping)
        X_val = Y_val = w_val = None
        if early:
            # as scikit-learn: stratified for single-output classification only, on the
            # indicator matrix as booleans (its messages name the classes 'False', 'True')
            stratify = Y.astype(bool) if self._is_classifier and self.n_outputs_ == 1 else None
            arrays = [X, Y] if w is None else [X, Y, w]
            parts = train_test_split(
                *arrays, random_state=rng, test_size=self.validation_fraction, stratify=stratify
            )
            X, X_val, Y, Y_val = parts[:4]
            if w is not None:
                w, w_val = parts[4], parts[5]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )

        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is "
                    "going to be clipped",
                    stacklevel=3,
                )
            batch = int(np.clip(self.batch_size, 1, n))
        mean_w = 1.0 if w is None else float(w.mean())
        if mean_w <= 0:
            raise ValueError("sample_weight of the training part must not be all zero")
        # scikit-learn adds alpha W / Σ_batch w to the batch gradient; bpcore adds λ W.
        lam = float(self.alpha) / (batch * mean_w)
        # The schedule's time t_ counts samples by weight, so integer weights act as repetitions.
        n_seen: int | float = n if w is None else float(w.sum())
        if isinstance(n_seen, float) and n_seen.is_integer():
            n_seen = int(n_seen)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        sgd = self.solver == "sgd"

        self.n_iter_ = 0
        for it in range(self.max_iter):
            # ½ λ Σ‖W^[l]‖² at the start of the epoch: scikit-learn's L2 term of its loss
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run's weights
                penalty = 0.5 * lam * sum(float(np.dot(W.ravel(), W.ravel())) for W in net.weights)
            try:
                hist = net.fit(
                    X,
                    Y,
                    epochs=1,
                    batch_size=batch,
                    lr=self._learning_rate,
                    optimizer=cfg.optimizer,
                    momentum=float(self.momentum),
                    shuffle=self.shuffle,
                    n_threads=cfg.n_threads,
                    seed=seed,
                    sample_weight=w,
                    beta1=float(self.beta_1),
                    beta2=float(self.beta_2),
                    epsilon=float(self.epsilon),
                    weight_decay=lam,
                    warm_start=not (fresh_optimizer and it == 0),
                )
            except TrainingDivergedError as exc:
                # scikit-learn counts the iteration whose loss overflowed, records its NaN
                # validation score and, with early stopping, keeps the best parameters
                self.n_iter_ += 1
                self.t_ += n_seen
                self.loss_ = math.nan
                self.loss_curve_.append(math.nan)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = nan")
                detail = TrainingDivergedError(
                    f"training diverged in iteration {self.n_iter_}: the loss became NaN or "
                    f"infinite; the network keeps the parameters of iteration {self.n_iter_ - 1}"
                    f". Lower learning_rate_init (now {self._learning_rate:g}) or scale the "
                    "inputs.",
                    self.n_iter_,
                    exc.history,
                )
                detail.__cause__ = exc
                if not early:
                    raise ValueError(_NONFINITE_MESSAGE) from detail
                self.validation_scores_.append(math.nan)
                if self.verbose:
                    print("Validation score: nan")
                warnings.warn(
                    f"{detail} Training stopped; the parameters of the best validation score "
                    "are kept.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                break
            if hist.stop_reason == "interrupted":
                warnings.warn("Training interrupted by user.", stacklevel=3)
                break
            loss = hist.loss[0] * self._loss_scale() + penalty
            self.n_iter_ += 1
            self.t_ += n_seen
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")

            self._update_no_improvement_count(early, X_val, Y_val, w_val)

            if sgd and self.learning_rate == "invscaling":
                self._learning_rate = float(self.learning_rate_init) / (self.t_ + 1) ** float(
                    self.power_t
                )

            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early else "Training loss"
                msg = (
                    f"{what} did not improve more than tol={self.tol:f} for "
                    f"{self.n_iter_no_change} consecutive epochs."
                )
                if sgd and self.learning_rate == "adaptive" and self._learning_rate > 1e-6:
                    self._learning_rate /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{msg} Setting learning rate to {self._learning_rate:f}")
                else:
                    if self.verbose:
                        print(
                            msg
                            + (
                                " Learning rate too small."
                                if sgd and self.learning_rate == "adaptive"
                                else ""
                            )
                            + " Stopping."
                        )
                    break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                    "optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=3,
                )

        if early:
            net.parameters[...] = self._best_parameters

    def _loss_grad_lbfgs(
        self,
        packed_coef_inter: npt.ArrayLike,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        *buffers: Any,
    ) -> tuple[float, np.ndarray]:
        """scikit-learn's objective of solver='lbfgs' and its gradient at the packed parameters
        (every W^[l] row by row, then every b^[l]; the network is set to them): the reported
        loss J (scaled as ``loss_``) plus ½ alpha Σ‖W^[l]‖² / Σ_i w_i, and ∂J/∂θ plus
        alpha W^[l] / Σ_i w_i. The trailing arguments (scikit-learn's work buffers) are
        ignored."""
        net = self._fitted_net()
        theta = np.asarray(packed_coef_inter, dtype=np.float64).ravel()
        weights, biases = net.weights, net.biases
        n_w = sum(W.size for W in weights)
        if theta.size != n_w + sum(b.size for b in biases):
            raise ValueError(
                f"packed_coef_inter must have {n_w + sum(b.size for b in biases)} values; "
                f"got {theta.size}"
            )
        pos = 0
        for W in weights:
            W[...] = theta[pos : pos + W.size].reshape(W.shape)
            pos += W.size
        for b in biases:
            b[...] = theta[pos : pos + b.size]
            pos += b.size
        Y = np.asarray(y)
        J, grads = net.backward(X, Y.reshape(Y.shape[0], -1), sample_weight)
        total = float(np.shape(X)[0]) if sample_weight is None else float(np.sum(sample_weight))
        alpha = float(self.alpha)
        penalty = 0.5 * alpha * sum(float(np.dot(W.ravel(), W.ravel())) for W in weights) / total
        gW = [g + (alpha / total) * W for (g, _), W in zip(grads, weights)]
        grad = np.concatenate([g.ravel() for g in gW] + [gb.ravel() for _, gb in grads])
        return J * self._loss_scale() + penalty, grad

    def _update_no_improvement_count(
        self,
        early: bool,
        X_val: np.ndarray | None,
        Y_val: np.ndarray | None,
        w_val: np.ndarray | None,
    ) -> None:
        if early:
            score = self._validation_score(X_val, Y_val, w_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_parameters = self._net.parameters.copy()
        else:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last < self.best_loss_:
                self.best_loss_ = last

    # ---------------------------------------------------------------- public API
    def fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
    ) -> _BaseMLP:
        """Train the network on (X, y) with back-propagation, up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            H^[0], dense. float32 X trains a float32 network unless ``dtype`` says otherwise.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or targets (regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights w_i: each batch's J and gradient are the w-weighted means.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def to_sklearn(self) -> BaseEstimator:
        """The fitted ``sklearn.neural_network`` estimator with the same predictions; see
        :func:`bpcore.convert.estimator_to_sklearn`."""
        from .convert import estimator_to_sklearn

        return estimator_to_sklearn(self)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier trained by bpcore's C++ back-propagation.

    The parameters, fitted attributes and behaviour follow
    ``sklearn.neural_network.MLPClassifier`` (see the differences in the README's
    "scikit-learn" section). The output layer is softmax with cross-entropy for more than two
    classes, and one sigmoid unit per output with binary cross-entropy for two classes and for
    multilabel targets.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        n_1 … n_{L-1}, the sizes of the hidden layers. ``()`` is a network without hidden layer.
    activation : str or list of str, default='relu'
        f of the hidden layers: 'identity', 'logistic' (= bpcore's 'sigmoid', also accepted),
        'tanh', 'relu' or bpcore's 'prelu' (learnable slope α^[l] per layer, starting at 0.25).
        A list gives one name per hidden layer.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'sgd' with ``momentum`` > 0 is bpcore's 'nesterov' optimizer (``nesterovs_momentum``) or
        'momentum'; with ``momentum=0`` the notes' plain rule W ← W − α ∂J/∂W. 'lbfgs' runs the
        core's L-BFGS on the full batch with the stopping rules scikit-learn gives scipy's
        L-BFGS-B: ``max_iter`` iterations, ``max_fun`` evaluations, ``tol`` on
        max_p |∂F/∂θ_p| and a relative decrease of F of 2.2e-9 (F = J + ½ alpha Σ‖W‖² / Σ w);
        it sets ``loss_`` and ``n_iter_`` but no ``loss_curve_``, ignores ``early_stopping`` and
        has no ``partial_fit``.
    alpha : float, default=0.0001
        L2 penalty, scikit-learn's meaning: the gradient of a batch gains alpha·W/Σ_batch w.
    batch_size : int or 'auto', default='auto'
        Samples per update; 'auto' is min(200, n_samples).
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of the 'sgd' solver, as scikit-learn: 'invscaling' uses
        learning_rate_init / (t + 1)^power_t after each epoch (t = ``t_``, the samples
        seen, counted by weight); 'adaptive'
        divides the rate by 5 each time the stopping rule fires, until it is at most 1e-6.
    learning_rate_init : float, default=0.001
        α of the first epoch.
    power_t : float, default=0.5
    max_iter : int, default=200
        Most epochs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Draws the initial W^[l], b^[l] (scikit-learn's Glorot uniform, in its order), the
        validation split and the seed of the core's shuffling.
    tol : float, default=1e-4
    verbose : bool, default=False
        Print the loss of every epoch.
    warm_start : bool, default=False
        Continue from the fitted parameters (with a new optimizer state, as scikit-learn).
    momentum : float, default=0.9
        μ of the sgd solver, in [0, 1) (scikit-learn also accepts 1).
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for binary targets) and stop
        when the accuracy on it has not improved by ``tol`` for ``n_iter_no_change`` epochs;
        the parameters of the best epoch are kept.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Of adam.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        Of 'lbfgs': stop after the iteration in which the evaluations of F and ∂F/∂θ pass
        max_fun (ConvergenceWarning).
    loss : {'log_loss', 'mse'}, default='log_loss'
        'log_loss' is scikit-learn's (cross-entropy). 'mse' trains sigmoid outputs on the one-hot
        targets with the notes' J = ½ Σ_j (y_j − ŷ_j)²; predict_proba then normalises the
        outputs to sum to 1 (multiclass).
    dtype : {None, 'float64', 'float32'}, default=None
        Floating type of the network; None follows X (float32 X gives a float32 network, any
        other X float64), as scikit-learn does.
    n_threads : int or None, default=None
        Threads over the batch in the core; None is OpenMP's default.

    Attributes
    ----------
    classes_ : ndarray
    coefs_, intercepts_ : list of ndarray
        W^[l] and b^[l], views of the network's memory.
    prelu_alphas_ : dict of int to float
    network_ : bpcore.Network
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_
        As scikit-learn; a loss is the epoch's mean J plus ½λ Σ‖W^[l]‖².
    n_iter_, t_, n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str | Sequence[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        loss: str = "log_loss",
        dtype: npt.DTypeLike | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.dtype = dtype
        self.n_threads = n_threads

    def _check_loss(self) -> None:
        _check_choice(self.loss, "loss", ("log_loss", "mse"))

    def _output(self) -> tuple[str, str]:
        if self.loss == "mse":  # scikit-learn's squared error on the indicators: logistic units
            return "sigmoid", "mse"
        # log_loss: the table's loss of the task (softmax for exclusive classes; one logistic
        # unit per label for two classes and multilabel), with the output activation it needs
        task = "classification" if self._label_binarizer.y_type_ == "multiclass" else "multilabel"
        return _output_for(task)

    def _prepare_targets(self, y: np.ndarray, incremental: bool) -> np.ndarray:
        check_classification_targets(y)
        if "classes_" not in self.__dict__ or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        Y = self._label_binarizer.transform(y)
        return np.asarray(Y.toarray() if hasattr(Y, "toarray") else Y)

    def _labels(self, Y_hat: np.ndarray) -> np.ndarray:
        if self.n_outputs_ == 1:
            Y_hat = Y_hat.ravel()
        return self._label_binarizer.inverse_transform(Y_hat)

    def _validation_score(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None) -> float:
        Y_hat = self._net.predict(X, self.n_threads)
        if not np.isfinite(Y_hat).all():
            return np.nan
        y_true = self._labels(Y)
        return float(accuracy_score(y_true, self._labels(Y_hat), sample_weight=w))

    @available_if(_has_partial_fit)
    def partial_fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        classes: npt.ArrayLike | None = None,
    ) -> MLPClassifier:
        """One epoch over (X, y), continuing the network and its optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes) (multilabel)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of all calls; required on the first call.

        Returns
        -------
        self
        """
        first = "classes_" not in self.__dict__
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            classes = unique_labels(classes)
            if not first and not np.array_equal(self.classes_, classes):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to "
                    f"partial_fit, was: {self.classes_!r}"
                )
        if not first:
            return self._fit(X, y, sample_weight, incremental=True)
        self._label_binarizer = LabelBinarizer()
        if type_of_target(y).startswith("multilabel"):
            self._label_binarizer.fit(y)
        else:
            self._label_binarizer.fit(classes)
        self.classes_ = self._label_binarizer.classes_
        try:
            return self._fit(X, y, sample_weight, incremental=True)
        except BaseException:
            del self._label_binarizer, self.classes_  # the first call did not happen
            raise

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Class labels (multilabel: the indicator matrix) of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._labels(self._forward(X))

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        Y_hat = self._forward(X)
        if self.n_outputs_ == 1:
            p = Y_hat.ravel()
            return np.vstack([1 - p, p]).T
        if self.loss == "mse" and self._label_binarizer.y_type_ == "multiclass":
            total = Y_hat.sum(axis=1, keepdims=True)
            return Y_hat / np.maximum(total, np.finfo(Y_hat.dtype).tiny)
        return Y_hat

    def predict_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """log of :meth:`predict_proba`."""
        p = self.predict_proba(X)
        return np.log(p, out=p)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multilabel": True}


class MLPRegressor(MultiOutputMixin, RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor trained by bpcore's C++ back-propagation.

    The parameters, fitted attributes and behaviour follow
    ``sklearn.neural_network.MLPRegressor`` (see the differences in the README's "scikit-learn"
    section). The output layer is identity with the notes' J = ½ Σ_j (y_j − ŷ_j)² per sample
    (exp with half the Poisson deviance for ``loss='poisson'``).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        n_1 … n_{L-1}, the sizes of the hidden layers. ``()`` is a network without hidden layer.
    activation : str or list of str, default='relu'
        f of the hidden layers: 'identity', 'logistic' (= bpcore's 'sigmoid', also accepted),
        'tanh', 'relu' or bpcore's 'prelu' (learnable slope α^[l] per layer, starting at 0.25).
        A list gives one name per hidden layer.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'sgd' with ``momentum`` > 0 is bpcore's 'nesterov' optimizer (``nesterovs_momentum``) or
        'momentum'; with ``momentum=0`` the notes' plain rule W ← W − α ∂J/∂W. 'lbfgs' runs the
        core's L-BFGS on the full batch with the stopping rules scikit-learn gives scipy's
        L-BFGS-B: ``max_iter`` iterations, ``max_fun`` evaluations, ``tol`` on
        max_p |∂F/∂θ_p| and a relative decrease of F of 2.2e-9 (F = J + ½ alpha Σ‖W‖² / Σ w);
        it sets ``loss_`` and ``n_iter_`` but no ``loss_curve_``, ignores ``early_stopping`` and
        has no ``partial_fit``.
    alpha : float, default=0.0001
        L2 penalty, scikit-learn's meaning: the gradient of a batch gains alpha·W/Σ_batch w.
    batch_size : int or 'auto', default='auto'
        Samples per update; 'auto' is min(200, n_samples).
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of the 'sgd' solver, as scikit-learn: 'invscaling' uses
        learning_rate_init / (t + 1)^power_t after each epoch (t = ``t_``, the samples
        seen, counted by weight); 'adaptive'
        divides the rate by 5 each time the stopping rule fires, until it is at most 1e-6.
    learning_rate_init : float, default=0.001
        α of the first epoch.
    power_t : float, default=0.5
    max_iter : int, default=200
        Most epochs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Draws the initial W^[l], b^[l] (scikit-learn's Glorot uniform, in its order), the
        validation split and the seed of the core's shuffling.
    tol : float, default=1e-4
    verbose : bool, default=False
        Print the loss of every epoch.
    warm_start : bool, default=False
        Continue from the fitted parameters (with a new optimizer state, as scikit-learn).
    momentum : float, default=0.9
        μ of the sgd solver, in [0, 1) (scikit-learn also accepts 1).
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the R² on it has not improved
        by ``tol`` for ``n_iter_no_change`` epochs; the parameters of the best epoch are kept.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Of adam.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        Of 'lbfgs': stop after the iteration in which the evaluations of F and ∂F/∂θ pass
        max_fun (ConvergenceWarning).
    loss : {'squared_error', 'poisson', 'mse'}, default='squared_error'
        'squared_error' and 'mse' train on the notes' J = ½ Σ_j (y_j − ŷ_j)² per sample, averaged
        over the batch, whose gradient is the one scikit-learn's 'squared_error' follows. They
        differ only in the reported loss (``loss_curve_``, and so ``tol``): 'squared_error'
        reports ½ mean_j (y_j − ŷ_j)² as scikit-learn does, 'mse' the notes' J itself (n_outputs
        times larger). 'poisson' is scikit-learn's: the output f^[L] = exp (``out_activation_``
        'exp') and half the Poisson deviance J = Σ_j [ŷ_j − y_j + y_j log(y_j / ŷ_j)], with
        δ^[L] = Y − Ŷ; it needs y ≥ 0 (ValueError otherwise).
    dtype : {None, 'float64', 'float32'}, default=None
        Floating type of the network; None follows X (float32 X gives a float32 network).
    n_threads : int or None, default=None
        Threads over the batch in the core; None is OpenMP's default.

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
        W^[l] and b^[l], views of the network's memory.
    prelu_alphas_ : dict of int to float
    network_ : bpcore.Network
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_
        As scikit-learn; a loss is the epoch's mean J plus ½λ Σ‖W^[l]‖².
    n_iter_, t_, n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str | Sequence[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        loss: str = "squared_error",
        dtype: npt.DTypeLike | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.dtype = dtype
        self.n_threads = n_threads

    def _check_loss(self) -> None:
        _check_choice(self.loss, "loss", ("squared_error", "poisson", "mse"))

    def _output(self) -> tuple[str, str]:
        if self.loss == "poisson":  # the table's loss with its log link, f^[L] = exp
            return LOSS_INFO["poisson"].output_activation or "exp", "poisson"
        f_L, loss = _output_for("regression")
        return f_L or "identity", loss

    def _loss_scale(self) -> float:
        # scikit-learn's squared_error reports ½ mean_j e_j² (its gradient is that of ½ Σ_j e_j²)
        return 1.0 / self.n_outputs_ if self.loss == "squared_error" else 1.0

    def _prepare_targets(self, y: np.ndarray, incremental: bool) -> np.ndarray:
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression "
                "(loss='poisson' needs targets y >= 0)."
            )
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _validation_score(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None) -> float:
        Y_hat = self._net.predict(X, self.n_threads)
        if not np.isfinite(Y_hat).all():
            return np.nan
        if Y.shape[1] == 1:
            Y, Y_hat = Y.ravel(), Y_hat.ravel()
        return float(r2_score(Y, Y_hat, sample_weight=w))

    @available_if(_has_partial_fit)
    def partial_fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
    ) -> MLPRegressor:
        """One epoch over (X, y), continuing the network and its optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Ŷ of X: shape (n_samples,) for one output, else (n_samples, n_outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        Y_hat = self._forward(X)
        return Y_hat.ravel() if Y_hat.shape[1] == 1 else Y_hat
