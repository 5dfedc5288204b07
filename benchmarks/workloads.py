"""The benchmark's workloads: their data, their sizes, and bpcore's runs of them.

Notation as in docs/notation.md: X (n, d) has one sample per row, Y (n, q) the targets, W^[l] has
shape (n_{l-1}, n_l). Every run returns a :class:`Trial`: the seconds of the timed part only
(training or inference; data and network construction are outside the clock) and what the run
produced, so that speed is never quoted without the result it bought.

The peers (NumPy, scikit-learn, PyTorch) are in ``peers.py``. They start from bpcore's initial
parameters and visit the samples in bpcore's shuffle order (``epoch_permutation``), so on W1–W3
bpcore and PyTorch compute the same thing and their results must agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = [
    "Spec",
    "Trial",
    "Contender",
    "full_spec",
    "quick_spec",
    "iris_data",
    "digits_data",
    "w3_data",
    "w3_sizes",
    "epoch_flops",
    "forward_flops",
    "epoch_orders",
    "parameters_of",
    "accuracy",
    "w1_network",
    "w2_network",
    "w3_network",
    "bpcore_w1",
    "bpcore_w2",
    "bpcore_w3",
    "bpcore_w4",
    "bpcore_w1_overhead",
    "small_data",
    "small_network",
    "bpcore_small",
    "sizes_label",
]

W1_SIZES = [4, 5, 3]
W2_SIZES = [64, 64, 10]
W3_SIZES = [784, 256, 128, 10]
SEED = 0
# Small networks trained online (batch 1, sigmoid, J = ½Σe², α = 0.5) on generated data: a sweep of
# one hidden layer's width, and two deeper networks.
SMALL_NETWORKS = (
    (8, 2, 4),
    (8, 4, 4),
    (8, 8, 4),
    (8, 16, 4),
    (8, 24, 4),
    (8, 32, 4),
    (8, 16, 16, 4),
    (8, 24, 24, 24, 4),
)


@dataclass(frozen=True)
class Spec:
    """Sizes of one run: ``full_spec()`` is the benchmark's, ``quick_spec()`` a smoke run's."""

    quick: bool
    w1_epochs: int
    w2_epochs: int
    w3_rows: int
    rounds: int
    m2_repeats: int
    peak_n: int
    sn_rows: int = 512
    sn_epochs: int = 20
    sn_networks: tuple = ()
    jax_unrolls: tuple = (("W1", (1, 4, 10)), ("W2", (1, 4)), ("W3", (1, 2)))

    def unrolls(self, workload: str) -> tuple:
        """The ``lax.scan`` unroll factors JAX's program is compiled and timed with."""
        return dict(self.jax_unrolls)[workload]


def full_spec() -> Spec:
    return Spec(
        quick=False,
        w1_epochs=100,
        w2_epochs=30,
        w3_rows=60000,
        rounds=3,
        m2_repeats=7,
        peak_n=3072,
        sn_rows=512,
        sn_epochs=20,
        sn_networks=SMALL_NETWORKS,
    )


def quick_spec() -> Spec:
    return Spec(
        quick=True,
        w1_epochs=10,
        w2_epochs=2,
        w3_rows=4096,
        rounds=1,
        m2_repeats=1,
        peak_n=1024,
        sn_rows=128,
        sn_epochs=2,
        sn_networks=((8, 4, 4), (8, 16, 16, 4)),
        jax_unrolls=(("W1", (4,)), ("W2", (1,)), ("W3", (1,))),
    )


@dataclass
class Trial:
    """One timed run: ``seconds`` of the timed part, ``info`` (accuracy, loss …, JSON-able), and
    ``model`` (the trained network or parameters, for later checks; never serialised)."""

    seconds: float
    info: dict[str, Any] = field(default_factory=dict)
    model: Any = None


@dataclass
class Contender:
    """A framework's run of one workload. ``run(warm)`` does the workload (``warm=True``: a short
    version, as warm-up) and returns a :class:`Trial`. ``threads`` is None for bpcore's default."""

    framework: str
    threads: int | None
    run: Callable[[bool], Trial]


# ------------------------------------------------------------------------------------------- data
def iris_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W1: Iris standardised (each column to mean 0, standard deviation 1), one-hot Y, float64."""
    from bpcore.datasets import load_iris, one_hot

    X, y = load_iris()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.ascontiguousarray(X, dtype=np.float64), one_hot(y, 3, "float64"), y


def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W2: scikit-learn's bundled digits (1797 × 64), X/16, float32. Needs scikit-learn."""
    from bpcore.datasets import one_hot
    from sklearn.datasets import load_digits

    d = load_digits()
    X = np.ascontiguousarray(d.data / 16.0, dtype=np.float32)
    y = d.target.astype(np.int64)
    return X, one_hot(y, 10, "float32"), y


def w3_data(n_rows: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W3/W4: X (n, 784) float32 uniform [0, 1), labels y = argmax((X − ½) R) of a fixed random
    R (784, 10), one-hot Y float32.

    R is drawn before X, so it is the same map for any ``n_rows``. Centring X at ½ keeps the map
    linear in X and the ten classes balanced (without it, two columns of R take 85 % of the labels).
    X is drawn directly in float32 and the labels are computed in chunks, so the data set is
    never held twice in memory (M1 measures what training adds on top of it).
    """
    rng = np.random.default_rng(seed)
    R = rng.standard_normal((W3_SIZES[0], W3_SIZES[-1])).astype(np.float32)
    X = rng.random((n_rows, W3_SIZES[0]), dtype=np.float32)
    y = np.empty(n_rows, dtype=np.int64)
    for start in range(0, n_rows, 8192):
        y[start : start + 8192] = ((X[start : start + 8192] - np.float32(0.5)) @ R).argmax(axis=1)
    Y = np.zeros((n_rows, W3_SIZES[-1]), dtype=np.float32)
    Y[np.arange(n_rows), y] = 1
    return X, Y, y


def w3_sizes() -> list[int]:
    return list(W3_SIZES)


def forward_flops(n: int, sizes: list[int]) -> int:
    """2·n·Σ n_{l-1} n_l: the products H^[l-1] W^[l] of a forward pass (one multiply-add = 2)."""
    return 2 * n * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def epoch_flops(n: int, sizes: list[int]) -> int:
    """FLOPs of one training epoch, counted as the benchmark counts them: the forward products, the weight
    gradients (H^[l-1])ᵀ δ^[l] (the same again), and the input gradients δ^[l] (W^[l])ᵀ of every
    layer but the first."""
    first = 2 * n * sizes[0] * sizes[1]
    return 3 * forward_flops(n, sizes) - first


def epoch_orders(n: int, epochs: int, seed: int = SEED) -> list[np.ndarray]:
    """The order in which bpcore's ``fit(shuffle=True, seed=seed)`` visits the rows, per epoch."""
    from bpcore._loader import core

    return [np.asarray(core.epoch_permutation(n, seed, e)) for e in range(epochs)]


def parameters_of(net: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Copies of the current (W^[l], b^[l]) for l = 1 … L of a bpcore Network."""
    return [(W.copy(), b.copy()) for W, b in zip(net.weights, net.biases)]


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose largest score is the label."""
    return float(np.mean(np.asarray(scores).argmax(axis=1) == y))


# ------------------------------------------------------------------------------------ bpcore runs
def _timed_fit(net: Any, X: np.ndarray, Y: np.ndarray, **kwargs: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    hist = net.fit(X, Y, **kwargs)
    return time.perf_counter() - t0, hist


def w1_network() -> Any:
    import bpcore

    return bpcore.Network(W1_SIZES, "sigmoid", "sigmoid", "mse", "float64", seed=SEED)


def w2_network() -> Any:
    import bpcore

    return bpcore.Network(W2_SIZES, "relu", "softmax", "cross_entropy", "float32", seed=SEED)


def w3_network() -> Any:
    import bpcore

    return bpcore.Network(W3_SIZES, "relu", "softmax", "cross_entropy", "float32", seed=SEED)


def bpcore_w1(X: np.ndarray, Y: np.ndarray, y: np.ndarray, epochs: int) -> Contender:
    """The notes' network: online SGD (batch 1, shuffled), lr 0.5, J = ½Σe²."""

    def run(warm: bool) -> Trial:
        net = w1_network()
        dt, hist = _timed_fit(net, X, Y, epochs=2 if warm else epochs, batch_size=1, lr=0.5)
        return Trial(
            dt, {"accuracy": accuracy(net.predict(X), y), "loss": hist.loss[-1]}, parameters_of(net)
        )

    return Contender("bpcore", None, run)


def bpcore_w2(X: np.ndarray, Y: np.ndarray, y: np.ndarray, epochs: int) -> Contender:
    """Digits, batch 32, SGD with momentum 0.9, lr 0.05."""

    def run(warm: bool) -> Trial:
        net = w2_network()
        dt, hist = _timed_fit(
            net,
            X,
            Y,
            epochs=1 if warm else epochs,
            batch_size=32,
            lr=0.05,
            optimizer="momentum",
            momentum=0.9,
        )
        return Trial(
            dt, {"accuracy": accuracy(net.predict(X), y), "loss": hist.loss[-1]}, parameters_of(net)
        )

    return Contender("bpcore", None, run)


def bpcore_w3(
    X: np.ndarray, Y: np.ndarray, y: np.ndarray, n_threads: int | None = None
) -> Contender:
    """One epoch, batch 128, plain SGD lr 0.05. Reports J and the accuracy after the epoch.
    ``n_threads`` None is bpcore's default (the benchmark figure); 1 is shown for its scaling."""
    warm_rows = min(4096, max(X.shape[0] // 4, 512))

    def run(warm: bool) -> Trial:
        net = w3_network()
        Xr, Yr = (X[:warm_rows], Y[:warm_rows]) if warm else (X, Y)
        dt, _ = _timed_fit(
            net, Xr, Yr, epochs=1, batch_size=128, lr=0.05, optimizer="sgd", n_threads=n_threads
        )
        info = {}
        if not warm:
            info = {"loss": net.loss(X, Y), "accuracy": accuracy(net.predict(X), y)}
        return Trial(dt, info, net)

    return Contender(_bpcore_label(n_threads), n_threads, run)


def bpcore_w4(net: Any, X: np.ndarray, n_threads: int | None = None) -> Contender:
    """Inference of all rows at once: Ŷ = net.predict(X)."""

    def run(warm: bool) -> Trial:
        Xr = X[:4096] if warm else X
        t0 = time.perf_counter()
        Y_hat = net.predict(Xr, n_threads=n_threads)
        return Trial(time.perf_counter() - t0, {}, Y_hat)

    return Contender(_bpcore_label(n_threads), n_threads, run)


def _bpcore_label(n_threads: int | None) -> str:
    return "bpcore" if n_threads is None else f"bpcore, n_threads={n_threads}"


def bpcore_w1_overhead(X: np.ndarray, Y: np.ndarray, epochs: int, repeats: int = 20) -> dict:
    """How much of W1's time is the Python loop over epochs rather than the core's compute.

    Compares ``fit(epochs)`` on the 150 rows (one core call per epoch) with ``fit(epochs=1)`` on the
    rows tiled ``epochs`` times: the same number of updates, shuffled alike, in a single core call.
    Best of ``repeats`` each.
    """
    X_tiled = np.ascontiguousarray(np.tile(X, (epochs, 1)))
    Y_tiled = np.ascontiguousarray(np.tile(Y, (epochs, 1)))
    per_epoch = one_call = float("inf")
    for _ in range(repeats):
        dt, _ = _timed_fit(w1_network(), X, Y, epochs=epochs, batch_size=1, lr=0.5)
        per_epoch = min(per_epoch, dt)
        dt, _ = _timed_fit(w1_network(), X_tiled, Y_tiled, epochs=1, batch_size=1, lr=0.5)
        one_call = min(one_call, dt)
    overhead = max(per_epoch - one_call, 0.0) / epochs
    return {
        "epochs": epochs,
        "fit_per_epoch_s": per_epoch,
        "fit_one_call_s": one_call,
        "overhead_per_epoch_s": overhead,
        "overhead_share": overhead * epochs / per_epoch,
    }


# ------------------------------------------------------------------------- small online networks
def sizes_label(sizes: Any) -> str:
    return "-".join(str(int(k)) for k in sizes)


def small_data(
    d: int, q: int, n_rows: int, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generated data for a d-…-q network: X (n, d) standard normal, labels y = argmax(X R) of a
    fixed random R (d, q), one-hot Y; float64."""
    rng = np.random.default_rng([seed, d, q])
    R = rng.standard_normal((d, q))
    X = rng.standard_normal((n_rows, d))
    y = (X @ R).argmax(axis=1).astype(np.int64)
    Y = np.zeros((n_rows, q))
    Y[np.arange(n_rows), y] = 1.0
    return np.ascontiguousarray(X), Y, y


def small_network(sizes: Any) -> Any:
    import bpcore

    return bpcore.Network(list(sizes), "sigmoid", "sigmoid", "mse", "float64", seed=SEED)


def bpcore_small(sizes: Any, X: np.ndarray, Y: np.ndarray, y: np.ndarray, epochs: int) -> Contender:
    """A small network trained as W1 is: online SGD (batch 1, shuffled), lr 0.5, J = ½Σe²."""

    def run(warm: bool) -> Trial:
        net = small_network(sizes)
        dt, hist = _timed_fit(net, X, Y, epochs=1 if warm else epochs, batch_size=1, lr=0.5)
        return Trial(
            dt, {"accuracy": accuracy(net.predict(X), y), "loss": hist.loss[-1]}, parameters_of(net)
        )

    return Contender("bpcore", None, run)
