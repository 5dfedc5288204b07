"""``bpcore.Network``: the notes' multilayer perceptron, backed by the C++ core.

Notation (docs/notation.md): layers l = 1 … L, samples are rows,

    Z^[l] = H^[l-1] W^[l] + b^[l],   H^[l] = f^[l](Z^[l]),   H^[0] = X,   Y_hat = H^[L]

with W^[l] of shape (n_{l-1}, n_l) and b^[l] of shape (n_l,).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _validation as v
from ._loader import core
from ._names import ACTIVATIONS, HIDDEN_ACTIVATIONS, INITS, LOSSES, check_name
from ._sparse import core_matrix, is_sparse
from ._state import NetworkBase, TrainingState
from .training import FIT_DEFAULTS as _D
from .training import fit

if TYPE_CHECKING:
    import numpy.typing as npt
    from mpi4py.MPI import Intracomm
    from typing_extensions import Unpack

    from ._summary import Summary
    from .glassbox import Trace
    from .preprocessing import Preprocessing
    from .training import Callback, FitOptions, History

__all__ = ["Network"]


class Network(NetworkBase):
    """A fully connected network: forward pass and δ back-propagation in C++.

    Parameters
    ----------
    sizes : sequence of int
        ``[d, n_1, …, n_{L-1}, q]``: input size, hidden layer sizes, output size. ``[d, q]`` is a
        network with no hidden layer.
    activation : str or sequence of str
        f of the hidden layers: one name for all, or one per hidden layer. One of identity,
        sigmoid, tanh, relu, prelu.
    output_activation : str
        f^[L]. ``softmax`` goes with ``loss="cross_entropy"`` only.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
        ``mse`` is the notes' J = ½ Σ_j e_j² per sample, averaged over the batch.
    dtype : {"float64", "float32"}
    init : {"small_uniform", "xavier", "he"}
        ``small_uniform`` draws every W and b from U(-init_scale, init_scale), the notes' "small
        random non-zero values".
    seed : int
        Seed of the initialisation. The same seed gives the same network.
    init_scale : float
        Bound of ``small_uniform`` (default 0.1).
    dropout : float or sequence of float
        Inverted dropout during training: the rate p_l of each hidden layer (one number for all,
        or one per hidden layer), each in [0, 1); 0 (the default) is no dropout. While ``fit``
        trains, each unit of H^[l] is dropped with probability p_l and the kept ones are scaled
        by 1/(1 − p_l), H^[l] ← H^[l] ⊙ M^[l] / (1 − p_l), and δ passes through the same mask.
        The masks come from fit's ``seed``, the epoch and each sample's row index, so training
        is reproducible and the same for any thread count. :meth:`predict`, :meth:`loss` and
        :meth:`forward` use no mask. The full-batch optimizers (rprop, lbfgs, lm) refuse it.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l-1]`` is W^[l], shape (n_{l-1}, n_l): a writable view of the core's memory.
    biases : list of ndarray
        ``biases[l-1]`` is b^[l], shape (n_l,): a view as well.
    metadata : dict of str to str
        Free-form entries stored in the model file (:meth:`save`).
    preprocessing : bpcore.preprocessing.Preprocessing or None
        Standardisation statistics and class labels that travel with the model file.
    Z, H, delta : dict of int to ndarray
        After :meth:`forward` or :meth:`backward`, ``Z[l]``, ``H[l]`` (``H[0]`` is X) and, after
        :meth:`backward`, ``delta[l]`` = δ^[l] = -∂J_i/∂Z^[l] of each sample (rows), copies.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Sequence[str] = "sigmoid",
        output_activation: str = "sigmoid",
        loss: str = "mse",
        dtype: str | np.dtype | type = "float64",
        init: str = "small_uniform",
        seed: int = 0,
        init_scale: float = 0.1,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        sizes = v.check_sizes(sizes)
        n_hidden = len(sizes) - 2
        if isinstance(activation, str):
            hidden = [check_name(activation, HIDDEN_ACTIVATIONS, "activation")] * n_hidden
        else:
            hidden = [check_name(a, HIDDEN_ACTIVATIONS, "activation") for a in activation]
            if len(hidden) != n_hidden:
                raise ValueError(
                    f"activation lists {len(hidden)} names but the network has {n_hidden} hidden "
                    "layers; give one name per hidden layer or a single name"
                )
        check_name(output_activation, ACTIVATIONS, "output_activation")
        check_name(loss, LOSSES, "loss")
        check_name(init, INITS, "init")
        self._dtype = v.check_dtype(dtype)
        seed = v.check_seed(seed)
        init_scale = v.check_positive_float(init_scale, "init_scale")
        rates = v.check_dropout(dropout, n_hidden)
        cls = core.Network64 if self._dtype == np.float64 else core.Network32
        self._net = cls(sizes, hidden + [output_activation], loss)
        self._net.dropout = rates
        self._net.initialize(init, seed, init_scale)
        self._init = init
        self._seed = seed
        self._init_scale = init_scale
        # the optimizer, the epochs done and the locks: handed to bpcore.training and the glass box
        self._state = TrainingState(self._net)
        self._X_cache: Any = None  # a C-ordered array, or CSR for a sparse X
        #: the user's entries of a model file (see bpcore.io); saved with the network
        self.metadata: dict[str, str] = {}
        #: standardisation and class labels (bpcore.preprocessing.Preprocessing) or None
        self.preprocessing: Preprocessing | None = None

    def training_state(self) -> TrainingState:
        """The object that owns this network's training state: the optimizer and epoch count that
        ``fit(..., warm_start=True)`` continues, and the locks that keep two threads from using
        the core's caches at once. For :mod:`bpcore.training` and :mod:`bpcore.glassbox`; ordinary
        use never needs it."""
        return self._state

    # ---------------------------------------------------------------- architecture
    @property
    def sizes(self) -> list[int]:
        """``[d, n_1, …, q]``."""
        return list(self._net.sizes)

    @property
    def activations(self) -> list[str]:
        """f^[l] of layers l = 1 … L."""
        return list(self._net.activations)

    @property
    def loss_name(self) -> str:
        return self._net.loss_name

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def n_layers(self) -> int:
        """L, the number of layers with weights."""
        return self._net.n_layers

    @property
    def n_params(self) -> int:
        return self._net.n_params

    @property
    def init(self) -> str:
        return self._init

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def init_scale(self) -> float:
        return self._init_scale

    @property
    def dropout(self) -> list[float]:
        """The dropout rates p_l of the hidden layers l = 1 … L-1 (all 0: no dropout)."""
        return list(self._net.dropout)

    def __repr__(self) -> str:
        acts = self.activations
        hidden = acts[:-1]
        hidden_txt = repr(hidden[0]) if hidden and len(set(hidden)) == 1 else repr(hidden)
        rates = self.dropout
        drop_txt = ""
        if any(rates):
            drop_txt = f", dropout={rates[0]!r}" if len(set(rates)) == 1 else f", dropout={rates}"
        return (
            f"Network({self.sizes}, activation={hidden_txt}, output_activation={acts[-1]!r}, "
            f"loss={self.loss_name!r}, dtype={self._dtype.name!r}{drop_txt}, "
            f"n_params={self.n_params})"
        )

    def summary(self) -> Summary:
        """The table of the layers: n_{l-1} → n_l, f^[l], the shapes of W^[l] and b^[l], the
        parameter counts and their totals. ``print(net.summary())`` gives text; in a notebook it
        shows as an HTML table."""
        from ._summary import summarize

        return summarize(self)

    def _repr_html_(self) -> str:
        """The notebook view of a network: its summary table."""
        return self.summary().to_html()

    # ---------------------------------------------------------------- parameters (views)
    @property
    def weights(self) -> list[np.ndarray]:
        return [self._net.weight(k) for k in range(self.n_layers)]

    @property
    def biases(self) -> list[np.ndarray]:
        return [self._net.bias(k) for k in range(self.n_layers)]

    @property
    def alphas(self) -> dict[int, np.ndarray]:
        """prelu slopes α^[l], ``{l: 0-d view}`` for the prelu layers only."""
        flat = self._net.params()
        out = {}
        for k in range(self.n_layers):
            a = self._net.layout(k)[2]
            if a >= 0:
                out[k + 1] = flat[a : a + 1].reshape(())
        return out

    @property
    def parameters(self) -> np.ndarray:
        """Every parameter θ in one flat writable view (per layer: W^[l] row by row, b^[l], α^[l])."""
        return self._net.params()

    @property
    def gradient(self) -> np.ndarray:
        """∂J/∂θ of the last :meth:`backward`, flat, same layout as :attr:`parameters` (a view)."""
        return self._net.grads()

    def reinitialize(self, seed: int | None = None, init: str | None = None) -> None:
        """Draw new parameters (in place: existing views see them) and forget the optimizer state."""
        new_init = self._init if init is None else check_name(init, INITS, "init")
        new_seed = self._seed if seed is None else v.check_seed(seed)
        if self._state.fitting.locked():
            raise RuntimeError(
                "reinitialize() cannot run while fit() is training this network; "
                "stop training first (return True from the callback)"
            )
        with self._state.lock:
            self._net.initialize(new_init, new_seed, self._init_scale)
            self._init, self._seed = new_init, new_seed
            self._state.reset()

    # ---------------------------------------------------------------- computations
    def _X(self, X: npt.ArrayLike, name: str = "X") -> Any:
        """X as the network's dtype: a C-ordered array, or CSR for a ``scipy.sparse`` X."""
        return v.as_input(X, name, self._dtype, self.sizes[0])

    def _Y(self, Y: npt.ArrayLike, n: int, name: str = "Y") -> np.ndarray:
        return v.as_targets(Y, name, self._dtype, self.sizes[-1], n)

    def forward(self, X: npt.ArrayLike, n_threads: int | None = None) -> np.ndarray:
        """Ŷ = H^[L] of a batch X (n, d), shape (n, q). Keeps Z^[l], H^[l] for :attr:`Z`, :attr:`H`.

        X (here and in :meth:`predict`, :meth:`loss`, :meth:`backward`, :meth:`fit`) may be a
        ``scipy.sparse`` matrix or array: converted once to CSR, never densified."""
        X = self._X(X)
        threads = v.check_threads(n_threads)
        with self._state.lock:
            self._net.forward(core_matrix(X), threads)
            self._X_cache = X
            return self._net.cached_H(self.n_layers - 1)

    def predict(self, X: npt.ArrayLike, n_threads: int | None = None) -> np.ndarray:
        """Ŷ of a batch, computed in row chunks with no cache: safe from several threads at once."""
        # A NaN or inf in X makes its row of Z^[1] non-finite, and the core reports that; so X is
        # searched for one only then, not scanned in full before every prediction.
        X = v.as_input(X, "X", self._dtype, self.sizes[0], finite=False)
        Y_hat, z1_finite = self._net.predict(core_matrix(X), v.check_threads(n_threads))
        if not z1_finite and isinstance(X, np.ndarray):
            v.check_finite(X, "X")
        return Y_hat

    def loss(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        n_threads: int | None = None,
    ) -> float:
        """J of the batch: the (weighted) mean over samples of the per-sample J."""
        X = self._X(X)
        Y = self._Y(Y, X.shape[0])
        w = v.as_sample_weight(sample_weight, self._dtype, X.shape[0])
        return float(self._net.loss(core_matrix(X), Y, w, v.check_threads(n_threads)))

    def backward(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        n_threads: int | None = None,
        *,
        dropout_seed: int | None = None,
        dropout_epoch: int = 0,
    ) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Forward pass and δ back-propagation of a batch.

        Returns ``(J, grads)`` with ``grads[l-1] = (∂J/∂W^[l], ∂J/∂b^[l])`` of the batch mean J:
        ∂J/∂W^[l] = -(1/n) H^[l-1]ᵀ δ^[l] and ∂J/∂b^[l] = -(1/n) Σ_rows δ^[l]. With sample weights,
        J is the weighted mean and each row of δ^[l] is multiplied by n·w_i/Σw.
        ∂J/∂α^[l] of prelu layers is in :attr:`alpha_gradients`.

        With :attr:`dropout` on, ``dropout_seed`` (fit's ``seed``) runs the pass as training does:
        the masks of rows 0 … n-1 in epoch ``dropout_epoch`` (see :attr:`mask`), the same masks
        whatever the parameters, so J and the gradient are those of one fixed mask. Without it
        (the default) no mask is used.
        """
        X = self._X(X)
        Y = self._Y(Y, X.shape[0])
        w = v.as_sample_weight(sample_weight, self._dtype, X.shape[0])
        threads = v.check_threads(n_threads)
        seed = None if dropout_seed is None else v.check_seed(dropout_seed, "dropout_seed")
        epoch = v.check_int(dropout_epoch, "dropout_epoch", minimum=0)
        with self._state.lock:
            J = float(self._net.backward(core_matrix(X), Y, w, threads, seed, epoch))
            self._X_cache = X
            g = self._net.grads().copy()
            grads = []
            for k in range(self.n_layers):
                w_off, b_off, _ = self._net.layout(k)
                n_in, n_out = self.sizes[k], self.sizes[k + 1]
                grads.append(
                    (g[w_off : w_off + n_in * n_out].reshape(n_in, n_out), g[b_off : b_off + n_out])
                )
        return J, grads

    @property
    def alpha_gradients(self) -> dict[int, float]:
        """∂J/∂α^[l] of the last :meth:`backward`, for the prelu layers."""
        g = self._net.grads()
        out = {}
        for k in range(self.n_layers):
            a = self._net.layout(k)[2]
            if a >= 0:
                out[k + 1] = float(g[a])
        return out

    # ---------------------------------------------------------------- cached quantities
    def _cached(self, getter: str, first: int) -> dict[int, np.ndarray]:
        if self._net.cached_rows == 0:
            raise RuntimeError("run forward() or backward() first")
        with self._state.lock:
            fetch = getattr(self._net, getter)
            return {k + 1: fetch(k) for k in range(first, self.n_layers)}

    @property
    def Z(self) -> dict[int, np.ndarray]:
        """``{l: Z^[l]}`` of the last forward/backward batch, l = 1 … L."""
        return self._cached("cached_Z", 0)

    @property
    def H(self) -> dict[int, np.ndarray]:
        """``{l: H^[l]}`` of the last forward/backward batch, l = 0 … L (H^[0] = X)."""
        out = self._cached("cached_H", 0)
        X = self._X_cache
        out[0] = X.copy() if is_sparse(X) else np.array(X, copy=True)
        return dict(sorted(out.items()))

    @property
    def mask(self) -> dict[int, np.ndarray]:
        """``{l: M^[l]}`` of the last :meth:`backward` with ``dropout_seed``: 1 where unit j of
        sample i was kept, 0 where it was dropped, for the hidden layers with p_l > 0 (empty when
        that pass used no mask). The H^[l] of that pass is f(Z^[l]) ⊙ M^[l] / (1 − p_l)."""
        if self._net.cached_rows == 0:
            raise RuntimeError("run forward() or backward() first")
        with self._state.lock:
            return {
                k + 1: (self._net.cached_mask(k) != 0).astype(self._dtype)
                for k in range(self.n_layers)
                if self._net.has_mask(k)
            }

    @property
    def delta(self) -> dict[int, np.ndarray]:
        """``{l: δ^[l]}`` of the last backward batch, δ^[l] = -∂J_i/∂Z^[l] per sample (row)."""
        if not self._net.has_delta:
            raise RuntimeError("delta is only available after backward()")
        return self._cached("cached_delta", 0)

    # ---------------------------------------------------------------- training
    def fit(
        self,
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
        """Train with the BP algorithm; see :func:`bpcore.training.fit` for every option.

        The defaults are ``bpcore.training.FIT_DEFAULTS``: the core's for the optimizer and the
        epochs. ``comm`` (an mpi4py communicator) trains data-parallel: each rank passes its shard of the
        rows (see :mod:`bpcore.distributed`)."""
        return fit(
            self,
            X,
            Y,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            momentum=momentum,
            tol=tol,
            shuffle=shuffle,
            n_threads=n_threads,
            seed=seed,
            callbacks=callbacks,
            comm=comm,
            **options,
        )

    # ---------------------------------------------------------------- glass box and files
    def trace(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike,
        lr: float = _D.lr,
        update: bool = False,
        dropout_seed: int | None = _D.seed,
        dropout_epoch: int = 0,
    ) -> Trace:
        """One BP step on a batch with every quantity of the notes; see :func:`bpcore.glassbox.trace`.

        Looking does not train: by default (``update=False``) the network is left unchanged and the
        record shows what the step would do; ``update=True`` applies the step. With dropout the
        step masks the hidden layers as training does (``dropout_seed``, ``dropout_epoch``) and
        the record shows each mask M^[l]."""
        from .glassbox import trace

        return trace(
            self,
            X,
            Y,
            lr=lr,
            update=update,
            dropout_seed=dropout_seed,
            dropout_epoch=dropout_epoch,
        )

    def save(self, path: str | os.PathLike[str], **metadata: object) -> None:
        """Write the network to a safetensors model file, atomically; see :func:`bpcore.io.save`."""
        from ._modelfile import write_network

        write_network(self, path, **metadata)  # type: ignore[arg-type]

    def to_onnx(self, path: Any, opset: int | None = None, **options: Any) -> None:
        """Write the network (with its preprocessing) as an ONNX model; see
        :func:`bpcore.export.to_onnx`."""
        from .export import to_onnx

        to_onnx(self, path, opset, **options)

    def to_c(self, path: Any, name: str = "model", **options: Any) -> None:
        """Write the network as one dependency-free C99 header; see :func:`bpcore.export.to_c`."""
        from .export import to_c

        to_c(self, path, name, **options)

    def to_torch(self) -> Any:
        """An equivalent ``torch.nn.Sequential``; see :func:`bpcore.convert.to_torch`."""
        from .convert import to_torch

        return to_torch(self)

    @classmethod
    def from_sklearn(cls, est: Any) -> Network:
        """The network of a fitted scikit-learn MLP; see :func:`bpcore.convert.from_sklearn`."""
        from .convert import from_sklearn

        return from_sklearn(est, cls)

    @classmethod
    def from_torch(cls, seq: Any, loss: str | None = None) -> Network:
        """The network of a ``torch.nn.Sequential``; see :func:`bpcore.convert.from_torch`."""
        from .convert import from_torch

        return from_torch(seq, cls, loss)

    # ---------------------------------------------------------------- copies and pickling
    def copy(self) -> Network:
        """An independent network with the same architecture and parameters."""
        new = object.__new__(Network)
        new.__setstate__(self.__getstate__())
        return new

    def __getstate__(self) -> dict[str, Any]:
        acts = self.activations
        return {
            "sizes": self.sizes,
            "hidden": acts[:-1],
            "output_activation": acts[-1],
            "loss": self.loss_name,
            "dtype": self._dtype.name,
            "init": self._init,
            "seed": self._seed,
            "init_scale": self._init_scale,
            "dropout": self.dropout,
            "parameters": self.parameters.copy(),
            "metadata": dict(self.metadata),
            "preprocessing": self.preprocessing,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(
            state["sizes"],
            state["hidden"] or "sigmoid",
            state["output_activation"],
            state["loss"],
            state["dtype"],
            state["init"],
            state["seed"],
            state["init_scale"],
            state.get("dropout", 0.0),
        )
        params = np.asarray(state["parameters"], dtype=self._dtype)
        if params.shape != (self.n_params,):
            raise ValueError(f"parameters must have shape ({self.n_params},); got {params.shape}")
        self.parameters[...] = params
        self.metadata = dict(state.get("metadata", {}))
        self.preprocessing = state.get("preprocessing")
